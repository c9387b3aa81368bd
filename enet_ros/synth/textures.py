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

"""Procedural textures: cardboard with tape, prints, labels and barcodes; wood; floors; clutter.

A :class:`Texture` is a (h, w, 4) float32 image in *linear* RGB albedo (0..1) plus a gloss
channel (0..1, specular weight), laid over a face's (u, v) coordinates in metres. Face (u, v)
conventions (see :func:`enet_ros.synth.render.face_uv`): on a top face u runs along the local x
(long) edge and v along local y; on side faces v runs down from the top edge.

Drawing uses OpenCV (rectangles, polygons, Hershey text) and noise is Gaussian random grids
upsampled with ``cv2.resize``, so every texture is a deterministic function of its material seed.
"""

from __future__ import annotations

import math
from typing import Dict, Sequence, Tuple

import cv2
from enet_ros.synth.scene import Material
import numpy as np

FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN,
         cv2.FONT_HERSHEY_COMPLEX)
MAX_TEXTURE_PX = 1024
MAX_FLOOR_PX = 720
_TEXT_H: Dict[int, int] = {}


def srgb_to_linear(rgb: Sequence[float]) -> np.ndarray:
    """Convert sRGB 0..255 (any shape ending in 3) to linear 0..1 float32 (gamma 2.2)."""
    return (np.clip(np.asarray(rgb, np.float32) / 255.0, 0.0, 1.0) ** 2.2).astype(np.float32)


class Texture:
    """A texture laid over (u, v) metres of a face.

    Attributes:
        image: (h, w, 4) float32, linear RGB albedo 0..1 and gloss 0..1.
        texel_u: Texel size along u, metres.
        texel_v: Texel size along v, metres.
        origin: (u0, v0) of the texel grid's corner, metres.
        wrap: OpenCV border mode used outside the image.
    """

    def __init__(self, image: np.ndarray, texel_u: float, texel_v: float,
                 origin: Tuple[float, float] = (0.0, 0.0), wrap: int = cv2.BORDER_REPLICATE):
        """Wrap ``image`` (see the class attributes)."""
        self.image = np.ascontiguousarray(image, np.float32)
        self.texel_u = float(texel_u)
        self.texel_v = float(texel_v)
        self.origin = (float(origin[0]), float(origin[1]))
        self.wrap = wrap

    def sample(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Bilinearly sample at face coordinates.

        Args:
            u: (n,) float, metres.
            v: (n,) float, metres.

        Returns:
            (n, 4) float32: linear RGB albedo and gloss.
        """
        n = u.shape[0]
        if n == 0:
            return np.zeros((0, 4), np.float32)
        cols = 1024
        rows = (n + cols - 1) // cols
        mx = np.zeros(rows * cols, np.float32)
        my = np.zeros(rows * cols, np.float32)
        mx[:n] = (u - self.origin[0]) / self.texel_u - 0.5
        my[:n] = (v - self.origin[1]) / self.texel_v - 0.5
        out = cv2.remap(self.image, mx.reshape(rows, cols), my.reshape(rows, cols),
                        cv2.INTER_LINEAR, borderMode=self.wrap)
        return out.reshape(rows * cols, 4)[:n]


def fbm(rng: np.random.Generator, h: int, w: int, cells: Sequence[Tuple[float, float]],
        amps: Sequence[float]) -> np.ndarray:
    """Sum of upsampled Gaussian grids (value-noise octaves).

    Args:
        rng: Random generator.
        h: Output rows.
        w: Output columns.
        cells: Per octave (cell_rows, cell_cols) in output pixels (anisotropy allowed).
        amps: Per octave amplitude.

    Returns:
        (h, w) float32, zero mean, standard deviation about sqrt(sum(amps**2)).
    """
    out = np.zeros((h, w), np.float32)
    for (ch, cw), a in zip(cells, amps):
        gh = max(2, int(h / max(ch, 1e-3)) + 2)
        gw = max(2, int(w / max(cw, 1e-3)) + 2)
        g = rng.standard_normal((gh, gw)).astype(np.float32)
        out += a * cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    return out


def _canvas(u_m: float, v_m: float, texel: float) -> Tuple[int, int]:
    w = int(min(MAX_TEXTURE_PX, max(2, math.ceil(u_m / texel))))
    h = int(min(MAX_TEXTURE_PX, max(2, math.ceil(v_m / texel))))
    return h, w


def _fill(h: int, w: int, rgb_lin: np.ndarray, gloss: float = 0.0) -> np.ndarray:
    img = np.empty((h, w, 4), np.float32)
    img[..., :3] = rgb_lin
    img[..., 3] = gloss
    return img


def _blend(img: np.ndarray, mask: np.ndarray, x0: int, y0: int, rgb_lin: np.ndarray,
           gloss: float = 0.0) -> None:
    """Paint ``rgb_lin`` through ``mask`` (float 0..1, (mh, mw)) at column x0, row y0, clipped."""
    h, w = img.shape[:2]
    mh, mw = mask.shape
    xa, ya = max(0, x0), max(0, y0)
    xb, yb = min(w, x0 + mw), min(h, y0 + mh)
    if xa >= xb or ya >= yb:
        return
    a = mask[ya - y0:yb - y0, xa - x0:xb - x0, None]
    region = img[ya:yb, xa:xb]
    region[..., :3] = region[..., :3] * (1.0 - a) + np.asarray(rgb_lin, np.float32) * a
    region[..., 3:] = region[..., 3:] * (1.0 - a) + gloss * a


def _text_mask(text: str, height_px: float, thick_frac: float, font: int) -> np.ndarray:
    """Return a float mask (0..1) with ``text`` in a Hershey font about ``height_px`` tall."""
    if height_px < 4:  # unreadable at this size: print a grey smudge of the same extent
        w = max(1, int(round(len(text) * height_px * 0.7)))
        return np.full((max(1, int(round(height_px))), w), 0.55, np.float32)
    if font not in _TEXT_H:
        _TEXT_H[font] = cv2.getTextSize('H', font, 1.0, 1)[0][1]
    base_h = _TEXT_H[font]
    scale = height_px / max(base_h, 1)
    thick = max(1, int(round(height_px * thick_frac)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    pad = thick + 2
    canvas = np.zeros((th + base + 2 * pad, tw + 2 * pad), np.uint8)
    cv2.putText(canvas, text, (pad, pad + th), font, scale, 255, thick, cv2.LINE_AA)
    return canvas.astype(np.float32) / 255.0


def _barcode_mask(bars: Sequence[int], w_px: int, h_px: int) -> np.ndarray:
    widths = np.asarray(list(bars), int)
    pattern = np.repeat(np.arange(widths.size) % 2 == 0, widths).astype(np.float32)
    row = cv2.resize(pattern[None, :], (max(2, w_px), 1), interpolation=cv2.INTER_AREA)
    return np.repeat(row, max(2, h_px), axis=0)


def _shape_mask(shape: str, s: int) -> np.ndarray:
    s = max(4, s)
    m = np.zeros((s, s), np.uint8)
    t = max(1, s // 12)
    c = s // 2
    if shape == 'circle':
        cv2.circle(m, (c, c), c - t, 255, t, cv2.LINE_AA)
        cv2.circle(m, (c, c), max(1, s // 5), 255, -1, cv2.LINE_AA)
    elif shape == 'triangle':
        pts = np.array([[c, t], [s - t, s - t], [t, s - t]], np.int32)
        cv2.polylines(m, [pts], True, 255, t, cv2.LINE_AA)
        cv2.line(m, (c, s // 3), (c, 2 * s // 3), 255, t, cv2.LINE_AA)
    elif shape == 'arrows':  # "this way up"
        for x in (s // 3, 2 * s // 3):
            cv2.line(m, (x, s - t), (x, s // 3), 255, max(1, s // 10))
            pts = np.array([[x - s // 7, s // 3], [x + s // 7, s // 3], [x, t]], np.int32)
            cv2.fillPoly(m, [pts], 255)
        cv2.line(m, (t, s - t), (s - t, s - t), 255, max(1, s // 14))
    elif shape == 'recycle':
        cv2.circle(m, (c, c), c - 2 * t, 255, max(1, s // 9), cv2.LINE_AA)
        for k in range(3):
            a = 2 * math.pi * k / 3
            x, y = c + (c - 2 * t) * math.cos(a), c + (c - 2 * t) * math.sin(a)
            tri = np.array([[x + s / 7 * math.cos(a + 1.6), y + s / 7 * math.sin(a + 1.6)],
                            [x - s / 7 * math.cos(a), y - s / 7 * math.sin(a)],
                            [x + s / 7 * math.cos(a), y + s / 7 * math.sin(a)]], np.int32)
            cv2.fillPoly(m, [tri], 255)
    elif shape == 'glass':
        pts = np.array([[s // 4, t], [3 * s // 4, t], [c, s // 2]], np.int32)
        cv2.fillPoly(m, [pts], 255)
        cv2.line(m, (c, s // 2), (c, s - 2 * t), 255, max(1, s // 12))
        cv2.line(m, (s // 3, s - 2 * t), (2 * s // 3, s - 2 * t), 255, max(1, s // 12))
    else:  # square logo with initials-like bars
        cv2.rectangle(m, (t, t), (s - t, s - t), 255, t)
        cv2.rectangle(m, (s // 4, s // 4), (3 * s // 4, s // 2), 255, -1)
    return m.astype(np.float32) / 255.0


def _draw_element(img: np.ndarray, el: Dict, u_m: float, v_m: float, texel: float,
                  flip: bool, rng: np.random.Generator) -> None:
    """Draw one printed element (see ``scene._print_element``) onto a face texture."""
    h, w = img.shape[:2]
    fu, fv = el['pos']
    rot = int(el.get('rot', 0))
    if flip:
        fu, fv, rot = 1.0 - fu, 1.0 - fv, rot + 2
    ink = srgb_to_linear(el['ink']) * float(rng.uniform(0.9, 1.1))
    kind = el['type']
    if kind == 'band':
        y0 = int((fv * v_m - 0.5 * el['h']) / texel)
        cv2.rectangle(img, (0, y0), (w, y0 + max(1, int(el['h'] / texel))),
                      (*[float(c) for c in ink], 0.1), -1)
        return
    if kind == 'text':
        font = FONTS[int(rng.integers(len(FONTS)))]
        mask = _text_mask(el['text'], el['h'] / texel, el.get('thick', 0.12), font)
        alpha = float(rng.uniform(0.75, 0.95))
    elif kind == 'barcode':
        mask = _barcode_mask(el['bars'], int(el['w'] / texel), int(el['h'] / texel))
        alpha = float(rng.uniform(0.8, 0.97))
    elif kind == 'logo':
        mask = _shape_mask(el['shape'], int(el['size'] / texel))
        alpha = float(rng.uniform(0.7, 0.95))
    elif kind == 'label':
        lw, lh = max(4, int(el['w'] / texel)), max(4, int(el['h'] / texel))
        label = np.zeros((lh, lw, 4), np.float32)
        label[..., :3] = srgb_to_linear(el['paper'])
        label[..., 3] = 0.25
        for k in range(int(el['lines'])):
            y = int((0.12 + 0.5 * k / max(1, el['lines'])) * lh)
            x1 = int(lw * float(rng.uniform(0.3, 0.9)))
            cv2.line(label, (int(0.08 * lw), y), (x1, y), (0.02, 0.02, 0.02, 0.2),
                     max(1, lh // 28))
        bc = _barcode_mask(el['bars'], int(0.8 * lw), max(2, int(0.3 * lh)))
        _blend(label, bc, int(0.1 * lw), int(0.62 * lh), np.array([0.01, 0.01, 0.01]), 0.2)
        label = np.rot90(label, rot % 4)
        x0 = int(fu * w - label.shape[1] / 2)
        y0 = int(fv * h - label.shape[0] / 2)
        xa, ya = max(0, x0), max(0, y0)  # paste the opaque paper label, clipped to the face
        xb, yb = min(w, x0 + label.shape[1]), min(h, y0 + label.shape[0])
        if xa < xb and ya < yb:
            img[ya:yb, xa:xb] = label[ya - y0:yb - y0, xa - x0:xb - x0]
        return
    else:
        return
    mask = np.ascontiguousarray(np.rot90(mask, rot % 4))
    x0 = int(fu * w - mask.shape[1] / 2)
    y0 = int(fv * h - mask.shape[0] / 2)
    _blend(img, mask * alpha, x0, y0, ink, 0.05)


def _edge_band(img: np.ndarray, width_px: float, factor: float) -> None:
    """Multiply the albedo within ``width_px`` of the texture border by ``1 + factor``."""
    h, w = img.shape[:2]
    if width_px < 0.5 or factor == 0.0:
        return
    n = int(min(math.ceil(width_px), h // 2, w // 2))
    for i in range(n):  # ring i (0 = outermost): rows i and h-1-i, columns i and w-1-i
        f = 1.0 + factor * max(0.0, 1.0 - i / width_px)
        img[i, i:w - i, :3] *= f
        img[h - 1 - i, i:w - i, :3] *= f
        img[i + 1:h - 1 - i, i, :3] *= f
        img[i + 1:h - 1 - i, w - 1 - i, :3] *= f


def _cardboard_base(rng: np.random.Generator, h: int, w: int, style: Dict, jitter: float,
                    texel: float) -> np.ndarray:
    base = srgb_to_linear(style['base']) * (1.0 + jitter)
    cell = 0.06 / texel
    lum = 1.0 + style['mottle'] * fbm(rng, h, w, [(cell * 3, cell * 3), (cell, cell)], [0.7, 0.5])
    lum += 0.015 * rng.standard_normal((h, w), dtype=np.float32)
    if style['stains'] > 0.05:
        st = fbm(rng, h, w, [(cell * 1.5, cell * 1.5)], [1.0])
        lum *= 1.0 - np.clip(st - 1.8 + style['stains'], 0.0, 1.0) * 0.12 * style['stains']
    img = np.empty((h, w, 4), np.float32)
    tint = float(rng.normal(0.0, 0.015))
    img[..., 0] = lum * (base[0] * (1.0 + tint))
    img[..., 1] = lum * base[1]
    img[..., 2] = lum * (base[2] * (1.0 - tint))
    img[..., 3] = 0.02
    return img


def _carton_top(rng: np.random.Generator, p: Dict, u_m: float, v_m: float, texel: float
                ) -> np.ndarray:
    style = p['style']
    h, w = _canvas(u_m, v_m, texel)
    texel_u, texel_v = u_m / w, v_m / h
    img = _cardboard_base(rng, h, w, style, 0.0, texel)
    base = srgb_to_linear(style['base'])
    tape = style['tape']
    yc = 0.5 * h + tape['offset'] / texel_v
    if style['seam']:  # the two major flaps meet along the long axis
        t = max(1, int(round(0.0015 / texel_v)))
        cv2.line(img, (0, int(yc)), (w, int(yc)), (*(base * 0.45).tolist(), 0.0), t)
    if style.get('flap_lines'):
        for x in (0.006, u_m - 0.006):
            cv2.line(img, (int(x / texel_u), 0), (int(x / texel_u), h),
                     (*(base * 0.8).tolist(), 0.0), 1)
    for el in style['top_prints']:
        _draw_element(img, el, u_m, v_m, texel, False, rng)
    if tape['kind'] != 'none':
        tw = tape['width'] / texel_v
        y0, y1 = int(round(yc - 0.5 * tw)), int(round(yc + 0.5 * tw))
        _tape(img, rng, tape, (0, y0, w, y1), base)
        if tape['h_tape']:
            tw_u = int(0.6 * tape['width'] / texel_u)
            _tape(img, rng, tape, (0, 0, tw_u, h), base)
            _tape(img, rng, tape, (w - tw_u, 0, w, h), base)
    if rng.random() > 0.6:  # creases
        for _ in range(int(rng.integers(1, 4))):
            pts = rng.uniform(0, 1, (2, 2)) * [w, h]
            cv2.line(img, tuple(int(v) for v in pts[0]), tuple(int(v) for v in pts[1]),
                     (*(base * 0.85).tolist(), 0.0), 1, cv2.LINE_AA)
    _edge_band(img, style['edge_w'] / texel, style['edge'])
    return img


def _tape(img: np.ndarray, rng: np.random.Generator, tape: Dict, rect: Tuple[int, int, int, int],
          base: np.ndarray) -> None:
    x0, y0, x1, y1 = rect
    x0, y0 = max(0, x0), max(0, y0)
    if x1 <= x0 or y1 <= y0:
        return
    region = img[y0:y1, x0:x1]
    if tape['kind'] == 'clear':
        tint = srgb_to_linear(tape['color']) / np.maximum(base, 1e-3)
        region[..., :3] *= np.clip(0.5 + 0.45 * tint, 0.7, 1.15)
        region[..., 3] = 0.45
    else:
        col = srgb_to_linear(tape['color'])
        region[..., :3] = col * (1.0 + 0.02 * rng.standard_normal(region.shape[:2] + (1,)))
        region[..., 3] = 0.35
        if tape['kind'] == 'printed' and region.shape[0] > 6 and region.shape[1] > 6:
            # Printed tape: short words repeated along the strip (drawn as thin ink blocks).
            ink = srgb_to_linear([(180, 30, 30), (30, 50, 140), (30, 30, 30)][
                int(rng.integers(3))])
            long_ax = 1 if region.shape[1] > region.shape[0] else 0
            across = region.shape[1 - long_ax]
            step = max(6, 3 * across)
            for k in range(step // 4, region.shape[long_ax], step):
                a0, a1 = int(across * 0.35), int(across * 0.62)
                if long_ax == 1:
                    cv2.rectangle(region, (k, a0), (k + step // 3, a1), (*ink.tolist(), 0.3), -1)
                else:
                    cv2.rectangle(region, (a0, k), (a1, k + step // 3), (*ink.tolist(), 0.3), -1)
    # Slightly visible tape edges.
    edge = (*(np.mean(region[..., :3], axis=(0, 1)) * 0.85).tolist(), 0.3)
    if region.shape[1] >= region.shape[0]:
        cv2.line(region, (0, 0), (region.shape[1], 0), edge, 1)
        cv2.line(region, (0, region.shape[0] - 1), (region.shape[1], region.shape[0] - 1), edge, 1)
    else:
        cv2.line(region, (0, 0), (0, region.shape[0]), edge, 1)
        cv2.line(region, (region.shape[1] - 1, 0), (region.shape[1] - 1, region.shape[0]), edge, 1)


def _carton_side(rng: np.random.Generator, p: Dict, group: str, u_m: float, v_m: float,
                 texel: float) -> np.ndarray:
    style = p['style']
    h, w = _canvas(u_m, v_m, texel)
    texel_u, texel_v = u_m / w, v_m / h
    img = _cardboard_base(rng, h, w, style, -0.02, texel)
    base = srgb_to_linear(style['base'])
    for y in (0.004, v_m - 0.004):  # flap score lines along the top and bottom edges
        cv2.line(img, (0, int(y / texel_v)), (w, int(y / texel_v)), (*(base * 0.8).tolist(), 0.0),
                 1)
    if group == 'side_y':
        for el in style['side_prints']:
            _draw_element(img, el, u_m, v_m, texel, False, rng)
    elif style['side_prints'] and rng.random() < 0.5:
        _draw_element(img, style['side_prints'][0], u_m, v_m, texel, False, rng)
    tape = style['tape']
    if group == 'side_x' and tape['kind'] != 'none':  # the top tape runs down the short sides
        drop = int(min(v_m, float(rng.uniform(0.04, 0.08))) / texel_v)
        xc = 0.5 * w + tape['offset'] / texel_u
        tw = tape['width'] / texel_u
        _tape(img, rng, tape, (int(round(xc - 0.5 * tw)), 0, int(round(xc + 0.5 * tw)), drop),
              base)
    _edge_band(img, style['edge_w'] / texel, style['edge'] * 0.7)
    return img


def _wood(rng: np.random.Generator, p: Dict, u_m: float, v_m: float, texel: float
          ) -> np.ndarray:
    h, w = _canvas(u_m, v_m, texel)
    base = srgb_to_linear(p['base']) * float(rng.uniform(0.88, 1.1))
    img = _fill(h, w, base, 0.0)
    grain = fbm(rng, h, w, [(0.004 / texel, 0.2 / texel), (0.0015 / texel, 0.05 / texel)],
                [1.0, 0.6])
    lum = 1.0 + p['grain'] * grain + 0.05 * fbm(rng, h, w, [(0.1 / texel, 0.1 / texel)], [1.0])
    img[..., :3] *= lum[..., None]
    for _ in range(int(p['knots'])):
        c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        ax = (max(1, int(rng.uniform(0.006, 0.02) / texel)), max(1, int(0.006 / texel)))
        cv2.ellipse(img, c, ax, 0, 0, 360, (*(base * 0.45).tolist(), 0.0), -1, cv2.LINE_AA)
    _edge_band(img, 0.004 / texel, -0.15)
    return img


def _plain(rng: np.random.Generator, p: Dict, u_m: float, v_m: float, texel: float,
           gloss: float, noise: float) -> np.ndarray:
    h, w = _canvas(u_m, v_m, texel)
    img = _fill(h, w, srgb_to_linear(p['base']), gloss)
    img[..., :3] *= (1.0 + fbm(rng, h, w, [(0.05 / texel, 0.05 / texel), (2.0, 2.0)],
                               [noise, noise * 0.4]))[..., None]
    return img


def _cabinet_top(rng: np.random.Generator, p: Dict, u_m: float, v_m: float, texel: float
                 ) -> np.ndarray:
    img = _plain(rng, p, u_m, v_m, texel, 0.2, 0.02)
    h, w = img.shape[:2]
    dark = (0.01, 0.01, 0.012, 0.1)
    rim = max(1, int(float(rng.uniform(0.01, 0.04)) / texel))
    cv2.rectangle(img, (0, 0), (w - 1, h - 1), dark, rim)
    if rng.random() < 0.7:  # vent slots
        x0, y0 = int(w * rng.uniform(0.1, 0.5)), int(h * rng.uniform(0.1, 0.5))
        sw, sh = max(2, int(0.06 / texel)), max(1, int(0.008 / texel))
        for r in range(int(rng.integers(2, 6))):
            for c in range(int(rng.integers(2, 6))):
                x, y = x0 + c * int(sw * 1.4), y0 + r * int(sh * 3)
                cv2.rectangle(img, (x, y), (x + sw, y + sh), dark, -1)
    if rng.random() < 0.5:  # emergency stop
        c = (int(w * rng.uniform(0.1, 0.9)), int(h * rng.uniform(0.1, 0.9)))
        r = max(2, int(0.03 / texel))
        cv2.circle(img, c, int(r * 1.5), (*srgb_to_linear((230, 200, 20)).tolist(), 0.2), -1)
        cv2.circle(img, c, r, (*srgb_to_linear((200, 20, 20)).tolist(), 0.5), -1)
    return img


def _crate_top(rng: np.random.Generator, p: Dict, u_m: float, v_m: float, texel: float
               ) -> np.ndarray:
    img = _plain(rng, p, u_m, v_m, texel, 0.2, 0.03)
    h, w = img.shape[:2]
    rim = max(1, int(0.02 / texel))
    inner = srgb_to_linear(p['base']) * 0.35
    cv2.rectangle(img, (rim, rim), (w - rim, h - rim), (*inner.tolist(), 0.05), -1)
    step = max(3, int(0.04 / texel))
    for x in range(rim, w - rim, step):
        cv2.line(img, (x, rim), (x, h - rim), (*(inner * 1.6).tolist(), 0.05), max(1, step // 6))
    return img


def _hazard(rng: np.random.Generator, p: Dict, u_m: float, v_m: float, texel: float,
            stripe_m: float = 0.05) -> np.ndarray:
    h, w = _canvas(u_m, v_m, texel)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    band = ((xx + yy) * texel / stripe_m).astype(np.int32) % 2 == 0
    img = _fill(h, w, srgb_to_linear(p['base']), 0.15)
    img[band, :3] = srgb_to_linear((25, 25, 25))
    return img


def _round_top(rng: np.random.Generator, kind: str, p: Dict, diameter: float, texel: float
               ) -> np.ndarray:
    img = _plain(rng, p, diameter, diameter, texel, 0.2, 0.02)
    h, w = img.shape[:2]
    c = (w // 2, h // 2)
    r = min(c)
    if kind == 'roll':  # tape roll: cardboard core and a hole
        cv2.circle(img, c, int(r * 0.62), (*srgb_to_linear((185, 150, 110)).tolist(), 0.0), -1)
        cv2.circle(img, c, int(r * 0.52), (0.01, 0.01, 0.01, 0.0), -1)
    elif kind == 'bucket':
        cv2.circle(img, c, int(r * 0.88), (*(srgb_to_linear(p['base']) * 0.3).tolist(), 0.1),
                   -1)
    else:  # barrel lid with bungs
        cv2.circle(img, c, int(r * 0.92), (*(srgb_to_linear(p['base']) * 0.8).tolist(), 0.2), 2)
        for k in (-1, 1):
            cv2.circle(img, (c[0] + k * r // 2, c[1]), max(1, r // 8), (0.02, 0.02, 0.02, 0.2),
                       -1)
    return img


def _floor(rng: np.random.Generator, p: Dict, extent: Tuple[float, float, float, float]
           ) -> Texture:
    """Floor texture over world ``extent`` = (x0, y0, x1, y1) metres (u = x, v = y)."""
    x0, y0, x1, y1 = extent
    span = max(x1 - x0, y1 - y0, 0.1)
    texel = max(0.003, span / MAX_FLOOR_PX)
    w = int(max(2, math.ceil((x1 - x0) / texel)))
    h = int(max(2, math.ceil((y1 - y0) / texel)))
    base = srgb_to_linear(p['base'])
    kind = p['type']
    img = _fill(h, w, base, 0.05)
    if kind == 'osb':  # oriented strand board: blocky flakes, warped by smooth noise
        tones = np.zeros((h, w), np.float32)
        for cell, amp in ((0.035, 0.06), (0.015, 0.04)):
            gh, gw = max(2, int(h * texel / cell)), max(2, int(w * texel / (cell * 2.5)))
            g = rng.standard_normal((gh, gw)).astype(np.float32)
            tones += amp * cv2.resize(g, (w, h), interpolation=cv2.INTER_NEAREST)
        mx, my = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        disp = fbm(rng, h, w, [(0.03 / texel, 0.03 / texel)], [0.008 / texel])
        tones = cv2.remap(tones, mx + disp, my - disp, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
        img[..., :3] *= (1.0 + tones)[..., None]
        for k in range(int(x0 // 1.22), int(x1 // 1.22) + 1):  # panel seams
            x = int((k * 1.22 - x0) / texel)
            cv2.line(img, (x, 0), (x, h), (*(base * 0.5).tolist(), 0.0), 1)
    elif kind == 'wood':
        plank = float(rng.uniform(0.1, 0.2))
        grain = fbm(rng, h, w, [(0.005 / texel, 0.3 / texel)], [0.08])
        rows = ((np.arange(h) * texel + y0) // plank).astype(np.int64)
        shade = 1.0 + 0.08 * np.sin(rows * 12.9898 + float(rng.uniform(0, 6))).astype(np.float32)
        img[..., :3] *= ((1.0 + grain) * shade[:, None])[..., None]
        for r in np.unique(rows):
            y = int(((r * plank) - y0) / texel)
            cv2.line(img, (0, y), (w, y), (*(base * 0.45).tolist(), 0.0), 1)
    else:
        amp = 0.06 if kind == 'concrete' else 0.03
        lum = fbm(rng, h, w, [(0.5 / texel, 0.5 / texel), (0.1 / texel, 0.1 / texel),
                              (2.0, 2.0)], [amp, amp * 0.6, amp * 0.5])
        img[..., :3] *= (1.0 + lum)[..., None]
        if kind == 'epoxy':
            img[..., 3] = 0.25
        for _ in range(int(rng.integers(0, 6))):  # scratches / joints
            a = rng.uniform(0, 1, (2, 2)) * [w, h]
            cv2.line(img, tuple(int(v) for v in a[0]), tuple(int(v) for v in a[1]),
                     (*(base * float(rng.uniform(0.6, 1.2))).tolist(), 0.05), 1, cv2.LINE_AA)
    if p['debris'] > 0.5:  # stains and scraps
        st = fbm(rng, h, w, [(0.3 / texel, 0.3 / texel)], [1.0])
        img[..., :3] *= (1.0 - 0.15 * np.clip(st - 1.2, 0.0, 1.0))[..., None]
        for _ in range(int(rng.integers(0, 12))):
            c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            r = max(1, int(rng.uniform(0.005, 0.03) / texel))
            col = srgb_to_linear(rng.uniform(40, 240, 3))
            cv2.circle(img, c, r, (*col.tolist(), 0.0), -1)
    for mark in p['marks']:
        n = np.array([math.cos(mark['angle']), math.sin(mark['angle'])])
        xs = (np.arange(w, dtype=np.float32) + 0.5) * texel + x0
        ys = (np.arange(h, dtype=np.float32) + 0.5) * texel + y0
        d = xs[None, :] * n[0] + ys[:, None] * n[1] - mark['offset']
        band = np.abs(d) < 0.5 * mark['width'] * (2.0 if mark['type'] == 'hazard' else 1.0)
        if mark['type'] == 'hazard':
            t = -xs[None, :] * n[1] + ys[:, None] * n[0]
            stripe = (np.floor((t + d) / 0.05).astype(np.int64) % 2) == 0
            img[band & stripe, :3] = srgb_to_linear(mark['color'])
            img[band & ~stripe, :3] = srgb_to_linear((22, 22, 22))
        else:
            img[band, :3] = srgb_to_linear(mark['color'])
        img[band, 3] = 0.2
    for _ in range(int(p['cables'])):  # smooth cable: integrate a slowly turning heading
        heading = float(rng.uniform(0, 2 * math.pi)) + np.cumsum(rng.normal(0.0, 0.12, 80))
        steps = 0.03 * np.stack([np.cos(heading), np.sin(heading)], axis=1)
        pts = np.cumsum(steps, axis=0) + rng.uniform([x0, y0], [x1, y1])
        pts = ((pts - [x0, y0]) / texel).astype(np.int32)
        col = srgb_to_linear([(20, 20, 22), (30, 30, 140), (200, 200, 200), (30, 30, 30)][
            int(rng.integers(4))])
        cv2.polylines(img, [pts], False, (*col.tolist(), 0.3),
                      max(1, int(float(rng.uniform(0.006, 0.015)) / texel)), cv2.LINE_AA)
    return Texture(img, texel, texel, (x0, y0), cv2.BORDER_REFLECT101)


def texture_seed(material: Material) -> Tuple[int, ...]:
    """Seed words of a material's textures.

    Cartons of one style share a few texture variants (their per-box colour jitter and 180-degree
    flip are applied when shading), so a pallet of identical cartons needs few textures.
    """
    if material.kind == 'carton':
        return (int(material.params['style']['key']), int(material.params['variant']))
    return (int(material.seed),)


def make_texture(material: Material, group: str, u_m: float, v_m: float, texel: float
                 ) -> Texture:
    """Build the texture of one face group of an object.

    Args:
        material: The object's material (kind, parameters, seed; see :func:`texture_seed`).
        group: 'top' (the +z and -z faces), 'side_x' (the +-x faces), 'side_y' (the +-y faces),
            'side' (a cylinder's mantle) or 'floor'.
        u_m: Face extent along u, metres (for 'floor': ignored, see :func:`floor_texture`).
        v_m: Face extent along v, metres.
        texel: Desired texel size, metres.

    Returns:
        The texture; deterministic for a given :func:`texture_seed`, group and sizes.
    """
    code = {'top': 1, 'side_x': 2, 'side_y': 3, 'side': 4}[group]
    p = material.params
    seed = texture_seed(material)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([*seed, code])))
    kind = material.kind
    if kind == 'carton':
        img = (_carton_top(rng, p, u_m, v_m, texel) if group == 'top'
               else _carton_side(rng, p, group, u_m, v_m, texel))
    elif kind == 'wood':
        img = _wood(rng, p, u_m, v_m, texel)
    elif kind == 'plastic_pallet':
        img = _plain(rng, p, u_m, v_m, texel, 0.1, 0.04)
        if group == 'top':
            h, w = img.shape[:2]
            step = max(3, int(0.035 / texel))
            for y in range(step // 2, h, step):
                for x in range(step // 2, w, step):
                    cv2.rectangle(img, (x, y), (x + step // 2, y + step // 3),
                                  (0.005, 0.005, 0.005, 0.0), -1)
    elif kind in ('metal', 'roller'):
        img = _plain(rng, p, u_m, v_m, texel, 0.5, 0.03)
        if kind == 'roller' and group == 'top':
            w = img.shape[1]
            x = (np.arange(w, dtype=np.float32) + 0.5) / w * 2.0 - 1.0
            img[..., :3] *= (1.0 - 0.6 * x * x)[None, :, None]
    elif kind == 'rubber':
        img = _plain(rng, p, u_m, v_m, texel, 0.05, 0.05)
        h, w = img.shape[:2]
        streak = fbm(rng, h, w, [(0.003 / texel, 1.0 / texel)], [0.08])
        img[..., :3] *= (1.0 + streak)[..., None]
    elif kind == 'cabinet':
        img = (_cabinet_top(rng, p, u_m, v_m, texel) if group == 'top'
               else _plain(rng, p, u_m, v_m, texel, 0.2, 0.02))
    elif kind == 'crate':
        img = (_crate_top(rng, p, u_m, v_m, texel) if group == 'top'
               else _plain(rng, p, u_m, v_m, texel, 0.2, 0.04))
    elif kind == 'hazard':
        img = (_hazard(rng, p, u_m, v_m, texel) if group != 'top'
               else _plain(rng, p, u_m, v_m, texel, 0.15, 0.02))
    elif kind in ('roll', 'bucket', 'barrel'):
        img = (_round_top(rng, kind, p, u_m, texel) if group == 'top'
               else _plain(rng, p, u_m, v_m, texel, 0.25, 0.03))
    else:
        img = _plain(rng, p, u_m, v_m, texel, 0.1, 0.04)
    h, w = img.shape[:2]
    # The texel sizes actually used (a canvas is rounded up and may be capped at MAX_TEXTURE_PX).
    return Texture(np.clip(img, 0.0, 1.0), u_m / w, v_m / h,
                   wrap=cv2.BORDER_WRAP if group == 'side' else cv2.BORDER_REPLICATE)


def floor_texture(material: Material, extent: Tuple[float, float, float, float]) -> Texture:
    """Build the floor texture covering world ``extent`` = (x0, y0, x1, y1) metres."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([material.seed, 9])))
    tex = _floor(rng, material.params, extent)
    tex.image = np.clip(tex.image, 0.0, 1.0)
    return tex
