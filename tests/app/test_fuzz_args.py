"""Every subcommand of main.py refuses a bad argument the same way: one line on stderr that
names the flag (or the file), exit status 2, no traceback, nothing on stdout, and no new or
changed file in the working directory (or the data folder, which lives inside it here).

The cases run in-process (``app.cli.main(argv)``), one fresh working directory each. The
entry points that train, render or encode are replaced by a tripwire: a bad value that slips
through validation fails its case at once ("accepted: reached ...") instead of running. A few
cases at the end run main.py as a real process, to check the real entry point the same way.

Families per option: negative, zero, huge, NaN, inf, non-numeric, fraction (for whole
numbers), empty, a missing value, and conflicting options. A family is listed for an option
only where the value is outside what the option allows (``--steps 0`` is allowed, so it is
not a case).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

INT_FAMILIES = {"negative": "-3", "zero": "0", "huge": "1000000000000000", "nan": "nan", "inf": "inf",
                "non-numeric": "seven", "fraction": "1.5", "empty": ""}
FLOAT_FAMILIES = {"negative": "-3", "zero": "0", "huge": "1e300", "nan": "nan", "inf": "inf", "-inf": "-inf",
                  "non-numeric": "abc", "empty": ""}
CHOICE_FAMILIES = {"unknown": "bogus", "empty": ""}


def _numeric(kind: str, flag: str, ok=(), prefix=(), suffix=()):
    """Cases for a numeric flag: every family except those in ``ok``, plus the missing value."""
    fams = INT_FAMILIES if kind == "int" else FLOAT_FAMILIES
    out = [(f"{flag}={fam}", [*prefix, f"{flag}={v}", *suffix], flag) for fam, v in fams.items() if fam not in ok]
    out.append((f"{flag}=missing", [*prefix, *suffix, flag], flag))
    return out


def _choice(flag: str, prefix=(), suffix=()):
    out = [(f"{flag}={fam}", [*prefix, flag, v, *suffix], flag) for fam, v in CHOICE_FAMILIES.items()]
    out.append((f"{flag}=missing", [*prefix, *suffix, flag], flag))
    return out


def _values(flag: str, values, prefix=(), suffix=(), needle=None):
    return [(f"{flag}={v!r}", [*prefix, f"{flag}={v}", *suffix], needle or flag) for v in values] + [
        (f"{flag}=missing", [*prefix, *suffix, flag], needle or flag)]


def train_option_cases(cmd: str):
    """The training options shared by train, sweep and datasize."""
    p = [cmd]
    cases = []
    cases += _numeric("int", "--n", prefix=p)
    cases += _numeric("int", "--m", prefix=p)
    cases += _numeric("int", "--examples", prefix=p, suffix=["--data", "sparse"] if cmd != "datasize" else [])
    cases += _numeric("int", "--batch", prefix=p)
    cases += _numeric("int", "--steps", ok=("zero",), prefix=p)
    cases += _numeric("int", "--warmup", ok=("zero",), prefix=p)
    cases += _numeric("int", "--seed", ok=("zero",), prefix=p)
    cases += _numeric("int", "--models", prefix=p)
    cases += _numeric("int", "--threads", prefix=p)
    cases += _numeric("float", "--sparsity", ok=("zero",), prefix=p, suffix=["--data", "sparse"])
    cases += _numeric("float", "--lr", prefix=p)
    cases += _numeric("float", "--weight-decay", ok=("zero",), prefix=p)
    cases += _numeric("float", "--momentum", ok=("zero",), prefix=p, suffix=["--optimizer", "sgd"])
    cases += _numeric("float", "--importance-decay", prefix=p)
    cases += _numeric("float", "--history-budget-mb", prefix=p)
    for flag in ("--data", "--optimizer", "--schedule", "--init"):
        cases += _choice(flag, prefix=p)
    if cmd == "train":
        run = ["--init", "run", "--init-run", "good.h5"]
        cases += _numeric("int", "--init-step", ok=("zero", "huge"), prefix=p + run)
        cases += _numeric("int", "--init-model", ok=("zero",), prefix=p + run)
    return cases + schema_option_cases(cmd, {needle for _, _, needle in cases})


def schema_option_cases(cmd: str, covered: set):
    """Cases for every numeric training option of the schema not listed above (a new
    option is fuzzed without an edit here): the families outside what it allows."""
    from model.config import schema

    out = []
    defaults = {o.name: o.default for o in schema()}
    for opt in schema():
        # an option that applies only under another option's value than the default (other than
        # --data sparse, given below) is fuzzed where that is set up: the cases above
        unmet = [f for f, allowed in opt.applies if f != "data" and defaults[f] not in allowed]
        if opt.kind not in ("int", "float") or opt.flag in covered or unmet:
            continue
        fams = INT_FAMILIES if opt.kind == "int" else FLOAT_FAMILIES
        ok = []
        for fam, text in fams.items():
            try:
                v = float(text)
            except ValueError:
                continue
            if opt.kind == "int" and not v.is_integer():
                continue
            if opt.problem(int(v) if opt.kind == "int" else v) is None:
                ok.append(fam)
        suffix = ["--data", "sparse"] if ("data", ("sparse",)) in opt.applies and cmd != "datasize" else []
        out += _numeric(opt.kind, opt.flag, ok=tuple(ok), prefix=[cmd], suffix=suffix)
    return out


def cases_train():
    c = train_option_cases("train")
    c += [
        ("train:--out=empty", ["train", "--out="], "--out"),
        ("train:--out=not-hdf5", ["train", "--out", "r.txt"], "--out"),
        ("train:--out=no-extension", ["train", "--out", "run"], "--out"),
        ("train:--out=missing", ["train", "--out"], "--out"),
        ("train:--init=run-without-file", ["train", "--init", "run"], "--init-run"),
        ("train:--init-run=empty", ["train", "--init", "run", "--init-run="], "--init-run"),
        ("train:--init-run=not-a-run", ["train", "--init", "run", "--init-run", "notes.txt"], "notes.txt"),
        ("train:--init-run=folder", ["train", "--init", "run", "--init-run", "."], "."),
        ("train:--init-run-without-init-run", ["train", "--init-run", "good.h5"], "--init-run"),
        ("train:--init-step-without-init-run", ["train", "--init-step", "5"], "--init-step"),
        ("train:--init-model-without-init-run", ["train", "--init-model", "1"], "--init-model"),
        ("train:--init-model-beyond-the-run", ["train", "--init", "run", "--init-run", "good.h5",
                                               "--init-model", "3"], "good.h5"),
        ("train:--init-run-of-another-shape", ["train", "--init", "run", "--init-run", "good.h5", "--n", "6"],
         "--init-run"),
        ("train:--examples-with-identity-data", ["train", "--data", "identity", "--examples", "50"], "--examples"),
        ("train:--batch-above-n", ["train", "--n", "5", "--batch", "6"], "--batch"),
        ("train:--batch-above-examples", ["train", "--data", "sparse", "--examples", "10", "--batch", "20"],
         "--batch"),
        ("train:--init=analytic-with-m=3", ["train", "--init", "analytic", "--m", "3"], "--init"),
        ("train:--sparsity=1", ["train", "--data", "sparse", "--sparsity", "1"], "--sparsity"),
        ("train:--momentum=1", ["train", "--optimizer", "sgd", "--momentum", "1"], "--momentum"),
        ("train:--importance-decay=1.5", ["train", "--importance-decay", "1.5"], "--importance-decay"),
        # given where the schema says it does not apply (Option.applies): refused, not ignored
        ("train:--warmup-with-a-constant-schedule", ["train", "--warmup", "100"], "--warmup"),
        ("train:--momentum-with-adamw", ["train", "--momentum", "0.5"], "--momentum"),
        ("train:--momentum-with-adam", ["train", "--optimizer", "adam", "--momentum", "0.5"], "--momentum"),
        ("train:--beta1-with-sgd", ["train", "--optimizer", "sgd", "--beta1", "0.5"], "--beta1"),
        ("train:--beta2-with-sgd", ["train", "--optimizer", "sgd", "--beta2", "0.5"], "--beta2"),
        ("train:--eps-with-sgd", ["train", "--optimizer", "sgd", "--eps", "1e-6"], "--eps"),
        ("train:--sparsity-with-identity-data", ["train", "--sparsity", "0.9"], "--sparsity"),
        ("train:--init-model-with-xavier", ["train", "--init", "xavier", "--init-model", "0"], "--init-model"),
        ("train:unknown-flag", ["train", "--bogus"], "--bogus"),
        ("train:stray-positional", ["train", "stray"], "stray"),
    ]
    return c


def cases_sweep():
    c = train_option_cases("sweep")
    c += _values("--grid", ["", ";", "n", "n=", "n=,", "bogus=1,2", "n=seven", "n=0", "lr=nan", "lr=inf", "lr=-1",
                            "optimizer=rmsprop", "m=3;m=4"], prefix=["sweep"])
    c += [
        ("sweep:--grid-key-twice", ["sweep", "--grid", "n=6", "--grid", "n=7"], "--grid"),
        ("sweep:--grid-momentum-with-adamw", ["sweep", "--grid", "momentum=0.5,0.9"], "--grid"),
        ("sweep:--grid-of-a-million", ["sweep", "--grid", "lr=" + ",".join(f"{1e-3 * (1 + i / 1e4):.7g}"
                                                                           for i in range(1000)),
                                       "--grid", "n=" + ",".join(map(str, range(2, 1002)))], "--grid"),
        ("sweep:--momentum-with-an-adam-grid", ["sweep", "--grid", "optimizer=adam,adamw", "--momentum", "0.5"],
         "--momentum"),
        ("sweep:--warmup-with-a-constant-grid", ["sweep", "--grid", "n=5,6", "--warmup", "10"], "--warmup"),
        ("sweep:--init=run", ["sweep", "--init", "run", "--init-run", "good.h5"], "--init"),
        ("sweep:--out=empty", ["sweep", "--out="], "--out"),
        ("sweep:--out=not-hdf5", ["sweep", "--out", "s.svg"], "--out"),
        ("sweep:--out=folder", ["sweep", "--out", "."], "."),
    ]
    return c


def cases_datasize():
    c = [case for case in train_option_cases("datasize") if not case[0].startswith(("--data=", "--init="))]
    c = [(name, [*argv[:1], "--sizes", "3", *argv[1:]], needle) for name, argv, needle in c]
    c += _values("--sizes", ["", ",", "0", "-3", "three", "1e30", "nan", "inf", "3.5"], prefix=["datasize"])
    c += _numeric("int", "--test-examples", prefix=["datasize", "--sizes", "3"])
    c += _numeric("float", "--max-memory-gb", prefix=["datasize", "--sizes", "3"])
    c += [
        ("datasize:no-sizes", ["datasize"], "--sizes"),
        ("datasize:--data=identity", ["datasize", "--sizes", "3", "--data", "identity"], "--data"),
        ("datasize:--data=bogus", ["datasize", "--sizes", "3", "--data", "bogus"], "--data"),
        ("datasize:--examples", ["datasize", "--sizes", "3", "--examples", "5"], "--examples"),
        ("datasize:--batch", ["datasize", "--sizes", "3", "--batch", "5"], "--batch"),
        ("datasize:--init=run", ["datasize", "--sizes", "3", "--init", "run", "--init-run", "good.h5"], "--init"),
        ("datasize:--out=empty", ["datasize", "--sizes", "3", "--out="], "--out"),
        ("datasize:--warmup-with-a-constant-schedule", ["datasize", "--sizes", "3", "--schedule", "constant",
                                                        "--warmup", "4"], "--warmup"),
        ("datasize:--momentum-with-adamw", ["datasize", "--sizes", "3", "--momentum", "0.5"], "--momentum"),
        ("datasize:--out=not-hdf5", ["datasize", "--sizes", "3", "--out", "d.png"], "--out"),
    ]
    return c


def cases_inspect():
    p = ["inspect", "good.h5"]
    c = _numeric("int", "--step", ok=("zero", "huge"), prefix=p)
    c += _numeric("int", "--model", ok=("zero",), prefix=p)
    c += [
        ("inspect:no-file", ["inspect"], "run"),
        ("inspect:file=empty", ["inspect", ""], "file name"),
        ("inspect:file=missing", ["inspect", "absent.h5"], "absent.h5"),
        ("inspect:file=folder", ["inspect", "."], "folder"),
        ("inspect:file=text", ["inspect", "notes.txt"], "notes.txt"),
        ("inspect:--model=beyond", ["inspect", "good.h5", "--model", "1"], "--model"),
        ("inspect:two-files", ["inspect", "good.h5", "good.h5"], "good.h5"),
    ]
    return c


def cases_probe():
    p = ["probe", "good.h5"]
    c = _numeric("int", "--step", ok=("zero", "huge"), prefix=p)
    c += _numeric("int", "--model", ok=("zero",), prefix=p)
    c += _numeric("int", "--feature", prefix=p)
    c += _numeric("int", "--seed", ok=("zero", "huge"), prefix=p + ["--path", "random"])
    c += _numeric("int", "--points", prefix=p)
    c += _numeric("int", "--continue-steps", prefix=p)
    c += _numeric("int", "--threads", prefix=p)
    c += _numeric("float", "--at", ok=("zero", "negative"), prefix=p + ["--continue-steps", "10"])
    c += _choice("--path", prefix=p)
    c += _values("--direction", ["", "0", "99", "-1", "1.5", "angle:", "angle:nan", "angle:inf", "bogus"],
                 prefix=p)
    c += _values("--range", ["", "0", "nan", "inf", "2,1", "1,1", "a", "1,2,3", "-inf,1", "1e400", "1e300",
                             "3.5e38", "-3.5e38,1"], prefix=p)
    c += [
        ("probe:--feature=beyond-n", p + ["--feature", "6"], "--feature"),
        ("probe:--direction=same-feature", p + ["--feature", "2", "--direction", "2"], "--direction"),
        ("probe:--model=beyond", p + ["--model", "1"], "--model"),
        ("probe:--at-without-continue", p + ["--at", "0.1"], "--at"),
        ("probe:--at-outside-the-range", p + ["--range", "1", "--continue-steps", "10", "--at", "5"], "--at"),
        ("probe:--direction-with-bias-path", p + ["--path", "bias", "--direction", "2"], "--direction"),
        ("probe:--feature-with-random-path", p + ["--path", "random", "--feature", "2"], "--feature"),
        ("probe:--points=2", p + ["--points", "2"], "--points"),
        ("probe:--at-beyond-float32", p + ["--range", "1e300", "--at", "1e300", "--out", "p.h5"], "--range"),
        ("probe:--out-not-hdf5", p + ["--at", "0.1", "--out", "p.pdf"], "--out"),
        ("probe:--out-same-as--figure", p + ["--at", "0.1", "--out", "same.pdf", "--figure", "same.pdf"], "--out"),
        ("probe:--figure-not-a-figure", p + ["--figure", "f.h5"], "--figure"),
        ("probe:no-file", ["probe"], "run"),
        ("probe:file=missing", ["probe", "absent.h5"], "absent.h5"),
    ]
    return c


def _export_common(cmd: str, out: str):
    p = [cmd, "good.h5", "--view", "zones", "--out", out]
    c = _numeric("int", "--model", ok=("zero",), prefix=p)
    c += _numeric("float", "--font-size", prefix=p)
    c += _values("--size", ["", "0x0", "abc", "100000x100", "-5x10", "10x10", "1280", "1280x720x3", "nanxnan"],
                 prefix=p)
    c += _values("--select", ["", "0", "x", "6", "1,1"], prefix=p)
    c += _values("--axes", ["", "0,1,2", "1,1,2", "1,2", "1,2,9"],
                 prefix=[cmd, "good.h5", "--view", "figure", "--panels", "plane3d+zones", "--out", out])
    c += _values("--panels", ["", "bogus", "zones,bogus", "zones,zones,zones,zones,zones"],
                 prefix=[cmd, "good.h5", "--view", "figure", "--out", out])
    # --set VIEW.KEY=VALUE: the view, the key and the value each checked against the view's settings
    c += _values("--set", ["", "zones", "zones.", "zones.clip_to_shape", "bogus.x=1", "zones.bogus=1", ".=1",
                           "zones.clip_to_shape=maybe", "zones.clip_to_shape=", "zones.mode=bogus", "zones.mode=",
                           "wheel.show_data=1", "plane3d.enlarge=1,1", "plane3d.enlarge=1,1,0",
                           "plane3d.enlarge=1,1,-5", "plane3d.enlarge=1,1,nan", "plane3d.enlarge=1,1,inf",
                           "plane3d.enlarge=a,b,c", "plane3d.axes=1,1,2", "plane3d.axes=1,2,9", "plane3d.axes=0,1,2",
                           "plane3d.axes=1,2", "plane3d.slivers=2", "plane3d.camera=bogus", "plane3d.elevation=nan",
                           "plane3d.azimuth=inf", "plane3d.distance=-1", "plane3d.distance=0", "plane3d.triple=0,1,2",
                           # beyond what the scene can be drawn at (blank pictures before): bounded
                           "plane3d.enlarge=1e308,1e308,1e308", "plane3d.enlarge=1,1,1001", "plane3d.enlarge=0.001,1,1",
                           "plane3d.distance=1e308", "plane3d.elevation=1e300", "plane3d.azimuth=-1e300"],
                 prefix=[cmd, "good.h5", "--view", "figure", "--panels", "plane3d+zones", "--out", out])
    c += _values("--set", ["gram.order=bogus", "gram.bias=maybe", "gram.relu=", "gram.order=1"],
                 prefix=[cmd, "good.h5", "--view", "gram", "--out", out])
    c += _choice("--view", prefix=[cmd, "good.h5", "--out", out])
    c += [
        (f"{cmd}:--panels-without-figure", p + ["--panels", "wheel,zones"], "--panels"),
        (f"{cmd}:--axes-without-plane3d", p + ["--axes", "1,2,3"], "--axes"),
        (f"{cmd}:--set-view-not-drawn", p + ["--set", "gram.relu=true"], "--set gram.relu"),
        (f"{cmd}:--set-plane-not-drawn", p + ["--set", "plane.axes=1,2,3"], "--set plane.axes"),
        (f"{cmd}:--model=beyond", p + ["--model", "1"], "--model"),
        (f"{cmd}:no-view", [cmd, "good.h5", "--out", out], "--view"),
        (f"{cmd}:no-out", [cmd, "good.h5", "--view", "zones"], "--out"),
        (f"{cmd}:--out=empty", [cmd, "good.h5", "--view", "zones", "--out="], "--out"),
        (f"{cmd}:--out=folder", [cmd, "good.h5", "--view", "zones", "--out", "."], "."),
        (f"{cmd}:--out=no-folder", [cmd, "good.h5", "--view", "zones", "--out", "nowhere/x" + Path(out).suffix],
         "nowhere"),
        (f"{cmd}:--out=wrong-type", [cmd, "good.h5", "--view", "zones", "--out", "x.txt"], "--out"),
        (f"{cmd}:file=missing", [cmd, "absent.h5", "--view", "zones", "--out", out], "absent.h5"),
        (f"{cmd}:file=empty", [cmd, "", "--view", "zones", "--out", out], "file name"),
    ]
    return c


def cases_export():
    p = ["export", "good.h5", "--view", "zones", "--out", "x.png"]
    c = _export_common("export", "x.png")
    c += _numeric("int", "--step", ok=("zero",), prefix=p)
    c += _choice("--background", prefix=p)
    c += [  # a sweep or dataset-size file's view is drawn whole: the run options are refused
        ("export:--set-on-a-sweep-file", ["export", "sweep.h5", "--set", "zones.mode=raster", "--out", "x.png"],
         "--set"),
        ("export:--set-bogus-on-a-sweep-file", ["export", "sweep.h5", "--set", "bogus", "--out", "x.png"], "--set"),
        ("export:--set-on-a-datasize-file", ["export", "ds.h5", "--set", "wheel.show_data=false", "--out", "x.png"],
         "--set"),
        ("export:--config=0", ["export", "sweep.h5", "--config", "0", "--out", "x.png"], "--config"),
        ("export:--config=beyond", ["export", "sweep.h5", "--config", "2", "--out", "x.png"], "--config"),
        ("export:--config-on-a-datasize-file", ["export", "ds.h5", "--config", "1", "--out", "x.png"], "--config"),
    ]
    return c


def cases_animate():
    p = ["animate", "good.h5", "--view", "zones", "--out", "x.gif"]
    c = _export_common("animate", "x.gif")
    c += _numeric("int", "--from", ok=("zero",), prefix=p)
    c += _numeric("int", "--to", prefix=p)
    c += _numeric("int", "--frames", prefix=p)
    c += _numeric("int", "--stride", prefix=p)
    c += _numeric("float", "--fps", prefix=p)
    c += _numeric("float", "--orbit", ok=("zero", "negative"), prefix=["animate", "good.h5", "--view", "figure",
                                                                      "--panels", "plane3d+zones", "--out", "x.gif"])
    c += [
        ("animate:--to-before--from", p + ["--from", "100", "--to", "50"], "--to"),
        ("animate:--frames-and--stride", p + ["--frames", "10", "--stride", "5"], "--stride"),
        ("animate:--stride-with--log-time", p + ["--stride", "5", "--log-time"], "--log-time"),
        ("animate:--orbit-without-plane3d", p + ["--orbit", "90"], "--orbit"),
        ("animate:--fps=60-gif", p + ["--fps", "60"], "--fps"),
        ("animate:--out=png", ["animate", "good.h5", "--view", "zones", "--out", "x.png"], "--out"),
    ]
    return c


def cases_figures():
    p = ["figures", "--out", "figs"]
    c = _numeric("float", "--steps-scale", prefix=p)
    c += _numeric("int", "--threads", prefix=p)
    c += [
        ("figures:no-out", ["figures", "--quick"], "--out"),
        ("figures:--quick-and--steps-scale", p + ["--quick", "--steps-scale", "0.5"], "--steps-scale"),
        ("figures:--out=no-folder", ["figures", "--out", "nowhere/figs"], "nowhere"),
    ]
    return c


def cases_top():
    return [
        ("main:unknown-flag", ["--bogus"], "--bogus"),
        ("main:unknown-command-or-file", ["no-such-command"], "no-such-command"),
        ("main:command-typo", ["trian", "--n", "5"], "trian"),
    ]


CASES = {"train": cases_train, "sweep": cases_sweep, "datasize": cases_datasize, "inspect": cases_inspect,
         "probe": cases_probe, "export": cases_export, "animate": cases_animate, "figures": cases_figures,
         "main": cases_top}


def all_cases():
    out = []
    for cmd, make in CASES.items():
        for name, argv, needle in make():
            out.append(pytest.param(argv, needle, id=f"{cmd}:{name}" if not name.startswith(cmd) else name))
    return out


def test_every_subcommand_has_cases():
    from app.cli import COMMANDS

    assert set(COMMANDS) <= set(CASES), f"commands without fuzz cases: {set(COMMANDS) - set(CASES)}"


# ------------------------------------------------------------------ harness
class Tripwire(BaseException):
    """Raised where a refused argument must never get to: training, rendering, encoding."""


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """A tiny n = 5 run (steps 0..200) every case can name as good.h5."""
    from model.config import TrainConfig
    from model.storage.runfile import save_run
    from model.training.engine import train

    cfg = TrainConfig(n=5, m=2, steps=200, lr=1e-2, seed=0)
    tr = train(cfg, threads=1)
    path = tmp_path_factory.mktemp("fuzz") / "good.h5"
    save_run(path, tr.config, tr.history)
    return path


@pytest.fixture(scope="module")
def experiment_files(tmp_path_factory):
    """A one-configuration sweep file and a dataset-size file every case can name (sweep.h5, ds.h5)."""
    from model.config import TrainConfig
    from model.experiments.datasize import DataSizeRunner, smdd_config
    from model.experiments.sweep import run_sweep

    d = tmp_path_factory.mktemp("fuzz-experiments")
    run_sweep(TrainConfig(n=3, steps=5), None, 2, out=d / "sweep.h5", threads=1)
    DataSizeRunner(smdd_config(n=20, steps=5, warmup=0), [3], test_examples=50, out=d / "ds.h5", threads=1).run()
    return d / "sweep.h5", d / "ds.h5"


def tree(folder: Path) -> dict:
    """path -> (size, mtime_ns) of everything under ``folder`` (folders too)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(folder))] = (st.st_size if not p.is_dir() else 0, st.st_mtime_ns)
    return out


@pytest.fixture
def workdir(tmp_path, good_run, experiment_files, monkeypatch, qapp):
    """A fresh working directory (good.h5, notes.txt, the data folder) with tripwires set."""
    import app.export.animate
    import app.export.figure
    import app.gui.main_window
    import model.analysis.probe
    import model.experiments.datasize
    import model.experiments.sweep
    import model.training.engine

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    shutil.copy(good_run, cwd / "good.h5")
    for p in experiment_files:
        shutil.copy(p, cwd / p.name)
    (cwd / "notes.txt").write_text("not a run\n")
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("LGE_DATA_DIR", str(tmp_path / "data"))

    def wire(where):
        def fn(*a, **k):
            raise Tripwire(f"accepted: reached {where}")
        return fn

    monkeypatch.setattr(model.training.engine.Trainer, "run", wire("Trainer.run"))
    monkeypatch.setattr(model.experiments.sweep.SweepRunner, "run", wire("SweepRunner.run"))
    monkeypatch.setattr(model.experiments.datasize.DataSizeRunner, "run", wire("DataSizeRunner.run"))
    monkeypatch.setattr(model.analysis.probe, "continue_training", wire("probe.continue_training"))
    monkeypatch.setattr(app.export.figure.FigureRenderer, "save", wire("FigureRenderer.save"))
    monkeypatch.setattr(app.export.animate.AnimationJob, "run", wire("AnimationJob.run"))
    monkeypatch.setattr(app.gui.main_window, "MainWindow", wire("the window"))
    monkeypatch.setattr(os, "execvpe", wire("os.execvpe (a re-run under xvfb-run)"))
    env = dict(os.environ)
    yield cwd
    os.environ.clear()  # prepare_display() sets QT_QPA_PLATFORM with setdefault: undo it
    os.environ.update(env)


def run_in_process(argv):
    """(exit status, stdout, stderr) of app.cli.main(argv), in this process."""
    import contextlib
    import io

    from app.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(argv))
        except SystemExit as exc:  # argparse's own exits (--help) would land here
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def assert_refused(rc, out, err, needle):
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert rc == 2, f"exit {rc}; stderr: {err!r}; stdout: {out[:300]!r}"
    assert len(lines) == 1, f"{len(lines)} lines on stderr: {err!r}"
    assert out == "", f"stdout of a refused command: {out[:300]!r}"
    assert needle in lines[0], f"{needle!r} not named in {lines[0]!r}"


@pytest.mark.parametrize("argv, needle", all_cases())
def test_bad_argument_is_refused_in_one_line(workdir, argv, needle):
    before = tree(workdir)
    rc, out, err = run_in_process(argv)
    assert_refused(rc, out, err, needle)
    assert_unchanged(workdir, before)
    data = workdir.parent / "data"  # the user's data folder (autosaves): no file there either
    assert not any(p.is_file() for p in data.rglob("*")), sorted(map(str, data.rglob("*")))


def assert_unchanged(folder: Path, before: dict) -> None:
    after = tree(folder)
    assert after == before, (f"files changed: new {sorted(set(after) - set(before))}, gone "
                             f"{sorted(set(before) - set(after))}, changed "
                             f"{sorted(k for k in set(after) & set(before) if after[k] != before[k])}")


# A handful as real processes: the real entry point, argv from the shell, nothing in-process.
REAL = [
    (["train", "--threads", "0"], "--threads"),
    (["train", "--out", ""], "--out"),
    (["probe", "good.h5", "--range", "nan"], "--range"),
    (["export", "good.h5", "--view", "zones", "--size", "", "--out", "x.png"], "--size"),
    (["sweep", "--grid", "n=0", "--steps", "10"], "--grid"),
    (["datasize", "--sizes", ""], "--sizes"),
    (["inspect", "good.h5", "--model", "-1"], "--model"),
]


@pytest.mark.slow
@pytest.mark.parametrize("argv, needle", REAL, ids=[" ".join(a) for a, _ in REAL])
def test_bad_argument_is_refused_by_the_real_command(tmp_path, good_run, argv, needle):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    shutil.copy(good_run, cwd / "good.h5")
    env = dict(os.environ, LGE_DATA_DIR=str(tmp_path / "data"), QT_QPA_PLATFORM="offscreen")
    before = tree(cwd)
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), *argv], capture_output=True, text=True,
                       cwd=cwd, env=env, timeout=120)
    assert_refused(r.returncode, r.stdout, r.stderr, needle)
    assert_unchanged(cwd, before)
    assert not any(p.is_file() for p in (tmp_path / "data").rglob("*"))


# ------------------------------------------------- cluster addresses (issue 21, item 7)
CLUSTER_ADDRESSES = ["", " ", "local:", "x..y:1", "h" * 300 + ":6379", "a" * 64 + ".example.com:6379", "host",
                     "host:", ":6379", "host:0", "host:65536", "host:port", "[::g]:6379", "[::1:6379", "héllo.com:1",
                     "bad_-.com:1", "ray://", "127.0.0.1:1", "ray://127.0.0.1:1", "{http}", "{silent}", "{h2}"]


@pytest.fixture(scope="module")
def services():
    """Three services on this machine that are not a Ray cluster: an HTTP/1.1 server, one that
    accepts and says nothing, and an HTTP/2 server (the protocol gRPC and Ray speak: the address
    passes, and Ray, not installed here or not there, is what is named)."""
    import socket
    import threading
    import time

    socks, stop = [], threading.Event()

    def serve(kind):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        s.settimeout(0.2)
        socks.append(s)

        def loop():
            while not stop.is_set():
                try:
                    c, _ = s.accept()
                except OSError:
                    continue
                with c:
                    c.settimeout(10)
                    try:
                        c.recv(1024)
                        if kind == "http":
                            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                        elif kind == "h2":  # the server preface: an empty SETTINGS frame (RFC 7540, 3.5)
                            c.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                        else:
                            deadline = time.monotonic() + 10
                            while not stop.is_set() and time.monotonic() < deadline:
                                time.sleep(0.05)
                    except OSError:
                        pass
        threading.Thread(target=loop, daemon=True).start()
        return f"127.0.0.1:{s.getsockname()[1]}"

    ports = {k: serve(k) for k in ("http", "silent", "h2")}
    yield ports
    stop.set()
    for s in socks:
        s.close()


@pytest.mark.slow
@pytest.mark.parametrize("cmd", ["sweep", "datasize"])
@pytest.mark.parametrize("address", CLUSTER_ADDRESSES)
def test_a_cluster_address_that_cannot_be_a_ray_cluster_is_one_line(workdir, services, cmd, address, monkeypatch):
    """--cluster ADDRESS: one line naming --cluster (never a UnicodeError or a Ray log, never a
    hang, never a silent run here for an empty one), before anything trains."""
    import model.experiments.cluster

    monkeypatch.setattr(model.experiments.cluster, "CONNECT_TIMEOUT", 3.0)
    address = address.format(**services) if address.startswith("{") else address
    base = ["sweep", "--steps", "2"] if cmd == "sweep" else ["datasize", "--sizes", "3", "--n", "20", "--steps", "2"]
    rc, out, err = run_in_process([*base, "--cluster", address])
    assert_refused(rc, out, err, "--cluster")
    assert len(err.strip()) < 400, err
