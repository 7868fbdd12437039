"""`main.py export RUN --data` and `export SWEEP --table`: files other tools read, checked with those
tools (numpy, safetensors, pandas, pyarrow), never with ours, on parameters built by hand from closed
forms: Henighan's n-gon (every feature reconstructed) and the seed's failure (a hexagon, the seventh
feature at W = 0, b = 1/7, loss 6/49)."""
import json
import math

import numpy as np
import pytest

from app.cli import main
from model.config import TrainConfig
from model.history import History
from model.storage.runfile import save_run

N = 7


def henighan(n: int):
    """W_i = r(cos 2pi i/n, sin 2pi i/n), r^2 = 1/(1 - cos 2pi/n), b_i = -r^2 cos 2pi/n: ReLU(W^T W + b) = I."""
    r2 = 1.0 / (1.0 - math.cos(2 * math.pi / n))
    ang = 2 * math.pi * np.arange(n) / n
    return math.sqrt(r2) * np.stack([np.cos(ang), np.sin(ang)]), np.full(n, -r2 * math.cos(2 * math.pi / n))


def seed_failure(n: int = N):
    """A regular (n-1)-gon with the last feature dead: W_n = 1e-4 (a tenth of a thousandth of the others), b_n = 1/n."""
    W6, b6 = henighan(n - 1)
    W = np.concatenate([W6, [[1e-4], [0.0]]], axis=1)
    return W, np.append(b6, 1.0 / n)


@pytest.fixture(scope="module")
def hand_run(tmp_path_factory):
    """Two models, two steps: model 0 is perfect at step 0 and the seed's failure at step 10, model 1
    the other way round."""
    cfg = TrainConfig(n=N, m=2, models=2, seed=5, steps=10)
    (Wp, bp), (Wf, bf) = henighan(N), seed_failure()
    h = History(2, 2, N, budget_bytes=2**20)
    for step, first, second in ((0, (Wp, bp), (Wf, bf)), (10, (Wf, bf), (Wp, bp))):
        W = np.stack([first[0], second[0]]).astype(np.float32)
        b = np.stack([first[1], second[1]]).astype(np.float32)
        h.append(step, W, b, np.array([0.0, 6 / 49], np.float32) if step == 0 else np.array([6 / 49, 0.0], np.float32))
    path = tmp_path_factory.mktemp("hand") / "hand.h5"
    save_run(path, cfg, h)
    return path, cfg, h


def export(*args):
    return main(["export", *map(str, args)])


def check_arrays(arrays, meta, cfg, h):
    names = meta["verdict_names"]
    np.testing.assert_array_equal(arrays["steps"], [0, 10])
    with h.locked_arrays() as a:
        np.testing.assert_array_equal(arrays["W"], a["W"])
        np.testing.assert_array_equal(arrays["b"], a["b"])
        np.testing.assert_array_equal(arrays["loss"], a["loss"])
    v = [[names[c] for c in row] for row in arrays["verdict"]]
    assert v == [["perfect", "symmetric_failure"], ["symmetric_failure", "perfect"]]
    dead = np.zeros((2, 2, N), bool)
    dead[0, 1, N - 1] = dead[1, 0, N - 1] = True
    np.testing.assert_array_equal(arrays["dead"], dead)
    assert arrays["reconstructed"][0, 0].all() and arrays["reconstructed"][1, 1].all()
    assert not arrays["reconstructed"][0, 1, N - 1]
    fk = meta["finding_names"]
    has = lambda r, k, kind: bool(arrays["findings"][r, k] >> fk.index(kind) & 1)  # noqa: E731
    assert has(0, 1, "dead") and has(1, 0, "dead") and not has(0, 0, "dead") and has(0, 1, "regular")
    assert meta["config"] == cfg.to_dict() and meta["seed"] == 5 and meta["model_seeds"] == [5, 6]
    assert meta["code_version"] and meta["code_version"] != "unknown"
    assert {"python", "numpy", "torch", "platform"} <= set(meta["environment"])
    assert meta["environment"]["numpy"] == np.__version__


def test_npz_opens_in_numpy_with_the_runs_values_and_diagnosis(hand_run, tmp_path, capsys):
    path, cfg, h = hand_run
    out = tmp_path / "hand.npz"
    assert export(path, "--data", out) == 0
    assert "wrote" in capsys.readouterr().out
    with np.load(out, allow_pickle=False) as z:  # no pickle: the metadata is a string array
        arrays = {k: z[k] for k in z.files if k != "metadata"}
        meta = json.loads(str(z["metadata"][0]))
    check_arrays(arrays, meta, cfg, h)


def test_safetensors_opens_with_safetensors_with_metadata(hand_run, tmp_path):
    from safetensors import safe_open

    path, cfg, h = hand_run
    out = tmp_path / "hand.safetensors"
    assert export(path, "--data", out) == 0
    with safe_open(str(out), framework="np") as f:
        arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has keys(), it does not iterate
        meta = {k: json.loads(v) for k, v in f.metadata().items()}
    check_arrays(arrays, meta, cfg, h)


def test_step_and_model_select_what_is_written(hand_run, tmp_path):
    path, cfg, h = hand_run
    out = tmp_path / "one.npz"
    assert export(path, "--data", out, "--step", 5, "--model", 1) == 0
    with np.load(out) as z:
        assert z["W"].shape == (1, 1, 2, N) and z["steps"].tolist() == [0]
        np.testing.assert_array_equal(z["W"][0, 0], seed_failure()[0].astype(np.float32))
        assert json.loads(str(z["metadata"][0]))["models"] == [1]


def hand_sweep(tmp_path):
    from model.analysis.analysis import FINDING_KINDS
    from model.experiments.sweep import Sweep, SweepEntry, save_sweep

    cfg = TrainConfig(n=N, m=2, models=2, seed=40, steps=100)
    (Wp, bp), (Wf, bf) = henighan(N), seed_failure()
    e = SweepEntry(config=cfg, grid={}, W=np.stack([Wp, Wf]).astype(np.float32),
                   b=np.stack([bp, bf]).astype(np.float32), loss=np.array([0.0, 6 / 49], np.float32),
                   verdicts=np.array(["perfect", "symmetric_failure"], dtype=object), halted=np.array([-1, -1]),
                   step=100, findings=np.array([0, 1 << FINDING_KINDS.index("dead")], np.int32))
    path = tmp_path / "sweep.h5"
    save_sweep(path, Sweep(base=cfg, grid={}, models=2, entries=[e]))
    return path, cfg


def check_table(frame, cfg):
    assert len(frame) == 2
    assert frame["seed"].tolist() == [40, 41] and frame["verdict"].tolist() == ["perfect", "symmetric_failure"]
    assert frame["loss"].tolist() == pytest.approx([0.0, 6 / 49], abs=1e-7)
    assert frame["findings"].fillna("").tolist()[1].split(";")[0] == "dead"
    assert "outcome" in frame.columns and frame["n"].tolist() == [7, 7] and frame["steps"].tolist() == [100, 100]
    # the dead feature's margin, re-derived from the stored W: log10(0.1 |W_max| / |W_7|) = log10(0.1 sqrt(2) / 1e-4)
    assert frame["margin_dead"].iloc[1] == pytest.approx(math.log10(0.1 * math.sqrt(2) / 1e-4), rel=1e-4)


@pytest.mark.slow
def test_sweep_table_as_csv_opens_in_pandas_with_sidecar_metadata(tmp_path):
    import pandas as pd

    path, cfg = hand_sweep(tmp_path)
    out = tmp_path / "t.csv"
    assert export(path, "--table", out) == 0
    check_table(pd.read_csv(out), cfg)
    meta = json.loads((tmp_path / "t.csv.json").read_text())
    assert meta["config"] == cfg.to_dict() and meta["kind"] == "sweep" and "environment" in meta


def test_sweep_table_as_parquet_opens_in_pyarrow_with_schema_metadata(tmp_path):
    import pyarrow.parquet as pq

    path, cfg = hand_sweep(tmp_path)
    out = tmp_path / "t.parquet"
    assert export(path, "--table", out) == 0
    table = pq.read_table(out)
    check_table(table.to_pandas(), cfg)
    meta = json.loads(table.schema.metadata[b"latent_geometry"])
    assert meta["config"] == cfg.to_dict() and meta["seed"] == 40 and meta["code_version"]


@pytest.mark.slow
def test_datasize_table_holds_the_files_values(tmp_path, monkeypatch):
    import pandas as pd
    import tqdm

    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)  # the datasize run's bar starts no monitor thread

    from model.experiments.datasize import open_datasize

    src = tmp_path / "ds.h5"
    assert main(["datasize", "--sizes", "3,5", "--n", "40", "--models", "2", "--steps", "30", "--quiet",
                 "--test-examples", "50", "--out", str(src)]) == 0
    out = tmp_path / "ds.parquet"
    assert export(src, "--table", out) == 0
    frame = pd.read_parquet(out)
    res = open_datasize(src)
    assert frame[["T", "model"]].values.tolist() == [[3, 0], [3, 1], [5, 0], [5, 1]]
    want = np.concatenate([r.test_loss for r in res.results])
    np.testing.assert_allclose(frame["test_loss"], want)


@pytest.mark.parametrize("args, field", [
    (("--data", "x.txt"), "--data: must end in .npz or .safetensors"),
    (("--table", "x.csv"), "--table: applies to a sweep or dataset-size file"),
    (("--data", "x.npz", "--view", "zones"), "--view: applies to a figure"),
    (("--out", "x.png", "--view", "zones", "--stride", "2"), "--stride: applies to --data"),
    (("--data", "x.npz", "--model", "2"), "--model must be from 0 to 1"),
])
def test_bad_requests_are_one_line_and_write_nothing(hand_run, tmp_path, capsys, args, field):
    path, _, _ = hand_run
    args = [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    assert export(path, *args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_existing_files_are_kept_unless_force(hand_run, tmp_path, capsys):
    path, _, _ = hand_run
    sweep, _ = hand_sweep(tmp_path)
    for target, src in ((tmp_path / "a.npz", path), (tmp_path / "b.csv.json", sweep)):
        target.write_text("keep me")
        asked = tmp_path / "b.csv" if target.suffix == ".json" else target
        flag = "--table" if src == sweep else "--data"
        assert export(src, flag, asked) == 2
        assert "already exists; pass --force" in capsys.readouterr().err
        assert target.read_text() == "keep me" and not (asked != target and asked.exists())
        assert export(src, flag, asked, "--force") == 0
        assert target.read_bytes() != b"keep me"
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]
    assert export(sweep, "--data", tmp_path / "c.npz") == 2
    assert "--data: applies to a run file" in capsys.readouterr().err
