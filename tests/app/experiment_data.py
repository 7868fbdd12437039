"""Experiment results built by hand (no training): a seed sweep of known verdicts, a dataset-size
sweep whose small-T embeddings are exact regular T-gons, and a probe of the seed's failure."""
import numpy as np

from model.config import TrainConfig
from model.training.init import henighan


def seed_failure(n: int = 7):
    """(W, b) of the seed's symmetric failure: feature n dead (W_n = 0, b_n = 1/n) beside Henighan's
    (n - 1)-gon, whose loss is (n - 1)/n²."""
    W6, b6 = henighan(n - 1)
    return np.hstack([W6, np.zeros((2, 1))]), np.append(b6, 1 / n)


def hand_sweep(path):
    """Three Henighan n = 7 solutions (perfect) and two seed failures (symmetric), saved to ``path``."""
    from model.analysis.analysis import analyze
    from model.experiments.sweep import Sweep, SweepEntry, finding_mask, save_sweep
    from model.snapshot import Snapshot

    W7, b7 = henighan(7)
    Wf, bf = seed_failure(7)
    models = [(W7, b7)] * 3 + [(Wf, bf)] * 2
    K = len(models)
    an = [analyze(Snapshot(step=1, W=w, b=x)) for w, x in models]
    e = SweepEntry(config=TrainConfig(n=7, models=K), grid={},
                   W=np.stack([w for w, _ in models]).astype(np.float32),
                   b=np.stack([x for _, x in models]).astype(np.float32),
                   loss=np.array([1e-9] * 3 + [6 / 49] * 2, np.float32),
                   verdicts=np.array([a.verdict for a in an], dtype=object), halted=-np.ones(K, np.int64), step=1,
                   findings=np.array([finding_mask(a.finding_kinds) for a in an], np.int32))
    return save_sweep(path, Sweep(base=e.config, grid={}, models=K, entries=[e]))


def hand_datasize(path, sizes=(3, 5, 8), n: int = 20):
    """Per T, one model whose T training examples embed as a regular T-gon of radius 1 (radius cv 0,
    gap ratio 1), the train loss falling with 1/T and the test loss flat."""
    from model.experiments.datasize import DataSizeSweep, SizeResult, save_datasize

    base = TrainConfig(n=n, data="sparse", sparsity=0.9, steps=100, optimizer="adamw", schedule="warmup-cosine",
                       warmup=10)
    rng = np.random.default_rng(0)
    results = []
    for T in sizes:
        a = 2 * np.pi * np.arange(T) / T
        H = np.stack([np.cos(a), np.sin(a)])[None]
        W = rng.normal(size=(1, 2, n)).astype(np.float32)
        results.append(SizeResult(T=T, config=base.replace(examples=T), step=100, W=W,
                                  b=np.zeros((1, n), np.float32), train_loss=np.array([0.01 / T]),
                                  test_loss=np.array([0.05]), recorded_loss=np.array([0.01 / T]),
                                  feature_dims=np.full((1, n), 0.1), data_dims=np.full((1, T), 2 / T), H=H))
    return save_datasize(path, DataSizeSweep(base=base, sizes=list(sizes), test_examples=100, results=results))


def seed_probe():
    """(result, snapshot, config): the feature path W_7 + t W_6 through the seed's failure."""
    from model.analysis import probe as pr
    from model.snapshot import Snapshot

    W, b = seed_failure(7)
    snap = Snapshot(step=25_000, W=W, b=b, loss=6 / 49)
    cfg = TrainConfig(n=7, optimizer="sgd", weight_decay=0, seed=10)
    path = pr.make_path(snap, "feature", feature=6, direction=("feature", 5), seed=0, bias=True)
    res = pr.probe(snap, path, pr.objective_for(cfg, None, 0), (-0.5, 0.5), 101)
    return res, snap, cfg
