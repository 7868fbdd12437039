"""The contract every 2D view follows, and the shared helpers."""
import numpy as np
import pytest
from PyQt6.QtCore import pyqtBoundSignal
from PyQt6.QtGui import QImage

from model.snapshot import Snapshot
from tests.widgets import (
    circle_snapshot,
    dying_run,
    framed,
    henighan_snapshot,
    make_frame,
    render,
    show,
    symmetric_failure_snapshot,
)
from widgets import views2d
from widgets.views2d import (
    VIEW_KEYS,
    color_groups,
    feature_colors_for,
    make_views,
    nice_ceil,
    nice_range,
    point_segment_distance,
    ranges_text,
)


@pytest.fixture
def views(qtbot):
    vs = make_views()
    for w in vs.values():
        show(qtbot, w, (420, 360))
    return vs


@pytest.mark.slow
def test_make_views_one_of_each_with_the_contract(views):
    assert tuple(views) == VIEW_KEYS == ("zones", "wheel", "gram", "bias", "loss", "verdict", "history")
    names = {k: type(v).__name__ for k, v in views.items()}
    assert names == {"zones": "ZoneMapView", "wheel": "FeatureWheelView", "gram": "GramView",
                     "bias": "BiasNormView", "loss": "LossView", "verdict": "VerdictPanel",
                     "history": "FeatureHistoryView"}
    for v in views.values():
        assert isinstance(v.featureClicked, pyqtBoundSignal)
        assert callable(v.set_frame)
    assert views2d.ZoneMapView is type(views["zones"])  # lazy re-export


def _all(views, snap, ctx):
    for v in views.values():
        v.set_frame(framed(snap, ctx))
    for k, v in views.items():
        if k != "verdict":
            render(v)


def _colourful(view):
    """(h, w) bool: the pixels of the view's plot area (its view box: not the axes, not a colour
    bar) in a saturated colour, which only a model's drawing has (feature colours, the Gram
    matrix's red and blue, the loss curve); the background, grid, axes and text are grey."""
    img = render(view).convertToFormat(QImage.Format.Format_RGB32)
    rgb = np.frombuffer(img.constBits().asstring(img.sizeInBytes()), np.uint8)
    rgb = rgb.reshape(img.height(), img.bytesPerLine() // 4, 4)[:, :img.width(), 2::-1].astype(int)
    r = view.plot.mapFromScene(view.vb.sceneBoundingRect()).boundingRect()
    box = rgb[max(r.top(), 0):r.bottom(), max(r.left(), 0):r.right()]
    return box.max(axis=2) - box.min(axis=2) > 60


@pytest.mark.slow
def test_all_views_on_the_seed_models_and_clear(views):
    """Each view draws each of the seed's two models (Henighan's heptagon, the symmetric failure),
    differently, and draws nothing of a model once cleared; the verdict panel says each verdict.
    The feature-history view draws the run (the history both snapshots come from), the same for
    both."""
    drawn = {}
    history = dying_run()
    for name, snap, verdict in (("heptagon", henighan_snapshot(7), "perfect"),
                                ("failure", symmetric_failure_snapshot(), "symmetric_failure")):
        steps = np.arange(50) * 10
        _all(views, snap, make_frame(snap, selected=frozenset({1}), loss_steps=steps,
                                     losses=np.exp(-steps[:, None] / 100.0), history=history))
        for k, v in views.items():
            if k != "verdict":
                drawn[k, name] = _colourful(v)
                assert drawn[k, name].sum() > 200, (k, name)  # the model is drawn (a curve is ~2 px wide)
        assert views["verdict"].verdict == verdict and views["verdict"].table.model().rowCount() == 7
    for k in views:
        if k not in ("verdict", "history"):
            a, b = drawn[k, "heptagon"], drawn[k, "failure"]
            assert a.shape != b.shape or (a != b).sum() > 200, k  # two models, two pictures
    for v in views.values():
        v.set_frame(None)
    for k, v in views.items():
        if k != "verdict":
            assert _colourful(v).sum() == 0, k  # nothing of either model is left
    assert views["verdict"].verdict == "" and views["verdict"].table.model().rowCount() == 0
    assert views["verdict"].text() == ""


@pytest.mark.slow
def test_all_views_at_n_10000(views):
    snap = circle_snapshot(10_000)
    steps = np.arange(300) * 10
    ctx = make_frame(snap, selected=frozenset({0, 5000, 9999}), loss_steps=steps,
                   losses=np.exp(-steps[:, None] / 1000.0) * np.ones((1, 40)))
    _all(views, snap, ctx)
    assert views["zones"].drawn_mode == "raster"
    assert views["verdict"].table.model().rowCount() == 10_000
    # a second, different snapshot reuses the items
    items_before = len(views["wheel"].plot_item.items)
    snap2 = circle_snapshot(10_000, seed=1, step=400)
    _all(views, snap2, make_frame(snap2, loss_steps=steps, losses=ctx.losses))
    assert len(views["wheel"].plot_item.items) == items_before


@pytest.mark.slow
def test_all_views_m3_untied_and_no_colors(views):
    rng = np.random.default_rng(2)
    snap = Snapshot(7, rng.normal(size=(3, 12)), rng.normal(size=12) * 0.2 - 0.5, loss=0.3,
                    M=rng.normal(size=(12, 3)))
    ctx = make_frame(snap).replace(colors=np.zeros((0, 4), np.uint8))  # not this run's: the palette's
    _all(views, snap, ctx)
    assert "principal directions" in views["zones"].note.text()
    assert "principal directions" in views["wheel"].note.text()
    one = Snapshot(1, np.array([[1.0, -0.5, 0.2]]), np.array([0.1, -0.2, 0.0]))  # m = 1
    _all(views, one, make_frame(one))


def test_color_groups_exact_when_few_and_close_when_coarsened():
    rng = np.random.default_rng(0)
    c = rng.integers(0, 256, (10, 4), dtype=np.uint8)
    g, gc = color_groups(c)
    assert np.array_equal(gc[g], c)
    big = rng.integers(0, 256, (5000, 4), dtype=np.uint8)
    g, gc = color_groups(big, 64)
    assert len(gc) <= 64
    assert np.abs(gc[g].astype(int) - big.astype(int)).max() < 128
    g2, gc2 = color_groups(big, 64)  # a pure function: the same answer again
    assert np.array_equal(g2, g) and np.array_equal(gc2, gc)


def test_small_helpers():
    assert nice_ceil(0.93) == 1.0 and nice_ceil(1.01) == 1.2 and nice_ceil(1693) == 2000
    assert nice_range(-0.93, 0.14) == (-1.0, 0.15)
    assert ranges_text([1, 2, 3, 5]) == "1-3, 5"
    assert ranges_text(list(range(0, 400, 2))) == "200 features"
    d = point_segment_distance(np.array([[0, 0, 2, 0], [0, 0, 0, 0]]), 1.0, 1.0)
    np.testing.assert_allclose(d, [1.0, np.sqrt(2)])
    snap = henighan_snapshot(30)
    ctx = make_frame(snap)
    assert np.array_equal(feature_colors_for(snap, ctx), ctx.colors)
    ctx = ctx.replace(colors=ctx.colors[:5])  # wrong length: palette colours by angle
    assert feature_colors_for(snap, ctx).shape == (30, 4)


@pytest.mark.slow
def test_every_2d_view_comes_back_from_a_pan_with_reset_and_double_click(views, qtbot):
    """Issue 22 item 9: a drag pans a plot away; the toolbar's reset button and a double-click
    on the plot bring back the whole plot (the range the view chose for itself)."""
    from PyQt6.QtCore import Qt

    snap = symmetric_failure_snapshot()
    steps = np.arange(50) * 10
    _all(views, snap, make_frame(snap, loss_steps=steps, losses=np.exp(-steps[:, None] / 100.0)))
    for key, v in views.items():
        if key == "verdict":  # a table, no plot
            continue
        for how in ("button", "double-click"):
            v.reset_view()
            home = np.array(v.vb.viewRange())
            w = home[:, 1] - home[:, 0]
            v.vb.translateBy(x=3 * w[0], y=-2 * w[1])  # the plot dragged far off
            v.vb.scaleBy((4.0, 4.0))
            assert not np.allclose(np.array(v.vb.viewRange()), home, rtol=0.05), key
            if how == "button":
                qtbot.mouseClick(v.reset_btn, Qt.MouseButton.LeftButton)
            else:
                vp = v.plot.viewport()
                c = vp.rect().center()
                qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=c)  # as a hand does: click, double-click
                qtbot.mouseDClick(vp, Qt.MouseButton.LeftButton, pos=c)
                qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=c)
                qtbot.wait(30)
            back = np.array(v.vb.viewRange())
            np.testing.assert_allclose(back, home, rtol=0.02, atol=0.02 * float(w.max()), err_msg=f"{key} {how}")
