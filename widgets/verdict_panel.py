"""The analysis in words and numbers: the verdict (perfect / symmetric failure /
merged / two-circle / imperfect), the regularity figures, and the per-feature
table (a QTableView over a model, so n = 10,000 costs nothing until scrolled),
selected features first."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from PyQt6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPainter
from PyQt6.QtWidgets import (QAbstractItemView, QHeaderView, QStyle, QStyledItemDelegate, QStyleOptionViewItem,
                             QTableView, QVBoxLayout, QWidget)

from model.analysis import Analysis, finding_lines
from model.snapshot import Snapshot

from .views2d import analysis_of, feature_colors_for, fmt_num, qcolor, ranges_text, selected_of
from .live_text import LiveText

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from widgets.context import ViewContext

COLUMNS = ("feature", "norm", "angle", "bias", "D_i", "p_i(W_i)", "max p_j", "reconstructed", "dead", "separable",
           "fires at x >", "merged")
VERDICT_WORDS = {
    "perfect": "Perfect",
    "symmetric_failure": "Symmetric failure",
    "asymmetric_failure": "Asymmetric failure",
    "merged_failure": "Merged failure",
    "two_circle_failure": "Two-circle failure",
    "imperfect": "Imperfect",
}
VERDICT_COLORS = {
    "perfect": "#2ca02c",
    "symmetric_failure": "#d62728",
    "asymmetric_failure": "#d62728",
    "merged_failure": "#d62728",
    "two_circle_failure": "#d62728",
    "imperfect": "#ff7f0e",
    "collapsed": "#7f7f7f",
    "undecided": "#bcbd22",
}


# ----------------------------------------------------------------------------
# pure helpers

def verdict_words(verdict: str) -> str:
    """'symmetric_failure' -> 'Symmetric failure' (unknown verdicts: underscores to spaces)."""
    return VERDICT_WORDS.get(verdict, str(verdict).replace("_", " ").capitalize())


def table_order(n: int, selected: Sequence[int] = ()) -> np.ndarray:
    """Row order of the table: selected features first (sorted), then the rest by index."""
    sel = np.array(sorted({int(i) for i in selected if 0 <= int(i) < n}), dtype=np.int64)
    mask = np.ones(n, dtype=bool)
    mask[sel] = False
    return np.concatenate([sel, np.nonzero(mask)[0]]).astype(np.int64)


class Partners:
    """Merged partners of each feature, looked up lazily (a table shows a few rows):
    the feature -> group index is built on the first lookup, not every frame."""

    def __init__(self, groups: Sequence[Sequence[int]], n: int):
        self.groups = groups
        self.n = n
        self.of = None

    def _build(self):
        self.of = np.full(self.n, -1, dtype=np.int64)
        if self.groups:
            lens = [len(g) for g in self.groups]
            flat = np.fromiter((i for g in self.groups for i in g), dtype=np.int64, count=sum(lens))
            self.of[flat] = np.repeat(np.arange(len(self.groups)), lens)

    def get(self, i: int, default: Iterable[int] = ()) -> List[int]:
        if not self.groups:
            return list(default)
        if self.of is None:
            self._build()
        gi = int(self.of[i]) if 0 <= i < len(self.of) else -1
        if gi < 0:
            return list(default)
        return [j for j in self.groups[gi] if j != i]


def merged_partners(a: Analysis) -> "Partners":
    """{feature: [partners]}-like lookup (0-based) from the analysis' merged groups."""
    return Partners(a.merged_groups, a.n)


def cell_text(a: Analysis, i: int, col: int, partners: Optional[Partners] = None) -> str:
    """The text of feature i (0-based) in column col of the table."""
    name = COLUMNS[col]
    if name == "feature":
        return str(i + 1)
    if name == "norm":
        return fmt_num(a.norms[i])
    if name == "angle":
        return f"{a.angles_deg[i]:.2f}"
    if name == "bias":
        return fmt_num(a.biases[i])
    if name == "D_i":
        return f"{a.dims[i]:.3f}"
    if name == "p_i(W_i)":
        return fmt_num(a.self_activation[i])
    if name == "max p_j":
        v = a.max_other[i]
        return "-" if not math.isfinite(v) else fmt_num(v)
    if name == "reconstructed":
        return "yes" if a.reconstructed_mask[i] else "no"
    if name == "dead":
        if a.dead_mask[i]:
            return "dead"
        dout = getattr(a, "dead_output_mask", None)
        return "output" if dout is not None and dout[i] else ""
    if name == "separable":
        sep = getattr(a, "separability", None)
        if sep is None or not sep.live[i] or (sep.computed is not None and not sep.computed[i]):
            return ""
        return f"yes ({fmt_num(sep.margin[i])})" if sep.separable[i] else "no"
    if name == "fires at x >":
        sens = getattr(a, "sensitivity", None)
        if sens is None:
            return ""
        v = float(sens.fire_threshold[i])
        return "never" if math.isinf(v) else fmt_num(v)
    if name == "merged":
        p = (partners if partners is not None else merged_partners(a)).get(i, [])
        return ", ".join(str(j + 1) for j in p[:8]) + (" ..." if len(p) > 8 else "")
    raise IndexError(col)


def summary_lines(a: Analysis) -> List[str]:
    """The header text as plain lines: verdict, loss, regularity, counts, plane."""
    lines = [f"{verdict_words(a.verdict)}: {a.verdict_text}"]
    loss = a.loss if a.loss is not None else float("nan")
    kind = "exact float64, one-hot" if a.onehot else "recorded"
    lines.append(f"step {a.step} \u00b7 n = {a.n} \u00b7 m = {a.m} \u00b7 loss {fmt_num(loss, 8)} ({kind})")
    # the findings behind the verdict, each with its numbers and margin, then the closed-form reference
    found = finding_lines(a)
    if found:
        lines.append("findings:")
        lines.extend(found)
    rg = "; ".join(f"r \u2248 {g['radius']:.4g}: {ranges_text(np.asarray(g['members']) + 1, 40)}"
                   for g in a.radius_groups[:6])
    if len(a.radius_groups) > 6:
        rg += f"; ... {len(a.radius_groups) - 6} more"
    gap = a.gap_ratio
    gap_t = "n/a" if gap is None else ("inf" if math.isinf(gap) else f"{gap:.4f}")
    cv = "n/a" if a.radius_cv is None else f"{a.radius_cv:.4f}"
    lines.append(f"regularity: radius cv {cv}, gap ratio {gap_t}, radius groups {len(a.radius_groups)}"
                 + (f" ({rg})" if rg else ""))
    nr, nd = int(np.sum(a.reconstructed_mask)), int(np.sum(a.dead_mask))
    lines.append(f"reconstructed {nr} of {a.n} \u00b7 dead {nd}"
                 + (f" ({ranges_text(np.nonzero(a.dead_mask)[0] + 1, 40)})" if nd else "")
                 + f" \u00b7 merged groups {len(a.merged_groups)}")
    if a.sparse:
        s = a.sparse
        lines.append(f"sum D_i {fmt_num(s['sum_dim'])}, D_i > 0.5: {s['features_dim_gt_half']}, "
                     f"represented: {s['represented']}")
    if a.m != 2:
        lines.append(f"plane: {a.plane}")
    return lines


# ----------------------------------------------------------------------------
# the table model

class FeatureTableModel(QAbstractTableModel):
    """The per-feature table over an Analysis; rows in ``order`` (feature indices)."""

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.a = None
        self.order = np.zeros(0, dtype=np.int64)
        self.colors = np.zeros((0, 4), np.uint8)
        self.selected = frozenset()
        self.partners = {}
        self._bold = QFont()
        self._bold.setBold(True)
        self._grey = QColor(130, 130, 130)
        self._qcolors = {}

    def set_analysis(self, a: Optional[Analysis], order: ArrayLike, colors: np.ndarray,
                     selected: Iterable[int]) -> None:
        """New contents. Same rows (count and order): dataChanged, else a model reset."""
        order = np.asarray(order, dtype=np.int64)
        same_rows = (self.a is not None and a is not None and order.shape == self.order.shape
                     and np.array_equal(order, self.order))
        if not same_rows:
            self.beginResetModel()
        self.a = a
        self.order = order
        if not (colors is self.colors or (np.shape(colors) == np.shape(self.colors)
                                          and np.array_equal(colors, self.colors))):
            self._qcolors = {}
        self.colors = colors
        self.selected = frozenset(int(i) for i in selected)
        self.partners = merged_partners(a) if a is not None else {}
        if same_rows:
            if len(order):
                self.dataChanged.emit(self.index(0, 0), self.index(len(order) - 1, len(COLUMNS) - 1))
        else:
            self.endResetModel()

    def feature_of_row(self, row: int) -> int:
        return int(self.order[row]) if 0 <= row < len(self.order) else -1

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() or self.a is None else len(self.order)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Optional[str]:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    _DISPLAY = Qt.ItemDataRole.DisplayRole
    _DECORATION = Qt.ItemDataRole.DecorationRole
    _FONT = Qt.ItemDataRole.FontRole
    _FOREGROUND = Qt.ItemDataRole.ForegroundRole
    _ALIGN = Qt.ItemDataRole.TextAlignmentRole
    _HANDLED = frozenset((_DISPLAY, _DECORATION, _FONT, _FOREGROUND, _ALIGN))
    _RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def cell(self, row: int, col: int) -> Tuple[str, Optional[QColor], bool, bool, bool]:
        """(text, colour swatch or None, bold, dead, right-aligned) of a cell, in one call (the delegate's)."""
        i = int(self.order[row])
        dec = None
        if col == 0:
            dec = self._qcolors.get(i)
            if dec is None:
                dec = self._qcolors[i] = qcolor(self.colors[i])
        return (cell_text(self.a, i, col, self.partners), dec, i in self.selected, bool(self.a.dead_mask[i]),
                0 < col < 7)

    def data(self, index: QModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Union[str, QColor, QFont, int, None]:
        if role not in self._HANDLED or self.a is None:
            return None
        r, c = index.row(), index.column()
        i = int(self.order[r])
        if role == self._DISPLAY:
            return cell_text(self.a, i, c, self.partners)
        if role == self._DECORATION:
            if c != 0:
                return None
            q = self._qcolors.get(i)
            if q is None:
                q = self._qcolors[i] = qcolor(self.colors[i])
            return q
        if role == self._FONT:
            return self._bold if i in self.selected else None
        if role == self._FOREGROUND:
            return self._grey if self.a.dead_mask[i] else None
        return self._RIGHT if 0 < c < 7 else None


class FastDelegate(QStyledItemDelegate):
    """Paints a cell with one drawText (the styled delegate's text layout costs ~2x)."""

    _LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    _RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._bold = QFont()
        self._bold.setBold(True)
        self._grey = QColor(130, 130, 130)
        self._text = None

    _SELECTED = QStyle.StateFlag.State_Selected.value

    def paint(self, p: QPainter, opt: QStyleOptionViewItem, index: QModelIndex) -> None:
        m = index.model()
        if m.a is None:
            return
        text, dec, bold, dead, right = m.cell(index.row(), index.column())
        r = opt.rect
        if opt.state.value & self._SELECTED:
            p.fillRect(r, opt.palette.highlight())
            p.setPen(opt.palette.highlightedText().color())
        else:
            if self._text is None:
                self._text = opt.palette.text().color()
            p.setPen(self._grey if dead else self._text)
        x, y, h = r.x() + 3, r.y(), r.height()
        if dec is not None:
            p.fillRect(x, y + 3, h - 6, h - 6, dec)
            x += h - 2
        if bold:
            p.setFont(self._bold)
        p.drawText(x, y, r.right() - x - 2, h, self._RIGHT if right else self._LEFT, text)
        if bold:
            p.setFont(opt.font)


# ----------------------------------------------------------------------------
# the panel

class VerdictPanel(QWidget):
    """Verdict in words + regularity figures (``header``) above the per-feature table (``table``)."""

    featureClicked = pyqtSignal(int)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        # plain-text labels (rich text is re-parsed and re-laid out on every frame)
        # LiveText, not QLabel: a QLabel's setText relayouts the whole window on every frame
        self.title = LiveText(wrap=True)
        f = QFont(self.font())
        f.setPointSize(12)
        f.setBold(True)
        self.title.setFont(f)
        lay.addWidget(self.title)
        self.header = LiveText()
        f = QFont(self.font())
        f.setPointSize(9)
        self.header.setFont(f)
        self.header.setColor("#444")
        lay.addWidget(self.header)
        self._title_style = None
        self.model = FeatureTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegate(FastDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        vh = self.table.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(20)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        for c, w in enumerate((70, 70, 60, 75, 50, 75, 75, 90, 45, 90, 80, 70)):
            self.table.setColumnWidth(c, w)
        self.table.clicked.connect(self._on_clicked)
        lay.addWidget(self.table, 1)
        self.analysis = None
        self.verdict = ""

    def set_snapshot(self, snap: Optional[Snapshot], ctx: Optional[ViewContext]) -> None:
        if snap is None or snap.n == 0:
            self.analysis = None
            self.verdict = ""
            self.title.setText("")
            self.header.setText("")
            self.model.set_analysis(None, np.zeros(0, dtype=np.int64), np.zeros((0, 4), np.uint8), ())
            return
        a = analysis_of(snap, ctx)
        self.analysis = a
        self.verdict = a.verdict
        colors = feature_colors_for(snap, ctx)
        sel = selected_of(ctx, snap.n)
        self.model.set_analysis(a, table_order(snap.n, sel.tolist()), colors, sel.tolist())
        lines = summary_lines(a)
        outcome = (ctx.extra.get("outcome") if ctx is not None else None)
        if outcome:  # model.story's outcome event in force at this step: "Symmetric failure, stuck: ..."
            lines[0] = f"{verdict_words(a.verdict)}, {outcome['outcome']}: {a.verdict_text}"
            since = outcome["step"]
            at = outcome.get("judged_at", since)
            lines.insert(1, f"outcome (judged at step {at:,}" + (f", {outcome['outcome']} since step {since:,}"
                                                                   if since != at else "") + f"): {outcome['text']}")
        col = VERDICT_COLORS.get(a.verdict, "#333")
        if self._title_style != col:
            self.title.setColor(col)
            self._title_style = col
        if a.step != snap.step:  # lent while this step's analysis is computed in the background
            lines.insert(1, f"step {snap.step:,} shown; its analysis is being computed (this is step {a.step:,}'s)")
        self.title.setText(lines[0])
        self.header.setText("\n".join(lines[1:]))

    def text(self) -> str:
        """Everything the header shows, as plain text."""
        return (self.title.text() + "\n" + self.header.text()).strip()

    def header_text(self) -> str:
        """The header as plain text (for tests and export)."""
        return "\n".join(summary_lines(self.analysis)) if self.analysis is not None else ""

    def _on_clicked(self, index):
        k = self.model.feature_of_row(index.row())
        if k >= 0:
            self.featureClicked.emit(k)
