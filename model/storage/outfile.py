"""Output files: never replace a file nobody asked to replace, never leave half a
file under the target's name, and never let a full disk reach HDF5.

One rule for every writer (run files, sweep and dataset-size files, figures,
animations): the content goes to a hidden temporary file beside the target
(``temp_beside``), and ``publish`` puts it under the target's name in one step
when it is complete: ``os.link`` when the target must not be replaced (the
link fails if a file of that name exists, so even a file created meanwhile
by another program is safe), ``os.replace`` when the user asked to replace it
(``--force``, or a save dialog that asked). Any failure removes the temporary
file (``discard``) and leaves the target as it was.

HDF5 and a full disk: once a write inside libhdf5 has failed, the library's
state is no longer trustworthy (a flush or a close after a failed write can
crash the process: seen with ENOSPC on tmpfs). So HDF5 never writes into
space that is not already reserved: files written in one go are built in
memory and written with plain ``os.write`` (``write_new``), and the live run
file reserves the space of each block before HDF5 sees it (``SpaceReserve``:
``fallocate`` with FALLOC_FL_KEEP_SIZE, which allocates the blocks without
changing the file's size). A disk that cannot give the space is reported
before HDF5 writes anything, and what the file held until then stays intact.

Names: a target's name may be as long as its file system allows (``check_name``: NAME_MAX
bytes, usually 255); the hidden temporary name shortens the target's stem to fit, so a legal
name is never refused because of the temporary one. The temporary name carries its writer's
process id, the process's start time and a tag of this machine's boot and process namespace
(``.NAME.PID-START-TAG-RAND.part.EXT``): a writer killed with -9 leaves it behind, and the
next writer in that folder removes it (``remove_stale``) once /proc shows that no process
with that id and start time runs; a live writer's file, or one from another machine or
namespace (whose processes this one cannot see), is never touched.

``problem(exc, doing)`` turns an OSError into the one-line phrase every error
message uses; ``is_disk_failure(exc)`` says whether it was the machine's fault
(disk full, quota, I/O error: exit status 1) rather than the user's input
(a missing folder, a name that exists, permission: exit status 2).
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import uuid
from pathlib import Path


class RunFileError(Exception):
    """A file of this program (run, sweep, dataset-size sweep) that cannot be read or written.
    ``str()`` is one line: "file: problem", or "file (kind): problem" when ``kind`` ("sweep
    file", ...) is given because the problem does not say what kind of file it is.

    ``status``: the exit status it means on the command line: 2 for the user's input
    (a bad file or name, an existing target), 1 for the machine's failure (a full disk,
    an I/O error)."""

    def __init__(self, path: str | Path | None, problem: str, status: int = 2, kind: str | None = None):
        self.path = os.fspath(path) if path is not None else ""
        problem = str(problem).encode("utf-8", "backslashreplace").decode("utf-8")  # no lone surrogates
        self.problem = " ".join(problem.split())  # one line
        self.status = int(status)
        self.kind = kind
        super().__init__(f"{self.path} ({kind}): {self.problem}" if kind else f"{self.path}: {self.problem}")


#: errno values that mean "the disk failed us" rather than "the name is wrong".
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG})
_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02


# ----------------------------------------------------------------- messages
def _text(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _errno(exc: BaseException) -> int | None:
    """The errno of an OSError, also when libhdf5 only wrote it into the message (h5py's
    errno is not always the system's, so the message's "errno = N" comes first)."""
    low = _text(exc).lower()
    for code, needles in ((errno.ENOSPC, ("no space left", "errno = 28")),
                          (errno.EDQUOT, ("disk quota", "errno = 122")),
                          (errno.EIO, ("input/output error", "errno = 5,")),
                          (errno.EACCES, ("permission denied", "errno = 13")),
                          (errno.ENOENT, ("no such file", "errno = 2,")),
                          (errno.EEXIST, ("file exists", "errno = 17"))):
        if any(n in low for n in needles):
            return code
    return exc.errno if isinstance(exc, OSError) else None


def is_disk_failure(exc: BaseException) -> bool:
    """True when ``exc`` is the machine's fault (disk full, quota, I/O error), not the user's."""
    return _errno(exc) in DISK_ERRNOS


def problem(exc: BaseException, doing: str) -> str:
    """One line: 'cannot <doing>: <reason>' for an OSError (or any exception)."""
    code = _errno(exc)
    if code in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full" if code == errno.ENOSPC else "the disk quota is exceeded"
    elif code == errno.EIO:
        why = "input/output error (a failing disk or a network file system that went away)"
    elif code == errno.EFBIG:
        why = "the file is larger than this file system allows"
    elif code in (errno.EACCES, errno.EPERM) or isinstance(exc, PermissionError):
        why = "permission denied"
    elif code == errno.ENOENT or isinstance(exc, FileNotFoundError):
        why = "the folder does not exist"
    elif code == errno.EEXIST or isinstance(exc, FileExistsError):
        why = "the file already exists"
    elif code == errno.EISDIR or isinstance(exc, IsADirectoryError):
        why = "it is a folder"
    elif code == errno.EROFS:
        why = "the file system is read-only"
    elif code == errno.ENAMETOOLONG:
        why = (exc.strerror if isinstance(exc, OSError) and exc.strerror and "bytes" in exc.strerror
               else "the file name is too long for this file system")
    elif code == errno.ELOOP:
        why = "a symbolic link loop (the links point at each other and never reach a file)"
    else:
        why = (exc.strerror if isinstance(exc, OSError) and exc.strerror else _text(exc))
    return f"cannot {doing}: {why}"


# ------------------------------------------------------------------ targets
def check_target(path: str | Path, replace: bool = False) -> Path:
    """The target ``path`` if a new file may be published there; otherwise the OSError a
    writer would meet (FileExistsError unless ``replace``, IsADirectoryError,
    FileNotFoundError for a missing folder, PermissionError), raised before any work."""
    p = Path(os.fspath(path))
    folder = p.parent if str(p.parent) else Path(".")
    check_name(p)
    if p.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(p))
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(folder))
    if (p.exists() or p.is_symlink()) and not replace:
        raise FileExistsError(errno.EEXIST, "File exists", str(p))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "Permission denied", str(folder))
    return p


def name_max(folder: str | Path) -> int:
    """The longest file name (bytes) the file system of ``folder`` allows (255 when unknown)."""
    try:
        return int(os.pathconf(os.fspath(folder) or ".", "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def check_name(path: str | Path) -> None:
    """OSError(ENAMETOOLONG) when ``path``'s name is longer than its folder's file system allows,
    saying both lengths (before anything stats it: the stat would fail the same way)."""
    p = Path(os.fspath(path))
    folder = p.parent if str(p.parent) else Path(".")
    longest = name_max(folder if folder.is_dir() else ".")
    size = len(os.fsencode(p.name))
    if size > longest:
        raise OSError(errno.ENAMETOOLONG, f"the file name is too long ({size} bytes; this file system allows "
                                          f"{longest})", str(p))


def _fit_utf8(text: str, nbytes: int) -> str:
    """The longest start of ``text`` whose file-system encoding has at most ``nbytes`` bytes."""
    if nbytes <= 0:
        return ""
    raw = os.fsencode(text)
    if len(raw) <= nbytes:
        return text
    return os.fsdecode(raw[:nbytes]).encode("utf-8", "surrogateescape").decode("utf-8", "ignore")


def _start_time(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks since boot, /proc/PID/stat field 22); None
    when no such process runs (or /proc is not there)."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as fh:
            stat_line = fh.read()
        return int(stat_line[stat_line.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


_OWNER: dict = {}


def _owner() -> str | None:
    """'PID-START-TAG' of this process (TAG: this boot and process namespace, so a name from
    another machine or namespace is never judged here); None without /proc."""
    pid = os.getpid()
    if pid not in _OWNER:
        start, tag = _start_time(pid), None
        try:
            with open("/proc/sys/kernel/random/boot_id", "rb") as fh:
                boot = fh.read().strip()
            ns = os.stat("/proc/self/ns/pid").st_ino
            tag = hashlib.sha1(boot + b"/" + str(ns).encode()).hexdigest()[:6]
        except OSError:
            pass
        _OWNER[pid] = f"{pid}-{start}-{tag}" if start is not None and tag is not None else None
    return _OWNER[pid]


#: A temporary name of this module: .STEM.PID-START-TAG-RAND.part[.EXT]
_TEMP_NAME = re.compile(r"^\..*\.(?P<pid>\d+)-(?P<start>\d+)-(?P<tag>[0-9a-f]{6})-[0-9a-f]{4}\.part(\.[^.]*)?$")


def remove_stale(folder: str | Path) -> list:
    """Remove the temporary files of dead writers in ``folder`` (a writer killed with -9 leaves
    its own): a name of this module whose process, on this machine and in this namespace, no
    longer runs (no process with that id, or one started at another time). Returns the names
    removed; never raises (a folder that cannot be listed is left as it is)."""
    me = _owner()
    if me is None:
        return []
    tag = me.rsplit("-", 1)[1]
    gone = []
    try:
        entries = list(os.scandir(os.fspath(folder) or "."))
    except OSError:
        return []
    for e in entries:
        m = _TEMP_NAME.match(e.name) if e.name.startswith(".") and ".part" in e.name else None
        if m is None or m["tag"] != tag:
            continue
        if _start_time(int(m["pid"])) == int(m["start"]):
            continue  # its writer runs: never touched
        try:
            if e.is_file(follow_symlinks=False):
                os.unlink(e.path)
                gone.append(e.name)
        except OSError:
            pass
    return gone


def temp_beside(target: str | Path) -> Path:
    """A fresh hidden name in ``target``'s folder that keeps its extension (encoders and
    Qt pick the format by it): ``.NAME.PID-START-TAG-RAND.part.EXT``, NAME shortened so that
    the whole fits the file system's NAME_MAX. Nothing is created; the temporary files of
    dead writers in that folder are removed on the way (``remove_stale``)."""
    t = Path(os.fspath(target))
    folder = t.parent if str(t.parent) else Path(".")
    owner = _owner()
    token = f"{owner}-{secrets.token_hex(2)}" if owner is not None else uuid.uuid4().hex[:8]
    room = name_max(folder if folder.is_dir() else ".") - len(os.fsencode(f"..{token}.part{t.suffix}"))
    remove_stale(folder)
    if room < 0:  # an absurd extension: the name without it
        return t.with_name(f".{token}.part")
    return t.with_name(f".{_fit_utf8(t.stem, room)}.{token}.part{t.suffix}")


def discard(tmp: str | Path | None) -> None:
    """Remove a temporary file if it is there (never raises)."""
    if tmp is not None:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def publish(tmp: str | Path, target: str | Path, replace: bool = False) -> Path:
    """Put the finished ``tmp`` under ``target``'s name in one step (see the module doc).
    Without ``replace`` an existing ``target`` is never touched: FileExistsError.
    On any error ``tmp`` is removed and the target is as it was."""
    tmp, target = Path(tmp), Path(target)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # an ordinary file, whatever made the temporary one
        if replace:
            os.replace(tmp, target)
            return target
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise
        except OSError as exc:  # a file system without hard links: check, then rename
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            if target.exists() or target.is_symlink():
                raise FileExistsError(errno.EEXIST, "File exists", str(target)) from None
            os.rename(tmp, target)
            return target
        os.unlink(tmp)
        return target
    except BaseException:
        discard(tmp)
        raise


def write_new(path: str | Path, data: bytes | bytearray | memoryview) -> None:
    """Write ``data`` (bytes-like) to a new file ``path`` with plain os.write (a full disk is an
    ordinary OSError here); the partial file is removed on any error."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data).cast("B")
        pos = 0
        while pos < len(view):
            pos += os.write(fd, view[pos:pos + (1 << 26)])
        os.close(fd)
        fd = -1
    except BaseException:
        if fd >= 0:
            os.close(fd)
        discard(path)
        raise


# ------------------------------------------------------------------ space
def _libc_fallocate():
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.fallocate
        fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        fn.restype = ctypes.c_int
        return fn, ctypes
    except (OSError, AttributeError):
        return None, None


class SpaceReserve:
    """Disk blocks reserved for ``path`` ahead of its writes, without changing its size.

    ``ensure(end)`` makes every byte of ``[0, end)`` allocated (holes included) or raises
    OSError(ENOSPC) having written nothing; ``release()`` gives back what was reserved
    beyond the file's end. Where fallocate is missing (not Linux, or a file system that
    cannot preallocate) it checks the free space instead (best effort: another program
    may take the space between the check and the write).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY)
        self._fallocate, self._ctypes = _libc_fallocate()
        self._end = 0

    def size(self) -> int:
        """The file's size now (it may have been renamed since: this follows the file)."""
        return os.fstat(self._fd).st_size

    def ensure(self, end: int) -> None:
        end = int(end)
        if end <= self._end or self._fd < 0:
            return
        if self._fallocate is not None:
            if self._fallocate(self._fd, _FALLOC_FL_KEEP_SIZE, 0, end) == 0:
                self._end = end
                return
            err = self._ctypes.get_errno()
            if err not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise OSError(err, os.strerror(err), str(self.path))
            self._fallocate = None  # this file system cannot: fall back to the free-space check
        st = os.fstatvfs(self._fd)
        need = end - os.fstat(self._fd).st_size
        if need > st.f_bavail * st.f_frsize:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        self._end = end

    def release(self) -> None:
        """Give back the blocks reserved beyond the file's end, and close."""
        if self._fd < 0:
            return
        try:
            size = os.fstat(self._fd).st_size
            if self._fallocate is not None and self._end > size:
                # tmpfs frees them on a hole punch; ext4 and xfs on a truncate to the same size
                self._fallocate(self._fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, size, self._end - size)
                os.ftruncate(self._fd, size)
        except OSError:
            pass
        finally:
            os.close(self._fd)
            self._fd = -1


__all__ = [
    "DISK_ERRNOS",
    "SpaceReserve",
    "check_name",
    "check_target",
    "discard",
    "is_disk_failure",
    "name_max",
    "problem",
    "publish",
    "remove_stale",
    "temp_beside",
    "write_new",
]
