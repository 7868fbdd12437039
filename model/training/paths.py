"""Which training path runs a configuration, and what a step costs: one cost model for the
dispatcher, the progress bars' time left and the memory check.

Paths (each fulfils model.training.backend's contract; the equivalence tests force each one):

- ``lanes`` (model/training/kernels.py): one-hot data, full batch; LANES models a block, every
  inner loop over the block's lanes. Right where K fills the lanes and n is small: a
  block costs the same for 1 model as for 32.
- ``fused`` (model/training/sparse_kernels.py): any data, one model a thread; one fused pass over
  the (example, output) pairs, the non-zeros handled one by one. Right where n m is small
  or few outputs fire (sparse, trained models), and for one-hot data at K below the lanes.
- ``blas`` (model/training/sparse_backend.BlasTrainer): any data; the three dense products of a
  step by BLAS over the K models. Right where m is large and the batch dense enough that
  most pairs cost m multiply-adds on any path.
- ``torch`` (model/training/torch_backend.py): batched torch with torch.optim: the path of a GPU
  (``device = "cuda"``), and on the CPU the reference the others are tested against.

The choice is a function of the configuration alone (never of the machine's load or the
threads), so a run's numbers do not depend on where it ran. The costs are seconds a step
on one thread of the machine the constants were measured on (``Costs``: a 2-core Xeon
(Ice Lake, AVX-512), `benchmarks/bench_grid.py`); what matters to the choice is their
ratios, and the time-left estimators rescale them by what they measure.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import BACKENDS

if TYPE_CHECKING:
    from ..config import TrainConfig

PATHS = BACKENDS[1:]  # the schema's choices for backend, less "auto"
#: The BLAS path makes a step's examples dense (h = X W^T and the encoder's dh^T X as products)
#: from this share of non-zeros (S <= 0.5): below it, its loops over the non-zeros (contiguous
#: rows of W^T and of the transposed gradient, ~0.15 ns a latent dimension each, two of them)
#: cost less than the two products (~0.1 ns a multiply-add each, over every entry)
#: (sparse_backend.dense_examples).
DENSE_X_SHARE = 0.5
#: Multiply-adds of one of a step's products (K B n m) from which the BLAS path splits its models
#: into groups, a thread each for a whole chunk (sparse_backend.BlasTrainer.groups): measured on
#: 2 cores, n = 100, m = 20, K = 10 (2e7) 4.9 -> 2.0-3.5 ms a step; n = 20, m = 5, K = 10 (1e6)
#: 1.1 -> 1.3-1.8 ms (the threads' start and the chunk's end cost more than they save).
BLAS_THREADED_MACS = 10_000_000
LANES = 32  # model.training.kernels.LANES (not imported: this module stays free of numba)
#: Examples a tile of the fused wide loop, most (sparse_kernels.TILE).
TILE = 512


@dataclass(frozen=True)
class Costs:
    """Seconds of the pieces of a step on one thread, measured with benchmarks/bench_paths.py
    (CPU seconds of whole steps, data drawing and recording included) and fitted by hand;
    each comment says where the piece comes from."""

    # lanes: a (output, example) pair of a block of 32 lanes, m = 2, while the block's
    # (n, n, 32) G stays in L2 (n <= ~100: 25 ns), in L3 (~60 ns) or beyond (~90 ns at n = 1,000);
    # m != 2 takes the generic loop: the pair cost times m / 2 (n = 30, m = 5: 64 ns)
    lane_pair: float = 25e-9
    lane_pair_l3: float = 60e-9
    lane_pair_mem: float = 90e-9
    lane_block: float = 1.5e-6  # a block's step besides the pairs (n = 7: 3.6 us a step)
    lane_n: float = 100e-9  # ... and per feature (the update of 32 lanes, recording)
    # fused: a pair of the m = 2 loop (one-hot n = 1,000: 0.43 ns; SMDD T = 1,000: 0.5 ns), or per
    # latent dimension of the generic loop; a non-zero (its own term, h, the encoder's gradient)
    pair2: float = 0.45e-9
    pair_m: float = 0.25e-9
    nonzero: float = 40e-9
    nonzero_m: float = 10e-9
    model_step: float = 3e-6  # a model's step besides (n = 7: 3.5 us)
    model_n: float = 40e-9  # ... per feature (update, checks, recording; SMDD T = 5: 0.34 ms at n = 10,000)
    # blas: a pair of the (K, B, n) activation pass and per latent dimension of the products;
    # a non-zero (h and the encoder's gradient, contiguous); the Python and library calls of a step
    blas_pair: float = 3e-9
    blas_pair_m: float = 0.1e-9
    blas_nonzero: float = 5e-9
    blas_nonzero_m: float = 0.3e-9
    blas_model: float = 20e-6
    blas_model_n: float = 30e-9
    blas_step: float = 150e-6
    # torch (the reference, and the GPU's path on the CPU): a pair, all its passes and autograd-free
    # bookkeeping, and per latent dimension; a step's Python and dispatch
    torch_pair: float = 20e-9
    torch_pair_m: float = 0.6e-9
    torch_step: float = 500e-6
    # drawing a fresh batch (data.fresh_coo, every path): an entry of a dense draw (from
    # data.DENSE_FRESH non-zeros), a non-zero of a sparse one (n = 1,000, B = 1,024, S = 0.9: 3.4 ms)
    draw_entry: float = 12e-9
    draw_nonzero: float = 30e-9


COSTS = Costs()


@dataclass(frozen=True)
class Choice:
    """The path a configuration runs on, and the predicted seconds a step of each path
    that could run it (one thread)."""

    name: str
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def step_seconds(self) -> float:
        return self.seconds[self.name]


def applicable(config: TrainConfig) -> tuple[str, ...]:
    """The paths that can train ``config`` on its device."""
    if getattr(config, "device", "cpu") != "cpu":
        return ("torch",)
    full_onehot = config.onehot and config.effective_batch == config.n
    return (("lanes",) if full_onehot else ()) + ("fused", "blas", "torch")


def shape(config: TrainConfig) -> tuple[int, int, int, int, float]:
    """(K, n, m, B, non-zeros an example) of a step."""
    K, n, m, B = config.models, config.n, config.m, config.effective_batch
    nnz = 1.0 if config.onehot else n * (1.0 - config.sparsity)
    return K, n, m, B, nnz


def _lane_pair(n: int, m: int, c: Costs) -> float:
    g = 128 * n * n  # bytes of a block's G
    pair = c.lane_pair if g <= 1.5 * 2**20 else c.lane_pair_l3 if g <= 32 * 2**20 else c.lane_pair_mem
    return pair * (1.0 if m == 2 else m / 2.0)


def draw_seconds(config: TrainConfig, costs: Costs = COSTS) -> float:
    """Seconds to draw a step's fresh batch (0 for finite sets: drawn once)."""
    if config.data != "sparse" or config.examples is not None:
        return 0.0
    from .data import DENSE_FRESH

    _, n, _, B, nnz = shape(config)
    dense = 1.0 - config.sparsity >= DENSE_FRESH  # data.fresh_coo
    return B * n * costs.draw_entry if dense else B * nnz * costs.draw_nonzero


def step_seconds(config: TrainConfig, path: str, costs: Costs = COSTS) -> float:
    """Predicted seconds of one step of ``config`` on ``path``, one thread, its batch drawn."""
    K, n, m, B, nnz_ex = shape(config)
    c = costs
    draw = draw_seconds(config, c)
    if path == "lanes":
        return math.ceil(K / LANES) * (n * n * _lane_pair(n, m, c) + c.lane_block + c.lane_n * n)
    pairs, nnz = B * n, B * nnz_ex
    if path == "fused":
        pair = c.pair2 if m == 2 else c.pair_m * m
        return K * (pairs * pair + nnz * (c.nonzero + c.nonzero_m * m) + c.model_step + c.model_n * n) + draw
    if path == "blas":
        dense = not config.onehot and 1.0 - config.sparsity >= DENSE_X_SHARE  # sparse_backend.dense_examples
        examples = 2 * pairs * m * c.blas_pair_m + pairs * c.blas_pair if dense else \
            nnz * (c.blas_nonzero + c.blas_nonzero_m * m)
        return K * (pairs * (c.blas_pair + c.blas_pair_m * m) + examples + c.blas_model + c.blas_model_n * n) \
            + c.blas_step + draw
    if path == "torch":
        return K * pairs * (c.torch_pair + c.torch_pair_m * m) + c.torch_step + draw
    raise ValueError(f"unknown path {path!r}; the paths are {', '.join(PATHS)}")


def threads_busy(config: TrainConfig, path: str, threads: int | None = None) -> int:
    """Threads a step of ``config`` on ``path`` keeps busy (``step_seconds`` is one thread's;
    None: every core): the lanes kernel spreads its blocks of LANES models, the fused kernel
    its models or one model's blocks (model/training/sparse_backend.py); the BLAS path its groups of
    models where a step is large enough (BLAS_THREADED_MACS); the torch path runs its products on
    one thread but the largest. The dispatcher never looks at this: the choice is a function of
    the run alone; the time left divides by it."""
    import os

    t = max(1, threads or os.cpu_count() or 1)
    if path == "lanes":
        return min(t, math.ceil(config.models / LANES))
    if path == "blas":
        K, n, m, B, _ = shape(config)
        return min(t, K) if K * B * n * m >= BLAS_THREADED_MACS else 1
    return t if path == "fused" else 1


def choose(config: TrainConfig, forced: str | None = None) -> Choice:
    """The fastest path that can train ``config`` (the torch path is the reference and the
    GPU's: chosen on the CPU only when forced), or ``forced`` when it can run it (None: the
    config's own ``backend``)."""
    if forced is None:
        forced = getattr(config, "backend", "auto")
    ok = applicable(config)
    seconds = {p: step_seconds(config, p) for p in ok}
    if forced not in (None, "auto"):
        if forced not in PATHS:
            raise ValueError(f"backend must be auto or one of {', '.join(PATHS)}, got {forced!r}")
        if forced not in ok:
            raise ValueError(f"the {forced} path cannot train this configuration (it can: {', '.join(ok)})")
        return Choice(forced, seconds)
    if ok == ("torch",):
        return Choice("torch", seconds)
    best = min((p for p in ok if p != "torch"), key=seconds.__getitem__)
    return Choice(best, seconds)


#: The compiled entry points each path calls, as (module of this package, groups of kernel names):
#: every group is needed, one kernel of a group is enough (the fused path runs its models either
#: one a thread or split across threads, as its plan finds faster). The kernels an entry point
#: calls are compiled with it. The torch path runs none.
PATH_KERNELS: dict[str, tuple[str, tuple[tuple[str, ...], ...]]] = {
    "lanes": ("kernels", (("train_identity_chunk",),)),
    "fused": ("sparse_kernels", (("train_sparse_models", "train_sparse_split"),)),
    "blas": ("sparse_kernels", (("blas_hidden",), ("blas_activate",), ("blas_update",))),
}


def kernels_ready(config: TrainConfig, path: str | None = None) -> bool:
    """Whether the compiled kernels of the path that trains ``config`` (default: the one ``choose``
    picks) are ready: compiled in this process, or in numba's on-disk cache (its index file, newer
    than the kernel's source). False: the first chunk compiles them (about half a minute, and
    memory_parts counts LLVM's memory for it)."""
    import importlib
    import os

    name = path or choose(config).name
    if name not in PATH_KERNELS:
        return True
    module, groups = PATH_KERNELS[name]
    mod = importlib.import_module(f".{module}", __package__)
    src = os.path.getmtime(str(mod.__file__))

    def ready(kernel: str) -> bool:
        d = getattr(mod, kernel)
        if d.signatures:
            return True  # compiled (or loaded from the cache) in this process
        index = getattr(getattr(getattr(d, "_cache", None), "_cache_file", None), "_index_path", None)
        try:
            return index is not None and os.path.getmtime(index) >= src
        except OSError:
            return False

    return all(any(ready(k) for k in group) for group in groups)


__all__ = [
    "BLAS_THREADED_MACS",
    "COSTS",
    "PATHS",
    "PATH_KERNELS",
    "Choice",
    "Costs",
    "applicable",
    "choose",
    "draw_seconds",
    "kernels_ready",
    "shape",
    "step_seconds",
    "threads_busy",
]
