"""Bias b_i and norm |W_i| per feature: two small bar plots (x = feature number,
1-based, x linked), bars in the feature colours, selected bars outlined and labelled."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPoint, QPointF
from PyQt6.QtWidgets import QWidget

from model.analysis import geometry as geo
from model.snapshot import Snapshot

if TYPE_CHECKING:
    from model.analysis.frame import Frame

from .views2d import (
    BACKGROUND,
    LABEL_MAX,
    OUTLINE,
    SELECTED_LABEL_MAX,
    ColorPathsItem,
    LabelPool,
    PlotContent,
    PlotPanel,
    feature_colors_for,
    fmt_num,
    nice_range,
    rects_xy,
    selected_of,
    set_ticks_if_changed,
    steady_axes,
)

#: Bar width in feature units (bars touch above BAR_GAP_MAX features: no moire of sub-pixel gaps).
BAR_WIDTH = 0.8
BAR_GAP_MAX = 200
#: Above this many features the bars are peak-downsampled to the plot's pixel columns and
#: drawn as an image (recomputed when the x range or the size changes): Qt fills thousands
#: of sub-pixel rectangles slowly (a path of 10,000 bars takes seconds).
BIN_MIN = 600
#: A click this many pixels beyond a bar's end (or beside a thin bar) still picks it.
CLICK_PX = 4.0


# ----------------------------------------------------------------------------
# pure helpers

def bar_rects(values: np.ndarray, width: float = BAR_WIDTH) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x0, x1, y0, y1) arrays of the bars: feature i (0-based) at x = i + 1, from 0 to values[i]."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = np.where(np.isfinite(v), v, 0.0)
    x = np.arange(1, v.size + 1, dtype=np.float64)
    return x - width / 2, x + width / 2, np.minimum(v, 0.0), np.maximum(v, 0.0)


def bar_at(values: np.ndarray, x: float, y: float, width: float = BAR_WIDTH,
           tol_x: float = 0.0, tol_y: float = 0.0) -> int:
    """The bar (0-based feature) under (x, y), allowing tol_x / tol_y (view units) around it; -1 for none."""
    v = np.asarray(values, dtype=np.float64).ravel()
    i = int(np.round(x)) - 1
    if not (0 <= i < v.size):
        return -1
    if abs(x - (i + 1)) > max(width / 2, tol_x):
        return -1
    vi = v[i] if np.isfinite(v[i]) else 0.0
    if min(0.0, vi) - tol_y <= y <= max(0.0, vi) + tol_y:
        return i
    return -1


def bar_bins(values: np.ndarray, x_lo: float, x_hi: float,
             nbins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Peak downsampling of the bars visible in [x_lo, x_hi] into at most nbins bins.

    Consecutive features (x = i + 1) share a bin of k = ceil(visible / nbins);
    each bin is one bar from min(0, min v) to max(0, max v) in the colour of
    its feature with the largest |v| (what overlapping sub-pixel bars would
    show). Returns (x0, x1, y0, y1, owner, k).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    n = v.size
    i0 = int(max(0, np.floor(x_lo) - 1))
    i1 = int(min(n, np.ceil(x_hi) + 1))
    if i1 <= i0:
        e = np.zeros(0)
        return e, e, e, e, np.zeros(0, dtype=np.int64), 1
    cnt = i1 - i0
    k = max(1, int(np.ceil(cnt / max(1, int(nbins)))))
    B = int(np.ceil(cnt / k))
    pad = np.full(B * k, np.nan)
    pad[:cnt] = np.where(np.isfinite(v[i0:i1]), v[i0:i1], 0.0)
    M = pad.reshape(B, k)
    with np.errstate(all="ignore"):
        lo = np.minimum(np.nanmin(M, axis=1), 0.0)
        hi = np.maximum(np.nanmax(M, axis=1), 0.0)
    owner = i0 + np.arange(B) * k + np.argmax(np.where(np.isnan(M), -1.0, np.abs(M)), axis=1)
    x0 = i0 + np.arange(B) * k + 0.5
    x1 = np.minimum(x0 + k, n + 0.5)
    return x0, x1, lo, hi, owner.astype(np.int64), k


def bins_rgba(lo: np.ndarray, hi: np.ndarray, colors: np.ndarray, y0: float, y1: float, rows: int) -> np.ndarray:
    """(rows, B, 4) uint8 image of binned bars, row 0 at y0: column b is colors[b] from
    lo[b] to hi[b] (pixel centres), and a bar shorter than a row still fills the row of its far end."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    B = lo.size
    rows = max(1, int(rows))
    dy = (float(y1) - float(y0)) / rows
    yc = y0 + (np.arange(rows) + 0.5) * dy
    mask = (yc[:, None] >= lo[None, :]) & (yc[:, None] <= hi[None, :])
    end = np.where(hi >= -lo, hi, lo)
    some = (hi - lo) > 0
    r_end = np.clip(np.floor((end - y0) / dy - 1e-9 * np.sign(end)), 0, rows - 1).astype(np.int64)
    mask[r_end[some], np.arange(B)[some]] = True
    cols = np.asarray(colors, dtype=np.uint8).reshape(B, 4)
    out = np.zeros((rows, B, 4), dtype=np.uint8)
    np.copyto(out, np.broadcast_to(cols[None, :, :], out.shape), where=mask[:, :, None])
    return out


def bias_norm_values(snap: Snapshot) -> tuple[np.ndarray, np.ndarray]:
    """(b, |W_i|) per feature (norms in the full m dims)."""
    return snap.b.copy(), geo.norms(snap.W)


# ----------------------------------------------------------------------------
# the view

def _unlink_x(vb: pg.ViewBox) -> None:
    from PyQt6 import sip

    if not sip.isdeleted(vb):
        vb.setXLink(None)


class BiasNormContent(PlotContent):
    """What the bias view draws: two bar plots in one scene, ``plot_item`` (bias b_i) above
    ``plot_item2`` (norm |W_i|), x linked."""

    def __init__(self) -> None:
        super().__init__()
        self.plot_item.setLabel("left", "bias b_i")
        self.plot_item2.setLabel("left", "norm |W_i|")
        self.plot_item2.setLabel("bottom", "feature")
        self.plot.setMinimumSize(120, 180)  # two plots
        self.vb2.setXLink(self.vb)
        # Unlink before the view goes: Qt emits destroyed() before it deletes a widget's children, and a
        # link left in place lets a resize of one view box reach the other after its C++ object was
        # deleted (RuntimeError in the Qt event loop, then a segmentation fault in AxisItem).
        self.plot.destroyed.connect(lambda *_, vb2=self.vb2: _unlink_x(vb2))
        self._pairs = []
        self._bin_images = []
        for pi in (self.plot_item, self.plot_item2):
            bars = ColorPathsItem("fill")
            pi.addItem(bars)
            img = pg.ImageItem(axisOrder="row-major")
            img.setVisible(False)
            pi.addItem(img)
            self._bin_images.append(img)
            sel = ColorPathsItem("stroke", width=2.0)
            sel.setZValue(5)
            pi.addItem(sel)
            zero = pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen((80, 80, 80), width=1))
            pi.addItem(zero, ignoreBounds=True)
            labels = LabelPool(pi, cap=SELECTED_LABEL_MAX)
            self._pairs.append((bars, sel, labels))
        self._bounds_items = []
        for pi in (self.plot_item, self.plot_item2):
            bi = ColorPathsItem()  # no paths: nice, stable auto-range bounds
            pi.addItem(bi)
            self._bounds_items.append(bi)
        self.bias_values = np.zeros(0)
        self.norm_values = np.zeros(0)
        self.bar_width = BAR_WIDTH
        self._colors = np.zeros((0, 4), np.uint8)
        self._note = ""
        self.binned = False
        self.bin_size = 1
        self._bin_key = None
        self._yranges = []
        self.vb.sigXRangeChanged.connect(self._rebin)
        self.vb.sigResized.connect(self._rebin)

    def make_plot(self) -> pg.GraphicsView:
        """One view onto both plots (the bias above the norm)."""
        plot = pg.GraphicsLayoutWidget()
        plot.setBackground(BACKGROUND[:3])
        pis = [plot.addPlot(row=r, col=0, enableMenu=False) for r in (0, 1)]
        for pi in pis:
            pi.hideButtons()
            pi.setMenuEnabled(False)
            steady_axes(pi)
        self.plot_item, self.plot_item2 = pis
        self.vb, self.vb2 = pis[0].getViewBox(), pis[1].getViewBox()
        self.plot2 = plot  # the norm plot's view (the same one)
        return plot

    # coordinates of the second plot ------------------------------------
    def map_to_viewport2(self, x: float, y: float) -> QPoint:
        """View coordinates of the norm plot -> pixel position in ``self.plot2.viewport()``."""
        self.vb2.prepareForPaint()
        return self.plot2.mapFromScene(self.vb2.mapViewToScene(QPointF(float(x), float(y))))

    def draw(self, snap: Snapshot | None, frame: Frame | None) -> None:
        self._snap, self._frame = snap, frame
        if snap is None or snap.n == 0:
            for bars, sel, labels in self._pairs:
                bars.clear()
                sel.clear()
                labels.set([])
            for img in self._bin_images:
                img.setVisible(False)
            self.bias_values = np.zeros(0)
            self.norm_values = np.zeros(0)
            self.set_note("")
            return
        n = snap.n
        self.bar_width = BAR_WIDTH if n <= BAR_GAP_MAX else 1.0
        colors = feature_colors_for(snap, frame)
        sel = selected_of(frame, n)
        b, nrm = bias_norm_values(snap)
        self.bias_values, self.norm_values = b, nrm
        self._colors = colors
        self.binned = n > BIN_MIN
        self._bin_key = None
        self._yranges = []
        for bi, vals in zip(self._bounds_items, (b, nrm), strict=True):
            fin = vals[np.isfinite(vals)]
            lo, hi = nice_range(fin.min(initial=0.0), fin.max(initial=0.0) * (1.12 if len(sel) else 1.0))
            bi.set_bounds((0.5, n + 0.5, lo, hi))
            self._yranges.append((lo, hi))
        if self.binned:
            for (bars, _, _) in self._pairs:
                bars.clear()
            self._rebin()
        else:
            for img in self._bin_images:
                img.setVisible(False)
        for (bars, sel_item, labels), vals in zip(self._pairs, (b, nrm), strict=True):
            x0, x1, y0, y1 = bar_rects(vals, self.bar_width)
            if not self.binned:
                x, y, con = rects_xy(x0, x1, y0, y1)
                bars.set_features(colors, x, y, con, np.full(n, 5))
            if len(sel):
                x, y, con = rects_xy(x0[sel], x1[sel], y0[sel], y1[sel])
                sel_item.set_features(np.array([OUTLINE], np.uint8), x, y, con, np.array([len(x)]), max_groups=1)
                span = float(np.nanmax(np.abs(vals))) if n else 1.0
                labels.set([(str(i + 1), i + 1, max(vals[i] if np.isfinite(vals[i]) else 0.0, 0.0) + 0.07 * span,
                             OUTLINE, True) for i in sel[:SELECTED_LABEL_MAX]])
            else:
                sel_item.clear()
                labels.set([])
        if n <= LABEL_MAX:
            ticks = [[(i + 1, str(i + 1)) for i in range(n)]]
        else:
            ticks = None
        for pi in (self.plot_item, self.plot_item2):
            set_ticks_if_changed(pi.getAxis("bottom"), ticks)
        self._note = (f"n = {n}   b: min {fmt_num(np.min(b))}, max {fmt_num(np.max(b))}   "
                      f"|W|: min {fmt_num(np.min(nrm))}, max {fmt_num(np.max(nrm))}")
        self._update_note()

    def _update_note(self):
        extra = f"   bars: peak of {self.bin_size} per pixel column" if self.binned and self.bin_size > 1 else ""
        self.set_note(self._note + extra)

    def _rebin(self, *args):
        """Large n: peak-downsample the bars in view to the plot's pixel columns."""
        if not self.binned or self._snap is None:
            return
        n = len(self.bias_values)
        (xa, xb), _ = self.vb.viewRange()
        if xb - xa < 1 or xb < 0.5 or xa > n + 0.5:
            xa, xb = 0.5, n + 0.5
        nb = max(50, int(self.vb.width()))
        key = (round(xa, 6), round(xb, 6), nb, n)
        if key == self._bin_key:
            return
        self._bin_key = key
        for img, vb, (ylo, yhi), vals in zip(self._bin_images, (self.vb, self.vb2), self._yranges,
                                            (self.bias_values, self.norm_values), strict=True):
            x0, x1, y0, y1, owner, k = bar_bins(vals, xa, xb, nb)
            if len(owner) == 0:
                img.setVisible(False)
                continue
            rows = max(32, int(vb.height()))
            img.setImage(bins_rgba(y0, y1, self._colors[owner], ylo, yhi, rows), autoLevels=False)
            img.setRect(pg.QtCore.QRectF(x0[0], ylo, x1[-1] - x0[0], yhi - ylo))
            img.setVisible(True)
            self.bin_size = k
        self._update_note()



class BiasNormView(PlotPanel):
    """The bias view in the window: its BiasNormContent; a click on a bar selects its feature, hover
    says the feature's b and |W|."""

    CONTENT = BiasNormContent

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # unlinked before Qt deletes the children (BiasNormContent says why)
        self.destroyed.connect(lambda *_, vb2=self.vb2: _unlink_x(vb2))
        self.plot2.scene().sigMouseClicked.connect(self._on_click2)
        self.plot2.scene().sigMouseMoved.connect(self._on_move2)

    # interaction -------------------------------------------------------
    def _pick(self, vb, vals, x, y) -> int:
        vb.prepareForPaint()
        px, py = vb.viewPixelSize()
        return bar_at(vals, x, y, self.bar_width, tol_x=CLICK_PX * px, tol_y=CLICK_PX * py)

    def _clicked(self, x, y):
        k = self._pick(self.vb, self.bias_values, x, y)
        if k >= 0:
            self.featureClicked.emit(k)

    def _on_click2(self, ev):
        p = self.clicked_point(ev, self.vb2)
        k = -1 if p is None else self._pick(self.vb2, self.norm_values, p.x(), p.y())
        if k >= 0:
            self.featureClicked.emit(k)

    def _hover(self, x):
        i = int(np.round(x)) - 1
        if 0 <= i < len(self.bias_values):
            self.status.setText(f"feature {i + 1}: b = {self.bias_values[i]:.6g}, |W| = {self.norm_values[i]:.6g}")
        else:
            self.status.setText("")

    def _hovered(self, x, y):
        self._hover(x)

    def _on_move2(self, scene_pos):
        if self._snap is None or not self.vb2.sceneBoundingRect().contains(scene_pos):
            return
        self._hover(self.vb2.mapSceneToView(scene_pos).x())
