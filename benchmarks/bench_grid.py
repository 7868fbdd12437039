"""Training speed over the sizes the field uses: each point against the torch reference
measured in the same run, and against this machine's arithmetic floor.

Points (``--points`` picks some, ``--quick`` a small subset):
- one-hot, full batch: n in {7, 100, 1,000, 4,000} x K in {1, 100, 10,000} (m = 2);
- sparse fresh batches of 1,024: (n, m) in {(20, 5), (100, 20), (400, 30), (1,000, 100)}
  x S in {0.9, 0.99} x K in {1, 10}, importance decaying like TMS's 0.9^i (the decay is
  0.9^(400/n) for n > 400, so the last feature's importance stays a normal float32);
- SMDD: n = 10,000, m = 2, S = 0.999, K = 1, full batch on T in {5, 100, 1,000} examples.
A point is named like ``onehot:1000:1`` (n, K), ``sparse:400:30:0.9:10`` (n, m, S, K),
``smdd:100`` (T).

Reference (torch, autograd, torch.optim.AdamW lr 1e-3 wd 1e-2, the notebook pattern):
- one-hot: benchmarks/_common.notebook_step (batched einsum over (batch, instance,
  feature) with X = I expanded over the K instances);
- sparse: the same einsum pattern on a fresh (1,024, n) batch drawn in torch every step
  (entries 0 with probability S, else uniform (0, 1], rows of unit norm, like ours),
  shared by the K instances as our fresh batches are, importance-weighted loss;
- SMDD: the naive dense loop of benchmarks/bench_sparse.py (dense (T, n) X).
Ours: model.training.engine.Trainer, history recording included (the default budget; SMDD: the
dataset-size sweep's), the dispatcher's choice of path (printed when the code has one).

Timing: marginal times, (time of N2 steps - time of N1 steps) / (N2 - N1), each the best
of ``--reps`` tries, after a warm-up; N2 is sized to take about ``--seconds``. Both sides
use the same threads (``--threads``, default all cores).

Floor: one step's multiply-adds (the pre-activation of every (example, output) pair,
m each, or of the non-zeros for the encoder; 2 m more for each output that fires, counted on
the trained parameters; ~5 per parameter for the optimiser) against the multiply-add
rate this machine reaches in the same run (the better of a compiled loop over L1-resident
float32 on every thread and a large sgemm), and its bytes (the parameters and optimiser moments read and written,
the data read) against the memory bandwidth measured in the same run (a large copy);
the floor is the larger of the two; "x floor" = our time a step / the floor, and
"bound" says which one it is.

``--repo PATH`` times the code of another checkout (e.g. a worktree at main, for a
before/after table); the reference and the floor do not depend on it.

Run: .venv/bin/python benchmarks/bench_grid.py [--quick] [--points P,P,..] [--seconds 2]
The machine may be shared: the load average is printed with each point; compare ratios
measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Point:
    kind: str  # onehot, sparse, smdd
    n: int
    m: int = 2
    K: int = 1
    S: float = 0.0
    T: int | None = None
    B: int = 1024

    @property
    def name(self) -> str:
        if self.kind == "onehot":
            return f"onehot:{self.n}:{self.K}"
        if self.kind == "sparse":
            return f"sparse:{self.n}:{self.m}:{self.S:g}:{self.K}"
        return f"smdd:{self.T}"

    @property
    def label(self) -> str:
        if self.kind == "onehot":
            return f"one-hot n={self.n:,} K={self.K:,}"
        if self.kind == "sparse":
            return f"sparse n={self.n:,} m={self.m} S={self.S:g} K={self.K}"
        return f"SMDD n=10,000 T={self.T:,}"

    def batch(self) -> int:
        return self.n if self.kind == "onehot" else (self.T if self.kind == "smdd" else self.B)


def grid() -> list[Point]:
    pts = [Point("onehot", n, K=K) for n in (7, 100, 1000, 4000) for K in (1, 100, 10_000)]
    pts += [Point("sparse", n, m=m, S=S, K=K) for n, m in ((20, 5), (100, 20), (400, 30), (1000, 100))
            for S in (0.9, 0.99) for K in (1, 10)]
    pts += [Point("smdd", 10_000, S=0.999, T=T) for T in (5, 100, 1000)]
    return pts


QUICK = ("onehot:7:10000", "onehot:1000:1", "onehot:1000:100", "sparse:100:20:0.9:10", "sparse:400:30:0.9:10",
         "smdd:5", "smdd:1000")


def parse_point(text: str) -> Point:
    p = text.strip().split(":")
    if p[0] == "onehot" and len(p) == 3:
        return Point("onehot", int(p[1]), K=int(p[2]))
    if p[0] == "sparse" and len(p) == 5:
        return Point("sparse", int(p[1]), m=int(p[2]), S=float(p[3]), K=int(p[4]))
    if p[0] == "smdd" and len(p) == 2:
        return Point("smdd", 10_000, S=0.999, T=int(p[1]))
    raise SystemExit(f"bench_grid.py: --points: cannot read {text!r} (onehot:N:K, sparse:N:M:S:K, smdd:T)")


def model_module(name: str):
    """model.<sub>.<module>, or model.<module> in a checkout from before model/ had subpackages
    (``--repo`` times another checkout's code)."""
    import importlib

    try:
        return importlib.import_module(f"model.{name}")
    except ModuleNotFoundError:
        return importlib.import_module(f"model.{name.rsplit('.', 1)[-1]}")


def importance(p: Point) -> list | None:
    if p.kind != "sparse":
        return None
    d = 0.9 ** min(1.0, 400.0 / p.n)
    return [d ** i for i in range(p.n)]


def load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


# ------------------------------------------------------------------ the machine
def fma_rate(threads: int, seconds: float = 0.4) -> float:
    """Multiply-adds per second over ``threads`` threads: a vectorised loop on L1-resident float32
    in each (compiled, without the GIL), all threads at once."""
    import threading

    import numba as nb

    @nb.njit(fastmath=True, error_model="numpy", nogil=True)
    def kernel(x, y, z, reps):
        for _ in range(reps):
            for i in range(x.size):
                z[i] = z[i] * x[i] + y[i]
        return z[0]

    x = np.full(2048, 0.999, np.float32)
    y = np.full(2048, 1e-3, np.float32)
    zs = [np.ones(2048, np.float32) for _ in range(threads)]
    kernel(x, y, zs[0], 1)
    best = 0.0
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        ths = [threading.Thread(target=kernel, args=(x, y, z, 4000)) for z in zs]
        t = time.perf_counter()
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        best = max(best, threads * 4000 * x.size / (time.perf_counter() - t))
    return best


def gemm_rate(threads: int, seconds: float = 0.4) -> float:
    """Multiply-adds per second of a large float32 matrix product (torch, ``threads`` threads)."""
    import torch

    torch.set_num_threads(threads)
    a = torch.rand(1024, 1024)
    c = torch.empty(1024, 1024)
    torch.mm(a, a, out=c)
    best = 0.0
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t = time.perf_counter()
        torch.mm(a, a, out=c)
        best = max(best, 1024**3 / (time.perf_counter() - t))
    return best


def bandwidth(seconds: float = 0.4) -> float:
    """Bytes per second of a large copy (read + write), best of a few."""
    a = np.ones(32 * 2**20, np.float32)  # 128 MB
    b = np.empty_like(a)
    np.copyto(b, a)
    best = 0.0
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t = time.perf_counter()
        np.copyto(b, a)
        best = max(best, 2 * a.nbytes / (time.perf_counter() - t))
    return best


# ----------------------------------------------------------------------- timing
class SlowPoint(Exception):
    """One step took longer than --max-step-seconds: the point is reported with that step's time."""


def marginal(run: Callable[[int], None], seconds: float, reps: int, max_step: float = float("inf")) -> float:
    """Seconds a step: (best time of N2 steps - best time of N1 steps) / (N2 - N1), the tries of
    N1 and N2 interleaved (a run's later steps can be cheaper than its first: the history
    records every step early on, then thins)."""
    run(1)  # warm-up: kernels compiled or loaded, arrays allocated (not timed)
    t = time.perf_counter()
    run(1)
    one = max(time.perf_counter() - t, 1e-7)
    if one > max_step:
        raise SlowPoint(one)
    t_end = time.perf_counter() + min(seconds, 20 * one)  # a little more warm-up, past the first steps
    while time.perf_counter() < t_end:
        run(max(1, int(0.1 / one)))
    n2 = int(max(4, min(10**7, seconds / one)))
    n1 = max(1, n2 // 4)
    if one * n2 > 4 * seconds:  # a slow point: one try of each
        reps = 1
    best = {n1: float("inf"), n2: float("inf")}
    for _ in range(reps):
        for k in (n1, n2):
            t = time.perf_counter()
            run(k)
            best[k] = min(best[k], time.perf_counter() - t)
    return max(best[n2] - best[n1], 1e-12) / (n2 - n1)


def reference_runner(p: Point) -> Callable[[int], None]:
    import torch

    sys.path.insert(0, HERE)
    from _common import notebook_step

    if p.kind == "onehot":
        step = notebook_step(p.K, p.n, p.m)
    elif p.kind == "sparse":
        step = sparse_reference_step(p)
    else:
        step = smdd_reference_step(p.T)
    torch.manual_seed(0)

    def run(k):
        for _ in range(k):
            step()
    return run


def sparse_reference_step(p: Point) -> Callable[[], None]:
    import torch

    K, n, m, B = p.K, p.n, p.m, p.B
    W = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(K, n, m)))
    b = torch.nn.Parameter(torch.zeros(K, n))
    opt = torch.optim.AdamW([W, b], lr=1e-3, weight_decay=1e-2)
    imp = torch.tensor(importance(p), dtype=torch.float32)
    g = torch.Generator().manual_seed(0)

    def step():
        feat = 1.0 - torch.rand(B, n, generator=g)
        x = torch.where(torch.rand(B, n, generator=g) < 1.0 - p.S, feat, torch.zeros(()))
        norm = x.norm(dim=1, keepdim=True)
        x = x / torch.where(norm > 0, norm, torch.ones(()))
        X = x.unsqueeze(1).expand(B, K, n)
        h = torch.einsum("bkf,kfh->bkh", X, W)
        out = torch.relu(torch.einsum("bkh,kfh->bkf", h, W) + b)
        loss = (((X - out) ** 2) * imp).sum(-1).mean(0).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def smdd_reference_step(T: int) -> Callable[[], None]:
    import torch

    model_dataset = model_module("training.data").model_dataset

    N = 10_000
    g = torch.Generator().manual_seed(0)
    W = torch.nn.Parameter(torch.randn(2, N, generator=g) * (2.0 / (2 + N)) ** 0.5)
    b = torch.nn.Parameter(torch.zeros(N))
    opt = torch.optim.AdamW([W, b], lr=1e-3, weight_decay=1e-2)
    X = torch.from_numpy(model_dataset(0, T, N, 0.999))

    def step():
        out = torch.relu(X @ W.T @ W + b)
        loss = ((out - X) ** 2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def config_of(p: Point):
    from model.config import TrainConfig

    if p.kind == "onehot":
        return TrainConfig(n=p.n, m=p.m, models=p.K, steps=10**9, seed=0).validate()
    if p.kind == "sparse":
        return TrainConfig(n=p.n, m=p.m, models=p.K, data="sparse", sparsity=p.S, batch=p.B, importance=importance(p),
                           steps=10**9, seed=0).validate()
    DATASIZE_HISTORY_MB = model_module("experiments.datasize").DATASIZE_HISTORY_MB

    return TrainConfig(n=p.n, m=2, data="sparse", sparsity=0.999, examples=p.T, steps=10**9, seed=0,
                       schedule="warmup-cosine", warmup=2500, history_budget_mb=DATASIZE_HISTORY_MB).validate()


def ours_runner(p: Point, threads: int | None):
    engine = model_module("training.engine")
    Trainer, set_threads = engine.Trainer, engine.set_threads

    tr = Trainer(config_of(p), threads=threads)
    set_threads(threads)  # after the Trainer: it reaches the libraries imported by then (numba, torch)

    def run(k):
        goal = tr.step + k
        while tr.step < goal:
            tr.train_chunk(goal - tr.step)
    return run, tr


def path_of(tr) -> str:
    path = getattr(tr, "path", None)
    if path is not None:
        return str(getattr(path, "name", path))
    if getattr(tr, "use_kernel", False):
        return "lanes"
    return "sparse" if getattr(tr, "use_sparse_kernel", False) else "torch"


def fired_fraction(tr, p: Point) -> float:
    """Share of (example, output) pairs with a positive pre-activation, on the trained parameters."""
    W, b, M = tr.parameters()
    k = 0
    D = W[k].T if M is None else M[k]
    if p.kind == "onehot":
        P = D @ W[k] + b[k][:, None]
        return float(np.mean(P > 0))
    if p.kind == "smdd":
        X = tr.dataset[0]
    else:
        BatchStream = model_module("training.data").BatchStream

        X = BatchStream(tr.config).next()
    P = (X @ W[k].T) @ D.T + b[k]
    return float(np.mean(P > 0))


def floor(p: Point, fired: float, fma: float, bw: float):
    """(seconds, bound) of one step: multiply-adds / fma, bytes / bw, the larger."""
    K, n, m, B = p.K, p.n, p.m, p.batch()
    params = m * n + n
    if p.kind == "onehot":
        macs = K * (n * n * m + 2 * m * fired * n * n)
        data = 0
    else:
        nnz = B * n * (1.0 - p.S)
        macs = K * (B * n * m + 2 * m * fired * B * n + 2 * m * nnz)
        data = 12 * nnz  # coordinates and values of the non-zeros, sparse and SMDD alike
    macs += 5 * K * params
    byts = K * params * 4 * 6 + data  # W, b and two moments read, W and b written (and the moments: ~6 passes)
    tc, tm = macs / fma, byts / bw
    return (tc, "compute") if tc >= tm else (tm, "memory")


def fits(p: Point, limit: float) -> tuple:
    """(reference fits, ours fits) in ``limit`` bytes: the reference's (B, K, n) tensors (one-hot:
    the (n, K, n) expanded input is materialised by einsum, and its output, gradient and temporaries)."""
    K, n, B = p.K, p.n, p.batch()
    if p.kind == "onehot":
        ref = 4 * 6 * n * K * n
    elif p.kind == "sparse":
        ref = 4 * 6 * B * K * n
    else:
        ref = 4 * 8 * p.T * n
    params = 4 * K * (p.m * n + n)
    ours = 12 * params + 2 * 2**30 * (p.kind == "onehot" and n >= 4000 and K >= 1000)
    return ref < limit, ours < limit


def one_point(p: Point, a, fma: float, bw: float) -> dict:
    import torch

    available_memory = model_module("training.engine").available_memory

    row = asdict(p)
    row.update(name=p.name, label=p.label, load=load())
    ref_ok, ours_ok = fits(p, 0.6 * available_memory())
    if ours_ok:
        run, tr = ours_runner(p, a.threads)
        row["path"] = path_of(tr)
        try:
            row["ours"] = marginal(run, a.seconds, a.reps, a.max_step_seconds)
        except SlowPoint as exc:
            row["ours_one_step"] = float(exc.args[0])  # a lower bound of a step's time: not a marginal time
        row["fired"] = fired_fraction(tr, p)
        fl, bound = floor(p, row["fired"], fma, bw)
        row["floor"], row["bound"] = fl, bound
        del tr, run
    if ref_ok and not a.no_reference:
        torch.set_num_threads(a.threads or os.cpu_count() or 1)
        try:
            row["reference"] = marginal(reference_runner(p), a.seconds, a.reps, a.max_step_seconds)
        except SlowPoint as exc:
            row["reference_one_step"] = float(exc.args[0])
    return row


def fmt_t(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} us"


def goal(row: dict) -> float:
    """The issue's goal for the point: >= 10x where the reference is dominated by per-step
    overhead (its time a step under 1 ms here), else >= 3x."""
    return 10.0 if row.get("reference", 1.0) < 1e-3 else 3.0


def print_row(row: dict) -> None:
    ours, ref = row.get("ours"), row.get("reference")
    ratio = f"{ref / ours:7.2f}x" if ours and ref else "      -"
    ref_t = fmt_t(ref) if ref or "reference_one_step" not in row else "> " + fmt_t(row["reference_one_step"])
    ours_t = fmt_t(ours) if ours or "ours_one_step" not in row else "> " + fmt_t(row["ours_one_step"])
    xf = f"{ours / row['floor']:6.1f}x" if ours and row.get("floor") else "     -"
    mark = ""
    if ours and ref:
        mark = "ok" if ref / ours >= goal(row) else f"< {goal(row):g}x"
    print(f"{row['label']:34} {row.get('path', '-'):>8} {ref_t:>10} {ours_t:>10} {ratio} {mark:>6} "
          f"{fmt_t(row.get('floor')):>10} {xf} {row.get('bound', '-'):>8} {row.get('fired', float('nan')):6.2f} "
          f"{row['load']:>5}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a subset: " + ", ".join(QUICK))
    ap.add_argument("--points", default=None, help="comma-separated points, e.g. onehot:1000:1,smdd:100")
    ap.add_argument("--seconds", type=float, default=2.0, help="about how long the longer timing of a point takes")
    ap.add_argument("--reps", type=int, default=3, help="tries of each timing (the best counts)")
    ap.add_argument("--threads", type=int, default=None, help="threads for both sides (default: all cores)")
    ap.add_argument("--repo", default=None, help="time the model/ of this checkout instead of this one's")
    ap.add_argument("--max-step-seconds", type=float, default=20.0,
                    help="a side whose single step takes longer is reported with that step's time (marked >)")
    ap.add_argument("--no-reference", action="store_true", help="skip the reference (ours and the floor only)")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    a = ap.parse_args(argv)
    repo = os.path.abspath(a.repo) if a.repo else os.path.dirname(HERE)
    sys.path.insert(0, repo)
    if a.points:
        pts = [parse_point(t) for t in a.points.split(",") if t.strip()]
    else:
        pts = [p for p in grid() if not a.quick or p.name in QUICK]
    threads = a.threads or os.cpu_count() or 1
    loop, gemm, bw = fma_rate(threads), gemm_rate(threads), bandwidth()
    fma = max(loop, gemm)
    print(f"code: {repo}; {os.cpu_count()} cores, {threads} threads; this run's peak: {fma / 1e9:.1f} G multiply-adds/s "
          f"(compiled L1 loop {loop / 1e9:.1f}, sgemm {gemm / 1e9:.1f}), {bw / 1e9:.1f} GB/s copy; load {load()}")
    print(f"{'point':34} {'path':>8} {'reference':>10} {'ours':>10} {'ratio':>8} {'goal':>6} {'floor':>10} "
          f"{'x floor':>7} {'bound':>8} {'fired':>6} {'load':>5}")
    rows = []
    for p in pts:
        row = one_point(p, a, fma, bw)
        rows.append(row)
        print_row(row)
    print("times are seconds a step (marginal); ratio = reference / ours; x floor = ours / floor; fired = share "
          "of outputs that fire on the trained parameters")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"repo": repo, "fma_rate": fma, "loop_rate": loop, "gemm_rate": gemm, "bandwidth": bw,
                       "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
