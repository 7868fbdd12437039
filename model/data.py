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


def normalise_rows(X: np.ndarray) -> np.ndarray:
    """Rescale each example (last axis) to unit norm; zero rows stay zero."""
    norms = np.linalg.norm(X, axis=-1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


def sparse_examples(rng: np.random.Generator, count: int, n: int, sparsity: float,
                    dtype=np.float32) -> np.ndarray:
    """(count, n) sparse examples, unit-norm rows. Draws only the non-zeros."""
    X = np.zeros((count, n), dtype=np.float64)
    density = 1.0 - sparsity
    if density >= 0.05 or count * n <= 1_000_000:
        mask = rng.random((count, n)) < density
        vals = 1.0 - rng.random((count, n))  # uniform in (0, 1]
        X = np.where(mask, vals, 0.0)
    else:
        # number of non-zeros per row ~ Binomial(n, density), positions uniform
        # without replacement within a row (rejection of rare duplicates).
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
        X[rows, cols] = 1.0 - rng.random(rows.size)
    return normalise_rows(X).astype(dtype)


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

    def next(self) -> np.ndarray:
        return sparse_examples(self.rng, self.batch, self.n, self.sparsity)
