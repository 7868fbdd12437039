"""Installing must not shadow a researcher's packages: the wheel's only top-level import name is lge (its
subpackages are the repository's folders, pyproject.toml's package-dir), and from a checkout lge maps the
same names onto the same folders."""
import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built from a copy of the checkout (which gets no build/ or .egg-info)."""
    tmp = tmp_path_factory.mktemp("wheel")
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = conf["tool"]["setuptools"]["package-dir"]
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "setup.py"):
        shutil.copy(ROOT / name, src / name)
    for folder in {Path(d).parts[0] for d in mapping.values()}:
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    # The PEP 517 hook that `pip wheel --no-deps --no-build-isolation` calls, called directly (the
    # same wheel, without pip's own copy of the tree).
    out = tmp / "dist"
    r = subprocess.run([sys.executable, "-c", f"from setuptools import build_meta; print(build_meta.build_wheel({str(out)!r}))"],
                       cwd=src, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return out / r.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_the_wheels_only_top_level_name_is_lge(wheel):
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"lge", next(t for t in tops if t.endswith(".dist-info"))}, tops
    # every module of every mapped folder is in the wheel, under lge.
    for pkg, folder in mapping.items():
        for py in (ROOT / folder).glob("*.py"):
            assert f"{pkg.replace('.', '/')}/{py.name}" in names, (pkg, py.name)
    for folder in ("model", "app", "widgets", "render3d", "views", "resources"):
        assert f"lge/{folder}/__init__.py" in names
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "lge.__main__:main" in meta


@pytest.mark.slow
def test_the_wheels_modules_import_themselves_under_lge(wheel):
    """The build rewrote every import of a mapped folder, and every module name handed to importlib,
    to its lge. name (setup.py): no module of the wheel names model, app, ... at the top level."""
    folders = ("model", "app", "widgets", "render3d", "resources")
    bad = []
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if not name.endswith(".py"):
                continue
            tree = ast.parse(z.read(name).decode())
            for node in ast.walk(tree):
                mods = ([node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else
                        [a.name for a in node.names] if isinstance(node, ast.Import) else
                        [node.value] if isinstance(node, ast.Constant) and isinstance(node.value, str)
                        and re.fullmatch(r"[a-z_0-9]+(\.[a-z_0-9]+)+(:[A-Za-z_]+)?", node.value) else [])
                bad += [f"{name}:{node.lineno} {m}" for m in mods if m.split(".")[0] in folders]
    assert not bad, bad[:20]
    # and the rewrite did its work: the API imports its configuration from lge.model
    assert "from lge.model.config import" in zipfile.ZipFile(wheel).read("lge/api.py").decode()


USER_SCRIPT = r"""
import os, sys
import model, app                      # the researcher's own modules, beside the notebook
assert model.MINE == "model" and app.MINE == "app"
import lge
assert lge.__file__.startswith(sys.argv[1]), lge.__file__
run = lge.train(n=5, steps=300, seed=1, out="run.h5")
d = run.diagnose()
fig = run.figure("zones", size=(320, 240))
assert fig.png[1:4] == b"PNG"
from lge.app.cli import main          # a command the CLI finds by its module's name
assert main(["inspect", "run.h5", "--json"]) == 0
assert sys.modules["model"].MINE == "model" and sys.modules["app"].MINE == "app"
ours = sorted(m for m in sys.modules if m.split(".")[0] in ("widgets", "render3d", "resources") or
              m.startswith(("model.", "app.")))
assert not ours, ours
print("verdict", d.verdict)
"""


@pytest.mark.slow
def test_the_installed_wheel_runs_beside_a_researchers_own_model_and_app(wheel, tmp_path):
    """Installed (not from the checkout), the wheel trains, diagnoses, draws and runs a command while
    the researcher's own model.py and app.py stay theirs: nothing of ours under those names."""
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target",
                        str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    work = tmp_path / "notebook"
    work.mkdir()
    (work / "model.py").write_text('MINE = "model"\n')
    (work / "app.py").write_text('MINE = "app"\n')
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([sys.executable, "-c", USER_SCRIPT, str(site)], cwd=work, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-3000:])
    assert "verdict" in r.stdout and '"verdict"' in r.stdout  # the API's diagnosis and inspect --json's


def test_every_package_folder_is_mapped():
    """A new package folder (a directory with __init__.py under a mapped folder) must be listed in
    pyproject.toml, or the wheel would lack it."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = set(conf["package-dir"].values())
    found = {str(p.parent.relative_to(ROOT)) for top in ("lge", "model", "app", "widgets", "render3d", "views", "resources")
             for p in (ROOT / top).rglob("__init__.py") if "__pycache__" not in p.parts}
    assert found == mapped
    assert set(conf["packages"]) == set(conf["package-dir"])


def test_the_checkout_finder_maps_lge_subpackages_to_the_folders():
    code = ("import lge, lge.model.presets as p, lge.resources.palette as r; "
            "print(p.__file__); print(r.__file__); print(lge.model.__path__[0])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(ROOT / "model" / "presets.py"), str(ROOT / "resources" / "palette.py"),
                                str(ROOT / "model")]
