"""The experiment form: every training option of the schema (model.config.schema),
validated at the field.

The form is built from the schema: one row per option in its group (Model, Data,
Start from | Optimisation, Recording), a line edit for a number, a combo box for a
choice, a check box for a bool, a line edit and a browse button for a file, an
extra check box where the schema gives one for None ("auto", "∞ fresh batches");
each row's tooltip is the option's help and what it allows. Numbers are typed, never
clamped: "1e-3", "0.999", "25_000" and "1e5" (for a whole number) are understood
(Option.parse). On every edit each field is parsed (a parse error names that
field), a ``TrainConfig`` is built and checked once (``TrainConfig.problems()``:
every bad field and every broken rule between fields at once), and each error is
shown at its field: a red border and a message under it naming the field and what
it allows. Fields that do not apply (Option.applies: sparsity and examples for
identity data, momentum unless sgd, ...) are disabled; a bad value left in a
disabled field is not reported and the config carries the default for it.
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from model.config import DEFAULT_WEIGHT_DECAY, ConfigError, Option, TrainConfig, importance_decay, schema
from model.storage.h5io import RunFileError, check_readable
from model.training.engine import cuda_available

#: The groups of each column when the form has two (groups not named here go right).
COLUMNS = (("Model", "Data", "Start from"), ("Optimisation", "Recording"))


def tooltip(opt: Option) -> str:
    """An option's tooltip: its label and help, and what it allows."""
    return f"{opt.label}: {opt.help}.\nAllowed: {opt.allowed()}."


def _show_number(v) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    v = float(v)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)  # round-trips exactly ("0.001", "1e-08")


INVALID_STYLE = "border: 2px solid #d32f2f; border-radius: 3px;"
ERROR_LABEL_STYLE = "color: #d32f2f;"


class _Field:
    """One option's editor(s), its row label and its error label."""

    def __init__(self, key: str, editor: QWidget, styled: QWidget, label: QLabel, container: QWidget,
                 error: QLabel):
        self.key, self.editor, self.styled, self.label, self.container, self.error = \
            key, editor, styled, label, container, error


class ExperimentForm(QWidget):
    """A form for every training option of the schema; refuses bad values at the field.

    Signals: ``validityChanged(bool)`` when the form turns valid/invalid,
    ``configChanged()`` after every edit (valid or not) and after ``set_config``.
    Fields are named by Option.key (``importance_decay`` for the importance list).
    """

    validityChanged = pyqtSignal(bool)
    configChanged = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._options: dict[str, Option] = {o.key: o for o in schema(TrainConfig)}
        self._fields: dict[str, _Field] = {}
        self._none_checks: dict[str, QCheckBox] = {}  # key -> the check box that means None
        self._browse_buttons: dict[str, QPushButton] = {}
        self._errors: dict[str, ConfigError] = {}
        self._cfg: TrainConfig | None = None
        self._valid = True
        self._loading = False
        self._custom_importance: list | None = None
        self._build()
        # the schema's "auto" and "∞ fresh batches" boxes and the run file's browse button
        self.fresh_check = self._none_checks.get("examples")
        self.batch_auto_check = self._none_checks.get("batch")
        self.browse_button = self._browse_buttons.get("init_run")
        self.set_config(TrainConfig())

    # ------------------------------------------------------------------ building
    def _editor(self, opt: Option) -> QWidget:
        """The widget that edits ``opt``: a combo box, a check box or a line edit."""
        if opt.kind == "choice":
            w = QComboBox()
            w.addItems(list(opt.choices))
            w.currentIndexChanged.connect(self._edited)
        elif opt.kind == "bool":
            w = QCheckBox(opt.check_text or opt.label)
            w.toggled.connect(self._edited)
        else:
            w = QLineEdit()
            w.setPlaceholderText(opt.placeholder)
            w.setMinimumWidth(70)
            w.textChanged.connect(self._edited)
        w.setObjectName(f"field_{opt.key}")
        return w

    def _extras(self, opt: Option) -> tuple[tuple, tuple]:
        """(widgets left of the editor, right of it): the None check box, the browse button."""
        if opt.none_check:
            c = QCheckBox(opt.none_check)
            c.setObjectName(f"field_{opt.key}_none")
            c.toggled.connect(self._edited)
            self._none_checks[opt.key] = c
            return (c,), ()
        if opt.kind == "path":
            b = QPushButton("…")
            b.setObjectName(f"browse_{opt.key}")
            b.setToolTip("choose a saved run file")
            b.setFixedWidth(28)
            b.clicked.connect(lambda _=False, key=opt.key: self._browse(key))
            self._browse_buttons[opt.key] = b
            return (), (b,)
        return (), ()

    def _add(self, form: QFormLayout, opt: Option) -> None:
        """A row: label | [left extras, editor, right extras] with an error label underneath."""
        key, editor = opt.key, self._editor(opt)
        left, right = self._extras(opt)
        container = QWidget()
        v = QVBoxLayout(container)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(1)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for w in left:
            row.addWidget(w)
        row.addWidget(editor, 1)
        for w in right:
            row.addWidget(w)
        v.addLayout(row)
        err = QLabel()
        err.setObjectName(f"error_{key}")
        err.setStyleSheet(ERROR_LABEL_STYLE)
        err.setWordWrap(True)
        err.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        err.hide()
        v.addWidget(err)
        lab = QLabel(opt.label)
        tip = tooltip(opt)
        for w in (lab, editor) + left:
            w.setToolTip(tip)
        form.addRow(lab, container)
        self._fields[key] = _Field(key, editor, editor, lab, container, err)

    @staticmethod
    def _form(title: str):
        box = QGroupBox(title)
        f = QFormLayout(box)
        f.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        f.setContentsMargins(6, 6, 6, 6)
        f.setVerticalSpacing(3)
        return box, f

    def _build(self):
        boxes: dict[str, tuple] = {}
        for opt in self._options.values():  # the schema's order within each group
            if opt.group not in boxes:
                boxes[opt.group] = self._form(opt.group)
            self._add(boxes[opt.group][1], opt)

        self.summary = QLabel()
        self.summary.setObjectName("form_summary")
        self.summary.setStyleSheet(ERROR_LABEL_STYLE)
        self.summary.setWordWrap(True)
        self.summary.hide()

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        left, right = QVBoxLayout(), QVBoxLayout()
        for name in COLUMNS[0]:
            if name in boxes:
                left.addWidget(boxes[name][0])
        others = [name for name in boxes if name not in COLUMNS[0] + COLUMNS[1]]
        for name in COLUMNS[1] + tuple(others):
            if name in boxes:
                right.addWidget(boxes[name][0])
        left.addStretch(1)
        right.addStretch(1)
        grid.addLayout(left, 0, 0)
        grid.addLayout(right, 0, 1)
        grid.addWidget(self.summary, 1, 0, 1, 2)
        self._grid, self._left, self._right, self._columns = grid, left, right, 2
        device = self._fields.get("device")
        if device is not None and not cuda_available():  # the choice is there only with a GPU
            form = device.label.parentWidget().layout()
            form.setRowVisible(device.label, False)

    def two_column_width(self) -> int:
        """The width the form needs to show its groups in two columns."""
        return self._left.sizeHint().width() + self._right.sizeHint().width() + self._grid.spacing()

    @property
    def columns(self) -> int:
        return self._columns

    def set_columns(self, n: int) -> None:
        """Lay the groups out in two columns (Model, Data, Start from | Optimisation, Recording)
        or in one (a narrow dock): the same fields, reflowed."""
        n = 1 if n <= 1 else 2
        if n == self._columns:
            return
        g = self._grid
        g.removeItem(self._right)
        g.removeWidget(self.summary)
        if n == 2:
            g.addLayout(self._right, 0, 1)
            g.addWidget(self.summary, 1, 0, 1, 2)
        else:
            g.addLayout(self._right, 1, 0)
            g.addWidget(self.summary, 2, 0)
        self._columns = n

    # ------------------------------------------------------------------ access
    def field_widget(self, key: str) -> QWidget:
        """The editor of a field (the widget that turns red), e.g. ``field_widget("lr")``."""
        return self._fields[key].styled

    def error_label(self, key: str) -> QLabel:
        return self._fields[key].error

    def _text(self, key: str) -> str:
        return self._fields[key].editor.text()

    # ------------------------------------------------------------------ public API
    def set_config(self, cfg: TrainConfig) -> None:
        """Show ``cfg`` in the form (one configChanged, validityChanged if it flips)."""
        self._loading = True
        try:
            self._custom_importance = None
            for opt in self._options.values():
                self._show_value(opt, getattr(cfg, opt.name))
        finally:
            self._loading = False
        self._edited()

    def _show_value(self, opt: Option, value: Any) -> None:
        editor = self._fields[opt.key].editor
        if opt.kind == "choice":
            i = editor.findText(str(value))
            if i < 0:  # an unknown value: show it so that validation can name it
                editor.addItem(str(value))
                i = editor.count() - 1
            editor.setCurrentIndex(i)
        elif opt.kind == "bool":
            editor.setChecked(bool(value))
        elif opt.kind == "path":
            editor.setText(value or "")
        elif opt.kind == "importance":
            editor.setText(self._importance_text(value))
        elif opt.key in self._none_checks:  # None = the box ticked; the number stays for unticking
            self._none_checks[opt.key].setChecked(value is None)
            if value is not None:
                editor.setText(_show_number(value))
            elif not editor.text():
                editor.setText(opt.none_fill)
        else:  # empty = None (an optional option's default, shown as the placeholder)
            editor.setText("" if value is None else _show_number(value))

    def _importance_text(self, imp) -> str:
        """The decay d of importance_decay(n, d), or "custom" (the list is kept), or empty."""
        if imp is None:
            return ""
        decay = _detect_decay(imp)
        if decay is not None:
            return _show_number(decay)
        self._custom_importance = list(imp)
        return "custom"

    def config(self) -> TrainConfig:
        """The form's config; raises ConfigError (the first bad field) when invalid."""
        if self._errors:
            raise next(iter(self._errors.values()))
        return dataclasses.replace(self._cfg)

    def is_valid(self) -> bool:
        return not self._errors

    def errors(self) -> dict:
        """{field: message}; each message names the field and what it allows."""
        return {k: str(e) for k, e in self._errors.items()}

    # ------------------------------------------------------------------ validation
    def _read(self, opt: Option) -> Any:
        """The value of ``opt`` in its widget (for importance: the decay or the kept custom
        list); ConfigError when the text is not a value of its type."""
        editor = self._fields[opt.key].editor
        if opt.kind == "choice":
            return editor.currentText()
        if opt.kind == "bool":
            return editor.isChecked()
        if opt.kind == "path":
            return editor.text().strip() or None
        check = self._none_checks.get(opt.key)
        if check is not None and check.isChecked():
            return None
        text = editor.text()
        if opt.kind == "importance" and text.strip() == "custom" and self._custom_importance:
            return list(self._custom_importance)
        v = opt.parse(text, optional=(opt.optional and check is None) or opt.kind == "importance")
        if opt.kind == "importance" and v is not None:
            why = opt.range_problem(v)
            if why is not None:
                raise ConfigError(opt.key, why)
        return v

    def _values(self) -> tuple[dict, dict]:
        """({field: value} for a TrainConfig, {key: parse error}); a field that does not
        parse carries its default."""
        kw, errors = {}, {}
        for opt in self._options.values():
            try:
                kw[opt.name] = self._read(opt)
            except ConfigError as exc:
                errors[opt.key] = exc
                kw[opt.name] = opt.default
        for opt in self._options.values():  # a decay becomes the list for n (a bad n: none)
            if opt.kind == "importance" and isinstance(kw[opt.name], float):
                n_ok = self._options["n"].problem(kw["n"]) is None
                kw[opt.name] = importance_decay(kw["n"], kw[opt.name]) if n_ok else None
        return kw, errors

    def _edited(self, *_):
        if self._loading:
            return
        kw, parsed_bad = self._values()
        applies = {o.key: o.applies_to(kw) is None for o in self._options.values()}
        errors = {k: e for k, e in parsed_bad.items() if applies[k]}
        cfg = TrainConfig(**kw)
        defaults = {}
        for name, msg in cfg.problems():  # every bad field and broken rule, in one check
            opt = next((o for o in self._options.values() if o.name == name), None)
            key = opt.key if opt is not None else name
            if opt is not None and not applies[key]:
                defaults[name] = opt.default  # a disabled field: not held against the form
            elif key not in errors:
                errors[key] = ConfigError(key, msg)
        if defaults:
            cfg = cfg.replace(**defaults)
        for opt in self._options.values():  # a file to start from must be one a reader opens
            path = kw[opt.name] if opt.kind == "path" else None
            if path and applies[opt.key] and opt.key not in errors:
                try:  # the read guard's own check (a FIFO, a folder, not HDF5: said so; it never blocks)
                    check_readable(path)
                except RunFileError as exc:
                    errors[opt.key] = ConfigError(opt.key, str(exc))
        if "weight_decay" in self._fields:  # empty = the optimiser's own default, named here
            opt_name = kw.get("optimizer", "")
            self._fields["weight_decay"].editor.setPlaceholderText(
                f"default {DEFAULT_WEIGHT_DECAY.get(opt_name, 0.0):g} ({opt_name})")
        self._cfg = cfg
        self._errors = errors
        self._show(applies)
        valid = not errors
        if valid != self._valid:
            self._valid = valid
            self.validityChanged.emit(valid)
        self.configChanged.emit()

    def _show(self, applies: dict) -> None:
        for key, fld in self._fields.items():
            on = applies.get(key, True)
            check = self._none_checks.get(key)
            fld.label.setEnabled(on)
            fld.editor.setEnabled(on and not (check is not None and check.isChecked()))
            if check is not None:
                check.setEnabled(on)
            if key in self._browse_buttons:
                self._browse_buttons[key].setEnabled(on)
            exc = self._errors.get(key)
            if exc is not None:
                fld.styled.setStyleSheet(INVALID_STYLE)
                fld.styled.setProperty("invalid", True)
                fld.error.setText(str(exc))
                fld.error.show()
            else:
                fld.styled.setStyleSheet("")
                fld.styled.setProperty("invalid", False)
                fld.error.clear()
                fld.error.hide()
        unknown = [str(e) for k, e in self._errors.items() if k not in self._fields]
        if self._errors:
            names = ", ".join(self._errors)
            text = f"The run cannot start until this is fixed: {names}."
            if unknown:
                text += "\n" + "\n".join(unknown)
            self.summary.setText(text)
            self.summary.show()
        else:
            self.summary.clear()
            self.summary.hide()

    def _browse(self, key: str) -> None:
        start = os.path.dirname(self._text(key)) or ""
        path, _ = QFileDialog.getOpenFileName(self, "Start from a saved run", start,
                                              "Runs (*.h5 *.hdf5);;All files (*)")
        if path:
            self._fields[key].editor.setText(path)


def _detect_decay(imp) -> float | None:
    """The decay d when ``imp`` is importance_decay(n, d), else None."""
    try:
        vals = [float(v) for v in imp]
    except (TypeError, ValueError):
        return None
    if not vals or vals[0] != 1.0:
        return None
    d = vals[1] if len(vals) > 1 else 1.0
    if not 0.0 < d <= 1.0:
        return None
    ref = importance_decay(len(vals), d)
    if all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300) for a, b in zip(vals, ref, strict=True)):
        return d
    return None


__all__ = ["COLUMNS", "INVALID_STYLE", "ExperimentForm", "tooltip"]
