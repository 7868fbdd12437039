"""The timeline: scrub and play back the recorded steps of a run.

The slider indexes the recorded steps (``History.steps``), not step numbers,
because the steps are irregular: dense early, thinned later. The label shows
"step S / latest".

Who moves what:
* the user (slider, buttons, keys) and playback emit ``stepRequested(step)``; the
  session answers with the snapshot at or before that step and may call
  ``set_current_step`` back: that never emits (no loops);
* ``set_steps`` is called as training records snapshots. When following live the
  position jumps to the newest step and ``stepRequested`` is emitted once if the
  shown step changed. Otherwise the user's position is kept: the step they chose
  stays the anchor and the slider sits on the recorded step at or before it (the
  history may thin a step away; then ``stepRequested`` reports the new one).
* moving by hand (slider, previous/next, start) or starting playback stops
  following live; "end" keeps the follow state.

Follow-live has one owner, which is not the timeline: the timeline shows it (the
"follow live" checkbox, ``show_follow_live(on)``, which never emits) and asks for a
change with ``followLiveChanged(on)``; the owner (the window's session) answers by
showing its value. A timeline on its own (no owner connected) keeps what it showed.

Playback runs a QTimer at display rate (~60 Hz) that advances ``speed / 60``
snapshots per tick (fractions accumulate) and emits only the newest step of each
tick: frames are dropped, never queued. At the end it loops or stops.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional, Tuple, Union

import numpy as np
from PyQt6.QtCore import QPoint, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QKeyEvent, QKeySequence, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygon, QShortcut
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QToolButton,
    QToolTip,
    QWidget,
)

from .live_text import LiveText

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

SPEEDS = (10, 30, 60, 120, 240)  # snapshots per second
DEFAULT_SPEED = 60
TICK_HZ = 60


class StorySlider(QSlider):
    """A slider that jumps to the clicked position (not one page towards it; a click within a
    few pixels of a mark lands on the mark), marks the recorded snapshots at which the
    diagnosis changed (``set_marks``: lines at the top and bottom in the verdict's colour) and
    where the loss plateaued (``set_plateau_marks``: a hollow triangle over the groove and a
    dotted line, in PLATEAU_COLOR), and draws a strip under the groove coloured by the
    verdict in force over each stretch of the history. Hovering shows the step under the
    pointer, its loss (``hover_text``) and the marks there."""

    MARK_HIT_PX = 5
    STRIP_PX = 4
    PLATEAU_COLOR = "#17becf"
    #: The outcome strip, just above the verdict strip: the outcome in force over each stretch (model.outcome).
    OUTCOME_PX = 3
    OUTCOME_COLORS = {"settled": "#2ca02c", "stuck": "#3b0a0a", "moving": "#ffbf00"}

    def __init__(self, orientation: Qt.Orientation, parent: Optional[QWidget] = None):
        super().__init__(orientation, parent)
        self._marks: list = []  # (index, text, QColor): diagnosis changes
        self._plateaus: list = []  # (index, text): loss plateaus
        self._outcomes: list = []  # (index, outcome, text): where the outcome changed
        self.hover_text = None  # callable(value) -> str, e.g. "step 3,000 · loss 0.12"
        self.setMouseTracking(True)

    def set_marks(self, marks: Iterable[Tuple[int, str, Union[str, QColor]]]) -> None:
        self._marks = [(int(i), str(t), QColor(c)) for i, t, c in marks]
        self.update()

    def set_plateau_marks(self, marks: Iterable[Tuple[int, str]]) -> None:
        """[(index, text), ...]: the recorded snapshots from which the loss stopped moving."""
        self._plateaus = [(int(i), str(t)) for i, t in marks]
        self.update()

    def set_outcomes(self, spans: Iterable[Tuple[int, str, str]]) -> None:
        """[(index, outcome, text), ...]: from each recorded snapshot on, the outcome in force (settled, stuck,
        moving) and its one line, drawn as a strip in OUTCOME_COLORS above the verdict strip."""
        self._outcomes = [(int(i), str(o), str(t)) for i, o, t in spans]
        self.update()

    def outcomes(self) -> list:
        """The outcome strip, [(index, outcome, text), ...]."""
        return list(self._outcomes)

    def outcome_at(self, index: int) -> Optional[Tuple[str, str]]:
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

    def _track(self):
        """(x of the first handle centre, pixels the handle centre travels) of the groove."""
        opt = self._option()
        st = self.style()
        groove = st.subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderGroove, self)
        handle = st.subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle, self)
        return groove.x() + handle.width() // 2, groove.width() - handle.width()

    def x_of(self, value: int) -> int:
        """The pixel x of a slider value (the centre of the handle there)."""
        x0, span = self._track()
        return x0 + QStyle.sliderPositionFromValue(self.minimum(), self.maximum(), int(value), max(span, 0))

    def value_at(self, x: int) -> int:
        x0, span = self._track()
        return QStyle.sliderValueFromPosition(self.minimum(), self.maximum(), int(x - x0), max(span, 1))

    def mark_near(self, x: float) -> Optional[int]:
        """The index of the mark within MARK_HIT_PX of pixel x (the nearest), or None."""
        best = None
        for i, _t in self._all_marks():
            d = abs(self.x_of(i) - x)
            if d <= self.MARK_HIT_PX and (best is None or d < best[0]):
                best = (d, i)
        return None if best is None else best[1]

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt)
        if event.button() == Qt.MouseButton.LeftButton and self.maximum() > self.minimum():
            opt = self._option()
            hit = self.style().hitTestComplexControl(QStyle.ComplexControl.CC_Slider, opt,
                                                     event.position().toPoint(), self)
            if hit != QStyle.SubControl.SC_SliderHandle:
                # jump to the clicked step (or the mark under the pointer), then let the press
                # start a drag from there
                x = event.position().x()
                m = self.mark_near(x)
                self.setValue(m if m is not None else self.value_at(int(x)))
        super().mousePressEvent(event)

    def tooltip_at(self, x: float) -> str:
        """What hovering at pixel x says: the step (and loss) under the pointer, and the marks there."""
        lines = []
        if self.hover_text is not None and self.maximum() >= self.minimum():
            lines.append(self.hover_text(self.value_at(int(x))))
        here = self.outcome_at(self.value_at(int(x))) if self._outcomes else None
        if here is not None:
            lines.append("outcome " + here[1])
        lines += [t for i, t in self._all_marks() if abs(self.x_of(i) - x) <= self.MARK_HIT_PX]
        return "\n".join(s for s in lines if s)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt)
        if not event.buttons():
            text = self.tooltip_at(event.position().x())
            if text:
                QToolTip.showText(event.globalPosition().toPoint(), text, self)
            else:
                QToolTip.hideText()
        super().mouseMoveEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt)
        super().paintEvent(event)
        if not self._marks and not self._plateaus and not self._outcomes:
            return
        p = QPainter(self)
        self._paint_outcomes(p)
        self._paint_diagnosis(p)
        self._paint_plateaus(p)
        p.end()

    def _paint_outcomes(self, p: QPainter) -> None:
        """The outcome strip: each outcome's colour from its snapshot to the next change."""
        if not self._outcomes:
            return
        y = self.height() - self.STRIP_PX - self.OUTCOME_PX
        ends = [self.x_of(i) for i, _o, _t in self._outcomes[1:]] + [self.x_of(self.maximum()) + 1]
        for (i, o, _t), x1 in zip(self._outcomes, ends):
            x0 = self.x_of(i)
            p.fillRect(x0, y, max(x1 - x0, 1), self.OUTCOME_PX, QColor(self.OUTCOME_COLORS.get(o, "#888888")))

    def _paint_plateaus(self, p: QPainter) -> None:
        """Each plateau: a hollow downward triangle at the top and a dotted line down to the strip."""
        if not self._plateaus:
            return
        h = self.height()
        c = QColor(self.PLATEAU_COLOR)
        a = max(3, h // 5)  # the triangle's half-width and height
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for i, _t in self._plateaus:
            x = self.x_of(i)
            p.setPen(QPen(c, 1, Qt.PenStyle.DotLine))
            p.drawLine(QPoint(x, a), QPoint(x, h - self.STRIP_PX - 1))
            p.setPen(QPen(c, 2))
            p.drawPolyline(QPolygon([QPoint(x - a, 1), QPoint(x + a, 1), QPoint(x, a + 1), QPoint(x - a, 1)]))

    def _paint_diagnosis(self, p: QPainter) -> None:
        if not self._marks:
            return
        h = self.height()
        # the strip: each mark's colour from its snapshot to the next mark (the verdict in force)
        ends = [self.x_of(i) for i, _t, _c in self._marks[1:]] + [self.x_of(self.maximum()) + 1]
        for (i, _t, c), x1 in zip(self._marks, ends):
            x0 = self.x_of(i)
            p.fillRect(x0, h - self.STRIP_PX, max(x1 - x0, 1), self.STRIP_PX, c)
        for i, _t, c in self._marks:
            x = self.x_of(i)
            p.setPen(QPen(c, 3))
            p.drawLine(QPoint(x, 0), QPoint(x, max(3, h // 4)))
            p.drawLine(QPoint(x, h - max(3, h // 4)), QPoint(x, h - self.STRIP_PX))


class Timeline(QWidget):
    """Slider over the recorded steps with playback and follow-live.

    Signals: ``stepRequested(int)``, ``followLiveChanged(bool)`` (a request to the owner of
    follow-live), ``playingChanged(bool)``.
    """

    stepRequested = pyqtSignal(int)
    followLiveChanged = pyqtSignal(bool)
    playingChanged = pyqtSignal(bool)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._steps = np.zeros(0, dtype=np.int64)
        self._index = -1  # slider position; -1 = no steps
        self._anchor: Optional[int] = None  # the step the user (or the session) chose
        self._playing = False
        self._acc = 0.0
        self._updating = False
        self._shortcuts: list = []
        self._events: list = []

        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        tip_keys = " (space: play/pause, ←/→: previous/next snapshot, Home/End: first/last)"

        def button(name, text, tip, slot, icon=None):
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

        SP = QStyle.StandardPixmap
        self._play_icon = self.style().standardIcon(SP.SP_MediaPlay)
        self._pause_icon = self.style().standardIcon(SP.SP_MediaPause)
        self.start_button = button("timeline_start", "first", "first snapshot (Home)", self.go_start,
                                   SP.SP_MediaSkipBackward)
        self.prev_button = button("timeline_prev", "previous", "previous snapshot (←)", self.step_back,
                                  SP.SP_MediaSeekBackward)
        self.play_button = button("timeline_play", "play", "play / pause (space)", self.toggle_play,
                                  SP.SP_MediaPlay)
        self.next_button = button("timeline_next", "next", "next snapshot (→)", self.step_forward,
                                  SP.SP_MediaSeekForward)
        self.end_button = button("timeline_end", "last", "last snapshot (End)", self.go_end,
                                 SP.SP_MediaSkipForward)

        self.slider = StorySlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("timeline_slider")
        self.slider.setRange(0, 0)
        self.slider.setToolTip("recorded snapshots" + tip_keys)
        self.slider.valueChanged.connect(self._slider_moved)

        # LiveText: a QLabel's setText would relayout the window on every scrubbed frame
        self.label = LiveText("no steps yet", align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                              min_width=150)
        self.label.setObjectName("timeline_label")

        self.speed_combo = QComboBox()
        self.speed_combo.setObjectName("timeline_speed")
        for s in SPEEDS:
            self.speed_combo.addItem(f"{s}/s", s)
        self.speed_combo.setCurrentIndex(SPEEDS.index(DEFAULT_SPEED))
        self.speed_combo.setToolTip("playback speed, snapshots per second")
        self.speed_combo.setFocusPolicy(Qt.FocusPolicy.TabFocus)

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
        for w in (self.start_button, self.prev_button, self.play_button, self.next_button,
                  self.end_button):
            row.addWidget(w)
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        row.addWidget(self.speed_combo)
        row.addWidget(self.loop_check)
        row.addWidget(self.follow_check)

        self._timer = QTimer(self)
        self._timer.setInterval(round(1000 / TICK_HZ))
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._refresh()

    # ------------------------------------------------------------------ properties
    @property
    def steps(self) -> np.ndarray:
        return self._steps.copy()

    @property
    def current_step(self) -> Optional[int]:
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
    def speed(self) -> int:
        return int(self.speed_combo.currentData())

    @speed.setter
    def speed(self, snapshots_per_second: int) -> None:
        v = int(snapshots_per_second)
        i = self.speed_combo.findData(v)
        if i < 0:
            self.speed_combo.addItem(f"{v}/s", v)
            i = self.speed_combo.count() - 1
        self.speed_combo.setCurrentIndex(i)

    @property
    def loop(self) -> bool:
        return self.loop_check.isChecked()

    @loop.setter
    def loop(self, on: bool) -> None:
        self.loop_check.setChecked(bool(on))

    # ------------------------------------------------------------------ external API
    def set_steps(self, steps: ArrayLike) -> None:
        """The recorded steps (ascending). Following live: go to the newest (emit if it
        changed). Otherwise keep the user's position (the recorded step at or before it)."""
        before = self.current_step
        self._steps = np.asarray(steps, dtype=np.int64).reshape(-1).copy()
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
        self._refresh()
        if self._events:
            self._place_marks()
        after = self.current_step
        if after is not None and after != before:
            self.stepRequested.emit(after)

    def set_events(self, events: Optional[Iterable[dict]]) -> None:
        """Mark the story: [{"step", "text", "color"?, "kind"?}, ...] (model.story.story_events):
        diagnosis changes (no kind, or "diagnosis"), loss plateaus (kind "plateau", their own mark
        style, left out of the verdict strip) and outcomes (kind "outcome" with "outcome": the strip
        above the verdict strip). A mark sits on the recorded snapshot at or before its step."""
        self._events = list(events or [])
        self._place_marks()

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

    def play(self) -> None:
        if self._playing or len(self._steps) < 2:
            return
        self.set_follow_live(False)
        if self._index >= len(self._steps) - 1:  # at the end: start over
            self._move_to(0, stop_following=False)
        self._acc = 0.0
        self._playing = True
        self._timer.start()
        self._refresh()
        self.playingChanged.emit(True)

    def pause(self) -> None:
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

    def go_start(self) -> None:
        """First snapshot (stops following live)."""
        if len(self._steps):
            self.set_follow_live(False)
            self._move_to(0)

    def go_end(self) -> None:
        """Last snapshot (keeps the follow state)."""
        if len(self._steps):
            self._move_to(len(self._steps) - 1, stop_following=False)

    def install_shortcuts(self, window: QWidget) -> list:
        """Space, ←/→, Home/End as window-wide shortcuts on ``window``.

        Text fields keep these keys while they have focus (Qt lets a focused line
        edit override a shortcut it would consume)."""
        for sc in self._shortcuts:
            sc.setEnabled(False)
            sc.deleteLater()
        self._shortcuts = []
        for key, slot in ((Qt.Key.Key_Space, self.toggle_play), (Qt.Key.Key_Left, self.step_back),
                          (Qt.Key.Key_Right, self.step_forward), (Qt.Key.Key_Home, self.go_start),
                          (Qt.Key.Key_End, self.go_end)):
            sc = QShortcut(QKeySequence(key), window)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.setAutoRepeat(True)
            sc.activated.connect(slot)
            self._shortcuts.append(sc)
        return list(self._shortcuts)

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

    def _tick(self) -> None:
        N = len(self._steps)
        if not self._playing or N < 2:
            self.pause()
            return
        self._acc += self.speed / TICK_HZ
        adv = int(self._acc)
        if adv == 0:
            return
        self._acc -= adv
        target = self._index + adv
        if target >= N - 1:
            # show the last snapshot first; on the next advance, wrap (loop) or stop
            target = 0 if (self.loop and self._index >= N - 1) else N - 1
        self._move_to(target, stop_following=False)
        if target >= N - 1 and not self.loop:
            self.pause()

    def _refresh(self) -> None:
        N = len(self._steps)
        self._updating = True
        try:
            self.slider.setRange(0, max(N - 1, 0))
            self.slider.setValue(max(self._index, 0))
        finally:
            self._updating = False
        has = N > 0
        self.slider.setEnabled(N > 1)
        for b in (self.start_button, self.prev_button, self.next_button, self.end_button):
            b.setEnabled(has)
        self.play_button.setEnabled(N > 1)
        text = "pause" if self._playing else "play"
        if self.play_button.text() != text:  # setText/setIcon relayout: only on a change
            self.play_button.setText(text)
            self.play_button.setIcon(self._pause_icon if self._playing else self._play_icon)
        if has:
            self.label.setText(f"step {int(self._steps[self._index]):,} / {int(self._steps[-1]):,}")
        else:
            self.label.setText("no steps yet")

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt)
        key = event.key()
        actions = {Qt.Key.Key_Space: self.toggle_play, Qt.Key.Key_Left: self.step_back,
                   Qt.Key.Key_Right: self.step_forward, Qt.Key.Key_Home: self.go_start,
                   Qt.Key.Key_End: self.go_end}
        if key in actions and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            actions[key]()
            event.accept()
            return
        super().keyPressEvent(event)


__all__ = ["Timeline", "SPEEDS", "TICK_HZ"]
