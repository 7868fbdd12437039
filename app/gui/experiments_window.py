"""The Experiments window: seed sweeps (failure atlas), perturbation probes,
dataset-size sweeps, beside the explorer.

Every computation runs in a background thread (app/gui/worker.py's
``BackgroundJob``, the same class that trains in the explorer); the GUI learns of
progress through a coalesced signal and takes the latest report; Cancel asks the
runner to stop between chunks, and what finished is kept (and saved). Closing
the window cancels and joins its jobs within a bounded time, never terminates.

- Sweep: K seeds of the Experiment form's configuration (optionally over a
  grid) as one batched run per configuration; the SweepView shows the verdict
  rates, the loss histogram and the gallery. Clicking a thumbnail re-runs that
  model alone (seed s + k, the same model) as a normal run in the explorer, with
  its full history.
- Probe: loss along a path through the snapshot the explorer shows; the model at
  a chosen t can replace it in every view (3D and zones included) while the
  box is ticked, and "Continue training from t" starts a normal run from the
  perturbed model and reports, when it ends, whether it escaped.
- Dataset size: SMDD's sweep over T; sizes that would not fit in memory are
  refused before anything trains.

Each tab's Export… draws its view to PNG, SVG or PDF with the renderer of
``main.py export`` (app.export.experiment_figures).
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PyQt6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui.worker import BackgroundJob
from model.config import ConfigError, TrainConfig
from model.storage.runfile import RunFileError, autosave_path, user_runs_dir
from widgets.datasize_view import DataSizeView
from widgets.probe_view import ProbeView
from widgets.sweep_view import SweepView

if TYPE_CHECKING:
    from PyQt6.QtGui import QCloseEvent

    from app.gui.session import Session
    from model.analysis.probe import ProbePath, ProbeResult
    from model.experiments.datasize import DataSizeSweep
    from model.experiments.sweep import Sweep, SweepClock
    from model.snapshot import Snapshot

SWEEP_FILTER = "Sweep files (*.h5 *.hdf5);;All files (*)"
FIGURE_FILTER = "PNG image (*.png);;SVG (*.svg);;PDF (*.pdf)"
ERROR_STYLE = "color: #c62828"


def _status(label: QLabel, text: str, error: bool = False):
    label.setStyleSheet(ERROR_STYLE if error else "")
    label.setText(text.split("\n\n")[0])


# =============================================================================
# sweep tab

#: the errors whose message says it all (a bad form or file): no traceback with them
EXPECTED = (ConfigError, RunFileError)


class _FigureExport(QWidget):
    """An Export… button that draws the tab's view to PNG, SVG or PDF with the renderer of
    ``main.py export`` (app.export.experiment_figures): ``export_figure(path)`` writes,
    ``export_dialog()`` asks where (the dialog asks before replacing a file). A QWidget: the
    dialog's parent (each tab lists it before QWidget, so the method order is as it was)."""

    FIGURE_NAME = "experiment"
    #: the tab's status line, which the default ``_export_status`` writes to (made by the tab; a tab
    #: without one, ProbeTab, overrides ``_export_status``)
    status: QLabel

    def _make_export_button(self) -> QPushButton:
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("draw this view to a PNG, SVG or PDF file (as main.py export does)")
        self.export_button.clicked.connect(self.export_dialog)
        self.export_button.setEnabled(False)
        return self.export_button

    def _write_figure(self, path, replace: bool) -> Path:  # pragma: no cover - each tab has its own
        raise NotImplementedError

    def _export_status(self, text: str, error: bool = False) -> None:
        _status(self.status, text, error)

    def export_figure(self, path, replace: bool = False) -> Path | None:
        """Draw the view to ``path`` (.png, .svg, .pdf); the outcome goes to the status line."""
        from app.export.figure import ExportError

        try:
            out = self._write_figure(path, replace)
        except (ExportError, RunFileError) as exc:
            self._export_status(f"export failed: {exc}", error=True)
            return None
        self._export_status(f"figure saved: {out}")
        return out

    def export_dialog(self) -> Path | None:
        path, chosen = QFileDialog.getSaveFileName(self, "Export figure", str(Path.home() / f"{self.FIGURE_NAME}.png"),
                                                   FIGURE_FILTER)
        if not path:
            return None
        if not Path(path).suffix:  # the filter chosen names the format
            path += "." + ("svg" if chosen.startswith("SVG") else "pdf" if chosen.startswith("PDF") else "png")
        return self.export_figure(path, replace=True)  # the dialog asked before a file is replaced


class _RunnerTab(_FigureExport, QWidget):
    """What the sweep and dataset-size tabs share: a runner (model.training.engine.TrainingQueue) in a
    BackgroundJob, the Run / Open / Cancel buttons, the progress bar and the status line."""

    CANCEL_NOTE = "cancelling"
    OPEN_TITLE = "Open"
    job: BackgroundJob | None  # set to None by each tab's __init__, to its job by _start_job

    def start(self, out: str | os.PathLike[str] | bool | None = None) -> bool:
        """Run the tab's runner, writing to ``out`` (None or False: the default name); whether it started."""
        raise NotImplementedError

    def _on_progress(self) -> None:
        """Show the job's latest progress report."""
        raise NotImplementedError

    def _add_controls(self, lay: QVBoxLayout, run_text: str, open_text: str) -> None:
        """The row of Run / Cancel / Open and the progress bar, then the status line, into ``lay``."""
        row = QHBoxLayout()
        self.run_button = QPushButton(run_text)
        self.cancel_button = QPushButton("Cancel")
        self.open_button = QPushButton(open_text)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        for w in (self.run_button, self.cancel_button, self.open_button, self._make_export_button()):
            row.addWidget(w)
        row.addWidget(self.progress, 1)
        lay.addLayout(row)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self.open_dialog)

    def _update_buttons(self):
        busy = self.job is not None and self.job.is_running()
        self.run_button.setEnabled(not busy)
        self.open_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _start_job(self, runner, name: str, message: str, on_failed):
        self.runner = runner
        self.job = BackgroundJob(runner.run, runner.request_cancel, f"{name}-job", EXPECTED, self)
        self.job.progressed.connect(self._on_progress)
        self.job.done.connect(self._on_done)
        self.job.failed.connect(on_failed)
        _status(self.status, message)
        self.job.start()
        self._update_buttons()

    def cancel(self):
        if self.job is not None:
            self.job.cancel()
            _status(self.status, self.CANCEL_NOTE)

    def _latest_progress(self):
        """The job's newest progress report (taken: the next one may be sent), or None."""
        p = self.job.take_latest() if self.job is not None else None
        return None if p is None or p.phase == "done" else p

    def open_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, self.OPEN_TITLE, str(user_runs_dir()), SWEEP_FILTER)
        if path:
            self.open(path)

    def _show(self, result) -> None:
        """Show a sweep's result (finished or opened) in the tab's view; Export… once it has one."""
        self.export_button.setEnabled(self._keep(result))

    def _keep(self, result) -> bool:
        """Keep ``result`` and hand it to the view; whether it has anything to draw."""
        raise NotImplementedError

    def _summary(self, result) -> str:
        """What the result holds, in a few words ("3 of 4 sizes")."""
        raise NotImplementedError

    def _on_done(self, result):
        self._show(result)
        self.progress.setValue(self.progress.value() if result.cancelled else 1000)
        self.progress.setFormat("cancelled" if result.cancelled else "done")
        _status(self.status, ("cancelled: " if result.cancelled else "finished: ") + self._summary(result)
                + (f", saved to {result.path}" if result.path else ""))
        self._update_buttons()

    def _open_with(self, reader: Callable, path) -> bool:
        """Read ``path`` with ``reader`` and show it; a bad file is one status line."""
        try:
            result = reader(path)
        except RunFileError as exc:
            _status(self.status, str(exc), error=True)
            return False
        self._show(result)
        _status(self.status, f"opened {path}: {self._summary(result)}"
                + (" (cancelled: partial)" if result.cancelled else ""))
        return True

    def shutdown(self, timeout: float) -> bool:
        if self.job is not None:
            self.job.cancel()
            return self.job.join(timeout)
        return True


class SweepTab(_RunnerTab):
    CANCEL_NOTE = "cancelling: the configurations completed so far are kept"
    OPEN_TITLE = "Open sweep"
    FIGURE_NAME = "sweep-atlas"

    def __init__(self, session: Session, get_config: Callable[[], TrainConfig],
                 on_open_model: Callable | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.get_config = get_config
        self.on_open_model = on_open_model
        self.job: BackgroundJob | None = None
        self.runner = None
        self.sweep: Sweep | None = None
        self.clock: SweepClock | None = None  # the running sweep's share done and time left
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.base_label = QLabel("")
        self.base_label.setWordWrap(True)
        self.models = QSpinBox()
        self.models.setRange(1, 1_000_000)
        self.models.setValue(1000)
        self.models.setToolTip("K: seeds per configuration (model k has seed s + k)")
        self.grid = QLineEdit()
        self.grid.setPlaceholderText("e.g. n=6,7,8 lr=1e-3,3e-3 (empty: the configuration alone)")
        self.grid.setToolTip("vary training options: key=v1,v2,... separated by spaces; keys: n, m, lr, optimizer, "
                             "weight_decay, init, steps, momentum, schedule, warmup, data, sparsity, examples, batch")
        form.addRow("configuration", self.base_label)
        form.addRow("seeds K", self.models)
        form.addRow("grid", self.grid)
        lay.addLayout(form)
        self._add_controls(lay, "Run sweep", "Open sweep…")
        self.view = SweepView()
        lay.addWidget(self.view, 1)
        self.view.modelChosen.connect(self.open_model)
        self._update_buttons()
        self.refresh_base()

    def refresh_base(self) -> None:
        try:
            c = self.get_config()
        except ConfigError as exc:
            self.base_label.setText(f"the Experiment form is invalid: {exc}")
            return
        self.base_label.setText(f"the Experiment form's: n = {c.n}, m = {c.m}, {c.data}, {c.optimizer} lr {c.lr:g}, "
                                f"weight decay {c.effective_weight_decay:g}, {c.steps:,} steps, init {c.init}, seed {c.seed}")

    def start(self, out: str | os.PathLike[str] | bool | None = None) -> bool:
        # out: the file to write; None, or False (the Run button's clicked(checked)): the default name
        from model.experiments.sweep import SweepClock, SweepRunner, default_sweep_path, parse_grid

        self.refresh_base()
        try:
            base = self.get_config()
            if base.init == "run":
                raise ConfigError("init", "a sweep trains fresh models: choose xavier or analytic")
            text = self.grid.text().strip()
            grid = parse_grid([text] if text else [])  # an empty field: no grid (one configuration)
            path = Path(out) if out and not isinstance(out, bool) else default_sweep_path(base, self.models.value())
            runner = SweepRunner(base, grid, self.models.value(), out=path, threads=1)
        except (ConfigError, RunFileError) as exc:
            _status(self.status, str(exc), error=True)
            return False
        self.progress.setValue(0)
        self.clock = SweepClock.from_plan(runner.plan, runner.threads)
        self._start_job(runner, "sweep", f"sweeping {len(runner.plan)} configuration(s) × "
                        f"{self.models.value():,} seeds → {path}", self._on_failed)
        return True

    def _on_progress(self):
        p = self._latest_progress()
        if p is None or self.clock is None:
            return
        from model.experiments.datasize import fmt_seconds

        left = self.clock.seconds_left(p)
        self.progress.setValue(int(1000 * min(max(self.clock.fraction(p), 0.0), 1.0)))
        self.progress.setFormat(f"[{p.index + 1}/{p.configs}] {p.label}: {p.phase} {p.done:,}/{p.total:,}"
                                + (f" · all: %p%, about {fmt_seconds(left)} left" if left is not None else ""))

    def _write_figure(self, path, replace: bool) -> Path:
        from app.export import experiment_figures as ef

        assert self.sweep is not None, "Export… is enabled only once a sweep is shown"
        return ef.write_sweep_figure(path, self.sweep, entry=self.view.entry_index, replace=replace)

    def _keep(self, sweep) -> bool:
        self.sweep = sweep
        self.view.set_sweep(sweep)
        return bool(sweep.entries)

    def _summary(self, sweep) -> str:
        return f"{len(sweep.entries)} of {sweep.planned} configuration(s)"

    def _on_failed(self, message: str, tb: str):
        _status(self.status, f"sweep failed: {message}", error=True)
        self._update_buttons()

    def open(self, path: str | os.PathLike[str]) -> bool:
        from model.experiments.sweep import open_sweep

        return self._open_with(open_sweep, path)

    def open_model(self, entry_index: int, k: int) -> None:
        """Re-run model k of the entry alone (seed s + k: the same model) as a normal run, full history."""
        assert self.sweep is not None, "a model is chosen from the gallery of the sweep shown"
        e = self.sweep.entries[entry_index]
        cfg = e.single_run_config(k)
        try:
            self.session.start(cfg)
        except (ConfigError, RunFileError) as exc:
            _status(self.status, str(exc), error=True)
            return
        if self.on_open_model is not None:
            self.on_open_model(cfg)
        _status(self.status, f"model {k} of {e.label} ({e.verdicts[k].replace('_', ' ')}): re-running it alone "
                             f"with seed {cfg.seed} in the explorer, with its full history")


# =============================================================================
# probe tab

class ProbeTab(_FigureExport, QWidget):
    FIGURE_NAME = "probe"

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.job: BackgroundJob | None = None
        self.base: Snapshot | None = None  # the snapshot probed
        self.path: ProbePath | None = None
        self.result: ProbeResult | None = None
        # (run config, loss before, verdict before) of a continued run
        self.continued: tuple[TrainConfig, float, float] | None = None
        lay = QVBoxLayout(self)
        self.info = QLabel("")
        top = QHBoxLayout()
        top.addWidget(self.info, 1)
        top.addWidget(self._make_export_button())
        lay.addLayout(top)
        self.view = ProbeView()
        lay.addWidget(self.view, 1)
        self.view.probeRequested.connect(self.start)
        self.view.tChanged.connect(self._t_changed)
        self.view.showPerturbed.connect(self._show_changed)
        self.view.continueRequested.connect(self.continue_from)
        session.runChanged.connect(self._run_changed)
        session.stateChanged.connect(self._state_changed)
        self._run_changed()

    def _history_snapshot(self):
        s = self.session
        if s.history is None or len(s.history) == 0:
            return None
        step = None if s.follow_live else s.requested_step
        return s.history.snapshot(step=step, model=s.model)

    def _run_changed(self):
        s = self.session
        self.view.show_box.setChecked(False)
        if s.config is None:
            self.info.setText("no run yet")
            return
        snap = self._history_snapshot()
        dead = []
        if snap is not None and s.config.onehot and snap.n <= 2000:
            dead = s.analyses.of_snapshot(snap).dead  # the session's provider: the one that computes
        self.view.set_model_info(s.config.n, dead, s.config.steps)
        self.info.setText("probes the snapshot the explorer shows (model, step) at the moment Probe is pressed")

    def start(self, params: dict) -> bool:
        from model.analysis import probe as pr

        s = self.session
        snap = self._history_snapshot()
        if snap is None:
            self.view.show_error("nothing to probe: train or open a run first")
            return False
        cfg, dataset = s.config, s.dataset
        assert cfg is not None, "a snapshot to probe comes from a run, which has a config"
        try:
            path = pr.make_path(snap, params["kind"], params["feature"], params["direction"], params["seed"],
                                bias=cfg.bias)
        except ConfigError as exc:
            self.view.show_error(str(exc))
            return False

        def work(progress):
            obj = pr.objective_for(cfg, dataset, snap.model)
            return pr.probe(snap, path, obj, params["range"], params["points"])

        self.base, self.path = snap, path
        self.job = BackgroundJob(work, None, "probe-job", EXPECTED, self)
        self.job.done.connect(self._on_done)
        self.job.failed.connect(lambda message, tb: self.view.show_error(f"probe failed: {message}"))
        self.info.setText(f"probing model {snap.model} at step {snap.step:,}: {path.text}")
        self.job.start()
        return True

    def _on_done(self, result):
        self.result = result
        self.view.set_result(result)
        self.export_button.setEnabled(result is not None)

    def _export_status(self, text: str, error: bool = False) -> None:
        self.view.show_error(text)

    def _write_figure(self, path, replace: bool) -> Path:
        from app.export.experiment_figures import write_probe_figure

        assert self.result is not None and self.base is not None, "Export… is enabled once a probe is done"
        return write_probe_figure(path, self.result, self.base, self.session.config, self.base.model,
                                  replace=replace)

    def perturbed_at(self, t: float) -> Snapshot:
        from model.analysis import probe as pr

        assert self.base is not None and self.path is not None and self.result is not None, \
            "called only once a probe is done"
        snap = pr.perturbed(self.base, self.path, t)
        loss = float(np.interp(t, self.result.ts, self.result.losses))
        return dataclasses.replace(snap, loss=loss)

    def _t_changed(self, t: float):
        if self.view.show_box.isChecked() and self.result is not None:
            self.session.set_override(self.perturbed_at(t))

    def _show_changed(self, on: bool):
        if on and self.result is not None:
            self.session.set_override(self.perturbed_at(self.view.t()))
        elif self.session.override is not None:
            self.session.set_override(None)

    def continue_from(self, t: float, steps: int) -> None:
        from model.analysis import probe as pr

        if self.result is None:
            return
        s = self.session
        config = s.config
        assert config is not None, "a probe result is of a run's snapshot, and the run has a config"
        start = self.perturbed_at(t)
        try:
            file = autosave_path(config, stem=f"perturbed-model{start.model}-step{start.step}-t{t:.4g}")
            cfg = pr.save_start_run(file, config, start).replace(steps=int(steps)).validate()
            before = (self.result.loss0, self.base)
            self.view.show_box.setChecked(False)
            s.start(cfg)
        except (ConfigError, RunFileError) as exc:
            self.view.show_error(str(exc))
            return
        self.continued = (cfg, before[0], t)
        self.view.status.setText(f"training on from t = {t:.4g} for {steps:,} steps in the explorer "
                                 f"(unperturbed loss {before[0]:.5g}) …")

    def _state_changed(self, state: str):
        if self.continued is None or state not in ("finished", "stopped"):
            return
        cfg, loss0, t = self.continued
        s = self.session
        if s.config is not cfg and s.config != cfg:
            self.continued = None
            return
        from model.analysis import probe as pr

        assert s.history is not None, "the continued run (the session's config) has finished or stopped: it has a history"
        end = s.history.snapshot()
        a = s.analyses.of_snapshot(end)  # the session's provider (its onehot is the run's)
        loss = a.loss if cfg.onehot else end.loss
        assert loss is not None, "a one-hot analysis carries the exact loss"
        esc = pr.escaped(loss0, loss)
        self.view.status.setText(
            f"continued from t = {t:.4g}: loss {loss0:.5g} → {loss:.5g} after {end.step:,} steps, verdict "
            f"{a.verdict.replace('_', ' ')}: " + ("escaped" if esc else "did not escape (fell back or stayed)"))
        self.continued = None

    def shutdown(self, timeout: float) -> bool:
        if self.session.override is not None:
            self.session.set_override(None)
        return self.job.join(timeout) if self.job is not None else True


# =============================================================================
# dataset-size tab

class DataSizeTab(_RunnerTab):
    CANCEL_NOTE = "cancelling: the sizes completed so far are kept"
    OPEN_TITLE = "Open dataset-size sweep"
    FIGURE_NAME = "dataset-size"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        from model.experiments.datasize import DEFAULT_TEST_EXAMPLES, smdd_config

        self.job: BackgroundJob | None = None
        self.runner = None
        self.result: DataSizeSweep | None = None
        s = smdd_config()
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.fields = {}
        for key, label, value in (("sizes", "sizes T", "3,5,8,10,15,30,50,100,200,500,1000"),
                                  ("n", "n", str(s.n)), ("sparsity", "sparsity S", f"{s.sparsity:g}"),
                                  ("steps", "steps", str(s.steps)), ("warmup", "warm-up steps", str(s.warmup)),
                                  ("lr", "lr (AdamW)", f"{s.lr:g}"), ("weight_decay", "weight decay", f"{s.effective_weight_decay:g}"),
                                  ("models", "models per T", "1"), ("seed", "seed", "0"),
                                  ("test_examples", "test examples", str(DEFAULT_TEST_EXAMPLES))):
            e = QLineEdit(value)
            form.addRow(label, e)
            self.fields[key] = e
        lay.addLayout(form)
        lay.addWidget(QLabel("SMDD's setting: m = 2, full-batch AdamW, linear warm-up then cosine decay."))
        self._add_controls(lay, "Run", "Open…")
        self.view = DataSizeView()
        lay.addWidget(self.view, 1)
        self._update_buttons()

    def config(self) -> tuple[TrainConfig, list[int], int]:
        """(base TrainConfig, sizes, test examples); ConfigError naming the field."""
        from model.experiments.datasize import parse_sizes, smdd_config

        def num(key, conv, what):
            text = self.fields[key].text().strip()
            try:
                v = conv(text)
            except ValueError:
                raise ConfigError(key, f"must be {what}, got {text!r}") from None
            return v

        sizes = parse_sizes(self.fields["sizes"].text())
        cfg = smdd_config(n=num("n", int, "a whole number"), sparsity=num("sparsity", float, "a number"),
                          steps=num("steps", int, "a whole number"), warmup=num("warmup", int, "a whole number"),
                          lr=num("lr", float, "a number"), weight_decay=num("weight_decay", float, "a number"),
                          models=num("models", int, "a whole number"), seed=num("seed", int, "a whole number"))
        return cfg, sizes, num("test_examples", int, "a whole number")

    def start(self, out: str | os.PathLike[str] | bool | None = None) -> bool:
        # out: the file to write; None, or False (the Run button's clicked(checked)): the default name
        from model.experiments.datasize import DataSizeRunner

        try:
            cfg, sizes, test = self.config()
            path = Path(out) if out and not isinstance(out, bool) else autosave_path(cfg, "datasize")
            runner = DataSizeRunner(cfg, sizes, test, out=path, threads=1)
        except (ConfigError, RunFileError) as exc:
            _status(self.status, str(exc), error=True)
            return False
        from model.experiments.datasize import fmt_bytes

        est = max(runner.estimates.values())
        self._start_job(runner, "datasize",
                        f"training {len(sizes)} sizes (peak memory about {fmt_bytes(est)}) → {path}",
                        lambda message, tb: (_status(self.status, f"failed: {message}", True),
                                             self._update_buttons()))
        return True

    def _on_progress(self):
        p = self._latest_progress()
        if p is None:
            return
        from model.experiments.datasize import fmt_seconds

        self.progress.setValue(int(1000 * min(max(p.fraction, 0.0), 1.0)))
        what = f"step {p.done:,}/{p.total:,}" if p.phase == "train" else "measuring"
        self.progress.setFormat(f"T = {p.T:,} ({p.index + 1}/{p.sizes}): {what} · all sizes: %p%, about "
                                f"{fmt_seconds(p.seconds_left)} left")

    def _write_figure(self, path, replace: bool) -> Path:
        from app.export import experiment_figures as ef

        assert self.result is not None, "Export… is enabled only once a result is shown"
        return ef.write_datasize_figure(path, self.result, model=self.view.model, replace=replace)

    def _keep(self, result) -> bool:
        self.result = result
        self.view.set_result(result)
        return bool(result.results)

    def _summary(self, result) -> str:
        return f"{len(result.results)} of {len(result.sizes)} sizes"

    def open(self, path: str | os.PathLike[str]) -> bool:
        from model.experiments.datasize import open_datasize

        return self._open_with(open_datasize, path)


# =============================================================================
# the window

class ExperimentsWindow(QMainWindow):
    TABS = ("sweep", "probe", "datasize")

    def __init__(self, session: Session, get_config: Callable[[], TrainConfig],
                 on_open_model: Callable | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Experiments — latent geometry explorer")
        self.tabs = QTabWidget()
        self.sweep = SweepTab(session, get_config, on_open_model)
        self.probe = ProbeTab(session)
        self.datasize = DataSizeTab()
        self.tabs.addTab(self.sweep, "Seed sweep")
        self.tabs.addTab(self.probe, "Perturbation probe")
        self.tabs.addTab(self.datasize, "Dataset size (SMDD)")
        self.setCentralWidget(self.tabs)
        self.resize(1150, 950)

    def show_tab(self, name: str) -> None:
        self.tabs.setCurrentIndex(self.TABS.index(name))
        if name == "sweep":
            self.sweep.refresh_base()
        self.show()
        self.raise_()
        self.activateWindow()

    def shutdown(self, timeout: float = 2.0) -> bool:
        ok = True
        for tab in (self.sweep, self.probe, self.datasize):
            ok = tab.shutdown(timeout) and ok
        return ok

    def closeEvent(self, e: QCloseEvent | None) -> None:
        if self.probe.session.override is not None:
            self.probe.session.set_override(None)
        super().closeEvent(e)


__all__ = ["DataSizeTab", "ExperimentsWindow", "ProbeTab", "SweepTab"]
