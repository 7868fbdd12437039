"""Outcomes, not snapshots: is a model settled, stuck or still moving? (no Qt)

A verdict (model.analysis.analysis) names what one snapshot looks like. Whether the optimisation
has *failed* is a claim about the future of training, so the outcome of a model at a
recorded step s reads its recorded history and the run's optimiser too:

- ``settled``: perfect (every feature reconstructed) and staying: no reconstruction is
  predicted to break within the horizon;
- ``stuck``: a failure that continued training with this optimiser will not leave: every
  check below says it stays;
- ``moving``: still changing; the evidence says which check found the change.

``stuck`` is the strong claim, so the burden of proof is on it: a failure is stuck only when

1. **pace**: the loss is not falling at a pace that reaches the next failure level within
   ``HORIZON_DOUBLINGS`` doublings of the step count. Over the doubling window [s/2, s] the
   (median-smoothed) recorded loss at s/2, s/sqrt 2 and s gives two half-window steps; their
   ratio says whether the descent decelerates (geometric in log-time: the remaining fall is
   the geometric series) or not (then the present pace continues); the level spacing is the
   cost of one dead feature, q = (n - 1)/n^2 times the mean importance (the failure levels
   d (n - 1)/n^2 differ by q);
2. **crossing**: no failing feature is predicted to be repaired within the horizon. From the
   pre-activations P (P[i, j] = p_j(W_i), rotation- and gauge-invariant) at s 2^-1/4,
   s 2^-1/8 and s, the same extrapolation predicts when each failing feature's deciding
   quantity crosses its threshold: a live feature that is not reconstructed, the largest of
   (its wrong outputs minus the analysis's reconstruction tolerance) and (the tolerance minus
   its own output); a dead feature, its norm relative to the largest against the analysis's
   dead threshold; a dead output, the largest value it takes against the tolerance. The
   window is short (a quarter doubling) because the question is where the present motion
   leads; ``next_kink_step`` reports, in the same way, when the first pre-activation of all
   crosses 0 (the next ReLU kink);
3. **local model**: the loss has no descent the optimiser follows. The exact Hessian (by
   autograd, batched over the candidates: the failures the first checks leave) with the
   latent rotation set aside (model/analysis/optimum.py), its lowest curvature lambda against the
   tolerance optimum.py derives (eigensolver rounding plus float32 parameter rounding through
   the third derivative). A negative curvature is an escape only if the loss can fall along
   it by more than the float32 resolution of the loss before the quadratic model stops
   holding: |lambda| r^2 / 2, r the smaller of |lambda| / |grad lambda| (where the curvature
   changes by its own size) and the distance along it to the next ReLU kink. A candidate on a
   kink gets the full one-sided analysis (optimum.local_optimum: a non-smooth saddle that
   gradient descent does not follow does not count as an escape);
4. **settledness**: a failure whose live features are not all reconstructed (it is not yet on
   its level) counts as stuck only when its diagnosis (the verdict and its findings) was the
   same at s/2, s/sqrt 2 and s.

Each check reports its margin, in decades where it is a ratio (log10 of the predicted
doublings over the horizon: positive is on the stuck side). The gradient norm against the
float32 floor (the gradient a stationary point shows once its parameters are rounded to
float32, optimum.py's grad_floor) is reported beside them.

Why HORIZON_DOUBLINGS = 10: the same reasoning as model.analysis.story's plateau: training runs on a
log-time scale, and a model that needs more than 10 doublings (a run 1,000 times longer) to
reach the next level is, for any training a person runs, where it is. A pace that would
reach it sooner, or a repair predicted sooner, is motion.

Sparse data has no verdict: its outcome is ``settled`` when the loss moved by less than
PLATEAU_REL_TOL over [s/2, s] (model.analysis.story's plateau), else ``moving``.

Cost: everything is batched over models from the history's rows (numpy; the candidates' Hessians as
p Hessian-vector products of their summed loss, plain torch autograd); the per-model analyses (model.analysis.analysis.analyze) are the
caller's, as they are needed for the verdict anyway. ``benchmarks/outcome_audit.py`` times
10,000 models.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..config import TrainConfig
    from ..history import History
    from .analysis import Analysis

OUTCOMES = ("settled", "stuck", "moving")
#: What decided a ``moving`` call (each is one check above) or, for the others, "stays".
REASONS = ("stays", "pace", "crossing", "escape", "unsettled", "window", "diverged")
#: A model that needs more than this many doublings of the step count to change is where it is.
HORIZON_DOUBLINGS = 10.0
#: The loss has "stopped moving" (model.analysis.story's plateau; sparse data's settled) when, over a doubling window
#: (a doubling of the step count: training dynamics run on a log-time scale, so a fixed window would
#: call every slow descent late in a run flat), it stays within this fraction of its value at s.
#: Why 1e-3: the levels a one-hot model gets stuck on differ by at least a relative 1/n (d against
#: d + 1 dead features, loss d(n-1)/n²: a relative step of 1/d >= 1/n). A loss moving by less than
#: 1e-3 per doubling needs more than 1/(n·1e-3) doublings to cover that step: more than 10 doublings
#: (a run 1,000 times longer) for n <= 100. It is also far above float32's resolution of the loss
#: (a relative 6e-8), so a float-stuck loss counts as flat and rounding never breaks a plateau.
PLATEAU_REL_TOL = 1e-3
#: The velocity window: the rows at s 2^-SPAN, s 2^-SPAN/2 and s.
VELOCITY_SPAN = 0.25
#: Recorded losses within this many doublings of a window point are pooled (median) for it.
LOSS_POOL = 1.0 / 16.0
#: The pace of the loss: the median slope over this many equal pieces (in log-time) of [s/2, s].
PACE_PIECES = 2
PACE_SPAN = 0.25
#: Below this step there is no window to read.
MIN_STEP = 16
#: Candidates' Hessians (in closed form, batched) up to this many parameters a model (model/analysis/optimum.py's
#: exact limit); above, the local model of a candidate is not computed in a batch.
BATCH_HESSIAN_MAX_PARAMS = 600
#: Models per chunk of the batched Hessian: (chunk, p, p) float64 Hessians stay near this many bytes.
BATCH_HESSIAN_BYTES = 128 * 2**20
#: Entries of P (models x n x n) handled per chunk by the crossing extrapolation.
CROSSING_CHUNK_ELEMS = 4_000_000
#: Check 2 reads the n x n pre-activations of three rows: up to this n (above, it is not computed and says so).
CROSSING_MAX_N = 1024
EPS = float(np.finfo(np.float64).eps)
FLOAT32_UNIT = 2.0 ** -24
FLOAT64_UNIT = 4 * 2.0 ** -53
#: Local-model kinds of the batch ("" where not computed).
LOCAL_KINDS = ("", "minimum", "saddle", "flat_saddle", "kink_minimum", "nonsmooth_saddle", "nonsmooth_escape",
               "kink_descent", "not_computed", "nonsmooth_adam")
CROSSING_KINDS = ("", "repair", "revive", "output")


# ----------------------------------------------------------------------------
# extrapolation in log-time

def extrapolate(u: Sequence[float], x1: np.ndarray, x2: np.ndarray, x3: np.ndarray,
                target: np.ndarray | float) -> np.ndarray:
    """Doublings after u[2] until x reaches ``target`` (inf: not towards it, or never).

    x1, x2, x3 are the values at log2-steps u[0] < u[1] < u[2]. The two rates v1, v2 (per
    doubling) over the two intervals say whether the motion decelerates geometrically (same
    sign, |v2| < |v1|: v(u) = v2 g^(u - m2), g = (v2/v1)^(1/(m2 - m1)), m the interval
    midpoints; the fall left is the integral) or not (then the present rate, linearly: an
    accelerating motion is not extrapolated to arrive sooner than its present pace says)."""
    u1, u2, u3 = (float(v) for v in u)
    if not (u1 < u2 < u3):
        return np.full(np.shape(x3), np.inf)
    v1 = (x2 - x1) / (u2 - u1)
    v2 = (x3 - x2) / (u3 - u2)
    m1, m2 = 0.5 * (u1 + u2), 0.5 * (u2 + u3)
    d = target - x3
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        conv = (v1 * v2 > 0) & (np.abs(v2) < np.abs(v1))
        g = np.where(conv, np.abs(v2 / np.where(v1 == 0, 1.0, v1)) ** (1.0 / (m2 - m1)), 1.0)
        now = v2 * np.where(conv, g ** (u3 - m2), 1.0)
        toward = (d * now > 0) | (d == 0)
        lng = np.log(np.where(conv, g, 0.5))
        rhs = 1.0 + d * lng / np.where(now == 0, 1.0, now)  # g^t = rhs solves the integral for t
        t_conv = np.where((rhs > 0) & (rhs < 1), np.log(np.where(rhs > 0, rhs, 1.0)) / lng, np.inf)
        t_lin = d / np.where(now == 0, np.inf, now)
        t = np.where(conv, t_conv, t_lin)
        t = np.where(toward, np.where(d == 0, 0.0, t), np.inf)
    return np.where(np.isfinite(t) & (t >= 0), t, np.inf)


def margin_doublings(t: np.ndarray, horizon: float = HORIZON_DOUBLINGS) -> np.ndarray:
    """log10(t / horizon): positive beyond the horizon (no change expected), inf when never."""
    with np.errstate(divide="ignore"):
        return np.log10(np.maximum(np.asarray(t, dtype=np.float64), 1e-300) / horizon)


# ----------------------------------------------------------------------------
# the batch's inputs

@dataclass
class Rows:
    """Recorded rows of K models: steps (R,), W (R, K, m, n), b (R, K, n), M (R, K, n, m) or None."""

    steps: np.ndarray
    W: np.ndarray
    b: np.ndarray
    M: np.ndarray | None = None

    def at(self, step: float) -> int:
        """Index of the row at or before ``step`` (0 when all are after it)."""
        return max(0, int(np.searchsorted(self.steps, step, side="right")) - 1)


@dataclass
class Facts:
    """What the analyses of K models at step s say, as arrays (from model.analysis.analysis.analyze)."""

    verdicts: np.ndarray  # (K,) object
    recon: np.ndarray  # (K, n) bool
    dead: np.ndarray  # (K, n) bool
    dead_out: np.ndarray  # (K, n) bool
    loss: np.ndarray  # (K,) float64, the exact one-hot loss (or the recorded loss)
    recon_tol: np.ndarray  # (K,)
    dead_rel: np.ndarray  # (K,)
    keys: np.ndarray  # (K,) int64 diagnosis codes (verdict and finding kinds)

    @classmethod
    def of(cls, analyses: Sequence[Analysis]) -> Facts:
        K = len(analyses)
        n = analyses[0].n if K else 0
        recon = np.zeros((K, n), bool)
        dead = np.zeros((K, n), bool)
        dout = np.zeros((K, n), bool)
        for k, a in enumerate(analyses):
            recon[k] = a.reconstructed_mask
            dead[k] = a.dead_mask
            if a.dead_output_mask is not None:
                dout[k] = a.dead_output_mask
        tol = np.array([float(a.tolerances.get("recon_tol", 1e-2)) for a in analyses])
        rel = np.array([float(a.tolerances.get("dead_rel", 0.1)) for a in analyses])
        loss = np.array([np.nan if a.loss is None else float(a.loss) for a in analyses])
        keys = np.array([diagnosis_code(a) for a in analyses], dtype=np.int64)
        return cls(np.array([a.verdict for a in analyses], dtype=object), recon, dead, dout, loss, tol, rel, keys)


def diagnosis_code(a: Analysis) -> int:
    """One integer per diagnosis (for 'unchanged since'): the verdict, the set of finding kinds, and how many
    features are dead, not reconstructed and merged (a merged model that loses one of two merged pairs keeps
    its verdict and kinds but drops a level)."""
    import zlib

    text = "|".join([str(a.verdict), ",".join(sorted(a.finding_kinds)), str(int(np.sum(a.dead_mask))),
                     str(int(np.sum(~np.asarray(a.reconstructed_mask, bool)))), str(len(a.merged_groups))])
    return zlib.crc32(text.encode()) & 0x7FFFFFFFFFFF


def loss_near(loss_steps: np.ndarray, losses: np.ndarray, step: float, pool: float = LOSS_POOL) -> np.ndarray:
    """(K,) the recorded loss nearest ``step`` (in log-time), as the median of it and the rows around it within
    ``pool`` doublings, as many on each side (centred: a steady trend passes through unbiased), ignoring NaN."""
    st = np.asarray(loss_steps, dtype=np.float64)
    if len(st) == 0:
        return np.full(np.shape(losses)[1] if np.ndim(losses) == 2 else 1, np.nan)
    lg = np.log2(np.maximum(st, 0.5))
    t = math.log2(max(step, 0.5))
    i = int(np.argmin(np.abs(lg - t)))
    left = int(np.sum((lg < lg[i]) & (lg >= lg[i] - pool)))
    right = int(np.sum((lg > lg[i]) & (lg <= lg[i] + pool)))
    h = min(left, right)
    rows = np.asarray(losses[i - h:i + h + 1], dtype=np.float64)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(rows, axis=0)


# ----------------------------------------------------------------------------
# check 1: the pace of the loss

def level_quantum(config: TrainConfig) -> float:
    """q = (n - 1)/n^2 times the mean importance: the spacing of the failure levels d (n - 1)/n^2."""
    n = config.n
    imp = config.importance_vector()
    return float((n - 1) / n ** 2 * float(np.mean(imp))) if n else 0.0


def pace_doublings(step: int, loss_steps: np.ndarray, losses: np.ndarray,
                   quantum: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(doublings until the loss has fallen by one level (inf: never at its present pace), the change of the
    loss per doubling over [s/2, s] (negative falling), L(s/2), L(s)), each (K,).

    The prediction reads the present motion: the losses at the velocity window's three points (s 2^-1/4,
    s 2^-1/8, s), extrapolated like the pre-activations (``extrapolate``: a decelerating descent only
    has its geometric remainder left). The doubling window's own slope is evidence beside it: a level drop
    inside [s/2, s] (a transition that is over) sets that slope, not the present pace."""
    s = float(step)
    pool = 0.25 * VELOCITY_SPAN
    L = [loss_near(loss_steps, losses, s * 2.0 ** -e, pool) for e in (VELOCITY_SPAN, VELOCITY_SPAN / 2, 0.0)]
    u = [math.log2(max(s, 1.0)) - e for e in (VELOCITY_SPAN, VELOCITY_SPAN / 2, 0.0)]
    target = L[2] - np.minimum(quantum, np.maximum(L[2], 0.0))  # never below 0
    t = extrapolate(u, L[0], L[1], L[2], target)
    L_half = loss_near(loss_steps, losses, s / 2.0, pool)
    return t, L[2] - L_half, L_half, L[2]


# ----------------------------------------------------------------------------
# check 2: where the present motion leads (pre-activations)

def preactivations(W: np.ndarray, b: np.ndarray, M: np.ndarray | None = None) -> np.ndarray:
    """(K, n, n) P[k, i, j] = p_j(W_i) = D_j . W_i + b_j (D = W^T tied, M untied), float64."""
    W = np.asarray(W, dtype=np.float64)
    D = np.swapaxes(W, 1, 2) if M is None else np.asarray(M, dtype=np.float64)
    return np.einsum("kai,kja->kij", W, D) + np.asarray(b, dtype=np.float64)[:, None, :]


def _deciding(P: np.ndarray, W: np.ndarray, live: np.ndarray, tol: np.ndarray,
              rel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per feature, each (K, n): wrong (the larger of the live wrong outputs minus tol and tol minus the own
    output: > 0 not reconstructed), ratio (|W_i| / max |W| minus the dead threshold) and fires (the largest
    value output i takes minus tol)."""
    K, n, _ = P.shape
    eye = np.eye(n, dtype=bool)
    other = np.where(eye[None] | ~live[:, None, :], -np.inf, P).max(axis=2)
    own = np.einsum("kii->ki", P)
    wrong = np.maximum(other - tol[:, None], tol[:, None] - own)
    nrm = np.linalg.norm(np.asarray(W, dtype=np.float64), axis=1)
    mx = nrm.max(axis=1, keepdims=True)
    ratio = np.where(mx > 0, nrm / np.where(mx > 0, mx, 1.0), 0.0) - rel[:, None]
    fires = P.max(axis=1) - tol[:, None]
    return wrong, ratio, fires


def crossings(rows: Rows, step: int, facts: Facts, perfect: np.ndarray) -> dict[str, np.ndarray]:
    """Check 2 for K models: the doublings until the first failing feature is repaired (``t``), which feature
    and how (``feature`` 0-based, -1 none; ``kind`` a CROSSING_KINDS code), and the next kink of all
    (``kink_t``, ``kink_entry`` (input, output) 0-based). A perfect model has no failing feature."""
    s = float(step)
    idx = [rows.at(s * 2.0 ** -VELOCITY_SPAN), rows.at(s * 2.0 ** (-VELOCITY_SPAN / 2)), rows.at(s)]
    K = rows.W.shape[1]
    out = {"t": np.full(K, np.inf), "feature": np.full(K, -1), "kind": np.zeros(K, np.int8),
           "kink_t": np.full(K, np.inf), "kink_entry": np.full((K, 2), -1)}
    st = [float(max(rows.steps[i], 1)) for i in idx]
    if len(set(idx)) < 3:
        return out
    u = [math.log2(x) for x in st]
    n = rows.W.shape[3]
    chunk = max(1, CROSSING_CHUNK_ELEMS // max(1, n * n))
    live = ~facts.dead
    for a in range(0, K, chunk):
        sl = slice(a, min(K, a + chunk))
        Ps = [preactivations(rows.W[i, sl], rows.b[i, sl], None if rows.M is None else rows.M[i, sl]) for i in idx]
        dec = [_deciding(P, rows.W[i, sl], live[sl], facts.recon_tol[sl], facts.dead_rel[sl]) for P, i in zip(Ps, idx, strict=True)]
        cand = []
        rec, dead, dout = facts.recon[sl], facts.dead[sl], facts.dead_out[sl]
        per = perfect[sl, None]
        failing_live = ~rec & live[sl] & ~per
        cand.append((np.where(failing_live, extrapolate(u, dec[0][0], dec[1][0], dec[2][0], 0.0), np.inf), 1))
        cand.append((np.where(dead & ~per, extrapolate(u, dec[0][1], dec[1][1], dec[2][1], 0.0), np.inf), 2))
        cand.append((np.where(dout & ~per, extrapolate(u, dec[0][2], dec[1][2], dec[2][2], 0.0), np.inf), 3))
        T = np.stack([c[0] for c in cand])  # (4, k, n)
        flat = T.transpose(1, 0, 2).reshape(T.shape[1], -1)
        j = np.argmin(flat, axis=1)
        best = flat[np.arange(len(j)), j]
        out["t"][sl] = best
        hit = np.isfinite(best)
        out["feature"][sl] = np.where(hit, j % n, -1)
        out["kind"][sl] = np.where(hit, np.array([c[1] for c in cand])[j // n], 0)
        kt = extrapolate(u, Ps[0], Ps[1], Ps[2], 0.0).reshape(Ps[0].shape[0], -1)
        kt = np.where(np.abs(Ps[2]).reshape(kt.shape) > 0, kt, np.inf)  # one on a kink is not crossing one
        jk = np.argmin(kt, axis=1)
        out["kink_t"][sl] = kt[np.arange(len(jk)), jk]
        out["kink_entry"][sl] = np.stack([jk // n, jk % n], axis=1)
    out["kink_entry"][~np.isfinite(out["kink_t"])] = -1
    return out


# ----------------------------------------------------------------------------
# check 3: the local model, batched over the candidates

def _param_units(W: np.ndarray, b: np.ndarray, M: np.ndarray | None) -> np.ndarray:
    """(K,) the precision of each model's parameters: half a float32 ulp when all are float32 numbers
    (a trained model), else a few float64 ulps (built by hand from cos, sin, sqrt)."""
    def is32(a):
        a = np.asarray(a, dtype=np.float64)
        return np.all((a.astype(np.float32).astype(np.float64) == a).reshape(a.shape[0], -1), axis=1)
    ok = is32(W) & is32(b) & (is32(M) if M is not None else True)
    return np.where(ok, FLOAT32_UNIT, FLOAT64_UNIT)


def _batched_loss(m: int, n: int, bias: bool, untied: bool, imp: np.ndarray, l2: float):
    """theta (K, p), b0 (K, n) -> (K,) the one-hot loss of each model (torch float64), theta laid out as
    optimum.py lays out one model's (W, b if bias, M if untied); b0 the fixed bias of a run without one.
    Models are independent, so the gradient of the sum is each model's gradient and its Hessian is
    block-diagonal: plain autograd, batched, with no transform to start up."""
    import torch

    mn = m * n
    impt = torch.from_numpy(np.asarray(imp, dtype=np.float64))
    eye = torch.eye(n, dtype=torch.float64)

    def loss(th, b0):
        K = th.shape[0]
        W = th[:, :mn].reshape(K, m, n)
        b = th[:, mn:mn + n] if bias else b0
        off = mn + (n if bias else 0)
        D = th[:, off:off + mn].reshape(K, n, m) if untied else W.transpose(1, 2)
        P = torch.einsum("kai,kja->kij", W, D) + b[:, None, :]
        E = torch.relu(P) - eye
        out = (E * E * impt).sum(dim=(1, 2)) / n
        return out + 0.5 * l2 * (th * th).sum(dim=1) if l2 else out
    return loss


def onehot_hessians(theta: np.ndarray, b0: np.ndarray, m: int, n: int, bias: bool, untied: bool, imp: np.ndarray,
                     l2: float) -> np.ndarray:
    """(K, p, p) the exact Hessian of each model's one-hot loss (``_batched_loss``) at ``theta`` (K, p), in
    closed form. With P_ij = sum_a W_ai D_ja + b_j (input i, output j; D = W^T tied, M untied),
    E = ReLU(P) - I and L = sum_ij w_j E_ij^2 / n (+ l2 |theta|^2 / 2): C_ij = 2 w_j [P_ij > 0] / n (the
    curvature along P_ij; ReLU's derivative is 0 at 0, as autograd takes it), G_ij = C_ij E_ij (the
    slope), and H = sum_ij C_ij dP_ij dP_ij^T + sum_ij G_ij d2P_ij + l2 I. P is bilinear, so d2P_ij
    pairs W with D only: tied, dP_jl/dW_ai = d_ij W_al + d_il W_aj and d2P_jl/dW_ai dW_ck =
    d_ac (d_ij d_kl + d_il d_kj); untied, dP_jl/dW_ai = d_ij M_la, dP_jl/dM_ia = d_il W_aj and
    d2P_jl/dW_ai dM_kc = d_ij d_kl d_ac; dP_jl/db_s = d_ls. One batched assembly replaces p
    Hessian-vector products of autograd (at n = 100: 300 backward passes, 8 s of a sweep's 10 s
    grid step); tests/model/test_outcome_hessian.py checks it against autograd's."""
    K = theta.shape[0]
    mn = m * n
    W = theta[:, :mn].reshape(K, m, n)
    b = theta[:, mn:mn + n] if bias else b0
    off = mn + (n if bias else 0)
    D = theta[:, off:off + mn].reshape(K, n, m) if untied else np.swapaxes(W, 1, 2)
    P = np.einsum("zai,zja->zij", W, D) + b[:, None, :]
    act = P > 0
    C = np.where(act, 2.0 * np.asarray(imp, np.float64)[None, None, :] / n, 0.0)
    G = C * (np.where(act, P, 0.0) - np.eye(n))
    I_n, I_m = np.eye(n), np.eye(m)
    H = np.zeros((K, theta.shape[1], theta.shape[1]))
    if untied:
        H[:, :mn, :mn] = np.einsum("zil,zla,zlc,ik->zaick", C, D, D, I_n, optimize=True).reshape(K, mn, mn)
        H[:, off:, off:] = np.einsum("zji,zaj,zcj,ik->ziakc", C, W, W, I_n, optimize=True).reshape(K, mn, mn)
        wm = np.einsum("zik,zka,zci->zaikc", C, D, W) + np.einsum("zik,ac->zaikc", G, I_m)
        H[:, :mn, off:] = wm.reshape(K, mn, mn)
        H[:, off:, :mn] = np.swapaxes(H[:, :mn, off:], 1, 2)
        if bias:
            H[:, :mn, mn:off] = np.einsum("zis,zsa->zais", C, D).reshape(K, mn, n)
            H[:, off:, mn:off] = np.einsum("zji,zaj,is->zias", C, W, I_n, optimize=True).reshape(K, mn, n)
            H[:, mn:off, off:] = np.swapaxes(H[:, off:, mn:off], 1, 2)
    else:
        ww = np.einsum("zil,zal,zcl,ik->zaick", C + np.swapaxes(C, 1, 2), W, W, I_n, optimize=True)
        ww += np.einsum("zik,zak,zci->zaick", C + np.swapaxes(C, 1, 2), W, W)
        ww += np.einsum("zik,ac->zaick", G + np.swapaxes(G, 1, 2), I_m)
        H[:, :mn, :mn] = ww.reshape(K, mn, mn)
        if bias:
            wb = np.einsum("zis,zas->zais", C, W) + np.einsum("zji,zaj,is->zais", C, W, I_n, optimize=True)
            H[:, :mn, mn:off] = wb.reshape(K, mn, n)
    if bias:
        H[:, mn:off, :mn] = np.swapaxes(H[:, :mn, mn:off], 1, 2)
        H[:, mn + np.arange(n), mn + np.arange(n)] = C.sum(axis=1)
    if l2:
        H[:, np.arange(H.shape[1]), np.arange(H.shape[1])] += l2
    return H


def _tangents(theta: np.ndarray, m: int, n: int, bias: bool, untied: bool) -> np.ndarray:
    """(K, p, s) generators of the latent symmetries at each model's theta (optimum._Params.tangents, batched):
    tied, A W for A = E_ac - E_ca (a < c); untied, (A W, -M A) for every E_ac."""
    K = theta.shape[0]
    mn = m * n
    W = theta[:, :mn].reshape(K, m, n)
    off = mn + (n if bias else 0)
    pairs = [(a, c) for a in range(m) for c in range(m)] if untied else \
        [(a, c) for a in range(m) for c in range(a + 1, m)]
    T = np.zeros((K, theta.shape[1], len(pairs)))
    for j, (a, c) in enumerate(pairs):
        A = np.zeros((m, m))
        A[a, c] = 1.0
        if not untied:
            A[c, a] = -1.0
        T[:, :mn, j] = np.einsum("ab,kbi->kai", A, W).reshape(K, -1)
        if untied:
            M = theta[:, off:off + mn].reshape(K, n, m)
            T[:, off:off + mn, j] = -np.einsum("kia,ab->kib", M, A).reshape(K, -1)
    return T


def _thetas(W, b, M, bias: bool) -> np.ndarray:
    K = W.shape[0]
    parts = [np.asarray(W, np.float64).reshape(K, -1)] + ([np.asarray(b, np.float64)] if bias else []) \
        + ([np.asarray(M, np.float64).reshape(K, -1)] if M is not None else [])
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def local_models(W: np.ndarray, b: np.ndarray, M: np.ndarray | None, config: TrainConfig,
                 loss: np.ndarray) -> dict[str, np.ndarray]:
    """Check 3 for K one-hot models at once (the exact Hessian in closed form, ``onehot_hessians``; the third
    derivative along the lowest direction by batched autograd): per model the lowest curvature off the latent
    symmetries (``lam``) and its tolerance (``tol``), the fall the quadratic model allows along it before the next kink (``drop``) against
    the float32 resolution of the loss (``res32``), the gradient norm and its float32 floor, and whether some
    pre-activation sits on a kink (``on_kink``)."""
    import torch

    from .optimum import coupled_l2

    K, m, n = W.shape
    bias, untied = bool(config.bias), M is not None
    imp, l2 = config.importance_vector(), coupled_l2(config)
    f = _batched_loss(m, n, bias, untied, imp, l2)
    theta = _thetas(W, b, M, bias)
    p = theta.shape[1]
    b0 = np.zeros((K, n)) if bias else np.asarray(b, np.float64)
    unit = _param_units(W, b, M)
    out = {k: np.full(K, np.nan) for k in ("lam", "tol", "drop", "grad", "floor", "hnorm", "reach", "sigma", "x0")}
    out["on_kink"] = np.zeros(K, bool)
    out["res32"] = 0.5 * np.spacing(np.abs(np.asarray(loss, np.float64)).astype(np.float32)).astype(np.float64)
    chunk = max(1, int(BATCH_HESSIAN_BYTES // (8 * 4 * p * p)))
    for a in range(0, K, chunk):
        sl = slice(a, min(K, a + chunk))
        th = torch.from_numpy(theta[sl].copy()).requires_grad_(True)
        bz = torch.from_numpy(b0[sl].copy())
        (g,) = torch.autograd.grad(f(th, bz).sum(), th, create_graph=True)
        H = onehot_hessians(theta[sl], b0[sl], m, n, bias, untied, imp, l2)
        lam, V, Hn = _lowest_off_symmetries(H, _tangents(theta[sl], m, n, bias, untied), theta[sl])
        vt = torch.from_numpy(V)
        (hv,) = torch.autograd.grad((g * vt).sum(), th, create_graph=True)  # H v, per model
        (dl,) = torch.autograd.grad((hv * vt).sum(), th)  # d/dtheta of v.H.v: D^3 L[v, v, .]
        Wn, bn = theta[sl, :m * n].reshape(-1, m, n), (theta[sl, m * n:m * n + n] if bias else b0[sl])
        Mn = theta[sl, -m * n:].reshape(-1, n, m) if untied else None
        P = preactivations(Wn, bn, Mn)
        dP = _preactivation_change(Wn, Mn, V, m, n, bias, untied)
        S = preactivations(np.abs(Wn), np.abs(bn), None if Mn is None else np.abs(Mn))
        _finish_local(out, sl, p, unit[sl], (lam, V, Hn, g.detach().numpy(), dl.numpy(), P, dP, theta[sl]), S, m)
    return out


def _preactivation_change(W: np.ndarray, M: np.ndarray | None, V: np.ndarray, m: int, n: int, bias: bool,
                          untied: bool) -> np.ndarray:
    """(k, n, n) the directional derivative of P = (D W)^T + b along each model's V (P is bilinear in W, D)."""
    k = V.shape[0]
    mn = m * n
    dW = V[:, :mn].reshape(k, m, n)
    db = V[:, mn:mn + n] if bias else np.zeros((k, n))
    off = mn + (n if bias else 0)
    if untied:
        assert M is not None, "an untied model has its decoder M"
        dM = V[:, off:off + mn].reshape(k, n, m)
        return np.einsum("kai,kja->kij", dW, M) + np.einsum("kai,kja->kij", W, dM) + db[:, None, :]
    return np.einsum("kai,kaj->kij", dW, W) + np.einsum("kai,kaj->kij", W, dW) + db[:, None, :]


def escape_doublings(config: TrainConfig, step: int, lam: np.ndarray, sigma: np.ndarray, reach: np.ndarray,
                     x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(e-folding rate per step, doublings of the step count to escape) along a negative curvature lam for the
    run's optimiser, linearised about the point (lam >= 0: rate 0, never):

    - SGD: x grows by lr |lam| / (1 - momentum) per step (momentum's steady-state gain);
    - Adam, AdamW: Adam divides each parameter's step by its gradient's RMS (sqrt v, about |g|) plus eps, so the
      rate is lr |lam| / (sigma + eps) with sigma the gradient the direction's parameters see; AdamW's
      decoupled decay shrinks x by lr wd a step, so the rate is lr (|lam| / (sigma + eps) - wd): a curvature
      weaker than the decay is no escape at all.

    An escape starts from the displacement rounding leaves (x0) and is over once the descent has run its
    reach (the distance to the next kink, at most 1): ln(reach / x0) e-folds, taken in t doublings of the
    step count from s: s (2^t - 1) rate = e-folds."""
    lr = float(config.lr)
    neg = np.asarray(lam) < 0
    a = np.abs(lam)
    if config.optimizer == "sgd":
        rate = lr * a / (1.0 - float(config.momentum))
    else:
        rate = lr * a / (np.asarray(sigma) + float(config.eps))
        if config.optimizer == "adamw":
            rate = rate - lr * float(config.effective_weight_decay)
    rate = np.where(neg, rate, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        folds = np.log(np.maximum(np.minimum(np.nan_to_num(reach, posinf=1.0), 1.0), 1e-300)
                       / np.maximum(x0, 1e-300))
        folds = np.maximum(folds, 1.0)
        t = np.where(rate > 0, np.log2(1.0 + folds / (np.where(rate > 0, rate, 1.0) * max(step, 1))), np.inf)
    return rate, t


def _lowest_off_symmetries(H: np.ndarray, T: np.ndarray, th: np.ndarray):
    """(lowest eigenvalue, its eigenvector, |H|) of each Hessian (k, p, p) with the span of its symmetry
    tangents T (k, p, s) shifted out of the way (given a curvature above every other)."""
    lam_all = np.linalg.eigvalsh(H)
    Hn = np.abs(lam_all).max(axis=1)
    if T.shape[2]:
        U, S, _ = np.linalg.svd(T, full_matrices=False)
        keep = 64 * EPS * np.maximum(np.linalg.norm(th, axis=1, keepdims=True), 1.0) < S
        U = U * keep[:, None, :]
        H = H + (2.0 * Hn + 1.0)[:, None, None] * (U @ np.swapaxes(U, 1, 2))
    lam, V = np.linalg.eigh(H)
    return lam[:, 0], V[:, :, 0], Hn


def _finish_local(out, sl, p, unit, tensors, S, m: int) -> None:
    """The tolerances, the validity radius and the fall along the lowest direction (see local_models);
    S (k, n, n) the sums of the absolute terms of each pre-activation."""
    lam, V, Hn, g, dl, P, dP, th = tensors
    tnorm = np.linalg.norm(th, axis=1)
    # optimum.py's curvature tolerance: eigensolver rounding plus float32 rounding through the third derivative
    tol = 2.0 * p * EPS * Hn + unit * np.sum(np.abs(dl * th), axis=1)
    # the next kink along +v and along -v (the quadratic model descends both ways): an output that is off
    # (P < 0) turning on, or one that is on turning off; the better side is the escape's
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.where(dP != 0, np.abs(P) / np.abs(dP), np.inf)
        plus = np.where(P * dP < 0, dist, np.inf).reshape(len(lam), -1).min(axis=1)  # |P| shrinks along +v
        minus = np.where(P * dP > 0, dist, np.inf).reshape(len(lam), -1).min(axis=1)
    r = np.maximum(plus, minus)
    out["lam"][sl], out["tol"][sl], out["hnorm"][sl] = lam, tol, Hn
    out["drop"][sl] = np.where(lam < 0, 0.5 * np.abs(lam) * r * r, 0.0)
    out["reach"][sl] = r
    # the gradient the parameters along v see (Adam normalises by it): sqrt(sum_i v_i^2 g_i^2)
    out["sigma"][sl] = np.sqrt(np.sum(V * V * g * g, axis=1))
    out["x0"][sl] = unit * tnorm  # the displacement along v that rounding leaves: where an escape starts
    out["grad"][sl] = np.linalg.norm(g, axis=1)
    out["floor"][sl] = (unit + p * EPS) * Hn * tnorm
    # optimum.py's kink test: |P| within the rounding of its terms (a dot product of length m plus b)
    out["on_kink"][sl] = np.any(np.abs(P) <= (2 * unit[:, None, None] + (m + 2) * EPS) * S, axis=(1, 2))


# ----------------------------------------------------------------------------
# the batch

@dataclass
class OutcomeBatch:
    """The outcomes of K models at one step, with the evidence of every check (arrays, 0-based)."""

    step: int
    verdicts: np.ndarray  # (K,) object
    kind: np.ndarray  # (K,) int8 index into OUTCOMES
    reason: np.ndarray  # (K,) int8 index into REASONS
    ev: dict[str, np.ndarray] = field(default_factory=dict)
    escapes: dict[int, str] = field(default_factory=dict)  # model -> the local model's words (full analyses)

    @property
    def K(self) -> int:
        return len(self.kind)

    def kinds(self) -> np.ndarray:
        return np.array(OUTCOMES, dtype=object)[self.kind]

    def reasons(self) -> np.ndarray:
        return np.array(REASONS, dtype=object)[self.reason]

    def decided(self) -> np.ndarray:
        """(K,) bool: settled or stuck."""
        return self.kind != OUTCOMES.index("moving")

    def evidence(self, k: int) -> dict[str, Any]:
        """Model k's evidence, JSON-safe (features 1-based), each check with its margin."""
        return _evidence(self, int(k))

    def to_dict(self, k: int) -> dict[str, Any]:
        """{"kind", "reason", "text", "evidence"} of model k."""
        k = int(k)
        return {"kind": OUTCOMES[self.kind[k]], "reason": REASONS[self.reason[k]], "text": self.text(k),
                "evidence": self.evidence(k)}

    def text(self, k: int) -> str:
        """One line: the outcome and the evidence that decided it."""
        return outcome_text(self, int(k))


def _jf(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def judge(config: TrainConfig, step: int, loss_steps: np.ndarray, losses: np.ndarray, rows: Rows,
          analyses: Sequence[Analysis], keys_before: Sequence[np.ndarray] | None = None,
          local: bool = True, full: bool = False, diverged: np.ndarray | None = None) -> OutcomeBatch:
    """The outcome of each of K models at ``step`` (see the module doc).

    loss_steps (N,), losses (N, K): the recorded losses (rows after ``step`` are ignored); rows: the recorded
    parameters, at least those of the velocity window (Rows.at picks the row at or before each point);
    analyses: each model's analysis at ``step``; keys_before: the diagnosis codes (diagnosis_code) at s/2 and
    s/sqrt 2, for check 4 (None: unknown, so an unsettled failure stays moving); local: compute check 3;
    full: also optimum.local_optimum for every failure, for its escape in words (slow: one model at a time);
    diverged: (K,) bool, the models training halted (NaN/inf)."""
    from .analysis import SPARSE_VERDICT

    loss_steps = np.asarray(loss_steps, dtype=np.int64)
    keep = loss_steps <= step
    loss_steps, losses = loss_steps[keep], np.asarray(losses, dtype=np.float64)[keep].reshape(int(keep.sum()), -1)
    facts = Facts.of(analyses)
    K = len(analyses)
    if diverged is not None:
        facts.verdicts[np.asarray(diverged, bool)] = "diverged"
    verdicts = facts.verdicts
    ev = evidence_template(K)
    s = max(int(step), 1)
    window_ok = (step >= MIN_STEP and len(loss_steps) >= 3 and loss_steps[0] <= s * 2.0 ** -(1 - LOSS_POOL)
                 and len({rows.at(s * 2.0 ** -VELOCITY_SPAN), rows.at(s * 2.0 ** (-VELOCITY_SPAN / 2)), rows.at(s)}) == 3)
    q = level_quantum(config)
    t_pace, pace, L_half, L_s = pace_doublings(s, loss_steps, losses, q) if len(loss_steps) else \
        (np.full(K, np.inf), np.zeros(K), np.full(K, np.nan), np.full(K, np.nan))
    ev.update(pace_t=t_pace, pace=pace, loss_half=L_half, loss_s=L_s, quantum=np.full(K, q),
              window_ok=np.full(K, window_ok))
    perfect = verdicts == "perfect"
    cr = crossings(rows, s, facts, perfect) if config.onehot and config.n <= CROSSING_MAX_N else \
        crossings(Rows(rows.steps[:1], rows.W[:1], rows.b[:1]), s, facts, perfect)  # (an empty window: none)
    ev["crossing_computed"] = np.full(K, bool(config.onehot and config.n <= CROSSING_MAX_N))
    ev.update(cross_t=cr["t"], cross_feature=cr["feature"], cross_kind=cr["kind"], kink_t=cr["kink_t"],
              kink_entry=cr["kink_entry"])
    clean = np.all(facts.recon | facts.dead, axis=1)
    stable = np.zeros(K, bool) if keys_before is None else np.all([np.asarray(kb) == facts.keys for kb in keys_before],
                                                                  axis=0)
    ev.update(clean=clean, stable=stable, verdict_loss=facts.loss)
    kind = np.full(K, OUTCOMES.index("moving"), np.int8)
    reason = np.full(K, REASONS.index("window"), np.int8)
    batch = OutcomeBatch(int(step), verdicts, kind, reason, ev)
    if not window_ok:
        return batch
    sparse = verdicts == SPARSE_VERDICT
    diverged = verdicts == "diverged"
    fail = ~perfect & ~sparse & ~diverged
    H = HORIZON_DOUBLINGS
    reason[:] = REASONS.index("stays")
    kind[perfect] = OUTCOMES.index("settled")
    with np.errstate(divide="ignore", invalid="ignore"):  # a perfect model whose loss rose by a level's tenth
        rise = perfect & (pace > q / H)
    kind[rise], reason[rise] = OUTCOMES.index("moving"), REASONS.index("pace")
    _sparse_outcomes(batch, sparse, L_half, L_s)
    kind[diverged], reason[diverged] = OUTCOMES.index("stuck"), REASONS.index("diverged")
    order = (("pace", t_pace < H), ("crossing", cr["t"] < H), ("unsettled", ~clean & ~stable))
    undecided = fail.copy()
    for name, hit in order:
        sel = undecided & hit
        reason[sel] = REASONS.index(name)
        undecided &= ~hit
    kind[fail] = OUTCOMES.index("moving")
    kind[undecided] = OUTCOMES.index("stuck")
    if local and undecided.any():
        _local_check(batch, config, rows.at(s), rows, np.nonzero(undecided)[0], facts.loss)
    if full:
        _full_escapes(batch, config, rows, rows.at(s), np.nonzero(fail)[0])
    return batch


def evidence_template(K: int) -> dict[str, np.ndarray]:
    """Every evidence array of an OutcomeBatch, empty (NaN; -1 for feature and entry indices; 0 for codes and
    flags): what a batch starts from and what a sweep file that lacks one reads as."""
    ev = {name: np.full(K, np.nan) for name in ("pace_t", "pace", "loss_half", "loss_s", "quantum", "cross_t", "kink_t",
                                   "verdict_loss", "lam", "lam_tol", "drop", "res32", "grad", "floor",
                                   "escape_rate", "escape_t", "sparse_change")}
    ev.update(window_ok=np.zeros(K, bool), clean=np.zeros(K, bool), stable=np.zeros(K, bool),
              crossing_computed=np.zeros(K, bool),
              cross_feature=np.full(K, -1, np.int64), cross_kind=np.zeros(K, np.int8),
              kink_entry=np.full((K, 2), -1, np.int64), local_kind=np.zeros(K, np.int8))
    return ev


def _sparse_outcomes(batch: OutcomeBatch, sparse: np.ndarray, L_half: np.ndarray, L_s: np.ndarray) -> None:
    """Sparse data: settled when the loss moved by less than PLATEAU_REL_TOL over [s/2, s]."""
    if not sparse.any():
        return
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(L_half - L_s) / np.maximum(np.abs(L_s), 1e-300)
    flat = sparse & (rel < PLATEAU_REL_TOL)
    batch.kind[sparse] = np.where(flat[sparse], OUTCOMES.index("settled"), OUTCOMES.index("moving"))
    batch.reason[sparse] = np.where(flat[sparse], REASONS.index("stays"), REASONS.index("pace"))
    batch.ev["sparse_change"][sparse] = rel[sparse]


def _local_check(batch: OutcomeBatch, config: TrainConfig, i: int, rows: Rows, cand: np.ndarray,
                 loss: np.ndarray) -> None:
    """Check 3 on the candidates (still called stuck): an escape the optimiser can take makes them moving."""
    ev = batch.ev
    W, b = rows.W[i][cand], rows.b[i][cand]
    M = None if rows.M is None else rows.M[i][cand]
    m, n = W.shape[1], W.shape[2]
    p = m * n + (n if config.bias else 0) + (m * n if M is not None else 0)
    if p > BATCH_HESSIAN_MAX_PARAMS:
        ev["local_kind"][cand] = LOCAL_KINDS.index("not_computed")
        return
    lm = local_models(W, b, M, config, loss[cand])
    ev["lam"][cand], ev["lam_tol"][cand], ev["drop"][cand] = lm["lam"], lm["tol"], lm["drop"]
    ev["res32"][cand], ev["grad"][cand], ev["floor"][cand] = lm["res32"], lm["grad"], lm["floor"]
    rate, t_esc = escape_doublings(config, batch.step, lm["lam"], lm["sigma"], lm["reach"], lm["x0"])
    ev["escape_rate"][cand], ev["escape_t"][cand] = rate, t_esc
    neg = lm["lam"] < -lm["tol"]
    esc = neg & (lm["drop"] > lm["res32"]) & (t_esc < HORIZON_DOUBLINGS)
    ev["local_kind"][cand] = np.where(esc, LOCAL_KINDS.index("saddle"),
                                      np.where(neg, LOCAL_KINDS.index("flat_saddle"), LOCAL_KINDS.index("minimum")))
    adam = config.optimizer in ("adam", "adamw")
    for j in np.nonzero(lm["on_kink"])[0]:  # the full one-sided analysis where a pre-activation sits at 0
        k = int(cand[j])
        res = _optimum_of(config, rows, i, k)
        kk = {"minimum": "kink_minimum", "descent": "kink_descent"}.get(res.kink_kind, "")
        if res.kink_kind == "nonsmooth_saddle":
            # gradient descent feels no force along the flat directions the descent needs; Adam divides each
            # step by the gradient's size, so it takes full steps along them even so (and does escape: the
            # n = 8 AdamW runs leave the hexagon-plus-dead limit points the seed's SGD stays at)
            kk = "nonsmooth_escape" if res.gd_follows else ("nonsmooth_adam" if adam else "nonsmooth_saddle")
        ev["local_kind"][k] = LOCAL_KINDS.index(kk) if kk else ev["local_kind"][k]
        esc[j] = kk in ("kink_descent", "nonsmooth_escape", "nonsmooth_adam") or (not kk and bool(esc[j]))
        batch.escapes[k] = res.describe()
    hit = cand[esc]
    batch.kind[hit], batch.reason[hit] = OUTCOMES.index("moving"), REASONS.index("escape")


def _snapshot_of(rows: Rows, i: int, k: int, config: TrainConfig):
    from ..snapshot import Snapshot

    return Snapshot(step=int(rows.steps[i]), W=np.asarray(rows.W[i, k], np.float64),
                    b=np.asarray(rows.b[i, k], np.float64),
                    M=None if rows.M is None else np.asarray(rows.M[i, k], np.float64),
                    importance=None if config.importance is None else config.importance_vector(), model=k)


def _optimum_of(config: TrainConfig, rows: Rows, i: int, k: int, kink_tol: float | None = None):
    from .optimum import coupled_l2, local_optimum

    snap = _snapshot_of(rows, i, k, config)  # one-hot, with the run's importance: optimum's default objective
    # optimum reads kink_tol with .get: None is the same as not giving it (its own derived tolerance)
    tol = None if kink_tol is None or not math.isfinite(kink_tol) else float(kink_tol)
    return local_optimum(snap, None, bias=config.bias, l2=coupled_l2(config), threads=1, kink_tol=tol)


def _full_escapes(batch: OutcomeBatch, config: TrainConfig, rows: Rows, i: int, models: np.ndarray) -> None:
    for k in models:
        k = int(k)
        if k not in batch.escapes:
            batch.escapes[k] = _optimum_of(config, rows, i, k).describe()


# ----------------------------------------------------------------------------
# words and numbers

def _when(step: int, t: float) -> int | None:
    """The step t doublings after ``step`` (None when never)."""
    if not math.isfinite(t) or t > 60:
        return None
    return int(round(max(step, 1) * 2.0 ** t))


def _evidence(b: OutcomeBatch, k: int) -> dict[str, Any]:
    ev, s, H = b.ev, b.step, HORIZON_DOUBLINGS
    feat = int(ev["cross_feature"][k])
    entry = [int(x) for x in ev["kink_entry"][k]]
    out = {
        "horizon_doublings": H,
        "window": [int(max(s, 1) // 2), int(s)], "window_recorded": bool(ev["window_ok"][k]),
        "pace": {"loss": _jf(ev["loss_s"][k]), "loss_at_half": _jf(ev["loss_half"][k]),
                 "change_per_doubling": _jf(ev["pace"][k]),
                 "level_spacing": _jf(ev["quantum"][k]), "doublings_to_next_level": _jf(ev["pace_t"][k]),
                 "step_of_next_level": _when(s, ev["pace_t"][k]), "margin": _jf(margin_doublings(ev["pace_t"][k]))},
        "crossing": {"computed": bool(ev["crossing_computed"][k]), "feature": feat + 1 if feat >= 0 else None,
                     "kind": CROSSING_KINDS[int(ev["cross_kind"][k])] or None,
                     "doublings": _jf(ev["cross_t"][k]), "step": _when(s, ev["cross_t"][k]),
                     "margin": _jf(margin_doublings(ev["cross_t"][k]))},
        "next_kink": {"step": _when(s, ev["kink_t"][k]), "doublings": _jf(ev["kink_t"][k]),
                      "input": entry[0] + 1 if entry[0] >= 0 else None, "output": entry[1] + 1 if entry[1] >= 0 else None},
        "clean": bool(ev["clean"][k]), "diagnosis_stable_over_window": bool(ev["stable"][k]),
        "local": _local_evidence(b, k),
    }
    if math.isfinite(ev["sparse_change"][k]):
        out["sparse_relative_change"] = float(ev["sparse_change"][k])
    return out


def _local_evidence(b: OutcomeBatch, k: int) -> dict[str, Any]:
    ev = b.ev
    lam, tol, drop, res = (float(ev[x][k]) for x in ("lam", "lam_tol", "drop", "res32"))
    g, fl = float(ev["grad"][k]), float(ev["floor"][k])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {"kind": LOCAL_KINDS[int(ev["local_kind"][k])] or None, "lowest_curvature": _jf(lam),
               "curvature_tol": _jf(tol), "curvature_margin": _jf(lam / tol) if tol > 0 else None,
               "fall_before_next_kink": _jf(drop), "float32_loss_resolution": _jf(res),
               "fall_margin": _jf(math.log10(drop / res)) if drop > 0 and res > 0 else None,
               "grad_norm": _jf(g), "grad_float32_floor": _jf(fl),
               "grad_margin": _jf(math.log10(g / fl)) if g > 0 and fl > 0 else None}
    if k in b.escapes:
        out["optimum"] = b.escapes[k]
    return out


CROSSING_WORDS = {"repair": "feature {f} is reconstructed", "revive": "feature {f} comes alive",
                  "output": "output {f} starts to fire"}


def outcome_text(b: OutcomeBatch, k: int) -> str:
    """One line: the outcome and the evidence that decided it (features 1-based)."""
    ev, s, H = b.ev, b.step, HORIZON_DOUBLINGS
    kind, why = OUTCOMES[b.kind[k]], REASONS[b.reason[k]]
    pace = ev["pace_t"][k]
    pace_t = (f"{pace:.2g} doublings" if math.isfinite(pace) else "never at its present pace")
    q = float(ev["quantum"][k])
    if why == "window":
        return f"moving: too early to tell (the history does not cover the window [{s // 2:,}, {s:,}])"
    if why == "diverged":
        return "stuck: training stopped it (its loss became NaN/inf)"
    if why == "pace":
        if math.isfinite(ev["sparse_change"][k]):
            return f"moving: the loss changed by {100 * ev['sparse_change'][k]:.2g}% over [{s // 2:,}, {s:,}]"
        if b.verdicts[k] == "perfect":
            return f"moving: perfect, but the loss rises ({ev['pace'][k]:.2g} per doubling over [{s // 2:,}, {s:,}])"
        return f"moving: the loss falls one level ({q:.3g}) in {pace_t} (by step ~{_when(s, pace):,})"
    if why == "crossing":
        f = int(ev["cross_feature"][k]) + 1
        what = CROSSING_WORDS.get(CROSSING_KINDS[int(ev["cross_kind"][k])], "a feature changes").format(f=f)
        return f"moving: {what} in {ev['cross_t'][k]:.2g} doublings (by step ~{_when(s, ev['cross_t'][k]):,})"
    if why == "unsettled":
        return (f"moving: live features not all reconstructed, and the diagnosis changed within "
                f"[{s // 2:,}, {s:,}]")
    if why == "escape":
        lk = LOCAL_KINDS[int(ev["local_kind"][k])]
        if lk == "saddle":
            return (f"moving: a saddle (curvature {ev['lam'][k]:.2g}, tolerance {ev['lam_tol'][k]:.1g}); the loss "
                    f"can fall {ev['drop'][k]:.2g} along it before the next kink, above float32's "
                    f"{ev['res32'][k]:.1g}")
        if lk == "nonsmooth_adam":
            return ("moving: a non-smooth saddle whose descent runs along flat directions; Adam scales each step by "
                    "the gradient's size, so it moves along them")
        return f"moving: the loss has a descent across a kink that gradient descent follows ({lk.replace('_', ' ')})"
    if kind == "settled":
        if math.isfinite(ev["sparse_change"][k]):
            return f"settled: the loss moved {100 * ev['sparse_change'][k]:.2g}% over [{s // 2:,}, {s:,}] (a plateau)"
        return f"settled: perfect, and the loss is not rising (change per doubling {ev['pace'][k]:.2g})"
    lk = LOCAL_KINDS[int(ev["local_kind"][k])]
    local = {"minimum": "the local model is a minimum", "flat_saddle": "its only negative curvature ends at a kink "
             "before the loss could fall by float32's resolution", "kink_minimum": "a minimum on its kinks",
             "nonsmooth_saddle": "a non-smooth saddle that gradient descent does not follow",
             "not_computed": "the local model not computed (too many parameters)"}.get(
        lk, "the local model not judged here (inspect and sweeps judge it)")
    repair = (f"no failing feature is predicted to be repaired within {H:g} doublings" if ev["crossing_computed"][k]
              else f"repairs not predicted (n > {CROSSING_MAX_N})")
    level = (f"the loss is {pace:.2g} doublings from falling one level ({q:.3g})" if math.isfinite(pace) else
             f"the loss will not fall one level ({q:.3g}) at its present pace")
    return f"stuck: {level}, {repair}, and {local}"


def outcome_words(verdict: str, kind: str | None) -> str:
    """'symmetric_failure', 'stuck' -> 'symmetric failure, stuck' (the verdict alone when there is no outcome)."""
    v = str(verdict).replace("_", " ")
    return v if not kind else f"{v}, {kind}"


# ----------------------------------------------------------------------------
# from a run's history

def history_outcomes(history: History, config: TrainConfig, step: int | None = None,
                     models: Sequence[int] | None = None, local: bool = True, full: bool = False,
                     analyses: Sequence[Analysis] | None = None) -> OutcomeBatch:
    """The outcomes at the recorded step at or before ``step`` (None: the latest) of ``models`` (default:
    all) of a run's history, from its recorded losses and rows. Each model is analysed at s, s/sqrt 2 and
    s/2 (model.analysis.analysis.analyze, without separability; ``analyses`` at s may be given)."""
    from .analysis import analyze

    steps = history.steps
    if len(steps) == 0:
        raise ValueError("no snapshot recorded yet")
    s = int(steps[history.index_at(int(steps[-1]) if step is None else int(step))])
    ks = np.arange(history.K) if models is None else np.asarray(list(models), dtype=np.int64)
    loss_steps, losses = history.losses()
    rows = history_rows(history, s, ks)
    if analyses is None:
        analyses = [analyze(history.snapshot(step=s, model=int(k)), onehot=config.onehot, extras=False) for k in ks]
    before = []
    for e in (1.0, 0.5):
        t = int(steps[history.index_at(int(s * 2.0 ** -e))])
        before.append(np.array([diagnosis_code(a) for a in
                                (analyze(history.snapshot(step=t, model=int(k)), onehot=config.onehot, extras=False)
                                 for k in ks)], dtype=np.int64))
    halted = history.halted[ks]
    diverged = (halted >= 0) & (halted <= s)
    return judge(config, s, loss_steps, losses[:, ks], rows, analyses, before, local=local, full=full,
                 diverged=diverged)


def history_rows(history: History, step: int, models: np.ndarray) -> Rows:
    """The history's rows of the velocity window before ``step`` (and at it), for ``models``."""
    s = float(step)
    idx = sorted({history.index_at(int(s * 2.0 ** -e)) for e in (VELOCITY_SPAN, VELOCITY_SPAN / 2, 0.0)})
    got = [history.row(i) for i in idx]
    Ms = [g[4] for g in got if g[4] is not None]  # all or none: a run is tied or untied throughout
    M = np.stack([x[models] for x in Ms]) if Ms else None
    return Rows(np.array([g[0] for g in got], dtype=np.int64), np.stack([g[1][models] for g in got]),
                np.stack([g[2][models] for g in got]), M)


def outcome_of(history: History, config: TrainConfig, model: int = 0, step: int | None = None,
               full: bool = True) -> dict[str, Any]:
    """One model's outcome as JSON (``inspect``): {"kind", "reason", "text", "evidence"}; with ``full`` the
    local model's own words (optimum.local_optimum) for a failure."""
    b = history_outcomes(history, config, step, [int(model)], local=True, full=full)
    d = b.to_dict(0)
    d["step"] = b.step
    return d


def all_decided(history: History, config: TrainConfig) -> bool:
    """Whether every model of the history is settled or stuck at its latest recorded step (``until_decided``)."""
    return bool(history_outcomes(history, config).decided().all())


def decide_hook(config: TrainConfig) -> tuple[list[int] | None, Callable[[Any], bool] | None]:
    """(at_steps, on_step) for engine.Trainer.run that carry out ``config.until_decided``: the outcomes are
    checked on engine.decide_grid (step 1,024 and every half doubling, and the cap) and the run stops once
    every model is settled or stuck; (None, None) without the option. Every caller that trains a run passes
    them (the engine itself does not judge outcomes)."""
    if not getattr(config, "until_decided", False):
        return None, None
    from ..training.engine import decide_grid

    return decide_grid(config.steps), (lambda trainer: all_decided(trainer.history, trainer.config))


__all__ = [
    "HORIZON_DOUBLINGS",
    "OUTCOMES",
    "REASONS",
    "OutcomeBatch",
    "Rows",
    "all_decided",
    "decide_hook",
    "diagnosis_code",
    "evidence_template",
    "extrapolate",
    "history_outcomes",
    "history_rows",
    "judge",
    "level_quantum",
    "local_models",
    "outcome_of",
    "outcome_words",
    "preactivations",
]
