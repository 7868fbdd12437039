"""model.story: when the diagnosis changed, on histories built by hand."""
import numpy as np
import pytest

from model.history import History
from model.init import henighan
from model.story import diagnosis_events, stable_since


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
