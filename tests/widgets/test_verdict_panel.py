"""Verdict panel: the verdict in words, the per-feature table (a model, selected first), clicks."""
import pytest
from PyQt6.QtCore import QAbstractTableModel, Qt
from PyQt6.QtWidgets import QTableView

from tests.widgets import circle_snapshot, henighan_snapshot, make_ctx, show, symmetric_failure_snapshot
from widgets.verdict_panel import COLUMNS, VerdictPanel, cell_text, table_order, verdict_words


def test_verdicts_in_words(qtbot):
    v = show(qtbot, VerdictPanel())
    s = symmetric_failure_snapshot()
    v.set_snapshot(s, make_ctx(s))
    assert v.verdict == "symmetric_failure"
    assert "symmetric" in v.text().lower() and v.title.text().startswith("Symmetric failure")
    assert "7" in v.header_text().splitlines()[0]  # names the dead feature
    h = henighan_snapshot(7)
    v.set_snapshot(h, make_ctx(h))
    assert v.verdict == "perfect" and v.title.text().startswith("Perfect") and "perfect" in v.text().lower()
    assert "radius cv" in v.header_text() and "gap ratio" in v.header_text()
    assert verdict_words("two_circle_failure") == "Two-circle failure"


def test_analysis_computed_when_ctx_has_none(qtbot):
    v = show(qtbot, VerdictPanel())
    s = symmetric_failure_snapshot()
    v.set_snapshot(s, make_ctx(s, analysis=False))
    assert v.verdict == "symmetric_failure"


def test_a_lent_analysis_says_whose_it_is(qtbot):
    v = show(qtbot, VerdictPanel())
    s = symmetric_failure_snapshot(step=200)
    later = symmetric_failure_snapshot(step=300)
    lent = make_ctx(s)
    lent.extra["analysis_pending"] = True  # the session lends step 200's while 300's is computed
    v.set_snapshot(later, lent)
    assert "step 300 shown; its analysis is being computed (this is step 200's)" in v.text()
    v.set_snapshot(later, make_ctx(later))
    assert "being computed" not in v.text()


def test_table_contents_order_and_click(qtbot):
    v = show(qtbot, VerdictPanel())
    s = symmetric_failure_snapshot()
    v.set_snapshot(s, make_ctx(s, selected=frozenset({6})))
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
    v.set_snapshot(s, make_ctx(s, selected=frozenset({9999, 42})))
    m = v.table.model()
    assert m.rowCount() == 10_000
    assert [m.data(m.index(r, 0)) for r in range(3)] == ["43", "10000", "1"]
    assert table_order(5, [3, 9, -1]).tolist() == [3, 0, 1, 2, 4]
    a = v.analysis
    assert cell_text(a, 0, COLUMNS.index("norm")) == f"{a.norms[0]:.4g}"
    v.set_snapshot(None, None)
    assert m.rowCount() == 0 and v.text() == ""


def test_findings_are_listed_with_their_numbers(qtbot):
    """The seed's clean failure: the panel names the dead feature, its bias against 1/n and
    the closed-form loss 6/49 beside the measured one."""
    v = show(qtbot, VerdictPanel())
    s = symmetric_failure_snapshot()
    v.set_snapshot(s, make_ctx(s))
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
    v.set_snapshot(h, make_ctx(h))
    m = v.table.model()
    sep = m.data(m.index(0, COLUMNS.index("separable")))
    r = math.sqrt(1 / (1 - math.cos(2 * math.pi / 7)))
    assert sep.startswith("yes (") and float(sep[5:-1]) == pytest.approx(r * (1 - math.cos(2 * math.pi / 7)), rel=1e-3)
    assert float(m.data(m.index(0, COLUMNS.index("fires at x >")))) == pytest.approx(math.cos(2 * math.pi / 7), rel=1e-3)
    s = symmetric_failure_snapshot()
    v.set_snapshot(s, make_ctx(s, selected=frozenset({6})))
    assert m.data(m.index(0, COLUMNS.index("separable"))) == ""  # the dead feature is not tested
