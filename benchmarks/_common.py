"""What several benchmarks share: the reference training step they are measured against.

Imported as ``from _common import ...`` by the scripts of this folder (run as
``python benchmarks/bench_X.py``, which puts the folder on sys.path).
"""
from __future__ import annotations

from collections.abc import Callable

import torch


def notebook_step(K: int, n: int, m: int = 2, foreach: bool | None = None) -> Callable[[], None]:
    """One training step of the pattern of Anthropic's toy-models notebook, as a closure: K models of
    n features in m dimensions (Xavier-normal W, zero b) as one batched einsum forward on one-hot data,
    autograd, torch.optim.AdamW (lr 1e-3, weight decay 1e-2; ``foreach`` passed on)."""
    W = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(K, n, m)))
    b = torch.nn.Parameter(torch.zeros(K, n))
    opt = torch.optim.AdamW([W, b], lr=1e-3, weight_decay=1e-2, foreach=foreach)
    X = torch.eye(n).unsqueeze(1).expand(n, K, n)  # (batch, instances, features)

    def step():
        h = torch.einsum("...if,ifh->...ih", X, W)
        out = torch.relu(torch.einsum("...ih,ifh->...if", h, W) + b)
        loss = ((X - out) ** 2).sum(-1).mean(0).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step
