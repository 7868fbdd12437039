"""The analysis in words and numbers: the verdict (perfect / symmetric failure /
merged / two-circle / imperfect), the regularity figures, and the per-feature
table (a QTableView over a model, so n = 10,000 costs nothing until scrolled),
selected features first."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PyQt6.QtCore import QAbstractTableModel, QCoreApplication, QEvent, QModelIndex, QObject, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPainter, QResizeEvent
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QScrollArea,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from model.analysis.analysis import DEAD_ABS, DEAD_REL, OWN_TOL, RECON_TOL, Analysis, finding_lines
from model.snapshot import NOT_FINITE, Snapshot, not_finite_message
from resources import palette

from .live_text import LiveText
from .views2d import feature_colors_for, fmt_num, qcolor, ranges_text, selected_of

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from model.analysis.frame import Frame

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
#: The verdicts' colours as '#rrggbb' (resources.palette.VERDICT_COLORS, the one table).
VERDICT_COLORS = {k: palette.hex_color(v) for k, v in palette.VERDICT_COLORS.items()}
#: The table keeps room for this many rows when the findings share the panel's height with it.
TABLE_ROWS_SHOWN = 8
#: The colour of the initial parameters (step 0): no verdict, so no verdict's colour.
INITIAL_COLOR = palette.hex_color(palette.INITIAL_COLOR)
#: What each column of the table holds and how to read it (the header's tooltips); the thresholds
#: are model.analysis.analysis's own.
COLUMN_TIPS = {
    "feature": "feature i (1-based) in its colour; selected features first, in bold",
    "norm": (f"|W_i|, the length of feature i's vector; dead below {DEAD_REL:g} x the largest (or {DEAD_ABS:g}); "
             f"an untied model is judged on the function's own vectors (the balanced factor of M W)"),
    "angle": "the direction of W_i on the latent plane, degrees",
    "bias": "b_i; a dead feature's best bias under MSE on one-hot data is 1/n (its output is then the mean target)",
    "D_i": ("fractional dimensionality D_i = |W_i|^2 / sum_j (W_i/|W_i| . W_j)^2: the share of a dimension feature i "
            "has to itself. 1: orthogonal to every other feature; each of the n features of a regular polygon in "
            "m = 2 gets 2/n; 0 for W_i = 0"),
    "p_i(W_i)": (f"output i's pre-activation on its own input e_i (|W_i|^2 + b_i when tied); output i fires when it "
                 f"exceeds {RECON_TOL:g}; the target is 1, and a perfect model has it within {OWN_TOL:g} of 1"),
    "max p_j": (f"the largest pre-activation of another live output j on input e_i; e_i is reconstructed only if it "
                f"stays at or below {RECON_TOL:g} (no other output fires)"),
    "reconstructed": (f"yes: input e_i fires output i (p_i > {RECON_TOL:g}) and no other live output (max p_j <= "
                      f"{RECON_TOL:g}): the seed's unique single positive value (perfect also asks every output to be "
                      f"within tolerance of its target)"),
    "dead": ("dead: |W_i| below the dead threshold, the output is ReLU(b_i) whatever the input; output: an output that "
             "never fires on any input (untied decoders)"),
    "separable": ("yes (margin): W_i lies outside the convex hull of the other live W_j, so a line separates it; the "
                  "margin is its distance to that hull. no: it lies inside. Empty for dead features"),
    "fires at x >": ("the smallest one-hot input value x > 0 at which output i fires, -b_i / |W_i|^2 (0: fires for any "
                     "x > 0; never: it cannot fire)"),
    "merged": (f"the live features whose inputs fire the same outputs as e_i (each output above {RECON_TOL:g}): the "
               f"outputs cannot tell these inputs apart, so at most one of them is reconstructed"),
}
#: The line under the table: how to read the margins of the findings and where the columns are explained.
LEGEND = ("[margin ...] after a finding: how far its number is from the threshold that decides it, positive where the "
          "finding holds; 'dec' = decades, log10 of the ratio to the threshold (+2 dec: a factor 100 to spare), "
          "plain numbers are pre-activation units. D_i: fractional dimensionality (1: a dimension of its own); "
          "p_i: pre-activation of output i on input e_i. Hover over a column header for the rest.")
#: Why a perfect verdict may sit beside an irregular finding (shown when both hold).
WIGGLE_ROOM = ("perfect though irregular: every input fires its own output and no other, which is all that zero loss "
               "asks; it does not force equal radii or equal gaps (wiggle room), so the polygon may be irregular")


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
        self.of: np.ndarray | None = None

    def _build(self) -> np.ndarray:
        of = self.of = np.full(self.n, -1, dtype=np.int64)
        if self.groups:
            lens = [len(g) for g in self.groups]
            flat = np.fromiter((i for g in self.groups for i in g), dtype=np.int64, count=sum(lens))
            of[flat] = np.repeat(np.arange(len(self.groups)), lens)
        return of

    def get(self, i: int, default: Iterable[int] = ()) -> list[int]:
        if not self.groups:
            return list(default)
        of = self.of if self.of is not None else self._build()
        gi = int(of[i]) if 0 <= i < len(of) else -1
        if gi < 0:
            return list(default)
        return [j for j in self.groups[gi] if j != i]


def merged_partners(a: Analysis) -> Partners:
    """{feature: [partners]}-like lookup (0-based) from the analysis' merged groups."""
    return Partners(a.merged_groups, a.n)


def cell_text(a: Analysis, i: int, col: int, partners: Partners | None = None) -> str:
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


def is_initial(step: int) -> bool:
    """Whether ``step`` holds the initial parameters: step 0, before the first update."""
    return int(step) == 0


def title_line(a: Analysis) -> str:
    """The panel's title: the verdict and its reason; at step 0 the initial parameters have none.

    A verdict is a claim about what training found (a failure is where optimisation got stuck);
    step 0 is the initialisation, before any update, so calling it a failure would blame training
    for a random draw. The findings below still describe the initial geometry, and a researcher
    reads them as the starting point: that is where the story on the timeline begins."""
    if is_initial(a.step):
        return "Before training (step 0): the initial parameters, no verdict yet"
    return f"{verdict_words(a.verdict)}: {a.verdict_text}"


def verdict_color(verdict: str, step: int) -> str:
    """The colour of a verdict at a step (the title, the timeline's marks): grey at step 0."""
    return INITIAL_COLOR if is_initial(step) else VERDICT_COLORS.get(verdict, palette.hex_color(palette.VERDICT_OTHER))


def verdict_label(a: Analysis, step: int) -> str:
    """The verdict in a few words for a status line: 'before training' at step 0."""
    return "before training (initial parameters)" if is_initial(step) else a.verdict.replace("_", " ")


def event_text(verdict: str, step: int, text: str) -> str:
    """A diagnosis event's text on the timeline (model.analysis.story): at step 0, the initial parameters."""
    return f"initial parameters (as initialised: {text})" if is_initial(step) else text


def dress_story(events: list[dict]) -> list[dict]:
    """Colour and word the story's diagnosis events (model.analysis.story.story_events) for the timeline and the
    feature history, in place: the verdict's colour, grey and 'initial parameters' at step 0."""
    for e in events:
        if e.get("kind", "diagnosis") == "diagnosis":  # plateaus and outcomes keep their own marks
            e["color"] = verdict_color(e["verdict"], e["step"])
            e["text"] = event_text(e["verdict"], e["step"], e["text"])
    return events


def summary_lines(a: Analysis) -> list[str]:
    """The header text as plain lines: verdict, loss, regularity, counts, plane."""
    lines = [title_line(a)]
    if is_initial(a.step):
        lines.append(f"as initialised the geometry reads as {a.verdict.replace('_', ' ')} ({a.verdict_text}); a verdict "
                     f"names what training found, so none is given before the first update")
    loss = a.loss if a.loss is not None else float("nan")
    kind = "exact float64, one-hot" if a.onehot else "recorded"
    lines.append(f"step {a.step} \u00b7 n = {a.n} \u00b7 m = {a.m} \u00b7 loss {fmt_num(loss, 8)} ({kind})")
    # the findings behind the verdict, each with its numbers and margin, then the closed-form reference
    found = finding_lines(a)
    if found:
        lines.append("findings:")
        lines.extend(found)
        if a.verdict == "perfect" and a.finding("irregular") is not None:
            lines.append("  " + WIGGLE_ROOM)
    rg = "; ".join(f"r \u2248 {g['radius']:.4g}: {ranges_text((np.asarray(g['members']) + 1).tolist(), 40)}"
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
                 + (f" ({ranges_text((np.nonzero(a.dead_mask)[0] + 1).tolist(), 40)})" if nd else "")
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

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.a: Analysis | None = None
        self.order = np.zeros(0, dtype=np.int64)
        self.colors = np.zeros((0, 4), np.uint8)
        self.selected: frozenset[int] = frozenset()
        self.partners: Partners | None = None
        self._bold = QFont()
        self._bold.setBold(True)
        self._grey = QColor(130, 130, 130)
        self._qcolors: dict[int, QColor] = {}

    def set_analysis(self, a: Analysis | None, order: ArrayLike, colors: np.ndarray,
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
        self.partners = merged_partners(a) if a is not None else None
        if same_rows:
            if len(order):
                self.dataChanged.emit(self.index(0, 0), self.index(len(order) - 1, len(COLUMNS) - 1))
        else:
            self.endResetModel()

    def feature_of_row(self, row: int) -> int:
        return int(self.order[row]) if 0 <= row < len(self.order) else -1

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's own signature
        return 0 if parent.isValid() or self.a is None else len(self.order)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's own signature
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> str | None:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{COLUMNS[section]}: {COLUMN_TIPS[COLUMNS[section]]}"
        return None

    _DISPLAY = Qt.ItemDataRole.DisplayRole
    _DECORATION = Qt.ItemDataRole.DecorationRole
    _FONT = Qt.ItemDataRole.FontRole
    _FOREGROUND = Qt.ItemDataRole.ForegroundRole
    _ALIGN = Qt.ItemDataRole.TextAlignmentRole
    _HANDLED = frozenset((_DISPLAY, _DECORATION, _FONT, _FOREGROUND, _ALIGN))
    _RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def cell(self, row: int, col: int) -> tuple[str, QColor | None, bool, bool, bool]:
        """(text, colour swatch or None, bold, dead, right-aligned) of a cell, in one call (the delegate's)."""
        a = self.a
        assert a is not None  # asked only for the rows of an analysis (rowCount is 0 without one)
        i = int(self.order[row])
        dec = None
        if col == 0:
            dec = self._qcolors.get(i)
            if dec is None:
                dec = self._qcolors[i] = qcolor(self.colors[i])
        return (cell_text(a, i, col, self.partners), dec, i in self.selected, bool(a.dead_mask[i]), 0 < col < 7)

    def data(self, index: QModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> str | QColor | QFont | int | None:
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

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._bold = QFont()
        self._bold.setBold(True)
        self._grey = QColor(130, 130, 130)
        self._text: QColor | None = None

    _SELECTED = QStyle.StateFlag.State_Selected.value

    def paint(self, p: QPainter | None, opt: QStyleOptionViewItem, index: QModelIndex) -> None:
        m = index.model()
        if p is None or not isinstance(m, FeatureTableModel) or m.a is None:
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
# the content and the panel

class VerdictContent(QWidget):
    """What the verdict table draws, and nothing else: the verdict in words (``title``), the findings and
    regularity figures (``header``, in a scroll area), the per-feature table (``table`` over ``model``,
    painted by a FastDelegate) and its legend, the findings over the table in a splitter. Its table
    reports no clicks and selects nothing: the window's ``VerdictPanel`` embeds this content and adds
    those; the exporter (app.export.figure) builds a content alone, sizes it and paints it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        # plain-text labels (rich text is re-parsed and re-laid out on every frame)
        # LiveText, not QLabel: a QLabel's setText relayouts the whole window on every frame
        self.title = LiveText(wrap=True)
        f = QFont(self.font())
        f.setPointSize(12)
        f.setBold(True)
        self.title.setFont(f)
        lay.addWidget(self.title)
        # the findings wrap at the panel's width (a long one is never cut off) and scroll when the
        # header is taller than its share; the splitter gives the table or the text more room
        self.header = LiveText(wrap=True)
        f = QFont(self.font())
        f.setPointSize(9)
        self.header.setFont(f)
        self.header.setColor("#444")
        self.header_scroll = QScrollArea()
        self.header_scroll.setWidget(self.header)
        self.header_scroll.setWidgetResizable(True)
        self.header_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.header_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._title_style: str | None = None
        self.model = FeatureTableModel(self)
        self.table = self._build_table()
        self.legend = LiveText(LEGEND, wrap=True)
        f = QFont(self.font())
        f.setPointSize(8)
        self.legend.setFont(f)
        self.legend.setColor("#666")
        self.legend.setObjectName("verdict_legend")
        below = QWidget()
        bl = QVBoxLayout(below)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.setSpacing(2)
        bl.addWidget(self.table, 1)
        bl.addWidget(self.legend)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.header_scroll)
        self.splitter.addWidget(below)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        #: the user moved the splitter (the window's panel says so): their sizes stay
        self.split_by_hand = False
        lay.addWidget(self.splitter, 1)
        self.analysis: Analysis | None = None
        self.verdict = ""
        self._frame: Frame | None = None

    def _build_table(self) -> QTableView:
        """The per-feature table, read only: no selection, no clicks (the panel's)."""
        table = QTableView()
        table.setModel(self.model)
        table.setItemDelegate(FastDelegate(table))
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        vh, hh = table.verticalHeader(), table.horizontalHeader()
        assert vh is not None and hh is not None  # a QTableView has both
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(20)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        for c, w in enumerate((70, 82, 60, 82, 50, 75, 75, 90, 45, 90, 80, 70)):  # norm, bias: 6.096e-09 fits
            table.setColumnWidth(c, w)
        return table

    def show_not_finite(self, text: str | None) -> None:
        """The title says the snapshot is not finite (``text``: what and where); None: nothing
        (the next snapshot's verdict replaces it)."""
        if text is None:
            return
        head, _, detail = text.partition(": ")
        self.verdict = NOT_FINITE
        self.title.setColor("#961414")
        self._title_style = None
        self.title.setText(head)
        self.header.setText(detail + "\nno verdict: nothing is analysed from NaN or inf")

    def set_frame(self, frame: Frame | None) -> None:
        """Draw ``frame`` (None clears): the verdict, the findings, the outcome in force and the table. A
        snapshot that is not finite has no verdict: the title says so."""
        self._frame = frame
        snap = None if frame is None else frame.snapshot
        if snap is not None and not snap.finite:
            self._draw(None, frame)
            self.show_not_finite(not_finite_message(snap, frame.nonfinite if frame is not None else None))
            return
        self._draw(snap, frame)

    @property
    def frame(self) -> Frame | None:
        """The frame drawn last."""
        return self._frame

    def _draw(self, snap: Snapshot | None, frame: Frame | None) -> None:
        if snap is None or frame is None or snap.n == 0:
            self.analysis = None
            self.verdict = ""
            self.title.setText("")
            self.header.setText("")
            self.model.set_analysis(None, np.zeros(0, dtype=np.int64), np.zeros((0, 4), np.uint8), ())
            return
        a = frame.view_analysis()
        self.analysis = a
        self.verdict = a.verdict
        colors = feature_colors_for(snap, frame)
        sel = selected_of(frame, snap.n)
        self.model.set_analysis(a, table_order(snap.n, sel.tolist()), colors, sel.tolist())
        lines = summary_lines(a)
        outcome = frame.outcome
        if outcome and not is_initial(a.step):  # model.analysis.story's outcome event in force: "Symmetric failure, stuck: ..."
            lines[0] = f"{verdict_words(a.verdict)}, {outcome['outcome']}: {a.verdict_text}"
            since = outcome["step"]
            at = outcome.get("judged_at", since)
            lines.insert(1, f"outcome (judged at step {at:,}" + (f", {outcome['outcome']} since step {since:,}"
                                                                   if since != at else "") + f"): {outcome['text']}")
        col = verdict_color(a.verdict, a.step)
        if self._title_style != col:
            self.title.setColor(col)
            self._title_style = col
        if a.step != snap.step:  # lent while this step's analysis is computed in the background
            lines.insert(1, f"step {snap.step:,} shown; its analysis is being computed (this is step {a.step:,}'s)")
        self.title.setText(lines[0])
        self.header.setText("\n".join(lines[1:]))
        self._settle_layout()

    def _settle_layout(self) -> None:
        """Lay out now what a new text's height changed (the title in the panel, the findings in
        their scroll area), inside the frame: the resized texts are then painted with the frame's
        other changes. Left to the event loop, the layout ran after the frame's repaint and cost a
        second repaint and flush of the window in most scrubbed frames (benchmarks/bench_gui.py). Then
        the findings get their share of the height (``_share_height``)."""
        kind = QEvent.Type.LayoutRequest.value
        QCoreApplication.sendPostedEvents(self, kind)  # the title's height: the splitter's share
        self._share_height()  # the findings' share of the splitter
        for w in (self.header_scroll.viewport(), self.header_scroll, self.header_scroll.viewport()):
            QCoreApplication.sendPostedEvents(w, kind)  # the findings in their scroll area (a scroll bar shown or gone)

    def _share_height(self) -> None:
        """The findings get the height their wrapped text needs, leaving the table room for its
        rows (up to TABLE_ROWS_SHOWN) and the legend; past that both share (the findings scroll).
        Once the user moves the splitter, their sizes stay."""
        total = self.splitter.height()
        if self.split_by_hand or total <= 0:
            return
        vp = self.header_scroll.viewport()
        need = self.header.heightForWidth(max(vp.width() if vp is not None else 0, 50)) + 4
        rows = min(self.model.rowCount(), TABLE_ROWS_SHOWN)
        table = (rows + 1) * 20 + 8 + self.legend.heightForWidth(max(self.legend.width(), 50))
        head = int(min(need, max(total - table, 0.35 * total)))
        if abs(self.splitter.sizes()[0] - head) > 2:
            self.splitter.setSizes([head, total - head])

    def resizeEvent(self, e: QResizeEvent | None) -> None:
        super().resizeEvent(e)
        self._share_height()

    def text(self) -> str:
        """Everything the header shows, as plain text."""
        return (self.title.text() + "\n" + self.header.text()).strip()

    def header_text(self) -> str:
        """The header as plain text (for tests and export)."""
        return "\n".join(summary_lines(self.analysis)) if self.analysis is not None else ""


class VerdictPanel(QWidget):
    """The verdict table in the window: its content (``CONTENT``, a VerdictContent: the verdict, findings and
    per-feature table) with what is only for the window: a row of the table is selected by a click and
    reported (``featureClicked``), and a splitter moved by hand keeps its sizes. What the content holds
    (``title``, ``header``, ``table``, ``model``, ``analysis``, ``verdict``, ``text()``, ...) reads through
    the panel."""

    featureClicked = pyqtSignal(int)
    #: what the view draws (buildable without this widget: the exporter does)
    CONTENT = VerdictContent

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.content = self.CONTENT()
        lay.addWidget(self.content)
        table = self.content.table
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.clicked.connect(self._on_clicked)
        self.content.splitter.splitterMoved.connect(self._split_moved)

    def __getattr__(self, name: str) -> Any:
        """What the content holds (its widgets, the analysis drawn, its texts) reads through the panel."""
        if name == "content" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.content, name)

    def set_frame(self, frame: Frame | None) -> None:
        """Draw ``frame`` (None clears): the content draws it (VerdictContent.set_frame), laid out in the
        panel at once (the content's new height is not left to the event loop)."""
        self.content.set_frame(frame)
        QCoreApplication.sendPostedEvents(self, QEvent.Type.LayoutRequest.value)

    @property
    def frame(self) -> Frame | None:
        """The frame drawn last."""
        return self.content.frame

    def _split_moved(self, *_: object) -> None:
        self.content.split_by_hand = True

    def _on_clicked(self, index: QModelIndex) -> None:
        k = self.content.model.feature_of_row(index.row())
        if k >= 0:
            self.featureClicked.emit(k)
