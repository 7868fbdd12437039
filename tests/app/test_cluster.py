"""Sweeps and dataset-size sweeps on Ray (--cluster): the same results and files as in
process, retries of a lost worker, cancel, and one clear line for every bad input. Ray is
optional (requirements-cluster.txt): the tests that need it skip, saying so, without it."""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.app.test_cli import ROOT, run
from tests.app.test_cli_experiments import _one_line_error

HAVE_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason="Ray is not installed (optional: pip install -r "
                                                    "requirements-cluster.txt); the cluster path is not tested")
SWEEP = ["--n", "5", "--models", "8", "--steps", "400", "--grid", "n=5,6", "--grid", "lr=1e-3,3e-3"]
DATASIZE = ["--sizes", "3,10,40", "--n", "30", "--sparsity", "0.9", "--steps", "400", "--warmup", "40",
            "--test-examples", "200"]


def _python(code: str, timeout=300, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, env=env)


@pytest.mark.slow
def test_ray_is_imported_only_when_a_run_asks_for_a_cluster(tmp_path):
    """Even an attempt to import it is caught (whether Ray is installed or not)."""
    r = _python(f"""
        import sys
        asked = []
        class Spy:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "ray":
                    asked.append(name)
                return None
        sys.meta_path.insert(0, Spy())
        from app.cli import main
        assert main(["sweep", "--n", "5", "--models", "2", "--steps", "20", "--quiet", "--out", r"{tmp_path / 's.h5'}"]) == 0
        assert main(["datasize", "--sizes", "3", "--n", "30", "--steps", "20", "--warmup", "5", "--quiet",
                     "--test-examples", "50"]) == 0
        print("asked:", asked)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("asked: []")


@pytest.mark.parametrize("address, words", [
    ("127.0.0.1:1", ["no Ray cluster answers at 127.0.0.1:1"]),
    ("nowhere", ["must be 'local' or a Ray cluster address HOST:PORT", "'nowhere'"]),
])
@pytest.mark.parametrize("command", ["sweep", "datasize"])
@pytest.mark.slow
def test_a_cluster_that_does_not_answer_is_one_line_and_nothing_is_written(tmp_path, command, address, words):
    out = tmp_path / "x.h5"
    args = SWEEP if command == "sweep" else DATASIZE
    _one_line_error(run(command, *args, "--cluster", address, "--out", str(out)), "--cluster", *words)
    assert not out.exists()


@pytest.mark.parametrize("command", ["sweep", "datasize"])
@pytest.mark.slow
def test_ray_missing_is_one_line_and_nothing_is_written(tmp_path, command):
    fake = tmp_path / "fake" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no Ray here')\n")
    out = tmp_path / "x.h5"
    args = SWEEP if command == "sweep" else DATASIZE
    r = run(command, *args, "--cluster", "local", "--out", str(out), env_extra={"PYTHONPATH": str(fake.parent)})
    _one_line_error(r, "--cluster", "needs Ray, which is not installed", "requirements-cluster.txt")
    assert not out.exists()


@pytest.fixture(scope="module")
def on_ray(tmp_path_factory):
    """One local Ray session: a small sweep grid and a dataset-size sweep on it, and the same in
    process; a task whose worker dies the first time; a cancelled run."""
    d = tmp_path_factory.mktemp("cluster")
    r = _python(f"""
        import json, os
        import numpy as np
        from model.experiments import cluster
        from model.config import TrainConfig
        from model.experiments.datasize import DataSizeRunner, smdd_config
        from model.experiments.sweep import SweepRunner, parse_grid
        d = r"{d}"
        base = TrainConfig(n=5, models=8, steps=400)
        grid = parse_grid(["n=5,6", "lr=1e-3,3e-3"])
        ds_base = smdd_config(n=30, sparsity=0.9, steps=400, warmup=40)
        SweepRunner(base, grid, 8, out=d + "/sweep_here.h5", threads=1).run()
        DataSizeRunner(ds_base, [3, 10, 40], 200, out=d + "/ds_here.h5", threads=1).run()
        cluster.connect("local", cpus=2)
        reports = []
        cluster.run_sweep(SweepRunner(base, grid, 8, out=d + "/sweep_ray.h5"), "local", reports.append)
        cluster.run_datasize(DataSizeRunner(ds_base, [3, 10, 40], 200, out=d + "/ds_ray.h5"), "local",
                             reports.append)
        phases = sorted(set(p.phase for p in reports))
        # a worker that dies the first time it runs the task: Ray runs the task again
        from tests.app.test_cluster import crash_once
        run = cluster.ClusterRun()
        run.submit(crash_once, "the crashing point", d + "/crashed-once")
        got = []
        assert run.run(lambda i, blob: got.append(cluster.unpack_result(blob)))
        # cancel: a long sweep stops, what finished is kept
        long = SweepRunner(TrainConfig(n=6, models=4, steps=10**7), parse_grid(["n=6,7"]), 4,
                           out=d + "/cancelled.h5")
        import threading
        seen = []  # the runner's cancel reaches the cluster run: ClusterRun.request_cancel is called
        orig_cancel = cluster.ClusterRun.request_cancel
        cluster.ClusterRun.request_cancel = lambda self: (seen.append(True), orig_cancel(self))[1]
        threading.Timer(3.0, long.request_cancel).start()
        sw = cluster.run_sweep(long, "local")
        cancel_seen = bool(seen)
        from model.experiments.sweep import open_sweep
        kept = os.path.exists(d + "/cancelled.h5") and open_sweep(d + "/cancelled.h5")
        kept = [kept.cancelled, len(kept.entries)] if kept else None
        cluster.shutdown()
        print(json.dumps({{"phases": phases, "retried": got[0][0], "crashed": os.path.exists(d + "/crashed-once"),
                          "cancelled": sw.cancelled, "done": len(sw.entries), "cancel_seen": cancel_seen,
                          "kept": kept}}))
    """, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return d, json.loads(r.stdout.strip().splitlines()[-1])


def crash_once(marker, threads, board, key):
    """A task whose worker process dies the first time (a lost node), then succeeds."""
    from model.experiments.cluster import pack_result

    if not os.path.exists(marker):
        Path(marker).write_text("crashed")
        os._exit(1)
    return pack_result({"attempt": "after the crash", "key": key}, {"x": np.arange(3)})


@needs_ray
def test_a_small_grid_on_local_ray_equals_the_in_process_run(on_ray):
    from model.experiments.datasize import open_datasize
    from model.experiments.sweep import open_sweep

    d, info = on_ray
    here, ray = open_sweep(d / "sweep_here.h5"), open_sweep(d / "sweep_ray.h5")
    assert len(here.entries) == len(ray.entries) == 4 and not ray.cancelled
    for a, b in zip(here.entries, ray.entries, strict=True):
        assert a.grid == b.grid and a.config == b.config and a.step == b.step
        for name in ("W", "b", "loss", "halted"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert list(a.verdicts) == list(b.verdicts)
    here, ray = open_datasize(d / "ds_here.h5"), open_datasize(d / "ds_ray.h5")
    assert [r.T for r in ray.results] == [3, 10, 40] and not ray.cancelled
    for a, b in zip(here.results, ray.results, strict=True):
        assert a.T == b.T and a.config == b.config and a.step == b.step
        for name in ("W", "b", "train_loss", "test_loss", "recorded_loss", "feature_dims", "data_dims", "H"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert "train" in info["phases"] and "done" in info["phases"]  # progress came from the workers


@needs_ray
def test_a_lost_worker_is_retried_and_cancel_keeps_what_finished(on_ray):
    d, info = on_ray
    assert info["crashed"] and info["retried"] == {"attempt": "after the crash", "key": 0}
    # the cancel was honoured: it reached the cluster run and the sweep stopped before its two points of
    # 10^7 steps finished (ignored, they would run to the end and both be done); what finished is on disk,
    # marked cancelled (nothing finished: nothing written)
    assert info["cancelled"] and info["cancel_seen"] and info["done"] < 2
    assert info["kept"] == ([True, info["done"]] if info["done"] else None)
