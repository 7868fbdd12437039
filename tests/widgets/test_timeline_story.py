"""The timeline's story strip driven as a user drives it (pytest-qt): a run built by hand in which
feature 7 dies at a known step and the loss then settles on the closed form d(n-1)/n² = 6/49."""
import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt

from model.history import History
from model.init import henighan
from model.story import story_events
from widgets.timeline import StorySlider, Timeline

DEATH = 3000  # the step at which feature 7 dies
STEPS = np.concatenate([np.arange(0, 2000, 10), np.arange(2000, 20001, 100)])


def _dying_run() -> History:
    """n = 7: Henighan's solution (perfect, loss decaying to 0 as e^(-s/300)) before DEATH, then the
    seed's failure: feature 7 dead (W_7 = 0, b_7 = 1/7) beside the n = 6 hexagon, the loss
    approaching 6/49 from above (0.05 e^(-(s - DEATH)/300))."""
    W7, b7 = henighan(7)
    W6, b6 = henighan(6)
    Wf, bf = np.hstack([W6, np.zeros((2, 1))]), np.append(b6, 1 / 7)
    h = History(K=1, m=2, n=7, budget_bytes=50_000_000)
    for s in STEPS:
        if s < DEATH:
            W, b, loss = W7, b7, 0.05 * np.exp(-s / 300)
        else:
            W, b, loss = Wf, bf, 6 / 49 + 0.05 * np.exp(-(s - DEATH) / 300)
        h.append(int(s), W[None].astype(np.float32), b[None].astype(np.float32), np.array([loss], np.float32))
    return h


@pytest.fixture
def story(qtbot):
    h = _dying_run()
    tl = Timeline()
    qtbot.addWidget(tl)
    tl.resize(1000, 44)
    tl.show()
    qtbot.waitExposed(tl)
    tl.follow_live = False
    tl.set_steps(h.steps)
    events = story_events(h)
    for e in events:
        if e["kind"] == "diagnosis":
            e["color"] = "#00ff00" if e["verdict"] == "perfect" else "#ff0000"
    tl.set_events(events)
    steps, losses = h.losses(0)
    tl.slider.hover_text = lambda i: f"step {int(steps[i]):,} · loss {float(losses[i]):.6g}"
    return tl, h, events


@pytest.mark.slow
def test_story_events_of_the_dying_run(story):
    _tl, h, events = story
    diag = [(e["step"], e["verdict"], e["dead"]) for e in events if e["kind"] == "diagnosis"]
    assert diag == [(0, "perfect", []), (DEATH, "symmetric_failure", [7])]
    plateaus = [e for e in events if e["kind"] == "plateau"]
    # the last plateau: after the death, at 6/49 (the decay's excess 0.05 e^(-Δ/300) is below a
    # thousandth of 6/49 from Δ = 300 ln(0.05 / (6/49 · 1e-3)) ≈ 1,800 steps on; the recorded
    # grid is every 100th step there)
    assert DEATH + 1700 <= plateaus[-1]["step"] <= DEATH + 2000
    assert plateaus[-1]["level"] == pytest.approx(6 / 49, rel=1e-3)


@pytest.mark.slow
def test_plateau_marks_have_their_own_style_hover_text_and_jump(qtbot, story):
    tl, h, events = story
    sl: StorySlider = tl.slider
    plateau = [e for e in events if e["kind"] == "plateau"][-1]
    pi = h.index_at(plateau["step"])
    assert (pi, plateau["text"]) in sl.plateau_marks()
    assert all(not t.startswith("loss plateau") for _, t in sl.marks())  # not a verdict mark
    img = sl.grab().toImage()
    # the verdict strip is not broken by the plateau: red after the death on both sides of the mark
    y = sl.height() - 2
    for x in (sl.x_of(pi) - 8, sl.x_of(pi) + 8):
        c = img.pixelColor(x, y)
        assert (c.red(), c.green(), c.blue()) == (255, 0, 0)
    # its mark: the plateau colour at the top, where a verdict mark would be red or green
    col = StorySlider.PLATEAU_COLOR
    top = [img.pixelColor(x, 1).name() for x in range(sl.x_of(pi) - 3, sl.x_of(pi) + 4)]
    assert col in top
    death_i = h.index_at(DEATH)
    assert img.pixelColor(sl.x_of(death_i), 1).name() == "#ff0000"
    # hover: the step under the pointer, its loss, and the plateau's own line
    tip = sl.tooltip_at(sl.x_of(pi)).splitlines()
    assert tip[0] == f"step {int(h.steps[pi]):,} · loss {float(h.losses(0)[1][pi]):.6g}"
    assert plateau["text"] in tip and plateau["text"].startswith("loss plateau at 0.1224 from step ")
    # click 3 px beside the plateau mark: the timeline goes to the plateau's snapshot
    tl.go_start()
    asked = []
    tl.stepRequested.connect(asked.append)
    qtbot.mouseClick(sl, Qt.MouseButton.LeftButton, pos=QPoint(sl.x_of(pi) + 3, sl.height() // 2))
    assert tl.current_step == plateau["step"] and asked[-1] == plateau["step"]


@pytest.mark.slow
def test_clicking_the_death_mark_goes_to_the_step_the_feature_died(qtbot, story):
    tl, h, _events = story
    sl = tl.slider
    death_i = h.index_at(DEATH)
    assert (death_i, f"step {DEATH:,}: symmetric failure; dead: 7") in sl.marks()
    tl.go_end()
    qtbot.mouseClick(sl, Qt.MouseButton.LeftButton, pos=QPoint(sl.x_of(death_i) - 2, sl.height() // 2))
    assert tl.current_step == DEATH
    assert "symmetric failure; dead: 7" in sl.tooltip_at(sl.x_of(death_i))
    # the strip: green (perfect) before the death, red after
    img = sl.grab().toImage()
    y = sl.height() - 2
    assert img.pixelColor(sl.x_of(death_i // 2), y).name() == "#00ff00"
    assert img.pixelColor(sl.x_of((death_i + len(h) - 1) // 2), y).name() == "#ff0000"
