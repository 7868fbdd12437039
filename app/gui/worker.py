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

``BackgroundQueue`` is the same discipline for work asked for again and again
(a large model's analysis while scrubbing, the timeline's story while training):
one thread, latest wins. ``submit(key, fn)`` puts ``fn()`` in the one waiting
place, replacing (dropping) a request that has not started; the thread runs
one request at a time, in the order submitted, so a request that ran was the
latest when it started. ``done(key, result)`` / ``failed(key, message,
traceback)`` come through the GUI thread's event loop; the key says which
request, so the caller drops a result no longer wanted. ``close(timeout)``
drops the waiting request, refuses new ones, and waits up to ``timeout`` for
the one running; after it returns no signal of the queue reaches anyone.

Failures are described the same way in both: an ``expected`` exception is its
message alone, any other ``Type: message`` with its traceback.

``TrainingWorker`` is the explorer's training job: the engine's Trainer, with
pause, resume, one step, and a ``halted`` signal for a model whose loss became
NaN/inf.
"""
from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from model.training.engine import Progress, Trainer


def describe_failure(exc: BaseException, expected: tuple[type[BaseException], ...]) -> tuple[str, str]:
    """(message, traceback text) of a failed computation: an ``expected`` error is its message alone
    (a bad file, a bad form: the message is the whole story), any other ``Type: message`` and the
    traceback of the exception being handled."""
    if isinstance(exc, expected):
        return str(exc), ""
    return f"{type(exc).__name__}: {exc}", traceback.format_exc()


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
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message, never a crash
            self.error, tb = describe_failure(exc, self.expected)
            self.failed.emit(self.error, tb)
        else:
            self.done.emit(result)
        finally:
            self.finished.emit()


@dataclass
class _Request:
    key: Hashable
    fn: Callable[[], Any]
    due: float  # time.monotonic() before which it does not start (the debounce)


class BackgroundQueue(QObject):
    """Latest-wins work in one Python thread (see the module doc): ``submit(key, fn, delay)``,
    ``done(key, result)``, ``failed(key, message, traceback)``, ``close(timeout)``."""

    done = pyqtSignal(object, object)  # key, fn's result
    failed = pyqtSignal(object, str, str)  # key, message, traceback text ("" for an expected error)
    _relay = pyqtSignal(object, bool, object, str, str)  # thread -> GUI thread: key, ok, result, message, tb

    def __init__(self, name: str = "queue", expected: tuple[type[BaseException], ...] = (),
                 parent: QObject | None = None):
        super().__init__(parent)
        self.name, self.expected = name, tuple(expected)
        self._cond = threading.Condition(threading.RLock())
        self._waiting: _Request | None = None
        self._running: Hashable | None = None
        self._busy = False  # a request is running (its key may be None)
        self._closed = False
        self._thread: threading.Thread | None = None
        self._relay.connect(self._deliver)  # queued: the queue lives in the GUI thread, emits from its own

    # ------------------------------------------------------------ GUI thread
    def submit(self, key: Hashable, fn: Callable[[], Any], delay: float = 0.0) -> bool:
        """Ask for ``fn()`` under ``key``, to start no sooner than ``delay`` seconds from now. It
        replaces the request waiting (which never runs). When ``key`` is the one running or the
        one waiting, nothing new is queued (the result on its way is the one wanted), and a
        different request waiting is dropped. False when nothing new was queued (or closed)."""
        with self._cond:
            if self._closed:
                return False
            if self._busy and key == self._running:
                self._waiting = None
                return False
            if self._waiting is not None and self._waiting.key == key:
                return False
            self._waiting = _Request(key, fn, time.monotonic() + max(0.0, float(delay)))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
            return True

    def busy(self) -> bool:
        """Whether a request waits or runs."""
        with self._cond:
            return self._busy or self._waiting is not None

    def is_closed(self) -> bool:
        """Whether close() was called: a ``fn`` that can stop early asks this (any thread)."""
        return self._closed

    def close(self, timeout: float | None = None) -> bool:
        """Drop the waiting request, refuse new ones, and wait up to ``timeout`` seconds (None:
        until it ends) for the one running (a ``fn`` that asks ``is_closed`` stops early). True
        when the thread has ended (or never started). Never terminates it; from now on no
        ``done`` or ``failed`` is delivered."""
        with self._cond:
            self._closed = True
            self._waiting = None
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _deliver(self, key: Hashable, ok: bool, result: Any, message: str, tb: str) -> None:
        if self._closed:
            return  # posted before close(), delivered after: nobody wants it now
        if ok:
            self.done.emit(key, result)
        else:
            self.failed.emit(key, message, tb)

    # ------------------------------------------------------- the queue's thread
    def _next(self) -> _Request | None:
        """The next request once it is due (None: closed)."""
        with self._cond:
            while not self._closed:
                req = self._waiting
                if req is None:
                    self._cond.wait()
                    continue
                left = req.due - time.monotonic()
                if left > 0:
                    self._cond.wait(left)  # a newer request or close() wakes it early
                    continue
                self._waiting, self._running, self._busy = None, req.key, True
                return req
            return None

    def _serve(self) -> None:
        while (req := self._next()) is not None:
            ok, result, message, tb = True, None, "", ""
            try:
                result = req.fn()
            except Exception as exc:  # noqa: BLE001 - every failure becomes a message, never a crash
                ok = False
                message, tb = describe_failure(exc, self.expected)
            with self._cond:
                self._running, self._busy = None, False
                if not self._closed:
                    self._relay.emit(req.key, ok, result, message, tb)


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
