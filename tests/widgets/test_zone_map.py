"""Latent-zone map: the raster kernels against model.analysis.geometry, hover_text by hand,
pixels of a rendered Henighan heptagon, the clip toggle, clicks, n = 10,000."""
import math
import re

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from model.analysis import geometry as geo
from model.snapshot import Snapshot
from tests.widgets import (
    blend,
    circle_snapshot,
    framed,
    henighan_snapshot,
    make_frame,
    nearest,
    render,
    rgb_at,
    show,
    symmetric_failure_snapshot,
)
from widgets import zone_map as zm
from widgets.zone_map import ZoneMapView, ZoneSettings, envelope_raster, hover_text, polygon_mask, zone_edge, zone_rgba

WHITE = np.array([255.0, 255.0, 255.0])


# ----------------------------------------------------------------------------
# pure helpers

@pytest.mark.parametrize("seed,n", [(0, 7), (1, 50), (2, 400), (3, 3000)])
@pytest.mark.slow
def test_envelope_raster_matches_the_brute_force_raster(seed, n):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(2, n))
    b = rng.normal(size=n)
    box = geo.default_box(W)
    ref_idx, ref_best = geo.zone_raster(W, b, box, 64)
    idx, best = envelope_raster(W.T, b, box, 64, 64)
    np.testing.assert_allclose(best, ref_best, rtol=1e-12, atol=1e-12)
    # the winner may differ only at exact ties, where the values agree
    assert np.mean(idx == ref_idx) > 0.999


def test_envelope_raster_handles_equal_slopes_and_dead_features():
    # features 0 and 1 share A = (1, 0): the larger b wins; feature 3 is dead (A = 0)
    A = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    b = np.array([0.1, 0.3, -0.2, 0.05])
    box = (-2.0, 2.0, -2.0, 2.0)
    idx, best = envelope_raster(A, b, box, 40, 40)
    xs, ys = zm.pixel_centres(box, 40, 40)
    X, Y = np.meshgrid(xs, ys)
    P = np.stack([X + 0.1, X + 0.3, Y - 0.2, np.full_like(X, 0.05)])
    np.testing.assert_allclose(best, P.max(axis=0), atol=1e-12)
    assert not np.any(idx == 0)  # always beaten by feature 1


@pytest.mark.slow
def test_polygon_mask_matches_point_in_polygon():
    # a concave "pac-man" with a vertex at the origin, and a square
    pac = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    ext = (-1.5, 1.5, -1.5, 1.5)
    m = polygon_mask(pac, ext, 30, 30)
    xs, ys = zm.pixel_centres(ext, 30, 30)
    for iy in range(0, 30, 3):
        for ix in range(0, 30, 3):
            x, y = xs[ix], ys[iy]
            # inside the diamond |x| + |y| < 1 but not in the first quadrant (the mouth)
            want = abs(x) + abs(y) < 1 and not (x > 0 and y > 0)
            assert m[iy, ix] == want, (x, y)
    sq = polygon_mask(np.array([[0, 0], [1, 0], [1, 1], [0, 1.0]]), (-1, 2, -1, 2), 3, 3)
    assert sq.tolist() == [[False, False, False], [False, True, False], [False, False, False]]


def test_zone_rgba_colours_fires_dims_and_clips():
    snap = henighan_snapshot(7)
    colors = make_frame(snap, analysis=False).colors
    ext = geo.default_box(snap.W, 0.5)
    rgba, idx, best = zone_rgba(snap.W, snap.b, colors, ext, 128, clip_to_shape=True)
    xs, ys = zm.pixel_centres(ext, 128, 128)

    def px(h):
        return int(np.argmin(abs(ys - h[1]))), int(np.argmin(abs(xs - h[0])))

    for k in range(7):
        iy, ix = px(0.9 * snap.W[:, k])
        assert idx[iy, ix] == k and best[iy, ix] > 0
        assert rgba[iy, ix, :3].tolist() == colors[k, :3].tolist()
        assert rgba[iy, ix, 3] == zm.RASTER_ALPHA_ON
    iy, ix = px((0.0, 0.0))  # nothing fires at the centre (b < 0): dimmed
    assert rgba[iy, ix, 3] == zm.RASTER_ALPHA_OFF
    iy, ix = px(1.2 * snap.W[:, 0])  # outside the shape: transparent when clipped
    assert rgba[iy, ix, 3] == 0
    rgba2, _, _ = zone_rgba(snap.W, snap.b, colors, ext, 128, clip_to_shape=False)
    assert rgba2[iy, ix, 3] == zm.RASTER_ALPHA_ON


def test_zone_edge_is_the_boundary_line_inside_the_box():
    e = zone_edge((1.0, 0.0), -0.5, (-1, 1, -2, 2))  # x = 0.5
    np.testing.assert_allclose(sorted([e[1], e[3]]), [-2, 2])
    np.testing.assert_allclose([e[0], e[2]], [0.5, 0.5])
    e = zone_edge((1.0, 1.0), 0.0, (-1, 1, -1, 1))  # y = -x, corner to corner
    np.testing.assert_allclose(np.abs(e), 1.0)
    assert zone_edge((1.0, 0.0), -3.0, (-1, 1, -1, 1)) is None  # x = 3: outside
    assert zone_edge((0.0, 0.0), 1.0, (-1, 1, -1, 1)) is None  # a dead feature has no edge


def _active_from_text(text):
    return [int(k) for k in re.findall(r"(\d+) \(p = ", text)]


def test_hover_text_lists_exactly_the_active_features_hand_computed():
    # p(h) = W^T h + b at h = (0.3, 0.1): p1 = 0.3 - 0.5 < 0, p2 = 0.1 + 0.2 = 0.3, p3 = -0.3 + 0 < 0
    snap = Snapshot(0, np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]]), np.array([-0.5, 0.2, 0.0]))
    t = hover_text(snap, (0.3, 0.1))
    assert _active_from_text(t) == [2]
    assert "p = 0.3)" in t and "h = (0.3, 0.1)" in t
    # at h = (-0.7, -0.1): p1 = -1.2, p2 = 0.1, p3 = 0.7 -> 3 then 2 (by p)
    assert _active_from_text(hover_text(snap, (-0.7, -0.1))) == [3, 2]
    t0 = hover_text(snap, (0.0, -0.5))  # p = (-0.5, -0.3, 0): nothing > 0
    assert "active: none" in t0 and _active_from_text(t0) == []


def test_hover_text_at_the_midpoint_of_two_henighan_features():
    # mid = (W_1 + W_2)/2: p_1 = p_2 = r^2 (1 - cos phi)/2 = 1/2; p_3 = r^2 (cos 2phi - cos phi)/2 < 0
    snap = henighan_snapshot(7)
    mid = 0.5 * (snap.W[:, 0] + snap.W[:, 1])
    t = hover_text(snap, mid)
    assert sorted(_active_from_text(t)) == [1, 2]
    assert t.count("p = 0.5)") == 2


# ----------------------------------------------------------------------------
# the rendered view

def _view(qtbot, snap, ctx, **kw):
    v = show(qtbot, ZoneMapView())
    if kw:
        v.set_settings(ZoneSettings(**kw))
    v.set_frame(framed(snap, ctx))
    return v


@pytest.mark.parametrize("mode", ["polygons", "raster"])
def test_pixel_inside_zone_k_has_feature_k_colour(qtbot, mode):
    snap = henighan_snapshot(7)
    ctx = make_frame(snap)
    v = _view(qtbot, snap, ctx, mode=mode)
    assert v.drawn_mode == mode
    img = render(v)
    alpha = zm.ZONE_ALPHA if mode == "polygons" else zm.RASTER_ALPHA_ON
    expect = [blend(np.r_[ctx.colors[k, :3], alpha]) for k in range(7)]
    phi = 2 * math.pi / 7
    for k in range(7):
        # on the arrow itself (opaque colour k) and beside it, off the arrow, still only in zone k
        # (the 2-pixel arrow may be missed by half a pixel: opaque or translucent colour k both count)
        on = rgb_at(img, v.map_to_viewport(*(0.9 * snap.W[:, k])))
        j = nearest(on, list(ctx.colors[:, :3]) + expect + [WHITE])
        assert j < 14 and j % 7 == k, (k, on)
        c, s = math.cos(0.12 * phi), math.sin(0.12 * phi)
        h = 0.85 * np.array([c * snap.W[0, k] - s * snap.W[1, k], s * snap.W[0, k] + c * snap.W[1, k]])
        assert list(np.nonzero(snap.W.T @ h + snap.b > 0)[0]) == [k]
        off = rgb_at(img, v.map_to_viewport(*h))
        assert nearest(off, expect + [WHITE]) == k
        assert np.abs(off - expect[k]).max() < 40, (k, off, expect[k])


def test_outside_the_shape_background_when_clipped_coloured_on_the_whole_plane(qtbot):
    snap = henighan_snapshot(7)
    ctx = make_frame(snap)
    v = _view(qtbot, snap, ctx)
    r = float(np.hypot(*snap.W[:, 0]))
    # beyond the middle of the edge W_1 W_2 (the edge is at r cos(pi/7) ~ 0.90 r): outside the shape,
    # inside zones 1 and 2 (p_1 = p_2 = r^2 (cos(pi/7) - cos(2 pi/7)) > 0)
    a = math.pi / 7
    h = 1.02 * r * np.array([math.cos(a), math.sin(a)])
    assert list(np.nonzero(snap.W.T @ h + snap.b > 0)[0]) == [0, 1]
    assert v.settings.clip_to_shape and v.clip_box.isChecked()
    px = rgb_at(render(v), v.map_to_viewport(*h))
    assert np.abs(px - WHITE).max() <= 3, px
    changed = []
    v.settingsChanged.connect(changed.append)
    v.clip_box.setChecked(False)  # the checkbox asks for a new settings value
    assert not v.settings.clip_to_shape and changed == [ZoneSettings(clip_to_shape=False)]
    px2 = rgb_at(render(v), v.map_to_viewport(*h))
    assert np.abs(px2 - WHITE).max() > 40, px2
    # zones 1 and 2 overlap there: feature 2's translucent orange over feature 1's blue
    both = blend(np.r_[ctx.colors[1, :3], zm.ZONE_ALPHA], bg=blend(np.r_[ctx.colors[0, :3], zm.ZONE_ALPHA]))
    both2 = blend(np.r_[ctx.colors[0, :3], zm.ZONE_ALPHA], bg=blend(np.r_[ctx.colors[1, :3], zm.ZONE_ALPHA]))
    assert min(np.abs(px2 - both).max(), np.abs(px2 - both2).max()) < 30, (px2, both, both2)
    v.set_settings(ZoneSettings(clip_to_shape=True))  # the value drives the checkbox
    assert v.clip_box.isChecked() and len(changed) == 2
    px3 = rgb_at(render(v), v.map_to_viewport(*h))
    assert np.abs(px3 - WHITE).max() <= 3


def test_symmetric_failure_dead_zone_covers_the_whole_shape(qtbot):
    snap = symmetric_failure_snapshot()
    ctx = make_frame(snap)
    v = _view(qtbot, snap, ctx)
    img = render(v)
    # near the origin only feature 7 fires (b_7 = 1/7 > 0): its zone tints the centre
    px = rgb_at(img, v.map_to_viewport(0.05, -0.3))
    want = blend(np.r_[ctx.colors[6, :3], zm.ZONE_ALPHA])
    assert np.abs(px - want).max() < 30, (px, want)


def test_click_on_an_arrow_and_on_a_zone_emits_feature(qtbot):
    snap = henighan_snapshot(7)
    v = _view(qtbot, snap, make_frame(snap))
    render(v)
    with qtbot.waitSignal(v.featureClicked, timeout=1000) as sig:
        qtbot.mouseClick(v.plot.viewport(), Qt.MouseButton.LeftButton, pos=v.map_to_viewport(*(0.5 * snap.W[:, 2])))
    assert sig.args == [2]
    # inside zone 5 (0-based 4) but away from its arrow
    h = 0.97 * snap.W[:, 4] + 0.04 * snap.W[:, 3]
    with qtbot.waitSignal(v.featureClicked, timeout=1000) as sig:
        qtbot.mouseClick(v.plot.viewport(), Qt.MouseButton.LeftButton, pos=v.map_to_viewport(*h))
    assert sig.args == [4]


def test_hover_updates_the_status_line(qtbot):
    snap = henighan_snapshot(7)
    v = _view(qtbot, snap, make_frame(snap))
    render(v)
    mid = 0.5 * (snap.W[:, 0] + snap.W[:, 1])
    v._on_move(v.vb.mapViewToScene(pg_point(mid)))
    assert sorted(_active_from_text(v.status.text())) == [1, 2]


def pg_point(h):
    from PyQt6.QtCore import QPointF

    return QPointF(float(h[0]), float(h[1]))


@pytest.mark.slow
def test_large_n_uses_the_raster_and_colours_by_the_strongest_feature(qtbot):
    snap = circle_snapshot(10_000)
    ctx = make_frame(snap, selected=frozenset({5, 1234}))
    v = _view(qtbot, snap, ctx)
    assert v.drawn_mode == "raster"
    assert v.last_rgba is not None and max(v.last_rgba.shape[:2]) == zm.RASTER_RES
    img = render(v)
    # a point near the rim in direction of feature 17: the strongest feature there is drawn in its colour
    k = 17
    h = 0.97 * snap.W[:, k]
    p = snap.W.T @ h + snap.b
    win = int(np.argmax(p))
    px = rgb_at(img, v.map_to_viewport(*h))
    want = blend(np.r_[ctx.colors[win, :3], zm.RASTER_ALPHA_ON if p[win] > 0 else zm.RASTER_ALPHA_OFF])
    assert np.abs(px - want).max() < 45, (px, want)
    assert sorted(v.labels.texts()) == ["1235", "6"]  # only selected features are labelled
    assert v.sel_edges.group_count() == 1  # the selected zones' edges
    v.set_settings(ZoneSettings(clip_to_shape=False, mode="raster"))
    v.set_frame(framed(None, ctx))
    assert v.drawn_mode is None


def test_m3_model_shows_the_plane(qtbot):
    rng = np.random.default_rng(4)
    snap = Snapshot(5, rng.normal(size=(3, 9)), rng.normal(size=9) * 0.1 - 0.3)
    v = _view(qtbot, snap, make_frame(snap))
    assert "principal directions" in v.note.text()
    render(v)


# ----------------------------------------------------------------------------
# the separation overlay (linear separability)

def _pixels(img, v, pts):
    return np.array([rgb_at(img, v.map_to_viewport(*p)) for p in pts])


def test_separating_segment_and_blocking_polygon_by_hand():
    from tests.widgets import two_radius_snapshot

    R, delta = 1.6, 0.12
    snap = two_radius_snapshot(R, delta)
    sep = zm.separability_of(make_frame(snap))
    # feature 6 (at 210 deg, R cos 30 + delta): beyond the chord of 5 and 7 by delta; the
    # max-margin line is perpendicular to its direction, half-way: at R cos 30 + delta/2
    u = np.array([math.cos(math.radians(210)), math.sin(math.radians(210))])
    seg = zm.separating_segment(sep, 5, snap.W, 0.5)
    mid = 0.5 * (seg[:2] + seg[2:])
    np.testing.assert_allclose(mid, (R * math.cos(math.pi / 6) + delta / 2) * u, atol=1e-12)
    assert abs(np.dot(seg[2:] - seg[:2], u)) < 1e-12 and np.hypot(*(seg[2:] - seg[:2])) == pytest.approx(1.0)
    # feature 2 (at 30 deg, R cos 30 - delta): inside the chord of 1 and 3, not separable; its
    # blockers include both neighbours and their triangle holds W_2 (barycentric, by hand)
    assert not sep.separable[1] and zm.separating_segment(sep, 1, snap.W, 0.5) is None
    bl = sep.blockers[1]
    assert {0, 2} <= set(bl) and len(bl) == 3
    A, B, C = (snap.W[:, j] for j in bl)
    lam = np.linalg.solve(np.vstack([np.column_stack([A, B, C]), np.ones(3)]), np.r_[snap.W[:, 1], 1.0])
    assert np.all(lam > 0)
    poly = zm.blocking_polygon(sep, 1, snap.W)
    assert sorted(map(tuple, poly.round(12))) == sorted(map(tuple, snap.W[:, bl].T.round(12)))
    # nothing selected: every live feature is drawn (n = 8 <= SEPARATION_ALL_MAX); selected: those only
    assert zm.separation_features(sep, np.zeros(0, np.int64)).tolist() == list(range(8))
    assert zm.separation_features(sep, np.array([1, 5])).tolist() == [1, 5]


def test_separation_overlay_appears_where_computed_and_goes_with_the_toggle(qtbot):
    from tests.widgets import two_radius_snapshot

    snap = two_radius_snapshot()
    ctx = make_frame(snap, selected=frozenset({1, 5}))
    v = _view(qtbot, snap, ctx)
    assert not v.settings.show_separation and not v.sep_box.isChecked()
    off = render(v)
    # where the overlay will be: along feature 6's separating line, and along the blocking
    # hull's edge from feature 1 to feature 3 (the chord feature 2 sits inside)
    sep = zm.separability_of(framed(snap, ctx))
    seg = zm.separating_segment(sep, 5, snap.W, zm.SEPARATING_HALF * 1.6)
    line_pts = [seg[:2] + t * (seg[2:] - seg[:2]) for t in np.linspace(0.25, 0.75, 13)]  # inside the shape
    W1, W3 = snap.W[:, 0], snap.W[:, 2]
    hull_pts = [W1 + t * (W3 - W1) for t in np.linspace(0.15, 0.85, 17)]
    base_line, base_hull = _pixels(off, v, line_pts), _pixels(off, v, hull_pts)

    v.sep_box.setChecked(True)  # the checkbox asks for a new settings value
    assert v.settings.show_separation
    assert v.sep_drawn.tolist() == [1, 5]
    np.testing.assert_allclose(v.sep_segments, [seg], atol=1e-12)
    img = render(v)
    on_line, on_hull = _pixels(img, v, line_pts), _pixels(img, v, hull_pts)
    dark = np.array(zm.SEPARATING_PEN[:3], float)
    red = np.array(zm.BLOCKING_PEN[:3], float)
    # dashed: most samples fall on a dash, in the overlay's colour, where nothing like it was before
    assert np.sum(np.abs(on_line - dark).max(axis=1) < 60) >= 6, on_line
    assert np.sum(np.abs(base_line - dark).max(axis=1) < 60) == 0
    assert np.sum(np.abs(on_hull - red).max(axis=1) < 70) >= 8, on_hull
    assert np.sum(np.abs(base_hull - red).max(axis=1) < 70) == 0
    assert "separable 7 of 8 live" in v.note.text()

    v.set_settings(ZoneSettings())
    assert not v.sep_box.isChecked() and len(v.sep_drawn) == 0
    img2 = render(v)
    assert np.abs(_pixels(img2, v, line_pts) - base_line).max() <= 3
    assert np.abs(_pixels(img2, v, hull_pts) - base_hull).max() <= 3


def test_separation_hover_says_why(qtbot):
    from tests.widgets import two_radius_snapshot

    snap = two_radius_snapshot()
    v = _view(qtbot, snap, make_frame(snap), show_separation=True)
    render(v)
    v._on_move(v.vb.mapViewToScene(pg_point(0.6 * snap.W[:, 1])))
    t = v.status.text()
    assert t.startswith("feature 2: not separable, inside the hull of ") and "neighbours 1, 3" in t
    v._on_move(v.vb.mapViewToScene(pg_point(0.6 * snap.W[:, 5])))
    # the margin is delta (its distance to the chord); needed half-gap arccos((R cos 30 + delta)/R) = 19.78 deg
    t = v.status.text()
    assert t.startswith("feature 6: separable, margin 0.12;") and "half-gap 30.00 deg, needed 19.78 deg" in t


@pytest.mark.slow
def test_separation_at_large_n_draws_the_selection_only(qtbot):
    snap = circle_snapshot(10_000)
    ctx = make_frame(snap)
    v = _view(qtbot, snap, ctx, show_separation=True)
    assert len(v.sep_drawn) == 0 and "select features" in v.note.text()
    assert not zm.separability_of(framed(snap, ctx)).computed.any()  # nothing selected: nothing asked
    from model.analysis.separability import separability

    full = separability(snap.W, ~ctx.analysis.dead_mask)
    some = [int(np.nonzero(full.separable)[0][0]), int(np.nonzero(~full.separable & full.live)[0][0])]
    ctx2 = make_frame(snap, selected=frozenset(some))
    v.set_frame(framed(snap, ctx2))
    sep = zm.separability_of(framed(snap, ctx2))  # only the selection is computed, with the full answer's values
    assert np.nonzero(sep.computed)[0].tolist() == sorted(some)
    assert [sep.separable[i] for i in some] == [True, False]
    assert sep.margin[some[0]] == full.margin[some[0]] and sep.blockers[some[1]] == full.blockers[some[1]]
    assert sorted(v.sep_drawn.tolist()) == sorted(some)
    assert len(v.sep_segments) == 1 and len(v.sep_polygons) == 1
    assert "separable 1 of 2 selected" in v.note.text()
    render(v)
