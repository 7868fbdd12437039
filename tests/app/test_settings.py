"""The window's settings hold plain values only: a settings file can never run code.

Qt's INI settings file can carry a pickled Python object (``@Variant(... PyQt_PyObject ...)``);
reading any key through QSettings unpickles it. These tests write such a file, whose payload
would create a marker file, where the window used to read its settings, and start the real
window: the marker must never appear.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MAKE_PICKLED_INI = r"""
import sys
from PyQt6.QtCore import QCoreApplication, QSettings

class Payload:  # unpickling it calls open(marker, "w"): the marker proves code ran
    def __reduce__(self):
        return (open, (sys.argv[2], "w"))

app = QCoreApplication([])
st = QSettings(sys.argv[1], QSettings.Format.IniFormat)
for key in ("geometry", "state", "recent", "last_experiment", "payload"):
    st.setValue(key, Payload())
st.sync()
"""


def write_pickled_ini(path: Path, marker: Path) -> str:
    """A QSettings INI file whose every entry is a pickle that creates ``marker`` when loaded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-c", MAKE_PICKLED_INI, str(path), str(marker)], check=True, timeout=120,
                   env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    text = path.read_text(errors="replace")
    assert "PyQt_PyObject" in text and not marker.exists()
    return text


@pytest.mark.slow
def test_a_pickled_settings_file_never_runs_when_the_window_starts(tmp_path):
    """The real program: `main.py` opens the window (restoring its settings), trains a moment, closes."""
    config = tmp_path / "config"
    marker = tmp_path / "MARKER"
    org = "lge-pickle-test"
    write_pickled_ini(config / org / "explorer.conf", marker)  # where QSettings(org, "explorer") reads
    env = dict(os.environ, XDG_CONFIG_HOME=str(config), LGE_SETTINGS_ORG=org, LGE_QUIT_AFTER_MS="1500",
               LGE_DATA_DIR=str(tmp_path / "data"))
    if os.environ.get("DISPLAY"):
        env.pop("QT_QPA_PLATFORM", None)
    r = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "state=" in r.stdout  # the window did start and close
    assert not marker.exists(), "the settings file ran code"
    saved = json.loads((config / org / "explorer.json").read_text())  # the settings it did keep: plain JSON
    assert all(isinstance(saved[k], dict) and all(isinstance(v, str) for v in saved[k].values())
               for k in ("geometry", "state"))


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("LGE_SETTINGS_ORG", "lge-settings-test")
    return tmp_path / "config" / "lge-settings-test"


def test_values_round_trip_as_plain_types(config_home):
    from app.gui.settings import Settings, settings_path

    assert settings_path() == config_home / "explorer.json"
    st = Settings()
    st.setValue("geometry", b"\x00\x01\xffbytes")
    st.setValue("recent", ["/a/run.h5", "/b/ü.h5"])
    st.setValue("last_experiment", '{"n": 7}')
    back = Settings()
    assert back.value("geometry") == b"\x00\x01\xffbytes"
    assert back.value("recent") == ["/a/run.h5", "/b/ü.h5"]
    assert back.value("last_experiment") == '{"n": 7}'
    assert back.value("state") is None and back.value("state", b"") == b""
    with pytest.raises(TypeError):
        st.setValue("recent", [object()])
    with pytest.raises(KeyError):
        st.setValue("anything", "x")


def test_bad_entries_are_dropped_with_a_warning_and_the_file_is_rewritten(config_home, caplog):
    from app.gui.settings import Settings

    config_home.mkdir(parents=True)
    path = config_home / "explorer.json"
    path.write_text(json.dumps({
        "geometry": "@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\xePyQt_PyObject)",  # not base64
        "state": {"py/reduce": ["os.system", "touch x"]},  # not text at all
        "recent": ["/ok.h5", 3],  # a list, but not of texts
        "last_experiment": '{"n": 9}',  # the one good entry
        "payload": "anything",  # unknown
    }))
    with caplog.at_level(logging.WARNING, logger="app.gui.settings"):
        st = Settings()
    assert st.value("last_experiment") == '{"n": 9}'
    assert st.value("geometry") is None and st.value("state") is None and st.value("recent", []) == []
    dropped = {r.args[0] for r in caplog.records if "dropped" in r.getMessage()}
    assert dropped == {"geometry", "state", "recent", "payload"}
    assert all("\n" not in r.getMessage() for r in caplog.records)
    assert json.loads(path.read_text()) == {"last_experiment": '{"n": 9}'}  # rewritten without them


@pytest.mark.parametrize("content", [b"not json at all", b"[1, 2, 3]", b"\xff\xfe not UTF-8", b"[" * 100_000,
                                     b'{"recent": "/a.h5"'])
def test_a_broken_settings_file_gives_the_defaults(config_home, caplog, content):
    from app.gui.settings import Settings

    config_home.mkdir(parents=True)
    (config_home / "explorer.json").write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="app.gui.settings"):
        st = Settings()
    assert st.value("recent", []) == [] and caplog.records
    st.setValue("recent", ["/x.h5"])
    assert Settings().value("recent") == ["/x.h5"]


def test_a_fifo_as_the_settings_file_does_not_block(config_home, caplog):
    from app.gui.settings import Settings

    config_home.mkdir(parents=True)
    os.mkfifo(config_home / "explorer.json")
    with caplog.at_level(logging.WARNING, logger="app.gui.settings"):
        st = Settings()  # a blocking open would wait here for a writer forever
    assert st.value("recent", []) == []
    assert any("not a regular file" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_the_window_restores_from_the_json_settings(qtbot, config_home):
    from app.gui.main_window import MainWindow, settings
    from model.config import TrainConfig

    write_pickled_ini(config_home / "explorer.conf", config_home / "MARKER")
    settings().setValue("last_experiment", TrainConfig(n=9, steps=10).to_json())
    w = MainWindow(autostart=False, restore=True)
    qtbot.addWidget(w)
    assert w.form.config().n == 9
    w.close()
    assert not (config_home / "MARKER").exists()
    assert isinstance(settings().value("geometry"), bytes)


def test_no_qsettings_in_the_program():
    for folder in ("app", "widgets", "render3d", "model"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            code = [ln for ln in text.splitlines() if "QSettings" in ln and not ln.lstrip().startswith("#")]
            code = [ln for ln in code if "QSettings(" in ln or "import" in ln]
            assert not code, f"{path.relative_to(ROOT)} uses QSettings: {code}"
