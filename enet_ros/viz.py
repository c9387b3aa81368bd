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

"""Colour class-id masks and blend them over images (pure: NumPy and OpenCV, no ROS).

A :class:`Colorizer` holds one colour per class (the checkpoint's ``ClassInfo.colors``, RGB
0..255) as a lookup table and maps an ``(H, W)`` class-id image to an ``(H, W, 3)`` uint8 RGB
image; :meth:`Colorizer.overlay` blends that over the camera image:
``overlay = (1 - alpha) * image + alpha * colours`` in uint8 (each term rounded, so within 1 of
the exactly rounded value).

Ids with no colour (``id >= number of classes``) are drawn black.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np


class Colorizer:
    """Class-id images to RGB colours, and colour overlays.

    Args:
        colors: One ``(r, g, b)`` triple (0..255) per class id, index = id.

    Raises:
        ValueError: If ``colors`` is empty or not ``(N, 3)`` values in 0..255.
    """

    def __init__(self, colors: Sequence[Tuple[int, int, int]]) -> None:
        """Build the lookup tables (see the class docstring)."""
        table = np.asarray(colors, dtype=np.int64)
        if table.ndim != 2 or table.shape[1] != 3 or table.shape[0] == 0:
            raise ValueError(f'colors must be a non-empty list of (r, g, b) triples, got shape '
                             f'{table.shape}')
        if table.min() < 0 or table.max() > 255:
            raise ValueError('colors must be in 0..255')
        self.num_colors = table.shape[0]
        # uint8 ids: cv2.applyColorMap with a user table (256 x 1 x 3, written out in the order
        # given, so RGB in, RGB out). Measured here the fastest of cv2.LUT on a 3-channel image,
        # NumPy fancy indexing and np.take of packed words, with a preallocated output.
        size = max(256, self.num_colors)
        rgbx = np.zeros((size, 4), np.uint8)
        rgbx[:self.num_colors, :3] = table
        self._table3 = np.ascontiguousarray(rgbx[:256, :3].reshape(256, 1, 3))
        # uint16 ids (models with more than 256 classes): np.take of packed RGBX words.
        self._packed = rgbx.view(np.uint32).reshape(size)
        self._buffers = {}
        self._scaled_alpha: Optional[float] = None
        self._scaled_table = self._table3

    def _buffer(self, name: str, shape: Tuple[int, ...]) -> np.ndarray:
        """Return a reusable uint8 array (one per name and shape; this thread only)."""
        key = (name, shape)
        buf = self._buffers.get(key)
        if buf is None:
            if len(self._buffers) > 8:  # image sizes changed: forget the old ones
                self._buffers.clear()
            buf = self._buffers[key] = np.empty(shape, np.uint8)
        return buf

    def colorize(self, class_ids: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Return the colour image of a class-id image.

        Args:
            class_ids: ``(H, W)`` uint8 or uint16 class ids.
            out: Optional ``(H, W, 3)`` uint8 C-contiguous array to write into.

        Returns:
            ``(H, W, 3)`` uint8 RGB: the colour of each pixel's class (black for ids without a
            colour); ``out`` when given.

        Raises:
            ValueError: If ``class_ids`` is not a 2-D unsigned integer array.
        """
        if class_ids.ndim != 2 or class_ids.dtype not in (np.uint8, np.uint16):
            raise ValueError(f'class_ids must be (H, W) uint8 or uint16, got {class_ids.dtype} '
                             f'{class_ids.shape}')
        if class_ids.dtype == np.uint8:
            if out is None:
                return cv2.applyColorMap(class_ids, self._table3)
            return cv2.applyColorMap(class_ids, self._table3, dst=out)
        table = self._packed
        if int(class_ids.max(initial=0)) >= table.shape[0]:
            table = np.concatenate(
                [table, np.zeros(int(class_ids.max()) + 1 - table.shape[0], np.uint32)])
        rgbx = np.take(table, class_ids).view(np.uint8).reshape(class_ids.shape + (4,))
        if out is None:
            return cv2.cvtColor(rgbx, cv2.COLOR_RGBA2RGB)
        return cv2.cvtColor(rgbx, cv2.COLOR_RGBA2RGB, dst=out)

    def overlay(self, image: np.ndarray, class_ids: np.ndarray, alpha: float,
                reuse_buffers: bool = False) -> np.ndarray:
        """Blend the class colours over an image.

        Args:
            image: ``(H, W, 3)`` uint8 RGB camera image (may be a row-padded view).
            class_ids: ``(H, W)`` uint8 or uint16 class ids of the same height and width.
            alpha: Weight of the class colours in [0, 1] (0: the image, 1: the colours only).
            reuse_buffers: Write into buffers kept by this Colorizer (no allocation per frame;
                page faults on fresh large arrays cost more than the blend here). The result
                is then overwritten by the next call: copy it to keep it, and use one
                Colorizer per thread.

        Returns:
            ``(H, W, 3)`` uint8 RGB ``(1 - alpha) * image + alpha * colours`` (within 1 of the
            exactly rounded value).

        Raises:
            ValueError: If the shapes differ or ``alpha`` is outside [0, 1].
        """
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != class_ids.shape:
            raise ValueError(f'image {image.shape} and class_ids {class_ids.shape} do not match: '
                             'expected (H, W, 3) and (H, W)')
        if class_ids.dtype != np.uint8:
            return cv2.addWeighted(image, 1.0 - alpha, self.colorize(class_ids), alpha, 0.0)
        # uint8 ids: colours pre-scaled by alpha in the table, the image scaled by 1 - alpha
        # (cv2.convertScaleAbs), then one saturating add: measured faster here than
        # cv2.addWeighted of the two images; each term is rounded, so a value may differ by 1
        # from rounding the exact sum.
        if self._scaled_alpha != alpha:
            scaled = np.round(self._table3.astype(np.float64) * alpha)
            self._scaled_table, self._scaled_alpha = scaled.astype(np.uint8), alpha
        if reuse_buffers:
            colours = cv2.applyColorMap(class_ids, self._scaled_table,
                                        dst=self._buffer('colours', image.shape))
            dimmed = cv2.convertScaleAbs(image, alpha=1.0 - alpha,
                                         dst=self._buffer('dimmed', image.shape))
            return cv2.add(dimmed, colours, dst=self._buffer('overlay', image.shape))
        colours = cv2.applyColorMap(class_ids, self._scaled_table)
        return cv2.add(cv2.convertScaleAbs(image, alpha=1.0 - alpha), colours)


def confidence_to_mono8(confidence: np.ndarray) -> np.ndarray:
    """Scale a confidence image to 8 bits.

    Args:
        confidence: ``(H, W)`` float32 in [0, 1].

    Returns:
        ``(H, W)`` uint8 ``round(255 * confidence)``, saturated to 0..255.
    """
    return cv2.convertScaleAbs(confidence, alpha=255.0)
