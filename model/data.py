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

import numpy as np

# Distinct stream tags so data never reuses the init's random numbers.
_DATA_STREAM = 0xDA7A
_BATCH_STREAM = 0xBA7C


def sparse_coo(rng: np.random.Generator, count: int, n: int, sparsity: float):
    """`count` sparse examples as (rows, cols, vals): unit-norm rows, row-major order.

    Draws only the non-zeros when the data is very sparse: the number of
    non-zeros of a row is Binomial(n, 1 - S) and their positions are uniform
    without replacement (rare duplicates are redrawn).
    """
    density = 1.0 - sparsity
    if density >= 0.05 or count * n <= 1_000_000:
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


def densify(rows, cols, vals, count: int, n: int, dtype=np.float32) -> np.ndarray:
    X = np.zeros((count, n), dtype=dtype)
    X[rows, cols] = vals
    return X


def sparse_examples(rng: np.random.Generator, count: int, n: int, sparsity: float,
                    dtype=np.float32) -> np.ndarray:
    """(count, n) sparse examples, unit-norm rows (an all-zero row stays zero)."""
    return densify(*sparse_coo(rng, count, n, sparsity), count, n, dtype)


def model_dataset(seed: int, T: int, n: int, sparsity: float) -> np.ndarray:
    """The finite sparse training set of the model whose seed is `seed`: (T, n)."""
    rng = np.random.default_rng([_DATA_STREAM, seed])
    return sparse_examples(rng, T, n, sparsity)


def make_dataset(config) -> np.ndarray | None:
    """(K, T, n) float32 for a finite sparse run; None for identity or fresh data."""
    if config.data != "sparse" or config.examples is None:
        return None
    return np.stack([model_dataset(config.seed + k, config.examples, config.n, config.sparsity)
                     for k in range(config.models)])


class BatchStream:
    """Fresh sparse batches (T = infinity), one stream shared by all models."""

    def __init__(self, config):
        self.rng = np.random.default_rng([_BATCH_STREAM, config.seed])
        self.n = config.n
        self.sparsity = config.sparsity
        self.batch = config.effective_batch

    def next_coo(self):
        """The next batch as (rows, cols, vals)."""
        return sparse_coo(self.rng, self.batch, self.n, self.sparsity)

    def next(self) -> np.ndarray:
        """The next batch, dense (B, n); the same stream as next_coo."""
        return densify(*self.next_coo(), self.batch, self.n)
