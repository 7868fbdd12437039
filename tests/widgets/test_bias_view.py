"""Bias and norm bars: geometry of the bars, colours in the render, clicks, large n."""
import numpy as np
from PyQt6.QtCore import Qt

from tests.widgets import circle_snapshot, framed, make_frame, render, rgb_at, show, symmetric_failure_snapshot
from widgets.bias_view import BIN_MIN, BiasNormView, bar_at, bar_bins, bar_rects, bins_rgba


def test_bar_rects_and_bar_at():
    v = np.array([0.5, -1.0, 0.0, np.nan])
    x0, x1, y0, y1 = bar_rects(v, 0.8)
    np.testing.assert_allclose(x0, [0.6, 1.6, 2.6, 3.6])
    np.testing.assert_allclose(y0, [0, -1, 0, 0])
    np.testing.assert_allclose(y1, [0.5, 0, 0, 0])
    assert bar_at(v, 1.1, 0.3) == 0
    assert bar_at(v, 1.1, 0.7) == -1  # above the bar
    assert bar_at(v, 2.0, -0.5) == 1
    assert bar_at(v, 1.5, 0.1) == -1  # in the gap between bars
    assert bar_at(v, 3.0, 0.02, tol_y=0.05) == 2  # a zero bar is clickable near 0
    assert bar_at(v, 9.0, 0.0) == -1


def test_bar_bins_keep_the_peaks():
    v = np.array([0.1, -2.0, 0.3, 0.2, 5.0, 0.0, 0.1])
    x0, x1, y0, y1, owner, k = bar_bins(v, 0.5, 7.5, 3)
    assert k == 3
    np.testing.assert_allclose(y0, [-2.0, 0.0, 0.0])
    np.testing.assert_allclose(y1, [0.3, 5.0, 0.1])
    assert owner.tolist() == [1, 4, 6]
    np.testing.assert_allclose(x0, [0.5, 3.5, 6.5])


def test_bins_rgba_fills_each_column_between_its_ends():
    cols = np.array([[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]], np.uint8)
    img = bins_rgba(np.array([-1.0, 0.0, 0.0]), np.array([0.0, 0.5, 0.01]), cols, -1.0, 1.0, 20)
    assert img.shape == (20, 3, 4)
    assert img[:10, 0, 3].tolist() == [255] * 10 and img[10:, 0, 3].tolist() == [0] * 10
    assert img[10:15, 1, 1].tolist() == [255] * 5 and img[15:, 1, 3].max() == 0 and img[:10, 1, 3].max() == 0
    assert img[10, 2, 2] == 255 and img[:, 2, 3].sum() == 255  # shorter than a row: one pixel


def test_bars_in_feature_colours_and_clicks(qtbot):
    snap = symmetric_failure_snapshot()
    ctx = make_frame(snap)
    v = show(qtbot, BiasNormView())
    v.set_frame(framed(snap, ctx))
    img = render(v)
    img2 = render(v, v.plot2)
    for k in range(6):  # b_k = -1 (Henighan n = 6), |W_k| = r
        c = rgb_at(img, v.map_to_viewport(k + 1, snap.b[k] / 2))
        assert np.abs(c - ctx.colors[k, :3]).max() < 12, (k, c)
        c2 = rgb_at(img2, v.map_to_viewport2(k + 1, v.norm_values[k] / 2))
        assert np.abs(c2 - ctx.colors[k, :3]).max() < 12
    c7 = rgb_at(img, v.map_to_viewport(7, snap.b[6] / 2))  # b_7 = 1/7 > 0, above the axis
    assert np.abs(c7 - ctx.colors[6, :3]).max() < 12
    with qtbot.waitSignal(v.featureClicked, timeout=1000) as sig:
        qtbot.mouseClick(v.plot.viewport(), Qt.MouseButton.LeftButton, pos=v.map_to_viewport(3, -0.5))
    assert sig.args == [2]
    with qtbot.waitSignal(v.featureClicked, timeout=1000) as sig:
        qtbot.mouseClick(v.plot2.viewport(), Qt.MouseButton.LeftButton,
                         pos=v.map_to_viewport2(5, 0.5 * v.norm_values[4]))
    assert sig.args == [4]


def test_selected_bars_are_outlined_and_labelled(qtbot):
    snap = symmetric_failure_snapshot()
    v = show(qtbot, BiasNormView())
    v.set_frame(make_frame(snap, selected=frozenset({1})))
    assert v._pairs[0][2].texts() == ["2"] and v._pairs[1][2].texts() == ["2"]
    assert v._pairs[0][1].group_count() == 1


def test_large_n_bins_the_bars(qtbot):
    snap = circle_snapshot(10_000)
    v = show(qtbot, BiasNormView())
    v.set_frame(make_frame(snap, analysis=False))
    render(v)
    assert v.binned and v.bin_size > 1 and BIN_MIN < 10_000
    assert "peak of" in v.note.text()
    # the column image holds the colour of each bin's peak feature
    img = v._bin_images[0]
    assert img.isVisible() and img.image.shape[1] * v.bin_size >= 10_000
    # zoom in to 40 features: one bar per feature again
    v.vb.setXRange(100, 140, padding=0)
    render(v)
    assert v.bin_size == 1
    with qtbot.waitSignal(v.featureClicked, timeout=1000) as sig:
        qtbot.mouseClick(v.plot.viewport(), Qt.MouseButton.LeftButton, pos=v.map_to_viewport(120, snap.b[119] / 2))
    assert sig.args == [119]


def test_the_two_plots_are_unlinked_before_qt_deletes_them(qtbot):
    """The norm plot's x axis follows the bias plot's (a pyqtgraph link). Qt emits destroyed()
    before it deletes a widget's children: the link must be gone by then, or a resize reaching one
    view box after the other's C++ object was deleted raises in the event loop and can crash."""
    from PyQt6.QtCore import QCoreApplication, QEvent

    v = BiasNormView()
    qtbot.addWidget(v)
    vb, vb2 = v.vb, v.vb2
    assert vb2.linkedView(vb2.XAxis) is vb  # linked while alive
    seen = []
    v.destroyed.connect(lambda *_: seen.append((vb2.linkedView(vb2.XAxis), vb.linkedView(vb.XAxis))))
    v.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    assert seen == [(None, None)]
