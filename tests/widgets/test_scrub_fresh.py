"""Scrubbing never leaves a view stale: what a view kept from one frame to the next (the wheel's dead rings,
the verdict panel's laid-out findings, the 3D view's labels) is rebuilt when the frame asks for something
else. Each view is scrubbed A -> B -> C -> A and compared, at every step, with a fresh view of the same size
that drew only that frame: the pictures are equal pixel for pixel."""
import itertools

import numpy as np
import pytest

from tests.widgets import henighan_snapshot, make_frame, render, show, symmetric_failure_snapshot


def _pixels(img):
    from PyQt6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB32)
    a = np.frombuffer(img.constBits().asstring(img.sizeInBytes()), np.uint8).reshape(img.height(), -1, 4)
    return a[:, : img.width(), :3].copy()


def _rolled_failure(k: int):
    """The symmetric failure with its features rolled by k: the dead feature is 7 - k instead of 7 (another
    dead set, in another colour), the same geometry otherwise."""
    from model.snapshot import Snapshot

    s = symmetric_failure_snapshot(step=300 + k)
    return Snapshot(s.step, np.roll(s.W, -k, axis=1), np.roll(s.b, -k), loss=s.loss)


def _frames():
    """A (dead feature 7), B (Henighan n = 7: none dead), C (dead feature 5), A again."""
    a, b, c = symmetric_failure_snapshot(), henighan_snapshot(7), _rolled_failure(2)
    return [("A", make_frame(a)), ("B", make_frame(b)), ("C", make_frame(c)), ("A", make_frame(a))]


def test_the_wheel_scrubbed_equals_a_fresh_wheel_at_each_step(qtbot):
    from widgets.feature_wheel import FeatureWheelView

    v = show(qtbot, FeatureWheelView())
    seen = {}
    for name, fr in _frames():
        v.set_frame(fr)
        fresh = show(qtbot, FeatureWheelView())
        fresh.set_frame(fr)
        got, want = _pixels(render(v)), _pixels(render(fresh))
        assert got.shape == want.shape
        assert np.array_equal(got, want), f"step {name}: the scrubbed wheel differs from a fresh one"
        assert v.dead_marked == fresh.dead_marked
        assert v.dead_rings.isVisible() == fresh.dead_rings.isVisible() == bool(fresh.dead_marked)
        seen[name] = list(v.dead_marked)
        fresh.close()
    assert seen == {"A": [6], "B": [], "C": [4]}  # three dead sets really were scrubbed through


def test_the_verdict_panel_scrubbed_equals_a_fresh_panel_at_each_step(qtbot, qapp):
    from widgets.verdict_panel import VerdictPanel

    v = show(qtbot, VerdictPanel())
    heights = set()
    for name, fr in _frames():
        v.set_frame(fr)
        qapp.processEvents()
        fresh = show(qtbot, VerdictPanel())
        fresh.set_frame(fr)
        qapp.processEvents()
        assert v.header.geometry() == fresh.header.geometry(), f"step {name}: findings laid out stale"
        assert v.title.geometry() == fresh.title.geometry()
        assert np.array_equal(_pixels(v.grab().toImage()), _pixels(fresh.grab().toImage())), name
        heights.add(v.header.height())
        fresh.close()
    assert len(heights) > 1  # the findings' height did change between the steps (the relayout was needed)


def test_the_verdict_panel_lays_out_a_new_text_inside_the_frame(qtbot, qapp):
    """The findings' and the title's new heights are laid out by set_frame itself: no layout is left to the
    event loop (it ran after the frame's repaint and cost a second repaint of the window per scrubbed frame)."""
    from PyQt6.QtCore import QEvent, QObject

    from widgets.verdict_panel import VerdictPanel

    class Layouts(QObject):
        count = 0

        def eventFilter(self, obj, ev):
            if ev.type() == QEvent.Type.LayoutRequest:
                self.count += 1
            return False

    v = show(qtbot, VerdictPanel())
    frames = _frames()
    late = Layouts()
    for w in (v, v.header_scroll.viewport()):
        w.installEventFilter(late)
    moved = 0
    for (_, before), (name, fr) in itertools.pairwise(frames):
        v.set_frame(before)
        qapp.processEvents()
        h0 = v.header.height()
        v.set_frame(fr)
        moved += v.header.height() != h0  # resized by set_frame, before any event is processed
        late.count = 0  # (set_frame's own layouts pass the filter too: count from here)
        qapp.processEvents()
        assert late.count == 0, f"step {name}: a layout was left to the event loop"
    assert moved  # the text's height did change (there was a layout to do)


@pytest.mark.parametrize("steps", [("A", "B", "A")])
def test_the_wheel_rings_follow_the_colours(qtbot, steps):
    """Same dead feature, other colours (a new colouring of the run): the rings take the new colour."""
    from widgets.feature_wheel import FeatureWheelView

    v = show(qtbot, FeatureWheelView())
    a = make_frame(symmetric_failure_snapshot())
    other = a.colors.copy()
    other[6] = (10, 200, 30, 255)
    b = a.replace(colors=other)
    for name in steps:
        fr = a if name == "A" else b
        v.set_frame(fr)
        pen = v.dead_rings.data["pen"][0]
        want = fr.colors[6][:3]
        assert (pen.color().red(), pen.color().green(), pen.color().blue()) == tuple(int(c) for c in want), name


@pytest.mark.slow
def test_the_3d_view_scrubbed_equals_a_fresh_view_at_each_step(qtbot, qapp):
    """The 3D view's picture in a window (its raster host's image: the GL scene, then the labels painted onto
    it) after A -> B -> C -> A equals, pixel for pixel, a fresh view's that drew only that frame with the same
    camera: nothing of an earlier frame (its scene, its label places, its image) survives into the next."""
    if qapp.platformName() in ("offscreen", "minimal"):
        pytest.skip("GL needs a real X server (run under xvfb-run)")
    from PyQt6.QtWidgets import QMainWindow

    from render3d.plane_view import PlaneView

    def shown_view():
        win = QMainWindow()
        v = PlaneView()
        win.setCentralWidget(v)
        qtbot.addWidget(win)
        win.resize(640, 520)
        win.show()
        qtbot.waitExposed(win)
        qtbot.waitUntil(lambda: v.host is not None, timeout=3000)
        v.set_triple((0, 1, 6))
        return win, v

    _win, v = shown_view()
    pictures = {}
    for name, fr in _frames():
        v.set_frame(fr)
        qapp.processEvents()
        fresh_win, fresh = shown_view()
        fresh.set_frame(fr)
        cam = v.camera_params()
        fresh.set_camera_params(cam["center"], cam["distance"], cam["elevation"], cam["azimuth"], cam["fov"])
        qapp.processEvents()
        got, want = _pixels(v.host.image()), _pixels(fresh.host.image())
        assert got.shape == want.shape
        assert np.array_equal(got, want), f"step {name}: the scrubbed 3D view differs from a fresh one"
        assert [lb.text for lb in v.scene.labels] == [lb.text for lb in fresh.scene.labels]
        pictures.setdefault(name, got)
        fresh_win.close()
    assert not np.array_equal(pictures["A"], pictures["B"]) and not np.array_equal(pictures["B"], pictures["C"])
