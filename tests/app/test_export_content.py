"""Exports draw a view's content, not its widget: a view split into content and chrome
(views.registry.content_class) is exported without building its widget, its toolbar, its status
line or any control; the window's view embeds that same content."""
import pytest

pytest.importorskip("PyQt6")
from PyQt6 import sip
from PyQt6.QtWidgets import QAbstractButton, QApplication, QComboBox, QGraphicsView, QLabel, QWidget

from app.export.figure import ContentPanel, FigureOptions, FigureRenderer
from views import registry
from widgets.live_text import LiveText
from widgets.views2d import PlotContent, PlotPanel

#: The views split so far; a view taken back to drawing in its widget fails here.
SPLIT = {"bias", "gram", "history", "loss", "wheel", "zones"}
#: Widgets that are chrome: controls, labels, the note, a whole view widget.
CHROME = (QAbstractButton, QComboBox, QLabel, LiveText, PlotPanel)


def split_views() -> set[str]:
    return {v.key for v in registry.VIEWS if not v.gl and registry.content_class(v.key) is not None}


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
    import pyqtgraph as pg

    roots = set()
    for pn in r.panels:
        for gv in pn.graphics_views():
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


def test_the_split_views_are_the_registrys():
    assert split_views() >= SPLIT, f"not split: {SPLIT - split_views()}"
    for key in split_views():
        assert issubclass(registry.content_class(key), PlotContent), key


@pytest.mark.parametrize("key", sorted(SPLIT))
def test_an_export_of_a_split_view_builds_no_chrome(session7, key):
    ctx = session7.frame_at(None)
    kinds, new = widgets_of_export((key,), ctx)
    assert kinds == [ContentPanel]
    chrome = [name for name, is_chrome, _, _ in new if is_chrome]
    assert not chrome, f"{key}: the export built {chrome}"
    outside = [name for name, _, inside, _ in new if not inside]
    assert not outside, f"{key}: the export built widgets outside the content's view: {outside}"
    assert sum(gv for *_, gv in new) == 1  # the content's one view onto its scene


def test_the_check_sees_the_chrome_of_a_view_drawn_by_its_widget(session7):
    """The verdict table is not split: its export builds its widget, and the check above says so."""
    assert registry.content_class("verdict") is None
    kinds, new = widgets_of_export(("verdict",), session7.frame_at(None))
    assert ContentPanel not in kinds
    assert any(is_chrome for _, is_chrome, _, _ in new)
    assert any(not inside for _, _, inside, _ in new)


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
