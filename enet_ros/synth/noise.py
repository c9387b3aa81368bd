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

"""Sensor models: a colour camera pipeline and RealSense D4xx-like depth errors and holes.

Depth model (all in the colour camera's pixel grid, i.e. "aligned depth"):

* axial noise with standard deviation ``k * z**2`` (``k`` in mm per m**2, about 1-2 mm at 1 m),
  part spatially correlated, part per pixel;
* stereo occlusion holes: a pixel is invalid when a nearer surface to its right hides it from the
  second imager (baseline ``B``, disparity ``fx * B / z``), which also produces the invalid band
  along the left image border;
* invalid or mixed ("flying") pixels along depth discontinuities, dropouts on grazing and on very
  dark surfaces, random blobs and speckle;
* quantisation to millimetres (uint16), 0 meaning "no data".
"""

from __future__ import annotations

from typing import Dict, Optional

import cv2
import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def _smooth_field(rng: np.random.Generator, h: int, w: int, cell_px: float) -> np.ndarray:
    gh, gw = max(2, int(h / cell_px) + 2), max(2, int(w / cell_px) + 2)
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)


def color_pipeline(radiance: np.ndarray, rng: np.random.Generator, params: Dict,
                   focus: Optional[np.ndarray] = None) -> np.ndarray:
    """Turn linear scene radiance into an 8-bit camera image.

    Auto exposure (on ``focus`` pixels if given), auto and manual white balance, vignetting,
    gamma, saturation, optical blur, shot and read noise, optional JPEG round trip.

    Args:
        radiance: (H, W, 3) float32 linear RGB radiance (arbitrary scale).
        rng: Random generator.
        params: Sensor parameters (``Scene.extras``): exposure_target, overexpose, wb (gains),
            awb (grey-world auto white balance strength 0..1), saturation, gamma, vignette,
            blur_sigma (pixels at 640 px width), noise_sigma (8-bit levels), jpeg_quality
            (0 = none).
        focus: Optional (H, W) bool; exposure is metered on these pixels (the cartons).

    Returns:
        (H, W, 3) uint8 RGB.
    """
    h, w = radiance.shape[:2]
    lum = cv2.transform(radiance, LUMA[None, :])
    sel = focus if focus is not None and int(focus.sum()) > 50 else np.ones((h, w), bool)
    ref = float(np.mean(lum[sel]))
    gamma = float(params.get('gamma', 2.2))
    gain = float(params.get('exposure_target', 0.55)) ** gamma / max(ref, 1e-5)
    if params.get('overexpose'):
        gain *= float(rng.uniform(1.3, 1.9))
    wb = np.asarray(params.get('wb', (1.0, 1.0, 1.0)), np.float32)
    awb = float(params.get('awb', 0.0))
    if awb > 0:  # grey-world auto white balance of partial strength (beige scenes turn grey)
        means = np.maximum(radiance.reshape(-1, 3).mean(axis=0), 1e-6)
        wb = wb * (float(means @ LUMA) / means) ** np.float32(awb)
    x = radiance * (gain * wb.astype(np.float32))
    vig = float(params.get('vignette', 0.0))
    if vig > 0:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xx - 0.5 * w) ** 2 + (yy - 0.5 * h) ** 2) / (0.25 * (w * w + h * h))
        x *= (1.0 - vig * r2)[..., None]
    y = np.clip(x, 0.0, 1.0) ** np.float32(1.0 / gamma)
    sat = float(params.get('saturation', 1.0))
    gray = cv2.transform(y, LUMA[None, :])[..., None]
    y = np.clip(gray + sat * (y - gray), 0.0, 1.0)
    sigma = float(params.get('blur_sigma', 0.5)) * w / 640.0
    if sigma > 0.2:
        y = cv2.GaussianBlur(y, (0, 0), sigma)
    ns = float(params.get('noise_sigma', 1.5)) / 255.0
    y = y + rng.standard_normal((h, w, 3), dtype=np.float32) * np.float32(ns) * (
        0.5 + np.sqrt(np.maximum(y, 0.0)))
    rgb = np.clip(np.round(y * 255.0), 0, 255).astype(np.uint8)
    q = int(params.get('jpeg_quality', 0))
    if q > 0:
        ok, buf = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            rgb = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return rgb


def stereo_occlusion(depth_m: np.ndarray, fx: float, baseline_m: float) -> np.ndarray:
    """Pixels that the second imager of a horizontal stereo pair cannot see.

    The second imager sits ``baseline_m`` to the right (+x). A pixel at column u with disparity
    ``d = fx * B / z`` appears at ``u - d`` there; it is hidden when a pixel further right maps
    at or left of that position (a nearer surface), or when ``u - d < 0`` (outside the second
    image: the left invalid band of RealSense depth).

    Args:
        depth_m: (H, W) float32 depth z in metres, 0 where there is no surface.
        fx: Focal length in pixels.
        baseline_m: Stereo baseline in metres.

    Returns:
        (H, W) bool, True where the depth would be invalid.
    """
    h, w = depth_m.shape
    valid = depth_m > 0
    disp = np.where(valid, fx * baseline_m / np.where(valid, depth_m, 1.0), 0.0)
    pos = np.where(valid, np.arange(w, dtype=np.float32)[None, :] - disp, np.inf)
    suffix = np.minimum.accumulate(pos[:, ::-1], axis=1)[:, ::-1]
    right_min = np.full_like(pos, np.inf)
    right_min[:, :-1] = suffix[:, 1:]
    return valid & ((right_min < pos - 0.5) | (pos < 0.0))


def realsense_depth(depth_m: np.ndarray, rng: np.random.Generator, params: Dict, fx: float,
                    cos_view: Optional[np.ndarray] = None, albedo: Optional[np.ndarray] = None
                    ) -> np.ndarray:
    """Degrade an exact depth image like a RealSense D4xx and quantise it to millimetres.

    Args:
        depth_m: (H, W) float32 exact depth z (camera optical frame), metres; 0 = no surface.
        rng: Random generator.
        params: ``Scene.extras``: depth_k_mm (noise mm at 1 m, grows with z**2), baseline_m,
            dropout_frac, speckle_p, edge_invalid_p.
        fx: Focal length in pixels (of the aligned, colour image grid).
        cos_view: Optional (H, W) float32 |cos| of the angle between surface normal and ray.
        albedo: Optional (H, W) float32 linear albedo luminance (dark surfaces drop out).

    Returns:
        (H, W) uint16 depth in millimetres, 0 = invalid (no data).
    """
    h, w = depth_m.shape
    z = depth_m.astype(np.float32)
    valid = (z > 0.2) & (z < 10.0)
    k = float(params.get('depth_k_mm', 1.5)) * 1e-3
    sigma = np.float32(k) * z * z
    corr = _smooth_field(rng, h, w, max(2.0, 8.0 * w / 640.0))
    white = rng.standard_normal((h, w), dtype=np.float32)
    zn = z + sigma * (0.75 * corr + 0.6 * white)
    invalid = ~valid | stereo_occlusion(np.where(valid, z, 0.0), fx,
                                        float(params.get('baseline_m', 0.05)))
    # Depth discontinuities: mixed ("flying") pixels or holes.
    zp = np.pad(z, 1, mode='edge')
    jump = np.maximum.reduce([np.abs(zp[1:-1, 2:] - z), np.abs(zp[1:-1, :-2] - z),
                              np.abs(zp[2:, 1:-1] - z), np.abs(zp[:-2, 1:-1] - z)])
    edge = valid & (jump > 0.02 + 0.01 * z)
    u = rng.random((h, w), dtype=np.float32)
    p_edge = float(params.get('edge_invalid_p', 0.3))
    invalid |= edge & (u < p_edge)
    mixed = edge & (u >= p_edge) & (u < p_edge + 0.3)
    zb = cv2.blur(zn, (3, 3))
    zn = np.where(mixed, zb, zn)
    u2 = rng.random((h, w), dtype=np.float32)
    if cos_view is not None:
        invalid |= valid & (u2 < 1.0 - cos_view / 0.22)
    if albedo is not None:
        invalid |= valid & (u2 < 0.8 * (1.0 - albedo / 0.03))
    frac = float(params.get('dropout_frac', 0.0))
    if frac > 0:
        blobs = _smooth_field(rng, h, w, max(2.0, 18.0 * w / 640.0))
        invalid |= blobs > float(np.quantile(blobs, 1.0 - frac))
    invalid |= rng.random((h, w), dtype=np.float32) < float(params.get('speckle_p', 0.0))
    mm = np.clip(np.round(zn * 1000.0), 0, 65535).astype(np.uint16)
    mm[invalid] = 0
    return mm
