"""Helpers for the widget tests: models, frames, showing a view, reading its pixels."""
from __future__ import annotations

import numpy as np

SIZE = (520, 480)


def henighan_snapshot(n: int = 7, step: int = 100):
    from model.snapshot import Snapshot
    from model.training.init import henighan

    W, b = henighan(n)
    return Snapshot(step, W, b, loss=0.0)


def symmetric_failure_snapshot(step: int = 200):
    """The seed's symmetric failure: a regular hexagon (Henighan n = 6) and W_7 = 0, b_7 = 1/7."""
    from model.snapshot import Snapshot
    from model.training.init import henighan

    W6, b6 = henighan(6)
    W = np.hstack([W6, np.zeros((2, 1))])
    b = np.concatenate([b6, [1.0 / 7.0]])
    return Snapshot(step, W, b, loss=6 / 49)


def circle_snapshot(n: int = 10_000, seed: int = 0, step: int = 300):
    """Random W around a circle: angles uniform, radius 1 +- 5%, b ~ -0.9."""
    from model.snapshot import Snapshot

    rng = np.random.default_rng(seed)
    th = rng.uniform(0, 2 * np.pi, n)
    r = 1 + 0.05 * rng.normal(size=n)
    return Snapshot(step, r * np.vstack([np.cos(th), np.sin(th)]), rng.normal(-0.9, 0.05, n), loss=0.5)


def make_frame(snap, analysis=True, **kw):
    """The model.analysis.frame.Frame of ``snap``: colours by angle, its analysis (None with analysis=False: the
    frame's provider computes it when a view asks), ``kw`` further fields (selected, losses, ...)."""
    from model.analysis import geometry as geo
    from model.analysis.analysis import analyze
    from model.analysis.frame import Frame
    from resources.palette import feature_colors

    W2 = snap.W if snap.m == 2 else geo.project(snap.W)
    a = analyze(snap) if analysis else None
    return Frame(snapshot=snap, colors=feature_colors(snap.n, geo.angles(W2)), analysis=a, **kw)


def framed(snap, frame):
    """``frame`` drawing ``snap`` instead (Frame.with_snapshot); None for no snapshot (a cleared view)."""
    if snap is None:
        return None
    return frame.with_snapshot(snap)


def show(qtbot, w, size=SIZE):
    from PyQt6.QtWidgets import QApplication

    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    QApplication.processEvents()
    return w


def render(view, plot=None):
    """Let the view paint, then grab its plot's viewport as a QImage."""
    from PyQt6.QtWidgets import QApplication

    QApplication.processEvents()
    plot = view.plot if plot is None else plot
    plot.viewport().grab()  # first paint settles the auto-range
    QApplication.processEvents()
    return plot.viewport().grab().toImage()


def rgb_at(img, p):
    c = img.pixelColor(p.x(), p.y())
    return np.array([c.red(), c.green(), c.blue()], dtype=float)


def blend(rgba, bg=(255, 255, 255)):
    """The colour a translucent rgba takes over the background."""
    c = np.asarray(rgba, dtype=float)
    a = c[3] / 255.0
    return a * c[:3] + (1 - a) * np.asarray(bg, dtype=float)


def nearest(rgb, candidates) -> int:
    d = [np.linalg.norm(np.asarray(rgb, float) - np.asarray(c, float)) for c in candidates]
    return int(np.argmin(d))


def two_radius_snapshot(R: float = 1.6, delta: float = 0.12, step: int = 300):
    """n = 8: six features on a circle of radius R at 0, 60, ..., 300 degrees (features 1, 3,
    4, 5, 7, 8) and two on a smaller circle between neighbours 30 degrees either side: feature 2
    at 30 degrees, radius R cos 30 - delta (just inside the chord of features 1 and 3), feature 6
    at 210 degrees, radius R cos 30 + delta (just outside the chord of features 5 and 7)."""
    import math

    from model.snapshot import Snapshot

    c30 = R * math.cos(math.pi / 6)
    ang = np.radians([0, 30, 60, 120, 180, 210, 240, 300])
    r = np.array([R, c30 - delta, R, R, R, c30 + delta, R, R])
    return Snapshot(step, r * np.vstack([np.cos(ang), np.sin(ang)]), np.full(8, -1.5), loss=0.1)


DEATH = 3000  # the step at which feature 7 of dying_run dies
STEPS = np.concatenate([np.arange(0, 2000, 10), np.arange(2000, 20001, 100)])


def dying_run():
    """A History, n = 7: Henighan's solution (perfect, loss decaying to 0 as e^(-s/300)) before DEATH, then the
    seed's failure: feature 7 dead (W_7 = 0, b_7 = 1/7) beside the n = 6 hexagon, the loss approaching 6/49
    from above (0.05 e^(-(s - DEATH)/300)); recorded every 10th step to 2,000, every 100th to 20,000."""
    from model.history import History
    from model.training.init import henighan

    W7, b7 = henighan(7)
    W6, b6 = henighan(6)
    Wf, bf = np.hstack([W6, np.zeros((2, 1))]), np.append(b6, 1 / 7)
    h = History(K=1, m=2, n=7, budget_bytes=50_000_000)
    for s in STEPS:
        if s < DEATH:
            W, b, loss = W7, b7, 0.05 * np.exp(-s / 300)
        else:
            W, b, loss = Wf, bf, 6 / 49 + 0.05 * np.exp(-(s - DEATH) / 300)
        h.append(int(s), W[None].astype(np.float32), b[None].astype(np.float32), np.array([loss], np.float32))
    return h
