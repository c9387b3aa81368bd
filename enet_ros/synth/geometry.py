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

"""Small rigid-body helpers for the synthetic scenes (float64 NumPy, right-handed frames).

Frames used by :mod:`enet_ros.synth`:

* **world**: z up, the floor is the plane z = 0, metres.
* **camera optical frame** (REP 103 optical convention, ``camera_color_optical_frame``):
  x right, y down, z forward along the optical axis, metres.

A rotation ``R_ab`` maps coordinates in frame b to frame a (``p_a = R_ab @ p_b + t_ab``).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def rot_x(angle: float) -> np.ndarray:
    """Return the rotation about x by ``angle`` radians, (3, 3) float64."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(angle: float) -> np.ndarray:
    """Return the rotation about y by ``angle`` radians, (3, 3) float64."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(angle: float) -> np.ndarray:
    """Return the rotation about z by ``angle`` radians, (3, 3) float64."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def look_at(eye: Sequence[float], target: Sequence[float], roll_dir: Sequence[float]
            ) -> np.ndarray:
    """Return ``R_world_camera`` of an optical frame at ``eye`` looking at ``target``.

    Args:
        eye: Camera position in the world frame, (3,) metres.
        target: Point the optical axis (+z) passes through, (3,) metres, world frame.
        roll_dir: A world direction (3,) that the image x axis (columns, rightwards) should
            follow as closely as possible; it must not be parallel to the viewing direction.

    Returns:
        (3, 3) float64 rotation whose columns are the camera x (right), y (down) and z
        (forward) axes expressed in the world frame.

    Raises:
        ValueError: If ``eye`` equals ``target`` or ``roll_dir`` is parallel to the view.
    """
    z = np.asarray(target, float) - np.asarray(eye, float)
    norm = np.linalg.norm(z)
    if norm < 1e-9:
        raise ValueError('look_at: eye and target coincide; move the camera away from the target')
    z /= norm
    h = np.asarray(roll_dir, float)
    x = h - np.dot(h, z) * z
    nx = np.linalg.norm(x)
    if nx < 1e-9:
        raise ValueError('look_at: roll_dir is parallel to the viewing direction; pick another')
    x /= nx
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def quat_xyzw_from_matrix(rot: np.ndarray) -> np.ndarray:
    """Convert a rotation matrix to a unit quaternion (x, y, z, w) with w >= 0.

    Args:
        rot: (3, 3) proper rotation matrix.

    Returns:
        (4,) float64 quaternion (x, y, z, w), Hamilton convention (as ROS / tf2), w >= 0.
    """
    m = np.asarray(rot, float)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0.0:
        s = math.sqrt(tr + 1.0) * 2.0
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2.0
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2.0
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2.0
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    q = np.asarray(q)
    if q[3] < 0.0:
        q = -q
    return q / np.linalg.norm(q)


def matrix_from_quat_xyzw(q: Sequence[float]) -> np.ndarray:
    """Convert a quaternion (x, y, z, w) to a (3, 3) float64 rotation matrix."""
    x, y, z, w = (float(v) for v in q)
    n = math.sqrt(x * x + y * y + z * z + w * w)
    x, y, z, w = x / n, y / n, z / n, w / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def rect_corners_xy(center: Sequence[float], size_xy: Sequence[float], yaw: float
                    ) -> np.ndarray:
    """Return the 4 corners (4, 2) of a rectangle of ``size_xy`` metres rotated by ``yaw`` rad."""
    hx, hy = 0.5 * float(size_xy[0]), 0.5 * float(size_xy[1])
    c, s = math.cos(yaw), math.sin(yaw)
    local = np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]])
    rot = np.array([[c, -s], [s, c]])
    return local @ rot.T + np.asarray(center, float)[:2]


def rects_overlap(a: np.ndarray, b: np.ndarray, margin: float = 0.0) -> bool:
    """Separating-axis test for two convex quadrilaterals in the plane.

    Args:
        a: (4, 2) corners in order (metres).
        b: (4, 2) corners in order (metres).
        margin: Extra clearance in metres; rectangles closer than this count as overlapping.

    Returns:
        True if the rectangles (grown by ``margin``) overlap.
    """
    for poly in (a, b):
        for i in range(4):
            edge = poly[(i + 1) % 4] - poly[i]
            axis = np.array([-edge[1], edge[0]])
            axis /= np.linalg.norm(axis)
            pa, pb = a @ axis, b @ axis
            if pa.max() + margin <= pb.min() or pb.max() + margin <= pa.min():
                return False
    return True


def point_in_rect(point: Sequence[float], corners: np.ndarray) -> bool:
    """Return True if the 2-D ``point`` lies inside the convex quadrilateral ``corners`` (4, 2)."""
    p = np.asarray(point, float)[:2]
    sign = 0.0
    for i in range(4):
        a, b = corners[i], corners[(i + 1) % 4]
        cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
        if cross != 0.0:
            if sign == 0.0:
                sign = math.copysign(1.0, cross)
            elif math.copysign(1.0, cross) != sign:
                return False
    return True
