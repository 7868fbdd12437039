"""The invariant quantities the analysis decides on (numpy, no Qt).

A model's function is x' = ReLU(A x + b) with A = D W the n x n product of
the decoder and the encoder (D = W^T tied, M untied). Two models with the
same (A, b) are the same model, so a criterion must read (A, b), not W:

- tied: W -> Q W with Q orthogonal leaves A = W^T W unchanged. Norms,
  angles between feature vectors and distances to hulls are invariant under
  Q, so the criteria may read W itself, as long as they are rotation-
  invariant (no projection onto a chosen plane: ``angle_profiles`` judges
  regularity in the full latent space for m > 2).
- untied: W -> R W, M -> M R^-1 with R any invertible m x m matrix (a gauge)
  leaves A unchanged but not |W_i|, angles or margins. ``function_vectors``
  returns the *balanced factor* of A instead: with A = U S V^T (its SVD, rank
  at most m), Phi = S^(1/2) V^T, whose Gram matrix Phi^T Phi = (A^T A)^(1/2)
  is a function of A alone. Phi is determined up to a rotation (the SVD's
  freedom), to which the criteria are blind. For a tied model A = W^T W is
  positive semi-definite, (A^T A)^(1/2) = A, and Phi is W up to a rotation:
  the same numbers. A dead input (A e_i = 0) has Phi_i = 0.

Resolution. Trained parameters are float32 numbers (training and run files
keep them so): an entry x stands for any real number within half its
spacing, |x| 2^-24 = u |x|. A quantity that is a sum of products of them,
such as a pre-activation p = sum_k D_jk W_ki + b_j, moves by at most
u (2 sum_k |D_jk W_ki| + |b_j|) <= 2 u S = FLOAT32_RES S, S the scale of the
terms (``preactivation_scale``: max |Psi_j| max |Phi_i| + max |b_j| over
the model, with A = Psi Phi the balanced factors; |W|_max^2 + |b|_max when
tied; invariant under the gauge, unlike per-entry |D_j||W_i|). A ratio of two norms, each known to relative u, is known to
relative 2u = FLOAT32_RES. A margin inside that band decides nothing: the
analysis calls it *undecided*. ``precision_of`` tells float32 parameters
(every entry equal to its float32 rounding) from exact float64 ones
(hand-built closed forms), whose resolution is taken as 0.
"""
from __future__ import annotations

import math

import numpy as np

from . import geometry as geo
from .separability import FLOAT32_RES

#: Relative resolution of each kind of parameters (see above).
RESOLUTION_REL = {"float32": FLOAT32_RES, "float64": 0.0}


def precision_of(W: np.ndarray, b: np.ndarray, M: np.ndarray | None = None) -> str:
    """'float32' when every parameter is a float32 number (trained runs), else 'float64'."""
    for a in (W, b, M):
        if a is None:
            continue
        a = np.asarray(a, dtype=np.float64)
        with np.errstate(over="ignore"):
            if not np.array_equal(a.astype(np.float32).astype(np.float64), a):
                return "float64"
    return "float32"


def function_factors(W: np.ndarray, M: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(Phi (m, n), Psi (n, m), description) with A = Psi Phi: the function's feature vectors and
    decoder rows (see the module doc).

    Tied: (W, W^T). Untied: the balanced factors Phi = S^(1/2) V^T, Psi = Q U S^(1/2) of A = M W,
    from the thin QR M = Q R and the SVD R W = U S V^T of an m x n matrix (O(n m^2), no n x n
    array), signs fixed so each row of Phi has its largest entry positive.
    """
    W = np.asarray(W, dtype=np.float64)
    if M is None:
        return W, W.T, "W (tied: the decoder is W^T; criteria are rotation-invariant)"
    M = np.asarray(M, dtype=np.float64)
    m, n = W.shape
    Q, R = np.linalg.qr(M)  # (n, k), (k, k), k = min(n, m)
    U, s, Vt = np.linalg.svd(R @ W, full_matrices=False)  # (k, k), (k,), (k, n)
    root = np.sqrt(s)
    Phi = root[:, None] * Vt
    Psi = (Q @ U) * root[None, :]
    big = np.argmax(np.abs(Phi), axis=1)
    sgn = np.sign(Phi[np.arange(Phi.shape[0]), big])
    sgn[sgn == 0] = 1.0
    Phi, Psi = Phi * sgn[:, None], Psi * sgn[None, :]
    if Phi.shape[0] < m:  # fewer features than latent dimensions
        Phi = np.vstack([Phi, np.zeros((m - Phi.shape[0], n))])
        Psi = np.hstack([Psi, np.zeros((n, m - Psi.shape[1]))])
    return Phi, Psi, ("the balanced factor S^(1/2) V^T of the function's product M W = U S V^T "
                      "(invariant under W -> R W, M -> M R^-1)")


def function_vectors(W: np.ndarray, M: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """(Phi (m, n), description): the feature vectors the criteria read (W tied; the balanced factor
    of M W untied; see function_factors)."""
    Phi, _, desc = function_factors(W, M)
    return Phi, desc


def preactivation_scale(W: np.ndarray, b: np.ndarray, M: np.ndarray | None = None) -> float:
    """max_j |Psi_j| max_i |Phi_i| + max_j |b_j|: the scale of the terms of a pre-activation
    p_j(W_i) = Psi_j . Phi_i + b_j (|W|_max^2 + |b|_max when tied), which bounds every |A_ij|
    (Cauchy-Schwarz) and the sum of the products' magnitudes alike; invariant under the gauge. O(n m)."""
    Phi, Psi, _ = function_factors(W, M)
    if Phi.shape[1] == 0:
        return 0.0
    top = float(np.max(np.linalg.norm(Psi, axis=1))) * float(np.max(np.linalg.norm(Phi, axis=0)))
    return top + float(np.max(np.abs(b)))


def profile_ranks(m: int, live: int) -> int:
    """How many nearest neighbours an angle profile holds: 2m (every neighbour of a regular polytope
    in R^m that is within its first shells; the octahedron's five others at m = 3), at most live - 1."""
    return max(0, min(live - 1, 2 * m))


def angle_profiles(V: np.ndarray, ranks: int | None = None) -> np.ndarray:
    """(L, K): for each column of V (m, L, no zero column), the angles (radians) to its K nearest
    other columns, ascending; in row blocks, no L x L array for large L.

    Rotation-invariant by construction (angles between vectors). The nearest are chosen by cosine
    (a Gram block), then each chosen angle is 2 atan2(|u - v|, |u + v|) of the unit vectors, accurate
    to rounding at 0 and at pi alike (arccos of a cosine loses half the digits there: 1e-8 rad near
    an antipode). Candidates are the K + 2 largest cosines, so a near-tie at rounding level in the
    cosine cannot drop a neighbour.
    """
    V = np.asarray(V, dtype=np.float64)
    m, L = V.shape
    K = profile_ranks(m, L) if ranks is None else int(ranks)
    if K <= 0:
        return np.zeros((L, 0))
    U = np.ascontiguousarray((V / np.linalg.norm(V, axis=0)).T)  # (L, m)
    C = min(L - 1, K + 2)
    out = np.empty((L, K))
    blk = max(1, geo.CHUNK_ELEMS // L)
    for s in range(0, L, blk):
        e = min(L, s + blk)
        G = U[s:e] @ U.T
        G[np.arange(e - s), np.arange(s, e)] = -np.inf
        cand = np.argpartition(-G, C - 1, axis=1)[:, :C] if C < L else np.argsort(-G, axis=1)[:, :C]
        Uc = U[cand]  # (rows, C, m)
        d = np.linalg.norm(U[s:e, None, :] - Uc, axis=2)
        p = np.linalg.norm(U[s:e, None, :] + Uc, axis=2)
        out[s:e] = np.sort(2.0 * np.arctan2(d, p), axis=1)[:, :K]
    return out


def profile_ratio(profiles: np.ndarray) -> tuple[float, int]:
    """(ratio, rank): the largest, over ranks k, of (largest k-th nearest angle) / (smallest k-th
    nearest angle) across the features; 1 when every feature sees the same angles to its neighbours
    (a regular polygon, the octahedron, any vertex-transitive set), inf when some angle is 0. rank is
    the 1-based rank attaining it (0 with fewer than two features)."""
    if profiles.shape[0] < 2 or profiles.shape[1] == 0:
        return 1.0, 0
    lo = profiles.min(axis=0)
    hi = profiles.max(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(lo > 0, hi / np.where(lo > 0, lo, 1.0), np.inf)
    k = int(np.argmax(r))
    return float(r[k]), k + 1


def undecided(value: float, threshold: float, resolution: float) -> bool:
    """True when |value - threshold| <= resolution > 0: the parameters do not decide the comparison."""
    return bool(resolution > 0 and math.isfinite(value) and abs(value - threshold) <= resolution)


__all__ = [
    "RESOLUTION_REL",
    "angle_profiles",
    "function_factors",
    "function_vectors",
    "preactivation_scale",
    "precision_of",
    "profile_ranks",
    "profile_ratio",
    "undecided",
]
