"""The feature wheel: the W_i as arrows from the origin in their colours, dead
features marked at the origin, the analysis' radius groups as dashed circles,
and for a finite dataset the data embeddings h_t = W x_t (the SMDD figure).

On demand ("gap needed"), the two-circle question: for a feature W_i inside its
neighbours' circle (model.analysis.separability's gap evidence: the neighbours u, v are the
edge of the other live features' hull that the ray through W_i crosses), the
chord u-v, an arc over the actual gap between u and v, and two dashed rays in
W_i's colour at the edges of the gap it would need to lie outside the chord (its
position in the gap kept). Rays outside the arc: the gap is too small, W_i is
inside the chord and not linearly separable.

Many features (above ARROWS_ALL_MAX, or with ``arrows = "binned"``): a thousand arrows from one
origin are a disk of colour that hides what the wheel is for (where the directions are, how
many features share one, how long they are). The live features are binned by angle
(ANGLE_BINS bins of 5 degrees) and each bin is one spoke: along its members' resultant
direction, as long as its longest member, thicker the more features it holds and faded by its
length; every feature's tip is still a dot, dead features stay rings at the origin. The
``strongest`` spokes (largest sum of |W_i|^2: the squared length the direction carries) are
labelled "strongest member ×count". A selected feature i is drawn as its own arrow with the
``strongest`` other features of largest positive overlap W_i·W_j (the off-diagonal of WᵀW: how
much input i drives output j), each its own arrow faded by that overlap and labelled; the note
and a key inside the plot say what is drawn ("feature 1: 12 strongest overlaps of 999")."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QPainter, QPolygonF
from PyQt6.QtWidgets import QSpinBox, QWidget

from model.analysis import geometry as geo
from model.snapshot import Snapshot
from views.settings import STRONGEST_MAX, WheelSettings

if TYPE_CHECKING:
    from model.analysis.analysis import Analysis
    from model.analysis.frame import Frame
    from model.analysis.separability import Separability

from .views2d import (
    LABEL_MAX,
    SELECTED_LABEL_MAX,
    ColorPathsItem,
    LabelPool,
    PlotContent,
    PlotPanel,
    add_arrow_layers,
    add_paths,
    color_groups,
    feature_colors_for,
    label_colors,
    nice_ceil,
    plane_of,
    plane_text,
    point_segment_distance,
    qcolor,
    ranges_text,
    segments_xy,
    selected_of,
    set_selected_arrows,
)
from .zone_map import CLICK_PX, arrow_segments, draw_arrows, label_positions, separability_of

#: At most this many data embeddings are drawn (an even subsample above).
DATA_MAX = 20_000
#: Above this many features the arrows drawn are an even subsample in angular order
#: (every feature's tip is still drawn as a dot): 10,000 full-length lines cost
#: ~30 ms of pixel filling and show the same colour disk.
ARROWS_MAX = 600
#: "auto": every feature its own arrow up to this many features, one spoke per angle bin above
#: (heads and every number are drawn up to LABEL_MAX; a wheel of more arrows than that is a
#: disk of overlapping lines, ~9 degrees apart on average at 40, 0.36 at 1,000).
ARROWS_ALL_MAX = LABEL_MAX
#: Angle bins of the binned wheel: 72 of 5 degrees (a merged group of the seed's failures lies
#: within a thousandth of a degree; Henighan's n-gon has its features 360/n degrees apart, so up
#: to n = 72 each of its features is a spoke of its own).
ANGLE_BINS = 72
#: The widest spoke (pixels): a group of 2^6 = 64 or more features.
SPOKE_WIDTH_MAX = 10.5
#: The strongest overlaps are drawn for this many of the selected features (the first selected).
RELATED_SEL_MAX = 3
#: Labels closer than this fraction of the plotted radius are merged into one ("8 +11": feature 8
#: and 11 more): ~10 pixels of a wheel 700 pixels across; in data units, so a picture of any
#: size merges the same labels as the window.
LABEL_MERGE = 0.03
#: The faintest spoke or relation (a fraction of opaque): still seen over the white background.
FADE_MIN = 0.3
#: At most this many dead features get their own ring at the origin.
DEAD_RINGS_MAX = 6
CIRCLE_PEN = (90, 90, 90, 255)
CIRCLE_POINTS = 181
#: "gap needed": with nothing selected, drawn for every qualifying feature up to this many
#: features; above it, for the selected features only (at most SELECTED_LABEL_MAX).
GAP_ALL_MAX = 24
#: Features whose needed half-gap is below this (radians, 0.5 degree) are not drawn unless
#: selected: their rays would lie on W_i's own arrow (a feature on or beyond its neighbours'
#: circle needs no gap at all; arccos near 1 leaves ~1e-8 rad of rounding there).
GAP_DRAW_MIN = math.radians(0.5)
GAP_PEN = (110, 110, 110, 255)
ARC_POINTS = 48


# ----------------------------------------------------------------------------
# pure helpers

def circle_xy(radius: float, k: int = CIRCLE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0.0, 2 * np.pi, k)
    return radius * np.cos(t), radius * np.sin(t)


def radius_circles(analysis: Analysis) -> list[tuple[float, int]]:
    """[(radius, member count)] of the analysis' radius groups (live features)."""
    return [(float(g["radius"]), len(g["members"])) for g in analysis.radius_groups]


def dead_text(dead: np.ndarray) -> str:
    """'' when none, else 'dead: 7' / 'dead: 3, 7' (1-based) or 'dead: 120 features'."""
    dead = np.asarray(dead, dtype=np.int64)
    if dead.size == 0:
        return ""
    return "dead: " + ranges_text((dead + 1).tolist(), max_chars=40)


def arrow_subset(W2: np.ndarray, max_arrows: int = ARROWS_MAX) -> np.ndarray:
    """The features whose arrows are drawn: all up to max_arrows, else every k-th in angular order."""
    n = W2.shape[1]
    if n <= max_arrows:
        return np.arange(n, dtype=np.int64)
    order = geo.angular_order(W2)
    return np.sort(order[np.linspace(0, n - 1, max_arrows).round().astype(np.int64)])


class Spoke(NamedTuple):
    """One angle bin of the binned wheel: ``members`` (0-based, longest first), the spoke's
    ``angle`` (radians, the members' resultant direction) and ``length`` (the longest member's
    |W_i|), ``weight`` = sum of the members' |W_i|^2 (what "strongest" ranks by)."""

    members: np.ndarray
    angle: float
    length: float
    weight: float


def angle_spokes(W2: np.ndarray, live: np.ndarray, bins: int = ANGLE_BINS) -> list[Spoke]:
    """The live features of the drawn plane W2 (2, n) binned by angle into ``bins`` equal bins
    (the first starts at -180 degrees): one Spoke per non-empty bin, in angular order."""
    W2 = np.asarray(W2, dtype=np.float64)
    feats = np.nonzero(np.asarray(live, dtype=bool))[0]
    if feats.size == 0:
        return []
    x, y = W2[0, feats], W2[1, feats]
    norm = np.hypot(x, y)
    b = np.clip(((np.arctan2(y, x) + np.pi) / (2 * np.pi) * bins).astype(np.int64), 0, bins - 1)
    out = []
    for k in np.unique(b):
        at = np.nonzero(b == k)[0]
        at = at[np.argsort(-norm[at], kind="stable")]
        ang = math.atan2(float(y[at].sum()), float(x[at].sum()))
        out.append(Spoke(feats[at], ang, float(norm[at[0]]), float(np.sum(norm[at] ** 2))))
    return out


def strongest_spokes(spokes: list[Spoke], k: int) -> list[int]:
    """Indices into ``spokes`` of the k of largest weight (sum |W_i|^2), strongest first."""
    w = np.array([s.weight for s in spokes], dtype=np.float64)
    return np.argsort(-w, kind="stable")[: max(int(k), 0)].tolist()


def strongest_overlaps(W: np.ndarray, i: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(features j != i, their overlaps W_i·W_j): the k largest positive overlaps with feature i
    (the full W (m, n), not the drawn plane), largest first (ties: lower index first). A negative
    overlap is not drawn: input i pushes output j down, it does not fire it."""
    W = np.asarray(W, dtype=np.float64)
    o = W[:, i] @ W
    o[i] = -np.inf
    cand = np.nonzero(o > 0)[0]
    order = cand[np.lexsort((cand, -o[cand]))][: max(int(k), 0)]
    return order, o[order]


def spoke_width(count: int) -> float:
    """A spoke's pen width (pixels) for its member count: 1.5 for one feature, +1.5 per doubling
    of the count (rounded: 2 -> 3, 3 -> 4.5, 24 -> 9), at most SPOKE_WIDTH_MAX (from 46 on)."""
    return min(1.5 * (1 + round(math.log2(max(int(count), 1)))), SPOKE_WIDTH_MAX)


def merge_labels(xy: np.ndarray, eps: float) -> list[list[int]]:
    """Labels that would sit on one another, merged: groups of indices into ``xy`` (k, 2), in
    priority order, each group led by the label kept; a label within ``eps`` of an earlier kept
    one joins its group."""
    groups: list[list[int]] = []
    kept: list[tuple[float, float]] = []
    for t, (x, y) in enumerate(np.asarray(xy, dtype=np.float64).reshape(-1, 2).tolist()):
        for g, (kx, ky) in zip(groups, kept, strict=True):
            if math.hypot(x - kx, y - ky) <= eps:
                g.append(t)
                break
        else:
            groups.append([t])
            kept.append((x, y))
    return groups


def fade(strength: np.ndarray) -> np.ndarray:
    """Alpha (uint8) for a strength in [0, 1] (clipped): FADE_MIN of opaque at 0, opaque at 1."""
    s = np.clip(np.asarray(strength, dtype=np.float64), 0.0, 1.0)
    return np.round(255 * (FADE_MIN + (1 - FADE_MIN) * s)).astype(np.uint8)


def data_embeddings(snap: Snapshot, dataset: np.ndarray,
                    max_points: int = DATA_MAX) -> tuple[np.ndarray, np.ndarray]:
    """(H (T', 2) embeddings h_t = W x_t on the drawn plane, owner (T',) strongest input feature).

    An even subsample of at most max_points examples; owner[t] = argmax_i x_t[i]
    (the feature whose colour the point takes), -1 for an all-zero example.
    """
    X = np.asarray(dataset, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != snap.n:
        raise ValueError(f"dataset must be (T, n) = (T, {snap.n}), got shape {X.shape}")
    T = X.shape[0]
    if max_points < T:
        X = X[np.linspace(0, T - 1, max_points).astype(np.int64)]
    W2 = plane_of(snap)[0]
    H = X @ W2.T
    owner = np.argmax(np.abs(X), axis=1) if X.shape[1] else np.zeros(X.shape[0], np.int64)
    zero = ~np.any(X != 0, axis=1)
    owner = np.where(zero, -1, owner)
    return H, owner


def gap_features(sep: Separability, selected: np.ndarray) -> np.ndarray:
    """Features whose gap is drawn: the selected ones with gap evidence, else (n <= GAP_ALL_MAX)
    every feature with gap evidence needing at least GAP_DRAW_MIN of half-gap."""
    has = sep.has_gap & np.isfinite(sep.needed_half_gap)
    if len(selected):
        sel = np.asarray(selected, dtype=np.int64)[:SELECTED_LABEL_MAX]
        return sel[has[sel]]
    if sep.n > GAP_ALL_MAX:
        return np.zeros(0, dtype=np.int64)
    return np.nonzero(has & (sep.needed_half_gap >= GAP_DRAW_MIN))[0]


def gap_geometry(sep: Separability, i: int, W2: np.ndarray) -> dict:
    """What the wheel draws for feature i (on the drawn plane): ``chord`` (4,) u -> v,
    ``rays`` (2, 4) from the origin at the needed gap's edges out to the neighbours'
    larger radius, ``actual_arc`` and ``needed_arc`` (k, 2) polylines, and the angles
    (radians): theta (W_i's), actual (from, to) and needed (from, to)."""
    W2 = np.asarray(W2, dtype=np.float64)
    u, v = (int(k) for k in sep.neighbours[i])
    th = math.atan2(W2[1, i], W2[0, i])
    a1, a2 = float(sep.gap_before[i]), float(sep.gap_after[i])
    T = a1 + a2
    x = float(sep.needed_half_gap[i])
    n1, n2 = (2 * x * a1 / T, 2 * x * a2 / T) if T > 0 else (x, x)
    R = float(max(sep.neighbour_radii[i]))
    r = float(sep.radius[i])
    rays = np.array([[0.0, 0.0, R * math.cos(th - n1), R * math.sin(th - n1)],
                     [0.0, 0.0, R * math.cos(th + n2), R * math.sin(th + n2)]])

    def arc(rad, t0, t1):
        t = np.linspace(t0, t1, ARC_POINTS)
        return np.column_stack([rad * np.cos(t), rad * np.sin(t)])

    rho = 0.55 * r
    return {"chord": np.r_[W2[:, u], W2[:, v]], "rays": rays,
            "actual_arc": arc(rho, th - a1, th + a2), "needed_arc": arc(0.8 * rho, th - n1, th + n2),
            "theta": th, "actual": (th - a1, th + a2), "needed": (th - n1, th + n2)}


def _dashed(pen):
    from PyQt6.QtGui import QPen

    p = QPen(pen)
    p.setStyle(Qt.PenStyle.DashLine)
    return p


def _polylines_xy(lines):
    """Open polylines (k_i, 2) -> (x, y, connect) for one path (no closing segment)."""
    lines = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in lines]
    if not lines:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int32)
    pts = np.vstack(lines)
    con = np.ones(len(pts), dtype=np.int32)
    con[np.cumsum([len(p) for p in lines]) - 1] = 0
    return pts[:, 0], pts[:, 1], con


class TipDots(ColorPathsItem):
    """A dot at every feature's tip (ColorPathsItem "points"), the points mapped to device pixels
    before they are drawn: Qt's drawPoints with a wide cosmetic pen under the plot's scale
    (thousands of pixels per data unit) drew each dot as a horizontal dash ~10 pixels long."""

    def __init__(self, width: float = 3.0):
        super().__init__("points", width=width)

    def paint(self, p: QPainter, *args: object) -> None:
        if not self._items:
            return
        tr = p.transform()
        p.save()
        p.resetTransform()
        for pen, _brush, prim in self._items:
            assert isinstance(prim, QPolygonF), "the points mode holds its dots as a QPolygonF"
            p.setPen(pen)
            p.drawPoints(tr.map(prim))
        p.restore()


# ----------------------------------------------------------------------------
# the view

class WheelContent(PlotContent):
    """What the feature wheel draws, as its ``settings`` (WheelSettings) say: the arrows or the binned
    spokes, the radius-group circles, the dead features, the labels and the key in the plot. ``show_data``: the
    data embeddings of the frame's dataset as a scatter overlay (only when a dataset is given; ``data_available``
    says whether the last frame had one). ``show_gaps`` ("gap needed", off by default): the needed against the
    actual angular gap of features inside their neighbours' chord (see the module doc); the selected features
    only when n > GAP_ALL_MAX."""

    SETTINGS = WheelSettings

    def __init__(self) -> None:
        super().__init__(aspect_locked=True)
        pi = self.plot_item
        self.circle_items: list[pg.PlotCurveItem] = []
        self.circle_labels = LabelPool(pi, cap=8, size_pt=7)
        self.data = pg.ScatterPlotItem(size=4, pen=None)
        self.data.setZValue(-3)
        self.data.setVisible(False)
        pi.addItem(self.data)
        self.arrows, self.heads, self.sel_under, self.sel_arrows = add_arrow_layers(pi, 5)
        self.tips = TipDots(3.0)
        self.tips.setZValue(6)
        pi.addItem(self.tips)
        self.dead_rings = pg.ScatterPlotItem(pxMode=True, symbol="o", brush=None)
        self.dead_rings.setZValue(9)
        self.dead_rings.setVisible(False)
        self._rings_key: tuple[bytes, bytes] | None = None  # (features, colours) the rings were built for
        pi.addItem(self.dead_rings)
        self.dead_label = pg.TextItem(anchor=(0, 0), color=(40, 40, 40))
        self.dead_label.setZValue(20)
        pi.addItem(self.dead_label, ignoreBounds=True)
        self.gap_chords = pg.PlotCurveItem(pen=pg.mkPen(GAP_PEN, width=1.2, style=Qt.PenStyle.DotLine))
        self.gap_arcs = pg.PlotCurveItem(pen=pg.mkPen(GAP_PEN, width=2.0))
        self.gap_rays = ColorPathsItem("stroke", width=1.6)  # per-feature colour, dashed below
        self.gap_needed_arcs = ColorPathsItem("stroke", width=2.4)
        for it in (self.gap_chords, self.gap_arcs, self.gap_rays, self.gap_needed_arcs):
            it.setZValue(8)
            pi.addItem(it, ignoreBounds=True)
        self.gap_labels = LabelPool(pi, cap=SELECTED_LABEL_MAX, size_pt=7)
        self.gap_drawn = np.zeros(0, dtype=np.int64)
        self.gap_shapes: dict = {}  # feature -> gap_geometry
        self._sep = None
        self.labels = LabelPool(pi)
        self.spoke_layers: dict[float, ColorPathsItem] = {}  # pen width -> the spokes of that width
        self.spokes: list[Spoke] = []
        self.related: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # selected i -> (j, W_i·W_j) drawn
        self.key_label = pg.TextItem(anchor=(0, 0), color=(70, 70, 70))
        self.key_label.setZValue(20)
        pi.addItem(self.key_label, ignoreBounds=True)
        self.bounds_item = ColorPathsItem()  # no paths: keeps the labels beyond the tips in view
        pi.addItem(self.bounds_item)
        self._W2: np.ndarray | None = None
        self.drawn_arrows = np.zeros(0, dtype=np.int64)
        self.dead_marked: list[int] = []
        self.shown_circles: list[float] = []
        self.data_points = 0
        self.data_available = False  # the last frame drawn had a finite dataset of this model's n

    # drawing -----------------------------------------------------------
    def _set_circles(self, radii: list[tuple[float, int]]):
        while len(self.circle_items) < len(radii):
            pen = pg.mkPen(CIRCLE_PEN, width=1.2, style=Qt.PenStyle.DashLine)
            it = pg.PlotCurveItem(pen=pen)
            it.setZValue(7.5)  # above the arrows: at large n the arrows fill the disk
            self.plot_item.addItem(it)
            self.circle_items.append(it)
        for it, (r, _) in zip(self.circle_items, radii, strict=False):  # more items than circles: the rest hidden
            it.setData(*circle_xy(r))
            it.setVisible(True)
        for it in self.circle_items[len(radii):]:
            it.setVisible(False)
            it.setData([], [])
        self.shown_circles = [r for r, _ in radii]
        c = np.cos(np.pi / 4)
        self.circle_labels.set([(f"r={r:.3g} ({k})", r * c, -r * c, CIRCLE_PEN, False) for r, k in radii[:8]]
                               if len(radii) > 1 else [])

    def binned(self, n: int) -> bool:
        """Whether a wheel of n features is drawn as angle-bin spokes (the ``arrows`` setting)."""
        mode = self._settings.arrows
        return mode == "binned" or (mode == "auto" and n > ARROWS_ALL_MAX)

    def _clear_spokes(self):
        for it in self.spoke_layers.values():
            it.clear()
        self.spokes = []
        self.related = {}
        self.key_label.setText("")

    def _clear(self):
        self._clear_spokes()
        for it in (self.arrows, self.heads, self.tips, self.sel_under, self.sel_arrows):
            it.clear()
        self.drawn_arrows = np.zeros(0, dtype=np.int64)
        self._set_circles([])
        self.dead_rings.setData([])
        self.dead_rings.setVisible(False)
        self._rings_key = None
        self.dead_label.setText("")
        self.labels.set([])
        self.data.setData([])
        self.data.setVisible(False)
        self._clear_gaps()
        self.set_note("")
        self._W2 = None
        self.dead_marked = []
        self.data_points = 0

    def draw(self, snap: Snapshot | None, frame: Frame | None) -> None:
        if not self._take(snap, frame):
            return
        assert snap is not None and frame is not None  # _take: a snapshot with features, of a frame
        n = snap.n
        st = self._settings
        W2 = plane_of(snap)[0]
        self._W2 = W2
        a = frame.view_analysis()
        colors = feature_colors_for(snap, frame)
        sel = selected_of(frame, n)
        binned = self.binned(n)
        if binned:
            drawn = self._draw_spokes(snap.W, W2, a, colors, sel)
        else:
            self._clear_spokes()
            drawn = self._draw_arrows(W2, colors, sel)
        self._set_circles(radius_circles(a))
        dead = self._draw_dead(W2, a, colors)
        self._draw_labels(W2, a, colors, sel, binned)
        ds = frame.dataset
        self._draw_data(snap, ds, colors)
        if st.show_gaps:
            self._draw_gaps(snap, frame, W2, colors, sel)
        else:
            self._clear_gaps()
        parts = [f"n = {n}", f"radius groups {len(a.radius_groups)}"]
        if binned:
            parts.append(self.key_label.toPlainText().replace("\n", "; "))
        elif len(drawn) < n:
            parts.append(f"arrows: {len(drawn)} of {n} (even in angle), every tip dotted")
        if len(dead):
            parts.append(f"{len(dead)} dead")
        if self.data_points and ds is not None:  # data points are drawn only from a dataset
            parts.append(f"{self.data_points} data points" + (f" (of {np.shape(ds)[0]})"
                                                               if np.shape(ds)[0] > self.data_points else ""))
        if st.show_gaps:
            parts.append(f"gap needed: {len(self.gap_drawn)} feature(s)" if len(self.gap_drawn) or len(sel) or
                         n <= GAP_ALL_MAX else "gap needed: select features")
        if getattr(a, "step", snap.step) != snap.step:  # the model's latest analysis, lent while this one computes
            parts.append(f"dead and groups as at step {a.step:,} (this step's analysis pending)")
        pt = plane_text(snap, frame)
        if pt:
            parts.append(pt)
        self.set_note("   ".join(parts))

    def _draw_arrows(self, W2, colors, sel) -> np.ndarray:
        """Arrows (a subsample above ARROWS_MAX), heads up to LABEL_MAX, dots at the tips above;
        returns the features whose arrows are drawn."""
        drawn = arrow_subset(W2)
        self.drawn_arrows = drawn
        draw_arrows(self, W2, drawn, colors, sel)
        if W2.shape[1] <= LABEL_MAX:
            self.tips.clear()
        else:
            self.tips.set_features(colors, W2[0], W2[1])
        return drawn

    def _draw_spokes(self, W, W2, a, colors, sel) -> np.ndarray:
        """Binned: one spoke per angle bin of the live features (width: count, alpha: length over
        the longest), the selected features' arrows with, for the first RELATED_SEL_MAX of them,
        the ``strongest`` others of largest overlap W_i·W_j (alpha: W_i·W_j / |W_i|^2), a dot at
        every tip; the key. Returns the features drawn as arrows of their own."""
        k = self._settings.strongest
        spokes = angle_spokes(W2, ~np.asarray(a.dead_mask, dtype=bool))
        self.spokes = spokes
        rmax = max((sp.length for sp in spokes), default=0.0)
        by_width: dict[float, list[Spoke]] = {}
        for sp in spokes:
            by_width.setdefault(spoke_width(len(sp.members)), []).append(sp)
        for w in sorted(set(by_width) - set(self.spoke_layers)):
            self.spoke_layers[w] = add_paths(self.plot_item, "lines", 4.0 + w / 100, w)  # under the arrows (5)
        for w, layer in self.spoke_layers.items():
            group = by_width.get(w, [])
            if not group:
                layer.clear()
                continue
            ang = np.array([sp.angle for sp in group])
            length = np.array([sp.length for sp in group])
            col = np.array(colors)[[int(sp.members[0]) for sp in group]]
            col[:, 3] = fade(length / max(rmax, 1e-300))
            segs = np.column_stack([np.zeros(len(group)), np.zeros(len(group)),
                                    length * np.cos(ang), length * np.sin(ang)])
            layer.set_features(col, *segments_xy(segs))
        self.related = {i: strongest_overlaps(W, i, k) for i in sel[:RELATED_SEL_MAX].tolist()}
        rel = np.concatenate([j for j, _ in self.related.values()] + [np.zeros(0, np.int64)])
        if len(rel):
            own = [np.full(len(j), max(float(W[:, i] @ W[:, i]), 1e-300)) for i, (j, _) in self.related.items()]
            col = np.array(colors)[rel]
            col[:, 3] = fade(np.concatenate([o for _, o in self.related.values()]) / np.concatenate(own))
            self.arrows.set_features(col, *segments_xy(arrow_segments(W2[:, rel])))
        else:
            self.arrows.clear()
        self.heads.clear()
        set_selected_arrows(self.sel_under, self.sel_arrows, arrow_segments(W2[:, sel]), colors[sel])
        self.tips.set_features(colors, W2[0], W2[1])
        self.key_label.setText(self._key_text(W2.shape[1], spokes, len(sel)))
        self.drawn_arrows = np.unique(np.r_[rel, sel]).astype(np.int64)
        return self.drawn_arrows

    def _key_text(self, n: int, spokes: list[Spoke], n_sel: int) -> str:
        """What the binned wheel draws, for the key in the plot and the note."""
        live = sum(len(sp.members) for sp in spokes)
        lines = [f"{len(spokes)} spokes for {live} live features ({360 / ANGLE_BINS:g}\u00b0 bins): "
                 "width = count, fade = length"]
        k = self._settings.strongest
        for i, (j, o) in self.related.items():
            what = (f"{len(j)} strongest of {n - 1}" if len(j) == k else
                    f"all {len(j)} of {n - 1} with a positive overlap" if len(j) else f"none of {n - 1} overlaps it")
            lines.append(f"feature {i + 1}: {what}" + (f" (W\u00b7W {o[0]:.3g} to {o[-1]:.3g})" if len(j) else ""))
        if n_sel > RELATED_SEL_MAX:
            lines.append(f"(strongest overlaps of the first {RELATED_SEL_MAX} selected)")
        if not n_sel:
            lines.append(f"{min(k, len(spokes), LABEL_MAX)} strongest of {len(spokes)} spokes labelled "
                         "(sum |W|\u00b2); select a feature for its strongest overlaps")
        return "\n".join(lines)

    def _draw_dead(self, W2, a, colors) -> np.ndarray:
        """Dead features: hollow rings at the origin and a label; returns them."""
        dead = np.nonzero(a.dead_mask)[0]
        self.dead_marked = dead.tolist()
        if len(dead):
            ring = dead[:DEAD_RINGS_MAX]
            # the rings sit at the origin: they change with the dead set and its colours, not with the step
            # (a scrub through a run with dead features rebuilt them every frame: ~1 ms of pens and spots)
            key = (ring.tobytes(), np.asarray(colors)[ring].tobytes())
            if key != self._rings_key or not self.dead_rings.isVisible():
                self._rings_key = key
                self.dead_rings.setData(pos=np.zeros((len(ring), 2)), size=14 + 7 * np.arange(len(ring)),
                                        pen=[pg.mkPen(qcolor(colors[i]), width=2.5) for i in ring],
                                        brush=None, symbol="o")
                self.dead_rings.setVisible(True)
            self.dead_label.setText(dead_text(dead))
            r = max(float(np.max(np.hypot(W2[0], W2[1]))), 1e-9)
            self.dead_label.setPos(0.04 * r, -0.04 * r)
        elif self.dead_rings.isVisible():
            self._rings_key = None
            self.dead_rings.setData([])
            self.dead_rings.setVisible(False)
            self.dead_label.setText("")
        return dead

    def _draw_labels(self, W2, a, colors, sel, binned: bool) -> None:
        """The live features' numbers up to LABEL_MAX (else the selected ones'), the binned wheel's
        (_spoke_labels); the auto-range bounds."""
        n = W2.shape[1]
        rmax = float(np.max(np.hypot(W2[0], W2[1]))) if n else 1.0
        R = nice_ceil(1.15 * max(rmax, max([r for r, _ in radius_circles(a)], default=0.0), 1e-9))
        self.bounds_item.set_bounds((-R, R, -R, R))
        self.key_label.setPos(-R, R)
        if binned:
            self.labels.set(self._spoke_labels(W2, colors, sel, rmax, R))
            return
        lab = np.arange(n) if n <= LABEL_MAX else sel[:SELECTED_LABEL_MAX]
        lab = lab[~a.dead_mask[lab]] if n <= LABEL_MAX else lab
        pos = label_positions(W2[:, lab], 0.08 * max(rmax, 1e-9))
        selset = set(sel.tolist())
        dark = label_colors(colors[lab])
        self.labels.set([(str(i + 1), px, py, dark[t], i in selset)
                         for t, (i, (px, py)) in enumerate(zip(lab.tolist(), pos, strict=True))])

    def _spoke_labels(self, W2, colors, sel, rmax, R) -> list:
        """Binned: the selected features (bold) and their strongest overlaps, or without a selection
        the ``strongest`` spokes (at most LABEL_MAX); labels closer than LABEL_MERGE * R merged into
        "first ×count" (count: the features at that place)."""
        off = 0.08 * max(rmax, 1e-9)
        sel = sel[:SELECTED_LABEL_MAX]
        ids, counts, bold = sel.tolist(), [1] * len(sel), [True] * len(sel)
        pos = [label_positions(W2[:, sel], off)]
        if self.related:
            seen = set(ids)
            rel = []
            for js, _ in self.related.values():
                for j in js.tolist():
                    if j not in seen:  # a feature related to two selected ones is labelled once
                        seen.add(j)
                        rel.append(j)
            ids += rel
            counts += [1] * len(rel)
            bold += [False] * len(rel)
            pos.append(label_positions(W2[:, np.asarray(rel, dtype=np.int64)], off))
        elif not len(sel):
            top = [self.spokes[t] for t in strongest_spokes(self.spokes, min(self._settings.strongest, LABEL_MAX))]
            ids = [int(sp.members[0]) for sp in top]
            counts, bold = [len(sp.members) for sp in top], [False] * len(top)
            pos = [np.array([[(sp.length + off) * math.cos(sp.angle), (sp.length + off) * math.sin(sp.angle)]
                             for sp in top]).reshape(-1, 2)]
        xy = np.vstack(pos) if ids else np.zeros((0, 2))
        dark = label_colors(colors[np.asarray(ids, dtype=np.int64)])
        out = []
        for g in merge_labels(xy, LABEL_MERGE * R):
            c = sum(counts[t] for t in g)
            t = g[0]
            out.append((f"{ids[t] + 1}" + (f" \u00d7{c}" if c > 1 else ""), xy[t, 0], xy[t, 1], dark[t], bold[t]))
        return out

    def _draw_data(self, snap, ds, colors) -> None:
        """The data embeddings of ``ds`` (the finite dataset), when there is one and they are on."""
        have = ds is not None and np.ndim(ds) == 2 and np.shape(ds)[1] == snap.n
        self.data_available = bool(have)
        if have and self._settings.show_data:
            H, owner = data_embeddings(snap, ds)
            grp, gcol = color_groups(colors)
            brushes = np.array([pg.mkBrush(qcolor(c, 150)) for c in gcol] + [pg.mkBrush(120, 120, 120, 150)],
                               dtype=object)
            g = np.where(owner >= 0, grp[np.maximum(owner, 0)], len(gcol))
            self.data.setData(pos=H, brush=brushes[g], size=4, pen=None)
            self.data.setVisible(True)
            self.data_points = H.shape[0]
        elif self.data.isVisible():
            self.data.setData([])
            self.data.setVisible(False)
            self.data_points = 0

    def _clear_gaps(self):
        for it in (self.gap_chords, self.gap_arcs):
            it.setData([], [])
        self.gap_rays.clear()
        self.gap_needed_arcs.clear()
        self.gap_labels.set([])
        self.gap_drawn = np.zeros(0, dtype=np.int64)
        self.gap_shapes = {}
        self._sep = None

    def _draw_gaps(self, snap, frame, W2, colors, sel):
        sep = separability_of(frame)
        self._sep = sep
        feats = gap_features(sep, sel)
        shapes = {i: gap_geometry(sep, i, W2) for i in feats.tolist()}
        self.gap_shapes = shapes
        self.gap_drawn = feats
        if not shapes:
            self._clear_gaps()
            self._sep = sep
            return
        g = list(shapes.values())
        self.gap_chords.setData(*segments_xy(np.array([s["chord"] for s in g])), connect="pairs")
        ax, ay, acon = _polylines_xy([s["actual_arc"] for s in g])
        self.gap_arcs.setData(ax, ay, connect=acon)
        # rays: one open two-point path per ray (each feature owns 2 rays = 4 points)
        rx, ry, rcon = _polylines_xy([seg.reshape(2, 2) for s in g for seg in s["rays"]])
        self.gap_rays.set_features(colors[feats], rx, ry, rcon, np.full(len(feats), 4))
        nx, ny, ncon = _polylines_xy([s["needed_arc"] for s in g])
        self.gap_needed_arcs.set_features(colors[feats], nx, ny, ncon, np.full(len(feats), ARC_POINTS))
        for it in (self.gap_rays, self.gap_needed_arcs):  # dashed copies (the item's pens are shared)
            it._items = [(_dashed(pen), br, prim) for pen, br, prim in it._items]
        deg = math.degrees
        dark = label_colors(colors[feats])
        labs = []
        for t, i in enumerate(feats.tolist()):
            s = shapes[i]
            r = float(sep.radius[i])
            lab = (f"need {deg(sep.needed_half_gap[i]):.1f}\u00b0, "
                   f"have {deg(sep.half_gap[i]):.1f}\u00b0")
            # just outside the actual arc, half-way from W_i to its next neighbour (off the arrows)
            th = s["theta"] + 0.5 * float(sep.gap_after[i])
            labs.append((lab, 0.7 * r * math.cos(th), 0.7 * r * math.sin(th), dark[t], False))
        self.gap_labels.set(labs)


class FeatureWheelView(PlotPanel):
    """The feature wheel in the window: its WheelContent under the settings' controls (data embeddings, the
    arrows drop-down, the strongest spin box, gap needed). Hover says the feature under the pointer (W, |W|,
    b; with the gaps drawn, its gap evidence) in the status line, following the frame; a click selects it."""

    CONTENT = WheelContent
    content: WheelContent  # PlotPanel builds it from CONTENT

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.data_box = self.add_setting_toggle("show_data", "data",  # short: the row sets the dock's minimum
                                                "data embeddings: h_t = W x_t of the finite dataset (the run's dataset)")
        self.data_box.setEnabled(False)
        self.arrows_combo = self.add_setting_choice(
            "arrows", {"auto": "arrows: auto", "all": "arrows: all", "binned": "arrows: binned"},
            f"auto: every feature its own arrow up to {ARROWS_ALL_MAX} features, binned above;\n"
            f"binned: one spoke per {360 // ANGLE_BINS}\u00b0 of angle, thicker the more features it holds, "
            "faded by its length")
        self.strongest_spin = QSpinBox()
        self.strongest_spin.setRange(0, STRONGEST_MAX)
        self.strongest_spin.setValue(self.settings.strongest)
        self.strongest_spin.setPrefix("top ")  # short: the toolbar row sets the dock's minimum width
        self.strongest_spin.setToolTip(
            "Binned: how many spokes are labelled (largest sum of |W_i|\u00b2), and for a selected feature i\n"
            "how many others of largest overlap W_i\u00b7W_j are drawn as arrows and labelled")
        self.strongest_spin.valueChanged.connect(lambda v: self._change_setting("strongest", int(v)))
        self.toolbar.insertWidget(self.toolbar.count() - 2, self.strongest_spin)
        self.gap_box = self.add_setting_toggle(
            "show_gaps", "gap needed",
            "For a feature inside the circle of its neighbours u, v (the other live features' hull edge\n"
            "across its direction): grey arc = the actual gap between u and v, dotted line = the chord u-v,\n"
            "dashed rays and inner arc in its colour = the gap it would need to lie outside that chord\n"
            "(arccos(r/R) each side for equal radii). Needed wider than actual: not linearly separable.")
        self._hover_xy: tuple[float, float] | None = None  # the pointer's last place in plot coordinates

    def set_frame(self, frame: Frame | None) -> None:
        super().set_frame(frame)
        self._drawn()

    def set_settings(self, st: object) -> None:
        super().set_settings(st)
        self._drawn()

    def _drawn(self) -> None:
        """After a draw: the data toggle offered only with a dataset; the hover line names a feature of
        the model and step shown now (none once the wheel is cleared)."""
        self.data_box.setEnabled(self.content.data_available)
        if self.content._W2 is None:
            self._hover_xy = None
        elif self._hover_xy is not None:
            self._hovered(*self._hover_xy)

    def _show_settings(self) -> None:
        super()._show_settings()
        if self.strongest_spin.value() != self.settings.strongest:
            self.strongest_spin.setValue(self.settings.strongest)

    # interaction -------------------------------------------------------
    def feature_at(self, x: float, y: float) -> int:
        """The arrow within CLICK_PX pixels of (x, y) (nearest), or -1."""
        W2 = self.content._W2
        if W2 is None or W2.shape[1] == 0:
            return -1
        d = point_segment_distance(arrow_segments(W2), x, y)
        k = int(np.argmin(d))
        return k if d[k] <= CLICK_PX * max(self.content.view_pixel_size()) else -1

    def _clicked(self, x, y):
        k = self.feature_at(x, y)
        if k >= 0:
            self.featureClicked.emit(k)

    def _hovered(self, x, y):
        self._hover_xy = (x, y)
        k = self.feature_at(x, y)
        c = self.content
        snap, frame = c._snap, c.frame
        if k >= 0 and snap is not None:
            w = c._W2[:, k]
            losses = getattr(frame, "losses", None)
            model = (f"model {getattr(frame, 'model', 0)}, step {snap.step:,}: "
                     if losses is not None and np.ndim(losses) == 2 and np.shape(losses)[1] > 1 else "")
            text = (f"{model}feature {k + 1}: W = ({w[0]:.4g}, {w[1]:.4g}), |W| = {np.hypot(*w):.4g}, "
                    f"b = {snap.b[k]:.4g}")
            if self.settings.show_gaps and c._sep is not None:
                text += "   |   " + c._sep.describe(k)
            self.status.setText(text)
        else:
            self.status.setText(f"h = ({x:.4g}, {y:.4g})")
