"""How right the time left is: a dataset-size sweep (SMDD's n = 10,000), a seed sweep over
configurations of different cost (n = 7, 100, 1,000) and a single training run (n = 1,000) run
with their progress recorded (wall time, the predicted seconds left, as the command line's bar
and the window compute it); at the end the truth is known, and each prediction made after the
first 5% of the work is compared with it.

    .venv/bin/python benchmarks/bench_eta.py [--quick]

Prints, per run, the worst and the median relative error of the time left after 5% of the work
(the goal: within 20%), and the baseline a naive estimate would give in the same run: elapsed /
fraction-of-steps x the rest, with every step counted as costing the same (what a bar over all
steps says). Timings on a shared machine are noisy; the errors are ratios inside one run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.experiments.datasize import DataSizeRunner, smdd_config


def errors(records, t_end, naive):
    """Relative errors of the predictions made once 5% of the work was done."""
    out, base = [], []
    for (t, frac, left, steps_frac) in records:
        if frac < 0.05 or left is None or t_end - t < 1.0:
            continue
        truth = t_end - t
        out.append(abs(left - truth) / truth)
        if naive and steps_frac > 0:
            base.append(abs(t / steps_frac * (1 - steps_frac) - truth) / truth)
    return np.array(out), np.array(base)


def report(name, rec, t_end, naive=True):
    """Print the errors of ``rec``'s predictions, and a naive count-the-steps baseline's."""
    e, b = errors(rec, t_end, naive)
    if not len(e):
        print(f"{name:40s} no prediction after 5% (the run took {t_end:.1f} s)")
        return
    line = (f"{name:40s} {t_end:7.1f} s  predictions {len(e):4d}  median error {np.median(e):6.1%}  "
            f"worst {e.max():6.1%}  within 20%: {np.mean(e <= 0.2):6.1%}")
    if len(b):
        line += f"   | naive (steps): median {np.median(b):6.1%}, worst {b.max():6.1%}"
    print(line, flush=True)


def datasize(sizes, steps):
    cfg = smdd_config(steps=steps, warmup=min(500, steps // 10))
    runner = DataSizeRunner(cfg, sizes, test_examples=200)
    rec, t0 = [], time.perf_counter()
    total_steps = (steps + 0) * len(sizes)

    def progress(p):
        done_steps = p.index * steps + (p.done if p.phase == "train" else steps)
        rec.append((time.perf_counter() - t0, p.fraction, p.seconds_left, done_steps / total_steps))

    runner.run(progress)
    return rec, time.perf_counter() - t0


def sweep(steps, models=20):
    from model.config import TrainConfig
    from model.experiments.sweep import SweepClock, SweepRunner, parse_grid

    base = TrainConfig(n=7, m=2, steps=steps, models=models)
    runner = SweepRunner(base, parse_grid(["n=7,100,1000"]), models)
    clock = SweepClock.from_plan(runner.plan, runner.threads)  # started as the command line starts it, before the run
    rec, t0, total = [], clock.start, steps * len(runner.plan)

    def progress(p):
        if p.phase == "done":
            return
        done_steps = p.index * steps + (p.done if p.phase == "train" else steps)
        rec.append((time.perf_counter() - t0, clock.fraction(p), clock.seconds_left(p), done_steps / total))

    runner.run(progress)
    return rec, time.perf_counter() - t0


def train(steps):
    from model.config import TrainConfig
    from model.training.engine import Trainer

    tr = Trainer(TrainConfig(n=1000, m=2, steps=steps, models=1))
    rec, t0 = [], time.perf_counter()

    def progress(p):  # the window's status line: the steps left at the run's rate so far
        left = (p.total - p.step) / p.steps_per_s if p.steps_per_s > 0 else None
        rec.append((time.perf_counter() - t0, p.step / p.total, left, p.step / p.total))

    tr.run(progress)
    return rec, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    steps = 1000 if a.quick else 3000
    datasize([5, 1000], 5)  # the kernels compiled and loaded first: a first run's compile is no one's step
    rec, t = datasize([5, 100, 1000], steps)
    report(f"datasize n=10,000 T=5,100,1000 x{steps}", rec, t)
    sweep(1030, models=2)  # warm: the sweep's paths and the verdict grid's analyses (1,024) compiled and loaded
    rec, t = sweep(steps * 3)
    report(f"sweep n=7,100,1000 K=20 x{steps * 3}", rec, t, naive=True)
    rec, t = train(steps * 5)
    report(f"train n=1000 x{steps * 5}", rec, t, naive=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
