"""The compiled sparse path of the engine (model/training/sparse_kernels.py): sparse data,
finite sets (full batch or minibatches), fresh batches, and one-hot minibatches.

It draws the same batches as the torch path (torch_backend.py) from the same
streams (a minibatch is ``torch.randperm`` of the same generator; a fresh batch
is the run's BatchStream), one draw per step even when a chunk boundary
evaluates a step twice, so the two paths train the same models. A chunk's
batches are prepared in Python once, then the kernel runs the whole chunk.
"""
from __future__ import annotations

import functools
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from ..background import Worker
from . import sparse_kernels as sk
from .backend import Chunk, Optimiser, Records
from .data import BatchStream, SparseDataset, make_sparse_dataset
from .paths import BLAS_THREADED_MACS, DENSE_X_SHARE

if TYPE_CHECKING:
    from ..config import TrainConfig
#: A step with at least this many (example, output) pairs, of fewer than SPLIT_BLOCKS
#: models, is computed in feature blocks that threads can share (one parallel region a
#: step, ~0.1 ms to start on a busy 2-core machine, against ~0.1 ns a pair).
SPLIT_MIN_PAIRS = 2_000_000
SPLIT_BLOCKS = 4
#: The schedule not in use is timed again after this many chunks (then twice as many ...),
#: on at most TRIAL_STEPS steps.
RETRY_CHUNKS = 16
TRIAL_STEPS = 4


def feature_blocks(K: int, B: int, n: int) -> int:
    """Feature blocks of each model's step. A function of the run alone (never of the
    threads or the machine's load), so a run's numbers never depend on where it ran."""
    if K >= SPLIT_BLOCKS or B * n < SPLIT_MIN_PAIRS:
        return 1
    return -(-SPLIT_BLOCKS // K)


#: Most bytes of examples the BLAS path holds dense (dense_examples).
DENSE_X_BYTES = 256 * 2**20


def dense_examples(config: TrainConfig, copies: int) -> bool:
    """Whether the BLAS path holds the examples of a step dense (``copies`` of (B, n)), so that
    h = X W^T and the encoder's dh^T X are products too: from model.training.paths.DENSE_X_SHARE of
    non-zeros, up to DENSE_X_BYTES."""
    if config.onehot:
        return False
    dense_enough = 1.0 - config.sparsity >= DENSE_X_SHARE
    return dense_enough and 4 * copies * config.effective_batch * config.n <= DENSE_X_BYTES


#: Most bytes of fresh batches drawn ahead (Prefetch), besides the chunk's own.
AHEAD_BYTES = 16 * 2**20


def batches_ahead(config: TrainConfig) -> int:
    """Fresh batches Prefetch may hold: AHEAD_BYTES of them (CSR: 20 bytes a non-zero,
    8 a row), at least 2, at most 256."""
    B = config.effective_batch
    per = 20 * B * config.n * (1.0 - config.sparsity) + 8 * B
    return int(max(2, min(256, AHEAD_BYTES // max(per, 1))))


class Prefetch:
    """Fresh batches drawn ahead on a Worker (model/background.py, ``batch-prefetch``) while the
    kernels train on the current ones (numpy's generator fills its arrays without the GIL, the
    kernels run without it): the same stream in the same order (the Worker runs its line in
    order and delivers each batch, in order, to the queue ``next_coo`` takes from), so a run's
    numbers do not depend on it; at most ``ahead`` batches are drawn or waiting. A failed draw
    stops the line and is raised by ``next_coo`` (and again by every later call). The thread
    holds only the stream and the queue, so it ends (after the draw in hand) once this object
    is collected or ``close``d."""

    def __init__(self, stream: BatchStream, ahead: int):
        import queue

        self._stream = stream
        self._ready: queue.SimpleQueue = queue.SimpleQueue()  # outcomes, in the order drawn
        self._failed: BaseException | None = None
        self._worker = Worker("batch-prefetch", self._ready.put, stop_on_failure=True)
        for _ in range(max(1, int(ahead))):
            self._worker.submit(stream.next_coo)

    def next_coo(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._failed is not None:
            raise self._failed
        outcome = self._ready.get()
        if outcome.error is not None:
            self._failed = outcome.error
            raise outcome.error
        self._worker.submit(self._stream.next_coo)  # one taken, one more drawn ahead
        return outcome.result

    def close(self) -> None:
        self._worker.close(timeout=0.0)

    def __del__(self):
        worker = getattr(self, "_worker", None)  # None: __init__ failed before it
        if worker is not None:
            worker.close(timeout=0.0)


def _identity_csr(n: int):
    return np.arange(n + 1, dtype=np.int64), np.arange(n, dtype=np.int64), np.ones(n, np.float32)


class SparseTrainer:
    """The fused sparse path (model.training.backend's contract: ``run`` and ``state``)."""

    name = "fused"

    def __init__(self, config: TrainConfig, W: np.ndarray, b: np.ndarray, M: np.ndarray | None,
                 dataset: np.ndarray | SparseDataset | None = None, batches: BatchStream | None = None,
                 generator_seed: int = 0, opt: Optimiser | None = None, prefetch: bool = False):
        """``prefetch``: draw fresh batches ahead on another thread (``Prefetch``)."""
        self.cfg = config
        self.opt = opt if opt is not None else Optimiser.of(config)
        K, m, n = config.models, config.m, config.n
        f32 = np.float32
        self.W = np.ascontiguousarray(W, dtype=f32).copy()
        self.b = np.ascontiguousarray(b, dtype=f32).copy()
        if config.untied:
            self.Dt = np.ascontiguousarray(np.swapaxes(np.asarray(M, f32), 1, 2))
        else:
            self.Dt = np.zeros((1, m, n), f32)  # unused when tied
        z = np.zeros_like
        self.sW1, self.sW2 = z(self.W), z(self.W)
        self.sb1, self.sb2 = z(self.b), z(self.b)
        self.sD1, self.sD2 = z(self.Dt), z(self.Dt)
        self.imp = np.ascontiguousarray(config.importance_vector(), dtype=f32)
        self.batch = int(config.effective_batch)
        self.batches: BatchStream | Prefetch | None = None
        self.sel_cache: tuple[int, np.ndarray] | None = None  # (step, rows of the minibatch)
        self.coo_cache: tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None  # (step, fresh batch)
        self.T: int | None  # examples per model; None for fresh batches
        if config.onehot:
            self.kind = "finite"
            self.T = n
            self.indptr, self.cols, self.vals = _identity_csr(n)
            self.base = np.zeros(K, np.int64)  # one set shared by all models
        elif config.examples is not None:
            self.kind = "finite"
            if dataset is None:
                made = make_sparse_dataset(config)
                assert made is not None, "finite sparse data (examples set) makes a dataset"
                dataset = made
            elif not isinstance(dataset, SparseDataset):
                dataset = SparseDataset.from_dense(dataset)
            self.dataset = dataset
            self.T = dataset.T
            self.indptr, self.cols, self.vals = dataset.indptr, dataset.cols, dataset.vals
            self.base = np.arange(K, dtype=np.int64) * self.T
        else:
            self.kind = "fresh"
            self.T = None
            stream = batches if batches is not None else BatchStream(config)
            self.batches = Prefetch(stream, ahead=batches_ahead(config)) if prefetch else stream
            self.base = np.zeros(K, np.int64)
        self.minibatch = self.T is not None and self.batch < self.T  # T is None only for fresh batches
        self.blocks = feature_blocks(K, self.batch, n)
        self.step_seconds: dict[str, float] = {}  # schedule -> seconds a step, timed on real steps
        self.chunks = 0
        self.retry_every = RETRY_CHUNKS
        self.retry_at = RETRY_CHUNKS
        if self.minibatch:
            import torch

            self.rng = torch.Generator().manual_seed(int(generator_seed) + 0x5EED)  # as TorchTrainer

    def close(self) -> None:
        """Ends the thread drawing batches ahead (this trainer trains no further)."""
        if isinstance(self.batches, Prefetch):
            self.batches.close()

    # ------------------------------------------------------------------ batches
    def _minibatch_rows(self, step: int) -> np.ndarray:
        if self.sel_cache is None or self.sel_cache[0] != step:
            import torch

            assert self.T is not None, "minibatches are drawn from a finite set"
            idx = torch.randperm(self.T, generator=self.rng)[: self.batch].numpy().astype(np.int64)
            self.sel_cache = (step, idx)
        return self.sel_cache[1]

    def _fresh_batch(self, step: int):
        if self.coo_cache is None or self.coo_cache[0] != step:
            assert self.batches is not None, "fresh batches come from a stream"
            self.coo_cache = (step, self.batches.next_coo())
        return self.coo_cache[1]

    def _chunk_data(self, global0: int, nsteps: int):
        """(indptr, cols, vals, row0 (S,), sel (S, B) or (0, B)) for steps global0 .. global0 + nsteps."""
        S = nsteps + 1
        B = self.batch
        if self.kind == "finite":
            row0 = np.zeros(S, np.int64)
            if not self.minibatch:
                return self.indptr, self.cols, self.vals, row0, np.zeros((0, B), np.int64)
            sel = np.empty((S, B), np.int64)
            for s in range(S):
                sel[s] = self._minibatch_rows(global0 + s)
            return self.indptr, self.cols, self.vals, row0, sel
        parts = [self._fresh_batch(global0 + s) for s in range(S)]
        counts = np.concatenate([np.bincount(r, minlength=B) for r, _, _ in parts])
        indptr = np.zeros(S * B + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        cols = np.concatenate([c for _, c, _ in parts]).astype(np.int64, copy=False)
        vals = np.concatenate([v for _, _, v in parts]).astype(np.float32, copy=False)
        return indptr, cols, vals, np.arange(S, dtype=np.int64) * B, np.zeros((0, B), np.int64)

    # ----------------------------------------------------------------- training
    def _plan(self, threads: int, nsteps: int):
        """[(schedule, first step, last step)] for a chunk of nsteps updates.

        'split' (blocks over threads, a parallel region a step) or 'models' (a thread a
        model for the whole chunk) give the same numbers; which is faster depends on the
        machine's load (a region a step waits for its slowest thread, and on a shared
        machine that can be 100x slower), so both are timed on real steps: the faster runs
        the chunks; the other is tried on the first TRIAL_STEPS steps of a chunk now and
        then (every RETRY_CHUNKS chunks, twice as rarely each time it loses)."""
        if self.blocks == 1 or threads <= 1:
            return [("models", 0, nsteps)]
        untimed = [m for m in ("split", "models") if m not in self.step_seconds]
        if untimed and len(untimed) == 2:
            trial, rest = "split", "models"
        elif untimed:
            trial, rest = untimed[0], min(self.step_seconds, key=self.step_seconds.__getitem__)
        else:
            best = min(self.step_seconds, key=self.step_seconds.__getitem__)
            self.chunks += 1
            if self.chunks < self.retry_at:
                return [(best, 0, nsteps)]
            self.retry_at = self.chunks + self.retry_every
            self.retry_every *= 2
            trial, rest = ("models" if best == "split" else "split"), best
        k = min(TRIAL_STEPS, nsteps)
        return [(trial, 0, k)] + ([(rest, k, nsteps)] if k < nsteps else [])

    def run(self, chunk: Chunk, rec: Records, halted: np.ndarray) -> None:
        """model.training.backend's contract."""
        import time

        import numba

        nsteps = len(chunk)
        data = self._chunk_data(chunk.global0, nsteps)
        threads = numba.get_num_threads()
        state = (self.W, self.b, self.Dt, self.sW1, self.sW2, self.sb1, self.sb2, self.sD1, self.sD2)
        flags = (bool(self.cfg.bias), bool(self.cfg.untied))
        for mode, a, b in self._plan(threads, nsteps):
            # steps a .. b of the chunk (the loss at b is evaluated again by the next part: the same numbers)
            indptr, cols, vals, row0, sel = data
            part_data = (indptr, cols, vals, self.base, row0[a:b + 1], sel[a:b + 1] if sel.shape[0] else sel)
            args = (state, self.imp, part_data, self.batch, chunk.part(a, b).kernel_args(), self.opt.kernel_args(),
                    flags, halted, rec.part(a, b).arrays(), self.blocks)
            t = time.perf_counter()
            if mode == "split":
                sk.train_sparse_split(*args)
            else:
                # no more threads than models: an idle thread spinning at the end of the region
                # takes a core from the working ones
                numba.set_num_threads(max(1, min(threads, self.cfg.models)))
                try:
                    sk.train_sparse_models(*args)
                finally:
                    numba.set_num_threads(threads)
            if self.blocks > 1 and threads > 1:
                per_step = (time.perf_counter() - t) / (b - a + 1)
                old = self.step_seconds.get(mode)
                self.step_seconds[mode] = per_step if old is None else 0.5 * (old + per_step)

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        M = np.swapaxes(self.Dt, 1, 2).copy() if self.cfg.untied else None
        return self.W.copy(), self.b.copy(), M


#: How long a chunk waits for a group of models on another thread (a chunk is sized to about
#: 0.1 s; a group that has not finished in this long is a fault, not a busy machine).
GROUP_TIMEOUT_S = 600.0


class BlasTrainer(SparseTrainer):
    """The BLAS path: the same batches, parameters and update as the fused path, with the
    dense products of each step (P = H Dt + b, G^T H, G Dt^T: O(K B n m)) done by BLAS
    (torch.bmm over the K models, in place, no autograd) and the rest by the kernels of
    model/training/sparse_kernels.py (blas_*). Right where m is large and the data dense enough
    that most (example, output) pairs cost m multiply-adds either way; holds a (K, B, n)
    float32 array. One Python round a step (~0.1 ms)."""

    name = "blas"

    def __init__(self, *args: Any, **kw: Any):
        import queue

        super().__init__(*args, **kw)
        self._group_workers: list[Worker] = []  # groups 1.. of a chunk (group 0 runs on the caller's thread)
        self._group_done: queue.SimpleQueue = queue.SimpleQueue()  # their outcomes
        K, m, n, B = self.cfg.models, self.cfg.m, self.cfg.n, self.batch
        f32 = np.float32
        self.P = np.empty((K, B, n), f32)
        self.H = np.empty((K, B, m), f32)
        self.dH = np.empty((K, B, m), f32)
        self.gDt = np.empty((K, m, n), f32)
        self.gW = np.empty((K, m, n), f32) if self.cfg.untied else np.empty((1, m, n), f32)
        self.gb = np.empty((K, n), f32)
        self.rows = np.empty((K, B), np.int64)
        #: the models are split into groups on threads of their own (``groups``) only when a step's
        #: products are large enough to pay for the threads' start (a 2-core machine under load: 2
        #: threads on small products ran 10-18x slower than one); fresh batches are drawn on the
        #: other core meanwhile
        self.threaded = K * B * n * m >= BLAS_THREADED_MACS
        #: dense enough that h and the encoder's gradient are products too (dense_examples)
        shared = self.kind == "fresh" or self.cfg.onehot
        Kx = 1 if shared else K
        self.X = np.empty((Kx, B, n), f32) if dense_examples(self.cfg, Kx) else None
        #: sparse examples: W^T and the encoder's gradient transposed, (n, m) a model, so that a
        #: non-zero's m multiply-adds run over a contiguous row (blas_hidden, blas_update)
        Ks = 1 if self.X is not None else K
        self.WT = np.empty((Ks, n, m), f32)
        self.gT = np.empty((Ks, n, m), f32)
        self.X_more: list[np.ndarray] = []  # copies of a shared dense batch for the other groups (_examples)

    def groups(self, threads: int) -> list[tuple[int, int]]:
        """The models' groups, (k0, k1) each, one a thread for a whole chunk: as many as threads
        (at most one a model) when the step is large enough to pay for them (``threaded``), else
        one. Every product runs on one thread, a single group's too: on the shared 2-core machine
        torch's 2-thread products, a barrier each, made n = 1,000, m = 100, K = 1 take 35 ms a step
        against 15 on one thread (the other core draws the batches)."""
        K = self.cfg.models
        g = max(1, min(threads, K)) if self.threaded else 1
        return [(K * i // g, K * (i + 1) // g) for i in range(g)]

    def run(self, chunk: Chunk, rec: Records, halted: np.ndarray) -> None:
        """model.training.backend's contract. Groups of models on threads of their own (the
        kernels and torch's products release the GIL), without a barrier a step: a thread that
        loses its core on a busy machine delays its own group only."""
        import torch

        threads = torch.get_num_threads()
        groups = self.groups(threads)
        data = self._chunk_data(chunk.global0, len(chunk))  # once: a fresh batch is drawn once
        torch.set_num_threads(1)
        try:
            self._run_groups(chunk, rec, halted, data, groups)
        finally:
            torch.set_num_threads(threads)

    def _run_groups(self, chunk: Chunk, rec: Records, halted: np.ndarray, data: Any,
                    groups: list[tuple[int, int]]) -> None:
        """Group 0 on the calling thread, each other group on a Worker of its own (model/background.py,
        ``blas-models-<i>``, kept for the trainer's life); returns once every group has run its chunk,
        raising the first failure."""
        import queue

        while len(self._group_workers) < len(groups) - 1:
            self._group_workers.append(Worker(f"blas-models-{len(self._group_workers) + 1}", self._group_done.put))
        # the Workers' threads hold what they ran last: a weak reference lets the trainer be freed (and
        # its __del__ end them) once its owner drops it
        me = weakref.ref(self)

        def group(k0: int, k1: int, i: int) -> None:
            trainer = me()
            assert trainer is not None, "the trainer waits for its groups"
            trainer._run(chunk, rec, halted, data, k0, k1, i)

        for i, (k0, k1) in enumerate(groups[1:], start=1):
            self._group_workers[i - 1].submit(functools.partial(group, k0, k1, i))
        failure: BaseException | None = None
        try:
            self._run(chunk, rec, halted, data, 0, groups[0][1], 0)
        finally:  # the other groups write into rec: wait for every one before returning or raising
            for _ in groups[1:]:
                try:
                    outcome = self._group_done.get(timeout=GROUP_TIMEOUT_S)
                except queue.Empty:
                    failure = RuntimeError(f"a group of models did not finish its chunk in {GROUP_TIMEOUT_S:.0f} s")
                    break
                if not outcome.ok and failure is None:
                    failure = outcome.error
        if failure is not None:  # group 0's own failure, if any, was raised above
            raise failure

    def close(self) -> None:
        """Ends the threads of the model groups and the one drawing batches ahead."""
        for worker in self._group_workers:
            worker.close(timeout=0.0)
        super().close()

    def __del__(self):
        for worker in getattr(self, "_group_workers", ()):  # () : __init__ failed before it
            worker.close(timeout=0.0)

    def _examples(self, group: int) -> np.ndarray | None:
        """The dense examples a group fills: its own copy of a shared (1, B, n) batch (the
        groups fill it at once), or the (K, B, n) per-model sets (each group its rows)."""
        if self.X is None or self.X.shape[0] > 1 or group == 0:
            return self.X
        while len(self.X_more) < group:
            self.X_more.append(np.empty_like(self.X))
        return self.X_more[group - 1]

    def _run(self, chunk: Chunk, rec: Records, halted: np.ndarray, chunk_data: tuple, k0: int, k1: int,
             group: int) -> None:
        import torch

        nsteps = len(chunk)
        indptr, cols, vals, row0, sel = chunk_data
        data = (indptr, cols, vals, self.base, row0, sel)
        state = (self.W, self.b, self.Dt, self.sW1, self.sW2, self.sb1, self.sb2, self.sD1, self.sD2)
        flags = (bool(self.cfg.bias), bool(self.cfg.untied))
        ck, opt, recs = chunk.kernel_args(), self.opt.kernel_args(), rec.arrays()
        t = torch.from_numpy
        ks = slice(k0, k1)
        P, H, dH, gDt = t(self.P)[ks], t(self.H)[ks], t(self.dH)[ks], t(self.gDt)[ks]
        D = (t(self.Dt) if self.cfg.untied else t(self.W))[ks]  # (k, m, n): p = h . D[:, i]
        Xg = self._examples(group)
        shared = Xg is not None and Xg.shape[0] == 1
        X = None if Xg is None else (t(Xg) if shared else t(Xg)[ks])
        dense = X is not None
        Wt = t(self.W)[ks].transpose(1, 2)  # (k, n, m)
        for s in range(nsteps + 1):
            sk.blas_hidden(self.W, data, s, self.batch, halted, self.rows, self.H, not dense, self.WT, k0, k1)
            if X is not None and Xg is not None:  # dense
                sk.blas_dense(data, self.rows[k0:k0 + 1] if shared else self.rows[ks], Xg if shared else Xg[ks])
                torch.matmul(X, Wt, out=H)  # (Kx, B, n) x (k, n, m): h of every example
            torch.bmm(H, D, out=P)  # the bias is added by blas_activate, in its pass over P
            sk.blas_activate(self.P, self.imp, data, self.rows, self.batch, ck, s, state, flags, halted, recs,
                             self.gb, bool(self.cfg.bias), k0, k1)
            if s == nsteps:
                break
            torch.bmm(H.transpose(1, 2), P, out=gDt)  # the decoder's part, (k, m, n)
            torch.bmm(P, D.transpose(1, 2), out=dH)  # dL/dh, (k, B, m)
            if X is not None:  # dense: the encoder's part dh^T X: into the decoder's (tied) or alone (untied)
                enc = torch.matmul(dH.transpose(1, 2), X)
                if self.cfg.untied:
                    t(self.gW)[ks].copy_(enc)
                else:
                    gDt.add_(enc)
            sk.blas_update(state, data, self.rows, self.dH, self.gDt, self.gW, self.gb, ck, s, opt, flags, halted,
                           not dense, self.gT, k0, k1)
