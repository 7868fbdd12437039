"""Dataset-size sweeps (Anthropic's "Superposition, Memorization, and Double
Descent", SMDD): train on sparse data with a finite training set of T examples,
for each T of a list, and measure what the model represents (no Qt).

Per T (K models, model k with seed s + k, its training set from that seed
alone, model/training/data.py): the final W, b; the train loss (on its T examples) and
the test loss (on fresh examples from a separate stream), both float64 and
recomputed from the final parameters; the feature dimensionalities D_i of
the columns of W and the data dimensionalities of the hidden embeddings
h_t = W x_t of the training examples; and those embeddings themselves (the
T-gons at small T, drawn beside the feature vectors).

SMDD's setting (``smdd_config``): n = 10,000, m = 2, S = 0.999, full-batch
AdamW, lr 1e-3, weight decay 1e-2, linear warm-up (2,500 steps) then cosine
decay, 50,000 steps. Training goes through the engine's compiled sparse path
(model/training/sparse_kernels.py) and the sets stay sparse, so memory grows like the
non-zeros, K T n (1 - S), not like K T n: ``memory_estimate`` gives the peak
for one T, and ``check_sizes`` refuses, before anything trains, every T whose
estimate exceeds the memory available, naming T and the estimate.

Progress: ``DataSizeProgress`` carries the whole sweep's fraction done and an
estimate of the time left (``TimeLeft``: each size's steps costed by model.training.paths' cost
model, rescaled by the steps this machine has timed, the largest size's first).

Files (HDF5, no pickle; ``format`` = "latent-geometry-datasize", version 1)::

    /             attrs: format, format_version, base (TrainConfig JSON), sizes (JSON),
                         test_examples, cancelled
    /sizes/T<T>   attrs: T, config (JSON), step
                  W (K,m,n) f32, b (K,n) f32, train_loss (K,), test_loss (K,), recorded_loss (K,) f64,
                  feature_dims (K,n) f64, data_dims (K,T) f64, H (K,m,T) f32

The training sets are not stored: they are regenerated from the seeds
(``model.training.data.model_dataset``).
"""
from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..analysis import geometry as geo
from ..config import DEFAULT_TEST_EXAMPLES, ConfigError, TrainConfig, smdd_config
from ..storage.h5io import (
    DATASIZE_FORMAT,
    RunFileError,
    as_str,
    check_real,
    check_writable,
    read_h5,
    read_version,
    write_h5,
)
from ..training.data import sparse_coo
from ..training.engine import BASE_BYTES, MEMORY_FRACTION, TrainingQueue, available_memory, fmt_bytes, sparse_data_bytes  # noqa: F401

if TYPE_CHECKING:
    from ..training.data import Coo, SparseDataset

DATASIZE_FORMAT_VERSION = 1
#: SMDD's sizes (the issue's list, continued by 1-2-5 decades).
SMDD_SIZES = (3, 5, 8, 10, 15, 30, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
_TEST_STREAM = 0x7E57
#: History budget of each size's Trainer (only the final parameters are used).
DATASIZE_HISTORY_MB = 4.0


def parse_sizes(text: str) -> list[int]:
    """'3,5,8,1e3' -> [3, 5, 8, 1000] (sorted, unique). Bad input: ConfigError('sizes', ...)."""
    out = []
    for part in str(text).replace(";", ",").split(","):
        p = part.strip().replace("_", "")
        if not p:
            continue
        try:
            v = float(p)
            if not v.is_integer():
                raise ValueError
            v = int(v)
        except ValueError:
            raise ConfigError("sizes", f"must be whole numbers of examples separated by commas, got {part.strip()!r}") from None
        if not 1 <= v <= 10_000_000:
            raise ConfigError("sizes", f"each T must be from 1 to 10000000, got {v}")
        out.append(v)
    if not out:
        raise ConfigError("sizes", "needs at least one dataset size T, e.g. 3,5,8,10,15,30,50,100")
    return sorted(set(out))


def expected_nonzeros(config: TrainConfig, T: int) -> float:
    """Expected non-zeros of one model's set of T examples: T n (1 - S)."""
    return T * config.n * (1.0 - config.sparsity)


def training_bytes(config: TrainConfig, T: int) -> int:
    """Peak bytes of training K models of ``config`` on T examples each: model.training.engine's
    estimate (the one train, sweeps and the window use: the process, the path's parameters
    and per-thread state, the sets kept sparse, the history) for a run that keeps its sets
    sparse and analyses no snapshot."""
    from ..training.engine import memory_estimate as engine_estimate

    return engine_estimate(config.replace(examples=int(T), batch=None, history_budget_mb=DATASIZE_HISTORY_MB),
                           held=False)


def memory_estimate(config: TrainConfig, T: int, test_examples: int = DEFAULT_TEST_EXAMPLES) -> int:
    """Peak bytes to train and measure K models of ``config`` on T examples each: training
    (``training_bytes``, the process included) and measuring.

    Measuring (coo_loss, one model at a time) holds a chunk of pre-activations and the
    temporaries of its sums (4 float64 copies of a chunk: measured 3.3) and ~96 bytes a
    non-zero of the training and test sets; the kept results O(K (n + m T))."""
    K, n, m = config.models, config.n, config.m
    nnz = expected_nonzeros(config, T) + expected_nonzeros(config, test_examples)
    measure = (32 * min(geo.CHUNK_ELEMS, max(test_examples, T) * n) + 96 * nnz + 16 * m * (T + test_examples)
               + 8 * K * (n + T) + 4 * K * m * (n + T))
    return int(training_bytes(config, T) + measure)


def check_sizes(config: TrainConfig, sizes: Sequence[int], limit: int | None = None,
                test_examples: int = DEFAULT_TEST_EXAMPLES) -> dict[int, int]:
    """{T: estimated bytes}; ConfigError('sizes', ...) naming every T that would not fit in ``limit``
    (default: MEMORY_FRACTION of the memory available now)."""
    if limit is None:
        limit = int(MEMORY_FRACTION * available_memory())
    est = {int(T): memory_estimate(config, int(T), test_examples) for T in sizes}
    bad = [T for T, e in est.items() if e > limit]
    if bad:
        shown = ", ".join(f"T = {T} (about {fmt_bytes(est[T])})" for T in bad[:6])
        more = f" and {len(bad) - 6} more" if len(bad) > 6 else ""
        raise ConfigError("sizes", f"{shown}{more} would not fit in memory: {fmt_bytes(limit)} may be used "
                                   f"(n = {config.n}, K = {config.models}); leave those sizes out, or lower n "
                                   f"or --models")
    return est


# ----------------------------------------------------------------------------
# measuring

def coo_loss(W: np.ndarray, b: np.ndarray, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, count: int,
             importance: np.ndarray | None = None, M: np.ndarray | None = None) -> float:
    """Mean over ``count`` examples (given as COO) of sum_i I_i (ReLU(D W x + b)_i - x_i)^2, float64.

    Dense only in chunks of examples: the zeros contribute I_i ReLU(p_i)^2, the
    non-zeros are corrected afterwards.
    """
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    m, n = W.shape
    D = geo.decoder_of(W, M)
    imp = np.ones(n) if importance is None else np.asarray(importance, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    vals = np.asarray(vals, dtype=np.float64)
    H = np.zeros((count, m))
    np.add.at(H, rows, (W[:, cols] * vals).T)
    total = 0.0
    blk = max(1, geo.CHUNK_ELEMS // max(n, 1))
    for s in range(0, count, blk):
        P = H[s:s + blk] @ D.T + b
        np.maximum(P, 0.0, out=P)
        total += float(np.einsum("ti,ti,i->", P, P, imp))
    pnz = np.einsum("ka,ka->k", H[rows], D[cols]) + b[cols]
    rnz = np.maximum(pnz, 0.0)
    total += float(np.sum(imp[cols] * ((rnz - vals) ** 2 - rnz * rnz)))
    return total / count if count else 0.0


def fresh_test_set(config: TrainConfig, model: int, count: int) -> Coo:
    """Fresh examples (rows, cols, vals) for model k's test loss: a stream separate from training."""
    rng = np.random.default_rng([_TEST_STREAM, config.seed + int(model)])
    return sparse_coo(rng, int(count), config.n, config.sparsity)


@dataclass
class SizeResult:
    T: int
    config: TrainConfig  # examples = T
    step: int
    W: np.ndarray  # (K, m, n)
    b: np.ndarray  # (K, n)
    train_loss: np.ndarray  # (K,) float64, recomputed on the training set
    test_loss: np.ndarray  # (K,) float64, on fresh examples
    recorded_loss: np.ndarray  # (K,) the engine's last recorded loss
    feature_dims: np.ndarray  # (K, n)
    data_dims: np.ndarray  # (K, T)
    H: np.ndarray  # (K, m, T) hidden embeddings of the training examples

    def summary(self) -> dict:
        med = lambda a: float(np.median(a)) if np.size(a) else None  # noqa: E731
        fro2 = np.sum(self.W.astype(np.float64) ** 2, axis=(1, 2))
        reg = self.regularity()
        return {
            "T": self.T, "models": int(self.W.shape[0]), "step": self.step,
            "train_loss": med(self.train_loss), "test_loss": med(self.test_loss),
            "feature_dim_sum": med(self.feature_dims.sum(1)),
            "data_dim_sum": med(self.data_dims.sum(1)),
            "feature_dim_max": med(self.feature_dims.max(1)) if self.feature_dims.size else None,
            "data_dim_max": med(self.data_dims.max(1)) if self.data_dims.size else None,
            "dims_per_feature": med(self.config.m / np.where(fro2 > 0, fro2, np.nan)),
            "embedding_radius_cv": [cv for cv, _ in reg],
            "embedding_gap_ratio": [gap for _, gap in reg],
            # per model, the T hidden vectors h_t = W x_t of its training examples, each m numbers
            "embeddings": np.swapaxes(self.H, 1, 2).astype(np.float64).tolist(),
        }

    def regularity(self) -> list:
        """Per model (radius_cv, gap_ratio) of its training examples' hidden vectors."""
        return [embedding_regularity(self.H[k]) for k in range(self.H.shape[0])]


@dataclass
class DataSizeSweep:
    base: TrainConfig
    sizes: list[int]
    test_examples: int
    results: list[SizeResult] = field(default_factory=list)
    cancelled: bool = False
    path: Path | None = None

    def summary(self) -> dict:
        return {"base": self.base.to_dict(), "sizes": list(self.sizes), "test_examples": self.test_examples,
                "cancelled": self.cancelled, "out": None if self.path is None else str(self.path),
                "results": [r.summary() for r in self.results]}

    def by_T(self, T: int) -> SizeResult:
        for r in self.results:
            if r.T == T:
                return r
        raise KeyError(T)


@dataclass
class DataSizeProgress:
    index: int
    sizes: int
    T: int
    phase: str  # "train" | "measure" | "done"
    done: int
    total: int
    steps_per_s: float = 0.0
    fraction: float = 0.0  # of the whole sweep (its estimated work)
    seconds_left: float | None = None  # estimated, to the end of the sweep; None until timed


def hidden_embeddings(W: np.ndarray, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, T: int) -> np.ndarray:
    """H (m, T) float64: h_t = W x_t for T examples given as COO."""
    W = np.asarray(W, dtype=np.float64)
    H = np.zeros((W.shape[0], T))
    for a in range(W.shape[0]):
        H[a] = np.bincount(rows, weights=W[a, cols] * vals, minlength=T)
    return H


def embedding_regularity(H: np.ndarray) -> tuple[float | None, float | None]:
    """(radius_cv, gap_ratio) of the non-zero hidden vectors (columns of H, m = 2 or their
    principal plane): the same figures inspect gives for feature vectors. A regular T-gon
    has radius_cv 0 and gap_ratio 1."""
    from ..analysis.analysis import regularity

    H = np.asarray(H, dtype=np.float64)
    H2 = H if H.shape[0] == 2 else geo.project(H)
    nrm = geo.norms(H)
    cv, gap = regularity(nrm, geo.angles(H2), nrm > 0)[:2]
    return cv, gap


def measure(config: TrainConfig, W: np.ndarray, b: np.ndarray, dataset: SparseDataset | np.ndarray,
            test_examples: int, M: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """train loss, test loss, feature dims, data dims, H for K models.
    dataset: a data.SparseDataset, or dense (K, T, n)."""
    from ..training.data import SparseDataset

    if not isinstance(dataset, SparseDataset):
        dataset = SparseDataset.from_dense(dataset)
    K, T = dataset.K, dataset.T
    imp = None if config.importance is None else config.importance_vector()
    train_loss = np.empty(K)
    test_loss = np.empty(K)
    fd = np.empty((K, config.n))
    dd = np.empty((K, T))
    H = np.empty((K, config.m, T), np.float32)
    for k in range(K):
        Wk = np.asarray(W[k], np.float64)
        bk = np.asarray(b[k], np.float64)
        Mk = None if M is None else np.asarray(M[k], np.float64)
        r, c, v = dataset.coo(k)
        train_loss[k] = coo_loss(Wk, bk, r, c, v, T, imp, Mk)
        tr, tc, tv = fresh_test_set(config, k, test_examples)
        test_loss[k] = coo_loss(Wk, bk, tr, tc, tv, test_examples, imp, Mk)
        fd[k] = geo.feature_dimensionality(Wk)
        Hk = hidden_embeddings(Wk, r, c, v.astype(np.float64), T)  # (m, T)
        H[k] = Hk
        dd[k] = geo.data_dimensionality(Hk)
    return train_loss, test_loss, fd, dd, H


class TimeLeft:
    """Time left of a dataset-size sweep, each size's steps costed by model.training.paths' cost model
    and rescaled by what this machine measures.

    ``predict(T)``: the cost model's seconds a step at T (model.training.paths.step_seconds of that
    size's configuration and path). The measured seconds a step of a size over its
    prediction is the size's *factor*; factors are known at the sizes timed so far (finished
    sizes, the size in progress once it has run MIN_SECONDS, and the largest size, timed
    for a few steps before the sweep starts: ``calibrate``) and interpolated between them
    in log T (constant beyond the ends). So a sweep whose small sizes take seconds and
    whose largest takes minutes is costed by the largest size's own measured step from the
    start, and by the model's shape in between, rather than extrapolated from the small
    ones. A size's measuring afterwards costs (T + test examples) times a rate measured on
    the sizes measured so far. Without ``predict`` a step is costed T + PRIOR_EXAMPLES
    (a fixed part about 8 examples' worth: measured on the compiled path at n = 10,000)."""

    PRIOR_EXAMPLES = 8.0
    #: A size in progress is timed once it has run this long (its first chunk includes
    #: drawing its set and warming up the kernel).
    MIN_SECONDS = 1.0

    def __init__(self, sizes: Sequence[int], steps: int, predict: Callable[[int], float] | None = None,
                 test_examples: int = 0):
        self.sizes = [int(T) for T in sizes]
        self.steps = int(steps)
        self.predict = predict if predict is not None else (lambda T: float(T) + self.PRIOR_EXAMPLES)
        self.test_examples = int(test_examples)
        self.timed: dict[int, tuple[int, float]] = {}  # T -> (steps, seconds) of finished sizes
        self.current: tuple[int, int, float] | None = None  # (index, steps done, seconds) of the size in progress
        # the size in progress as reported, in time order: steps done, and the seconds they took
        self._trail_steps: list[int] = []
        self._trail_seconds: list[float] = []
        self._shown = 0.0  # the largest fraction returned: the bar never moves back
        self.anchor: tuple[int, float] | None = None  # (T, seconds a step) from calibrate
        self.measures: dict[int, float] = {}  # T -> seconds its measuring took

    def calibrate(self, T: int, seconds_per_step: float) -> None:
        self.anchor = (int(T), float(seconds_per_step))

    def update(self, index: int, steps_done: int, seconds: float, finished: bool = False) -> None:
        T = self.sizes[index]
        if finished:
            self.timed[T] = (steps_done, seconds)
            self.current = None
            self._trail_steps, self._trail_seconds = [], []
        else:
            if self.current is None or self.current[0] != index:
                self._trail_steps, self._trail_seconds = [], []
            self.current = (index, steps_done, seconds)
            self._trail_steps.append(int(steps_done))
            self._trail_seconds.append(float(seconds))

    def _recent_rate(self) -> float | None:
        """Seconds a step of the size in progress over the later half of its time so far, once it
        has run MIN_SECONDS; None before. The size's own recent steps outweigh its calibration
        (a second timed before the sweep): the machine's load, and with it a step's cost, changes
        over a sweep of minutes, and the later half leaves out the size's first chunks (its set
        drawn, the kernel warmed, short chunks while the history records densely)."""
        if self.current is None or self.current[2] < self.MIN_SECONDS or self.current[1] <= 0:
            return None
        _, st, sec = self.current
        # the first report at or after half the time so far (a bisection: every report asks this,
        # and an hour of a size's reports is tens of thousands of them)
        k = bisect.bisect_left(self._trail_seconds, sec / 2)
        start = (self._trail_steps[k], self._trail_seconds[k]) if k < len(self._trail_steps) else (0, 0.0)
        if st - start[0] <= 0 or sec - start[1] <= 0:
            return sec / st
        return (sec - start[1]) / (st - start[0])

    def measured(self, index: int, seconds: float) -> None:
        """Size ``index``'s measuring took ``seconds``."""
        self.measures[self.sizes[index]] = float(seconds)

    def _factors(self) -> list[tuple[float, float]]:
        """(log T, log factor) at the timed sizes, T ascending."""
        pts = {T: sec / st for T, (st, sec) in self.timed.items() if st > 0 and sec > 0}
        if self.anchor is not None and self.anchor[0] not in pts and self.anchor[1] > 0:
            pts[self.anchor[0]] = self.anchor[1]
        recent = self._recent_rate()
        if recent is not None and self.current is not None:
            # the size in progress, measured now, outweighs its calibration
            pts[self.sizes[self.current[0]]] = recent
        out = []
        for T in sorted(pts):
            pred = self.predict(T)
            if pred > 0:
                out.append((np.log(T), np.log(pts[T] / pred)))
        return out

    def _step_cost(self, T: int, factors) -> float:
        """Seconds a step at T: the prediction times the factor interpolated in log T."""
        if not factors:
            return self.predict(T)
        xs = [f[0] for f in factors]
        ys = [f[1] for f in factors]
        return float(self.predict(T) * np.exp(np.interp(np.log(T), xs, ys)))

    def _measure_cost(self, T: int) -> float:
        done = [(t, sec) for t, sec in self.measures.items() if sec > 0]
        if not done:
            return 0.0
        rate = sum(sec for _, sec in done) / sum(t + self.test_examples for t, _ in done)
        return rate * (T + self.test_examples)

    def _costs(self, factors) -> list[float]:
        """Each size's steps and measuring, in seconds."""
        return [self.steps * self._step_cost(T, factors) + self._measure_cost(T) for T in self.sizes]

    def fraction(self, index: int, steps_done: int) -> float:
        """Share of the sweep's estimated work done (sizes before `index` done, and
        `steps_done` steps of size `index`); never less than it said before (a refit
        of the cost model may lower the estimate)."""
        factors = self._factors()
        cost = self._costs(factors)
        done = sum(cost[:index])
        if index < len(cost):
            done += steps_done * self._step_cost(self.sizes[index], factors)
        total = sum(cost)
        self._shown = max(self._shown, float(min(1.0, done / total)) if total > 0 else 1.0)
        return self._shown

    def seconds_left(self, index: int, steps_done: int) -> float | None:
        """Estimated seconds to the end of the sweep, None before any step was timed."""
        factors = self._factors()
        if not factors:
            return None
        left = sum(self._costs(factors)[index + 1:])
        if index < len(self.sizes):
            T = self.sizes[index]
            left += max(0, self.steps - steps_done) * self._step_cost(T, factors) + self._measure_cost(T)
        return float(left)


def fmt_seconds(s: float | None) -> str:
    """'2 h 05 min', '12 min 30 s', '45 s'; '?' when unknown."""
    if s is None or not np.isfinite(s):
        return "?"
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600} h {(s % 3600) // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


class DataSizeRunner(TrainingQueue):
    """Train one finite-T configuration per size, in order; cancel keeps the finished sizes."""

    def __init__(self, base: TrainConfig, sizes: Sequence[int], test_examples: int = DEFAULT_TEST_EXAMPLES,
                 out: str | Path | None = None, threads: int | None = None,
                 memory_limit: int | None = None,
                 overwrite: bool = False):
        if base.data != "sparse":
            raise ConfigError("data", f"a dataset-size sweep needs sparse data, got {base.data!r}")
        if base.init == "run":
            raise ConfigError("init", "a dataset-size sweep trains fresh models: use xavier, not run")
        test_examples = int(test_examples)
        if not 1 <= test_examples <= 10_000_000:
            raise ConfigError("test_examples", f"must be from 1 to 10000000, got {test_examples}")
        sizes = sorted(set(int(T) for T in sizes))
        if not sizes:
            raise ConfigError("sizes", "needs at least one dataset size T")
        self.configs = []
        for T in sizes:
            cfg = base.replace(examples=T, batch=None, history_budget_mb=DATASIZE_HISTORY_MB)
            try:
                cfg.validate()
            except ConfigError as exc:
                raise ConfigError("", errors=[(f, f"{m} (at T = {T})") for f, m in exc.errors]) from None
            self.configs.append(cfg)
        from ..training.engine import check_device

        check_device(base)  # before anything is drawn: a device that is not here is one line
        self.estimates = check_sizes(base, sizes, memory_limit, test_examples)
        self.base = base.replace(examples=None, batch=None)
        self.sizes = sizes
        self.test_examples = test_examples
        self.out = None if out is None else Path(out)
        self.overwrite = overwrite
        if self.out is not None:
            check_writable(self.out, overwrite, DATASIZE_FORMAT)
        super().__init__(threads)
        self.result = DataSizeSweep(self.base, sizes, test_examples, path=None)  # set once saved

    def time_a_step(self, cfg: TrainConfig, budget: float = 1.0) -> float:
        """Seconds a step of ``cfg`` takes here now: a throw-away Trainer of the size's own
        configuration (its steps, its history budget: the same recording, so the same chunks),
        its set drawn and one step taken to warm up, then trained as a run trains
        (``Trainer.run``'s chunks of about 0.1 s) for about ``budget`` s; the median over the
        chunks of the later half of that time of a chunk's seconds over the steps it *took*. A chunk takes fewer steps than asked
        while the history records densely (the first steps): dividing by the steps asked made
        the calibration 4-10x too cheap at n = 10,000, and counting the first chunks' overhead
        (or a longer run's sparser recording) made it 2x too dear."""
        import time

        from ..training.engine import Trainer, set_threads

        set_threads(self.threads)
        tr = Trainer(cfg, threads=self.threads)
        tr.train_chunk(1)
        t0 = time.perf_counter()
        trail = [(tr.step, t0)]

        def note(_p) -> None:
            now = time.perf_counter()
            trail.append((tr.step, now))
            if now - t0 >= budget:
                tr.request_stop()

        tr.run(note, report_seconds=0.0)
        end = trail[-1]
        later = [pt for pt in trail if pt[1] >= t0 + (end[1] - t0) / 2]
        rates = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(trail[trail.index(later[0]) - 1:])
                 if b[0] > a[0]] if later and trail.index(later[0]) > 0 else []
        if rates:
            # the median chunk: a second on a shared machine holds a stall or two (another
            # process's burst) that the run's minutes average out
            return float(np.median(rates))
        return (end[1] - t0) / max(1, end[0] - trail[0][0])

    def run(self, progress: Callable[[DataSizeProgress], None] | None = None) -> DataSizeSweep:
        import time

        N = len(self.sizes)
        from ..training import paths

        by_T = {cfg.examples: cfg for cfg in self.configs}
        clock = TimeLeft(self.sizes, self.base.steps, test_examples=self.test_examples,
                         predict=lambda T: paths.choose(by_T[T]).step_seconds)
        self.time_left = clock
        if N > 1 and not self._cancel.is_set():
            clock.calibrate(self.sizes[-1], self.time_a_step(self.configs[-1]))
        for i, cfg in enumerate(self.configs):
            if self._cancel.is_set():
                break
            T = cfg.examples
            assert T is not None, "each size's config has examples = T (set in __init__)"
            t_start = time.perf_counter()

            def on_progress(p, i=i, T=T, t_start=t_start):
                clock.update(i, p.step, time.perf_counter() - t_start)
                if progress is not None:
                    progress(DataSizeProgress(i, N, T, "train", p.step, p.total, p.steps_per_s,
                                              clock.fraction(i, p.step), clock.seconds_left(i, p.step)))

            trainer = self._train(cfg, on_progress)
            if self._cancel.is_set():
                break
            clock.update(i, trainer.step, time.perf_counter() - t_start, finished=True)
            if progress is not None:
                progress(DataSizeProgress(i, N, T, "measure", 0, 1, 0.0, clock.fraction(i + 1, 0),
                                          clock.seconds_left(i + 1, 0)))
            h = trainer.history
            step, W, b, rec, M = h.row(len(h) - 1)
            for k in np.nonzero(h.halted >= 0)[0]:
                s = h.snapshot(model=int(k))
                W[k], b[k], rec[k] = s.W, s.b, np.nan
            data = trainer.sparse_dataset if trainer.sparse_dataset is not None else trainer.dataset
            assert data is not None, "examples = T makes a finite set, so the trainer holds it"
            t_measure = time.perf_counter()
            trl, tel, fd, dd, H = measure(cfg, W, b, data, self.test_examples, M)
            clock.measured(i, time.perf_counter() - t_measure)
            self.result.results.append(SizeResult(T, cfg.replace(history_budget_mb=self.base.history_budget_mb),
                                                  int(step), W, b, trl, tel, rec.astype(np.float64), fd, dd, H))
            self.save()
        self.result.cancelled = len(self.result.results) < N
        if self.result.cancelled and self.result.results:
            self.save()  # records the cancel; with nothing finished nothing is written
        if progress is not None:
            progress(DataSizeProgress(len(self.result.results), N, 0, "done", len(self.result.results), N, 0.0,
                                      1.0 if not self.result.cancelled else clock.fraction(len(self.result.results), 0),
                                      0.0))
        return self.result


    def save(self) -> None:
        """The first save may replace an existing file only with ``overwrite``; later ones
        replace the file this runner wrote."""
        if self.out is not None:
            save_datasize(self.out, self.result, replace=self.overwrite or self.result.path is not None)


# ----------------------------------------------------------------------------
# files

def save_datasize(path: str | Path, sweep: DataSizeSweep, replace: bool = False) -> Path:
    """Write the dataset-size sweep atomically (h5io.write_h5); an existing file is
    replaced only with ``replace``."""
    path = Path(path)
    with write_h5(path, DATASIZE_FORMAT, DATASIZE_FORMAT_VERSION, replace=replace) as f:
        f.attrs["base"] = sweep.base.to_json()
        f.attrs["sizes"] = json.dumps(list(sweep.sizes))
        f.attrs["test_examples"] = int(sweep.test_examples)
        f.attrs["cancelled"] = bool(sweep.cancelled)
        g = f.create_group("sizes")
        for r in sweep.results:
            c = g.create_group(f"T{r.T:09d}")
            c.attrs["T"] = int(r.T)
            c.attrs["config"] = r.config.to_json()
            c.attrs["step"] = int(r.step)
            for name, arr, dt in (("W", r.W, np.float32), ("b", r.b, np.float32),
                                  ("train_loss", r.train_loss, np.float64),
                                  ("test_loss", r.test_loss, np.float64),
                                  ("recorded_loss", r.recorded_loss, np.float64),
                                  ("feature_dims", r.feature_dims, np.float64),
                                  ("data_dims", r.data_dims, np.float64), ("H", r.H, np.float32)):
                c.create_dataset(name, data=np.asarray(arr, dt))
    sweep.path = path
    return path


def open_datasize(path: str | Path) -> DataSizeSweep:
    """Read a dataset-size sweep file through the read guard (h5io.read_h5). Any problem is
    a RunFileError naming the file and its kind (one line)."""
    path = Path(path)
    return read_h5(path, lambda f: _read_datasize(f, path), fmt=DATASIZE_FORMAT)


def _read_datasize(f, path: Path) -> DataSizeSweep:
    read_version(f, path, DATASIZE_FORMAT, DATASIZE_FORMAT_VERSION)
    base = TrainConfig.from_json(as_str(f.attrs["base"]))
    sw = DataSizeSweep(base, json.loads(as_str(f.attrs["sizes"])), int(f.attrs["test_examples"]),
                       cancelled=bool(f.attrs.get("cancelled", False)), path=path)
    names = ("W", "b", "train_loss", "test_loss", "recorded_loss", "feature_dims", "data_dims", "H")
    for key in sorted(f["sizes"]):
        c = f["sizes"][key]
        cfg = TrainConfig.from_json(as_str(c.attrs["config"]))
        T = int(c.attrs["T"])
        K, m, n = cfg.models, cfg.m, cfg.n
        for name in names:
            if name not in c:
                raise RunFileError(path, f"sizes/{key} has no '{name}' dataset")
            check_real(c[name], path, f"sizes/{key}/{name}")
        arrs = {name: c[name][()] for name in names}
        want = {"W": (K, m, n), "b": (K, n), "train_loss": (K,), "test_loss": (K,), "recorded_loss": (K,),
                "feature_dims": (K, n), "data_dims": (K, T), "H": (K, m, T)}
        for name, shape in want.items():
            if arrs[name].shape != shape:
                raise RunFileError(path, f"sizes/{key}/{name} has shape {arrs[name].shape}, expected {shape}")
        sw.results.append(SizeResult(T, cfg, int(c.attrs["step"]), **arrs))
    return sw


__all__ = [
    "DEFAULT_TEST_EXAMPLES",
    "SMDD_SIZES",
    "DataSizeProgress",
    "DataSizeRunner",
    "DataSizeSweep",
    "SizeResult",
    "TimeLeft",
    "available_memory",
    "check_sizes",
    "coo_loss",
    "embedding_regularity",
    "fmt_bytes",
    "fmt_seconds",
    "fresh_test_set",
    "hidden_embeddings",
    "measure",
    "memory_estimate",
    "open_datasize",
    "parse_sizes",
    "save_datasize",
    "smdd_config",
    "training_bytes",
]
