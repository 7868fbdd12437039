"""Exports draw a view's content, not its widget: a view split into content and chrome
(views.registry.content_class) is exported without building its widget, its toolbar, its status
line or any control; the window's view embeds that same content. The 3D view's content builds one
widget, its GL view (a QOpenGLWidget: GL needs a widget with a context to render into), hidden: that
is the whole of what its export builds. So are the Experiments window's views
(app.export.experiment_figures): their figures build the plots, tables, readouts and gallery, none of
the pickers, tabs, buttons or sliders."""
import pytest

pytest.importorskip("PyQt6")
from PyQt6 import sip
from PyQt6.QtCore import QEvent
from PyQt6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QGraphicsView,
    QLabel,
    QLineEdit,
    QSlider,
    QTabBar,
    QWidget,
)

from app.export.figure import ContentPanel, FigureOptions, FigureRenderer, PlaneContentPanel, WidgetContentPanel
from views import registry
from widgets.datasize_view import DataSizeView
from widgets.live_text import LiveText
from widgets.probe_view import ProbeView
from widgets.sweep_view import SweepView
from widgets.verdict_panel import VerdictContent, VerdictPanel
from widgets.views2d import PlotContent, PlotPanel

#: The plot views split so far; a view taken back to drawing in its widget fails here.
SPLIT = {"bias", "gram", "history", "loss", "wheel", "zones"}
#: The GL views split so far.
SPLIT_GL = {"plane3d"}
#: The views whose content is a widget tree (a table, labels): drawn by their own paint.
WIDGET_SPLIT = {"verdict"}
#: Widgets that are chrome: controls, labels, the note, a whole view widget.
CHROME = (QAbstractButton, QComboBox, QLabel, LiveText, PlotPanel)
#: Controls: what a hand works (a content of tables and labels has none).
CONTROLS = (QAbstractButton, QComboBox, QAbstractSpinBox, QSlider, QTabBar, QLineEdit)
#: The views' widgets, the chrome around a content.
VIEW_WIDGETS = (PlotPanel, VerdictPanel, SweepView, DataSizeView, ProbeView)


@pytest.fixture
def gl(qapp):
    if qapp.platformName() in ("offscreen", "minimal"):
        pytest.skip("GL needs a real X server (run under xvfb-run); offscreen cannot host QOpenGLWidget")


def split_views() -> set[str]:
    return {v.key for v in registry.VIEWS if not v.gl}


def in_graphics_view(w) -> bool:
    """``w`` is a QGraphicsView or one of its parts (its viewport, its scroll bars)."""
    while w is not None:
        if isinstance(w, QGraphicsView):
            return True
        w = w.parentWidget()
    return False


def address(w) -> int:
    """The C++ object's address: a widget's identity (Python wrappers of the same widget come and go)."""
    return sip.unwrapinstance(w)


def top(w):
    while w.parentWidget() is not None:
        w = w.parentWidget()
    return w


def plot_items(r) -> int:
    import pyqtgraph as pg

    return sum(isinstance(it, pg.PlotItem) for pn in r.panels for gv in pn.graphics_views()
               for it in gv.scene().items())


def plot_option_roots(r) -> set[int]:
    """pyqtgraph's own plot-options menu of every pg.PlotItem drawn (built by PlotItem.__init__ for its
    context menu, which the views turn off; never shown): its menu and form, as top-level widgets."""
    return option_roots([gv for pn in r.panels for gv in pn.graphics_views()])


def option_roots(gvs) -> set[int]:
    """The top-level widgets of pyqtgraph's plot-options menus of the pg.PlotItems in these views."""
    import pyqtgraph as pg

    roots = set()
    for gv in gvs:
        for it in gv.scene().items():
            if isinstance(it, pg.PlotItem):
                c = it.ctrl
                groups = (c.transformGroup, c.decimateGroup, c.averageGroup, c.alphaGroup, c.gridGroup,
                          c.pointsGroup)
                roots |= {address(top(g)) for g in groups} | {address(top(it.ctrlMenu))}
    return roots


def empty_top(w) -> bool:
    """A plain top-level QWidget holding nothing: e.g. the form pyqtgraph's PlotItem builds its options
    in (plotConfigTemplate's ``Ui_Form.setupUi``), left empty when its groups move into the menu."""
    return type(w) is QWidget and w.parentWidget() is None and not w.children()


def widgets_of_export(panels, ctx):
    """(the kinds of panel, [(widget class name, is chrome, in a graphics view)] of the widgets alive
    while a figure of ``panels`` is painted that were not alive before, leaving out pyqtgraph's own
    plot-options menus)."""
    before = set(map(address, QApplication.allWidgets()))
    with FigureRenderer(panels, FigureOptions(width=500, height=360)) as r:
        r.image(ctx)
        kinds = [type(p) for p in r.panels]
        pg_menus = plot_option_roots(r)
        fresh = [w for w in QApplication.allWidgets() if address(w) not in before and address(top(w)) not in pg_menus]
        forms = [w for w in fresh if empty_top(w)]
        # pyqtgraph's own: an options form per pg.PlotItem, and one more a pg.GraphicsLayoutWidget makes
        assert len(forms) <= plot_items(r) + sum(len(pn.graphics_views()) for pn in r.panels)
        new = [(type(w).__name__, isinstance(w, CHROME), in_graphics_view(w), isinstance(w, QGraphicsView))
               for w in fresh if not empty_top(w)]
    return kinds, new


def frame_part(w) -> bool:
    """``w`` is part of a scroll area's own frame (its scroll bars, a table's corner button), not of what
    the area shows (the widgets in its viewport)."""
    child = w
    parent = w.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            vp = parent.viewport()
            return not (child is vp or (vp is not None and vp.isAncestorOf(child)))
        child, parent = parent, parent.parentWidget()
    return False


def chrome_of(widgets) -> list[str]:
    """The chrome among ``widgets``: a view widget, or a control that is not a scroll area's own part."""
    return [type(w).__name__ for w in widgets
            if isinstance(w, VIEW_WIDGETS) or (isinstance(w, CONTROLS) and not frame_part(w))]


def fresh_widgets(make):
    """(what ``make()`` returns, the widgets alive afterwards that were not before it ran)."""
    before = set(map(address, QApplication.allWidgets()))
    out = make()
    return out, [w for w in QApplication.allWidgets() if address(w) not in before]


def test_the_split_views_are_the_registrys():
    assert split_views() >= SPLIT | WIDGET_SPLIT, f"not split: {(SPLIT | WIDGET_SPLIT) - split_views()}"
    for key in split_views():
        cls = registry.content_class(key)
        assert issubclass(cls, QWidget if key in WIDGET_SPLIT else PlotContent), key


@pytest.mark.parametrize("key", sorted(SPLIT))
@pytest.mark.slow
def test_an_export_of_a_split_view_builds_no_chrome(session7, key):
    ctx = session7.frame_at(None)
    kinds, new = widgets_of_export((key,), ctx)
    assert kinds == [ContentPanel]
    chrome = [name for name, is_chrome, _, _ in new if is_chrome]
    assert not chrome, f"{key}: the export built {chrome}"
    outside = [name for name, _, inside, _ in new if not inside]
    assert not outside, f"{key}: the export built widgets outside the content's view: {outside}"
    assert sum(gv for *_, gv in new) == 1  # the content's one view onto its scene


def test_an_export_of_the_verdict_table_builds_its_content_alone(session7):
    """The verdict table's export builds a VerdictContent (title, findings, the feature table): no
    VerdictPanel, no control, and every widget it built lies in that content."""
    ctx = session7.frame_at(None)
    before = set(map(address, QApplication.allWidgets()))
    with FigureRenderer(("verdict",), FigureOptions(width=500, height=360)) as r:
        r.image(ctx)
        assert [type(p) for p in r.panels] == [WidgetContentPanel]
        content = r.panels[0].view
        assert type(content) is VerdictContent and content.verdict == ctx.analysis.verdict
        fresh = [w for w in QApplication.allWidgets() if address(w) not in before]
        assert content.table.model().rowCount() == 7 and content.table in fresh
        assert not chrome_of(fresh), f"the export built {chrome_of(fresh)}"
        outside = [type(w).__name__ for w in fresh if address(top(w)) != address(content)]
        assert not outside, f"widgets outside the content: {outside}"
        # the table reports no click and selects nothing: that is the panel's
        assert content.table.receivers(content.table.clicked) == 0
        assert content.table.selectionMode() == content.table.SelectionMode.NoSelection
        counts = len(fresh)
    assert counts > 5  # the content's own widgets were counted (title, findings, table, legend, ...)


@pytest.mark.parametrize("key", ["zones", "verdict"])
def test_the_check_sees_the_chrome_of_a_whole_view(qtbot, key):
    """The control case: the same count over the window's view widget finds its chrome (the plot view's
    reset button, the verdict panel itself), so a clean count above is not a blind one."""
    view, fresh = fresh_widgets(registry.view_class(key))
    qtbot.addWidget(view)
    found = chrome_of(fresh)
    assert type(view).__name__ in found
    if key == "zones":
        assert "QToolButton" in found  # the toolbar's reset button
        assert any(isinstance(w, (QLabel, LiveText)) and not in_graphics_view(w) for w in fresh)  # note, status
    else:
        assert view.table.receivers(view.table.clicked) == 1  # the panel's click


# -------------------------------------------------------------- the Experiments window's views
@pytest.fixture(scope="module")
def experiment_files(tmp_path_factory):
    from tests.app.experiment_data import hand_datasize, hand_sweep

    d = tmp_path_factory.mktemp("content")
    return hand_sweep(d / "sweep.h5"), hand_datasize(d / "smdd.h5")


def _widgets_of_experiment_figure(monkeypatch, write):
    """(the content painted, the widgets alive while the figure is painted that were not before ``write``
    ran): the real write_*_figure path, watched from inside its paint."""
    seen = {}
    paint = FigureRenderer.paint

    def watching(self, p, frame, raster=True):
        paint(self, p, frame, raster)
        seen["content"] = self.panels[0].view
        menus = option_roots(self.panels[0].graphics_views())  # pyqtgraph's own, as above
        seen["alive"] = [w for w in QApplication.allWidgets() if address(top(w)) not in menus]

    monkeypatch.setattr(FigureRenderer, "paint", watching)
    before = set(map(address, QApplication.allWidgets()))
    write()
    return seen["content"], [w for w in seen["alive"] if address(w) not in before]


@pytest.mark.parametrize("key", ["sweep", "datasize", "probe"])
def test_an_experiment_figure_builds_its_content_and_no_control(qapp, monkeypatch, tmp_path, experiment_files, key):
    from app.export import experiment_figures as ef
    from model.experiments.datasize import open_datasize
    from model.experiments.sweep import open_sweep
    from tests.app.experiment_data import seed_probe
    from widgets.datasize_view import DataSizeContent
    from widgets.probe_view import ProbeContent
    from widgets.sweep_view import SweepContent

    out = tmp_path / f"{key}.png"
    if key == "sweep":
        write, kind = (lambda: ef.write_sweep_figure(out, open_sweep(experiment_files[0]))), SweepContent
    elif key == "datasize":
        write, kind = (lambda: ef.write_datasize_figure(out, open_datasize(experiment_files[1]))), DataSizeContent
    else:
        res, snap, cfg = seed_probe()
        write, kind = (lambda: ef.write_probe_figure(out, res, snap, cfg)), ProbeContent
    content, fresh = _widgets_of_experiment_figure(monkeypatch, write)
    assert out.exists() and type(content) is kind
    assert address(content) in set(map(address, fresh))
    assert not chrome_of(fresh), f"{key}: the figure built {chrome_of(fresh)}"
    outside = [type(w).__name__ for w in fresh if address(top(w)) != address(content) and not empty_top(w)]
    assert not outside, f"{key}: widgets outside the content: {outside}"
    assert any(isinstance(w, QGraphicsView) for w in fresh)  # its plots were built (and counted)


@pytest.mark.parametrize("cls", [SweepView, DataSizeView, ProbeView])
def test_the_check_sees_the_controls_of_an_experiment_view(qtbot, cls):
    """The control case of the Experiments views: the window's view is chrome, and the sweep's and the
    probe's carry controls (pickers, tabs; buttons, slider, spin boxes)."""
    view, fresh = fresh_widgets(cls)
    qtbot.addWidget(view)
    found = chrome_of(fresh)
    assert cls.__name__ in found
    if cls is SweepView:
        assert {"QComboBox", "QTabBar"} <= set(found)
    elif cls is ProbeView:
        assert {"QPushButton", "QSlider", "QSpinBox", "QComboBox"} <= set(found)
    assert type(view.content) is cls.CONTENT and view.content.parentWidget() is view
    # pyqtgraph's right-click menus are the window's: its view turns them on, a content alone has none
    items = [view.plot.getPlotItem()] if cls is ProbeView else view.content.plot_items()
    assert items and all(pi.getViewBox().menu is not None for pi in items)
    alone = cls.CONTENT()
    items = [alone.plot.getPlotItem()] if cls is ProbeView else alone.plot_items()
    assert all(pi.getViewBox().menu is None for pi in items)


@pytest.mark.parametrize("key", sorted(SPLIT))
def test_the_window_view_embeds_the_same_content(qtbot, session7, key):
    view = registry.view_class(key)()
    qtbot.addWidget(view)
    content = view.content
    assert type(content) is registry.content_class(key)
    assert view.plot is content.plot and content.plot.parentWidget() is view
    view.set_frame(session7.frame_at(None))
    assert content.frame is not None and view.frame is content.frame
    assert view.note.text() == content.note and content.note  # the toolbar shows the content's note


def test_the_3d_views_content_is_the_registrys():
    from render3d.plane_content import PlaneContent

    gl_views = {v.key for v in registry.VIEWS if v.gl}
    assert gl_views == SPLIT_GL
    for key in gl_views:
        assert issubclass(registry.content_class(key), PlaneContent), key


@pytest.mark.parametrize("panels", [("plane3d",), ("plane3d", "zones")])
@pytest.mark.slow
def test_an_export_of_the_3d_view_builds_only_its_gl_view(gl, session7, panels):
    """No PlaneView, toolbar rows, enlarge boxes, status line or raster host: the one widget the 3D panel
    builds is its content's GL view, never shown on screen (the widget path built 40 widgets here)."""
    from PyQt6.QtCore import Qt

    from render3d.gl_items import GLView
    from render3d.plane_view import PlaneView

    ctx = session7.frame_at(None)
    before = set(map(address, QApplication.allWidgets()))
    with FigureRenderer(panels, FigureOptions(width=700, height=360)) as r:
        a = r.image(ctx)
        pn = r.panels[0]
        assert type(pn) is PlaneContentPanel and pn.graphics_views() == []
        pg_menus = plot_option_roots(r)  # the zones panel's pyqtgraph plot-options menus (as above)
        fresh = [w for w in QApplication.allWidgets() if address(w) not in before and address(top(w)) not in pg_menus]
        gls = [w for w in fresh if isinstance(w, GLView)]
        assert [address(w) for w in gls] == [address(pn.view.gl)]  # the content's own, and no other
        g = gls[0]
        assert g.isValid() and g.testAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen) and g.parentWidget() is None
        assert not any(isinstance(w, (PlaneView, *CHROME)) for w in fresh)
        assert (g.width(), g.height()) == (int(r.panel_rects[0].width()), int(r.panel_rects[0].height()))
        rest = [w for w in fresh if w is not g and not in_graphics_view(w) and not empty_top(w)]
        assert not rest, [type(w).__name__ for w in rest]  # beside it, only the 2D panels' own views
        gl_address = address(g)
    assert (a.width(), a.height()) == (700, 360)
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # closing the figure deletes its GL view
    assert gl_address not in set(map(address, QApplication.allWidgets()))


def test_the_3d_window_view_embeds_the_same_content(gl, qtbot, session7):
    from render3d.plane_view import PlaneView

    view = PlaneView()
    qtbot.addWidget(view)
    content = view.content
    assert type(content) is registry.content_class("plane3d")
    assert view.gl is content.gl and view.items is content.items
    seen = []
    view.settingsChanged.connect(seen.append)
    view.set_frame(session7.frame_at(None))
    assert view.frame is content.frame is not None and view.scene is content.scene is not None
    assert view.status.text() == content.describe() and content.describe()  # the status line is the content's
    view.set_triple((0, 2, 4))  # a request through the widget changes the content and says so once
    assert content.triple == (0, 2, 4) and seen == [content.settings]
    assert [s.value() for s in view.spins] == [1, 3, 5]
    content.set_triple((1, 2, 3))  # a change made on the content shows in the widget's controls too
    assert [s.value() for s in view.spins] == [2, 3, 4] and "features 2, 3, 4" in view.status.text()


@pytest.mark.slow
def test_the_3d_export_of_the_windows_camera_is_the_windows_picture(gl, qtbot, session7):
    """A shown PlaneView (its GL view behind the raster host) and the export built from its content class alone,
    given the view's settings, triple and camera, draw the same pixels, for several cameras and toggles."""
    import numpy as np
    from PyQt6.QtWidgets import QMainWindow

    from app.export.figure import qimage_rgb
    from render3d.plane_view import PlaneView
    from views.settings import CameraSettings

    win = QMainWindow()
    view = PlaneView()
    win.setCentralWidget(view)
    qtbot.addWidget(win)
    win.resize(640, 520)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: view.host is not None and view.gl.isValid(), timeout=3000)
    ctx = session7.frame_at(None)
    for preset, changes in (("iso", {}), ("normal", {"after_relu": True}), ("axis-i", {"enlarge": (1.0, 1.0, 4.0)})):
        view.set_frame(ctx)
        view.set_triple((0, 2, 4))
        view.set_settings(view.settings.with_(**changes))
        view.set_camera(preset)
        mine = qimage_rgb(view.render_image(360, 300))
        cam = CameraSettings(preset=preset, **view.camera_params())
        o = FigureOptions(width=360, height=300, title=None, caption=False, legend=False,
                          views={"plane3d": view.settings}, axes=view.triple, camera=cam)
        with FigureRenderer(("plane3d",), o) as r:
            got = qimage_rgb(r.image(ctx))
            assert type(r.panels[0]) is PlaneContentPanel
        assert np.array_equal(got, mine), (preset, int((got != mine).any(axis=2).sum()))
        assert (np.abs(mine.astype(int) - 255).sum(axis=2) > 60).sum() > 2000  # a picture, not a blank
