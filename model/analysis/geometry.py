"""Geometry of the latent plane, as exact float64 numpy (no Qt, no torch).

scipy.spatial (ConvexHull) builds the strongest-feature partition. Above
NUMPY_MAX_N features, numba kernels (model/analysis/geometry_kernels.py, imported on
first use) fuse the one-hot probes (onehot_probe) so no n x n array is built,
and sum the zone areas; below it the same sums run in numpy, which costs less
than loading numba.

Model: x' = ReLU(D W x + b), D the decoder (W^T when tied, M (n, m) untied).
Pre-activation over the latent space: p(h) = D h + b, so p_k(h) = D_k . h + b_k,
where D_k (a row of the decoder, = W_k when tied) is the tilt of the latent
plane along output axis k.

Conventions (the vocabulary is in docs/ARCHITECTURE.md):
- W is (m, n), its columns W_i are the feature vectors; b is (n,).
- 2D functions take W2 = (2, n): W itself when m = 2, else ``project(W)``;
  callers for m > 2 use W2 and the same b (tied: p on that plane is
  W2^T h2 + b; untied: pass ``decoder=project_decoder(W, M)``).
- Boxes and raster extents are (xmin, xmax, ymin, ymax).
- Polygons are (k, 2) float64 arrays of vertices, not closed (the last vertex
  is not repeated); an empty polygon is a (0, 2) array.
- Rasters are indexed [iy, ix] with row 0 at ymin (pixel centres).

Large n (10,000 features) is the design point: everything is vectorised, and
every n x n or n x pixels temporary is chunked to about CHUNK_ELEMS elements.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..memory import CHUNK_ELEMS  # the chunk size, shared with training's memory estimate

#: Up to this many features onehot_probe and zone_areas run in numpy; above it through the
#: numba kernels, whose fixed cost (importing numba and loading a kernel from its on-disk
#: cache: about a second in a fresh process) numpy avoids for a one-off look at a small
#: model. The kernels win at every n once loaded (benchmarks/bench_analysis.py: n = 512,
#: numpy 15 + 27 ms, kernels 0.4 + 1.3 ms; n = 1,000, 20 + 51 against 1.5 + 3.9 ms), and a
#: sweep analyses thousands of models in a process that trains with numba: up to 256 numpy
#: costs at most 3 ms a model (its n x n blocks still fit the cache; at 512 they do not and
#: it is 10x slower). A fixed rule, so that the same model always gets the same path and
#: the same bits.
NUMPY_MAX_N = 256

#: Relative size of a singular value below which points count as collinear
#: (2D feature vectors) or coplanar (lifted points) in strongest_partition.
DEGENERATE_REL = 1e-12

#: Facets of the lifted hull whose unit normal has z-component at or below this
#: (in normalised coordinates) are treated as vertical: their envelope vertex
#: lies at infinity (more than 1e10 normalised units away).
VERTICAL_NZ = 1e-10

Box = tuple[float, float, float, float]


# ----------------------------------------------------------------------------
# small helpers

def _arr(x, name: str, ndim: int | None = None) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {a.shape}")
    return a


def _check_Wb(W, b) -> tuple[np.ndarray, np.ndarray]:
    W = _arr(W, "W", 2)
    b = _arr(b, "b", 1)
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must be (n,) = ({W.shape[1]},), got shape {b.shape}")
    return W, b


def decoder_of(W: ArrayLike, M: ArrayLike | None = None) -> np.ndarray:
    """(n, m) decoder: W^T when tied (M is None), else M."""
    W = _arr(W, "W", 2)
    if M is None:
        return W.T
    M = _arr(M, "M", 2)
    if M.shape != (W.shape[1], W.shape[0]):
        raise ValueError(f"M must be (n, m) = ({W.shape[1]}, {W.shape[0]}), got {M.shape}")
    return M


def _normals2(W2, decoder) -> np.ndarray:
    """(n, 2) zone normals on the plane: W2^T tied, else the given 2D decoder."""
    W2 = _arr(W2, "W2", 2)
    if W2.shape[0] != 2:
        raise ValueError(f"W2 must be (2, n), got shape {W2.shape}; use project(W) for m != 2")
    if decoder is None:
        return W2.T
    A = _arr(decoder, "decoder", 2)
    if A.shape != (W2.shape[1], 2):
        raise ValueError(f"decoder must be (n, 2) = ({W2.shape[1]}, 2), got {A.shape}")
    return A


def _check_box(box, name="box") -> Box:
    x0, x1, y0, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0) or not all(map(math.isfinite, (x0, x1, y0, y1))):
        raise ValueError(f"{name} must be (xmin, xmax, ymin, ymax) with xmax > xmin and ymax > ymin, got {box}")
    return x0, x1, y0, y1


def box_polygon(box: Box) -> np.ndarray:
    """(4, 2) counter-clockwise polygon of a box (xmin, xmax, ymin, ymax)."""
    x0, x1, y0, y1 = _check_box(box)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def default_box(W2: np.ndarray, margin: float = 0.1) -> Box:
    """A square centred on the origin covering every W_i (and the origin) with a margin."""
    W2 = _arr(W2, "W2", 2)
    r = float(np.max(np.abs(W2))) if W2.size else 0.0
    if not math.isfinite(r) or r <= 0:
        r = 1.0
    r *= 1.0 + margin
    return (-r, r, -r, r)


# ----------------------------------------------------------------------------
# the plane used to draw m != 2 models

def plane_basis(W: np.ndarray) -> tuple[np.ndarray, str]:
    """(U (m, 2), description) of the plane that 2D views draw.

    m == 2: the identity. m == 1: h is drawn as (h, 0) (U = [[1, 0]]).
    m > 2: the top two left singular vectors of W, i.e. the uncentred principal
    directions of W's columns; signs fixed so each column's largest entry is > 0.
    """
    W = _arr(W, "W", 2)
    m = W.shape[0]
    if m == 2:
        return np.eye(2), "latent plane (m = 2)"
    if m == 1:
        return np.array([[1.0, 0.0]]), "latent line (m = 1), drawn as (h, 0)"
    if m < 1:
        raise ValueError("W must have m >= 1 rows")
    Uf, s, _ = np.linalg.svd(W, full_matrices=False)
    U = np.ascontiguousarray(Uf[:, :2])
    big = np.argmax(np.abs(U), axis=0)
    sgn = np.sign(U[big, [0, 1]])
    sgn[sgn == 0] = 1.0
    U = U * sgn
    tot = float(np.sum(s * s))
    frac = float(np.sum(s[:2] ** 2)) / tot if tot > 0 else 1.0
    desc = (f"plane of the top two principal directions of W's columns (m = {m}; "
            f"holds {100 * frac:.1f}% of |W|^2)")
    return U, desc


def project(W: np.ndarray) -> np.ndarray:
    """W2 = U^T W, (2, n): the feature vectors on the plane_basis plane."""
    U, _ = plane_basis(W)
    return U.T @ _arr(W, "W", 2)


def project_decoder(W: np.ndarray, M: np.ndarray | None = None) -> np.ndarray:
    """(n, 2) decoder restricted to the plane_basis plane: D U (= W2^T when tied)."""
    U, _ = plane_basis(W)
    return decoder_of(W, M) @ U


# ----------------------------------------------------------------------------
# feature vectors and the latent shape

def angles(W2: np.ndarray) -> np.ndarray:
    """(n,) atan2 angle of each column, radians in (-pi, pi]."""
    W2 = _arr(W2, "W2", 2)
    return np.arctan2(W2[1], W2[0])


def norms(W: np.ndarray) -> np.ndarray:
    """(n,) Euclidean norm of each column."""
    W = _arr(W, "W", 2)
    return np.sqrt(np.einsum("ij,ij->j", W, W))


def angular_order(W2: np.ndarray) -> np.ndarray:
    """Column indices sorted by angle (stable on ties)."""
    return np.argsort(angles(W2), kind="stable")


def latent_shape(W2: np.ndarray) -> np.ndarray:
    """(n, 2) vertices of the latent shape: the W_i in angular order.

    A W_i near the origin makes the seed's "pac-man" mouth; the polygon is
    star-shaped about the origin when every angular gap is below pi.
    """
    W2 = _arr(W2, "W2", 2)
    return np.ascontiguousarray(W2[:, angular_order(W2)].T)


def shape_output_vertices(W: np.ndarray, b: np.ndarray, M: np.ndarray | None = None,
                          rows: slice | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(V, order): V[t] = p(W_order[t]) = column order[t] of D W + b, an (n, n) array.

    Rows follow the latent shape's angular order (on the plane_basis plane for
    m != 2); columns are output axes (feature indices). ``rows`` (a slice or
    index array into the order) computes a row block only: the full array is
    n^2 float64 (800 MB at n = 10,000).
    """
    W, b = _check_Wb(W, b)
    D = decoder_of(W, M)
    W2 = W if W.shape[0] == 2 else project(W)
    order = angular_order(W2)
    sel = order if rows is None else order[rows]
    V = (D @ W[:, sel]).T + b
    return V, order


def wtw(W: np.ndarray, M: np.ndarray | None = None) -> np.ndarray:
    """(n, n) D W (W^T W when tied). Column j is the pre-bias output for e_j."""
    W = _arr(W, "W", 2)
    return decoder_of(W, M) @ W


def wtw_plus_b(W: np.ndarray, b: np.ndarray, M: np.ndarray | None = None) -> np.ndarray:
    """(n, n) P = D W + b[:, None]: P[i, j] = p_i(W_j), output i's pre-activation for e_j."""
    W, b = _check_Wb(W, b)
    return wtw(W, M) + b[:, None]


def relu_wtw_plus_b(W: np.ndarray, b: np.ndarray, M: np.ndarray | None = None) -> np.ndarray:
    """(n, n) ReLU(D W + b): column j is the reconstruction of e_j (I when perfect)."""
    return np.maximum(wtw_plus_b(W, b, M), 0.0)


def onehot_loss(W: np.ndarray, b: np.ndarray, importance: np.ndarray | None = None,
                M: np.ndarray | None = None) -> float:
    """Exact float64 loss on one-hot data: (1/n) sum_j sum_i I_i (ReLU(P_ij) - d_ij)^2.

    P_ij = (D W)_ij + b_i is output i for input e_j. Chunked over examples so
    memory stays bounded for large n.
    """
    W, b = _check_Wb(W, b)
    n = W.shape[1]
    if n == 0:
        return 0.0
    D = decoder_of(W, M)
    imp = np.ones(n) if importance is None else _arr(importance, "importance", 1)
    if imp.shape != (n,):
        raise ValueError(f"importance must be (n,) = ({n},), got {imp.shape}")
    blk = max(1, CHUNK_ELEMS // n)
    total = 0.0
    bcol = b[:, None]
    for s in range(0, n, blk):
        e = min(n, s + blk)
        R = D @ W[:, s:e]
        R += bcol
        np.maximum(R, 0.0, out=R)
        R[np.arange(s, e), np.arange(e - s)] -= 1.0
        total += float(imp @ np.einsum("ij,ij->i", R, R))
    return total / n


def onehot_probe(W: np.ndarray, b: np.ndarray, importance: np.ndarray | None = None,
                 M: np.ndarray | None = None,
                 live: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """The one-hot probes e_i in one pass: numpy in row blocks up to NUMPY_MAX_N features,
    above it a fused numba kernel that builds no n x n array.

    Returns (self_act, max_other, loss): self_act[i] = p_i(W_i); max_other[i] =
    max over j != i with live[j] of p_j(W_i) (-inf if none; live defaults to
    all); loss = onehot_loss(W, b, importance, M), computed independently.
    """
    W, b = _check_Wb(W, b)
    n = W.shape[1]
    D = np.ascontiguousarray(decoder_of(W, M))
    Wt = np.ascontiguousarray(W.T)
    imp = np.ones(n) if importance is None else np.ascontiguousarray(_arr(importance, "importance", 1))
    if imp.shape != (n,):
        raise ValueError(f"importance must be (n,) = ({n},), got {imp.shape}")
    neg = np.zeros(n) if live is None else np.where(np.asarray(live, dtype=bool), 0.0, -np.inf)
    if neg.shape != (n,):
        raise ValueError(f"live must be (n,) = ({n},), got {neg.shape}")
    selfa = np.empty(n)
    other = np.empty(n)
    rows = np.empty(n)
    if 0 < n <= NUMPY_MAX_N:
        _probe_numpy(D, Wt, b, imp, neg, selfa, other, rows)
    elif n:
        from . import geometry_kernels as gk

        if D.shape[1] <= 2:
            pad = 2 - D.shape[1]
            if pad:
                D = np.hstack([D, np.zeros((n, pad))])
                Wt = np.hstack([Wt, np.zeros((n, pad))])
            gk._probe_kernel2(D, Wt, np.ascontiguousarray(b), imp, neg, selfa, other, rows)
        else:
            gk._probe_kernel(D, Wt, np.ascontiguousarray(b), imp, neg, selfa, other, rows)
    return selfa, other, (float(np.sum(rows)) / n if n else 0.0)


def _probe_numpy(D, Wt, b, imp, neg, selfa, other, loss_rows) -> None:
    """geometry_kernels._probe_kernel's sums in numpy, for small n: row i of P = Wt D^T + b
    holds p_j(W_i); the diagonal is the self-activation, the rest the interference."""
    n = D.shape[0]
    blk = max(1, CHUNK_ELEMS // n)
    for s in range(0, n, blk):
        e = min(n, s + blk)
        P = Wt[s:e] @ D.T
        P += b
        r = np.arange(e - s)
        diag = P[r, r + s].copy()
        selfa[s:e] = diag
        R = np.maximum(P, 0.0)
        R *= R
        R[r, r + s] = (np.maximum(diag, 0.0) - 1.0) ** 2
        loss_rows[s:e] = R @ imp
        P += neg
        P[r, r + s] = -np.inf
        other[s:e] = P.max(axis=1)


def feature_dimensionality(W: np.ndarray) -> np.ndarray:
    """(n,) D_i = |W_i|^2 / sum_j (W^_i . W_j)^2; 0 for a zero column.

    sum_j (W^_i . W_j)^2 = W^_i^T (W W^T) W^_i, so this costs O(n m^2).
    """
    W = _arr(W, "W", 2)
    n2 = np.einsum("ij,ij->j", W, W)
    out = np.zeros(W.shape[1])
    nz = n2 > 0
    if not np.any(nz):
        return out
    G = W @ W.T
    Wh = W[:, nz] / np.sqrt(n2[nz])
    denom = np.einsum("in,ij,jn->n", Wh, G, Wh)
    out[nz] = n2[nz] / denom
    return out


def data_dimensionality(H: np.ndarray) -> np.ndarray:
    """(T,) the same formula over data embeddings H = W X, (m, T)."""
    return feature_dimensionality(H)


# ----------------------------------------------------------------------------
# the plane inside an axis triple

def _triple(triple, n) -> np.ndarray:
    t = np.asarray(triple, dtype=np.int64).ravel()
    if t.shape != (3,):
        raise ValueError(f"triple must be three 0-based output axes, got {triple!r}")
    if np.any(t < 0) or np.any(t >= n):
        raise ValueError(f"triple axes must be in 0..{n - 1} (0-based), got {tuple(int(v) for v in t)}")
    return t


def bias_offset(b: np.ndarray, triple: Sequence[int]) -> np.ndarray:
    """(3,) (b_i, b_j, b_k): the plane's offset from the origin in the triple."""
    b = _arr(b, "b", 1)
    return b[_triple(triple, b.shape[0])].copy()


def tilt(W: np.ndarray, triple: Sequence[int], M: np.ndarray | None = None) -> np.ndarray:
    """(3, m) the gradients of p_i, p_j, p_k over h: rows of the decoder (W_k when tied)."""
    W = _arr(W, "W", 2)
    D = decoder_of(W, M)
    return D[_triple(triple, W.shape[1])].copy()


def plane_in_triple(W: np.ndarray, b: np.ndarray, triple: Sequence[int], points_h: np.ndarray,
                    M: np.ndarray | None = None) -> np.ndarray:
    """(N, 3) coordinates (p_i, p_j, p_k) of latent points h.

    points_h is (N, m); for m != 2 an (N, 2) array of plane coordinates is also
    accepted and lifted with plane_basis(W).
    """
    W, b = _check_Wb(W, b)
    H = _arr(points_h, "points_h")
    if H.ndim == 1:
        H = H[None, :]
    m = W.shape[0]
    if H.shape[1] != m:
        if H.shape[1] == 2:
            U, _ = plane_basis(W)
            H = H @ U.T
        else:
            raise ValueError(f"points_h must be (N, m) = (N, {m}) or (N, 2), got {H.shape}")
    t = _triple(triple, W.shape[1])
    return H @ decoder_of(W, M)[t].T + b[t]


# ----------------------------------------------------------------------------
# polygons: flat batches (all polygons in one vertex array + offsets)

def polygon_area(poly: np.ndarray) -> float:
    """Area of a polygon (absolute shoelace; exact for the output of the clips here)."""
    P = _arr(poly, "poly")
    if P.ndim != 2 or P.shape[0] < 3:
        return 0.0
    x, y = P[:, 0], P[:, 1]
    return abs(0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _flat_areas(pts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Absolute areas of the polygons of a flat batch."""
    G = len(offsets) - 1
    counts = np.diff(offsets)
    if pts.shape[0] == 0:
        return np.zeros(G)
    gid = np.repeat(np.arange(G), counts)
    nxt = np.arange(pts.shape[0]) + 1
    last = offsets[1:] - 1
    ok = counts > 0
    nxt[last[ok]] = offsets[:-1][ok]
    cr = pts[:, 0] * pts[nxt, 1] - pts[:, 1] * pts[nxt, 0]
    return 0.5 * np.abs(np.bincount(gid, weights=cr, minlength=G))


def clip_flat(pts: np.ndarray, offsets: np.ndarray, A: np.ndarray, c: np.ndarray,
              strict: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sutherland-Hodgman of every polygon g of a flat batch by {h: A[g].h + c[g] > 0}.

    ``strict`` chooses > 0 (open half-plane) or >= 0. Returns (pts, offsets).
    Each output polygon keeps the vertex order; concave subjects are fine (the
    result may contain zero-width bridges, which add no area).
    """
    G = len(offsets) - 1
    counts = np.diff(offsets)
    P = pts.shape[0]
    if P == 0:
        return pts, offsets
    gid = np.repeat(np.arange(G), counts)
    s = A[gid, 0] * pts[:, 0] + A[gid, 1] * pts[:, 1] + c[gid]
    inside = s > 0 if strict else s >= 0
    prev = np.arange(P) - 1
    ok = counts > 0
    prev[offsets[:-1][ok]] = offsets[1:][ok] - 1
    cross = inside != inside[prev]
    emit = np.stack([cross, inside], axis=1)
    vi, slot = np.nonzero(emit)
    out = pts[vi].copy()
    xi = slot == 0
    v = vi[xi]
    pv = prev[v]
    t = s[pv] / (s[pv] - s[v])
    out[xi] = pts[pv] + t[:, None] * (pts[v] - pts[pv])
    new_counts = np.bincount(gid[vi], minlength=G)
    new_off = np.zeros(G + 1, dtype=np.int64)
    np.cumsum(new_counts, out=new_off[1:])
    return out, new_off


def _split(pts, offsets) -> list[np.ndarray]:
    polys = np.split(pts, offsets[1:-1]) if len(offsets) > 1 else []
    return [p if p.shape[0] >= 3 else np.zeros((0, 2)) for p in polys]


def clip_polygon_halfplane(poly: np.ndarray, a: np.ndarray, c: float) -> np.ndarray:
    """poly intersected with {h : a.h + c > 0} (Sutherland-Hodgman; poly may be non-convex)."""
    P = _arr(poly, "poly")
    if P.size == 0:
        return np.zeros((0, 2))
    if P.ndim != 2 or P.shape[1] != 2:
        raise ValueError(f"poly must be (k, 2), got shape {P.shape}")
    A = _arr(a, "a").reshape(1, 2)
    out, off = clip_flat(P, np.array([0, P.shape[0]]), A, np.array([float(c)]), strict=True)
    return out if out.shape[0] >= 3 else np.zeros((0, 2))


# ----------------------------------------------------------------------------
# zones

def _zone_windows(V, A, b) -> tuple[np.ndarray, np.ndarray]:
    """(lo, cnt): the vertices of the latent shape V (in angular order) that can lie
    in zone k are V[lo_k], ..., V[lo_k + cnt_k - 1] (indices mod N; cnt = N: all).

    A zone that excludes the origin (b_k <= 0) holds only vertices within
    arccos(-b_k / (|A_k| r_max)) of A_k's direction (r_max the largest |V|);
    that window is found by binary search. Every vertex outside it has p_k <= 0.
    """
    N = V.shape[0]
    n = A.shape[0]
    th = np.arctan2(V[:, 1], V[:, 0])
    rmax = float(np.max(np.hypot(V[:, 0], V[:, 1])))
    an = np.hypot(A[:, 0], A[:, 1])
    lo = np.zeros(n, dtype=np.int64)
    cnt = np.full(n, N, dtype=np.int64)
    win = b <= 0
    if rmax > 0 and np.all(np.diff(th) >= 0):
        with np.errstate(divide="ignore", invalid="ignore"):
            cosb = np.where(an > 0, -b / (an * rmax), np.inf)
        none = win & (cosb >= 1.0)  # every vertex has p_k <= 0
        cnt[none] = 0
        part = win & ~none
        w = np.arccos(np.clip(cosb[part], -1.0, 1.0)) + 1e-9
        tha = np.arctan2(A[part, 1], A[part, 0])
        th3 = np.concatenate([th - 2 * np.pi, th, th + 2 * np.pi])
        l3 = np.searchsorted(th3, tha - w, side="left")
        h3 = np.searchsorted(th3, tha + w, side="right")
        c = np.minimum(h3 - l3, N)
        lo[part] = np.where(c >= N, 0, l3 - N)
        cnt[part] = c
    return lo, cnt


def _zone_args(W2, b, decoder):
    """(A (n, 2) the zone normals, W2, b) checked: b must be (n,)."""
    A = _normals2(W2, decoder)
    W2 = _arr(W2, "W2", 2)
    b = _arr(b, "b", 1)
    if b.shape != (A.shape[0],):
        raise ValueError(f"b must be (n,) = ({A.shape[0]},), got shape {b.shape}")
    return A, W2, b


def zone_polygons(W2: np.ndarray, b: np.ndarray, clip: str = "shape", box: Box | None = None,
                  decoder: np.ndarray | None = None) -> list[np.ndarray]:
    """Feature k's zone {h : A_k.h + b_k > 0} clipped to the latent shape (or a box), for all k.

    A_k = W_k (tied, m = 2 or W2 = project(W)) or ``decoder[k]`` (n, 2).
    Exact polygons (Sutherland-Hodgman, so a pac-man shape is fine): a list of
    n (k, 2) arrays, (0, 2) where the zone is empty. ``box`` defaults to
    default_box(W2).

    Speed: the shape's vertices are sorted by angle, so a half-plane that
    excludes the origin (b_k <= 0) can only contain vertices within
    arccos(-b_k / (|A_k| r_max)) of A_k's direction (r_max the largest |W_i|);
    only that angular window (found by binary search) is clipped. A sliver
    zone costs O(log n + its size), not O(n).
    """
    A, W2, b = _zone_args(W2, b, decoder)
    n = A.shape[0]
    if clip == "shape":
        V = latent_shape(W2)
    elif clip == "box":
        V = box_polygon(default_box(W2) if box is None else box)
    else:
        raise ValueError(f"clip must be 'shape' or 'box', got {clip!r}")
    N = V.shape[0]
    empty = np.zeros((0, 2))
    if n == 0:
        return []
    if N < 3:
        return [empty for _ in range(n)]
    # angular window [lo, lo + cnt) of candidate vertices for each feature
    if clip == "shape":
        lo, cnt = _zone_windows(V, A, b)
    else:
        lo, cnt = np.zeros(n, dtype=np.int64), np.full(n, N, dtype=np.int64)
    polys: list[np.ndarray] = [empty] * n
    feats = np.nonzero(cnt > 0)[0]
    if len(feats) == 0:
        return polys
    # each partial window is preceded by the vertex before it (the prev of its first
    # edge) and followed by the vertex after it (to close its last edge); a full
    # window is the cyclic sequence N-1, 0, 1, ..., N-1.
    L = np.where(cnt[feats] >= N, N + 1, cnt[feats] + 2)
    csum = np.cumsum(L)
    s0 = 0
    while s0 < len(feats):
        base = csum[s0 - 1] if s0 > 0 else 0
        e0 = int(np.searchsorted(csum, base + CHUNK_ELEMS, side="right"))
        e0 = max(e0, s0 + 1)
        fk = feats[s0:e0]
        Lk = L[s0:e0]
        tot = int(Lk.sum())
        g = np.repeat(np.arange(len(fk)), Lk)
        starts = np.zeros(len(fk), dtype=np.int64)
        np.cumsum(Lk[:-1], out=starts[1:])
        pos = np.arange(tot) - starts[g]
        vidx = (lo[fk][g] - 1 + pos) % N
        Ak = A[fk]
        S = Ak[g, 0] * V[vidx, 0] + Ak[g, 1] * V[vidx, 1] + b[fk][g]
        inside = S > 0
        inside[starts] = False  # the leading prev vertex emits nothing itself
        cross = np.zeros(tot, dtype=bool)
        cross[1:] = (S[1:] > 0) != (S[:-1] > 0)
        cross[starts] = False
        e, slot = np.nonzero(np.stack([cross, inside], axis=1))
        out = V[vidx[e]]
        xi = slot == 0
        ex = e[xi]
        sp, sc = S[ex - 1], S[ex]
        t = sp / (sp - sc)
        pv, cv = V[vidx[ex - 1]], V[vidx[ex]]
        out[xi] = pv + t[:, None] * (cv - pv)
        counts = np.bincount(g[e], minlength=len(fk))
        off = np.zeros(len(fk) + 1, dtype=np.int64)
        np.cumsum(counts, out=off[1:])
        for k, poly in zip(fk.tolist(), _split(out, off), strict=True):
            polys[k] = poly
        s0 = e0
    return polys


def zone_areas(W2: np.ndarray, b: np.ndarray,
               decoder: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(areas (n,), shape area): the area of each zone {h : A_k.h + b_k > 0} inside the
    latent shape (the polygons of zone_polygons(clip="shape")), without building them.

    Shoelace over the clipped polygon, summed edge by edge: an edge P -> Q of
    the shape contributes P x Q when both ends are inside, P x X (X the exit
    point) or Y x Q (Y the entry point) when it crosses the line, 0 outside;
    the clipped polygon's pieces along the line {A_k.h + b_k = 0} add
    (-b_k/|A_k|) (sum of entry t - sum of exit t), t the position along the
    line, whatever the pairing of exits and entries. Only the angular window
    of _zone_windows is visited, so the cost is O(n log n + window sizes).
    """
    A, W2, b = _zone_args(W2, b, decoder)
    n = A.shape[0]
    V = latent_shape(W2)
    N = V.shape[0]
    out = np.zeros(n)
    if N < 3 or n == 0:
        return out, 0.0
    shape_area = polygon_area(V)
    an = np.hypot(A[:, 0], A[:, 1])
    flat = an == 0  # p_k is the constant b_k: the whole shape or nothing
    out[flat & (b > 0)] = shape_area
    lo, cnt = _zone_windows(V, A, b)
    cnt[flat] = 0
    if n <= NUMPY_MAX_N:
        _zone_area_numpy(V, A, b, lo, cnt, out)
    else:
        from .geometry_kernels import zone_area_kernel

        zone_area_kernel(np.ascontiguousarray(V), np.ascontiguousarray(A), np.ascontiguousarray(b), lo, cnt, out)
    return out, shape_area


def _zone_area_numpy(V, A, b, lo, cnt, out) -> None:
    """geometry_kernels.zone_area_kernel in numpy, for small n: every (zone, edge) pair of
    the windows at once, summed per zone in the kernel's order (np.bincount adds in index
    order), so both give the same bits."""
    N = V.shape[0]
    feats = np.nonzero(cnt > 0)[0]
    if not len(feats):
        return
    c = cnt[feats]
    full = c >= N
    first = np.where(full, 0, lo[feats] - 1)
    L = np.where(full, N, c + 1)
    kk = np.repeat(np.arange(len(feats)), L)
    start = np.cumsum(L) - L
    e = np.arange(int(L.sum())) - np.repeat(start, L)
    ip = (np.repeat(first, L) + e) % N
    iq = (ip + 1) % N
    k = feats[kk]
    ax, ay, bk = A[k, 0], A[k, 1], b[k]
    an = np.sqrt(ax * ax + ay * ay)
    px, py, qx, qy = V[ip, 0], V[ip, 1], V[iq, 0], V[iq, 1]
    sp = ax * px + ay * py + bk
    sq = ax * qx + ay * qy + bk
    inp, inq = sp > 0, sq > 0
    term = np.where(inp & inq, px * qy - py * qx, 0.0)
    cross = inp != inq
    if cross.any():
        j = np.nonzero(cross)[0]
        t = sp[j] / (sp[j] - sq[j])
        xx = px[j] + t * (qx[j] - px[j])
        xy = py[j] + t * (qy[j] - py[j])
        tl = (-ay[j] * xx + ax[j] * xy) / an[j]
        off = -bk[j] / an[j]
        term[j] = np.where(inp[j], px[j] * xy - py[j] * xx - tl * off, xx * qy[j] - xy * qx[j] + tl * off)
    acc = np.bincount(kk, weights=term, minlength=len(feats))
    out[feats] = np.abs(0.5 * acc)


# ----------------------------------------------------------------------------
# the strongest-feature partition (upper envelope of n affine functions)

def _dedup(A, b):
    """Indices of distinct a = A[k]: for equal a keep max b (ties: smallest index)."""
    n = A.shape[0]
    order = np.lexsort((np.arange(n), -b, A[:, 1], A[:, 0]))
    As = A[order]
    first = np.ones(n, dtype=bool)
    first[1:] = np.any(As[1:] != As[:-1], axis=1)
    return np.sort(order[first])


def _box_cells(box, feats):
    bp = box_polygon(box)
    G = len(feats)
    pts = np.tile(bp, (G, 1))
    off = np.arange(G + 1, dtype=np.int64) * 4
    return pts, off


def _envelope_1d(A, b, reps, box):
    """Cells when the A_k are collinear: strips across the box along u."""
    Ar, br = A[reps], b[reps]
    a0 = Ar.mean(axis=0)
    _, _, Vt = np.linalg.svd(Ar - a0, full_matrices=False)
    u = Vt[0]
    s = (Ar - a0) @ u
    o = np.lexsort((-br, s))  # slope ascending
    lines: list[int] = []
    for k in o:  # convex-hull trick, O(n)
        if lines and s[lines[-1]] == s[k]:
            continue  # same slope, lower or equal intercept
        while len(lines) >= 2:
            l1, l2 = lines[-2], lines[-1]
            # l2 useless if intersection(l1, k) <= intersection(l1, l2)
            if (br[l1] - br[k]) * (s[l2] - s[l1]) <= (br[l1] - br[l2]) * (s[k] - s[l1]):
                lines.pop()
            else:
                break
        lines.append(int(k))
    L = np.array(lines)
    bps = (br[L[:-1]] - br[L[1:]]) / (s[L[1:]] - s[L[:-1]])  # breakpoints in t = u.h
    G = len(L)
    pts, off = _box_cells(box, L)
    lo = np.concatenate([[-np.inf], bps])
    hi = np.concatenate([bps, [np.inf]])
    Au = np.tile(u, (G, 1))
    # u.h >= lo  (skip with a = 0, c = 1 where infinite)
    fin = np.isfinite(lo)
    A1 = np.where(fin[:, None], Au, 0.0)
    c1 = np.where(fin, -np.where(fin, lo, 0.0), 1.0)
    pts, off = clip_flat(pts, off, A1, c1, strict=False)
    fin = np.isfinite(hi)
    A2 = np.where(fin[:, None], -Au, 0.0)
    c2 = np.where(fin, np.where(fin, hi, 0.0), 1.0)
    pts, off = clip_flat(pts, off, A2, c2, strict=False)
    return pts, off, reps[L]


def _cells_from_rays(box, nv, fin_k, fin_p, ray_k, ray_s, ray_nu):
    """Convex cells (then clipped to the box) from finite vertices and boundary rays.

    fin_k/fin_p: owner and position of each finite cell vertex; ray_k/ray_s/ray_nu:
    owner, start and unit direction of each unbounded edge. A far point s + R nu
    replaces each ray, with R large enough that the cut lies beyond the box.
    Returns (pts, offsets, owners) of the non-empty cells (owner = local index).
    """
    x0, x1, y0, y1 = box
    cb = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    half = 0.5 * math.hypot(x1 - x0, y1 - y0)
    if len(ray_k):
        # kappa_k = min over k's rays of nu . (normalised mean of k's nus)
        usum = np.zeros((nv, 2))
        np.add.at(usum, ray_k, ray_nu)
        un = np.linalg.norm(usum, axis=1)
        ubar = usum / np.where(un > 0, un, 1.0)[:, None]
        kap = np.full(nv, np.inf)
        np.minimum.at(kap, ray_k, np.einsum("ij,ij->i", ray_nu, ubar[ray_k]))
        kap = np.maximum(kap, 1e-9)
        dist = np.zeros(nv)
        np.maximum.at(dist, fin_k, np.linalg.norm(fin_p - cb, axis=1))
        np.maximum.at(dist, ray_k, np.linalg.norm(ray_s - cb, axis=1))
        R = 2.0 * (dist + half) / kap + half
        far = ray_s + R[ray_k][:, None] * ray_nu
        keys = np.concatenate([fin_k, ray_k])
        P = np.concatenate([fin_p, far])
    else:
        keys, P = fin_k, fin_p
    cnt = np.bincount(keys, minlength=nv)
    cen = np.stack([np.bincount(keys, P[:, 0], nv), np.bincount(keys, P[:, 1], nv)], 1)
    cen /= np.maximum(cnt, 1)[:, None]
    ang = np.arctan2(P[:, 1] - cen[keys, 1], P[:, 0] - cen[keys, 0])
    o = np.lexsort((ang, keys))
    pts = P[o]
    owners = np.nonzero(cnt)[0]
    off = np.zeros(len(owners) + 1, dtype=np.int64)
    np.cumsum(cnt[owners], out=off[1:])
    # clip to the box: x >= x0, x <= x1, y >= y0, y <= y1
    G = len(owners)
    for a, c in (((1.0, 0.0), -x0), ((-1.0, 0.0), x1), ((0.0, 1.0), -y0), ((0.0, -1.0), y1)):
        pts, off = clip_flat(pts, off, np.tile(a, (G, 1)), np.full(G, c), strict=False)
    return pts, off, owners


def _hull2d(P) -> np.ndarray:
    """Counter-clockwise 2D convex hull vertex indices of P (n, 2), non-collinear input.

    Vertices sorted by angle about the centroid form a star-shaped polygon whose
    hull vertices are all convex; removing every reflex or collinear vertex
    repeatedly leaves the hull. Falls back to qhull after 64 passes.
    """
    c = P.mean(axis=0)
    d = P - c
    idx = np.lexsort((-np.hypot(d[:, 0], d[:, 1]), np.arctan2(d[:, 1], d[:, 0])))
    for _ in range(64):
        Q = P[idx]
        e_in = Q - np.roll(Q, 1, axis=0)
        e_out = np.roll(Q, -1, axis=0) - Q
        keep = e_in[:, 0] * e_out[:, 1] - e_in[:, 1] * e_out[:, 0] > 0
        if keep.all():
            return idx
        if keep.sum() < 3:
            break
        idx = idx[keep]
    from scipy.spatial import ConvexHull
    return ConvexHull(P).vertices


def _hull2d_rays(Ar, h0):
    """Boundary rays of the angular sectors at apex h0: outward normals of Ar's 2D hull."""
    hv = _hull2d(Ar)  # counter-clockwise
    nxt = np.roll(hv, -1)
    d = Ar[nxt] - Ar[hv]
    nu = np.stack([d[:, 1], -d[:, 0]], 1)
    nu /= np.linalg.norm(nu, axis=1)[:, None]
    ray_k = np.concatenate([hv, nxt])
    ray_nu = np.concatenate([nu, nu])
    ray_s = np.tile(h0, (len(ray_k), 1))
    return hv, ray_k, ray_s, ray_nu


def strongest_partition_flat(W2: np.ndarray, b: np.ndarray, box: Box | None = None,
                             decoder: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat form of strongest_partition: (pts (P, 2), offsets (G+1,), features (G,)).

    Cell g is pts[offsets[g]:offsets[g+1]], a convex polygon (counter-clockwise),
    the set of box points where feature features[g] has the largest p_k(h).
    """
    A = _normals2(W2, decoder)
    b = _arr(b, "b", 1)
    n = A.shape[0]
    if b.shape != (n,):
        raise ValueError(f"b must be (n,) = ({n},), got shape {b.shape}")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
        raise ValueError("W2/decoder and b must be finite")
    box = _check_box(default_box(W2) if box is None else box)
    if n == 0:
        return np.zeros((0, 2)), np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    reps = _dedup(A, b)
    if len(reps) == 1:
        pts, off = _box_cells(box, reps)
        return pts, off, reps.astype(np.int64)
    Ar, br = A[reps], b[reps]
    sa = np.linalg.svd(Ar - Ar.mean(axis=0), compute_uv=False)
    if sa[1] <= DEGENERATE_REL * sa[0]:
        pts, off, feats = _envelope_1d(A, b, reps, box)
    else:
        # normalise the lifted points (a, b) -> ((a - a0)/sa_, (b - b0)/sb_)
        a0 = Ar.mean(axis=0)
        b0 = float(br.mean())
        sc_a = float(np.max(np.abs(Ar - a0)))
        sc_b = float(np.max(np.abs(br - b0)))
        Pn = np.column_stack([(Ar - a0) / sc_a, (br - b0) / (sc_b if sc_b > 0 else 1.0)])
        sp = np.linalg.svd(Pn - Pn.mean(axis=0), compute_uv=False)
        hull = None
        if sc_b > 0 and sp[2] > DEGENERATE_REL * sp[0]:
            from scipy.spatial import ConvexHull, QhullError
            try:
                hull = ConvexHull(Pn)
            except QhullError:
                try:
                    hull = ConvexHull(Pn, qhull_options="QJ")
                except QhullError:
                    hull = None
        nv = len(reps)
        if hull is None:
            # coplanar lifted points: b = alpha.a + beta, so p_k(h) = a_k.(h + alpha) + beta;
            # the cells are angular sectors at h0 = -alpha of the 2D hull vertices.
            X = np.column_stack([Ar, np.ones(nv)])
            coef, *_ = np.linalg.lstsq(X, br, rcond=None)
            h0 = -coef[:2]
            hv, ray_k, ray_s, ray_nu = _hull2d_rays(Ar, h0)
            fin_k = hv
            fin_p = np.tile(h0, (len(hv), 1))
        else:
            eq = hull.equations
            up = eq[:, 2] > VERTICAL_NZ
            F = hull.simplices[up]
            # envelope vertex of an upper facet: h* = (nx, ny)/nz, back in original units
            hs = eq[up, :2] / eq[up, 2:3] * ((sc_b if sc_b > 0 else 1.0) / sc_a)
            fin_k = F.ravel()
            fin_p = np.repeat(hs, 3, axis=0)
            # silhouette edges: edges of exactly one upper facet
            e1 = F.ravel()
            e2 = F[:, [1, 2, 0]].ravel()
            e3 = F[:, [2, 0, 1]].ravel()  # the facet's third vertex
            fidx = np.repeat(np.arange(F.shape[0]), 3)
            lo, hi = np.minimum(e1, e2), np.maximum(e1, e2)
            key = lo.astype(np.int64) * nv + hi
            uk, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
            sil = cnt[inv] == 1
            k, j, l, f = e1[sil], e2[sil], e3[sil], fidx[sil]
            d = Ar[j] - Ar[k]
            nu = np.stack([d[:, 1], -d[:, 0]], 1)
            flip = np.einsum("ij,ij->i", nu, Ar[l] - Ar[k]) > 0
            nu[flip] *= -1.0
            nu /= np.linalg.norm(nu, axis=1)[:, None]
            ray_k = np.concatenate([k, j])
            ray_s = np.concatenate([hs[f], hs[f]])
            ray_nu = np.concatenate([nu, nu])
        pts, off, owners = _cells_from_rays(box, nv, fin_k, fin_p, ray_k, ray_s, ray_nu)
        feats = reps[owners]
    # keep non-empty cells, ordered by feature index
    areas = _flat_areas(pts, off)
    x0, x1, y0, y1 = box
    keep = (areas > 1e-13 * (x1 - x0) * (y1 - y0)) & (np.diff(off) >= 3)
    o = np.argsort(feats, kind="stable")
    o = o[keep[o]]
    cnt = np.diff(off)[o]
    new_off = np.zeros(len(o) + 1, dtype=np.int64)
    np.cumsum(cnt, out=new_off[1:])
    idx = np.repeat(off[:-1][o] - new_off[:-1], cnt) + np.arange(new_off[-1])
    return pts[idx], new_off, np.asarray(feats, dtype=np.int64)[o]


class Partition(Mapping):
    """{feature index (0-based): convex cell polygon (k, 2)}, backed by flat arrays.

    A read-only mapping in feature order (only non-empty cells). ``pts``,
    ``offsets`` and ``features`` are the flat form (cell g is
    pts[offsets[g]:offsets[g+1]], the cell of feature features[g]) for views
    that draw every cell in one call; polygons are sliced on demand.
    """

    __slots__ = ("features", "offsets", "pts")

    def __init__(self, pts: np.ndarray, offsets: np.ndarray, features: np.ndarray):
        self.pts = pts
        self.offsets = offsets
        self.features = features

    def _g(self, key) -> int:
        g = int(np.searchsorted(self.features, key))
        if g >= len(self.features) or self.features[g] != key:
            raise KeyError(key)
        return g

    def __getitem__(self, key) -> np.ndarray:
        g = self._g(key)
        return self.pts[self.offsets[g]:self.offsets[g + 1]]

    def __contains__(self, key) -> bool:
        try:
            self._g(key)
        except (KeyError, TypeError):
            return False
        return True

    def __iter__(self):
        return iter(self.features.tolist())

    def __len__(self) -> int:
        return len(self.features)

    def areas(self) -> np.ndarray:
        """(G,) cell areas, aligned with ``features``."""
        return _flat_areas(self.pts, self.offsets)

    def __repr__(self) -> str:
        return f"Partition({len(self)} cells, {self.pts.shape[0]} vertices)"


def strongest_partition(W2: np.ndarray, b: np.ndarray, box: Box | None = None,
                        decoder: np.ndarray | None = None) -> Partition:
    """Exact partition of the box into cells argmax_k p_k(h), p_k(h) = A_k.h + b_k.

    A_k = W_k (tied) or ``decoder[k]``. Returns a Partition: a mapping
    {feature index (0-based): convex polygon (k, 2), counter-clockwise} over
    the features whose cell is non-empty, in feature order. Method: only
    features whose lifted point (A_k, b_k) lies on the upper convex hull can
    win; each upper facet z = alpha.w + beta is a vertex h* = -alpha of the
    envelope, so a feature's cell is the convex polygon of the h* of its facets,
    closed by rays along the outward normals of the silhouette edges, then
    clipped to the box. Degenerate input is handled exactly: duplicate points
    (max b wins, then the smallest index), n = 1, collinear A (strips), and
    coplanar lifted points such as equal b (angular sectors of the 2D hull
    vertices about the apex).
    """
    return Partition(*strongest_partition_flat(W2, b, box=box, decoder=decoder))


# ----------------------------------------------------------------------------
# rasters (fallback and baseline)

def _pixel_centres(extent, res):
    x0, x1, y0, y1 = _check_box(extent, "extent")
    res = int(res)
    if res < 1:
        raise ValueError(f"res must be >= 1, got {res}")
    xs = x0 + (np.arange(res) + 0.5) * ((x1 - x0) / res)
    ys = y0 + (np.arange(res) + 0.5) * ((y1 - y0) / res)
    return xs, ys


def _raster(A, b, extent, res, chunk, want_count=False):
    """Evaluate every p_k at every pixel centre, in (pixel block x feature block) chunks.

    Pixel blocks hold about CHUNK_ELEMS / n pixels (at least 256) and the
    values are a BLAS product H @ A^T, reduced along the contiguous feature
    axis; features are split into blocks of ``chunk`` (default: all that fit
    in CHUNK_ELEMS) with a running maximum, so memory stays bounded for any n.
    """
    xs, ys = _pixel_centres(extent, res)
    n = A.shape[0]
    nx, ny = xs.size, ys.size
    Pn = nx * ny
    best = np.full(Pn, -np.inf)
    idx = np.full(Pn, -1, dtype=np.int64)
    count = np.zeros(Pn, dtype=np.int64) if want_count else None
    if n == 0:
        shp = (ny, nx)
        return idx.reshape(shp), best.reshape(shp), (count.reshape(shp) if want_count else None)
    pb = int(min(Pn, max(256, CHUNK_ELEMS // n)))
    fb = int(max(1, CHUNK_ELEMS // pb)) if chunk is None else max(1, int(chunk))
    AT = np.ascontiguousarray(A.T)
    H = np.empty((pb, 2))
    for p0 in range(0, Pn, pb):
        p1 = min(Pn, p0 + pb)
        q = np.arange(p0, p1)
        H[: p1 - p0, 0] = xs[q % nx]
        H[: p1 - p0, 1] = ys[q // nx]
        Hb = H[: p1 - p0]
        for f0 in range(0, n, fb):
            f1 = min(n, f0 + fb)
            vals = Hb @ AT[:, f0:f1]
            vals += b[f0:f1]
            if want_count:
                count[p0:p1] += np.count_nonzero(vals > 0, axis=1)
                continue
            am = np.argmax(vals, axis=1)
            cm = vals[np.arange(p1 - p0), am]
            better = cm > best[p0:p1]
            best[p0:p1][better] = cm[better]
            idx[p0:p1][better] = am[better] + f0
    shp = (ny, nx)
    return idx.reshape(shp), best.reshape(shp), (count.reshape(shp) if want_count else None)


def zone_raster(W2: np.ndarray, b: np.ndarray, extent: Box, res: int, positive_only: bool = False,
                decoder: np.ndarray | None = None,
                chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raster fallback: ((res, res) argmax feature, (res, res) max p), rows from ymin.

    positive_only: the argmax is -1 where every p_k <= 0 (no zone covers the pixel).
    Chunked (about CHUNK_ELEMS values at a time), so memory stays bounded for n = 10,000.
    """
    A = _normals2(W2, decoder)
    b = _arr(b, "b", 1)
    idx, best, _ = _raster(A, b, extent, res, chunk)
    if positive_only:
        idx = np.where(best > 0, idx, -1)
    return idx, best


def active_count_raster(W2: np.ndarray, b: np.ndarray, extent: Box, res: int,
                        decoder: np.ndarray | None = None, chunk: int | None = None) -> np.ndarray:
    """(res, res) number of features with p_k(h) > 0 at each pixel centre."""
    A = _normals2(W2, decoder)
    b = _arr(b, "b", 1)
    return _raster(A, b, extent, res, chunk, want_count=True)[2]


def naive_argmax_raster(W2: np.ndarray, b: np.ndarray, extent: Box, res: int = 512, chunk: int | None = None,
                        decoder: np.ndarray | None = None) -> np.ndarray:
    """The naive chunked numpy raster of argmax_k p_k over all n features (the baseline).

    ``chunk`` is the number of features evaluated per block (default: as many as
    fit in CHUNK_ELEMS values with the pixel block). Rows start at ymin.
    """
    A = _normals2(W2, decoder)
    b = _arr(b, "b", 1)
    return _raster(A, b, extent, res, chunk)[0]
