"""The training-config schema and validate(): every bad field at once, each error naming
the field and what it allows; the ranges' open and closed ends; the rules between fields."""
from __future__ import annotations

import math

import pytest

from model.config import ConfigError, TrainConfig, schema


def test_validate_reports_every_bad_field_at_once():
    cfg = TrainConfig(n=0, lr=-1.0, sparsity=1.0, steps=-5, optimizer="rmsprop", bias="yes")
    with pytest.raises(ConfigError) as ei:
        cfg.validate()
    e = ei.value
    # the schema's order: Model, Data, Optimisation, ...
    assert [f for f, _ in e.errors] == ["n", "bias", "sparsity", "optimizer", "lr", "steps"]
    assert e.field == "n" and e.message == "must be from 1 to 100000, got 0"
    lines = str(e).splitlines()
    assert lines == [
        "n: must be from 1 to 100000, got 0",
        "bias: must be true or false, got 'yes'",
        "sparsity: must be in [0, 1), got 1",
        "optimizer: must be one of adam, adamw, sgd; got 'rmsprop'",
        "lr: must be in (0, 100], got -1",
        "steps: must be from 0 to 1000000000, got -5",
    ]


def test_rules_between_fields_are_reported_beside_the_fields_own_errors():
    with pytest.raises(ConfigError) as ei:
        TrainConfig(lr=0.0, init="analytic", m=3, n=5, batch=6).validate()
    assert ei.value.errors == [
        ("lr", "must be in (0, 100], got 0"),
        ("batch", "must be from 1 to n = 5 for identity data, got 6"),
        ("init", "analytic (Henighan's n-gon) needs m = 2, got m = 3"),
    ]


def test_a_rule_is_not_checked_when_one_of_its_fields_is_bad_on_its_own():
    # batch <= n cannot be judged with a bad n; analytic's m = 2 not with a bad m
    with pytest.raises(ConfigError) as ei:
        TrainConfig(n=0, batch=6, m=0, init="analytic").validate()
    assert [f for f, _ in ei.value.errors] == ["n", "m"]


def test_importance_must_have_one_entry_per_feature():
    with pytest.raises(ConfigError) as ei:
        TrainConfig(n=3, importance=[1.0, 0.5]).validate()
    assert ei.value.errors == [("importance", "must be a list of n = 3 numbers >= 0")]
    assert TrainConfig(n=2, importance=[1, 0.5]).validate().importance == [1.0, 0.5]


def test_a_valid_config_has_no_problems_and_validate_returns_it():
    cfg = TrainConfig()
    assert cfg.problems() == [] and cfg.validate() is cfg


def test_onehot_is_identity_data():
    assert TrainConfig().onehot and TrainConfig(data="identity").num_examples == 7
    assert not TrainConfig(data="sparse").onehot


def _inside_and_outside(opt):
    """(values inside the range, values just outside), from its ends and whether each is open."""
    if opt.kind == "int":
        return [opt.low, opt.high], [opt.low - 1, opt.high + 1]
    lo, hi = float(opt.low), float(opt.high)
    inside = [math.nextafter(lo, math.inf) if opt.low_open else lo,
              math.nextafter(hi, -math.inf) if opt.high_open else hi]
    outside = [lo if opt.low_open else math.nextafter(lo, -math.inf),
               hi if opt.high_open else math.nextafter(hi, math.inf)]
    return inside, outside


@pytest.mark.parametrize("opt", [o for o in schema() if o.kind in ("int", "float")], ids=lambda o: o.name)
def test_each_numeric_option_accepts_its_ends_and_refuses_just_beyond(opt):
    base = {"data": "sparse"} if opt.name in ("examples", "batch") else {}
    inside, outside = _inside_and_outside(opt)
    for v in inside:
        TrainConfig(**dict(base, **{opt.name: v})).validate()
    for v in outside:
        with pytest.raises(ConfigError) as ei:
            TrainConfig(**dict(base, **{opt.name: v})).validate()
        ends = f"from {opt.low} to {opt.high}" if opt.kind == "int" else \
            f"{'(' if opt.low_open else '['}{opt.low:g}, {opt.high:g}{')' if opt.high_open else ']'}"
        assert ei.value.errors == [(opt.name, ei.value.message)] and ends in ei.value.message


@pytest.mark.parametrize("opt", [o for o in schema() if o.kind == "choice"], ids=lambda o: o.name)
def test_each_choice_option_accepts_its_choices_only(opt):
    for v in opt.choices:
        TrainConfig(**{opt.name: v, **({"init_run": "x.h5"} if v == "run" else {})}).validate()
    with pytest.raises(ConfigError) as ei:
        TrainConfig(**{opt.name: "nope"}).validate()
    assert ei.value.errors == [(opt.name, f"must be one of {', '.join(opt.choices)}; got 'nope'")]


def test_the_documented_bounds():
    """The bounds as the README and the form state them, written out by hand."""
    o = {x.name: x for x in schema()}
    assert o["n"].allowed() == "a whole number from 1 to 100000"
    assert o["lr"].allowed() == "a number in (0, 100]"
    assert o["sparsity"].allowed() == "a number in [0, 1)"
    assert o["importance"].allowed() == "a number in (0, 1]"  # of the decay
    assert o["bias"].flag == "--no-bias" and o["importance"].flag == "--importance-decay"
    assert o["init"].sweep_choices == ("xavier", "analytic")
