"""The house rules (docs/ARCHITECTURE.md) that import-linter cannot see: the static rules (imports run
app -> widgets, render3d -> model; model/ never imports Qt; no pickle module; no cycles inside a package)
are contracts in pyproject.toml, checked by `lint-imports` in `make test`. Here: what is loaded at run
time, and pickle reached through numpy."""
import ast
from pathlib import Path

import pytest

from tests.fresh_python import loaded_after

ROOT = Path(__file__).resolve().parents[1]
QT = ("PyQt6", "PySide6", "PyQt5", "pyqtgraph", "OpenGL", "superqt")


def _imports(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level and node.module is None:
                continue
            mod = node.module or ""
            if node.level:
                mod = path.parent.relative_to(ROOT).parts[0] + "." + mod
            yield mod, node.lineno


@pytest.mark.slow
def test_importing_the_model_loads_no_qt():
    """One module of each subpackage at least (import-linter checks model/'s imports; this, what loads)."""
    assert loaded_after("import model.training.engine, model.analysis.analysis, model.analysis.geometry, "
                        "model.storage.runfile, model.history, model.analysis.explorer, "
                        "model.analysis.analysis_provider, model.experiments.sweep, model.experiments.datafiles",
                        QT) == []


def test_the_view_registry_loads_no_qt():
    """The command line builds --view and --set from views/ before any display exists."""
    assert loaded_after("import views.registry, views.settings; views.registry.needs_gl(('plane3d',))", QT) == []


@pytest.mark.slow
def test_no_pickle_anywhere():
    bad = []
    for p in ROOT.rglob("*.py"):
        if ".venv" in p.parts:
            continue
        text = p.read_text()
        for mod, ln in _imports(p):
            if mod.split(".")[0] in ("pickle", "cPickle", "dill", "cloudpickle", "joblib"):
                bad.append(f"{p.relative_to(ROOT)}:{ln}")
        if "allow_pickle=True" in text.replace(" ", "") and "tests" not in p.relative_to(ROOT).parts:
            bad.append(f"{p.relative_to(ROOT)}: allow_pickle=True")
    assert not bad, bad


@pytest.mark.slow
def test_no_module_imports_another_modules_private_names():
    """Modules share code through public names only: `from model.x import _helper` couples to what
    x keeps to itself (import-linter sees modules, not names). Aliasing a public name to a private
    one (`import discard as _discard`) is fine."""
    import ast

    ours = ("app", "widgets", "render3d", "views", "model", "resources")
    bad = []
    for top in ours:
        for src in sorted((ROOT / top).rglob("*.py")):
            for node in ast.walk(ast.parse(src.read_text())):
                if not isinstance(node, ast.ImportFrom):
                    continue
                relative, module = node.level > 0, node.module or ""
                if relative or module.split(".")[0] in ours:
                    bad += [f"{src.relative_to(ROOT)}:{node.lineno} imports {module}.{a.name}"
                            for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert bad == []
