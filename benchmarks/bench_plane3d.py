"""The 3D latent-plane view: frame time and snapshot-change latency at n = 7 and n = 10,000,
against a naive scene build timed in the same run.

Run (GL needs an X server; offscreen cannot host QOpenGLWidget):
    bash scripts/xdisplay.sh .venv/bin/python benchmarks/bench_plane3d.py [--quick]

Measured, per n (median over frames cycling through a few different snapshots,
triple (1, 2, 3), slivers, bias, tilt, cube, labels on, view VIEW_SIZE):
- build: render3d.scene.build_scene (the pure arrays).
- latency: a new snapshot until its frame is drawn: PlaneView.set_snapshot (build
  + hand the arrays to the GL items) + paintGL + glFinish.
- frame: one frame of an unchanged scene (camera turned by 1 degree): paintGL + glFinish,
  i.e. what redrawing at display rate costs.
Baseline (same snapshots, same machine, same run): the naive build, a Python loop
over the latent shape's triangles that clips each one by each axis of the
triple with model.analysis.geometry.clip_polygon_halfplane and appends vertices and
colours to lists (what one writes first). Its ratio to ``build`` is the speed-up.

Targets: latency and frame <= 16 ms at n = 7, <= 100 ms at n = 10,000.
Absolute numbers depend on the machine (here: Mesa llvmpipe, software GL).
"""
from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np

VIEW_SIZE = (800, 600)
TARGETS = {7: 16.0, 10_000: 100.0}


def snapshots(n: int, count: int = 4):
    from model.snapshot import Snapshot
    from model.training.init import henighan

    rng = np.random.default_rng(0)
    out = []
    for s in range(count):
        if n <= 20:
            W, b = henighan(n)
            W = W + 0.03 * rng.normal(size=W.shape)
            b = b + 0.03 * rng.normal(size=b.shape)
        else:
            th = rng.uniform(0, 2 * np.pi, n)
            r = 1 + 0.05 * rng.normal(size=n)
            W = r * np.vstack([np.cos(th), np.sin(th)])
            b = rng.normal(-0.9, 0.05, n)
        out.append(Snapshot(s, W, b))
    return out


def naive_build(snap, triple, colors):
    """The baseline: per-triangle, per-axis Python loop (same cells, same colours)."""
    from model.analysis import geometry as geo
    from render3d import scene as sc

    W2, D2, _ = sc.plane_of(snap)
    V, _ = sc.shape_polygon(W2)
    ti = list(triple)
    A3, b3 = D2[ti], snap.b[ti]
    col = colors.astype(np.float64) / 255
    verts, cols, faces = [], [], []
    N = len(V)
    for t in range(N):
        cells = [(np.array([[0.0, 0.0], V[t], V[(t + 1) % N]]), 0)]
        for s in range(3):
            nxt = []
            for poly, bits in cells:
                pos = geo.clip_polygon_halfplane(poly, A3[s], b3[s])
                neg = geo.clip_polygon_halfplane(poly, -A3[s], -b3[s])
                if len(pos) >= 3:
                    nxt.append((pos, bits | (1 << s)))
                if len(neg) >= 3:
                    nxt.append((neg, bits))
            cells = nxt
        for poly, bits in cells:
            on = [s for s in range(3) if (bits >> s) & 1]
            c = list(sc.NEUTRAL) if not on else list(np.mean(col[[ti[s] for s in on], :3], axis=0)) + [
                sc.SLIVER_ALPHA]
            base = len(verts)
            for h in poly:
                verts.append(list(A3 @ h + b3))
                cols.append(c)
            for k in range(1, len(poly) - 1):
                faces.append((base, base + k, base + k + 1))
    return np.array(verts), np.array(faces), np.array(cols)


def _median_ms(fn, reps):
    ts = []
    for r in range(reps):
        t0 = time.perf_counter()
        fn(r)
        ts.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ts), min(ts)


def rows(quick: bool = False):
    from OpenGL import GL
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    if app.platformName() in ("offscreen", "minimal"):
        raise SystemExit("bench_plane3d needs an X server: bash scripts/xdisplay.sh .venv/bin/python "
                         "benchmarks/bench_plane3d.py")
    from model.analysis import geometry as geo
    from model.analysis.frame import Frame
    from render3d import scene as sc
    from render3d.plane_view import PlaneView
    from resources import palette

    view = PlaneView()
    view.resize(VIEW_SIZE[0], VIEW_SIZE[1] + 90)
    view.show()
    for _ in range(5):
        app.processEvents()
        time.sleep(0.02)
    out = []
    for n in (7, 10_000):
        snaps = snapshots(n)
        colors = palette.feature_colors(n, geo.angles(snaps[0].W))
        frames = [Frame(snapshot=s, colors=colors) for s in snaps]
        st = sc.PlaneSettings(triple=(0, 1, 2))
        reps = (5 if n > 100 else 20) if quick else (15 if n > 100 else 60)
        view.set_frame(frames[0])
        view.set_triple((0, 1, 2))
        view.set_camera("iso")

        def paint():
            view.gl.makeCurrent()
            view.gl.paintGL()
            GL.glFinish()

        paint()  # warm up (shaders, buffers)
        build, build_best = _median_ms(lambda r: sc.build_scene(snaps[r % len(snaps)], st, colors), reps)

        def change(r):
            view.set_frame(frames[(r + 1) % len(snaps)])
            paint()

        latency, latency_best = _median_ms(change, reps)
        az = view.camera_params()["azimuth"]

        def frame(r):
            view.set_orbit(az + r + 1)
            paint()

        frame_ms, frame_best = _median_ms(frame, reps)
        breps = 1 if n > 100 else max(3, reps // 4)
        base, _ = _median_ms(lambda r: naive_build(snaps[r % len(snaps)], (0, 1, 2), colors), breps)
        # the baseline builds the same cells as the fast path
        v_fast = sc.build_scene(snaps[0], st, colors)
        v_naive = naive_build(snaps[0], (0, 1, 2), colors)
        assert len(v_naive[1]) == len(v_fast.mesh_faces), (len(v_naive[1]), len(v_fast.mesh_faces))
        tgt = TARGETS[n]
        mesh = f"{v_fast.mesh_pos.shape[0]} vertices, {v_fast.mesh_faces.shape[0]} triangles"
        out.append(dict(n=n, what="scene build", ms=build, best_ms=build_best, baseline_ms=base,
                        speedup=base / build, target_ms=None, ok=None, note=mesh))
        out.append(dict(n=n, what="snapshot-change latency", ms=latency, best_ms=latency_best, baseline_ms=None,
                        speedup=None, target_ms=tgt, ok=latency <= tgt, note="set_snapshot + paintGL + glFinish"))
        out.append(dict(n=n, what="frame time", ms=frame_ms, best_ms=frame_best, baseline_ms=None, speedup=None,
                        target_ms=tgt, ok=frame_ms <= tgt, note="paintGL + glFinish, camera turned"))
    view.close()
    renderer = ""
    try:
        view.gl.makeCurrent()
        renderer = GL.glGetString(GL.GL_RENDERER).decode()
    except Exception:  # noqa: BLE001 - informative only
        pass
    return out, renderer


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out, renderer = rows(quick="--quick" in argv)
    print(f"3D latent plane (render3d), view {VIEW_SIZE[0]}x{VIEW_SIZE[1]}, GL: {renderer or '?'}")
    print(f"{'n':>6}  {'measure':<25} {'median ms':>10} {'best ms':>8} {'naive ms':>9} {'ratio':>7} "
          f"{'target':>7}  ok   note")
    for r in out:
        base = f"{r['baseline_ms']:.1f}" if r["baseline_ms"] is not None else "-"
        ratio = f"{r['speedup']:.0f}x" if r["speedup"] is not None else "-"
        tgt = f"{r['target_ms']:.0f}" if r["target_ms"] is not None else "-"
        ok = "-" if r["ok"] is None else ("yes" if r["ok"] else "NO")
        print(f"{r['n']:>6}  {r['what']:<25} {r['ms']:>10.2f} {r['best_ms']:>8.2f} {base:>9} {ratio:>7} "
              f"{tgt:>7}  {ok:<4} {r['note']}")
    return 0 if all(r["ok"] is not False for r in out) else 1


if __name__ == "__main__":
    sys.exit(main())
