"""Feature colours: one colour per feature, the same in every view, frame and export.

n <= 20: a fixed categorical palette (feature 1 is always the same blue).
n > 20: colour by angle (hue = the feature's angle in the latent plane) taken
from one reference snapshot of the run (its latest), so colours do not change
while scrubbing; neighbouring features get neighbouring hues.
"""
from __future__ import annotations

import colorsys

import numpy as np

# Tableau-20-like, reordered so the first 10 are the strong colours.
_CATEGORICAL = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
]
CATEGORICAL_MAX = len(_CATEGORICAL)
NEUTRAL = (150, 150, 150, 255)
HIGHLIGHT = (255, 215, 0, 255)


def _hex(c: str):
    return tuple(int(c[i:i + 2], 16) for i in (1, 3, 5))


#: The strong palette colours by name (RGB), for the curves of the plots that are not about features.
BLUE, GREEN, RED, PURPLE = (_hex(c) for c in ("#1f77b4", "#2ca02c", "#d62728", "#9467bd"))
GREY = NEUTRAL[:3]

#: One colour per verdict (RGB), the one table: the verdict panel's title, the timeline's and the feature
#: history's story marks, the sweep view's bars, histogram and thumbnail frames, the exported atlas.
#: Each failure kind has its own colour (an atlas tells them apart at a glance).
VERDICT_COLORS = {
    "perfect": (44, 160, 44),
    "symmetric_failure": (214, 39, 40),
    "asymmetric_failure": (140, 86, 75),
    "merged_failure": (148, 103, 189),
    "two_circle_failure": (255, 127, 14),
    "imperfect": (127, 127, 127),
    "collapsed": (64, 64, 64),
    "undecided": (188, 189, 34),
    "diverged": (0, 0, 0),
    "n/a (sparse data)": (31, 119, 180),
}
#: A verdict not in the table.
VERDICT_OTHER = (51, 51, 51)
#: The initial parameters (step 0): no verdict, so no verdict's colour.
INITIAL_COLOR = (85, 85, 85)
#: One colour per outcome (model.analysis.outcome), the one table: the timeline's strip, the atlas' curve and rows.
OUTCOME_COLORS = {"settled": (44, 160, 44), "stuck": (59, 10, 10), "moving": (255, 191, 0)}


def hex_color(rgb) -> str:
    """'#rrggbb' of an RGB triple."""
    return "#" + "".join(f"{int(v):02x}" for v in tuple(rgb)[:3])


def feature_colors(n: int, ref_angles=None) -> np.ndarray:
    """(n, 4) uint8 RGBA. ref_angles (radians, (n,)) is used only when n > 20."""
    out = np.empty((n, 4), dtype=np.uint8)
    out[:, 3] = 255
    if n <= CATEGORICAL_MAX:
        out[:, :3] = np.array([_hex(c) for c in _CATEGORICAL[:n]], dtype=np.uint8).reshape(n, 3)
        return out
    if ref_angles is None:
        hues = np.arange(n) / n
    else:
        a = np.asarray(ref_angles, dtype=np.float64)
        a = np.where(np.isfinite(a), a, 0.0)
        hues = (a % (2 * np.pi)) / (2 * np.pi)
    rgb = np.array([colorsys.hsv_to_rgb(h, 0.75, 0.9) for h in hues])
    out[:, :3] = np.round(rgb * 255).astype(np.uint8)
    return out


def colors_for(n: int, colors=None, W2=None) -> np.ndarray:
    """(n, 4) uint8: ``colors`` (a view context's, RGBA or RGB) when they fit n features,
    else the palette's colours by the angles of the 2D feature vectors ``W2`` (2, n), or of
    what ``W2()`` returns when it is a function (computed only when it is needed)."""
    if colors is not None:
        c = np.asarray(colors)
        if c.shape == (n, 4):
            return c.astype(np.uint8, copy=False)
        if c.shape == (n, 3):
            return np.column_stack([c.astype(np.uint8), np.full(n, 255, np.uint8)])
    if callable(W2):
        W2 = W2()
    ref = None if W2 is None else np.arctan2(np.asarray(W2)[1], np.asarray(W2)[0])
    return feature_colors(n, ref)
