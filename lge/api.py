"""The Python API: the command line's commands as functions that return objects.

    import lge
    run = lge.train(preset="seed-failure", steps=25_000)       # a Run (saved to a run file)
    run.diagnose()                                             # verdict, findings, outcome: typed
    run.figure("plane3d", axes=(2, 3, 1))                      # shown inline in Jupyter
    sw = lge.sweep(preset="seed-failure", models=1000, steps=20_000)
    sw.frame                                                   # one row per model (pandas)

One source of truth: the keywords of ``train``, ``sweep`` and ``datasize`` are the schema's
training options (model.config.schema(), the same as the form and the command line's flags,
``--weight-decay`` is ``weight_decay=``) followed by each command's own (``COMMAND_OPTIONS``:
out, force, quiet, threads, preset, preset_param, ...). Each call fills the command line's
own parsed options (app.cli's parser: its defaults, datasize's SMDD ones included) with the
keywords, checks each with the flag's own type and choices, and runs the command's own code
(``train_from_args``, ``sweep_from_args``, ``datasize_from_args``, ``compute_probe``), so a
value is accepted or refused exactly as on the command line: a bad one raises ``ConfigError``
naming the keyword, in one line. Everything but drawing is free of Qt; figures are drawn by
the exporter's renderer off screen (the 3D view needs an X display, as on the command line).
"""
from __future__ import annotations

import argparse
import base64
import html
import inspect
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from model.config import ConfigError, schema

if TYPE_CHECKING:
    import pandas as pd

    from model.config import TrainConfig
    from model.experiments.datasize import DataSizeSweep
    from model.experiments.sweep import Sweep
    from model.history import History
    from model.snapshot import Snapshot
    from model.storage.runfile import Run as FileRun

PathLike = Union[str, "os.PathLike[str]"]

#: Each command's own keywords beside the training options of the schema: the command line's
#: options of the same names (``--preset-param`` is ``preset_param=``, a dict or KEY=VALUE texts).
COMMAND_OPTIONS: dict[str, tuple[str, ...]] = {
    "train": ("threads", "out", "force", "quiet", "preset", "preset_param"),
    "sweep": ("threads", "out", "force", "quiet", "preset", "preset_param", "grid", "cluster"),
    "datasize": ("threads", "out", "force", "quiet", "preset", "preset_param", "sizes", "test_examples",
                 "max_memory_gb", "cluster"),
}
#: probe's keywords: the command line's probe options that compute the probe (its continuation,
#: --out and --figure are the command line's; ``ProbeResult.figure`` draws the view).
PROBE_OPTIONS = ("step", "model", "path", "feature", "direction", "seed", "range", "points", "threads")
#: The command line's options that have no meaning for a function that returns objects.
CLI_ONLY = ("json",)


class LgeError(Exception):
    """A refusal that is not one training option's: a file that exists or cannot be read, a view
    that needs a display, an interrupted run. ``str()`` is one line; ``status`` as the command
    line's exit status (2: the input, 1: the machine)."""

    def __init__(self, message: str, status: int = 2):
        self.status = int(status)
        super().__init__(" ".join(str(message).split()))


# ================================================================ options
def options(command: str = "train") -> tuple[str, ...]:
    """The keywords ``train``, ``sweep`` or ``datasize`` accept: the schema's training options
    (by their command-line names: ``importance_decay``, ``bias``), then the command's own."""
    if command == "probe":
        return PROBE_OPTIONS
    return tuple(o.key for o in schema() if o.cli) + COMMAND_OPTIONS[command]


def _subparser(command: str) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    from app.cli import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, subs.choices[command]


def _plain(message: str) -> str:
    """A command-line message in the API's words: without its "main.py command: " prefix, flags
    named as keywords (``--out`` is ``out``, ``--force`` is ``force``)."""
    import re

    message = re.sub(r"^main\.py( [a-z]+)?: ", "", message)
    return re.sub(r"(?<![\w-])--([a-z][a-z0-9-]*)", lambda m: m.group(1).replace("-", "_"), message)


def _call(fn: Callable, *args: Any) -> Any:
    """``fn(*args)`` with the command line's one-line errors raised as LgeError (ConfigError and
    the file errors, already one line and naming their field or file, pass through)."""
    from app.cli import CliError

    try:
        return fn(*args)
    except CliError as exc:
        raise LgeError(_plain(str(exc)), exc.status) from None


def _typed(action: argparse.Action, key: str, value: Any) -> Any:
    """``value`` for the parsed option ``action``, checked with the flag's own type and choices."""
    if value is None:
        return None
    if action.nargs == 0:  # a switch: --force, --quiet, --no-bias
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false, got {value!r}")
        return value
    if isinstance(action, argparse._AppendAction):
        if isinstance(value, Mapping):
            if key == "preset_param":
                return dict(value)
            return [f"{k}={','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}" for k, v in value.items()]
        return [value] if isinstance(value, str) else [str(v) for v in value]
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, (list, tuple)) and key in ("sizes", "range"):
        value = ",".join(str(v) for v in value)
    if isinstance(value, bool) and action.choices is None:
        raise ConfigError(key, f"must be {'a number' if action.type else 'text'}, got {value!r}")
    if action.choices is not None and value not in action.choices:
        raise ConfigError(key, f"must be one of {', '.join(map(str, action.choices))}, got {value!r}")
    if callable(action.type) and isinstance(value, (str, int, float)):  # this parser's types are functions
        try:
            return action.type(value if isinstance(value, str) else repr(value))
        except argparse.ArgumentTypeError as exc:
            raise ConfigError(key, str(exc)) from None
    return value


def _namespace(command: str, argv: Sequence[str], kwargs: Mapping[str, Any], allowed: Sequence[str]
               ) -> argparse.Namespace:
    """The command line's parsed options of ``command`` (its defaults, from ``argv``), with the
    keywords ``kwargs`` put in, each checked as its flag checks it."""
    from app.cli import GIVEN

    unknown = [k for k in kwargs if k not in allowed]
    if unknown:
        raise ConfigError(unknown[0], f"is not an option of {command}() (allowed: {', '.join(allowed)})")
    parser, sub = _subparser(command)
    ns = _call(parser.parse_args, [command, *argv])
    actions = {a.dest: a for a in sub._actions}
    for key, value in kwargs.items():
        setattr(ns, key, _typed(actions[key], key, value))
    setattr(ns, GIVEN, {k for k, v in kwargs.items() if v is not None})
    return ns


def _bar() -> Callable:
    """tqdm's class for where this runs: a widget in Jupyter, text in a terminal."""
    from tqdm.auto import tqdm

    return tqdm


def _signature(command: str) -> inspect.Signature:
    """The keyword-only signature of a command (help(), Jupyter's tooltips), from the schema."""
    params = []
    for o in schema():
        if o.cli:
            default = None if o.kind == "importance" or o.applies else o.default
            params.append(inspect.Parameter(o.key, inspect.Parameter.KEYWORD_ONLY, default=default))
    for k in COMMAND_OPTIONS[command]:
        params.append(inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY,
                                        default=False if k in ("force", "quiet") else None))
    return inspect.Signature(params)


def _options_doc() -> str:
    lines = ["", "Training options (the command line's flags, '-' as '_'):"]
    for o in schema():
        if o.cli:
            lines.append(f"    {o.key}: {o.help} ({o.allowed()}; default {o.default})")
    return "\n".join(lines)


# ================================================================ typed diagnosis
@dataclass(frozen=True)
class Finding:
    """One finding of a diagnosis (inspect --json's ``findings``): its kind, the features it is
    about (1-based), the sentence, the evidence, and how far it is from not holding."""

    kind: str
    features: tuple[int, ...]
    text: str
    evidence: dict[str, Any] = field(default_factory=dict)
    margin: float | None = None
    margin_unit: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finding:
        return cls(kind=str(d["kind"]), features=tuple(int(i) for i in d.get("features", ())), text=str(d.get("text", "")),
                   evidence=dict(d.get("evidence") or {}), margin=d.get("margin"), margin_unit=str(d.get("margin_unit") or ""))


@dataclass(frozen=True)
class Outcome:
    """Where training is headed (settled, stuck, moving), as ``inspect --json``'s ``outcome`` says
    it: ``name``, its ``text`` and the rest of what it reports as ``evidence``."""

    name: str
    text: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, value: Any) -> Outcome | None:
        if value is None:
            return None
        if isinstance(value, str):
            return cls(value)
        d = dict(value)
        name = next((str(d[k]) for k in ("outcome", "name", "kind") if isinstance(d.get(k), str)), "")
        return cls(name, str(d.get("text", "")), d)


@dataclass(frozen=True)
class Diagnosis:
    """One model at one step, diagnosed: the same data as ``main.py inspect --json`` (``raw`` is
    that object; ``to_dict()`` returns it). Features are 1-based, as the command line prints them."""

    step: int
    model: int
    loss: float | None
    verdict: str
    verdict_text: str
    verdict_margins: dict[str, float | None]
    findings: tuple[Finding, ...]
    outcome: Outcome | None
    dead: tuple[int, ...]
    dead_outputs: tuple[int, ...]
    reconstructed: tuple[int, ...]
    features: tuple[dict[str, Any], ...]
    regularity: dict[str, Any]
    reference: dict[str, Any]
    local_optimum: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Diagnosis:
        return cls(step=int(d["step"]), model=int(d.get("model", 0)), loss=d.get("loss"), verdict=str(d["verdict"]),
                   verdict_text=str(d.get("verdict_text", "")), verdict_margins=dict(d.get("verdict_margins") or {}),
                   findings=tuple(Finding.from_dict(f) for f in d.get("findings", ())),
                   outcome=Outcome.from_json(d.get("outcome")), dead=tuple(d.get("dead", ())),
                   dead_outputs=tuple(d.get("dead_outputs", ())), reconstructed=tuple(d.get("reconstructed", ())),
                   features=tuple(d.get("features", ())), regularity=dict(d.get("regularity") or {}),
                   reference=dict(d.get("reference") or {}), local_optimum=d.get("local_optimum"), raw=dict(d))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)

    def finding(self, kind: str) -> Finding | None:
        return next((f for f in self.findings if f.kind == kind), None)

    @property
    def finding_kinds(self) -> tuple[str, ...]:
        return tuple(f.kind for f in self.findings)

    def _repr_html_(self) -> str:
        out = (f"<b>step {self.step:,}</b>, model {self.model}: <b>{html.escape(self.verdict.replace('_', ' '))}</b>"
               f" ({html.escape(self.verdict_text)})"
               + (f"; outcome <b>{html.escape(self.outcome.name)}</b>" if self.outcome else "")
               + (f"<br>loss {self.loss:.6g}" if self.loss is not None else ""))
        rows = "".join(f"<tr><td>{html.escape(f.kind)}</td><td>{html.escape(f.text)}</td><td>"
                       f"{'' if f.margin is None else f'{f.margin:.3g} {html.escape(f.margin_unit)}'}</td></tr>"
                       for f in self.findings)
        return out + f"<table><tr><th>finding</th><th>what</th><th>margin</th></tr>{rows}</table>"


# ================================================================ pictures
class Figure:
    """A figure as PNG bytes (``png``), shown inline by Jupyter (``_repr_png_``); ``save(path)``
    writes it, ``to_pil()`` gives a PIL image."""

    def __init__(self, png: bytes, width: int, height: int, title: str = ""):
        self.png, self.width, self.height, self.title = bytes(png), int(width), int(height), title

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:
        return f"<Figure {self.title} {self.width}x{self.height} PNG>"

    def to_pil(self) -> Any:
        import io

        from PIL import Image

        return Image.open(io.BytesIO(self.png))

    def save(self, path: PathLike, force: bool = False) -> Path:
        """Write the PNG to ``path`` (a .png), published in one step; an existing file only with ``force``."""
        target = Path(os.fspath(path))
        if target.suffix.lower() != ".png":
            raise LgeError(f"{target}: a Figure saves as .png (SVG and PDF: main.py export --out)")
        return _write_file(target, self.png, force)


def _write_file(target: Path, data: bytes, force: bool) -> Path:
    from model.storage import outfile

    try:
        outfile.check_target(target, force)
        tmp = outfile.temp_beside(target)
        outfile.write_new(tmp, data)
        return outfile.publish(tmp, target, force)
    except FileExistsError:
        raise LgeError(f"{target} already exists; pass force=True to replace it") from None
    except OSError as exc:
        raise LgeError(outfile.problem(exc, f"write {target}"), 1 if outfile.is_disk_failure(exc) else 2) from None


class Animation:
    """An animation file (MP4 or GIF), shown inline by Jupyter."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"<Animation {self.path}>"

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.path.read_bytes()).decode("ascii")
        if self.path.suffix.lower() == ".gif":
            return f'<img src="data:image/gif;base64,{data}">'
        return f'<video controls src="data:video/mp4;base64,{data}"></video>'


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _view_argv(view: str, model: int, size: tuple[int, int] | None, settings: Mapping[str, Any] | None,
               axes: Sequence[int] | None, select: Sequence[int] | None, panels: str | Sequence[str] | None,
               title: str | None, caption: bool, legend: bool | None, font_size: float) -> list[str]:
    """The command line's figure options for these keywords (checked there, as for main.py export)."""
    argv = ["--view", view, "--model", str(model), "--font-size", repr(float(font_size))]
    if size is not None:  # else the view's own (views.registry)
        argv += ["--size", f"{int(size[0])}x{int(size[1])}"]
    for key, value in (settings or {}).items():
        argv += ["--set", f"{key}={_setting_text(value)}"]
    if axes is not None:
        argv += ["--axes", _setting_text(tuple(axes))]
    if select is not None:
        argv += ["--select", _setting_text(tuple(select))]
    if panels is not None:
        argv += ["--panels", panels if isinstance(panels, str) else ",".join(panels)]
    if title is None or title == "":
        argv.append("--no-title")
    elif title != "auto":
        argv += ["--title", title]
    if not caption:
        argv.append("--no-caption")
    if legend is not None:
        argv.append("--legend" if legend else "--no-legend")
    return argv


def _draws_gl(ns: argparse.Namespace) -> bool:
    """Whether the views these parsed options draw need OpenGL (views.registry)."""
    from views import registry

    if ns.view != "figure":
        return ns.view in registry.NAMES and registry.needs_gl((ns.view,))
    names = registry.FIGURES[ns.panels][0] if ns.panels in registry.FIGURES else str(ns.panels or "").split(",")
    return registry.needs_gl(tuple(registry.canonical(k.strip()) for k in names))


def _qt(gl: bool) -> None:
    """Start Qt for drawing: on the X display when there is one (so that 2D views and the 3D view
    can both be drawn in one process), else off screen (2D views only)."""
    from app.cli.export import prepare_display, qt_app

    try:
        from PyQt6.QtWidgets import QApplication
    except ImportError as exc:
        raise LgeError(f"drawing needs PyQt6: {exc}") from None
    if QApplication.instance() is None:
        on_x = bool(os.environ.get("DISPLAY")) and os.environ.get("QT_QPA_PLATFORM", "") != "offscreen"
        _call(prepare_display, gl or on_x)
        qt_app()


# ================================================================ runs
class Run:
    """A training run: its config, its recorded history, its file. From ``train`` or ``open_run``.

    ``steps`` (N,), ``loss`` ((N,) for one model, (N, K) for K), ``snapshot(step, model)`` (W, b, M
    as numpy arrays), ``diagnose`` (a Diagnosis), ``diagnoses`` and ``events`` (DataFrames over the
    history), ``figure`` and ``animate`` (the exporter's views), ``arrays`` / ``save_data`` (what
    ``main.py export --data`` writes), ``open_in_window``."""

    def __init__(self, run: FileRun):
        self._run = run

    # ---- what it is
    @property
    def path(self) -> Path:
        return Path(self._run.path)

    @property
    def config(self) -> TrainConfig:
        return self._run.config

    @property
    def history(self) -> History:
        return self._run.history

    @property
    def models(self) -> int:
        return int(self.config.models)

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self._run.meta)

    @property
    def steps(self) -> Any:
        return self.history.steps

    @property
    def loss(self) -> Any:
        _, loss = self.history.losses()
        return loss[:, 0] if self.models == 1 else loss

    def __repr__(self) -> str:
        c = self.config
        return (f"<Run {self.path.name}: n={c.n} m={c.m} models={c.models} {c.optimizer} lr={c.lr:g}, "
                f"{len(self.steps):,} snapshots to step {self.history.latest_step:,}>")

    def _repr_html_(self) -> str:
        d = self.diagnose(extras=False)
        c = self.config
        return (f"<b>Run</b> {html.escape(str(self.path))}<br>n = {c.n}, m = {c.m}, {c.data}, {c.optimizer} "
                f"lr {c.lr:g}, seed {c.seed}, {c.models} model(s); {len(self.steps):,} snapshots, last step "
                f"{self.history.latest_step:,}<br>model 0: {d._repr_html_()}")

    # ---- numbers
    def snapshot(self, step: int | None = None, model: int = 0) -> Snapshot:
        """Model ``model`` at (or before) ``step`` (None: the latest): W (m, n), b (n,), M (n, m) or
        None, float64 numpy arrays; step and loss."""
        self._check_model(model)
        return self.history.snapshot(step=step, model=model)

    def _check_model(self, model: int) -> None:
        if not 0 <= int(model) < self.models:
            raise ConfigError("model", f"must be from 0 to {self.models - 1}, got {model}")

    def diagnose(self, step: int | None = None, model: int = 0, optimum: bool = False,
                 extras: bool = True) -> Diagnosis:
        """The diagnosis of ``model`` at ``step`` (None: the latest): ``main.py inspect --json``'s
        object as typed fields. ``optimum``: also the local-optimum test (inspect --optimum);
        ``extras=False`` leaves out separability and sensitivity (faster at large n)."""
        from app.cli import inspect_report, optimum_report
        from model.analysis.analysis import analyze

        snap = self.snapshot(step, model)
        an = analyze(snap, onehot=self.config.onehot, extras=extras)
        opt = optimum_report(self._run, snap, model) if optimum else None
        return Diagnosis.from_dict(inspect_report(self._run, snap, an, model, opt))

    def arrays(self, step: int | None = None, stride: int | None = None,
               model: int | None = None) -> dict[str, Any]:
        """What ``main.py export --data`` writes, as numpy arrays: steps, W, b, loss, M (untied),
        verdict, findings, dead, reconstructed (model.experiments.datafiles says how they are coded), for
        every recorded step (or every ``stride``-th, or the one at ``step``) and every model (or ``model``)."""
        from model.experiments import datafiles

        if model is not None:
            self._check_model(model)
        rows = datafiles.select_rows(self.steps, step, stride)
        return datafiles.run_arrays(self.config, self.history, rows, None if model is None else [model])

    def save_data(self, path: PathLike, step: int | None = None, stride: int | None = None,
                  model: int | None = None, force: bool = False) -> Path:
        """``arrays(...)`` written to ``path`` (.npz or .safetensors) with the config, seed, code
        version and environment as metadata: ``main.py export RUN --data PATH``'s file."""
        from model.experiments import datafiles

        models = list(range(self.models)) if model is None else [model]
        try:
            for t in datafiles.targets(path):
                if Path(t).exists() and not force:
                    raise LgeError(f"{t} already exists; pass force=True to replace it")
            return datafiles.write_arrays(path, self.arrays(step, stride, model),
                                          datafiles.run_metadata(self.config, models, source=str(self.path)),
                                          replace=force, field="path")
        except datafiles.DataFileError as exc:
            raise LgeError(str(exc), exc.status) from None

    def diagnoses(self, stride: int | None = None, model: int = 0) -> pd.DataFrame:
        """The diagnosis at every recorded step (every ``stride``-th): step, loss, verdict, findings
        (";"-joined), dead (1-based, ";"-joined), reconstructed (the count): the data of ``arrays``."""
        import numpy as np
        import pandas as pd

        from model.analysis.analysis import FINDING_KINDS
        from model.experiments.datafiles import verdict_names

        a, names = self.arrays(stride=stride, model=model), verdict_names()
        return pd.DataFrame({
            "step": a["steps"], "loss": a["loss"][:, 0].astype(float),
            "verdict": [names[v] for v in a["verdict"][:, 0]],
            "findings": [";".join(k for i, k in enumerate(FINDING_KINDS) if m >> i & 1) for m in a["findings"][:, 0]],
            "dead": [";".join(str(i + 1) for i in np.nonzero(d)[0]) for d in a["dead"][:, 0]],
            "reconstructed": a["reconstructed"][:, 0].sum(axis=1)})

    def stable_since(self, step: int | None = None, model: int = 0) -> dict[str, Any]:
        """The earliest recorded step from which the diagnosis (verdict, dead features, dead outputs)
        is the one at ``step`` (default: the latest), found coarse-to-fine (a few dozen analyses
        for a long history; model.analysis.story.stable_since): {"step", "verdict", "dead" (1-based),
        "changed_at", "method", "analysed", "text"}. For a failure: the step it died."""
        from model.analysis.story import stable_since

        self._check_model(model)
        since = stable_since(self.history, step, model, self.config.onehot)
        return {**since.to_dict(), "text": since.describe()}

    def events(self, model: int = 0, stride: int = 1) -> pd.DataFrame:
        """The story of the run (the timeline's marks): every recorded step (every ``stride``-th: one
        analysis each, about 2 ms at n = 7) at which the diagnosis changed (a feature died, the
        verdict changed) and every loss plateau, oldest first."""
        import pandas as pd

        from model.analysis.story import story_events

        self._check_model(model)
        ev = story_events(self.history, model, self.config.onehot, stride)
        return pd.DataFrame([{"step": e["step"], "kind": e["kind"], "verdict": e.get("verdict"),
                              "dead": e.get("dead"), "text": e.get("text", "")} for e in ev])

    # ---- pictures
    def figure(self, view: str = "zones", step: int | None = None, model: int = 0,
               size: tuple[int, int] | None = None, settings: Mapping[str, Any] | None = None,
               axes: Sequence[int] | None = None, select: Sequence[int] | None = None,
               panels: str | Sequence[str] | None = None, title: str | None = "auto", caption: bool = True,
               legend: bool | None = None, font_size: float = 10.0, background: str = "white") -> Figure:
        """A view (views.registry: zones, wheel, gram, bias, loss, verdict, plane3d, ...) or a figure of several
        (view="figure", panels=("plane3d", "zones")) of one snapshot, drawn as ``main.py export``
        draws it: ``settings`` are its ``--set`` keys ({"plane3d.enlarge": (1, 1, 5)}), ``axes`` and
        ``select`` 1-based feature numbers; ``title`` None for none; ``size`` (w, h) pixels, None: the view's
        own (views.registry). The 3D view needs an X display."""
        from app.cli.export import figure_png

        argv = [str(self.path), "--out", "figure.png", "--background", background]
        argv += _view_argv(view, model, size, settings, axes, select, panels, title, caption, legend, font_size)
        if step is not None:
            argv += ["--step", str(int(step))]
        ns = _namespace("export", argv, {}, ())
        _qt(_draws_gl(ns))
        png, snap, w, h = _call(figure_png, ns)
        return Figure(png, w, h, f"{view} step {snap.step:,}")

    def animate(self, out: PathLike, view: str = "zones", start: int | None = None, end: int | None = None,
                frames: int | None = None, stride: int | None = None, log_time: bool = False, fps: float = 30.0,
                orbit: float = 0.0, model: int = 0, size: tuple[int, int] | None = None,
                settings: Mapping[str, Any] | None = None, axes: Sequence[int] | None = None,
                select: Sequence[int] | None = None, panels: str | Sequence[str] | None = None,
                title: str | None = "auto", caption: bool = True, legend: bool | None = None,
                font_size: float = 10.0, force: bool = False, quiet: bool = True) -> Animation:
        """The training history as a video (.mp4) or GIF (.gif), as ``main.py animate`` makes it."""
        from app.cli import EXIT_INTERRUPTED
        from app.cli.export import cmd_animate

        argv = [str(self.path), "--out", os.fspath(out), "--fps", repr(float(fps)), "--orbit", repr(float(orbit))]
        argv += _view_argv(view, model, size, settings, axes, select, panels, title, caption, legend, font_size)
        for flag, v in (("--from", start), ("--to", end), ("--frames", frames), ("--stride", stride)):
            if v is not None:
                argv += [flag, str(int(v))]
        argv += [f for f, on in (("--log-time", log_time), ("--force", force), ("--quiet", quiet)) if on]
        ns = _namespace("animate", argv, {}, ())
        _qt(_draws_gl(ns))
        if _call(cmd_animate, ns) == EXIT_INTERRUPTED:
            raise LgeError(f"interrupted: nothing was written to {out}", 130)
        return Animation(Path(os.fspath(out)))

    def open_in_window(self) -> subprocess.Popen:
        return open_in_window(self)


# ================================================================ sweeps
def _html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4g}")


class SweepResult:
    """A seed sweep: ``frame`` has one row per model (configuration, grid values, seed, verdict,
    outcome, findings, loss, margins: model.experiments.datafiles.sweep_table); ``rates()`` one row per
    configuration and verdict with Wilson 95% intervals; ``run(k)`` re-trains one model alone with
    its whole history; ``figure()`` draws the atlas; ``save_table`` writes CSV or Parquet."""

    def __init__(self, sweep: Sweep):
        self.sweep = sweep
        self._frame: pd.DataFrame | None = None

    @property
    def path(self) -> Path | None:
        return self.sweep.path

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            from model.experiments.datafiles import sweep_table

            self._frame = sweep_table(self.sweep)
        return self._frame

    def summary(self) -> dict[str, Any]:
        """``main.py sweep --json``'s object."""
        return self.sweep.summary()

    def rates(self) -> pd.DataFrame:
        import pandas as pd

        rows = [{"config": c + 1, "label": e.label, "models": e.K, "verdict": v, "count": r["count"], "rate": r["rate"],
                 "ci95_low": r["ci95"][0], "ci95_high": r["ci95"][1]}
                for c, e in enumerate(self.sweep.entries) for v, r in e.rates().items()]
        return pd.DataFrame(rows)

    def save_table(self, path: PathLike, force: bool = False) -> Path:
        """The frame as .csv (metadata in PATH.json beside it) or .parquet (metadata in its schema):
        ``main.py export SWEEP --table PATH``'s file."""
        from model.experiments import datafiles

        return _save_table(path, self.frame, datafiles.sweep_metadata(self.sweep), force)

    def run(self, model: int, config: int = 1, **kwargs: Any) -> Run:
        """Model ``model`` (0-based) of configuration ``config`` (1-based) trained alone with its whole
        history: the same model, bit for bit (seed s + k). ``options``: train's run options (out, ...)."""
        entry = self._entry(config)
        if not 0 <= int(model) < entry.K:
            raise ConfigError("model", f"must be from 0 to {entry.K - 1}, got {model}")
        return _train(kwargs, entry.single_run_config(int(model)))

    def _entry(self, config: int):
        if not 1 <= int(config) <= len(self.sweep.entries):
            raise ConfigError("config", f"must be from 1 to {len(self.sweep.entries)}, got {config}")
        return self.sweep.entries[int(config) - 1]

    def figure(self, config: int = 1, size: tuple[int, int] = (1400, 900)) -> Figure:
        """The atlas of configuration ``config`` (the Experiments window's sweep view)."""
        from app.export import experiment_figures as ef

        self._entry(config)
        return _experiment_figure(lambda out, opts: ef.write_sweep_figure(out, self.sweep, opts, entry=config - 1),
                                  size, f"sweep configuration {config}")

    def __repr__(self) -> str:
        return f"<SweepResult {len(self.sweep.entries)} configuration(s) x {self.sweep.models} models: {self.path}>"

    def _repr_html_(self) -> str:
        return f"<b>Seed sweep</b> {html.escape(str(self.path))}<br>" + _html_table(self.rates())


class DataSizeResult:
    """A dataset-size sweep (SMDD): ``frame`` has one row per size T and model
    (model.experiments.datafiles.datasize_table); ``summary()`` is ``main.py datasize --json``'s object."""

    def __init__(self, result: DataSizeSweep):
        self.result = result
        self._frame: pd.DataFrame | None = None

    @property
    def path(self) -> Path | None:
        return self.result.path

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            from model.experiments.datafiles import datasize_table

            self._frame = datasize_table(self.result)
        return self._frame

    def summary(self) -> dict[str, Any]:
        return self.result.summary()

    def save_table(self, path: PathLike, force: bool = False) -> Path:
        from model.experiments import datafiles

        return _save_table(path, self.frame, datafiles.datasize_metadata(self.result), force)

    def figure(self, model: int = 0, size: tuple[int, int] = (1400, 900)) -> Figure:
        from app.export import experiment_figures as ef

        return _experiment_figure(lambda out, opts: ef.write_datasize_figure(out, self.result, opts, model=model),
                                  size, "dataset size")

    def __repr__(self) -> str:
        return f"<DataSizeResult sizes {self.result.sizes}: {self.path}>"

    def _repr_html_(self) -> str:
        return "<b>Dataset-size sweep</b><br>" + _html_table(self.frame)


class ProbeResult:
    """A perturbation probe: ``data`` is ``main.py probe --json``'s object, ``frame`` the loss along
    the path (t, loss), ``figure()`` the probe view."""

    def __init__(self, data: dict[str, Any], result: Any, snapshot: Snapshot, config: TrainConfig, model: int):
        self.data, self._result, self._snap, self._config, self._model = data, result, snapshot, config, model

    @property
    def frame(self) -> pd.DataFrame:
        import pandas as pd

        cols = {"t": self.data["t"], "loss": self.data["loss"]}
        if self.data.get("reference") is not None:
            cols["reference"] = self.data["reference"]
        return pd.DataFrame(cols)

    @property
    def slope(self) -> float:
        return float(self.data["slope"])

    @property
    def curvature(self) -> float:
        return float(self.data["curvature"])

    @property
    def local_min(self) -> bool:
        return bool(self.data["local_min_along_path"])

    def figure(self, size: tuple[int, int] = (1400, 900)) -> Figure:
        from app.export import experiment_figures as ef

        def write(out, opts):
            return ef.write_probe_figure(out, self._result, self._snap, self._config, self._model, options=opts)

        return _experiment_figure(write, size, "probe")

    def __repr__(self) -> str:
        return f"<ProbeResult {self.data['path']}: slope {self.slope:.3g}, curvature {self.curvature:.3g}>"

    def _repr_html_(self) -> str:
        d = self.data
        return (f"<b>Probe</b> {html.escape(d['path'])} at step {d['step']:,} (verdict {html.escape(d['verdict'])})"
                f"<br>loss(0) {d['loss0']:.8g}, slope {d['slope']:.4g}, curvature {d['curvature']:.4g}; t = 0 is "
                f"{'a local minimum' if self.local_min else 'not a minimum'} along the path")


def _save_table(path: PathLike, frame: pd.DataFrame, meta: dict[str, Any], force: bool) -> Path:
    from model.experiments import datafiles

    try:
        for t in datafiles.targets(path):
            if Path(t).exists() and not force:
                raise LgeError(f"{t} already exists; pass force=True to replace it")
        return datafiles.write_table(path, frame, meta, replace=force, field="path")
    except datafiles.DataFileError as exc:
        raise LgeError(str(exc), exc.status) from None


def _experiment_figure(write: Callable[[Path, Any], Any], size: tuple[int, int], title: str) -> Figure:
    """An Experiments view drawn by its exporter (to a PNG in a temporary folder), as a Figure."""
    from app.export.figure import ExportError, FigureOptions

    _qt(False)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figure.png"
        try:
            write(out, FigureOptions(width=int(size[0]), height=int(size[1])))
        except ExportError as exc:
            raise LgeError(str(exc), exc.status) from None
        return Figure(out.read_bytes(), int(size[0]), int(size[1]), title)


# ================================================================ the commands
def _train(kwargs: Mapping[str, Any], config: TrainConfig | None = None) -> Run:
    from app.cli import train_from_args
    from model.storage.runfile import Run as FileRun

    ns = _namespace("train", [], kwargs, options("train"))
    t = _call(train_from_args, ns, _bar(), config)
    for msg in t.halted:
        warnings.warn(msg, stacklevel=3)
    if t.interrupted and not t.published:
        raise LgeError("interrupted before the first snapshot: nothing was saved", 130)
    if t.interrupted:
        warnings.warn(f"interrupted at step {t.trainer.step:,}: the history up to step {t.committed_step:,} is "
                      f"saved in {t.out}", stacklevel=3)
    return Run(FileRun(path=Path(t.out), config=t.cfg, history=t.trainer.history, dataset=t.trainer.dataset))


def train(**kwargs: Any) -> Run:
    """Train K models at once (``main.py train``) and return the Run, recorded to ``out`` (default:
    a new file in the user's data folder). ``preset="seed-failure"`` starts from a named experiment
    (model.presets; ``preset_param={"T": 100}`` for its parameters), the options given beside it
    replacing its values. A bad option raises ConfigError naming it."""
    return _train(kwargs)


def open_run(path: PathLike) -> Run:
    """A saved run file (``main.py inspect``'s input); a bad file is one RunFileError line."""
    from model.storage.runfile import open_run as read

    return Run(read(os.fspath(path)))


def sweep(**kwargs: Any) -> SweepResult:
    """K seeds of a configuration (``models=K``), or of each configuration of ``grid`` ({"lr":
    [1e-3, 3e-3]} or ["lr=1e-3,3e-3"]), trained as one batched run each (``main.py sweep``); the
    sweep file is written to ``out`` (default: the user's data folder)."""
    from app.cli.experiments import sweep_from_args

    ns = _namespace("sweep", [], kwargs, options("sweep"))
    result, interrupted = _call(sweep_from_args, ns, _bar())
    if interrupted:
        warnings.warn(f"interrupted: {len(result.entries)} of {result.planned} configuration(s) finished", stacklevel=2)
    return SweepResult(result)


def datasize(**kwargs: Any) -> DataSizeResult:
    """The SMDD dataset-size sweep (``main.py datasize``): ``sizes=[3, 5, 8, ...]``; the other
    options default to SMDD's setting (n = 10,000, S = 0.999, 50,000 steps, ...)."""
    from app.cli.experiments import datasize_from_args

    if kwargs.get("sizes") is None:
        raise ConfigError("sizes", "is required: the dataset sizes T, e.g. sizes=[3, 5, 8, 10]")
    ns = _namespace("datasize", ["--sizes", "1"], kwargs, options("datasize"))
    result, interrupted = _call(datasize_from_args, ns, _bar())
    if interrupted:
        warnings.warn(f"interrupted: {len(result.results)} of {len(result.sizes)} size(s) finished", stacklevel=2)
    return DataSizeResult(result)


def probe(run: Run | PathLike, **kwargs: Any) -> ProbeResult:
    """The loss along a one-parameter path through a snapshot of ``run`` (``main.py probe``):
    path="bias" | "feature" | "random" | "angle", feature (1-based), direction (a feature number,
    "angle:DEG" or "random"), range (A or (a, b)), points, step, model, seed."""
    from app.cli.experiments import compute_probe

    path = run.path if isinstance(run, Run) else Path(os.fspath(run))
    ns = _namespace("probe", [str(path)], kwargs, PROBE_OPTIONS)
    for key in ("feature", "direction", "range"):
        value = getattr(ns, key)
        if value is not None and not isinstance(value, str) and key != "feature":
            setattr(ns, key, str(value))
    file_run, snap, an, _, _, res, _, data = _call(compute_probe, ns)
    return ProbeResult(data, res, snap, file_run.config, ns.model)


def open_in_window(run_or_path: Run | PathLike) -> subprocess.Popen:
    """Open the run in the explorer window (a new process: ``python -m lge RUN.h5``), to go on
    exploring it there; returns the process."""
    path = run_or_path.path if isinstance(run_or_path, Run) else Path(os.fspath(run_or_path))
    if not Path(path).is_file():
        raise LgeError(f"{path}: no such run file")
    env = dict(os.environ)
    here = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join([str(here)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.Popen([sys.executable, "-m", "lge", str(path)], env=env)


for _fn, _cmd in ((train, "train"), (sweep, "sweep"), (datasize, "datasize")):
    # inspect.signature() (help(), Jupyter's completion) reads __signature__: typeshed does not declare
    # it on functions, so mypy needs the ignore
    _fn.__signature__ = _signature(_cmd)  # type: ignore[union-attr]
    _fn.__doc__ = (_fn.__doc__ or "") + "\n" + _options_doc()
del _fn, _cmd

__all__ = [
    "CLI_ONLY",
    "COMMAND_OPTIONS",
    "PROBE_OPTIONS",
    "Animation",
    "ConfigError",
    "DataSizeResult",
    "Diagnosis",
    "Figure",
    "Finding",
    "LgeError",
    "Outcome",
    "ProbeResult",
    "Run",
    "SweepResult",
    "datasize",
    "open_in_window",
    "open_run",
    "options",
    "probe",
    "sweep",
    "train",
]
