"""Every view draws a snapshot whose parameters are not finite as "not finite at this step"
(issue 21, item 1): the zones, wheel, WᵀW + b, bias, loss, verdict panel and the 3D view, from
the same frame the window and the exports hand them, without computing anything from NaN or
inf; the next finite snapshot hides the message and is drawn as before.

The snapshot is the seed's symmetric failure (a regular hexagon and a dead seventh feature)
with NaN or inf put in W or only in b (only in b: no verdict either, not a confident one)."""
from __future__ import annotations

import numpy as np
import pytest

from model.snapshot import NOT_FINITE, NOT_FINITE_TEXT, Snapshot
from tests.widgets import framed, make_frame, show, symmetric_failure_snapshot

BAD = {
    "W inf": ("W", np.inf, "W of feature 7 is inf"),
    "W NaN": ("W", np.nan, "W of feature 7 is NaN"),
    "only b NaN": ("b", np.nan, "b_7 is NaN"),
}


def bad_snapshot(what: str, value: float) -> Snapshot:
    s = symmetric_failure_snapshot(step=4200)
    W, b = s.W.copy(), s.b.copy()
    if what == "W":
        W[:, 6] = value
    else:
        b[6] = value
    return Snapshot(s.step, W, b, loss=float("nan"))


def ctx_for(snap: Snapshot, good: Snapshot):
    """The context a frame gives: the losses of a run, the colours, no analysis for a bad frame."""
    from model.snapshot import nonfinite_text

    steps = np.arange(0, 5000, 100)
    losses = np.linspace(1.0, 6 / 49, len(steps))[:, None]
    return make_frame(good, analysis=snap.finite, loss_steps=steps, losses=losses, nonfinite=nonfinite_text(snap))


@pytest.mark.parametrize("key", ["zones", "wheel", "gram", "bias", "loss", "verdict"])
@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.slow
def test_every_2d_view_says_not_finite_and_draws_again_after(qtbot, key, case):
    from widgets.views2d import make_views

    what, value, where = BAD[case]
    view = make_views()[key]
    show(qtbot, view)
    good = symmetric_failure_snapshot(step=4100)
    view.set_frame(make_frame(good))
    bad = bad_snapshot(what, value)
    view.set_frame(framed(bad, ctx_for(bad, good)))  # must not raise
    want = f"{NOT_FINITE_TEXT} (step 4,200)"
    if key == "verdict":
        assert view.verdict == NOT_FINITE and view.analysis is None  # no confident verdict from NaN b either
        assert view.title.text() == want and where in view.header.text()
        assert view.model.rowCount() == 0
    else:
        item = view._not_finite
        assert item is not None and item.isVisible()
        text = item.toPlainText()
        assert want in text and where in text, text
        assert view._snap is None  # nothing of the bad snapshot kept to hover, click or redraw
    view.set_frame(make_frame(good))
    if key == "verdict":
        assert view.verdict == "symmetric_failure"
    else:
        assert not view._not_finite.isVisible() and view._snap is good


def test_the_message_is_painted_in_the_plot(qtbot):
    """The message is an item of the plot's scene, centred: its dark red shows in the pixels."""
    from tests.widgets import render
    from widgets.views2d import make_views

    view = make_views()["zones"]
    show(qtbot, view)
    good = symmetric_failure_snapshot()
    bad = bad_snapshot("W", np.inf)
    view.set_frame(framed(bad, ctx_for(bad, good)))
    img = render(view)
    w, h = img.width(), img.height()
    red = 0
    for y in range(h // 3, 2 * h // 3, 2):
        for x in range(0, w, 2):
            c = img.pixelColor(x, y)
            red += c.red() > 110 and c.green() < 80 and c.blue() < 80
    assert red > 20, f"{red} dark red pixels in the middle third"


def test_the_3d_view_says_not_finite_in_its_status_and_its_image(qtbot, qapp):
    if qapp.platformName() in ("offscreen", "minimal"):
        pytest.skip("GL needs a real X server (run under xvfb-run)")
    from render3d.plane_view import PlaneView

    v = PlaneView()
    show(qtbot, v, (620, 520))
    good = symmetric_failure_snapshot()
    v.set_frame(make_frame(good))
    assert v.scene is not None
    bad = bad_snapshot("b", np.nan)
    v.set_frame(framed(bad, ctx_for(bad, good)))
    assert v.scene is None
    assert v.status.text() == f"{NOT_FINITE_TEXT} (step 4,200): b_7 is NaN"
    img = v.render_image(400, 300)
    arr = np.array([[img.pixelColor(x, y).getRgb()[:3] for x in range(0, 400, 2)] for y in range(100, 200, 2)])
    dark_red = (arr[..., 0] > 110) & (arr[..., 1] < 80) & (arr[..., 2] < 80)
    assert dark_red.sum() > 20
    v.set_frame(make_frame(good))
    assert v.scene is not None and NOT_FINITE_TEXT not in v.status.text()
