"""Analyses computed ahead (Session.compute_ahead): after a small run is opened, the analysis of every
recorded snapshot of the shown model is computed in a background thread, so that a scrub finds it cached
instead of computing it on the GUI thread inside the frame; the thread waits while steps are asked for,
and what it computed for a run is never shown for another."""
import threading

import numpy as np
import pytest


def _gui_thread_analyses(session) -> list:
    """[count]: analyses the session's provider computes on the GUI thread from now on."""
    p = session.analyses
    box = [0]
    orig = p._analyze

    def counted(snap, onehot=True):
        if threading.current_thread() is threading.main_thread():
            box[0] += 1
        return orig(snap, onehot=onehot)

    p._analyze = counted
    return box


def _same_analysis(a, b) -> bool:
    return (a.step == b.step and a.verdict == b.verdict and np.array_equal(a.dead_mask, b.dead_mask)
            and np.array_equal(a.norms, b.norms) and np.array_equal(a.biases, b.biases)
            and np.array_equal(a.angles_deg, b.angles_deg))


@pytest.fixture(scope="module")
def run7_seed1(tmp_path_factory):
    """Another short n = 7 run (seed 1): other weights at every step than run7's."""
    from model.config import TrainConfig
    from model.storage.runfile import save_run
    from model.training.engine import train

    cfg = TrainConfig(n=7, m=2, steps=400, lr=1e-2, seed=1)
    path = tmp_path_factory.mktemp("run7s1") / "n7s1.h5"
    save_run(path, cfg, train(cfg, threads=1).history)
    return path


def test_after_the_analyses_ahead_a_scrub_computes_none_on_the_gui_thread(qtbot, session7):
    from model.analysis.analysis import analyze

    s = session7
    assert s.ahead_running() or s.ahead_computed is not None  # opening the run started it
    qtbot.waitUntil(lambda: not s.ahead_running(), timeout=120000)
    qtbot.waitUntil(lambda: s.ahead_computed is not None, timeout=5000)
    steps = s.history.steps
    assert s.ahead_computed > 0 and len(s.analyses) == len(steps)  # every recorded step, once
    counted = _gui_thread_analyses(s)
    rng = np.random.default_rng(0)
    for i in rng.choice(len(steps), size=25, replace=False):
        s.request_step(int(steps[i]))
        fr = s.frame()
        assert fr.snapshot.step == int(steps[i]) and not fr.pending
        assert _same_analysis(fr.analysis, analyze(fr.snapshot, onehot=True))  # this snapshot's analysis
    assert counted[0] == 0  # fails when the analyses are not computed ahead (or not found in the cache)


def test_what_was_computed_ahead_for_one_run_is_never_shown_for_the_next(qtbot, session, run7, run7_seed1):
    """A second run opened while the first one's analyses are being computed ahead: none of the first's
    stays in the cache, and every frame of the second shows its own snapshot's analysis."""
    import time

    from model.analysis.analysis import analyze

    s = session
    p = s.analyses
    orig = p._analyze

    def slow(snap, onehot=True):  # the first run's thread is still busy when the second run opens
        time.sleep(0.002)
        return orig(snap, onehot=onehot)

    p._analyze = slow
    assert s.open(run7)
    qtbot.waitUntil(lambda: len(p) >= 5, timeout=30000)
    assert s.ahead_running()
    old_keys = [s.explorer.key_of(s.history.snapshot(step=int(t))) for t in s.history.steps]
    p._analyze = orig
    assert s.open(run7_seed1)
    qtbot.waitUntil(lambda: not s.ahead_running(), timeout=120000)
    assert all(p.cached(k) is None for k in old_keys)
    steps = s.history.steps
    assert len(p) == len(steps)
    for t in steps[:: max(1, len(steps) // 20)]:
        s.request_step(int(t))
        fr = s.frame()
        assert _same_analysis(fr.analysis, analyze(fr.snapshot, onehot=True))


def test_the_analyses_ahead_wait_while_steps_are_asked_for(qtbot, session, run7, monkeypatch):
    import app.gui.session as sess

    monkeypatch.setattr(sess, "AHEAD_QUIET_S", 30.0)
    s = session
    p = s.analyses
    assert s.open(run7)
    qtbot.waitUntil(lambda: len(p) >= 5, timeout=30000)
    s.request_step(100)  # a scrub: the thread finishes the analysis in hand, then waits
    qtbot.wait(100)
    held = len(p)
    qtbot.wait(500)
    assert len(p) == held and s.ahead_running()  # fails when it does not wait
    assert s.shutdown(timeout=3.0)  # and it stops while waiting


def test_no_analyses_ahead_for_a_model_too_large_or_while_training(qtbot, session):
    from model.analysis.analysis_provider import PRECOMPUTE_MAX_N, precompute_count
    from model.config import TrainConfig

    assert precompute_count(PRECOMPUTE_MAX_N + 1) == 0 and precompute_count(7) >= 3001
    s = session
    s.start(TrainConfig(n=7, steps=10**6, seed=0))
    qtbot.waitUntil(lambda: s.history is not None and len(s.history) > 3, timeout=60000)
    assert not s.compute_ahead() and not s.ahead_running()
    assert s.stop_training()
    assert s.ahead_running() or s.ahead_computed is not None  # stopped: now it computes them
