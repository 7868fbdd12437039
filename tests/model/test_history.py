"""History: recording policy, budget, lookup, snapshots, halting, threads."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from model.history import History
from model.snapshot import Snapshot


def rows_for(step, K=1, m=2, n=5, untied=False):
    W = np.full((K, m, n), step, dtype=np.float32)
    b = np.full((K, n), step, dtype=np.float32)
    loss = np.full(K, step, dtype=np.float32)
    M = np.full((K, n, m), step, dtype=np.float32) if untied else None
    return W, b, loss, M


def run_engine(h, steps, chunk=50, start=0, K=1, m=2, n=5, untied=False):
    """Play the engine: per chunk, append the wanted steps, then always the chunk's last step."""
    for c0 in range(start, start + steps, chunk):
        c1 = min(start + steps, c0 + chunk)
        for s in h.record_steps(c0, c1):
            assert h.append(int(s), *rows_for(int(s), K, m, n, untied)) is True
        if h.latest_step != c1 - 1:
            h.append(c1 - 1, *rows_for(c1 - 1, K, m, n, untied), latest=True)
        assert h.latest_step == c1 - 1
        assert len(h) <= h.capacity


def test_sizes_and_capacity():
    h = History(3, 2, 10)
    assert h.bytes_per_snapshot == 4 * (3 * 2 * 10 + 3 * 10 + 3) + 8
    assert h.capacity == (256 * 2**20 - 8 * 3) // h.bytes_per_snapshot
    hu = History(3, 2, 10, untied=True)
    assert hu.bytes_per_snapshot == h.bytes_per_snapshot + 4 * 3 * 10 * 2
    tiny = History(1, 2, 5, budget_bytes=1)
    assert tiny.capacity == 3
    big = History(1, 2, 10_000)  # the acceptance case: n = 10,000 under 256 MiB
    assert big.bytes_per_snapshot == 120_012 and big.capacity == 2236
    assert big.nbytes <= 256 * 2**20


def test_dense_prefix_then_thinning():
    h = History(1, 2, 5, budget_bytes=40 * History(1, 2, 5).bytes_per_snapshot + 8)
    cap, D = h.capacity, h.dense_rows
    assert cap == 40 and (cap - 1) // 2 == D
    run_engine(h, 10_000, chunk=37, start=100)
    st = h.steps
    # dense prefix: every step from the first one
    assert np.array_equal(st[:D], np.arange(100, 100 + D))
    # thinned region: evenly spaced on a power-of-two stride, starting right after the prefix
    kept = st[D:-1] if st[-1] != st[-2] + h.stride else st[D:]
    gaps = np.diff(kept)
    assert kept[0] == 100 + D
    assert np.all(gaps == h.stride) and h.stride & (h.stride - 1) == 0 and h.stride > 1
    # between half and all of the thinned rows in use, and the whole run covered
    assert (cap - 1 - D) // 2 <= len(kept) <= cap - 1 - D
    assert st[-1] == 100 + 10_000 - 1
    assert 10_000 - (kept[-1] - 100) <= 2 * h.stride


@pytest.mark.slow
def test_never_over_budget_and_no_reallocation():
    for budget in (1000, 5000, 123_457):
        h = History(2, 3, 4, budget_bytes=budget)
        assert h.nbytes <= budget
        ptr = _storage(h)
        for s in range(8_000):  # every step appended (also the unwanted ones)
            h.append(s, *rows_for(s, 2, 3, 4))
            assert len(h) <= h.capacity
        assert h.nbytes <= budget
        assert _storage(h) == ptr


def _storage(h):
    """The address of the history's W storage (its rows are views from the first)."""
    with h.locked_arrays() as a:
        return a["W"].ctypes.data


def test_latest_always_kept_and_replaced():
    h = History(1, 2, 5, budget_bytes=12 * History(1, 2, 5).bytes_per_snapshot)
    for s in range(0, 5000, 3):
        h.append(s, *rows_for(s))
        assert h.latest_step == s
        step, W, b, loss, _ = h.row(len(h) - 1)
        assert step == s and np.all(s == W)
        assert h.snapshot().step == s
    steps = h.steps
    assert np.all(np.diff(steps) > 0)
    # at most one row off the policy's grid: the latest
    assert steps[0] == 0


def test_record_steps_matches_append_and_wants():
    h = History(1, 2, 5, budget_bytes=30 * History(1, 2, 5).bytes_per_snapshot)
    assert h.wants(7)  # empty history wants anything
    plan = h.record_steps(0, 100_000)
    for s in plan:  # every planned step is kept when appended in order
        assert h.append(int(s), *rows_for(int(s))) is True
    assert len(h) == len(h.steps) <= h.capacity
    h2 = History(1, 2, 5, budget_bytes=30 * History(1, 2, 5).bytes_per_snapshot)
    for s in range(3000):
        w = h2.wants(s)
        assert h2.append(s, *rows_for(s)) is w


def test_long_run_is_well_spread():
    # a 1,000,000-step run, scaled-down budget: dense start, even spread, last step kept
    h = History(1, 2, 5, budget_bytes=500 * History(1, 2, 5).bytes_per_snapshot)
    run_engine(h, 1_000_000, chunk=1000)
    st = h.steps
    D = h.dense_rows
    assert np.array_equal(st[:D], np.arange(D))
    assert st[-1] == 999_999
    gaps = np.diff(st)
    assert gaps.max() <= h.stride
    assert len(st) > 0.7 * h.capacity


def test_index_at_against_brute_force():
    h = History(1, 2, 5, budget_bytes=25 * History(1, 2, 5).bytes_per_snapshot)
    rng = np.random.default_rng(1)
    s = 5
    for _ in range(400):
        s += int(rng.integers(1, 9))
        h.append(s, *rows_for(s))
    steps = h.steps
    queries = list(rng.integers(-10, s + 20, 500)) + list(steps) + [steps[0] - 1, -(10**9), 10**12]
    for q in queries:
        q = int(q)
        brute = max([i for i, v in enumerate(steps) if v <= q], default=0)
        assert h.index_at(q) == brute, q
        assert h.snapshot(q).step == steps[brute]
    with pytest.raises(IndexError):
        History(1, 2, 5).index_at(3)


def test_snapshot_float64_values():
    K, m, n = 3, 2, 6
    h = History(K, m, n, untied=True)
    rng = np.random.default_rng(0)
    data = {}
    for s in range(0, 50, 5):
        W = rng.standard_normal((K, m, n)).astype(np.float32)
        b = rng.standard_normal((K, n)).astype(np.float32)
        loss = rng.random(K).astype(np.float32)
        M = rng.standard_normal((K, n, m)).astype(np.float32)
        h.append(s, W, b, loss, M)
        data[s] = (W, b, loss, M)
    for s, (W, b, loss, M) in data.items():
        for k in range(K):
            snap = h.snapshot(s + 2, model=k)
            assert isinstance(snap, Snapshot) and snap.step == s and snap.model == k
            assert snap.W.dtype == np.float64 and snap.b.dtype == np.float64
            assert np.array_equal(snap.W, W[k].astype(np.float64))
            assert np.array_equal(snap.b, b[k].astype(np.float64))
            assert np.array_equal(snap.M, M[k].astype(np.float64))
            assert snap.loss == float(loss[k])
    assert h.snapshot().step == 45
    steps, losses = h.losses()
    assert losses.shape == (10, K) and np.array_equal(steps, np.arange(0, 50, 5))
    _, l1 = h.losses(1)
    assert l1.shape == (10,) and l1[3] == data[15][2][1]
    with pytest.raises(IndexError):
        h.snapshot(model=K)


def test_halted_model_clamps_to_last_finite():
    h = History(2, 2, 4)
    for s in range(100):
        W, b, loss, _ = rows_for(s, K=2, n=4)
        if s >= 57:  # model 1 goes NaN at 57; the engine notices at the chunk end (60)
            W[1] = np.nan
            loss[1] = np.nan
        h.append(s, W, b, loss)
    assert list(h.halted) == [-1, -1]
    h.mark_halted(1, 60)
    assert list(h.halted) == [-1, 60]
    assert h.snapshot(model=1).step == 56
    assert h.snapshot(80, model=1).step == 56
    assert h.snapshot(58, model=1).step == 56
    assert h.snapshot(30, model=1).step == 30
    assert h.snapshot(model=0).step == 99
    assert np.all(np.isfinite(h.snapshot(model=1).W))


def test_append_validation():
    h = History(2, 2, 3)
    h.append(5, *rows_for(5, 2, 2, 3))
    with pytest.raises(ValueError, match="increase"):
        h.append(5, *rows_for(5, 2, 2, 3))
    with pytest.raises(ValueError, match="W must be"):
        h.append(6, np.zeros((2, 3, 2)), np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="untied"):
        History(1, 2, 3, untied=True).append(0, np.zeros((1, 2, 3)), np.zeros((1, 3)), np.zeros(1))
    assert len(h) == 1 and h.first_step == 5 == h.latest_step


def test_concurrent_writer_and_readers_see_consistent_rows():
    K, m, n = 2, 2, 64
    h = History(K, m, n, budget_bytes=40 * History(K, m, n).bytes_per_snapshot)
    stop = threading.Event()
    errors = []

    def writer():
        try:
            run_engine(h, 6000, chunk=13, K=K, m=m, n=n)
        except Exception as exc:  # noqa: BLE001 - pragma: no cover - reported below
            errors.append(exc)
        finally:
            stop.set()

    def reader(seed):
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                N = len(h)
                if not N:
                    continue
                try:
                    step, W, b, loss, _ = h.row(int(rng.integers(0, N)))
                except IndexError:
                    continue  # the history compacted meanwhile
                assert np.all(step == W) and np.all(b == step) and np.all(loss == step)
                snap = h.snapshot(int(rng.integers(0, 6000)), model=int(rng.integers(0, K)))
                assert np.all(snap.step == snap.W) and np.all(snap.b == snap.step)
                st, ls = h.losses()
                assert np.array_equal(ls[:, 0], st.astype(np.float32))
        except Exception as exc:  # noqa: BLE001 - any failure of a reader thread is collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    assert h.latest_step == 5999


def test_append_block_equals_row_by_row_appends():
    """The engine's block append keeps exactly what per-row appends keep."""
    import numpy as np

    from model.history import History

    rng = np.random.default_rng(0)
    K, m, n = 2, 2, 3
    a = History(K, m, n, budget_bytes=40 * (4 * (K * m * n + K * n + K) + 8))
    b = History(K, m, n, budget_bytes=a.budget_bytes)
    step = 0
    for chunk in (1, 5, 17, 3, 40, 100, 7, 300):
        steps = np.concatenate([b.record_steps(step + (step > 0), step + chunk + 1)])
        steps = np.union1d(steps, [step + chunk])
        steps = steps[steps > (step if step > 0 else -1)]
        W = rng.normal(size=(steps.size, K, m, n)).astype(np.float32)
        bb = rng.normal(size=(steps.size, K, n)).astype(np.float32)
        loss = rng.random((steps.size, K)).astype(np.float32)
        kept_rows = [a.append(int(s), W[i], bb[i], loss[i]) for i, s in enumerate(steps)]
        kept_block = b.append_block(steps, W, bb, loss)
        assert list(kept_block) == kept_rows
        step += chunk
    assert np.array_equal(a.steps, b.steps)
    for i in range(len(a)):
        np.testing.assert_array_equal(a.row(i)[1], b.row(i)[1])
