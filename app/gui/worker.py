"""The windows' adapters of the one background-work mechanism (model/background.py's ``Worker``):
each runs its work on a Worker and delivers the outcome through a Qt signal, which the GUI thread
receives queued; no thread here touches a widget.

``BackgroundJob`` runs ``fn(progress)`` (training, a sweep, a probe, a dataset-size
sweep) on a Worker of one request and reports through Qt signals:

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

``BackgroundQueue`` is a latest-wins Worker for work asked for again and again
(a large model's analysis while scrubbing, the timeline's story while training):
``submit(key, fn, delay)`` puts ``fn()`` in the one waiting place, replacing
(dropping) a request that has not started; the thread runs one request at a
time, in the order submitted, so a request that ran was the latest when it
started. ``done(key, result)`` / ``failed(key, message, traceback)`` come
through the GUI thread's event loop; the key says which request, so the caller
drops a result no longer wanted. ``close(timeout)`` drops the waiting request,
refuses new ones, and waits up to ``timeout`` for the one running; after it
returns no signal of the queue reaches anyone.

Failures are described the same way in both (``describe_failure``, the Worker's):
an ``expected`` exception is its message alone, any other ``Type: message`` with
its traceback.

``TrainingWorker`` is the explorer's training job: the engine's Trainer, with
pause, resume, one step, and a ``halted`` signal for a model whose loss became
NaN/inf.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from model.background import Outcome, Worker, describe_failure
from model.training.engine import Progress, Trainer


class BackgroundJob(QObject):
    """``fn(progress)`` on a Worker (see the module doc). ``latest``: the newest report."""

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
        self._worker = Worker(name, self._deliver, expected=self.expected)
        self._started = False

    # ------------------------------------------------------------ GUI thread
    def start(self) -> None:
        """Start the thread (once): the Worker runs ``fn`` and ends (closed, drained, at once)."""
        if self._started:
            raise RuntimeError(f"{self.name} was started already")
        self._started = True
        self._worker.submit(lambda: self.fn(self.report))
        self._worker.close(timeout=0.0, drain=True)  # one request: the thread ends after it

    def is_running(self) -> bool:
        return self._worker.is_alive()

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
        return self._worker.join(timeout)

    # --------------------------------------------------------- the job's thread
    def report(self, p: Any, urgent: bool = False) -> None:
        """The progress callback ``fn`` gets: keep ``p`` and announce it unless an announcement
        is still queued (``urgent``: announce it anyway)."""
        self.latest = p
        if urgent or not self._pending.is_set():
            self._pending.set()
            self.progressed.emit()

    def _deliver(self, outcome: Outcome) -> None:
        if outcome.ok:
            self.done.emit(outcome.result)
        else:
            self.error = outcome.message
            self.failed.emit(outcome.message, outcome.traceback)
        self.finished.emit()


class BackgroundQueue(QObject):
    """Latest-wins work on a Worker (see the module doc): ``submit(key, fn, delay)``,
    ``done(key, result)``, ``failed(key, message, traceback)``, ``close(timeout)``."""

    done = pyqtSignal(object, object)  # key, fn's result
    failed = pyqtSignal(object, str, str)  # key, message, traceback text ("" for an expected error)
    _relay = pyqtSignal(object)  # worker thread -> GUI thread: the Outcome

    def __init__(self, name: str = "queue", expected: tuple[type[BaseException], ...] = (),
                 parent: QObject | None = None):
        super().__init__(parent)
        self.name, self.expected = name, tuple(expected)
        self._worker = Worker(name, self._relay.emit, latest=True, expected=self.expected)
        self._relay.connect(self._deliver)  # queued: the queue lives in the GUI thread, emits from the worker's

    # ------------------------------------------------------------ GUI thread
    def submit(self, key: Hashable, fn: Callable[[], Any], delay: float = 0.0) -> bool:
        """Ask for ``fn()`` under ``key``, to start no sooner than ``delay`` seconds from now. It
        replaces the request waiting (which never runs). When ``key`` is the one running or the
        one waiting, nothing new is queued (the result on its way is the one wanted), and a
        different request waiting is dropped. False when nothing new was queued (or closed)."""
        return self._worker.submit(fn, key=key, delay=delay)

    def busy(self) -> bool:
        """Whether a request waits or runs."""
        return self._worker.busy()

    def is_closed(self) -> bool:
        """Whether close() was called: a ``fn`` that can stop early asks this (any thread)."""
        return self._worker.cancelled()

    def close(self, timeout: float | None = None) -> bool:
        """Drop the waiting request, refuse new ones, and wait up to ``timeout`` seconds (None:
        until it ends) for the one running (a ``fn`` that asks ``is_closed`` stops early). True
        when the thread has ended (or never started). Never terminates it; from now on no
        ``done`` or ``failed`` is delivered."""
        return self._worker.close(timeout)

    def _deliver(self, outcome: Outcome) -> None:
        if self._worker.cancelled():
            return  # posted before close(), delivered after: nobody wants it now
        if outcome.ok:
            self.done.emit(outcome.key, outcome.result)
        else:
            self.failed.emit(outcome.key, outcome.message, outcome.traceback)


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
        from model.analysis.outcome import decide_hook

        at_steps, on_step = decide_hook(self.trainer.config)  # until_decided: stop once every model is decided
        self.trainer.run(self._progress, chunk_seconds=chunk_seconds(self.trainer.config.n), report_seconds=1 / 60,
                         threads=self.threads, at_steps=at_steps, on_step=on_step)

    def _progress(self, p: Progress) -> None:
        for k, s in p.halted.items():
            self.halted.emit(int(k), int(s))
        self.report(p, urgent=p.done)


__all__ = ["BackgroundJob", "BackgroundQueue", "TrainingWorker", "chunk_seconds", "describe_failure"]
