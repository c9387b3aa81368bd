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

"""Random layouts of cartons on pallets, floors and conveyors, plus camera, light and clutter.

Everything here is geometry and appearance *parameters*; pixels are made in
:mod:`enet_ros.synth.render` and :mod:`enet_ros.synth.textures`. All randomness comes from the
``numpy.random.Generator`` passed in, so a scene is a pure function of its generator state.

World frame: z up, floor at z = 0, metres. Every carton is a :class:`Cuboid` whose local x axis
is its long edge (``size[0] >= size[1]``) and whose local +z face is its top face.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Dict, List, Optional, Sequence, Tuple

from enet_ros.synth.geometry import look_at, point_in_rect, rect_corners_xy, rects_overlap
from enet_ros.synth.geometry import rot_x, rot_y, rot_z
import numpy as np

LAYOUTS = ('pallet', 'floor', 'conveyor', 'scattered')
"""Layout kinds: grid-packed layers on a pallet or the floor, a conveyor, scattered cartons."""

MAX_VIEW_ANGLE = math.radians(35.0)
"""Largest angle between the optical axis and straight down (the floor fills every view)."""

LAYOUT_WEIGHTS = {'pallet': 0.55, 'floor': 0.15, 'conveyor': 0.12, 'scattered': 0.18}

# Common carton sizes (length, width, height) in metres; the first two are the NEURA
# challenge's small and medium boxes.
CARTON_CATALOGUE = (
    (0.255, 0.155, 0.100), (0.340, 0.250, 0.095), (0.300, 0.200, 0.150), (0.400, 0.300, 0.200),
    (0.600, 0.400, 0.300), (0.400, 0.400, 0.400), (0.310, 0.220, 0.120), (0.500, 0.300, 0.250),
    (0.200, 0.150, 0.100), (0.380, 0.280, 0.160), (0.450, 0.350, 0.300), (0.350, 0.350, 0.180),
)

CARDBOARD_SRGB = ((196, 160, 118), (184, 146, 104), (205, 172, 130), (170, 132, 92),
                  (214, 186, 146), (160, 124, 86), (200, 168, 128), (190, 158, 120))

# Pale, nearly grey board as real cameras often record it (auto exposure and white balance on
# a bright hall wash kraft out: the NEURA pallet cartons are grey-beige, saturation < 0.1).
PALE_BOARD_SRGB = ((196, 184, 168), (205, 196, 184), (182, 170, 154), (214, 206, 194),
                   (190, 180, 170))

WORDS = ('WP 30', 'FRAGILE', 'THIS SIDE UP', 'KEEP DRY', 'MADE IN EU', 'QTY 24', 'NET 12.5 kg',
         'HANDLE WITH CARE', 'ART. 4711', 'LOT 2231', 'A-1034-56', 'SKU 88123', 'TOP', 'B2B',
         'PART NO. 55-102', 'BATCH 07', '12 x 500 ml', 'EXPRESS', 'NEURA', 'ROBOTICS', 'XL',
         'SMALL BOX', 'MEDIUM', 'CE', 'No. 3', 'PAL 17', 'STACK MAX 5')


@dataclass
class CameraModel:
    """Pinhole intrinsics (no distortion) of the colour camera, pixels.

    Attributes:
        width: Image width in pixels.
        height: Image height in pixels.
        fx: Focal length along x (columns), pixels.
        fy: Focal length along y (rows), pixels.
        cx: Principal point column, pixels (pixel centres at integer coordinates).
        cy: Principal point row, pixels.
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @property
    def K(self) -> np.ndarray:  # noqa: N802 - the usual name of the camera matrix
        """Return the (3, 3) float64 camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


@dataclass
class Material:
    """Appearance recipe of an object: a kind known to :mod:`textures`, parameters and a seed."""

    kind: str
    params: Dict = field(default_factory=dict)
    seed: int = 0


@dataclass
class Cuboid:
    """An oriented cuboid (world frame, metres).

    Attributes:
        center: (3,) centre in the world frame, metres.
        rotation: (3, 3) ``R_world_local``.
        size: (3,) full extents along local x, y, z in metres (cartons: x >= y, z = height).
        kind: 'box' (a carton, labelled), 'pallet', 'conveyor', 'clutter'.
        material: How it looks.
        box_id: 1-based carton id (instance id in the label image); 0 for non-cartons.
        support: For cartons, what it stands on: 'pallet', 'floor', 'conveyor' or 'box'.
        layer: For cartons, 0-based layer index in a stack.
    """

    center: np.ndarray
    rotation: np.ndarray
    size: np.ndarray
    kind: str
    material: Material
    box_id: int = 0
    support: str = ''
    layer: int = 0

    def corners(self) -> np.ndarray:
        """Return the corner points, (8, 3) world frame, metres."""
        h = 0.5 * np.asarray(self.size, float)
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        return (signs * h) @ self.rotation.T + self.center

    def footprint(self) -> np.ndarray:
        """Return the (4, 2) footprint corners in the world xy plane (yaw only), metres."""
        yaw = math.atan2(self.rotation[1, 0], self.rotation[0, 0])
        return rect_corners_xy(self.center, self.size[:2], yaw)

    @property
    def top_z(self) -> float:
        """Return the highest world z of the cuboid, metres."""
        return float(self.corners()[:, 2].max())


@dataclass
class Cylinder:
    """A vertical cylinder (world frame, metres): tape rolls, buckets, barrels.

    Attributes:
        center_xy: (2,) axis position in the world xy plane, metres.
        z0: Bottom height, metres.
        z1: Top height, metres.
        radius: Radius, metres.
        material: How it looks.
        kind: Always 'clutter' here.
    """

    center_xy: np.ndarray
    z0: float
    z1: float
    radius: float
    material: Material
    kind: str = 'clutter'
    box_id: int = 0

    def corners(self) -> np.ndarray:
        """Return the bounding box corner points, (8, 3) world frame, metres."""
        r = self.radius
        pts = [[self.center_xy[0] + sx * r, self.center_xy[1] + sy * r, z]
               for sx in (-1, 1) for sy in (-1, 1) for z in (self.z0, self.z1)]
        return np.asarray(pts, float)

    @property
    def top_z(self) -> float:
        """Return the top height, metres."""
        return float(self.z1)


@dataclass
class Light:
    """Lighting: one directional key light (casts shadows) plus hemispherical ambient light.

    Attributes:
        direction: (3,) unit vector from the scene towards the light, world frame.
        key: Key light intensity (linear units).
        key_rgb: (3,) key light colour (linear gains).
        ambient: Ambient intensity (linear units).
        ambient_rgb: (3,) ambient colour.
        shadow_strength: 0..1, how much of the key light a shadow removes.
        shadow_softness_px: Blur sigma of the shadow edge at 640 px width, pixels.
        gradient: (3,) world-xy linear illumination gradient (gx, gy, 0) per metre.
        ao_strength: Screen-space ambient occlusion strength (gaps between cartons), 0..1.
    """

    direction: np.ndarray
    key: float
    key_rgb: np.ndarray
    ambient: float
    ambient_rgb: np.ndarray
    shadow_strength: float
    shadow_softness_px: float
    gradient: np.ndarray
    ao_strength: float


@dataclass
class Scene:
    """A complete procedural scene.

    Attributes:
        camera: Intrinsics.
        R_world_camera: (3, 3) rotation of the optical frame in the world frame.
        t_world_camera: (3,) optical centre in the world frame, metres.
        objects: Cuboids and cylinders (cartons have ``kind == 'box'``).
        floor: Material of the floor plane z = 0.
        light: Lighting.
        layout: One of :data:`LAYOUTS`.
        support_height: World z of the plane the (bottom) cartons stand on, metres.
        support: 'pallet', 'floor' or 'conveyor'.
        texel: Texture resolution for cartons, metres per texel.
        extras: Camera/sensor effect parameters drawn for the renderer (exposure, noise, ...).
    """

    camera: CameraModel
    R_world_camera: np.ndarray
    t_world_camera: np.ndarray
    objects: List
    floor: Material
    light: Light
    layout: str
    support_height: float
    support: str
    texel: float
    extras: Dict = field(default_factory=dict)

    @property
    def boxes(self) -> List[Cuboid]:
        """Return the cartons (cuboids with ``kind == 'box'``) in id order."""
        return [o for o in self.objects if getattr(o, 'kind', '') == 'box']


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2 ** 62))


def _srgb_jitter(rng: np.random.Generator, base: Sequence[float], amount: float) -> tuple:
    """Vary brightness by ``amount`` (relative std) and hue much less (a quarter of it)."""
    gain = 1.0 + rng.normal(0.0, amount) + rng.normal(0.0, 0.25 * amount, 3)
    out = np.asarray(base, float) * gain
    return tuple(float(v) for v in np.clip(out, 0.0, 255.0))


def sample_box_size(rng: np.random.Generator) -> Tuple[float, float, float]:
    """Draw a carton size (length >= width, height) in metres, mostly from common sizes."""
    if rng.random() < 0.55:
        base = CARTON_CATALOGUE[int(rng.integers(len(CARTON_CATALOGUE)))]
        length, w, h = (float(v) * float(rng.uniform(0.97, 1.03)) for v in base)
    else:
        length = float(rng.uniform(0.18, 0.6))
        w = float(np.clip(length * rng.uniform(0.45, 1.0), 0.1, length))
        h = float(rng.uniform(0.08, 0.4))
    if w > length:
        length, w = w, length
    return length, w, h


def _print_element(rng: np.random.Generator, face_u: float, face_v: float, ink: tuple,
                   kinds: Sequence[str]) -> Dict:
    """One printed element on a face of ``face_u`` x ``face_v`` metres (relative placement)."""
    kind = str(kinds[int(rng.integers(len(kinds)))])
    short = min(face_u, face_v)
    el = {'type': kind, 'pos': (float(rng.uniform(0.15, 0.85)), float(rng.uniform(0.15, 0.85))),
          'rot': int(rng.integers(4)), 'ink': ink}
    if kind == 'text':
        el['text'] = WORDS[int(rng.integers(len(WORDS)))]
        el['h'] = float(np.clip(rng.uniform(0.04, 0.11) * short, 0.006, 0.03))
        el['thick'] = float(rng.uniform(0.08, 0.2))
    elif kind == 'barcode':
        el['w'] = float(np.clip(rng.uniform(0.12, 0.35) * face_u, 0.02, 0.12))
        el['h'] = float(np.clip(rng.uniform(0.08, 0.2) * face_v, 0.01, 0.05))
        el['bars'] = [int(v) for v in rng.integers(1, 4, size=int(rng.integers(24, 60)))]
    elif kind == 'label':
        el['w'] = float(np.clip(rng.uniform(0.25, 0.5) * face_u, 0.05, 0.16))
        el['h'] = float(np.clip(rng.uniform(0.25, 0.5) * face_v, 0.04, 0.12))
        el['paper'] = _srgb_jitter(rng, (238, 236, 228), 0.02)
        el['lines'] = int(rng.integers(2, 6))
        el['bars'] = [int(v) for v in rng.integers(1, 4, size=int(rng.integers(24, 48)))]
    elif kind == 'logo':
        el['shape'] = str(('circle', 'triangle', 'arrows', 'recycle', 'square', 'glass')[
            int(rng.integers(6))])
        el['size'] = float(np.clip(rng.uniform(0.12, 0.35) * short, 0.015, 0.12))
    elif kind == 'band':
        el['pos'] = (0.5, float(rng.uniform(0.1, 0.9)))
        el['h'] = float(rng.uniform(0.03, 0.15) * face_v)
        el['ink'] = _srgb_jitter(rng, [(40, 80, 160), (170, 40, 40), (40, 120, 60),
                                       (30, 30, 30), (200, 160, 40)][int(rng.integers(5))], 0.05)
    return el


def sample_carton_style(rng: np.random.Generator, size: Sequence[float]) -> Dict:
    """Draw the appearance shared by a batch of identical cartons (one product on a pallet)."""
    l, w, h = size
    u = rng.random()
    if u < 0.55:
        base = _srgb_jitter(rng, CARDBOARD_SRGB[int(rng.integers(len(CARDBOARD_SRGB)))], 0.04)
    elif u < 0.82:
        base = _srgb_jitter(rng, PALE_BOARD_SRGB[int(rng.integers(len(PALE_BOARD_SRGB)))], 0.03)
    elif u < 0.94:
        base = _srgb_jitter(rng, (232, 228, 218), 0.03)  # bleached / white carton
    else:
        base = _srgb_jitter(rng, (120, 96, 70), 0.05)  # dark recycled board
    ink = _srgb_jitter(rng, [(25, 25, 28), (30, 40, 90), (110, 30, 30), (30, 70, 40)][
        int(rng.integers(4)) if rng.random() < 0.4 else 0], 0.05)
    tape_kinds = ['clear'] * 5 + ['brown'] * 2 + ['white', 'printed'] + ['none'] * 3
    tape_kind = str(rng.choice(tape_kinds))
    tape = {'kind': tape_kind, 'width': float(rng.choice([0.048, 0.050, 0.060, 0.075])),
            'color': _srgb_jitter(rng, {'clear': (200, 170, 130), 'brown': (150, 100, 55),
                                        'white': (235, 232, 225), 'printed': (230, 228, 220),
                                        'none': (0, 0, 0)}[tape_kind], 0.04),
            'h_tape': bool(rng.random() < 0.15), 'offset': float(rng.normal(0.0, 0.004))}
    top_kinds = ['text', 'barcode', 'label', 'logo', 'text', 'barcode']
    side_kinds = ['text', 'barcode', 'logo', 'logo', 'band', 'label']
    if rng.random() < 0.25:  # cartons stored on their side: the shipping print faces up
        top_kinds = side_kinds + ['barcode', 'barcode']
    n_top = int(rng.choice([0, 1, 2, 2, 3, 4]))
    n_side = int(rng.choice([0, 1, 2, 3, 4]))
    return {
        'key': _seed(rng), 'base': base, 'ink': ink, 'tape': tape,
        'seam': bool(rng.random() < 0.75),
        'flap_lines': bool(rng.random() < 0.5),
        'edge': float(rng.uniform(-0.3, 0.05)),
        'round': float(rng.uniform(0.002, 0.009)),
        'edge_w': float(rng.uniform(0.002, 0.006)),
        'stains': float(rng.uniform(0.0, 1.0) ** 3),
        'mottle': float(rng.uniform(0.015, 0.06)),
        'top_prints': [_print_element(rng, l, w, ink, top_kinds) for _ in range(n_top)],
        'side_prints': [_print_element(rng, l, h, ink, side_kinds) for _ in range(n_side)],
    }


def _carton(rng: np.random.Generator, style: Dict, center, yaw: float, size, support: str,
            layer: int, tilt: float = 0.0) -> Cuboid:
    rot = rot_z(yaw)
    center = np.asarray(center, float).copy()
    if tilt > 0.0:
        roll, pitch = rng.normal(0.0, tilt, 2)
        rot = rot @ rot_y(float(pitch)) @ rot_x(float(roll))
        # Lift so that the lowest corner rests on the support again.
        hx, hy, hz = 0.5 * np.asarray(size)
        center[2] += (hx * abs(math.sin(pitch)) + hy * abs(math.cos(pitch) * math.sin(roll))
                      + hz * math.cos(pitch) * math.cos(roll) - hz)
    params = {'style': style, 'flip': bool(rng.random() < 0.5), 'variant': int(rng.integers(3)),
              'jitter': [float(v) for v in rng.normal(0.0, 0.025) + rng.normal(0.0, 0.008, 3)]}
    return Cuboid(center=center, rotation=rot, size=np.asarray(size, float), kind='box',
                  material=Material('carton', params, _seed(rng)), support=support,
                  layer=layer)


def _pack_layer(rng: np.random.Generator, area: Tuple[float, float], size, gap: float,
                orient_mode: str, orient: int, overhang: float) -> List[Tuple]:
    """Grid-pack one layer of cartons into ``area`` (length x width, metres, centred at 0).

    Returns:
        List of (x, y, yaw) footprint centres (metres, radians) in the area frame.
    """
    L, W = area
    l, w = size[0], size[1]
    rows = []
    y = 0.0
    while True:
        o = orient if orient_mode != 'rows' else int(rng.integers(2))
        along, depth = (l, w) if o == 0 else (w, l)
        if y + depth > W + 2 * overhang + 1e-9:
            alt_along, alt_depth = (w, l) if o == 0 else (l, w)
            if orient_mode == 'rows' and y + alt_depth <= W + 2 * overhang + 1e-9:
                o, along, depth = 1 - o, alt_along, alt_depth
            else:
                break
        n = int((L + 2 * overhang + gap) // (along + gap))
        if n < 1:
            break
        rows.append((y, depth, along, n, o))
        y += depth + gap
    if not rows:
        return [(0.0, 0.0, 0.0 if l <= L + 0.2 else math.pi / 2)]
    used_w = y - gap
    y0 = -0.5 * used_w + float(rng.uniform(-1, 1)) * max(0.0, 0.5 * (W - used_w)) * 0.5
    out = []
    for ry, depth, along, n, o in rows:
        used_l = n * along + (n - 1) * gap
        slack = max(0.0, L - used_l)
        x0 = -0.5 * used_l + float(rng.uniform(-0.5, 0.5)) * slack * 0.6
        yc = y0 + ry + 0.5 * depth
        for k in range(n):
            out.append((x0 + k * (along + gap) + 0.5 * along, yc, 0.0 if o == 0 else math.pi / 2))
    return out


def _overlaps(foot: np.ndarray, others: List[np.ndarray], tol: float = 0.0015) -> bool:
    """Return True if footprint ``foot`` (4, 2) penetrates one of ``others`` by > ``tol`` m."""
    c = foot.mean(axis=0)
    r = float(np.max(np.linalg.norm(foot - c, axis=1)))
    for other in others:
        co = other.mean(axis=0)
        if np.linalg.norm(co - c) > r + float(np.max(np.linalg.norm(other - co, axis=1))):
            continue
        if rects_overlap(foot, other, -tol):
            return True
    return False


def _supported(box_xy: Tuple[float, float, float], size, lower: List[Cuboid]) -> bool:
    """Return True if a footprint rests on the cartons in ``lower`` (centre + 3 of 4 corners)."""
    x, y, yaw = box_xy
    corners = rect_corners_xy((x, y), (size[0] * 0.6, size[1] * 0.6), yaw)
    feet = [b.footprint() for b in lower]
    if not any(point_in_rect((x, y), f) for f in feet):
        return False
    n_in = sum(any(point_in_rect(c, f) for f in feet) for c in corners)
    return n_in >= 3


def _grid_stack(rng: np.random.Generator, area: Tuple[float, float], base_z: float,
                support: str, max_height: float) -> List[Cuboid]:
    """Layers of grid-packed cartons on a rectangular support centred at the world origin."""
    size = sample_box_size(rng)
    for _ in range(8):
        if size[0] <= area[0] + 0.05 and size[1] <= area[1] + 0.05:
            break
        size = sample_box_size(rng)
    mixed = rng.random() < 0.2
    style = sample_carton_style(rng, size)
    n_layers = int(rng.choice([1, 2, 2, 3, 3, 4, 5]))
    n_layers = max(1, min(n_layers, int(max_height // size[2])))
    u = rng.random()
    gap = 0.0 if u < 0.3 else (float(rng.uniform(0.0, 0.012)) if u < 0.85
                               else float(rng.uniform(0.01, 0.035)))
    pos_sigma = float(rng.uniform(0.0, 0.006))
    yaw_sigma = math.radians(float(rng.uniform(0.0, 2.5)))
    orient_mode = str(rng.choice(['column', 'rows', 'interlock']))
    orient = int(rng.integers(2))
    overhang = float(rng.uniform(0.0, 0.03))
    top_remove = 0.0 if rng.random() < 0.3 else float(rng.uniform(0.1, 0.7))
    tilt = math.radians(float(rng.uniform(0.0, 1.5))) if rng.random() < 0.5 else 0.0
    layers: List[List[Cuboid]] = []
    z = base_z
    for k in range(n_layers):
        if mixed and k > 0:
            size = sample_box_size(rng)
            style = sample_carton_style(rng, size) if rng.random() < 0.6 else style
        o = orient if orient_mode != 'interlock' else (orient + k) % 2
        spots = _pack_layer(rng, area, size, gap, orient_mode, o, overhang)
        layer: List[Cuboid] = []
        last = k == n_layers - 1
        first_ok = None
        feet: List[np.ndarray] = []
        for (x0, y0, yaw0) in spots:
            x = x0 + float(rng.normal(0.0, pos_sigma))
            y = y0 + float(rng.normal(0.0, pos_sigma))
            yaw = yaw0 + float(rng.normal(0.0, yaw_sigma))
            foot = rect_corners_xy((x, y), size[:2], yaw)
            if _overlaps(foot, feet):  # jitter would push it into a neighbour: keep it on grid
                x, y, yaw = x0, y0, yaw0
                foot = rect_corners_xy((x, y), size[:2], yaw)
            yaw += math.pi if rng.random() < 0.5 else 0.0
            if layers and not _supported((x, y, yaw), size, layers[-1]):
                continue
            feet.append(foot)
            first_ok = first_ok or (x, y, yaw)
            p_remove = top_remove if last else 0.03
            if rng.random() < p_remove:
                continue
            layer.append(_carton(rng, style, (x, y, z + 0.5 * size[2]), yaw, size, support
                                 if k == 0 else 'box', k, tilt if last else 0.0))
        if not layer and first_ok is not None and not layers:  # never an empty support
            x, y, yaw = first_ok
            layer.append(_carton(rng, style, (x, y, z + 0.5 * size[2]), yaw, size, support, k))
        if not layer:
            break
        layers.append(layer)
        z += size[2]
    return [b for layer in layers for b in layer]


def _wood_material(rng: np.random.Generator, tone: Optional[tuple] = None) -> Material:
    tones = [(196, 160, 112), (170, 130, 88), (140, 110, 80), (150, 140, 125), (205, 180, 140),
             (120, 90, 60)]
    base = tone or tones[int(rng.integers(len(tones)))]
    return Material('wood', {'base': _srgb_jitter(rng, base, 0.06),
                             'grain': float(rng.uniform(0.04, 0.15)),
                             'knots': int(rng.integers(0, 4))}, _seed(rng))


def _pallet(rng: np.random.Generator, length: float, width: float) -> Tuple[List, float]:
    """Build a wooden (EUR-like) or plastic pallet at the origin, long side along world x."""
    objs: List = []
    if rng.random() < 0.8:
        tone = [(196, 160, 112), (170, 130, 88), (140, 110, 80), (150, 140, 125),
                (205, 180, 140), (120, 90, 60)][int(rng.integers(6))]
        t_board = 0.022
        block_h = float(rng.uniform(0.07, 0.1))
        height = 3 * t_board + block_h
        n_top = int(rng.choice([5, 5, 7, 9]))
        outer_w, inner_w = 0.145, float(rng.uniform(0.09, 0.12))
        widths = [outer_w] + [inner_w] * (n_top - 2) + [outer_w]
        free = width - sum(widths)
        g = free / (n_top - 1)
        y = -0.5 * width
        for bw in widths:
            objs.append(Cuboid(np.array([0.0, y + 0.5 * bw, height - 0.5 * t_board]), rot_z(0.0),
                               np.array([length, bw, t_board]), 'pallet',
                               _wood_material(rng, tone)))
            y += bw + g
        xs = (-0.5 * length + 0.0725, 0.0, 0.5 * length - 0.0725)
        for x in xs:  # stringer boards under the deck, across the pallet
            objs.append(Cuboid(np.array([x, 0.0, height - 1.5 * t_board]), rot_z(0.0),
                               np.array([0.145, width, t_board]), 'pallet',
                               _wood_material(rng, tone)))
            for yb in (-0.5 * width + 0.05, 0.0, 0.5 * width - 0.05):
                objs.append(Cuboid(np.array([x, yb, t_board + 0.5 * block_h]), rot_z(0.0),
                                   np.array([0.145, 0.1, block_h]), 'pallet',
                                   _wood_material(rng, tone)))
        for yb in (-0.5 * width + 0.05, 0.0, 0.5 * width - 0.05):
            objs.append(Cuboid(np.array([0.0, yb, 0.5 * t_board]), rot_z(0.0),
                               np.array([length, 0.1, t_board]), 'pallet',
                               _wood_material(rng, tone)))
    else:
        height = float(rng.uniform(0.12, 0.16))
        col = [(60, 62, 66), (40, 70, 130), (120, 120, 118), (30, 30, 32)][int(rng.integers(4))]
        mat = Material('plastic_pallet', {'base': _srgb_jitter(rng, col, 0.05)}, _seed(rng))
        objs.append(Cuboid(np.array([0.0, 0.0, height - 0.015]), rot_z(0.0),
                           np.array([length, width, 0.03]), 'pallet', mat))
        for x in (-0.5 * length + 0.06, 0.0, 0.5 * length - 0.06):
            for yb in (-0.5 * width + 0.06, 0.0, 0.5 * width - 0.06):
                objs.append(Cuboid(np.array([x, yb, 0.5 * (height - 0.03)]), rot_z(0.0),
                                   np.array([0.12, 0.12, height - 0.03]), 'pallet', mat))
    return objs, height


def _conveyor(rng: np.random.Generator, width: float, top: float) -> List:
    objs: List = []
    length = 6.0
    rail_h = float(rng.uniform(-0.02, 0.06))
    metal = Material('metal', {'base': _srgb_jitter(rng, (185, 188, 192), 0.05)}, _seed(rng))
    if rng.random() < 0.6:
        belt = Material('rubber', {'base': _srgb_jitter(rng, [(55, 57, 60), (35, 36, 38),
                                                              (70, 100, 80), (90, 90, 95)][
            int(rng.integers(4))], 0.05)}, _seed(rng))
        objs.append(Cuboid(np.array([0.0, 0.0, top - 0.04]), rot_z(0.0),
                           np.array([length, width, 0.08]), 'conveyor', belt))
    else:
        pitch = float(rng.uniform(0.06, 0.12))
        dia = float(rng.uniform(0.04, 0.06))
        n = int(length / pitch)
        for k in range(n):
            x = -0.5 * length + (k + 0.5) * pitch
            objs.append(Cuboid(np.array([x, 0.0, top - 0.5 * dia]), rot_z(0.0),
                               np.array([dia, width, dia]), 'conveyor',
                               Material('roller', {'base': metal.params['base']}, _seed(rng))))
        objs.append(Cuboid(np.array([0.0, 0.0, top - 0.25]), rot_z(0.0),
                           np.array([length, width, 0.02]), 'conveyor',
                           Material('rubber', {'base': (30, 30, 32)}, _seed(rng))))
    for side in (-1, 1):
        objs.append(Cuboid(np.array([0.0, side * (0.5 * width + 0.025), top + rail_h - 0.1]),
                           rot_z(0.0), np.array([length, 0.05, 0.2]), 'conveyor', metal))
    return objs


def _clutter(rng: np.random.Generator, keep_out: np.ndarray, n: int) -> List:
    """Background objects around (never inside) the rectangle ``keep_out`` (4, 2) metres."""
    objs: List = []
    placed = [keep_out]
    cx, cy = keep_out.mean(axis=0)
    for _ in range(n * 4):
        if len(objs) >= n:
            break
        kind = str(rng.choice(['cabinet', 'cabinet', 'crate', 'crate', 'roll', 'bucket', 'case',
                               'sheet', 'barrel', 'post']))
        ang = float(rng.uniform(0, 2 * math.pi))
        dist = float(rng.uniform(0.4, 1.8))
        x = cx + math.cos(ang) * (dist + 0.5 * np.ptp(keep_out[:, 0]))
        y = cy + math.sin(ang) * (dist + 0.5 * np.ptp(keep_out[:, 1]))
        yaw = float(rng.uniform(0, math.pi)) if rng.random() < 0.5 else 0.0
        if kind in ('roll', 'bucket', 'barrel'):
            r = {'roll': rng.uniform(0.05, 0.16), 'bucket': rng.uniform(0.12, 0.2),
                 'barrel': rng.uniform(0.25, 0.3)}[kind]
            hgt = {'roll': rng.uniform(0.03, 0.12), 'bucket': rng.uniform(0.2, 0.4),
                   'barrel': rng.uniform(0.8, 0.9)}[kind]
            foot = rect_corners_xy((x, y), (2 * r, 2 * r), 0.0)
            if any(rects_overlap(foot, p, 0.05) for p in placed):
                continue
            col = _srgb_jitter(rng, [(200, 40, 35), (40, 90, 170), (230, 230, 225),
                                     (60, 60, 60), (220, 180, 40)][int(rng.integers(5))], 0.05)
            objs.append(Cylinder(np.array([x, y]), 0.0, float(hgt), float(r),
                                 Material(kind, {'base': col}, _seed(rng))))
            placed.append(foot)
            continue
        if kind == 'cabinet':
            size = (rng.uniform(0.6, 1.4), rng.uniform(0.5, 0.9), rng.uniform(0.5, 1.1))
            col = _srgb_jitter(rng, [(235, 236, 238), (235, 236, 238), (200, 202, 205),
                                     (60, 62, 66), (230, 120, 40)][int(rng.integers(5))], 0.03)
            mat = Material('cabinet', {'base': col}, _seed(rng))
        elif kind == 'crate':
            size = (rng.uniform(0.3, 0.6), rng.uniform(0.2, 0.4), rng.uniform(0.12, 0.35))
            col = _srgb_jitter(rng, [(40, 90, 170), (90, 92, 96), (200, 50, 40), (40, 130, 70),
                                     (220, 190, 40)][int(rng.integers(5))], 0.05)
            mat = Material('crate', {'base': col}, _seed(rng))
        elif kind == 'case':
            size = (rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.45), rng.uniform(0.08, 0.25))
            col = _srgb_jitter(rng, [(30, 30, 32), (180, 40, 35), (60, 60, 65), (220, 200, 60)][
                int(rng.integers(4))], 0.05)
            mat = Material('painted', {'base': col}, _seed(rng))
        elif kind == 'post':
            size = (rng.uniform(0.08, 0.15), rng.uniform(0.08, 0.15), rng.uniform(0.8, 1.2))
            mat = Material('hazard', {'base': (225, 190, 30)}, _seed(rng))
        else:  # sheet: paper, plate or mat lying on the floor
            size = (rng.uniform(0.2, 0.9), rng.uniform(0.2, 0.6), rng.uniform(0.001, 0.01))
            col = _srgb_jitter(rng, [(240, 240, 236), (90, 90, 92), (150, 150, 155),
                                     (40, 40, 42)][int(rng.integers(4))], 0.04)
            mat = Material('painted', {'base': col}, _seed(rng))
        size = np.array(sorted([float(size[0]), float(size[1])], reverse=True) + [float(size[2])])
        foot = rect_corners_xy((x, y), size[:2], yaw)
        if any(rects_overlap(foot, p, 0.05) for p in placed):
            continue
        objs.append(Cuboid(np.array([x, y, 0.5 * size[2]]), rot_z(yaw), size, 'clutter', mat))
        placed.append(foot)
    return objs


def _floor_material(rng: np.random.Generator) -> Material:
    kind = str(rng.choice(['osb', 'osb', 'concrete', 'concrete', 'epoxy', 'wood']))
    base = {'osb': (205, 178, 138), 'concrete': (160, 158, 152), 'epoxy': (120, 130, 120),
            'wood': (190, 150, 105)}[kind]
    if kind == 'epoxy':
        base = [(110, 135, 110), (130, 132, 135), (95, 110, 130), (150, 80, 60), (170, 170, 165)][
            int(rng.integers(5))]
    if kind == 'concrete':
        base = [(160, 158, 152), (120, 118, 115), (185, 182, 175)][int(rng.integers(3))]
    marks = []
    for _ in range(int(rng.choice([0, 1, 1, 1, 2, 3]))):
        mkind = str(rng.choice(['hazard', 'hazard', 'line', 'line']))
        colors = [(225, 190, 30), (225, 190, 30), (210, 40, 35)] if mkind == 'hazard' else [
            (225, 190, 30), (235, 235, 230), (40, 110, 180)]
        marks.append({'type': mkind, 'angle': float(rng.uniform(0, math.pi)),
                      'offset': float(rng.uniform(-1.5, 1.5)),
                      'width': float(rng.uniform(0.04, 0.1)),
                      'color': _srgb_jitter(rng, colors[int(rng.integers(3))], 0.03)})
    return Material('floor', {'type': kind, 'base': _srgb_jitter(rng, base, 0.06), 'marks': marks,
                              'cables': int(rng.choice([0, 0, 0, 1, 2])),
                              'debris': float(rng.uniform(0, 1))}, _seed(rng))


def _sample_light(rng: np.random.Generator) -> Light:
    elev = math.radians(float(rng.uniform(35.0, 90.0)))
    az = float(rng.uniform(0.0, 2 * math.pi))
    direction = np.array([math.cos(elev) * math.cos(az), math.cos(elev) * math.sin(az),
                          math.sin(elev)])
    temp = float(rng.uniform(-1.0, 1.0))  # warm (-) .. cool (+)
    key_rgb = np.array([1.0 - 0.08 * temp, 1.0, 1.0 + 0.1 * temp])
    amb_rgb = key_rgb * (1.0 + rng.normal(0.0, 0.03, 3))
    gdir = float(rng.uniform(0.0, 2 * math.pi))
    gstr = float(rng.uniform(0.0, 0.35))
    return Light(direction=direction, key=float(rng.uniform(0.25, 1.0)), key_rgb=key_rgb,
                 ambient=float(rng.uniform(0.35, 0.9)), ambient_rgb=amb_rgb,
                 shadow_strength=float(rng.uniform(0.5, 1.0)),
                 shadow_softness_px=float(rng.uniform(1.0, 5.0)),
                 gradient=np.array([gstr * math.cos(gdir), gstr * math.sin(gdir), 0.0]),
                 ao_strength=float(rng.uniform(0.2, 0.6)))


def _sample_camera(rng: np.random.Generator, width: int, height: int) -> CameraModel:
    scale = width / 640.0
    fx = 607.6 * scale * float(rng.uniform(0.9, 1.06))
    return CameraModel(width=width, height=height, fx=fx, fy=fx * float(rng.uniform(0.997, 1.003)),
                       cx=0.5 * (width - 1) + float(rng.uniform(-0.015, 0.015)) * width,
                       cy=0.5 * (height - 1) + float(rng.uniform(-0.02, 0.02)) * height)


def _sample_extras(rng: np.random.Generator) -> Dict:
    """Sensor parameters (colour pipeline and RealSense-like depth) for the renderer."""
    return {
        'exposure_target': float(rng.uniform(0.42, 0.68)),
        'overexpose': bool(rng.random() < 0.25),
        # white balance gains; a third of the scenes get a cool cast (the NEURA camera records
        # cartons bluish grey: R < G < B)
        'wb': ([float(v) for v in rng.uniform(0.9, 1.1, 3)] if rng.random() < 0.67 else
               [float(rng.uniform(0.75, 0.95)), 1.0, float(rng.uniform(1.05, 1.3))]),
        'awb': float(rng.uniform(0.0, 1.0)) if rng.random() < 0.8 else 0.0,
        'saturation': float(rng.uniform(0.55, 1.15) if rng.random() < 0.6
                            else rng.uniform(0.15, 0.55)),
        'gamma': float(rng.uniform(1.9, 2.4)),
        'vignette': float(rng.uniform(0.0, 0.35)),
        'blur_sigma': float(rng.uniform(0.35, 0.9)),
        'noise_sigma': float(rng.uniform(0.5, 3.5)),
        'jpeg_quality': int(rng.integers(60, 96)) if rng.random() < 0.3 else 0,
        'depth_k_mm': float(rng.uniform(0.8, 2.5)),
        'baseline_m': float(rng.uniform(0.045, 0.08)),
        'dropout_frac': float(rng.uniform(0.0, 0.012)) if rng.random() < 0.4 else 0.0,
        'speckle_p': float(rng.uniform(0.0, 0.004)),
        'edge_invalid_p': float(rng.uniform(0.1, 0.6)),
        'cable': bool(rng.random() < 0.15),
    }


def sample_scene(rng: np.random.Generator, width: int = 640, height: int = 480,
                 layouts: Optional[Sequence[str]] = None) -> Scene:
    """Draw one complete scene.

    Args:
        rng: The scene's random generator (e.g. ``Generator(PCG64(SeedSequence([seed, i])))``).
        width: Image width in pixels (>= 16).
        height: Image height in pixels (>= 16).
        layouts: Allowed layout kinds (subset of :data:`LAYOUTS`); None allows all.

    Returns:
        The scene. Carton ids are 1..N in creation order (bottom layer first).

    Raises:
        ValueError: For an unknown layout name.
    """
    allowed = list(LAYOUTS if not layouts else layouts)
    for name in allowed:
        if name not in LAYOUTS:
            raise ValueError(f'unknown layout {name!r}; choose from {", ".join(LAYOUTS)}')
    weights = np.array([LAYOUT_WEIGHTS[n] for n in allowed])
    layout = str(allowed[int(rng.choice(len(allowed), p=weights / weights.sum()))])
    objects: List = []
    boxes: List[Cuboid] = []
    if layout == 'pallet':
        dims = [(1.2, 0.8), (1.2, 1.0), (1.0, 1.2), (1.22, 1.02), (0.8, 0.6)][int(rng.integers(5))]
        pallet, support_z = _pallet(rng, *dims)
        objects += pallet
        boxes = _grid_stack(rng, dims, support_z, 'pallet', float(rng.uniform(0.3, 1.5)))
        area = np.array(dims)
        support = 'pallet'
        if rng.random() < 0.25:  # a second loaded pallet beside the first
            dx = dims[0] + float(rng.uniform(0.1, 0.5))
            shift = np.array([dx if rng.random() < 0.5 else -dx, float(rng.normal(0, 0.1)), 0.0])
            pallet2, z2 = _pallet(rng, *dims)
            for o in pallet2:
                o.center = o.center + shift
            objects += pallet2
            more = _grid_stack(rng, dims, z2, 'pallet', float(rng.uniform(0.2, 1.2)))
            for b in more:
                b.center = b.center + shift
            boxes += more
            area = np.array([2 * dx + dims[0], dims[1]])
    elif layout == 'floor':
        area = np.array([rng.uniform(0.6, 1.6), rng.uniform(0.5, 1.2)])
        support_z, support = 0.0, 'floor'
        boxes = _grid_stack(rng, tuple(area), 0.0, 'floor', float(rng.uniform(0.2, 1.2)))
    elif layout == 'conveyor':
        width_c = float(rng.uniform(0.4, 1.0))
        support_z, support = float(rng.uniform(0.5, 0.9)), 'conveyor'
        objects += _conveyor(rng, width_c, support_z)
        x = float(rng.uniform(-1.2, -0.6))
        while x < 1.2:
            size = sample_box_size(rng)
            if size[1] > 0.9 * width_c:
                size = (size[0], 0.9 * width_c, size[2])
            style = sample_carton_style(rng, size)
            yaw = float(rng.normal(0.0, math.radians(6)))
            along = size[0]
            if rng.random() < 0.3 and size[0] < width_c:
                yaw += math.pi / 2
                along = size[1]
            lat = float(rng.uniform(-0.5, 0.5)) * max(0.0, width_c - min(size[:2])) * 0.7
            x += 0.5 * along
            boxes.append(_carton(rng, style, (x, lat, support_z + 0.5 * size[2]), yaw, size,
                                 'conveyor', 0))
            x += 0.5 * along + float(rng.uniform(0.0, 0.45))
        area = np.array([6.0, width_c + 0.1])  # the whole conveyor (rails included)
    else:  # scattered
        on_pallet = rng.random() < 0.3
        if on_pallet:
            dims = (1.2, 0.8) if rng.random() < 0.6 else (1.2, 1.0)
            pallet, support_z = _pallet(rng, *dims)
            objects += pallet
            area = np.array(dims)
            support = 'pallet'
        else:
            area = np.array([rng.uniform(0.8, 2.0), rng.uniform(0.6, 1.5)])
            support_z, support = 0.0, 'floor'
        same = rng.random() < 0.5
        size0 = sample_box_size(rng)
        style0 = sample_carton_style(rng, size0)
        feet: List[np.ndarray] = []
        for _ in range(int(rng.integers(2, 14)) * 3):
            if len(boxes) >= 14:
                break
            size = size0 if same else sample_box_size(rng)
            style = style0 if same else sample_carton_style(rng, size)
            if boxes and rng.random() < 0.25:  # stack on an existing carton
                below = boxes[int(rng.integers(len(boxes)))]
                if any(b.layer > below.layer and point_in_rect(b.center, below.footprint())
                       for b in boxes) or below.layer >= 2:
                    continue
                yaw0 = math.atan2(below.rotation[1, 0], below.rotation[0, 0])
                off = rng.uniform(-0.12, 0.12, 2) * below.size[:2]
                c = below.center[:2] + rot_z(yaw0)[:2, :2] @ off
                yaw = yaw0 + float(rng.normal(0, 0.15)) + (math.pi / 2 if rng.random() < 0.3
                                                           else 0.0)
                boxes.append(_carton(rng, style, (c[0], c[1], below.top_z + 0.5 * size[2]), yaw,
                                     size, 'box', below.layer + 1))
                continue
            xy = rng.uniform(-0.5, 0.5, 2) * area
            yaw = float(rng.uniform(0, math.pi))
            foot = rect_corners_xy(xy, size[:2], yaw)
            if any(rects_overlap(foot, f, 0.01) for f in feet):
                continue
            feet.append(foot)
            boxes.append(_carton(rng, style, (xy[0], xy[1], support_z + 0.5 * size[2]), yaw,
                                 size, support, 0))
    keep_out = rect_corners_xy((0.0, 0.0), area + 0.1, 0.0)
    objects += _clutter(rng, keep_out, int(rng.choice([0, 1, 2, 3, 4, 6])))
    for i, b in enumerate(boxes):
        b.box_id = i + 1
    objects = boxes + objects
    light = _sample_light(rng)
    camera = _sample_camera(rng, width, height)
    R, t, top = _sample_pose(rng, camera, boxes, objects, area)
    texel = float(np.clip(1.0 * top / camera.fx, 0.001, 0.015))
    return Scene(camera=camera, R_world_camera=R, t_world_camera=t, objects=objects,
                 floor=_floor_material(rng), light=light, layout=layout,
                 support_height=float(support_z), support=support, texel=texel,
                 extras=_sample_extras(rng))


def _sample_pose(rng: np.random.Generator, camera: CameraModel, boxes: List[Cuboid],
                 objects: List, area: np.ndarray) -> Tuple[np.ndarray, np.ndarray, float]:
    """Camera above the cartons, looking down with a tilt; at least one top centre in view."""
    z_boxes = max((b.top_z for b in boxes), default=0.2)
    z_all = max((o.top_z for o in objects), default=z_boxes)
    if boxes:
        tops = np.array([b.center + b.rotation[:, 2] * 0.5 * b.size[2] for b in boxes])
        focus = np.array([*(0.5 * (tops[:, :2].min(0) + tops[:, :2].max(0))), z_boxes])
        extent = np.ptp(tops[:, :2], axis=0) + 0.3
    else:
        tops = np.zeros((0, 3))
        focus, extent = np.array([0.0, 0.0, z_boxes]), area
    best = None
    for attempt in range(30):
        dist = float(rng.uniform(0.75, 2.0))
        tilt = min(abs(float(rng.normal(0.0, math.radians(10.0)))), math.radians(28.0))
        az = float(rng.uniform(0, 2 * math.pi))
        eye = focus + dist * np.array([math.sin(tilt) * math.cos(az),
                                       math.sin(tilt) * math.sin(az), math.cos(tilt)])
        eye[2] = max(eye[2], z_all + 0.35, z_boxes + 0.6)
        target = focus + np.array([*(rng.uniform(-0.3, 0.3, 2) * extent), 0.0])
        view = target - eye  # keep the optical axis within MAX_VIEW_ANGLE of straight down
        horiz, down = view[:2], -view[2]
        limit = down * math.tan(MAX_VIEW_ANGLE)
        if np.linalg.norm(horiz) > limit:
            target = eye + np.array([*(horiz * limit / np.linalg.norm(horiz)), -down])
        if rng.random() < 0.6:
            roll = (int(rng.integers(4)) * math.pi / 2) + float(rng.normal(0, math.radians(3)))
        else:
            roll = float(rng.uniform(0, 2 * math.pi))
        R = look_at(eye, target, (math.cos(roll), math.sin(roll), 0.0))
        if len(tops) == 0:
            return R, eye, float(eye[2] - z_boxes)
        pc = (tops - eye) @ R
        u = camera.fx * pc[:, 0] / pc[:, 2] + camera.cx
        v = camera.fy * pc[:, 1] / pc[:, 2] + camera.cy
        inside = int(np.sum((pc[:, 2] > 0.1) & (u > 0.05 * camera.width)
                            & (u < 0.95 * camera.width) & (v > 0.05 * camera.height)
                            & (v < 0.95 * camera.height)))
        if best is None or inside > best[0]:
            best = (inside, R, eye, float(eye[2] - z_boxes))
        if inside >= max(1, min(3, len(tops) // 2)):
            break
    return best[1], best[2], best[3]
