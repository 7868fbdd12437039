"""Trained models against the seed's and the issue's measured facts.

These train real models (the compiled kernel makes 300 seeds x 20,000 steps
take a second or two) and check what the science says, not what the code
happened to print once.
"""
import numpy as np
import pytest

from model.analysis.analysis import analyze
from model.config import TrainConfig
from model.storage.runfile import RunWriter, open_run
from model.training.engine import Trainer, train
from model.training.recording import RunFileRecorder


def _train(**kw):
    return train(TrainConfig(**kw))


def test_n6_adamw_lr1e3_25000_steps_seed0_ends_perfect():
    tr = _train(n=6, m=2, optimizer="adamw", lr=1e-3, steps=25_000, seed=0)
    a = analyze(tr.history.snapshot())
    assert a.verdict == "perfect"
    assert a.loss < 1e-5


@pytest.mark.slow
def test_wiggle_room_perfect_models_are_not_regular_polygons():
    """50 n = 6 models after 25,000 AdamW steps: all perfect, radii vary ~13%
    (median), largest/smallest gap ~1.5: perfect must not demand regularity."""
    tr = _train(n=6, m=2, steps=25_000, models=50, seed=0)
    cvs, gaps = [], []
    for k in range(50):
        a = analyze(tr.history.snapshot(model=k))
        assert a.verdict == "perfect", (k, a.verdict)
        assert a.loss < 1e-5
        d = a.to_dict()["regularity"]
        cvs.append(d["radius_cv"])
        gaps.append(d["gap_ratio"])
    assert 0.05 < np.median(cvs) < 0.25
    assert 1.2 < np.median(gaps) < 2.0


@pytest.mark.parametrize("n, expected, low, high", [
    (7, 1, 0, 12),
    (8, 122, 85, 160),
    (10, 272, 245, 295),
])
@pytest.mark.slow
def test_failure_rates_of_300_seeds(n, expected, low, high):
    """Measured for the issue at K = 300, 20,000 steps: n=7 1/300, n=8 122/300,
    n=10 272/300. Our init draws other random numbers, so the band allows for
    sampling (about +-3 standard deviations of a binomial)."""
    tr = _train(n=n, m=2, steps=20_000, models=300, seed=0)
    verdicts = [analyze(tr.history.snapshot(model=k)).verdict for k in range(300)]
    failures = sum(v != "perfect" for v in verdicts)
    assert low <= failures <= high, (n, failures, expected)
    if n == 8:
        kinds = set(verdicts)
        assert {"asymmetric_failure", "two_circle_failure"} <= kinds


@pytest.mark.slow
def test_adamw_failures_with_a_dead_feature_are_weak_not_clean():
    """AdamW n = 8 failures with a dead feature: W_i small but not 0 and b_i > 0, not the seed's
    clean W = 0, b = 1/n (that one needs SGD without weight decay), beside irregular live features."""
    tr = _train(n=8, m=2, steps=20_000, models=100, seed=0)
    seen = 0
    for k in range(100):
        a = analyze(tr.history.snapshot(model=k))
        if a.verdict == "asymmetric_failure":
            seen += 1
            for f in a.finding("dead").evidence["features"]:
                assert f["norm"] < 0.2 and 0.05 < f["bias"] < 0.5 and not f["clean"]
            assert "irregular" in a.finding_kinds
        assert a.verdict != "symmetric_failure"
    assert seen > 5


def test_training_with_a_run_file_reopens_to_the_same_history(tmp_path):
    cfg = TrainConfig(n=7, steps=3000, models=4, seed=1)
    path = tmp_path / "run.h5"
    with RunWriter(path, cfg) as w:
        tr = Trainer(cfg, recorders=[RunFileRecorder(w)])
        tr.run()
    run = open_run(path)
    assert run.config == cfg
    h = run.history
    assert h.latest_step == 3000
    # every row in the file is one the in-memory history kept (or the latest)
    assert set(h.steps) <= set(tr.history.steps)
    for step in (0, 1, 100, 3000):
        for k in range(4):
            a, b = h.snapshot(step, model=k), tr.history.snapshot(step, model=k)
            assert a.step == b.step
            np.testing.assert_array_equal(a.W, b.W)
            np.testing.assert_array_equal(a.b, b.b)


@pytest.mark.slow
def test_weight_decay_slowly_pulls_perfect_models_onto_the_regular_polygon():
    """Measured: after 100,000 AdamW steps the median radius variation is ~0.02%
    and the gap ratio ~1.003 (against ~13% and ~1.5 at 25,000 steps)."""
    tr = _train(n=6, m=2, steps=100_000, models=50, seed=0)
    regs = [analyze(tr.history.snapshot(model=k)).to_dict()["regularity"] for k in range(50)]
    assert np.median([r["radius_cv"] for r in regs]) < 0.002
    assert np.median([r["gap_ratio"] for r in regs]) < 1.02


def test_sgd_seed10_is_the_seeds_clean_symmetric_failure():
    """SGD (momentum 0.9, no weight decay), n = 7, seed 10: six features on one circle, feature 1
    dead with b_1 = 1/7, loss 6/49 = d (n-1)/n^2: the seed's failure, and the tool says so."""
    a = analyze(_train(n=7, optimizer="sgd", weight_decay=0.0, seed=10).history.snapshot())
    assert a.verdict == "symmetric_failure"
    assert a.dead == [0]
    ev = a.finding("dead").evidence["features"][0]
    assert ev["clean"] and abs(ev["bias_diff"]) < 1e-5
    assert a.reference["applies"] and abs(a.reference["loss_diff"]) < 1e-6
    assert a.finding("regular").evidence["radius_ratio"] < 1 + 1e-5
    assert a.verdict_margins["regular"] > 3  # decades: nowhere near the threshold


@pytest.mark.parametrize("seed", [76, 915])
def test_adamw_n7_failures_are_a_weak_feature_beside_two_radii(seed):
    """The two AdamW n = 7 failures among seeds 0..999: a weak feature (|W| ~ 0.08, b ~ 0.28, not
    1/7) beside live features on two radii: asymmetric, not the seed's symmetric failure."""
    a = analyze(_train(n=7, seed=seed).history.snapshot())
    assert a.verdict == "asymmetric_failure"
    ev = a.finding("dead").evidence["features"][0]
    assert not ev["clean"] and 0.2 < ev["bias"] < 0.35 and 0.03 < ev["norm"] < 0.2
    assert "radius_groups" in a.finding_kinds and "irregular" in a.finding_kinds
    assert a.verdict_margins["regular"] > 0.5 and a.verdict_margins["dead"] > 0.3


@pytest.mark.slow
def test_untied_seed0_outputs_that_never_fire_are_the_failure():
    """Untied n = 7 seed 0 ends at loss 6/7: six outputs never fire, one per 1/n of loss."""
    a = analyze(_train(n=7, untied=True, seed=0).history.snapshot())
    assert len(a.dead_outputs) == 6 and a.dead == []
    assert a.loss == pytest.approx(6 / 7, abs=1e-6)
    assert a.reference["loss"] == pytest.approx(6 / 7) and abs(a.reference["loss_diff"]) < 1e-6
    assert a.verdict == "asymmetric_failure" and "never fire" in a.verdict_text
