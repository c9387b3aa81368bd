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

"""Batched plane fitting, rectangle fitting and rotation helpers for the box estimator.

All points are in the camera optical frame (REP 103: x right, y down, z forward), in metres.
A plane is ``(n, d)`` with unit normal ``n`` and offset ``d`` such that ``n . X + d = 0``; the
normals returned here point towards the camera (``n . X < 0`` for points ``X`` on the plane), so
``n . X + d > 0`` means "in front of the plane, on the camera side".

Groups: many functions work on several point sets at once. The points of all groups are stored
back to back in one array, group ``b`` occupying rows ``starts[b] : starts[b] + counts[b]``.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import cv2
import numpy as np


@dataclasses.dataclass
class PlaneFits:
    """Planes fitted to groups of points.

    Attributes:
        normals: (B, 3) float64 unit normals pointing towards the camera; NaN where no plane.
        offsets: (B,) float64 offsets ``d`` in metres (``n . X + d = 0``); NaN where no plane.
        inlier_fraction: (B,) float64 fraction of the group's sample within its threshold.
        rms: (B,) float64 root-mean-square inlier distance to the plane, metres.
    """

    normals: np.ndarray
    offsets: np.ndarray
    inlier_fraction: np.ndarray
    rms: np.ndarray


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (..., 3) arrays (``np.cross`` costs ~10x more on small arrays).

    Args:
        a: (..., 3) vectors.
        b: (..., 3) vectors.

    Returns:
        (..., 3) ``a x b``.
    """
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=np.result_type(a, b))
    out[..., 0] = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    out[..., 1] = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    out[..., 2] = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


def sample_groups(n_points: int, counts: np.ndarray, sample: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Random row indices, ``sample`` per group (with replacement), for groups back to back.

    Args:
        n_points: Total rows (``sum(counts)``).
        counts: (B,) rows per group (groups with 0 rows get index 0, to be masked by the caller).
        sample: Indices drawn per group.
        rng: Random generator.

    Returns:
        (B, sample) int64 row indices.
    """
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    idx = starts[:, None] + (rng.random((len(counts), sample)) * counts[:, None]).astype(np.int64)
    return np.clip(idx, 0, max(n_points - 1, 0))


def fit_planes(samples: np.ndarray, thresholds: np.ndarray, rng: np.random.Generator,
               hypotheses: int = 32, refine_iterations: int = 1,
               max_view_angle_deg: float = 75.0) -> PlaneFits:
    """Fit one plane per group: RANSAC, then least-squares refits on the inliers (vectorised).

    RANSAC draws ``hypotheses`` point triplets from each group's sample and keeps the plane with
    most sample points within the group's threshold. Planes seen at more than
    ``max_view_angle_deg`` from the line of sight (side faces at grazing angles) are not
    accepted. The winner is refined ``refine_iterations`` times by a total-least-squares fit
    (smallest eigenvector of the inliers' covariance).

    Args:
        samples: (B, S, 3) float points per group (a random sample of each group's points),
            camera optical frame, metres; NaN rows are ignored.
        thresholds: (B,) float inlier distance per group, metres.
        rng: Random generator (seeded by the caller for deterministic results).
        hypotheses: RANSAC hypotheses per group.
        refine_iterations: Least-squares refits on the inliers (>= 1).
        max_view_angle_deg: Largest angle between the plane normal and the line of sight to the
            group, degrees.

    Returns:
        The fitted planes; groups with fewer than 3 usable points or no acceptable plane get NaN.
    """
    n_groups, n_sample = samples.shape[:2]
    normals = np.full((n_groups, 3), np.nan)
    offsets = np.full(n_groups, np.nan)
    frac = np.zeros(n_groups)
    rms = np.full(n_groups, np.nan)
    if n_groups == 0 or n_sample < 3:
        return PlaneFits(normals, offsets, frac, rms)
    usable = np.all(np.isfinite(samples), axis=2)                       # (B, S)
    pts = np.where(usable[..., None], samples, 0.0)
    n_use = usable.sum(axis=1)
    centre = pts.sum(axis=1) / np.maximum(n_use, 1)[:, None]            # (B, 3)
    pc = (pts - centre[:, None, :]).astype(np.float32)                  # better conditioned
    thr = np.asarray(thresholds, dtype=np.float64)
    # Hypotheses.
    h_idx = (rng.random((n_groups, hypotheses, 3)) * n_sample).astype(np.int64)
    rows = np.arange(n_groups)[:, None]
    a = pc[rows, h_idx[..., 0]]
    b = pc[rows, h_idx[..., 1]]
    c = pc[rows, h_idx[..., 2]]
    h_ok = (usable[rows, h_idx[..., 0]] & usable[rows, h_idx[..., 1]]
            & usable[rows, h_idx[..., 2]])
    nrm = cross(b - a, c - a)                                           # (B, M, 3)
    length = np.sqrt((nrm * nrm).sum(axis=2))
    h_ok &= length > 1e-10
    nrm /= np.where(h_ok, length, 1.0)[..., None]
    # Orient towards the camera and reject planes seen edge-on.
    view = centre / np.maximum(np.linalg.norm(centre, axis=1, keepdims=True), 1e-12)
    cosv = np.matmul(nrm, view[:, :, None].astype(np.float32))[..., 0]  # (B, M)
    nrm = np.where((cosv > 0)[..., None], -nrm, nrm)
    h_ok &= np.abs(cosv) >= np.cos(np.deg2rad(max_view_angle_deg))
    dh = -(nrm * a).sum(axis=2)                                         # (B, M)
    dist = np.abs(np.matmul(nrm, pc.transpose(0, 2, 1)) + dh[..., None])  # (B, M, S)
    close = (dist < thr[:, None, None].astype(np.float32)) & usable[:, None, :]
    score = np.where(h_ok, close.sum(axis=2), -1)
    best = np.argmax(score, axis=1)
    ok = score[np.arange(n_groups), best] >= 3
    n_best = nrm[np.arange(n_groups), best].astype(np.float64)          # centred frame
    d_best = dh[np.arange(n_groups), best].astype(np.float64)
    pc64 = pc.astype(np.float64)
    for _ in range(max(1, refine_iterations)):
        res = np.einsum('bsk,bk->bs', pc64, n_best) + d_best[:, None]
        inl = (np.abs(res) < thr[:, None]) & usable
        w = inl.sum(axis=1)
        fit = ok & (w >= 3)
        if not np.any(fit):
            break
        wm = inl[fit, :, None]
        mean = (pc64[fit] * wm).sum(axis=1) / w[fit, None]
        q = (pc64[fit] - mean[:, None, :]) * wm
        cov = np.matmul(q.transpose(0, 2, 1), q)
        _, vecs = np.linalg.eigh(cov)
        n_new = vecs[:, :, 0]
        flip = (n_new * (mean + centre[fit])).sum(axis=1) > 0
        n_new[flip] *= -1.0
        n_best[fit] = n_new
        d_best[fit] = -(n_new * mean).sum(axis=1)
    res = np.einsum('bsk,bk->bs', pc64, n_best) + d_best[:, None]
    inl = (np.abs(res) < thr[:, None]) & usable
    w = inl.sum(axis=1)
    has = ok & (w > 0)
    frac[has] = w[has] / n_use[has]
    rms[has] = np.sqrt((np.where(inl, res, 0.0) ** 2).sum(axis=1)[has] / w[has])
    normals[ok] = n_best[ok]
    # Back from the centred frame: n . (X - centre) + d = 0  ->  d' = d - n . centre.
    offsets[ok] = d_best[ok] - (n_best[ok] * centre[ok]).sum(axis=1)
    return PlaneFits(normals, offsets, frac, rms)


def group_sums(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sum of the rows of ``values`` per group, groups back to back (0 for empty groups).

    Args:
        values: (N, ...) values.
        counts: (B,) rows per group.

    Returns:
        (B, ...) float64 sums.
    """
    out = np.zeros((len(counts),) + values.shape[1:])
    if values.shape[0] == 0:
        return out
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = np.asarray(counts) > 0
    out[has] = np.add.reduceat(values, starts[has], axis=0)
    return out


def subsample_groups(counts: np.ndarray, step: int) -> Tuple[slice, np.ndarray]:
    """Every ``step``-th row of back-to-back groups.

    Args:
        counts: (B,) rows per group.
        step: Keep rows ``0, step, 2 step, ...`` of the whole array.

    Returns:
        ``(rows, counts)``: the row slice and (B,) rows kept per group.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if step <= 1:
        return slice(None), counts
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    first = -(-starts // step)                              # rows kept: multiples of step
    last = -(-(starts + counts) // step)
    return slice(None, None, step), last - first


def refine_planes(points: np.ndarray, counts: np.ndarray, normals: np.ndarray,
                  offsets: np.ndarray, thresholds: np.ndarray, iterations: int = 1,
                  min_threshold: float = 0.003, sigmas: float = 2.5, step: int = 1,
                  rms: Optional[np.ndarray] = None
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares refit of each group's plane on its points near it.

    Vectorised over groups (sums per contiguous group with ``np.add.reduceat``). Each fit uses
    the points within a band of ``sigmas`` times the RMS distance of the previous inliers (``rms``
    for the first fit; without it, the first band is ``thresholds``), not below
    ``min_threshold`` nor above ``thresholds``, so the rims of side faces, which lie just below
    the top face, do not tilt the plane.

    Args:
        points: (N, 3) float points, groups back to back, metres.
        counts: (B,) points per group.
        normals: (B, 3) starting unit normals towards the camera (NaN rows are skipped).
        offsets: (B,) starting offsets, metres.
        thresholds: (B,) inlier distances, metres.
        iterations: Refits (the inliers are re-selected before each).
        min_threshold: Smallest inlier band of the later fits, metres.
        sigmas: Band of the later fits in RMS distances.
        step: Fit on every ``step``-th point (the returned inliers cover all points).
        rms: (B,) RMS distance of the starting planes' inliers, metres, or None.

    Returns:
        ``(normals, offsets, inliers, inlier_counts, rms)``: refitted (B, 3) normals (towards the
        camera), (B,) offsets, the (N,) bool points within ``thresholds`` of the final planes,
        their (B,) number per group and (B,) RMS distance (metres, NaN without inliers).
    """
    normals = np.array(normals, dtype=np.float64)
    offsets = np.array(offsets, dtype=np.float64)
    ok = np.isfinite(offsets)
    thr = np.where(ok, thresholds, -1.0)
    band = thr.copy()
    if rms is not None:
        band = np.where(ok & np.isfinite(rms), np.clip(sigmas * np.nan_to_num(rms), min_threshold,
                                                       thr), thr)
    rows, sub_counts = subsample_groups(counts, step)
    p = np.ascontiguousarray(points[rows], dtype=np.float32)
    for _ in range(iterations):
        plane = np.concatenate([np.where(ok[:, None], normals, 0.0),
                                np.where(ok, offsets, 0.0)[:, None], band[:, None]],
                               axis=1).astype(np.float32)
        pl = np.repeat(plane, sub_counts, axis=0)
        res = p[:, 0] * pl[:, 0] + p[:, 1] * pl[:, 1] + p[:, 2] * pl[:, 2] + pl[:, 3]
        inliers = np.abs(res) < pl[:, 4]
        # Moments about each plane's current inlier centroid estimate (well conditioned).
        w = group_sums(inliers.astype(np.float32), sub_counts)
        fit = ok & (w >= 3)
        if not np.any(fit):
            break
        pin = p * inliers[:, None]
        mean = group_sums(pin, sub_counts) / np.maximum(w, 1.0)[:, None]
        q = (p - np.repeat(mean.astype(np.float32), sub_counts, axis=0)) * inliers[:, None]
        m = np.empty((len(q), 6), np.float32)
        m[:, 0] = q[:, 0] * q[:, 0]
        m[:, 1] = q[:, 0] * q[:, 1]
        m[:, 2] = q[:, 0] * q[:, 2]
        m[:, 3] = q[:, 1] * q[:, 1]
        m[:, 4] = q[:, 1] * q[:, 2]
        m[:, 5] = q[:, 2] * q[:, 2]
        sec = group_sums(m, sub_counts)[fit] / w[fit, None]
        cov = np.empty((int(fit.sum()), 3, 3))
        cov[:, 0, 0] = sec[:, 0]
        cov[:, 0, 1] = cov[:, 1, 0] = sec[:, 1]
        cov[:, 0, 2] = cov[:, 2, 0] = sec[:, 2]
        cov[:, 1, 1] = sec[:, 3]
        cov[:, 1, 2] = cov[:, 2, 1] = sec[:, 4]
        cov[:, 2, 2] = sec[:, 5]
        _, vecs = np.linalg.eigh(cov)
        n_new = vecs[:, :, 0]
        centroid = mean[fit]
        flip = (n_new * centroid).sum(axis=1) > 0
        n_new[flip] *= -1.0
        normals[fit] = n_new
        offsets[fit] = -(n_new * centroid).sum(axis=1)
        rms = np.sqrt(group_sums(res * res * inliers, sub_counts) / np.maximum(w, 1.0))
        band = np.where(ok, np.clip(sigmas * rms, min_threshold, thr), -1.0)
    # Inliers of the final planes among all points.
    plane = np.concatenate([np.where(ok[:, None], normals, 0.0),
                            np.where(ok, offsets, 0.0)[:, None], thr[:, None]],
                           axis=1).astype(np.float32)
    pl = np.repeat(plane, counts, axis=0)
    pf = points.astype(np.float32, copy=False)
    res = pf[:, 0] * pl[:, 0] + pf[:, 1] * pl[:, 1] + pf[:, 2] * pl[:, 2] + pl[:, 3]
    inliers = np.abs(res) < pl[:, 4]
    res *= inliers
    sums = group_sums(np.stack([inliers.astype(np.float32), res * res], axis=1), counts)
    n_in = sums[:, 0].round().astype(np.int64)
    rms_out = np.where(n_in > 0, np.sqrt(sums[:, 1] / np.maximum(n_in, 1)), np.nan)
    return normals, offsets, inliers, n_in, rms_out


def hull_angle(hull_coords: np.ndarray) -> float:
    """Direction of one side of the minimum-area rectangle around 2D points.

    Args:
        hull_coords: (M, 2) points (M >= 3) whose convex hull is that of the face points.

    Returns:
        Angle in radians of one side (the other side is perpendicular).
    """
    (_, _), (_, _), ang = cv2.minAreaRect(np.ascontiguousarray(hull_coords, dtype=np.float32))
    return float(np.deg2rad(ang))


def rectangle_extents(coords: np.ndarray, counts: np.ndarray, angles: np.ndarray,
                      trim: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Oriented rectangles of groups of 2D points with known orientations (vectorised).

    The extents along both axes are trimmed quantiles: with the points spread uniformly over the
    rectangle (a grid of pixels on a face), the span between the ``k``-th smallest and
    ``k``-th largest of ``n`` points is ``(n - 1 - 2 k) / n`` of the side, so scaling it by
    ``n / (n - 1 - 2 k)`` gives the side while ignoring up to ``k = floor(trim * (n - 1))`` stray
    points at each end.

    Args:
        coords: (N, 2) float in-plane coordinates, metres, groups back to back.
        counts: (B,) points per group (results for empty groups are undefined).
        angles: (B,) direction of the first rectangle axis per group, radians.
        trim: Fraction of points ignored at each end of each axis, in [0, 0.2).

    Returns:
        ``(centre, long_axis, sides)``: (B, 2) centres, (B, 2) unit directions of the longer
        side, (B, 2) (length, width) with length >= width, all in the input units.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n_groups = len(counts)
    a1 = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    a2 = np.stack([-a1[:, 1], a1[:, 0]], axis=1)
    # Coordinates relative to each group's mean, so that they are small (float32 keeps 1e-5 m).
    c = coords.astype(np.float64)
    mean = group_sums(c, counts) / np.maximum(counts, 1)[:, None]
    tab = np.concatenate([a1, a2, mean], axis=1).astype(np.float32)
    tab = np.repeat(tab, counts, axis=0)
    cx = coords[:, 0].astype(np.float32) - tab[:, 4]
    cy = coords[:, 1].astype(np.float32) - tab[:, 5]
    pa = cx * tab[:, 0] + cy * tab[:, 1]
    pb = cx * tab[:, 2] + cy * tab[:, 3]
    # One sort per axis for all groups: offsetting each group by a multiple of a span larger
    # than any coordinate range keeps the groups in order (faster than a per-group partition).
    span = np.float32(2.0 * max(float(np.abs(pa).max(initial=0.0)),
                                float(np.abs(pb).max(initial=0.0))) + 0.01)
    off = np.repeat(np.arange(n_groups, dtype=np.float32) * span, counts)
    sa = (np.sort(pa + off) - off).astype(np.float64)
    sb = (np.sort(pb + off) - off).astype(np.float64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    k = np.floor(trim * (counts - 1)).astype(np.int64)
    k = np.where((k > 0) & (k < counts - 1 - k), k, 0)
    scale = np.where(k > 0, counts / np.maximum(counts - 1.0 - 2.0 * k, 1.0), 1.0)
    last = max(len(sa) - 1, 0)
    lo = np.clip(starts + k, 0, last)                       # empty groups: garbage, unused
    hi = np.clip(starts + counts - 1 - k, 0, last)
    len_a = (sa[hi] - sa[lo]) * scale
    len_b = (sb[hi] - sb[lo]) * scale
    centre = (mean + a1 * (0.5 * (sa[lo] + sa[hi]))[:, None]
              + a2 * (0.5 * (sb[lo] + sb[hi]))[:, None])
    swap = len_b > len_a
    long_axis = np.where(swap[:, None], a2, a1)
    sides = np.stack([np.where(swap, len_b, len_a), np.where(swap, len_a, len_b)], axis=1)
    return centre, long_axis, sides


def matrix_to_quaternion(rot: np.ndarray) -> np.ndarray:
    """Convert rotation matrices to unit quaternions ``(x, y, z, w)`` with ``w >= 0``.

    Hand-written (Shepperd's method, vectorised) because SciPy is not a dependency of enet_ros.

    Args:
        rot: (..., 3, 3) rotation matrices (columns = rotated frame's axes in the parent frame).

    Returns:
        (..., 4) float64 quaternions in ROS order (x, y, z, w).
    """
    m = np.asarray(rot, dtype=np.float64)
    shape = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    q = np.empty((m.shape[0], 4))
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    diag = np.stack([m[:, 0, 0], m[:, 1, 1], m[:, 2, 2], tr], axis=1)
    case = np.argmax(diag, axis=1)
    for i in range(m.shape[0]):
        r = m[i]
        if case[i] == 3:
            s = np.sqrt(1.0 + tr[i]) * 2.0
            q[i] = [(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s,
                    0.25 * s]
        elif case[i] == 0:
            s = np.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2]) * 2.0
            q[i] = [0.25 * s, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s,
                    (r[2, 1] - r[1, 2]) / s]
        elif case[i] == 1:
            s = np.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2]) * 2.0
            q[i] = [(r[0, 1] + r[1, 0]) / s, 0.25 * s, (r[1, 2] + r[2, 1]) / s,
                    (r[0, 2] - r[2, 0]) / s]
        else:
            s = np.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1]) * 2.0
            q[i] = [(r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, 0.25 * s,
                    (r[1, 0] - r[0, 1]) / s]
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[q[:, 3] < 0] *= -1.0
    return q.reshape(shape + (4,))


def quaternion_to_matrix(quat: np.ndarray) -> np.ndarray:
    """Convert unit quaternions ``(x, y, z, w)`` to rotation matrices.

    Args:
        quat: (..., 4) quaternions in ROS order (x, y, z, w); normalised here.

    Returns:
        (..., 3, 3) float64 rotation matrices.
    """
    q = np.asarray(quat, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    m = np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=-1)
    return m.reshape(q.shape[:-1] + (3, 3))
