"""The Experiments views as figures: `main.py export` of sweep and dataset-size files (by the
file's kind), `probe --figure`, and the Experiments window's Export… buttons, on results built by
hand. What is checked is in the pixels: the verdict colours of the sweep's bars, the loss curves'
colours, the probe's curve."""
import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage

from app.export.figure import qimage_rgb
from tests.app.experiment_data import hand_datasize, hand_sweep, seed_probe
from tests.app.test_cli import run
from tests.app.test_cli_experiments import _one_line_error


def _pixels(path) -> np.ndarray:
    img = QImage(str(path))
    assert not img.isNull(), path
    return qimage_rgb(img.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)).astype(int)


def _has_colour(a: np.ndarray, rgb, count: int = 30, tol: int = 12) -> bool:
    """At least ``count`` pixels within ``tol`` of ``rgb`` in every channel."""
    close = np.all(np.abs(a - np.asarray(rgb[:3])[None, None]) <= tol, axis=2)
    return int(close.sum()) >= count


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("experiments")
    return hand_sweep(d / "sweep.h5"), hand_datasize(d / "smdd.h5")


@pytest.mark.slow
def test_export_draws_a_sweep_file_as_its_atlas(files, tmp_path):
    from widgets.sweep_view import VERDICT_COLORS

    out = tmp_path / "atlas.png"
    r = run("export", str(files[0]), "--out", str(out), "--size", "1000x700")
    assert r.returncode == 0, r.stderr
    assert "sweep file" in r.stdout
    a = _pixels(out)
    assert a.shape == (700, 1000, 3)
    # the rate bars: 3 of 5 perfect, 2 of 5 symmetric failures, in the verdicts' colours
    assert _has_colour(a, VERDICT_COLORS["perfect"], count=300)
    assert _has_colour(a, VERDICT_COLORS["symmetric_failure"], count=300)


@pytest.mark.slow
def test_export_draws_a_dataset_size_file(files, tmp_path):
    from widgets.datasize_view import TEST_PEN, TRAIN_PEN

    out = tmp_path / "smdd.png"
    r = run("export", str(files[1]), "--out", str(out))
    assert r.returncode == 0, r.stderr
    a = _pixels(out)
    assert a.shape == (900, 1400, 3)  # the experiment views' default size
    assert _has_colour(a, TRAIN_PEN) and _has_colour(a, TEST_PEN)


@pytest.mark.parametrize("args, words", [
    (["--view", "zones"], ["--view", "applies to a run file", "sweep file"]),
    (["--step", "3"], ["--step", "applies to a run file"]),
    (["--config", "2"], ["--config", "from 1 to 1"]),
    (["--model", "2"], ["--model", "atlas shows all its models"]),
])
@pytest.mark.slow
def test_run_options_on_a_sweep_file_are_refused_in_one_line(files, tmp_path, args, words):
    out = tmp_path / "never.png"
    _one_line_error(run("export", str(files[0]), "--out", str(out), *args), *words)
    assert not out.exists()


@pytest.mark.slow
def test_config_is_only_for_a_sweep_file(files, tmp_path):
    out = tmp_path / "never.png"
    _one_line_error(run("export", str(files[1]), "--out", str(out), "--config", "1"), "--config", "sweep file")
    assert not out.exists()


@pytest.mark.slow
def test_probe_view_figure_shows_the_curve(qapp, tmp_path):
    from app.export.experiment_figures import write_probe_figure
    from widgets.probe_view import CURVE_PEN

    res, snap, cfg = seed_probe()
    out = write_probe_figure(tmp_path / "probe.png", res, snap, cfg)
    a = _pixels(out)
    assert _has_colour(a, CURVE_PEN, count=200)
    # the figure draws the probe's content: the marker and its dot at t = 0 on loss(0), no control built
    from PyQt6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QSlider

    from app.export.experiment_figures import probe_content_for

    c = probe_content_for(res)
    assert c.t() == 0.0 and list(c.dot.getData()[1]) == pytest.approx([res.loss0])
    assert not c.findChildren((QAbstractButton, QAbstractSpinBox, QComboBox, QSlider))


@pytest.mark.slow
def test_experiments_window_export_buttons_write_each_view(qtbot, tmp_path, files, monkeypatch):
    """Each tab's Export… draws its view with the same renderer (the dialog's answer faked)."""
    import app.gui.experiments_window as xw
    from app.gui.session import Session
    from model.config import TrainConfig

    s = Session()
    w = xw.ExperimentsWindow(s, lambda: TrainConfig(n=7))
    qtbot.addWidget(w)
    try:
        assert not w.sweep.export_button.isEnabled()  # nothing to export yet
        assert w.sweep.open(files[0]) and w.datasize.open(files[1])
        answers = iter([(str(tmp_path / "a"), "SVG (*.svg)"), (str(tmp_path / "d.pdf"), "PDF (*.pdf)")])
        monkeypatch.setattr(xw.QFileDialog, "getSaveFileName", lambda *a, **k: next(answers))
        assert w.sweep.export_button.isEnabled()
        qtbot.mouseClick(w.sweep.export_button, Qt.MouseButton.LeftButton)
        assert (tmp_path / "a.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
        assert "figure saved" in w.sweep.status.text()
        qtbot.mouseClick(w.datasize.export_button, Qt.MouseButton.LeftButton)
        assert (tmp_path / "d.pdf").read_bytes()[:5] == b"%PDF-"
        # the probe tab: a result as the probe job hands it over
        res, snap, cfg = seed_probe()
        w.probe.base = snap
        w.probe._on_done(res)
        assert w.probe.export_button.isEnabled()
        assert w.probe.export_figure(tmp_path / "p.png") == tmp_path / "p.png"
        # an existing file is not replaced unasked: the status says so, the file stays
        before = (tmp_path / "p.png").read_bytes()
        assert w.probe.export_figure(tmp_path / "p.png") is None
        assert "already exists" in w.probe.view.status.text()
        assert (tmp_path / "p.png").read_bytes() == before
    finally:
        w.shutdown(2.0)
        w.close()
        s.shutdown(2.0)
