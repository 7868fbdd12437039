"""The commands as a user runs them: whole processes, start-up and the marginal cost of
training (with its history) separately, against the notebook reference pattern measured
in the same run.

Start-up: each command as its own process (`main.py --help`, every command's --help,
`inspect` of a small run, `train --steps 1`), the minimum wall time of --repeats runs,
beside the interpreter's own floor (`python -c pass`, `import numpy`). Where the time
goes: one more run of each under `python -X importtime` gives what importing numpy,
h5py, scipy, numba, torch and PyQt6 cost it (0 where the command does not import it;
importtime's own overhead inflates these a little).

Marginal: `train --n 7 --models K --steps S` minus the same command at --steps 1 (both
the minimum of --train-repeats runs), so that start-up, the file's creation and the
summary of the K verdicts cancel and what is left is S - 1 steps of training with their
history: with the default --history-budget-mb (256) and with 1 MB (almost no history).

Reference: the pattern of Anthropic's toy-models notebook (benchmarks/bench_sweep.py's
``reference``): the K models as one batched einsum forward, autograd,
torch.optim.AdamW (foreach), in this process with --threads threads and with one;
--ref-steps steps timed (after a warm-up), the best of three, scaled to S - 1 steps.
Ratios are to the faster of the two (on a busy machine two OpenMP threads can be
several times slower than one).

Goals (the table says which are met): --help of any command <= 0.5 s, inspect of a
small run <= 1 s, marginal training >= 10x the reference at K = 10,000 with the
default history budget. The machine's load average is printed before and after: on a
shared machine the figures move with it (the ratios less than the seconds).

Run: .venv/bin/python benchmarks/bench_cli.py [--models 10000] [--steps 3000] [--threads 2]
     [--repeats 5] [--train-repeats 3] [--ref-steps 100]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

HEAVY = ("numpy", "h5py", "scipy", "numba", "torch", "PyQt6")
HELP_GOAL_S = 0.5
INSPECT_GOAL_S = 1.0
RATIO_GOAL = 10.0


def _env(tmp: Path) -> dict:
    return dict(os.environ, LGE_DATA_DIR=str(tmp / "data"), PYTHONPATH=str(ROOT))


def _once(argv, env) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"bench_cli: {' '.join(map(str, argv))} failed ({r.returncode}): {r.stderr[-500:]}")
    return dt


def timed(argv, env, repeats: int) -> float:
    """Minimum wall seconds of ``repeats`` runs of the process ``argv`` (it must succeed)."""
    return min(_once(argv, env) for _ in range(repeats))


def timed_pair(a, b, env, repeats: int):
    """(min wall seconds of a, of b), their runs interleaved a, b, a, b, ... so that a busy
    moment of the machine falls on both alike."""
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(_once(a, env))
        tb.append(_once(b, env))
    return min(ta), min(tb)


def import_costs(argv, env) -> dict:
    """{package: seconds} that importing each HEAVY package cost one run of ``argv``
    (python -X importtime: the cumulative time where the package itself is imported)."""
    r = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    out = {}
    for line in r.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)\s*$", line)
        if m and m.group(2) in HEAVY:
            out[m.group(2)] = int(m.group(1)) / 1e6
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--n", type=int, default=7)
    ap.add_argument("--steps", type=int, default=3_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5, help="runs of each start-up command (the minimum counts)")
    ap.add_argument("--train-repeats", type=int, default=3, help="runs of each training command")
    ap.add_argument("--ref-steps", type=int, default=100, help="reference steps timed (then scaled)")
    a = ap.parse_args()
    py = sys.executable
    main_py = str(ROOT / "main.py")
    K, n, S, thr = a.models, a.n, a.steps, a.threads
    load0 = os.getloadavg()
    print(f"bench_cli: {os.cpu_count()} cores, load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} (1, 5, 15 min); "
          f"python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmpname:
        tmp = Path(tmpname)
        env = _env(tmp)
        small = tmp / "small.h5"
        subprocess.run([py, main_py, "train", "--n", "7", "--steps", "300", "--out", str(small), "--quiet"],
                       cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        from app.cli import COMMANDS

        # ------------------------------------------------------------- start-up
        rows = [("python -c pass (the interpreter)", [py, "-c", "pass"], None),
                ("python -c 'import numpy'", [py, "-c", "import numpy"], None),
                ("main.py --help", [py, main_py, "--help"], HELP_GOAL_S)]
        rows += [(f"main.py {c} --help", [py, main_py, c, "--help"], HELP_GOAL_S) for c in COMMANDS]
        rows += [("main.py inspect small.h5 (n = 7)", [py, main_py, "inspect", str(small)], INSPECT_GOAL_S),
                 ("main.py inspect small.h5 --json", [py, main_py, "inspect", str(small), "--json"], INSPECT_GOAL_S),
                 (f"main.py train --n {n} --steps 1", [py, main_py, "train", "--n", str(n), "--steps", "1", "--out",
                                                       str(tmp / "s1.h5"), "--force", "--quiet", "--threads",
                                                       str(thr)], None),
                 (f"main.py train --n {n} --models {K:,} --steps 1",
                  [py, main_py, "train", "--n", str(n), "--models", str(K), "--steps", "1", "--out",
                   str(tmp / "k1.h5"), "--force", "--quiet", "--threads", str(thr)], None)]
        print(f"\nstart-up: whole processes, the best of {a.repeats} runs; imports from one run under -X importtime")
        print(f"{'command':46} {'wall s':>7} {'goal':>6}  " + " ".join(f"{p:>6}" for p in HEAVY))
        for label, argv, goal in rows:
            reps = a.repeats if "--models" not in argv else max(1, a.train_repeats)
            t = timed(argv, env, reps)
            costs = import_costs(argv, env)
            ok = "" if goal is None else ("met" if t <= goal else "MISSED")
            g = "" if goal is None else f"<={goal:g}"
            print(f"{label:46} {t:7.2f} {g:>6}  " + " ".join(f"{costs.get(p, 0.0):6.2f}" for p in HEAVY)
                  + (f"  {ok}" if ok else ""))

        # ------------------------------------------------------------- marginal
        def train_cmd(steps, budget):
            return [py, main_py, "train", "--n", str(n), "--models", str(K), "--steps", str(steps),
                    "--history-budget-mb", str(budget), "--out", str(tmp / f"t{steps}-{budget}.h5"), "--force",
                    "--quiet", "--threads", str(thr)]

        print(f"\nmarginal: train --n {n} --models {K:,} --threads {thr}, {S:,} steps minus 1 step "
              f"(best of {a.train_repeats} runs each)")
        marg = {}
        for budget in (256, 1):
            t_s, t_1 = timed_pair(train_cmd(S, budget), train_cmd(1, budget), env, a.train_repeats)
            size = (tmp / f"t{S}-{budget}.h5").stat().st_size
            marg[budget] = (t_s, t_1, t_s - t_1, size)

        # ------------------------------------------------------------ reference
        import torch
        from bench_sweep import reference

        per_step = {}
        for t in sorted({thr, 1}, reverse=True):
            torch.set_num_threads(t)
            per_step[t] = min(reference(K, n, a.ref_steps) for _ in range(3)) / a.ref_steps
        # the ratio is taken to the faster reference: on a busy machine torch's OpenMP threads
        # can wait for each other far longer than the work takes
        best_t = min(per_step, key=per_step.get)
        ref_marg = per_step[best_t] * (S - 1)
        print(f"{'what':58} {'wall s':>8} {'x reference':>12}")
        for t, r in per_step.items():
            print(f"{f'reference: einsum + autograd + AdamW, {t} thread(s), {S - 1} steps':58} {r * (S - 1):8.2f} "
                  f"{ref_marg / (r * (S - 1)):11.2f}x   ({a.ref_steps} steps timed, {r * 1e3:.2f} ms a step"
                  + (", the reference below)" if t == best_t else ")"))
        for budget in (256, 1):
            t_s, t_1, m, size = marg[budget]
            label = f"ours, history budget {budget} MB ({'default' if budget == 256 else 'almost none'})"
            ok = "  met" if budget == 256 and ref_marg / m >= RATIO_GOAL else ("  MISSED" if budget == 256 else "")
            print(f"{label:58} {m:8.2f} {ref_marg / m:11.1f}x{ok}   ({S:,} steps {t_s:.2f} s - 1 step "
                  f"{t_1:.2f} s; file {size / 2**20:.0f} MB)")
        rec = marg[256][2] - marg[1][2]
        print(f"recording the default history costs {rec:+.2f} s over training with almost none "
              f"({100 * rec / max(marg[1][2], 1e-9):+.0f}%)")
    load1 = os.getloadavg()
    print(f"\nload average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


if __name__ == "__main__":
    main()
