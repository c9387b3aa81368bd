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

"""enet_ros's own albumentations transforms (usable by name in a training config).

:class:`PasteDistractors` paints flat, box-like but non-carton surfaces (machine panels with vent
slots, painted plates, printed sheets, signs) over a training image and labels them background.
albumentations has no such transform: its dropout transforms paint flat or noise holes and cannot
set a mask label inside a textured shape. Synthetic carton scenes contain few large bright
rectangular objects that are not cartons, so a network trained on them alone tends to call any
bright rectangle a carton; the distractors make shape and surface cues necessary.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence, Tuple

import albumentations as A
import cv2
import numpy as np

STYLES = ('flat', 'vents', 'frame', 'stripes', 'print')


class PasteDistractors(A.DualTransform):
    """Paint 1..N rotated rectangles with panel-like textures; the mask becomes ``mask_value``.

    Args:
        count: ``(min, max)`` number of distractors per image.
        size: ``(min, max)`` of the longer side as a fraction of the image width.
        aspect: ``(min, max)`` of the shorter / longer side ratio.
        light: Probability that a distractor is white / light grey (else a random colour).
        mask_value: Label painted into the mask under the distractors (0: background).
        p: Probability of applying the transform.

    Shape:
        Image ``(H, W, 3)`` uint8; mask ``(H, W)`` (any integer dtype).
    """

    def __init__(self, count: Sequence[int] = (1, 2), size: Sequence[float] = (0.15, 0.5),
                 aspect: Sequence[float] = (0.25, 1.0), light: float = 0.6,
                 mask_value: int = 0, p: float = 0.5) -> None:
        """Check and store the ranges (see the class docstring)."""
        super().__init__(p=p)
        self.count = (int(count[0]), int(count[1]))
        self.size = (float(size[0]), float(size[1]))
        self.aspect = (float(aspect[0]), float(aspect[1]))
        self.light = float(light)
        self.mask_value = int(mask_value)
        if not 1 <= self.count[0] <= self.count[1]:
            raise ValueError(f'PasteDistractors count {count} must be 1 <= min <= max')
        if not 0 < self.size[0] <= self.size[1] or not 0 < self.aspect[0] <= self.aspect[1] <= 1:
            raise ValueError(f'PasteDistractors size {size} / aspect {aspect} out of range')

    def get_transform_init_args_names(self) -> Tuple[str, ...]:
        """Return the constructor arguments (for albumentations' serialisation)."""
        return ('count', 'size', 'aspect', 'light', 'mask_value')

    def get_params_dependent_on_data(self, params: Dict[str, Any],
                                     data: Dict[str, Any]) -> Dict[str, Any]:
        """Draw the distractors' corners (pixels), styles and colours for this image."""
        height, width = params['shape'][:2]
        rng = self.random_generator
        shapes: List[Dict[str, Any]] = []
        for _ in range(int(rng.integers(self.count[0], self.count[1] + 1))):
            long_side = rng.uniform(*self.size) * width
            short_side = long_side * rng.uniform(*self.aspect)
            angle = rng.uniform(-20, 20) if rng.random() < 0.7 else rng.uniform(0, 180)
            centre = (rng.uniform(0, width), rng.uniform(0, height))
            corners = cv2.boxPoints((centre, (long_side, short_side), angle))
            if rng.random() < self.light:
                base = np.full(3, rng.uniform(185, 250)) + rng.uniform(-8, 8, 3)
            else:
                base = rng.uniform(20, 235, 3)
            shapes.append({'corners': corners.astype(np.float32), 'angle': float(angle),
                           'size': (float(long_side), float(short_side)),
                           'style': STYLES[int(rng.integers(len(STYLES)))],
                           'color': np.clip(base, 0, 255), 'seed': int(rng.integers(2 ** 31))})
        return {'shapes': shapes}

    def apply(self, img: np.ndarray, shapes: Sequence[Dict[str, Any]] = (),
              **params: Any) -> np.ndarray:
        """Paint the distractors into a copy of the (H, W, 3) uint8 image."""
        out = img.copy()
        for shape in shapes:
            _paint(out, shape)
        return out

    def apply_to_mask(self, mask: np.ndarray, shapes: Sequence[Dict[str, Any]] = (),
                      **params: Any) -> np.ndarray:
        """Set the mask to ``mask_value`` inside every distractor."""
        out = mask.copy()
        for shape in shapes:
            cv2.fillPoly(out, [np.round(shape['corners']).astype(np.int32)], self.mask_value)
        return out


def _paint(img: np.ndarray, shape: Dict[str, Any]) -> None:
    """Render one distractor: a textured panel in its own frame, warped into the image."""
    rng = np.random.default_rng(shape['seed'])
    long_side, short_side = shape['size']
    w, h = max(4, int(math.ceil(long_side))), max(4, int(math.ceil(short_side)))
    color = np.asarray(shape['color'], dtype=np.float32)
    panel = np.empty((h, w, 3), np.float32)
    panel[:] = color
    # soft shading across the panel (a light gradient), like a lit flat surface
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = 1.0 + rng.uniform(-0.12, 0.12) * (gx / w - 0.5) + rng.uniform(-0.12, 0.12) * (
        gy / h - 0.5)
    panel *= shade[..., None]
    dark = color * rng.uniform(0.05, 0.35)
    style = shape['style']
    if style == 'vents':  # rows of dark slots, as on machine and cabinet panels
        slot_w = max(2, int(w * rng.uniform(0.04, 0.1)))
        slot_h = max(1, int(h * rng.uniform(0.1, 0.25)))
        cols, rows = int(rng.integers(3, 10)), int(rng.integers(1, 4))
        x0, y0 = int(w * rng.uniform(0.05, 0.4)), int(h * rng.uniform(0.1, 0.5))
        for r in range(rows):
            for c in range(cols):
                x, y = x0 + int(c * slot_w * 1.8), y0 + int(r * slot_h * 1.6)
                cv2.rectangle(panel, (x, y), (x + slot_w, y + slot_h), dark.tolist(), -1)
    elif style == 'frame':  # a dark border, as on doors and sheet-metal covers
        t = max(1, int(min(w, h) * rng.uniform(0.03, 0.12)))
        cv2.rectangle(panel, (0, 0), (w - 1, h - 1), dark.tolist(), t)
    elif style == 'stripes':  # parallel lines (planks, corrugation, hazard-free markings)
        step = max(3, int(min(w, h) * rng.uniform(0.08, 0.3)))
        for k in range(0, w, step):
            cv2.line(panel, (k, 0), (k, h - 1), dark.tolist(), max(1, step // 4))
    elif style == 'print':  # text-like blocks, as on signs and printed sheets
        for _ in range(int(rng.integers(2, 8))):
            bw, bh = int(w * rng.uniform(0.1, 0.5)), max(1, int(h * rng.uniform(0.03, 0.12)))
            x, y = int(rng.uniform(0, max(1, w - bw))), int(rng.uniform(0, max(1, h - bh)))
            cv2.rectangle(panel, (x, y), (x + bw, y + bh), dark.tolist(), -1)
    panel += rng.normal(0, rng.uniform(1, 5), panel.shape).astype(np.float32)
    panel = np.clip(panel, 0, 255).astype(np.uint8)
    src = np.array([[0, h], [0, 0], [w, 0], [w, h]], dtype=np.float32)
    # cv2.boxPoints order: (-w/2, +h/2), (-w/2, -h/2), (+w/2, -h/2), (+w/2, +h/2) in the
    # rectangle's own frame, i.e. the panel's bottom-left, top-left, top-right, bottom-right.
    dst = np.asarray(shape['corners'], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    height, width = img.shape[:2]
    warped = cv2.warpPerspective(panel, matrix, (width, height), flags=cv2.INTER_LINEAR)
    inside = np.zeros((height, width), np.uint8)
    cv2.fillPoly(inside, [np.round(shape['corners']).astype(np.int32)], 1)
    img[inside.astype(bool)] = warped[inside.astype(bool)]
