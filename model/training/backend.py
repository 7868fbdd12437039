"""What every training path shares: the optimiser's settings as one value, a chunk of
steps, the rows a chunk records, and the contract a path fulfils.

A path (model/training/paths.py chooses one) is an object with

- ``run(chunk: Chunk, rec: Records, halted)``: for s = 0 .. len(chunk.lrs), the loss of
  step chunk.global0 + s at the current parameters, recorded in row rec.idx[s] when that
  is >= 0; then, except after the last s, the optimiser's update with learning rate
  chunk.lrs[s] (the optimiser's step count chunk.t0 + s + 1). A model whose loss or
  parameters stop being finite gets halted[k] = its step, NaN losses from then on and
  no more updates; the others go on.
- ``state()``: the current W (K, m, n), b (K, n), M (K, n, m) or None, float32 copies.

The compiled kernels take these values as tuples (``Optimiser.kernel_args``,
``Chunk``, ``Records.arrays``): numba reads a tuple as one argument.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch

    from ..config import TrainConfig

#: The compiled kernels' optimiser codes.
OPT_ADAM, OPT_ADAMW, OPT_SGD = 0, 1, 2
OPT_CODES = {"adam": OPT_ADAM, "adamw": OPT_ADAMW, "sgd": OPT_SGD}


@dataclass(frozen=True)
class Optimiser:
    """An optimiser's settings (torch.optim's semantics: Adam with L2 decay, AdamW with
    decoupled decay, SGD with momentum and L2 decay). The learning rate is per step
    (``Chunk.lrs``, from the schedule)."""

    kind: str
    weight_decay: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    momentum: float = 0.0

    @classmethod
    def of(cls, config: TrainConfig) -> Optimiser:
        return cls(str(config.optimizer), float(config.effective_weight_decay), float(config.beta1),
                   float(config.beta2), float(config.eps), float(config.momentum))

    @property
    def code(self) -> int:
        return OPT_CODES[self.kind]

    def kernel_args(self) -> tuple[int, float, float, float, float, float]:
        """(code, weight decay, beta1, beta2, eps, momentum): the compiled kernels' form."""
        return (self.code, self.weight_decay, self.beta1, self.beta2, self.eps, self.momentum)

    def torch(self, params: list, lr: float) -> torch.optim.Optimizer:
        """The torch.optim optimiser of these settings over ``params``."""
        import torch

        if self.kind == "adamw":
            return torch.optim.AdamW(params, lr=lr, betas=(self.beta1, self.beta2), eps=self.eps,
                                     weight_decay=self.weight_decay, foreach=True)
        if self.kind == "adam":
            return torch.optim.Adam(params, lr=lr, betas=(self.beta1, self.beta2), eps=self.eps,
                                    weight_decay=self.weight_decay, foreach=True)
        return torch.optim.SGD(params, lr=lr, momentum=self.momentum, weight_decay=self.weight_decay, foreach=True)


@dataclass(frozen=True)
class Chunk:
    """Steps global0 .. global0 + len(lrs) of a run; t0 optimiser steps were taken before."""

    t0: int
    global0: int
    lrs: np.ndarray  # (S,) float64, the learning rate of each update

    def __len__(self) -> int:
        return int(self.lrs.shape[0])

    def part(self, a: int, b: int) -> Chunk:
        """Its steps a .. b (updates a .. b - 1)."""
        return Chunk(self.t0 + a, self.global0 + a, self.lrs[a:b])

    def kernel_args(self) -> tuple[int, int, np.ndarray]:
        return (int(self.t0), int(self.global0), np.ascontiguousarray(self.lrs, dtype=np.float64))


@dataclass(frozen=True)
class Records:
    """Where a chunk's recorded rows go: idx (S + 1,) row of each step (-1: not recorded),
    W (R, K, m, n), b (R, K, n), M (R, K, n, m) (untied; else (1, 1, 1, 1)), loss (R, K)."""

    idx: np.ndarray
    W: np.ndarray
    b: np.ndarray
    M: np.ndarray
    loss: np.ndarray

    @classmethod
    def empty(cls, idx: np.ndarray, K: int, m: int, n: int, untied: bool) -> Records:
        R = int((idx >= 0).sum())
        return cls(idx, np.empty((R, K, m, n), np.float32), np.empty((R, K, n), np.float32),
                   np.empty((R, K, n, m) if untied else (1, 1, 1, 1), np.float32), np.empty((R, K), np.float32))

    def part(self, a: int, b: int) -> Records:
        """The rows of steps a .. b of the chunk."""
        return Records(self.idx[a:b + 1], self.W, self.b, self.M, self.loss)

    def arrays(self) -> tuple:
        return (self.idx, self.W, self.b, self.M, self.loss)


class Path(Protocol):
    """A training path (see the module's docstring)."""

    def run(self, chunk: Chunk, rec: Records, halted: np.ndarray) -> None: ...

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]: ...


__all__ = ["OPT_ADAM", "OPT_ADAMW", "OPT_CODES", "OPT_SGD", "Chunk", "Optimiser", "Path", "Records"]
