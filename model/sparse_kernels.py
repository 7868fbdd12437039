"""Compiled training kernel for sparse data (finite sets, full batch or
minibatches, and fresh batches), any number of models, tied or untied, every
optimiser of the engine: a whole chunk of steps per call, no Python per step.

Why this shape: at sparsity S = 0.999 an example has about n (1 - S) non-zeros,
so h = W x costs almost nothing; what costs is the pre-activation of every
output, p_bi = D_i . h_b + b_i, and the gradient of the outputs that fire.
Where x_bi = 0 (almost everywhere) the error is ReLU(p_bi), so one fused,
branch-free loop over (example, output) computes the pre-activation, the ReLU,
the loss and every gradient sum from two registers of h; the few non-zeros
are corrected afterwards, one by one. Nothing of size (B, n) is ever stored:
the state of a step is h (m, B), its gradient (m, B) and the parameters'
gradients (m, n), so memory is O(nnz + K n m + K m B).

Maths (example b with non-zeros (c, v); D = W^T tied, M untied; the kernel
keeps D transposed, Dt (m, n), so both cases share code; c_b = 2/B):
    h_b   = sum_(c,v) v W[:, c]                 p_bi = Dt[:, i] . h_b + b_i
    L     = (1/B) sum_b sum_i I_i (ReLU(p_bi) - x_bi)^2
    G_bi  = c_b I_i (ReLU(p_bi) - x_bi) [p_bi > 0]
    db_i  = sum_b G_bi      dDt[:, i] = sum_b G_bi h_b      dh_b = sum_i G_bi Dt[:, i]
    dW[:, c] += v dh_b over the non-zeros (the encoder); tied: dW = dDt + that.
At a non-zero the ReLU-only term c_b I_c ReLU(p) becomes c_b I_c (ReLU(p) - v)
[p > 0]: the correction is -c_b I_c v when p > 0, else nothing, and the loss
gains I_c ((ReLU(p) - v)^2 - ReLU(p)^2).

Two loop orders for the fused pass: with a batch of at least WIDE_BATCH
examples, features outside and examples inside (h and its gradient stay in L1
for a tile of TILE examples, and a feature whose outputs are all <= 0 on the
tile skips the gradient part); with a smaller batch, examples outside and
features inside (a loop of n, vectorised).

Parallelism: ``train_sparse_models`` gives each model its own thread for the
whole chunk (no synchronisation per step: right when K >= threads or a step is
short); ``train_sparse_split`` splits each step's fused pass into feature
blocks across threads (right for a few models with a long step, SMDD's K = 1,
T >= a few hundred): one parallel region a step.

Optimisers: model.kernels.optimizer_update, the same torch.optim update as the one-hot
kernel. Accumulations: float32 within a tile, float64 for the loss across
tiles. The `reassoc` fast-math flag lets LLVM vectorise the sums; no
`nnan`/`ninf`: a model whose loss or parameters stop being finite is halted.

Batches: example b of step s of model k is row base[k] + row0[s] + b of the CSR
(indptr, cols, vals) when ``sel`` is empty, else row base[k] + sel[s, b]
(minibatches of a finite set). Finite sets: one block of T rows per model
(base[k] = k T, row0 = 0) or one shared block (one-hot minibatches); fresh
batches: the chunk's batches one after another, shared (base = 0, row0[s] = s B).
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from .kernels import optimizer_update

_FM = {"contract", "arcp", "nsz", "afn", "reassoc"}
#: Examples per tile of the wide loop order (h and dh of a tile: 4 TILE floats for m = 2, in L1).
TILE = 512
#: Batches of at least this many examples use the wide (features outside) loop order.
WIDE_BATCH = 16


@nb.njit(cache=True, nogil=True)
def _batch_rows(s, B, base, row0, sel, rows):
    """rows[e] = the CSR row of example e of step s (for a model whose block starts at base)."""
    if sel.shape[0] == 0:
        r0 = base + row0[s]
        for e in range(B):
            rows[e] = r0 + e
    else:
        for e in range(B):
            rows[e] = base + sel[s, e]


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _hidden(Wk, indptr, cols, vals, rows, H):
    """H[:, e] = W x_e for the examples of `rows` (sparse)."""
    m = Wk.shape[0]
    for e in range(rows.shape[0]):
        for a in range(m):
            H[a, e] = 0.0
        r = rows[e]
        for q in range(indptr[r], indptr[r + 1]):
            c = cols[q]
            v = vals[q]
            for a in range(m):
                H[a, e] += v * Wk[a, c]


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True, inline="always")
def _pre2(d0, d1, h0, h1, bi):
    """p = d0 h0 + d1 h1 + b: one expression for the fused pass and the corrections (same rounding)."""
    return d0 * h0 + d1 * h1 + bi


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _narrow4(D0, D1, bs, ims, gbs, g0, g1, H, dh, e, N, coef, use_bias):
    """m = 2, examples e .. e + 3 in one vectorised pass over the features (slices from 0)."""
    dt = H.dtype.type
    zero = dt(0.0)
    ha0, ha1 = H[0, e], H[1, e]
    hb0, hb1 = H[0, e + 1], H[1, e + 1]
    hc0, hc1 = H[0, e + 2], H[1, e + 2]
    hd0, hd1 = H[0, e + 3], H[1, e + 3]
    acc = zero
    a0 = zero
    a1 = zero
    b0 = zero
    b1 = zero
    c0 = zero
    c1 = zero
    d0_ = zero
    d1_ = zero
    for i in range(N):
        x0 = D0[i]
        x1 = D1[i]
        bi = bs[i] if use_bias else zero
        ii = ims[i]
        pa = _pre2(x0, x1, ha0, ha1, bi)
        pb = _pre2(x0, x1, hb0, hb1, bi)
        pc = _pre2(x0, x1, hc0, hc1, bi)
        pd = _pre2(x0, x1, hd0, hd1, bi)
        ra = pa if pa > zero else zero
        rb = pb if pb > zero else zero
        rc = pc if pc > zero else zero
        rd = pd if pd > zero else zero
        acc += ii * (ra * ra + rb * rb + rc * rc + rd * rd)
        ci = coef * ii
        ga = ci * ra
        gbb = ci * rb
        gc = ci * rc
        gd = ci * rd
        gbs[i] += ga + gbb + gc + gd
        g0[i] += ga * ha0 + gbb * hb0 + gc * hc0 + gd * hd0
        g1[i] += ga * ha1 + gbb * hb1 + gc * hc1 + gd * hd1
        a0 += ga * x0
        a1 += ga * x1
        b0 += gbb * x0
        b1 += gbb * x1
        c0 += gc * x0
        c1 += gc * x1
        d0_ += gd * x0
        d1_ += gd * x1
    dh[0, e] += a0
    dh[1, e] += a1
    dh[0, e + 1] += b0
    dh[1, e + 1] += b1
    dh[0, e + 2] += c0
    dh[1, e + 2] += c1
    dh[0, e + 3] += d0_
    dh[1, e + 3] += d1_
    return acc


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _fused(Dk, bk, imp, H, i0, i1, coef, use_bias, gD, gb, dh):
    """Features i0 .. i1 as if every x_bi were 0: zero then fill gb[i0:i1], gD[:, i0:i1];
    add into dh (m, B). Returns sum_b sum_i I_i ReLU(p_bi)^2 (float64).

    Every vectorised loop runs over a slice from 0: with bounds like range(e0, e1)
    numba's negative-index handling keeps LLVM from vectorising (10x slower)."""
    m, B = H.shape
    dt = H.dtype.type
    zero = dt(0.0)
    total = 0.0
    gb[i0:i1] = zero  # (slices: a loop over i with one over a inside is not vectorised: ~20 us at n = 10,000)
    for a in range(m):
        gD[a, i0:i1] = zero
    if B >= WIDE_BATCH:
        for e0 in range(0, B, TILE):
            e1 = min(B, e0 + TILE)
            L = e1 - e0
            h0 = H[0, e0:e1]
            h1 = H[m - 1, e0:e1]  # (m = 2 reads these)
            dh0 = dh[0, e0:e1]
            dh1 = dh[m - 1, e0:e1]
            Ht = H[:, e0:e1]
            dht = dh[:, e0:e1]
            for i in range(i0, i1):
                bi = bk[i] if use_bias else zero
                ii = imp[i]
                ci = coef * ii
                if m == 2:
                    d0 = Dk[0, i]
                    d1 = Dk[1, i]
                    acc = zero
                    for e in range(L):
                        p = _pre2(d0, d1, h0[e], h1[e], bi)
                        r = p if p > zero else zero
                        acc += r * r
                    if acc > zero:  # some output fires on this tile: its gradient
                        total += ii * acc
                        sg = zero
                        s0 = zero
                        s1 = zero
                        for e in range(L):
                            p = _pre2(d0, d1, h0[e], h1[e], bi)
                            g = ci * (p if p > zero else zero)
                            sg += g
                            s0 += g * h0[e]
                            s1 += g * h1[e]
                            dh0[e] += g * d0
                            dh1[e] += g * d1
                        gb[i] += sg
                        gD[0, i] += s0
                        gD[1, i] += s1
                else:
                    acc = zero
                    sg = zero
                    for e in range(L):
                        p = bi
                        for a in range(m):
                            p += Dk[a, i] * Ht[a, e]
                        if p > zero:
                            acc += p * p
                            g = ci * p
                            sg += g
                            for a in range(m):
                                gD[a, i] += g * Ht[a, e]
                                dht[a, e] += g * Dk[a, i]
                    total += ii * acc
                    gb[i] += sg
    else:
        N = i1 - i0
        bs = bk[i0:i1]
        ims = imp[i0:i1]
        gbs = gb[i0:i1]
        e = 0
        if m == 2:
            D0 = Dk[0, i0:i1]
            D1 = Dk[1, i0:i1]
            g0 = gD[0, i0:i1]
            g1 = gD[1, i0:i1]
            while e + 4 <= B:  # four examples a pass: each feature's numbers are loaded once for four
                total += _narrow4(D0, D1, bs, ims, gbs, g0, g1, H, dh, e, N, coef, use_bias)
                e += 4
            while e < B:
                h0 = H[0, e]
                h1 = H[1, e]
                acc = zero
                a0 = zero
                a1 = zero
                for i in range(N):
                    d0 = D0[i]
                    d1 = D1[i]
                    p = _pre2(d0, d1, h0, h1, bs[i] if use_bias else zero)
                    r = p if p > zero else zero
                    ir = ims[i] * r
                    acc += ir * r
                    g = coef * ir
                    gbs[i] += g
                    g0[i] += g * h0
                    g1[i] += g * h1
                    a0 += g * d0
                    a1 += g * d1
                dh[0, e] += a0
                dh[1, e] += a1
                total += acc
                e += 1
        else:
            Ds = Dk[:, i0:i1]
            gDs = gD[:, i0:i1]
            for e in range(B):
                acc = zero
                for i in range(N):
                    p = bs[i] if use_bias else zero
                    for a in range(m):
                        p += Ds[a, i] * H[a, e]
                    if p > zero:
                        ir = ims[i] * p
                        acc += ir * p
                        g = coef * ir
                        gbs[i] += g
                        for a in range(m):
                            gDs[a, i] += g * H[a, e]
                            dh[a, e] += g * Ds[a, i]
                total += acc
    return total


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _nonzeros(Dk, bk, imp, indptr, cols, vals, rows, H, coef, use_bias, gD, gb, dh):
    """The non-zeros' corrections to what _fused assumed (x = 0); returns the loss change."""
    m = H.shape[0]
    dt = H.dtype.type
    zero = dt(0.0)
    total = 0.0
    for e in range(rows.shape[0]):
        r = rows[e]
        for q in range(indptr[r], indptr[r + 1]):
            c = cols[q]
            v = vals[q]
            bc = bk[c] if use_bias else zero
            if m == 2:
                p = _pre2(Dk[0, c], Dk[1, c], H[0, e], H[1, e], bc)
            else:
                p = bc
                for a in range(m):
                    p += Dk[a, c] * H[a, e]
            rr = p if p > zero else zero
            total += imp[c] * ((rr - v) * (rr - v) - rr * rr)
            if p > zero:
                dg = -coef * imp[c] * v
                gb[c] += dg
                for a in range(m):
                    gD[a, c] += dg * H[a, e]
                    dh[a, e] += dg * Dk[a, c]
    return total


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _encoder(indptr, cols, vals, rows, dh, gW):
    """gW[:, c] += v dh[:, e] over the non-zeros (c, v) of each example e."""
    m = dh.shape[0]
    for e in range(rows.shape[0]):
        r = rows[e]
        for q in range(indptr[r], indptr[r + 1]):
            c = cols[q]
            v = vals[q]
            for a in range(m):
                gW[a, c] += v * dh[a, e]


@nb.njit(cache=True, nogil=True)
def _finite(x) -> bool:
    s = 0.0
    for q in range(x.size):
        s += x.flat[q]
    return math.isfinite(s)


@nb.njit(cache=True, nogil=True)
def _record(r, k, lval, Wk, bk, Dk, use_bias, untied, recW, recb, recM, recloss):
    m, n = Wk.shape
    recloss[r, k] = lval
    for a in range(m):
        for j in range(n):
            recW[r, k, a, j] = Wk[a, j]
    for j in range(n):
        recb[r, k, j] = bk[j] if use_bias else 0.0
    if untied:
        for a in range(m):
            for j in range(n):
                recM[r, k, j, a] = Dk[a, j]


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _apply(Wk, bk, Dk, gW, gb, gD, sW1, sW2, sb1, sb2, sD1, sD2, lr, tt, opt, wd, beta1, beta2, eps,
           momentum, use_bias, untied):
    """One optimiser update of one model (tied: gW already holds the decoder's part)."""
    m, n = Wk.shape
    sz = m * n
    optimizer_update(Wk.reshape(sz), gW.reshape(sz), sW1.reshape(sz), sW2.reshape(sz),
            lr, tt, opt, wd, beta1, beta2, eps, momentum)
    if use_bias:
        optimizer_update(bk, gb, sb1, sb2, lr, tt, opt, wd, beta1, beta2, eps, momentum)
    if untied:
        optimizer_update(Dk.reshape(sz), gD.reshape(sz), sD1.reshape(sz), sD2.reshape(sz),
                lr, tt, opt, wd, beta1, beta2, eps, momentum)


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _blocks(Wk, Dk, bk, imp, indptr, cols, vals, s, B, base, row0, sel, coef, use_bias, f0, f1, span,
            rows, H, gD, gb, dhp, part):
    """Feature blocks f0 .. f1 of one model's step s: h, then the fused pass of each block
    (its own dh partial dhp[f - f0] and loss partial part[f - f0])."""
    n = Wk.shape[1]
    _batch_rows(s, B, base, row0, sel, rows)
    _hidden(Wk, indptr, cols, vals, rows, H)
    for f in range(f0, f1):
        j = f - f0
        dhp[j] = 0.0
        part[j] = 0.0
        i0 = f * span
        i1 = min(n, i0 + span)
        if i0 < i1:
            part[j] = _fused(Dk, bk, imp, H, i0, i1, coef, use_bias, gD, gb, dhp[j])


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _finish(k, s, nsteps, global0, t0, lrs, Wk, bk, Dk, sW1, sW2, sb1, sb2, sD1, sD2, imp, indptr, cols, vals,
            rows, H, dhp, part, gD, gW, gb, coef, B, opt, wd, beta1, beta2, eps, momentum, use_bias, untied,
            halted, rec_idx, recW, recb, recM, recloss):
    """The rest of model k's step s once its blocks are done: the partials summed in block
    order (so the result does not depend on which thread ran which block), the non-zeros,
    halting, recording, the encoder's gradient and the update."""
    lval = np.nan
    dh = dhp[0]
    if halted[k] < 0:
        tot = part[0]
        for f in range(1, part.shape[0]):
            dh += dhp[f]
            tot += part[f]
        tot += _nonzeros(Dk, bk, imp, indptr, cols, vals, rows, H, coef, use_bias, gD, gb, dh)
        lval = tot / B
        if not (math.isfinite(lval) and _finite(Wk) and _finite(bk) and (not untied or _finite(Dk))):
            halted[k] = global0 + s
            lval = np.nan
    r = rec_idx[s]
    if r >= 0:
        _record(r, k, lval, Wk, bk, Dk, use_bias, untied, recW, recb, recM, recloss)
    if s == nsteps or halted[k] >= 0:
        return
    if untied:
        gW[:] = 0.0
    _encoder(indptr, cols, vals, rows, dh, gW)  # tied: gW is gD
    _apply(Wk, bk, Dk, gW, gb, gD, sW1, sW2, sb1, sb2, sD1, sD2, lrs[s], t0 + s + 1, opt, wd, beta1, beta2,
           eps, momentum, use_bias, untied)


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", parallel=True, nogil=True)
def train_sparse_models(W, b, Dt, sW1, sW2, sb1, sb2, sD1, sD2, imp, indptr, cols, vals, base, row0, sel, B,
                        t0, global0, lrs, opt, wd, beta1, beta2, eps, momentum, use_bias, untied, halted,
                        rec_idx, recW, recb, recM, recloss, blocks):
    """Run steps t0 .. t0 + len(lrs) on every model, one thread per model, in place.

    W (K,m,n), b (K,n), Dt (K,m,n) float32 (Dt, the untied decoder transposed;
    when tied, one unused row) and their optimiser moments, contiguous; imp (n,) float32;
    the batches as in the module's docstring. Same contract as
    model.kernels.train_identity_chunk: for s = 0 .. len(lrs) the loss of step
    global0 + s at the current parameters, recorded where rec_idx[s] >= 0 (recW
    (R,K,m,n), recb (R,K,n), recM (R,K,n,m), recloss (R,K)), then, except after
    the last s, the update with lr lrs[s] (optimiser count t0 + s + 1). A model
    whose loss or parameters stop being finite gets halted[k] = its step, NaN
    losses from then on, and no more updates; the others go on.

    ``blocks``: the features are taken in that many blocks, each with its own partial
    sums, added in block order: the same arithmetic as train_sparse_split, so the two
    give the same numbers bit for bit.
    """
    K, m, n = W.shape
    nsteps = lrs.shape[0]
    coef = W.dtype.type(2.0 / B)
    nb_ = max(1, min(blocks, n))
    span = (n + nb_ - 1) // nb_
    for k in nb.prange(K):
        kd = np.int64(k) if untied else np.int64(0)  # Dt and its moments have one (unused) row when tied
        Wk = W[k]
        bk = b[k]
        Dk = Dt[k] if untied else Wk
        H = np.empty((m, B), W.dtype)
        dhp = np.empty((nb_, m, B), W.dtype)
        part = np.zeros(nb_)
        gD = np.empty((m, n), W.dtype)
        gW = np.empty((m, n), W.dtype) if untied else gD
        gb = np.empty(n, W.dtype)
        rows = np.empty(B, np.int64)
        for s in range(nsteps + 1):
            if halted[k] < 0:
                _blocks(Wk, Dk, bk, imp, indptr, cols, vals, s, B, base[k], row0, sel, coef, use_bias, 0, nb_, span,
                        rows, H, gD, gb, dhp, part)
            _finish(k, s, nsteps, global0, t0, lrs, Wk, bk, Dk, sW1[k], sW2[k], sb1[k], sb2[k], sD1[kd], sD2[kd],
                    imp, indptr, cols, vals, rows, H, dhp, part, gD, gW, gb, coef, B, opt, wd, beta1, beta2, eps,
                    momentum, use_bias, untied, halted, rec_idx, recW, recb, recM, recloss)


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", parallel=True, nogil=True)
def train_sparse_split(W, b, Dt, sW1, sW2, sb1, sb2, sD1, sD2, imp, indptr, cols, vals, base, row0, sel, B,
                       t0, global0, lrs, opt, wd, beta1, beta2, eps, momentum, use_bias, untied, halted,
                       rec_idx, recW, recb, recM, recloss, blocks):
    """The same contract and arithmetic as train_sparse_models, for a few models with a
    long step: each step's feature blocks (K x blocks of them) are spread over threads,
    one parallel region a step (each block computes h itself, nnz m, rather than wait for
    another region); the rest of the step (the non-zeros, the encoder's gradient, the
    update: O(nnz m + n m)) runs on the calling thread."""
    K, m, n = W.shape
    nsteps = lrs.shape[0]
    coef = W.dtype.type(2.0 / B)
    nb_ = max(1, min(blocks, n))
    span = (n + nb_ - 1) // nb_
    ntask = K * nb_
    H = np.empty((ntask, m, B), W.dtype)
    dhp = np.empty((K, nb_, m, B), W.dtype)
    rows = np.empty((ntask, B), np.int64)
    part = np.zeros((K, nb_))
    gD = np.empty((K, m, n), W.dtype)
    gW = np.empty((K if untied else 1, m, n), W.dtype)  # tied: the gradient of W accumulates in gD
    gb = np.empty((K, n), W.dtype)
    for s in range(nsteps + 1):
        for task in nb.prange(ntask):
            k = task // nb_
            f = task % nb_
            if halted[k] < 0:
                Dk = Dt[k] if untied else W[k]
                _blocks(W[k], Dk, b[k], imp, indptr, cols, vals, s, B, base[k], row0, sel, coef, use_bias, f, f + 1,
                        span, rows[task], H[task], gD[k], gb[k], dhp[k, f:f + 1], part[k, f:f + 1])
        for k in range(K):
            kd = k if untied else 0
            Dk = Dt[k] if untied else W[k]
            gWk = gW[k] if untied else gD[k]
            _finish(k, s, nsteps, global0, t0, lrs, W[k], b[k], Dk, sW1[k], sW2[k], sb1[k], sb2[k], sD1[kd], sD2[kd],
                    imp, indptr, cols, vals, rows[k * nb_], H[k * nb_], dhp[k], part[k], gD[k], gWk, gb[k], coef, B,
                    opt, wd, beta1, beta2, eps, momentum, use_bias, untied, halted, rec_idx, recW, recb, recM, recloss)
