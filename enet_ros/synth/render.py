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

"""Analytic ray casting of cuboids, vertical cylinders and the floor, with shading and labels.

Why not a GL renderer: no headless OpenGL (EGL/OSMesa) is available on the CI machines, and the
scenes are made of cuboids, for which a vectorised slab test is exact, fast and bit-for-bit
deterministic. For each object the rays of the pixels inside its projected bounding box are
intersected with it (NumPy, float32) and a z-buffer keeps the nearest hit; one ray per pixel
through the pixel centre (OpenCV convention: pixel (u, v) centre at column u, row v).

Shadows come from a shadow map (the same ray caster, orthographic from the key light), softened
in image space; crevices between cartons are darkened by a screen-space ambient occlusion term.

Face indices of a cuboid (local frame): 0 -x, 1 +x, 2 -y, 3 +y, 4 -z, 5 +z (top). A cylinder
reports 0 for its mantle and 5 for its top cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
import math
import time
from typing import Dict, List, Optional, Tuple

import cv2
from enet_ros.synth import noise
from enet_ros.synth.scene import Cuboid, Cylinder, Scene
from enet_ros.synth.textures import floor_texture, make_texture, srgb_to_linear, Texture
from enet_ros.synth.textures import texture_seed
import numpy as np

LOG = logging.getLogger(__name__)

FACE_TOP = 5
INF = np.float32(np.inf)


# Products of many 3-vectors with a small matrix are written out per component: a BLAS call
# for an (n, 3) x (3, 3) product is multi-threaded and stalls badly on a busy 2-core machine.
def dot3(a: np.ndarray, v) -> np.ndarray:
    """Return ``a @ v`` for ``a`` (n, 3) float32 and a 3-vector ``v``, as (n,) float32."""
    v = np.asarray(v, np.float32)
    return a[:, 0] * v[0] + a[:, 1] * v[1] + a[:, 2] * v[2]


def mat3(a: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Return ``a @ m`` for ``a`` (n, 3) float32 and ``m`` (3, k), as (n, k) float32."""
    m = np.asarray(m, np.float32)
    return np.stack([dot3(a, m[:, j]) for j in range(m.shape[1])], axis=1)


@dataclass
class Hits:
    """Nearest intersections of one ray per pixel.

    Attributes:
        t: (H, W) float32 ray parameter; for a pinhole view it is the depth z in the camera
            optical frame in metres. ``inf`` where nothing was hit.
        obj: (H, W) int32: -1 nothing, 0 the floor, k >= 1 ``objects[k - 1]``.
        face: (H, W) int8 face index of the hit (see module docstring).
        self_top: (n_objects + 1,) int64: per object, pixels whose ray hits its top face when
            other objects are ignored (only computed for cartons; index 0 unused).
    """

    t: np.ndarray
    obj: np.ndarray
    face: np.ndarray
    self_top: np.ndarray


class PinholeRays:
    """Rays of a pinhole camera (no distortion) in the world frame.

    Args:
        K: (3, 3) camera matrix, pixels.
        width: Image width, pixels.
        height: Image height, pixels.
        R_wc: (3, 3) ``R_world_camera`` (optical frame, REP 103).
        t_wc: (3,) camera position in the world frame, metres.
    """

    def __init__(self, K: np.ndarray, width: int, height: int, R_wc: np.ndarray,
                 t_wc: np.ndarray):
        """Precompute the world-frame direction of every pixel's ray."""
        self.K = np.asarray(K, float)
        self.shape = (int(height), int(width))
        self.R = np.asarray(R_wc, float)
        self.t = np.asarray(t_wc, float)
        fx, fy, cx, cy = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2]
        xs = ((np.arange(width) - cx) / fx).astype(np.float32)[None, :]
        ys = ((np.arange(height) - cy) / fy).astype(np.float32)[:, None]
        Rf = self.R.astype(np.float32)
        # Camera-frame direction (x', y', 1): its z is 1, so the ray parameter t is depth z.
        self.dir_comp = [xs * Rf[i, 0] + ys * Rf[i, 1] + Rf[i, 2] for i in range(3)]
        self.dirs_all = np.stack(self.dir_comp, axis=-1)
        self.origin_all = self.t.astype(np.float32)

    def window(self, points: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
        """Pixel rectangle (r0, r1, c0, c1) covering the projection of ``points`` (n, 3) world."""
        pc = (np.asarray(points, float) - self.t) @ self.R
        h, w = self.shape
        if np.all(pc[:, 2] <= 1e-3):
            return None
        if np.any(pc[:, 2] <= 1e-3):
            return 0, h, 0, w
        u = self.K[0, 0] * pc[:, 0] / pc[:, 2] + self.K[0, 2]
        v = self.K[1, 1] * pc[:, 1] / pc[:, 2] + self.K[1, 2]
        c0, c1 = max(0, int(math.floor(u.min()))), min(w, int(math.ceil(u.max())) + 1)
        r0, r1 = max(0, int(math.floor(v.min()))), min(h, int(math.ceil(v.max())) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        return r0, r1, c0, c1

    def local_rays(self, win: Tuple[int, int, int, int], R: np.ndarray, c: np.ndarray
                   ) -> Tuple[List, List]:
        """Ray origins and directions of the pixels in ``win`` in an object frame (R, c).

        Returns:
            Two lists of three float32 components each (scalars or (h, w) arrays) in the frame
            whose rotation and origin in the world frame are ``R`` (3, 3) and ``c`` (3,).
        """
        r0, r1, c0, c1 = win
        o = (self.t - np.asarray(c, float)) @ R
        d = [x[r0:r1, c0:c1] for x in self.dir_comp]
        Rf = R.astype(np.float32)
        db = [d[0] * Rf[0, i] + d[1] * Rf[1, i] + d[2] * Rf[2, i] for i in range(3)]
        return [np.float32(v) for v in o], db


class OrthoRays:
    """Parallel rays along ``-direction`` (from a directional light), covering ``points``.

    Args:
        direction: (3,) unit vector towards the light, world frame.
        points: (n, 3) world points that must be covered, metres.
        max_px: Largest side of the map, pixels.
        min_texel: Smallest texel, metres.
    """

    def __init__(self, direction: np.ndarray, points: np.ndarray, max_px: int = 512,
                 min_texel: float = 0.002):
        """Choose the map axes, extent and resolution."""
        L = np.asarray(direction, float)
        self.L = L / np.linalg.norm(L)
        helper = np.array([0.0, 0.0, 1.0]) if abs(self.L[2]) < 0.9 else np.array([1.0, 0, 0])
        e1 = np.cross(self.L, helper)
        self.e1 = e1 / np.linalg.norm(e1)
        self.e2 = np.cross(self.L, self.e1)
        a, b, hgt = points @ self.e1, points @ self.e2, points @ self.L
        self.a0, self.b0 = a.min() - 0.05, b.min() - 0.05
        span = max(a.max() - self.a0, b.max() - self.b0) + 0.05
        self.res = max(min_texel, span / max_px)
        width = int(math.ceil((a.max() + 0.05 - self.a0) / self.res)) + 1
        height = int(math.ceil((b.max() + 0.05 - self.b0) / self.res)) + 1
        self.shape = (height, width)
        self.h_top = float(hgt.max() + 0.1)
        self.basis = np.stack([self.e1, self.e2, self.L], axis=1).astype(np.float32)

    def grid(self, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return map columns, rows (fractional) and height along the light of ``points``."""
        q = mat3(np.asarray(points, np.float32), self.basis)
        return ((q[:, 0] - np.float32(self.a0)) / np.float32(self.res),
                (q[:, 1] - np.float32(self.b0)) / np.float32(self.res), q[:, 2])

    def window(self, points: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
        """Map rectangle (r0, r1, c0, c1) covering ``points`` (n, 3)."""
        c, r, _ = self.grid(points)
        h, w = self.shape
        c0, c1 = max(0, int(math.floor(c.min()))), min(w, int(math.ceil(c.max())) + 1)
        r0, r1 = max(0, int(math.floor(r.min()))), min(h, int(math.ceil(r.max())) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        return r0, r1, c0, c1

    def local_rays(self, win: Tuple[int, int, int, int], R: np.ndarray, c: np.ndarray
                   ) -> Tuple[List, List]:
        """Origins ((h, w) arrays) and directions (scalars) in an object frame; see pinhole."""
        r0, r1, c0, c1 = win
        a = (self.a0 + np.arange(c0, c1) * self.res)
        b = (self.b0 + np.arange(r0, r1) * self.res)
        base = (self.h_top * self.L - np.asarray(c, float)) @ R
        ea, eb = self.e1 @ R, self.e2 @ R
        o = [(a[None, :] * ea[i] + b[:, None] * eb[i] + base[i]).astype(np.float32)
             for i in range(3)]
        d = (-self.L) @ R
        return o, [np.float32(v) for v in d]


def intersect_cuboid(half: np.ndarray, o: List, d: List) -> Tuple[np.ndarray, np.ndarray]:
    """Slab test of rays against an axis-aligned box centred at the origin of its frame.

    Args:
        half: (3,) half extents, metres.
        o: Ray origin components [x, y, z] in the box frame (scalars or arrays, float32).
        d: Ray direction components [x, y, z] in the box frame (scalars or arrays, float32).

    Returns:
        t: float32 entry parameter, broadcast shape of the inputs (``inf`` for a miss or a hit
        behind the origin). face: int8 entry face (0 -x, 1 +x, 2 -y, 3 +y, 4 -z, 5 +z).
    """
    tn, tf, neg = [], [], []
    for i in range(3):
        di = np.where(np.abs(d[i]) < 1e-12, np.float32(1e-12), d[i]).astype(np.float32)
        inv = np.float32(1.0) / di
        t1 = (np.float32(-half[i]) - o[i]) * inv
        t2 = (np.float32(half[i]) - o[i]) * inv
        tn.append(np.minimum(t1, t2))
        tf.append(np.maximum(t1, t2))
        neg.append(di < 0)
    t_in = np.maximum(np.maximum(tn[0], tn[1]), tn[2])
    t_out = np.minimum(np.minimum(tf[0], tf[1]), tf[2])
    hit = (t_out >= t_in) & (t_in > 1e-4)
    is0 = (tn[0] >= tn[1]) & (tn[0] >= tn[2])
    is1 = ~is0 & (tn[1] >= tn[2])
    face = np.where(is0, np.where(neg[0], 1, 0),
                    np.where(is1, np.where(neg[1], 3, 2), np.where(neg[2], 5, 4))).astype(np.int8)
    t = np.where(hit, t_in, INF).astype(np.float32)
    return t, np.broadcast_to(face, t.shape)


def intersect_cylinder(obj: Cylinder, o: List, d: List) -> Tuple[np.ndarray, np.ndarray]:
    """Rays against a vertical cylinder (mantle = face 0, top cap = face 5).

    Args:
        obj: The cylinder.
        o: Ray origin components relative to (axis x, axis y, 0) in the world orientation.
        d: Ray direction components (world orientation).

    Returns:
        t and face as for :func:`intersect_cuboid`.
    """
    ox, oy, oz = o
    dx, dy, dz = d
    a = dx * dx + dy * dy
    b = 2.0 * (ox * dx + oy * dy)
    c = ox * ox + oy * oy - np.float32(obj.radius ** 2)
    disc = b * b - 4.0 * a * c
    with np.errstate(invalid='ignore', divide='ignore'):
        ts = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * np.maximum(a, 1e-12))
        zs = oz + ts * dz
        side = (disc >= 0) & (ts > 1e-4) & (zs >= obj.z0) & (zs <= obj.z1)
        tc = (np.float32(obj.z1) - oz) / np.where(np.abs(dz) < 1e-12, np.float32(1e-12), dz)
        px, py = ox + tc * dx, oy + tc * dy
        cap = (tc > 1e-4) & (px * px + py * py <= obj.radius ** 2)
    t_side = np.where(side, ts, INF)
    t_cap = np.where(cap, tc, INF)
    use_cap = t_cap < t_side
    t = np.where(use_cap, t_cap, t_side).astype(np.float32)
    return t, np.where(use_cap, FACE_TOP, 0).astype(np.int8)


def raycast(view, objects: List, floor: bool = True, count_top: bool = False) -> Hits:
    """Nearest hits of a view's rays against ``objects`` (and the floor plane z = 0).

    Args:
        view: :class:`PinholeRays` or :class:`OrthoRays`.
        objects: Cuboids and cylinders.
        floor: Whether to include the floor plane (pinhole views only).
        count_top: Count, per carton, the pixels that see its top face ignoring occluders.

    Returns:
        The z-buffered :class:`Hits`.
    """
    h, w = view.shape
    t = np.full((h, w), INF, np.float32)
    obj = np.full((h, w), -1, np.int32)
    face = np.zeros((h, w), np.int8)
    self_top = np.zeros(len(objects) + 1, np.int64)
    if floor:
        d = view.dirs_all
        oz = float(view.origin_all[2])
        with np.errstate(divide='ignore'):
            tf = np.where(d[..., 2] < -1e-6, -oz / d[..., 2], INF).astype(np.float32)
        tf[tf > 50.0] = INF
        hit = np.isfinite(tf)
        t[hit] = tf[hit]
        obj[hit] = 0
        face[hit] = FACE_TOP
    for k, o in enumerate(objects, start=1):
        win = view.window(o.corners())
        if win is None:
            continue
        r0, r1, c0, c1 = win
        if isinstance(o, Cuboid):
            orig, dirs = view.local_rays(win, o.rotation, o.center)
            tk, fk = intersect_cuboid(0.5 * o.size, orig, dirs)
        else:
            orig, dirs = view.local_rays(win, np.eye(3), (o.center_xy[0], o.center_xy[1], 0.0))
            tk, fk = intersect_cylinder(o, orig, dirs)
        tk = np.broadcast_to(tk, (r1 - r0, c1 - c0))
        fk = np.broadcast_to(fk, (r1 - r0, c1 - c0))
        if count_top and o.kind == 'box':
            self_top[k] = int(np.count_nonzero(np.isfinite(tk) & (fk == FACE_TOP)))
        cur = t[r0:r1, c0:c1]
        closer = tk < cur
        if not closer.any():
            continue
        cur[closer] = tk[closer]
        obj[r0:r1, c0:c1][closer] = k
        face[r0:r1, c0:c1][closer] = fk[closer]
    return Hits(t=t, obj=obj, face=face, self_top=self_top)


def face_uv(local: np.ndarray, face: np.ndarray, half: np.ndarray
            ) -> Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Texture coordinates of cuboid hits, grouped by face group.

    Each face is textured as seen from outside, not mirrored: u runs to the viewer's right and
    v downwards (towards -z on side faces; towards -y on the top face).

    Args:
        local: (n, 3) hit points in the cuboid frame, metres.
        face: (n,) face indices.
        half: (3,) half extents, metres.

    Returns:
        ``{group: (selection (n,) bool, u (m,), v (m,))}`` in metres for groups 'top' (faces 4
        and 5: u = x + hx, v = hy - y), 'side_x' (faces 0, 1: u = +-y + hy, v = hz - z) and
        'side_y' (faces 2, 3: u = -+x + hx, v = hz - z).
    """
    out = {}
    axis = face // 2
    positive = (face % 2) == 1
    x, y, z = local[:, 0], local[:, 1], local[:, 2]
    sel = axis == 2
    if sel.any():
        out['top'] = (sel, x[sel] + half[0], half[1] - y[sel])
    sel = axis == 0
    if sel.any():
        ys = y[sel]
        out['side_x'] = (sel, np.where(positive[sel], ys, -ys) + half[1], half[2] - z[sel])
    sel = axis == 1
    if sel.any():
        xs = x[sel]
        out['side_y'] = (sel, np.where(positive[sel], -xs, xs) + half[0], half[2] - z[sel])
    return out


@dataclass
class Frame:
    """One rendered frame (all images are (H, W) or (H, W, 3), row-major, top-left origin).

    Attributes:
        rgb: uint8 (H, W, 3), RGB order.
        depth_mm: uint16 (H, W) RealSense-like depth in millimetres, 0 = no data.
        depth_m: float32 (H, W) exact depth z (camera optical frame) in metres, 0 = nothing.
        mask: uint8 (H, W) class ids: 0 background, 1 box (top faces), 2 box_boundary, and
            255 for carton side faces when ``side_label == 255``.
        instance: uint16 (H, W) 0 = none, k = top face of carton ``box_id == k``.
        self_top: Per box id (index = id), pixels of the top face without occluders.
        timings: Seconds spent per stage.
    """

    rgb: np.ndarray
    depth_mm: np.ndarray
    depth_m: np.ndarray
    mask: np.ndarray
    instance: np.ndarray
    self_top: Dict[int, int]
    timings: Dict[str, float] = field(default_factory=dict)


def labels_from_hits(hits: Hits, objects: List, boundary_px: int = 2, side_label: int = 0,
                     cut: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Class-id and instance images from the primary hits.

    Args:
        hits: Primary :class:`Hits`.
        objects: The scene's objects (same order as in the ray cast).
        boundary_px: Width in pixels of the box_boundary band inside each top-face outline
            (pixels of instance k within ``boundary_px`` pixels, Chebyshev distance, of a pixel
            that is not instance k; image borders do not count). 0 disables class 2.
        side_label: Class id for carton side faces: 0 (background) or 255 (ignore).
        cut: Optional (H, W) bool of pixels covered by something thin drawn over the scene
            (a cable): they become background.

    Returns:
        mask: (H, W) uint8 class ids. instance: (H, W) uint16 carton ids on top faces.
    """
    lut_id = np.zeros(len(objects) + 2, np.uint16)
    lut_box = np.zeros(len(objects) + 2, bool)
    for k, o in enumerate(objects, start=1):
        if o.kind == 'box':
            lut_id[k + 1] = o.box_id
            lut_box[k + 1] = True
    is_box = lut_box[hits.obj + 1]
    top = is_box & (hits.face == FACE_TOP)
    instance = np.where(top, lut_id[hits.obj + 1], 0).astype(np.uint16)
    mask = np.zeros(instance.shape, np.uint8)
    if side_label:
        mask[is_box & ~top] = side_label
    if cut is not None:
        instance[cut] = 0
        mask[cut] = 0
    mask[instance > 0] = 1
    if boundary_px > 0:
        mask[boundary_band(instance, boundary_px)] = 2
    return mask, instance


def boundary_band(instance: np.ndarray, width_px: int) -> np.ndarray:
    """Pixels of each instance within ``width_px`` px of another label (bool (H, W))."""
    kernel = np.ones((2 * width_px + 1, 2 * width_px + 1), np.uint8)
    er = cv2.erode(instance, kernel)
    di = cv2.dilate(instance, kernel)
    return (instance > 0) & ((er != instance) | (di != instance))


class _Shader:
    """Fills albedo, gloss and world normals per pixel from the objects' textures."""

    def __init__(self, scene: Scene, view: PinholeRays, hits: Hits):
        self.scene = scene
        self.view = view
        self.hits = hits
        h, w = view.shape
        self.n = h * w
        t = np.where(np.isfinite(hits.t), hits.t, 0.0).astype(np.float32)
        self.P = (view.origin_all + view.dirs_all * t[..., None]).reshape(-1, 3)
        self.albedo = np.full((self.n, 3), 0.02, np.float32)
        self.gloss = np.zeros(self.n, np.float32)
        self.normal = np.zeros((self.n, 3), np.float32)
        self.normal[:, 2] = 1.0
        self.cache: Dict[Tuple, Texture] = {}

    def _texture(self, k: int, obj, group: str, u_m: float, v_m: float) -> Texture:
        key = (texture_seed(obj.material), group, round(float(u_m), 5), round(float(v_m), 5))
        if key not in self.cache:
            self.cache[key] = make_texture(obj.material, group, u_m, v_m, self.scene.texel
                                           if obj.kind == 'box' else self.scene.texel * 2.0)
        return self.cache[key]

    def run(self) -> None:
        flat = self.hits.obj.ravel()
        order = np.argsort(flat, kind='stable')
        counts = np.bincount(flat + 1, minlength=len(self.scene.objects) + 2)
        starts = np.concatenate([[0], np.cumsum(counts)])
        face = self.hits.face.ravel()
        for k in range(0, len(self.scene.objects) + 1):
            idx = order[starts[k + 1]:starts[k + 2]]
            if idx.size == 0:
                continue
            if k == 0:
                self._floor(idx)
            else:
                obj = self.scene.objects[k - 1]
                if isinstance(obj, Cuboid):
                    self._cuboid(k, obj, idx, face[idx])
                else:
                    self._cylinder(k, obj, idx, face[idx])

    def _floor(self, idx: np.ndarray) -> None:
        p = self.P[idx]
        x0, y0 = p[:, 0].min() - 0.01, p[:, 1].min() - 0.01
        x1, y1 = p[:, 0].max() + 0.01, p[:, 1].max() + 0.01
        # Cap the extent (grazing views): far floor gets the reflected border texture.
        x1, y1 = min(x1, x0 + 8.0), min(y1, y0 + 8.0)
        tex = floor_texture(self.scene.floor, (float(x0), float(y0), float(x1), float(y1)))
        s = tex.sample(p[:, 0], p[:, 1])
        self.albedo[idx] = s[:, :3]
        self.gloss[idx] = s[:, 3]

    def _cuboid(self, k: int, obj: Cuboid, idx: np.ndarray, face: np.ndarray) -> None:
        R = obj.rotation.astype(np.float32)
        half = (0.5 * obj.size).astype(np.float32)
        local = mat3(self.P[idx] - obj.center.astype(np.float32), R)
        sizes = {'top': (obj.size[0], obj.size[1]), 'side_x': (obj.size[1], obj.size[2]),
                 'side_y': (obj.size[0], obj.size[2])}
        carton = obj.material.kind == 'carton'
        for group, (sel, u, v) in face_uv(local, face, half).items():
            tex = self._texture(k, obj, group, *sizes[group])
            if carton and group == 'top' and obj.material.params['flip']:
                u, v = np.float32(obj.size[0]) - u, np.float32(obj.size[1]) - v  # 180 degrees
            s = tex.sample(u, v)
            sub = idx[sel]
            self.albedo[sub] = s[:, :3]
            self.gloss[sub] = s[:, 3]
        if carton:
            self.albedo[idx] *= 1.0 + np.asarray(obj.material.params['jitter'], np.float32)
        axis = face // 2
        nl = np.zeros((idx.size, 3), np.float32)
        nl[np.arange(idx.size), axis] = np.where(face % 2 == 1, 1.0, -1.0)
        # Rounded edges: tilt the normal outwards within `radius` of a face border.
        radius = float(obj.material.params.get('style', {}).get('round', 0.004))
        if radius > 0:
            for b in range(3):
                dist = half[b] - np.abs(local[:, b])
                wgt = np.clip(np.float32(1.0) - dist / np.float32(radius), 0.0, 1.0)
                wgt[axis == b] = 0.0
                nl[:, b] += np.float32(0.9) * wgt * np.sign(local[:, b])
            nl /= np.sqrt(np.einsum('ij,ij->i', nl, nl))[:, None]
        self.normal[idx] = mat3(nl, R.T)

    def _cylinder(self, k: int, obj: Cylinder, idx: np.ndarray, face: np.ndarray) -> None:
        p = self.P[idx]
        dx = p[:, 0] - np.float32(obj.center_xy[0])
        dy = p[:, 1] - np.float32(obj.center_xy[1])
        top = face == FACE_TOP
        r = obj.radius
        if top.any():
            tex = self._texture(k, obj, 'top', 2 * r, 2 * r)
            s = tex.sample(dx[top] + r, dy[top] + r)
            self.albedo[idx[top]] = s[:, :3]
            self.gloss[idx[top]] = s[:, 3]
        side = ~top
        if side.any():
            tex = self._texture(k, obj, 'side', 2 * math.pi * r, obj.z1 - obj.z0)
            ang = np.arctan2(dy[side], dx[side]) + np.float32(math.pi)
            s = tex.sample(ang * np.float32(r), np.float32(obj.z1) - p[side, 2])
            self.albedo[idx[side]] = s[:, :3]
            self.gloss[idx[side]] = s[:, 3]
            n = np.stack([dx[side], dy[side], np.zeros_like(dx[side])], axis=1)
            self.normal[idx[side]] = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True),
                                                    1e-6)


def _shadow(scene: Scene, P: np.ndarray, normal: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Return 1.0 where a world point is occluded from the key light, else 0.0 ((n,) float32)."""
    L = scene.light.direction
    occluders = scene.objects
    if not occluders:
        return np.zeros(P.shape[0], np.float32)
    pts = np.concatenate([o.corners() for o in occluders])
    view = OrthoRays(L, pts, max_px=512, min_texel=0.002)
    hits = raycast(view, occluders, floor=False)
    h_occ = np.where(np.isfinite(hits.t), np.float32(view.h_top) - hits.t, -INF)
    c, r, hp = view.grid(P)
    ci = np.clip(np.rint(c).astype(np.int32), 0, view.shape[1] - 1)
    ri = np.clip(np.rint(r).astype(np.int32), 0, view.shape[0] - 1)
    inside = (c >= 0) & (c < view.shape[1]) & (r >= 0) & (r < view.shape[0])
    ndl = np.clip(dot3(normal, L), 0.05, 1.0)
    bias = 0.004 + 2.0 * view.res * np.sqrt(1.0 - ndl * ndl) / ndl
    occ = inside & valid & (h_occ[ri, ci] > hp + bias)
    return occ.astype(np.float32)


def _ambient_occlusion(z: np.ndarray, valid: np.ndarray, fx: float, strength: float
                       ) -> np.ndarray:
    """Screen-space AO: darken pixels lying deeper than their neighbourhood ((H, W) float32)."""
    zz = np.where(valid, z, np.float32(np.median(z[valid]) if valid.any() else 1.0))
    zm = float(np.median(zz))
    ao = np.ones_like(zz)
    for size_m, depth_m, wgt in ((0.15, 0.08, 1.0), (0.04, 0.03, 0.6)):
        k = int(max(3, round(size_m * fx / max(zm, 0.1))) | 1)
        zb = cv2.blur(zz, (k, k))
        ao -= strength * wgt * np.clip((zz - zb) / depth_m, 0.0, 1.0)
    return np.clip(ao, 0.15, 1.0)


def _cable_overlay(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Draw a thin dark cable crossing the image; return its pixels, bool (H, W)."""
    m = np.zeros((h, w), np.uint8)
    p0 = rng.uniform([0, 0], [w, h])
    p1 = rng.uniform([0, 0], [w, h])
    ctrl = 0.5 * (p0 + p1) + rng.normal(0, 0.3 * max(h, w), 2)
    s = np.linspace(0, 1, 40)[:, None]
    pts = ((1 - s) ** 2 * p0 + 2 * (1 - s) * s * ctrl + s ** 2 * p1).astype(np.int32)
    cv2.polylines(m, [pts], False, 1, max(1, int(round(w / 640 * rng.uniform(2, 6)))))
    return m.astype(bool)


def render_scene(scene: Scene, rng: np.random.Generator, boundary_px: int = 2,
                 side_label: int = 0) -> Frame:
    """Render colour, depth and labels of ``scene``.

    Args:
        scene: The scene (see :func:`enet_ros.synth.scene.sample_scene`).
        rng: Generator for the sensor effects (colour noise, depth noise and holes).
        boundary_px: Width of the box_boundary band (class 2) in pixels; 0 disables it.
        side_label: Class for carton side faces: 0 (background) or 255 (ignore).

    Returns:
        The :class:`Frame`.

    Raises:
        ValueError: If ``side_label`` is not 0 or 255 or ``boundary_px`` is negative.
    """
    if side_label not in (0, 255):
        raise ValueError(f'side_label must be 0 (background) or 255 (ignore), got {side_label}')
    if boundary_px < 0:
        raise ValueError(f'boundary_px must be >= 0, got {boundary_px}')
    tm: Dict[str, float] = {}
    t0 = time.perf_counter()
    cam = scene.camera
    view = PinholeRays(cam.K, cam.width, cam.height, scene.R_world_camera, scene.t_world_camera)
    hits = raycast(view, scene.objects, floor=True, count_top=True)
    tm['raycast'] = time.perf_counter() - t0
    h, w = view.shape
    valid = hits.obj.ravel() >= 0
    shader = _Shader(scene, view, hits)
    shader.run()
    tm['shade'] = time.perf_counter() - t0 - sum(tm.values())
    light = scene.light
    N = shader.normal
    L = light.direction.astype(np.float32)
    ndl = np.clip(dot3(N, L), 0.0, 1.0)
    occ = _shadow(scene, shader.P, N, valid).reshape(h, w)
    sigma = max(0.5, light.shadow_softness_px * w / 640.0)
    occ = cv2.GaussianBlur(occ, (0, 0), sigma).ravel()
    lit = 1.0 - np.float32(light.shadow_strength) * occ
    tm['shadow'] = time.perf_counter() - t0 - sum(tm.values())
    z = hits.t
    ao = _ambient_occlusion(z, hits.obj >= 0, cam.fx, light.ao_strength).ravel()
    hemi = np.float32(0.62) + np.float32(0.38) * N[:, 2]
    center = np.asarray([o.center for o in scene.boxes] or [[0.0, 0.0, 0.0]]).mean(axis=0)
    grad = np.clip(np.float32(1.0 + float(center @ -light.gradient))
                   + dot3(shader.P, light.gradient), 0.5, 1.6)
    dirs = view.dirs_all.reshape(-1, 3)
    inv_len = 1.0 / np.sqrt(view.dir_comp[0] ** 2 + view.dir_comp[1] ** 2 + view.dir_comp[2] ** 2)
    inv_len = inv_len.ravel()
    spec = np.zeros(h * w, np.float32)
    glossy = np.flatnonzero((shader.gloss > 0.05) & (ndl > 0))
    if glossy.size:  # Blinn-Phong highlight on tape, plastic and metal only
        hv = L[None, :] - dirs[glossy] * inv_len[glossy, None]
        ndh = np.clip(np.einsum('ij,ij->i', N[glossy], hv) / np.linalg.norm(hv, axis=1),
                      0.0, 1.0)
        spec[glossy] = shader.gloss[glossy] * (ndh * ndh) ** 20 * lit[glossy]
    amb = np.float32(light.ambient) * hemi * ao * grad
    key = np.float32(light.key) * ndl * lit * grad
    irr = amb[:, None] * light.ambient_rgb.astype(np.float32) + key[:, None] * \
        light.key_rgb.astype(np.float32)
    rad = shader.albedo * irr + (np.float32(0.3 * light.key) * spec)[:, None]
    rad[~valid] = 0.01
    rad = rad.reshape(h, w, 3)
    depth_clean = np.where(np.isfinite(z), z, 0.0).astype(np.float32)
    cable = None
    if scene.extras.get('cable'):
        cable = _cable_overlay(rng, h, w)
        rad[cable] = srgb_to_linear((25, 25, 28)) * (light.ambient + 0.5 * light.key)
        depth_clean = np.where(cable & (depth_clean > 0), depth_clean - 0.015, depth_clean)
    mask, instance = labels_from_hits(hits, scene.objects, boundary_px, side_label, cable)
    tm['light'] = time.perf_counter() - t0 - sum(tm.values())
    lum_albedo = dot3(shader.albedo, noise.LUMA).reshape(h, w)
    cos_view = (np.abs(np.einsum('ij,ij->i', N, dirs)) * inv_len).reshape(h, w)
    rgb = noise.color_pipeline(rad, rng, scene.extras, focus=mask > 0)
    depth_mm = noise.realsense_depth(depth_clean, rng, scene.extras, fx=cam.fx,
                                     cos_view=cos_view, albedo=lum_albedo)
    tm['sensor'] = time.perf_counter() - t0 - sum(tm.values())
    self_top = {o.box_id: int(hits.self_top[k]) for k, o in enumerate(scene.objects, start=1)
                if o.kind == 'box'}
    LOG.debug('render timings %s', tm)
    return Frame(rgb=rgb, depth_mm=depth_mm, depth_m=depth_clean, mask=mask, instance=instance,
                 self_top=self_top, timings=tm)
