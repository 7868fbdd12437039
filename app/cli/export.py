"""`main.py export` (a figure of one snapshot) and `main.py animate` (a video of the
training history), headless: the same views as the window, drawn off screen.

2D views need no display (Qt's offscreen platform is used). The 3D view needs an
X server for GL: without DISPLAY the command re-runs itself under xvfb-run when
that exists, else it says in one line how to run it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli import EXIT_INTERRUPTED, CliError, Interrupt, check_finite, check_out, float_arg, int_arg, path_arg, say
from views import registry

if TYPE_CHECKING:
    from PyQt6.QtCore import QCoreApplication

    from app.export.figure import FigureOptions
    from app.export.view_settings import CameraSettings, ViewSettings
    from model.analysis.explorer import ExplorerState
    from model.analysis.frame import Frame
    from model.snapshot import Snapshot

#: --view: every view of the registry by its key and its aliases, or "figure" (several side by side).
VIEW_CHOICES = (*registry.NAMES, "figure")


def set_help() -> str:
    """--set's help, from the registry: each view with options and its keys (a choice field lists its values)."""
    from dataclasses import fields

    from views.settings import CAMERA_PRESETS

    parts = []
    for key in registry.with_settings():
        spec = registry.spec(key)
        meta: dict[str, tuple[str, ...]] = {f.name: tuple(f.metadata.get("choices") or ())
                                            for f in fields(registry.settings_class(key))}
        keys = [f"{k}={'|'.join(meta[k])}" if meta.get(k) else k for k in registry.settings_fields(key)]
        if spec.gl:
            keys += ["axes=I,J,K (1-based)", f"camera={'|'.join(CAMERA_PRESETS)}", "elevation=DEG", "azimuth=DEG",
                     "distance=D"]
        parts.append(f"{key}: {', '.join(keys)}")
    return ("a view's setting, VIEW.KEY=VALUE (repeatable), e.g. zones.clip_to_shape=false, plane3d.axes=1,2,7, "
            "plane3d.enlarge=1,1,5 (a show_ toggle may drop show_: plane3d.slivers=false); the keys: "
            + "; ".join(parts) + "; a bad key lists the allowed ones")


SET_HELP = set_help()
XVFB_ARGS = ["-a", "-s", "-screen 0 1920x1080x24 +extension GLX +render -noreset"]
ENV_XVFB_CHILD = "LGE_UNDER_XVFB"


def _common(p, animate: bool):
    p.add_argument("run", type=path_arg("run"), help="run file (.h5)" if animate else "run file (.h5), or a "
                   "sweep or dataset-size file (its Experiments view is drawn: the atlas, the SMDD view)")
    p.add_argument("--view", required=animate, default=None, choices=VIEW_CHOICES,
                   help="what to draw: one view, or 'figure' (several side by side, --panels)"
                   + ("" if animate else "; required for a run file"))
    p.add_argument("--panels", default=None,
                   help=f"views of --view figure, comma-separated, or {' / '.join(registry.FIGURES)} (default "
                   f"{','.join(registry.FIGURES[registry.DEFAULT_FIGURE][0])})")
    p.add_argument("--model", type=int_arg("--model"), default=None, help="which model of a batched run, 0-based "
                   "(default 0" + ("" if animate else "; --data: every model") + ")")
    p.add_argument("--axes", default=None, help="plane3d: the output axes i,j,k, 1-based feature numbers (default: two "
                   "strong features and the weakest, as in the seed); the same as --set plane3d.axes=i,j,k")
    p.add_argument("--set", dest="set", action="append", default=[], metavar="VIEW.KEY=VALUE", help=SET_HELP)
    p.add_argument("--select", default=None, help="features to highlight, 1-based, comma-separated")
    p.add_argument("--size", default=None, help="WIDTHxHEIGHT in pixels (default: the view's own, " +
                   ("1280x720" if animate else f"1200x800; {FIGURE_SIZE[0]}x{FIGURE_SIZE[1]} for a figure") + ")")
    p.add_argument("--title", default="auto", help="title text (default: the run's config)")
    p.add_argument("--no-title", action="store_true", help="no title")
    p.add_argument("--no-caption", action="store_true", help="no 'step · loss' caption")
    p.add_argument("--legend", action=argparse.BooleanOptionalAction, default=None,
                   help="legend of feature colours (default: on for the views that colour features)")
    p.add_argument("--font-size", type=float_arg("--font-size"), default=10.0, help="points, 4..72 (default 10)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds both `export` and `animate` (EXTRA_COMMANDS names this module for each)."""
    if "export" in sub.choices:
        return
    e = sub.add_parser("export", help="a figure of one snapshot: PNG, SVG or PDF",
                       description="Draw one view (or a figure of several) of one snapshot of a saved run to a "
                       "PNG at the chosen pixel size, or to SVG / PDF (vector; 2D views).")
    _common(e, animate=False)
    e.add_argument("--step", type=int_arg("--step"), default=None,
                   help="snapshot at or before this step (default: the latest)")
    e.add_argument("--config", type=int_arg("--config", 1), default=None,
                   help="a sweep file of several configurations (--grid): which one, 1-based (default 1)")
    e.add_argument("--background", choices=("white", "transparent"), default="white", help="default white")
    dest = e.add_mutually_exclusive_group(required=True)
    dest.add_argument("--out", type=path_arg("--out"), help="FILE.png, FILE.svg or FILE.pdf")
    dest.add_argument("--data", type=path_arg("--data"), default=None,
                      help="a run file's history as arrays, FILE.npz (numpy) or FILE.safetensors: per recorded step W, "
                      "b, loss (M when untied) and each model's diagnosis (verdict, findings, dead and reconstructed "
                      "features), with the config, seed, code version and environment as metadata")
    dest.add_argument("--table", type=path_arg("--table"), default=None,
                      help="a sweep or dataset-size file as a table, FILE.csv (metadata beside it in FILE.csv.json) or "
                      "FILE.parquet (metadata in the schema): one row per model (sweep: seed, verdict, outcome, "
                      "findings, loss, margins) or per size and model (dataset size)")
    e.add_argument("--stride", type=int_arg("--stride", 1), default=None,
                   help="--data: every D-th recorded step (the last one always), default every step")
    e.add_argument("--force", action="store_true", help="replace --out if it exists (otherwise an existing file "
                   "is never touched)")
    a = sub.add_parser("animate", help="a video of the training history: MP4 or GIF",
                       description="Render a range of the recorded history, one snapshot per frame, to an MP4 "
                       "(H.264) or a GIF, with a progress bar.")
    _common(a, animate=True)
    a.add_argument("--from", dest="start", type=int_arg("--from"), default=None,
                   help="first step (default: the first recorded)")
    a.add_argument("--to", dest="end", type=int_arg("--to"), default=None, help="last step (default: the latest)")
    g = a.add_mutually_exclusive_group()
    g.add_argument("--frames", type=int_arg("--frames"), default=None, help="number of frames (default 150)")
    g.add_argument("--stride", type=int_arg("--stride"), default=None, help="one frame every D training steps")
    a.add_argument("--log-time", action="store_true",
                   help="frames evenly spaced in log(1 + step): early training, which changes fastest, gets more")
    a.add_argument("--fps", type=float_arg("--fps"), default=30.0, help="frames per second (default 30; GIF <= 50)")
    a.add_argument("--orbit", type=float_arg("--orbit"), default=0.0,
                   help="plane3d: degrees the camera turns over the whole animation (default 0)")
    a.add_argument("--quiet", action="store_true", help="no progress bar")
    a.add_argument("--out", required=True, type=path_arg("--out"), help="FILE.mp4 or FILE.gif")
    a.add_argument("--force", action="store_true", help="replace --out if it exists (otherwise an existing file "
                   "is never touched)")


# ------------------------------------------------------------------ helpers
def _panels(a):
    from app.export.figure import ExportError, parse_panels

    if a.view == "figure":
        try:
            return parse_panels("wheel,zones" if a.panels is None else a.panels)
        except ExportError as exc:
            raise CliError(f"main.py {a.command}: {exc}") from None
    if a.panels is not None:
        raise CliError(f"main.py {a.command}: --panels applies to --view figure")
    return (registry.canonical(a.view),)


def _gl_view() -> str:
    """The 3D view's key (views.registry: the view drawn with GL)."""
    return next(v.key for v in registry.VIEWS if v.gl)


def _numbers(text, flag, n, count=None):
    try:
        vals = [int(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        vals = None
    what = f"{count} different feature numbers" if count else "feature numbers"
    if (vals is None or (count and len(vals) != count) or not vals or len(set(vals)) != len(vals)
            or not all(1 <= v <= n for v in vals)):
        eg = ",".join(str(i) for i in range(1, min(n, count or 2) + 1))
        raise CliError(f"main.py: {flag} must be {what} from 1 to {n} (comma-separated, e.g. {eg}), got {text!r}")
    return vals


def prepare_display(gl: bool) -> None:
    """Pick the Qt platform before the QApplication exists: offscreen for 2D; an X server for GL."""
    from PyQt6.QtWidgets import QApplication

    gl_views = f"view {_gl_view()}"
    app = QApplication.instance()
    if app is not None:  # the platform is chosen already (a process that exported before, or the window)
        if gl and app.platformName() in ("offscreen", "minimal"):
            raise CliError(f"main.py: {gl_views} needs an X display (GL); this process runs Qt on the "
                           f"{app.platformName()} platform")
        return
    if not gl:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        return
    if os.environ.get("QT_QPA_PLATFORM", "") == "offscreen":
        raise CliError(f"main.py: {gl_views} needs an X display (GL), which QT_QPA_PLATFORM=offscreen cannot "
                       "host: unset QT_QPA_PLATFORM")
    if os.environ.get("DISPLAY"):
        return
    how = "run it under xvfb-run -a (package xvfb), or bash scripts/xdisplay.sh .venv/bin/python main.py ..."
    main_py = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if os.environ.get(ENV_XVFB_CHILD) or shutil.which("xvfb-run") is None or main_py is None \
            or main_py.name != "main.py":
        raise CliError(f"main.py: {gl_views} needs an X display (GL) and there is none: {how}")
    env = dict(os.environ, **{ENV_XVFB_CHILD: "1"})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe("xvfb-run", ["xvfb-run", *XVFB_ARGS, sys.executable, str(main_py), *sys.argv[1:]], env)


def _quiet_qt():
    from PyQt6.QtCore import QtMsgType, qInstallMessageHandler

    def handler(mode, context, message):
        if mode in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            print(f"Qt: {message}", file=sys.stderr)

    qInstallMessageHandler(handler)


_APP = []  # the QApplication made here: it must outlive every widget


def qt_app() -> QCoreApplication:
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        _quiet_qt()
        app = QApplication(["main.py"])
        _APP.append(app)
        from app.gui import collect_garbage_in_gui_thread

        collect_garbage_in_gui_thread()  # the animation's encoder runs in a thread
    return app


def frames_of(state: ExplorerState) -> Callable[[int | None], Frame]:
    """``frame_at(step) -> Frame`` of an ExplorerState: what the renderer and the animation draw
    (each frame's analysis computed there and then, at any n)."""

    def frame_at(step: int | None) -> Frame:
        fr = state.frame_at(step)
        if fr is None:
            raise CliError("main.py: the run has no recorded snapshot to draw")
        return fr

    return frame_at


def view_options(a: argparse.Namespace, panels: Sequence[str], n: int | None
                 ) -> tuple[dict[str, ViewSettings], CameraSettings | None, tuple[int, int, int] | None]:
    """(views' settings {key: dataclass}, camera or None, axes 0-based or None) from --axes and --set."""
    from app.export.view_settings import SettingError, apply_sets

    axes = None
    if a.axes is not None:
        if not registry.needs_gl(panels):
            raise CliError(f"main.py: --axes applies to the 3D view (--view {_gl_view()}, or a figure with "
                           f"{_gl_view()})")
        if n is not None:  # (its range is checked once the run is open)
            axes = tuple(v - 1 for v in _numbers(a.axes, "--axes", n, 3))
    try:
        return apply_sets(a.set, panels, n, axes=axes)
    except SettingError as exc:
        raise CliError(f"main.py: {exc}") from None


#: The default size of a figure of several views side by side.
FIGURE_SIZE = (1600, 800)


def default_size(command: str, panels: Sequence[str]) -> str:
    """The default --size: a view's own (views.registry: export_size, animate_size), FIGURE_SIZE for several."""
    if command == "animate":
        w, h = registry.spec(panels[0]).animate_size
    else:
        w, h = FIGURE_SIZE if len(panels) > 1 else registry.spec(panels[0]).export_size
    return f"{w}x{h}"


def load(a: argparse.Namespace, panels: Sequence[str]) -> tuple[ExplorerState, FigureOptions, str]:
    """(explorer state of the run with the model chosen, figure options, run title)."""
    from app.export.figure import ExportError, FigureOptions, needs_gl, parse_size, plane3d_class, run_title

    if needs_gl(panels) and plane3d_class() is None:
        raise CliError(f"main.py {a.command}: view {_gl_view()} cannot be drawn here: OpenGL (PyOpenGL) is missing")
    view_options(a, panels, None)  # a bad --set is refused before anything starts (the axes' range: below)
    prepare_display(needs_gl(panels))
    qt_app()
    from model.analysis.explorer import ExplorerState
    from model.storage.runfile import RunFileError

    s = ExplorerState()
    try:
        s.open(a.run)
    except RunFileError as exc:
        raise CliError(f"main.py: {exc}") from None
    cfg = s.config
    if not 0 <= a.model < cfg.models:
        raise CliError(f"main.py: --model must be from 0 to {cfg.models - 1} for {a.run}, got {a.model}")
    s.set_model(a.model)
    try:
        w, h = parse_size(default_size(a.command, panels) if a.size is None else a.size)
    except ExportError as exc:
        raise CliError(f"main.py: {exc}") from None
    views, camera, axes = view_options(a, panels, cfg.n)
    if needs_gl(panels) and cfg.n < 3:
        raise CliError(f"main.py: view {_gl_view()} needs n >= 3 output axes; {a.run} has n = {cfg.n}")
    if a.select is not None:
        s.selected = {v - 1 for v in _numbers(a.select, "--select", cfg.n)}
    opts = FigureOptions(width=w, height=h, title=None if a.no_title else a.title, caption=not a.no_caption,
                         legend=a.legend, font_size=a.font_size, axes=axes, camera=camera, views=views,
                         background=getattr(a, "background", "white"))
    return s, opts, run_title(cfg, a.model)


# ----------------------------------------------------------------- commands
def cmd_export(a: argparse.Namespace) -> int:
    from app.export.figure import ExportError, FigureRenderer, check_output
    from model.storage.h5io import RUN_FORMAT as FORMAT
    from model.storage.h5io import file_kind

    if a.data is not None or a.table is not None:
        return export_data(a)
    if a.stride is not None:
        raise CliError("main.py export: --stride: applies to --data (which recorded steps to write)")
    a.model = 0 if a.model is None else a.model

    try:
        check_output(a.out, (".png", ".svg", ".pdf"), replace=True)  # the name; its existence: check_out
    except ExportError as exc:
        raise CliError(f"main.py: {exc}", exc.status) from None
    check_out(a.out, a.force)
    kind = file_kind(a.run)
    if kind != FORMAT:
        return export_experiment(a, kind)
    if a.view is None:
        raise CliError(f"main.py export: --view: required: {a.run} is a run file, not a sweep or dataset-size file; "
                       f"name the view to draw, one of {', '.join(VIEW_CHOICES)}")
    if a.config is not None:
        raise CliError(f"main.py export: --config: applies to a sweep file; {a.run} is a run file, not a sweep file")
    panels = _panels(a)
    s, opts, title = load(a, panels)
    h = s.history
    if a.step is not None and not h.first_step <= a.step <= h.latest_step:
        raise CliError(f"main.py: --step must be from {h.first_step} to {h.latest_step} (the recorded steps of "
                       f"{a.run}), got {a.step}")
    frame = frames_of(s)(a.step)
    snap = frame.snapshot
    check_finite(snap, h, a.run)  # a figure of NaN says nothing: one line naming a finite step

    def write(stop: Callable[[], bool]) -> Path:
        with FigureRenderer(panels, opts, title) as r:
            return r.save(a.out, frame, replace=a.force, interrupted=stop)

    return _write_figure(a, write, f"{opts.width}x{opts.height}", f"step {snap.step:,}")


def figure_png(a: argparse.Namespace) -> tuple[bytes, Snapshot, int, int]:
    """``export``'s figure of a run file as PNG bytes, not written anywhere, for the Python API:
    (the PNG, the snapshot drawn, width, height). The options are the parsed ``export`` options
    (--view, --panels, --set, --axes, --select, --size, --title, ...), checked as the command
    checks them."""
    from app.export.figure import FigureRenderer

    a.model = 0 if a.model is None else a.model
    if a.view is None:
        raise CliError(f"main.py export: --view: required for a run file, one of {', '.join(VIEW_CHOICES)}")
    panels = _panels(a)
    s, opts, title = load(a, panels)
    h = s.history
    if a.step is not None and not h.first_step <= a.step <= h.latest_step:
        raise CliError(f"main.py: --step must be from {h.first_step} to {h.latest_step} (the recorded steps of "
                       f"{a.run}), got {a.step}")
    frame = frames_of(s)(a.step)
    with FigureRenderer(panels, opts, title) as r:
        return r.encode(".png", frame), frame.snapshot, opts.width, opts.height


def _write_figure(a: argparse.Namespace, write: Callable[[Callable[[], bool]], Path], size: str,
                  what: str) -> int:
    """``write(interrupted) -> path`` under Ctrl+C handling, then the one line saying what was
    written: an ExportError is one line and its status, Ctrl+C writes nothing (status 130)."""
    from app.export.figure import ExportError

    try:
        # Ctrl+C while Qt paints would be swallowed by PyQt: it is asked after the render
        with Interrupt() as intr:
            out = write(lambda: intr.requested)
    except ExportError as exc:
        raise CliError(f"main.py: {exc}", exc.status) from None
    except KeyboardInterrupt:
        say(f"interrupted: nothing was written to {a.out}")
        return EXIT_INTERRUPTED
    print(f"wrote {out} ({size} {out.suffix[1:]}, {what})")
    return 0


def _refuse_run_options(a, what: str) -> None:
    """The options that choose what of a run to draw do not apply to a sweep or dataset-size file."""
    given = [flag for flag, v in (("--view", a.view), ("--panels", a.panels), ("--step", a.step),
                                  ("--axes", a.axes), ("--select", a.select), ("--legend", a.legend),
                                  ("--set", a.set or None)) if v is not None]
    if a.no_caption:
        given.append("--no-caption")
    if given:
        raise CliError(f"main.py export: {given[0]}: applies to a run file; {a.run} is a {what}, not a run file "
                       f"(its Experiments view is drawn whole: leave out {given[0]})")


def export_experiment(a: argparse.Namespace, kind: str) -> int:
    """``export`` of a sweep file (the atlas of --config) or a dataset-size file (the SMDD view of --model)."""
    from app.export import experiment_figures as ef
    from app.export.figure import ExportError, FigureOptions, parse_size
    from model.storage.runfile import DATASIZE_FORMAT, FILE_KINDS, SWEEP_FORMAT

    what = FILE_KINDS[kind][0]
    _refuse_run_options(a, what)
    if kind == DATASIZE_FORMAT and a.config is not None:
        raise CliError(f"main.py export: --config: applies to a sweep file; {a.run} is a {what}, not a sweep file")
    try:
        w, h = parse_size(a.size) if a.size is not None else ef.DEFAULT_SIZE
    except ExportError as exc:
        raise CliError(f"main.py: {exc}") from None
    opts = FigureOptions(width=w, height=h, title=None if a.no_title else a.title, font_size=a.font_size,
                         background=a.background)
    prepare_display(False)
    qt_app()

    def write(stop: Callable[[], bool]) -> Path:
        if kind == SWEEP_FORMAT:
            from model.experiments.sweep import open_sweep

            sweep = open_sweep(a.run)
            if a.model:
                raise CliError("main.py export: --model: a sweep file's atlas shows all its models; pick "
                               "one with main.py train --seed (model k of seed s is seed s + k)")
            return ef.write_sweep_figure(a.out, sweep, opts, entry=(a.config or 1) - 1, replace=a.force,
                                         interrupted=stop)
        from model.experiments.datasize import open_datasize

        res = open_datasize(a.run)
        K = res.results[0].W.shape[0] if res.results else 1
        if not 0 <= a.model < K:
            raise CliError(f"main.py export: --model must be from 0 to {K - 1} for {a.run}, got {a.model}")
        return ef.write_datasize_figure(a.out, res, opts, model=a.model, replace=a.force, interrupted=stop)

    return _write_figure(a, write, f"{opts.width}x{opts.height}", f"the {what}'s view")


def _refuse_figure_options(a: argparse.Namespace, field: str) -> None:
    """The options that shape a figure do not apply to --data / --table."""
    given = [flag for flag, v in (("--view", a.view), ("--panels", a.panels), ("--axes", a.axes),
                                  ("--select", a.select), ("--legend", a.legend), ("--size", a.size),
                                  ("--config", a.config)) if v is not None]
    given += [flag for flag, on in (("--set", a.set), ("--no-title", a.no_title), ("--title", a.title != "auto"),
                                    ("--no-caption", a.no_caption), ("--font-size", a.font_size != 10.0),
                                    ("--background", a.background != "white")) if on]
    if given:
        raise CliError(f"main.py export: {given[0]}: applies to a figure (--out); {field} writes data: leave it out")


def export_data(a: argparse.Namespace) -> int:
    """``export --data`` (a run's arrays) or ``export --table`` (a sweep's or dataset-size sweep's table)."""
    from model.experiments import datafiles as df
    from model.storage.h5io import DATASIZE_FORMAT, FILE_KINDS, RUN_FORMAT, file_kind

    field, target = ("--data", a.data) if a.data is not None else ("--table", a.table)
    try:
        df.check_suffix(target, df.DATA_SUFFIXES if a.data is not None else df.TABLE_SUFFIXES, field)
    except df.DataFileError as exc:
        raise CliError(f"main.py export: {exc}") from None
    _refuse_figure_options(a, field)
    for t in df.targets(target):
        check_out(t, a.force, field)
    kind = file_kind(a.run)
    what = FILE_KINDS[kind][0]
    if a.data is not None and kind != RUN_FORMAT:
        raise CliError(f"main.py export: --data: applies to a run file; {a.run} is a {what}: use --table")
    if a.table is not None:
        if kind == RUN_FORMAT:
            raise CliError(f"main.py export: --table: applies to a sweep or dataset-size file; {a.run} is a run "
                           "file: use --data")
        given = [flag for flag, v in (("--step", a.step), ("--stride", a.stride), ("--model", a.model)) if v is not None]
        if given:
            raise CliError(f"main.py export: {given[0]}: applies to --data; a table holds every model's final state")
    try:
        with Interrupt() as intr:
            if a.data is not None:
                out, summary = _write_run_data(a, lambda: intr.requested)
            else:
                out, summary = _write_table(a, kind == DATASIZE_FORMAT)
    except df.DataFileError as exc:
        raise CliError(f"main.py export: {exc}", exc.status) from None
    except KeyboardInterrupt:
        say(f"interrupted: nothing was written to {target}")
        return EXIT_INTERRUPTED
    print(f"wrote {out} ({summary})")
    return 0


def _write_run_data(a: argparse.Namespace, stop: Callable[[], bool]) -> tuple[Path, str]:
    from tqdm import tqdm

    from model.experiments import datafiles as df
    from model.storage.runfile import open_run

    run = open_run(a.run)
    h, cfg = run.history, run.config
    if a.model is not None and not 0 <= a.model < cfg.models:
        raise CliError(f"main.py: --model must be from 0 to {cfg.models - 1} for {a.run}, got {a.model}")
    if a.step is not None and not h.first_step <= a.step <= h.latest_step:
        raise CliError(f"main.py: --step must be from {h.first_step} to {h.latest_step} (the recorded steps of "
                       f"{a.run}), got {a.step}")
    if a.step is not None and a.stride is not None:
        raise CliError("main.py export: --stride: applies to a range of steps; --step names one")
    rows = df.select_rows(h.steps, a.step, a.stride)
    models = list(range(cfg.models)) if a.model is None else [a.model]
    # a bar only when the diagnoses take seconds (about 2 ms each at n = 7)
    bar = tqdm(total=len(rows), unit="step", file=sys.stderr, dynamic_ncols=True, desc="diagnosing") \
        if len(rows) * len(models) >= 2000 else None

    def progress(done: int, total: int) -> bool:
        if bar is not None:
            bar.update(done - bar.n)
        return stop()

    try:
        arrays = df.run_arrays(cfg, h, rows, models, progress)
    finally:
        if bar is not None:
            bar.close()
    meta = df.run_metadata(cfg, models, source=str(a.run), run_meta=run.meta)
    out = df.write_arrays(a.data, arrays, meta, replace=a.force)
    names = ", ".join(k for k in arrays if k != "steps")
    return out, f"{len(rows):,} steps x {len(models)} model(s): {names}"


def _write_table(a: argparse.Namespace, datasize: bool) -> tuple[Path, str]:
    from model.experiments import datafiles as df

    if datasize:
        from model.experiments.datasize import open_datasize

        res = open_datasize(a.run)
        frame, meta = df.datasize_table(res), df.datasize_metadata(res)
    else:
        from model.experiments.sweep import open_sweep

        sweep = open_sweep(a.run)
        frame, meta = df.sweep_table(sweep), df.sweep_metadata(sweep)
    meta["source"] = str(a.run)
    out = df.write_table(a.table, frame, meta, replace=a.force)
    return out, f"{len(frame):,} rows x {len(frame.columns)} columns" + (
        f", metadata in {df.sidecar(out)}" if out.suffix.lower() == ".csv" else "")


def cmd_animate(a: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.export.animate import AnimationJob, check_fps, check_orbit, select_steps
    from app.export.figure import ExportError, FigureRenderer, check_output

    panels = _panels(a)
    try:
        out = check_output(a.out, (".mp4", ".gif"), replace=True)  # the name; its existence: check_out
        check_fps(a.fps, out.suffix.lower())
        check_orbit(a.orbit)
    except ExportError as exc:
        raise CliError(f"main.py: {exc}", exc.status) from None
    check_out(a.out, a.force)
    if a.orbit and not registry.needs_gl(panels):
        raise CliError(f"main.py: --orbit applies to the 3D view (--view {_gl_view()}, or a figure with {_gl_view()})")
    s, opts, title = load(a, panels)
    # Ctrl+C: asked between frames (a KeyboardInterrupt raised inside a Qt paint is swallowed)
    intr = Interrupt().__enter__()
    try:
        try:
            steps = select_steps(s.history.steps, a.start, a.end, a.frames, a.stride, a.log_time)
        except ExportError as exc:
            raise CliError(f"{a.run}: {exc.problem}" if exc.field == "run" else str(exc), exc.status) from None
        _check_frames_finite(s, steps, a.run)
        bar = None

        def progress(done, total):
            bar.update(done - bar.n)

        try:
            with FigureRenderer(panels, opts, title) as r:  # checks the options: no bar drawn before
                job = AnimationJob(r, frames_of(s), steps, out, fps=a.fps, orbit=a.orbit, replace=a.force)
                bar = tqdm(total=len(steps), unit="frame", disable=a.quiet, file=sys.stderr, dynamic_ncols=True)
                path = job.run(progress, should_stop=lambda: intr.requested)
        except ExportError as exc:
            raise CliError(f"main.py: {exc}", exc.status) from None
        finally:
            if bar is not None:
                bar.close()
    finally:
        intr.__exit__()
    if path is None:
        say(f"interrupted after {job.done} of {len(steps)} frames: nothing was written to {out}")
        return EXIT_INTERRUPTED
    w, h = opts.width, opts.height
    print(f"wrote {path} ({len(steps)} frames, {w}x{h}, {a.fps:g} fps, {len(steps) / a.fps:.1f} s; steps "
          f"{int(steps[0]):,}..{int(steps[-1]):,}{', log time' if a.log_time else ''})")
    return 0


def _check_frames_finite(s: ExplorerState, steps: Sequence[int], path: str) -> None:
    """animate: frames whose snapshot is not finite are drawn by the views as NOT_FINITE_TEXT, and
    one line says which; an animation of nothing but such frames is refused in one line."""
    bad = [int(t) for t in steps if not s.history.snapshot(step=int(t), model=s.model).finite]
    if not bad:
        return
    if len(bad) == len(steps):
        snap = s.history.snapshot(step=bad[-1], model=s.model)
        check_finite(snap, s.history, path)
    say(f"note: model {s.model} is not finite at {len(bad)} of the {len(steps)} frames (steps {bad[0]:,}.."
        f"{bad[-1]:,}); they show 'not finite at this step'")


def run(a: argparse.Namespace) -> int:
    if a.command == "export":
        return cmd_export(a)
    a.model = 0 if a.model is None else a.model
    return cmd_animate(a)
