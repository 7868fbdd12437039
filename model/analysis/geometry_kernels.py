"""numba kernels of model/analysis/geometry.py, for large n: the fused one-hot probes and
the zone areas (no Qt, no torch).

A module of its own so that importing model.analysis.geometry costs no numba: geometry
runs these only above ``geometry.NUMPY_MAX_N`` features, where they beat numpy
by far (no n x n temporaries); below it the same sums in numpy are cheaper
than importing numba and loading a kernel from its on-disk cache (cache=True:
compiled once per machine, about a second to load in a fresh process).
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

# Branch-free inner loops (a dead j adds -inf to its value instead of branching):
# the data-dependent branches of a plain loop cost ~8 ns per (i, j) pair.
# Serial on purpose: the probe runs beside the training worker's parallel
# kernels, and numba's workqueue layer (the fallback where no OpenMP/TBB
# runtime exists) aborts on concurrent parallel launches from two threads.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}  # no nnan/ninf: -inf is used


@nb.njit(cache=True, fastmath=_FASTMATH, nogil=True)
def _probe_kernel2(D, Wt, b, imp, neg, selfa, other, loss_rows):  # pragma: no cover - compiled
    n = D.shape[0]
    for i in range(n):
        w0 = Wt[i, 0]
        w1 = Wt[i, 1]
        best = -np.inf
        acc = 0.0
        for j in range(i):
            p = D[j, 0] * w0 + D[j, 1] * w1 + b[j]
            pp = max(p, 0.0)
            acc += imp[j] * pp * pp
            best = max(best, p + neg[j])
        for j in range(i + 1, n):
            p = D[j, 0] * w0 + D[j, 1] * w1 + b[j]
            pp = max(p, 0.0)
            acc += imp[j] * pp * pp
            best = max(best, p + neg[j])
        p = D[i, 0] * w0 + D[i, 1] * w1 + b[i]
        selfa[i] = p
        o = max(p, 0.0) - 1.0
        acc += imp[i] * o * o
        other[i] = best
        loss_rows[i] = acc


@nb.njit(cache=True, nogil=True)
def _probe_kernel(D, Wt, b, imp, neg, selfa, other, loss_rows):  # pragma: no cover - compiled
    n, m = D.shape
    for i in range(n):
        best = -np.inf
        acc = 0.0
        for j in range(n):
            p = 0.0
            for q in range(m):
                p += D[j, q] * Wt[i, q]
            p += b[j]
            if j == i:
                selfa[i] = p
                o = max(p, 0.0) - 1.0
                acc += imp[j] * o * o
            else:
                pp = max(p, 0.0)
                acc += imp[j] * pp * pp
                best = max(best, p + neg[j])
        other[i] = best
        loss_rows[i] = acc



@nb.njit(cache=True, nogil=True)
def zone_area_kernel(V, A, b, lo, cnt, out):  # pragma: no cover - compiled
    # see zone_areas: per feature, the shoelace of its clipped polygon summed edge by edge
    N = V.shape[0]
    for k in range(A.shape[0]):
        c = cnt[k]
        if c <= 0:
            continue
        ax = A[k, 0]
        ay = A[k, 1]
        bk = b[k]
        an = math.sqrt(ax * ax + ay * ay)
        if c >= N:
            first = 0
            L = N
        else:
            first = lo[k] - 1
            L = c + 1
        acc = 0.0
        for e in range(L):
            ip = (first + e) % N
            iq = (ip + 1) % N
            px = V[ip, 0]
            py = V[ip, 1]
            qx = V[iq, 0]
            qy = V[iq, 1]
            sp = ax * px + ay * py + bk
            sq = ax * qx + ay * qy + bk
            inp = sp > 0
            inq = sq > 0
            if inp and inq:
                acc += px * qy - py * qx
            elif inp != inq:
                t = sp / (sp - sq)
                xx = px + t * (qx - px)
                xy = py + t * (qy - py)
                tl = (-ay * xx + ax * xy) / an
                if inp:
                    acc += px * xy - py * xx - tl * (-bk / an)
                else:
                    acc += xx * qy - xy * qx + tl * (-bk / an)
        out[k] = abs(0.5 * acc)
