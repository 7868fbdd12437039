"""How right the time left is: a dataset-size sweep (SMDD's n = 10,000) runs with its progress
recorded (wall time, the predicted seconds left); at the end the truth is
known, and each prediction made after the first 5% of the work is compared with it.

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

from model.datasize import DataSizeRunner, smdd_config


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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    steps = 1000 if a.quick else 3000
    datasize([5, 1000], 5)  # the kernels compiled and loaded first: a first run's compile is no one's step
    rec, t = datasize([5, 100, 1000], steps)
    report(f"datasize n=10,000 T=5,100,1000 x{steps}", rec, t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
