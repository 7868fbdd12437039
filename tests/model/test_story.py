"""model.analysis.story: when the diagnosis changed, on histories built by hand."""
import numpy as np
import pytest

from model.analysis.analysis import analyze
from model.analysis.story import diagnosis_events, stable_since
from model.history import History
from model.training.init import henighan


def _history(switch_at, steps):
    """n = 7: Henighan's solution (perfect) before step switch_at, the seed's symmetric failure
    (feature 7 dead, b_7 = 1/7, the others a hexagon) from it on."""
    W7, b7 = henighan(7)
    W6, b6 = henighan(6)
    Wf, bf = np.hstack([W6, np.zeros((2, 1))]), np.append(b6, 1 / 7)
    h = History(K=1, m=2, n=7, budget_bytes=10_000_000)
    for s in steps:
        W, b = (W7, b7) if s < switch_at else (Wf, bf)
        h.append(int(s), W[None].astype(np.float32), b[None].astype(np.float32), np.zeros(1, np.float32))
    return h


@pytest.mark.slow
@pytest.mark.parametrize("exhaustive_max", [10_000, 0])
def test_stable_since_finds_the_recorded_step_where_the_failure_began(exhaustive_max):
    steps = np.arange(0, 5000, 10)
    h = _history(3000, steps)
    s = stable_since(h, exhaustive_max=exhaustive_max)
    assert s.verdict == "symmetric_failure" and s.dead == [6]
    assert s.step == 3000 and s.changed_at == 2990 and s.first_recorded == 0
    assert s.method == ("exhaustive" if exhaustive_max else "coarse-to-fine")
    if not exhaustive_max:
        assert s.analysed < 40  # about 2 log2(500) checks, not 500
    assert "since step 3,000" in s.describe()
    # asked at a step before the switch: perfect since the first recorded step, never changed
    early = stable_since(h, step=1234, exhaustive_max=exhaustive_max)
    assert early.verdict == "perfect" and early.step == 0 and early.changed_at is None


def test_diagnosis_events_tell_the_story():
    h = _history(300, np.arange(0, 600, 50))
    ev = diagnosis_events(h)
    assert [(e["step"], e["verdict"]) for e in ev] == [(0, "perfect"), (300, "symmetric_failure")]
    assert ev[1]["dead"] == [7] and "dead: 7" in ev[1]["text"]


def test_empty_history_is_refused_in_words():
    h = History(K=1, m=2, n=3, budget_bytes=1_000_000)
    with pytest.raises(ValueError, match="no snapshot recorded yet"):
        stable_since(h)


# ------------------------------------------------------------------ loss plateaus
def _decay_drop_tail():
    """A loss built by hand: exponential decay 0.3 + e^(-s/200) until step 5,000, then a step drop to
    the seed's 6/49 (one dead feature of 7: d(n-1)/n²), flat to step 20,000. Recorded every step
    to 1,000, then every 50th (the history's dense-then-thinned grid)."""
    steps = np.concatenate([np.arange(0, 1000), np.arange(1000, 20001, 50)])
    loss = np.where(steps < 5000, 0.3 + np.exp(-steps / 200.0), 6 / 49)
    return steps, loss


def _closed_form_plateau_start(steps, floor, amp, tau, tol):
    """The first recorded step s whose doubling window [s, 2s] sees the decay move by less than tol:
    (L(s) - L(2s)) / L(s) = A e^(-s/τ)(1 - e^(-s/τ)) / (L∞ + A e^(-s/τ)) < tol (the decay is monotone,
    so its largest deviation over the window is at the window's end)."""
    s = np.arange(1, 100_000, dtype=np.float64)
    e = amp * np.exp(-s / tau)
    rel = e * (1 - np.exp(-s / tau)) / (floor + e)
    s_star = int(s[np.argmax(rel < tol)])
    return int(steps[np.searchsorted(steps, s_star)])


def test_loss_plateaus_on_a_hand_built_curve():
    from model.analysis.story import PLATEAU_REL_TOL, loss_plateaus

    steps, loss = _decay_drop_tail()
    ev = loss_plateaus(steps, loss)
    assert [e["kind"] for e in ev] == ["plateau", "plateau"]
    first, second = ev
    # the decay: flat from the closed form's step on, at its floor (to within the tolerance)
    assert first["step"] == _closed_form_plateau_start(steps, 0.3, 1.0, 200.0, PLATEAU_REL_TOL)
    assert abs(first["level"] - 0.3) < 0.3 * PLATEAU_REL_TOL
    assert first["change"] < PLATEAU_REL_TOL and first["margin"] > 0
    # the windows reaching over the drop moved: a new plateau at the drop, at 6/49
    assert second["step"] == 5000 and second["level"] == pytest.approx(6 / 49, rel=1e-12)
    assert second["change"] == 0 and second["margin"] is None  # exactly flat: infinitely far
    assert second["text"] == "loss plateau at 0.1224 from step 5,000"
    assert second["window"] == [5000, 10000]
    # no plateau is told twice: nothing between the two, nothing on the flat tail after 5,000
    assert first["step"] < 2500


def test_a_still_falling_loss_and_a_spike_are_not_plateaus():
    from model.analysis.story import loss_plateaus

    steps = np.arange(0, 20001, 10)
    # a power law falls by the same factor each doubling: never flat, however late
    assert loss_plateaus(steps, 1.0 / (1 + steps)) == []
    # a flat loss with one minibatch spike: the running median ignores it, one plateau
    loss = np.full(len(steps), 0.25)
    loss[700] = 0.9
    ev = loss_plateaus(steps, loss)
    assert [(e["step"], e["level"]) for e in ev] == [(0, 0.25)]
    # the tail the history does not cover twice over is undecided: no plateau claimed there
    late = np.where(steps < 15000, 1.0 - steps / 15000, 0.0)
    assert [e["step"] for e in loss_plateaus(steps, late)] == []


@pytest.mark.slow
def test_seeds_sgd_failure_plateaus_at_the_closed_form_loss():
    """The seed's symmetric failure (n = 7, SGD, no weight decay, seed 10): feature 1 dies, and the
    loss settles on d(n-1)/n² = 6/49 after the death; the plateau is marked after the death event."""
    from model.analysis.story import PLATEAU_REL_TOL, story_events
    from model.config import TrainConfig
    from model.training.engine import Trainer

    tr = Trainer(TrainConfig(n=7, optimizer="sgd", weight_decay=0.0, seed=10, steps=20_000), threads=1)
    tr.run()
    ev = story_events(tr.history, stride=50)
    death = [e for e in ev if e["kind"] == "diagnosis" and e["verdict"] == "symmetric_failure"]
    plateaus = [e for e in ev if e["kind"] == "plateau"]
    assert death and death[-1]["dead"] == [1]
    assert plateaus, ev
    last = plateaus[-1]
    assert last["step"] > death[-1]["step"]
    assert abs(last["level"] - 6 / 49) < PLATEAU_REL_TOL * 6 / 49
    assert last["text"].startswith("loss plateau at 0.1224 from step ")
    a = analyze(tr.history.snapshot(step=last["step"]))
    assert a.verdict == "symmetric_failure" and list(a.dead) == [0]
