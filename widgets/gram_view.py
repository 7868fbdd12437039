"""W^T W + b as a heatmap (entry [i, j] = p_i(W_j), geometry.wtw_plus_b), each row's
maximum outlined (the seed's figure), diverging colours centred on 0. Its settings
(GramSettings): ReLU(W^T W + b), the reconstruction of I; W^T W alone (without b);
rows and columns in feature order or by the features' angles. Large n shows a block (selected
features first, then the first features, BLOCK_MAX in all): n x n float64 is
800 MB at n = 10,000."""
from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Iterable, Optional, Tuple

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF
from PyQt6.QtWidgets import QWidget

from model import geometry as geo
from model.snapshot import Snapshot
from resources import palette

from .views2d import (LABEL_MAX, OUTLINE, ColorPathsItem, PlotPanel, fmt_num, ranges_text, rects_xy, selected_of,
                      set_ticks_if_changed, settings_dataclass)

if TYPE_CHECKING:
    from widgets.context import ViewContext

#: The largest block shown (rows and columns).
BLOCK_MAX = 200
#: Diverging colour map ends (negative, zero, positive): blue - white - red.
NEG = (33, 102, 172)
MID = (247, 247, 247)
POS = (178, 24, 43)


# ----------------------------------------------------------------------------
# pure helpers

def block_indices(n: int, selected: Iterable[int] = (), max_n: int = BLOCK_MAX) -> np.ndarray:
    """The features shown: all (index order) when n <= max_n, else the selected ones
    first (sorted) and then the first unselected features, max_n in all."""
    if n <= max_n:
        return np.arange(n, dtype=np.int64)
    sel = np.array(sorted({int(i) for i in selected if 0 <= int(i) < n}), dtype=np.int64)[:max_n]
    rest_needed = max_n - len(sel)
    mask = np.ones(min(n, max_n + len(sel)), dtype=bool)
    mask[sel[sel < mask.size]] = False
    rest = np.nonzero(mask)[0][:rest_needed]
    return np.concatenate([sel, rest]).astype(np.int64)


def angular_block(snap: Snapshot, idx: np.ndarray) -> np.ndarray:
    """idx reordered by the features' angles on the drawn plane (the seed's circulant picture)."""
    from .views2d import plane_of
    W2 = plane_of(snap)[0]
    idx = np.asarray(idx, dtype=np.int64)
    return idx[np.argsort(geo.angles(W2[:, idx]), kind="stable")]


def gram_block(snap: Snapshot, idx: np.ndarray, relu: bool = False, bias: bool = True) -> np.ndarray:
    """(k, k) block of P = D W + b (P[i, j] = p_i(W_j)) at rows and columns idx; without b
    when not ``bias`` (D W alone); ReLU'd if relu."""
    idx = np.asarray(idx, dtype=np.int64)
    b = snap.b if bias else np.zeros_like(snap.b)
    if len(idx) == snap.n and np.array_equal(idx, np.arange(snap.n)):
        return geo.relu_wtw_plus_b(snap.W, b, snap.M) if relu else geo.wtw_plus_b(snap.W, b, snap.M)
    D = snap.decoder
    P = D[idx] @ snap.W[:, idx] + b[idx][:, None]
    return np.maximum(P, 0.0) if relu else P


def row_maxima(P: np.ndarray) -> np.ndarray:
    """(k,) column of each row's maximum (the first on ties); NaNs ignored."""
    P = np.asarray(P, dtype=np.float64)
    if P.size == 0:
        return np.zeros(P.shape[0], dtype=np.int64)
    Q = np.where(np.isnan(P), -np.inf, P)
    return np.argmax(Q, axis=1).astype(np.int64)


def symmetric_limit(P: np.ndarray) -> float:
    """The colour limit L: levels are [-L, L] (max |P| over finite entries, 1 if none)."""
    a = np.abs(np.asarray(P, dtype=np.float64))
    a = a[np.isfinite(a)]
    L = float(a.max()) if a.size else 0.0
    return L if L > 0 else 1.0


def diverging_lut(k: int = 256) -> np.ndarray:
    """(k, 4) uint8 blue - white - red, white at the middle (value 0)."""
    t = np.linspace(-1.0, 1.0, k)[:, None]
    neg, mid, pos = (np.array(c, dtype=np.float64) for c in (NEG, MID, POS))
    rgb = np.where(t < 0, mid + (-t) * (neg - mid), mid + t * (pos - mid))
    out = np.empty((k, 4), dtype=np.uint8)
    out[:, :3] = np.round(rgb).astype(np.uint8)
    out[:, 3] = 255
    return out


def value_color(v: float, L: float) -> Tuple[int, int, int]:
    """The RGB a value gets (for checks): the LUT entry of v in [-L, L]."""
    lut = diverging_lut()
    t = (np.clip(v, -L, L) + L) / (2 * L)
    return tuple(int(c) for c in lut[int(round(t * (len(lut) - 1))), :3])


# ----------------------------------------------------------------------------
# the view

GRAM_ORDERS = ("index", "angle")


@settings_dataclass
class GramSettings:
    """How the WᵀW view draws a snapshot: ``relu`` (ReLU(WᵀW + b), the reconstruction of I),
    ``bias`` (with b, or WᵀW alone), ``order`` of rows and columns ("index": feature order,
    selected first above BLOCK_MAX; "angle": by the features' angles, the seed's circulant)."""

    relu: bool = False
    bias: bool = True
    order: str = field(default="index", metadata={"choices": GRAM_ORDERS})


class GramView(PlotPanel):
    """W^T W + b heatmap, drawn as its ``settings`` (GramSettings) say. ``block`` holds
    the feature indices of the rows/columns shown; hover shows the value."""

    SETTINGS = GramSettings

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent, aspect_locked=True)
        self.relu_box = self.add_setting_toggle("relu", "ReLU", "show ReLU(W^T W + b): the reconstruction of I")
        self.bias_box = self.add_setting_toggle("bias", "+ b", "add the bias b_i to row i (off: W^T W alone)")
        self.order_combo = self.add_setting_choice("order", {"index": "feature order", "angle": "by angle"},
                                                   "order rows and columns by feature number or by angle")
        pi = self.plot_item
        self.vb.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(diverging_lut())
        pi.addItem(self.image)
        self.maxima = ColorPathsItem("stroke", width=2.0)
        self.maxima.setZValue(5)
        pi.addItem(self.maxima)
        self.sel_rows = ColorPathsItem("stroke", width=2.0)
        self.sel_rows.setZValue(6)
        pi.addItem(self.sel_rows)
        pi.getAxis("bottom").setLabel("j (input e_j)")
        pi.getAxis("left").setLabel("i (output)")
        self.block = np.zeros(0, dtype=np.int64)
        self.values: Optional[np.ndarray] = None
        self.maxima_cols = np.zeros(0, dtype=np.int64)
        self.limit = 1.0

    def _ticks(self, idx):
        k = len(idx)
        if k == 0:
            return [[]]
        step = 1 if k <= LABEL_MAX else int(np.ceil(k / 10))
        return [[(t + 0.5, str(int(idx[t]) + 1)) for t in range(0, k, step)]]

    def set_snapshot(self, snap: Optional[Snapshot], ctx: Optional[ViewContext]) -> None:
        self._snap, self._ctx = snap, ctx
        if snap is None or snap.n == 0:
            self.image.clear()
            self.maxima.clear()
            self.sel_rows.clear()
            self.block = np.zeros(0, dtype=np.int64)
            self.values = None
            self.set_note("")
            return
        n = snap.n
        st = self._settings
        sel = selected_of(ctx, n)
        idx = block_indices(n, sel.tolist())
        if st.order == "angle":
            idx = angular_block(snap, idx)
        P = gram_block(snap, idx, st.relu, st.bias)
        k = len(idx)
        self.block, self.values = idx, P
        L = symmetric_limit(gram_block(snap, idx, False, st.bias) if st.relu else P)
        self.limit = L
        self.image.setImage(P, levels=(-L, L), autoLevels=False)
        self.image.setRect(QRectF(0, 0, k, k))
        cols = row_maxima(P)
        self.maxima_cols = cols
        rows = np.arange(k)
        x, y, con = rects_xy(cols, cols + 1, rows, rows + 1)
        self.maxima.set_features(np.array([OUTLINE], np.uint8), x, y, con, np.array([len(x)]), max_groups=1)
        pos = np.nonzero(np.isin(idx, sel))[0]
        if len(pos):
            x, y, con = rects_xy(np.zeros(len(pos)), np.full(len(pos), k), pos, pos + 1)
            self.sel_rows.set_features(np.array([palette.HIGHLIGHT], np.uint8), x, y, con, np.array([len(x)]),
                                       max_groups=1)
        else:
            self.sel_rows.clear()
        ticks = self._ticks(idx)
        set_ticks_if_changed(self.plot_item.getAxis("bottom"), ticks)
        set_ticks_if_changed(self.plot_item.getAxis("left"), ticks)
        inner = "W\u1d40W + b" if st.bias else "W\u1d40W"
        what = f"ReLU({inner})" if st.relu else inner
        entry = "p_i(W_j)" if st.bias else "D_i\u00b7W_j"
        shown = "all features" if k == n else (
            f"features {ranges_text((idx + 1).tolist(), 40)} ({k} of {n}"
            + (", selected first)" if len(sel) and st.order != "angle" else ")"))
        if st.order == "angle":
            shown += ", by angle"
        self.set_note(f"{what}: [i, j] = {entry}, row maxima outlined, colour limits \u00b1{fmt_num(L)}; {shown}")

    def cell_at(self, x: float, y: float) -> Tuple[int, int]:
        """(row, column) block position of the cell under (x, y), or (-1, -1)."""
        k = len(self.block)
        c, r = int(np.floor(x)), int(np.floor(y))
        if 0 <= r < k and 0 <= c < k:
            return r, c
        return -1, -1

    def _hovered(self, x, y):
        r, c = self.cell_at(x, y)
        if r < 0 or self.values is None:
            self.status.setText("")
            return
        i, j = int(self.block[r]) + 1, int(self.block[c]) + 1
        v = self.values[r, c]
        st = self._settings
        name = f"p_{i}(W_{j})" if st.bias else f"D_{i}\u00b7W_{j}"
        name = f"ReLU({name})" if st.relu else name
        star = "   (row maximum)" if self.maxima_cols[r] == c else ""
        self.status.setText(f"{name} = {v:.6g}{star}")

    def _clicked(self, x, y):
        r, _ = self.cell_at(x, y)
        if r >= 0:
            self.featureClicked.emit(int(self.block[r]))
