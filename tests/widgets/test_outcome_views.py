"""The outcome in the views: the timeline's outcome strip (colour per outcome, the outcome in the hover text)
and the verdict panel's "verdict, outcome" title with its evidence line, driven by model.analysis.story's outcome events
of a real history (the seed's SGD failure trained from its limit point: stuck)."""
import itertools

import numpy as np
import pytest

from model.analysis.story import story_events
from model.config import TrainConfig
from model.training.engine import Trainer
from tests.widgets import framed, make_frame, show, symmetric_failure_snapshot
from widgets.timeline import StorySlider, Timeline
from widgets.verdict_panel import VerdictPanel


@pytest.fixture(scope="module")
def sgd_failure():
    """SGD (the seed's: momentum 0.9, lr 1e-3) from the n = 7 limit point (feature 1 dead, the other six an exact
    hexagon of r^2 = 2, b = -1) plus 1e-3 noise, 20,000 steps."""
    ang = np.arange(6) * 2 * np.pi / 6
    W = np.zeros((2, 7))
    W[:, 1:] = np.sqrt(2.0) * np.stack([np.cos(ang), np.sin(ang)])
    b = np.full(7, -1.0)
    b[0] = 1 / 7
    rng = np.random.default_rng(3)
    W, b = W + 1e-3 * rng.standard_normal(W.shape), b + 1e-3 * rng.standard_normal(b.shape)
    cfg = TrainConfig(n=7, optimizer="sgd", momentum=0.9, weight_decay=0.0, lr=1e-3, steps=20_000,
                      history_budget_mb=4)
    tr = Trainer(cfg, initial=(W.astype(np.float32)[None], b.astype(np.float32)[None], None), threads=1)
    tr.run()
    return cfg, tr.history


@pytest.mark.slow
def test_story_tells_the_outcome_and_the_timeline_draws_it(qtbot, sgd_failure):
    cfg, h = sgd_failure
    events = story_events(h, 0, True, max(1, len(h) // 200), cfg)  # the window's stride
    outs = [e for e in events if e["kind"] == "outcome"]
    assert outs and outs[-1]["outcome"] == "stuck" and outs[-1]["judged_at"] == h.latest_step
    assert all(a["outcome"] != b["outcome"] for a, b in itertools.pairwise(outs))  # an event where it changed
    assert outs[0]["step"] >= 1024  # nothing is judged before its window [s/2, s] is recorded
    tl = Timeline()
    qtbot.addWidget(tl)
    tl.resize(1000, 44)
    tl.show()
    qtbot.waitExposed(tl)
    tl.follow_live = False
    tl.set_steps(h.steps)
    tl.set_events(events)
    sl: StorySlider = tl.slider
    assert [o for _i, o, _t in sl.outcomes()] == [e["outcome"] for e in outs]
    img = sl.grab().toImage()
    y = sl.height() - StorySlider.STRIP_PX - 2  # inside the outcome strip, above the verdict strip
    last = (sl.x_of(h.index_at(outs[-1]["step"])) + sl.x_of(sl.maximum())) // 2  # inside the stuck stretch
    assert img.pixelColor(last, y).name() == StorySlider.OUTCOME_COLORS["stuck"]
    first = sl.x_of(h.index_at(outs[0]["step"]))
    if first > sl.x_of(0) + 3:  # before the first judged step: no outcome drawn
        assert img.pixelColor(sl.x_of(0) + 1, y).name() not in StorySlider.OUTCOME_COLORS.values()
    assert "outcome stuck:" in sl.tooltip_at(last)


def test_the_verdict_panel_says_the_outcome_and_why(qtbot):
    v = show(qtbot, VerdictPanel())
    s = symmetric_failure_snapshot(step=200)
    ctx = make_frame(s, outcome={"kind": "outcome", "step": 200, "outcome": "stuck",
                                 "text": "stuck: no failing feature is predicted to be repaired"})
    v.set_frame(framed(s, ctx))
    assert v.title.text().startswith("Symmetric failure, stuck: ")
    assert "outcome (judged at step 200): stuck: no failing feature" in v.text()
    v.set_frame(make_frame(s))  # no outcome known (before the first judged step): the verdict alone
    assert v.title.text().startswith("Symmetric failure: ") and "outcome" not in v.text()
