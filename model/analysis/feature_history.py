"""The story of a few features over a whole run (numpy, no Qt): at every recorded step,
each chosen feature's norm |W_i|, bias b_i, fractional dimensionality D_i and sliver share,
with the dead threshold they are judged against. What the feature-history view draws.

Every series is computed for all recorded steps at once (arrays over steps, in chunks of
about ``CHUNK_ELEMENTS`` numbers), never one snapshot at a time:

- |W_i| and b_i: read off the history. For an untied model the norm is |Phi_i|, the length of
  the function's own feature vector (model.analysis.criteria.function_factors: the balanced factor of
  M W), which is what the diagnosis judges (``norm_of`` says which).
- the dead threshold: model.analysis.analysis calls feature i dead when |Phi_i| < DEAD_REL max_j |Phi_j|
  or |Phi_i| < DEAD_ABS (Phi = W tied); the series is max(DEAD_REL max_j |Phi_j|, DEAD_ABS) at
  each step, so a feature dies where its norm crosses it.
- D_i = |W_i|^2 / sum_j (W_i/|W_i| . W_j)^2 = |W_i|^4 / (W_i^T G W_i), G = W W^T (m x m), as
  model.analysis.geometry.feature_dimensionality (0 for W_i = 0).
- sliver share: the area of feature i's zone {h : p_i(h) > 0} inside the latent shape over the
  shape's area, as model.analysis.separability's sensitivity: the shape is the polygon through the W_j
  in angular order; the zone's area is the shoelace sum over the shape's edges clipped by the
  line p_i = 0 (an edge inside counts P x Q, an edge leaving P x X, an edge entering X x Q, X
  where it crosses) plus the pieces of the line inside the shape, (-b_i/|a_i|)(sum of entry t -
  sum of exit t) with t the position along the line (model.analysis.geometry.zone_areas' method, here
  for every step and feature at once). p(h) = D h + b with D the decoder (W^T tied, M untied);
  for m > 2 on the principal plane of each step (model.analysis.geometry.plane_basis); NaN where the
  shape has no area (m = 1, n < 3, collinear features).

``feature_series(history, features, model)`` reads a History; ``series_of_arrays`` takes the
stacked parameters; ``SeriesTracker`` keeps a run's series up to date while training records
rows, computing only the steps it has not seen (a recorded step's parameters never change).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .analysis import DEAD_ABS, DEAD_REL

if TYPE_CHECKING:
    from ..history import History

#: Integers given as a list or an array (steps, feature indices).
Steps = Sequence[int] | np.ndarray
#: Steps are processed in chunks of about this many numbers (steps x m x n).
CHUNK_ELEMENTS = 4_000_000
#: The series a FeatureSeries holds per feature, in the order a view draws them.
SERIES = ("norm", "bias", "dim", "share")


@dataclass
class FeatureSeries:
    """Per recorded step (rows) and chosen feature (columns, 0-based ``features``)."""

    steps: np.ndarray  # (N,) int64
    features: np.ndarray  # (s,) int64, 0-based
    n: int
    norm: np.ndarray  # (N, s) |W_i|
    bias: np.ndarray  # (N, s) b_i
    dim: np.ndarray  # (N, s) D_i
    share: np.ndarray  # (N, s) sliver share, NaN where the shape has no area
    dead_threshold: np.ndarray  # (N,) max(DEAD_REL max_j |Phi_j|, DEAD_ABS)
    norm_of: str = "W"  # what ``norm`` measures: "W" (tied) or "Phi" (untied: the function's feature vectors)

    @property
    def inv_n(self) -> float:
        """1/n: the best bias of a dead feature under MSE on one-hot data."""
        return 1.0 / self.n

    def dead(self) -> np.ndarray:
        """(N, s) bool: dead at that step, model.analysis.analysis' criterion."""
        return self.norm < self.dead_threshold[:, None]

    def died_at(self, feature: int) -> int | None:
        """The first recorded step from which ``feature`` (0-based) stays dead to the end, or None."""
        col = int(np.nonzero(self.features == int(feature))[0][0])
        d = self.dead()[:, col]
        if not len(d) or not d[-1]:
            return None
        alive = np.nonzero(~d)[0]
        return int(self.steps[alive[-1] + 1]) if len(alive) else int(self.steps[0])

    def take(self, rows: np.ndarray) -> FeatureSeries:
        """The rows ``rows`` (an index or mask over steps)."""
        return FeatureSeries(self.steps[rows], self.features, self.n, self.norm[rows], self.bias[rows],
                             self.dim[rows], self.share[rows], self.dead_threshold[rows], self.norm_of)


def empty_series(features: Steps, n: int) -> FeatureSeries:
    s = len(features)
    z = np.zeros((0, s))
    return FeatureSeries(np.zeros(0, np.int64), np.asarray(features, np.int64), int(n), z, z.copy(), z.copy(),
                         z.copy(), np.zeros(0))


def concat(parts: Sequence[FeatureSeries]) -> FeatureSeries:
    """The rows of several series of the same features, in the order given."""
    p0 = parts[0]
    cat = np.concatenate
    return FeatureSeries(cat([p.steps for p in parts]), p0.features, p0.n, cat([p.norm for p in parts]),
                         cat([p.bias for p in parts]), cat([p.dim for p in parts]), cat([p.share for p in parts]),
                         cat([p.dead_threshold for p in parts]), p0.norm_of)


# ------------------------------------------------------------------ the maths, over steps
def _plane(W: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(W2 (T, 2, n), D2 (T, n, 2)): the parameters on each step's drawn plane; None for m = 1.
    m > 2: the top two left singular vectors of W, signs as model.analysis.geometry.plane_basis fixes them."""
    T, m, n = W.shape
    if m == 2:
        return W, D
    if m < 2:
        return None
    U = np.linalg.svd(W, full_matrices=False)[0][:, :, :2]  # (T, m, 2)
    big = np.argmax(np.abs(U), axis=1)  # (T, 2)
    sgn = np.sign(np.take_along_axis(U, big[:, None, :], axis=1))  # (T, 1, 2)
    sgn[sgn == 0] = 1.0
    U = U * sgn
    return np.einsum("tmk,tmn->tkn", U, W), np.einsum("tnm,tmk->tnk", D, U)


def sliver_shares(W2: np.ndarray, A: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(T, s): area of {h in shape : A_k . h + c_k > 0} / area(shape) at each step.

    W2 (T, 2, n): the feature vectors on the plane (the shape's vertices); A (T, s, 2): the zone
    normals of the chosen features; c (T, s): their biases. NaN where the shape has no area.
    Only the (step, edge, feature) triples with an end inside the zone are visited: at large n a
    zone that excludes the origin touches a few edges of thousands."""
    T, _two, n = W2.shape
    s = A.shape[1]
    th = np.arctan2(W2[:, 1, :], W2[:, 0, :])
    order = np.argsort(th, axis=1, kind="stable")
    Vx = np.take_along_axis(W2[:, 0, :], order, axis=1)  # (T, n), counter-clockwise
    Vy = np.take_along_axis(W2[:, 1, :], order, axis=1)
    Qx, Qy = np.roll(Vx, -1, axis=1), np.roll(Vy, -1, axis=1)
    pq = Vx * Qy - Vy * Qx  # (T, n)
    shape2 = pq.sum(axis=1)  # twice the signed area
    ax, ay = A[..., 0], A[..., 1]  # (T, s)
    sP = Vx[:, :, None] * ax[:, None, :] + Vy[:, :, None] * ay[:, None, :] + c[:, None, :]  # (T, n, s)
    inP = sP > 0
    inQ = np.roll(inP, -1, axis=1)
    t_i, e_i, s_i = np.nonzero(inP | inQ)  # the triples that contribute
    e_q = (e_i + 1) % n
    px, py, qx, qy = Vx[t_i, e_i], Vy[t_i, e_i], Qx[t_i, e_i], Qy[t_i, e_i]
    sp, sq = sP[t_i, e_i, s_i], sP[t_i, e_q, s_i]
    ip, iq = inP[t_i, e_i, s_i], inQ[t_i, e_i, s_i]
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(ip != iq, sp / (sp - sq), 0.0)
    xx, xy = px + f * (qx - px), py + f * (qy - py)  # where the edge crosses the line
    leave, enter = ip & ~iq, ~ip & iq
    contrib = np.where(ip & iq, pq[t_i, e_i], 0.0)
    contrib = np.where(leave, px * xy - py * xx, contrib)
    contrib = np.where(enter, xx * qy - xy * qx, contrib)
    a_x, a_y, cc = ax[t_i, s_i], ay[t_i, s_i], c[t_i, s_i]
    an2 = a_x * a_x + a_y * a_y
    t_line = -a_y * xx + a_x * xy  # position along the line p = 0, times |a|
    with np.errstate(divide="ignore", invalid="ignore"):
        closing = np.where(an2 > 0, -cc * t_line / an2, 0.0)
    contrib = contrib + np.where(enter, closing, 0.0) - np.where(leave, closing, 0.0)
    area2 = np.bincount(t_i * s + s_i, weights=contrib, minlength=T * s).reshape(T, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        flat = (ax == 0) & (ay == 0)  # p = c on the whole plane: the whole shape or nothing
        area2 = np.where(flat, np.where(c > 0, shape2[:, None], 0.0), area2)
        share = area2 / shape2[:, None]
    ok = (shape2 > 0) & np.isfinite(shape2)
    return np.where(ok[:, None], share, np.nan)


def function_norms(W: np.ndarray, M: np.ndarray) -> np.ndarray:
    """(T, n) |Phi_i| of untied models at each step: the column norms of the balanced factor
    S^(1/2) V^T of M W = Q R W = Q U S V^T (model.analysis.criteria.function_factors, over steps at once)."""
    R = np.linalg.qr(M)[1]  # (T, k, k)
    _U, sv, Vt = np.linalg.svd(R @ W, full_matrices=False)  # (T, k), (T, k, n)
    return np.sqrt(np.einsum("tk,tkn->tn", sv, Vt * Vt))


def _chunk(steps, W, b, M, sel, n, share_rows=None) -> FeatureSeries:
    """The series of one chunk of steps: W (T, m, n), b (T, n), M (T, n, m) or None, all float64;
    the sliver share only at ``share_rows`` (a mask; None: every row), NaN at the others."""
    norms = np.sqrt((W * W).sum(axis=1))  # (T, n)
    Ws = W[:, :, sel]  # (T, m, s)
    n2 = norms[:, sel] ** 2
    G = W @ W.transpose(0, 2, 1)  # (T, m, m)
    quad = ((G @ Ws) * Ws).sum(axis=1)  # W_i^T G W_i, (T, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        dim = np.where(n2 > 0, n2 ** 2 / quad, 0.0)
    D = W.transpose(0, 2, 1) if M is None else M  # (T, n, m) decoder rows
    share = np.full(Ws.shape[::2], np.nan)
    rows = np.ones(len(W), bool) if share_rows is None else np.asarray(share_rows, bool)
    if n >= 3 and rows.any():
        plane = _plane(W[rows], D[rows])
        if plane is not None:
            W2, D2 = plane
            share[rows] = sliver_shares(W2, D2[:, sel, :], b[rows][:, sel])
    strength = norms if M is None else function_norms(W, M)  # what the diagnosis calls dead or alive
    thr = np.maximum(DEAD_REL * strength.max(axis=1), DEAD_ABS)
    return FeatureSeries(np.asarray(steps, np.int64), np.asarray(sel, np.int64), n, strength[:, sel],
                         b[:, sel].copy(), dim, share, thr, "W" if M is None else "Phi")


def series_of_arrays(steps: Sequence[int], W: np.ndarray, b: np.ndarray, features: Sequence[int],
                     M: np.ndarray | None = None) -> FeatureSeries:
    """The series of ``features`` (0-based) from stacked parameters: W (N, m, n), b (N, n), M (N, n, m)."""
    W = np.asarray(W)
    N, m, n = W.shape
    sel = _check_features(features, n)
    if N == 0:
        return empty_series(sel, n)
    per = max(1, CHUNK_ELEMENTS // max(m * n, 1))
    parts = []
    for i in range(0, N, per):
        j = slice(i, i + per)
        parts.append(_chunk(np.asarray(steps)[j], W[j].astype(np.float64), np.asarray(b)[j].astype(np.float64),
                            None if M is None else np.asarray(M)[j].astype(np.float64), sel, n))
    return concat(parts)


def _check_features(features: Sequence[int], n: int) -> np.ndarray:
    sel = np.asarray(list(features), dtype=np.int64).reshape(-1)
    bad = sel[(sel < 0) | (sel >= n)]
    if len(bad):
        raise ValueError(f"features must be from 1 to {n}, got {', '.join(str(int(i) + 1) for i in bad)}")
    return sel


def feature_series(history: History, features: Sequence[int], model: int = 0,
                   steps: Steps | None = None, share_steps: Steps | None = None) -> FeatureSeries:
    """The series of ``features`` (0-based) of model ``model`` at every recorded step (or at the
    recorded ``steps`` given that are still recorded), read from the history a chunk at a time;
    the sliver share at ``share_steps`` only when given (NaN at the others)."""
    sel = _check_features(features, history.n)
    want = history.steps if steps is None else np.asarray(steps, dtype=np.int64)
    per = max(1, CHUNK_ELEMENTS // max(history.m * history.n, 1))
    parts = []
    for i in range(0, len(want), per):
        with history.locked_arrays() as arr:  # copy a chunk, compute outside the lock
            have = arr["steps"]
            chunk = want[i:i + per]
            idx = np.unique(np.searchsorted(have, chunk))
            idx = idx[idx < len(have)]
            idx = idx[np.isin(have[idx], chunk)]  # steps thinned away meanwhile are skipped
            st = have[idx].copy()
            W = arr["W"][idx, model].astype(np.float64)
            b = arr["b"][idx, model].astype(np.float64)
            M = None if arr["M"] is None else arr["M"][idx, model].astype(np.float64)
        if len(st):
            rows = None if share_steps is None else np.isin(st, share_steps)
            parts.append(_chunk(st, W, b, M, sel, history.n, rows))
    return concat(parts) if parts else empty_series(sel, history.n)


def _every(steps: np.ndarray, k: int) -> np.ndarray:
    """Every k-th recorded step and the last."""
    return np.unique(np.append(steps[::k], steps[-1:])) if k > 1 else steps


def _stride(work: float, budget: float) -> int:
    """The power-of-two stride that brings ``work`` under ``budget`` (powers of two: the choice stays
    the same while the history grows, so updates stay incremental)."""
    k = 1
    while work / k > budget:
        k *= 2
    return k


class SeriesTracker:
    """A run's feature series kept up to date: ``update(history, features, model)`` returns the
    series, computing only the steps not computed before for the same history, model, features
    and strides (training appends steps and thins old ones; a recorded step's parameters never
    change).

    Every recorded step is used while the run is small; a large one is strided (every k-th
    recorded step and the last, k a power of two) to at most ``MAIN_WORK`` numbers read (steps x
    m x n) and, for the sliver share (which sorts the n features of each step), ``SHARE_WORK``
    (steps x n): a curve a few hundred pixels wide needs no more, and an update stays a fraction
    of a second at n = 10,000. ``strides`` says what was used."""

    MAIN_WORK = 2e7
    SHARE_WORK = 4e6

    def __init__(self):
        self._key = None
        self.series: FeatureSeries | None = None
        self.computed_last = 0  # how many steps the last update computed (tests, benchmarks)
        self.strides = (1, 1)  # (all series, sliver share)
        self._seen: np.ndarray | None = None  # the history's steps at the last update

    def update(self, history: History, features: Sequence[int], model: int = 0) -> FeatureSeries:
        steps = history.steps
        N, m, n = len(steps), history.m, history.n
        k_main = _stride(N * m * n, self.MAIN_WORK)
        k_share = max(k_main, _stride(N * n, self.SHARE_WORK))
        key = (id(history), int(model), tuple(int(i) for i in features), k_main, k_share)
        want = _every(steps, k_main) if N else steps
        share_at = _every(steps, k_share) if N else steps
        old = self.series if key == self._key else None
        if old is not None and self._seen is not None and np.array_equal(self._seen, steps):
            self.computed_last = 0
            return old  # nothing recorded or thinned since: the same series (a view redraws nothing)
        self._seen = steps
        if old is None:
            new = feature_series(history, features, model, steps=want, share_steps=share_at)
            self.computed_last = len(new.steps)
        else:
            keep = np.isin(old.steps, steps)
            missing = want[~np.isin(want, old.steps)]
            parts = [old.take(keep)]
            if len(missing):
                parts.append(feature_series(history, features, model, steps=missing, share_steps=share_at))
            new = concat(parts)
            new = new.take(np.argsort(new.steps, kind="stable"))
            self.computed_last = len(missing)
        self._key, self.series, self.strides = key, new, (k_main, k_share)
        return new


__all__ = [
    "CHUNK_ELEMENTS",
    "SERIES",
    "FeatureSeries",
    "SeriesTracker",
    "empty_series",
    "feature_series",
    "series_of_arrays",
    "sliver_shares",
]
