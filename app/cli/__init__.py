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
from typing import Optional, Sequence

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

    def __init__(self, *stops):
        self.stops = list(stops)
        self.requested = False
        self._previous = None

    def add(self, stop) -> None:
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

    def __enter__(self) -> "Interrupt":
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


def check_out(path, force: bool, what: str = "--out") -> None:
    """Refuse, before any work, an output path that cannot be written: an existing file
    unless --force (one rule for every command that writes), a folder, a missing folder."""
    from model.outfile import check_target, problem

    try:
        check_target(path, force)
    except FileExistsError:
        raise CliError(f"main.py: {what}: {path} already exists; pass --force to replace it") from None
    except OSError as exc:
        raise CliError(f"main.py: {what}: {problem(exc, f'write {path}')}") from None


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        # argparse says "argument --n: <why>"; the project's form is "--n: <why>"
        message = re.sub(r"^argument ([^:]+): ", r"\1: ", " ".join(str(message).split()))
        raise CliError(f"{self.prog}: {message}")


def _int_arg(name, lo: Optional[int] = None, hi: Optional[int] = None):
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


def _path_arg(name):
    """argparse type: a file name, never empty (an empty one would mean the current folder)."""
    def conv(text):
        if not str(text).strip():
            raise argparse.ArgumentTypeError(f"needs a file name, got {text!r}")
        return text
    return conv


#: --threads: at least one; more than the machine has is clamped to its cores by the engine.
MAX_THREADS = 1024


def add_threads_option(p) -> None:
    p.add_argument("--threads", type=_int_arg("--threads", 1, MAX_THREADS), default=None,
                   help=f"CPU threads, 1..{MAX_THREADS} (default: all cores)")


def _float_arg(name):
    def conv(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        return v
    return conv


def _add_train_options(p: argparse.ArgumentParser):
    from model.config import DATA_KINDS, DEFAULT_WEIGHT_DECAY, INITS, OPTIMIZERS, SCHEDULES, TrainConfig

    d = TrainConfig()
    g = p.add_argument_group("model and data")
    g.add_argument("--n", type=_int_arg("--n"), default=d.n, help=f"features, 1..100000 (default {d.n})")
    g.add_argument("--m", type=_int_arg("--m"), default=d.m, help=f"latent dimensions (default {d.m})")
    g.add_argument("--data", choices=DATA_KINDS, default=d.data, help="identity: the n one-hot examples; "
                   "sparse: entries 0 with probability S else uniform (0,1], unit-norm rows")
    g.add_argument("--sparsity", type=_float_arg("--sparsity"), default=d.sparsity, help="S in [0, 1) (sparse data)")
    g.add_argument("--examples", type=_int_arg("--examples"), default=None,
                   help="T, a finite training set fixed by the seed (sparse data); omit for a fresh batch every step")
    g.add_argument("--batch", type=_int_arg("--batch"), default=None,
                   help="batch size (default: full batch for finite sets, 1024 for fresh data)")
    g.add_argument("--importance-decay", type=_float_arg("--importance-decay"), default=None,
                   help="per-feature importance I_i = decay**(i-1) (default: all 1)")
    g.add_argument("--no-bias", action="store_true", help="train without a bias (b = 0)")
    g.add_argument("--untied", action="store_true", help="untied decoder: x' = ReLU(M W x + b)")
    o = p.add_argument_group("optimisation")
    o.add_argument("--steps", type=_int_arg("--steps"), default=d.steps, help=f"training steps (default {d.steps})")
    o.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help="default adamw")
    o.add_argument("--lr", type=_float_arg("--lr"), default=d.lr, help=f"learning rate > 0 (default {d.lr:g})")
    o.add_argument("--weight-decay", type=_float_arg("--weight-decay"), default=None,
                   help=">= 0; decoupled for adamw, L2 for adam and sgd (default: the optimiser's own, as in "
                        "torch: " + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_WEIGHT_DECAY.items()) + ")")
    o.add_argument("--momentum", type=_float_arg("--momentum"), default=d.momentum, help="sgd momentum in [0, 1)")
    o.add_argument("--schedule", choices=SCHEDULES, default=d.schedule,
                   help="constant, or linear warm-up then cosine decay to 0")
    o.add_argument("--warmup", type=_int_arg("--warmup"), default=d.warmup, help="warm-up steps")
    o.add_argument("--seed", type=_int_arg("--seed"), default=d.seed, help="model k uses seed + k")
    o.add_argument("--models", type=_int_arg("--models"), default=d.models, help="K models trained at once")
    o.add_argument("--init", choices=INITS, default=d.init,
                   help="xavier (normal), analytic (Henighan's n-gon, m = 2), run (continue a saved run)")
    o.add_argument("--init-run", type=_path_arg("--init-run"), default=None, help="saved run file for --init run")
    o.add_argument("--init-step", type=_int_arg("--init-step"), default=None,
                   help="snapshot at or before this step of --init-run (default: latest)")
    o.add_argument("--init-model", type=_int_arg("--init-model"), default=None,
                   help="model of --init-run to start from, 0-based (default 0)")
    o.add_argument("--history-budget-mb", type=_float_arg("--history-budget-mb"), default=d.history_budget_mb,
                   help="MB of memory for recording the run: the history (thinned as training goes on), the "
                   "rows in flight and the run file's write buffer; not the model, its data or the libraries. "
                   "The run file holds the rows the history ends with: about this size, however many steps")
    add_threads_option(o)


def config_from_args(a):
    from model.config import ConfigError, TrainConfig, importance_decay

    if a.init != "run":  # options of --init run given without it: refused rather than ignored
        for given, name in ((a.init_run, "init_run"), (a.init_step, "init_step"), (a.init_model, "init_model")):
            if given is not None:
                raise ConfigError(name, f"applies to --init run (starting from a saved run), but --init is {a.init}")
    if a.data == "identity" and a.examples is not None:
        raise ConfigError("examples", "applies to --data sparse (identity data is the n one-hot examples)")
    cfg = TrainConfig(
        n=a.n, m=a.m, data=a.data, sparsity=a.sparsity, examples=a.examples, batch=a.batch,
        steps=a.steps, optimizer=a.optimizer, lr=a.lr, weight_decay=a.weight_decay, momentum=a.momentum,
        schedule=a.schedule, warmup=a.warmup, seed=a.seed, models=a.models, init=a.init,
        init_run=a.init_run, init_step=a.init_step, init_model=a.init_model or 0, bias=not a.no_bias,
        untied=a.untied, history_budget_mb=a.history_budget_mb,
    )
    if a.importance_decay is not None:
        if not 0 < a.importance_decay <= 1:
            raise ConfigError("importance_decay", f"must be in (0, 1], got {a.importance_decay:g}")
        cfg.importance = importance_decay(cfg.n, a.importance_decay)
    return cfg.validate()


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="main.py", description="Latent geometry explorer: train and inspect toy ReLU autoencoders "
                "x' = ReLU(W^T W x + b). Without a command: the explorer window; with a run file: the window on that run.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    t = sub.add_parser("train", help="train K models, record their history to a run file",
                       description="Train K toy autoencoders at once, with a progress bar; print the final loss "
                       "and verdict (a summary table for K > 1); record the history to --out.")
    _add_train_options(t)
    t.add_argument("--out", type=_path_arg("--out"), default=None, help="run file to write (.h5); default: a new file in the user's data folder")
    t.add_argument("--force", action="store_true", help="replace --out if it exists (otherwise an existing file "
                   "is never touched)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    i = sub.add_parser("inspect", help="the analysis of one snapshot of a run file",
                       description="Analyse one snapshot of a saved run: per-feature norms, angles, biases, "
                       "dimensionality, reconstruction, the regularity figures and the verdict.")
    i.add_argument("run", type=_path_arg("run"), help="run file (.h5)")
    i.add_argument("--step", type=_int_arg("--step"), default=None, help="snapshot at or before this step (default: latest)")
    i.add_argument("--model", type=_int_arg("--model"), default=0, help="which model of a batched run, 0-based")
    i.add_argument("--json", action="store_true", help="print exactly one JSON object")
    i.add_argument("--optimum", action="store_true",
                   help="also the local-optimum test: the gradient, the lowest curvatures of the loss (the latent "
                   "rotation set aside), whether the snapshot is a minimum, a saddle (with its escape direction), on "
                   "a ReLU kink or still moving, and the recorded step since which the diagnosis is unchanged "
                   "(slower: seconds; Lanczos above 600 parameters)")
    for name, mod in EXTRA_COMMANDS.items():
        importlib.import_module(mod).add_parser(sub)
    return p


# ---------------------------------------------------------------------- train
def cmd_train(a) -> int:
    import numpy as np
    from tqdm import tqdm

    from model.analysis import analyze
    from model.engine import Trainer, check_memory
    from model.runfile import RunWriter, autosave_path

    cfg = config_from_args(a)
    from model.data import make_dataset
    from model.init import initial_parameters

    if a.out is not None:
        check_out(a.out, a.force)
    check_memory(cfg)  # before anything is allocated: a run that cannot fit is refused, naming why
    out = a.out if a.out is not None else str(autosave_path(cfg))
    dataset = make_dataset(cfg)
    initial = initial_parameters(cfg)  # before the file opens: a bad --init-run leaves no empty file
    halted_msgs = []
    with Interrupt() as intr:
        # the file appears under its name with its first snapshot (RunWriter); a run stopped
        # before that, or that cannot write it, leaves none
        with RunWriter(out, cfg, dataset=dataset, K=cfg.models, m=cfg.m, n=cfg.n, overwrite=a.force) as writer:
            trainer = Trainer(cfg, writer=writer, threads=a.threads, initial=initial, dataset=dataset)
            intr.add(trainer.request_stop)
            bar = tqdm(total=cfg.steps, unit="step", disable=a.quiet, file=sys.stderr, dynamic_ncols=True)

            def progress(p):
                bar.update(p.step - bar.n)
                live = p.loss[np.isfinite(p.loss)]
                if live.size:
                    bar.set_postfix_str(f"loss {np.median(live):.3g}" + (" (median)" if cfg.models > 1 else ""))
                for k, s in p.halted.items():
                    halted_msgs.append(f"model {k}: loss became NaN/inf at step {s}; its history stops at its "
                                       f"last finite snapshot")

            try:
                trainer.run(progress)
            finally:
                bar.close()
    for msg in halted_msgs:
        print(msg, file=sys.stderr)
    h = trainer.history
    if intr.requested:
        if writer.published:
            print(f"main.py: interrupted at step {trainer.step:,} of {cfg.steps:,}: the history up to step "
                  f"{writer.committed_step:,} is saved in {out}", file=sys.stderr)
        else:
            print("main.py: interrupted before the first snapshot: nothing was saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    onehot = cfg.data == "identity"
    if cfg.models == 1:
        snap = h.snapshot(model=0)
        an = analyze(snap, onehot=onehot)
        from model.analysis import format_analysis

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
def cmd_inspect(a) -> int:
    from model.analysis import analyze, format_analysis
    from model.runfile import open_run

    run = open_run(a.run)
    cfg = run.config
    if not 0 <= a.model < cfg.models:
        raise CliError(f"--model must be from 0 to {cfg.models - 1} for {a.run}, got {a.model}")
    if a.step is not None and a.step < 0:
        raise CliError(f"--step must be >= 0, got {a.step}")
    snap = run.history.snapshot(step=a.step, model=a.model)
    onehot = cfg.data == "identity"
    an = analyze(snap, onehot=onehot, extras=True)  # separability and sensitivity at any n
    opt = optimum_report(run, snap, a.model) if a.optimum else None
    if a.json:
        d = an.to_dict()
        d.setdefault("model", a.model)
        d.setdefault("run", a.run)
        if opt is not None:
            d["local_optimum"] = opt
        print(json.dumps(d, allow_nan=False))
    else:
        print(format_analysis(an))
        if opt is not None:
            print("")
            print("local optimum: " + opt["text"])
            print("stable since: " + opt["stable_since"]["text"])
    return 0


def optimum_report(run, snap, model: int) -> dict:
    """inspect --optimum: model.optimum's test on the snapshot, the recorded step since which
    the diagnosis is unchanged (model.story), and whether what the loss could still lose is
    below what float32 training resolves."""
    import numpy as np

    from model.optimum import coupled_l2, local_optimum
    from model.probe import objective_for
    from model.story import stable_since

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
    since = stable_since(run.history, snap.step, model, cfg.data == "identity")
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
    from model.outfile import RunFileError  # light: the parser path imports no h5py

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
        print(str(e), file=sys.stderr)
        return e.status
    except ConfigError as e:
        print(f"main.py: {_flag(e.field)}: {str(e).split(': ', 1)[1]}", file=sys.stderr)
    except RunFileError as e:
        print(f"main.py: {e}", file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        print("main.py: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (MemoryError, RuntimeError) as e:
        if not _out_of_memory(e):
            raise
        print("main.py: out of memory: this run needs more memory than the machine could give "
              "(lower n, --models, --examples or --batch)", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_USAGE


def main(argv: Optional[Sequence[str]] = None) -> int:
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
