"""ExplorerState and AnalysisProvider without Qt, on hand-built runs: Henighan's exact solution
(ReLU(WᵀW + b) = I) and the seed's symmetric failure built by hand (a regular hexagon of six
features and a seventh with W_7 = 0, b_7 = 1/7: loss (n − 1)/n² = 6/49 exactly)."""
import math

import numpy as np
import pytest

from model.analysis.analysis import analyze
from model.analysis.analysis_provider import (
    CACHE_MAX,
    OVERRIDE,
    SEPARATION_FULL_MAX,
    SYNC_ANALYSIS_MAX_N,
    VERDICTS_MAX_WORK,
    AnalysisProvider,
)
from model.analysis.explorer import ExplorerState
from model.analysis.separability import separability
from model.config import TrainConfig
from model.history import History
from model.snapshot import Snapshot
from model.storage.runfile import RunFileError, save_run
from model.training.init import henighan
from tests.widgets import symmetric_failure_snapshot


def perfect(n=7):
    return henighan(n)


def one_dead():
    """The seed's symmetric failure: Henighan's hexagon and feature 7 dead (W_7 = 0, b_7 = 1/7)."""
    s = symmetric_failure_snapshot()
    return s.W, s.b


def history_of(params, steps, K=None):
    """A History whose row at every step holds model k's (W, b) = params[k]."""
    K = len(params)
    m, n = params[0][0].shape
    h = History(K, m, n)
    for s in steps:
        h.append(s, np.stack([W for W, _ in params]), np.stack([b for _, b in params]), np.zeros(K))
    return h


def state_of(params, steps=(0, 1, 2, 3), **cfg):
    st = ExplorerState()
    st.load(TrainConfig(n=params[0][0].shape[1], m=2, models=len(params), **cfg), history_of(params, steps))
    return st


class Counting:
    """analyze, counting its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, snap, onehot=True):
        self.calls += 1
        return analyze(snap, onehot=onehot)


# ------------------------------------------------------------------ the provider
def test_provider_analyses_the_closed_forms_and_serves_the_same_object_for_the_same_key():
    count = Counting()
    p = AnalysisProvider(analyze_fn=count)
    W, b = perfect(7)
    a = p.get(("run", 0, 10), Snapshot(10, W, b))
    assert a.verdict == "perfect" and a.reconstructed == list(range(7))
    assert p.get(("run", 0, 10), Snapshot(10, W, b)) is a and count.calls == 1
    W, b = one_dead()
    f = p.get(("run", 0, 20), Snapshot(20, W, b))
    assert f.verdict == "symmetric_failure" and f.dead == [6]
    # the closed form of one dead feature at b = 1/n beside exact others: (n - 1)/n^2
    assert f.loss == pytest.approx(6 / 49, abs=1e-12)
    assert f.reference["applies"] and f.reference["dead_bias_diff"] == {"7": pytest.approx(0.0, abs=1e-12)}
    assert p.latest(0) is f and count.calls == 2  # the model's latest: the last one computed


@pytest.mark.slow
def test_provider_leaves_large_models_to_the_caller_unless_asked_to_wait():
    n = SYNC_ANALYSIS_MAX_N + 1
    W, b = perfect(n)
    snap = Snapshot(3, W, b)
    p = AnalysisProvider()
    assert AnalysisProvider.in_background(snap) and not AnalysisProvider.in_background(Snapshot(3, *perfect(7)))
    assert p.get((1, 0, 3), snap) is None and p.cached((1, 0, 3)) is None  # not computed here
    a = p.get((1, 0, 3), snap, wait=True)
    assert a.n == n and p.cached((1, 0, 3)) is a


def test_provider_cache_is_bounded_and_keeps_each_models_latest():
    p = AnalysisProvider(analyze_fn=lambda snap, onehot=True: object())
    snap = Snapshot(0, *perfect(5))
    for s in range(CACHE_MAX + 5):
        p.compute((1, 0, s), snap)
    assert len(p) <= CACHE_MAX
    assert p.cached((1, 0, CACHE_MAX + 4)) is p.latest(0)


def test_provider_forgets_overrides_but_not_the_run():
    p = AnalysisProvider()
    snap = Snapshot(0, *perfect(5))
    run = p.compute((1, 0, 0), snap)
    p.compute((OVERRIDE, 7), snap)
    p.forget_overrides()
    assert p.cached((OVERRIDE, 7)) is None and p.cached((1, 0, 0)) is run
    assert p.latest(0) is run  # an override's analysis is never a model's latest


def test_an_analysis_finished_after_a_new_run_was_loaded_is_dropped():
    def slow(snap, onehot=True):  # the analysis thread; meanwhile the GUI loads another run
        p.reset(onehot=True)
        return analyze(snap, onehot=onehot)

    p = AnalysisProvider(analyze_fn=slow)
    a = p.compute((1, 0, 0), Snapshot(0, *perfect(5)))
    assert a.verdict == "perfect"  # returned to its caller ...
    assert p.cached((1, 0, 0)) is None and p.latest(0) is None  # ... but never lent to the new run


def test_provider_separability_once_per_snapshot_and_selection_with_the_direct_answer():
    W, b = one_dead()
    snap = Snapshot(0, W, b)
    live = np.arange(7) < 6
    p = AnalysisProvider()
    s1 = p.separability(snap, live, None)
    assert p.separability(snap, live, None) is s1
    direct = separability(W, live)
    np.testing.assert_array_equal(s1.separable, direct.separable)
    assert s1.separable[:6].all()  # a regular hexagon: every vertex cuts off
    sel = p.separability(snap, live, (0, 3))
    assert sel is not s1 and np.nonzero(sel.computed)[0].tolist() == [0, 3]
    # another snapshot object with the same numbers is computed again (identity, not equality)
    assert p.separability(Snapshot(0, W, b), live, (0, 3)) is not sel
    assert SEPARATION_FULL_MAX >= SYNC_ANALYSIS_MAX_N  # small models' analyses carry separability


def test_provider_of_snapshot_is_shared_by_the_views_of_one_frame():
    count = Counting()
    p = AnalysisProvider(analyze_fn=count)
    snap = Snapshot(0, *perfect(6))
    assert p.of_snapshot(snap) is p.of_snapshot(snap) and count.calls == 1
    p.reset(onehot=False)
    assert p.of_snapshot(snap).verdict == "n/a (sparse data)" and count.calls == 2


# ------------------------------------------------------------------ the state
def test_frame_draws_the_shown_model_and_its_analysis_once():
    st = state_of([perfect(7), one_dead()])
    fr = st.frame()
    assert fr.snapshot.step == 3 and fr.model == 0 and not fr.pending
    assert fr.analysis.verdict == "perfect" and fr.analysis.step == 3
    assert st.frame().analysis is fr.analysis  # the same key: the same object
    assert st.set_model(1) and not st.set_model(1) and not st.set_model(2)
    fr1 = st.frame()
    assert fr1.analysis.verdict == "symmetric_failure" and fr1.analysis.dead == [6]
    assert fr1.losses.shape == (4, 2) and fr1.loss_steps.tolist() == [0, 1, 2, 3]
    assert st.model_verdicts() == ["perfect", "symmetric_failure"]


def test_model_verdicts_are_skipped_when_the_run_is_too_large():
    n = VERDICTS_MAX_WORK // 2 + 1
    W = np.zeros((2, n), np.float32)
    W[0, 0] = 1.0
    st = ExplorerState()
    h = History(2, 2, n, budget_bytes=3 * 2 * 3 * n * 4 + 64)
    h.append(0, np.stack([W, W]), np.zeros((2, n)), np.zeros(2))
    st.load(TrainConfig(n=n, m=2, models=2), h)
    assert st.model_verdicts() is None and len(st.analyses) == 0


def test_a_new_live_step_moves_the_frame_only_when_following():
    W, b = perfect(7)
    h = History(1, 2, 7)
    st = ExplorerState()
    st.load(TrainConfig(n=7, m=2), h)
    assert st.frame() is None  # no data yet
    for s in range(5):
        h.append(s, W[None], b[None], np.zeros(1))
    assert st.follow_live and st.frame().snapshot.step == 4
    h.append(5, W[None], b[None], np.zeros(1))
    assert st.live_advanced() and st.frame().snapshot.step == 5
    st.request_step(2)  # scrubbing stops following
    assert not st.follow_live and st.frame().snapshot.step == 2
    h.append(6, W[None], b[None], np.zeros(1))
    assert not st.live_advanced() and st.frame().snapshot.step == 2
    st.set_follow_live(True)
    assert st.frame().snapshot.step == 6
    st.set_follow_live(False)  # unticked without scrubbing: stays at the step shown
    h.append(7, W[None], b[None], np.zeros(1))
    assert not st.live_advanced() and st.frame().snapshot.step == 6
    st.set_follow_live(True)
    assert st.live_advanced() and st.frame().snapshot.step == 7


def test_frame_at_leaves_the_state_as_it_is():
    st = state_of([perfect(7)], steps=(0, 10, 20))
    st.request_step(10)
    fr = st.frame_at(0)
    assert fr.snapshot.step == 0 and fr.analysis.step == 0
    assert st.frame().snapshot.step == 10 and not st.follow_live
    assert st.frame_at(None).snapshot.step == 20


def test_an_override_gets_its_own_analysis_and_a_replaced_one_is_never_served():
    st = state_of([perfect(7)])
    run_analysis = st.frame().analysis
    dead = Snapshot(3, *one_dead())
    st.set_override(dead)
    fr = st.frame()
    assert fr.snapshot is dead and fr.key[0] == OVERRIDE
    assert st.follow_live and not st.live_advanced()  # new steps do not replace a shown override
    assert fr.analysis.verdict == "symmetric_failure" and fr.analysis.dead == [6]
    old_key = fr.key
    # a new override, even one equal in step and shape: a new key, the old analysis gone
    again = Snapshot(3, *perfect(7))
    st.set_override(again)
    fr2 = st.frame()
    assert fr2.key != old_key and st.analyses.cached(old_key) is None
    assert fr2.analysis.verdict == "perfect"
    st.set_override(None)
    assert st.frame().analysis is run_analysis  # the run's analyses were kept
    assert st.live_advanced()


@pytest.mark.slow
def test_a_freed_override_is_not_kept_and_its_successor_gets_its_own_analysis():
    import gc
    import weakref

    st = state_of([perfect(7)])
    snap = Snapshot(3, *one_dead())
    gone = weakref.ref(snap)
    st.set_override(snap)
    old = st.frame()
    old_key = old.key
    assert old.analysis.verdict == "symmetric_failure"
    st.set_override(None)
    del old, snap
    gc.collect()
    assert gone() is None  # nothing (cache, provider, state) holds the replaced override
    st.set_override(Snapshot(3, *perfect(7)))  # same step and shape, possibly the same address
    fr = st.frame()
    assert fr.key != old_key and fr.analysis.verdict == "perfect" and fr.analysis.dead == []


def test_new_run_forgets_the_old_runs_analyses_and_state():
    st = state_of([perfect(7)])
    st.request_step(1)
    st.select_feature(2)
    key = st.frame().key
    st.load(TrainConfig(n=7, m=2), history_of([one_dead()], [0, 1, 2, 3]))
    assert st.follow_live and st.selected == set() and st.override is None and st.model == 0
    assert st.analyses.cached(key) is None and st.frame().key != key  # same model and step, another run
    assert st.frame().analysis.verdict == "symmetric_failure"


def test_large_models_lend_the_latest_analysis_while_theirs_is_pending():
    n = SYNC_ANALYSIS_MAX_N + 1
    W, b = perfect(n)
    st = state_of([(W, b)], steps=(0, 1))
    fr = st.frame()
    assert fr.pending and fr.analysis is None  # nothing to lend yet
    st.analyses.compute(fr.key, fr.snapshot)  # what the window's analysis thread does
    fr = st.frame()
    assert not fr.pending and fr.analysis.step == 1 and fr.analysis.n == n
    st.request_step(0)
    fr0 = st.frame()
    assert fr0.pending and fr0.snapshot.step == 0 and fr0.analysis.step == 1  # step 1's, lent
    assert st.frame_at(0).analysis.step == 0  # export waits for the exact one


def test_selection():
    st = state_of([perfect(7)])
    assert st.select_feature(3) and st.selected == {3}
    assert st.select_feature(3) and st.selected == set()  # again: deselect
    assert st.select_feature(1) and st.select_feature(5, add=True) and st.selected == {1, 5}
    assert st.select_feature(1, add=True) and st.selected == {5}
    assert not st.select_feature(7) and not st.select_feature(-1) and st.selected == {5}
    assert st.frame().selected == frozenset({5})


def test_open_reads_a_run_file_and_a_bad_file_changes_nothing(tmp_path):
    W, b = one_dead()
    cfg = TrainConfig(n=7, m=2)
    path = tmp_path / "run.h5"
    save_run(path, cfg, history_of([(W, b)], [0, 5, 9]))
    st = ExplorerState()
    st.open(path)
    assert st.path == path and st.history.latest_step == 9
    fr = st.frame_at(5)
    assert fr.snapshot.step == 5 and fr.analysis.verdict == "symmetric_failure"
    assert fr.analysis.loss == pytest.approx(6 / 49, abs=1e-6)  # float32 storage
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 100)
    before = (st.config, st.history, st.path, st.frame().key)
    with pytest.raises(RunFileError, match=r"bad\.h5"):
        st.open(bad)
    assert (st.config, st.history, st.path, st.frame().key) == before


def test_final_losses_and_colours():
    st = state_of([perfect(7), one_dead()])
    assert st.final_losses().tolist() == [0.0, 0.0]  # the recorded losses of the last row
    assert st.colors.shape == (7, 4)
    big = state_of([perfect(30)])
    assert big.colors.shape == (30, 4) and len({tuple(c) for c in big.colors}) == 30
    assert math.isfinite(big.frame().analysis.loss)
