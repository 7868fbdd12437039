"""History and run-file benchmark: what a 1,000,000-step run of n = 10,000 keeps.

Simulates the training engine without training: per chunk it asks
``History.record_steps`` which steps to append, appends them, and always
appends the chunk's last step. The same arrays are appended every time (the
cost measured is the history's, not a model's).

    .venv/bin/python benchmarks/bench_history.py
"""
from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.config import TrainConfig
from model.history import DEFAULT_BUDGET_BYTES, History
from model.storage.runfile import RunWriter, open_run

N, M, K = 10_000, 2, 1
STEPS = 1_000_000
CHUNK = 1_000


def _arrays(step=0.0):
    W = np.full((K, M, N), step, dtype=np.float32)
    b = np.full((K, N), step, dtype=np.float32)
    loss = np.full(K, step, dtype=np.float32)
    return W, b, loss


def simulate(budget=DEFAULT_BUDGET_BYTES, steps=STEPS, chunk=CHUNK):
    """Run the engine's recording loop; returns (history, appends, seconds)."""
    h = History(K, M, N, budget_bytes=budget)
    W, b, loss = _arrays()
    appends = 0
    t = time.perf_counter()
    for c0 in range(0, steps, chunk):
        c1 = min(steps, c0 + chunk)
        for s in h.record_steps(c0, c1):
            h.append(int(s), W, b, loss)
            appends += 1
        if h.latest_step != c1 - 1:
            h.append(c1 - 1, W, b, loss, latest=True)
            appends += 1
    return h, appends, time.perf_counter() - t


def baseline(appends):
    """A plain Python list of row copies, np.stack-ed at the end (no budget)."""
    W, b, loss = _arrays()
    t = time.perf_counter()
    Ws, bs, ls, ss = [], [], [], []
    for i in range(appends):
        Ws.append(W.copy())
        bs.append(b.copy())
        ls.append(loss.copy())
        ss.append(i)
    out = (np.stack(Ws), np.stack(bs), np.stack(ls), np.asarray(ss))
    dt = time.perf_counter() - t
    nbytes = sum(a.nbytes for a in out) * 2  # the list and the stacked copy coexist
    del Ws, bs, ls, out
    return dt, nbytes


def hdf5_throughput(rows=400, flush_every=20, n=N):
    cfg = TrainConfig(n=n, m=M, models=K).validate()
    W = np.ones((K, M, n), np.float32)
    b = np.ones((K, n), np.float32)
    loss = np.ones(K, np.float32)
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "bench.h5")
        t = time.perf_counter()
        with RunWriter(p, cfg, flush_seconds=3600) as w:
            for s in range(rows):
                w.append(s, W, b, loss)
                if (s + 1) % flush_every == 0:
                    w.flush()
        dt = time.perf_counter() - t
        size = os.path.getsize(p)
        t = time.perf_counter()
        r = open_run(p)
        dt_open = time.perf_counter() - t
        assert len(r.history) == rows
    return dt, size, dt_open


def _fmt_steps(a):
    return ", ".join(f"{int(v):,}" for v in a)


def rows():
    """The benchmark table: (metric, value, note) rows."""
    out = []
    budget = DEFAULT_BUDGET_BYTES
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    h, appends, dt = simulate(budget)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    st = h.steps
    gaps = np.diff(st)
    mib = 2**20
    out.append(("run", f"{STEPS:,} steps, n={N:,}, m={M}, K={K}", f"engine chunks of {CHUNK:,} steps"))
    out.append(("bytes per snapshot", f"{h.bytes_per_snapshot:,}", "W, b, loss float32 + step int64"))
    out.append(("capacity (rows)", f"{h.capacity:,}", f"budget {budget / mib:.0f} MiB"))
    out.append(("snapshots kept", f"{len(h):,}", f"dense prefix {h.dense_rows:,} rows, final stride {h.stride:,}"))
    out.append(("first kept steps", _fmt_steps(st[:5]), ""))
    out.append(("last kept steps", _fmt_steps(st[-5:]), "the latest step is always kept"))
    out.append(("max gap (steps)", f"{int(gaps.max()):,}", f"median gap {int(np.median(gaps)):,}"))
    out.append(("history nbytes", f"{h.nbytes / mib:.1f} MiB", f"<= budget {budget / mib:.0f} MiB: "
                f"{h.nbytes <= budget}"))
    out.append(("peak traced memory", f"{peak / mib:.1f} MiB", "tracemalloc, incl. the benchmark's input row and record_steps arrays"))
    out.append(("peak RSS growth", f"{max(0, rss1 - rss0) / mib:.1f} MiB", "getrusage ru_maxrss"))
    rate = appends / dt
    bdt, bbytes = baseline(appends)
    brate = appends / bdt
    out.append(("append throughput", f"{rate:,.0f} rows/s", f"{appends:,} appends + record_steps in {dt:.2f} s"))
    out.append(("baseline list+np.stack", f"{brate:,.0f} rows/s",
                f"same {appends:,} rows, no budget: {bbytes / mib:,.0f} MiB at the end"))
    out.append(("history / baseline", f"{rate / brate:.2f}x", "throughput ratio (>1 = history faster)"))
    hdt, hsize, hopen = hdf5_throughput()
    out.append(("HDF5 append+flush", f"{400 / hdt:,.0f} rows/s",
                f"n={N:,}: 400 rows, flush every 20; {hsize / mib / hdt:,.0f} MiB/s; open_run {hopen:.2f} s"))
    hdt2, _, _ = hdf5_throughput(rows=20_000, flush_every=500, n=7)
    out.append(("HDF5 append+flush (n=7)", f"{20_000 / hdt2:,.0f} rows/s", "20,000 rows, flush every 500"))
    return out


def main():
    table = rows()
    w0 = max(len(r[0]) for r in table)
    w1 = max(len(r[1]) for r in table)
    print(f"{'metric':<{w0}}  {'value':<{w1}}  note")
    print(f"{'-' * w0}  {'-' * w1}  {'-' * 4}")
    for a, b, c in table:
        print(f"{a:<{w0}}  {b:<{w1}}  {c}")


if __name__ == "__main__":
    main()
