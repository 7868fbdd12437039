"""Run files: a training run (config, finite dataset, history) in one HDF5 file.

Layout (``format`` = "latent-geometry-run", ``format_version`` = 1)::

    /                 attrs: format, format_version, config (TrainConfig JSON),
                             meta (JSON object, free-form: e.g. the NaN message)
    /meta_json        uint8 (resizable): UTF-8 JSON that overrides attr meta
                      (written by RunWriter.set_meta while the file is live)
    /dataset          only for finite sparse datasets: the (K, T, n) float32 array as
                      CSR of its (K*T, n) matrix: indptr (K*T+1,) int64,
                      indices int32, data float32; attr shape = (K, T, n)
    /history          steps (N,) int64, W (N,K,m,n), b (N,K,n), loss (N,K),
                      M (N,K,n,m) if untied (float32, resizable, chunked),
                      crc (N,) uint32: CRC32 of each row (step + W, b, loss, M),
                      halted (K,) int64 (-1 = running),
                      committed () int64: the rows that are complete

Crash safety (RunWriter): the file is created with ``libver=('v110', 'v110')``
(checksummed metadata) and switched to SWMR write mode once all objects exist.
SWMR keeps the on-disk file consistent at every moment (HDF5 orders its
metadata writes for concurrent readers), so a writer killed with SIGKILL leaves
a file that opens. Rows reach the file in blocks, written by the writer's own
thread while training goes on: it resizes and writes the datasets,
``H5Fflush``-es, then sets ``history/committed`` to the new row count and
flushes again, so a reader never trusts rows whose data might not have reached
the disk. A file left by a killed writer still carries HDF5's
"open for SWMR write" flag; ``open_run``/``load_snapshot`` open it as an SWMR
reader, which is what that flag allows. The history datasets carry no HDF5
filter: a SIGKILL can tear the in-place rewrite of the chunk holding the last
committed rows, which a chunk checksum (fletcher32) would then reject, losing
committed rows; unfiltered, those rows' bytes are rewritten unchanged. Each row
carries its own CRC32 instead, checked on read, so corrupt bytes are still
caught. (Flushes reach the OS, not the platter: a power cut is not covered;
kill -9 is.) Verified by tests/model/test_runfile.py::test_sigkill_keeps_flushed_rows
and ::test_sigkill_of_a_writer_at_work_loses_at_most_five_seconds, and, during development, by 100+ kills at random moments (n = 7, 1,000, 20,000).

Names and full disks (model/storage/outfile.py): a RunWriter builds the file under a
hidden temporary name beside the target and publishes it under the target's name
at the first flush that commits a row (at once after the first chunk), so a run
file never appears without a snapshot, and an existing file is replaced only when
asked (``overwrite``). Before HDF5 writes a block, its space is reserved
(``SpaceReserve``): a full disk stops the writer before libhdf5 meets a failed
write (after which it cannot be trusted: a flush could crash the process), and the
rows committed until then stay readable.

Reading goes through model/storage/h5io.py's guard (``read_h5``: regular files only,
self-contained, of this kind, SWMR readers for a file a writer has or left).
Every failure to read or write a run file is a ``RunFileError`` whose message is
one line naming the file, its kind and the problem; its ``status`` says whose
failure it was (2: the input, 1: the machine). This module never pickles.
``FORMAT``, ``SWEEP_FORMAT``, ``DATASIZE_FORMAT``, ``FILE_KINDS``, ``check_readable``,
``check_real`` and ``read_h5`` are model/storage/h5io.py's, re-exported.
"""
from __future__ import annotations

import json
import math
import os
import secrets
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..background import Worker
from ..config import ConfigError, TrainConfig
from ..history import History
from ..snapshot import Snapshot, nonfinite_text
from . import outfile
from .h5io import (
    DATASIZE_FORMAT,
    FILE_KINDS,
    SWEEP_FORMAT,
    RunFileError,
    as_str,
    check_declared,
    check_readable,
    check_real,
    check_whole,
    file_kind,
    file_size,
    one_line,
    read_h5,
    read_version,
    stamp,
    write_error,
)
from .h5io import RUN_FORMAT as FORMAT

FORMAT_VERSION = 1
LIBVER = ("v110", "v110")  # SWMR needs >= v1.10 file format; v110 keeps files readable by HDF5 1.10+
_BLOCK_BYTES = 32 * 2**20  # rows buffered by RunWriter before they are written out
ENV_DATA_DIR = "LGE_DATA_DIR"
APP_NAME = "latent-geometry-explorer"
#: The problem every reader reports for a run file whose history has no row yet.
NO_SNAPSHOT = "no snapshot recorded yet"


# ----------------------------------------------------------------- helpers
def _chunks(row_shape: tuple, itemsize: int, target: int = 2**20, max_rows: int = 1024) -> tuple:
    row_bytes = itemsize * int(np.prod(row_shape, dtype=np.int64))
    rows = int(max(1, min(max_rows, target // max(1, row_bytes))))
    shape = [rows] + [int(d) for d in row_shape]
    while itemsize * math.prod(shape) > target:
        j = 1 + int(np.argmax(shape[1:])) if len(shape) > 1 else 0
        if shape[j] == 1:
            break
        shape[j] = -(-shape[j] // 2)
    return tuple(shape)


def _make_history_datasets(g, K: int, m: int, n: int, untied: bool) -> None:
    # No HDF5 filters (no fletcher32) on these: a filtered chunk's checksum covers
    # the whole chunk, and a SIGKILL can tear the in-place rewrite of the chunk
    # that holds the last committed rows (Linux stops a large write() between
    # pages on a fatal signal), which would make committed rows unreadable.
    # Unfiltered chunks keep their address, and the committed rows' bytes are
    # rewritten unchanged; the per-row CRC32 in ``crc`` detects real corruption.
    def ds(name, row_shape, dtype):
        item = np.dtype(dtype).itemsize
        g.create_dataset(name, shape=(0,) + row_shape, maxshape=(None,) + row_shape, dtype=dtype,
                         chunks=_chunks(row_shape, item))

    ds("steps", (), np.int64)
    ds("crc", (), np.uint32)
    ds("W", (K, m, n), np.float32)
    ds("b", (K, n), np.float32)
    ds("loss", (K,), np.float32)
    if untied:
        ds("M", (K, n, m), np.float32)
    g.create_dataset("halted", data=np.full(K, -1, dtype=np.int64))
    g.create_dataset("committed", data=np.int64(0))


def _row_crc(step, W, b, loss, M=None) -> int:
    """CRC32 of one row: the step (int64) and W, b, loss, M as float32 C-order bytes."""
    crc = zlib.crc32(np.int64(step).tobytes())
    for a in (W, b, loss, M):
        if a is not None:
            crc = zlib.crc32(np.ascontiguousarray(a, dtype=np.float32).data, crc)
    return crc & 0xFFFFFFFF


def _write_header(f, config, dataset, meta, K, m, n, untied):
    """The parts every run file starts with; returns the (empty) history group."""
    stamp(f, FORMAT, FORMAT_VERSION)
    f.attrs["config"] = config.to_json()
    f.attrs["meta"] = json.dumps(meta or {})
    f.create_dataset("meta_json", shape=(0,), maxshape=(None,), dtype=np.uint8, chunks=(4096,))
    if dataset is not None:
        _write_dataset(f, dataset)
    g = f.create_group("history")
    _make_history_datasets(g, K, m, n, untied)
    return g


def _block_crc(steps, W, b, loss, M=None) -> np.ndarray:
    """_row_crc of each of R rows, row by row (no copy of the block)."""
    R = steps.size
    steps = np.ascontiguousarray(steps, dtype=np.int64)
    arrays = [np.ascontiguousarray(a, dtype=np.float32).reshape(R, -1) for a in (W, b, loss, M) if a is not None]
    out = np.empty(R, dtype=np.uint32)
    for i in range(R):
        crc = zlib.crc32(steps[i:i + 1].data)
        for a in arrays:
            crc = zlib.crc32(a[i].data, crc)
        out[i] = crc & 0xFFFFFFFF
    return out


def _dataset_to_csr(dataset) -> tuple:
    X = np.asarray(dataset, dtype=np.float32)
    if X.ndim != 3:
        raise ValueError(f"dataset must be (K, T, n), got shape {X.shape}")
    K, T, n = X.shape
    flat = X.reshape(K * T, n)
    rows, cols = np.nonzero(flat)
    data = flat[rows, cols]
    indptr = np.zeros(K * T + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=K * T), out=indptr[1:])
    return (K, T, n), indptr, cols.astype(np.int32), data.astype(np.float32)


def _write_dataset(f, dataset) -> None:
    shape, indptr, indices, data = _dataset_to_csr(dataset)
    g = f.create_group("dataset")
    g.attrs["shape"] = np.asarray(shape, dtype=np.int64)
    g.attrs["format"] = "csr"
    for name, arr in (("indptr", indptr), ("indices", indices), ("data", data)):
        if arr.size:
            g.create_dataset(name, data=arr, chunks=True, fletcher32=True)
        else:
            g.create_dataset(name, data=arr)


def _read_dataset(g, path, config: TrainConfig) -> np.ndarray:
    """The finite dataset (K, T, n), dense, from its CSR arrays; its shape must be the config's
    (models, examples, n) and fit in this machine's memory before anything is allocated."""
    shape = tuple(int(v) for v in np.asarray(g.attrs["shape"]).reshape(-1))
    if len(shape) != 3 or min(shape) < 0:
        raise RunFileError(path, f"dataset has a bad shape attribute {shape}")
    want = (config.models, config.examples, config.n)
    if shape != want:
        raise RunFileError(path, f"dataset has shape {shape}, but the config (models, examples, n) says {want}")
    K, T, n = shape
    nbytes = 4 * K * T * n
    if nbytes > _physical_memory():
        raise RunFileError(path, f"dataset {shape} is {nbytes / 2**30:.3g} GB as float32, more than this machine's "
                                 f"memory ({_physical_memory() / 2**30:.3g} GB)")
    check_real(g["data"], path, "dataset/data")
    for name in ("indptr", "indices"):
        check_whole(g[name], path, f"dataset/{name}")
    indptr = np.asarray(g["indptr"][()], dtype=np.int64)
    indices = np.asarray(g["indices"][()], dtype=np.int64)
    data = np.asarray(g["data"][()], dtype=np.float32)
    R = K * T
    if (indptr.shape != (R + 1,) or indptr[0] != 0 or np.any(np.diff(indptr) < 0)
            or indptr[-1] != len(indices) or len(indices) != len(data)
            or (len(indices) and (indices.min() < 0 or indices.max() >= n))):
        raise RunFileError(path, f"dataset is inconsistent (CSR arrays do not match shape {shape})")
    dense = np.zeros((R, n), dtype=np.float32)
    rows = np.repeat(np.arange(R, dtype=np.int64), np.diff(indptr))
    dense[rows, indices] = data
    return dense.reshape(K, T, n)


def _physical_memory() -> int:
    """Bytes of memory this machine has (a bound no array read from a file may pass)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 2**40


def _check_dims(config: TrainConfig, K: int, m: int, n: int, untied: bool) -> None:
    want = (config.models, config.m, config.n, config.untied)
    if (K, m, n, untied) != want:
        raise ValueError(f"the arrays (K={K}, m={m}, n={n}, untied={untied}) do not match the config "
                         f"(models={want[0]}, m={want[1]}, n={want[2]}, untied={want[3]})")


# ------------------------------------------------------------------ writer
#: Space reserved beyond what a block's chunks need, for the HDF5 metadata a write
#: or flush adds (chunk index blocks, object header updates: a few kB each).
_META_MARGIN = 64 * 2**10


def _chunk_bytes(d, lo: int, hi: int) -> int:
    """Bytes of the chunks of the resizable dataset ``d`` that rows [lo, hi) touch and rows
    [0, lo) did not: HDF5 allocates a chunk whole, the first time a row of it is written."""
    c = d.chunks
    if c is None:
        return 0
    per_rows = 1
    for size, k in zip(d.shape[1:], c[1:], strict=True):
        per_rows *= -(-int(size) // int(k))
    new = -(-int(hi) // c[0]) - (-(-int(lo) // c[0]))
    return max(0, new) * per_rows * int(np.prod(c)) * d.dtype.itemsize


def _header_image(config, meta, K, m, n, untied) -> bytes:
    """A new run file's header (attributes, empty history datasets) as the bytes of an
    HDF5 file, built in memory: it reaches the disk through plain writes."""
    import h5py

    f = h5py.File(f"run-header-{uuid.uuid4().hex}.h5", "w", driver="core", backing_store=False, libver=LIBVER)
    try:
        _write_header(f, config, None, meta, K, m, n, untied)
        f.flush()
        return f.id.get_file_image()
    finally:
        f.close()


class _Stage:
    """Rows waiting to be written: preallocated arrays of ``cap`` rows (reused, so
    copying a block in touches no fresh memory) and how many are filled."""

    def __init__(self, cap: int, K: int, m: int, n: int, untied: bool):
        self.cap = int(cap)
        self.steps = np.empty(self.cap, dtype=np.int64)
        self.W = np.empty((self.cap, K, m, n), dtype=np.float32)
        self.b = np.empty((self.cap, K, n), dtype=np.float32)
        self.loss = np.empty((self.cap, K), dtype=np.float32)
        self.M = np.empty((self.cap, K, n, m), dtype=np.float32) if untied else None
        self.rows = 0

    def put(self, steps, W, b, loss, M, lo: int) -> int:
        """Copy rows lo.. of a block in (as many as fit); returns how many."""
        r = min(self.cap - self.rows, steps.size - lo)
        a, z = self.rows, self.rows + r
        self.steps[a:z] = steps[lo:lo + r]
        self.W[a:z] = W[lo:lo + r]
        self.b[a:z] = b[lo:lo + r]
        self.loss[a:z] = loss[lo:lo + r]
        if self.M is not None:
            self.M[a:z] = M[lo:lo + r]
        self.rows = z
        return r

    def arrays(self) -> list:
        """The filled rows of W, b, loss (and M), as views."""
        r = self.rows
        return [a[:r] for a in (self.W, self.b, self.loss, self.M) if a is not None]


class RunWriter:
    """Write a live run to ``path``: rows staged in memory, written and flushed in blocks
    by a background thread while training goes on.

    ``append`` / ``append_block`` copy the rows into one of two staging blocks
    (preallocated: ``buffer_bytes`` in all); a full block is handed to the
    writer thread, which reserves its space, writes it into the datasets with
    each row's CRC32, and the caller goes on filling the other block (it waits
    only if the thread is still busy with the previous one: at most one block in
    flight). ``maybe_flush`` (call it every chunk) hands over the staged rows with
    a flush when ``flush_seconds`` have passed; ``flush`` does the same and waits.
    After a SIGKILL the file reopens with every row up to the last completed
    flush: at most ``flush_seconds`` plus the time to write one block are lost.
    ``rows``, ``rows_committed``, ``committed_step``, ``published`` and ``failed``
    say where the writer stands (read them; the writer sets them).
    K, m, n, untied default to the config's models, m, n, untied. Only the
    writer thread touches the HDF5 file between ``__init__`` and ``close``.

    The file is built under a hidden temporary name beside ``path`` and appears
    under ``path`` (model/storage/outfile.py's ``publish``) at the first flush that
    commits a row, which ``maybe_flush`` does at once and waits for: a run file
    is never seen without a snapshot, and a run that recorded none leaves no
    file. An existing ``path`` is refused (RunFileError, status 2) unless
    ``overwrite``, which replaces it in that one step. The space of every block
    is reserved before HDF5 writes it (outfile.SpaceReserve): a full disk is a
    RunFileError (status 1) before the write, the rows committed until then stay
    readable, and the writer writes nothing more (``failed``); the thread's
    failure is raised by the next call (append, maybe_flush, flush or close).
    """

    def __init__(self, path: str | Path, config: TrainConfig, dataset: np.ndarray | None = None,
                 K: int | None = None, m: int | None = None, n: int | None = None, flush_seconds: float = 2.0,
                 *, untied: bool | None = None, meta: dict | None = None,
                 overwrite: bool = False):
        import h5py

        self.path = Path(path)
        self.K = int(config.models if K is None else K)
        self.m = int(config.m if m is None else m)
        self.n = int(config.n if n is None else n)
        self.untied = bool(config.untied if untied is None else untied)
        _check_dims(config, self.K, self.m, self.n, self.untied)
        self.flush_seconds = float(flush_seconds)
        self.replace = bool(overwrite)
        # the two staging blocks: at most an eighth of the history's budget (and
        # _BLOCK_BYTES) in all, so the writer adds little to the memory the budget bounds
        row = 4 * (self.K * self.m * self.n * (2 if self.untied else 1) + self.K * self.n + self.K) + 8
        self._row_bytes = row
        self.buffer_bytes = int(max(2 * row, min(_BLOCK_BYTES, config.history_budget_mb * 2**20 / 8)))
        self.stage_rows = max(1, self.buffer_bytes // 2 // row)  # rows per staging block
        self._stages: list = []  # made on first use
        self._stage: _Stage | None = None  # the block being filled (caller's side)
        self._buffered_bytes = 0  # bytes staged in it
        self.rows = 0  # rows appended (staged, in flight or written)
        self._last_step: int | None = None
        self._halted = np.full(self.K, -1, dtype=np.int64)
        self._halted_dirty = False
        self._meta_dirty: bytes | None = None
        # the writer thread's side (read by the caller only while the thread is idle, or
        # as single attributes)
        self._written = 0  # rows written to the datasets
        self.rows_committed = 0  # the rows a crash right now would keep
        self.committed_step: int | None = None  # the step of the last of them (None before the first)
        self._written_step: int | None = None
        self._writer = Worker("run-writer")  # the writer thread (model/background.py), started by the first job
        self._inflight: _Stage | None = None  # the staging block the job in flight holds
        self._f: Any | None = None  # the h5py.File while open (h5py has no type information)
        self.published = False  # the file is under its name (from its first committed row on)
        self.failed: RunFileError | None = None
        try:
            outfile.check_target(self.path, self.replace)
        except OSError as exc:
            raise write_error(self.path, exc, "create the run file") from None
        self._tmp = outfile.temp_beside(self.path)
        f = None
        reserve: outfile.SpaceReserve | None = None
        try:
            image = _header_image(config, meta, self.K, self.m, self.n, self.untied)
            outfile.write_new(self._tmp, image)
            reserve = outfile.SpaceReserve(self._tmp)
            reserve.ensure(len(image) + _META_MARGIN)
            f = h5py.File(self._tmp, "r+", libver=LIBVER)
            if dataset is not None:
                # each array, and up to one chunk of it (h5py's chunks are at most 1 MiB) unfilled
                need = sum(a.nbytes + min(max(a.nbytes, 2**14), 2**20) for a in _dataset_to_csr(dataset)[1:])
                reserve.ensure(reserve.size() + need + _META_MARGIN)
                _write_dataset(f, dataset)
            f.flush()
            f.swmr_mode = True
        except BaseException as exc:
            if f is not None:
                try:
                    f.close()
                except Exception:  # noqa: BLE001 - closing on an error path: the first error is the one reported
                    pass
            if reserve is not None:
                reserve.release()
            outfile.discard(self._tmp)  # the half-made file is ours: do not leave it behind
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise write_error(self.path, exc, "create the run file") from None
        self._reserve = reserve
        self._f = f
        self._h = f["history"]
        self._last_flush = time.monotonic()

    # ------------------------------------------------------------- appends
    def append(self, step: int, W: np.ndarray, b: np.ndarray, loss: np.ndarray, M: np.ndarray | None = None) -> None:
        """Stage one row (copies). Steps must strictly increase."""
        K, m, n = self.K, self.m, self.n
        self.append_block(np.array([int(step)]), np.asarray(W).reshape(1, K, m, n),
                          np.asarray(b).reshape(1, K, n), np.asarray(loss).reshape(1, K),
                          None if M is None else np.asarray(M).reshape(1, K, n, m))

    def append_block(self, steps: np.ndarray, W: np.ndarray, b: np.ndarray, loss: np.ndarray,
                     M: np.ndarray | None = None) -> None:
        """Stage R rows at once (copies): steps (R,), W (R,K,m,n), b (R,K,n), loss (R,K), M (R,K,n,m).
        A staging block that fills goes to the writer thread."""
        if self._f is None:
            raise RunFileError(self.path, "the writer is closed")
        if self.failed is not None:
            raise self.failed
        steps = np.asarray(steps, dtype=np.int64).reshape(-1)
        R = steps.size
        if R == 0:
            return
        if np.any(np.diff(steps) <= 0) or (self._last_step is not None and steps[0] <= self._last_step):
            raise ValueError(f"steps must increase: got {steps[:3].tolist()}... after {self._last_step}")
        K, m, n = self.K, self.m, self.n
        W = np.asarray(W).reshape(R, K, m, n)
        b = np.asarray(b).reshape(R, K, n)
        loss = np.asarray(loss).reshape(R, K)
        if self.untied:
            if M is None:
                raise ValueError("untied run: append needs M (K, n, m)")
            M = np.asarray(M).reshape(R, K, n, m)
        else:
            M = None
        self._mark_nonfinite(steps, W, b, M)
        lo = 0
        while lo < R:
            if self._stage is None:
                self._stage = self._free_stage()
            took = self._stage.put(steps, W, b, loss, M, lo)
            lo += took
            self._buffered_bytes += took * self._row_bytes
            if self._stage.rows == self._stage.cap:
                self._submit(flush=False, wait=False)
        self.rows += R
        self._last_step = int(steps[-1])

    def _mark_nonfinite(self, steps: np.ndarray, W: np.ndarray, b: np.ndarray, M: np.ndarray | None) -> None:
        """No row with non-finite parameters is written unmarked: a model whose W, b or M holds a
        NaN or inf at a step is marked halted there (the first such step), as the engine marks
        a model whose loss diverged, so every reader knows the state (a float64 sum per model and
        row: NaN and inf propagate, and float32 values cannot overflow it)."""
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN: not finite, as it should
            ok = np.isfinite(W.sum(axis=(2, 3), dtype=np.float64)) & np.isfinite(b.sum(axis=2, dtype=np.float64))
            if M is not None:
                ok &= np.isfinite(M.sum(axis=(2, 3), dtype=np.float64))
        if ok.all():
            return
        for k in np.flatnonzero(~ok.all(axis=0)):
            self.mark_halted(int(k), int(steps[int(np.argmin(ok[:, k]))]))

    def mark_halted(self, k: int, step: int) -> None:
        """Model ``k`` stopped at ``step``: its loss or its parameters became NaN/inf there."""
        if not 0 <= int(k) < self.K:
            raise IndexError(f"model {k} out of range 0..{self.K - 1}")
        if self._halted[k] < 0 or step < self._halted[k]:
            self._halted[k] = int(step)
            self._halted_dirty = True

    def set_meta(self, meta: dict) -> None:
        """Replace the run's metadata (written at the next flush)."""
        self._meta_dirty = json.dumps(meta).encode("utf-8")

    # ------------------------------------------------- caller <-> writer thread
    def _free_stage(self) -> _Stage:
        """A staging block that no job holds: of the two (made on first use), the one the
        writer thread is not writing (at most one job is in flight, and the caller holds
        none when it asks)."""
        for st in self._stages:
            if st is not self._inflight:
                st.rows = 0
                return st
        st = _Stage(self.stage_rows, self.K, self.m, self.n, self.untied)
        self._stages.append(st)
        return st

    def _wait_idle(self) -> None:
        self._writer.wait_idle()

    def _submit(self, flush: bool, wait: bool) -> None:
        """Hand the staged rows (and, with ``flush``, a flush of them and of the halted steps
        and metadata) to the writer thread; at most one job is in flight, so this first waits
        for the previous one. ``wait``: also wait for this one. Raises the thread's failure."""
        self._wait_idle()
        if self.failed is not None:
            raise self.failed
        stage, self._stage, self._buffered_bytes = self._stage, None, 0
        if stage is not None and stage.rows == 0:
            stage = None
        if stage is None and not flush:
            return
        halted = meta = None
        if flush:
            if self._halted_dirty:
                halted, self._halted_dirty = self._halted.copy(), False
            meta, self._meta_dirty = self._meta_dirty, None
            self._last_flush = time.monotonic()
        self._inflight = stage
        self._writer.submit(lambda: self._job(stage, flush, halted, meta))
        if wait:
            self._wait_idle()
            if self.failed is not None:
                raise self.failed

    def _job(self, stage: _Stage | None, flush: bool, halted: np.ndarray | None, meta: bytes | None) -> None:
        """One job on the writer thread: write the staged rows, then flush; a failure is kept
        in ``failed`` for the caller (which raises it at its next append, flush or close)."""
        try:
            if self.failed is None:
                if stage is not None:
                    self._write_stage(stage)
                if flush:
                    self._flush_file(halted, meta)
        except RunFileError:
            pass  # recorded in self.failed by _fail
        except BaseException as exc:  # noqa: BLE001 - reported to the caller, never lost
            self._fail(exc, "write rows")
        finally:
            self._inflight = None

    # ------------------------------------------------------- writer thread
    @property
    def _file(self) -> Any:
        """The open h5py.File: the writer thread runs only while it is open (close() joins the
        thread before it lets the file go)."""
        if self._f is None:
            raise RunFileError(self.path, "the writer is closed")
        return self._f

    def _fail(self, exc: BaseException, doing: str, kept: str | None = None) -> RunFileError:
        """Remember the first write failure: from now on the writer writes nothing (after a
        failed write libhdf5's state cannot be trusted with another one)."""
        if self.failed is None:
            err = write_error(self.path, exc, doing)
            if kept is None:
                kept = (f"the {self.rows_committed:,} snapshot(s) up to step {self.committed_step:,} are kept"
                        if self.rows_committed else "nothing was recorded")
            self.failed = RunFileError(self.path, f"{err.problem}; {kept}", status=err.status)
        return self.failed

    def _ensure_space(self, extra: int) -> None:
        """Reserve ``extra`` bytes (plus the metadata margin) past the file's end before
        HDF5 writes them; a disk that cannot give them fails the writer here."""
        try:
            end = max(int(self._file.id.get_filesize()), self._reserve.size())
            self._reserve.ensure(end + int(extra) + _META_MARGIN)
        except OSError as exc:
            raise self._fail(exc, "write rows") from None

    def _write_stage(self, stage: _Stage) -> None:
        R = stage.rows
        lo, hi = self._written, self._written + R
        h = self._h
        names = ["W", "b", "loss"] + (["M"] if self.untied else [])
        self._ensure_space(sum(_chunk_bytes(h[name], lo, hi) for name in names + ["crc", "steps"]))
        arrays = stage.arrays()
        steps = stage.steps[:R]
        try:
            for name in names + ["crc", "steps"]:  # steps last: the rows' data first, then their steps
                h[name].resize(hi, axis=0)
            for name, a in zip(names, arrays, strict=True):
                h[name][lo:hi] = a
            h["crc"][lo:hi] = _block_crc(steps, *arrays)
            h["steps"][lo:hi] = steps
        except Exception as exc:  # noqa: BLE001 - the writer's boundary: one RunFileError, the file marked failed
            raise self._fail(exc, "write rows") from None
        self._written = hi
        self._written_step = int(steps[-1])

    def _flush_file(self, halted, meta) -> None:
        """H5Fflush, then mark the written rows committed and flush again; the first flush
        that commits a row publishes the file under its name."""
        self._ensure_space(0 if meta is None else len(meta) + 4096)
        try:
            if halted is not None:
                self._h["halted"][...] = halted
            if meta is not None:
                d = self._file["meta_json"]
                d.resize(len(meta), axis=0)
                d[...] = np.frombuffer(meta, dtype=np.uint8)
            self._file.flush()
            if self.rows_committed != self._written:
                self._h["committed"][()] = self._written
                self._file.flush()
                self.rows_committed = self._written
                self.committed_step = self._written_step
        except Exception as exc:  # noqa: BLE001 - the writer's boundary: one RunFileError, the file marked failed
            raise self._fail(exc, "flush") from None
        if not self.published and self.rows_committed:
            try:
                outfile.publish(self._tmp, self.path, self.replace)
            except OSError as exc:
                # the name was taken meanwhile (or cannot be linked): the temporary file is gone
                raise self._fail(exc, "create the run file", kept="nothing was written") from None
            self.published = True

    # --------------------------------------------------------- caller side
    def _write_rows(self) -> None:
        """Write the staged rows now (no flush) and wait until they are written."""
        if self._f is None:
            return
        self._submit(flush=False, wait=True)

    def flush(self) -> None:
        """Write the staged rows and make them durable against a crash of this process, and
        wait until that is done; the first flush that commits a row publishes the file under
        its name."""
        if self._f is None:
            return
        if self.failed is not None:
            raise self.failed
        self._submit(flush=True, wait=True)

    def maybe_flush(self) -> bool:
        """Hand the staged rows to the writer thread with a flush if ``flush_seconds`` passed
        since the last one (without waiting for it), or flush and wait if the file is not
        published yet and rows are staged (the first snapshot goes to disk at once);
        returns whether it did."""
        if self._f is None:
            return False
        if self.failed is not None:
            raise self.failed
        if not self.published and self.rows:
            if self.rows_committed < self.rows:
                self._submit(flush=True, wait=True)
                return True
            return False
        if time.monotonic() - self._last_flush >= self.flush_seconds:
            self._submit(flush=True, wait=False)
            return True
        return False

    def close(self) -> None:
        """Flush (unless a write failed), stop the writer thread and close. A run that
        committed no row leaves no file. Raises the write failure, if any, after closing."""
        if self._f is None:
            return
        err = self.failed
        if err is None:
            try:
                self.flush()
            except RunFileError as exc:
                err = exc
        self._writer.close(drain=True)  # the jobs handed over are written (or failed); then the thread ends
        err = err or self.failed
        self._stages, self._stage = [], None
        f, self._f = self._f, None
        try:
            f.close()
        except Exception as exc:  # noqa: BLE001 - closing: the first error is the one reported
            err = err or write_error(self.path, exc, "close the run file")
        self._reserve.release()
        if not self.published:
            outfile.discard(self._tmp)
        if err is not None:
            raise err

    @property
    def buffered_bytes(self) -> int:
        """Bytes staged in the block being filled, not yet handed to the writer thread."""
        return self._buffered_bytes

    @property
    def closed(self) -> bool:
        return self._f is None

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def save_run(path: str | Path, config: TrainConfig, history: History, dataset: np.ndarray | None = None,
             meta: dict | None = None,
             replace: bool = False) -> Path:
    """Write ``history`` (all rows) to a new file at ``path`` through a RunWriter: the file
    appears complete or not at all; an existing ``path`` is replaced only with ``replace``."""
    path = Path(path)
    _check_dims(config, history.K, history.m, history.n, history.untied)
    if len(history) == 0:
        raise RunFileError(path, "cannot save: the history is empty (no snapshot recorded yet)")
    w = RunWriter(path, config, dataset=dataset, meta=meta, overwrite=replace, flush_seconds=float("inf"))
    try:
        with history.locked_arrays() as a:
            N = len(a["steps"])
            block = max(1, _BLOCK_BYTES // max(1, history.bytes_per_snapshot))
            for lo in range(0, N, block):
                hi = min(N, lo + block)
                w.append_block(a["steps"][lo:hi], a["W"][lo:hi], a["b"][lo:hi], a["loss"][lo:hi],
                               None if a["M"] is None else a["M"][lo:hi])
                w._write_rows()  # at most one block buffered
            for k, s in enumerate(a["halted"]):
                if s >= 0:
                    w.mark_halted(k, int(s))
    except BaseException:
        w.failed = w.failed or RunFileError(path, "cannot save: interrupted")
        try:
            w.close()
        except RunFileError:
            pass
        raise
    w.close()  # publishes (or raises, leaving no file)
    return path


# ------------------------------------------------------------------- read
@dataclass
class Run:
    """A run read from a file."""

    path: Path
    config: TrainConfig
    history: History
    dataset: np.ndarray | None = None
    meta: dict = field(default_factory=dict)


@dataclass
class _Header:
    config: TrainConfig
    K: int
    m: int
    n: int
    untied: bool
    N: int
    meta: dict


def _read_header(f, path: Path) -> _Header:
    """The config and the history's sizes, checked against each other (read_h5 has checked
    the format attribute)."""
    read_version(f, path, FORMAT, FORMAT_VERSION)
    if "config" in f.attrs:
        raw = f.attrs["config"]
    elif "config" in f:
        raw = f["config"][()]
    else:
        raise RunFileError(path, "has no config")
    try:
        config = TrainConfig.from_json(as_str(raw))
    except ConfigError as exc:
        raise RunFileError(path, f"bad config: {exc.one_line()}") from None
    except (TypeError, ValueError, UnicodeDecodeError) as exc:
        raise RunFileError(path, f"bad config: {one_line(exc)}") from None
    meta: dict = {}
    if "meta" in f.attrs:
        try:
            meta = json.loads(as_str(f.attrs["meta"]))
        except (TypeError, ValueError, UnicodeDecodeError):
            raise RunFileError(path, "meta attribute is not valid JSON") from None
    if "meta_json" in f and f["meta_json"].shape[0] > 0:
        try:  # written live; a half-written update (a crash mid-flush) is ignored
            meta = json.loads(bytes(f["meta_json"][()]).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            pass
    if not isinstance(meta, dict):
        meta = {"meta": meta}
    if "history" not in f:
        raise RunFileError(path, "has no history group")
    h = f["history"]
    for name in ("steps", "W", "b", "loss"):
        if name not in h:
            raise RunFileError(path, f"history has no '{name}' dataset")
    K, m, n, untied = config.models, config.m, config.n, config.untied
    want = {"W": (K, m, n), "b": (K, n), "loss": (K,), "steps": ()}
    if untied:
        if "M" not in h:
            raise RunFileError(path, "config says untied but history has no 'M' dataset")
        want["M"] = (K, n, m)
    for name in ("steps", "crc", "halted", "committed"):
        if name in h:
            check_whole(h[name], path, f"history/{name}")
    committed = None
    if "committed" in h:
        committed = int(np.asarray(h["committed"][()]).reshape(()))
    N = committed if committed is not None else int(h["steps"].shape[0]) if h["steps"].ndim else 0
    for name, row in want.items():
        check_real(h[name], path, f"history/{name}")
        shape = h[name].shape
        if len(shape) != 1 + len(row) or tuple(shape[1:]) != row:
            raise RunFileError(path, f"history/{name} has shape {shape}, but config (models={K}, "
                                     f"m={m}, n={n}) needs (rows,) + {row}")
        if shape[0] < N:
            raise RunFileError(path, f"history/{name} has {shape[0]} rows, but the history has {N} "
                                     f"(steps/committed)")
    if N < 0:
        raise RunFileError(path, f"history has a negative row count {N}")
    size = file_size(f, path)
    for name in list(want) + [x for x in ("crc",) if x in h]:  # the committed rows must be stored in the file
        check_declared(h[name], path, f"history/{name}", size, rows=N)
    if "crc" in h and (h["crc"].ndim != 1 or h["crc"].shape[0] < N):
        raise RunFileError(path, f"history/crc has shape {h['crc'].shape}, but the history has {N} rows")
    if "halted" in h and h["halted"].shape != (K,):
        raise RunFileError(path, f"history/halted has shape {h['halted'].shape}, expected ({K},)")
    return _Header(config, K, m, n, untied, N, meta)


def _read_steps(h, N: int, path: Path) -> np.ndarray:
    steps = np.asarray(h["steps"][:N], dtype=np.int64)
    if N > 1 and np.any(np.diff(steps) <= 0):
        raise RunFileError(path, "history steps are not strictly increasing (damaged file)")
    return steps


def _verify(path: Path, crcs, i: int, step, W, b, loss, M) -> None:
    if crcs is not None and _row_crc(step, W, b, loss, M) != int(crcs[i]):
        raise RunFileError(path, f"is damaged (row {i}, step {int(step)}: checksum mismatch)")


def _read_halted(h, K: int) -> np.ndarray:
    if "halted" in h:
        return np.asarray(h["halted"][()], dtype=np.int64).reshape(K)
    return np.full(K, -1, dtype=np.int64)


def _well_spread(N: int, keep: int) -> np.ndarray:
    """``keep`` indices of range(N), evenly spread over the rows, first and last included."""
    if keep >= N:
        return np.arange(N)
    idx = np.unique(np.round(np.linspace(0, N - 1, keep)).astype(np.int64))
    return idx


def open_run(path: str | Path, budget_bytes: int | None = None) -> Run:
    """Read a run file. The history keeps every row that fits ``budget_bytes``
    (default: the config's history_budget_mb); a longer one is thinned to an even
    spread of its rows (first and last kept), which keeps the file's own
    dense-early/thin-later profile."""
    path = Path(path)

    def read(f):
        hd = _read_header(f, path)
        if hd.N == 0:  # the writer died (or the disk filled) before its first flush
            raise RunFileError(path, NO_SNAPSHOT)
        h = f["history"]
        dataset = _read_dataset(f["dataset"], path, hd.config) if "dataset" in f else None
        budget = int(budget_bytes if budget_bytes is not None else hd.config.history_budget_mb * 2**20)
        hist = History(hd.K, hd.m, hd.n, untied=hd.untied, budget_bytes=budget, max_rows=hd.N + 1)
        steps = _read_steps(h, hd.N, path)
        crcs = np.asarray(h["crc"][:hd.N]) if "crc" in h else None
        idx = _well_spread(hd.N, hist.capacity - 1)
        block = max(1, _BLOCK_BYTES // hist.bytes_per_snapshot)
        names = ["W", "b", "loss"] + (["M"] if hd.untied else [])
        pos = 0
        while pos < len(idx):
            lo = int(idx[pos])
            hi = min(hd.N, lo + block)
            end = pos + int(np.searchsorted(idx[pos:], hi, side="left"))
            data = {name: h[name][lo:hi] for name in names}
            for i in idx[pos:end]:
                i = int(i)
                r = i - lo
                row = (int(steps[i]), data["W"][r], data["b"][r], data["loss"][r],
                       data["M"][r] if hd.untied else None)
                _verify(path, crcs, i, *row)
                hist._append_kept(*row)
            pos = end
        for k, s in enumerate(_read_halted(h, hd.K)):
            if s >= 0:
                hist.mark_halted(k, int(s))
        return Run(path=path, config=hd.config, history=hist, dataset=dataset, meta=hd.meta)

    return read_h5(path, read)


def load_snapshot(path: str | Path, step: int | None = None, model: int = 0) -> tuple[TrainConfig, Snapshot]:
    """(config, Snapshot) of ``model`` at or before ``step`` (None = latest), read
    straight from the file (for "continue training from here"). A halted model
    is clamped to its last finite snapshot."""
    path = Path(path)

    def read(f):
        hd = _read_header(f, path)
        h = f["history"]
        k = int(model)
        if not 0 <= k < hd.K:
            raise RunFileError(path, f"has {hd.K} model(s); model {k} does not exist "
                                     f"(models are numbered 0..{hd.K - 1})")
        if hd.N == 0:
            raise RunFileError(path, NO_SNAPSHOT)
        steps = _read_steps(h, hd.N, path)
        i = hd.N - 1 if step is None else max(0, int(np.searchsorted(steps, int(step), side="right")) - 1)
        halt = int(_read_halted(h, hd.K)[k])
        if halt >= 0 and steps[i] >= halt:
            i = max(0, int(np.searchsorted(steps, halt, side="left")) - 1)

        crcs = np.asarray(h["crc"][:hd.N]) if "crc" in h else None

        def get(i):
            Wr, br, lr = h["W"][i], h["b"][i], h["loss"][i]
            Mr = h["M"][i] if hd.untied else None
            _verify(path, crcs, i, steps[i], Wr, br, lr, Mr)
            return (Wr[k].astype(np.float64), br[k].astype(np.float64),
                    None if Mr is None else Mr[k].astype(np.float64), float(lr[k]))

        W, b, M, loss = get(i)
        while halt >= 0 and i > 0 and not (np.isfinite(W).all() and np.isfinite(b).all()
                                           and (M is None or np.isfinite(M).all())):
            i -= 1
            W, b, M, loss = get(i)
        cfg = hd.config
        snap = Snapshot(step=int(steps[i]), W=W, b=b, loss=loss, M=M,
                        importance=None if cfg.importance is None else cfg.importance_vector(),
                        model=k)
        if not snap.finite:  # nothing can start from it
            raise RunFileError(path, nonfinite_problem(snap, _last_finite(h, steps, i, k, hd.untied)))
        return cfg, snap

    return read_h5(path, read)


def _last_finite(h, steps: np.ndarray, i: int, k: int, untied: bool) -> int | None:
    """The latest recorded step before row ``i`` at which model ``k`` is finite (None: none),
    read a block of rows at a time from the end (a file that is NaN from some row on is read
    back to there, at most)."""
    names = ["W", "b"] + (["M"] if untied else [])
    hi = int(i)
    block = 256
    while hi > 0:
        lo = max(0, hi - block)
        ok = np.ones(hi - lo, dtype=bool)
        for name in names:
            part = np.asarray(h[name][lo:hi, k], dtype=np.float64)
            with np.errstate(invalid="ignore", over="ignore"):
                ok &= np.isfinite(part.reshape(hi - lo, -1).sum(axis=1))
        if ok.any():
            return int(steps[lo + int(np.flatnonzero(ok)[-1])])
        hi = lo
    return None


def nonfinite_problem(snap: Snapshot, last_finite: int | None) -> str:
    """The one-line problem of a snapshot whose parameters are not finite: where, and which
    step before it is finite (what --step / --init-step can name instead)."""
    where = nonfinite_text(snap)
    before = (f"the last finite step before it is {last_finite:,}" if last_finite is not None else
              "no recorded step before it is finite")
    return f"model {snap.model} is not finite at step {snap.step:,} ({where}); {before}"


# ------------------------------------------------------------------ places
def user_runs_dir() -> Path:
    """Folder for autosaved runs (created on demand): $LGE_DATA_DIR/runs if set,
    else platformdirs' user data dir for the app, /runs."""
    base = os.environ.get(ENV_DATA_DIR)
    if not base:
        import platformdirs

        base = platformdirs.user_data_dir(APP_NAME)
    runs = Path(base) / "runs"
    try:
        runs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFileError(runs, outfile.problem(exc, "create the runs folder")) from None
    return runs


def autosave_path(config: TrainConfig, kind: str = "run", models: int | None = None,
                  stem: str | None = None) -> Path:
    """A new, timestamped file name in ``user_runs_dir()`` for this config (``kind``: "run",
    "sweep", ...; ``models``: K when it is not the config's; ``stem``: the name before the
    time stamp instead of kind and config), never one that exists. The time stamp carries a
    random part (``-3f9a1c``): two programs that start in the same second with the same config
    (two ``train`` without --out, two windows) get two names, as the name is taken only when
    the file is published, at its first snapshot (or a sweep's first configuration)."""
    runs = user_runs_dir()
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    K = config.models if models is None else models
    base = (f"{kind}-{stamp}-n{config.n}-m{config.m}-K{K}-seed{config.seed}" if stem is None
            else f"{stem}-{stamp}")
    p = runs / f"{base}.h5"
    i = 2
    while p.exists():
        p = runs / f"{base}-{i}.h5"
        i += 1
    return p


__all__ = [
    "DATASIZE_FORMAT",
    "FILE_KINDS",
    "FORMAT",
    "FORMAT_VERSION",
    "NO_SNAPSHOT",
    "SWEEP_FORMAT",
    "Run",
    "RunFileError",
    "RunWriter",
    "autosave_path",
    "check_readable",
    "check_real",
    "file_kind",
    "load_snapshot",
    "nonfinite_problem",
    "open_run",
    "read_h5",
    "save_run",
    "user_runs_dir",
]
