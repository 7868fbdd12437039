"""The training worker: a Python thread that runs the engine and never touches a widget.

It reports through Qt signals that the GUI receives queued; progress is
coalesced: while the GUI has not yet handled the last `progressed` signal no
new one is sent (frames are dropped, never queued), and the GUI pulls the
latest state (history, Progress) when it redraws.
"""
from __future__ import annotations

import threading
import traceback
from typing import Optional

from PyQt6.QtCore import QObject, pyqtSignal

from model.engine import Progress, Trainer


class TrainingWorker(QObject):
    progressed = pyqtSignal()  # pull `latest` and the history
    halted = pyqtSignal(int, int)  # model, step: loss became NaN/inf
    failed = pyqtSignal(str, str)  # message, traceback text
    finished = pyqtSignal()  # the thread is about to end (done, stopped or failed)

    def __init__(self, trainer: Trainer, threads: int = 1, parent=None):
        super().__init__(parent)
        self.trainer = trainer
        self.threads = threads
        self.latest: Optional[Progress] = None
        self._pending = threading.Event()  # a progressed signal is in flight
        self._thread: Optional[threading.Thread] = None
        self.error: Optional[str] = None

    # ------------------------------------------------------------ GUI thread
    def start(self):
        self._thread = threading.Thread(target=self._run, name="training-worker", daemon=True)
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def consumed(self):
        """The GUI handled the last progressed signal: the next one may be sent."""
        self._pending.clear()

    def pause(self):
        self.trainer.request_pause()

    def resume(self):
        self.trainer.resume()

    def step_once(self):
        self.trainer.step_once()

    def stop(self, timeout: float = 2.0) -> bool:
        """Ask the engine to stop between chunks and wait up to `timeout` s. Never terminates."""
        self.trainer.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    # --------------------------------------------------------- worker thread
    def _progress(self, p: Progress):
        self.latest = p
        for k, s in p.halted.items():
            self.halted.emit(int(k), int(s))
        if p.done or not self._pending.is_set():
            self._pending.set()
            self.progressed.emit()

    def _run(self):
        try:
            # 60 ms chunks: between chunks the worker needs the GIL the GUI holds while it
            # paints; 30 ms chunks kept the GUI at 64-76% of headless training, 60 ms at 84-85%
            # (benchmarks/bench_gui.py), with new steps still reaching the views ~16 times a second
            self.trainer.run(self._progress, chunk_seconds=0.06, report_seconds=1 / 60, threads=self.threads)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a dialog, not a crash
            self.error = f"{type(exc).__name__}: {exc}"
            self.failed.emit(self.error, traceback.format_exc())
        finally:
            self.finished.emit()
