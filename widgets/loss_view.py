"""The loss curves of all K models on a log y axis (the frame's loss_steps and losses (N, K)):
the shown model (frame.model) highlighted, the others faint (up to OTHERS_MAX lines in
one item, else a min / median / max band), a vertical line at the current step.
The curves are cached as pixmaps: scrubbing only moves the line over them.

The view plots log10(loss) on a linear view with a log-labelled axis; losses
that are zero, negative or NaN have no logarithm and leave gaps (counted in
the note) instead of breaking the axis."""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QGraphicsItem

from model.snapshot import Snapshot

from .views2d import PlotContent, PlotPanel, fmt_num, no_si_prefix

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from model.analysis.frame import Frame

#: Up to this many other models are drawn as lines; more become a band.
OTHERS_MAX = 20
#: Each other model's curve is peak-downsampled to about this many points.
OTHERS_POINTS = 2000
MAIN_PEN = (31, 119, 180)
OTHER_PEN = (140, 140, 140, 110)
#: The curves change only when the history does; scrubbing moves the step line over them,
#: so they are cached as pixmaps (Qt repaints the cache, not the curves).
CURVE_CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache
BAND_BRUSH = (150, 150, 150, 70)
STEP_PEN = (214, 39, 40)


# ----------------------------------------------------------------------------
# pure helpers

def log_losses(losses: ArrayLike) -> np.ndarray:
    """log10 of the positive finite losses, NaN elsewhere (no warnings)."""
    L = np.asarray(losses, dtype=np.float64)
    ok = np.isfinite(L) & (L > 0)
    out = np.full(L.shape, np.nan)
    out[ok] = np.log10(L[ok])
    return out


def loss_series(steps: ArrayLike, losses: ArrayLike, model: int = 0, others_max: int = OTHERS_MAX) -> dict[str, object]:
    """What the loss view draws, in log10 units.

    Returns a dict: x (N,) steps; main (N,) log10 loss of ``model`` (NaN gaps);
    others: list of (N,) arrays (K - 1 <= others_max) or None; band: (x, lo, med,
    hi) over the other models (finite rows only) when K - 1 > others_max, else
    None; nonpositive / nan: how many recorded values could not be drawn.
    """
    x = np.asarray(steps, dtype=np.float64).ravel()
    L = np.asarray(losses, dtype=np.float64)
    if L.ndim == 1:
        L = L[:, None]
    if L.ndim != 2 or L.shape[0] != x.size:
        raise ValueError(f"losses must be (N, K) with N = len(loss_steps) = {x.size}, got shape {L.shape}")
    K = L.shape[1]
    model = int(model) if 0 <= int(model) < K else 0
    lg = log_losses(L)
    out: dict[str, object] = {
        "x": x, "main": lg[:, model] if K else np.full(x.size, np.nan), "others": None, "band": None,
        "nonpositive": int(np.sum(np.isfinite(L) & (L <= 0))), "nan": int(np.sum(~np.isfinite(L))),
        "K": K, "model": model,
    }
    rest = np.delete(lg, model, axis=1) if K > 1 else np.zeros((x.size, 0))
    if rest.shape[1] == 0:
        return out
    if rest.shape[1] <= others_max:
        out["others"] = [rest[:, j] for j in range(rest.shape[1])]
    else:
        ok = np.any(np.isfinite(rest), axis=1)
        r = rest[ok]
        lo = np.nanmin(r, axis=1) if r.size else np.zeros(0)
        hi = np.nanmax(r, axis=1) if r.size else np.zeros(0)
        med = np.nanmedian(r, axis=1) if r.size else np.zeros(0)
        out["band"] = (x[ok], lo, med, hi)
    return out


def downsample_peak(x: np.ndarray, y: np.ndarray, max_points: int = OTHERS_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) reduced to at most ~max_points by keeping each bucket's min and max (NaN-aware)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    N = x.size
    if max_points >= N:
        return x, y
    k = int(np.ceil(2 * N / max_points))
    B = N // k
    xb = x[: B * k].reshape(B, k)
    yb = y[: B * k].reshape(B, k)
    fin = np.isfinite(yb)
    lo = np.where(fin, yb, np.inf).argmin(axis=1)
    hi = np.where(fin, yb, -np.inf).argmax(axis=1)
    a, b = np.minimum(lo, hi), np.maximum(lo, hi)
    r = np.arange(B)
    xs = np.stack([xb[r, a], xb[r, b]], axis=1).ravel()
    ys = np.stack([yb[r, a], yb[r, b]], axis=1).ravel()
    return np.concatenate([xs, x[B * k:]]), np.concatenate([ys, y[B * k:]])


def others_xy(x: np.ndarray, arrays: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Several curves over the same x as one NaN-separated polyline (each peak-downsampled)."""
    xs, ys = [], []
    for y in arrays:
        dx, dy = downsample_peak(x, y)
        xs += [dx, [np.nan]]
        ys += [dy, [np.nan]]
    return np.concatenate(xs), np.concatenate(ys)


def step_loss(steps: ArrayLike, main_log: np.ndarray, step: int, snap_loss: float) -> float:
    """log10 loss at the current step: the snapshot's loss when drawable, else the
    shown model's value at the last recorded step <= step (NaN if none)."""
    if snap_loss is not None and math.isfinite(snap_loss) and snap_loss > 0:
        return math.log10(snap_loss)
    x = np.asarray(steps, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    i = int(np.searchsorted(x, step, side="right")) - 1
    return float(main_log[i]) if 0 <= i < x.size else float("nan")


def nice_linear_ticks(lo: float, hi: float, target: int = 4) -> np.ndarray:
    """Round values (1, 2 or 5 x 10^k apart) inside [lo, hi] (lo > 0), about ``target`` of them:
    the labels of a log axis whose range is under one decade, where no power of ten falls."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo or lo <= 0:
        return np.zeros(0)
    raw = (hi - lo) / max(target, 1)
    e = 10.0 ** math.floor(math.log10(raw))
    step = next(f * e for f in (1, 2, 5, 10) if f * e >= raw * (1 - 1e-9))
    k = np.arange(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1)
    return np.round(k * step, 12)


class LogLossAxis(pg.AxisItem):
    """The loss axis (log): pyqtgraph's decades, and round values with their own labels when the
    visible range is under one decade (otherwise no tick would be labelled)."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        if not self.logMode or maxVal - minVal >= 1.0 or not (math.isfinite(minVal) and math.isfinite(maxVal)):
            return super().tickValues(minVal, maxVal, size)
        vals = nice_linear_ticks(10.0 ** minVal, 10.0 ** maxVal)
        return [(1.0, [float(v) for v in np.log10(vals)])] if vals.size else super().tickValues(minVal, maxVal, size)

    def tickStrings(self, values: list, scale: float, spacing: float) -> list:
        lo, hi = self.range if self.range is not None else (0.0, 1.0)
        if not self.logMode or abs(hi - lo) >= 1.0 or not values:
            return super().tickStrings(values, scale, spacing)
        v = 10.0 ** np.asarray(values, dtype=np.float64)
        return [f"{x:.4g}" for x in v]


# ----------------------------------------------------------------------------
# the view

class LossContent(PlotContent):
    """What the loss view draws: loss curves (log y). ``step_line`` is the vertical line at snap.step."""

    def __init__(self) -> None:
        super().__init__()
        pi = self.plot_item
        pi.setAxisItems({"left": LogLossAxis(orientation="left")})
        pi.getAxis("left").setLogMode(True)
        pi.setLabel("left", "loss")
        pi.setLabel("bottom", "step")
        for name in ("left", "bottom"):
            no_si_prefix(pi.getAxis(name))
        self.band_lo = pg.PlotCurveItem(pen=None)
        self.band_hi = pg.PlotCurveItem(pen=None)
        self.band = pg.FillBetweenItem(self.band_lo, self.band_hi, brush=pg.mkBrush(BAND_BRUSH))
        self.band.setZValue(-10)
        self.band.setCacheMode(CURVE_CACHE)
        pi.addItem(self.band_lo)
        pi.addItem(self.band_hi)
        pi.addItem(self.band)
        self.median = pg.PlotCurveItem(pen=pg.mkPen(OTHER_PEN[:3], width=1, style=pg.QtCore.Qt.PenStyle.DashLine))
        self.median.setCacheMode(CURVE_CACHE)
        pi.addItem(self.median)
        self.main = pg.PlotDataItem(pen=pg.mkPen(MAIN_PEN, width=2), connect="finite")
        self.main.setDownsampling(auto=True, method="peak")
        self.main.setClipToView(True)
        self.main.setZValue(10)
        self.main.curve.setCacheMode(CURVE_CACHE)
        pi.addItem(self.main)
        self.step_line = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen(STEP_PEN, width=1.5))
        self.step_line.setZValue(20)
        pi.addItem(self.step_line, ignoreBounds=True)
        self.marker = pg.ScatterPlotItem(size=8, pen=pg.mkPen(STEP_PEN), brush=pg.mkBrush(255, 255, 255))
        self.marker.setZValue(21)
        pi.addItem(self.marker, ignoreBounds=True)
        self.others_curve = pg.PlotCurveItem(pen=pg.mkPen(OTHER_PEN, width=1))
        self.others_curve.setCacheMode(CURVE_CACHE)
        self.others_curve.setVisible(False)
        pi.addItem(self.others_curve)
        self.others_count = 0
        self._key = None
        self.series: dict[str, object] | None = None

    def _set_others(self, arrays, x):
        """The other models' curves: one item (one path, one cached pixmap), NaN-separated."""
        arrays = arrays or []
        if not arrays:
            self.others_curve.setData([], [])
            self.others_curve.setVisible(False)
            self.others_count = 0
            return
        xs, ys = others_xy(x, arrays)
        self.others_curve.setData(xs, ys, connect="finite")
        self.others_curve.setVisible(True)
        self.others_count = len(arrays)

    def _set_band(self, band):
        if band is None or len(band[0]) == 0:
            for it in (self.band_lo, self.band_hi, self.median):
                it.setData([], [])
            self.band.setVisible(False)
            return
        x, lo, med, hi = band
        self.band_lo.setData(x, lo)
        self.band_hi.setData(x, hi)
        self.median.setData(x, med)
        self.band.setVisible(True)

    def draw(self, snap: Snapshot | None, frame: Frame | None) -> None:
        self._snap, self._frame = snap, frame
        steps = frame.loss_steps if frame is not None else None
        losses = frame.losses if frame is not None else None
        model = frame.model if frame is not None else 0
        if snap is None and steps is None:
            self._key = None
            self.series = None
            self.main.setData([], [])
            self._set_others(None, None)
            self._set_band(None)
            self.marker.setData([])
            self.step_line.setVisible(False)
            self.set_note("")
            return
        if steps is not None and losses is not None and len(steps):
            st = np.asarray(steps, dtype=np.float64)
            ls = np.asarray(losses, dtype=np.float64)
            k = self._key
            same = (k is not None and k[2] == model and k[0].shape == st.shape and k[1].shape == ls.shape
                    and np.array_equal(k[0], st) and np.array_equal(k[1], ls, equal_nan=True))
            if not same:
                s = loss_series(st, ls, model)
                self.series = s
                self.main.setData(s["x"], s["main"], connect="finite")
                self._set_others(s["others"], s["x"])
                self._set_band(s["band"])
                # a copy: the history may fill its arrays in place
                self._key = (st.copy(), ls.copy(), model)
        else:
            self._key = None
            self.series = None
            self.main.setData([], [])
            self._set_others(None, None)
            self._set_band(None)
        s = self.series
        parts = []
        if snap is not None:
            self.step_line.setValue(float(snap.step))
            self.step_line.setVisible(True)
            y = step_loss(s["x"] if s else [], s["main"] if s else np.zeros(0), snap.step, snap.loss)
            if math.isfinite(y):
                self.marker.setData([float(snap.step)], [y])
            else:
                self.marker.setData([])
            parts.append(f"step {snap.step}, loss {fmt_num(snap.loss, 6)}")
        else:
            self.step_line.setVisible(False)
            self.marker.setData([])
        if s is not None:
            K = s["K"]
            if K > 1:
                # models are numbered from 0 everywhere (the models table, the status bar, the CLI's --model k)
                parts.append(f"model {s['model']} of models 0–{K - 1}" + ("; others: min/median/max band"
                                                                if s["band"] is not None else "; others faint"))
            bad = []
            if s["nonpositive"]:
                bad.append(f"{s['nonpositive']} zero/negative")
            if s["nan"]:
                bad.append(f"{s['nan']} NaN/inf")
            if bad:
                parts.append(" and ".join(bad) + " not drawn (log axis)")
        else:
            parts.append("no loss history")
        self.set_note("   ".join(parts))

    def hover_text(self, x: float) -> str:
        """The shown model's recorded loss at the last recorded step <= x (the run's, not the pointer's height)."""
        s = self.series
        if s is None or not math.isfinite(x) or not len(s["x"]):
            return ""
        xs = np.asarray(s["x"], dtype=np.float64)
        i = int(np.searchsorted(xs, x, side="right")) - 1
        if i < 0:
            return f"before the first recorded step ({xs[0]:,.0f})"
        y = float(s["main"][i])
        loss = f"{10 ** y:.6g}" if math.isfinite(y) else "not drawn (NaN, inf or <= 0)"
        model = f"model {s['model']} · " if s["K"] > 1 else ""
        return f"{model}step {xs[i]:,.0f}: loss {loss}"



class LossView(PlotPanel):
    """The loss view in the window: its LossContent; hover says the recorded loss at the pointer's step."""

    CONTENT = LossContent

    def _hovered(self, x, y):
        self.status.setText(self.content.hover_text(x))
