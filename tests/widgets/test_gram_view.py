"""W^T W + b heatmap: row maxima on Henighan's diagonal, diverging colours in the render,
the ReLU toggle, hover and click, the block at large n."""
import math

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from model import geometry as geo
from model.snapshot import Snapshot
from tests.widgets import circle_snapshot, henighan_snapshot, make_ctx, render, rgb_at, show
from widgets.gram_view import (BLOCK_MAX, GramSettings, GramView, block_indices, diverging_lut, gram_block, row_maxima,
                               symmetric_limit, value_color)


@pytest.mark.parametrize("n", [3, 5, 7, 10, 64, 301])
def test_henighan_row_maxima_are_exactly_the_diagonal(n):
    snap = henighan_snapshot(n)
    P = geo.wtw_plus_b(snap.W, snap.b)
    assert row_maxima(P).tolist() == list(range(n))
    np.testing.assert_allclose(gram_block(snap, np.arange(n), relu=True), np.eye(n), atol=1e-9)


def test_row_maxima_of_a_non_diagonal_matrix():
    P = np.array([[0.0, 2.0, 1.0], [3.0, np.nan, -1.0], [0.5, 0.5, 0.2]])
    assert row_maxima(P).tolist() == [1, 0, 0]


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


def test_render_diagonal_red_far_off_diagonal_blue_and_maxima_outlined(qtbot):
    snap = henighan_snapshot(7)
    v = show(qtbot, GramView())
    v.set_snapshot(snap, make_ctx(snap))
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
    v.set_snapshot(snap, make_ctx(snap))
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
    v.set_snapshot(snap, make_ctx(snap))
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
    v._hovered(1.5, 0.5)
    assert v.status.text().startswith("D_1\u00b7W_2 = ")
    v.set_settings(GramSettings(bias=False, order="angle"))  # the value drives the controls
    assert v.order_combo.currentData() == "angle" and not v.bias_box.isChecked() and len(seen) == 2


def test_hover_and_click_a_row(qtbot):
    snap = henighan_snapshot(7)
    v = show(qtbot, GramView())
    v.set_snapshot(snap, make_ctx(snap))
    render(v)
    v._hovered(4.5, 2.5)  # row 2, column 4: p_3(W_5)
    assert v.status.text().startswith("p_3(W_5) = ")
    assert float(v.status.text().split("=")[1]) == pytest.approx(snap.W[:, 2] @ snap.W[:, 4] + snap.b[2])
    with qtbot.waitSignal(v.featureClicked, timeout=1000) as sig:
        qtbot.mouseClick(v.plot.viewport(), Qt.MouseButton.LeftButton, pos=_cell_px(v, 5, 1))
    assert sig.args == [5]


def test_large_n_shows_a_block_and_says_so(qtbot):
    snap = circle_snapshot(10_000)
    v = show(qtbot, GramView())
    v.set_snapshot(snap, make_ctx(snap, analysis=False, selected=frozenset({9999})))
    assert len(v.block) == BLOCK_MAX and v.block[0] == 9999
    assert v.values.shape == (BLOCK_MAX, BLOCK_MAX)
    assert f"{BLOCK_MAX} of 10000" in v.note.text()
    v.order_combo.setCurrentIndex(v.order_combo.findData("angle"))
    assert v.settings.order == "angle"
    ang = geo.angles(snap.W[:, v.block])
    assert np.all(np.diff(ang) >= 0)
    render(v)
