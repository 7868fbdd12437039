"""`main.py figures`: the seed's figures, reproduced; every file written, complete, of its size,
listed in the index; the trainings behind them checked against the closed forms."""
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PyQt6")
from PyQt6.QtGui import QImage  # noqa: E402

import app.export.seed_figures as sf  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)


def listed(index_text: str):
    """The image files the index page links, in order."""
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", index_text)


def check_complete(folder: Path, specs):
    """Each spec's PNG opens at its size and is not blank; no temporary file is left."""
    for spec in specs:
        img = QImage(str(folder / spec.file))
        assert not img.isNull(), f"{spec.file} does not open"
        assert (img.width(), img.height()) == spec.size, (spec.file, img.width(), img.height())
        small = img.scaled(200, 200)
        dark = sum(1 for x in range(0, 200, 4) for y in range(0, 200, 4) if small.pixelColor(x, y).lightness() < 200)
        assert dark > 20, f"{spec.file} is (nearly) blank"
    assert not [n for n in os.listdir(folder) if n.startswith(".") or ".part" in n], os.listdir(folder)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("figs") / "figures"
    r = _cli("figures", "--quick", "--out", str(out))
    return out, r


def test_quick_run_writes_every_figure_and_an_index_of_them(quick):
    out, r = quick
    assert r.returncode == 0, r.stderr[-2000:]
    assert "training" in r.stderr and "figures" in r.stderr  # the progress bars
    assert "Traceback" not in r.stderr
    check_complete(out, sf.FIGURES)
    names = sorted(os.listdir(out))
    assert names == sorted([s.file for s in sf.FIGURES] + [sf.INDEX])
    index = (out / sf.INDEX).read_text(encoding="utf-8")
    assert listed(index) == [s.file for s in sf.FIGURES]
    for spec in sf.FIGURES:
        assert spec.caption in index
    assert "x0.02" in index  # says the step counts were reduced


def test_existing_figures_are_not_overwritten_without_force(quick):
    out, r = quick
    assert r.returncode == 0
    before = {n: (out / n).stat().st_mtime_ns for n in os.listdir(out)}
    again = _cli("figures", "--quick", "--out", str(out))
    assert again.returncode == 2
    err = again.stderr.strip()
    assert "--force" in err and "already holds" in err and "\n" not in err and "Traceback" not in err, err
    assert {n: (out / n).stat().st_mtime_ns for n in os.listdir(out)} == before


@pytest.mark.parametrize("args, needle", [
    (["figures"], "--out"),
    (["figures", "--out", "OUT", "--steps-scale", "0"], "--steps-scale"),
    (["figures", "--out", "OUT", "--steps-scale", "nan"], "--steps-scale"),
    (["figures", "--out", "OUT", "--quick", "--steps-scale", "0.5"], "--steps-scale"),
    (["figures", "--out", "OUT", "--threads", "0"], "--threads"),
    (["figures", "--out", "FILE"], "is a file"),
    (["figures", "--out", "/nonexistent/dir/figs"], "/nonexistent/dir"),
    (["figures", "--out", "OUT", "--bogus"], "--bogus"),
])
def test_bad_flags_are_one_line_and_exit_2(tmp_path, capsys, args, needle):
    from app.cli import main

    (tmp_path / "file.txt").write_text("x")
    argv = [a.replace("OUT", str(tmp_path / "figs")).replace("FILE", str(tmp_path / "file.txt")) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err, err
    assert os.listdir(tmp_path) == ["file.txt"]


def test_ctrl_c_leaves_complete_files_and_an_index_of_exactly_them(tmp_path, capsys, monkeypatch, qapp):
    """Interrupted while drawing the third figure: the first two are complete (an older file of the same
    name was replaced, --force), the index lists exactly them, nothing else is left."""
    if qapp.platformName() in ("offscreen", "minimal"):
        pytest.skip("the 3D figures need GL on an X server (bash scripts/xdisplay.sh runs the suite under Xvfb)")
    from app.cli import main

    tiny = {k: c.replace(steps=60) for k, c in sf.run_configs(1.0).items()}
    monkeypatch.setattr(sf, "run_configs", lambda scale=1.0: tiny)
    base, _, _ = sf.datasize_plan(True)
    monkeypatch.setattr(sf, "datasize_plan", lambda quick=False, scale=1.0: (base.replace(n=50, steps=20), (3,), 20))
    third = sf.FIGURES[2]

    def interrupted(runs, size):
        raise KeyboardInterrupt

    monkeypatch.setattr(third, "draw", interrupted)
    out = tmp_path / "figs"
    out.mkdir()
    (out / sf.FIGURES[0].file).write_bytes(b"an older file")
    assert main(["figures", "--quick", "--force", "--quiet", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "2 of" in err
    check_complete(out, sf.FIGURES[:2])
    assert sorted(os.listdir(out)) == sorted([s.file for s in sf.FIGURES[:2]] + [sf.INDEX])
    assert listed((out / sf.INDEX).read_text(encoding="utf-8")) == [s.file for s in sf.FIGURES[:2]]


def test_an_interrupted_write_leaves_no_file(tmp_path, monkeypatch, qapp):
    from PyQt6.QtGui import QColor

    img = QImage(40, 30, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(QColor(10, 20, 30))
    real_save = QImage.save

    def save_then_interrupt(self, path, *a):
        real_save(self, path, *a)  # the temporary file is complete on disk ...
        raise KeyboardInterrupt  # ... when Ctrl+C arrives, before the rename

    monkeypatch.setattr(QImage, "save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        sf.write_image(img, tmp_path / "a.png")
    assert os.listdir(tmp_path) == []


# --------------------------------------------- the trainings, against the maths
def test_full_scale_trainings_are_what_the_captions_say():
    """The runs behind the figures, at full step counts (each a few seconds at most), checked
    against closed forms: the n = 7 symmetric failure (feature 1 dead, b_1 = 1/n, loss
    d(n-1)/n² = 6/49), a perfect n = 6 model, the n = 5 regular pentagon (gaps 2π/5) without
    bias, the n = 4 cross (gaps π/2, perfect)."""
    from model.analysis import analyze
    from model.engine import train

    cfgs = sf.run_configs(1.0)
    tr = train(cfgs["n7"], threads=1)
    a7 = analyze(tr.history.snapshot(model=0), onehot=True)
    n = 7
    assert a7.verdict == "symmetric_failure" and a7.dead == [0]
    assert abs(a7.biases[0] - 1 / n) < 1e-4  # b_dead -> 1/n, the MSE optimum of a bias alone
    assert abs(a7.loss - (n - 1) / n ** 2) < 1e-6  # d(n-1)/n² with d = 1
    tr = train(cfgs["n6"], threads=1)
    verdicts = [analyze(tr.history.snapshot(model=k), onehot=True).verdict for k in range(cfgs["n6"].models)]
    assert "perfect" in verdicts
    for key, k, verdict in (("n5", 5, "imperfect"), ("n4", 4, "perfect")):
        tr = train(cfgs[key], threads=1)
        a = analyze(tr.history.snapshot(model=0), onehot=True)
        ang = np.sort(np.mod(np.radians(a.angles_deg), 2 * math.pi))
        gaps = np.diff(np.r_[ang, ang[0] + 2 * math.pi])
        assert np.allclose(gaps, 2 * math.pi / k, atol=1e-3), (key, np.degrees(gaps))
        assert np.ptp(a.norms) < 1e-3 * a.norms.max()
        assert a.verdict == verdict and sf.regular(a)
    assert a.loss < 1e-6  # the cross reconstructs every axis without a bias (n <= 2m)


def test_captions_follow_what_the_model_reached(qapp):
    """A run stopped early is not described as the failure it did not reach."""
    from model.analysis import analyze
    from model.engine import train

    early = sf.run_configs(0.002)["n7"]  # 50 steps
    a = analyze(train(early, threads=1).history.snapshot(model=0), onehot=True)
    assert a.dead == []

    class FakeRuns:
        configs = {"n7": early}

    frame = sf.Frame(train(early, threads=1).history.snapshot(model=0), None, "t", early)
    import dataclasses

    from widgets.context import ViewContext
    from resources.palette import feature_colors

    frame = dataclasses.replace(frame, ctx=ViewContext(colors=feature_colors(7), analysis=a))
    runs = FakeRuns()
    runs.frame = lambda key, model=0: frame
    _, text = sf.draw_n7_failure(runs, (400, 300))
    assert "no dead feature" in text and "pac-man" not in text
