"""The HDF5 files of this program: one guard to read them, one way to write them in one go,
one kind of error.

Three kinds of file, each named by its ``format`` attribute (``FILE_KINDS``): run files
(model/storage/runfile.py), sweep files (model/experiments/sweep.py) and dataset-size sweep files
(model/experiments/datasize.py). Every module that reads or writes one goes through here:

- ``read_h5(path, fn, fmt)``: ``check_readable`` (a regular, readable file that starts
  like HDF5: a FIFO, a socket, a folder, a broken link or a link loop is refused before
  anything opens it, without blocking), open it (as an SWMR reader when a live or
  killed writer left HDF5's "open for write" mark or lock), refuse a file that reaches
  outside itself (external links, external storage, virtual datasets) or is of another
  kind, then return ``fn(f)``.
- ``check_real`` / ``check_whole``: a dataset holds real numbers / whole numbers.
- ``read_version``: the ``format_version`` attribute, refused when newer than this
  program reads.
- ``write_h5(path, fmt, version)``: a new file built in memory and published under its
  name in one step (model/storage/outfile.py): a reader never sees half a file, a full disk
  never reaches HDF5, an existing file is replaced only when asked.
- ``check_writable(path, replace, fmt)``: refuse, before any work, a target that cannot
  be written.

Every failure is a ``RunFileError`` (model/storage/outfile.py) whose message is one line naming
the file and its kind: "sweep.h5: is a truncated sweep file (…)", or, when the problem
does not say the kind itself, "sweep.h5 (sweep file): configs/c0000 has no 'W' dataset".
Nothing from h5py leaks out as a traceback. No pickle.
"""
from __future__ import annotations

import errno
import math
import os
import stat
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from ..config import ConfigError
from . import outfile
from .outfile import RunFileError

if TYPE_CHECKING:
    import h5py

RUN_FORMAT = "latent-geometry-run"
SWEEP_FORMAT = "latent-geometry-sweep"
DATASIZE_FORMAT = "latent-geometry-datasize"
#: format attribute -> (what a person calls the file, what it holds, how to open it instead)
FILE_KINDS = {
    RUN_FORMAT: ("run file", "latent-geometry run", "open it with main.py inspect / export / probe, or in the window"),
    SWEEP_FORMAT: ("sweep file", "sweep", "open it in the window: Experiments > Seed sweep > Open"),
    DATASIZE_FORMAT: ("dataset-size sweep file", "dataset-size sweep",
                      "open it in the window: Experiments > Dataset size > Open"),
}
_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_NOT_REGULAR = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
T = TypeVar("T")


# ----------------------------------------------------------------- small helpers
#: What a file of any of the kinds is called (a reader that takes every kind: ``fmt`` None).
ANY_KIND = "run, sweep or dataset-size sweep file"


def kind_name(fmt: str | None) -> str:
    """What a person calls a file of format ``fmt`` ("run file", "sweep file", ...; None: any kind)."""
    if fmt is None:
        return ANY_KIND
    return FILE_KINDS.get(fmt, ("HDF5 file",))[0]


def one_line(exc: BaseException) -> str:
    """An exception's text on one line (its type's name when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def as_str(v: object) -> str:
    """An HDF5 string attribute (bytes, str or a 0-d array of either) as str; TypeError otherwise."""
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.ndarray) and v.shape == ():
        return as_str(v[()])
    if isinstance(v, str):
        return v
    raise TypeError(f"expected a string, got {type(v).__name__}")


def _named(exc: RunFileError, fmt: str | None) -> RunFileError:
    """``exc`` with the file's kind in its message (the same error when it names it already)."""
    kind = kind_name(fmt)
    if exc.kind is not None or kind in exc.problem:
        return exc
    return RunFileError(exc.path, exc.problem, status=exc.status, kind=kind)


def check_real(ds: h5py.Dataset, path: str | Path, name: str) -> None:
    """Refuse a dataset that does not hold real numbers (complex, strings, compound...): one line."""
    kind = ds.dtype.kind
    if kind not in "fiu":
        what = {"c": "complex numbers", "S": "byte strings", "U": "text", "O": "objects",
                "V": "records", "b": "booleans"}.get(kind, f"values of type {ds.dtype}")
        raise RunFileError(path, f"{name} holds {what} ({ds.dtype}); it must hold real numbers")


def check_whole(ds: h5py.Dataset, path: str | Path, name: str) -> None:
    """Refuse a dataset that does not hold whole numbers (indices, steps, codes): one line."""
    if ds.dtype.kind not in "iu":
        raise RunFileError(path, f"{name} holds {ds.dtype} values; it must hold whole numbers")


def read_version(f: h5py.File, path: str | Path, fmt: str, newest: int) -> int:
    """The file's ``format_version`` (1..``newest``); a newer or unknown one is refused."""
    raw = f.attrs.get("format_version")
    try:
        ver = int(np.asarray(raw).reshape(()))
    except Exception:  # noqa: BLE001 - a stranger's attribute that does not parse, whatever it is, is one line
        raise RunFileError(path, f"has an unreadable format_version {raw!r}") from None
    kind = kind_name(fmt)
    if ver > newest:
        raise RunFileError(path, f"is a {kind} written by a newer version of the program (format_version {ver}; "
                                 f"this one reads up to {newest}); update to open it")
    if ver < 1:
        raise RunFileError(path, f"has an unknown format_version {ver}")
    return ver


# ------------------------------------------------------------------------ read
def _describe_mode(mode: int) -> str | None:
    """None for a regular file, else what the path is (a FIFO would block every read)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    for test, what in _NOT_REGULAR:
        if test(mode):
            return what
    return "not a regular file"


def _stat(text: str, path, kind: str) -> os.stat_result:
    """os.stat of the path, every failure a one-line RunFileError."""
    try:
        return os.stat(text)
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
        raise RunFileError(path, f"cannot read the {kind}: permission denied") from None
    except ValueError:  # an embedded NUL
        raise RunFileError(path, "is not a valid file name") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RunFileError(path, "is a symbolic link loop (the links point at each other and never "
                                     "reach a file)") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise RunFileError(path, "the file name is too long") from None
        raise RunFileError(path, outfile.problem(exc, f"read the {kind}")) from None


def _head(text: str, path, kind: str) -> tuple:
    """(size, first 8 bytes) read through a non-blocking descriptor whose type is checked
    again: a path swapped for a FIFO since the stat is still refused, without blocking."""
    try:
        fd = os.open(text, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except PermissionError:
        raise RunFileError(path, f"cannot read the {kind}: permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RunFileError(path, "is a symbolic link loop") from None
        raise RunFileError(path, outfile.problem(exc, f"read the {kind}")) from None
    try:
        st = os.fstat(fd)
        what = _describe_mode(st.st_mode)
        if what is not None:
            raise RunFileError(path, f"is {what}, not a {kind}: only regular files are read")
        return st.st_size, os.read(fd, 8)
    except OSError as exc:
        raise RunFileError(path, outfile.problem(exc, f"read the {kind}")) from None
    finally:
        os.close(fd)


def check_readable(path: str | Path, fmt: str | None = RUN_FORMAT) -> None:
    """Refuse, with a one-line RunFileError naming the file and its kind (``fmt``, a FILE_KINDS
    key), any path that is not a regular, readable file that starts like HDF5, before anything
    opens it: a missing file, a broken link, a symbolic link loop, a folder, a FIFO (opening one
    blocks until a writer comes), a socket or device, an empty or non-HDF5 file."""
    kind = kind_name(fmt)
    text = os.fspath(path)
    try:
        if text == "":
            raise RunFileError(path, "no file name given (the name is empty)")
        what = _describe_mode(_stat(text, path, kind).st_mode)
        if what is not None:
            raise RunFileError(path, f"is {what}, not a {kind}" + (
                ": only regular files are read" if what != "a folder" else ""))
        size, head = _head(text, path, kind)
        if size == 0:
            raise RunFileError(path, "the file is empty")
        if head != _SIGNATURE:
            import h5py

            try:  # HDF5 also allows a user block before the signature
                ok = bool(h5py.is_hdf5(text))
            except Exception:  # noqa: BLE001 - h5py raises on odd paths; any failure means not HDF5
                ok = False
            if not ok:
                if fmt is None:  # any of this program's kinds (file_kind)
                    raise RunFileError(path, f"is not a {kind} (not HDF5)")
                raise RunFileError(path, f"is not a {kind} (not HDF5; a {kind} is an HDF5 file with format "
                                         f"'{fmt}')")
    except RunFileError as exc:
        raise _named(exc, fmt) from None


def _try_open(path: Path, **kw):
    """(h5py.File, None), or (None, HDF5's message in lower case) when it cannot be opened."""
    import h5py

    try:
        return h5py.File(path, "r", **kw), None
    except OSError as exc:
        return None, one_line(exc)


def _open_h5(path: Path, kind: str):
    """Open for reading; a file with a (live or killed) SWMR writer's mark as an SWMR reader."""
    f, msg = _try_open(path)
    if f is not None:
        return f
    if "already open for write" in msg.lower() or "unable to lock" in msg.lower():
        f, msg = _try_open(path, swmr=True)
        if f is not None:
            return f
        if "already open for" in msg.lower():
            raise RunFileError(path, f"is a {kind} marked open for writing: another program has it open, or "
                                     f"one that crashed left the mark (h5clear -s clears it)")
        if "unable to lock" in msg.lower():
            raise RunFileError(path, f"is a {kind} locked by another program")
    low = msg.lower()
    if "truncated" in low:
        raise RunFileError(path, f"is a truncated {kind} (shorter than its header says: an incomplete copy "
                                 f"or download?)")
    if "permission denied" in low or "errno = 13" in low:
        raise RunFileError(path, f"cannot read the {kind}: permission denied")
    raise RunFileError(path, f"is a damaged {kind} (HDF5 cannot open it: {msg})")


#: Filters that keep the data as large as it is (a checksum, a byte shuffle); any other filter
#: compresses, by at most COMPRESSION_MAX (deflate's limit is about 1032:1).
_SIZE_KEEPING_FILTERS = frozenset({2, 3})  # H5Z_FILTER_SHUFFLE, H5Z_FILTER_FLETCHER32
COMPRESSION_MAX = 1100
#: A resizable dataset may be declared longer than it is stored by one block of rows: a writer
#: killed between resizing and writing them (RunWriter stages at most this many bytes).
RESIZE_SLACK = 32 * 2**20


def _fmt_size(nbytes: int) -> str:
    for unit, size in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:.3g} {unit}"
    return f"{int(nbytes)} bytes"


def storable_bytes(ds: h5py.Dataset, file_size: int) -> int:
    """The most bytes of data a dataset stored in a file of ``file_size`` bytes can hold:
    the file's size, times COMPRESSION_MAX when a filter compresses it."""
    plist = ds.id.get_create_plist()
    filters = {plist.get_filter(i)[0] for i in range(plist.get_nfilters())}
    return int(file_size) * (COMPRESSION_MAX if filters - _SIZE_KEEPING_FILTERS else 1)


def check_declared(ds: h5py.Dataset, path: str | Path, name: str, file_size: int,
                   rows: int | None = None) -> None:
    """Refuse, before anything is read, a dataset whose declared size (or the first ``rows`` rows
    of it: what a reader reads) is more than the file could store (``storable_bytes``): a small
    damaged or hostile file must not make a reader allocate gigabytes of fill values. A
    resizable dataset read whole may be declared RESIZE_SLACK (or one row) longer than stored."""
    shape = tuple(int(d) for d in ds.shape)
    item = int(ds.dtype.itemsize)
    row = item * math.prod(shape[1:]) if shape else item
    count = (shape[0] if shape else 1) if rows is None else min(int(rows), shape[0] if shape else 1)
    declared = row * count
    limit = storable_bytes(ds, file_size)
    if rows is None and ds.maxshape is not None and None in ds.maxshape:
        limit += max(RESIZE_SLACK, row)
    if declared > limit:
        what = f"its first {count:,} rows" if rows is not None else f"shape {shape}"
        raise RunFileError(path, f"{name} declares {what} of {ds.dtype} ({_fmt_size(declared)}), more than the "
                                 f"whole file ({_fmt_size(file_size)}) can hold: its sizes are damaged")


def file_size(f: h5py.File, path: str | Path) -> int:
    """The size of the open file on disk (what its datasets must fit in)."""
    try:
        return int(os.fstat(f.id.get_vfd_handle()).st_size)
    except Exception:  # noqa: BLE001 - a driver without a descriptor
        return int(os.path.getsize(path))


def _check_self_contained(f, path: Path) -> None:
    """Refuse a file that reaches outside itself: an external link (another file), a dataset
    stored in external raw files, or a virtual dataset (mapped from other files). Reading any of
    them opens another path, which can be a FIFO (blocks) or a file the user never chose. Walks
    every link without following one; hard-linked cycles are visited once."""
    import h5py

    size = file_size(f, path)
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
                check_declared(obj, path, where.lstrip("/"), size)


def _format_of(f) -> str | None:
    """The file's ``format`` attribute as text; None when it has none or it is not text."""
    found = f.attrs.get("format")
    try:
        return as_str(found) if found is not None else None
    except (TypeError, UnicodeDecodeError):
        return None


def _check_format(f, path: Path, fmt: str) -> None:
    found = _format_of(f)
    if found == fmt:
        return
    kind, what, _ = FILE_KINDS[fmt]
    if found in FILE_KINDS:
        other, _, how = FILE_KINDS[found]
        raise RunFileError(path, f"is a {other}, not a {kind} ({how})")
    raise RunFileError(path, f"is an HDF5 file but not a {what} (format attribute {found!r}, expected {fmt!r})",
                       kind=kind)


def read_h5(path: str | Path, fn: Callable[[h5py.File], T], fmt: str | None = RUN_FORMAT) -> T:
    """The read guard every reader of this program's HDF5 files goes through: check the path
    (check_readable), open it (as an SWMR reader when a writer has it, or left the mark),
    refuse a file that reaches outside itself or is of another kind (``fmt``: a FILE_KINDS
    key; None: any kind, ``fn`` looks), then return ``fn(f)``. Every failure is a one-line RunFileError naming the file and
    its kind: nothing from h5py leaks out as a traceback."""
    path = Path(path)
    check_readable(path, fmt)
    kind = kind_name(fmt)
    try:
        try:
            f = _open_h5(path, kind)
        except RunFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - the file boundary: HDF5's errors become one RunFileError line
            raise RunFileError(path, f"is a damaged {kind} (HDF5 cannot open it: {one_line(exc)})") from None
        with f:
            _check_self_contained(f, path)
            if fmt is not None:
                _check_format(f, path, fmt)
            return fn(f)
    except RunFileError as exc:
        raise _named(exc, fmt) from None
    except ConfigError as exc:
        raise RunFileError(path, f"bad config: {exc.one_line()}", kind=kind) from None
    except MemoryError:
        raise RunFileError(path, f"the {kind} is too large to load into memory (or its sizes are "
                                 f"damaged)") from None
    except OSError as exc:
        raise RunFileError(path, f"is a damaged {kind} (read failed: {one_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - the file boundary: nothing from h5py leaks out as a traceback
        raise RunFileError(path, f"is a damaged {kind} ({type(exc).__name__}: {one_line(exc)})") from None


def file_kind(path: str | Path) -> str:
    """Which of this program's files ``path`` is: RUN_FORMAT, SWEEP_FORMAT or DATASIZE_FORMAT,
    read from its ``format`` attribute through the read guard; any other HDF5 file is a one-line
    RunFileError naming the kinds it could have been."""
    path = Path(path)

    def kind(f):
        found = _format_of(f)
        if found in FILE_KINDS:
            return found
        kinds = [v[0] for v in FILE_KINDS.values()]
        raise RunFileError(path, f"is an HDF5 file but not a {', '.join(kinds[:-1])} or {kinds[-1]} (format "
                                 f"attribute {found!r}, expected one of {', '.join(map(repr, FILE_KINDS))})")

    return read_h5(path, kind, fmt=None)


# ----------------------------------------------------------------------- write
def write_error(path: str | Path, exc: BaseException, doing: str) -> RunFileError:
    """The RunFileError for a failed write (``doing``: "write the sweep file", ...): exit
    status 1 for a disk failure or the machine's, 2 for the user's input (a name, a folder)."""
    if isinstance(exc, RunFileError):
        return exc
    if isinstance(exc, OSError):
        return RunFileError(path, outfile.problem(exc, doing), status=1 if outfile.is_disk_failure(exc) else 2)
    if isinstance(exc, MemoryError):
        return RunFileError(path, f"cannot {doing}: out of memory", status=1)
    return RunFileError(path, f"cannot {doing}: {one_line(exc)}", status=1)


def check_writable(path: str | Path, replace: bool, fmt: str) -> Path:
    """Refuse, before any work, a target that cannot be written (an existing file without
    ``replace``, a folder, a missing folder, no permission): RunFileError naming the kind."""
    path = Path(path)
    try:
        return outfile.check_target(path, replace)
    except OSError as exc:
        raise write_error(path, exc, f"write the {kind_name(fmt)}") from None


def stamp(f: h5py.File, fmt: str, version: int) -> None:
    """Mark a new file with its kind and format version (what read_h5 checks)."""
    f.attrs["format"] = fmt
    f.attrs["format_version"] = int(version)


@contextmanager
def atomic_h5(path: str | Path, doing: str, libver: str | tuple[str, str] | None = None,
              replace: bool = False) -> Iterator[h5py.File]:
    """A new HDF5 file for ``path``, written in one go: built in memory (h5py's core
    driver) while the with-block runs, then written to a temporary file beside ``path``
    with plain writes and published under ``path`` (model/storage/outfile.py), so a reader never
    sees half a file, a full disk never reaches HDF5, and a failed write leaves the old
    file as it was. An existing ``path`` is replaced only with ``replace``. Any error:
    RunFileError naming ``path`` and what was being done (``doing``, e.g. "write the sweep
    file"), status 1 for a disk failure, else 2."""
    import h5py

    path = Path(path)
    try:
        outfile.check_target(path, replace)
    except OSError as exc:
        raise write_error(path, exc, doing) from None
    tmp = outfile.temp_beside(path)
    try:
        f = h5py.File(f"image-{uuid.uuid4().hex}.h5", "w", driver="core", backing_store=False,
                      **({"libver": libver} if libver else {}))
    except Exception as exc:  # noqa: BLE001 - building the image failed, whatever the cause: one write error line
        raise write_error(path, exc, doing) from None
    try:
        try:
            yield f
            f.flush()
            image = f.id.get_file_image()
        finally:
            f.close()
        outfile.write_new(tmp, image)
        del image
        outfile.publish(tmp, path, replace)
    except RunFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - publishing failed, whatever the cause: one write error line
        raise write_error(path, exc, doing) from None
    finally:
        outfile.discard(tmp)


@contextmanager
def write_h5(path: str | Path, fmt: str, version: int, replace: bool = False) -> Iterator[h5py.File]:
    """atomic_h5 for a file of kind ``fmt``, stamped with its format and ``version``; errors
    say "cannot write the <kind>: ..."."""
    with atomic_h5(path, f"write the {kind_name(fmt)}", replace=replace) as f:
        stamp(f, fmt, version)
        yield f


__all__ = [
    "DATASIZE_FORMAT",
    "FILE_KINDS",
    "RUN_FORMAT",
    "SWEEP_FORMAT",
    "RunFileError",
    "as_str",
    "atomic_h5",
    "check_declared",
    "check_readable",
    "check_real",
    "check_whole",
    "check_writable",
    "file_size",
    "kind_name",
    "one_line",
    "read_h5",
    "read_version",
    "stamp",
    "storable_bytes",
    "write_error",
    "write_h5",
]
