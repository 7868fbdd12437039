"""Fresh sparse batches (model.training.data.fresh_coo) have the distribution of sparse_coo's
draw: every entry non-zero with probability 1 - S independently of the others, values uniform
in (0, 1] before each example is scaled to unit norm. Each check's tolerance comes from the
sample size (z-scores of 5 standard deviations, goodness-of-fit p-values of 1e-6: a correct
draw fails one about once in a million seeds; the seeds are fixed, so the tests are
deterministic), and the checks are shown to reject draws that are slightly wrong."""
import numpy as np
import pytest
from scipy import stats

import model.training.data as data
from model.training.data import fresh_coo, sparse_coo

Z = 5.0
P_MIN = 1e-6


def _chisq_binomial(counts: np.ndarray, n: int, p: float) -> float:
    """p-value of per-row non-zero counts against Binomial(n, p) (bins of < 5 expected merged
    into their neighbours)."""
    pmf = stats.binom.pmf(np.arange(n + 1), n, p) * counts.size
    seen = np.bincount(counts, minlength=n + 1).astype(float)
    exp_bins, obs_bins, e_acc, o_acc = [], [], 0.0, 0.0
    for e, o in zip(pmf, seen, strict=True):
        e_acc += e
        o_acc += o
        if e_acc >= 5:
            exp_bins.append(e_acc)
            obs_bins.append(o_acc)
            e_acc = o_acc = 0.0
    exp_bins[-1] += e_acc
    obs_bins[-1] += o_acc
    return float(stats.chisquare(obs_bins, exp_bins).pvalue)


def checks(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, count: int, n: int, S: float,
           reference_vals: np.ndarray) -> dict[str, float]:
    """{check: margin}: a margin below 1 fails (z-scores over Z, p-values under P_MIN)."""
    p = 1.0 - S
    N = count * n
    out = {}
    sd = np.sqrt(N * p * (1 - p))
    out["density"] = Z / max(abs(rows.size - N * p) / sd, 1e-9)
    out["row counts"] = _chisq_binomial(np.bincount(rows, minlength=count), n, p) / P_MIN
    col_counts = np.bincount(cols, minlength=n)
    out["columns uniform"] = float(stats.chisquare(col_counts).pvalue) / P_MIN
    flat = rows * n + cols
    # neighbours (next entry in the row, and the same feature of the next example) non-zero together:
    # a count of about N p^2 pairs, its variance about N p^2 (1 - p^2) (pairs overlap little)
    for name, step in (("pairs along a row", 1), ("pairs down a column", n)):
        pairs = np.isin(flat + step, flat).sum() if step == n else \
            np.count_nonzero((np.diff(flat) == 1) & (np.diff(rows) == 0))
        slots = count * (n - 1) if step == 1 else (count - 1) * n
        mean, var = slots * p * p, slots * p * p * (1 - p * p)
        out[name] = Z / max(abs(pairs - mean) / np.sqrt(var), 1e-9)
    out["values (KS against sparse_coo)"] = float(stats.ks_2samp(vals, reference_vals).pvalue) / P_MIN
    return out


def _structure(rows, cols, vals, count, n):
    assert rows.dtype == np.int64 and cols.dtype == np.int64 and vals.dtype == np.float32
    flat = rows * n + cols
    assert np.all(np.diff(flat) > 0)  # row-major order, no duplicates
    assert rows.min() >= 0 and rows.max() < count and cols.min() >= 0 and cols.max() < n
    assert np.all(vals > 0)
    norms = np.sqrt(np.bincount(rows, weights=vals.astype(np.float64) ** 2, minlength=count))
    np.testing.assert_allclose(norms[norms > 0], 1.0, rtol=1e-5)


@pytest.mark.parametrize("S", [0.5, 0.9, 0.99])
def test_fresh_batches_have_the_distribution_of_the_dense_draw(S):
    count, n = 4096, 200
    rows, cols, vals = fresh_coo(np.random.default_rng(1), count, n, S)
    _structure(rows, cols, vals, count, n)
    ref = sparse_coo(np.random.default_rng(2), count, n, S)
    margins = checks(rows, cols, vals, count, n, S, ref[2])
    assert min(margins.values()) > 1.0, margins
    # the reference draw passes the same checks (they test the distribution, not the draw)
    ref_margins = checks(*ref, count, n, S, sparse_coo(np.random.default_rng(3), count, n, S)[2])
    assert min(ref_margins.values()) > 1.0, ref_margins


@pytest.mark.parametrize("wrong", ["denser", "values squared", "first feature favoured", "rows alike"])
def test_the_checks_reject_a_slightly_wrong_draw(wrong):
    count, n, S = 4096, 200, 0.9
    rng = np.random.default_rng(4)
    if wrong == "denser":
        rows, cols, vals = fresh_coo(rng, count, n, S - 0.005)  # density 0.105 for 0.1
    elif wrong == "rows alike":  # every example has the same number of non-zeros
        mask = np.zeros((count, n), bool)
        for r in range(count):
            mask[r, rng.choice(n, int(n * (1 - S)), replace=False)] = True
        rows, cols = np.nonzero(mask)
        vals = 1.0 - rng.random(rows.size)
        vals = (vals / np.sqrt(np.bincount(rows, weights=vals ** 2, minlength=count))[rows]).astype(np.float32)
    else:
        rows, cols, vals = fresh_coo(rng, count, n, S)
        if wrong == "values squared":
            v = vals.astype(np.float64) ** 2
            vals = (v / np.sqrt(np.bincount(rows, weights=v ** 2, minlength=count))[rows]).astype(np.float32)
        else:  # feature 0 non-zero half again as often
            extra = np.setdiff1d(np.nonzero(rng.random(count) < 0.1)[0], rows[cols == 0])
            rows = np.concatenate([rows, extra])
            cols = np.concatenate([cols, np.zeros(extra.size, np.int64)])
            vals = np.concatenate([vals, np.full(extra.size, 0.5, np.float32)])
    ref = sparse_coo(np.random.default_rng(2), count, n, S)[2]
    margins = checks(rows, cols, vals, count, n, S, ref)
    assert min(margins.values()) < 1.0, margins


def test_drawing_more_gaps_when_the_first_fall_short_keeps_every_pattern_equally_likely(monkeypatch):
    """2 examples of 3 features at S = 0.5: all 64 masks equally likely, also when the first gaps
    drawn always fall short (GAP_SDS = GAP_EXTRA = 0: the loop that draws more runs)."""
    monkeypatch.setattr(data, "GAP_SDS", 0.0)
    monkeypatch.setattr(data, "GAP_EXTRA", 0)
    rng = np.random.default_rng(5)
    draws = 32_000
    seen = np.zeros(64)
    for _ in range(draws):
        rows, cols, _ = fresh_coo(rng, 2, 3, 0.5)
        seen[np.sum(2 ** (rows * 3 + cols))] += 1
    assert stats.chisquare(seen).pvalue > P_MIN


def test_empty_and_full_densities():
    rng = np.random.default_rng(6)
    rows, cols, vals = fresh_coo(rng, 10, 5, 1.0)
    assert rows.size == cols.size == vals.size == 0
    rows, cols, vals = fresh_coo(rng, 10, 5, 0.0)
    assert rows.size == 50
