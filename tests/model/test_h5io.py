"""model/storage/h5io.py: every reader and writer of the three kinds of file (run, sweep, dataset-size
sweep) refuses a bad file or target in one line that names the file and its kind."""
from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from model.config import TrainConfig
from model.experiments.datasize import DataSizeRunner, open_datasize, save_datasize, smdd_config
from model.experiments.sweep import SweepRunner, open_sweep, run_sweep, save_sweep
from model.storage import h5io
from model.storage.outfile import RunFileError
from model.storage.runfile import load_snapshot, open_run, save_run
from model.training.engine import train

REPO = Path(__file__).resolve().parents[2]
KINDS = ("run", "sweep", "datasize")
NAME = {"run": "run file", "sweep": "sweep file", "datasize": "dataset-size sweep file"}
READERS = {"run": open_run, "sweep": open_sweep, "datasize": open_datasize}
W_PATH = {"run": "history/W", "sweep": "configs/c0000/W", "datasize": "sizes/T000000003/W"}


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    tr = train(TrainConfig(n=5, m=2, steps=20, lr=1e-2, seed=0), threads=1)
    save_run(folder / "run.h5", tr.config, tr.history)
    run_sweep(TrainConfig(n=3, steps=5), None, 2, out=folder / "sweep.h5", threads=1)
    DataSizeRunner(smdd_config(n=20, steps=5, warmup=0), [3], test_examples=50, out=folder / "datasize.h5",
                   threads=1).run()
    return {k: folder / f"{k}.h5" for k in KINDS}


def refusal(reader, path) -> RunFileError:
    with pytest.raises(RunFileError) as e:
        reader(path)
    err = e.value
    text = str(err)
    assert "\n" not in text and Path(path).name in text, text
    assert err.status == 2, text
    assert err.__suppress_context__ or err.__context__ is None  # no chained h5py traceback
    return err


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("other", KINDS)
def test_a_file_of_another_kind_is_refused_naming_both_kinds(good, kind, other):
    if kind == other:
        assert READERS[kind](good[kind]) is not None  # the good file itself reads
        return
    err = refusal(READERS[kind], good[other])
    assert err.problem.startswith(f"is a {NAME[other]}, not a {NAME[kind]} ("), err.problem


@pytest.mark.parametrize("kind", KINDS)
def test_a_truncated_file_is_refused_naming_its_kind(good, kind, tmp_path):
    data = good[kind].read_bytes()
    for pct in (50, 99):
        p = tmp_path / f"cut-{pct}.h5"
        p.write_bytes(data[: len(data) * pct // 100])
        text = str(refusal(READERS[kind], p))
        assert NAME[kind] in text and ("truncated" in text or "damaged" in text), text


@pytest.mark.parametrize("kind", KINDS)
def test_a_fifo_is_refused_naming_its_kind_without_blocking(kind, tmp_path):
    """Opening a FIFO for reading blocks until a writer comes: the guard refuses it by its type."""
    p = tmp_path / "pipe.h5"
    os.mkfifo(p)
    err = refusal(READERS[kind], p)
    assert err.problem == f"is a named pipe (FIFO), not a {NAME[kind]}: only regular files are read"


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_or_empty_file_names_its_kind(kind, tmp_path):
    err = refusal(READERS[kind], tmp_path / "absent.h5")
    assert str(err) == f"{tmp_path / 'absent.h5'} ({NAME[kind]}): file not found"
    (tmp_path / "empty.h5").write_bytes(b"")
    assert str(refusal(READERS[kind], tmp_path / "empty.h5")).endswith(f"({NAME[kind]}): the file is empty")


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_dataset_is_refused_with_the_kind_beside_the_file(good, kind, tmp_path):
    """A problem inside the file (here a missing W) says where; the kind comes after the file name."""
    p = tmp_path / "missing.h5"
    shutil.copy(good[kind], p)
    with h5py.File(p, "a") as f:
        del f[W_PATH[kind]]
    text = str(refusal(READERS[kind], p))
    assert text.startswith(f"{p} ({NAME[kind]}): ") and "'W'" in text, text


@pytest.mark.parametrize("kind", KINDS)
def test_a_newer_format_version_is_refused_naming_its_kind(good, kind, tmp_path):
    p = tmp_path / "newer.h5"
    shutil.copy(good[kind], p)
    with h5py.File(p, "a") as f:
        f.attrs["format_version"] = 99
    err = refusal(READERS[kind], p)
    assert err.problem.startswith(f"is a {NAME[kind]} written by a newer version of the program "
                                  f"(format_version 99;"), err.problem


def test_load_snapshot_goes_through_the_same_guard(good):
    err = refusal(load_snapshot, good["sweep"])
    assert err.problem.startswith("is a sweep file, not a run file (")


# ------------------------------------------------------------------- writing
def test_writers_refuse_an_existing_target_naming_their_kind(good, tmp_path):
    """Before anything trains, and without touching the file that is there."""
    target = tmp_path / "taken.h5"
    target.write_bytes(b"precious")
    with pytest.raises(RunFileError) as e:
        SweepRunner(TrainConfig(n=3, steps=5), None, 2, out=target, threads=1)
    assert e.value.problem == "cannot write the sweep file: the file already exists"
    with pytest.raises(RunFileError) as e:
        DataSizeRunner(smdd_config(n=20, steps=5, warmup=0), [3], test_examples=50, out=target, threads=1)
    assert e.value.problem == "cannot write the dataset-size sweep file: the file already exists"
    sweep, sizes = open_sweep(good["sweep"]), open_datasize(good["datasize"])
    for save, what in ((save_sweep, sweep), (save_datasize, sizes)):
        with pytest.raises(RunFileError, match="already exists"):
            save(target, what)
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.h5"]  # no temporary file left


def test_a_written_file_is_stamped_with_its_kind_and_reads_back(good, tmp_path):
    sweep = open_sweep(good["sweep"])
    out = save_sweep(tmp_path / "copy.h5", sweep)
    with h5py.File(out, "r") as f:
        assert h5io.as_str(f.attrs["format"]) == h5io.SWEEP_FORMAT and int(f.attrs["format_version"]) == 1
    back = open_sweep(out)
    assert len(back.entries) == len(sweep.entries)
    np.testing.assert_array_equal(back.entries[0].W, sweep.entries[0].W)
    err = refusal(open_datasize, out)
    assert err.problem.startswith("is a sweep file, not a dataset-size sweep file (")


# ------------------------------------------------------------------ structure
IO_MODULES = ("h5io", "outfile", "runfile", "sweep", "datasize")


@pytest.mark.slow
def test_no_module_imports_a_private_name_of_the_file_modules():
    """The file modules share their helpers through h5io's public names, never each other's _names."""
    bad = []
    for src in sorted((REPO / "model").rglob("*.py")):
        for node in ast.walk(ast.parse(src.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] in IO_MODULES:
                bad += [f"{src.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert bad == []


def test_file_kind_names_each_kind_and_refuses_what_is_none_of_them(good, tmp_path):
    """file_kind (export's dispatch) reads the kind from the file; a path that is none of the three
    kinds is one line that says so ("run, sweep or dataset-size sweep file")."""
    assert {k: h5io.file_kind(p) for k, p in good.items()} == {
        "run": h5io.RUN_FORMAT, "sweep": h5io.SWEEP_FORMAT, "datasize": h5io.DATASIZE_FORMAT}
    fifo = tmp_path / "pipe.h5"
    os.mkfifo(fifo)
    junk = tmp_path / "junk.h5"
    junk.write_text("not a file of ours")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.attrs["format"] = "something-else"
    assert str(refusal(h5io.file_kind, fifo)).endswith(
        "is a named pipe (FIFO), not a run, sweep or dataset-size sweep file: only regular files are read")
    assert str(refusal(h5io.file_kind, junk)).endswith("is not a run, sweep or dataset-size sweep file (not HDF5)")
    assert "is an HDF5 file but not a run file, sweep file or dataset-size sweep file" in str(
        refusal(h5io.file_kind, foreign))
