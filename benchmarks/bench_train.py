"""Training throughput, each figure against a baseline measured in the same run.

Baselines:
- reference: the pattern of Anthropic's toy-models notebook: K models as one
  batched einsum forward, autograd, torch.optim.AdamW;
- plain loop: one nn.Module per model, autograd, torch.optim.AdamW (K = 1).
Ours: model.training.engine.Trainer, history recording included (default budget).

Run: .venv/bin/python benchmarks/bench_train.py [--seconds 2] [--quick]
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
from model.training.engine import Trainer, set_threads


def _timed(step_fn, seconds, per_call):
    """Run step_fn repeatedly for about `seconds`; return units per second."""
    step_fn()  # warm-up
    t0 = time.perf_counter()
    done = 0
    while time.perf_counter() - t0 < seconds:
        step_fn()
        done += per_call
    return done / (time.perf_counter() - t0)


def reference_identity(K, n=7, m=2, seconds=2.0):
    """Anthropic notebook pattern: model-steps/s."""
    return _timed(notebook_step(K, n, m), seconds, K)


def plain_loop(n=7, m=2, seconds=2.0):
    """One nn.Module, autograd, AdamW: steps/s at K = 1."""

    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.W = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(m, n)))
            self.b = torch.nn.Parameter(torch.zeros(n))

        def forward(self, x):
            return torch.relu(x @ self.W.T @ self.W + self.b)

    model = Toy()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    X = torch.eye(n)

    def step():
        loss = ((model(X) - X) ** 2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return _timed(step, seconds, 1)


def ours(cfg, seconds=2.0):
    """Model-steps/s of the engine, history recording included."""
    tr = Trainer(cfg.replace(steps=10**9))
    tr.train_chunk(2)  # compile / warm-up
    chunk = [1]

    def step():
        t = time.perf_counter()
        tr.train_chunk(chunk[0])
        dt = time.perf_counter() - t
        chunk[0] = int(max(1, min(chunk[0] * 4, chunk[0] * 0.1 / max(dt, 1e-9))))

    # count actual steps taken
    s0 = tr.step
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
    return (tr.step - s0) * cfg.models / (time.perf_counter() - t0)


def reference_sparse(n, batch, S, seconds=2.0):
    """Autograd baseline for the sparse setting (one model): steps/s."""
    from model.training.data import BatchStream

    cfg = TrainConfig(n=n, data="sparse", sparsity=S, batch=batch)
    stream = BatchStream(cfg)
    W = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(2, n)))
    b = torch.nn.Parameter(torch.zeros(n))
    opt = torch.optim.AdamW([W, b], lr=1e-3, weight_decay=1e-2)

    def step():
        X = torch.from_numpy(stream.next())
        out = torch.relu(X @ W.T @ W + b)
        loss = ((out - X) ** 2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return _timed(step, seconds, 1)


def rows(seconds=2.0, quick=False):
    set_threads(None)
    out = []
    Ks = (1, 1000) if quick else (1, 1000, 10000)
    targets = {10000: 10.0}
    for K in Ks:
        cfg = TrainConfig(n=7, m=2, models=K, seed=0)
        o = ours(cfg, seconds)
        r = reference_identity(K, seconds=seconds)
        out.append((f"n=7 m=2 one-hot AdamW, K={K:,}", "model-steps/s", o, "notebook reference", r,
                    targets.get(K)))
    o1 = ours(TrainConfig(n=7, m=2, models=1, seed=0), seconds)
    p1 = plain_loop(seconds=seconds)
    out.append(("n=7 m=2 one-hot AdamW, K=1", "steps/s", o1, "plain nn.Module loop", p1, 5.0))
    n = 2000 if quick else 10000
    cfg = TrainConfig(n=n, m=2, data="sparse", sparsity=0.999, batch=1024, seed=0)
    out.append((f"n={n:,} m=2 sparse S=0.999 batch 1024", "steps/s", ours(cfg, seconds),
                "autograd reference", reference_sparse(n, 1024, 0.999, seconds), None))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--quick", action="store_true", help="skip the largest sizes")
    a = ap.parse_args()
    print(f"threads: {torch.get_num_threads()}  cpu: {os.cpu_count()} cores")
    print(f"{'case':42} {'unit':14} {'ours':>12} {'baseline':>22} {'':>12} {'ratio':>8} {'target':>7}")
    for case, unit, o, bname, b, target in rows(a.seconds, a.quick):
        t = f">= {target:g}x" if target else ""
        print(f"{case:42} {unit:14} {o:12,.0f} {bname:>22} {b:12,.0f} {o / b:7.1f}x {t:>7}")


if __name__ == "__main__":
    main()
