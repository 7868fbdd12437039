"""`main.py figures --out DIR`: the seed's figures, reproduced (app.export.seed_figures).

Trains what the figures need (progress bar on stderr), then writes one PNG per
figure, named after the seed's caption, and ``index.md`` listing them with the
seed's captions and what this run shows. ``--quick`` or ``--steps-scale S``
shorten every training (the captions then say what the shorter runs reached).

The 3D figures need GL on an X server: without DISPLAY the command re-runs
itself under xvfb-run, as ``export`` does. Files already in DIR under the same
names are not overwritten without ``--force``. Every file is written to a
temporary file beside it and renamed when complete, and the index is rewritten
after each figure: Ctrl+C leaves complete files only, and an index that lists
exactly the figures written.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from app.cli import MAX_THREADS, CliError, float_arg, int_arg, say

MAX_SCALE = 10.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    if "figures" in sub.choices:
        return
    f = sub.add_parser("figures", help="the seed's figures, reproduced: one PNG each and an index",
                       description="Train the models the seed's figures show (a few minutes on two cores) and "
                       "write one PNG per figure, named after the seed's caption, and index.md with the captions "
                       "and what each trained model shows.")
    f.add_argument("--out", required=True, help="folder to write the figures into (created if missing)")
    g = f.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true",
                   help="a fast draft: 2%% of the training steps and a tiny dataset-size sweep")
    g.add_argument("--steps-scale", type=float_arg("--steps-scale"), default=None,
                   help=f"multiply every training's step count by S, 0 < S <= {MAX_SCALE:g} (default 1)")
    f.add_argument("--force", action="store_true", help="overwrite figures already in --out")
    f.add_argument("--threads", type=int_arg("--threads", 1, MAX_THREADS), default=1,
                   help="CPU threads per training (default 1: the models are small, and more threads only "
                        "wait on each other)")
    f.add_argument("--quiet", action="store_true", help="no progress bars")


def check_out(text: str, force: bool, names: Sequence[str]) -> Path:
    """The output folder (not created yet): refused if the name is empty, it is a file or a broken
    link, its parent is missing or not writable, or it holds files of these names and ``force``
    is off. Every refusal is one line (a name too long, a path /proc cannot hold: the reason)."""
    from model.storage.outfile import check_name, problem

    if not str(text).strip():
        raise CliError("main.py figures: --out: needs a folder name, got ''")
    out = Path(os.fspath(text)).expanduser()
    try:
        check_name(out)
        if out.is_symlink() and not out.exists():
            raise CliError(f"main.py figures: --out {out} is a broken symbolic link (it points to "
                           f"{os.readlink(out)}, which does not exist)")
        if out.exists() and not out.is_dir():
            raise CliError(f"main.py figures: --out {out} is a file, not a folder")
        parent = out.parent if str(out.parent) else Path(".")
        if not out.exists() and not parent.is_dir():
            raise CliError(f"main.py figures: --out {out}: the folder {parent} does not exist")
        where = out if out.exists() else parent
        if not os.access(where, os.W_OK | os.X_OK):
            raise CliError(f"main.py figures: --out {out}: permission denied")
        taken = [n for n in names if (out / n).exists() or (out / n).is_symlink()] if out.is_dir() else []
    except OSError as exc:
        raise CliError(f"main.py figures: --out: {problem(exc, f'write into {out}')}") from None
    if taken and not force:
        shown = ", ".join(taken[:3]) + (f" and {len(taken) - 3} more" if len(taken) > 3 else "")
        raise CliError(f"main.py figures: --out {out} already holds {shown}: pass --force to overwrite them")
    return out


def _make_folder(out: Path) -> None:
    """Create the output folder (one line when the system refuses: /proc, a read-only disk)."""
    from model.storage.outfile import is_disk_failure, problem

    try:
        out.mkdir(exist_ok=True)
    except OSError as exc:
        raise CliError(f"main.py figures: --out: {problem(exc, f'create the folder {out}')}",
                       1 if is_disk_failure(exc) else 2) from None


def run(a: argparse.Namespace) -> int:
    from app.export import seed_figures as sf

    if a.steps_scale is not None and not 0 < a.steps_scale <= MAX_SCALE:
        raise CliError(f"main.py figures: --steps-scale must be > 0 and <= {MAX_SCALE:g}, got {a.steps_scale:g}")
    names = [s.file for s in sf.FIGURES] + [sf.INDEX]
    out = check_out(a.out, a.force, names)
    from app.cli.export import prepare_display, qt_app

    prepare_display(True)  # the 3D figures need GL: under xvfb-run when there is no display
    qt_app()
    scale = 0.02 if a.quick else (a.steps_scale or 1.0)
    t0 = time.monotonic()
    _make_folder(out)
    written = []
    from app.export.figure import ExportError

    try:
        with sf.temp_folder() as tmp:
            runs = sf.Runs(Path(tmp))
            _train(sf, runs, scale, a)
            _draw(sf, runs, out, scale, a, written)
    except ExportError as exc:  # a figure that cannot be written (a full disk): what was written stays
        raise CliError(f"main.py figures: {exc}; {len(written)} of {len(sf.FIGURES)} figures were written to "
                       f"{out} ({sf.INDEX} lists them)", exc.status) from None
    except KeyboardInterrupt:
        say(f"interrupted: {len(written)} of {len(sf.FIGURES)} figures written to {out} "
            f"(complete files only; {sf.INDEX} lists them)")
        return 130
    print(f"wrote {len(written)} figures and {sf.INDEX} to {out} in {time.monotonic() - t0:.0f} s"
          + ("" if scale == 1.0 else f" (steps x{scale:g})"))
    return 0


class _NoBar:
    """--quiet: no bar (a disabled tqdm would still start its monitor thread)."""

    def update(self, k=1):
        pass

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass


def _bar(total, unit, desc, quiet):
    if quiet:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, dynamic_ncols=True)


def _train(sf, runs, scale, a):
    configs = sf.run_configs(scale)
    base, sizes, test_examples = sf.datasize_plan(a.quick, scale)
    total = sum(c.steps * c.models for c in configs.values()) + base.steps * len(sizes)
    bar = _bar(total, "step", "training", a.quiet)

    def tick(k, per=1):
        bar.update(k * per)

    try:
        for key, cfg in configs.items():
            bar.set_postfix_str(f"{key}: {cfg.optimizer}, {cfg.steps:,} steps" + (f" x {cfg.models} models"
                                                                                   if cfg.models > 1 else ""))
            sf.train_all({key: cfg}, runs, a.threads, lambda k, m=cfg.models: tick(k, m))
        bar.set_postfix_str(f"T-gons: n = {base.n:,}, T = {', '.join(map(str, sizes))}")
        runs.datasize = sf.train_datasize(base, sizes, test_examples, a.threads, tick)
    finally:
        bar.close()


def _draw(sf, runs, out, scale, a, written):
    base = runs.datasize.base
    note = (f"Training steps: {'full (as listed)' if scale == 1.0 else f'x{scale:g} of the full counts'}; the "
            f"T-gons at a reduced scale (n = {base.n:,}, {base.steps:,} steps). Trained and drawn in this "
            f"run; the numbers below are measured from its models.")
    bar = _bar(len(sf.FIGURES), "figure", "figures", a.quiet)
    try:
        for spec in sf.FIGURES:
            bar.set_postfix_str(spec.file)
            img, text = spec.draw(runs, spec.size)
            sf.write_image(img, out / spec.file, replace=a.force)
            # the index is rewritten after each figure: from the second write on it is this run's own
            sf.write_text(sf.index_markdown(written + [(spec, text)], note), out / sf.INDEX,
                          replace=a.force or bool(written))
            written.append((spec, text))
            bar.update(1)
    finally:
        bar.close()
