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

"""Pinhole camera with lens distortion, as described by a ROS ``sensor_msgs/CameraInfo``.

Frames and units: points are in the camera optical frame (REP 103: x right, y down, z forward),
in metres; pixel coordinates ``(u, v)`` are (column, row) with the centre of the top-left pixel at
``(0, 0)``, as OpenCV and ``image_geometry`` use them.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Optional

import cv2
import numpy as np

LOGGER = logging.getLogger(__name__)

# Distortion models understood here (names as in sensor_msgs/distortion_models.hpp) and the lengths
# of D that OpenCV's pinhole functions accept for them.
SUPPORTED_DISTORTION_MODELS = {'plumb_bob': (4, 5), 'rational_polynomial': (8,)}

# Plausible field of view of a pinhole (plumb_bob / rational_polynomial) camera along each image
# axis, degrees: focal lengths outside this range mean K is not in pixels of the stated image
# size (e.g. millimetres, or a K for another resolution), and would give absurd poses.
MIN_FIELD_OF_VIEW_DEG = 0.1
MAX_FIELD_OF_VIEW_DEG = 179.0

# Undistortion of the per-pixel ray table: OpenCV's default (5 fixed-point iterations) leaves up to
# a pixel of error at the border of wide lenses; this table is computed once per camera, so iterate
# to convergence instead.
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-10)


def _pixel_count(name: str, value: object) -> int:
    """Return an image width / height as an int; raise ValueError unless it is a whole number."""
    if isinstance(value, (bool, np.bool_)):
        whole = False
    elif isinstance(value, (int, np.integer)):
        whole = True
    else:
        try:
            whole = float(value).is_integer()
        except (TypeError, ValueError):
            whole = False
    if not whole:
        raise ValueError(f'CameraModel: {name} must be a whole number of pixels, got {value!r} '
                         '(a camera_info width / height is an integer)')
    return int(value) if isinstance(value, (int, np.integer)) else int(float(value))


@dataclasses.dataclass(frozen=True, eq=False)
class CameraModel:
    """Intrinsics of one camera image: ``K``, distortion ``D`` and the image size it belongs to.

    Attributes:
        K: (3, 3) float64 camera matrix ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in pixels.
        D: (N,) float64 distortion coefficients in OpenCV order (plumb_bob: k1, k2, p1, p2[, k3];
            rational_polynomial: k1, k2, p1, p2, k3, k4, k5, k6). Empty or all zero: no distortion.
        width: Image width in pixels that ``K`` refers to.
        height: Image height in pixels that ``K`` refers to.
        distortion_model: ``'plumb_bob'`` or ``'rational_polynomial'`` (sensor_msgs names). The
            fisheye ``'equidistant'`` model is rejected: rectify those images first (image_proc).

    Raises:
        ValueError: On a malformed ``K`` (also: a principal point outside the image, or focal
            lengths giving a field of view outside :data:`MIN_FIELD_OF_VIEW_DEG` ..
            :data:`MAX_FIELD_OF_VIEW_DEG`), a non-finite ``D`` or one whose length does not fit
            the model, an unsupported model, or a size that is not a positive whole number.
    """

    K: np.ndarray
    D: np.ndarray
    width: int
    height: int
    distortion_model: str = 'plumb_bob'

    def __post_init__(self) -> None:
        """Validate and normalise the fields (float64 arrays, int sizes)."""
        k = np.asarray(self.K, dtype=np.float64)
        if k.shape != (3, 3) or not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
            raise ValueError(f'CameraModel: K must be a finite 3x3 matrix with fx, fy > 0, got '
                             f'{np.asarray(self.K).tolist()}')
        if k[1, 0] != 0.0 or k[2, 0] != 0.0 or k[2, 1] != 0.0 or k[2, 2] != 1.0:
            raise ValueError(f'CameraModel: K must be upper triangular with K[2] = [0, 0, 1] '
                             f'(sensor_msgs/CameraInfo k, row-major), got {k.tolist()}: pass '
                             'camera_info.k reshaped to 3x3, not P or a transposed K')
        d = np.asarray(self.D if self.D is not None else [], dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(d)):
            raise ValueError(f'CameraModel: D must hold finite numbers, got {d.tolist()}: fix the '
                             'camera calibration (an empty or all-zero D means no distortion)')
        model = (self.distortion_model or '').strip()
        if model == 'equidistant':
            raise ValueError("CameraModel: distortion_model 'equidistant' (fisheye) is not "
                             'supported; rectify the images first (image_proc) and pass the '
                             'rectified camera_info (P as K, zero D)')
        if np.any(d != 0.0):
            if model not in SUPPORTED_DISTORTION_MODELS:
                raise ValueError(f'CameraModel: distortion_model {model!r} is not supported; use '
                                 f'one of {sorted(SUPPORTED_DISTORTION_MODELS)}')
            if d.size not in SUPPORTED_DISTORTION_MODELS[model]:
                raise ValueError(f'CameraModel: {model} needs {SUPPORTED_DISTORTION_MODELS[model]}'
                                 f' coefficients in D, got {d.size}')
        elif model not in SUPPORTED_DISTORTION_MODELS and model not in ('', 'none'):
            raise ValueError(f'CameraModel: distortion_model {model!r} is not supported; use one '
                             f'of {sorted(SUPPORTED_DISTORTION_MODELS)}')
        width, height = _pixel_count('width', self.width), _pixel_count('height', self.height)
        if width <= 0 or height <= 0:
            raise ValueError(f'CameraModel: image size must be positive, got {width}x{height}')
        cx, cy = k[0, 2], k[1, 2]
        if not (0.0 <= cx <= width and 0.0 <= cy <= height):
            raise ValueError(f'CameraModel: the principal point (cx, cy) = ({cx:g}, {cy:g}) px '
                             f'lies outside the {width}x{height} image: K does not belong to '
                             'this image size; fix the calibration or the camera_info size')
        fov = np.degrees(2.0 * np.arctan2([0.5 * width, 0.5 * height], [k[0, 0], k[1, 1]]))
        if not (MIN_FIELD_OF_VIEW_DEG <= fov.min() and fov.max() <= MAX_FIELD_OF_VIEW_DEG):
            raise ValueError(f'CameraModel: fx = {k[0, 0]:g}, fy = {k[1, 1]:g} px give a field '
                             f'of view of {fov[0]:.3g} x {fov[1]:.3g} degrees on the '
                             f'{width}x{height} image, outside the plausible '
                             f'{MIN_FIELD_OF_VIEW_DEG:g}..{MAX_FIELD_OF_VIEW_DEG:g}: K is not '
                             'in pixels of this image; fix the calibration')
        object.__setattr__(self, 'K', k)
        object.__setattr__(self, 'D', d)
        object.__setattr__(self, 'width', width)
        object.__setattr__(self, 'height', height)
        object.__setattr__(self, 'distortion_model', model or 'plumb_bob')
        object.__setattr__(self, '_rays', None)
        object.__setattr__(self, '_grid_rays', {})
        object.__setattr__(self, '_scaled', {})

    @classmethod
    def pinhole(cls, fx: float, fy: float, cx: float, cy: float, width: int,
                height: int) -> 'CameraModel':
        """Build a camera without distortion.

        Args:
            fx: Focal length along u, pixels.
            fy: Focal length along v, pixels.
            cx: Principal point column, pixels.
            cy: Principal point row, pixels.
            width: Image width, pixels.
            height: Image height, pixels.

        Returns:
            The camera model with an empty ``D``.
        """
        k = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=np.float64)
        return cls(K=k, D=np.zeros(0), width=width, height=height)

    @property
    def has_distortion(self) -> bool:
        """Whether any distortion coefficient is non-zero."""
        return bool(np.any(self.D != 0.0))

    @property
    def size(self) -> tuple:
        """Image size ``(width, height)`` in pixels."""
        return (self.width, self.height)

    def scaled_to(self, width: int, height: int) -> 'CameraModel':
        """Return this camera for an image of another resolution with the same aspect ratio.

        ``K`` is scaled with the pixel-centre convention (``c' = (c + 0.5) * s - 0.5``, as for
        binning in ``sensor_msgs/CameraInfo``); ``D`` is unchanged (it acts on normalised
        coordinates). The aspect ratio must agree within one pixel of rounding.

        Args:
            width: Target image width, pixels.
            height: Target image height, pixels.

        Returns:
            ``self`` when the size already matches, else a new scaled model.

        Raises:
            ValueError: If the aspect ratios differ (a crop or another sensor mode, which scaling
                cannot fix); the message names both sizes.
        """
        width, height = int(width), int(height)
        if (width, height) == (self.width, self.height):
            return self
        if width <= 0 or height <= 0:
            raise ValueError(f'CameraModel.scaled_to: target size must be positive, got '
                             f'{width}x{height}')
        if abs(self.height * width / self.width - height) > 1.0:
            raise ValueError(f'camera_info is for {self.width}x{self.height} but the image is '
                             f'{width}x{height}: the aspect ratios differ, so K cannot be scaled; '
                             'publish a camera_info that matches the image (same resolution and '
                             'crop)')
        cached = self._scaled.get((width, height))
        if cached is not None:
            return cached
        sx, sy = width / self.width, height / self.height
        k = self.K.copy()
        k[0, 0] *= sx
        k[0, 1] *= sx
        k[1, 1] *= sy
        k[0, 2] = (k[0, 2] + 0.5) * sx - 0.5
        k[1, 2] = (k[1, 2] + 0.5) * sy - 0.5
        scaled = CameraModel(K=k, D=self.D.copy(), width=width, height=height,
                             distortion_model=self.distortion_model)
        if len(self._scaled) < 8:  # keeps the ray table of the scaled model across frames
            self._scaled[(width, height)] = scaled
        return scaled

    def undistort_pixels(self, uv: np.ndarray) -> np.ndarray:
        """Map pixel coordinates to undistorted normalised image coordinates.

        Args:
            uv: (N, 2) pixel coordinates ``(u, v)`` (column, row), any real dtype.

        Returns:
            (N, 2) float64 normalised coordinates ``(x / z, y / z)`` in the camera optical frame,
            computed with ``cv2.undistortPoints`` iterated to convergence (``undistortPointsIter``
            on OpenCV 4).
        """
        pts = np.ascontiguousarray(np.asarray(uv, dtype=np.float64).reshape(-1, 1, 2))
        if pts.shape[0] == 0:
            return np.zeros((0, 2), dtype=np.float64)
        if not self.has_distortion:
            out = np.empty((pts.shape[0], 2), dtype=np.float64)
            # Exact inverse of K (with skew) when there is no distortion.
            y = (pts[:, 0, 1] - self.K[1, 2]) / self.K[1, 1]
            out[:, 1] = y
            out[:, 0] = (pts[:, 0, 0] - self.K[0, 2] - self.K[0, 1] * y) / self.K[0, 0]
            return out
        if hasattr(cv2, 'undistortPointsIter'):         # OpenCV 4.x
            res = cv2.undistortPointsIter(pts, self.K, self.D, None, None, _UNDISTORT_CRITERIA)
        else:                                           # OpenCV 5: criteria in undistortPoints
            res = cv2.undistortPoints(pts, self.K, self.D, None, None, None, _UNDISTORT_CRITERIA)
        return res.reshape(-1, 2).astype(np.float64)

    def pixel_rays(self) -> np.ndarray:
        """Undistorted normalised coordinates of every pixel centre (cached per camera).

        Returns:
            (height, width, 2) float32 array ``(x / z, y / z)``: the ray through pixel ``(u, v)``
            is ``(x, y, 1)`` in the camera optical frame. Read-only.
        """
        rays = self._rays
        if rays is None:
            u, v = np.meshgrid(np.arange(self.width, dtype=np.float64),
                               np.arange(self.height, dtype=np.float64))
            uv = np.stack([u.ravel(), v.ravel()], axis=1)
            rays = self.undistort_pixels(uv).astype(np.float32).reshape(self.height, self.width, 2)
            rays.setflags(write=False)
            object.__setattr__(self, '_rays', rays)
            LOGGER.debug('computed the pixel ray table for a %dx%d camera', self.width,
                         self.height)
        return rays

    def grid_rays(self, stride: int) -> tuple:
        """Return the ray table sampled every ``stride`` pixels (cached per stride).

        Args:
            stride: Grid step, pixels (>= 1).

        Returns:
            ``(rx, ry)``: two C-contiguous (ceil(height / stride), ceil(width / stride)) float32
            arrays, ``x / z`` and ``y / z`` of the rays through pixels ``(j * stride, i *
            stride)``. Read-only.
        """
        stride = int(stride)
        cached = self._grid_rays.get(stride)
        if cached is None:
            rays = self.pixel_rays()[::stride, ::stride]
            cached = (np.ascontiguousarray(rays[:, :, 0]), np.ascontiguousarray(rays[:, :, 1]))
            for table in cached:
                table.setflags(write=False)
            if len(self._grid_rays) < 4:
                self._grid_rays[stride] = cached
        return cached

    def project(self, points: np.ndarray) -> np.ndarray:
        """Project 3D points to pixels, distortion included (``cv2.projectPoints``).

        Args:
            points: (N, 3) points in the camera optical frame, metres, with z > 0.

        Returns:
            (N, 2) float64 pixel coordinates ``(u, v)``.
        """
        pts = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 1, 3))
        if pts.shape[0] == 0:
            return np.zeros((0, 2), dtype=np.float64)
        if not self.has_distortion:
            # The pinhole part of cv2.projectPoints, without its per-call set-up cost.
            p = pts[:, 0, :]
            x, y = p[:, 0] / p[:, 2], p[:, 1] / p[:, 2]
            k = self.K
            return np.stack([k[0, 0] * x + k[0, 1] * y + k[0, 2], k[1, 1] * y + k[1, 2]], axis=1)
        d = self.D
        uv, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), self.K, d)
        return uv.reshape(-1, 2)

    def __repr__(self) -> str:
        """Short description: size, focal lengths, principal point and distortion."""
        return (f'CameraModel({self.width}x{self.height}, fx={self.K[0, 0]:.2f}, '
                f'fy={self.K[1, 1]:.2f}, cx={self.K[0, 2]:.2f}, cy={self.K[1, 2]:.2f}, '
                f'{self.distortion_model}, D={np.round(self.D, 6).tolist()})')


def camera_for_image(camera: Optional[CameraModel], width: int,
                     height: int) -> Optional[CameraModel]:
    """Return ``camera`` adapted to an image of ``width`` x ``height`` pixels.

    Args:
        camera: The camera model, or None.
        width: Image width, pixels.
        height: Image height, pixels.

    Returns:
        None for None; the camera itself when sizes match; else the scaled camera.

    Raises:
        ValueError: If the aspect ratios differ (see :meth:`CameraModel.scaled_to`).
    """
    if camera is None:
        return None
    if camera.size != (width, height):
        LOGGER.debug('scaling camera_info from %dx%d to the image size %dx%d', camera.width,
                     camera.height, width, height)
    return camera.scaled_to(width, height)
