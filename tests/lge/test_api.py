"""The Python API (lge): its options are the command line's (both built from model.config.schema), each
checked as the command line checks it; what it returns holds the values the run holds and the same
diagnosis as `main.py inspect --json`; results display in Jupyter."""
import argparse
import inspect
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tqdm

import lge
from app.cli import build_parser, config_from_args
from model.config import ConfigError, schema
from model.presets import preset_config
from tests.app.test_export_data import hand_run  # noqa: F401  (a fixture: closed-form models in a run file)
from tests.fresh_python import loaded_after

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_tqdm_monitor(monkeypatch):
    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)


def cli_dests(command):
    subs = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest for a in subs.choices[command]._actions if a.dest != "help"}


@pytest.mark.parametrize("command", ["train", "sweep", "datasize"])
def test_the_apis_options_are_the_command_lines(command):
    api = lge.options(command)
    assert len(api) == len(set(api))
    assert set(api) == cli_dests(command) - set(lge.api.CLI_ONLY)
    assert {o.key for o in schema() if o.cli} <= set(api)  # every training option of the schema
    fn = getattr(lge, command)
    assert list(inspect.signature(fn).parameters) == list(api)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in inspect.signature(fn).parameters.values())


def test_probes_options_are_the_command_lines_that_compute_the_probe():
    cli_only = {"run", "json", "continue_steps", "at", "out", "figure", "force"}
    assert set(lge.api.PROBE_OPTIONS) == cli_dests("probe") - cli_only


@pytest.mark.parametrize("kwargs, field", [
    ({"nn": 3}, "nn"), ({"lr": -1}, "lr"), ({"lr": "fast"}, "lr"), ({"optimizer": "sgdd"}, "optimizer"),
    ({"threads": 0}, "threads"), ({"quiet": "yes"}, "quiet"), ({"steps": 2.5}, "steps"), ({"n": True}, "n"),
    ({"examples": 5}, "examples"), ({"preset": "nope"}, "preset"),
    ({"preset": "smdd", "preset_param": {"T": 0}}, "preset_param"), ({"preset_param": {"T": 3}}, "preset_param"),
])
def test_a_bad_option_fails_with_one_line_naming_it(kwargs, field, tmp_path):
    before = set(Path(os.environ["LGE_DATA_DIR"]).rglob("*.h5")) if Path(os.environ["LGE_DATA_DIR"]).exists() else set()
    with pytest.raises(ConfigError) as e:
        lge.train(**{"quiet": True, **kwargs})
    msg = str(e.value)
    assert len(msg.splitlines()) == 1 and msg.startswith(f"{field}: "), msg
    assert e.value.field == field
    after = set(Path(os.environ["LGE_DATA_DIR"]).rglob("*.h5")) if Path(os.environ["LGE_DATA_DIR"]).exists() else set()
    assert after == before  # nothing trained, nothing written


def test_train_with_a_preset_is_the_command_lines_config_and_run(tmp_path):
    out = tmp_path / "r.h5"
    run = lge.train(preset="seed-failure", steps=60, out=out, quiet=True)
    want = config_from_args(build_parser().parse_args(["train", "--preset", "seed-failure", "--steps", "60"]))
    assert run.config == want == preset_config("seed-failure", steps=60)
    assert run.path == out and out.exists()
    again = lge.open_run(out)
    np.testing.assert_array_equal(run.steps, again.steps)
    np.testing.assert_array_equal(run.loss, again.loss)
    assert run.loss.shape == (61,) and run.steps[-1] == 60
    s, t = run.snapshot(30), again.snapshot(30)
    assert s.step == 30 and s.W.shape == (2, 7) and s.b.shape == (7,) and s.M is None
    np.testing.assert_array_equal(s.W, t.W)
    with pytest.raises(lge.LgeError) as e:  # the file exists: kept, one line naming the option
        lge.train(steps=5, out=out, quiet=True)
    assert str(e.value) == f"out: {out} already exists; pass force to replace it"


@pytest.mark.slow
def test_diagnose_is_inspect_json_as_typed_objects(hand_run):  # noqa: F811
    path, cfg, _ = hand_run
    run = lge.open_run(path)
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "inspect", str(path), "--step", "10", "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert r.returncode == 0, r.stderr
    d = run.diagnose(step=10, model=0)
    assert json.loads(json.dumps(d.to_dict())) == json.loads(r.stdout)
    # the seed's failure, built by hand: feature 7 dead at b = 1/7 beside a regular hexagon
    assert d.verdict == "symmetric_failure" and d.dead == (7,) and d.step == 10 and d.model == 0
    assert d.finding("dead").features == (7,) and d.finding("regular") is not None
    assert d.loss == pytest.approx(6 / 49, abs=1e-6)
    assert isinstance(d.findings[0], lge.Finding) and d.outcome == lge.Outcome.from_json(d.raw.get("outcome"))
    p = run.diagnose(step=0, model=0)  # Henighan's n-gon: every feature reconstructed
    assert p.verdict == "perfect" and p.reconstructed == tuple(range(1, 8)) and p.dead == ()
    assert "symmetric" in d._repr_html_() and "<table>" in d._repr_html_()


def test_outcome_reads_a_name_or_an_object():
    assert lge.Outcome.from_json(None) is None
    assert lge.Outcome.from_json("stuck").name == "stuck"
    o = lge.Outcome.from_json({"outcome": "moving", "text": "the loss still falls", "slope": -1e-6})
    assert (o.name, o.text, o.evidence["slope"]) == ("moving", "the loss still falls", -1e-6)


def test_arrays_and_save_data_are_export_datas(hand_run, tmp_path):  # noqa: F811
    path, cfg, h = hand_run
    run = lge.open_run(path)
    a = run.arrays()
    names = __import__("model.experiments.datafiles", fromlist=["x"]).verdict_names()
    assert [names[v] for v in a["verdict"][:, 0]] == ["perfect", "symmetric_failure"]
    out = run.save_data(tmp_path / "d.npz")
    with np.load(out) as z:
        np.testing.assert_array_equal(z["W"], a["W"])
    with pytest.raises(lge.LgeError):
        run.save_data(out)
    frame = run.diagnoses()
    assert frame["verdict"].tolist() == ["perfect", "symmetric_failure"] and frame["dead"].tolist() == ["", "7"]
    assert run.stable_since(model=0)["step"] == 10


def test_figure_is_a_png_of_the_asked_size(hand_run):  # noqa: F811
    path, _, _ = hand_run
    run = lge.open_run(path)
    fig = run.figure("zones", step=10, size=(320, 240), settings={"zones.clip_to_shape": False})
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.to_pil().size == (320, 240) == (fig.width, fig.height)
    with pytest.raises(lge.LgeError) as e:
        run.figure("zones", settings={"zones.nope": 1})
    assert str(e.value).startswith("set zones.nope") and len(str(e.value).splitlines()) == 1
    with pytest.raises(lge.LgeError) as e:
        run.figure("nope")
    assert str(e.value).startswith("view: invalid choice")


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="the 3D view needs an X display (scripts/xdisplay.sh)")
@pytest.mark.slow
def test_plane3d_figure_on_the_x_display(hand_run):  # noqa: F811
    path, _, _ = hand_run
    fig = lge.open_run(path).figure("plane3d", step=10, axes=(1, 2, 7), size=(400, 300))
    img = np.asarray(fig.to_pil().convert("RGB"))
    assert img.shape == (300, 400, 3) and len(np.unique(img.reshape(-1, 3), axis=0)) > 20  # drawn, not blank


@pytest.mark.slow
def test_sweep_frame_rates_table_and_rerun(tmp_path):
    import pyarrow.parquet as pq

    sw = lge.sweep(n=5, models=6, steps=200, grid={"lr": [1e-3, 1e-2]}, seed=3, quiet=True, out=tmp_path / "s.h5")
    f = sw.frame
    assert len(f) == 12 and f["seed"].tolist() == list(range(3, 9)) * 2 and f["lr"].tolist() == [1e-3] * 6 + [1e-2] * 6
    assert f["verdict"].tolist() == [str(v) for e in sw.sweep.entries for v in e.verdicts]
    assert sw.rates().groupby("config")["count"].sum().tolist() == [6, 6]
    out = sw.save_table(tmp_path / "s.parquet")
    assert pq.read_table(out).to_pandas()["verdict"].tolist() == f["verdict"].tolist()
    again = sw.run(4, config=2, out=tmp_path / "k4.h5", quiet=True)  # model 4 of lr 1e-2, alone: the same model
    assert again.config.seed == 7 and again.config.lr == 1e-2
    np.testing.assert_array_equal(again.snapshot().W.astype(np.float32), sw.sweep.entries[1].W[4])
    assert "<table" in sw._repr_html_()


@pytest.mark.slow
def test_datasize_and_probe(hand_run, tmp_path):  # noqa: F811
    with pytest.raises(ConfigError) as e:
        lge.datasize(n=40)
    assert e.value.field == "sizes"
    ds = lge.datasize(sizes=[3, 5], n=40, steps=20, test_examples=50, quiet=True)
    assert ds.frame["T"].tolist() == [3, 5] and ds.summary()["sizes"] == [3, 5]
    path, _, _ = hand_run
    p = lge.probe(path, step=10, path="bias", feature=7, points=5, range=0.1)
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "probe", str(path), "--step", "10", "--path", "bias",
                        "--feature", "7", "--points", "5", "--range", "0.1", "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert r.returncode == 0, r.stderr
    assert p.data["loss"] == json.loads(r.stdout)["loss"] and len(p.frame) == 5
    # b_7 + t on the seed's failure: output 7 is b_7 + t on every input (W_7 ~ 0); the loss (summed over
    # outputs, averaged over the n inputs) holds ((n - 1)(b_7 + t)^2 + (1 - b_7 - t)^2) / n, least at
    # b_7 + t = 1/n (d(n-1)/n^2 with d = 1 there): slope 0, curvature 2n/n = 2
    assert p.local_min and math.isclose(p.slope, 0.0, abs_tol=1e-5)
    assert p.curvature == pytest.approx(2.0, rel=1e-3)


def test_open_in_window_starts_the_explorer_on_the_file(hand_run, monkeypatch):  # noqa: F811
    path, _, _ = hand_run
    started = []
    monkeypatch.setattr(lge.api.subprocess, "Popen", lambda argv, env: started.append((argv, env)))
    lge.open_in_window(lge.open_run(path))
    monkeypatch.undo()  # the real Popen again, for the command below
    (argv, env), = started
    assert argv == [sys.executable, "-m", "lge", str(path)] and str(ROOT) in env["PYTHONPATH"].split(os.pathsep)
    r = subprocess.run([sys.executable, "-m", "lge", "--help"], capture_output=True, text=True, cwd="/", env=env,
                       timeout=120)
    assert r.returncode == 0 and "train" in r.stdout
    with pytest.raises(lge.LgeError):
        lge.open_in_window(path.parent / "missing.h5")


@pytest.mark.slow
def test_importing_lge_is_light_and_maps_its_subpackages_onto_the_checkout():
    heavy = ("torch", "numba", "pandas", "pyarrow", "h5py", "PyQt6", "pyqtgraph", "matplotlib", "scipy")
    assert loaded_after("import lge", heavy) == []
    r = subprocess.run([sys.executable, "-c", "import lge.model.config as c, lge.app.cli as a; print(c.__file__); "
                        "print(a.__file__)"], capture_output=True, text=True, cwd="/", timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(ROOT / "model" / "config.py"), str(ROOT / "app" / "cli" / "__init__.py")]
