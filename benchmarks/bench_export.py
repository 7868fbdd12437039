"""Animation export speed: frames per second of a 300-frame 1280x720 MP4 (render +
H.264 encode, the `animate` path) against rendering the same frames without
encoding (the baseline, timed in the same run), for the zone map at n = 7 and,
when an X display is there, the 3D view. Target: >= 30 frames/s for 2D views.

Run: bash scripts/xdisplay.sh .venv/bin/python benchmarks/bench_export.py [--quick] [--gif]
(without a display the 3D rows are skipped; 2D runs on Qt's offscreen platform).

Setup: a 3,000-step n = 7 run (AdamW, lr 1e-2: the features move through a two-circle
failure), frames evenly spaced over the whole history (300 distinct snapshots).
"render only": per frame session.frame_at(step) + FigureRenderer.image() + the BGRA
copy handed to the encoder (a frame repeating the previous frame's snapshot reuses its
pixels, in both columns); "render + encode": AnimationJob.run() to an MP4 (libx264
veryfast, crf 20, yuv420p; encoding in a worker thread and the ffmpeg process).
--gif adds the GIF rows (Pillow, much slower); --quick uses 60 frames.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SIZE = (1280, 720)
TARGET_FPS = 30.0


def make_run(folder: str) -> str:
    from model.config import TrainConfig
    from model.storage.runfile import save_run
    from model.training.engine import train

    cfg = TrainConfig(n=7, m=2, steps=3000, lr=1e-2, seed=0)
    path = os.path.join(folder, "bench_n7.h5")
    save_run(path, cfg, train(cfg, threads=1).history)
    return path


def bench(session, panels, frames: int, ext: str, folder: str):
    from app.export.animate import AnimationJob, select_steps
    from app.export.figure import FigureOptions, FigureRenderer, qimage_bgra, run_title

    steps = select_steps(session.history.steps, frames=frames)  # evenly spaced: every frame distinct
    title = run_title(session.config)

    def opts():
        return FigureOptions(width=SIZE[0], height=SIZE[1])

    with FigureRenderer(panels, opts(), title) as r:  # baseline: render only
        r.prepare(session.frame_at(int(steps[-1])))
        r.image(session.frame_at(int(steps[0])))  # warm-up (first paint settles the layout)
        t = time.perf_counter()
        last = None
        for s in steps:
            if s != last:  # as AnimationJob does: a repeated snapshot (sparse history) reuses its pixels
                qimage_bgra(r.image(session.frame_at(int(s))))
            last = s
        render = time.perf_counter() - t
    out = os.path.join(folder, f"bench_{'_'.join(panels)}{ext}")
    with FigureRenderer(panels, opts(), title) as r:
        r.image(session.frame_at(int(steps[0])))  # the same warm-up
        t = time.perf_counter()
        AnimationJob(r, session.frame_at, steps, out, fps=30).run()
        total = time.perf_counter() - t
    size_mb = os.path.getsize(out) / 2**20
    return frames / render, frames / total, size_mb


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    frames = 60 if "--quick" in argv else 300
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from app.export.figure import plane3d_class
    from app.gui.session import Session

    cases = [("zones (n = 7)", ("zones",), ".mp4")]
    if "--gif" in argv:
        cases.append(("zones (n = 7)", ("zones",), ".gif"))
    gl = plane3d_class() is not None and app.platformName() not in ("offscreen", "minimal")
    if gl:
        cases.append(("plane3d (n = 7)", ("plane3d",), ".mp4"))
        if "--gif" in argv:
            cases.append(("plane3d (n = 7)", ("plane3d",), ".gif"))
    with tempfile.TemporaryDirectory() as folder:
        s = Session()
        s.open(make_run(folder))
        print(f"{frames} frames at {SIZE[0]}x{SIZE[1]}, evenly spaced over steps 0..3,000; platform "
              f"{app.platformName()}; fps = frames per second (higher is better)")
        print(f"{'view':<18}{'format':<8}{'render only':>13}{'render+encode':>15}{'ratio':>8}{'file MB':>9}  target")
        for name, panels, ext in cases:
            f_render, f_total, mb = bench(s, panels, frames, ext, folder)
            target = f">= {TARGET_FPS:.0f} fps " + ("ok" if f_total >= TARGET_FPS else "MISSED") \
                if panels != ("plane3d",) and ext == ".mp4" else "-"
            print(f"{name:<18}{ext[1:]:<8}{f_render:>13.1f}{f_total:>15.1f}{f_total / f_render:>8.2f}{mb:>9.2f}  "
                  f"{target}")
        if not gl:
            print("plane3d: skipped (needs an X display for GL and render3d.plane_view)")
        s.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
