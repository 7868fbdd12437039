"""What the 3D latent-plane view draws, as pure numpy arrays (no Qt, no GL).

The seed's picture: the model's 2D latent plane {p(h) = D h + b : h in R^2}
(D the decoder, W^T when tied) living in n-dimensional output space, seen
through three output axes (i, j, k). ``build_scene(snap, settings, colors)``
returns a ``Scene``: vertex, face and colour arrays for every part of that
picture, in GL coordinates

    (x, y, z) = (e_i p_i, e_j p_j, e_k p_k)     e = settings.enlarge

so the GL items only receive arrays. Everything is vectorised (O(n) in numpy,
never an n x n array): n = 10,000 builds in a few milliseconds.

The parts (see Scene for the arrays):
- the latent shape: the polygon of h-space through the W_t in angular order
  (model.analysis.geometry.latent_shape), triangulated as a fan from h = 0 (exact when
  every angular gap is below pi, pac-man included; a gap of pi or more is cut
  off along its chord), then split along the three lines p_a(h) = 0 of the
  triple into cells of constant sign pattern. A cell where exactly one axis
  a fires (p_a > 0) is an activation sliver, drawn in feature a's colour; a
  cell where several fire takes the mean of their colours; the rest is
  neutral. Because the sign pattern is constant on a cell, ReLU is linear
  there: the after-ReLU picture folds each cell exactly onto the hypercube's
  faces and edges (negative coordinates set to 0).
- the outline of the shape and each vertex p(W_t) in feature t's colour.
- the bias offset: an arrow from the origin to (b_i, b_j, b_k), where the
  plane's h = 0 lands, with a drop line from its tip to each axis and the
  value there.
- the tilt along each axis a of the triple: an arrow on the plane from p(0)
  to p(D_a), i.e. along the direction of h in which p_a grows (D_a = W_a when
  tied), labelled |D_a|; a flat axis (|D_a| ~ 0, a dead feature) gets no
  arrow and the label "flat" (p_a = b_a on the whole plane).
- the three axes (positive halves emphasised, labelled with feature numbers)
  and optionally the unit ReLU hypercube in the positive octant.
- after ReLU: each vertex's image ReLU(p(W_t)) and a line to it.

m != 2: the plane is model.analysis.geometry.plane_basis's (the top two principal
directions of W's columns, as in the 2D views); ``Scene.plane`` says so.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from model.analysis import geometry as geo
from model.snapshot import Snapshot
from views.settings import CAMERA_PRESETS, Triple
from views.settings import PlaneSettings as PlaneSettings  # re-exported: where the 3D view's settings were

if TYPE_CHECKING:
    from model.analysis.analysis import Analysis

#: Colour (RGBA 0..1) of the part of the shape where no axis of the triple fires.
NEUTRAL = (0.70, 0.71, 0.75, 0.42)
#: Alpha of an activation sliver.
SLIVER_ALPHA = 0.62
#: Outline colour of the latent shape, and its faint "before ReLU" ghost.
OUTLINE = (0.18, 0.18, 0.22, 1.0)
GHOST = (0.35, 0.35, 0.40, 0.45)
#: The bias arrow, its drop lines, the negative half-axes, the hypercube.
BIAS = (0.08, 0.08, 0.08, 1.0)
DROP = (0.35, 0.35, 0.35, 0.85)
NEG_AXIS = (0.55, 0.55, 0.55, 0.9)
CUBE = (0.45, 0.45, 0.50, 0.55)
RELU_LINE = (0.30, 0.30, 0.30, 0.55)
#: |D_a| below this (relative to the largest feature norm, or absolutely) is a flat axis.
FLAT_REL = 1e-3
FLAT_ABS = 1e-9
#: Vertex labels (feature numbers at p(W_t)) up to this many features.
VERTEX_LABEL_MAX = 20
#: Vertices drawn as points up to this many features; above, every k-th vertex in
#: angular order (k = ceil(n / POINT_MAX)) plus the triple's own features.
POINT_MAX = 2_500
#: Spokes p(0) -> p(W_t) of the feature wheel up to this many features, at this alpha.
SPOKE_MAX = 300
SPOKE_ALPHA = 0.55



# ----------------------------------------------------------------------------
# settings

# PlaneSettings (and the ranges it checks) live with every view's settings, Qt-free: views.settings.


def check_triple(triple: Sequence[int], n: int) -> Triple:
    """The triple as ints, each in 0..n-1; a clear message otherwise.

    n < 3 cannot have three distinct axes: indices repeat (clamped to n - 1).
    """
    t = tuple(int(v) for v in triple)
    if len(t) != 3:
        raise ValueError(f"triple must have 3 features, got {triple!r}")
    if n < 1:
        raise ValueError("the snapshot has no features (n = 0)")
    if n < 3:
        return tuple(min(max(v, 0), n - 1) for v in t)  # type: ignore[return-value]
    bad = [v for v in t if not 0 <= v < n]
    if bad:
        raise ValueError(f"triple features must be 1..{n} (0-based 0..{n - 1}), got {[v + 1 for v in t]}")
    return t  # type: ignore[return-value]


def default_triple(snap: Snapshot, analysis: Analysis | None = None) -> Triple:
    """The seed's choice: two strong features on x, y and the weakest (dead) one on z.

    Weakest: the dead feature of smallest norm when ``analysis`` has dead
    features, else the smallest |W_t|. Strong: the two lowest-numbered features
    whose norm is within 1% of the largest among the others (so a regular
    polygon gives features 1 and 2, as in the seed's dimensions 1, 2, 7);
    if fewer than two are that close, the two largest norms.
    """
    n = snap.n
    if n < 3:
        return check_triple((0, 1, 2), n)
    nr = geo.norms(snap.W)
    dead = list(getattr(analysis, "dead", []) or []) if analysis is not None else []
    dead = [d for d in dead if 0 <= d < n]
    if dead:
        weak = int(min(dead, key=lambda d: (nr[d], d)))
    else:
        weak = int(np.lexsort((np.arange(n), nr))[0])
    rest = np.delete(np.arange(n), weak)
    nmax = float(nr[rest].max())
    close = rest[nr[rest] >= 0.99 * nmax] if nmax > 0 else rest
    if len(close) >= 2:
        s1, s2 = int(close[0]), int(close[1])
    else:
        o = rest[np.lexsort((rest, -nr[rest]))]
        s1, s2 = sorted(int(v) for v in o[:2])
    return (s1, s2, weak)


def step_triple(triple: Sequence[int], n: int, delta: int = 1) -> Triple:
    """Step the z axis (the feature under study) by ``delta`` through 0..n-1, skipping x and y."""
    i, j, k = check_triple(triple, n)
    if n <= 3:
        return (i, j, (k + delta) % n)
    step = 1 if delta >= 0 else -1
    for _ in range(abs(int(delta)) or 0):
        k = (k + step) % n
        while k in (i, j):
            k = (k + step) % n
    return (i, j, k)


# ----------------------------------------------------------------------------
# the plane

def plane_of(snap: Snapshot) -> tuple[np.ndarray, np.ndarray, str]:
    """(W2 (2, n), D2 (n, 2), description): feature vectors and decoder on the drawn plane.

    m = 2: W and D = W^T (or the untied M). m != 2: the plane_basis plane U,
    W2 = U^T W, D2 = D U; on it p(h) = D2 h + b.
    """
    U, desc = geo.plane_basis(snap.W)
    if snap.m == 2:
        W2 = snap.W
        D2 = snap.W.T if snap.M is None else snap.M
    else:
        W2 = U.T @ snap.W
        D2 = geo.decoder_of(snap.W, snap.M) @ U
    return np.ascontiguousarray(W2), np.ascontiguousarray(D2), desc


def shape_polygon(W2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(V (N, 2), order (N,)): the latent shape's vertices in angular order and their features."""
    order = geo.angular_order(W2)
    return np.ascontiguousarray(W2[:, order].T), order


def _fan(V: np.ndarray):
    """Triangles of the shape: a fan from h = 0 over its edges, as a flat batch.

    Returns (pts (3T, 2), offsets (T+1,), chord) where chord is None, or
    (a (2,), c) when the largest angular gap is pi or more: the shape is then
    the fan minus the triangle (0, V_g, V_g+1) over that gap, i.e. the fan
    clipped to the far side {a.h + c >= 0} of the gap's chord.
    """
    N = V.shape[0]
    if N < 2:
        return np.zeros((0, 2)), np.zeros(1, dtype=np.int64), None
    th = np.arctan2(V[:, 1], V[:, 0])
    nxt = np.roll(np.arange(N), -1)
    gaps = np.diff(np.concatenate([th, th[:1] + 2 * np.pi]))
    live = np.hypot(V[:, 0], V[:, 1]) > 0
    edges = np.arange(N)
    chord = None
    if live.sum() >= 2:
        g = int(np.argmax(gaps))
        if gaps[g] >= np.pi - 1e-12:
            a0, a1 = V[g], V[nxt[g]]
            d = a1 - a0
            nrm = np.array([d[1], -d[0]])
            c = -float(nrm @ a0)
            side = float(nrm @ V[live].mean(axis=0)) + c
            tol = 1e-12 * float(np.abs(nrm).sum() * max(np.abs(V).max(), 1e-300))
            if side < -tol or (abs(side) <= tol and c > 0):  # the shape's side positive, else h = 0's negative
                nrm, c = -nrm, -c
            if np.any(nrm != 0):
                chord = (nrm, c)
                edges = np.delete(edges, g)
    T = len(edges)
    pts = np.empty((T, 3, 2))
    pts[:, 0] = 0.0
    pts[:, 1] = V[edges]
    pts[:, 2] = V[nxt[edges]]
    off = np.arange(T + 1, dtype=np.int64) * 3
    return pts.reshape(-1, 2), off, chord


def _compact(pts, off, bits):
    """Drop polygons with fewer than 3 vertices."""
    cnt = np.diff(off)
    keep = cnt >= 3
    if keep.all():
        return pts, off, bits
    gid = np.repeat(np.arange(len(cnt)), cnt)
    pts = pts[keep[gid]]
    cnt = cnt[keep]
    off = np.zeros(len(cnt) + 1, dtype=np.int64)
    np.cumsum(cnt, out=off[1:])
    return pts, off, bits[keep]


def _select(pts, off, mask):
    """The polygons of a flat batch where mask is True."""
    cnt = np.diff(off)
    gid = np.repeat(np.arange(len(cnt)), cnt)
    c = cnt[mask]
    o = np.zeros(len(c) + 1, dtype=np.int64)
    np.cumsum(c, out=o[1:])
    return pts[mask[gid]], o


def _concat(parts):
    """Concatenate flat batches [(pts, off, bits), ...]."""
    pts = np.concatenate([p for p, _, _ in parts])
    offs = [np.zeros(1, dtype=np.int64)]
    base = 0
    for _, o, _ in parts:
        offs.append(o[1:] + base)
        base += int(o[-1])
    return pts, np.concatenate(offs), np.concatenate([b for _, _, b in parts]).astype(np.uint8)


def split_cells(pts: np.ndarray, off: np.ndarray, bits: np.ndarray, a: np.ndarray, c: float,
                bit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split every convex cell by the line a.h + c = 0: the part where a.h + c > 0 gets ``bit``.

    Only the cells the line crosses are clipped (a sliver line crosses few of
    the fan's triangles); cells wholly on one side keep their vertices.
    """
    G = len(off) - 1
    if G == 0:
        return pts, off, bits
    s = pts @ np.asarray(a, dtype=np.float64) + float(c)
    smin = np.minimum.reduceat(s, off[:-1])
    smax = np.maximum.reduceat(s, off[:-1])
    pos = smin > 0
    cross = (smin <= 0) & (smax > 0)
    bits = np.where(pos, bits | bit, bits).astype(np.uint8)
    if not cross.any():
        return pts, off, bits
    keep_pts, keep_off = _select(pts, off, ~cross)
    cp, co = _select(pts, off, cross)
    cb = bits[cross]
    Gc = len(co) - 1
    Ag = np.tile(np.asarray(a, dtype=np.float64), (Gc, 1))
    cg = np.full(Gc, float(c))
    p_pts, p_off = geo.clip_flat(cp, co, Ag, cg, strict=True)
    n_pts, n_off = geo.clip_flat(cp, co, -Ag, -cg, strict=False)
    p = _compact(p_pts, p_off, (cb | bit).astype(np.uint8))
    q = _compact(n_pts, n_off, cb.copy())
    return _concat([(keep_pts, keep_off, bits[~cross]), p, q])


def sign_cells(V: np.ndarray, A3: np.ndarray, b3: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The latent shape cut into convex cells of constant sign of p_a(h) = A3[a].h + b3[a].

    V: (N, 2) shape vertices in angular order. Returns (pts (P, 2), offsets
    (G+1,), bits (G,) uint8) where bit s of bits[g] is set when p_{triple[s]} > 0
    on cell g (strictly, in its interior). Every cell is a convex polygon.
    """
    pts, off, chord = _fan(V)
    G = len(off) - 1
    if chord is not None and G:
        pts, off = geo.clip_flat(pts, off, np.tile(chord[0], (G, 1)), np.full(G, chord[1]), strict=False)
    bits = np.zeros(len(off) - 1, dtype=np.uint8)
    pts, off, bits = _compact(pts, off, bits)
    keys = {(float(A3[s, 0]), float(A3[s, 1]), float(b3[s])) for s in range(3)}
    if chord is None and len(keys) == 3 and len(off) > 1:
        # all cells are the fan's triangles: those no line crosses get their bits at once,
        # only the crossed ones (a few, near the sliver lines) go through the clipping
        T = pts.reshape(-1, 3, 2)
        P = T @ np.asarray(A3, dtype=np.float64).T + np.asarray(b3, dtype=np.float64)  # (G, 3 vertices, 3 axes)
        pos = (P > 0).all(axis=1)
        non = (P <= 0).all(axis=1)
        crossed = ~(pos | non).all(axis=1)
        ubits = (pos @ np.array([1, 2, 4])).astype(np.uint8)
        keep = ~crossed
        upts = T[keep].reshape(-1, 2)
        uoff = np.arange(int(keep.sum()) + 1, dtype=np.int64) * 3
        if not crossed.any():
            return upts, uoff, ubits[keep]
        cpts = T[crossed].reshape(-1, 2)
        coff = np.arange(int(crossed.sum()) + 1, dtype=np.int64) * 3
        cbits = np.zeros(len(coff) - 1, dtype=np.uint8)
        for s in range(3):
            cpts, coff, cbits = split_cells(cpts, coff, cbits, A3[s], float(b3[s]), 1 << s)
        return _concat([(upts, uoff, ubits[keep]), (cpts, coff, cbits)])
    seen = {}
    for s in range(3):
        key = (float(A3[s, 0]), float(A3[s, 1]), float(b3[s]))
        if key in seen:  # a repeated axis (n < 3): same split, same bit as before
            bits = np.where(bits & (1 << seen[key]), bits | (1 << s), bits).astype(np.uint8)
            continue
        seen[key] = s
        pts, off, bits = split_cells(pts, off, bits, A3[s], float(b3[s]), 1 << s)
    return pts, off, bits


def cell_areas(pts: np.ndarray, off: np.ndarray) -> np.ndarray:
    """(G,) areas of the convex cells of a flat batch."""
    G = len(off) - 1
    if G == 0:
        return np.zeros(0)
    cnt = np.diff(off)
    gid = np.repeat(np.arange(G), cnt)
    nxt = np.arange(pts.shape[0]) + 1
    nxt[off[1:] - 1] = off[:-1]
    cr = pts[:, 0] * pts[nxt, 1] - pts[:, 1] * pts[nxt, 0]
    return 0.5 * np.abs(np.bincount(gid, weights=cr, minlength=G))


def fan_faces(off: np.ndarray) -> np.ndarray:
    """(F, 3) uint32 triangles of every convex polygon of a flat batch (fan from its first vertex)."""
    cnt = np.diff(off)
    nt = np.maximum(cnt - 2, 0)
    T = int(nt.sum())
    if T == 0:
        return np.zeros((0, 3), dtype=np.uint32)
    g = np.repeat(np.arange(len(cnt)), nt)
    st = np.zeros(len(cnt), dtype=np.int64)
    np.cumsum(nt[:-1], out=st[1:])
    t = np.arange(T) - st[g] + 1
    base = off[:-1][g]
    return np.stack([base, base + t, base + t + 1], axis=1).astype(np.uint32)


# ----------------------------------------------------------------------------
# small geometry helpers

def cone_mesh(tips: np.ndarray, dirs: np.ndarray, length: ArrayLike, radius: ArrayLike,
              segments: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Arrowheads: k cones with the given tips, axis directions (towards the tip), length, radius.

    Returns (vertices (k * (segments + 2), 3), faces (k * 2 * segments, 3) uint32).
    Zero directions give degenerate (invisible) cones.
    """
    tips = np.asarray(tips, dtype=np.float64).reshape(-1, 3)
    dirs = np.asarray(dirs, dtype=np.float64).reshape(-1, 3)
    k = tips.shape[0]
    L = np.broadcast_to(np.asarray(length, dtype=np.float64), (k,))
    R = np.broadcast_to(np.asarray(radius, dtype=np.float64), (k,))
    nrm = np.linalg.norm(dirs, axis=1)
    u = np.where(nrm[:, None] > 0, dirs / np.where(nrm > 0, nrm, 1.0)[:, None], 0.0)
    # two unit vectors perpendicular to u
    ref = np.where(np.abs(u[:, 2:3]) < 0.9, np.array([[0.0, 0.0, 1.0]]), np.array([[1.0, 0.0, 0.0]]))
    p = _cross(u, ref)
    pn = np.linalg.norm(p, axis=1)
    p = np.where(pn[:, None] > 0, p / np.where(pn > 0, pn, 1.0)[:, None], 0.0)
    q = _cross(u, p)
    cos_a, sin_a, f1 = _cone_template(int(segments))
    base = tips - L[:, None] * u
    ring = (base[:, None, :] + R[:, None, None] * (cos_a[None, :, None] * p[:, None, :]
                                                   + sin_a[None, :, None] * q[:, None, :]))
    verts = np.concatenate([tips[:, None, :], base[:, None, :], ring], axis=1)  # (k, S+2, 3)
    faces = (f1[None, :, :] + (np.arange(k) * (segments + 2))[:, None, None]).reshape(-1, 3)
    return verts.reshape(-1, 3), faces.astype(np.uint32)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross products of (k, 3) arrays, as np.cross computes them (the same products and
    differences, without its axis handling: this runs for every arrowhead of every frame)."""
    return np.stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
                     a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                     a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]], axis=1)


@functools.lru_cache(maxsize=8)
def _cone_template(segments: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cos, sin) of the ring's angles and the (2S, 3) faces of one cone (tip 0, base centre 1, ring 2..),
    read-only: the same for every arrowhead."""
    ang = 2 * np.pi * np.arange(segments) / segments
    s = np.arange(segments)
    s1 = (s + 1) % segments
    side = np.stack([np.zeros(segments, int), 2 + s, 2 + s1], axis=1)
    cap = np.stack([np.ones(segments, int), 2 + s1, 2 + s], axis=1)
    out = (np.cos(ang), np.sin(ang), np.concatenate([side, cap]))
    for a in out:
        a.flags.writeable = False
    return out


def project_to_pixels(mvp: np.ndarray, pts: np.ndarray, width: float,
                      height: float) -> tuple[np.ndarray, np.ndarray]:
    """(k, 2) pixel positions (x right, y down) and (k,) visibility of 3D points.

    mvp: (4, 4) row-major model-view-projection matrix (as QMatrix4x4 prints it).
    Visible: in front of the camera (w > 0).
    """
    P = np.asarray(pts, dtype=np.float64).reshape(-1, 3)
    H = np.column_stack([P, np.ones(len(P))]) @ np.asarray(mvp, dtype=np.float64).T
    w = H[:, 3]
    vis = w > 1e-12
    ws = np.where(vis, w, 1.0)
    x = (H[:, 0] / ws + 1.0) * 0.5 * width
    y = (1.0 - H[:, 1] / ws) * 0.5 * height
    return np.column_stack([x, y]), vis


def rgba01(colors: np.ndarray) -> np.ndarray:
    """(n, 4) float32 0..1 from (n, 4) uint8 (or (n, 3))."""
    c = np.asarray(colors)
    if c.ndim == 2 and c.shape[1] == 3:
        c = np.column_stack([c, np.full(len(c), 255)])
    c = c.astype(np.float32)
    return c / 255.0 if c.size and c.max() > 1.0 else c


def darker(c: ArrayLike, f: float = 0.7) -> tuple[float, float, float, float]:
    c = np.asarray(c, dtype=np.float64).ravel()
    return (float(c[0] * f), float(c[1] * f), float(c[2] * f), 1.0)


# ----------------------------------------------------------------------------
# the scene

@dataclass
class Label:
    """Text at a 3D position (GL coordinates); ``kind``: axis, bias, tilt, vertex."""

    pos: np.ndarray
    text: str
    color: tuple[float, float, float, float]
    kind: str = ""
    bold: bool = False
    #: where the thing labelled starts (an axis: the origin); a label whose point leaves the picture
    #: slides back along base -> pos to where that line leaves it (``slide_into_view``)
    base: np.ndarray | None = None


@dataclass
class Scene:
    """Every array the 3D view draws (float32 positions in GL coordinates, RGBA 0..1 colours).

    Line sets are (2K, 3) segment endpoints ('lines' mode) with (2K, 4) colours.
    """

    n: int
    triple: Triple
    enlarge: np.ndarray                     # (3,)
    # latent shape, cut into sign cells
    cells_h: np.ndarray                     # (P, 2) cell vertices in h-space
    cells_off: np.ndarray                   # (G+1,)
    cells_bits: np.ndarray                  # (G,) uint8: bit s set where p_triple[s] > 0
    mesh_pos: np.ndarray                    # (P, 3) float32 (after ReLU when settings.after_relu)
    mesh_faces: np.ndarray                  # (F, 3) uint32
    mesh_colors: np.ndarray                 # (P, 4) float32
    outline: np.ndarray                     # (2N, 3) segments of the shape's outline
    outline_color: tuple[float, float, float, float]
    shape3: np.ndarray                      # (N, 3) shape vertices p(W_order[t]) in GL coordinates
    order: np.ndarray                       # (N,) features in angular order
    # vertices p(W_t), feature order
    vertex_pos: np.ndarray                  # (n, 3)
    vertex_colors: np.ndarray               # (n, 4)
    vertex_shown: np.ndarray                # (K,) feature indices drawn as points
    spokes: np.ndarray                      # (2K, 3) p(0) -> p(W_t): the feature wheel on the plane (n <= SPOKE_MAX)
    spoke_colors: np.ndarray                # (2K, 4)
    # bias offset
    bias: np.ndarray                        # (3,) (b_i, b_j, b_k), not enlarged
    bias_tip: np.ndarray                    # (3,) GL coordinates
    bias_lines: np.ndarray                  # (2, 3) the arrow's shaft, origin -> tip
    drop_lines: np.ndarray                  # (6, 3) tip -> (b_i, 0, 0), (0, b_j, 0), (0, 0, b_k)
    # tilt
    tilt: np.ndarray                        # (3, 2) D_a on the plane (h-space gradient of p_a)
    tilt_mag: np.ndarray                    # (3,) |D_a|
    flat: np.ndarray                        # (3,) bool
    tilt_lines: np.ndarray                  # (2K, 3)
    tilt_line_colors: np.ndarray            # (2K, 4)
    # arrowheads (bias and tilt)
    head_pos: np.ndarray                    # (H, 3)
    head_faces: np.ndarray                  # (F, 3) uint32
    head_colors: np.ndarray                 # (H, 4)
    # axes and cube
    axes_pos: np.ndarray                    # (6, 3) positive half-axes
    axes_colors: np.ndarray                 # (6, 4)
    axes_neg: np.ndarray                    # (6, 3) negative half-axes
    axis_len: np.ndarray                    # (3,) positive lengths (GL units)
    cube: np.ndarray                        # (24, 3) or (0, 3)
    # after ReLU
    relu_pos: np.ndarray                    # (n, 3) ReLU(p(W_t)) (only when after_relu, else (0, 3))
    relu_lines: np.ndarray                  # (2n, 3) vertex -> image
    labels: list[Label]
    center: np.ndarray                      # (3,) middle of the drawn content
    radius: float                           # half-diagonal of its bounding box
    fit_points: np.ndarray                  # (K, 3) what a camera preset frames
    normal: np.ndarray                      # (3,) unit normal of the plane in GL coordinates (0 if degenerate)
    plane: str                              # description of the plane (m != 2), '' for m = 2
    info: dict = field(default_factory=dict)
    #: (K, 3) the filled shape's outline where it is drawn flat (not after ReLU), else (0, 3): labels
    #: are kept off it (``place_labels(areas=)``), the bias label, whose point is on it, most of all
    label_area: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    #: after ReLU (show_relu_surface): (2K, 3) bars, the pieces of the shape folded onto a line, and colours
    relu_bars: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    relu_bar_colors: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))

    def label_obstacles(self) -> np.ndarray:
        """(2S, 3) segments a label should not be written across: the axes, the bias arrow and
        the tilt vectors (a label placed over its own arrow read as struck through)."""
        return np.concatenate([self.axes_pos, self.axes_neg, self.bias_lines, self.tilt_lines]).astype(np.float64)


def _segments(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(k, 3), (k, 3) -> (2k, 3) interleaved segment endpoints."""
    out = np.empty((2 * len(a), 3), dtype=np.float32)
    out[0::2] = a
    out[1::2] = b
    return out


def fmt(v: float) -> str:
    """A number for a label: 3 significant digits, exponent outside [1e-3, 1000)."""
    v = float(v)
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    a = abs(v)
    if a >= 1000 or a < 1e-3:
        return f"{v:.2e}"
    return f"{v:.3g}"


#: A flat axis is enlarged until its offset is this fraction of the largest coordinate on the shape.
AUTO_ENLARGE_TARGET = 0.4
AUTO_ENLARGE_STEPS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
#: An axis is flat when its spread over the shape is below this fraction of the largest coordinate.
FLAT_REL = 1e-3


def auto_enlarge_factors(A3: ArrayLike, b3: ArrayLike, V: ArrayLike,
                         user: Sequence[float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """(3,) factors for the axes of a triple: for a flat axis (its p spreads by < FLAT_REL of the
    largest |p| on the shape V) with user factor 1 and an offset below AUTO_ENLARGE_TARGET of that
    largest |p|, the largest of 1, 2, 5, 10, 20, 50, 100 that keeps the offset within the target;
    1 otherwise."""
    A3 = np.asarray(A3, dtype=np.float64)
    b3 = np.asarray(b3, dtype=np.float64)
    out = np.ones(3)
    V = np.asarray(V, dtype=np.float64).reshape(-1, 2)
    if V.shape[0] == 0:
        return out
    P = V @ A3.T + b3  # (N, 3)
    R = float(np.max(np.abs(P)))
    if R <= 0:
        return out
    spread = P.max(axis=0) - P.min(axis=0)
    for s in range(3):
        off = abs(float(b3[s]))
        if user[s] != 1.0 or spread[s] > FLAT_REL * R or off <= 0 or off >= AUTO_ENLARGE_TARGET * R:
            continue
        want = AUTO_ENLARGE_TARGET * R / off
        out[s] = max(f for f in AUTO_ENLARGE_STEPS if f <= want)
    return out


@dataclass
class _Frame:
    """Where the plane lands in GL coordinates: p_triple(h) = A3 h + b3, scaled by E per axis."""

    tri: Triple
    ti: np.ndarray          # (3,) int64
    A3: np.ndarray          # (3, 2)
    b3: np.ndarray          # (3,)
    E: np.ndarray           # (3,) enlarge factors in force
    col: np.ndarray         # (n, 4) feature colours, RGBA 0..1

    def to_gl(self, h) -> np.ndarray:
        """h (k, 2) -> (k, 3) GL coordinates."""
        return (np.asarray(h, dtype=np.float64).reshape(-1, 2) @ self.A3.T + self.b3) * self.E

    @property
    def tip(self) -> np.ndarray:
        """p(0) = b on the triple, in GL coordinates: the bias arrow's tip and the spokes' hub."""
        return self.b3 * self.E


def _frame(snap: Snapshot, settings: PlaneSettings, colors: np.ndarray | None, W2, D2, V=None) -> _Frame:
    """The triple's frame; ``V``: the shape's vertices (shape_polygon(W2)[0]) when the caller has them."""
    n = snap.n
    tri = check_triple(settings.triple, n)
    ti = np.array(tri, dtype=np.int64)
    E = np.asarray(settings.enlarge, dtype=np.float64)
    if colors is None:
        from resources import palette  # pure numpy module

        colors = palette.feature_colors(n, geo.angles(W2))
    col = rgba01(colors)
    if col.shape != (n, 4):
        raise ValueError(f"colors must be (n, 4) = ({n}, 4), got {col.shape}")
    A3 = D2[ti]
    b3 = snap.b[ti]
    if settings.auto_enlarge:
        E = E * auto_enlarge_factors(A3, b3, shape_polygon(W2)[0] if V is None else V, tuple(settings.enlarge))
    return _Frame(tri, ti, A3, b3, E, col)


def _cell_colors(fr: _Frame, bits: np.ndarray, cnt: np.ndarray, slivers: bool) -> np.ndarray:
    """(P, 4) colour of each cell vertex: neutral, or the mean colour of the axes that fire on the cell."""
    G = len(cnt)
    ccol = np.tile(np.array(NEUTRAL, dtype=np.float32), (G, 1))
    if slivers and G:
        m = np.stack([(bits >> s) & 1 for s in range(3)], axis=1).astype(np.float32)  # (G, 3)
        k = m.sum(axis=1)
        fire = k > 0
        mix = (m @ fr.col[fr.ti, :3]) / np.maximum(k, 1)[:, None]
        ccol[fire, :3] = mix[fire]
        ccol[fire, 3] = SLIVER_ALPHA
    return np.repeat(ccol, cnt, axis=0).astype(np.float32)


def _spokes(fr: _Frame, vertex_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The feature wheel on the plane, p(0) = b -> p(W_t) for the features off the triple (n <= SPOKE_MAX)."""
    n = vertex_pos.shape[0]
    if n > SPOKE_MAX:
        return np.zeros((0, 3), np.float32), np.zeros((0, 4), np.float32)
    others = np.array([t for t in range(n) if t not in fr.tri], dtype=np.int64)
    spokes = _segments(np.tile(fr.tip, (len(others), 1)), vertex_pos[others])
    sc_ = fr.col[others].copy()
    sc_[:, 3] = SPOKE_ALPHA
    return spokes, np.repeat(sc_, 2, axis=0)


def _tilted_axes(fr: _Frame, flat: np.ndarray) -> list[int]:
    """The positions s of the triple that get a tilt arrow: not flat, and not a repeat of an earlier axis."""
    tri = fr.tri
    return [s for s in range(3) if not (flat[s] or (s > 0 and tri[s] in tri[:s]))]


def _tilt(fr: _Frame, snap: Snapshot):
    """|D_a|, the flat axes, and the tilt arrows p(0) -> p(D_a) (starts, ends, colours)."""
    nr_all = geo.norms(snap.W)
    big = float(nr_all.max()) if snap.n else 0.0
    tmag = np.hypot(fr.A3[:, 0], fr.A3[:, 1])
    flat = tmag <= max(FLAT_ABS, FLAT_REL * big)
    starts, ends, tcols = [], [], []
    for s in _tilted_axes(fr, flat):
        starts.append(fr.tip)
        ends.append(fr.to_gl(fr.A3[s][None, :])[0])
        tcols.append(darker(fr.col[fr.tri[s]], 0.85))
    return tmag, flat, starts, ends, tcols


@dataclass
class _Extent:
    """The box of the drawn content and the axes sized from it."""

    lo: np.ndarray
    hi: np.ndarray
    span: float
    axis_len: np.ndarray    # (3,)
    axis_neg: np.ndarray    # (3,)
    ax: np.ndarray          # (6, 3) positive half-axes as segments
    axn: np.ndarray         # (6, 3) negative half-axes


def _extent(fr: _Frame, shape3: np.ndarray, settings: PlaneSettings) -> _Extent:
    """The content's box (shape, bias tip, origin, cube, folded shape) and the axes reaching past it."""
    content = [shape3, fr.tip[None, :], np.zeros((1, 3))]
    cube_hi = fr.E.copy() if settings.show_cube else np.zeros(3)
    content.append(cube_hi[None, :])
    if settings.after_relu:
        content.append(np.maximum(shape3, 0))
    allp = np.concatenate([c.reshape(-1, 3) for c in content])
    lo = allp.min(axis=0)
    hi = allp.max(axis=0)
    span = float(np.max(hi - lo)) if allp.size else 1.0
    span = span if span > 0 else 1.0
    axis_len = np.maximum(hi, 0.0) + 0.18 * span
    axis_neg = np.minimum(lo, 0.0) - 0.08 * span
    ax = np.zeros((6, 3))
    axn = np.zeros((6, 3))
    for s in range(3):
        ax[2 * s + 1, s] = axis_len[s]
        axn[2 * s + 1, s] = axis_neg[s]
    return _Extent(lo, hi, span, axis_len, axis_neg, ax, axn)


def _add_head(heads: list[list], tip: np.ndarray, d: np.ndarray, color, hl: float) -> None:
    """Append an arrowhead at tip along d (none for a zero-length arrow), at most 0.45 of the arrow long."""
    L = float(np.linalg.norm(d))
    if L > 0:
        heads.append([tip, d, color, min(hl, 0.45 * L)])


def _heads(fr: _Frame, ext: _Extent, axes_colors: np.ndarray, tilt_arrows, settings: PlaneSettings):
    """Arrowheads of the bias, the tilt arrows and the positive axes, scaled with the scene: (vertices,
    faces, colours)."""
    hl = 0.035 * ext.span
    heads: list[list] = []
    if settings.show_bias:
        _add_head(heads, fr.tip, fr.tip, BIAS, hl)  # the bias arrow starts at the origin
    if settings.show_tilt:
        for s0, e0, c0 in zip(*tilt_arrows, strict=True):
            _add_head(heads, e0, e0 - s0, c0, hl)
    for s in range(3):  # the positive end of each axis
        e0 = ext.ax[2 * s + 1]
        heads.append([e0, e0, tuple(axes_colors[2 * s]), 0.8 * hl])
    tips, dirs, cols, lens = zip(*heads, strict=True)
    hv, hf = cone_mesh(np.array(tips), np.array(dirs), np.array(lens), 0.32 * np.array(lens))
    per = hv.shape[0] // max(len(heads), 1)
    return hv, hf, np.repeat(np.array(cols, dtype=np.float32).reshape(-1, 4), per, axis=0)


def _cube(E: np.ndarray, show: bool) -> np.ndarray:
    """The 12 edges of the unit ReLU hypercube (enlarged), as segments."""
    if not show:
        return np.zeros((0, 3), np.float32)
    c8 = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=np.float64) * E
    ed = [(a, b_) for a in range(8) for b_ in range(a + 1, 8) if bin(a ^ b_).count("1") == 1]
    return _segments(c8[[a for a, _ in ed]], c8[[b_ for _, b_ in ed]])


def _after_relu(vertex_pos: np.ndarray, on: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each vertex's image ReLU(p(W_t)) and a line to it from every vertex that moves."""
    if not on:
        return np.zeros((0, 3)), np.zeros((0, 3), np.float32)
    relu_pos = np.maximum(vertex_pos, 0.0)
    moved = np.any(relu_pos != vertex_pos, axis=1)
    return relu_pos, _segments(vertex_pos[moved], relu_pos[moved])


def _normal(fr: _Frame) -> np.ndarray:
    """Unit normal of the plane in GL coordinates (the cross product of its two directions), 0 if degenerate."""
    c1, c2 = fr.A3[:, 0] * fr.E, fr.A3[:, 1] * fr.E
    nv = np.cross(c1, c2)
    nn = float(np.linalg.norm(nv))
    return nv / nn if nn > 1e-12 * max(float(np.linalg.norm(c1) * np.linalg.norm(c2)), 1e-300) else np.zeros(3)


def _labels(fr: _Frame, ext: _Extent, tmag, flat, dead_set, vertex_pos, settings: PlaneSettings) -> list[Label]:
    """The axes' feature numbers (with enlarge factor, flat or dead), the bias, the tilts, the vertices."""
    if not settings.show_labels:
        return []
    tri, E, col = fr.tri, fr.E, fr.col
    labels: list[Label] = []
    for s in range(3):
        t = tri[s]
        txt = f"{t + 1}" + (f" (×{E[s]:g})" if E[s] != 1 else "")
        if flat[s]:
            txt += f"  flat: |W{t + 1}| = {fmt(tmag[s])}"
        elif t in dead_set:
            txt += f"  dead, nearly flat: |W{t + 1}| = {fmt(tmag[s])}"
        apos = ext.ax[2 * s + 1].copy()
        apos[s] += 0.04 * ext.span
        labels.append(Label(apos, txt, darker(col[t], 0.75), "axis", True, base=np.zeros(3)))
    if settings.show_bias:
        labels.append(Label(fr.tip.copy(), "b = (" + ", ".join(fmt(v) for v in fr.b3) + ")", BIAS, "bias"))
    if settings.show_tilt:
        for s in _tilted_axes(fr, flat):
            t = tri[s]
            labels.append(Label(fr.to_gl(fr.A3[s][None, :])[0], f"|W{t + 1}| = {fmt(tmag[s])}",
                                darker(col[t], 0.7), "tilt"))
    n = vertex_pos.shape[0]
    if n <= VERTEX_LABEL_MAX and settings.show_vertices:
        for t in range(n):
            if t not in tri:
                labels.append(Label(vertex_pos[t].copy(), str(t + 1), darker(col[t], 0.7), "vertex"))
    return labels


#: Fit frames the shape: the axes, the cube and the axis labels' room count only up to this share of the
#: shape's span beyond the shape's box, so an axis enlarged x5 (and its cube) cannot shrink the shape into
#: a corner of the picture; where they end within that reach (nothing enlarged) they are framed whole.
FIT_REACH = 0.25


def _fit_points(fr: _Frame, ext: _Extent, shape3: np.ndarray, cube: np.ndarray, after_relu: bool = False) -> np.ndarray:
    """What the camera frames: the shape (subsampled; folded too, after ReLU), the origin and the bias
    tip in full; the axes, their labels' room and the cube clipped to FIT_REACH of that core's span."""
    N = shape3.shape[0]
    sub = shape3 if N <= 4000 else shape3[:: int(math.ceil(N / 4000))]
    core = [sub, fr.tip[None, :], np.zeros((1, 3))]
    if after_relu:
        core.append(np.maximum(sub, 0.0))
    core3 = np.concatenate(core)
    ends = ext.ax[1::2].copy()
    ends[[0, 1, 2], [0, 1, 2]] += 0.06 * ext.span  # room for the axis labels
    return np.concatenate([core3, clip_to_reach(core3, np.concatenate([ext.ax, ext.axn, ends, cube.reshape(-1, 3)]))])


def clip_to_reach(core: ArrayLike, extra: ArrayLike, reach: float = FIT_REACH) -> np.ndarray:
    """``extra`` (k, 3) clamped, coordinate by coordinate, into the box of ``core`` (N, 3) grown by
    ``reach`` times the box's largest side on every side. A point on an axis stays on it (the core
    holds the origin, so the other coordinates, 0, are inside)."""
    C = np.asarray(core, dtype=np.float64).reshape(-1, 3)
    X = np.asarray(extra, dtype=np.float64).reshape(-1, 3)
    if C.shape[0] == 0:
        return X
    lo, hi = C.min(axis=0), C.max(axis=0)
    span = float(np.max(hi - lo))
    pad = reach * (span if span > 0 else 1.0)
    return np.clip(X, lo - pad, hi + pad)


def build_scene(snap: Snapshot, settings: PlaneSettings, colors: np.ndarray | None = None,
                dead: Sequence[int] | None = None) -> Scene:
    """All arrays of the 3D view for (snapshot, settings, feature colours (n, 4) uint8).

    ``dead``: 0-based dead features (model.analysis.analysis.Analysis.dead); a dead axis
    of the triple whose tilt is not exactly flat is labelled "dead, nearly flat".
    """
    n = snap.n
    W2, D2, desc = plane_of(snap)
    V, order = shape_polygon(W2)
    fr = _frame(snap, settings, colors, W2, D2, V)
    tri, E, tip = fr.tri, fr.E, fr.tip

    # the latent shape and its sign cells
    pts, off, bits = sign_cells(V, fr.A3, fr.b3)
    P3 = fr.to_gl(pts)
    if settings.after_relu:
        P3 = np.maximum(P3, 0.0)

    # outline and vertices
    shape3 = fr.to_gl(V)
    N = shape3.shape[0]
    outline = _segments(shape3, np.roll(shape3, -1, axis=0)) if N >= 2 else np.zeros((0, 3), np.float32)
    vertex_pos = np.empty((n, 3))
    vertex_pos[order] = shape3
    shown = np.arange(n) if n <= POINT_MAX else np.union1d(order[::int(math.ceil(n / POINT_MAX))], fr.ti)
    spokes, spoke_colors = _spokes(fr, vertex_pos)

    # bias: the arrow from the origin and the drop lines to the axes
    foot = np.zeros((3, 3))
    foot[[0, 1, 2], [0, 1, 2]] = tip
    tmag, flat, *tilt_arrows = _tilt(fr, snap)
    starts, ends, tcols = tilt_arrows
    ext = _extent(fr, shape3, settings)
    axes_colors = np.repeat(np.array([darker(fr.col[t], 0.9) for t in tri], dtype=np.float32), 2, axis=0)
    hv, hf, head_colors = _heads(fr, ext, axes_colors, tilt_arrows, settings)
    cube = _cube(E, settings.show_cube)
    relu_pos, relu_lines = _after_relu(vertex_pos, settings.after_relu)
    dead_set = set(int(d) for d in (dead or ()))

    areas = cell_areas(pts, off)
    mesh_colors = _cell_colors(fr, bits, np.diff(off), settings.show_slivers)
    if settings.after_relu and settings.show_relu_surface:
        mesh_colors = shade_folded(P3, off, mesh_colors)
    radius = float(0.5 * np.linalg.norm(np.maximum(ext.axis_len, ext.hi) - np.minimum(ext.axis_neg, ext.lo)))
    info = {
        "triple": tri,
        "bias": fr.b3.copy(),
        "tilt": tmag.copy(),
        "flat": flat.copy(),
        "dead": np.array([t in dead_set for t in tri]),
        "sliver_area": np.array([float(areas[((bits >> s) & 1).astype(bool)].sum()) for s in range(3)]),
        "shape_area": float(areas.sum()),
    }
    return Scene(
        n=n, triple=tri, enlarge=E,
        cells_h=pts, cells_off=off, cells_bits=bits,
        mesh_pos=P3.astype(np.float32), mesh_faces=fan_faces(off),
        mesh_colors=mesh_colors,
        outline=outline, outline_color=GHOST if settings.after_relu else OUTLINE,
        shape3=shape3.astype(np.float32), order=order,
        vertex_pos=vertex_pos.astype(np.float32), vertex_colors=fr.col, vertex_shown=shown,
        spokes=spokes, spoke_colors=spoke_colors,
        bias=fr.b3.copy(), bias_tip=tip, bias_lines=_segments(np.zeros((1, 3)), tip[None, :]),
        drop_lines=_segments(np.tile(tip, (3, 1)), foot),
        tilt=fr.A3.copy(), tilt_mag=tmag, flat=flat,
        tilt_lines=_segments(np.array(starts).reshape(-1, 3), np.array(ends).reshape(-1, 3)),
        tilt_line_colors=np.repeat(np.array(tcols, dtype=np.float32).reshape(-1, 4), 2, axis=0),
        head_pos=hv.astype(np.float32), head_faces=hf, head_colors=head_colors,
        axes_pos=ext.ax.astype(np.float32), axes_colors=axes_colors, axes_neg=ext.axn.astype(np.float32),
        axis_len=ext.axis_len, cube=cube,
        relu_pos=relu_pos.astype(np.float32), relu_lines=relu_lines,
        labels=_labels(fr, ext, tmag, flat, dead_set, vertex_pos, settings),
        fit_points=_fit_points(fr, ext, shape3, cube, settings.after_relu), center=0.5 * (ext.lo + ext.hi),
        radius=max(radius, 1e-6), normal=_normal(fr), plane="" if snap.m == 2 else desc, info=info,
        label_area=_label_area(shape3, settings),
        **_relu_surface(P3, off, bits, fr.col[fr.ti], settings),
    )


def _label_area(shape3: np.ndarray, settings: PlaneSettings) -> np.ndarray:
    """The outline of the filled shape labels keep off (every k-th vertex beyond AREA_MAX_VERTICES), or
    none when the shape is not drawn filled and flat (hidden, or folded after ReLU)."""
    if not settings.show_shape or settings.after_relu or shape3.shape[0] < 3:
        return np.zeros((0, 3))
    N = shape3.shape[0]
    return np.asarray(shape3[:: int(math.ceil(N / AREA_MAX_VERTICES))], dtype=np.float64)


# ----------------------------------------------------------------------------
# the camera

ISO = (22.0, 35.0)  # (elevation, azimuth) degrees: the camera above the positive x-y quadrant
FOV = 60.0           # pyqtgraph's horizontal field of view


def camera_direction(elevation: float, azimuth: float) -> np.ndarray:
    """Unit vector from the centre towards the camera (pyqtgraph's euler convention)."""
    el, az = math.radians(elevation), math.radians(azimuth)
    return np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])


def direction_angles(d: ArrayLike) -> tuple[float, float]:
    """(elevation, azimuth) degrees of a direction from the centre towards the camera."""
    d = np.asarray(d, dtype=np.float64)
    d = d / np.linalg.norm(d)
    el = math.degrees(math.asin(max(-1.0, min(1.0, float(d[2])))))
    az = math.degrees(math.atan2(float(d[1]), float(d[0]))) if abs(d[2]) < 1 - 1e-12 else -90.0
    return el, az


def underside_direction(scene: Scene) -> np.ndarray:
    """Direction towards a camera under the plane, looking up at it along its normal.

    "Under" is the side away from the positive octant: the normal is oriented
    so that it points towards (1, 1, 1), and the camera sits on the other side.
    A degenerate plane (rank < 2 in the triple) falls back to (-1, -1, -1)/sqrt 3.
    """
    nv = np.asarray(scene.normal, dtype=np.float64)
    if not np.any(nv):
        return -np.ones(3) / math.sqrt(3)
    s = float(nv.sum())
    if s < 0 or (s == 0 and nv[2] < 0):
        nv = -nv
    return -nv


def camera_basis(elevation: float, azimuth: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(d, r, u): towards the camera, screen right, screen up (pyqtgraph's euler camera, z up)."""
    d = camera_direction(elevation, azimuth)
    az = math.radians(azimuth)
    r = np.array([-math.sin(az), math.cos(az), 0.0])
    u = np.cross(d, r)
    return d, r, u


def fit_camera(points: ArrayLike, elevation: float, azimuth: float, aspect: float = 4 / 3, fov: float = FOV,
               margin: float = 0.85) -> tuple[np.ndarray, float]:
    """(center (3,), distance): the perspective camera looking from (elevation, azimuth) in which
    every point lies inside ``margin`` of the view, centred on their projected extent.

    aspect: width / height; fov: horizontal field of view (degrees).
    """
    P = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if P.shape[0] == 0:
        return np.zeros(3), 10.0
    d, r, u = camera_basis(elevation, azimuth)
    c = 0.5 * (P.min(axis=0) + P.max(axis=0))
    Q = P - c
    x, y = Q @ r, Q @ u
    c = c + r * 0.5 * (x.max() + x.min()) + u * 0.5 * (y.max() + y.min())
    Q = P - c
    x, y, z = Q @ r, Q @ u, Q @ d
    tx = math.tan(math.radians(0.5 * fov)) * margin
    ty = tx / max(aspect, 1e-6)
    D = float(np.max(z + np.maximum(np.abs(x) / tx, np.abs(y) / ty)))
    span = float(np.max(P.max(axis=0) - P.min(axis=0)))
    D = max(D, float(z.max()) + 0.05 * max(span, 1e-6), 1e-6)
    return c, D


#: Label placement order: earlier kinds are placed first and are never hidden.
LABEL_PRIORITY = ("axis", "bias", "tilt", "vertex")
#: Kinds that may be hidden when every candidate place overlaps a placed label.
LABEL_HIDEABLE = ("vertex",)


def _clip_span(ax: float, ay: float, dx: float, dy: float,
               x0: float, y0: float, x1: float, y1: float) -> tuple[float, float] | None:
    """Liang-Barsky: the part [t0, t1] of [0, 1] where a + t d lies in the box [x0, x1] x [y0, y1];
    None when the segment misses it."""
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)):
        if p == 0.0:
            if q < 0.0:
                return None  # parallel to this edge and outside it
            continue
        r = q / p
        if p < 0.0:
            t0 = max(t0, r)
        else:
            t1 = min(t1, r)
        if t0 > t1:
            return None
    return t0, t1


def segment_hits_box(segment: ArrayLike, x0: float, y0: float, x1: float, y1: float) -> bool:
    """Whether the segment (ax, ay, bx, by) meets the box [x0, x1] x [y0, y1] (Liang-Barsky clipping)."""
    ax, ay, bx, by = (float(v) for v in np.asarray(segment, dtype=np.float64).reshape(4))
    return _clip_span(ax, ay, bx - ax, by - ay, x0, y0, x1, y1) is not None


def slide_into_view(base: ArrayLike, tip: ArrayLike, width: float, height: float, inset: float) -> np.ndarray:
    """The pixel ``tip`` (2,), or where the segment base -> tip leaves the picture shrunk by ``inset``
    on every side when ``tip`` lies outside it (Liang-Barsky); ``tip`` when the segment never
    enters it. Keeps an axis label on screen, on its axis, when Fit leaves a long axis's end out."""
    b = np.asarray(base, dtype=np.float64).reshape(2)
    t = np.asarray(tip, dtype=np.float64).reshape(2)
    x0, y0, x1, y1 = inset, inset, width - inset, height - inset
    if x0 <= t[0] <= x1 and y0 <= t[1] <= y1:
        return t
    d = t - b
    span = _clip_span(float(b[0]), float(b[1]), float(d[0]), float(d[1]), x0, y0, x1, y1)
    return t if span is None else b + span[1] * d


#: Kinds that, when no place next to their point is clear, are moved further away (rings of
#: candidates up to LABEL_FAR_MAX of the picture's larger side) to a clear place, with a leader line.
LABEL_FAR = ("bias",)
LABEL_FAR_MAX = 0.45
#: The shape's outline as a label obstacle has at most this many vertices (every k-th beyond).
AREA_MAX_VERTICES = 128


def boxes_clear_of_polygon(poly: ArrayLike, x0: float, y0: float, x1: float, y1: float) -> bool:
    """Whether the box [x0, x1] x [y0, y1] lies wholly outside the closed polygon ``poly`` (k, 2) pixels."""
    return bool(boxes_clear_of_polygon_many(poly, np.array([[x0, y0, x1, y1]], dtype=np.float64))[0])


def boxes_clear_of_polygon_many(poly: ArrayLike, boxes: ArrayLike) -> np.ndarray:
    """(M,) whether each box (M, 4: x0, y0, x1, y1) lies wholly outside the closed polygon ``poly``
    (k, 2): no edge meets the box (Liang-Barsky, vectorised over boxes x edges) and the box's centre
    is not inside (even-odd rule). A box outside the polygon's bounding box is clear at once."""
    P = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
    B = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = np.ones(len(B), dtype=bool)
    if len(P) < 3 or len(B) == 0:
        return out
    lo, hi = P.min(axis=0), P.max(axis=0)
    near = ~((B[:, 2] < lo[0]) | (B[:, 0] > hi[0]) | (B[:, 3] < lo[1]) | (B[:, 1] > hi[1]))
    if not near.any():
        return out
    b = B[near]
    A, E = P, np.roll(P, -1, axis=0)
    d = E - A
    x0, y0, x1, y1 = (b[:, c:c + 1] for c in range(4))  # (M', 1) against (k,) edges
    t0 = np.zeros((len(b), len(P)))
    t1 = np.ones((len(b), len(P)))
    alive = np.ones_like(t0, dtype=bool)
    for p, q in ((-d[:, 0], A[:, 0] - x0), (d[:, 0], x1 - A[:, 0]), (-d[:, 1], A[:, 1] - y0), (d[:, 1], y1 - A[:, 1])):
        zero = p == 0.0
        alive &= ~(zero & (q < 0.0))
        r = q / np.where(zero, 1.0, p)
        t0 = np.where(p < 0.0, np.maximum(t0, r), t0)
        t1 = np.where(p > 0.0, np.minimum(t1, r), t1)
    hit = np.any(alive & (t0 <= t1), axis=1)
    cx, cy = 0.5 * (b[:, 0:1] + b[:, 2:3]), 0.5 * (b[:, 1:2] + b[:, 3:4])
    cross = (A[:, 1] > cy) != (E[:, 1] > cy)
    xs = A[:, 0] + (cy - A[:, 1]) * d[:, 0] / np.where(d[:, 1] == 0, 1.0, d[:, 1])
    inside = (np.count_nonzero(cross & (xs > cx), axis=1) % 2).astype(bool)
    out[near] = ~(hit | inside)
    return out


def _far_candidates(ax: float, ay: float, w: float, h: float, gap: float, width: float, height: float) -> np.ndarray:
    """(M, 2) top-left corners of a w x h box centred on rings of growing radius around (ax, ay), 16
    directions each, nearest ring first; only those wholly inside the picture."""
    step = h + gap
    radii = step * np.arange(2, max(int(LABEL_FAR_MAX * max(width, height) / step), 2) + 1)
    a = np.linspace(0.0, 2 * np.pi, 16, endpoint=False)
    x = (ax + np.outer(radii, np.cos(a))).ravel() - 0.5 * w
    y = (ay - np.outer(radii, np.sin(a))).ravel() - 0.5 * h
    inside = (x >= 2.0) & (y >= 2.0) & (x + w <= width - 2.0) & (y + h <= height - 2.0)
    return np.column_stack([x, y])[inside]


def segments_hit_boxes(segments: ArrayLike, boxes: ArrayLike) -> np.ndarray:
    """(M, S) whether each segment (S, 4: ax, ay, bx, by) meets each box (M, 4: x0, y0, x1, y1): the
    Liang-Barsky clipping of ``segment_hits_box``, vectorised over boxes x segments (same arithmetic, so
    the same answers)."""
    sg = np.asarray(segments, dtype=np.float64).reshape(-1, 4)
    B = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(sg) == 0 or len(B) == 0:
        return np.zeros((len(B), len(sg)), dtype=bool)
    ax, ay = sg[:, 0], sg[:, 1]
    dx, dy = sg[:, 2] - ax, sg[:, 3] - ay
    x0, y0, x1, y1 = (B[:, c:c + 1] for c in range(4))  # (M, 1) against (S,) segments
    t0 = np.zeros((len(B), len(sg)))
    t1 = np.ones((len(B), len(sg)))
    alive = np.ones_like(t0, dtype=bool)
    for p, q in ((-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)):
        zero = p == 0.0
        alive &= ~(zero & (q < 0.0))  # parallel to this edge and outside it
        r = q / np.where(zero, 1.0, p)
        t0 = np.where(p < 0.0, np.maximum(t0, r), t0)
        t1 = np.where(p > 0.0, np.minimum(t1, r), t1)
    return alive & (t0 <= t1)


@dataclass
class _Placing:
    """What a label's candidate places are checked against: the picture, the boxes placed so far, the
    pixel segments labels keep off and the areas (polygons) they stay outside."""

    width: float
    height: float
    segs: np.ndarray
    polys: list
    placed: list = field(default_factory=list)  # (x0, y0, x1, y1)

    def first(self, cands: ArrayLike, w: float, h: float, need_clear: bool = False):
        """(the first candidate, clamped into the picture, that is free of placed boxes, clear of the
        segments and off the areas, or None; the first free one, or None); with need_clear, only
        candidates off the areas count. Every candidate is checked at once (numpy)."""
        C = np.asarray(cands, dtype=np.float64).reshape(-1, 2)
        X = np.clip(C[:, 0], 2.0, max(self.width - w - 2.0, 2.0))  # clamped into the picture
        Y = np.clip(C[:, 1], 2.0, max(self.height - h - 2.0, 2.0))
        boxes = np.column_stack([X, Y, X + w, Y + h])
        ok = np.ones(len(C), dtype=bool)
        for pg in self.polys:
            ok &= boxes_clear_of_polygon_many(pg, boxes)
        free = np.ones(len(C), dtype=bool)
        if self.placed:
            P = np.asarray(self.placed, dtype=np.float64)
            a0, b0, a1, b1 = P[:, 0], P[:, 1], P[:, 2], P[:, 3]
            free = np.all((boxes[:, 2:3] <= a0) | (a1 <= boxes[:, 0:1]) | (boxes[:, 3:4] <= b0) | (b1 <= boxes[:, 1:2]),
                          axis=1)
        good = free & ok
        if good.any() and len(self.segs):
            idx = np.flatnonzero(good)
            good[idx] = ~segments_hit_boxes(self.segs, boxes[idx]).any(axis=1)
        fallback = None
        if not need_clear and free.any():
            j = int(np.argmax(free))
            fallback = (float(X[j]), float(Y[j]))
        if good.any():
            j = int(np.argmax(good))
            return (float(X[j]), float(Y[j])), fallback
        return None, fallback


def place_labels(anchors: ArrayLike, sizes: ArrayLike, kinds: Sequence[str], width: float, height: float,
                 gap: float = 5.0, segments: ArrayLike | None = None,
                 areas: Sequence[ArrayLike] | None = None) -> np.ndarray:
    """Top-left corners (N, 2) for text boxes of ``sizes`` (N, 2: w, h) near pixel ``anchors``
    (N, 2) so that no two boxes overlap, or NaN for a hidden label.

    Greedy, in LABEL_PRIORITY order: each label takes the first candidate place (right-above
    its point, then right-below, left-above, left-below, then one and two box heights further
    up or down) that stays inside the picture, overlaps no placed box, crosses none of the
    pixel ``segments`` (S, 4: the drawn lines, so that no label is struck through) and lies
    outside every polygon of ``areas`` (pixel (k, 2) each: the filled shape, so that no label
    is written over it); a kind in LABEL_FAR with no such place nearby tries rings further out
    (its painter draws a leader line); failing that, the first that overlaps no box. A label
    of a kind not in LABEL_HIDEABLE that finds no free place keeps its first candidate (it is
    never dropped); a hideable one is hidden. Each label's candidates are checked at once (numpy:
    this runs on every frame of a scrub).
    """
    A = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    S = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    N = len(A)
    out = np.full((N, 2), np.nan)
    rank = {k: i for i, k in enumerate(LABEL_PRIORITY)}
    order = sorted(range(N), key=lambda i: (rank.get(kinds[i], len(rank)), i))
    segs = np.zeros((0, 4)) if segments is None else np.asarray(segments, dtype=np.float64).reshape(-1, 4)
    pl = _Placing(float(width), float(height), segs,
                  [np.asarray(a, dtype=np.float64).reshape(-1, 2) for a in (areas or ())])
    if N == 0:
        return out
    # every label's near candidates at once: whether each is clear of the lines and off the areas does not
    # depend on the labels placed before it (only whether it is free does, checked in the loop)
    G = gap
    ax, ay, w, h = A[:, 0:1], A[:, 1:2], S[:, 0:1], S[:, 1:2]
    near = np.concatenate([
        ax + G, ay - G - h, ax + G, ay + G, ax - G - w, ay - G - h, ax - G - w, ay + G,
        ax + G, ay - G - h - 1 * h, ax + G, ay + G + 1 * h, ax + G, ay - G - h - 2 * h, ax + G, ay + G + 2 * h],
        axis=1).reshape(N, 8, 2)  # right-above, right-below, left-above, left-below, then further up/down
    X = np.clip(near[:, :, 0], 2.0, np.maximum(width - w - 2.0, 2.0))  # clamped into the picture
    Y = np.clip(near[:, :, 1], 2.0, np.maximum(height - h - 2.0, 2.0))
    boxes = np.stack([X, Y, X + w, Y + h], axis=2).reshape(-1, 4)
    ok = np.ones(len(boxes), dtype=bool)
    for pg in pl.polys:
        ok &= boxes_clear_of_polygon_many(pg, boxes)
    if len(segs):
        ok &= ~segments_hit_boxes(segs, boxes).any(axis=1)
    ok = ok.reshape(N, 8)
    for i in order:
        bx = boxes.reshape(N, 8, 4)[i].tolist()
        free = [all(x1 <= a0 or a1 <= x0 or y1 <= b0 or b1 <= y0 for a0, b0, a1, b1 in pl.placed)
                for x0, y0, x1, y1 in bx]
        good = [j for j in range(8) if free[j] and ok[i, j]]
        pos = (bx[good[0]][0], bx[good[0]][1]) if good else None
        if pos is None and kinds[i] in LABEL_FAR:
            far = _far_candidates(A[i, 0], A[i, 1], S[i, 0], S[i, 1], gap, width, height)
            for k in range(0, len(far), 64):  # nearest rings first: most labels find a place in the first
                pos, _ = pl.first(far[k:k + 64], S[i, 0], S[i, 1], need_clear=True)
                if pos is not None:
                    break
        if pos is None and any(free):
            j = free.index(True)  # the first place free of other labels, across a line or the shape
            pos = (bx[j][0], bx[j][1])
        if pos is None:
            if kinds[i] in LABEL_HIDEABLE:
                continue
            pos = (bx[0][0], bx[0][1])
        out[i] = pos
        pl.placed.append((pos[0], pos[1], pos[0] + S[i, 0], pos[1] + S[i, 1]))
    return out


def points_in_view(points: ArrayLike, center: ArrayLike, distance: float, elevation: float, azimuth: float,
                   aspect: float = 4 / 3, fov: float = FOV, margin: float = 0.98) -> bool:
    """Whether every point projects inside ``margin`` of the perspective view (and in front of
    the camera) of the camera at center + distance * d(elevation, azimuth)."""
    P = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if P.shape[0] == 0:
        return True
    d, r, u = camera_basis(elevation, azimuth)
    Q = P - np.asarray(center, dtype=np.float64).reshape(3)
    depth = float(distance) - Q @ d  # distance in front of the camera
    if np.any(depth <= 1e-9):
        return False
    tx = math.tan(math.radians(0.5 * fov)) * margin
    ty = tx / max(aspect, 1e-6)
    return bool(np.all(np.abs(Q @ r) <= tx * depth) and np.all(np.abs(Q @ u) <= ty * depth))


def zoom_toward(center: ArrayLike, distance: float, elevation: float, azimuth: float, x: float, y: float,
                width: float, height: float, factor: float, fov: float = FOV) -> tuple[np.ndarray, float]:
    """(center, distance) of the camera zoomed by ``factor`` (< 1: in) towards the pixel (x, y) of a
    width x height view: the camera moves along the ray through that pixel, so whatever lies under
    the cursor stays under it (the point P where the ray meets the plane through the centre facing
    the camera: centre' = P + factor (centre - P), distance' = factor distance, hence camera' =
    P + factor (camera - P)). fov: the horizontal field of view (degrees), as pyqtgraph's."""
    c = np.asarray(center, dtype=np.float64).reshape(3)
    _d, r, u = camera_basis(elevation, azimuth)
    tx = math.tan(math.radians(0.5 * fov))
    ty = tx * height / max(width, 1e-9)
    xn = 2.0 * x / max(width, 1e-9) - 1.0
    yn = 1.0 - 2.0 * y / max(height, 1e-9)
    P = c + float(distance) * (r * xn * tx + u * yn * ty)
    f = float(factor)
    return P + f * (c - P), f * float(distance)


def camera_for(preset: str, scene: Scene, aspect: float = 4 / 3) -> dict:
    """Camera parameters (elevation, azimuth, center (3,), distance) of a preset that frame the scene.

    iso: from above, between the positive x and y axes; normal: along the
    plane's normal from its underside (the feature vectors then appear as the
    seed's wheel); axis-i/j/k: looking down the positive x/y/z axis towards
    the origin. aspect: width / height of the view.
    """
    if preset not in CAMERA_PRESETS:
        raise ValueError(f"camera preset must be one of {', '.join(CAMERA_PRESETS)}, got {preset!r}")
    if preset == "iso":
        el, az = ISO
    elif preset == "normal":
        el, az = direction_angles(underside_direction(scene))
    elif preset == "axis-i":
        el, az = 0.0, 0.0
    elif preset == "axis-j":
        el, az = 0.0, 90.0
    else:
        el, az = 90.0, -90.0
    c, D = fit_camera(scene.fit_points, el, az, aspect)
    return {"elevation": el, "azimuth": az, "center": c, "distance": D}


#: The folded shape's light (GL coordinates, from above the positive octant) and its shading:
#: colour x (RELU_AMBIENT + (1 - RELU_AMBIENT) |n . light|), at alpha RELU_ALPHA.
RELU_LIGHT = np.array([0.35, 0.55, 1.0]) / np.linalg.norm([0.35, 0.55, 1.0])
RELU_AMBIENT = 0.55
RELU_ALPHA = 0.88
#: A folded cell whose area is below this share of its perimeter squared lies on a line (or a point).
FOLD_FLAT = 1e-6


def _folded_normals(P3: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((G, 3) Newell normals (twice the area, unnormalised), (G,) perimeters) of the folded cells."""
    G = len(off) - 1
    cnt = np.diff(off)
    gid = np.repeat(np.arange(G), cnt)
    nxt = np.arange(P3.shape[0]) + 1
    nxt[off[1:] - 1] = off[:-1]
    a, b = P3.astype(np.float64), P3[nxt].astype(np.float64)
    nrm = np.stack([np.bincount(gid, weights=(a[:, 1] - b[:, 1]) * (a[:, 2] + b[:, 2]), minlength=G),
                    np.bincount(gid, weights=(a[:, 2] - b[:, 2]) * (a[:, 0] + b[:, 0]), minlength=G),
                    np.bincount(gid, weights=(a[:, 0] - b[:, 0]) * (a[:, 1] + b[:, 1]), minlength=G)], axis=1)
    per = np.bincount(gid, weights=np.linalg.norm(b - a, axis=1), minlength=G)
    return nrm, per


def shade_folded(P3: np.ndarray, off: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """(P, 4) the folded cells' vertex colours lit by RELU_LIGHT (each piece of the hypercube's faces
    and of the plane gets its own shade, so the folds read), at alpha RELU_ALPHA."""
    G = len(off) - 1
    if G == 0:
        return colors
    nrm, _ = _folded_normals(P3, off)
    nn = np.linalg.norm(nrm, axis=1)
    lam = np.abs(nrm @ RELU_LIGHT) / np.where(nn > 0, nn, 1.0)
    f = np.repeat(RELU_AMBIENT + (1 - RELU_AMBIENT) * lam, np.diff(off))
    out = colors.astype(np.float32).copy()
    out[:, :3] *= f[:, None].astype(np.float32)
    out[:, 3] = RELU_ALPHA
    return out


def _relu_surface(P3: np.ndarray, off: np.ndarray, bits: np.ndarray, triple_colors: np.ndarray,
                  settings: PlaneSettings) -> dict:
    """The bars of the folded shape: each cell where some axis fires and that ReLU folds onto a line
    (a sliver onto its axis, or onto a face's edge), from one end of its image to the other, in the
    colour of its own feature: the firing axis of the triple along which the bar runs (its largest
    component; the other firing axes are flat on it), undarkened and opaque (``triple_colors``: (3, 4)
    RGBA 0..1 of the triple's features). Empty unless after_relu and show_relu_surface."""
    none = {"relu_bars": np.zeros((0, 3), np.float32), "relu_bar_colors": np.zeros((0, 4), np.float32)}
    G = len(off) - 1
    if not (settings.after_relu and settings.show_relu_surface) or G == 0:
        return none
    nrm, per = _folded_normals(P3, off)
    line = (np.linalg.norm(nrm, axis=1) <= FOLD_FLAT * per ** 2) & (bits != 0) & (per > 0)
    if not line.any():
        return none
    cnt = np.diff(off)
    gid = np.repeat(np.arange(G), cnt)
    P = P3.astype(np.float64)
    v0 = P[off[:-1]]
    d = P - v0[gid]
    dn = np.linalg.norm(d, axis=1)
    far = np.lexsort((-dn, gid))[off[:-1]]  # each cell's vertex farthest from its first
    u = d[far] / np.where(dn[far] > 0, dn[far], 1.0)[:, None]
    t = np.einsum("ij,ij->i", d, u[gid])
    tmin, tmax = np.minimum.reduceat(t, off[:-1]), np.maximum.reduceat(t, off[:-1])
    a, b = (v0 + tmin[:, None] * u)[line], (v0 + tmax[:, None] * u)[line]
    fires = ((bits[line, None] >> np.arange(3)) & 1).astype(bool)  # (L, 3)
    along = np.where(fires, np.abs(u[line]), -1.0).argmax(axis=1)  # the firing axis the bar runs along
    c = np.asarray(triple_colors, dtype=np.float32)[along].copy()
    c[:, 3] = 1.0
    return {"relu_bars": _segments(a, b), "relu_bar_colors": np.repeat(c, 2, axis=0)}
