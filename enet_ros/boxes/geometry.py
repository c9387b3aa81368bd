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

Groups: the functions work on several point sets (one per box instance) at once, in a padded
layout: ``(B, L)`` arrays whose row ``b`` holds group ``b``'s points in its first ``counts[b]``
columns and padding (copies of real points, masked out) after them. Every per-group step is then
one broadcast NumPy operation or one batched matrix product over all groups, with no
per-group Python loop and no scatter/gather by group index.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np


@dataclasses.dataclass
class PlaneFits:
    """Planes fitted to groups of points.

    Attributes:
        normals: (B, 3) float64 unit normals pointing towards the camera; NaN where no plane.
        offsets: (B,) float64 offsets ``d`` in metres (``n . X + d = 0``); NaN where no plane.
        inlier_fraction: (B,) float64 fraction of the group's sample within its threshold.
        rms: (B,) float64 root-mean-square inlier distance to the plane, metres.
        centres: (B, 3) float64 mean of each group's usable sample points, metres (0 where the
            sample has none).
    """

    normals: np.ndarray
    offsets: np.ndarray
    inlier_fraction: np.ndarray
    rms: np.ndarray
    centres: np.ndarray


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


def _moments(qx: np.ndarray, qy: np.ndarray, qz: np.ndarray, weight: np.ndarray
             ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and covariance of weighted (B, K) point sets in one batched matrix product.

    Args:
        qx: (B, K) float32 x of the points (relative to a reference point near them), metres.
        qy: (B, K) float32 y, metres.
        qz: (B, K) float32 z, metres.
        weight: (B, K) bool points to use.

    Returns:
        ``(w, mean, cov)``: (B,) float64 point counts, (B, 3) means and (B, 3, 3) covariances
        (garbage where ``w`` is 0).
    """
    q = np.empty((qx.shape[0], 4, qx.shape[1]), np.float32)
    np.multiply(qx, weight, out=q[:, 0])
    np.multiply(qy, weight, out=q[:, 1])
    np.multiply(qz, weight, out=q[:, 2])
    q[:, 3] = weight
    mom = np.matmul(q, q.transpose(0, 2, 1)).astype(np.float64)          # (B, 4, 4)
    w = mom[:, 3, 3]
    wd = np.maximum(w, 1.0)
    mean = mom[:, :3, 3] / wd[:, None]
    cov = mom[:, :3, :3] / wd[:, None, None] - mean[:, :, None] * mean[:, None, :]
    return w, mean, cov


def _smallest_eigenvectors(cov: np.ndarray) -> np.ndarray:
    """(B, 3) unit eigenvectors of the smallest eigenvalues of (B, 3, 3) symmetric matrices."""
    _, vecs = np.linalg.eigh(cov)
    return vecs[:, :, 0]


def fit_planes(sx: np.ndarray, sy: np.ndarray, sz: np.ndarray, thresholds: np.ndarray,
               hypothesis_u: np.ndarray, refine_iterations: int = 1,
               max_view_angle_deg: float = 75.0) -> PlaneFits:
    """Fit one plane per group: RANSAC, then least-squares refits on the inliers (vectorised).

    RANSAC draws ``M`` point triplets from each group's sample and keeps the plane with most
    sample points within the group's threshold. Planes seen at more than ``max_view_angle_deg``
    from the line of sight (side faces at grazing angles) are not accepted. The winner is refined
    ``refine_iterations`` times by a total-least-squares fit (smallest eigenvector of the
    inliers' covariance). The coordinates are kept in separate (B, S) arrays: NumPy reduces
    along a long last axis quickly, but slowly over a length-3 axis of many rows.

    Args:
        sx: (B, S) float x of a random sample of each group's points, camera optical frame,
            metres; a NaN in ``sz`` marks a sample point as unusable.
        sy: (B, S) float y, metres.
        sz: (B, S) float z, metres.
        thresholds: (B,) float inlier distance per group, metres.
        hypothesis_u: (B, M, 3) float uniform numbers in [0, 1) choosing the ``M`` triplets of
            each group (the caller's seeded random table: the same table gives the same planes).
        refine_iterations: Least-squares refits on the inliers (>= 1).
        max_view_angle_deg: Largest angle between the plane normal and the line of sight to the
            group, degrees.

    Returns:
        The fitted planes; groups with fewer than 3 usable points or no acceptable plane get NaN.
    """
    n_groups, n_sample = sz.shape
    normals = np.full((n_groups, 3), np.nan)
    offsets = np.full(n_groups, np.nan)
    frac = np.zeros(n_groups)
    rms = np.full(n_groups, np.nan)
    if n_groups == 0 or n_sample < 3:
        return PlaneFits(normals, offsets, frac, rms, np.zeros((n_groups, 3)))
    usable = np.isfinite(sz) & np.isfinite(sx) & np.isfinite(sy)        # (B, S)
    all_usable = bool(usable.all())
    n_use = np.count_nonzero(usable, axis=1)
    zero = np.float32(0.0)
    coords = [np.asarray(a, np.float32) if all_usable else
              np.where(usable, a, zero).astype(np.float32) for a in (sx, sy, sz)]
    centre = np.stack([c.sum(axis=1, dtype=np.float64) for c in coords], axis=1)
    centre /= np.maximum(n_use, 1)[:, None]                              # (B, 3)
    c32 = centre.astype(np.float32)
    px, py, pz = (c - c32[:, k:k + 1] for k, c in enumerate(coords))  # centred: better conditioned
    thr = np.asarray(thresholds, dtype=np.float64)
    thr32 = thr.astype(np.float32)
    # Hypotheses: the three corners of each triplet, (B, M) per coordinate.
    h_idx = (np.asarray(hypothesis_u) * n_sample).astype(np.int64)
    np.clip(h_idx, 0, n_sample - 1, out=h_idx)
    h_idx += (np.arange(n_groups) * n_sample)[:, None, None]          # flat indices
    corner = [[p.ravel().take(h_idx[..., j]) for p in (px, py, pz)] for j in range(3)]
    flat_usable = usable.ravel()
    h_ok = flat_usable.take(h_idx[..., 0])
    h_ok &= flat_usable.take(h_idx[..., 1])
    h_ok &= flat_usable.take(h_idx[..., 2])
    (ax, ay, az), (bx, by, bz), (cx, cy, cz) = corner
    ux, uy, uz = bx - ax, by - ay, bz - az
    vx, vy, vz = cx - ax, cy - ay, cz - az
    nx, ny, nz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
    length = np.sqrt(nx * nx + ny * ny + nz * nz)
    h_ok &= length > 1e-10
    inv = 1.0 / np.where(h_ok, length, np.float32(1.0))
    nx, ny, nz = nx * inv, ny * inv, nz * inv
    # Orient towards the camera and reject planes seen edge-on.
    view = (centre / np.maximum(np.linalg.norm(centre, axis=1, keepdims=True), 1e-12))
    view = view.astype(np.float32)
    cosv = nx * view[:, 0:1] + ny * view[:, 1:2] + nz * view[:, 2:3]   # (B, M)
    sign = np.where(cosv > 0, np.float32(-1.0), np.float32(1.0))
    nx, ny, nz = nx * sign, ny * sign, nz * sign
    h_ok &= np.abs(cosv) >= np.cos(np.deg2rad(max_view_angle_deg))
    dh = -(nx * ax + ny * ay + nz * az)                                 # (B, M)
    nrm = np.stack([nx, ny, nz], axis=2)                                # (B, M, 3)
    pts = np.stack([px, py, pz], axis=1)                                # (B, 3, S)
    dist = np.matmul(nrm, pts)                                          # (B, M, S)
    dist += dh[..., None]
    np.abs(dist, out=dist)
    close = dist < thr32[:, None, None]
    if not all_usable:
        close &= usable[:, None, :]
    score = np.where(h_ok, np.count_nonzero(close, axis=2), -1)
    best = np.argmax(score, axis=1)
    pick = np.arange(n_groups)
    ok = score[pick, best] >= 3
    n_best = nrm[pick, best].astype(np.float64)                         # centred frame
    d_best = dh[pick, best].astype(np.float64)

    for _ in range(max(1, refine_iterations)):
        inl = (np.abs(_residuals(px, py, pz, n_best, d_best)) < thr32[:, None]) & usable
        w, mean, cov = _moments(px, py, pz, inl)
        fit = ok & (w >= 3)
        if not np.any(fit):
            break
        n_new = _smallest_eigenvectors(cov[fit])
        flip = (n_new * (mean[fit] + centre[fit])).sum(axis=1) > 0
        n_new[flip] *= -1.0
        n_best[fit] = n_new
        d_best[fit] = -(n_new * mean[fit]).sum(axis=1)
    res = _residuals(px, py, pz, n_best, d_best)
    inl = (np.abs(res) < thr32[:, None]) & usable
    w = np.count_nonzero(inl, axis=1)
    has = ok & (w > 0)
    frac[has] = w[has] / n_use[has]
    r_in = np.where(inl, res, np.float32(0.0))
    sq = np.einsum('ij,ij->i', r_in, r_in).astype(np.float64)
    rms[has] = np.sqrt(sq[has] / w[has])
    normals[ok] = n_best[ok]
    # Back from the centred frame: n . (X - centre) + d = 0  ->  d' = d - n . centre.
    offsets[ok] = d_best[ok] - (n_best[ok] * centre[ok]).sum(axis=1)
    return PlaneFits(normals, offsets, frac, rms, centre)


def _residuals(x: np.ndarray, y: np.ndarray, z: np.ndarray, normals: np.ndarray,
               offsets: np.ndarray) -> np.ndarray:
    """(B, L) float32 signed distances ``n_b . X + d_b`` of padded points to their plane."""
    n = normals.astype(np.float32)
    res = x * n[:, 0:1]
    res += y * n[:, 1:2]
    res += z * n[:, 2:3]
    res += offsets.astype(np.float32)[:, None]
    return res


def refine_planes(x: np.ndarray, y: np.ndarray, z: np.ndarray, mask: np.ndarray,
                  normals: np.ndarray, offsets: np.ndarray, thresholds: np.ndarray,
                  centres: Optional[np.ndarray] = None, iterations: int = 1,
                  min_threshold: float = 0.003, sigmas: float = 2.5, step: int = 1,
                  rms: Optional[np.ndarray] = None
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares refit of each group's plane on its points near it (padded layout).

    Each fit uses the points within a band of ``sigmas`` times the RMS distance of the previous
    inliers (``rms`` for the first fit; without it, the first band is ``thresholds``), not below
    ``min_threshold`` nor above ``thresholds``, so the rims of side faces, which lie just below
    the top face, do not tilt the plane. The inliers' first and second moments of all groups come
    from one batched (B, 4, L) x (B, L, 4) matrix product, about a per-group reference point
    (``centres``) so that float32 keeps the small spread along the normal.

    Args:
        x: (B, L) float32 point x, metres (camera optical frame), padded layout.
        y: (B, L) float32 point y, metres.
        z: (B, L) float32 point z, metres.
        mask: (B, L) bool, True for real points (False for padding).
        normals: (B, 3) starting unit normals towards the camera (NaN rows are skipped).
        offsets: (B,) starting offsets, metres.
        thresholds: (B,) inlier distances, metres.
        centres: (B, 3) reference point per group near its points (e.g.
            :attr:`PlaneFits.centres`), metres, or None (the origin: less precise).
        iterations: Refits (the inliers are re-selected before each).
        min_threshold: Smallest inlier band of the later fits, metres.
        sigmas: Band of the later fits in RMS distances.
        step: Fit on every ``step``-th point of each group (the returned inliers cover all
            points).
        rms: (B,) RMS distance of the starting planes' inliers, metres, or None.

    Returns:
        ``(normals, offsets, inliers, inlier_counts, rms)``: refitted (B, 3) normals (towards the
        camera), (B,) offsets, the (B, L) bool points within ``thresholds`` of the final planes,
        their (B,) number per group and (B,) RMS distance (metres, NaN without inliers).
    """
    normals = np.array(normals, dtype=np.float64)
    offsets = np.array(offsets, dtype=np.float64)
    n_groups = len(offsets)
    ok = np.isfinite(offsets)
    thr = np.where(ok, thresholds, -1.0)
    band = thr.copy()
    if rms is not None:
        band = np.where(ok & np.isfinite(rms), np.clip(sigmas * np.nan_to_num(rms), min_threshold,
                                                       thr), thr)
    ref = np.zeros((n_groups, 3)) if centres is None else np.nan_to_num(
        np.asarray(centres, dtype=np.float64))
    ref32 = ref.astype(np.float32)
    xs, ys, zs, ms = x[:, ::step], y[:, ::step], z[:, ::step], mask[:, ::step]
    for _ in range(iterations):
        nrm = np.where(ok[:, None], normals, 0.0)
        res = _residuals(xs, ys, zs, nrm, np.where(ok, offsets, 0.0))
        inliers = np.abs(res) < band.astype(np.float32)[:, None]
        inliers &= ms
        w, mq, cov = _moments(xs - ref32[:, 0:1], ys - ref32[:, 1:2], zs - ref32[:, 2:3],
                              inliers)
        fit = ok & (w >= 3)
        if not np.any(fit):
            break
        n_new = _smallest_eigenvectors(cov[fit])
        centroid = ref[fit] + mq[fit]
        flip = (n_new * centroid).sum(axis=1) > 0
        n_new[flip] *= -1.0
        normals[fit] = n_new
        offsets[fit] = -(n_new * centroid).sum(axis=1)
        r_in = np.where(inliers, res, np.float32(0.0))
        rms = np.sqrt(np.einsum('ij,ij->i', r_in, r_in) / np.maximum(w, 1.0))
        band = np.where(ok, np.clip(sigmas * rms, min_threshold, thr), -1.0)
    # Inliers of the final planes among all points.
    res = _residuals(x, y, z, np.where(ok[:, None], normals, 0.0), np.where(ok, offsets, 0.0))
    inliers = np.abs(res) < thr.astype(np.float32)[:, None]
    inliers &= mask
    n_in = np.count_nonzero(inliers, axis=1)
    r_in = np.where(inliers, res, np.float32(0.0))
    sq = np.einsum('ij,ij->i', r_in, r_in).astype(np.float64)
    rms_out = np.where(n_in > 0, np.sqrt(sq / np.maximum(n_in, 1)), np.nan)
    return normals, offsets, inliers, n_in, rms_out


def rectangle_extents(u: np.ndarray, v: np.ndarray, valid: np.ndarray, angles: np.ndarray,
                      trim: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Oriented rectangles of groups of 2D points with known orientations (padded layout).

    The extents along both axes are trimmed quantiles: with the points spread uniformly over the
    rectangle (a grid of pixels on a face), the span between the ``k``-th smallest and
    ``k``-th largest of ``n`` points is ``(n - 1 - 2 k) / n`` of the side, so scaling it by
    ``n / (n - 1 - 2 k)`` gives the side while ignoring up to ``k = floor(trim * (n - 1))`` stray
    points at each end. One sort along the rows per axis serves all groups (the padding sorts
    last as +inf).

    Args:
        u: (B, L) float32 first in-plane coordinate of the points, metres.
        v: (B, L) float32 second in-plane coordinate, metres.
        valid: (B, L) bool points to use (results for groups without any are undefined).
        angles: (B,) direction of the first rectangle axis per group in the (u, v) plane,
            radians.
        trim: Fraction of points ignored at each end of each axis, in [0, 0.2).

    Returns:
        ``(centre, long_axis, sides)``: (B, 2) centres, (B, 2) unit directions of the longer
        side, (B, 2) (length, width) with length >= width, all in the input units (float64).
    """
    n_groups, width = u.shape
    angles = np.asarray(angles, dtype=np.float64)
    a1 = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    a2 = np.stack([-a1[:, 1], a1[:, 0]], axis=1)
    c1, c2 = a1.astype(np.float32), a2.astype(np.float32)
    inf = np.float32(np.inf)
    pa = u * c1[:, 0:1]
    pa += v * c1[:, 1:2]
    pb = u * c2[:, 0:1]
    pb += v * c2[:, 1:2]
    invalid = ~valid
    np.copyto(pa, inf, where=invalid)
    np.copyto(pb, inf, where=invalid)
    pa.sort(axis=1)
    pb.sort(axis=1)
    counts = np.count_nonzero(valid, axis=1).astype(np.int64)
    k = np.floor(trim * (counts - 1)).astype(np.int64)
    k = np.where((k > 0) & (k < counts - 1 - k), k, 0)
    scale = np.where(k > 0, counts / np.maximum(counts - 1.0 - 2.0 * k, 1.0), 1.0)
    last = max(width - 1, 0)
    lo = np.clip(k, 0, last)
    hi = np.clip(counts - 1 - k, 0, last)
    rows = np.arange(n_groups)
    a_lo, a_hi = pa[rows, lo].astype(np.float64), pa[rows, hi].astype(np.float64)
    b_lo, b_hi = pb[rows, lo].astype(np.float64), pb[rows, hi].astype(np.float64)
    # Groups without valid points hold inf - inf = NaN here (undefined, documented above).
    with np.errstate(invalid='ignore'):
        len_a = (a_hi - a_lo) * scale
        len_b = (b_hi - b_lo) * scale
        centre = a1 * (0.5 * (a_lo + a_hi))[:, None] + a2 * (0.5 * (b_lo + b_hi))[:, None]
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
    m00, m11, m22 = m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]
    tr = m00 + m11 + m22
    pivots = np.empty((m.shape[0], 4))
    pivots[:, 0], pivots[:, 1], pivots[:, 2], pivots[:, 3] = m00, m11, m22, tr
    case = pivots.argmax(axis=1)
    q = np.empty((m.shape[0], 4))
    # One formula per pivot (the largest of the diagonal and the trace), each on its rows only.
    for c in np.unique(case).tolist():
        sel = case == c
        r = m[sel]
        if c == 3:
            s = np.sqrt(1.0 + tr[sel]) * 2.0
            q[sel] = np.stack([(r[:, 2, 1] - r[:, 1, 2]) / s, (r[:, 0, 2] - r[:, 2, 0]) / s,
                               (r[:, 1, 0] - r[:, 0, 1]) / s, 0.25 * s], axis=1)
        elif c == 0:
            s = np.sqrt(1.0 + r[:, 0, 0] - r[:, 1, 1] - r[:, 2, 2]) * 2.0
            q[sel] = np.stack([0.25 * s, (r[:, 0, 1] + r[:, 1, 0]) / s,
                               (r[:, 0, 2] + r[:, 2, 0]) / s, (r[:, 2, 1] - r[:, 1, 2]) / s],
                              axis=1)
        elif c == 1:
            s = np.sqrt(1.0 + r[:, 1, 1] - r[:, 0, 0] - r[:, 2, 2]) * 2.0
            q[sel] = np.stack([(r[:, 0, 1] + r[:, 1, 0]) / s, 0.25 * s,
                               (r[:, 1, 2] + r[:, 2, 1]) / s, (r[:, 0, 2] - r[:, 2, 0]) / s],
                              axis=1)
        else:
            s = np.sqrt(1.0 + r[:, 2, 2] - r[:, 0, 0] - r[:, 1, 1]) * 2.0
            q[sel] = np.stack([(r[:, 0, 2] + r[:, 2, 0]) / s, (r[:, 1, 2] + r[:, 2, 1]) / s,
                               0.25 * s, (r[:, 1, 0] - r[:, 0, 1]) / s], axis=1)
    q /= np.sqrt(q[:, 0] ** 2 + q[:, 1] ** 2 + q[:, 2] ** 2 + q[:, 3] ** 2)[:, None]
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
