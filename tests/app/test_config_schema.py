"""Adding a training option is one edit: an ``option(...)`` field on TrainConfig. Here a
config class with one more option (a subclass, put in TrainConfig's place with
monkeypatch, so nothing is left changed) shows up in the experiment form, on the command
line and in the sweep grid, each refusing an out-of-range value by name."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import sys

import pytest

import model.config
import model.experiments.sweep
import widgets.experiment_form
from model.config import ConfigError, TrainConfig, option, schema


@dataclasses.dataclass
class _WithDropout(TrainConfig):
    dropout: float = option(0.0, "float", "probability of dropping a latent unit", label="dropout p",
                            group="Optimisation", low=0.0, high=1.0, high_open=True, sweep=True)


def _holders():
    """(module, attribute) of every loaded module's name bound to the patched class."""
    return [(mod, name) for mod in list(sys.modules.values()) if mod is not None
            for name, v in list(vars(mod).items()) if v is _WithDropout and mod.__name__ != __name__]


@pytest.fixture
def with_dropout(monkeypatch):
    """The one edit, in place for one test: TrainConfig with a 'dropout' option."""
    for mod in (model.config, model.experiments.sweep, widgets.experiment_form):
        monkeypatch.setattr(mod, "TrainConfig", _WithDropout)
    yield _WithDropout
    # a module first imported during the test bound the patched name ("from model.config
    # import TrainConfig"): give it the real class, as monkeypatch does for the three above
    for mod, name in _holders():
        setattr(mod, name, TrainConfig)
    model.config._schema.cache_clear()


def test_the_new_option_is_in_the_schema_and_validated(with_dropout):
    opt = {o.name: o for o in model.config.schema()}["dropout"]
    assert (opt.default, opt.flag, opt.allowed()) == (0.0, "--dropout", "a number in [0, 1)")
    assert with_dropout(dropout=0.5).validate().dropout == 0.5
    with pytest.raises(ConfigError) as ei:
        with_dropout(dropout=1.0, n=0).validate()
    assert ei.value.errors == [("n", "must be from 1 to 100000, got 0"), ("dropout", "must be in [0, 1), got 1")]


def test_the_new_option_is_in_the_form(with_dropout, qtbot):
    form = widgets.experiment_form.ExperimentForm()
    qtbot.addWidget(form)
    w = form.field_widget("dropout")
    assert "probability of dropping a latent unit" in w.toolTip() and "[0, 1)" in w.toolTip()
    assert w.text() == "0" and form.is_valid()
    assert w.parentWidget().parentWidget().title() == "Optimisation"  # its group box
    w.setText("0.25")
    cfg = form.config()
    assert isinstance(cfg, with_dropout) and cfg.dropout == 0.25
    w.setText("1")
    assert list(form.errors()) == ["dropout"] and "[0, 1)" in form.errors()["dropout"]
    assert w.property("invalid") is True
    form.set_config(with_dropout(dropout=0.125))
    assert w.text() == "0.125" and form.config().dropout == 0.125


def _main(argv):
    from app.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("cmd", [["train"], ["sweep"], ["datasize", "--sizes", "3"]])
def test_the_new_option_is_on_every_training_command(with_dropout, cmd):
    from app.cli import build_parser, config_from_args

    a = build_parser().parse_args([*cmd, "--dropout", "0.25"])
    cfg = config_from_args(a)
    assert isinstance(cfg, with_dropout) and cfg.dropout == 0.25
    assert config_from_args(build_parser().parse_args(cmd)).dropout == 0.0
    rc, out, err = _main([*cmd, "--dropout", "1.5"])  # refused before anything trains
    assert rc == 2 and out == "" and err.strip().splitlines() == [f"main.py {cmd[0]}: --dropout: must be in [0, 1), got 1.5"]
    rc, out, err = _main([*cmd, "--dropout", "lots"])
    assert rc == 2 and err.strip().splitlines() == [f"main.py {cmd[0]}: --dropout: must be a number, got 'lots'"]


def test_every_bad_option_is_named_on_one_line(with_dropout):
    rc, out, err = _main(["train", "--n", "0", "--dropout", "2"])
    assert rc == 2 and err.strip().splitlines() == [
        "main.py train: --n: must be from 1 to 100000, got 0; --dropout: must be in [0, 1), got 2"]


def test_the_new_option_is_in_the_sweep_grid(with_dropout):
    from model.experiments.sweep import expand_grid, parse_grid

    grid = parse_grid(["dropout=0,0.5", "n=6"])
    assert grid == {"dropout": [0.0, 0.5], "n": [6]}
    plan = expand_grid(with_dropout(), grid)
    assert [cfg.dropout for _, cfg in plan] == [0.0, 0.5]
    with pytest.raises(ConfigError) as ei:
        parse_grid(["dropout=0.5,1"])
    assert ei.value.errors == [("grid", "dropout=1: must be in [0, 1), got 1")]
    with pytest.raises(ConfigError, match="dropout values must be numbers"):
        parse_grid(["dropout=x"])


def test_no_trace_is_left_behind():
    """After the tests above (monkeypatch undone): the real schema has no dropout."""
    assert "dropout" not in {o.name for o in schema()}
    assert "dropout" not in {o.name for o in model.config.schema()}
    assert model.experiments.sweep.TrainConfig is TrainConfig is model.config.TrainConfig
    assert _holders() == []  # no module, imported before or during the tests, holds the patched class
    with pytest.raises(ConfigError, match="unknown key 'dropout'"):
        model.experiments.sweep.parse_grid(["dropout=0.5"])
