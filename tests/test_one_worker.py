"""One background-work mechanism: model/background.py's Worker is the only place in the program that
starts a thread (docs/ARCHITECTURE.md, "Threads"). Every other module of every package is read as
source (its syntax tree, so a comment or a docstring that names a thread class does not count) for a
thread class or thread pool, a Qt one included; and at run time a Worker's thread is named as the
module says."""
from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest

from model.background import THREAD_PREFIX, Worker

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lge", "app", "widgets", "render3d", "views", "model", "resources")
CORE = ROOT / "model" / "background.py"
# what starts a thread outside the core: the standard library's, Qt's and the pools
BANNED = {"Thread", "Timer", "ThreadPoolExecutor", "ProcessPoolExecutor", "start_new_thread", "QThread",
          "QThreadPool", "QRunnable", "QtConcurrent"}


def thread_starters(path: Path) -> list[str]:
    """``file:line name`` for every use of a BANNED name in ``path`` (attribute, name or import)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    hits = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            if node.module in ("concurrent.futures", "_thread", "multiprocessing.pool"):
                names.append(node.module)
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name in ("_thread", "concurrent.futures")]
        for name in names:
            if name in BANNED or name in ("_thread", "concurrent.futures", "multiprocessing.pool"):
                hits.append(f"{where}:{node.lineno} {name}")
    return hits


def sources() -> list[Path]:
    files = [ROOT / "main.py"]
    for pkg in PACKAGES:
        files += sorted((ROOT / pkg).rglob("*.py"))
    return [f for f in files if f.is_file() and f != CORE]


@pytest.mark.slow
def test_no_module_but_the_core_starts_a_thread():
    files = sources()
    assert len(files) > 50  # the packages were found
    hits = [h for f in files for h in thread_starters(f)]
    assert hits == [], f"threads started outside model/background.py: {hits}"


def test_the_scan_finds_what_it_forbids(tmp_path):
    """The check above can fail: the core itself, and each way of starting a thread, are found."""
    assert any(h.endswith(" Thread") for h in thread_starters(CORE))
    cases = ["import threading\nthreading.Thread(target=print).start()\n",
             "from threading import Thread\n",
             "from concurrent.futures import ThreadPoolExecutor\n",
             "from PyQt6.QtCore import QThread\n",
             "import _thread\n"]
    for k, text in enumerate(cases):
        p = tmp_path / f"case_{k}.py"
        p.write_text(text)
        assert thread_starters(p), text


def test_a_worker_thread_is_named_as_the_core_names_it():
    seen: list[str] = []
    w = Worker("named")
    w.submit(lambda: seen.append(threading.current_thread().name))
    assert w.close(10.0, drain=True)
    assert seen == [THREAD_PREFIX + "named"]
