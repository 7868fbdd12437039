"""Each view's settings as one frozen dataclass, and the 3D view's camera: plain values,
Qt-free, so that the command line (``--set VIEW.KEY=VALUE``), the settings file and the
Python API read and check them without a display. The views themselves (widgets/,
render3d/) take and emit these values; nothing else holds a copy of a toggle.

A field whose values are a closed list names them in its metadata (``choices``), a whole
number its bounds (``range``: (low, high)); both are checked when a value is made
(``settings_dataclass``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import TypeVar

_T = TypeVar("_T")

Triple = tuple[int, int, int]


def check_choices(value: object) -> None:
    """ValueError unless each field of the settings dataclass ``value`` that lists ``choices`` in
    its metadata holds one of them, and each that gives a whole-number ``range`` (low, high) lies in it."""
    for f in fields(value):  # type: ignore[arg-type]  # a dataclass instance (settings_dataclass)
        v = getattr(value, f.name)
        choices = f.metadata.get("choices")
        if choices is not None and v not in choices:
            raise ValueError(f"{f.name} must be one of {', '.join(choices)}, got {v!r}")
        span = f.metadata.get("range")
        if span is not None and (isinstance(v, bool) or not isinstance(v, int) or not span[0] <= v <= span[1]):
            raise ValueError(f"{f.name} must be a whole number from {span[0]} to {span[1]}, got {v!r}")


def settings_dataclass(cls: type[_T]) -> type[_T]:
    """A view's settings class: a frozen dataclass whose fields that list ``choices`` in their
    metadata are checked when a value is made (check_choices)."""
    cls.__post_init__ = check_choices  # type: ignore[attr-defined]
    return dataclass(frozen=True)(cls)


# ---------------------------------------------------------------------- the 2D views
#: How the zone map draws zones: exact polygons up to widgets.zone_map.POLYGON_MAX features
#: ("auto"), always polygons, or the strongest-feature raster.
ZONE_MODES = ("auto", "polygons", "raster")


@settings_dataclass
class ZoneSettings:
    """How the zone map draws a snapshot. ``clip_to_shape``: zones inside the latent shape (True)
    or the whole plane around it; ``show_separation``: the separation overlay; ``mode``: "auto"
    (polygons up to POLYGON_MAX features, raster above), "polygons" or "raster"."""

    clip_to_shape: bool = True
    show_separation: bool = False
    mode: str = field(default="auto", metadata={"choices": ZONE_MODES})


#: How the feature wheel draws the feature vectors: each its own arrow up to
#: widgets.feature_wheel.ARROWS_ALL_MAX features ("auto"), always, or binned by angle.
WHEEL_ARROWS = ("auto", "all", "binned")
#: The wheel's ``strongest``: how many relations (or spokes) are drawn and labelled, up to this.
STRONGEST_MAX = 200


@settings_dataclass
class WheelSettings:
    """How the feature wheel draws a snapshot. ``show_data``: the data embeddings of the
    frame's dataset (when there is one); ``show_gaps``: the needed against the actual gap;
    ``arrows``: every feature its own arrow ("all"), one spoke per angle bin ("binned": many
    features in one direction become one thicker spoke with their count), or "auto" (all up
    to ARROWS_ALL_MAX features, binned above); ``strongest``: when binned, how many spokes
    are labelled (the strongest), and for a selected feature how many of the others with the
    largest overlap W_i·W_j are drawn as arrows and labelled."""

    show_data: bool = True
    show_gaps: bool = False
    arrows: str = field(default="auto", metadata={"choices": WHEEL_ARROWS})
    strongest: int = field(default=12, metadata={"range": (0, STRONGEST_MAX)})


#: Rows and columns of WᵀW: feature order, or by the features' angles (the seed's circulant).
GRAM_ORDERS = ("index", "angle")


@settings_dataclass
class GramSettings:
    """How the WᵀW view draws a snapshot: ``relu`` (ReLU(WᵀW + b), the reconstruction of I),
    ``bias`` (with b, or WᵀW alone), ``order`` of rows and columns ("index": feature order,
    selected first above BLOCK_MAX; "angle": by the features' angles, the seed's circulant),
    ``colorbar`` (the colour scale beside the matrix: which value each colour stands for)."""

    relu: bool = False
    bias: bool = True
    order: str = field(default="index", metadata={"choices": GRAM_ORDERS})
    colorbar: bool = True


#: The feature history's step axis: log10(1 + step), or the step.
HISTORY_AXES = ("log", "linear")


@settings_dataclass
class HistorySettings:
    """``axis``: the step axis, "log" (log10(1 + step): training moves on a log-time scale) or
    "linear"; ``show_events``: the diagnosis' events as vertical lines."""

    axis: str = field(default="log", metadata={"choices": HISTORY_AXES})
    show_events: bool = True


# ---------------------------------------------------------------------- the 3D view
#: The enlarge factor of an axis, from ... to: beyond, the scene's coordinates overflow or vanish
#: (the view's spin boxes and --set plane3d.enlarge share it).
ENLARGE_RANGE = (0.01, 1000.0)
ENLARGE_MIN, ENLARGE_MAX = ENLARGE_RANGE
#: Feature indices of a triple are below this (a run's n is far smaller; anything larger is garbage).
TRIPLE_MAX = 1 << 31
#: Camera presets: name -> what it looks along (render3d.scene.camera_for).
CAMERA_PRESETS = ("iso", "normal", "axis-i", "axis-j", "axis-k")


@dataclass(frozen=True)
class PlaneSettings:
    """How the 3D view draws a snapshot. ``triple`` is 0-based (i, j, k) -> (x, y, z)."""

    triple: Triple = (0, 1, 2)
    enlarge: tuple[float, float, float] = (1.0, 1.0, 1.0)
    show_shape: bool = True
    show_cube: bool = True
    after_relu: bool = False
    show_slivers: bool = True
    show_bias: bool = True
    show_tilt: bool = True
    show_vertices: bool = True
    show_labels: bool = True
    #: after ReLU: the folded shape as a shaded, opaque surface, and each piece folded onto a line
    #: (a sliver snapped onto an axis or a face's edge) as a bar in its features' colour
    show_relu_surface: bool = True
    #: a flat axis (a dead feature: p_k = b_k on the whole plane) whose offset would be
    #: too small to read is enlarged automatically, as the seed enlarges dimension 7 by hand;
    #: only axes whose ``enlarge`` factor is 1 (not set by the user)
    auto_enlarge: bool = True

    def __post_init__(self) -> None:
        t = tuple(int(v) for v in self.triple)
        if len(t) != 3 or not all(0 <= v < TRIPLE_MAX for v in t):
            raise ValueError(f"triple must be 3 feature indices (0-based, below {TRIPLE_MAX:,}), got {self.triple!r}")
        try:
            e = tuple(float(v) for v in self.enlarge)
        except OverflowError:  # a 400-digit integer from a settings file
            e = (math.inf,)
        if len(e) != 3 or not all(math.isfinite(v) and ENLARGE_MIN <= v <= ENLARGE_MAX for v in e):
            raise ValueError(f"enlarge must be 3 positive finite factors from {ENLARGE_MIN:g} to {ENLARGE_MAX:g}, "
                             f"got {self.enlarge!r}")
        object.__setattr__(self, "triple", t)
        object.__setattr__(self, "enlarge", e)

    def with_(self, **kw: object) -> PlaneSettings:
        return replace(self, **kw)  # type: ignore[arg-type]  # dataclasses.replace checks the names


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
    elevation: float | None = None
    azimuth: float | None = None
    distance: float | None = None
    center: tuple[float, float, float] | None = None
    fov: float | None = None
    aspect: float | None = None

    def __post_init__(self) -> None:
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


__all__ = [
    "CAMERA_PRESETS",
    "ENLARGE_RANGE",
    "GRAM_ORDERS",
    "HISTORY_AXES",
    "STRONGEST_MAX",
    "TRIPLE_MAX",
    "WHEEL_ARROWS",
    "ZONE_MODES",
    "CameraSettings",
    "GramSettings",
    "HistorySettings",
    "PlaneSettings",
    "Triple",
    "WheelSettings",
    "ZoneSettings",
    "check_choices",
    "settings_dataclass",
]
