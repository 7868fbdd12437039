"""The session: the one place that knows the current run, the shown model, the
current step and the selected features. Views never ask anything else.

Live training, scrubbing and export all go through `frame()`, which returns
(snapshot, ViewContext) for the current state. The session only marks itself
dirty when something changes; the window redraws at display rate.
"""
from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path
from typing import Optional

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from model.analysis import analyze
from model.config import TrainConfig
from model.data import make_dataset
from model.engine import Trainer, check_memory
from model.geometry import angles, project
from model.history import History
from model.init import initial_parameters
from model.runfile import RunFileError, RunWriter, autosave_path, open_run, save_run
from model.snapshot import Snapshot
from resources.palette import feature_colors
from widgets.context import ViewContext

from app.gui.worker import TrainingWorker

# Above this many features, analysis runs off the GUI thread (it takes
# ~0.2 s at n = 10,000) and the views get it when it is ready.
SYNC_ANALYSIS_MAX_N = 1500
ANALYSIS_DEBOUNCE_S = 0.15


class Session(QObject):
    runChanged = pyqtSignal()  # a new run: config, K, n may differ
    frameChanged = pyqtSignal()  # the current frame is stale: redraw at the next tick
    stateChanged = pyqtSignal(str)  # idle | training | paused | finished | stopped | failed | opened
    message = pyqtSignal(str)  # status-bar line
    error = pyqtSignal(str, str)  # title, text: shown as a dialog
    selectionChanged = pyqtSignal()
    modelsChanged = pyqtSignal()  # final losses / verdicts of the K models changed

    def __init__(self, parent=None, train_threads: int = 1):
        super().__init__(parent)
        self.train_threads = train_threads
        self.config: Optional[TrainConfig] = None
        self.history: Optional[History] = None
        self.dataset: Optional[np.ndarray] = None
        self.run_path: Optional[Path] = None
        self.trainer: Optional[Trainer] = None
        self.worker: Optional[TrainingWorker] = None
        self.writer: Optional[RunWriter] = None
        self.state = "idle"
        self.model = 0
        self.follow_live = True
        self.requested_step: Optional[int] = None
        self.selected: set = set()
        self.colors = feature_colors(7)
        self.verdicts: Optional[list] = None
        self.last_progress = None
        self._analysis_cache: dict = {}
        self._last_analysis: dict = {}  # model -> its most recent analysis (any step)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis")
        self._pending_analysis: set = set()
        self._closed = False
        self._wanted_analysis = None
        self._loss_cache = (None, None, None)
        self.override: Optional[Snapshot] = None  # a snapshot shown instead of the history's (probes)

    # ================================================================ training
    def start(self, config: TrainConfig):
        """Start a new run (stopping any run in progress). Bad configs raise ConfigError."""
        config = config.validate()
        check_memory(config)  # a run that cannot fit is refused (ConfigError naming why), nothing stops
        dataset = make_dataset(config)
        initial = initial_parameters(config)  # may raise for a bad init run: nothing changes then
        self.stop_training()
        path = autosave_path(config)
        writer = None
        try:
            writer = RunWriter(path, config, dataset=dataset)
        except RunFileError as exc:
            self.message.emit(f"autosave disabled: {exc}")
            path = None
        trainer = Trainer(config, writer=writer, initial=initial, dataset=dataset,
                          on_writer_error=self._autosave_failed)
        self._install(config, trainer.history, dataset, path)
        self.trainer, self.writer = trainer, writer
        self.worker = TrainingWorker(trainer, threads=self.train_threads)
        self.worker.progressed.connect(self._on_progress)
        self.worker.halted.connect(self._on_halted)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()
        self._set_state("training")

    def pause(self):
        if self.worker is not None and self.worker.is_running():
            self.worker.pause()
            self._set_state("paused")

    def resume(self):
        if self.worker is not None and self.worker.is_running():
            self.worker.resume()
            self._set_state("training")

    def step_once(self):
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
                self._set_state("stopped")
        return ok

    def is_training(self) -> bool:
        return self.worker is not None and self.worker.is_running()

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Stop everything within `timeout` seconds (closing the window)."""
        ok = self.stop_training(timeout)
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        return ok

    # ============================================================= run files
    def open(self, path) -> bool:
        """Open a saved run. A bad file leaves the current session untouched."""
        try:
            run = open_run(path)
        except RunFileError as exc:
            self.error.emit("Cannot open run", str(exc))
            return False
        self.stop_training()
        self.trainer = None
        self.worker = None
        self._install(run.config, run.history, run.dataset, Path(path))
        self._set_state("opened")
        self._compute_verdicts()
        self.message.emit(f"opened {path}: {len(run.history)} snapshots, steps "
                          f"{run.history.first_step}..{run.history.latest_step}")
        return True

    def save_as(self, path, replace: bool = False) -> bool:
        """Save the run to ``path``; an existing file is replaced only with ``replace`` (a save
        dialog that asked)."""
        if self.history is None or self.config is None:
            self.error.emit("Nothing to save", "Train or open a run first.")
            return False
        try:
            save_run(path, self.config, self.history, dataset=self.dataset, replace=replace)
        except RunFileError as exc:
            self.error.emit("Cannot save run", str(exc))
            return False
        self.run_path = Path(path)
        self.message.emit(f"saved {path}")
        return True

    # ============================================================ navigation
    def set_model(self, k: int):
        if self.config is None or not 0 <= k < self.config.models or k == self.model:
            return
        self.model = int(k)
        self._recolor()
        self.frameChanged.emit()

    def request_step(self, step: int):
        """Show the snapshot at or before `step` (scrubbing). Stops following live."""
        self.requested_step = int(step)
        self.follow_live = False
        self.frameChanged.emit()

    def set_follow_live(self, on: bool):
        self.follow_live = bool(on)
        if on:
            self.requested_step = None
        self.frameChanged.emit()

    def select_feature(self, i: int, add: bool = False):
        if self.config is None or not 0 <= i < self.config.n:
            return
        if add:
            self.selected ^= {int(i)}
        else:
            self.selected = set() if self.selected == {int(i)} else {int(i)}
        self.selectionChanged.emit()
        self.frameChanged.emit()

    # ================================================================ frames
    def snapshot(self) -> Optional[Snapshot]:
        if self.override is not None:
            return self.override
        if self.history is None or len(self.history) == 0:
            return None
        step = None if self.follow_live else self.requested_step
        return self.history.snapshot(step=step, model=self.model)

    def frame(self):
        """(snapshot, ViewContext) of the current state; (None, None) before any data."""
        snap = self.snapshot()
        if snap is None:
            return None, None
        return snap, self._context(snap)

    def frame_at(self, step: Optional[int]):
        """(snapshot, ViewContext) of the shown model at or before `step` (None: the latest),
        leaving the session's state as it is: what export and animation hand the views.
        The analysis is computed here, even for large n; (None, None) before any data."""
        if self.history is None or len(self.history) == 0:
            return None, None
        snap = self.history.snapshot(step=step, model=self.model)
        return snap, self._context(snap, wait=True)

    def _context(self, snap: Snapshot, wait: bool = False):
        cfg = self.config
        steps, losses = self._losses()
        if wait:
            key = (self.model, snap.step, id(self.history))
            analysis = self._analysis_cache.get(key)
            if analysis is None:
                analysis = analyze(snap, onehot=cfg.data == "identity")
                self._cache_analysis(key, analysis)
        else:
            analysis = self.analysis(snap)
        pending = analysis is None
        if pending:  # large n, still computing: show the latest analysis of this model meanwhile
            analysis = self._last_analysis.get(self.model)
        ctx = ViewContext(
            colors=self.colors, selected=frozenset(self.selected), onehot=cfg.data == "identity",
            analysis=analysis, dataset=None if self.dataset is None else self.dataset[self.model],
            loss_steps=steps, losses=losses, model=self.model,
            extra={"analysis_pending": pending and analysis is not None},
        )
        return ctx

    def set_override(self, snap: Optional[Snapshot]):
        """Show ``snap`` (e.g. a perturbed copy of the shown model) in every view instead of the
        history's snapshot, until set_override(None) or a new run; the run itself is untouched."""
        for key in [k for k in self._analysis_cache if k[0] == "override"]:
            del self._analysis_cache[key]  # keyed by id(): never serve a freed snapshot's analysis
        self.override = snap
        self.frameChanged.emit()

    def analysis(self, snap: Snapshot):
        key = ((self.model, snap.step, id(self.history)) if snap is not self.override
               else ("override", id(snap), None))
        if key in self._analysis_cache:
            return self._analysis_cache[key]
        onehot = self.config.data == "identity"
        if snap.n <= SYNC_ANALYSIS_MAX_N:
            a = analyze(snap, onehot=onehot)
            self._cache_analysis(key, a)
            return a
        self._wanted_analysis = key
        if key not in self._pending_analysis and not self._closed:
            self._pending_analysis.add(key)
            fut = self._pool.submit(self._analyze_if_wanted, key, snap, onehot)
            fut.add_done_callback(lambda f, key=key: self._analysis_done(key, f))
        return None

    def _analyze_if_wanted(self, key, snap, onehot):  # analysis thread
        # While scrubbing, frames pass faster than analyses finish: wait a
        # moment, then skip the job if another frame is wanted by now.
        time.sleep(ANALYSIS_DEBOUNCE_S)
        if key != self._wanted_analysis or self._closed:
            return None
        return analyze(snap, onehot=onehot)

    def _analysis_done(self, key, fut):  # analysis thread
        self._pending_analysis.discard(key)
        if fut.cancelled() or fut.exception() is not None or fut.result() is None:
            return
        self._cache_analysis(key, fut.result())
        self.frameChanged.emit()  # queued to the GUI thread

    def _cache_analysis(self, key, a):
        if len(self._analysis_cache) > 256:
            self._analysis_cache.clear()
        self._analysis_cache[key] = a
        if key[2] == id(self.history):
            self._last_analysis[key[0]] = a

    def _losses(self):
        h = self.history
        stamp = (id(h), len(h), h.latest_step)
        if self._loss_cache[0] != stamp:
            steps, losses = h.losses()
            self._loss_cache = (stamp, steps, losses)
        return self._loss_cache[1], self._loss_cache[2]

    # ============================================================== internals
    def _install(self, config, history, dataset, path):
        self.config, self.history, self.dataset, self.run_path = config, history, dataset, path
        self.override = None
        self.model = 0
        self.follow_live = True
        self.requested_step = None
        self.selected = set()
        self.verdicts = None
        self.last_progress = None
        self._analysis_cache.clear()
        self._last_analysis = {}
        self._loss_cache = (None, None, None)
        self._recolor()
        self.runChanged.emit()
        self.frameChanged.emit()

    def _recolor(self):
        """Colours: categorical for n <= 20, else by angle at the latest snapshot (stable while scrubbing)."""
        n = self.config.n
        ref = None
        if n > 20 and self.history is not None and len(self.history):
            ref = angles(project(self.history.snapshot(model=self.model).W))
        self.colors = feature_colors(n, ref)

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
        if self.follow_live:
            self.frameChanged.emit()
        p = w.latest
        if p is not None:
            live = p.loss[np.isfinite(p.loss)]
            loss = f"{float(np.median(live)):.4g}" if live.size else "nan"
            self.message.emit(f"step {p.step:,}/{p.total:,}   loss {loss}   {p.steps_per_s:,.0f} steps/s")

    def _on_halted(self, k: int, step: int):
        text = (f"Model {k} (seed {self.config.seed + k}): the loss became NaN or infinite at step {step:,}. "
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
        self.frameChanged.emit()
        self._compute_verdicts()

    def _compute_verdicts(self):
        """Final loss and verdict of each model, for the model picker."""
        h, cfg = self.history, self.config
        if h is None or len(h) == 0:
            return
        onehot = cfg.data == "identity"
        if cfg.models * cfg.n <= 20_000:
            self.verdicts = [analyze(h.snapshot(model=k), onehot=onehot).verdict for k in range(cfg.models)]
        else:
            self.verdicts = None
        self.modelsChanged.emit()

    def final_losses(self) -> np.ndarray:
        if self.config is None:
            return np.zeros(0)
        if self.history is None or len(self.history) == 0:
            return np.full(self.config.models, np.nan)
        # the latest row for every model; a halted model's from its last finite snapshot
        losses = self._losses()[1][-1].astype(np.float64)
        for k in np.nonzero(self.history.halted >= 0)[0]:
            losses[k] = self.history.snapshot(model=int(k)).loss
        return losses
