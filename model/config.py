"""Training configuration: one declarative schema, one validated, JSON-serialisable
description of a run.

Every training option is one field of ``TrainConfig`` declared with ``option(...)``:
its type, range (ends open or closed) or choices, default, help, when it applies,
whether a sweep grid may vary it, and how the experiment form shows it. ``schema()``
reads these declarations back as ``Option`` records, and everything else is built
from them: ``validate()`` (every bad field at once, in one ``ConfigError``), the
experiment form (widgets.experiment_form), the training options of every command
that trains (app.cli) and the sweep grid parser (model.experiments.sweep). Adding a training
option is one ``option(...)`` line here. Rules between options (a batch within the
training set, analytic needs m = 2, ...) are ``RULES``.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

DATA_KINDS = ("identity", "sparse")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "warmup-cosine")
INITS = ("xavier", "analytic", "run")
DEVICES = ("cpu", "cuda")
#: The training paths (model/training/paths.py), "auto": the one the cost model picks for the run's shape.
BACKENDS = ("auto", "lanes", "fused", "blas", "torch")

#: Each optimiser's weight decay when none is given: torch.optim's own defaults
#: (Adam 0, AdamW 0.01, SGD 0), so "adam" is Adam without regularisation.
DEFAULT_WEIGHT_DECAY = {"adam": 0.0, "adamw": 1e-2, "sgd": 0.0}

MAX_N = 100_000
MAX_MODELS = 1_000_000


class ConfigError(ValueError):
    """Bad option values: ``errors`` lists (field, message) for every bad field, in the
    schema's order; ``field`` and ``message`` are the first one's. ``str()`` is one line
    "field: message" per error, each naming what the field allows."""

    def __init__(self, field_name: str, message: str = "", errors: Sequence[tuple[str, str]] = ()):
        self.errors: list[tuple[str, str]] = [(str(f), str(m)) for f, m in errors] or [(field_name, message)]
        self.field, self.message = self.errors[0]
        super().__init__("\n".join(f"{f}: {m}" for f, m in self.errors))

    def one_line(self) -> str:
        """Every error on one line, "; "-separated (for messages that must stay one line)."""
        return "; ".join(f"{f}: {m}" for f, m in self.errors)


# --------------------------------------------------------------------------- the schema
#: The experiment form's groups, in the order they are shown.
GROUPS = ("Model", "Data", "Optimisation", "Start from", "Recording")
KINDS = ("int", "float", "choice", "bool", "path", "importance")
#: The kinds that hold a number and so declare a range (low, high).
NUMERIC_KINDS = ("int", "float", "importance")


@dataclass(frozen=True)
class Option:
    """What one training option is, allows and means; declared on its TrainConfig field
    with ``option(...)`` and read back (name and default filled in) by ``schema()``.

    kind: "int", "float" (finite), "choice", "bool", "path" (a file name) or
    "importance" (a per-feature list, given as the decay d of I_i = d**i; low/high
    bound d). low/high: the range, each end closed unless low_open/high_open.
    optional: None is allowed (its meaning is in ``help``). applies: ((field,
    values), ...), the option matters only when each field has one of its values:
    the form disables it otherwise, and the command line refuses it given where it
    does not apply (applies_note says why it would be meaningless there).
    sweep: a sweep grid may vary it (over sweep_choices, when given, else every
    choice; aliases are other names the grid accepts). cli: it has a command-line
    flag (``flag``). Form hints: label, group (one of GROUPS), placeholder,
    check_text (a bool's check box), none_check (a check box that means None, e.g.
    "auto") and none_fill (the number the box shows until one is typed).
    """

    kind: str
    help: str
    name: str = ""
    default: Any = None
    label: str = ""
    group: str = "Model"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    optional: bool = False
    applies: tuple = ()
    applies_note: str = ""
    sweep: bool = False
    sweep_choices: tuple = ()
    aliases: tuple = ()
    cli: bool = True
    placeholder: str = ""
    check_text: str = ""
    none_check: str = ""
    none_fill: str = ""

    @property
    def key(self) -> str:
        """The name the form and the command line use: the decay for importance, else the field's."""
        return "importance_decay" if self.kind == "importance" else self.name

    @property
    def flag(self) -> str:
        """The command-line flag: --no-NAME for a bool that is on by default, else --KEY."""
        if self.kind == "bool" and self.default is True:
            return "--no-" + self.name.replace("_", "-")
        return "--" + self.key.replace("_", "-")

    def allowed(self) -> str:
        """What the option allows, in words (tooltips, --help, parse errors)."""
        if self.kind == "int":
            return f"a whole number from {_fmt(self.low)} to {_fmt(self.high)}"
        if self.kind in ("float", "importance"):
            return f"a number in {self._interval()}"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        return "a file name"

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) of a numeric option (option() refuses one declared without both)."""
        if self.low is None or self.high is None:
            raise ValueError(f"option {self.name!r} of kind {self.kind!r} has no range")
        return self.low, self.high

    def _interval(self) -> str:
        low, high = self.bounds
        return f"{'(' if self.low_open else '['}{low:g}, {high:g}{')' if self.high_open else ']'}"

    def range_problem(self, v: float) -> str | None:
        """Why the number ``v`` is outside the range (None when inside). For importance: of the decay."""
        low, high = self.bounds
        if self.kind == "int":
            return None if low <= v <= high else f"must be from {_fmt(low)} to {_fmt(high)}, got {v}"
        if (v < low or (self.low_open and v == low)) or (v > high or (self.high_open and v == high)):
            return f"must be in {self._interval()}, got {v:g}"
        return None

    def problem(self, v: object) -> str | None:
        """Why ``v`` is not a valid value of this option on its own (None when it is).
        Rules between options (RULES) are checked by TrainConfig.problems()."""
        if v is None and (self.optional or self.kind == "importance"):
            return None
        if self.kind == "int":
            if isinstance(v, bool) or not isinstance(v, int):
                return f"must be a whole number from {_fmt(self.low)} to {_fmt(self.high)}, got {v!r}"
            return self.range_problem(v)
        if self.kind == "float":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                return f"must be a finite number, got {v!r}"
            return self.range_problem(v)
        if self.kind == "choice":
            return None if v in self.choices else f"must be one of {', '.join(self.choices)}; got {v!r}"
        if self.kind == "bool":
            return None if isinstance(v, bool) else f"must be true or false, got {v!r}"
        if self.kind == "path":
            return None if isinstance(v, str) else f"must be a file name, got {v!r}"  # empty: RULES
        return None  # importance: a rule, as its length is n's

    def parse(self, text: str, optional: bool | None = None) -> Any:
        """A number typed by a person ("1e-3", "25_000", "1,000", "1e5" for a whole number)
        as this option's value, without the range check; empty is None when ``optional``
        (default: the option's). ConfigError names the option and what it allows."""
        raw = str(text).strip()
        t = raw.replace(",", "").replace(" ", "")
        if not t:
            if self.optional if optional is None else optional:
                return None
            raise ConfigError(self.key, f"is required: {self.allowed()}")
        try:
            v = float(t)
        except ValueError:
            raise ConfigError(self.key, f"must be {self.allowed()}, got {raw!r}") from None
        if self.kind == "int":
            try:
                return int(t)
            except ValueError:
                if math.isfinite(v) and v == int(v):
                    return int(v)
            raise ConfigError(self.key, f"must be {self.allowed()}, got {raw!r}")
        if not math.isfinite(v):
            raise ConfigError(self.key, f"must be a finite number, {self.allowed()}; got {raw!r}")
        return v

    def applies_to(self, values: Mapping[str, Any]) -> tuple[str, tuple] | None:
        """None when the option applies given the other options' ``values``, else the
        (field, values) condition that does not hold."""
        for name, allowed in self.applies:
            if values.get(name) not in allowed:
                return name, allowed
        return None


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def option(default: Any, kind: str, help: str, **hints: Any) -> Any:
    """A TrainConfig field declared with its Option (see Option for the hints)."""
    if kind not in KINDS:
        raise ValueError(f"option kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind in NUMERIC_KINDS and (hints.get("low") is None or hints.get("high") is None):
        raise ValueError(f"a {kind} option declares its range: low and high")
    return dataclasses.field(default=default, metadata={"option": Option(kind, help, **hints)})


def schema(cls: type | None = None) -> tuple[Option, ...]:
    """The training options of ``cls`` (default TrainConfig), in declaration order: what
    validate(), the experiment form, the command line and the sweep grid are built from."""
    return _schema(TrainConfig if cls is None else cls)


@functools.cache
def _schema(cls: type) -> tuple[Option, ...]:
    out = []
    for f in dataclasses.fields(cls):
        opt = f.metadata.get("option")
        if opt is None:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with option()")
        out.append(dataclasses.replace(opt, name=f.name, default=f.default, label=opt.label or f.name))
    return tuple(out)


def grid_options(cls: type | None = None) -> dict[str, Option]:
    """{name: Option} of the options a sweep grid may vary."""
    return {o.name: o for o in schema(cls) if o.sweep}


# --------------------------------------------------------------------------- rules between options
def _batch_within_n(c) -> tuple[str, str] | None:
    if c.onehot and c.batch is not None and c.batch > c.n:
        return "batch", f"must be from 1 to n = {c.n} for identity data, got {c.batch}"
    return None


def _batch_within_examples(c) -> tuple[str, str] | None:
    if c.data == "sparse" and c.examples is not None and c.batch is not None and c.batch > c.examples:
        return "batch", f"must be from 1 to examples = {c.examples}, got {c.batch}"
    return None


def _analytic_needs_m2(c) -> tuple[str, str] | None:
    if c.init == "analytic" and c.m != 2:
        return "init", f"analytic (Henighan's n-gon) needs m = 2, got m = {c.m}"
    return None


def _run_needs_a_file(c) -> tuple[str, str] | None:
    if c.init == "run" and not c.init_run:
        return "init_run", "init 'run' needs the path of a saved run"
    return None


def _backend_applies(c) -> tuple[str, str] | None:
    if c.backend == "auto":
        return None
    if c.device != "cpu" and c.backend != "torch":
        return "backend", f"{c.device} trains on the torch path, got {c.backend}"
    if c.backend == "lanes" and not (c.onehot and c.effective_batch == c.n):
        return "backend", "lanes trains one-hot data in full batches only (the others: fused, blas, torch)"
    return None


def _importance_per_feature(c) -> tuple[str, str] | None:
    imp = c.importance
    if imp is not None and (not isinstance(imp, (list, tuple)) or len(imp) != c.n or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0 for v in imp)):
        return "importance", f"must be a list of n = {c.n} numbers >= 0"
    return None


#: Rules between options: (the fields each reads, the rule). A rule is checked only when
#: none of its fields is bad on its own; it returns (field, message) or None.
RULES = (
    (("batch", "n", "data"), _batch_within_n),
    (("batch", "examples", "data"), _batch_within_examples),
    (("init", "m"), _analytic_needs_m2),
    (("init", "init_run"), _run_needs_a_file),
    (("importance", "n"), _importance_per_feature),
    (("backend", "device", "data", "batch", "n"), _backend_applies),
)

_ADAM = (("optimizer", ("adam", "adamw")),)
_ADAM_NOTE = "sgd has momentum instead"
_RUN = (("init", ("run",)),)
_RUN_NOTE = "starting from a saved run"


@dataclass
class TrainConfig:
    """A run's settings, one ``option(...)`` per training option: the schema itself.
    Field names are the command line's flags with '_' for '-'."""

    # Model
    n: int = option(7, "int", "features (output dimensions)", label="n features", low=1, high=MAX_N, sweep=True)
    m: int = option(2, "int", "latent dimensions", label="m latent dims", low=1, high=1000, sweep=True)
    bias: bool = option(True, "bool", "train a bias b (off: b = 0)", check_text="train a bias b")
    untied: bool = option(False, "bool", "untied decoder M, separate from W: x' = ReLU(M W x + b)",
                          check_text="untied decoder M")
    models: int = option(1, "int", "models trained at once (model k uses seed + k)", label="models K",
                         low=1, high=MAX_MODELS)
    seed: int = option(0, "int", "model k uses seed + k", low=0, high=2**31 - 1 - MAX_MODELS)
    # Data
    data: str = option("identity", "choice", "identity: the n one-hot examples; sparse: entries 0 with "
                       "probability S, else uniform (0, 1], unit-norm rows", group="Data", choices=DATA_KINDS,
                       sweep=True)
    sparsity: float = option(0.999, "float", "probability S that an entry is 0 (sparse data)", label="sparsity S",
                             group="Data", low=0.0, high=1.0, high_open=True, applies=(("data", ("sparse",)),),
                             applies_note="identity data are the one-hot examples, with no zeros to draw", sweep=True)
    #: T; None = a fresh batch every step (T = infinity)
    examples: int | None = option(
        None, "int", "T, a finite training set fixed by the seed (sparse data); none: a fresh batch every step",
        label="examples T", group="Data", low=1, high=10_000_000, optional=True, applies=(("data", ("sparse",)),),
        applies_note="identity data is the n one-hot examples", sweep=True, aliases=("t",),
        placeholder="T", none_check="∞ fresh batches", none_fill="1000")
    batch: int | None = option(None, "int", "examples per step; auto: the full batch for finite sets, 1024 for "
                                  "fresh data", group="Data", low=1, high=1_000_000, optional=True, sweep=True,
                                  none_check="auto", none_fill="1024")
    #: per-feature importance I_i; None = all 1
    importance: list | None = option(
        None, "importance", "per-feature importance I_i = decay**(i-1) (feature i, 1-based); none: all 1",
        label="importance decay", group="Data", low=0.0, high=1.0, low_open=True, placeholder="all 1")
    # Optimisation
    optimizer: str = option("adamw", "choice", "the optimiser", group="Optimisation", choices=OPTIMIZERS,
                            sweep=True, aliases=("optimiser",))
    lr: float = option(1e-3, "float", "learning rate, e.g. 1e-3", group="Optimisation", low=0.0, high=100.0,
                       low_open=True, sweep=True)
    #: None = the optimiser's default (DEFAULT_WEIGHT_DECAY), kept None so a grid over
    #: optimisers gives each its own
    weight_decay: float | None = option(
        None, "float", "decoupled for adamw, L2 for adam and sgd; none: the optimiser's own default, as in torch ("
        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_WEIGHT_DECAY.items()) + ")", label="weight decay",
        group="Optimisation", low=0.0, high=100.0, optional=True, sweep=True, aliases=("wd",))
    momentum: float = option(0.9, "float", "sgd momentum", group="Optimisation", low=0.0, high=1.0, high_open=True,
                             applies=(("optimizer", ("sgd",)),), applies_note="adam and adamw use beta1, beta2",
                             sweep=True)
    beta1: float = option(0.9, "float", "Adam's first-moment decay (adam, adamw)", group="Optimisation", low=0.0,
                          high=1.0, high_open=True, applies=_ADAM, applies_note=_ADAM_NOTE, sweep=True)
    beta2: float = option(0.999, "float", "Adam's second-moment decay (adam, adamw)", group="Optimisation",
                          low=0.0, high=1.0, high_open=True, applies=_ADAM, applies_note=_ADAM_NOTE, sweep=True)
    eps: float = option(1e-8, "float", "Adam's denominator epsilon (adam, adamw)", group="Optimisation", low=0.0,
                        high=1.0, low_open=True, applies=_ADAM, applies_note=_ADAM_NOTE, sweep=True)
    schedule: str = option("constant", "choice", "constant, or linear warm-up then cosine decay to 0",
                           group="Optimisation", choices=SCHEDULES, sweep=True)
    warmup: int = option(2_500, "int", "warm-up steps (warmup-cosine)", label="warm-up steps", group="Optimisation",
                         low=0, high=1_000_000_000, applies=(("schedule", ("warmup-cosine",)),),
                         applies_note="a constant schedule has no warm-up", sweep=True)
    steps: int = option(25_000, "int", "training steps", group="Optimisation", low=0, high=1_000_000_000, sweep=True)
    until_decided: bool = option(False, "bool", "stop early once every model is settled or stuck (its outcome, "
                                 "checked at step 1,024 and every half doubling after it); steps is the cap",
                                 label="until decided", group="Optimisation", check_text="stop once every model is "
                                 "settled or stuck", sweep=True)
    device: str = option("cpu", "choice", "where training runs: cpu (the compiled paths), or cuda (a GPU that torch "
                         "sees: the batched torch path; the form shows it only then)", group="Optimisation",
                         choices=DEVICES)
    backend: str = option("auto", "choice", "the training path: auto (the fastest for the run's shape, by the cost "
                          "model), lanes (one-hot, full batch), fused, blas or torch. All give the same numbers within "
                          "float32 round-off, which a long run can amplify near a saddle: a sweep's single re-runs use "
                          "the sweep's path, so they reproduce its models exactly", group="Optimisation",
                          choices=BACKENDS)
    # Start from
    init: str = option("xavier", "choice", "xavier (normal), analytic (Henighan's n-gon, needs m = 2), run "
                       "(continue a saved run)", group="Start from", choices=INITS, sweep=True,
                       sweep_choices=("xavier", "analytic"))
    init_run: str | None = option(None, "path", "the saved run to start from (init run)", label="run file",
                                     group="Start from", optional=True, applies=_RUN,
                                     applies_note=_RUN_NOTE, placeholder="saved run (.h5)")
    init_step: int | None = option(None, "int", "the snapshot at or before this step of the saved run; none: "
                                      "the latest", label="run step", group="Start from", low=0, high=10**12,
                                      optional=True, applies=_RUN, applies_note=_RUN_NOTE,
                                      placeholder="latest")
    init_model: int = option(0, "int", "which model of the saved run, 0-based", label="run model",
                             group="Start from", low=0, high=MAX_MODELS, applies=_RUN,
                             applies_note=_RUN_NOTE)
    # Recording
    history_budget_mb: float = option(
        256.0, "float", "MB of memory for recording the run: the history (thinned as training goes on), the rows "
        "in flight and the run file's write buffer; not the model, its data or the libraries. The run file holds "
        "the rows the history ends with: about this size, however many steps", label="history budget (MB)",
        group="Recording", low=0.01, high=1_000_000.0)

    # ------------------------------------------------------------------ derived
    @property
    def onehot(self) -> bool:
        """True for identity data: the n one-hot examples."""
        return self.data == "identity"

    @property
    def finite(self) -> bool:
        """True when the training set is a fixed, finite set of examples."""
        return self.onehot or self.examples is not None

    @property
    def num_examples(self) -> int | None:
        if self.onehot:
            return self.n
        return self.examples

    @property
    def effective_batch(self) -> int:
        if self.batch is not None:
            return self.batch
        k = self.num_examples  # None exactly when the data is not finite (see finite)
        return 1024 if k is None else k

    @property
    def effective_weight_decay(self) -> float:
        """The weight decay training uses: the given one, else the optimiser's default."""
        if self.weight_decay is not None:
            return float(self.weight_decay)
        return DEFAULT_WEIGHT_DECAY.get(self.optimizer, 0.0)

    def importance_vector(self) -> np.ndarray:
        import numpy as np

        if self.importance is None:
            return np.ones(self.n, dtype=np.float64)
        return np.asarray(self.importance, dtype=np.float64)

    # --------------------------------------------------------------- validation
    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for every bad field, in the schema's order, then the rules
        between options whose fields are each fine on their own (RULES)."""
        out = []
        for opt in schema(type(self)):
            msg = opt.problem(getattr(self, opt.name))
            if msg is not None:
                out.append((opt.name, msg))
        bad = {f for f, _ in out}
        for fields, rule in RULES:
            hit = None if bad & set(fields) else rule(self)
            if hit is not None and hit[0] not in bad:
                out.append(hit)
                bad.add(hit[0])
        return out

    def validate(self) -> TrainConfig:
        """Raise one ConfigError naming every bad field and what each allows."""
        errors = self.problems()
        if errors:
            raise ConfigError("", errors=errors)
        if self.importance is not None:
            self.importance = [float(v) for v in self.importance]
        return self

    # ------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        if not isinstance(d, dict):
            raise ConfigError("config", "must be a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(unknown[0], f"is not a training option (known: {', '.join(sorted(names))})")
        return cls(**d).validate()

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ConfigError("config", f"is not valid JSON ({exc})") from None
        return cls.from_dict(d)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def importance_decay(n: int, decay: float) -> list:
    """Anthropic's importance profile I_i = decay**i (i = 0..n-1)."""
    return [float(decay) ** i for i in range(n)]


__all__ = [
    "DATA_KINDS",
    "DEVICES",
    "GROUPS",
    "INITS",
    "OPTIMIZERS",
    "RULES",
    "SCHEDULES",
    "ConfigError",
    "Option",
    "TrainConfig",
    "grid_options",
    "importance_decay",
    "option",
    "schema",
]


# ------------------------------------------------------------------ SMDD
#: Fresh examples that measure a dataset-size sweep's test loss (model.experiments.datasize).
DEFAULT_TEST_EXAMPLES = 2_000


def smdd_config(n: int = 10_000, **changes: Any) -> TrainConfig:
    """SMDD's training setting (the sizes are set per T): n = 10,000, m = 2, S = 0.999,
    full-batch AdamW, lr 1e-3, weight decay 1e-2, warm-up 2,500 steps then cosine,
    50,000 steps. Here rather than in model.experiments.datasize so that the command line's
    defaults cost no import of the training machinery."""
    cfg = TrainConfig(n=n, m=2, data="sparse", sparsity=0.999, examples=None, batch=None, steps=50_000,
                      optimizer="adamw", lr=1e-3, weight_decay=1e-2, schedule="warmup-cosine", warmup=2_500)
    return cfg.replace(**changes).validate() if changes else cfg.validate()
