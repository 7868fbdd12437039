"""The timeline: scrub and play back the recorded steps of a run.

The slider's value is the index of a recorded step (``History.steps``), not a step
number, because the steps are irregular: dense early, thinned later. Where a
recorded step sits along the groove is the timeline's *axis* (``AXES``): its step
on a log scale (the default: training moves on a log-time scale, and a linear axis
put every event of a 25,000-step run into the first 3% of the groove), its step on
a linear scale, or its rank among the recorded snapshots (each one equally wide).
The label shows "step S / latest".

Who moves what:
* the user (slider, buttons, keys) and playback emit ``stepRequested(step)``; the
  session answers with the snapshot at or before that step and may call
  ``set_current_step`` back: that never emits (no loops);
* ``set_steps`` is called as training records snapshots. When following live the
  position jumps to the newest step and ``stepRequested`` is emitted once if the
  shown step changed. Otherwise the user's position is kept: the step they chose
  stays the anchor and the slider sits on the recorded step at or before it (the
  history may thin a step away; then ``stepRequested`` reports the new one).
* moving by hand (slider, previous/next, start, a page, an event) or starting
  playback stops following live; "end" keeps the follow state.

Follow-live has one owner, which is not the timeline: the timeline shows it (the
"follow live" checkbox, ``show_follow_live(on)``, which never emits) and asks for a
change with ``followLiveChanged(on)``; the owner (the window's session) answers by
showing its value. A timeline on its own (no owner connected) keeps what it showed.

Keys (``KEYS``; window-wide with ``install_shortcuts``): space play/pause, ←/→ one
snapshot, PageUp/PageDown a page back/forward (``PAGE_FRACTION`` of the recorded
snapshots), Home/End, N / Shift+N (also ] / [) the next / previous event of the
story, P play to the next event. None of them is taken by the common window
managers (those take Alt+ and Super+ combinations).

Playback keeps its labelled rate by the clock, not by counting ticks: a QTimer at
display rate (``TICK_HZ``) asks where the playhead should be after the time that
has passed since play started and jumps there, dropping the frames in between
(frames are dropped, never queued): "60/s" advances 60 snapshots per second even
when only 20 frames a second can be drawn. Log-time rates ("step ×2/s") move the
step number geometrically: (1 + step) grows that many times each second, so the
early steps, where training changes fastest, play slowly and the late ones fast.
``playback_stats()`` counts the frames shown and the snapshots advanced.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from PyQt6.QtCore import QEvent, QKeyCombination, QPoint, QRect, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import (
    QColor,
    QHelpEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygon,
    QShortcut,
    QWheelEvent,
)
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QStylePainter,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from resources import palette

from .live_text import LiveText

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

SPEEDS = (10, 30, 60, 120, 240, 1000)  # snapshots per second
DEFAULT_SPEED = 60
#: Log-time rates: (1 + step) grows this many times per second.
LOG_RATES = (1.25, 2.0, 4.0, 10.0)
TICK_HZ = 60
#: PageUp / PageDown move by this fraction of the recorded snapshots (at least one).
PAGE_FRACTION = 0.1
#: The slider keeps at least this width when the row is narrow (the combo boxes give way first).
SLIDER_MIN_PX = 160
#: Where a recorded step sits along the groove: key -> what the combo box says.
AXES = {"log": "log step", "step": "step", "snapshots": "snapshots"}
DEFAULT_AXIS = "log"
#: A playback rate: ("snapshots", snapshots per second) or ("log", growth of 1 + step per second).
Rate = tuple[str, float]


def axis_fractions(steps: ArrayLike, axis: str) -> np.ndarray:
    """Where each recorded step sits along the groove, as a fraction in [0, 1] (ascending).

    "log": log10(1 + step) between the first and the last recorded step (1 + step: step 0
    has no logarithm); "step": the step itself; "snapshots": the rank i / (N - 1). A
    history of one step (or of one step number) sits at 0."""
    if axis not in AXES:
        raise ValueError(f"axis must be one of {', '.join(AXES)}, got {axis!r}")
    s = np.asarray(steps, dtype=np.float64).reshape(-1)
    N = len(s)
    if N < 2:
        return np.zeros(N)
    if axis == "snapshots":
        return np.arange(N) / (N - 1)
    x = np.log10(1.0 + np.maximum(s, 0.0)) if axis == "log" else s
    span = x[-1] - x[0]
    if not span > 0:
        return np.zeros(N)
    return np.clip((x - x[0]) / span, 0.0, 1.0)


def rate_text(rate: Rate) -> str:
    kind, v = rate
    return f"{int(v):,}/s" if kind == "snapshots" else f"step ×{v:g}/s"


class StorySlider(QSlider):
    """A slider over the recorded snapshots (value = index) drawn on an axis of its own:
    ``set_fractions`` says where each index sits along the groove (the timeline's log or
    linear step axis); the handle, the marks and the pointer all use that mapping.

    A press jumps to the snapshot under the pointer (a press within a few pixels of a mark
    lands on the mark) and drags from there. It marks the recorded snapshots at which the
    diagnosis changed (``set_marks``: bars ``MARK_PX`` wide at the top and bottom in the
    verdict's colour) and where the loss plateaued (``set_plateau_marks``: a hollow triangle
    over the groove and a dotted line, in PLATEAU_COLOR), and draws a strip under the groove
    coloured by the verdict in force over each stretch of the history. Hovering shows the step
    under the pointer, its loss (``hover_text(index)``) and the marks there; that tooltip is
    the slider's own (Qt's delayed tooltip event shows the same text, not a generic one)."""

    MARK_HIT_PX = 6
    MARK_PX = 5
    STRIP_PX = 4
    PLATEAU_COLOR = "#17becf"
    #: The outcome strip, just above the verdict strip: the outcome in force over each stretch (model.analysis.outcome).
    OUTCOME_PX = 3
    OUTCOME_COLORS: ClassVar[dict] = {k: palette.hex_color(v) for k, v in palette.OUTCOME_COLORS.items()}  # the one table

    def __init__(self, orientation: Qt.Orientation, parent: QWidget | None = None):
        super().__init__(orientation, parent)
        self._marks: list = []  # (index, text, QColor): diagnosis changes
        self._plateaus: list = []  # (index, text): loss plateaus
        self._frac = np.zeros(0)  # where each index sits, fraction of the track
        self._drag_dx: int | None = None  # pointer x minus handle x while dragging
        self.hover_text: Callable[[int], str] | None = None  # index -> "step 3,000 · loss 0.12"
        self._outcomes: list = []  # (index, outcome, text): where the outcome changed
        self.setMouseTracking(True)
        # keys go to the timeline's actions (one snapshot, a page...), not to the value arithmetic
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    # ------------------------------------------------------------ the axis
    def set_fractions(self, frac: ArrayLike) -> None:
        """Where index i sits along the groove (fractions in [0, 1], one per index)."""
        frac = np.asarray(frac, dtype=np.float64).reshape(-1)
        if frac.shape == self._frac.shape and np.array_equal(frac, self._frac):
            return
        self._frac = frac
        self.update()

    def fraction_of(self, index: int) -> float:
        n = len(self._frac)
        if n == 0:
            return 0.0
        return float(self._frac[min(max(int(index), 0), n - 1)])

    def set_marks(self, marks: Iterable[tuple[int, str, str | QColor]]) -> None:
        self._marks = [(int(i), str(t), QColor(c)) for i, t, c in marks]
        self.update()

    def set_plateau_marks(self, marks: Iterable[tuple[int, str]]) -> None:
        """[(index, text), ...]: the recorded snapshots from which the loss stopped moving."""
        self._plateaus = [(int(i), str(t)) for i, t in marks]
        self.update()

    def set_outcomes(self, spans: Iterable[tuple[int, str, str]]) -> None:
        """[(index, outcome, text), ...]: from each recorded snapshot on, the outcome in force (settled, stuck,
        moving) and its one line, drawn as a strip in OUTCOME_COLORS above the verdict strip."""
        self._outcomes = [(int(i), str(o), str(t)) for i, o, t in spans]
        self.update()

    def outcomes(self) -> list:
        """The outcome strip, [(index, outcome, text), ...]."""
        return list(self._outcomes)

    def outcome_at(self, index: int) -> tuple[str, str] | None:
        """(outcome, text) in force at a slider index (None before the first judged step)."""
        got = None
        for i, o, t in self._outcomes:
            if i > index:
                break
            got = (o, t)
        return got

    def marks(self) -> list:
        """The diagnosis marks, [(index, text), ...]."""
        return [(i, t) for i, t, _ in self._marks]

    def plateau_marks(self) -> list:
        """The loss-plateau marks, [(index, text), ...]."""
        return list(self._plateaus)

    def _all_marks(self):
        yield from ((i, t) for i, t, _ in self._marks)
        yield from self._plateaus

    def _option(self) -> QStyleOptionSlider:
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        return opt

    def _track(self) -> tuple[int, int]:
        """(x of the first handle centre, pixels the handle centre travels) of the groove."""
        opt = self._option()
        st = self.style()
        groove = st.subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderGroove, self)
        handle = st.subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle, self)
        return groove.x() + handle.width() // 2, max(groove.width() - handle.width(), 0)

    def x_of(self, value: int) -> int:
        """The pixel x of a slider value (a snapshot index: the centre of the handle there)."""
        x0, span = self._track()
        if len(self._frac) != self.maximum() - self.minimum() + 1:  # no axis given: evenly spaced
            return x0 + QStyle.sliderPositionFromValue(self.minimum(), self.maximum(), int(value), span)
        return x0 + int(round(self.fraction_of(int(value) - self.minimum()) * span))

    def value_at(self, x: float) -> int:
        """The snapshot index nearest to pixel x along the axis."""
        x0, span = self._track()
        if len(self._frac) != self.maximum() - self.minimum() + 1:
            return QStyle.sliderValueFromPosition(self.minimum(), self.maximum(), int(x - x0), max(span, 1))
        px = x0 + np.rint(self._frac * span)  # the pixel of each index, as x_of draws it
        j = int(np.searchsorted(px, float(x)))
        if j >= len(px):
            j = len(px) - 1
        elif j > 0 and float(x) - px[j - 1] <= px[j] - float(x):
            j -= 1
        # several snapshots on one pixel (a dense stretch of the axis): the first of them
        return self.minimum() + int(np.searchsorted(px, px[j], side="left"))

    def mark_near(self, x: float) -> int | None:
        """The index of the mark within MARK_HIT_PX of pixel x (the nearest), or None."""
        best = None
        for i, _t in self._all_marks():
            d = abs(self.x_of(i) - x)
            if d <= self.MARK_HIT_PX and (best is None or d < best[0]):
                best = (d, i)
        return None if best is None else best[1]

    # ------------------------------------------------------------ the pointer
    def _handle_rect(self) -> QRect:
        opt = self._styled_option()
        return self.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle,
                                           self)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.maximum() <= self.minimum() or not self.isEnabled():
            super().mousePressEvent(event)
            return
        x = int(event.position().x())
        if self._handle_rect().contains(event.position().toPoint()):
            self._drag_dx = x - self.x_of(self.value())  # drag the handle from where it was taken
        else:
            m = self.mark_near(x)  # jump to the clicked step (or the mark under the pointer)
            self.setValue(m if m is not None else self.value_at(x))
            self._drag_dx = 0
        self.setSliderDown(True)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self._drag_dx is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self.setValue(self.value_at(x - self._drag_dx))
            event.accept()
            return
        if not event.buttons():
            text = self.tooltip_at(x)
            if text:
                QToolTip.showText(event.globalPosition().toPoint(), text, self)
            else:
                QToolTip.hideText()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag_dx is not None and event.button() == Qt.MouseButton.LeftButton:
            self._drag_dx = None
            self.setSliderDown(False)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """One snapshot per wheel notch (forward: later)."""
        notches = event.angleDelta().y() or event.angleDelta().x()
        steps = int(round(notches / 120)) or (1 if notches > 0 else -1 if notches < 0 else 0)
        if steps and self.isEnabled():
            self.setValue(min(max(self.value() + steps, self.minimum()), self.maximum()))
        event.accept()

    def tooltip_at(self, x: float) -> str:
        """What hovering at pixel x says: the step (and loss) under the pointer, and the marks there."""
        lines = []
        if self.hover_text is not None and self.maximum() >= self.minimum():
            lines.append(self.hover_text(self.value_at(x)))
        here = self.outcome_at(self.value_at(x)) if self._outcomes else None
        if here is not None:
            lines.append("outcome " + here[1])
        lines += [t for i, t in self._all_marks() if abs(self.x_of(i) - x) <= self.MARK_HIT_PX]
        return "\n".join(s for s in lines if s)

    def event(self, e: QEvent) -> bool:
        # Qt's own tooltip event (after the hover delay) would show the widget's generic tooltip
        # over the mark's text: it shows the same text as the pointer's moves
        if e.type() == QEvent.Type.ToolTip and isinstance(e, QHelpEvent):
            text = self.tooltip_at(e.pos().x()) or self.toolTip()
            if text:
                QToolTip.showText(e.globalPos(), text, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(e)

    # ------------------------------------------------------------ painting
    def _styled_option(self) -> QStyleOptionSlider:
        """The style option with the handle placed by the axis: its range in pixels of the track."""
        opt = self._option()
        _x0, span = self._track()
        x = self.x_of(self.value()) - _x0
        opt.minimum, opt.maximum = 0, max(span, 1)
        opt.sliderPosition = opt.sliderValue = min(max(x, 0), max(span, 1))
        return opt

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QStylePainter(self)
        opt = self._styled_option()
        opt.subControls = QStyle.SubControl.SC_SliderGroove | QStyle.SubControl.SC_SliderHandle
        p.drawComplexControl(QStyle.ComplexControl.CC_Slider, opt)
        if self._outcomes:
            self._paint_outcomes(p)
        if self._marks or self._plateaus:
            self._paint_diagnosis(p)
            self._paint_plateaus(p)
        p.end()

    def _paint_outcomes(self, p: QPainter) -> None:
        """The outcome strip: each outcome's colour from its snapshot to the next change."""
        if not self._outcomes:
            return
        y = self.height() - self.STRIP_PX - self.OUTCOME_PX
        ends = [self.x_of(i) for i, _o, _t in self._outcomes[1:]] + [self.x_of(self.maximum()) + 1]
        for (i, o, _t), x1 in zip(self._outcomes, ends, strict=True):
            x0 = self.x_of(i)
            p.fillRect(x0, y, max(x1 - x0, 1), self.OUTCOME_PX, QColor(self.OUTCOME_COLORS.get(o, "#888888")))

    def _paint_plateaus(self, p: QPainter) -> None:
        """Each plateau: a hollow downward triangle at the top and a dotted line down to the strip."""
        if not self._plateaus:
            return
        h = self.height()
        c = QColor(self.PLATEAU_COLOR)
        a = max(5, h // 4)  # the triangle's half-width and height
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for i, _t in self._plateaus:
            x = self.x_of(i)
            p.setPen(QPen(c, 2, Qt.PenStyle.DotLine))
            p.drawLine(QPoint(x, a), QPoint(x, h - self.STRIP_PX - 1))
            p.setPen(QPen(c, 2))
            p.drawPolyline(QPolygon([QPoint(x - a, 1), QPoint(x + a, 1), QPoint(x, a + 1), QPoint(x - a, 1)]))

    def _paint_diagnosis(self, p: QPainter) -> None:
        if not self._marks:
            return
        h = self.height()
        # the strip: each mark's colour from its snapshot to the next mark (the verdict in force)
        ends = [self.x_of(i) for i, _t, _c in self._marks[1:]] + [self.x_of(self.maximum()) + 1]
        for (i, _t, c), x1 in zip(self._marks, ends, strict=True):
            x0 = self.x_of(i)
            p.fillRect(x0, h - self.STRIP_PX, max(x1 - x0, 1), self.STRIP_PX, c)
        w = self.MARK_PX
        tall = max(4, h // 4)
        for i, _t, c in self._marks:
            x = self.x_of(i) - w // 2
            p.fillRect(x, 0, w, tall, c)
            p.fillRect(x, h - tall, w, tall - self.STRIP_PX, c)


class EventList(QWidget):
    """The story as a list: one row per event (step, what changed), the current one selected;
    a double-click (or Enter) asks to go there (``stepActivated(step)``)."""

    stepActivated = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Events")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("timeline_events")
        self.table.setHorizontalHeaderLabels(["step", "what changed"])
        self.table.horizontalHeaderItem(0).setToolTip("the recorded step of the event")
        self.table.horizontalHeaderItem(1).setToolTip("the diagnosis (verdict, features that died or were "
                                                      "learnt) or a loss plateau")
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setToolTip("double-click (or Enter) to go to the event's step")
        self.table.cellDoubleClicked.connect(self._activate)
        self.table.cellActivated.connect(self._activate)
        lay.addWidget(self.table)
        self._steps: list[int] = []
        self.resize(460, 260)

    def set_events(self, events: Sequence[dict]) -> None:
        self._steps = [int(e["step"]) for e in events]
        t = self.table
        t.setRowCount(len(events))
        for r, e in enumerate(events):
            step = QTableWidgetItem(f"{int(e['step']):,}")
            step.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            kind = e.get("kind", "diagnosis")
            what = QTableWidgetItem(str(e["text"]) if kind != "plateau" else f"{e['text']}")
            color = StorySlider.PLATEAU_COLOR if kind == "plateau" else e.get("color", "#d62728")
            what.setForeground(QColor(color).darker(130))
            what.setToolTip(str(e["text"]))
            t.setItem(r, 0, step)
            t.setItem(r, 1, what)
        t.resizeColumnToContents(0)

    def steps(self) -> list[int]:
        return list(self._steps)

    def show_current(self, step: int | None) -> None:
        """Select the last event at or before ``step`` (none before the first)."""
        r = -1 if step is None else int(np.searchsorted(self._steps, step, side="right")) - 1
        if r < 0:
            self.table.clearSelection()
        elif self.table.currentRow() != r:
            self.table.setCurrentCell(r, 0)

    def _activate(self, row: int, _col: int = 0) -> None:
        if 0 <= row < len(self._steps):
            self.stepActivated.emit(self._steps[row])


class Timeline(QWidget):
    """Slider over the recorded steps with playback and follow-live.

    Signals: ``stepRequested(int)``, ``followLiveChanged(bool)`` (a request to the owner of
    follow-live), ``playingChanged(bool)``, ``axisChanged(str)``.
    """

    stepRequested = pyqtSignal(int)
    followLiveChanged = pyqtSignal(bool)
    playingChanged = pyqtSignal(bool)
    axisChanged = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None, clock: Callable[[], float] = time.perf_counter):
        super().__init__(parent)
        self._steps = np.zeros(0, dtype=np.int64)
        self._index = -1  # slider position; -1 = no steps
        self._anchor: int | None = None  # the step the user (or the session) chose
        self._playing = False
        self._updating = False
        self._shortcuts: list = []
        self._events: list = []
        self._axis = DEFAULT_AXIS
        #: the playback clock (seconds); tests hand in a fake one
        self.clock = clock
        self._play: dict[str, float] = {}  # t0, i0, s0 of the current run of playback
        self._stop_at: int | None = None  # play to this index, then pause (play to the next event)
        self._stats = {"frames": 0, "snapshots": 0, "t0": 0.0, "t1": 0.0}
        self.event_list: EventList | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(round(1000 / TICK_HZ))
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.tick)
        self._refresh()

    def _button(self, name, text, tip, slot, icon=None) -> QToolButton:
        b = QToolButton()
        b.setObjectName(name)
        b.setText(text)
        b.setAccessibleName(text)
        if icon is not None:
            b.setIcon(self.style().standardIcon(icon))
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        b.setToolTip(tip)
        b.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        b.clicked.connect(slot)
        return b

    def _build(self) -> None:
        SP = QStyle.StandardPixmap
        button = self._button
        self._play_icon = self.style().standardIcon(SP.SP_MediaPlay)
        self._pause_icon = self.style().standardIcon(SP.SP_MediaPause)
        self.start_button = button("timeline_start", "first", "first snapshot (Home)", self.go_start,
                                   SP.SP_MediaSkipBackward)
        self.prev_event_button = button("timeline_prev_event", "◆◂", "previous event of the story (Shift+N or [)",
                                        self.prev_event)
        self.prev_button = button("timeline_prev", "previous", "previous snapshot (←); PageUp: a page back",
                                  self.step_back, SP.SP_MediaSeekBackward)
        self.play_button = button("timeline_play", "play", "play / pause (space)", self.toggle_play,
                                  SP.SP_MediaPlay)
        self.next_button = button("timeline_next", "next", "next snapshot (→); PageDown: a page forward",
                                  self.step_forward, SP.SP_MediaSeekForward)
        self.next_event_button = button("timeline_next_event", "▸◆", "next event of the story (N or ])",
                                        self.next_event)
        self.play_event_button = button("timeline_play_event", "▶◆", "play to the next event, then pause (P)",
                                        self.play_to_next_event)
        self.end_button = button("timeline_end", "last", "last snapshot (End)", self.go_end,
                                 SP.SP_MediaSkipForward)

        self.slider = StorySlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("timeline_slider")
        self.slider.setRange(0, 0)
        self.slider.setMinimumWidth(SLIDER_MIN_PX)
        self.slider.setToolTip("recorded snapshots (space: play/pause, ←/→: previous/next snapshot, "
                               "PageUp/PageDown: a page, N / Shift+N: next/previous event, Home/End)")
        self.slider.valueChanged.connect(self._slider_moved)

        # LiveText: a QLabel's setText would relayout the window on every scrubbed frame
        self.label = LiveText("no steps yet", align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                              min_width=150)
        self.label.setObjectName("timeline_label")

        self.speed_combo = QComboBox()
        self.speed_combo.setObjectName("timeline_speed")
        for s in SPEEDS:
            self.speed_combo.addItem(rate_text(("snapshots", s)), ("snapshots", float(s)))
        for r in LOG_RATES:
            self.speed_combo.addItem(rate_text(("log", r)), ("log", float(r)))
        self.speed_combo.setCurrentIndex(SPEEDS.index(DEFAULT_SPEED))
        self.speed_combo.setToolTip("playback rate, kept by skipping frames: N/s = N recorded snapshots a "
                                    "second; step ×r/s = log time, the step number grows r-fold a second "
                                    "(early training slowly, late training fast)")
        self.speed_combo.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.speed_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.speed_combo.setMinimumContentsLength(6)
        self.speed_combo.currentIndexChanged.connect(self._rate_changed)

        self.axis_combo = QComboBox()
        self.axis_combo.setObjectName("timeline_axis")
        for key, text in AXES.items():
            self.axis_combo.addItem(text, key)
        self.axis_combo.setCurrentIndex(list(AXES).index(self._axis))
        self.axis_combo.setToolTip("where a recorded step sits along the slider: log step (early events spread "
                                   "out), linear step, or one equal slot per recorded snapshot")
        self.axis_combo.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.axis_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.axis_combo.setMinimumContentsLength(6)
        self.axis_combo.currentIndexChanged.connect(lambda _i: self.set_axis(self.axis_combo.currentData()))

        self.events_button = button("timeline_events", "events", "the list of events (double-click one to go "
                                    "there)", self.toggle_event_list)

        self.loop_check = QCheckBox("loop")
        self.loop_check.setObjectName("timeline_loop")
        self.loop_check.setToolTip("start again from the first snapshot at the end")
        self.loop_check.setFocusPolicy(Qt.FocusPolicy.TabFocus)

        self.follow_check = QCheckBox("follow live")
        self.follow_check.setObjectName("timeline_follow")
        self.follow_check.setToolTip("jump to each new snapshot as training records it")
        self.follow_check.setChecked(True)
        self.follow_check.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.follow_check.toggled.connect(self._follow_toggled)

        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(3)
        for w in (self.start_button, self.prev_event_button, self.prev_button, self.play_button, self.next_button,
                  self.next_event_button, self.play_event_button, self.end_button):
            row.addWidget(w)
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        for w in (self.speed_combo, self.axis_combo, self.events_button, self.loop_check, self.follow_check):
            row.addWidget(w)

    # ------------------------------------------------------------------ properties
    @property
    def steps(self) -> np.ndarray:
        return self._steps.copy()

    @property
    def current_step(self) -> int | None:
        """The recorded step the timeline sits on (None before any step)."""
        return int(self._steps[self._index]) if self._index >= 0 else None

    @property
    def current_index(self) -> int:
        return self._index

    @property
    def follow_live(self) -> bool:
        """Whether it shows following live (the owner's value, as last shown or asked for)."""
        return self.follow_check.isChecked()

    @follow_live.setter
    def follow_live(self, on: bool) -> None:
        self.set_follow_live(on)

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def rate(self) -> Rate:
        """The playback rate: ("snapshots", per second) or ("log", growth of 1 + step per second)."""
        kind, v = self.speed_combo.currentData()
        return str(kind), float(v)

    def set_rate(self, kind: str, value: float) -> None:
        """Play at ``value`` snapshots a second (kind "snapshots") or in log time, (1 + step) growing
        ``value``-fold a second (kind "log"); a rate not offered yet is added to the menu."""
        if kind not in ("snapshots", "log"):
            raise ValueError(f"rate kind must be snapshots or log, got {kind!r}")
        value = float(value)
        if not (value > 0 and math.isfinite(value)) or (kind == "log" and value <= 1):
            raise ValueError(f"rate must be a finite number above {0 if kind == 'snapshots' else 1}, got {value!r}")
        for i in range(self.speed_combo.count()):
            if self.speed_combo.itemData(i) == (kind, value):
                self.speed_combo.setCurrentIndex(i)
                return
        self.speed_combo.addItem(rate_text((kind, value)), (kind, value))
        self.speed_combo.setCurrentIndex(self.speed_combo.count() - 1)

    @property
    def speed(self) -> int:
        """Snapshots per second (0 while a log-time rate is chosen)."""
        kind, v = self.rate
        return int(v) if kind == "snapshots" else 0

    @speed.setter
    def speed(self, snapshots_per_second: int) -> None:
        self.set_rate("snapshots", int(snapshots_per_second))

    @property
    def loop(self) -> bool:
        return self.loop_check.isChecked()

    @loop.setter
    def loop(self, on: bool) -> None:
        self.loop_check.setChecked(bool(on))

    @property
    def axis(self) -> str:
        """Where a recorded step sits along the slider (a key of AXES)."""
        return self._axis

    def set_axis(self, axis: str) -> None:
        if axis not in AXES:
            raise ValueError(f"axis must be one of {', '.join(AXES)}, got {axis!r}")
        if axis == self._axis:
            return
        self._axis = axis
        i = list(AXES).index(axis)
        if self.axis_combo.currentIndex() != i:
            self.axis_combo.setCurrentIndex(i)
        self.slider.set_fractions(axis_fractions(self._steps, axis))
        self.axisChanged.emit(axis)

    # ------------------------------------------------------------------ external API
    def set_steps(self, steps: ArrayLike) -> None:
        """The recorded steps (ascending). Following live: go to the newest (emit if it
        changed). Otherwise keep the user's position (the recorded step at or before it)."""
        before = self.current_step
        new = np.asarray(steps, dtype=np.int64).reshape(-1)
        changed = not (new.shape == self._steps.shape and np.array_equal(new, self._steps))
        if changed:
            self._steps = new.copy()
        N = len(self._steps)
        if N == 0:
            self._index = -1
            self._anchor = None
        elif self.follow_live and not self._playing:
            self._index = N - 1
            self._anchor = int(self._steps[-1])
        else:
            if self._anchor is None:
                self._anchor = int(self._steps[-1] if self.follow_live else self._steps[0])
            self._index = self._index_at(self._anchor)
        if changed:
            self.slider.set_fractions(axis_fractions(self._steps, self._axis))
        self._refresh()
        if changed and self._events:
            self._place_marks()
        after = self.current_step
        if after is not None and after != before:
            self.stepRequested.emit(after)

    def set_events(self, events: Iterable[dict] | None) -> None:
        """Mark the story: [{"step", "text", "color"?, "kind"?}, ...] (model.analysis.story.story_events):
        diagnosis changes (no kind, or "diagnosis"), loss plateaus (kind "plateau", their own mark
        style, left out of the verdict strip) and outcomes (kind "outcome" with "outcome": the strip
        above the verdict strip). A mark sits on the recorded snapshot at or before its step. The
        events are also the stops of N / Shift+N and of the event list."""
        self._events = sorted(events or [], key=lambda e: int(e["step"]))
        self._place_marks()
        if self.event_list is not None:
            self.event_list.set_events(self._events)
            self.event_list.show_current(self.current_step)

    def events(self) -> list:
        return list(self._events)

    def _place_marks(self) -> None:
        ev = self._events
        if not len(self._steps):
            self.slider.set_marks([])
            self.slider.set_plateau_marks([])
            self.slider.set_outcomes([])
            return
        diag = [e for e in ev if e.get("kind", "diagnosis") not in ("plateau", "outcome")]
        self.slider.set_outcomes([(self._index_at(int(e["step"])), str(e["outcome"]), str(e["text"]))
                                  for e in ev if e.get("kind") == "outcome"])
        self.slider.set_marks([(self._index_at(int(e["step"])), f"step {int(e['step']):,}: {e['text']}",
                                e.get("color", "#d62728")) for e in diag])
        # a plateau's text already names its step ("loss plateau at 0.1224 from step 3,900")
        self.slider.set_plateau_marks([(self._index_at(int(e["step"])), str(e["text"]))
                                       for e in ev if e.get("kind") == "plateau"])

    def set_current_step(self, step: int) -> None:
        """Move to the recorded step at or before ``step`` without emitting stepRequested."""
        self._anchor = int(step)
        if len(self._steps):
            self._index = self._index_at(self._anchor)
        self._refresh()

    def show_follow_live(self, on: bool) -> bool:
        """Show the owner's follow-live value (never emits); following live pauses playback.
        Returns whether what it showed changed."""
        on = bool(on)
        if on == self.follow_live:
            return False
        if on:
            self.pause()
        self._updating = True
        try:
            self.follow_check.setChecked(on)
        finally:
            self._updating = False
        return True

    def set_follow_live(self, on: bool) -> None:
        """Ask for following live on (shown at once: jump to the newest, emit stepRequested) or
        off: ``followLiveChanged(on)`` tells the owner."""
        if self.show_follow_live(on):
            self._ask_follow_live(bool(on))

    def _ask_follow_live(self, on: bool) -> None:
        """What it shows changed by hand: tell the owner, and jump to the newest when on."""
        self.followLiveChanged.emit(on)
        if on and len(self._steps):
            self._move_to(len(self._steps) - 1, stop_following=False)

    # ------------------------------------------------------------------ playback
    def play(self) -> None:
        if self._playing or len(self._steps) < 2:
            return
        self.set_follow_live(False)
        if self._index >= len(self._steps) - 1:  # at the end: start over
            self._move_to(0, stop_following=False)
        self._playing = True
        self._restart_clock()
        self._stats = {"frames": 0, "snapshots": 0, "t0": self._play["t0"], "t1": self._play["t0"]}
        self._timer.start()
        self._refresh()
        self.playingChanged.emit(True)

    def _restart_clock(self) -> None:
        self._play = {"t0": float(self.clock()), "i0": float(self._index), "s0": float(self._steps[self._index])}

    def pause(self) -> None:
        self._stop_at = None
        if not self._playing:
            return
        self._playing = False
        self._timer.stop()
        self._refresh()
        self.playingChanged.emit(False)

    def toggle_play(self) -> None:
        if self._playing:
            self.pause()
        else:
            self.play()

    def play_to_next_event(self) -> None:
        """Play (at the chosen rate) from here to the next event of the story, and pause there."""
        i = self._next_event_index()
        if i is None:
            return
        self.pause()
        self.play()
        self._stop_at = i

    def playback_stats(self) -> dict[str, float]:
        """Of the current (or last) run of playback: frames shown (steps requested), snapshots
        advanced, seconds on the playback clock, and both per second."""
        s = dict(self._stats)
        dt = s["t1"] - s["t0"]
        s["seconds"] = dt
        s["frames_per_s"] = s["frames"] / dt if dt > 0 else float("nan")
        s["snapshots_per_s"] = s["snapshots"] / dt if dt > 0 else float("nan")
        return s

    def _target(self, now: float) -> int:
        """Where the playhead should be ``now`` (an index), from the rate and the time played."""
        kind, v = self.rate
        t = max(now - self._play["t0"], 0.0)
        if kind == "snapshots":
            return int(self._play["i0"] + math.floor(v * t + 1e-9))
        want = (1.0 + self._play["s0"]) * v ** t - 1.0  # log time: 1 + step grows v-fold a second
        return self._index_at(int(math.floor(want + 1e-9))) if want < 2 ** 62 else len(self._steps) - 1

    def tick(self) -> None:
        """One playback tick (the display-rate timer calls it; a test may call it under a fake clock):
        jump to where the rate puts the playhead now, one frame however many snapshots that skips."""
        N = len(self._steps)
        if not self._playing or N < 2:
            self.pause()
            return
        now = float(self.clock())
        self._stats["t1"] = now
        if self._index >= N - 1:  # the last snapshot was shown: wrap (loop) or stop
            if self.loop:
                self._stats["frames"] += 1
                self._move_to(0, stop_following=False)
                self._restart_clock()
            else:
                self.pause()
            return
        target = min(max(self._target(now), self._index), N - 1)
        if self._stop_at is not None:
            target = min(target, self._stop_at)
        if target != self._index:
            self._stats["frames"] += 1
            self._stats["snapshots"] += target - self._index
            self._move_to(target, stop_following=False)
        if (self._stop_at is not None and self._index >= self._stop_at) or (self._index >= N - 1 and not self.loop):
            self.pause()

    def _rate_changed(self, _i: int) -> None:
        if self._playing:  # the new rate from here
            self._restart_clock()

    # ------------------------------------------------------------------ moves
    def step_forward(self) -> None:
        """Next snapshot (stops following live)."""
        if len(self._steps):
            self.set_follow_live(False)
            self._move_to(min(self._index + 1, len(self._steps) - 1))

    def step_back(self) -> None:
        """Previous snapshot (stops following live)."""
        if len(self._steps):
            self.set_follow_live(False)
            self._move_to(max(self._index - 1, 0))

    def page_size(self) -> int:
        """Snapshots moved by PageUp / PageDown: PAGE_FRACTION of the recorded ones, at least one."""
        return max(1, int(round(PAGE_FRACTION * len(self._steps))))

    def page_forward(self) -> None:
        """A page later (PageDown; stops following live)."""
        if len(self._steps):
            self.set_follow_live(False)
            self._move_to(min(self._index + self.page_size(), len(self._steps) - 1))

    def page_back(self) -> None:
        """A page earlier (PageUp; stops following live)."""
        if len(self._steps):
            self.set_follow_live(False)
            self._move_to(max(self._index - self.page_size(), 0))

    def _event_indices(self) -> np.ndarray:
        if not len(self._steps) or not self._events:
            return np.zeros(0, dtype=np.int64)
        return np.unique([self._index_at(int(e["step"])) for e in self._events])

    def _next_event_index(self) -> int | None:
        idx = self._event_indices()
        later = idx[idx > self._index]
        return int(later[0]) if len(later) else None

    def next_event(self) -> None:
        """The next event's snapshot (N or ]; stops following live); nothing after the last."""
        i = self._next_event_index()
        if i is not None:
            self.set_follow_live(False)
            self._move_to(i)

    def prev_event(self) -> None:
        """The previous event's snapshot (Shift+N or [; stops following live)."""
        idx = self._event_indices()
        earlier = idx[idx < self._index]
        if len(earlier):
            self.set_follow_live(False)
            self._move_to(int(earlier[-1]))

    def go_to_step(self, step: int) -> None:
        """The recorded step at or before ``step`` (stops following live)."""
        if len(self._steps):
            self.set_follow_live(False)
            self._move_to(self._index_at(int(step)))

    def go_start(self) -> None:
        """First snapshot (stops following live)."""
        if len(self._steps):
            self.set_follow_live(False)
            self._move_to(0)

    def go_end(self) -> None:
        """Last snapshot (keeps the follow state)."""
        if len(self._steps):
            self._move_to(len(self._steps) - 1, stop_following=False)

    def toggle_event_list(self) -> EventList:
        """Show (or hide) the list of events, a small window beside the timeline."""
        if self.event_list is None:
            self.event_list = EventList(self)
            self.event_list.setWindowFlag(Qt.WindowType.Tool, True)
            self.event_list.stepActivated.connect(self.go_to_step)
            self.event_list.set_events(self._events)
        el = self.event_list
        if el.isVisible():
            el.hide()
        else:
            el.show_current(self.current_step)
            top = self.mapToGlobal(QPoint(self.width() - el.width(), -el.height() - 30))
            el.move(max(top.x(), 0), max(top.y(), 0))
            el.show()
            el.raise_()
        return el

    # ------------------------------------------------------------------ keys
    def key_actions(self) -> list[tuple[str, Callable[[], None]]]:
        """(key sequence, action) of every timeline key (KEYS in the module doc)."""
        return [("Space", self.toggle_play), ("Left", self.step_back), ("Right", self.step_forward),
                ("Home", self.go_start), ("End", self.go_end), ("PgUp", self.page_back),
                ("PgDown", self.page_forward), ("N", self.next_event), ("Shift+N", self.prev_event),
                ("]", self.next_event), ("[", self.prev_event), ("P", self.play_to_next_event)]

    def install_shortcuts(self, window: QWidget) -> list:
        """The timeline's keys (``key_actions``) as window-wide shortcuts on ``window``.

        Text fields keep these keys while they have focus (Qt lets a focused line
        edit override a shortcut it would consume)."""
        for sc in self._shortcuts:
            sc.setEnabled(False)
            sc.deleteLater()
        self._shortcuts = []
        for key, slot in self.key_actions():
            sc = QShortcut(QKeySequence(key), window)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.setAutoRepeat(True)
            sc.activated.connect(slot)
            self._shortcuts.append(sc)
        return list(self._shortcuts)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        pressed = QKeySequence(QKeyCombination(mods, event.keyCombination().key()))
        for key, slot in self.key_actions():
            if QKeySequence(key).matches(pressed) == QKeySequence.SequenceMatch.ExactMatch:
                slot()
                event.accept()
                return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ internals
    def _index_at(self, step: int) -> int:
        i = int(np.searchsorted(self._steps, step, side="right")) - 1
        return max(i, 0)

    def _move_to(self, index: int, stop_following: bool = True) -> None:
        """A move the user or playback asked for: update and emit stepRequested."""
        if not len(self._steps):
            return
        if stop_following:
            self.set_follow_live(False)
        index = int(np.clip(index, 0, len(self._steps) - 1))
        changed = index != self._index
        self._index = index
        self._anchor = int(self._steps[index])
        self._refresh()
        if changed:
            self.stepRequested.emit(int(self._steps[index]))

    def _slider_moved(self, value: int) -> None:
        if self._updating:
            return
        self.pause()
        self._move_to(value)

    def _follow_toggled(self, on: bool) -> None:
        if self._updating:
            return
        if on:
            self.pause()
        self._ask_follow_live(bool(on))

    def _refresh(self) -> None:
        N = len(self._steps)
        self._updating = True
        try:
            if self.slider.maximum() != max(N - 1, 0):
                self.slider.setRange(0, max(N - 1, 0))
            self.slider.setValue(max(self._index, 0))
        finally:
            self._updating = False
        has = N > 0
        if self.slider.isEnabled() != (N > 1):
            self.slider.setEnabled(N > 1)
        for b in (self.start_button, self.prev_button, self.next_button, self.end_button):
            if b.isEnabled() != has:
                b.setEnabled(has)
        if self.play_button.isEnabled() != (N > 1):
            self.play_button.setEnabled(N > 1)
        text = "pause" if self._playing else "play"
        if self.play_button.text() != text:  # setText/setIcon relayout: only on a change
            self.play_button.setText(text)
            self.play_button.setIcon(self._pause_icon if self._playing else self._play_icon)
        if has:
            self.label.setText(f"step {int(self._steps[self._index]):,} / {int(self._steps[-1]):,}")
        else:
            self.label.setText("no steps yet")
        if self.event_list is not None and self.event_list.isVisible():
            self.event_list.show_current(self.current_step)


__all__ = [
    "AXES",
    "DEFAULT_AXIS",
    "LOG_RATES",
    "PAGE_FRACTION",
    "SPEEDS",
    "TICK_HZ",
    "EventList",
    "StorySlider",
    "Timeline",
    "axis_fractions",
    "rate_text",
]
