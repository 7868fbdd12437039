"""The experiment form: every option of ``TrainConfig``, validated at the field.

Numbers are typed into line edits, never clamped: "1e-3", "0.999", "25_000" and
"1e5" (for a whole number) are understood; a bad value ("abc", "-1", "2" for
sparsity, n = 0, "analytic" with m != 2) is refused at its field, which gets a red
border and a message under it naming the field and what is allowed. The form
validates on every edit: each field is parsed (a parse error names that field),
then a ``TrainConfig`` is built and ``validate()``-d; every ``ConfigError`` is
mapped back to the widget of its field. Fields that do not apply (sparsity and
examples for identity data, momentum unless sgd, betas/eps for sgd, warm-up
unless warmup-cosine, the run fields unless init = run) are disabled; a bad
value left in a disabled field is not reported and the config carries the
default for it.

The allowed ranges shown in tooltips and parse errors live in one table,
``LIMITS``, which mirrors the bounds of ``TrainConfig.validate()`` (a test probes
validate() at each bound so the two cannot drift apart).
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Optional

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

from model.config import (
    DATA_KINDS,
    DEFAULT_WEIGHT_DECAY,
    INITS,
    MAX_MODELS,
    MAX_N,
    OPTIMIZERS,
    SCHEDULES,
    ConfigError,
    TrainConfig,
    importance_decay,
)

# --------------------------------------------------------------------------- limits
# One place for every bound the form tells a person about. ("int", lo, hi) or
# ("float", lo, hi, lo_open, hi_open) or ("choice", options). The numeric bounds
# mirror TrainConfig.validate(); "importance_decay" is the form's (and the CLI's)
# own option: importance I_i = decay**i.
LIMITS: dict = {
    "n": ("int", 1, MAX_N),
    "m": ("int", 1, 1000),
    "data": ("choice", DATA_KINDS),
    "sparsity": ("float", 0.0, 1.0, False, True),
    "examples": ("int", 1, 10_000_000),
    "batch": ("int", 1, 1_000_000),
    "steps": ("int", 0, 1_000_000_000),
    "optimizer": ("choice", OPTIMIZERS),
    "lr": ("float", 0.0, 100.0, True, False),
    "weight_decay": ("float", 0.0, 100.0, False, False),
    "momentum": ("float", 0.0, 1.0, False, True),
    "beta1": ("float", 0.0, 1.0, False, True),
    "beta2": ("float", 0.0, 1.0, False, True),
    "eps": ("float", 0.0, 1.0, True, False),
    "schedule": ("choice", SCHEDULES),
    "warmup": ("int", 0, 1_000_000_000),
    "seed": ("int", 0, 2**31 - 1 - MAX_MODELS),
    "models": ("int", 1, MAX_MODELS),
    "init": ("choice", INITS),
    "init_step": ("int", 0, 10**12),
    "init_model": ("int", 0, MAX_MODELS),
    "importance_decay": ("float", 0.0, 1.0, True, False),
    "history_budget_mb": ("float", 0.01, 1_000_000.0, False, False),
}

# What each field means (the first half of its tooltip).
HELP: dict = {
    "n": "n: features (output dimensions)",
    "m": "m: latent dimensions",
    "data": "data: identity = the n one-hot examples; sparse = entries 0 with probability S, "
            "else uniform (0, 1], unit-norm rows",
    "sparsity": "sparsity S: probability that an entry is 0 (sparse data only)",
    "examples": "examples T: a finite training set fixed by the seed (sparse data only); "
                "tick '∞ fresh batches' for a new batch every step",
    "batch": "batch: examples per step; 'auto' = full batch for finite sets, 1024 for fresh data",
    "steps": "steps: training steps",
    "optimizer": "optimizer",
    "lr": "lr: learning rate, e.g. 1e-3",
    "weight_decay": "weight decay: decoupled for adamw, L2 for adam and sgd; empty = the optimiser's own default, "
                    "as in torch (" + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_WEIGHT_DECAY.items()) + ")",
    "momentum": "momentum (sgd only)",
    "beta1": "beta1: Adam's first-moment decay (adam, adamw)",
    "beta2": "beta2: Adam's second-moment decay (adam, adamw)",
    "eps": "eps: Adam's denominator epsilon (adam, adamw)",
    "schedule": "schedule: constant, or linear warm-up then cosine decay to 0",
    "warmup": "warmup: warm-up steps (warmup-cosine only)",
    "seed": "seed: model k uses seed + k",
    "models": "models K: models trained at once (model k uses seed + k)",
    "init": "init: xavier (normal), analytic (Henighan's n-gon, needs m = 2), run (continue a saved run)",
    "init_run": "run file: the saved run to start from (init = run)",
    "init_step": "run step: the snapshot at or before this step; empty = the latest",
    "init_model": "run model: which model of the saved run, 0-based",
    "bias": "bias: train a bias b (unticked: b = 0)",
    "untied": "untied: decoder M separate from W, x' = ReLU(M W x + b)",
    "importance_decay": "importance decay: per-feature importance I_i = decay**(i-1) "
                        "(feature i, 1-based); empty = all 1",
    "history_budget_mb": "history budget: memory for the recorded history, in MB",
}


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def allowed_text(key: str) -> str:
    """What the field allows, in words (the tooltips' and parse errors' text)."""
    rule = LIMITS.get(key)
    if rule is None:
        return ""
    if rule[0] == "int":
        return f"a whole number from {_fmt(rule[1])} to {_fmt(rule[2])}"
    if rule[0] == "float":
        _, lo, hi, lo_open, hi_open = rule
        return f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    return "one of " + ", ".join(rule[1])


def tooltip(key: str) -> str:
    allowed = allowed_text(key)
    text = HELP.get(key, key)
    return f"{text}.\nAllowed: {allowed}." if allowed else f"{text}."


# --------------------------------------------------------------------------- parsing
def _parse_int(key: str, text: str, optional: bool = False) -> Optional[int]:
    t = text.strip().replace(",", "").replace(" ", "")
    if not t:
        if optional:
            return None
        raise ConfigError(key, f"is required: {allowed_text(key)}")
    try:
        return int(t)
    except ValueError:
        pass
    try:
        v = float(t)
    except ValueError:
        raise ConfigError(key, f"must be {allowed_text(key)}, got {text.strip()!r}") from None
    if math.isfinite(v) and v == int(v):
        return int(v)
    raise ConfigError(key, f"must be {allowed_text(key)}, got {text.strip()!r}")


def _parse_float(key: str, text: str, optional: bool = False) -> Optional[float]:
    t = text.strip().replace(",", "").replace(" ", "")
    if not t:
        if optional:
            return None
        raise ConfigError(key, f"is required: {allowed_text(key)}")
    try:
        v = float(t)
    except ValueError:
        raise ConfigError(key, f"must be {allowed_text(key)}, got {text.strip()!r}") from None
    if not math.isfinite(v):
        raise ConfigError(key, f"must be a finite number, {allowed_text(key)}; got {text.strip()!r}")
    return v


def _show_number(v) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    v = float(v)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)  # round-trips exactly ("0.001", "1e-08")


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
# substitutes used while collecting every error (validate() stops at the first)
_SUBSTITUTE = dict(_DEFAULTS, init_run="<unset>")

INVALID_STYLE = "border: 2px solid #d32f2f; border-radius: 3px;"
ERROR_LABEL_STYLE = "color: #d32f2f;"


class _Field:
    """One option's editor(s), its row label and its error label."""

    def __init__(self, key: str, editor: QWidget, styled: QWidget, label: QLabel, container: QWidget,
                 error: QLabel):
        self.key, self.editor, self.styled, self.label, self.container, self.error = \
            key, editor, styled, label, container, error


class ExperimentForm(QWidget):
    """A form for every training option; refuses bad values at the field.

    Signals: ``validityChanged(bool)`` when the form turns valid/invalid,
    ``configChanged()`` after every edit (valid or not) and after ``set_config``.
    """

    validityChanged = pyqtSignal(bool)
    configChanged = pyqtSignal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._fields: dict[str, _Field] = {}
        self._errors: dict[str, ConfigError] = {}
        self._cfg: Optional[TrainConfig] = None
        self._valid = True
        self._loading = False
        self._custom_importance: Optional[list] = None
        self._build()
        self.set_config(TrainConfig())

    # ------------------------------------------------------------------ building
    def _line(self, key: str, placeholder: str = "") -> QLineEdit:
        e = QLineEdit()
        e.setObjectName(f"field_{key}")
        e.setPlaceholderText(placeholder)
        e.setMinimumWidth(70)
        e.textChanged.connect(self._edited)
        return e

    def _combo(self, key: str, options) -> QComboBox:
        c = QComboBox()
        c.setObjectName(f"field_{key}")
        c.addItems(list(options))
        c.currentIndexChanged.connect(self._edited)
        return c

    def _check(self, key: str, text: str) -> QCheckBox:
        c = QCheckBox(text)
        c.setObjectName(f"field_{key}")
        c.toggled.connect(self._edited)
        return c

    def _add(self, form: QFormLayout, key: str, label: str, editor: QWidget, *, extra: tuple = (),
             styled: Optional[QWidget] = None):
        """A row: label | [editor, extra widgets] with an error label underneath."""
        container = QWidget()
        v = QVBoxLayout(container)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(1)
        if extra:
            row = QHBoxLayout()
            row.setContentsMargins(0, 0, 0, 0)
            for w in extra:
                row.addWidget(w)
            row.addWidget(editor, 1)
            v.addLayout(row)
        else:
            v.addWidget(editor)
        err = QLabel()
        err.setObjectName(f"error_{key}")
        err.setStyleSheet(ERROR_LABEL_STYLE)
        err.setWordWrap(True)
        err.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        err.hide()
        v.addWidget(err)
        lab = QLabel(label)
        tip = tooltip(key)
        lab.setToolTip(tip)
        editor.setToolTip(tip)
        for w in extra:
            w.setToolTip(tip)
        form.addRow(lab, container)
        self._fields[key] = _Field(key, editor, styled or editor, lab, container, err)

    @staticmethod
    def _form(title: str):
        box = QGroupBox(title)
        f = QFormLayout(box)
        f.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        f.setContentsMargins(6, 6, 6, 6)
        f.setVerticalSpacing(3)
        return box, f

    def _build(self):
        model_box, fm = self._form("Model")
        self._add(fm, "n", "n features", self._line("n"))
        self._add(fm, "m", "m latent dims", self._line("m"))
        self.bias_check = self._check("bias", "train a bias b")
        self._add(fm, "bias", "bias", self.bias_check)
        self.untied_check = self._check("untied", "untied decoder M")
        self._add(fm, "untied", "untied", self.untied_check)
        self._add(fm, "models", "models K", self._line("models"))
        self._add(fm, "seed", "seed", self._line("seed"))

        data_box, fd = self._form("Data")
        self._add(fd, "data", "data", self._combo("data", DATA_KINDS))
        self._add(fd, "sparsity", "sparsity S", self._line("sparsity"))
        self.fresh_check = QCheckBox("∞ fresh batches")
        self.fresh_check.setObjectName("field_examples_fresh")
        self.fresh_check.toggled.connect(self._edited)
        self._add(fd, "examples", "examples T", self._line("examples", "T"), extra=(self.fresh_check,))
        self.batch_auto_check = QCheckBox("auto")
        self.batch_auto_check.setObjectName("field_batch_auto")
        self.batch_auto_check.toggled.connect(self._edited)
        self._add(fd, "batch", "batch", self._line("batch"), extra=(self.batch_auto_check,))
        self._add(fd, "importance_decay", "importance decay", self._line("importance_decay", "all 1"))

        opt_box, fo = self._form("Optimisation")
        self._add(fo, "optimizer", "optimizer", self._combo("optimizer", OPTIMIZERS))
        self._add(fo, "lr", "lr", self._line("lr"))
        self._add(fo, "weight_decay", "weight decay", self._line("weight_decay"))
        self._add(fo, "momentum", "momentum", self._line("momentum"))
        self._add(fo, "beta1", "beta1", self._line("beta1"))
        self._add(fo, "beta2", "beta2", self._line("beta2"))
        self._add(fo, "eps", "eps", self._line("eps"))
        self._add(fo, "schedule", "schedule", self._combo("schedule", SCHEDULES))
        self._add(fo, "warmup", "warm-up steps", self._line("warmup"))
        self._add(fo, "steps", "steps", self._line("steps"))

        init_box, fi = self._form("Start from")
        self._add(fi, "init", "init", self._combo("init", INITS))
        self.browse_button = QPushButton("…")
        self.browse_button.setObjectName("browse_init_run")
        self.browse_button.setToolTip("choose a saved run file")
        self.browse_button.setFixedWidth(28)
        self.browse_button.clicked.connect(self._browse)
        run_edit = self._line("init_run", "saved run (.h5)")
        self._add(fi, "init_run", "run file", run_edit)
        # the browse button sits right of the path
        row = self._fields["init_run"].container.layout()
        row.removeWidget(run_edit)
        h = QHBoxLayout()
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(run_edit, 1)
        h.addWidget(self.browse_button)
        row.insertLayout(0, h)
        self._add(fi, "init_step", "run step", self._line("init_step", "latest"))
        self._add(fi, "init_model", "run model", self._line("init_model"))

        rec_box, fr = self._form("Recording")
        self._add(fr, "history_budget_mb", "history budget (MB)", self._line("history_budget_mb"))

        self.summary = QLabel()
        self.summary.setObjectName("form_summary")
        self.summary.setStyleSheet(ERROR_LABEL_STYLE)
        self.summary.setWordWrap(True)
        self.summary.hide()

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        left = QVBoxLayout()
        left.addWidget(model_box)
        left.addWidget(data_box)
        left.addWidget(init_box)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(opt_box)
        right.addWidget(rec_box)
        right.addStretch(1)
        grid.addLayout(left, 0, 0)
        grid.addLayout(right, 0, 1)
        grid.addWidget(self.summary, 1, 0, 1, 2)
        self._grid, self._left, self._right, self._columns = grid, left, right, 2

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

    def _choice(self, key: str) -> str:
        return self._fields[key].editor.currentText()

    # ------------------------------------------------------------------ public API
    def set_config(self, cfg: TrainConfig) -> None:
        """Show ``cfg`` in the form (one configChanged, validityChanged if it flips)."""
        self._loading = True
        try:
            f = self._fields
            for key in ("n", "m", "steps", "warmup", "seed", "models", "init_model"):
                f[key].editor.setText(_show_number(getattr(cfg, key)))
            for key in ("sparsity", "lr", "momentum", "beta1", "beta2", "eps", "history_budget_mb"):
                f[key].editor.setText(_show_number(getattr(cfg, key)))
            # empty = the optimiser's own default (shown as the placeholder)
            f["weight_decay"].editor.setText("" if cfg.weight_decay is None else _show_number(cfg.weight_decay))
            for key in ("data", "optimizer", "schedule", "init"):
                combo: QComboBox = f[key].editor
                i = combo.findText(str(getattr(cfg, key)))
                if i < 0:  # an unknown value: show it so validate() can name it
                    combo.addItem(str(getattr(cfg, key)))
                    i = combo.count() - 1
                combo.setCurrentIndex(i)
            self.fresh_check.setChecked(cfg.examples is None)
            if cfg.examples is not None:
                f["examples"].editor.setText(_show_number(cfg.examples))
            elif not f["examples"].editor.text():
                f["examples"].editor.setText("1000")
            self.batch_auto_check.setChecked(cfg.batch is None)
            if cfg.batch is not None:
                f["batch"].editor.setText(_show_number(cfg.batch))
            elif not f["batch"].editor.text():
                f["batch"].editor.setText("1024")
            f["init_run"].editor.setText(cfg.init_run or "")
            f["init_step"].editor.setText("" if cfg.init_step is None else _show_number(cfg.init_step))
            self.bias_check.setChecked(bool(cfg.bias))
            self.untied_check.setChecked(bool(cfg.untied))
            self._custom_importance = None
            imp_text = ""
            if cfg.importance is not None:
                decay = _detect_decay(cfg.importance)
                if decay is not None:
                    imp_text = _show_number(decay)
                else:
                    self._custom_importance = list(cfg.importance)
                    imp_text = "custom"
            f["importance_decay"].editor.setText(imp_text)
        finally:
            self._loading = False
        self._edited()

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
    def _applies(self, key: str, data: str, optimizer: str, schedule: str, init: str) -> bool:
        if key in ("sparsity", "examples"):
            return data == "sparse"
        if key == "momentum":
            return optimizer == "sgd"
        if key in ("beta1", "beta2", "eps"):
            return optimizer != "sgd"
        if key == "warmup":
            return schedule == "warmup-cosine"
        if key in ("init_run", "init_step", "init_model"):
            return init == "run"
        return True

    def _edited(self, *_):
        if self._loading:
            return
        data, optimizer = self._choice("data"), self._choice("optimizer")
        schedule, init = self._choice("schedule"), self._choice("init")
        applies = {k: self._applies(k, data, optimizer, schedule, init) for k in self._fields}
        errors: dict[str, ConfigError] = {}
        kw: dict = {}

        def parse(key, fn, optional=False):
            try:
                kw[key] = fn(key, self._text(key), optional)
            except ConfigError as exc:
                if applies[key]:
                    errors[key] = exc
                kw[key] = _SUBSTITUTE[key]

        for key in ("n", "m", "steps", "warmup", "seed", "models", "init_model"):
            parse(key, _parse_int)
        parse("init_step", _parse_int, True)
        for key in ("sparsity", "lr", "momentum", "beta1", "beta2", "eps", "history_budget_mb"):
            parse(key, _parse_float)
        parse("weight_decay", _parse_float, True)
        wd = self._fields["weight_decay"].editor
        wd.setPlaceholderText(f"default {DEFAULT_WEIGHT_DECAY.get(optimizer, 0.0):g} ({optimizer})")
        if self.fresh_check.isChecked():
            kw["examples"] = None
        else:
            parse("examples", _parse_int)
        if self.batch_auto_check.isChecked():
            kw["batch"] = None
        else:
            parse("batch", _parse_int)
        for key in ("data", "optimizer", "schedule", "init"):
            kw[key] = self._choice(key)
        path = self._text("init_run").strip()
        kw["init_run"] = path or None
        kw["bias"] = self.bias_check.isChecked()
        kw["untied"] = self.untied_check.isChecked()

        # importance: a decay (rebuilt from n whenever n changes), "custom" (kept list) or empty
        decay = None
        imp_text = self._text("importance_decay").strip()
        custom = self._custom_importance if imp_text == "custom" and self._custom_importance else None
        if custom is None:
            try:
                decay = _parse_float("importance_decay", imp_text, True)
                if decay is not None and not 0.0 < decay <= 1.0:
                    raise ConfigError("importance_decay", f"must be {allowed_text('importance_decay')}, "
                                      f"got {decay:g}")
            except ConfigError as exc:
                errors["importance_decay"] = exc
                decay = None

        def importance_for(n):
            if custom is not None:
                return list(custom)
            if decay is None:
                return None
            if isinstance(n, int) and 1 <= n <= MAX_N:
                return importance_decay(n, decay)
            return None  # n itself is bad: validate() names n first

        # validate, collecting every error: validate() stops at the first, so substitute
        # the default for each bad field and go on (a field that does not apply is not
        # reported: its default goes into the config)
        cfg = None
        seen = set()
        for _ in range(len(_DEFAULTS) + 2):
            kw["importance"] = importance_for(kw["n"])
            cfg = TrainConfig(**kw)
            try:
                cfg.validate()
                break
            except ConfigError as exc:
                fname = exc.field
                if fname in seen:  # the substitute did not help: stop here
                    break
                seen.add(fname)
                key = "importance_decay" if fname == "importance" else fname
                if applies.get(key, True) and key not in errors:
                    errors[key] = exc
                if fname == "importance":
                    custom, decay = None, None
                elif fname in _SUBSTITUTE:
                    kw[fname] = _SUBSTITUTE[fname]
                else:
                    break
        if init == "run" and path and "init_run" not in errors and not os.path.isfile(path):
            errors["init_run"] = ConfigError("init_run", f"no such file: {path}")
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
            fld.label.setEnabled(on)
            fld.editor.setEnabled(on and not (
                (key == "examples" and self.fresh_check.isChecked())
                or (key == "batch" and self.batch_auto_check.isChecked())))
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
        self.fresh_check.setEnabled(applies["examples"])
        self.browse_button.setEnabled(applies["init_run"])
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

    def _browse(self):
        start = os.path.dirname(self._text("init_run")) or ""
        path, _ = QFileDialog.getOpenFileName(self, "Start from a saved run", start,
                                              "Runs (*.h5 *.hdf5);;All files (*)")
        if path:
            self._fields["init_run"].editor.setText(path)


def _detect_decay(imp) -> Optional[float]:
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
    if all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300) for a, b in zip(vals, ref)):
        return d
    return None


__all__ = ["ExperimentForm", "LIMITS", "HELP", "allowed_text", "tooltip", "INVALID_STYLE"]
