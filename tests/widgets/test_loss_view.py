"""Loss view: zeros and NaN do not break the log axis; the step line follows snap.step;
the shown model is highlighted, others faint or a band."""
import math

import numpy as np
import pytest

from model.snapshot import Snapshot
from tests.widgets import framed, henighan_snapshot, make_frame, render, rgb_at, show
from widgets.loss_view import OTHERS_MAX, LossView, downsample_peak, log_losses, loss_series, step_loss


def test_log_losses_and_series_with_zeros_and_nan():
    steps = np.arange(6) * 10.0
    L = np.array([[1.0, 2.0], [0.1, 0.0], [0.0, np.nan], [-1.0, 0.5], [np.inf, 0.3], [0.01, 0.2]])
    lg = log_losses(L)
    assert np.isnan(lg[1, 1]) and np.isnan(lg[2, 0]) and np.isnan(lg[3, 0]) and np.isnan(lg[4, 0])
    assert lg[0, 0] == 0.0 and lg[5, 0] == -2.0
    s = loss_series(steps, L, model=0)
    assert s["nonpositive"] == 3 and s["nan"] == 2
    np.testing.assert_allclose(s["main"][[0, 1, 5]], [0, -1, -2])
    assert len(s["others"]) == 1 and s["band"] is None
    s1 = loss_series(steps, L, model=1)
    assert np.isnan(s1["main"][1]) and s1["model"] == 1


def test_many_models_become_a_band():
    steps = np.arange(50.0)
    K = OTHERS_MAX + 5
    L = np.exp(-steps[:, None] / 20) * np.linspace(1, 2, K)[None, :]
    L[3, :] = np.nan  # a step with no value at all is dropped from the band
    s = loss_series(steps, L, model=2)
    x, lo, med, hi = s["band"]
    assert s["others"] is None and len(x) == 49
    assert np.all(lo <= med) and np.all(med <= hi)
    np.testing.assert_allclose(hi, np.log10(L[np.arange(50) != 3, -1]))


def test_downsample_peak_keeps_extremes():
    x = np.arange(10_000.0)
    y = np.sin(x / 300.0)
    y[5000] = 7.0
    y[7000] = np.nan
    dx, dy = downsample_peak(x, y, 1000)
    assert len(dx) <= 1100 and np.nanmax(dy) == 7.0 and np.nanmin(dy) == pytest.approx(-1, abs=1e-3)
    assert np.all(np.diff(dx) >= 0)
    same = downsample_peak(x[:50], y[:50], 1000)
    assert np.array_equal(same[1], y[:50])


def _ctx(snap, losses, steps=None, model=0):
    steps = np.arange(losses.shape[0]) * 10 if steps is None else steps
    return make_frame(snap, analysis=False, loss_steps=steps, losses=losses, model=model)


def test_view_survives_zeros_nan_and_all_nan(qtbot):
    snap = henighan_snapshot(7)
    v = show(qtbot, LossView())
    L = np.exp(-np.arange(100) / 30.0)[:, None] * np.ones((1, 3))
    L[10, 0] = 0.0
    L[20, 0] = np.nan
    L[30, 1] = -1.0
    v.set_frame(framed(snap, _ctx(snap, L)))
    render(v)
    (x0, x1), (y0, y1) = v.vb.viewRange()
    assert all(math.isfinite(t) for t in (x0, x1, y0, y1))
    assert y0 < -1.2 and y1 > -0.2  # log10 of the losses: 1 down to e^-3.3
    assert "2 zero/negative and 1 NaN/inf not drawn" in v.note.text()
    v.set_frame(framed(snap, _ctx(snap, np.full((10, 2), np.nan))))
    render(v)
    v.set_frame(framed(Snapshot(5, snap.W, snap.b, loss=0.0), _ctx(snap, np.zeros((10, 1)))))
    render(v)
    assert len(v.marker.data) == 0  # a zero loss has no place on a log axis
    v.set_frame(None)
    assert not v.step_line.isVisible()


def test_step_line_moves_with_the_snapshot(qtbot):
    W, b = henighan_snapshot(7).W, henighan_snapshot(7).b
    L = np.exp(-np.arange(100) / 30.0)[:, None]
    v = show(qtbot, LossView())
    ctx = _ctx(henighan_snapshot(7), L)
    v.set_frame(framed(Snapshot(200, W, b, loss=float(L[20, 0])), ctx))
    img = render(v)
    assert v.step_line.value() == 200
    px200 = v.map_to_viewport(200, 0).x()
    v.set_frame(framed(Snapshot(700, W, b, loss=float("nan")), ctx))
    img2 = render(v)
    assert v.step_line.value() == 700
    px700 = v.map_to_viewport(700, 0).x()
    assert px700 > px200 + 50
    # the line's red is at the new x and gone from the old one (mid height)
    y = v.plot.viewport().height() // 2
    red = lambda c: c[0] > 150 and c[1] < 120 and c[2] < 120  # noqa: E731
    col = lambda im, x: [rgb_at(im, type(v.map_to_viewport(0, 0))(x + d, y)) for d in (-1, 0, 1)]  # noqa: E731
    assert any(red(c) for c in col(img, px200)) and not any(red(c) for c in col(img2, px200))
    assert any(red(c) for c in col(img2, px700))
    # no snapshot loss: the marker takes the shown model's value at the last step <= 700
    assert v.marker.data["y"][0] == np.log10(L[70, 0])
    assert step_loss([0, 10], np.array([0.0, -1.0]), 15, float("nan")) == -1.0


def test_shown_model_is_highlighted(qtbot):
    snap = henighan_snapshot(7)
    L = np.exp(-np.arange(100) / 30.0)[:, None] * np.array([[1.0, 3.0, 5.0]])
    v = show(qtbot, LossView())
    v.set_frame(framed(snap, _ctx(snap, L, model=1)))
    x, y = v.main.getData()
    np.testing.assert_allclose(y, np.log10(L[:, 1]))
    assert v.others_count == 2 and v.others_curve.isVisible()
    xo, yo = v.others_curve.getData()
    assert np.isnan(yo).sum() == 2  # two curves, NaN-separated
    assert "model 1 of models 0–2" in v.note.text()  # 0-based, as the models table and --model k


def test_axes_have_no_si_prefix_scale(qtbot):
    """Losses from 0.1 down to 1e-4: the log axis reads 'loss' over powers of ten, never
    'loss (x0.001)' over rescaled ticks (pyqtgraph's auto SI prefix on a log axis)."""
    snap = henighan_snapshot(7)
    L = np.logspace(-1, -4, 400)[:, None]  # this range made pyqtgraph pick a x1000 scale
    v = show(qtbot, LossView())
    v.set_frame(framed(Snapshot(20_000, snap.W, snap.b, loss=1e-9), _ctx(snap, L, steps=np.arange(400) * 50)))
    render(v)
    for name in ("left", "bottom"):
        ax = v.plot_item.getAxis(name)
        assert ax.autoSIPrefixScale == 1.0 and "(x" not in ax.labelString()


def test_hover_shows_the_runs_loss_at_the_hovered_step_not_the_pointer_height(qtbot):
    """Issue 22 item 10: the hover line reads the shown model's recorded loss at the last recorded
    step <= the pointer's step, whatever the pointer's height; models numbered from 0."""
    v = LossView()
    show(qtbot, v, (400, 300))
    steps = np.arange(0, 1000, 10)
    L = np.column_stack([np.exp(-steps / 300.0), 2 * np.exp(-steps / 300.0), 3 + 0 * steps])
    snap = henighan_snapshot(7)
    v.set_frame(make_frame(snap, loss_steps=steps, losses=L, model=1))
    text = v.hover_text(455.0)  # between the records at 450 and 460: the one at 450
    assert text == f"model 1 · step 450: loss {2 * math.exp(-450 / 300):.6g}"
    v._hovered(455.0, 5.0)  # the pointer far above the curve: the same text
    assert v.status.text() == text
    assert "model 1 of models 0–2" in v.note.text()
    assert v.hover_text(-5.0).startswith("before the first recorded step")


def test_a_log_axis_within_one_decade_has_labelled_ticks(qtbot):
    """Issue 22 item 10: a loss range 0.12..0.16 holds no power of ten; round values are labelled."""
    from widgets.loss_view import LogLossAxis, nice_linear_ticks

    np.testing.assert_allclose(nice_linear_ticks(0.12, 0.16), [0.12, 0.13, 0.14, 0.15, 0.16])
    v = LossView()
    show(qtbot, v, (400, 300))
    axis = v.plot_item.getAxis("left")
    assert isinstance(axis, LogLossAxis)
    lo, hi = math.log10(0.12), math.log10(0.16)
    v.plot_item.setYRange(lo, hi, padding=0)
    ticks = axis.tickValues(lo, hi, 300)
    values = [t for _, vals in ticks for t in vals]
    assert len(values) >= 3 and all(lo - 1e-9 <= t <= hi + 1e-9 for t in values)
    labels = axis.tickStrings(values, 1.0, 1.0)
    assert labels[:2] == ["0.12", "0.13"] or labels[0] in ("0.12", "0.13")
    assert all(0.12 <= float(s) <= 0.16 for s in labels)
    # over several decades, pyqtgraph's own decade ticks stay
    v.plot_item.setYRange(-4, 0, padding=0)
    assert any(abs(t - round(t)) < 1e-9 for _, vals in axis.tickValues(-4, 0, 300) for t in vals)
