"""Non-finite parameters are a state of a model at a step (issue 21, item 1): the snapshot says
so and where, no writer writes them unmarked, the readers name the last finite step, and the
story and the explorer treat them as a diagnosis of their own instead of analysing NaN.

The models are built by hand: Henighan's n-gon (W_i = r(cos 2πi/n, sin 2πi/n), r² = 1/(1 − cos 2π/n),
b_i = −r² cos 2π/n: every feature reconstructed, verdict perfect) with NaN or inf put in."""
from __future__ import annotations

import numpy as np
import pytest

from model.config import TrainConfig
from model.history import History
from model.snapshot import NOT_FINITE, NOT_FINITE_TEXT, Snapshot, nonfinite_text
from model.storage.runfile import RunFileError, load_snapshot, open_run, save_run


def henighan(n: int = 7):
    th = 2 * np.pi * np.arange(n) / n
    r2 = 1.0 / (1.0 - np.cos(2 * np.pi / n))
    W = np.sqrt(r2) * np.vstack([np.cos(th), np.sin(th)])
    b = np.full(n, -r2 * np.cos(2 * np.pi / n))
    return W, b


def test_the_closed_form_is_perfect_and_finite():
    from model.analysis.analysis import analyze

    W, b = henighan(7)
    s = Snapshot(0, W, b)
    assert s.finite and nonfinite_text(s) is None
    assert analyze(s).verdict == "perfect"


@pytest.mark.parametrize("where, expect", [
    ({"W": [(0, 2), (1, 3)], "vals": [np.inf, -np.inf]}, "W of features 3-4 is inf/-inf"),
    ({"b": [6], "vals": [np.nan]}, "b_7 is NaN"),
    ({"b": [0, 1, 2, 6], "vals": [np.nan] * 4}, "b of features 1-3, 7 are NaN"),
    ({"W": [(1, 0)], "b": [4], "vals": [np.nan, np.inf]}, "W of feature 1 is NaN; b_5 is inf"),
])
def test_a_snapshot_says_where_it_is_not_finite(where, expect):
    W, b = henighan(7)
    vals = list(where["vals"])
    for i, j in where.get("W", []):
        W[i, j] = vals.pop(0)
    for j in where.get("b", []):
        b[j] = vals.pop(0)
    s = Snapshot(3, W, b)
    assert not s.finite
    assert nonfinite_text(s) == expect


def test_an_untied_decoder_that_is_not_finite_is_named():
    W, b = henighan(5)
    M = W.T.copy()
    M[2, 1] = np.nan
    s = Snapshot(1, W, b, M=M)
    assert not s.finite and nonfinite_text(s) == "M of feature 3 is NaN"


def _history(K: int, rows: int, bad: dict) -> History:
    """K Henighan models over ``rows`` steps; bad = {(row, model): ("W" | "b", value)}."""
    W, b = henighan(7)
    h = History(K, 2, 7, budget_bytes=2**20)
    for r in range(rows):
        Wk = np.repeat(W[None], K, 0).astype(np.float32)
        bk = np.repeat(b[None], K, 0).astype(np.float32)
        for (row, k), (what, v) in bad.items():
            if row == r:
                if what == "W":
                    Wk[k, 0, 4] = v
                else:
                    bk[k, 0] = v
        h.append(r, Wk, bk, np.zeros(K))
    return h


def test_the_writer_marks_each_model_at_its_first_non_finite_row(tmp_path):
    """save_run (a RunWriter) writes rows with NaN or inf only with the model marked halted at the
    first of them; the readers then serve its last finite snapshot, as for training that diverged."""
    cfg = TrainConfig(n=7, models=3, steps=10)
    bad = {(3, 1): ("W", np.nan), (4, 1): ("W", np.nan), (4, 2): ("b", np.inf)}
    h = _history(3, 6, bad)
    assert list(h.halted) == [-1, -1, -1]  # the history itself was never told
    p = save_run(tmp_path / "r.h5", cfg, h)
    run = open_run(p)
    assert list(run.history.halted) == [-1, 3, 4]
    s1 = run.history.snapshot(model=1)
    assert s1.finite and s1.step == 2
    s2 = run.history.snapshot(model=2)
    assert s2.finite and s2.step == 3
    s0 = run.history.snapshot(model=0)
    assert s0.finite and s0.step == 5


def test_a_run_whose_only_row_is_not_finite_is_refused_as_a_start_naming_where(tmp_path):
    cfg = TrainConfig(n=7, steps=10)
    h = _history(1, 1, {(0, 0): ("W", np.inf)})
    p = save_run(tmp_path / "inf.h5", cfg, h)
    assert list(open_run(p).history.halted) == [0]
    snap = open_run(p).history.snapshot()
    assert not snap.finite  # no finite row to fall back to: served as it is, and says so
    with pytest.raises(RunFileError) as e:
        load_snapshot(p)
    msg = str(e.value)
    assert "inf.h5" in msg and "model 0 is not finite at step 0 (W of feature 5 is inf)" in msg
    assert "no recorded step before it is finite" in msg and "\n" not in msg


def test_last_finite_step_names_the_step_a_reader_can_use():
    h = _history(2, 8, {(r, 0): ("W", np.nan) for r in (3, 4, 5)})
    assert h.last_finite_step(0) == 7
    assert h.last_finite_step(0, 5) == 2
    assert h.last_finite_step(0, 2) == 2
    assert h.last_finite_step(1, 4) == 4
    assert _history(1, 2, {(0, 0): ("b", np.nan), (1, 0): ("b", np.nan)}).last_finite_step(0) is None


def test_the_story_makes_non_finite_rows_a_diagnosis_of_their_own():
    """A model NaN at rows 3-5 and finite (perfect) again after: stable_since at a finite step after
    the NaN rows stops at them, and the events name them, without analysing NaN."""
    from model.analysis.story import diagnosis_events, stable_since

    h = _history(1, 10, {(r, 0): ("W", np.nan) for r in (3, 4, 5)})
    since = stable_since(h, 9)
    assert (since.step, since.changed_at, since.verdict) == (6, 5, "perfect")
    events = diagnosis_events(h)
    assert [(e["step"], e["verdict"]) for e in events] == [(0, "perfect"), (3, NOT_FINITE), (6, "perfect")]
    assert events[1]["text"] == "not finite"
    at_nan = stable_since(h, 4)
    assert (at_nan.step, at_nan.verdict, at_nan.dead) == (3, NOT_FINITE, [])


def test_a_frame_that_is_not_finite_has_no_analysis_and_says_where():
    from model.analysis.explorer import ExplorerState

    h = _history(2, 6, {(5, 1): ("b", np.nan), (2, 0): ("W", -np.inf)})
    s = ExplorerState()
    s.load(TrainConfig(n=7, models=2, steps=5), h)
    fr = s.frame_at(2)
    assert fr.snapshot.step == 2 and fr.analysis is None and not fr.pending
    assert fr.nonfinite == "W of feature 5 is -inf"
    fin = s.frame_at(3)
    assert fin.nonfinite is None and fin.analysis.verdict == "perfect"
    assert s.model_verdicts() == ["perfect", NOT_FINITE]
    assert NOT_FINITE_TEXT == "not finite at this step"
