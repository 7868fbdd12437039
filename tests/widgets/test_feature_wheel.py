"""Feature wheel: dead features marked, radius-group circles, data embeddings, clicks."""
import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QPointF, Qt

from model.analysis.analysis import analyze
from model.snapshot import Snapshot
from tests.widgets import (
    circle_snapshot,
    framed,
    henighan_snapshot,
    make_frame,
    render,
    rgb_at,
    show,
    symmetric_failure_snapshot,
)
from widgets.feature_wheel import (
    ARROWS_MAX,
    FeatureWheelView,
    WheelSettings,
    arrow_subset,
    data_embeddings,
    dead_text,
    radius_circles,
)


def _view(qtbot, snap, ctx):
    v = show(qtbot, FeatureWheelView())
    v.set_frame(framed(snap, ctx))
    return v


def test_symmetric_failure_marks_the_dead_feature(qtbot):
    snap = symmetric_failure_snapshot()
    ctx = make_frame(snap)
    v = _view(qtbot, snap, ctx)
    assert v.dead_marked == [6]
    assert v.dead_label.textItem.toPlainText() == "dead: 7"
    assert v.dead_rings.isVisible() and len(v.dead_rings.data) == 1
    # the ring at the origin is drawn in feature 7's colour: some pixel on it is close to that colour
    img = render(v)
    o = v.map_to_viewport(0.0, 0.0)
    want = ctx.colors[6, :3].astype(float)
    best = min(np.abs(rgb_at(img, QPoint(o.x() + dx, o.y() + dy)) - want).max()
               for dx in range(-9, 10) for dy in range(-9, 10) if 5 <= np.hypot(dx, dy) <= 8.5)
    assert best < 40
    # Henighan: nothing dead, no ring, no label
    h = henighan_snapshot(7)
    v.set_frame(make_frame(h))
    assert v.dead_marked == [] and not v.dead_rings.isVisible()
    assert v.dead_label.textItem.toPlainText() == ""


def test_radius_group_circles_match_the_analysis(qtbot):
    snap = symmetric_failure_snapshot()
    v = _view(qtbot, snap, make_frame(snap))
    a = analyze(snap)
    assert len([c for c in v.circle_items if c.isVisible()]) == len(a.radius_groups) == 1
    # two circles: alternate radii 1 and 2.2 (the seed's two-circle picture)
    n = 8
    th = 2 * np.pi * np.arange(n) / n
    r = np.where(np.arange(n) % 2 == 0, 1.0, 2.2)
    snap2 = Snapshot(1, r * np.vstack([np.cos(th), np.sin(th)]), np.full(n, -0.5))
    a2 = analyze(snap2)
    v.set_frame(make_frame(snap2))
    visible = [c for c in v.circle_items if c.isVisible()]
    assert len(visible) == len(a2.radius_groups) == 2
    np.testing.assert_allclose(sorted(v.shown_circles), sorted(g["radius"] for g in a2.radius_groups))
    x, y = visible[0].getData()
    np.testing.assert_allclose(np.hypot(x, y), v.shown_circles[0])
    assert radius_circles(a2) == [(g["radius"], len(g["members"])) for g in a2.radius_groups]


def test_data_embeddings_overlay_and_toggle(qtbot):
    snap = henighan_snapshot(7)
    rng = np.random.default_rng(0)
    X = np.eye(7)[rng.integers(0, 7, 50)] * rng.uniform(0.2, 1, (50, 1))
    H, owner = data_embeddings(snap, X)
    np.testing.assert_allclose(H, X @ snap.W.T)
    assert owner.tolist() == np.argmax(X, axis=1).tolist()
    ctx = make_frame(snap, dataset=X)
    v = _view(qtbot, snap, ctx)
    assert v.data_box.isEnabled() and v.settings.show_data
    assert v.data_points == 50 and v.data.isVisible()
    np.testing.assert_allclose(np.c_[v.data.data["x"], v.data.data["y"]], H)
    v.data_box.setChecked(False)
    assert not v.settings.show_data and v.data_points == 0
    v.set_settings(WheelSettings(show_data=True))
    assert v.data_box.isChecked()
    assert v.data_points == 50
    v.set_frame(make_frame(snap))  # no dataset: the toggle is disabled
    assert not v.data_box.isEnabled() and v.data_points == 0


def test_click_on_an_arrow_emits_its_feature(qtbot):
    snap = henighan_snapshot(7)
    v = _view(qtbot, snap, make_frame(snap))
    render(v)
    for k in (0, 4):
        with qtbot.waitSignal(v.featureClicked, timeout=1000) as sig:
            qtbot.mouseClick(v.plot.viewport(), Qt.MouseButton.LeftButton,
                             pos=v.map_to_viewport(*(0.7 * snap.W[:, k])))
        assert sig.args == [k]
    # a click far from every arrow emits nothing
    with qtbot.assertNotEmitted(v.featureClicked):
        qtbot.mouseClick(v.plot.viewport(), Qt.MouseButton.LeftButton,
                         pos=v.map_to_viewport(*(0.25 * (snap.W[:, 0] + snap.W[:, 1]))))


def test_arrow_colours_in_the_render(qtbot):
    snap = henighan_snapshot(7)
    ctx = make_frame(snap)
    v = _view(qtbot, snap, ctx)
    img = render(v)
    for k in range(7):
        p = v.map_to_viewport(*(0.6 * snap.W[:, k]))
        near = [rgb_at(img, QPoint(p.x() + dx, p.y() + dy)) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
        assert min(np.abs(c - ctx.colors[k, :3]).max() for c in near) < 30


@pytest.mark.slow
def test_large_n_subsamples_arrows_and_labels_only_selected(qtbot):
    snap = circle_snapshot(10_000)
    ctx = make_frame(snap, selected=frozenset({3, 9000}))
    v = _view(qtbot, snap, ctx)
    assert len(v.drawn_arrows) == ARROWS_MAX
    assert sorted(v.labels.texts()) == ["4", "9001"]
    assert v.tips.group_count() > 0
    render(v)
    sub = arrow_subset(snap.W, 100)
    assert len(sub) == 100 and len(np.unique(sub)) == 100
    assert dead_text(np.arange(0, 600, 2)) == "dead: 300 features"
    assert dead_text(np.arange(300)) == "dead: 1-300"
    assert dead_text(np.array([2, 6])) == "dead: 3, 7"


# ----------------------------------------------------------------------------
# needed against actual gap

def test_gap_geometry_by_hand():
    import math

    from tests.widgets import two_radius_snapshot
    from widgets.feature_wheel import gap_features, gap_geometry
    from widgets.zone_map import separability_of

    R, delta = 1.6, 0.12
    snap = two_radius_snapshot(R, delta)
    sep = separability_of(make_frame(snap))
    # only the two small-circle features need a gap; equal neighbour radii, centred: arccos(r / R)
    assert gap_features(sep, np.zeros(0, np.int64)).tolist() == [1, 5]
    for i, r, th in ((1, R * math.cos(math.pi / 6) - delta, 30.0), (5, R * math.cos(math.pi / 6) + delta, -150.0)):  # atan2 angles
        need = math.acos(r / R)
        g = gap_geometry(sep, i, snap.W)
        t = math.radians(th)
        np.testing.assert_allclose(g["actual"], (t - math.pi / 6, t + math.pi / 6), atol=1e-12)
        np.testing.assert_allclose(g["needed"], (t - need, t + need), atol=1e-12)
        np.testing.assert_allclose(g["rays"][0, 2:], R * np.array([math.cos(t - need), math.sin(t - need)]), atol=1e-12)
        np.testing.assert_allclose(g["rays"][1, 2:], R * np.array([math.cos(t + need), math.sin(t + need)]), atol=1e-12)
        nb = sep.neighbours[i]
        np.testing.assert_allclose(g["chord"], np.r_[snap.W[:, nb[0]], snap.W[:, nb[1]]])
    # feature 2 needs more than it has (inside the chord), feature 6 less (outside)
    assert sep.needed_half_gap[1] > sep.half_gap[1] and sep.needed_half_gap[5] < sep.half_gap[5]
    # a regular polygon needs no gap: nothing drawn unless selected
    h = henighan_snapshot(7)
    sep7 = separability_of(make_frame(h))
    assert gap_features(sep7, np.zeros(0, np.int64)).tolist() == []
    assert gap_features(sep7, np.array([2])).tolist() == [2]


def test_gap_overlay_draws_the_needed_rays_and_goes_with_the_toggle(qtbot):
    import math

    from tests.widgets import two_radius_snapshot

    R, delta = 1.6, 0.12
    snap = two_radius_snapshot(R, delta)
    ctx = make_frame(snap)
    v = _view(qtbot, snap, ctx)
    assert not v.settings.show_gaps and not v.gap_box.isChecked()
    # the needed rays of feature 2: at 30 deg -+ arccos((R cos 30 - delta)/R), sampled at 0.7..0.95 R
    need = math.acos((R * math.cos(math.pi / 6) - delta) / R)
    pts = [rho * R * np.array([math.cos(a), math.sin(a)])
           for a in (math.pi / 6 - need, math.pi / 6 + need) for rho in np.linspace(0.7, 0.95, 11)]
    off = render(v)
    base = np.array([rgb_at(off, v.map_to_viewport(*p)) for p in pts])
    want = ctx.colors[1, :3].astype(float)
    assert np.sum(np.abs(base - want).max(axis=1) < 40) == 0
    v.gap_box.setChecked(True)
    assert v.settings.show_gaps and v.gap_drawn.tolist() == [1, 5]
    img = render(v)
    on = np.array([rgb_at(img, v.map_to_viewport(*p)) for p in pts])
    assert np.sum(np.abs(on - want).max(axis=1) < 40) >= 10, on  # dashed: most samples on a dash
    assert v.gap_labels.texts()[0] == f"need {math.degrees(need):.1f}\u00b0, have 30.0\u00b0"
    # hovering feature 2's arrow gives the numbers in words
    v._on_move(v.vb.mapViewToScene(QPointF(*(0.6 * snap.W[:, 1]))))
    assert "feature 2: not separable" in v.status.text() and f"needed {math.degrees(need):.2f} deg" in v.status.text()
    v.set_settings(WheelSettings())
    assert not v.gap_box.isChecked() and len(v.gap_drawn) == 0
    img2 = render(v)
    assert np.abs(np.array([rgb_at(img2, v.map_to_viewport(*p)) for p in pts]) - base).max() <= 3


@pytest.mark.slow
def test_gap_overlay_at_large_n_only_for_the_selection(qtbot):
    snap = circle_snapshot(10_000)
    v = show(qtbot, FeatureWheelView())
    v.set_settings(WheelSettings(show_gaps=True))
    v.set_frame(make_frame(snap))
    assert len(v.gap_drawn) == 0 and "select features" in v.note.text()
    v.set_frame(make_frame(snap, selected=frozenset({3, 9000})))
    assert set(v.gap_drawn.tolist()) <= {3, 9000}
    render(v)
