"""The 3D view's picture shown by a raster widget, so that no QOpenGLWidget sits in the window.

One QOpenGLWidget anywhere in a window switches Qt to composing the whole window with
OpenGL on every repaint of every widget: under software GL (Mesa llvmpipe, Xvfb, a
machine without a GPU) that composition, not the drawing, was most of a scrubbed frame
(benchmarks/bench_gui.py). ``RasterHost`` keeps the GL view (render3d.gl_items.GLView) as a
top-level widget that is never shown on screen (its own window and context), sized like
the host; the host paints the GL view's framebuffer (``grabFramebuffer``) as an image,
re-rendered only when the GL view asked for an update (a new scene, a camera move), and hands
the mouse and wheel to the GL view, whose coordinates are the host's (same size), so orbiting,
zooming and clicking a vertex work as before.

``overlay(image)``, when given, paints onto that image after each grab, with Qt's raster
engine: the 3D view's labels, drawn there by the same ``paint_labels`` its export uses
(text through QPainter on the GL paint engine cost about twice as much, on every scrubbed frame).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PyQt6 import sip
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QHideEvent, QImage, QMouseEvent, QPainter, QPaintEvent, QResizeEvent, QShowEvent, QWheelEvent
from PyQt6.QtWidgets import QWidget

if TYPE_CHECKING:
    from .gl_items import GLView


class RasterHost(QWidget):
    """Shows ``gl``'s picture (see the module doc); ``renders`` counts the pictures taken."""

    def __init__(self, gl: GLView, parent: QWidget | None = None, overlay: Callable[[QImage], None] | None = None):
        super().__init__(parent)
        self.gl = gl
        self.overlay = overlay
        self.renders = 0
        self._image: QImage | None = None
        self._stale = True
        self.setMinimumSize(gl.minimumSize())  # and the GL widget's size policy and (absent) size hint
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)  # the image covers every pixel
        # a window of its own, with no parent: a QOpenGLWidget that is a child of the window, even as a
        # window of its own (Qt.Window), still makes Qt compose the whole main window with GL (measured:
        # a one-label repaint 30 ms instead of 0.6). Shown and hidden with the host; Python owns it.
        gl.setParent(None)
        gl.setWindowFlag(Qt.WindowType.Window, True)
        gl.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        # never the window that keeps the application alive: closing the main window quits even when the
        # host was never shown (its hideEvent, which hides this window, then never comes)
        gl.setAttribute(Qt.WidgetAttribute.WA_QuitOnClose, False)
        gl.update = self._gl_wants_update  # pyqtgraph's items and camera call view.update() from Python
        gl.resize(max(self.width(), 1), max(self.height(), 1))
        gl.show()

    def _gl_wants_update(self, *_args: object) -> None:
        self._stale = True
        self.update()

    def image(self) -> QImage:
        """The GL view's picture at the host's size (rendered again if the GL view changed)."""
        if self._stale or self._image is None or self._image.size() != self.gl.size():
            self._stale = False
            self._image = self.gl.grabFramebuffer()
            if self.overlay is not None:
                self.overlay(self._image)
            self.renders += 1
        return self._image

    def resizeEvent(self, e: QResizeEvent) -> None:
        self.gl.resize(e.size())
        self._stale = True
        super().resizeEvent(e)

    def paintEvent(self, e: QPaintEvent) -> None:
        p = QPainter(self)
        p.drawImage(0, 0, self.image())
        p.end()

    def showEvent(self, e: QShowEvent) -> None:
        self.gl.show()
        self._stale = True
        super().showEvent(e)

    def hideEvent(self, e: QHideEvent) -> None:
        if not sip.isdeleted(self.gl):  # (at exit Qt may delete the top-level GL window first)
            self.gl.hide()  # its window goes with the host (the GL context stays)
        super().hideEvent(e)

    # the GL view's interaction (orbit, zoom, click on a vertex): its own handlers, at the same coordinates
    def mousePressEvent(self, ev: QMouseEvent) -> None:
        self.gl.mousePressEvent(ev)

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:
        self.gl.mouseMoveEvent(ev)

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:
        self.gl.mouseReleaseEvent(ev)

    def wheelEvent(self, ev: QWheelEvent) -> None:
        self.gl.wheelEvent(ev)


__all__ = ["RasterHost"]
