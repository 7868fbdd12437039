"""Do the outcomes come true? n = 8 AdamW seeds: the outcome each model gets at 20,000 steps, against what the
same seed shows at 100,000 steps; and what computing outcomes costs for 10,000 models.

    .venv/bin/python benchmarks/outcome_audit.py                     # 1,000 seeds from 10,000, the issue's audit
    .venv/bin/python benchmarks/outcome_audit.py --models 200 --quick # a small check (2,000 / 10,000 steps)

Two runs of the same seeds (model k of a batched run with seed s is the single run with seed s + k): one of
--short steps, whose recorded history gives each model's outcome at its last step (exactly what `inspect` and a
sweep of that length say), and one of --long steps, whose final verdicts are the truth the outcomes are held to:

- of the failures called ``stuck``, the share still failing at --long (a stuck call that came true);
- of the failures called ``moving``, the share perfect at --long (a moving call whose motion ended the failure);
- of the models called ``settled``, the share still perfect;

each with its Wilson 95% interval, and the calls by what decided them. Timing: model.analysis.outcome.judge on the short
run's 1,000 models tiled to --timing-models (10,000) models, against the baseline every sweep pays already, the
per-model analysis (model.analysis.analysis.analyze, without separability) of the same models at the same step; the ratio
is the figure (absolute times depend on the machine). --json prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.analysis.analysis import analyze
from model.analysis.outcome import REASONS, Rows, diagnosis_code, history_outcomes, history_rows, judge
from model.config import TrainConfig
from model.experiments.sweep import wilson_interval
from model.training.engine import Trainer


def train(cfg: TrainConfig, threads: int) -> Trainer:
    t0 = time.perf_counter()
    tr = Trainer(cfg, threads=threads)
    tr.run()
    print(f"trained {cfg.models} models x {cfg.steps:,} steps in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return tr


def share(hit: np.ndarray, of: np.ndarray) -> dict:
    k, n = int(np.sum(hit & of)), int(np.sum(of))
    lo, hi = wilson_interval(k, n)
    return {"count": k, "of": n, "share": k / n if n else None, "ci95": [lo, hi]}


def audit(short, long_, cfg) -> dict:
    t0 = time.perf_counter()
    out = history_outcomes(short.history, cfg)
    t_out = time.perf_counter() - t0
    truth = np.array([analyze(long_.history.snapshot(model=k), extras=False).verdict for k in range(cfg.models)],
                     dtype=object)
    fail = out.verdicts != "perfect"
    kinds, reasons = out.kinds(), out.reasons()
    still = truth != "perfect"
    res = {
        "seeds": [cfg.seed, cfg.seed + cfg.models - 1], "short": int(out.step), "long": int(long_.step),
        "failures_short": int(fail.sum()), "failures_long": int(still.sum()),
        "stuck_still_failing": share(still, fail & (kinds == "stuck")),
        "moving_became_perfect": share(~still, fail & (kinds == "moving")),
        "settled_still_perfect": share(~still, kinds == "settled"),
        "by_reason": {}, "seconds_history_outcomes": t_out,
    }
    for r in REASONS:
        sel = fail & (reasons == r)
        if sel.any():
            res["by_reason"][r] = {"calls": int(sel.sum()), "outcome": str(kinds[sel][0]),
                                   "perfect_at_long": int(np.sum(sel & ~still))}
    return res


def timing(short, cfg, K_target: int) -> dict:
    """judge() for K_target models (the short run's models tiled) against analyze() of the same models."""
    h = short.history
    s = int(h.latest_step)
    reps = -(-K_target // cfg.models)
    ks = np.arange(cfg.models)
    snaps = [h.snapshot(model=int(k)) for k in ks]
    t0 = time.perf_counter()
    an = [analyze(sn, extras=False) for sn in snaps]
    t_an = (time.perf_counter() - t0) * reps  # the same models, reps times
    steps, losses = h.losses()
    before = []
    for e in (1.0, 0.5):
        t = int(h.steps[h.index_at(int(s * 2.0 ** -e))])
        before.append(np.array([diagnosis_code(analyze(h.snapshot(step=t, model=int(k)), extras=False)) for k in ks]))
    rows = history_rows(h, s, ks)
    def tile(a):
        return (None if a is None else np.concatenate([a] * reps, axis=1)[:, :K_target])
    big = Rows(rows.steps, tile(rows.W), tile(rows.b), tile(rows.M))
    L = np.concatenate([losses] * reps, axis=1)[:, :K_target]
    A = (an * reps)[:K_target]
    B = [np.concatenate([b] * reps)[:K_target] for b in before]
    t0 = time.perf_counter()
    o = judge(cfg.replace(models=K_target), s, steps, L, big, A, B)
    t_judge = time.perf_counter() - t0
    cand = int(np.sum(o.ev["local_kind"] > 0))
    return {"models": K_target, "seconds_judge": t_judge, "seconds_analyze_baseline": t_an,
            "ratio_judge_to_analyze": t_judge / t_an, "local_models_computed": cand}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=int, default=1000)
    p.add_argument("--seed", type=int, default=10_000, help="first seed (the outcomes were built on seeds 0..499)")
    p.add_argument("--short", type=int, default=20_000)
    p.add_argument("--long", type=int, default=100_000)
    p.add_argument("--quick", action="store_true", help="--short 2000 --long 10000")
    p.add_argument("--timing-models", type=int, default=10_000)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.quick:
        a.short, a.long = 2000, 10_000
    base = TrainConfig(n=8, models=a.models, seed=a.seed, optimizer="adamw")
    short = train(base.replace(steps=a.short), a.threads)
    long_ = train(base.replace(steps=a.long, history_budget_mb=1.0), a.threads)
    res = audit(short, long_, base.replace(steps=a.short))
    res["timing"] = timing(short, base.replace(steps=a.short), a.timing_models)
    if a.json:
        print(json.dumps(res))
        return 0
    def pct(d):
        return ("-" if d["share"] is None else f"{100 * d['share']:.1f}% ({d['count']}/{d['of']}, "
               f"95% CI {100 * d['ci95'][0]:.1f}-{100 * d['ci95'][1]:.1f}%)")
    print(f"n = 8 AdamW, seeds {res['seeds'][0]}..{res['seeds'][1]}: failures {res['failures_short']} at step "
          f"{res['short']:,}, {res['failures_long']} at step {res['long']:,}")
    print(f"  called stuck at {res['short']:,}, still failing at {res['long']:,}:  {pct(res['stuck_still_failing'])}")
    print(f"  failures called moving, perfect at {res['long']:,}:        {pct(res['moving_became_perfect'])}")
    print(f"  called settled, still perfect:                     {pct(res['settled_still_perfect'])}")
    for r, d in res["by_reason"].items():
        print(f"    failures {d['outcome']} by {r:<10} {d['calls']:>5} calls, perfect at {res['long']:,}: "
              f"{d['perfect_at_long']}")
    t = res["timing"]
    print(f"timing, {t['models']:,} models: outcomes (judge) {t['seconds_judge']:.1f} s, baseline analyses "
          f"{t['seconds_analyze_baseline']:.1f} s, ratio {t['ratio_judge_to_analyze']:.2f} "
          f"({t['local_models_computed']:,} local models computed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
