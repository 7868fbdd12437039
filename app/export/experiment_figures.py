"""The Experiments window's views as figures: the seed-sweep atlas, the dataset-size
(SMDD) view and the perturbation probe, drawn to PNG, SVG or PDF by the same renderer
as the explorer's views (``app.export.figure.FigureRenderer``: header, temporary file
published in one step, SVG flattened for librsvg, lossless PDF images).

Each figure draws a view's content alone (widgets.sweep_view.SweepContent,
widgets.datasize_view.DataSizeContent, widgets.probe_view.ProbeContent: the plots, tables,
readouts and gallery the window's view embeds), a fresh, never-shown instance given the result
(``set_sweep`` / ``set_result``) and sized to the figure: no view widget and none of its
controls (pickers, tabs, buttons, sliders) is built. The plots are painted as their pyqtgraph
scenes (vector paths and text in SVG and PDF), every other widget by its own paint (a table's
cells, a label's text, the sweep gallery's thumbnails as images).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtCore import QPoint, QPointF, QRectF, Qt
from PyQt6.QtGui import QPainter, QRegion
from PyQt6.QtWidgets import QWidget

from app.export.figure import (
    FIGURE_FORMATS,
    ExportError,
    FigureOptions,
    FigureRenderer,
    WidgetContentPanel,
    check_output,
    render_graphics_view,
    run_title,
)

if TYPE_CHECKING:
    from model.analysis.frame import Frame
    from model.analysis.probe import ProbeResult
    from model.config import TrainConfig
    from model.experiments.datasize import DataSizeSweep
    from model.experiments.sweep import Sweep
    from model.snapshot import Snapshot
    from widgets.datasize_view import DataSizeContent
    from widgets.probe_view import ProbeContent
    from widgets.sweep_view import SweepContent

#: The experiment views a figure can show: the key, and what the figure's title calls it.
EXPERIMENT_VIEWS = {"sweep": "Seed sweep", "datasize": "Dataset size (SMDD)", "probe": "Perturbation probe"}
#: The default figure size of an experiment view (pixels): they hold more than one plot.
DEFAULT_SIZE = (1400, 900)
#: The content's inset in its figure (px): the margin the window's view keeps around it, which the
#: figures have always shown.
INSET = 2


def paint_widget_tree(p: QPainter, root: QWidget, origin: QPointF, raster: bool) -> None:
    """Paint ``root`` and its visible children at ``origin`` of ``p``: pyqtgraph views as their
    scenes (``render_graphics_view``), every other widget by its own paint, children over parents."""
    import pyqtgraph as pg

    def walk(w: QWidget) -> None:
        if not w.isVisibleTo(root) and w is not root:
            return
        off = w.mapTo(root, QPoint(0, 0)) if w is not root else QPoint(0, 0)
        r = QRectF(origin.x() + off.x(), origin.y() + off.y(), w.width(), w.height())
        if isinstance(w, pg.GraphicsView):
            render_graphics_view(p, w, r, raster)
            return
        p.save()
        p.translate(r.topLeft())
        w.render(p, QPoint(0, 0), QRegion(w.rect()), QWidget.RenderFlag(0))
        p.restore()
        for c in w.children():
            if isinstance(c, QWidget) and not c.isWindow():
                walk(c)

    walk(root)


class ExperimentPanel(WidgetContentPanel):
    """An experiment view's content as the one panel of a figure (it holds its result; snapshots pass it
    by), inset by INSET, its pyqtgraph views painted as their scenes (``paint_widget_tree``)."""

    def set_frame(self, frame: Frame | None) -> None:
        """Nothing: the content holds its result (a frame only names the step in the header)."""

    def resize(self, w: int, h: int) -> None:
        super().resize(int(w) - 2 * INSET, int(h) - 2 * INSET)

    def paint(self, p: QPainter, rect: QRectF, raster: bool) -> None:
        paint_widget_tree(p, self.view, rect.topLeft() + QPointF(INSET, INSET), raster)


class ExperimentFigureRenderer(FigureRenderer):
    """A FigureRenderer whose one panel is an experiment view's content (``EXPERIMENT_VIEWS``) holding its
    result."""

    def __init__(self, key: str, content: QWidget, options: FigureOptions | None = None, title: str = ""):
        self._content = content
        options = options or FigureOptions(*DEFAULT_SIZE)
        options.legend = False  # no feature colours to explain (the views say what their colours are)
        super().__init__((key,), options, title)

    def known_views(self) -> Sequence[str]:
        return tuple(EXPERIMENT_VIEWS)

    def make_panel(self, key: str) -> ExperimentPanel:
        return ExperimentPanel(key, self.options, self._content)


def check_figure_path(path: str | os.PathLike[str], replace: bool, field_name: str = "--out") -> Path:
    """The figure's path if it ends in .png, .svg or .pdf, its folder is writable and it does not
    exist (or ``replace``); ExportError naming ``field_name`` otherwise."""
    return check_output(path, FIGURE_FORMATS, field_name, replace)


def _render(path, key: str, content: QWidget, options: FigureOptions | None, title: str, snap=None,
            replace: bool = False, interrupted=None) -> Path:
    frame = None
    if snap is not None:  # the header's caption names its step and loss
        from model.analysis.frame import Frame
        from resources.palette import feature_colors

        frame = Frame(snapshot=snap, colors=feature_colors(snap.n))
    with ExperimentFigureRenderer(key, content, options, title) as r:
        return r.save(path, frame, replace=replace, interrupted=interrupted)


def sweep_content_for(sweep: Sweep, entry: int = 0) -> SweepContent:
    """The atlas's content drawing configuration ``entry`` of ``sweep``, laid out for a figure: the table
    whole (a row per verdict, outcome and finding) over the gallery (all models, by verdict)."""
    from PyQt6.QtWidgets import QSplitter

    from widgets.sweep_view import SweepContent

    c = SweepContent()
    c.set_sweep(sweep, int(entry))
    # the table whole (a row per verdict and per finding) over the gallery, which scrolls on screen
    t = c.table
    hh, vh = t.horizontalHeader(), t.verticalHeader()
    assert hh is not None and vh is not None  # a QTableWidget has both
    need = hh.sizeHint().height() + t.rowCount() * vh.defaultSectionSize() + 4
    t.setMinimumHeight(need)
    t.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    for sp in c.findChildren(QSplitter):
        if sp.orientation() == Qt.Orientation.Vertical:
            sp.setSizes([need + 250, 300])
    return c


def datasize_content_for(result: DataSizeSweep, model: int = 0) -> DataSizeContent:
    """The dataset-size view's content drawing ``result`` (model ``model`` of each size)."""
    from widgets.datasize_view import DataSizeContent

    c = DataSizeContent()
    c.set_result(result, model)
    return c


def probe_content_for(result: ProbeResult) -> ProbeContent:
    """The probe view's content drawing ``result`` (the marker at t = 0)."""
    from widgets.probe_view import ProbeContent

    c = ProbeContent()
    c.set_result(result)
    return c


def write_sweep_figure(path: str | os.PathLike[str], sweep: Sweep, options: FigureOptions | None = None,
                       entry: int = 0, replace: bool = False,
                       interrupted: Callable[[], bool] | None = None) -> Path:
    """The sweep atlas (verdict table and rates with intervals, loss histogram, gallery) of one
    configuration to PNG, SVG or PDF."""
    name = Path(str(getattr(sweep, "path", "") or "")).name
    title = f"{EXPERIMENT_VIEWS['sweep']}" + (f" · {name}" if name else "")
    if not 0 <= int(entry) < len(sweep.entries):
        raise ExportError("--config", f"must be from 1 to {len(sweep.entries)} (the sweep's configurations), "
                                      f"got {int(entry) + 1}")
    if len(sweep.entries) > 1:
        title += f" · configuration {int(entry) + 1} of {len(sweep.entries)}: {sweep.entries[int(entry)].label}"
    return _render(path, "sweep", sweep_content_for(sweep, entry), options, title, replace=replace,
                   interrupted=interrupted)


def write_datasize_figure(path: str | os.PathLike[str], result: DataSizeSweep,
                          options: FigureOptions | None = None, model: int = 0, replace: bool = False,
                          interrupted: Callable[[], bool] | None = None) -> Path:
    """The dataset-size view (losses and dimensionalities against T, the hidden embeddings per T)."""
    name = Path(str(getattr(result, "path", "") or "")).name
    title = f"{EXPERIMENT_VIEWS['datasize']}" + (f" · {name}" if name else "")
    return _render(path, "datasize", datasize_content_for(result, model), options, title, replace=replace,
                   interrupted=interrupted)


def write_probe_figure(path: str | os.PathLike[str], result: ProbeResult, snap: Snapshot,
                       config: TrainConfig | None = None, model: int = 0, options: FigureOptions | None = None,
                       replace: bool = False, interrupted: Callable[[], bool] | None = None) -> Path:
    """The probe view (loss along the path, slope and curvature at 0, the closed form for the
    angle path, the readout) of the probe of ``snap``; the header names the run and the step."""
    title = EXPERIMENT_VIEWS["probe"] + (f" · {run_title(config, model)}" if config is not None else "")
    return _render(path, "probe", probe_content_for(result), options, title, snap=snap, replace=replace,
                   interrupted=interrupted)


__all__ = [
    "DEFAULT_SIZE",
    "EXPERIMENT_VIEWS",
    "INSET",
    "ExperimentFigureRenderer",
    "ExperimentPanel",
    "ExportError",
    "check_figure_path",
    "datasize_content_for",
    "paint_widget_tree",
    "probe_content_for",
    "sweep_content_for",
    "write_datasize_figure",
    "write_probe_figure",
    "write_sweep_figure",
]
