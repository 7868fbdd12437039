"""What a model has learnt: per-feature facts, regularity and a verdict (numpy, no Qt).

``analyze(snapshot)`` reads one Snapshot and returns an Analysis; its
``to_dict()`` is JSON-safe and ``format_analysis`` prints a table for the CLI.

Criteria (one-hot data; p(h) = D h + b, D the decoder, W^T when tied):
- dead: |W_i| < DEAD_REL * max_j |W_j|, or |W_i| < DEAD_ABS. A dead feature
  outputs ReLU(b_i) whatever the input (under MSE b_i settles at 1/n).
- reconstructed ("unique single positive value"): i not dead,
  p_i(W_i) > RECON_TOL, and p_j(W_i) <= RECON_TOL for every live j != i. A dead
  j fires ReLU(b_j) on every input; that is j's own failure, not i's.
- merged: live features whose directions lie within the merge threshold of one
  another (single-linkage groups); same direction means indistinguishable
  zones, and at most one of them can be reconstructed.
- regularity of the live features: radius_cv (std/mean of |W_i|), gap_ratio
  (largest / smallest angular gap between consecutive live features in angular
  order, the wrap-around gap included), radius_groups (sorted live norms split
  where one norm exceeds the previous by more than RADIUS_GROUP_RATIO).
- verdict, first match wins: perfect (every feature reconstructed),
  symmetric_failure (>= 1 dead feature, every other feature reconstructed),
  merged_failure (some live features share a direction), two_circle_failure
  (live features on >= 2 radius groups, some not reconstructed), imperfect.
  Zero loss does not force a regular polygon (the seed's "wiggle room"), so
  perfect does not demand regularity: regularity is reported beside it.

For m > 2 angles, gaps and the angular order are measured on the plane of
model.geometry.plane_basis (the analysis names it); norms, D_i, merging (the
angle between W_i and W_j in R^m) and reconstruction use the full W.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from . import geometry as geo
from .snapshot import Snapshot

#: A feature is dead below this fraction of the largest feature norm. A tenth
#: of the largest norm tilts the plane along its axis by a hundredth of what
#: the largest does (p_i(W_i) = |W_i|^2); the seed's dead feature sits at ~0.
DEAD_REL = 0.1
#: ... or below this absolute norm (covers W = 0, where the relative test is void).
DEAD_ABS = 1e-6
#: Tolerance on pre-activations (outputs are on the scale of the target 1).
#: Training approaches the sign boundary p_j(W_i) = 0 from above only
#: asymptotically (the gradient vanishes with the error), so an exact sign test
#: would call nearly perfect models failures; 1e-2 is 1% of the target and a
#: wrong output below it costs at most 1e-4 of loss. Exact solutions sit at 0
#: +- 1e-12, far inside it.
RECON_TOL = 1e-2
#: Two live features are merged when their directions differ by less than
#: min(MERGE_DEG, MERGE_FRAC * 360/n) degrees: 1 degree, but never more than a
#: tenth of the regular n-gon's spacing (so a regular 10,000-gon is not merged).
MERGE_DEG = 1.0
MERGE_FRAC = 0.1
#: Sorted live norms start a new radius group when one exceeds the previous by
#: more than this factor. Wiggle-room solutions vary radii by ~13% (about 1.13
#: between extremes); two-circle failures differ by about 2x.
RADIUS_GROUP_RATIO = 1.3
#: Sparse data: a feature counts as represented when |W_i| > REPRESENTED_NORM
#: (Toy Models of Superposition: represented features have |W_i| near 1).
REPRESENTED_NORM = 0.5
#: Sparse data: a feature "has its own dimension" when D_i > DIM_HALF.
DIM_HALF = 0.5

VERDICTS = ("perfect", "symmetric_failure", "merged_failure", "two_circle_failure", "imperfect")
SPARSE_VERDICT = "n/a (sparse data)"


def _jf(x) -> Optional[float]:
    """JSON-safe float: None for nan/inf."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _ranges(one_based: List[int]) -> str:
    """[1, 2, 3, 5] -> '1-3, 5'."""
    if not one_based:
        return "none"
    out, s, p = [], one_based[0], one_based[0]
    for v in one_based[1:] + [None]:
        if v is not None and v == p + 1:
            p = v
            continue
        out.append(str(s) if s == p else f"{s}-{p}")
        if v is not None:
            s = p = v
    return ", ".join(out)


@dataclass
class Analysis:
    """The facts about one snapshot. Arrays are 0-based; to_dict() is 1-based."""

    step: int
    n: int
    m: int
    onehot: bool
    loss: Optional[float]  # one-hot: exact float64 loss; sparse: the recorded loss
    recorded_loss: Optional[float]
    verdict: str
    verdict_text: str
    plane: str
    norms: np.ndarray
    angles_deg: np.ndarray
    biases: np.ndarray
    dims: np.ndarray
    self_activation: np.ndarray  # p_i(W_i)
    max_other: np.ndarray  # max over live j != i of p_j(W_i) (-inf if none)
    reconstructed_mask: np.ndarray
    dead_mask: np.ndarray
    merged_groups: List[List[int]]  # 0-based, each of size >= 2
    radius_cv: Optional[float]
    gap_ratio: Optional[float]  # inf when two live features share an angle
    radius_groups: List[Dict[str, Any]]  # {"radius": mean, "members": [0-based]}
    sparse: Dict[str, Any] = field(default_factory=dict)
    tolerances: Dict[str, float] = field(default_factory=dict)

    # -- convenience (0-based)
    @property
    def reconstructed(self) -> List[int]:
        return np.nonzero(self.reconstructed_mask)[0].tolist()

    @property
    def dead(self) -> List[int]:
        return np.nonzero(self.dead_mask)[0].tolist()

    def merged_with(self, i: int) -> List[int]:
        for g in self.merged_groups:
            if i in g:
                return [j for j in g if j != i]
        return []

    def to_dict(self) -> Dict[str, Any]:
        """JSON-safe summary (json.dumps(..., allow_nan=False) works). Features are 1-based."""
        partner: Dict[int, List[int]] = {}
        for g in self.merged_groups:
            for i in g:
                partner[i] = [j + 1 for j in g if j != i]
        feats = []
        for i in range(self.n):
            feats.append({
                "feature": i + 1,
                "norm": _jf(self.norms[i]),
                "angle_deg": _jf(self.angles_deg[i]),
                "bias": _jf(self.biases[i]),
                "dim": _jf(self.dims[i]),
                "self_activation": _jf(self.self_activation[i]),
                "max_other_activation": _jf(self.max_other[i]),
                "reconstructed": bool(self.reconstructed_mask[i]),
                "dead": bool(self.dead_mask[i]),
                "merged_with": partner.get(i, []),
            })
        d = {
            "step": int(self.step),
            "loss": _jf(self.loss),
            "recorded_loss": _jf(self.recorded_loss),
            "n": int(self.n),
            "m": int(self.m),
            "data": "one-hot" if self.onehot else "sparse",
            "verdict": self.verdict,
            "verdict_text": self.verdict_text,
            "plane": self.plane,
            "reconstructed": [i + 1 for i in self.reconstructed],
            "dead": [i + 1 for i in self.dead],
            "merged": [[i + 1 for i in g] for g in self.merged_groups],
            "features": feats,
            "regularity": {
                "radius_cv": _jf(self.radius_cv),
                # None when undefined (no live feature) or infinite (a zero gap)
                "gap_ratio": _jf(self.gap_ratio),
                "gap_ratio_infinite": bool(self.gap_ratio is not None and math.isinf(self.gap_ratio)),
                "radius_groups": [
                    {"radius": _jf(g["radius"]), "members": [i + 1 for i in g["members"]]}
                    for g in self.radius_groups
                ],
            },
            "tolerances": {k: float(v) for k, v in self.tolerances.items()},
        }
        if self.sparse:
            d["sparse"] = {k: (_jf(v) if isinstance(v, float) else v) for k, v in self.sparse.items()}
        return d


# ----------------------------------------------------------------------------
# pieces

def _merged_groups(W, W2, live, thr_rad) -> List[List[int]]:
    idx = np.nonzero(live)[0]
    L = len(idx)
    if L < 2:
        return []
    if W.shape[0] <= 2:
        th = np.arctan2(W2[1, idx], W2[0, idx])
        o = np.argsort(th, kind="stable")
        ths = th[o]
        link = np.diff(ths) < thr_rad  # link t -> t+1
        wrap = (ths[0] + 2 * np.pi - ths[-1]) < thr_rad
        label = np.concatenate([[0], np.cumsum(~link)])
        if wrap and label[-1] != 0:
            label[label == label[-1]] = 0
        groups: Dict[int, List[int]] = {}
        for lab, i in zip(label.tolist(), idx[o].tolist()):
            groups.setdefault(lab, []).append(i)
    else:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components
        U = W[:, idx] / np.linalg.norm(W[:, idx], axis=0)
        cthr = math.cos(thr_rad)
        rows, cols = [], []
        blk = max(1, geo.CHUNK_ELEMS // L)
        for s in range(0, L, blk):
            C = U[:, s:s + blk].T @ U
            r, c = np.nonzero(C > cthr)
            rows.append(r + s)
            cols.append(c)
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        ncomp, lab = connected_components(coo_matrix((np.ones(len(r)), (r, c)), shape=(L, L)), directed=False)
        groups = {}
        for la, i in zip(lab.tolist(), idx.tolist()):
            groups.setdefault(la, []).append(i)
    out = [sorted(g) for g in groups.values() if len(g) >= 2]
    return sorted(out)


def _regularity(nrm, ang, live):
    idx = np.nonzero(live)[0]
    if len(idx) == 0:
        return None, None, []
    r = nrm[idx]
    cv = float(np.std(r) / np.mean(r)) if np.mean(r) > 0 else None
    if len(idx) == 1:
        gap = 1.0
    else:
        th = np.sort(ang[idx])
        gaps = np.diff(np.concatenate([th, [th[0] + 2 * np.pi]]))
        gmin, gmax = float(gaps.min()), float(gaps.max())
        gap = math.inf if gmin <= 0 else gmax / gmin
    o = np.argsort(r, kind="stable")
    rs = r[o]
    breaks = np.nonzero(rs[1:] > RADIUS_GROUP_RATIO * rs[:-1])[0] + 1
    groups = []
    for part in np.split(np.arange(len(rs)), breaks):
        groups.append({"radius": float(np.mean(rs[part])), "members": sorted(idx[o[part]].tolist())})
    return cv, gap, groups


# ----------------------------------------------------------------------------
# the analysis

def analyze(snapshot: Snapshot, tol: float = RECON_TOL, onehot: bool = True) -> Analysis:
    """Analyse one snapshot. onehot=False: the model was trained on sparse data.

    tol is the reconstruction tolerance (RECON_TOL). The one-hot facts (p_i(W_i),
    the largest live p_j(W_i), and the float64 one-hot loss, importance-weighted)
    come from one fused pass, geometry.onehot_probe: O(n^2 m) time, O(n) memory
    (about 0.2 s at n = 10,000, m = 2). The loss agrees with
    geometry.onehot_loss (the plain numpy path) to 1e-12 relative.
    """
    W, b = snapshot.W, snapshot.b
    m, n = W.shape
    imp = np.ones(n) if snapshot.importance is None else np.asarray(snapshot.importance, dtype=np.float64)
    U, plane = geo.plane_basis(W)
    W2 = U.T @ W
    nrm = geo.norms(W)
    ang = geo.angles(W2)
    dims = geo.feature_dimensionality(W)
    maxn = float(nrm.max()) if n else 0.0
    dead = (nrm < DEAD_REL * maxn) | (nrm < DEAD_ABS)
    live = ~dead
    selfa, other, loss1h = geo.onehot_probe(W, b, importance=imp, M=snapshot.M, live=live)
    recon = live & (selfa > tol) & (other <= tol)
    thr_deg = min(MERGE_DEG, MERGE_FRAC * 360.0 / max(n, 1))
    groups = _merged_groups(W, W2, live, math.radians(thr_deg))
    cv, gap, rgroups = _regularity(nrm, ang, live)
    recorded = float(snapshot.loss) if snapshot.loss is not None else math.nan
    nd, nl, nr = int(dead.sum()), int(live.sum()), int(recon.sum())
    sparse: Dict[str, Any] = {}
    if onehot:
        one = lambda mask: _ranges([i + 1 for i in np.nonzero(mask)[0].tolist()])
        if nr == n:
            verdict, text = "perfect", f"every feature reconstructed (all {n})"
        elif nd >= 1 and nl >= 1 and nr == nl:
            verdict = "symmetric_failure"
            text = (f"feature(s) {one(dead) if len(one(dead)) <= 80 else str(nd)} dead (output ReLU(b) for every input), "
                    f"every other feature reconstructed")
        elif groups:
            verdict = "merged_failure"
            shown = "; ".join("{" + ", ".join(str(i + 1) for i in g) + "}" for g in groups[:8])
            more = f" and {len(groups) - 8} more groups" if len(groups) > 8 else ""
            text = f"live features share a direction: {shown}{more}"
        elif len(rgroups) >= 2 and nr < nl:
            verdict = "two_circle_failure"
            text = (f"live features on {len(rgroups)} radii ("
                    + ", ".join(f"r={g['radius']:.3g}: {len(g['members'])}" for g in rgroups[:8])
                    + (", ..." if len(rgroups) > 8 else "")
                    + ")" + (f"; not reconstructed: {one(live & ~recon)}" if len(one(live & ~recon)) <= 80 else ""))
        else:
            verdict = "imperfect"
            bad = one(~recon)
            text = f"{nr} of {n} features reconstructed" + (f"; not reconstructed: {bad}" if len(bad) <= 80 else "")
        loss = loss1h
    else:
        verdict, text = SPARSE_VERDICT, "the one-hot verdicts do not apply to sparse data"
        loss = recorded
        fro2 = float(np.sum(W * W))
        sparse = {
            "sum_dim": float(dims.sum()),
            "features_dim_gt_half": int(np.sum(dims > DIM_HALF)),
            "represented": int(np.sum(nrm > REPRESENTED_NORM)),
            "represented_norm": REPRESENTED_NORM,
            "dims_per_feature": float(m / fro2) if fro2 > 0 else None,
            "mean_dim_represented": float(dims[nrm > REPRESENTED_NORM].mean()) if np.any(nrm > REPRESENTED_NORM) else None,
        }
    return Analysis(
        step=int(snapshot.step), n=n, m=m, onehot=bool(onehot),
        loss=loss, recorded_loss=recorded, verdict=verdict, verdict_text=text, plane=plane,
        norms=nrm, angles_deg=np.degrees(ang), biases=b.copy(), dims=dims,
        self_activation=selfa, max_other=other,
        reconstructed_mask=recon, dead_mask=dead, merged_groups=groups,
        radius_cv=cv, gap_ratio=gap, radius_groups=rgroups, sparse=sparse,
        tolerances={"recon_tol": float(tol), "dead_rel": DEAD_REL, "dead_abs": DEAD_ABS,
                    "merge_deg": float(thr_deg), "radius_group_ratio": RADIUS_GROUP_RATIO,
                    "represented_norm": REPRESENTED_NORM},
    )


def _fmt(x, spec):
    if x is None:
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return format(x, spec)


def format_analysis(a: Analysis, max_rows: int = 64) -> str:
    """A readable text report: header, regularity and a per-feature table."""
    lines = []
    data = "one-hot" if a.onehot else "sparse"
    lines.append(f"step {a.step}   n = {a.n}   m = {a.m}   data: {data}")
    if a.onehot:
        lines.append(f"loss {_fmt(a.loss, '.10g')} (exact float64, one-hot)   "
                     f"recorded {_fmt(None if a.recorded_loss is None or math.isnan(a.recorded_loss) else a.recorded_loss, '.6g')}")
    else:
        lines.append(f"loss {_fmt(None if a.loss is None or math.isnan(a.loss) else a.loss, '.6g')} (recorded)")
    lines.append(f"verdict: {a.verdict.replace('_', ' ')} - {a.verdict_text}")
    lines.append(f"plane: {a.plane}")
    def members(g):
        txt = _ranges([i + 1 for i in g["members"]])
        return txt if len(txt) <= 60 else f"{len(g['members'])} features"
    rg = "; ".join(f"r ~ {g['radius']:.4g}: {members(g)}" for g in a.radius_groups[:8])
    if len(a.radius_groups) > 8:
        rg += f"; ... {len(a.radius_groups) - 8} more"
    lines.append(f"regularity (live features): radius cv {_fmt(a.radius_cv, '.4f')}, "
                 f"gap ratio {_fmt(a.gap_ratio, '.4f')}, radius groups {len(a.radius_groups)}"
                 + (f" ({rg})" if rg else ""))
    if a.sparse:
        s = a.sparse
        lines.append(f"dimensionality: sum D_i {s['sum_dim']:.4g}, D_i > {DIM_HALF}: {s['features_dim_gt_half']}, "
                     f"represented (|W_i| > {s['represented_norm']}): {s['represented']}, "
                     f"dims per feature {_fmt(s['dims_per_feature'], '.4g')}")
    t = a.tolerances
    lines.append(f"criteria: recon tol {t['recon_tol']:g}, dead |W_i| < {t['dead_rel']:g} max or < {t['dead_abs']:g}, "
                 f"merged < {t['merge_deg']:.3g} deg, radius groups split at x{t['radius_group_ratio']:g}")
    lines.append("")
    lines.append(f"{'feature':>7} {'norm':>10} {'angle':>8} {'bias':>11} {'D_i':>6} {'p_i(W_i)':>10} "
                 f"{'max p_j':>10}  recon  dead  merged")
    partner = {}
    for g in a.merged_groups:
        for i in g:
            partner[i] = ",".join(str(j + 1) for j in g if j != i)
    rows = range(a.n) if a.n <= max_rows else range(max_rows)
    for i in rows:
        mo = a.max_other[i]
        lines.append(
            f"{i + 1:>7} {a.norms[i]:>10.4g} {a.angles_deg[i]:>8.2f} {a.biases[i]:>11.4g} {a.dims[i]:>6.3f} "
            f"{a.self_activation[i]:>10.4g} {('-' if not math.isfinite(mo) else format(mo, '.4g')):>10}  "
            f"{'yes' if a.reconstructed_mask[i] else 'no':>5}  {'yes' if a.dead_mask[i] else '.':>4}  "
            f"{partner.get(i, '')}")
    if a.n > max_rows:
        lines.append(f"... ({a.n - max_rows} more features)")
    return "\n".join(lines)
