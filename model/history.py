"""In-memory history of a batched run: the snapshots a scrubber, a loss curve and
an export read back.

One row holds every model of the batch at one step: ``W`` (K, m, n), ``b`` (K, n),
``loss`` (K,), and ``M`` (K, n, m) for untied runs, all stored float32, with the
step as int64. Rows live in arrays pre-allocated once for ``capacity`` rows, so
the history never holds more than its memory budget and the hot path never
reallocates.

Recording policy
----------------
``capacity`` rows fit the budget (at least 3). One row is reserved for the
*latest* snapshot; the other ``P = capacity - 1`` are *kept* rows, split into

* a **dense prefix** of ``D = P // 2`` rows (``D = P - 2`` when P < 4): every
  step from the first recorded step ``s0`` to ``t0 = s0 + D - 1`` is kept, so
  the fast early phase of training is there step by step;
* a **thinned region** of the remaining ``P - D`` rows: the steps
  ``t0 + j * stride`` (j = 0, 1, ...). The stride starts at 1. When the kept rows
  are full and the next wanted step arrives, the stride doubles and every other
  row of the thinned region is dropped (compaction in place, forwards, one row
  at a time: no temporary arrays), which frees half of it. So the thinned
  region always covers ``[t0, latest]`` evenly, at between half and all of its
  rows, and each row is copied O(1) times on average (append is O(1) amortised).
* the **latest** snapshot: an append of a step the policy does not want (the
  engine always appends the last step of a chunk) goes to the reserved row and
  is replaced by the next append, so ``latest_step`` is always the most recent
  step appended.

``record_steps(start, stop)`` tells the engine which steps of a chunk to append;
it plays the policy forward (including the stride doublings the chunk will
cause), so the engine copies out only rows that will be kept.

For a 1,000,000-step run of n = 10,000, m = 2, K = 1 (120,012 bytes a row),
the default 256 MiB budget gives 2,236 rows; the engine-style run keeps 2,094:
steps 0..1,116 every step, then every 1,024th step from 1,117 to 999,517 (976
rows), plus the latest (999,999). See benchmarks/bench_history.py.

Models that go NaN/inf are marked with ``mark_halted(k, step)``; ``snapshot()``
never serves model k from a row at or after that step, nor a non-finite row:
it clamps to k's last finite snapshot. A row with non-finite parameters that is
not marked (or a halted model with no finite row before its halt) is served as it
is: a Snapshot whose ``finite`` is False, which every reader reports instead of
analysing (``last_finite_step`` names where a finite one is).

Thread safety: one writer (the training worker) and any number of readers (the
GUI) may call at once; a lock guards every method, and readers get copies, so a
row read is never torn by a concurrent append or compaction.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from .snapshot import Snapshot

if TYPE_CHECKING:
    from .training.recording import Block

DEFAULT_BUDGET_BYTES = 256 * 2**20


def _bytes_per_row(K: int, m: int, n: int, untied: bool) -> int:
    floats = K * m * n + K * n + K + (K * n * m if untied else 0)
    return 4 * floats + 8


class History:
    """Snapshots of K models trained together, thinned to stay under a memory budget."""

    def __init__(self, K: int, m: int, n: int, untied: bool = False,
                 budget_bytes: int = DEFAULT_BUDGET_BYTES, max_rows: int | None = None):
        """``max_rows``: the most rows it will ever be given (a run of S steps: S + 1; a file's
        rows), so that a large budget for a short run reserves no memory it could never use."""
        K, m, n = int(K), int(m), int(n)
        if K < 1 or m < 1 or n < 1:
            raise ValueError(f"K, m, n must be >= 1, got K={K}, m={m}, n={n}")
        if not budget_bytes or budget_bytes <= 0:
            raise ValueError(f"budget_bytes must be > 0, got {budget_bytes!r}")
        self.K, self.m, self.n, self.untied = K, m, n, bool(untied)
        self.budget_bytes = int(budget_bytes)
        self._bpr = _bytes_per_row(K, m, n, self.untied)
        # the (K,) halted array counts against the budget too
        self.capacity = max(3, (self.budget_bytes - 8 * K) // self._bpr)
        if max_rows is not None:
            self.capacity = max(3, min(self.capacity, int(max_rows) + 1))  # + 1: the latest's row
        P = self.capacity - 1
        self._P = P
        self.dense_rows = P // 2 if P >= 4 else P - 2  # D
        C = self.capacity
        # np.empty: pages are only touched (resident) once rows are written.
        self._steps = np.empty(C, dtype=np.int64)
        self._W = np.empty((C, K, m, n), dtype=np.float32)
        self._b = np.empty((C, K, n), dtype=np.float32)
        self._loss = np.empty((C, K), dtype=np.float32)
        self._M = np.empty((C, K, n, m), dtype=np.float32) if self.untied else None
        self._halted = np.full(K, -1, dtype=np.int64)
        self._kept = 0  # kept rows, indices [0, _kept)
        self._n_dense = 0  # kept rows with step < t0 (they come first)
        self._has_latest = False  # a latest row at index _kept
        self._s0: int | None = None
        self.stride = 1
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- sizes
    @staticmethod
    def planned_bytes(K: int, m: int, n: int, untied: bool, budget_bytes: int, rows: int) -> int:
        """Bytes a History of this budget touches when ``rows`` rows are appended (its arrays
        are allocated empty: a page counts once a row is written to it): at most the budget."""
        bpr = _bytes_per_row(int(K), int(m), int(n), bool(untied))
        capacity = max(3, (int(budget_bytes) - 8 * int(K)) // bpr)
        return int(min(capacity, max(1, int(rows))) * bpr + 8 * int(K))

    @property
    def bytes_per_snapshot(self) -> int:
        return self._bpr

    @property
    def nbytes(self) -> int:
        arrays: list[np.ndarray] = [self._steps, self._W, self._b, self._loss, self._halted]
        if self._M is not None:
            arrays.append(self._M)
        return int(sum(a.nbytes for a in arrays))

    def __len__(self) -> int:
        with self._lock:
            return self._kept + int(self._has_latest)

    # ---------------------------------------------------------------- policy
    @property
    def _t0(self) -> int:
        return (self._s0 or 0) + self.dense_rows

    def _plan(self, start: int, stop: int) -> np.ndarray:
        """Steps in [start, stop) that will be kept if exactly they are appended."""
        start, stop = int(start), int(stop)
        if self._kept + self._has_latest:
            start = max(start, int(self._steps[self._kept + self._has_latest - 1]) + 1)
        if stop <= start:
            return np.empty(0, dtype=np.int64)
        s0 = start if self._s0 is None else self._s0
        t0 = s0 + self.dense_rows
        parts = []
        lo = max(start, s0)
        if lo < min(stop, t0):
            parts.append(np.arange(lo, min(stop, t0), dtype=np.int64))
        # Thinned region: simulate the grid, doublings included.
        stride = self.stride
        kept = self._kept + sum(len(p) for p in parts)
        # thinned rows' steps (existing ones, then planned ones), for compaction counts
        thin_existing = self._steps[self._n_dense:self._kept]
        n_dense = self._n_dense + sum(len(p) for p in parts)
        thin_planned: list[np.ndarray] = []
        cur = max(start, t0)
        while cur < stop:
            j = -(-(cur - t0) // stride)
            nxt = t0 + j * stride
            if nxt >= stop:
                break
            free = self._P - kept
            if free <= 0:
                # compaction: keep even positions of the thinned region
                thin = np.concatenate([thin_existing] + thin_planned) if thin_planned else thin_existing
                nthin = len(thin)
                kept = n_dense + (nthin + 1) // 2
                thin_existing = thin[::2]
                thin_planned = []
                stride *= 2
                continue
            take = min(free, -(-(stop - nxt) // stride))
            seg = nxt + stride * np.arange(take, dtype=np.int64)
            parts.append(seg)
            thin_planned.append(seg)
            kept += take
            cur = int(seg[-1]) + 1
        if not parts:
            return np.empty(0, dtype=np.int64)
        return np.concatenate(parts)

    def record_steps(self, start: int, stop: int) -> np.ndarray:
        """The steps in [start, stop) the policy wants appended (int64, ascending)."""
        with self._lock:
            return self._plan(start, stop)

    def final_grid(self, last_step: int) -> tuple[int, int]:
        """(t0, stride) of the thinned region once every wanted step up to ``last_step`` has been
        appended: its stride then is the smallest power of two (at least the current one) whose
        grid t0, t0 + stride, ... up to ``last_step`` fits the thinned region's P - D rows."""
        with self._lock:
            t0 = self._t0
            rows = self._P - self.dense_rows
            stride = self.stride
            while (int(last_step) - t0) // stride + 1 > rows:
                stride *= 2
            return t0, stride

    def lasting(self, steps: np.ndarray, last_step: int) -> np.ndarray:
        """Which of ``steps`` (bool mask) this history will still hold when the run has reached
        ``last_step``: the dense prefix and the final grid of the thinned region (final_grid).
        A run file that records only these rows holds at most ``capacity`` rows (with the
        latest), whatever the step count, and they are the rows the history ends with."""
        steps = np.asarray(steps, dtype=np.int64)
        t0, stride = self.final_grid(last_step)
        return (steps < t0) | ((steps - t0) % stride == 0)

    def wants(self, step: int) -> bool:
        """Whether an append of ``step`` now would be kept (not only held as the latest)."""
        with self._lock:
            return len(self._plan(step, step + 1)) == 1

    # ---------------------------------------------------------------- append
    def _write(self, i: int, step: int, W, b, loss, M) -> None:
        self._steps[i] = step
        self._W[i] = W
        self._b[i] = b
        with np.errstate(over="ignore"):  # a float64 loss beyond float32 is recorded as inf, quietly
            self._loss[i] = loss
        if self._M is not None:
            self._M[i] = M

    def _copy_row(self, src: int, dst: int) -> None:
        self._steps[dst] = self._steps[src]
        self._W[dst] = self._W[src]
        self._b[dst] = self._b[src]
        self._loss[dst] = self._loss[src]
        if self._M is not None:
            self._M[dst] = self._M[src]

    def _compact(self) -> None:
        """Double the stride; keep every other row of the thinned region (in place)."""
        d = self._n_dense
        nthin = self._kept - d
        new = (nthin + 1) // 2
        for i in range(1, new):
            self._copy_row(d + 2 * i, d + i)
        self._kept = d + new
        self.stride *= 2

    def _check(self, W, b, loss, M):
        K, m, n = self.K, self.m, self.n
        W = np.asarray(W)
        b = np.asarray(b)
        loss = np.asarray(loss)
        if W.shape != (K, m, n):
            raise ValueError(f"W must be (K, m, n) = {(K, m, n)}, got {W.shape}")
        if b.shape != (K, n):
            raise ValueError(f"b must be (K, n) = {(K, n)}, got {b.shape}")
        if loss.shape != (K,):
            loss = loss.reshape(-1)
            if loss.shape != (K,):
                raise ValueError(f"loss must be (K,) = ({K},), got {np.shape(loss)}")
        if self.untied:
            if M is None:
                raise ValueError("this history is untied: append needs M (K, n, m)")
            M = np.asarray(M)
            if M.shape != (K, n, m):
                raise ValueError(f"M must be (K, n, m) = {(K, n, m)}, got {M.shape}")
        else:
            M = None
        return W, b, loss, M

    def append(self, step: int, W: np.ndarray, b: np.ndarray, loss: np.ndarray, M: np.ndarray | None = None, *,
               latest: bool = False) -> bool:
        """Record ``step`` (all K models). Data is copied. Steps must strictly increase.

        A step the policy wants is kept; any other step (``latest=True`` marks the
        engine's chunk-end appends, but the policy decides either way) is held as
        the latest snapshot until the next append replaces it. Returns whether
        the row was kept.
        """
        W, b, loss, M = self._check(W, b, loss, M)
        step = int(step)
        with self._lock:
            n = self._kept + int(self._has_latest)
            if n and step <= int(self._steps[n - 1]):
                raise ValueError(f"steps must increase: got {step} after {int(self._steps[n - 1])}")
            if self._s0 is None:
                self._s0 = step
            t0 = self._t0
            keep = False
            if step < t0:
                keep = True  # dense prefix; at most D such rows, and they come first
            elif (step - t0) % self.stride == 0:
                while self._kept >= self._P:
                    self._compact()
                keep = (step - t0) % self.stride == 0
            i = self._kept  # the latest row always sits right after the kept rows
            self._write(i, step, W, b, loss, M)
            if keep:
                self._kept += 1
                if step < t0:
                    self._n_dense += 1
                self._has_latest = False
            else:
                self._has_latest = True
            return keep

    def append_block(self, steps: np.ndarray, W: np.ndarray, b: np.ndarray, loss: np.ndarray,
                     M: np.ndarray | None = None) -> np.ndarray:
        """Append R rows at once (steps (R,), W (R,K,m,n), ...): the engine's path.

        Same result as R calls of append(); rows in the dense prefix are
        copied in one block (the common case early in a run), the rest go
        through the per-row policy. Returns which rows were kept.
        """
        steps = np.asarray(steps, dtype=np.int64)
        R = steps.size
        kept = np.zeros(R, dtype=bool)
        if R == 0:
            return kept
        if np.any(np.diff(steps) <= 0):
            raise ValueError("steps must increase")
        if self.untied and M is None:
            raise ValueError("this history is untied: append_block needs M (R, K, n, m)")
        with self._lock:
            r = 0
            n_rows = self._kept + int(self._has_latest)
            if n_rows and int(steps[0]) <= int(self._steps[n_rows - 1]):
                raise ValueError(f"steps must increase: got {int(steps[0])} after {int(self._steps[n_rows - 1])}")
            if self._s0 is None:
                self._s0 = int(steps[0])
            r = int(np.searchsorted(steps, self._t0))  # rows with step < t0: all kept, in order
            if r:
                i = self._kept
                self._steps[i:i + r] = steps[:r]
                self._W[i:i + r] = W[:r]
                self._b[i:i + r] = b[:r]
                self._loss[i:i + r] = np.asarray(loss[:r]).reshape(r, self.K)
                if self._M is not None:
                    assert M is not None  # refused above: an untied history is given M
                    self._M[i:i + r] = M[:r]
                self._kept += r
                self._n_dense += r
                self._has_latest = False
                kept[:r] = True
            for j in range(r, R):
                kept[j] = self.append(int(steps[j]), W[j], b[j], loss[j], None if M is None else M[j])
        return kept

    def _append_kept(self, step: int, W, b, loss, M=None) -> None:
        """Loader's path: keep a row unconditionally (caller keeps len <= capacity - 1)."""
        W, b, loss, M = self._check(W, b, loss, M)
        step = int(step)
        with self._lock:
            if self._kept >= self._P:
                raise ValueError("history is full")
            if self._kept and step <= int(self._steps[self._kept - 1]):
                raise ValueError(f"steps must increase: got {step} after {int(self._steps[self._kept - 1])}")
            if self._s0 is None:
                self._s0 = step
            self._has_latest = False
            self._write(self._kept, step, W, b, loss, M)
            self._kept += 1
            if step < self._t0:
                self._n_dense += 1
            else:
                # grid for later appends: the coarsest power of two not above the last gap
                if self._kept - self._n_dense >= 2:
                    gap = int(self._steps[self._kept - 1] - self._steps[self._kept - 2])
                    self.stride = max(self.stride, 1 << max(0, gap.bit_length() - 1))

    # -------------------------------------------------------------- recorder
    def record(self, block: Block) -> None:
        """As a recorder of a run (model.training.recording): append the block's rows (the policy keeps
        them or holds the last as the latest) and mark the models that halted."""
        self.append_block(block.steps, block.W, block.b, block.loss, block.M)
        for k, s in block.halted.items():
            self.mark_halted(k, s)

    def close(self) -> None:
        """As a recorder: nothing to finish (the rows are in memory)."""

    # ---------------------------------------------------------------- halting
    def mark_halted(self, k: int, step: int) -> None:
        """Model k produced NaN/inf at ``step``: serve it from its last finite snapshot."""
        k = int(k)
        if not 0 <= k < self.K:
            raise IndexError(f"model {k} out of range 0..{self.K - 1}")
        with self._lock:
            if self._halted[k] < 0 or step < self._halted[k]:
                self._halted[k] = int(step)

    @property
    def halted(self) -> np.ndarray:
        """(K,) int64: the step each model halted at, -1 for a running model."""
        with self._lock:
            return self._halted.copy()

    # ---------------------------------------------------------------- reading
    @property
    def steps(self) -> np.ndarray:
        with self._lock:
            return self._steps[: self._kept + self._has_latest].copy()

    @property
    def latest_step(self) -> int | None:
        with self._lock:
            n = self._kept + self._has_latest
            return int(self._steps[n - 1]) if n else None

    @property
    def first_step(self) -> int | None:
        with self._lock:
            return int(self._steps[0]) if self._kept + self._has_latest else None

    def _index_at(self, step: int) -> int:
        n = self._kept + self._has_latest
        if not n:
            raise IndexError("the history is empty")
        i = int(np.searchsorted(self._steps[:n], step, side="right")) - 1
        return max(i, 0)

    def index_at(self, step: int) -> int:
        """Index of the snapshot at or before ``step`` (0 for a step before the first)."""
        with self._lock:
            return self._index_at(step)

    def row(self, i: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """(step, W (K,m,n), b (K,n), loss (K,), M (K,n,m) or None): float32 copies."""
        with self._lock:
            n = self._kept + self._has_latest
            if i < 0:
                i += n
            if not 0 <= i < n:
                raise IndexError(f"row {i} out of range (history has {n} rows)")
            M = self._M[i].copy() if self._M is not None else None
            return int(self._steps[i]), self._W[i].copy(), self._b[i].copy(), self._loss[i].copy(), M

    def _finite(self, i: int, k: int) -> bool:
        ok = np.isfinite(self._W[i, k]).all() and np.isfinite(self._b[i, k]).all()
        if self._M is not None:
            ok = ok and np.isfinite(self._M[i, k]).all()
        return bool(ok)

    def snapshot(self, step: int | None = None, model: int = 0) -> Snapshot:
        """Model ``model`` at (or before) ``step`` as a float64 Snapshot; None = latest.

        A halted model is clamped to its last finite snapshot before its halt step.
        """
        model = int(model)
        if not 0 <= model < self.K:
            raise IndexError(f"model {model} out of range 0..{self.K - 1}")
        with self._lock:
            n = self._kept + self._has_latest
            if not n:
                raise IndexError("the history is empty")
            i = n - 1 if step is None else self._index_at(step)
            h = int(self._halted[model])
            if h >= 0:
                if self._steps[i] >= h:
                    i = max(0, int(np.searchsorted(self._steps[:n], h, side="left")) - 1)
                while i > 0 and not self._finite(i, model):
                    i -= 1
            M = self._M[i, model] if self._M is not None else None
            return Snapshot(step=int(self._steps[i]), W=self._W[i, model].astype(np.float64),
                            b=self._b[i, model].astype(np.float64),
                            loss=float(self._loss[i, model]),
                            M=None if M is None else M.astype(np.float64), model=model)

    def last_finite_step(self, model: int = 0, step: int | None = None) -> int | None:
        """The latest recorded step at or before ``step`` (None: the latest) at which model
        ``model``'s parameters are all finite; None when there is none (what a reader names
        when the snapshot asked for is not finite)."""
        model = int(model)
        with self._lock:
            n = self._kept + self._has_latest
            if not n:
                return None
            i = n - 1 if step is None else int(np.searchsorted(self._steps[:n], step, side="right")) - 1
            while i >= 0 and not self._finite(i, model):
                i -= 1
            return int(self._steps[i]) if i >= 0 else None

    def losses(self, model: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(steps (N,), loss (N,) for one model or (N, K) for all), as copies."""
        with self._lock:
            n = self._kept + self._has_latest
            steps = self._steps[:n].copy()
            if model is None:
                return steps, self._loss[:n].copy()
            return steps, self._loss[:n, int(model)].copy()

    @contextmanager
    def locked_arrays(self) -> Iterator[dict]:
        """Views of all rows, with appends blocked while the ``with`` lasts (for saving)."""
        with self._lock:
            n = self._kept + self._has_latest
            yield {
                "steps": self._steps[:n], "W": self._W[:n], "b": self._b[:n],
                "loss": self._loss[:n], "M": None if self._M is None else self._M[:n],
                "halted": self._halted.copy(),
            }

    def __repr__(self) -> str:
        return (f"History(K={self.K}, m={self.m}, n={self.n}, untied={self.untied}, rows={len(self)}"
                f"/{self.capacity}, stride={self.stride})")


__all__ = ["DEFAULT_BUDGET_BYTES", "History"]
