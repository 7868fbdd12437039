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
    v = show(qtbot, FeatureWheelView())
    v.set_settings(WheelSettings(arrows="all"))  # every arrow (a subsample above ARROWS_MAX), not binned
    v.set_frame(ctx)
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
    # the hover line follows the settings (the content redraws, the widget asks the hover again)
    assert v.status.text().startswith("feature 2: W = (") and "separable" not in v.status.text()
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


# ----------------------------------------------------------------------------
# many features: angle-bin spokes, the strongest overlaps of a selected feature

def _segments_drawn(item) -> int:
    """Line segments an arrow layer (ColorPathsItem "lines") paints: two points each."""
    return sum(prim.size() for _pen, _brush, prim in item._items) // 2


def _polygon_with_duplicates():
    """Henighan's 10-gon turned by 2.5 degrees (each feature mid-way in a 5-degree bin; still
    ReLU(WᵀW + b) = I) and three hand-placed near-duplicates: feature 11 (index 10) = 0.9 r at
    3.5 degrees, feature 12 = 1.1 r at 0.5 degrees (both beside feature 1 at 2.5), feature 13 = r
    at 183 degrees (beside feature 6 at 182.5)."""
    n = 10
    r = np.sqrt(1 / (1 - np.cos(2 * np.pi / n)))
    deg = np.r_[2.5 + 36.0 * np.arange(n), 3.5, 0.5, 183.0]
    rad = np.r_[np.full(n, r), 0.9 * r, 1.1 * r, r]
    W = rad * np.vstack([np.cos(np.radians(deg)), np.sin(np.radians(deg))])
    return Snapshot(5, W, np.full(13, -0.5)), r


def test_strongest_overlaps_by_hand():
    from widgets.feature_wheel import strongest_overlaps

    snap, r = _polygon_with_duplicates()
    # W_1·W_j = |W_1||W_j| cos(angle between): 12 at 2 degrees (1.1 r^2 cos 2), 11 at 1 degree (0.9 r^2 cos 1),
    # 2 and 10 at 36 (r^2 cos 36), 3 and 9 at 72 (r^2 cos 72); the rest (108 degrees and beyond) are negative
    js, o = strongest_overlaps(snap.W, 0, 20)
    assert js.tolist() == [11, 10, 1, 9, 2, 8]
    r2 = r * r
    c = np.cos(np.radians([2, 1, 36, 36, 72, 72]))
    np.testing.assert_allclose(o, r2 * np.array([1.1, 0.9, 1, 1, 1, 1]) * c, rtol=1e-12)
    assert strongest_overlaps(snap.W, 0, 3)[0].tolist() == [11, 10, 1]
    assert strongest_overlaps(snap.W, 0, 0)[0].tolist() == []
    # feature 13 (at 183 degrees) overlaps feature 6 (182.5) most (r^2 cos 0.5), then 7 (218.5: r^2 cos 35.5),
    # then 5 (146.5: r^2 cos 36.5)
    assert strongest_overlaps(snap.W, 12, 3)[0].tolist() == [5, 6, 4]


def test_angle_spokes_by_hand():
    from widgets.feature_wheel import angle_spokes, spoke_width, strongest_spokes

    snap, r = _polygon_with_duplicates()
    live = np.ones(13, dtype=bool)
    spokes = angle_spokes(snap.W, live)
    # bins of 5 degrees from -180: features 12, 1, 11 (0.5, 2.5, 3.5 degrees) share bin 36; 6 and 13 (182.5 and
    # 183 degrees = -177.5, -177) share bin 0; every other polygon feature has a bin of its own
    assert len(spokes) == 10
    by_first = {int(sp.members[0]): sp for sp in spokes}
    three = by_first[11]
    assert three.members.tolist() == [11, 0, 10]  # longest first: 1.1 r, r, 0.9 r
    assert np.isclose(three.length, 1.1 * r) and np.isclose(three.weight, (1.21 + 1 + 0.81) * r * r)
    # its direction: the resultant of the three vectors
    th = np.radians([0.5, 2.5, 3.5])
    want = np.arctan2(np.sum([1.1, 1, 0.9] * np.sin(th)), np.sum([1.1, 1, 0.9] * np.cos(th)))
    assert np.isclose(three.angle, want)
    assert by_first[5].members.tolist() == [5, 12] and np.isclose(by_first[5].weight, 2 * r * r)
    assert sorted(len(sp.members) for sp in spokes) == [1] * 8 + [2, 3]
    top = strongest_spokes(spokes, 2)
    assert [int(spokes[t].members[0]) for t in top] == [11, 5]
    live[11] = False  # a dead feature is in no spoke
    assert sorted(int(f) for sp in angle_spokes(snap.W, live) for f in sp.members) == [i for i in range(13) if i != 11]
    assert [spoke_width(c) for c in (1, 2, 3, 24, 46, 1000)] == [1.5, 3.0, 4.5, 9.0, 10.5, 10.5]


def test_binned_wheel_draws_the_strongest_overlaps_of_the_selected(qtbot):
    from widgets.feature_wheel import fade

    snap, r = _polygon_with_duplicates()
    v = show(qtbot, FeatureWheelView())
    v.set_settings(WheelSettings(arrows="binned", strongest=3))
    v.set_frame(make_frame(snap, selected=frozenset({0})))
    assert v.binned(13)
    assert list(v.related) == [0] and v.related[0][0].tolist() == [11, 10, 1]
    assert v.drawn_arrows.tolist() == [0, 1, 10, 11]
    assert _segments_drawn(v.arrows) == 3 and _segments_drawn(v.sel_arrows) == 1
    # faded by W_1·W_j / |W_1|^2: 1.1 cos 2 (clipped to 1: opaque), 0.9 cos 1, cos 36
    alphas = sorted({pen.color().alpha() for pen, _b, _p in v.arrows._items})
    want = fade(np.array([1.1 * np.cos(np.radians(2)), 0.9 * np.cos(np.radians(1)), np.cos(np.radians(36))]))
    assert alphas == sorted(set(want.tolist())) and want.tolist() == [255, 237, 221]  # 255 (0.3 + 0.7 x): 255, 237.1, 220.9
    assert sorted(v.labels.texts()) == ["1", "11", "12", "2"]
    key = v.key_label.toPlainText()
    assert "10 spokes for 13 live features" in key and "feature 1: 3 strongest of 12" in key
    # without a selection: no relation arrows; the 3 strongest spokes labelled, "×count" where several
    v.set_frame(make_frame(snap))
    assert v.related == {} and _segments_drawn(v.arrows) == 0
    assert v.labels.texts()[:2] == ["12 \u00d73", "6 \u00d72"] and len(v.labels.texts()) == 3
    assert "3 strongest of 10 spokes labelled" in v.key_label.toPlainText()
    # every spoke drawn once, in the layer of its width: 8 single, one of 2, one of 3
    assert {w: _segments_drawn(it) for w, it in v.spoke_layers.items() if _segments_drawn(it)} == {
        1.5: 8, 3.0: 1, 4.5: 1}


def test_at_n_1000_the_drawn_items_are_bounded_by_the_setting(qtbot):
    from widgets.feature_wheel import ANGLE_BINS

    snap = circle_snapshot(1000)
    v = show(qtbot, FeatureWheelView())
    v.set_frame(make_frame(snap, selected=frozenset({3})))
    assert v.settings.arrows == "auto" and v.settings.strongest == 12 and v.binned(1000)
    spokes = sum(_segments_drawn(it) for it in v.spoke_layers.values())
    assert spokes == len(v.spokes) <= ANGLE_BINS
    assert sorted(int(f) for sp in v.spokes for f in sp.members) == list(range(1000))  # nothing dead, each once
    assert _segments_drawn(v.arrows) == 12 and len(v.drawn_arrows) == 13
    assert len(v.labels.texts()) <= 13
    assert "feature 4: 12 strongest of 999" in v.key_label.toPlainText()
    assert "12 strongest of 999" in v.note.text()
    # the 12 drawn are the 12 largest overlaps W_4·W_j
    o = snap.W[:, 3] @ snap.W
    o[3] = -np.inf
    assert set(v.related[3][0].tolist()) == set(np.argsort(-o)[:12].tolist())
    for k in (0, 5, 40):
        v.set_settings(WheelSettings(strongest=k))
        assert v.strongest_spin.value() == k  # the toolbar shows the setting
        assert _segments_drawn(v.arrows) == k and len(v.labels.texts()) <= k + 1
        assert sum(_segments_drawn(it) for it in v.spoke_layers.values()) <= ANGLE_BINS
    # three selected features at most get their relations; the rest are drawn but not related
    v.set_settings(WheelSettings(strongest=5))
    v.set_frame(make_frame(snap, selected=frozenset({1, 2, 3, 4, 5})))
    assert len(v.related) == 3 and _segments_drawn(v.arrows) == 15 and _segments_drawn(v.sel_arrows) == 5
    v.strongest_spin.setValue(2)  # the toolbar asks for the setting
    assert v.settings.strongest == 2 and _segments_drawn(v.arrows) == 6
    render(v)


def test_small_n_draws_every_arrow_as_before(qtbot):
    """n = 7 (the seed's symmetric failure: a regular hexagon of radius sqrt 2 and feature 7 dead):
    every feature its own arrow (0, 0) -> W_i with a head, the live features numbered, no spokes,
    no key, nothing related even with a selection."""
    snap = symmetric_failure_snapshot()
    v = show(qtbot, FeatureWheelView())
    v.set_frame(make_frame(snap, selected=frozenset({1})))
    assert not v.binned(7) and v.spokes == [] and v.related == {}
    assert v.key_label.toPlainText() == ""
    assert v.drawn_arrows.tolist() == list(range(7))
    assert _segments_drawn(v.arrows) == 7 and _segments_drawn(v.sel_arrows) == 1
    assert v.heads.group_count() > 0 and v.tips.group_count() == 0
    assert sorted(v.labels.texts()) == ["1", "2", "3", "4", "5", "6"]
    # the arrows' ends: the hexagon W_i = sqrt 2 (cos 2 pi i/6, sin 2 pi i/6) and W_7 = 0
    pts = np.concatenate([np.array([(prim.at(t).x(), prim.at(t).y()) for t in range(prim.size())])
                          for _pen, _b, prim in v.arrows._items])
    th = 2 * np.pi * np.arange(6) / 6
    want = np.c_[np.sqrt(2) * np.cos(th), np.sqrt(2) * np.sin(th)]
    tips = pts[1::2]
    for w in want:
        assert np.min(np.hypot(*(tips - w).T)) < 1e-6
    assert np.sum(np.hypot(*tips.T) < 1e-6) == 1  # feature 7's arrow has no length
    assert "spokes" not in v.note.text()


def test_strongest_setting_is_checked():
    from app.export.view_settings import SettingError, apply_sets

    with pytest.raises(ValueError, match="strongest must be a whole number from 0 to 200"):
        WheelSettings(strongest=-1)
    with pytest.raises(ValueError, match="arrows must be one of auto, all, binned"):
        WheelSettings(arrows="some")
    with pytest.raises(SettingError, match="strongest"):
        apply_sets(["wheel.strongest=201"], ["wheel"], 7)
    with pytest.raises(SettingError, match="a whole number from 0 to 200"):
        apply_sets(["wheel.strongest=many"], ["wheel"], 7)
    got, _, _ = apply_sets(["wheel.strongest=3", "wheel.arrows=binned"], ["wheel"], 7)
    assert got["wheel"] == WheelSettings(arrows="binned", strongest=3)


def test_the_wheel_content_draws_without_its_widget(qtbot):
    """WheelContent alone (what an export builds): the drawing, the key and the note, no widget; the
    widget embeds one and offers the data toggle only when the content drew a frame with a dataset."""
    from widgets.feature_wheel import WheelContent
    from widgets.views2d import PlotPanel

    snap = circle_snapshot(1000)
    c = WheelContent()
    qtbot.addWidget(c.plot)
    c.set_frame(make_frame(snap, selected=frozenset({3})))
    assert "feature 4: 12 strongest of 999" in c.key_label.toPlainText() and "12 strongest of 999" in c.note
    assert len(c.drawn_arrows) == 13 and not c.data_available
    assert c.plot.parentWidget() is None  # nothing but its own view onto the scene
    h = henighan_snapshot(7)
    v = show(qtbot, FeatureWheelView())
    assert isinstance(v, PlotPanel) and type(v.content) is WheelContent
    v.set_frame(make_frame(h, dataset=np.eye(7)))
    assert v.content.data_available and v.data_box.isEnabled()
    v.set_frame(make_frame(h))
    assert not v.content.data_available and not v.data_box.isEnabled()


def test_a_panel_names_its_content():
    from widgets.views2d import PlotPanel

    class Bare(PlotPanel):
        pass

    with pytest.raises(TypeError, match="names no CONTENT"):
        Bare()
