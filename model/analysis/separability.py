"""Linear separability of the feature vectors, and each feature's sensitivity (numpy/scipy, no Qt).

Separability. Feature i is *linearly separable* when a line (a hyperplane for
m > 2) strictly separates W_i from every other live W_j, i.e. when W_i lies
outside the convex hull of the other live feature vectors. Its margin is the
distance from W_i to that hull (positive when separable, 0 when W_i is inside
it); the max-margin separating line is the perpendicular bisector of W_i and
the hull's nearest point. When W_i is inside, ``blockers`` names an
inclusion-minimal set of other live features whose hull contains W_i (at most
m + 1 of them, affinely independent; 2 when W_i lies on a segment, 1 for a
duplicate).

Why it matters: a feature that is reconstructed (p_i(W_i) > 0 >= p_i(W_j) for
the other live j) is separable, because its zone {h : W_i.h + b_i > 0} is a
half-plane that holds W_i and none of the others. The converse fails: a
separable feature need not be separated by its own zone (its bias or norm may
be wrong), so "separable but not reconstructed" is the interesting case.
Dead features are left out on both sides: they are not tested and do not
block (their W_j sit near the origin; whether the origin must also be kept
out of a zone is the reconstruction test's business, not this one's).

Gap evidence (the two-circle picture). For a live feature whose other live
features' hull contains the origin strictly, the ray from the origin through
W_i leaves that hull through one edge (u, v): its *neighbours*, at radii R1,
R2 and angles alpha1 before and alpha2 after W_i. W_i is separable exactly
when it lies outside the chord u-v. The chord crosses the ray at distance

    d = R1 R2 sin(alpha1 + alpha2) / (R1 sin alpha1 + R2 sin alpha2)

(= R cos alpha for equal radii and a centred W_i, alpha the half-gap), so
W_i at radius r is outside iff r > d. The actual half-gap is (alpha1 + alpha2)/2;
the *needed* half-gap is the one at which d would equal r, with the neighbours'
radii and W_i's relative position in the gap (alpha1 : alpha2) kept: arccos(r/R)
for equal radii. d decreases strictly as the gap opens (1/d is a sum of terms
sin(s a)/sin(s T), increasing in s because u cot u decreases on (0, pi)), so
``half_gap > needed_half_gap`` iff outside the chord iff separable. m = 2:
exact; m > 2: the same quantities on the principal plane
(geometry.plane_basis), where they describe the projected points only.

Method (m = 2, O(n log n) for n = 10,000): exact duplicates first; then one
convex hull of the live points (qhull; up to PY_HULL_MAX points Andrew's
monotone chain in Python, which takes less than importing scipy). A point that is not a hull vertex lies
in the hull of the others (margin 0; blockers from a fan triangulation of the
hull). For a hull vertex v with hull neighbours p and q, the others' hull
differs from the full hull only inside the triangle (p, v, q): it is the full
hull with v replaced by the convex chain from p to q through the other points
in that triangle, so the margin is v's distance to that chain (found with an
angular window about an interior point, so each point is looked at O(1)
times). Collinear live points reduce to a line. m > 2: Wolfe's minimum-norm-
point algorithm (finite and exact up to rounding) per feature, with a qhull
pre-filter where it applies; its final support is the blocking set. m = 1: the
line case.

Resolution (undecided). Trained parameters are float32 numbers: an entry x
stands for any real value within half its spacing, |x| 2^-24, so a feature
vector is known only to |delta W_i| <= 2^-24 |W_i| <= u R (u = 2^-24, R the
largest live |W_j|; the bound holds for the vector's norm because each
coordinate's error is at most u times that coordinate). A distance between
W_i and the hull of the others moves by at most the sum of the two points'
errors, 2 u R = FLOAT32_RES R (FLOAT32_RES = 2^-23 = float32's machine
epsilon, about 1.19e-7). A margin within that of 0, on either side, is
*undecided*: the float32 parameters do not say whether the feature is
separable. ``separability(..., resolution_rel=...)`` takes the relative
resolution (FLOAT32_RES by default; 0 for exact float64 parameters, where
only touching at float64 rounding, MARGIN_REL, is a no). Outside the hull
the signed margin is the margin; inside it is minus the *depth*, the
distance from W_i to the boundary of the others' hull: m = 2 and m = 3..6
from the edges / facets of the hull of every live point (an inner point does
not shape that hull, so the others' hull is the same), 0 for a point on that
boundary (a touching hull vertex, a duplicate pair on the hull, collinear or
coplanar sets: a perturbation at rounding level moves such a point out), the
1D distance for m = 1; m > 6 does not measure it (nan: decided, unless the
nearest other point is within the resolution, a near-duplicate).

Sensitivity. ``fire_threshold``: the smallest input value x > 0 at which the
one-hot input x e_i makes output i fire, p_i = x g_i + b_i > 0 with the gain
g_i = D_i.W_i (|W_i|^2 tied; D_i the decoder's row i untied). b_i < 0 and
g_i > 0: -b_i/g_i (fires for x above it, strictly); b_i > 0: 0 (fires at any
x > 0, however small, e.g. a dead feature with b = 1/n); b_i = 0: 0 when g_i > 0,
else never; never firing is inf (None in JSON). One-hot inputs take values
x in (0, 1], so a threshold above 1 (or inf) means the output never fires on
a valid input: ``fire_label`` says so in words ("never fires on valid inputs
(needs x > 1.3)"), beside the number. ``sliver_share``: the area of
the zone {h : p_i(h) > 0} inside the latent shape over the shape's area
(geometry.zone_areas: the exact areas of zone_polygons' clipped polygons); on
the principal plane for m > 2 (``plane`` says which), None where the shape has
no area (n < 3, collinear feature vectors, m = 1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import geometry as geo

#: Up to this many live points (m = 2) the hull of all of them is _hull2's monotone
#: chain (a few milliseconds), above it qhull (scipy.spatial, whose import alone
#: takes a few tenths of a second); both drop collinear points from the vertices.
PY_HULL_MAX = 1024

#: A margin at or below MARGIN_REL x (largest live |W_j|) counts as touching
#: (not separable). Coordinates of size R carry rounding of ~1e-16 R, and the
#: distances here are a few operations on them (error ~1e-15 R), so 1e-12 R is
#: a thousand times the rounding and far below any margin a model can use.
MARGIN_REL = 1e-12
#: float32's machine epsilon, 2^-23: the relative resolution of trained (float32) parameters
#: for a distance between feature vectors (see "Resolution" above).
FLOAT32_RES = float(np.finfo(np.float32).eps)
#: Barycentric weights at or below this are dropped from a blocking set (the
#: point lies on the face of the others); same rounding argument as above.
BARY_TOL = 1e-12
#: Wolfe's algorithm (m > 2) stops when x.x - min_j x.Q_j <= WOLFE_REL R^2.
WOLFE_REL = 1e-15
WOLFE_MAX_ITER = 1000


def _jf(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


# ----------------------------------------------------------------------------
# result types

@dataclass
class Separability:
    """Per-feature separability (0-based arrays of length n; to_dict is 1-based).

    live: the features tested. separable: strictly separable (False for dead;
    the float64 geometry, what the views draw). undecided: the separable or
    inside margin is within ``resolution`` of 0, so the parameters do not decide
    it (``decision`` says "yes" / "no" / "undecided"); depth: how far inside.
    margin: distance from W_i to the hull of the other live W_j (nan for dead;
    inf for a lone live feature; 0 inside). nearest: (n, m) that hull's point
    nearest W_i (nan where W_i is inside or dead). blockers: lists of 0-based
    feature indices (empty when separable). Gap evidence (nan / -1 where a
    feature has none; see the module doc): neighbours (n, 2), radius (n,) =
    |W_i| on the plane, neighbour_radii (n, 2), gap_before/gap_after (n,)
    alpha1, alpha2 in radians, half_gap, needed_half_gap (0 when W_i is outside
    the chord for any gap; nan when W_i is aligned with a neighbour and inside it:
    no gap suffices), chord_distance d, chord_margin (signed distance of W_i from
    the chord line, > 0 outside), outside_chord (bool). plane: where the gap
    evidence is measured. tolerance x scale: the margin counted as touching.
    """

    n: int
    m: int
    live: np.ndarray
    separable: np.ndarray
    margin: np.ndarray
    nearest: np.ndarray
    blockers: list[list[int]]
    neighbours: np.ndarray
    radius: np.ndarray
    neighbour_radii: np.ndarray
    gap_before: np.ndarray
    gap_after: np.ndarray
    half_gap: np.ndarray
    needed_half_gap: np.ndarray
    chord_distance: np.ndarray
    chord_margin: np.ndarray
    outside_chord: np.ndarray
    plane: str = "latent plane (m = 2)"
    tolerance: float = MARGIN_REL
    scale: float = 1.0
    computed: np.ndarray | None = None  # (n,) bool: the features answered (default: the live ones)
    depth: np.ndarray | None = None  # (n,) inside the others' hull: distance to its boundary (nan: outside/not measured)
    undecided: np.ndarray | None = None  # (n,) bool: |signed margin| <= resolution (see the module doc)
    resolution: float = 0.0  # absolute: resolution_rel x scale

    def signed_margin(self, i: int) -> float:
        """The margin outside the others' hull (> 0), or minus the depth inside it (nan: not measured)."""
        if self.separable[i]:
            return float(self.margin[i])
        return -float(self.depth[i]) if self.depth is not None else math.nan

    def is_undecided(self, i: int) -> bool:
        return bool(self.undecided is not None and self.undecided[i])

    def decision(self, i: int) -> str | None:
        """'yes', 'no', 'undecided' (within the resolution), or None (dead, or not computed)."""
        if not self.live[i] or (self.computed is not None and not self.computed[i]):
            return None
        if self.is_undecided(i):
            return "undecided"
        return "yes" if self.separable[i] else "no"

    @property
    def decided_separable(self) -> np.ndarray:
        """(n,) bool: separable by more than the resolution."""
        und = np.zeros(self.n, dtype=bool) if self.undecided is None else self.undecided
        return self.separable & ~und

    @property
    def decided_inseparable(self) -> np.ndarray:
        """(n,) bool: live, computed, and inside (or touching) the others' hull by more than the resolution."""
        und = np.zeros(self.n, dtype=bool) if self.undecided is None else self.undecided
        comp = self.live if self.computed is None else self.computed
        return comp & ~self.separable & ~und

    @property
    def has_gap(self) -> np.ndarray:
        """(n,) bool: features with gap evidence (two neighbours on the others' hull around the origin)."""
        return self.neighbours[:, 0] >= 0

    def separating_line(self, i: int) -> tuple[np.ndarray, float] | None:
        """(a (m,), c): the max-margin hyperplane {h : a.h = c} between W_i and the others' hull
        (a = W_i - nearest, unit length; W_i on the side a.h > c), or None when not separable."""
        if not self.separable[i] or not np.all(np.isfinite(self.nearest[i])):
            return None
        if self._W is None:
            raise ValueError("separating_line needs the W the result was computed from (separability() keeps it)")
        w = self._W[:, i]
        q = self.nearest[i]
        a = w - q
        a = a / np.linalg.norm(a)
        return a, float(a @ (0.5 * (w + q)))

    def gap_dict(self, i: int) -> dict[str, Any] | None:
        """JSON-safe gap evidence of feature i (1-based neighbours, angles in degrees), or None."""
        if self.neighbours[i, 0] < 0:
            return None
        deg = math.degrees
        return {
            "neighbours": [int(self.neighbours[i, 0]) + 1, int(self.neighbours[i, 1]) + 1],
            "radius": _jf(self.radius[i]),
            "neighbour_radii": [_jf(self.neighbour_radii[i, 0]), _jf(self.neighbour_radii[i, 1])],
            "half_gap_deg": _jf(deg(self.half_gap[i])),
            "needed_half_gap_deg": _jf(deg(self.needed_half_gap[i])),
            "gap_before_deg": _jf(deg(self.gap_before[i])),
            "gap_after_deg": _jf(deg(self.gap_after[i])),
            "chord_distance": _jf(self.chord_distance[i]),
            "chord_margin": _jf(self.chord_margin[i]),
            "outside_chord": bool(self.outside_chord[i]),
        }

    def feature_dict(self, i: int) -> dict[str, Any]:
        """JSON-safe facts of feature i (0-based argument, 1-based numbers inside). ``separable`` is
        None where not computed or undecided (``separation_decision`` says which)."""
        if self.computed is not None and self.live[i] and not self.computed[i]:
            return {"separable": None, "separation_margin": None, "blockers": [], "gap": None,
                    "separation_decision": None, "separation_depth": None,
                    "separation_resolution": _jf(self.resolution)}
        und = self.is_undecided(i)
        return {
            "separable": None if und else bool(self.separable[i]),
            "separation_margin": _jf(self.margin[i]) if self.live[i] else None,
            "blockers": [j + 1 for j in self.blockers[i]],
            "gap": self.gap_dict(i),
            "separation_decision": self.decision(i),
            "separation_depth": _jf(self.depth[i]) if self.depth is not None and self.live[i] else None,
            "separation_resolution": _jf(self.resolution),
        }

    def to_dict(self) -> dict[str, Any]:
        live = np.nonzero(self.live if self.computed is None else self.computed)[0]
        und = np.zeros(self.n, dtype=bool) if self.undecided is None else self.undecided
        return {
            "separable": [int(i) + 1 for i in np.nonzero(self.separable & ~und)[0]],
            "not_separable": [int(i) + 1 for i in live[~self.separable[live] & ~und[live]]],
            "undecided": [int(i) + 1 for i in np.nonzero(und)[0]],
            "plane": self.plane,
            "tolerance": float(self.tolerance * self.scale),
            "resolution": float(self.resolution),
            "features": [dict(feature=i + 1, **self.feature_dict(i)) for i in range(self.n)],
        }

    def describe(self, i: int) -> str:
        """One line in words about feature i (1-based numbers)."""
        if not self.live[i]:
            return f"feature {i + 1}: dead (not tested)"
        if self.computed is not None and not self.computed[i]:
            return f"feature {i + 1}: separability not computed"
        if self.is_undecided(i):
            txt = (f"feature {i + 1}: separability undecided: signed margin {self.signed_margin(i):.3g} is within "
                   f"the parameters' resolution {self.resolution:.3g}")
        elif self.separable[i]:
            mg = self.margin[i]
            txt = (f"feature {i + 1}: separable, margin {mg:.4g}" if math.isfinite(mg)
                   else f"feature {i + 1}: separable (no other live feature)")
        else:
            bl = ", ".join(str(j + 1) for j in self.blockers[i])
            txt = f"feature {i + 1}: not separable, inside the hull of {bl}"
        if self.neighbours[i, 0] >= 0:
            u, v = (int(k) + 1 for k in self.neighbours[i])
            need = self.needed_half_gap[i]
            txt += (f"; neighbours {u}, {v}: half-gap {math.degrees(self.half_gap[i]):.2f} deg, needed "
                    + (f"{math.degrees(need):.2f} deg" if math.isfinite(need) else "none (aligned)"))
        return txt

    # the W the result was computed from (for separating_line); set by separability()
    _W: np.ndarray | None = field(default=None, repr=False)


@dataclass
class Sensitivity:
    """Per-feature sensitivity (0-based arrays; feature_dict is JSON-safe).

    gain: g_i = D_i.W_i (|W_i|^2 tied); fire_threshold: smallest x > 0 with
    x g_i + b_i > 0 (0: fires at any x > 0; inf: never); sliver_share: area of
    {h in shape : p_i(h) > 0} / area(shape) (nan where the shape has no area).
    """

    gain: np.ndarray
    fire_threshold: np.ndarray
    sliver_share: np.ndarray
    shape_area: float
    plane: str

    def feature_dict(self, i: int) -> dict[str, Any]:
        t = float(self.fire_threshold[i])
        return {"fire_threshold": _jf(t), "fires_on_valid_inputs": bool(t < 1.0), "fire_label": fire_label(t),
                "sliver_share": _jf(self.sliver_share[i])}

    def to_dict(self) -> dict[str, Any]:
        n = len(self.gain)
        return {"plane": self.plane, "shape_area": _jf(self.shape_area),
                "features": [dict(feature=i + 1, gain=_jf(self.gain[i]), **self.feature_dict(i)) for i in range(n)]}


# ----------------------------------------------------------------------------
# small exact helpers

def _cross(a, b):
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _seg_nearest(p, a, b):
    """Nearest points to p on segments a-b (broadcast over leading axes) and their distances."""
    d = b - a
    L2 = np.einsum("...i,...i->...", d, d)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(L2 > 0, np.einsum("...i,...i->...", p - a, d) / np.where(L2 > 0, L2, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    q = a + t[..., None] * d
    return q, np.linalg.norm(p - q, axis=-1)


def _hull2(P) -> list[int]:
    """Counter-clockwise convex hull of a few 2D points (Andrew's monotone chain),
    collinear points dropped; indices into P."""
    o = sorted(range(len(P)), key=lambda k: (P[k][0], P[k][1]))
    if len(o) <= 2:
        return o

    def turn(a, b, c):
        return (P[b][0] - P[a][0]) * (P[c][1] - P[a][1]) - (P[b][1] - P[a][1]) * (P[c][0] - P[a][0])

    lower: list[int] = []
    for k in o:
        while len(lower) >= 2 and turn(lower[-2], lower[-1], k) <= 0:
            lower.pop()
        lower.append(k)
    upper: list[int] = []
    for k in reversed(o):
        while len(upper) >= 2 and turn(upper[-2], upper[-1], k) <= 0:
            upper.pop()
        upper.append(k)
    return lower[:-1] + upper[:-1]


def min_norm_point(Q: ArrayLike) -> tuple[np.ndarray, list[int], np.ndarray]:
    """Wolfe's algorithm: the point x of conv(rows of Q) nearest the origin.

    Returns (x, support, weights): x = weights @ Q[support], the support
    affinely independent (at most m + 1 rows) and the weights > 0, summing to 1.
    Finite and exact up to rounding; stops when x.x - min_j Q_j.x <= WOLFE_REL R^2.
    """
    Q = np.asarray(Q, dtype=np.float64)
    k, m = Q.shape
    if k == 0:
        raise ValueError("min_norm_point needs at least one point")
    sq = np.einsum("ij,ij->i", Q, Q)
    R2 = max(float(sq.max()), 1e-300)
    j0 = int(np.argmin(sq))
    S = [j0]
    lam = np.array([1.0])
    x = Q[j0].copy()
    for _ in range(WOLFE_MAX_ITER):
        g = Q @ x
        j = int(np.argmin(g))
        if float(x @ x) - float(g[j]) <= WOLFE_REL * R2 or j in S or len(S) > m:
            break
        S.append(j)
        lam = np.append(lam, 0.0)
        while True:  # minor cycle: the affine minimiser of the corral
            A = Q[S]
            s = len(S)
            K = np.zeros((s + 1, s + 1))
            K[:s, :s] = A @ A.T
            K[:s, s] = 1.0
            K[s, :s] = 1.0
            rhs = np.zeros(s + 1)
            rhs[s] = 1.0
            mu = np.linalg.lstsq(K, rhs, rcond=None)[0][:s]
            if np.all(mu > 1e-15):
                lam = mu
                break
            neg = mu <= 1e-15
            with np.errstate(divide="ignore", invalid="ignore"):
                th = np.where(neg & (lam - mu > 0), lam / (lam - mu), np.inf)
            theta = float(min(1.0, th.min()))
            lam = lam + theta * (mu - lam)
            keep = lam > 1e-15
            if keep.all():  # rounding: drop the smallest
                keep[int(np.argmin(lam))] = False
            S = [S[t] for t in range(s) if keep[t]]
            lam = lam[keep]
            lam = lam / lam.sum()
            if len(S) == 1:
                break
        x = lam @ Q[S]
    return x, S, lam


# ----------------------------------------------------------------------------
# gap evidence from a chord (vectorised)

def _chord_distance(R1, R2, a1, a2):
    """Distance along W_i's ray to the chord of neighbours at radii R1, R2, angles -a1, +a2."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return R1 * R2 * np.sin(a1 + a2) / (R1 * np.sin(a1) + R2 * np.sin(a2))


def _needed_half_gap(r, R1, R2, a1, a2):
    """Half-gap x at which the chord would pass through W_i, alpha1 : alpha2 kept (bisection)."""
    T = a1 + a2
    with np.errstate(divide="ignore", invalid="ignore"):
        f1, f2 = a1 / T, a2 / T
        d0 = R1 * R2 / (R1 * f1 + R2 * f2)  # the limit of d as the gap closes
    out = np.full(r.shape, np.nan)
    ok = np.isfinite(d0) & (T > 0)
    out[ok & (r >= d0)] = 0.0  # outside the chord for any gap
    # aligned with a neighbour (a1 or a2 = 0): d = that neighbour's radius for every gap
    aligned = ok & (r < d0) & ((f1 <= 0) | (f2 <= 0))
    todo = ok & (r < d0) & ~aligned
    lo = np.zeros(int(todo.sum()))
    hi = np.full(lo.shape, 0.5 * np.pi)  # a gap of pi puts the chord through the origin
    rr, A, B, g1, g2 = r[todo], R1[todo], R2[todo], f1[todo], f2[todo]
    for _ in range(64):  # halving pi/2 64 times is below one ulp
        mid = 0.5 * (lo + hi)
        d = _chord_distance(A, B, 2 * mid * g1, 2 * mid * g2)
        inside = d > rr  # chord still beyond W_i: the gap must open more
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    out[todo] = 0.5 * (lo + hi)
    return out


# ----------------------------------------------------------------------------
# the planar method

def _hull_vertices(U: np.ndarray) -> np.ndarray | None:
    """Indices of the convex hull of the 2D points U, counter-clockwise; None for fewer than 3 points
    or a (numerically) collinear set."""
    k = U.shape[0]
    c0 = U.mean(axis=0)
    sv = np.linalg.svd(U - c0, compute_uv=False)
    if k < 3 or sv[1] <= geo.DEGENERATE_REL * sv[0]:
        return None
    if k <= PY_HULL_MAX:
        return np.asarray(_hull2(U.tolist()), dtype=np.int64)  # counter-clockwise
    from scipy.spatial import ConvexHull, QhullError
    try:
        return ConvexHull(U).vertices  # counter-clockwise in 2D
    except QhullError:
        return None


@dataclass
class _Hull:
    """The hull of the points U (k, 2) in angular order about an interior point c, and the inner points."""

    U: np.ndarray
    hull_v: np.ndarray      # (h,) hull vertices, angles about c increasing
    V: np.ndarray           # (h, 2) = U[hull_v]
    th_v: np.ndarray        # (h,) their angles about c
    inner: np.ndarray       # the other points, by angle about c
    th_in: np.ndarray
    touch: float            # a distance below this counts as touching

    @property
    def h(self) -> int:
        return len(self.hull_v)

    @property
    def prv(self) -> np.ndarray:
        return np.roll(np.arange(self.h), 1)

    @property
    def nxt(self) -> np.ndarray:
        return np.roll(np.arange(self.h), -1)


def _order_hull(U: np.ndarray, hull_v: np.ndarray) -> _Hull:
    k = U.shape[0]
    V = U[hull_v]
    touch = MARGIN_REL * float(np.max(np.hypot(U[:, 0], U[:, 1])))
    c = V.mean(axis=0)  # strictly inside the hull
    th_v = np.arctan2(V[:, 1] - c[1], V[:, 0] - c[0])
    r0 = int(np.argmin(th_v))
    hull_v = np.roll(hull_v, -r0)
    th_v = np.roll(th_v, -r0)  # increasing (convex polygon about an interior point)
    is_v = np.zeros(k, dtype=bool)
    is_v[hull_v] = True
    inner = np.nonzero(~is_v)[0]
    th_in = np.arctan2(U[inner, 1] - c[1], U[inner, 0] - c[0])
    o = np.argsort(th_in, kind="stable")
    return _Hull(U, hull_v, U[hull_v], th_v, inner[o], th_in[o], touch)


def _chain(hl: _Hull, t: int, cand: np.ndarray) -> np.ndarray | None:
    """The chain of the others' hull that replaces vertex t, from the candidate inner points in its
    triangle (None: the triangle is empty, the chord is the chain)."""
    U = hl.U
    pp, qq = hl.V[hl.prv[t]], hl.V[hl.nxt[t]]
    side = _cross(qq - pp, U[cand] - pp)  # v is on the right (< 0) of p -> q
    # beyond the chord by more than the touching distance: a point within rounding of
    # it (a near-duplicate of p or q) changes the margin by less than MARGIN_REL and
    # could cost p or q its place in the chain's hull
    cand = cand[side < -hl.touch * math.hypot(*(qq - pp))]
    if len(cand) == 0:
        return None
    pts = np.vstack([pp[None], qq[None], U[cand]])
    hv = _hull2(pts.tolist())
    # ccw order of conv(S) runs p -> chain -> q -> (chord) -> p
    s0 = hv.index(0)
    hv = hv[s0:] + hv[:s0]
    s1 = hv.index(1)
    ids = np.concatenate([[hl.hull_v[hl.prv[t]], hl.hull_v[hl.nxt[t]]], cand])
    return ids[np.array(hv[:s1 + 1])]


def _vertex_chains(hl: _Hull, wv: np.ndarray) -> list[np.ndarray | None]:
    """For each hull vertex asked for (wv), the chain of the others' hull that replaces it."""
    h, ni, inner = hl.h, len(hl.inner), hl.inner
    # inner points in the angular window (th_prev, th_next) about c
    lo_t = hl.th_v[hl.prv]
    hi_t = hl.th_v[hl.nxt]
    hi_t = np.where(hi_t <= lo_t, hi_t + 2 * np.pi, hi_t)
    wide = (hi_t - lo_t) >= np.pi  # the triangle may leave the window: look at every inner point
    th3 = np.concatenate([hl.th_in - 2 * np.pi, hl.th_in, hl.th_in + 2 * np.pi])
    a3 = np.searchsorted(th3, lo_t, side="left")
    b3 = np.searchsorted(th3, hi_t, side="right")
    chains: list[np.ndarray | None] = [None] * h
    for t in np.nonzero(wv)[0]:
        if ni == 0:
            break
        if wide[t] or h == 3:
            cand = inner
        else:
            if b3[t] <= a3[t]:
                continue
            cand = inner[np.arange(a3[t], b3[t]) % ni]
        if len(cand):
            chains[t] = _chain(hl, int(t), cand)
    return chains


def _vertex_margins(hl: _Hull, chains, wv, margin, nearest, blockers) -> tuple[np.ndarray, np.ndarray]:
    """Each hull vertex's distance to its chain (the chord when its triangle is empty), and the blockers
    of one that touches it. Returns the masks (simple: chord, cx: chain)."""
    U, V, hull_v, prv, nxt = hl.U, hl.V, hl.hull_v, hl.prv, hl.nxt
    simple = np.array([ch is None for ch in chains]) & wv
    cx = np.array([ch is not None for ch in chains])
    if simple.any():
        q, d = _seg_nearest(V[simple], V[prv][simple], V[nxt][simple])
        iv = hull_v[simple]
        margin[iv] = d
        nearest[iv] = q
    for t in np.nonzero(cx)[0]:
        ch = chains[t]
        q, d = _seg_nearest(V[t][None], U[ch[:-1]], U[ch[1:]])
        e = int(np.argmin(d))
        margin[hull_v[t]] = d[e]
        nearest[hull_v[t]] = q[e]
    # a vertex within rounding of its chain touches it: blocked by that edge's ends
    scale = float(np.max(np.linalg.norm(U, axis=1)))
    for t in np.nonzero(wv & (margin[hull_v] <= MARGIN_REL * scale))[0]:
        ch = chains[t] if chains[t] is not None else np.array([hull_v[prv[t]], hull_v[nxt[t]]])
        _, d = _seg_nearest(V[t][None], U[ch[:-1]], U[ch[1:]])
        e = int(np.argmin(d))
        blockers[hull_v[t]] = sorted({int(ch[e]), int(ch[e + 1])})
    return simple, cx


def _inner_blockers(hl: _Hull, inner_w: np.ndarray, th_w: np.ndarray, blockers) -> None:
    """Inner points: the corners of the fan triangle of the hull that holds each (apex: the vertex
    starting the point's sector about c) with a barycentric weight above BARY_TOL."""
    nw, h, V, hull_v = len(inner_w), hl.h, hl.V, hl.hull_v
    if not nw:
        return
    pos = (np.searchsorted(hl.th_v, th_w, side="right") - 1) % h
    p = hl.U[inner_w]
    A = V[pos]
    lo = np.ones(nw, dtype=np.int64)
    hi = np.full(nw, h - 1, dtype=np.int64)
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        ok = _cross(V[(pos + mid) % h] - A, p - A) >= 0
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    B, C = V[(pos + lo) % h], V[(pos + lo + 1) % h]
    area = _cross(B - A, C - A)
    la = _cross(B - p, C - p) / area
    lb = _cross(C - p, A - p) / area
    lc = 1.0 - la - lb
    tri = np.stack([hull_v[pos], hull_v[(pos + lo) % h], hull_v[(pos + lo + 1) % h]], axis=1)
    lam = np.stack([la, lb, lc], axis=1)
    keep = lam > BARY_TOL
    keep[~keep.any(axis=1), 0] = True
    for i, tr, kp in zip(inner_w.tolist(), tri.tolist(), keep.tolist(), strict=True):
        blockers[i] = sorted(v for v, f in zip(tr, kp, strict=True) if f)


def _gap_neighbours(hl: _Hull, chains, simple, cx, inner_w, nb) -> None:
    """Gap evidence (the origin inside the hull): the edge of the others' hull crossed by the ray 0 -> U_i."""
    U, V, hull_v, h, prv, nxt = hl.U, hl.V, hl.hull_v, hl.h, hl.prv, hl.nxt
    P, Qn = V[prv], V[nxt]
    ang_v = np.arctan2(V[:, 1], V[:, 0])
    o2 = np.argsort(ang_v, kind="stable")
    ang_s = ang_v[o2]
    if len(inner_w):
        ang = np.arctan2(U[inner_w, 1], U[inner_w, 0])
        pos2 = (np.searchsorted(ang_s, ang, side="right") - 1) % h
        # consecutive in angle about the origin = consecutive along the hull (origin inside)
        nb[inner_w, 0] = hull_v[o2[pos2]]
        nb[inner_w, 1] = hull_v[o2[(pos2 + 1) % h]]
    # a vertex whose triangle holds no other point: the chord of its hull neighbours
    ok = simple & (_cross(Qn - P, -P) > 0)
    nb[hull_v[ok], 0] = hull_v[prv[ok]]
    nb[hull_v[ok], 1] = hull_v[nxt[ok]]
    for t in np.nonzero(cx)[0]:
        ch = chains[t]
        A, B = U[ch[:-1]], U[ch[1:]]
        if not np.all(_cross(B - A, -A) > 0):
            continue  # the origin is outside the others' hull
        w = V[t]
        e = np.nonzero((_cross(A, w) >= 0) & (_cross(w, B) >= 0))[0]
        if len(e):
            nb[hull_v[t]] = (ch[e[0]], ch[e[0] + 1])


def _planar(U, want=None) -> dict[str, Any]:
    """Separability of distinct 2D points U (k, 2) from each other; see the module doc.

    Returns margin (k,), nearest (k, 2), blockers (list of index lists), and the
    gap evidence neighbours (k, 2) (-1: none). ``want`` (k,) bool: only these
    points' answers are computed (the hull is always of all points).
    """
    k = U.shape[0]
    margin = np.zeros(k)
    nearest = np.full((k, 2), np.nan)
    blockers: list[list[int]] = [[] for _ in range(k)]
    nb = np.full((k, 2), -1, dtype=np.int64)
    if k == 1:
        margin[0] = np.inf
        return dict(margin=margin, nearest=nearest, blockers=blockers, neighbours=nb)
    hull_v = _hull_vertices(U)
    if hull_v is None or len(hull_v) < 3:
        return _collinear(U, margin, nearest, blockers, nb)
    hl = _order_hull(U, hull_v)
    want = np.ones(k, dtype=bool) if want is None else np.asarray(want, dtype=bool)
    wv = want[hl.hull_v]  # the hull vertices asked for
    # hull vertices: the chain of the others' hull that replaces each one
    chains = _vertex_chains(hl, wv)
    simple, cx = _vertex_margins(hl, chains, wv, margin, nearest, blockers)
    # inner points
    wi = want[hl.inner]
    inner_w = hl.inner[wi]
    _inner_blockers(hl, inner_w, hl.th_in[wi], blockers)
    # gap evidence needs the origin strictly inside the full hull
    E0 = hl.V
    if np.all(_cross(np.roll(E0, -1, axis=0) - E0, -E0) > 0):
        _gap_neighbours(hl, chains, simple, cx, inner_w, nb)
    return dict(margin=margin, nearest=nearest, blockers=blockers, neighbours=nb)


def _collinear(U, margin, nearest, blockers, nb):
    """Distinct points on one line: the two extremes are separable, by the distance to the next."""
    k = U.shape[0]
    d = U[-1] - U[0] if k == 2 else np.linalg.svd(U - U.mean(axis=0), full_matrices=False)[2][0]
    t = (U - U.mean(axis=0)) @ d
    o = np.argsort(t, kind="stable")
    for e in (0, k - 1):
        i = o[e]
        j = o[1] if e == 0 else o[k - 2]
        margin[i] = float(np.linalg.norm(U[i] - U[j]))
        nearest[i] = U[j]
    for e in range(1, k - 1):
        margin[o[e]] = 0.0
        blockers[o[e]] = sorted([int(o[e - 1]), int(o[e + 1])])
    return dict(margin=margin, nearest=nearest, blockers=blockers, neighbours=nb)


def _general(U, want=None) -> dict[str, Any]:
    """Separability of distinct points U (k, m), m > 2: Wolfe's algorithm per point (``want``: only those)."""
    k, m = U.shape
    margin = np.zeros(k)
    nearest = np.full((k, m), np.nan)
    blockers: list[list[int]] = [[] for _ in range(k)]
    if k == 1:
        margin[0] = np.inf
        return dict(margin=margin, nearest=nearest, blockers=blockers)
    cand = np.ones(k, dtype=bool)
    eq = None  # the hull's facets (unit normals, offsets), kept for the depth of inner points
    if k > m + 1 and m <= 6:
        from scipy.spatial import ConvexHull, QhullError
        try:
            hull = ConvexHull(U)
            hv, eq = hull.vertices, hull.equations
            cand[:] = False
            cand[hv] = True
        except QhullError:
            pass  # flat point sets: test every point
    scale = float(np.max(np.linalg.norm(U, axis=1)))
    idx = np.arange(k)
    for i in (range(k) if want is None else np.nonzero(want)[0].tolist()):
        others = idx[idx != i]
        x, S, lam = min_norm_point(U[others] - U[i])
        dist = float(np.linalg.norm(x))
        if cand[i] and dist > MARGIN_REL * scale:
            margin[i] = dist
            nearest[i] = U[i] + x
        else:
            margin[i] = dist if cand[i] else 0.0
            blockers[i] = sorted(int(others[s]) for s, l in zip(S, lam, strict=True) if l > BARY_TOL)
    return dict(margin=margin, nearest=nearest, blockers=blockers, hull_equations=eq)


# ----------------------------------------------------------------------------
# public API

def _check_args(W, live_mask, features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W as float64, the live mask, the features to answer for), or ValueError naming the argument."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be (m, n), got shape {W.shape}")
    n = W.shape[1]
    live = (np.any(W != 0, axis=0) if live_mask is None
            else np.asarray(live_mask, dtype=bool).reshape(-1))
    if live.shape != (n,):
        raise ValueError(f"live_mask must be (n,) = ({n},), got shape {live.shape}")
    if not np.all(np.isfinite(W[:, live])):
        raise ValueError("W must be finite on the live features")
    computed = live.copy()
    if features is not None:
        fm = np.zeros(n, dtype=bool)
        f = np.asarray(features, dtype=np.int64).ravel()
        if f.size and (f.min() < 0 or f.max() >= n):
            raise ValueError(f"features must be 0-based indices in 0..{n - 1}")
        fm[f] = True
        computed &= fm
    return W, live, computed


def _points_answer(U: np.ndarray, want: np.ndarray, m: int) -> dict[str, Any]:
    """margin, nearest, blockers (and neighbours for m <= 2) of the distinct points U (k, m)."""
    if m == 2:
        return _planar(U, want)
    if m > 2:
        return _general(U, want)
    res: dict[str, Any] = (_planar(np.column_stack([U, np.zeros(len(U))]), want) if len(U) > 1
           else dict(margin=np.array([np.inf]), nearest=np.full((1, 2), np.nan), blockers=[[]],
                     neighbours=np.full((1, 2), -1)))
    res["nearest"] = res["nearest"][:, :1]
    return res


def _plane_neighbours(W, idx, reps, want, res) -> np.ndarray:
    """Gap-evidence neighbours of the representatives on the drawn plane (m = 2: the same points;
    m > 2: the projected ones, when no two of them coincide; m = 1: none)."""
    m = W.shape[0]
    if m == 2:
        return res["neighbours"]
    nb_rep = np.full((len(reps), 2), -1, dtype=np.int64)
    if m > 2:
        U2 = (geo.plane_basis(W)[0].T @ W[:, idx]).T[reps]
        if len(np.unique(U2, axis=0)) == len(reps):  # no two projected points coincide
            nb_rep = _planar(U2, want)["neighbours"]
    return nb_rep


def _answer_live(W, idx, computed, scale, out: dict[str, Any]) -> None:
    """Fill out's margin, nearest, blockers, separable and neighbours for the live features idx."""
    margin, blockers = out["margin"], out["blockers"]
    P = np.ascontiguousarray(W[:, idx].T)
    # exact duplicates: each is inside the others' hull (its twin), margin 0
    _, first, inv, cnt = np.unique(P, axis=0, return_index=True, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    dup = cnt[inv] > 1
    for g in np.nonzero(cnt > 1)[0]:
        members = np.nonzero(inv == g)[0]
        for t in members:
            twin = int(members[members != t][0])
            blockers[idx[t]] = [int(idx[twin])]
            margin[idx[t]] = 0.0
    reps = np.sort(first)
    want = computed[idx[reps]]
    res = _points_answer(P[reps], want, W.shape[0])
    out["hull_equations"] = res.get("hull_equations")
    solo = ~dup[reps] & want
    feat = idx[reps]  # original index of each representative
    fs = feat[solo]
    margin[fs] = res["margin"][solo]
    out["nearest"][fs] = res["nearest"][solo]
    for t in np.nonzero(solo)[0]:
        blockers[feat[t]] = [int(feat[j]) for j in res["blockers"][t]]
    out["sep"][fs] = res["margin"][solo] > MARGIN_REL * scale
    nb_rep = _plane_neighbours(W, idx, reps, want, res)
    has = solo & (nb_rep[:, 0] >= 0)
    out["nbr"][feat[has]] = feat[nb_rep[has]]
    out["sep"][~computed] = False
    margin[~computed] = np.nan
    for i in idx[dup & ~computed[idx]]:  # only duplicates have answers filled in up front
        blockers[i] = []


def _inside_depth(Ud: np.ndarray, ask: np.ndarray, equations: np.ndarray | None = None) -> np.ndarray:
    """(k,) for the distinct points Ud (k, m) asked for (inside or touching the hull of the others):
    the distance to the boundary of that hull (see the module doc; nan where not measured).
    equations: the facets of the hull of Ud (m > 2) when already known."""
    k, m = Ud.shape
    depth = np.full(k, np.nan)
    if k < 2 or not ask.any():
        return depth
    if m == 1:
        t = Ud[:, 0]
        depth[ask] = np.minimum(t - t.min(), t.max() - t)[ask]
        return depth
    if m == 2:
        hv = _hull_vertices(Ud)
        if hv is None:
            depth[ask] = 0.0  # collinear: the hull has no interior
            return depth
        V = Ud[hv]
        E = np.roll(V, -1, axis=0) - V
        L = np.linalg.norm(E, axis=1)
        isv = np.zeros(k, dtype=bool)
        isv[hv] = True
        depth[ask & isv] = 0.0
        q = np.nonzero(ask & ~isv)[0]
        blk = max(1, geo.CHUNK_ELEMS // max(len(V), 1))
        for s0 in range(0, len(q), blk):
            qq = q[s0:s0 + blk]
            d = _cross(E[None, :, :], Ud[qq][:, None, :] - V[None, :, :]) / L[None, :]  # > 0: inside (ccw)
            depth[qq] = np.maximum(d.min(axis=1), 0.0)
        return depth
    if k <= m + 1:
        depth[ask] = 0.0  # a point in the hull of at most m others: the set is flat
        return depth
    if m > 6:
        return depth  # not measured
    eq = equations
    if eq is None:
        from scipy.spatial import ConvexHull, QhullError
        try:
            eq = ConvexHull(Ud).equations
        except QhullError:
            depth[ask] = 0.0  # flat in R^m
            return depth
    # unit normals, inside: normal . x + offset <= 0; a hull vertex (or a point on a facet) is at ~0
    q = np.nonzero(ask)[0]
    depth[q] = np.maximum(np.min(-(Ud[q] @ eq[:, :m].T + eq[:, m]), axis=1), 0.0)
    return depth


def _undecided(W, idx, computed, sep, margin, res, equations=None) -> tuple[np.ndarray, np.ndarray]:
    """(depth (n,), undecided (n,)) of the live features idx: the signed margin (margin outside,
    minus the depth inside) within res of 0 (res = 0: never undecided)."""
    n = W.shape[1]
    depth = np.full(n, np.nan)
    und = np.zeros(n, dtype=bool)
    if not len(idx):
        return depth, und
    P = np.ascontiguousarray(W[:, idx].T)
    ask = computed[idx] & ~sep[idx]
    if ask.any():
        Ud, inv = np.unique(P, axis=0, return_inverse=True)
        inv = inv.ravel()
        ask_d = np.zeros(len(Ud), dtype=bool)
        ask_d[inv[ask]] = True
        d = _inside_depth(Ud, ask_d, equations)
        depth[idx[ask]] = d[inv[ask]]
    if res <= 0:
        return depth, und
    comp = computed[idx]
    signed = np.where(sep[idx], margin[idx], -depth[idx])
    und[idx] = comp & (np.abs(signed) <= res)
    for t in np.nonzero(comp & ~sep[idx] & np.isnan(depth[idx]))[0]:  # m > 6 inside: a near-duplicate?
        dist = np.linalg.norm(np.delete(P, t, axis=0) - P[t], axis=1)
        und[idx[t]] = bool(dist.size and dist.min() <= res)
    return depth, und


def _gap_quantities(W, nbr) -> dict[str, np.ndarray]:
    """Radii, gaps, the half-gap needed and the chord's distance and margin on the plane, for each
    feature with two neighbours (nan elsewhere)."""
    m, n = W.shape
    W2 = W if m == 2 else (geo.project(W) if m > 2 else np.vstack([W, np.zeros((1, n))]))
    g = {k: np.full(n, np.nan) for k in ("radius", "gap_before", "gap_after", "half_gap", "needed_half_gap",
                                         "chord_distance", "chord_margin")}
    g["neighbour_radii"] = np.full((n, 2), np.nan)
    g["outside_chord"] = np.zeros(n, dtype=bool)
    gi = np.nonzero(nbr[:, 0] >= 0)[0]
    if not len(gi):
        return g
    w = W2[:, gi].T
    u = W2[:, nbr[gi, 0]].T
    v = W2[:, nbr[gi, 1]].T
    r = np.linalg.norm(w, axis=1)
    R1 = np.linalg.norm(u, axis=1)
    R2 = np.linalg.norm(v, axis=1)
    a1 = np.maximum(np.arctan2(_cross(u, w), np.einsum("ij,ij->i", u, w)), 0.0)
    a2 = np.maximum(np.arctan2(_cross(w, v), np.einsum("ij,ij->i", w, v)), 0.0)
    g["radius"][gi], g["neighbour_radii"][gi, 0], g["neighbour_radii"][gi, 1] = r, R1, R2
    g["gap_before"][gi], g["gap_after"][gi] = a1, a2
    g["half_gap"][gi] = 0.5 * (a1 + a2)
    g["chord_distance"][gi] = _chord_distance(R1, R2, a1, a2)
    g["needed_half_gap"][gi] = _needed_half_gap(r, R1, R2, a1, a2)
    e = v - u
    cr = _cross(e, w - u)
    g["chord_margin"][gi] = -cr / np.linalg.norm(e, axis=1)  # > 0: beyond the chord (away from the origin)
    g["outside_chord"][gi] = g["chord_margin"][gi] > 0
    return g


def separability(W: ArrayLike, live_mask: ArrayLike | None = None,
                 features: ArrayLike | None = None, resolution_rel: float = FLOAT32_RES) -> Separability:
    """Separability of each live feature vector from the other live ones (see the module doc).

    W: (m, n) float64; live_mask: (n,) bool, the features to test and to test
    against (default: every feature with W_i != 0). Dead features get
    separable False, margin nan, no blockers and no gap evidence.
    features: 0-based indices to answer for (default: every live one); the
    others are still obstacles but are left uncomputed (``computed`` False,
    margin nan, separable False, None in feature_dict). At n = 10,000 the
    whole answer takes ~50-150 ms; views that redraw per snapshot ask only
    for the selected features (the hull of all live points, ~10 ms, remains).
    resolution_rel: the parameters' relative resolution (FLOAT32_RES for trained,
    float32, parameters; 0 for exact ones): a signed margin within
    resolution_rel x (largest live |W_j|) of 0 is undecided.
    """
    W, live, computed = _check_args(W, live_mask, features)
    m, n = W.shape
    idx = np.nonzero(live)[0]
    scale = float(np.max(np.linalg.norm(W[:, idx], axis=0))) if len(idx) else 1.0
    scale = scale if scale > 0 else 1.0
    ans: dict[str, Any] = dict(margin=np.full(n, np.nan), nearest=np.full((n, m), np.nan),
               blockers=[[] for _ in range(n)], sep=np.zeros(n, dtype=bool), nbr=np.full((n, 2), -1, dtype=np.int64))
    if len(idx):
        _answer_live(W, idx, computed, scale, ans)
    plane = "latent plane (m = 2)" if m == 2 else geo.plane_basis(W)[1] if m > 2 else "latent line (m = 1)"
    if not (resolution_rel >= 0 and math.isfinite(resolution_rel)):
        raise ValueError(f"resolution_rel must be a finite number >= 0, got {resolution_rel!r}")
    res = float(resolution_rel) * scale
    depth, und = _undecided(W, idx, computed, ans["sep"], ans["margin"], res, ans.get("hull_equations"))
    out = Separability(n=n, m=m, live=live, separable=ans["sep"], margin=ans["margin"], nearest=ans["nearest"],
                       blockers=ans["blockers"], neighbours=ans["nbr"], **_gap_quantities(W, ans["nbr"]),
                       plane=plane, tolerance=MARGIN_REL, scale=scale, computed=computed,
                       depth=depth, undecided=und, resolution=res)
    out._W = W
    return out


def fire_threshold(gain: ArrayLike, b: ArrayLike) -> np.ndarray:
    """(n,) smallest x > 0 with x gain_i + b_i > 0: -b/gain (b < 0 < gain), 0 (b > 0, or b = 0 < gain), else inf."""
    g = np.asarray(gain, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    out = np.full(g.shape, np.inf)
    out[b > 0] = 0.0
    out[(b == 0) & (g > 0)] = 0.0
    neg = (b < 0) & (g > 0)
    out[neg] = -b[neg] / g[neg]
    return out


def fire_label(threshold: float) -> str:
    """A fire threshold in words. One-hot inputs are x e_i with x in (0, 1]: the output fires on a
    valid input iff the threshold is below 1 (at x = 1 exactly, x g + b > 0 iff -b/g < 1)."""
    t = float(threshold)
    if math.isnan(t) or math.isinf(t):
        return "never fires"
    if t <= 0:
        return "fires at any input x > 0"
    if t >= 1:
        return f"never fires on valid inputs (needs x > {t:.3g}; inputs are in (0, 1])"
    return f"fires for x > {t:.3g}"


def sensitivity(W: ArrayLike, b: ArrayLike, M: ArrayLike | None = None) -> Sensitivity:
    """Per-feature fire threshold and sliver share (see the module doc). M: (n, m) untied decoder."""
    W, b = geo._check_Wb(W, b)
    m, n = W.shape
    D = geo.decoder_of(W, M)
    gain = np.einsum("ij,ji->i", D, W)
    thr = fire_threshold(gain, b)
    if m == 2:
        W2, D2, plane = W, (None if M is None else D), "latent plane (m = 2)"
    elif m > 2:
        U, plane = geo.plane_basis(W)
        W2, D2 = U.T @ W, (None if M is None else D @ U)
    else:
        W2 = np.vstack([W, np.zeros((1, n))])
        D2 = None if M is None else np.column_stack([D, np.zeros(n)])
        plane = "latent line (m = 1): the shape has no area"
    share = np.full(n, np.nan)
    zone, area = geo.zone_areas(W2, b, decoder=D2)
    if area > 0 and np.isfinite(area):
        share = zone / area
    return Sensitivity(gain=gain, fire_threshold=thr, sliver_share=share, shape_area=float(area), plane=plane)
