"""model.analysis.feature_history: the per-step series of chosen features, against closed forms and against the
per-snapshot functions they vectorise (geometry.feature_dimensionality, separability.sensitivity)."""
import math

import numpy as np
import pytest

from model.analysis import geometry as geo
from model.analysis.analysis import DEAD_REL, analyze
from model.analysis.criteria import function_vectors
from model.analysis.feature_history import SeriesTracker, feature_series, series_of_arrays, sliver_shares
from model.analysis.separability import sensitivity
from model.history import History
from model.snapshot import Snapshot
from model.training.init import henighan

DEATH = 3000


def dying_history(n: int = 7, steps=None) -> History:
    """Henighan's n-gon until DEATH; then feature n's vector shrinks as e^(-(s - DEATH)/100) from the
    n-gon's radius to 0 and its bias moves to 1/n, while the others become the (n-1)-gon."""
    steps = np.concatenate([np.arange(0, 2000, 10), np.arange(2000, 20001, 50)]) if steps is None else steps
    Wn, bn = henighan(n)
    Wm, bm = henighan(n - 1)
    h = History(K=1, m=2, n=n, budget_bytes=50_000_000)
    for s in steps:
        if s < DEATH:
            W, b = Wn, bn
        else:
            f = math.exp(-(s - DEATH) / 100)
            W = np.hstack([Wm, f * Wn[:, -1:]])
            b = np.append(bm, f * bn[-1] + (1 - f) / n)
        h.append(int(s), W[None].astype(np.float32), b[None].astype(np.float32), np.array([0.1], np.float32))
    return h


def test_henighan_closed_forms():
    """Regular n-gon: D_i = 2/n; feature i's zone is the triangle (W_i-1, W_i, W_i+1), so its share of the
    polygon is r^2 sin t (1 - cos t) / (n/2 r^2 sin t) = 2 (1 - cos t) / n, t = 2 pi / n."""
    for n in (5, 7, 12):
        W, b = henighan(n)
        s = series_of_arrays([0, 1], np.stack([W, W]), np.stack([b, b]), range(n))
        t = 2 * math.pi / n
        assert s.dim == pytest.approx(np.full((2, n), 2 / n), abs=1e-12)
        assert s.share == pytest.approx(np.full((2, n), 2 * (1 - math.cos(t)) / n), abs=1e-12)
        assert s.norm == pytest.approx(np.full((2, n), math.sqrt(1 / (1 - math.cos(t)))))
        assert s.dead_threshold == pytest.approx(DEAD_REL * math.sqrt(1 / (1 - math.cos(t))))


def test_a_dead_feature_at_one_over_n_fires_on_the_whole_shape():
    """The seed's failure: W_7 = 0, b_7 = 1/7 beside the hexagon: D_7 = 0, its zone is the whole shape (p_7 = 1/7
    > 0 everywhere) and the hexagon's features keep D = 2/6."""
    W6, b6 = henighan(6)
    W = np.hstack([W6, np.zeros((2, 1))])
    b = np.append(b6, 1 / 7)
    s = series_of_arrays([100], W[None], b[None], [0, 6])
    assert s.dim[0] == pytest.approx([2 / 6, 0.0], abs=1e-12)
    assert s.share[0, 1] == 1.0
    assert s.bias[0, 1] == pytest.approx(1 / 7) and s.inv_n == pytest.approx(1 / 7)
    assert s.dead()[0].tolist() == [False, True]


@pytest.mark.parametrize("m, untied", [(2, False), (2, True), (3, False), (4, True)])
@pytest.mark.slow
def test_vectorised_series_equal_the_per_snapshot_functions(m, untied):
    rng = np.random.default_rng(m + 10 * untied)
    T, n = 40, 9
    W = rng.normal(size=(T, m, n))
    b = rng.normal(scale=0.6, size=(T, n))
    M = rng.normal(size=(T, n, m)) if untied else None
    feats = [0, 4, 8]
    s = series_of_arrays(np.arange(T) * 10, W, b, feats, M)
    for t in range(T):
        sens = sensitivity(W[t], b[t], None if M is None else M[t])
        assert s.share[t] == pytest.approx(sens.sliver_share[feats], abs=1e-12, nan_ok=True)
        assert s.dim[t] == pytest.approx(geo.feature_dimensionality(W[t])[feats], abs=1e-12)
        Phi = function_vectors(W[t], None if M is None else M[t])[0]  # W tied
        norms = np.linalg.norm(Phi, axis=0)
        assert s.norm[t] == pytest.approx(norms[feats])
        assert s.dead_threshold[t] == pytest.approx(DEAD_REL * norms.max())
        assert s.norm_of == ("Phi" if untied else "W")
        dead = analyze(Snapshot(t, W[t], b[t], M=None if M is None else M[t])).dead_mask
        assert s.dead()[t].tolist() == dead[feats].tolist()


def test_sliver_share_of_a_half_plane_through_a_square():
    """The square (+-1, 0), (0, +-1) cut by x > 0.5 keeps the corner triangle of area 0.25: share 0.125; the
    zone normal flipped (x < 0.5) keeps the rest, 0.875."""
    W2 = np.array([[[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]]])
    A = np.array([[[1.0, 0.0], [-1.0, 0.0]]])
    c = np.array([[-0.5, 0.5]])
    assert sliver_shares(W2, A, c)[0] == pytest.approx([0.125, 0.875])


def test_a_feature_dying_at_step_3000():
    """Its norm falls below the dead threshold from step 3,000 + 100 ln(r7 / (DEAD_REL r6)) (about 3,244),
    its bias tends to 1/n, D_i to 0 and its sliver share to the whole shape; before, the closed forms of the 7-gon."""
    h = dying_history()
    s = feature_series(h, [0, 6])
    before = s.steps < DEATH
    assert s.dim[before, 1] == pytest.approx(2 / 7, abs=1e-6)
    assert s.share[before, 1] == pytest.approx(2 * (1 - math.cos(2 * math.pi / 7)) / 7, abs=1e-6)
    died = s.died_at(6)
    # dead when e^(-Δ/100) r7 < DEAD_REL r6 (the others are the 6-gon of radius r6 by then)
    r7, r6 = (math.sqrt(1 / (1 - math.cos(2 * math.pi / k))) for k in (7, 6))
    expect = DEATH + 100 * math.log(r7 / (DEAD_REL * r6))
    assert abs(died - expect) <= 50  # the recorded grid is every 50th step there
    assert s.died_at(0) is None
    late = s.steps > DEATH + 1500
    assert s.bias[late, 1] == pytest.approx(1 / 7, abs=1e-5)
    assert s.dim[late, 1] == pytest.approx(0.0, abs=1e-5)
    assert s.share[late, 1] == pytest.approx(1.0, abs=1e-6)
    assert np.all(s.norm[late, 1] < s.dead_threshold[late])


def test_the_tracker_computes_only_new_steps_and_follows_thinning():
    steps = np.arange(0, 5000, 10)
    h = dying_history(steps=steps[:300])
    tr = SeriesTracker()
    a = tr.update(h, [6])
    assert tr.computed_last == 300 and np.array_equal(a.steps, h.steps)
    assert tr.update(h, [6]) is a and tr.computed_last == 0  # nothing new: the same series
    full = dying_history(steps=steps)
    for s in steps[300:]:
        W = full.snapshot(step=int(s))
        h.append(int(s), W.W[None].astype(np.float32), W.b[None].astype(np.float32), np.array([0.1], np.float32))
    b = tr.update(h, [6])
    assert tr.computed_last == np.sum(~np.isin(h.steps, a.steps))  # only the steps not seen before
    ref = feature_series(h, [6])
    assert np.array_equal(b.steps, ref.steps)
    for key in ("norm", "bias", "dim", "share", "dead_threshold"):
        assert np.array_equal(getattr(b, key), getattr(ref, key)), key
    tr.update(h, [0, 6])  # other features: computed again
    assert tr.computed_last == len(h.steps)


def test_a_large_run_is_strided_to_its_work_budget():
    tr = SeriesTracker()
    tr.MAIN_WORK, tr.SHARE_WORK = 2 * 7 * 100, 7 * 25  # budgets for 100 and 25 steps of n = 7
    h = dying_history(steps=np.arange(0, 4000, 10))  # 400 steps
    s = tr.update(h, [6])
    assert tr.strides == (4, 16)
    assert len(s.steps) == 100 + 1 and s.steps[-1] == h.latest_step  # every 4th step, and the last
    assert np.array_equal(s.steps[:-1], h.steps[::4])
    fin = np.isfinite(s.share[:, 0])
    assert fin.sum() == 25 + 1 and s.steps[fin][-1] == h.latest_step


def test_bad_features_are_refused():
    W, b = henighan(5)
    with pytest.raises(ValueError, match="features must be from 1 to 5, got 6"):
        series_of_arrays([0], W[None], b[None], [5])
