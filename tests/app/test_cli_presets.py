"""`--preset NAME --preset-param KEY=VALUE` on train and sweep: the preset's config (model.presets), with the
options given beside it replacing its values, and one line for a bad preset or parameter."""
import json
import math

import numpy as np
import pytest
import tqdm

from app.cli import build_parser, config_from_args, main
from model.presets import preset_config
from model.storage.runfile import open_run


@pytest.fixture(autouse=True)
def _no_tqdm_monitor(monkeypatch):
    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)


def parsed(*argv):
    return config_from_args(build_parser().parse_args(list(argv)))


def test_a_preset_is_its_config_and_given_options_replace_its_values():
    assert parsed("train", "--preset", "seed-failure") == preset_config("seed-failure")
    cfg = parsed("train", "--preset", "seed-failure", "--optimizer", "adamw", "--steps", "50")
    # --optimizer adamw is the schema's default, yet it was given: it replaces the preset's sgd
    assert (cfg.optimizer, cfg.steps, cfg.seed, cfg.n) == ("adamw", 50, 10, 7)
    assert parsed("train", "--preset", "smdd", "--preset-param", "T=7").examples == 7
    imp = parsed("train", "--preset", "tms-5-2", "--importance-decay", "0.5").importance
    assert imp == pytest.approx([0.5 ** i for i in range(5)])
    assert parsed("sweep", "--preset", "seed-failure", "--models", "4").optimizer == "sgd"


def test_henighan_preset_with_a_parameter_trains_the_closed_form(tmp_path, capsys):
    out = tmp_path / "h.h5"
    assert main(["train", "--preset", "henighan", "--preset-param", "n=9", "--steps", "0", "--quiet",
                 "--out", str(out)]) == 0
    run = open_run(out)
    assert run.config == preset_config("henighan", {"n": 9}, steps=0)
    snap = run.history.snapshot(step=0)
    r2 = 1 / (1 - math.cos(2 * math.pi / 9))  # Henighan: r^2 = 1/(1 - cos 2pi/n), b = -r^2 cos 2pi/n
    np.testing.assert_allclose(np.sum(snap.W ** 2, axis=0), r2, rtol=1e-5)
    np.testing.assert_allclose(snap.b, -r2 * math.cos(2 * math.pi / 9), rtol=1e-5)
    assert "perfect" in capsys.readouterr().out


def test_sweep_json_reports_the_presets_config(tmp_path, capsys):
    assert main(["sweep", "--preset", "seed-failure", "--models", "3", "--steps", "20", "--json", "--quiet",
                 "--out", str(tmp_path / "s.h5")]) == 0
    (conf,) = json.loads(capsys.readouterr().out)["configurations"]
    assert conf["config"] == preset_config("seed-failure", steps=20, models=3).to_dict()
    assert conf["models"] == 3


@pytest.mark.parametrize("argv, says", [
    (["--preset", "smdd", "--preset-param", "T=0"], "--preset-param: T: must be a whole number"),
    (["--preset", "smdd", "--preset-param", "X=3"], "--preset-param: smdd takes no parameter 'X' (allowed: T)"),
    (["--preset", "smdd", "--preset-param", "T"], "--preset-param: must be KEY=VALUE"),
    (["--preset", "henighan", "--preset-param", "n=seven"], "--preset-param: n must be a whole number"),
    (["--preset-param", "T=3"], "--preset-param: applies to --preset"),
    (["--preset", "nope"], "--preset: invalid choice"),
])
def test_bad_presets_are_one_line(tmp_path, capsys, argv, says):
    assert main(["train", *argv, "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err, err
    assert list(tmp_path.iterdir()) == []


def test_help_lists_the_presets_and_their_parameters(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in ("seed-failure", "henighan", "tms-5-2", "tms-20-5", "smdd"):
        assert name in text
    assert "smdd (T, default 100)" in text
