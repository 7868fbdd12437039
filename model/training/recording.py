"""What a run keeps, and where it goes: the trainer records blocks, recorders keep them.

The trainer (model/training/engine.py) decides *which* steps are recorded: its History's policy
(dense at first, then thinning on a log grid: ``History.record_steps``) plus the last step
of every chunk. Each chunk's recorded rows leave the trainer as one ``Block``, handed to
every recorder the caller wired, in order; the trainer knows nothing of where they go.

- ``History`` (model/history.py) is always the first recorder: the in-memory snapshots the
  window, sweeps and ``until_decided`` read, and the record policy itself.
- ``RunFileRecorder`` (here) writes a run file through a ``RunWriter`` (model/storage/runfile.py):
  the rows the history keeps to the run's end (``Block.lasting``), the latest row when the
  run ends, and the models that halted.
- Anything else with ``record(block)`` and ``close()`` (a test's list, a live feed).

A recorder may say how many bytes it buffers (``buffer_bytes``): the trainer gives the
history that much less of the run's memory budget.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from ..storage.h5io import RunFileError

if TYPE_CHECKING:
    from ..storage.runfile import RunWriter


@dataclass(frozen=True)
class Block:
    """The rows one chunk of training recorded, all K models at each step (views of the
    chunk's arrays: a recorder that keeps them copies them; they are not written to
    after ``record`` returns, and a new chunk records into new arrays).

    ``steps`` (R,) int64, increasing; ``W`` (R, K, m, n), ``b`` (R, K, n), ``loss`` (R, K),
    ``M`` (R, K, n, m) for untied runs, else None: float32. ``lasting`` (R,) bool: the rows
    the record policy keeps to the run's end (the History's dense prefix and final grid);
    the others (the chunk's last step, when off the grid) are only the latest snapshot, to
    be replaced. ``halted``: the models whose loss became NaN/inf in this chunk, and where."""

    steps: np.ndarray
    W: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    M: np.ndarray | None
    lasting: np.ndarray
    halted: Mapping[int, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.steps.size)

    def rows(self, sel: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray | None]:
        """(steps, W, b, loss, M) of the rows ``sel`` picks."""
        return (self.steps[sel], self.W[sel], self.b[sel], self.loss[sel],
                None if self.M is None else self.M[sel])


@runtime_checkable
class Recorder(Protocol):
    """Keeps what a run records. ``record(block)``: after every chunk, in the training
    thread (keep it short: training waits). ``close()``: the run has ended (finished,
    stopped or decided); make what was recorded complete and durable."""

    def record(self, block: Block) -> None: ...

    def close(self) -> None: ...


class RunFileRecorder:
    """A run file as a recorder: each block's lasting rows are staged with ``writer``
    (a RunWriter: its thread writes them and commits whole blocks with their CRCs, flushing
    every ``flush_seconds``), the models that halted are marked, and ``close`` writes the
    latest row if it is not in the file yet, then closes the writer. So the file holds the
    rows on the history's final grid and the latest: at most its capacity, however many steps.

    A write failure (RunFileError: a full disk) goes to ``on_error`` once when given, and
    the run goes on without the file (the window: the history is in memory and can be saved
    elsewhere); without it the error is raised, which ends the run."""

    def __init__(self, writer: RunWriter, on_error: Callable[[RunFileError], None] | None = None):
        self.writer: RunWriter | None = writer
        self._owned = writer
        self.on_error = on_error
        self.buffer_bytes = int(writer.buffer_bytes)
        self.written = -1  # the last step staged for the file
        self._latest: tuple | None = None  # (steps, W, b, loss, M) of the last row recorded, while not staged

    def _call(self, fn: Callable, *args: object) -> None:
        try:
            fn(*args)
        except RunFileError as exc:
            if self.on_error is None:
                raise
            self.writer = None
            self.on_error(exc)

    def record(self, block: Block) -> None:
        if self.writer is None or not len(block):
            return
        keep = block.lasting
        if keep.any():
            sel = slice(None) if keep.all() else keep  # all lasting: views, no copy (the writer copies)
            self._call(self.writer.append_block, *block.rows(sel))
            self.written = int(block.steps[keep][-1])
        last = int(block.steps[-1])
        # the latest row, copied (one row, not the chunk's arrays) while the file lacks it
        self._latest = None if last <= self.written else tuple(
            None if a is None else np.array(a) for a in block.rows(slice(-1, None)))
        for k, s in block.halted.items():
            if self.writer is not None:
                self.writer.mark_halted(k, s)
        if self.writer is not None:
            self._call(self.writer.maybe_flush)

    def close(self) -> None:
        """Stage the latest row if the file lacks it, flush and close the writer."""
        if self.writer is not None and self._latest is not None:
            self._call(self.writer.append_block, *self._latest)
            self.written = int(self._latest[0][0])
            self._latest = None
        if self.writer is None:  # failed and reported: closing says the same failure again
            try:
                self._owned.close()
            except RunFileError:
                pass
            return
        self._call(self.writer.close)


__all__ = ["Block", "Recorder", "RunFileRecorder"]
