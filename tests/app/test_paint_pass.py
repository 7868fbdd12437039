"""A scrubbed frame reaches the screen in one repaint of the window (widgets.paint_pass), and what
reaches the screen is the frame: the window's pixels on the X server equal the window rendered
afresh from its widgets."""
import numpy as np
import pytest
from PyQt6.QtCore import QEvent, QObject
from PyQt6.QtWidgets import QApplication, QWidget


class RepaintCounter(QObject):
    """Counts the window's repaints that painted something (a repaint held back and posted again
    counts once) and the widgets each one painted."""

    def __init__(self, win):
        super().__init__()
        self.win = win
        self.passes: list[list[QWidget]] = []
        self._open = False

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.UpdateRequest and obj is self.win:
            self._open = True
        elif event.type() == QEvent.Type.Paint and isinstance(obj, QWidget) and obj.window() is self.win:
            if self._open:
                self.passes.append([])
                self._open = False
            if self.passes:
                self.passes[-1].append(obj)
        return False


def _settle(qtbot, rounds: int = 5):
    for _ in range(rounds):
        QApplication.processEvents()
        qtbot.wait(20)


def _pixels(img):
    from PyQt6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB32)
    a = np.frombuffer(img.constBits().asstring(img.sizeInBytes()), np.uint8).reshape(img.height(), -1, 4)
    return a[:, : img.width(), :3].copy()


@pytest.fixture
def explore(qtbot, run7):
    from app.gui.main_window import MainWindow

    w = MainWindow(autostart=False, restore=False, layout="explore")
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    assert w.open_run(run7)
    qtbot.waitUntil(w.story_current, timeout=30000)  # the story's arrival redraws: let it come first
    w.timeline.set_follow_live(False)
    w.redraw()
    _settle(qtbot)
    yield w
    w.close()


def _inside(widget, view) -> bool:
    x = widget
    while x is not None:
        if x is view:
            return True
        x = x.parentWidget()
    return False


def test_a_scrubbed_frame_paints_its_views_in_one_repaint_of_the_window(qtbot, explore):
    """The zone map and the wheel are two graphics scenes: each scene's dirty items used to repaint and
    flush the window on their own (two or three repaints a frame, the wheel's in a pass of its own).
    Here the zone map's and the wheel's viewports and the 3D view's image are painted once each, in the
    same repaint. (The 3D status line, a selectable QLabel, repaints itself once more a few event-loop
    rounds after its text changed: its old text document is deleted later; a pass of that label only.)
    Fails when PaintPass.gather is not called or does not hold the scenes' repaints back."""
    w = explore
    counter = RepaintCounter(w)
    QApplication.instance().installEventFilter(counter)
    graphics = {"zones": w.all_views["zones"].content.plot.viewport(), "wheel": w.all_views["wheel"].content.plot.viewport(),
                "plane3d": w.plane3d.host}
    try:
        for idx in (100, 700, 1200, 100):
            counter.passes.clear()
            w._next_redraw = 0.0
            w.timeline.slider.setValue(idx)
            _settle(qtbot)
            assert w.session.frame().snapshot.step == int(w.session.history.steps[idx])
            where = {key: [i for i, p in enumerate(counter.passes) for x in p if x is g]
                     for key, g in graphics.items()}
            assert all(len(v) == 1 for v in where.values()), where  # each painted once
            assert len({v[0] for v in where.values()}) == 1, where  # in one repaint
            for later in counter.passes[where["zones"][0] + 1:]:
                assert all(not _inside(x, w.all_views["zones"]) and not _inside(x, w.all_views["wheel"])
                           for x in later)
    finally:
        QApplication.instance().removeEventFilter(counter)
    assert w.paint_pass.passes >= 4


def test_the_screen_shows_the_scrubbed_frame(qtbot, explore):
    """What the X server holds after a scrub equals the window rendered afresh from its widgets (a
    repaint held back and never posted again would leave the previous frame on screen)."""
    w = explore
    for idx in (300, 1400, 300):
        w._next_redraw = 0.0
        w.timeline.slider.setValue(idx)
        _settle(qtbot)
        shown = _pixels(w.screen().grabWindow(w.winId()).toImage())
        fresh = _pixels(w.grab().toImage())
        assert shown.shape == fresh.shape
        for key in ("zones", "wheel", "plane3d"):
            v = w.all_views[key]
            r = v.geometry().translated(v.parentWidget().mapTo(w, v.geometry().topLeft()) - v.geometry().topLeft())
            a = shown[r.top():r.bottom() + 1, r.left():r.right() + 1]
            b = fresh[r.top():r.bottom() + 1, r.left():r.right() + 1]
            assert a.size > 0 and np.array_equal(a, b), f"{key}: the screen differs from the frame at {idx}"
