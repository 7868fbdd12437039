"""Background jobs: a Python thread that runs one computation and never touches a widget.

``BackgroundJob`` runs ``fn(progress)`` (training, a sweep, a probe, a dataset-size
sweep) and reports through Qt signals, which the GUI receives queued:

- ``progressed()``: coalesced. The thread keeps the newest report in ``latest``
  and sends a signal only when the GUI has taken the previous one
  (``take_latest``), so at most one progress update is ever queued: a fast job
  never floods the GUI thread, it drops frames instead. A report the job marks
  as ``urgent`` (the last one) is always sent.
- ``done(result)`` when ``fn`` returns; ``failed(message, traceback)`` when it
  raises (the traceback is empty for the ``expected`` errors, whose message is
  the whole story: a bad file, a bad form); then, always, ``finished()`` as the
  thread is about to end.
- ``cancel()`` asks the computation to stop (its own ``cancel`` callable, e.g.
  a runner's ``request_cancel``); ``join(timeout)`` waits for the thread and says
  whether it ended. Nothing is ever terminated.

``TrainingWorker`` is the explorer's training job: the engine's Trainer, with
pause, resume, one step, and a ``halted`` signal for a model whose loss became
NaN/inf.
"""
from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from model.engine import Progress, Trainer


class BackgroundJob(QObject):
    """``fn(progress)`` in a Python thread (see the module doc). ``latest``: the newest report."""

    progressed = pyqtSignal()  # take_latest() for the report
    done = pyqtSignal(object)  # fn's result
    failed = pyqtSignal(str, str)  # message, traceback text ("" for an expected error)
    finished = pyqtSignal()  # the thread is about to end (done, cancelled or failed)

    def __init__(self, fn: Callable[[Callable[[Any], None]], Any], cancel: Callable[[], None] | None = None,
                 name: str = "job", expected: tuple[type[BaseException], ...] = (), parent: QObject | None = None):
        super().__init__(parent)
        self.fn, self._cancel, self.name, self.expected = fn, cancel, name, tuple(expected)
        self.latest: Any = None
        self.error: str | None = None
        self._pending = threading.Event()  # a progressed signal is queued and not yet taken
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ GUI thread
    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} was started already")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def take_latest(self) -> Any:
        """The newest report (None before the first); the next report may send a signal again.
        The flag is cleared before ``latest`` is read, so a report arriving meanwhile is either
        in what this returns or announced by a new signal, never lost."""
        self._pending.clear()
        return self.latest

    def cancel(self) -> None:
        """Ask the computation to stop (between its chunks); returns at once."""
        if self._cancel is not None:
            self._cancel()

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: until it ends) for the thread; True when it has
        ended (or never started). Never terminates it."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    # --------------------------------------------------------- the job's thread
    def report(self, p: Any, urgent: bool = False) -> None:
        """The progress callback ``fn`` gets: keep ``p`` and announce it unless an announcement
        is still queued (``urgent``: announce it anyway)."""
        self.latest = p
        if urgent or not self._pending.is_set():
            self._pending.set()
            self.progressed.emit()

    def _run(self) -> None:
        try:
            result = self.fn(self.report)
        except self.expected as exc:
            self.error = str(exc)
            self.failed.emit(self.error, "")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message, never a crash
            self.error = f"{type(exc).__name__}: {exc}"
            self.failed.emit(self.error, traceback.format_exc())
        else:
            self.done.emit(result)
        finally:
            self.finished.emit()


#: Chunks of training in the window, seconds: between chunks the worker needs the GIL that the
#: GUI holds while it redraws. At n = 7 (redraws of a few ms) 30 ms chunks kept the window at
#: 64-76% of headless training and 60 ms at 84-85% (benchmarks/bench_gui.py), new steps still
#: reaching the views ~16 times a second. At n = 1,000 a redraw holds the GIL for 0.1 s (0.3-0.9 s
#: of wall time while the analysis runs beside it) and the views redraw 1-2 times a second, so
#: longer chunks cost nothing seen: 60 ms chunks ran at 54-75% of headless, 250 ms at 81-128%
#: (benchmarks/bench_window.py, a machine at load ~10).
CHUNK_SECONDS_SMALL, CHUNK_SECONDS_LARGE, LARGE_N = 0.06, 0.25, 100


def chunk_seconds(n: int) -> float:
    """The window's chunk length for a run of n features (CHUNK_SECONDS_*)."""
    return CHUNK_SECONDS_SMALL if n <= LARGE_N else CHUNK_SECONDS_LARGE


class TrainingWorker(BackgroundJob):
    """The explorer's training: ``trainer.run`` in a BackgroundJob; ``stop`` = cancel + join."""

    halted = pyqtSignal(int, int)  # model, step: loss became NaN/inf

    def __init__(self, trainer: Trainer, threads: int = 1, parent: QObject | None = None):
        super().__init__(self._train, trainer.request_stop, "training-worker", parent=parent)
        self.trainer = trainer
        self.threads = threads

    def pause(self) -> None:
        self.trainer.request_pause()

    def resume(self) -> None:
        self.trainer.resume()

    def step_once(self) -> None:
        self.trainer.step_once()

    def stop(self, timeout: float = 2.0) -> bool:
        """Ask the engine to stop between chunks and wait up to ``timeout`` s. Never terminates."""
        self.cancel()
        return self.join(timeout)

    def _train(self, progress) -> None:
        from model.outcome import decide_hook

        at_steps, on_step = decide_hook(self.trainer.config)  # until_decided: stop once every model is decided
        self.trainer.run(self._progress, chunk_seconds=chunk_seconds(self.trainer.config.n), report_seconds=1 / 60,
                         threads=self.threads, at_steps=at_steps, on_step=on_step)

    def _progress(self, p: Progress) -> None:
        for k, s in p.halted.items():
            self.halted.emit(int(k), int(s))
        self.report(p, urgent=p.done)


__all__ = ["BackgroundJob", "TrainingWorker", "chunk_seconds"]
