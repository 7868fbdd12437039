"""Is a snapshot a local minimum, a saddle, on a ReLU kink, or still moving? (no Qt)

``local_optimum(snapshot, objective)`` measures, in float64 with torch autograd,
the gradient of the training loss and its curvature in the lowest directions,
and says what kind of point the snapshot is (first match wins):

- ``kink``: some pre-activation on the data sits at 0 (within rounding), where
  the loss is not twice differentiable: the curvature there depends on which
  side one moves to, so one-sided curvatures along the lowest direction are
  given instead of a Hessian value that depends on ReLU'(0) (the Hessian's
  eigenvalues are still reported, with torch's convention ReLU'(0) = 0), and
  ``kink_kind`` says what the one-sided model of the loss says (below);
- ``moving``: the gradient still dominates (criterion below); the escape then
  describes the downhill direction -g;
- ``saddle``: a curvature below -tol; the escape is the lowest eigenvector,
  described by the features it moves (1-based, e.g. "mostly W_7 along W_6");
- ``minimum``: every remaining curvature >= -tol; flat directions (zero
  curvature: zero-loss manifolds, the "wiggle room" of exact solutions) are
  counted, and a minimum with some is called degenerate.

Kink points (exact path). Along a direction d, each pre-activation P_k at 0 turns on when a_k.d > 0
(a_k its gradient) and adds w_k (ReLU(P_k) - y_k)^2 (y_k its target, w_k = importance / examples); the
rest is the smooth piece with every kinked P_k off (gradient g, Hessian H). So, to second order,
L(theta + t d) = L + t (g.d + sum_k -2 y_k w_k ReLU(a_k.d)) + t^2 / 2 (d.H.d + sum_k 2 w_k ReLU(a_k.d)^2),
one-sided directional derivatives that depend on which kinks d crosses. ``kink_kind``:
``descent`` when the first-order part is negative for some unit d (beyond the gradient's rounding floor);
else ``nonsmooth_saddle`` when Q(d) = d.H.d + sum 2 w_k ReLU(a_k.d)^2 is negative for some unit d (beyond
the curvature tolerance: ``descent_curvature`` is its minimum, found by projected gradient descent on the
sphere from the smooth piece's lowest eigenvectors and seeded random starts, ``descent_measured`` the
same number from the true loss at a small t); else ``minimum`` (up to the symmetries; flat directions
are the zero-loss moves). A non-smooth saddle is one gradient descent need not follow: the smooth piece's
flat directions (zero curvature, and zero gradient at a stationary point) feel no force, so gradient
flow never moves the model along them. ``driven_curvature`` is Q's minimum off those flat directions;
``gd_follows`` is whether it is negative too. When it is not, the descent exists only through a flat
direction (``flat_share`` of it, described in ``flat_escape``: for the seed's limit point, the hexagon
growing with its biases), and a model that has not already moved along it stays (the seed's SGD run);
one that has (the hexagon at r^2 = 2.2) escapes.

Parameters. theta = (W (m, n), b (n,) unless the run has no bias, M (n, m) when
untied). The loss is ``Objective.torch_loss`` of model/analysis/probe.py, the very
function training minimises (same normalisation: the mean over the examples of
sum_i I_i (ReLU(D W x + b)_i - x_i)^2; one-hot data is the identity matrix),
plus (l2 / 2)|theta|^2 when the run's optimiser adds coupled L2 decay
(``coupled_l2``).

Symmetries set aside. The loss depends on (W, M) only through D W: W -> R W
(and M -> M R^-1 untied) leaves it unchanged, so the curvature along the generators
is zero whatever the model and says nothing about it. Tied models (D = W^T):
R orthogonal, m(m - 1)/2 generators A W with A = E_ab - E_ba (J W for m = 2).
Untied: any invertible R, m^2 generators (A W, -M A) with A = E_ab. The
Hessian is projected onto the orthogonal complement of these tangent vectors
(their numerical rank is reported: W = 0 has none) before its eigenvalues are
taken: exactly (``torch.autograd.functional.hessian`` then ``eigh`` of the
projected matrix) when there are at most ``exact_max_params`` parameters, else
by Lanczos (``scipy.sparse.linalg.eigsh``, which="SA") on Hessian-vector
products, the tangent space shifted out of the way.

Thresholds (each criterion reports its margin in ``to_dict``):

- Parameter precision u_p: a snapshot whose parameters are all float32 numbers
  (a trained model: training runs in float32) is known only to half a float32
  ulp, u_p = 2^-24; other parameters (built from cos, sin, sqrt in float64)
  to a few float64 ulps, u_p = 4 * 2^-53.
- Curvature tolerance, per eigenvalue: 2 p eps ||H||_2 (the backward error of
  a symmetric eigensolver on a p x p matrix, and the rounding of the Hessian's
  entries, sums of products of the same scale) plus u_p sum_j |d lambda / d
  theta_j| |theta_j| (how far rounding the parameters to their precision can
  move the eigenvalue, to first order; d lambda / d theta = D^3 L[v, v, .] by
  autograd), plus the Ritz residual |H v - lambda v| on the Lanczos path. A
  curvature below -tol is negative; within +-tol it is flat.
- Kink: a pre-activation P is at 0 when |P| <= (2 u_p + (m + 2) eps) S, S the
  sum of the absolute values of the terms of P (a dot product of length m plus
  b, each factor known to u_p). Pre-activations that do not depend on the
  parameters (an all-zero example without bias) and outputs of importance 0
  are no kinks of the loss.
- Moving. The local quadratic model L + g.d + d.H.d / 2 holds only within a
  validity radius r: the distance over which the curvature changes by its own
  size, |c| / |grad c| (c = v.H.v along the direction v, grad c = D^3 L[v, v,
  .]), and never past the nearest ReLU kink (min |P| / |grad P| over the
  data). Along a direction with curvature c and gradient component g_v, a step
  of the size the curvature allows (r) changes the loss by |g_v| r to first
  order and by |c| r^2 / 2 to second: the point is moving when the first order
  still wins, |g_v| > |c| r / 2, i.e. when the quadratic model's critical point
  |g_v| / |c| lies beyond r / 2. Tested along the gradient itself and along
  each of the k lowest eigenvectors; along a flat direction (no critical point)
  any gradient component above the rounding floor (u_p + p eps) ||H||_2
  |theta| (the gradient a stationary point shows once its parameters are
  rounded) is movement.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..snapshot import Snapshot

if TYPE_CHECKING:
    from ..config import TrainConfig
    from .probe import Objective

EPS = float(np.finfo(np.float64).eps)
#: Half an ulp of float32: the precision of a trained (float32) parameter.
FLOAT32_UNIT = 2.0 ** -24
#: A few float64 ulps: parameters computed in float64 from cos, sin, sqrt.
FLOAT64_UNIT = 4 * 2.0 ** -53
#: One-sided finite differences across a kink: step (times max(1, |theta|)),
#: halved once for Richardson extrapolation of the second difference.
FD_STEP = 1e-3
KINDS = ("minimum", "saddle", "kink", "moving")
#: Exact Hessian up to this many parameters, Lanczos above. The exact Hessian costs p
#: Hessian-vector products (each O(T n m)), Lanczos a few hundred: at n = 300, m = 2
#: (p = 900) the exact path took 6-15 s and Lanczos 2 s on two shared cores; at n = 100
#: (p = 300) both take under 3 s.
EXACT_MAX_PARAMS = 600
TOLERANCE_KEYS = ("curvature_tol", "kink_tol", "param_unit", "fd_step")
#: The escape description names parts until they hold this share of |v|^2 (at most MAX_PARTS).
DESCRIBE_SHARE = 0.9
MAX_PARTS = 3
#: A part of the direction is "along" a reference direction when |cos| >= this.
ALONG_COS = 0.9
#: The one-sided model at a kink is minimised on the unit sphere by projected gradient descent from the
#: lowest NS_EIGEN_STARTS eigenvectors of the smooth piece (both signs) and NS_RANDOM_STARTS random unit
#: vectors (seeded: the same point gives the same answer), each for at most NS_ITERS steps of 1 / Lipschitz.
NS_EIGEN_STARTS = 8
NS_RANDOM_STARTS = 24
NS_ITERS = 3000
NS_SEED = 0x6B1
KINK_KINDS = ("minimum", "nonsmooth_saddle", "descent")


def coupled_l2(config: TrainConfig) -> float:
    """The L2 coefficient the run's optimiser adds to the gradient (SGD and Adam
    with weight decay: their fixed points are stationary points of L + wd/2 |theta|^2;
    AdamW's decoupled decay is no term of any loss)."""
    return float(config.effective_weight_decay) if config.optimizer in ("sgd", "adam") else 0.0


# ----------------------------------------------------------------------------
# result

@dataclass
class OptimumResult:
    grad_norm: float
    lowest_curvatures: list[float]  # the k lowest, symmetries set aside
    kind: str  # "minimum" | "saddle" | "kink" | "moving"
    escape: str  # 1-based; "" for a minimum
    loss: float = float("nan")
    method: str = "exact"  # "exact" | "lanczos"
    n_params: int = 0
    n_symmetries: int = 0  # tangent directions set aside
    n_flat: int = 0
    n_flat_lower_bound: bool = False  # Lanczos: only the k computed are counted
    n_negative: int = 0
    curvature_tols: list[float] = field(default_factory=list)
    hessian_norm: float = float("nan")
    param_precision: str = "float64"
    # moving
    grad_curvature: float = float("nan")  # g.H.g / |g|^2
    newton_distance: float = float("nan")  # |g| / |c_g|
    validity_radius: float = float("nan")
    moving_ratio: float = float("nan")  # the largest of newton distance / (r / 2) over the tested directions
    grad_floor: float = float("nan")
    loss_drop: float = float("nan")  # what the quadratic model lets the loss fall along -g within the radius
    radius_from_kink: bool = False  # the validity radius is the distance to the nearest ReLU kink
    # kinks
    kink_count: int = 0
    kink_entries: list[tuple[int, int]] = field(default_factory=list)  # (output, example), 1-based, at most 20
    kink_margin: float = float("inf")  # min |P| / tol_P
    kink_distance: float = float("inf")  # min |P| / |grad P| (parameter-space distance to the nearest kink)
    one_sided: dict[str, float] | None = None
    # the one-sided model at a kink (exact path): "minimum" | "nonsmooth_saddle" | "descent" ("" elsewhere)
    kink_kind: str = ""
    first_order_slope: float = float("nan")  # min over unit d of the one-sided slope
    descent_curvature: float = float("nan")  # min over unit d of the one-sided curvature Q(d)
    curvature_tol_q: float = float("nan")
    descent_measured: float = float("nan")  # 2 (L(t d) - L) / t^2 along the descent, from the true loss
    driven_curvature: float = float("nan")  # min of Q off the flat directions of the smooth piece
    gd_follows: bool | None = None  # a non-smooth saddle: whether gradient descent can follow the descent
    flat_share: float = float("nan")  # the share of |d|^2 along those flat directions
    flat_direction: np.ndarray | None = None
    flat_escape: str = ""
    # the direction the escape describes (unit; lowest eigenvector, or -g when moving)
    direction_W: np.ndarray | None = None
    direction_b: np.ndarray | None = None
    direction_M: np.ndarray | None = None
    escape_parts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def negative_margin(self) -> float:
        """lambda_min / tol_min: below -1 is a negative curvature."""
        if not self.lowest_curvatures:
            return float("nan")
        return self.lowest_curvatures[0] / self.curvature_tols[0] if self.curvature_tols[0] > 0 else float("-inf")

    def to_dict(self) -> dict:
        def f(x):
            x = float(x)
            return x if math.isfinite(x) else None
        return {
            "grad_norm": f(self.grad_norm), "lowest_curvatures": [f(c) for c in self.lowest_curvatures],
            "kind": self.kind, "escape": self.escape, "loss": f(self.loss), "method": self.method,
            "n_params": int(self.n_params), "n_symmetries": int(self.n_symmetries), "n_flat": int(self.n_flat),
            "n_flat_lower_bound": bool(self.n_flat_lower_bound), "n_negative": int(self.n_negative),
            "curvature_tols": [f(c) for c in self.curvature_tols], "negative_margin": f(self.negative_margin),
            "hessian_norm": f(self.hessian_norm), "param_precision": self.param_precision,
            "grad_curvature": f(self.grad_curvature), "newton_distance": f(self.newton_distance),
            "validity_radius": f(self.validity_radius), "moving_ratio": f(self.moving_ratio),
            "grad_floor": f(self.grad_floor), "loss_drop": f(self.loss_drop),
            "radius_from_kink": bool(self.radius_from_kink),
            "kink_count": int(self.kink_count), "kink_entries": [list(e) for e in self.kink_entries],
            "kink_margin": f(self.kink_margin), "kink_distance": f(self.kink_distance),
            "one_sided": None if self.one_sided is None else {k: f(v) for k, v in self.one_sided.items()},
            "kink_kind": self.kink_kind or None, "first_order_slope": f(self.first_order_slope),
            "descent_curvature": f(self.descent_curvature), "curvature_tol_q": f(self.curvature_tol_q),
            "descent_measured": f(self.descent_measured), "driven_curvature": f(self.driven_curvature),
            "gd_follows": self.gd_follows, "flat_share": f(self.flat_share), "flat_escape": self.flat_escape,
            "escape_parts": [dict(p) for p in self.escape_parts],
        }

    def describe(self) -> str:
        """One or two lines for the CLI."""
        c = self.lowest_curvatures
        low = ", ".join(f"{x:.3g}" for x in c[:4]) + (" …" if len(c) > 4 else "")
        sym = (f"{self.n_symmetries} symmetry direction{'s' if self.n_symmetries != 1 else ''} set aside"
               if self.n_symmetries else "no symmetry direction to set aside")
        flat = (f"{'at least ' if self.n_flat_lower_bound else ''}{self.n_flat} flat direction"
                f"{'s' if self.n_flat != 1 else ''}")
        if self.kind == "moving":
            where = (f"; a ReLU kink {self.validity_radius:.3g} away bounds it, and the loss can fall by about "
                     f"{self.loss_drop:.2g} before it" if self.radius_from_kink else "")
            return (f"moving: gradient {self.grad_norm:.3g} (ratio {self.moving_ratio:.3g} to the threshold): "
                    f"the local quadratic model does not reach a critical point within half the distance over "
                    f"which it holds{where}" + (f"\n  downhill: {self.escape}" if self.escape else ""))
        if self.kind == "kink":
            o = self.one_sided or {}
            first = (f"on a ReLU kink: {self.kink_count} pre-activation{'s' if self.kink_count != 1 else ''} at 0 "
                     f"(gradient {self.grad_norm:.3g}, loss {self.loss:.6g})")
            if c:
                first += f"; with them off the lowest curvature is {c[0]:.3g}"
            if self.kink_kind:
                return first + "\n  " + self.kink_text(sym, flat)
            if not o:
                return first
            side = (f"\n  along the lowest direction: curvature {o['curvature_minus']:.4g} for t < 0, "
                    f"{o['curvature_plus']:.4g} for t > 0 (slopes {o['slope_minus']:.3g}, {o['slope_plus']:.3g})")
            return first + side + (f"; loss falls along {self.escape}" if self.escape else "; loss rises both ways")
        if self.kind == "saddle":
            return (f"saddle: {self.n_negative} negative curvature{'s' if self.n_negative != 1 else ''} "
                    f"(lowest {c[0]:.4g}; tolerance {self.curvature_tols[0]:.2g}), gradient {self.grad_norm:.3g}; "
                    f"{sym}\n  escape: {self.escape}")
        deg = f"degenerate, {flat}" if self.n_flat else "strict (no flat direction)"
        return (f"local minimum, {deg}: lowest curvatures {low}; gradient {self.grad_norm:.3g}; {sym}")

    def kink_text(self, sym: str = "", flat: str = "") -> str:
        """What the one-sided model at a kink says, in words (the exact path)."""
        if self.kink_kind == "descent":
            return (f"not stationary across the kink: the loss falls at first order along {self.escape} "
                    f"(one-sided slope {self.first_order_slope:.3g})")
        if self.kink_kind == "minimum":
            return (f"a minimum up to its symmetries: along every direction, kinks crossed to either side, the loss "
                    f"rises or stays flat (lowest one-sided curvature {self.descent_curvature:.3g}, tolerance "
                    f"{self.curvature_tol_q:.2g}; {flat}; {sym})")
        head = (f"non-smooth saddle: descent along {self.escape} exists (L - L0 = {0.5 * self.descent_curvature:.3g} "
                f"t^2 per unit step; measured {0.5 * self.descent_measured:.3g})")
        if self.gd_follows:
            return head + (f"; gradient descent can follow it: off the flat directions the one-sided curvature still "
                           f"falls to {self.driven_curvature:.3g}")
        return head + (f", gradient descent does not follow it because {100 * self.flat_share:.0f}% of it lies along "
                       f"flat directions ({self.flat_escape}): no gradient and no curvature there, so nothing moves "
                       f"the model along them; along every other direction a kink is crossed and the loss rises "
                       f"(lowest one-sided curvature {self.driven_curvature:.3g})")


# ----------------------------------------------------------------------------
# parameters

class _Params:
    """theta = (W.ravel(), b if bias, M.ravel() if untied) as one float64 vector."""

    def __init__(self, snap: Snapshot, bias: bool):
        self.m, self.n = snap.m, snap.n
        self.bias = bool(bias)
        M = snap.M
        self.untied = M is not None
        self.b0 = snap.b if not self.bias else None
        parts = [snap.W.ravel()] + ([snap.b] if self.bias else []) + ([M.ravel()] if M is not None else [])
        self.theta = np.ascontiguousarray(np.concatenate(parts).astype(np.float64))
        self.p = self.theta.size
        mn = self.m * self.n
        self.sW = slice(0, mn)
        self.sb = slice(mn, mn + self.n) if self.bias else None
        off = mn + (self.n if self.bias else 0)
        self.sM = slice(off, off + mn) if self.untied else None

    def split(self, v):
        """(W (m, n), b (n,), M (n, m) or None) views of a vector or tensor laid out like theta."""
        W = v[self.sW].reshape(self.m, self.n)
        if self.bias:
            b = v[self.sb]
        else:  # no bias: b stays what the snapshot holds (zeros), a constant
            b = _torch().from_numpy(self.b0) if hasattr(v, "requires_grad") else self.b0
        M = v[self.sM].reshape(self.n, self.m) if self.untied else None
        return W, b, M

    def tangents(self) -> np.ndarray:
        """(p, g) generators of the latent-space symmetry at theta (columns, unnormalised)."""
        W, _, M = self.split(self.theta)
        m = self.m
        gens = []
        pairs = [(a, c) for a in range(m) for c in range(m)] if self.untied else \
            [(a, c) for a in range(m) for c in range(a + 1, m)]
        for a, c in pairs:
            A = np.zeros((m, m))
            A[a, c] = 1.0
            if not self.untied:
                A[c, a] = -1.0
            t = np.zeros(self.p)
            t[self.sW] = (A @ W).ravel()
            if self.untied:
                t[self.sM] = (-(M @ A)).ravel()
            gens.append(t)
        return np.stack(gens, axis=1) if gens else np.zeros((self.p, 0))


def _torch():
    import torch
    return torch


def _param_unit(snap: Snapshot) -> tuple[float, str]:
    arrays = [snap.W, snap.b] + ([snap.M] if snap.M is not None else [])
    if all(np.array_equal(a.astype(np.float32).astype(np.float64), a) for a in arrays):
        return FLOAT32_UNIT, "float32"
    return FLOAT64_UNIT, "float64"


class _Loss:
    """theta -> loss as torch float64, with gradient, Hessian-vector products and
    the gradient of a curvature v.H.v (third derivatives)."""

    def __init__(self, params: _Params, objective, l2: float, off=None):
        self.P = params
        self.obj = objective
        self.l2 = float(l2)
        self.off = off  # (examples, n) bool tensor of pre-activations held off, or None

    def __call__(self, theta):
        W, b, M = self.P.split(theta)
        L = self.obj.torch_loss(W, b, M, off=self.off)
        if self.l2:
            L = L + 0.5 * self.l2 * (theta * theta).sum()
        return L

    def value(self, theta_np) -> float:
        torch = _torch()
        with torch.no_grad():
            return float(self(torch.from_numpy(np.asarray(theta_np, dtype=np.float64))))

    def grad(self, theta_np) -> np.ndarray:
        torch = _torch()
        th = torch.from_numpy(theta_np.copy()).requires_grad_(True)
        (g,) = torch.autograd.grad(self(th), th)
        return g.numpy().copy()

    def hessian(self, theta_np) -> np.ndarray:
        """The exact Hessian, row blocks at a time: forward-over-reverse Hessian-vector
        products of the unit vectors, vmapped in chunks sized so the batched
        intermediates (a few (examples x n) arrays per product) stay near 256 MB."""
        torch = _torch()
        th = torch.from_numpy(theta_np.copy())
        p = th.numel()
        T = self.P.n if self.obj.X is None else self.obj.X.shape[0]
        chunk = int(max(1, min(p, 256e6 // (8 * 16 * max(T * self.P.n, 1)))))
        grad = torch.func.grad(self)

        def hvp(v):
            return torch.func.jvp(grad, (th,), (v,))[1]
        batched = torch.func.vmap(hvp, chunk_size=chunk)
        H = np.empty((p, p))
        for s in range(0, p, chunk * 8):
            e = min(p, s + chunk * 8)
            E = torch.zeros(e - s, p, dtype=torch.float64)
            E[torch.arange(e - s), torch.arange(s, e)] = 1.0
            H[s:e] = batched(E).numpy()
        return 0.5 * (H + H.T)

    def hvp_factory(self, theta_np):
        """v -> H v at theta, reusing one graph of the gradient."""
        torch = _torch()
        th = torch.from_numpy(theta_np.copy()).requires_grad_(True)
        (g,) = torch.autograd.grad(self(th), th, create_graph=True)

        def hvp(v):
            vt = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64).reshape(-1))
            if not g.requires_grad:
                return np.zeros_like(theta_np)
            (hv,) = torch.autograd.grad(g, th, grad_outputs=vt, retain_graph=True, allow_unused=True)
            return np.zeros_like(theta_np) if hv is None else hv.numpy().copy()
        return hvp

    def curvature_gradient(self, theta_np, v) -> np.ndarray:
        """d/dtheta of v.H(theta).v (v fixed): D^3 L[v, v, .]."""
        torch = _torch()
        th = torch.from_numpy(theta_np.copy()).requires_grad_(True)
        vt = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64))
        (g,) = torch.autograd.grad(self(th), th, create_graph=True)
        if not g.requires_grad:
            return np.zeros_like(theta_np)
        (hv,) = torch.autograd.grad(g, th, grad_outputs=vt, create_graph=True, allow_unused=True)
        if hv is None or not hv.requires_grad:
            return np.zeros_like(theta_np)
        (d,) = torch.autograd.grad((hv * vt).sum(), th, allow_unused=True)
        return np.zeros_like(theta_np) if d is None else d.numpy().copy()


# ----------------------------------------------------------------------------
# pre-activations and kinks

def _preactivation_stats(snap: Snapshot, objective, bias: bool, unit: float, tol_abs: float | None = None):
    """Pre-activations P (examples x outputs) that depend on the parameters, with
    their rounding tolerance (or ``tol_abs``) and the parameter-space norm of their gradient.

    Returns (min |P| / tol, (example, output) index arrays of the entries on a kink,
    nearest kink distance over the entries not on a kink, count on a kink, distance over all)."""
    W, b = snap.W, snap.b
    m, n = W.shape
    D = snap.decoder
    X = np.eye(n) if objective.X is None else objective.X
    imp = objective.importance
    outs = np.ones(n, dtype=bool) if imp is None else (np.asarray(imp) != 0)
    coef = 2 * unit + (m + 2) * EPS
    absW, absD, absb = np.abs(W), np.abs(D), np.abs(b)
    colW2 = np.einsum("ai,ai->i", W, W)  # |W_i|^2
    rowD2 = np.einsum("ia,ia->i", D, D)
    T = X.shape[0]
    blk = max(1, 2_000_000 // max(n, 1))
    margin, dist_other, dist_all, count = math.inf, math.inf, math.inf, 0
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for s in range(0, T, blk):
        Xs = X[s:s + blk]
        H = Xs @ W.T  # (t, m)
        P = H @ D.T + b  # (t, n)
        if tol_abs is None:
            tol = coef * ((np.abs(Xs) @ absW.T) @ absD.T + absb)
        else:
            tol = np.full(P.shape, float(tol_abs))
        x2 = np.einsum("tj,tj->t", Xs, Xs)
        h2 = np.einsum("ta,ta->t", H, H)
        if snap.M is None:  # |grad P_ti|^2 = |W_i|^2 |x|^2 + 2 x_i W_i.h + |h|^2 (+ 1 for b_i)
            g2 = colW2[None, :] * x2[:, None] + 2 * Xs * (H @ W) + h2[:, None]
        else:  # |h|^2 + |M_i|^2 |x|^2 (+ 1)
            g2 = h2[:, None] + rowD2[None, :] * x2[:, None]
        if bias:
            g2 = g2 + 1.0
        live = (g2 > 0) & outs[None, :]
        absP = np.abs(P)
        on = live & (absP <= tol)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(live & (tol > 0), absP / tol, np.where(live & (absP == 0), 0.0, np.inf))
            dist = np.where(live, absP / np.sqrt(np.maximum(g2, 1e-300)), np.inf)
        if ratio.size:
            margin = min(margin, float(ratio.min()))
            dist_all = min(dist_all, float(dist.min()))
            d_off = np.where(on, np.inf, dist)
            dist_other = min(dist_other, float(d_off.min()))
        c = int(on.sum())
        if c:
            count += c
            ti, ii = np.nonzero(on)
            rows.append(ti + s)
            cols.append(ii)
    idx = (np.concatenate(rows), np.concatenate(cols)) if rows else (np.zeros(0, int), np.zeros(0, int))
    return margin, idx, dist_other, count, dist_all


# ----------------------------------------------------------------------------
# describing a direction in the seed's words

def describe_direction(snap: Snapshot, dW: np.ndarray, db: np.ndarray | None, dM: np.ndarray | None,
                       share: float = DESCRIBE_SHARE, max_parts: int = MAX_PARTS) -> tuple[str, list[dict[str, Any]]]:
    """(text, parts) for a unit direction in parameter space, 1-based feature numbers.

    Each feature's W part is named by the reference it lies closest to (|cos| >=
    ALONG_COS): another feature's W_j ("W_7 along W_6" / "against W_6"), its own W_i
    ("W_3 outward" / "inward"), its own tangent for m = 2 ("W_3 turning
    counter-clockwise"); else its angle in the latent plane. The number is the
    component along that reference (or the part's length). Bias parts: "b_7 (+0.2)".
    """
    W = snap.W
    m, n = W.shape
    nrm = np.linalg.norm(W, axis=0)
    big = nrm > max(1e-9, 1e-6 * (float(nrm.max()) if n else 0.0))
    units = np.where(big[None, :], W / np.where(big, nrm, 1.0)[None, :], 0.0)
    # (kind "W" | "b" | "M", feature, squared length, the part: a vector, or b's one number)
    parts: list[tuple[str, int, float, float | np.ndarray]] = []
    for i in range(n):
        w = dW[:, i]
        a = float(np.linalg.norm(w))
        if a > 0:
            parts.append(("W", i, a * a, w))
        if db is not None and db[i] != 0:
            parts.append(("b", i, float(db[i]) ** 2, float(db[i])))
        if dM is not None:
            mm = dM[i]
            am = float(np.linalg.norm(mm))
            if am > 0:
                parts.append(("M", i, am * am, mm))
    total = sum(p[2] for p in parts) or 1.0
    parts.sort(key=lambda p: -p[2])
    chosen: list[tuple[str, int, float, float | np.ndarray]] = []
    acc = 0.0
    for p in parts:
        if len(chosen) >= max_parts or (chosen and acc >= share * total) or p[2] < 0.01 * total:
            break
        chosen.append(p)
        acc += p[2]
    out: list[dict[str, Any]] = []
    for kind, i, w2, val in chosen:
        frac = w2 / total
        if kind == "b":
            out.append({"part": f"b_{i + 1}", "feature": i + 1, "share": frac, "component": val,
                        "text": f"b_{i + 1} ({val:+.2g})"})
            continue
        name = f"{kind}_{i + 1}"
        v = np.asarray(val, dtype=np.float64)
        length = float(np.linalg.norm(v))
        u = v / length
        text, comp = None, length
        if kind == "W":
            best: tuple[float, str | None, int | None] = (0.0, None, None)  # (cos, label, j)
            for j in range(n):
                if not big[j]:
                    continue
                cth = float(u @ units[:, j])
                label = ("outward" if cth > 0 else "inward") if j == i else \
                    (f"along W_{j + 1}" if cth > 0 else f"against W_{j + 1}")
                if abs(cth) > abs(best[0]) + 1e-12:
                    best = (cth, label, j)
            if m == 2 and big[i]:
                tang = np.array([-units[1, i], units[0, i]])
                cth = float(u @ tang)
                if abs(cth) > abs(best[0]) + 1e-12:
                    best = (cth, "turning counter-clockwise" if cth > 0 else "turning clockwise", i)
            if best[1] is not None and abs(best[0]) >= ALONG_COS:
                text, comp = f"{name} {best[1]}", abs(best[0]) * length
            elif m == 2:
                text = f"{name} at {math.degrees(math.atan2(u[1], u[0])):.0f}°"
        if text is None:
            text = name
        out.append({"part": name, "feature": i + 1, "share": frac, "component": comp,
                    "text": f"{text} ({comp:.2g})"})
    if not out:
        return "", out
    words = [p["text"] for p in out]
    if out[0]["share"] >= 0.5:
        text = "mostly " + words[0] + ("" if len(words) == 1 else ", and " + ", ".join(words[1:]))
    else:
        text = ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]
    return text, out


# ----------------------------------------------------------------------------
# the test

def _check_tolerances(tolerances: dict) -> dict:
    bad = [k for k in tolerances if k not in TOLERANCE_KEYS]
    if bad:
        raise ValueError(f"unknown tolerance {bad[0]!r}; allowed: {', '.join(TOLERANCE_KEYS)}")
    for k, v in tolerances.items():
        if v is not None and not (math.isfinite(float(v)) and float(v) > 0):
            raise ValueError(f"tolerance {k} must be a finite number > 0, got {v!r}")
    return tolerances


def _lanczos(hvp, p: int, k: int, U: np.ndarray):
    """The k lowest eigenpairs of H on the complement of span(U) (U orthonormal)."""
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    def proj(v):
        return v - U @ (U.T @ v) if U.shape[1] else v

    def op0(v):
        v = np.asarray(v).reshape(-1)
        return proj(hvp(proj(v)))

    A0 = LinearOperator((p, p), matvec=op0, dtype=np.float64)
    lam_max = float(abs(eigsh(A0, k=1, which="LM", tol=1e-3, return_eigenvectors=False)[0]))
    sigma = 2.0 * lam_max + 1.0  # the symmetry directions get curvature sigma: out of the lowest k

    def op(v):
        v = np.asarray(v).reshape(-1)
        out = op0(v)
        if U.shape[1]:
            out = out + sigma * (U @ (U.T @ v))
        return out

    A = LinearOperator((p, p), matvec=op, dtype=np.float64)
    ncv = min(p, max(2 * k + 1, 40))
    try:
        lam, V = eigsh(A, k=k, which="SA", tol=0.0, ncv=ncv, maxiter=max(1000, 20 * p))
    except ArpackNoConvergence as exc:  # keep the pairs that converged; their residuals say how well
        lam, V = exc.eigenvalues, exc.eigenvectors
        if lam is None or len(lam) == 0:
            raise RuntimeError(f"Lanczos found none of the {k} lowest curvatures of {p} parameters; "
                               "try a smaller k or the exact Hessian (exact_max_params)") from None
        k = len(lam)
    order = np.argsort(lam)
    lam, V = lam[order], V[:, order]
    res = np.array([float(np.linalg.norm(op(V[:, i]) - lam[i] * V[:, i])) for i in range(k)])
    return lam, V, res, lam_max


def local_optimum(snapshot: Snapshot, objective: Objective | None = None, k: int = 6, exact_max_params: int = EXACT_MAX_PARAMS, *,
                  bias: bool = True, l2: float = 0.0, symmetries: bool = True, threads: int | None = None,
                  **tolerances: float | None) -> OptimumResult:
    """Gradient, lowest curvatures (symmetries set aside) and the kind of point (see the module doc).

    objective: model/analysis/probe.py's Objective (default: one-hot data with the snapshot's
    importance). bias=False: the run has no bias (b is no parameter). l2: coupled L2
    decay of the optimiser (``coupled_l2(config)``). symmetries=False keeps the
    symmetry directions in (for checking that they are flat). tolerances override the
    derived ones: curvature_tol (absolute), kink_tol (absolute, on pre-activations),
    param_unit (relative precision of the parameters), fd_step. threads: torch's
    intra-op threads for this call (restored after); small models run fastest on 1.
    """
    if threads is None:
        return _local_optimum(snapshot, objective, k, exact_max_params, bias, l2, symmetries, tolerances)
    torch = _torch()
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        return _local_optimum(snapshot, objective, k, exact_max_params, bias, l2, symmetries, tolerances)
    finally:
        torch.set_num_threads(before)


def _symmetry_basis(params: _Params, tnorm: float, symmetries: bool) -> np.ndarray:
    """(p, s) orthonormal basis of the span of the symmetry tangents (s = 0 when set aside or none)."""
    if symmetries:
        Tg = params.tangents()
        if Tg.shape[1]:
            Uu, Ss, _ = np.linalg.svd(Tg, full_matrices=False)
            return Uu[:, Ss > 64 * EPS * max(tnorm, 1.0)]
    return np.zeros((params.p, 0))


@dataclass
class _Spectrum:
    """The kk lowest curvatures off the symmetries and what they were measured with."""

    lam: np.ndarray         # (kk,)
    V: np.ndarray           # (p, kk) their directions
    res: np.ndarray         # (kk,) residuals (0 when exact)
    Hn: float               # |H| (the largest |eigenvalue|, or Lanczos's estimate)
    lam_all: np.ndarray     # every eigenvalue off the symmetries when exact, else lam
    hvp: Any                # v -> H v
    method: str             # "exact" | "lanczos"
    exact: bool
    V_all: np.ndarray | None = None  # (p, p - s) every eigenvector off the symmetries (exact only)


def _spectrum(loss: _Loss, theta: np.ndarray, U: np.ndarray, kk: int, exact: bool) -> _Spectrum:
    """The lowest curvatures on the complement of span(U): exact Hessian or Lanczos."""
    p, s = theta.size, U.shape[1]
    if not exact:
        hvp = loss.hvp_factory(theta)
        lam, V, res, Hn = _lanczos(hvp, p, kk, U)
        return _Spectrum(lam, V, res, Hn, lam, hvp, "lanczos", False)
    H = loss.hessian(theta)
    if s:
        Qf, _ = np.linalg.qr(U, mode="complete")
        N = Qf[:, s:]
    else:
        N = np.eye(p)
    lam_all, Y = np.linalg.eigh(N.T @ H @ N)
    Hn = float(np.max(np.abs(lam_all))) if lam_all.size else 0.0
    V_all = N @ Y
    return _Spectrum(lam_all[:kk], V_all[:, :kk], np.zeros(kk), Hn, lam_all, lambda v: H @ v, "exact", True, V_all)


def _moving_ratios(loss: _Loss, theta, g, sp: _Spectrum, curv_tols, grad_l, dist_other: float, unit: float,
                   tol_round: float, grad_floor: float) -> tuple[list[float], dict[str, Any]]:
    """Along -g and each lowest direction: the Newton step against half the radius where the quadratic
    model holds (or the gradient against its floor where the curvature is flat). Returns the ratios and
    what the gradient direction says (grad_curvature, newton_distance, validity_radius, loss_drop,
    radius_from_kink)."""
    gnorm = float(np.linalg.norm(g))
    ratios = []
    gd = dict(grad_curvature=float("nan"), newton_distance=float("nan"), validity_radius=float("nan"),
              loss_drop=0.0, radius_from_kink=False)
    if gnorm > 0:
        gh = g / gnorm
        c_g = float(gh @ sp.hvp(gh))
        dcg = loss.curvature_gradient(theta, gh)
        tol_g = tol_round + unit * float(np.sum(np.abs(dcg * theta)))
        rho = float(np.linalg.norm(dcg))
        r_c = abs(c_g) / rho if rho > 0 else math.inf
        r_g = min(r_c, dist_other)
        t_step = r_g if c_g <= 0 else min(gnorm / c_g, r_g)
        gd.update(grad_curvature=c_g, validity_radius=r_g, radius_from_kink=dist_other <= r_c,
                  loss_drop=gnorm * t_step - 0.5 * c_g * t_step * t_step if math.isfinite(t_step) else math.inf)
        if abs(c_g) <= tol_g:
            gd["newton_distance"] = math.inf
            ratios.append(gnorm / grad_floor if grad_floor > 0 else math.inf)
        else:
            newton = gd["newton_distance"] = gnorm / abs(c_g)
            ratios.append(newton / (0.5 * r_g) if r_g > 0 else math.inf)
    lam, V = sp.lam, sp.V
    for i in range(len(lam)):
        gi = abs(float(V[:, i] @ g))
        if abs(lam[i]) <= curv_tols[i]:
            ratios.append(gi / grad_floor if grad_floor > 0 else (math.inf if gi > 0 else 0.0))
        else:
            rho = float(np.linalg.norm(grad_l[i]))
            r_i = min(abs(lam[i]) / rho if rho > 0 else math.inf, dist_other)
            ratios.append((gi / abs(lam[i])) / (0.5 * r_i) if r_i > 0 else (math.inf if gi > 0 else 0.0))
    return ratios, gd


def _classify(res_obj: OptimumResult, snapshot: Snapshot, params: _Params, true_loss: _Loss, theta, g,
              sp: _Spectrum, curv_tols, dist_other: float, fd_step: float, kink: _KinkData | None = None) -> None:
    """Set res_obj's kind (kink, moving, saddle, minimum; first match wins), its escape and direction."""
    V, tnorm, gnorm = sp.V, float(np.linalg.norm(theta)), float(np.linalg.norm(g))

    def set_direction(v):
        dW, db, dM = params.split(v)
        res_obj.direction_W = np.array(dW)
        res_obj.direction_b = np.array(db) if params.bias else None
        res_obj.direction_M = None if dM is None else np.array(dM)
        text, parts = describe_direction(snapshot, res_obj.direction_W, res_obj.direction_b, res_obj.direction_M)
        res_obj.escape_parts = parts
        return text

    if res_obj.kink_count:
        res_obj.kind = "kink"
        ns = _nonsmooth(res_obj, params, true_loss, theta, g, sp, curv_tols, kink, dist_other, fd_step) \
            if sp.exact and kink is not None else None
        v = V[:, 0] if ns is None else ns
        h0 = fd_step * max(1.0, tnorm)
        h = min(h0, dist_other / 3.0) if math.isfinite(dist_other) else h0
        res_obj.one_sided = _one_sided(true_loss, theta, v, h)
        if res_obj.kink_kind in ("descent", "nonsmooth_saddle"):
            res_obj.escape = set_direction(v)
            if res_obj.flat_direction is not None:
                fW, fb, fM = params.split(res_obj.flat_direction)
                res_obj.flat_escape = describe_direction(snapshot, np.array(fW), np.array(fb) if params.bias
                                                         else None, None if fM is None else np.array(fM))[0]
            return
        if res_obj.kink_kind == "minimum":
            set_direction(v)
            return
        o = res_obj.one_sided  # Lanczos path: the one-sided test along the lowest direction only
        tol_c = max(curv_tols[0], o["curvature_err"])
        tol_s = o["slope_err"]

        def falls(slope, curv):  # the loss falls on this side (t measured outward)
            return slope < -tol_s or (abs(slope) <= tol_s and curv < -tol_c)
        down_plus = falls(o["slope_plus"], o["curvature_plus"])
        down_minus = falls(-o["slope_minus"], o["curvature_minus"])
        if down_plus or down_minus:
            res_obj.escape = set_direction(v if down_plus else -v)
        else:
            set_direction(v)
    elif res_obj.moving_ratio > 1.0:
        res_obj.kind = "moving"
        res_obj.escape = set_direction(-g / gnorm) if gnorm > 0 else ""
    elif res_obj.n_negative:
        res_obj.kind = "saddle"
        res_obj.escape = set_direction(V[:, 0])
    else:
        res_obj.kind = "minimum"
        set_direction(V[:, 0])
        res_obj.escape = ""


# ----------------------------------------------------------------------------
# non-smooth kink points: one-sided directional derivatives

@dataclass
class _KinkData:
    """The pre-activations on a kink: their parameter gradients a_k (rows of A), targets y_k and loss
    weights w_k (importance / examples): the loss holds w_k (ReLU(P_k) - y_k)^2 for each."""

    A: np.ndarray
    y: np.ndarray
    w: np.ndarray


def _kink_data(params: _Params, objective, theta: np.ndarray, idx) -> _KinkData:
    """A (kinks, p) by reverse-mode autograd of exactly the kinked pre-activations."""
    torch = _torch()
    e_idx, o_idx = (np.asarray(i, dtype=np.int64) for i in idx)
    n = params.n
    X = np.eye(n) if objective.X is None else objective.X
    T = X.shape[0]
    imp = np.ones(n) if objective.importance is None else np.asarray(objective.importance, dtype=np.float64)
    Xk = torch.from_numpy(np.ascontiguousarray(X[e_idx], dtype=np.float64))
    oi = torch.from_numpy(o_idx)

    def f(th):
        W, b, M = params.split(th)
        b = b if hasattr(b, "requires_grad") else torch.from_numpy(np.asarray(b, dtype=np.float64))
        D = W.T if M is None else M
        return ((Xk @ W.T) * D[oi]).sum(-1) + b[oi]
    A = torch.func.jacrev(f)(torch.from_numpy(theta.copy())).numpy()
    return _KinkData(A=A.reshape(len(e_idx), -1), y=X[e_idx, o_idx].astype(np.float64), w=imp[o_idx] / T)


#: A function of the rows of X (one row a start or a direction) that gives one value or row per row.
_RowFun = Callable[[np.ndarray], np.ndarray]


def _sphere_min(fun: _RowFun, grad: _RowFun, starts: np.ndarray, lip: float,
                iters: int = NS_ITERS) -> tuple[float, np.ndarray]:
    """(value, point) of the smallest ``fun`` found on the unit sphere by projected gradient descent (step
    1 / lip) from every row of ``starts`` at once; fun is C^1 (piecewise quadratic), so each run ends near
    a local minimum. fun and grad take and give one row per start."""
    X = starts[np.linalg.norm(starts, axis=1) > 0]
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    for _ in range(iters):
        G = grad(X)
        G = G - np.sum(G * X, axis=1, keepdims=True) * X
        if float(np.max(np.abs(G))) <= 1e-13 * max(1.0, lip):
            break
        X = X - G / lip
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    vals = fun(X)
    i = int(np.argmin(vals))
    return float(vals[i]), X[i]


def _one_sided_q(lam: np.ndarray, Ae: np.ndarray, c2: np.ndarray) -> tuple[_RowFun, _RowFun]:
    """(Q, grad Q) for rows X of eigen-coordinates: Q(d) = sum lam d^2 + sum_k c2_k ReLU(a_k.d)^2, the second
    derivative of the loss along d when the first-order part vanishes."""
    return (lambda X: (X * X) @ lam + (np.maximum(X @ Ae.T, 0.0) ** 2) @ c2,
            lambda X: 2.0 * lam[None, :] * X + 2.0 * (np.maximum(X @ Ae.T, 0.0) * c2) @ Ae)


def _nonsmooth(res_obj: OptimumResult, params: _Params, true_loss: _Loss, theta, g, sp: _Spectrum, curv_tols,
               kink: _KinkData, dist_other: float, fd_step: float) -> np.ndarray | None:
    """The one-sided model of the loss at a kink point, and what it says (see the module doc). Sets res_obj's kink_kind
    and the numbers behind it; returns the direction the escape describes (None for a minimum)."""
    Vall, lam = sp.V_all, sp.lam_all
    assert Vall is not None, "the kink path runs on the exact spectrum only, which keeps V_all"
    Ae = kink.A @ Vall  # kink gradients in the eigen-coordinates of the smooth piece (symmetries set aside)
    ge = Vall.T @ g
    s1 = -2.0 * kink.y * kink.w  # first order: going on changes the loss by s1 (a.d) for a target y
    c2 = 2.0 * kink.w  # second order: w ReLU(P)^2 adds 2 w (a.d)^2 once on
    dim = len(lam)
    rng = np.random.default_rng(NS_SEED)
    tol_f = res_obj.grad_floor
    tol_q = max(max(curv_tols), 2.0 * dim * EPS * (sp.Hn + float(np.sum(c2 * np.sum(Ae * Ae, axis=1)))))
    res_obj.curvature_tol_q = tol_q
    eig = np.eye(dim)[:min(dim, NS_EIGEN_STARTS)]
    starts = np.concatenate([eig, -eig, rng.standard_normal((NS_RANDOM_STARTS, dim))])
    # first order: g.d + sum s1_k ReLU(a_k.d); descent at first order if it is negative beyond the rounding floor
    lip1 = float(np.linalg.norm(ge)) + float(np.sum(np.abs(s1) * np.linalg.norm(Ae, axis=1))) + 1e-300
    v1, x1 = _sphere_min(lambda X: X @ ge + np.maximum(X @ Ae.T, 0.0) @ s1,
                         lambda X: ge[None, :] + ((X @ Ae.T > 0) * s1) @ Ae,
                         np.concatenate([starts, -ge[None, :]]), lip1)
    res_obj.first_order_slope = v1
    if v1 < -tol_f:
        res_obj.kink_kind = "descent"
        return Vall @ x1
    lip2 = 2.0 * (float(np.max(np.abs(lam))) + float(np.sum(c2 * np.sum(Ae * Ae, axis=1)))) + 1e-300
    vq, xq = _sphere_min(*_one_sided_q(lam, Ae, c2), starts, lip2)
    res_obj.descent_curvature = vq
    if vq >= -tol_q:
        res_obj.kink_kind = "minimum"
        return None
    res_obj.kink_kind = "nonsmooth_saddle"
    d = Vall @ xq
    # the measured loss along d, t at two sizes inside the distance to the next kink off the ones at 0
    h0 = fd_step * max(1.0, float(np.linalg.norm(theta)))
    h = min(h0, dist_other / 3.0) if math.isfinite(dist_other) else h0
    L0 = true_loss.value(theta)
    res_obj.descent_measured = 2.0 * (true_loss.value(theta + 0.5 * h * d) - L0) / (0.5 * h) ** 2
    # gradient flow: the flat directions of the smooth piece feel no force (zero gradient, zero curvature)
    flat = np.abs(lam) <= max(curv_tols)
    res_obj.flat_share = float(np.sum(xq[flat] ** 2))
    if flat.any():
        res_obj.flat_direction = Vall[:, flat] @ xq[flat] / math.sqrt(max(res_obj.flat_share, 1e-300))
    if flat.all():
        res_obj.driven_curvature, res_obj.gd_follows = math.inf, False
        return d
    keep = np.nonzero(~flat)[0]
    vd, _ = _sphere_min(*_one_sided_q(lam[keep], Ae[:, keep], c2), starts[:, keep], lip2)
    res_obj.driven_curvature = vd
    res_obj.gd_follows = bool(vd < -tol_q)
    return d


def _kink_losses(snapshot: Snapshot, objective, params: _Params, l2: float, unit: float, tol_over: dict):
    """The pre-activation statistics, and the loss with the kinked pre-activations held off (at a kink
    the gradient and Hessian are those of that piece, not whatever sign their rounding takes) beside
    the true loss."""
    stats = _preactivation_stats(snapshot, objective, params.bias, unit, tol_over.get("kink_tol"))
    kink_idx, kink_count = stats[1], stats[3]
    off = None
    if kink_count:
        torch = _torch()
        T = snapshot.n if objective.X is None else objective.X.shape[0]
        off = torch.zeros((T, snapshot.n), dtype=torch.bool)
        off[torch.from_numpy(kink_idx[0]), torch.from_numpy(kink_idx[1])] = True
    return stats, _Loss(params, objective, l2), _Loss(params, objective, l2, off)


def _local_optimum(snapshot, objective, k, exact_max_params, bias, l2, symmetries, tolerances) -> OptimumResult:
    from .probe import Objective

    tol_over = _check_tolerances(dict(tolerances))
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if objective is None:
        objective = Objective(None, snapshot.importance)
    params = _Params(snapshot, bias)
    theta, p = params.theta, params.p
    unit, prec = _param_unit(snapshot)
    if "param_unit" in tol_over:
        unit, prec = float(tol_over["param_unit"]), f"given ({tol_over['param_unit']:g})"
    # kinks first
    stats, true_loss, loss = _kink_losses(snapshot, objective, params, l2, unit, tol_over)
    kink_margin, kink_idx, dist_other, kink_count, dist_all = stats
    L0 = true_loss.value(theta)
    g = loss.grad(theta)
    gnorm = float(np.linalg.norm(g))
    tnorm = float(np.linalg.norm(theta))

    U = _symmetry_basis(params, tnorm, symmetries)
    s = U.shape[1]
    kk = max(1, min(k, p - s))
    sp = _spectrum(loss, theta, U, kk, p <= int(exact_max_params) or p - s <= kk + 1)
    kk = len(sp.lam)
    lam = sp.lam

    tol_round = 2.0 * p * EPS * sp.Hn
    curv_tols, grad_l = [], []
    for i in range(kk):
        dl = loss.curvature_gradient(theta, sp.V[:, i])
        grad_l.append(dl)
        curv_tols.append(tol_round + unit * float(np.sum(np.abs(dl * theta))) + float(sp.res[i]))
    if "curvature_tol" in tol_over:
        curv_tols = [float(tol_over["curvature_tol"])] * kk
    tol_shared = max(curv_tols)
    n_flat = int(np.sum(np.abs(sp.lam_all) <= tol_shared))
    n_neg = int(sum(1 for i in range(kk) if lam[i] < -curv_tols[i]))
    if sp.exact:
        n_neg = max(n_neg, int(np.sum(sp.lam_all < -tol_shared)))

    # moving: along the gradient and along each of the k lowest directions
    grad_floor = (unit + p * EPS) * sp.Hn * tnorm
    ratios, gd = _moving_ratios(loss, theta, g, sp, curv_tols, grad_l, dist_other, unit, tol_round, grad_floor)
    res_obj = OptimumResult(
        grad_norm=gnorm, lowest_curvatures=[float(x) for x in lam], kind="minimum", escape="", loss=L0,
        method=sp.method, n_params=p, n_symmetries=s, n_flat=n_flat, n_flat_lower_bound=not sp.exact,
        n_negative=n_neg, curvature_tols=curv_tols, hessian_norm=sp.Hn, param_precision=prec,
        moving_ratio=max(ratios) if ratios else 0.0, grad_floor=grad_floor, kink_count=kink_count,
        kink_entries=[(int(o) + 1, int(e) + 1) for e, o in zip(kink_idx[0][:20], kink_idx[1][:20], strict=True)],
        kink_margin=kink_margin, kink_distance=dist_all, **gd)
    kink = _kink_data(params, objective, theta, kink_idx) if kink_count and sp.exact else None
    _classify(res_obj, snapshot, params, true_loss, theta, g, sp, curv_tols, dist_other,
              float(tol_over.get("fd_step", FD_STEP)), kink)
    return res_obj


def _one_sided(loss: _Loss, theta: np.ndarray, v: np.ndarray, h: float) -> dict[str, float]:
    """One-sided slopes and curvatures of t -> L(theta + t v) at 0, from points on
    one side only (t = c h, c > 0, and t = -c h), so each side sees one piece of
    the piecewise-polynomial loss: the second-order one-sided difference for the
    slope and the second difference for the curvature, each at h and h / 2 and
    Richardson-extrapolated; their change between h and h / 2 plus the rounding
    of the loss (16 eps |L| / h, / h^2) is the error reported."""
    def Lt(t):
        return loss.value(theta + t * v)
    L0 = Lt(0.0)
    rnd = 16 * EPS * max(abs(L0), EPS)

    def side(sgn):
        f = {c: Lt(sgn * c * h) for c in (0.25, 0.5, 1.0, 2.0)}

        def slope(a):  # a h and 2 a h
            return (-f[2 * a] + 4 * f[a] - 3 * L0) / (2 * a * h)

        def curv(a):
            return (f[2 * a] - 2 * f[a] + L0) / (a * h) ** 2
        s1, s2 = slope(1.0), slope(0.5)
        c1, c2 = curv(1.0), curv(0.5)
        s = (4 * s2 - s1) / 3  # the one-sided slope's error is O(h^2)
        c = 2 * c2 - c1  # the second difference's is O(h)
        return (sgn * s, c, abs(s2 - s1) + rnd / (0.5 * h), abs(c2 - c1) + rnd / (0.5 * h) ** 2)
    sp, cp, esp, ecp = side(1.0)
    sm, cm, esm, ecm = side(-1.0)
    return {"slope_plus": sp, "slope_minus": sm, "curvature_plus": cp, "curvature_minus": cm, "h": h,
            "slope_err": max(esp, esm), "curvature_err": max(ecp, ecm)}


__all__ = [
    "FLOAT32_UNIT",
    "FLOAT64_UNIT",
    "KINDS",
    "KINK_KINDS",
    "TOLERANCE_KEYS",
    "OptimumResult",
    "coupled_l2",
    "describe_direction",
    "local_optimum",
]
