"""Data that other tools read (no Qt): a run's history as arrays (``.npz``, ``.safetensors``)
and a sweep's or dataset-size sweep's results as a table (``.csv``, ``.parquet``), each file
carrying its provenance: the config, the seed, the code version and the environment.

- ``run_arrays(config, history)``: per recorded step (all of them, or every ``stride``-th,
  or the one at ``step``) ``steps`` (N,), ``W`` (N, K, m, n), ``b`` (N, K, n), ``loss`` (N, K),
  ``M`` (N, K, n, m) when untied, and the diagnosis of every model at every step, as
  ``model.analysis.analysis.analyze`` gives it (the verdict ``inspect`` prints): ``verdict`` (N, K)
  int16, an index into the metadata's ``verdict_names``; ``findings`` (N, K) int32, bit i
  set when the model has the finding ``finding_names[i]`` (the sweep file's coding);
  ``dead`` and ``reconstructed`` (N, K, n) bool per feature.
- ``write_arrays(path, arrays, meta)``: ``.npz`` (numpy; the metadata is the array
  ``metadata``, one JSON string, which ``np.load`` reads without pickle) or
  ``.safetensors`` (its header's metadata: each top-level key a JSON string).
- ``sweep_table(sweep)`` / ``datasize_table(result)``: pandas DataFrames, one row per model
  (a sweep: configuration, grid values, seed, verdict, outcome, findings, loss, the
  verdict's margins) or per (size T, model); ``write_table(path, frame, meta)``: ``.csv``
  (plain CSV that any reader takes, the metadata in a sidecar ``PATH.json``) or
  ``.parquet`` (the metadata in the schema's key-value metadata, key ``latent_geometry``).
- ``provenance(config)``: the metadata every file carries.

Every writer builds the file under a hidden temporary name beside the target and publishes
it in one step (model/storage/outfile.py): an existing file is replaced only when asked, an error
or Ctrl+C leaves nothing under the target's name. pandas and pyarrow are imported when a
table is built, never at import time.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import TrainConfig, grid_options
from ..storage import outfile

if TYPE_CHECKING:
    import pandas as pd

    from ..history import History
    from .datasize import DataSizeSweep
    from .sweep import Sweep

DATA_FORMAT = "latent-geometry-data"
TABLE_FORMAT = "latent-geometry-table"
FORMAT_VERSION = 1
DATA_SUFFIXES = (".npz", ".safetensors")
TABLE_SUFFIXES = (".csv", ".parquet")
#: the parquet schema-metadata key (and the CSV sidecar's content) that holds the provenance
META_KEY = "latent_geometry"
DISTRIBUTION = "latent-geometry-explorer"
ROOT = Path(__file__).resolve().parents[2]  # the checkout holding model/ (model/experiments/datafiles.py)


class DataFileError(ValueError):
    """A target that cannot be written as asked: ``field`` names the option, ``str()`` is one
    line; ``status`` 2 for the input, 1 for the machine (a full disk)."""

    def __init__(self, field: str, problem: str, status: int = 2):
        self.field, self.problem, self.status = field, " ".join(str(problem).split()), int(status)
        super().__init__(f"{field}: {self.problem}")


# ------------------------------------------------------------------ provenance
def code_version() -> str:
    """``git describe --always --dirty --tags`` of the checkout this code runs from, else the
    installed distribution's version, else "unknown"."""
    if (ROOT / ".git").exists():
        try:
            r = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--tags"],
                               capture_output=True, text=True, timeout=10)
            if r.returncode == 0 and r.stdout.strip():
                return "git " + r.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """Python, numpy, torch, numba versions and the platform (read from package metadata:
    nothing heavy is imported)."""
    return {"python": sys.version.split()[0], "numpy": np.__version__, "torch": _version("torch"),
            "numba": _version("numba"), "platform": platform.platform(), "machine": platform.machine()}


def provenance(config: TrainConfig, kind: str, **extra: Any) -> dict[str, Any]:
    """What every data file carries: format, kind ("run", "sweep", "datasize"), config, seed,
    code version, environment, creation time, then ``extra``."""
    return {"format": DATA_FORMAT if kind == "run" else TABLE_FORMAT, "format_version": FORMAT_VERSION,
            "kind": kind, "config": config.to_dict(), "seed": int(config.seed), "code_version": code_version(),
            "environment": environment(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}


# ------------------------------------------------------------------ targets
def check_suffix(path: str | os.PathLike[str], suffixes: Sequence[str], field: str) -> str:
    """The file's lower-case extension when it is one of ``suffixes``; DataFileError otherwise."""
    ext = Path(os.fspath(path)).suffix.lower()
    if ext not in suffixes:
        raise DataFileError(field, f"must end in {' or '.join(suffixes)} (the format is chosen by the extension), "
                                   f"got {os.fspath(path)!r}")
    return ext


def sidecar(path: str | os.PathLike[str]) -> Path:
    """The metadata file beside a CSV table: ``PATH.json``."""
    p = Path(os.fspath(path))
    return p.with_name(p.name + ".json")


def targets(path: str | os.PathLike[str]) -> list[Path]:
    """The files a write of ``path`` publishes (a CSV table: the table and its sidecar)."""
    p = Path(os.fspath(path))
    return [p, sidecar(p)] if p.suffix.lower() == ".csv" else [p]


def _publish(data: dict[Path, bytes], replace: bool, field: str) -> Path:
    """Write each target's bytes to a temporary file beside it, then publish them all (the
    first target last: a CSV table appears after its sidecar). Returns the first target."""
    tmps: dict[Path, Path] = {}
    target = next(iter(data))
    try:
        for target, blob in data.items():
            tmp = outfile.temp_beside(target)
            tmps[target] = tmp
            outfile.write_new(tmp, blob)
        for target in reversed(list(data)):
            outfile.publish(tmps.pop(target), target, replace)
    except FileExistsError:
        raise DataFileError(field, f"{target} already exists; pass --force to replace it") from None
    except OSError as exc:
        raise DataFileError(field, outfile.problem(exc, f"write {target}"),
                            1 if outfile.is_disk_failure(exc) else 2) from None
    finally:
        for tmp in tmps.values():
            outfile.discard(tmp)
    return next(iter(data))


# ------------------------------------------------------------------ run arrays
def verdict_names() -> tuple[str, ...]:
    """Every verdict an array file codes (the sweep's list: the analysis' verdicts, diverged, sparse)."""
    from ..analysis.analysis import SPARSE_VERDICT, VERDICTS

    return tuple(VERDICTS) + ("diverged", SPARSE_VERDICT)


def select_rows(steps: np.ndarray, step: int | None = None, stride: int | None = None) -> np.ndarray:
    """Indices of the recorded rows to export: the one at or before ``step``, or every
    ``stride``-th row (the last one always included), or all."""
    N = len(steps)
    if step is not None:
        return np.array([max(0, int(np.searchsorted(steps, int(step), side="right")) - 1)])
    idx = np.arange(0, N, max(1, int(stride or 1)))
    return idx if idx[-1] == N - 1 else np.append(idx, N - 1)


def run_arrays(config: TrainConfig, history: History, rows: np.ndarray | None = None,
               models: Sequence[int] | None = None,
               progress: Callable[[int, int], bool | None] | None = None) -> dict[str, np.ndarray]:
    """The arrays of a run (see the module doc) for the history rows ``rows`` (default all) and
    the models ``models`` (default all, 0-based). ``progress(done, total)`` is called after
    each row's diagnosis; it returning True stops (KeyboardInterrupt: nothing is returned)."""
    from ..analysis.analysis import FINDING_KINDS, analyze
    from ..snapshot import Snapshot

    steps_all = history.steps
    rows = np.arange(len(steps_all)) if rows is None else np.asarray(rows, np.int64)
    ks = list(range(history.K)) if models is None else [int(k) for k in models]
    N, K, n = len(rows), len(ks), history.n
    names = verdict_names()
    out = {"steps": steps_all[rows].astype(np.int64), "W": np.empty((N, K, history.m, n), np.float32),
           "b": np.empty((N, K, n), np.float32), "loss": np.empty((N, K), np.float32),
           "verdict": np.zeros((N, K), np.int16), "findings": np.zeros((N, K), np.int32),
           "dead": np.zeros((N, K, n), bool), "reconstructed": np.zeros((N, K, n), bool)}
    if history.untied:
        out["M"] = np.empty((N, K, n, history.m), np.float32)
    imp = None if config.importance is None else config.importance_vector()
    for r, i in enumerate(rows):
        step, W, b, loss, M = history.row(int(i))
        for c, k in enumerate(ks):
            out["W"][r, c], out["b"][r, c], out["loss"][r, c] = W[k], b[k], loss[k]
            if M is not None:
                out["M"][r, c] = M[k]
            if not (np.isfinite(W[k]).all() and np.isfinite(b[k]).all() and np.isfinite(loss[k])):
                out["verdict"][r, c] = names.index("diverged")
                continue
            a = analyze(Snapshot(step=step, W=W[k], b=b[k], loss=float(loss[k]), M=None if M is None else M[k],
                                 importance=imp, model=k), onehot=config.onehot, extras=False)
            out["verdict"][r, c] = names.index(a.verdict)
            out["findings"][r, c] = sum(1 << FINDING_KINDS.index(kind) for kind in set(a.finding_kinds))
            out["dead"][r, c] = a.dead_mask
            out["reconstructed"][r, c] = a.reconstructed_mask
        if progress is not None and progress(r + 1, N):
            raise KeyboardInterrupt
    return out


def run_metadata(config: TrainConfig, models: Sequence[int], **extra: Any) -> dict[str, Any]:
    """The provenance of a run's arrays, with what the codes and axes mean."""
    from ..analysis.analysis import FINDING_KINDS

    return provenance(config, "run", models=[int(k) for k in models],
                      model_seeds=[int(config.seed) + int(k) for k in models],
                      verdict_names=list(verdict_names()), finding_names=list(FINDING_KINDS),
                      axes={"steps": "step", "W": "step, model, m, n", "b": "step, model, n", "loss": "step, model",
                            "M": "step, model, n, m", "verdict": "step, model (index into verdict_names)",
                            "findings": "step, model (bit i: finding_names[i])", "dead": "step, model, n",
                            "reconstructed": "step, model, n"}, **extra)


def write_arrays(path: str | os.PathLike[str], arrays: dict[str, np.ndarray], meta: dict[str, Any],
                 replace: bool = False, field: str = "--data") -> Path:
    """``arrays`` and ``meta`` as a .npz or .safetensors file (by the extension), published in one step."""
    target = Path(os.fspath(path))
    ext = check_suffix(target, DATA_SUFFIXES, field)
    if ext == ".npz":
        import io

        buf = io.BytesIO()
        np.savez(buf, allow_pickle=False, **arrays, metadata=np.array([json.dumps(meta, allow_nan=False)]))
        blob = buf.getvalue()
    else:
        from safetensors.numpy import save

        blob = save({k: np.ascontiguousarray(v) for k, v in arrays.items()},
                    metadata={k: json.dumps(v, allow_nan=False) for k, v in meta.items()})
    return _publish({target: blob}, replace, field)


# ------------------------------------------------------------------ tables
def _outcomes(entry: Any) -> list[str | None]:
    """Each model's outcome (settled, stuck, moving) where the sweep records one: an ``outcomes``
    array on the entry, or the ``per_model`` list of its summary (what ``sweep --json`` prints);
    None where it does not."""
    got = getattr(entry, "outcomes", None)
    if got is not None:
        return [None if o is None else str(o) for o in got]
    per = entry.summary().get("per_model")
    if per:
        by_seed = {int(p["seed"]): p.get("outcome") for p in per if isinstance(p, dict) and "seed" in p}
        return [by_seed.get(int(s)) for s in entry.seeds]
    return [None] * entry.K


def sweep_rows(sweep: Sweep, margins: bool = True) -> list[dict[str, Any]]:
    """One dict per model of every configuration (see sweep_table)."""
    from ..analysis.analysis import FINDING_KINDS, analyze

    opts = list(grid_options(TrainConfig))
    rows: list[dict[str, Any]] = []
    for c, e in enumerate(sweep.entries):
        cfg, outcomes = e.config, _outcomes(e)
        base = {"config": c + 1, "label": e.label, **{k: getattr(cfg, k) for k in opts}}
        for k in range(e.K):
            kinds = [f for f in FINDING_KINDS if e.has_finding(f)[k]]
            row = {**base, "model": k, "seed": int(cfg.seed) + k, "verdict": str(e.verdicts[k]),
                   "outcome": outcomes[k], "findings": ";".join(kinds), "loss": float(e.loss[k]), "step": int(e.step),
                   "halted": int(e.halted[k])}
            if margins and e.verdicts[k] != "diverged":
                a = analyze(e.snapshot(k), onehot=cfg.onehot, extras=False)
                row.update({f"margin_{name}": (np.nan if v is None else float(v))
                            for name, v in a.verdict_margins.items()})
            rows.append(row)
    return rows


def sweep_table(sweep: Sweep, margins: bool = True) -> pd.DataFrame:
    """A sweep as a DataFrame, one row per model: config (1-based), label, every sweepable option's
    value, model (0-based within its configuration), seed (the single run that reproduces it),
    verdict, outcome (None until the sweep records one), findings (";"-joined kinds), loss, step,
    halted (-1: ran to the end), and with ``margins`` the verdict's margins (``margin_<criterion>``,
    re-derived from the stored final parameters by the same analysis; NaN where a criterion did
    not decide that model's verdict)."""
    import pandas as pd

    return pd.DataFrame(sweep_rows(sweep, margins))


def datasize_table(result: DataSizeSweep) -> pd.DataFrame:
    """A dataset-size sweep as a DataFrame, one row per (T, model): the losses, the
    dimensionalities and the regularity of the training examples' hidden vectors."""
    import pandas as pd

    rows = []
    for r in result.results:
        reg = r.regularity()
        for k in range(r.W.shape[0]):
            rows.append({"T": int(r.T), "model": k, "seed": int(r.config.seed) + k, "step": int(r.step),
                         "train_loss": float(r.train_loss[k]), "test_loss": float(r.test_loss[k]),
                         "recorded_loss": float(r.recorded_loss[k]),
                         "feature_dim_sum": float(r.feature_dims[k].sum()), "data_dim_sum": float(r.data_dims[k].sum()),
                         "embedding_radius_cv": reg[k][0], "embedding_gap_ratio": reg[k][1]})
    return pd.DataFrame(rows)


def write_table(path: str | os.PathLike[str], frame: pd.DataFrame, meta: dict[str, Any],
                replace: bool = False, field: str = "--table") -> Path:
    """``frame`` as .csv (with the metadata sidecar PATH.json) or .parquet (metadata in the
    schema, key META_KEY), published in one step."""
    target = Path(os.fspath(path))
    ext = check_suffix(target, TABLE_SUFFIXES, field)
    text = json.dumps(meta, allow_nan=False)
    if ext == ".csv":
        return _publish({target: frame.to_csv(index=False).encode("utf-8"),
                         sidecar(target): text.encode("utf-8")}, replace, field)
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY.encode(): text.encode()})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return _publish({target: buf.getvalue()}, replace, field)


def sweep_metadata(sweep: Sweep) -> dict[str, Any]:
    return provenance(sweep.base, "sweep", grid=sweep.grid, models=int(sweep.models), cancelled=bool(sweep.cancelled),
                      configs=[e.config.to_dict() for e in sweep.entries])


def datasize_metadata(result: DataSizeSweep) -> dict[str, Any]:
    return provenance(result.base, "datasize", sizes=list(result.sizes), test_examples=int(result.test_examples),
                      cancelled=bool(result.cancelled))


__all__ = [
    "DATA_SUFFIXES",
    "META_KEY",
    "TABLE_SUFFIXES",
    "DataFileError",
    "check_suffix",
    "code_version",
    "datasize_metadata",
    "datasize_table",
    "environment",
    "provenance",
    "run_arrays",
    "run_metadata",
    "select_rows",
    "sidecar",
    "sweep_metadata",
    "sweep_rows",
    "sweep_table",
    "targets",
    "verdict_names",
    "write_arrays",
    "write_table",
]
