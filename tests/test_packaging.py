"""Installing must not shadow a researcher's packages: the wheel's only top-level import name is lge (its
subpackages are the repository's folders, pyproject.toml's package-dir), and from a checkout lge maps the
same names onto the same folders."""
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheels_only_top_level_name_is_lge(tmp_path):
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = conf["tool"]["setuptools"]["package-dir"]
    src = tmp_path / "src"  # built from a copy: the checkout gets no build/ or .egg-info
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in {Path(d).parts[0] for d in mapping.values()}:
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    # The PEP 517 hook that `pip wheel --no-deps --no-build-isolation` calls, called directly: the
    # same wheel (pip 26.3 with setuptools 84.2.1 fails on an unrelated distutils command lookup).
    out = tmp_path / "dist"
    r = subprocess.run([sys.executable, "-c", f"from setuptools import build_meta; print(build_meta.build_wheel({str(out)!r}))"],
                       cwd=src, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    wheel = out / r.stdout.strip().splitlines()[-1]
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
