"""Where the one-hot probe and the zone areas should leave numpy for the numba kernels
(``model.analysis.geometry.NUMPY_MAX_N``), and what a sweep's analysis of one model costs.

    .venv/bin/python benchmarks/bench_analysis.py

For n in 64 .. 2,000 (a noisy regular polygon, the shape a sweep analyses most): the best of
five calls of ``onehot_probe`` and ``zone_areas`` on each path, both timed in this run with the
kernels already loaded (as in a sweep, whose training loads numba), the ratio numpy / kernels,
and the path the fixed rule picks. Then ``analyze`` of one model, the whole of a sweep's per-model
analysis, against n (what ``model.experiments.sweep.SweepClock`` costs a model's analysis by).
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from model.analysis import geometry as g
from model.analysis.analysis import analyze
from model.experiments.sweep import analysis_seconds
from model.snapshot import Snapshot


def polygon(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    th = 2 * np.pi * np.arange(n) / n
    W = np.stack([np.cos(th), np.sin(th)]) * 1.3 + rng.normal(0, 0.05, (2, n))
    return W, -0.5 + rng.normal(0, 0.05, n)


def best_ms(f, reps: int = 5) -> float:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return 1000 * min(out)


def main() -> int:
    rule = g.NUMPY_MAX_N
    print(f"{'n':>6} {'probe numpy':>12} {'kernels':>8} {'zones numpy':>12} {'kernels':>8} {'numpy/kernels':>14}  rule")
    for n in (64, 128, 256, 512, 1000, 2000):
        W, b = polygon(n)
        t = {}
        for lim in (10**9, 0):
            g.NUMPY_MAX_N = lim
            t[lim] = (best_ms(lambda: g.onehot_probe(W, b)), best_ms(lambda: g.zone_areas(W, b)))
        g.NUMPY_MAX_N = rule
        ratio = sum(t[10**9]) / sum(t[0])
        print(f"{n:6d} {t[10**9][0]:12.2f} {t[0][0]:8.2f} {t[10**9][1]:12.2f} {t[0][1]:8.2f} {ratio:13.1f}x  "
              f"{'numpy' if n <= rule else 'kernels'}", flush=True)
    print(f"\n{'n':>6} {'analyze ms':>11} {'SweepClock costs':>17}")
    for n in (7, 30, 100, 300, 1000, 2000, 4000):
        W, b = polygon(n)
        snap = Snapshot(step=0, W=W.astype(np.float32), b=b.astype(np.float32))
        ms = best_ms(lambda: analyze(snap), reps=3)
        print(f"{n:6d} {ms:11.1f} {1000 * analysis_seconds(n):16.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
