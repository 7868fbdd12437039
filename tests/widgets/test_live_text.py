"""LiveText: per-frame text that repaints itself without relayouting its window."""
import numpy as np
from PyQt6.QtCore import QEvent, QObject
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget

from widgets.live_text import LiveText


class _Counter(QObject):
    def __init__(self):
        super().__init__()
        self.layouts = 0

    def eventFilter(self, obj, e):
        if e.type() == QEvent.Type.LayoutRequest:
            self.layouts += 1
        return False


def _window(qtbot, label):
    w = QWidget()
    lay = QVBoxLayout(w)
    lay.addWidget(label)
    lay.addWidget(QWidget(), 1)
    qtbot.addWidget(w)
    w.resize(400, 120)
    w.show()
    qtbot.waitExposed(w)
    return w


def _layout_requests(qtbot, w, label, texts):
    qtbot.wait(50)  # the layout requests of showing the window are done
    c = _Counter()
    w.installEventFilter(c)
    for t in texts:
        label.setText(t)
        qtbot.wait(1)
    w.removeEventFilter(c)
    return c.layouts


def test_changing_text_does_not_relayout_the_window_but_qlabel_does(qtbot):
    texts = [f"step {s:,} / 3,000" for s in range(100, 3000, 300)]
    lt = LiveText("step 0 / 3,000")
    w = _window(qtbot, lt)
    assert _layout_requests(qtbot, w, lt, texts) == 0
    assert lt.text() == texts[-1]
    w.close()
    ql = QLabel("step 0 / 3,000")
    w2 = _window(qtbot, ql)
    assert _layout_requests(qtbot, w2, ql, texts) > 0  # the cost LiveText avoids
    w2.close()


def test_text_is_painted_in_its_colour_and_a_taller_text_gets_room(qtbot):
    lt = LiveText("one line")
    lt.setColor("#ff0000")
    w = _window(qtbot, lt)
    img = lt.grab().toImage()
    px = np.array([[img.pixelColor(x, y).getRgb()[:3] for x in range(img.width())] for y in range(img.height())])
    red = (px[..., 0] > 180) & (px[..., 1] < 90) & (px[..., 2] < 90)
    assert red.sum() > 10  # the glyphs, in red
    h1 = lt.sizeHint().height()
    lt.setText("line one\nline two\nline three")
    qtbot.waitUntil(lambda: lt.height() >= 2.5 * h1 - 10, timeout=2000)
    w.close()
