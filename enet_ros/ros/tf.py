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

"""Box poses into another frame: tf2 lookups where ``tf2_ros`` imports, quaternion maths in NumPy.

``tf2_ros`` is not on PyPI (it comes with a ROS 2 install), so it is imported on demand
(:func:`tf2_ros_module`); without it the node keeps camera-frame output and says so once. The
pose maths (:func:`transform_poses`) is plain NumPy: ``tf2_geometry_msgs`` would only save a few
lines, needs a ROS install too, and would convert one message at a time.

Conventions: quaternions are ``(x, y, z, w)`` (ROS order); a transform ``(t, q)`` looked up as
``lookup_transform(target, source, stamp)`` maps a point ``p`` given in ``source`` to
``R(q) p + t`` in ``target`` (tf2's convention), and an orientation ``q_p`` to ``q * q_p``.
"""

from __future__ import annotations

import importlib
from typing import Any, Optional, Tuple

import numpy as np


def tf2_ros_module() -> Optional[Any]:
    """Return ``tf2_ros`` where it imports (with Buffer and TransformListener), else None."""
    try:
        module = importlib.import_module('tf2_ros')
    except ImportError:
        return None
    if not hasattr(module, 'Buffer') or not hasattr(module, 'TransformListener'):
        return None
    return module


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of quaternions, row-wise (broadcast).

    Args:
        a: (..., 4) quaternions ``(x, y, z, w)``.
        b: (..., 4) quaternions ``(x, y, z, w)``.

    Returns:
        (..., 4) float64 ``a * b`` (the rotation ``b`` followed by ``a``).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ax, ay, az, aw = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bx, by, bz, bw = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return np.stack([aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw,
                     aw * bw - ax * bx - ay * by - az * bz], axis=-1)


def rotation_matrix(q: np.ndarray) -> np.ndarray:
    """(3, 3) float64 rotation matrix of a quaternion ``(x, y, z, w)`` (normalised here)."""
    x, y, z, w = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def transform_poses(positions: np.ndarray, quaternions: np.ndarray, translation: np.ndarray,
                    rotation: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Express poses given in a source frame in a target frame.

    Args:
        positions: (N, 3) positions in the source frame, metres.
        quaternions: (N, 4) orientations ``(x, y, z, w)`` in the source frame.
        translation: (3,) position of the source frame's origin in the target frame, metres
            (``transform.translation`` of ``lookup_transform(target, source, ...)``).
        rotation: (4,) orientation ``(x, y, z, w)`` of the source frame in the target frame
            (``transform.rotation``).

    Returns:
        ``(positions, quaternions)``: (N, 3) float64 metres and (N, 4) float64 unit quaternions
        with ``w >= 0``, in the target frame.
    """
    q = np.asarray(rotation, dtype=np.float64)
    q = q / np.linalg.norm(q)
    p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    out_p = p @ rotation_matrix(q).T + np.asarray(translation, dtype=np.float64)
    out_q = quaternion_multiply(q, np.asarray(quaternions, dtype=np.float64).reshape(-1, 4))
    out_q /= np.linalg.norm(out_q, axis=1, keepdims=True)
    out_q[out_q[:, 3] < 0] *= -1.0
    return out_p, out_q


class TransformLookup:
    """tf2 lookups for one node: a ``tf2_ros.Buffer`` and ``TransformListener``, made on first use.

    Args:
        node: The ``rclpy.node.Node`` whose executor receives ``/tf`` and ``/tf_static``.
        module: The ``tf2_ros`` module (or a stand-in with ``Buffer``, ``TransformListener`` and
            optionally ``TransformException``).
    """

    def __init__(self, node: Any, module: Any) -> None:
        """Keep the node and module; the buffer and listener are created by :meth:`lookup`."""
        self._node = node
        self._module = module
        self._buffer = None
        self._listener = None

    @property
    def started(self) -> bool:
        """Whether the buffer and listener exist."""
        return self._buffer is not None

    def lookup(self, target_frame: str, source_frame: str, stamp: Any,
               timeout_s: float) -> Tuple[np.ndarray, np.ndarray]:
        """Return the transform from ``source_frame`` to ``target_frame`` at ``stamp``.

        Blocks up to ``timeout_s`` for it (call from a worker thread, never from a callback of
        the executor that feeds the listener).

        Args:
            target_frame: The frame wanted.
            source_frame: The frame of the data (the image's frame_id).
            stamp: ``builtin_interfaces/Time`` of the data.
            timeout_s: Longest wait, seconds.

        Returns:
            ``(translation (3,), rotation (4,) x, y, z, w)``, float64.

        Raises:
            LookupError: No transform (the message says why, from tf2).
        """
        from rclpy.duration import Duration
        from rclpy.time import Time
        if self._buffer is None:
            self._buffer = self._module.Buffer()
            self._listener = self._module.TransformListener(self._buffer, self._node)
        errors = getattr(self._module, 'TransformException', Exception)
        try:
            msg = self._buffer.lookup_transform(target_frame, source_frame, Time.from_msg(stamp),
                                                timeout=Duration(seconds=timeout_s))
        except errors as exc:
            raise LookupError(f'no transform from {source_frame!r} to {target_frame!r} at '
                              f'{stamp.sec}.{stamp.nanosec:09d}: {exc}') from exc
        t, r = msg.transform.translation, msg.transform.rotation
        return np.array([t.x, t.y, t.z], np.float64), np.array([r.x, r.y, r.z, r.w], np.float64)
