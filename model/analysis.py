"""What a model has learnt: findings with their evidence, and a verdict derived from them (numpy, no Qt).

``analyze(snapshot)`` reads one Snapshot and returns an Analysis: per-feature
facts, a list of ``Finding`` (each with its evidence in numbers and its
margin), closed-form references, and the verdict. ``to_dict()`` is JSON-safe
and ``format_analysis`` prints it for the CLI.

One-hot data; p(h) = D h + b with D the decoder (W^T when tied, M when
untied); P[i, j] = p_j(W_i) is output j's pre-activation on input e_i.

Findings (kinds in FINDING_KINDS):
- dead: features whose W_i is (near) zero: |W_i| < DEAD_REL * max_j |W_j| or
  |W_i| < DEAD_ABS. Such a feature tilts the plane along its axis by |W_i|^2
  (p_i(W_i) - b_i), under 1% of the strongest feature's tilt; its output is
  (nearly) ReLU(b_i) whatever the input, and under MSE a bias with no
  direction settles at the mean target, 1/n. Evidence per feature: the norm
  and its ratio to the largest, b_i against 1/n, the spread of p_i over the
  inputs, and whether it is the seed's *clean* dead feature (spread and
  |b_i - 1/n| both below CLEAN_TOL). Trained models put weak features at
  0.02-0.07 of the largest norm and healthy ones above 0.2 (n = 7 and 8,
  2,000 AdamW seeds); DEAD_REL = 0.1 sits in that empty band.
- dead_output: outputs that never fire: p_j(W_i) <= RECON_TOL for every input
  i (the output is ~0 whatever the input; loss 1/n each). For an untied
  decoder this, not W's columns, is what "dead" means for the output.
- not_reconstructed: live features whose input does not give the seed's
  "unique single positive value": p_i(W_i) > RECON_TOL and p_j(W_i) <=
  RECON_TOL for every live j != i. Evidence: on which inputs which outputs
  misfire. RECON_TOL = 1e-2: training approaches p = 0 from above only
  asymptotically (the gradient vanishes with the error), so an exact sign test
  would call nearly perfect models failures; a wrong output below 1e-2 costs at
  most 1e-4 of loss.
- merged: live features whose directions lie within min(MERGE_DEG,
  MERGE_FRAC * 360/n) degrees of each other (single linkage): one zone for
  several features, at most one can be reconstructed.
- radius_groups: the live norms, sorted, split where one exceeds the previous
  by more than RADIUS_GROUP_RATIO (1.3; wiggle-room solutions vary radii by
  ~13%, two-circle failures by ~2x and more).
- not_separable / separable_not_separated (the seed's Question 1): a live W_i
  is linearly separable when it lies strictly outside the convex hull of the
  other live W_j (model.separability; margin = its distance to that hull,
  blockers = the features whose hull holds it). Reconstruction implies
  separability (a zone is a half-plane), so the interesting features are the
  separable ones that are not reconstructed ("separable but not separated");
  for those the evidence also gives the two neighbours' half-gap against the
  half-gap needed to be outside their chord (r > R cos alpha).
- regular / irregular: whether the live features (at least 3) form a regular
  polygon: largest/smallest radius <= REGULAR_RATIO and largest/smallest
  angular gap <= REGULAR_GAP (both 1.1: within 10% of the regular L-gon, whose
  ratios are exactly 1). The seed's failure is regular to 1e-7; the AdamW
  failures with a weak feature have radius ratios of 2-5 and gap ratios of
  2.5-5.5, so both populations sit at least a decade (in the log of the
  ratio) away from the threshold.

Margins: every criterion reports how far its value is from its threshold, 0
on the threshold, positive where the finding holds, negative where it does
not. Ratio criteria are in decades of the log-excess, log10(ln thr / ln value)
for "value <= thr" (a regular polygon with ratio 1 + 1e-7 has margin 6: six
decades to spare); norm and angle criteria in decades, log10(thr / value);
reconstruction in pre-activation units. ``None`` in JSON means infinitely
far (e.g. W_i exactly 0).

Verdict (derived from the findings, first match wins):
- perfect: every feature reconstructed (regularity not demanded: zero loss
  does not force a regular polygon, the seed's "wiggle room").
- symmetric_failure: dead features (or dead outputs) and the live features a
  regular polygon (the seed's failure: the others "have equal magnitude and
  are spaced apart equally").
- asymmetric_failure: dead features (or dead outputs) with live features that
  are not a regular polygon (two radii, uneven gaps, fewer than 3).
- merged_failure: no dead feature; live features share a direction.
- two_circle_failure: no dead feature; live features on >= 2 radii, some not
  reconstructed.
- imperfect: anything else (also: nothing live at all).

Closed-form reference (one-hot): with d dead features whose output is
ReLU(b_i) with b_i = 1/n, e dead outputs, and every other feature
reconstructed exactly, the loss is sum_dead I_i (n-1)/n^2 + sum_deadout I_j/n
(d (n-1)/n^2 with unit importance); ``reference`` puts the measured loss and
each dead b_i beside it.

For m > 2 angles, gaps and the angular order are measured on the plane of
model.geometry.plane_basis (the analysis names it); norms, D_i, merging (the
angle between W_i and W_j in R^m) and reconstruction use the full W.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from . import geometry as geo
from .separability import Separability, Sensitivity, sensitivity, separability
from .snapshot import Snapshot

#: A feature is dead below this fraction of the largest feature norm (see above).
DEAD_REL = 0.1
#: ... or below this absolute norm (covers W = 0, where the relative test is void).
DEAD_ABS = 1e-6
#: The seed's clean dead feature: output spread over the inputs and |b_i - 1/n|
#: both below this (1e-3 of the target 1: the loss differs from d(n-1)/n^2 by
#: at most ~1e-6 per dead feature).
CLEAN_TOL = 1e-3
#: Tolerance on pre-activations (outputs are on the scale of the target 1), see above.
RECON_TOL = 1e-2
#: Two live features are merged when their directions differ by less than
#: min(MERGE_DEG, MERGE_FRAC * 360/n) degrees: 1 degree, but never more than a
#: tenth of the regular n-gon's spacing (so a regular 10,000-gon is not merged).
MERGE_DEG = 1.0
MERGE_FRAC = 0.1
#: Sorted live norms start a new radius group when one exceeds the previous by
#: more than this factor.
RADIUS_GROUP_RATIO = 1.3
#: A regular polygon: largest/smallest radius and largest/smallest gap at most these.
REGULAR_RATIO = 1.1
REGULAR_GAP = 1.1
#: Sparse data: a feature counts as represented when |W_i| > REPRESENTED_NORM
#: (Toy Models of Superposition: represented features have |W_i| near 1).
REPRESENTED_NORM = 0.5
#: Sparse data: a feature "has its own dimension" when D_i > DIM_HALF.
DIM_HALF = 0.5
#: Units of the verdict margins that are not in decades.
PRE_ACTIVATION_MARGINS = ("reconstructed", "dead_output")
#: Above this n the per-input misfire lists are cut to their counts.
DETAIL_MAX = 64

VERDICTS = ("perfect", "symmetric_failure", "asymmetric_failure", "merged_failure", "two_circle_failure",
            "imperfect")
FINDING_KINDS = ("dead", "dead_output", "not_reconstructed", "merged", "radius_groups", "regular", "irregular",
                 "separable_not_separated", "not_separable")
#: Separability and sensitivity (model.separability) are part of the analysis up to this n
#: (about 0.5 s more at n = 10,000); above, only when asked (inspect always asks).
EXTRAS_MAX_N = 2000
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


def _short(idx0, limit: int = 60) -> str:
    """0-based indices as 1-based ranges, or a count when the text would be long."""
    txt = _ranges([int(i) + 1 for i in idx0])
    return txt if len(txt) <= limit else f"{len(list(idx0))} features"


def _jsafe(v):
    """Evidence values made JSON-safe (numpy scalars, arrays, inf/nan -> None)."""
    if isinstance(v, dict):
        return {str(k): _jsafe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsafe(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_jsafe(x) for x in v.tolist()]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return _jf(v)
    return v


# ----------------------------------------------------------------------------
# margins (0 on the threshold, positive where the criterion holds)

def margin_below(value: float, thr: float) -> float:
    """Decades by which value lies below thr (value <= thr holds): log10(thr / value)."""
    if value <= 0:
        return math.inf
    return math.log10(thr / value)


def margin_ratio_below(ratio: float, thr: float) -> float:
    """For ratios >= 1: decades by which the excess ln(ratio) lies below ln(thr)."""
    if not math.isfinite(ratio):
        return -math.inf
    ex = math.log(max(ratio, 1.0))
    if ex <= 0:
        return math.inf
    return math.log10(math.log(thr) / ex)


@dataclass
class Finding:
    """One observation about a snapshot, with its numbers.

    kind: one of FINDING_KINDS; features: 0-based (1-based in to_dict);
    evidence: numbers behind it; margin: distance of the deciding criterion
    from its threshold (0 on it, positive: holds), in ``margin_unit``.
    """

    kind: str
    features: List[int]
    text: str
    evidence: Dict[str, Any] = field(default_factory=dict)
    margin: Optional[float] = None
    margin_unit: str = "decades"

    def to_dict(self) -> Dict[str, Any]:
        return {"kind": self.kind, "features": [int(i) + 1 for i in self.features], "text": self.text,
                "evidence": _jsafe(self.evidence), "margin": _jf(self.margin), "margin_unit": self.margin_unit}


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
    dead_mask: np.ndarray  # W_i (near) zero
    merged_groups: List[List[int]]  # 0-based, each of size >= 2
    radius_cv: Optional[float]
    gap_ratio: Optional[float]  # inf when two live features share an angle
    radius_groups: List[Dict[str, Any]]  # {"radius": mean, "members": [0-based]}
    sparse: Dict[str, Any] = field(default_factory=dict)
    tolerances: Dict[str, float] = field(default_factory=dict)
    dead_output_mask: Optional[np.ndarray] = None  # outputs that never fire (one-hot)
    recon_margin: Optional[np.ndarray] = None  # min(p_i(W_i) - tol, tol - max_other), pre-activation units
    findings: List[Finding] = field(default_factory=list)
    reference: Dict[str, Any] = field(default_factory=dict)
    verdict_margins: Dict[str, Optional[float]] = field(default_factory=dict)
    radius_ratio: Optional[float] = None  # largest / smallest live norm
    untied: bool = False
    separability: Optional[Separability] = None  # of the live W_i (None when not computed)
    sensitivity: Optional[Sensitivity] = None

    # -- convenience (0-based)
    @property
    def reconstructed(self) -> List[int]:
        return np.nonzero(self.reconstructed_mask)[0].tolist()

    @property
    def dead(self) -> List[int]:
        return np.nonzero(self.dead_mask)[0].tolist()

    @property
    def dead_outputs(self) -> List[int]:
        return [] if self.dead_output_mask is None else np.nonzero(self.dead_output_mask)[0].tolist()

    @property
    def finding_kinds(self) -> List[str]:
        return [f.kind for f in self.findings]

    def finding(self, kind: str) -> Optional[Finding]:
        for f in self.findings:
            if f.kind == kind:
                return f
        return None

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
        dout = self.dead_output_mask
        rm = self.recon_margin
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
                "reconstruction_margin": None if rm is None else _jf(rm[i]),
                "dead": bool(self.dead_mask[i]),
                "dead_output": bool(dout[i]) if dout is not None else False,
                "merged_with": partner.get(i, []),
            })
            if self.separability is not None:
                sd = self.separability.feature_dict(i)
                feats[-1].update(separable=sd["separable"], separation_margin=sd["separation_margin"],
                                 separation={"blockers": sd["blockers"], "gap": sd["gap"]})
            if self.sensitivity is not None:
                feats[-1].update(self.sensitivity.feature_dict(i))
        d = {
            "step": int(self.step),
            "loss": _jf(self.loss),
            "recorded_loss": _jf(self.recorded_loss),
            "n": int(self.n),
            "m": int(self.m),
            "data": "one-hot" if self.onehot else "sparse",
            "decoder": "untied" if self.untied else "tied",
            "verdict": self.verdict,
            "verdict_text": self.verdict_text,
            "verdict_margins": {k: _jf(v) for k, v in self.verdict_margins.items()},
            "plane": self.plane,
            "reconstructed": [i + 1 for i in self.reconstructed],
            "dead": [i + 1 for i in self.dead],
            "dead_outputs": [i + 1 for i in self.dead_outputs],
            "merged": [[i + 1 for i in g] for g in self.merged_groups],
            "findings": [f.to_dict() for f in self.findings],
            "reference": _jsafe(self.reference),
            "features": feats,
            "regularity": {
                "radius_cv": _jf(self.radius_cv),
                "radius_ratio": _jf(self.radius_ratio),
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


def _group_max_angle(W, g) -> float:
    """Largest angle (degrees) between two members of a merged group."""
    U = W[:, g] / np.linalg.norm(W[:, g], axis=0)
    c = np.clip(U.T @ U, -1.0, 1.0)
    return float(np.degrees(np.arccos(c.min())))


def regularity(nrm: np.ndarray, ang: np.ndarray, live: np.ndarray
               ) -> Tuple[Optional[float], Optional[float], List[Dict[str, Union[float, List[int]]]],
                          Optional[float], Union[List[float], np.ndarray]]:
    """(radius cv, gap ratio, radius groups, radius ratio, group split ratios) of the live features."""
    idx = np.nonzero(live)[0]
    if len(idx) == 0:
        return None, None, [], None, []
    r = nrm[idx]
    cv = float(np.std(r) / np.mean(r)) if np.mean(r) > 0 else None
    ratio = float(r.max() / r.min()) if r.min() > 0 else math.inf
    if len(idx) == 1:
        gap = 1.0
    else:
        th = np.sort(ang[idx])
        gaps = np.diff(np.concatenate([th, [th[0] + 2 * np.pi]]))
        gmin, gmax = float(gaps.min()), float(gaps.max())
        gap = math.inf if gmin <= 0 else gmax / gmin
    o = np.argsort(r, kind="stable")
    rs = r[o]
    steps = rs[1:] / np.maximum(rs[:-1], 1e-300)
    breaks = np.nonzero(steps > RADIUS_GROUP_RATIO)[0] + 1
    groups = []
    for part in np.split(np.arange(len(rs)), breaks):
        groups.append({"radius": float(np.mean(rs[part])), "members": sorted(idx[o[part]].tolist())})
    return cv, gap, groups, ratio, steps


def _onehot_table(W, b, D, live, tol, detail: bool):
    """One chunked pass over P[i, j] = p_j(W_i) (no n x n array for large n).

    Returns col_max, col_min (output j's largest / smallest pre-activation over
    the inputs), misfire_count[i] (live outputs j != i with P[i, j] > tol), and,
    when detail, misfires[i] = [(j, P[i, j]) ...] for those outputs.
    """
    n = W.shape[1]
    col_max = np.full(n, -np.inf)
    col_min = np.full(n, np.inf)
    misfire = np.zeros(n, dtype=np.int64)
    lists: Optional[List[List]] = [[] for _ in range(n)] if detail else None
    mask_out = np.where(live, 0.0, -np.inf)
    blk = max(1, geo.CHUNK_ELEMS // max(n, 1))
    for s in range(0, n, blk):
        e = min(n, s + blk)
        P = W[:, s:e].T @ D.T + b[None, :]  # (e-s, n)
        np.maximum(col_max, P.max(axis=0), out=col_max)
        np.minimum(col_min, P.min(axis=0), out=col_min)
        Q = P + mask_out[None, :]
        Q[np.arange(e - s), np.arange(s, e)] = -np.inf
        bad = Q > tol
        misfire[s:e] = bad.sum(axis=1)
        if detail:
            for r, c in zip(*np.nonzero(bad)):
                lists[s + int(r)].append((int(c), float(P[r, c])))
    return col_max, col_min, misfire, lists


# ----------------------------------------------------------------------------
# the analysis

@dataclass
class _Facts:
    """The facts of one snapshot that the findings, the verdict and the reference read (0-based)."""

    W: np.ndarray
    b: np.ndarray
    n: int
    m: int
    imp: np.ndarray
    nrm: np.ndarray
    ang: np.ndarray
    dims: np.ndarray
    maxn: float
    dead: np.ndarray           # W_i (near) zero
    wlive: np.ndarray          # ~dead
    selfa: np.ndarray          # p_i(W_i)
    other: np.ndarray          # the largest live p_j(W_i), j != i
    loss1h: float
    thr_deg: float
    tol: float
    # one-hot only (_onehot_facts)
    col_max: Any = None        # per output, over the inputs
    col_min: Any = None
    misfire: Any = None        # per input, how many wrong outputs fire
    lists: Optional[List[List]] = None
    dead_out: Any = None       # outputs that never fire
    failed: Any = None         # dead | dead_out
    live: Any = None           # ~failed
    recon: Any = None
    rmargin: Any = None
    groups: List[List[int]] = field(default_factory=list)
    cv: Optional[float] = None
    gap: Optional[float] = None
    rgroups: List[Dict[str, Any]] = field(default_factory=list)
    ratio: Optional[float] = None
    split_steps: Any = None
    nl: int = 0
    sep: Optional[Separability] = None


def _basic_facts(snapshot: Snapshot, tol: float) -> Tuple[_Facts, np.ndarray, str]:
    """The facts both kinds of analysis need, W on its plane, and the plane's description."""
    W, b = snapshot.W, snapshot.b
    m, n = W.shape
    imp = np.ones(n) if snapshot.importance is None else np.asarray(snapshot.importance, dtype=np.float64)
    U, plane = geo.plane_basis(W)
    W2 = U.T @ W
    nrm = geo.norms(W)
    maxn = float(nrm.max()) if n else 0.0
    dead = (nrm < DEAD_REL * maxn) | (nrm < DEAD_ABS)
    selfa, other, loss1h = geo.onehot_probe(W, b, importance=imp, M=snapshot.M, live=~dead)
    f = _Facts(W=W, b=b, n=n, m=m, imp=imp, nrm=nrm, ang=geo.angles(W2), dims=geo.feature_dimensionality(W),
               maxn=maxn, dead=dead, wlive=~dead, selfa=selfa, other=other, loss1h=loss1h,
               thr_deg=min(MERGE_DEG, MERGE_FRAC * 360.0 / max(n, 1)), tol=float(tol))
    return f, W2, plane


def _common(f: _Facts, snapshot: Snapshot, onehot: bool, plane: str) -> Dict[str, Any]:
    """The keyword arguments of Analysis that both kinds of analysis fill alike."""
    tolerances = {"recon_tol": f.tol, "dead_rel": DEAD_REL, "dead_abs": DEAD_ABS, "clean_tol": CLEAN_TOL,
                  "merge_deg": float(f.thr_deg), "radius_group_ratio": RADIUS_GROUP_RATIO,
                  "regular_ratio": REGULAR_RATIO, "regular_gap": REGULAR_GAP,
                  "represented_norm": REPRESENTED_NORM}
    recorded = float(snapshot.loss) if snapshot.loss is not None else math.nan
    return dict(step=int(snapshot.step), n=f.n, m=f.m, onehot=bool(onehot), recorded_loss=recorded, plane=plane,
                norms=f.nrm, angles_deg=np.degrees(f.ang), biases=f.b.copy(), dims=f.dims,
                self_activation=f.selfa, max_other=f.other, dead_mask=f.dead, tolerances=tolerances,
                untied=snapshot.M is not None)


def _sparse_analysis(f: _Facts, W2: np.ndarray, common: Dict[str, Any]) -> Analysis:
    """Sparse data: the one-hot verdicts do not apply; the dimensionality summary instead."""
    nrm, dims = f.nrm, f.dims
    groups = _merged_groups(f.W, W2, f.wlive, math.radians(f.thr_deg))
    cv, gap, rgroups, ratio, _ = regularity(nrm, f.ang, f.wlive)
    fro2 = float(np.sum(f.W * f.W))
    represented = nrm > REPRESENTED_NORM
    sparse = {
        "sum_dim": float(dims.sum()),
        "features_dim_gt_half": int(np.sum(dims > DIM_HALF)),
        "represented": int(np.sum(represented)),
        "represented_norm": REPRESENTED_NORM,
        "dims_per_feature": float(f.m / fro2) if fro2 > 0 else None,
        "mean_dim_represented": float(dims[represented].mean()) if np.any(represented) else None,
    }
    return Analysis(loss=common["recorded_loss"], verdict=SPARSE_VERDICT,
                    verdict_text="the one-hot verdicts do not apply to sparse data",
                    reconstructed_mask=np.zeros(f.n, dtype=bool), merged_groups=groups,
                    radius_cv=cv, gap_ratio=gap, radius_groups=rgroups, radius_ratio=ratio,
                    sparse=sparse, **common)


def _onehot_facts(f: _Facts, W2: np.ndarray, M: Optional[np.ndarray]) -> None:
    """Fill f's one-hot facts: the per-output table, reconstruction and its margin, merging, radii."""
    D = geo.decoder_of(f.W, M)
    f.col_max, f.col_min, f.misfire, f.lists = _onehot_table(f.W, f.b, D, f.wlive, f.tol, detail=f.n <= DETAIL_MAX)
    f.dead_out = f.col_max <= f.tol
    f.failed = f.dead | f.dead_out
    f.live = ~f.failed
    f.recon = f.wlive & (f.selfa > f.tol) & (f.other <= f.tol)
    # reconstruction margin of each feature (dead ones are excluded by the dead criterion: nan)
    f.rmargin = np.where(f.wlive, np.minimum(f.selfa - f.tol, f.tol - f.other), np.nan)
    f.groups = _merged_groups(f.W, W2, f.live, math.radians(f.thr_deg))
    f.cv, f.gap, f.rgroups, f.ratio, f.split_steps = regularity(f.nrm, f.ang, f.live)
    f.nl = int(f.live.sum())


def _finding_dead(f: _Facts) -> Optional[Finding]:
    """Dead features, each with its norm ratio, its bias against 1/n and whether it is clean."""
    if not f.dead.any():
        return None
    idx = np.nonzero(f.dead)[0]
    inv_n = 1.0 / f.n
    nrm, b = f.nrm, f.b
    per = []
    for i in idx.tolist():
        rho = nrm[i] / f.maxn if f.maxn > 0 else 0.0
        spread = float(f.col_max[i] - f.col_min[i])
        per.append({"feature": i + 1, "norm": nrm[i], "norm_ratio": rho, "bias": b[i],
                    "reference_bias": inv_n, "bias_diff": b[i] - inv_n, "output_spread": spread,
                    "clean": bool(spread <= CLEAN_TOL and abs(b[i] - inv_n) <= CLEAN_TOL),
                    "margin": margin_below(rho, DEAD_REL) if nrm[i] >= DEAD_ABS else math.inf})
    mg = min(p["margin"] for p in per)
    nclean = sum(p["clean"] for p in per)
    if len(per) == 1:
        p = per[0]
        text = (f"feature {p['feature']} dead: |W| {p['norm']:.3g} ({p['norm_ratio']:.2g} of the largest), "
                f"b {p['bias']:.6g} vs 1/n {inv_n:.6g} ({p['bias_diff']:+.2g}), output spread "
                f"{p['output_spread']:.2g}: " + ("clean (the seed's W = 0, b = 1/n)" if p["clean"]
                                                else "weak, not the clean W = 0, b = 1/n"))
    else:
        text = (f"features {_short(idx)} dead (|W| < {DEAD_REL:g} of the largest); {nclean} of {len(per)} clean "
                f"(b = 1/n, constant output)")
    return Finding("dead", idx.tolist(), text, {"features": per[:DETAIL_MAX], "count": len(per),
                                                "clean": nclean}, mg)


def _finding_dead_output(f: _Facts) -> Optional[Finding]:
    """Outputs that never fire on any input."""
    if not f.dead_out.any():
        return None
    idx = np.nonzero(f.dead_out)[0]
    mg = float(np.min(f.tol - f.col_max[idx]))
    per = [{"feature": i + 1, "max_pre_activation": f.col_max[i], "bias": f.b[i]} for i in idx[:DETAIL_MAX].tolist()]
    return Finding("dead_output", idx.tolist(),
                   f"output(s) {_short(idx)} never fire on any input (largest pre-activation "
                   f"{float(f.col_max[idx].max()):.3g} <= {f.tol:g}); each costs 1/n of loss",
                   {"outputs": per, "count": int(len(idx))}, mg, "pre-activation")


def _misfire_detail(f: _Facts, bad: np.ndarray, per: List[Dict[str, Any]]) -> str:
    """Which inputs fire which wrong outputs (the first six), or only how many when not listed."""
    if f.lists is None:
        return f"{int(np.sum(f.misfire[bad] > 0))} inputs fire a wrong output"
    parts = []
    for e in per[:6]:
        w = [f"{x['output']} ({x['pre_activation']:.3g})" for x in e.get("misfires", [])[:4]]
        s = f"input {e['feature']}: " + (f"fires {', '.join(w)}" if w else "no wrong output")
        if not e["own_fires"]:
            s += f", own output off ({e['own_output']:.3g})"
        parts.append(s)
    return "; ".join(parts) + ("; ..." if len(per) > 6 else "")


def _finding_not_reconstructed(f: _Facts) -> Optional[Finding]:
    """Live features whose input does not give a unique single positive output."""
    bad = np.nonzero(f.live & ~f.recon)[0]
    if not len(bad):
        return None
    per = []
    for i in bad[:DETAIL_MAX].tolist():
        e = {"feature": i + 1, "own_output": float(f.selfa[i]), "own_fires": bool(f.selfa[i] > f.tol),
             "misfiring_outputs": int(f.misfire[i]), "margin": float(f.rmargin[i])}
        if f.lists is not None:
            e["misfires"] = [{"output": j + 1, "pre_activation": v} for j, v in f.lists[i]]
        per.append(e)
    mg = float(np.max(f.rmargin[bad]))  # the member nearest to being reconstructed
    return Finding("not_reconstructed", bad.tolist(),
                   f"{len(bad)} live feature(s) not reconstructed ({_short(bad)}): {_misfire_detail(f, bad, per)}",
                   {"features": per, "count": int(len(bad))}, mg, "pre-activation")


def _finding_merged(f: _Facts) -> Optional[Finding]:
    """Groups of live features that share a direction."""
    groups = f.groups
    if not groups:
        return None
    per = [{"features": [i + 1 for i in g], "max_angle_deg": _group_max_angle(f.W, g)} for g in groups[:DETAIL_MAX]]
    mg = min(margin_below(p["max_angle_deg"], f.thr_deg) for p in per)
    shown = "; ".join("{" + ", ".join(str(i + 1) for i in g[:8]) + (", ..." if len(g) > 8 else "") + "}"
                      for g in groups[:8])
    more = f" and {len(groups) - 8} more groups" if len(groups) > 8 else ""
    return Finding("merged", sorted(i for g in groups for i in g),
                   f"live features share a direction (within {f.thr_deg:.3g} deg): {shown}{more}",
                   {"groups": per, "threshold_deg": f.thr_deg}, mg)


def _radii_text(rgroups: List[Dict[str, Any]]) -> str:
    """'live features on 2 radii (r=1: 4, r=2: 4' (the caller closes the bracket)."""
    return (f"live features on {len(rgroups)} radii ("
            + ", ".join(f"r={g['radius']:.3g}: {len(g['members'])}" for g in rgroups[:8])
            + (", ..." if len(rgroups) > 8 else ""))


def _finding_radius_groups(f: _Facts) -> Optional[Finding]:
    """Live features on two or more radii."""
    if len(f.rgroups) < 2:
        return None
    split = float(np.max(f.split_steps))
    mg = -margin_ratio_below(split, RADIUS_GROUP_RATIO)
    return Finding("radius_groups", np.nonzero(f.live)[0].tolist(),
                   _radii_text(f.rgroups) + f"), largest step x{split:.3g}",
                   {"groups": [{"radius": g["radius"], "members": [i + 1 for i in g["members"]]}
                               for g in f.rgroups[:DETAIL_MAX]], "largest_step": split,
                    "threshold": RADIUS_GROUP_RATIO}, mg)


def _findings_separability(f: _Facts) -> List[Finding]:
    """The seed's Question 1: live features not linearly separable, and separable ones not reconstructed."""
    sep = f.sep
    if sep is None:
        return []
    out = []
    tested = f.wlive & ~f.dead_out
    insep = np.nonzero(tested & ~sep.separable)[0]
    if len(insep):
        per = [{"feature": i + 1, "blockers": [j + 1 for j in sep.blockers[i]]} for i in insep[:DETAIL_MAX].tolist()]
        parts = "; ".join(f"{e['feature']} inside the hull of {', '.join(map(str, e['blockers']))}"
                          for e in per[:6]) + ("; ..." if len(per) > 6 else "")
        out.append(Finding("not_separable", insep.tolist(),
                           f"{len(insep)} live feature(s) not linearly separable from the others: {parts}",
                           {"features": per, "count": int(len(insep))}, None, "none"))
    sns = np.nonzero(tested & sep.separable & ~f.recon)[0]
    if len(sns):
        per = [{"feature": i + 1, "separation_margin": float(sep.margin[i]), "gap": sep.gap_dict(i)}
               for i in sns[:DETAIL_MAX].tolist()]
        bits = []
        for e in per[:6]:
            g = e["gap"]
            t = f"{e['feature']} (margin {e['separation_margin']:.3g}"
            if g is not None and g["needed_half_gap_deg"] is not None:
                t += f"; half-gap {g['half_gap_deg']:.1f} deg, needed {g['needed_half_gap_deg']:.1f}"
            bits.append(t + ")")
        out.append(Finding(
            "separable_not_separated", sns.tolist(),
            f"{len(sns)} live feature(s) separable by a line but not reconstructed: " + "; ".join(bits)
            + ("; ..." if len(per) > 6 else ""),
            {"features": per, "count": int(len(sns))},
            float(np.min(sep.margin[sns])), "latent units"))
    return out


def _finding_regularity(f: _Facts) -> Optional[Finding]:
    """Whether the live features (at least 3) form a regular polygon; the margin is the nearer of the
    radius and gap criteria, signed so that it is positive where the finding (regular or irregular) holds."""
    nl = f.nl
    if nl < 3:
        return None
    m_r = margin_ratio_below(f.ratio, REGULAR_RATIO)
    m_g = margin_ratio_below(f.gap, REGULAR_GAP)
    mg = min(m_r, m_g)
    regular = mg >= 0
    ev = {"live": nl, "radius_ratio": f.ratio, "radius_cv": f.cv, "gap_ratio": f.gap,
          "radius_margin": m_r, "gap_margin": m_g, "threshold_radius": REGULAR_RATIO, "threshold_gap": REGULAR_GAP}
    word = "a regular" if regular else "not a regular"
    return Finding("regular" if regular else "irregular", np.nonzero(f.live)[0].tolist(),
                   f"the {nl} live features are {word} {nl}-gon: radius ratio {f.ratio:.6g}, gap ratio "
                   f"{f.gap:.6g} (regular: both <= {REGULAR_RATIO:g})", ev, mg if regular else -mg)


def _findings(f: _Facts) -> List[Finding]:
    """Every finding that holds, in FINDING_KINDS order."""
    found = [_finding_dead(f), _finding_dead_output(f), _finding_not_reconstructed(f), _finding_merged(f),
             _finding_radius_groups(f), *_findings_separability(f), _finding_regularity(f)]
    return [x for x in found if x is not None]


def _failure_verdict(f: _Facts, by_kind: Dict[str, Finding], vm: Dict[str, Optional[float]]) -> Tuple[str, str]:
    """Dead features or dead outputs beside at least one live feature: symmetric or asymmetric failure."""
    what = []
    if f.dead.any():
        what.append(f"feature(s) {_short(np.nonzero(f.dead)[0], 80)} dead")
        vm["dead"] = by_kind["dead"].margin
    if f.dead_out.any():
        what.append(f"output(s) {_short(np.nonzero(f.dead_out)[0], 80)} never fire")
        vm["dead_output"] = float(np.min(f.tol - f.col_max[f.dead_out]))
    head = " and ".join(what)
    nl, nr = f.nl, int(f.recon.sum())
    regular = "regular" in by_kind
    if regular:
        verdict = "symmetric_failure"
        text = f"{head}; the other {nl} are a regular {nl}-gon"
        if nl > nr:
            text += f" ({nl - nr} not reconstructed)"
    else:
        verdict = "asymmetric_failure"
        if nl < 3:
            shape = f"only {nl} live"
        elif len(f.rgroups) >= 2:
            shape = f"the other {nl} on {len(f.rgroups)} radii"
        else:
            shape = f"the other {nl} not a regular polygon"
        text = f"{head}; {shape} (radius ratio {f.ratio:.3g}, gap ratio {f.gap:.3g})"
    if nl >= 3:  # the regularity finding's margin is signed to hold for the verdict taken
        vm["regular"] = by_kind["regular" if regular else "irregular"].margin
    return verdict, text


def _verdict(f: _Facts, findings: List[Finding]) -> Tuple[str, str, Dict[str, Optional[float]]]:
    """The verdict from the findings (first match wins) and, for each criterion that decided it,
    how far that decision is from flipping."""
    n, nr = f.n, int(f.recon.sum())
    by_kind = {x.kind: x for x in findings}
    vm: Dict[str, Optional[float]] = {}
    far_bad = float(np.max(-f.rmargin[f.wlive & ~f.recon])) if np.any(f.wlive & ~f.recon) else math.inf
    no_dead = -margin_below(float(f.nrm.min()) / f.maxn, DEAD_REL) if n and f.maxn > 0 and not f.dead.any() else None
    not_recon = _short(np.nonzero(~f.recon)[0], 80)
    if nr == n:
        verdict, text = "perfect", f"every feature reconstructed (all {n})"
        vm["reconstructed"] = float(np.min(f.rmargin))
    elif f.failed.any() and f.nl >= 1:
        verdict, text = _failure_verdict(f, by_kind, vm)
    elif f.groups:
        verdict = "merged_failure"
        text = by_kind["merged"].text
        vm.update(no_dead=no_dead, merged=by_kind["merged"].margin)
    elif len(f.rgroups) >= 2:
        verdict = "two_circle_failure"
        text = _radii_text(f.rgroups) + f"); not reconstructed: {not_recon}"
        vm.update(no_dead=no_dead,
                  radius_groups=-margin_ratio_below(float(np.max(f.split_steps)), RADIUS_GROUP_RATIO),
                  reconstructed=far_bad)
    else:
        verdict = "imperfect"
        text = f"{nr} of {n} features reconstructed; not reconstructed: {not_recon}"
        if math.isfinite(far_bad):
            vm["reconstructed"] = far_bad
    return verdict, text, vm


def _reference(f: _Facts) -> Dict[str, Any]:
    """The closed-form loss of the dead features and outputs when every other feature is reconstructed,
    beside the measured loss and each dead feature's bias against 1/n."""
    n, imp, dead_out = f.n, f.imp, f.dead_out
    inv_n = 1.0 / n
    fired_dead = f.dead & ~dead_out
    ref_loss = float(np.sum(imp[fired_dead]) * (n - 1) / n ** 2 + np.sum(imp[dead_out]) / n)
    applies = bool(f.failed.any() and f.nl >= 1 and np.all(f.recon[f.live]))
    unit_imp = not dead_out.any() and np.all(imp == 1)
    return {
        "applies": applies,
        "formula": "sum over dead features of I_i (n-1)/n^2 + sum over dead outputs of I_j/n"
                   + (" = d(n-1)/n^2" if unit_imp else ""),
        "formula_short": ("d(n-1)/n^2" if unit_imp else
                          "sum I_i (n-1)/n^2 + sum I_j/n" if dead_out.any() else "sum I_i (n-1)/n^2"),
        "dead_bias": inv_n,
        "loss": ref_loss,
        "loss_measured": f.loss1h,
        "loss_diff": f.loss1h - ref_loss,
        "dead_bias_diff": {str(i + 1): float(f.b[i] - inv_n) for i in np.nonzero(fired_dead)[0][:DETAIL_MAX].tolist()},
    }


def analyze(snapshot: Snapshot, tol: float = RECON_TOL, onehot: bool = True,
            extras: Optional[bool] = None) -> Analysis:
    """Analyse one snapshot. onehot=False: the model was trained on sparse data.

    tol is the reconstruction tolerance (RECON_TOL). extras: compute separability
    and sensitivity (None: when n <= EXTRAS_MAX_N). The one-hot facts (p_i(W_i),
    the largest live p_j(W_i), and the float64 one-hot loss, importance-weighted)
    come from one fused pass, geometry.onehot_probe; the per-output facts
    (whether an output ever fires, its spread over the inputs) and the misfire
    counts from one chunked pass over P: O(n^2 m) time, O(n) memory beyond
    chunks of ~4M elements.
    """
    f, W2, plane = _basic_facts(snapshot, tol)
    common = _common(f, snapshot, onehot, plane)
    if not onehot:
        return _sparse_analysis(f, W2, common)
    n = f.n
    if extras is None:
        extras = n <= EXTRAS_MAX_N
    f.sep = separability(f.W, f.wlive) if extras and n else None
    sens = sensitivity(f.W, f.b, snapshot.M) if extras and n else None
    _onehot_facts(f, W2, snapshot.M)
    findings = _findings(f)
    verdict, text, vm = _verdict(f, findings)
    return Analysis(loss=f.loss1h, verdict=verdict, verdict_text=text, reconstructed_mask=f.recon,
                    merged_groups=f.groups, radius_cv=f.cv, gap_ratio=f.gap, radius_groups=f.rgroups,
                    radius_ratio=f.ratio, dead_output_mask=f.dead_out, recon_margin=f.rmargin, findings=findings,
                    reference=_reference(f), verdict_margins=vm, separability=f.sep, sensitivity=sens, **common)


def _fmt(x, spec):
    if x is None:
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return format(x, spec)


def fmt_margin(v: Optional[float], unit: str = "decades") -> str:
    """A margin in words: '+1.2 dec', '-0.003', 'exact' (infinitely far)."""
    if v is None or (isinstance(v, float) and math.isinf(v) and v > 0):
        return "exact"
    if isinstance(v, float) and math.isinf(v):
        return "-inf"
    return f"{v:+.2g} dec" if unit == "decades" else f"{v:+.3g}"


def finding_lines(a: Analysis) -> List[str]:
    """One line per finding: kind, text and margin; then the closed-form reference."""
    out = []
    for f in a.findings:
        mg = "" if f.margin_unit == "none" else f"  [margin {fmt_margin(f.margin, f.margin_unit)}]"
        out.append(f"  {f.kind}: {f.text}{mg}")
    r = a.reference
    if r:
        if np.any(a.dead_mask) or (a.dead_output_mask is not None and np.any(a.dead_output_mask)):
            out.append(f"  reference {r['formula_short']} = {r['loss']:.10g}, measured {_fmt(r['loss_measured'], '.10g')} "
                       f"({r['loss_diff']:+.2g}); dead b - 1/n: "
                       + (", ".join(f"{k}: {v:+.2g}" for k, v in list(r["dead_bias_diff"].items())[:8]) or "none")
                       + ("" if r.get("applies") else " (does not apply: a live feature is not reconstructed)"))
    return out


def _sep_cell(sep, i) -> str:
    if sep is None or not sep.live[i] or (sep.computed is not None and not sep.computed[i]):
        return "-"
    return "yes" if sep.separable[i] else "no"


def _sep_margin_cell(sep, i) -> str:
    if _sep_cell(sep, i) == "-":
        return "-"
    return _fmt(float(sep.margin[i]), ".4g")


def format_analysis(a: Analysis, max_rows: int = 64) -> str:
    """A readable text report: header, findings, regularity and a per-feature table."""
    lines = []
    data = "one-hot" if a.onehot else "sparse"
    lines.append(f"step {a.step}   n = {a.n}   m = {a.m}   data: {data}" + ("   decoder: untied" if a.untied else ""))
    if a.onehot:
        lines.append(f"loss {_fmt(a.loss, '.10g')} (exact float64, one-hot)   "
                     f"recorded {_fmt(None if a.recorded_loss is None or math.isnan(a.recorded_loss) else a.recorded_loss, '.6g')}")
    else:
        lines.append(f"loss {_fmt(None if a.loss is None or math.isnan(a.loss) else a.loss, '.6g')} (recorded)")
    lines.append(f"verdict: {a.verdict.replace('_', ' ')} - {a.verdict_text}")
    if a.verdict_margins:
        lines.append("verdict margins (distance from flipping): "
                     + ", ".join(f"{k} {fmt_margin(v, 'pre-activation' if k in PRE_ACTIVATION_MARGINS else 'decades')}"
                                 for k, v in a.verdict_margins.items()))
    if a.findings:
        lines.append("findings:")
        lines.extend(finding_lines(a))
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
                 f"merged < {t['merge_deg']:.3g} deg, radius groups split at x{t['radius_group_ratio']:g}, "
                 f"regular: radius and gap ratios <= {t['regular_ratio']:g}")
    lines.append("")
    lines.append(f"{'feature':>7} {'norm':>10} {'angle':>8} {'bias':>11} {'D_i':>6} {'p_i(W_i)':>10} "
                 f"{'max p_j':>10}  recon  dead  {'sep':>3} {'sep margin':>10} {'fires x >':>9}  merged")
    sep, sens = a.separability, a.sensitivity
    partner = {}
    for g in a.merged_groups:
        for i in g:
            partner[i] = ",".join(str(j + 1) for j in g if j != i)
    dout = a.dead_output_mask
    rows = range(a.n) if a.n <= max_rows else range(max_rows)
    for i in rows:
        mo = a.max_other[i]
        dd = "yes" if a.dead_mask[i] else ("out" if dout is not None and dout[i] else ".")
        lines.append(
            f"{i + 1:>7} {a.norms[i]:>10.4g} {a.angles_deg[i]:>8.2f} {a.biases[i]:>11.4g} {a.dims[i]:>6.3f} "
            f"{a.self_activation[i]:>10.4g} {('-' if not math.isfinite(mo) else format(mo, '.4g')):>10}  "
            f"{'yes' if a.reconstructed_mask[i] else 'no':>5}  {dd:>4}  "
            f"{_sep_cell(sep, i):>3} {_sep_margin_cell(sep, i):>10} "
            f"{('-' if sens is None else _fmt(float(sens.fire_threshold[i]), '.4g')):>9}  "
            f"{partner.get(i, '')}")
    if a.n > max_rows:
        lines.append(f"... ({a.n - max_rows} more features)")
    return "\n".join(lines)
