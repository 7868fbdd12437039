"""File > Export figure… and File > Export animation…: the window's export dialogs.

Both draw the session's run with fresh, off-screen views (the window's views keep
their size and state) drawn with the window's views' settings values, the 3D view's
axis triple and its camera (``window_view_options``): the file shows what the window
shows. The animation dialog renders a frame or two per timer tick on the GUI thread
and encodes in a worker thread (app.export.animate), so the window stays responsive;
its progress bar shows the time left, and Cancel removes the half-written file.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtCore import QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.export.animate import DEFAULT_FRAMES, GIF_FPS_MAX, ORBIT_MAX, AnimationJob, select_steps
from app.export.figure import MAX_SIDE, ExportError, FigureOptions, FigureRenderer, plane3d_class, run_title
from app.export.view_settings import CameraSettings
from views import registry

if TYPE_CHECKING:
    from PyQt6.QtGui import QCloseEvent

    from app.gui.main_window import MainWindow

FIGURE_FILTER = "PNG image (*.png);;SVG vector (*.svg);;PDF vector (*.pdf)"
ANIMATION_FILTER = "MP4 video (*.mp4);;GIF animation (*.gif)"
TICK_MS = 5  # the animation timer; each tick renders for at most TICK_BUDGET_S
TICK_BUDGET_S = 0.03


def view_choices() -> list[tuple[str, tuple[str, ...]]]:
    """(label, panels) offered by both dialogs: every view of the registry, then its figures; the GL
    ones only when OpenGL is there."""
    has_gl = plane3d_class() is not None
    out: list[tuple[str, tuple[str, ...]]] = [(v.title, (v.key,)) for v in registry.VIEWS if has_gl or not v.gl]
    out += [(title, panels) for panels, title in registry.FIGURES.values() if has_gl or not registry.needs_gl(panels)]
    return out


def window_view_options(window: MainWindow) -> dict:
    """What the window's views show, as FigureOptions fields: ``views`` (each view's settings
    value), ``axes`` (the 3D view's triple) and ``camera`` (its whole camera)."""
    plane = window.plane3d
    return {"views": window.view_settings(), "axes": tuple(int(i) for i in plane.triple),
            "camera": CameraSettings(preset=plane.camera_preset, **plane.camera_params())}


class _Common(QDialog):
    """What both dialogs share: view, size, look, file."""

    def __init__(self, window: MainWindow, title: str, formats: str, default_size, parent=None):
        super().__init__(parent if parent is not None else window)
        self.main = window  # the window whose views are exported (not QWidget.window(): this dialog's own)
        self.session = window.session
        self.setWindowTitle(title)
        self._filter = formats
        # paths an existing file may be replaced at: chosen with Browse… (whose dialog asked)
        # or written by this dialog already; any other existing file is never touched
        self._may_replace: set = set()
        lay = QVBoxLayout(self)
        self.form = QFormLayout()
        lay.addLayout(self.form)
        self.view = QComboBox()
        for label, panels in view_choices():
            self.view.addItem(label, panels)
        self.form.addRow("View", self.view)
        size = QWidget()
        sl = QHBoxLayout(size)
        sl.setContentsMargins(0, 0, 0, 0)
        self.width_box = QSpinBox()
        self.height_box = QSpinBox()
        for b, v in ((self.width_box, default_size[0]), (self.height_box, default_size[1])):
            b.setRange(16, MAX_SIDE)
            b.setValue(v)
            b.setSuffix(" px")
        sl.addWidget(self.width_box)
        sl.addWidget(QLabel("×"))
        sl.addWidget(self.height_box)
        self.form.addRow("Size", size)
        self.title_box = QCheckBox("title")
        self.title_box.setChecked(True)
        self.title_text = QLineEdit()
        cfg = self.session.config
        self.title_text.setPlaceholderText(run_title(cfg, self.session.model) if cfg is not None else "")
        self.title_text.setToolTip("empty: the run's config")
        tl = QWidget()
        tll = QHBoxLayout(tl)
        tll.setContentsMargins(0, 0, 0, 0)
        tll.addWidget(self.title_box)
        tll.addWidget(self.title_text, 1)
        self.form.addRow("Title", tl)
        self.caption_box = QCheckBox("step and loss")
        self.caption_box.setChecked(True)
        self.form.addRow("Caption", self.caption_box)
        self.legend_box = QCheckBox("feature colours")
        self.form.addRow("Legend", self.legend_box)
        self.font_box = QDoubleSpinBox()
        self.font_box.setRange(4, 72)
        self.font_box.setValue(10)
        self.font_box.setSuffix(" pt")
        self.form.addRow("Font size", self.font_box)
        fl = QWidget()
        fll = QHBoxLayout(fl)
        fll.setContentsMargins(0, 0, 0, 0)
        self.path = QLineEdit()
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        fll.addWidget(self.path, 1)
        fll.addWidget(self.browse)
        self.form.addRow("File", fl)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        lay.addWidget(self.message)
        self.buttons = QHBoxLayout()
        lay.addLayout(self.buttons)
        self.view.currentIndexChanged.connect(self._view_changed)
        self._view_changed()

    def panels(self) -> tuple[str, ...]:
        return tuple(self.view.currentData())

    def _view_changed(self, *_):
        self.legend_box.setChecked(registry.feature_coloured(self.panels()))

    def _browse(self):
        start = self.path.text() or str(Path.home() / self.default_name())
        path, _ = QFileDialog.getSaveFileName(self, self.windowTitle(), start, self._filter)
        if path:
            self.path.setText(path)
            self._may_replace.add(self._key(path))

    @staticmethod
    def _key(path) -> str:
        return os.path.abspath(os.path.expanduser(str(path).strip()))

    def replace_ok(self, path) -> bool:
        """Whether an existing file at ``path`` may be replaced (see _may_replace)."""
        return self._key(path) in self._may_replace

    def check_replace(self, path) -> bool:
        """False (with the reason shown) when ``path`` is an existing file nobody asked to replace."""
        p = Path(os.path.expanduser(str(path).strip()))
        if p.is_file() and not self.replace_ok(p):
            self.show_message(f"{p} already exists: choose it with Browse… to replace it, or another name.",
                              error=True)
            return False
        return True

    def default_name(self) -> str:
        return "figure.png"

    def options(self) -> FigureOptions:
        title = (self.title_text.text().strip() or "auto") if self.title_box.isChecked() else None
        return FigureOptions(width=self.width_box.value(), height=self.height_box.value(), title=title,
                             caption=self.caption_box.isChecked(), legend=self.legend_box.isChecked(),
                             font_size=self.font_box.value(), **window_view_options(self.main))

    def title(self) -> str:
        s = self.session
        return run_title(s.config, s.model) if s.config is not None else ""

    def show_message(self, text: str, error: bool = False):
        self.message.setStyleSheet("color: #b00020;" if error else "")
        self.message.setText(text)

    def add_buttons(self, *buttons: QPushButton) -> None:
        """The dialog's buttons at the right of its last row, then Close."""
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        self.buttons.addStretch(1)
        for b in buttons + (close,):
            self.buttons.addWidget(b)


class FigureDialog(_Common):
    """Export the shown snapshot as PNG (any view), SVG or PDF (2D views)."""

    exported = pyqtSignal(str)

    def __init__(self, window: MainWindow, parent: QWidget | None = None):
        super().__init__(window, "Export figure", FIGURE_FILTER, (1200, 800), parent)
        self.background = QComboBox()
        self.background.addItems(["white", "transparent"])
        self.form.insertRow(2, "Background", self.background)
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.export)
        self.add_buttons(self.export_button)

    def options(self) -> FigureOptions:
        o = super().options()
        o.background = self.background.currentText()
        return o

    def export(self) -> Path | None:
        s = self.session
        shown = s.frame()
        if shown is None:
            self.show_message("Nothing to export yet: train or open a run first.", error=True)
            return None
        frame = self.main.dressed(s.frame_at(shown.snapshot.step))
        assert frame is not None  # a frame was shown: the session has its step
        snap = frame.snapshot
        if not self.path.text().strip():
            self.show_message("Choose a file (.png, .svg or .pdf).", error=True)
            return None
        if not self.check_replace(self.path.text()):
            return None
        try:
            with FigureRenderer(self.panels(), self.options(), self.title()) as r:
                out = r.save(self.path.text().strip(), frame, replace=self.replace_ok(self.path.text()))
        except ExportError as exc:
            self.show_message(str(exc), error=True)
            return None
        self._may_replace.add(self._key(out))
        self.show_message(f"Wrote {out} (step {snap.step:,}).")
        self.exported.emit(str(out))
        return out


class AnimationDialog(_Common):
    """Export a range of the history as MP4 or GIF, with progress, time left and Cancel."""

    finished_export = pyqtSignal(str)  # the path written, or "" when cancelled / failed

    def __init__(self, window: MainWindow, parent: QWidget | None = None):
        super().__init__(window, "Export animation", ANIMATION_FILTER, (1280, 720), parent)
        self.start_box = QSpinBox()
        self.end_box = QSpinBox()
        for b in (self.start_box, self.end_box):
            b.setGroupSeparatorShown(True)
        rng = QWidget()
        rl = QHBoxLayout(rng)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(QLabel("from step"))
        rl.addWidget(self.start_box, 1)
        rl.addWidget(QLabel("to"))
        rl.addWidget(self.end_box, 1)
        self.form.insertRow(1, "Range", rng)
        self.by_frames = QRadioButton("frames")
        self.by_stride = QRadioButton("one every")
        self.by_frames.setChecked(True)
        grp = QButtonGroup(self)
        grp.addButton(self.by_frames)
        grp.addButton(self.by_stride)
        self.frames_box = QSpinBox()
        self.frames_box.setRange(2, 100_000)
        self.frames_box.setValue(DEFAULT_FRAMES)
        self.stride_box = QSpinBox()
        self.stride_box.setRange(1, 10**9)
        self.stride_box.setSuffix(" steps")
        self.log_time = QCheckBox("log time (early steps change fastest)")
        fr = QWidget()
        frl = QHBoxLayout(fr)
        frl.setContentsMargins(0, 0, 0, 0)
        for w in (self.frames_box, self.by_frames, self.by_stride, self.stride_box):
            frl.addWidget(w)
        self.form.insertRow(2, "Frames", fr)
        self.form.insertRow(3, "", self.log_time)
        self.fps_box = QDoubleSpinBox()
        self.fps_box.setRange(1, 120)
        self.fps_box.setValue(30)
        self.form.insertRow(4, "Frames per second", self.fps_box)
        self.orbit_box = QDoubleSpinBox()
        self.orbit_box.setRange(-ORBIT_MAX, ORBIT_MAX)
        self.orbit_box.setSuffix("°")
        self.orbit_box.setToolTip("3D view: degrees the camera turns over the whole animation")
        self.form.insertRow(5, "Camera orbit", self.orbit_box)
        self.by_frames.toggled.connect(self._mode_changed)
        self._mode_changed()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.layout().insertWidget(1, self.progress)
        self.start_button = QPushButton("Export")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.add_buttons(self.start_button, self.cancel_button)
        self.job: AnimationJob | None = None
        self.renderer: FigureRenderer | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self._finishing = False
        self._view_changed()
        self.refresh()

    def default_name(self) -> str:
        return "training.mp4"

    def refresh(self) -> None:
        """Take the session's run as it is now: the recorded range (a dialog is reused)."""
        if self.running():
            return
        h = self.session.history
        first = int(h.first_step) if h is not None and len(h) else 0
        latest = int(h.latest_step) if h is not None and len(h) else 0
        for b, v in ((self.start_box, first), (self.end_box, latest)):
            b.setRange(first, max(first, latest))
            b.setValue(v)
        self.stride_box.setValue(max(1, (latest - first) // DEFAULT_FRAMES))
        cfg = self.session.config
        self.title_text.setPlaceholderText(run_title(cfg, self.session.model) if cfg is not None else "")

    def _view_changed(self, *_):
        super()._view_changed()
        if hasattr(self, "orbit_box"):
            self.orbit_box.setEnabled(registry.needs_gl(self.panels()))

    def _mode_changed(self, *_):
        frames = self.by_frames.isChecked()
        self.frames_box.setEnabled(frames)
        self.log_time.setEnabled(frames)
        self.stride_box.setEnabled(not frames)

    def running(self) -> bool:
        return self.job is not None and self.job.state == "running"

    def start(self) -> bool:
        if self.running():
            return False
        s = self.session
        if s.history is None or len(s.history) == 0:
            self.show_message("Nothing to animate yet: train or open a run first.", error=True)
            return False
        if not self.path.text().strip():
            self.show_message("Choose a file (.mp4 or .gif).", error=True)
            return False
        frames = self.by_frames.isChecked()
        renderer = None
        try:
            steps = select_steps(s.history.steps, self.start_box.value(), self.end_box.value(),
                                 frames=self.frames_box.value() if frames else None,
                                 stride=None if frames else self.stride_box.value(),
                                 log_time=frames and self.log_time.isChecked())
            fps = self.fps_box.value()
            if self.path.text().strip().lower().endswith(".gif") and fps > GIF_FPS_MAX:
                raise ExportError("Frames per second", f"must be at most {GIF_FPS_MAX} for GIF")
            orbit = self.orbit_box.value() if registry.needs_gl(self.panels()) else 0.0
            if not self.check_replace(self.path.text()):
                return False
            renderer = FigureRenderer(self.panels(), self.options(), self.title())
            self.job = AnimationJob(renderer, lambda step: self.main.dressed(s.frame_at(step)), steps,
                                    self.path.text().strip(), fps=fps, orbit=orbit, replace=self.replace_ok(self.path.text()))
            self.job.start()
        except ExportError as exc:
            if renderer is not None:
                renderer.close()
            self.job = None
            self.show_message(str(exc), error=True)
            return False
        self.renderer = renderer
        self.progress.setRange(0, self.job.total)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m frames")
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.show_message(f"Rendering {self.job.total} frames to {self.job.target} …")
        self._finishing = False
        self.timer.start()
        return True

    def _tick(self):
        job = self.job
        if job is None:
            self.timer.stop()
            return
        try:
            if not self._finishing:
                more = job.step(TICK_BUDGET_S)
                self.progress.setValue(job.done)
                eta = job.eta()
                if eta is not None:
                    self.progress.setFormat(f"%v / %m frames · {int(eta) // 60}:{int(eta) % 60:02d} left")
                if not more:
                    self._finishing = True
                    self.show_message("Encoding the last frames …")
                return
            if not job.encoder_idle():
                return  # the encoder is still busy: do not block the GUI waiting for it
            out = job.finish()
        except ExportError as exc:
            self._end(f"Export failed: {exc}", error=True)
            self.finished_export.emit("")
            return
        secs = job.total / job.fps
        self._may_replace.add(self._key(out))
        self._end(f"Wrote {out} ({job.total} frames, {secs:.1f} s).")
        self.finished_export.emit(str(out))

    def cancel(self) -> None:
        if self.job is not None and self.job.state == "running":
            self.job.cancel()
            self._end("Cancelled; no file was written.")
            self.finished_export.emit("")

    def _end(self, text: str, error: bool = False):
        self.timer.stop()
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.show_message(text, error)

    def closeEvent(self, e: QCloseEvent) -> None:
        self.cancel()
        super().closeEvent(e)


def _show(window, cls):
    for d in getattr(window, "dialogs", []):
        if isinstance(d, cls):
            if hasattr(d, "refresh"):
                d.refresh()
            d.show()
            d.raise_()
            d.activateWindow()
            return d
    d = cls(window)
    d.setModal(False)
    if hasattr(window, "dialogs"):
        window.dialogs.append(d)
    d.show()
    return d


def open_figure_dialog(window: MainWindow) -> FigureDialog:
    """File > Export figure… (one dialog per window, reused)."""
    return _show(window, FigureDialog)


def open_animation_dialog(window: MainWindow) -> AnimationDialog:
    """File > Export animation… (one dialog per window, reused)."""
    return _show(window, AnimationDialog)
