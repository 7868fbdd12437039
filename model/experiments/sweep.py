"""Seed sweeps and the failure atlas: K seeds of one configuration (or of each
configuration of a grid) trained as one batched run, every model's final
parameters kept, every model's verdict counted (no Qt).

- ``parse_grid(["n=6,7,8", "lr=1e-3,3e-3"])`` -> {"n": [6, 7, 8], "lr": [...]};
  ``expand_grid(base, grid)`` -> the validated TrainConfigs of the cartesian
  product, in the order the keys were given. The keys are the schema's
  sweepable options (model.config.grid_options: Option.sweep), each value
  checked against the option's type, choices and range. Unknown keys or bad
  values raise ConfigError("grid", ...) naming the key and what it allows.
- ``SweepRunner(base, grid, models).run(progress)`` trains each configuration
  as one batched Trainer with a tiny history (only the final parameters are
  kept, so K = 10,000+ fits), then analyses each model alone with
  ``model.analysis.analysis.analyze`` (the same verdict as ``inspect`` gives).
  ``request_cancel()`` (any thread) stops between chunks; the configurations
  completed so far are kept (and saved), the one in progress is dropped.
- Model k of a configuration with seed s is the single run with seed s + k
  (model/training/init.py, model/training/data.py): ``SweepEntry.single_run_config(k)``
  re-trains it alone with its full history.
- Rates come with Wilson 95% intervals (``wilson_interval``), the loss
  histogram is over log10(final loss), stacked by verdict.

Sweep files (HDF5, no pickle; ``format`` = "latent-geometry-sweep", version 1)::

    /            attrs: format, format_version, base (TrainConfig JSON), grid (JSON),
                        models (K), cancelled (bool), verdict_names (JSON list)
    /configs/cNNNN  attrs: config (JSON, models = K), grid (JSON: this entry's values),
                        label, step (the step of the final parameters)
                    seeds (K,) int64, W (K,m,n) f32, b (K,n) f32, loss (K,) f32,
                    verdict (K,) int16 (index into verdict_names), halted (K,) int64,
                    M (K,n,m) f32 when untied

``save_sweep`` writes the whole file to a temporary name and publishes it under
the target's (model/storage/h5io.py's write_h5), so a crash never leaves a half-written sweep
and an existing file is replaced only when asked (``replace``; the runner's
``overwrite``, the CLI's --force); the runner saves after each completed
configuration, and writes nothing when none completed. Every read or write failure is a RunFileError (one line).
"""
from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ..analysis.analysis import FAILURE_MODES, FINDING_KINDS, SPARSE_VERDICT, VERDICTS, analyze
from ..analysis.outcome import OUTCOMES, REASONS, VELOCITY_SPAN, OutcomeBatch
from ..config import ConfigError, Option, TrainConfig, grid_options
from ..snapshot import Snapshot
from ..storage.h5io import (
    SWEEP_FORMAT,
    RunFileError,
    as_str,
    check_real,
    check_whole,
    check_writable,
    read_h5,
    read_version,
    write_h5,
)
from ..storage.runfile import autosave_path
from ..training.engine import TrainingQueue
from ..training.engine import check_memory as engine_check_memory
from ..training.engine import memory_estimate as engine_memory_estimate

if TYPE_CHECKING:
    from ..history import History
    from ..training.engine import Trainer

SWEEP_FORMAT_VERSION = 1
#: A model whose loss became NaN/inf; its parameters are its last finite snapshot.
DIVERGED = "diverged"
#: Every verdict a sweep can count, in display order.
SWEEP_VERDICTS = tuple(VERDICTS) + (DIVERGED, SPARSE_VERDICT)
#: History budget of a sweep's Trainer: only the final row matters (3 rows minimum).
SWEEP_HISTORY_MB = 0.01
#: While configurations finish, the file is saved again only once the time since the last save is
#: at least this many times what that save took: each save rewrites the whole file, so saving after
#: every one of N quick configurations cost O(N^2) (100 configurations 11 s, 400: 97 s); this way
#: saving costs at most the training time / SAVE_TIME_FACTOR plus two saves of the whole file
#: (linear in N), and a sweep whose configurations take longer than its saves (any real one)
#: still saves after each. The end of a run, a cancel or an error saves what is not saved yet.
SAVE_TIME_FACTOR = 9.0
#: z of a two-sided 95% interval.
Z95 = 1.959963984540054

# ----------------------------------------------------------------------------
# grids: the keys are the schema's sweepable options (model.config.grid_options)

def _grid_keys() -> dict[str, Option]:
    """{key: Option} of the options a grid may vary, with their aliases (wd, optimiser, t)."""
    opts = grid_options(TrainConfig)
    keys = dict(opts)
    for opt in opts.values():
        for alias in opt.aliases:
            keys.setdefault(alias, opt)
    return keys


def _grid_key(raw: str, keys: dict[str, Option]) -> Option | None:
    return keys.get(raw.strip().lower().replace("-", "_"))


def _parse_value(opt: Option, text: str):
    """One grid value of ``opt``: its type, its choices (sweep_choices when it has them)
    and its range, as the schema gives them."""
    key, t = opt.name, text.strip()
    if opt.kind == "choice":
        allowed = opt.sweep_choices or opt.choices
        if t.lower() not in allowed:
            raise ConfigError("grid", f"{key} values must be one of {', '.join(allowed)}; got {text!r}")
        return t.lower()
    if opt.kind == "bool":
        if t.lower() not in ("true", "false"):
            raise ConfigError("grid", f"{key} values must be true or false, got {text!r}")
        return t.lower() == "true"
    try:
        v = float(t)
    except ValueError:
        what = "whole numbers" if opt.kind == "int" else "numbers"
        raise ConfigError("grid", f"{key} values must be {what}, got {text!r}") from None
    if opt.kind == "int":
        if not v.is_integer():
            raise ConfigError("grid", f"{key} values must be whole numbers, got {text!r}")
        v = int(v)
    elif not math.isfinite(v):
        raise ConfigError("grid", f"{key} values must be finite numbers, got {text!r}")
    why = opt.range_problem(v)
    if why is not None:
        raise ConfigError("grid", f"{key}={t}: {why}")
    return v


def parse_grid(specs: Sequence[str] | None) -> dict[str, list]:
    """["n=6,7,8", "lr=1e-3,3e-3"] -> {"n": [6, 7, 8], "lr": [0.001, 0.003]} (key order kept).

    Several pairs may also share one string, separated by spaces or ';'.
    """
    grid: dict[str, list] = {}
    keys = _grid_keys()
    names = ", ".join(grid_options(TrainConfig))
    for spec in specs or []:
        if not str(spec).replace(";", " ").split():
            raise ConfigError("grid", f"expected key=v1,v2,... got {spec!r} (keys: {names})")
        for part in str(spec).replace(";", " ").split():
            if "=" not in part:
                raise ConfigError("grid", f"expected key=v1,v2,... got {part!r} (keys: {names})")
            raw_key, raw_vals = part.split("=", 1)
            opt = _grid_key(raw_key, keys)
            if opt is None:
                raise ConfigError("grid", f"unknown key {raw_key.strip()!r} in {part!r}; allowed keys: {names}")
            key = opt.name
            if key in grid:
                raise ConfigError("grid", f"key {key!r} is given twice")
            vals = [v for v in raw_vals.split(",") if v.strip()]
            if not vals:
                raise ConfigError("grid", f"{key} has no values in {part!r}")
            parsed = [_parse_value(opt, v) for v in vals]
            dedup = []
            for v in parsed:
                if v not in dedup:
                    dedup.append(v)
            grid[key] = dedup
    return grid


def grid_label(values: dict[str, object]) -> str:
    """{"n": 8, "lr": 0.001} -> 'n=8 lr=0.001' ('base' when empty)."""
    if not values:
        return "base"
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


#: The most configurations a grid may have: each is a batched training and a group of the file
#: (a 10^6 grid took 45 s and 740 MB before its first step). 10,000 quick ones take hours.
MAX_GRID_CONFIGS = 10_000


def expand_grid(base: TrainConfig,
                grid: dict[str, list] | None = None) -> list[tuple[dict[str, object], TrainConfig]]:
    """[(values dict, validated TrainConfig)] for the cartesian product of the grid over base;
    ConfigError("grid") for a product of more than MAX_GRID_CONFIGS, before any is built."""
    grid = grid or {}
    keys = list(grid)
    total = math.prod(len(grid[k]) for k in keys)
    if total > MAX_GRID_CONFIGS:
        sizes = " x ".join(f"{len(grid[k])} {k}" for k in keys)
        raise ConfigError("grid", f"has {total:,} configurations ({sizes}); at most {MAX_GRID_CONFIGS:,}")
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        values = dict(zip(keys, combo, strict=True))
        cfg = base.replace(**values)
        try:
            cfg.validate()
        except ConfigError as exc:  # each bad field, named as the grid's or as the base's
            where = grid_label(values)
            raise ConfigError("", errors=[("grid", f"{where}: {f}: {m}") if f in values else
                                          (f, f"{m} (in grid configuration {where})")
                                          for f, m in exc.errors]) from None
        out.append((values, cfg))
    return out


# ----------------------------------------------------------------------------
# statistics

def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes out of n: (low, high); (0, 1) when n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if k <= 0 else max(0.0, centre - half)  # exact ends: no 1e-18 round-off
    hi = 1.0 if k >= n else min(1.0, centre + half)
    return lo, hi


def loss_histogram(losses: np.ndarray, verdicts: Sequence[str] | np.ndarray, bins: int = 40,
                   floor: float = 1e-12) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Histogram of log10(final loss), stacked by verdict.

    Returns (edges (bins+1,) in log10 units, {verdict: counts (bins,)}). Losses
    below ``floor`` are counted in the first bin; non-finite ones are left out.
    """
    losses = np.asarray(losses, dtype=np.float64)
    verdicts = np.asarray(verdicts, dtype=object)
    ok = np.isfinite(losses)
    x = np.log10(np.maximum(losses[ok], floor))
    if x.size == 0:
        edges = np.linspace(-1, 0, bins + 1)
    else:
        lo, hi = float(x.min()), float(x.max())
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
    out = {}
    vs = verdicts[ok]
    for v in SWEEP_VERDICTS:
        sel = vs == v
        if sel.any():
            out[v] = np.histogram(x[sel], bins=edges)[0]
    return edges, out


# ----------------------------------------------------------------------------
# results

@dataclass
class SweepEntry:
    """One configuration of a sweep: K models, their final parameters and verdicts."""

    config: TrainConfig  # models = K, seed = s: model k is the single run with seed s + k
    grid: dict[str, object]
    W: np.ndarray  # (K, m, n) float32
    b: np.ndarray  # (K, n) float32
    loss: np.ndarray  # (K,) float32, the recorded loss at `step` (NaN when diverged)
    verdicts: np.ndarray  # (K,) object: names from SWEEP_VERDICTS
    halted: np.ndarray  # (K,) int64, -1 = ran to the end
    step: int
    M: np.ndarray | None = None
    #: (K,) int32 bit masks: bit i set when model k has finding FINDING_KINDS[i]
    #: (None for sweeps saved before findings existed)
    findings: np.ndarray | None = None
    #: (K,) int32 bit masks of the failure modes (bit i = FAILURE_MODES[i]; None for older sweeps)
    modes: np.ndarray | None = None
    #: The verdict grid (Tracer): its steps (G,), and at each every model's verdict (G, K) object, finding mask
    #: (G, K) int32 (without separability) and outcome (G, K) int8 (OUTCOMES codes). None for older sweeps.
    trace_steps: np.ndarray | None = None
    trace_verdicts: np.ndarray | None = None
    trace_findings: np.ndarray | None = None
    trace_outcomes: np.ndarray | None = None
    #: Each model's outcome at ``step`` (K,) int8 (OUTCOMES codes), what decided it (REASONS codes) and the
    #: evidence arrays of model.analysis.outcome.OutcomeBatch.ev (None for older sweeps)
    outcome: np.ndarray | None = None
    outcome_reason: np.ndarray | None = None
    outcome_ev: dict[str, np.ndarray] | None = None

    @property
    def K(self) -> int:
        return int(self.W.shape[0])

    @property
    def label(self) -> str:
        return grid_label(self.grid)

    @property
    def seeds(self) -> np.ndarray:
        return self.config.seed + np.arange(self.K, dtype=np.int64)

    def counts(self) -> dict[str, int]:
        """{verdict: count} for every verdict seen, in SWEEP_VERDICTS order."""
        out = {}
        for v in SWEEP_VERDICTS:
            c = int(np.sum(self.verdicts == v))
            if c:
                out[v] = c
        return out

    def rates(self) -> dict[str, dict]:
        """{verdict: {"count", "rate", "ci95": [low, high]}} (Wilson 95%) for every verdict seen."""
        K = self.K
        out = {}
        for v, c in self.counts().items():
            lo, hi = wilson_interval(c, K)
            out[v] = {"count": c, "rate": c / K, "ci95": [lo, hi]}
        return out

    def has_finding(self, kind: str) -> np.ndarray:
        """(K,) bool: the models with a finding of this kind (all False when not recorded)."""
        if self.findings is None or kind not in FINDING_KINDS:
            return np.zeros(self.K, dtype=bool)
        return (np.asarray(self.findings, np.int64) >> FINDING_KINDS.index(kind)) & 1 == 1

    def finding_rates(self) -> dict[str, dict]:
        """{finding: {"count", "rate", "ci95"}} (Wilson 95%) for every finding seen, FINDING_KINDS order."""
        out: dict[str, dict] = {}
        if self.findings is None:
            return out
        for kind in FINDING_KINDS:
            c = int(np.sum(self.has_finding(kind)))
            if c:
                lo, hi = wilson_interval(c, self.K)
                out[kind] = {"count": c, "rate": c / self.K, "ci95": [lo, hi]}
        return out

    # ------------------------------------------------------------------ outcomes
    @property
    def outcomes(self) -> np.ndarray | None:
        """(K,) object: each model's outcome at ``step`` (settled, stuck, moving), or None when not recorded."""
        return None if self.outcome is None else np.array(OUTCOMES, dtype=object)[self.outcome]

    def outcome_batch(self) -> OutcomeBatch | None:
        """The stored outcomes as a model.analysis.outcome.OutcomeBatch (for their words and evidence), or None."""
        if self.outcome is None:
            return None
        assert self.outcome_reason is not None, "outcome and outcome_reason are recorded and read together"
        return OutcomeBatch(int(self.step), np.asarray(self.verdicts, dtype=object), self.outcome,
                            self.outcome_reason, dict(self.outcome_ev or {}))

    def outcome_rates(self) -> dict[str, dict]:
        """Rates that mean something: {name: {"count", "rate", "ci95"}} (Wilson 95%, over all K models) for each
        outcome, and for the failures by outcome ("failure_stuck", "failure_moving": a failure that will stay,
        one still changing)."""
        out: dict[str, dict] = {}
        kinds = self.outcomes
        if kinds is None:
            return out
        fail = self.verdicts != "perfect"
        groups = [(o, kinds == o) for o in OUTCOMES] + [("failure_stuck", fail & (kinds == "stuck")),
                                                        ("failure_moving", fail & (kinds == "moving"))]
        for name, sel in groups:
            c = int(np.sum(sel))
            lo, hi = wilson_interval(c, self.K)
            out[name] = {"count": c, "rate": c / self.K if self.K else 0.0, "ci95": [lo, hi]}
        return out

    def failure_curve(self) -> list[dict]:
        """The failure rate against training length: at each step of the verdict grid, the failures and the stuck
        failures among the K models, with Wilson 95% intervals (empty when not recorded)."""
        if self.trace_steps is None:
            return []
        verdicts, outcomes = self.trace_verdicts, self.trace_outcomes
        assert verdicts is not None and outcomes is not None, "the trace's arrays are recorded and read together"
        out = []
        stuck_code = OUTCOMES.index("stuck")
        for g, step in enumerate(self.trace_steps):
            fail = verdicts[g] != "perfect"
            stuck = fail & (outcomes[g] == stuck_code)
            f, st = int(fail.sum()), int(stuck.sum())
            out.append({"step": int(step), "failures": f, "rate": f / self.K, "ci95": list(wilson_interval(f, self.K)),
                        "stuck": st, "stuck_rate": st / self.K, "stuck_ci95": list(wilson_interval(st, self.K))})
        return out

    def finding_combinations(self) -> dict[str, int]:
        """{"dead+merged": count, ...}: how many models hold each combination of failure modes, as
        Analysis.failure_key names it ("none" for a model with none), most common first. From the stored
        failure-mode masks; a sweep saved before them counts the finding kinds that are failure modes."""
        names: tuple[str, ...]
        if self.modes is not None:
            masks, names = np.asarray(self.modes, np.int64), FAILURE_MODES
        elif self.findings is not None:
            masks, names = np.asarray(self.findings, np.int64), FINDING_KINDS
        else:
            return {}
        keep = [i for i, k in enumerate(names) if k in FAILURE_MODES]
        sub = np.zeros(self.K, np.int64)
        for i in keep:
            sub |= ((masks >> i) & 1) << i
        vals, counts = np.unique(sub, return_counts=True)
        out = {}
        for v, c in sorted(zip(vals.tolist(), counts.tolist(), strict=True), key=lambda x: (-x[1], x[0])):
            out["+".join(sorted(names[i] for i in keep if (v >> i) & 1)) or "none"] = int(c)
        return out

    def finding_names(self, k: int) -> list[str]:
        """Model k's finding kinds."""
        if self.findings is None:
            return []
        m = int(self.findings[int(k)])
        return [x for i, x in enumerate(FINDING_KINDS) if (m >> i) & 1]

    def per_model(self) -> list[dict]:
        """Each model's seed, verdict, outcome (with what decided it, in words), findings and loss: one seed can
        be followed across two sweeps (model k of a configuration with seed s is the single run with seed s + k)."""
        kinds = self.outcomes
        batch = self.outcome_batch()
        out = []
        for k in range(self.K):
            loss = float(self.loss[k])
            d = {"model": k, "seed": int(self.config.seed + k), "verdict": str(self.verdicts[k]),
                 "outcome": None if kinds is None else str(kinds[k]),
                 "outcome_reason": None if batch is None else REASONS[int(batch.reason[k])],
                 "outcome_text": None if batch is None else batch.text(k),
                 "findings": self.finding_names(k), "loss": loss if math.isfinite(loss) else None}
            out.append(d)
        return out

    def failures(self) -> np.ndarray:
        """0-based indices of the models whose verdict is not perfect."""
        return np.nonzero(self.verdicts != "perfect")[0]

    def snapshot(self, k: int) -> Snapshot:
        k = int(k)
        if not 0 <= k < self.K:
            raise IndexError(f"model {k} out of range 0..{self.K - 1}")
        cfg = self.config
        return Snapshot(step=self.step, W=self.W[k], b=self.b[k], loss=float(self.loss[k]),
                        M=None if self.M is None else self.M[k],
                        importance=None if cfg.importance is None else cfg.importance_vector(), model=k)

    def single_run_config(self, k: int, history_budget_mb: float | None = None) -> TrainConfig:
        """The single run that reproduces model k (seed s + k), with its full history, on the
        path the sweep trained it with (alone the cost model could pick another, whose round-off,
        amplified near a saddle over a long run, can end in another arrangement)."""
        from ..training.paths import choose

        k = int(k)
        if not 0 <= k < self.K:
            raise IndexError(f"model {k} out of range 0..{self.K - 1}")
        return self.config.replace(
            models=1, seed=self.config.seed + k, backend=choose(self.config).name,
            history_budget_mb=TrainConfig().history_budget_mb if history_budget_mb is None else history_budget_mb,
        ).validate()

    def summary(self, per_model: bool = False) -> dict:
        """JSON-safe: label, grid, config, models, counts, rates (with Wilson 95% intervals), loss median, the
        outcomes (rates, failures by outcome, the failure rate against training length), the finding
        combinations, and with ``per_model`` each model's seed, verdict, outcome and findings."""
        d = self._summary_counts()
        orates = self.outcome_rates()
        d.update(step=int(self.step), outcome_counts={k: r["count"] for k, r in orates.items()},
                 outcome_rates={k: r["rate"] for k, r in orates.items()},
                 outcome_ci95={k: r["ci95"] for k, r in orates.items()},
                 failure_curve=self.failure_curve(), finding_combinations=self.finding_combinations())
        if per_model:
            d["per_model"] = self.per_model()
        return d

    def _summary_counts(self) -> dict:
        fin = self.loss[np.isfinite(self.loss)]
        return {
            "label": self.label,
            "grid": dict(self.grid),
            "config": self.config.to_dict(),
            "models": self.K,
            "counts": self.counts(),
            "rates": {v: r["rate"] for v, r in self.rates().items()},
            "ci95": {v: r["ci95"] for v, r in self.rates().items()},
            "failure_rate": float(np.mean(self.verdicts != "perfect")) if self.K else 0.0,
            "failure_ci95": list(wilson_interval(int(np.sum(self.verdicts != "perfect")), self.K)),
            "median_loss": float(np.median(fin)) if fin.size else None,
            # models with each finding (a model can have several), with Wilson 95% intervals
            "finding_counts": {k: r["count"] for k, r in self.finding_rates().items()},
            "finding_rates": {k: r["rate"] for k, r in self.finding_rates().items()},
            "finding_ci95": {k: r["ci95"] for k, r in self.finding_rates().items()},
        }


@dataclass
class Sweep:
    base: TrainConfig
    grid: dict[str, list]
    models: int
    entries: list[SweepEntry] = field(default_factory=list)
    cancelled: bool = False
    path: Path | None = None

    @property
    def planned(self) -> int:
        n = 1
        for v in self.grid.values():
            n *= len(v)
        return n

    def summary(self, per_model: bool = False) -> dict:
        return {"models": self.models, "grid": self.grid, "cancelled": self.cancelled,
                "configurations_done": len(self.entries), "configurations_planned": self.planned,
                "out": None if self.path is None else str(self.path),
                "configurations": [e.summary(per_model) for e in self.entries]}


@dataclass
class SweepProgress:
    index: int  # configuration (0-based)
    configs: int
    label: str
    phase: str  # "train" | "analyse" | "done"
    done: int  # steps (train) or models (analyse)
    total: int
    steps_per_s: float = 0.0
    traced_seconds: float = 0.0  # seconds this configuration's verdict-grid analyses took so far (train)


#: A sweep's analysis of one model (its verdict), seconds at n features: a fixed part and
#: parts linear and quadratic in n, fitted to trained models on a quiet 2-core machine
#: (benchmarks/bench_analysis.py and a sweep's own phases: n = 7, 100, 300, 1,000, 2,000 took
#: about 4, 7, 17, 100 and 200 ms). The time left rescales it by what the analyses measure.
ANALYSE_SECONDS, ANALYSE_PER_FEATURE, ANALYSE_PER_PAIR = 3e-3, 6e-5, 3e-8


def analysis_seconds(n: int) -> float:
    """The predicted seconds of one model's analysis in a sweep, at n features."""
    return ANALYSE_SECONDS + ANALYSE_PER_FEATURE * n + ANALYSE_PER_PAIR * n * n


#: A judgement of the verdict grid (the Tracer: the analysis of a half-trained model without its
#: extras, and model.analysis.outcome.judge), seconds a model at n features: a fixed part, a part
#: linear in n, and the crossings' extrapolation over three rows of the n x n pre-activations
#: (only up to outcome.CROSSING_MAX_N), fitted to judgements of 20 models in a sweep (n = 7, 100,
#: 1,000: about 1.3, 5 and 220 ms a model, 150 of those 220 in the crossings).
JUDGE_SECONDS, JUDGE_PER_FEATURE, JUDGE_PER_CROSSING = 1e-3, 3e-5, 1.6e-7


def judge_seconds(n: int) -> float:
    """The predicted seconds of one model's judgement at a step of the verdict grid, at n features."""
    from ..analysis.outcome import CROSSING_MAX_N

    return JUDGE_SECONDS + JUDGE_PER_FEATURE * n + (JUDGE_PER_CROSSING * n * n if n <= CROSSING_MAX_N else 0.0)


class SweepClock:
    """Share done and time left of a sweep, from its progress reports. Each configuration
    costs three kinds of work: its steps at the cost model's step (model.training.paths), the
    verdict grid's analyses while it trains (the Tracer judges every model at each step of
    ``engine.decide_grid``) and its models' analysis at the end (``analysis_seconds``). Each
    kind is rescaled by what that kind took so far on this machine (its measured seconds over
    its predicted seconds), because the cost model's errors differ by kind: the steps are
    fitted to measured steps of each path, the analyses to a few finished models, and a
    half-trained model at n = 1,000 took twice a finished one's analysis. One factor for
    training and analysis was off by up to 2x in tests/model/test_time_left.py's sweep.

    The grid's analyses are lumps at their steps, not spread over the steps: between two
    grid steps at n = 1,000 a sweep trains for tens of seconds and then judges for several,
    and spreading them made the time left swing from right after a judgement to 30% low
    before the next. The runner's reports carry the seconds its judgements took
    (``SweepProgress.traced_seconds``), so training and judging are timed apart. A kind not
    yet timed takes another's factor (the grid's analyses the final analyses', then
    training's). The command line's bar and the Experiments window both read it; the
    reports are the runner's ``SweepProgress``, taken at any rate (a phase is timed from
    its first report)."""

    KINDS: ClassVar[tuple[str, ...]] = ("train", "trace", "analyse")
    #: whose factor a kind not yet timed borrows, in order
    BORROW: ClassVar[dict[str, tuple[str, str]]] = {"train": ("trace", "analyse"), "trace": ("analyse", "train"), "analyse": ("trace", "train")}

    def __init__(self, train: Sequence[float], analyse: Sequence[float], start: float | None = None,
                 traces: Sequence[tuple[float, Sequence[int], int]] | None = None):
        """``train``, ``analyse``: each configuration's predicted seconds of training (its steps)
        and of its final analysis; ``traces``: each configuration's grid analyses, (seconds of
        one judgement of all its models, the steps judged, the configuration's steps); None:
        none (``from_plan`` costs a runner's plan)."""
        traces = traces if traces is not None else [(0.0, (), 1)] * len(train)
        self._grid = [(float(sec), sorted(int(g) for g in grid), max(1, int(steps))) for sec, grid, steps in traces]
        self.predicted = {"train": [float(t) for t in train],
                          "trace": [sec * len(grid) for sec, grid, _ in self._grid],
                          "analyse": [float(a) for a in analyse]}
        self.total = sum(map(sum, self.predicted.values()))
        self.start = time.perf_counter() if start is None else float(start)
        self._phase: tuple[int, str] | None = None  # the phase of the latest report
        self._last = (0, 0.0, self.start)  # its work done (steps or models), its traced seconds, its time
        self._spent = dict.fromkeys(self.KINDS, 0.0)  # seconds measured between reports of one phase, by kind
        self._done = dict.fromkeys(self.KINDS, 0.0)  # the predicted seconds of that work
        self._judged: list[float] = []  # each timed stretch of judgements over its predicted seconds
        self._shown = 0.0

    @classmethod
    def from_plan(cls, plan: Sequence[tuple[dict, TrainConfig]], threads: int | None = None,
                  start: float | None = None) -> SweepClock:
        """The clock of a runner's plan trained on ``threads`` (None: every core): steps at the
        cost model's step over the threads its path keeps busy, the grid's analyses and the
        models' final analyses (one thread). Without the threads a sweep of n = 7 (lanes: one
        block of models, one thread) then n = 1,000 (fused: both cores) took its first factor
        to the second, 2x wrong."""
        from ..training import paths
        from ..training.engine import decide_grid

        train, traces = [], []
        for _, cfg in plan:
            choice = paths.choose(cfg)
            train.append(cfg.steps * choice.step_seconds / paths.threads_busy(cfg, choice.name, threads))
            traces.append((cfg.models * judge_seconds(cfg.n), [g for g in decide_grid(cfg.steps) if g >= 1],
                           cfg.steps))
        return cls(train, [cfg.models * analysis_seconds(cfg.n) for _, cfg in plan], start, traces)

    def _work(self, i: int, phase: str, done: float, total: int) -> dict[str, float]:
        """The predicted seconds, by kind, of configuration ``i``'s phase up to ``done`` of ``total``
        (steps or models): in training, the steps and the grid steps judged by then (a grid
        step is judged before the report that reaches it)."""
        f = min(1.0, max(0.0, done / max(total, 1)))
        if phase != "train":
            return {"analyse": f * self.predicted["analyse"][i]}
        sec, grid, steps = self._grid[i]
        step = f * steps
        return {"train": f * self.predicted["train"][i], "trace": sec * sum(1 for g in grid if g <= step)}

    def _observe(self, p: SweepProgress, now: float) -> None:
        """Note report ``p`` at ``now``. The time between two reports of one phase, against the
        predicted seconds of the work between them, is what the factors count (the grid's
        judgements by the seconds the report says they took); the time between phases is
        left out: it holds what the cost model does not cost (a process's first kernels
        loaded, a trainer built), which would make a configuration of a few milliseconds
        look 30x slow and its factor, applied to the long ones after it, a time left many
        times too long."""
        key = (p.index, p.phase)
        traced = float(p.traced_seconds)
        if key != self._phase:
            self._phase, self._last = key, (p.done, traced, now)
            return
        last_done, last_traced, last_t = self._last
        if p.done > last_done and now > last_t:  # a report with no new work (asked twice) moves nothing
            before = self._work(p.index, p.phase, last_done, p.total)
            after = self._work(p.index, p.phase, p.done, p.total)
            judged = min(max(0.0, traced - last_traced), now - last_t)
            if p.phase == "train":
                self._spent["train"] += now - last_t - judged
                self._spent["trace"] += judged
                predicted = after["trace"] - before["trace"]
                if judged > 0 and predicted > 0:
                    self._judged.append(judged / predicted)
            else:
                self._spent["analyse"] += now - last_t
            for kind, sec in after.items():
                self._done[kind] += sec - before[kind]
            self._last = (p.done, traced, now)

    def _factors(self) -> dict[str, float] | None:
        """Each kind's seconds measured over its predicted seconds (a kind not yet timed borrows
        another's: ``BORROW``); None before any kind was timed. The grid's judgements take the
        median of their own: a judgement's cost depends on its models (the local-optimum check
        runs only when some look stuck, and took 5 s at n = 100 where the others took 0.1)."""
        own = {k: self._spent[k] / self._done[k] if self._done[k] > 0 and self._spent[k] > 0 else None
               for k in self.KINDS}
        if self._judged:  # the median judgement: one that ran the local check (seconds where most take
            own["trace"] = float(np.median(self._judged))  # a tenth) must not scale all the others
        out = {}
        for k in self.KINDS:
            f = own[k]
            for other in self.BORROW[k]:
                f = own[other] if f is None else f
            if f is None:
                return None
            out[k] = f
        return out

    def seconds_left(self, p: SweepProgress, now: float | None = None) -> float | None:
        """Estimated seconds to the end of the sweep; None before any work was timed."""
        if p.phase == "done":
            return 0.0
        now = time.perf_counter() if now is None else now
        self._observe(p, now)
        fac = self._factors()
        if fac is None:
            return None
        i = p.index
        done = self._work(i, p.phase, p.done, p.total)
        left = sum((self.predicted[k][i] - sec) * fac[k] for k, sec in done.items())
        if p.phase == "train":
            left += self.predicted["analyse"][i] * fac["analyse"]
        for kind in self.KINDS:
            left += sum(self.predicted[kind][i + 1:]) * fac[kind]
        return float(left)

    def fraction(self, p: SweepProgress, now: float | None = None) -> float:
        """The share of the sweep done at report ``p``: the time spent over the time spent and
        left (the predicted share before anything is timed); never less than it said before."""
        if p.phase == "done":
            return 1.0
        now = time.perf_counter() if now is None else now
        left = self.seconds_left(p, now)
        if left is not None and now - self.start + left > 0:
            share = (now - self.start) / (now - self.start + left)
        else:
            i = p.index
            done = sum(sum(self.predicted[k][:i]) for k in self.KINDS)
            done += sum(self._work(i, p.phase, p.done, p.total).values())
            if p.phase == "analyse":
                done += self.predicted["train"][i] + self.predicted["trace"][i]
            share = done / self.total if self.total > 0 else 0.0
        self._shown = max(self._shown, min(1.0, share))
        return self._shown


# ----------------------------------------------------------------------------
# running

def finding_mask(kinds: Iterable[str]) -> int:
    """Bit mask of finding kinds (bit i = FINDING_KINDS[i])."""
    m = 0
    for k in kinds:
        m |= 1 << FINDING_KINDS.index(k)
    return m


def _verdict_of(snap: Snapshot, onehot: bool):
    """(verdict, finding bit mask, failure-mode bit mask) of one model."""
    a = analyze(snap, onehot=onehot)
    return a.verdict, finding_mask(a.finding_kinds), mode_mask(a.failure_modes)


def mode_mask(modes: Iterable[str]) -> int:
    """Bit mask of failure modes (bit i = FAILURE_MODES[i]): what Analysis.failure_key joins."""
    m = 0
    for k in modes:
        if k in FAILURE_MODES:
            m |= 1 << FAILURE_MODES.index(k)
    return m


def memory_estimate(cfg: TrainConfig) -> int:
    """Peak bytes to train one configuration's K models at once and analyse them: the
    engine's estimate (model.training.engine.memory_estimate) with the sweep's tiny history."""
    return engine_memory_estimate(cfg.replace(history_budget_mb=SWEEP_HISTORY_MB))


def check_memory(plan: Sequence[tuple[dict[str, object], TrainConfig]], limit: int | None = None) -> None:
    """ConfigError naming the first configuration of ``plan`` ([(values, cfg)]) that would
    not fit in ``limit`` bytes (default: the share of the memory available now that a
    sweep may plan for), with the estimate (model.training.engine.check_memory)."""
    for values, cfg in plan:
        engine_check_memory(cfg.replace(history_budget_mb=SWEEP_HISTORY_MB), limit,
                            f" ({grid_label(values)})" if values else "")


class Tracer:
    """What a sweep records while its models train (Trainer.run's on_step, at ``at_steps``): every model's loss
    at each traced step, its parameters at the last few (the outcome's velocity window), and at every step of
    the verdict grid (engine.decide_grid: 1,024 and each half doubling, and the final step) every model's
    verdict, findings and outcome (model.analysis.outcome.judge). With ``until_decided`` it stops the run once every
    model is settled or stuck. Only K numbers a traced step and K models' parameters at three steps are kept,
    so the history a sweep's Trainer holds stays tiny."""

    def __init__(self, config: TrainConfig):
        from ..training.engine import decide_grid

        self.config = config
        self.grid = [g for g in decide_grid(config.steps) if g >= 1]
        pts = set()
        for g in self.grid:
            pts |= {g, int(round(g * 2.0 ** -(VELOCITY_SPAN / 2))), int(round(g * 2.0 ** -VELOCITY_SPAN)), g // 2}
        self.at_steps = sorted(x for x in pts if 0 < x <= config.steps)
        self.loss_steps: list[int] = []
        self.losses: list[np.ndarray] = []
        self.rows: list[tuple] = []  # (step, W, b, M), the last ROWS_KEPT traced
        self.steps: list[int] = []
        self.verdicts: list[np.ndarray] = []
        self.findings: list[np.ndarray] = []
        self.outcomes: list[np.ndarray] = []
        self.keys: dict[int, np.ndarray] = {}
        self.last: OutcomeBatch | None = None  # the OutcomeBatch at the latest grid step
        self.seconds = 0.0  # what the judgements took so far (the time left costs them apart from the steps)

    ROWS_KEPT = 8  # the velocity window of the current grid step lies among the last few traced steps

    def __call__(self, trainer: Trainer) -> bool:
        step, W, b, loss, M = trainer.history.row(-1)
        halted = trainer.history.halted
        loss = np.where((halted >= 0) & (halted <= step), np.nan, loss)
        self.loss_steps.append(int(step))
        self.losses.append(np.asarray(loss, np.float32))
        self.rows = (self.rows + [(int(step), W, b, M)])[-self.ROWS_KEPT:]
        if step not in self.grid:
            return False
        t0 = time.perf_counter()
        try:
            return self._judge(int(step), trainer.history, halted)
        finally:
            self.seconds += time.perf_counter() - t0

    def _judge(self, step: int, history: History, halted: np.ndarray) -> bool:
        from ..analysis.outcome import Rows, diagnosis_code, judge

        cfg = self.config
        K = cfg.models
        analyses = [analyze(history.snapshot(model=k), onehot=cfg.onehot, extras=False) for k in range(K)]
        diverged = (halted >= 0) & (halted <= step)
        codes = np.array([diagnosis_code(a) for a in analyses], dtype=np.int64)
        i = self.grid.index(step)
        before = [self.keys[self.grid[j]] for j in (i - 2, i - 1) if j >= 0] if i >= 2 else None
        rows = Rows(np.array([r[0] for r in self.rows], np.int64), np.stack([r[1] for r in self.rows]),
                    np.stack([r[2] for r in self.rows]), None if self.rows[0][3] is None else
                    np.stack([r[3] for r in self.rows]))
        out = judge(cfg, step, np.array(self.loss_steps), np.stack(self.losses), rows, analyses, before,
                    diverged=diverged)
        self.keys[step] = codes
        self.steps.append(step)
        verdicts = np.array([DIVERGED if d else a.verdict for a, d in zip(analyses, diverged, strict=True)], dtype=object)
        self.verdicts.append(verdicts)
        self.findings.append(np.array([finding_mask(a.finding_kinds) for a in analyses], dtype=np.int32))
        self.outcomes.append(out.kind.copy())
        self.last = out
        return bool(cfg.until_decided and out.decided().all())

    def fill(self, entry: SweepEntry) -> None:
        """Put the trace and the final outcome into ``entry`` (its step must be the last grid step traced)."""
        if not self.steps or self.steps[-1] != entry.step:
            return
        last = self.last
        assert last is not None, "a traced grid step (self.steps) always sets self.last in __call__"
        entry.trace_steps = np.array(self.steps, np.int64)
        entry.trace_verdicts = np.stack(self.verdicts)
        entry.trace_findings = np.stack(self.findings)
        entry.trace_outcomes = np.stack(self.outcomes).astype(np.int8)
        entry.outcome = last.kind.astype(np.int8)
        entry.outcome_reason = last.reason.astype(np.int8)
        entry.outcome_ev = {k: np.asarray(v) for k, v in last.ev.items()}


class SweepRunner(TrainingQueue):
    """Train the configurations of a sweep one after another, each as one batched run.

    Thread-safe ``request_cancel``; ``run`` is meant for a worker thread (the
    CLI calls it directly). ``out``: the sweep file, saved after every
    completed configuration (atomically).
    """

    def __init__(self, base: TrainConfig, grid: dict[str, list] | None = None, models: int | None = None,
                 out: str | Path | None = None, threads: int | None = None, overwrite: bool = False):
        base = base.replace(models=int(models if models is not None else base.models))
        base.validate()
        if base.init == "run":
            raise ConfigError("init", "a sweep trains fresh models: use xavier or analytic, not run")
        self.base = base
        self.grid = dict(grid or {})
        self.plan = expand_grid(base, self.grid)  # validated up front: nothing trains on a bad grid
        check_memory(self.plan)  # and nothing starts that would run out of memory part-way
        super().__init__(threads)
        self.out = None if out is None else Path(out)
        self.overwrite = overwrite
        self.sweep = Sweep(base=base, grid=self.grid, models=base.models, path=None)  # set once saved
        self._saved_at, self._save_took, self.unsaved = 0.0, 0.0, False
        if self.out is not None:
            check_writable(self.out, overwrite, SWEEP_FORMAT)

    def run(self, progress: Callable[[SweepProgress], None] | None = None) -> Sweep:
        try:
            return self._run(progress)
        except BaseException:
            self.save_unsaved()  # what finished is kept, as after a cancel
            raise

    def _run(self, progress: Callable[[SweepProgress], None] | None = None) -> Sweep:
        total = len(self.plan)
        for i, (values, cfg) in enumerate(self.plan):
            if self._cancel.is_set():
                break
            label = grid_label(values)

            tracer = Tracer(cfg)

            def on_progress(p, i=i, label=label, tracer=tracer):
                if progress is not None:
                    progress(SweepProgress(i, total, label, "train", p.step, p.total, p.steps_per_s,
                                           tracer.seconds))

            trainer = self._train(cfg.replace(history_budget_mb=SWEEP_HISTORY_MB), on_progress,
                                  at_steps=tracer.at_steps, on_step=tracer)
            finished = trainer.step >= cfg.steps or trainer.decided_at is not None or (trainer.halted >= 0).all()
            if self._cancel.is_set() or not finished:
                break
            entry = self._collect(values, cfg, trainer, i, total, label, progress)
            if entry is not None:
                tracer.fill(entry)
            if entry is None:
                break
            self.sweep.entries.append(entry)
            self.save_progress()
        self.sweep.cancelled = self._cancel.is_set() or len(self.sweep.entries) < total
        if self.sweep.cancelled and self.sweep.entries:
            self.save()  # records the cancel; with nothing finished nothing is written
        self.save_unsaved()
        if progress is not None:
            progress(SweepProgress(len(self.sweep.entries), total, "", "done", len(self.sweep.entries), total))
        return self.sweep

    def save(self) -> None:
        """Save the sweep to ``out``: the first save may replace an existing file only with
        ``overwrite``; later ones replace the file this runner wrote."""
        if self.out is not None:
            t0 = time.monotonic()
            self.unsaved = True
            save_sweep(self.out, self.sweep, replace=self.overwrite or self.sweep.path is not None)
            self.unsaved = False
            self._saved_at = time.monotonic()
            self._save_took = self._saved_at - t0

    def save_progress(self) -> None:
        """After a configuration finished: save now (the first one, or when SAVE_TIME_FACTOR times
        the last save's time has passed since), else mark the sweep ``unsaved``."""
        if self.out is None:
            return
        if self.sweep.path is not None and time.monotonic() - self._saved_at < SAVE_TIME_FACTOR * self._save_took:
            self.unsaved = True
            return
        self.save()

    def save_unsaved(self) -> None:
        """Save what finished since the last save (at the end, a cancel or an error); a save that
        fails here is not raised over the error that ended the run."""
        if self.unsaved and self.sweep.entries:
            try:
                self.save()
            except RunFileError:
                pass

    def _collect(self, values, cfg, trainer, i, total, label, progress) -> SweepEntry | None:
        h = trainer.history
        step, W, b, loss, M = h.row(len(h) - 1)
        halted = h.halted
        K = cfg.models
        onehot = cfg.onehot
        imp = None if cfg.importance is None else cfg.importance_vector()
        verdicts = np.empty(K, dtype=object)
        findings = np.zeros(K, dtype=np.int32)
        modes = np.zeros(K, dtype=np.int32)
        t_last = 0.0
        for k in range(K):
            if k % 256 == 0 and self._cancel.is_set():
                return None
            if halted[k] >= 0:
                s = h.snapshot(model=k)  # its last finite snapshot
                W[k], b[k], loss[k] = s.W, s.b, np.nan
                if M is not None:
                    M[k] = s.M
                verdicts[k] = DIVERGED
                continue
            snap = Snapshot(step=step, W=W[k], b=b[k], loss=float(loss[k]), M=None if M is None else M[k],
                            importance=imp, model=k)
            verdicts[k], findings[k], modes[k] = _verdict_of(snap, onehot)
            now = time.perf_counter()
            if progress is not None and (now - t_last > 0.1 or k == K - 1):
                t_last = now
                progress(SweepProgress(i, total, label, "analyse", k + 1, K))
        return SweepEntry(config=cfg, grid=dict(values), W=W, b=b, loss=loss, verdicts=verdicts,
                          halted=halted, step=int(step), M=M, findings=findings, modes=modes)


def run_sweep(base: TrainConfig, grid: dict[str, list] | None = None, models: int | None = None,
              out: str | Path | None = None, progress: Callable[[SweepProgress], None] | None = None,
              threads: int | None = None) -> Sweep:
    """Convenience: build a SweepRunner and run it to the end."""
    return SweepRunner(base, grid, models, out=out, threads=threads).run(progress)


# ----------------------------------------------------------------------------
# an entry as plain arrays (a cluster task's result: JSON meta and npz arrays, no pickle)

def entry_arrays(e: SweepEntry) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) of one configuration's results, every array numeric; entry_from_arrays reads them back."""
    code = {v: i for i, v in enumerate(SWEEP_VERDICTS)}
    arrays = {"W": e.W, "b": e.b, "loss": e.loss, "halted": e.halted,
              "verdict": np.array([code[v] for v in e.verdicts], np.int16)}
    for name in ("findings", "modes", "M", "trace_steps", "trace_findings", "trace_outcomes", "outcome",
                 "outcome_reason"):
        if getattr(e, name) is not None:
            arrays[name] = np.asarray(getattr(e, name))
    if e.trace_verdicts is not None:
        arrays["trace_verdicts"] = np.array([[code[v] for v in row] for row in e.trace_verdicts], np.int16)
    for name, a in (e.outcome_ev or {}).items():
        arrays["ev_" + name] = np.asarray(a)
    return {"step": int(e.step), "verdict_names": list(SWEEP_VERDICTS)}, arrays


def entry_from_arrays(config: TrainConfig, values: dict[str, object], meta: dict,
                      a: dict[str, np.ndarray]) -> SweepEntry:
    names = np.array(meta["verdict_names"], dtype=object)
    e = SweepEntry(config=config, grid=dict(values), W=a["W"], b=a["b"], loss=a["loss"], verdicts=names[a["verdict"]],
                   halted=a["halted"], step=int(meta["step"]), M=a.get("M"), findings=a.get("findings"),
                   modes=a.get("modes"))
    for name in ("trace_steps", "trace_findings", "trace_outcomes", "outcome", "outcome_reason"):
        setattr(e, name, a.get(name))
    if "trace_verdicts" in a:
        e.trace_verdicts = names[a["trace_verdicts"]]
    ev = {k[3:]: v for k, v in a.items() if k.startswith("ev_")}
    e.outcome_ev = _complete_ev(ev, e.K) if e.outcome is not None else None
    return e


# ----------------------------------------------------------------------------
# files

def default_sweep_path(base: TrainConfig, models: int) -> Path:
    """A new, timestamped sweep file name beside the autosaved runs."""
    return autosave_path(base, "sweep", models)


def save_sweep(path: str | Path, sweep: Sweep, replace: bool = False) -> Path:
    """Write the sweep to ``path`` atomically (h5io.write_h5); an existing file is
    replaced only with ``replace``."""
    path = Path(path)
    with write_h5(path, SWEEP_FORMAT, SWEEP_FORMAT_VERSION, replace=replace) as f:
        f.attrs["base"] = sweep.base.to_json()
        f.attrs["grid"] = json.dumps(sweep.grid)
        f.attrs["models"] = int(sweep.models)
        f.attrs["cancelled"] = bool(sweep.cancelled)
        f.attrs["verdict_names"] = json.dumps(list(SWEEP_VERDICTS))
        f.attrs["finding_names"] = json.dumps(list(FINDING_KINDS))
        f.attrs["outcome_names"] = json.dumps(list(OUTCOMES))
        f.attrs["mode_names"] = json.dumps(list(FAILURE_MODES))
        f.attrs["outcome_reasons"] = json.dumps(list(REASONS))
        g = f.create_group("configs")
        code = {v: i for i, v in enumerate(SWEEP_VERDICTS)}
        for i, e in enumerate(sweep.entries):
            c = g.create_group(f"c{i:04d}")
            c.attrs["config"] = e.config.to_json()
            c.attrs["grid"] = json.dumps(e.grid)
            c.attrs["label"] = e.label
            c.attrs["step"] = int(e.step)
            c.create_dataset("seeds", data=e.seeds)
            c.create_dataset("W", data=np.asarray(e.W, np.float32))
            c.create_dataset("b", data=np.asarray(e.b, np.float32))
            c.create_dataset("loss", data=np.asarray(e.loss, np.float32))
            c.create_dataset("verdict", data=np.array([code[v] for v in e.verdicts], dtype=np.int16))
            c.create_dataset("halted", data=np.asarray(e.halted, np.int64))
            if e.findings is not None:
                c.create_dataset("findings", data=np.asarray(e.findings, np.int32))
            if e.M is not None:
                c.create_dataset("M", data=np.asarray(e.M, np.float32))
            _save_outcomes(c, e, code)
    sweep.path = path
    return path


def _save_outcomes(c, e: SweepEntry, code: dict[str, int]) -> None:
    """The failure-mode masks (modes), the trace (trace/steps, verdict, findings, outcome) and the final outcomes (outcome/kind, reason and
    each evidence array as outcome/ev_NAME) of one configuration; the names' lists are the file's attributes."""
    if e.modes is not None:
        c.create_dataset("modes", data=np.asarray(e.modes, np.int32))
    if e.trace_steps is not None:
        verdicts = e.trace_verdicts
        assert verdicts is not None, "the trace's arrays are recorded and read together"
        t = c.create_group("trace")
        t.create_dataset("steps", data=np.asarray(e.trace_steps, np.int64))
        t.create_dataset("verdict", data=np.array([[code[v] for v in row] for row in verdicts], np.int16))
        t.create_dataset("findings", data=np.asarray(e.trace_findings, np.int32))
        t.create_dataset("outcome", data=np.asarray(e.trace_outcomes, np.int8))
    if e.outcome is not None:
        o = c.create_group("outcome")
        o.create_dataset("kind", data=np.asarray(e.outcome, np.int8))
        o.create_dataset("reason", data=np.asarray(e.outcome_reason, np.int8))
        for name, arr in (e.outcome_ev or {}).items():
            a = np.asarray(arr)
            o.create_dataset("ev_" + name, data=a.astype(np.float64) if a.dtype.kind == "f" else a.astype(np.int64))


def open_sweep(path: str | Path) -> Sweep:
    """Read a sweep file through the read guard (h5io.read_h5). Any problem is a
    RunFileError naming the file and its kind (one line)."""
    path = Path(path)
    return read_h5(path, lambda f: _read_sweep(f, path), fmt=SWEEP_FORMAT)


def _read_sweep(f, path: Path) -> Sweep:
    read_version(f, path, SWEEP_FORMAT, SWEEP_FORMAT_VERSION)
    base = TrainConfig.from_json(as_str(f.attrs["base"]))
    grid = json.loads(as_str(f.attrs["grid"]))
    names = json.loads(as_str(f.attrs["verdict_names"]))
    fnames = json.loads(as_str(f.attrs["finding_names"])) if "finding_names" in f.attrs else None
    if fnames is not None and (not isinstance(fnames, list) or not all(isinstance(x, str) for x in fnames)
                               or len(fnames) > 31):
        raise RunFileError(path, "finding_names is not a list of at most 31 names")
    models = int(np.asarray(f.attrs["models"]).reshape(()))
    sweep = Sweep(base=base, grid=grid, models=models, cancelled=bool(f.attrs.get("cancelled", False)), path=path)
    g = f["configs"]
    for key in sorted(g):
        c = g[key]
        cfg = TrainConfig.from_json(as_str(c.attrs["config"]))
        K, m, n = cfg.models, cfg.m, cfg.n
        for name in ("W", "b", "loss", "verdict", "halted"):
            if name not in c:
                raise RunFileError(path, f"configs/{key} has no '{name}' dataset")
        for name in ("W", "b", "loss", "M"):
            if name in c:
                check_real(c[name], path, f"configs/{key}/{name}")
        for name in ("verdict", "halted", "seeds", "findings"):
            if name in c:
                check_whole(c[name], path, f"configs/{key}/{name}")
        W = np.asarray(c["W"][()], np.float32)
        b = np.asarray(c["b"][()], np.float32)
        loss = np.asarray(c["loss"][()], np.float32)
        codes = np.asarray(c["verdict"][()], np.int64)
        halted = np.asarray(c["halted"][()], np.int64)
        want = {"W": (K, m, n), "b": (K, n), "loss": (K,), "verdict": (K,), "halted": (K,)}
        for name, arr in (("W", W), ("b", b), ("loss", loss), ("verdict", codes), ("halted", halted)):
            if arr.shape != want[name]:
                raise RunFileError(path, f"configs/{key}/{name} has shape {arr.shape}, but its config "
                                         f"(models={K}, m={m}, n={n}) needs {want[name]}")
        if codes.size and (codes.min() < 0 or codes.max() >= len(names)):
            raise RunFileError(path, f"configs/{key}/verdict has codes outside 0..{len(names) - 1}")
        M = np.asarray(c["M"][()], np.float32) if "M" in c else None
        if M is not None and M.shape != (K, n, m):
            raise RunFileError(path, f"configs/{key}/M has shape {M.shape}, but its config (models={K}, m={m}, "
                                     f"n={n}) needs {(K, n, m)}")
        verdicts = np.array([names[i] for i in codes], dtype=object)
        found = None
        if "findings" in c and fnames is not None:
            raw = np.asarray(c["findings"][()], np.int64)
            if raw.shape != (K,):
                raise RunFileError(path, f"configs/{key}/findings has shape {raw.shape}, needs ({K},)")
            found = _remap_findings(raw, fnames)
        e = SweepEntry(config=cfg, grid=json.loads(as_str(c.attrs["grid"])), W=W, b=b, loss=loss,
                       verdicts=verdicts, halted=halted, step=int(np.asarray(c.attrs["step"]).reshape(())), M=M,
                       findings=found)
        _read_outcomes(f, c, e, path, key, names, fnames)
        sweep.entries.append(e)
    return sweep


def _names(f, attr: str, path: Path, ours: Sequence[str]) -> list[str] | None:
    if attr not in f.attrs:
        return None
    got = json.loads(as_str(f.attrs[attr]))
    if not isinstance(got, list) or not all(isinstance(x, str) for x in got) or len(got) > 127:
        raise RunFileError(path, f"{attr} is not a list of at most 127 names")
    return got


def _read_outcomes(f, c, e: SweepEntry, path: Path, key: str, names: list[str], fnames) -> None:
    """The trace and the final outcomes of configuration ``key`` when the file has them, checked and
    re-mapped onto this version's names (a name this version does not know reads as "moving")."""
    K = e.K
    mnames = _names(f, "mode_names", path, FAILURE_MODES)
    if "modes" in c and mnames is not None:
        check_whole(c["modes"], path, f"configs/{key}/modes")
        raw = np.asarray(c["modes"][()], np.int64)
        if raw.shape != (K,):
            raise RunFileError(path, f"configs/{key}/modes has shape {raw.shape}, needs ({K},)")
        e.modes = np.zeros(K, np.int32)
        for bit, kind in enumerate(mnames):
            if kind in FAILURE_MODES:
                e.modes |= (((raw >> bit) & 1) << FAILURE_MODES.index(kind)).astype(np.int32)
    onames = _names(f, "outcome_names", path, OUTCOMES)
    rnames = _names(f, "outcome_reasons", path, REASONS)

    def remap(raw, table, ours, what):
        raw = np.asarray(raw, np.int64)
        if raw.size and (raw.min() < 0 or raw.max() >= len(table)):
            raise RunFileError(path, f"configs/{key}/{what} has codes outside 0..{len(table) - 1}")
        lut = np.array([ours.index(x) if x in ours else ours.index(ours[-1]) for x in table], np.int8)
        return lut[raw] if raw.size else raw.astype(np.int8)
    if "trace" in c and onames is not None:
        t = c["trace"]
        for name in ("steps", "verdict", "findings", "outcome"):
            if name not in t:
                raise RunFileError(path, f"configs/{key}/trace has no '{name}' dataset")
            check_whole(t[name], path, f"configs/{key}/trace/{name}")
        steps = np.asarray(t["steps"][()], np.int64)
        G = len(steps)
        arrs = {n: np.asarray(t[n][()], np.int64) for n in ("verdict", "findings", "outcome")}
        for n, a in arrs.items():
            if a.shape != (G, K):
                raise RunFileError(path, f"configs/{key}/trace/{n} has shape {a.shape}, needs {(G, K)}")
        codes = arrs["verdict"]
        if codes.size and (codes.min() < 0 or codes.max() >= len(names)):
            raise RunFileError(path, f"configs/{key}/trace/verdict has codes outside 0..{len(names) - 1}")
        e.trace_steps = steps
        e.trace_verdicts = np.array(names, dtype=object)[codes]
        e.trace_findings = _remap_findings(arrs["findings"], fnames)
        e.trace_outcomes = remap(arrs["outcome"], onames, OUTCOMES, "trace/outcome")
    if "outcome" in c and onames is not None and rnames is not None:
        o = c["outcome"]
        for name in ("kind", "reason"):
            if name not in o:
                raise RunFileError(path, f"configs/{key}/outcome has no '{name}' dataset")
            check_whole(o[name], path, f"configs/{key}/outcome/{name}")
        kind_raw, reason_raw = np.asarray(o["kind"][()]), np.asarray(o["reason"][()])  # (kind is a mode's name above)
        if kind_raw.shape != (K,) or reason_raw.shape != (K,):
            raise RunFileError(path, f"configs/{key}/outcome/kind and reason need shape ({K},)")
        e.outcome = remap(kind_raw, onames, OUTCOMES, "outcome/kind")
        e.outcome_reason = remap(reason_raw, rnames, REASONS, "outcome/reason")
        ev = {}
        for name in o:
            if name.startswith("ev_"):
                check_real(o[name], path, f"configs/{key}/outcome/{name}")
                a = np.asarray(o[name][()])
                if a.shape[:1] != (K,):
                    raise RunFileError(path, f"configs/{key}/outcome/{name} has shape {a.shape}, needs ({K}, ...)")
                ev[name[3:]] = a
        e.outcome_ev = _complete_ev(ev, K)


def _remap_findings(raw: np.ndarray, fnames) -> np.ndarray:
    """Finding masks in the file's bit order -> ours (kinds this version does not know are dropped)."""
    out = np.zeros(raw.shape, dtype=np.int32)
    for bit, kind in enumerate(fnames or []):
        if kind in FINDING_KINDS:
            out |= (((raw >> bit) & 1) << FINDING_KINDS.index(kind)).astype(np.int32)
    return out


def _complete_ev(ev: dict[str, np.ndarray], K: int) -> dict[str, np.ndarray]:
    """The evidence arrays model.analysis.outcome's words need, filled in (NaN, or 0 for codes) where a file lacks one."""
    from ..analysis.outcome import evidence_template

    for name, fill in evidence_template(K).items():
        if name not in ev or np.shape(ev[name]) != np.shape(fill):
            ev[name] = fill
        else:
            ev[name] = np.asarray(ev[name]).astype(fill.dtype)
    return ev


__all__ = [
    "ANALYSE_PER_FEATURE",
    "ANALYSE_PER_PAIR",
    "ANALYSE_SECONDS",
    "DIVERGED",
    "SWEEP_VERDICTS",
    "Sweep",
    "SweepClock",
    "SweepEntry",
    "SweepProgress",
    "SweepRunner",
    "Tracer",
    "analysis_seconds",
    "default_sweep_path",
    "entry_arrays",
    "entry_from_arrays",
    "expand_grid",
    "finding_mask",
    "grid_label",
    "judge_seconds",
    "loss_histogram",
    "mode_mask",
    "open_sweep",
    "parse_grid",
    "run_sweep",
    "save_sweep",
    "wilson_interval",
]
