"""Every view's settings as one value: the registry of the views' frozen settings
dataclasses, ``--set VIEW.KEY=VALUE`` parsed against their fields, and their JSON form.

Each view with options owns a frozen dataclass next to it (widgets.zone_map.ZoneSettings,
widgets.feature_wheel.WheelSettings, widgets.gram_view.GramSettings,
render3d.scene.PlaneSettings); the 3D camera is a ``CameraSettings``. The window's views,
the export dialog, ``main.py export / animate`` and the saved window settings all read
and write these values; nothing else holds a copy of a toggle.

A key's type comes from its field: bool (true/false, on/off, yes/no, 1/0), int, float,
a string with ``choices`` in the field's metadata, or a tuple of numbers written
comma-separated (``enlarge=1,1,5``). Two keys are spelled for people: ``plane3d.axes``
is the axis triple as 1-based feature numbers (the field ``triple`` is 0-based), and a
``show_`` toggle may be named without it (``plane3d.slivers``). ``plane`` is another name
for ``plane3d``.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, TypeVar, Union

from render3d.scene import CAMERA_PRESETS

if TYPE_CHECKING:
    from render3d.scene import PlaneSettings
    from widgets.feature_history import HistorySettings
    from widgets.feature_wheel import WheelSettings
    from widgets.gram_view import GramSettings
    from widgets.zone_map import ZoneSettings

    #: A view's settings value: an instance of one of the SETTINGS_CLASSES.
    ViewSettings = Union[ZoneSettings, WheelSettings, GramSettings, PlaneSettings, HistorySettings]

#: with_value returns a value of its argument's own settings class
_Settings = TypeVar("_Settings", bound="Union[ViewSettings, CameraSettings]")

#: view key -> (module, class) of its settings dataclass
SETTINGS_CLASSES = {
    "zones": ("widgets.zone_map", "ZoneSettings"),
    "wheel": ("widgets.feature_wheel", "WheelSettings"),
    "gram": ("widgets.gram_view", "GramSettings"),
    "plane3d": ("render3d.scene", "PlaneSettings"),
    "history": ("widgets.feature_history", "HistorySettings"),
}
VIEW_ALIASES = {"plane": "plane3d"}
#: keys of the plane3d namespace that set the camera (CameraSettings), not PlaneSettings
CAMERA_KEYS = {"camera": "preset", "elevation": "elevation", "azimuth": "azimuth", "distance": "distance"}
#: the plane3d key "axes": 1-based feature numbers (FigureOptions.axes, 0-based)
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


#: The camera's numbers, (low, high, low end open): degrees beyond a million turns lose their
#: precision, a distance beyond a million scene units (the scene is a few units across, at most
#: a thousand enlarged) or a field of view outside (0, 180) degrees draws nothing at all.
CAMERA_RANGES = {"elevation": (-1e6, 1e6, False), "azimuth": (-1e6, 1e6, False), "distance": (0.0, 1e6, True),
                 "fov": (0.0, 179.0, True), "aspect": (0.0, 1e3, True)}


@dataclass(frozen=True)
class CameraSettings:
    """The 3D view's camera: a preset, optionally turned to ``elevation`` / ``azimuth``
    (degrees) and placed at ``distance`` from ``center``; None: the preset's own framing.
    ``aspect``: width / height of the view the camera was framed in (the window's 3D view): a
    picture of another shape keeps what that view showed (None: the picture's own shape)."""

    preset: str = field(default="iso", metadata={"choices": CAMERA_PRESETS})
    elevation: Optional[float] = None
    azimuth: Optional[float] = None
    distance: Optional[float] = None
    center: Optional[Tuple[float, float, float]] = None
    fov: Optional[float] = None
    aspect: Optional[float] = None

    def __post_init__(self):
        if self.preset not in CAMERA_PRESETS:
            raise ValueError(f"preset must be one of {', '.join(CAMERA_PRESETS)}, got {self.preset!r}")
        for name in ("elevation", "azimuth", "distance", "fov", "aspect"):
            v = getattr(self, name)
            if v is not None and not math.isfinite(float(v)):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
            lo, hi, open_lo = CAMERA_RANGES[name]
            if v is not None and not ((lo < v if open_lo else lo <= v) and v <= hi):
                sign = "positive, " if open_lo and lo == 0 else ""
                raise ValueError(f"{name} must be {sign}in {'(' if open_lo else '['}{lo:g}, {hi:g}], got {v!r}")
        if self.center is not None:
            c = tuple(float(v) for v in self.center)
            if len(c) != 3 or not all(math.isfinite(v) for v in c):
                raise ValueError(f"center must be 3 finite numbers, got {self.center!r}")
            object.__setattr__(self, "center", c)

    @property
    def exact(self) -> bool:
        """Whether the whole camera is given (no framing left to the preset)."""
        return self.distance is not None and self.center is not None


def settings_class(view: str) -> type:
    """The settings dataclass of view key ``view`` (KeyError for a view without options)."""
    import importlib

    mod, cls = SETTINGS_CLASSES[view]
    return getattr(importlib.import_module(mod), cls)


def view_key(name: str) -> str:
    return VIEW_ALIASES.get(name, name)


# --------------------------------------------------------------------- values
def _hints(cls) -> Dict[str, Any]:
    return typing.get_type_hints(cls)


def _fields(cls) -> Dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _describe(cls, name: str) -> str:
    """What a field allows, for people."""
    f = _fields(cls)[name]
    if "choices" in f.metadata:
        return "one of " + ", ".join(f.metadata["choices"])
    t = _hints(cls)[name]
    args = [a for a in typing.get_args(t) if a is not type(None)]
    base = args[0] if typing.get_origin(t) is typing.Union and args else t
    if base is bool:
        return "true or false"
    if base is int:
        return "a whole number"
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
    optional = typing.get_origin(t) is typing.Union and type(None) in typing.get_args(t)
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
        return tuple(_number(p.strip() if isinstance(p, str) else p, k is int) for p, k in zip(parts, kinds))
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
def _keys(view: str) -> Dict[str, Tuple[str, str]]:
    """key people type -> (target, field): target "view" (the view's dataclass), "camera", "axes"."""
    cls = settings_class(view)
    out = {}
    for name in _fields(cls):
        if view == "plane3d" and name in ("triple", "auto_enlarge"):
            continue  # the triple is "axes" (1-based); auto_enlarge follows from enlarge
        out[name] = ("view", name)
        if name.startswith("show_"):
            out[name[5:]] = ("view", name)
    if view == "plane3d":
        out[AXES_KEY] = ("axes", "")
        for key, name in CAMERA_KEYS.items():
            out[key] = ("camera", name)
    return out


def allowed_keys(view: str) -> list:
    return sorted(_keys(view))


def parse_set(spec: str, views: Sequence[str]) -> Tuple[str, str, str, str, str]:
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


def _axes_value(value: str, n: Optional[int]) -> Tuple[int, int, int]:
    try:
        vals = [int(t) for t in value.split(",")]
    except ValueError:
        vals = []
    top = n if n is not None else max([3] + vals)
    if len(vals) != 3 or len(set(vals)) != 3 or not all(1 <= x <= top for x in vals):
        upto = f" from 1 to {n}" if n is not None else " from 1"
        raise ValueError(f"must be 3 different feature numbers{upto}, e.g. 1,2,{min(top, 3)}")
    return tuple(x - 1 for x in vals)  # type: ignore[return-value]


def apply_sets(specs: Sequence[str], views: Sequence[str], n: Optional[int], base: Optional[Mapping[str, Any]] = None,
               camera: Optional[CameraSettings] = None, axes: Optional[Tuple[int, int, int]] = None
               ) -> Tuple[Dict[str, ViewSettings], Optional[CameraSettings], Optional[Tuple[int, int, int]]]:
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
def to_json(obj: Union[ViewSettings, CameraSettings]) -> Dict[str, Any]:
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


__all__ = ["CameraSettings", "SettingError", "SETTINGS_CLASSES", "settings_class", "parse_set", "apply_sets",
           "allowed_keys", "coerce", "with_value", "to_json", "from_json", "view_key"]
