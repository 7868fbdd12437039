"""Seed sweep: wall time of a 1,000-seed n = 8 sweep of 20,000 steps (AdamW, lr 1e-3,
weight decay 1e-2, one-hot data), ours against the reference pattern measured in
the same run.

Reference: the pattern of Anthropic's toy-models notebook: the K models as one
batched einsum forward, autograd, torch.optim.AdamW (foreach); it trains only
(no verdicts). It is timed on --ref-steps steps after a warm-up and
extrapolated linearly to the full step count (the table says so); pass
--ref-steps 20000 to time it in full.

Ours: model.experiments.sweep.SweepRunner, i.e. the compiled batched kernel, the final
parameters of every model, and every model's verdict by model.analysis.analysis.analyze
(the same verdict `inspect` gives), timed end to end; its training part is
shown on its own too.

Run: .venv/bin/python benchmarks/bench_sweep.py [--models 1000] [--steps 20000] [--ref-steps 2000] [--threads N]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _common import notebook_step

from model.config import TrainConfig
from model.experiments.sweep import SweepRunner
from model.training.engine import set_threads


def reference(K: int, n: int, steps: int, m: int = 2) -> float:
    """Seconds for `steps` steps of the notebook pattern (after 20 warm-up steps)."""
    step = notebook_step(K, n, m, foreach=True)
    for _ in range(20):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0


def ours(K: int, n: int, steps: int, threads):
    """(total seconds, training seconds, verdict counts) of a full sweep."""
    SweepRunner(TrainConfig(n=n, steps=50, seed=0), None, 64, threads=threads).run()  # compile / warm-up
    marks = {}

    def progress(p):
        if p.phase == "analyse" and "analyse" not in marks:
            marks["analyse"] = time.perf_counter()

    t0 = time.perf_counter()
    sweep = SweepRunner(TrainConfig(n=n, steps=steps, seed=0), None, K, threads=threads).run(progress)
    total = time.perf_counter() - t0
    return total, marks.get("analyse", t0 + total) - t0, sweep.entries[0].counts()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--ref-steps", type=int, default=2_000, help="reference steps timed (then extrapolated)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for both (default: all)")
    a = ap.parse_args()
    set_threads(a.threads)
    K, n, steps = a.models, a.n, a.steps
    print(f"sweep: K = {K:,} seeds, n = {n}, m = 2, one-hot, AdamW lr 1e-3 wd 1e-2, {steps:,} steps; "
          f"threads {torch.get_num_threads()}, {os.cpu_count()} cores")
    total, train_s, counts = ours(K, n, steps, a.threads)
    set_threads(a.threads)
    ref_steps = min(a.ref_steps, steps)
    r = reference(K, n, ref_steps)
    r_full = r * steps / ref_steps
    note = "measured" if ref_steps == steps else f"{ref_steps:,} steps timed, x{steps / ref_steps:g}"
    print(f"{'what':52} {'wall s':>10} {'vs reference':>13}")
    print(f"{'reference: einsum + autograd + torch AdamW (train)':52} {r_full:10.2f} {'1.0x':>13}   ({note})")
    print(f"{'ours: batched kernel (train)':52} {train_s:10.2f} {r_full / train_s:12.1f}x")
    print(f"{'ours: whole sweep (train + every verdict)':52} {total:10.2f} {r_full / total:12.1f}x")
    fails = K - counts.get("perfect", 0)
    print("verdicts: " + ", ".join(f"{v} {c}" for v, c in counts.items()) + f"  (failures {fails}/{K})")


if __name__ == "__main__":
    main()
