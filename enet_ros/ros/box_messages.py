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

"""Box (carton) poses as ROS messages: ``~/boxes``, ``~/markers`` and ``~/detections``.

Every message carries the input image's header: the same stamp, and the same frame_id unless the
poses were transformed into ``target_frame`` (then that frame_id, still the image's stamp). Only
boxes with a metric pose are published, in the estimator's order (``instance_id``).

* ``~/boxes`` geometry_msgs/PoseArray: one pose per box, the **top-face centre** (the pick
  point) and the box frame of :mod:`enet_ros.boxes` (z the top-face normal towards the camera,
  x the long edge).
* ``~/markers`` visualization_msgs/MarkerArray: first one ``DELETEALL`` marker (clears the
  previous frame's boxes in RViz), then per box ``k`` (0-based index in the PoseArray):

  - ns ``boxes``, id ``k``, ``CUBE``: the whole carton, centred ``height / 2`` below the top face
    along its normal, scale = (length, width, height); a box without a measured height (no
    support plane) is drawn :data:`DEFAULT_THICKNESS_M` thick just below its top face. Colour
    from red (score 0) to green (score 1), alpha 0.5.
  - ns ``box_labels``, id ``k``, ``TEXT_VIEW_FACING``: ``"<instance id>: L x W x H cm s=<score>"``
    (``?`` for an unknown height), 3 cm above the top-face centre, 3 cm high, white.

  Both with ``lifetime = box_marker_lifetime_s`` (0: until deleted).
* ``~/detections``: vision_msgs/Detection3DArray (vision_msgs 4.x: Humble, Jazzy) where vision_msgs
  imports; per box one Detection3D with the header, ``id`` = the instance id, one
  ObjectHypothesisWithPose (``hypothesis.class_id`` ``'box'``, ``hypothesis.score`` the box
  score, ``pose.pose`` the top-face pose, zero covariance) and ``bbox`` (BoundingBox3D: ``center``
  the carton's centre as for the CUBE marker, ``size`` (length, width, height); an unknown height
  gives ``size.z`` 0 and the top-face centre). Where vision_msgs does not import:
  std_msgs/String with the JSON of :func:`detections_json`.

The pure part (:class:`BoxPoses`) is NumPy only; the builders import the message packages.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, List, NamedTuple, Optional

import numpy as np

#: Thickness of the CUBE marker of a box whose height is unknown, metres.
DEFAULT_THICKNESS_M = 0.01
#: Height of the TEXT_VIEW_FACING label and its distance above the top face, metres.
LABEL_HEIGHT_M = 0.03
#: class_id of every hypothesis.
CLASS_ID = 'box'


@dataclasses.dataclass
class BoxPoses:
    """The boxes of one frame with a metric pose, as arrays (row k = k-th published box).

    Attributes:
        ids: (N,) int64 instance ids (``BoxEstimate.instance_id``).
        positions: (N, 3) float64 top-face centres, metres.
        quaternions: (N, 4) float64 orientations ``(x, y, z, w)``.
        sizes: (N, 3) float64 (length, width, height), metres; height NaN when unknown.
        scores: (N,) float64 in [0, 1].
    """

    ids: np.ndarray
    positions: np.ndarray
    quaternions: np.ndarray
    sizes: np.ndarray
    scores: np.ndarray

    @classmethod
    def from_boxes(cls, boxes: Any) -> 'BoxPoses':
        """Collect the boxes with a metric pose.

        Args:
            boxes: Iterable of :class:`~enet_ros.boxes.BoxEstimate` (e.g. a
                ``BoxEstimationResult``), camera optical frame.

        Returns:
            The poses in the camera optical frame.
        """
        posed = [b for b in boxes if b.has_pose]
        if not posed:
            return cls(np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros((0, 4)),
                       np.zeros((0, 3)), np.zeros(0))
        return cls(np.array([b.instance_id for b in posed], np.int64),
                   np.array([b.position_m for b in posed], np.float64),
                   np.array([b.quaternion_xyzw for b in posed], np.float64),
                   np.array([b.size_m for b in posed], np.float64),
                   np.array([b.score for b in posed], np.float64))

    def __len__(self) -> int:
        """Return the number of boxes."""
        return len(self.ids)

    def transformed(self, translation: np.ndarray, rotation: np.ndarray) -> 'BoxPoses':
        """Return the poses in another frame (see :func:`enet_ros.ros.tf.transform_poses`).

        Args:
            translation: (3,) source origin in the target frame, metres.
            rotation: (4,) source orientation ``(x, y, z, w)`` in the target frame.
        """
        from enet_ros.ros.tf import transform_poses
        if len(self) == 0:
            return self
        positions, quaternions = transform_poses(self.positions, self.quaternions, translation,
                                                 rotation)
        return dataclasses.replace(self, positions=positions, quaternions=quaternions)

    def normals(self) -> np.ndarray:
        """(N, 3) float64 box z axes (top-face normals) in the poses' frame."""
        q = self.quaternions / np.linalg.norm(self.quaternions, axis=1, keepdims=True)
        x, y, z, w = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
        return np.stack([2 * (x * z + y * w), 2 * (y * z - x * w), 1 - 2 * (x * x + y * y)],
                        axis=1)

    def centres(self, default_height: float = 0.0) -> np.ndarray:
        """(N, 3) carton centres: ``height / 2`` below the top face along its normal, metres.

        Args:
            default_height: Height used where it is unknown (0: the top-face centre).
        """
        h = np.where(np.isfinite(self.sizes[:, 2]), self.sizes[:, 2], default_height)
        return self.positions - self.normals() * (0.5 * h)[:, None]


class DetectionTypes(NamedTuple):
    """The vision_msgs classes used for ``~/detections``."""

    Detection3DArray: Any
    Detection3D: Any
    ObjectHypothesisWithPose: Any
    BoundingBox3D: Any


def detection_types() -> Optional[DetectionTypes]:
    """Return the vision_msgs classes where vision_msgs imports, else None."""
    try:
        from vision_msgs.msg import (BoundingBox3D, Detection3D, Detection3DArray,
                                     ObjectHypothesisWithPose)
    except ImportError:
        return None
    return DetectionTypes(Detection3DArray, Detection3D, ObjectHypothesisWithPose, BoundingBox3D)


def output_header(header: Any, frame_id: Optional[str] = None) -> Any:
    """Return a std_msgs/Header with ``header``'s stamp and ``frame_id`` (default: the same)."""
    from std_msgs.msg import Header
    out = Header()
    out.stamp = header.stamp
    out.frame_id = header.frame_id if frame_id is None else frame_id
    return out


def _pose(position: np.ndarray, quaternion: np.ndarray) -> Any:
    from geometry_msgs.msg import Pose
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in position)
    (pose.orientation.x, pose.orientation.y, pose.orientation.z,
     pose.orientation.w) = (float(v) for v in quaternion)
    return pose


def pose_array(header: Any, poses: BoxPoses) -> Any:
    """Build ``~/boxes``.

    Args:
        header: The output header (stamp and frame_id of the poses).
        poses: The boxes.

    Returns:
        geometry_msgs/PoseArray with one top-face pose per box.
    """
    from geometry_msgs.msg import PoseArray
    msg = PoseArray()
    msg.header = header
    msg.poses = [_pose(p, q) for p, q in zip(poses.positions, poses.quaternions)]
    return msg


def score_color(score: float) -> Any:
    """std_msgs/ColorRGBA from red (score 0) to green (score 1), alpha 0.5."""
    from std_msgs.msg import ColorRGBA
    s = float(min(max(score, 0.0), 1.0)) if math.isfinite(score) else 0.0
    return ColorRGBA(r=1.0 - s, g=s, b=0.1, a=0.5)


def label_text(instance_id: int, size_m: np.ndarray, score: float) -> str:
    """Marker label ``"<id>: L x W x H cm s=<score>"`` (``?`` for an unknown dimension)."""
    dims = ' x '.join(f'{100.0 * v:.1f}' if math.isfinite(v) else '?' for v in size_m)
    return f'{instance_id}: {dims} cm s={score:.2f}'


def marker_array(header: Any, poses: BoxPoses, lifetime_s: float) -> Any:
    """Build ``~/markers`` (layout in the module docstring).

    Args:
        header: The output header.
        poses: The boxes.
        lifetime_s: Marker lifetime, seconds (0: until deleted).

    Returns:
        visualization_msgs/MarkerArray: DELETEALL, then one CUBE and one TEXT_VIEW_FACING per
        box.
    """
    from builtin_interfaces.msg import Duration
    from std_msgs.msg import ColorRGBA
    from visualization_msgs.msg import Marker, MarkerArray
    # Whole nanoseconds, rounded once, then split (a fraction that rounds up to a whole second
    # carries into sec instead of wrapping to 0, which would mean "never expires").
    total_ns = int(round(lifetime_s * 1e9))
    lifetime = Duration(sec=total_ns // 1_000_000_000, nanosec=total_ns % 1_000_000_000)
    clear = Marker()
    clear.header = header
    clear.action = Marker.DELETEALL
    markers: List[Any] = [clear]
    thickness = np.where(np.isfinite(poses.sizes[:, 2]), poses.sizes[:, 2], DEFAULT_THICKNESS_M)
    centres = poses.centres(DEFAULT_THICKNESS_M)
    label_at = poses.positions + poses.normals() * LABEL_HEIGHT_M
    for k in range(len(poses)):
        cube = Marker()
        cube.header = header
        cube.ns, cube.id, cube.type, cube.action = 'boxes', k, Marker.CUBE, Marker.ADD
        cube.pose = _pose(centres[k], poses.quaternions[k])
        cube.scale.x, cube.scale.y = float(poses.sizes[k, 0]), float(poses.sizes[k, 1])
        cube.scale.z = float(thickness[k])
        cube.color = score_color(poses.scores[k])
        cube.lifetime = lifetime
        text = Marker()
        text.header = header
        text.ns, text.id, text.type = 'box_labels', k, Marker.TEXT_VIEW_FACING
        text.action = Marker.ADD
        text.pose = _pose(label_at[k], (0.0, 0.0, 0.0, 1.0))
        text.scale.z = LABEL_HEIGHT_M
        text.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
        text.text = label_text(int(poses.ids[k]), poses.sizes[k], float(poses.scores[k]))
        text.lifetime = lifetime
        markers += [cube, text]
    msg = MarkerArray()
    msg.markers = markers
    return msg


def detection_array(header: Any, poses: BoxPoses, types: DetectionTypes) -> Any:
    """Build ``~/detections`` as vision_msgs/Detection3DArray (layout in the module docstring).

    Written against vision_msgs 4.x (``ObjectHypothesisWithPose.hypothesis.class_id/score``,
    ``Detection3D.id``); with the 3.x layout (``ObjectHypothesisWithPose.id/score``) those fields
    are used instead.

    Args:
        header: The output header (also each Detection3D's).
        poses: The boxes.
        types: The vision_msgs classes (:func:`detection_types`, or stand-ins in tests).

    Returns:
        The Detection3DArray.
    """
    from geometry_msgs.msg import Vector3
    centres = poses.centres(0.0)
    detections = []
    for k in range(len(poses)):
        det = types.Detection3D()
        det.header = header
        hyp = types.ObjectHypothesisWithPose()
        if hasattr(hyp, 'hypothesis'):
            hyp.hypothesis.class_id = CLASS_ID
            hyp.hypothesis.score = float(poses.scores[k])
        else:                                               # vision_msgs 3.x
            hyp.id = CLASS_ID
            hyp.score = float(poses.scores[k])
        hyp.pose.pose = _pose(poses.positions[k], poses.quaternions[k])
        det.results = [hyp]
        bbox = types.BoundingBox3D()
        bbox.center = _pose(centres[k], poses.quaternions[k])
        size = np.nan_to_num(poses.sizes[k], nan=0.0)
        bbox.size = Vector3(x=float(size[0]), y=float(size[1]), z=float(size[2]))
        det.bbox = bbox
        if hasattr(det, 'id'):
            det.id = str(int(poses.ids[k]))
        detections.append(det)
    msg = types.Detection3DArray()
    msg.header = header
    msg.detections = detections
    return msg


def detections_json(header: Any, poses: BoxPoses) -> str:
    """Return the std_msgs/String fallback of ``~/detections`` (where vision_msgs is missing).

    Args:
        header: The output header.
        poses: The boxes.

    Returns:
        JSON ``{"header": {"stamp": {"sec", "nanosec"}, "frame_id"}, "detections": [{"id",
        "class_id": "box", "score", "position_m" [x, y, z] (top-face centre),
        "quaternion_xyzw", "size_m" [length, width, height or null], "bbox_center_m"}]}``,
        metres, in the header's frame.
    """
    centres = poses.centres(0.0)

    def nums(values: np.ndarray) -> List[Optional[float]]:
        return [float(v) if math.isfinite(v) else None for v in values]

    doc = {'header': {'stamp': {'sec': int(header.stamp.sec),
                                'nanosec': int(header.stamp.nanosec)},
                      'frame_id': header.frame_id},
           'detections': [{'id': str(int(poses.ids[k])), 'class_id': CLASS_ID,
                           'score': float(poses.scores[k]),
                           'position_m': nums(poses.positions[k]),
                           'quaternion_xyzw': nums(poses.quaternions[k]),
                           'size_m': nums(poses.sizes[k]),
                           'bbox_center_m': nums(centres[k])} for k in range(len(poses))]}
    return json.dumps(doc)
