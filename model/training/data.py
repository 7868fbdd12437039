"""Training data: one-hot examples, finite sparse datasets, fresh sparse batches.

Sparse examples (Anthropic's SMDD set-up): each entry is 0 with probability S,
else uniform in (0, 1]; each example is rescaled to unit norm (an all-zero
example stays zero).

Seeds: model k of a run with seed s gets its finite dataset from seed s + k
alone, so a sweep member reopened as a single run sees the same data. Fresh
batches (T = infinity) come from one stream seeded by the run seed and are
shared by all models of the run.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from ..config import TrainConfig

#: Sparse examples as (rows, cols, vals): int64 row and column indices, float32 values.
Coo = tuple[np.ndarray, np.ndarray, np.ndarray]

# Distinct stream tags so data never reuses the init's random numbers.
_DATA_STREAM = 0xDA7A
_BATCH_STREAM = 0xBA7C


def dense_draw(count: int, n: int, sparsity: float) -> bool:
    """Whether sparse_coo draws `count` examples through a dense (count, n) mask."""
    return 1.0 - sparsity >= 0.05 or count * n <= 1_000_000


def sparse_coo(rng: np.random.Generator, count: int, n: int, sparsity: float) -> Coo:
    """`count` sparse examples as (rows, cols, vals): unit-norm rows, row-major order.

    Draws only the non-zeros when the data is very sparse: the number of
    non-zeros of a row is Binomial(n, 1 - S) and their positions are uniform
    without replacement (rare duplicates are redrawn).
    """
    density = 1.0 - sparsity
    if dense_draw(count, n, sparsity):
        mask = rng.random((count, n)) < density
        vals = 1.0 - rng.random((count, n))  # uniform in (0, 1]
        rows, cols = np.nonzero(mask)
        vals = vals[rows, cols]
    else:
        nnz = rng.binomial(n, density, size=count)
        rows = np.repeat(np.arange(count), nnz)
        cols = rng.integers(0, n, size=rows.size)
        for _ in range(100):
            key = rows.astype(np.int64) * n + cols
            _, first = np.unique(key, return_index=True)
            dup = np.ones(key.size, bool)
            dup[first] = False
            if not dup.any():
                break
            cols[dup] = rng.integers(0, n, size=int(dup.sum()))
        order = np.lexsort((cols, rows))
        rows, cols = rows[order], cols[order]
        vals = 1.0 - rng.random(rows.size)
    norms = np.sqrt(np.bincount(rows, weights=vals * vals, minlength=count))
    vals = vals / norms[rows]
    return rows.astype(np.int64), cols.astype(np.int64), vals.astype(np.float32)


#: From this density fresh_coo draws through sparse_coo's dense mask (2 numbers an entry), which
#: is then no slower than about 4 numbers a non-zero.
DENSE_FRESH = 0.75
#: Gaps fresh_coo draws at first: the mean number of non-zeros plus GAP_SDS standard deviations
#: plus GAP_EXTRA (drawing more when they fall short is rare, and gives the same distribution).
GAP_SDS = 6.0
GAP_EXTRA = 16


def fresh_coo(rng: np.random.Generator, count: int, n: int, sparsity: float) -> Coo:
    """`count` sparse examples as (rows, cols, vals), the distribution of sparse_coo (each
    entry non-zero with probability 1 - S, independently; values uniform in (0, 1]; rows of
    unit norm; row-major order), drawing only the non-zeros: the positions of the non-zeros
    of the (count, n) entries read in row-major order are a Bernoulli process, whose gaps
    are independent Geometric(1 - S) (numpy's Generator.geometric: the trials up to and
    including the next success). About 4 random numbers a non-zero instead of 2 an entry:
    at n = 1,000, S = 0.9, B = 1,024 a batch takes ~3 ms instead of ~50 (fresh batches, drawn
    every step; the finite sets keep sparse_coo's stream, so their examples do not change)."""
    p = 1.0 - float(sparsity)
    if p >= DENSE_FRESH:
        return sparse_coo(rng, count, n, sparsity)
    total = int(count) * int(n)
    if p <= 0.0 or total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    p = min(p, 1.0)
    # enough gaps to pass the end almost always (mean + GAP_SDS sd + GAP_EXTRA); more are drawn if not
    mean = total * p
    want = max(1, int(mean + GAP_SDS * np.sqrt(mean * (1.0 - p)) + GAP_EXTRA))
    pos = np.cumsum(rng.geometric(p, size=want)) - 1
    while pos[-1] < total - 1:
        pos = np.concatenate([pos, pos[-1] + np.cumsum(rng.geometric(p, size=want))])
    pos = pos[: np.searchsorted(pos, total)]
    rows, cols = np.divmod(pos, n)
    vals = 1.0 - rng.random(pos.size)  # uniform in (0, 1]
    norms = np.sqrt(np.bincount(rows, weights=vals * vals, minlength=count))
    vals = vals / norms[rows]
    return rows.astype(np.int64), cols.astype(np.int64), vals.astype(np.float32)


def densify(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, count: int, n: int,
            dtype: DTypeLike = np.float32) -> np.ndarray:
    X = np.zeros((count, n), dtype=dtype)
    X[rows, cols] = vals
    return X


def sparse_examples(rng: np.random.Generator, count: int, n: int, sparsity: float,
                    dtype: DTypeLike = np.float32) -> np.ndarray:
    """(count, n) sparse examples, unit-norm rows (an all-zero row stays zero)."""
    return densify(*sparse_coo(rng, count, n, sparsity), count, n, dtype)


def model_dataset(seed: int, T: int, n: int, sparsity: float) -> np.ndarray:
    """The finite sparse training set of the model whose seed is `seed`: (T, n)."""
    return densify(*model_dataset_coo(seed, T, n, sparsity), T, n)


def make_dataset(config: TrainConfig) -> np.ndarray | None:
    """(K, T, n) float32 for a finite sparse run; None for identity or fresh data. Filled in
    place, one model's set at a time (a stack of K sets would hold them twice)."""
    if config.data != "sparse" or config.examples is None:
        return None
    T, n = config.examples, config.n
    X = np.zeros((config.models, T, n), np.float32)
    for k in range(config.models):
        rows, cols, vals = model_dataset_coo(config.seed + k, T, n, config.sparsity)
        X[k][rows, cols] = vals
    return X


class BatchStream:
    """Fresh sparse batches (T = infinity), one stream shared by all models."""

    def __init__(self, config: TrainConfig):
        self.rng = np.random.default_rng([_BATCH_STREAM, config.seed])
        self.n = config.n
        self.sparsity = config.sparsity
        self.batch = config.effective_batch

    def next_coo(self) -> Coo:
        """The next batch as (rows, cols, vals) (fresh_coo: only the non-zeros drawn)."""
        return fresh_coo(self.rng, self.batch, self.n, self.sparsity)

    def next(self) -> np.ndarray:
        """The next batch, dense (B, n); the same stream as next_coo."""
        return densify(*self.next_coo(), self.batch, self.n)


class SparseDataset:
    """Finite training sets kept sparse: K blocks of T rows in one CSR (indptr, cols,
    vals), block k being model k's set. Memory O(nnz); ``dense()`` gives the (K, T, n)
    array that ``make_dataset`` gives, for the code that wants it dense."""

    def __init__(self, indptr: np.ndarray, cols: np.ndarray, vals: np.ndarray, K: int, T: int, n: int):
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.cols = np.ascontiguousarray(cols, dtype=np.int64)
        self.vals = np.ascontiguousarray(vals, dtype=np.float32)
        self.K, self.T, self.n = int(K), int(T), int(n)
        if self.indptr.shape != (self.K * self.T + 1,):
            raise ValueError(f"indptr must have K T + 1 = {self.K * self.T + 1} entries, got {self.indptr.shape}")

    @classmethod
    def from_coo(cls, blocks: Iterable[Coo], T: int, n: int) -> SparseDataset:
        """From one (rows, cols, vals) per model, rows 0..T-1 in row-major order."""
        counts, cols, vals = [], [], []
        for rows, c, v in blocks:
            counts.append(np.bincount(rows, minlength=T))
            cols.append(c)
            vals.append(v)
        K = len(counts)
        indptr = np.zeros(K * T + 1, np.int64)
        if K:
            np.cumsum(np.concatenate(counts), out=indptr[1:])
        def cat(a, dt):
            return np.concatenate(a).astype(dt, copy=False) if a else np.zeros(0, dt)
        return cls(indptr, cat(cols, np.int64), cat(vals, np.float32), K, T, n)

    @classmethod
    def from_dense(cls, X: np.ndarray) -> SparseDataset:
        """From a dense (K, T, n) array (each block row-major)."""
        X = np.asarray(X, dtype=np.float32)
        K, T, n = X.shape
        blocks = []
        for k in range(K):
            r, c = np.nonzero(X[k])
            blocks.append((r, c, X[k][r, c]))
        return cls.from_coo(blocks, T, n)

    @property
    def nnz(self) -> int:
        return int(self.cols.size)

    @property
    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.cols.nbytes + self.vals.nbytes)

    def coo(self, k: int) -> Coo:
        """Model k's set as (rows 0..T-1, cols, vals)."""
        lo, hi = self.indptr[k * self.T], self.indptr[(k + 1) * self.T]
        counts = np.diff(self.indptr[k * self.T:(k + 1) * self.T + 1])
        rows = np.repeat(np.arange(self.T, dtype=np.int64), counts)
        return rows, self.cols[lo:hi], self.vals[lo:hi]

    def dense(self, k: int | None = None) -> np.ndarray:
        """Model k's (T, n) set, or all of them (K, T, n) when k is None."""
        if k is not None:
            return densify(*self.coo(k), self.T, self.n)
        return np.stack([self.dense(j) for j in range(self.K)]) if self.K else np.zeros((0, self.T, self.n),
                                                                                          np.float32)


def model_dataset_coo(seed: int, T: int, n: int, sparsity: float) -> Coo:
    """model_dataset's examples as (rows, cols, vals): the same draws, never dense."""
    rng = np.random.default_rng([_DATA_STREAM, seed])
    return sparse_coo(rng, T, n, sparsity)


def make_sparse_dataset(config: TrainConfig) -> SparseDataset | None:
    """make_dataset's sets, kept sparse (None for identity or fresh data)."""
    if config.data != "sparse" or config.examples is None:
        return None
    T = config.examples
    return SparseDataset.from_coo([model_dataset_coo(config.seed + k, T, config.n, config.sparsity)
                                   for k in range(config.models)], T, config.n)
