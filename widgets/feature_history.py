"""The story of each chosen feature over the whole run: |W_i| against the dead threshold,
b_i against 1/n, the fractional dimensionality D_i and the sliver share, at every recorded
step (model.analysis.feature_history computes the series, vectorised over steps), with the current
step as a cursor you can drag (dragging asks for that step: ``stepRequested``) and the
diagnosis' events (model.analysis.story: a feature died, the verdict changed, the loss plateaued) as
vertical lines, on a log or linear step axis (``HistorySettings``).

The features: the selection (at most FEATURES_MAX); with nothing selected, every feature up
to FEATURES_MAX of them, else the weakest at the latest recorded step (the dead first), so
a death that training is heading for is on screen without asking.

The events come in the frame's ``story`` (the window's story job, or the exporter); the
history in its ``history``. While the frame moves (scrubbing, playback) only the cursor
moves; the curves are redrawn when the history, the features, the events or the settings
change, and the series are extended incrementally as training records steps.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, Qt, pyqtSignal
from PyQt6.QtGui import QFont, QFontMetrics
from PyQt6.QtWidgets import QWidget

from model.analysis.feature_history import SERIES, FeatureSeries, SeriesTracker
from model.snapshot import Snapshot
from views.settings import HistorySettings

from .views2d import BACKGROUND, PlotContent, PlotPanel, feature_colors_for, fmt_num, selected_of, steady_axes

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from model.analysis.frame import Frame

#: While training records steps (nothing else changed), the curves are drawn again at most this often
#: (seconds): each redraw hands every curve all its points, and the cursor moves every frame anyway.
GROWTH_REDRAW_S = 0.5
#: At most this many features are drawn (a line each, in their colours).
FEATURES_MAX = 8
#: What each panel shows: series key -> (axis label, what the panel draws beside the features).
PANELS = {"norm": "|W_i|", "bias": "b_i", "dim": "D_i", "share": "sliver share"}
CURSOR_PEN = (214, 39, 40)
REFERENCE_PEN = (90, 90, 90)
PLATEAU_COLOR = "#17becf"
#: Event labels drawn at the top of the |W_i| panel (the diagnosis changes; the rest are lines only),
#: in at most LABEL_ROWS rows.
EVENT_LABELS_MAX = 12
LABEL_ROWS = 3


# ----------------------------------------------------------------------------
# pure helpers

def step_x(steps: ArrayLike, axis: str) -> np.ndarray:
    """The plot's x of each step: log10(1 + step) on the log axis (step 0 has no logarithm), else the step."""
    s = np.asarray(steps, dtype=np.float64)
    return np.log10(1.0 + np.maximum(s, 0.0)) if axis == "log" else s


def x_step(x: float, axis: str) -> int:
    """The step at plot x (the inverse of step_x), rounded to a whole step."""
    return int(round(10.0 ** float(x) - 1.0)) if axis == "log" else int(round(float(x)))


def chosen_features(n: int, selected: Sequence[int], latest_norms: np.ndarray | None = None,
                    cap: int = FEATURES_MAX) -> tuple[list[int], str]:
    """(features 0-based, why) the view draws: the selection (first ``cap``), else every feature when
    n <= cap, else the ``cap`` weakest at the latest recorded step (``latest_norms``), weakest first."""
    sel = sorted({int(i) for i in selected if 0 <= int(i) < n})
    if sel:
        return sel[:cap], "selected" + (f", the first {cap}" if len(sel) > cap else "")
    if n <= cap:
        return list(range(n)), "all"
    if latest_norms is None or len(latest_norms) != n:
        return list(range(cap)), f"the first {cap}; select features to follow others"
    weak = np.argsort(np.asarray(latest_norms, dtype=np.float64), kind="stable")[:cap]
    return [int(i) for i in weak], "the weakest at the latest step; select features to follow others"


def event_label(text: str) -> str:
    """The short label of a diagnosis event: what changed ('dead: 1'), else the verdict; 'initial' at step 0."""
    if text.startswith("initial parameters"):
        return "initial"
    return text.rsplit(";", 1)[-1].strip()


def ranges_label(features: Sequence[int]) -> str:
    one = [i + 1 for i in features]
    if len(one) > 2 and one == list(range(one[0], one[-1] + 1)):
        return f"{one[0]}-{one[-1]}"
    return ", ".join(str(i) for i in one)


class StepAxis(pg.AxisItem):
    """A bottom axis labelled in steps whatever the plot's x is (log10(1 + step) on the log axis)."""

    def __init__(self, orientation: str = "bottom", **kw: object):
        super().__init__(orientation, **kw)
        self.axis = "log"

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        if self.axis != "log":
            return super().tickValues(minVal, maxVal, size)
        lo, hi = max(minVal, 0.0), max(maxVal, 0.0)
        k0, k1 = int(math.floor(lo)) - 1, int(math.ceil(hi)) + 1
        major = [math.log10(1 + 10.0 ** k) for k in range(max(k0, 0), k1 + 1)] + [0.0]
        minor = [math.log10(1 + f * 10.0 ** k) for k in range(max(k0, 0), k1 + 1) for f in (2, 5)]
        inside = lambda v: lo - 1e-9 <= v <= hi + 1e-9  # noqa: E731
        ticks = [(1.0, sorted({v for v in major if inside(v)}))]
        if (hi - lo) < 4:  # minor labels only while they fit
            ticks.append((0.5, sorted(v for v in minor if inside(v))))
        return ticks

    def tickStrings(self, values: list, scale: float, spacing: float) -> list:
        if self.axis != "log":
            return [f"{v:,.0f}" if abs(v) >= 1 or v == 0 else f"{v:g}" for v in values]
        return [f"{x_step(v, 'log'):,}" for v in values]


# ----------------------------------------------------------------------------
# the view

class FeatureHistoryContent(PlotContent):
    """What the feature history draws: |W_i|, b_i, D_i and sliver share of the chosen features over the
    run (2 x 2 plots in one scene sharing the step axis), the current step as a cursor, the story's
    events as lines."""

    SETTINGS = HistorySettings

    def __init__(self) -> None:
        super().__init__()
        self.plot.setMinimumSize(200, 150)
        self.tracker = SeriesTracker()
        self.series: FeatureSeries | None = None
        self.features: list[int] = []
        self._drawn = None  # what the curves show: (series, axis, colours, events, show_events)
        self._drawn_at = 0.0
        self._x_range = (math.nan, math.nan)

    def make_plot(self) -> pg.GraphicsView:
        """A 2 x 2 grid of plots linked on x, in one view."""
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(BACKGROUND[:3])
        self.plots: dict[str, pg.PlotItem] = {}
        self.cursors: dict[str, pg.InfiniteLine] = {}
        self.curves: dict[str, list[pg.PlotDataItem]] = {k: [] for k in SERIES}
        for i, key in enumerate(SERIES):
            p = self.glw.addPlot(row=i // 2, col=i % 2, axisItems={"bottom": StepAxis(orientation="bottom")},
                                 enableMenu=False)
            p.hideButtons()
            p.setMenuEnabled(False)
            steady_axes(p)
            p.showGrid(x=True, y=True, alpha=0.15)
            p.setLabel("left", PANELS[key])
            p.getAxis("left").enableAutoSIPrefix(False)
            p.getAxis("bottom").enableAutoSIPrefix(False)
            if key != SERIES[0]:
                p.setXLink(self.plots[SERIES[0]])
            cur = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(CURSOR_PEN, width=2),
                                  hoverPen=pg.mkPen(CURSOR_PEN, width=4))
            cur.setZValue(30)
            p.addItem(cur, ignoreBounds=True)
            self.plots[key], self.cursors[key] = p, cur
        self.plot_item = self.plots["norm"]
        self.vb = self.plot_item.getViewBox()
        self.threshold = pg.PlotDataItem(pen=pg.mkPen(REFERENCE_PEN, width=1.2, style=Qt.PenStyle.DashLine))
        self.plots["norm"].addItem(self.threshold)
        self.inv_n = pg.InfiniteLine(angle=0, pen=pg.mkPen(REFERENCE_PEN, width=1.2, style=Qt.PenStyle.DashLine),
                                     label="1/n", labelOpts={"position": 0.03, "color": REFERENCE_PEN,
                                                             "anchors": [(0, 1), (0, 1)]})
        self.plots["bias"].addItem(self.inv_n, ignoreBounds=False)
        self.threshold_label = pg.TextItem("dead below", color=REFERENCE_PEN, anchor=(0, 1))
        self.plots["norm"].addItem(self.threshold_label, ignoreBounds=True)
        self._event_items: list[tuple[pg.PlotItem, pg.GraphicsObject]] = []
        return self.glw

    # ------------------------------------------------------------ drawing
    def _clear(self):
        self.series = None
        self.features = []
        self._drawn = None
        for items in self.curves.values():
            for c in items:
                c.setData([], [])
        self.threshold.setData([], [])
        self._set_events([], "log", False)
        for cur in self.cursors.values():
            cur.setVisible(False)
        self.set_note("")

    def draw(self, snap: Snapshot | None, frame: Frame | None) -> None:
        if not self._take(snap, frame):
            return
        assert snap is not None and frame is not None  # _take: a snapshot with features, of a frame
        h = frame.history
        if h is None or not len(h) or h.n != snap.n:
            self._clear()
            self.set_note("no recorded history to draw (a run's history: train or open a run)")
            return
        model = frame.model
        latest = h.snapshot(model=model)
        feats, why = chosen_features(snap.n, selected_of(frame, snap.n).tolist(), np.hypot.reduce(latest.W, axis=0))
        self.features = feats
        self.series = self.tracker.update(h, feats, model)
        st = self._settings
        colors = feature_colors_for(snap, frame)[feats]
        events = tuple((int(e["step"]), str(e.get("kind", "diagnosis")), str(e.get("text", "")),
                        str(e.get("color", "#d62728"))) for e in frame.story)
        drawn = (self.series, st.axis, colors.tobytes(), events, st.show_events)
        changed = self._drawn is None or drawn[1:] != self._drawn[1:]
        grown = not changed and drawn[0] is not self._drawn[0]  # only steps recorded (or thinned) since
        if changed or (grown and time.monotonic() - self._drawn_at >= GROWTH_REDRAW_S):
            self._draw_curves(self.series, colors, st.axis)
            if changed:
                self._set_events(events, st.axis, st.show_events)
            self._drawn, self._drawn_at = drawn, time.monotonic()
        self._place_cursor(snap.step, st.axis)
        k_main, k_share = self.tracker.strides
        thin = "" if k_main == k_share == 1 else (f"; every {k_main}th recorded step" if k_main > 1 else "") + (
            f"; sliver share every {k_share}th" if k_share > 1 else "")
        self.set_note(f"features {ranges_label(feats)} ({why}) · {len(self.series.steps):,} steps{thin} · "
                      f"drag the red cursor to scrub")

    def _curve(self, key: str, j: int) -> pg.PlotDataItem:
        items = self.curves[key]
        while len(items) <= j:
            c = pg.PlotDataItem(connect="finite")
            c.setDownsampling(auto=True, method="peak")
            c.setClipToView(True)
            c.setZValue(10)
            self.plots[key].addItem(c)
            items.append(c)
        return items[j]

    def _draw_curves(self, s: FeatureSeries, colors: np.ndarray, axis: str) -> None:
        x = step_x(s.steps, axis)
        for key in SERIES:
            y = getattr(s, key)
            for j in range(len(s.features)):
                c = self._curve(key, j)
                c.setPen(pg.mkPen(tuple(int(v) for v in colors[j][:3]), width=2))
                yj = y[:, j]
                if key == "share":  # computed at every k-th step of a large run: join the computed ones
                    ok = np.isfinite(yj)
                    c.setData(x[ok], yj[ok])
                else:
                    c.setData(x, yj)
            for c in self.curves[key][len(s.features):]:
                c.setData([], [])
        self.plots["norm"].setLabel("left", PANELS["norm"] if s.norm_of == "W" else "|Φ_i| (untied: the function's)")
        self.threshold.setData(x, s.dead_threshold)
        self.inv_n.setValue(s.inv_n)
        if len(x):
            self.threshold_label.setPos(float(x[0]), float(s.dead_threshold[0]))
            lo, hi = self._cursor_range(s, axis)
            for p in self.plots.values():
                p.getAxis("bottom").axis = axis
                p.getAxis("bottom").picture = None
                p.getAxis("bottom").update()
            self._home(lo, hi)

    def _home(self, lo: float, hi: float) -> None:
        """The ranges the view chooses for itself: the whole run on x (linked), D_i and sliver share
        on [0, 1.05], |W_i| and b_i fitted to their curves."""
        self.plots["norm"].setXRange(lo, hi, padding=0.02)
        for key in ("dim", "share"):
            self.plots[key].setYRange(0.0, 1.05, padding=0)
        for key in ("norm", "bias"):
            self.plots[key].enableAutoRange(axis="y")

    def _set_events(self, events, axis: str, show: bool) -> None:
        for p, it in self._event_items:
            p.removeItem(it)
        self._event_items = []
        if not show:
            return
        for step, kind, text, color in events:
            x = float(step_x([step], axis)[0])
            plateau = kind == "plateau"
            pen = pg.mkPen(PLATEAU_COLOR if plateau else color, width=1.5,
                           style=Qt.PenStyle.DotLine if plateau else Qt.PenStyle.DashLine)
            for p in self.plots.values():
                line = pg.InfiniteLine(pos=x, angle=90, pen=pen, movable=False)
                line.setToolTip(text if plateau else f"step {step:,}: {text}")
                line.setZValue(5)
                p.addItem(line, ignoreBounds=True)
                self._event_items.append((p, line))
        self._label_events([e for e in events if e[1] != "plateau"], axis)

    def _label_events(self, events, axis: str) -> None:
        """Short labels of the diagnosis events at the top of the |W_i| panel, left to right, each in the
        first of LABEL_ROWS rows where it overlaps no other (an event left without room keeps its line
        and the line's tooltip)."""
        vb = self.plots["norm"].getViewBox()
        width = max(vb.width(), 1.0)
        lo, hi = self._x_range
        fm = QFontMetrics(QFont())
        ends = [-math.inf] * LABEL_ROWS
        for step, _kind, text, color in events[:EVENT_LABELS_MAX * 4]:
            short = event_label(text)
            px = (float(step_x([step], axis)[0]) - lo) / max(hi - lo, 1e-12) * width
            row = next((r for r in range(LABEL_ROWS) if ends[r] < px), None)
            if row is None:
                continue
            ends[row] = px + fm.horizontalAdvance(short) + 12
            lab = pg.TextItem(short, color=color, anchor=(0, -1.1 * row))
            lab.setToolTip(f"step {step:,}: {text}")
            lab.setPos(float(step_x([step], axis)[0]), 0)
            lab.setZValue(6)
            self.plots["norm"].addItem(lab, ignoreBounds=True)
            self._event_items.append((self.plots["norm"], lab))
        self._place_event_labels()

    def _place_event_labels(self) -> None:
        """The event labels at the top of the |W_i| panel (once its y range is known)."""
        top = self.plots["norm"].getViewBox().viewRange()[1][1]
        for _p, it in self._event_items:
            if isinstance(it, pg.TextItem) and it.pos().y() != top:
                it.setPos(it.pos().x(), top)

    def _cursor_range(self, s: FeatureSeries, axis: str) -> tuple[float, float]:
        """The steps the cursor may be dragged over: the series' (it may be ahead of the curves while
        training); set on the cursors when it changed."""
        x = step_x(s.steps[[0, -1]], axis) if len(s.steps) else np.array([0.0, 1.0])
        lo, hi = float(x[0]), float(x[-1])
        if hi <= lo:
            hi = lo + 1.0
        if (lo, hi) != self._x_range:
            self._x_range = (lo, hi)
            for cur in self.cursors.values():
                cur.setBounds((lo, hi))
        return lo, hi

    def _place_cursor(self, step: int, axis: str) -> None:
        if self.series is not None:
            self._cursor_range(self.series, axis)
        x = float(step_x([step], axis)[0])
        for cur in self.cursors.values():
            cur.setVisible(True)
            if cur.value() != x:
                cur.setValue(x)
        self._place_event_labels()

    def cursor_step(self) -> int | None:
        """The step under the cursor (the shown step), or None."""
        cur = self.cursors["norm"]
        return x_step(cur.value(), self._settings.axis) if cur.isVisible() else None



class FeatureHistoryView(PlotPanel):
    """The feature history in the window: its FeatureHistoryContent under the settings' controls; drag
    the cursor or click a plot to scrub (``stepRequested``), hover for the values at a step."""

    CONTENT = FeatureHistoryContent
    stepRequested = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.add_setting_choice("axis", {"log": "log step", "linear": "linear step"},
                                "the step axis: log10(1 + step) spreads the early steps, where training moves fast")
        self.add_setting_toggle("show_events", "events", "the diagnosis' events: a feature died, the verdict "
                                                         "changed (coloured by verdict), the loss plateaued (cyan)")
        for cur in self.cursors.values():
            cur.sigDragged.connect(self._cursor_dragged)
        self.plot.scene().sigMouseClicked.connect(self._scene_clicked)
        self.plot.scene().sigMouseMoved.connect(self._scene_moved)

    # ------------------------------------------------------------ interaction
    def reset_view(self) -> None:
        """Back to the whole run in every panel (the toolbar's reset button, a double-click)."""
        s = self.series
        if s is None or not len(s.steps):  # nothing drawn: each panel's automatic range
            for p in self.plots.values():
                p.getViewBox().setRange(xRange=(0.0, 1.0), yRange=(0.0, 1.0))
                p.getViewBox().enableAutoRange(x=True, y=True)
            return
        self._home(*self._cursor_range(s, self._settings.axis))

    def _cursor_dragged(self, line: pg.InfiniteLine) -> None:
        x = float(line.value())
        for cur in self.cursors.values():
            if cur is not line:
                cur.setValue(x)
        self.stepRequested.emit(max(x_step(x, self._settings.axis), 0))

    def _plot_at(self, scene_pos: QPointF) -> tuple[str, QPointF] | None:
        for key, p in self.plots.items():
            vb = p.getViewBox()
            if vb.sceneBoundingRect().contains(scene_pos):
                return key, vb.mapSceneToView(scene_pos)
        return None

    def _scene_clicked(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and ev.double():
            self.reset_view()
            return
        if ev.button() != Qt.MouseButton.LeftButton or self.series is None or not len(self.series.steps):
            return
        hit = self._plot_at(ev.scenePos())
        if hit is not None:
            self.stepRequested.emit(max(x_step(hit[1].x(), self._settings.axis), 0))

    def _scene_moved(self, scene_pos: QPointF) -> None:
        s = self.series
        hit = self._plot_at(scene_pos)
        if s is None or hit is None or not len(s.steps):
            return
        i = int(np.clip(np.searchsorted(s.steps, x_step(hit[1].x(), self._settings.axis), side="right") - 1,
                        0, len(s.steps) - 1))
        key = hit[0]
        parts = [f"step {int(s.steps[i]):,}"]
        for j, f in enumerate(s.features[:4]):
            parts.append(f"{PANELS[key].replace('_i', f'_{f + 1}')} {fmt_num(getattr(s, key)[i, j])}")
        if key == "norm":
            parts.append(f"dead below {fmt_num(s.dead_threshold[i])}")
        elif key == "bias":
            parts.append(f"1/n {fmt_num(s.inv_n)}")
        self.status.setText(" · ".join(parts))


__all__ = [
    "FEATURES_MAX",
    "FeatureHistoryContent",
    "FeatureHistoryView",
    "HistorySettings",
    "StepAxis",
    "chosen_features",
    "step_x",
    "x_step",
]
