"""The perturbation probe panel: is the shown snapshot a local optimum?

Controls pick a one-parameter path through the snapshot (b_i + t; W_i + t u with u
another feature's W_j, an angle or random; a random direction in all
parameters; W_i turned by an angle θ, |W_i| kept: model/analysis/probe.py); the plot
shows loss(t) with t = 0 marked, the tangent (slope) and the local quadratic
(curvature) there, and a draggable marker for the chosen t; a slider moves it
too. The readout gives loss(0), the slope and curvature by finite differences
and by autograd. The angle path is drawn over θ in degrees (slope and curvature
stay per radian) with the two-vector closed form overlaid where it applies (a
model of two features; the readout says why when it does not).

The panel computes nothing: it emits ``probeRequested(params)``,
``tChanged(t)``, ``showPerturbed(bool)`` and ``continueRequested(t, steps)``;
the app runs the probe off the GUI thread and calls ``set_result``.
Features are numbered from 1 in the controls, as in the seed.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from resources.palette import BLUE, GREEN, PURPLE, RED

from .views2d import no_si_prefix

if TYPE_CHECKING:
    from model.analysis.probe import ProbeResult

CURVE_PEN, TANGENT_PEN, QUAD_PEN = BLUE, RED, GREEN  # loss(t), the slope and the curvature at 0
REF_PEN = PURPLE  # the two-vector closed form
REF_ALPHA = 150
SLIDER_STEPS = 1000
DEG = 180.0 / np.pi


def _spin_box(lo: int, hi: int, value: int, suffix: str = "") -> QSpinBox:
    sb = QSpinBox()
    sb.setRange(lo, hi)
    sb.setValue(value)
    sb.setSuffix(suffix)
    return sb


def local_models(result: ProbeResult, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tangent, quadratic) of the result at t = 0 over ts: L0 + s t and L0 + s t + c t^2 / 2."""
    ts = np.asarray(ts, dtype=np.float64)
    tan = result.loss0 + result.slope_fd * ts
    quad = tan + 0.5 * result.curvature_fd * ts * ts
    return tan, quad


def readout_text(result: ProbeResult) -> str:
    r = result
    angle = r.path.kind == "angle"
    lines = [f"<b>{r.path.text}</b> &nbsp; ({r.objective})" + (" &nbsp; θ in degrees; slope and curvature per "
                                                                "radian" if angle else ""),
             f"loss(0) = {r.loss0:.8g}",
             f"slope dL/dt = {r.slope_fd:.5g} (finite differences, h = {r.fd_step:.2g}) · {r.slope_autograd:.5g} (autograd)",
             f"curvature d²L/dt² = {r.curvature_fd:.5g} · {r.curvature_autograd:.5g} (autograd)"]
    if not r.smooth_at_zero:
        lines.append("t = 0 sits on a ReLU kink (a pre-activation exactly at 0): one-sided slopes "
                     f"{r.slope_left:.4g} / {r.slope_right:.4g}")
    if r.local_min_along_path:
        lines.append("<span style='color:#2ca02c'>t = 0 is a local minimum along this path</span>")
    else:
        ts = r.t_star
        lines.append("<span style='color:#d62728'>not a minimum along this path"
                     + (f": the local quadratic's minimum is at t = {ts:.3g}" if ts is not None else "") + "</span>")
    tb, lb = r.best()
    lines.append(f"lowest on the grid: {lb:.6g} at " + (f"θ = {tb * DEG:.4g}°" if angle else f"t = {tb:.4g}"))
    if angle:
        if r.reference is not None:
            dev = float(np.max(np.abs(np.asarray(r.losses) - np.asarray(r.reference))))
            lines.append(f"<span style='color:#9467bd'>overlay: {r.reference_text}; largest |loss − closed form| "
                         f"{dev:.2g}</span>")
        else:
            lines.append(f"no overlay: {r.reference_text}")
    return "<br>".join(lines)


class ProbeContent(QWidget):
    """What the probe view draws of a result, and nothing else: loss along the path with its slope and
    curvature at 0, the closed-form overlay (angle path), t = 0 and the marker at the chosen t with its
    dot on the curve (``place_t``), over the readout. No control: the marker does not move by hand here.
    The window's ``ProbeView`` embeds this content and adds the path controls, the t row (``box``: between
    the plot and the readout) and the dragging of the marker; the exporter
    (app.export.experiment_figures) builds a content alone."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.result: ProbeResult | None = None
        self._xscale = 1.0  # plot x per path t: degrees per radian for the angle path
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.addWidget(self._build_plot(), 1)
        self.readout = QLabel("")
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setWordWrap(True)
        self.box.addWidget(self.readout)

    def _build_plot(self) -> pg.PlotWidget:
        """loss(t) with its slope and curvature at 0, the closed-form overlay, and the t marker."""
        self.plot = pg.PlotWidget(enableMenu=False)  # pyqtgraph's right-click menus: the view's
        self.plot.setLabel("bottom", "t")
        self.plot.setLabel("left", "loss")
        for ax in ("bottom", "left"):
            no_si_prefix(self.plot.getAxis(ax))
        self.plot.addLegend(offset=(-5, 5))
        self.curve = self.plot.plot([], [], pen=pg.mkPen(CURVE_PEN, width=2), name="loss(t)")
        self.tangent = self.plot.plot([], [], pen=pg.mkPen(TANGENT_PEN, width=1.5, style=Qt.PenStyle.DashLine),
                                      name="slope at 0")
        self.quad = self.plot.plot([], [], pen=pg.mkPen(QUAD_PEN, width=1.5, style=Qt.PenStyle.DotLine),
                                   name="curvature at 0")
        # the two-vector closed form (angle path); in the legend only while drawn
        # drawn wide and translucent under loss(t), so a curve that matches shows as a halo around it
        self.ref = self.plot.plot([], [], pen=pg.mkPen(REF_PEN + (REF_ALPHA,), width=7))
        self.ref.setZValue(-1)
        self.zero = pg.InfiniteLine(0.0, angle=90, pen=pg.mkPen((120, 120, 120), width=1))
        self.marker = pg.InfiniteLine(0.0, angle=90, movable=False, pen=pg.mkPen((0, 0, 0), width=2))
        self.plot.addItem(self.zero)
        self.plot.addItem(self.marker)
        self.dot = pg.ScatterPlotItem([], [], size=9, brush=pg.mkBrush(0, 0, 0))
        self.plot.addItem(self.dot)
        return self.plot

    def set_result(self, result: ProbeResult | None) -> None:
        """Draw ``result`` (None clears), the marker at t = 0."""
        self.result = result
        if result is None:
            for c in (self.curve, self.tangent, self.quad):
                c.setData([], [])
            self._set_reference(None, None)
            self.readout.setText("")
            return
        ts, ls = result.ts, result.losses
        angle = result.path.kind == "angle"
        self._xscale = DEG if angle else 1.0
        self.plot.setLabel("bottom", "θ (degrees)" if angle else "t")
        xs = ts * self._xscale
        self.curve.setData(xs, ls)
        tan, quad = local_models(result, ts)
        span = float(max(abs(ts[0]), abs(ts[-1])))
        near = np.abs(ts) <= 0.35 * span
        self.tangent.setData(xs[near], tan[near])
        self.quad.setData(xs[near], quad[near])
        ref = getattr(result, "reference", None) if angle else None
        self._set_reference(xs, ref)
        allv = ls if ref is None else np.concatenate([ls, ref])
        lo, hi = float(np.nanmin(allv)), float(np.nanmax(allv))
        pad = 0.05 * (hi - lo if hi > lo else max(abs(hi), 1e-6))
        self.plot.setXRange(float(xs[0]), float(xs[-1]), padding=0.02)
        self.plot.setYRange(lo - pad, hi + pad, padding=0)
        self.readout.setText(readout_text(result))
        self.place_t(0.0)

    def _set_reference(self, xs, ref):
        legend = self.plot.plotItem.legend
        if ref is None:
            self.ref.setData([], [])
            if legend is not None:
                legend.removeItem(self.ref)
            return
        self.ref.setData(xs, np.asarray(ref, dtype=np.float64))
        if legend is not None and not any(getattr(sample, "item", None) is self.ref for sample, _ in legend.items):
            legend.addItem(self.ref, "two-vector closed form")

    def t(self) -> float:
        """The marker's t in the path's units (radians for the angle path)."""
        return float(self.marker.value()) / self._xscale

    def place_t(self, t: float) -> tuple[float, float]:
        """The marker at ``t`` (clipped to the path's range) and the dot at loss(t) on the curve: (t, loss)."""
        r = self.result
        if r is None:
            return float(t), float("nan")
        t = float(np.clip(t, r.ts[0], r.ts[-1]))
        self.marker.blockSignals(True)
        self.marker.setValue(t * self._xscale)
        self.marker.blockSignals(False)
        loss = float(np.interp(t, r.ts, r.losses))
        self.dot.setData([t * self._xscale], [loss])
        return t, loss


class ProbeView(QWidget):
    """The probe in the Experiments window: its content (``CONTENT``, a ProbeContent: the plot and the
    readout) with the controls: the path, Probe, the t slider and its label, the marker dragged by hand,
    showing the model at t, Continue, and the status line. What the content holds (``plot``, ``curve``,
    ``marker``, ``readout``, ``result``, ...) reads through the view."""

    probeRequested = pyqtSignal(dict)  # kind, feature (0-based), direction, seed, range, points
    tChanged = pyqtSignal(float)
    showPerturbed = pyqtSignal(bool)
    continueRequested = pyqtSignal(float, int)  # t, steps

    #: what the view draws (buildable without this widget: the exporter does)
    CONTENT = ProbeContent

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.n = 7
        self.content = self.CONTENT()
        self.content.marker.setMovable(True)  # dragged by hand in the window: the t shown
        self.content.plot.getPlotItem().setMenuEnabled(True)  # pyqtgraph's right-click menus (range, export, ...)
        self.content.readout.setText("Probe the snapshot shown: choose a path and press Probe.")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(self._build_path_controls())
        lay.addWidget(self.content, 1)
        self.content.box.insertLayout(1, self._build_t_row())  # between the plot and the readout
        self.status = QLabel("")
        lay.addWidget(self.status)
        self._connect()
        self._update_enabled()
        self._set_has_result(False)

    def _build_path_controls(self) -> QGridLayout:
        """The path (kind, feature, direction, angle, seed), its range and points, and Probe."""
        g = QGridLayout()
        self.kind = QComboBox()
        self.kind.addItems(["feature", "bias", "random", "angle"])
        self.kind.setToolTip("feature: W_i + t u · bias: b_i + t · random: a random unit direction in (W, b) · "
                             "angle: W_i turned by θ toward the direction, |W_i| kept")
        self.feature = QSpinBox()
        self.feature.setRange(1, self.n)
        self.feature.setPrefix("i = ")
        self.feature.setToolTip("the feature moved (1-based, as in the seed)")
        self.direction = QComboBox()
        self.direction.addItems(["another feature's W_j", "angle", "random"])
        self.dir_feature = QSpinBox()
        self.dir_feature.setRange(1, self.n)
        self.dir_feature.setPrefix("j = ")
        self.angle = QDoubleSpinBox()
        self.angle.setRange(-360, 360)
        self.angle.setSuffix("°")
        self.seed = QSpinBox()
        self.seed.setRange(0, 10**6)
        self.seed.setPrefix("seed ")
        self.span = QDoubleSpinBox()
        self.span.setRange(1e-4, 1e4)
        self.span.setDecimals(4)
        self.span.setValue(1.0)
        self.span.setPrefix("t in ±")
        self.points = _spin_box(3, 20_001, 201, suffix=" points")
        self.run_button = QPushButton("Probe")
        self.run_button.setToolTip("compute loss(t) along the path through the snapshot shown")
        g.addWidget(QLabel("path"), 0, 0)
        g.addWidget(self.kind, 0, 1)
        g.addWidget(self.feature, 0, 2)
        g.addWidget(self.direction, 0, 3)
        g.addWidget(self.dir_feature, 0, 4)
        g.addWidget(self.angle, 0, 5)
        g.addWidget(self.seed, 0, 6)
        g.addWidget(self.span, 1, 1)
        g.addWidget(self.points, 1, 2)
        g.addWidget(self.run_button, 1, 6)
        return g

    def _build_t_row(self) -> QHBoxLayout:
        """The t slider, showing the model at t, and continuing training from it."""
        row = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setValue(SLIDER_STEPS // 2)
        self.t_label = QLabel("t = 0")
        self.t_label.setMinimumWidth(160)
        self.show_box = QCheckBox("show the model at t in the views")
        self.steps = _spin_box(1, 10_000_000, 20_000, suffix=" steps")
        self.continue_button = QPushButton("Continue training from t")
        self.continue_button.setToolTip("train the perturbed model on as a new run in the explorer (escape or fall back?)")
        row.addWidget(self.slider, 1)
        row.addWidget(self.t_label)
        row.addWidget(self.show_box)
        row.addWidget(self.steps)
        row.addWidget(self.continue_button)
        return row

    def _connect(self) -> None:
        self.kind.currentIndexChanged.connect(self._update_enabled)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.direction.currentIndexChanged.connect(self._update_enabled)
        self.run_button.clicked.connect(self.request)
        self.slider.valueChanged.connect(self._slider_moved)
        self.content.marker.sigPositionChanged.connect(self._marker_moved)
        self.show_box.toggled.connect(self.showPerturbed.emit)
        self.continue_button.clicked.connect(lambda: self.continueRequested.emit(self.t(), self.steps.value()))

    # ------------------------------------------------------------- controls
    def set_model_info(self, n: int, dead: Sequence[int] = (), steps: int | None = None) -> None:
        """Feature ranges for n; the default moved feature is the first dead one (the seed's feature 7)."""
        self.n = int(n)
        for sb in (self.feature, self.dir_feature):
            sb.setRange(1, max(1, self.n))
        if dead:
            self.feature.setValue(int(dead[0]) + 1)
            live = [j for j in range(self.n) if j not in set(dead)]
            if live:
                self.dir_feature.setValue(live[-1] + 1)
        if steps is not None:
            self.steps.setValue(max(1, int(steps)))

    def _update_enabled(self):
        kind = self.kind.currentText()
        d = self.direction.currentIndex()
        directed = kind in ("feature", "angle")
        self.feature.setEnabled(kind != "random")
        self.direction.setEnabled(directed)
        self.dir_feature.setEnabled(directed and d == 0)
        self.angle.setEnabled(directed and d == 1)
        self.seed.setEnabled(kind == "random" or (directed and d == 2))

    def _kind_changed(self):
        """The angle path's span is in degrees (default ±180°); the others' in t (default ±1)."""
        angle = self.kind.currentText() == "angle"
        if angle and self.span.suffix() != "°":
            self.span.setSuffix("°")
            self.span.setValue(180.0)
        elif not angle and self.span.suffix() == "°":
            self.span.setSuffix("")
            self.span.setValue(1.0)

    def params(self) -> dict:
        kind = self.kind.currentText()
        d = self.direction.currentIndex()
        direction = None
        if kind in ("feature", "angle"):
            direction = (("feature", self.dir_feature.value() - 1) if d == 0 else
                         ("angle", float(self.angle.value())) if d == 1 else ("random", self.seed.value()))
        a = float(self.span.value())
        if kind == "angle":
            a = float(np.radians(a))
        return {"kind": kind, "feature": self.feature.value() - 1, "direction": direction,
                "seed": self.seed.value(), "range": (-a, a), "points": self.points.value()}

    def request(self) -> None:
        self.status.setText("probing…")
        self.probeRequested.emit(self.params())

    def show_error(self, text: str) -> None:
        self.status.setText(text)

    # --------------------------------------------------------------- result
    def _set_has_result(self, on: bool):
        for w in (self.slider, self.show_box, self.continue_button, self.steps):
            w.setEnabled(on)

    def __getattr__(self, name: str) -> Any:
        """What the content holds (its plot and items, the readout, the result drawn) reads through the view."""
        if name == "content" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.content, name)

    def set_result(self, result: ProbeResult | None) -> None:
        self.content.set_result(result)
        if result is None:
            self._set_has_result(False)
            return
        self.status.setText("")
        self._set_has_result(True)
        self.set_t(0.0)

    # -------------------------------------------------------------------- t
    def t(self) -> float:
        """The marker's t in the path's units (radians for the angle path)."""
        return self.content.t()

    def set_t(self, t: float) -> None:
        r = self.content.result
        if r is None:
            return
        t, loss = self.content.place_t(t)
        ts = r.ts
        self.slider.blockSignals(True)
        self.slider.setValue(int(round((t - ts[0]) / (ts[-1] - ts[0]) * SLIDER_STEPS)))
        self.slider.blockSignals(False)
        self._t_changed(t, loss)

    def _slider_moved(self, v: int):
        r = self.content.result
        if r is None:
            return
        ts = r.ts
        t = float(ts[0] + (ts[-1] - ts[0]) * v / SLIDER_STEPS)
        if abs(t) < 0.5 * (ts[-1] - ts[0]) / SLIDER_STEPS:
            t = 0.0
        self._t_changed(*self.content.place_t(t))

    def _marker_moved(self):
        self.set_t(self.t())

    def _t_changed(self, t: float, loss: float):
        r = self.content.result
        where = f"θ = {t * DEG:.4g}°" if r is not None and r.path.kind == "angle" else f"t = {t:.4g}"
        self.t_label.setText(f"{where}   loss ≈ {loss:.5g}")
        self.tChanged.emit(t)


__all__ = ["ProbeContent", "ProbeView", "local_models", "readout_text"]
