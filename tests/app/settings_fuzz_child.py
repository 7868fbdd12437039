"""Child process of tests/app/test_settings_fuzz.py: starts the real window on each of a list
of settings files, one after another, as app.gui.run_gui does (start guard, restore, show).

usage: python -m tests.app.settings_fuzz_child CASES.json FIRST
CASES.json: a list of settings file contents (text; "ABORT": die right after the start
guard's marker is written, before any window, as a crash in Qt's restoreState does). For each case i from FIRST on it prints
``START i``, writes the file where the window reads its settings ($XDG_CONFIG_HOME,
$LGE_SETTINGS_ORG), starts and shows the window, checks what it shows, closes it, and prints
``OK i`` or ``BAD i: why`` (``RECOVERED`` is added when the start guard set the file aside).
A case that kills the process (Qt's restoreState trusting a damaged state) leaves ``START i``
as the last line: the parent counts it and goes on from i + 1.
"""
from __future__ import annotations

import json
import logging
import math
import os
import sys
from pathlib import Path


def check(w) -> str:
    """'' when the window shows sane state, else what is wrong."""
    from app.gui.main_window import LAYOUTS
    from views.settings import ENLARGE_MAX, ENLARGE_MIN

    e = w.plane3d.settings.enlarge
    if not all(math.isfinite(v) and ENLARGE_MIN <= v <= ENLARGE_MAX for v in e):
        return f"enlarge {e}"
    if not w.form.is_valid():
        return "the form is invalid"
    if w.layout_name not in LAYOUTS:
        return f"layout {w.layout_name!r}"
    if not w.isVisible():
        return "not shown"
    d = w.docks["experiment"]
    if d.isVisible() and not d.isFloating() and d.width() < d.minimumWidth():
        return f"experiment dock crushed to {d.width()} px"
    return ""


def main() -> int:
    cases = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    first = int(sys.argv[2])
    import pyqtgraph as pg
    from PyQt6.QtWidgets import QApplication

    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    app = QApplication([])
    from app.gui import collect_garbage_in_gui_thread
    from app.gui.main_window import MainWindow
    from app.gui.settings import begin_start, end_start, settings_path

    collect_garbage_in_gui_thread()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    for i in range(first, len(cases)):
        print(f"START {i}", flush=True)
        if cases[i] == "ABORT":  # a start that dies before its window shows, as a crash in Qt would
            begin_start()
            os.abort()
        if cases[i] is not None:  # None: start on what the previous case left (the recovery check)
            path.write_text(cases[i], encoding="utf-8")
        said = begin_start()
        try:
            w = MainWindow(autostart=False, restore=True)
            w.show()
            for _ in range(5):
                app.processEvents()
            end_start()
            why = check(w)
            w.close()
            app.processEvents()
        except Exception as exc:  # noqa: BLE001 - the case's verdict
            why = f"{type(exc).__name__}: {exc}"[:300]
        tag = " RECOVERED" if said else ""
        print(f"OK {i}{tag}" if not why else f"BAD {i}{tag}: {why}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
