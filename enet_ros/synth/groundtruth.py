# Copyright 2026 enet_ros contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Exact per-carton ground truth and ROS-layout camera info for a rendered scene.

Pose convention (camera optical frame ``camera_color_optical_frame``, REP 103: x right,
y down, z forward; metres):

* ``position_m``: centre of the carton's **top face**.
* ``quaternion_xyzw``: orientation of a frame whose z axis is the top-face normal pointing out
  of the carton (towards the camera), whose x axis runs along the long edge and y = z x x.
  A carton is symmetric under a half turn about that normal; of the two equivalent x
  directions the one with a non-negative camera-x component is reported (ties: non-negative
  camera y).
* ``size_m``: [length, width, height] with length >= width.

Document written per scene (``gt/NAME.json``, also the ``/enet_ros/ground_truth`` bag topic)::

    header           {stamp: {sec, nanosec}, frame_id}       same stamp as the images / bag
    camera           {width, height, K[9], D[5], distortion_model 'plumb_bob', frame_id}
    T_world_camera   4x4 (world: z up, floor z = 0, metres)
    layout           'pallet' | 'floor' | 'conveyor' | 'scattered'
    support_plane    {kind, height_m, normal[3], d_m, point_m[3]}: plane the bottom cartons
                     stand on, camera frame, n . p + d = 0 with n towards the camera
    floor_plane      {normal[3], d_m, point_m[3]}
    boxes[]          one entry per carton, also hidden ones:
        id                 instance id in instance/NAME.png (1..N)
        position_m[3]      top-face centre, camera frame
        quaternion_xyzw[4] see above
        size_m[3]          [length, width, height]
        normal[3]          top-face normal (unit, camera frame) = third rotation column
        top_corners_m      4 x [x, y, z] top-face corners (order: -x-y, +x-y, +x+y, -x+y of
                           the pose frame), camera frame
        top_corners_px     4 x [u, v] their projections (pixel centres at integers), or null
        visible_px         pixels of the carton in instance/NAME.png
        unoccluded_px      pixels its top face would cover inside the image without occluders
        projected_area_px  area of the (unclipped) projected top face, pixels
        visible_fraction   visible_px / projected_area_px, capped at 1
        in_image           all four corners project inside the image
        fully_visible      in_image and visible_px >= 0.99 * unoccluded_px
        layer              0 = standing on the support, 1 = on a carton of layer 0, ...
        support            'pallet' | 'floor' | 'conveyor' | 'box'
    meta             {generator, version, seed, index, name, labels: {classes, boundary_px,
                      side_faces}}
"""

from __future__ import annotations

from typing import Dict, List

import cv2
from enet_ros.synth.geometry import quat_xyzw_from_matrix
from enet_ros.synth.render import Frame
from enet_ros.synth.scene import Cuboid, Scene
import numpy as np

FRAME_ID = 'camera_color_optical_frame'
FULLY_VISIBLE_RATIO = 0.99
"""A carton is ``fully_visible`` when its four top corners project inside the image and at least
this fraction of the top-face pixels it would have without occluders is visible."""


def _r(values, nd: int = 9) -> List:
    return [round(float(v), nd) for v in np.asarray(values, float).ravel()]


def stamp_of(stamp_ns: int) -> Dict[str, int]:
    """Split integer nanoseconds into a ROS ``{'sec', 'nanosec'}`` time."""
    return {'sec': int(stamp_ns // 1_000_000_000), 'nanosec': int(stamp_ns % 1_000_000_000)}


def box_pose_in_camera(box: Cuboid, R_wc: np.ndarray, t_wc: np.ndarray) -> Dict:
    """Exact top-face pose of one carton in the camera optical frame.

    Args:
        box: The carton (local x = long edge, local +z = top-face normal).
        R_wc: (3, 3) ``R_world_camera``.
        t_wc: (3,) camera position in the world frame, metres.

    Returns:
        ``{'position_m', 'rotation', 'normal', 'corners_m'}``: (3,) top-face centre, (3, 3)
        rotation camera_from_box-top (columns x, y, z), (3,) normal, (4, 3) top-face corners,
        all in the camera optical frame, float64 metres.
    """
    R_cw = np.asarray(R_wc, float).T
    top_w = box.center + box.rotation[:, 2] * 0.5 * box.size[2]
    p_c = R_cw @ (top_w - np.asarray(t_wc, float))
    rot = R_cw @ box.rotation
    x = rot[:, 0]
    if x[0] < -1e-12 or (abs(x[0]) <= 1e-12 and x[1] < 0):
        rot = rot @ np.diag([-1.0, -1.0, 1.0])  # half turn about the normal
    hl, hw = 0.5 * box.size[0], 0.5 * box.size[1]
    corners = np.array([p_c + rot @ np.array([sx * hl, sy * hw, 0.0])
                        for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
    return {'position_m': p_c, 'rotation': rot, 'normal': rot[:, 2], 'corners_m': corners}


def plane_in_camera(normal_w, point_w, R_wc: np.ndarray, t_wc: np.ndarray) -> Dict:
    """Express a world plane in the camera frame: ``n . p + d = 0``, n towards the camera."""
    R_cw = np.asarray(R_wc, float).T
    n = R_cw @ np.asarray(normal_w, float)
    p = R_cw @ (np.asarray(point_w, float) - np.asarray(t_wc, float))
    d = -float(n @ p)
    if d < 0:  # camera (origin) on the positive side: n . 0 + d > 0
        n, d = -n, -d
    return {'normal': _r(n), 'd_m': round(d, 9), 'point_m': _r(p)}


def camera_info(scene: Scene, stamp_ns: int) -> Dict:
    """ROS 2 ``sensor_msgs/msg/CameraInfo`` fields (lower-case names) for the scene's camera."""
    cam = scene.camera
    K = cam.K
    P = np.hstack([K, np.zeros((3, 1))])
    return {
        'header': {'stamp': stamp_of(stamp_ns), 'frame_id': FRAME_ID},
        'height': int(cam.height), 'width': int(cam.width),
        'distortion_model': 'plumb_bob',
        'd': [0.0] * 5,
        'k': _r(K),
        'r': _r(np.eye(3)),
        'p': _r(P),
        'binning_x': 0, 'binning_y': 0,
        'roi': {'x_offset': 0, 'y_offset': 0, 'height': 0, 'width': 0, 'do_rectify': False},
    }


def ground_truth(scene: Scene, frame: Frame, stamp_ns: int, meta: Dict) -> Dict:
    """Build the per-scene ground-truth document (JSON-serialisable, fixed key order).

    Args:
        scene: The scene.
        frame: Its rendering (for visibility counts from the instance image).
        stamp_ns: Header stamp in nanoseconds (also used in the bag).
        meta: Extra top-level entries (version, seed, index, label conventions).

    Returns:
        Dict with ``header``, ``camera``, ``T_world_camera``, ``support_plane``,
        ``floor_plane``, ``boxes`` (see module docstring for the pose convention) and ``meta``.
    """
    cam = scene.camera
    R_wc, t_wc = scene.R_world_camera, scene.t_world_camera
    K = cam.K
    counts = np.bincount(frame.instance.ravel(), minlength=len(scene.boxes) + 1)
    boxes = []
    for box in scene.boxes:
        pose = box_pose_in_camera(box, R_wc, t_wc)
        cm = pose['corners_m']
        uvw = cm @ K.T
        in_front = bool(np.all(cm[:, 2] > 1e-6))
        px = uvw[:, :2] / uvw[:, 2:3] if in_front else np.full((4, 2), np.nan)
        area = float(abs(cv2.contourArea(px.astype(np.float32)))) if in_front else 0.0
        in_image = bool(in_front and np.all(px[:, 0] >= -0.5) and np.all(px[:, 1] >= -0.5)
                        and np.all(px[:, 0] <= cam.width - 0.5)
                        and np.all(px[:, 1] <= cam.height - 0.5))
        visible = int(counts[box.box_id]) if box.box_id < counts.size else 0
        unoccluded = int(frame.self_top.get(box.box_id, 0))
        boxes.append({
            'id': int(box.box_id),
            'position_m': _r(pose['position_m']),
            'quaternion_xyzw': _r(quat_xyzw_from_matrix(pose['rotation'])),
            'size_m': _r(box.size),
            'normal': _r(pose['normal']),
            'top_corners_m': [_r(c) for c in cm],
            'top_corners_px': [_r(c, 4) for c in px] if in_front else None,
            'visible_px': visible,
            'unoccluded_px': unoccluded,
            'projected_area_px': round(area, 3),
            'visible_fraction': round(min(1.0, visible / area), 6) if area > 0 else 0.0,
            'in_image': in_image,
            'fully_visible': bool(in_image and visible > 0
                                  and visible >= FULLY_VISIBLE_RATIO * unoccluded),
            'layer': int(box.layer),
            'support': box.support,
        })
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R_wc, t_wc
    return {
        'header': {'stamp': stamp_of(stamp_ns), 'frame_id': FRAME_ID},
        'camera': {'width': int(cam.width), 'height': int(cam.height), 'K': _r(K),
                   'D': [0.0] * 5, 'distortion_model': 'plumb_bob', 'frame_id': FRAME_ID},
        'T_world_camera': [_r(row) for row in T],
        'layout': scene.layout,
        'support_plane': dict(kind=scene.support, height_m=round(scene.support_height, 9),
                              **plane_in_camera((0, 0, 1), (0, 0, scene.support_height),
                                                R_wc, t_wc)),
        'floor_plane': plane_in_camera((0, 0, 1), (0, 0, 0), R_wc, t_wc),
        'boxes': boxes,
        'meta': meta,
    }
