"""What the 3D latent plane draws, without its chrome: ``PlaneContent``.

The content holds the picture and what decides it: the snapshot drawn last (``set_frame``), the
``PlaneSettings`` (the triple of output axes, the enlarge factors, the toggles) and the triple's
own state (the default triple follows training until a triple is picked; ``send_feature`` replaces
the axis set longest ago), the scene built from them (render3d.scene, pure numpy), the GL view
(render3d.gl_items.GLView) and its ``SceneItems`` that draw that scene, the camera (presets,
``fit``, ``camera_params`` / ``set_camera_params``, ``set_orbit``) and the rendering of a picture
at any pixel size (``render_image``: the GL scene, then the labels painted over it).

No toolbar, no enlarge boxes, no status line, no context menu, no picking: the window's
``render3d.plane_view.PlaneView`` embeds a content and adds those (and the raster host that shows
the GL view's picture in the window); the exporter (app.export.figure) builds a content alone,
sizes its GL view to the panel (a window of its own, never shown on screen) and paints
``render_image``. The content tells its embedding widget what changed through two callbacks:
``updated()`` after every redraw or clear (the chrome shows the new state: its controls, the
``describe()`` line), ``changed(settings)`` when a request (set_settings, set_triple, step, ...)
changed the settings (the widget's settingsChanged signal).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage, QPainter, QVector3D
from PyQt6.QtWidgets import QApplication

from model.snapshot import Snapshot, not_finite_message
from views.settings import PlaneSettings, Triple

from . import scene as sc
from .gl_items import GLView, LabelItem, LineItem, MeshItem, PointItem, paint_labels

if TYPE_CHECKING:
    from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem

    from model.analysis.frame import Frame

BACKGROUND = (255, 255, 255, 255)
#: Pixel sizes of the drawing elements at scale 1 (render_image scales them with the image).
POINT_PX = 9.0
POINT_PX_LARGE_N = 3.0
RELU_POINT_PX = 6.0
WIDTH = {"thin": 1.2, "outline": 1.6, "thick": 2.8, "bar": 7.0}


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
        order: list[GLGraphicsItem] = [self.bars, self.thin, self.thick, self.outline, self.heads, self.points, self.relu_points, self.mesh,
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


def _colors_for(snap: Snapshot, frame: Frame | None) -> np.ndarray:
    """(n, 4) uint8: the frame's colours when they fit the snapshot, else the palette's colours."""
    from resources import palette

    c = None if frame is None else frame.colors
    return palette.colors_for(snap.n, c, lambda: sc.plane_of(snap)[0])


class PlaneContent:
    """The 3D latent plane's drawable content (see the module docstring): a frame in, a picture out.

    ``gl`` is the GL view the scene is drawn in and ``items`` its SceneItems; ``scene`` the scene drawn
    last (None: nothing drawn). The camera is framed again on a preset, on ``fit``, on a new triple or
    enlarge factor, and when n changes; otherwise it stays where it is while snapshots change."""

    #: the view's settings dataclass
    SETTINGS = PlaneSettings

    def __init__(self) -> None:
        self._snap: Snapshot | None = None
        self._frame: Frame | None = None
        self._settings = PlaneSettings()
        self._auto = True           # the triple follows default_triple until one is picked
        self._slot_age = [1, 0, 2]  # send_feature replaces the slot set longest ago (z first)
        self._n: int | None = None
        self._preset = "iso"
        self._camera_aspect: float | None = None  # the shape a handed-over camera framed (set_camera_params)
        self._need_fit = True
        self._framed: tuple[float, ...] | None = None  # the camera as last framed automatically (None: moved)
        self._offscreen: tuple[GLView, SceneItems] | None = None
        self._not_finite_text: str | None = None
        self.scene: sc.Scene | None = None
        #: called after every redraw or clear (the embedding widget shows the new state)
        self.updated: Callable[[], object] | None = None
        #: called with the new settings when a request changed them (not when the triple follows training)
        self.changed: Callable[[PlaneSettings], object] | None = None
        self.gl = GLView()
        self.gl.setBackgroundColor(BACKGROUND)
        self.gl.setMinimumSize(160, 120)
        self.items = SceneItems(self.gl)

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

    @property
    def following(self) -> bool:
        """Whether the triple is the default one, following training (until a triple is picked)."""
        return self._auto

    @property
    def snapshot(self) -> Snapshot | None:
        """The snapshot drawn last (None: none, cleared, or not finite)."""
        return self._snap

    @property
    def frame(self) -> Frame | None:
        """The frame drawn last."""
        return self._frame

    @property
    def n(self) -> int | None:
        """The number of features of the run drawn last (kept while the picture is cleared; None: none yet)."""
        return self._n

    @property
    def not_finite_text(self) -> str | None:
        """What the picture says instead of a snapshot that is not finite (None: it is finite)."""
        return self._not_finite_text

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
        self.touch(slot)
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

    def put_on_axis(self, feature: int, slot: int) -> None:
        """Feature ``feature`` (0-based) onto axis ``slot`` (0, 1, 2 = x, y, z); a feature already on another
        axis swaps places with the one it replaces."""
        t = list(self._settings.triple)
        k = int(feature)
        if k in t:
            t[t.index(k)] = t[slot]
        t[slot] = k
        self.touch(slot)
        self.set_triple(tuple(t))

    def touch(self, slot: int) -> None:
        """Axis ``slot`` was just set by hand: send_feature replaces it last."""
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
        else:
            self._tell()

    def _apply(self, st: PlaneSettings, refit: bool) -> None:
        changed = st != self._settings
        self._settings = st
        if refit:
            self._need_fit = True
        self.redraw()
        if changed and self.changed is not None:
            self.changed(st)

    def _tell(self) -> None:
        if self.updated is not None:
            self.updated()

    # ============================================================= drawing
    def show_not_finite(self, text: str | None) -> None:
        """The picture (render_image) and the widget's status line say the snapshot is not finite (``text``),
        or not (None)."""
        self._not_finite_text = text
        self._tell()

    def set_frame(self, frame: Frame | None) -> None:
        """Draw ``frame`` (None clears): the one thing a view receives. A snapshot that is not finite is
        drawn as none and the picture says so."""
        snap = None if frame is None else frame.snapshot
        if snap is not None and not snap.finite:
            self._not_finite_text = not_finite_message(snap, frame.nonfinite if frame is not None else None)
            self._draw(None, frame)
            return
        self._not_finite_text = None
        self._draw(snap, frame)

    def _draw(self, snap: Snapshot | None, frame: Frame | None) -> None:
        """Draw this snapshot (None clears). The camera stays put unless n changed."""
        self._snap, self._frame = snap, frame
        if snap is None or snap.n == 0:
            self.scene = None
            self.items.clear()
            self._tell()
            return
        n = snap.n
        if n != self._n:
            # another run (n changed): its triple and enlarge factors were chosen for other features and
            # are not carried over; the default triple follows training again
            new_run = self._n is not None
            self._n = n
            self._need_fit = True
            t = self._settings.triple
            if new_run or self._auto or not all(0 <= v < n for v in t) or n < 3:
                self._auto = new_run or self._auto or n >= 3
                a = frame.analysis if frame is not None else None
                self._settings = self._settings.with_(triple=sc.default_triple(snap, a),
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
        self.redraw()

    def redraw(self) -> None:
        """Rebuild the scene from the last snapshot and the settings."""
        snap, frame = self._snap, self._frame
        if snap is None:
            self._tell()
            return
        colors = _colors_for(snap, frame)
        a = frame.analysis if frame is not None else None
        dead = getattr(a, "dead", None) if a is not None and getattr(a, "n", snap.n) == snap.n else None
        S = sc.build_scene(snap, self._settings, colors, dead=dead)
        self.scene = S
        self.items.show(S, self._settings)
        if self._need_fit:
            self._need_fit = False
            self._apply_camera(self._preset, S)
            self._framed = self._camera_key()
        elif self._framed == self._camera_key() and not self._in_view(S):
            # the shape grew out of the frame (training) and the camera has not been moved since it
            # was last framed: frame it again, same viewing direction
            self.fit()
            self._framed = self._camera_key()
        self._tell()

    def describe(self) -> str:
        """One line on what is drawn: triple, bias, tilt, flat axes, the plane for m != 2."""
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

    def _camera_key(self) -> tuple[float, ...]:
        o = self.gl.opts
        ctr = o["center"]
        return (round(ctr.x(), 9), round(ctr.y(), 9), round(ctr.z(), 9), round(float(o["distance"]), 9),
                round(float(o["elevation"]), 6), round(float(o["azimuth"]), 6), round(float(o["fov"]), 6))

    def _in_view(self, S: sc.Scene) -> bool:
        o = self.gl.opts
        ctr = o["center"]
        return bool(sc.points_in_view(S.fit_points, (ctr.x(), ctr.y(), ctr.z()), o["distance"], o["elevation"],
                                      o["azimuth"], self._aspect(), o["fov"]))

    def _aspect(self) -> float:
        return self.gl.width() / max(self.gl.height(), 1)

    def _framed_aspect(self) -> float:
        """The shape the camera frames: another view's, when its camera was handed over, else this one's."""
        return self._aspect() if self._camera_aspect is None else self._camera_aspect

    def _apply_camera(self, preset: str, S: sc.Scene) -> None:
        c = sc.camera_for(preset, S, self._aspect())
        self.gl.setCameraPosition(pos=QVector3D(*map(float, c["center"])), distance=c["distance"],
                                  elevation=c["elevation"], azimuth=c["azimuth"])

    def camera_params(self) -> dict[str, Any]:
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
        of its size). Works when the GL view has no context yet (never shown: a
        hidden offscreen view with the same camera renders it).
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
        # (the array's buffer, which PyQt takes as it is; the stubs name only bytes) copied into the image
        buf = cast("bytes", np.ascontiguousarray(arr).data)
        img = QImage(buf, w, h, 4 * w, QImage.Format.Format_ARGB32).copy()
        self.paint_labels(img, mvp, w, h, scale, caption=True)
        if self.scene is None and self._not_finite_text is not None:
            _paint_message(img, self._not_finite_text, scale)
        return img

    def paint_labels(self, img: QImage, mvp: np.ndarray, w: int, h: int, scale: float, caption: bool) -> None:
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

    def paint_view_labels(self, img: QImage) -> None:
        """The labels the GL view's LabelItem draws, painted onto ``img`` (a grab of the GL view: the raster
        host's overlay) at the GL view's size and scale."""
        if self.items.labels.labels:
            w, h = self.gl.width(), self.gl.height()
            self.paint_labels(img, self.gl.mvp(w, h), w, h, self.items.scale, caption=False)

    def _offscreen_view(self) -> tuple[GLView, SceneItems]:
        if self._offscreen is None:
            v = GLView(self.gl)
            v.setWindowFlag(Qt.WindowType.Window, True)
            v.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            v.setBackgroundColor(BACKGROUND)
            self._offscreen = (v, SceneItems(v))
        v, items = self._offscreen
        v.resize(max(self.gl.width(), 64), max(self.gl.height(), 48))
        v.show()
        QApplication.processEvents()
        return v, items

    def close(self) -> None:
        """Close and delete the GL view(s) (an export's content, when its figure is done)."""
        views = [self.gl] + ([self._offscreen[0]] if self._offscreen is not None else [])
        for v in views:
            v.close()
            v.deleteLater()


__all__ = ["BACKGROUND", "POINT_PX", "POINT_PX_LARGE_N", "RELU_POINT_PX", "WIDTH", "PlaneContent", "SceneItems",
           "image_scale"]
