"""A build hook only: setuptools reads everything else from pyproject.toml.

The repository keeps its folders at the top (model/, app/, widgets/, ...) and its code imports
them by those names. The wheel installs them as lge.model, lge.app, ... (pyproject.toml's
package-dir), so that installing adds one top-level name, ``lge``, and never shadows a
researcher's own ``model`` or ``app``. So that the installed code finds itself under those names,
``build_py`` rewrites the wheel's copy of each module: every import of one of the mapped folders
(``from model.config import X`` -> ``from lge.model.config import X``) and every string that is
one of their module names (``"widgets.zone_map"`` or ``"widgets.zone_map:ZoneMapView"``, the
names the code hands to importlib). The checkout itself is never changed; its ``lge`` maps the
same names onto the same folders at import time (lge/__init__.py). tests/test_packaging.py
builds the wheel, installs it beside a researcher's own ``model.py`` and ``app.py`` and runs it.
"""
from __future__ import annotations

import ast
import functools
import re
import tomllib
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


@functools.cache  # read once a build, not once a module
def mapped_folders() -> tuple:
    """The top-level folders the wheel installs under lge (package-dir's ``lge.X`` keys)."""
    conf = tomllib.loads((HERE / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    return tuple(sorted({k.split(".")[1] for k in conf if k.count(".") == 1 and k.startswith("lge.")}))


def rewrite(source: str, folders: tuple, prefix: str = "lge.") -> str:
    """``source`` with its imports of ``folders`` and the strings naming their modules prefixed."""
    tree = ast.parse(source)
    lines = [ln.encode() for ln in source.splitlines(keepends=True)]  # ast's columns count UTF-8 bytes
    tops = "|".join(map(re.escape, folders))
    name = re.compile(rf"^({tops})(\.[A-Za-z_][A-Za-z0-9_]*)+(:[A-Za-z_][A-Za-z0-9_]*)?$")
    edits = []  # (line, byte column, where the prefix goes)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in folders:
            # the module name follows "from" and whitespace on the statement's first line
            m = re.compile(rb"from\s+").match(lines[node.lineno - 1], node.col_offset)
            if m is None:
                raise ValueError(f"line {node.lineno}: cannot find the module of {lines[node.lineno - 1]!r}")
            edits.append((node.lineno, m.end()))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in folders:
                    edits.append((alias.lineno, alias.col_offset))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and name.match(node.value) \
                and node.lineno == node.end_lineno:
            text = lines[node.lineno - 1][node.col_offset:node.end_col_offset]
            m = re.fullmatch(rb"[rRuU]?('|\")(.*)\1", text)
            if m is None or m.group(2).decode() != node.value:
                continue  # an implicit concatenation, triple quotes or escapes: not a module name we wrote
            edits.append((node.lineno, node.col_offset + text.index(m.group(1)) + 1))  # after the quote
    for lineno, col in sorted(set(edits), reverse=True):
        raw = lines[lineno - 1]
        lines[lineno - 1] = raw[:col] + prefix.encode() + raw[col:]
    return b"".join(lines).decode()


class BuildPy(build_py):
    """build_py that rewrites each module it copies into the wheel (see the module's doc)."""

    def build_module(self, module, module_file, package):
        out = super().build_module(module, module_file, package)
        outfile = Path(out[0])
        text = outfile.read_text(encoding="utf-8")
        new = rewrite(text, mapped_folders())
        if new != text:
            outfile.write_text(new, encoding="utf-8")
        return out


setup(cmdclass={"build_py": BuildPy})
