"""The six 2D views and what they share.

Every view is a QWidget with ``set_frame(frame)`` (redraw from a model.analysis.frame.Frame,
None clears), a ``featureClicked(int)`` signal (0-based feature index) and pure
module-level helpers that compute what it draws (testable without pixels):

    zones    widgets.zone_map.ZoneMapView         latent-zone map (h-space)
    wheel    widgets.feature_wheel.FeatureWheelView  W_i arrows, dead, radius groups, data
    gram     widgets.gram_view.GramView           W^T W + b heatmap, row maxima
    bias     widgets.bias_view.BiasNormView       b_i and |W_i| bars
    loss     widgets.loss_view.LossView           loss curves of all K models (log y)
    verdict  widgets.verdict_panel.VerdictPanel   per-feature table + verdict
    history  widgets.feature_history.FeatureHistoryView  |W_i|, b_i, D_i, sliver share over the run

``make_views()`` returns one of each, keyed as above. This module holds the
pieces they share: the plot panel (toolbar row, plot, status line, click and
hover plumbing), a coloured-path item that draws thousands of features in a
few paint calls, colour grouping and the plane for m != 2. A view computes no
analysis: it asks the frame (Frame.view_analysis, Frame.separability). The view classes are importable from here too (lazily, so the
view modules can import this one).
"""
from __future__ import annotations

import html
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPoint, QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QFont, QPainter, QPen
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsTextItem,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from model.analysis import geometry as geo
from model.snapshot import Snapshot, not_finite_message
from resources import palette
from views import registry

from .live_text import LiveText

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent

    from model.analysis.frame import Frame

#: Above this many features no per-feature text labels are drawn (selected ones still are).
LABEL_MAX = 40
#: At most this many selected features get a text label.
SELECTED_LABEL_MAX = 40
#: Coloured paths are drawn in at most this many colour groups (see color_groups).
MAX_COLOR_GROUPS = 64
#: The background of every plot (the seed's figures are on white).
BACKGROUND = (255, 255, 255, 255)
#: Outline colour of highlighted (selected) features.
OUTLINE = (20, 20, 20, 255)

#: The 2D views (views.registry's views drawn without GL), in the registry's order.
VIEW_KEYS = tuple(v.key for v in registry.VIEWS if not v.gl)


def make_views(parent: QWidget | None = None) -> dict[str, QWidget]:
    """One of each 2D view (views.registry, GL views aside), keyed as the registry names them."""
    return {key: registry.view_class(key)(parent) for key in VIEW_KEYS}


def __getattr__(name: str) -> type:  # lazy re-export of the view classes (PEP 562)
    for v in registry.VIEWS:
        if not v.gl and v.widget.endswith(":" + name):
            return registry.view_class(v.key)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------
# pure helpers (no Qt)

def feature_colors_for(snap: Snapshot, frame: Frame | None) -> np.ndarray:
    """(n, 4) uint8: the frame's colours when they fit the snapshot, else the palette's colours."""
    c = None if frame is None else frame.colors
    return palette.colors_for(snap.n, c, lambda: plane_of(snap)[0])


def plane_of(snap: Snapshot) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(W2 (2, n), decoder2 (n, 2) or None when tied, description) of the drawn plane.

    m = 2: W itself. m != 2: geometry.project (top two principal directions).
    On that plane p(h) = decoder2 h + b (W2^T h + b when tied).
    """
    U, desc = geo.plane_basis(snap.W)
    W2 = snap.W if snap.m == 2 else U.T @ snap.W
    D2 = None if snap.M is None else snap.M @ U
    return np.ascontiguousarray(W2), D2, desc


def plane_text(snap: Snapshot | None, frame: Frame | None) -> str:
    """The small plane note shown by the h-space views: '' for m = 2."""
    if snap is None or snap.m == 2:
        return ""
    txt = frame.plane if frame is not None else ""
    return txt or plane_of(snap)[2]


def selected_of(frame: Frame | None, n: int) -> np.ndarray:
    """Sorted valid 0-based indices of the frame's selection."""
    sel = frame.selected if frame is not None else None
    if not sel:
        return np.zeros(0, dtype=np.int64)
    a = np.array(sorted(int(i) for i in sel), dtype=np.int64)
    return a[(a >= 0) & (a < n)]


def color_groups(colors: np.ndarray, max_groups: int = MAX_COLOR_GROUPS) -> tuple[np.ndarray, np.ndarray]:
    """Group features by colour so thousands of them draw in a few paint calls.

    Returns (group (n,) int, group_colors (G, 4) uint8). Features with equal
    RGBA share a group; when there are more than ``max_groups`` distinct
    colours, channels are coarsened (low bits dropped) until at most
    max_groups remain, and a group is drawn in its first member's colour, so a
    feature's drawn colour is within 2^s - 1 per channel of frame.colors[i]
    (s = bits dropped; about 2-5 at n = 10,000, where neighbours in angle share
    a hue anyway).
    """
    c = np.ascontiguousarray(np.asarray(colors, dtype=np.uint8).reshape(-1, 4))
    n = c.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 4), np.uint8)
    c32 = c.astype(np.uint32)
    for s in range(0, 8):
        q = c32 >> s
        key = (q[:, 0] << 24) | (q[:, 1] << 16) | (q[:, 2] << 8) | q[:, 3]
        uk, first, inv = np.unique(key, return_index=True, return_inverse=True)
        if len(uk) <= max_groups:
            break
    out = (inv.astype(np.int64).ravel(), c[first])
    out[0].setflags(write=False)
    out[1].setflags(write=False)
    return out


_PEN_CACHE: dict = {}


def segments_xy(segs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(k, 4) segments (x0, y0, x1, y1) -> interleaved x, y for connect='pairs'."""
    s = np.asarray(segs, dtype=np.float64).reshape(-1, 4)
    return s[:, [0, 2]].ravel(), s[:, [1, 3]].ravel()


def polygons_xy(polys: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A list of (k, 2) polygons -> (x, y, connect) for one path of closed subpaths."""
    polys = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polys]
    polys = [p for p in polys if p.shape[0] >= 2]
    if not polys:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int32)
    closed = [np.vstack([p, p[:1]]) for p in polys]
    pts = np.vstack(closed)
    con = np.ones(pts.shape[0], dtype=np.int32)
    ends = np.cumsum([len(p) for p in closed]) - 1
    con[ends] = 0
    return pts[:, 0], pts[:, 1], con


def rects_xy(x0: ArrayLike, x1: ArrayLike, y0: ArrayLike, y1: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Axis-aligned rectangles (arrays) -> (x, y, connect) of closed subpaths."""
    x0, x1, y0, y1 = (np.asarray(v, dtype=np.float64).ravel() for v in (x0, x1, y0, y1))
    k = x0.size
    xs = np.stack([x0, x1, x1, x0, x0], axis=1).ravel()
    ys = np.stack([y0, y0, y1, y1, y0], axis=1).ravel()
    con = np.tile(np.array([1, 1, 1, 1, 0], dtype=np.int32), k)
    return xs, ys, con


def point_segment_distance(segs: np.ndarray, x: float, y: float) -> np.ndarray:
    """(k,) Euclidean distance of (x, y) to each segment (x0, y0, x1, y1)."""
    s = np.asarray(segs, dtype=np.float64).reshape(-1, 4)
    ax, ay, bx, by = s.T
    dx, dy = bx - ax, by - ay
    L2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(L2 > 0, ((x - ax) * dx + (y - ay) * dy) / np.where(L2 > 0, L2, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    px, py = ax + t * dx, ay + t * dy
    return np.hypot(x - px, y - py)


_NICE = np.array([1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0])


def nice_ceil(x: float) -> float:
    """The smallest 'nice' number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of 10) >= x > 0.

    Views round their auto-range bounds with it so the range (and pyqtgraph's
    cached axis pictures, ~3 ms per axis to regenerate) stays put between frames.
    """
    x = float(x)
    if not np.isfinite(x) or x <= 0:
        return 1.0
    e = np.floor(np.log10(x))
    m = x / 10 ** e
    k = int(np.searchsorted(_NICE, m * (1 - 1e-12), side="left"))
    return float(f"{_NICE[min(k, len(_NICE) - 1)] * 10 ** e:.12g}")


def nice_range(lo: float, hi: float) -> tuple[float, float]:
    """(lo, hi) widened to nice numbers on both sides of 0 (0 included)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    a = -nice_ceil(-lo) if lo < 0 else 0.0
    b = nice_ceil(hi) if hi > 0 else 0.0
    if a == b:
        b = 1.0
    return a, b


def fmt_num(x: float, digits: int = 4) -> str:
    x = float(x)
    if not np.isfinite(x):
        return "-" if np.isneginf(x) else str(x)
    return f"{x:.{digits}g}"


def ranges_text(one_based: Sequence[int], max_chars: int = 60) -> str:
    """[1, 2, 3, 5] -> '1-3, 5'; a count when the text would be longer than max_chars."""
    v = np.unique(np.asarray(one_based, dtype=np.int64).ravel())
    if v.size == 0:
        return "none"
    brk = np.nonzero(np.diff(v) != 1)[0]
    starts = np.concatenate([[0], brk + 1])
    ends = np.concatenate([brk, [v.size - 1]])
    if len(starts) * 2 > max_chars:  # every run takes at least 2 characters
        return f"{v.size} features"
    txt = ", ".join(str(v[a]) if a == b else f"{v[a]}-{v[b]}" for a, b in zip(starts.tolist(), ends.tolist(), strict=True))
    return txt if len(txt) <= max_chars else f"{v.size} features"


# ----------------------------------------------------------------------------
# Qt helpers

def qcolor(c: ArrayLike, alpha: int | None = None) -> QColor:
    c = [int(v) for v in np.asarray(c).ravel()[:4]]
    if len(c) == 3:
        c.append(255)
    if alpha is not None:
        c[3] = int(alpha)
    return QColor(c[0], c[1], c[2], c[3])


def _qpolygonf(x: np.ndarray, y: np.ndarray):
    """A QPolygonF filled from numpy without a Python loop."""
    poly = pg.functions.create_qpolygonf(len(x))
    arr = pg.functions.ndarray_from_qpolygonf(poly)
    arr[:, 0] = x
    arr[:, 1] = y
    return poly


class ColorPathsItem(pg.GraphicsObject):
    """Many features' shapes in a few paint calls: one primitive per colour group.

    mode "lines": segments (point pairs) drawn with QPainter.drawLines and a
    cosmetic pen of ``width`` pixels; "points": one point per feature, a square
    dot of ``width`` pixels; "stroke": paths (polylines, closed subpaths)
    stroked; "fill": closed subpaths filled (winding, so overlapping subpaths of
    one group do not cancel), outlined when ``outline`` is a colour.

    Qt's rasteriser is slow on one path with thousands of subpaths (seconds for
    10,000 rectangles) and on long 1-pixel lines, so callers keep fill paths
    small (few subpaths per group) and big line sets short or subsampled.
    """

    MODES = ("lines", "points", "stroke", "fill")

    def __init__(self, mode: str = "lines", width: float = 1.5, outline: ArrayLike | None = None):
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode
        self.width = float(width)
        self.outline = outline
        self._items: list[tuple[QPen, QBrush, object]] = []
        self._bounds = None  # (x0, x1, y0, y1)
        self._rect = QRectF()
        self._padded = None
        self._groups = None  # (colours, max_groups, color_groups' answer): colours change per run, not per frame

    def clear(self) -> None:
        if self._items or self._bounds is not None:
            self.set_paths([], None)

    def _pen(self, col) -> QPen:
        key = (bytes(np.asarray(col, dtype=np.uint8).ravel()[:4]) if not isinstance(col, QColor) else col.rgba(),
               self.width, self.mode == "points")
        pen = _PEN_CACHE.get(key)
        if pen is None:
            pen = QPen(col if isinstance(col, QColor) else qcolor(col))
            pen.setWidthF(self.width)
            pen.setCosmetic(True)
            pen.setCapStyle(Qt.PenCapStyle.SquareCap if self.mode == "points" else Qt.PenCapStyle.FlatCap)
            if len(_PEN_CACHE) > 4096:
                _PEN_CACHE.clear()
            _PEN_CACHE[key] = pen
        return pen

    def set_paths(self, groups: Sequence[tuple[object, object]], bounds: Sequence[float] | None) -> None:
        """groups: [(rgba, primitive)], primitive a QPainterPath (stroke/fill) or a
        QPolygonF (lines: point pairs; points); bounds: (x0, x1, y0, y1) or None."""
        self.prepareGeometryChange()
        items = []
        nobrush = QBrush(Qt.BrushStyle.NoBrush)
        for col, prim in groups:
            if self.mode != "fill":
                items.append((self._pen(col), nobrush, prim))
                continue
            qc = col if isinstance(col, QColor) else qcolor(col)
            if self.outline is not None:
                pen = QPen(qcolor(self.outline))
                pen.setWidthF(self.width)
                pen.setCosmetic(True)
            else:
                pen = QPen(Qt.PenStyle.NoPen)
            prim.setFillRule(Qt.FillRule.WindingFill)
            items.append((pen, QBrush(qc), prim))
        self._items = items
        self._bounds = None if bounds is None else tuple(float(v) for v in bounds)
        if self._bounds is None or not all(np.isfinite(self._bounds)):
            self._bounds = None
            self._rect = QRectF()
        else:
            x0, x1, y0, y1 = self._bounds
            self._rect = QRectF(x0, y0, max(x1 - x0, 1e-12), max(y1 - y0, 1e-12))
        self.informViewBoundsChanged()
        self.update()

    def set_features(self, colors: np.ndarray, x: np.ndarray, y: np.ndarray, connect: str | np.ndarray | None = None,
                     counts: np.ndarray | None = None, max_groups: int = MAX_COLOR_GROUPS) -> None:
        """Per-feature geometry, flat: feature f owns ``counts[f]`` consecutive points.

        lines: 2 points per segment; points: 1 per feature; stroke/fill: closed
        subpaths with ``connect`` an int32 array aligned with x and y (see
        polygons_xy / rects_xy). Features are grouped by colour (color_groups)
        and each group becomes one primitive.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        colors = np.asarray(colors, dtype=np.uint8).reshape(-1, 4)
        if counts is None:
            counts = np.full(colors.shape[0], {"lines": 2, "points": 1}.get(self.mode, 1), dtype=np.int64)
        counts = np.asarray(counts, dtype=np.int64)
        n = counts.size
        if n == 0 or x.size == 0:
            self.set_paths([], None)
            return
        grp, gcol = self._color_groups(colors, max_groups)
        owner = np.repeat(np.arange(n), counts)
        go = grp[owner]
        order = np.argsort(go, kind="stable")
        g_sorted = go[order]
        xs, ys = x[order], y[order]
        con = None if connect is None or isinstance(connect, str) else np.asarray(connect, dtype=np.int32)[order]
        bnd = np.searchsorted(g_sorted, np.arange(len(gcol) + 1))
        groups = []
        for g in range(len(gcol)):
            a, b = bnd[g], bnd[g + 1]
            if b <= a:
                continue
            if self.mode in ("lines", "points"):
                prim = _qpolygonf(xs[a:b], ys[a:b])
            elif con is None:
                prim = pg.arrayToQPath(xs[a:b], ys[a:b], connect="all", finiteCheck=False)
            else:
                cc = con[a:b].copy()
                cc[-1] = 0
                prim = pg.arrayToQPath(xs[a:b], ys[a:b], connect=cc, finiteCheck=False)
            groups.append((gcol[g], prim))
        fin = np.isfinite(x) & np.isfinite(y)
        bounds = (x[fin].min(), x[fin].max(), y[fin].min(), y[fin].max()) if fin.any() else None
        self.set_paths(groups, bounds)

    def _color_groups(self, colors: np.ndarray, max_groups: int):
        """color_groups(colors, max_groups), computed again only when the colours change."""
        hit = self._groups
        if hit is not None and hit[1] == max_groups and np.array_equal(hit[0], colors):
            return hit[2]
        out = color_groups(colors, max_groups)
        self._groups = (colors.copy(), max_groups, out)
        return out

    def set_bounds(self, bounds: Sequence[float]) -> None:
        """Override the data bounds (x0, x1, y0, y1) used by auto-range.

        A no-op when unchanged; an item without paths schedules no repaint (its
        rectangle may reach over the axes, which would then repaint too)."""
        x0, x1, y0, y1 = (float(v) for v in bounds)
        if self._bounds == (x0, x1, y0, y1):
            return
        self.prepareGeometryChange()
        self._bounds = (x0, x1, y0, y1)
        self._rect = QRectF(x0, y0, max(x1 - x0, 1e-12), max(y1 - y0, 1e-12)) if self._items else QRectF()
        self.informViewBoundsChanged()
        if self._items:
            self.update()

    def group_count(self) -> int:
        return len(self._items)

    def boundingRect(self) -> QRectF:
        if self._rect.isNull():
            return QRectF()
        if self._padded is None:
            # cosmetic pens draw (width / 2 + 1) pixels beyond the geometry: pad by that in view units
            pad = self.width / 2 + 1 if (self.mode != "fill" or self.outline is not None) else 1.0
            px, py = self.pixelWidth(), self.pixelHeight()
            px = px if np.isfinite(px) else 0.0
            py = py if np.isfinite(py) else 0.0
            self._padded = self._rect.adjusted(-pad * px, -pad * py, pad * px, pad * py)
        return QRectF(self._padded)

    def prepareGeometryChange(self) -> None:
        self._padded = None
        super().prepareGeometryChange()

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()  # the pixel padding depends on the zoom

    def dataBounds(self, ax: int, frac: float = 1.0,
                   orthoRange: Sequence[float] | None = None) -> tuple[float, float] | None:
        if self._bounds is None:
            return None
        return (self._bounds[0], self._bounds[1]) if ax == 0 else (self._bounds[2], self._bounds[3])

    def paint(self, p: QPainter, *args: object) -> None:
        if not self._items:
            return
        mode = self.mode
        for pen, brush, prim in self._items:
            p.setPen(pen)
            if mode == "lines":
                p.drawLines(prim)
            elif mode == "points":
                p.drawPoints(prim)
            else:
                p.setBrush(brush)
                p.drawPath(prim)


def add_paths(plot_item: pg.PlotItem, kind: str, z: float, width: float = 1.0) -> ColorPathsItem:
    """A ColorPathsItem at depth z, added to the plot (the views' layers of arrows and heads)."""
    item = ColorPathsItem(kind, width=width) if kind != "fill" else ColorPathsItem(kind)
    item.setZValue(z)
    plot_item.addItem(item)
    return item


def label_colors(colors: np.ndarray) -> np.ndarray:
    """(k, 4) uint8: feature colours darkened for text labels (opaque)."""
    dark = np.clip(np.asarray(colors).astype(int) * 0.7, 0, 255).astype(np.uint8)
    dark[:, 3] = 255
    return dark


def set_selected_arrows(under: ColorPathsItem, over: ColorPathsItem, segs: np.ndarray,
                        colors: np.ndarray) -> None:
    """The selected features' arrows ``segs`` (k, 4): a dark underlay and their colours on top."""
    if len(colors):
        x, y = segments_xy(segs)
        under.set_features(np.tile(np.array(OUTLINE, np.uint8), (len(colors), 1)), x, y, max_groups=1)
        over.set_features(colors, x, y)
    else:
        under.clear()
        over.clear()


def add_arrow_layers(plot_item: pg.PlotItem, z: float) -> tuple[ColorPathsItem, ColorPathsItem, ColorPathsItem,
                                                                ColorPathsItem]:
    """The four layers every arrow view draws: shafts, heads, and the selected
    arrows' white underlay and coloured shaft on top. Returns them in that order."""
    return (add_paths(plot_item, "lines", z, 2.0), add_paths(plot_item, "fill", z + 1),
            add_paths(plot_item, "lines", z + 2, 5.0), add_paths(plot_item, "lines", z + 3, 3.0))


class LabelsItem(pg.GraphicsObject):
    """Text labels at data points, centred, in screen pixels (not scaled with zoom),
    all drawn by one item in one paint call: cheaper than a pg.TextItem per label
    (each of which relayouts and re-transforms on every move)."""

    def __init__(self, size_pt: int = 8):
        super().__init__()
        self._font = QFont()
        self._font.setPointSize(size_pt)
        self._bold = QFont(self._font)
        self._bold.setBold(True)
        self._labels: list[tuple[str, float, float, QColor, bool]] = []
        self.setZValue(50)

    def set_point_size(self, size_pt: float) -> None:
        """The labels' font size in points (export sets it with the figure's font size)."""
        self._font.setPointSizeF(float(size_pt))
        self._bold.setPointSizeF(float(size_pt))
        self.prepareGeometryChange()
        self.update()

    def set_labels(self, labels: Iterable[tuple[str, float, float, ArrayLike, bool]]) -> None:
        self._labels = [(str(t), float(x), float(y), qcolor(c), bool(bd)) for t, x, y, c, bd in labels]
        self.prepareGeometryChange()
        self.update()

    def boundingRect(self) -> QRectF:
        """The labels' points padded by a text box (in pixels), inside the view less a
        3-pixel margin (an update region touching the axes would repaint them too)."""
        vr = self.viewRect()
        if vr is None or not self._labels:
            return QRectF()
        vb = self.getViewBox()
        px, py = (abs(v) for v in vb.viewPixelSize()) if vb is not None else (0.0, 0.0)
        xs = [t[1] for t in self._labels]
        ys = [t[2] for t in self._labels]
        r = QRectF(min(xs) - 64 * px, min(ys) - 12 * py, max(xs) - min(xs) + 128 * px, max(ys) - min(ys) + 24 * py)
        inner = vr.adjusted(3 * px, 3 * py, -3 * px, -3 * py)
        return r.intersected(inner)

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Sequence[float] | None = None) -> None:
        return None

    def viewRangeChanged(self) -> None:
        self.prepareGeometryChange()

    def paint(self, p: QPainter, *args: object) -> None:
        if not self._labels:
            return
        tr = p.transform()
        p.save()
        p.resetTransform()
        cur = None
        for txt, x, y, col, bold in self._labels:
            f = self._bold if bold else self._font
            if f is not cur:
                p.setFont(f)
                cur = f
            pt = tr.map(QPointF(x, y))
            p.setPen(col)
            p.drawText(QRectF(pt.x() - 60, pt.y() - 10, 120, 20), int(Qt.AlignmentFlag.AlignCenter), txt)
        p.restore()


class LabelPool:
    """Labels of one plot (at most ``cap``): text, data position, colour, bold; one LabelsItem."""

    def __init__(self, plot_item: pg.PlotItem, cap: int = LABEL_MAX + SELECTED_LABEL_MAX, size_pt: int = 8):
        self.plot_item = plot_item
        self.cap = cap
        self.item = LabelsItem(size_pt)
        plot_item.addItem(self.item, ignoreBounds=True)
        self.shown = 0
        self._labels = []

    def set(self, labels: Sequence[tuple[str, float, float, ArrayLike, bool]]) -> None:
        """labels: [(text, x, y, rgba, bold)], centred at (x, y)."""
        labels = list(labels)[: self.cap]
        if labels or self._labels:
            self.item.set_labels(labels)
        self._labels = labels
        self.shown = len(labels)

    def texts(self) -> list[str]:
        return [str(t[0]) for t in self._labels]


def no_si_prefix(axis: pg.AxisItem) -> None:
    """Turn pyqtgraph's automatic SI prefix off on ``axis`` (it labelled a log loss axis
    "loss (x0.001)" over rescaled ticks). 0.14's enableAutoSIPrefix(False) keeps the scale
    it last computed, so the scale and the prefix are reset too."""
    axis.enableAutoSIPrefix(False)
    axis.autoSIPrefixScale = 1.0
    axis.labelUnitPrefix = ""
    axis._updateLabel()


def steady_axes(plot: pg.PlotItem) -> None:
    """Axes that widen for longer tick labels but never narrow again: pyqtgraph's default shrinks an
    axis whose labels got shorter, and in an aspect-locked plot the wider view then gets longer labels
    again, which widens the axis: the plot re-laid itself out and repainted forever (a scrubbed window
    stopped responding)."""
    for name in ("left", "bottom", "right", "top"):
        ax = plot.getAxis(name)
        if ax is not None:
            ax.setStyle(autoReduceTextSpace=False)


def log_ticks_at(axis: pg.AxisItem, values: Iterable[float]) -> None:
    """Major ticks of a log-x axis at exactly ``values`` (e.g. dataset sizes T), labelled with
    the numbers themselves, no minor labels (pyqtgraph's crowd into "4·10⁵·10⁶·10...")."""
    vals = sorted({float(v) for v in values if v > 0})
    axis.setTicks([[(float(np.log10(v)), f"{v:,.0f}" if v >= 1 else f"{v:g}") for v in vals], []])


def set_ticks_if_changed(axis: pg.AxisItem, ticks: list[list[tuple[float, str]]] | None) -> None:
    """axis.setTicks(ticks) only when they differ (setTicks drops the axis' cached picture)."""
    if getattr(axis, "_lge_ticks", "unset") != ticks:
        axis.setTicks(ticks)
        axis._lge_ticks = ticks


class PlotContent:
    """What a 2D view draws, and nothing else: its plot(s) in one pyqtgraph scene and the drawing of a
    frame into them (``set_frame``, which calls the view's ``draw``). No toolbar, no status line, no
    controls: the window's view (``PlotPanel``) embeds ``plot`` between its toolbar and status line, and
    the exporter (app.export.figure) builds a content alone, sizes ``plot`` and renders its scene.

    ``plot`` is the pg.GraphicsView onto the scene (pyqtgraph's axes map through a view's device
    transform: in a scene without a view an AxisItem draws no ticks, so the content keeps one, never
    shown when exporting); ``plot_item`` / ``vb`` its (first) plot and view box. A view with options
    names its frozen settings dataclass in ``SETTINGS``: ``settings`` is the value, ``set_settings``
    replaces it and redraws. ``note`` is the one-line note the window shows above the plot (an export
    leaves it out); ``noted``, when set, is called with each new note."""

    #: the view's frozen settings dataclass; None: the view has no options
    SETTINGS: type | None = None

    def __init__(self, aspect_locked: bool = False):
        self._snap: Snapshot | None = None
        self._frame: Frame | None = None
        self._not_finite: QGraphicsTextItem | None = None
        # the view's own SETTINGS value (Any: mypy cannot tie it to each subclass's SETTINGS class)
        self._settings: Any = self.SETTINGS() if self.SETTINGS is not None else None
        self.note = ""
        self.noted: Callable[[str], object] | None = None
        self.plot: pg.GraphicsView = self.make_plot()
        self.plot.setMinimumSize(120, 100)
        if aspect_locked:
            self.vb.setAspectLocked(True)

    def make_plot(self) -> pg.GraphicsView:
        """The view onto the content's scene, with ``plot_item`` and ``vb`` set: one plot here; a view of
        several plots builds a pg.GraphicsLayoutWidget instead."""
        plot = pg.PlotWidget(background=BACKGROUND[:3], enableMenu=False)  # no context menu: none built
        self.plot_item: pg.PlotItem = plot.getPlotItem()
        self.vb: pg.ViewBox = self.plot_item.getViewBox()
        self.plot_item.hideButtons()
        self.plot_item.setMenuEnabled(False)
        steady_axes(self.plot_item)
        return plot

    def scene(self) -> pg.GraphicsScene:
        """The scene holding everything the view draws."""
        return self.plot.scene()

    # settings ----------------------------------------------------------
    @property
    def settings(self) -> Any:
        """The settings (a frozen dataclass, ``SETTINGS``); None for a view without options."""
        return self._settings

    def set_settings(self, st: object) -> bool:
        """Replace the settings and redraw the last frame; False (nothing done) when ``st`` is the value
        already drawn, TypeError when it is not a ``SETTINGS``."""
        if self.SETTINGS is None or not isinstance(st, self.SETTINGS):
            want = self.SETTINGS.__name__ if self.SETTINGS is not None else "nothing (this view has no options)"
            raise TypeError(f"settings must be a {want}, got {type(st).__name__}")
        if st == self._settings:
            return False
        self._settings = st
        self.redraw()
        return True

    # the frame --------------------------------------------------------
    def set_frame(self, frame: Frame | None) -> None:
        """Draw ``frame`` (None clears) with this content's ``draw``. A snapshot whose parameters are not
        finite is drawn as none (the loss view keeps its curves) and the view says so over the plot
        (``show_not_finite``): no view computes anything from NaN or inf."""
        snap = None if frame is None else frame.snapshot
        if snap is not None and not snap.finite:
            self.draw(None, frame)
            self.show_not_finite(not_finite_message(snap, frame.nonfinite if frame is not None else None))
            return
        self.show_not_finite(None)
        self.draw(snap, frame)

    @property
    def frame(self) -> Frame | None:
        """The frame drawn last (None: none, or cleared)."""
        return self._frame

    def draw(self, snap: Snapshot | None, frame: Frame | None) -> None:
        """Draw ``snap`` (the frame's snapshot, or None: clear) with what else the frame holds; each
        view's own (set_frame calls it)."""
        raise NotImplementedError

    def _take(self, snap: Snapshot | None, frame: Frame | None) -> bool:
        """Keep the frame to draw; False (and the view cleared by its ``_clear``) when it has no features."""
        self._snap, self._frame = snap, frame
        if snap is None or snap.n == 0:
            self._clear()
            return False
        return True

    def _clear(self) -> None:
        pass

    def redraw(self) -> None:
        """Redraw the last frame (after a change of settings)."""
        if self._snap is not None:
            self.set_frame(self._frame)

    def set_note(self, text: str) -> None:
        """The note the window shows above the plot."""
        if text != self.note:
            self.note = text
            if self.noted is not None:
                self.noted(text)

    def show_not_finite(self, text: str | None) -> None:
        """Say over the plot, centred, that the snapshot is not finite (``text``), or hide it (None).
        An item of the plot's scene, so exports draw it too."""
        item = self._not_finite
        if text is None:
            if item is not None and item.isVisible():
                item.setVisible(False)
            return
        if item is None:
            item = self._not_finite = QGraphicsTextItem(self.plot_item)
            item.setZValue(1e9)
            item.setDefaultTextColor(QColor(150, 20, 20))
            self.plot_item.geometryChanged.connect(self._place_not_finite)
        head, _, detail = text.partition(": ")
        item.setHtml(f"<div align='center'><b>{html.escape(head)}</b><br>{html.escape(detail)}</div>")
        item.setVisible(True)
        self._place_not_finite()

    def _place_not_finite(self) -> None:
        item = self._not_finite
        if item is None:
            return
        r = self.plot_item.boundingRect()
        item.setTextWidth(max(60.0, 0.9 * r.width()))
        b = item.boundingRect()
        item.setPos(r.center().x() - b.width() / 2, r.center().y() - b.height() / 2)

    # coordinates -------------------------------------------------------
    def map_to_viewport(self, x: float, y: float) -> QPoint:
        """View coordinates -> pixel position in ``self.plot.viewport()`` (for clicks and pixel checks)."""
        self.vb.prepareForPaint()
        sp = self.vb.mapViewToScene(QPointF(float(x), float(y)))
        return self.plot.mapFromScene(sp)

    def view_pixel_size(self) -> tuple[float, float]:
        """Size of one screen pixel in view units (x, y)."""
        self.vb.prepareForPaint()
        px = self.vb.viewPixelSize()
        return float(px[0]), float(px[1])


class PlotPanel(QWidget):
    """A view in the window: its content (``CONTENT``, a PlotContent: the plots and the drawing) between
    a toolbar row (toggles, the content's note) and a status line, and the interaction (clicks, hover).

    Subclasses override ``_clicked(x, y)`` and ``_hovered(x, y)`` (view coordinates of the plot). The
    settings value is the content's: ``settings``, ``set_settings(s)`` (one ``settingsChanged(s)``
    signal, a redraw), and the toolbar's checkboxes and combos (``add_setting_toggle`` /
    ``add_setting_choice``) only show the value and ask for a new one: the value is the one owner.
    What the content holds (its drawn values, ``plot_item``, ...) reads through the panel too."""

    featureClicked = pyqtSignal(int)
    settingsChanged = pyqtSignal(object)  # the new settings value, after any change
    #: what the view draws (a PlotContent class, buildable without this widget: the exporter does);
    #: every subclass names its own
    CONTENT: type[PlotContent] = PlotContent
    #: the view's frozen settings dataclass (its CONTENT's); None: the view has no options
    SETTINGS: type | None = None

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        content = cls.__dict__.get("CONTENT")
        if content is not None and "SETTINGS" not in cls.__dict__:
            cls.SETTINGS = content.SETTINGS

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        if self.CONTENT is PlotContent:
            raise TypeError(f"{type(self).__name__} names no CONTENT (the PlotContent it embeds)")
        self.content = self.CONTENT()
        self._setting_widgets: dict[str, QWidget] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(2)
        self.toolbar = QHBoxLayout()
        self.toolbar.setContentsMargins(2, 0, 2, 0)
        # LiveText: the note changes with the frame, and a QLabel's setText relayouts the whole window
        self.note = LiveText("", elide=True, min_width=20)
        self.note.setColor("#555")
        f = QFont(self.font())
        f.setPointSize(9)
        self.note.setFont(f)
        self.note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(self.note, 1)
        # weakly: the content must not keep the widget's Python object alive past its C++ object
        show = weakref.WeakMethod(self._show_note)
        self.content.noted = lambda text: None if (m := show()) is None else m(text)
        self.reset_btn = QToolButton()
        self.reset_btn.setText("⟲")
        self.reset_btn.setObjectName("reset_view")
        self.reset_btn.setToolTip("Reset the view: show the whole plot again after panning or zooming "
                                  "(or double-click the plot)")
        self.reset_btn.clicked.connect(self.reset_view)
        self.toolbar.addWidget(self.reset_btn)
        lay.addLayout(self.toolbar)
        self.plot = self.content.plot
        self.plot_item = self.content.plot_item
        self.vb = self.content.vb
        lay.addWidget(self.plot, 1)
        self.status = QLabel("")
        self.status.setStyleSheet("color: #333; font-size: 9pt;")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.status)
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.plot.scene().sigMouseMoved.connect(self._on_move)

    def __getattr__(self, name: str) -> Any:
        """What the content holds (the drawn values, its items) reads through the view."""
        if name == "content" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.content, name)

    # toolbar -----------------------------------------------------------
    def add_toggle(self, text: str, checked: bool, slot: Callable[[bool], object], tip: str = "") -> QCheckBox:
        cb = QCheckBox(text)
        cb.setChecked(checked)
        if tip:
            cb.setToolTip(tip)
        cb.toggled.connect(slot)
        self.toolbar.insertWidget(self.toolbar.count() - 2, cb)
        return cb

    # settings ----------------------------------------------------------
    @property
    def settings(self) -> Any:
        """The view's settings (a frozen dataclass, ``SETTINGS``); None for a view without options."""
        return self.content.settings

    def set_settings(self, st: object) -> None:
        """Replace the settings: the controls show them, ``settingsChanged`` is emitted once and the
        view redraws; the same value again changes nothing."""
        if not self.content.set_settings(st):
            return
        self._show_settings()
        self.settingsChanged.emit(st)

    def _change_setting(self, name: str, value: object) -> None:
        self.set_settings(replace(self.content.settings, **{name: value}))

    def _toggle_setting(self, name: str, on: bool) -> None:
        self._change_setting(name, bool(on))

    def add_setting_toggle(self, name: str, text: str, tip: str = "") -> QCheckBox:
        """A checkbox that shows the bool setting ``name`` and asks to change it."""
        cb = self.add_toggle(text, bool(getattr(self.settings, name)), partial(self._toggle_setting, name), tip)
        self._setting_widgets[name] = cb
        return cb

    def add_setting_choice(self, name: str, choices: dict[str, str], tip: str = "") -> QComboBox:
        """A combo box (value -> text) that shows the setting ``name`` and asks to change it."""
        combo = QComboBox()
        for value, text in choices.items():
            combo.addItem(text, value)
        combo.setCurrentIndex(max(0, combo.findData(getattr(self.settings, name))))
        # as narrow as a few characters when the row is short of room (the choices still open in full): a
        # toolbar row of fixed-width combos set the dock's, and so the window's, minimum width
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(4)
        if tip:
            combo.setToolTip(tip)
        combo.currentIndexChanged.connect(lambda _i, name=name, c=combo: self._change_setting(name, c.currentData()))
        self.toolbar.insertWidget(self.toolbar.count() - 2, combo)
        self._setting_widgets[name] = combo
        return combo

    def _show_settings(self) -> None:
        """The controls show the current value (a control already showing it is left alone, so
        nothing is asked again)."""
        for name, w in self._setting_widgets.items():
            v = getattr(self.settings, name)
            if isinstance(w, QCheckBox) and w.isChecked() != bool(v):
                w.setChecked(bool(v))
            elif isinstance(w, QComboBox) and w.currentData() != v:
                w.setCurrentIndex(w.findData(v))

    # the frame --------------------------------------------------------
    def set_frame(self, frame: Frame | None) -> None:
        """Draw ``frame`` (None clears): the one thing a view receives; its content draws it
        (PlotContent.set_frame)."""
        self.content.set_frame(frame)

    @property
    def frame(self) -> Frame | None:
        """The frame drawn last (None: none, or cleared)."""
        return self.content.frame

    def _show_note(self, text: str) -> None:
        """Show the content's note (its tooltip holds the whole text when it is cut off)."""
        if self.note.text() != text:
            self.note.setText(text)
            self.note.setToolTip(text)

    # events ------------------------------------------------------------
    def clicked_point(self, ev: MouseClickEvent, vb: pg.ViewBox) -> QPointF | None:
        """The view point of a left click inside view box ``vb`` (None for any other click)."""
        if ev.button() != Qt.MouseButton.LeftButton or self.content._snap is None:
            return None
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return None
        return vb.mapSceneToView(ev.scenePos())

    def reset_view(self) -> None:
        """Back to the whole plot (auto range on both axes), whatever panning and zooming did."""
        self.vb.enableAutoRange(x=True, y=True)
        self.vb.autoRange()

    def _on_click(self, ev):
        if ev.double() and ev.button() == Qt.MouseButton.LeftButton:
            self.reset_view()
            return
        p = self.clicked_point(ev, self.vb)
        if p is not None:
            self._clicked(p.x(), p.y())

    def _on_move(self, scene_pos):
        if self.content._snap is None:
            return
        if not self.vb.sceneBoundingRect().contains(scene_pos):
            return
        p = self.vb.mapSceneToView(scene_pos)
        self._hovered(p.x(), p.y())

    def _clicked(self, x: float, y: float):
        pass

    def _hovered(self, x: float, y: float):
        pass
