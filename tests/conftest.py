"""Suite-wide guards: no test may leave a thread running or a window open."""
import gc
import os
import sys
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("LGE_DATA_DIR", os.path.join("/tmp", f"lge-test-{os.getpid()}"))
# Tests must not read or write the user's real settings.
os.environ.setdefault("LGE_SETTINGS_ORG", f"lge-tests-{os.getpid()}")
# The Qt platform the suite was started with (an X display from scripts/xdisplay.sh): a test module
# that sets QT_QPA_PLATFORM when it is imported would switch every later test, and every subprocess
# they start, to the offscreen platform, which cannot host the GL views.
_PLATFORM_AT_START = os.environ.get("QT_QPA_PLATFORM")


def pytest_collection_finish(session):
    now = os.environ.get("QT_QPA_PLATFORM")
    if now != _PLATFORM_AT_START:
        raise pytest.UsageError(f"a test module set QT_QPA_PLATFORM={now!r} while being collected "
                                f"(it was {_PLATFORM_AT_START!r}): set it per test (monkeypatch.setenv) or in a "
                                f"subprocess's env instead")


# As in the application (app.gui.collect_garbage_in_gui_thread): no automatic cyclic garbage
# collection, which may start in any thread (a training or analysis thread) and destroy Qt graphics
# items the GUI thread is painting; the fixture below collects in the main thread between tests.
gc.disable()
_GC_THRESHOLD = gc.get_threshold()


def _collect_in_this_thread():
    """What the automatic collector would have done by now, generation by generation."""
    l0, l1, l2 = gc.get_count()
    if l0 > _GC_THRESHOLD[0]:
        gc.collect(0)
        if l1 > _GC_THRESHOLD[1]:
            gc.collect(1)
            if l2 > _GC_THRESHOLD[2]:
                gc.collect(2)


@pytest.fixture(autouse=True)
def no_leaked_threads_or_windows():
    before = set(threading.enumerate())
    yield
    _collect_in_this_thread()
    # threads: give finishing workers a bounded moment, then fail
    deadline = time.monotonic() + 3.0
    leaked = []
    while time.monotonic() < deadline:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()
                  and not t.name.startswith(("pydevd", "QDBus"))]
        if not leaked:
            break
        time.sleep(0.02)
    problems = []
    if leaked:
        problems.append(f"threads left running: {[t.name for t in leaked]}")
    if "PyQt6.QtWidgets" in sys.modules:
        from PyQt6.QtWidgets import QApplication

        app = QApplication.instance()
        if app is not None:
            app.processEvents()
            open_windows = [w for w in app.topLevelWidgets() if w.isVisible()]
            for w in open_windows:
                w.close()
            if open_windows:
                problems.append(f"windows left open: {[type(w).__name__ for w in open_windows]}")
    if problems:
        pytest.fail("; ".join(problems))
