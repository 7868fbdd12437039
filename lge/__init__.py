"""The latent geometry explorer as a Python package: ``import lge`` in a notebook or a script.

Everything the command line does, as functions that return objects (lge.api): ``train``,
``open_run``, ``sweep``, ``datasize``, ``probe``, ``open_in_window``; runs, diagnoses,
figures, sweeps and dataset-size sweeps display themselves in Jupyter, and tables are
pandas DataFrames. The options are the command line's, built from the same schema
(model.config), and checked the same way.

Packaging: ``lge`` is the distribution's only top-level name. Its subpackages are the
repository's folders, ``lge.model`` = model/, ``lge.app`` = app/, ``lge.widgets``,
``lge.render3d``, ``lge.views``, ``lge.resources``: pyproject.toml's ``package-dir`` maps them so in a
wheel, and ``_CheckoutFinder`` below maps them so when this package is imported from a
checkout (or an editable install of one), so that installing never puts generic names such
as ``model`` or ``app`` into site-packages.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent
#: The repository's folders that are lge's subpackages (pyproject.toml's package-dir says the same).
SUBPACKAGES = ("model", "app", "widgets", "render3d", "views", "resources")


def _from_checkout() -> bool:
    """True when this file sits in the repository (lge/ beside model/, app/, ...), not in a wheel."""
    return (_ROOT / "pyproject.toml").is_file() and (_ROOT / "model" / "config.py").is_file() \
        and not (_HERE / "model").is_dir()


class _CheckoutFinder(importlib.abc.MetaPathFinder):
    """``lge.model``, ``lge.app``, ... from the checkout's top-level folders (their submodules
    then resolve through the package's own ``__path__``)."""

    def find_spec(self, name, path=None, target=None):
        top, _, sub = name.partition(".")
        if top != __name__ or sub not in SUBPACKAGES:
            return None
        folder = _ROOT / sub
        return importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])


if _from_checkout():
    if not any(isinstance(f, _CheckoutFinder) for f in sys.meta_path):
        sys.meta_path.append(_CheckoutFinder())
    # The checkout's code imports `model`, `app`, ... by their top-level names (the wheel's copy is
    # rewritten to lge.model, lge.app, ... when it is built: setup.py), so its root must be importable.
    if str(_ROOT) not in sys.path:
        sys.path.insert(0, str(_ROOT))

from .api import (  # noqa: E402
    ConfigError,
    DataSizeResult,
    Diagnosis,
    Figure,
    Finding,
    LgeError,
    Outcome,
    ProbeResult,
    Run,
    SweepResult,
    datasize,
    open_in_window,
    open_run,
    options,
    probe,
    sweep,
    train,
)

__all__ = [
    "ConfigError",
    "DataSizeResult",
    "Diagnosis",
    "Figure",
    "Finding",
    "LgeError",
    "Outcome",
    "ProbeResult",
    "Run",
    "SweepResult",
    "datasize",
    "open_in_window",
    "open_run",
    "options",
    "probe",
    "sweep",
    "train",
]
