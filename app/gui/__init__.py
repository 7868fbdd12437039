"""Start the explorer window."""
from __future__ import annotations

import os
import sys

_COLLECTORS: list = []  # the one collector of this process (kept alive with the QApplication)


def collect_garbage_in_gui_thread() -> None:
    """Turn Python's automatic cyclic garbage collection off and collect on a timer of the GUI
    thread instead (pyqtgraph's GarbageCollector). Training, analysis and encoding run in other
    threads; an automatic collection started there can destroy a cycle holding Qt graphics items
    while the GUI thread paints them: "wrapped C/C++ object ... has been deleted", then a
    segmentation fault. Call it once the QApplication exists; a second call does nothing."""
    if _COLLECTORS:
        return
    from pyqtgraph.util.garbage_collector import GarbageCollector

    _COLLECTORS.append(GarbageCollector(interval=0.5))


def has_display() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                    or os.environ.get("QT_QPA_PLATFORM"))
    return True


def run_gui(path: str | None = None) -> int:
    if not has_display():
        print("main.py: no display (DISPLAY is not set): run the explorer on a desktop, under "
              "xvfb-run, or use the headless commands (main.py train --help)", file=sys.stderr)
        return 2
    if path is not None:  # a path that is no readable regular file: one line, before any window opens
        from model.storage.runfile import RunFileError, check_readable

        try:
            check_readable(path)
        except RunFileError as exc:
            print(f"main.py: {exc}", file=sys.stderr)
            return 2
    import pyqtgraph as pg
    from PyQt6.QtCore import QEvent
    from PyQt6.QtWidgets import QApplication

    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Latent geometry explorer")
    collect_garbage_in_gui_thread()
    from app.gui.main_window import MainWindow
    from app.gui.settings import begin_start, end_start

    crashed = begin_start()  # a start that crashed before its window showed: its settings are set aside
    win = MainWindow(autostart=path is None)
    win.show()
    if crashed:
        win.status.setText(crashed)
    from PyQt6.QtCore import QTimer

    QTimer.singleShot(1500, end_start)  # shown, laid out and painted: this start did not crash
    if path is not None and not win.open_run(path):
        # the dialog explains; the window stays usable
        pass
    quit_ms = os.environ.get("LGE_QUIT_AFTER_MS")  # smoke tests: close by itself
    if quit_ms:
        from PyQt6.QtCore import QTimer

        def report_and_close():
            s = win.session
            snap = s.snapshot()
            print(f"state={s.state} step={snap.step if snap else None} n={s.config.n if s.config else None}",
                  flush=True)
            win.close()

        QTimer.singleShot(int(quit_ms), report_and_close)
    code = app.exec()
    # tear the window down here, in order, while the application and its GL contexts exist: left to
    # the interpreter's exit, its widgets (the 3D view's GL context among them) were destroyed after
    # them, and the process crashed on its way out in about one run in ten on a busy machine
    if win.isVisible():  # exec returns once the last window closed: its closeEvent has run, once
        win.close()
    win.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    app.processEvents()
    return code
