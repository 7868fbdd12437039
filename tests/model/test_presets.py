"""Presets: each one a valid config of the schema, and the ones that claim a closed form
reach it when trained (checked against the maths, not against an earlier output)."""
import math

import numpy as np
import pytest

from model import presets
from model.analysis.analysis import analyze
from model.config import ConfigError, TrainConfig
from model.training.engine import train


def test_every_preset_builds_a_valid_config():
    for name, p in presets.PRESETS.items():
        cfg = p.build()
        assert isinstance(cfg, TrainConfig)
        assert cfg.problems() == [], name
        assert p.title and p.summary and p.reproduces


def test_unknown_preset_names_the_allowed_ones():
    with pytest.raises(ConfigError) as e:
        presets.get("nope")
    assert e.value.field == "preset"
    for name in presets.PRESETS:
        assert name in str(e.value)


def test_unknown_parameter_is_refused():
    with pytest.raises(ConfigError) as e:
        presets.get("seed-failure").build(T=5)
    assert "T" in str(e.value)


def test_smdd_takes_T_and_keeps_smdd_setting():
    cfg = presets.preset_config("smdd", {"T": 5})
    assert (cfg.n, cfg.m, cfg.examples, cfg.sparsity, cfg.steps) == (10_000, 2, 5, 0.999, 50_000)
    assert cfg.schedule == "warmup-cosine"
    with pytest.raises(ConfigError):
        presets.preset_config("smdd", {"T": 0})


def test_changes_are_validated():
    cfg = presets.preset_config("tms-5-2", steps=10)
    assert cfg.steps == 10
    with pytest.raises(ConfigError):
        presets.preset_config("tms-5-2", steps=-1)


def test_tms_importance_is_the_decay_profile():
    cfg = presets.preset_config("tms-20-5")
    np.testing.assert_allclose(cfg.importance_vector(), 0.7 ** np.arange(20))


def test_henighan_preset_starts_at_the_closed_form():
    """Step 0 is Henighan's solution: r^2 = 1/(1 - cos 2pi/n), b_i = -r^2 cos 2pi/n, loss 0."""
    n = 9
    tr = train(presets.preset_config("henighan", {"n": n}, steps=0))
    snap = tr.history.snapshot(step=0)
    r2 = 1.0 / (1.0 - math.cos(2 * math.pi / n))
    np.testing.assert_allclose(np.sum(np.asarray(snap.W, float) ** 2, axis=0), r2, rtol=1e-5)
    np.testing.assert_allclose(snap.b, -r2 * math.cos(2 * math.pi / n), rtol=1e-5)
    assert analyze(snap).verdict == "perfect"


def test_seed_failure_preset_reaches_the_seeds_failure():
    """One dead feature at b = 1/7 beside a regular hexagon: loss d(n-1)/n^2 = 6/49."""
    tr = train(presets.preset_config("seed-failure"))
    a = analyze(tr.history.snapshot())
    assert a.verdict == "symmetric_failure"
    assert abs(a.loss - 6 / 49) < 1e-4
    dead = [f for f in a.findings if f.kind == "dead"]
    assert dead and len(dead[0].features) == 1
    i = dead[0].features[0]  # 0-based inside the model (1-based in to_dict)
    assert abs(float(tr.history.snapshot().b[i]) - 1 / 7) < 1e-3
