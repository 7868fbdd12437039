"""The headless CLI as a user runs it: real subprocesses, real files."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args, env_extra=None, timeout=240):
    env = dict(os.environ)
    env["LGE_DATA_DIR"] = env.get("LGE_DATA_DIR_TEST", env.get("LGE_DATA_DIR", "/tmp/lge-test-data"))
    if env_extra:
        env.update(env_extra)
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "n6.h5"
    r = run("train", "--n", "6", "--steps", "3000", "--lr", "1e-2", "--seed", "0", "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out, r


@pytest.mark.slow
def test_train_prints_progress_loss_and_verdict(trained):
    out, r = trained
    assert out.exists()
    assert "verdict" in r.stdout.lower()
    assert "perfect" in r.stdout
    assert "step" in r.stderr  # the progress bar
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_inspect_json_is_one_object_with_the_documented_keys(trained):
    out, _ = trained
    r = run("inspect", str(out), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for key in ("step", "loss", "n", "m", "verdict", "reconstructed", "dead", "features", "regularity"):
        assert key in d
    assert d["n"] == 6 and d["m"] == 2 and d["step"] == 3000
    assert d["verdict"] == "perfect" and d["reconstructed"] == [1, 2, 3, 4, 5, 6] and d["dead"] == []
    f = d["features"][0]
    for key in ("feature", "norm", "angle_deg", "bias", "dim", "reconstructed", "dead"):
        assert key in f
    assert [f["feature"] for f in d["features"]] == [1, 2, 3, 4, 5, 6]
    for key in ("radius_cv", "gap_ratio", "radius_groups"):
        assert key in d["regularity"]
    # an early step is not yet perfect: at-or-before lookup on the history
    r0 = run("inspect", str(out), "--json", "--step", "0")
    d0 = json.loads(r0.stdout)
    assert d0["step"] == 0 and d0["verdict"] != "perfect"


@pytest.mark.slow
def test_batched_train_prints_a_summary_table(tmp_path):
    out = tmp_path / "k.h5"
    r = run("train", "--n", "7", "--steps", "200", "--models", "5", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "summary:" in r.stdout and "/5" in r.stdout
    r = run("inspect", str(out), "--model", "4", "--json")
    assert json.loads(r.stdout)["step"] == 200


@pytest.mark.parametrize("args, needle", [
    (["train", "--n", "0"], "--n"),
    (["train", "--n", "seven"], "--n"),
    (["train", "--lr", "-1"], "--lr"),
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--optimizer", "rmsprop"], "--optimizer"),
    (["train", "--sparsity", "1.5", "--data", "sparse"], "--sparsity"),
    (["train", "--init", "analytic", "--m", "3"], "--init"),
    (["train", "--init", "run"], "--init-run"),
    (["train", "--init", "run", "--init-run", "/nonexistent/run.h5"], "/nonexistent/run.h5"),
    (["train", "--bogus"], "--bogus"),
    (["inspect", "/nonexistent/run.h5"], "/nonexistent/run.h5"),
    (["inspect"], "run"),
])
@pytest.mark.slow
def test_bad_arguments_give_one_line_and_exit_2(args, needle, tmp_path):
    r = run(*args, "--out", str(tmp_path / "x.h5")) if args[0] == "train" else run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert needle in lines[0]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.slow
def test_inspect_of_a_foreign_file_names_the_file(tmp_path):
    bad = tmp_path / "notes.h5"
    bad.write_text("not a run")
    r = run("inspect", str(bad))
    assert r.returncode == 2 and str(bad) in r.stderr and "Traceback" not in r.stderr
    r = run("inspect", str(bad), "--model", "99")
    assert r.returncode == 2


@pytest.mark.slow
def test_inspect_rejects_a_model_out_of_range(trained):
    out, _ = trained
    r = run("inspect", str(out), "--model", "3")
    assert r.returncode == 2 and "--model" in r.stderr and "0 to 0" in r.stderr


@pytest.mark.slow
def test_continue_training_from_a_saved_run(trained, tmp_path):
    out, _ = trained
    cont = tmp_path / "cont.h5"
    r = run("train", "--n", "6", "--steps", "10", "--init", "run", "--init-run", str(out), "--init-step", "3000",
            "--out", str(cont), "--quiet")
    assert r.returncode == 0, r.stderr
    d = json.loads(run("inspect", str(cont), "--json", "--step", "0").stdout)
    assert d["verdict"] == "perfect"  # it starts where the saved run ended
    bad = tmp_path / "bad.h5"
    r = run("train", "--n", "7", "--steps", "10", "--init", "run", "--init-run", str(out), "--out", str(bad))
    assert r.returncode == 2 and "init" in r.stderr
    assert not bad.exists()


@pytest.mark.slow
def test_inspect_optimum_on_a_hand_built_history(tmp_path):
    """A run whose history is built by hand: Henighan's n = 7 solution until step 300, then the
    seed's failure with a strictly-off hexagon (r^2 = 3, b = -2; feature 7 W = 0, b = 1/7).
    inspect --optimum says: a saddle (the hexagon's free turns couple to W_7: the closed form
    is checked in tests/model/test_optimum.py), no rotation mode among the curvatures, and the
    diagnosis unchanged since step 300, the first failed snapshot."""
    import numpy as np

    from model.config import TrainConfig
    from model.history import History
    from model.storage.runfile import save_run
    from model.training.init import henighan

    Wh, bh = henighan(7)
    th6 = 2 * np.pi / 6 * np.arange(1, 7)
    Wf = np.hstack([np.sqrt(3.0) * np.vstack([np.cos(th6), np.sin(th6)]), np.zeros((2, 1))])
    bf = np.append(np.full(6, -2.0), 1 / 7)
    h = History(K=1, m=2, n=7, budget_bytes=10_000_000)
    for s in range(0, 600, 50):
        W, b = (Wh, bh) if s < 300 else (Wf, bf)
        h.append(s, W[None].astype(np.float32), b[None].astype(np.float32), np.zeros(1, np.float32))
    path = tmp_path / "hand.h5"
    save_run(path, TrainConfig(n=7, steps=550, optimizer="adam"), h)
    r = run("inspect", str(path), "--optimum", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["verdict"] == "symmetric_failure"
    lo = d["local_optimum"]
    assert lo["kind"] == "saddle" and lo["lowest_curvatures"][0] < 0 and lo["n_symmetries"] == 1
    assert lo["escape"] and lo["escape_parts"]  # the escape is described (its W_7 share: test_optimum)
    assert lo["stable_since"]["step"] == 300 and lo["stable_since"]["changed_at"] == 250
    t = run("inspect", str(path), "--optimum")
    assert t.returncode == 0 and "local optimum: saddle" in t.stdout
    assert "symmetric failure since step 300" in t.stdout
