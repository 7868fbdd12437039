"""app/gui/worker.py's BackgroundQueue with fake requests: latest wins, results in the order
submitted, failures as messages, close() joins. Every wait is on an event the test controls (or a
10 s bound that only ends a hang); nothing depends on how fast a thread runs."""
from __future__ import annotations

import threading

import pytest
from PyQt6.QtWidgets import QApplication

from app.gui.worker import BackgroundQueue
from model.storage.outfile import RunFileError

WAIT_S = 10.0  # only ends a hang


@pytest.fixture
def app():
    return QApplication.instance() or QApplication([])


@pytest.fixture
def queue(app):
    q = BackgroundQueue("test-queue", expected=(RunFileError,))
    yield q
    assert q.close(WAIT_S)


class Recorder:
    """Every signal the queue delivered, in order, and every request that ran (in its thread)."""

    def __init__(self, q: BackgroundQueue):
        self.events: list[tuple] = []
        self.ran: list = []
        q.done.connect(lambda key, result: self.events.append(("done", key, result)))
        q.failed.connect(lambda key, message, tb: self.events.append(("failed", key, message, tb)))

    def job(self, key, result=None, gate: threading.Event | None = None, started: threading.Event | None = None):
        """A request that records that it ran, optionally signals it started and waits for a gate."""
        def fn():
            self.ran.append(key)
            if started is not None:
                started.set()
            if gate is not None:
                assert gate.wait(WAIT_S)
            return result if result is not None else f"result of {key}"
        return fn

    def keys(self):
        return [e[1] for e in self.events]


def test_a_request_replaces_the_one_waiting_and_results_come_in_the_order_submitted(qtbot, queue):
    rec = Recorder(queue)
    gate, started = threading.Event(), threading.Event()
    assert queue.submit("a", rec.job("a", gate=gate, started=started))
    assert started.wait(WAIT_S)  # "a" runs and holds the thread
    assert queue.submit("b", rec.job("b"))
    assert queue.submit("c", rec.job("c"))  # replaces "b", which never runs
    assert queue.submit("d", rec.job("d"))  # replaces "c"
    assert queue.busy()
    gate.set()
    qtbot.waitUntil(lambda: len(rec.events) == 2, timeout=int(WAIT_S * 1000))
    assert rec.ran == ["a", "d"]
    assert rec.events == [("done", "a", "result of a"), ("done", "d", "result of d")]
    qtbot.waitUntil(lambda: not queue.busy(), timeout=int(WAIT_S * 1000))
    # the thread serves the next request after an idle spell
    assert queue.submit("e", rec.job("e"))
    qtbot.waitUntil(lambda: len(rec.events) == 3, timeout=int(WAIT_S * 1000))
    assert rec.events[-1] == ("done", "e", "result of e") and rec.ran == ["a", "d", "e"]


def test_asking_again_for_the_request_running_queues_nothing_and_drops_the_one_waiting(qtbot, queue):
    rec = Recorder(queue)
    gate, started = threading.Event(), threading.Event()
    assert queue.submit("a", rec.job("a", gate=gate, started=started))
    assert started.wait(WAIT_S)
    assert queue.submit("b", rec.job("b"))
    assert not queue.submit("b", rec.job("b"))  # the same key waiting: kept, not queued twice
    assert not queue.submit("a", rec.job("a"))  # "a" is wanted again and on its way: "b" is dropped
    gate.set()
    qtbot.waitUntil(lambda: len(rec.events) == 1, timeout=int(WAIT_S * 1000))
    qtbot.waitUntil(lambda: not queue.busy(), timeout=int(WAIT_S * 1000))
    assert rec.ran == ["a"] and rec.keys() == ["a"]


def test_a_request_waits_out_its_delay_and_a_newer_one_replaces_it_meanwhile(qtbot, queue):
    """The debounce: a request submitted with a delay does not start before it; a request submitted
    meanwhile replaces it (here the delay is the hang bound, so the first can only run if it is
    wrongly started early)."""
    rec = Recorder(queue)
    assert queue.submit("slow", rec.job("slow"), delay=WAIT_S)
    assert queue.submit("now", rec.job("now"))
    qtbot.waitUntil(lambda: len(rec.events) == 1, timeout=int(WAIT_S * 1000))
    assert rec.ran == ["now"] and rec.keys() == ["now"]


def test_failures_are_messages_with_the_key_and_the_thread_goes_on(qtbot, queue):
    rec = Recorder(queue)

    def boom():
        raise ValueError("the numbers went wrong")

    def bad_file():
        raise RunFileError("x.h5", "is a truncated sweep file (shorter than its header says)")

    gate, started = threading.Event(), threading.Event()
    queue.submit("hold", rec.job("hold", gate=gate, started=started))
    assert started.wait(WAIT_S)
    queue.submit("boom", boom)  # waits for "hold"; the rest are submitted one at a time (each would replace it)
    gate.set()
    qtbot.waitUntil(lambda: len(rec.events) == 2, timeout=int(WAIT_S * 1000))
    queue.submit("bad", bad_file)
    qtbot.waitUntil(lambda: len(rec.events) == 3, timeout=int(WAIT_S * 1000))
    queue.submit("after", rec.job("after"))
    qtbot.waitUntil(lambda: len(rec.events) == 4, timeout=int(WAIT_S * 1000))
    assert [e[:2] for e in rec.events] == [("done", "hold"), ("failed", "boom"), ("failed", "bad"), ("done", "after")]
    _, _, message, tb = rec.events[1]
    assert message == "ValueError: the numbers went wrong"
    assert "Traceback" in tb and "the numbers went wrong" in tb
    _, _, message, tb = rec.events[2]
    assert message == "x.h5: is a truncated sweep file (shorter than its header says)" and tb == ""  # expected


def test_close_drops_the_waiting_request_joins_and_delivers_nothing_more(qtbot, app):
    q = BackgroundQueue("closing-queue")
    rec = Recorder(q)
    gate, started = threading.Event(), threading.Event()
    q.submit("running", rec.job("running", gate=gate, started=started))
    assert started.wait(WAIT_S)
    q.submit("waiting", rec.job("waiting"))
    assert not q.close(0)  # the running request holds the thread: not joined, and nothing terminated
    assert q.is_closed() and not q.submit("late", rec.job("late"))
    gate.set()
    assert q.close(WAIT_S)  # now it ends
    app.processEvents()
    assert rec.ran == ["running"]  # the waiting request never ran
    assert rec.events == []  # the running one's result came after close(): not delivered


def test_a_request_that_asks_is_closed_stops_early_so_close_joins(qtbot, app):
    q = BackgroundQueue("stoppable-queue")
    rec = Recorder(q)
    started, polled = threading.Event(), threading.Event()

    def long_scan():
        started.set()
        while not q.is_closed():  # e.g. the story, which asks between judged steps
            polled.wait(0.001)
        return "stopped"

    q.submit("scan", long_scan)
    assert started.wait(WAIT_S)
    assert q.close(WAIT_S)
    app.processEvents()
    assert rec.events == []


def test_a_queue_never_used_closes_at_once(app):
    q = BackgroundQueue("unused-queue")
    assert not q.busy() and q.close(0) and q.close(0)
