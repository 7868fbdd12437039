"""The training engine: K models at once, in chunks, with stop/pause flags
between chunks, progress through a callback (never per step), NaN/inf halting per
model, and each chunk's recorded rows handed as a ``Block`` to the recorders the caller
wired (model/training/recording.py: the History always, a run file or anything else besides).

The path that trains a run is chosen by model/training/paths.py from the run's shape: the lanes
kernel (kernels.py), the fused sparse kernel (sparse_backend.py, sparse_kernels.py), the
BLAS path (sparse_backend.BlasTrainer) or the torch path (torch_backend.py: the GPU's,
and the reference the others are tested against); ``backend=`` forces one. All follow
one contract (model/training/backend.py): evaluate the loss of the current step, record it if the
history wants it, update.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..config import TrainConfig
from ..history import History
from . import paths
from .backend import Chunk, Optimiser, Records
from .data import BatchStream, SparseDataset, make_dataset
from .init import initial_parameters
from .recording import Block

if TYPE_CHECKING:
    from .recording import Recorder

# numba's fallback 'workqueue' threading layer aborts if two threads launch
# parallel kernels at once; one kernel call at a time per process is safe
# under every layer (a second trainer waits for the chunk in flight).
_KERNEL_LOCK = threading.Lock()

#: Most bytes of recorded rows one chunk holds (the kernel's output arrays; at most a
#: sixteenth of the history budget): a chunk that would record more is cut short. Each
#: chunk is a parallel launch of the kernel, which costs milliseconds when the machine is
#: busy, so the cap is as large as the budget allows: with 4 MiB, K = 10,000 (880 kB a
#: row) cut 3,000 steps into 183 chunks instead of 31. 16 MiB stays below glibc's largest
#: mmap threshold (32 MiB), so the arrays of one chunk reuse the last one's memory.
REC_BYTES = 16 * 2**20
#: Most bytes of fresh batches one chunk draws ahead (CSR: 12 bytes a non-zero, 8 a row).
CHUNK_DATA_BYTES = 16 * 2**20


def max_chunk_steps(config: TrainConfig) -> int:
    """Most steps a chunk takes, so that what it prepares for its steps stays within
    CHUNK_DATA_BYTES: the learning rates and recorded-row indices (16 bytes a step), the
    fresh batches drawn for it (CSR: 12 bytes a non-zero, 8 a row) or the minibatches' rows."""
    B = config.effective_batch
    per: float = 16  # bytes a step; a fresh batch's non-zeros per example is an expectation (float)
    if config.data == "sparse" and config.examples is None:
        per += 12 * B * paths.shape(config)[4] + 8 * B
    elif (config.n if config.onehot else (config.examples or B)) > B:
        per += 8 * B
    return max(1, int(CHUNK_DATA_BYTES // per))


def lr_schedule(config: TrainConfig, steps: np.ndarray) -> np.ndarray:
    """Learning rate of the update taken at each (0-based) step.

    constant: lr. warmup-cosine (SMDD): linear warm-up from lr/warmup to lr
    over `warmup` steps, then cosine decay to 0 at the last step.
    """
    steps = np.asarray(steps, dtype=np.float64)
    if config.schedule == "constant":
        return np.full(steps.shape, config.lr)
    total = max(config.steps, 1)
    warm = min(config.warmup, total)
    out = np.empty(steps.shape)
    w = steps < warm
    out[w] = config.lr * (steps[w] + 1) / max(warm, 1)
    span = max(total - warm, 1)
    frac = np.clip((steps[~w] - warm) / span, 0.0, 1.0)
    out[~w] = config.lr * 0.5 * (1.0 + np.cos(np.pi * frac))
    return out


@dataclass
class Progress:
    step: int  # steps done
    total: int
    loss: np.ndarray  # (K,) loss at `step` (NaN for halted models)
    steps_per_s: float
    halted: dict = field(default_factory=dict)  # model -> step, newly halted this chunk
    done: bool = False


class Trainer:
    """Train config.models models. Thread-safe stop/pause; call run() from a worker.

    dataset: the finite sets, dense (K, T, n) or a data.SparseDataset; None draws
    them from the seeds. ``dataset`` reads them back dense (made on first use when
    the run keeps them sparse; ``sparse_dataset`` is the sparse form). backend:
    "auto" (compiled wherever a kernel covers the run) or "torch" (the torch path
    for everything but full-batch one-hot data).
    """

    BACKENDS = ("auto",) + paths.PATHS

    def __init__(self, config: TrainConfig, history: History | None = None, recorders: Sequence[Recorder] = (),
                 threads: int | None = None,
                 initial: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
                 dataset: np.ndarray | SparseDataset | None = None,
                 backend: str | None = None):
        """``history``: the record policy and first recorder (default: one sized to the
        budget). ``recorders``: where each chunk's recorded rows go besides the history
        (model/training/recording.py: a RunFileRecorder for a run file), in order; ``run`` closes them
        when it ends. ``backend``: "auto" (model.training.paths chooses) or a path to force (lanes,
        fused, blas, torch); None: the config's ``backend``."""
        if backend is None:
            backend = config.backend
        if backend not in self.BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(self.BACKENDS)}, got {backend!r}")
        config.validate()
        check_device(config)
        self.config = config
        K, m, n = config.models, config.m, config.n
        # The budget bounds everything that records the run: the rows a chunk records
        # (rec_bytes), what the recorders buffer (a run file's writer), and the history gets the rest.
        budget = int(config.history_budget_mb * 2**20)
        self.rec_bytes = max(1, min(REC_BYTES, budget // 16))
        buffered = sum(int(getattr(r, "buffer_bytes", 0)) for r in recorders)
        # (not ``history or``: an empty History is falsy, and a caller's own was then replaced)
        self.history = history if history is not None else History(
            K, m, n, untied=config.untied, budget_bytes=max(budget - self.rec_bytes - buffered, budget // 2),
            max_rows=config.steps + 1)  # steps 0..S: at most S + 1 rows
        #: where recorded blocks go, in order: the history first (the run's policy reads it back)
        self.recorders: tuple[Recorder, ...] = (self.history, *recorders)
        self.threads = threads
        self.sparse_dataset = dataset if isinstance(dataset, SparseDataset) else None
        self._dataset = None if isinstance(dataset, SparseDataset) else dataset
        W, b, M = initial if initial is not None else initial_parameters(config)
        self.K, self.m, self.n = K, m, n
        self.step = 0  # parameters are those after `step` updates
        self.halted = -np.ones(K, dtype=np.int64)
        self._stop = threading.Event()
        self._pause = threading.Event()
        self._step_once = threading.Event()
        self._resume = threading.Condition()
        self.path = paths.choose(config, backend)
        self.impl = self._make_path(self.path.name, W, b, M, dataset)
        if self.path.name in ("fused", "blas") and config.data == "sparse" and config.examples is not None:
            self.sparse_dataset = self.impl.dataset
        #: Most steps a chunk takes: what it prepares per step stays within CHUNK_DATA_BYTES
        self.max_chunk = max_chunk_steps(config)
        self._chunk = 1
        self._first = True
        self.decided_at: int | None = None  # the step at which on_step (until_decided) stopped the run

    def _make_path(self, name: str, W, b, M, dataset):
        cfg = self.config
        opt = Optimiser.of(cfg)
        if name == "lanes":
            from .kernels import LanesPath

            return LanesPath(cfg, W, b, M, opt)
        if name in ("fused", "blas"):
            import os

            from .sparse_backend import BlasTrainer, SparseTrainer

            cls = SparseTrainer if name == "fused" else BlasTrainer
            # fresh batches are drawn ahead on another core, unless the run was given one thread
            prefetch = (os.cpu_count() or 1) > 1 and (self.threads is None or self.threads > 1)
            return cls(cfg, W, b, M, dataset=dataset, generator_seed=cfg.seed, opt=opt, prefetch=prefetch)
        from .torch_backend import TorchTrainer

        batches = BatchStream(cfg) if (cfg.data == "sparse" and cfg.examples is None) else None
        return TorchTrainer(cfg, W, b, M, dataset=self.dataset, batches=batches, generator_seed=cfg.seed, opt=opt,
                            device=getattr(cfg, "device", "cpu"))

    @property
    def use_kernel(self) -> bool:
        """Trained by the one-hot lanes kernel."""
        return self.path.name == "lanes"

    @property
    def use_sparse_kernel(self) -> bool:
        """Trained by the fused sparse kernel."""
        return self.path.name == "fused"

    @property
    def dataset(self) -> np.ndarray | None:
        """The finite sets, dense (K, T, n); None for one-hot or fresh data."""
        if self._dataset is None:
            if self.sparse_dataset is not None:
                self._dataset = self.sparse_dataset.dense()
            elif self.config.data == "sparse" and self.config.examples is not None:
                self._dataset = make_dataset(self.config)
        return self._dataset

    # ------------------------------------------------------------------ flags
    def _set_and_wake(self, flag: threading.Event) -> None:
        """Raise ``flag`` and wake a paused training loop to look at it."""
        flag.set()
        with self._resume:
            self._resume.notify_all()

    def request_stop(self) -> None:
        self._set_and_wake(self._stop)

    def request_pause(self) -> None:
        self._pause.set()

    def step_once(self) -> None:
        """While paused: let exactly one chunk run, then pause again."""
        self._set_and_wake(self._step_once)

    def resume(self) -> None:
        self._pause.clear()
        with self._resume:
            self._resume.notify_all()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def done(self) -> bool:
        return self.step >= self.config.steps or bool((self.halted >= 0).all())

    def close(self) -> None:
        """Release what the path holds beyond its parameters (the thread drawing fresh batches
        ahead); the trainer trains no further, its parameters and history stay readable."""
        close = getattr(self.impl, "close", None)
        if close is not None:
            close()

    # -------------------------------------------------------------- parameters
    def parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Current W (K,m,n), b (K,n), M (K,n,m) or None as float32 copies."""
        return self.impl.state()

    # ---------------------------------------------------------------- training
    def train_chunk(self, nsteps: int) -> dict:
        """Take up to nsteps updates (fewer at the end of the run); returns newly halted models."""
        cfg = self.config
        t = self.step
        nsteps = int(max(0, min(nsteps, cfg.steps - t, self.max_chunk)))
        if nsteps == 0 and not self._first:
            return {}
        lo = t if self._first else t + 1
        wanted = self.history.record_steps(lo, t + nsteps + 1)
        cap = max(2, self.rec_bytes // self.history.bytes_per_snapshot)
        if len(wanted) >= cap:  # a shorter chunk: its recorded rows stay within REC_BYTES
            nsteps = max(1 if not self._first else 0, int(wanted[cap - 2]) - t)
            wanted = wanted[wanted <= t + nsteps]
        rec_steps = np.union1d(wanted, [t + nsteps]).astype(np.int64)
        if not self._first:
            rec_steps = rec_steps[rec_steps > t]
        rec_idx = -np.ones(nsteps + 1, dtype=np.int64)
        rec_idx[rec_steps - t] = np.arange(len(rec_steps))
        rec = Records.empty(rec_idx, self.K, self.m, self.n, cfg.untied)
        before = self.halted.copy()
        chunk = Chunk(t, t, lr_schedule(cfg, np.arange(t, t + nsteps)))
        if self.path.name == "torch":
            self.impl.run(chunk, rec, self.halted)
        else:
            with _KERNEL_LOCK:
                self.impl.run(chunk, rec, self.halted)
        R = len(rec_steps)
        newly = {int(k): int(self.halted[k]) for k in np.nonzero((self.halted >= 0) & (before < 0))[0]}
        # Lasting rows: those the history will still hold at the end of the run (the wanted
        # steps on its dense prefix or final thinned grid, History.lasting), so a recorder that
        # keeps only these (a run file) holds at most the history's capacity, however many steps;
        # the chunk's last step is recorded either way, as the latest.
        lasting = np.isin(rec_steps, wanted) & self.history.lasting(rec_steps, cfg.steps)
        block = Block(rec_steps, rec.W, rec.b, rec.loss, rec.M if cfg.untied else None, lasting, newly)
        for recorder in self.recorders:
            recorder.record(block)
        self._last_loss = rec.loss[-1].copy() if R else np.full(self.K, np.nan, np.float32)
        self.step = t + nsteps
        self._first = False
        return newly

    def close_recorders(self) -> None:
        """The run has ended: every recorder finishes what it holds (a run file writes its
        latest row and closes). ``run`` calls it when it returns."""
        for recorder in self.recorders:
            recorder.close()

    def run(self, progress: Callable[[Progress], None] | None = None,
            chunk_seconds: float = 0.1, report_seconds: float = 0.1,
            threads: int | None = None, at_steps: Sequence[int] | None = None,
            on_step: Callable[[Trainer], bool] | None = None) -> Progress:
        """Train until config.steps, a stop request, or every model halted.

        Chunks are sized to take about chunk_seconds; pause requests hold the
        loop between chunks; progress is called at most every report_seconds
        (and once at the end). ``at_steps``: chunks end exactly at these steps and
        ``on_step(trainer)`` is called there; when it returns True the run stops
        (``decided_at`` says where): model.analysis.outcome.decide_hook(config) gives the pair
        that carries out ``config.until_decided``.
        """
        set_threads(threads if threads is not None else self.threads)
        cfg = self.config
        stops = sorted({int(x) for x in (at_steps or ()) if int(x) > self.step})
        t_start = time.perf_counter()
        step_start = self.step
        last_report = 0.0
        halted_acc: dict = {}
        chunk = max(1, self._chunk)
        while not self._stop.is_set() and (self.step < cfg.steps or self._first):
            if self._pause.is_set() and not self._step_once.is_set():
                with self._resume:
                    self._resume.wait(0.05)
                continue
            self._step_once.clear()
            t0 = time.perf_counter()
            before = self.step
            halted_acc.update(self.train_chunk(min(chunk, stops[0] - self.step) if stops and not self._first
                                               else chunk))
            if self._at_stop(stops, on_step):
                break
            dt = time.perf_counter() - t0
            # aim each chunk at chunk_seconds (bounded growth), from the steps it took: a chunk
            # cut short for its recorded rows must not make the next one look cheap
            if dt > 0:
                chunk = int(max(1, min(chunk * 4, max(1, self.step - before) * chunk_seconds / dt)))
            self._chunk = chunk
            if bool((self.halted >= 0).all()):
                break
            now = time.perf_counter()
            if progress is not None and now - last_report >= report_seconds:
                last_report = now
                progress(self._progress(step_start, t_start, halted_acc))
                halted_acc = {}
        self.close_recorders()
        final = self._progress(step_start, t_start, halted_acc, done=True)
        if progress is not None:
            progress(final)
        return final

    def _at_stop(self, stops: list, on_step) -> bool:
        """After a chunk: call ``on_step`` at each of ``stops`` reached; True when it says stop."""
        hit = False
        while stops and self.step >= stops[0]:
            if self.step == stops.pop(0) and on_step is not None and on_step(self):
                hit = True
        if hit:
            self.decided_at = self.step
        return hit

    def _progress(self, step_start, t_start, halted, done=False) -> Progress:
        el = time.perf_counter() - t_start
        rate = (self.step - step_start) / el if el > 0 else 0.0
        loss = getattr(self, "_last_loss", np.full(self.K, np.nan, np.float32))
        return Progress(self.step, self.config.steps, loss, rate, dict(halted), done)


#: until_decided: the outcomes are checked at DECIDE_FIRST and every half doubling after it (an outcome needs
#: the doubling window [s/2, s] recorded, and changes on a log-time scale), and at the cap.
DECIDE_FIRST = 1024


def decide_grid(cap: int, first: int = DECIDE_FIRST) -> list[int]:
    """The steps at which until_decided checks the outcomes: first * 2^(j/2) below the cap, and the cap."""
    out, j = [], 0
    while True:
        s = int(round(first * 2.0 ** (j / 2)))
        if s >= cap:
            break
        out.append(s)
        j += 1
    return out + [int(cap)]


class TrainingQueue:
    """Trains configurations one after another (sweeps, dataset-size sweeps) for a worker
    thread that any other thread may cancel: ``request_cancel`` stops the run in progress
    between chunks, and ``cancelled`` tells the loop not to start the next one."""

    def __init__(self, threads: int | None = None):
        self.threads = threads
        self._cancel = threading.Event()
        self._trainer: Trainer | None = None
        self._lock = threading.Lock()

    def request_cancel(self) -> None:
        self._cancel.set()
        with self._lock:
            if self._trainer is not None:
                self._trainer.request_stop()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _train(self, config: TrainConfig, progress=None, at_steps: Sequence[int] | None = None,
               on_step: Callable[[Trainer], bool] | None = None) -> Trainer:
        """One configuration, run to its end unless cancelled (before or while it runs); ``at_steps``,
        ``on_step``: as Trainer.run's."""
        trainer = Trainer(config, threads=self.threads)
        with self._lock:
            self._trainer = trainer
        if self._cancel.is_set():
            trainer.request_stop()
        try:
            trainer.run(progress, at_steps=at_steps, on_step=on_step)
        finally:
            with self._lock:
                self._trainer = None
        return trainer


def set_threads(threads: int | None) -> None:
    """Threads for numba and torch. None: all cores. The GUI passes 1: with two cores,
    torch's default of two threads collapses when the other core is busy (docs/ARCHITECTURE.md).

    Only for the libraries this process has imported: a run on the compiled path does
    not import torch to set its threads (each run sets them again when it starts)."""
    import os
    import sys

    cores = os.cpu_count() or 1
    n = max(1, min(threads or cores, cores))
    numba = sys.modules.get("numba")  # imported with the kernels (model.training.kernels)
    if numba is not None:
        n = max(1, min(n, numba.config.NUMBA_NUM_THREADS))
        numba.set_num_threads(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


# ---------------------------------------------------------------------- memory
#: Peak bytes of the torch path per float of a (K, B, n) batch: the batch, its torch copy
#: and the dense path's (K, B, n) temporaries; measured at n = 10,000 (T = 500 and 2,000)
#: as about 7 units, rounded up.
TRAIN_UNITS = 8
#: Memory the process needs besides training: python, numpy, torch, numba with the compiled
#: kernels loaded from numba's cache, h5py, scipy (measured: `main.py train --n 7 --steps 10`
#: with its kernels cached peaks at 360 MiB on the development machine; an earlier machine
#: measured 408 MB: the shared libraries' resident share differs between machines, and
#: tests/model/test_memory_model.py's four sizes stay within 25% with either).
BASE_BYTES = 360 * 2**20
#: What LLVM holds while numba compiles a path's kernels, the first run after they change
#: (model.training.paths.kernels_ready), by path: measured as the peak's rise over a cached run, 83 MiB
#: for the lanes kernel (n = 7), 132-139 MiB for the fused one (n = 20,000); the BLAS path
#: compiles the same module's other kernels, counted as the fused path's.
COMPILE_BYTES = {"lanes": 96 * 2**20, "fused": 144 * 2**20, "blas": 144 * 2**20}
#: Of the memory available, this fraction may be planned for.
MEMORY_FRACTION = 0.8


def available_memory() -> int:
    """Bytes the system can give now (MemAvailable; physical memory where that is unknown)."""
    import os

    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def fmt_bytes(b: float) -> str:
    for unit, size in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{int(b)} B"


def sparse_data_bytes(config: TrainConfig, rows: int) -> int:
    """Peak bytes of the compiled paths' data for sets (or batches) of ``rows`` examples per
    model: the K sets kept sparse (CSR: 12 bytes a non-zero, 8 a row) and drawing one set
    (dense draws, 17 bytes an entry, where data.sparse_coo draws densely; else 96 bytes a
    non-zero: measured 79 at n = 10,000, T = 50,000). The per-step state is counted with
    the path (``path_bytes``)."""
    from .data import dense_draw

    K, n = config.models, config.n
    nnz = rows * n * (1.0 - config.sparsity)
    draw = 17 * rows * n if dense_draw(rows, n, config.sparsity) else 96 * nnz
    return int(K * (12 * nnz + 8 * (rows + 1)) + draw)


def analysis_bytes(n: int) -> int:
    """Peak bytes of analysing one snapshot (model.analysis.analysis: its n x n work chunked to
    memory.CHUNK_ELEMS float64, two of them at once; scipy's modules). Measured as
    `main.py train --steps 1`'s VmHWM with the kernels cached, over n = 7's (383 MiB): +105 MiB
    at n = 1,000, +48 at 2,000, +70 at 5,000, +75 at 20,000; the formula, 40 MiB + two chunks'
    worth, gives 56, 101, 104 and 104."""
    from ..memory import CHUNK_ELEMS

    return int(40 * 2**20 + 16 * min(n * n, CHUNK_ELEMS))


def _threads(threads: int | None) -> int:
    import os

    cores = os.cpu_count() or 1
    return max(1, min(threads or cores, cores))


def path_bytes(config: TrainConfig, path: str, threads: int | None = None) -> tuple[int, float]:
    """(state, scratch) bytes of ``path`` training ``config``: the parameters and optimiser
    moments as the path lays them out (the lanes padded to blocks of 32), and what a step
    allocates besides, per thread where each thread allocates its own (the lanes' gradient
    block, the fused pass's h, dh, gradients, grouped non-zeros and tile), for every model
    at once where the path does (the BLAS path's (K, B, n) activations, the torch path's
    temporaries). The lanes' G is (n, n, 32) float32 a thread: 5 GB at n = 4,000, which is
    why the dispatcher leaves large n to the fused kernel."""
    from .sparse_backend import feature_blocks

    K, n, m, B, nnz_ex = paths.shape(config)
    T = _threads(threads)
    mn, f = m * n, 4
    dec = mn if config.untied else 0
    if path == "lanes":
        L = 32
        blocks = -(-K // L)
        state = 3 * f * blocks * L * (mn + n) + 3 * f * (blocks * L * dec if config.untied else mn * L)
        return state, min(T, blocks) * f * L * (n * n + 2 * mn + n + 2)  # G (n, n, 32) a thread
    state = 3 * f * (K * (mn + n + dec) + (0 if config.untied else mn))
    step_nnz = B * nnz_ex
    if path == "fused":
        blocks = feature_blocks(K, B, n)
        grads = f * (mn * (2 if config.untied else 1) + n)
        pass_ = 16 * (n // blocks + 1) + 12 * step_nnz / blocks + f * (n if B < 16 else 512)  # a block's pass
        one = f * m * B * (1 + blocks) + 8 * B + grads + blocks * pass_  # a thread a model
        # feature blocks over threads: every task's h, dh and rows at once, T passes at a time
        split = K * blocks * (2 * f * m * B + 8 * B) + K * grads + T * pass_ if blocks > 1 else 0
        return state, int(max(min(T, K) * one, split))
    if path == "blas":
        from .sparse_backend import dense_examples

        arrays = f * K * (B * n + 2 * B * m + mn * (2 if config.untied else 1) + n) + 8 * K * B
        copies = 1 if (config.onehot or config.examples is None) else K
        # X and dh^T X; or W^T and the transposed encoder gradient, (n, m) a model (sparse examples)
        dense = f * copies * B * n + f * K * mn if dense_examples(config, copies) else 2 * f * K * mn
        return state, arrays + T * f * step_nnz + dense
    torch_state = f * 8 * K * (mn + n + dec)  # parameters, gradients, moments, foreach temporaries
    return torch_state, TRAIN_UNITS * f * K * B * n + (f * n * n if config.onehot else 0)


def memory_parts(config: TrainConfig, threads: int | None = None, path: str | None = None,
                 held: bool = True) -> dict[str, float]:
    """Peak bytes to train ``config``'s K models on ``path`` (default: the one model.training.paths
    chooses) with ``threads`` threads (default: all cores), by what needs them, each part
    keyed by the option that sizes it. ``held``: the caller also holds the finite sets
    dense and analyses a snapshot, as train and the window do (a dataset-size sweep does
    neither: it measures, and counts that itself):

    - "models": the process (BASE_BYTES; COMPILE_BYTES more when the path's kernels are still
      to be compiled), the parameters and optimiser moments as the path holds them, the initial
      parameters the caller keeps, and per-thread scratch that grows with n m
      (model.training.engine.path_bytes);
    - "n": the path's (n, n) or (K, n, n) arrays for one-hot data (the BLAS path's
      activations, the torch path's identity), when the batch is the n examples; and the
      analysis of a snapshot that train prints and the window draws (ANALYSIS_BYTES);
    - "examples": the K finite sets: dense (K, T, n) as train and the window hold them for
      the run file and the analysis, their CSR conversion, and the training path's own copy
      (sparse; dense on the torch path);
    - "batch": a step's (K, B, n) or per-thread arrays, and the batches a chunk draws ahead;
    - "history_budget_mb": the history as the run fills it (at most its budget), the rows a
      chunk records and the run file's write buffer.
    """
    from ..history import History
    from .sparse_backend import AHEAD_BYTES

    name = path or paths.choose(config).name
    K, n, m, B, nnz_ex = paths.shape(config)
    state, scratch = path_bytes(config, name, threads)
    initial = 4 * K * (m * n * (2 if config.untied else 1) + n)
    compiling = 0 if paths.kernels_ready(config, name) else COMPILE_BYTES.get(name, 0)
    parts: dict[str, float] = {"models": BASE_BYTES + compiling + state + initial}
    size_key = "n" if config.onehot and n == B else "batch"
    grows_with_batch = name in ("blas", "torch")
    identity = 4 * n * n if name == "torch" and config.onehot else 0  # the torch path's (n, n) one-hot data
    parts[size_key] = scratch - identity if grows_with_batch else 0
    parts["n"] = parts.get("n", 0) + identity + (analysis_bytes(n) if held else 0)
    if not grows_with_batch:
        parts["models"] += scratch
    if config.data == "sparse" and config.examples is not None:
        T = int(config.examples)
        nnz = K * T * n * (1.0 - config.sparsity)
        dense = 4 * K * T * n
        csr = 32 * nnz + 8 * (K * T + 1)  # run file's conversion: nonzero()'s indices, values, int32 copies
        own = dense if name == "torch" else sparse_data_bytes(config, T)
        parts["examples"] = int((dense + csr if held else 0) + own)
    elif config.data == "sparse":  # a chunk's batches (drawn, then concatenated), those drawn ahead, one draw
        chunk = min(CHUNK_DATA_BYTES, (12 * B * nnz_ex + 8 * B) * (config.steps + 1))
        ahead = min(AHEAD_BYTES, (20 * B * nnz_ex + 8 * B) * min(256, config.steps + 1))
        parts["batch"] = int(parts.get("batch", 0) + 2 * chunk + ahead + sparse_data_bytes(config.replace(models=1), B))
    elif n > B:  # one-hot minibatches: the chunk's minibatch rows
        parts["batch"] = int(parts.get("batch", 0) + min(CHUNK_DATA_BYTES, 8 * B * (config.steps + 1)))
    budget = int(config.history_budget_mb * 2**20)
    rows = config.steps + 2
    big = 2**62  # a budget that holds any rows: the difference of two sizes is a row's bytes
    bpr = History.planned_bytes(K, m, n, config.untied, big, 2) - History.planned_bytes(K, m, n, config.untied, big, 1)
    rec = min(max(2 * bpr, min(REC_BYTES, budget // 16)), bpr * rows)  # a chunk's recorded rows
    buffer = min(budget // 8, bpr * rows)  # the run file's write buffer, as far as rows reach it
    parts["history_budget_mb"] = History.planned_bytes(K, m, n, config.untied, budget, rows) + rec + buffer
    return {k: int(v) for k, v in parts.items()}


def memory_estimate(config: TrainConfig, held: bool = True) -> int:
    """Peak bytes to train ``config`` (the sum of ``memory_parts``): the one estimate that
    train, sweeps, dataset-size sweeps and the window check before anything starts."""
    return int(sum(memory_parts(config, held=held).values()))


def cuda_available() -> bool:
    """Whether torch sees a CUDA (or ROCm) GPU. Without a GPU driver on the machine (no
    /proc/driver/nvidia, no /dev/kfd) torch cannot see one, and is not imported to ask
    (the window's form asks at start-up)."""
    import os
    import sys

    if "torch" not in sys.modules and not (os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/kfd")):
        return False
    import torch

    return bool(torch.cuda.is_available())


def check_device(config: TrainConfig) -> None:
    """ConfigError('device', ...) when the run's device is not here (cuda without a GPU that
    torch sees), naming what is available; nothing for the CPU (torch is not imported)."""
    from ..config import ConfigError

    device = getattr(config, "device", "cpu")
    if device == "cpu":
        return
    import torch

    if not cuda_available():
        built = f"CUDA {torch.version.cuda}" if torch.version.cuda else "without CUDA"
        raise ConfigError("device", f"{device} needs a GPU that torch can see, and there is none here (torch "
                                    f"{torch.__version__}, built {built}); available: cpu")


def check_memory(config: TrainConfig, limit: int | None = None, where: str = "") -> int:
    """The estimate, or ConfigError naming the part that dominates it (its option is the
    error's field) when it exceeds ``limit`` bytes (default: MEMORY_FRACTION of the
    memory available now). ``where``: a note after the sizes (e.g. a sweep's grid label)."""
    from ..config import ConfigError, schema

    check_device(config)
    if limit is None:
        limit = int(MEMORY_FRACTION * available_memory())
    parts = memory_parts(config)
    est = int(sum(parts.values()))
    if est > limit:
        field = max(parts, key=parts.__getitem__)
        what = {"models": "the parameters", "n": f"the arrays that grow with n = {config.n:,}",
                "examples": f"the {config.examples or 0:,} examples per model", "batch": "the batches",
                "history_budget_mb": "the history"}[field]
        lower = {"models": "--models or n", "n": "n or --models",
                 "examples": "--examples, --models or n", "batch": "--batch, --models or n",
                 "history_budget_mb": "--history-budget-mb"}[field]
        size = parts[field]
        if field == "history_budget_mb":
            low = next(float(o.low or 0.0) for o in schema(type(config)) if o.name == "history_budget_mb")
            fewest = memory_parts(dataclasses.replace(config, history_budget_mb=low))
            if sum(float(v) for v in fewest.values()) > limit:
                # even the smallest budget leaves a few snapshots of every parameter, and those do not
                # fit: a smaller budget cannot help, fewer or smaller models can
                field, what, lower = "models", "the history's fewest snapshots", "--models or n"
        K = config.models
        raise ConfigError(field, f"{K:,} model{'s' if K != 1 else ''} of n = {config.n:,}{where} would need about "
                                 f"{fmt_bytes(est)} ({what}: {fmt_bytes(size)}), more than the "
                                 f"{fmt_bytes(limit)} that may be used; lower {lower}")
    return est


def train(config: TrainConfig, progress: Callable[[Progress], None] | None = None,
          recorders: Sequence[Recorder] = (), threads: int | None = None,
          at_steps: Sequence[int] | None = None, on_step: Callable[[Trainer], bool] | None = None) -> Trainer:
    """Convenience: build a Trainer with ``recorders``, run it to the end (Trainer.run's at_steps /
    on_step), return it."""
    trainer = Trainer(config, recorders=recorders, threads=threads)
    trainer.run(progress, at_steps=at_steps, on_step=on_step)
    return trainer


__all__ = [
    "BASE_BYTES",
    "COMPILE_BYTES",
    "DECIDE_FIRST",
    "MEMORY_FRACTION",
    "TRAIN_UNITS",
    "Progress",
    "Trainer",
    "available_memory",
    "check_device",
    "check_memory",
    "cuda_available",
    "decide_grid",
    "fmt_bytes",
    "lr_schedule",
    "memory_estimate",
    "memory_parts",
    "path_bytes",
    "train",
]
