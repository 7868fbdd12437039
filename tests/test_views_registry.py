"""The view registry (views/registry.py) is the one list of views: every part that offers or draws
views reads it, and every view it names has the View protocol."""
from dataclasses import fields, is_dataclass

import pytest

from views import registry
from views.registry import FRAME_NEEDS, ViewSpec


def test_every_spec_is_well_formed_and_names_unique():
    keys = [v.key for v in registry.VIEWS]
    names = keys + [a for v in registry.VIEWS for a in v.aliases]
    assert len(set(names)) == len(names)  # a name (key or alias) means one view
    for v in registry.VIEWS:
        assert v.needs <= FRAME_NEEDS and v.title
        assert registry.spec(v.key) is v and all(registry.spec(a) is v for a in v.aliases)
        if v.settings is not None:
            assert is_dataclass(v.settings) and v.settings.__dataclass_params__.frozen
            assert set(registry.settings_fields(v.key)) == {f.name for f in fields(v.settings)} - set(v.hidden_settings)
    for panels, title in registry.FIGURES.values():
        assert title and all(p in registry.BY_KEY for p in panels) and len(panels) <= registry.PANELS_MAX
    with pytest.raises(KeyError, match="is not a view; the views: zones"):
        registry.spec("nope")


def test_a_bad_spec_is_refused():
    with pytest.raises(ValueError, match="needs"):
        ViewSpec("x", "X", "widgets.x:X", needs=frozenset({"gradients"}))
    with pytest.raises(ValueError, match="module:Class"):
        ViewSpec("x", "X", "widgets.x.X")


def test_every_view_class_has_the_view_protocol():
    """Each spec's widget imports, receives frames, reports clicks, and owns the settings class the
    registry names (a settings value of another class is refused)."""
    for v in registry.VIEWS:
        cls = registry.view_class(v.key)
        assert callable(getattr(cls, "set_frame", None)), v.key
        assert hasattr(cls, "featureClicked"), v.key
        if v.settings is not None:
            assert hasattr(cls, "settings") and callable(getattr(cls, "set_settings", None)), v.key
            assert hasattr(cls, "settingsChanged"), v.key
            own = getattr(cls, "SETTINGS", None)
            assert own is None or own is v.settings, v.key  # the 2D views name it; the 3D view types it


def test_every_view_has_drawable_content_and_a_view_without_is_refused(monkeypatch):
    """Export builds each view's content alone (app.export.figure.make_panel): every registered view
    names its CONTENT, a class with set_frame; a widget class without one is a TypeError, not a
    silent fallback to exporting the widget."""
    for v in registry.VIEWS:
        content = registry.content_class(v.key)
        assert isinstance(content, type) and callable(getattr(content, "set_frame", None)), v.key

    class Bare:
        pass

    monkeypatch.setattr(registry, "view_class", lambda key: Bare)
    with pytest.raises(TypeError, match="CONTENT"):
        registry.content_class(registry.VIEWS[0].key)


def test_the_command_line_offers_the_registry():
    from app.cli import build_parser
    from app.cli.export import set_help

    p = build_parser()
    export = p._subparsers._group_actions[0].choices["export"]
    view = next(a for a in export._actions if a.dest == "view")
    assert tuple(view.choices) == (*registry.NAMES, "figure")
    text = set_help()
    for key in registry.with_settings():
        assert f"{key}: " in text
        assert all(f in text for f in registry.settings_fields(key))


def test_the_export_dialog_offers_the_registry(qapp):
    from app.export.figure import plane3d_class
    from app.gui.export_dialog import view_choices

    offered = view_choices()
    has_gl = plane3d_class() is not None
    singles = [(label, panels[0]) for label, panels in offered if len(panels) == 1]
    assert singles == [(v.title, v.key) for v in registry.VIEWS if has_gl or not v.gl]
    figures = [panels for _, panels in offered if len(panels) > 1]
    assert figures == [p for p, _ in registry.FIGURES.values() if has_gl or not registry.needs_gl(p)]
