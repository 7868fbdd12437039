"""Headless command line: `main.py train`, `main.py inspect`.

Bad arguments or files: one line naming the argument or file and what is
allowed, exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from typing import Optional, Sequence

EXIT_USAGE = 2
#: Commands beyond train/inspect live in their own modules: name -> module. Each
#: module has ``add_parser(sub)`` (adds its subparser to the argparse
#: subparsers ``sub``) and ``run(args) -> int``; raising CliError (or the core's
#: ConfigError / RunFileError) gives the one-line message and exit status 2.
EXTRA_COMMANDS = {"export": "app.cli_export", "animate": "app.cli_export",
                  "sweep": "app.cli_experiments", "probe": "app.cli_experiments", "datasize": "app.cli_experiments",
                  "figures": "app.cli_figures"}
COMMANDS = ("train", "inspect") + tuple(EXTRA_COMMANDS)


class CliError(Exception):
    """A user-facing error: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        raise CliError(f"{self.prog}: {message}")


def _int_arg(name):
    def conv(text):
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, got {text!r}") from None
    return conv


def _float_arg(name):
    def conv(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number, got {text!r}")
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
    o.add_argument("--init-run", default=None, help="saved run file for --init run")
    o.add_argument("--init-step", type=_int_arg("--init-step"), default=None,
                   help="snapshot at or before this step of --init-run (default: latest)")
    o.add_argument("--init-model", type=_int_arg("--init-model"), default=0,
                   help="model of --init-run to start from, 0-based")
    o.add_argument("--history-budget-mb", type=_float_arg("--history-budget-mb"), default=d.history_budget_mb,
                   help="memory budget of the recorded history")
    o.add_argument("--threads", type=_int_arg("--threads"), default=None, help="CPU threads (default: all)")


def config_from_args(a):
    from model.config import ConfigError, TrainConfig, importance_decay

    cfg = TrainConfig(
        n=a.n, m=a.m, data=a.data, sparsity=a.sparsity, examples=a.examples, batch=a.batch,
        steps=a.steps, optimizer=a.optimizer, lr=a.lr, weight_decay=a.weight_decay, momentum=a.momentum,
        schedule=a.schedule, warmup=a.warmup, seed=a.seed, models=a.models, init=a.init,
        init_run=a.init_run, init_step=a.init_step, init_model=a.init_model, bias=not a.no_bias,
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
    t.add_argument("--out", default=None, help="run file to write (.h5); default: a new file in the user's data folder")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    i = sub.add_parser("inspect", help="the analysis of one snapshot of a run file",
                       description="Analyse one snapshot of a saved run: per-feature norms, angles, biases, "
                       "dimensionality, reconstruction, the regularity figures and the verdict.")
    i.add_argument("run", help="run file (.h5)")
    i.add_argument("--step", type=_int_arg("--step"), default=None, help="snapshot at or before this step (default: latest)")
    i.add_argument("--model", type=_int_arg("--model"), default=0, help="which model of a batched run, 0-based")
    i.add_argument("--json", action="store_true", help="print exactly one JSON object")
    for name, mod in EXTRA_COMMANDS.items():
        importlib.import_module(mod).add_parser(sub)
    return p


# ---------------------------------------------------------------------- train
def cmd_train(a) -> int:
    import numpy as np
    from tqdm import tqdm

    from model.analysis import analyze
    from model.engine import Trainer
    from model.runfile import RunWriter, autosave_path

    cfg = config_from_args(a)
    from model.data import make_dataset
    from model.init import initial_parameters

    out = a.out or str(autosave_path(cfg))
    dataset = make_dataset(cfg)
    initial = initial_parameters(cfg)  # before the file opens: a bad --init-run leaves no empty file
    with RunWriter(out, cfg, dataset=dataset, K=cfg.models, m=cfg.m, n=cfg.n) as writer:
        trainer = Trainer(cfg, writer=writer, threads=a.threads, initial=initial, dataset=dataset)
        bar = tqdm(total=cfg.steps, unit="step", disable=a.quiet, file=sys.stderr, dynamic_ncols=True)
        halted_msgs = []

        def progress(p):
            bar.update(p.step - bar.n)
            live = p.loss[np.isfinite(p.loss)]
            if live.size:
                bar.set_postfix_str(f"loss {np.median(live):.3g}" + (" (median)" if cfg.models > 1 else ""))
            for k, s in p.halted.items():
                halted_msgs.append(f"model {k}: loss became NaN/inf at step {s}; its history stops at its last "
                                   f"finite snapshot")

        try:
            trainer.run(progress)
        except KeyboardInterrupt:
            trainer.request_stop()
            print("interrupted: the history so far is saved", file=sys.stderr)
        bar.close()
    for msg in halted_msgs:
        print(msg, file=sys.stderr)
    h = trainer.history
    onehot = cfg.data == "identity"
    if cfg.models == 1:
        snap = h.snapshot(model=0)
        an = analyze(snap, onehot=onehot)
        from model.analysis import format_analysis

        print(format_analysis(an))
    else:
        verdicts = {}
        rows = []
        for k in range(cfg.models):
            an = analyze(h.snapshot(model=k), onehot=onehot)
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
    an = analyze(snap, onehot=cfg.data == "identity")
    if a.json:
        d = an.to_dict()
        d.setdefault("model", a.model)
        d.setdefault("run", a.run)
        print(json.dumps(d, allow_nan=False))
    else:
        print(format_analysis(an))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from model.config import ConfigError

    try:
        from model.runfile import RunFileError
    except Exception:  # pragma: no cover
        RunFileError = OSError  # type: ignore
    try:
        if not argv or (len(argv) == 1 and not argv[0].startswith("-") and argv[0] not in COMMANDS):
            from .gui import run_gui

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
    except ConfigError as e:
        print(f"main.py: {_flag(e.field)}: {str(e).split(': ', 1)[1]}", file=sys.stderr)
    except RunFileError as e:
        print(f"main.py: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print("main.py: interrupted", file=sys.stderr)
        return 130
    return EXIT_USAGE
