"""The model picker: which of the K models trained together the views show.

A spin box "model k (seed s + k)" and a sortable table of the K models (model,
seed, final loss, verdict). The table is a QTableView over a QAbstractTableModel
that reads numpy arrays: no per-cell items, so K = 10,000 costs what the visible
rows cost. Sorting reorders a permutation (numpy argsort, stable), never the data.
Clicking a row (or moving the current row with the keyboard) chooses that model.
For K = 1 the picker hides and disables itself.

Models are numbered from 0, like the CLI's ``--init-model``; model k of a run
with seed s is the same model as a single run with seed s + k.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PyQt6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

COLUMNS = ("model", "seed", "final loss", "verdict")
COL_MODEL, COL_SEED, COL_LOSS, COL_VERDICT = range(4)


class ModelTableModel(QAbstractTableModel):
    """K rows read from numpy arrays through a sort permutation."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._seeds = np.zeros(0, dtype=np.int64)
        self._losses = np.zeros(0, dtype=np.float64)
        self._verdicts: list = []
        self._order = np.zeros(0, dtype=np.int64)  # row -> model
        self._rows = np.zeros(0, dtype=np.int64)  # model -> row
        self._sort: tuple = (COL_MODEL, Qt.SortOrder.AscendingOrder)

    # data
    def set_data(self, seeds: ArrayLike, losses: ArrayLike, verdicts: Sequence[str | None] | None) -> None:
        self.beginResetModel()
        self._seeds = np.asarray(seeds, dtype=np.int64).reshape(-1)
        self._losses = np.asarray(losses, dtype=np.float64).reshape(-1)
        K = len(self._seeds)
        if len(self._losses) != K:
            self.endResetModel()
            raise ValueError(f"seeds and losses must have the same length, got {K} and {len(self._losses)}")
        self._verdicts = list(verdicts) if verdicts is not None else [""] * K
        if len(self._verdicts) != K:
            self.endResetModel()
            raise ValueError(f"verdicts must have {K} entries, got {len(self._verdicts)}")
        self._apply_sort()
        self.endResetModel()

    def update_losses(self, losses: ArrayLike, verdicts: Sequence[str | None] | None = None) -> None:
        """New final losses/verdicts for the same K models (keeps the sort)."""
        losses = np.asarray(losses, dtype=np.float64).reshape(-1)
        K = len(self._seeds)
        if len(losses) != K or (verdicts is not None and len(verdicts) != K):
            raise ValueError(f"losses and verdicts must have {K} entries")
        self.layoutAboutToBeChanged.emit()
        old = self._order.copy()
        self._losses = losses
        if verdicts is not None:
            self._verdicts = list(verdicts)
        self._apply_sort()
        rows_of = self._rows
        for idx in self.persistentIndexList():
            if idx.row() < len(old):
                k = int(old[idx.row()])
                self.changePersistentIndex(idx, self.index(int(rows_of[k]), idx.column()))
        self.layoutChanged.emit()

    @property
    def K(self) -> int:
        return len(self._seeds)

    def model_at(self, row: int) -> int:
        return int(self._order[row])

    def row_of(self, k: int) -> int:
        return int(self._rows[k])

    # Qt model API
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's own signature
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's own signature
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> str | None:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> str | int | None:
        if not index.isValid():
            return None
        k = int(self._order[index.row()])
        c = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if c == COL_MODEL:
                return str(k)
            if c == COL_SEED:
                return str(int(self._seeds[k]))
            if c == COL_LOSS:
                v = float(self._losses[k])
                # NaN: no loss recorded yet (before the first step). A model that diverged
                # keeps the loss of its last finite snapshot (the session hands that over).
                return f"{v:.6g}" if np.isfinite(v) else ("–" if np.isnan(v) else str(v))
            return str(self._verdicts[k]) if self._verdicts[k] is not None else ""
        if role == Qt.ItemDataRole.TextAlignmentRole and c != COL_VERDICT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return k
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        old = self._order.copy()
        self._sort = (int(column), order)
        self._apply_sort()
        for idx in self.persistentIndexList():
            if idx.row() < len(old):
                k = int(old[idx.row()])
                self.changePersistentIndex(idx, self.index(int(self._rows[k]), idx.column()))
        self.layoutChanged.emit()

    def _apply_sort(self) -> None:
        K = len(self._seeds)
        column, order = self._sort
        models = np.arange(K, dtype=np.int64)
        if column == COL_SEED:
            key = self._seeds
        elif column == COL_LOSS:
            key = self._losses
        elif column == COL_VERDICT:
            names = sorted(set(map(str, self._verdicts)))
            rank = {v: i for i, v in enumerate(names)}
            key = np.array([rank[str(v)] for v in self._verdicts], dtype=np.int64)
        else:
            key = models
        if order == Qt.SortOrder.DescendingOrder:
            key = -key
        # stable; ties by model number; NaN (no loss yet) last either way
        if key.dtype.kind == "f":
            nan = np.isnan(key)
            order_ = np.lexsort((models, np.where(nan, 0.0, key), nan))
        else:
            order_ = np.lexsort((models, key))
        self._order = order_.astype(np.int64)
        self._rows = np.empty(K, dtype=np.int64)
        self._rows[self._order] = np.arange(K, dtype=np.int64)


class ModelPicker(QWidget):
    """Choose the model the views show. Signal: ``modelChosen(int)`` (0-based model)."""

    modelChosen = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._current = 0
        self._updating = False
        self._auto_hidden = False
        self._restore_visible = False

        self.spin = QSpinBox()
        self.spin.setObjectName("model_spin")
        self.spin.setPrefix("model ")
        self.spin.setRange(0, 0)
        self.spin.setKeyboardTracking(False)
        self.spin.setToolTip("the model the views show (0-based); model k uses seed s + k")
        self.spin.valueChanged.connect(self._spin_changed)
        self.seed_label = QLabel()
        self.seed_label.setObjectName("model_seed_label")

        self.table_model = ModelTableModel(self)
        self.view = QTableView()
        self.view.setObjectName("model_table")
        self.view.setModel(self.table_model)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(COL_MODEL, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        # fixed row heights: the view never asks every row for its size
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        hh = self.view.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        hh.setSortIndicatorShown(True)
        for c, w in ((COL_MODEL, 60), (COL_SEED, 80), (COL_LOSS, 90)):
            self.view.setColumnWidth(c, w)
        self.view.setToolTip("click a row to show that model; click a header to sort")
        self.view.clicked.connect(self._row_clicked)
        self.view.selectionModel().currentRowChanged.connect(self._current_row_changed)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.spin)
        top.addWidget(self.seed_label, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        lay.addLayout(top)
        lay.addWidget(self.view, 1)
        self.set_models(np.zeros(1, dtype=np.int64), np.full(1, np.nan), None)

    # ------------------------------------------------------------------ API
    @property
    def K(self) -> int:
        return self.table_model.K

    @property
    def current(self) -> int:
        return self._current

    def set_models(self, seeds: ArrayLike, losses: ArrayLike, verdicts: Sequence[str] | None = None) -> None:
        """The K models: their seeds, final losses and (optionally) verdicts. Keeps the
        current model when it still exists. K = 1 hides and disables the picker."""
        same_k = len(np.asarray(seeds).reshape(-1)) == self.table_model.K and self.table_model.K > 0
        if same_k and np.array_equal(np.asarray(seeds, dtype=np.int64).reshape(-1), self.table_model._seeds):
            self.table_model.update_losses(losses, verdicts)  # live updates keep sort and selection
        else:
            self.table_model.set_data(seeds, losses, verdicts)
        K = self.table_model.K
        self._updating = True
        try:
            self.spin.setRange(0, max(K - 1, 0))
            if self._current >= K:
                self._current = 0
            self.spin.setValue(self._current)
            self._select_row()
        finally:
            self._updating = False
        self._update_seed_label()
        self._apply_k(K)

    def set_current(self, k: int) -> None:
        """Show model k as chosen, without emitting modelChosen."""
        k = int(k)
        if not 0 <= k < max(self.table_model.K, 1):
            raise ValueError(f"model must be from 0 to {self.table_model.K - 1}, got {k}")
        self._show(k)

    # ------------------------------------------------------------------ internals
    def _apply_k(self, K: int) -> None:
        single = K <= 1
        self.setEnabled(not single)
        if single and not self._auto_hidden:
            # a top-level picker comes back only if it was showing; a child always does
            self._restore_visible = self.isVisible()
            self._auto_hidden = True
            self.setVisible(False)
        elif not single and self._auto_hidden:
            self._auto_hidden = False
            if not self.isWindow() or self._restore_visible:
                self.setVisible(True)

    def _update_seed_label(self) -> None:
        if self.table_model.K:
            seed = int(self.table_model._seeds[self._current])
            self.seed_label.setText(f"(seed {seed})")
        else:
            self.seed_label.clear()

    def _select_row(self) -> None:
        if not self.table_model.K:
            return
        row = self.table_model.row_of(self._current)
        idx = self.table_model.index(row, 0)
        sel = self.view.selectionModel()
        sel.setCurrentIndex(idx, sel.SelectionFlag.ClearAndSelect | sel.SelectionFlag.Rows)
        self.view.scrollTo(idx)

    def _choose(self, k: int) -> None:
        if k == self._current:
            return
        self._show(k)
        self.modelChosen.emit(k)

    def _show(self, k: int) -> None:
        """Make k the current model in the spin box, the table and the seed label (no signal)."""
        self._current = k
        self._updating = True
        try:
            self.spin.setValue(k)
            self._select_row()
        finally:
            self._updating = False
        self._update_seed_label()

    def _spin_changed(self, k: int) -> None:
        if not self._updating:
            self._choose(int(k))

    def _row_clicked(self, index: QModelIndex) -> None:
        if index.isValid() and not self._updating:
            self._choose(self.table_model.model_at(index.row()))

    def _current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and not self._updating:
            self._choose(self.table_model.model_at(current.row()))


__all__ = ["COLUMNS", "ModelPicker", "ModelTableModel"]
