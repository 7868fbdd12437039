"""A corpus of bad files, generated here, refused by every reader: one line naming the file and
what is wrong, exit status 2, no traceback, nothing written, and never a hang.

Readers: the commands inspect, export, animate, probe and train --init-run; the sweep and
dataset-size file readers (model.sweep.open_sweep, model.datasize.open_datasize, which the
window's Experiments tabs use); the explorer window's Open (one dialog) and the Experiments
tabs' Open (one status line).

The commands and file readers run in one long-lived worker process (started once: the imports
take seconds), one case at a time with stdout and stderr captured at the file-descriptor level;
each case must answer within CASE_TIMEOUT_S or the worker is killed (a hang: a FIFO opened for
reading blocks until a writer comes) and the case fails. A real `main.py inspect FIFO` process
is checked the same way at the end.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CASE_TIMEOUT_S = 5.0  # the bound for one refusal; a hang never answers

# where each kind keeps a W array to damage
W_PATH = {"run": "history/W", "sweep": "configs/c0000/W", "datasize": "sizes/T000000003/W"}
KIND_NAME = {"run": "run file", "sweep": "sweep file", "datasize": "dataset-size sweep file"}


# ----------------------------------------------------------------- the corpus
def _good_files(folder: Path) -> dict:
    from model.config import TrainConfig
    from model.datasize import DataSizeRunner, smdd_config
    from model.engine import train
    from model.runfile import save_run
    from model.sweep import run_sweep

    tr = train(TrainConfig(n=5, m=2, steps=200, lr=1e-2, seed=0), threads=1)
    save_run(folder / "good-run.h5", tr.config, tr.history)
    run_sweep(TrainConfig(n=3, steps=5), None, 2, out=folder / "good-sweep.h5", threads=1)
    DataSizeRunner(smdd_config(n=20, steps=5, warmup=0), [3], test_examples=50, out=folder / "good-datasize.h5",
                   threads=1).run()
    return {k: folder / f"good-{k}.h5" for k in ("run", "sweep", "datasize")}


def _edit(src: Path, dst: Path, fn) -> Path:
    import h5py

    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        fn(f)
    return dst


def _replace_w(f, where: str, **create):
    ds = f[where]
    shape, dtype = ds.shape, ds.dtype
    del f[where]
    parent, name = where.rsplit("/", 1)
    f[parent].create_dataset(name, **{"shape": shape, "dtype": dtype, **create})
    return shape


def build_corpus(folder: Path) -> dict:
    """name -> (path, kind it damages or None for any reader, words one of which the message has)."""
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    good = _good_files(folder)
    fifo = folder / "pipe.fifo"  # the target of every external reference: reading it would block
    os.mkfifo(fifo)
    c = {}
    # files no reader may take, whatever it reads
    (folder / "zero-bytes.h5").write_bytes(b"")
    c["zero-bytes"] = (folder / "zero-bytes.h5", None, ["empty"])
    (folder / "random.h5").write_bytes(np.random.default_rng(11).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    c["random-bytes"] = (folder / "random.h5", None, ["not HDF5"])
    os.mkfifo(folder / "fifo.h5")
    c["fifo"] = (folder / "fifo.h5", None, ["named pipe (FIFO)"])
    os.symlink("loop-b.h5", folder / "loop-a.h5")
    os.symlink("loop-a.h5", folder / "loop-b.h5")
    c["symlink-loop"] = (folder / "loop-a.h5", None, ["symbolic link loop"])
    os.symlink("absent.h5", folder / "dangling.h5")
    c["dangling-symlink"] = (folder / "dangling.h5", None, ["broken symbolic link"])
    (folder / "folder.h5").mkdir()
    c["directory"] = (folder / "folder.h5", None, ["folder"])
    with h5py.File(folder / "foreign.h5", "w") as f:
        f.create_dataset("temperature", data=np.arange(10.0))
        f.attrs["instrument"] = "thermometer"
    c["foreign-hdf5"] = (folder / "foreign.h5", None, ["HDF5 file but not a"])
    # a run whose writer died before its first snapshot (older versions published the file at
    # once; today's RunWriter publishes it with its first snapshot): a real run, its rows cut to 0
    from model.config import TrainConfig
    from model.engine import Trainer
    from model.runfile import save_run

    cfg = TrainConfig(n=5, steps=10)
    tr = Trainer(cfg)
    tr.run()
    save_run(folder / "no-snapshot.h5", cfg, tr.history)
    with h5py.File(folder / "no-snapshot.h5", "r+") as f:
        for name in ("W", "b", "crc", "loss", "steps"):
            f["history"][name].resize(0, axis=0)
        f["history/committed"][()] = 0
    c["zero-snapshots"] = (folder / "no-snapshot.h5", "run", ["no snapshot recorded yet"])
    # each kind damaged the same ways
    for kind, src in good.items():
        w = W_PATH[kind]
        data = src.read_bytes()
        for pct in (50, 99):
            p = folder / f"{kind}-truncated-{pct}.h5"
            p.write_bytes(data[: len(data) * pct // 100])
            c[f"{kind}-truncated-{pct}%"] = (p, kind, ["truncated", "damaged"])
        c[f"{kind}-missing-dataset"] = (_edit(src, folder / f"{kind}-missing.h5", lambda f: f.__delitem__(w)),
                                        kind, ["'W'"])
        c[f"{kind}-wrong-dtype"] = (_edit(src, folder / f"{kind}-dtype.h5",
                                          lambda f: _replace_w(f, w, dtype="S8")), kind, ["byte strings"])

        def wider(f, w=w):
            shape = f[w].shape
            del f[w]
            f.create_dataset(w, shape=shape[:-1] + (shape[-1] + 1,), dtype=np.float32)
        c[f"{kind}-wrong-shape"] = (_edit(src, folder / f"{kind}-shape.h5", wider), kind, ["shape"])

        def complex_w(f, w=w):
            W = f[w][()]
            del f[w]
            f.create_dataset(w, data=W.astype(np.complex64) + 0.5j)
        c[f"{kind}-complex-W"] = (_edit(src, folder / f"{kind}-complex.h5", complex_w), kind, ["complex"])

        def external_fifo(f, w=w):
            n = int(np.prod(f[w].shape)) * f[w].dtype.itemsize
            _replace_w(f, w, external=[(str(fifo), 0, max(n, 1))])
        c[f"{kind}-external-storage-on-fifo"] = (_edit(src, folder / f"{kind}-external.h5", external_fifo), kind,
                                                 ["another file"])

        def external_link(f, w=w):
            del f[w]
            f[w] = h5py.ExternalLink(str(fifo), "/W")
        c[f"{kind}-external-link"] = (_edit(src, folder / f"{kind}-extlink.h5", external_link), kind,
                                      ["link to another file"])

        def virtual(f, w=w):
            ds = f[w]
            shape, dtype = ds.shape, ds.dtype
            del f[w]
            layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
            layout[...] = h5py.VirtualSource(str(fifo), "W", shape=shape)
            f.create_virtual_dataset(w, layout)
        c[f"{kind}-virtual-dataset"] = (_edit(src, folder / f"{kind}-virtual.h5", virtual), kind,
                                        ["virtual dataset"])
    return c, good


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("bad-files"))


def cases_for(kind: str, corpus_names):
    """Corpus entries a reader of ``kind`` must refuse: the general ones, its kind's damaged ones,
    and the good files of the other kinds."""
    return [n for n, k in corpus_names if k in (None, kind)] + [f"good-{o}" for o in KIND_NAME if o != kind]


def corpus_names():
    """(name, kind) of build_corpus's entries, without building it (for parametrize)."""
    general = ["zero-bytes", "random-bytes", "fifo", "symlink-loop", "dangling-symlink", "directory",
               "foreign-hdf5"]
    out = [(n, None) for n in general] + [("zero-snapshots", "run")]
    for kind in KIND_NAME:
        for d in ("truncated-50%", "truncated-99%", "missing-dataset", "wrong-dtype", "wrong-shape", "complex-W",
                  "external-storage-on-fifo", "external-link", "virtual-dataset"):
            out.append((f"{kind}-{d}", kind))
    return out


def lookup(corpus, name):
    """(path, words) of a corpus entry; good-<kind> is another kind's good file."""
    entries, good = corpus
    if name.startswith("good-"):
        other = name[5:]
        return good[other], [f"is a {KIND_NAME[other]}, not a"]
    path, _, words = entries[name]
    return path, words


def test_corpus_names_match_the_corpus(corpus):
    entries, _ = corpus
    assert sorted(entries) == sorted(n for n, _ in corpus_names())


# ------------------------------------------------------------- the worker
WORKER = r"""
import json, os, sys, traceback
proto = os.fdopen(os.dup(1), "w", buffering=1)
sys.path.insert(0, sys.argv[1])
import app.cli, app.cli.export, app.cli.experiments, model.sweep, model.datasize
from model.runfile import RunFileError
import model.runfile
readers = {"sweep": model.sweep.open_sweep, "datasize": model.datasize.open_datasize, "run": model.runfile.open_run,
           "snapshot": model.runfile.load_snapshot}
proto.write("ready\n")
for line in sys.stdin:
    req = json.loads(line)
    os.chdir(req["cwd"])
    sys.stdout.flush(); sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fo = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    fe = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fo, 1); os.dup2(fe, 2)
    try:
        if "argv" in req:
            try:
                rc = app.cli.main(req["argv"])
            except SystemExit as exc:
                rc = exc.code
        else:
            try:
                readers[req["reader"]](req["path"])
                rc = 0
            except RunFileError as exc:
                print(f"main.py: {exc}", file=sys.stderr)
                rc = 2
    except BaseException:
        traceback.print_exc()
        rc = 1
    finally:
        sys.stdout.flush(); sys.stderr.flush()
        os.dup2(saved[0], 1); os.dup2(saved[1], 2)
        for fd in (fo, fe, *saved):
            os.close(fd)
    proto.write(json.dumps({"rc": rc}) + "\n")
"""


class Worker:
    """The readers in one process; ``ask`` returns (rc, stdout, stderr) or None when the case hung."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LGE_DATA_DIR=str(tmp / "data"))
        self.proc = None
        self.hangs = 0

    def _start(self):
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, str(ROOT)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=self.env, cwd=self.tmp, text=True, bufsize=1)
        line = self._read(180.0)  # imports: not part of any case's time
        assert line == "ready", f"worker did not start: {line!r}"

    def _read(self, timeout: float):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        return self.proc.stdout.readline().strip()

    def ask(self, req: dict, cwd: Path):
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        cap = self.tmp / "capture"
        cap.mkdir(exist_ok=True)
        req = dict(req, cwd=str(cwd), stdout=str(cap / "out"), stderr=str(cap / "err"))
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self._read(CASE_TIMEOUT_S)
        if line is None:  # hung: kill it; the next case starts a fresh one
            self.hangs += 1
            self.stop(kill=True)
            return None
        rc = json.loads(line)["rc"]
        return rc, (cap / "out").read_text(errors="replace"), (cap / "err").read_text(errors="replace")

    def stop(self, kill=False):
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.proc = None


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    w = Worker(tmp_path_factory.mktemp("worker"))
    yield w
    w.stop()


READERS = {  # reader -> (kind it reads, request for a path)
    "inspect": ("run", lambda p: {"argv": ["inspect", p]}),
    "export": ("run", lambda p: {"argv": ["export", p, "--view", "zones", "--out", "out.png"]}),
    # export reads sweep files too (their atlas); --config asks for one, so a run or dataset-size file is refused
    "export --config": ("sweep", lambda p: {"argv": ["export", p, "--config", "1", "--out", "out.png"]}),
    "animate": ("run", lambda p: {"argv": ["animate", p, "--view", "zones", "--frames", "3", "--out", "out.gif",
                                           "--quiet"]}),
    "probe": ("run", lambda p: {"argv": ["probe", p, "--points", "5"]}),
    "train --init-run": ("run", lambda p: {"argv": ["train", "--init", "run", "--init-run", p, "--n", "5",
                                                    "--steps", "10", "--out", "out.h5", "--quiet"]}),
    "open_sweep": ("sweep", lambda p: {"reader": "sweep", "path": p}),
    "open_datasize": ("datasize", lambda p: {"reader": "datasize", "path": p}),
}
CASES = [pytest.param(reader, name, id=f"{reader}:{name}") for reader, (kind, _) in READERS.items()
         for name in cases_for(kind, corpus_names())]


@pytest.mark.parametrize("reader, name", CASES)
def test_every_reader_refuses_every_bad_file_in_one_line(worker, corpus, tmp_path, reader, name):
    path, words = lookup(corpus, name)
    kind, request = READERS[reader]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    answer = worker.ask(request(str(path)), cwd)
    assert answer is not None, f"{reader} {path.name}: no answer within {CASE_TIMEOUT_S:g} s (it hangs)"
    rc, out, err = answer
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert rc == 2, f"exit {rc}; stderr {err!r}"
    assert len(lines) == 1, f"{len(lines)} lines on stderr: {err!r}"
    assert out == ""
    assert path.name in lines[0], lines[0]
    assert any(w in lines[0] for w in words), f"none of {words} in {lines[0]!r}"
    assert list(cwd.iterdir()) == [], f"written: {sorted(p.name for p in cwd.iterdir())}"
    assert not any(p.is_file() for p in (worker.tmp / "data").rglob("*"))


@pytest.mark.parametrize("args", [["inspect", "f.h5"], ["f.h5"]], ids=["inspect FIFO", "window FIFO"])
def test_a_real_main_py_on_a_fifo_returns(tmp_path, args):
    """The real program (not the worker) on a FIFO, as a command and as the window's file argument
    (refused before any window opens): one line, exit 2. The timeout only ends a hang."""
    os.mkfifo(tmp_path / "f.h5")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LGE_QUIT_AFTER_MS="1")
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120, env=env)
    assert r.returncode == 2 and r.stderr.strip() == "main.py: f.h5: is a named pipe (FIFO), not a run file: only " \
                                                      "regular files are read", r.stderr


# ------------------------------------------------------------------ the window
UNBLOCKER = r"""
import os, sys, time
fifos, log = sys.argv[2:], sys.argv[1]
while True:
    for p in fifos:
        try:
            fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: nobody is reading it
            continue
        os.close(fd)  # a blocked reader now sees end-of-file
        with open(log, "a") as fh:
            fh.write(os.path.basename(p) + "\n")
    time.sleep(0.05)
"""


class FifoUnblocker:
    """A separate process that opens the write end of every FIFO of the corpus whenever a reader
    waits on one, so a hang in the window ends (and is recorded) instead of stopping the test run.
    A process, not a thread: h5py holds the GIL while HDF5 blocks in open(). It never fires for a
    reader that refuses FIFOs: then nobody waits (opening for writing fails with ENXIO)."""

    def __init__(self, fifos, log: Path):
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-c", UNBLOCKER, str(log), *map(str, fifos)])

    @property
    def unblocked(self):
        return self.log.read_text().split() if self.log.exists() else []

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def unblock(corpus, tmp_path):
    """Start the unblocker (call it after refused_in_time: the worker must not be helped)."""
    entries, _ = corpus
    folder = entries["fifo"][0].parent
    made = []

    def start():
        made.append(FifoUnblocker([p for p in folder.iterdir() if p.is_fifo()], tmp_path / "unblocked.log"))
        return made[-1]

    yield start
    for u in made:
        u.stop()


WINDOW_CASES = cases_for("run", corpus_names())


def refused_in_time(worker, tmp_path, reader, path):
    """The window's readers run on its own thread: a reader that hangs there would stop the test run
    (HDF5 retries a read interrupted by a signal). So the same reader first runs in the worker, where
    a hang is a failed case."""
    cwd = tmp_path / "pre"
    cwd.mkdir()
    answer = worker.ask({"reader": reader, "path": str(path)}, cwd)
    assert answer is not None, f"{reader} reader hangs on {path.name}: the window would too"
    assert answer[0] == 2, answer


@pytest.mark.parametrize("name", WINDOW_CASES)
def test_the_window_refuses_every_bad_run_file_with_one_dialog(qtbot, corpus, worker, tmp_path, unblock, name):
    from app.gui.main_window import MainWindow

    path, words = lookup(corpus, name)
    refused_in_time(worker, tmp_path, "run", path)
    unblocker = unblock()
    w = MainWindow(autostart=False, restore=False)
    qtbot.addWidget(w)
    before = w.session.history
    n0 = len(w.dialogs)
    assert not w.open_run(str(path))
    assert unblocker.unblocked == [], f"the window blocked on {unblocker.unblocked}"
    assert len(w.dialogs) == n0 + 1
    text = w.dialogs[-1].text()
    assert path.name in text and "\n" not in text and any(x in text for x in words), text
    assert w.session.history is before and w.session.state == "idle"


@pytest.mark.parametrize("name", WINDOW_CASES)
def test_the_window_refuses_to_start_from_every_bad_run_file_with_one_dialog(qtbot, corpus, worker, tmp_path,
                                                                            unblock, monkeypatch, name):
    """The form's init = run from a bad file: Start shows one dialog; nothing trains, nothing is saved."""
    from app.gui.main_window import MainWindow
    from model.config import TrainConfig

    path, words = lookup(corpus, name)
    refused_in_time(worker, tmp_path, "snapshot", path)
    unblocker = unblock()
    monkeypatch.setenv("LGE_DATA_DIR", str(tmp_path / "data"))
    w = MainWindow(autostart=False, restore=False)
    qtbot.addWidget(w)
    w.form.set_config(TrainConfig(n=5, steps=10, init="run", init_run=str(path)))
    n0 = len(w.dialogs)
    w.start_training()
    assert unblocker.unblocked == [], f"the window blocked on {unblocker.unblocked}"
    assert len(w.dialogs) == n0 + 1
    text = w.dialogs[-1].text()
    assert path.name in text and "\n" not in text, text
    assert w.session.state == "idle" and w.session.worker is None
    assert not any(p.is_file() for p in (tmp_path / "data").rglob("*"))


@pytest.fixture
def experiments(qtbot):
    from app.gui.experiments_window import ExperimentsWindow
    from app.gui.session import Session
    from model.config import TrainConfig

    s = Session()
    w = ExperimentsWindow(s, lambda: TrainConfig(n=5, steps=10))
    qtbot.addWidget(w)
    yield w
    assert w.shutdown(3.0)
    assert s.shutdown(3.0)


@pytest.mark.parametrize("tab, name", [(t, n) for t, k in (("sweep", "sweep"), ("datasize", "datasize"))
                                       for n in cases_for(k, corpus_names())])
def test_the_experiments_tabs_refuse_every_bad_file_in_one_status_line(experiments, corpus, worker, tmp_path,
                                                                      unblock, tab, name):
    path, words = lookup(corpus, name)
    refused_in_time(worker, tmp_path, tab, path)
    unblocker = unblock()
    t = getattr(experiments, tab)
    shown = getattr(t, "sweep" if tab == "sweep" else "result")
    assert not t.open(str(path))
    assert unblocker.unblocked == []
    text = t.status.text()
    assert path.name in text and "\n" not in text and any(x in text for x in words), text
    assert getattr(t, "sweep" if tab == "sweep" else "result") is shown
