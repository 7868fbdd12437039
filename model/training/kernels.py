"""Compiled training kernel for one-hot (identity) data: closed-form gradients
and a fused optimiser update, a block of LANES models at a time, many steps per
call.

Why this shape: on one-hot data the whole batch is the n examples e_1..e_n, so
a model's state (W, b, optimiser moments: a few hundred numbers for n = 7) fits
in L1 cache. The models are stored in blocks of LANES, laid out (m, n, LANES)
so that every inner loop runs over the LANES models of a block: contiguous,
branch-free, and vectorised by LLVM (AVX2: 8 float32 a register). The kernel
loads one block and runs a whole chunk of steps on it before moving to the
next; blocks are spread over threads with prange. There is no Python or torch
dispatch per step, so a single model (K = 1, one lane of one block) still runs
hundreds of thousands of steps a second.

Maths (example j = e_j, output i; decoder D = W^T when tied, M when untied;
the kernel keeps the decoder transposed, Dt (m, n), so both cases share code):
    P_ij = sum_a Dt_ai W_aj + b_i,  O = ReLU(P),  E = O - I   (P then holds G)
    L    = (1/n) sum_ij I_i E_ij^2
    G_ij = dL/dP_ij = (2/n) I_i E_ij [P_ij > 0]
    dL/db = G 1;  tied: dL/dW = W (G + G^T);  untied: dL/dDt = W G^T, dL/dW = Dt G
A thread holds its block's G: (n, n, LANES) float32, 128 n^2 bytes (model.training.engine's
memory model counts it per thread). Accumulating the gradients in the forward pass
instead (no G) was measured 1.5-4x slower (n = 7 to 100: eleven arrays in the inner
loop keep LLVM from vectorising it), and at the n where G grows large the dispatcher
(model/training/paths.py) sends one-hot data to the fused kernel, which stores nothing of size n^2.
Optimisers follow torch.optim (Adam with L2 decay, AdamW with decoupled decay,
SGD with momentum and L2 decay), bias correction included.

No `nnan`/`ninf` fast-math flags: the kernel must see NaN and inf to halt a
model that diverges.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba as nb
import numpy as np

from .backend import OPT_ADAM, OPT_ADAMW, OPT_SGD, Chunk, Optimiser, Records

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from ..config import TrainConfig

LANES = 32
_FM = {"contract", "arcp", "nsz", "afn"}


def to_blocks(A: np.ndarray, dtype: DTypeLike = np.float32) -> np.ndarray:
    """(K, ...) -> (ceil(K/LANES), ..., LANES), zero-padded."""
    K = A.shape[0]
    nblk = (K + LANES - 1) // LANES
    pad = np.zeros((nblk * LANES,) + A.shape[1:], dtype=dtype)
    pad[:K] = A
    pad = pad.reshape((nblk, LANES) + A.shape[1:])
    return np.ascontiguousarray(np.moveaxis(pad, 1, -1))


def from_blocks(B: np.ndarray, K: int) -> np.ndarray:
    """Inverse of to_blocks: (nblk, ..., LANES) -> (K, ...)."""
    A = np.moveaxis(B, -1, 1)
    return A.reshape((-1,) + A.shape[2:])[:K]


@nb.njit(cache=True, fastmath=_FM, inline="always")
def optimizer_update(p, g, s1, s2, lr, t, opt):
    """One optimiser step on flat float32 arrays, in place. t: 1-based count; opt: the
    settings as backend.Optimiser.kernel_args gives them."""
    code, wd, beta1, beta2, eps, momentum = opt
    dt = p.dtype.type
    if code == OPT_SGD:
        mo = dt(momentum)
        wdd = dt(wd)
        lrr = dt(lr)
        if t == 1:
            for q in range(p.size):
                gq = g[q] + wdd * p[q]
                s1[q] = gq
                p[q] -= lrr * gq
        else:
            for q in range(p.size):
                gq = g[q] + wdd * p[q]
                s1[q] = mo * s1[q] + gq
                p[q] -= lrr * s1[q]
        return
    bc1 = 1.0 - beta1 ** t
    bc2 = 1.0 - beta2 ** t
    step_size = dt(lr / bc1)
    inv_sq_bc2 = dt(1.0 / math.sqrt(bc2))
    decay = dt(1.0 - lr * wd) if code == OPT_ADAMW else dt(1.0)
    l2 = dt(wd) if code == OPT_ADAM else dt(0.0)
    b1 = dt(beta1)
    b2 = dt(beta2)
    ob1 = dt(1.0 - beta1)
    ob2 = dt(1.0 - beta2)
    ep = dt(eps)
    for q in range(p.size):
        gq = g[q] + l2 * p[q]
        m1 = b1 * s1[q] + ob1 * gq
        m2 = b2 * s2[q] + ob2 * gq * gq
        s1[q] = m1
        s2[q] = m2
        p[q] = p[q] * decay - step_size * m1 / (np.sqrt(m2) * inv_sq_bc2 + ep)


@nb.njit(cache=True, fastmath=_FM, parallel=True, nogil=True)
def train_identity_chunk(state, imp, K, chunk, opt, flags, halted, rec):
    """Run the steps of ``chunk`` on every block of models, in place (the contract of
    model.training.backend: losses, recorded rows, halting, updates).

    state: (W, b, Dt, sW1, sW2, sb1, sb2, sD1, sD2): W (nblk,m,n,L), b (nblk,n,L), Dt
    (nblk,m,n,L) float32 (Dt unused when tied) and their optimiser moments; imp (n,)
    float32; K the real number of models (lanes past K are padding); chunk: (t0, global0,
    lrs) (backend.Chunk.kernel_args); opt: backend.Optimiser.kernel_args; flags:
    (use_bias, untied); rec: (idx, W (R,K,m,n), b (R,K,n), M (R,K,n,m), loss (R,K))
    (backend.Records.arrays). A model whose loss or pre-activations stop being finite gets
    halted[k] = its step; its later rows hold NaN (the history clamps to its last finite row).
    """
    W, b, Dt, sW1, sW2, sb1, sb2, sD1, sD2 = state
    t0, global0, lrs = chunk
    use_bias, untied = flags
    rec_idx, recW, recb, recM, recloss = rec
    nblk, m, n, L = W.shape
    nsteps = lrs.shape[0]
    dt = W.dtype.type
    zero = dt(0.0)
    one = dt(1.0)
    two_over_n = dt(2.0 / n)
    for blk in nb.prange(nblk):
        Wk = W[blk]
        bk = b[blk]
        Dk = Dt[blk] if untied else Wk
        P = np.empty((n, n, L), W.dtype)
        gW = np.empty((m, n, L), W.dtype)
        gD = np.empty((m, n, L), W.dtype)
        gb = np.empty((n, L), W.dtype)
        loss = np.empty(L, W.dtype)
        chk = np.empty(L, W.dtype)
        lanes = min(L, K - blk * L)
        for s in range(nsteps + 1):
            # ---- forward: P = Dt^T W + b, then G, the loss and db in place
            for l in range(L):
                loss[l] = zero
                chk[l] = zero
            for i in range(n):
                ci = two_over_n * imp[i]
                ii = imp[i]
                for l in range(L):
                    gb[i, l] = zero
                for j in range(n):
                    d = one if i == j else zero
                    if m == 2:  # the common case, fused: one pass, P never stored
                        for l in range(L):
                            p = Dk[0, i, l] * Wk[0, j, l] + Dk[1, i, l] * Wk[1, j, l]
                            if use_bias:
                                p += bk[i, l]
                            chk[l] += p
                            pos = p > zero
                            e = (p if pos else zero) - d
                            loss[l] += ii * e * e
                            g = ci * e if pos else zero
                            P[i, j, l] = g
                            gb[i, l] += g
                    else:
                        for l in range(L):
                            P[i, j, l] = bk[i, l] if use_bias else zero
                        for a in range(m):
                            for l in range(L):
                                P[i, j, l] += Dk[a, i, l] * Wk[a, j, l]
                        for l in range(L):
                            p = P[i, j, l]
                            chk[l] += p
                            pos = p > zero
                            e = (p if pos else zero) - d
                            loss[l] += ii * e * e
                            g = ci * e if pos else zero
                            P[i, j, l] = g
                            gb[i, l] += g
            # ---- halting and recording
            r = rec_idx[s]
            for l in range(lanes):
                k = blk * L + l
                lval = loss[l] / n
                if halted[k] < 0 and not (math.isfinite(lval) and math.isfinite(chk[l])):
                    halted[k] = global0 + s
                if r >= 0:
                    recloss[r, k] = lval if halted[k] < 0 else np.nan
                    for a in range(m):
                        for j in range(n):
                            recW[r, k, a, j] = Wk[a, j, l]
                    for j in range(n):
                        recb[r, k, j] = bk[j, l] if use_bias else zero
                    if untied:
                        for a in range(m):
                            for j in range(n):
                                recM[r, k, j, a] = Dk[a, j, l]
            if s == nsteps:
                break
            # ---- backward
            if untied:
                # gD[a,i] = sum_j W[a,j] G[i,j];  gW[a,j] = sum_i Dt[a,i] G[i,j]
                for a in range(m):
                    for i in range(n):
                        for l in range(L):
                            gD[a, i, l] = zero
                            gW[a, i, l] = zero
                for i in range(n):
                    for j in range(n):
                        for a in range(m):
                            for l in range(L):
                                g = P[i, j, l]
                                gD[a, i, l] += Wk[a, j, l] * g
                                gW[a, j, l] += Dk[a, i, l] * g
            else:
                for a in range(m):
                    for c in range(n):
                        for l in range(L):
                            gW[a, c, l] = zero
                for c in range(n):
                    for j in range(n):
                        if m == 2:
                            for l in range(L):
                                g = P[j, c, l] + P[c, j, l]
                                gW[0, c, l] += Wk[0, j, l] * g
                                gW[1, c, l] += Wk[1, j, l] * g
                        else:
                            for a in range(m):
                                for l in range(L):
                                    gW[a, c, l] += Wk[a, j, l] * (P[j, c, l] + P[c, j, l])
            # ---- fused optimiser update
            lr = lrs[s]
            tt = t0 + s + 1
            sz = m * n * L
            optimizer_update(Wk.reshape(sz), gW.reshape(sz), sW1[blk].reshape(sz), sW2[blk].reshape(sz),
                             lr, tt, opt)
            if use_bias:
                optimizer_update(bk.reshape(n * L), gb.reshape(n * L), sb1[blk].reshape(n * L),
                                 sb2[blk].reshape(n * L), lr, tt, opt)
            if untied:
                optimizer_update(Dk.reshape(sz), gD.reshape(sz), sD1[blk].reshape(sz), sD2[blk].reshape(sz),
                                 lr, tt, opt)


class LanesPath:
    """The one-hot, full-batch path: the models in blocks of LANES, one block a thread
    (train_identity_chunk). Scratch: O(m n LANES) floats a thread."""

    name = "lanes"

    def __init__(self, config: TrainConfig, W: np.ndarray, b: np.ndarray, M: np.ndarray | None, opt: Optimiser):
        f32 = np.float32
        K, m, n = config.models, config.m, config.n
        self.K, self.untied, self.opt = K, bool(config.untied), opt
        self.flags = (bool(config.bias), bool(config.untied))
        self.W = to_blocks(W, f32)
        self.b = to_blocks(b, f32)
        if config.untied:
            assert M is not None, "an untied model has a decoder M"
            self.Dt = to_blocks(np.swapaxes(M, 1, 2), f32)
        else:
            self.Dt = np.zeros((1, m, n, LANES), f32)
        z = np.zeros_like
        self.moments = (z(self.W), z(self.W), z(self.b), z(self.b), z(self.Dt), z(self.Dt))
        self.imp = config.importance_vector().astype(f32)

    def run(self, chunk: Chunk, rec: Records, halted: np.ndarray) -> None:
        state = (self.W, self.b, self.Dt) + self.moments
        train_identity_chunk(state, self.imp, self.K, chunk.kernel_args(), self.opt.kernel_args(), self.flags,
                             halted, rec.arrays())

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        W = from_blocks(self.W, self.K).copy()
        b = from_blocks(self.b, self.K).copy()
        M = np.swapaxes(from_blocks(self.Dt, self.K), 1, 2).copy() if self.untied else None
        return W, b, M
