"""The 2D views: time of set_frame + one app.processEvents() (the paint), per view
and for all six together, at n = 7 and n = 10,000, against a naive baseline timed in
the same run.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_views2d.py [--quick]

Setup: each view is shown (offscreen) at VIEW_SIZE; frames cycle over a few
different snapshots (the time is the median per frame); ctx carries the
analysis, computed once per frame by the session (analyze() itself is not
timed here: about 0.2 s at n = 10,000, see the model benchmarks).
n = 7: Henighan's heptagon plus noise, 16 models in the loss history.
n = 10,000: random W around a circle (radius 1 +- 5%, angles uniform, b ~ -0.9),
one model in the loss history.

Baseline (same run, same snapshots and size): the naive way, which recreates
every plot item each frame (straight into the ViewBox, auto-range off while
adding: even naive code must dodge PlotItem.addItem's quadratic list scan):
zones: one translucent polygon item per feature zone (geometry.zone_polygons),
one arrow item per feature, text labels up to 40 features; above 300 features
the brute-force strongest-feature raster (geometry.zone_raster, every feature
at every pixel, same resolution) in a fresh ImageItem; wheel: one curve item
per feature arrow; a fresh ImageItem for W^T W + b (the
same block); a fresh pg.BarGraphItem with one brush per bar; a log-mode plot
with one curve per model; a QTableWidget filled with n x 10 QTableWidgetItems.

``rows()`` returns dicts (keys: case, n, view, ms (median), best_ms, baseline_ms,
speedup, target_ms, ok, note) so a combined benchmark can merge them; ``main()`` prints
the table.
"""
from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np

VIEW_SIZE = (520, 440)
TARGETS = {7: 16.0, 10_000: 100.0}  # ms for all six together
KEYS = ("zones", "wheel", "gram", "bias", "loss", "verdict")


def _app():
    from PyQt6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def snapshots(n: int, count: int = 4, seed: int = 0):
    """A few different snapshots of one kind (see the module docstring)."""
    from model.snapshot import Snapshot
    from model.training.init import henighan

    rng = np.random.default_rng(seed)
    out = []
    for s in range(count):
        if n <= 20:
            W, b = henighan(n)
            W = W * (1 + 0.01 * rng.normal(size=W.shape))
            b = b + 0.01 * rng.normal(size=n)
        else:
            th = rng.uniform(0, 2 * np.pi, n)
            r = 1 + 0.05 * rng.normal(size=n)
            W = r * np.vstack([np.cos(th), np.sin(th)])
            b = rng.normal(-0.9, 0.05, n)
        out.append(Snapshot(1000 * (s + 1), W, b, loss=float(0.1 / (s + 1))))
    return out


def contexts(snaps, K: int, N: int = 2000, seed: int = 1):
    from model.analysis import geometry as geo
    from model.analysis.analysis import analyze
    from model.analysis.frame import Frame
    from resources.palette import feature_colors

    rng = np.random.default_rng(seed)
    steps = np.arange(N) * 10
    losses = np.exp(-steps[:, None] / 5000.0) * (1 + 0.3 * rng.random((N, K)))
    colors = feature_colors(snaps[0].n, geo.angles(snaps[-1].W))
    return [Frame(snapshot=s, colors=colors, analysis=analyze(s), selected=frozenset({0}), loss_steps=steps,
                  losses=losses, model=0) for s in snaps]


# ----------------------------------------------------------------------------
# the naive baseline

class NaiveViews:
    """The same six pictures the naive way: every item recreated every frame."""

    def __init__(self):
        import pyqtgraph as pg
        from PyQt6.QtWidgets import QTableWidget

        self.pg = pg
        self.w = {k: pg.PlotWidget(background="w") for k in KEYS if k != "verdict"}
        self.w["verdict"] = QTableWidget()
        self.w["zones"].setAspectLocked(True)
        self.w["wheel"].setAspectLocked(True)

    def widgets(self):
        return self.w

    def set(self, key, snap, ctx):
        w = self.w[key]
        vb = w.getPlotItem().getViewBox() if key not in ("verdict", "loss") else None
        if vb is not None:
            # Even naive code must avoid two quadratic traps: an auto-range per added item, and
            # PlotItem.addItem's "already added?" list scan. Items go straight into the ViewBox.
            vb.disableAutoRange()
            vb.clear()
        getattr(self, "_" + key)(snap, ctx)
        if vb is not None:
            vb.enableAutoRange()

    def _zones(self, snap, ctx):
        from PyQt6.QtCore import QRectF
        from PyQt6.QtWidgets import QGraphicsPolygonItem

        from model.analysis import geometry as geo
        from widgets.zone_map import RASTER_RES, raster_shape, zone_extent

        pg, p = self.pg, self.w["zones"].getPlotItem().getViewBox()
        if snap.n <= 300:
            # one translucent polygon item per feature zone
            for k, poly in enumerate(geo.zone_polygons(snap.W, snap.b)):
                if len(poly) < 3:
                    continue
                c = ctx.colors[k]
                qp = pg.functions.create_qpolygonf(len(poly))
                pg.functions.ndarray_from_qpolygonf(qp)[:] = poly
                it = QGraphicsPolygonItem(qp)
                it.setBrush(pg.mkBrush(int(c[0]), int(c[1]), int(c[2]), 95))
                it.setPen(pg.mkPen(None))
                p.addItem(it)
        else:
            # the exact polygons are too many (their vertices grow like n^2): the brute-force
            # strongest-feature raster (every feature at every pixel), in a fresh ImageItem
            ext = zone_extent(snap.W, True)
            nx, ny = raster_shape(ext, RASTER_RES)
            idx, best = geo.zone_raster(snap.W, snap.b, ext, max(nx, ny))
            rgba = ctx.colors[idx].copy()
            rgba[..., 3] = np.where(best > 0, 200, 55)
            img = pg.ImageItem(rgba, axisOrder="row-major")
            img.setRect(QRectF(ext[0], ext[2], ext[1] - ext[0], ext[3] - ext[2]))
            p.addItem(img)
        shape = geo.latent_shape(snap.W)
        p.addItem(pg.PlotCurveItem(np.r_[shape[:, 0], shape[:1, 0]], np.r_[shape[:, 1], shape[:1, 1]], pen="k"))
        for k in range(snap.n if snap.n <= 300 else 0):
            c = tuple(int(v) for v in ctx.colors[k])
            p.addItem(pg.PlotCurveItem([0, snap.W[0, k]], [0, snap.W[1, k]], pen=pg.mkPen(c, width=2)))
            if snap.n <= 40:  # even the naive view keeps the no-labels-above-40 rule
                t = pg.TextItem(str(k + 1), color=c)
                t.setPos(float(snap.W[0, k]), float(snap.W[1, k]))
                p.addItem(t, ignoreBounds=True)

    def _wheel(self, snap, ctx):
        from PyQt6.QtCore import Qt

        pg, p = self.pg, self.w["wheel"].getPlotItem().getViewBox()
        for k in range(snap.n):
            c = tuple(int(v) for v in ctx.colors[k])
            p.addItem(pg.PlotCurveItem([0, snap.W[0, k]], [0, snap.W[1, k]], pen=pg.mkPen(c, width=2)))
        for g in ctx.analysis.radius_groups:
            t = np.linspace(0, 2 * np.pi, 181)
            p.addItem(pg.PlotCurveItem(g["radius"] * np.cos(t), g["radius"] * np.sin(t),
                                       pen=pg.mkPen("k", style=Qt.PenStyle.DashLine)))

    def _gram(self, snap, ctx):
        from widgets.gram_view import block_indices, diverging_lut, gram_block, symmetric_limit

        pg, p = self.pg, self.w["gram"].getPlotItem().getViewBox()
        P = gram_block(snap, block_indices(snap.n, ctx.selected))
        L = symmetric_limit(P)
        img = pg.ImageItem(P.T, levels=(-L, L), lut=diverging_lut())
        p.addItem(img)

    def _bias(self, snap, ctx):
        pg, p = self.pg, self.w["bias"].getPlotItem().getViewBox()
        x = np.arange(1, snap.n + 1)
        brushes = [pg.mkBrush(*[int(v) for v in c]) for c in ctx.colors]
        p.addItem(pg.BarGraphItem(x=x, height=snap.b, width=0.8, brushes=brushes))
        p.addItem(pg.BarGraphItem(x=x, y0=0, height=-np.linalg.norm(snap.W, axis=0), width=0.8, brushes=brushes))

    def _loss(self, snap, ctx):
        pg, p = self.pg, self.w["loss"].getPlotItem()
        p.clear()
        p.setLogMode(False, True)
        L = np.where(ctx.losses > 0, ctx.losses, np.nan)
        for k in range(L.shape[1]):
            p.plot(ctx.loss_steps, L[:, k], pen=pg.mkPen((150, 150, 150) if k != ctx.model else (31, 119, 180)),
                   connect="finite")
        p.addItem(pg.InfiniteLine(snap.step, angle=90))

    def _verdict(self, snap, ctx):
        from PyQt6.QtWidgets import QTableWidgetItem

        from widgets.verdict_panel import COLUMNS, cell_text

        t, a = self.w["verdict"], ctx.analysis
        t.clear()
        t.setColumnCount(len(COLUMNS))
        t.setRowCount(a.n)
        for i in range(a.n):
            for c in range(len(COLUMNS)):
                t.setItem(i, c, QTableWidgetItem(cell_text(a, i, c)))


# ----------------------------------------------------------------------------
# timing

def _time_frames(app, setters, snaps, ctxs, frames: int):
    """(median, best) ms per frame of (all setters, then one processEvents), after a warm-up."""
    ts = []
    for f in range(frames):
        s, c = snaps[f % len(snaps)], ctxs[f % len(ctxs)]
        t = time.perf_counter()
        for fn in setters:
            fn(s, c)
        app.processEvents()
        ts.append(time.perf_counter() - t)
    warm = min(2, len(ts) - 1)
    return float(np.median(ts[warm:])) * 1e3, float(np.min(ts[warm:])) * 1e3


def _row(case, n, view, ms, baseline_ms, target, note="", best_ms=None):
    return {"case": case, "n": n, "view": view, "ms": ms, "best_ms": best_ms, "baseline_ms": baseline_ms,
            "speedup": (baseline_ms / ms) if baseline_ms and ms else None, "target_ms": target,
            "ok": (ms <= target) if target is not None else None, "note": note}


def rows(quick: bool = False, sizes=(7, 10_000)) -> list[dict[str, object]]:
    """Benchmark rows: each view alone, then all six, for each n; baseline in the same run."""
    app = _app()
    from widgets.views2d import make_views

    out: list[dict[str, object]] = []
    for n in sizes:
        snaps = snapshots(n)
        ctxs = contexts(snaps, K=16 if n <= 20 else 1)
        views = make_views()
        naive = NaiveViews()
        shown = list(views.values()) + list(naive.widgets().values())
        for w in shown:
            w.resize(*VIEW_SIZE)
            w.show()
        app.processEvents()
        frames = 12 if (quick or n > 1000) else 30
        base_frames = 2 if n > 1000 else (6 if quick else 12)
        # warm-up: numba compile, first layouts
        for v in views.values():
            v.set_frame(ctxs[0])
        app.processEvents()
        per_view = {}
        for k, v in views.items():
            ms, best = _time_frames(app, [lambda s, c, v=v: v.set_frame(c)], snaps, ctxs, frames)
            bms, _ = _time_frames(app, [lambda s, c, k=k: naive.set(k, s, c)], snaps, ctxs, base_frames)
            per_view[k] = (ms, bms)
            out.append(_row("set_frame + paint", n, k, ms, bms, None, best_ms=best))
        ms, best = _time_frames(app, [lambda s, c, v=v: v.set_frame(c) for v in views.values()], snaps, ctxs, frames)
        bms = sum(b for _, b in per_view.values())
        out.append(_row("set_frame + paint", n, "all six", ms, bms, TARGETS.get(n),
                        "baseline: sum of the per-view naive times", best_ms=best))
        for w in shown:
            w.close()
            w.deleteLater()
        app.processEvents()
    return out


def _fmt(x, spec=".1f"):
    return "-" if x is None else format(x, spec)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    rs = rows(quick=quick)
    print(f"2D views: set_frame + processEvents, median ms per frame, {VIEW_SIZE[0]}x{VIEW_SIZE[1]} offscreen "
          f"(Qt platform {os.environ.get('QT_QPA_PLATFORM')}), {os.cpu_count()} CPUs")
    print(f"{'n':>6}  {'view':<8} {'median':>8} {'best':>7} {'baseline':>10} {'speedup':>8} {'target':>7}  ok")
    for r in rs:
        ok = "" if r["ok"] is None else ("yes" if r["ok"] else "NO")
        print(f"{r['n']:>6}  {r['view']:<8} {_fmt(r['ms']):>8} {_fmt(r['best_ms']):>7} {_fmt(r['baseline_ms']):>10} "
              f"{_fmt(r['speedup'], '.1f') + 'x' if r['speedup'] else '-':>8} {_fmt(r['target_ms'], '.0f'):>7}  {ok}")
    print("ms: median (best) per frame; ok judges the median against the target. baseline: every item "
          "recreated each frame (per-feature polygon/curve/text items, or the brute-force raster above 300 "
          "features; fresh BarGraphItem/ImageItem; log-mode curves; a QTableWidget of n x 10 items); "
          "'all six' baseline = sum of the per-view baselines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
