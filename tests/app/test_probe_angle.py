"""`main.py probe --path angle` and the probe view's loss-over-angle plot, on run files built by hand."""
import json
import math

import numpy as np
import pytest

from tests.app.test_cli import run
from tests.app.test_cli_experiments import _one_line_error


def _write(path, snap):
    from model.analysis import probe as pr
    from model.config import TrainConfig

    pr.save_start_run(path, TrainConfig(n=snap.n, m=snap.m), snap)
    return path


def _two_vectors():
    """W_1 = (1, 0), W_2 = (0, 1): unit vectors that float32 (the run file's precision) holds exactly."""
    from model.snapshot import Snapshot

    return Snapshot(0, np.array([[1.0, 0.0], [0.0, 1.0]]), np.zeros(2), loss=0.0)


@pytest.fixture(scope="module")
def two_run(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("angle") / "two.h5", _two_vectors())


@pytest.fixture(scope="module")
def m3_run(tmp_path_factory):
    from model.snapshot import Snapshot

    W = np.array([[1.0, 0.2, -0.5], [0.5, 1.0, 0.1], [0.2, -0.3, 0.9]])
    return _write(tmp_path_factory.mktemp("angle") / "m3.h5", Snapshot(0, W, np.zeros(3)))


@pytest.mark.slow
def test_probe_angle_json_matches_the_two_vector_curve(two_run):
    r = run("probe", str(two_run), "--path", "angle", "--feature", "1", "--points", "73", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["kind"] == "angle" and d["feature"] == 1 and d["t_unit"] == "rad"
    th = np.array(d["t"])
    assert th[0] == pytest.approx(-math.pi) and th[-1] == pytest.approx(math.pi)
    assert np.array(d["theta_deg"]) == pytest.approx(np.degrees(th), rel=1e-14)
    expected = np.maximum(0.0, np.cos(th - math.pi / 2)) ** 2  # angle between W_1(theta) and W_2: theta - pi/2
    assert np.max(np.abs(np.array(d["loss"]) - expected)) < 1e-12
    assert np.max(np.abs(np.array(d["reference"]) - expected)) < 1e-12


@pytest.mark.slow
def test_probe_angle_text_prints_degrees_and_the_closed_form_beside_the_loss(two_run):
    r = run("probe", str(two_run), "--path", "angle", "--feature", "2", "--range", "90", "--points", "7")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "W_2 turned by θ counter-clockwise" in out and "closed form" in out and "θ (deg)" in out
    assert "<- θ = 0" in out and "largest |loss - closed form| on the grid:" in out
    rows = [ln.split() for ln in out.splitlines() if ln.strip().startswith(("-90", "90"))]
    assert {row[0] for row in rows} == {"-90", "90"}


@pytest.mark.slow
def test_probe_angle_on_seven_features_says_the_curve_does_not_apply(tmp_path):
    from model.snapshot import Snapshot
    from model.training.init import henighan

    f = _write(tmp_path / "h7.h5", Snapshot(0, *henighan(7), loss=0.0))
    r = run("probe", str(f), "--path", "angle", "--feature", "7", "--direction", "6", "--range", "30", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["reference"] is None and "n = 7" in d["reference_text"]
    assert d["kink_distance"] < 1e-6 and d["loss0"] < 1e-12  # the run file holds float32: kinks within rounding


@pytest.mark.parametrize("args, words", [
    (["--feature", "1"], ["--direction", "m = 3", "feature j, angle:DEG or random"]),
    (["--feature", "1", "--direction", "1"], ["--direction", "another feature than --feature 1"]),
    (["--feature", "4", "--direction", "2"], ["--feature", "from 1 to n = 3, got 4"]),
    (["--feature", "1", "--direction", "2", "--range", "0"], ["--range", "a < b"]),
])
@pytest.mark.slow
def test_bad_angle_probe_input_is_one_line(m3_run, args, words):
    _one_line_error(run("probe", str(m3_run), "--path", "angle", *args), *words)


@pytest.mark.slow
def test_m3_angle_probe_turns_toward_the_given_feature(m3_run):
    r = run("probe", str(m3_run), "--path", "angle", "--feature", "1", "--direction", "3", "--points", "5", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["path"] == "W_1 turned by θ toward W_3 (|W_1| kept)" and d["reference"] is None


# ------------------------------------------------------------------- the view

def _show(qtbot, view):
    from PyQt6.QtWidgets import QApplication

    qtbot.addWidget(view)
    view.resize(800, 560)
    view.show()
    qtbot.waitExposed(view)
    QApplication.processEvents()
    view.plot.viewport().grab()
    QApplication.processEvents()
    return view.plot.viewport().grab().toImage()


def _purple_pixels(img):
    """Pixels of the overlay's translucent pen over the plot's background (its most common colour)."""
    from collections import Counter

    from widgets.probe_view import REF_ALPHA, REF_PEN

    px = [img.pixelColor(x, y) for y in range(0, img.height(), 2) for x in range(0, img.width(), 2)]
    rgb = np.array([[c.red(), c.green(), c.blue()] for c in px], dtype=float)
    bg = np.array(Counter(map(tuple, rgb)).most_common(1)[0][0])
    a = REF_ALPHA / 255.0
    want = a * np.array(REF_PEN, dtype=float) + (1 - a) * bg
    return int(np.sum(np.abs(rgb - want).sum(axis=1) < 30))


@pytest.mark.slow
def test_probe_view_draws_the_angle_path_in_degrees_with_the_overlay(qtbot):
    from model.analysis import probe as pr
    from model.snapshot import Snapshot
    from model.training.init import henighan
    from widgets.probe_view import DEG, ProbeView

    snap = _two_vectors()
    res = pr.probe(snap, pr.angle_path(snap, 0), pr.Objective(), (-math.pi, math.pi), 181)
    v = ProbeView()
    v.kind.setCurrentText("angle")
    assert v.span.suffix() == "°" and v.span.value() == 180.0
    p = v.params()
    assert p["kind"] == "angle" and p["range"] == pytest.approx((-math.pi, math.pi))
    v.set_result(res)
    x, y = v.ref.getData()
    assert x == pytest.approx(res.ts * DEG) and y == pytest.approx(res.reference)
    assert v.curve.getData()[0] == pytest.approx(res.ts * DEG)
    assert v.plot.getAxis("bottom").labelText == "θ (degrees)"
    assert "overlay: two-vector curve" in v.readout.text()
    v.set_t(0.5)
    assert v.t() == pytest.approx(0.5) and v.marker.value() == pytest.approx(0.5 * DEG)
    assert "θ = 28.65°" in v.t_label.text()
    with_overlay = _purple_pixels(_show(qtbot, v))
    assert with_overlay > 50, with_overlay

    s7 = Snapshot(0, *henighan(7))
    r7 = pr.probe(s7, pr.angle_path(s7, 6, ("feature", 5)), pr.Objective(), (-1.0, 1.0), 101)
    v.set_result(r7)
    assert v.ref.getData()[0] is None or len(v.ref.getData()[0]) == 0
    assert "no overlay: the two-vector curve does not apply" in v.readout.text()
    without = _purple_pixels(_show(qtbot, v))
    assert without < with_overlay / 10, (without, with_overlay)
    # back to a straight path: t in its own units again
    rb = pr.probe(s7, pr.bias_path(s7, 6), pr.Objective(), (-0.5, 0.5), 11)
    v.kind.setCurrentText("bias")
    assert v.span.suffix() == "" and v.span.value() == 1.0
    v.set_result(rb)
    v.set_t(0.25)
    assert v.marker.value() == pytest.approx(0.25) and v.plot.getAxis("bottom").labelText == "t"
    v.close()


def test_the_marker_is_dragged_in_the_window_and_fixed_in_the_content(qtbot):
    """The marker moved by hand (as a drag sets its value) moves the slider, the t label and asks for the model
    at t (tChanged); that is the view's: the probe's content alone (what a figure draws) has a fixed marker."""
    from tests.app.experiment_data import seed_probe
    from widgets.probe_view import SLIDER_STEPS, ProbeContent, ProbeView

    res, snap, _ = seed_probe()
    v = ProbeView()
    qtbot.addWidget(v)
    v.set_model_info(snap.n)
    v.set_result(res)
    assert v.marker.movable and v.slider.value() == SLIDER_STEPS // 2
    ts = res.ts
    t = float(ts[0] + 0.75 * (ts[-1] - ts[0]))
    with qtbot.waitSignal(v.tChanged, timeout=1000) as sig:
        v.marker.setValue(t)  # what a drag of the line does
    assert sig.args[0] == pytest.approx(t)
    assert v.slider.value() == round(0.75 * SLIDER_STEPS)
    assert f"t = {t:.4g}" in v.t_label.text()
    assert list(v.dot.getData()[1]) == pytest.approx([np.interp(t, ts, res.losses)])
    alone = ProbeContent()
    alone.set_result(res)
    assert not alone.marker.movable and alone.t() == 0.0
