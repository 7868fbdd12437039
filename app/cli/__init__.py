"""Headless command line: `main.py train`, `main.py inspect`.

Bad arguments or files: one line naming the argument or file and what is
allowed, exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the parser path imports no numpy or h5py
    import os

    from model.analysis.analysis import Analysis
    from model.config import Option, TrainConfig
    from model.history import History
    from model.snapshot import Snapshot
    from model.storage.runfile import Run
    from model.training.engine import Trainer

EXIT_USAGE = 2
EXIT_FAILURE = 1  # the machine failed (a full disk, an I/O error, out of memory), not the input
EXIT_INTERRUPTED = 130  # Ctrl+C (128 + SIGINT), as a shell reports it
#: Commands beyond train/inspect live in their own modules: name -> module. Each
#: module has ``add_parser(sub)`` (adds its subparser to the argparse
#: subparsers ``sub``) and ``run(args) -> int``; raising CliError (or the core's
#: ConfigError / RunFileError) gives the one-line message and exit status 2.
EXTRA_COMMANDS = {"export": "app.cli.export", "animate": "app.cli.export",
                  "sweep": "app.cli.experiments", "probe": "app.cli.experiments", "datasize": "app.cli.experiments",
                  "figures": "app.cli.figures"}
COMMANDS = ("train", "inspect") + tuple(EXTRA_COMMANDS)


#: The command being run (set by _run): every one-line message starts "main.py COMMAND: ".
_COMMAND: list = [None]
#: A word of a message longer than this (an input echoed back: a 10,000-character value or file
#: name) is shortened to its start and end, so a refusal stays one readable line.
ECHO_MAX = 200
_PREFIX = re.compile(r"^main\.py(?: [a-z]+)?: ")


def _shorten(word: str) -> str:
    core = word.rstrip(":;,.)'\"")
    tail = word[len(core):]
    return f"{core[:100]}…{core[-60:]} ({len(core):,} characters){tail}" if len(core) > ECHO_MAX else word


def message(text: object, command: str | None = None) -> str:
    """One line as every command says it: "main.py COMMAND: text" (the command that runs, or
    ``command``; "main.py: text" outside any), whatever prefix ``text`` had, with its whitespace
    folded and every word longer than ECHO_MAX characters shortened (inputs echoed back)."""
    cmd = command or _COMMAND[0]
    body = _PREFIX.sub("", " ".join(str(text).split()))
    body = re.sub(rf"\S{{{ECHO_MAX + 1},}}", lambda m: _shorten(m.group(0)), body)
    return f"main.py {cmd}: {body}" if cmd else f"main.py: {body}"


def say(text: object) -> None:
    """Print one line on stderr, as ``message`` words it (notes, interruptions)."""
    print(message(text), file=sys.stderr)


class CliError(Exception):
    """A user-facing error: one line, exit status ``status`` (2: the input; 1: the machine)."""

    def __init__(self, message: str, status: int = EXIT_USAGE):
        super().__init__(message)
        self.status = int(status)


class Interrupt:
    """Ctrl+C during a long command, as a request to stop rather than an exception.

    Inside ``with Interrupt(stop, ...) as intr:`` the first SIGINT calls each ``stop``
    (e.g. ``Trainer.request_stop``: the engine stops between chunks, a tenth of a
    second or so) and sets ``intr.requested``; the command then finishes what is
    complete, says so in one line and exits 130. A KeyboardInterrupt raised at a
    random point instead could land inside a Qt paint (PyQt prints and swallows it)
    or between two writes of a file. A second Ctrl+C raises KeyboardInterrupt as
    usual. Outside the main thread this does nothing (signals go to the main thread).
    """

    def __init__(self, *stops: Callable[[], object]):
        self.stops = list(stops)
        self.requested = False
        self._previous = None

    def add(self, stop: Callable[[], object]) -> None:
        """Another thing to stop; called at once if Ctrl+C came already."""
        self.stops.append(stop)
        if self.requested:
            stop()

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        for stop in self.stops:
            stop()

    def __enter__(self) -> Interrupt:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def check_out(path: str | os.PathLike[str], force: bool, what: str = "--out") -> None:
    """Refuse, before any work, an output path that cannot be written: an existing file
    unless --force (one rule for every command that writes), a folder, a missing folder."""
    from model.storage.outfile import check_target, problem

    try:
        check_target(path, force)
    except FileExistsError:
        raise CliError(f"main.py: {what}: {path} already exists; pass --force to replace it") from None
    except OSError as exc:
        raise CliError(f"main.py: {what}: {problem(exc, f'write {path}')}") from None


#: What a file of this program (run, sweep, dataset-size sweep) is named: HDF5.
RUN_EXTENSIONS = (".h5", ".hdf5")


def check_run_out(path: str | os.PathLike[str], force: bool, what: str = "--out") -> None:
    """check_out for a file of this program (HDF5): its name must end in .h5 or .hdf5, so that a
    run is never written under a figure's or a document's name."""
    import os

    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in RUN_EXTENSIONS:
        raise CliError(f"{what}: {path}: the file name must end in {' or '.join(RUN_EXTENSIONS)} (an HDF5 file)"
                       + (f", got {ext!r}" if ext else ""))
    check_out(path, force, what)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        # argparse says "argument --n: <why>"; the project's form is "--n: <why>"
        message = re.sub(r"^argument ([^:]+): ", r"\1: ", " ".join(str(message).split()))
        raise CliError(f"{self.prog}: {message}")


def int_arg(name: str, lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """argparse type: a whole number, within [lo, hi] when given (the message names both ends)."""
    def conv(text):
        try:
            v = int(text)
        except ValueError:
            rng = f" from {lo} to {hi}" if lo is not None and hi is not None else ""
            raise argparse.ArgumentTypeError(f"must be a whole number{rng}, got {text!r}") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"must be {rng}, got {v}")
        return v
    return conv


def path_arg(name: str) -> Callable[[str], str]:
    """argparse type: a file name, never empty (an empty one would mean the current folder)."""
    def conv(text):
        if not str(text).strip():
            raise argparse.ArgumentTypeError(f"needs a file name, got {text!r}")
        return text
    return conv


#: --threads: at least one; more than the machine has is clamped to its cores by the engine.
MAX_THREADS = 1024


def add_threads_option(p: argparse._ActionsContainer) -> None:  # a parser or an argument group
    p.add_argument("--threads", type=int_arg("--threads", 1, MAX_THREADS), default=None,
                   help=f"CPU threads, 1..{MAX_THREADS} (default: all cores)")


def float_arg(name: str) -> Callable[[str], float]:
    def conv(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        return v
    return conv


#: Where the parsed namespace keeps the dests of the training options typed on the command line
#: (a preset's value is replaced only by an option that was given, not by a default).
GIVEN = "given_options"


def _remember(action: type) -> type:
    """``action`` that also records its dest in the namespace's GIVEN set when the option is given."""
    class Given(action):
        def __call__(self, parser, namespace, values, option_string=None):
            super().__call__(parser, namespace, values, option_string)
            seen = set(getattr(namespace, GIVEN, None) or ())
            seen.add(self.dest)
            setattr(namespace, GIVEN, seen)
    return Given


_STORE = _remember(argparse._StoreAction)
_STORE_TRUE = _remember(argparse._StoreTrueAction)
_STORE_FALSE = _remember(argparse._StoreFalseAction)


def _option_argument(g, opt) -> None:
    """One training option (model.config.Option) as an argparse argument of group ``g``:
    its flag, a type that refuses what is not a number (validate() checks the range, so
    the message is the config's), its help with what it allows and its default. Options
    that are optional default to None, "not given"; config_from_args puts the schema's
    default in their place. Every option records that it was given (GIVEN)."""
    kw: dict = {"dest": opt.key}
    if opt.kind == "bool":  # a flag that flips the default
        kw.update(action=_STORE_FALSE if opt.default else _STORE_TRUE, default=opt.default)
        g.add_argument(opt.flag, help=opt.help.replace("%", "%%") + " (default "
                       + ("on; this turns it off)" if opt.default else "off)"), **kw)
        return
    kw["action"] = _STORE
    if opt.kind == "choice":
        kw["choices"] = opt.choices
    else:
        kw["type"] = {"int": int_arg, "path": path_arg}.get(opt.kind, float_arg)(opt.flag)
    kw["default"] = None if (opt.optional or opt.applies or opt.kind == "importance") else opt.default
    # argparse fills in %(default)s when help is shown: a command's own defaults (datasize) included
    shown = ([] if opt.default is None else [f"default {opt.default}"]) if kw["default"] is None \
        else ["default %(default)s"]
    allowed = [] if opt.kind in ("path", "choice") else [opt.allowed()]
    parts = "; ".join(allowed + shown)
    g.add_argument(opt.flag, help=opt.help.replace("%", "%%") + (f" ({parts})" if parts else ""), **kw)


def add_train_options(p: argparse.ArgumentParser) -> None:
    """The training options, from the schema (model.config.schema), grouped as in the form,
    for every command that trains (train, sweep, datasize), and --threads."""
    from model.config import GROUPS, TrainConfig, schema

    opts = [o for o in schema(TrainConfig) if o.cli]
    groups = {}
    for name in GROUPS + tuple(o.group for o in opts if o.group not in GROUPS):
        groups.setdefault(name, p.add_argument_group(name.lower()))
    for opt in opts:
        _option_argument(groups[opt.group], opt)
    add_threads_option(groups["Optimisation"])
    add_preset_options(p)


def add_preset_options(p: argparse.ArgumentParser) -> None:
    """--preset NAME (model.presets: the named experiments) and --preset-param KEY=VALUE."""
    from model.presets import PRESETS

    g = p.add_argument_group("preset")
    g.add_argument("--preset", choices=tuple(PRESETS), default=None,
                   help="start from a named experiment; the training options given beside it replace its values: "
                   + "; ".join(f"{k}: {v.summary}" for k, v in PRESETS.items()).replace("%", "%%"))
    with_params = [f"{k} ({', '.join(f'{n}, default {d}' for n, d in v.params.items())})"
                   for k, v in PRESETS.items() if v.params]
    g.add_argument("--preset-param", dest="preset_param", action="append", default=None, metavar="KEY=VALUE",
                   help="a parameter of the preset (repeatable): " + "; ".join(with_params))


def preset_params(preset: str, specs: Sequence[str] | dict | None) -> dict:
    """{name: value} of a preset's parameters from KEY=VALUE texts (or a dict), each typed like
    its default; ConfigError("preset_param", ...) names a bad one and what the preset takes."""
    from model.config import ConfigError
    from model.presets import get

    p = get(preset)
    items = list(specs.items()) if isinstance(specs, dict) else []
    for spec in ([] if isinstance(specs, dict) else specs or ()):
        key, sep, value = str(spec).partition("=")
        if not sep or not key.strip():
            raise ConfigError("preset_param", f"must be KEY=VALUE, got {spec!r}")
        items.append((key.strip(), value.strip()))
    out = {}
    allowed = ", ".join(p.params) or "none"
    for key, value in items:
        if key not in p.params:
            raise ConfigError("preset_param", f"{preset} takes no parameter {key!r} (allowed: {allowed})")
        kind = type(p.params[key])
        if isinstance(value, str):
            try:
                value = kind(float(value)) if kind is int and float(value).is_integer() else kind(value)
            except ValueError:
                raise ConfigError("preset_param", f"{key} must be {'a whole number' if kind is int else 'a number'}, "
                                                  f"got {value!r}") from None
        out[key] = value
    return out


def not_applying(opt: Option, values: dict, grid: dict | None = None) -> str | None:
    """Why ``opt`` does not apply given the other options' ``values`` (and a sweep's ``grid``:
    a field it varies meets the condition when one of its values does), from the schema's
    Option.applies; None when it applies."""
    for field, allowed in opt.applies:
        if values.get(field) in allowed or any(v in allowed for v in (grid or {}).get(field, ())):
            continue
        ctl = _flag(field)
        note = f" ({opt.applies_note})" if opt.applies_note else ""
        now = f"{ctl} is {values.get(field)}" + (" in every configuration of the grid" if field in (grid or {})
                                                  else "")
        return f"applies to {ctl} {' or '.join(allowed)}{note}, but {now}"
    return None


def config_from_args(a: argparse.Namespace, grid: dict | None = None) -> TrainConfig:
    """The TrainConfig of the parsed training options, validated. An option given where it does
    not apply (the schema's Option.applies: --momentum with adamw, --warmup with a constant
    schedule, --init-step without --init run, ...; for a sweep, where no configuration of its
    ``grid`` makes it apply) or a bad value raises ConfigError naming the option."""
    from model.config import ConfigError, TrainConfig, importance_decay, schema

    opts = schema(TrainConfig)
    given = {o.name: getattr(a, o.key, None) for o in opts if o.cli}
    values = {o.name: o.default if given.get(o.name) is None else given[o.name] for o in opts}
    named = set(getattr(a, GIVEN, None) or ())
    preset = getattr(a, "preset", None)
    if preset is None and getattr(a, "preset_param", None):
        raise ConfigError("preset_param", "applies to --preset (a named experiment's parameters)")
    if preset is not None:  # the preset's values, replaced by the options given beside it
        from model.presets import preset_config

        given = {o.name: given[o.name] if o.key in named else None for o in opts if o.cli}
        params = preset_params(preset, a.preset_param)
        try:
            base = preset_config(preset, params)
        except ConfigError as exc:  # a parameter's own check (smdd's T) names the parameter
            if exc.field in params:
                raise ConfigError("preset_param", f"{exc.field}: {exc.message}") from None
            raise
        values = {**base.to_dict(), **{k: v for k, v in given.items() if v is not None}}
    for o in opts:  # given where it does not apply: refused rather than ignored
        why = not_applying(o, values, grid) if o.applies and o.key in named else None
        if why is not None:
            raise ConfigError(o.name, why)
    for o in opts:  # the importance options are given as a decay d: I_i = d**(i-1)
        decay = given.get(o.name) if o.kind == "importance" else None
        if decay is not None:
            why = o.range_problem(decay)
            if why is not None:
                raise ConfigError(o.key, why)
            n, n_opt = values["n"], next(p for p in opts if p.name == "n")
            # a bad n is named by validate(); no importance list is built for it
            values[o.name] = importance_decay(n, decay) if n_opt.problem(n) is None else None
    return TrainConfig(**values).validate()


def _flag(field: str) -> str:
    """The command-line flag of a config field (the schema's, e.g. --no-bias), else --FIELD."""
    from model.config import TrainConfig, schema

    for o in schema(TrainConfig):
        if field in (o.name, o.key):
            return o.flag
    return "--" + field.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="main.py", description="Latent geometry explorer: train and inspect toy ReLU autoencoders "
                "x' = ReLU(W^T W x + b). Without a command: the explorer window; with a run file: the window on that run.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    t = sub.add_parser("train", help="train K models, record their history to a run file",
                       description="Train K toy autoencoders at once, with a progress bar; print the final loss "
                       "and verdict (a summary table for K > 1); record the history to --out.")
    add_train_options(t)
    t.add_argument("--out", type=path_arg("--out"), default=None, help="run file to write (.h5); default: a new file in the user's data folder")
    t.add_argument("--force", action="store_true", help="replace --out if it exists (otherwise an existing file "
                   "is never touched)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    i = sub.add_parser("inspect", help="the analysis of one snapshot of a run file",
                       description="Analyse one snapshot of a saved run: per-feature norms, angles, biases, "
                       "dimensionality, reconstruction, the regularity figures and the verdict, and its outcome "
                       "(settled, stuck or moving: what the recorded history and the optimiser say of its future).")
    i.add_argument("run", type=path_arg("run"), help="run file (.h5)")
    i.add_argument("--step", type=int_arg("--step"), default=None, help="snapshot at or before this step (default: latest)")
    i.add_argument("--model", type=int_arg("--model"), default=0, help="which model of a batched run, 0-based")
    i.add_argument("--json", action="store_true", help="print exactly one JSON object")
    i.add_argument("--optimum", action="store_true",
                   help="also the local-optimum test: the gradient, the lowest curvatures of the loss (the latent "
                   "rotation set aside), whether the snapshot is a minimum, a saddle (with its escape direction), on "
                   "a ReLU kink or still moving, and the recorded step since which the diagnosis is unchanged "
                   "(slower: seconds; Lanczos above 600 parameters)")
    for mod in dict.fromkeys(EXTRA_COMMANDS.values()):  # each module once: it adds all its commands
        importlib.import_module(mod).add_parser(sub)
    return p


# ---------------------------------------------------------------------- train
class Trained:
    """What ``train_from_args`` did: the config, the trainer (its history and dataset), the run
    file, whether Ctrl+C stopped it, whether the file was published (it has a snapshot) and
    the messages about models whose loss became NaN/inf."""

    def __init__(self, cfg: TrainConfig, trainer: Trainer, out: str, interrupted: bool, published: bool,
                 committed_step: int | None, halted: list):
        self.cfg, self.trainer, self.out, self.interrupted = cfg, trainer, out, interrupted
        self.published, self.committed_step, self.halted = published, committed_step, halted


def train_from_args(a: argparse.Namespace, bar_class: Callable | None = None,
                    config: TrainConfig | None = None) -> Trained:
    """``train``'s work without its printing, for the command and the Python API: the config
    of the parsed options, the memory check, the run file (--out or a new one in the user's
    data folder) written while training, Ctrl+C as a request to stop, a progress bar of
    ``bar_class`` (default tqdm; the API passes tqdm.auto's) unless --quiet. ``config``: a
    validated config to train instead of the options' (the API's re-run of a sweep's model)."""
    import numpy as np

    from model.storage.runfile import RunWriter, autosave_path
    from model.training.data import make_dataset
    from model.training.engine import Trainer, check_memory
    from model.training.init import initial_parameters
    from model.training.recording import RunFileRecorder

    if bar_class is None:
        from tqdm import tqdm as bar_class
    cfg = config_from_args(a) if config is None else config.validate()
    if a.out is not None:
        check_run_out(a.out, a.force)
    check_memory(cfg)  # before anything is allocated: a run that cannot fit is refused, naming why
    out = a.out if a.out is not None else str(autosave_path(cfg))
    dataset = make_dataset(cfg)
    initial = initial_parameters(cfg)  # before the file opens: a bad --init-run leaves no empty file
    halted_msgs = []
    # the file appears under its name with its first snapshot (RunWriter); a run stopped
    # before that, or that cannot write it, leaves none
    with (Interrupt() as intr,
          RunWriter(out, cfg, dataset=dataset, K=cfg.models, m=cfg.m, n=cfg.n, overwrite=a.force) as writer):
        trainer = Trainer(cfg, recorders=[RunFileRecorder(writer)], threads=a.threads, initial=initial,
                          dataset=dataset)
        intr.add(trainer.request_stop)
        bar = bar_class(total=cfg.steps, unit="step", disable=a.quiet, file=sys.stderr, dynamic_ncols=True)

        def progress(p):
            bar.update(p.step - bar.n)
            live = p.loss[np.isfinite(p.loss)]
            if live.size:
                bar.set_postfix_str(f"loss {np.median(live):.3g}" + (" (median)" if cfg.models > 1 else ""))
            for k, s in p.halted.items():
                halted_msgs.append(f"model {k}: loss became NaN/inf at step {s}; its history stops at its "
                                   f"last finite snapshot")

        from model.analysis.outcome import decide_hook

        try:
            at_steps, on_step = decide_hook(cfg)  # until_decided: stop once every model is settled or stuck
            trainer.run(progress, at_steps=at_steps, on_step=on_step)
        finally:
            bar.close()
    return Trained(cfg, trainer, out, intr.requested, writer.published, writer.committed_step, halted_msgs)


def cmd_train(a: argparse.Namespace) -> int:
    from model.analysis.analysis import analyze

    t = train_from_args(a)
    cfg, trainer, out = t.cfg, t.trainer, t.out
    for msg in t.halted:
        print(msg, file=sys.stderr)
    if trainer.decided_at is not None and trainer.decided_at < cfg.steps:
        print(f"stopped at step {trainer.decided_at:,} of {cfg.steps:,}: every model is settled or stuck "
              f"(--until-decided)", file=sys.stderr)
    h = trainer.history
    if t.interrupted:
        if t.published:
            say(f"interrupted at step {trainer.step:,} of {cfg.steps:,}: the history up to step "
                f"{t.committed_step:,} is saved in {out}")
        else:
            say("interrupted before the first snapshot: nothing was saved")
        return EXIT_INTERRUPTED
    onehot = cfg.onehot
    if cfg.models == 1:
        snap = h.snapshot(model=0)
        an = analyze(snap, onehot=onehot)
        from model.analysis.analysis import format_analysis

        print(format_analysis(an))
    else:
        verdicts = {}
        rows = []
        for k in range(cfg.models):  # the verdict only: separability and sensitivity do not decide it
            an = analyze(h.snapshot(model=k), onehot=onehot, extras=False)
            verdicts[an.verdict] = verdicts.get(an.verdict, 0) + 1
            rows.append((k, cfg.seed + k, an.loss, an.verdict))
        print(f"{'model':>6} {'seed':>6} {'loss':>12}  verdict")
        shown = rows if len(rows) <= 20 else rows[:10] + rows[-5:]
        for i, (k, s, loss, v) in enumerate(shown):
            if len(rows) > 20 and i == 10:
                print(f"{'...':>6}")
            print(f"{k:>6} {s:>6} {loss:>12.6g}  {v}")
        print("summary: " + ", ".join(f"{v} {c}/{cfg.models}" for v, c in sorted(verdicts.items())))
    print(f"run saved: {out}")
    return 0


# -------------------------------------------------------------------- inspect
def cmd_inspect(a: argparse.Namespace) -> int:
    from model.analysis.analysis import analyze, format_analysis
    from model.analysis.outcome import outcome_of, outcome_words
    from model.storage.runfile import open_run

    run = open_run(a.run)
    snap = run_snapshot(run, a)
    an = analyze(snap, onehot=run.config.onehot, extras=True)  # separability and sensitivity at any n
    # the outcome reads the run's history up to this step and its optimiser (model/analysis/outcome.py)
    out = outcome_of(run.history, run.config, a.model, snap.step, full=a.optimum)
    opt = optimum_report(run, snap, a.model) if a.optimum else None
    if a.json:
        print(json.dumps(inspect_report(run, snap, an, a.model, opt, a.run, outcome=out), allow_nan=False))
    else:
        print(format_analysis(an))
        print(f"outcome: {outcome_words(an.verdict, out['kind'])}: {out['text'].split(': ', 1)[-1]}")
        if opt is not None:
            print("")
            print("local optimum: " + opt["text"])
            print("stable since: " + opt["stable_since"]["text"])
    return 0


def inspect_report(run: Run, snap: Snapshot, an: Analysis, model: int, optimum: dict | None = None,
                   path: str | None = None, outcome: dict | None = None) -> dict:
    """What ``inspect --json`` prints for ``snap`` (model ``model`` of ``run``) and its analysis
    ``an``: the analysis' JSON form with the model, the run file, its outcome (``outcome``, computed
    here from the run's history when not given: model.analysis.outcome.outcome_of) and, when computed, the
    local optimum. The Python API's ``Run.diagnose`` reads the same dict."""
    from model.analysis.outcome import outcome_of, outcome_words

    d = an.to_dict()
    d.setdefault("model", int(model))
    d.setdefault("run", str(run.path if path is None else path))
    if outcome is None:
        outcome = outcome_of(run.history, run.config, model, snap.step, full=optimum is not None)
    d["outcome"] = outcome
    d["verdict_outcome_text"] = outcome_words(an.verdict, outcome["kind"])
    if optimum is not None:
        d["local_optimum"] = optimum
    return d


def run_snapshot(run: Run, a: argparse.Namespace, prog: str = "") -> Snapshot:
    """The snapshot --step/--model name in a run file opened for inspect or probe; a model
    the run does not have or a negative step is one line (prog: the message's prefix)."""
    cfg = run.config
    if not 0 <= a.model < cfg.models:
        raise CliError(f"{prog}--model must be from 0 to {cfg.models - 1} for {a.run}, got {a.model}")
    if a.step is not None and a.step < 0:
        raise CliError(f"{prog}--step must be >= 0, got {a.step}")
    snap = run.history.snapshot(step=a.step, model=a.model)
    check_finite(snap, run.history, a.run, prog)
    return snap


def check_finite(snap: Snapshot, history: History, path: object, prog: str = "") -> None:
    """A snapshot whose parameters are not finite is one line naming where, and the last recorded
    step before it that is finite (nothing is analysed, probed or drawn from NaN or inf)."""
    if snap.finite:
        return
    from model.storage.runfile import nonfinite_problem

    before = history.last_finite_step(snap.model, snap.step - 1)
    raise CliError(f"{prog}{path}: {nonfinite_problem(snap, before)}")


def optimum_report(run: Run, snap: Snapshot, model: int) -> dict:
    """inspect --optimum: model.analysis.optimum's test on the snapshot, the recorded step since which
    the diagnosis is unchanged (model.analysis.story), and whether what the loss could still lose is
    below what float32 training resolves."""
    import numpy as np

    from model.analysis.optimum import coupled_l2, local_optimum
    from model.analysis.probe import objective_for
    from model.analysis.story import stable_since

    cfg = run.config
    obj = objective_for(cfg, run.dataset, model)
    res = local_optimum(snap, obj, bias=cfg.bias, l2=coupled_l2(cfg), threads=1)
    d = res.to_dict()
    text = res.describe()
    # Training runs in float32: a loss that can fall by less than half a float32 ulp of
    # itself is, for that training, as good as stuck (the parameters stop changing).
    loss = float(res.loss)
    res32 = 0.5 * float(np.spacing(np.float32(loss))) if math.isfinite(loss) else float("nan")
    d["float32_loss_resolution"] = res32 if math.isfinite(res32) else None
    below = res.kind == "moving" and math.isfinite(res.loss_drop) and res.loss_drop < res32
    d["below_float32"] = bool(below)
    if below:
        text += (f"\n  the loss can fall by only {res.loss_drop:.2g} before the next kink, below the float32 "
                 f"resolution of the loss ({res32:.2g}): float32 training is as good as stuck here")
    since = stable_since(run.history, snap.step, model, cfg.onehot)
    d["stable_since"] = since.to_dict()
    d["stable_since"]["text"] = since.describe()
    d["text"] = text
    return d


def _out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or torch's allocation failure (a RuntimeError)."""
    if isinstance(exc, MemoryError):
        return True
    low = str(exc).lower()
    return isinstance(exc, RuntimeError) and "alloc" in low and "memory" in low


def _run(argv) -> int:
    from model.config import ConfigError
    from model.storage.outfile import RunFileError  # light: the parser path imports no h5py

    _COMMAND[0] = argv[0] if argv and argv[0] in COMMANDS else None
    try:
        if not argv or (len(argv) == 1 and not argv[0].startswith("-") and argv[0] not in COMMANDS):
            from app.gui import run_gui

            return run_gui(argv[0] if argv else None)
        a = build_parser().parse_args(argv)
        if a.command == "train":
            return cmd_train(a)
        if a.command == "inspect":
            return cmd_inspect(a)
        if a.command in EXTRA_COMMANDS:
            return importlib.import_module(EXTRA_COMMANDS[a.command]).run(a)
        build_parser().print_help()
        return EXIT_USAGE
    except CliError as e:
        say(e)
        return e.status
    except ConfigError as e:  # every bad option, on one line
        say("; ".join(f"{_flag(f)}: {m}" for f, m in e.errors))
    except RunFileError as e:
        say(e)
        return e.status
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED
    except (MemoryError, RuntimeError) as e:
        if not _out_of_memory(e):
            raise
        say("out of memory: this run needs more memory than the machine could give "
            "(lower n, --models, --examples, --batch or --history-budget-mb)")
        return EXIT_FAILURE
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status. A reader that closes the pipe early
    (``main.py inspect run.h5 --json | head -c 10``) ends the command quietly: Python's
    recipe, stdout pointed at /dev/null so that the interpreter's final flush is quiet."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        status = _run(argv)
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        return status
    except BrokenPipeError:
        import os

        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_FAILURE
