"""The one background-work mechanism: a ``Worker`` is one named Python thread that runs the work
handed to it, in the order handed over, and reports each piece's outcome through a ``deliver``
callable its owner chooses.

Every thread the program starts is a Worker (tests/test_one_worker.py holds every package to it).
It is Qt-free and imports only the standard library, so everything may use it: model/ (the run
writer, the batch prefetch, the cluster's cancel watch), the command line, the export pipe, and
the windows, whose adapters (app/gui/worker.py) deliver through a queued Qt signal to the GUI
thread. What a Worker owns, and nothing else does:

- **start**: the thread starts on the first ``submit`` and is named ``work:<name>``
  (``THREAD_PREFIX``); a daemon thread, so a hung computation never keeps the program alive.
- **the waiting line**: ``submit(fn, key, delay)`` puts ``fn()`` in line. Three policies:
  unbounded FIFO (the default); a bounded FIFO (``depth``: ``submit`` holds the producer while
  the line is full, the back-pressure of a pipe); latest-wins (``latest``: one waiting place, a
  new request replaces one not yet started, and asking again for the key running or waiting
  queues nothing). ``delay`` makes a request wait that long before it starts (a debounce).
- **stop within a timeout**: ``close(timeout)`` refuses new work, drops the waiting line, says
  ``cancelled()`` to the running ``fn`` (which may stop early), and joins the thread for up to
  ``timeout`` seconds; nothing is delivered after it. ``close(timeout, drain=True)`` refuses new
  work but lets the line run out (and be delivered) first. A thread is never terminated:
  ``close`` and ``join`` say whether it ended.
- **report failures**: an exception in ``fn`` never kills the thread; it becomes an
  ``Outcome`` with ``describe_failure``'s message (an ``expected`` error is its message alone,
  any other ``Type: message`` and its traceback) and the exception itself. With
  ``stop_on_failure`` (a pipe), the first failure also drops the line and refuses new work, so
  the producer learns of it at its next ``submit`` (False) and the failure is delivered once.

``deliver(outcome)`` runs on the worker's thread, holding the worker's lock, after each ``fn``
that was not dropped by ``close``: so once ``close`` has returned (or timed out) no delivery
starts. It must be short (post a signal, keep a value) and must not wait for the worker.
"""
from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

THREAD_PREFIX = "work:"


def describe_failure(exc: BaseException, expected: tuple[type[BaseException], ...] = ()) -> tuple[str, str]:
    """(message, traceback text) of a failed computation: an ``expected`` error is its message alone
    (a bad file, a bad form: the message is the whole story), any other ``Type: message`` and the
    traceback of the exception being handled."""
    if isinstance(exc, expected):
        return str(exc), ""
    return f"{type(exc).__name__}: {exc}", traceback.format_exc()


@dataclass(frozen=True)
class Outcome:
    """What one piece of work came to: its ``result``, or the ``error`` it raised with its
    ``message`` and ``traceback`` text ("" for an expected error)."""

    key: Hashable
    result: Any = None
    error: BaseException | None = None
    message: str = ""
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _Request:
    key: Hashable
    fn: Callable[[], Any]
    due: float  # time.monotonic() before which it does not start (the debounce)


class Worker:
    """One named thread running submitted work in order (see the module doc)."""

    def __init__(self, name: str, deliver: Callable[[Outcome], None] | None = None, *,
                 depth: int | None = None, latest: bool = False, stop_on_failure: bool = False,
                 expected: tuple[type[BaseException], ...] = ()):
        if depth is not None and int(depth) < 1:
            raise ValueError(f"depth must be at least 1 (or None: unbounded), got {depth}")
        self.name = str(name)
        self.deliver = deliver
        self.depth = 1 if latest else (None if depth is None else int(depth))
        self.latest = bool(latest)
        self.stop_on_failure = bool(stop_on_failure)
        self.expected = tuple(expected)
        self._cond = threading.Condition(threading.RLock())
        self._line: deque[_Request] = deque()
        self._running: Hashable | None = None
        self._busy = False  # a request is running (its key may be None)
        self._closed = False  # no new work (the line may still run out: close(drain=True))
        self._cancelled = threading.Event()  # close() without drain: the line is dropped, nothing delivered
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ the owner's side
    def submit(self, fn: Callable[[], Any], key: Hashable = None, delay: float = 0.0, block: bool = True) -> bool:
        """Put ``fn()`` in line under ``key``, to start no sooner than ``delay`` seconds from now.
        A bounded line that is full holds the caller until there is room (``block=False``:
        returns False at once). False when nothing new was queued: closed (or stopped by a
        failure), full without ``block``, or, latest-wins, the key already running or waiting."""
        with self._cond:
            if self._closed:
                return False
            if self.latest:
                if self._busy and key == self._running:
                    self._line.clear()  # the result on its way is the one wanted
                    return False
                if self._line and self._line[0].key == key:
                    return False
                self._line.clear()  # replaced: it never runs
            while self.depth is not None and len(self._line) >= self.depth:
                if not block:
                    return False
                self._cond.wait()
                if self._closed:
                    return False
            self._line.append(_Request(key, fn, time.monotonic() + max(0.0, float(delay))))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=THREAD_PREFIX + self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
            return True

    def close(self, timeout: float | None = None, drain: bool = False) -> bool:
        """Refuse new work and wait up to ``timeout`` seconds (None: until it ends) for the thread.
        Without ``drain`` the waiting line is dropped, ``cancelled()`` turns True and nothing is
        delivered from now on; with it the line runs out first. True when the thread has ended
        (or never started). Never terminates it."""
        with self._cond:
            self._closed = True
            if not drain:
                self._line.clear()
                self._cancelled.set()
            self._cond.notify_all()
        return self.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: until it ends) for the thread; True when it has
        ended (or never started)."""
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return thread is None
        thread.join(timeout)
        return not thread.is_alive()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for nothing to wait or run; True when idle."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._busy or self._line:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def busy(self) -> bool:
        """Whether a request waits or runs."""
        with self._cond:
            return self._busy or bool(self._line)

    def waiting(self) -> int:
        """How many requests wait (not counting the one running)."""
        with self._cond:
            return len(self._line)

    def is_closed(self) -> bool:
        """Whether new work is refused (``close`` was called, or a failure stopped a pipe)."""
        return self._closed

    def cancelled(self) -> bool:
        """Whether ``close`` without drain was called: a ``fn`` that can stop early asks this (any thread)."""
        return self._cancelled.is_set()

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for ``cancelled()``; what it is then."""
        return self._cancelled.wait(timeout)

    def is_alive(self) -> bool:
        """Whether the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------ the worker's thread
    def _next(self) -> _Request | None:
        """The next request once it is due (None: closed and nothing left to run)."""
        with self._cond:
            while True:
                if not self._line:
                    if self._closed:
                        return None
                    self._cond.wait()
                    continue
                req = self._line[0]
                left = req.due - time.monotonic()
                if left > 0 and not self._closed:
                    self._cond.wait(left)  # a newer request or close() wakes it early
                    continue
                self._line.popleft()
                self._running, self._busy = req.key, True
                self._cond.notify_all()  # room in a bounded line
                return req

    def _serve(self) -> None:
        while (req := self._next()) is not None:
            try:
                outcome = Outcome(req.key, result=req.fn())
            except BaseException as exc:  # noqa: BLE001 - every failure becomes an Outcome, never a dead thread
                message, tb = describe_failure(exc, self.expected)
                outcome = Outcome(req.key, error=exc, message=message, traceback=tb)
            with self._cond:
                if not outcome.ok and self.stop_on_failure:
                    self._closed = True
                    self._line.clear()
                try:
                    if self.deliver is not None and not self._cancelled.is_set():
                        self.deliver(outcome)
                except BaseException:  # noqa: BLE001 - a failing deliver is the owner's bug: shown, the line goes on
                    traceback.print_exc()
                finally:
                    self._running, self._busy = None, False
                    self._cond.notify_all()


__all__ = ["THREAD_PREFIX", "Outcome", "Worker", "describe_failure"]
