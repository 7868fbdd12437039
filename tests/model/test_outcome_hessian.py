"""The closed-form Hessian of the one-hot loss (model.analysis.outcome.onehot_hessians) against
autograd's, column by column (p Hessian-vector products of the same loss function the local check
differentiates): tied and untied, with and without a bias, with importance and weight decay, and
at Henighan's solution, where every neighbour's pre-activation sits exactly on a ReLU kink (0)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from model.analysis.outcome import _batched_loss, _thetas, onehot_hessians


def autograd_hessians(theta, b0, m, n, bias, untied, imp, l2):
    f = _batched_loss(m, n, bias, untied, imp, l2)
    t = torch.from_numpy(theta.copy()).requires_grad_(True)
    (g,) = torch.autograd.grad(f(t, torch.from_numpy(b0)).sum(), t, create_graph=True)
    cols = [torch.autograd.grad(g[:, j].sum(), t, retain_graph=True)[0].detach().numpy() for j in range(theta.shape[1])]
    return np.stack(cols, axis=2)


@pytest.mark.parametrize("m,n,bias,untied,l2,decay", [
    (2, 7, True, False, 0.0, 1.0), (2, 7, True, True, 0.0, 1.0), (3, 9, False, False, 0.01, 0.9),
    (2, 8, False, True, 0.02, 0.8), (3, 6, True, True, 0.005, 0.7), (2, 30, True, False, 0.0, 0.95)])
def test_closed_form_hessian_equals_autograds(m, n, bias, untied, l2, decay):
    rng = np.random.default_rng(n + 10 * m + bias + 2 * untied)
    K = 3
    W = rng.normal(size=(K, m, n))
    b = 0.3 * rng.normal(size=(K, n))
    M = rng.normal(size=(K, n, m)) if untied else None
    imp = decay ** np.arange(n)
    theta = _thetas(W, b, M, bias)
    b0 = np.zeros((K, n)) if bias else b
    want = autograd_hessians(theta, b0, m, n, bias, untied, imp, l2)
    got = onehot_hessians(theta, b0, m, n, bias, untied, imp, l2)
    assert got.shape == want.shape
    # float64 sums of a few dozen terms of size ~|H|: round-off, not a formula's term (one wrong term is O(1))
    assert np.abs(got - want).max() <= 1e-12 * max(1.0, np.abs(want).max())
    assert np.allclose(got, np.swapaxes(got, 1, 2), rtol=0, atol=1e-13)


def test_closed_form_hessian_at_henighans_solution_takes_the_kinks_as_autograd_does():
    """Henighan's n-gon: ReLU(WᵀW + b) = I with every off-diagonal pre-activation at or below 0
    (neighbours exactly on the kink, up to the float64 of cos): the active set is the diagonal, and
    both Hessians agree on it (ReLU's derivative at 0 taken as 0 by both)."""
    n, m = 7, 2
    r2 = 1.0 / (1.0 - np.cos(2 * np.pi / n))
    ang = 2 * np.pi * np.arange(n) / n
    W = np.sqrt(r2) * np.stack([np.cos(ang), np.sin(ang)])[None]
    b = np.full((1, n), -r2 * np.cos(2 * np.pi / n))
    theta = _thetas(W, b, None, True)
    imp = np.ones(n)
    want = autograd_hessians(theta, np.zeros((1, n)), m, n, True, False, imp, 0.0)
    got = onehot_hessians(theta, np.zeros((1, n)), m, n, True, False, imp, 0.0)
    assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()
    # the bias block is diag(sum over inputs of 2/n [P_ij > 0]): each output fires on its own input only
    P = np.einsum("ai,aj->ij", W[0], W[0]) + b[0]
    active = (P > 0).sum(axis=0)
    assert np.array_equal(np.diag(got[0])[m * n:], 2.0 * active / n)
