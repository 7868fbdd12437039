"""Run files: round trip, live writing, crash safety (real SIGKILL), bad files."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import model.storage.runfile as runfile
from model.config import TrainConfig
from model.history import History
from model.storage.runfile import (
    RunFileError,
    RunWriter,
    autosave_path,
    load_snapshot,
    open_run,
    save_run,
    user_runs_dir,
)
from model.training.recording import RunFileRecorder

REPO = Path(__file__).resolve().parents[2]


def make_config(**kw):
    base = dict(n=7, m=2, models=3, data="sparse", examples=20, steps=1000)
    base.update(kw)
    return TrainConfig(**base).validate()


def make_history(cfg, steps=range(0, 300, 3), budget=None, seed=0):
    K, m, n = cfg.models, cfg.m, cfg.n
    h = History(K, m, n, untied=cfg.untied, budget_bytes=budget or 2**20)
    rng = np.random.default_rng(seed)
    for s in steps:
        h.append(s, rng.standard_normal((K, m, n)), rng.standard_normal((K, n)), rng.random(K),
                 rng.standard_normal((K, n, m)) if cfg.untied else None)
    return h


def make_dataset(cfg, seed=0):
    rng = np.random.default_rng(seed)
    shape = (cfg.models, cfg.examples, cfg.n)
    return np.where(rng.random(shape) > 0.8, rng.random(shape), 0).astype(np.float32)


def assert_same_history(a: History, b: History):
    assert len(a) == len(b)
    assert np.array_equal(a.steps, b.steps)
    assert np.array_equal(a.halted, b.halted)
    for i in range(len(a)):
        ra, rb = a.row(i), b.row(i)
        assert ra[0] == rb[0]
        for x, y in zip(ra[1:], rb[1:], strict=True):
            assert (x is None and y is None) or np.array_equal(x, y)


# ------------------------------------------------------------------ round trip
@pytest.mark.parametrize("untied", [False, True])
def test_round_trip(tmp_path, untied):
    cfg = make_config(untied=untied, importance=[1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    h = make_history(cfg)
    h.mark_halted(2, 150)
    ds = make_dataset(cfg)
    p = save_run(tmp_path / "run.h5", cfg, h, dataset=ds, meta={"note": "NaN in model 3 at step 150"})
    r = open_run(p)
    assert r.path == p and r.config == cfg
    assert r.dataset.dtype == np.float32 and np.array_equal(r.dataset, ds)
    assert r.meta == {"note": "NaN in model 3 at step 150"}
    assert_same_history(r.history, h)
    for k in range(3):
        a, b = r.history.snapshot(200, k), h.snapshot(200, k)
        assert a.step == b.step and np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
        assert (a.M is None and b.M is None) or np.array_equal(a.M, b.M)
    # the dataset is stored sparsely
    with h5py.File(p, "r") as f:
        assert f["dataset/data"].shape[0] == np.count_nonzero(ds)
        assert f.attrs["format"] == "latent-geometry-run" and f.attrs["format_version"] == 1
    # no dataset
    p2 = save_run(tmp_path / "nodata.h5", cfg, h)
    assert open_run(p2).dataset is None


def test_open_run_thins_to_budget_keeping_first_and_last(tmp_path):
    cfg = make_config(models=1)
    h = make_history(cfg, steps=range(2000))
    p = save_run(tmp_path / "long.h5", cfg, h)
    small = 50 * History(1, 2, 7).bytes_per_snapshot + 8
    r = open_run(p, budget_bytes=small)
    st = r.history.steps
    assert len(st) <= r.history.capacity and len(st) >= 45
    assert st[0] == 0 and st[-1] == 1999
    assert np.diff(st).max() <= 2 * np.diff(st).min() + 1  # evenly spread
    i = 17
    assert np.array_equal(r.history.snapshot(st[i]).W, h.snapshot(st[i]).W)
    # the loaded history keeps working as a history
    r.history.append(5000, np.zeros((1, 2, 7)), np.zeros((1, 7)), np.zeros(1))
    assert r.history.latest_step == 5000 and len(r.history) <= r.history.capacity


def test_load_snapshot(tmp_path):
    cfg = make_config(importance=[1.0] * 7)
    h = make_history(cfg, steps=range(0, 100, 10))
    h.mark_halted(1, 55)
    p = save_run(tmp_path / "r.h5", cfg, h)
    c, s = load_snapshot(p)
    assert c == cfg and s.step == 90 and s.model == 0
    assert np.array_equal(s.W, h.snapshot(None, 0).W) and s.importance is not None
    assert load_snapshot(p, 35, model=2)[1].step == 30
    assert load_snapshot(p, -5)[1].step == 0
    assert load_snapshot(p, 40)[1].step == 40
    assert load_snapshot(p, model=1)[1].step == 50  # halted at 55
    with pytest.raises(RunFileError, match="model 3 does not exist"):
        load_snapshot(p, model=3)


# ---------------------------------------------------------------- live writing
@pytest.mark.slow
def test_writer_append_flush_reopen(tmp_path):
    cfg = make_config(models=2)
    K, m, n = 2, 2, 7
    p = tmp_path / "live.h5"
    ds = make_dataset(cfg)
    with RunWriter(p, cfg, dataset=ds, flush_seconds=3600, meta={"started": 1}) as w:
        assert not p.exists()  # not under its name before it holds a snapshot
        w.append(0, np.full((K, m, n), 0), np.full((K, n), 0), np.full(K, 0))
        assert w.maybe_flush() is True and w.published  # the first snapshot goes to disk at once
        assert len(open_run(p).history) == 1
        for s in range(1, 10):
            w.append(s, np.full((K, m, n), s), np.full((K, n), s), np.full(K, s))
        assert w.maybe_flush() is False  # flush_seconds not reached
        w.flush()
        assert w.rows_committed == 10
        w.append(10, np.full((K, m, n), 10), np.full((K, n), 10), np.full(K, 10))  # not flushed yet
        live = open_run(p)  # while the writer is open (SWMR)
        assert np.array_equal(live.history.steps, np.arange(10))
        assert np.array_equal(live.dataset, ds) and live.meta == {"started": 1}
        # a reader in another process too
        code = ("import sys; from model.storage.runfile import open_run; "
                "print(len(open_run(sys.argv[1]).history))")
        out = subprocess.run([sys.executable, "-c", code, str(p)], cwd=REPO, capture_output=True,
                             text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert out.stdout.strip() == "10", out.stderr
        w.mark_halted(1, 10)
        w.set_meta({"message": "model 2 produced NaN at step 10"})
        with pytest.raises(ValueError):
            w.append(10, np.zeros((K, m, n)), np.zeros((K, n)), np.zeros(K))
    r = open_run(p)
    assert np.array_equal(r.history.steps, np.arange(11))
    assert list(r.history.halted) == [-1, 10]
    assert r.meta == {"message": "model 2 produced NaN at step 10"}
    assert np.all(r.history.row(10)[1] == 10)
    w.close()  # closing twice is harmless


def test_writer_errors(tmp_path):
    cfg = make_config()
    with pytest.raises(RunFileError) as e:
        RunWriter(tmp_path / "no" / "such" / "dir" / "x.h5", cfg)
    assert "x.h5" in str(e.value) and "\n" not in str(e.value)
    p = tmp_path / "exists.h5"
    p.write_bytes(b"keep me")
    with pytest.raises(RunFileError, match="already exists"):
        RunWriter(p, cfg)
    assert p.read_bytes() == b"keep me"


CHILD = r"""
import sys, numpy as np
from model.config import TrainConfig
from model.storage.runfile import RunWriter
path = sys.argv[1]
K, m, n = 2, 2, 3000
w = RunWriter(path, TrainConfig(n=n, m=m, models=K).validate(), flush_seconds=0.0)
step = 0
while True:
    for _ in range(5):
        w.append(step, np.full((K, m, n), step, np.float32), np.full((K, n), step, np.float32),
                 np.full(K, step, np.float32))
        step += 1
    w.maybe_flush()
    print(w.rows_committed, flush=True)
"""


@pytest.mark.slow
def test_sigkill_keeps_flushed_rows(tmp_path):
    """A real kill -9 mid-run: the file opens with at least every row flushed before it."""
    p = tmp_path / "killed.h5"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(p)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    flushed = 0
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            flushed = int(line)
            if flushed >= 200 or time.monotonic() > deadline:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert flushed >= 200
    r = open_run(p)
    st = r.history.steps
    assert len(st) >= flushed
    assert np.array_equal(st, np.arange(len(st)))
    for i in (0, len(st) // 2, len(st) - 1):
        step, W, b, loss, _ = r.history.row(i)
        assert np.all(step == W) and np.all(b == step) and np.all(loss == step)
    assert load_snapshot(p)[1].step == st[-1]


# The writer as the engine drives it (default flush_seconds = 2): rows appended every few
# milliseconds, each carrying the time it was appended (CLOCK_MONOTONIC, the same for
# every process) as its step, and the step of its last committed row printed after each
# (benchmarks/bench_kill.py measures with it how many seconds of rows a kill loses).
# A small budget makes the staging blocks hold a few rows, so blocks go to the writer
# thread all the time, between its flushes.
TIMED_CHILD = r"""
import sys, time, numpy as np
from model.config import TrainConfig
from model.storage.runfile import RunWriter
K, m, n = 20, 2, 100
w = RunWriter(sys.argv[1], TrainConfig(n=n, m=m, models=K, history_budget_mb=2).validate())
last = -1
while True:
    step = max(last + 1, int(time.monotonic() * 1000))
    w.append(step, np.full((K, m, n), step % 65536, np.float32), np.full((K, n), -(step % 65536), np.float32),
             np.full(K, step % 1000, np.float32))
    last = step
    w.maybe_flush()
    if w.published:
        print(w.committed_step, flush=True)
    time.sleep(0.003)
"""


def stream_and_kill(path, seconds: float = 6.0):
    """Run TIMED_CHILD writing ``path`` and kill -9 it after ``seconds`` of streaming. Returns the
    time of the kill (CLOCK_MONOTONIC, ms: the rows' clock) and the committed steps the writer
    reported before it."""
    proc = subprocess.Popen([sys.executable, "-c", TIMED_CHILD, str(path)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    reported = []
    try:
        proc.stdout.readline()  # published: the first snapshot is on disk
        # read as it comes: a full pipe would stall the writer
        drain = threading.Thread(target=lambda: reported.extend(int(x) for x in proc.stdout.read().split()),
                                 daemon=True)
        drain.start()
        time.sleep(seconds)
        assert proc.poll() is None, proc.stderr.read()
        killed_ms = time.monotonic() * 1000
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        drain.join(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    return killed_ms, reported


@pytest.mark.slow
def test_sigkill_of_a_writer_at_work_keeps_every_committed_row(tmp_path):
    """A real kill -9 while rows stream in and blocks are in the writer thread: the file
    opens, its rows are intact, it holds every row the writer had reported committed before
    the kill, and it was committing all along (not only the first snapshot). How old the
    newest row is at the kill is benchmarks/bench_kill.py's figure, not a test's."""
    p = tmp_path / "timed.h5"
    _, reported = stream_and_kill(p, 6.0)  # three flush periods of streaming
    r = open_run(p, budget_bytes=2**30)  # every row (the config's 2 MB would thin them)
    st = r.history.steps
    assert len(st) > 100 and np.all(np.diff(st) > 0)
    assert st[-1] >= reported[-1]  # nothing the writer called committed is lost
    assert len(set(reported)) >= 2  # it committed again while streaming
    for i in (0, len(st) // 2, len(st) - 1):
        step, W, b, loss, _ = r.history.row(i)
        assert np.all(step % 65536 == W) and np.all(b == -(step % 65536)) and np.all(loss == step % 1000)


def test_the_engine_s_rows_reach_the_file_unchanged_through_the_writer_thread(tmp_path):
    """Many hand-offs (a small budget: staging blocks of a few rows), every row compared
    with the history's, bit for bit, and the halted steps with them."""
    from model.training.engine import Trainer

    # SGD at lr 0.8: 31 of the 40 models diverge (at steps 25 to 134), the others train on
    cfg = TrainConfig(n=7, models=40, steps=3000, history_budget_mb=0.25, lr=0.8, optimizer="sgd").validate()
    p = tmp_path / "r.h5"
    with RunWriter(p, cfg) as w:
        tr = Trainer(cfg, recorders=[RunFileRecorder(w)], threads=1)
        tr.run()
        assert w.stage_rows < 20  # the run went through many staging blocks
    h, run = tr.history, open_run(p)
    assert np.array_equal(run.history.steps, h.steps)
    with h.locked_arrays() as a, run.history.locked_arrays() as f:
        for key in ("W", "b", "loss"):
            assert np.array_equal(a[key], f[key], equal_nan=True), key
        assert np.array_equal(a["halted"], f["halted"])
        assert 0 < int(np.sum(a["halted"] >= 0)) < cfg.models


# ------------------------------------------------------------------ bad files
def _valid(tmp_path, name="valid.h5", **cfg_kw):
    cfg = make_config(**cfg_kw)
    return save_run(tmp_path / name, cfg, make_history(cfg), dataset=make_dataset(cfg))


def _edit(path, fn):
    with h5py.File(path, "a") as f:
        fn(f)
    return path


def bad_missing(tmp):
    return tmp / "missing.h5"


def bad_directory(tmp):
    d = tmp / "folder.h5"
    d.mkdir()
    return d


def bad_empty(tmp):
    p = tmp / "empty.h5"
    p.write_bytes(b"")
    return p


def bad_truncated(tmp):
    p = _valid(tmp, "truncated.h5")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return p


def bad_corrupt_middle(tmp):
    p = _valid(tmp, "corrupt.h5")
    data = bytearray(p.read_bytes())
    rng = np.random.default_rng(3)
    lo, hi = len(data) // 4, 3 * len(data) // 4
    data[lo:hi] = rng.integers(0, 256, hi - lo, dtype=np.uint8).tobytes()
    p.write_bytes(bytes(data))
    return p


def bad_corrupt_superblock(tmp):
    p = _valid(tmp, "corrupt_sb.h5")
    data = bytearray(p.read_bytes())
    data[8:40] = bytes(range(100, 132))
    p.write_bytes(bytes(data))
    return p


def bad_foreign_hdf5(tmp):
    p = tmp / "foreign.h5"
    with h5py.File(p, "w") as f:
        f["x"] = np.arange(5)
    return p


def bad_other_format(tmp):
    return _edit(_valid(tmp, "other.h5"), lambda f: f.attrs.__setitem__("format", "something-else"))


def bad_png(tmp):
    p = tmp / "picture.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    return p


def bad_text(tmp):
    p = tmp / "notes.txt"
    p.write_text("just some text\nover two lines\n")
    return p


def bad_newer_version(tmp):
    return _edit(_valid(tmp, "newer.h5"), lambda f: f.attrs.__setitem__("format_version", 2))


def bad_config_json(tmp):
    return _edit(_valid(tmp, "badjson.h5"), lambda f: f.attrs.__setitem__("config", "{not json"))


def bad_config_value(tmp):
    def fn(f):
        d = json.loads(f.attrs["config"])
        d["lr"] = -1
        f.attrs["config"] = json.dumps(d)
    return _edit(_valid(tmp, "badlr.h5"), fn)


def bad_config_values(tmp):
    def fn(f):  # two bad fields: both named, on one line
        d = json.loads(f.attrs["config"])
        d["lr"], d["steps"] = -1, -5
        f.attrs["config"] = json.dumps(d)
    return _edit(_valid(tmp, "badtwo.h5"), fn)


def bad_rows(tmp):
    def fn(f):  # W has fewer rows than steps
        f["history/W"].resize(10, axis=0)
    return _edit(_valid(tmp, "rows.h5"), fn)


def bad_shape_vs_config(tmp):
    def fn(f):  # config says n = 8, the arrays have n = 7
        d = json.loads(f.attrs["config"])
        d["n"] = 8
        f.attrs["config"] = json.dumps(d)
    return _edit(_valid(tmp, "shape.h5"), fn)


def bad_steps_order(tmp):
    def fn(f):
        f["history/steps"][5] = 0
    return _edit(_valid(tmp, "order.h5"), fn)


BAD = {
    bad_missing: "not found", bad_directory: "folder", bad_empty: "empty", bad_truncated: "truncated",
    bad_corrupt_middle: "damaged", bad_corrupt_superblock: "damaged", bad_foreign_hdf5: "not a latent-geometry run",
    bad_other_format: "something-else", bad_png: "not HDF5", bad_text: "not HDF5", bad_newer_version: "newer",
    bad_config_json: "bad config", bad_config_value: "lr", bad_config_values: "lr: must be in (0, 100], got -1; "
    "steps: must be from 0 to 1000000000, got -5", bad_rows: "rows", bad_shape_vs_config: "shape",
    bad_steps_order: "increasing",
}


@pytest.mark.parametrize("make", list(BAD), ids=[f.__name__ for f in BAD])
def test_bad_files_give_one_line_run_file_error(tmp_path, make):
    p = make(tmp_path)
    for reader in (open_run, load_snapshot):
        with pytest.raises(RunFileError) as e:
            reader(p)
        msg = str(e.value)
        assert p.name in msg and "\n" not in msg
        assert BAD[make] in e.value.problem, msg
        assert e.value.__suppress_context__ or e.value.__context__ is None  # no chained h5py traceback
        assert "Traceback" not in msg


def test_no_pickle_anywhere():
    for mod in ("storage/runfile.py", "history.py"):
        src = (REPO / "model" / mod).read_text()
        assert "import pickle" not in src and "allow_pickle=True" not in src and "cPickle" not in src


# ------------------------------------------------------------------ saving
def test_save_run_is_atomic(tmp_path, monkeypatch):
    cfg = make_config()
    p = save_run(tmp_path / "run.h5", cfg, make_history(cfg, seed=1))
    before = p.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runfile, "_write_dataset", boom)
    with pytest.raises(RunFileError, match="disk is full") as e:
        save_run(p, cfg, make_history(cfg, seed=2), dataset=make_dataset(cfg), replace=True)
    assert "run.h5" in str(e.value)
    assert p.read_bytes() == before  # the old file is untouched
    assert sorted(x.name for x in tmp_path.iterdir()) == ["run.h5"]  # no temp file left
    monkeypatch.undo()
    h2 = make_history(cfg, seed=2)
    with pytest.raises(RunFileError, match="already exists"):
        save_run(p, cfg, h2)  # never replaced unasked
    assert p.read_bytes() == before
    save_run(p, cfg, h2, replace=True)  # replacing when asked works
    assert_same_history(open_run(p).history, h2)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["run.h5"]


def test_save_run_permission_errors(tmp_path, monkeypatch):
    cfg = make_config()
    h = make_history(cfg)
    with pytest.raises(RunFileError, match="folder"):
        save_run(tmp_path / "missing_dir" / "r.h5", cfg, h)

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(h5py, "File", denied)
    for call in (lambda: save_run(tmp_path / "r.h5", cfg, h), lambda: RunWriter(tmp_path / "w.h5", cfg)):
        with pytest.raises(RunFileError, match="permission denied") as e:
            call()
        assert "r.h5" in str(e.value) or "w.h5" in str(e.value)
    monkeypatch.undo()
    if os.geteuid() != 0:  # root ignores permissions
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            with pytest.raises(RunFileError, match="permission denied"):
                save_run(ro / "r.h5", cfg, h)
        finally:
            ro.chmod(0o755)


# ------------------------------------------------------------------ places
def test_user_runs_dir_and_autosave_path(tmp_path, monkeypatch):
    monkeypatch.setenv("LGE_DATA_DIR", str(tmp_path / "data"))
    d = user_runs_dir()
    assert d == tmp_path / "data" / "runs" and d.is_dir()
    cfg = make_config()
    a = autosave_path(cfg)
    assert a.parent == d and a.suffix == ".h5" and not a.exists()
    a.write_bytes(b"")
    b = autosave_path(cfg)
    assert b != a and b.parent == d


def test_block_crc_equals_the_per_row_crc():
    import numpy as np

    from model.storage.runfile import _block_crc, _row_crc

    rng = np.random.default_rng(1)
    steps = np.array([3, 9, 12])
    W = rng.normal(size=(3, 2, 2, 5)).astype(np.float32)
    b = rng.normal(size=(3, 2, 5)).astype(np.float32)
    loss = rng.random((3, 2)).astype(np.float32)
    M = rng.normal(size=(3, 2, 5, 2)).astype(np.float32)
    for MM in (None, M):
        got = _block_crc(steps, W, b, loss, MM)
        want = [_row_crc(steps[i], W[i], b[i], loss[i], None if MM is None else MM[i]) for i in range(3)]
        assert got.tolist() == want


# ------------------------------------------------------------------ read guard
def test_the_read_guard_walks_every_object_once_and_keeps_links_inside_the_file(tmp_path):
    """A hard-linked group cycle (a group holding itself) and soft links inside the file: the
    self-containedness walk ends and the run reads; a dataset stored outside the file, reached
    only through that cycle, is still found."""
    cfg = make_config(models=1, data="identity", examples=None)
    p = save_run(tmp_path / "cycle.h5", cfg, make_history(cfg, steps=range(5)))
    with h5py.File(p, "a") as f:
        g = f.create_group("extra")
        g["self"] = g  # hard link: /extra/self is /extra
        f["extra/history_alias"] = h5py.SoftLink("/history")
    assert len(open_run(p).history) == 5
    outside = tmp_path / "raw.bin"
    outside.write_bytes(b"\0" * 64)
    with h5py.File(p, "a") as f:
        f["extra"].create_dataset("raw", shape=(16,), dtype=np.float32, external=[(str(outside), 0, 64)])
    for reader in (open_run, load_snapshot):
        with pytest.raises(RunFileError, match="extra/raw stores its data in another file"):
            reader(p)


def test_a_path_swapped_for_a_fifo_is_refused_without_blocking(tmp_path):
    """check_readable opens non-blocking and checks the descriptor: a FIFO is refused by its type."""
    os.mkfifo(tmp_path / "f.h5")
    with pytest.raises(RunFileError) as e:
        runfile.check_readable(tmp_path / "f.h5")
    assert e.value.problem == "is a named pipe (FIFO), not a run file: only regular files are read"
    with pytest.raises(RunFileError, match="sweep file"):
        runfile.check_readable(tmp_path / "f.h5", runfile.SWEEP_FORMAT)
