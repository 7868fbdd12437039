"""The timeline's story strip driven as a user drives it (pytest-qt): a run built by hand in which
feature 7 dies at a known step and the loss then settles on the closed form d(n-1)/n² = 6/49."""
import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt

from model.analysis.story import story_events
from tests.widgets import DEATH
from tests.widgets import dying_run as _dying_run
from widgets.timeline import StorySlider, Timeline, axis_fractions


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


# ------------------------------------------------------------------ navigation for long runs
def test_the_axis_maps_steps_by_their_logarithm_by_default():
    steps = np.array([0, 9, 99, 999])
    assert axis_fractions(steps, "log") == pytest.approx([0, 1 / 3, 2 / 3, 1])  # log10(1 + step) / 3
    assert axis_fractions(steps, "step") == pytest.approx([0, 9 / 999, 99 / 999, 1])
    assert axis_fractions(steps, "snapshots") == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert axis_fractions([5], "log").tolist() == [0.0] and axis_fractions([], "step").tolist() == []
    with pytest.raises(ValueError, match="axis must be one of log, step, snapshots"):
        axis_fractions(steps, "time")
    assert Timeline().axis == "log"


def test_an_early_event_is_not_crammed_into_the_first_percent(qtbot):
    """A feature that dies at step 700 of 25,000 (every step recorded): on the linear axis its mark sits
    2.8% along the groove, on the log axis at log10(701) / log10(25,001) = 65%; each mark is MARK_PX wide."""
    tl = Timeline()
    qtbot.addWidget(tl)
    tl.resize(1400, 44)
    tl.show()
    qtbot.waitExposed(tl)
    tl.follow_live = False
    tl.set_steps(np.arange(0, 25_001))
    tl.set_events([{"step": 0, "text": "perfect", "color": "#00ff00"},
                   {"step": 700, "text": "symmetric failure; dead: 7", "color": "#ff0000"}])
    sl = tl.slider
    x0, span = sl._track()
    assert sl.x_of(700) == x0 + round(np.log10(701) / np.log10(25_001) * span)
    assert (sl.x_of(700) - x0) / span == pytest.approx(0.647, abs=0.002)
    img = sl.grab().toImage()
    red = [x for x in range(sl.width()) if img.pixelColor(x, 1).name() == "#ff0000"]
    assert len(red) >= StorySlider.MARK_PX >= 5 and min(red) <= sl.x_of(700) <= max(red)
    tl.set_axis("step")
    assert tl.axis_combo.currentData() == "step"
    assert (sl.x_of(700) - x0) / span == pytest.approx(0.028, abs=0.002)
    # the handle sits where the axis puts the current snapshot
    tl.set_axis("log")
    tl.go_to_step(700)
    assert sl._handle_rect().center().x() == pytest.approx(sl.x_of(700), abs=1)


@pytest.mark.slow
def test_a_marks_tooltip_stays_when_qt_asks_for_the_widgets_tooltip(qtbot, story):
    """Qt's delayed tooltip event used to replace the mark's text by the slider's generic tooltip."""
    from PyQt6.QtCore import QEvent
    from PyQt6.QtGui import QHelpEvent
    from PyQt6.QtWidgets import QApplication, QToolTip

    tl, h, _events = story
    sl = tl.slider
    x = sl.x_of(h.index_at(DEATH))
    pos = QPoint(x, sl.height() // 2)
    # the pointer's move (sent, not a real cursor move: Qt's own tooltip timer would fire later, after the test)
    from PyQt6.QtCore import QPointF
    from PyQt6.QtGui import QMouseEvent

    QApplication.sendEvent(sl, QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), QPointF(sl.mapToGlobal(pos)),
                                           Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                           Qt.KeyboardModifier.NoModifier))
    assert "symmetric failure; dead: 7" in QToolTip.text()  # shown by the move
    QApplication.sendEvent(sl, QHelpEvent(QEvent.Type.ToolTip, pos, sl.mapToGlobal(pos)))
    assert "symmetric failure; dead: 7" in QToolTip.text()
    assert "recorded snapshots" not in QToolTip.text()
    # away from the marks: the snapshot under the pointer and its loss, no mark
    away = QPoint(sl.x_of(h.index_at(DEATH // 2)), sl.height() // 2)
    QApplication.sendEvent(sl, QHelpEvent(QEvent.Type.ToolTip, away, sl.mapToGlobal(away)))
    under = int(h.steps[sl.value_at(away.x())])
    assert abs(sl.x_of(h.index_at(under)) - away.x()) <= 1
    assert QToolTip.text() == f"step {under:,} · loss {float(h.losses(0)[1][h.index_at(under)]):.6g}"
    QToolTip.hideText()  # it fades out on a timer: its label is closed now, not left for the next test
    for w in QApplication.topLevelWidgets():
        if w.objectName() == "qtooltip_label":
            w.hide()
    assert not QToolTip.isVisible()


@pytest.mark.slow
def test_page_up_and_down_move_a_tenth_of_the_snapshots(qtbot, story):
    tl, h, _events = story
    N = len(h)
    page = round(0.1 * N)
    assert tl.page_size() == page == 38
    tl.go_start()
    qtbot.keyClick(tl, Qt.Key.Key_PageDown)
    assert tl.current_index == page
    qtbot.keyClick(tl, Qt.Key.Key_PageDown)
    assert tl.current_index == 2 * page
    qtbot.keyClick(tl, Qt.Key.Key_PageUp)
    assert tl.current_index == page
    qtbot.keyClick(tl, Qt.Key.Key_PageUp)
    qtbot.keyClick(tl, Qt.Key.Key_PageUp)
    assert tl.current_index == 0  # clamped at the start
    tl.go_end()
    qtbot.keyClick(tl, Qt.Key.Key_PageDown)
    assert tl.current_index == N - 1


@pytest.mark.slow
def test_next_and_previous_event_keys_visit_the_story_in_order(qtbot, story):
    tl, h, events = story
    stops = sorted({h.index_at(e["step"]) for e in events})
    assert stops[0] == 0 and h.index_at(DEATH) in stops and len(stops) >= 3
    tl.go_start()
    asked = []
    tl.stepRequested.connect(asked.append)
    for _ in stops[1:]:
        qtbot.keyClick(tl, Qt.Key.Key_N)
    assert [h.index_at(s) for s in asked] == stops[1:]
    qtbot.keyClick(tl, Qt.Key.Key_N)  # after the last event: nothing
    assert len(asked) == len(stops) - 1
    qtbot.keyClick(tl, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)
    assert tl.current_index == stops[-2]
    qtbot.keyClick(tl, Qt.Key.Key_BracketLeft)
    assert tl.current_index == stops[-3]
    qtbot.keyClick(tl, Qt.Key.Key_BracketRight)
    assert tl.current_index == stops[-2]
    # between two events, the previous one is the one before the position
    tl.go_to_step(DEATH + 100)
    tl.prev_event()
    assert tl.current_step == DEATH


@pytest.mark.slow
def test_the_event_list_names_each_event_and_a_double_click_goes_there(qtbot, story):
    tl, h, events = story
    el = tl.toggle_event_list()
    assert el.isVisible()
    t = el.table
    assert t.rowCount() == len(events)
    rows = [(t.item(r, 0).text(), t.item(r, 1).text()) for r in range(t.rowCount())]
    assert (f"{DEATH:,}", "symmetric failure; dead: 7") in rows
    r = [e["step"] for e in events].index(DEATH)
    tl.go_start()
    qtbot.waitExposed(el)
    rect = t.visualItemRect(t.item(r, 1))
    # a double-click as Qt delivers it: press, release, then the double-click event
    qtbot.mouseClick(t.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert tl.current_step == 0  # one click only selects the row
    qtbot.mouseDClick(t.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert tl.current_step == DEATH and not tl.follow_live
    assert t.currentRow() == r  # the current event is the selected row
    tl.toggle_event_list()
    assert not el.isVisible()


def _fake_clock(tl):
    clock = [50.0]
    tl.clock = lambda: clock[0]
    return clock


def _play_for(tl, clock, seconds, fps):
    """Playback ticks at ``fps`` frames a second (a slow redraw) for ``seconds`` of the fake clock."""
    for _ in range(int(round(seconds * fps))):
        clock[0] += 1 / fps
        tl.tick()


@pytest.mark.parametrize("rate, fps", [(60, 20), (240, 20), (60, 60), (10, 60)])
def test_playback_keeps_its_labelled_rate_by_skipping_frames(qtbot, rate, fps):
    """'60/s' advances 60 snapshots a second even when only 20 frames a second are drawn: frames
    shown against snapshots advanced, counted on a fake clock."""
    tl = Timeline()
    qtbot.addWidget(tl)
    tl.follow_live = False
    tl.set_steps(np.arange(0, 5000))
    tl.go_start()
    clock = _fake_clock(tl)
    tl.speed = rate
    assert tl.speed_combo.currentText() == f"{rate}/s"
    asked = []
    tl.stepRequested.connect(asked.append)
    tl.play()
    _play_for(tl, clock, 2.0, fps)
    st = tl.playback_stats()
    assert st["seconds"] == pytest.approx(2.0)
    assert st["snapshots"] == 2 * rate and tl.current_index == 2 * rate
    assert st["frames"] == len(asked) == min(2 * fps, 2 * rate)  # one frame a tick at most
    assert st["snapshots_per_s"] == pytest.approx(rate)
    tl.pause()


def test_log_time_playback_multiplies_the_step(qtbot):
    """step ×2/s: (1 + step) doubles every second, whatever the frame rate."""
    tl = Timeline()
    qtbot.addWidget(tl)
    tl.follow_live = False
    tl.set_steps(np.arange(0, 100_001, 1))
    tl.go_to_step(99)
    clock = _fake_clock(tl)
    tl.set_rate("log", 2.0)
    assert tl.speed_combo.currentText() == "step ×2/s" and tl.rate == ("log", 2.0) and tl.speed == 0
    tl.play()
    _play_for(tl, clock, 1.0, 15)
    assert tl.current_step == 199  # (1 + 99) * 2 - 1
    _play_for(tl, clock, 3.0, 15)
    assert tl.current_step == 1599  # (1 + 99) * 2^4 - 1
    tl.pause()
    with pytest.raises(ValueError, match="above 1"):
        tl.set_rate("log", 1.0)


@pytest.mark.slow
def test_play_to_the_next_event_stops_there(qtbot, story):
    tl, h, _events = story
    tl.go_to_step(DEATH - 500)
    clock = _fake_clock(tl)
    tl.speed = 240
    qtbot.keyClick(tl, Qt.Key.Key_P)
    assert tl.playing
    _play_for(tl, clock, 5.0, 30)
    assert not tl.playing and tl.current_step == DEATH


def test_playback_loops_on_the_clock(qtbot):
    tl = Timeline()
    qtbot.addWidget(tl)
    tl.follow_live = False
    tl.set_steps(np.arange(0, 30))
    tl.loop = True
    clock = _fake_clock(tl)
    tl.speed = 60
    tl.go_start()
    asked = []
    tl.stepRequested.connect(asked.append)
    tl.play()
    _play_for(tl, clock, 1.0, 60)
    assert tl.playing and 29 in asked and asked[asked.index(29) + 1] == 0  # the last frame, then the first
    tl.pause()
