"""A snapshot: one model's parameters at one step. Every view is a function of one.

Non-finite parameters (NaN or inf in W, b or M) are a state of a model at a step, like a
halt: a run file can hold them (training that diverged, a perturbation beyond float32,
a file written elsewhere), so a Snapshot can too. ``snap.finite`` says whether it is;
``nonfinite_text(snap)`` says where in one line. Nothing is analysed or drawn from a
snapshot that is not finite: the readers report it in one line (the commands) or draw
``NOT_FINITE_TEXT`` (the views).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

#: What a view draws for a snapshot whose parameters are not finite.
NOT_FINITE_TEXT = "not finite at this step"
#: The diagnosis of a snapshot that is not finite (where a verdict would be).
NOT_FINITE = "not_finite"


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
    M: np.ndarray | None = None
    importance: np.ndarray | None = None
    model: int = 0
    #: every value of W, b (and M) is finite (set from the arrays, never passed)
    finite: bool = field(default=True, init=False, compare=False)

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
        finite = bool(np.isfinite(W).all() and np.isfinite(b).all()
                      and (self.M is None or np.isfinite(self.M).all()))
        object.__setattr__(self, "finite", finite)

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


def _ranges(one_based: Iterable[int], most: int = 6) -> str:
    """[1, 2, 3, 7] -> '1-3, 7' (at most ``most`` runs, then '...')."""
    runs: list[str] = []
    vals = sorted(int(v) for v in one_based)
    i = 0
    while i < len(vals):
        j = i
        while j + 1 < len(vals) and vals[j + 1] == vals[j] + 1:
            j += 1
        runs.append(str(vals[i]) if i == j else f"{vals[i]}-{vals[j]}")
        i = j + 1
    return ", ".join(runs[:most]) + (", ..." if len(runs) > most else "")


def _kinds(a: np.ndarray) -> str:
    bad = a[~np.isfinite(a)]
    kinds = [k for k, hit in (("NaN", np.isnan(bad).any()), ("inf", np.isposinf(bad).any()),
                              ("-inf", np.isneginf(bad).any())) if hit]
    return "/".join(kinds)


def nonfinite_text(snap: Snapshot) -> str | None:
    """Where ``snap``'s parameters are not finite, in one line ("W of features 1-7 is inf; b_3
    is NaN"); None when every value is finite. Feature numbers are 1-based."""
    if snap.finite:
        return None
    parts = []
    for name, arr, axis in (("W", snap.W, 0), ("b", snap.b, None), ("M", snap.M, 1)):
        if arr is None:
            continue
        bad = ~np.isfinite(arr) if axis is None else ~np.isfinite(arr).all(axis=axis)
        feats = np.flatnonzero(bad) + 1
        if not len(feats):
            continue
        where = (f"{name}_{feats[0]}" if name == "b" and len(feats) == 1 else
                 f"{name} of feature{'s' if len(feats) > 1 else ''} {_ranges(feats)}")
        parts.append(f"{where} {'are' if name == 'b' and len(feats) > 1 else 'is'} {_kinds(arr)}")
    return "; ".join(parts)


def not_finite_message(snap: Snapshot, detail: str | None = None) -> str:
    """What a view says for a snapshot that is not finite: NOT_FINITE_TEXT, the step and where
    (``detail``, default nonfinite_text)."""
    return f"{NOT_FINITE_TEXT} (step {snap.step:,}): {detail or nonfinite_text(snap)}"
