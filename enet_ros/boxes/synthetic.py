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

"""Ray-cast scenes of cuboid boxes on a floor with exact ground truth (tests and benchmarks).

The renderer is deliberately independent of the estimator: pixel rays come from its own
fixed-point inversion of the OpenCV distortion model (not ``cv2.undistortPoints``), boxes are
intersected with the slab method, and depth noise follows a stereo (RealSense-like) model whose
standard deviation grows with the squared range.

Frames and units: camera optical frame (REP 103: x right, y down, z forward), metres. A box pose
follows :mod:`enet_ros.boxes.estimator`: origin at the top-face centre, z out of the top face
(towards the camera), x along the long edge; the box occupies ``[-L/2, L/2] x [-W/2, W/2] x
[-H, 0]`` in its own frame.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

import cv2
from enet_ros.boxes.camera import CameraModel
import numpy as np


@dataclasses.dataclass
class SyntheticBox:
    """A cuboid box in the camera optical frame.

    Attributes:
        centre_m: (3,) top-face centre, metres.
        rotation: (3, 3) rotation, columns = box x (long edge), y, z (top normal) axes.
        size_m: (3,) length, width, height, metres (length >= width).
    """

    centre_m: np.ndarray
    rotation: np.ndarray
    size_m: np.ndarray


@dataclasses.dataclass
class SyntheticScene:
    """Rendered images and ground truth.

    Attributes:
        camera: The camera model.
        boxes: The boxes rendered (instance id i + 1 is ``boxes[i]``).
        depth_m: (H, W) float32 noise-free depth along the optical axis, metres (NaN: no hit).
        instance: (H, W) int32 id of the box seen (any face), 0 = floor or nothing.
        top: (H, W) bool, True where a top face is seen.
        mask: (H, W) uint8 class ids: 0 background, 1 box, 2 box_boundary (when rendered).
        color: (H, W, 3) uint8 RGB image.
        floor: (4,) floor plane ``(a, b, c, d)`` or None.
    """

    camera: CameraModel
    boxes: List[SyntheticBox]
    depth_m: np.ndarray
    instance: np.ndarray
    top: np.ndarray
    mask: np.ndarray
    color: np.ndarray
    floor: Optional[np.ndarray]


def look_down_rotation(tilt_x_deg: float = 0.0, tilt_y_deg: float = 0.0) -> np.ndarray:
    """Rotation of a horizontal surface seen by a camera looking (nearly) straight down.

    Args:
        tilt_x_deg: Camera tilt about its x axis, degrees.
        tilt_y_deg: Camera tilt about its y axis, degrees.

    Returns:
        (3, 3) rotation whose z column is the surface's up normal in the camera frame
        (``(0, 0, -1)`` without tilt) and whose x column is the camera x axis without tilt.
    """
    base = np.diag([1.0, -1.0, -1.0])    # x right, y up in the image, z towards the camera
    return _rot_x(np.deg2rad(tilt_x_deg)) @ _rot_y(np.deg2rad(tilt_y_deg)) @ base


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=np.float64)


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float64)


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64)


def make_box(surface: np.ndarray, origin_m: Sequence[float], xy_m: Sequence[float],
             yaw_deg: float, size_m: Sequence[float]) -> SyntheticBox:
    """Make a box standing on a surface.

    Args:
        surface: (3, 3) rotation of the surface frame (z up, towards the camera), e.g. from
            :func:`look_down_rotation`.
        origin_m: (3,) a point of the surface in the camera frame, metres.
        xy_m: (2,) position of the box's footprint centre in the surface frame, metres.
        yaw_deg: Rotation of the box about the surface normal, degrees.
        size_m: (3,) length, width, height, metres.

    Returns:
        The box (its top face ``height`` above the surface).
    """
    size = np.asarray(size_m, dtype=np.float64)
    rot = surface @ _rot_z(np.deg2rad(yaw_deg))
    local = np.array([xy_m[0], xy_m[1], size[2]])
    centre = np.asarray(origin_m, dtype=np.float64) + surface @ local
    return SyntheticBox(centre_m=centre, rotation=rot, size_m=size)


def distort_normalised(xy: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Distort normalised coordinates (OpenCV plumb_bob / rational_polynomial model).

    Args:
        xy: (N, 2) undistorted normalised coordinates.
        d: (K,) coefficients k1, k2, p1, p2[, k3[, k4, k5, k6]].

    Returns:
        (N, 2) distorted normalised coordinates.
    """
    c = np.zeros(8)
    c[:min(8, len(d))] = np.asarray(d, dtype=np.float64)[:8]
    k1, k2, p1, p2, k3, k4, k5, k6 = c
    x, y = xy[:, 0], xy[:, 1]
    r2 = x * x + y * y
    radial = (1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3) / (1 + k4 * r2 + k5 * r2 ** 2
                                                            + k6 * r2 ** 3)
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], axis=1)


def pixel_rays_reference(camera: CameraModel, iterations: int = 200) -> np.ndarray:
    """Undistorted normalised rays of every pixel by plain fixed-point iteration.

    Args:
        camera: The camera.
        iterations: Fixed-point iterations (converges for moderate distortion).

    Returns:
        (H, W, 2) float64 ``(x / z, y / z)`` per pixel.
    """
    u, v = np.meshgrid(np.arange(camera.width, dtype=np.float64),
                       np.arange(camera.height, dtype=np.float64))
    k = camera.K
    yd = (v.ravel() - k[1, 2]) / k[1, 1]
    xd = (u.ravel() - k[0, 2] - k[0, 1] * yd) / k[0, 0]
    target = np.stack([xd, yd], axis=1)
    xy = target.copy()
    if camera.has_distortion:
        for _ in range(iterations):
            xy = xy + (target - distort_normalised(xy, camera.D))
    return xy.reshape(camera.height, camera.width, 2)


def render_scene(camera: CameraModel, boxes: Sequence[SyntheticBox],
                 floor: Optional[Sequence[float]] = None, boundary_px: int = 0,
                 rim_m: float = 0.004, seed: int = 0) -> SyntheticScene:
    """Ray-cast boxes (and a floor plane) into depth, instance, class and colour images.

    Args:
        camera: The camera.
        boxes: Boxes to render.
        floor: Floor plane ``(a, b, c, d)`` (camera frame, ``a x + b y + c z + d = 0``) or None.
        boundary_px: Width of the ``box_boundary`` class (2) drawn along the outline of every
            box in ``mask``, pixels; 0 = none.
        rim_m: Width of the darker rim along the top edges of each box in ``color`` (the shading
            seen at carton edges), metres; 0 = none.
        seed: Seed of the colour texture.

    Returns:
        The scene (noise-free; see :func:`realsense_depth`).
    """
    rng = np.random.default_rng(seed)
    h, w = camera.height, camera.width
    rays = pixel_rays_reference(camera).reshape(-1, 2)
    dirs = np.concatenate([rays, np.ones((rays.shape[0], 1))], axis=1)   # z component 1
    depth = np.full(h * w, np.inf)
    inst = np.zeros(h * w, np.int32)
    top = np.zeros(h * w, bool)
    rim = np.zeros(h * w, bool)
    if floor is not None:
        fl = np.asarray(floor, dtype=np.float64)
        with np.errstate(divide='ignore', invalid='ignore'):
            t = -fl[3] / (dirs @ fl[:3])
        hit = np.isfinite(t) & (t > 0)
        depth[hit] = t[hit]
    for i, box in enumerate(boxes):
        sel = _pixels_near_box(camera, box)
        if sel.size == 0:
            continue
        r_t = box.rotation.T
        o = r_t @ (-box.centre_m)                           # camera centre in the box frame
        dl = dirs[sel] @ r_t.T                              # ray directions in the box frame
        half = 0.5 * box.size_m
        lo = np.array([-half[0], -half[1], -box.size_m[2]])
        hi = np.array([half[0], half[1], 0.0])
        with np.errstate(divide='ignore', invalid='ignore'):
            t1 = (lo - o) / dl
            t2 = (hi - o) / dl
        tmin = np.where(np.isnan(t1), -np.inf, np.minimum(t1, t2))
        tmax = np.where(np.isnan(t1), np.inf, np.maximum(t1, t2))
        t_near = tmin.max(axis=1)
        axis = tmin.argmax(axis=1)
        t_far = tmax.min(axis=1)
        hit = (t_near <= t_far) & (t_far > 0) & (t_near > 0)
        closer = hit & (t_near < depth[sel])
        idx = sel[closer]
        depth[idx] = t_near[closer]
        inst[idx] = i + 1
        is_top = (axis[closer] == 2) & (o[2] > 0)
        top[idx] = is_top
        p = o + dl[closer] * t_near[closer, None]
        edge = np.minimum(half[0] - np.abs(p[:, 0]), half[1] - np.abs(p[:, 1]))
        rim[idx] = is_top & (edge < rim_m)
    depth = np.where(np.isfinite(depth), depth, np.nan).astype(np.float32).reshape(h, w)
    inst = inst.reshape(h, w)
    top = top.reshape(h, w)
    mask = (inst > 0).astype(np.uint8)
    if boundary_px > 0:
        edges = np.zeros((h, w), bool)
        edges[:, 1:] |= inst[:, 1:] != inst[:, :-1]
        edges[:, :-1] |= inst[:, 1:] != inst[:, :-1]
        edges[1:, :] |= inst[1:, :] != inst[:-1, :]
        edges[:-1, :] |= inst[1:, :] != inst[:-1, :]
        k = max(1, boundary_px - 1)
        edges = cv2.dilate(edges.astype(np.uint8), np.ones((k, k), np.uint8)) > 0
        mask[edges & (inst > 0)] = 2
    color = _shade(inst, top, rim.reshape(h, w), len(boxes), rng)
    fl_arr = None if floor is None else np.asarray(floor, dtype=np.float64)
    return SyntheticScene(camera=camera, boxes=list(boxes), depth_m=depth, instance=inst,
                          top=top, mask=mask, color=color, floor=fl_arr)


def _pixels_near_box(camera: CameraModel, box: SyntheticBox) -> np.ndarray:
    """Flat indices of the pixels inside the box's projected bounding rectangle (+ margin)."""
    half = 0.5 * box.size_m
    corners = np.array([[sx * half[0], sy * half[1], sz] for sx in (-1, 1) for sy in (-1, 1)
                        for sz in (0.0, -box.size_m[2])])
    pts = corners @ box.rotation.T + box.centre_m
    if np.any(pts[:, 2] <= 0.01):
        u0, v0, u1, v1 = 0, 0, camera.width - 1, camera.height - 1
    else:
        uv = camera.project(pts)
        u0, v0 = np.floor(uv.min(axis=0)).astype(int) - 4
        u1, v1 = np.ceil(uv.max(axis=0)).astype(int) + 4
        u0, v0 = max(u0, 0), max(v0, 0)
        u1, v1 = min(u1, camera.width - 1), min(v1, camera.height - 1)
    if u1 < u0 or v1 < v0:
        return np.zeros(0, np.int64)
    vv, uu = np.mgrid[v0:v1 + 1, u0:u1 + 1]
    return (vv * camera.width + uu).ravel()


def _shade(inst: np.ndarray, top: np.ndarray, rim: np.ndarray, n_boxes: int,
           rng: np.random.Generator) -> np.ndarray:
    """Cardboard-like colours: dark floor, tan tops, darker sides and rims, mild noise."""
    h, w = inst.shape
    albedo = np.clip(rng.normal([185, 150, 110], 8, size=(n_boxes + 1, 3)), 0, 255)
    albedo[0] = [70, 70, 75]
    img = albedo[inst]
    img[(inst > 0) & ~top] *= 0.65
    img[rim] *= 0.55
    img += rng.normal(0, 3.0, size=(h, w, 1))
    return np.clip(img, 0, 255).astype(np.uint8)


def realsense_depth(depth_m: np.ndarray, rng: np.random.Generator,
                    sigma_at_1m: float = 0.0015, correlated: float = 0.8,
                    dropout: float = 0.01, edge_dropout: float = 0.3,
                    as_uint16: bool = True) -> np.ndarray:
    """Add stereo depth noise (RealSense-like) to a noise-free depth image.

    Noise: standard deviation ``sigma_at_1m * z**2`` (metres, z in metres), a fraction
    ``correlated`` of its variance spatially correlated over a few pixels; random holes with
    probability ``dropout``; holes with probability ``edge_dropout`` next to depth discontinuities;
    millimetre quantisation with ``as_uint16``.

    Args:
        depth_m: (H, W) float32 metres, NaN where nothing is seen.
        rng: Random generator.
        sigma_at_1m: Noise standard deviation at 1 m, metres.
        correlated: Fraction of the noise variance that is spatially correlated, [0, 1].
        dropout: Probability of a random hole.
        edge_dropout: Probability of a hole within 1 pixel of a discontinuity > 2 cm.
        as_uint16: Return uint16 millimetres (0 = invalid) instead of float32 metres (NaN).

    Returns:
        (H, W) uint16 millimetres or float32 metres.
    """
    d = depth_m.astype(np.float64)
    valid = np.isfinite(d)
    white = rng.standard_normal(d.shape)
    smooth = cv2.GaussianBlur(rng.standard_normal(d.shape), (0, 0), 3.0)
    smooth /= max(float(smooth.std()), 1e-12)
    noise = np.sqrt(1 - correlated) * white + np.sqrt(correlated) * smooth
    z = np.where(valid, d, 0.0)
    out = z + sigma_at_1m * z * z * noise
    holes = rng.random(d.shape) < dropout
    zf = np.where(valid, d, 0.0).astype(np.float32)
    span = cv2.dilate(zf, np.ones((3, 3), np.uint8)) - cv2.erode(
        np.where(valid, zf, np.float32(1e6)).astype(np.float32), np.ones((3, 3), np.uint8))
    holes |= (span > 0.02) & (rng.random(d.shape) < edge_dropout)
    ok = valid & ~holes & (out > 0)
    if as_uint16:
        return np.where(ok, np.round(out * 1000.0), 0).astype(np.uint16)
    return np.where(ok, out, np.nan).astype(np.float32)


def pallet_scene(camera: CameraModel, rows: int = 4, cols: int = 5, distance_m: float = 1.4,
                 size_m: Tuple[float, float, float] = (0.255, 0.155, 0.1),
                 gap_m: float = 0.004, tilt_deg: Tuple[float, float] = (4.0, -3.0),
                 yaw_jitter_deg: float = 3.0, seed: int = 0,
                 heights_jitter_m: float = 0.0) -> Tuple[List[SyntheticBox], np.ndarray]:
    """Make a grid of boxes on a floor below a camera looking down (like a pallet layer).

    Args:
        camera: The camera (the grid is centred on its optical axis).
        rows: Rows of boxes.
        cols: Columns of boxes.
        distance_m: Distance from the camera to the floor along the optical axis, metres.
        size_m: Box length, width, height, metres.
        gap_m: Gap between neighbouring boxes, metres (0 = touching).
        tilt_deg: Camera tilt about its x and y axes, degrees.
        yaw_jitter_deg: Uniform random yaw of each box in +-this, degrees.
        seed: Random seed.
        heights_jitter_m: Uniform random extra height per box in +-this, metres.

    Returns:
        ``(boxes, floor)``: the boxes and the floor plane ``(a, b, c, d)``.
    """
    rng = np.random.default_rng(seed)
    surface = look_down_rotation(*tilt_deg)
    origin = np.array([0.0, 0.0, distance_m])
    normal = surface[:, 2]
    floor = np.concatenate([normal, [-float(normal @ origin)]])
    boxes = []
    pitch_x, pitch_y = size_m[0] + gap_m, size_m[1] + gap_m
    for r in range(rows):
        for c in range(cols):
            xy = ((c - (cols - 1) / 2) * pitch_x, (r - (rows - 1) / 2) * pitch_y)
            size = (size_m[0], size_m[1], size_m[2] + rng.uniform(-1, 1) * heights_jitter_m)
            yaw = rng.uniform(-1, 1) * yaw_jitter_deg
            boxes.append(make_box(surface, origin, xy, yaw, size))
    return boxes, floor
