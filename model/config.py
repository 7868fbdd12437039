"""Training configuration: one validated, JSON-serialisable description of a run.

Every option of the core lives here, with its allowed values, so the CLI, the
GUI form and the run file all validate the same way and name the same field.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Optional

DATA_KINDS = ("identity", "sparse")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "warmup-cosine")
INITS = ("xavier", "analytic", "run")

#: Each optimiser's weight decay when none is given: torch.optim's own defaults
#: (Adam 0, AdamW 0.01, SGD 0), so "adam" is Adam without regularisation.
DEFAULT_WEIGHT_DECAY = {"adam": 0.0, "adamw": 1e-2, "sgd": 0.0}

MAX_N = 100_000
MAX_MODELS = 1_000_000


class ConfigError(ValueError):
    """A bad option value. ``field`` names the option; the message says what is allowed."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        super().__init__(f"{field_name}: {message}")


@dataclass
class TrainConfig:
    """A run's settings. Field names are the CLI's flags with '-' for '_'."""

    n: int = 7
    m: int = 2
    data: str = "identity"
    sparsity: float = 0.999
    examples: Optional[int] = None  # T; None = a fresh batch every step (T = infinity)
    batch: Optional[int] = None  # None = full batch for finite sets, 1024 for fresh data
    steps: int = 25_000
    optimizer: str = "adamw"
    lr: float = 1e-3
    #: decoupled for adamw, L2 for adam and sgd; None = the optimiser's default
    #: (DEFAULT_WEIGHT_DECAY), kept None so a grid over optimisers gives each its own
    weight_decay: Optional[float] = None
    momentum: float = 0.9  # sgd only
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    schedule: str = "constant"
    warmup: int = 2_500
    seed: int = 0
    models: int = 1  # K
    init: str = "xavier"
    init_run: Optional[str] = None  # path of a saved run, for init == "run"
    init_step: Optional[int] = None  # snapshot at or before this step; None = latest
    init_model: int = 0  # which model of the saved run (0-based)
    bias: bool = True
    untied: bool = False
    importance: Optional[list] = None  # per-feature importance I_i; None = all 1
    history_budget_mb: float = 256.0

    # ------------------------------------------------------------------ derived
    @property
    def finite(self) -> bool:
        """True when the training set is a fixed, finite set of examples."""
        return self.data == "identity" or self.examples is not None

    @property
    def num_examples(self) -> Optional[int]:
        if self.data == "identity":
            return self.n
        return self.examples

    @property
    def effective_batch(self) -> int:
        if self.batch is not None:
            return self.batch
        return self.num_examples if self.finite else 1024

    @property
    def effective_weight_decay(self) -> float:
        """The weight decay training uses: the given one, else the optimiser's default."""
        if self.weight_decay is not None:
            return float(self.weight_decay)
        return DEFAULT_WEIGHT_DECAY.get(self.optimizer, 0.0)

    def importance_vector(self):
        import numpy as np

        if self.importance is None:
            return np.ones(self.n, dtype=np.float64)
        return np.asarray(self.importance, dtype=np.float64)

    # --------------------------------------------------------------- validation
    def validate(self) -> "TrainConfig":
        """Raise ConfigError naming the first bad field and what it allows."""

        def integer(name, lo, hi, allow_none=False):
            v = getattr(self, name)
            if v is None and allow_none:
                return
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(name, f"must be a whole number from {lo} to {hi}, got {v!r}")
            if not lo <= v <= hi:
                raise ConfigError(name, f"must be from {lo} to {hi}, got {v}")

        def real(name, lo, hi, lo_open=False, hi_open=False):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigError(name, f"must be a finite number, got {v!r}")
            if (v < lo or (lo_open and v == lo)) or (v > hi or (hi_open and v == hi)):
                lb = "(" if lo_open else "["
                rb = ")" if hi_open else "]"
                raise ConfigError(name, f"must be in {lb}{lo:g}, {hi:g}{rb}, got {v:g}")

        def choice(name, options):
            v = getattr(self, name)
            if v not in options:
                raise ConfigError(name, f"must be one of {', '.join(options)}; got {v!r}")

        integer("n", 1, MAX_N)
        integer("m", 1, 1000)
        choice("data", DATA_KINDS)
        real("sparsity", 0.0, 1.0, hi_open=True)
        integer("examples", 1, 10_000_000, allow_none=True)
        integer("batch", 1, 1_000_000, allow_none=True)
        if self.data == "identity" and self.batch is not None and self.batch > self.n:
            raise ConfigError("batch", f"must be from 1 to n = {self.n} for identity data, got {self.batch}")
        if self.data == "sparse" and self.examples is not None and self.batch is not None \
                and self.batch > self.examples:
            raise ConfigError("batch", f"must be from 1 to examples = {self.examples}, got {self.batch}")
        integer("steps", 0, 1_000_000_000)
        choice("optimizer", OPTIMIZERS)
        real("lr", 0.0, 100.0, lo_open=True)
        if self.weight_decay is not None:
            real("weight_decay", 0.0, 100.0)
        real("momentum", 0.0, 1.0, hi_open=True)
        real("beta1", 0.0, 1.0, hi_open=True)
        real("beta2", 0.0, 1.0, hi_open=True)
        real("eps", 0.0, 1.0, lo_open=True)
        choice("schedule", SCHEDULES)
        integer("warmup", 0, 1_000_000_000)
        integer("seed", 0, 2**31 - 1 - MAX_MODELS)
        integer("models", 1, MAX_MODELS)
        choice("init", INITS)
        if self.init == "analytic" and self.m != 2:
            raise ConfigError("init", f"analytic (Henighan's n-gon) needs m = 2, got m = {self.m}")
        if self.init == "run" and not self.init_run:
            raise ConfigError("init_run", "init 'run' needs the path of a saved run")
        integer("init_step", 0, 10**12, allow_none=True)
        integer("init_model", 0, MAX_MODELS)
        if not isinstance(self.bias, bool):
            raise ConfigError("bias", f"must be true or false, got {self.bias!r}")
        if not isinstance(self.untied, bool):
            raise ConfigError("untied", f"must be true or false, got {self.untied!r}")
        if self.importance is not None:
            imp = self.importance
            if not isinstance(imp, (list, tuple)) or len(imp) != self.n or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                for v in imp
            ):
                raise ConfigError("importance", f"must be a list of n = {self.n} numbers >= 0")
            self.importance = [float(v) for v in imp]
        real("history_budget_mb", 0.01, 1_000_000)
        return self

    # ------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        if not isinstance(d, dict):
            raise ConfigError("config", "must be a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(unknown[0], f"is not a training option (known: {', '.join(sorted(names))})")
        return cls(**d).validate()

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ConfigError("config", f"is not valid JSON ({exc})") from None
        return cls.from_dict(d)

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


def importance_decay(n: int, decay: float) -> list:
    """Anthropic's importance profile I_i = decay**i (i = 0..n-1)."""
    return [float(decay) ** i for i in range(n)]


__all__ = ["TrainConfig", "ConfigError", "DATA_KINDS", "OPTIMIZERS", "SCHEDULES", "INITS",
           "importance_decay"]


# ------------------------------------------------------------------ SMDD
#: Fresh examples that measure a dataset-size sweep's test loss (model.datasize).
DEFAULT_TEST_EXAMPLES = 2_000


def smdd_config(n: int = 10_000, **changes) -> TrainConfig:
    """SMDD's training setting (the sizes are set per T): n = 10,000, m = 2, S = 0.999,
    full-batch AdamW, lr 1e-3, weight decay 1e-2, warm-up 2,500 steps then cosine,
    50,000 steps. Here rather than in model.datasize so that the command line's
    defaults cost no import of the training machinery."""
    cfg = TrainConfig(n=n, m=2, data="sparse", sparsity=0.999, examples=None, batch=None, steps=50_000,
                      optimizer="adamw", lr=1e-3, weight_decay=1e-2, schedule="warmup-cosine", warmup=2_500)
    return cfg.replace(**changes).validate() if changes else cfg.validate()
