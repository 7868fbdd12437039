"""A corpus of bad files, generated here, refused by every reader: one line naming the file and
what is wrong, exit status 2, no traceback, nothing written, and never a hang.

Readers: the commands inspect, export, animate, probe and train --init-run; the sweep and
dataset-size file readers (model.experiments.sweep.open_sweep, model.experiments.datasize.open_datasize, which the
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
#: A refusal may add at most this much resident memory (generous: the worker's imports are done;
#: Qt's first figure setup takes tens of MB). The declared-size files ask for 0.4 to 52 GB.
REFUSAL_PEAK_KB = 300_000

# where each kind keeps a W array to damage
W_PATH = {"run": "history/W", "sweep": "configs/c0000/W", "datasize": "sizes/T000000003/W"}
KIND_NAME = {"run": "run file", "sweep": "sweep file", "datasize": "dataset-size sweep file"}


# ----------------------------------------------------------------- the corpus
def _good_files(folder: Path) -> dict:
    from model.config import TrainConfig
    from model.experiments.datasize import DataSizeRunner, smdd_config
    from model.experiments.sweep import run_sweep
    from model.storage.runfile import save_run
    from model.training.engine import train

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
    from model.storage.runfile import save_run
    from model.training.engine import Trainer

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
    c.update(declared_size_corpus(folder, good))
    return c, good


#: Declared sizes larger than the file (issue 21, item 5): name -> (kind, what is damaged).
DECLARED = {
    "run-1e8-rows": "run", "run-1e9-rows": "run", "run-1e8-rows-uncommitted": "run", "run-2GB-meta": "run",
    "run-committed-beyond-stored": "run", "run-gzip-W-1e9-rows": "run", "sweep-W-1e8-rows": "sweep",
    "sweep-gzip-loss-1e8": "sweep", "datasize-H-1e8-rows": "datasize",
}
DECLARED_WORDS = ["more than the whole file", "sizes are damaged"]


def declared_size_corpus(folder: Path, good: dict) -> dict:
    """Small files (kB) whose datasets declare gigabytes: resized without data, a committed row
    count beyond what is stored, a compressed dataset of fill values. Every reader must refuse
    them before it allocates what they declare."""

    def history_rows(f, rows, commit=True):
        for name in ("steps", "W", "b", "loss", "crc"):
            f["history"][name].resize(rows, axis=0)
        if commit:
            f["history/committed"][()] = rows

    def committed_beyond(f):  # within what a killed writer's last block may add (the walk lets it
        history_rows(f, 100_000)  # pass), but the committed rows cannot all be in the file

    def chunked_fill(where, rows, **kw):
        def fn(f):
            shape, dtype = f[where].shape, f[where].dtype
            del f[where]
            f.create_dataset(where, shape=(rows,) + shape[1:], dtype=dtype, chunks=(min(rows, 10**5),) + shape[1:],
                             **kw)
        return fn

    edits = {
        "run-1e8-rows": lambda f: history_rows(f, 10**8),
        "run-1e9-rows": lambda f: history_rows(f, 10**9),
        "run-1e8-rows-uncommitted": lambda f: history_rows(f, 10**8, commit=False),
        "run-2GB-meta": lambda f: f["meta_json"].resize(2 * 10**9, axis=0),
        "run-committed-beyond-stored": committed_beyond,
        "run-gzip-W-1e9-rows": chunked_fill("history/W", 10**9, compression="gzip"),
        "sweep-W-1e8-rows": chunked_fill(W_PATH["sweep"], 10**8),
        "sweep-gzip-loss-1e8": chunked_fill("configs/c0000/loss", 10**8, compression="gzip"),
        "datasize-H-1e8-rows": chunked_fill("sizes/T000000003/H", 10**8),
    }
    out = {}
    for name, fn in edits.items():
        kind = DECLARED[name]
        p = _edit(good[kind], folder / f"{name}.h5", fn)
        assert p.stat().st_size < 400_000, (name, p.stat().st_size)  # small files that declare gigabytes
        out[name] = (p, kind, DECLARED_WORDS)
    return out


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
    out = [(n, None) for n in general] + [("zero-snapshots", "run")] + list(DECLARED.items())
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


@pytest.mark.slow
def test_corpus_names_match_the_corpus(corpus):
    entries, _ = corpus
    assert sorted(entries) == sorted(n for n, _ in corpus_names())


# ------------------------------------------------------------- the worker
WORKER = r"""
import json, os, sys, traceback
proto = os.fdopen(os.dup(1), "w", buffering=1)
sys.path.insert(0, sys.argv[1])
import app.cli, app.cli.export, app.cli.experiments, model.experiments.sweep, model.experiments.datasize
from model.storage.runfile import RunFileError
import model.storage.runfile
readers = {"sweep": model.experiments.sweep.open_sweep, "datasize": model.experiments.datasize.open_datasize, "run": model.storage.runfile.open_run,
           "snapshot": model.storage.runfile.load_snapshot}
def status_kb(key):
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
def peak_reset():  # the high-water mark of resident memory back to now (Linux: clear_refs 5)
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return None
    return status_kb("VmRSS")
proto.write("ready\n")
for line in sys.stdin:
    req = json.loads(line)
    os.chdir(req["cwd"])
    sys.stdout.flush(); sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fo = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    fe = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fo, 1); os.dup2(fe, 2)
    base = peak_reset()
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
    peak = status_kb("VmHWM")
    proto.write(json.dumps({"rc": rc, "peak_kb": None if base is None or peak is None else peak - base}) + "\n")
"""


class Worker:
    """The readers in one process; ``ask`` returns (rc, stdout, stderr) or None when the case hung."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LGE_DATA_DIR=str(tmp / "data"))
        self.proc = None
        self.hangs = 0
        self.peak_kb = None

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
        answer = json.loads(line)
        self.peak_kb = answer["peak_kb"]  # resident memory the case added at its peak (None: unmeasured)
        return answer["rc"], (cap / "out").read_text(errors="replace"), (cap / "err").read_text(errors="replace")

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
    if worker.peak_kb is not None:  # refused before anything large is allocated (the files declare GBs)
        assert worker.peak_kb < REFUSAL_PEAK_KB, f"the refusal's resident memory peaked {worker.peak_kb:,} kB higher"


@pytest.mark.parametrize("args", [["inspect", "f.h5"], ["f.h5"]], ids=["inspect FIFO", "window FIFO"])
@pytest.mark.slow
def test_a_real_main_py_on_a_fifo_returns(tmp_path, args):
    """The real program (not the worker) on a FIFO, as a command and as the window's file argument
    (refused before any window opens): one line, exit 2. The timeout only ends a hang."""
    os.mkfifo(tmp_path / "f.h5")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LGE_QUIT_AFTER_MS="1")
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120, env=env)
    prefix = "main.py inspect" if args[0] == "inspect" else "main.py"
    assert r.returncode == 2 and r.stderr.strip() == f"{prefix}: f.h5: is a named pipe (FIFO), not a run file: only " \
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
@pytest.mark.slow
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
@pytest.mark.slow
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


# ------------------------------------------------------- non-finite values inside valid files
def _rewrite_rows(path: Path, fn) -> Path:
    """Edit a run file's history in place as another writer could (no halted mark), with each
    row's checksum made to match: the file is valid, its numbers are not finite."""
    import h5py

    from model.storage.runfile import _block_crc

    with h5py.File(path, "r+") as f:
        h = f["history"]
        N = int(h["committed"][()])
        arrays = {k: h[k][()] for k in ("W", "b", "M") if k in h}
        fn(arrays, N)
        for k, a in arrays.items():
            h[k][...] = a
        h["crc"][:N] = _block_crc(h["steps"][:N], arrays["W"][:N], arrays["b"][:N], h["loss"][:N],
                                  arrays["M"][:N] if "M" in arrays else None)
    return path


#: name -> (how model 0's parameters are made non-finite, what animate does: "refused" | "drawn")
NONFINITE = {
    "W-inf-one-row": "refused", "W-nan-every-row": "refused", "b-nan-every-row": "refused",
    "M-nan-untied": "refused", "latest-row-W-nan": "drawn", "W-1e38-marked": "drawn",
}


def nonfinite_corpus(folder: Path) -> dict:
    """Run files whose model 0 is not finite where a reader looks: name -> path."""
    from model.config import TrainConfig
    from model.history import History
    from model.storage.runfile import save_run
    from model.training.engine import train

    folder.mkdir(parents=True, exist_ok=True)
    tr = train(TrainConfig(n=5, m=2, steps=60, lr=1e-2, seed=1), threads=1)
    base = save_run(folder / "base.h5", tr.config, tr.history)
    tu = train(TrainConfig(n=5, m=2, steps=60, lr=1e-2, seed=1, untied=True), threads=1)
    untied = save_run(folder / "untied.h5", tu.config, tu.history)
    out = {}

    def variant(name, src, fn):
        p = folder / f"{name}.h5"
        shutil.copy(src, p)
        out[name] = _rewrite_rows(p, fn)

    def col(a, k, v):
        a[:, 0, ..., k] = v

    one = History(1, 2, 5, budget_bytes=2**20)  # the probe's file of issue 21: one row, W = inf, no mark
    s = tr.history.snapshot()
    one.append(s.step, s.W[None], s.b[None], [s.loss])
    single = save_run(folder / "single.h5", tr.config.replace(models=1), one)
    variant("W-inf-one-row", single, lambda a, N: a["W"].__setitem__((slice(None), 0, 0, 2), np.inf))
    variant("W-nan-every-row", base, lambda a, N: col(a["W"], 3, np.nan))
    variant("b-nan-every-row", base, lambda a, N: a["b"].__setitem__((slice(None), 0, 4), np.nan))
    variant("M-nan-untied", untied, lambda a, N: a["M"].__setitem__((slice(None), 0, 1, 0), np.nan))
    variant("latest-row-W-nan", base, lambda a, N: a["W"].__setitem__((N - 1, 0, 1, 1), np.nan))
    # our own writer, given float32-overflowing rows from step 40 on: it marks the model halted there
    big = History(1, 2, 5, budget_bytes=2**22)
    for i, step in enumerate(tr.history.steps):
        st, W, b, loss, _ = tr.history.row(i)
        if step >= 40:
            with np.errstate(over="ignore"):
                W = W * np.float32(1e38) * np.float32(10)  # inf in float32
        big.append(st, W, b, loss)
    out["W-1e38-marked"] = save_run(folder / "W-1e38-marked.h5", tr.config, big)
    return out


@pytest.fixture(scope="module")
def nonfinite(tmp_path_factory):
    return nonfinite_corpus(tmp_path_factory.mktemp("nonfinite"))


NONFINITE_READERS = ["inspect", "export", "animate", "probe", "train --init-run"]


@pytest.mark.parametrize("reader", NONFINITE_READERS)
@pytest.mark.parametrize("name", list(NONFINITE))
def test_every_reader_reports_non_finite_parameters_in_one_line(worker, nonfinite, tmp_path, reader, name):
    """Each command on a file whose model 0 is NaN/inf where it looks: one line naming the file,
    "not finite" and the step, exit 2, nothing written; or, where a finite snapshot is there to
    use, it works: a file our writer marked (the readers serve the last finite snapshot), an
    animation with finite frames (the others drawn as 'not finite at this step', one line says so)."""
    path = nonfinite[name]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    argv = READERS[reader][1](str(path))["argv"]
    answer = worker.ask({"argv": argv}, cwd)
    assert answer is not None, f"{reader} {name}: no answer within {CASE_TIMEOUT_S:g} s"
    rc, out, err = answer
    assert "Traceback" not in err and "Warning" not in err, err
    lines = err.strip().splitlines()
    works = name == "W-1e38-marked" or (reader == "animate" and NONFINITE[name] == "drawn")
    if not works:
        assert rc == 2 and len(lines) == 1 and out == "", (rc, err, out[:300])
        assert path.name in lines[0] and ("not finite at step" in lines[0] or "one recorded step" in lines[0]), lines[0]
        assert list(cwd.iterdir()) == []
        return
    assert rc == 0, (rc, err)
    if reader == "animate":
        assert (cwd / "out.gif").is_file()
        if name == "latest-row-W-nan":
            assert lines == ["main.py animate: note: model 0 is not finite at 1 of the 3 frames (steps 60..60); "
                             "they show 'not finite at this step'"], lines


@pytest.mark.slow
def test_inspect_optimum_at_a_finite_step_after_non_finite_rows(nonfinite, tmp_path):
    """A model NaN at steps 20-29 and finite after: inspect --optimum at step 50 works, and the
    diagnosis is stable only since the first finite step after the NaN rows."""
    import json

    p = tmp_path / "gap.h5"
    shutil.copy(nonfinite["latest-row-W-nan"].parent / "base.h5", p)
    _rewrite_rows(p, lambda a, N: a["W"].__setitem__((slice(20, 30), 0), np.nan))
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "inspect", str(p), "--step", "50", "--optimum",
                        "--json"], capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    d = json.loads(r.stdout)
    since = d["local_optimum"]["stable_since"]
    assert d["step"] == 50 and since["step"] >= 30 and since["changed_at"] is not None and since["changed_at"] >= 29


@pytest.mark.slow
@pytest.mark.parametrize("name", ["W-inf-one-row", "b-nan-every-row", "model-1-of-3"])
def test_the_window_opens_a_file_with_non_finite_parameters(nonfinite, tmp_path, name):
    """main.py FILE opens the window (it quits itself after a moment): exit 0, nothing on stderr
    but Qt's own notes, no traceback; also when only model 1 of a 3-model file is NaN."""
    if name == "model-1-of-3":
        from model.config import TrainConfig
        from model.storage.runfile import save_run
        from model.training.engine import train

        tr = train(TrainConfig(n=5, m=2, models=3, steps=40, seed=2), threads=1)
        path = save_run(tmp_path / "k3.h5", tr.config, tr.history)
        _rewrite_rows(path, lambda a, N: a["W"].__setitem__((slice(10, None), 1), np.nan))
    else:
        path = nonfinite[name]
    env = dict(os.environ, LGE_QUIT_AFTER_MS="1500", LGE_DATA_DIR=str(tmp_path / "data"))
    env.setdefault("QT_QPA_PLATFORM", "offscreen") if not env.get("DISPLAY") else None
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), str(path)], capture_output=True, text=True,
                       cwd=tmp_path, timeout=300, env=env)
    assert r.returncode == 0 and "Traceback" not in r.stderr and "Error" not in r.stderr, r.stderr[-3000:]


@pytest.mark.slow
def test_open_a_non_finite_file_while_training_shows_it_without_a_traceback(qtbot, nonfinite, tmp_path, monkeypatch,
                                                                             capfd):
    """File > Open of a file whose model is NaN while a run trains: the file is shown (as any run that
    opens), every view draws 'not finite at this step', nothing raises or prints a traceback."""
    from app.gui.main_window import MainWindow
    from model.config import TrainConfig
    from model.snapshot import NOT_FINITE_TEXT

    monkeypatch.setenv("LGE_DATA_DIR", str(tmp_path / "data"))
    w = MainWindow(autostart=False, restore=False)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    w.form.set_config(TrainConfig(n=7, steps=200_000))
    w.start_training()
    qtbot.waitUntil(lambda: w.session.history is not None and len(w.session.history) > 2, timeout=60_000)
    assert w.open_run(str(nonfinite["W-nan-every-row"]))
    for _ in range(5):
        w.redraw()
        qtbot.wait(50)
    drawn = [k for k, v in w.views.items() if k != "verdict" and v.isVisible() and v._not_finite is not None
             and v._not_finite.isVisible() and NOT_FINITE_TEXT in v._not_finite.toPlainText()]
    assert drawn, "no visible view says it"
    assert w.views["verdict"].verdict == "not_finite"
    assert w.session.state == "opened"
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    w.session.shutdown(3.0)
