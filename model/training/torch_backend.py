"""The torch path: any data (one-hot, finite or fresh sparse sets), batched over the
K models, closed-form gradients, torch.optim for the update, on the CPU or a GPU.

It is the path of ``--device cuda`` (model/training/paths.py), and on the CPU the reference the
compiled paths are tested against (``Trainer(..., backend="torch")``). The maths on
(K, B, n) batches:
    H = X W^T (K,B,m);  P = H D^T + b;  O = ReLU(P);  E = O - X
    L_k = mean_b sum_i I_i E^2;  G = (2/B) I E [P > 0]
    db = sum_b G;  dD = G^T H;  dH = G D;  dW_enc = dH^T X;  tied: dW = H^T G + dW_enc
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from .backend import Chunk, Optimiser, Records

if TYPE_CHECKING:
    from ..config import TrainConfig
    from .data import BatchStream


class SparseBatch(NamedTuple):
    rows: torch.Tensor
    cols: torch.Tensor
    vals: torch.Tensor
    size: int


def _grad(p: torch.Tensor) -> torch.Tensor:
    """p's gradient buffer: TorchTrainer gives every parameter one when it is made and only
    ever writes into it (the optimiser's step never sets it to None)."""
    g = p.grad
    assert g is not None, "a TorchTrainer parameter lost its gradient buffer"
    return g


class TorchTrainer:
    """model.training.backend's contract on torch tensors of ``device`` ("cpu", "cuda", ...)."""

    name = "torch"

    def __init__(self, config: TrainConfig, W: np.ndarray, b: np.ndarray, M: np.ndarray | None,
                 dataset: np.ndarray | None = None, batches: BatchStream | None = None,
                 generator_seed: int = 0, opt: Optimiser | None = None, device: str = "cpu"):
        self.cfg = config
        self.device = torch.device(device)
        f32, dev = torch.float32, self.device
        self.W = torch.tensor(W, dtype=f32, device=dev)
        self.b = torch.tensor(b, dtype=f32, device=dev)
        self.M = torch.tensor(M, dtype=f32, device=dev) if M is not None else None
        params = [self.W] + ([self.b] if config.bias else []) + ([self.M] if self.M is not None else [])
        for p in params:
            p.grad = torch.zeros_like(p)
        self.opt = (opt if opt is not None else Optimiser.of(config)).torch(params, config.lr)
        self.imp = torch.tensor(config.importance_vector(), dtype=f32, device=dev)
        self.alive = torch.ones(config.models, dtype=torch.bool, device=self.device)
        self.data: torch.Tensor | None = None
        if config.onehot:
            self.data = torch.eye(config.n, dtype=f32, device=dev)  # shared by all models
        elif dataset is not None:
            self.data = torch.tensor(dataset, dtype=f32, device=dev)  # (K, T, n)
        self.batches = batches
        self.batch = config.effective_batch
        self.rng = torch.Generator().manual_seed(int(generator_seed) + 0x5EED)  # on the CPU: the same draws anywhere

    def _batch(self, step):
        """The batch of `step`: each step draws once, even when a chunk boundary
        evaluates the same step twice (end of one chunk, start of the next)."""
        if getattr(self, "_batch_step", None) != step:
            self._batch_step = step
            self._cached = self._draw()
        return self._cached

    def _draw(self):
        if self.batches is not None:  # shared by all models, kept sparse
            rows, cols, vals = self.batches.next_coo()
            dev = self.device
            return SparseBatch(torch.from_numpy(rows).to(dev), torch.from_numpy(cols).to(dev),
                               torch.from_numpy(vals).to(dev), self.batch)
        X = self.data
        T = X.shape[-2]
        if self.batch >= T:
            return X
        idx = torch.randperm(T, generator=self.rng)[: self.batch]
        return X[..., idx.to(self.device), :]

    def loss_and_grads(self, X: torch.Tensor | SparseBatch) -> torch.Tensor:
        if isinstance(X, SparseBatch):
            return self._sparse_loss_and_grads(X)
        W, b, M = self.W, self.b, self.M
        D = W.transpose(1, 2) if M is None else M  # (K, n, m)
        H = torch.matmul(X, W.transpose(1, 2))  # (K, B, m)
        P = torch.matmul(H, D.transpose(1, 2))
        if self.cfg.bias:
            P = P + b[:, None, :]
        B = X.shape[-2]
        O = torch.relu(P)
        E = O - X
        loss = (E * E * self.imp).sum(-1).mean(-1)
        G = (2.0 / B) * self.imp * E * (P > 0)
        Xk = X if X.dim() == 3 else X.expand(W.shape[0], -1, -1)
        dH = torch.matmul(G, D)  # (K, B, m)
        gW = torch.matmul(dH.transpose(1, 2), Xk)  # encoder part
        if M is None:
            gW += torch.matmul(H.transpose(1, 2), G)
        else:
            _grad(M).copy_(torch.matmul(G.transpose(1, 2), H))
        _grad(W).copy_(gW)
        if self.cfg.bias:
            _grad(b).copy_(G.sum(1))
        return loss

    def _sparse_loss_and_grads(self, X: SparseBatch):
        """The same maths for a batch with a few non-zeros per example.

        Where x = 0 (almost everywhere): E = ReLU(P) and G = (2/B) I ReLU(P),
        so the dense (K, B, n) work is one matmul, one clamp, one square-sum,
        one scale and two matmuls; the non-zeros are corrected afterwards.
        """
        W, b, M = self.W, self.b, self.M
        rows, cols, vals, B = X.rows, X.cols, X.vals, X.size
        K, m, n = W.shape
        D = W.transpose(1, 2) if M is None else M  # (K, n, m)
        Wc = W[:, :, cols] * vals  # (K, m, nnz)
        H = torch.zeros(K, B, m, device=W.device).index_add_(1, rows, Wc.transpose(1, 2))
        if self.cfg.bias:
            P = torch.baddbmm(b[:, None, :], H, D.transpose(1, 2))
        else:
            P = torch.bmm(H, D.transpose(1, 2))
        Pnz = P[:, rows, cols]  # (K, nnz) pre-activations at the non-zeros
        P[:, rows, cols] = 0.0  # taken out: the loss is a sum of squares, never a difference of two sums
        R = P.clamp_(min=0.0)
        Rnz = Pnz.clamp(min=0.0)
        Inz = self.imp[cols]
        Enz = Rnz - vals
        loss = (((R * R).sum(1) * self.imp).sum(-1) + (Inz * Enz * Enz).sum(-1)) / B
        c = 2.0 / B
        G = R.mul_(c * self.imp)
        G[:, rows, cols] = c * Inz * Enz * (Pnz > 0)
        if self.cfg.bias:
            _grad(b).copy_(G.sum(1))
        dH = torch.bmm(G, D)  # (K, B, m)
        gW = torch.zeros(K, m, n, device=W.device).index_add_(2, cols, (dH[:, rows, :] * vals[:, None]).transpose(1, 2))
        if M is None:
            gW += torch.bmm(H.transpose(1, 2), G)
        else:
            _grad(M).copy_(torch.bmm(G.transpose(1, 2), H))
        _grad(W).copy_(gW)
        return loss

    def run(self, chunk: Chunk, rec: Records, halted: np.ndarray) -> None:
        """model.training.backend's contract."""
        nsteps, global0, lrs = len(chunk), chunk.global0, chunk.lrs
        for s in range(nsteps + 1):
            loss = self.loss_and_grads(self._batch(global0 + s))
            bad = ~torch.isfinite(loss)
            if self.cfg.bias:
                bad |= ~torch.isfinite(self.b).all(1)
            bad |= ~torch.isfinite(self.W).flatten(1).all(1)
            newly = bad & self.alive
            if newly.any():
                for k in torch.nonzero(newly).flatten().tolist():
                    halted[k] = global0 + s
                self.alive &= ~bad
            r = rec.idx[s]
            if r >= 0:
                lv = loss.cpu().numpy().copy()
                lv[~self.alive.cpu().numpy()] = np.nan
                rec.loss[r] = lv
                rec.W[r] = self.W.cpu().numpy()
                rec.b[r] = self.b.cpu().numpy()
                if self.M is not None:
                    rec.M[r] = self.M.cpu().numpy()
            if s == nsteps:
                break
            # halted models must not poison the others: zero their gradients
            if not bool(self.alive.all()):
                dead = ~self.alive
                for p in (self.W, self.b, self.M):
                    if p is not None and p.grad is not None:
                        p.grad[dead] = 0
            for group in self.opt.param_groups:
                group["lr"] = float(lrs[s])
            with torch.no_grad():
                self.opt.step()

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        W = self.W.cpu().numpy().copy()
        b = self.b.cpu().numpy().copy()
        M = self.M.cpu().numpy().copy() if self.M is not None else None
        return W, b, M
