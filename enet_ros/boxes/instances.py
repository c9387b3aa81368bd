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

"""Split a semantic box mask into box instances (touching cartons included).

Method (all image operations are OpenCV and vectorised over the bounding rectangle of the box
pixels; the estimator runs them on its ``fit_stride`` grid, window sizes and pixel counts scaled
accordingly):

1. Cut pixels, where one carton may end and the next begin:

   * pixels of the ``box_boundary`` class, when the segmentation model provides it;
   * depth discontinuities: within a ``depth_step_window_px`` square window the valid depths span
     more than ``max(depth_step_min_m, depth_step_ratio * z)`` (a step between stacked levels,
     the gap between cartons, the side faces seen at the border of a top face); depth holes
     neither cut nor join;
   * with a colour image, thin dark lines: the morphological black-top-hat of the grey image
     (``color_line_kernel_px``) above ``color_line_threshold`` grey levels. The slit between two
     packed cartons is a dark line even when both tops are at the same height.

2. Seeds: box pixels that are not cut (after growing the cuts by one pixel so that a one-pixel
   gap in a cut line does not join two cartons), in 4-connected components of at least
   ``min_seed_pixels``. Printing on a carton (bar codes, text) cuts closed islands out of a seed
   but does not split it.

3. Growth: every box pixel that is not a seed (the cut pixels, the islands) takes the label of the
   nearest seed, one ring of pixels per iteration (all seeds grow together, so a contested pixel is
   at most one pixel off the true half-way line), at most ``max_grow_px`` rings.

The estimator then fits a plane per instance and merges an instance back into a coplanar neighbour
when it is not rectangular but their union is (an occluding cable or a crease cut one carton in
two; see :mod:`enet_ros.boxes.estimator`).

Limits: two cartons at the same height with no visible slit (no dark line, no depth step) and no
boundary class come out as one instance (reported with a low score when the union is not
rectangular); a dark straight line across one carton (tape edge, printed stripe) splits it when
both halves are rectangles. A colour image that is not registered to the depth (other camera,
other moment) cuts in the wrong places: pass ``color=None`` then.
"""

from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_SQUARE = np.ones((3, 3), np.uint8)


def _depth_step_u8(depth_m: np.ndarray, window_px: int, ratio: float, min_step_m: float,
                   per_m2: float) -> np.ndarray:
    """:func:`depth_step_cut` as a 0/255 uint8 mask, for an image at least two pixels wide."""
    # The float images are reused (dst=) rather than allocated per operation: fresh arrays of
    # this size cost a page fault every 4 KiB, more than the operations themselves.
    kernel = np.ones((window_px, window_px), np.uint8)
    far = np.ascontiguousarray(depth_m, dtype=np.float32)
    # Invalid (0) pixels must not win the window minimum: lift them to 1e6 m for the erosion.
    _, near = cv2.threshold(far, 0.0, 1e6, cv2.THRESH_BINARY_INV)
    near = cv2.erode(cv2.add(far, near, dst=near), kernel, dst=near)
    span = cv2.dilate(far, kernel)
    span = cv2.subtract(span, near, dst=span)
    valid = cv2.compare(far, 0.0, cv2.CMP_GT)
    # max(ratio z, per_m2 z^2, min_step_m) as z max(ratio, per_m2 z) (equal for z >= 0), all in
    # float32: cv2.multiply by a Python float runs in float64, several times slower.
    thr = np.multiply(far, np.float32(per_m2), out=near)
    thr = cv2.multiply(cv2.max(thr, float(ratio), dst=thr), far, dst=thr)
    thr = cv2.max(thr, float(min_step_m), dst=thr)
    step = cv2.compare(span, thr, cv2.CMP_GT)
    step = cv2.bitwise_and(step, valid, dst=step)
    return step


def depth_step_cut(depth_m: np.ndarray, window_px: int, ratio: float,
                   min_step_m: float, per_m2: float = 0.0) -> np.ndarray:
    """Pixels near a depth discontinuity.

    A valid pixel is a step when the valid depths in its square window span more than
    ``max(min_step_m, ratio * depth, per_m2 * depth**2)``. No smoothing: a median would erase
    the one-pixel slits between cartons. Stereo depth noise grows with the squared range (a few
    millimetres at 1.5 m, centimetres at 2.5 m), hence the ``per_m2`` term: without it the
    window span of pure noise exceeds ``ratio * depth`` on most pixels beyond about 2.5 m.

    Args:
        depth_m: (H, W) float32 depth along the optical axis, metres, 0 where invalid.
        window_px: Odd side of the square window, pixels.
        ratio: Relative step threshold (fraction of the depth).
        min_step_m: Absolute lower bound of the threshold, metres.
        per_m2: Growth of the threshold with the squared depth, 1/metres.

    Returns:
        (H, W) bool step mask; invalid pixels are never steps and never count in a window.
    """
    if np.shape(depth_m)[1:2] == (1,):
        # OpenCV's Python binding reads an (n, 1) array with n <= 4 as a scalar; an invalid (0)
        # column beside it keeps it an image and changes nothing (invalid pixels never count).
        wide = np.pad(np.asarray(depth_m, np.float32), ((0, 0), (0, 1)))
        return np.ascontiguousarray(
            depth_step_cut(wide, window_px, ratio, min_step_m, per_m2)[:, :1])
    step = _depth_step_u8(depth_m, window_px, ratio, min_step_m, per_m2)
    # 0/255 from the comparisons; 0/1 after the AND, a valid bool.
    return cv2.bitwise_and(step, 1).view(bool)


def color_line_cut(gray: np.ndarray, kernel_px: int, threshold: float) -> np.ndarray:
    """Thin dark lines (slits between cartons) in a grey image.

    Args:
        gray: (H, W) uint8 grey image.
        kernel_px: Side of the square structuring element, pixels; lines thinner than about
            ``kernel_px - 1`` respond.
        threshold: Black-top-hat response threshold, grey levels (0..255; 255 or more, inf
            included, finds no line).

    Returns:
        (H, W) bool line mask.
    """
    if threshold >= 255:
        # The response of a uint8 image is at most 255: nothing is a line. (OpenCV would turn a
        # huge or infinite threshold into an overflowed integer and call everything a line.)
        return np.zeros(np.shape(gray), bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (kernel_px, kernel_px))
    tophat = cv2.morphologyEx(np.ascontiguousarray(gray), cv2.MORPH_BLACKHAT, kernel)
    # cv2.threshold writes 0/1 directly: a valid bool array without a second pass.
    _, lines = cv2.threshold(tophat, float(threshold), 1, cv2.THRESH_BINARY)
    return lines.view(bool)


def _seed_labels(seeds: np.ndarray, min_seed_pixels: int) -> Tuple[np.ndarray, int]:
    """Seed labels of a 0/nonzero uint8 seed mask: uint8 when under 256 labels, else uint16.

    Raises:
        ValueError: If more than 65534 seeds of at least ``min_seed_pixels`` remain.
    """
    try:
        n_cc, cc = cv2.connectedComponents(seeds, connectivity=4, ltype=cv2.CV_16U)
    except cv2.error:
        # Over 65535 components (speckle noise, most of them below min_seed_pixels): label in
        # 32 bits, drop the small ones, and only then check the count.
        n_cc, cc = cv2.connectedComponents(seeds, connectivity=4, ltype=cv2.CV_32S)
        keep = np.bincount(cc.ravel(), minlength=n_cc) >= min_seed_pixels
        keep[0] = False
        n = int(keep.sum())
        if n >= np.iinfo(np.uint16).max:
            raise ValueError(f'{n} box seeds of at least {min_seed_pixels} pixels in one image: '
                             'more than the 65534 supported; check the mask (noise?) or raise '
                             'min_seed_pixels') from None
        lut = np.zeros(n_cc, np.uint16)
        lut[keep] = np.arange(1, n + 1, dtype=np.uint16)
        cc = lut[cc]
        return (cc.astype(np.uint8) if n < 256 else cc), n
    if n_cc <= 1:
        return np.zeros(seeds.shape, np.uint8), 0
    if n_cc <= 256:
        # Few labels (the usual case): uint8 from here on, cheaper to count, look up and dilate.
        cc = cc.astype(np.uint8)
    # (connectedComponentsWithStats costs about three times as much as this plus a histogram.)
    keep = label_counts(cc, n_cc - 1) >= min_seed_pixels
    keep[0] = False
    n = int(keep.sum())
    if n == n_cc - 1:
        return cc, n
    return relabel(cc, keep), n


def relabel(labels: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Renumber the kept labels 1..K in order and set the others to 0.

    Args:
        labels: (H, W) uint16 (or uint8) labels 0..N.
        keep: (N + 1,) bool, True for the labels kept (``keep[0]`` is ignored).

    Returns:
        (H, W) labels 0..K: uint8 for uint8 labels, else uint16.
    """
    keep = np.asarray(keep, bool).copy()
    keep[0] = False
    lut = np.zeros(len(keep), np.uint16)
    lut[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.uint16)
    if labels.dtype == np.uint8 or len(lut) <= 256:
        # cv2.LUT on 8-bit labels: about 5x faster than NumPy's fancy indexing of uint16.
        table = np.zeros(256, np.uint8)
        table[:len(lut)] = lut[:256]
        if labels.dtype == np.uint8:
            return cv2.LUT(labels, table)
        return cv2.LUT(labels.astype(np.uint8), table).astype(np.uint16)
    return lut[labels]


def label_counts(labels: np.ndarray, n: int) -> np.ndarray:
    """Pixels per label of a uint16 (or uint8) label image.

    ``cv2.calcHist``: no int64 copy as in ``np.bincount``; faster on uint8 labels.

    Args:
        labels: (H, W) uint16 or uint8 labels 0..n.
        n: Largest label.

    Returns:
        (n + 1,) int64 pixel count of each label (index 0: unlabelled pixels).
    """
    labels = np.ascontiguousarray(labels)
    if labels.dtype == np.uint8:
        # All 256 byte values over [0, 256): OpenCV's lookup-table path, about twice as fast
        # as n + 1 bins over [0, n + 1).
        return cv2.calcHist([labels], [0], None, [256], [0, 256]).ravel()[:n + 1].astype(np.int64)
    hist = cv2.calcHist([labels], [0], None, [n + 1], [0, n + 1])
    return hist.ravel().astype(np.int64)


def _grow(labels: np.ndarray, fg_u8: np.ndarray, max_grow_px: int) -> np.ndarray:
    """Give unlabelled box pixels the label of the nearest seed, one pixel ring at a time.

    Each ring, an unlabelled box pixel takes the largest label among its 8 neighbours.

    Args:
        labels: (H, W) uint8 or uint16 seed labels (0 = none); modified in place and returned.
        fg_u8: (H, W) uint8 0/1 pixels that may receive a label.
        max_grow_px: Largest number of rings grown.

    Returns:
        The grown labels; box pixels further than ``max_grow_px`` rings from any seed stay 0.
    """
    height, width = labels.shape
    todo = cv2.compare(labels, 0, cv2.CMP_EQ)
    todo = cv2.bitwise_and(todo, fg_u8, dst=todo)
    left = cv2.countNonZero(todo)
    # Work images reused by every ring (fresh ones cost page faults).
    grown, zero = np.empty_like(labels), np.empty_like(todo)
    x, y, w, h = 0, 0, width, height
    for _ in range(max_grow_px):
        if left == 0:
            break
        # Once few pixels are left, each ring works on their bounding rectangle (it shrinks over
        # the last rings) and the one-pixel ring around it that the dilation reads.
        if width > 1 and left * 32 < w * h:
            dx, dy, w, h = cv2.boundingRect(todo[y:y + h, x:x + w])
            x, y = x + dx, y + dy
            if w == 1:
                # Two columns at least: OpenCV reads an (n, 1) array with n <= 4 as a scalar.
                x, w = min(x, width - 2), 2
        x0, y0 = max(x - 1, 0), max(y - 1, 0)
        x1, y1 = min(x + w + 1, width), min(y + h + 1, height)
        ring = cv2.dilate(labels[y0:y1, x0:x1], _SQUARE, dst=grown[:y1 - y0, :x1 - x0])
        ring = ring[y - y0:y - y0 + h, x - x0:x - x0 + w]
        rect = todo[y:y + h, x:x + w]
        cv2.copyTo(ring, rect, labels[y:y + h, x:x + w])   # labels[todo] = grown[todo]
        cv2.bitwise_and(rect, cv2.compare(ring, 0, cv2.CMP_EQ, dst=zero[:h, :w]), dst=rect)
        n_todo = cv2.countNonZero(rect)
        if n_todo == left:
            break
        left = n_todo
    return labels


def max_pool(mask: np.ndarray, stride: int) -> np.ndarray:
    """Any-pixel pooling of a bool mask onto the ``stride`` grid.

    Args:
        mask: (H, W) bool.
        stride: Grid step, pixels.

    Returns:
        (ceil(H / stride), ceil(W / stride)) bool: True where any pixel of the ``stride`` x
        ``stride`` cell starting at the grid point is True.
    """
    if stride == 1:
        return np.ascontiguousarray(mask)
    kernel = np.ones((stride, stride), np.uint8)
    pooled = cv2.dilate(np.ascontiguousarray(mask).view(np.uint8), kernel, anchor=(0, 0))
    return np.ascontiguousarray(pooled[::stride, ::stride]).view(bool)


def segment_instances(fg: np.ndarray, *, cut: Optional[np.ndarray] = None,
                      depth_m: Optional[np.ndarray] = None, depth_step_window_px: int = 5,
                      depth_step_ratio: float = 0.01, depth_step_min_m: float = 0.01,
                      depth_step_per_m2: float = 0.0, min_seed_pixels: int = 80,
                      max_grow_px: int = 40,
                      min_pixels: int = 200) -> Tuple[np.ndarray, np.ndarray]:
    """Label box instances in a box mask (see the module docstring for the method).

    Args:
        fg: (H, W) bool box pixels.
        cut: (H, W) bool cut pixels from other cues (``box_boundary`` class, colour lines), or
            None.
        depth_m: (H, W) float32 depth, metres, 0 where invalid, or None (no depth cue).
        depth_step_window_px: Window of the depth-step cue, pixels (odd).
        depth_step_ratio: Depth-step threshold relative to the depth.
        depth_step_min_m: Smallest depth-step threshold, metres.
        depth_step_per_m2: Growth of the depth-step threshold with the squared depth, 1/m.
        min_seed_pixels: Smallest seed, pixels.
        max_grow_px: Most rings grown from the seeds, pixels.
        min_pixels: Smallest instance kept, pixels.

    Returns:
        ``(labels, sizes)``: (H, W) uint16 instance labels 1..N in raster order of the seeds
        (0 = no instance) and (N,) int64 pixel count of each instance.
    """
    if fg.shape[1:2] == (1,):
        # OpenCV's Python binding reads an (n, 1) array with n <= 4 as a scalar (a one-pixel-wide
        # image or grid): run on a copy with one empty column added (no box, no cut, no depth),
        # which changes no label, and drop it again.
        def wide(a: Optional[np.ndarray]) -> Optional[np.ndarray]:
            return None if a is None else np.pad(np.asarray(a), ((0, 0), (0, 1)))
        labels, sizes = segment_instances(
            wide(fg), cut=wide(cut), depth_m=wide(depth_m),
            depth_step_window_px=depth_step_window_px, depth_step_ratio=depth_step_ratio,
            depth_step_min_m=depth_step_min_m, depth_step_per_m2=depth_step_per_m2,
            min_seed_pixels=min_seed_pixels,
            max_grow_px=max_grow_px, min_pixels=min_pixels)
        return np.ascontiguousarray(labels[:, :1]), sizes
    fg_u8 = np.ascontiguousarray(fg).view(np.uint8)
    x, y, w, h = cv2.boundingRect(fg_u8)
    if w == 0:
        return np.zeros(fg.shape, np.uint16), np.zeros(0, np.int64)
    # Only the box pixels' bounding rectangle, plus the one-pixel ring that the cut dilation
    # reads, is looked at (labels are 0 elsewhere); the depth steps need half a window more. The
    # rectangle is at least two pixels wide (an image is) for OpenCV's Python binding.
    height, width = fg.shape
    x0, y0, x1, y1 = max(x - 1, 0), max(y - 1, 0), min(x + w + 1, width), min(y + h + 1, height)
    roi = (slice(y0, y1), slice(x0, x1))
    fg_r = fg_u8[roi]
    cut_r = None if cut is None else np.ascontiguousarray(cut)[roi].view(np.uint8)
    if depth_m is not None:
        r = depth_step_window_px // 2
        dx0, dy0 = max(x0 - r, 0), max(y0 - r, 0)
        step = _depth_step_u8(
            np.asarray(depth_m)[dy0:min(y1 + r, height), dx0:min(x1 + r, width)],
            depth_step_window_px, depth_step_ratio, depth_step_min_m, depth_step_per_m2)
        step = step[y0 - dy0:y1 - dy0, x0 - dx0:x1 - dx0]
        cuts = step if cut_r is None else cv2.bitwise_or(step, cut_r)
    else:
        cuts = np.zeros(fg_r.shape, np.uint8) if cut_r is None else cut_r
    seeds = cv2.bitwise_and(fg_r, cv2.bitwise_not(cv2.dilate(cuts, _CROSS)))
    labels, n = _seed_labels(seeds, min_seed_pixels)
    if n == 0:
        return np.zeros(fg.shape, np.uint16), np.zeros(0, np.int64)
    labels = _grow(labels, fg_r, max_grow_px)
    sizes = label_counts(labels, n)
    keep = sizes >= min_pixels
    keep[0] = False
    if not keep[1:].all():
        labels, sizes = relabel(labels, keep), sizes[keep]
    else:
        sizes = sizes[1:]
    out = np.zeros(fg.shape, np.uint16)
    out[roi] = labels
    return out, sizes
