"""Figures: any view, or several side by side, rendered from a model.analysis.frame.Frame at a
chosen pixel size to a QImage, PNG, SVG or PDF.

Export draws the views' drawable content, not their widgets (a view is a function of snapshot
and settings): a ``FigureRenderer`` builds, for each view it draws, a fresh content
(views.registry.content_class) that is never shown on screen, hands it each frame and paints it
with a QPainter onto the target device:

- 2D views (``ContentPanel``, a widgets.views2d.PlotContent): their pyqtgraph scene through
  ``QGraphicsScene.render`` (real vector paths and text in SVG and PDF; pyqtgraph's own
  SVGExporter fails on Qt 6.11);
- the 3D view (``PlaneContentPanel``, a render3d.plane_content.PlaneContent): its GL view sized
  to the panel, then ``render_image(w, h)`` at exactly the panel's pixel size (in SVG/PDF a
  bitmap of twice the pixels, line widths and fonts: the same picture, sharper);
- a content that is a widget tree (``WidgetContentPanel``: the verdict table's VerdictContent; the
  Experiments views' contents, app.export.experiment_figures) by its own paint (``QWidget.render``).

No panel builds a view's widget: no toolbar, status line or control exists during an export
(tests/app/test_export_content.py counts every widget built).

SVG: QSvgGenerator's output is rewritten by ``app.export.svg_flatten`` (geometry in
output pixels, literal stroke widths, each panel clipped to its rectangle) so
that librsvg, browsers and Inkscape draw what the PNG shows; PDF images are
written lossless.

Around the panels: a header (the run's config at the left, "step · loss" at
the right), the feature-colour legend below, and the panel names above the
panels of a composed figure. Files are written to a temporary file in the
target folder and published under their name at the end (model/storage/outfile.py), so
a failure leaves no partial file, and an existing file is replaced only when
asked (``replace``).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PyQt6.QtCore import QMarginsF, QPoint, QPointF, QRectF, QSize, QSizeF, Qt
from PyQt6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QLinearGradient,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
)
from PyQt6.QtWidgets import QApplication, QGraphicsItem, QWidget

from app.export.view_settings import CameraSettings, settings_class
from resources import palette
from views import registry
from widgets.views2d import no_si_prefix

if TYPE_CHECKING:
    import pyqtgraph as pg

    from app.export.view_settings import ViewSettings
    from model.analysis.frame import Frame
    from model.config import TrainConfig
    from model.snapshot import Snapshot
    from render3d.plane_view import PlaneView

#: Views that can be exported on their own ("figure" composes several): the registry's.
VIEWS = registry.view_keys()
#: The composed figures offered by name (views.registry.FIGURES): name -> panels.
FIGURES = {name: panels for name, (panels, _) in registry.FIGURES.items()}
DEFAULT_PANELS = FIGURES[registry.DEFAULT_FIGURE]
FIGURE_FORMATS = (".png", ".svg", ".pdf")
DPI = 96  # device pixels per inch of every target (1 pt = 4/3 px)
#: Publication style of the exported plots' axes (the window's are lighter grey).
AXIS_PEN = (70, 70, 70)
AXIS_TEXT = (25, 25, 25)
MAX_SIDE = 8192
#: The feature history's story (model.analysis.story) analyses at most this many snapshots of a run (every k-th beyond).
STORY_SNAPSHOTS = 200


class ExportError(ValueError):
    """Bad export input or an unwritable target: ``str()`` is one line naming the field.
    ``status``: 2 for the user's input, 1 when the machine failed (a full disk)."""

    def __init__(self, field: str, problem: str, status: int = 2):
        self.field = field
        self.problem = " ".join(str(problem).split())
        self.status = int(status)
        super().__init__(f"{field}: {self.problem}" if field else self.problem)


def write_error(target: str | os.PathLike[str], exc: BaseException, field: str = "--out") -> ExportError:
    """The ExportError for a failed write of ``target``: the reason in one line (the disk
    is full, permission denied, ...), status 1 when the disk failed."""
    from model.storage.outfile import is_disk_failure, problem

    return ExportError(field, problem(exc, f"write {target}"), status=1 if is_disk_failure(exc) else 2)


@dataclass
class FigureOptions:
    """What a figure looks like around its views, and the views' own settings.

    ``views``: view key -> that view's settings value (widgets.zone_map.ZoneSettings, ...,
    render3d.scene.PlaneSettings; app.export.view_settings says which), the defaults for
    views not named. The 3D view's axis triple is ``axes`` (0-based; None: the view's
    default, two strong features and the weakest), not the ``triple`` of its settings;
    ``camera``: its camera (None: the iso preset, framed)."""

    width: int = 1200
    height: int = 800
    background: str = "white"  # "white" | "transparent"
    title: str | None = "auto"  # "auto": the run's config; "" / None: no title; else the text
    caption: bool = True  # "step S · loss L" at the right of the title line
    legend: bool | None = None  # feature colours; None: on for the views that colour features
    font_size: float = 10.0  # points (96 dpi: 1 pt = 4/3 px)
    axes: tuple[int, int, int] | None = None  # plane3d axis triple, 0-based
    camera: CameraSettings | None = None  # plane3d camera
    orbit: float = 0.0  # plane3d camera azimuth (degrees)
    views: dict[str, Any] = field(default_factory=dict)  # view key -> settings dataclass

    def view_settings(self, key: str) -> ViewSettings | None:
        """The settings value the view ``key`` is drawn with (its defaults when none is given);
        None for a view without options."""
        st = self.views.get(key)
        if st is not None:
            return st
        try:
            return settings_class(key)()
        except KeyError:
            return None


# ---------------------------------------------------------------------- helpers
def parse_size(text: str, field_name: str = "--size") -> tuple[int, int]:
    """'1280x720' -> (1280, 720); ExportError naming the field otherwise."""
    t = str(text).lower().replace("×", "x").strip()
    parts = t.split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise ExportError(field_name, f"must be WIDTHxHEIGHT in pixels, e.g. 1280x720, got {text!r}") from None
    if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
        raise ExportError(field_name, f"width and height must be from 16 to {MAX_SIDE} pixels, got {text!r}")
    return w, h


def parse_panels(text: str, field_name: str = "--panels") -> tuple[str, ...]:
    """'wheel,zones' or a FIGURES name -> the panel keys."""
    if text in FIGURES:
        return FIGURES[text]
    keys = tuple(registry.canonical(k.strip()) for k in str(text).split(",") if k.strip())
    bad = [k for k in keys if k not in VIEWS]
    if bad or not 1 <= len(keys) <= registry.PANELS_MAX:
        raise ExportError(field_name, f"must be 1 to {registry.PANELS_MAX} comma-separated views of {', '.join(VIEWS)} "
                                      f"(or {' / '.join(FIGURES)}), got {text!r}")
    return keys


def check_output(path: str | os.PathLike[str], formats: Sequence[str], field_name: str = "--out",
                 replace: bool = False) -> Path:
    """The output path, if its extension is one of ``formats``, its folder is writable, and
    it does not exist yet (or ``replace``: the user asked to replace it)."""
    from model.storage.outfile import check_name, check_target

    p = Path(os.fspath(path)).expanduser()
    ext = p.suffix.lower()
    if ext not in formats:
        raise ExportError(field_name, f"{p}: the file name must end in {', '.join(formats)}"
                                      + (f", got {ext!r}" if ext else ""))
    folder = p.parent if str(p.parent) else Path(".")
    try:
        check_name(p)  # before any stat: a name longer than the file system allows fails every one
    except OSError as exc:
        raise write_error(p, exc, field_name) from None
    if p.is_dir():
        raise ExportError(field_name, f"cannot write {p}: it is a folder")
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise ExportError(field_name, f"cannot write {p}: the folder {folder} {problem}")
    try:
        check_target(p, replace)
    except FileExistsError:
        raise ExportError(field_name, f"{p} already exists (choose another name, or ask to replace it: "
                                      f"--force on the command line)") from None
    except OSError as exc:
        raise write_error(p, exc, field_name) from None
    if p.exists() and not os.access(p, os.W_OK):
        raise ExportError(field_name, f"cannot write {p}: permission denied")
    return p


def temp_path(target: Path) -> Path:
    """A fresh, hidden temporary name beside ``target`` with the same extension (published on
    success: model/storage/outfile.py). Nothing is created."""
    from model.storage.outfile import temp_beside

    return temp_beside(target)


def finish_file(tmp: Path, target: Path, replace: bool = False) -> None:
    """Publish the finished temporary file under the target's name (model/storage/outfile.py: one
    step; an existing target only with ``replace``); the temporary file is gone either way."""
    from model.storage.outfile import publish

    try:
        publish(tmp, target, replace)
    except FileExistsError:
        raise ExportError("--out", f"{target} already exists (it appeared while exporting); nothing was "
                                   f"replaced") from None
    except OSError as exc:
        raise write_error(target, exc) from None


def discard(tmp: Path | None) -> None:
    from model.storage.outfile import discard as _discard

    _discard(tmp)


def run_title(config: TrainConfig | None, model: int = 0) -> str:
    """The config line of a run: 'n = 7, m = 2 · identity · adamw lr 0.001 · seed 0'."""
    if config is None:
        return ""
    data = config.data + (f" S={config.sparsity:g}" if config.data == "sparse" else "")
    opt = f"{config.optimizer} lr {config.lr:g}"
    if config.effective_weight_decay:
        opt += f" wd {config.effective_weight_decay:g}"
    who = (f"model {model} (seed {config.seed + model})" if config.models > 1 else f"seed {config.seed}")
    return f"n = {config.n}, m = {config.m} · {data} · {opt} · {who}"


def step_caption(snap: Snapshot | None) -> str:
    if snap is None:
        return ""
    loss = float(snap.loss) if snap.loss is not None else float("nan")
    return f"step {snap.step:,} · loss {loss:.4g}" if np.isfinite(loss) else f"step {snap.step:,}"


def plane3d_class() -> type[PlaneView] | None:
    """The GL view's class (render3d.plane_view.PlaneView), or None when it cannot be imported here
    (no OpenGL)."""
    gl = [v.key for v in registry.VIEWS if v.gl]
    try:
        cls = registry.view_class(gl[0]) if gl else None
    except ImportError:
        return None
    return cls if cls is not None and hasattr(cls, "render_image") else None


def needs_gl(panels: Sequence[str]) -> bool:
    """Whether these views draw with OpenGL (views.registry)."""
    return registry.needs_gl(panels)


def svg_font_families(svg_text: str) -> dict[str, str]:
    """font-family values of Qt's SVG -> the family Qt resolved them to, with a CSS generic
    fallback: Qt writes its alias "Sans Serif", which other renderers may map to another font."""
    import re

    from PyQt6.QtGui import QFontInfo

    generic = {"sans serif": "sans-serif", "sans": "sans-serif", "serif": "serif", "monospace": "monospace"}
    out = {}
    for fam in set(re.findall(r'font-family="([^"]*)"', svg_text)):
        real = QFontInfo(QFont(fam)).family()
        fallback = generic.get(fam.strip().lower(), "sans-serif")
        out[fam] = f"'{real}', {fallback}" if real else fallback
    return out


def resample_nearest(href: str, w: int, h: int, flip_x: bool, flip_y: bool) -> str | None:
    """A data-URI bitmap enlarged to w x h pixels without smoothing (and mirrored), as a PNG
    data URI; None if it cannot be decoded or would shrink."""
    import base64

    from PyQt6.QtCore import QBuffer, QByteArray, QIODevice

    head, _, data = href.partition(",")
    if ";base64" not in head:
        return None
    img = QImage.fromData(base64.b64decode(data))
    if img.isNull() or w < img.width() or h < img.height():
        return None  # only blocky enlargements (WᵀW cells); a detailed bitmap (3D panel) stays as is
    if flip_x or flip_y:
        img = img.mirrored(flip_x, flip_y)
    img = img.scaled(w, h, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.FastTransformation)
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "PNG")
    buf.close()
    return "data:image/png;base64," + base64.b64encode(ba.data()).decode("ascii")


def pt_px(pt: float) -> float:
    return pt * DPI / 72.0


# ----------------------------------------------------------------------- panels
def _new_view(key: str):
    return registry.view_class(key)()


def publication_style(gvs: Sequence[pg.GraphicsView], font_size: float) -> None:
    """The plots of these views in print style: axes in the figure's font and darker ink, no SI
    prefix, labels a point smaller, no cached pixmaps (vector output)."""
    import pyqtgraph as pg

    from widgets.views2d import LabelsItem

    pt = float(font_size)
    font = QFont()
    font.setPointSizeF(pt)
    for gv in gvs:
        for item in gv.scene().items():
            if isinstance(item, pg.AxisItem):
                item.setTickFont(font)
                item.label.setFont(font)
                item.setPen(pg.mkPen(AXIS_PEN))
                item.setTextPen(pg.mkPen(AXIS_TEXT))
                no_si_prefix(item)  # "loss (x0.001)" over "7·10²" reads badly in print
            elif isinstance(item, LabelsItem):
                item.set_point_size(max(6.0, pt - 1.0))
            if item.cacheMode() != QGraphicsItem.CacheMode.NoCache:
                item.setCacheMode(QGraphicsItem.CacheMode.NoCache)  # vector output, not cached pixmaps


class _FlatPanel:
    """What a 2D panel does with frames: hands each to its content; no camera to turn, nothing to
    fix before an animation (a 2D view's ranges follow each frame)."""

    view: Any

    def set_frame(self, frame: Frame | None) -> None:
        self.view.set_frame(frame)

    def set_orbit(self, offset: float) -> None:
        """No camera in a 2D view."""

    def prepare(self, frame: Frame | None) -> None:
        """Nothing to fix before an animation."""


class ContentPanel(_FlatPanel):
    """One 2D view inside a figure, from its drawable content alone (views.registry.content_class: a
    widgets.views2d.PlotContent, the plots and their drawing): no view widget, no toolbar, no status
    line, no controls are built. The content's pg.GraphicsView is sized to the panel's rectangle and
    never shown on screen; its scene is what gets painted."""

    gl = False

    def __init__(self, key: str, options: FigureOptions, content_class: type):
        self.key = key
        self.options = options
        self.size = QSize(0, 0)
        self.view = content_class()
        self.view.plot.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        st = options.view_settings(key)
        if st is not None:
            self.view.set_settings(st)
        self._styled = False

    def graphics_views(self) -> list[pg.GraphicsView]:
        return [self.view.plot]

    def resize(self, w: int, h: int) -> None:
        w, h = max(1, int(w)), max(1, int(h))
        if self.size == QSize(w, h):
            return
        self.size = QSize(w, h)
        gv = self.view.plot
        gv.resize(w, h)
        if not gv.isVisible():
            gv.show()  # off screen (WA_DontShowOnScreen): lays the plots out at the size
        QApplication.sendPostedEvents()
        if not self._styled:  # once the plots have a size (their items map pixels then)
            publication_style(self.graphics_views(), self.options.font_size)
            self._styled = True

    def paint(self, p: QPainter, rect: QRectF, raster: bool) -> None:
        """Paint the content's scene into ``rect`` (device pixels; the panel is sized to it)."""
        render_graphics_view(p, self.view.plot, QRectF(rect.x(), rect.y(), rect.width(), rect.height()), raster)

    def close(self) -> None:
        self.view.plot.close()
        self.view.plot.deleteLater()


class PlaneContentPanel:
    """The 3D view inside a figure, from its drawable content alone (views.registry.content_class: a
    render3d.plane_content.PlaneContent: the scene, the settings, the camera, the GL view): no view
    widget, no toolbar, no enlarge boxes, no status line, no raster host are built. The content's GL view
    is made a window of its own, never shown on screen, sized to the panel's rectangle (the camera is
    framed for that shape); ``paint`` draws its ``render_image`` at exactly the panel's pixels (in SVG /
    PDF: twice the pixels, line widths and fonts, the same picture sharper).

    ``options.axes``: the triple (None: the default, which follows training); ``options.camera``: the
    camera, placed once the first frame's scene exists; ``set_orbit(offset)``: the camera turned that many
    degrees from where it was framed (an orbit animation)."""

    gl = True

    def __init__(self, key: str, options: FigureOptions, content_class: type):
        self.key = key
        self.options = options
        self.size = QSize(0, 0)
        self._az0: float | None = None
        self.view = content_class()
        g = self.view.gl
        g.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        g.setAttribute(Qt.WidgetAttribute.WA_QuitOnClose, False)  # never the window that keeps the app alive
        st = options.view_settings(key)
        v = self.view
        st = v.settings if st is None else st
        v.set_settings(st.with_(triple=v.triple))  # the triple is options.axes (None: the default)
        if options.axes is not None:
            v.set_triple(tuple(int(a) for a in options.axes))
        self._camera_due = options.camera is not None
        if options.camera is not None:
            v.set_camera(options.camera.preset)

    def graphics_views(self) -> list[pg.GraphicsView]:
        """No pyqtgraph scene: the picture is the GL view's."""
        return []

    def resize(self, w: int, h: int) -> None:
        """The GL view at the panel's size, shown off screen (it has a GL context from then on)."""
        w, h = max(1, int(w)), max(1, int(h))
        if self.size == QSize(w, h):
            return
        self.size = QSize(w, h)
        g = self.view.gl
        g.resize(w, h)
        if not g.isVisible():
            g.show()
        QApplication.sendPostedEvents()

    def set_frame(self, frame: Frame | None) -> None:
        self.view.set_frame(frame)
        if self._camera_due and frame is not None:  # the scene exists: place the camera as asked
            self._camera_due = False
            self._place_camera()

    def _place_camera(self) -> None:
        """The camera of options.camera (its preset already framed the scene): turned to its angles, at
        its distance and centre when given; without a distance, framed again from the new direction."""
        c = self.options.camera
        assert c is not None, "placed only when options.camera is given"
        v = self.view
        v.set_camera(c.preset)
        if (c.elevation is None and c.azimuth is None and c.distance is None and c.center is None and c.fov is None
                and c.aspect is None):
            return
        v.set_camera_params(center=c.center, distance=c.distance, elevation=c.elevation, azimuth=c.azimuth,
                            fov=c.fov, aspect=c.aspect)
        if c.distance is None:
            v.fit()

    def set_orbit(self, offset: float) -> None:
        """Turn the camera ``offset`` degrees from where it was framed."""
        if self._az0 is None:
            if not offset:
                return
            self._az0 = float(self.view.camera_params()["azimuth"])
        self.view.set_orbit(self._az0 + float(offset))

    def prepare(self, frame: Frame | None) -> None:
        """Before an animation: fix the axis triple and frame the camera on ``frame`` (the last one), so
        the camera does not jump while training moves the plane."""
        if frame is None:
            return
        v = self.view
        v.set_frame(frame)
        if self.options.axes is None:
            v.set_triple(tuple(v.triple))
        if self.options.camera is not None:
            self._camera_due = False
            self._place_camera()
        else:
            v.set_camera(v.camera_preset)
        self._az0 = None

    def paint(self, p: QPainter, rect: QRectF, raster: bool) -> None:
        """Paint the content's picture into ``rect`` (device pixels; the panel is sized to it)."""
        from render3d.plane_content import image_scale

        w, h = int(rect.width()), int(rect.height())
        if raster:
            img = self.view.render_image(w, h)
        else:  # twice the pixels, and twice the line widths and fonts: the same picture, sharper
            img = self.view.render_image(2 * w, 2 * h, scale=2 * image_scale(w, h))
        p.drawImage(rect, img)

    def close(self) -> None:
        self.view.close()


class WidgetContentPanel(_FlatPanel):
    """One view inside a figure from its drawable content where that content is a widget tree
    (views.registry.content_class: the verdict table's widgets.verdict_panel.VerdictContent, its title,
    findings and per-feature table; an Experiments view's content, app.export.experiment_figures): no
    view widget, no click handling, selection or controls are built. The content is sized to the
    panel's rectangle, never shown on screen, and painted by its own paint (``QWidget.render``, children
    included); its plots, if any, in publication style."""

    gl = False

    def __init__(self, key: str, options: FigureOptions, content: QWidget):
        self.key = key
        self.options = options
        self.size = QSize(0, 0)
        # Any: each content class has its own drawing API (set_frame for a view drawn by frames)
        self.view: Any = content
        content.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        self._styled = False

    def graphics_views(self) -> list[pg.GraphicsView]:
        import pyqtgraph as pg

        return list(self.view.findChildren(pg.GraphicsView))

    def _style(self) -> None:
        gvs = self.graphics_views()
        if not gvs:  # Qt widgets only (the verdict table): the figure's font
            font = QFont()
            font.setPointSizeF(float(self.options.font_size))
            self.view.setFont(font)
        publication_style(gvs, self.options.font_size)

    def resize(self, w: int, h: int) -> None:
        w, h = max(1, int(w)), max(1, int(h))
        if self.size == QSize(w, h):
            return
        self.size = QSize(w, h)
        v = self.view
        v.resize(w, h)
        if not v.isVisible():
            v.show()  # off screen (WA_DontShowOnScreen): lays the content out at the size
        v.resize(w, h)
        if v.layout() is not None:
            v.layout().activate()
        QApplication.sendPostedEvents()
        if not self._styled:  # once the plots have a size (their items map pixels then)
            self._style()
            self._styled = True

    def paint(self, p: QPainter, rect: QRectF, raster: bool) -> None:
        """Paint the content into ``rect`` (device pixels; the panel is sized to it)."""
        p.save()
        p.translate(rect.topLeft())
        self.view.render(p, QPoint(0, 0), flags=QWidget.RenderFlag.DrawChildren)
        p.restore()

    def close(self) -> None:
        self.view.close()
        self.view.deleteLater()


def render_graphics_view(p: QPainter, gv: pg.GraphicsView, target: QRectF, raster: bool) -> None:
    """Paint a pyqtgraph GraphicsView's scene into ``target``: vector paths and text on an SVG or PDF
    painter (``raster`` False: pyqtgraph's export mode, e.g. scatter symbols as paths, not cached
    pixmaps)."""
    items = [] if raster else [it for it in gv.scene().items() if hasattr(it, "setExportMode")]
    for it in items:
        it.setExportMode(True, {"antialias": True, "background": None, "painter": p, "resolutionScale": 1.0})
    try:
        gv.scene().render(p, target, QRectF(gv.sceneRect()), Qt.AspectRatioMode.IgnoreAspectRatio)
    finally:
        for it in items:
            it.setExportMode(False)


# --------------------------------------------------------------------- renderer
class FigureRenderer:
    """Renders one view or a composed figure, frame after frame, at a fixed size.

    ``panels``: view keys drawn side by side (one key: a single view).
    ``title``: the run's config line used when ``options.title == "auto"``.
    """

    def __init__(self, panels: Sequence[str], options: FigureOptions | None = None, title: str = ""):
        self.options = options or FigureOptions()
        self.panels_keys = tuple(panels)
        bad = [k for k in self.panels_keys if k not in self.known_views()]
        if bad or not self.panels_keys:
            raise ExportError("--view", f"must be one of {', '.join(VIEWS)} or figure, got {', '.join(bad) or 'none'}")
        o = self.options
        if o.background not in ("white", "transparent"):
            raise ExportError("--background", f"must be white or transparent, got {o.background!r}")
        if not 4 <= float(o.font_size) <= 72:
            raise ExportError("--font-size", f"must be from 4 to 72 points, got {o.font_size:g}")
        self.run_title = title
        import pyqtgraph as pg

        # antialiased lines, as in the window (app.gui sets it there; a headless export did not,
        # and its PNG lines were jagged next to the same figure in SVG / PDF)
        pg.setConfigOptions(antialias=True)
        self.panels: list[ContentPanel | PlaneContentPanel | WidgetContentPanel] = []
        try:
            for k in self.panels_keys:
                self.panels.append(self.make_panel(k))
        except Exception:
            self.close()
            raise
        self._settled = False
        self._svg_marks = False  # paint the panel clip marks (SVG export)
        self._cap_min = 0.0
        self.legend_swatches: list[tuple[int, QRectF]] = []  # (feature, rect) of the last frame (tests)
        self.panel_rects: list[QRectF] = []

    def known_views(self) -> Sequence[str]:
        """The panel keys this renderer draws (a subclass draws other widgets: experiment views)."""
        return VIEWS

    def make_panel(self, key: str) -> ContentPanel | PlaneContentPanel | WidgetContentPanel:
        """A fresh, never-shown panel for ``key``: the view's drawable content alone when it has one
        (views.registry.content_class), else its widget (a subclass builds its own)."""
        try:
            content = registry.content_class(key)
        except ImportError as exc:  # a GL view without OpenGL here
            raise ExportError("--view", f"view {key} cannot be drawn here: {exc}") from None
        if registry.spec(key).gl:
            return PlaneContentPanel(key, self.options, content)
        if issubclass(content, QWidget):  # a widget tree (the verdict table, an Experiments view)
            return WidgetContentPanel(key, self.options, content())
        return ContentPanel(key, self.options, content)

    @property
    def size(self) -> QSize:
        return QSize(int(self.options.width), int(self.options.height))

    def legend_on(self) -> bool:
        if self.options.legend is not None:
            return bool(self.options.legend)
        return registry.feature_coloured(self.panels_keys)

    def panel_title(self, key: str) -> str:
        """The name above a panel of a composed figure (WᵀW without b says so)."""
        return registry.spec(key).titled(self.options.view_settings(key))

    def title_text(self) -> str:
        t = self.options.title
        if t is None or t == "":
            return ""
        return self.run_title if t == "auto" else str(t)

    # layout -----------------------------------------------------------------
    def _fonts(self):
        pt = float(self.options.font_size)
        body = QFont()
        body.setPointSizeF(pt)
        title = QFont(body)
        title.setPointSizeF(pt * 1.15)
        title.setBold(True)
        return body, title

    def layout(self, n: int, caption: str
               ) -> tuple[QRectF | None, list[QRectF], list[QRectF], QRectF | None]:
        """(header rect or None, [panel rects], [panel label rects], legend rect or None)."""
        W, H = self.options.width, self.options.height
        fs = pt_px(self.options.font_size)
        header = bool(self.title_text() or (self.options.caption and caption))
        legend = self.legend_on() and n > 0
        decorated = header or legend or len(self.panels) > 1
        pad = round(0.6 * fs) if decorated else 0
        y = pad
        hrect = None
        if header:
            hh = round(fs * 1.15 * 1.6)
            hrect = QRectF(pad, y, W - 2 * pad, hh)
            y += hh + round(0.3 * fs)
        lrect = None
        bottom = H - pad
        if legend:
            rows = self._legend_rows(n, W - 2 * pad)
            lh = round(fs * 1.7) * len(rows) if rows else round(fs * 1.9)
            lrect = QRectF(pad, bottom - lh, W - 2 * pad, lh)
            bottom -= lh + round(0.3 * fs)
        label_h = round(fs * 1.5) if len(self.panels) > 1 else 0
        k = len(self.panels)
        gap = pad if k > 1 else 0
        pw = (W - 2 * pad - gap * (k - 1)) / k
        rects, labels = [], []
        for i in range(k):
            x = round(pad + i * (pw + gap))
            x1 = round(pad + i * (pw + gap) + pw)
            if label_h:
                labels.append(QRectF(x, y, x1 - x, label_h))
            rects.append(QRectF(x, y + label_h, x1 - x, max(1, round(bottom - y - label_h))))
        return hrect, rects, labels, lrect

    def _legend_rows(self, n: int, width: float):
        """Feature swatches (n <= 20 categorical colours) packed into rows: [[(feature, x offset)]]."""
        if n > palette.CATEGORICAL_MAX:
            return []
        body, _ = self._fonts()
        fm = QFontMetricsF(body)
        fs = pt_px(self.options.font_size)
        sw = fs
        head = fm.horizontalAdvance("feature") + fs
        rows: list[list[tuple[int, float]]] = []
        row: list[tuple[int, float]] = []
        x = head
        for i in range(n):
            w = sw + 0.4 * fs + fm.horizontalAdvance(str(i + 1)) + fs
            if row and x + w > width:
                rows.append(row)
                row, x = [], head
            row.append((i, x))
            x += w
        if row:
            rows.append(row)
        return rows

    def to_pixel(self, panel: int, x: float, y: float) -> QPointF | None:
        """Figure pixel of the view point (x, y) in 2D panel ``panel``'s (first) plot, as last painted."""
        pn = self.panels[panel]
        vb = getattr(pn.view, "vb", None)
        if vb is None or panel >= len(self.panel_rects):
            return None
        gv = pn.view.plot
        sp = vb.mapViewToScene(QPointF(float(x), float(y)))
        off = QPoint(0, 0) if isinstance(pn, ContentPanel) else gv.mapTo(pn.view, QPoint(0, 0))
        r = self.panel_rects[panel]
        return QPointF(r.x() + off.x() + sp.x(), r.y() + off.y() + sp.y())

    # painting -----------------------------------------------------------------
    def set_orbit(self, offset: float) -> None:
        """The 3D camera's turn (degrees) from its framed azimuth, for the next frames."""
        self.options.orbit = float(offset)

    def prepare(self, frame: Frame | None) -> None:
        """Before an animation: size the panels and let the 3D view fix its triple and frame
        its camera on ``frame`` (the last one: the plane grows while training)."""
        frame = self.dressed(frame)
        snap = None if frame is None else frame.snapshot
        caption = step_caption(snap) if self.options.caption else ""
        _, rects, _, _ = self.layout(0 if snap is None else snap.n, caption)
        if caption:  # room for the caption kept steady over the frames (the title does not jitter)
            body, _ = self._fonts()
            self._cap_min = 1.15 * QFontMetricsF(body).horizontalAdvance(caption) + pt_px(self.options.font_size)
        for pn, r in zip(self.panels, rects, strict=True):
            pn.resize(int(r.width()), int(r.height()))
            pn.prepare(frame)

    #: A callable asked between panels (export's Ctrl+C): when it says True, painting stops with
    #: KeyboardInterrupt, raised here in Python between Qt's paints (inside one, PyQt swallows it).
    interrupted: Callable[[], bool] | None = None

    def _check_stop(self):
        if self.interrupted is not None and self.interrupted():
            raise KeyboardInterrupt

    def dressed(self, frame: Frame | None) -> Frame | None:
        """``frame`` with what the drawn views need of it and it lacks (views.registry's ``needs``): the
        story of the run for a view that marks it, told once per run and model (an animation's frames
        share it; the window hands its timeline's instead)."""
        if frame is None or "story" not in registry.needs(self.panels_keys) or frame.story or frame.history is None:
            return frame
        return frame.replace(story=tuple(self._story(frame)))

    def _story(self, frame: Frame) -> list:
        """The story of the run (model.analysis.story) once per run and model: at most STORY_SNAPSHOTS snapshots
        analysed, as the window's timeline."""
        from model.analysis.story import story_events
        from widgets.verdict_panel import dress_story

        h = frame.history
        assert h is not None  # dressed() asks only for a frame with a history
        key = (id(h), int(frame.model), len(h), h.latest_step)
        if getattr(self, "_story_key", None) != key:
            stride = max(1, -(-len(h) // STORY_SNAPSHOTS))
            self._story_key, self._story_events = key, dress_story(story_events(h, frame.model, frame.onehot, stride))
        return list(self._story_events)

    def paint(self, p: QPainter, frame: Frame | None, raster: bool = True) -> None:
        """Paint the whole figure of ``frame`` onto ``p`` (device pixels, options.width x height)."""
        o = self.options
        frame = self.dressed(frame)
        snap = None if frame is None else frame.snapshot
        n = 0 if snap is None else snap.n
        caption = step_caption(snap) if o.caption else ""
        hrect, rects, labels, lrect = self.layout(n, caption)
        self.panel_rects = rects
        for pn, r in zip(self.panels, rects, strict=True):
            pn.resize(int(r.width()), int(r.height()))
            pn.set_frame(frame)
            pn.set_orbit(o.orbit)
        if not self._settled:  # the first paints settle the axes' widths (fonts) and auto-ranges
            scratch = QImage(max(1, o.width), max(1, o.height), QImage.Format.Format_ARGB32_Premultiplied)
            for _ in range(2):
                sp = QPainter(scratch)
                try:
                    for pn, r in zip(self.panels, rects, strict=True):
                        self._check_stop()
                        if not pn.gl:
                            pn.paint(sp, r, True)
                finally:
                    sp.end()
                QApplication.sendPostedEvents()
            self._settled = True
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        if o.background == "white":
            p.fillRect(QRectF(0, 0, o.width, o.height), QColor(255, 255, 255))
        body, tfont = self._fonts()
        ink = QColor(20, 20, 20)
        if hrect is not None:
            p.setPen(ink)
            p.setFont(tfont)
            title = self.title_text()
            cap_w = 0.0
            if caption:
                p.setFont(body)
                fm = QFontMetricsF(body)
                cap_w = max(fm.horizontalAdvance(caption) + pt_px(o.font_size), self._cap_min)
                p.drawText(hrect, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), caption)
            if title:
                p.setFont(tfont)
                room = QRectF(hrect.x(), hrect.y(), max(1.0, hrect.width() - cap_w), hrect.height())
                text = QFontMetricsF(tfont).elidedText(title, Qt.TextElideMode.ElideRight, room.width())
                p.drawText(room, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        if labels:
            p.setFont(body)
            p.setPen(QColor(60, 60, 60))
            for key, lr in zip(self.panels_keys, labels, strict=True):
                p.drawText(lr, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter), self.panel_title(key))
        for i, (pn, r) in enumerate(zip(self.panels, rects, strict=True)):
            self._check_stop()
            p.save()
            self._clip_mark(p, i, False)
            p.setClipRect(r)
            pn.paint(p, r, raster)
            p.restore()
            self._clip_mark(p, i, True)
        self.legend_swatches = []
        if lrect is not None and frame is not None:
            self._paint_legend(p, lrect, frame)

    def _clip_mark(self, p: QPainter, k: int, end: bool):
        """SVG only: the marks around panel k that app.export.svg_flatten turns into its clip."""
        if self._svg_marks:
            from app.export.svg_flatten import clip_mark

            p.fillRect(QRectF(*clip_mark(k, end)), QColor(1, 2, 3))

    def _colors(self, frame: Frame) -> np.ndarray:
        from widgets.views2d import feature_colors_for

        return feature_colors_for(frame.snapshot, frame)

    def _paint_legend(self, p: QPainter, rect: QRectF, frame: Frame) -> None:
        n = frame.snapshot.n
        body, _ = self._fonts()
        fm = QFontMetricsF(body)
        fs = pt_px(self.options.font_size)
        p.setFont(body)
        ink = QColor(30, 30, 30)
        colors = self._colors(frame)
        rows = self._legend_rows(n, rect.width())
        if not rows:  # many features: colour = angle
            text = "feature colour = its angle in the latent plane:  0°"
            p.setPen(ink)
            tw = fm.horizontalAdvance(text)
            p.drawText(QRectF(rect.x(), rect.y(), tw + 2, rect.height()),
                       int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
            x0 = rect.x() + tw + 0.5 * fs
            bw = min(rect.width() - (x0 - rect.x()) - 4 * fs, 18 * fs)
            bar = QRectF(x0, rect.center().y() - 0.4 * fs, max(bw, fs), 0.8 * fs)
            hues = palette.feature_colors(361, np.radians(np.arange(361.0)))
            g = QLinearGradient(bar.topLeft(), bar.topRight())
            for i in range(0, 361, 15):
                c = hues[i]
                g.setColorAt(i / 360.0, QColor(int(c[0]), int(c[1]), int(c[2])))
            p.fillRect(bar, g)
            p.drawText(QRectF(bar.right() + 0.3 * fs, rect.y(), 4 * fs, rect.height()),
                       int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), "360°")
            return
        rh = rect.height() / len(rows)
        sel = set(frame.selected)
        for r, row in enumerate(rows):
            y = rect.y() + r * rh
            # centre the rows
            last_i, last_x = row[-1]
            used = last_x + fs + 0.4 * fs + fm.horizontalAdvance(str(last_i + 1))
            x_off = rect.x() + max(0.0, (rect.width() - used) / 2)
            if r == 0:
                p.setPen(ink)
                p.drawText(QRectF(x_off, y, fm.horizontalAdvance("feature") + 2, rh),
                           int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), "feature")
            for i, dx in row:
                c = colors[i]
                sw = QRectF(x_off + dx, y + (rh - fs) / 2, fs, fs)
                p.fillRect(sw, QColor(int(c[0]), int(c[1]), int(c[2])))
                if i in sel:
                    p.setPen(QPen(QColor(20, 20, 20), 1.5))
                    p.drawRect(sw)
                self.legend_swatches.append((i, sw))
                p.setPen(ink)
                f = QFont(body)
                f.setBold(i in sel)
                p.setFont(f)
                p.drawText(QRectF(sw.right() + 0.4 * fs, y, 3 * fs, rh),
                           int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), str(i + 1))
                p.setFont(body)

    # targets ------------------------------------------------------------------
    def image(self, frame: Frame | None) -> QImage:
        """The figure as a QImage (ARGB32 premultiplied) of exactly options.width x height."""
        o = self.options
        img = QImage(o.width, o.height, QImage.Format.Format_ARGB32_Premultiplied)
        dpm = round(DPI / 0.0254)
        img.setDotsPerMeterX(dpm)
        img.setDotsPerMeterY(dpm)
        img.fill(QColor(255, 255, 255) if o.background == "white" else QColor(0, 0, 0, 0))
        p = QPainter(img)
        try:
            self.paint(p, frame, raster=True)
        finally:
            p.end()
        return img

    def save(self, path: str | os.PathLike[str], frame: Frame | None,
             replace: bool = False, interrupted: Callable[[], bool] | None = None) -> Path:
        """Write PNG, SVG or PDF (by the extension): rendered in memory, written to a temporary
        file beside it with plain writes (a full disk is one clear line, not libpng's), and
        published under its name (an existing file only with ``replace``). ``interrupted``:
        a callable asked between panels and before writing; when it says True nothing is
        written and KeyboardInterrupt is raised."""
        from model.storage.outfile import write_new

        target = check_output(path, FIGURE_FORMATS, replace=replace)
        ext = target.suffix.lower()
        if ext in (".svg", ".pdf") and len(self.panels_keys) == 1 and needs_gl(self.panels_keys):
            raise ExportError("--out", f"the {registry.spec(self.panels_keys[0]).title} view exports to .png (a GL rendering); "
                                       f"SVG and PDF are for 2D views and figures")
        self.interrupted = interrupted
        try:
            data = self.encode(ext, frame)
        finally:
            self.interrupted = None
        if not data:
            raise ExportError("--out", f"cannot write {target}: nothing was rendered", status=1)
        if interrupted is not None and interrupted():
            raise KeyboardInterrupt
        tmp = temp_path(target)
        try:
            write_new(tmp, data)
        except OSError as exc:
            raise write_error(target, exc) from None
        finish_file(tmp, target, replace)
        return target

    def encode(self, ext: str, frame: Frame | None) -> bytes:
        """The figure as the bytes of a .png, .svg or .pdf file."""
        from PyQt6.QtCore import QBuffer, QByteArray, QIODevice

        ba = QByteArray()
        buf = QBuffer(ba)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        if ext == ".png":
            if not self.image(frame).save(buf, "PNG"):
                raise ExportError("--out", "the PNG encoder failed", status=1)
        elif ext == ".svg":
            self._save_svg(buf, frame)
        else:
            self._save_pdf(buf, frame)
        buf.close()
        data = ba.data()
        if ext == ".svg":  # QSvgGenerator states the size in mm, which readers convert at 90 or 96 dpi
            import re

            from app.export.svg_flatten import flatten_svg

            o = self.options
            text = data.decode("utf-8")
            head, sep, rest = text.partition("viewBox=")
            if sep:
                head = re.sub(r'width="[0-9.]+mm" height="[0-9.]+mm"',
                              f'width="{o.width}px" height="{o.height}px"', head, count=1)
            text = head + sep + rest
            # geometry in output pixels with literal stroke widths: renders alike in Qt, librsvg,
            # browsers and Inkscape (app.export.svg_flatten says why Qt's own output does not)
            clips = {k: (r.x(), r.y(), r.width(), r.height()) for k, r in enumerate(self.panel_rects)}
            data = flatten_svg(text, svg_font_families(text), clips, resample_nearest).encode("utf-8")
        return data

    def _save_svg(self, device, frame):
        from PyQt6.QtSvg import QSvgGenerator

        o = self.options
        g = QSvgGenerator()
        g.setOutputDevice(device)
        g.setSize(QSize(o.width, o.height))
        g.setViewBox(QRectF(0, 0, o.width, o.height))
        g.setResolution(DPI)
        g.setTitle(self.title_text() or "figure")
        g.setDescription(step_caption(None if frame is None else frame.snapshot))
        p = QPainter(g)
        self._svg_marks = True
        try:
            self.paint(p, frame, raster=False)
        finally:
            self._svg_marks = False
            p.end()

    def _save_pdf(self, device, frame):
        o = self.options
        w = QPdfWriter(device)
        w.setResolution(DPI)
        w.setCreator("latent geometry explorer")
        w.setTitle(self.title_text() or "figure")
        page = QPageSize(QSizeF(o.width * 72.0 / DPI, o.height * 72.0 / DPI), QPageSize.Unit.Point, "figure",
                         QPageSize.SizeMatchPolicy.ExactMatch)
        w.setPageLayout(QPageLayout(page, QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0)))
        p = QPainter(w)
        # images (WᵀW cells, the 3D panel) kept exact: QPdfWriter's default JPEG would bleed the
        # colours of neighbouring cells into each other (chroma subsampling)
        p.setRenderHint(QPainter.RenderHint.LosslessImageRendering, True)
        try:
            # the page is o.width x o.height device pixels at DPI; map exactly onto it
            sx = w.width() / o.width
            sy = w.height() / o.height
            if abs(sx - 1) > 1e-6 or abs(sy - 1) > 1e-6:
                p.scale(sx, sy)
            self.paint(p, frame, raster=False)
        finally:
            p.end()  # writes the end of the document

    def close(self) -> None:
        for pn in self.panels:
            pn.close()
        self.panels = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def export_figure(path: str | os.PathLike[str], panels: Sequence[str], frame: Frame | None,
                  options: FigureOptions | None = None, title: str = "",
                  replace: bool = False) -> Path:
    """Render ``panels`` (one view key, or several side by side) for one snapshot to ``path``."""
    with FigureRenderer(panels, options, title) as r:
        return r.save(path, frame, replace=replace)


def qimage_bgra(img: QImage) -> bytes:
    """The pixels of an ARGB32 QImage as tightly packed BGRA bytes (little-endian memory order)."""
    if img.format() not in (QImage.Format.Format_ARGB32_Premultiplied, QImage.Format.Format_ARGB32,
                            QImage.Format.Format_RGB32):
        img = img.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    w, h = img.width(), img.height()
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    raw = ptr.asstring()  # a copy of the pixels (bytes(ptr) copied too)
    if img.bytesPerLine() == 4 * w:
        return raw
    a = np.frombuffer(raw, dtype=np.uint8).reshape(h, img.bytesPerLine())[:, : 4 * w]
    return a.tobytes()


def qimage_rgb(img: QImage) -> np.ndarray:
    """(h, w, 3) uint8 RGB copy of a QImage."""
    w, h = img.width(), img.height()
    a = np.frombuffer(qimage_bgra(img), dtype=np.uint8).reshape(h, w, 4)
    return a[:, :, [2, 1, 0]].copy()


__all__ = [
    "FIGURES",
    "VIEWS",
    "ExportError",
    "FigureOptions",
    "FigureRenderer",
    "check_output",
    "export_figure",
    "parse_panels",
    "parse_size",
    "plane3d_class",
    "run_title",
    "step_caption",
]
