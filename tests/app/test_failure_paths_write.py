"""The writers' failure paths, as a user meets them: real processes, a real full disk
(a small tmpfs), a real Ctrl+C (SIGINT), a real kill -9, files that exist, closed pipes.

Every failure is one line on stderr (no traceback) with exit status 1 (the machine:
a full disk) or 2 (the input); nothing half-written is left under the target's name
(no hidden temporary file either, except beside a process killed with -9); what was
complete before is still readable. Ctrl+C stops the command, keeps what is complete,
says so in one line and exits 130.

The full-disk tests mount a 1 MiB tmpfs, which needs root; elsewhere they are skipped
and say so. Timeouts below are generous limits for a loaded machine, not timing claims.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from model.config import TrainConfig
from model.storage.runfile import open_run

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "main.py")


def _env(**extra):
    env = dict(os.environ, **extra)
    env.setdefault("QT_QPA_PLATFORM", "offscreen") if not env.get("DISPLAY") else None
    return env


def cli(*args, timeout=240, **env):
    return subprocess.run([sys.executable, MAIN, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, env=_env(**env))


#: the children start() made; a test that fails while one still runs must not leave it training
#: (a sweep of 10^8 steps) beside the rest of the suite
_CHILDREN: list = []


def start(*args, **env):
    proc = subprocess.Popen([sys.executable, MAIN, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT, env=_env(**env))
    _CHILDREN.append(proc)
    return proc


@pytest.fixture(autouse=True)
def no_child_outlives_its_test():
    yield
    while _CHILDREN:
        proc = _CHILDREN.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def one_clean_line(stderr: str) -> str:
    """The last line of stderr (progress bars share it with \\r), after asserting no traceback."""
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-3000:]
    lines = [ln for ln in re.split(r"[\r\n]", stderr) if ln.strip()]
    assert lines, "nothing said"
    return lines[-1]


def hidden_parts(folder) -> list:
    return sorted(p.name for p in Path(folder).iterdir() if ".part" in p.name)


class Reader:
    """Reads a child's stderr without blocking, so a test can wait for a line in it."""

    def __init__(self, proc):
        import threading

        self.proc, self.text = proc, ""
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self):
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):
            self.text += chunk.decode("utf-8", "replace")

    def wait_for(self, pattern, timeout=120.0):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text):
            assert self.proc.poll() is None, f"exited {self.proc.returncode} before {pattern!r}: {self.text[-2000:]}"
            assert time.monotonic() < deadline, f"no {pattern!r} within {timeout} s: {self.text[-2000:]}"
            time.sleep(0.02)

    def finish(self, timeout=120.0):
        rc = self.proc.wait(timeout=timeout)
        self._t.join(10)
        self.out = self.proc.stdout.read().decode("utf-8", "replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc


def interrupt(reader: Reader, timeout=120.0) -> int:
    reader.proc.send_signal(signal.SIGINT)
    return reader.finish(timeout)


@pytest.fixture(autouse=True)
def no_tqdm_monitor(monkeypatch):
    """tqdm starts a monitor thread with its first bar, even a disabled one (--quiet), and it
    outlives the command by up to 10 s: the in-process CLI calls here would leave it running."""
    import tqdm

    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)


@pytest.fixture(scope="module")
def run7(tmp_path_factory):
    """A small finished run (n = 7) to export, animate and probe."""
    p = tmp_path_factory.mktemp("run") / "run7.h5"
    r = cli("train", "--n", "7", "--steps", "300", "--quiet", "--out", p)
    assert r.returncode == 0, r.stderr
    return p


# ------------------------------------------------------------------ full disk
@pytest.fixture
def disk(tmp_path):
    """A real 1 MiB file system (tmpfs), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs a tmpfs mount, which needs root")
    d = tmp_path / "disk"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


def fill(disk, leave: int = 0):
    """Fill ``disk`` with a ballast file until about ``leave`` bytes are free."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    with open(disk / "ballast", "wb") as fh:
        try:
            fh.write(b"\0" * max(0, free - leave))
        except OSError:
            pass


def assert_disk_full(r, target):
    line = one_clean_line(r.stderr)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "disk is full" in line and str(Path(target).name) in line, line
    return line


@pytest.mark.slow
def test_train_on_a_disk_that_fills_keeps_the_snapshots_written_before(disk):
    out = disk / "r.h5"
    r = cli("train", "--n", "7", "--steps", "3000000", "--quiet", "--out", out)
    line = assert_disk_full(r, out)
    m = re.search(r"the ([\d,]+) snapshot\(s\) up to step ([\d,]+) are kept", line)
    assert m, line
    run = open_run(out)  # readable, with what the message says
    assert len(run.history) == int(m.group(1).replace(",", "")) >= 1
    assert run.history.latest_step == int(m.group(2).replace(",", ""))
    assert hidden_parts(disk) == []


@pytest.mark.slow
def test_train_on_a_full_disk_leaves_no_file_and_a_retry_says_the_disk_is_full(disk):
    fill(disk)
    out = disk / "r.h5"
    for _ in range(2):  # the retry meets the same full disk, not "the file already exists"
        r = cli("train", "--n", "7", "--steps", "50", "--quiet", "--out", out)
        assert_disk_full(r, out)
        assert not out.exists() and hidden_parts(disk) == []


@pytest.mark.slow
def test_train_force_on_a_full_disk_keeps_the_old_run(disk, run7):
    out = disk / "r.h5"
    out.write_bytes(run7.read_bytes())
    before = out.read_bytes()
    fill(disk)
    r = cli("train", "--n", "7", "--steps", "50", "--quiet", "--force", "--out", out)
    assert_disk_full(r, out)
    assert out.read_bytes() == before and hidden_parts(disk) == []


@pytest.mark.slow
def test_sweep_on_a_disk_that_fills_keeps_the_configurations_saved_before(disk):
    from model.experiments.sweep import open_sweep

    out = disk / "s.h5"
    # each configuration adds about 200 kB to the file (W and b of 250 models of n = 64), and a
    # save needs the old file and the new one side by side: 500 kB hold the first save only
    fill(disk, leave=500_000)
    r = cli("sweep", "--n", "64", "--models", "250", "--steps", "20", "--grid", "lr=1e-3,2e-3", "--quiet",
            "--out", out)
    assert_disk_full(r, out)
    s = open_sweep(out)
    assert len(s.entries) == 1 and s.entries[0].K == 250 and hidden_parts(disk) == []


@pytest.mark.slow
def test_datasize_on_a_disk_that_fills_keeps_the_sizes_saved_before(disk):
    from model.experiments.datasize import open_datasize

    out = disk / "d.h5"
    # each size adds about 330 kB (W, b and the feature dimensions of 40 models of n = 400), and
    # a save needs the old file and the new one side by side: 500 kB hold the first save only
    fill(disk, leave=500_000)
    r = cli("datasize", "--n", "400", "--models", "40", "--sizes", "3,5", "--steps", "5", "--warmup", "2",
            "--test-examples", "50", "--quiet", "--out", out)
    assert_disk_full(r, out)
    d = open_datasize(out)
    assert [x.T for x in d.results][:1] == [3] and hidden_parts(disk) == []


@pytest.mark.slow
def test_export_on_a_full_disk_is_one_line_with_the_reason_and_keeps_the_old_figure(disk, run7):
    out = disk / "fig.png"
    out.write_bytes(b"an older figure")
    fill(disk)
    r = cli("export", run7, "--view", "figure", "--size", "1600x1200", "--force", "--out", out)
    assert_disk_full(r, out)
    assert "libpng" not in r.stderr
    assert out.read_bytes() == b"an older figure" and hidden_parts(disk) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["a.mp4", "a.gif"])
def test_animate_on_a_full_disk_writes_nothing_and_says_so(disk, run7, name):
    out = disk / name
    fill(disk, leave=20_000)
    r = cli("animate", run7, "--view", "zones", "--frames", "30", "--size", "320x240", "--quiet", "--out", out)
    assert_disk_full(r, out)
    assert "wrote" not in r.stdout and not out.exists() and hidden_parts(disk) == []


# ------------------------------------------------------------------- Ctrl+C
@pytest.mark.slow
def test_ctrl_c_in_train_keeps_the_history_and_exits_130(tmp_path):
    out = tmp_path / "r.h5"
    rd = Reader(start("train", "--n", "7", "--steps", "100000000", "--out", out))
    rd.wait_for(r"\d{3,}/100000000")  # training is under way
    assert interrupt(rd) == 130
    line = one_clean_line(rd.text)
    m = re.search(r"interrupted at step ([\d,]+) of 100,000,000: the history up to step ([\d,]+) is saved in", line)
    assert m, line
    run = open_run(out)
    assert run.history.latest_step == int(m.group(2).replace(",", "")) > 0


def test_ctrl_c_in_train_before_the_first_snapshot_saves_nothing(tmp_path, capsys, monkeypatch):
    """A real SIGINT, delivered (in this process) just as training starts: the handler asks the
    engine to stop before its first chunk, so nothing was recorded and no file appears."""
    import model.training.engine
    from app.cli import main

    run = model.training.engine.Trainer.run

    def sigint_then_run(self, *a, **k):
        os.kill(os.getpid(), signal.SIGINT)
        return run(self, *a, **k)

    monkeypatch.setattr(model.training.engine.Trainer, "run", sigint_then_run)
    out = tmp_path / "r.h5"
    assert main(["train", "--n", "7", "--steps", "1000", "--quiet", "--out", str(out)]) == 130
    assert capsys.readouterr().err.strip() == "main.py train: interrupted before the first snapshot: nothing was saved"
    assert list(tmp_path.iterdir()) == []  # no file, no hidden one
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


@pytest.mark.slow
def test_ctrl_c_in_a_sweep_keeps_the_finished_configurations(tmp_path):
    from model.experiments.sweep import open_sweep

    out = tmp_path / "s.h5"
    rd = Reader(start("sweep", "--n", "7", "--models", "4", "--grid", "steps=50,100000000", "--out", out))
    # "[2/2] steps=100000000 train; all: about 6 min left:  23%|...| 22624746/100000000"
    rd.wait_for(r"\[2/2\] steps=100000000 train[;:][^%]*?\d+%\|.*\| *\d{3,}/")
    assert interrupt(rd) == 130
    line = one_clean_line(rd.text)
    assert line == f"main.py sweep: interrupted: 1 of 2 configuration(s) finished and saved in {out}", line
    s = open_sweep(out)
    assert s.cancelled and len(s.entries) == 1 and s.entries[0].config.steps == 50


@pytest.mark.slow
def test_ctrl_c_in_a_sweep_with_nothing_finished_says_nothing_was_saved(tmp_path):
    out = tmp_path / "s.h5"
    rd = Reader(start("sweep", "--n", "7", "--models", "4", "--steps", "100000000", "--out", out))
    rd.wait_for(r"train: +\d+%\|.*\| *\d{3,}/")
    assert interrupt(rd) == 130
    assert one_clean_line(rd.text) == "main.py sweep: interrupted: 0 of 1 configuration(s) finished; nothing was saved"
    assert not out.exists() and hidden_parts(tmp_path) == []


@pytest.mark.slow
def test_ctrl_c_in_datasize_keeps_the_finished_sizes(tmp_path):
    from model.experiments.datasize import open_datasize

    out = tmp_path / "d.h5"
    # T = 3 takes a moment; T = 100,000 at SMDD's n = 10,000 and S = 0.999 (about 10^6 non-zeros a
    # step) takes minutes even on the compiled sparse path: Ctrl+C comes during it
    rd = Reader(start("datasize", "--n", "10000", "--sizes", "3,100000", "--steps", "2000", "--warmup", "10",
                      "--test-examples", "100", "--out", out))
    rd.wait_for(r"\[2/2\] T = 100,?000")
    assert interrupt(rd) == 130
    line = one_clean_line(rd.text)
    assert line == f"main.py datasize: interrupted: 1 of 2 size(s) finished and saved in {out}", line
    d = open_datasize(out)
    assert d.cancelled and [x.T for x in d.results] == [3]


@pytest.mark.slow
def test_ctrl_c_in_probe_continue_steps_reports_the_probe_and_exits_130(run7):
    import json

    rd = Reader(start("probe", run7, "--continue-steps", "10000000", "--at", "0.1", "--json"))
    rd.wait_for(r"perturbed: +\d+%\|.*\| *\d{3,}/")
    assert interrupt(rd) == 130
    line = one_clean_line(rd.text)
    assert re.fullmatch(r"main\.py probe: interrupted: the continued training stopped at step [\d,]+ of 10,000,000 "
                        r"and is not reported; the probe above is complete", line), line
    d = json.loads(rd.out)  # the probe itself, complete; no half continuation
    assert "continue" not in d and np.isfinite(d["slope"]) and len(d["loss"]) == 101


@pytest.mark.slow
def test_ctrl_c_in_animate_writes_nothing_and_exits_130(run7, tmp_path):
    out = tmp_path / "a.mp4"
    rd = Reader(start("animate", run7, "--view", "zones", "--frames", "5000", "--size", "320x240", "--out", out))
    rd.wait_for(r"\| *\d{2,}/5000")  # frames are being rendered and encoded
    assert interrupt(rd) == 130
    line = one_clean_line(rd.text)
    assert re.fullmatch(rf"main\.py animate: interrupted after \d+ of 5000 frames: nothing was written to {re.escape(str(out))}",
                        line), line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_ctrl_c_in_export_writes_nothing_and_exits_130(run7, tmp_path):
    """Ctrl+C while the figure is painted (inside Qt, where a KeyboardInterrupt would be
    swallowed): the child's memory jumps when it allocates the 8192 x 8192 image it paints."""
    out = tmp_path / "big.png"
    p = start("export", run7, "--view", "figure", "--panels", "wheel,zones,gram,bias", "--size", "8192x8192",
              "--out", out)
    rd = Reader(p)
    deadline = time.monotonic() + 180
    while True:
        with open(f"/proc/{p.pid}/statm") as fh:
            rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        if rss > 700 * 2**20:  # the 256 MB image exists and is being painted (about 370 MB before)
            break
        assert p.poll() is None and time.monotonic() < deadline, rd.text[-2000:]
        time.sleep(0.01)
    assert interrupt(rd) == 130
    assert one_clean_line(rd.text) == f"main.py export: interrupted: nothing was written to {out}"
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------- kill -9
def _kill_when(proc, cond, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None and time.monotonic() < deadline, "the child ended or never got there"
        time.sleep(0.002)
    proc.kill()
    proc.wait(timeout=60)
    proc.stdout.close()
    proc.stderr.close()


def _readable_with_a_snapshot_or_absent(path):
    if path.exists():
        run = open_run(path)
        assert len(run.history) >= 1 and run.history.latest_step is not None
        return len(run.history)
    return 0


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["hidden file made", "file appears", "after a second of training"])
def test_kill_9_of_train_leaves_no_run_file_without_a_snapshot(tmp_path, moment):
    out = tmp_path / "r.h5"
    p = start("train", "--n", "7", "--steps", "100000000", "--out", out)
    if moment == "hidden file made":  # the run's first moments: the file is not under its name yet
        _kill_when(p, lambda: hidden_parts(tmp_path) != [] or out.exists())
    elif moment == "file appears":
        _kill_when(p, out.exists)
    else:
        t = []
        _kill_when(p, lambda: out.exists() and (t.append(time.monotonic()) or time.monotonic() - t[0] > 1.0))
    n = _readable_with_a_snapshot_or_absent(out)
    if moment != "hidden file made":
        assert n >= 1


WINDOW_KILLS = ["hidden file made", "file appears", "after a second of training"]


@pytest.mark.slow
@pytest.mark.parametrize("moment", WINDOW_KILLS)
def test_kill_9_of_the_window_leaves_autosaves_with_a_snapshot(tmp_path, moment):
    if not os.environ.get("DISPLAY"):
        pytest.skip("the window needs an X server (run under scripts/xdisplay.sh)")
    env = {"LGE_DATA_DIR": str(tmp_path), "LGE_SETTINGS_ORG": f"lge-test-kill-{os.getpid()}-{moment[:4]}"}
    p = subprocess.Popen([sys.executable, MAIN], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                         env={k: v for k, v in dict(os.environ, **env).items() if k != "QT_QPA_PLATFORM"})
    runs = tmp_path / "runs"

    def files():
        return sorted(runs.glob("run-*.h5")) if runs.is_dir() else []

    if moment == "hidden file made":
        _kill_when(p, lambda: runs.is_dir() and (hidden_parts(runs) != [] or files() != []))
    elif moment == "file appears":
        _kill_when(p, lambda: files() != [])
    else:
        t = []
        _kill_when(p, lambda: files() != [] and (t.append(time.monotonic()) or time.monotonic() - t[0] > 1.0))
    for f in files():
        assert _readable_with_a_snapshot_or_absent(f) >= 1
    if moment != "hidden file made":
        assert files()


# ---------------------------------------------------------- files that exist
@pytest.mark.slow
def test_no_writer_replaces_a_file_unasked_and_force_replaces_it(tmp_path, run7, capsys, monkeypatch):
    from app.cli import main

    keep = run7.read_bytes()
    cases = [
        ("train", ["train", "--n", "5", "--steps", "20", "--quiet"], ".h5"),
        ("sweep", ["sweep", "--n", "5", "--steps", "20", "--models", "2", "--quiet"], ".h5"),
        ("datasize", ["datasize", "--n", "20", "--sizes", "3", "--steps", "20", "--warmup", "2",
                      "--test-examples", "20", "--quiet"], ".h5"),
        ("export", ["export", str(run7), "--view", "zones", "--size", "100x80"], ".png"),
        ("animate", ["animate", str(run7), "--view", "zones", "--frames", "2", "--size", "100x80", "--quiet"], ".gif"),
    ]
    for name, args, ext in cases:
        out = tmp_path / f"{name}{ext}"
        out.write_bytes(keep)
        assert main(args + ["--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.strip() == f"main.py {name}: --out: {out} already exists; pass --force to replace it", (name, err)
        assert out.read_bytes() == keep, name
    # set for this test only: left in os.environ, it made later in-process exports of the 3D
    # view refuse for want of a display instead of naming their bad argument
    monkeypatch.setenv("QT_QPA_PLATFORM", os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    for name, args, ext in cases[:3]:  # and --force replaces (export/animate: tests/app/test_export.py)
        out = tmp_path / f"{name}{ext}"
        assert main(args + ["--out", str(out), "--force"]) == 0, capsys.readouterr().err
        assert out.read_bytes() != keep
    capsys.readouterr()
    assert hidden_parts(tmp_path) == []


def test_train_out_a_folder_says_it_is_a_folder(tmp_path, capsys):
    from app.cli import main

    d = tmp_path / "runs.h5"
    d.mkdir()
    assert main(["train", "--n", "5", "--steps", "5", "--out", str(d)]) == 2
    assert capsys.readouterr().err.strip() == f"main.py train: --out: cannot write {d}: it is a folder"


# ------------------------------------------------------------------ memory
@pytest.mark.parametrize("args, field", [
    (["--n", "100000", "--batch", "1000", "--backend", "torch"], "--n"),  # the torch path's (n, n) one-hot data: 40 GB
    # (the compiled paths hold nothing of size n^2: there n = 100,000 in minibatches of 1,000 trains)
    # sparse sets are kept sparse: 10^7 examples of n = 10^5 at S = 0.9 hold 10^11 non-zeros (> 1 TB)
    (["--data", "sparse", "--examples", "10000000", "--n", "100000", "--sparsity", "0.9"], "--examples"),
    # the history's fewest snapshots (80 GB each) pass its budget: the advice is fewer models, not a budget
    (["--models", "1000000", "--n", "10000"], "--models"),
])
def test_train_that_cannot_fit_in_memory_is_refused_before_anything(tmp_path, capsys, args, field):
    from app.cli import main

    out = tmp_path / "m.h5"
    assert main(["train", *args, "--steps", "10", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"main.py train: {field}: ") and "would need about" in err and "\n" not in err, err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_allocation_that_still_fails_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    import model.training.engine
    from app.cli import main

    def no_memory(*a, **k):
        raise MemoryError

    monkeypatch.setattr(model.training.engine.Trainer, "train_chunk", no_memory)
    out = tmp_path / "m.h5"
    assert main(["train", "--n", "5", "--steps", "10", "--quiet", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("main.py train: out of memory") and "\n" not in err
    assert list(tmp_path.iterdir()) == []  # nothing was recorded: no file


# ------------------------------------------------------------------- pipes
@pytest.mark.parametrize("args", [["inspect", "{run}", "--json"], ["train", "--n", "5", "--steps", "30", "--quiet",
                                                                     "--out", "{tmp}/p.h5"]])
@pytest.mark.slow
def test_a_closed_output_pipe_ends_quietly(run7, tmp_path, args):
    args = [a.format(run=run7, tmp=tmp_path) for a in args]
    r, w = os.pipe()
    os.close(r)  # the reader is gone before the first line (`... | true`)
    p = subprocess.run([sys.executable, MAIN, *args], stdout=w, stderr=subprocess.PIPE, cwd=ROOT, timeout=120,
                       env=_env())
    os.close(w)
    err = p.stderr.decode()
    assert p.returncode == 1 and "Traceback" not in err and "BrokenPipe" not in err and "Exception" not in err, err
    if args[0] == "train":
        assert len(open_run(tmp_path / "p.h5").history) >= 1  # the run was saved before the output


# ---------------------------------------------------------------- smaller
def test_a_sparse_fresh_data_sweep_runs_end_to_end(tmp_path, capsys):
    from app.cli import main
    from model.experiments.sweep import open_sweep

    out = tmp_path / "s.h5"
    assert main(["sweep", "--data", "sparse", "--steps", "20", "--models", "2", "--quiet", "--out", str(out)]) == 0
    assert f"sweep saved: {out}" in capsys.readouterr().out
    s = open_sweep(out)
    assert len(s.entries) == 1 and s.entries[0].K == 2 and np.isfinite(s.entries[0].loss).all()
    assert s.entries[0].config.data == "sparse" and s.entries[0].config.examples is None


def test_sweep_help_shows_a_plain_percent_sign():
    r = cli("sweep", "--help")
    assert r.returncode == 0 and "95% intervals" in r.stdout and "%%" not in r.stdout


def test_memory_estimate_is_one_function_for_train_sweep_and_datasize():
    from model.experiments import datasize, sweep
    from model.training import engine

    cfg = TrainConfig(n=1000, data="sparse", sparsity=0.99, examples=500, models=10, steps=100)
    parts = engine.memory_parts(cfg)
    # the finite sets: dense as train and the window hold them (for the run file and the
    # analysis), their CSR conversion, and the compiled path's own sparse copy (O(non-zeros))
    dense, nnz = 4 * 10 * 500 * 1000, 10 * 500 * 1000 * 0.01
    assert parts["examples"] == int(dense + 32 * nnz + 8 * (10 * 500 + 1) + engine.sparse_data_bytes(cfg, 500))
    assert engine.sparse_data_bytes(cfg, 500) < 0.5 * dense  # (its CSR is 12 bytes a non-zero: 0.6 MB; a set drawn densely: 8.5 MB)
    assert sweep.memory_estimate(cfg) == engine.memory_estimate(cfg.replace(history_budget_mb=sweep.SWEEP_HISTORY_MB))
    d = datasize.memory_estimate(cfg, 500, 2000) - engine.memory_estimate(
        cfg.replace(examples=500, batch=None, history_budget_mb=datasize.DATASIZE_HISTORY_MB), held=False)
    assert 0 < d < 2**30  # the measurement's own share on top


@pytest.mark.slow
def test_a_sweep_with_a_config_that_cannot_fit_leaves_the_existing_file(tmp_path, run7, capsys):
    from app.cli import main

    out = tmp_path / "s.h5"
    out.write_bytes(run7.read_bytes())
    assert main(["sweep", "--n", "100000", "--models", "100000", "--steps", "5", "--force", "--out", str(out)]) == 2
    assert "would need about" in capsys.readouterr().err
    assert out.read_bytes() == run7.read_bytes()


# ------------------------------------------------------------------- window
@pytest.mark.slow
def test_the_window_s_autosave_on_a_disk_that_fills_stops_but_training_goes_on(qtbot, disk, monkeypatch):
    """The session's autosave meets a full disk: one message (a dialog and the status line),
    the snapshots written before stay readable, and training goes on in memory to the end."""
    pytest.importorskip("PyQt6")
    from app.gui.session import Session

    monkeypatch.setenv("LGE_DATA_DIR", str(disk))
    s = Session()
    errors, messages = [], []
    s.error.connect(lambda title, text: errors.append((title, text)))
    s.message.connect(messages.append)
    try:
        s.start(TrainConfig(n=7, steps=300_000, seed=0))
        path = s.run_path
        qtbot.waitUntil(lambda: s.state == "finished", timeout=180_000)
    finally:
        assert s.shutdown(timeout=5.0)
    assert s.history.latest_step == 300_000  # trained to the end, in memory
    assert [t for t, _ in errors] == ["Autosave stopped"], errors
    assert "disk is full" in errors[0][1] and any(m.startswith("autosave stopped:") for m in messages)
    run = open_run(path)  # what was written before the disk filled
    assert len(run.history) >= 1 and run.history.latest_step < 300_000
    assert hidden_parts(disk / "runs") == []


# ------------------------------------------------- names at the length limit (issue 21, item 10)
def _name_max(folder) -> int:
    return os.pathconf(folder, "PC_NAME_MAX")


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("sweep") / "s.h5"
    r = cli("sweep", "--n", "3", "--steps", "5", "--models", "2", "--quiet", "--out", p)
    assert r.returncode == 0, r.stderr
    return p


#: writer -> (argv before --out / --figure, the flag, the extension)
NAME_WRITERS = {
    "train": (["train", "--n", "5", "--steps", "5", "--quiet"], "--out", ".h5"),
    "sweep": (["sweep", "--n", "3", "--steps", "5", "--models", "2", "--quiet"], "--out", ".h5"),
    "datasize": (["datasize", "--n", "20", "--sizes", "3", "--steps", "5", "--warmup", "2", "--test-examples", "20",
                  "--quiet"], "--out", ".h5"),
    "probe --out": (["probe", "{run}", "--points", "5", "--at", "0.05"], "--out", ".h5"),
    "probe --figure": (["probe", "{run}", "--points", "5"], "--figure", ".png"),
    "export png": (["export", "{run}", "--view", "zones", "--size", "100x80"], "--out", ".png"),
    "export svg": (["export", "{run}", "--view", "wheel", "--size", "100x80"], "--out", ".svg"),
    "export pdf": (["export", "{run}", "--view", "bias", "--size", "100x80"], "--out", ".pdf"),
    "export sweep": (["export", "{sweep}", "--size", "400x300"], "--out", ".png"),
    "animate gif": (["animate", "{run}", "--view", "zones", "--frames", "2", "--size", "100x80", "--quiet"], "--out",
                    ".gif"),
    "animate mp4": (["animate", "{run}", "--view", "loss", "--frames", "2", "--size", "128x96", "--quiet"], "--out",
                    ".mp4"),
}


@pytest.mark.slow
@pytest.mark.parametrize("length", ["at the limit", "at the limit in UTF-8", "one byte over"])
@pytest.mark.parametrize("writer", list(NAME_WRITERS))
def test_a_name_at_the_length_limit_is_written_and_one_byte_more_is_one_line(tmp_path, run7, sweep_file, capsys,
                                                                           monkeypatch, writer, length):
    """A name of exactly NAME_MAX bytes (255 here) is a legal name: every writer writes it (its hidden
    temporary name is shortened to fit, and none is left); one byte more is refused in one line
    naming the lengths, exit 2, nothing written."""
    from app.cli import main

    monkeypatch.setenv("QT_QPA_PLATFORM", os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    monkeypatch.setenv("LGE_DATA_DIR", str(tmp_path / "data"))
    args, flag, ext = NAME_WRITERS[writer]
    args = [a.format(run=run7, sweep=sweep_file) for a in args]
    limit = _name_max(tmp_path)
    room = limit - len(ext) + (length == "one byte over")
    stem = "é" * (room // 2) + "x" * (room % 2) if "UTF-8" in length else "n" * room
    out = tmp_path / f"{stem}{ext}"
    assert len(os.fsencode(out.name)) == limit + (length == "one byte over")
    rc = main(args + [flag, str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if length == "one byte over":
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1, err
        assert f"the file name is too long ({limit + 1} bytes; this file system allows {limit})" in lines[0], lines[0]
        assert sorted(p.name for p in tmp_path.iterdir() if p.name != "data") == []
    else:
        assert rc == 0, err
        assert out.is_file() and out.stat().st_size > 0
        assert hidden_parts(tmp_path) == []


# ------------------------------------------------------- stale hidden files (issue 21, item 14)
def _wait_for_part(folder, proc, timeout=180.0):
    deadline = time.monotonic() + timeout
    while not hidden_parts(folder):
        assert proc.poll() is None and time.monotonic() < deadline, "no hidden file appeared"
        time.sleep(0.005)
    return hidden_parts(folder)


@pytest.mark.slow
@pytest.mark.parametrize("writer", ["train", "animate"])
def test_a_part_file_left_by_kill_9_is_removed_by_the_next_writer(tmp_path, run7, writer):
    """kill -9 leaves the writer's hidden file (nothing can remove it then); the next writer in that
    folder finds that no process with its id and start time runs, and removes it."""
    args = (["train", "--n", "7", "--steps", "100000000", "--out", tmp_path / "r.h5"] if writer == "train" else
            ["animate", run7, "--view", "zones", "--frames", "300", "--size", "640x480", "--quiet", "--out",
             tmp_path / "a.mp4"])
    for _ in range(5):  # train publishes its file after its first chunk: kill it before that
        p = start(*args)
        parts = _wait_for_part(tmp_path, p)
        _kill_when(p, lambda: True)
        left = hidden_parts(tmp_path)
        if left:
            break
        (tmp_path / "r.h5").unlink()
    assert left and set(parts) <= set(left), (parts, left)
    m = re.match(r"^\.(r|a)\.(\d+)-(\d+)-[0-9a-f]{6}-[0-9a-f]{4}\.part\.(h5|mp4)$", left[0])
    assert m and int(m.group(2)) == p.pid, left  # the writer's own id is in the name
    r = cli("train", "--n", "5", "--steps", "5", "--quiet", "--out", tmp_path / "next.h5")
    assert r.returncode == 0, r.stderr
    assert hidden_parts(tmp_path) == [], hidden_parts(tmp_path)


@pytest.mark.slow
def test_a_live_writer_s_part_file_is_never_removed(tmp_path, run7):
    """While an animation encodes into its hidden file, another writer in the same folder leaves it
    alone; the animation, interrupted afterwards, removes its own and writes nothing."""
    rd = Reader(start("animate", run7, "--view", "zones", "--frames", "3000", "--size", "640x480", "--quiet",
                      "--out", tmp_path / "a.mp4"))
    parts = _wait_for_part(tmp_path, rd.proc)
    r = cli("export", run7, "--view", "zones", "--size", "100x80", "--out", tmp_path / "f.png")
    assert r.returncode == 0, r.stderr
    running = rd.proc.poll() is None and not (tmp_path / "a.mp4").exists()
    assert running, "the animation ended before the other writer ran: nothing was shown"
    assert set(parts) <= set(hidden_parts(tmp_path)), (parts, hidden_parts(tmp_path))
    assert interrupt(rd, 300) == 130, rd.text[-2000:]
    assert hidden_parts(tmp_path) == [] and not (tmp_path / "a.mp4").exists()


def test_remove_stale_judges_only_names_it_can_tell_dead(tmp_path):
    """Removed: this machine's name of a process that is gone (a pid that runs, started at another
    time, is another process). Kept: this process's own, another machine's or namespace's, a
    name of another form, and a folder."""
    from model.storage import outfile

    # this process's PID-START-TAG, as its own temporary names carry it
    me = re.fullmatch(r"\.r\.(\d+)-(\d+)-([0-9a-f]{6})-[0-9a-f]{4}\.part\.h5",
                      outfile.temp_beside(tmp_path / "r.h5").name)
    if me is None:
        pytest.skip("no /proc: the writers' names carry no process id here")
    pid, start_, tag = me.groups()
    other_tag = "0" * 6 if tag != "0" * 6 else "1" * 6
    names = {
        f".r.{pid}-{int(start_) + 1}-{tag}-0a0a.part.h5": "removed",  # this pid, another start: a dead one's
        f".r.{2**22 + 7}-5-{tag}-0b0b.part.png": "removed",  # a pid beyond pid_max: nobody runs
        f".r.{pid}-{start_}-{tag}-0c0c.part.h5": "kept",  # this process: live
        f".r.{2**22 + 7}-5-{other_tag}-0d0d.part.h5": "kept",  # another machine or namespace
        ".r.1a2b3c4d.part.h5": "kept",  # the old form: no owner to ask
        "r.h5": "kept",
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / f".d.{2**22 + 7}-5-{tag}-0e0e.part").mkdir()
    gone = outfile.remove_stale(tmp_path)
    assert sorted(gone) == sorted(n for n, v in names.items() if v == "removed")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [n for n, v in names.items() if v == "kept"] + [f".d.{2**22 + 7}-5-{tag}-0e0e.part"])


# ------------------------------------------------- default names (issue 21, item 6)
@pytest.mark.parametrize("cmd", [["train", "--n", "7", "--steps", "300", "--quiet"],
                                 ["sweep", "--n", "5", "--models", "3", "--steps", "50", "--quiet"]],
                         ids=["train", "sweep"])
@pytest.mark.slow
def test_two_runs_started_in_the_same_second_get_two_default_names(tmp_path, cmd):
    """Without --out, two programs started together with the same config each write their own file
    in the data folder (the default name's random part): neither fails on the other's name."""
    env = {"LGE_DATA_DIR": str(tmp_path)}
    procs = [start(*cmd, **env) for _ in range(2)]
    outs = [(p.wait(timeout=600), p.stdout.read().decode(), p.stderr.read().decode()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert all(rc == 0 for rc, _, _ in outs), outs
    files = sorted((tmp_path / "runs").glob(f"{'run' if cmd[0] == 'train' else cmd[0]}-*.h5"))
    assert len(files) == 2, files
    said = sorted(re.search(r"saved: (\S+\.h5)", out).group(1) for _, out, _ in outs)
    assert said == sorted(map(str, files))


def test_two_windows_autosave_side_by_side(qtbot, tmp_path, monkeypatch):
    """Two sessions (two windows) that start the same experiment at once both autosave: the
    second does not stop its autosave on the first one's name."""
    from app.gui.session import Session

    monkeypatch.setenv("LGE_DATA_DIR", str(tmp_path))
    cfg = TrainConfig(n=7, steps=200)
    sessions = [Session(), Session()]
    said = []
    for s in sessions:
        s.message.connect(said.append)
    for s in sessions:
        s.start(cfg)
    qtbot.waitUntil(lambda: all(s.state == "finished" for s in sessions), timeout=120_000)
    for s in sessions:
        assert s.shutdown(5.0)
    assert not [m for m in said if "autosave stopped" in m], said
    files = sorted((tmp_path / "runs").glob("run-*.h5"))
    assert len(files) == 2 and all(len(open_run(f).history) > 1 for f in files), files


def test_the_window_on_a_data_disk_full_at_start_says_so_in_a_dialog(qtbot, disk, monkeypatch):
    """A data disk full before the run starts: autosave is disabled with one dialog (not only a
    status line), and the run trains in memory to its end."""
    pytest.importorskip("PyQt6")
    from app.gui.session import Session

    monkeypatch.setenv("LGE_DATA_DIR", str(disk))
    (disk / "runs").mkdir()
    fill(disk)
    s = Session()
    errors, messages = [], []
    s.error.connect(lambda title, text: errors.append((title, text)))
    s.message.connect(messages.append)
    try:
        s.start(TrainConfig(n=7, steps=500, seed=0))
        qtbot.waitUntil(lambda: s.state == "finished", timeout=120_000)
    finally:
        assert s.shutdown(timeout=5.0)
    assert [t for t, _ in errors] == ["Autosave disabled"], errors
    assert "disk is full" in errors[0][1] and "Save run as" in errors[0][1] and "\n" not in errors[0][1]
    assert s.history.latest_step == 500 and s.run_path is None
    assert [p.name for p in (disk / "runs").iterdir()] == []


@pytest.mark.slow
def test_a_budget_larger_than_a_short_run_can_fill_reserves_nothing_it_cannot_use(tmp_path):
    """--history-budget-mb 100000 --steps 5 (item 12): the history holds the 6 rows the run records,
    not a 100 GB reservation that failed 'out of memory' blaming n and --models; the same budget for
    a run long enough to fill it is refused before anything, naming --history-budget-mb."""
    out = tmp_path / "r.h5"
    r = cli("train", "--history-budget-mb", "100000", "--steps", "5", "--quiet", "--out", out)
    assert r.returncode == 0, r.stderr
    assert len(open_run(out).history) == 6
    r = cli("train", "--history-budget-mb", "100000", "--steps", "1000000000", "--quiet", "--out",
            tmp_path / "s.h5")
    line = one_clean_line(r.stderr)
    assert r.returncode == 2 and line.startswith("main.py train: --history-budget-mb: ") and "the history" in line
    assert not (tmp_path / "s.h5").exists()
