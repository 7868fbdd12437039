"""W^T W + b as a heatmap (entry [i, j] = p_i(W_j), geometry.wtw_plus_b), each row's
maximum outlined (the seed's figure), diverging colours centred on 0 with a colour bar
that gives their values. Its settings (GramSettings): ReLU(W^T W + b), the reconstruction
of I; W^T W alone (without b); rows and columns in feature order or by the features'
angles; the colour bar. The matrix fills its plot at any panel size (square cells, the
whole shorter side, centred along the longer). Large n shows a block (selected features
first, then the first features, BLOCK_MAX in all): n x n float64 is 800 MB at n = 10,000."""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF
from PyQt6.QtWidgets import QWidget

from model.analysis import geometry as geo
from model.snapshot import Snapshot
from resources import palette
from views.settings import GramSettings

from .views2d import (
    LABEL_MAX,
    OUTLINE,
    ColorPathsItem,
    PlotContent,
    PlotPanel,
    fmt_num,
    ranges_text,
    rects_xy,
    selected_of,
    set_ticks_if_changed,
)

if TYPE_CHECKING:
    from model.analysis.frame import Frame

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
    """idx reordered by the features' angles on the drawn plane (the seed's circulant picture),
    counter-clockwise from the lowest-numbered feature of idx (Henighan's n-gon reads 1, 2, ..., n)."""
    from .views2d import plane_of
    W2 = plane_of(snap)[0]
    idx = np.asarray(idx, dtype=np.int64)
    out = idx[np.argsort(geo.angles(W2[:, idx]), kind="stable")]
    return np.roll(out, -int(np.argmin(out))) if len(out) else out


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


#: A row whose entries all lie within FLAT_ULPS float32 steps of the matrix's largest |entry| is
#: flat: the parameters are float32, so its entries are equal at their resolution and it has no
#: maximum to outline (a dead feature's row: 0 in WᵀW, b_i in WᵀW + b).
FLAT_ULPS = 8
FLAT_REL = FLAT_ULPS * float(np.finfo(np.float32).eps)


def row_maxima(P: np.ndarray) -> np.ndarray:
    """(k,) column of each row's maximum (the first on ties), -1 for a flat row (FLAT_REL of the
    largest |entry|, at least 1e-30 absolute); NaNs ignored."""
    P = np.asarray(P, dtype=np.float64)
    if P.size == 0:
        return np.zeros(P.shape[0], dtype=np.int64)
    Q = np.where(np.isnan(P), -np.inf, P)
    cols = np.argmax(Q, axis=1).astype(np.int64)
    fin = np.where(np.isfinite(P), P, np.nan)
    with np.errstate(all="ignore"):
        spread = np.nanmax(fin, axis=1) - np.nanmin(fin, axis=1) if np.isfinite(P).any() else np.zeros(len(P))
        scale = np.nanmax(np.abs(fin)) if np.isfinite(P).any() else 0.0
    flat = np.nan_to_num(spread, nan=0.0) <= max(FLAT_REL * scale, 1e-30)
    cols[flat] = -1
    return cols


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


def diverging_colormap() -> pg.ColorMap:
    """The diverging LUT as a pyqtgraph ColorMap (the colour bar's and the image's): a
    256-entry table of it is diverging_lut() itself, so value_color stays the colour drawn."""
    lut = diverging_lut()
    return pg.ColorMap(np.linspace(0.0, 1.0, len(lut)), lut)


def value_color(v: float, L: float) -> tuple[int, int, int]:
    """The RGB a value gets (for checks): the LUT entry of v in [-L, L]."""
    lut = diverging_lut()
    t = (np.clip(v, -L, L) + L) / (2 * L)
    return tuple(int(c) for c in lut[int(round(t * (len(lut) - 1))), :3])


# ----------------------------------------------------------------------------
# the view

class GramContent(PlotContent):
    """What the WᵀW view draws: the W^T W + b heatmap, as its ``settings`` (GramSettings) say. ``block``
    holds the feature indices of the rows/columns shown."""

    SETTINGS = GramSettings

    def __init__(self) -> None:
        super().__init__(aspect_locked=True)
        pi = self.plot_item
        self.vb.invertY(True)
        # the range is the matrix, set in set_snapshot: no padding, no auto-range (the aspect lock
        # then widens the longer side symmetrically, so the square matrix is centred)
        self.vb.disableAutoRange()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(diverging_lut())
        pi.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(-1.0, 1.0), colorMap=diverging_colormap(), interactive=False, width=14,
                                   colorMapMenu=False)
        self.bar.setImageItem(self.image, insert_in=pi)  # the bar gives the image its map and levels
        self._bar_shown = True
        self._range_k = -1  # the block size the view range was last set for
        self._pad = (0.0, 0.0)  # the plot layout's extra margins (x each side, y each side) that square the box
        self._squaring = False
        self.vb.sigResized.connect(self._square)
        self.maxima = ColorPathsItem("stroke", width=2.0)
        self.maxima.setZValue(5)
        pi.addItem(self.maxima)
        self.sel_rows = ColorPathsItem("stroke", width=2.0)
        self.sel_rows.setZValue(6)
        pi.addItem(self.sel_rows)
        pi.getAxis("bottom").setLabel("j (input e_j)")
        pi.getAxis("left").setLabel("i (output)")
        self.block = np.zeros(0, dtype=np.int64)
        self.values: np.ndarray | None = None
        self.maxima_cols = np.zeros(0, dtype=np.int64)
        self.limit = 1.0
        self._show_bar(self._settings.colorbar)

    def _show_bar(self, on: bool) -> None:
        """The colour bar in the plot's layout (its column taken out when off, so the matrix gets it)."""
        if on == self._bar_shown:
            return
        lay = self.plot_item.layout
        if on:
            lay.addItem(self.bar, 2, 5)
        else:
            lay.removeItem(self.bar)
        self.bar.setVisible(on)
        self._bar_shown = on

    def _square(self, *_: object) -> None:
        """Make the plot's view box square and centre it (with its axes and the colour bar) in the
        plot: the matrix then takes the whole shorter side of the panel, not a square of it inside
        a wide box (in a wide, short dock that was 10% of the panel). Margins of the plot's layout
        take up what is left over, the same on both sides."""
        if self._squaring:
            return
        lay = self.plot_item.layout
        size = self.plot_item.size()
        box = self.vb.size()
        px, py = self._pad
        avail_w, avail_h = box.width() + 2 * px, box.height() + 2 * py
        side = max(1.0, min(avail_w, avail_h))
        pad = ((avail_w - side) / 2, (avail_h - side) / 2)
        if size.width() <= 0 or (abs(pad[0] - px) < 0.5 and abs(pad[1] - py) < 0.5):
            return
        self._pad = pad
        self._squaring = True
        try:
            lay.setContentsMargins(1 + pad[0], 1 + pad[1], 1 + pad[0], 1 + pad[1])  # PlotItem's own margin is 1
            lay.activate()
        finally:
            self._squaring = False

    def _fit(self, k: int) -> None:
        """Show the whole k x k matrix (once per block size: a zoom of the user's is kept while
        the same block is redrawn)."""
        if k != self._range_k:
            self.vb.setRange(xRange=(0, k), yRange=(0, k), padding=0)
            self._range_k = k

    def _ticks(self, idx):
        k = len(idx)
        if k == 0:
            return [[]]
        step = 1 if k <= LABEL_MAX else int(np.ceil(k / 10))
        return [[(t + 0.5, str(int(idx[t]) + 1)) for t in range(0, k, step)]]

    def draw(self, snap: Snapshot | None, frame: Frame | None) -> None:
        self._snap, self._frame = snap, frame
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
        self._show_bar(st.colorbar)
        sel = selected_of(frame, n)
        idx = block_indices(n, sel.tolist())
        if st.order == "angle":
            idx = angular_block(snap, idx)
        P = gram_block(snap, idx, st.relu, st.bias)
        k = len(idx)
        self.block, self.values = idx, P
        L = symmetric_limit(gram_block(snap, idx, False, st.bias) if st.relu else P)
        self.limit = L
        self.image.setImage(P, levels=(-L, L), autoLevels=False)
        self.bar.setLevels((-L, L))
        self.image.setRect(QRectF(0, 0, k, k))
        self._fit(k)
        cols = row_maxima(P)
        self.maxima_cols = cols
        rows = np.nonzero(cols >= 0)[0]  # a flat row (a dead feature's) has no maximum
        x, y, con = rects_xy(cols[rows], cols[rows] + 1, rows, rows + 1)
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
        self.bar.axis.setLabel(what)
        entry = "p_i(W_j)" if st.bias else "D_i\u00b7W_j"
        shown = "all features" if k == n else (
            f"features {ranges_text((idx + 1).tolist(), 40)} ({k} of {n}"
            + (", selected first)" if len(sel) and st.order != "angle" else ")"))
        if st.order == "angle":
            shown += ", by angle"
        self.set_note(f"{what}: [i, j] = {entry}, row maxima outlined, colour limits \u00b1{fmt_num(L)}; {shown}")

    def cell_at(self, x: float, y: float) -> tuple[int, int]:
        """(row, column) block position of the cell under (x, y), or (-1, -1)."""
        k = len(self.block)
        c, r = int(np.floor(x)), int(np.floor(y))
        if 0 <= r < k and 0 <= c < k:
            return r, c
        return -1, -1



class GramView(PlotPanel):
    """The WᵀW view in the window: its GramContent under the settings' toggles; hover shows the value,
    a click selects the row's feature."""

    CONTENT = GramContent

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.relu_box = self.add_setting_toggle("relu", "ReLU", "show ReLU(W^T W + b): the reconstruction of I")
        self.bias_box = self.add_setting_toggle("bias", "+ b", "add the bias b_i to row i (off: W^T W alone)")
        self.order_combo = self.add_setting_choice("order", {"index": "feature order", "angle": "by angle"},
                                                   "order rows and columns by feature number or by angle")
        self.colorbar_box = self.add_setting_toggle("colorbar", "scale", "the colour bar: the value of each colour")

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
