"""`main.py sweep`, `probe`, `datasize` as a user runs them: real subprocesses, real files."""
import json

import numpy as np
import pytest

from tests.app.test_cli import run


def _one_line_error(r, *words):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.slow
def test_sweep_json_prints_counts_and_rates_per_configuration_and_the_file_reopens(tmp_path):
    from model.experiments.sweep import open_sweep

    out = tmp_path / "sweep.h5"
    r = run("sweep", "--steps", "20000", "--models", "40", "--grid", "n=6,8", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["models"] == 40 and d["grid"] == {"n": [6, 8]} and d["cancelled"] is False
    confs = d["configurations"]
    assert [c["label"] for c in confs] == ["n=6", "n=8"]
    for c in confs:
        assert sum(c["counts"].values()) == 40
        assert set(c["rates"]) == set(c["counts"]) == set(c["ci95"])
        for v, n in c["counts"].items():
            assert c["rates"][v] == pytest.approx(n / 40)
            lo, hi = c["ci95"][v]
            assert 0 <= lo <= n / 40 <= hi <= 1 and lo < hi
    assert confs[0]["counts"] == {"perfect": 40}
    assert confs[1]["counts"].get("perfect", 0) < 40  # n = 8 fails often (41% measured)
    back = open_sweep(out)
    assert [e.counts() for e in back.entries] == [c["counts"] for c in confs]
    assert "step" in r.stderr  # progress bar on stderr


@pytest.mark.slow
def test_sweep_table_names_failure_rates_with_intervals(tmp_path):
    r = run("sweep", "--n", "8", "--steps", "20000", "--models", "30", "--out", str(tmp_path / "s.h5"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "base: 30 models, failures" in r.stdout and "95% CI" in r.stdout
    assert "perfect" in r.stdout and f"sweep saved: {tmp_path / 's.h5'}" in r.stdout


@pytest.mark.parametrize("args, words", [
    (["--grid", "foo=1,2"], ["--grid", "unknown key 'foo'", "allowed keys"]),
    (["--grid", "n=6,0"], ["--grid", "n=0", "from 1 to"]),
    (["--grid", "optimizer=rmsprop"], ["--grid", "adam, adamw, sgd"]),
    (["--models", "0"], ["--models", "from 1"]),
    (["--init", "run", "--init-run", "x.h5"], ["--init", "fresh models"]),
])
@pytest.mark.slow
def test_bad_sweep_input_is_one_line_and_writes_nothing(tmp_path, args, words):
    out = tmp_path / "never.h5"
    r = run("sweep", "--steps", "100", "--out", str(out), *args)
    _one_line_error(r, *words)
    assert not out.exists()


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("probe") / "n8.h5"
    r = run("train", "--n", "8", "--steps", "20000", "--seed", "0", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.slow
def test_probe_json_loss_at_zero_is_the_inspected_loss_and_slopes_agree(failed_run):
    ins = json.loads(run("inspect", str(failed_run), "--json").stdout)
    r = run("probe", str(failed_run), "--path", "bias", "--feature", "3", "--range", "0.5", "--points", "11", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["path"] == "b_3 + t" and d["feature"] == 3 and d["step"] == ins["step"]
    assert d["loss0"] == pytest.approx(ins["loss"], rel=1e-12)
    assert d["t"][0] == -0.5 and d["t"][-1] == 0.5 and 0.0 in d["t"]
    assert d["loss"][d["t"].index(0.0)] == d["loss0"]
    assert d["slope"] == pytest.approx(d["slope_autograd"], rel=1e-4, abs=1e-8)
    assert d["curvature"] == pytest.approx(d["curvature_autograd"], rel=1e-4)


@pytest.mark.slow
def test_probe_text_with_continue_reports_escape_and_control(failed_run):
    r = run("probe", str(failed_run), "--path", "feature", "--feature", "3", "--direction", "2",
            "--range", "0.2", "--points", "5", "--continue-steps", "500", "--at", "0.05")
    assert r.returncode == 0, r.stderr
    assert "path: W_3 + t·W_2" in r.stdout
    assert "slope" in r.stdout and "curvature" in r.stdout and "<- t = 0" in r.stdout
    assert "continued 500 steps from t = 0.05" in r.stdout and "control (t = 0" in r.stdout


@pytest.mark.parametrize("args, words", [
    (["--feature", "9"], ["--feature", "from 1 to n = 8, got 9"]),
    (["--direction", "sideways"], ["--direction", "angle:DEG or random"]),
    (["--range", "1,0"], ["--range", "a < b"]),
    (["--model", "2"], ["--model", "from 0 to 0"]),
])
@pytest.mark.slow
def test_bad_probe_input_is_one_line(failed_run, args, words):
    _one_line_error(run("probe", str(failed_run), *args), *words)


@pytest.mark.slow
def test_probe_of_a_missing_file_names_it(tmp_path):
    _one_line_error(run("probe", str(tmp_path / "nope.h5")), "nope.h5", "file not found")


@pytest.mark.slow
def test_datasize_refuses_sizes_that_do_not_fit_naming_t_and_the_estimate(tmp_path):
    out = tmp_path / "ds.h5"
    # the sets are kept sparse, so what does not fit is a large set of dense examples
    r = run("datasize", "--sizes", "3,5,2000000", "--sparsity", "0", "--test-examples", "100", "--out", str(out))
    _one_line_error(r, "--sizes", "T = 2000000", "GB", "would not fit in memory")
    assert "T = 3 " not in r.stderr and not out.exists()
    _one_line_error(run("datasize", "--sizes", "3,x"), "--sizes", "'x'")
    _one_line_error(run("datasize", "--sizes", "3", "--data", "identity"), "--data", "sparse")


@pytest.mark.slow
def test_datasize_json_small_run(tmp_path):
    from model.experiments.datasize import open_datasize

    out = tmp_path / "ds.h5"
    r = run("datasize", "--sizes", "3,100", "--n", "30", "--sparsity", "0.9", "--steps", "1200", "--warmup", "100",
            "--test-examples", "1000", "--out", str(out), "--json", "--threads", "1")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert [x["T"] for x in d["results"]] == [3, 100]
    assert d["base"]["n"] == 30 and d["base"]["schedule"] == "warmup-cosine"  # SMDD's schedule by default
    small = d["results"][0]
    assert small["train_loss"] < 0.3 * small["test_loss"]  # memorised
    back = open_datasize(out)
    assert [x.T for x in back.results] == [3, 100]
    assert back.results[0].train_loss[0] == pytest.approx(small["train_loss"], rel=1e-12)
    # the hidden vectors of the training examples, per model: h_t = W x_t, from the seeds' sets
    import numpy as np

    from model.training.data import model_dataset

    for res, T in zip(d["results"], (3, 100), strict=True):
        emb = np.array(res["embeddings"])
        assert emb.shape == (1, T, 2)
        X = model_dataset(0, T, 30, 0.9).astype(np.float64)
        W = back.by_T(T).W[0].astype(np.float64)
        np.testing.assert_allclose(emb[0], X @ W.T, rtol=1e-5, atol=1e-6)
        assert len(res["embedding_radius_cv"]) == 1 and len(res["embedding_gap_ratio"]) == 1


@pytest.mark.slow
def test_datasize_progress_shows_the_whole_sweep_and_the_time_left(tmp_path):
    r = run("datasize", "--sizes", "3,40", "--n", "30", "--sparsity", "0.9", "--steps", "3000", "--warmup", "100",
            "--test-examples", "200", "--threads", "1")
    assert r.returncode == 0, r.stderr
    frames = [f for f in r.stderr.replace("\r", "\n").splitlines() if f.strip()]
    assert any("[1/2] T = 3" in f for f in frames) and any("[2/2] T = 40" in f for f in frames)
    import re

    assert any(re.search(r"all sizes: about \d+ (s|min|h)", f) for f in frames)  # a number once T = 3 is timed
    assert "100%" in frames[-1]
    table = r.stdout.splitlines()
    assert "h radius cv" in table[0] and "h gap ratio" in table[0]


@pytest.mark.slow
def test_probe_out_saves_the_perturbed_model_as_a_run(failed_run, tmp_path, qtbot):
    """`probe --out`: the model at --at on the path, built here by hand (W_3 + t W_2, b unchanged),
    is what the run reader finds in the file, at the probed step; inspect and the window open it."""
    from app.gui.session import Session
    from model.storage.runfile import open_run

    out = tmp_path / "perturbed.h5"
    r = run("probe", str(failed_run), "--path", "feature", "--feature", "3", "--direction", "2", "--range", "0.5",
            "--points", "11", "--at", "0.2", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["saved"] == str(out)
    orig = open_run(failed_run).history.snapshot()
    W = orig.W.copy()
    W[:, 2] += 0.2 * orig.W[:, 1]
    got = open_run(out)
    assert len(got.history) == 1
    snap = got.history.snapshot()
    assert snap.step == orig.step == d["step"]
    np.testing.assert_allclose(snap.W, W, rtol=0, atol=1e-6)  # float32 in the file
    np.testing.assert_array_equal(snap.b, orig.b)
    assert got.config.models == 1 and got.config.n == 8
    ins = run("inspect", str(out), "--json")
    assert ins.returncode == 0, ins.stderr
    # the loss the file records is the perturbed model's (the probe's curve at t = 0.2)
    i = int(np.argmin(np.abs(np.array(d["t"]) - 0.2)))
    assert d["t"][i] == pytest.approx(0.2) and json.loads(ins.stdout)["loss"] == pytest.approx(d["loss"][i], rel=1e-5)
    s = Session()
    try:
        assert s.open(out) and s.history.latest_step == orig.step
    finally:
        s.shutdown(2.0)
    # an existing --out is refused before anything runs
    _one_line_error(run("probe", str(failed_run), "--out", str(out)), "--out", "already exists")


@pytest.mark.slow
def test_probe_out_with_continue_saves_the_continued_training(failed_run, tmp_path):
    from model.storage.runfile import open_run

    out = tmp_path / "continued.h5"
    r = run("probe", str(failed_run), "--path", "bias", "--feature", "3", "--range", "0.5", "--points", "5",
            "--continue-steps", "300", "--at", "0.1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert f"run saved: {out} (the perturbed model (t = 0.1) after 300 more steps)" in r.stdout
    orig = open_run(failed_run).history.snapshot()
    h = open_run(out).history
    assert h.first_step == 0 and h.latest_step == 300
    first = h.snapshot(step=0)
    b = orig.b.copy()
    b[2] += 0.1  # the bias path: b_3 + t
    np.testing.assert_allclose(first.b, b, rtol=0, atol=1e-6)
    np.testing.assert_allclose(first.W, orig.W, rtol=0, atol=1e-6)


@pytest.mark.parametrize("args, words", [
    (["--at", "0.1"], ["--at", "--continue-steps or --out"]),
    (["--force"], ["--force", "--out or --figure"]),
    (["--figure", "x.txt"], ["--figure", ".png, .svg, .pdf"]),
])
@pytest.mark.slow
def test_probe_out_and_figure_flags_are_checked(failed_run, args, words):
    _one_line_error(run("probe", str(failed_run), *args), *words)


@pytest.mark.slow
def test_probe_figure_writes_the_probe_view(failed_run, tmp_path):
    out = tmp_path / "probe.png"
    r = run("probe", str(failed_run), "--path", "bias", "--range", "0.5", "--points", "11", "--figure", str(out))
    assert r.returncode == 0, r.stderr
    assert f"figure saved: {out}" in r.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
