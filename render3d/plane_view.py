"""The 3D latent plane (the seed's central picture) as a dock of the explorer.

What is drawn is the view's content, ``render3d.plane_content.PlaneContent`` (``CONTENT``): the
scene built from a frame (render3d.scene, pure numpy) and handed to a few GL items
(render3d.gl_items) that only draw it, the ``PlaneSettings`` (the triple of output axes, the
enlarge factors, the toggles), the camera (it stays where it is while snapshots change; it is
framed again on a preset, on Fit, on a new triple or when n changes) and ``render_image``. The
exporter builds that content alone (no widget of this module); ``PlaneView`` embeds one
(``view.content``; what it holds reads through the view) and adds the chrome:

Controls (toolbar): the triple by feature number (x, y, z spin boxes), step
the z axis through the features (◀ ▶), "Default" (two strong features and the
weakest, following training until a feature dies), "Selected → axes" (the
features selected in the 2D views go into the triple), toggles (slivers,
after ReLU, cube, bias, tilt, labels), the enlarge factor per axis and the
camera presets (iso, normal = from the plane's underside, along x / y / z,
Fit). A click on a vertex point emits featureClicked (selects it everywhere). A right-click opens
``context_menu``: the feature under the cursor onto the x, y or z axis (the axis pick that Alt+click
gives, for window managers that take Alt+click), the triple's controls, the toggles, the cameras and
Fit. The wheel zooms towards the cursor; Fit frames the shape, not an enlarged axis's far end. The
status line says what is drawn (the content's ``describe``). Once shown, the GL picture is shown by
a raster widget (render3d.raster_host, RASTER_HOST).

Export (the content's, forwarded): ``render_image(w, h)`` renders the current scene at exactly w x h
pixels (GLViewWidget.renderToArray, then the labels painted over it);
``set_orbit(azimuth)`` turns the camera about the vertical axis for
animations (``camera_params()`` / ``set_camera_params(...)`` save and restore
the whole camera). For an animation over the history, call
``set_triple(view.triple)`` first: it pins the axes, so the default triple
(which follows training until a feature dies) cannot switch, and re-frame,
mid-animation.
"""
from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PyQt6.QtCore import QPoint, QRect, QSize, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QContextMenuEvent, QImage, QResizeEvent, QShowEvent
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

from views.settings import ENLARGE_RANGE, PlaneSettings, Triple

from . import scene as sc
from .plane_content import (
    BACKGROUND,
    POINT_PX,
    POINT_PX_LARGE_N,
    RELU_POINT_PX,
    WIDTH,
    PlaneContent,
    SceneItems,
    image_scale,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from model.analysis.frame import Frame

    from .raster_host import RasterHost

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

def _spin(tip: str) -> QSpinBox:
    s = QSpinBox()
    s.setRange(1, 1)
    s.setToolTip(tip)
    s.setKeyboardTracking(False)
    return s



class _StatusBox(QWidget):
    """Holds the 3D view's status label at exactly its own size, with no layout: the box may shrink to
    nothing (it never sets its view's minimum width) while the label, of a fixed size, changes its text
    without asking any layout for room."""

    def __init__(self) -> None:
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(0)
        self.label = QLabel("", self)

    def resizeEvent(self, e: QResizeEvent | None) -> None:
        if e is not None:
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

    def addItem(self, item: QLayoutItem | None) -> None:
        if item is not None:
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
    """The 3D latent plane in the window: its content (``CONTENT``, a render3d.plane_content.PlaneContent:
    the scene, the settings, the camera, the GL view, render_image) with the chrome around it: the
    toolbar rows, the enlarge boxes, the status line, the context menu, picking (clicks) and the
    raster host that shows the GL picture (see the module docstring). What the content holds (its
    scene, items, camera) reads through the view."""

    featureClicked = pyqtSignal(int)
    settingsChanged = pyqtSignal(object)  # PlaneSettings, after any change of triple, toggle or factor
    #: what the view draws (buildable without this widget: the exporter does)
    CONTENT = PlaneContent
    SETTINGS = PlaneSettings

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.content = self.CONTENT()
        self.host: RasterHost | None = None  # the raster widget showing the GL picture, once shown (RASTER_HOST)
        self._updating = False
        self._synced: tuple | None = None  # (settings, following, n) the controls show
        # weakly: the content must not keep the widget's Python object alive past its C++ object
        updated, changed = weakref.WeakMethod(self._content_updated), weakref.WeakMethod(self._settings_changed)
        self.content.updated = lambda: None if (m := updated()) is None else m()
        self.content.changed = lambda st: None if (m := changed()) is None else m(st)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(2)
        lay.addLayout(self._build_triple_row())
        lay.addLayout(self._build_toggle_row())

        self.gl = self.content.gl
        self.items = self.content.items
        self.gl.clicked.connect(self._gl_clicked)
        # The GL widget joins the layout when this view is first shown: a QOpenGLWidget
        # anywhere in a window switches the whole window to OpenGL compositing, which under
        # software GL (Mesa llvmpipe, Xvfb) costs ~15 ms on every repaint of every view, so
        # a window whose 3D dock was never opened must not carry one.
        self._gl_slot = lay.count()

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
        self._content_updated()

    def __getattr__(self, name: str) -> Any:
        """What the content holds (its scene, items, camera) reads through the view."""
        if name == "content" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.content, name)

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
            cb.setChecked(getattr(self.settings, key))
            cb.toggled.connect(lambda on, key=key: self.set_settings(self.settings.with_(**{key: bool(on)})))
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

    def showEvent(self, e: QShowEvent | None) -> None:
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

            self.host = RasterHost(self.gl, overlay=self.content.paint_view_labels)
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

    # ================================================================ state (the content's)
    @property
    def settings(self) -> PlaneSettings:
        return self.content.settings

    @property
    def triple(self) -> Triple:
        return self.content.triple

    @property
    def camera_preset(self) -> str:
        return self.content.camera_preset

    @property
    def frame(self) -> Frame | None:
        """The frame drawn last."""
        return self.content.frame

    @property
    def scene(self) -> sc.Scene | None:
        """The scene drawn last (None: nothing drawn)."""
        return self.content.scene

    def set_settings(self, st: PlaneSettings) -> None:
        """Replace every setting (triple, enlarge, toggles); an explicit triple turns the default off."""
        self.content.set_settings(st)

    def restored(self, st: PlaneSettings) -> PlaneSettings:
        """Saved settings as this view takes them back in a new window (PlaneContent.restored)."""
        return self.content.restored(st)

    def set_triple(self, triple: Sequence[int]) -> None:
        """Show the output axes (i, j, k) (0-based) on x, y, z; the default no longer follows training."""
        self.content.set_triple(triple)

    def send_feature(self, i: int) -> None:
        """Put feature i (0-based) into the triple: it replaces the axis set longest ago (z first)."""
        self.content.send_feature(i)

    def send_selected(self) -> None:
        """The features selected in the 2D views (the frame's selection) go into the triple, up to three."""
        self.content.send_selected()

    def put_on_axis(self, feature: int, slot: int) -> None:
        """Feature ``feature`` (0-based) onto axis ``slot`` (0, 1, 2 = x, y, z); one already on another axis
        swaps places with the one it replaces."""
        self.content.put_on_axis(feature, slot)

    def step(self, delta: int = 1) -> None:
        """Step the z axis through the features (skipping x and y)."""
        self.content.step(delta)

    def use_default(self) -> None:
        """Back to the default triple (two strong features and the weakest), following training."""
        self.content.use_default()

    def _settings_changed(self, st: PlaneSettings) -> None:
        self.settingsChanged.emit(st)

    def _content_updated(self) -> None:
        """The content drew (or cleared): the controls, the enlarge boxes and the status line follow it."""
        c = self.content
        key = (c.settings, c.following, c.n)
        if key != self._synced:  # spin boxes cost a relayout: only on change
            self._synced = key
            self._sync_controls()
        if c.scene is not None:
            self._show_applied_enlarge(c.scene)
        text = c.not_finite_text if c.not_finite_text is not None else c.describe()
        if text != self.status.text():
            self.status.setText(text)
            self.status.setToolTip(text)  # the whole text, when it takes more than STATUS_LINES lines

    def _sync_controls(self) -> None:
        c = self.content
        self._updating = True
        try:
            n = c.snapshot.n if c.snapshot is not None else max(c.triple) + 1
            for s, v in zip(self.spins, c.triple, strict=True):
                s.setRange(1, max(n, 1))
                s.setValue(v + 1)
            for d, e in zip(self.enlarge_spins, c.settings.enlarge, strict=True):
                d.setValue(e)
            for key, cb in self.toggles.items():
                cb.setChecked(getattr(c.settings, key))
            self.default_btn.setText("Default ✓" if c.following else "Default")
        finally:
            self._updating = False

    def _spins_changed(self) -> None:
        if self._updating:
            return
        t = tuple(s.value() - 1 for s in self.spins)
        for slot, (a, b) in enumerate(zip(t, self.triple, strict=True)):
            if a != b:
                self.content.touch(slot)
        self.set_triple(t)

    def _enlarge_changed(self) -> None:
        if self._updating:
            return
        e = tuple(float(d.value()) for d in self.enlarge_spins)
        self.set_settings(self.settings.with_(enlarge=e))

    # ============================================================= drawing
    def show_not_finite(self, text: str | None) -> None:
        """The status line (and render_image) say the snapshot is not finite (``text``), or not (None)."""
        self.content.show_not_finite(text)

    def set_frame(self, frame: Frame | None) -> None:
        """Draw ``frame`` (None clears): the one thing a view receives. A snapshot that is not finite is
        drawn as none and the status line (and render_image) say so."""
        self._ensure_gl()
        self.content.set_frame(frame)

    def redraw(self) -> None:
        """Rebuild the scene from the last snapshot and the settings."""
        self.content.redraw()

    def _show_applied_enlarge(self, S: sc.Scene) -> None:
        """Each enlarge box says the factor in force: a flat axis enlarged automatically (the user's
        factor x the automatic one) reads "x ×1.00 → ×5 applied", not ×1.00 alone."""
        for s, d in enumerate(self.enlarge_spins):
            applied, asked = float(S.enlarge[s]), float(self.settings.enlarge[s])
            suffix = f" → ×{applied:g} applied" if abs(applied - asked) > 1e-9 * max(asked, 1.0) else ""
            if d.suffix() != suffix:
                d.setSuffix(suffix)

    def describe(self) -> str:
        """The status line: triple, bias, tilt, flat axes, the plane for m != 2 (PlaneContent.describe)."""
        return self.content.describe()

    # ============================================================== camera (the content's)
    def set_camera(self, preset: str) -> None:
        """Camera preset ("iso", "normal", "axis-i", "axis-j", "axis-k"): frames the scene."""
        self.content.set_camera(preset)

    def fit(self) -> None:
        """Frame the scene again, keeping the viewing direction."""
        self.content.fit()

    def camera_params(self) -> dict[str, Any]:
        """The camera (PlaneContent.camera_params)."""
        return self.content.camera_params()

    def set_camera_params(self, center: Sequence[float] | None = None, distance: float | None = None,
                          elevation: float | None = None, azimuth: float | None = None,
                          fov: float | None = None, aspect: float | None = None) -> None:
        """Place the camera (PlaneContent.set_camera_params)."""
        self.content.set_camera_params(center, distance, elevation, azimuth, fov, aspect)

    def set_orbit(self, azimuth_degrees: float) -> None:
        """Turn the camera to this azimuth (degrees) about the vertical axis (PlaneContent.set_orbit)."""
        self.content.set_orbit(azimuth_degrees)

    def render_image(self, width: int, height: int, scale: float | None = None) -> QImage:
        """The current scene rendered at exactly width x height pixels (PlaneContent.render_image), whether
        this view is shown or not."""
        return self.content.render_image(width, height, scale)

    # ============================================================ picking
    def feature_at(self, x: float, y: float) -> int:
        """The feature whose vertex point is within CLICK_PX pixels of (x, y) in the GL view, else -1."""
        S = self.scene
        if S is None or not len(S.vertex_shown):
            return -1
        k = S.vertex_shown
        pos = S.relu_pos[k] if self.settings.after_relu and len(S.relu_pos) else S.vertex_pos[k]
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
                act.setEnabled(self.settings.triple[s] != k)
                act.triggered.connect(lambda _=False, s=s, k=k: self.put_on_axis(k, s))
            menu.addSeparator()
        for text, slot in (("Selected → axes", self.send_selected), ("Step z ◀", lambda: self.step(-1)),
                           ("Step z ▶", lambda: self.step(1)), ("Default triple", self.use_default)):
            action(text).triggered.connect(lambda _=False, f=slot: f())
        menu.addSeparator()
        for key, cb in self.toggles.items():
            act = action(cb.text())
            act.setCheckable(True)
            act.setChecked(getattr(self.settings, key))
            act.setToolTip(cb.toolTip())
            act.toggled.connect(cb.setChecked)
        menu.addSeparator()
        cams = menu.addMenu("Camera")
        assert cams is not None, "QMenu.addMenu(title) returns the new menu"
        for key in sc.CAMERA_PRESETS:
            action(CAMERA_TIPS[key], cams).triggered.connect(lambda _=False, k=key: self.set_camera(k))
        action("Fit").triggered.connect(lambda _=False: self.fit())
        return menu

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


__all__ = ["BACKGROUND", "CLICK_PX", "POINT_PX", "POINT_PX_LARGE_N", "RASTER_HOST", "RELU_POINT_PX", "WIDTH", "FlowLayout",
           "PlaneContent", "PlaneView", "SceneItems", "image_scale"]
