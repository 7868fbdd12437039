"""Recorders (model/training/recording.py): the trainer hands each chunk's recorded rows to the recorders
its caller wires, and knows nothing of where they go. The record cadence is checked against
the History's policy worked out by hand, not against the code's own output."""
from __future__ import annotations

import os

import numpy as np
import pytest

import model.storage.runfile as runfile
from model.config import TrainConfig
from model.history import History
from model.storage.runfile import RunFileError, RunWriter, open_run
from model.training.engine import Trainer, train
from model.training.recording import Block, Recorder, RunFileRecorder


class ListRecorder:
    """A test's recorder: what every block said, and whether (and when) it was closed."""

    def __init__(self):
        self.steps: list[int] = []
        self.lasting: list[int] = []
        self.halted: dict[int, int] = {}
        self.blocks = 0
        self.closed_after = None  # the blocks seen when close() came

    def record(self, block: Block) -> None:
        assert self.closed_after is None, "a block after close"
        self.blocks += 1
        self.steps += block.steps.tolist()
        self.lasting += block.steps[block.lasting].tolist()
        for k, s in block.halted.items():
            assert k not in self.halted  # each halt is said once
            self.halted[k] = s

    def close(self) -> None:
        self.closed_after = self.blocks


def _history_of_capacity(cfg: TrainConfig, capacity: int) -> History:
    K, m, n = cfg.models, cfg.m, cfg.n
    row = 4 * (K * m * n + K * n + K) + 8  # float32 W, b, loss and the int64 step
    h = History(K, m, n, budget_bytes=capacity * row + 8 * K)  # + the (K,) halted array
    assert h.capacity == capacity
    return h


#: The History's cadence for capacity 11 (10 kept rows: a dense prefix of D = 5, a thinned
#: region of 5), worked by hand. Steps 0-4 are dense; the thinned grid starts at t0 = 5 with
#: stride 1: 5..9 fill it; step 10 would be the sixth, so it halves to [5, 7, 9] at stride 2 and
#: takes 11, 13; then [5, 9, 13] at 4 with 17, 21; [5, 13, 21] at 8 with 29, 37; [5, 21, 37] at 16
#: with 53, 69; then [5, 37, 69] at 32, whose next step, 101, is past the end.
CADENCE_100 = [*range(10), 11, 13, 17, 21, 29, 37, 53, 69]
#: The rows that last to step 100: the dense prefix and the final grid (stride 32 from 5).
LASTING_100 = [0, 1, 2, 3, 4, 5, 37, 69]


def test_a_wired_recorder_receives_exactly_the_recorded_steps():
    """Chunks of 10 steps: the recorder gets the cadence's steps and each chunk's last step,
    nothing else, in order, each once; the lasting rows are the dense prefix and final grid;
    each block's last row is the trainer's parameters after the chunk."""
    cfg = TrainConfig(n=5, steps=100, models=2).validate()
    rec = ListRecorder()
    assert isinstance(rec, Recorder)
    tr = Trainer(cfg, history=_history_of_capacity(cfg, 11), recorders=[rec], threads=1)
    last = None
    for _ in range(10):
        tr.train_chunk(10)
        W, b, _ = tr.parameters()
        last = (tr.step, W, b)
    chunk_ends = list(range(10, 101, 10))
    want = sorted(set(CADENCE_100) | set(chunk_ends))
    assert rec.steps == want
    assert len(rec.steps) == 18 + 10 and rec.blocks == 10  # the cadence and the chunk ends share no step
    assert rec.lasting == LASTING_100
    # the history halves its thinned region only when a step needs the room (85 never comes): it ends
    # with the stride-16 region [5, 21, 37, 53, 69] and the latest, a superset of the lasting rows
    assert tr.history.steps.tolist() == [0, 1, 2, 3, 4, 5, 21, 37, 53, 69, 100]
    assert last is not None and last[0] == 100
    step, W, b, _, _ = tr.history.row(-1)  # the History is a recorder like the others: same rows
    assert step == 100 and np.array_equal(W, last[1]) and np.array_equal(b, last[2])
    assert rec.closed_after is None  # train_chunk does not end the run


def test_run_closes_every_recorder_after_its_last_block_and_passes_halts_once():
    """SGD at lr 0.8 makes most of the 40 models diverge: each halt reaches the recorder once,
    at the step the history marks; run() closes the recorder after the last block."""
    cfg = TrainConfig(n=7, models=40, steps=600, lr=0.8, optimizer="sgd").validate()
    rec = ListRecorder()
    tr = train(cfg, recorders=[rec], threads=1)
    assert rec.closed_after == rec.blocks > 0
    halted = tr.history.halted
    assert 0 < len(rec.halted) < cfg.models
    assert rec.halted == {k: int(halted[k]) for k in np.flatnonzero(halted >= 0)}
    assert rec.steps[-1] == tr.step and rec.steps == sorted(set(rec.steps))
    assert set(tr.history.steps.tolist()) <= set(rec.steps)


def test_a_run_without_a_run_file_recorder_writes_no_file(tmp_path, monkeypatch):
    """No recorder of a file, no file: not in the data folder, not in the working folder, and no
    RunWriter is ever made. The same run with a RunFileRecorder writes its rows (the check can fail)."""
    monkeypatch.setenv(runfile.ENV_DATA_DIR, str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    made = []
    orig = RunWriter.__init__

    def spy(self, *a, **k):
        made.append(a[0] if a else k.get("path"))
        orig(self, *a, **k)

    monkeypatch.setattr(RunWriter, "__init__", spy)
    cfg = TrainConfig(n=5, steps=50).validate()
    tr = train(cfg, recorders=[ListRecorder()], threads=1)
    assert tr.step == 50 and len(tr.history) > 0
    assert made == [] and os.listdir(tmp_path) == []
    with RunWriter(tmp_path / "r.h5", cfg) as w:
        train(cfg, recorders=[RunFileRecorder(w)], threads=1)
    assert len(made) == 1 and open_run(tmp_path / "r.h5").history.latest_step == 50


def test_the_run_file_recorder_keeps_the_lasting_rows_and_the_latest():
    """Through a RunFileRecorder the file gets the lasting rows of the hand-worked cadence and,
    when the run ends, its latest step: the rows the history ends with."""
    import tempfile
    from pathlib import Path

    cfg = TrainConfig(n=5, steps=100, models=2).validate()
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.h5"
        with RunWriter(p, cfg) as w:
            tr = Trainer(cfg, history=_history_of_capacity(cfg, 11), recorders=[RunFileRecorder(w)], threads=1)
            for _ in range(10):
                tr.train_chunk(10)
            tr.close_recorders()
            assert w.closed  # the recorder closed its writer when the run ended
        assert open_run(p).history.steps.tolist() == LASTING_100 + [100]


def test_a_failing_run_file_is_reported_once_and_training_goes_on(tmp_path, monkeypatch):
    """A write failure (a full disk) mid-run: with on_error it is reported once, the run trains to
    its end in memory and the file keeps what it committed; without on_error it ends the run."""
    cfg = TrainConfig(n=5, steps=100, models=2).validate()
    calls = {"n": 0}
    orig = RunWriter.append_block

    def failing(self, *a, **k):
        calls["n"] += 1
        if calls["n"] >= 3:
            raise RunFileError(self.path, "cannot write the run file: the disk is full")
        orig(self, *a, **k)

    monkeypatch.setattr(RunWriter, "append_block", failing)
    errors = []
    w = RunWriter(tmp_path / "a.h5", cfg)
    tr = Trainer(cfg, history=_history_of_capacity(cfg, 11), recorders=[RunFileRecorder(w, on_error=errors.append)],
                 threads=1)
    for _ in range(10):
        tr.train_chunk(10)
    tr.close_recorders()
    assert len(errors) == 1 and "disk is full" in str(errors[0])
    assert tr.step == 100 and tr.history.latest_step == 100 and w.closed
    # lasting rows reach the file in chunk 1 (steps 0-5, write 1) and chunk 4 (37, write 2); chunk 7's
    # (69) is the third write, which fails: the file keeps the first two, and no latest row after it
    assert open_run(tmp_path / "a.h5").history.steps.tolist() == [0, 1, 2, 3, 4, 5, 37]

    calls["n"] = 0
    with RunWriter(tmp_path / "b.h5", cfg) as w2:
        tr2 = Trainer(cfg, history=_history_of_capacity(cfg, 11), recorders=[RunFileRecorder(w2)], threads=1)
        with pytest.raises(RunFileError, match="disk is full"):
            for _ in range(10):
                tr2.train_chunk(10)
    assert tr2.step == 60  # chunk 7 (steps 61-70) could not be recorded: the run ended before it counted
