"""Perturbation probes: is a snapshot a local optimum? (no Qt)

A probe path is a straight line through parameter space, (W, b)(t) = (W + t dW,
b + t db) (an untied decoder M stays fixed), so every path of the seed is one:

- ``bias_path(snap, k)``: b_k + t (the seed's "why can't b_7 decrease?");
- ``feature_path(snap, k, direction)``: W_k + t u with u another feature's
  W_j (the seed's W_7 = a W_6: t = a), a unit vector at an angle in the
  latent plane, or a random unit vector (seeded);
- ``random_path(snap, seed)``: a random unit direction in all of (W, b).

One path is not a line: ``angle_path(snap, k)`` rotates W_k by t radians about
the origin, |W_k| kept (in the latent plane for m = 2; for m > 2 in the plane
of W_k and a chosen second direction). Its loss(t) is compared with the
closed form of a model of two features (``two_vector_curve``): with unit
vectors, no bias and equal importance the loss is (max(0, cos phi))^2, phi the
angle between them, i.e. (cos 2 phi + 1) / 2 wherever cos phi >= 0.

``probe(snap, path, objective)`` evaluates loss(t) on a grid around t = 0
(float64, the same loss the core reports: ``geometry.onehot_loss`` for
one-hot data, the mean over the examples of sum_i I_i (ReLU(D W x + b)_i -
x_i)^2 for a dataset), and the slope and curvature at t = 0 twice: central
finite differences and torch autograd (float64), which must agree away from
the ReLU kinks. ``perturbed(snap, path, t)`` is the Snapshot at t, for the
3D and zone views (the seed's tilt figure); ``continue_training`` trains on
from it and says whether the model escapes (its loss falls clearly below
the unperturbed loss) or falls back.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ..config import ConfigError, TrainConfig
from ..snapshot import Snapshot
from . import geometry as geo

if TYPE_CHECKING:
    import threading

    import torch

    from ..training.engine import Progress

#: A feature path's direction u: ("feature", j 0-based), ("angle", degrees), ("random", seed), or an (m,) vector.
Direction = tuple[str, float] | Sequence[float] | np.ndarray

#: The largest |t| a path takes: float32's largest value. Training and run files hold float32
#: parameters, so a t beyond it has no model to show, save or train on (W + t u would be inf).
T_MAX = float(np.finfo(np.float32).max)
#: Finite-difference step for slope and curvature at t = 0 (loss(t) is piecewise
#: quartic in t; 1e-4 keeps float64 round-off in the curvature near 1e-8 * loss).
FD_STEP = 1e-4
#: ... but never wider than a quarter of the distance to the nearest kink, nor narrower than this.
MIN_FD_STEP = 1e-7
#: Fresh-data runs (T = infinity) are probed on this many examples of a fixed stream.
EVAL_EXAMPLES = 4096
_EVAL_STREAM = 0xE7A1
#: A continued model "escaped" when its final loss is below (1 - ESCAPE_REL) x the
#: unperturbed loss (and below it by more than ESCAPE_ABS): at least halved, as a
#: symmetric failure (loss (n-1)/n^2) becoming perfect (loss ~0) does; a model
#: that only settles deeper into its basin lowers its loss by a few percent.
ESCAPE_REL = 0.5
ESCAPE_ABS = 1e-6
DIRECTION_KINDS = ("feature", "angle", "random")
PATH_KINDS = ("bias", "feature", "random", "angle")


# ----------------------------------------------------------------------------
# paths

@dataclass(frozen=True)
class ProbePath:
    """(W, b)(t) = (W + t dW, b + t db); ``text`` says it the way the seed does (1-based).

    The angle path instead rotates column ``feature`` of W by t radians in the plane
    spanned by the orthonormal columns of ``plane`` (m, 2), from plane[:, 0] toward
    plane[:, 1]; dW is then its tangent at t = 0.
    """

    kind: str
    dW: np.ndarray  # (m, n)
    db: np.ndarray  # (n,)
    text: str
    feature: int | None = None  # 0-based, bias, feature and angle paths
    plane: np.ndarray | None = None  # (m, 2), angle path only
    other: int | None = None  # 0-based feature the angle path turns toward, if one

    @property
    def linear(self) -> bool:
        return self.plane is None

    def at(self, snap: Snapshot, t: float) -> tuple[np.ndarray, np.ndarray]:
        if self.plane is None:
            return snap.W + t * self.dW, snap.b + t * self.db
        W = snap.W.copy()
        W[:, self.feature] = rotate_in_plane(W[:, self.feature], self.plane, float(t))
        return W, snap.b.copy()

    def torch_at(self, snap: Snapshot, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, b) at a torch scalar t (float64), differentiable in t."""
        import torch

        W0 = torch.from_numpy(snap.W)
        b0 = torch.from_numpy(snap.b)
        if self.plane is None:
            return W0 + t * torch.from_numpy(self.dW), b0 + t * torch.from_numpy(self.db)
        E = torch.from_numpy(self.plane)
        w = W0[:, self.feature]
        c = E.T @ w  # coordinates in the plane (the rest of w is left as it is)
        rc = torch.stack([torch.cos(t) * c[0] - torch.sin(t) * c[1], torch.sin(t) * c[0] + torch.cos(t) * c[1]])
        col = w + E @ (rc - c)
        onehot = torch.zeros(snap.n, dtype=torch.float64)
        onehot[self.feature] = 1.0
        return W0 + (col - w)[:, None] * onehot[None, :], b0


def rotate_in_plane(w: np.ndarray, plane: np.ndarray, t: float) -> np.ndarray:
    """w rotated by t radians in the plane of the orthonormal columns of ``plane`` (m, 2)."""
    c = plane.T @ w
    ct, st = math.cos(t), math.sin(t)
    rc = np.array([ct * c[0] - st * c[1], st * c[0] + ct * c[1]])
    return w + plane @ (rc - c)


def _check_feature(snap: Snapshot, k: int, name: str = "feature") -> int:
    k = int(k)
    if not 0 <= k < snap.n:
        raise ConfigError(name, f"must be a feature from 1 to n = {snap.n}, got {k + 1}")
    return k


def bias_path(snap: Snapshot, k: int) -> ProbePath:
    """b_k + t (k 0-based)."""
    k = _check_feature(snap, k)
    db = np.zeros(snap.n)
    db[k] = 1.0
    return ProbePath("bias", np.zeros_like(snap.W), db, f"b_{k + 1} + t", feature=k)


def direction_vector(snap: Snapshot, k: int, direction: Direction) -> tuple[np.ndarray, str]:
    """u (m,) and its description for a feature path.

    direction: ("feature", j) -> W_j (0-based j != k); ("angle", degrees) -> the
    unit vector at that angle in the latent plane (plane_basis for m != 2);
    ("random", seed) -> a random unit vector of R^m; or an (m,) array.
    """
    m = snap.m
    if isinstance(direction, np.ndarray) or (isinstance(direction, (list, tuple)) and len(direction) == m
                                             and not isinstance(direction[0], str)):
        u = np.asarray(direction, dtype=np.float64).reshape(-1)
        if u.shape != (m,) or not np.all(np.isfinite(u)):
            raise ConfigError("direction", f"must be a finite vector of m = {m} numbers")
        return u, "u"
    kind, value = direction
    if kind == "feature":
        j = _check_feature(snap, int(value), "direction")
        if j == k:
            raise ConfigError("direction", f"must be another feature than {k + 1} (W_k + t W_k only rescales it)")
        return snap.W[:, j].copy(), f"W_{j + 1}"
    if kind == "angle":
        deg = float(value)
        if not math.isfinite(deg):
            raise ConfigError("direction", f"angle must be a finite number of degrees, got {value!r}")
        U, _ = geo.plane_basis(snap.W)
        th = math.radians(deg)
        u = U @ np.array([math.cos(th), math.sin(th)])
        return u, f"u({deg:g}°)"
    if kind == "random":
        rng = np.random.default_rng([0x9A7B, int(value)])
        u = rng.normal(size=m)
        return u / np.linalg.norm(u), f"u(random, seed {int(value)})"
    raise ConfigError("direction", f"must be one of {', '.join(DIRECTION_KINDS)}; got {kind!r}")


def feature_path(snap: Snapshot, k: int, direction: Direction = ("random", 0)) -> ProbePath:
    """W_k + t u (k 0-based); see direction_vector for u."""
    k = _check_feature(snap, k)
    u, name = direction_vector(snap, k, direction)
    dW = np.zeros_like(snap.W)
    dW[:, k] = u
    return ProbePath("feature", dW, np.zeros(snap.n), f"W_{k + 1} + t·{name}", feature=k)


def random_path(snap: Snapshot, seed: int = 0, bias: bool = True) -> ProbePath:
    """A random unit direction in all parameters (W and, when the run has one, b)."""
    rng = np.random.default_rng([0x9A7C, int(seed)])
    dW = rng.normal(size=snap.W.shape)
    db = rng.normal(size=snap.n) if bias else np.zeros(snap.n)
    norm = math.sqrt(float(np.sum(dW * dW) + np.sum(db * db)))
    return ProbePath("random", dW / norm, db / norm, f"(W, b) + t·d (random unit direction, seed {int(seed)})")


def angle_path(snap: Snapshot, k: int, direction: Direction | None = None) -> ProbePath:
    """W_k rotated by t radians about the origin, |W_k| kept (k 0-based).

    m = 2: in the latent plane, counter-clockwise for t > 0, or toward u when a
    direction is given (see direction_vector). m > 2: in the plane of W_k and u, from
    W_k toward u; a direction is required there. m = 1 has no rotation.
    """
    k = _check_feature(snap, k)
    m = snap.m
    if m < 2:
        raise ConfigError("path", "the angle path needs m >= 2 latent dimensions (m = 1 has no rotation)")
    w = snap.W[:, k]
    r = float(np.linalg.norm(w))
    if not r > 0:
        raise ConfigError("feature", f"W_{k + 1} is 0: rotating it about the origin leaves it where it is")
    e1 = w / r
    other = None
    if direction is None:
        if m != 2:
            raise ConfigError("direction", f"the angle path for m = {m} needs a direction to rotate W_{k + 1} "
                              "toward: a feature j, angle:DEG or random")
        e2 = np.array([-e1[1], e1[0]])
        how = "counter-clockwise"
    else:
        u, name = direction_vector(snap, k, direction)
        if isinstance(direction, tuple) and direction[0] == "feature":
            other = int(direction[1])
        u = u - (u @ e1) * e1
        nu = float(np.linalg.norm(u))
        if not nu > 1e-12 * max(1.0, float(np.linalg.norm(u))):
            raise ConfigError("direction", f"{name} is parallel to W_{k + 1}: no plane to rotate in")
        e2 = u / nu
        how = f"toward {name}"
    plane = np.stack([e1, e2], axis=1)
    dW = np.zeros_like(snap.W)
    dW[:, k] = r * e2
    return ProbePath("angle", dW, np.zeros(snap.n), f"W_{k + 1} turned by θ {how} (|W_{k + 1}| kept)",
                     feature=k, plane=plane, other=other)


def make_path(snap: Snapshot, kind: str, feature: int | None = None, direction: Direction | None = None,
              seed: int = 0,
              bias: bool = True) -> ProbePath:
    """One entry point for the CLI and the GUI. feature is 0-based."""
    if kind == "bias":
        if feature is None:
            raise ConfigError("feature", "the bias path needs a feature (b_k + t)")
        return bias_path(snap, feature)
    if kind == "feature":
        if feature is None:
            raise ConfigError("feature", "the feature path needs a feature (W_k + t u)")
        return feature_path(snap, feature, direction if direction is not None else ("random", seed))
    if kind == "random":
        return random_path(snap, seed, bias=bias)
    if kind == "angle":
        if feature is None:
            raise ConfigError("feature", "the angle path needs a feature (W_k turned by θ)")
        if direction is not None and direction[0] == "random" and direction[1] is None:
            direction = ("random", seed)
        return angle_path(snap, feature, direction)
    raise ConfigError("path", f"must be one of {', '.join(PATH_KINDS)}; got {kind!r}")


# ----------------------------------------------------------------------------
# the objective

class Objective:
    """The training loss of one model, in float64: one-hot (the n examples e_i) or a dataset X (T, n)."""

    def __init__(self, X: np.ndarray | None = None, importance: np.ndarray | None = None,
                 description: str = ""):
        data = None if X is None else np.ascontiguousarray(np.asarray(X, dtype=np.float64))
        self.X = data
        self.importance = None if importance is None else np.asarray(importance, dtype=np.float64)
        self.description = description or ("one-hot examples" if data is None else f"{data.shape[0]} examples")

    @property
    def onehot(self) -> bool:
        return self.X is None

    def __call__(self, W, b, M=None) -> float:
        if self.X is None:
            return geo.onehot_loss(W, b, importance=self.importance, M=M)
        X = self.X
        T, n = X.shape
        D = geo.decoder_of(W, M)
        imp = np.ones(n) if self.importance is None else self.importance
        blk = max(1, geo.CHUNK_ELEMS // max(n, 1))
        total = 0.0
        for s in range(0, T, blk):
            Xs = X[s:s + blk]
            P = (Xs @ W.T) @ D.T + b
            np.maximum(P, 0.0, out=P)
            P -= Xs
            total += float(np.einsum("ti,ti,i->", P, P, imp))
        return total / T if T else 0.0

    def torch_loss(self, W: torch.Tensor, b: torch.Tensor, M: torch.Tensor | None = None,
                   off: torch.Tensor | None = None) -> torch.Tensor:
        """The same loss on torch float64 tensors (for autograd).

        off: an optional (examples, n) boolean tensor of pre-activations held off (ReLU = 0
        whatever their value): one smooth piece of the loss at a ReLU kink.
        """
        import torch

        n = W.shape[1]
        imp = torch.ones(n, dtype=torch.float64) if self.importance is None else torch.from_numpy(self.importance)
        X = torch.eye(n, dtype=torch.float64) if self.X is None else torch.from_numpy(self.X)
        D = W.T if M is None else M
        P = (X @ W.T) @ D.T + b
        R = torch.relu(P)
        if off is not None:
            R = torch.where(off, torch.zeros_like(R), R)
        E = R - X
        return (E * E * imp).sum(-1).mean()


def objective_for(config: TrainConfig, dataset: np.ndarray | None = None, model: int = 0,
                  eval_examples: int = EVAL_EXAMPLES) -> Objective:
    """The objective a run's model k was trained on.

    identity: one-hot. Finite sparse set: that model's examples (``dataset`` (K, T, n)
    or (T, n); regenerated from the seed when None). Fresh data: a fixed sample
    of ``eval_examples`` from a separate stream of the run's seed.
    """
    imp = None if config.importance is None else config.importance_vector()
    if config.onehot:
        return Objective(None, imp)
    if config.examples is not None:
        if dataset is None:
            from ..training.data import model_dataset

            X = model_dataset(config.seed + model, config.examples, config.n, config.sparsity)
        else:
            X = np.asarray(dataset)
            if X.ndim == 3:
                X = X[model]
        return Objective(X, imp, f"the model's {X.shape[0]} training examples")
    from ..training.data import sparse_examples

    rng = np.random.default_rng([_EVAL_STREAM, config.seed])
    X = sparse_examples(rng, int(eval_examples), config.n, config.sparsity, dtype=np.float64)
    return Objective(X, imp, f"{int(eval_examples)} fresh examples (fixed evaluation sample)")


# ----------------------------------------------------------------------------
# probing

@dataclass
class ProbeResult:
    path: ProbePath
    ts: np.ndarray
    losses: np.ndarray
    loss0: float  # loss at t = 0
    slope_fd: float
    curvature_fd: float
    slope_autograd: float
    curvature_autograd: float
    fd_step: float
    objective: str
    slope_left: float = float("nan")  # (L(0) - L(-h)) / h
    slope_right: float = float("nan")  # (L(h) - L(0)) / h
    kink_distance: float = math.inf  # nearest |t| where a pre-activation crosses 0 (0: at t = 0)
    reference: np.ndarray | None = None  # angle path: the two-vector closed form on ts, where it applies
    reference_text: str = ""  # what the reference is, or why there is none

    @property
    def smooth_at_zero(self) -> bool:
        """Finite differences and autograd agree: no ReLU kink at t = 0.

        Exact solutions (Henighan's n-gon) put pre-activations exactly at 0, where
        loss(t) has a kink: the one-sided slopes differ, autograd takes ReLU'(0) = 0,
        and the central differences average the two sides.
        """
        def close(a, b):
            return abs(a - b) <= 1e-4 * max(1.0, abs(a), abs(b))
        return close(self.slope_fd, self.slope_autograd) and \
            abs(self.curvature_fd - self.curvature_autograd) <= 1e-3 * max(1.0, abs(self.curvature_autograd))

    @property
    def t_star(self) -> float | None:
        """The minimum of the local quadratic model at t = 0, -slope / curvature (None if curvature <= 0)."""
        return -self.slope_fd / self.curvature_fd if self.curvature_fd > 0 else None

    @property
    def local_min_along_path(self) -> bool:
        """Curvature > 0 and the local quadratic's minimum within 1% of the probed range of t = 0."""
        ts = self.t_star
        span = float(max(abs(self.ts[0]), abs(self.ts[-1])))
        return ts is not None and abs(ts) <= 0.01 * span

    def best(self) -> tuple[float, float]:
        """(t, loss) of the lowest point of the grid."""
        i = int(np.nanargmin(self.losses))
        return float(self.ts[i]), float(self.losses[i])

    def to_dict(self) -> dict:
        tb, lb = self.best()
        return {
            "path": self.path.text, "kind": self.path.kind,
            "feature": None if self.path.feature is None else self.path.feature + 1,
            "objective": self.objective,
            "loss0": self.loss0, "slope": self.slope_fd, "curvature": self.curvature_fd,
            "slope_autograd": self.slope_autograd, "curvature_autograd": self.curvature_autograd,
            "fd_step": self.fd_step, "t_star": self.t_star, "slope_left": self.slope_left,
            "slope_right": self.slope_right, "smooth_at_zero": bool(self.smooth_at_zero),
            "kink_distance": None if math.isinf(self.kink_distance) else self.kink_distance,
            "local_min_along_path": bool(self.local_min_along_path),
            "best_t": tb, "best_loss": lb,
            "t": [float(t) for t in self.ts], "loss": [float(v) for v in self.losses],
            **({"t_unit": "rad", "theta_deg": [math.degrees(float(t)) for t in self.ts],
                "reference": None if self.reference is None else [float(v) for v in self.reference],
                "reference_text": self.reference_text} if self.path.kind == "angle" else {}),
        }


def loss_curve(snap: Snapshot, path: ProbePath, ts: ArrayLike, objective: Objective) -> np.ndarray:
    ts = np.asarray(ts, dtype=np.float64)
    return np.array([objective(*path.at(snap, float(t)), M=snap.M) for t in ts])


def kink_distance(snap: Snapshot, path: ProbePath, objective: Objective) -> float:
    """The smallest |t| > 0 where some pre-activation on the path crosses 0 (a kink of
    loss(t)); 0.0 when one sits exactly at 0 at t = 0, inf when none ever does.

    Every pre-activation is a polynomial in t of degree <= 2: with h0 = W x, h1 = dW x,
    P_i(t) = (W_i + t dW_i).(h0 + t h1) + b_i + t db_i when tied (D = W^T), and
    M_i.(h0 + t h1) + b_i + t db_i when untied; one-hot data is X = I. Chunked over examples.
    """
    if not path.linear:
        return _angle_kink_distance(snap, path, objective)
    W, dW, b, db = snap.W, path.dW, snap.b, path.db
    m, n = W.shape
    X = np.eye(n) if objective.X is None else objective.X
    T = X.shape[0]
    best = math.inf
    blk = max(1, geo.CHUNK_ELEMS // max(n, 1))
    for s0 in range(0, T, blk):
        Xs = X[s0:s0 + blk]
        H0, H1 = Xs @ W.T, Xs @ dW.T  # (t, m)
        if snap.M is None:
            A = H0 @ W + b
            B = H0 @ dW + H1 @ W + db
            C = H1 @ dW
        else:
            A = H0 @ snap.M.T + b
            B = H1 @ snap.M.T + db
            C = np.zeros_like(A)
        if np.any(A == 0.0):
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            lin = np.abs(C) <= 1e-300
            r_lin = np.where(lin & (B != 0), -A / B, np.inf)
            disc = B * B - 4 * A * C
            sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
            q = -0.5 * (B + np.copysign(sq, B))
            r1 = np.where(~lin, q / C, np.inf)
            r2 = np.where(~lin, A / q, np.inf)
        roots = np.abs(np.concatenate([r_lin.ravel(), r1.ravel(), r2.ravel()]))
        roots = roots[np.isfinite(roots) & (roots > 0)]
        if roots.size:
            best = min(best, float(roots.min()))
    return best


def _angle_kink_distance(snap: Snapshot, path: ProbePath, objective: Objective) -> float:
    """kink_distance for the angle path. Turning W_k keeps |W_k|, so every pre-activation
    is c + a cos t + s sin t (tied: output k's W_k(t).(h_rest + x_k W_k(t)) has the
    constant x_k |W_k|^2; every other output is linear in W_k(t)); c, a, s come from
    its values at t = 0, pi/2, pi, and its zeros from cos(t - atan2(s, a)) = -c / hypot(a, s)."""
    n = snap.n
    X = np.eye(n) if objective.X is None else objective.X
    T = X.shape[0]
    best = math.inf
    blk = max(1, geo.CHUNK_ELEMS // max(n, 1))
    params = [path.at(snap, t) for t in (0.0, math.pi / 2, math.pi)]
    for s0 in range(0, T, blk):
        Xs = X[s0:s0 + blk]
        P0, P1, P2 = (((Xs @ W.T) @ geo.decoder_of(W, snap.M).T + b) for W, b in params)
        if np.any(P0 == 0.0):
            return 0.0
        c = 0.5 * (P0 + P2)
        a = 0.5 * (P0 - P2)
        sn = P1 - c
        R = np.hypot(a, sn)
        ok = (R > 0) & (np.abs(c) <= R)
        if not np.any(ok):
            continue
        delta = np.arctan2(sn[ok], a[ok])
        ac = np.arccos(np.clip(-c[ok] / R[ok], -1.0, 1.0))
        roots = np.concatenate([delta + ac, delta - ac])
        roots = np.abs((roots + math.pi) % (2 * math.pi) - math.pi)
        roots = roots[roots > 0]
        if roots.size:
            best = min(best, float(roots.min()))
    return best


def two_vector_curve(snap: Snapshot, path: ProbePath, ts: ArrayLike,
                     objective: Objective) -> tuple[np.ndarray | None, str]:
    """(values on ts or None, text): the closed-form loss of the angle path on a model of two features.

    Applies when the data is one-hot, the decoder tied, n = 2 and the other feature
    W_j lies in the rotation plane (always for m = 2). Then, with r_i = |W_i| and phi
    the angle between W_k(t) and W_j, the loss (the mean over the two inputs) is
        (I_k (ReLU(r_k^2 + b_k) - 1)^2 + I_j (ReLU(r_j^2 + b_j) - 1)^2
         + I_k ReLU(r_k r_j cos phi + b_k)^2 + I_j ReLU(r_k r_j cos phi + b_j)^2) / 2,
    which for unit vectors, b = 0 and I = 1 is (max(0, cos phi))^2.
    """
    ts = np.asarray(ts, dtype=np.float64)
    if path.kind != "angle":
        return None, "the two-vector curve belongs to the angle path"
    if not objective.onehot:
        return None, "the two-vector curve does not apply: it is the loss on one-hot inputs, this run's data is sparse"
    if snap.M is not None:
        return None, "the two-vector curve does not apply: it assumes a tied decoder (D = W^T), this run is untied"
    if snap.n != 2:
        return None, (f"the two-vector curve does not apply: it is the loss of a model of two features, this one "
                      f"has n = {snap.n} (the others' outputs change too)")
    k, E = path.feature, path.plane
    if k is None or E is None:
        raise ValueError("an angle path names its feature and its plane (angle_path sets both)")
    j = 1 - k
    wj = snap.W[:, j]
    cj = E.T @ wj
    if np.linalg.norm(wj - E @ cj) > 1e-12 * max(1.0, float(np.linalg.norm(wj))):
        return None, f"the two-vector curve does not apply: W_{j + 1} is not in the plane W_{k + 1} turns in"
    rk = float(np.linalg.norm(snap.W[:, k]))
    rj = float(np.linalg.norm(wj))
    alpha = math.atan2(cj[1], cj[0])  # W_k(t) sits at angle t in the plane's coordinates
    phi = ts - alpha
    imp = np.ones(2) if objective.importance is None else objective.importance
    b = snap.b
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    cross = rk * rj * np.cos(phi)
    diag = imp[k] * (relu(rk * rk + b[k]) - 1.0) ** 2 + imp[j] * (relu(rj * rj + b[j]) - 1.0) ** 2
    vals = 0.5 * (diag + imp[k] * relu(cross + b[k]) ** 2 + imp[j] * relu(cross + b[j]) ** 2)
    unit = abs(rk - 1) <= 1e-9 and abs(rj - 1) <= 1e-9 and np.all(np.abs(b) <= 1e-9) and np.all(imp == 1)
    text = ("two-vector curve (max(0, cos φ))², φ the angle between W_1 and W_2" if unit else
            f"two-vector closed form (|W_{k + 1}| = {rk:.3g}, |W_{j + 1}| = {rj:.3g}, b = ({b[0]:.3g}, {b[1]:.3g})); "
            "with unit vectors and b = 0 it is (max(0, cos φ))²")
    return vals, text


def finite_differences(snap: Snapshot, path: ProbePath, objective: Objective,
                       h: float = FD_STEP) -> tuple[float, float, float]:
    """(loss(0), slope, curvature) at t = 0 by central differences."""
    lm, l0, lp = loss_curve(snap, path, [-h, 0.0, h], objective)
    return float(l0), float((lp - lm) / (2 * h)), float((lp - 2 * l0 + lm) / (h * h))


def autograd_derivatives(snap: Snapshot, path: ProbePath, objective: Objective) -> tuple[float, float, float]:
    """(loss(0), dL/dt, d2L/dt2) at t = 0 by torch autograd in float64."""
    import torch

    t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    W, b = path.torch_at(snap, t)
    M = None if snap.M is None else torch.from_numpy(snap.M)
    L = objective.torch_loss(W, b, M)
    (g,) = torch.autograd.grad(L, t, create_graph=True)
    (c,) = torch.autograd.grad(g, t, allow_unused=True) if g.requires_grad else (None,)
    return float(L.detach()), float(g.detach()), 0.0 if c is None else float(c.detach())


def probe(snap: Snapshot, path: ProbePath, objective: Objective, t_range: tuple[float, float] = (-1.0, 1.0),
          points: int = 201, h: float = FD_STEP) -> ProbeResult:
    """loss(t) on `points` values over t_range (t = 0 always included), slope and curvature at 0."""
    lo, hi = float(t_range[0]), float(t_range[1])
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise ConfigError("range", f"must be two finite numbers a < b, got {lo:g}, {hi:g}")
    if max(abs(lo), abs(hi)) > T_MAX:
        raise ConfigError("range", f"each end must be within ±{T_MAX:.6g} (the largest float32: the parameters "
                                   f"are float32), got {lo:g}, {hi:g}")
    points = int(points)
    if not 3 <= points <= 100_000:
        raise ConfigError("points", f"must be from 3 to 100000, got {points}")
    ts = np.union1d(np.linspace(lo, hi, points), [0.0])
    losses = loss_curve(snap, path, ts, objective)
    kink = kink_distance(snap, path, objective)
    if kink > 0:  # differences must not straddle a kink: stay inside a quarter of the distance to it
        h = min(h, max(kink / 4, MIN_FD_STEP))
    lm, l0, lp = loss_curve(snap, path, [-h, 0.0, h], objective)
    s, c = (lp - lm) / (2 * h), (lp - 2 * l0 + lm) / (h * h)
    _, sa, ca = autograd_derivatives(snap, path, objective)
    res = ProbeResult(path, ts, losses, float(l0), float(s), float(c), sa, ca, h, objective.description,
                      float((l0 - lm) / h), float((lp - l0) / h), kink)
    if path.kind == "angle":
        res.reference, res.reference_text = two_vector_curve(snap, path, ts, objective)
    return res


def perturbed(snap: Snapshot, path: ProbePath, t: float, objective: Objective | None = None) -> Snapshot:
    """The model at t on the path (its loss filled in when an objective is given)."""
    W, b = path.at(snap, float(t))
    loss = objective(W, b, M=snap.M) if objective is not None else float("nan")
    return Snapshot(step=snap.step, W=W, b=b, loss=loss, M=snap.M, importance=snap.importance, model=snap.model)


# ----------------------------------------------------------------------------
# continuing from a perturbed model

@dataclass
class ContinueResult:
    t: float
    steps: int
    loss_before: float  # the unperturbed model
    loss_start: float  # the perturbed model
    loss_after: float  # after `steps` more steps
    verdict_before: str
    verdict_after: str
    escaped: bool
    history: object  # model.history.History of the continued run
    config: TrainConfig
    # the control: the unperturbed model (t = 0) trained on the same way, fresh
    # optimiser state included (a restarted Adam alone can free a stuck model)
    control_loss_after: float | None = None
    control_verdict_after: str | None = None
    control_escaped: bool | None = None

    @property
    def escape_due_to_perturbation(self) -> bool | None:
        """Escaped while the unperturbed control did not (None without a control)."""
        if self.control_escaped is None:
            return None
        return bool(self.escaped and not self.control_escaped)

    def to_dict(self) -> dict:
        return {"t": self.t, "steps": self.steps, "loss_before": self.loss_before, "loss_start": self.loss_start,
                "loss_after": self.loss_after, "verdict_before": self.verdict_before,
                "verdict_after": self.verdict_after, "escaped": bool(self.escaped),
                "control_loss_after": self.control_loss_after, "control_verdict_after": self.control_verdict_after,
                "control_escaped": self.control_escaped,
                "escape_due_to_perturbation": self.escape_due_to_perturbation}


def continue_config(config: TrainConfig, snap: Snapshot, steps: int) -> TrainConfig:
    """The single-model config that trains on from ``snap`` (model k's seed and data), init from parameters."""
    steps = int(steps)
    if not 1 <= steps <= 1_000_000_000:
        raise ConfigError("continue_steps", f"must be from 1 to 1000000000, got {steps}")
    return config.replace(models=1, seed=config.seed + int(snap.model), steps=steps, init="xavier",
                          init_run=None, init_step=None, init_model=0).validate()


def escaped(loss_before: float, loss_after: float) -> bool:
    return bool(loss_after < loss_before * (1 - ESCAPE_REL) and loss_before - loss_after > ESCAPE_ABS)


def _train_from(cfg: TrainConfig, start: Snapshot, data, threads, stop_event=None, progress=None):
    from ..training.engine import Trainer

    M = None if start.M is None else start.M[None].astype(np.float32)
    if cfg.untied and M is None:
        M = start.W.T[None].astype(np.float32)
    initial = (start.W[None].astype(np.float32), start.b[None].astype(np.float32), M)
    trainer = Trainer(cfg, initial=initial, dataset=data, threads=threads)

    def check(p):
        if stop_event is not None and stop_event.is_set():
            trainer.request_stop()
        if progress is not None:
            progress(p)

    trainer.run(check)
    return trainer


def continue_training(config: TrainConfig, original: Snapshot, start: Snapshot, steps: int, t: float = 0.0,
                      objective: Objective | None = None, threads: int | None = None,
                      dataset: np.ndarray | None = None, control: bool = True,
                      stop_event: threading.Event | None = None,
                      progress: Callable[[str, Progress], None] | None = None) -> ContinueResult:
    """Train ``start`` (a perturbed copy of ``original``) for ``steps`` more steps with the run's
    settings (fresh optimiser state). With ``control``, the unperturbed model is trained the same
    way too, so an escape that a restarted optimiser alone would give is told apart.
    ``progress(label, engine_progress)``: label "perturbed" or "control"."""
    from .analysis import analyze

    cfg = continue_config(config, original, steps)
    data = None
    if dataset is not None:
        X = np.asarray(dataset)
        data = (X[original.model] if X.ndim == 3 else X)[None].astype(np.float32)
    trainer = _train_from(cfg, start, data, threads, stop_event,
                          None if progress is None else (lambda p: progress("perturbed", p)))
    end = trainer.history.snapshot()
    obj = objective or objective_for(config, dataset, original.model)
    onehot = config.onehot
    lb = obj(original.W, original.b, M=original.M)
    ls = obj(start.W, start.b, M=start.M)
    la = obj(end.W, end.b, M=end.M)
    vb = analyze(original, onehot=onehot).verdict
    va = analyze(end, onehot=onehot).verdict
    res = ContinueResult(float(t), int(steps), lb, ls, la, vb, va, escaped(lb, la), trainer.history, cfg)
    if control and not (stop_event is not None and stop_event.is_set()):
        ctrl = _train_from(cfg, original, data, threads, stop_event,
                           None if progress is None else (lambda p: progress("control", p))).history.snapshot()
        res.control_loss_after = obj(ctrl.W, ctrl.b, M=ctrl.M)
        res.control_verdict_after = analyze(ctrl, onehot=onehot).verdict
        res.control_escaped = escaped(lb, res.control_loss_after)
    return res


def save_start_run(path: str | Path, config: TrainConfig, start: Snapshot) -> TrainConfig:
    """Write ``start`` as a one-snapshot run file at ``path`` and return the config
    ``init="run"`` that trains on from it (so the continued run reopens and
    reproduces like any other): used by the GUI's "continue training"."""
    from ..history import History
    from ..storage.runfile import save_run

    path = Path(path)
    one = config.replace(models=1, seed=config.seed + int(start.model), init="xavier", init_run=None,
                         init_step=None, init_model=0, steps=0)
    h = History(1, start.m, start.n, untied=config.untied, budget_bytes=2**20)
    M = None
    if config.untied:
        M = (start.M if start.M is not None else start.W.T)[None]
    h.append(int(start.step), start.W[None], start.b[None], np.array([start.loss]), M)
    save_run(path, one, h, meta={"perturbed_from": {"model": int(start.model), "step": int(start.step)}})
    return one.replace(init="run", init_run=str(path), init_step=None, init_model=0,
                       steps=config.steps).validate()


__all__ = [
    "DIRECTION_KINDS",
    "FD_STEP",
    "PATH_KINDS",
    "T_MAX",
    "ContinueResult",
    "Objective",
    "ProbePath",
    "ProbeResult",
    "angle_path",
    "autograd_derivatives",
    "bias_path",
    "continue_config",
    "continue_training",
    "direction_vector",
    "escaped",
    "feature_path",
    "finite_differences",
    "kink_distance",
    "loss_curve",
    "make_path",
    "objective_for",
    "perturbed",
    "probe",
    "random_path",
    "rotate_in_plane",
    "save_start_run",
    "two_vector_curve",
]
