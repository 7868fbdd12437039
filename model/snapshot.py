"""A snapshot: one model's parameters at one step. Every view is a function of one."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class Snapshot:
    """One model at one step, as float64 numpy arrays.

    W: (m, n) feature vectors as columns; b: (n,) bias (zeros when the run has
    no bias); M: (n, m) untied decoder or None (tied: the decoder is W^T);
    loss: the training loss recorded at this step (float('nan') if unknown);
    importance: (n,) per-feature importance, None meaning all 1.
    """

    step: int
    W: np.ndarray
    b: np.ndarray
    loss: float = float("nan")
    M: Optional[np.ndarray] = None
    importance: Optional[np.ndarray] = None
    model: int = 0

    def __post_init__(self):
        W = np.asarray(self.W, dtype=np.float64)
        b = np.asarray(self.b, dtype=np.float64)
        if W.ndim != 2:
            raise ValueError(f"W must be (m, n), got shape {W.shape}")
        if b.shape != (W.shape[1],):
            raise ValueError(f"b must be (n,) = ({W.shape[1]},), got shape {b.shape}")
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "b", b)
        if self.M is not None:
            M = np.asarray(self.M, dtype=np.float64)
            if M.shape != (W.shape[1], W.shape[0]):
                raise ValueError(f"M must be (n, m), got shape {M.shape}")
            object.__setattr__(self, "M", M)
        if self.importance is not None:
            object.__setattr__(self, "importance", np.asarray(self.importance, dtype=np.float64))

    @property
    def n(self) -> int:
        return self.W.shape[1]

    @property
    def m(self) -> int:
        return self.W.shape[0]

    @property
    def decoder(self) -> np.ndarray:
        """(n, m): the matrix that maps h back to output space (W^T when tied)."""
        return self.W.T if self.M is None else self.M
