"""Every public function and public method of app/, widgets/, render3d/, views/ and model/ says what it
takes and returns (type hints), so a reader learns the contract without reading the body.
Public: a name without a leading underscore, at module level or in a public class (dunder
methods other than __init__'s parameters are exempt; __init__ needs no return type). Compiled
numba kernels are exempt: their types come from the call."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "widgets", "render3d", "views", "model")


def _compiled(fn: ast.FunctionDef) -> bool:
    for d in fn.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in ("njit", "jit", "vectorize", "guvectorize", "cfunc", "stencil"):
            return True
    return False


def _public_functions(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            yield node
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                        not item.name.startswith("_") or item.name == "__init__"):
                    yield item


def _missing(fn: ast.FunctionDef) -> list:
    a = fn.args
    params = [p for p in a.posonlyargs + a.args + a.kwonlyargs if p.arg not in ("self", "cls")]
    if a.vararg is not None:
        params.append(a.vararg)
    if a.kwarg is not None:
        params.append(a.kwarg)
    out = [p.arg for p in params if p.annotation is None]
    if fn.returns is None and fn.name != "__init__":
        out.append("return")
    return out


def _unhinted(package: str) -> list:
    bad = []
    for src in sorted((ROOT / package).rglob("*.py")):
        for fn in _public_functions(ast.parse(src.read_text())):
            if _compiled(fn):
                continue
            missing = _missing(fn)
            if missing:
                bad.append(f"{src.relative_to(ROOT)}:{fn.lineno} {fn.name}: {', '.join(missing)}")
    return bad


@pytest.mark.parametrize("package", PACKAGES)
def test_public_functions_have_type_hints(package):
    assert _unhinted(package) == []
