"""What the history budget bounds (the history, the rows in flight, the run file's write
buffer, and the run file's row count), and the one publishing rule of every writer
(model/storage/outfile.py): nothing replaced unasked, nothing half-written under the name."""
from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from model.config import TrainConfig
from model.history import History
from model.storage.outfile import check_target, is_disk_failure, problem, publish, temp_beside
from model.storage.runfile import RunFileError, RunWriter, open_run
from model.training.engine import Trainer
from model.training.recording import RunFileRecorder


def _simulate(h: History, steps: int, chunk: int, on_append=None):
    """The engine's recording loop without training: appends what the policy wants per chunk
    plus each chunk's last step; returns every step appended and whether it was kept.
    on_append(step, kept), when given, is called right after each append."""
    W = np.zeros((h.K, h.m, h.n), np.float32)
    b = np.zeros((h.K, h.n), np.float32)
    loss = np.zeros(h.K, np.float32)
    seen = []
    t = 0
    while t <= steps:
        hi = min(steps, t + chunk - 1)
        want = list(h.record_steps(t, hi + 1))
        if not want or want[-1] != hi:
            want.append(hi)
        for s in want:
            kept = h.append(int(s), W, b, loss)
            seen.append((int(s), kept))
            if on_append is not None:
                on_append(int(s), kept)
        t = hi + 1
    return seen


@pytest.mark.parametrize("steps, chunk", [(50, 7), (1000, 13), (20_000, 64), (100_000, 1000)])
def test_the_rows_lasting_to_the_end_are_exactly_the_rows_the_history_ends_with(steps, chunk):
    """History.lasting, asked when each row is appended, names the rows the history still
    holds after the last step: so a file that records only those holds the final history,
    at most ``capacity`` rows whatever the step count."""
    h = History(1, 2, 5, budget_bytes=100 * (4 * (10 + 5 + 1) + 8))  # 100 rows
    lasting = []

    def note(s, kept):  # asked right after each append
        if kept and h.lasting([s], steps)[0]:
            lasting.append(s)

    _simulate(h, steps, chunk, note)
    final = h.steps
    kept_final = final if final[-1] in lasting else final[:-1]  # the latest row may be an unkept one
    assert lasting == [int(s) for s in kept_final]
    assert len(lasting) <= h.capacity - 1


def test_final_grid_matches_the_closed_form():
    """The thinned region holds P - D rows at stride S from t0: the final S is the smallest
    power of two with (last - t0) // S + 1 <= P - D."""
    h = History(1, 2, 5, budget_bytes=100 * (4 * 16 + 8) + 8)  # capacity 100: P = 99, D = 49, P - D = 50
    _simulate(h, 10, 3)
    t0, s = h.final_grid(10_000)
    assert t0 == 49 and s == 256  # (10_000 - 49) // 128 + 1 = 78 > 50; // 256 + 1 = 39 <= 50
    assert h.final_grid(49 + 49)[1] == 1  # 50 grid points fit at stride 1


@pytest.mark.slow
def test_trainer_with_a_file_records_at_most_the_budget_in_flight_and_in_the_file(tmp_path, monkeypatch):
    """A long one-hot run with a small budget: every chunk's recorded rows stay within
    rec_bytes, the writer buffers at most an eighth of the budget, and the file ends with
    exactly the history's rows (a few hundred), not one per doubling of the step count."""
    cfg = TrainConfig(n=7, models=20, steps=60_000, history_budget_mb=0.5).validate()
    budget = int(cfg.history_budget_mb * 2**20)
    seen = {"rows": 0, "buffered": 0}
    orig = RunWriter.append_block

    def spy(self, steps, *a, **k):
        seen["rows"] = max(seen["rows"], int(np.size(steps)))
        orig(self, steps, *a, **k)
        seen["buffered"] = max(seen["buffered"], self.buffered_bytes)

    monkeypatch.setattr(RunWriter, "append_block", spy)
    p = tmp_path / "r.h5"
    with RunWriter(p, cfg) as w:
        tr = Trainer(cfg, recorders=[RunFileRecorder(w)], threads=1)
        tr.run()
    h = tr.history
    bpr = h.bytes_per_snapshot
    assert h.nbytes + tr.rec_bytes + w.buffer_bytes <= budget + bpr  # the three shares of the budget
    assert seen["rows"] * bpr <= max(2 * bpr, tr.rec_bytes)
    assert seen["buffered"] <= w.buffer_bytes + seen["rows"] * bpr
    run = open_run(p)
    assert np.array_equal(run.history.steps, h.steps)  # the file is the final history, row for row
    assert len(run.history) <= h.capacity


# ------------------------------------------------------------------ publish
def test_publish_never_replaces_unasked_even_a_file_made_meanwhile(tmp_path):
    target = tmp_path / "out.h5"
    check_target(target)  # free now
    tmp = temp_beside(target)
    assert tmp.parent == tmp_path and tmp.name.startswith(".out.") and tmp.name.endswith(".part.h5")
    tmp.write_bytes(b"new")
    target.write_bytes(b"someone else's")  # appears between the check and the publish
    with pytest.raises(FileExistsError):
        publish(tmp, target)
    assert target.read_bytes() == b"someone else's" and not tmp.exists()
    tmp.write_bytes(b"new")
    publish(tmp, target, replace=True)  # asked: replaced in one step
    assert target.read_bytes() == b"new" and sorted(os.listdir(tmp_path)) == ["out.h5"]


def test_check_target_names_each_problem(tmp_path):
    (tmp_path / "f.h5").write_bytes(b"x")
    (tmp_path / "d.h5").mkdir()
    for path, exc in ((tmp_path / "f.h5", FileExistsError), (tmp_path / "d.h5", IsADirectoryError),
                      (tmp_path / "no" / "x.h5", FileNotFoundError)):
        with pytest.raises(exc):
            check_target(path)
    check_target(tmp_path / "f.h5", replace=True)
    assert problem(OSError(errno.ENOSPC, "No space left on device"), "write x") == "cannot write x: the disk is full"
    assert is_disk_failure(OSError(errno.EIO, "Input/output error"))
    assert not is_disk_failure(FileExistsError(errno.EEXIST, "File exists"))


def test_a_run_stopped_before_its_first_snapshot_leaves_no_file(tmp_path):
    cfg = TrainConfig(n=5, steps=100).validate()
    p = tmp_path / "r.h5"
    with RunWriter(p, cfg) as w:
        tr = Trainer(cfg, recorders=[RunFileRecorder(w)])
        tr.request_stop()
        tr.run()
        assert not w.published
    assert os.listdir(tmp_path) == []


def test_a_writer_that_cannot_reserve_space_keeps_the_committed_rows_and_writes_nothing_more(tmp_path, monkeypatch):
    """The reservation refuses before HDF5 writes: the writer fails once, with status 1, and
    the file still opens with every committed row."""
    from model.storage import outfile

    cfg = TrainConfig(n=5).validate()
    p = tmp_path / "r.h5"
    w = RunWriter(p, cfg, flush_seconds=0)
    W, b, loss = np.ones((1, 2, 5)), np.ones((1, 5)), np.ones(1)
    for s in range(5):
        w.append(s, W, b, loss)
    w.flush()

    def full(self, end):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outfile.SpaceReserve, "ensure", full)
    w.append(5, W, b, loss)
    with pytest.raises(RunFileError) as e:
        w.flush()
    assert e.value.status == 1 and "disk is full" in str(e.value) and "5 snapshot(s) up to step 4 are kept" in str(e.value)
    with pytest.raises(RunFileError):
        w.append(6, W, b, loss)  # failed: nothing more is written
    with pytest.raises(RunFileError):
        w.close()
    assert len(open_run(p).history) == 5 and os.listdir(tmp_path) == ["r.h5"]
