"""Only the analysis provider computes: the window's modules (app/gui), the views (widgets, render3d,
views) never call model.analysis.analysis.analyze themselves; they read the Frame's analysis or ask
the session's AnalysisProvider (model/analysis/analysis_provider.py), which caches it and computes
large ones off the GUI thread. Read as source (the syntax tree: a docstring naming analyze does not
count); the command line and the notebook API, which have no window, may call it."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIEW_SIDE = ("app/gui", "widgets", "render3d", "views")


def calls_analyze(source: str) -> list[int]:
    """Lines of ``source`` that call a function named ``analyze`` (``analyze(...)`` or ``x.analyze(...)``)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name == "analyze":
                out.append(node.lineno)
    return out


def test_the_view_side_never_calls_analyze():
    found = {}
    for folder in VIEW_SIDE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            lines = calls_analyze(path.read_text())
            if lines:
                found[str(path.relative_to(ROOT))] = lines
    assert not found, f"analyze() called outside the provider: {found}"


def test_the_scan_sees_a_call():
    assert calls_analyze("from model.analysis.analysis import analyze\na = analyze(snap)\n") == [2]
    assert calls_analyze("import model.analysis.analysis as m\na = m.analyze(snap, onehot=True)\n") == [2]
    assert calls_analyze('"""analyze(snap) in a docstring"""\nx = provider.of_snapshot(snap)\n') == []
