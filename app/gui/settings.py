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
import json
import logging
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Union

ENV_ORG = "LGE_SETTINGS_ORG"
DEFAULT_ORG = "latent-geometry-explorer"
FILE_NAME = "explorer.json"
MAX_BYTES = 1 << 20  # window geometry, dock state, a few paths: a few kB
#: key -> type of its value: "str", "str_list", "int", "float", "bool", "bytes", "objects" (name -> JSON object)
SCHEMA = {"geometry": "bytes", "state": "bytes", "last_experiment": "str", "recent": "str_list", "layout": "str",
          "views": "objects"}

log = logging.getLogger(__name__)


def settings_path() -> Path:
    import platformdirs

    org = os.environ.get(ENV_ORG) or DEFAULT_ORG
    return Path(platformdirs.user_config_dir(org, appauthor=False)) / FILE_NAME


def _decode(kind: str, raw: Any):
    """The value stored as ``raw`` (JSON) for a key of type ``kind``; ValueError if it is not one."""
    if kind == "str" and isinstance(raw, str):
        return raw
    if kind == "str_list" and isinstance(raw, list) and all(isinstance(v, str) for v in raw):
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


def _read_text(path: Path) -> Optional[str]:
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

    def __init__(self, path: Optional[Union[str, os.PathLike[str]]] = None):
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

    def setValue(self, key: str, value: Any) -> None:  # noqa: N802 (QSettings' name); value: of the key's SCHEMA kind
        kind = SCHEMA.get(key)
        if kind is None:
            raise KeyError(f"unknown setting {key!r} (known: {', '.join(SCHEMA)})")
        _encode(kind, value)
        self._values[key] = bytes(value) if kind == "bytes" else (list(value) if kind == "str_list" else value)
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


def save_views(st: Settings, views: Dict[str, Any]) -> None:
    """Store the views' settings values (view key -> dataclass) under ``views``."""
    from app.export.view_settings import to_json

    st.setValue("views", {k: to_json(v) for k, v in views.items()})


def load_views(st: Settings) -> Dict[str, Any]:
    """The stored views' settings as their dataclasses (view key -> value); what cannot be read
    is left out with a warning each (app.export.view_settings.from_json)."""
    from app.export.view_settings import SETTINGS_CLASSES, from_json, settings_class

    out = {}
    for key, raw in (st.value("views") or {}).items():
        if key not in SETTINGS_CLASSES:
            log.warning("settings: dropped the settings of unknown view %r from %s", key, st.path)
            continue
        out[key] = from_json(settings_class(key), raw, lambda text: log.warning("settings: %s", text),
                             where=f"views.{key}")
    return out


__all__ = ["Settings", "settings_path", "SCHEMA", "save_views", "load_views"]
