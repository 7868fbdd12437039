"""The session: the window's one owner of what is shown. It wraps a Qt-free
model.analysis.explorer.ExplorerState (the run, the shown model, the step, the selection,
follow-live, the override) and its model.analysis.analysis_provider.AnalysisProvider, and
adds what needs Qt or threads: the signals the window listens to, the training
worker, and the analysis queue (a latest-wins BackgroundQueue) in which large
models are analysed.

Live training, scrubbing and export all go through `frame()` / `frame_at()`,
which return a model.analysis.frame.Frame (what every view draws), as ExplorerState's do.
The session only marks itself dirty when something changes; the window redraws
at display rate.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Hashable, Iterable
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from app.gui.worker import BackgroundJob, BackgroundQueue, TrainingWorker
from model.analysis.analysis_provider import ANALYSIS_DEBOUNCE_S, SYNC_ANALYSIS_MAX_N, AnalysisProvider
from model.analysis.explorer import ExplorerState
from model.analysis.frame import Frame
from model.config import TrainConfig
from model.history import History
from model.snapshot import Snapshot
from model.storage.runfile import RunFileError, RunWriter, autosave_path, open_run, save_run
from model.training.data import make_dataset
from model.training.engine import Trainer, check_memory
from model.training.init import initial_parameters
from model.training.paths import kernels_ready
from model.training.recording import Recorder, RunFileRecorder

__all__ = [
    "AHEAD_QUIET_S",
    "ANALYSIS_DEBOUNCE_S",
    "AUTOSTART_MAX_S",
    "SYNC_ANALYSIS_MAX_N",
    "RunEstimate",
    "Session",
    "estimate_run",
    "fmt_duration",
    "kernels_ready",
]

#: Seconds after the last step asked for (a scrub, playback) before analyses are computed ahead again
#: (Session.compute_ahead): the thread that computes them holds the GIL in slices of up to 5 ms
#: (sys.getswitchinterval), which every frame of a drag would wait for.
AHEAD_QUIET_S = 0.4
#: The window starts a remembered experiment by itself only when it would take at most this long
#: (seconds); a longer one waits for Start, with its estimate shown.
AUTOSTART_MAX_S = 5.0
#: The cost of one step of one model, in seconds, fitted to steps timed on this project's 2-core
#: development machine (shared, so on the slow side). Full-batch one-hot kernel: ONEHOT_S *
#: n^ONEHOT_POW (72 us at n = 7, 1.6 ms at n = 100, 0.34 s at n = 1000). Fresh sparse batches: a
#: B x n batch drawn and multiplied, (DRAW_S + ROW_S m) per entry (1.9 ms at B = 1024, n = 20, m = 2;
#: 3.5 ms at m = 5). A finite sparse set: ROW_S m per non-zero. Every step: STEP_OVERHEAD_S (the
#: kernel call, the history) and PARAM_S per parameter (the optimiser's update).
STEP_OVERHEAD_S = 7e-5
ONEHOT_S, ONEHOT_POW = 3.7e-8, 2.32
DRAW_S, ROW_S = 4.1e-8, 2.6e-8
PARAM_S = 5e-9


def fmt_duration(seconds: float) -> str:
    """'4 s', '2 min', '3 h 20 min', '2 days 3 h': a time to read at a glance."""
    s = max(0.0, float(seconds))
    if s < 90:
        return f"{s:.0f} s" if s >= 1 else "under a second"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        h, mi = divmod(int(round(s / 60)), 60)
        return f"{h} h {mi} min" if mi else f"{h} h"
    d, h = divmod(int(round(s / 3600)), 24)
    return f"{d} days {h} h" if h else f"{d} days"


class RunEstimate:
    """How long training ``config`` would take: seconds, seconds a step, and whether the rate was
    measured (a run of the same shape in this session) or estimated (the cost model above)."""

    def __init__(self, seconds: float, seconds_per_step: float, basis: str):
        self.seconds, self.seconds_per_step, self.basis = float(seconds), float(seconds_per_step), basis

    def text(self) -> str:
        took = "under a second" if self.seconds < 1 else f"about {fmt_duration(self.seconds)}"
        return f"{took} ({self.basis}: {self.seconds_per_step * 1e3:.3g} ms a step)"


def shape_key(config: TrainConfig) -> tuple:
    """What a step's cost depends on: runs with the same key train at the same rate."""
    return (config.n, config.m, config.models, config.onehot, config.effective_batch, config.examples,
            round(float(config.sparsity), 6), config.untied)


def estimate_run(config: TrainConfig, measured: dict | None = None) -> RunEstimate:
    """The one estimate of a run's duration the window uses (autostart, the confirmation, presets):
    steps x the seconds a step measured for the same shape (``measured``: shape_key -> seconds a
    step) or, when none was measured, the cost model above. Not counted: compiling the kernels
    on a first run (kernels_ready says whether that is to come)."""
    rate = (measured or {}).get(shape_key(config))
    if rate is not None:
        return RunEstimate(config.steps * rate, rate, "measured")
    K, n, m, B = config.models, config.n, config.m, config.effective_batch
    if config.onehot and n == B:
        per_model = ONEHOT_S * n ** ONEHOT_POW
    elif config.onehot or config.examples is None:  # a batch drawn (or gathered) every step
        per_model = B * n * (DRAW_S + ROW_S * m)
    else:  # a finite sparse set: the non-zeros of the batch
        per_model = B * n * max(1.0 - float(config.sparsity), 0.0) * ROW_S * m
    per_model += PARAM_S * n * (m * (2 if config.untied else 1) + 1)
    rate = STEP_OVERHEAD_S + K * per_model
    return RunEstimate(config.steps * rate, rate, "estimated")


class Session(QObject):
    runChanged = pyqtSignal()  # a new run: config, K, n may differ
    frameChanged = pyqtSignal()  # the current frame is stale: redraw at the next tick
    stateChanged = pyqtSignal(str)  # idle | training | paused | finished | stopped | failed | opened
    message = pyqtSignal(str)  # status-bar line
    error = pyqtSignal(str, str)  # title, text: shown as a dialog
    selectionChanged = pyqtSignal()
    modelsChanged = pyqtSignal()  # final losses / verdicts of the K models changed

    def __init__(self, parent: QObject | None = None, train_threads: int = 1):
        super().__init__(parent)
        self.train_threads = train_threads
        self.explorer = ExplorerState()
        self.trainer: Trainer | None = None
        self.worker: TrainingWorker | None = None
        self.writer: RunWriter | None = None
        self.state = "idle"
        self.verdicts: list | None = None
        self.last_progress = None
        self._analysis = BackgroundQueue("analysis", parent=self)  # large models' analyses, latest wins
        self._analysis.done.connect(self._analysis_done)
        self._analysis.failed.connect(self._analysis_failed)
        self._wanted_analysis: Hashable | None = None
        self.measured: dict = {}  # shape_key -> seconds a step, from this session's runs (estimate_run)
        self.preparing = False  # the first chunk compiles the kernels (kernels_ready)
        self.from_file = False  # the run shown was opened or saved under a name (False: trained here, autosaved)
        self._ahead: BackgroundJob | None = None  # the analyses computed ahead (compute_ahead)
        self._ahead_jobs: list[BackgroundJob] = []  # every such job whose thread has not ended
        self._ahead_stop = threading.Event()
        self._quiet_until = 0.0  # time.monotonic() before which compute_ahead waits (a scrub is going on)
        self.ahead_computed: int | None = None  # analyses the last finished compute_ahead computed
        self._closed = False  # shutdown() was called

    # ======================================================= the explorer state
    @property
    def analyses(self) -> AnalysisProvider:
        return self.explorer.analyses

    @property
    def config(self) -> TrainConfig | None:
        return self.explorer.config

    @property
    def history(self) -> History | None:
        return self.explorer.history

    @property
    def dataset(self) -> np.ndarray | None:
        return self.explorer.dataset

    @property
    def run_path(self) -> Path | None:
        return self.explorer.path

    @property
    def model(self) -> int:
        return self.explorer.model

    @property
    def follow_live(self) -> bool:
        return self.explorer.follow_live

    @property
    def requested_step(self) -> int | None:
        return self.explorer.requested_step

    @property
    def selected(self) -> set[int]:
        return self.explorer.selected

    @selected.setter
    def selected(self, features: Iterable[int]) -> None:
        self.explorer.selected = set(features)

    @property
    def override(self) -> Snapshot | None:
        return self.explorer.override

    @property
    def colors(self) -> np.ndarray:
        return self.explorer.colors

    # ================================================================ training
    def start(self, config: TrainConfig) -> None:
        """Start a new run (stopping any run in progress). Bad configs raise ConfigError."""
        config = config.validate()
        check_memory(config)  # a run that cannot fit is refused (ConfigError naming why), nothing stops
        dataset = make_dataset(config)
        initial = initial_parameters(config)  # may raise for a bad init run: nothing changes then
        self.stop_training()
        writer = path = None
        try:
            path = autosave_path(config)
            writer = RunWriter(path, config, dataset=dataset)
        except RunFileError as exc:  # a full or read-only data disk: said as loudly as a failure mid-run
            self.message.emit(f"autosave disabled: {exc}")
            self.error.emit("Autosave disabled", f"{exc}; the run trains in memory: File > Save run as… saves it "
                                                 f"elsewhere")
            path = None
        # what the run keeps: the history (the trainer's own) and, unless autosave is off, the run file
        recorders: list[Recorder] = [] if writer is None else [RunFileRecorder(writer, on_error=self._autosave_failed)]
        trainer = Trainer(config, recorders=recorders, initial=initial, dataset=dataset)
        self.from_file = False
        self._install(config, trainer.history, dataset, path)
        self.trainer, self.writer = trainer, writer
        self.worker = TrainingWorker(trainer, threads=self.train_threads)
        self.worker.progressed.connect(self._on_progress)
        self.worker.halted.connect(self._on_halted)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_finished)
        self.preparing = not kernels_ready(config)
        self.worker.start()
        self._set_state("training")
        self.message.emit("preparing the compiled kernels (first run only: about half a minute)…" if self.preparing
                          else f"starting: {estimate_run(config, self.measured).text()}")

    def pause(self) -> None:
        if self.worker is not None and self.worker.is_running():
            self.worker.pause()
            self._set_state("paused")

    def resume(self) -> None:
        if self.worker is not None and self.worker.is_running():
            self.worker.resume()
            self._set_state("training")

    def step_once(self) -> None:
        """One chunk, then paused again."""
        if self.worker is not None and self.worker.is_running():
            if self.state != "paused":
                self.pause()
            self.worker.step_once()

    def stop_training(self, timeout: float = 2.0) -> bool:
        ok = True
        if self.worker is not None:
            ok = self.worker.stop(timeout)
            self._finish_writer()
            if ok and self.state in ("training", "paused"):
                self._recolor()
                self._set_state("stopped")
                self.compute_ahead()
        return ok

    def is_training(self) -> bool:
        return self.worker is not None and self.worker.is_running()

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Stop everything within `timeout` seconds (closing the window)."""
        ok = self.stop_training(timeout)
        if ok and self.trainer is not None:
            self.trainer.close()  # its batch-drawing thread (fresh batches) ends with it
        self._closed = True  # nothing is computed ahead from now on (a training run's end may still arrive)
        self.stop_ahead()
        ahead_ok = all(j.join(timeout) for j in list(self._ahead_jobs))  # one analysis ahead: milliseconds
        # an analysis running (about a second at n = 10,000) ends within the timeout; one waiting is dropped
        return self._analysis.close(timeout) and ok and ahead_ok

    # ===================================================== analyses ahead
    def compute_ahead(self) -> bool:
        """Compute the shown model's analyses of its recorded snapshots ahead of being shown, in a
        thread (ExplorerState.plan_ahead: small models, nearest the shown step first), so that a scrub
        finds them cached; it waits while steps are asked for (AHEAD_QUIET_S). Never while training
        nor after shutdown. False when there is nothing to compute."""
        self.stop_ahead()
        if self.is_training() or self._closed:
            return False
        plan = self.explorer.plan_ahead()
        if plan is None:
            return False
        stop = threading.Event()

        def quiet() -> None:  # the thread waits here while the person scrubs
            while not stop.is_set() and (left := self._quiet_until - time.monotonic()) > 0:
                stop.wait(left)

        # no parent, no deleteLater: the GUI thread could delete the job while its thread is still inside
        # the emit of ``finished``; the session keeps it until that signal has arrived and the thread is done
        job = BackgroundJob(lambda _report: plan.run_ahead(stop.is_set, quiet), cancel=stop.set,
                            name="analyses-ahead")
        job.done.connect(self._ahead_done)
        job.finished.connect(self._ahead_finished)
        self._ahead_jobs.append(job)
        self._ahead, self._ahead_stop, self.ahead_computed = job, stop, None
        job.start()
        return True

    def ahead_running(self) -> bool:
        """Whether analyses are being computed ahead now (a job asked to stop finishes the one in hand)."""
        return any(j.is_running() for j in self._ahead_jobs)

    def stop_ahead(self) -> BackgroundJob | None:
        """Ask the analyses ahead to stop (between two analyses); returns the job, not waited for."""
        job, self._ahead = self._ahead, None
        self._ahead_stop.set()
        return job

    def _ahead_done(self, computed: object) -> None:
        if self.sender() is self._ahead:
            self.ahead_computed = int(computed) if isinstance(computed, int) else None

    def _ahead_finished(self) -> None:
        """A job's thread is ending: wait the moment it takes to end, then let the job go (here, in the
        GUI thread, where it was made)."""
        job = self.sender()
        for j in [j for j in self._ahead_jobs if j is job]:
            j.join(1.0)
            self._ahead_jobs.remove(j)

    # ============================================================= run files
    def open(self, path: str | os.PathLike[str]) -> bool:
        """Open a saved run. A bad file leaves the current session untouched."""
        try:
            run = open_run(Path(path))  # read before anything stops: a bad file changes nothing
        except RunFileError as exc:
            self.error.emit("Cannot open run", str(exc))
            return False
        self.stop_training()
        self.trainer = None
        self.worker = None
        self.from_file = True
        self._install(run.config, run.history, run.dataset, Path(path))
        self._set_state("opened")
        self._compute_verdicts()
        self.compute_ahead()
        self.message.emit(f"opened {path}: {len(run.history)} snapshots, steps "
                          f"{run.history.first_step}..{run.history.latest_step}")
        return True

    def save_as(self, path: str | os.PathLike[str], replace: bool = False) -> bool:
        """Save the run to ``path``; an existing file is replaced only with ``replace`` (a save
        dialog that asked)."""
        if self.history is None or self.config is None:
            self.error.emit("Nothing to save", "Train or open a run first.")
            return False
        try:
            save_run(Path(path), self.config, self.history, dataset=self.dataset, replace=replace)
        except RunFileError as exc:
            self.error.emit("Cannot save run", str(exc))
            return False
        self.explorer.path = Path(path)
        self.from_file = True
        self.message.emit(f"saved {path}")
        return True

    # ============================================================ navigation
    def set_model(self, k: int) -> None:
        if self.explorer.set_model(k):
            self.frameChanged.emit()
            if self.state not in ("training", "paused"):
                self.compute_ahead()  # the new model's analyses

    def request_step(self, step: int) -> None:
        """Show the snapshot at or before `step` (scrubbing). Stops following live; the analyses
        ahead wait until the scrub has been quiet for AHEAD_QUIET_S."""
        self._quiet_until = time.monotonic() + AHEAD_QUIET_S
        self.explorer.request_step(step)
        self.frameChanged.emit()

    def set_follow_live(self, on: bool) -> None:
        """Follow live training, or stay at the step shown now."""
        self.explorer.set_follow_live(on)
        self.frameChanged.emit()

    def select_feature(self, i: int, add: bool = False) -> None:
        if self.explorer.select_feature(i, add):
            self.selectionChanged.emit()
            self.frameChanged.emit()

    def set_override(self, snap: Snapshot | None) -> None:
        """Show ``snap`` (e.g. a perturbed copy of the shown model) in every view instead of the
        history's snapshot, until set_override(None) or a new run; the run itself is untouched."""
        self.explorer.set_override(snap)
        self.frameChanged.emit()

    # ================================================================ frames
    def snapshot(self) -> Snapshot | None:
        return self.explorer.snapshot()

    def frame(self) -> Frame | None:
        """The Frame of the current state (ExplorerState.frame); None before any data. A large
        model's analysis is computed in the analysis job (frameChanged when it is ready);
        meanwhile the model's latest analysis is lent, the frame marked ``pending``."""
        fr = self.explorer.frame()
        if fr is not None and fr.pending:
            self._analyze_later(fr.key, fr.snapshot)
        return fr

    def frame_at(self, step: int | None) -> Frame | None:
        """The Frame of the shown model at or before `step` (None: the latest), leaving the
        session's state as it is: what export and animation hand the views. The analysis is
        computed here, even for large n; None before any data."""
        return self.explorer.frame_at(step)

    def _analyze_later(self, key: Hashable, snap: Snapshot) -> None:
        """Ask the analysis queue for ``snap``'s analysis. While scrubbing, frames pass faster than
        analyses finish: a request waits ANALYSIS_DEBOUNCE_S and is replaced by the next frame's
        meanwhile; asking again for the one waiting or running queues nothing."""
        self._wanted_analysis = key
        analyses = self.analyses
        self._analysis.submit(key, lambda: analyses.compute(key, snap), delay=ANALYSIS_DEBOUNCE_S)

    def _analysis_done(self, key: Hashable, _analysis: object) -> None:
        """An analysis is ready (and cached by the provider): redraw when it is the frame's; a result
        for a frame no longer wanted is not shown (it stays cached for a return to its step)."""
        if key == self._wanted_analysis:
            self.frameChanged.emit()

    def _analysis_failed(self, key: Hashable, message: str, _tb: str) -> None:
        if key == self._wanted_analysis:
            self.message.emit(f"analysis failed: {message}")

    # ============================================================== internals
    def _install(self, config, history, dataset, path) -> None:
        self.stop_ahead()
        self.explorer.load(config, history, dataset, path)
        self.verdicts = None
        self.last_progress = None
        self.runChanged.emit()
        self.frameChanged.emit()

    def _recolor(self) -> None:
        """Above the categorical palette's 20 colours features are coloured by their angle in the
        latent plane: at the start of a run that is the random initial angle, so once training ends the
        colours are taken again from the trained model (neighbours in angle get neighbouring hues,
        the n-gon reads as a colour wheel); they then stay put while scrubbing."""
        if self.explorer.has_data() and self.config is not None and self.config.n > 20:
            self.explorer.recolor()

    def _set_state(self, state: str):
        self.state = state
        self.stateChanged.emit(state)

    def _finish_writer(self):
        if self.writer is not None and not (self.worker is not None and self.worker.is_running()):
            try:
                self.writer.close()
            except RunFileError as exc:
                self.message.emit(f"autosave: {exc}")
            self.writer = None

    def _autosave_failed(self, exc):  # worker thread: signals reach the GUI queued
        """The autosave file cannot be written (a full disk): training goes on in memory."""
        self.message.emit(f"autosave stopped: {exc}")
        self.error.emit("Autosave stopped", f"{exc}\n\nTraining goes on in memory; File > Save run as… saves "
                                            f"it elsewhere.")

    def _on_progress(self):
        w = self.worker
        if w is None:
            return
        self.last_progress = w.take_latest()
        if self.explorer.live_advanced():
            self.frameChanged.emit()
        p = self.last_progress
        if p is not None:
            self.preparing = False
            live = p.loss[np.isfinite(p.loss)]
            loss = f"{float(np.median(live)):.4g}" if live.size else "nan"
            left = ""
            if p.steps_per_s > 0 and self.config is not None:
                self.measured[shape_key(self.config)] = 1.0 / p.steps_per_s
                secs = (p.total - p.step) / p.steps_per_s
                left = f"   about {fmt_duration(secs)} left" if secs >= 1 else "   under a second left"
            self.message.emit(f"step {p.step:,}/{p.total:,}   loss {loss}   {p.steps_per_s:,.0f} steps/s{left}")

    def _on_halted(self, k: int, step: int):
        config = self.config
        assert config is not None, "a model halts only while training, which runs from a config"
        text = (f"Model {k} (seed {config.seed + k}): the loss became NaN or infinite at step {step:,}. "
                f"Its training stopped there; its history up to its last finite snapshot is kept.")
        self.message.emit(text)
        self.error.emit("Training diverged", text)

    def _on_failed(self, message: str, tb: str):
        self._set_state("failed")
        self.error.emit("Training failed", f"{message}\n\nThe history recorded so far is kept.\n\n{tb}")

    def _on_finished(self):
        w = self.worker
        if w is None or self.sender() is not w:
            return
        w.join(1.0)
        self._finish_writer()
        if self.state in ("training", "paused"):
            self._set_state("finished")
        self._recolor()
        self.frameChanged.emit()
        self._compute_verdicts()
        self.compute_ahead()

    def _compute_verdicts(self) -> None:
        """Final loss and verdict of each model, for the model picker."""
        if not self.explorer.has_data():
            return
        self.verdicts = self.explorer.model_verdicts()
        self.modelsChanged.emit()

    def final_losses(self) -> np.ndarray:
        return self.explorer.final_losses()
