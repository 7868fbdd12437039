"""The atlas with outcomes: the failure rate against training length drawn from the sweep's trace, outcome rows in
the table, and the gallery filtered by outcome (and by outcome and finding together)."""
import numpy as np
import pyqtgraph as pg
import pytest
from PyQt6.QtWidgets import QComboBox

from model.config import TrainConfig
from model.experiments.sweep import run_sweep
from widgets.sweep_view import SweepContent, SweepView


@pytest.fixture(scope="module")
def sweep():
    return run_sweep(TrainConfig(n=6, models=16, steps=3000, seed=7), threads=1)


def test_the_curve_and_the_outcome_filter(qtbot, sweep):
    v = SweepView()
    qtbot.addWidget(v)
    v.set_sweep(sweep)
    e = sweep.entries[0]
    lines = [it for it in v.curve.plotItem.items if isinstance(it, pg.PlotDataItem) and it.name()]
    assert [it.name() for it in lines] == ["failures", "stuck failures"]
    x, y = lines[0].getOriginalDataset()
    curve = e.failure_curve()
    assert list(x) == [c["step"] for c in curve] and list(y) == pytest.approx([c["rate"] for c in curve])
    labels = [v.table.item(r, 0).text() for r in range(v.table.rowCount())]
    assert {"outcome: settled", "outcome: stuck", "outcome: moving", "outcome: failures stuck"} <= set(labels)
    kinds = e.outcomes
    for o in ("settled", "stuck", "moving"):
        v.show_outcome(o)
        shown = sorted(v.gallery.gallery_model.model_at(i) for i in range(v.gallery.gallery_model.rowCount()))
        assert shown == sorted(np.nonzero(kinds == o)[0].tolist())
    v.show_outcome("moving")
    v.show_finding("dead")
    shown = {v.gallery.gallery_model.model_at(i) for i in range(v.gallery.gallery_model.rowCount())}
    assert shown == set(np.nonzero((kinds == "moving") & e.has_finding("dead"))[0].tolist())
    v.show_outcome(None)
    v.show_finding(None)
    assert v.gallery.gallery_model.rowCount() == e.K
    # the filters are the view's: the atlas's content alone (what a figure draws) has no picker
    assert not SweepContent().findChildren(QComboBox)
