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

"""Carton (box) pose estimation from a segmentation mask, a depth image and the camera model.

Frame and units: every 3D quantity is in the camera optical frame (REP 103: x right, y down,
z forward), in metres; pixel coordinates are ``(u, v)`` = (column, row).

Pose convention of a box (``BoxEstimate.position_m``, ``BoxEstimate.quaternion_xyzw``):

* origin at the centre of the top face (the face seen by the camera);
* z along the top-face normal, pointing out of the box towards the camera side
  (``z . position < 0``; for a camera looking down, z of the box points up);
* x along the long edge of the top face, y = z cross x (right-handed), so the face spans
  ``[-length/2, length/2] x [-width/2, width/2]`` in box x, y;
* the 180-degree ambiguity of x is resolved by ``x_cam + y_cam >= 0`` for the components of the
  box x axis in the camera frame: x points to the right and/or down in the image. The flip happens
  for edges at 45 degrees to the image axes, rare for palletised cartons (edges at 0 or 90
  degrees keep a stable sign). A square top face (length == width) also has a 90-degree
  ambiguity: the long edge is the measured longer one.

Method. All work happens on a grid: the bounding rectangle of the box pixels (plus margins)
sampled every ``fit_stride`` pixels (2 by default). Instances are found there (see
:mod:`enet_ros.boxes.instances`; the colour and boundary cues are computed at full resolution and
pooled onto the grid). Per instance, the grid points with valid depth are back-projected through
the undistorted pixel rays (``cv2.undistortPoints``, table cached per camera); a RANSAC plane on a
sample of each instance (all instances at once, vectorised) and least-squares refits on all its
points give the top-face plane, the later refits in a band of 2.5 RMS distances so that the rims
of side faces do not tilt it. The rays of the points on the plane are intersected with it (depth
noise does not blur the outline) and an oriented rectangle is fitted in the plane: orientation
from the minimum-area rectangle of the row-extreme points, sides from trimmed quantiles of all the
points (a few stray pixels do not stretch it). An instance that is not rectangular (fill below
``merge_fill_ratio``) is merged into a coplanar neighbour when their union is a rectangle (one
carton cut by a cable or crease; at most 256 candidate pairs are checked per frame, the least
rectangular fragments first, which bounds the time on masks of hundreds of irregular pieces).
The label image is brought back to full resolution.

Height is the distance from the top-face centre to ONE support plane per frame: the configured
one, or the dominant level parallel to the tops found in a band of non-box pixels around the boxes
at least ``min_box_height_m`` below the lowest top (usually the floor or the pallet). Cartons
standing on another level (a pallet whose top is hidden, a lower layer) get their distance to
that plane, not their own height.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
from enet_ros.boxes.camera import camera_for_image, CameraModel
from enet_ros.boxes.geometry import (cross, fit_planes, matrix_to_quaternion,
                                     quaternion_to_matrix, rectangle_extents, refine_planes)
from enet_ros.boxes.instances import (color_line_cut, label_counts, max_pool,
                                      segment_instances)
import numpy as np

LOGGER = logging.getLogger(__name__)

# Float depth is metres. A median valid depth above this is far beyond any depth camera's range
# and almost always millimetres stored as float (e.g. a 16UC1 image converted with astype).
MAX_PLAUSIBLE_DEPTH_M = 100.0

Plane = Tuple[float, float, float, float]


@dataclasses.dataclass(frozen=True)
class BoxEstimatorConfig:
    """Options of :func:`estimate_boxes` (units in the names: ``_m`` metres, ``_px`` pixels).

    Attributes:
        box_class_ids: Class ids of box pixels in an integer mask (BOXES list: 1 = box).
        boundary_class_ids: Class ids that separate instances (BOXES list: 2 = box_boundary).
        min_pixels: Smallest instance reported, pixels.
        min_seed_pixels: Smallest seed region (see :mod:`enet_ros.boxes.instances`), pixels.
        max_grow_px: Most pixel rings grown from the seeds into cut pixels.
        depth_step_window_px: Odd window of the depth-discontinuity cue, pixels.
        depth_step_ratio: Depth discontinuity threshold as a fraction of the depth.
        depth_step_min_m: Smallest depth discontinuity threshold, metres.
        depth_step_per_m2: Growth of the depth discontinuity threshold with the squared depth
            (stereo noise), 1/metres: 0.006 gives 7 mm at 1.1 m, 13.5 mm at 1.5 m, 41 mm at 2.6 m.
        use_color_edges: Use thin dark lines in the colour image as cuts (when one is passed and
            the mask has no boundary-class pixels: the boundary class, where predicted, is the
            better cue, and colour lines would also cut at printing and tape).
        color_line_kernel_px: Black-top-hat kernel side for the colour cue, pixels.
        color_line_threshold: Black-top-hat threshold, grey levels (0..255).
        plane_threshold_m: Plane inlier distance at zero range, metres.
        plane_threshold_per_m2: Growth of the inlier distance with the squared range (stereo
            depth noise grows with z**2): threshold = plane_threshold_m + this * z**2, metres.
        ransac_hypotheses: RANSAC hypotheses per box.
        ransac_sample: Points per box scoring the RANSAC hypotheses.
        refine_iterations: Least-squares refits of each plane on its inliers.
        max_view_angle_deg: Largest angle between a top-face normal and the line of sight.
        fit_stride: Use every ``fit_stride``-th pixel in rows and columns for the geometry
            (1 = all pixels; 2 is 4x faster and loses about a millimetre).
        extent_trim: Fraction of points ignored at each end of each rectangle side, [0, 0.2).
        min_valid_pixels: Fewest valid-depth pixels (on the stride grid) for a metric pose.
        merge_fill_ratio: An instance whose top face fills less than this of its rectangle (or
            whose width is below ``min_face_width_m``) is merged into a coplanar neighbour when
            their union fills at least this much of its rectangle.
        min_face_width_m: See ``merge_fill_ratio``, metres.
        merge_max_angle_deg: Largest normal angle between instances merged, degrees.
        support_plane: Known support plane (pallet or floor) ``(a, b, c, d)``, camera optical
            frame, ``a x + b y + c z + d = 0`` with ``(a, b, c)`` a unit normal, metres; None to
            search for it.
        find_support_plane: Search for the support plane around the boxes when none is given.
        support_band_px: Width of the band of non-box pixels around the boxes searched, pixels.
        support_max_angle_deg: Largest angle between the support plane and the mean top face.
        min_box_height_m: Smallest box height; nearer support levels are ignored, metres.
        working_plane: Plane of the box top faces ``(a, b, c, d)`` as above, used for a metric
            pose when no depth is given (or a box has too few valid depth pixels); None: boxes
            without depth get the 2D rectangle only.
        seed: RANSAC seed; the same inputs and seed give the same result.
        label_image: Build the full-resolution instance image ``BoxEstimationResult.labels``;
            False leaves it None and saves that pass (about 0.4 ms, 7%, for 20 boxes at
            640x480) when only the poses are needed.
    """

    box_class_ids: Tuple[int, ...] = (1,)
    boundary_class_ids: Tuple[int, ...] = (2,)
    min_pixels: int = 200
    min_seed_pixels: int = 80
    max_grow_px: int = 40
    depth_step_window_px: int = 5
    depth_step_ratio: float = 0.01
    depth_step_min_m: float = 0.01
    depth_step_per_m2: float = 0.006
    use_color_edges: bool = True
    color_line_kernel_px: int = 5
    color_line_threshold: float = 12.0
    plane_threshold_m: float = 0.006
    plane_threshold_per_m2: float = 0.003
    ransac_hypotheses: int = 32
    ransac_sample: int = 96
    refine_iterations: int = 1
    max_view_angle_deg: float = 75.0
    fit_stride: int = 2
    extent_trim: float = 0.01
    min_valid_pixels: int = 30
    merge_fill_ratio: float = 0.85
    min_face_width_m: float = 0.04
    merge_max_angle_deg: float = 6.0
    support_plane: Optional[Plane] = None
    find_support_plane: bool = True
    support_band_px: int = 12
    support_max_angle_deg: float = 10.0
    min_box_height_m: float = 0.02
    working_plane: Optional[Plane] = None
    seed: int = 0
    label_image: bool = True

    def __post_init__(self) -> None:
        """Check ranges and normalise sequences to tuples.

        Raises:
            ValueError: Naming the first invalid option and its allowed range.
        """
        for name in ('box_class_ids', 'boundary_class_ids'):
            object.__setattr__(self, name, _class_id_tuple(getattr(self, name), name))
        for name in _INT_OPTIONS:
            object.__setattr__(self, name, _integer_option(getattr(self, name), name))
        for name in _BOOL_OPTIONS:
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f'BoxEstimatorConfig.{name} must be True or False, got '
                                f'{getattr(self, name)!r}')
            object.__setattr__(self, name, bool(getattr(self, name)))
        for name in _FLOAT_OPTIONS:
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float,
                                                                             np.number)):
                raise TypeError(f'BoxEstimatorConfig.{name} must be a number, got {value!r}')
            if not math.isfinite(value) and name != 'color_line_threshold':
                raise ValueError(f'BoxEstimatorConfig.{name}={value!r} must be finite')
            object.__setattr__(self, name, float(value))
        if not self.box_class_ids:
            raise ValueError('BoxEstimatorConfig.box_class_ids must name at least one class id')
        if set(self.box_class_ids) & set(self.boundary_class_ids):
            raise ValueError('BoxEstimatorConfig: a class id cannot be both box and boundary: '
                             f'{sorted(set(self.box_class_ids) & set(self.boundary_class_ids))}')
        checks = [
            ('min_pixels', self.min_pixels >= 1, '>= 1'),
            ('min_seed_pixels', self.min_seed_pixels >= 1, '>= 1'),
            ('max_grow_px', self.max_grow_px >= 0, '>= 0'),
            ('depth_step_window_px', self.depth_step_window_px >= 3
             and self.depth_step_window_px % 2 == 1, 'odd and >= 3'),
            ('depth_step_ratio', self.depth_step_ratio > 0, '> 0'),
            ('depth_step_min_m', self.depth_step_min_m > 0, '> 0'),
            ('depth_step_per_m2', self.depth_step_per_m2 >= 0, '>= 0'),
            ('color_line_kernel_px', self.color_line_kernel_px >= 3, '>= 3'),
            ('color_line_threshold', self.color_line_threshold >= 0, '>= 0'),
            ('plane_threshold_m', self.plane_threshold_m > 0, '> 0'),
            ('plane_threshold_per_m2', self.plane_threshold_per_m2 >= 0, '>= 0'),
            ('ransac_hypotheses', self.ransac_hypotheses >= 1, '>= 1'),
            ('ransac_sample', self.ransac_sample >= 3, '>= 3'),
            ('refine_iterations', self.refine_iterations >= 1, '>= 1'),
            ('max_view_angle_deg', 0 < self.max_view_angle_deg < 90, 'in (0, 90)'),
            ('fit_stride', self.fit_stride >= 1, '>= 1'),
            ('extent_trim', 0 <= self.extent_trim < 0.2, 'in [0, 0.2)'),
            ('min_valid_pixels', self.min_valid_pixels >= 3, '>= 3'),
            ('merge_fill_ratio', 0 <= self.merge_fill_ratio <= 1, 'in [0, 1]'),
            ('min_face_width_m', self.min_face_width_m >= 0, '>= 0'),
            ('merge_max_angle_deg', self.merge_max_angle_deg >= 0, '>= 0'),
            ('support_band_px', self.support_band_px >= 1, '>= 1'),
            ('support_max_angle_deg', 0 <= self.support_max_angle_deg < 90, 'in [0, 90)'),
            ('min_box_height_m', self.min_box_height_m > 0, '> 0'),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(f'BoxEstimatorConfig.{name}={getattr(self, name)!r} is out of '
                                 f'range: must be {allowed}')
        for name in ('support_plane', 'working_plane'):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _normalise_plane(value, name))


_INT_OPTIONS = ('min_pixels', 'min_seed_pixels', 'max_grow_px', 'depth_step_window_px',
                'color_line_kernel_px', 'ransac_hypotheses', 'ransac_sample',
                'refine_iterations', 'fit_stride', 'min_valid_pixels', 'support_band_px', 'seed')
_BOOL_OPTIONS = ('use_color_edges', 'find_support_plane', 'label_image')
_FLOAT_OPTIONS = ('depth_step_ratio', 'depth_step_min_m', 'depth_step_per_m2',
                  'color_line_threshold', 'plane_threshold_m', 'plane_threshold_per_m2',
                  'max_view_angle_deg', 'extent_trim', 'merge_fill_ratio', 'min_face_width_m',
                  'merge_max_angle_deg', 'support_max_angle_deg', 'min_box_height_m')


def _integer_option(value, name: str) -> int:
    """``value`` as an int (a whole float such as a ROS double parameter 2.0 is accepted).

    Raises:
        TypeError: Naming the option, for bools, strings, None and fractional or infinite
            numbers.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f'BoxEstimatorConfig.{name} must be an integer, got {value!r}')
    if isinstance(value, (float, np.floating)) and not (math.isfinite(value)
                                                        and float(value).is_integer()):
        raise TypeError(f'BoxEstimatorConfig.{name} must be an integer, got {value!r}')
    return int(value)


def _class_id_tuple(value, name: str) -> Tuple[int, ...]:
    """Class ids as a tuple of ints (one int is accepted as a one-element tuple).

    Raises:
        TypeError: Naming the option, for strings or non-integer ids.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return (int(value),)
    if isinstance(value, (str, bytes)) or not hasattr(value, '__iter__'):
        raise TypeError(f'BoxEstimatorConfig.{name} must be a sequence of integer class ids, '
                        f'got {value!r}')
    return tuple(_integer_option(c, name) for c in value)


def _normalise_plane(value: Sequence[float], name: str) -> Plane:
    """Return ``value`` as an ``(a, b, c, d)`` tuple with a unit normal.

    The plane must cross the optical axis in front of the camera, at least 1 cm from it (the
    surface the camera looks at): ``-d / c`` in ``[0.01, inf)`` once ``(a, b, c)`` is a unit
    normal.

    Raises:
        ValueError: If it is not 4 finite numbers with a non-zero normal, passes through or
            behind the camera, or is parallel to the optical axis.
    """
    p = np.asarray(value, dtype=np.float64).reshape(-1)
    if p.size != 4 or not np.all(np.isfinite(p)) or np.linalg.norm(p[:3]) < 1e-9:
        raise ValueError(f'BoxEstimatorConfig.{name} must be 4 finite numbers (a, b, c, d) '
                         'with a non-zero normal (a, b, c), camera optical frame, metres; got '
                         f'{value!r}')
    p = p / np.linalg.norm(p[:3])
    if abs(p[2]) < 1e-6 or -p[3] / p[2] < 0.01:
        raise ValueError(f'BoxEstimatorConfig.{name}={tuple(value)!r} does not cross the optical '
                         'axis in front of the camera (a x + b y + c z + d = 0 in the camera '
                         'optical frame, z forward, metres): e.g. a surface 1.5 m straight ahead '
                         'is (0, 0, 1, -1.5)')
    return tuple(float(x) for x in p)


@dataclasses.dataclass
class BoxEstimate:
    """One detected box (carton).

    Frames and units: camera optical frame (REP 103), metres; pixels for image quantities. The
    pose convention is in the module docstring of :mod:`enet_ros.boxes.estimator`.

    Attributes:
        instance_id: Label of the box in ``BoxEstimationResult.labels`` (1..N).
        pixel_count: Pixels of the instance in the image, counted on the ``fit_stride`` grid
            (labelled grid points times ``fit_stride ** 2``; exact with ``fit_stride`` 1).
        valid_depth_ratio: Fraction of the instance's pixels with valid depth, [0, 1]
            (0 without depth).
        corners_px: (4, 2) float32 image corners ``(u, v)`` of the top face, in the order
            (-x, -y), (+x, -y), (+x, +y), (-x, +y) of the box frame (2D-only: the same order for
            the image rectangle, x its long side).
        position_m: (3,) float64 top-face centre, metres; NaN without a metric pose.
        quaternion_xyzw: (4,) float64 orientation of the box frame in the camera optical frame,
            (x, y, z, w); NaN without a metric pose.
        normal: (3,) float64 unit top-face normal pointing out of the box towards the camera
            (the box z axis); NaN without a metric pose.
        size_m: (3,) float64 (length, width, height), metres, length >= width (of the visible
            top face: an occluded box measures its visible part); height NaN without a support
            plane; all NaN without a metric pose.
        score: Confidence in [0, 1]: the fraction of the fitted rectangle covered by the top
            face, times the fraction of valid-depth pixels on the plane (2D-only: the fill alone).
        inlier_ratio: Fraction of the valid-depth pixels on the top-face plane, [0, 1]; NaN
            without depth.
        plane_rms_m: RMS distance of the inliers to the plane, metres; NaN without depth.
    """

    instance_id: int
    pixel_count: int
    valid_depth_ratio: float
    corners_px: np.ndarray
    position_m: np.ndarray
    quaternion_xyzw: np.ndarray
    normal: np.ndarray
    size_m: np.ndarray
    score: float
    inlier_ratio: float = float('nan')
    plane_rms_m: float = float('nan')

    @property
    def has_pose(self) -> bool:
        """Whether a metric pose (position, orientation, length and width) was estimated."""
        return bool(np.all(np.isfinite(self.position_m)))

    @property
    def rotation_matrix(self) -> np.ndarray:
        """(3, 3) float64 rotation, columns = box x, y, z axes in the camera optical frame."""
        return quaternion_to_matrix(self.quaternion_xyzw)


@dataclasses.dataclass
class BoxEstimationResult:
    """Output of :func:`estimate_boxes`; iterating over it yields the boxes.

    Attributes:
        boxes: One :class:`BoxEstimate` per instance, ordered by ``instance_id``.
        labels: (H, W) int32 instance image: 0 = no box, k = the box with ``instance_id`` k;
            None with ``BoxEstimatorConfig.label_image`` False.
        support_plane: (4,) float64 ``(a, b, c, d)`` support plane used for the heights (camera
            optical frame, metres, normal towards the camera), or None.
        camera: The camera model used (scaled to the image size), or None.
    """

    boxes: List[BoxEstimate]
    labels: Optional[np.ndarray]
    support_plane: Optional[np.ndarray] = None
    camera: Optional[CameraModel] = None

    def __iter__(self) -> Iterator[BoxEstimate]:
        """Iterate over the boxes."""
        return iter(self.boxes)

    def __len__(self) -> int:
        """Return the number of boxes."""
        return len(self.boxes)

    def __getitem__(self, index: int) -> BoxEstimate:
        """Return box ``index`` (0-based, not the instance id)."""
        return self.boxes[index]


# ---------------------------------------------------------------------------------------------
# Input conversion


def semantic_to_masks(mask: np.ndarray, config: BoxEstimatorConfig
                      ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Box and boundary pixels of a segmentation output.

    Args:
        mask: (H, W) bool (True = box) or integer class ids.
        config: Supplies ``box_class_ids`` and ``boundary_class_ids``.

    Returns:
        ``(fg, boundary)``: (H, W) bool box mask and (H, W) bool boundary mask (None when the
        mask is bool or has no boundary pixel).

    Raises:
        ValueError: For a mask that is not 2D or not bool/integer.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f'mask must be (H, W) class ids or bool, got shape {m.shape}')
    if m.dtype == bool:
        return m, None
    if not np.issubdtype(m.dtype, np.integer):
        raise ValueError(f'mask must hold integer class ids or bool, got dtype {m.dtype}; '
                         'pass the argmax of the logits, not the scores')
    fg = _isin(m, config.box_class_ids)
    boundary = _isin(m, config.boundary_class_ids) if config.boundary_class_ids else None
    if boundary is not None and not boundary.any():
        boundary = None
    return fg, boundary


def _isin(m: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """``np.isin`` for a few small class ids (one comparison per id, faster than a sort)."""
    out = m == ids[0]
    for c in ids[1:]:
        out |= m == c
    return out


def _check_depth(depth: np.ndarray, shape: Tuple[int, int]) -> None:
    """Raise ValueError unless ``depth`` is (H, W) uint16 or float32/float64 with H, W = shape."""
    d = np.asarray(depth)
    if d.ndim == 3 and d.shape[2] == 1:
        d = d[:, :, 0]
    if d.shape != tuple(shape):
        raise ValueError(f'depth has shape {d.shape} but the mask is {shape[1]}x{shape[0]} '
                         f'(shape {tuple(shape)}); register the depth to the image '
                         '(aligned_depth_to_color) first')
    if d.dtype not in (np.uint16, np.float32, np.float64):
        raise ValueError(f'depth dtype {d.dtype} is not a known encoding: pass uint16 '
                         'millimetres (16UC1) or float32 metres (32FC1)')


def depth_to_metres(depth: np.ndarray, shape: Optional[Tuple[int, int]] = None
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Convert a depth image to metres, reading the encoding from its dtype.

    ``uint16`` is millimetres (REP 118 ``16UC1``; 0 = no data); ``float32``/``float64`` is metres
    (``32FC1``; NaN, inf, 0 or negative = no data). Other dtypes are rejected, never guessed.
    Float depth whose median valid value exceeds :data:`MAX_PLAUSIBLE_DEPTH_M` (100 m) is almost
    certainly millimetres in a float image: it is refused with an error that names the mistake
    (read as metres it would put every box 1000 times too far).

    Args:
        depth: (H, W) or (H, W, 1) depth image (z along the optical axis, not the ray length).
        shape: Expected ``(H, W)``, or None to accept any.

    Returns:
        ``(depth_m, valid)``: (H, W) float32 metres (0 where invalid) and (H, W) bool.

    Raises:
        ValueError: On a shape or dtype mismatch, or float depth that looks like millimetres.
    """
    d = np.asarray(depth)
    if d.ndim == 3 and d.shape[2] == 1:
        d = d[:, :, 0]
    _check_depth(d, d.shape if shape is None else shape)
    if d.dtype == np.uint16:
        valid = d > 0
        return d.astype(np.float32) * np.float32(0.001), valid
    dm = d.astype(np.float32)
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(dm) & (dm > 0)
    dm[~valid] = 0.0
    sample = dm[::4, ::4]  # every 16th pixel is plenty for a median, and cheap per frame
    sample = sample[sample > 0]
    median = float(np.median(sample)) if sample.size else 0.0
    if median > MAX_PLAUSIBLE_DEPTH_M:
        raise ValueError(f'float depth is metres (32FC1, REP 118), but its median valid value '
                         f'is {median:.0f} m: it looks like millimetres. Divide it by 1000, or '
                         'pass the uint16 millimetre image (16UC1) as it is')
    return dm, valid


def _check_color(color: Optional[np.ndarray], shape: Tuple[int, int]) -> Optional[np.ndarray]:
    """Validate an (H, W, 3), (H, W, 1) or (H, W) uint8 image; return it or None."""
    if color is None:
        return None
    c = np.asarray(color)
    if c.shape[:2] != tuple(shape) or c.dtype != np.uint8 or c.ndim not in (2, 3) or (
            c.ndim == 3 and c.shape[2] not in (1, 3)):
        raise ValueError(f'color must be (H, W, 3) or (H, W) uint8 with (H, W) = {shape}, got '
                         f'shape {c.shape} dtype {c.dtype}')
    return c


def _to_gray(c: np.ndarray) -> np.ndarray:
    """(H, W) uint8 grey image of a checked colour or grey image (crop)."""
    if c.ndim == 2:
        return c
    if c.shape[2] == 1:
        return c[:, :, 0]
    # RGB or BGR: only the luminance weights differ a little, which the line cue does not mind.
    return cv2.cvtColor(np.ascontiguousarray(c), cv2.COLOR_RGB2GRAY)


# ---------------------------------------------------------------------------------------------
# The work grid


class _Grid:
    """The region of interest sampled every ``stride`` pixels, where all the work happens.

    Grid point ``(i, j)`` is image pixel ``(u, v) = (x0 + j * stride, y0 + i * stride)``; ``x0``
    and ``y0`` are multiples of ``stride`` so that the grid is a window of the camera's cached
    strided ray table.
    """

    def __init__(self, camera: Optional[CameraModel], x0: int, y0: int, x1: int, y1: int,
                 stride: int) -> None:
        x0, y0 = x0 - x0 % stride, y0 - y0 % stride
        self.camera = camera
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1
        self.stride = stride
        self.roi = (slice(y0, y1), slice(x0, x1))
        self.sub = (slice(y0, y1, stride), slice(x0, x1, stride))
        self.shape = (-(-(y1 - y0) // stride), -(-(x1 - x0) // stride))

    def take(self, image: np.ndarray) -> np.ndarray:
        """Return the grid samples of a full-size image (contiguous copy)."""
        return np.ascontiguousarray(image[self.sub])

    def ray_grids(self, out: np.ndarray) -> None:
        """Write the ray x and y (x / z, y / z) of the grid points into ``out``.

        Args:
            out: (2, h * w) float32 array (rows: ray x, ray y; grid points in raster order).
        """
        rx, ry = self.camera.grid_rays(self.stride)
        s = self.stride
        win = (slice(self.y0 // s, self.y0 // s + self.shape[0]),
               slice(self.x0 // s, self.x0 // s + self.shape[1]))
        out[0].reshape(self.shape)[...] = rx[win]
        out[1].reshape(self.shape)[...] = ry[win]

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) full-image pixel coordinates of (N, 3) points (distortion included)."""
        return self.camera.project(points)

    def to_pixels(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(N, 2) float64 full-image ``(u, v)`` of grid points."""
        return np.stack([self.x0 + cols * self.stride, self.y0 + rows * self.stride],
                        axis=1).astype(np.float64)


class _FrameData:
    """Per-frame grids: normalised rays and depth at the grid points (flat, contiguous).

    Attributes:
        rays_z: (3, h * w) float32 rows ray x (x / z), ray y (y / z) and depth (metres, 0 =
            invalid) of the grid points in raster order (one table: one gather per point set),
            or None without a camera.
        rx: (h * w,) float32 ray x (a row of ``rays_z``), or None without a camera.
        ry: (h * w,) float32 ray y, or None.
        z: (h, w) float32 depth, metres (0 = invalid), or None without depth.
        valid: (h, w) bool valid depth, or None.
        shape: ``(h, w)``.
    """

    def __init__(self, grid: _Grid, depth: Optional[np.ndarray]) -> None:
        self.shape = grid.shape
        self.z = self.valid = None
        self.rays_z = self.rx = self.ry = None
        if grid.camera is not None:
            self.rays_z = np.zeros((3, grid.shape[0] * grid.shape[1]), np.float32)
            grid.ray_grids(self.rays_z[:2])
            self.rx, self.ry = self.rays_z[0], self.rays_z[1]
        if depth is not None:
            if depth.ndim == 3:
                depth = depth[:, :, 0]                      # (H, W, 1) is accepted as well
            if self.rays_z is not None and depth.dtype == np.uint16:
                # Millimetres straight into the table (depth_to_metres, without two copies).
                self.z = self.rays_z[2].reshape(grid.shape)
                np.multiply(depth, np.float32(0.001), out=self.z)
                self.valid = depth > 0
            else:
                z, self.valid = depth_to_metres(depth)
                if self.rays_z is None:
                    self.z = z
                else:
                    self.rays_z[2] = z.ravel()
                    self.z = self.rays_z[2].reshape(grid.shape)
        self._zflat = None if self.z is None else self.z.ravel()

    def take_z(self, idx: np.ndarray) -> np.ndarray:
        """Depth of the flat grid indices ``idx``, metres."""
        return self._zflat.take(idx)

    def crop(self, rows: slice, cols: slice) -> '_FrameData':
        """Return these grids on ``rows`` x ``cols`` of the grid (contiguous copies)."""
        out = object.__new__(_FrameData)
        out.rays_z = out.rx = out.ry = out.z = out.valid = out._zflat = None
        if self.rays_z is not None:
            table = self.rays_z.reshape((3,) + self.shape)[:, rows, cols]
            out.rays_z = np.ascontiguousarray(table).reshape(3, -1)
            out.rx, out.ry = out.rays_z[0], out.rays_z[1]
            if self.z is not None:
                out.z = out.rays_z[2].reshape(table.shape[1:])
        elif self.z is not None:
            out.z = np.ascontiguousarray(self.z[rows, cols])
        if self.valid is not None:
            out.valid = np.ascontiguousarray(self.valid[rows, cols])
        if out.z is not None:
            out._zflat = out.z.ravel()
        out.shape = (out.valid if out.valid is not None else out.z).shape
        return out


# ---------------------------------------------------------------------------------------------
# Per-instance geometry


@dataclasses.dataclass
class _Geometry:
    """Per-instance results (row b = instance id b + 1); NaN where an instance has no pose."""

    ok: np.ndarray            # (B,) bool: metric pose available
    normal: np.ndarray        # (B, 3) top normal towards the camera
    offset: np.ndarray        # (B,) plane offset d (n . X + d = 0), metres
    centre: np.ndarray        # (B, 3) top-face centre, metres
    x_axis: np.ndarray        # (B, 3) long-edge axis
    sides: np.ndarray         # (B, 2) length, width, metres
    fill: np.ndarray          # (B,) top-face fraction of the rectangle, [0, 1]
    inlier_ratio: np.ndarray  # (B,)
    rms: np.ndarray           # (B,)
    valid_ratio: np.ndarray   # (B,)
    pixel_count: np.ndarray   # (B,) pixels: grid points * stride**2
    corners_px: np.ndarray    # (B, 4, 2) full-image pixels


def _empty_geometry(pixels: np.ndarray) -> _Geometry:
    """Geometry of ``len(pixels)`` instances without any pose yet."""
    n = len(pixels)
    # The float fields are views of one NaN-filled block: one allocation instead of nine.
    block = np.full((n, 24), np.nan)
    block[:, 14:16] = 0.0                                   # fill, valid_ratio
    return _Geometry(ok=np.zeros(n, bool), normal=block[:, 0:3], offset=block[:, 3],
                     centre=block[:, 4:7], x_axis=block[:, 7:10], sides=block[:, 10:12],
                     inlier_ratio=block[:, 12], rms=block[:, 13], fill=block[:, 14],
                     valid_ratio=block[:, 15], corners_px=block[:, 16:24].reshape(n, 4, 2),
                     pixel_count=np.asarray(pixels, dtype=np.float64))


#: Longest padded row (points of one instance) before a large instance is thinned; see _Points.
_MIN_ROW_CAP = 8192


class _Points:
    """The grid points of the instances in the padded (B, L) layout of :mod:`.geometry`.

    Row ``b`` holds instance ``b + 1``'s points in raster order in its first ``counts[b]``
    columns; the rest of the row repeats a real point and is masked out. One stable sort of the
    points by label builds it; every later step is a broadcast operation over all instances.

    An instance far larger than the average one would make the padding expensive: rows are capped
    at ``max(8192, 4 * mean count)`` points by keeping every ``step[b]``-th point of a larger
    instance (raster order, so still spread over the whole face); counts derived from the points
    are scaled back by ``step``.

    Attributes:
        counts: (B,) points per instance in the layout.
        step: (B,) thinning step per instance (1 = all points).
        mask: (B, L) bool real points.
        flat: (B, L) int64 flat grid indices of the points.
        rx, ry: (B, L) float32 normalised rays of the points (None without a camera).
        z: (B, L) float32 depth, metres (None without depth).
    """

    def __init__(self, labels: np.ndarray, valid: Optional[np.ndarray], n: int,
                 frame: _FrameData) -> None:
        self._height, self._width = labels.shape
        sel = labels > 0
        if valid is not None:
            sel &= valid
        idx = np.flatnonzero(sel)
        g = labels.ravel().take(idx)
        if n < 256:
            g = g.astype(np.uint8)                    # a one-byte radix sort: one pass fewer
        order = np.argsort(g, kind='stable')          # radix sort; raster order kept per label
        idx = idx.take(order)
        # Where each label's run starts in the sorted labels (cheaper than a bincount, which
        # widens every label to int64 first).
        bounds = np.searchsorted(g.take(order), np.arange(1, n + 2)).tolist()
        counts = np.diff(bounds)
        n_pts = len(idx)
        step = np.ones(n, np.int64)
        cap = max(_MIN_ROW_CAP, 4 * (-(-n_pts // max(n, 1))))
        if n and counts.max(initial=0) > cap:
            step = np.maximum(1, -(-counts // cap))
            counts = -(-counts // step)
        length = max(int(counts.max(initial=0)), 1)
        self.counts = counts
        self.step = step
        self.mask = np.arange(length) < counts[:, None]
        # Row b: the instance's indices, then its last one repeated (masked out). One slice copy
        # per instance is far cheaper here than building a (B, L) gather index.
        flat = np.zeros((n, length), np.int64)
        for b, (start, cnt, stp) in enumerate(zip(bounds[:-1], counts.tolist(), step.tolist())):
            if cnt:
                flat[b, :cnt] = idx[start:start + cnt * stp:stp]
                flat[b, cnt:] = flat[b, cnt - 1]
        self.flat = flat
        self.rx = self.ry = self.z = None
        if frame.rays_z is not None:
            # One gather of (ray x, ray y, depth) per point: one call instead of three.
            table = frame.rays_z if valid is not None else frame.rays_z[:2]
            gathered = table.take(flat, axis=1)
            self.rx, self.ry = gathered[0], gathered[1]
            if valid is not None:
                self.z = gathered[2]

    def row_extremes(self, sel: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """First and last selected point of every (instance, grid row).

        The convex hull of these is that of all selected points, at a fraction of their number.

        Args:
            sel: (B, L) bool points to consider (within ``mask``).

        Returns:
            ``(pos, counts)``: flat positions into the (B, L) arrays, grouped by instance
            (ascending), and the (B,) number per instance.
        """
        n_groups, length = sel.shape
        pos = np.flatnonzero(sel)
        if len(pos) == 0:
            return pos, np.zeros(n_groups, np.int64)
        # (instance, row) key of every point: the flat index plus a per-instance offset larger
        # than any grid index, divided by the width (one pass instead of two divisions).
        offset = np.arange(n_groups, dtype=np.int64) * (self._width * (self._height + 1))
        key = (self.flat + offset[:, None]).ravel().take(pos) // self._width
        change = key[1:] != key[:-1]
        edge = np.ones(len(pos), bool)                      # first and last point of each run
        edge[1:-1] = change[:-1] | change[1:]
        pos = pos[edge]
        return pos, np.bincount(pos // length, minlength=n_groups)


def _random_tables(seed: int, n_groups: int, sample: int,
                   hypotheses: int) -> Tuple[np.ndarray, np.ndarray]:
    """Seeded uniform tables for the RANSAC sample and hypotheses, rows = instances.

    Row ``b`` depends only on ``seed`` and ``b`` (each table comes from its own generator, filled
    row by row), so a result never depends on earlier calls; the tables are cached.

    Returns:
        ``((B, sample) float64, (B, hypotheses, 3) float64)`` uniform numbers in [0, 1).
    """
    key = (seed, sample, hypotheses)
    cached = _RANDOM_CACHE.get(key)
    if cached is None or cached[0].shape[0] < n_groups:
        rows = max(64, 2 * n_groups)
        cached = (np.random.default_rng([seed, 0]).random((rows, sample)),
                  np.random.default_rng([seed, 1]).random((rows, hypotheses, 3)))
        if len(_RANDOM_CACHE) > 8:
            _RANDOM_CACHE.clear()
        _RANDOM_CACHE[key] = cached
    return cached[0][:n_groups], cached[1][:n_groups]


_RANDOM_CACHE: dict = {}


def _rectangles(geo: _Geometry, pts: _Points, inl: np.ndarray, in_counts: np.ndarray,
                grid: _Grid, trim: float, face_px: np.ndarray) -> None:
    """Fit the top-face rectangle of each instance with a plane (fills ``geo`` in place).

    The face points' rays are intersected with the instance's plane (so depth noise does not
    blur the outline) and expressed in an in-plane basis; the rectangle's orientation comes from
    the minimum-area rectangle of the row-extreme points (the convex hull is all that matters)
    and its sides from trimmed quantiles of every second point (see
    :func:`enet_ros.boxes.geometry.rectangle_extents`).

    Args:
        geo: Geometry with ``normal`` and ``offset`` set; instances with a finite offset and at
            least 3 points in ``inl`` are processed.
        pts: The instances' points (rays).
        inl: (B, L) bool face points of each instance.
        in_counts: (B,) number of face points per instance (in the layout).
        grid: Projects the corners.
        trim: Quantile trim of the rectangle sides.
        face_px: (B,) estimated top-face pixel count (for the fill ratio).
    """
    todo = np.flatnonzero(np.isfinite(geo.offset) & (in_counts >= 3))
    if len(todo) == 0:
        return
    has = np.isfinite(geo.offset)
    nrm = np.where(has[:, None], geo.normal, 0.0)
    off = np.where(has, geo.offset, 0.0)
    # In-plane basis per instance: e1 = camera x projected on the plane, e2 = n x e1; origin at
    # the plane point nearest the camera.
    e1 = np.zeros_like(nrm)
    e1[:, 0] = 1.0
    e1 -= nrm * nrm[:, :1]
    e1 /= np.maximum(np.linalg.norm(e1, axis=1, keepdims=True), 1e-12)
    e2 = cross(nrm, e1)
    # Per point: t = -d / (n . r), coords = t * (r . e1, r . e2) with r = (x, y, 1); float32 is
    # plenty here (micrometres over metres).
    tab = np.concatenate([nrm, e1, e2, off[:, None]], axis=1).astype(np.float32)

    def plane_coords(rx: np.ndarray, ry: np.ndarray, t: np.ndarray) -> Tuple[np.ndarray, ...]:
        # rx, ry: (B, K) rays; t: (B, 10) per-row table (broadcast as (B, 1) columns).
        den = rx * t[:, 0:1]
        den += ry * t[:, 1:2]
        den += t[:, 2:3]
        # Rows of instances without a plane (not in ``todo``) have n = 0: their NaNs are unused.
        with np.errstate(divide='ignore', invalid='ignore'):
            scale = -t[:, 9:10] / den
        u = rx * t[:, 3:4]
        u += ry * t[:, 4:5]
        u += t[:, 5:6]
        u *= scale
        v = rx * t[:, 6:7]
        v += ry * t[:, 7:8]
        v += t[:, 8:9]
        v *= scale
        return u, v

    # Orientation: the row-extreme points (all of them: they carry the outline).
    pos, ext_counts = pts.row_extremes(inl)
    group = np.repeat(np.arange(len(ext_counts)), ext_counts)
    hu, hv = plane_coords(pts.rx.ravel().take(pos)[:, None], pts.ry.ravel().take(pos)[:, None],
                          tab[group])
    hull = np.concatenate([hu, hv], axis=1)             # (M, 2) float32, contiguous
    bounds = np.concatenate([[0], np.cumsum(ext_counts)])
    angles = [0.0] * len(in_counts)
    ends = bounds.tolist()
    for b in todo.tolist():
        angles[b] = math.radians(cv2.minAreaRect(hull[ends[b]:ends[b + 1]])[2])
    # Sides: trimmed quantiles of every second point (a uniform grid sample as well).
    # (Contiguous copies first: the arithmetic below is faster on them than on strided views.)
    u, v = plane_coords(np.ascontiguousarray(pts.rx[:, ::2]),
                        np.ascontiguousarray(pts.ry[:, ::2]), tab)
    c2, long2, sides = rectangle_extents(u, v, inl[:, ::2], angles, trim)
    c2, long2, sides = c2[todo], long2[todo], sides[todo]
    # Back to 3D (all instances at once).
    e1t, e2t, nt = e1[todo], e2[todo], nrm[todo]
    centre = -off[todo, None] * nt + c2[:, :1] * e1t + c2[:, 1:] * e2t
    x = long2[:, :1] * e1t + long2[:, 1:] * e2t
    x[(x[:, 0] + x[:, 1]) < 0] *= -1.0                              # the 180-degree rule
    y = cross(nt, x)
    geo.centre[todo] = centre
    geo.x_axis[todo] = x
    geo.sides[todo] = sides
    hx = 0.5 * sides[:, :1] * x
    hy = 0.5 * sides[:, 1:] * y
    corners = np.stack([centre - hx - hy, centre + hx - hy, centre + hx + hy, centre - hx + hy],
                       axis=1)
    uv = grid.project(corners.reshape(-1, 3)).reshape(-1, 4, 2)
    geo.corners_px[todo] = uv
    # Shoelace area of the projected quadrilaterals, pixels.
    u, v = uv[..., 0], uv[..., 1]
    nxt = [1, 2, 3, 0]
    area = 0.5 * np.abs((u * v[:, nxt] - u[:, nxt] * v).sum(axis=1))
    geo.fill[todo] = np.clip(face_px[todo] / np.maximum(area, 1e-9), 0.0, 1.0)
    geo.ok[todo] = True


def _metric_geometry(labels: np.ndarray, frame: '_FrameData', grid: _Grid,
                     cfg: BoxEstimatorConfig, n: int,
                     sizes: Optional[np.ndarray] = None) -> _Geometry:
    """Plane and rectangle of every instance from depth (see the module docstring).

    Args:
        labels: (h, w) uint16 or int32 grid labels 1..n.
        frame: Grid depth and rays of the frame.
        grid: The work grid.
        cfg: Options.
        n: Number of instances.
        sizes: (n,) grid points per instance, or None to count them.

    Returns:
        The geometry of the n instances.
    """
    cell = float(grid.stride * grid.stride)
    if sizes is None:
        sizes = label_counts(np.ascontiguousarray(labels, dtype=np.uint16), n)[1:]
    pts = _Points(labels, frame.valid, n, frame)
    counts = pts.counts
    valid_counts = counts * pts.step
    geo = _empty_geometry(np.asarray(sizes, dtype=np.float64) * cell)
    geo.valid_ratio = valid_counts / np.maximum(sizes, 1)
    z = pts.z
    x = pts.rx * z
    y = pts.ry * z
    # Mean depth of the real points: the padding repeats each row's last real point.
    length = z.shape[1]
    zsum = z.sum(axis=1, dtype=np.float64) - (length - counts) * z[:, -1]
    zmean = zsum / np.maximum(counts, 1)
    thr = cfg.plane_threshold_m + cfg.plane_threshold_per_m2 * zmean ** 2
    # RANSAC on a sample of each instance, then least squares on all its points.
    u_sample, u_hyp = _random_tables(cfg.seed, n, cfg.ransac_sample, cfg.ransac_hypotheses)
    ranks = np.minimum((u_sample * counts[:, None]).astype(np.int64),
                       np.maximum(counts - 1, 0)[:, None])
    ranks += (np.arange(n) * length)[:, None]               # flat indices into the (B, L) rows
    sx, sy, sz = x.ravel().take(ranks), y.ravel().take(ranks), z.ravel().take(ranks)
    sz[counts < cfg.min_valid_pixels] = np.nan
    fits = fit_planes(sx, sy, sz, thr, u_hyp, refine_iterations=1,
                      max_view_angle_deg=cfg.max_view_angle_deg)
    normals, offsets, inl, in_counts, geo.rms = refine_planes(
        x, y, z, pts.mask, fits.normals, fits.offsets, thr, centres=fits.centres,
        iterations=cfg.refine_iterations, step=2, rms=fits.rms)
    ok = np.isfinite(offsets)
    if not np.any(ok):
        return geo
    geo.normal[ok] = normals[ok]
    geo.offset[ok] = offsets[ok]
    geo.inlier_ratio = np.where(counts > 0, in_counts / np.maximum(counts, 1), np.nan)
    # Top-face pixels: inliers, scaled to full resolution and to the pixels without depth
    # (assumed to lie on the face in the same proportion).
    face_px = in_counts * pts.step * cell / np.maximum(geo.valid_ratio, 1e-6)
    _rectangles(geo, pts, inl, in_counts, grid, cfg.extent_trim, face_px)
    return geo


def _plane_geometry(labels: np.ndarray, geo: _Geometry, plane: np.ndarray, frame: '_FrameData',
                    grid: _Grid, cfg: BoxEstimatorConfig, only: np.ndarray) -> None:
    """Metric rectangles of the instances ``only`` with their top face on ``plane`` (no depth).

    Fills ``geo`` in place; the normal is the plane's, oriented towards the camera.
    """
    n = len(geo.ok)
    pts = _Points(labels, None, n, frame)
    sel = np.zeros(n, bool)
    sel[only] = True
    sel &= pts.counts >= 3
    # Every ray of a box must meet the plane in front of the camera (t = -d / (n . r) > 0): a
    # steep plane is met by part of the image only; boxes elsewhere keep the 2D rectangle.
    den = pts.rx * np.float32(plane[0]) + pts.ry * np.float32(plane[1]) + np.float32(plane[2])
    with np.errstate(divide='ignore', invalid='ignore'):
        t = np.float32(-plane[3]) / den
    sel &= np.all((t > 0) & np.isfinite(t) | ~pts.mask, axis=1)
    if not np.any(sel):
        return
    saved = geo.offset.copy()
    geo.offset[:] = np.nan                                  # _rectangles skips NaN offsets
    geo.normal[sel] = plane[:3]
    geo.offset[sel] = plane[3]
    inl = pts.mask & sel[:, None]
    _rectangles(geo, pts, inl, np.where(sel, pts.counts, 0), grid, cfg.extent_trim,
                geo.pixel_count)
    geo.offset[~sel] = saved[~sel]


def _image_rectangles(labels: np.ndarray, geo: _Geometry, frame: '_FrameData', grid: _Grid,
                      only: np.ndarray) -> None:
    """2D oriented rectangles (full-image pixels) of the instances ``only`` (no metric pose)."""
    if len(only) == 0:
        return
    n = len(geo.ok)
    pts = _Points(labels, None, n, frame)
    pos, ext_counts = pts.row_extremes(pts.mask)
    flat = pts.flat.ravel().take(pos)
    width = labels.shape[1]
    rows, cols = flat // width, flat % width
    bounds = np.concatenate([[0], np.cumsum(ext_counts)])
    for b in only:
        if bounds[b + 1] == bounds[b]:
            continue
        sel = slice(bounds[b], bounds[b + 1])
        uv = grid.to_pixels(rows[sel], cols[sel]).astype(np.float32).reshape(-1, 1, 2)
        (cu, cv), (w, h), ang = cv2.minAreaRect(uv)
        # The samples are cell corners: each stands for a stride x stride cell.
        w, h = w + grid.stride, h + grid.stride
        c = np.array([cu, cv]) + 0.5 * (grid.stride - 1)
        th = np.deg2rad(ang)
        ax = np.array([np.cos(th), np.sin(th)])
        if h > w:
            ax = np.array([-np.sin(th), np.cos(th)])
            w, h = h, w
        if ax[0] + ax[1] < 0:             # the 180-degree rule, in the image
            ax = -ax
        ay = np.array([ax[1], -ax[0]])    # the box y axis as seen from a camera above the box
        hx, hy = 0.5 * w * ax, 0.5 * h * ay
        geo.corners_px[b] = (c - hx - hy, c + hx - hy, c + hx + hy, c - hx + hy)
        geo.fill[b] = min(1.0, geo.pixel_count[b] / (w * h))


# ---------------------------------------------------------------------------------------------
# Merging over-segmented cartons


def _adjacent_pairs(labels: np.ndarray) -> np.ndarray:
    """(P, 2) int pairs (a < b) of instance labels that touch (4-neighbourhood)."""
    pairs = []
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        m = (a != b) & (a > 0) & (b > 0)
        if m.any():
            pa, pb = a[m], b[m]
            pairs.append(np.stack([np.minimum(pa, pb), np.maximum(pa, pb)], axis=1))
    if not pairs:
        return np.zeros((0, 2), np.int64)
    return np.unique(np.concatenate(pairs).astype(np.int64), axis=0)


#: Most instance pairs whose union is checked by :func:`_merge_fragments` per frame.
_MAX_MERGE_PAIRS = 256


def _instance_bounds(labels: np.ndarray, n: int) -> np.ndarray:
    """(n, 4) int64 grid bounding rectangles ``(row0, col0, row1, col1)`` (ends exclusive).

    Args:
        labels: (h, w) integer grid labels 1..n (0 = none).
        n: Number of labels.
    """
    width = labels.shape[1]
    idx = np.flatnonzero(labels)
    lab = labels.ravel().take(idx)
    order = np.argsort(lab, kind='stable')                  # raster order kept per label
    idx, lab = idx.take(order), lab.take(order)
    starts = np.searchsorted(lab, np.arange(1, n + 1))
    ends = np.searchsorted(lab, np.arange(1, n + 1), side='right')
    rows, cols = np.divmod(idx, width)
    out = np.zeros((n, 4), np.int64)
    present = ends > starts
    if np.any(present):
        s, e = starts[present], ends[present]
        out[present, 0] = rows[s]                           # rows ascend within a label
        out[present, 2] = rows[e - 1] + 1
        out[present, 1] = np.minimum.reduceat(cols, s)
        out[present, 3] = np.maximum.reduceat(cols, s) + 1
    return out


def _merge_fragments(labels: np.ndarray, geo: _Geometry, frame: '_FrameData', grid: _Grid,
                     cfg: BoxEstimatorConfig) -> Tuple[np.ndarray, _Geometry]:
    """Merge instances cut out of one carton back together (greedy, best union first).

    A fragment is an instance whose top face fills less than ``merge_fill_ratio`` of its
    rectangle, or whose rectangle is narrower than ``min_face_width_m``. It merges with a
    touching instance whose plane agrees (normals within ``merge_max_angle_deg``, each centre
    within the other's inlier distance) when their union fills at least ``merge_fill_ratio`` of
    its rectangle and more than either part does. Touching cartons are both rectangular, so
    they are not fragments and are not merged.

    Returns:
        ``(labels, geo)``: relabelled (h, w) int32 grid instances (1..N' consecutive) and their
        geometry (refitted when anything merged; the inputs otherwise).
    """
    frag = geo.ok & ((geo.fill < cfg.merge_fill_ratio)
                     | (geo.sides[:, 1] < cfg.min_face_width_m))
    if not np.any(frag):
        return labels, geo
    cos_max = np.cos(np.deg2rad(cfg.merge_max_angle_deg))
    candidates = []
    for a, b in (_adjacent_pairs(labels) - 1).tolist():
        if not (frag[a] or frag[b]) or not (geo.ok[a] and geo.ok[b]):
            continue
        if float(geo.normal[a] @ geo.normal[b]) < cos_max:
            continue
        zz = max(geo.centre[a][2], geo.centre[b][2])
        thr = cfg.plane_threshold_m + cfg.plane_threshold_per_m2 * zz ** 2
        if abs(geo.normal[a] @ geo.centre[b] + geo.offset[a]) > thr or abs(
                geo.normal[b] @ geo.centre[a] + geo.offset[b]) > thr:
            continue
        candidates.append((min(geo.fill[a], geo.fill[b]), a, b))
    if not candidates:
        return labels, geo
    if len(candidates) > _MAX_MERGE_PAIRS:
        # Bounded time on pathological masks (hundreds of irregular pieces): the pairs with the
        # least rectangular fragment first.
        LOGGER.debug('%d fragment pairs could merge; checking the %d least rectangular',
                     len(candidates), _MAX_MERGE_PAIRS)
        candidates = sorted(candidates)[:_MAX_MERGE_PAIRS]
    bounds = _instance_bounds(labels, len(geo.ok))
    scored = []
    for _, a, b in candidates:
        # The pair's geometry on the grid window around it (the same points in the same order
        # as on the whole grid, so the same fit), not on the whole grid.
        r0, c0 = np.minimum(bounds[a, :2], bounds[b, :2])
        r1, c1 = np.maximum(bounds[a, 2:], bounds[b, 2:])
        win = (slice(r0, r1), slice(c0, c1))
        crop = labels[win]
        pair = ((crop == a + 1) | (crop == b + 1)).astype(np.int32)
        g = _metric_geometry(pair, frame.crop(*win), grid, cfg, 1)
        fill = g.fill[0] if g.ok[0] else 0.0
        if fill >= cfg.merge_fill_ratio and fill > max(geo.fill[a], geo.fill[b]):
            scored.append((fill, a, b))
    if not scored:
        return labels, geo
    n = len(geo.ok)
    target = np.arange(n)
    for fill, a, b in sorted(scored, reverse=True):
        ra, rb = target[a], target[b]
        if ra == rb:
            continue
        target[target == rb] = ra                           # union of fragments, transitively
        LOGGER.debug('merged box instance %d into %d (union fill %.2f)', b + 1, a + 1, fill)
    kept = np.unique(target)
    new_id = np.zeros(n, np.int64)
    new_id[kept] = np.arange(len(kept))
    lut = np.zeros(n + 1, np.int32)
    lut[1:] = new_id[target] + 1
    labels = lut[labels]
    return labels, _metric_geometry(labels, frame, grid, cfg, len(kept))


# ---------------------------------------------------------------------------------------------
# Support plane


def _find_support_plane(fg: np.ndarray, boundary: Optional[np.ndarray], frame: '_FrameData',
                        grid: _Grid, geo: _Geometry,
                        cfg: BoxEstimatorConfig) -> Optional[np.ndarray]:
    """Dominant plane parallel to the box tops in a band of non-box pixels around the boxes.

    The heights of the band's points along the mean top normal are histogrammed (5 mm bins);
    the fullest bin at least ``min_box_height_m`` below the lowest top is refined by a
    least-squares plane on the points within the inlier distance of it. Returns None when too
    few points support it or its normal is more than ``support_max_angle_deg`` off the mean top
    normal.
    """
    if not np.any(geo.ok):
        return None
    k = 2 * max(1, -(-cfg.support_band_px // grid.stride)) + 1
    # 0/1 uint8 images: dilated - fg is the band (fg lies inside its dilation); subtracting the
    # boundary clears its pixels (saturating at 0). OpenCV: one call per step.
    fg_u8 = fg.view(np.uint8)
    band = cv2.subtract(cv2.dilate(fg_u8, np.ones((k, k), np.uint8)), fg_u8)
    band = cv2.bitwise_and(band, frame.valid.view(np.uint8), dst=band)
    if boundary is not None:
        band = cv2.subtract(band, np.ascontiguousarray(boundary).view(np.uint8), dst=band)
    idx = np.flatnonzero(band.view(bool))                  # 0/1: bool nonzero is the faster
    if len(idx) < cfg.min_valid_pixels:
        return None
    if len(idx) > 4096:                                     # plenty for one plane
        idx = idx[::len(idx) // 2048]
    # Coordinates as separate 1-D arrays: NumPy reduces those quickly, an (N, 3) array over its
    # first axis slowly, and a BLAS (3, N) x (N, 3) product may wake idle BLAS threads.
    z = frame.take_z(idx).astype(np.float64)
    x = frame.rx.take(idx) * z
    y = frame.ry.take(idx) * z
    w = np.maximum(geo.pixel_count[geo.ok], 1.0)
    mean_n = (geo.normal[geo.ok] * w[:, None]).sum(axis=0)
    mean_n /= np.linalg.norm(mean_n)
    h = x * mean_n[0] + y * mean_n[1] + z * mean_n[2]
    top = float((geo.centre[geo.ok] @ mean_n).min())
    below = h < top - cfg.min_box_height_m
    if np.count_nonzero(below) < cfg.min_valid_pixels:
        return None
    hb = h[below]
    bins = ((top - hb) / 0.005).astype(np.int64)            # 5 mm bins below the lowest top
    level = top - (np.argmax(np.bincount(bins)) + 0.5) * 0.005
    zl = float(z[below].mean())                             # sets the threshold's range term
    thr = cfg.plane_threshold_m + cfg.plane_threshold_per_m2 * zl ** 2
    sel = below & (np.abs(h - level) < thr)
    if np.count_nonzero(sel) < cfg.min_valid_pixels:
        return None
    px, py, pz = x[sel], y[sel], z[sel]
    mu = np.array([px.mean(), py.mean(), pz.mean()])
    qx, qy, qz = px - mu[0], py - mu[1], pz - mu[2]
    cov = np.array([[qx @ qx, qx @ qy, qx @ qz], [0.0, qy @ qy, qy @ qz], [0.0, 0.0, qz @ qz]])
    _, vecs = np.linalg.eigh(cov, UPLO='U')
    nrm = vecs[:, 0]
    if nrm @ mu > 0:
        nrm = -nrm
    if float(nrm @ mean_n) < np.cos(np.deg2rad(cfg.support_max_angle_deg)):
        LOGGER.debug('support plane candidate rejected: %.1f deg off the box tops',
                     np.degrees(np.arccos(np.clip(nrm @ mean_n, -1.0, 1.0))))
        return None
    return np.array([nrm[0], nrm[1], nrm[2], -float(nrm @ mu)])


# ---------------------------------------------------------------------------------------------
# Public entry point


_DEFAULT_CONFIG = BoxEstimatorConfig()


def estimate_boxes(mask: np.ndarray, depth: Optional[np.ndarray] = None,
                   camera: Optional[CameraModel] = None, color: Optional[np.ndarray] = None,
                   config: Optional[BoxEstimatorConfig] = None) -> BoxEstimationResult:
    """Detect boxes (cartons) in a segmentation mask and estimate their poses and sizes.

    Args:
        mask: (H, W) integer class ids (box classes from ``config.box_class_ids``; boundary
            classes, ``config.boundary_class_ids``, separate touching boxes) or bool (True =
            box).
        depth: (H, W) depth registered to the mask, z along the optical axis: uint16
            millimetres (0 = invalid) or float32/float64 metres (NaN, inf or <= 0 = invalid).
            None: 2D rectangles only, or a metric pose on ``config.working_plane``.
        camera: Intrinsics of the image; required with ``depth`` or a working plane. A model
            for another resolution with the same aspect ratio is scaled to (W, H).
        color: Optional (H, W, 3) uint8 image (RGB or BGR) or (H, W) uint8 grey image registered
            to the mask, for the thin-dark-line cue between touching boxes.
        config: Options; defaults to :class:`BoxEstimatorConfig`.

    Returns:
        The boxes, the (H, W) int32 instance label image and the support plane used.

    Raises:
        ValueError: On inputs of the wrong shape or dtype, float depth that looks like
            millimetres, a depth or working plane without a camera, or a camera whose aspect
            ratio differs from the image's.
        TypeError: If ``camera`` is not a :class:`CameraModel` or ``config`` not a
            :class:`BoxEstimatorConfig`.
    """
    if config is not None and not isinstance(config, BoxEstimatorConfig):
        raise TypeError(f'config must be a BoxEstimatorConfig (or None for the defaults), got '
                        f'{type(config).__name__}; build one: BoxEstimatorConfig(**options)')
    if camera is not None and not isinstance(camera, CameraModel):
        raise TypeError(f'camera must be a CameraModel (or None), got {type(camera).__name__}; '
                        'build one: CameraModel(K=..., D=..., width=..., height=...) or '
                        'CameraModel.pinhole(fx, fy, cx, cy, width, height)')
    cfg = _DEFAULT_CONFIG if config is None else config
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f'mask must be (H, W) class ids or bool, got shape {m.shape}')
    if m.dtype == bool:
        fg = m
    elif np.issubdtype(m.dtype, np.integer):
        # The boundary class is a band just inside each top-face outline (enet-ros synth labels):
        # its pixels belong to the box tops (else every box comes out a band narrower) and they
        # also separate touching boxes (the cut below).
        fg = _isin(m, cfg.box_class_ids + cfg.boundary_class_ids)
    else:
        raise ValueError(f'mask must hold integer class ids or bool, got dtype {m.dtype}; '
                         'pass the argmax of the logits, not the scores')
    height, width = fg.shape
    if depth is not None and camera is None:
        raise ValueError('a camera model is needed to turn depth into a pose: pass camera')
    if cfg.working_plane is not None and camera is None:
        raise ValueError('config.working_plane needs a camera model: pass camera')
    if depth is not None:
        _check_depth(depth, (height, width))
    # An empty (0 x 0) mask has no boxes, with or without a camera (which cannot be scaled to it).
    cam = camera if height == 0 or width == 0 else camera_for_image(camera, width, height)
    color = _check_color(color, (height, width))            # checked even when unused
    if not cfg.use_color_edges:
        color = None
    labels_full = np.zeros((height, width), np.int32) if cfg.label_image else None
    support = _plane_array(cfg.support_plane)
    fg = np.ascontiguousarray(fg)
    x0, y0, bw, bh = cv2.boundingRect(fg.view(np.uint8))
    if bw == 0 or bh == 0:
        return BoxEstimationResult([], labels_full, support, cam)

    # The work grid: the boxes' bounding rectangle plus the support band and filter margins,
    # sampled every fit_stride pixels. Only the region is looked at from here on.
    s = cfg.fit_stride
    margin = cfg.support_band_px + cfg.depth_step_window_px + cfg.color_line_kernel_px
    grid = _Grid(cam, max(0, x0 - margin), max(0, y0 - margin), min(width, x0 + bw + margin),
                 min(height, y0 + bh + margin), s)
    fg_roi = fg[grid.roi]
    fg_g = grid.take(fg)
    cut = None
    boundary_g = None
    if m.dtype != bool and cfg.boundary_class_ids:
        boundary = _isin(m[grid.roi], cfg.boundary_class_ids)
        if boundary.any():
            boundary_g = max_pool(boundary, s)
            cut = boundary_g
    if color is not None and boundary_g is None:
        # Colour lines are the fallback cue for masks without the boundary class (a plain box
        # mask): where the model draws boundaries, printing and tape on the cartons would only
        # over-split them.
        lines = max_pool(color_line_cut(_to_gray(color[grid.roi]), cfg.color_line_kernel_px,
                                        cfg.color_line_threshold), s)
        cut = lines if cut is None else cut | lines
    frame = _FrameData(grid, None if depth is None else grid.take(np.asarray(depth)))
    labels, sizes = segment_instances(
        fg_g, cut=cut, depth_m=frame.z,
        depth_step_window_px=max(3, (cfg.depth_step_window_px // s) | 1),
        depth_step_ratio=cfg.depth_step_ratio, depth_step_min_m=cfg.depth_step_min_m,
        depth_step_per_m2=cfg.depth_step_per_m2,
        min_seed_pixels=-(-cfg.min_seed_pixels // (s * s)),
        max_grow_px=-(-cfg.max_grow_px // s), min_pixels=-(-cfg.min_pixels // (s * s)))
    n = len(sizes)
    if n == 0:
        return BoxEstimationResult([], labels_full, support, cam)

    if depth is not None:
        geo = _metric_geometry(labels, frame, grid, cfg, n, sizes)
        labels, geo = _merge_fragments(labels, geo, frame, grid, cfg)
        if support is None and cfg.find_support_plane:
            support = _find_support_plane(fg_g, boundary_g, frame, grid, geo, cfg)
    else:
        geo = _empty_geometry(sizes * float(s * s))
    missing = np.flatnonzero(~geo.ok)
    if cfg.working_plane is not None and len(missing):
        _plane_geometry(labels, geo, _plane_array(cfg.working_plane), frame, grid, cfg, missing)
    _image_rectangles(labels, geo, frame, grid, np.flatnonzero(~geo.ok))
    if labels_full is not None:
        _upsample_labels(labels, fg_roi, s, labels_full[grid.roi])
    return BoxEstimationResult(_build_boxes(geo, support), labels_full, support, cam)


def _upsample_labels(labels: np.ndarray, fg: np.ndarray, stride: int, out: np.ndarray) -> None:
    """Full-resolution labels of the box pixels from grid labels.

    Each grid label covers its ``stride`` x ``stride`` cell; an unlabelled cell (its corner
    sample is not a box pixel, though other pixels of the cell may be) first takes the largest
    label among its 8 neighbouring cells, so box pixels along the outlines are labelled as well;
    the non-box pixels are then cleared.

    Args:
        labels: (h, w) integer grid labels (< 65535).
        fg: (H, W) bool box pixels of the region (H <= h * stride, W <= w * stride).
        stride: Grid step, pixels.
        out: (H, W) int32 array of zeros that receives the labels of the box pixels.
    """
    lab = np.ascontiguousarray(labels, dtype=np.uint16)
    if stride > 1:
        # One ring grown into every unlabelled cell: cells without box pixels are cleared below.
        # OpenCV throughout (fewer full-size passes than np.where): copyTo keeps the labelled
        # cells' own labels over the dilation's maxima.
        grown = cv2.dilate(lab, _SQUARE_KERNEL)
        if lab.shape[1] > 1:
            cv2.copyTo(lab, cv2.compare(lab, 0, cv2.CMP_NE), grown)
        else:                           # OpenCV reads an (n, 1) array with n <= 4 as a scalar
            grown = np.where(lab == 0, grown, lab)
        lab = cv2.resize(grown.astype(np.int32), (lab.shape[1] * stride, lab.shape[0] * stride),
                         interpolation=cv2.INTER_NEAREST)[:fg.shape[0], :fg.shape[1]]
    else:
        lab = lab.astype(np.int32)
    # Box pixels only (``out`` is zero elsewhere).
    cv2.copyTo(lab, fg.view(np.uint8), out)


_SQUARE_KERNEL = np.ones((3, 3), np.uint8)


def _plane_array(plane: Optional[Plane]) -> Optional[np.ndarray]:
    """(4,) float64 plane oriented with the camera on its positive side (d >= 0), or None."""
    if plane is None:
        return None
    p = np.asarray(plane, dtype=np.float64)
    return -p if p[3] < 0 else p


def _build_boxes(geo: _Geometry, support: Optional[np.ndarray]) -> List[BoxEstimate]:
    """Assemble :class:`BoxEstimate` objects (arrays are rows of fresh per-call arrays)."""
    n = len(geo.ok)
    ok = geo.ok
    all_ok = bool(ok.all())
    size = np.empty((n, 3))
    if all_ok:                          # the usual case with depth: no boolean indexing
        rot = np.empty((n, 3, 3))
        rot[:, :, 0] = geo.x_axis
        rot[:, :, 2] = geo.normal
        rot[:, :, 1] = cross(geo.normal, geo.x_axis)
        quats = matrix_to_quaternion(rot)
        size[:, :2] = geo.sides
        normal, centre = geo.normal, geo.centre
    else:
        rot = np.zeros((n, 3, 3))
        rot[ok, :, 0] = geo.x_axis[ok]
        rot[ok, :, 2] = geo.normal[ok]
        rot[ok, :, 1] = cross(geo.normal[ok], geo.x_axis[ok])
        quats = np.full((n, 4), np.nan)
        if np.any(ok):
            quats[ok] = matrix_to_quaternion(rot[ok])
        size[:, :2] = np.nan
        size[ok, :2] = geo.sides[ok]
        normal = np.where(ok[:, None], geo.normal, np.nan)
        centre = np.where(ok[:, None], geo.centre, np.nan)
    size[:, 2] = np.nan
    if support is not None:
        h = geo.centre @ support[:3] + support[3]
        size[:, 2] = np.where(ok & (h > 0), h, np.nan)
    inlier = np.where(np.isfinite(geo.inlier_ratio), geo.inlier_ratio, 1.0)
    score = np.clip(np.where(ok, geo.fill * inlier, geo.fill), 0.0, 1.0).tolist()
    corners = geo.corners_px.astype(np.float32)
    pixels = geo.pixel_count.astype(np.int64).tolist()
    valid = geo.valid_ratio.astype(np.float64).tolist()
    ratio = geo.inlier_ratio.astype(np.float64).tolist()
    rms = geo.rms.astype(np.float64).tolist()
    return [BoxEstimate(instance_id=b + 1, pixel_count=pixels[b], valid_depth_ratio=valid[b],
                        corners_px=corners[b], position_m=centre[b], quaternion_xyzw=quats[b],
                        normal=normal[b], size_m=size[b], score=score[b], inlier_ratio=ratio[b],
                        plane_rms_m=rms[b]) for b in range(n)]
