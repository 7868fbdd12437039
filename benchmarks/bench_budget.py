"""What a history budget bounds: peak memory above the process's baseline and the
run file's size, for a training run with a file (the CLI's `train --out`).

Each case runs in a fresh process: baseline RSS after the imports (h5py included) and
the kernel's compilation, then the peak RSS (sampled every 5 ms) while a Trainer with a RunWriter
trains, and the run file's size at the end.

    .venv/bin/python benchmarks/bench_budget.py            # K = 100, n = 7, 64 MB, 200k and 2M steps
    .venv/bin/python benchmarks/bench_budget.py 100 7 200000 64
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, threading, time
sys.path.insert(0, sys.argv[1])
from model.config import TrainConfig
from model.training.engine import Trainer
from model.training.recording import RunFileRecorder
from model.storage.runfile import RunWriter

def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024

K, n, steps, mb, path = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
cfg = TrainConfig(n=n, models=K, steps=steps, history_budget_mb=mb).validate()
import h5py  # noqa: F401,E402 - the libraries are loaded before the baseline: they are not the run's data
Trainer(TrainConfig(n=n, models=2, steps=5).validate()).run()  # compile first: not part of the run
base = rss()
peak = [base]
done = threading.Event()

def watch():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.005)

th = threading.Thread(target=watch)
th.start()
t = time.perf_counter()
with RunWriter(path, cfg) as w:
    tr = Trainer(cfg, recorders=[RunFileRecorder(w)], threads=1)
    tr.run()
secs = time.perf_counter() - t
done.set()
th.join()
print(json.dumps({"peak_above_baseline": peak[0] - base, "history_nbytes": tr.history.nbytes,
                  "file_bytes": os.path.getsize(path), "seconds": secs}))
"""


def measure(K: int, n: int, steps: int, budget_mb: float) -> dict:
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(K), str(n), str(steps), str(budget_mb),
                              os.path.join(d, "run.h5")], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    cases = ([tuple(sys.argv[1:5])] if len(sys.argv) >= 5 else [(100, 7, 200_000, 64), (100, 7, 2_000_000, 64)])
    mib = 2**20
    print(f"{'K':>4} {'n':>4} {'steps':>10} {'budget':>8}  {'peak RSS above baseline':>24}  {'history':>8}  "
          f"{'file':>8}  {'file/budget':>11}  {'time':>6}")
    for K, n, steps, mb in cases:
        r = measure(int(K), int(n), int(steps), float(mb))
        print(f"{int(K):>4} {int(n):>4} {int(steps):>10,} {float(mb):>6.0f}MB  {r['peak_above_baseline'] / mib:>21.0f} MB  "
              f"{r['history_nbytes'] / mib:>5.0f} MB  {r['file_bytes'] / mib:>5.0f} MB  "
              f"{r['file_bytes'] / (float(mb) * mib):>10.2f}x  {r['seconds']:>5.1f}s")


if __name__ == "__main__":
    main()
