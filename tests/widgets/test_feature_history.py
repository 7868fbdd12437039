"""The feature-history view (pytest-qt): a hand-built run in which feature 7 dies at step 3,000 (W_7 = 0 and
b_7 = 1/7 from then on, beside the n = 6 hexagon), drawn, scrubbed with its cursor and exported."""
import math
import os

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QPointF, Qt

from model.analysis.analysis import DEAD_REL
from model.analysis.story import story_events
from model.snapshot import Snapshot
from tests.widgets import DEATH, dying_run, framed, make_frame, show
from widgets.feature_history import (
    FEATURES_MAX,
    FeatureHistoryView,
    HistorySettings,
    chosen_features,
    event_label,
    step_x,
    x_step,
)
from widgets.verdict_panel import dress_story

R7 = math.sqrt(1 / (1 - math.cos(2 * math.pi / 7)))


def _ctx(h, snap, selected=(), story=None):
    return make_frame(snap, selected=frozenset(selected), history=h, story=story or ())


@pytest.fixture
def run():
    h = dying_run()
    return h, dress_story(story_events(h))


@pytest.fixture
def view(qtbot, run):
    h, story = run
    v = show(qtbot, FeatureHistoryView(), (1100, 640))
    snap = h.snapshot(step=5000)
    v.set_frame(framed(snap, _ctx(h, snap, {6}, story)))
    return v


@pytest.mark.slow
def test_the_series_of_the_dying_feature(view, run):
    """|W_7| falls below the dead threshold exactly at step 3,000; b_7 is 1/7 from then on; D_7 goes from 2/7
    (the 7-gon) to 0; its sliver share from the 7-gon's triangle 2 (1 - cos 2pi/7) / 7 to the whole shape."""
    h, _story = run
    s = view.series
    assert view.features == [6] and s.features.tolist() == [6]
    assert np.array_equal(s.steps, h.steps)
    assert s.died_at(6) == DEATH
    before, after = s.steps < DEATH, s.steps >= DEATH
    assert np.all(s.norm[before, 0] > s.dead_threshold[before]) and np.all(s.norm[after, 0] < s.dead_threshold[after])
    assert s.norm[before, 0] == pytest.approx(R7, rel=1e-6)
    assert s.dead_threshold[before] == pytest.approx(DEAD_REL * R7, rel=1e-6)
    assert s.bias[after, 0] == pytest.approx(1 / 7, rel=1e-6)
    assert s.dim[before, 0] == pytest.approx(2 / 7, rel=1e-6) and np.all(s.dim[after, 0] == 0)
    assert s.share[before, 0] == pytest.approx(2 * (1 - math.cos(2 * math.pi / 7)) / 7, rel=1e-5)
    assert np.all(s.share[after, 0] == 1.0)


@pytest.mark.slow
def test_what_is_drawn(view, run):
    """The curves hold the series on the log axis; the dead threshold and 1/n are drawn; the cursor sits on the
    shown step."""
    h, story = run
    s = view.series
    x, y = view.curves["norm"][0].getData()
    assert x == pytest.approx(np.log10(1 + s.steps)) and y == pytest.approx(s.norm[:, 0])
    xb, yb = view.curves["bias"][0].getData()
    assert yb[-1] == pytest.approx(1 / 7, rel=1e-6)
    assert view.inv_n.value() == pytest.approx(1 / 7)
    tx, ty = view.threshold.getData()
    assert ty == pytest.approx(s.dead_threshold)
    # the feature's own colour
    assert view.curves["norm"][0].opts["pen"].color().name() == "#e377c2"
    assert view.cursor_step() == 5000
    for cur in view.cursors.values():
        assert cur.value() == pytest.approx(math.log10(5001))
    # the story: a line per event in each panel, labels at the top of the |W_i| panel
    lines = [it for _p, it in view._event_items if not hasattr(it, "textItem")]
    assert len(lines) == 4 * len(story)
    labels = [it.textItem.toPlainText() for _p, it in view._event_items if hasattr(it, "textItem")]
    assert "dead: 7" in labels and "initial" in labels
    death = [it for it in lines if it.value() == pytest.approx(math.log10(1 + DEATH))]
    assert len(death) == 4 and all(it.pen.color().name() == "#d62728" for it in death)


@pytest.mark.slow
def test_the_log_axis_and_the_linear_one(view, run):
    h, _ = run
    assert step_x([0, 9, 99, 999], "log") == pytest.approx([0, 1, 2, 3])
    assert [x_step(v, "log") for v in (0, 1, 2, 3)] == [0, 9, 99, 999]
    ax = view.plots["norm"].getAxis("bottom")
    assert ax.tickStrings([math.log10(1001), math.log10(11)], 1, 1) == ["1,000", "10"]
    view.set_settings(HistorySettings(axis="linear"))
    x, _y = view.curves["norm"][0].getData()
    assert x == pytest.approx(view.series.steps.astype(float))
    assert view.cursors["norm"].value() == 5000 and ax.axis == "linear"
    view.set_settings(HistorySettings(axis="log", show_events=False))
    assert view._event_items == []


def _drag(qtbot, view, key, x_from, x_to):
    """Drag the cursor of panel ``key`` from plot x to plot x, as the mouse does."""
    from PyQt6.QtGui import QMouseEvent
    from PyQt6.QtWidgets import QApplication

    vb = view.plots[key].getViewBox()
    y = sum(vb.viewRange()[1]) / 2
    vp = view.glw.viewport()

    def at(x):
        return QPointF(view.glw.mapFromScene(vb.mapViewToScene(QPointF(x, y))))

    def send(kind, x, buttons):
        ev = QMouseEvent(kind, at(x), vp.mapToGlobal(at(x)), Qt.MouseButton.LeftButton, buttons,
                         Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(vp, ev)

    from PyQt6.QtCore import QEvent

    send(QEvent.Type.MouseButtonPress, x_from, Qt.MouseButton.LeftButton)
    for f in np.linspace(0, 1, 6)[1:]:
        send(QEvent.Type.MouseMove, x_from + f * (x_to - x_from), Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseButtonRelease, x_to, Qt.MouseButton.NoButton)


@pytest.mark.slow
def test_dragging_the_cursor_asks_for_steps(qtbot, view):
    asked = []
    view.stepRequested.connect(asked.append)
    _drag(qtbot, view, "dim", math.log10(5001), math.log10(1 + DEATH))
    assert asked, "no step asked for while dragging"
    assert asked[-1] == pytest.approx(DEATH, rel=0.02)  # within a pixel of the log axis
    assert asked == sorted(asked, reverse=True)  # dragged towards the start
    # every panel's cursor followed
    assert len({round(c.value(), 9) for c in view.cursors.values()}) == 1


@pytest.mark.slow
def test_a_click_in_a_panel_asks_for_that_step(qtbot, view):
    vb = view.plots["share"].getViewBox()
    y = sum(vb.viewRange()[1]) / 2
    p = view.glw.mapFromScene(vb.mapViewToScene(QPointF(math.log10(1 + 700), y)))
    with qtbot.waitSignal(view.stepRequested, timeout=1000) as sig:
        qtbot.mouseClick(view.glw.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(p.x(), p.y()))
    assert sig.args[0] == pytest.approx(700, rel=0.02)


def test_which_features_are_drawn():
    assert chosen_features(7, []) == (list(range(7)), "all")
    assert chosen_features(7, [6, 2])[0] == [2, 6]
    assert chosen_features(30, list(range(12)))[0] == list(range(FEATURES_MAX))
    norms = np.ones(30)
    norms[[17, 4]] = [0.0, 0.05]
    feats, why = chosen_features(30, [], norms)
    assert feats[:2] == [17, 4] and len(feats) == FEATURES_MAX and "weakest" in why
    assert event_label("symmetric failure; dead: 7") == "dead: 7"
    assert event_label("initial parameters (as initialised: merged failure)") == "initial"


@pytest.mark.slow
def test_scrubbing_moves_only_the_cursor(qtbot, view, run):
    """While the frame moves, the curves stay (the same series object, no setData)."""
    h, story = run
    drawn = view._drawn
    calls = []
    view.curves["norm"][0].setData = lambda *a, **k: calls.append(1)
    for step in (100, 2000, 9000):
        snap = h.snapshot(step=step)
        view.set_frame(framed(snap, _ctx(h, snap, {6}, story)))
        assert view.cursor_step() == step
    assert view._drawn is drawn and calls == []


def test_no_history_says_so(qtbot):
    v = show(qtbot, FeatureHistoryView())
    snap = Snapshot(10, np.eye(2, 5), np.zeros(5), loss=0.1)
    v.set_frame(make_frame(snap))
    assert "no recorded history" in v.note.text()
    v.set_frame(None)
    assert v.series is None


@pytest.mark.slow
def test_the_window_docks_it_and_its_cursor_scrubs_the_session(qtbot, tmp_path):
    from app.gui.main_window import MainWindow
    from model.config import TrainConfig
    from model.storage.runfile import save_run

    path = tmp_path / "dying.h5"
    save_run(path, TrainConfig(n=7, steps=20_000), dying_run())
    w = MainWindow(autostart=False, restore=False)
    qtbot.addWidget(w)
    w.show()
    try:
        assert w.open_run(str(path))
        w.docks["history"].raise_()
        qtbot.waitUntil(lambda: w.views["history"].series is not None, timeout=5000)
        hv = w.views["history"]
        assert hv.features == list(range(7))  # nothing selected, n = 7: all of them
        qtbot.waitUntil(lambda: any("dead: 7" in e["text"] for e in w.timeline.events()), timeout=20000)
        w.redraw()
        assert any(hasattr(it, "textItem") and it.textItem.toPlainText() == "dead: 7" for _p, it in hv._event_items)
        hv.stepRequested.emit(DEATH)  # what a drag of the cursor sends
        qtbot.waitUntil(lambda: w.session.frame().snapshot.step == DEATH, timeout=3000)
        assert w.timeline.current_step == DEATH and not w.session.follow_live
        w.redraw()
        assert hv.cursor_step() == DEATH
        # the export dialog offers the view and draws it
        w.export_figure_action.trigger()
        d = w.dialogs[-1]
        d.view.setCurrentIndex(d.view.findText("Feature history"))
        assert d.panels() == ("history",)
        d.path.setText(str(tmp_path / "history.png"))
        out = d.export()
        assert out is not None and out.exists(), d.message.text()
        from PyQt6.QtGui import QImage

        img = QImage(str(out))
        assert img.width() > 100 and img.pixelColor(img.width() // 2, img.height() // 2).isValid()
    finally:
        w.close()


@pytest.mark.slow
def test_export_from_the_command_line(qapp, tmp_path, monkeypatch, capsys):
    """main.py export RUN --view history --select 1,7 to PNG, SVG and PDF, read back by Qt, librsvg and poppler."""
    import shutil
    import subprocess

    from PyQt6.QtGui import QImage

    from app.cli import main
    from model.config import TrainConfig
    from model.storage.runfile import save_run

    monkeypatch.setenv("QT_QPA_PLATFORM", os.environ.get("QT_QPA_PLATFORM", "xcb"))
    run = tmp_path / "dying.h5"
    save_run(run, TrainConfig(n=7, steps=20_000), dying_run())
    out = tmp_path / "h.png"
    assert main(["export", str(run), "--view", "history", "--select", "1,7", "--step", "5000", "--size", "900x600",
                 "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out

    def colours(img):
        img = img.convertToFormat(QImage.Format.Format_RGB32)
        a = np.frombuffer(img.constBits().asstring(img.sizeInBytes()), np.uint8).reshape(img.height(), -1, 4)
        rgb = a[:, : img.width(), 2::-1].astype(int)
        return {name: int((np.abs(rgb - c).sum(axis=2) < 40).sum()) for name, c in
                (("blue 1", (31, 119, 180)), ("pink 7", (227, 119, 194)), ("orange 2", (255, 127, 14)))}

    got = colours(QImage(str(out)))
    assert got["blue 1"] > 300 and got["pink 7"] > 300  # the two curves (and their legend swatches)
    for fmt, tool, cmd in (("svg", "rsvg-convert", ["rsvg-convert", "-b", "white", "-o", "{png}", "{src}"]),
                           ("pdf", "pdftoppm", ["pdftoppm", "-r", "96", "-png", "-singlefile", "{src}", "{stem}"])):
        src = tmp_path / f"h.{fmt}"
        assert main(["export", str(run), "--view", "history", "--select", "1,7", "--set", "history.axis=linear",
                     "--size", "900x600", "--out", str(src)]) == 0
        if shutil.which(tool) is None:
            continue
        png, stem = tmp_path / f"{fmt}.png", tmp_path / fmt
        subprocess.run([a.format(png=png, src=src, stem=stem) for a in cmd], check=True, timeout=60)
        got = colours(QImage(str(png)))
        assert got["blue 1"] > 300 and got["pink 7"] > 300, (fmt, got)
    assert main(["export", str(run), "--view", "history", "--set", "history.axis=time", "--out",
                 str(tmp_path / "bad.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "history.axis" in err and "log, linear" in err and "\n" not in err


def test_while_training_the_curves_follow_at_most_every_half_second(qtbot, monkeypatch):
    """Rows appended by training extend the series at once (only the new steps are computed); the curves take them
    at most every GROWTH_REDRAW_S, the cursor every frame."""
    import widgets.feature_history as fh
    from model.history import History
    from model.training.init import henighan

    clock = [100.0]
    monkeypatch.setattr(fh.time, "monotonic", lambda: clock[0])
    W, b = henighan(7)
    h = History(K=1, m=2, n=7, budget_bytes=50_000_000)
    v = show(qtbot, FeatureHistoryView(), (900, 500))

    def train_to(step):
        h.append(step, W[None].astype(np.float32), b[None].astype(np.float32), np.array([0.1], np.float32))
        snap = h.snapshot()
        v.set_frame(framed(snap, _ctx(h, snap)))

    for s in range(0, 50, 10):
        train_to(s)
    n_drawn = len(v.curves["norm"][0].getData()[0])
    train_to(50)  # 0.0 s later: the series has the step, the curves not yet; the cursor has moved
    assert v.series.steps[-1] == 50 and v.tracker.computed_last == 1
    assert len(v.curves["norm"][0].getData()[0]) == n_drawn and v.cursor_step() == 50
    clock[0] += fh.GROWTH_REDRAW_S
    train_to(60)
    assert len(v.curves["norm"][0].getData()[0]) == len(h.steps) == 7 > n_drawn  # every recorded step now
