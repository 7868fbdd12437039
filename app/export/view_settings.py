"""Every view's settings as one value: ``--set VIEW.KEY=VALUE`` parsed against the fields of
the views' frozen settings dataclasses (views.settings, named by views.registry), and their
JSON form (the settings file).

The window's views, the export dialog, ``main.py export / animate`` and the saved window
settings all read and write these values; nothing else holds a copy of a toggle.

A key's type comes from its field: bool (true/false, on/off, yes/no, 1/0), int, float,
a string with ``choices`` in the field's metadata, or a tuple of numbers written
comma-separated (``enlarge=1,1,5``). Two keys are spelled for people: a GL view's
``axes`` is the axis triple as 1-based feature numbers (the field ``triple`` is 0-based;
a spec's ``hidden_settings`` are not offered), and a ``show_`` toggle may be named without
it (``plane3d.slivers``). A view's aliases name it too (``plane`` is ``plane3d``).
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from views import registry
from views.settings import CameraSettings

#: A view's settings value: an instance of one of the registry's settings classes.
ViewSettings = Any

#: with_value returns a value of its argument's own settings class
_Settings = TypeVar("_Settings")

#: view key -> its settings dataclass, for every view with options (views.registry)
SETTINGS_CLASSES: dict[str, type] = {k: registry.settings_class(k) for k in registry.with_settings()}
#: keys of a GL view's namespace that set the camera (CameraSettings), not the view's settings
CAMERA_KEYS = {"camera": "preset", "elevation": "elevation", "azimuth": "azimuth", "distance": "distance"}
#: a GL view's key "axes": 1-based feature numbers (FigureOptions.axes, 0-based)
AXES_KEY = "axes"
TRUE = ("true", "on", "yes", "1")
FALSE = ("false", "off", "no", "0")


class SettingError(ValueError):
    """A bad ``--set`` (or stored) setting: ``field`` names it (``--set VIEW.KEY``), the message
    says what is allowed."""

    def __init__(self, field_name: str, problem: str):
        self.field = field_name
        self.problem = problem
        super().__init__(f"{field_name}: {problem}")


def settings_class(view: str) -> type:
    """The settings dataclass of view key ``view`` (KeyError for a view without options)."""
    return registry.settings_class(view)


def view_key(name: str) -> str:
    """The key of the view named ``name`` (an alias: its view's key)."""
    return registry.canonical(name)


# --------------------------------------------------------------------- values
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_union(t) -> bool:
    """``Optional[X]`` and ``X | None`` alike (typing.Union and types.UnionType are two origins)."""
    return typing.get_origin(t) in (typing.Union, types.UnionType)


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _describe(cls, name: str) -> str:
    """What a field allows, for people."""
    f = _fields(cls)[name]
    if "choices" in f.metadata:
        return "one of " + ", ".join(f.metadata["choices"])
    t = _hints(cls)[name]
    args = [a for a in typing.get_args(t) if a is not type(None)]
    base = args[0] if _is_union(t) and args else t
    if base is bool:
        return "true or false"
    if base is int:
        span = f.metadata.get("range")
        return f"a whole number from {span[0]} to {span[1]}" if span else "a whole number"
    if base is float:
        return "a finite number"
    if typing.get_origin(base) is tuple:
        k = len(typing.get_args(base))
        return f"{k} comma-separated numbers, e.g. " + ",".join(["1"] * k)
    return "a value"


def _number(text, whole: bool):
    if isinstance(text, bool):
        raise ValueError
    v = int(text) if whole and not isinstance(text, float) else float(text)
    if not math.isfinite(float(v)):
        raise ValueError
    return v


def coerce(cls: type, name: str, value: Any) -> Any:
    """``value`` (the text after '=' or a JSON value) as the type of field ``name`` of ``cls``;
    ValueError when it is not one."""
    t = _hints(cls)[name]
    f = _fields(cls)[name]
    args = [a for a in typing.get_args(t) if a is not type(None)]
    optional = _is_union(t) and type(None) in typing.get_args(t)
    base = args[0] if optional else t
    if optional and (value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "auto"))):
        return None
    if base is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
            return value.strip().lower() in TRUE
        raise ValueError
    if base in (int, float):
        return _number(value.strip() if isinstance(value, str) else value, base is int)
    if typing.get_origin(base) is tuple:
        parts = value.split(",") if isinstance(value, str) else list(value)
        kinds = typing.get_args(base)
        if len(parts) != len(kinds):
            raise ValueError
        return tuple(_number(p.strip() if isinstance(p, str) else p, k is int) for p, k in zip(parts, kinds, strict=True))
    if base is str:
        v = value.strip() if isinstance(value, str) else None
        if v is None or ("choices" in f.metadata and v not in f.metadata["choices"]):
            raise ValueError
        return v
    raise ValueError


def with_value(obj: _Settings, name: str, value: Any) -> _Settings:
    """``obj`` with field ``name`` set to ``value`` (coerced); the dataclass checks the whole value."""
    return dataclasses.replace(obj, **{name: coerce(type(obj), name, value)})


# ----------------------------------------------------------------------- --set
def _keys(view: str) -> dict[str, tuple[str, str]]:
    """key people type -> (target, field): target "view" (the view's dataclass), "camera", "axes"."""
    out = {}
    for name in registry.settings_fields(view):  # a GL view's triple is "axes" (1-based)
        out[name] = ("view", name)
        if name.startswith("show_"):
            out[name[5:]] = ("view", name)
    if registry.spec(view).gl:
        out[AXES_KEY] = ("axes", "")
        for key, name in CAMERA_KEYS.items():
            out[key] = ("camera", name)
    return out


def allowed_keys(view: str) -> list:
    return sorted(_keys(view))


def parse_set(spec: str, views: Sequence[str]) -> tuple[str, str, str, str, str]:
    """``VIEW.KEY=VALUE`` -> (view key, key, target, field, value text). ``views``: the views drawn
    (a setting of a view not drawn is refused, not ignored). SettingError names ``--set VIEW.KEY``."""
    text = str(spec)
    lhs, eq, value = text.partition("=")
    view, dot, key = lhs.strip().partition(".")
    shown = [v for v in views if v in SETTINGS_CLASSES]
    if not eq or not dot or not key:
        raise SettingError("--set", f"must be VIEW.KEY=VALUE (e.g. plane3d.axes=1,2,7), got {text!r}")
    name = f"--set {view}.{key}"
    v = view_key(view)
    if v not in SETTINGS_CLASSES:
        raise SettingError(name, f"{view!r} is not a view with settings; allowed: {', '.join(SETTINGS_CLASSES)}")
    if v not in views:
        raise SettingError(name, f"view {v} is not drawn (--view / --panels); the views drawn with settings: "
                                 f"{', '.join(shown) or 'none'}")
    keys = _keys(v)
    k = key.strip().replace("-", "_")
    if k not in keys:
        raise SettingError(name, f"unknown key {key!r} of {v}; allowed: {', '.join(sorted(keys))}")
    target, fname = keys[k]
    return v, k, target, fname, value


def _axes_value(value: str, n: int | None) -> tuple[int, int, int]:
    try:
        vals = [int(t) for t in value.split(",")]
    except ValueError:
        vals = []
    top = n if n is not None else max([3] + vals)
    if len(vals) != 3 or len(set(vals)) != 3 or not all(1 <= x <= top for x in vals):
        upto = f" from 1 to {n}" if n is not None else " from 1"
        raise ValueError(f"must be 3 different feature numbers{upto}, e.g. 1,2,{min(top, 3)}")
    return tuple(x - 1 for x in vals)  # type: ignore[return-value]


def apply_sets(specs: Sequence[str], views: Sequence[str], n: int | None, base: Mapping[str, Any] | None = None,
               camera: CameraSettings | None = None, axes: tuple[int, int, int] | None = None
               ) -> tuple[dict[str, ViewSettings], CameraSettings | None, tuple[int, int, int] | None]:
    """Apply ``--set`` specs in order: (views' settings {key: dataclass}, camera or None, axes 0-based
    or None). ``base``: the settings to start from (defaults for the rest); ``n``: the run's features
    (None: not known yet; the axes' range is then left to a later call)."""
    out = {k: (base or {}).get(k) or settings_class(k)() for k in views if k in SETTINGS_CLASSES}
    for spec in specs or ():
        v, key, target, fname, value = parse_set(spec, views)
        name = f"--set {spec.partition('=')[0].strip()}"
        if target == "axes":
            try:
                axes = _axes_value(value, n)
            except ValueError as exc:
                raise SettingError(name, f"{exc}, got {value!r}") from None
            continue
        obj = (camera or CameraSettings()) if target == "camera" else out[v]
        try:
            typed = coerce(type(obj), fname, value)
        except (ValueError, TypeError):
            raise SettingError(name, f"must be {_describe(type(obj), fname)}, got {value!r}") from None
        try:
            obj = dataclasses.replace(obj, **{fname: typed})
        except (ValueError, TypeError) as exc:  # the dataclass's own check of the whole value
            raise SettingError(name, f"{exc}") from None
        if target == "camera":
            camera = obj
        else:
            out[v] = obj
    return out, camera, axes


# ------------------------------------------------------------------------ JSON
def to_json(obj: ViewSettings | CameraSettings) -> dict[str, Any]:
    """A settings value as a JSON object (tuples as lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(obj).items()}


def from_json(cls, raw: Any, warn: Callable[[str], None], where: str = "") -> Any:
    """A settings value from a JSON object: unknown keys and bad values are left out (their
    defaults kept) with a warning each; never raises for bad input."""
    obj = cls()
    if not isinstance(raw, dict):
        warn(f"{where or cls.__name__} is not a JSON object; using the defaults")
        return obj
    fields = _fields(cls)
    for key, value in raw.items():
        if key not in fields:
            warn(f"dropped unknown entry {key!r} of {where or cls.__name__}")
            continue
        try:
            obj = with_value(obj, key, value)
        except (ValueError, TypeError):
            warn(f"dropped entry {key!r} of {where or cls.__name__}: it must be {_describe(cls, key)}, got {value!r}")
    return obj


__all__ = [
    "SETTINGS_CLASSES",
    "CameraSettings",
    "SettingError",
    "allowed_keys",
    "apply_sets",
    "coerce",
    "from_json",
    "parse_set",
    "settings_class",
    "to_json",
    "view_key",
    "with_value",
]
