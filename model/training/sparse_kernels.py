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
The non-zeros are taken out of the fused pass rather than corrected afterwards: their
pre-activations are computed by the same pass, read back from it, set to 0 there (so the
fused pass adds nothing for them), and their own terms I_c (ReLU(p) - v)^2 and gradients
c_b I_c (ReLU(p) - v) [p > 0] are added one by one. The loss is thus a sum of squares,
never a difference of two large sums (which rounding can make negative: a trained model's
-1e-8), and each non-zero's term is exact to float32 rounding of its own size.

Two loop orders for the fused pass: with a batch of at least WIDE_BATCH
examples, features outside and examples inside (h and its gradient stay in L1
for a tile of ``tile_of(m)`` examples, the tile's non-zeros grouped by feature, and a
feature whose other outputs are all <= 0 on the tile skips the gradient part); with a
smaller batch, examples outside and features inside (a loop of n, vectorised).

Parallelism: ``train_sparse_models`` gives each model its own thread for the
whole chunk (no synchronisation per step: right when K >= threads or a step is
short); ``train_sparse_split`` splits each step's fused pass into feature
blocks across threads (right for a few models with a long step, SMDD's K = 1,
T >= a few hundred): one parallel region a step.

Optimisers: model.training.kernels.optimizer_update, the same torch.optim update as the one-hot
kernel, its settings one tuple (backend.Optimiser.kernel_args). Accumulations: float32
within a tile, float64 for the loss across tiles. The `reassoc` fast-math flag lets LLVM vectorise the sums; no
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
#: Most examples a tile of the wide loop order (h and dh of a tile: 2 m TILE floats, in L1).
TILE = 512
#: Batches of at least this many examples use the wide (features outside) loop order.
WIDE_BATCH = 16


@nb.njit(cache=True)
def tile_of(m):
    """Examples a tile for m latent dimensions: h and dh of a tile (2 m tile floats) within
    32 kB of L1, a multiple of 16 (one AVX-512 register), from 16 to TILE."""
    t = (4096 // max(m, 1)) // 16 * 16
    return max(16, min(TILE, t))


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


@nb.njit(cache=True, nogil=True)
def _columns(indptr, cols, vals, rows, i0, i1):
    """The step's non-zeros in features i0 .. i1 grouped by feature (CSC): colptr (i1 - i0 + 1),
    the example and value of each (examples ascending within a feature), and a cursor per
    feature (colptr's starts) for a pass over the tiles in order."""
    N = i1 - i0
    colptr = np.zeros(N + 1, np.int64)
    for e in range(rows.shape[0]):
        r = rows[e]
        for q in range(indptr[r], indptr[r + 1]):
            c = cols[q]
            if i0 <= c < i1:
                colptr[c - i0 + 1] += 1
    for j in range(N):
        colptr[j + 1] += colptr[j]
    cur = colptr[:N].copy()
    ent_e = np.empty(colptr[N], np.int64)
    ent_v = np.empty(colptr[N], np.float32)
    for e in range(rows.shape[0]):
        r = rows[e]
        for q in range(indptr[r], indptr[r + 1]):
            c = cols[q]
            if i0 <= c < i1:
                j = c - i0
                ent_e[cur[j]] = e
                ent_v[cur[j]] = vals[q]
                cur[j] += 1
    cur[:] = colptr[:N]
    return colptr, cur, ent_e, ent_v


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True, inline="always")
def _pre2(d0, d1, h0, h1, bi):
    """p = d0 h0 + d1 h1 + b."""
    return d0 * h0 + d1 * h1 + bi


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _nonzero(p, v, ii, ci, Dk, i, H, e, gD, gb, dh):
    """A non-zero (value v) at output i of example e, whose pre-activation p the fused pass
    computed: adds its gradient; returns its loss term I_i (ReLU(p) - v)^2 (float64)."""
    m = H.shape[0]
    r = p if p > 0.0 else H.dtype.type(0.0)
    err = r - v
    if p > 0.0:
        g = ci * err
        gb[i] += g
        for a in range(m):
            gD[a, i] += g * H[a, e]
            dh[a, e] += g * Dk[a, i]
    return float(ii) * float(err) * float(err)


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _wide2(Dk, bk, imp, H, dh, i0, i1, e0, e1, coef, use_bias, gD, gb, colptr, cur, ent_e, ent_v, pb):
    """m = 2, the tile e0 .. e1 of features i0 .. i1 (features outside, examples inside)."""
    dt = H.dtype.type
    zero = dt(0.0)
    L = e1 - e0
    h0 = H[0, e0:e1]
    h1 = H[1, e0:e1]
    dh0 = dh[0, e0:e1]
    dh1 = dh[1, e0:e1]
    total = 0.0
    for i in range(i0, i1):
        bi = bk[i] if use_bias else zero
        ii = imp[i]
        ci = coef * ii
        d0 = Dk[0, i]
        d1 = Dk[1, i]
        for e in range(L):
            pb[e] = _pre2(d0, d1, h0[e], h1[e], bi)
        j = i - i0
        q = cur[j]
        while q < colptr[j + 1] and ent_e[q] < e1:  # this tile's non-zeros of feature i
            el = ent_e[q] - e0
            p = pb[el]
            pb[el] = zero
            total += _nonzero(p, ent_v[q], ii, ci, Dk, i, H, ent_e[q], gD, gb, dh)
            q += 1
        cur[j] = q
        acc = zero
        for e in range(L):
            r = pb[e] if pb[e] > zero else zero
            acc += r * r
        if acc > zero:  # some other output fires on this tile: its gradient
            total += ii * acc
            sg = zero
            s0 = zero
            s1 = zero
            for e in range(L):
                g = ci * (pb[e] if pb[e] > zero else zero)
                sg += g
                s0 += g * h0[e]
                s1 += g * h1[e]
                dh0[e] += g * d0
                dh1[e] += g * d1
            gb[i] += sg
            gD[0, i] += s0
            gD[1, i] += s1
    return total


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _wide(Dk, bk, imp, H, dh, i0, i1, e0, e1, coef, use_bias, gD, gb, colptr, cur, ent_e, ent_v, pb):
    """Any m, the tile e0 .. e1 of features i0 .. i1: each loop over the tile's examples, vectorised."""
    m = H.shape[0]
    dt = H.dtype.type
    zero = dt(0.0)
    L = e1 - e0
    total = 0.0
    for i in range(i0, i1):
        bi = bk[i] if use_bias else zero
        ii = imp[i]
        ci = coef * ii
        for e in range(L):
            pb[e] = bi
        for a in range(m):
            d = Dk[a, i]
            ha = H[a, e0:e1]
            for e in range(L):
                pb[e] += d * ha[e]
        j = i - i0
        q = cur[j]
        while q < colptr[j + 1] and ent_e[q] < e1:
            el = ent_e[q] - e0
            p = pb[el]
            pb[el] = zero
            total += _nonzero(p, ent_v[q], ii, ci, Dk, i, H, ent_e[q], gD, gb, dh)
            q += 1
        cur[j] = q
        acc = zero
        for e in range(L):
            r = pb[e] if pb[e] > zero else zero
            pb[e] = r
            acc += r * r
        if acc > zero:
            total += ii * acc
            sg = zero
            for e in range(L):
                g = ci * pb[e]
                pb[e] = g
                sg += g
            gb[i] += sg
            for a in range(m):
                d = Dk[a, i]
                ha = H[a, e0:e1]
                dha = dh[a, e0:e1]
                sa = zero
                for e in range(L):
                    sa += pb[e] * ha[e]
                    dha[e] += pb[e] * d
                gD[a, i] += sa
    return total


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _narrow(Dk, bk, imp, H, dh, i0, i1, coef, use_bias, gD, gb, indptr, cols, vals, rows):
    """A small batch: examples outside, the features i0 .. i1 inside (vectorised)."""
    m, B = H.shape
    dt = H.dtype.type
    zero = dt(0.0)
    N = i1 - i0
    bs = bk[i0:i1]
    ims = imp[i0:i1]
    gbs = gb[i0:i1]
    pb = np.empty(N, H.dtype)
    total = 0.0
    for e in range(B):
        for i in range(N):
            pb[i] = bs[i] if use_bias else zero
        for a in range(m):
            Da = Dk[a, i0:i1]
            ha = H[a, e]
            for i in range(N):
                pb[i] += Da[i] * ha
        r_ = rows[e]
        for q in range(indptr[r_], indptr[r_ + 1]):  # the example's non-zeros in this block
            c = cols[q]
            if i0 <= c < i1:
                p = pb[c - i0]
                pb[c - i0] = zero
                total += _nonzero(p, vals[q], imp[c], coef * imp[c], Dk, c, H, e, gD, gb, dh)
        acc = zero
        for i in range(N):
            r = pb[i] if pb[i] > zero else zero
            ir = ims[i] * r
            acc += ir * r
            g = coef * ir
            gbs[i] += g
            pb[i] = g
        total += acc
        for a in range(m):
            Da = Dk[a, i0:i1]
            gDa = gD[a, i0:i1]
            ha = H[a, e]
            sa = zero
            for i in range(N):
                sa += pb[i] * Da[i]
                gDa[i] += pb[i] * ha
            dh[a, e] += sa
    return total


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _fused(Dk, bk, imp, H, i0, i1, coef, use_bias, gD, gb, dh, indptr, cols, vals, rows):
    """Features i0 .. i1 of one model's step: zero then fill gb[i0:i1], gD[:, i0:i1]; add into
    dh (m, B); returns sum_b sum_i I_i (ReLU(p_bi) - x_bi)^2 (float64), the non-zeros'
    terms included.

    Every vectorised loop runs over a slice from 0: with bounds like range(e0, e1)
    numba's negative-index handling keeps LLVM from vectorising (10x slower)."""
    m, B = H.shape
    zero = H.dtype.type(0.0)
    gb[i0:i1] = zero  # (slices: a loop over i with one over a inside is not vectorised: ~20 us at n = 10,000)
    for a in range(m):
        gD[a, i0:i1] = zero
    if B < WIDE_BATCH:
        return _narrow(Dk, bk, imp, H, dh, i0, i1, coef, use_bias, gD, gb, indptr, cols, vals, rows)
    colptr, cur, ent_e, ent_v = _columns(indptr, cols, vals, rows, i0, i1)
    tile = tile_of(m)
    pb = np.empty(tile, H.dtype)
    total = 0.0
    for e0 in range(0, B, tile):
        e1 = min(B, e0 + tile)
        if m == 2:
            total += _wide2(Dk, bk, imp, H, dh, i0, i1, e0, e1, coef, use_bias, gD, gb, colptr, cur, ent_e, ent_v,
                            pb)
        else:
            total += _wide(Dk, bk, imp, H, dh, i0, i1, e0, e1, coef, use_bias, gD, gb, colptr, cur, ent_e, ent_v, pb)
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
def _record(r, k, lval, Wk, bk, Dk, use_bias, untied, rec):
    _, recW, recb, recM, recloss = rec
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
def _apply(Wk, bk, Dk, gW, gb, gD, moments, lr, tt, opt, use_bias, untied):
    """One optimiser update of one model (tied: gW already holds the decoder's part).
    moments: (sW1, sW2, sb1, sb2, sD1, sD2) of this model."""
    sW1, sW2, sb1, sb2, sD1, sD2 = moments
    m, n = Wk.shape
    sz = m * n
    optimizer_update(Wk.reshape(sz), gW.reshape(sz), sW1.reshape(sz), sW2.reshape(sz), lr, tt, opt)
    if use_bias:
        optimizer_update(bk, gb, sb1, sb2, lr, tt, opt)
    if untied:
        optimizer_update(Dk.reshape(sz), gD.reshape(sz), sD1.reshape(sz), sD2.reshape(sz), lr, tt, opt)


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _blocks(Wk, Dk, bk, imp, data, s, B, base, coef, use_bias, f0, f1, span, rows, H, gD, gb, dhp, part):
    """Feature blocks f0 .. f1 of one model's step s: h, then the fused pass of each block
    (its own dh partial dhp[f - f0] and loss partial part[f - f0])."""
    indptr, cols, vals, _, row0, sel = data
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
            part[j] = _fused(Dk, bk, imp, H, i0, i1, coef, use_bias, gD, gb, dhp[j], indptr, cols, vals, rows)


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _finish(k, s, chunk, Wk, bk, Dk, moments, data, rows, dhp, part, gD, gW, gb, B, opt, flags, halted, rec):
    """The rest of model k's step s once its blocks are done: the partials summed in block
    order (so the result does not depend on which thread ran which block), halting,
    recording, the encoder's gradient and the update."""
    t0, global0, lrs = chunk
    use_bias, untied = flags
    indptr, cols, vals = data[0], data[1], data[2]
    nsteps = lrs.shape[0]
    lval = np.nan
    dh = dhp[0]
    if halted[k] < 0:
        tot = part[0]
        for f in range(1, part.shape[0]):
            dh += dhp[f]
            tot += part[f]
        lval = tot / B
        if not (math.isfinite(lval) and _finite(Wk) and _finite(bk) and (not untied or _finite(Dk))):
            halted[k] = global0 + s
            lval = np.nan
    r = rec[0][s]
    if r >= 0:
        _record(r, k, lval, Wk, bk, Dk, use_bias, untied, rec)
    if s == nsteps or halted[k] >= 0:
        return
    if untied:
        gW[:] = 0.0
    _encoder(indptr, cols, vals, rows, dh, gW)  # tied: gW is gD
    _apply(Wk, bk, Dk, gW, gb, gD, moments, lrs[s], t0 + s + 1, opt, use_bias, untied)


@nb.njit(cache=True, nogil=True, inline="always")
def _moments(state, k, kd):
    _, _, _, sW1, sW2, sb1, sb2, sD1, sD2 = state
    return (sW1[k], sW2[k], sb1[k], sb2[k], sD1[kd], sD2[kd])


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", parallel=True, nogil=True)
def train_sparse_models(state, imp, data, B, chunk, opt, flags, halted, rec, blocks):
    """Run the steps of ``chunk`` on every model, one thread per model, in place (the
    contract of model.training.backend).

    state: (W, b, Dt, sW1, sW2, sb1, sb2, sD1, sD2): W (K,m,n), b (K,n), Dt (K,m,n)
    float32 (Dt, the untied decoder transposed; when tied, one unused row) and their
    optimiser moments, contiguous; imp (n,) float32; data: (indptr, cols, vals, base, row0,
    sel), the batches as in the module's docstring; chunk: (t0, global0, lrs); opt:
    backend.Optimiser.kernel_args; flags: (use_bias, untied); rec: (idx, W, b, M, loss).

    ``blocks``: the features are taken in that many blocks, each with its own partial
    sums, added in block order: the same arithmetic as train_sparse_split, so the two
    give the same numbers bit for bit.
    """
    W, b, Dt = state[0], state[1], state[2]
    base = data[3]
    use_bias, untied = flags
    K, m, n = W.shape
    nsteps = chunk[2].shape[0]
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
        moments = _moments(state, k, kd)
        for s in range(nsteps + 1):
            if halted[k] < 0:
                _blocks(Wk, Dk, bk, imp, data, s, B, base[k], coef, use_bias, 0, nb_, span, rows, H, gD, gb, dhp,
                        part)
            _finish(k, s, chunk, Wk, bk, Dk, moments, data, rows, dhp, part, gD, gW, gb, B, opt, flags, halted, rec)


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", parallel=True, nogil=True)
def train_sparse_split(state, imp, data, B, chunk, opt, flags, halted, rec, blocks):
    """The same contract and arithmetic as train_sparse_models, for a few models with a
    long step: each step's feature blocks (K x blocks of them) are spread over threads,
    one parallel region a step (each block computes h itself, nnz m, rather than wait for
    another region); the rest of the step (the encoder's gradient, the update: O(nnz m +
    n m)) runs on the calling thread."""
    W, b, Dt = state[0], state[1], state[2]
    base = data[3]
    use_bias, untied = flags
    K, m, n = W.shape
    nsteps = chunk[2].shape[0]
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
                _blocks(W[k], Dk, b[k], imp, data, s, B, base[k], coef, use_bias, f, f + 1, span, rows[task],
                        H[task], gD[k], gb[k], dhp[k, f:f + 1], part[k, f:f + 1])
        for k in range(K):
            kd = k if untied else 0
            Dk = Dt[k] if untied else W[k]
            gWk = gW[k] if untied else gD[k]
            _finish(k, s, chunk, W[k], b[k], Dk, _moments(state, k, kd), data, rows[k * nb_], dhp[k], part[k],
                    gD[k], gWk, gb[k], B, opt, flags, halted, rec)


# ---------------------------------------------------------------------------- the BLAS path
# model.training.sparse_backend.BlasTrainer: per step, the two dense products P = H Dt + b and the
# gradients' G^T H, G Dt^T go to BLAS (torch.bmm over the K models); these kernels do the
# rest: h, the activation (non-zeros taken out exactly as in the fused pass: never a
# difference of sums), halting and recording, the encoder's gradient and the update. Each
# takes a range of models k0 .. k1: BlasTrainer runs groups of models on threads of its own,
# each group a whole chunk, with no parallel launch a step (a launch waits for every thread,
# and on a loaded 2-core machine a thread that lost its core makes every region wait a time
# slice, ~5-10 ms).

@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def blas_hidden(W, data, s, B, halted, rows, H, sparse_h, WT, k0, k1):
    """For models k0 .. k1 - 1: rows[k] (B,) of step s and, when ``sparse_h``, H[k] (B, m) =
    (W x_e)^T from the non-zeros, through WT[k] (n, m) = W[k]^T, so that a non-zero adds a
    contiguous row (~0.1 ns a latent dimension; through W's strided columns ~3 ns)."""
    indptr, cols, vals, base, row0, sel = data
    for k in range(k0, k1):
        _batch_rows(s, B, base[k], row0, sel, rows[k])
        if not sparse_h:
            continue
        _hidden_t(W[k], WT[k], indptr, cols, vals, rows[k], H[k])


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _hidden_t(Wk, WTk, indptr, cols, vals, rows, Hk):
    """Hk[e] = W x_e for the examples of ``rows``, through WTk = Wk^T (filled here)."""
    m, n = Wk.shape
    for a in range(m):
        for c in range(n):
            WTk[c, a] = Wk[a, c]
    for e in range(rows.shape[0]):
        He = Hk[e]
        He[:] = 0.0
        r = rows[e]
        for q in range(indptr[r], indptr[r + 1]):
            v = vals[q]
            Wc = WTk[cols[q]]
            for a in range(m):
                He[a] += v * Wc[a]


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True, inline="always")
def _activate_row(Pe, bk, imp, q0, q1, cols, vals, coef, pz, gbk):
    """Example e's row of P: its pre-activations (plus the bias bk) become G = dL/dP in place,
    summed into the bias gradient gbk; returns the row's loss. The non-zeros are taken out of
    the dense pass: their pre-activations kept in pz, their entries set to -b (the dense
    pass's p = -b + b is exactly 0 there, where it adds nothing), then handled one by one."""
    n = Pe.shape[0]
    zero = Pe.dtype.type(0.0)
    for q in range(q0, q1):
        c = cols[q]
        pz[q - q0] = Pe[c] + bk[c]
        Pe[c] = -bk[c]
    acc = zero
    for i in range(n):
        p = Pe[i] + bk[i]
        rr = p if p > zero else zero
        ir = imp[i] * rr
        acc += ir * rr
        g = coef * ir
        Pe[i] = g
        gbk[i] += g
    total = float(acc)
    for q in range(q0, q1):
        c = cols[q]
        p = pz[q - q0]
        rr = p if p > zero else zero
        err = rr - vals[q]
        total += float(imp[c]) * float(err) * float(err)
        g = coef * imp[c] * err if p > zero else zero
        Pe[c] = g
        gbk[c] += g
    return total


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def blas_activate(P, imp, data, rows, B, chunk, s, state, flags, halted, rec, gb, add_bias, k0, k1):
    """For models k0 .. k1 - 1: P[k] (B, n) holds the pre-activations of step s (without the
    bias when ``add_bias``: added here, in the same pass): turn it into G = dL/dP in place, with
    the bias gradient gb[k]; then the loss, halting and the recorded row. One pass over P, a
    row at a time (in L1)."""
    indptr, cols, vals = data[0], data[1], data[2]
    W, b, Dt = state[0], state[1], state[2]
    use_bias, untied = flags
    global0 = chunk[1]
    n = P.shape[2]
    coef = P.dtype.type(2.0 / B)
    for k in range(k0, k1):
        Pk = P[k]
        gbk = gb[k]
        lval = np.nan
        if halted[k] < 0:
            pz = np.empty(n, P.dtype)
            bias = b[k] if add_bias else np.zeros(n, P.dtype)
            gbk[:] = 0.0
            total = 0.0
            for e in range(B):
                r = rows[k, e]
                total += _activate_row(Pk[e], bias, imp, indptr[r], indptr[r + 1], cols, vals, coef, pz, gbk)
            lval = total / B
            Dk = Dt[k] if untied else W[k]
            if not (math.isfinite(lval) and _finite(W[k]) and _finite(b[k]) and (not untied or _finite(Dk))):
                halted[k] = global0 + s
                lval = np.nan
        r = rec[0][s]
        if r >= 0:
            _record(r, k, lval, W[k], b[k], Dt[k] if untied else W[k], use_bias, untied, rec)


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def blas_dense(data, rows, X):
    """X[k] (B, n) = the examples of rows[k], dense (X of one row when the batch is shared)."""
    indptr, cols, vals = data[0], data[1], data[2]
    for k in range(X.shape[0]):
        Xk = X[k]
        Xk[:] = 0.0
        for e in range(rows.shape[1]):
            r = rows[k, e]
            for q in range(indptr[r], indptr[r + 1]):
                Xk[e, cols[q]] = vals[q]


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def blas_update(state, data, rows, dH, gDt, gW, gb, chunk, s, opt, flags, halted, sparse_enc, gT, k0, k1):
    """For models k0 .. k1 - 1: the encoder's gradient (when ``sparse_enc``: gT[k][c, :] +=
    v dH[k][e] over the non-zeros, contiguous rows, then added transposed to gW[k] (m, n); tied:
    into gDt, the decoder's part; else it is there already) and the update of every model still
    training."""
    indptr, cols, vals = data[0], data[1], data[2]
    W, b, Dt = state[0], state[1], state[2]
    t0, _, lrs = chunk
    use_bias, untied = flags
    for k in range(k0, k1):
        if halted[k] >= 0:
            continue
        kd = np.int64(k) if untied else np.int64(0)
        g = gW[k] if untied else gDt[k]
        if sparse_enc:
            _encoder_t(indptr, cols, vals, rows[k], dH[k], gT[k], g, untied)
        Dk = Dt[k] if untied else W[k]
        _apply(W[k], b[k], Dk, g, gb[k], gDt[k], _moments(state, k, kd), lrs[s], t0 + s + 1, opt, use_bias, untied)


@nb.njit(cache=True, fastmath=_FM, error_model="numpy", nogil=True)
def _encoder_t(indptr, cols, vals, rows, dHk, gTk, g, replace):
    """The encoder's gradient of one model over the non-zeros: gTk[c] += v dHk[e] (contiguous
    rows), then g (m, n) = gTk^T (``replace``) or += gTk^T."""
    m, n = g.shape
    gTk[:] = 0.0
    for e in range(rows.shape[0]):
        r = rows[e]
        dHe = dHk[e]
        for q in range(indptr[r], indptr[r + 1]):
            v = vals[q]
            gc = gTk[cols[q]]
            for a in range(m):
                gc[a] += v * dHe[a]
    for a in range(m):
        if replace:
            for c in range(n):
                g[a, c] = gTk[c, a]
        else:
            for c in range(n):
                g[a, c] += gTk[c, a]
