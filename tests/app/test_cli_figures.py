"""`main.py figures`: the seed's figures, reproduced; every file written, complete, of its size,
listed in the index; the trainings behind them checked against the closed forms."""
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

pytest.importorskip("PyQt6")
from PyQt6.QtGui import QImage

import app.export.seed_figures as sf
from model.config import TrainConfig

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


@pytest.mark.slow
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


@pytest.mark.slow
def test_the_index_says_how_each_figure_was_obtained(quick):
    """Closed forms say so; the failure says what reproduces it; the T-gons what differs from SMDD."""
    out, r = quick
    assert r.returncode == 0, r.stderr[-2000:]
    index = (out / sf.INDEX).read_text(encoding="utf-8")
    parts = dict(zip(listed(index), re.split(r"\n## \d+\. ", index)[1:], strict=True))
    for slug in ("relu-clamping-3d", "wtw-visual"):
        assert "Constructed, not trained" in parts[slug + ".png"], slug
    assert "Henighan's closed form" in parts["ideal-vs-unideal-wtw.png"]
    failure = parts["symmetric-failure-1.png"]
    assert "0 of 2,000" in failure and "preset seed-failure" in failure and "--optimizer sgd" in failure
    assert "SMDD's setting except n 200 (SMDD: 10,000)" in parts["memorized-training-examples.png"]
    for slug in ("five-5d-axial-vectors", "four-4d-axial-vectors"):
        assert "-cube projected by W" in parts[slug + ".png"], slug


@pytest.mark.slow
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


@pytest.mark.slow
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
@pytest.mark.slow
def test_full_scale_trainings_are_what_the_captions_say():
    """The runs behind the figures, at full step counts (each a few seconds at most), checked
    against closed forms: the n = 7 symmetric failure (feature 1 dead, b_1 = 1/n, loss
    d(n-1)/n² = 6/49), a perfect n = 6 model, the n = 5 regular pentagon (gaps 2π/5) without
    bias, the n = 4 cross (gaps π/2, perfect)."""
    from model.analysis.analysis import analyze
    from model.training.engine import train

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
    from model.analysis.analysis import analyze
    from model.training.engine import train

    early = sf.run_configs(0.002)["n7"]  # 50 steps
    a = analyze(train(early, threads=1).history.snapshot(model=0), onehot=True)
    assert a.dead == []

    class FakeRuns:
        configs: ClassVar[dict] = {"n7": early}

    from model.analysis.frame import Frame
    from resources.palette import feature_colors

    frame = sf.Shown(Frame(snapshot=train(early, threads=1).history.snapshot(model=0), colors=feature_colors(7),
                           analysis=a), "t", early)
    runs = FakeRuns()
    runs.frame = lambda key, model=0: frame
    _, text = sf.draw_n7_failure(runs, (400, 300))
    assert "no dead feature" in text and "pac-man" not in text


# ------------------------------------------- what the figures show, against closed forms
def _failure_frame(qapp):
    """The seed's failure in closed form (Henighan's hexagon, W_7 = 0, b_7 = 1/7) as the n7 figures
    get it: the preset's config, its own analysis."""
    from model.training.init import henighan

    W6, b6 = henighan(6)
    fr = sf.constructed(np.hstack([W6, np.zeros((2, 1))]), np.r_[b6, 1 / 7], title="failure")
    return sf.Shown(fr.frame, fr.title, sf.run_configs(1.0)["n7"])


class _Runs:
    def __init__(self, **frames):
        self.frames = frames

    def frame(self, key, model=0):
        return self.frames[key]


@pytest.fixture
def drawn(monkeypatch):
    """Every WᵀW panel a figure draws: (block, values, colour-bar levels), in order."""
    seen = []
    real = sf.drawn_gram

    def record(r):
        out = real(r)
        seen.append(out)
        return out

    monkeypatch.setattr(sf, "drawn_gram", record)
    return seen


def test_ideal_vs_failed_draws_wtw_without_b_its_dead_row_and_column_zero(qapp, drawn):
    """As titled: WᵀW, not WᵀW + b. The ideal is Henighan's r² cos(2π(i - j)/7) in feature order
    from 1; the failure's dead row and column are exactly 0 (the seed's; with b they were 1/7 and
    the colour of b, -1 in the trained run's WᵀW + b); each colour bar spans ±max|entry|."""
    fr = _failure_frame(qapp)
    img, text = sf.draw_gram(_Runs(n7=fr), (800, 380))
    assert (img.width(), img.height()) == (800, 380)
    (blk0, P0, L0), (blk1, P1, L1) = drawn
    n = 7
    r2 = 1 / (1 - math.cos(2 * math.pi / n))
    i, j = np.meshgrid(blk0, blk0, indexing="ij")
    np.testing.assert_allclose(P0, r2 * np.cos(2 * math.pi * (i - j) / n), atol=1e-12)
    assert blk0.tolist() == list(range(n))  # angular order from feature 1: the circulant
    k = int(np.nonzero(blk1 == 6)[0][0])
    assert np.all(P1[k] == 0.0) and np.all(P1[:, k] == 0.0)
    live = np.delete(np.arange(n), k)
    np.testing.assert_allclose(np.diag(P1)[live], 2.0, atol=1e-12)  # the hexagon's r² = 1/(1 - cos 60°)
    for P, L in ((P0, L0), (P1, L1)):
        assert pytest.approx((-np.abs(P).max(), np.abs(P).max()), abs=0) == L
    assert "row and column 7 of WᵀW are 0" in text and "WᵀW (without b" in text
    assert f"±{r2:.3g} left, ±2 right" in text


def test_wtw_visual_is_the_seeds_circulant_of_ten_unit_vectors(qapp, drawn):
    img, text = sf.draw_wtw_visual(None, (450, 400))
    ((blk, P, L),) = drawn
    n = sf.WTW_VISUAL_N
    i, j = np.meshgrid(blk, blk, indexing="ij")
    np.testing.assert_allclose(P, np.cos(2 * math.pi * (i - j) / n), atol=1e-12)
    assert blk.tolist() == list(range(n)) and pytest.approx((-1.0, 1.0), abs=1e-12) == L
    from widgets.gram_view import row_maxima

    assert row_maxima(P).tolist() == list(range(n))  # the outlined maxima: the diagonal
    assert "Constructed, not trained" in text and f"{math.cos(2 * math.pi / n):.4f}" in text


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7])
def test_hypercube_has_2_to_the_n_vertices_and_n_2_to_the_n_minus_1_edges(n):
    rng = np.random.default_rng(n)
    W = rng.normal(size=(2, n))
    V, E = sf.hypercube(W)
    assert V.shape == (2 ** n, 2) and E.shape == (n * 2 ** (n - 1), 2)
    assert len({tuple(sorted(e)) for e in E.tolist()}) == len(E)  # no edge twice
    d = E[:, 1] ^ E[:, 0]
    assert np.all((d & (d - 1)) == 0) and np.all(d > 0)  # endpoints differ in exactly one s_i
    bit = np.log2(d).astype(int)
    np.testing.assert_allclose(V[E[:, 1]] - V[E[:, 0]], W[:, bit].T, atol=1e-12)  # each edge a copy of W_i
    np.testing.assert_allclose(V[0], 0.0)
    at_origin = E[E[:, 0] == 0, 1]
    np.testing.assert_allclose(V[at_origin], W.T[np.log2(at_origin).astype(int)])  # the origin's edges: W
    np.testing.assert_allclose(V[-1], W.sum(axis=1), atol=1e-12)


def test_hypercube_of_the_regular_pentagon_and_of_the_cross():
    """The seed's pictures: the 5-cube under a regular pentagon projects onto a regular decagon
    (its outline: 10 vertices at equal distance from the centre, 36° apart); the 4-cube under the
    cross ±e1, ±e2 collapses onto a 3 x 3 grid of 9 points."""
    from scipy.spatial import ConvexHull

    from model.training.init import henighan

    W, _ = henighan(5)
    V, _ = sf.hypercube(W)
    hull = V[ConvexHull(V).vertices]
    assert len(hull) == 10
    c = V.mean(axis=0)
    np.testing.assert_allclose(c, 0.0, atol=1e-12)  # sum W_i = 0: the cube's centre at the origin
    r = np.linalg.norm(hull - c, axis=1)
    assert np.ptp(r) < 1e-12 * r.max()
    np.testing.assert_allclose(np.sort(sf.gaps_deg(hull.T)), 36.0, atol=1e-9)
    cross = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    V4, E4 = sf.hypercube(cross)
    assert sf.distinct_points(V4) == 9 and len(V4) == 16 and len(E4) == 32
    trained = cross + 1e-5 * np.random.default_rng(0).normal(size=cross.shape)  # a trained cross: loss ~1e-10
    assert sf.distinct_points(sf.hypercube(trained)[0]) == 9  # one point each in the picture
    assert sf.distinct_points(V) == 31  # the pentagon's: only s = 0 and s = 1 meet (sum W_i = 0)
    assert sorted(map(tuple, np.unique(V4, axis=0).astype(int).tolist())) == [(x, y) for x in (-1, 0, 1)
                                                                             for y in (-1, 0, 1)]


def test_the_axial_vector_figures_draw_the_projected_cube(qapp):
    """The cube is drawn in the wheel panel: one item with every edge, the plot's range takes in
    every vertex, and the outermost vertex's pixel is the cube's grey."""
    import pyqtgraph as pg

    from model.training.init import henighan

    W, b = henighan(5)
    fr = sf.constructed(W, np.zeros(5), "pentagon")
    with sf.renderer(("wheel", "zones"), fr, 1000, 500) as r:
        V, E = sf.add_hypercube(r, fr.snap.W)
        img = r.image(fr.frame)
        pi = r.panels[0].view.plot_item
        curves = [it for it in pi.items if isinstance(it, pg.PlotCurveItem) and it.opts.get("connect") == "pairs"]
        assert len(curves) == 1
        x, y = curves[0].getData()
        assert len(x) == 2 * len(E) == 2 * 80
        (x0, x1), (y0, y1) = r.panels[0].view.vb.viewRange()
        assert x0 <= V[:, 0].min() and V[:, 0].max() <= x1 and y0 <= V[:, 1].min() and V[:, 1].max() <= y1
        far = V[np.argmax(np.linalg.norm(V, axis=1))]
        p = r.to_pixel(0, *far)
    c = img.pixelColor(int(round(p.x())), int(round(p.y())))
    assert max(abs(c.red() - sf.CUBE_PEN[0]), abs(c.green() - sf.CUBE_PEN[1]), abs(c.blue() - sf.CUBE_PEN[2])) < 40


@pytest.mark.slow
def test_the_fold_figure_is_the_trigonal_arrangement(qapp):
    """Three features 120° apart, no bias: ReLU(WᵀW) = I exactly, W's rows orthogonal to (1, 1, 1)
    (the plane is normal to the cube's diagonal); the figure says it is constructed and why."""
    W, b = sf.trigonal()
    np.testing.assert_allclose(sf.gaps_deg(W), 120.0, atol=1e-9)
    np.testing.assert_allclose(np.maximum(W.T @ W + b, 0), np.eye(3), atol=1e-15)
    np.testing.assert_allclose(W @ np.ones(3), 0.0, atol=1e-15)
    np.testing.assert_allclose(W @ W.T, 1.5 * np.eye(2), atol=1e-15)
    spec = next(s for s in sf.FIGURES if s.slug == "relu-clamping-3d")
    assert spec.runs == ()
    if qapp.platformName() in ("offscreen", "minimal"):
        pytest.skip("the 3D figure needs GL on an X server (bash scripts/xdisplay.sh runs the suite under Xvfb)")
    img, text = sf.draw_fold(None, (900, 350))
    assert (img.width(), img.height()) == (900, 350)
    assert "120.0°/120.0°/120.0°" in text and "Constructed, not trained" in text


def test_training_does_not_reach_the_trigonal_arrangement():
    """TRIGONAL_NOTE's measurement: 40 one-hot n = 3 seeds without bias stop at the first loss-0
    arrangement (every gap >= 90°), none within 20° of 120° (closest: 29.8° off); seed 0 at
    90°/92.6°/177.4°."""
    from model.training.engine import train

    cfg = TrainConfig(n=3, m=2, bias=False, steps=sf.SMALL_STEPS, models=40, seed=0)
    h = train(cfg, threads=1).history
    worst = []
    for k in range(cfg.models):
        s = h.snapshot(model=k)
        g = sf.gaps_deg(s.W)
        assert g.min() >= 90.0 - 0.5 and s.loss < 1e-6, (k, g, s.loss)
        worst.append(np.abs(g - 120.0).max())
    assert min(worst) > 20.0, min(worst)
    g0 = np.sort(sf.gaps_deg(h.snapshot(model=0).W))
    np.testing.assert_allclose(g0, [90.0, 92.6, 177.4], atol=0.5)


def test_the_tgon_sweep_is_smdds_but_for_n_and_s():
    from model.config import smdd_config

    base, sizes, _ = sf.datasize_plan()
    smdd = smdd_config()
    for f in ("optimizer", "lr", "weight_decay", "schedule", "warmup", "steps", "m", "bias", "batch", "examples"):
        assert getattr(base, f) == getattr(smdd, f), f
    assert base.n * (1 - base.sparsity) == pytest.approx(smdd.n * (1 - smdd.sparsity))  # ~10 active per example
    text = sf.smdd_difference(base, smdd)
    assert text.startswith("SMDD's setting except n 1,000 (SMDD: 10,000), S 0.99 (SMDD: 0.999) (")
    assert "lr" not in text.split("; the same")[0] and "lr" in text.split("; the same")[1]
    quick, _, _ = sf.datasize_plan(quick=True)
    assert "steps 200 (SMDD: 50,000)" in sf.smdd_difference(quick, smdd)


@pytest.mark.slow
def test_tgons_form_at_smdds_lr_with_smdds_steps_not_with_a_fifth_of_them():
    """Why the sweep needs SMDD's 50,000 steps at lr 1e-3 (the earlier lr 5e-3 made up for 10,000):
    at 50,000 the T = 8 and 10 examples form T-gons (every gap within 20% of 360°/T: measured
    0.95-1.13 and 0.87-1.09 of it); at 10,000 they do not (0.54-1.36 and 0.52-1.21)."""
    from model.experiments.datasize import DataSizeRunner

    base, _, _ = sf.datasize_plan()

    def spread(steps):
        cfg = base.replace(steps=steps, warmup=steps // 20)
        res = DataSizeRunner(cfg, (8, 10), 50, threads=1).run()
        return {r.T: sf.gaps_deg(np.asarray(r.H[0], float)) * r.T / 360.0 for r in res.results}

    full = spread(base.steps)
    for T, g in full.items():
        assert g.min() >= 0.8 and g.max() <= 1.2, (T, g)
    short = spread(base.steps // 5)
    for T, g in short.items():
        assert g.min() < 0.8 or g.max() > 1.2, (T, g)


def test_clean_symmetric_failure_against_closed_forms(qapp):
    from model.training.init import henighan

    fr = _failure_frame(qapp)
    W, b = fr.snap.W, fr.snap.b
    assert sf.clean_symmetric_failure(W, b, 6 / 49)
    assert not sf.clean_symmetric_failure(*henighan(7), 0.0)  # perfect: no dead feature
    tilted = W.copy()
    tilted[:, 6] = 0.05 * W[:, 5]  # the seed's tilt: W_7 no longer at the origin
    assert not sf.clean_symmetric_failure(tilted, b, 6 / 49)
    assert not sf.clean_symmetric_failure(W, np.r_[b[:6], 0.2], 6 / 49)  # b_7 is not the mean 1/7
    two = W.copy()
    two[:, 0] = 0.0  # two dead features
    assert not sf.clean_symmetric_failure(two, b, 2 * 6 / 49)
    squeezed = W.copy()
    squeezed[:, 1] = np.array([[math.cos(0.2), -math.sin(0.2)], [math.sin(0.2), math.cos(0.2)]]) @ W[:, 1]
    assert not sf.clean_symmetric_failure(squeezed, b, 6 / 49)  # one gap 11.5° off the hexagon's


@pytest.mark.slow
def test_adamw_never_gives_the_clean_symmetric_failure_sgd_does():
    """ADAMW_NOTE, measured again: 0 of AdamW's 2,000 n = 7 seeds end in the seed's clean failure,
    each far from it (every criterion's margin >= 10x its tolerance in the nearest model); SGD with
    momentum 0.9, no weight decay (the preset) does, at seed 10 and in about a quarter of seeds."""
    from model.presets import preset_config
    from model.training.engine import train

    adamw = TrainConfig(n=7, m=2, steps=25_000, models=2_000, seed=0)
    h = train(adamw, threads=1).history
    t = sf.CLEAN_TOL
    near = np.full(4, np.inf)
    for k in range(adamw.models):
        s = h.snapshot(model=k)
        assert not sf.clean_symmetric_failure(s.W, s.b, s.loss)
        nrm = np.linalg.norm(s.W, axis=0)
        d = int(np.argmin(nrm))
        g = sf.gaps_deg(np.delete(s.W, d, axis=1))
        near = np.minimum(near, [nrm[d] / nrm.max() / t["dead"], abs(s.b[d] - 1 / 7) / t["bias"],
                                 np.abs(g - 60).max() / t["gap_deg"], abs(s.loss - 6 / 49) / t["loss"]])
    assert np.all(near >= 10), near
    sgd = preset_config("seed-failure", seed=0, models=200)
    h = train(sgd, threads=1).history
    clean = [k for k in range(sgd.models)
             if sf.clean_symmetric_failure(h.snapshot(model=k).W, h.snapshot(model=k).b, h.snapshot(model=k).loss)]
    assert 10 in clean and 0.15 <= len(clean) / sgd.models <= 0.35, len(clean)  # 511 of 2,000 measured
