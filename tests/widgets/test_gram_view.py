"""W^T W + b heatmap: row maxima on Henighan's diagonal, diverging colours in the render,
the ReLU toggle, hover and click, the block at large n."""
import math

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtWidgets import QApplication

from model.analysis import geometry as geo
from model.snapshot import Snapshot
from tests.widgets import (
    circle_snapshot,
    henighan_snapshot,
    make_frame,
    render,
    rgb_at,
    show,
    symmetric_failure_snapshot,
)
from widgets.gram_view import (
    BLOCK_MAX,
    GramSettings,
    GramView,
    angular_block,
    block_indices,
    diverging_lut,
    gram_block,
    row_maxima,
    symmetric_limit,
    value_color,
)


@pytest.mark.parametrize("n", [3, 5, 7, 10, 64, 301])
def test_henighan_row_maxima_are_exactly_the_diagonal(n):
    snap = henighan_snapshot(n)
    P = geo.wtw_plus_b(snap.W, snap.b)
    assert row_maxima(P).tolist() == list(range(n))
    np.testing.assert_allclose(gram_block(snap, np.arange(n), relu=True), np.eye(n), atol=1e-9)


def test_row_maxima_of_a_non_diagonal_matrix():
    P = np.array([[0.0, 2.0, 1.0], [3.0, np.nan, -1.0], [0.5, 0.5, 0.2]])
    assert row_maxima(P).tolist() == [1, 0, 0]


def test_angle_order_is_henighans_circulant_from_feature_1():
    """Henighan's n-gon in angular order is feature order (1, 2, ..., n), so WᵀW is the seed's
    circulant r² cos(2π(i - j)/n) with row 1 first; a shuffled copy is put back the same way."""
    n = 10
    snap = henighan_snapshot(n)
    np.testing.assert_array_equal(angular_block(snap, np.arange(n)), np.arange(n))
    perm = np.random.default_rng(1).permutation(n)
    shuffled = Snapshot(0, snap.W[:, perm], snap.b[perm])
    order = angular_block(shuffled, np.arange(n))
    assert order[0] == 0 and np.array_equal(perm[order], np.roll(np.arange(n), -int(perm[0])))


def test_block_indices_selected_first_then_the_first_features():
    assert block_indices(7, {3}).tolist() == list(range(7))  # everything fits: index order
    idx = block_indices(10_000, {9999, 5, 2}, max_n=6)
    assert idx.tolist() == [2, 5, 9999, 0, 1, 3]
    assert len(block_indices(10_000, ())) == BLOCK_MAX


def test_gram_block_entries_are_p_i_of_W_j():
    rng = np.random.default_rng(0)
    snap = Snapshot(0, rng.normal(size=(2, 9)), rng.normal(size=9))
    idx = np.array([4, 1, 7])
    B = gram_block(snap, idx)
    for r, i in enumerate(idx):
        for c, j in enumerate(idx):
            assert B[r, c] == pytest.approx(snap.W[:, i] @ snap.W[:, j] + snap.b[i])


def test_diverging_lut_is_blue_white_red():
    lut = diverging_lut(255)
    assert lut[0, 2] > lut[0, 0] + 100  # blue end
    assert lut[-1, 0] > lut[-1, 2] + 100  # red end
    assert lut[127, :3].min() > 240  # white middle
    assert symmetric_limit(np.array([[-3.0, 1.0]])) == 3.0


def _cell_px(v, r, c):
    return v.map_to_viewport(c + 0.5, r + 0.5)


def _hover(qtbot, v, r, c):
    """Move the mouse over the centre of cell (r, c), as a person does (the view is rendered)."""
    qtbot.mouseMove(v.plot.viewport(), pos=_cell_px(v, r, c))
    qtbot.waitUntil(lambda: v.status.text() != "", timeout=2000)


def test_render_diagonal_red_far_off_diagonal_blue_and_maxima_outlined(qtbot):
    snap = henighan_snapshot(7)
    v = show(qtbot, GramView())
    v.set_frame(make_frame(snap))
    img = render(v)
    assert v.maxima_cols.tolist() == list(range(7))
    for i in range(7):
        d = rgb_at(img, _cell_px(v, i, i))
        assert d[0] > d[2] + 15, d  # red-ish: p_i(W_i) = 1 > 0
        far = (i + 3) % 7  # p_i(W_{i+3}) = r^2 (cos(6 pi/7) - cos(2 pi/7)) < 0, the most negative
        f = rgb_at(img, _cell_px(v, i, far))
        assert f[2] > f[0] + 60, f
        assert np.abs(f - value_color(v.values[i, far], v.limit)).max() < 12
    # the outline of a row maximum: dark pixels on the diagonal cell's border
    p0, p1 = _cell_px(v, 2, 2), _cell_px(v, 3, 3)
    half = (p1.x() - p0.x()) / 2  # the border between cells (2, 1) and (2, 2), maybe between two pixels
    edge = min((rgb_at(img, type(p0)(int(round(p0.x() - half)) + dx, p0.y())) for dx in (-1, 0, 1)),
               key=lambda px: px.max())
    assert edge.max() < 90, edge


def test_relu_toggle_shows_the_reconstruction_of_I(qtbot):
    snap = henighan_snapshot(7)
    v = show(qtbot, GramView())
    v.set_frame(make_frame(snap))
    v.relu_box.setChecked(True)
    assert v.settings.relu
    np.testing.assert_allclose(v.values, np.eye(7), atol=1e-9)
    img = render(v)
    off = rgb_at(img, _cell_px(v, 0, 3))  # ReLU'd negative: white
    assert off.min() > 235, off
    v.set_settings(GramSettings(relu=False))
    assert not v.relu_box.isChecked() and v.values.min() < 0


def test_without_b_the_block_is_wtw_of_henighans_polygon(qtbot):
    """Henighan's n-gon: (W^T W)_ij = r^2 cos(2 pi (i - j)/n), r^2 = 1/(1 - cos 2 pi/n); with
    b_i = -r^2 cos 2 pi/n the diagonal is exactly 1 (ReLU(W^T W + b) = I)."""
    n = 7
    snap = henighan_snapshot(n)
    v = show(qtbot, GramView())
    v.set_frame(make_frame(snap))
    c = math.cos(2 * math.pi / n)
    r2 = 1 / (1 - c)
    np.testing.assert_allclose(np.diag(v.values), 1.0, atol=1e-12)
    seen = []
    v.settingsChanged.connect(seen.append)
    v.bias_box.setChecked(False)  # the checkbox asks for W^T W alone
    assert seen == [GramSettings(bias=False)] and not v.settings.bias
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    np.testing.assert_allclose(v.values, r2 * np.cos(2 * math.pi * (i - j) / n), atol=1e-12)
    assert v.note.text().startswith("W\u1d40W:")
    render(v)
    _hover(qtbot, v, 0, 1)
    assert v.status.text().startswith("D_1\u00b7W_2 = ")
    v.set_settings(GramSettings(bias=False, order="angle"))  # the value drives the controls
    assert v.order_combo.currentData() == "angle" and not v.bias_box.isChecked() and len(seen) == 2


def test_hover_and_click_a_row(qtbot):
    snap = henighan_snapshot(7)
    v = show(qtbot, GramView())
    v.set_frame(make_frame(snap))
    render(v)
    _hover(qtbot, v, 2, 4)  # row 2, column 4: p_3(W_5)
    assert v.status.text().startswith("p_3(W_5) = ")
    assert float(v.status.text().split("=")[1]) == pytest.approx(snap.W[:, 2] @ snap.W[:, 4] + snap.b[2])
    with qtbot.waitSignal(v.featureClicked, timeout=1000) as sig:
        qtbot.mouseClick(v.plot.viewport(), Qt.MouseButton.LeftButton, pos=_cell_px(v, 5, 1))
    assert sig.args == [5]


def test_large_n_shows_a_block_and_says_so(qtbot):
    snap = circle_snapshot(10_000)
    v = show(qtbot, GramView())
    v.set_frame(make_frame(snap, analysis=False, selected=frozenset({9999})))
    assert len(v.block) == BLOCK_MAX and v.block[0] == 9999
    assert v.values.shape == (BLOCK_MAX, BLOCK_MAX)
    assert f"{BLOCK_MAX} of 10000" in v.note.text()
    v.order_combo.setCurrentIndex(v.order_combo.findData("angle"))
    assert v.settings.order == "angle"
    ang = geo.angles(snap.W[:, v.block])
    assert (np.diff(ang) < 0).sum() <= 1  # counter-clockwise once around, from the lowest-numbered feature
    assert v.block[0] == v.block.min()
    render(v)


# ------------------------------------------------ WᵀW as the seed draws it, the colour bar, the space
def test_symmetric_failure_wtw_has_a_zero_row_and_column_drawn_white_and_no_maximum(qtbot):
    """The seed's failure (regular hexagon, W_7 = 0, b_7 = 1/7) drawn as WᵀW (bias off): row and
    column 7 are exactly 0 (the seed's figure), drawn in the colour of 0, and the flat row has no
    outlined maximum; with b, row 7 is b_7 = 1/7 everywhere, still flat."""
    snap = symmetric_failure_snapshot()
    v = show(qtbot, GramView())
    v.set_settings(GramSettings(bias=False))
    v.set_frame(make_frame(snap))
    dead = int(np.nonzero(v.block == 6)[0][0])
    assert np.all(v.values[dead, :] == 0.0) and np.all(v.values[:, dead] == 0.0)
    live = [r for r in range(7) if r != dead]
    r2 = 1 / (1 - math.cos(2 * math.pi / 6))  # Henighan's hexagon: r^2 = 2, the diagonal of WᵀW
    np.testing.assert_allclose(np.diag(v.values)[live], r2, atol=1e-12)
    assert v.maxima_cols[dead] == -1 and [int(v.maxima_cols[r]) for r in live] == live
    img = render(v)
    white = np.array(value_color(0.0, v.limit), float)
    for c in range(7):
        assert np.abs(rgb_at(img, _cell_px(v, dead, c)) - white).max() < 6
        assert np.abs(rgb_at(img, _cell_px(v, c, dead)) - white).max() < 6
    _hover(qtbot, v, dead, dead)
    assert "row maximum" not in v.status.text() and v.status.text().startswith("D_7\u00b7W_7 = 0")
    v.set_settings(GramSettings(bias=True))
    np.testing.assert_allclose(v.values[dead], 1 / 7, atol=1e-15)
    assert v.maxima_cols[dead] == -1


def test_flat_rows_are_judged_at_float32_resolution():
    """A dead feature trained to |W_d| ~ 1e-9 leaves a row that differs by ~1e-9 of a scale-1
    matrix: flat. A row whose maximum stands out by 1e-4 of the scale keeps it."""
    P = np.array([[1.0, -0.5, 0.2], [1e-9, -1e-9, 0.0], [0.0, 1e-4, 0.0]])
    assert row_maxima(P).tolist() == [0, -1, 1]


def test_colour_bar_spans_the_drawn_values_and_reads_them(qtbot):
    """The colour bar's levels are the image's, ±max|entry| of what is drawn (Henighan n = 7 without
    b: ±r², r² = 1/(1 - cos 2π/7)); its axis labels values in that range; its top colour is the
    colour of +L in the matrix and its bottom the colour of -L."""
    n = 7
    snap = henighan_snapshot(n)
    v = show(qtbot, GramView())
    v.set_settings(GramSettings(bias=False))
    v.set_frame(make_frame(snap))
    r2 = 1 / (1 - math.cos(2 * math.pi / n))
    assert v.limit == pytest.approx(r2, abs=1e-12) and v.limit == np.abs(v.values).max()
    assert v.bar.levels() == pytest.approx((-r2, r2), abs=1e-12)
    assert tuple(v.image.getLevels()) == pytest.approx((-r2, r2), abs=1e-12)
    assert v.bar.isVisible() and v.bar.axis.range == pytest.approx([-r2, r2], abs=1e-12)
    np.testing.assert_array_equal(v.bar.colorMap().getLookupTable(nPts=256, alpha=True), diverging_lut())
    QApplication.processEvents()
    ticks = [t for level in v.bar.axis.tickValues(-r2, r2, v.bar.axis.size().height()) for t in level[1]]
    assert ticks and all(-r2 <= t <= r2 for t in ticks) and any(t < -1 for t in ticks) and any(t > 1 for t in ticks)
    grab = v.plot.viewport().grab().toImage()
    bar = v.bar.bar.sceneBoundingRect()
    x = int(bar.center().x())
    top = rgb_at(grab, QPoint(x, int(bar.top()) + 2))
    bottom = rgb_at(grab, QPoint(x, int(bar.bottom()) - 2))
    assert np.abs(top - value_color(r2, r2)).max() < 12 and np.abs(bottom - value_color(-r2, r2)).max() < 12
    v.set_settings(GramSettings(bias=True))  # Henighan with b: entries from 1 down to r²(cos 6π/7) + b
    assert v.bar.levels() == pytest.approx((-v.limit, v.limit)) and v.limit == pytest.approx(np.abs(v.values).max())


def test_colour_bar_setting_round_trips_through_set_and_json():
    from app.export.view_settings import SettingError, apply_sets, from_json, to_json

    views, _, _ = apply_sets(["gram.colorbar=off", "gram.bias=false"], ("gram",), n=7)
    assert views["gram"] == GramSettings(bias=False, colorbar=False)
    assert from_json(GramSettings, to_json(views["gram"]), lambda w: None) == views["gram"]
    assert GramSettings().colorbar  # on by default: a heatmap without a scale reads as nothing
    with pytest.raises(SettingError, match=r"--set gram\.colorbar: .*true or false"):
        apply_sets(["gram.colorbar=sometimes"], ("gram",), n=7)


def _matrix_px(v):
    QApplication.processEvents()
    a, b = v.map_to_viewport(0, 0), v.map_to_viewport(len(v.block), len(v.block))
    return a, b, abs(b.x() - a.x()), abs(b.y() - a.y())


@pytest.mark.parametrize("size", [(900, 300), (360, 720), (520, 480), (1250, 275)])
def test_the_matrix_fills_its_panel_with_square_cells_centred(qtbot, size):
    """At any panel size the matrix is square and takes the whole shorter side of the plot (less
    the axes and the bar), centred along the longer: the window's wide, short dock (1250 x 275) drew
    it in a box padded on all sides, at the left of an empty strip."""
    snap = symmetric_failure_snapshot()
    v = show(qtbot, GramView(), size=size)
    v.set_frame(make_frame(snap))
    render(v)
    a, b, w, h = _matrix_px(v)
    assert abs(w - h) <= 1.5, (w, h)
    pw, ph = v.plot.viewport().width(), v.plot.viewport().height()
    left = v.plot_item.getAxis("left").width()
    bottom = v.plot_item.getAxis("bottom").height()
    bar = v.bar.width() + 5
    if pw - left - bar > ph - bottom:  # wide: the height is filled ...
        assert h >= ph - bottom - 4, (h, ph, bottom)
        group_l, group_r = a.x() - left, pw - (b.x() + bar)  # ... and axis + matrix + bar centred
        assert abs(group_l - group_r) <= 4, (group_l, group_r)
    else:  # tall: the width is filled, the matrix centred vertically (the bottom axis below it)
        assert w >= pw - left - bar - 6, (w, pw, left, bar)
        assert abs(a.y() - (ph - b.y() - bottom)) <= 4, (a.y(), ph - b.y() - bottom)
    # the axis and the bar sit against the matrix, not at the panel's edges
    def edge(item, right):  # the item's laid-out left or right edge, in viewport pixels
        g = item.geometry()
        return v.plot.mapFromScene(v.plot_item.mapToScene(g.topRight() if right else g.topLeft())).x()

    axis_right, bar_left = edge(v.plot_item.getAxis("left"), True), edge(v.bar, False)
    assert abs(a.x() - axis_right) <= 2 and 0 <= bar_left - b.x() <= 8, (a.x(), axis_right, b.x(), bar_left)
    before = w
    v.set_settings(GramSettings(colorbar=False))  # the bar's column goes back to the matrix
    render(v)
    assert not v.bar.isVisible()
    assert _matrix_px(v)[2] >= before - 0.5
