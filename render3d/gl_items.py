"""GL items of the 3D view: they receive arrays and draw them, nothing else.

pyqtgraph 0.14's GL items assume one OpenGL context for the whole process:
their shader programs are cached per class (GLLinePlotItem, GLScatterPlotItem)
or per module (GLMeshItem's shaders), and their buffers live in the context
that created them. A second context, i.e. a floated dock (Qt gives a widget
a new context when it changes top-level window) or the hidden offscreen view
that ``PlaneContent.render_image`` uses when the dock was never shown, then
fails with ``GLError 1281 invalid value`` in glUseProgram (pyqtgraph issues
#1822, #2008, #2618, #3455; the usual remedy, AA_ShareOpenGLContexts, must be
set before the QApplication exists). These subclasses cache programs per
view and recreate their buffers when the view's context changes
(``GLView.generation``, bumped by initializeGL), so the view works in any
context without that application-wide switch.

Buffer reuse: every item pads its arrays to a capacity that only grows (a
power of two with 25% headroom), so a new snapshot of the same model overwrites
the same GPU buffers (QOpenGLBuffer.write) instead of reallocating them;
padding is invisible (degenerate triangles, zero-alpha segments and points).
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph.opengl as gl
from PyQt6.QtCore import QPointF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QMouseEvent, QPainter, QPen, QVector3D, QWheelEvent
from PyQt6.QtOpenGL import QOpenGLBuffer
from PyQt6.QtWidgets import QWidget
from pyqtgraph.opengl import shaders
from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem
from pyqtgraph.opengl.items import GLLinePlotItem as _lpi
from pyqtgraph.opengl.items import GLMeshItem as _mi
from pyqtgraph.opengl.items import GLScatterPlotItem as _spi

from .scene import LABEL_FAR, Label, place_labels, project_to_pixels, slide_into_view, zoom_toward

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from OpenGL.GL.shaders import ShaderProgram as GLProgram

#: GL state of the opaque parts (lines, points, arrowheads): depth-tested, blended for antialiasing.
LINE_OPTS = "translucent"
#: The translucent latent shape is drawn last, depth-tested: lines in front stay crisp, lines
#: behind show through, dimmed.
MESH_OPTS = "translucent"


def capacity(k: int, cap: int = 0) -> int:
    """Buffer capacity for k elements: cap while k fits, else the next power of two >= 1.25 k
    (at least 16): the headroom absorbs the few cells a moving sliver line adds or removes."""
    if k <= cap:
        return cap
    c = 16
    while c < 1.25 * k:
        c *= 2
    return c


def _padded(item, pos, colors):
    """(P (cap, 3), C (cap, 4), k): k positions and their colours ((k, 4) or one) padded with zeros
    to the item's buffer capacity, which grows as needed (``item._cap``); sets ``item.count`` = k."""
    pos = np.asarray(pos, dtype=np.float32).reshape(-1, 3)
    k = pos.shape[0]
    item.count = k
    cap = capacity(k, item._cap)
    item._cap = cap
    P = np.zeros((cap, 3), dtype=np.float32)
    P[:k] = pos
    C = np.zeros((cap, 4), dtype=np.float32)
    c = np.asarray(colors, dtype=np.float32)
    C[:k] = c.reshape(-1, 4) if c.ndim == 2 else c.reshape(1, 4)
    return P, C, k


class GLView(gl.GLViewWidget):
    """GLViewWidget that counts its contexts (``generation``) and reports clicks.

    ``clicked(x, y)`` fires on a press and release within 4 pixels (a drag
    rotates the camera as usual and is not a click).
    """

    clicked = pyqtSignal(float, float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.generation = 0
        self.programs: dict = {}
        self._press: QPointF | None = None
        self.paint_count = 0

    def initializeGL(self) -> None:
        self.generation += 1
        self.programs = {}
        super().initializeGL()

    def paintGL(self) -> None:
        self.paint_count += 1
        super().paintGL()

    def mvp(self, width: float | None = None, height: float | None = None) -> np.ndarray:
        """(4, 4) row-major projection x view matrix for a viewport of this size (default: the widget)."""
        w = float(self.width() if width is None else width)
        h = float(self.height() if height is None else height)
        region = (0, 0, w, h)
        m = self.projectionMatrix(region, region) * self.viewMatrix()
        return np.array(m.copyDataTo(), dtype=np.float64).reshape(4, 4)

    def wheelEvent(self, ev: QWheelEvent) -> None:
        """Zoom towards the point under the cursor (render3d.scene.zoom_toward): what the researcher
        points at stays in view. pyqtgraph zooms towards the camera's centre, which pushed a shape
        that was not in the middle of the picture out of it. Ctrl+wheel changes the field of view, as
        in pyqtgraph."""
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev)
            return
        delta = ev.angleDelta().x() or ev.angleDelta().y()
        if delta == 0:
            return
        o = self.opts
        ctr = o["center"]
        p = ev.position()
        c, dist = zoom_toward((ctr.x(), ctr.y(), ctr.z()), float(o["distance"]), float(o["elevation"]),
                              float(o["azimuth"]), p.x(), p.y(), self.width(), self.height(), 0.999 ** delta,
                              float(o["fov"]))
        self.setCameraPosition(pos=QVector3D(*map(float, c)), distance=dist)

    def mousePressEvent(self, ev: QMouseEvent) -> None:
        self._press = ev.position()
        super().mousePressEvent(ev)

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:
        super().mouseReleaseEvent(ev)
        p0, self._press = self._press, None
        if p0 is not None and ev.button() == Qt.MouseButton.LeftButton:
            d = ev.position() - p0
            if abs(d.x()) <= 4 and abs(d.y()) <= 4:
                self.clicked.emit(ev.position().x(), ev.position().y())


class _ContextSafe:
    """Mixin: recreate buffers when the view's context changes; programs cached per view."""

    _BUFFERS: tuple = ()
    _gen = None
    view: Callable[[], Any]  # the GL item's own (pyqtgraph's GLGraphicsItem.view): the view it is drawn in

    def _sync_context(self) -> bool:
        v = self.view()
        gen = getattr(v, "generation", None)
        if gen == self._gen:
            return False
        changed = self._gen is not None
        self._gen = gen
        if changed:
            for name, kind in self._BUFFERS:
                setattr(self, name, QOpenGLBuffer(kind))
        return changed

    def _program(self, base):
        v = self.view()
        progs = getattr(v, "programs", None)
        if progs is None:
            return base.getShaderProgram()
        p = progs.get(base)
        if p is None:
            old = base._shaderProgram
            base._shaderProgram = None
            try:
                p = base.getShaderProgram()
            finally:
                base._shaderProgram = old
            progs[base] = p
        return p


_VB = QOpenGLBuffer.Type.VertexBuffer
_IB = QOpenGLBuffer.Type.IndexBuffer


class LineItem(_ContextSafe, gl.GLLinePlotItem):
    """Coloured segments ('lines' mode) from (2K, 3) positions and (2K, 4) or one colour."""

    _BUFFERS = (("m_vbo_position", _VB), ("m_vbo_color", _VB))

    def __init__(self, width: float = 1.0, antialias: bool = True,
                 glOptions: str | dict[str, object] = LINE_OPTS):
        super().__init__(mode="lines", width=width, antialias=antialias, glOptions=glOptions)
        self._cap = 0
        self.count = 0
        self.base_width = float(width)

    def set_lines(self, pos: ArrayLike, colors: ArrayLike) -> None:
        P, C, _ = _padded(self, pos, colors)
        self.setData(pos=P, color=C)

    def getShaderProgram(self) -> GLProgram:  # called as self.getShaderProgram() by GLLinePlotItem.paint
        return self._program(_lpi.GLLinePlotItem)

    def paint(self) -> None:
        if self.count == 0 or self.pos is None:
            return
        if self._sync_context():
            self.dirty_bits = _lpi.DirtyFlag.POSITION | _lpi.DirtyFlag.COLOR
        super().paint()


class PointItem(_ContextSafe, gl.GLScatterPlotItem):
    """Points (pixel-sized) from (K, 3) positions, (K, 4) colours and a size."""

    _BUFFERS = (("m_vbo_position", _VB), ("m_vbo_color", _VB), ("m_vbo_size", _VB))

    def __init__(self, glOptions: str | dict[str, object] = LINE_OPTS):
        super().__init__(pxMode=True, glOptions=glOptions)
        self._cap = 0
        self.count = 0

    def set_points(self, pos: ArrayLike, colors: ArrayLike, size: float) -> None:
        P, C, k = _padded(self, pos, colors)
        S = np.zeros(P.shape[0], dtype=np.float32)
        S[:k] = size
        self.setData(pos=P, color=C, size=S)

    def getShaderProgram(self) -> GLProgram:
        return self._program(_spi.GLScatterPlotItem)

    def paint(self) -> None:
        if self.count == 0 or self.pos is None:
            return
        if self._sync_context():
            self.dirty_bits = _spi.DirtyFlag.POSITION | _spi.DirtyFlag.COLOR | _spi.DirtyFlag.SIZE
        super().paint()


class MeshItem(_ContextSafe, gl.GLMeshItem):
    """Triangles from (V, 3) positions, (F, 3) faces and (V, 4) vertex colours (no shading)."""

    _BUFFERS = (("m_vbo_position", _VB), ("m_vbo_normal", _VB), ("m_vbo_color", _VB),
                ("m_ibo_faces", _IB), ("m_vbo_edgeVerts", _VB), ("m_ibo_edges", _IB))
    _ALL = _mi.DirtyFlag.POSITION | _mi.DirtyFlag.COLOR | _mi.DirtyFlag.FACES

    def __init__(self, glOptions: str | dict[str, object] = MESH_OPTS):
        super().__init__(smooth=True, computeNormals=False, shader=None, glOptions=glOptions)
        self._vcap = 0
        self._fcap = 0
        self.count = 0
        self._pending = _mi.DirtyFlag(0)

    def set_mesh(self, pos: ArrayLike, faces: ArrayLike, colors: ArrayLike) -> None:
        pos = np.asarray(pos, dtype=np.float32).reshape(-1, 3)
        faces = np.asarray(faces, dtype=np.uint32).reshape(-1, 3)
        nv, nf = pos.shape[0], faces.shape[0]
        self.count = nf
        self._vcap = capacity(nv, self._vcap)
        self._fcap = capacity(nf, self._fcap)
        V = np.zeros((self._vcap, 3), dtype=np.float32)
        V[:nv] = pos
        F = np.zeros((self._fcap, 3), dtype=np.uint32)  # padding: degenerate (0, 0, 0)
        F[:nf] = faces
        C = np.zeros((self._vcap, 4), dtype=np.float32)
        C[:nv] = np.asarray(colors, dtype=np.float32).reshape(-1, 4)
        self.vertexes, self.faces, self.colors = V, F, C
        self._pending |= self._ALL
        self.update()

    def shader(self) -> shaders.ShaderProgram:
        v = self.view()
        progs = getattr(v, "programs", None)
        if progs is None:
            return shaders.getShaderProgram(None)
        sp = progs.get("mesh")
        if sp is None:
            sp = copy.copy(shaders.getShaderProgram(None))
            sp.prog = None
            sp.uniformData = {}
            sp.blockData = {}
            progs["mesh"] = sp
        return sp

    def paint(self) -> None:
        if self.count == 0 or self.vertexes is None:
            return
        if self._sync_context():
            self._pending |= self._ALL
        if self._pending:
            self.upload_vertex_buffers(self._pending)
            self._pending = _mi.DirtyFlag(0)
        super().paint()


class LabelItem(GLGraphicsItem):
    """Text labels at 3D positions, painted with one QPainter over the GL picture (drawn last)."""

    def __init__(self):
        super().__init__()
        self.labels = []
        self.obstacles: np.ndarray | None = None
        self.area: np.ndarray | None = None
        self.scale = 1.0
        self.setDepthValue(1000)

    def set_labels(self, labels: Iterable[Label], obstacles: np.ndarray | None = None,
                   area: np.ndarray | None = None) -> None:
        """The labels, the (2S, 3) segments they should not be written across and the (K, 3) polygon
        (the filled shape) they should not be written over."""
        self.labels = list(labels)
        self.obstacles = obstacles
        self.area = area
        self.update()

    def paint(self) -> None:
        if not self.labels:
            return
        v = self.view()
        mvp = np.array(self.mvpMatrix().copyDataTo(), dtype=np.float64).reshape(4, 4)
        painter = QPainter(v)
        try:
            paint_labels(painter, self.labels, mvp, v.width(), v.height(), self.scale, obstacles=self.obstacles,
                         area=self.area)
        finally:
            painter.end()


def paint_labels(painter: QPainter, labels: Sequence[Label], mvp: np.ndarray, width: float, height: float,
                 scale: float = 1.0, caption: str = "", obstacles: np.ndarray | None = None,
                 area: np.ndarray | None = None) -> list[tuple[Label, tuple[float, float, float, float]]]:
    """Draw scene labels (render3d.scene.Label) projected with mvp onto a (width x height) device.

    Each label sits just right of and above its point, over a white halo (the
    text drawn in white around it) so it reads over the mesh and the lines.
    ``caption`` (e.g. the plane of an m > 2 model) goes in the top-left corner. Returns each label
    drawn with its text box (x0, y0, x1, y1) in pixels.
    """
    drawn: list[tuple[Label, tuple[float, float, float, float]]] = []
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    base = QFont("DejaVu Sans")
    base.setPixelSize(max(8, int(round(12 * scale))))
    bold = QFont(base)
    bold.setBold(True)
    bold.setPixelSize(max(9, int(round(14 * scale))))
    white = QColor(255, 255, 255, 235)
    o = max(1.0, round(scale))
    offsets = [(dx * o, dy * o) for dx, dy in ((-1, -1), (1, 1), (-1, 1), (1, -1))]

    def text(x, y, s, font, color):
        painter.setFont(font)
        painter.setPen(white)
        for dx, dy in offsets:
            painter.drawText(QPointF(x + dx, y + dy), s)
        painter.setPen(color)
        painter.drawText(QPointF(x, y), s)

    if labels:
        pos = np.array([lb.pos for lb in labels], dtype=np.float64).reshape(-1, 3)
        xy, vis = project_to_pixels(mvp, pos, width, height)
        _slide_axis_labels(labels, xy, vis, mvp, width, height, scale)
        shown = [i for i, (x, y) in enumerate(xy)
                 if vis[i] and -50 <= x <= width + 50 and -50 <= y <= height + 50]
        fonts = [bold if labels[i].bold else base for i in shown]
        fms = [QFontMetricsF(f) for f in fonts]
        sizes = [(fm.horizontalAdvance(labels[i].text), fm.height()) for i, fm in zip(shown, fms, strict=True)]
        # no two labels overprint (axis and bias labels first; a vertex label with no free place is left out),
        # and none is written across a drawn line where another place is free
        segs = None
        if obstacles is not None and len(obstacles):
            sxy, svis = project_to_pixels(mvp, np.asarray(obstacles, dtype=np.float64).reshape(-1, 3), width, height)
            both = svis[0::2] & svis[1::2]
            segs = np.concatenate([sxy[0::2], sxy[1::2]], axis=1)[both]
        areas = _projected_areas(area, mvp, width, height)
        corners = place_labels(xy[shown], sizes, [labels[i].kind for i in shown], width, height, 5.0 * scale,
                               segments=segs, areas=areas)
        _leaders(painter, [labels[i] for i in shown], xy[shown], sizes, corners, scale)
        for i, font, fm, (x0, y0) in zip(shown, fonts, fms, corners, strict=True):
            if not np.isfinite(x0):
                continue
            c = labels[i].color
            text(float(x0), float(y0) + fm.ascent(), labels[i].text, font,
                 QColor.fromRgbF(float(c[0]), float(c[1]), float(c[2]), float(c[3])))
            drawn.append((labels[i], (float(x0), float(y0), float(x0) + fm.horizontalAdvance(labels[i].text),
                                      float(y0) + fm.height())))
    if caption:
        fm = QFontMetricsF(base)
        text(6 * scale, 6 * scale + fm.ascent(), caption, base, QColor(40, 40, 40))
    return drawn


def _slide_axis_labels(labels: Sequence[Label], xy: np.ndarray, vis: np.ndarray, mvp: np.ndarray, width: float,
                       height: float, scale: float) -> None:
    """In place: a label with a base (an axis's) whose point is outside the picture moves back along its
    line to where the line leaves the picture (a Fit that frames the shape leaves a long axis's end out)."""
    for i, lb in enumerate(labels):
        if lb.base is None or not vis[i]:
            continue
        bxy, bvis = project_to_pixels(mvp, np.asarray(lb.base, dtype=np.float64).reshape(1, 3), width, height)
        if bvis[0]:
            xy[i] = slide_into_view(bxy[0], xy[i], width, height, 24.0 * scale)


def _projected_areas(area: np.ndarray | None, mvp: np.ndarray, width: float, height: float) -> list:
    """The label-free polygon in pixels ([] when there is none or part of it is behind the camera)."""
    if area is None or len(area) < 3:
        return []
    pxy, pvis = project_to_pixels(mvp, np.asarray(area, dtype=np.float64).reshape(-1, 3), width, height)
    return [pxy] if pvis.all() else []


def _leaders(painter: QPainter, labels: Sequence[Label], anchors: np.ndarray, sizes: Sequence, corners: np.ndarray,
             scale: float) -> None:
    """A thin line from a label placed away from its point (LABEL_FAR: further than 3 gaps) to the point."""
    for lb, (ax, ay), (w, h), (x0, y0) in zip(labels, anchors, sizes, corners, strict=True):
        if lb.kind not in LABEL_FAR or not np.isfinite(x0):
            continue
        nx, ny = min(max(ax, x0), x0 + w), min(max(ay, y0), y0 + h)  # the box's nearest point
        if np.hypot(nx - ax, ny - ay) <= 15.0 * scale:
            continue
        c = lb.color
        pen = QPen(QColor.fromRgbF(float(c[0]), float(c[1]), float(c[2]), 0.8))
        pen.setWidthF(max(1.0, scale))
        painter.setPen(pen)
        painter.drawLine(QPointF(float(nx), float(ny)), QPointF(float(ax), float(ay)))
