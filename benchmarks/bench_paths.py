"""The cost model of model/training/paths.py against measured steps: every path at shapes around
its constants, on one thread, in CPU seconds (the process's CPU time is what a step costs
this process, whatever else runs on a shared machine; wall time is printed beside it).

For each shape: each path's measured seconds a step (CPU; the best of --reps tries of a
chunk of steps, data drawing and recording included), the model's prediction, their
ratio, and whether the dispatcher's choice is the measured fastest. The constants in
model.training.paths.Costs were set from this script's output.

Run: .venv/bin/python benchmarks/bench_paths.py [--reps 3] [--seconds 1] [--paths lanes,fused,blas]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from model.config import TrainConfig
from model.training import paths
from model.training.engine import Trainer, set_threads


def shapes():
    one = [TrainConfig(n=n, models=K) for n, K in ((7, 1), (7, 32), (7, 320), (30, 32), (100, 1), (100, 32),
                                                    (300, 1), (300, 32), (1000, 1), (1000, 32))]
    one += [TrainConfig(n=30, m=5, models=32), TrainConfig(n=300, m=5, models=1)]
    sparse = [TrainConfig(n=n, m=m, data="sparse", sparsity=S, batch=1024, models=K)
              for n, m, S, K in ((20, 5, 0.9, 1), (20, 5, 0.9, 10), (100, 20, 0.9, 1), (100, 20, 0.99, 1),
                                 (400, 30, 0.9, 1), (400, 30, 0.99, 1), (400, 2, 0.9, 1), (1000, 100, 0.9, 1),
                                 (1000, 100, 0.99, 1), (1000, 10, 0.9, 1))]
    smdd = [TrainConfig(n=10_000, m=2, data="sparse", sparsity=0.999, examples=T) for T in (5, 100, 1000)]
    return one + sparse + smdd


def cpu_step(cfg: TrainConfig, path: str, seconds: float, reps: int):
    tr = Trainer(cfg.replace(steps=10**9, history_budget_mb=4.0).validate(), backend=path)
    tr.train_chunk(2)
    t = time.process_time()
    tr.train_chunk(1)
    one = max(time.process_time() - t, 1e-6)
    N = int(max(2, min(2000, seconds / one)))
    best, wall = float("inf"), float("inf")
    for _ in range(reps):
        t, w = time.process_time(), time.perf_counter()
        goal = tr.step + N
        while tr.step < goal:
            tr.train_chunk(goal - tr.step)
        best = min(best, (time.process_time() - t) / N)
        wall = min(wall, (time.perf_counter() - w) / N)
    return best, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--paths", default="lanes,fused,blas")
    a = ap.parse_args()
    import numba  # noqa: F401 - imported first, so that set_threads reaches them (it sets the libraries
    import torch  # noqa: F401   already imported; a Trainer's run() sets them again when it starts)

    set_threads(1)
    want = a.paths.split(",")
    print(f"{'shape':44} {'path':6} {'cpu':>10} {'wall':>10} {'model':>10} {'ratio':>6}")
    for cfg in shapes():
        cfg = cfg.validate()
        choice = paths.choose(cfg)
        got = {}
        for p in paths.applicable(cfg):
            if p not in want:
                continue
            cpu, wall = cpu_step(cfg, p, a.seconds, a.reps)
            got[p] = cpu
            pred = paths.step_seconds(cfg, p)
            name = (f"{cfg.data} n={cfg.n} m={cfg.m} K={cfg.models}"
                    + (f" S={cfg.sparsity:g} B={cfg.effective_batch}" if cfg.data == "sparse" else ""))
            print(f"{name:44} {p:6} {cpu * 1e3:8.4f}ms {wall * 1e3:8.4f}ms {pred * 1e3:8.4f}ms {cpu / pred:6.2f}",
                  flush=True)
        fastest = min(got, key=got.get)
        print(f"{'':44} chose {choice.name}, measured fastest {fastest}"
              + ("" if choice.name == fastest else f" ({got[choice.name] / got[fastest]:.2f}x slower)"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
