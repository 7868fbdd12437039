"""The 3D latent plane (the seed's central picture) as a dock of the explorer.

``PlaneView.set_frame(frame)`` builds the arrays (render3d.scene, pure
numpy) and hands them to a few GL items (render3d.gl_items) that only draw
them; Qt repaints at display rate. The triple of output axes, the enlarge
factors and the toggles are ``PlaneSettings``; the camera stays where it is
while snapshots change (it is framed again on a preset, on Fit, on a new
triple or when n changes).

Controls (toolbar): the triple by feature number (x, y, z spin boxes), step
the z axis through the features (◀ ▶), "Default" (two strong features and the
weakest, following training until a feature dies), "Selected → axes" (the
features selected in the 2D views go into the triple), toggles (slivers,
after ReLU, cube, bias, tilt, labels), the enlarge factor per axis and the
camera presets (iso, normal = from the plane's underside, along x / y / z,
Fit). A click on a vertex point emits featureClicked (selects it everywhere). A right-click opens
``context_menu``: the feature under the cursor onto the x, y or z axis (the axis pick that Alt+click
gives, for window managers that take Alt+click), the triple's controls, the toggles, the cameras and
Fit. The wheel zooms towards the cursor; Fit frames the shape, not an enlarged axis's far end.

Export: ``render_image(w, h)`` renders the current scene at exactly w x h
pixels (GLViewWidget.renderToArray, then the labels painted over it);
``set_orbit(azimuth)`` turns the camera about the vertical axis for
animations (``camera_params()`` / ``set_camera_params(...)`` save and restore
the whole camera). For an animation over the history, call
``set_triple(view.triple)`` first: it pins the axes, so the default triple
(which follows training until a feature dies) cannot switch, and re-frame,
mid-animation.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PyQt6.QtCore import QPoint, QRect, QSize, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QContextMenuEvent, QImage, QPainter, QResizeEvent, QShowEvent, QVector3D
from PyQt6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QLabel,
    QLayout,
    QLayoutItem,
    QMenu,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from model.snapshot import Snapshot, not_finite_message
from views.settings import ENLARGE_RANGE, PlaneSettings, Triple

from . import scene as sc
from .gl_items import GLView, LabelItem, LineItem, MeshItem, PointItem, paint_labels

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from model.analysis.frame import Frame

BACKGROUND = (255, 255, 255, 255)
#: Pixel sizes of the drawing elements at scale 1 (render_image scales them with the image).
POINT_PX = 9.0
POINT_PX_LARGE_N = 3.0
RELU_POINT_PX = 6.0
WIDTH = {"thin": 1.2, "outline": 1.6, "thick": 2.8, "bar": 7.0}
#: The GL picture is shown by a raster widget (render3d.raster_host), so no QOpenGLWidget sits in
#: the window: one would make Qt compose the whole window with OpenGL on every repaint (under
#: software GL most of a scrubbed frame; benchmarks/bench_gui.py measures both ways).
RASTER_HOST = True
#: The status line under the view takes this many lines (the whole text is its tooltip).
STATUS_LINES = 1
#: A click within this many pixels of a vertex point picks its feature.
CLICK_PX = 8.0
CAMERA_TEXT = {"iso": "Iso", "normal": "Normal", "axis-i": "x", "axis-j": "y", "axis-k": "z"}
CAMERA_TIPS = {
    "iso": "Isometric: from above the positive octant",
    "normal": "Along the plane's normal, from its underside: the feature vectors appear as a wheel",
    "axis-i": "Look down the x axis (feature i) towards the origin",
    "axis-j": "Look down the y axis (feature j) towards the origin",
    "axis-k": "Look down the z axis (feature k) towards the origin",
}


def image_scale(w: int, h: int) -> float:
    """Line width, point size and font factor of a w x h rendering: min(w, h) / 500 in [1, 4]."""
    return float(np.clip(min(w, h) / 500.0, 1.0, 4.0))


def _colored(pos, color) -> np.ndarray:
    """(2K, 4) colours of a line set: per-vertex colours as given, or one colour repeated."""
    c = np.asarray(color, dtype=np.float32)
    k = len(pos)
    return c.reshape(-1, 4) if c.ndim == 2 else np.tile(c.reshape(1, 4), (k, 1))


class SceneItems:
    """The GL items of one view, fed from a Scene.

    Few items, so a frame costs few draw calls: the thin lines (cube, negative
    half-axes, drop lines, spokes, ReLU lines) in one item, the thick ones
    (positive half-axes, bias arrow, tilt arrows) in another, the outline, the
    arrowheads, the points, the translucent shape (drawn after everything
    opaque) and the labels (last). The after-ReLU bars, wide (WIDTH["bar"]), go
    first: a bar lying on its own axis is at the axis's depth, and the depth test
    keeps what is drawn first there, so the bar reads over its axis.
    """

    def __init__(self, view: GLView):
        self.view = view
        self.thin = LineItem(WIDTH["thin"])
        self.thick = LineItem(WIDTH["thick"])
        self.bars = LineItem(WIDTH["bar"])
        self.outline = LineItem(WIDTH["outline"])
        self.heads = MeshItem(glOptions="translucent")
        self.points = PointItem()
        self.relu_points = PointItem()
        self.mesh = MeshItem()
        self.labels = LabelItem()
        order = [self.bars, self.thin, self.thick, self.outline, self.heads, self.points, self.relu_points, self.mesh,
                 self.labels]
        for d, it in enumerate(order):
            it.setDepthValue(d)  # the translucent mesh after everything opaque, the labels last
            view.addItem(it)
        self.lines = [self.bars, self.thin, self.thick, self.outline]
        self.scale = 1.0
        self._dense: bool | None = None

    def clear(self) -> None:
        for it in self.lines:
            it.set_lines(np.zeros((0, 3)), np.zeros((0, 4)))
        self.heads.set_mesh(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 4)))
        self.mesh.set_mesh(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 4)))
        self.points.set_points(np.zeros((0, 3)), np.zeros((0, 4)), 1.0)
        self.relu_points.set_points(np.zeros((0, 3)), np.zeros((0, 4)), 1.0)
        self.labels.set_labels([])

    def set_scale(self, s: float) -> None:
        """Line widths, point sizes and fonts times s (render_image at a large size)."""
        self.scale = s
        for it in self.lines:
            it.setData(width=it.base_width * s)
        self.labels.scale = s

    def show(self, S: sc.Scene, st: PlaneSettings) -> None:
        s = self.scale
        thin: list[tuple[np.ndarray, Any]] = [(S.axes_neg, sc.NEG_AXIS)]  # (segments, one colour or per segment)
        thick: list[tuple[np.ndarray, Any]] = [(S.axes_pos, S.axes_colors)]
        if st.show_cube:
            thin.append((S.cube, sc.CUBE))
        if st.show_bias:
            thin.append((S.drop_lines, sc.DROP))
            thick.append((S.bias_lines, sc.BIAS))
        if st.show_vertices and not st.after_relu:
            thin.append((S.spokes, S.spoke_colors))
        if st.after_relu:
            thin.append((S.relu_lines, sc.RELU_LINE))
        if st.show_tilt:
            thick.append((S.tilt_lines, S.tilt_line_colors))
        for item, given in ((self.thin, thin), (self.thick, thick)):
            parts = [(np.asarray(p, dtype=np.float32).reshape(-1, 3), c) for p, c in given]
            item.set_lines(np.concatenate([p for p, _ in parts]),
                           np.concatenate([_colored(p, c) for p, c in parts]))
        bars = st.after_relu and len(S.relu_bars)
        self.bars.set_lines(S.relu_bars if bars else np.zeros((0, 3)), S.relu_bar_colors if bars else np.zeros((0, 4)))
        # thousands of tiny segments: plain 1-px lines (antialiased wide lines cost ~2 us each in
        # software GL, and at that density the ring looks the same)
        dense = S.n > 300
        if dense != self._dense:
            self._dense = dense
            self.outline.antialias = not dense
            self.outline.base_width = 1.0 if dense else WIDTH["outline"]
            self.outline.setData(width=self.outline.base_width * s)
        self.outline.set_lines(S.outline, S.outline_color)
        z = np.zeros((0, 3))
        if st.show_shape:
            self.mesh.set_mesh(S.mesh_pos, S.mesh_faces, S.mesh_colors)
        else:
            self.mesh.set_mesh(z, np.zeros((0, 3)), np.zeros((0, 4)))
        self.heads.set_mesh(S.head_pos, S.head_faces, S.head_colors)
        if st.show_vertices:
            k = S.vertex_shown
            px = (POINT_PX if S.n <= 300 else POINT_PX_LARGE_N) * s
            self.points.set_points(S.vertex_pos[k], S.vertex_colors[k], px)
        else:
            self.points.set_points(z, np.zeros((0, 4)), 1.0)
        if st.after_relu:
            k = S.vertex_shown
            self.relu_points.set_points(S.relu_pos[k], S.vertex_colors[k],
                                        (RELU_POINT_PX if S.n <= 300 else POINT_PX_LARGE_N) * s)
        else:
            self.relu_points.set_points(z, np.zeros((0, 4)), 1.0)
        self.labels.set_labels(S.labels, S.label_obstacles(), S.label_area)


def _spin(tip: str) -> QSpinBox:
    s = QSpinBox()
    s.setRange(1, 1)
    s.setToolTip(tip)
    s.setKeyboardTracking(False)
    return s


def _paint_message(img: QImage, text: str, scale: float) -> None:
    """``text`` centred on ``img`` (the 3D view's export of a snapshot it cannot draw)."""
    from PyQt6.QtCore import QRectF
    from PyQt6.QtGui import QColor, QFont

    p = QPainter(img)
    try:
        f = QFont()
        f.setPointSizeF(10 * scale)
        p.setFont(f)
        p.setPen(QColor(150, 20, 20))
        w, h = img.width(), img.height()
        p.drawText(QRectF(0.05 * w, 0, 0.9 * w, h), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                   text.replace(": ", "\n", 1))
    finally:
        p.end()


class _StatusBox(QWidget):
    """Holds the 3D view's status label at exactly its own size, with no layout: the box may shrink to
    nothing (it never sets its view's minimum width) while the label, of a fixed size, changes its text
    without asking any layout for room."""

    def __init__(self) -> None:
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(0)
        self.label = QLabel("", self)

    def resizeEvent(self, e: QResizeEvent) -> None:
        self.label.setFixedSize(max(e.size().width(), 1), max(e.size().height(), 1))
        super().resizeEvent(e)


class FlowLayout(QLayout):
    """Widgets left to right, wrapping onto further lines when the width runs out (Qt's flow
    layout example): the 3D view's controls never make its dock wider than the pictures' share,
    so they never crush the experiment dock beside it."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4):
        super().__init__(parent)
        self._items: list = []
        self.setSpacing(spacing)
        self.setContentsMargins(2, 0, 2, 0)

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, i: int) -> QLayoutItem | None:
        return self._items[i] if 0 <= i < len(self._items) else None

    def takeAt(self, i: int) -> QLayoutItem | None:
        return self._items.pop(i) if 0 <= i < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:
        w = sum(it.sizeHint().width() + self.spacing() for it in self._items)
        return QSize(w, self.minimumSize().height())

    def minimumSize(self) -> QSize:
        size = QSize()
        for it in self._items:
            size = size.expandedTo(it.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _place(self, rect: QRect, move: bool) -> int:
        m = self.contentsMargins()
        r = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, line = r.x(), r.y(), 0
        for it in self._items:
            if it.widget() is not None and not it.widget().isVisibleTo(self.parentWidget()):
                continue
            hint = it.sizeHint()
            if x + hint.width() > r.right() + 1 and line > 0:
                x, y, line = r.x(), y + line + self.spacing(), 0
            if move:
                it.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self.spacing()
            line = max(line, hint.height())
        return y + line - rect.y() + m.bottom()


class PlaneView(QWidget):
    """The 3D latent plane inside a triple of output axes (see the module docstring)."""

    featureClicked = pyqtSignal(int)
    settingsChanged = pyqtSignal(object)  # PlaneSettings, after any change of triple, toggle or factor

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._snap: Snapshot | None = None
        self._frame: Frame | None = None
        self._settings = PlaneSettings()
        self._auto = True           # the triple follows default_triple until the user picks one
        self._slot_age = [1, 0, 2]  # send_feature replaces the slot set longest ago (z first)
        self._n: int | None = None
        self._preset = "iso"
        self._camera_aspect: float | None = None  # the shape a handed-over camera framed (set_camera_params)
        self._need_fit = True
        self._framed = None  # the camera as last framed automatically (None: the user moved it)
        self._offscreen = None
        self.host = None  # the raster widget showing the GL picture, once shown (RASTER_HOST)
        self._updating = False
        self._not_finite_text: str | None = None
        self.scene: sc.Scene | None = None

        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(2)
        lay.addLayout(self._build_triple_row())
        lay.addLayout(self._build_toggle_row())

        self.gl = GLView()
        self.gl.setBackgroundColor(BACKGROUND)
        self.gl.setMinimumSize(160, 120)
        self.gl.clicked.connect(self._gl_clicked)
        # The GL widget joins the layout when this view is first shown: a QOpenGLWidget
        # anywhere in a window switches the whole window to OpenGL compositing, which under
        # software GL (Mesa llvmpipe, Xvfb) costs ~15 ms on every repaint of every view, so
        # a window whose 3D dock was never opened must not carry one.
        self._gl_slot = lay.count()
        self.items = SceneItems(self.gl)

        # The status line: a QLabel of a fixed size (STATUS_LINES lines, its box's width) changes its text
        # without relayouting the window, which every scrubbed frame did. The fixed size sits on the label
        # inside a box without a layout, not on the view: a label fixed at the view's width would be the
        # view's minimum width, and the view (and its dock) could then never shrink again.
        self.status_box = _StatusBox()
        self.status = self.status_box.label
        self.status.setStyleSheet("color: #333; font-size: 9pt;")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setWordWrap(True)
        self.status.ensurePolished()
        self.status_box.setFixedHeight(STATUS_LINES * self.status.fontMetrics().lineSpacing())
        lay.addWidget(self.status_box)
        self._sync_controls()

    def _build_triple_row(self) -> FlowLayout:
        """Row 1: the triple (x, y, z boxes, step z, Default, Selected → axes) and the camera presets."""
        r1 = FlowLayout()
        r1.addWidget(QLabel("axes"))
        self.spins = [_spin("Feature on the x axis (i)"), _spin("Feature on the y axis (j)"),
                      _spin("Feature on the z axis (k): the feature under study")]
        for name, s in zip("xyz", self.spins, strict=True):
            r1.addWidget(QLabel(name))
            r1.addWidget(s)
            s.valueChanged.connect(self._spins_changed)
        self.prev_btn = self._tool("◀", "Step the z axis to the previous feature", lambda: self.step(-1))
        self.next_btn = self._tool("▶", "Step the z axis to the next feature", lambda: self.step(1))
        r1.addWidget(self.prev_btn)
        r1.addWidget(self.next_btn)
        self.default_btn = self._tool("Default", "Two strong features and the weakest (dead) one, as in the "
                                      "seed; follows training until you pick a triple", self.use_default)
        r1.addWidget(self.default_btn)
        self.selected_btn = self._tool("Selected → axes", "Put the features selected in the 2D views into "
                                       "the triple (Ctrl+Shift+click in a 2D view sends one; Alt+click too)", self.send_selected)
        r1.addWidget(self.selected_btn)
        r1.addWidget(QLabel("camera"))
        self.camera_btns = {}
        for key in sc.CAMERA_PRESETS:
            b = self._tool(CAMERA_TEXT[key], CAMERA_TIPS[key], lambda _=False, k=key: self.set_camera(k))
            self.camera_btns[key] = b
            r1.addWidget(b)
        self.fit_btn = self._tool("Fit", "Frame the scene again (same viewing direction)", self.fit)
        r1.addWidget(self.fit_btn)
        return r1

    def _build_toggle_row(self) -> FlowLayout:
        """Row 2: the drawing toggles and the enlarge factor of each axis."""
        r2 = FlowLayout()
        self.toggles = {}
        for key, text, tip in (
                ("show_slivers", "slivers", "Fill the part of the shape where p_axis > 0 in that feature's colour"),
                ("after_relu", "after ReLU", "Fold the shape through ReLU: each vertex goes to ReLU(p), "
                                             "onto the hypercube's faces and edges"),
                ("show_relu_surface", "ReLU surface", "After ReLU: the folded shape shaded and opaque, and each "
                                                      "piece folded onto a line drawn as a bar in its colour"),
                ("show_cube", "cube", "Edges of the ReLU hypercube (unit cube in the positive octant)"),
                ("show_bias", "bias", "The bias offset: origin -> (b_i, b_j, b_k), where h = 0 lands"),
                ("show_tilt", "tilt", "Along each axis, the direction on the plane in which p_axis grows, "
                                      "and |W_axis|"),
                ("show_labels", "labels", "Axis, bias, tilt and vertex labels")):
            cb = QCheckBox(text)
            cb.setToolTip(tip)
            cb.setChecked(getattr(self._settings, key))
            cb.toggled.connect(lambda on, key=key: self.set_settings(self._settings.with_(**{key: bool(on)})))
            self.toggles[key] = cb
            r2.addWidget(cb)
        r2.addWidget(QLabel("enlarge"))
        self.enlarge_spins = []
        for name in "xyz":
            d = QDoubleSpinBox()
            d.setRange(*ENLARGE_RANGE)
            d.setDecimals(2)
            d.setSingleStep(0.5)
            d.setValue(1.0)
            d.setPrefix(f"{name} ×")
            d.setKeyboardTracking(False)
            d.setToolTip(f"Stretch the {name} axis by this factor (the seed enlarges dimension 7 to show b_7)")
            d.valueChanged.connect(self._enlarge_changed)
            self.enlarge_spins.append(d)
            r2.addWidget(d)
        return r2

    def showEvent(self, e: QShowEvent) -> None:
        super().showEvent(e)
        # a tabified dock is shown and hidden again while the window first lays out: wait
        QTimer.singleShot(0, self._ensure_gl)

    def _ensure_gl(self):
        """Put the GL picture into the layout once this view is really on screen: a raster widget
        showing the GL view's image (RASTER_HOST), or the GL widget itself."""
        if self.host is not None or self.gl.parent() is self or not self.isVisible() or self.visibleRegion().isEmpty():
            return
        self.gl.resize(max(self.width() - 4, 160), max(self.height() - 80, 120))
        if RASTER_HOST:
            from .raster_host import RasterHost

            self.host = RasterHost(self.gl, overlay=self._paint_host_labels)
            self.items.labels.setVisible(False)  # painted onto the host's image instead (raster engine)
            self.host.resize(self.gl.size())
            self.layout().insertWidget(self._gl_slot, self.host, 1)
        else:
            self.layout().insertWidget(self._gl_slot, self.gl, 1)

    def _tool(self, text, tip, slot) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    # ================================================================ state
    @property
    def settings(self) -> PlaneSettings:
        return self._settings

    @property
    def triple(self) -> Triple:
        return self._settings.triple

    @property
    def camera_preset(self) -> str:
        return self._preset

    def set_settings(self, st: PlaneSettings) -> None:
        """Replace every setting (triple, enlarge, toggles); an explicit triple turns the default off."""
        if not isinstance(st, PlaneSettings):
            raise TypeError(f"settings must be a PlaneSettings, got {type(st).__name__}")
        old = self._settings
        if self._snap is not None:
            st = st.with_(triple=sc.check_triple(st.triple, self._snap.n))
        if st.triple != old.triple:
            self._auto = False
        self._apply(st, refit=st.triple != old.triple or st.enlarge != old.enlarge)

    def restored(self, st: PlaneSettings) -> PlaneSettings:
        """Saved settings as this view takes them back in a new window: the toggles, but its own triple and
        enlarge factors (they belong to a run whose n may differ from the next one's)."""
        return st.with_(triple=self._settings.triple, enlarge=self._settings.enlarge)

    def set_triple(self, triple: Sequence[int]) -> None:
        """Show the output axes (i, j, k) (0-based) on x, y, z; the default no longer follows training."""
        t = tuple(int(v) for v in triple)
        if self._snap is not None:
            t = sc.check_triple(t, self._snap.n)
        self._auto = False
        if t != self._settings.triple:
            self._apply(self._settings.with_(triple=t), refit=True)

    def send_feature(self, i: int) -> None:
        """Put feature i (0-based) into the triple: it replaces the axis set longest ago (z first).

        A feature already on an axis stays where it is.
        """
        i = int(i)
        if self._snap is not None and not 0 <= i < self._snap.n:
            return
        t = list(self._settings.triple)
        if i in t:
            self._auto = False
            return
        slot = int(np.argmax(self._slot_age))
        t[slot] = i
        self._touch(slot)
        self.set_triple(tuple(t))

    def send_selected(self) -> None:
        """The features selected in the 2D views (the frame's selection) go into the triple, up to three."""
        sel = sorted(self._frame.selected) if self._frame is not None else []
        if self._snap is not None:
            sel = [i for i in sel if 0 <= i < self._snap.n]
        if len(sel) >= 3:
            self._slot_age = [1, 0, 2]
            self.set_triple(tuple(sel[:3]))
            return
        for i in sel:
            self.send_feature(i)

    def _touch(self, slot: int):
        self._slot_age = [a + 1 for a in self._slot_age]
        self._slot_age[slot] = 0

    def step(self, delta: int = 1) -> None:
        """Step the z axis through the features (skipping x and y)."""
        if self._snap is None:
            return
        self.set_triple(sc.step_triple(self._settings.triple, self._snap.n, delta))

    def use_default(self) -> None:
        """Back to the default triple (two strong features and the weakest), following training."""
        self._auto = True
        if self._snap is not None:
            t = sc.default_triple(self._snap, self._frame.analysis if self._frame is not None else None)
            self._apply(self._settings.with_(triple=t), refit=t != self._settings.triple)

    def _apply(self, st: PlaneSettings, refit: bool):
        changed = st != self._settings
        self._settings = st
        if refit:
            self._need_fit = True
        self._sync_controls()
        self.redraw()
        if changed:
            self.settingsChanged.emit(st)

    def _sync_controls(self):
        self._updating = True
        try:
            n = self._snap.n if self._snap is not None else max(self._settings.triple) + 1
            for s, v in zip(self.spins, self._settings.triple, strict=True):
                s.setRange(1, max(n, 1))
                s.setValue(v + 1)
            for d, v in zip(self.enlarge_spins, self._settings.enlarge, strict=True):
                d.setValue(v)
            for key, cb in self.toggles.items():
                cb.setChecked(getattr(self._settings, key))
            self.default_btn.setText("Default ✓" if self._auto else "Default")
        finally:
            self._updating = False

    def _spins_changed(self):
        if self._updating:
            return
        t = tuple(s.value() - 1 for s in self.spins)
        for slot, (a, b) in enumerate(zip(t, self._settings.triple, strict=True)):
            if a != b:
                self._touch(slot)
        self.set_triple(t)

    def _enlarge_changed(self):
        if self._updating:
            return
        e = tuple(float(d.value()) for d in self.enlarge_spins)
        self.set_settings(self._settings.with_(enlarge=e))

    # ============================================================= drawing
    def show_not_finite(self, text: str | None) -> None:
        """The status line (and render_image) say the snapshot is not finite (``text``), or not (None)."""
        self._not_finite_text = text
        if text is not None:
            self.status.setText(text)

    def set_frame(self, frame: Frame | None) -> None:
        """Draw ``frame`` (None clears): the one thing a view receives. A snapshot that is not finite is
        drawn as none and the status line (and render_image) say so."""
        snap = None if frame is None else frame.snapshot
        if snap is not None and not snap.finite:
            self._draw(None, frame)
            self.show_not_finite(not_finite_message(snap, frame.nonfinite if frame is not None else None))
            return
        self.show_not_finite(None)
        self._draw(snap, frame)

    @property
    def frame(self) -> Frame | None:
        """The frame drawn last."""
        return self._frame

    def _draw(self, snap: Snapshot | None, frame: Frame | None) -> None:
        """Draw this snapshot (None clears). The camera stays put unless n changed."""
        self._snap, self._frame = snap, frame
        self._ensure_gl()
        if snap is None or snap.n == 0:
            self.scene = None
            self.items.clear()
            self.status.setText("")
            return
        n = snap.n
        before = (self._settings, self._auto, self._n)
        if n != self._n:
            # another run (n changed): its triple and enlarge factors were chosen for other features and
            # are not carried over; the default triple follows training again
            new_run = self._n is not None
            self._n = n
            self._need_fit = True
            t = self._settings.triple
            if new_run or self._auto or not all(0 <= v < n for v in t) or n < 3:
                self._auto = new_run or self._auto or n >= 3
                self._settings = self._settings.with_(triple=sc.default_triple(snap, frame.analysis if frame is not None else None),
                                                      enlarge=(1.0, 1.0, 1.0) if new_run else self._settings.enlarge)
                self._slot_age = [1, 0, 2]
        elif self._auto:
            # follow training: switch when a feature has died and none of the triple is dead
            a = frame.analysis if frame is not None else None
            dead = set(getattr(a, "dead", []) or []) if a is not None and getattr(a, "n", n) == n else set()
            if dead and not dead & set(self._settings.triple):
                t = sc.default_triple(snap, a)
                if t != self._settings.triple:
                    self._settings = self._settings.with_(triple=t)
                    self._need_fit = True
        if (self._settings, self._auto, self._n) != before:  # spin boxes cost a relayout: only on change
            self._sync_controls()
        self.redraw()

    def redraw(self) -> None:
        """Rebuild the scene from the last snapshot and the settings."""
        snap, frame = self._snap, self._frame
        if snap is None:
            return
        colors = _colors_for(snap, frame)
        a = frame.analysis if frame is not None else None
        dead = getattr(a, "dead", None) if a is not None and getattr(a, "n", snap.n) == snap.n else None
        S = sc.build_scene(snap, self._settings, colors, dead=dead)
        self.scene = S
        self.items.show(S, self._settings)
        self._show_applied_enlarge(S)
        if self._need_fit:
            self._need_fit = False
            self._apply_camera(self._preset, S)
            self._framed = self._camera_key()
        elif self._framed == self._camera_key() and not self._in_view(S):
            # the shape grew out of the frame (training) and the user has not moved the camera
            # since it was last framed: frame it again, same viewing direction
            self.fit()
            self._framed = self._camera_key()
        text = self.describe()
        if text != self.status.text():
            self.status.setText(text)
            self.status.setToolTip(text)  # the whole text, when it takes more than STATUS_LINES lines

    def _show_applied_enlarge(self, S: sc.Scene) -> None:
        """Each enlarge box says the factor in force: a flat axis enlarged automatically (the user's
        factor x the automatic one) reads "x ×1.00 → ×5 applied", not ×1.00 alone."""
        for s, d in enumerate(self.enlarge_spins):
            applied, asked = float(S.enlarge[s]), float(self._settings.enlarge[s])
            suffix = f" → ×{applied:g} applied" if abs(applied - asked) > 1e-9 * max(asked, 1.0) else ""
            if d.suffix() != suffix:
                d.setSuffix(suffix)

    def describe(self) -> str:
        """The status line: triple, bias, tilt, flat axes, the plane for m != 2."""
        S = self.scene
        if S is None:
            return ""
        t = [v + 1 for v in S.triple]
        parts = [f"x, y, z = features {t[0]}, {t[1]}, {t[2]}",
                 "b = (" + ", ".join(sc.fmt(v) for v in S.bias) + ")",
                 "tilt |W| = (" + ", ".join(sc.fmt(v) for v in S.tilt_mag) + ")"]
        flat = [t[s] for s in range(3) if S.flat[s]]
        if flat:
            parts.append("flat (dead): " + ", ".join(f"feature {f}: p{f} = b{f} on the whole plane" for f in flat))
        nearly = [t[s] for s in range(3) if S.info["dead"][s] and not S.flat[s]]
        if nearly:
            parts.append("dead, nearly flat: " + ", ".join(
                f"feature {f} (|W{f}| = {sc.fmt(S.tilt_mag[t.index(f)])})" for f in nearly))
        if any(e != 1 for e in S.enlarge):
            parts.append("enlarged ×(" + ", ".join(f"{e:g}" for e in S.enlarge) + ")")
        if self._settings.after_relu:
            parts.append("after ReLU")
        if S.plane:
            parts.append(S.plane)
        return "   ·   ".join(parts)

    # ============================================================== camera
    def set_camera(self, preset: str) -> None:
        """Camera preset: "iso", "normal" (along the plane's normal, from its underside),
        "axis-i", "axis-j", "axis-k" (looking down that axis). Frames the scene."""
        if preset not in sc.CAMERA_PRESETS:
            raise ValueError(f"camera preset must be one of {', '.join(sc.CAMERA_PRESETS)}, got {preset!r}")
        self._preset = preset
        self._camera_aspect = None  # a preset frames this view's own shape
        if self.scene is None:
            self._need_fit = True
            return
        self._apply_camera(preset, self.scene)
        self._framed = self._camera_key()

    def fit(self) -> None:
        """Frame the scene again, keeping the viewing direction."""
        if self.scene is None:
            return
        o = self.gl.opts
        c, D = sc.fit_camera(self.scene.fit_points, o["elevation"], o["azimuth"], self._aspect(), o["fov"])
        self.gl.setCameraPosition(pos=QVector3D(*map(float, c)), distance=D)
        self._framed = self._camera_key()

    def _camera_key(self):
        o = self.gl.opts
        ctr = o["center"]
        return (round(ctr.x(), 9), round(ctr.y(), 9), round(ctr.z(), 9), round(float(o["distance"]), 9),
                round(float(o["elevation"]), 6), round(float(o["azimuth"]), 6), round(float(o["fov"]), 6))

    def _in_view(self, S) -> bool:
        o = self.gl.opts
        ctr = o["center"]
        return sc.points_in_view(S.fit_points, (ctr.x(), ctr.y(), ctr.z()), o["distance"], o["elevation"],
                                 o["azimuth"], self._aspect(), o["fov"])

    def _aspect(self) -> float:
        return self.gl.width() / max(self.gl.height(), 1)

    def _framed_aspect(self) -> float:
        """The shape the camera frames: another view's, when its camera was handed over, else this one's."""
        return self._aspect() if self._camera_aspect is None else self._camera_aspect

    def _apply_camera(self, preset: str, S: sc.Scene):
        c = sc.camera_for(preset, S, self._aspect())
        self.gl.setCameraPosition(pos=QVector3D(*map(float, c["center"])), distance=c["distance"],
                                  elevation=c["elevation"], azimuth=c["azimuth"])

    def camera_params(self) -> dict:
        """The camera: center (3,), distance, elevation, azimuth (degrees), fov, and the aspect
        (width / height) of the view it frames, so that a picture of another shape shows the same."""
        o = self.gl.opts
        ctr = o["center"]
        return {"center": (ctr.x(), ctr.y(), ctr.z()), "distance": float(o["distance"]),
                "elevation": float(o["elevation"]), "azimuth": float(o["azimuth"]), "fov": float(o["fov"]),
                "aspect": self._framed_aspect()}

    def set_camera_params(self, center: Sequence[float] | None = None, distance: float | None = None,
                          elevation: float | None = None, azimuth: float | None = None,
                          fov: float | None = None, aspect: float | None = None) -> None:
        """Place the camera; ``aspect``: the shape of the view it was framed in (another view's camera,
        e.g. the window's in an export), which render_image keeps; None: this view's own shape."""
        if fov is not None:
            self.gl.opts["fov"] = float(fov)
        self._camera_aspect = None if aspect is None else float(aspect)
        self.gl.setCameraPosition(pos=None if center is None else QVector3D(*map(float, center)),
                                  distance=distance, elevation=elevation, azimuth=azimuth)

    def set_orbit(self, azimuth_degrees: float) -> None:
        """Turn the camera to this azimuth (degrees) about the vertical (z) axis through the
        scene's centre, keeping elevation and distance. For an orbit animation call it with
        start + 360 * t / frames (start = camera_params()["azimuth"])."""
        self.gl.setCameraPosition(azimuth=float(azimuth_degrees))

    # ============================================================== export
    def render_image(self, width: int, height: int, scale: float | None = None) -> QImage:
        """The current scene rendered at exactly width x height pixels (QImage ARGB32).

        Rendered offscreen (renderToArray, tiled FBO), not a screen grab scaled
        up; labels are painted over it. Line widths, point sizes and fonts grow
        with the image (``scale``; default ``image_scale(w, h)``: min(w, h) / 500,
        between 1 and 4; a figure drawn at twice its pixels passes twice the scale
        of its size). Works when the view is hidden (a hidden offscreen view with
        the same camera renders it).
        """
        w, h = int(width), int(height)
        if w < 1 or h < 1:
            raise ValueError(f"image size must be at least 1 x 1, got {width} x {height}")
        view, items = self.gl, self.items
        hidden = not self.gl.isValid()
        if hidden:
            view, items = self._offscreen_view()
            view.opts.update({k: self.gl.opts[k] for k in ("center", "distance", "elevation", "azimuth", "fov")})
        scale = image_scale(w, h) if scale is None else float(scale)
        old_scale = items.scale
        # keep what the widget shows inside the image: a wider image than the widget keeps the
        # vertical extent (pyqtgraph's fov is horizontal), a narrower one the horizontal extent
        fov0 = view.opts["fov"]
        aw = self._framed_aspect()
        ar = w / h
        if ar > aw:
            t = math.tan(math.radians(0.5 * fov0)) * ar / aw
            view.opts["fov"] = min(2 * math.degrees(math.atan(t)), 170.0)
        labels_shown = items.labels.visible()
        try:
            if self.scene is not None:
                items.set_scale(scale)
                items.show(self.scene, self._settings)
            else:
                items.clear()
            items.labels.setVisible(False)
            arr = view.renderToArray((w, h))
            mvp = view.mvp(w, h)
        finally:
            view.opts["fov"] = fov0
            items.labels.setVisible(labels_shown)
            if scale != old_scale and self.scene is not None:
                items.set_scale(old_scale)
                items.show(self.scene, self._settings)
            if hidden:
                view.hide()
        img = QImage(np.ascontiguousarray(arr).data, w, h, 4 * w, QImage.Format.Format_ARGB32).copy()
        self._paint_labels(img, mvp, w, h, scale, caption=True)
        if self.scene is None and self._not_finite_text is not None:
            _paint_message(img, self._not_finite_text, scale)
        return img

    def _paint_labels(self, img: QImage, mvp: np.ndarray, w: int, h: int, scale: float, caption: bool) -> None:
        """The scene's labels (and, with ``caption``, the plane's caption) painted onto ``img`` (w x h logical
        pixels, projected with ``mvp``): the export's and the raster host's one way of drawing them."""
        S = self.scene
        if S is None or not ((self._settings.show_labels and S.labels) or (caption and S.plane)):
            return
        p = QPainter(img)
        try:
            paint_labels(p, S.labels if self._settings.show_labels else [], mvp, w, h, scale,
                         caption=S.plane if caption else "", obstacles=S.label_obstacles(), area=S.label_area)
        finally:
            p.end()

    def _paint_host_labels(self, img: QImage) -> None:
        """The raster host's overlay: the labels the GL view's LabelItem drew, at the widget's size and scale."""
        if self.items.labels.labels:
            w, h = self.gl.width(), self.gl.height()
            self._paint_labels(img, self.gl.mvp(w, h), w, h, self.items.scale, caption=False)

    def _offscreen_view(self):
        if self._offscreen is None:
            v = GLView(self)
            v.setWindowFlag(Qt.WindowType.Window, True)
            v.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            v.setBackgroundColor(BACKGROUND)
            self._offscreen = (v, SceneItems(v))
        v, items = self._offscreen
        v.resize(max(self.gl.width(), 64), max(self.gl.height(), 48))
        v.show()
        from PyQt6.QtWidgets import QApplication

        QApplication.processEvents()
        return v, items

    # ============================================================ picking
    def feature_at(self, x: float, y: float) -> int:
        """The feature whose vertex point is within CLICK_PX pixels of (x, y) in the GL view, else -1."""
        S = self.scene
        if S is None or not len(S.vertex_shown):
            return -1
        k = S.vertex_shown
        pos = S.relu_pos[k] if self._settings.after_relu and len(S.relu_pos) else S.vertex_pos[k]
        xy, vis = sc.project_to_pixels(self.gl.mvp(), pos, self.gl.width(), self.gl.height())
        d = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
        d[~vis] = np.inf
        j = int(np.argmin(d))
        return int(k[j]) if d[j] <= CLICK_PX else -1

    def pixel_of(self, p3: ArrayLike) -> tuple[float, float]:
        """GL-view pixel (x, y) of a point in GL coordinates (tests, picking)."""
        xy, _ = sc.project_to_pixels(self.gl.mvp(), np.asarray(p3, dtype=np.float64).reshape(1, 3),
                                     self.gl.width(), self.gl.height())
        return float(xy[0, 0]), float(xy[0, 1])

    def context_menu(self, x: float, y: float) -> QMenu:
        """The right-click menu at pixel (x, y) of the picture: the feature under the cursor onto the x, y
        or z axis (Alt+click, which window managers take, and Ctrl+Shift+click in a 2D view do the same
        from the 2D views), the triple's other controls, the display toggles, the camera presets, Fit."""
        menu = QMenu(self)

        def action(text: str, into: QMenu = menu) -> QAction:
            act = into.addAction(text)
            assert act is not None, "QMenu.addAction(text) returns the new action"
            return act

        k = self.feature_at(x, y)
        if k >= 0:
            for s, name in enumerate("xyz"):
                act = action(f"Feature {k + 1} → {name} axis")
                act.setEnabled(self._settings.triple[s] != k)
                act.triggered.connect(lambda _=False, s=s, k=k: self.put_on_axis(k, s))
            menu.addSeparator()
        for text, slot in (("Selected → axes", self.send_selected), ("Step z ◀", lambda: self.step(-1)),
                           ("Step z ▶", lambda: self.step(1)), ("Default triple", self.use_default)):
            action(text).triggered.connect(lambda _=False, f=slot: f())
        menu.addSeparator()
        for key, cb in self.toggles.items():
            act = action(cb.text())
            act.setCheckable(True)
            act.setChecked(getattr(self._settings, key))
            act.setToolTip(cb.toolTip())
            act.toggled.connect(cb.setChecked)
        menu.addSeparator()
        cams = menu.addMenu("Camera")
        assert cams is not None, "QMenu.addMenu(title) returns the new menu"
        for key in sc.CAMERA_PRESETS:
            action(CAMERA_TIPS[key], cams).triggered.connect(lambda _=False, k=key: self.set_camera(k))
        action("Fit").triggered.connect(lambda _=False: self.fit())
        return menu

    def put_on_axis(self, feature: int, slot: int) -> None:
        """Feature ``feature`` (0-based) onto axis ``slot`` (0, 1, 2 = x, y, z); a feature already on another
        axis swaps places with the one it replaces."""
        t = list(self._settings.triple)
        k = int(feature)
        if k in t:
            t[t.index(k)] = t[slot]
        t[slot] = k
        self._touch(slot)
        self.set_triple(tuple(t))

    def contextMenuEvent(self, ev: QContextMenuEvent | None) -> None:
        """Right-click on the picture (forwarded by its host or the GL widget): ``context_menu``."""
        if ev is None:
            return
        pic = self.host if self.host is not None else self.gl
        p = pic.mapFrom(self, ev.pos())
        if not pic.rect().contains(p):
            super().contextMenuEvent(ev)
            return
        self.context_menu(p.x(), p.y()).exec(ev.globalPos())

    def _gl_clicked(self, x, y):
        k = self.feature_at(x, y)
        if k >= 0:
            self.featureClicked.emit(k)


def _colors_for(snap: Snapshot, frame: Frame | None) -> np.ndarray:
    """(n, 4) uint8: the frame's colours when they fit the snapshot, else the palette's colours."""
    from resources import palette

    c = None if frame is None else frame.colors
    return palette.colors_for(snap.n, c, lambda: sc.plane_of(snap)[0])
