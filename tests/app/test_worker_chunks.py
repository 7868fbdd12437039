"""The window's training worker asks the engine for chunks sized to what the window draws:
short where the views redraw in milliseconds (n <= 100), long where a redraw of n features
holds the GIL for a tenth of a second or more (benchmarks/bench_window.py)."""
from __future__ import annotations

import pytest
from PyQt6.QtWidgets import QApplication

from app.gui import worker
from model.config import TrainConfig
from model.training.engine import Trainer


@pytest.mark.parametrize("n", [7, 100, 101, 1000])
def test_the_worker_runs_the_trainer_in_chunks_sized_for_n(n, monkeypatch):
    QApplication.instance() or QApplication([])
    asked = {}

    def fake_run(self, progress=None, chunk_seconds=0.1, report_seconds=0.1, threads=None, **more):
        asked.update(chunk_seconds=chunk_seconds, threads=threads)

    monkeypatch.setattr(Trainer, "run", fake_run)
    tr = Trainer(TrainConfig(n=n, steps=10, seed=0))
    job = worker.TrainingWorker(tr, threads=1)
    job.start()
    assert job.join(10)
    want = worker.CHUNK_SECONDS_SMALL if n <= worker.LARGE_N else worker.CHUNK_SECONDS_LARGE
    assert asked == {"chunk_seconds": want, "threads": 1}
    assert worker.CHUNK_SECONDS_LARGE > worker.CHUNK_SECONDS_SMALL
