"""Verdict panel: the verdict in words, the per-feature table (a model, selected first), clicks."""
import pytest
from PyQt6.QtCore import QAbstractTableModel, Qt
from PyQt6.QtWidgets import QTableView

from tests.widgets import circle_snapshot, framed, henighan_snapshot, make_frame, show, symmetric_failure_snapshot
from widgets.verdict_panel import COLUMNS, VerdictPanel, cell_text, table_order, verdict_words


def test_verdicts_in_words(qtbot):
    v = show(qtbot, VerdictPanel())
    s = symmetric_failure_snapshot()
    v.set_frame(make_frame(s))
    assert v.verdict == "symmetric_failure"
    assert "symmetric" in v.text().lower() and v.title.text().startswith("Symmetric failure")
    assert "7" in v.header_text().splitlines()[0]  # names the dead feature
    h = henighan_snapshot(7)
    v.set_frame(make_frame(h))
    assert v.verdict == "perfect" and v.title.text().startswith("Perfect") and "perfect" in v.text().lower()
    assert "radius cv" in v.header_text() and "gap ratio" in v.header_text()
    assert verdict_words("two_circle_failure") == "Two-circle failure"


def test_analysis_computed_when_ctx_has_none(qtbot):
    v = show(qtbot, VerdictPanel())
    s = symmetric_failure_snapshot()
    v.set_frame(make_frame(s, analysis=False))
    assert v.verdict == "symmetric_failure"


def test_a_lent_analysis_says_whose_it_is(qtbot):
    v = show(qtbot, VerdictPanel())
    s = symmetric_failure_snapshot(step=200)
    later = symmetric_failure_snapshot(step=300)
    lent = make_frame(s).replace(pending=True)  # the session lends step 200's while 300's is computed
    v.set_frame(framed(later, lent))
    assert "step 300 shown; its analysis is being computed (this is step 200's)" in v.text()
    v.set_frame(make_frame(later))
    assert "being computed" not in v.text()


def test_table_contents_order_and_click(qtbot):
    v = show(qtbot, VerdictPanel())
    s = symmetric_failure_snapshot()
    v.set_frame(make_frame(s, selected=frozenset({6})))
    m = v.table.model()
    assert isinstance(m, QAbstractTableModel) and isinstance(v.table, QTableView)
    assert m.rowCount() == 7 and m.columnCount() == len(COLUMNS)
    assert [m.headerData(c, Qt.Orientation.Horizontal) for c in range(len(COLUMNS))] == list(COLUMNS)
    # the selected feature first, then the others by index
    assert [m.data(m.index(r, 0)) for r in range(7)] == ["7", "1", "2", "3", "4", "5", "6"]
    assert m.data(m.index(0, COLUMNS.index("dead"))) == "dead"
    assert m.data(m.index(0, COLUMNS.index("reconstructed"))) == "no"
    assert m.data(m.index(1, COLUMNS.index("reconstructed"))) == "yes"
    assert float(m.data(m.index(1, COLUMNS.index("p_i(W_i)")))) == 1.0
    assert m.data(m.index(0, 0), Qt.ItemDataRole.FontRole).bold()
    rect = v.table.visualRect(m.index(3, 1))
    with qtbot.waitSignal(v.featureClicked, timeout=1000) as sig:
        qtbot.mouseClick(v.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args == [2]


@pytest.mark.slow
def test_large_n_uses_the_model(qtbot):
    v = show(qtbot, VerdictPanel())
    s = circle_snapshot(10_000)
    v.set_frame(make_frame(s, selected=frozenset({9999, 42})))
    m = v.table.model()
    assert m.rowCount() == 10_000
    assert [m.data(m.index(r, 0)) for r in range(3)] == ["43", "10000", "1"]
    assert table_order(5, [3, 9, -1]).tolist() == [3, 0, 1, 2, 4]
    a = v.analysis
    assert cell_text(a, 0, COLUMNS.index("norm")) == f"{a.norms[0]:.4g}"
    v.set_frame(None)
    assert m.rowCount() == 0 and v.text() == ""


def test_findings_are_listed_with_their_numbers(qtbot):
    """The seed's clean failure: the panel names the dead feature, its bias against 1/n and
    the closed-form loss 6/49 beside the measured one."""
    v = show(qtbot, VerdictPanel())
    s = symmetric_failure_snapshot()
    v.set_frame(make_frame(s))
    text = v.header_text()
    assert "findings:" in text
    dead = [ln for ln in text.splitlines() if ln.strip().startswith("dead:")]
    assert dead and "feature 7 dead" in dead[0] and "1/n 0.142857" in dead[0] and "clean" in dead[0]
    ref = [ln for ln in text.splitlines() if "reference" in ln]
    assert ref and "0.1224489796" in ref[0]  # 6/49
    assert any(ln.strip().startswith("regular:") for ln in text.splitlines())
    # what the panel shows is on screen: the painted header holds the findings text
    assert "findings:" in v.header.text()


def test_separability_and_fire_threshold_columns(qtbot):
    """Henighan n = 7: every feature separable with margin r (1 - cos 2pi/7); the smallest input
    that fires output i is -b_i / r^2 = cos 2pi/7."""
    import math

    v = show(qtbot, VerdictPanel())
    h = henighan_snapshot(7)
    v.set_frame(make_frame(h))
    m = v.table.model()
    sep = m.data(m.index(0, COLUMNS.index("separable")))
    r = math.sqrt(1 / (1 - math.cos(2 * math.pi / 7)))
    assert sep.startswith("yes (") and float(sep[5:-1]) == pytest.approx(r * (1 - math.cos(2 * math.pi / 7)), rel=1e-3)
    assert float(m.data(m.index(0, COLUMNS.index("fires at x >")))) == pytest.approx(math.cos(2 * math.pi / 7), rel=1e-3)
    s = symmetric_failure_snapshot()
    v.set_frame(make_frame(s, selected=frozenset({6})))
    assert m.data(m.index(0, COLUMNS.index("separable"))) == ""  # the dead feature is not tested


# ------------------------------------------------------------------ explanations
def test_step_0_is_the_initial_parameters_not_a_failure(qtbot):
    """The seed's failure geometry handed over at step 0 (as an init could draw it): the title says training has
    not started, in grey; the header still says what the geometry reads as. One step later it is a verdict."""
    from widgets.verdict_panel import INITIAL_COLOR, VERDICT_COLORS, verdict_color, verdict_label

    v = show(qtbot, VerdictPanel())
    s0 = symmetric_failure_snapshot(step=0)
    v.set_frame(make_frame(s0))
    title = v.title.text()
    assert title.startswith("Before training (step 0)") and "failure" not in title.lower()
    assert v.title._color.name() == INITIAL_COLOR == verdict_color("symmetric_failure", 0)
    assert "as initialised the geometry reads as symmetric failure" in v.header.text()
    assert verdict_label(v.analysis, 0) == "before training (initial parameters)"
    s1 = symmetric_failure_snapshot(step=1)
    v.set_frame(make_frame(s1))
    assert v.title.text().startswith("Symmetric failure")
    assert v.title._color.name() == VERDICT_COLORS["symmetric_failure"]
    assert "as initialised" not in v.header.text()


def test_step_0_of_a_trained_run_is_not_called_a_failure(qtbot):
    """A real xavier initialisation (n = 7, seed 0) reads as a failure geometry at step 0; the panel gives no
    verdict there."""
    from model.config import TrainConfig
    from model.training.engine import Trainer

    tr = Trainer(TrainConfig(n=7, steps=5, seed=0))
    tr.run()
    v = show(qtbot, VerdictPanel())
    s = tr.history.snapshot(step=0)
    v.set_frame(make_frame(s))
    assert v.analysis.verdict != "perfect"  # what the random draw reads as
    assert v.title.text().startswith("Before training") and "failure" not in v.title.text().lower()


def _perfect_irregular_pentagon():
    """Zero loss with uneven gaps (wiggle room): five features of equal radius at 0, 60, 150, 220, 290 degrees,
    r^2 = 1 / (1 - cos 60) = 2 and b = 1 - r^2 = -1: p_i(W_i) = r^2 + b = 1 exactly, and a neighbour's
    p_j(W_i) = r^2 cos(gap) + b <= 2 (0.5) - 1 = 0 (exactly 0 across the 60-degree gap, a ReLU kink)."""
    import math

    import numpy as np

    from model.snapshot import Snapshot

    ang = np.radians([0, 60, 150, 220, 290])
    r = math.sqrt(2.0)
    W = r * np.vstack([np.cos(ang), np.sin(ang)])
    return Snapshot(500, W, np.full(5, -1.0), loss=0.0)


def test_perfect_beside_irregular_says_why_that_is_fine(qtbot):
    v = show(qtbot, VerdictPanel())
    s = _perfect_irregular_pentagon()
    v.set_frame(make_frame(s))
    a = v.analysis
    assert a.verdict == "perfect" and a.finding("irregular") is not None
    assert a.loss == pytest.approx(0.0, abs=1e-12)
    assert a.gap_ratio == pytest.approx(90 / 60)  # the largest gap over the smallest
    lines = v.header.text().splitlines()
    why = [ln for ln in lines if "perfect though irregular" in ln]
    assert why and "zero loss" in why[0] and "wiggle room" in why[0]
    # after the irregular finding, not before it
    assert lines.index(why[0]) > next(i for i, ln in enumerate(lines) if ln.strip().startswith("irregular:"))
    # a regular perfect polygon needs no such line
    h = henighan_snapshot(7)
    v.set_frame(make_frame(h))
    assert "perfect though irregular" not in v.header.text()


def test_long_findings_wrap_instead_of_being_cut_off(qtbot):
    from PyQt6.QtWidgets import QApplication

    v = show(qtbot, VerdictPanel(), size=(360, 700))
    s = circle_snapshot(60, seed=3)  # findings that list many features: lines far wider than 360 px
    v.set_frame(make_frame(s))
    QApplication.processEvents()
    hd = v.header
    fm = hd.fontMetrics()
    widest = max(fm.horizontalAdvance(ln) for ln in hd.text().splitlines())
    assert widest > 2 * hd.width()  # would be cut off on one line
    assert hd.hasHeightForWidth()
    need = hd.heightForWidth(hd.width())
    assert need > fm.height() * (hd.text().count("\n") + 2)  # wrapped onto more lines than it has
    assert hd.height() >= need  # the header is as tall as its wrapped text (the area scrolls, nothing cut)
    assert v.header_scroll.horizontalScrollBar().maximum() == 0


def test_every_column_has_a_tooltip_and_the_margins_are_explained(qtbot):
    from widgets.verdict_panel import RECON_TOL

    v = show(qtbot, VerdictPanel())
    s = symmetric_failure_snapshot()
    v.set_frame(make_frame(s))
    m = v.table.model()
    tips = [m.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) for c in range(len(COLUMNS))]
    assert all(t and t.startswith(f"{name}: ") and len(t) > len(name) + 30 for name, t in zip(COLUMNS, tips, strict=True))
    d_i = tips[COLUMNS.index("D_i")]
    assert "fractional dimensionality" in d_i and "2/n" in d_i
    assert f"{RECON_TOL:g}" in tips[COLUMNS.index("p_i(W_i)")]
    legend = v.legend.text()
    assert v.legend.isVisible() and "'dec' = decades" in legend and "D_i" in legend and "p_i" in legend
    assert "dec]" in v.header.text()  # the margins the legend explains are there


def test_a_splitter_moved_by_hand_stays_where_the_hand_left_it(qtbot, qapp):
    """The hand-moved splitter is the panel's (chrome): after a move, a new frame and a resize keep the sizes; the
    content alone (what an export draws) shares the height by its text."""
    from widgets.verdict_panel import VerdictContent

    v = show(qtbot, VerdictPanel())
    v.resize(700, 500)
    fr = make_frame(symmetric_failure_snapshot())
    v.set_frame(fr)
    qapp.processEvents()
    sp = v.content.splitter
    auto = sp.sizes()[0]
    sp.moveSplitter(auto + 60, 1)  # as a drag of the handle does (emits splitterMoved)
    moved = sp.sizes()[0]
    assert abs(moved - (auto + 60)) <= 2 and v.content.split_by_hand
    v.set_frame(fr)  # the next frame shares the height again, unless a hand moved the splitter
    qapp.processEvents()
    assert sp.sizes()[0] == moved
    v.content.split_by_hand = False  # the control: unmoved, the findings take their text's share again
    v.set_frame(fr)
    qapp.processEvents()
    assert abs(sp.sizes()[0] - auto) <= 2
    alone = VerdictContent()
    assert not alone.split_by_hand and alone.table.receivers(alone.table.clicked) == 0
