"""The session and the training worker, driven through their Qt signals."""
import threading

import numpy as np
import pytest

from model.background import THREAD_PREFIX
from model.config import TrainConfig

pytest.importorskip("PyQt6")
from app.gui.session import Session


def wait_state(qtbot, s, *states, timeout=20000):
    qtbot.waitUntil(lambda: s.state in states, timeout=timeout)


@pytest.mark.slow
def test_training_runs_in_the_background_and_the_frame_follows(qtbot, session):
    frames = []
    session.frameChanged.connect(lambda: frames.append(1))
    session.start(TrainConfig(n=7, steps=20_000, seed=0))
    assert session.is_training()
    wait_state(qtbot, session, "finished")
    ctx = session.frame()
    snap = ctx.snapshot
    assert snap.step == 20_000 and ctx.analysis.verdict == "perfect"
    assert 0 < len(frames) < 2000  # coalesced: not one signal per step
    assert session.run_path is not None and session.run_path.exists()  # autosaved
    from model.storage.runfile import open_run

    assert open_run(session.run_path).history.latest_step == 20_000


class ChunkGate:
    """Counts the training loop's chunks (its Trainer.train_chunk calls) and can hold the next
    one open until released."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started = self.finished = 0
        self.hold = False
        self.holding, self.release = threading.Event(), threading.Event()

    def hold_next(self):
        with self.lock:
            self.hold = True

    def wrap(self, train_chunk):
        def counted(trainer, nsteps):
            with self.lock:
                self.started += 1
                hold, self.hold = self.hold, False
            if hold:
                self.holding.set()
                self.release.wait(30)
            try:
                return train_chunk(trainer, nsteps)
            finally:
                with self.lock:
                    self.finished += 1
        return counted


@pytest.mark.slow
def test_pause_resume_step_and_stop(qtbot, session, monkeypatch):
    """Paused, no chunk runs; one step runs exactly one chunk. The chunks are counted, so a busy
    machine can make the test miss a wrong chunk but never see one that did not run. The waits
    after the pause and the step only give a wrong chunk the time to start."""
    from model.training.engine import Trainer

    gate = ChunkGate()
    monkeypatch.setattr(Trainer, "train_chunk", gate.wrap(Trainer.train_chunk))
    session.start(TrainConfig(n=7, steps=10**8, seed=0))
    qtbot.waitUntil(lambda: session.trainer.step > 0, timeout=10000)
    gate.hold_next()  # pause while a chunk runs: the loop looks at the pause flag only between chunks
    assert gate.holding.wait(10)
    session.pause()
    held = gate.started  # the chunk held open is the last one to start
    gate.release.set()
    qtbot.waitUntil(lambda: gate.finished >= held, timeout=10000)
    s1 = session.trainer.step
    qtbot.wait(300)
    assert gate.started == held and session.trainer.step == s1 and session.state == "paused"
    session.step_once()
    qtbot.waitUntil(lambda: gate.finished >= held + 1, timeout=10000)
    s2 = session.trainer.step
    qtbot.wait(300)
    assert gate.started == held + 1 and session.trainer.step == s2 > s1  # one chunk, then paused again
    session.resume()
    qtbot.waitUntil(lambda: gate.finished > held + 1 and session.trainer.step > s2, timeout=10000)
    assert session.stop_training(timeout=2.0)  # True: stopped within its own bounded wait
    assert session.state == "stopped" and not session.is_training()
    assert session.history.latest_step == session.trainer.step  # history kept


def test_scrubbing_serves_the_snapshot_at_or_before_the_step(qtbot, session):
    session.start(TrainConfig(n=7, steps=3000, seed=1))
    wait_state(qtbot, session, "finished")
    session.request_step(1234)
    snap = session.frame().snapshot
    assert snap.step == session.history.steps[session.history.index_at(1234)] <= 1234
    assert not session.follow_live
    session.set_follow_live(True)
    assert session.frame().snapshot.step == 3000


def test_a_worker_exception_becomes_an_error_and_keeps_the_history(qtbot, session, engine_fails_on):
    engine_fails_on(5, "simulated failure in the engine")
    errors = []
    session.error.connect(lambda title, text: errors.append((title, text)))
    session.start(TrainConfig(n=7, steps=10**7, seed=0))
    wait_state(qtbot, session, "failed")
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert "simulated failure" in errors[0][1]
    assert len(session.history) > 0 and session.frame().snapshot is not None


def test_nan_stops_training_with_a_message_naming_the_step(qtbot, session):
    errors = []
    session.error.connect(lambda title, text: errors.append((title, text)))
    session.start(TrainConfig(n=7, steps=10**6, seed=0, optimizer="sgd", lr=100.0))
    wait_state(qtbot, session, "finished")
    halted_at = int(session.trainer.halted[0])
    assert halted_at >= 0
    assert errors and f"step {halted_at:,}" in errors[0][1]
    assert session.trainer.step < 10**6  # training stopped
    snap = session.frame().snapshot
    assert snap.step < halted_at and np.all(np.isfinite(snap.W))


def test_opening_a_bad_file_leaves_the_session_untouched(qtbot, session, tmp_path):
    session.start(TrainConfig(n=7, steps=2000, seed=0))
    wait_state(qtbot, session, "finished")
    before = (session.config, session.history, session.frame().snapshot.step)
    errors = []
    session.error.connect(lambda title, text: errors.append(text))
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 100)
    assert not session.open(bad)
    assert errors and str(bad) in errors[0]
    assert (session.config, session.history, session.frame().snapshot.step) == before


def test_save_as_and_open_round_trip(qtbot, session, tmp_path):
    session.start(TrainConfig(n=6, steps=1500, seed=2, models=3))
    wait_state(qtbot, session, "finished")
    session.set_model(2)
    snap = session.frame().snapshot
    path = tmp_path / "saved.h5"
    assert session.save_as(path)
    other = Session()
    try:
        assert other.open(path)
        other.set_model(2)
        s2 = other.frame().snapshot
        assert s2.step == snap.step
        np.testing.assert_array_equal(s2.W, snap.W)
        assert other.verdicts is not None and len(other.verdicts) == 3
    finally:
        other.shutdown()


@pytest.mark.slow
def test_large_n_analysis_runs_in_the_background_and_views_borrow_the_latest(qtbot, session):
    from app.gui.session import SYNC_ANALYSIS_MAX_N

    n = SYNC_ANALYSIS_MAX_N + 500
    session.start(TrainConfig(n=n, data="sparse", sparsity=0.99, batch=64, steps=30, seed=0))
    wait_state(qtbot, session, "finished", timeout=60000)
    ctx = session.frame()
    snap = ctx.snapshot
    assert ctx.analysis is None or ctx.analysis.step == snap.step  # not computed on this thread
    qtbot.waitUntil(lambda: session.frame().analysis is not None, timeout=10000)
    a = session.frame().analysis
    assert a.step == snap.step and a.n == n
    session.request_step(10)
    ctx10 = session.frame()
    snap10 = ctx10.snapshot
    # while step 10 is analysed in the background, the latest analysis is lent and marked so
    if ctx10.analysis is not None and ctx10.analysis.step != snap10.step:
        assert ctx10.pending and ctx10.lent
    qtbot.waitUntil(lambda: session.frame().analysis.step == snap10.step, timeout=10000)


@pytest.mark.slow
def test_live_steps_move_the_frame_only_while_following(qtbot, session):
    session.start(TrainConfig(n=7, steps=10**8, seed=0))
    qtbot.waitUntil(lambda: session.trainer.step > 0, timeout=10000)
    first = int(session.history.steps[0])
    session.request_step(first)  # scrubbing: stops following
    frames, handled = [], []
    session.frameChanged.connect(lambda: frames.append(1))
    # connected after the session's own handler: counts the progress reports the session has handled
    session.worker.progressed.connect(lambda: handled.append(1))
    s0 = session.trainer.step
    qtbot.waitUntil(lambda: session.history.latest_step > s0 + 1000 and len(handled) >= 3, timeout=20000)
    assert session.frame().snapshot.step == first and not frames  # progress did not move or dirty the frame
    session.set_follow_live(True)
    qtbot.waitUntil(lambda: len(frames) > 1, timeout=5000)  # following: progress marks the frame stale
    assert session.frame().snapshot.step > s0
    assert session.stop_training(timeout=2.0)


@pytest.mark.slow
def test_background_analyses_run_in_the_analysis_thread_latest_wins_and_stale_results_are_not_shown(
        qtbot, session7, monkeypatch):
    """Every snapshot analysed in the background (in_background forced on at n = 7): the analysis runs
    in the session's analysis thread; frames asked for while one runs replace each other (only the
    last is analysed); the result of a frame no longer wanted does not redraw, the wanted one does."""
    from model.analysis.analysis_provider import AnalysisProvider

    s = session7
    s.stop_ahead()  # the analyses computed ahead (opening the run started them) would be counted too
    qtbot.waitUntil(lambda: not s.ahead_running(), timeout=10000)
    provider = s.analyses
    real = provider._analyze
    ran, first_started, release = [], threading.Event(), threading.Event()

    def recorded(snap, **kw):
        ran.append((snap.step, threading.current_thread().name))
        if len(ran) == 1:
            first_started.set()
            assert release.wait(10)
        return real(snap, **kw)

    monkeypatch.setattr(AnalysisProvider, "in_background", staticmethod(lambda snap: True))
    monkeypatch.setattr(provider, "_analyze", recorded)
    steps = [int(x) for x in s.history.steps[[3, 5, 8, 11]]]
    s.request_step(steps[0])
    assert s.frame().pending  # not computed here
    assert first_started.wait(10)  # the first frame's analysis holds the analysis thread
    for step in steps[1:]:  # scrubbing on: each replaces the one waiting
        s.request_step(step)
        fr = s.frame()
        assert fr.pending and fr.snapshot.step == step
    redraws = []
    s.frameChanged.connect(lambda: redraws.append(s.frame().snapshot.step))
    release.set()
    qtbot.waitUntil(lambda: bool(redraws), timeout=10000)
    qtbot.waitUntil(lambda: not s._analysis.busy(), timeout=10000)
    qtbot.wait(0)  # deliver anything still posted
    assert [step for step, _ in ran] == [steps[0], steps[-1]]  # steps[1:-1] were replaced, never analysed
    assert {name for _, name in ran} == {THREAD_PREFIX + "analysis"}  # the session's analysis queue, a Worker
    assert redraws == [steps[-1]]  # the stale first result did not redraw; the wanted one did
    fr = s.frame()
    assert not fr.pending and fr.analysis.step == steps[-1]
