"""The window's settings: one small JSON file of plain values, read and written here.

Qt's QSettings is not used for them: reading any key of its INI file parses the
whole section, and PyQt turns an ``@Variant(... PyQt_PyObject ...)`` entry into a
Python object by unpickling it, which runs whatever code the file names. Here the
file is JSON, each known key has one plain type (text, a list of texts, a whole
number, a finite number, true/false, or bytes stored as base64 text that this
module decodes), and anything else (an unknown key, a value of the wrong type, a
file that is not a JSON object) is dropped with a one-line warning and the file
is rewritten without it. Only a regular file is read (a FIFO would block the
window's start), and at most MAX_BYTES of it.

``views`` holds each view's settings value (widgets.zone_map.ZoneSettings, ...,
render3d.scene.PlaneSettings) as a JSON object per view: written with ``save_views``,
read back through the same dataclasses with ``load_views`` (a view or key it does not
know, or a value of the wrong type, is left out with a one-line warning; the defaults
stand for it).

The file lives in the user's config folder: ``<config>/<org>/explorer.json``,
``org`` = $LGE_SETTINGS_ORG or "latent-geometry-explorer" (tests set their own).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

ENV_ORG = "LGE_SETTINGS_ORG"
DEFAULT_ORG = "latent-geometry-explorer"
FILE_NAME = "explorer.json"
MAX_BYTES = 1 << 20  # window geometry, dock state, a few paths: a few kB
#: key -> type of its value: "str", "str_list", "int", "float", "bool", "bytes", "objects" (name -> JSON object),
#: "qt_state" (bytes Qt wrote, stored with a checksum: see _decode_qt_state)
SCHEMA = {"geometry": "qt_state", "state": "qt_state", "last_experiment": "str", "recent": "str_list",
          "layout": "str", "views": "objects"}
#: Bounds of a value (a longer text, list or blob is dropped with a warning): an experiment's JSON is
#: under 2 kB, a path under 4 kB, the recent list 8 paths, a window state a few kB.
MAX_TEXT = 1 << 14
MAX_LIST = 64
MAX_BLOB = 1 << 16
#: A view's settings value (views.<key>) holds flags, numbers and short tuples: no deeper than a list
#: inside the view's object, numbers within these bounds, short texts (app.export.view_settings
#: checks each field's own type and range after this).
VIEW_VALUE_MAX_ABS = 1e12
VIEW_TEXT_MAX = 256

log = logging.getLogger(__name__)


def settings_path() -> Path:
    import platformdirs

    org = os.environ.get(ENV_ORG) or DEFAULT_ORG
    return Path(platformdirs.user_config_dir(org, appauthor=False)) / FILE_NAME


def qt_version() -> str:
    from PyQt6.QtCore import QT_VERSION_STR

    return str(QT_VERSION_STR)


def state_digest(data: bytes, version: str) -> str:
    """The checksum a window state is stored with: of the bytes and the Qt version that wrote them."""
    return hashlib.sha256(version.encode("utf-8") + b"\0" + bytes(data)).hexdigest()


def _decode_qt_state(raw: Any) -> bytes:
    """A window state or geometry as Qt wrote it. Qt's restoreState trusts its input (a blob with
    7 bytes changed made it crash on every start), so only bytes this program stored, unchanged
    (their SHA-256 with the Qt version matches) and written by this Qt version, are handed back."""
    if not (isinstance(raw, dict) and set(raw) == {"data", "qt", "sha256"}
            and all(isinstance(v, str) for v in raw.values())):
        raise ValueError("is not a window state this program wrote ({data, qt, sha256})")
    if len(raw["data"]) > MAX_BLOB * 4 // 3 + 4:
        raise ValueError(f"is larger than {MAX_BLOB} bytes")
    try:
        data = base64.b64decode(raw["data"].encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("is not base64 text") from None
    if raw["qt"] != qt_version():
        raise ValueError(f"was written by Qt {raw['qt'][:20]!r}, not this Qt {qt_version()}")
    if not hmac.compare_digest(raw["sha256"], state_digest(data, raw["qt"])):
        raise ValueError("does not match its checksum (the file was changed or damaged)")
    return data


def _bounded_view_value(v: Any, depth: int = 0) -> bool:
    """Whether ``v`` is a plain, small JSON value a view setting can hold (see VIEW_VALUE_MAX_ABS)."""
    if v is None or isinstance(v, bool):
        return True
    if isinstance(v, int):
        return abs(v) <= VIEW_VALUE_MAX_ABS
    if isinstance(v, float):
        return math.isfinite(v) and abs(v) <= VIEW_VALUE_MAX_ABS
    if isinstance(v, str):
        return len(v) <= VIEW_TEXT_MAX
    if isinstance(v, list):
        return depth == 0 and len(v) <= 16 and all(_bounded_view_value(x, 1) for x in v)
    return False


def _decode(kind: str, raw: Any):
    """The value stored as ``raw`` (JSON) for a key of type ``kind``; ValueError if it is not one."""
    if kind == "qt_state":
        return _decode_qt_state(raw)
    if kind in ("str", "str_list") and (len(raw) if isinstance(raw, (str, list)) else 0) > \
            (MAX_TEXT if kind == "str" else MAX_LIST):
        raise ValueError(f"is longer than {MAX_TEXT if kind == 'str' else MAX_LIST}")
    if kind == "str" and isinstance(raw, str):
        return raw
    if kind == "str_list" and isinstance(raw, list) and all(isinstance(v, str) and len(v) <= MAX_TEXT for v in raw):
        return list(raw)
    if kind == "bool" and isinstance(raw, bool):
        return raw
    if kind == "int" and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if kind == "float" and isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw):
        return float(raw)
    if kind == "objects" and isinstance(raw, dict) and all(isinstance(v, dict) for v in raw.values()):
        return {str(k): dict(v) for k, v in raw.items()}
    if kind == "bytes" and isinstance(raw, str):
        try:
            return base64.b64decode(raw.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise ValueError("is not base64 text") from None
    what = "JSON object of JSON objects" if kind == "objects" else kind.replace("_", " ")
    raise ValueError(f"is a JSON {type(raw).__name__}, not a {what}")


def _encode(kind: str, value: Any):
    """``value`` as JSON for a key of type ``kind``; TypeError for anything else (a caller's bug)."""
    if kind == "qt_state" and isinstance(value, (bytes, bytearray, memoryview)):
        data, version = bytes(value), qt_version()
        return {"data": base64.b64encode(data).decode("ascii"), "qt": version, "sha256": state_digest(data, version)}
    if kind == "bytes":
        if isinstance(value, (bytes, bytearray, memoryview)):
            return base64.b64encode(bytes(value)).decode("ascii")
    else:
        stored = list(value) if kind == "str_list" and isinstance(value, (list, tuple)) else value
        try:
            _decode(kind, stored)
            return stored
        except ValueError:
            pass
    raise TypeError(f"setting of type {kind} cannot hold {type(value).__name__}")


def _read_text(path: Path) -> str | None:
    """The file's text; None when there is none. Only a regular file, read without blocking."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("settings: cannot read %s (%s); using the defaults", path, exc.strerror or exc)
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            log.warning("settings: %s is not a regular file; using the defaults", path)
            return None
        if st.st_size > MAX_BYTES:
            log.warning("settings: %s is larger than %d bytes; using the defaults", path, MAX_BYTES)
            return None
        data = os.read(fd, MAX_BYTES + 1)
    except OSError as exc:
        log.warning("settings: cannot read %s (%s); using the defaults", path, exc.strerror or exc)
        return None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        log.warning("settings: %s is not UTF-8 text; it will be rewritten", path)
        return ""


class Settings:
    """The settings file as a dict of plain values: ``value(key, default)``, ``setValue(key, v)``
    (names as QSettings', which this replaces). Writes go to disk at once, atomically."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else settings_path()
        self._values: dict = {}
        text = _read_text(self.path)
        if text is None:
            return
        dirty = False
        try:
            raw = json.loads(text) if text.strip() else {}
        except (ValueError, RecursionError):
            log.warning("settings: %s is not valid JSON; it will be rewritten", self.path)
            raw, dirty = {}, True
        if not isinstance(raw, dict):
            log.warning("settings: %s is not a JSON object; it will be rewritten", self.path)
            raw, dirty = {}, True
        for key, v in raw.items():
            kind = SCHEMA.get(key)
            if kind is None:
                log.warning("settings: dropped unknown entry %r from %s", key, self.path)
                dirty = True
                continue
            try:
                self._values[key] = _decode(kind, v)
            except ValueError as exc:
                log.warning("settings: dropped entry %r from %s: it %s", key, self.path, exc)
                dirty = True
        if dirty:
            self._write()

    def value(self, key: str, default: Any = None) -> Any:  # a value of the key's SCHEMA kind, or default
        v = self._values.get(key, default)
        return list(v) if isinstance(v, list) else v

    def setValue(self, key: str, value: Any) -> None:  # QSettings' name; value: of the key's SCHEMA kind
        kind = SCHEMA.get(key)
        if kind is None:
            raise KeyError(f"unknown setting {key!r} (known: {', '.join(SCHEMA)})")
        _encode(kind, value)
        self._values[key] = bytes(value) if kind in ("bytes", "qt_state") else (
            list(value) if kind == "str_list" else value)
        self._write()

    def remove(self, key: str) -> None:
        if self._values.pop(key, None) is not None:
            self._write()

    def _write(self) -> None:
        doc = {k: _encode(SCHEMA[k], v) for k, v in self._values.items()}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(doc, fh, indent=1, sort_keys=True)
                os.replace(tmp, self.path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError as exc:  # settings are a convenience: never stop the window over them
            log.warning("settings: cannot write %s (%s)", self.path, exc.strerror or exc)


def save_views(st: Settings, views: dict[str, Any]) -> None:
    """Store the views' settings values (view key -> dataclass) under ``views``."""
    from app.export.view_settings import to_json

    st.setValue("views", {k: to_json(v) for k, v in views.items()})


def load_views(st: Settings) -> dict[str, Any]:
    """The stored views' settings as their dataclasses (view key -> value); what cannot be read
    is left out with a warning each (app.export.view_settings.from_json)."""
    from app.export.view_settings import SETTINGS_CLASSES, from_json, settings_class

    out = {}
    for key, raw in (st.value("views") or {}).items():
        if key not in SETTINGS_CLASSES:
            log.warning("settings: dropped the settings of unknown view %r from %s", key, st.path)
            continue
        plain = {}
        for field, v in raw.items():
            if _bounded_view_value(v):
                plain[field] = v
            else:
                log.warning("settings: dropped entry %r of views.%s from %s: not a plain value within bounds "
                            "(a flag, a number within ±%g, a short text or a short list of them)",
                            field, key, st.path, VIEW_VALUE_MAX_ABS)
        try:
            out[key] = from_json(settings_class(key), plain, lambda text: log.warning("settings: %s", text),
                                 where=f"views.{key}")
        except Exception as exc:  # noqa: BLE001 - settings never stop the window: the defaults stand
            log.warning("settings: dropped the settings of view %r from %s (%s)", key, st.path, exc)
    return out


# ------------------------------------------------------------------ the start guard
MARKER_NAME = "starting.pid"
CRASHED_SUFFIX = ".crashed"


def _marker_path(st_path: Path | None = None) -> Path:
    return (st_path or settings_path()).with_name(MARKER_NAME)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (EPERM): alive
        return True
    return True


def begin_start(st_path: Path | None = None) -> str | None:
    """Call before the window restores its settings. If the previous start never reached a shown
    window (its marker is still there and its process is gone: it crashed, e.g. in Qt's
    restoreState), the settings file is set aside as ``explorer.json.crashed`` and a one-line
    explanation is returned (the window starts from the defaults); None otherwise. Then writes
    this start's marker (end_start removes it)."""
    path = st_path or settings_path()
    marker = _marker_path(path)
    said = None
    try:
        old = marker.read_text(encoding="ascii", errors="replace").strip()[:32]
    except OSError:
        old = None
    if old is not None:
        pid = int(old) if old.isdigit() else -1
        if pid != os.getpid() and not (pid > 0 and _alive(pid)):
            aside = path.with_name(path.name + CRASHED_SUFFIX)
            try:
                if path.exists():
                    os.replace(path, aside)
                said = (f"The previous start ended before its window was shown: its settings were set aside as "
                        f"{aside} and the defaults are used.")
            except OSError as exc:
                said = f"The previous start ended before its window was shown; its settings are ignored ({exc})."
            log.warning("settings: %s", said)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(os.getpid()), encoding="ascii")
    except OSError as exc:
        log.warning("settings: cannot write the start marker %s (%s)", marker, exc.strerror or exc)
    return said


def end_start(st_path: Path | None = None) -> None:
    """The window is shown: this start did not crash (removes begin_start's marker if it is ours)."""
    marker = _marker_path(st_path)
    try:
        if marker.read_text(encoding="ascii", errors="replace").strip() == str(os.getpid()):
            marker.unlink()
    except OSError:
        pass


__all__ = [
    "SCHEMA",
    "Settings",
    "begin_start",
    "end_start",
    "load_views",
    "qt_version",
    "save_views",
    "settings_path",
    "state_digest",
]
