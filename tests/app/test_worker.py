"""app/gui/worker.py's BackgroundJob with fake jobs: coalesced progress, cancel, join, errors.
Every wait is on an event the test controls; nothing depends on how fast a thread runs."""
from __future__ import annotations

import threading

import pytest
from PyQt6.QtWidgets import QApplication

from app.gui.worker import BackgroundJob
from model.storage.outfile import RunFileError

WAIT_MS = 10_000  # only ends a hang


@pytest.fixture
def app():
    return QApplication.instance() or QApplication([])


class Recorder:
    """Every signal a job sent, in order."""

    def __init__(self, job: BackgroundJob):
        self.events = []
        job.progressed.connect(lambda: self.events.append(("progressed", job.take_latest())))
        job.done.connect(lambda result: self.events.append(("done", result)))
        job.failed.connect(lambda message, tb: self.events.append(("failed", message, tb)))
        job.finished.connect(lambda: self.events.append(("finished",)))

    def names(self):
        return [e[0] for e in self.events]


def test_a_flood_of_reports_queues_one_signal_and_the_newest_report_wins(app):
    """1,000 reports while the GUI thread is busy (here: blocked in join): one progressed signal
    waits in the queue, and the report it brings is the last one."""
    job = BackgroundJob(lambda progress: [progress(i) for i in range(1000)] and "ok", name="flood-job")
    seen = []
    job.progressed.connect(lambda: seen.append(job.take_latest()))
    job.start()
    assert job.join(WAIT_MS / 1000)
    app.processEvents()
    assert seen == [999]


def test_the_next_report_is_announced_once_the_last_was_taken(qtbot, app):
    gate = threading.Event()

    def fn(progress):
        progress("first")
        gate.wait(WAIT_MS / 1000)
        progress("second")
        progress("third")
        return "result"

    job = BackgroundJob(fn, name="gated-job")
    rec = Recorder(job)
    job.start()
    qtbot.waitUntil(lambda: rec.names() == ["progressed"], timeout=WAIT_MS)
    assert rec.events[0] == ("progressed", "first")  # taken: the job may announce again
    gate.set()
    assert job.join(WAIT_MS / 1000)
    qtbot.waitUntil(lambda: "finished" in rec.names(), timeout=WAIT_MS)
    # "second" was announced (the flag was clear); "third" replaced it before the GUI took it
    assert rec.events[1:] == [("progressed", "third"), ("done", "result"), ("finished",)]


def test_without_take_latest_no_second_signal_is_sent_but_an_urgent_one_is(qtbot, app):
    job = BackgroundJob(lambda progress: (progress(1), progress(2), progress(3, urgent=True)), name="urgent-job")
    count = []
    job.progressed.connect(lambda: count.append(job.latest))  # never takes: the flag stays set
    job.start()
    assert job.join(WAIT_MS / 1000)
    app.processEvents()
    assert count == [3, 3]  # the first announcement and the urgent one; both find the newest report


def test_cancel_reaches_the_computation_and_join_waits_for_its_end(qtbot, app):
    started, stop = threading.Event(), threading.Event()

    def fn(progress):
        started.set()
        stop.wait(WAIT_MS / 1000)
        return "cancelled" if stop.is_set() else "timed out"

    job = BackgroundJob(fn, cancel=stop.set, name="cancel-job")
    rec = Recorder(job)
    assert job.join(0) and not job.is_running()  # not started: nothing to wait for
    job.start()
    assert started.wait(WAIT_MS / 1000)
    assert job.is_running() and not job.join(0)  # blocked on the event: still running
    with pytest.raises(RuntimeError, match="started already"):
        job.start()
    job.cancel()
    assert job.join(WAIT_MS / 1000) and not job.is_running()
    qtbot.waitUntil(lambda: "finished" in rec.names(), timeout=WAIT_MS)
    assert rec.events == [("done", "cancelled"), ("finished",)]


def test_a_failure_is_a_message_with_its_traceback_and_an_expected_one_without(qtbot, app):
    def boom(progress):
        raise ValueError("the numbers went wrong")

    def bad_file(progress):
        raise RunFileError("x.h5", "is a truncated sweep file (shorter than its header says)")

    for fn, message, has_tb in ((boom, "ValueError: the numbers went wrong", True),
                                (bad_file, "x.h5: is a truncated sweep file (shorter than its header says)", False)):
        job = BackgroundJob(fn, name="failing-job", expected=(RunFileError,))
        rec = Recorder(job)
        job.start()
        assert job.join(WAIT_MS / 1000)
        qtbot.waitUntil(lambda: "finished" in rec.names(), timeout=WAIT_MS)
        assert rec.names() == ["failed", "finished"]
        _, got, tb = rec.events[0]
        assert got == message and job.error == message
        assert ("Traceback" in tb and "the numbers went wrong" in tb) if has_tb else tb == ""
