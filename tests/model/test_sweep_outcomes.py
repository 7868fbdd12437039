"""Sweeps that mean something: every model's outcome, the failure rate against training length from the trace,
finding combinations counted from the stored masks, a cluster task's packing, and the file keeping all of it."""
import json

import numpy as np
import pytest

from model.analysis.analysis import FINDING_KINDS, analyze
from model.analysis.outcome import OUTCOMES, history_outcomes
from model.config import TrainConfig
from model.experiments.sweep import entry_arrays, entry_from_arrays, open_sweep, run_sweep, wilson_interval


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("sw") / "s.h5"
    sweep = run_sweep(TrainConfig(n=6, models=16, steps=3000, seed=40), out=out, threads=1)
    return sweep, out


def test_the_trace_is_the_verdict_grid_and_ends_with_the_final_verdicts(small):
    sweep, _ = small
    e = sweep.entries[0]
    assert e.trace_steps.tolist() == [1024, 1448, 2048, 2896, 3000] and e.step == 3000
    assert (e.trace_verdicts[-1] == e.verdicts).all()  # the last grid step is the final one
    assert set(e.outcomes) <= set(OUTCOMES)
    # the curve's counts are the trace's, with Wilson intervals of those counts
    for c, v in zip(e.failure_curve(), e.trace_verdicts, strict=True):
        f = int(np.sum(v != "perfect"))
        assert c["failures"] == f and c["ci95"] == pytest.approx(list(wilson_interval(f, e.K)))


def test_the_final_outcome_is_the_one_a_single_run_of_the_same_seed_gets(small):
    """Model k of the sweep is the single run with seed s + k: its recorded history (every step, a full budget)
    gives the same verdict and outcome at the final step."""
    from model.training.engine import Trainer

    sweep, _ = small
    e = sweep.entries[0]
    k = int(np.argmax(e.verdicts != "perfect")) if (e.verdicts != "perfect").any() else 0
    cfg = e.single_run_config(k)
    tr = Trainer(cfg, threads=1)
    tr.run()
    b = history_outcomes(tr.history, cfg)
    assert b.verdicts[0] == e.verdicts[k]
    assert b.kinds()[0] == e.outcomes[k]


def test_finding_combinations_are_the_analysis_failure_keys_counted(small):
    """Counted from the stored masks, the combinations equal the analysis's own failure_key of each model's final
    parameters, counted."""
    sweep, _ = small
    e = sweep.entries[0]
    combos = e.finding_combinations()
    assert sum(combos.values()) == e.K
    expect = {}
    for k in range(e.K):
        key = analyze(e.snapshot(k)).failure_key
        expect[key] = expect.get(key, 0) + 1
    assert combos == expect
    assert e.finding_names(0) == [x for x in FINDING_KINDS if x in analyze(e.snapshot(0)).finding_kinds]


def test_outcome_rates_and_the_per_model_list(small):
    sweep, _ = small
    e = sweep.entries[0]
    r = e.outcome_rates()
    kinds = e.outcomes
    for o in OUTCOMES:
        assert r[o]["count"] == int(np.sum(kinds == o))
        assert r[o]["ci95"] == pytest.approx(list(wilson_interval(r[o]["count"], e.K)))
    fail = e.verdicts != "perfect"
    assert r["failure_stuck"]["count"] + r["failure_moving"]["count"] == int(fail.sum())
    pm = e.per_model()
    assert [p["seed"] for p in pm] == [40 + k for k in range(e.K)]
    assert [p["outcome"] for p in pm] == list(kinds)
    json.dumps(e.summary(per_model=True), allow_nan=False)


def test_the_file_and_a_cluster_task_keep_the_trace_and_the_outcomes(small, tmp_path):
    sweep, out = small
    e = sweep.entries[0]
    back = open_sweep(out).entries[0]
    for name in ("trace_steps", "trace_findings", "trace_outcomes", "outcome", "outcome_reason"):
        assert np.array_equal(getattr(back, name), getattr(e, name)), name
    assert (back.trace_verdicts == e.trace_verdicts).all()
    assert [back.outcome_batch().text(k) for k in range(e.K)] == [e.outcome_batch().text(k) for k in range(e.K)]
    meta, arrays = entry_arrays(e)
    assert all(a.dtype != object for a in arrays.values())  # npz without pickle
    again = entry_from_arrays(e.config, e.grid, json.loads(json.dumps(meta)), arrays)
    assert (again.outcomes == e.outcomes).all() and again.failure_curve() == e.failure_curve()


def test_until_decided_ends_a_sweep_configuration_once_every_model_is_decided(tmp_path):
    """Henighan's n-gon from step 0 (init analytic): every model settled at the first judged step."""
    sweep = run_sweep(TrainConfig(n=6, models=4, steps=40_000, init="analytic", until_decided=True), threads=1)
    e = sweep.entries[0]
    assert e.step == 1024 and list(e.outcomes) == ["settled"] * 4 and not sweep.cancelled
    assert e.trace_steps.tolist() == [1024]


@pytest.mark.parametrize("where, data, words", [
    ("trace/outcome", "codes", "outcome has codes outside"),
    ("outcome/kind", "shape", "outcome/kind and reason need shape"),
    ("modes", "shape", "modes has shape"),
    ("outcome/ev_pace_t", "text", "ev_pace_t"),
])
def test_a_damaged_outcome_in_a_sweep_file_is_one_line(small, tmp_path, where, data, words):
    import shutil

    import h5py

    from model.storage.outfile import RunFileError

    _, out = small
    bad = tmp_path / "bad.h5"
    shutil.copy(out, bad)
    with h5py.File(bad, "r+") as f:
        c = f["configs/c0000"]
        old = c[where]
        shape = old.shape
        del c[where]
        if data == "codes":
            c.create_dataset(where, data=np.full(shape, 99, np.int8))
        elif data == "shape":
            c.create_dataset(where, data=np.zeros(3, np.int8))
        else:
            c.create_dataset(where, data=np.array(["x"] * shape[0], dtype="S1"))
    with pytest.raises(RunFileError) as exc:
        open_sweep(bad)
    msg = str(exc.value)
    assert words in msg and "\n" not in msg and str(bad) in msg
