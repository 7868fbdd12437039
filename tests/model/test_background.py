"""model/background.py, the one background-work mechanism, with fake work: order, back-pressure,
latest wins, failures as outcomes, a pipe stopped by its first failure, close(timeout) joins and
silences. Every wait is on an event the test controls (or a 10 s bound that only ends a hang);
the only short waits check that something has NOT happened yet, which load cannot make pass."""
from __future__ import annotations

import threading

import pytest

from model.background import THREAD_PREFIX, Outcome, Worker
from model.storage.outfile import RunFileError

WAIT_S = 10.0  # only ends a hang
NOT_YET_S = 0.2  # "still held": a thread that is blocked stays blocked however loaded the machine


class Log:
    """Every outcome delivered, in order, with the thread it was delivered on."""

    def __init__(self):
        self.outcomes: list[Outcome] = []
        self.threads: list[str] = []
        self.ran: list = []

    def __call__(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.threads.append(threading.current_thread().name)

    def job(self, key, gate: threading.Event | None = None, started: threading.Event | None = None):
        def fn():
            self.ran.append(key)
            if started is not None:
                started.set()
            if gate is not None:
                assert gate.wait(WAIT_S)
            return f"result of {key}"
        return fn


def test_work_runs_in_order_on_one_named_thread_and_each_outcome_is_delivered_there():
    log = Log()
    w = Worker("order", log)
    for k in range(20):
        assert w.submit(log.job(k), key=k)
    assert w.close(WAIT_S, drain=True)  # drain: the line runs out first
    assert log.ran == list(range(20))
    assert [o.key for o in log.outcomes] == list(range(20))
    assert [o.result for o in log.outcomes] == [f"result of {k}" for k in range(20)]
    assert all(o.ok for o in log.outcomes)
    assert set(log.threads) == {THREAD_PREFIX + "order"}
    assert not w.is_alive()
    assert not w.submit(log.job("late"))  # closed: refused


def test_a_bounded_line_holds_the_producer_until_there_is_room():
    log = Log()
    gate, started = threading.Event(), threading.Event()
    w = Worker("pipe", log, depth=2)
    assert w.submit(log.job(0, gate, started))
    assert started.wait(WAIT_S)  # 0 runs and holds the thread
    assert w.submit(log.job(1)) and w.submit(log.job(2))  # the line (depth 2) is full
    assert not w.submit(log.job("x"), block=False)  # full: refused at once without block
    returned = threading.Event()

    def producer():
        w.submit(log.job(3))
        returned.set()

    t = threading.Thread(target=producer)
    t.start()
    assert not returned.wait(NOT_YET_S)  # held back by the full line
    gate.set()
    assert returned.wait(WAIT_S)  # room once the worker took the next one
    t.join(WAIT_S)
    assert w.close(WAIT_S, drain=True)
    assert log.ran == [0, 1, 2, 3]


def test_latest_wins_replaces_the_waiting_request_and_never_queues_a_key_twice():
    log = Log()
    gate, started = threading.Event(), threading.Event()
    w = Worker("latest", log, latest=True)
    assert w.submit(log.job("a", gate, started), key="a")
    assert started.wait(WAIT_S)
    assert w.submit(log.job("b"), key="b")
    assert w.submit(log.job("c"), key="c")  # replaces b, which never runs
    assert not w.submit(log.job("c"), key="c")  # already waiting
    assert not w.submit(log.job("a"), key="a")  # already running: drops c too, a's result is the one wanted
    assert w.waiting() == 0
    gate.set()
    assert w.wait_idle(WAIT_S)
    assert w.close(WAIT_S)
    assert log.ran == ["a"]


def test_failures_are_outcomes_and_the_thread_goes_on():
    log = Log()
    w = Worker("failing", log, expected=(RunFileError,))

    def bad_file():
        raise RunFileError("run.h5", "is not a run file")

    def bug():
        raise ZeroDivisionError("division by zero")

    w.submit(bad_file, key="expected")
    w.submit(bug, key="bug")
    w.submit(lambda: 7, key="after")
    assert w.close(WAIT_S, drain=True)
    expected, unexpected, after = log.outcomes
    assert not expected.ok and isinstance(expected.error, RunFileError)
    assert expected.message == str(expected.error) and "run.h5" in expected.message and expected.traceback == ""
    assert not unexpected.ok and unexpected.message == "ZeroDivisionError: division by zero"
    assert "Traceback" in unexpected.traceback and "in bug" in unexpected.traceback
    assert after.ok and after.result == 7


def test_a_pipe_stops_at_its_first_failure_which_is_delivered_once():
    log = Log()
    gate, started = threading.Event(), threading.Event()
    w = Worker("stops", log, depth=4, stop_on_failure=True)

    def write_fails():
        started.set()
        assert gate.wait(WAIT_S)
        raise OSError(28, "No space left on device")

    assert w.submit(write_fails, key=0)
    assert started.wait(WAIT_S)
    assert w.submit(log.job(1), key=1) and w.submit(log.job(2), key=2)
    gate.set()
    assert w.join(WAIT_S)  # the failure stopped the line: the thread ends by itself
    assert not w.submit(log.job(3), key=3)  # the producer learns of it at its next submit
    assert [o.key for o in log.outcomes] == [0] and isinstance(log.outcomes[0].error, OSError)
    assert log.ran == []  # 1 and 2 were dropped


def test_close_joins_within_its_timeout_and_nothing_is_delivered_after_it():
    log = Log()
    gate, started = threading.Event(), threading.Event()
    w = Worker("closing", log)
    assert w.submit(log.job("running", gate, started), key="running")
    assert started.wait(WAIT_S)
    assert w.submit(log.job("waiting"), key="waiting")
    assert not w.close(0.05)  # the running request holds the thread: not ended, not terminated
    assert w.is_alive() and w.cancelled() and w.is_closed()
    gate.set()
    assert w.close(WAIT_S)
    assert not w.is_alive()
    assert log.ran == ["running"]  # the waiting one was dropped
    assert log.outcomes == []  # the running one finished after close: not delivered


def test_a_blocked_producer_is_released_by_close():
    gate, started = threading.Event(), threading.Event()
    log = Log()
    w = Worker("release", log, depth=1)
    w.submit(log.job(0, gate, started))
    assert started.wait(WAIT_S)
    w.submit(log.job(1))
    answer: list[bool] = []
    t = threading.Thread(target=lambda: answer.append(w.submit(log.job(2))))
    t.start()
    assert not w.close(0.0)
    t.join(WAIT_S)
    assert answer == [False]  # released and refused, not left hanging
    gate.set()
    assert w.join(WAIT_S)


def test_a_debounced_request_replaced_before_it_is_due_never_runs_and_close_wakes_the_wait():
    log = Log()
    w = Worker("debounce", log, latest=True)
    assert w.submit(log.job("first"), key="first", delay=60.0)
    assert w.submit(log.job("second"), key="second", delay=60.0)  # replaces first
    assert w.close(WAIT_S)  # wakes the thread waiting for the due time, which then ends
    assert log.ran == []


def test_an_unused_worker_starts_no_thread_and_closes_at_once():
    w = Worker("unused")
    assert w.close(0.0) and w.join(0.0) and not w.is_alive()


def test_a_depth_below_one_is_refused():
    with pytest.raises(ValueError, match="depth"):
        Worker("bad", depth=0)


# ------------------------------------------------------------ the model's users of the Worker
def thread_ends(name: str) -> bool:
    """Whether every thread called ``name`` ends within WAIT_S (joined, so nothing is polled)."""
    for t in [t for t in threading.enumerate() if t.name == name]:
        t.join(WAIT_S)
        if t.is_alive():
            return False
    return True


class CountingStream:
    """A batch stream that hands out 0, 1, 2, ... (and the thread that drew each); ``fail_at``
    makes that draw raise."""

    def __init__(self, fail_at: int | None = None):
        self.k, self.fail_at, self.threads = 0, fail_at, set()

    def next_coo(self):
        self.threads.add(threading.current_thread().name)
        if self.k == self.fail_at:
            raise MemoryError("cannot draw the batch")
        self.k += 1
        return self.k - 1


def test_prefetch_draws_ahead_on_a_worker_in_the_stream_s_order():
    from model.training.sparse_backend import Prefetch

    stream = CountingStream()
    pre = Prefetch(stream, ahead=3)  # type: ignore[arg-type]  # any object with next_coo
    assert [pre.next_coo() for _ in range(50)] == list(range(50))  # the stream's order, none lost
    assert stream.threads == {THREAD_PREFIX + "batch-prefetch"}
    assert stream.k <= 50 + 3  # at most `ahead` drawn beyond what was taken
    pre.close()
    assert thread_ends(THREAD_PREFIX + "batch-prefetch")


def test_prefetch_raises_a_failed_draw_in_the_consumer_and_again_after():
    from model.training.sparse_backend import Prefetch

    pre = Prefetch(CountingStream(fail_at=2), ahead=4)  # type: ignore[arg-type]
    assert pre.next_coo() == 0 and pre.next_coo() == 1
    for _ in range(2):
        with pytest.raises(MemoryError, match="cannot draw"):
            pre.next_coo()
    assert thread_ends(THREAD_PREFIX + "batch-prefetch")  # the failure stopped the line: it ends by itself
