"""A text line that changes every frame without relayouting the window.

QLabel.setText always calls updateGeometry(): the parent layout is
invalidated, and in a QMainWindow that means a LayoutRequest and a repaint of
the whole window (docks, separators, status bar) on every frame while
scrubbing. LiveText repaints only itself, and asks for a new layout only when
the height its text needs (wrapped at the current width) changes; with ``elide``
(one line, cut with "…" where it does not fit, the whole text in the tooltip) it
never asks for one when its text changes.
"""
from __future__ import annotations

from PyQt6.QtCore import QRect, QSize, Qt
from PyQt6.QtGui import QAction, QColor, QFont, QGuiApplication, QPainter, QPaintEvent, QResizeEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget


class LiveText(QWidget):
    """Plain text, optionally word-wrapped, in one colour; right-click copies it."""

    MARGIN = 2

    def __init__(self, text: str = "", parent: QWidget | None = None, wrap: bool = False,
                 align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, min_width: int = 40,
                 elide: bool = False):
        super().__init__(parent)
        self._text = ""
        self._wrap = bool(wrap) and not elide
        self._elide = bool(elide)
        self._align = align
        self._color: QColor | None = None
        self._min_width = int(min_width)
        self._height = 0
        self._measured: tuple[tuple[str, int, str], int] | None = None  # ((text, width, font), height) of the last measurement
        self._advance: tuple[tuple[str, str], int] | None = None  # ((text, font), widest line's advance) of the last measurement
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        copy = QAction("Copy text", self)
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(self._text))
        self.addAction(copy)
        self.setText(text)

    # --- the QLabel subset the window uses
    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        text = str(text)
        if text == self._text:
            return
        self._text = text
        self.setToolTip(text if self._wrap or self._elide else "")
        h = self._needed_height(self.width() if self.width() > 0 else 400)
        if self._elide:
            if h != self._height:  # a new line count only
                self._height = h
                self.updateGeometry()
        elif h != self._height or (not self._wrap and self.sizeHint().width() > self.width() > 0):
            self._height = h  # a taller text, or a longer line than the space it has: relayout
            self.updateGeometry()
        self.update()

    def setColor(self, color: QColor | str | Qt.GlobalColor) -> None:
        self._color = QColor(color)
        self.update()

    def setFont(self, font: QFont) -> None:
        super().setFont(font)
        self._height = self._needed_height(max(self.width(), 400))
        self.updateGeometry()
        self.update()

    # --- geometry
    def _flags(self) -> int:
        f = int(self._align.value if hasattr(self._align, "value") else self._align)
        return f | (int(Qt.TextFlag.TextWordWrap.value) if self._wrap else 0)

    def _needed_height(self, width: int) -> int:
        key = (self._text, int(width), self.font().key())
        if self._measured is not None and self._measured[0] == key:
            return self._measured[1]  # layouts ask again and again at the same width: measured once
        h = self._measure(width)
        self._measured = (key, h)
        return h

    def _measure(self, width: int) -> int:
        fm = self.fontMetrics()
        if not self._text:
            return fm.height() + 2 * self.MARGIN
        if not self._wrap:
            return fm.height() * (self._text.count("\n") + 1) + 2 * self.MARGIN
        r = fm.boundingRect(QRect(0, 0, max(width - 2 * self.MARGIN, 10), 10_000), self._flags(), self._text)
        return r.height() + 2 * self.MARGIN

    def hasHeightForWidth(self) -> bool:
        return self._wrap

    def heightForWidth(self, w: int) -> int:
        return self._needed_height(w)

    def _text_width(self) -> int:
        """The widest line's advance (layouts ask for the size hint several times a frame: measured once
        per text and font)."""
        key = (self._text, self.font().key())
        if self._advance is not None and self._advance[0] == key:
            return self._advance[1]
        fm = self.fontMetrics()
        lines = self._text.split("\n") if self._text else [""]
        w = max(fm.horizontalAdvance(s) for s in lines)
        self._advance = (key, w)
        return w

    def sizeHint(self) -> QSize:
        w = self._text_width() + 2 * self.MARGIN
        if self._wrap:
            w = min(w, 400)
        if self._elide:
            w = self._min_width  # takes the room it is given; a longer text is elided, not a wider layout
        return QSize(max(w, self._min_width), self._needed_height(w))

    def minimumSizeHint(self) -> QSize:
        return QSize(self._min_width, self._needed_height(max(self.width(), self._min_width)))

    def resizeEvent(self, e: QResizeEvent) -> None:
        if self._wrap:
            h = self._needed_height(e.size().width())
            if h != self._height:
                self._height = h
                self.updateGeometry()
        super().resizeEvent(e)

    def paintEvent(self, e: QPaintEvent) -> None:
        p = QPainter(self)
        p.setPen(self._color if self._color is not None else self.palette().windowText().color())
        m = self.MARGIN
        r = self.rect().adjusted(m, m, -m, -m)
        text = self._text
        if self._elide:
            fm = self.fontMetrics()
            text = "\n".join(fm.elidedText(ln, Qt.TextElideMode.ElideRight, r.width()) for ln in text.split("\n"))
        p.drawText(r, self._flags(), text)
        p.end()


__all__ = ["LiveText"]
