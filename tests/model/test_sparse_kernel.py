"""The compiled sparse paths (the fused kernel and the BLAS path: model/training/sparse_kernels.py,
model/training/sparse_backend.py) against the torch path and an independent autograd + torch.optim
reference: every optimiser, tied and untied, finite sets (full batch and minibatches) and
fresh batches; the fused kernel's schedules agree bit for bit; the data stays sparse."""
import numpy as np
import pytest
import torch

import model.training.sparse_backend as sb
from model.config import TrainConfig
from model.training.data import BatchStream, SparseDataset, make_dataset, make_sparse_dataset, model_dataset
from model.training.engine import Trainer
from model.training.init import initial_parameters
from tests.model.test_engine import reference_train

OPTIMISERS = [dict(optimizer="adamw", lr=1e-3), dict(optimizer="adam", lr=1e-3, weight_decay=1e-3),
              dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=1e-3)]
DATA = {
    "finite": dict(examples=30),
    "minibatch": dict(examples=30, batch=8),
    "fresh": dict(examples=None, batch=48),
}
STEPS = 300
# float32 training against a float64 reference: each step's rounding (~1e-7 relative) is
# carried over 300 steps; measured differences are below 1e-5 (the torch path's too) on
# parameters that move by 0.2-1. A wrong gradient term fails it (checked: leaving out the
# non-zeros' correction, or scaling the encoder's gradient by 0.99). Larger learning rates are left
# out on purpose: with lr 1e-2 an output of a non-zero hovering at p = 0 (where the
# gradient jumps by 2 I x / B) makes any two float implementations part by ~lr, the torch
# path and autograd included; so does a random initial bias (a b_i driven to the ReLU's
# edge, where Adam turns gradients of float-rounding size into steps of size lr).
ATOL = 1e-4


def _batches_fn(cfg, tr):
    """X_fn(t) for reference_train: the batches the engine's torch path draws, step by step."""
    if cfg.examples is None:
        stream = BatchStream(cfg)
        batches = [stream.next() for _ in range(cfg.steps + 1)]
        return lambda t: batches[t]
    X = make_dataset(cfg)
    if cfg.effective_batch >= cfg.examples:
        return lambda t: X
    g = torch.Generator().manual_seed(cfg.seed + 0x5EED)
    idx = [torch.randperm(cfg.examples, generator=g)[: cfg.effective_batch].numpy() for _ in range(cfg.steps + 1)]
    return lambda t: X[:, idx[t], :]


def _config(opt, data, untied, **more):
    return TrainConfig(n=40, m=2, data="sparse", sparsity=0.9, steps=STEPS, models=3, seed=5,
                       untied=untied, **opt, **DATA[data]).replace(**more).validate()


COMPILED = ("fused", "blas")


@pytest.mark.parametrize("path", COMPILED)
@pytest.mark.slow
@pytest.mark.parametrize("untied", [False, True], ids=["tied", "untied"])
@pytest.mark.parametrize("data", list(DATA))
@pytest.mark.parametrize("opt", OPTIMISERS, ids=[o["optimizer"] for o in OPTIMISERS])
def test_compiled_path_equals_torch_path_and_autograd(opt, data, untied, path):
    cfg = _config(opt, data, untied)
    W0, b0, M0 = initial_parameters(cfg)  # b = 0: about half the outputs fire at first
    ours = Trainer(cfg, initial=(W0, b0, M0), backend=path)
    assert ours.path.name == path
    ours.run()
    torch_path = Trainer(cfg, initial=(W0, b0, M0), backend="torch")
    assert not torch_path.use_sparse_kernel
    torch_path.run()
    Wr, br, Mr, losses = reference_train(cfg, W0, b0, M0, _batches_fn(cfg, ours), cfg.steps)
    W, b, M = ours.parameters()
    Wt, bt, Mt = torch_path.parameters()
    assert np.abs(W - W0).max() > 50 * ATOL  # it trained: the comparison below can fail
    for got, want in ((W, Wr), (b, br), (M, Mr)):
        if want is not None:
            np.testing.assert_allclose(got, want, atol=ATOL)
    for got, want in ((W, Wt), (b, bt), (M, Mt)):
        if want is not None:
            np.testing.assert_allclose(got, want, atol=ATOL)
    steps, rec = ours.history.losses()  # (N,), (N, K)
    assert steps[0] == 0 and steps[-1] == STEPS
    np.testing.assert_allclose(rec[0], losses[0], rtol=1e-5)  # step 0: same batches, same losses
    np.testing.assert_allclose(rec[-1], losses[-1], rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("path", COMPILED)
@pytest.mark.parametrize("more", [dict(bias=False), dict(importance=[0.95 ** i for i in range(40)]),
                                  dict(schedule="warmup-cosine", warmup=30), dict(m=3), dict(m=1), dict(m=7)],
                         ids=["no-bias", "importance", "warmup-cosine", "m=3", "m=1", "m=7"])
@pytest.mark.slow
def test_compiled_path_options_match_autograd(more, path):
    cfg = _config(OPTIMISERS[0], "finite", False, **more)
    W0, b0, M0 = initial_parameters(cfg)
    ours = Trainer(cfg, backend=path)
    ours.run()
    Wr, br, _, _ = reference_train(cfg, W0, b0, M0, _batches_fn(cfg, ours), cfg.steps)
    W, b, _ = ours.parameters()
    np.testing.assert_allclose(W, Wr, atol=ATOL)
    np.testing.assert_allclose(b, br, atol=ATOL)
    if not cfg.bias:
        assert np.all(b == 0)


@pytest.mark.parametrize("path", COMPILED)
def test_one_hot_minibatches_take_a_compiled_path_and_match_autograd(path):
    cfg = TrainConfig(n=9, batch=4, steps=STEPS, lr=1e-2, seed=2, models=2).validate()
    assert Trainer(cfg).path.name in COMPILED
    ours = Trainer(cfg, backend=path)
    ours.run()
    W0, b0, M0 = initial_parameters(cfg)
    g = torch.Generator().manual_seed(cfg.seed + 0x5EED)
    idx = [torch.randperm(9, generator=g)[:4].numpy() for _ in range(STEPS + 1)]
    Wr, br, _, _ = reference_train(cfg, W0, b0, M0, lambda t: np.eye(9)[idx[t]], STEPS)
    np.testing.assert_allclose(ours.parameters()[0], Wr, atol=ATOL)
    np.testing.assert_allclose(ours.parameters()[1], br, atol=ATOL)


@pytest.mark.parametrize("changes", [dict(models=1), dict(models=1, untied=True),
                                     dict(models=2, examples=None, batch=64), dict(models=1, m=3, batch=20),
                                     dict(n=2000, examples=700, steps=40)],
                         ids=["K1", "K1-untied", "K2-fresh", "K1-m3-minibatch", "n2000-two-tiles"])
@pytest.mark.slow
def test_split_and_per_model_schedules_give_the_same_numbers_bit_for_bit(monkeypatch, changes):
    """Which schedule runs (chosen by timing, so by the machine's load) never changes a number:
    nor does a chunk run partly on one and partly on the other."""
    monkeypatch.setattr(sb, "SPLIT_MIN_PAIRS", 1)  # feature blocks at this small size
    cfg = _config(OPTIMISERS[0], "finite", False, steps=120).replace(**changes).validate()
    plans = {  # (the fused path's schedules)
        "split": lambda threads, n: [("split", 0, n)],
        "models": lambda threads, n: [("models", 0, n)],
        "mixed": lambda threads, n: [("split", 0, min(3, n))] + ([("models", 3, n)] if n > 3 else []),
    }
    runs = {}
    for name, plan in plans.items():
        tr = Trainer(cfg, threads=2, backend="fused")
        assert tr.impl.blocks > 1
        tr.impl._plan = plan
        tr.run(chunk_seconds=0.002)
        runs[name] = tr
    a = runs["split"]
    for b in (runs["models"], runs["mixed"]):
        for x, y in zip(a.parameters(), b.parameters(), strict=True):
            if x is not None:
                np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(a.history.steps, b.history.steps)
        np.testing.assert_array_equal(a.history.losses()[1], b.history.losses()[1])


def test_the_slower_schedule_is_tried_on_a_few_steps_ever_more_rarely():
    tr = Trainer(_config(OPTIMISERS[0], "finite", False, steps=10), backend="fused")
    sp = tr.impl
    sp.blocks = 4
    assert sp._plan(1, 100) == [("models", 0, 100)]  # one thread: nothing to split
    assert sp._plan(2, 100) == [("split", 0, sb.TRIAL_STEPS), ("models", sb.TRIAL_STEPS, 100)]
    sp.step_seconds = {"split": 0.05, "models": 0.001}  # split is 50x slower here (a busy machine)
    plans = [sp._plan(2, 100) for _ in range(sb.RETRY_CHUNKS * 7)]
    trials = [i for i, p in enumerate(plans) if p[0][0] == "split"]
    assert all(p[0][2] == sb.TRIAL_STEPS for i, p in enumerate(plans) if i in trials)
    gaps = np.diff(trials)
    assert len(trials) >= 2 and np.all(gaps[1:] >= 2 * gaps[:-1] - 1)  # ever more rarely
    assert all(p == [("models", 0, 100)] for i, p in enumerate(plans) if i not in trials)


@pytest.mark.parametrize("path", COMPILED)
@pytest.mark.slow
@pytest.mark.parametrize("data", ["finite", "minibatch", "fresh"])
def test_chunking_does_not_change_a_sparse_run(data, path):
    """A chunk boundary evaluates its step twice: it must draw that step's batch once."""
    cfg = _config(OPTIMISERS[0], data, False, steps=200)
    fine, coarse = Trainer(cfg, backend=path), Trainer(cfg, backend=path)
    fine.run(chunk_seconds=1e-4)
    coarse.run(chunk_seconds=1.0)
    assert np.array_equal(fine.history.steps, coarse.history.steps)
    np.testing.assert_array_equal(fine.parameters()[0], coarse.parameters()[0])
    np.testing.assert_array_equal(fine.history.losses()[1], coarse.history.losses()[1])


@pytest.mark.slow
def test_finite_sets_stay_sparse_until_asked_for_dense():
    cfg = TrainConfig(n=10_000, data="sparse", sparsity=0.999, examples=3_000, steps=3, seed=7)
    tr = Trainer(cfg)
    tr.run()
    ds = tr.sparse_dataset
    assert tr._dataset is None  # never densified for training
    assert ds.nbytes < 4 * 3_000 * 10_000 / 100  # O(nnz): ~10 non-zeros an example
    dense = tr.dataset  # on demand, equal to the seeds' sets
    np.testing.assert_array_equal(dense[0], model_dataset(7, 3_000, 10_000, 0.999))


def test_sparse_dataset_round_trips_with_the_dense_sets():
    cfg = TrainConfig(n=50, data="sparse", sparsity=0.8, examples=25, models=3, seed=1)
    sp = make_sparse_dataset(cfg)
    X = make_dataset(cfg)
    np.testing.assert_array_equal(sp.dense(), X)
    back = SparseDataset.from_dense(X)
    np.testing.assert_array_equal(back.indptr, sp.indptr)
    np.testing.assert_array_equal(back.cols, sp.cols)
    np.testing.assert_array_equal(back.vals, sp.vals)
    rows, cols, vals = sp.coo(2)
    np.testing.assert_array_equal(X[2][rows, cols], vals)
    assert np.count_nonzero(X[2]) == vals.size


@pytest.mark.slow
@pytest.mark.parametrize("untied", [False, True], ids=["tied", "untied"])
@pytest.mark.parametrize("data", ["finite", "fresh"])
def test_blas_path_with_dense_examples_matches_the_torch_path_and_autograd(data, untied):
    """Dense enough data (S = 0.3: 70% non-zeros, from paths.DENSE_X_SHARE) takes the BLAS path's
    dense branch (h = X W^T and the encoder's gradient as products); sparser data its contiguous
    loops over the non-zeros (the tests above, S = 0.9). Both branches train the same models."""
    from model.training.paths import DENSE_X_SHARE

    cfg = _config(OPTIMISERS[0], data, untied, sparsity=0.3, m=3)
    assert 1.0 - cfg.sparsity >= DENSE_X_SHARE
    W0, b0, M0 = initial_parameters(cfg)
    ours = Trainer(cfg, initial=(W0, b0, M0), backend="blas")
    assert ours.impl.X is not None  # the dense branch
    sparse_cfg = _config(OPTIMISERS[0], data, untied)
    assert Trainer(sparse_cfg, backend="blas").impl.X is None  # S = 0.9: the sparse branch
    ours.run()
    torch_path = Trainer(cfg, initial=(W0, b0, M0), backend="torch")
    torch_path.run()
    Wr, br, Mr, _ = reference_train(cfg, W0, b0, M0, _batches_fn(cfg, ours), cfg.steps)
    W, b, M = ours.parameters()
    assert np.abs(W - W0).max() > 50 * ATOL
    for got, want, other in ((W, Wr, torch_path.parameters()[0]), (b, br, torch_path.parameters()[1]),
                             (M, Mr, torch_path.parameters()[2])):
        if want is not None:
            np.testing.assert_allclose(got, want, atol=ATOL)
            np.testing.assert_allclose(got, other, atol=ATOL)


@pytest.mark.slow
@pytest.mark.parametrize("S", [0.3, 0.9], ids=["dense", "sparse"])
def test_blas_path_gives_the_same_numbers_on_one_thread_or_two(monkeypatch, S):
    """The BLAS path's kernels run the models in parallel when a step is large enough
    (BLAS_THREADED_MACS, forced here): each model's sums run in the same order on any thread."""
    from model.training.engine import set_threads

    monkeypatch.setattr(sb, "BLAS_THREADED_MACS", 0)
    cfg = _config(OPTIMISERS[0], "fresh", True, sparsity=S, steps=60)
    runs = []
    for threads in (1, 2):
        set_threads(threads)
        try:
            tr = Trainer(cfg, backend="blas")
            assert tr.impl.threaded
            tr.run()
        finally:
            set_threads(None)
        runs.append((tr.parameters(), tr.history.losses()[1]))
    (p1, l1), (p2, l2) = runs
    for a, b in zip(p1, p2, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(l1, l2)
