"""Which training path runs a configuration, and what a step costs: one cost model for the
dispatcher, the progress bars' time left and the memory check.

Paths (each fulfils model.backend's contract; the equivalence tests force each one):

- ``lanes`` (model/kernels.py): one-hot data, full batch; LANES models a block, every
  inner loop over the block's lanes. Right where K fills the lanes and n is small: a
  block costs the same for 1 model as for 32.
- ``fused`` (model/sparse_kernels.py): any data, one model a thread; one fused pass over
  the (example, output) pairs, the non-zeros handled one by one. Right where n m is small
  or few outputs fire (sparse, trained models), and for one-hot data at K below the lanes.
- ``blas`` (model/sparse_backend.BlasTrainer): any data; the three dense products of a
  step by BLAS over the K models. Right where m is large and the batch dense enough that
  most pairs cost m multiply-adds on any path.
- ``torch`` (model/torch_backend.py): batched torch with torch.optim: the path of a GPU
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
from typing import TYPE_CHECKING, Dict, Optional, Tuple

if TYPE_CHECKING:
    from .config import TrainConfig

PATHS = ("lanes", "fused", "blas", "torch")
LANES = 32  # model.kernels.LANES (not imported: this module stays free of numba)
#: Examples a tile of the fused wide loop, most (sparse_kernels.TILE).
TILE = 512


@dataclass(frozen=True)
class Costs:
    """Seconds of the pieces of a step on one thread (measured; see the module's docstring)."""

    lane_pair: float = 0.55e-9  # lanes: one (output, example) pair of a block of 32, m = 2 ...
    lane_pair_m: float = 0.3e-9  # ... and each further latent dimension
    lane_step: float = 2e-6  # lanes: a block's step besides the pairs (the update, recording)
    pair: float = 0.35e-9  # fused: one (output, example) pair's pre-activation, per latent dimension
    fire: float = 1.2e-9  # fused: a pair whose output fires (gradient sums), per latent dimension
    nonzero: float = 6e-9  # fused and blas: a non-zero (h, the encoder, its own term), per latent dimension
    model_step: float = 3e-6  # fused: a model's step besides the pairs
    param: float = 2e-9  # every path: a parameter's update and checks
    gemm: float = 0.05e-9  # blas: a multiply-add of the dense products
    dense: float = 0.8e-9  # blas: an element of the (B, n) activation pass
    blas_step: float = 60e-6  # blas: a step's Python and BLAS calls
    torch_elem: float = 4e-9  # torch: an element of a (K, B, n) tensor, all passes
    torch_step: float = 400e-6  # torch: a step's Python, dispatch and autograd-free bookkeeping


COSTS = Costs()
#: The share of outputs that fire, assumed for the cost (Xavier initial weights, zero bias: half).
FIRE = 0.5


@dataclass(frozen=True)
class Choice:
    """The path a configuration runs on, and the predicted seconds a step of each path
    that could run it (one thread)."""

    name: str
    seconds: Dict[str, float] = field(default_factory=dict)

    @property
    def step_seconds(self) -> float:
        return self.seconds[self.name]


def applicable(config: TrainConfig) -> Tuple[str, ...]:
    """The paths that can train ``config`` on its device."""
    if getattr(config, "device", "cpu") != "cpu":
        return ("torch",)
    full_onehot = config.onehot and config.effective_batch == config.n
    return (("lanes",) if full_onehot else ()) + ("fused", "blas", "torch")


def shape(config: TrainConfig) -> Tuple[int, int, int, int, float]:
    """(K, n, m, B, non-zeros an example) of a step."""
    K, n, m, B = config.models, config.n, config.m, config.effective_batch
    nnz = 1.0 if config.onehot else n * (1.0 - config.sparsity)
    return K, n, m, B, nnz


def step_seconds(config: TrainConfig, path: str, costs: Costs = COSTS, fire: float = FIRE) -> float:
    """Predicted seconds of one step of ``config`` on ``path``, one thread."""
    K, n, m, B, nnz = shape(config)
    c = costs
    params = K * (m * n * (2 if config.untied else 1) + n)
    if path == "lanes":
        blocks = math.ceil(K / LANES)
        return blocks * (n * n * (c.lane_pair + c.lane_pair_m * (m - 2 if m > 2 else 0)) + c.lane_step) \
            + c.param * params
    pairs = K * B * n
    if path == "fused":
        return pairs * m * (c.pair + fire * c.fire) + K * B * nnz * m * c.nonzero + K * c.model_step \
            + c.param * params
    if path == "blas":
        return 3 * pairs * m * c.gemm + pairs * c.dense + K * B * nnz * m * c.nonzero + c.blas_step \
            + c.param * params
    if path == "torch":
        return pairs * (c.torch_elem + 6 * m * c.gemm) + c.torch_step + 4 * c.param * params
    raise ValueError(f"unknown path {path!r}; the paths are {', '.join(PATHS)}")


def choose(config: TrainConfig, forced: Optional[str] = None) -> Choice:
    """The fastest path that can train ``config`` (the torch path is the reference and the
    GPU's: chosen on the CPU only when forced), or ``forced`` when it can run it."""
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


__all__ = ["PATHS", "Costs", "COSTS", "Choice", "applicable", "choose", "step_seconds", "shape"]
