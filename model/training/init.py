"""Initial parameters: Xavier-normal (as Anthropic), Henighan's exact n-gon, or a saved run.

Model k of a run with seed s is initialised from seed s + k alone, so a sweep
member reopened as a single run (seed s + k) starts from the same point.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..config import ConfigError

if TYPE_CHECKING:
    from ..config import TrainConfig


def henighan(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Henighan's exact solution for m = 2: W (2, n), b (n,) with ReLU(W^T W + b) = I.

    W_i = r (cos 2 pi i/n, sin 2 pi i/n), r^2 = 1 / (1 - cos 2 pi/n), b_i = -r^2 cos 2 pi/n.
    (n = 1, 2 have cos 2pi/n = 1 or -1: n = 1 gives r^2 -> inf; use W = 1, b = 0 there.)
    """
    if n == 1:
        return np.array([[1.0], [0.0]]), np.zeros(1)
    theta = 2 * np.pi * np.arange(n) / n
    c = math.cos(2 * math.pi / n)
    r2 = 1.0 / (1.0 - c)
    r = math.sqrt(r2)
    W = r * np.stack([np.cos(theta), np.sin(theta)])
    b = np.full(n, -r2 * c)
    return W, b


def xavier(seed: int, m: int, n: int, untied: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Xavier-normal W (m, n) (std sqrt(2/(m+n))), and M (n, m) when untied, from seed alone.

    Drawn by torch's generator (the runs' seeds mean what they always meant), so torch is
    imported here, when a run starts from Xavier, and not by the modules that only read."""
    import torch

    g = torch.Generator().manual_seed(int(seed))
    std = math.sqrt(2.0 / (m + n))
    W = (torch.randn(m, n, generator=g, dtype=torch.float32) * std).numpy()
    M = (torch.randn(n, m, generator=g, dtype=torch.float32) * std).numpy() if untied else None
    return W, M


def initial_parameters(config: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """W (K, m, n), b (K, n), M (K, n, m) or None, as float32 numpy arrays."""
    K, m, n = config.models, config.m, config.n
    W = np.empty((K, m, n), np.float32)
    b = np.zeros((K, n), np.float32)
    M = np.empty((K, n, m), np.float32) if config.untied else None
    if config.init == "xavier":
        for k in range(K):
            Wk, Mk = xavier(config.seed + k, m, n, config.untied)
            W[k] = Wk
            if M is not None:
                M[k] = Mk
    elif config.init == "analytic":
        Wh, bh = henighan(n)
        W[:] = Wh
        if config.bias:
            b[:] = bh
        if M is not None:
            M[:] = Wh.T
    elif config.init == "run":
        from ..storage.runfile import RunFileError, load_snapshot

        if config.init_run is None:  # validate() refuses this too; a config built without it lands here
            raise ConfigError("init_run", "init 'run' needs the path of a saved run")
        try:
            saved_config, snap = load_snapshot(config.init_run, config.init_step, config.init_model)
        except RunFileError as exc:  # the option that named the file: one message for the CLI and the form
            raise ConfigError("init_run", str(exc)) from None
        if snap.W.shape != (m, n):
            raise ConfigError("init_run", f"the saved run has W of shape {snap.W.shape}, this run needs ({m}, {n})")
        W[:] = snap.W
        if config.bias:
            b[:] = snap.b
        if M is not None:
            M[:] = snap.M if snap.M is not None else snap.W.T
    return W, b, M
