"""One repaint of a window per frame, however many graphics scenes it holds.

A QGraphicsScene whose items changed processes them in a queued call of its own
(``_q_processDirtyItems``), which ends by delivering the window's pending repaint at
once (``QGraphicsViewPrivate::dispatchPendingUpdateRequests``: Qt does it to avoid
tearing). A window with two pyqtgraph views (the zone map and the feature wheel) so
painted and flushed itself to the X server twice per scrubbed frame: the first
scene's call repainted every widget changed so far, the second scene's the second
view again (and a third pass came when an autorange, done at paint time, dirtied a
scene once more). ``PaintPass.gather()``, called once a frame's views are updated,
readies every shown scene for painting (pyqtgraph's ``prepareForPaint``: the
autorange and view matrices paint time would do), processes their dirty items while
holding the window's repaint back, then posts that one repaint: every widget the
frame changed is painted and flushed in one pass. Nothing is painted differently:
the same widgets paint the same regions, once.
"""
from __future__ import annotations

from PyQt6 import sip
from PyQt6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PyQt6.QtWidgets import QGraphicsView, QWidget

__all__ = ["PaintPass"]

#: The priority Qt posts a window's repaint with (an int: PyQt's stubs type the enum's value as the enum).
_LOW_PRIORITY: int = getattr(Qt.EventPriority.LowEventPriority, "value")  # noqa: B009


class PaintPass(QObject):
    """Gathers a frame's repaints of ``window`` into one (see the module doc). ``passes`` counts
    the window's repaints (the UpdateRequest events it was delivered)."""

    def __init__(self, window: QWidget):
        super().__init__(window)
        self.window = window
        self.passes = 0
        self._holding = False
        self._held = False
        self._views: list[QGraphicsView] | None = None  # found once (findChildren over the whole window: 1-3 ms a frame)
        window.installEventFilter(self)

    def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:
        if obj is self.window and event is not None and event.type() == QEvent.Type.UpdateRequest:
            if self._holding:  # a scene's dirty items asked for the repaint now: it comes once, after them all
                self._held = True
                return True
            self.passes += 1
        return False

    def refresh(self) -> None:
        """Look for the window's graphics views again at the next frame (one made after the first
        frame is otherwise not gathered: it would repaint in a pass of its own, as before)."""
        self._views = None

    def scenes(self) -> list:
        """The scenes of the window's shown graphics views, each once."""
        if self._views is None or any(sip.isdeleted(v) for v in self._views):
            self._views = self.window.findChildren(QGraphicsView)
        out: list = []
        for view in self._views:
            scene = view.scene()
            if scene is not None and view.isVisible() and scene not in out:
                out.append(scene)
        return out

    def gather(self) -> None:
        """Process every shown scene's dirty items now and post the window's one repaint."""
        scenes = self.scenes()
        for scene in scenes:
            prepare = getattr(scene, "prepareForPaint", None)  # pyqtgraph's: autorange, view matrices
            if prepare is not None:
                prepare()
        self._holding = True
        try:
            for scene in scenes:
                QCoreApplication.sendPostedEvents(scene, QEvent.Type.MetaCall.value)
        finally:
            self._holding = False
            if self._held:  # the repaint taken from the queue above goes back in, once
                self._held = False
                QCoreApplication.postEvent(self.window, QEvent(QEvent.Type.UpdateRequest), _LOW_PRIORITY)
