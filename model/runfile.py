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
a file that opens. Rows reach the file in blocks: ``flush()`` resizes and
writes the datasets, ``H5Fflush``-es, then sets ``history/committed`` to the new
row count and flushes again, so a reader never trusts rows whose data might not
have reached the disk. A file left by a killed writer still carries HDF5's
"open for SWMR write" flag; ``open_run``/``load_snapshot`` open it as an SWMR
reader, which is what that flag allows. The history datasets carry no HDF5
filter: a SIGKILL can tear the in-place rewrite of the chunk holding the last
committed rows, which a chunk checksum (fletcher32) would then reject, losing
committed rows; unfiltered, those rows' bytes are rewritten unchanged. Each row
carries its own CRC32 instead, checked on read, so corrupt bytes are still
caught. (Flushes reach the OS, not the platter: a power cut is not covered;
kill -9 is.) Verified by tests/model/test_runfile.py::test_sigkill_keeps_flushed_rows
and, during development, by 100+ kills at random moments (n = 7, 1,000, 20,000).

Every failure to read or write a run file is a ``RunFileError`` whose message is
one line naming the file and the problem. This module never pickles.
"""
from __future__ import annotations

import errno
import json
import math
import os
import stat
import time
import uuid
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .config import ConfigError, TrainConfig
from .history import History
from .snapshot import Snapshot

FORMAT = "latent-geometry-run"
SWEEP_FORMAT = "latent-geometry-sweep"  # model/sweep.py
DATASIZE_FORMAT = "latent-geometry-datasize"  # model/datasize.py
FORMAT_VERSION = 1
LIBVER = ("v110", "v110")  # SWMR needs >= v1.10 file format; v110 keeps files readable by HDF5 1.10+
_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_BLOCK_BYTES = 32 * 2**20  # rows buffered by RunWriter before they are written out
ENV_DATA_DIR = "LGE_DATA_DIR"
APP_NAME = "latent-geometry-explorer"


class RunFileError(Exception):
    """A run file that cannot be read or written. ``str()`` is one line: file, problem."""

    def __init__(self, path, problem: str):
        self.path = os.fspath(path) if path is not None else ""
        problem = str(problem).encode("utf-8", "backslashreplace").decode("utf-8")  # no lone surrogates
        self.problem = " ".join(problem.split())  # one line
        super().__init__(f"{self.path}: {self.problem}")


# ----------------------------------------------------------------- helpers
def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _os_problem(exc: OSError, doing: str) -> str:
    msg = _one_line(exc)
    low = msg.lower()
    if isinstance(exc, PermissionError) or "permission denied" in low or "errno = 13" in low:
        return f"cannot {doing}: permission denied"
    if isinstance(exc, FileNotFoundError) or "no such file" in low or "errno = 2," in low:
        return f"cannot {doing}: the folder does not exist"
    if "no space" in low or "errno = 28" in low:
        return f"cannot {doing}: the disk is full"
    if "file exists" in low or "errno = 17" in low:
        return f"cannot {doing}: the file already exists"
    return f"cannot {doing}: {msg}"


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
    f.attrs["format"] = FORMAT
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["config"] = config.to_json()
    f.attrs["meta"] = json.dumps(meta or {})
    f.create_dataset("meta_json", shape=(0,), maxshape=(None,), dtype=np.uint8, chunks=(4096,))
    if dataset is not None:
        _write_dataset(f, dataset)
    g = f.create_group("history")
    _make_history_datasets(g, K, m, n, untied)
    return g


def _block_crc(steps, W, b, loss, M=None) -> np.ndarray:
    """_row_crc of each of R rows at once: one contiguous byte matrix, one crc32 call a row."""
    R = steps.size
    parts = [np.ascontiguousarray(steps, dtype=np.int64).view(np.uint8).reshape(R, 8)]
    for a in (W, b, loss, M):
        if a is not None:
            parts.append(np.ascontiguousarray(a, dtype=np.float32).reshape(R, -1).view(np.uint8))
    rows = np.concatenate(parts, axis=1)
    return np.fromiter((zlib.crc32(r) for r in rows), dtype=np.uint32, count=R)


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


def _read_dataset(g, path) -> np.ndarray:
    shape = tuple(int(v) for v in np.asarray(g.attrs["shape"]).reshape(-1))
    if len(shape) != 3 or min(shape) < 0:
        raise RunFileError(path, f"dataset has a bad shape attribute {shape}")
    K, T, n = shape
    check_real(g["data"], path, "dataset/data")
    for name in ("indptr", "indices"):
        if g[name].dtype.kind not in "iu":
            raise RunFileError(path, f"dataset/{name} holds {g[name].dtype} values; it must hold whole numbers")
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


def _as_str(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _as_str(v[()])
    if isinstance(v, str):
        return v
    raise TypeError(f"expected a string, got {type(v).__name__}")


def _check_dims(config: TrainConfig, K: int, m: int, n: int, untied: bool) -> None:
    want = (config.models, config.m, config.n, config.untied)
    if (K, m, n, untied) != want:
        raise ValueError(f"the arrays (K={K}, m={m}, n={n}, untied={untied}) do not match the config "
                         f"(models={want[0]}, m={want[1]}, n={want[2]}, untied={want[3]})")


# ------------------------------------------------------------------ writer
class RunWriter:
    """Write a live run to ``path``: rows buffered in memory, written and flushed in blocks.

    ``append`` only copies; ``maybe_flush`` (call it every chunk) writes and
    flushes when ``flush_seconds`` have passed; after a SIGKILL the file
    reopens with every row up to the last flush. K, m, n, untied default to the
    config's models, m, n, untied.
    """

    def __init__(self, path, config: TrainConfig, dataset=None, K: Optional[int] = None,
                 m: Optional[int] = None, n: Optional[int] = None, flush_seconds: float = 2.0,
                 *, untied: Optional[bool] = None, meta: Optional[dict] = None,
                 overwrite: bool = False):
        import h5py

        self.path = Path(path)
        self.K = int(config.models if K is None else K)
        self.m = int(config.m if m is None else m)
        self.n = int(config.n if n is None else n)
        self.untied = bool(config.untied if untied is None else untied)
        _check_dims(config, self.K, self.m, self.n, self.untied)
        self.flush_seconds = float(flush_seconds)
        self._rows: list = []
        self._buffered_bytes = 0
        self._written = 0  # rows written to the datasets
        self._committed = 0
        self._last_step: Optional[int] = None
        self._halted = np.full(self.K, -1, dtype=np.int64)
        self._halted_dirty = False
        self._meta_dirty: Optional[bytes] = None
        self._f = None
        try:
            f = h5py.File(self.path, "w" if overwrite else "x", libver=LIBVER)
        except OSError as exc:
            raise RunFileError(self.path, _os_problem(exc, "create the run file")) from None
        try:
            _write_header(f, config, dataset, meta, self.K, self.m, self.n, self.untied)
            f.flush()
            f.swmr_mode = True
        except Exception as exc:
            f.close()
            try:  # the half-made file is ours: do not leave it behind
                self.path.unlink()
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise RunFileError(self.path, _os_problem(exc, "write the run file")) from None
            raise RunFileError(self.path, f"cannot write the run file: {_one_line(exc)}") from None
        self._f = f
        self._h = f["history"]
        self._last_flush = time.monotonic()

    # ------------------------------------------------------------- appends
    def append(self, step: int, W, b, loss, M=None) -> None:
        """Buffer one row (copies). Steps must strictly increase."""
        K, m, n = self.K, self.m, self.n
        self.append_block(np.array([int(step)]), np.asarray(W).reshape(1, K, m, n),
                          np.asarray(b).reshape(1, K, n), np.asarray(loss).reshape(1, K),
                          None if M is None else np.asarray(M).reshape(1, K, n, m))

    def append_block(self, steps, W, b, loss, M=None) -> None:
        """Buffer R rows at once (copies): steps (R,), W (R,K,m,n), b (R,K,n), loss (R,K), M (R,K,n,m)."""
        if self._f is None:
            raise RunFileError(self.path, "the writer is closed")
        steps = np.array(steps, dtype=np.int64, copy=True).reshape(-1)
        R = steps.size
        if R == 0:
            return
        if np.any(np.diff(steps) <= 0) or (self._last_step is not None and steps[0] <= self._last_step):
            raise ValueError(f"steps must increase: got {steps[:3].tolist()}... after {self._last_step}")
        K, m, n = self.K, self.m, self.n
        W = np.array(W, dtype=np.float32, copy=True).reshape(R, K, m, n)
        b = np.array(b, dtype=np.float32, copy=True).reshape(R, K, n)
        loss = np.array(loss, dtype=np.float32, copy=True).reshape(R, K)
        if self.untied:
            if M is None:
                raise ValueError("untied run: append needs M (K, n, m)")
            M = np.array(M, dtype=np.float32, copy=True).reshape(R, K, n, m)
        else:
            M = None
        self._rows.append((steps, W, b, loss, M))
        self._last_step = int(steps[-1])
        self._buffered_bytes += W.nbytes + b.nbytes + loss.nbytes + (M.nbytes if M is not None else 0)
        if self._buffered_bytes >= _BLOCK_BYTES:
            self._write_rows()

    def mark_halted(self, k: int, step: int) -> None:
        if not 0 <= int(k) < self.K:
            raise IndexError(f"model {k} out of range 0..{self.K - 1}")
        if self._halted[k] < 0 or step < self._halted[k]:
            self._halted[k] = int(step)
            self._halted_dirty = True

    def set_meta(self, meta: dict) -> None:
        """Replace the run's metadata (written at the next flush)."""
        self._meta_dirty = json.dumps(meta).encode("utf-8")

    def _write_rows(self) -> None:
        if not self._rows:
            return
        blocks, self._rows, self._buffered_bytes = self._rows, [], 0
        steps = np.concatenate([blk[0] for blk in blocks])
        arrays = [np.concatenate([blk[j] for blk in blocks]) for j in (1, 2, 3)]
        if self.untied:
            arrays.append(np.concatenate([blk[4] for blk in blocks]))
        lo, hi = self._written, self._written + steps.size
        h = self._h
        try:
            names = ["W", "b", "loss"] + (["M"] if self.untied else [])
            for name, a in zip(names, arrays):
                d = h[name]
                d.resize(hi, axis=0)
                d[lo:hi] = a
            d = h["crc"]
            d.resize(hi, axis=0)
            d[lo:hi] = _block_crc(steps, *arrays)
            d = h["steps"]  # last: the rows' data first, then their steps
            d.resize(hi, axis=0)
            d[lo:hi] = steps
        except Exception as exc:
            self._rows = blocks + self._rows  # kept for a later try
            self._buffered_bytes += sum(blk[1].nbytes for blk in blocks)
            if isinstance(exc, OSError):
                raise RunFileError(self.path, _os_problem(exc, "write rows")) from None
            raise RunFileError(self.path, f"cannot write rows: {_one_line(exc)}") from None
        self._written = hi

    def flush(self) -> None:
        """Write the buffered rows and make them durable against a crash of this process."""
        if self._f is None:
            return
        self._write_rows()
        try:
            if self._halted_dirty:
                self._h["halted"][...] = self._halted
                self._halted_dirty = False
            if self._meta_dirty is not None:
                d = self._f["meta_json"]
                d.resize(len(self._meta_dirty), axis=0)
                d[...] = np.frombuffer(self._meta_dirty, dtype=np.uint8)
                self._meta_dirty = None
            self._f.flush()
            if self._committed != self._written:
                self._h["committed"][()] = self._written
                self._f.flush()
                self._committed = self._written
        except Exception as exc:
            raise RunFileError(self.path, f"cannot flush: {_one_line(exc)}") from None
        self._last_flush = time.monotonic()

    def maybe_flush(self) -> bool:
        """Flush if ``flush_seconds`` passed since the last flush; returns whether it did."""
        if self._f is not None and time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()
            return True
        return False

    @property
    def rows_committed(self) -> int:
        """Rows a crash right now would keep."""
        return self._committed

    @property
    def rows(self) -> int:
        return self._written + len(self._rows)

    def close(self) -> None:
        if self._f is None:
            return
        try:
            self.flush()
        finally:
            f, self._f = self._f, None
            try:
                f.close()
            except Exception as exc:
                raise RunFileError(self.path, f"cannot close: {_one_line(exc)}") from None

    @property
    def closed(self) -> bool:
        return self._f is None

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------- save
@contextmanager
def atomic_h5(path, doing: str, libver=None):
    """A new HDF5 file, written under a temporary name beside ``path`` and renamed onto
    ``path`` when the with-block ends without an error (removed otherwise), so a reader
    never sees half a file and a failed write leaves the old file as it was. Any error:
    RunFileError naming ``path`` and what was being done (``doing``, e.g. "save")."""
    import h5py

    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    tmp = folder / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        if path.is_dir():
            raise RunFileError(path, f"cannot {doing}: it is a folder")
        try:
            f = h5py.File(tmp, "x", **({"libver": libver} if libver else {}))
        except OSError as exc:
            raise RunFileError(path, _os_problem(exc, doing)) from None
        try:
            with f:
                yield f
            os.replace(tmp, path)
        except RunFileError:
            raise
        except OSError as exc:
            raise RunFileError(path, _os_problem(exc, doing)) from None
        except Exception as exc:
            raise RunFileError(path, f"cannot {doing}: {_one_line(exc)}") from None
    finally:
        if tmp.exists():
            try:
                tmp.unlink()
            except OSError:
                pass


def save_run(path, config: TrainConfig, history: History, dataset=None, meta: Optional[dict] = None) -> Path:
    """Write ``history`` (all rows) to a new file at ``path``, atomically (see atomic_h5)."""
    path = Path(path)
    _check_dims(config, history.K, history.m, history.n, history.untied)
    with atomic_h5(path, "save", libver=LIBVER) as f:
        K, m, n, untied = history.K, history.m, history.n, history.untied
        g = _write_header(f, config, dataset, meta, K, m, n, untied)
        with history.locked_arrays() as a:
            N = len(a["steps"])
            names = ["steps", "W", "b", "loss"] + (["M"] if untied else [])
            for name in names + ["crc"]:
                g[name].resize(N, axis=0)
            row_bytes = max(1, history.bytes_per_snapshot)
            block = max(1, _BLOCK_BYTES // row_bytes)
            for lo in range(0, N, block):
                hi = min(N, lo + block)
                for name in names:
                    g[name][lo:hi] = a[name][lo:hi]
                g["crc"][lo:hi] = np.array(
                    [_row_crc(a["steps"][i], a["W"][i], a["b"][i], a["loss"][i],
                              None if a["M"] is None else a["M"][i]) for i in range(lo, hi)],
                    dtype=np.uint32)
            g["halted"][...] = a["halted"]
            g["committed"][()] = N
    return path


# ------------------------------------------------------------- read guard
#: Every HDF5 file this program writes names its kind in the ``format`` attribute:
#: format -> (what a person calls it, what it is, how to open it instead).
FILE_KINDS = {
    FORMAT: ("run file", "latent-geometry run", "open it with main.py inspect / export / probe, or in the window"),
    SWEEP_FORMAT: ("sweep file", "sweep", "open it in the window: Experiments > Seed sweep > Open"),
    DATASIZE_FORMAT: ("dataset-size sweep file", "dataset-size sweep",
                      "open it in the window: Experiments > Dataset size > Open"),
}
#: The problem every reader reports for a run file whose history has no row yet.
NO_SNAPSHOT = "no snapshot recorded yet"
_NOT_REGULAR = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _kind_name(fmt: str) -> str:
    return FILE_KINDS.get(fmt, ("HDF5 file",))[0]


def _describe_mode(mode: int) -> Optional[str]:
    """None for a regular file, else what the path is (a FIFO would block every read)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    for test, what in _NOT_REGULAR:
        if test(mode):
            return what
    return "not a regular file"


def check_readable(path, fmt: str = FORMAT) -> None:
    """Refuse, with a one-line RunFileError, any path that is not a regular, readable file
    that starts like HDF5, before anything opens it: a missing file, a broken link, a symbolic
    link loop, a folder, a FIFO (opening one blocks until a writer comes), a socket or device,
    an empty or non-HDF5 file. ``fmt`` (a FILE_KINDS key) names the kind of file in messages.
    The file is opened non-blocking and checked again through its descriptor, so a path swapped
    for a FIFO after the first check is still refused without blocking."""
    kind = _kind_name(fmt)
    text = os.fspath(path)
    if text == "":
        raise RunFileError(path, "no file name given (the name is empty)")
    try:
        st = os.stat(text)
    except FileNotFoundError:
        if os.path.islink(text):
            try:
                target = os.readlink(text)
            except OSError:
                target = "?"
            raise RunFileError(path, f"is a broken symbolic link (it points to {target}, which does not "
                                     f"exist)") from None
        raise RunFileError(path, "file not found") from None
    except NotADirectoryError:
        raise RunFileError(path, "file not found (a part of the path is a file, not a folder)") from None
    except PermissionError:
        raise RunFileError(path, "cannot read: permission denied") from None
    except ValueError:  # an embedded NUL
        raise RunFileError(path, "is not a valid file name") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RunFileError(path, "is a symbolic link loop (the links point at each other and never "
                                     "reach a file)") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise RunFileError(path, "the file name is too long") from None
        raise RunFileError(path, _os_problem(exc, "read")) from None
    what = _describe_mode(st.st_mode)
    if what is not None:
        raise RunFileError(path, f"is {what}, not a {kind}" + (
            ": only regular files are read" if what != "a folder" else ""))
    try:
        fd = os.open(text, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except PermissionError:
        raise RunFileError(path, "cannot read: permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RunFileError(path, "is a symbolic link loop") from None
        raise RunFileError(path, _os_problem(exc, "read")) from None
    try:
        st = os.fstat(fd)
        what = _describe_mode(st.st_mode)
        if what is not None:  # swapped since the stat above
            raise RunFileError(path, f"is {what}, not a {kind}: only regular files are read")
        head = os.read(fd, 8)
    except OSError as exc:
        raise RunFileError(path, _os_problem(exc, "read")) from None
    finally:
        os.close(fd)
    if st.st_size == 0:
        raise RunFileError(path, "the file is empty")
    if head != _SIGNATURE:
        import h5py

        try:  # HDF5 also allows a user block before the signature
            ok = bool(h5py.is_hdf5(text))
        except Exception:
            ok = False
        if not ok:
            raise RunFileError(path, f"is not a {kind} (not HDF5; a {kind} is an HDF5 file with format '{fmt}')")


def _open_h5(path: Path):
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        msg = _one_line(exc)
        low = msg.lower()
    if "truncated" in low:
        raise RunFileError(path, "is truncated (the file is shorter than its header says: an "
                                 "incomplete copy or download?)") from None
    if "already open for write" in low or "unable to lock" in low:
        # a live (or killed) SWMR writer: read as an SWMR reader
        try:
            return h5py.File(path, "r", swmr=True)
        except OSError as exc:
            msg = _one_line(exc)
            low = msg.lower()
            if "already open for" in low:
                raise RunFileError(path, "is marked open for writing: another program has it open, or one "
                                         "that crashed left the mark (h5clear -s clears it)") from None
            if "unable to lock" in low:
                raise RunFileError(path, "is locked by another program") from None
    if "permission denied" in low or "errno = 13" in low:
        raise RunFileError(path, "cannot read: permission denied") from None
    raise RunFileError(path, f"is damaged (HDF5 cannot open it: {msg})") from None


def _check_self_contained(f, path: Path) -> None:
    """Refuse a file that reaches outside itself: an external link (another file), a dataset
    stored in external raw files, or a virtual dataset (mapped from other files). Reading any of
    them opens another path, which can be a FIFO (blocks) or a file the user never chose. Walks
    every link without following one; hard-linked cycles are visited once."""
    import h5py

    stack, seen = [f], set()
    while stack:
        g = stack.pop()
        for name in g:
            where = f"{g.name.rstrip('/')}/{name}"
            link = g.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise RunFileError(path, f"{where} is a link to another file ({link.filename}): only "
                                         f"self-contained files are read")
            if not isinstance(link, h5py.HardLink):  # soft links name a path inside this file
                continue
            obj = g[name]
            info = h5py.h5o.get_info(obj.id)
            key = (info.fileno, info.addr)  # one per object, however many hard links reach it
            if key in seen:
                continue
            seen.add(key)
            if isinstance(obj, h5py.Group):
                stack.append(obj)
            elif isinstance(obj, h5py.Dataset):
                if obj.external:
                    raise RunFileError(path, f"{where} stores its data in another file "
                                             f"({obj.external[0][0]}): only self-contained files are read")
                if obj.is_virtual:
                    raise RunFileError(path, f"{where} is a virtual dataset (its data lives in other files): "
                                             f"only self-contained files are read")


def _check_format(f, path: Path, fmt: str) -> None:
    found = f.attrs.get("format")
    try:
        found = _as_str(found) if found is not None else None
    except (TypeError, UnicodeDecodeError):
        found = None
    if found == fmt:
        return
    _, what, _ = FILE_KINDS[fmt]
    if found in FILE_KINDS:
        other, _, how = FILE_KINDS[found]
        raise RunFileError(path, f"is a {other}, not a {what} ({how})")
    raise RunFileError(path, f"is an HDF5 file but not a {what} (format attribute {found!r}, expected {fmt!r})")


def check_real(ds, path, name: str) -> None:
    """Refuse a dataset that does not hold real numbers (complex, strings, compound...): one line."""
    kind = ds.dtype.kind
    if kind not in "fiu":
        what = {"c": "complex numbers", "S": "byte strings", "U": "text", "O": "objects",
                "V": "records", "b": "booleans"}.get(kind, f"values of type {ds.dtype}")
        raise RunFileError(path, f"{name} holds {what} ({ds.dtype}); it must hold real numbers")


def read_h5(path, fn, fmt: str = FORMAT):
    """The read guard every reader of this program's HDF5 files goes through: check the path
    (check_readable), open it (as an SWMR reader when a writer has it, or left the mark),
    refuse a file that reaches outside itself or is of another kind (``fmt``: a FILE_KINDS
    key), then return ``fn(f)``. Every failure is a one-line RunFileError naming the file:
    nothing from h5py leaks out as a traceback."""
    path = Path(path)
    check_readable(path, fmt)
    try:
        f = _open_h5(path)
    except RunFileError:
        raise
    except Exception as exc:
        raise RunFileError(path, f"is damaged (HDF5 cannot open it: {_one_line(exc)})") from None
    try:
        with f:
            _check_self_contained(f, path)
            _check_format(f, path, fmt)
            return fn(f)
    except RunFileError:
        raise
    except ConfigError as exc:
        raise RunFileError(path, f"bad config: {exc}") from None
    except MemoryError:
        raise RunFileError(path, "is too large to load into memory (or its sizes are damaged)") from None
    except OSError as exc:
        raise RunFileError(path, f"is damaged (read failed: {_one_line(exc)})") from None
    except Exception as exc:  # the file boundary: nothing from h5py leaks out as a traceback
        raise RunFileError(path, f"is damaged ({type(exc).__name__}: {_one_line(exc)})") from None


# ------------------------------------------------------------------- read
@dataclass
class Run:
    """A run read from a file."""

    path: Path
    config: TrainConfig
    history: History
    dataset: Optional[np.ndarray] = None
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
    ver = f.attrs.get("format_version")
    try:
        ver = int(np.asarray(ver).reshape(()))
    except Exception:
        raise RunFileError(path, f"has an unreadable format_version {ver!r}") from None
    if ver > FORMAT_VERSION:
        raise RunFileError(path, f"was written by a newer version of the program (format_version {ver}; "
                                 f"this one reads up to {FORMAT_VERSION}); update to open it")
    if ver < 1:
        raise RunFileError(path, f"has an unknown format_version {ver}")
    if "config" in f.attrs:
        raw = f.attrs["config"]
    elif "config" in f:
        raw = f["config"][()]
    else:
        raise RunFileError(path, "has no config")
    try:
        config = TrainConfig.from_json(_as_str(raw))
    except ConfigError as exc:
        raise RunFileError(path, f"bad config: {exc}") from None
    except (TypeError, ValueError, UnicodeDecodeError) as exc:
        raise RunFileError(path, f"bad config: {_one_line(exc)}") from None
    meta: dict = {}
    if "meta" in f.attrs:
        try:
            meta = json.loads(_as_str(f.attrs["meta"]))
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
        if name in h and h[name].dtype.kind not in "iu":
            raise RunFileError(path, f"history/{name} holds {h[name].dtype} values; it must hold whole numbers")
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
    if N <= keep:
        return np.arange(N)
    idx = np.unique(np.round(np.linspace(0, N - 1, keep)).astype(np.int64))
    return idx


def open_run(path, budget_bytes: Optional[int] = None) -> Run:
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
        dataset = _read_dataset(f["dataset"], path) if "dataset" in f else None
        budget = int(budget_bytes if budget_bytes is not None else hd.config.history_budget_mb * 2**20)
        hist = History(hd.K, hd.m, hd.n, untied=hd.untied, budget_bytes=budget)
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


def load_snapshot(path, step: Optional[int] = None, model: int = 0):
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
        return cfg, snap

    return read_h5(path, read)


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
        raise RunFileError(runs, _os_problem(exc, "create the runs folder")) from None
    return runs


def autosave_path(config: TrainConfig, kind: str = "run", models: Optional[int] = None) -> Path:
    """A new, timestamped file name in ``user_runs_dir()`` for this config (``kind``: "run",
    "sweep", ...; ``models``: K when it is not the config's)."""
    runs = user_runs_dir()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    K = config.models if models is None else models
    base = f"{kind}-{stamp}-n{config.n}-m{config.m}-K{K}-seed{config.seed}"
    p = runs / f"{base}.h5"
    i = 2
    while p.exists():
        p = runs / f"{base}-{i}.h5"
        i += 1
    return p


__all__ = ["RunFileError", "RunWriter", "Run", "save_run", "open_run", "load_snapshot",
           "user_runs_dir", "autosave_path", "FORMAT", "FORMAT_VERSION", "SWEEP_FORMAT", "DATASIZE_FORMAT",
           "FILE_KINDS", "NO_SNAPSHOT", "check_readable", "check_real", "read_h5"]
