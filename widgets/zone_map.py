"""The latent-zone map (the seed's "latent zones"): h-space, the latent shape, each
feature's zone {h : p_k(h) = W_k.h + b_k > 0} in its colour, the feature vectors.

Up to POLYGON_MAX features the zones are exact polygons (geometry.zone_polygons),
translucent so overlaps show. Above it they are a raster of the strongest
feature (argmax_k p_k(h)) in its colour, dimmed where nothing fires
(max_k p_k <= 0) and transparent outside the latent shape when clipped.
The raster is an exact upper envelope per pixel row (envelope_raster, a
numba convex-hull-trick sweep: O(rows x (n + columns)), about 10 ms at
n = 10,000 and 256 x 256), not the n x pixels product of geometry.zone_raster.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numba as nb
import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtWidgets import QWidget

from model.analysis import geometry as geo
from model.analysis.analysis_provider import SEPARATION_FULL_MAX
from model.analysis.separability import Separability
from model.snapshot import Snapshot
from views.settings import ZoneSettings

from .views2d import (
    LABEL_MAX,
    OUTLINE,
    SELECTED_LABEL_MAX,
    ColorPathsItem,
    LabelPool,
    PlotContent,
    PlotPanel,
    add_arrow_layers,
    feature_colors_for,
    fmt_num,
    label_colors,
    nice_ceil,
    plane_of,
    plane_text,
    point_segment_distance,
    polygons_xy,
    segments_xy,
    selected_of,
    set_selected_arrows,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from model.analysis.frame import Frame

#: Exact zone polygons up to this many features, the strongest-feature raster above.
POLYGON_MAX = 300
#: Arrows for every feature up to this many features; above, only selected ones.
ARROWS_MAX = 300
#: Longest side of the raster in pixels.
RASTER_RES = 256
#: Alpha of a zone polygon (translucent: two overlapping zones are visibly darker).
ZONE_ALPHA = 95
#: Raster alpha where the strongest feature fires, and where nothing fires (dimmed).
RASTER_ALPHA_ON = 200
RASTER_ALPHA_OFF = 55
#: Margin of the whole-plane box around the feature vectors (fraction of the largest coordinate).
WHOLE_PLANE_MARGIN = 0.5
#: Margin of the clipped view's box.
SHAPE_MARGIN = 0.1
#: A click within this many pixels of an arrow picks that feature.
CLICK_PX = 6.0
SHAPE_PEN = (60, 60, 60, 255)
#: Separation overlay: with nothing selected, every live feature's line or hull is drawn up to
#: this many features; above it, only the selected features' (at most SELECTED_LABEL_MAX).
SEPARATION_ALL_MAX = 24
#: The max-margin line of a separable feature (dashed, dark) and the hull of a blocked
#: feature's blockers (dashed, red); the margin itself is a thin solid segment.
SEPARATING_PEN = (25, 25, 25, 255)
BLOCKING_PEN = (205, 25, 25, 255)
#: Half-length of a drawn separating line, as a fraction of the largest |W_i|.
SEPARATING_HALF = 0.3


# ----------------------------------------------------------------------------
# pure helpers

@nb.njit(cache=True)
def _envelope_rows(sx, sy, sb, korig, xs, ys, idx_out, best_out):  # pragma: no cover - compiled
    # sx, sy, sb: slopes (A_x), A_y and b sorted by slope; korig: original indices
    n = sx.size
    stack = np.empty(n, np.int64)
    sl = np.empty(n)
    ic = np.empty(n)
    nx = xs.size
    for r in range(ys.size):
        y = ys[r]
        top = 0
        for t in range(n):
            s = sx[t]
            c = sy[t] * y + sb[t]
            if top > 0 and sl[top - 1] == s:
                if c <= ic[top - 1]:
                    continue
                top -= 1
            while top >= 2:
                s1 = sl[top - 2]
                c1 = ic[top - 2]
                if (c1 - c) * (sl[top - 1] - s1) <= (c1 - ic[top - 1]) * (s - s1):
                    top -= 1
                else:
                    break
            stack[top] = t
            sl[top] = s
            ic[top] = c
            top += 1
        j = 0
        for q in range(nx):
            x = xs[q]
            while j + 1 < top and sl[j + 1] * x + ic[j + 1] >= sl[j] * x + ic[j]:
                j += 1
            idx_out[r, q] = korig[stack[j]]
            best_out[r, q] = sl[j] * x + ic[j]


@nb.njit(cache=True)
def _compose_rgba(idx, best, inside, cols, a_on, a_off, out):  # pragma: no cover - compiled
    ny, nx = idx.shape
    for r in range(ny):
        for q in range(nx):
            k = idx[r, q]
            if k < 0 or not inside[r, q]:
                out[r, q, 0] = 0
                out[r, q, 1] = 0
                out[r, q, 2] = 0
                out[r, q, 3] = 0
                continue
            out[r, q, 0] = cols[k, 0]
            out[r, q, 1] = cols[k, 1]
            out[r, q, 2] = cols[k, 2]
            out[r, q, 3] = a_on if best[r, q] > 0 else a_off


@nb.njit(cache=True)
def _polygon_toggles(px, py, x0, dx, y0, dy, nx, ny, tog):  # pragma: no cover - compiled
    N = px.size
    for e in range(N):
        xa = px[e]
        ya = py[e]
        xb = px[(e + 1) % N]
        yb = py[(e + 1) % N]
        if ya == yb:
            continue
        ylo = min(ya, yb)
        yhi = max(ya, yb)
        r0 = int(math.ceil((ylo - y0) / dy - 0.5))
        r1 = int(math.ceil((yhi - y0) / dy - 0.5))
        if r0 < 0:
            r0 = 0
        if r1 > ny:
            r1 = ny
        for r in range(r0, r1):
            yc = y0 + (r + 0.5) * dy
            xi = xa + (yc - ya) * (xb - xa) / (yb - ya)
            c = int(math.ceil((xi - x0) / dx - 0.5))
            if c < 0:
                c = 0
            if c > nx:
                c = nx
            tog[r, c] ^= 1


def raster_shape(extent: Sequence[float], res: int = RASTER_RES) -> tuple[int, int]:
    """(nx, ny) pixels of a raster of the extent: longest side ``res``, square pixels."""
    x0, x1, y0, y1 = extent
    w, h = x1 - x0, y1 - y0
    if w >= h:
        return res, max(1, int(round(res * h / w)))
    return max(1, int(round(res * w / h))), res


def pixel_centres(extent: Sequence[float], nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    x0, x1, y0, y1 = (float(v) for v in extent)
    xs = x0 + (np.arange(nx) + 0.5) * ((x1 - x0) / nx)
    ys = y0 + (np.arange(ny) + 0.5) * ((y1 - y0) / ny)
    return xs, ys


def envelope_raster(A: np.ndarray, b: np.ndarray, extent: Sequence[float], nx: int,
                    ny: int) -> tuple[np.ndarray, np.ndarray]:
    """((ny, nx) argmax_k p_k, (ny, nx) max_k p_k) at pixel centres, p_k(h) = A_k.h + b_k.

    Rows start at ymin (geometry's raster convention). Exact per row: the upper
    envelope of the n lines x -> A_kx x + (A_ky y + b_k) (slopes sorted once),
    swept along the row. Same answer as geometry.zone_raster except at exact
    ties (different winner, same value).
    """
    A = np.ascontiguousarray(np.asarray(A, dtype=np.float64).reshape(-1, 2))
    b = np.ascontiguousarray(np.asarray(b, dtype=np.float64).ravel())
    n = A.shape[0]
    idx = np.full((ny, nx), -1, dtype=np.int64)
    best = np.full((ny, nx), -np.inf)
    if n == 0:
        return idx, best
    xs, ys = pixel_centres(extent, nx, ny)
    order = np.argsort(A[:, 0], kind="stable").astype(np.int64)
    _envelope_rows(np.ascontiguousarray(A[order, 0]), np.ascontiguousarray(A[order, 1]),
                   np.ascontiguousarray(b[order]), order, xs, ys, idx, best)
    return idx, best


def polygon_mask(poly: np.ndarray, extent: Sequence[float], nx: int, ny: int) -> np.ndarray:
    """(ny, nx) bool: pixel centres inside the polygon (even-odd rule), rows from ymin."""
    P = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
    if P.shape[0] < 3:
        return np.zeros((ny, nx), dtype=bool)
    x0, x1, y0, y1 = (float(v) for v in extent)
    tog = np.zeros((ny, nx + 1), dtype=np.uint8)
    _polygon_toggles(np.ascontiguousarray(P[:, 0]), np.ascontiguousarray(P[:, 1]),
                     x0, (x1 - x0) / nx, y0, (y1 - y0) / ny, nx, ny, tog)
    return (np.bitwise_xor.accumulate(tog, axis=1)[:, :nx]).astype(bool)


def zone_extent(W2: np.ndarray, clip_to_shape: bool) -> tuple[float, float, float, float]:
    """The box drawn: around the shape (clipped) or the larger whole-plane box."""
    return geo.default_box(W2, SHAPE_MARGIN if clip_to_shape else WHOLE_PLANE_MARGIN)


def zone_rgba(W2: ArrayLike, b: ArrayLike, colors: ArrayLike, extent: Sequence[float], res: int = RASTER_RES,
              clip_to_shape: bool = True, decoder: ArrayLike | None = None, alpha_on: int = RASTER_ALPHA_ON,
              alpha_off: int = RASTER_ALPHA_OFF,
              shape: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The large-n zone map: (ny, nx, 4) uint8 RGBA, rows from ymin, and (idx, best).

    Each pixel takes the colour of its strongest feature (argmax_k p_k(h)) with
    alpha ``alpha_on`` where it fires (max p > 0) and ``alpha_off`` (dimmed)
    where nothing fires; transparent outside the latent shape when clipped
    (``shape``: geometry.latent_shape(W2), computed when not given).
    """
    W2 = np.asarray(W2, dtype=np.float64)
    A = W2.T if decoder is None else np.asarray(decoder, dtype=np.float64)
    nx, ny = raster_shape(extent, res)
    idx, best = envelope_raster(A, b, extent, nx, ny)
    cols = np.ascontiguousarray(np.asarray(colors, dtype=np.uint8).reshape(-1, 4))
    if clip_to_shape:
        inside = polygon_mask(geo.latent_shape(W2) if shape is None else shape, extent, nx, ny)
    else:
        inside = np.ones((ny, nx), dtype=bool)
    rgba = np.empty((ny, nx, 4), dtype=np.uint8)
    _compose_rgba(idx, best, inside, cols, np.uint8(alpha_on), np.uint8(alpha_off), rgba)
    return rgba, idx, best


def zone_edge(a: ArrayLike, c: float, box: Sequence[float]) -> np.ndarray | None:
    """(4,) segment (x0, y0, x1, y1) of the zone boundary {h : a.h + c = 0} inside the box, or None."""
    a = np.asarray(a, dtype=np.float64).ravel()[:2]
    x0, x1, y0, y1 = (float(v) for v in box)
    nrm = float(np.hypot(a[0], a[1]))
    if nrm == 0:
        return None
    p0 = -c * a / nrm ** 2  # the point of the line closest to the origin
    d = np.array([-a[1], a[0]]) / nrm
    lo, hi = -np.inf, np.inf
    for k, (mn, mx) in enumerate(((x0, x1), (y0, y1))):
        if abs(d[k]) < 1e-15:
            if not (mn <= p0[k] <= mx):
                return None
            continue
        t1, t2 = (mn - p0[k]) / d[k], (mx - p0[k]) / d[k]
        lo, hi = max(lo, min(t1, t2)), min(hi, max(t1, t2))
    if not (hi > lo):
        return None
    return np.r_[p0 + lo * d, p0 + hi * d]


def active_features(snap: Snapshot, h: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(features with p_k(h) > 0 sorted by p descending, their p) at h on the drawn plane."""
    W2, D2, _ = plane_of(snap)
    A = W2.T if D2 is None else D2
    h = np.asarray(h, dtype=np.float64).ravel()[:2]
    p = A @ h + snap.b
    act = np.nonzero(p > 0)[0]
    act = act[np.argsort(-p[act], kind="stable")]
    return act, p[act]


def hover_text(snap: Snapshot | None, h: ArrayLike, max_items: int = 12) -> str:
    """What hovering at h shows: h, the active features (p_k(h) > 0, 1-based) and their p."""
    if snap is None:
        return ""
    h = np.asarray(h, dtype=np.float64).ravel()[:2]
    act, p = active_features(snap, h)
    head = f"h = ({h[0]:.4g}, {h[1]:.4g})"
    if len(act) == 0:
        W2, D2, _ = plane_of(snap)
        A = W2.T if D2 is None else D2
        pall = A @ h + snap.b
        k = int(np.argmax(pall)) if pall.size else -1
        tail = "   active: none" + (f" (largest p = {fmt_num(pall[k])} at feature {k + 1})" if k >= 0 else "")
        return head + tail
    items = ", ".join(f"{k + 1} (p = {fmt_num(v)})" for k, v in zip(act[:max_items].tolist(), p[:max_items].tolist(), strict=True))
    more = f", ... {len(act) - max_items} more" if len(act) > max_items else ""
    return f"{head}   active ({len(act)} of {snap.n}): {items}{more}"


def arrow_segments(W2: np.ndarray) -> np.ndarray:
    """(n, 4) segments (0, 0, W_i) of the feature vectors."""
    W2 = np.asarray(W2, dtype=np.float64)
    n = W2.shape[1]
    return np.column_stack([np.zeros(n), np.zeros(n), W2[0], W2[1]])


def arrow_heads(W2: np.ndarray, size: float | None = None) -> np.ndarray:
    """(n, 3, 2) triangles at the tips of the feature vectors (size: head length)."""
    W2 = np.asarray(W2, dtype=np.float64)
    nrm = np.hypot(W2[0], W2[1])
    if size is None:
        size = 0.08 * (float(nrm.max()) if nrm.size else 1.0)
    L = np.minimum(size, 0.45 * nrm)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(nrm > 0, W2 / np.where(nrm > 0, nrm, 1.0), 0.0)
    v = np.stack([-u[1], u[0]])
    tip = W2
    base = W2 - L * u
    left = base + 0.45 * L * v
    right = base - 0.45 * L * v
    return np.stack([tip.T, left.T, right.T], axis=1)


def label_positions(W2: np.ndarray, offset: float) -> np.ndarray:
    """(n, 2) label positions just beyond each tip (outward along W_i)."""
    W2 = np.asarray(W2, dtype=np.float64)
    nrm = np.hypot(W2[0], W2[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(nrm > 0, W2 / np.where(nrm > 0, nrm, 1.0), np.array([[1.0], [0.0]]))
    return (W2 + offset * u).T


# ----------------------------------------------------------------------------
# separability (shared with the feature wheel), computed once per snapshot

def draw_arrows(view: Any, W2: np.ndarray, feats: np.ndarray, colors: np.ndarray, sel: np.ndarray) -> None:
    """Into the arrow layers of ``view`` (views2d.add_arrow_layers: arrows, heads, sel_under,
    sel_arrows): the arrows of ``feats``, every head up to LABEL_MAX features, the selected on top."""
    n = W2.shape[1]
    x, y = segments_xy(arrow_segments(W2[:, feats]))
    view.arrows.set_features(colors[feats], x, y)
    if n <= LABEL_MAX:
        hx, hy, hc = polygons_xy(list(arrow_heads(W2)))
        view.heads.set_features(colors, hx, hy, hc, np.full(n, 4))
    else:
        view.heads.clear()
    set_selected_arrows(view.sel_under, view.sel_arrows, arrow_segments(W2[:, sel]), colors[sel])


def separability_of(frame: Frame) -> Separability:
    """The frame's snapshot's model.analysis.separability.Separability over its live features (the
    analysis' dead features excluded): the analysis' own when it carries one for this
    snapshot, else the frame's provider's (Frame.separability: computed once for the last
    snapshot and selection, the views redraw at display rate). Above SEPARATION_FULL_MAX
    features only the selected features are answered (``computed``)."""
    snap = frame.snapshot
    a = frame.view_analysis()
    own = a.separability
    if isinstance(own, Separability) and own.n == snap.n and a.step == snap.step:
        return own
    live = ~np.asarray(a.dead_mask, dtype=bool)
    feats = None if snap.n <= SEPARATION_FULL_MAX else tuple(selected_of(frame, snap.n).tolist())
    return frame.separability(live, feats)


def separation_features(sep: Separability, selected: np.ndarray) -> np.ndarray:
    """The live features whose separation is drawn: the selected ones, else every live
    feature up to SEPARATION_ALL_MAX features, else none."""
    live = sep.live if sep.computed is None else sep.computed
    if len(selected):
        sel = np.asarray(selected, dtype=np.int64)[:SELECTED_LABEL_MAX]
        return sel[live[sel]]
    if sep.n <= SEPARATION_ALL_MAX:
        return np.nonzero(live)[0]
    return np.zeros(0, dtype=np.int64)


def separating_segment(sep: Separability, i: int, W: np.ndarray, half: float) -> np.ndarray | None:
    """(4,) segment (x0, y0, x1, y1) on the drawn plane of feature i's max-margin line,
    centred between W_i and the others' hull, 2 * half long; None when not separable.

    m = 2: the perpendicular bisector of W_i and the hull's nearest point. m > 2: the
    separating hyperplane's intersection with the drawn plane (geometry.plane_basis).
    """
    line = sep.separating_line(i)
    if line is None:
        return None
    a, c = line
    W = np.asarray(W, dtype=np.float64)
    U = np.eye(2) if W.shape[0] == 2 else geo.plane_basis(W)[0]
    a2 = U.T @ a
    na = float(np.hypot(a2[0], a2[1]))
    if na < 1e-12:
        return None  # the hyperplane contains the plane's normal directions only
    mid = U.T @ (0.5 * (W[:, i] + sep.nearest[i]))
    y0 = mid - ((a2 @ mid - c) / na ** 2) * a2  # onto the line
    d = np.array([-a2[1], a2[0]]) / na
    return np.r_[y0 - half * d, y0 + half * d]


def blocking_polygon(sep: Separability, i: int, W2: np.ndarray) -> np.ndarray:
    """(k, 2) the blockers of feature i on the drawn plane, in angular order about their
    centroid (a triangle, a segment or a point); (0, 2) when it has none."""
    bl = sep.blockers[i]
    if not bl:
        return np.zeros((0, 2))
    P = np.asarray(W2, dtype=np.float64)[:, bl].T
    c = P.mean(axis=0)
    return P[np.argsort(np.arctan2(P[:, 1] - c[1], P[:, 0] - c[0]), kind="stable")]


# ----------------------------------------------------------------------------
# the view

class ZoneMapContent(PlotContent):
    """What the zone map draws, as its ``settings`` (ZoneSettings) say: the latent zones clipped to the
    latent shape or the whole plane, polygons or raster, the arrows and labels. With
    ``show_separation`` (off by default): for the selected features (every live one up to
    SEPARATION_ALL_MAX when none is selected), the max-margin line between W_i and the other live
    features' hull (dashed, dark; the margin as a thin segment to the hull's nearest point) when W_i is
    linearly separable, else the hull of its blockers (dashed, red)."""

    SETTINGS = ZoneSettings

    def __init__(self) -> None:
        super().__init__(aspect_locked=True)
        pi = self.plot_item
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        pi.addItem(self.image)
        self.zones = ColorPathsItem("fill")
        self.zones.setZValue(-5)
        pi.addItem(self.zones)
        self.sel_zones = ColorPathsItem("stroke", width=2.0)
        self.sel_zones.setZValue(-4)
        pi.addItem(self.sel_zones)
        self.sel_edges = ColorPathsItem("lines", width=2.0)  # raster mode: a selected zone's edge
        self.sel_edges.setZValue(-4)
        pi.addItem(self.sel_edges)
        self.shape = pg.PlotCurveItem(pen=pg.mkPen(SHAPE_PEN, width=1.5))
        self.shape.setZValue(0)
        pi.addItem(self.shape)
        self.arrows, self.heads, self.sel_under, self.sel_arrows = add_arrow_layers(pi, 10)
        self.sep_lines = pg.PlotCurveItem(pen=pg.mkPen(SEPARATING_PEN, width=1.8, style=Qt.PenStyle.DashLine))
        self.sep_margins = pg.PlotCurveItem(pen=pg.mkPen(SEPARATING_PEN, width=1.0))
        self.sep_hulls = pg.PlotCurveItem(pen=pg.mkPen(BLOCKING_PEN, width=1.8, style=Qt.PenStyle.DashLine))
        for it in (self.sep_lines, self.sep_margins, self.sep_hulls):
            it.setZValue(14)  # above the arrows, below the labels
            pi.addItem(it, ignoreBounds=True)
        self.sep_drawn = np.zeros(0, dtype=np.int64)  # features whose separation is drawn
        self.sep_segments = np.zeros((0, 4))  # their separating segments (x0, y0, x1, y1)
        self.sep_polygons: list = []  # their blocking hulls
        self._sep = None
        self.labels = LabelPool(pi)
        self._shape_dense = False
        self.bounds_item = ColorPathsItem()  # no paths: makes auto-range include the labels' margin
        pi.addItem(self.bounds_item)
        self.drawn_mode = None  # "polygons" | "raster" after a frame
        self._arrow_feats = np.zeros(0, dtype=np.int64)
        self._W2 = None
        self._extent = None
        self.last_rgba = None
        self._raster_key = None

    def extent(self) -> tuple[float, float, float, float] | None:
        """The box (xmin, xmax, ymin, ymax) of the last frame, or None."""
        return self._extent

    # drawing -----------------------------------------------------------
    def _clear(self):
        self.image.clear()
        self.image.setVisible(False)
        for it in (self.zones, self.sel_zones, self.sel_edges, self.arrows, self.heads, self.sel_under,
                   self.sel_arrows):
            it.clear()
        self.shape.setData([], [])
        self._clear_separation()
        self.labels.set([])
        self.set_note("")
        self.drawn_mode = None
        self._arrow_feats = np.zeros(0, dtype=np.int64)
        self._W2 = None
        self._extent = None
        self.last_rgba = None
        self._raster_key = None

    def draw(self, snap: Snapshot | None, frame: Frame | None) -> None:
        if not self._take(snap, frame):
            return
        assert snap is not None and frame is not None  # _take: a snapshot with features, of a frame
        n = snap.n
        st = self._settings
        W2, D2, _ = plane_of(snap)
        self._W2 = W2
        colors = feature_colors_for(snap, frame)
        sel = selected_of(frame, n)
        extent = zone_extent(W2, st.clip_to_shape)
        self._extent = extent
        shape = geo.latent_shape(W2)
        mode = st.mode if st.mode != "auto" else ("polygons" if n <= POLYGON_MAX else "raster")
        self.drawn_mode = mode
        if mode == "polygons":
            sel_polys = self._draw_polygons(snap, W2, D2, colors, sel, extent)
        else:
            sel_polys = self._draw_raster(snap, W2, D2, colors, sel, extent, shape)
        if len(sel_polys):
            x, y, con = polygons_xy(sel_polys)
            self.sel_zones.set_features(np.array([OUTLINE], np.uint8), x, y, con, np.array([len(x)]),
                                        max_groups=1)
        else:
            self.sel_zones.clear()
        self._draw_outline(shape, n, mode)
        self._draw_arrows(W2, colors, sel)
        sep_note = self._draw_separation(snap, frame, W2, sel) if st.show_separation else None
        if not st.show_separation:
            self._clear_separation()
        self._draw_labels(W2, colors, sel, extent)
        parts = [f"n = {n}", "exact zones" if mode == "polygons" else
                 f"strongest feature ({self.last_rgba.shape[1]}\u00d7{self.last_rgba.shape[0]}; dim: none fires)"]
        if n > ARROWS_MAX:
            parts.append("arrows: selected only")
        if sep_note:
            parts.append(sep_note)
        pt = plane_text(snap, frame)
        if pt:
            parts.append(pt)
        self.set_note("   ".join(parts))

    def _draw_polygons(self, snap, W2, D2, colors, sel, extent) -> list:
        """The exact zones, translucent; returns the selected features' zone polygons."""
        self.image.setVisible(False)
        self.last_rgba = None
        self._raster_key = None
        self.sel_edges.clear()
        polys = geo.zone_polygons(W2, snap.b, clip="shape" if self._settings.clip_to_shape else "box", box=extent,
                                  decoder=D2)
        counts = np.array([len(p) + 1 if len(p) >= 3 else 0 for p in polys], dtype=np.int64)
        x, y, con = polygons_xy([p for p in polys if len(p) >= 3])
        zc = colors.copy()
        zc[:, 3] = ZONE_ALPHA
        self.zones.set_features(zc, x, y, con, counts, max_groups=max(snap.n, 1))
        return [polys[i] for i in sel if len(polys[i]) >= 3]

    def _draw_raster(self, snap, W2, D2, colors, sel, extent, shape) -> list:
        """The strongest-feature raster, the selected zones' edge lines; returns no polygons."""
        self.zones.clear()
        clip = self._settings.clip_to_shape
        b = snap.b
        # same snapshot, colours and clipping (e.g. only the selection changed): keep the raster
        key = (snap, clip, extent, hash(np.ascontiguousarray(colors).tobytes()))
        if self._raster_key is not None and self._raster_key[0] is snap and self._raster_key[1:] == key[1:]:
            rgba = self.last_rgba
        else:
            rgba, _, _ = zone_rgba(W2, b, colors, extent, RASTER_RES, clip, decoder=D2, shape=shape)
            self._raster_key = key
        self.last_rgba = rgba
        self.image.setImage(rgba, autoLevels=False)
        x0, x1, y0, y1 = extent
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.image.setVisible(True)
        # selected zones: their edge line (an outline along a dense, jagged shape is a black smear)
        A = W2.T if D2 is None else D2
        edges = [e for e in (zone_edge(A[i], b[i], extent) for i in sel[:SELECTED_LABEL_MAX]) if e is not None]
        if edges:
            ex, ey = segments_xy(np.array(edges))
            self.sel_edges.set_features(np.tile(np.array(OUTLINE, np.uint8), (len(edges), 1)), ex, ey,
                                        max_groups=1)
        else:
            self.sel_edges.clear()
        return []

    def _draw_outline(self, shape, n: int, mode: str) -> None:
        """The latent shape's outline; the clipped raster shows the shape by itself (and 10,000
        dense vertices cost ~4 ms to stroke), so there it is drawn only on the whole plane."""
        dense = n > POLYGON_MAX
        if self._shape_dense != dense:
            self.shape.setPen(pg.mkPen(SHAPE_PEN[:3] + (110,), width=1.0) if dense else pg.mkPen(SHAPE_PEN, width=1.5))
            self._shape_dense = dense
        if shape.shape[0] >= 2 and not (mode == "raster" and self._settings.clip_to_shape):
            closed = np.vstack([shape, shape[:1]])
            self.shape.setData(closed[:, 0], closed[:, 1])
        else:
            self.shape.setData([], [])

    def _draw_arrows(self, W2, colors, sel) -> None:
        n = W2.shape[1]
        feats = np.arange(n) if n <= ARROWS_MAX else sel
        self._arrow_feats = feats
        draw_arrows(self, W2, feats, colors, sel)

    def _draw_labels(self, W2, colors, sel, extent) -> None:
        """Every feature's number up to LABEL_MAX, else the selected ones'; the auto-range bounds."""
        n = W2.shape[1]
        span = extent[1] - extent[0]
        x0, x1, y0, y1 = extent
        R = nice_ceil(max(abs(x0), abs(x1), abs(y0), abs(y1)) * (1.06 if self._settings.clip_to_shape else 1.0))
        self.bounds_item.set_bounds((-R, R, -R, R))
        lab_feats = np.arange(n) if n <= LABEL_MAX else sel[:SELECTED_LABEL_MAX]
        pos = label_positions(W2[:, lab_feats], 0.06 * span)
        selset = set(sel.tolist())
        dark = label_colors(colors[lab_feats])
        self.labels.set([(str(i + 1), px, py, dark[t], i in selset)
                         for t, (i, (px, py)) in enumerate(zip(lab_feats.tolist(), pos, strict=True))])

    def _clear_separation(self):
        for it in (self.sep_lines, self.sep_margins, self.sep_hulls):
            it.setData([], [])
        self.sep_drawn = np.zeros(0, dtype=np.int64)
        self.sep_segments = np.zeros((0, 4))
        self.sep_polygons = []
        self._sep = None

    def _draw_separation(self, snap, frame, W2, sel) -> str:
        """Draw the separation overlay; returns its note."""
        sep = separability_of(frame)
        self._sep = sep
        feats = separation_features(sep, sel)
        R = float(np.max(np.hypot(W2[0], W2[1]))) if snap.n else 1.0
        segs, margins, polys, drawn = [], [], [], []
        for i in feats.tolist():
            if sep.separable[i]:
                seg = separating_segment(sep, i, snap.W, SEPARATING_HALF * R)
                if seg is None:
                    continue
                segs.append(seg)
                q = sep.nearest[i] if snap.m == 2 else geo.plane_basis(snap.W)[0].T @ sep.nearest[i]
                if np.all(np.isfinite(q)):
                    margins.append(np.r_[W2[:, i], q])
                drawn.append(i)
            elif sep.blockers[i]:
                polys.append(blocking_polygon(sep, i, W2))
                drawn.append(i)
        self.sep_drawn = np.array(drawn, dtype=np.int64)
        self.sep_segments = np.array(segs).reshape(-1, 4)
        self.sep_polygons = polys
        if segs:
            self.sep_lines.setData(*segments_xy(self.sep_segments), connect="pairs")
        else:
            self.sep_lines.setData([], [])
        if margins:
            self.sep_margins.setData(*segments_xy(np.array(margins)), connect="pairs")
        else:
            self.sep_margins.setData([], [])
        if polys:
            x, y, con = polygons_xy(polys)
            self.sep_hulls.setData(x, y, connect=con)
        else:
            self.sep_hulls.setData([], [])
        live = int(sep.live.sum())
        if sep.computed is not None and int(sep.computed.sum()) < live:
            k = int(sep.computed.sum())
            txt = (f"separable {int(sep.separable.sum())} of {k} selected" if k else
                   "separation: select features to draw their lines")
        else:
            txt = f"separable {int(sep.separable.sum())} of {live} live"
            if not len(feats) and live:
                txt += " (select features to draw their lines)"
        return txt

    def feature_at(self, x: float, y: float) -> int:
        """The feature a click at (x, y) picks: an arrow within CLICK_PX pixels, else
        the strongest feature whose zone covers (x, y); -1 for none."""
        snap = self._snap
        if snap is None or self._W2 is None:
            return -1
        feats = self._arrow_feats
        if len(feats):
            d = point_segment_distance(arrow_segments(self._W2[:, feats]), x, y)
            px = max(self.view_pixel_size())
            k = int(np.argmin(d))
            if d[k] <= CLICK_PX * px:
                return int(feats[k])
        act, _ = active_features(snap, (x, y))
        return int(act[0]) if len(act) else -1


class ZoneMapView(PlotPanel):
    """The zone map in the window: its ZoneMapContent under the settings' toggles. Hover shows
    hover_text in the status line (with the separation drawn, hovering a feature's arrow says whether it
    is separable, with the margin and the neighbours' gap); a click selects the feature picked."""

    CONTENT = ZoneMapContent

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.clip_box = self.add_setting_toggle("clip_to_shape", "clip to latent shape",
                                                "on: zones inside the latent shape; off: the whole plane around it")
        self.sep_box = self.add_setting_toggle(
            "show_separation", "separation",
            "Linear separability of the selected features (every live one when none is selected and n is small):\n"
            "dashed dark line: the max-margin line between W_i and the hull of the other live W_j\n"
            "(thin segment: the margin, to the hull's nearest point); dashed red outline: the\n"
            "features whose hull contains W_i (not separable). Hover an arrow for the numbers.")

    def set_frame(self, frame: Frame | None) -> None:
        super().set_frame(frame)
        if self.content.drawn_mode is None:
            self.status.setText("")  # nothing drawn: nothing hovered

    # interaction -------------------------------------------------------
    def _hovered(self, x, y):
        text = hover_text(self._snap, (x, y))
        if self._settings.show_separation and self._sep is not None and self._W2 is not None:
            feats = self._arrow_feats
            if len(feats):
                d = point_segment_distance(arrow_segments(self._W2[:, feats]), x, y)
                k = int(np.argmin(d))
                if d[k] <= CLICK_PX * max(self.view_pixel_size()):
                    text = self._sep.describe(int(feats[k])) + "   |   " + text
        self.status.setText(text)

    def _clicked(self, x, y):
        k = self.feature_at(x, y)
        if k >= 0:
            self.featureClicked.emit(k)
