"""The view registry: one ``ViewSpec`` per view, the one list every part reads.

The window's docks and View menu, the export dialog's list, ``main.py export / animate
--view`` and ``--set``, the settings file (``save_views`` / ``load_views``), ``main.py
figures`` and the Python API's ``Run.figure(view=...)`` all take the views from ``VIEWS``.
Adding a view is its widget module (a class with the ``View`` protocol below; a 2D view
subclasses widgets.views2d.PlotPanel, which has it), one ``ViewSpec`` line below (and its settings dataclass in views.settings, if it has
options) and its tests.

Qt-free: the widget is named as "module:Class" and imported only by the code that draws
(``view_class``), so the command line builds its parser from this module without Qt.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

from .settings import CameraSettings, GramSettings, HistorySettings, PlaneSettings, WheelSettings, ZoneSettings

if TYPE_CHECKING:
    from model.analysis.frame import Frame


class View(Protocol):
    """What the window, the export dialog and the exporter ask of a view's widget (the class a
    ``ViewSpec.widget`` names): ``set_frame(frame)`` draws a model.analysis.frame.Frame (None: clear), the only
    thing a view receives; ``featureClicked`` (a Qt signal of the feature's 0-based index) reports
    a click on a feature. A view with options (``ViewSpec.settings``) also has ``settings`` (the value of
    that class), ``set_settings(value)`` and a ``settingsChanged`` signal; a view may have
    ``stepRequested`` (a signal of a step): the window's timeline then scrubs to it.

    A view has ``CONTENT``: the class of what it draws, without its chrome (no toolbar, no status line, no
    controls). The widget embeds an instance (``view.content``); the exporter builds one alone
    (``content_class``), hands it the settings and the frame and renders it, so an export builds none of
    the widget. A content has the widget's ``settings`` / ``set_settings`` and ``set_frame``, and either
    ``plot``: the pyqtgraph view onto the scene it draws into (a 2D view: widgets.views2d.PlotContent);
    or, for a GL view (``ViewSpec.gl``), ``gl`` (its GL view), ``render_image(w, h)`` and the camera
    (render3d.plane_content.PlaneContent); or it is itself a QWidget painted whole (the verdict table's
    widgets.verdict_panel.VerdictContent: its texts and table)."""

    featureClicked: Any

    def set_frame(self, frame: Frame | None) -> None: ...


#: What a view may need from a frame besides the snapshot, its colours and the selection (model.analysis.frame.Frame):
#: the snapshot's analysis, the run's recorded history, the shown model's dataset, the loss curves of all
#: models, the story of the run (the diagnosis' events, model.analysis.story) and the outcome in force at the step.
FRAME_NEEDS = frozenset({"analysis", "history", "dataset", "losses", "story", "outcome"})


def _gram_title(st: Any) -> str:
    """WᵀW without b says so."""
    if st is not None and not st.bias:
        return "ReLU(WᵀW)" if st.relu else "WᵀW"
    return "WᵀW + b"


@dataclass(frozen=True)
class ViewSpec:
    """One view, described without Qt.

    ``key``: its name everywhere (``--view``, ``--set KEY.x``, the settings file, the dock's object
    name); ``aliases``: other names the command line accepts; ``title``: the dock's and the export's
    name; ``widget``: "module:Class" of the view (the View protocol); ``settings``: its frozen settings
    dataclass (None: no options); ``needs``: what it reads of a frame (FRAME_NEEDS); ``feature_coloured``:
    its picture colours features (the export's legend is on by default); ``export_size`` / ``animate_size``:
    default pixel sizes of a figure of it alone; ``gl``: drawn with OpenGL (needs an X display; exports a
    picture, PNG when alone); ``hidden_settings``: fields ``--set`` does not offer (set another way);
    ``title_of``: the title for given settings (None: ``title``)."""

    key: str
    title: str
    widget: str
    settings: type | None = None
    aliases: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()
    feature_coloured: bool = False
    export_size: tuple[int, int] = (1200, 800)
    animate_size: tuple[int, int] = (1280, 720)
    gl: bool = False
    hidden_settings: tuple[str, ...] = ()
    title_of: Callable[[Any], str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        bad = set(self.needs) - FRAME_NEEDS
        if bad:
            raise ValueError(f"view {self.key}: needs {sorted(bad)} are not of {sorted(FRAME_NEEDS)}")
        if ":" not in self.widget:
            raise ValueError(f"view {self.key}: widget must be 'module:Class', got {self.widget!r}")

    def titled(self, settings: Any = None) -> str:
        """The title shown above the view in a composed figure, for these settings."""
        return self.title_of(settings) if self.title_of is not None else self.title


#: Every view, in the order of the window's View menu and the export dialog's list.
VIEWS: tuple[ViewSpec, ...] = (
    ViewSpec("zones", "Latent zones", "widgets.zone_map:ZoneMapView", ZoneSettings,
             needs=frozenset({"analysis"}), feature_coloured=True),
    ViewSpec("wheel", "Feature wheel", "widgets.feature_wheel:FeatureWheelView", WheelSettings,
             needs=frozenset({"analysis", "dataset"}), feature_coloured=True),
    ViewSpec("gram", "WᵀW + b", "widgets.gram_view:GramView", GramSettings, title_of=_gram_title),
    ViewSpec("bias", "Bias and norm", "widgets.bias_view:BiasNormView", feature_coloured=True),
    ViewSpec("loss", "Loss", "widgets.loss_view:LossView", needs=frozenset({"losses"})),
    ViewSpec("verdict", "Verdict", "widgets.verdict_panel:VerdictPanel", needs=frozenset({"analysis", "outcome"})),
    ViewSpec("plane3d", "3D latent plane", "render3d.plane_view:PlaneView", PlaneSettings, aliases=("plane",),
             needs=frozenset({"analysis"}), feature_coloured=True, gl=True,
             hidden_settings=("triple", "auto_enlarge")),
    ViewSpec("history", "Feature history", "widgets.feature_history:FeatureHistoryView", HistorySettings,
             needs=frozenset({"history", "story"}), feature_coloured=True),
)

#: key -> spec
BY_KEY: dict[str, ViewSpec] = {v.key: v for v in VIEWS}
#: every name the command line accepts -> the view's key
NAMES: dict[str, str] = {**{v.key: v.key for v in VIEWS}, **{a: v.key for v in VIEWS for a in v.aliases}}
#: The composed figures offered by name: name -> (panels, title).
FIGURES: dict[str, tuple[tuple[str, ...], str]] = {
    "wheel+zones": (("wheel", "zones"), "Figure: feature wheel + latent zones"),
    "plane3d+zones": (("plane3d", "zones"), "Figure: 3D latent plane + latent zones"),
}
#: The figure drawn when none is named.
DEFAULT_FIGURE = "wheel+zones"
#: At most this many views side by side in one figure.
PANELS_MAX = 4


def view_keys() -> tuple[str, ...]:
    """Every view's key, in the registry's order."""
    return tuple(BY_KEY)


def spec(name: str) -> ViewSpec:
    """The view named ``name`` (its key or an alias); KeyError naming the views otherwise."""
    try:
        return BY_KEY[NAMES[name]]
    except KeyError:
        raise KeyError(f"{name!r} is not a view; the views: {', '.join(BY_KEY)}") from None


def canonical(name: str) -> str:
    """The key of the view named ``name`` (an alias: its view's key); ``name`` itself when it is none."""
    return NAMES.get(name, name)


def with_settings() -> tuple[str, ...]:
    """The keys of the views that have options (a settings dataclass)."""
    return tuple(v.key for v in VIEWS if v.settings is not None)


def settings_class(key: str) -> type:
    """The settings dataclass of view ``key`` (KeyError for a view without options)."""
    cls = BY_KEY[canonical(key)].settings if canonical(key) in BY_KEY else None
    if cls is None:
        raise KeyError(key)
    return cls


def needs_gl(panels: Sequence[str]) -> bool:
    """Whether drawing these views needs OpenGL (an X display)."""
    return any(BY_KEY[canonical(k)].gl for k in panels if canonical(k) in BY_KEY)


def feature_coloured(panels: Sequence[str]) -> bool:
    """Whether any of these views colours features (the legend's default)."""
    return any(BY_KEY[canonical(k)].feature_coloured for k in panels if canonical(k) in BY_KEY)


def needs(panels: Sequence[str]) -> frozenset[str]:
    """What these views read of a frame, together."""
    out: frozenset[str] = frozenset()
    for k in panels:
        if canonical(k) in BY_KEY:
            out |= BY_KEY[canonical(k)].needs
    return out


def view_class(key: str) -> type:
    """The view's class (imports its module: Qt, and OpenGL for a GL view)."""
    mod, _, cls = BY_KEY[canonical(key)].widget.partition(":")
    found: type = getattr(importlib.import_module(mod), cls)
    return found


def content_class(key: str) -> type:
    """The class of view ``key``'s drawable content (its widget class's ``CONTENT``: the plots, the 3D
    scene and its camera, or the verdict table's texts and table, without toolbar or controls), which an
    export builds alone. Every view has one: a view class without ``CONTENT`` is a TypeError."""
    found = getattr(view_class(key), "CONTENT", None)
    if not isinstance(found, type):
        raise TypeError(f"view {key}'s widget class names no CONTENT (its drawable content)")
    return found


def settings_fields(key: str) -> tuple[str, ...]:
    """The settings fields ``--set`` offers for view ``key`` (its hidden ones left out)."""
    s = BY_KEY[canonical(key)]
    if s.settings is None:
        return ()
    return tuple(f.name for f in fields(s.settings) if f.name not in s.hidden_settings)


__all__ = [
    "BY_KEY",
    "DEFAULT_FIGURE",
    "FIGURES",
    "FRAME_NEEDS",
    "NAMES",
    "PANELS_MAX",
    "VIEWS",
    "CameraSettings",
    "View",
    "ViewSpec",
    "canonical",
    "content_class",
    "feature_coloured",
    "needs",
    "needs_gl",
    "settings_class",
    "settings_fields",
    "spec",
    "view_class",
    "view_keys",
    "with_settings",
]
