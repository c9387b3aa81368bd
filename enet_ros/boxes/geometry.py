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


# Rows x, y, z, x, y of the RANSAC corners: the cross product is then three operations.
_ROLLED_XYZ = np.array([0, 1, 2, 0, 1])


def _quaternion_k_matrix() -> Tuple[np.ndarray, np.ndarray]:
    """(9, 16) matrix and (16,) offset taking a flattened rotation matrix to ``K`` (flattened).

    ``K`` is the symmetric 4 x 4 matrix of :func:`matrix_to_quaternion`, equal to ``4 q q^T``
    for a rotation with quaternion ``q = (x, y, z, w)``.
    """
    # Entries of K: (row, column, ((index into the flattened matrix, sign), ...)); 'one' adds 1.
    entries = [(0, 0, ((0, 1), (4, -1), (8, -1))), (1, 1, ((0, -1), (4, 1), (8, -1))),
               (2, 2, ((0, -1), (4, -1), (8, 1))), (3, 3, ((0, 1), (4, 1), (8, 1))),
               (0, 1, ((1, 1), (3, 1))), (0, 2, ((2, 1), (6, 1))), (1, 2, ((5, 1), (7, 1))),
               (0, 3, ((7, 1), (5, -1))), (1, 3, ((2, 1), (6, -1))), (2, 3, ((3, 1), (1, -1)))]
    mat = np.zeros((9, 4, 4))
    for row, col, terms in entries:
        for index, sign in terms:
            mat[index, row, col] = mat[index, col, row] = sign
    return mat.reshape(9, 16), np.eye(4).ravel()


_QUAT_K, _QUAT_K0 = _quaternion_k_matrix()


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


def _moments(pts: np.ndarray, weight: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and covariance of weighted (B, 3, K) point sets in one batched matrix product.

    Args:
        pts: (B, 3, K) float32 x, y, z of the points (relative to a reference point near them),
            metres.
        weight: (B, K) bool points to use.

    Returns:
        ``(w, mean, cov)``: (B,) float64 point counts, (B, 3) means and (B, 3, 3) covariances
        (garbage where ``w`` is 0).
    """
    q = np.empty((pts.shape[0], 4, pts.shape[2]), np.float32)
    q[:, 3] = weight
    np.multiply(pts, q[:, 3:], out=q[:, :3])
    return _weighted_moments(q)


def _weighted_moments(q: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_moments` of (B, 4, K) float32 rows ``(w x, w y, w z, w)`` with ``w`` in {0, 1}."""
    mom = np.matmul(q, q.transpose(0, 2, 1)).astype(np.float64)          # (B, 4, 4)
    w = mom[:, 3, 3].copy()
    mom /= np.maximum(w, 1.0)[:, None, None]                             # in place: fewer calls
    mean = mom[:, :3, 3]
    cov = mom[:, :3, :3]
    cov -= mean[:, :, None] * mean[:, None, :]
    return w, mean, cov


def _smallest_eigenvectors(cov: np.ndarray) -> np.ndarray:
    """(B, 3) unit eigenvectors of the smallest eigenvalues of (B, 3, 3) symmetric matrices.

    LAPACK (``eigh``, about 1 us per matrix): a closed form takes more NumPy calls than that for
    the usual few matrices, and needs a fallback for degenerate ones.
    """
    return np.linalg.eigh(cov)[1][:, :, 0]


def _refit(normals: np.ndarray, offsets: np.ndarray, fit: np.ndarray, cov: np.ndarray,
           through: np.ndarray, towards: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Replace the planes of the groups ``fit`` by the least-squares planes of their moments.

    Args:
        normals: (B, 3) float64 normals (updated in place unless all groups are refitted).
        offsets: (B,) float64 offsets (likewise).
        fit: (B,) bool groups to refit.
        cov: (B, 3, 3) float64 covariances of the groups' points.
        through: (B, 3) float64 mean of each group's points, in the frame of ``offsets``.
        towards: (B, 3) float64 the same means in the camera frame (the new normals point
            away from them: towards the camera).

    Returns:
        ``(normals, offsets)``.
    """
    if fit.all():                                         # the usual case: no boolean indexing
        n_new = _smallest_eigenvectors(cov)
        np.negative(n_new, out=n_new, where=(n_new * towards).sum(axis=1)[:, None] > 0)
        return n_new, -(n_new * through).sum(axis=1)
    n_new = _smallest_eigenvectors(cov[fit])
    np.negative(n_new, out=n_new, where=(n_new * towards[fit]).sum(axis=1)[:, None] > 0)
    normals[fit] = n_new
    offsets[fit] = -(n_new * through[fit]).sum(axis=1)
    return normals, offsets


def fit_planes(sx: np.ndarray, sy: np.ndarray, sz: np.ndarray, thresholds: np.ndarray,
               hypothesis_u: np.ndarray, refine_iterations: int = 1,
               max_view_angle_deg: float = 75.0) -> PlaneFits:
    """Fit one plane per group: RANSAC, then least-squares refits on the inliers (vectorised).

    RANSAC draws ``M`` point triplets from each group's sample and keeps the plane with most
    sample points within the group's threshold. Planes seen at more than ``max_view_angle_deg``
    from the line of sight (side faces at grazing angles) are not accepted. The winner is refined
    ``refine_iterations`` times by a total-least-squares fit (smallest eigenvector of the
    inliers' covariance). The samples are small, so the time goes mostly to NumPy's per-call
    overhead: the coordinates are stacked in one (B, 3, S) array, each step is one call for all
    three, and the float32 arithmetic is that of a per-coordinate evaluation, bit for bit.

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
    if n_groups == 0 or n_sample < 3:
        return PlaneFits(np.full((n_groups, 3), np.nan), np.full(n_groups, np.nan),
                         np.zeros(n_groups), np.full(n_groups, np.nan), np.zeros((n_groups, 3)))
    pts = np.empty((n_groups, 3, n_sample), np.float32)                 # (B, 3, S)
    pts[:, 0] = sx
    pts[:, 1] = sy
    pts[:, 2] = sz
    centre = pts.sum(axis=2, dtype=np.float64)                          # (B, 3)
    # The float64 sums of float32 values are finite exactly when all the values are.
    all_usable = bool(np.isfinite(centre).all())
    if all_usable:
        usable = True
        n_use = n_sample
        centre /= n_sample
    else:
        usable = np.isfinite(pts).all(axis=1)                           # (B, S)
        np.copyto(pts, np.float32(0.0), where=~usable[:, None, :])
        n_use = usable.sum(axis=1)
        centre = pts.sum(axis=2, dtype=np.float64)
        centre /= np.maximum(n_use, 1)[:, None]
    pts -= centre.astype(np.float32)[:, :, None]              # centred: better conditioned
    thr32 = np.asarray(thresholds, dtype=np.float32)
    # Hypotheses: the corners of each triplet (u * S, truncated, clipped), gathered in one take
    # as rows x, y, z, x, y (B, M, 3 corners) so that the cross product is three operations.
    h_idx = np.multiply(hypothesis_u, n_sample, out=np.empty(np.shape(hypothesis_u), np.int64),
                        casting='unsafe')
    np.maximum(h_idx, 0, out=h_idx)
    np.minimum(h_idx, n_sample - 1, out=h_idx)
    rows = _ROLLED_XYZ * n_sample + np.arange(0, n_groups * 3 * n_sample, 3 * n_sample)[:, None]
    corner = pts.ravel().take(h_idx.transpose(2, 0, 1) + rows.T[:, None, :, None])  # (5, 3, B, M)
    edge = corner[:, 1:] - corner[:, :1]                                 # (5, 2, B, M)
    u, v = edge[:, 0], edge[:, 1]
    nrm = u[1:4] * v[2:5]                                                # (3, B, M)
    nrm -= u[2:5] * v[1:4]
    length = np.add.reduce(nrm * nrm, axis=0)              # ((x x + y y) + z z), as x, y, z rows
    np.sqrt(length, out=length)
    h_ok = length > 1e-10
    if not all_usable:
        h_use = usable.ravel().take(h_idx + (np.arange(n_groups) * n_sample)[:, None, None])
        h_ok &= h_use.all(axis=2)
    inv = np.where(h_ok, length, np.float32(1.0))
    nrm *= np.divide(1.0, inv, out=inv)
    # Orient towards the camera and reject planes seen edge-on. With the line of sight negated,
    # copysign gives the sign factor (-1 where n . view > 0) in one call (a tie at 0 or NaN gives
    # -1 instead of 1, but such planes are rejected anyway).
    view = centre / -np.maximum(np.sqrt(np.add.reduce(centre * centre, axis=1, keepdims=True)),
                                1e-12)                    # = -centre / np.linalg.norm(centre)
    cosv = np.add.reduce(nrm * view.T.astype(np.float32)[:, :, None], axis=0)   # -n . view
    nrm *= np.copysign(np.float32(1.0), cosv)
    np.abs(cosv, out=cosv)
    h_ok &= cosv >= np.cos(np.deg2rad(max_view_angle_deg))
    dh = np.add.reduce(nrm * corner[:3, 0], axis=0)                     # -d, (B, M)
    nrm = np.ascontiguousarray(nrm.transpose(1, 2, 0))                  # (B, M, 3)
    dist = np.matmul(nrm, pts)                                          # (B, M, S)
    dist -= dh[..., None]
    np.abs(dist, out=dist)
    close = dist.reshape(n_groups, -1) < thr32[:, None]                 # one long row per group
    close = close.reshape(dist.shape)
    if not all_usable:
        close &= usable[:, None, :]
    # Inlier counts (exact in float32) by a matrix product: faster than a sum of booleans.
    score = np.matmul(close.astype(np.float32), np.ones(n_sample, np.float32))
    score[~h_ok] = -1.0
    best = score.argmax(axis=1)
    pick = np.arange(n_groups)
    ok = score[pick, best] >= 3
    n_best = nrm[pick, best].astype(np.float64)                         # centred frame
    d_best = dh[pick, best].astype(np.float64)
    np.negative(d_best, out=d_best)
    plane = np.empty((n_groups, 4), np.float32)
    res = np.empty((n_groups, n_sample), np.float32)
    prod = np.empty_like(pts)
    for _ in range(max(1, refine_iterations)):
        plane[:, :3] = n_best
        plane[:, 3] = d_best
        _residuals(pts, plane, res, prod)
        np.abs(res, out=res)
        inl = res < thr32[:, None]
        if not all_usable:
            inl &= usable
        w, mean, cov = _moments(pts, inl)
        fit = ok & (w >= 3)
        if not fit.any():
            break
        n_best, d_best = _refit(n_best, d_best, fit, cov, mean, mean + centre)
    plane[:, :3] = n_best
    plane[:, 3] = d_best
    _residuals(pts, plane, res, prod)
    np.abs(res, out=res)                                  # squares below: the sign is not needed
    inl = res < thr32[:, None]
    if not all_usable:
        inl &= usable
    w = inl.sum(axis=1)
    res *= inl
    sq = np.einsum('ij,ij->i', res, res).astype(np.float64)
    # Back from the centred frame: n . (X - centre) + d = 0  ->  d' = d - n . centre.
    if ok.all() and w.all():                              # the usual case: no boolean indexing
        return PlaneFits(n_best, d_best - (n_best * centre).sum(axis=1), w / n_use,
                         np.sqrt(sq / w), centre)
    normals = np.full((n_groups, 3), np.nan)
    offsets = np.full(n_groups, np.nan)
    frac = np.zeros(n_groups)
    rms = np.full(n_groups, np.nan)
    has = ok & (w > 0)
    frac[has] = w[has] / (n_use if all_usable else n_use[has])
    rms[has] = np.sqrt(sq[has] / w[has])
    normals[ok] = n_best[ok]
    offsets[ok] = d_best[ok] - (n_best[ok] * centre[ok]).sum(axis=1)
    return PlaneFits(normals, offsets, frac, rms, centre)


def _residuals(pts: np.ndarray, planes: np.ndarray, out: np.ndarray, tmp: np.ndarray
               ) -> np.ndarray:
    """Signed distances ``n_b . X + d_b`` of (B, 3, K) float32 points to their group's plane.

    Evaluated as ``((x n_x + y n_y) + z n_z) + d`` in float32, in that order (the inlier tests
    compare them with thresholds, so they are kept bit for bit).

    Args:
        pts: (B, 3, K) float32 points, metres.
        planes: (B, 4) float32 ``(n_x, n_y, n_z, d)``.
        out: (B, K) float32 result buffer.
        tmp: (B, 3, K) float32 scratch buffer.

    Returns:
        ``out``.
    """
    np.multiply(pts, planes[:, :3, None], out=tmp)
    np.add.reduce(tmp, axis=1, out=out)                   # sequential over the length-3 axis
    out += planes[:, 3:]
    return out


def _residuals_xyz(x: np.ndarray, y: np.ndarray, z: np.ndarray, planes: np.ndarray,
                   out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """:func:`_residuals` of points in separate (B, K) float32 arrays (same arithmetic)."""
    np.multiply(x, planes[:, 0:1], out=out)
    np.multiply(y, planes[:, 1:2], out=tmp)
    out += tmp
    np.multiply(z, planes[:, 2:3], out=tmp)
    out += tmp
    out += planes[:, 3:]
    return out


def _set_planes(planes: np.ndarray, normals: np.ndarray, offsets: np.ndarray,
                ok: Optional[np.ndarray]) -> None:
    """Copy (B, 3) normals and (B,) offsets into (B, 4) float32 ``planes`` (rows ``ok`` only)."""
    if ok is None:
        planes[:, :3] = normals
        planes[:, 3] = offsets
    else:
        planes[ok, :3] = normals[ok]
        planes[ok, 3] = offsets[ok]


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
    all_ok = bool(ok.all())
    thr = np.where(ok, thresholds, -1.0)
    band = thr
    if rms is not None:
        # clip(sigmas * rms, min_threshold, thr), and thr where rms is not finite (fmin drops
        # the NaN; an infinite rms reaches thr anyway): np.clip and np.nan_to_num are slow.
        band = np.fmin(np.maximum(sigmas * np.asarray(rms), min_threshold), thr)
    if centres is None:
        ref = np.zeros((n_groups, 3))
    else:
        ref = np.asarray(centres, dtype=np.float64)
        if not np.isfinite(ref).all():
            ref = np.nan_to_num(ref)
    ref32 = ref.astype(np.float32)[:, :, None]
    planes = np.zeros((n_groups, 4), np.float32)        # float32 (n, d), zero where not ok
    xs, ys, zs, ms = x[:, ::step], y[:, ::step], z[:, ::step], mask[:, ::step]
    if iterations > 0:
        res = np.empty(xs.shape, np.float32)
        tmp = np.empty(xs.shape, np.float32)
        q = np.empty((n_groups, 4, xs.shape[1]), np.float32)
    for it in range(iterations):
        _set_planes(planes, normals, offsets, None if all_ok else ok)
        _residuals_xyz(xs, ys, zs, planes, res, tmp)
        np.abs(res, out=res)                              # squares below: the sign is not needed
        inliers = res < band.astype(np.float32)[:, None]
        inliers &= ms
        # Rows (w (x - ref), w (y - ref), w (z - ref), w) of the moments' matrix product.
        q[:, 3] = inliers
        np.subtract(xs, ref32[:, 0], out=q[:, 0])
        np.subtract(ys, ref32[:, 1], out=q[:, 1])
        np.subtract(zs, ref32[:, 2], out=q[:, 2])
        q[:, :3] *= q[:, 3:]
        w, mq, cov = _weighted_moments(q)
        fit = ok & (w >= 3)
        if not fit.any():
            break
        centroid = ref + mq
        normals, offsets = _refit(normals, offsets, fit, cov, centroid, centroid)
        if it + 1 < iterations:                           # the band of the next fit
            res *= inliers
            band = np.sqrt(np.einsum('ij,ij->i', res, res) / np.maximum(w, 1.0))
            band *= sigmas
            np.maximum(band, min_threshold, out=band)
            np.minimum(band, thr, out=band)
    # Inliers of the final planes among all points.
    _set_planes(planes, normals, offsets, None if all_ok else ok)
    res = np.empty(x.shape, np.float32)
    _residuals_xyz(x, y, z, planes, res, np.empty(x.shape, np.float32))
    np.abs(res, out=res)
    inliers = res < thr.astype(np.float32)[:, None]
    inliers &= mask
    n_in = inliers.sum(axis=1)
    res *= inliers
    rms_out = np.einsum('ij,ij->i', res, res).astype(np.float64)
    rms_out /= np.maximum(n_in, 1)
    np.sqrt(rms_out, out=rms_out)
    rms_out[n_in == 0] = np.nan
    return normals, offsets, inliers, n_in, rms_out


def rectangle_extents(u: np.ndarray, v: np.ndarray, valid: np.ndarray, angles: np.ndarray,
                      trim: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Oriented rectangles of groups of 2D points with known orientations (padded layout).

    The extents along both axes are trimmed quantiles: with the points spread uniformly over the
    rectangle (a grid of pixels on a face), the span between the ``k``-th smallest and
    ``k``-th largest of ``n`` points is ``(n - 1 - 2 k) / n`` of the side, so scaling it by
    ``n / (n - 1 - 2 k)`` gives the side while ignoring up to ``k = floor(trim * (n - 1))`` stray
    points at each end. The projections on both axes are one (B, 2, L) array, sorted along its
    rows in one call (the padding sorts last as +inf).

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
    axes = np.empty((n_groups, 4))                  # rows (a1, a2) = ((cos, sin), (-sin, cos))
    np.cos(angles, out=axes[:, 0])
    np.sin(angles, out=axes[:, 1])
    np.negative(axes[:, 1], out=axes[:, 2])
    axes[:, 3] = axes[:, 0]
    axes = axes.reshape(n_groups, 2, 2)
    c32 = axes.astype(np.float32)[:, :, :, None]
    proj = u[:, None, :] * c32[:, :, 0]             # (B, 2, L): u a_x + v a_y for both axes
    proj += v[:, None, :] * c32[:, :, 1]
    np.copyto(proj, np.float32(np.inf), where=~valid[:, None, :])
    proj.sort(axis=2)
    counts = valid.sum(axis=1)
    last = counts - 1
    # k = floor(trim * (n - 1)) (truncation: 0 for n = 0), and 0 unless 0 < k < n - 1 - k.
    k = np.multiply(last, trim, out=np.empty(n_groups, np.int64), casting='unsafe')
    span = last - 2 * k
    k *= span > 0
    span = last - 2 * k
    pos = np.empty((n_groups, 2), np.int64)         # ranks of the low and high ends
    pos[:, 0] = k
    np.maximum(last - k, 0, out=pos[:, 1])
    ends = proj.ravel().take(pos[:, None, :] + np.arange(0, n_groups * 2 * width, width).reshape(
        n_groups, 2, 1)).astype(np.float64)        # (B, axis, low/high)
    scale = np.ones(n_groups)
    np.divide(counts, span, out=scale, where=k > 0)
    # Groups without valid points hold inf - inf = NaN here (undefined, documented above).
    with np.errstate(invalid='ignore'):
        lengths = ends[:, :, 1] - ends[:, :, 0]
        lengths *= scale[:, None]
        mid = ends[:, :, 0] + ends[:, :, 1]
        mid *= 0.5
        centre = axes[:, 0] * mid[:, 0:1]
        centre += axes[:, 1] * mid[:, 1:2]
    swap = (lengths[:, 1] > lengths[:, 0])[:, None]
    long_axis = np.where(swap, axes[:, 1], axes[:, 0])
    sides = np.where(swap, lengths[:, ::-1], lengths)
    return centre, long_axis, sides


def matrix_to_quaternion(rot: np.ndarray) -> np.ndarray:
    """Convert rotation matrices to unit quaternions ``(x, y, z, w)`` with ``w >= 0``.

    Hand-written (Shepperd's method, vectorised) because SciPy is not a dependency of enet_ros:
    row ``c`` of the symmetric 4 x 4 matrix ``K`` (one matrix product for all rotations) is
    ``4 q_c q``, and the row with the largest diagonal entry ``4 q_c^2`` is normalised.

    Args:
        rot: (..., 3, 3) rotation matrices (columns = rotated frame's axes in the parent frame).

    Returns:
        (..., 4) float64 quaternions in ROS order (x, y, z, w).
    """
    m = np.asarray(rot, dtype=np.float64)
    shape = m.shape[:-2]
    k = np.matmul(m.reshape(-1, 9), _QUAT_K)
    k += _QUAT_K0
    n = len(k)
    q = k.reshape(n * 4, 4).take(np.arange(0, 4 * n, 4) + k[:, ::5].argmax(axis=1), axis=0)
    scale = np.einsum('ij,ij->i', q, q)
    np.sqrt(scale, out=scale)
    np.divide(1.0, scale, out=scale)
    np.negative(scale, out=scale, where=q[:, 3] < 0)
    q *= scale[:, None]
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
