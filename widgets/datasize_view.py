"""The dataset-size sweep (SMDD) view: train and test loss against T, feature and
data dimensionality against T, and per T the hidden embeddings h_t = W x_t of
the training examples (the T-gons at small T, with their radius cv and gap
ratio) beside the feature vectors W_i.

A view of data only: ``set_result(DataSizeSweep or None)``; ``model`` picks which
of the K models of each size is drawn in the embedding panels.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from resources.palette import BLUE, GREEN, GREY, PURPLE, RED

from .views2d import log_ticks_at

if TYPE_CHECKING:
    from model.experiments.datasize import DataSizeSweep

TRAIN_PEN, TEST_PEN = BLUE, RED  # the loss curves
FEATURE_PEN, DATA_PEN = GREY, BLUE  # the embedding panels: feature vectors, training examples
FEATURE_DIM_PEN, DATA_DIM_PEN = GREEN, PURPLE  # the dimensionality curves
#: Embedding panels per row; at most this many panels in all (an even subset of the sizes above).
PANELS_PER_ROW = 6
MAX_PANELS = 24
#: At most this many examples / features drawn per panel.
POINTS_MAX = 2000
#: Panels up to this T name the regularity of the hidden vectors (a regular T-gon: radius cv 0,
#: gap ratio 1); above it the examples no longer form a polygon.
REGULARITY_MAX_T = 50


def _num(x) -> str:
    if x is None:
        return "-"
    return "inf" if not np.isfinite(x) else f"{x:.3g}"


def curves(result: DataSizeSweep, model: int | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{name: (T (S,), values (S,))}: medians over the K models unless ``model`` is given."""
    Ts = np.array([r.T for r in result.results], dtype=np.float64)

    def pick(a):
        a = np.asarray(a, dtype=np.float64)
        return float(a[model]) if model is not None else float(np.median(a))

    out = {
        "train loss": [pick(r.train_loss) for r in result.results],
        "test loss": [pick(r.test_loss) for r in result.results],
        "feature dims (sum D_i)": [pick(r.feature_dims.sum(1)) for r in result.results],
        "data dims (sum D_t)": [pick(r.data_dims.sum(1)) for r in result.results],
        "max feature D_i": [pick(r.feature_dims.max(1)) for r in result.results],
        "max data D_t": [pick(r.data_dims.max(1)) for r in result.results],
    }
    return {k: (Ts, np.array(v)) for k, v in out.items()}


def embedding_segments(H: np.ndarray, max_points: int = POINTS_MAX) -> np.ndarray:
    """(k, 4) segments from the origin to each column of H (m = 2; an even subsample above max_points)."""
    H = np.asarray(H, dtype=np.float64)
    if H.shape[0] != 2:
        from model.analysis.geometry import project

        H = project(H)
    T = H.shape[1]
    idx = np.arange(T) if max_points >= T else np.linspace(0, T - 1, max_points).astype(np.int64)
    z = np.zeros(len(idx))
    return np.column_stack([z, z, H[0, idx], H[1, idx]])


#: The legends' look: dark text (the theme's grey was faint on white) over a white box.
LEGEND = dict(labelTextColor=(40, 40, 40), brush=pg.mkBrush(255, 255, 255, 230))
#: Room kept for one legend row, as a share of a plot's height (a row is 20-25 px with its frame and the
#: offset; a plot of the window or of an export is 200 px high or more).
LEGEND_ROW = 0.2


class DataSizeContent(QWidget):
    """What the dataset-size view draws: the summary line, the loss and dimensionality curves against T and
    the embedding panels per T. It has no controls; the window's ``DataSizeView`` embeds it, the exporter
    (app.export.experiment_figures) builds it alone."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.result: DataSizeSweep | None = None
        self.model = 0
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel("no dataset-size sweep")
        lay.addWidget(self.summary)
        split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        tl = QHBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = pg.PlotWidget(enableMenu=False)  # pyqtgraph's right-click menus: the view's
        self.loss_plot.setLogMode(x=True, y=True)
        self.loss_plot.setLabel("bottom", "dataset size T")
        self.loss_plot.setLabel("left", "loss")
        # the legends sit in a row along the top, over headroom kept free of data (_headroom): they
        # covered the curves where they ran (the dimensions fall to the lower right, the losses cross)
        self.loss_plot.addLegend(offset=(5, 2), colCount=2, **LEGEND)
        self.dim_plot = pg.PlotWidget(enableMenu=False)
        self.dim_plot.setLogMode(x=True, y=False)
        self.dim_plot.setLabel("bottom", "dataset size T")
        self.dim_plot.setLabel("left", "dimensionality")
        self.dim_plot.addLegend(offset=(5, 2), colCount=2, **LEGEND)
        tl.addWidget(self.loss_plot)
        tl.addWidget(self.dim_plot)
        self.grid = pg.GraphicsLayoutWidget()
        split.addWidget(top)
        split.addWidget(self.grid)
        split.setSizes([300, 500])
        lay.addWidget(split, 1)
        self.panels: list = []

    def plot_items(self) -> list[pg.PlotItem]:
        """The plots drawn (the view gives them pyqtgraph's right-click menus)."""
        return [self.loss_plot.getPlotItem(), self.dim_plot.getPlotItem(), *self.panels]

    def set_result(self, result: DataSizeSweep | None, model: int = 0) -> None:
        self.result = result
        self.model = int(model)
        for p in (self.loss_plot, self.dim_plot):
            p.clear()
            if p.plotItem.legend is not None:
                p.plotItem.legend.clear()
        self.grid.clear()
        self.panels = []
        if result is None or not result.results:
            self.summary.setText("no dataset-size sweep" if result is None else "no size has finished yet")
            return
        b = result.base
        K = result.results[0].W.shape[0]
        self.summary.setText(
            f"n = {b.n}, m = {b.m}, S = {b.sparsity:g}, {b.optimizer} lr {b.lr:g} wd {b.effective_weight_decay:g}, "
            f"{b.schedule}, {b.steps:,} steps · {len(result.results)} of {len(result.sizes)} sizes"
            + (" (cancelled)" if result.cancelled else "") + (f" · model {self.model} of {K} drawn" if K > 1 else ""))
        c = curves(result, self.model if K > 1 else None)
        sym = dict(symbol="o", symbolSize=7)
        for name, pen in (("train loss", TRAIN_PEN), ("test loss", TEST_PEN)):
            T, v = c[name]
            ok = v > 0
            self.loss_plot.plot(T[ok], v[ok], pen=pg.mkPen(pen, width=2), symbolBrush=pen, name=name, **sym)
        for name, pen, style in (("feature dims (sum D_i)", FEATURE_DIM_PEN, Qt.PenStyle.SolidLine),
                                 ("data dims (sum D_t)", DATA_DIM_PEN, Qt.PenStyle.SolidLine),
                                 ("max feature D_i", FEATURE_DIM_PEN, Qt.PenStyle.DashLine),
                                 ("max data D_t", DATA_DIM_PEN, Qt.PenStyle.DashLine)):
            T, v = c[name]
            self.dim_plot.plot(T, v, pen=pg.mkPen(pen, width=2, style=style), symbolBrush=pen, name=name, **sym)
        for p in (self.loss_plot, self.dim_plot):
            log_ticks_at(p.getAxis("bottom"), [r.T for r in result.results])
        losses = np.concatenate([c[k][1] for k in ("train loss", "test loss")])
        _headroom(self.loss_plot, np.log10(losses[np.isfinite(losses) & (losses > 0)]), rows=1)
        dims = np.concatenate([c[k][1] for k in ("feature dims (sum D_i)", "data dims (sum D_t)",
                                                 "max feature D_i", "max data D_t")])
        _headroom(self.dim_plot, np.append(dims[np.isfinite(dims)], 0.0), rows=2)
        rs = result.results
        if len(rs) > MAX_PANELS:
            rs = [rs[i] for i in np.linspace(0, len(rs) - 1, MAX_PANELS).round().astype(int)]
        for i, r in enumerate(rs):
            k = min(self.model, r.W.shape[0] - 1)
            title = f"T = {r.T:,}"
            if r.T <= REGULARITY_MAX_T:
                cv, gap = r.regularity()[k]
                title += f"<br><small>radius cv {_num(cv)}, gap ratio {_num(gap)}</small>"
            p = self.grid.addPlot(row=i // PANELS_PER_ROW, col=i % PANELS_PER_ROW, title=title, enableMenu=False)
            p.setAspectLocked(True)
            p.hideAxis("left")
            p.hideAxis("bottom")
            p.setMouseEnabled(False, False)
            fs = embedding_segments(r.W[k])
            fx, fy = fs[:, [0, 2]].ravel(), fs[:, [1, 3]].ravel()
            p.plot(fx, fy, connect="pairs", pen=pg.mkPen(FEATURE_PEN + (90,), width=1))
            ds = embedding_segments(r.H[k])
            dx, dy = ds[:, [0, 2]].ravel(), ds[:, [1, 3]].ravel()
            if r.T <= 200:
                p.plot(dx, dy, connect="pairs", pen=pg.mkPen(DATA_PEN, width=1.5))
            p.plot(ds[:, 2], ds[:, 3], pen=None, symbol="o", symbolSize=5 if r.T <= 200 else 3,
                   symbolBrush=DATA_PEN, symbolPen=None)
            self.panels.append(p)


class DataSizeView(QWidget):
    """The dataset-size view in the Experiments window: its content (``CONTENT``, a DataSizeContent) in the
    window's 2-px margin; what the content holds (``loss_plot``, ``panels``, ``model``, ...) reads through
    the view."""

    #: what the view draws (buildable without this widget: the exporter does)
    CONTENT = DataSizeContent

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.content = self.CONTENT()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.content)
        for pi in self.content.plot_items():
            pi.setMenuEnabled(True)  # pyqtgraph's right-click menus (range, log, export, ...)

    def __getattr__(self, name: str) -> Any:
        if name == "content" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.content, name)

    def set_result(self, result: DataSizeSweep | None, model: int = 0) -> None:
        """Draw ``result`` (None clears), model ``model`` of each size in the embedding panels."""
        self.content.set_result(result, model)
        for pi in self.content.plot_items():
            pi.setMenuEnabled(True)  # pyqtgraph's right-click menus (range, log, export, ...)


def _headroom(plot: pg.PlotWidget, ys: np.ndarray, rows: int) -> None:
    """The y range of ``plot`` (in its axis units: log10 where the axis is logarithmic) spanning
    ``ys`` with room above them for its legend: LEGEND_ROW of the height a row, or the legend's
    own height where the plot is laid out smaller than that assumes (at most 60%)."""
    if not ys.size:
        return
    pi = plot.plotItem
    share = LEGEND_ROW * rows
    vb_h = pi.getViewBox().height()
    if pi.legend is not None and vb_h > 0:
        share = max(share, (pi.legend.boundingRect().height() + 8.0) / vb_h)
    lo, hi = float(ys.min()), float(ys.max())
    span = max(hi - lo, 1e-9)
    free = 1.0 - min(share, 0.6)  # the share of the height the data may use
    plot.setYRange(lo - 0.04 * span, lo + span / free, padding=0)


__all__ = ["DataSizeContent", "DataSizeView", "curves", "embedding_segments"]
