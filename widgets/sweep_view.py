"""The failure atlas: what a seed sweep found.

- a configuration chooser (one entry per grid configuration);
- the verdict table: count, rate and Wilson 95% interval of each verdict, and
  the same as bars with interval whiskers;
- the loss histogram: log10(final loss), stacked by verdict;
- the failure rate against training length (the verdict grid a sweep records: step 1,024 and every
  half doubling), with the share of stuck failures, each with its Wilson 95% band;
- the outcomes (settled, stuck, moving) in the table, and an outcome filter beside the finding filter;
- the gallery: one small feature wheel per model, grouped by verdict (a tab
  per verdict, "all" sorted by verdict then loss). It is one QListView over a
  model that reads the sweep's numpy arrays; a delegate paints each visible
  thumbnail on demand (and caches its pixmap), so 10,000 models cost what the
  visible ones cost. Clicking a thumbnail emits ``modelChosen(entry, k)``.

A view of data only: it never trains. ``set_sweep(sweep)`` (None clears).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QAbstractListModel, QModelIndex, QObject, QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QPainter, QPen, QPixmap
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTabBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from model.analysis.analysis import FINDING_KINDS
from model.analysis.outcome import OUTCOMES
from model.experiments.sweep import SWEEP_VERDICTS, Sweep, SweepEntry, loss_histogram
from resources import palette

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: One colour per verdict (bars, histogram, thumbnail frames) and per outcome (model.analysis.outcome): the atlas's
#: curve, table rows and gallery tooltips; resources.palette holds the one table of each.
VERDICT_COLORS = palette.VERDICT_COLORS
OUTCOME_COLORS = palette.OUTCOME_COLORS
THUMB = 84  # thumbnail size, px
PIXMAP_CACHE = 3000


def verdict_label(v: str) -> str:
    return v.replace("_", " ")


# ----------------------------------------------------------------------------
# pure helpers

def gallery_order(verdicts: ArrayLike, losses: ArrayLike, verdict: str | None = None,
                  keep: ArrayLike | None = None) -> np.ndarray:
    """Model indices shown in the gallery: one verdict's models by loss, or (None) all
    models grouped by verdict (SWEEP_VERDICTS order), each group by loss. keep: an
    optional (K,) bool filter (e.g. the models with one finding)."""
    v = np.asarray(verdicts, dtype=object)
    loss = np.asarray(losses, dtype=np.float64)
    key_loss = np.where(np.isfinite(loss), loss, np.inf)
    ok = np.ones(len(v), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    if verdict is not None:
        idx = np.nonzero((v == verdict) & ok)[0]
        return idx[np.argsort(key_loss[idx], kind="stable")]
    rank = {name: i for i, name in enumerate(SWEEP_VERDICTS)}
    vr = np.array([rank.get(x, len(rank)) for x in v], dtype=np.int64)
    order = np.lexsort((np.arange(len(v)), key_loss, vr))
    return order[ok[order]]


def thumbnail_segments(W: np.ndarray, size: float, margin: float = 6.0) -> np.ndarray:
    """(n, 4) pixel segments (x0, y0, x1, y1) from the centre to each W_i (the plane for m != 2),
    scaled so the longest fits the thumbnail; y grows downwards."""
    W = np.asarray(W, dtype=np.float64)
    if W.shape[0] != 2:
        from model.analysis.geometry import project

        W = project(W)
    r = float(np.max(np.hypot(W[0], W[1]))) if W.size else 0.0
    s = (size / 2 - margin) / r if r > 0 else 0.0
    c = size / 2
    x1 = c + s * W[0]
    y1 = c - s * W[1]
    return np.column_stack([np.full_like(x1, c), np.full_like(y1, c), x1, y1])


# ----------------------------------------------------------------------------
# the gallery

class GalleryModel(QAbstractListModel):
    """Rows = models of one sweep entry, in a given order. Data is read lazily."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.entry: SweepEntry | None = None
        self.order = np.zeros(0, dtype=np.int64)

    def set_entry(self, entry: SweepEntry | None, order: ArrayLike) -> None:
        self.beginResetModel()
        self.entry = entry
        self.order = np.asarray(order, dtype=np.int64)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's own signature
        return 0 if parent.isValid() else len(self.order)

    def model_at(self, row: int) -> int:
        return int(self.order[row])

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> str | int | None:
        if not index.isValid() or self.entry is None:
            return None
        k = int(self.order[index.row()])
        e = self.entry
        if role == Qt.ItemDataRole.ToolTipRole:
            found = ""
            if e.findings is not None:
                found = "findings: " + (", ".join(x.replace("_", " ") for x in FINDING_KINDS
                                                  if (int(e.findings[k]) >> FINDING_KINDS.index(x)) & 1) or "none") + "\n"
            batch = e.outcome_batch()  # None where the sweep recorded no outcomes
            outcome = "" if batch is None else f"outcome: {batch.text(k)}\n"
            return (f"model {k} (seed {e.config.seed + k})\nverdict: {verdict_label(e.verdicts[k])}\n" + outcome
                    + found + f"final loss {float(e.loss[k]):.4g}\nclick: open it in the explorer")
        if role == Qt.ItemDataRole.UserRole:
            return k
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{k}"
        return None


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints a small feature wheel per model; pixmaps are cached (LRU)."""

    def __init__(self, parent: QObject | None = None, size: int = THUMB):
        super().__init__(parent)
        self.size = size
        self._cache: OrderedDict = OrderedDict()
        self.painted = 0  # thumbnails rendered (not served from the cache): for tests

    def clear(self) -> None:
        self._cache.clear()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(self.size + 4, self.size + 16)

    def _pixmap(self, entry, k: int) -> QPixmap:
        key = (id(entry), k, self.size)
        pm = self._cache.get(key)
        if pm is not None:
            self._cache.move_to_end(key)
            return pm
        self.painted += 1
        s = self.size
        pm = QPixmap(s, s)
        pm.fill(QColor(255, 255, 255))
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        W = entry.W[k]
        n = W.shape[1]
        segs = thumbnail_segments(W, s)
        ang = np.arctan2(segs[:, 3] - segs[:, 1], segs[:, 2] - segs[:, 0]) if n > 20 else None
        cols = palette.feature_colors(n, None if ang is None else -ang)
        pen = QPen()
        pen.setWidthF(2.0 if n <= 20 else 1.0)
        step = max(1, n // 400)
        for i in range(0, n, step):
            c = cols[i]
            pen.setColor(QColor(int(c[0]), int(c[1]), int(c[2])))
            p.setPen(pen)
            x0, y0, x1, y1 = segs[i]
            p.drawLine(QPointF(x0, y0), QPointF(x1, y1))
        vc = VERDICT_COLORS.get(entry.verdicts[k], palette.VERDICT_OTHER)
        frame = QPen(QColor(*vc))
        frame.setWidth(3)
        p.setPen(frame)
        p.drawRect(1, 1, s - 3, s - 3)
        p.end()
        self._cache[key] = pm
        if len(self._cache) > PIXMAP_CACHE:
            self._cache.popitem(last=False)
        return pm

    def paint(self, painter: QPainter | None, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        model = index.model()
        entry = getattr(model, "entry", None)
        if painter is None or entry is None:
            return
        k = index.data(Qt.ItemDataRole.UserRole)
        r = option.rect
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(r, option.palette.highlight())
        pm = self._pixmap(entry, int(k))
        painter.drawPixmap(r.x() + 2, r.y() + 2, pm)
        painter.setPen(QColor(60, 60, 60))
        painter.drawText(QRectF(r.x(), r.y() + self.size + 2, r.width(), 14),
                         Qt.AlignmentFlag.AlignCenter, f"{k}")


class Gallery(QListView):
    """The thumbnails of one entry's models, read only: it selects nothing and reports no click (the
    SweepView's, which turns a click into ``modelChosen``)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setSpacing(2)
        self.gallery_model = GalleryModel(self)
        self.delegate = ThumbnailDelegate(self)
        self.setModel(self.gallery_model)
        self.setItemDelegate(self.delegate)


# ----------------------------------------------------------------------------
# the content and the view

class SweepContent(QWidget):
    """What the atlas draws of one configuration of a sweep, and nothing else: the summary line, the
    verdict / outcome / finding table with the rate bars, the loss histogram, the failure curve and the
    gallery of the models (``show_models`` picks which). No picker, tab or click: the window's
    ``SweepView`` embeds this content and adds those (its pickers in ``top_row`` beside the summary, its
    verdict tabs at the top of ``gallery_box``); the exporter (app.export.experiment_figures) builds a
    content alone."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.sweep: Sweep | None = None
        self.entry_index = 0
        #: the drawn entry's rates (SweepEntry.rates, finding_rates, outcome_rates): the view's pickers read them
        self.rates: dict = {}
        self.finding_rates: dict = {}
        self.outcome_rates: dict = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.top_row = QHBoxLayout()
        self.summary = QLabel("no sweep")
        self.summary.setWordWrap(True)
        self.top_row.addWidget(self.summary, 1)
        lay.addLayout(self.top_row)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self._build_upper())
        lower = QWidget()
        self.gallery_box = QVBoxLayout(lower)
        self.gallery_box.setContentsMargins(0, 0, 0, 0)
        self.gallery = Gallery()
        self.gallery_box.addWidget(self.gallery, 1)
        self.splitter.addWidget(lower)
        self.splitter.setSizes([300, 500])
        lay.addWidget(self.splitter, 1)

    def _build_upper(self) -> QSplitter:
        """The table over the rate bars, the loss histogram and the failure curve, side by side."""
        upper = QSplitter(Qt.Orientation.Horizontal)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["verdict", "count", "rate", "95% interval (Wilson)"])
        hh, vh = self.table.horizontalHeader(), self.table.verticalHeader()
        assert hh is not None and vh is not None  # a QTableWidget has both
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        vh.setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.bars = pg.PlotWidget(enableMenu=False)  # pyqtgraph's right-click menus: the view's
        self.bars.setLabel("left", "rate")
        self.bars.setMouseEnabled(False, False)
        self.bars.hideButtons()
        self.hist = pg.PlotWidget(enableMenu=False)  # pyqtgraph's right-click menus: the view's
        self.hist.setLabel("bottom", "log10 final loss")
        self.hist.setLabel("left", "models")
        self.hist.addLegend(offset=(-5, 5))
        self.hist.hideButtons()
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.table, 1)
        ll.addWidget(self.bars, 1)
        self.curve = pg.PlotWidget(enableMenu=False)  # pyqtgraph's right-click menus: the view's
        self.curve.setObjectName("failure_curve")
        self.curve.setLabel("bottom", "training steps (log)")
        self.curve.setLabel("left", "rate")
        self.curve.setLogMode(x=True, y=False)
        self.curve.addLegend(offset=(60, 170))  # in the middle left: the curves start at 1 and 0
        self.curve.hideButtons()
        upper.addWidget(left)
        upper.addWidget(self.hist)
        upper.addWidget(self.curve)
        upper.setSizes([400, 450, 450])
        return upper

    # ------------------------------------------------------------------ data
    def set_sweep(self, sweep: Sweep | None, entry: int = 0) -> None:
        """Draw configuration ``entry`` of ``sweep`` (None clears), its gallery all models by verdict."""
        self.sweep = sweep
        self.gallery.delegate.clear()
        self.set_entry(entry)

    def entry(self) -> SweepEntry | None:
        if self.sweep is None or not self.sweep.entries:
            return None
        return self.sweep.entries[min(self.entry_index, len(self.sweep.entries) - 1)]

    def set_entry(self, i: int) -> None:
        """Draw configuration ``i`` of the sweep: summary, table, bars, histogram, curve; the gallery all
        its models, grouped by verdict."""
        self.entry_index = int(i)
        e = self.entry()
        self.table.setRowCount(0)
        self.bars.clear()
        self.hist.clear()
        self.curve.clear()
        for plot in (self.hist, self.curve):
            if plot.plotItem.legend is not None:
                plot.plotItem.legend.clear()
        self.rates, self.finding_rates, self.outcome_rates = {}, {}, {}
        if e is None:
            self.summary.setText("no sweep" if self.sweep is None else "the sweep has no completed configuration")
            self.gallery.gallery_model.set_entry(None, [])
            return
        s = e.summary()
        lo, hi = s["failure_ci95"]
        cancelled = " (cancelled: partial)" if self.sweep is not None and self.sweep.cancelled else ""
        self.summary.setText(f"{e.K:,} models (seeds {e.config.seed}..{e.config.seed + e.K - 1}), "
                             f"{e.config.steps:,} steps · failures {100 * s['failure_rate']:.1f}% "
                             f"[{100 * lo:.1f}, {100 * hi:.1f}]{cancelled}")
        self.rates, self.finding_rates, self.outcome_rates = e.rates(), e.finding_rates(), e.outcome_rates()
        self._fill_table()
        self._draw_curve(e)
        self._draw_bars()
        self._draw_histogram(e)
        self.show_models(None)

    def _fill_table(self) -> None:
        """A row per verdict, per outcome and per finding: count, rate and Wilson interval."""
        rows = [(verdict_label(v), r, QColor(*VERDICT_COLORS.get(v, palette.VERDICT_OTHER)))
                for v, r in self.rates.items()]
        rows += [(f"outcome: {k.replace('failure_', 'failures ')}", r, QColor(*OUTCOME_COLORS.get(
            k.replace("failure_", ""), (0, 0, 0)))) for k, r in self.outcome_rates.items()]
        rows += [(f"finding: {k.replace('_', ' ')}", r, QColor(90, 90, 90)) for k, r in self.finding_rates.items()]
        self.table.setRowCount(len(rows))
        for row, (label, r, color) in enumerate(rows):
            items = [label, f"{r['count']:,}", f"{100 * r['rate']:.1f}%",
                     f"{100 * r['ci95'][0]:.1f}% – {100 * r['ci95'][1]:.1f}%"]
            for col, text in enumerate(items):
                it = QTableWidgetItem(text)
                if col == 0:
                    it.setForeground(color)
                self.table.setItem(row, col, it)

    def _draw_bars(self) -> None:
        """The verdicts' rates as bars with Wilson whiskers."""
        rates = self.rates
        xs = np.arange(len(rates), dtype=float)
        ys = np.array([r["rate"] for r in rates.values()])
        brushes = [pg.mkBrush(*VERDICT_COLORS.get(v, palette.VERDICT_OTHER)) for v in rates]
        self.bars.addItem(pg.BarGraphItem(x=xs, height=ys, width=0.6, brushes=brushes, pen=None))
        lo_ = np.array([r["ci95"][0] for r in rates.values()])
        hi_ = np.array([r["ci95"][1] for r in rates.values()])
        self.bars.addItem(pg.ErrorBarItem(x=xs, y=ys, top=hi_ - ys, bottom=ys - lo_, beam=0.25,
                                          pen=pg.mkPen((0, 0, 0), width=1.5)))
        self.bars.getAxis("bottom").setTicks([[(i, verdict_label(v).replace(" failure", ""))
                                               for i, v in enumerate(rates)]])
        self.bars.setYRange(0, 1.05, padding=0)
        self.bars.setXRange(-0.6, len(rates) - 0.4, padding=0)

    def _draw_histogram(self, e: SweepEntry) -> None:
        """log10(final loss), stacked by verdict."""
        edges, counts = loss_histogram(e.loss, e.verdicts, bins=40)
        base = np.zeros(len(edges) - 1)
        w = edges[1] - edges[0]
        centres = 0.5 * (edges[1:] + edges[:-1])
        for v, c in counts.items():
            item = pg.BarGraphItem(x=centres, height=c, y0=base, width=w * 0.95,
                                   brush=pg.mkBrush(*VERDICT_COLORS.get(v, palette.VERDICT_OTHER)), pen=None)
            self.hist.addItem(item)
            self.hist.plotItem.legend.addItem(item, verdict_label(v))
            base = base + c

    def plot_items(self) -> list[pg.PlotItem]:
        """The plots drawn (the view gives them pyqtgraph's right-click menus)."""
        return [w.getPlotItem() for w in (self.bars, self.hist, self.curve)]

    def show_models(self, verdict: str | None, keep: np.ndarray | None = None) -> None:
        """The gallery: one verdict's models by loss (None: all, grouped by verdict), only those ``keep``
        says (None: every one)."""
        e = self.entry()
        if e is None:
            return
        self.gallery.gallery_model.set_entry(e, gallery_order(e.verdicts, e.loss, verdict, keep))

    def _draw_curve(self, e: SweepEntry) -> None:
        """The failure rate against training length (the verdict grid's steps), and the share of models called
        stuck failures at each, each with its Wilson 95% band."""
        curve = e.failure_curve()
        if not curve:
            self.curve.setTitle("failure rate against steps: not recorded in this sweep file")
            return
        self.curve.setTitle("failure rate against training length (95% Wilson bands)")
        x = np.array([c["step"] for c in curve], dtype=np.float64)  # the plot's log mode takes the steps as they are
        for key, lo_hi, name, rgb in (("rate", "ci95", "failures", VERDICT_COLORS["symmetric_failure"]),
                                      ("stuck_rate", "stuck_ci95", "stuck failures", OUTCOME_COLORS["stuck"])):
            y = np.array([c[key] for c in curve])
            band = pg.mkPen(rgb, width=1, style=Qt.PenStyle.DotLine)
            lo = pg.PlotDataItem(x, np.array([c[lo_hi][0] for c in curve]), pen=band)
            hi = pg.PlotDataItem(x, np.array([c[lo_hi][1] for c in curve]), pen=band)
            for item in (lo, hi):  # in the plot, so that its log mode applies to them
                self.curve.addItem(item)
            self.curve.addItem(pg.FillBetweenItem(lo, hi, brush=pg.mkBrush(*rgb, 60)))
            self.curve.addItem(pg.PlotDataItem(x, y, pen=pg.mkPen(rgb, width=2), symbol="o", symbolSize=5,
                                               symbolBrush=pg.mkBrush(*rgb), name=name))
        self.curve.setYRange(0, 1.02, padding=0)
        lx = np.log10(x)
        self.curve.setXRange(float(lx.min()) - 0.05, float(lx.max()) + 0.05, padding=0)  # log mode: log10 units



class SweepView(QWidget):
    """The atlas in the Experiments window: its content (``CONTENT``, a SweepContent: table, bars, histogram,
    curve, gallery) with the controls: the configuration, finding and outcome pickers beside the summary,
    the verdict tabs over the gallery, and a click on a thumbnail (``modelChosen``). What the content holds
    (``table``, ``gallery``, ``curve``, ``sweep``, ``entry_index``, ...) reads through the view."""

    modelChosen = pyqtSignal(int, int)  # entry index, model k
    #: what the view draws (buildable without this widget: the exporter does)
    CONTENT = SweepContent

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.content = self.CONTENT()
        self._verdict_tabs: list = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        top = self.content.top_row
        self.config_box = QComboBox()
        self.config_box.setToolTip("the grid configuration shown")
        self.config_box.currentIndexChanged.connect(self._entry_changed)
        self.config_label = QLabel("configuration:")
        top.insertWidget(0, self.config_label)
        top.insertWidget(1, self.config_box, 0)
        self.finding_box = QComboBox()
        self.finding_box.setObjectName("finding_filter")
        self.finding_box.setToolTip("show only the models with this finding (counts per finding are in the table)")
        self.finding_box.currentIndexChanged.connect(lambda _i: self._tab_changed(self.tabs.currentIndex()))
        self.finding_label = QLabel("finding:")
        top.addWidget(self.finding_label)
        top.addWidget(self.finding_box, 0)
        self.outcome_box = QComboBox()
        self.outcome_box.setObjectName("outcome_filter")
        self.outcome_box.setToolTip("show only the models with this outcome: settled (perfect and staying), stuck "
                                    "(a failure training will not leave), moving (still changing)")
        self.outcome_box.currentIndexChanged.connect(lambda _i: self._tab_changed(self.tabs.currentIndex()))
        self.outcome_label = QLabel("outcome:")
        top.addWidget(self.outcome_label)
        top.addWidget(self.outcome_box, 0)
        self.tabs = QTabBar()
        self.tabs.setExpanding(False)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.content.gallery_box.insertWidget(0, self.tabs)
        gallery = self.content.gallery
        gallery.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        gallery.clicked.connect(self._thumbnail_clicked)
        for pi in self.content.plot_items():
            pi.setMenuEnabled(True)  # pyqtgraph's right-click menus (range, log, export, ...)
        lay.addWidget(self.content, 1)

    def __getattr__(self, name: str) -> Any:
        """What the content holds (its plots, table, gallery, the sweep drawn) reads through the view."""
        if name == "content" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.content, name)

    def _thumbnail_clicked(self, index: QModelIndex) -> None:
        self.modelChosen.emit(self.content.entry_index, self.content.gallery.gallery_model.model_at(index.row()))

    # ------------------------------------------------------------------ data
    def set_sweep(self, sweep: Sweep | None) -> None:
        self.content.set_sweep(sweep)
        self.config_box.blockSignals(True)
        self.config_box.clear()
        if sweep is not None:
            for e in sweep.entries:
                self.config_box.addItem(e.label)
        self.config_box.blockSignals(False)
        self.config_box.setVisible(sweep is not None and len(sweep.entries) > 1)
        self._show_pickers()

    def entry(self) -> SweepEntry | None:
        return self.content.entry()

    def _entry_changed(self, i: int):
        if i >= 0:
            self.content.set_entry(i)
            self._show_pickers()

    def _show_pickers(self) -> None:
        """The finding and outcome pickers and the verdict tabs of the entry drawn (with their counts)."""
        self.tabs.blockSignals(True)
        while self.tabs.count():
            self.tabs.removeTab(0)
        self.tabs.blockSignals(False)
        e = self.entry()
        if e is None:
            return
        c = self.content
        self.finding_box.blockSignals(True)
        self.finding_box.clear()
        self.finding_box.addItem("any", None)
        for k, r in c.finding_rates.items():
            self.finding_box.addItem(f"{k.replace('_', ' ')} ({r['count']:,})", k)
        self.finding_box.setEnabled(bool(c.finding_rates))
        self.finding_box.blockSignals(False)
        self.outcome_box.blockSignals(True)
        self.outcome_box.clear()
        self.outcome_box.addItem("any", None)
        for k in OUTCOMES:
            if k in c.outcome_rates:
                self.outcome_box.addItem(f"{k} ({c.outcome_rates[k]['count']:,})", k)
        self.outcome_box.setEnabled(bool(c.outcome_rates))
        self.outcome_box.blockSignals(False)
        self.tabs.blockSignals(True)
        self._verdict_tabs = [None] + list(c.rates)
        self.tabs.addTab(f"all ({e.K:,})")
        for v, r in c.rates.items():
            i = self.tabs.addTab(f"{verdict_label(v)} ({r['count']:,})")
            self.tabs.setTabTextColor(i, QColor(*VERDICT_COLORS.get(v, palette.VERDICT_OTHER)))
        self.tabs.setCurrentIndex(0)
        self.tabs.blockSignals(False)
        self.tabs.setMinimumHeight(self.tabs.sizeHint().height())  # a bar made empty keeps height 0 otherwise
        self._tab_changed(0)

    def _tab_changed(self, i: int):
        e = self.entry()
        if e is None or i < 0 or i >= len(self._verdict_tabs):
            return
        self.show_verdict(self._verdict_tabs[i])

    def show_finding(self, kind: str | None) -> None:
        """Filter the gallery to the models with this finding (None: any)."""
        i = self.finding_box.findData(kind)
        self.finding_box.setCurrentIndex(max(i, 0))

    def show_verdict(self, verdict: str | None) -> None:
        """Gallery of one verdict's models (None: all, grouped by verdict), within the finding filter."""
        e = self.entry()
        if e is None:
            return
        if verdict in self._verdict_tabs:
            i = self._verdict_tabs.index(verdict)
            if self.tabs.currentIndex() != i:
                self.tabs.blockSignals(True)
                self.tabs.setCurrentIndex(i)
                self.tabs.blockSignals(False)
        kind = self.finding_box.currentData()
        keep = e.has_finding(kind) if kind else None
        outcome = self.outcome_box.currentData()
        if outcome and e.outcomes is not None:
            has = e.outcomes == outcome
            keep = has if keep is None else keep & has
        self.content.show_models(verdict, keep)

    def show_outcome(self, outcome: str | None) -> None:
        """Filter the gallery to the models with this outcome (None: any)."""
        i = self.outcome_box.findData(outcome)
        self.outcome_box.setCurrentIndex(max(i, 0))


__all__ = [
    "OUTCOME_COLORS",
    "VERDICT_COLORS",
    "Gallery",
    "GalleryModel",
    "SweepContent",
    "SweepView",
    "ThumbnailDelegate",
    "gallery_order",
    "thumbnail_segments",
]
