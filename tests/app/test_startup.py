"""Start-up: each command imports what it uses, and nothing else.

Facts, not timings: which heavy libraries a command has imported when it ends,
read from sys.modules in a fresh interpreter. torch, numba, Qt and h5py each
take from a few tenths of a second to over a second to import, so an argparse
definition that pulled one in would cost every --help that much.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.config import TrainConfig
from model.history import History
from model.storage.runfile import save_run
from model.training.init import henighan
from tests.fresh_python import loaded_after

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "numba", "PyQt6", "h5py", "pyqtgraph", "scipy")

# Runs main.main(argv) for each argv in the child, then prints the heavy top-level
# packages it has imported (stdout of the commands goes to a buffer).
_CHILD = """
import contextlib, io, json, sys
from app import cli
argvs = json.loads(sys.argv[1])
codes = []
for argv in argvs:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            codes.append(cli.main(argv))
        except SystemExit as exc:
            codes.append(exc.code)
heavy = set(json.loads(sys.argv[2]))
print(json.dumps({"codes": codes, "imported": sorted({m.split('.')[0] for m in sys.modules} & heavy)}))
"""


def _imports_of(*argvs):
    r = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([list(a) for a in argvs]), json.dumps(HEAVY)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_help_of_every_command_imports_no_heavy_library():
    from app.cli import COMMANDS

    argvs = [["--help"]] + [[c, "--help"] for c in COMMANDS]
    res = _imports_of(*argvs)
    assert res["codes"] == [0] * len(argvs)  # each printed its help
    assert res["imported"] == []


def test_building_the_parser_imports_no_heavy_library():
    assert loaded_after("from app.cli import build_parser; build_parser()", HEAVY) == []


def test_a_bad_flag_imports_no_heavy_library():
    # the one-line refusal comes from the parser alone
    res = _imports_of(["train", "--n", "zero"], ["inspect"])
    assert res["codes"] == [2, 2]
    assert res["imported"] == []


@pytest.mark.slow
def test_inspect_of_a_small_run_reads_with_h5py_only(tmp_path):
    # Henighan's hexagon (n = 6) saved by hand: inspect reads it (h5py) and analyses it in
    # numpy; no torch (training only), no numba (large n only), no Qt, no scipy (a hull of
    # six points)
    cfg = TrainConfig(n=6, steps=10)
    W, b = henighan(6)
    h = History(1, 2, 6)
    h.append(10, W[None].astype(np.float32), b[None].astype(np.float32), np.zeros(1, np.float32))
    path = tmp_path / "hexagon.h5"
    save_run(path, cfg, h)
    res = _imports_of(["inspect", str(path), "--json"])
    assert res["codes"] == [0]
    assert res["imported"] == ["h5py"]


@pytest.mark.slow
def test_training_on_the_compiled_path_from_the_analytic_start_imports_no_torch(tmp_path):
    # Henighan's n-gon start and the compiled one-hot kernel: numba and h5py, not torch
    # (Xavier starts draw from torch's generator, the torch path trains with it)
    out = tmp_path / "analytic.h5"
    res = _imports_of(["train", "--n", "7", "--steps", "50", "--init", "analytic", "--out", str(out), "--quiet"])
    assert res["codes"] == [0] and out.exists()
    assert "torch" not in res["imported"] and "PyQt6" not in res["imported"]
    assert {"numba", "h5py"} <= set(res["imported"])


def test_garbage_is_collected_in_the_gui_thread_only(qapp, monkeypatch):
    """The window and headless export turn automatic (any-thread) cyclic collection off and
    collect on a GUI-thread timer: a collection started in a training or analysis thread could
    destroy Qt graphics items while the GUI thread paints them."""
    import gc

    import app.gui as gui

    monkeypatch.setattr(gui, "_COLLECTORS", [])
    gc.enable()
    try:
        gui.collect_garbage_in_gui_thread()
        assert not gc.isenabled()
        (collector,) = gui._COLLECTORS
        assert collector.timer.isActive() and collector.timer.thread() is qapp.thread()
        gui.collect_garbage_in_gui_thread()  # once per process
        assert len(gui._COLLECTORS) == 1
    finally:
        for c in gui._COLLECTORS:
            c.timer.stop()
        gc.disable()  # as the suite runs (tests/conftest.py)
