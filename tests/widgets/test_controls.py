"""The experiment form, the timeline and the model picker (pytest-qt, offscreen)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from PyQt6.QtCore import QAbstractTableModel, QPoint, Qt
from PyQt6.QtGui import QStandardItemModel
from PyQt6.QtWidgets import QLabel, QTableWidget, QVBoxLayout, QWidget

from model.config import ConfigError, TrainConfig
from widgets.experiment_form import ExperimentForm
from widgets.model_picker import COL_LOSS, COL_MODEL, ModelPicker, ModelTableModel
from widgets.timeline import TICK_HZ, Timeline


# =========================================================================== form
@pytest.fixture
def form(qtbot):
    f = ExperimentForm()
    qtbot.addWidget(f)
    return f


def _red_pixels(widget) -> int:
    img = widget.grab().toImage()
    count = 0
    for y in range(img.height()):
        for x in range(img.width()):
            c = img.pixelColor(x, y)
            if c.red() > 170 and c.green() < 90 and c.blue() < 90:
                count += 1
    return count


def test_form_defaults_equal_trainconfig(form):
    assert form.is_valid()
    assert form.errors() == {}
    assert form.config() == TrainConfig()


def test_form_bad_lr_is_refused_at_the_field_and_fixing_it_restores(form):
    lr = form.field_widget("lr")
    assert _red_pixels(lr) == 0
    lr.setText("abc")
    assert not form.is_valid()
    errs = form.errors()
    assert list(errs) == ["lr"]
    assert "lr" in errs["lr"] and "abc" in errs["lr"] and "(0, 100]" in errs["lr"]
    assert lr.property("invalid") is True
    assert "#d32f2f" in lr.styleSheet()
    assert _red_pixels(lr) > 20  # the red border is really drawn
    label = form.error_label("lr")
    assert not label.isHidden() and "lr" in label.text()
    with pytest.raises(ConfigError) as info:
        form.config()
    assert info.value.field == "lr"
    # only lr is red
    assert form.field_widget("n").styleSheet() == ""

    lr.setText("1e-3")
    assert form.is_valid() and form.errors() == {}
    assert lr.property("invalid") is False and lr.styleSheet() == ""
    assert label.isHidden()
    assert _red_pixels(lr) == 0
    assert form.config().lr == pytest.approx(1e-3)


@pytest.mark.parametrize("text", ["-1", "0", "inf", "nan", "1e3"])
def test_form_lr_out_of_range(form, text):
    form.field_widget("lr").setText(text)
    assert "lr" in form.errors()


def test_form_n_zero_names_n(form):
    form.field_widget("n").setText("0")
    errs = form.errors()
    assert list(errs) == ["n"]
    assert errs["n"].startswith("n:") and "1 to 100000" in errs["n"]
    form.field_widget("n").setText("2.5")
    assert "whole number" in form.errors()["n"]
    form.field_widget("n").setText("1e2")  # a whole number written as a float is fine
    assert form.is_valid() and form.config().n == 100


def test_form_m_above_1000_refused(form):
    form.field_widget("m").setText("1001")
    assert list(form.errors()) == ["m"]


def test_form_sparsity_refused_only_when_it_applies(form):
    sp = form.field_widget("sparsity")
    assert not sp.isEnabled()  # identity data: sparsity does not apply
    sp.setText("1.5")
    assert form.is_valid()  # a disabled field cannot be fixed, so it is not held against the form
    assert form.config().sparsity == TrainConfig().sparsity
    form.field_widget("data").setCurrentText("sparse")
    assert sp.isEnabled()
    assert list(form.errors()) == ["sparsity"] and "[0, 1)" in form.errors()["sparsity"]
    sp.setText("2")
    assert "sparsity" in form.errors()
    sp.setText("0.999")
    assert form.is_valid() and form.config().sparsity == 0.999


def test_form_analytic_needs_m2_names_init(form):
    form.field_widget("init").setCurrentText("analytic")
    assert form.is_valid()
    form.field_widget("m").setText("3")
    errs = form.errors()
    assert list(errs) == ["init"] and "m = 2" in errs["init"]
    assert form.field_widget("init").property("invalid") is True
    assert form.field_widget("m").property("invalid") is False


def test_form_reports_every_bad_field_at_once(form):
    form.field_widget("lr").setText("abc")
    form.field_widget("n").setText("0")
    form.field_widget("steps").setText("-5")
    assert set(form.errors()) == {"lr", "n", "steps"}
    for key in ("lr", "n", "steps"):
        assert form.field_widget(key).property("invalid") is True
        assert not form.error_label(key).isHidden()
    assert "steps" in form.summary.text() and not form.summary.isHidden()


def test_form_number_formats(form):
    form.field_widget("steps").setText("25_000")
    form.field_widget("lr").setText(".5e-2")
    form.field_widget("weight_decay").setText("0")
    assert form.is_valid()
    cfg = form.config()
    assert cfg.steps == 25_000 and cfg.lr == 0.005 and cfg.weight_decay == 0.0


def test_form_set_config_round_trip(form):
    cfg = TrainConfig(n=12, m=3, data="sparse", sparsity=0.95, examples=100, batch=10, steps=1234,
                      optimizer="sgd", lr=0.0123, weight_decay=0.0, momentum=0.5, schedule="warmup-cosine",
                      warmup=77, seed=42, models=16, init="xavier", bias=False, untied=True,
                      history_budget_mb=12.5)
    form.set_config(cfg)
    assert form.is_valid(), form.errors()
    assert form.config() == cfg
    assert not form.fresh_check.isChecked() and not form.batch_auto_check.isChecked()
    assert form.field_widget("momentum").isEnabled()
    assert not form.field_widget("beta1").isEnabled()
    assert form.field_widget("warmup").isEnabled()
    # and back to the defaults
    form.set_config(TrainConfig())
    assert form.config() == TrainConfig()


def test_form_round_trip_importance(form):
    from model.config import importance_decay

    cfg = TrainConfig(n=9, importance=importance_decay(9, 0.8))
    form.set_config(cfg)
    assert form.field_widget("importance_decay").text() == "0.8"
    assert form.config() == cfg
    custom = TrainConfig(importance=[1.0, 3.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    form.set_config(custom)
    assert form.config() == custom
    form.field_widget("n").setText("8")  # the custom list no longer fits
    assert "importance_decay" in form.errors()
    form.field_widget("importance_decay").setText("0.5")
    assert form.is_valid() and form.config().importance == importance_decay(8, 0.5)
    form.field_widget("importance_decay").setText("1.5")
    assert "(0, 1]" in form.errors()["importance_decay"]
    form.field_widget("importance_decay").setText("")
    assert form.is_valid() and form.config().importance is None


def test_form_fields_that_do_not_apply_are_disabled(form):
    f = form.field_widget
    assert not f("momentum").isEnabled() and f("beta1").isEnabled()
    assert not f("warmup").isEnabled()
    assert not f("init_run").isEnabled() and not form.browse_button.isEnabled()
    assert not f("examples").isEnabled() and not form.fresh_check.isEnabled()
    f("optimizer").setCurrentText("sgd")
    assert f("momentum").isEnabled() and not f("beta1").isEnabled()
    f("schedule").setCurrentText("warmup-cosine")
    assert f("warmup").isEnabled()
    f("data").setCurrentText("sparse")
    assert form.fresh_check.isEnabled() and form.fresh_check.isChecked()
    assert not f("examples").isEnabled()  # "∞ fresh batches" is ticked
    form.fresh_check.setChecked(False)
    assert f("examples").isEnabled()
    f("examples").setText("100")
    assert form.config().examples == 100
    form.batch_auto_check.setChecked(False)
    f("batch").setText("101")
    assert list(form.errors()) == ["batch"]  # more than the examples
    f("batch").setText("100")
    assert form.config().batch == 100


@pytest.mark.slow
def test_form_init_run_needs_an_existing_file(form, tmp_path):
    f = form.field_widget
    f("init").setCurrentText("run")
    assert f("init_run").isEnabled() and form.browse_button.isEnabled()
    assert list(form.errors()) == ["init_run"]
    f("init_run").setText(str(tmp_path / "missing.h5"))
    assert "file not found" in form.errors()["init_run"]
    import os

    os.mkfifo(tmp_path / "pipe.h5")  # the read guard's check: said as what it is, without blocking
    f("init_run").setText(str(tmp_path / "pipe.h5"))
    assert "named pipe (FIFO)" in form.errors()["init_run"]
    (tmp_path / "empty.h5").write_bytes(b"")
    f("init_run").setText(str(tmp_path / "empty.h5"))
    assert "empty" in form.errors()["init_run"]
    from model.config import TrainConfig
    from model.storage.runfile import save_run
    from model.training.engine import train

    tr = train(TrainConfig(n=5, steps=5), threads=1)
    path = save_run(tmp_path / "run.h5", tr.config, tr.history)
    f("init_run").setText(str(path))
    f("init_step").setText("300")
    f("init_model").setText("2")
    assert form.is_valid()
    cfg = form.config()
    assert (cfg.init, cfg.init_run, cfg.init_step, cfg.init_model) == ("run", str(path), 300, 2)
    f("init_step").setText("")  # empty = the latest
    assert form.config().init_step is None


def test_form_validity_changed_fires_on_flips_only(form):
    seen, changed = [], []
    form.validityChanged.connect(seen.append)
    form.configChanged.connect(lambda: changed.append(1))
    lr = form.field_widget("lr")
    lr.setText("abc")
    lr.setText("abcd")
    assert seen == [False]
    lr.setText("0.01")
    lr.setText("0.02")
    assert seen == [False, True]
    assert len(changed) == 4
    changed.clear()
    form.set_config(TrainConfig(n=5))  # one configChanged for a whole config
    assert len(changed) == 1


def test_form_tooltips_state_allowed_values(form):
    for key, fld in form._fields.items():
        tip = fld.editor.toolTip()
        assert tip, key
        assert form._options[key].allowed() in tip and form._options[key].help in tip, key
    assert "100000" in form.field_widget("n").toolTip()
    assert "identity, sparse" in form.field_widget("data").toolTip()
    assert "(0, 100]" in form.field_widget("lr").toolTip()


def test_form_has_a_widget_for_every_option_of_the_schema(form):
    from model.config import schema

    keys = [o.key for o in schema()]
    assert list(form._fields) == keys
    assert "importance_decay" in keys and "beta1" in keys


# =========================================================================== timeline
STEPS = np.array([0, 1, 2, 3, 4, 10, 20, 40, 80, 160, 320], dtype=np.int64)


@pytest.fixture
def timeline(qtbot):
    t = Timeline()
    qtbot.addWidget(t)
    yield t
    t.pause()


def _record(signal):
    out = []
    signal.connect(out.append)
    return out


def _shown(qtbot, timeline, steps, follow_live=None):
    """The timeline on screen, 900 x 40, over these steps (follow_live set first when given)."""
    timeline.resize(900, 40)
    timeline.show()
    qtbot.waitExposed(timeline)
    if follow_live is not None:
        timeline.follow_live = follow_live
    timeline.set_steps(steps)


def test_timeline_slider_over_irregular_steps(timeline):
    timeline.follow_live = False
    timeline.set_steps(STEPS)
    asked = _record(timeline.stepRequested)
    assert timeline.slider.maximum() == len(STEPS) - 1
    timeline.slider.setValue(6)
    timeline.slider.setValue(9)
    assert asked == [20, 160]
    assert timeline.current_step == 160
    assert timeline.label.text() == "step 160 / 320"


def test_timeline_prev_next_home_end(timeline):
    timeline.follow_live = False
    timeline.set_steps(STEPS)
    asked = _record(timeline.stepRequested)
    timeline.go_start()  # already at the start (the first steps while not following)
    timeline.step_forward()
    timeline.step_forward()
    timeline.step_back()
    timeline.go_end()
    timeline.step_forward()  # at the end: nothing
    timeline.go_start()
    timeline.step_back()  # at the start: nothing
    assert asked == [1, 2, 1, 320, 0]
    timeline.next_button.click()
    assert asked[-1] == 1


def test_timeline_follow_live(timeline):
    follow = _record(timeline.followLiveChanged)
    asked = _record(timeline.stepRequested)
    assert timeline.follow_live
    timeline.set_steps(STEPS[:5])
    assert timeline.current_step == 4
    timeline.set_steps(STEPS[:8])
    assert timeline.current_step == 40
    assert asked == [4, 40]
    timeline.slider.setValue(2)  # a manual move stops following
    assert not timeline.follow_live and not timeline.follow_check.isChecked()
    assert follow == [False]
    assert asked[-1] == 2
    timeline.set_steps(STEPS)  # more snapshots: the user's position stays
    assert timeline.current_step == 2 and asked[-1] == 2
    assert timeline.label.text() == "step 2 / 320"
    timeline.follow_check.setChecked(True)  # back to live: jump to the newest
    assert follow == [False, True]
    assert timeline.current_step == 320 and asked[-1] == 320


def test_timeline_keeps_position_when_history_thins(timeline):
    timeline.follow_live = False
    timeline.set_steps(STEPS)
    timeline.slider.setValue(6)  # step 20
    asked = _record(timeline.stepRequested)
    thinned = np.array([0, 1, 2, 3, 4, 10, 40, 160, 320, 640])  # 20 dropped, stride doubled
    timeline.set_steps(thinned)
    assert timeline.current_step == 10  # the snapshot at or before the chosen step
    assert asked == [10]
    timeline.set_steps(np.append(thinned, 1280))
    assert timeline.current_step == 10 and asked == [10]  # no storm


def test_timeline_set_current_step_does_not_emit(timeline):
    timeline.set_steps(STEPS)
    timeline.follow_live = False
    asked = _record(timeline.stepRequested)
    timeline.set_current_step(50)
    assert timeline.current_step == 40 and timeline.slider.value() == 7
    assert asked == []
    # a session that answers each request with set_current_step: one emit per move
    timeline.stepRequested.connect(timeline.set_current_step)
    timeline.slider.setValue(3)
    timeline.step_forward()
    assert asked == [3, 4]


def test_timeline_playback_reaches_the_end_dropping_frames(qtbot, timeline):
    steps = np.arange(0, 200, dtype=np.int64) * 5
    timeline.set_steps(steps)
    clock = [100.0]
    timeline.clock = lambda: clock[0]  # the playback clock, ticked at exactly the display rate
    timeline.speed = 240  # 4 snapshots a tick
    playing = _record(timeline.playingChanged)
    asked = _record(timeline.stepRequested)
    timeline.play()
    assert timeline.playing and not timeline.follow_live
    assert asked[0] == 0  # play at the end starts over
    while timeline.playing and clock[0] < 200:
        clock[0] += 1 / TICK_HZ
        timeline.tick()
    assert playing == [True, False]
    assert timeline.current_step == steps[-1] and asked[-1] == steps[-1]
    assert asked == sorted(asked)
    # frames dropped, never queued: one request per tick, skipping snapshots
    per_tick = 240 // TICK_HZ
    assert len(asked) <= len(steps) // per_tick + 2
    jumps = np.diff(np.searchsorted(steps, asked[1:]))
    assert all(jumps[:-1] == per_tick) and 1 <= jumps[-1] <= per_tick  # the last is clamped to the end


def test_timeline_playback_loops(qtbot, timeline):
    steps = np.arange(0, 40, dtype=np.int64)
    timeline.follow_live = False
    timeline.set_steps(steps)
    timeline.loop = True
    timeline.speed = 240
    asked = _record(timeline.stepRequested)
    timeline.play()
    qtbot.waitUntil(lambda: any(b < a for a, b in itertools.pairwise(asked)), timeout=10_000)
    assert timeline.playing
    i = next(i for i, (a, b) in enumerate(itertools.pairwise(asked)) if b < a)
    assert asked[i] == steps[-1] and asked[i + 1] == 0  # the last frame, then the first
    timeline.pause()
    assert not timeline.playing


def test_timeline_keys(qtbot, timeline):
    timeline.follow_live = False
    timeline.set_steps(STEPS)
    playing = _record(timeline.playingChanged)
    qtbot.keyClick(timeline, Qt.Key.Key_Space)
    assert timeline.playing
    qtbot.keyClick(timeline, Qt.Key.Key_Space)
    assert not timeline.playing
    assert playing == [True, False]
    timeline.set_current_step(10)
    qtbot.keyClick(timeline, Qt.Key.Key_Right)
    assert timeline.current_step == 20
    qtbot.keyClick(timeline, Qt.Key.Key_Left)
    qtbot.keyClick(timeline, Qt.Key.Key_Left)
    assert timeline.current_step == 4
    qtbot.keyClick(timeline, Qt.Key.Key_End)
    assert timeline.current_step == 320
    qtbot.keyClick(timeline, Qt.Key.Key_Home)
    assert timeline.current_step == 0


def test_timeline_window_shortcuts(qtbot):
    window = QWidget()
    qtbot.addWidget(window)
    lay = QVBoxLayout(window)
    other = QLabel("some other view")
    other.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    lay.addWidget(other)
    t = Timeline()
    lay.addWidget(t)
    shortcuts = t.install_shortcuts(window)
    assert len(shortcuts) == len(t.key_actions()) == 12
    assert all(s.context() == Qt.ShortcutContext.WindowShortcut for s in shortcuts)
    t.follow_live = False
    t.set_steps(STEPS)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    other.setFocus()
    qtbot.waitUntil(lambda: other.hasFocus())
    qtbot.keyClick(other, Qt.Key.Key_Right)  # focus elsewhere in the window: the shortcut acts
    assert t.current_step == 1
    qtbot.keyClick(other, Qt.Key.Key_End)
    assert t.current_step == 320
    qtbot.keyClick(other, Qt.Key.Key_Space)
    assert t.playing
    qtbot.keyClick(other, Qt.Key.Key_Space)
    assert not t.playing
    window.close()


def test_timeline_empty_and_single_step(timeline):
    assert timeline.current_step is None
    assert not timeline.play_button.isEnabled()
    timeline.step_forward()
    timeline.play()
    assert not timeline.playing
    timeline.set_steps(np.array([0]))
    assert timeline.current_step == 0 and timeline.label.text() == "step 0 / 0"
    timeline.play()
    assert not timeline.playing


# =========================================================================== model picker
@pytest.fixture
def picker(qtbot):
    p = ModelPicker()
    qtbot.addWidget(p)
    return p


def _models(K, seed=0):
    rng = np.random.default_rng(seed)
    seeds = 100 + np.arange(K)
    losses = rng.random(K)
    verdicts = [("perfect", "symmetric_failure", "two_circle_failure")[i % 3] for i in range(K)]
    return seeds, losses, verdicts


def test_picker_1000_rows_without_per_cell_items(qtbot, picker, monkeypatch):
    seeds, losses, verdicts = _models(1000)
    picker.set_models(seeds, losses, verdicts)
    model = picker.view.model()
    assert isinstance(model, QAbstractTableModel) and not isinstance(model, QStandardItemModel)
    assert not picker.findChildren(QTableWidget)
    assert model.rowCount() == 1000 and model.columnCount() == 4
    rows_asked = set()
    original = ModelTableModel.data

    def counting(self, index, role=Qt.ItemDataRole.DisplayRole):
        rows_asked.add(index.row())
        return original(self, index, role)

    monkeypatch.setattr(ModelTableModel, "data", counting)
    picker.resize(420, 300)
    picker.show()
    qtbot.waitExposed(picker)
    img = picker.view.grab().toImage()
    assert img.width() > 100 and img.height() > 100
    assert rows_asked, "the view painted nothing"
    assert len(rows_asked) < 60  # only the visible rows are read
    assert picker.view.indexAt(QPoint(5, 5)).row() == 0
    assert model.data(model.index(999, 1)) == "1099"
    picker.close()


def test_picker_click_row_chooses_model(qtbot, picker):
    seeds, losses, verdicts = _models(50)
    picker.set_models(seeds, losses, verdicts)
    picker.resize(420, 300)
    picker.show()
    qtbot.waitExposed(picker)
    chosen = _record(picker.modelChosen)
    idx = picker.table_model.index(3, 2)
    rect = picker.view.visualRect(idx)
    qtbot.mouseClick(picker.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert chosen == [3]
    assert picker.current == 3 and picker.spin.value() == 3
    assert picker.seed_label.text() == "(seed 103)"
    picker.spin.setValue(7)
    assert chosen == [3, 7]
    assert picker.view.currentIndex().row() == picker.table_model.row_of(7)
    picker.set_current(9)  # external: no emit
    assert chosen == [3, 7] and picker.spin.value() == 9
    picker.close()


def test_picker_sort_by_loss(qtbot, picker):
    seeds, losses, verdicts = _models(1000, seed=3)
    losses[17] = np.nan  # a model with no loss yet sorts last
    picker.set_models(seeds, losses, verdicts)
    picker.set_current(5)
    chosen = _record(picker.modelChosen)
    tm = picker.table_model
    picker.view.sortByColumn(COL_LOSS, Qt.SortOrder.AscendingOrder)
    shown = [float(tm.data(tm.index(r, COL_LOSS))) for r in range(998)]
    assert shown == sorted(shown)
    assert tm.data(tm.index(0, COL_MODEL)) == str(int(np.nanargmin(losses)))
    assert tm.data(tm.index(999, COL_LOSS)) == "–"
    picker.view.sortByColumn(COL_LOSS, Qt.SortOrder.DescendingOrder)
    assert tm.data(tm.index(0, COL_MODEL)) == str(int(np.nanargmax(losses)))
    assert tm.data(tm.index(999, COL_LOSS)) == "–"
    # the chosen model stays chosen and selected through sorting, and nothing is emitted
    assert chosen == []
    assert tm.model_at(picker.view.currentIndex().row()) == 5
    picker.view.sortByColumn(COL_MODEL, Qt.SortOrder.AscendingOrder)
    assert [tm.model_at(r) for r in range(5)] == [0, 1, 2, 3, 4]


def test_picker_hides_for_a_single_model(picker):
    picker.set_models(np.array([4]), np.array([0.1]), ["perfect"])
    assert picker.isHidden() and not picker.isEnabled()
    picker.set_models(*_models(5))
    assert picker.isEnabled() and picker.spin.maximum() == 4
    assert not picker.isVisible()  # never pops up as a window of its own


def test_picker_in_a_window_comes_back_for_k_above_1(qtbot):
    window = QWidget()
    qtbot.addWidget(window)
    lay = QVBoxLayout(window)
    p = ModelPicker()
    lay.addWidget(p)
    window.show()
    qtbot.waitExposed(window)
    assert not p.isVisible()  # K = 1 until told otherwise
    p.set_models(*_models(8))
    assert p.isVisible() and p.isEnabled()
    p.set_models(np.array([0]), np.array([0.5]))
    assert not p.isVisible() and not p.isEnabled()
    p.set_models(*_models(3))
    assert p.isVisible()
    # live updates of the same models keep the sort and the choice
    p.view.sortByColumn(COL_LOSS, Qt.SortOrder.AscendingOrder)
    p.set_current(2)
    seeds, _, verdicts = _models(3)
    p.set_models(seeds, np.array([0.3, 0.2, 0.1]), verdicts)
    assert [p.table_model.model_at(r) for r in range(3)] == [2, 1, 0]
    assert p.current == 2 and p.table_model.model_at(p.view.currentIndex().row()) == 2
    window.close()


def test_timeline_click_jumps_to_the_clicked_step(qtbot, timeline):
    """A click on the groove goes to the snapshot under the pointer, not one page towards it."""
    steps = np.arange(0, 1000, 10)
    _shown(qtbot, timeline, steps, follow_live=False)
    timeline.set_axis("snapshots")  # one slot per snapshot: the pixel under the pointer names one snapshot
    timeline.go_start()
    asked = _record(timeline.stepRequested)
    x = timeline.slider.x_of(80)
    qtbot.mouseClick(timeline.slider, Qt.MouseButton.LeftButton, pos=QPoint(x, timeline.slider.height() // 2))
    assert abs(timeline.current_index - 80) <= 1
    assert asked and abs(asked[-1] - 800) <= 10


def test_timeline_marks_the_story_where_it_happened(qtbot, timeline):
    _shown(qtbot, timeline, STEPS)
    timeline.set_events([{"step": 0, "text": "perfect", "color": "#00ff00"},
                         {"step": 25, "text": "symmetric failure; dead: 7", "color": "#ff0000"}])
    # step 25 is not recorded: the mark sits on the recorded step at or before it (20, index 6)
    assert timeline.slider.marks() == [(0, "step 0: perfect"), (6, "step 25: symmetric failure; dead: 7")]
    img = timeline.slider.grab().toImage()
    x = timeline.slider.x_of(6)
    c = img.pixelColor(x, 1)
    assert (c.red(), c.green(), c.blue()) == (255, 0, 0)
    assert img.pixelColor(timeline.slider.x_of(3), 1) != c  # no mark between them
    # the history thins: the marks move with the recorded steps
    timeline.set_steps(STEPS[::2])  # 0, 2, 4, 20, 80, 320
    assert timeline.slider.marks()[1][0] == 3
    timeline.set_events([])
    assert timeline.slider.marks() == []


def test_timeline_strip_hover_and_click_on_a_mark(qtbot, timeline):
    steps = np.arange(0, 1000, 10)
    _shown(qtbot, timeline, steps, follow_live=False)
    timeline.set_axis("snapshots")  # one slot per snapshot: the pixel under the pointer names one snapshot
    timeline.set_events([{"step": 0, "text": "perfect", "color": "#00ff00"},
                         {"step": 500, "text": "symmetric failure", "color": "#ff0000"}])
    sl = timeline.slider
    sl.hover_text = lambda i: f"step {int(steps[i]):,} · loss {i / 100:.2f}"
    img = sl.grab().toImage()
    y = sl.height() - 2  # the strip under the groove: green before step 500, red after
    g, r = img.pixelColor(sl.x_of(20), y), img.pixelColor(sl.x_of(80), y)
    assert (g.red(), g.green(), g.blue()) == (0, 255, 0) and (r.red(), r.green(), r.blue()) == (255, 0, 0)
    tip = sl.tooltip_at(sl.x_of(50))
    assert tip.splitlines() == ["step 500 · loss 0.50", "step 500: symmetric failure"]
    assert sl.tooltip_at(sl.x_of(30)) == "step 300 · loss 0.30"
    # a click 3 px beside the mark lands on the mark's snapshot
    timeline.go_start()
    qtbot.mouseClick(sl, Qt.MouseButton.LeftButton, pos=QPoint(sl.x_of(50) + 3, sl.height() // 2))
    assert timeline.current_step == 500
