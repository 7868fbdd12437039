"""Training speed in the window against `main.py train` (headless), at a given n: steps a
second of the window's training worker (its views redrawn live) and of the headless engine
as `main.py train` runs it (all threads, recording to a run file), in alternating rounds
(this machine's speed drifts by tens of percent over seconds; one block of each would
misread it). Target: the window at >= 80% of headless.

Run: bash scripts/xdisplay.sh .venv/bin/python benchmarks/bench_window.py [--n 1000] [--seconds 6] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("LGE_SETTINGS_ORG", "lge-bench")


def headless_rate(cfg, seconds: float) -> float:
    """Steps a second of the engine as `main.py train` runs it (Trainer.run, all threads, a run file)."""
    from model.storage.runfile import RunWriter
    from model.training.engine import Trainer
    from model.training.recording import RunFileRecorder

    path = os.path.join(tempfile.mkdtemp(), "headless.h5")
    with RunWriter(path, cfg) as writer:
        tr = Trainer(cfg, recorders=[RunFileRecorder(writer)])
        tr.train_chunk(2)  # warm-up: kernels loaded
        t0, s0 = time.perf_counter(), tr.step

        def progress(p):
            if time.perf_counter() - t0 > seconds:
                tr.request_stop()

        tr.run(progress)
        return (tr.step - s0) / (time.perf_counter() - t0)


def window_rate(app, win, seconds: float) -> float:
    """Steps a second of the window's training while its event loop runs (views redrawn)."""
    from PyQt6.QtCore import QEventLoop, QTimer

    tr = win.session.trainer
    s0, t0 = tr.step, time.perf_counter()
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    return (tr.step - s0) / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=6.0, help="each round of each side")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    import pyqtgraph as pg
    from PyQt6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow
    from model.config import TrainConfig
    from model.training import paths

    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    app = QApplication.instance() or QApplication([])
    win = MainWindow(autostart=False, restore=False)
    win.resize(1600, 1000)
    win.show()
    app.processEvents()
    cfg = TrainConfig(n=a.n, steps=10**9, seed=0).validate()
    win.form.set_config(cfg)
    win.start_training()
    window_rate(app, win, 1.0)  # warm-up
    gui, head, frames = [], [], 0
    for _ in range(a.rounds):
        f0 = win.redraw_count
        gui.append(window_rate(app, win, a.seconds))
        frames += win.redraw_count - f0
        win.session.pause()
        time.sleep(0.2)
        head.append(headless_rate(cfg, a.seconds))
        win.session.resume()
        time.sleep(0.2)
    win.session.stop_training()
    win.close()
    g, h = sum(gui) / len(gui), sum(head) / len(head)
    try:
        load = f"{os.getloadavg()[0]:.1f}"
    except OSError:
        load = "?"
    print(f"n = {a.n:,}, path {paths.choose(cfg).name}; load {load}")
    print("window steps/s per round:   " + ", ".join(f"{x:,.0f}" for x in gui))
    print("headless steps/s per round: " + ", ".join(f"{x:,.0f}" for x in head))
    print(f"window {g:,.0f} steps/s ({frames / (a.rounds * a.seconds):.2f} redraws/s), headless {h:,.0f} steps/s: "
          f"{100 * g / h:.0f}% (target >= 80%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
