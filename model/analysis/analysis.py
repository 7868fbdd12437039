"""What a model has learnt: findings with their evidence, and a verdict derived from them (numpy, no Qt).

``analyze(snapshot)`` reads one Snapshot and returns an Analysis: per-feature
facts, a list of ``Finding`` (each with its evidence in numbers and its
margin), closed-form references, and the verdict. ``to_dict()`` is JSON-safe
and ``format_analysis`` prints it for the CLI.

One-hot data; p(h) = D h + b with D the decoder (W^T when tied, M when
untied); P[i, j] = p_j(W_i) is output j's pre-activation on input e_i. The
model's function is (A, b) with A = D W (model.analysis.criteria).

What the criteria read (invariance). Every criterion reads the function, so
that two parameterisations of one model get the same findings: the
pre-activations P, and the *function's feature vectors* Phi
(criteria.function_vectors): W itself when tied (its symmetry is a rotation,
and every criterion below is rotation-invariant), the balanced factor of A
when untied (invariant under W -> R W, M -> M R^-1 for any invertible R).
Norms |Phi_i|, angles between Phi_i, radius groups, regularity, merging and
separability use Phi in the full latent space; for m > 2 nothing is judged
on a projection. The plane (model.analysis.geometry.plane_basis) only places the
reported ``angles_deg`` for drawing.

Findings (kinds in FINDING_KINDS):
- dead: features whose Phi_i is (near) zero: |Phi_i| < DEAD_REL * max_j
  |Phi_j| or < DEAD_ABS: input i moves no output (A e_i ~ 0). Its output is
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
  "unique single positive value" among the live outputs: p_i(W_i) > RECON_TOL
  and p_j(W_i) <= RECON_TOL for every live j != i. RECON_TOL = 1e-2:
  training approaches p = 0 from above only asymptotically (the gradient
  vanishes with the error), so an exact sign test would call nearly perfect
  models failures; a wrong output below 1e-2 costs at most 1e-4 of loss.
- merged: inputs that the outputs cannot tell apart. Input i *fires* the
  live outputs F_i = {j live : p_j(W_i) > RECON_TOL}; live features i != j
  with F_i = F_j (not empty) are merged (equal sets are an equivalence, so
  the groups need no linkage rule). Decided by what the outputs do, not by
  an angle: two features 20 degrees apart that fire the same two outputs
  cost about 1/n together however far apart they are drawn, and two
  features 3 degrees apart whose biases split their zones are not merged.
  Evidence: the outputs fired, the largest angle between the members' Phi
  (degrees), and the margin: the smallest |p_j(W_i) - RECON_TOL| over the
  members' rows, the pre-activation nearest to changing a fire set.
- radius_groups: the live norms, sorted, split where one exceeds the previous
  by more than RADIUS_GROUP_RATIO (1.3; wiggle-room solutions vary radii by
  ~13%, two-circle failures by ~2x and more).
- two_circle: live features on two or more radii (radius_groups) with live
  features not reconstructed that no merged group explains.
- not_separable / separable_not_separated (the seed's Question 1): a live
  Phi_i is linearly separable when it lies strictly outside the convex hull
  of the other live Phi_j (model.analysis.separability; margin = its distance to that
  hull, blockers = the features whose hull holds it). Reconstruction implies
  separability (a zone is a half-space), so the interesting features are the
  separable ones that are not reconstructed ("separable but not separated");
  for those the evidence also gives the two neighbours' half-gap against the
  half-gap needed to be outside their chord (r > R cos alpha). Features
  whose separability is undecided (below) are in neither.
- regular / irregular: whether the live features (at least 3) are regular:
  largest/smallest radius <= REGULAR_RATIO and an angular ratio <=
  REGULAR_GAP (both 1.1: within 10% of the regular arrangement, whose ratios
  are exactly 1). The angular ratio: for m <= 2 the largest/smallest angular
  gap between neighbours (the seed's polygon); for m > 2 the angle profiles
  (criteria.angle_profiles): each feature's angles to its 2m nearest
  neighbours, and for each rank the largest over the smallest across the
  features, the worst rank counting. A regular polygon, the octahedron and
  any arrangement whose features all see the same neighbours give 1. The
  seed's failure is regular to 1e-7; the AdamW failures with a weak feature
  have radius ratios of 2-5 and gap ratios of 2.5-5.5, so both populations
  sit at least a decade (in the log of the ratio) away from the threshold.
- inexact: inputs reconstructed by the sign test whose outputs are not all
  within tolerance of their targets: the own output within OWN_TOL of 1, every
  other output, dead features' included, at most RECON_TOL (a weak feature's
  output firing 0.32 on inputs the sign test passes; a hexagon scaled so its
  own outputs are 0.25).
- collapsed: no live feature (every feature dead, or no output fires): the
  outputs are the constant ReLU(b), loss sum_k I_k ((ReLU(b_k) - 1)^2 +
  (n - 1) ReLU(b_k)^2) / n (1 at b <= 0, (n - 1)/n at b = 1/n).
- undecided: the decisions whose margin is within the parameters' resolution
  (below), listed with margin and resolution; none of them counts as a yes
  or a no in the other findings.

Perfect means reconstructed: every output of every input within tolerance of
its target, dead features' outputs included: |ReLU(p_i(W_i)) - 1| <= OWN_TOL
and ReLU(p_j(W_i)) <= RECON_TOL for j != i. OWN_TOL = 0.1: trained models
that pass the sign test have own outputs within 1.5e-2 of 1 after 20,000 steps
(3,213 of 4,100 AdamW and Adam models, n = 5-8), while the failure modes leave own
outputs at 1/2 (a merged pair) or less (1/n dead, 0.25 a scaled hexagon); 0.1
sits in that empty band, 0.85 decades above the first and 0.7 below the
second, and an own output at 0.9 costs 0.01/n of loss.

Resolution (undecided). Trained parameters are float32 numbers; a quantity
computed from them is known only to its float32 resolution
(model.analysis.criteria: FLOAT32_RES = 2^-23 relative, times the scale of the
quantities compared: the model's pre-activation scale for pre-activations,
the largest live |Phi_j| for separability margins; a norm ratio to relative
2^-23, an angle to 2^-23 radians). A criterion whose value is within that
of its threshold is *undecided*: listed in the ``undecided`` finding and in
``Analysis.undecided``, left out of the findings that need a yes or no, and,
when it is a criterion the verdict rests on, the verdict is ``undecided``.
Parameters that are not float32 numbers (hand-built closed forms in float64)
are taken as exact (resolution 0); ``analyze(..., precision=...)`` overrides.

Margins: every criterion reports how far its value is from its threshold, 0
on the threshold, positive where the finding holds, negative where it does
not. Ratio criteria are in decades of the log-excess, log10(ln thr / ln value)
for "value <= thr" (a regular polygon with ratio 1 + 1e-7 has margin 6: six
decades to spare); norm and angle criteria in decades, log10(thr / value);
reconstruction, exactness and merging in pre-activation (output) units.
``None`` in JSON means infinitely far (e.g. W_i exactly 0).

Verdict (derived from the findings, first match wins):
- collapsed: no live feature.
- perfect: every feature reconstructed and every output within tolerance
  (regularity not demanded: zero loss does not force a regular polygon, the
  seed's "wiggle room").
- symmetric_failure: dead features (or dead outputs) and the live features
  regular (the seed's failure: the others "have equal magnitude and are
  spaced apart equally").
- asymmetric_failure: dead features (or dead outputs) with live features that
  are not regular (two radii, uneven gaps, a merged pair, fewer than 3).
- merged_failure: no dead feature; some inputs fire the same outputs.
- two_circle_failure: no dead feature, no merged group; live features on >= 2
  radii, some not reconstructed.
- imperfect: anything else (a feature not reconstructed, or outputs off
  target).
- undecided: a criterion the verdict above rests on is within resolution.
The verdict text names every failure finding present (a dead feature *and* a
merged pair say both); ``failure_modes`` lists them and ``failure_key`` joins
them, sorted, with '+' (e.g. 'dead+merged'; 'none' for a perfect model): the
combination a sweep counts. The modes: collapsed, dead, dead_output, merged,
two_circle, not_reconstructed (live features not reconstructed that neither a
merged group nor two circles explain), inexact (only when nothing else is
wrong), undecided.

Closed-form reference (one-hot): with d dead features whose output is
ReLU(b_i) with b_i = 1/n, e dead outputs, and every other feature
reconstructed exactly, the loss is sum_dead I_i (n-1)/n^2 + sum_deadout I_j/n
(d (n-1)/n^2 with unit importance); ``reference`` puts the measured loss and
each dead b_i beside it.

Sparse data: the one-hot verdicts do not apply; the dimensionality summary
instead, and merging by angle (MERGE_DEG): sparse data has no one-hot inputs
whose outputs could tell features apart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..snapshot import Snapshot
from . import criteria as crit
from . import geometry as geo
from .separability import Sensitivity, Separability, sensitivity, separability

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
#: Perfect: each input's own output within this of its target 1 (see "Perfect means reconstructed").
OWN_TOL = 0.1
#: Sparse data only: two live features are merged when their directions differ by less than
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
PRE_ACTIVATION_MARGINS = ("reconstructed", "dead_output", "merged", "exact")
#: Above this n the per-input misfire lists are cut to their counts.
DETAIL_MAX = 64

#: Verdict names; new ones are appended (sweep files store codes with these names).
VERDICTS = ("perfect", "symmetric_failure", "asymmetric_failure", "merged_failure", "two_circle_failure",
            "imperfect", "collapsed", "undecided")
#: Finding kinds; new ones are appended (sweep files store one bit per kind, in this order).
FINDING_KINDS = ("dead", "dead_output", "not_reconstructed", "merged", "radius_groups", "regular", "irregular",
                 "separable_not_separated", "not_separable", "two_circle", "inexact", "collapsed", "undecided")
#: The failure modes the verdict text names and failure_key joins (see above).
FAILURE_MODES = ("collapsed", "dead", "dead_output", "merged", "two_circle", "not_reconstructed", "inexact",
                 "undecided")
#: Separability and sensitivity (model.analysis.separability) are part of the analysis up to this n
#: (about 0.5 s more at n = 10,000); above, only when asked (inspect always asks).
EXTRAS_MAX_N = 2000
SPARSE_VERDICT = "n/a (sparse data)"


def _jf(x) -> float | None:
    """JSON-safe float: None for nan/inf."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _ranges(one_based: list[int]) -> str:
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


def _named(idx0, limit: int = 60) -> str:
    """"feature 3", "features 1, 4-6" or, when long, "80 features" (0-based indices, 1-based text)."""
    idx = [int(i) for i in idx0]
    txt = _short(idx, limit)
    if txt.endswith(" features"):
        return txt
    return f"feature {txt}" if len(idx) == 1 else f"features {txt}"


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


def _decade_res(rel: float) -> float:
    """Resolution, in decades, of a margin log10(thr / value) whose value is known to relative rel."""
    return rel / math.log(10.0)


def _ratio_margin_res(thr: float, rel: float) -> float:
    """Resolution, in decades, of a ratio margin log10(ln thr / ln ratio) near its threshold, the ratio
    known to relative rel: d(margin) = d(ln ratio) / (ln thr ln 10)."""
    return rel / (math.log(thr) * math.log(10.0))


@dataclass
class Finding:
    """One observation about a snapshot, with its numbers.

    kind: one of FINDING_KINDS; features: 0-based (1-based in to_dict);
    evidence: numbers behind it; margin: distance of the deciding criterion
    from its threshold (0 on it, positive: holds), in ``margin_unit``.
    """

    kind: str
    features: list[int]
    text: str
    evidence: dict[str, Any] = field(default_factory=dict)
    margin: float | None = None
    margin_unit: str = "decades"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "features": [int(i) + 1 for i in self.features], "text": self.text,
                "evidence": _jsafe(self.evidence), "margin": _jf(self.margin), "margin_unit": self.margin_unit}


@dataclass
class Analysis:
    """The facts about one snapshot. Arrays are 0-based; to_dict() is 1-based."""

    step: int
    n: int
    m: int
    onehot: bool
    loss: float | None  # one-hot: exact float64 loss; sparse: the recorded loss
    recorded_loss: float | None
    verdict: str
    verdict_text: str
    plane: str
    norms: np.ndarray  # |Phi_i| (= |W_i| when tied)
    angles_deg: np.ndarray  # on the drawing plane (plane_basis of W)
    biases: np.ndarray
    dims: np.ndarray
    self_activation: np.ndarray  # p_i(W_i)
    max_other: np.ndarray  # max over live j != i of p_j(W_i) (-inf if none)
    reconstructed_mask: np.ndarray
    dead_mask: np.ndarray  # Phi_i (near) zero
    merged_groups: list[list[int]]  # 0-based, each of size >= 2
    radius_cv: float | None
    gap_ratio: float | None  # the angular ratio (see angle_measure); inf when two live features share an angle
    radius_groups: list[dict[str, Any]]  # {"radius": mean, "members": [0-based]}
    sparse: dict[str, Any] = field(default_factory=dict)
    tolerances: dict[str, float] = field(default_factory=dict)
    dead_output_mask: np.ndarray | None = None  # outputs that never fire (one-hot)
    recon_margin: np.ndarray | None = None  # min(p_i(W_i) - tol, tol - max_other), pre-activation units
    findings: list[Finding] = field(default_factory=list)
    reference: dict[str, Any] = field(default_factory=dict)
    verdict_margins: dict[str, float | None] = field(default_factory=dict)
    radius_ratio: float | None = None  # largest / smallest live norm
    untied: bool = False
    separability: Separability | None = None  # of the live W_i, what the views draw (None when not computed)
    sensitivity: Sensitivity | None = None
    # the criteria (see the module doc)
    function_separability: Separability | None = None  # of the live Phi_i: what the findings use
    exact_mask: np.ndarray | None = None  # every output of input i within tolerance of its target
    output_error: np.ndarray | None = None  # max over outputs k of |ReLU(p_k(W_i)) - [k == i]|
    exact_margin: np.ndarray | None = None  # min(OWN_TOL - own error, RECON_TOL - largest other output)
    failure_modes: list[str] = field(default_factory=list)
    undecided: list[dict[str, Any]] = field(default_factory=list)
    recon_undecided: np.ndarray | None = None  # (n,) bool
    precision: str = "float64"
    resolutions: dict[str, float] = field(default_factory=dict)
    verdict_resolutions: dict[str, float] = field(default_factory=dict)
    criteria_space: str = ""
    angle_measure: str = ""

    # -- convenience (0-based)
    @property
    def reconstructed(self) -> list[int]:
        return np.nonzero(self.reconstructed_mask)[0].tolist()

    @property
    def dead(self) -> list[int]:
        return np.nonzero(self.dead_mask)[0].tolist()

    @property
    def dead_outputs(self) -> list[int]:
        return [] if self.dead_output_mask is None else np.nonzero(self.dead_output_mask)[0].tolist()

    @property
    def finding_kinds(self) -> list[str]:
        return [f.kind for f in self.findings]

    @property
    def failure_key(self) -> str:
        """The failure modes present, sorted and joined with '+' ('none' when there are none): a stable
        name for the combination, for a sweep to count (e.g. 'dead+merged')."""
        return "+".join(sorted(self.failure_modes)) or "none"

    def finding(self, kind: str) -> Finding | None:
        for f in self.findings:
            if f.kind == kind:
                return f
        return None

    def merged_with(self, i: int) -> list[int]:
        for g in self.merged_groups:
            if i in g:
                return [j for j in g if j != i]
        return []

    def _feature_dict(self, i: int, partner: dict[int, list[int]]) -> dict[str, Any]:
        dout, rm, und = self.dead_output_mask, self.recon_margin, self.recon_undecided
        ru = bool(und is not None and und[i])
        d: dict[str, Any] = {
            "feature": i + 1,
            "norm": _jf(self.norms[i]),
            "angle_deg": _jf(self.angles_deg[i]),
            "bias": _jf(self.biases[i]),
            "dim": _jf(self.dims[i]),
            "self_activation": _jf(self.self_activation[i]),
            "max_other_activation": _jf(self.max_other[i]),
            "reconstructed": None if ru else bool(self.reconstructed_mask[i]),
            "reconstruction_margin": None if rm is None else _jf(rm[i]),
            "reconstruction_undecided": ru,
            "dead": bool(self.dead_mask[i]),
            "dead_output": bool(dout[i]) if dout is not None else False,
            "merged_with": partner.get(i, []),
        }
        if self.exact_mask is not None:  # analyse() sets the three together
            err, em = self.output_error, self.exact_margin
            d.update(exact=bool(self.exact_mask[i]), output_error=None if err is None else _jf(err[i]),
                     exact_margin=None if em is None else _jf(em[i]))
        sep = self.function_separability if self.function_separability is not None else self.separability
        if sep is not None:
            sd = sep.feature_dict(i)
            d.update(separable=sd["separable"], separation_margin=sd["separation_margin"],
                     separation={"blockers": sd["blockers"], "gap": sd["gap"], "decision": sd["separation_decision"],
                                 "depth": sd["separation_depth"], "resolution": sd["separation_resolution"]})
        if self.sensitivity is not None:
            d.update(self.sensitivity.feature_dict(i))
        return d

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (json.dumps(..., allow_nan=False) works). Features are 1-based."""
        partner: dict[int, list[int]] = {}
        for g in self.merged_groups:
            for i in g:
                partner[i] = [j + 1 for j in g if j != i]
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
            "verdict_resolutions": {k: _jf(v) for k, v in self.verdict_resolutions.items()},
            "failure_modes": list(self.failure_modes),
            "failure_key": self.failure_key,
            "undecided": _jsafe(self.undecided),
            "precision": self.precision,
            "resolution": {k: _jf(v) for k, v in self.resolutions.items()},
            "criteria_space": self.criteria_space,
            "plane": self.plane,
            "reconstructed": [i + 1 for i in self.reconstructed],
            "dead": [i + 1 for i in self.dead],
            "dead_outputs": [i + 1 for i in self.dead_outputs],
            "merged": [[i + 1 for i in g] for g in self.merged_groups],
            "findings": [f.to_dict() for f in self.findings],
            "reference": _jsafe(self.reference),
            "features": [self._feature_dict(i, partner) for i in range(self.n)],
            "regularity": {
                "radius_cv": _jf(self.radius_cv),
                "radius_ratio": _jf(self.radius_ratio),
                # None when undefined (no live feature) or infinite (a zero gap)
                "gap_ratio": _jf(self.gap_ratio),
                "gap_ratio_infinite": bool(self.gap_ratio is not None and math.isinf(self.gap_ratio)),
                "angle_measure": self.angle_measure,
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

def _merged_groups(W, W2, live, thr_rad) -> list[list[int]]:
    """Sparse data: live features whose directions lie within thr_rad of each other (single linkage)."""
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
        groups: dict[int, list[int]] = {}
        for lab, i in zip(label.tolist(), idx[o].tolist(), strict=True):
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
            r, c = np.nonzero(cthr < C)
            rows.append(r + s)
            cols.append(c)
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        ncomp, lab = connected_components(coo_matrix((np.ones(len(r)), (r, c)), shape=(L, L)), directed=False)
        groups = {}
        for la, i in zip(lab.tolist(), idx.tolist(), strict=True):
            groups.setdefault(la, []).append(i)
    out = [sorted(g) for g in groups.values() if len(g) >= 2]
    return sorted(out)


def _group_max_angle(W, g) -> float:
    """Largest angle (degrees) between two members of a merged group."""
    U = W[:, g] / np.linalg.norm(W[:, g], axis=0)
    c = np.clip(U.T @ U, -1.0, 1.0)
    return float(np.degrees(np.arccos(c.min())))


def regularity(nrm: np.ndarray, ang: np.ndarray, live: np.ndarray
               ) -> tuple[float | None, float | None, list[dict[str, float | list[int]]],
                          float | None, list[float] | np.ndarray]:
    """(radius cv, gap ratio, radius groups, radius ratio, group split ratios) of the live features,
    the gaps between their angles ang (radians, in a plane)."""
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
    groups: list[dict[str, float | list[int]]] = []
    for part in np.split(np.arange(len(rs)), breaks):
        groups.append({"radius": float(np.mean(rs[part])), "members": sorted(idx[o[part]].tolist())})
    return cv, gap, groups, ratio, steps


def _smallest_gap(ang: np.ndarray, live: np.ndarray) -> float:
    """The smallest angular gap (radians) between neighbouring live features on the plane."""
    th = np.sort(ang[live])
    if len(th) < 2:
        return math.inf
    return float(np.min(np.diff(np.concatenate([th, [th[0] + 2 * np.pi]]))))


def _table_chunk(P, s, wcols, tol, out, lists) -> None:
    """The per-input facts of rows s.. of P (P[r, k] = p_k(W_{s+r}); overwritten) into out
    (see _onehot_table). wcols: the outputs of live features (None: all of them)."""
    e = s + P.shape[0]
    r = np.arange(e - s)
    np.maximum(out["col_max"], P.max(axis=0), out=out["col_max"])
    np.minimum(out["col_min"], P.min(axis=0), out=out["col_min"])
    fire = tol < P
    if wcols is not None:
        fire &= wcols[None, :]
    anyf = fire.any(axis=1)
    packed = np.packbits(fire, axis=1)
    for t in np.nonzero(anyf)[0].tolist():
        out["keys"][s + t] = packed[t].tobytes()
    own_fires = fire[r, r + s]
    out["misfire"][s:e] = fire.sum(axis=1) - own_fires
    if lists is not None:
        fire[r, r + s] = False
        for rr, c in zip(*np.nonzero(fire), strict=True):
            lists[s + int(rr)].append((int(c), float(P[rr, c])))
    del fire, packed
    P[r, r + s] = -np.inf
    am = P.argmax(axis=1)
    out["other_all"][s:e] = P[r, am]
    out["other_arg"][s:e] = am


def _onehot_table(W, b, D, wlive, tol, detail: bool) -> dict[str, Any]:
    """One chunked pass over P[i, k] = p_k(W_i) (no n x n array for large n).

    Returns a dict: col_max, col_min (output k's largest / smallest pre-activation over
    the inputs); keys[i] (the set of outputs of live features that input i fires, packed,
    None when empty); misfire[i] (how many of those are not i's own) and, when detail,
    lists[i] = [(k, P[i, k]) ...] for them; other_all[i], other_arg[i] (the largest P[i, k]
    over every k != i, dead features' outputs included, and its k).
    """
    n = W.shape[1]
    out = {"col_max": np.full(n, -np.inf), "col_min": np.full(n, np.inf), "misfire": np.zeros(n, dtype=np.int64),
           "other_all": np.full(n, -np.inf), "other_arg": np.zeros(n, dtype=np.int64), "keys": [None] * n}
    lists: list[list] | None = [[] for _ in range(n)] if detail else None
    wcols = None if np.all(wlive) else np.asarray(wlive, dtype=bool)
    blk = max(1, geo.CHUNK_ELEMS // max(n, 1))
    for s in range(0, n, blk):
        e = min(n, s + blk)
        P = W[:, s:e].T @ D.T
        P += b[None, :]  # (e-s, n)
        _table_chunk(P, s, wcols, tol, out, lists)
    out["lists"] = lists
    return out


def _rows_flip(f: _Facts, rows: list[int], D: np.ndarray) -> float:
    """The smallest |p_k(W_i) - tol| over the inputs rows and the outputs of live features: how near
    their fire sets are to changing."""
    P = f.W[:, rows].T @ D.T + f.b[None, :]
    return float(np.min(np.abs(P[:, f.wlive] - f.tol)))


def _behaviour_groups(keys: list[bytes | None], cand: np.ndarray) -> list[list[int]]:
    """Features (among cand) whose inputs fire the same non-empty set of outputs, in groups of >= 2."""
    by: dict[bytes, list[int]] = {}
    for i in np.nonzero(cand)[0].tolist():
        k = keys[i]
        if k is not None:
            by.setdefault(k, []).append(i)
    return sorted(sorted(g) for g in by.values() if len(g) >= 2)


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
    phi: np.ndarray            # the function's feature vectors (W when tied)
    nrm: np.ndarray            # |Phi_i|
    ang: np.ndarray            # angles on the drawing plane (reported)
    dims: np.ndarray
    maxn: float
    dead: np.ndarray           # Phi_i (near) zero
    wlive: np.ndarray          # ~dead
    selfa: np.ndarray          # p_i(W_i)
    other: np.ndarray          # the largest live p_j(W_i), j != i
    loss1h: float
    thr_deg: float
    tol: float
    precision: str = "float64"
    rel: float = 0.0           # relative resolution of the parameters
    res_p: float = 0.0         # absolute resolution of a pre-activation
    # one-hot only (_onehot_facts)
    tab: dict[str, Any] = field(default_factory=dict)  # _onehot_table's output
    col_max: Any = None        # per output, over the inputs
    col_min: Any = None
    misfire: Any = None        # per input, how many wrong outputs fire
    lists: list[list] | None = None
    dead_out: Any = None       # outputs that never fire
    failed: Any = None         # dead | dead_out
    live: Any = None           # ~failed
    recon: Any = None
    rmargin: Any = None
    exact: Any = None
    emargin: Any = None
    groups: list[list[int]] = field(default_factory=list)
    group_margin: list[float] = field(default_factory=list)
    cv: float | None = None
    gap: float | None = None
    gap_lo: float = math.inf   # the smallest angle the angular ratio divides by (radians)
    gap_rank: int = 0          # m > 2: the profile rank that decides the angular ratio
    angle_measure: str = ""
    rgroups: list[dict[str, Any]] = field(default_factory=list)
    ratio: float | None = None
    split_steps: Any = None
    nl: int = 0
    residual: Any = None       # live, not reconstructed, in no merged group
    two_circle: bool = False
    sep: Separability | None = None


def _basic_facts(snapshot: Snapshot, tol: float, precision: str | None) -> tuple[_Facts, str, str]:
    """The facts both kinds of analysis need, the drawing plane's description and the criteria space's."""
    W, b, M = snapshot.W, snapshot.b, snapshot.M
    m, n = W.shape
    imp = np.ones(n) if snapshot.importance is None else np.asarray(snapshot.importance, dtype=np.float64)
    U, plane = geo.plane_basis(W)
    phi, psi, space = crit.function_factors(W, M)
    nrm = geo.norms(phi)
    maxn = float(nrm.max()) if n else 0.0
    dead = (nrm < DEAD_REL * maxn) | (nrm < DEAD_ABS)
    selfa, other, loss1h = geo.onehot_probe(W, b, importance=imp, M=M, live=~dead)
    prec = precision or crit.precision_of(W, b, M)
    if prec not in crit.RESOLUTION_REL:
        raise ValueError(f"precision must be one of {', '.join(crit.RESOLUTION_REL)}, got {precision!r}")
    rel = crit.RESOLUTION_REL[prec]
    f = _Facts(W=W, b=b, n=n, m=m, imp=imp, phi=phi, nrm=nrm, ang=geo.angles(U.T @ W),
               dims=geo.feature_dimensionality(W), maxn=maxn, dead=dead, wlive=~dead, selfa=selfa, other=other,
               loss1h=loss1h, thr_deg=min(MERGE_DEG, MERGE_FRAC * 360.0 / max(n, 1)), tol=float(tol),
               precision=prec, rel=rel, res_p=rel * _preactivation_scale(phi, psi, b) if rel else 0.0)
    return f, plane, space


def _preactivation_scale(phi: np.ndarray, psi: np.ndarray, b: np.ndarray) -> float:
    """criteria.preactivation_scale from factors already computed."""
    if phi.shape[1] == 0:
        return 0.0
    return float(np.max(np.linalg.norm(psi, axis=1)) * np.max(np.linalg.norm(phi, axis=0)) + np.max(np.abs(b)))


def _common(f: _Facts, snapshot: Snapshot, onehot: bool, plane: str, space: str) -> dict[str, Any]:
    """The keyword arguments of Analysis that both kinds of analysis fill alike."""
    tolerances = {"recon_tol": f.tol, "own_tol": OWN_TOL, "dead_rel": DEAD_REL, "dead_abs": DEAD_ABS,
                  "clean_tol": CLEAN_TOL, "merge_deg": float(f.thr_deg), "radius_group_ratio": RADIUS_GROUP_RATIO,
                  "regular_ratio": REGULAR_RATIO, "regular_gap": REGULAR_GAP,
                  "represented_norm": REPRESENTED_NORM}
    resolutions = {"relative": f.rel, "pre_activation": f.res_p,
                   "separation": f.rel * f.maxn, "norm_ratio": f.rel, "decades": _decade_res(f.rel)}
    recorded = float(snapshot.loss) if snapshot.loss is not None else math.nan
    return dict(step=int(snapshot.step), n=f.n, m=f.m, onehot=bool(onehot), recorded_loss=recorded, plane=plane,
                norms=f.nrm, angles_deg=np.degrees(f.ang), biases=f.b.copy(), dims=f.dims,
                self_activation=f.selfa, max_other=f.other, dead_mask=f.dead, tolerances=tolerances,
                untied=snapshot.M is not None, precision=f.precision, resolutions=resolutions,
                criteria_space=space)


def _sparse_analysis(f: _Facts, common: dict[str, Any]) -> Analysis:
    """Sparse data: the one-hot verdicts do not apply; the dimensionality summary instead."""
    nrm, dims = f.nrm, f.dims
    P2 = _plane_coords(f.phi)
    groups = _merged_groups(f.phi, P2, f.wlive, math.radians(f.thr_deg))
    cv, gap, rgroups, ratio, _ = regularity(nrm, geo.angles(P2), f.wlive)
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
                    sparse=sparse, angle_measure="angular gaps on the latent plane", **common)


def _plane_coords(phi: np.ndarray) -> np.ndarray:
    """Phi as 2D coordinates: itself for m = 2, (h, 0) for m = 1, the principal plane for m > 2
    (only the sparse summary's gap ratio uses the latter)."""
    m = phi.shape[0]
    if m == 2:
        return phi
    if m == 1:
        return np.vstack([phi, np.zeros((1, phi.shape[1]))])
    return geo.project(phi)


def _regularity_facts(f: _Facts) -> None:
    """Radius statistics and the angular ratio of the live features, in the full latent space."""
    live = f.live
    if f.m <= 2:
        ang = geo.angles(_plane_coords(f.phi))
        f.cv, f.gap, f.rgroups, f.ratio, f.split_steps = regularity(f.nrm, ang, live)
        f.gap_lo = _smallest_gap(ang, live)
        f.angle_measure = ("angular gaps between neighbours on the latent plane" if f.m == 2
                           else "angular gaps on the latent line")
        return
    f.cv, _, f.rgroups, f.ratio, f.split_steps = regularity(f.nrm, np.zeros(f.n), live)
    L = int(live.sum())
    if L < 2:
        f.gap = None if L == 0 else 1.0
        f.angle_measure = "angle profiles in R^m"
        return
    prof = crit.angle_profiles(f.phi[:, live])
    f.gap, f.gap_rank = crit.profile_ratio(prof)
    f.gap_lo = float(prof[:, f.gap_rank - 1].min()) if f.gap_rank else math.inf
    f.angle_measure = (f"angle profiles in R^{f.m}: each live feature's angles to its {prof.shape[1]} nearest, "
                       "largest over smallest per rank")


def _onehot_facts(f: _Facts, M: np.ndarray | None) -> None:
    """Fill f's one-hot facts: the per-output table, reconstruction and exactness with their margins,
    merged groups (by behaviour), radii and regularity, the two-circle residual."""
    D = geo.decoder_of(f.W, M)
    # misfires count the outputs of live features (an output that never fires cannot misfire)
    tab = _onehot_table(f.W, f.b, D, f.wlive, f.tol, detail=f.n <= DETAIL_MAX)
    f.tab = tab
    f.col_max, f.col_min, f.lists, f.misfire = tab["col_max"], tab["col_min"], tab["lists"], tab["misfire"]
    f.dead_out = f.col_max <= f.tol
    f.failed = f.dead | f.dead_out
    f.live = ~f.failed
    f.recon = f.wlive & (f.selfa > f.tol) & (f.other <= f.tol)
    # reconstruction margin of each feature (dead ones are excluded by the dead criterion: nan)
    f.rmargin = np.where(f.wlive, np.minimum(f.selfa - f.tol, f.tol - f.other), np.nan)
    own_err = np.abs(np.maximum(f.selfa, 0.0) - 1.0)
    f.emargin = np.minimum(OWN_TOL - own_err, f.tol - tab["other_all"])
    f.exact = f.emargin >= 0
    # the output farthest from its target: the own one, or the largest other (target 0)
    other_pos = np.maximum(tab["other_all"], 0.0)
    tab["err"] = np.maximum(own_err, other_pos)
    tab["err_out"] = np.where(own_err >= other_pos, np.arange(f.n), tab["other_arg"])
    f.groups = _behaviour_groups(tab["keys"], f.wlive)
    f.group_margin = [_rows_flip(f, g, D) for g in f.groups]
    _regularity_facts(f)
    f.nl = int(f.live.sum())
    merged = np.zeros(f.n, dtype=bool)
    for g in f.groups:
        merged[g] = True
    f.residual = f.live & ~f.recon & ~merged
    f.two_circle = bool(len(f.rgroups) >= 2 and f.residual.any())


def _finding_dead(f: _Facts) -> Finding | None:
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
                    "largest_output": max(float(f.col_max[i]), 0.0),
                    "clean": bool(spread <= CLEAN_TOL and abs(b[i] - inv_n) <= CLEAN_TOL),
                    "margin": margin_below(rho, DEAD_REL) if nrm[i] >= DEAD_ABS else math.inf})
    mg = min(p["margin"] for p in per)
    nclean = sum(p["clean"] for p in per)
    if len(per) == 1:
        p = per[0]
        text = (f"feature {p['feature']} dead: |W| {p['norm']:.3g} ({p['norm_ratio']:.2g} of the largest), "
                f"b {p['bias']:.6g} vs 1/n {inv_n:.6g} ({p['bias_diff']:+.2g}), output spread "
                f"{p['output_spread']:.2g}: " + ("clean (the seed's W = 0, b = 1/n)" if p["clean"]
                                                else "weak, not the clean W = 0, b = 1/n")
                + (f"; its output reaches {p['largest_output']:.3g}" if p["largest_output"] > f.tol else ""))
    else:
        text = (f"features {_short(idx)} dead (|W| < {DEAD_REL:g} of the largest); {nclean} of {len(per)} clean "
                f"(b = 1/n, constant output)")
    return Finding("dead", idx.tolist(), text, {"features": per[:DETAIL_MAX], "count": len(per),
                                                "clean": nclean}, mg)


def _finding_dead_output(f: _Facts) -> Finding | None:
    """Outputs that never fire on any input."""
    if not f.dead_out.any():
        return None
    idx = np.nonzero(f.dead_out)[0]
    mg = float(np.min(f.tol - f.col_max[idx]))
    per = [{"feature": i + 1, "max_pre_activation": f.col_max[i], "bias": f.b[i]} for i in idx[:DETAIL_MAX].tolist()]
    return Finding("dead_output", idx.tolist(),
                   f"output(s) {_short(idx)} never fire on any input (largest pre-activation "
                   f"{float(f.col_max[idx].max()):.3g} <= {f.tol:g}); each costs 1/n of loss",
                   {"outputs": per, "count": len(idx)}, mg, "pre-activation")


def _misfire_detail(f: _Facts, bad: np.ndarray, per: list[dict[str, Any]]) -> str:
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


def _finding_not_reconstructed(f: _Facts) -> Finding | None:
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
                   {"features": per, "count": len(bad)}, mg, "pre-activation")


def _fired_outputs(f: _Facts, key: bytes) -> list[int]:
    """The outputs (0-based) a packed fire set names."""
    wl = np.nonzero(f.wlive)[0]
    bits = np.unpackbits(np.frombuffer(key, dtype=np.uint8))[:len(wl)].astype(bool)
    return wl[bits].tolist()


def _merged_phrase(f: _Facts, limit: int = 4) -> str:
    """'{3, 4} fire outputs 3, 4 (12.3 deg apart)'; ..."""
    parts = []
    for g in f.groups[:limit]:
        outs = _fired_outputs(f, f.tab["keys"][g[0]])
        parts.append("{" + ", ".join(str(i + 1) for i in g[:8]) + (", ..." if len(g) > 8 else "") + "} fire "
                     + ("output " if len(outs) == 1 else "outputs ") + _short(outs, 30)
                     + f" ({_group_max_angle(f.phi, g):.3g} deg apart)")
    return "; ".join(parts) + (f" and {len(f.groups) - limit} more groups" if len(f.groups) > limit else "")


def _finding_merged(f: _Facts) -> Finding | None:
    """Groups of live features whose inputs fire the same outputs (cannot be told apart by the outputs)."""
    if not f.groups:
        return None
    per = []
    for g, mg in zip(f.groups[:DETAIL_MAX], f.group_margin[:DETAIL_MAX], strict=True):
        per.append({"features": [i + 1 for i in g], "fires": [j + 1 for j in _fired_outputs(f, f.tab["keys"][g[0]])],
                    "max_angle_deg": _group_max_angle(f.phi, g), "margin": mg,
                    "undecided": bool(f.res_p > 0 and mg <= f.res_p)})
    return Finding("merged", sorted(i for g in f.groups for i in g),
                   "inputs the outputs cannot tell apart (each group fires the same outputs): " + _merged_phrase(f, 8),
                   {"groups": per, "rule": "same set of firing outputs (pre-activation > recon_tol)",
                    "threshold": f.tol}, float(min(f.group_margin)), "pre-activation")


def _radii_text(rgroups: list[dict[str, Any]]) -> str:
    """'live features on 2 radii (r=1: 4, r=2: 4' (the caller closes the bracket)."""
    return (f"live features on {len(rgroups)} radii ("
            + ", ".join(f"r={g['radius']:.3g}: {len(g['members'])}" for g in rgroups[:8])
            + (", ..." if len(rgroups) > 8 else ""))


def _split_margin(f: _Facts) -> float:
    return -margin_ratio_below(float(np.max(f.split_steps)), RADIUS_GROUP_RATIO)


def _finding_radius_groups(f: _Facts) -> Finding | None:
    """Live features on two or more radii."""
    if len(f.rgroups) < 2:
        return None
    split = float(np.max(f.split_steps))
    return Finding("radius_groups", np.nonzero(f.live)[0].tolist(),
                   _radii_text(f.rgroups) + f"), largest step x{split:.3g}",
                   {"groups": [{"radius": g["radius"], "members": [i + 1 for i in g["members"]]}
                               for g in f.rgroups[:DETAIL_MAX]], "largest_step": split,
                    "threshold": RADIUS_GROUP_RATIO}, _split_margin(f))


def _finding_two_circle(f: _Facts) -> Finding | None:
    """Live features on two or more radii, with live features not reconstructed that no merged group explains."""
    if not f.two_circle:
        return None
    idx = np.nonzero(f.residual)[0]
    where = {i: t for t, g in enumerate(f.rgroups) for i in g["members"]}
    per = [{"feature": i + 1, "radius_group": where.get(i, -1) + 1, "norm": f.nrm[i], "margin": float(f.rmargin[i])}
           for i in idx[:DETAIL_MAX].tolist()]
    return Finding("two_circle", idx.tolist(), _radii_text(f.rgroups) + f"); not reconstructed: {_short(idx, 80)}",
                   {"features": per, "largest_step": float(np.max(f.split_steps)), "threshold": RADIUS_GROUP_RATIO},
                   _split_margin(f))


def _findings_separability(f: _Facts) -> list[Finding]:
    """The seed's Question 1: live features not linearly separable, and separable ones not reconstructed
    (features whose separability is undecided are in neither)."""
    sep = f.sep
    if sep is None:
        return []
    out = []
    tested = f.wlive & ~f.dead_out
    insep = np.nonzero(tested & sep.decided_inseparable)[0]
    depth = sep.depth
    if len(insep):
        per = [{"feature": i + 1, "blockers": [j + 1 for j in sep.blockers[i]],
                "depth": None if depth is None else _jf(depth[i])}
               for i in insep[:DETAIL_MAX].tolist()]
        parts = "; ".join(f"{e['feature']} inside the hull of {', '.join(map(str, e['blockers']))}"
                          for e in per[:6]) + ("; ..." if len(per) > 6 else "")
        out.append(Finding("not_separable", insep.tolist(),
                           f"{len(insep)} live feature(s) not linearly separable from the others: {parts}",
                           {"features": per, "count": len(insep)}, None, "none"))
    sns = np.nonzero(tested & sep.decided_separable & ~f.recon)[0]
    if len(sns):
        partner = {i: [j + 1 for j in g if j != i] for g in f.groups for i in g}
        per = [{"feature": i + 1, "separation_margin": float(sep.margin[i]), "gap": sep.gap_dict(i),
                "margin_in_resolutions": float(sep.margin[i] / sep.resolution) if sep.resolution > 0 else None,
                "merged_with": partner.get(i, [])}
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
            {"features": per, "count": len(sns), "resolution": sep.resolution},
            float(np.min(sep.margin[sns])), "latent units"))
    return out


def _regularity_margins(f: _Facts) -> tuple[float, float, float, float]:
    """(radius margin, angle margin, their resolutions), ratio margins in decades of the log-excess.
    A norm ratio is known to relative rel; an angle to rel radians, so a ratio of angles to 2 rel / the
    smaller angle. Only for live features (their regularity() ratios exist)."""
    if f.ratio is None or f.gap is None:
        raise ValueError("regularity margins need live features: the radius and gap ratios are None")
    m_r = margin_ratio_below(f.ratio, REGULAR_RATIO)
    m_g = margin_ratio_below(f.gap, REGULAR_GAP)
    res_r = _ratio_margin_res(REGULAR_RATIO, f.rel)
    res_g = _ratio_margin_res(REGULAR_GAP, 2 * f.rel / f.gap_lo) if f.gap_lo > 0 else math.inf
    return m_r, m_g, res_r, res_g


def _ratio_undecided(hi: float, lo: float, delta: float, thr: float) -> bool:
    """Whether thr lies within the values hi / lo can take when each is known to +-delta (absolute)."""
    if delta <= 0 or not (math.isfinite(hi) and math.isfinite(lo)):
        return False
    top = (hi + delta) / (lo - delta) if lo > delta else math.inf
    bottom = max(hi - delta, 0.0) / (lo + delta)
    return bottom <= thr <= top


def _regularity_decision(f: _Facts) -> tuple[bool, float, float, bool]:
    """(regular, signed margin of the finding that holds, its resolution near the threshold, undecided).
    Undecided: the deciding ratio's threshold lies within the values the ratio can take at the
    parameters' resolution (a norm ratio to relative rel; an angle ratio hi / lo with each angle
    known to rel radians)."""
    m_r, m_g, res_r, res_g = _regularity_margins(f)
    use_r = m_r <= m_g
    mg, res = (m_r, res_r) if use_r else (m_g, res_g)
    regular = mg >= 0
    if use_r:
        und = _ratio_undecided(f.ratio, 1.0, f.rel * f.ratio, REGULAR_RATIO) if f.ratio is not None else False
    else:
        g = f.gap if f.gap is not None else math.nan
        und = _ratio_undecided(g * f.gap_lo, f.gap_lo, f.rel, REGULAR_GAP) if math.isfinite(g) else False
    return regular, (mg if regular else -mg), res, bool(und and f.rel > 0)


def _finding_regularity(f: _Facts) -> Finding | None:
    """Whether the live features (at least 3) are regular; the margin is the nearer of the radius and
    angle criteria, signed so that it is positive where the finding (regular or irregular) holds."""
    nl = f.nl
    if nl < 3:
        return None
    m_r, m_g, res_r, res_g = _regularity_margins(f)
    regular, mg, res, und = _regularity_decision(f)
    ev = {"live": nl, "radius_ratio": f.ratio, "radius_cv": f.cv, "gap_ratio": f.gap, "angle_measure": f.angle_measure,
          "radius_margin": m_r, "gap_margin": m_g, "threshold_radius": REGULAR_RATIO, "threshold_gap": REGULAR_GAP,
          "resolution": res, "undecided": und}
    if f.m > 2:
        ev["profile_rank"] = f.gap_rank
        shape = ("regular (every live feature sees the same angles to its neighbours)" if regular
                 else "not regular")
        what = f"the {nl} live features are {shape}: radius ratio {f.ratio:.6g}, angle-profile ratio {f.gap:.6g}"
    else:
        word = "a regular" if regular else "not a regular"
        what = f"the {nl} live features are {word} {nl}-gon: radius ratio {f.ratio:.6g}, gap ratio {f.gap:.6g}"
    return Finding("regular" if regular else "irregular", np.nonzero(f.live)[0].tolist(),
                   what + f" (regular: both <= {REGULAR_RATIO:g})" + (" [undecided]" if und else ""), ev, mg)


def _inexact_parts(f: _Facts, idx: np.ndarray) -> list[dict[str, Any]]:
    """Per input: its own output, the output farthest from its target, and what that output is."""
    per = []
    for i in idx[:DETAIL_MAX].tolist():
        k = int(f.tab["err_out"][i])
        own = max(float(f.selfa[i]), 0.0)
        e = {"feature": i + 1, "own_output": own, "worst_output": k + 1,
             "worst_value": own if k == i else float(f.tab["err"][i]), "target": 1.0 if k == i else 0.0,
             "tolerance": OWN_TOL if k == i else f.tol, "margin": float(f.emargin[i]),
             "worst_is": "own" if k == i else ("a dead feature's output" if f.dead[k] else "a live output")}
        per.append(e)
    return per


def _inexact_text(per: list[dict[str, Any]], limit: int = 4) -> str:
    bits = []
    for e in per[:limit]:
        if e["worst_is"] == "own":
            bits.append(f"input {e['feature']}: own output {e['own_output']:.3g} (target 1, tolerance {OWN_TOL:g})")
        else:
            bits.append(f"input {e['feature']}: output {e['worst_output']} fires {e['worst_value']:.3g} "
                        f"({e['worst_is']}; target 0, tolerance {e['tolerance']:g})")
    return "; ".join(bits) + ("; ..." if len(per) > limit else "")


def _finding_inexact(f: _Facts) -> Finding | None:
    """Inputs the sign test passes whose outputs, dead features' included, are not all within tolerance."""
    idx = np.nonzero(f.wlive & f.recon & ~f.exact)[0]
    if not len(idx):
        return None
    per = _inexact_parts(f, idx)
    return Finding("inexact", idx.tolist(),
                   f"{len(idx)} input(s) reconstructed by the sign test but not within tolerance of the target: "
                   + _inexact_text(per), {"features": per, "count": len(idx), "own_tol": OWN_TOL,
                                          "other_tol": f.tol}, float(np.max(f.emargin[idx])), "output")


def _collapsed_loss(f: _Facts) -> float:
    """Loss of the constant model (A = 0): sum_k I_k ((ReLU(b_k) - 1)^2 + (n - 1) ReLU(b_k)^2) / n."""
    r = np.maximum(f.b, 0.0)
    return float(np.sum(f.imp * ((r - 1.0) ** 2 + (f.n - 1) * r * r)) / f.n)


def _finding_collapsed(f: _Facts) -> Finding | None:
    """No live feature: every feature dead, or no output fires."""
    if not f.n or f.nl:
        return None
    all_dead = bool(f.dead.all())
    ref = _collapsed_loss(f) if all_dead else float(np.sum(f.imp)) / f.n
    why = ("every feature dead: no input moves any output, the outputs are the constant ReLU(b)" if all_dead
           else "no output of a live feature ever fires")
    formula = ("sum_k I_k ((ReLU(b_k) - 1)^2 + (n-1) ReLU(b_k)^2) / n (1 at b <= 0, (n-1)/n at b = 1/n)"
               if all_dead else "sum_k I_k / n (every output 0)")
    return Finding("collapsed", list(range(f.n)),
                   f"{why}; loss {f.loss1h:.6g}, closed form {ref:.6g}",
                   {"all_dead": all_dead, "dead_outputs": int(f.dead_out.sum()), "loss": f.loss1h,
                    "reference_loss": ref, "formula": formula, "largest_norm": f.maxn}, None, "none")


def _undecided_items(f: _Facts) -> list[dict[str, Any]]:
    """Every decision within the parameters' resolution (none for exact parameters)."""
    if f.rel <= 0:
        return []
    out: list[dict[str, Any]] = []

    def add(criterion, mask, margins, res, unit):
        idx = np.nonzero(mask)[0]
        if len(idx):
            out.append({"criterion": criterion, "features": [int(i) + 1 for i in idx[:DETAIL_MAX]],
                        "margins": [float(x) for x in np.asarray(margins)[idx[:DETAIL_MAX]]],
                        "resolution": float(res), "unit": unit})

    rp = f.res_p
    add("reconstructed", f.wlive & (np.abs(f.rmargin) <= rp), f.rmargin, rp, "pre-activation")
    add("exact", f.wlive & (np.abs(f.emargin) <= rp), f.emargin, rp, "output")
    with np.errstate(divide="ignore"):
        dm = np.log10(DEAD_REL * f.maxn / f.nrm) if f.maxn > 0 else np.full(f.n, np.inf)
    add("dead", np.abs(dm) <= _decade_res(f.rel), dm, _decade_res(f.rel), "decades")
    add("dead_output", np.abs(f.tol - f.col_max) <= rp, f.tol - f.col_max, rp, "pre-activation")
    for g, mg in zip(f.groups, f.group_margin, strict=True):
        if mg <= rp:
            out.append({"criterion": "merged", "features": [i + 1 for i in g], "margins": [mg], "resolution": rp,
                        "unit": "pre-activation"})
    if f.sep is not None and f.sep.undecided is not None:
        und = f.sep.undecided & f.wlive & ~f.dead_out
        idx = np.nonzero(und)[0]
        if len(idx):
            out.append({"criterion": "separable", "features": [int(i) + 1 for i in idx[:DETAIL_MAX]],
                        "margins": [f.sep.signed_margin(i) for i in idx[:DETAIL_MAX].tolist()],
                        "resolution": f.sep.resolution, "unit": "latent units"})
    if f.nl >= 3:
        regular, mg, res, und = _regularity_decision(f)
        if und:
            out.append({"criterion": "regular", "features": [int(i) + 1 for i in np.nonzero(f.live)[0][:DETAIL_MAX]],
                        "margins": [mg], "resolution": res, "unit": "decades"})
    if len(f.rgroups) >= 1 and len(f.split_steps):
        sm, res = _split_margin(f), _ratio_margin_res(RADIUS_GROUP_RATIO, f.rel)
        if abs(sm) <= res:
            out.append({"criterion": "radius_groups", "features": [], "margins": [sm], "resolution": res,
                        "unit": "decades"})
    return out


def _finding_undecided(items: list[dict[str, Any]]) -> Finding | None:
    if not items:
        return None
    feats = sorted({i - 1 for it in items for i in it["features"]})
    text = "; ".join(f"{it['criterion']} of {_ranges(it['features'][:12]) if it['features'] else 'the model'} "
                     f"(margin {min(it['margins'], key=abs):.2g} within resolution {it['resolution']:.2g})"
                     for it in items[:6])
    return Finding("undecided", feats, "below the parameters' float32 resolution, neither yes nor no: " + text,
                   {"items": items}, None, "none")


def _findings(f: _Facts) -> list[Finding]:
    """Every finding that holds (the undecided one is added by analyze, after the verdict)."""
    found = [_finding_dead(f), _finding_dead_output(f), _finding_not_reconstructed(f), _finding_merged(f),
             _finding_radius_groups(f), _finding_two_circle(f), *_findings_separability(f), _finding_regularity(f),
             _finding_inexact(f), _finding_collapsed(f)]
    return [x for x in found if x is not None]


def _mode_phrases(f: _Facts, findings_by_kind: dict[str, Finding]) -> dict[str, str]:
    """A phrase for each failure mode present (see FAILURE_MODES), in that order."""
    ph: dict[str, str] = {}
    if f.n and f.nl == 0:
        return {"collapsed": findings_by_kind["collapsed"].text}
    if f.dead.any():
        ph["dead"] = f"{_named(np.nonzero(f.dead)[0], 80)} dead"
    if f.dead_out.any():
        ph["dead_output"] = f"output(s) {_short(np.nonzero(f.dead_out)[0], 80)} never fire"
    if f.groups:
        ph["merged"] = "merged " + _merged_phrase(f)
    if f.two_circle:
        ph["two_circle"] = _radii_text(f.rgroups) + f"), not reconstructed: {_short(np.nonzero(f.residual)[0], 80)}"
    elif f.residual.any():
        ph["not_reconstructed"] = f"not reconstructed: {_short(np.nonzero(f.residual)[0], 80)}"
    if not ph and "inexact" in findings_by_kind:
        ex = findings_by_kind["inexact"]
        ph["inexact"] = "outputs off target: " + _inexact_text(ex.evidence["features"], 2)
    return ph


def _failure_verdict(f: _Facts, by_kind: dict[str, Finding], vm: dict[str, float | None],
                     vr: dict[str, float], vu: dict[str, bool]) -> tuple[str, str]:
    """Dead features or dead outputs beside at least one live feature: symmetric or asymmetric failure."""
    what = []
    if f.dead.any():
        what.append(f"{_named(np.nonzero(f.dead)[0], 80)} dead")
        vm["dead"], vr["dead"] = by_kind["dead"].margin, _decade_res(f.rel)
    if f.dead_out.any():
        what.append(f"output(s) {_short(np.nonzero(f.dead_out)[0], 80)} never fire")
        vm["dead_output"], vr["dead_output"] = float(np.min(f.tol - f.col_max[f.dead_out])), f.res_p
    head = " and ".join(what)
    nl, nr = f.nl, int(f.recon[f.live].sum())
    regular = "regular" in by_kind
    if regular:
        verdict = "symmetric_failure"
        text = f"{head}; the other {nl} are " + (f"a regular {nl}-gon" if f.m <= 2 else "regular")
        if nl > nr:
            text += f" ({nl - nr} not reconstructed)"
    else:
        verdict = "asymmetric_failure"
        if nl < 3:
            shape = f"only {nl} live"
        elif len(f.rgroups) >= 2:
            shape = f"the other {nl} on {len(f.rgroups)} radii"
        else:
            shape = f"the other {nl} not regular"
        text = f"{head}; {shape} (radius ratio {f.ratio:.3g}, {'gap' if f.m <= 2 else 'angle-profile'} ratio {f.gap:.3g})"
    if nl >= 3:  # the regularity finding's margin is signed to hold for the verdict taken
        vm["regular"] = by_kind["regular" if regular else "irregular"].margin
        _, _, vr["regular"], vu["regular"] = _regularity_decision(f)
    return verdict, text


def _far_bad(f: _Facts) -> float:
    """How far the farthest live feature that is not reconstructed is from being so (pre-activation)."""
    bad = f.wlive & ~f.recon
    return float(np.max(-f.rmargin[bad])) if np.any(bad) else math.inf


def _verdict_core(f: _Facts, by_kind: dict[str, Finding]) -> tuple[str, str, dict[str, float | None],
                                                                      dict[str, float], dict[str, bool], list[str]]:
    """(verdict, text, margins, their resolutions, undecided flags set where a margin's resolution is not
    a plain band around 0, the failure modes the text's head already names)."""
    n, nr = f.n, int(f.recon.sum())
    vm: dict[str, float | None] = {}
    vr: dict[str, float] = {}
    vu: dict[str, bool] = {}
    no_dead = -margin_below(float(f.nrm.min()) / f.maxn, DEAD_REL) if n and f.maxn > 0 and not f.dead.any() else None
    if n and f.nl == 0:
        if f.dead.all():
            vm["dead"], vr["dead"] = margin_below(f.maxn, DEAD_ABS), _decade_res(f.rel)
        else:
            vm["dead_output"] = float(np.min(f.tol - f.col_max[f.wlive]))
            vr["dead_output"] = f.res_p
        return "collapsed", by_kind["collapsed"].text, vm, vr, vu, ["collapsed"]
    if nr == n and bool(np.all(f.exact)):
        vm["reconstructed"], vr["reconstructed"] = (float(np.min(f.rmargin)) if n else math.inf), f.res_p
        vm["exact"], vr["exact"] = (float(np.min(f.emargin)) if n else math.inf), f.res_p
        return ("perfect", f"every feature reconstructed (all {n}), every output within tolerance of its target",
                vm, vr, vu, [])
    if f.failed.any():
        verdict, text = _failure_verdict(f, by_kind, vm, vr, vu)
        return verdict, text, vm, vr, vu, ["dead", "dead_output"]
    vm["no_dead"], vr["no_dead"] = no_dead, _decade_res(f.rel)
    if f.groups:
        vm["merged"], vr["merged"] = by_kind["merged"].margin, f.res_p
        return "merged_failure", "inputs the outputs cannot tell apart: " + _merged_phrase(f), vm, vr, vu, ["merged"]
    if f.two_circle:
        vm["radius_groups"], vr["radius_groups"] = _split_margin(f), _ratio_margin_res(RADIUS_GROUP_RATIO, f.rel)
        vm["reconstructed"], vr["reconstructed"] = _far_bad(f), f.res_p
        text = _radii_text(f.rgroups) + f"); not reconstructed: {_short(np.nonzero(f.residual)[0], 80)}"
        return "two_circle_failure", text, vm, vr, vu, ["two_circle"]
    if nr < n:
        vm["reconstructed"], vr["reconstructed"] = _far_bad(f), f.res_p
        text = f"{nr} of {n} features reconstructed; not reconstructed: {_short(np.nonzero(~f.recon)[0], 80)}"
        return "imperfect", text, vm, vr, vu, ["not_reconstructed"]
    off = np.nonzero(~f.exact)[0]
    vm["exact"], vr["exact"] = float(np.max(-f.emargin[off])), f.res_p
    text = ("every feature reconstructed by the sign test, but outputs off target: "
            + _inexact_text(_inexact_parts(f, off), 3))
    return "imperfect", text, vm, vr, vu, ["inexact"]


def _verdict(f: _Facts, findings: list[Finding]) -> tuple[str, str, dict[str, float | None], dict[str, float],
                                                           dict[str, bool], list[str]]:
    """The verdict from the findings (first match wins), its text naming every failure mode present,
    the margins of the criteria that decided it with their resolutions, and the failure modes. A
    deciding margin within its resolution makes the verdict 'undecided'."""
    by_kind = {x.kind: x for x in findings}
    verdict, text, vm, vr, vu, named = _verdict_core(f, by_kind)
    for k, v in vm.items():  # a margin within its resolution of 0 (the regularity flag is set by its interval)
        if k not in vu:
            vu[k] = bool(v is not None and math.isfinite(v) and vr.get(k, 0) > 0 and abs(v) <= vr[k])
    phrases = _mode_phrases(f, by_kind)
    modes = [k for k in FAILURE_MODES if k in phrases]
    extra = [p for k, p in phrases.items() if k not in named]
    if extra:
        text += "; also " + "; ".join(extra)
    close = [(k, v, vr[k]) for k, v in vm.items() if vu.get(k)]
    if close:
        k, v, r = close[0]
        text = (f"the {k} criterion's margin {v:.3g} is within the parameters' float32 resolution {r:.3g}, "
                f"so the parameters do not decide it; otherwise: {verdict.replace('_', ' ')}: {text}")
        verdict = "undecided"
        modes.append("undecided")
    return verdict, text, vm, vr, vu, modes


def _reference(f: _Facts) -> dict[str, Any]:
    """The closed-form loss of the dead features and outputs when every other feature is reconstructed,
    beside the measured loss and each dead feature's bias against 1/n."""
    n, imp, dead_out = f.n, f.imp, f.dead_out
    inv_n = 1.0 / n
    fired_dead = f.dead & ~dead_out
    ref_loss = float(np.sum(imp[fired_dead]) * (n - 1) / n ** 2 + np.sum(imp[dead_out]) / n)
    # the closed form assumes every feature that is not dead reconstructed exactly (vacuous when all are dead)
    applies = bool(f.failed.any() and ((f.nl >= 1 and np.all(f.recon[f.live])) or f.dead.all()))
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
            extras: bool | None = None, precision: str | None = None) -> Analysis:
    """Analyse one snapshot. onehot=False: the model was trained on sparse data.

    tol is the reconstruction tolerance (RECON_TOL). extras: compute separability
    and sensitivity (None: when n <= EXTRAS_MAX_N). precision: 'float32' or
    'float64', the parameters' resolution (None: float32 when every parameter is a
    float32 number, as trained ones are). The one-hot facts (p_i(W_i), the largest
    live p_j(W_i), and the float64 one-hot loss, importance-weighted) come from one
    fused pass, geometry.onehot_probe; the per-output facts, the misfire counts, the
    output errors and the fire sets from one chunked pass over P: O(n^2 m) time,
    O(n) memory beyond chunks of ~4M elements.
    """
    f, plane, space = _basic_facts(snapshot, tol, precision)
    common = _common(f, snapshot, onehot, plane, space)
    if not onehot:
        return _sparse_analysis(f, common)
    n = f.n
    if extras is None:
        extras = n <= EXTRAS_MAX_N
    sep_w = separability(f.W, f.wlive, resolution_rel=f.rel) if extras and n else None
    f.sep = sep_w if snapshot.M is None or sep_w is None else separability(f.phi, f.wlive, resolution_rel=f.rel)
    sens = sensitivity(f.W, f.b, snapshot.M) if extras and n else None
    _onehot_facts(f, snapshot.M)
    findings = _findings(f)
    verdict, text, vm, vr, vu, modes = _verdict(f, findings)
    und = _undecided_items(f)
    for k, v in vm.items():  # the verdict's own criteria within resolution
        if vu.get(k) and v is not None:  # undecided: its margin is within resolution (so it has one)
            und.append({"criterion": f"verdict ({k})", "features": [], "margins": [float(v)],
                        "resolution": float(vr[k]), "unit": "pre-activation" if k in PRE_ACTIVATION_MARGINS
                        else "decades"})
    fu = _finding_undecided(und)
    if fu is not None:
        findings.append(fu)
    return Analysis(loss=f.loss1h, verdict=verdict, verdict_text=text, reconstructed_mask=f.recon,
                    merged_groups=f.groups, radius_cv=f.cv, gap_ratio=f.gap, radius_groups=f.rgroups,
                    radius_ratio=f.ratio, dead_output_mask=f.dead_out, recon_margin=f.rmargin, findings=findings,
                    reference=_reference(f), verdict_margins=vm, separability=sep_w, sensitivity=sens,
                    function_separability=f.sep, exact_mask=f.exact, output_error=f.tab["err"],
                    exact_margin=f.emargin, failure_modes=modes, undecided=und, verdict_resolutions=vr,
                    recon_undecided=(f.wlive & (np.abs(f.rmargin) <= f.res_p)) if f.res_p > 0 else np.zeros(n, bool),
                    angle_measure=f.angle_measure, **common)


def _fmt(x, spec):
    if x is None:
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return format(x, spec)


def fmt_margin(v: float | None, unit: str = "decades") -> str:
    """A margin in words: '+1.2 dec', '-0.003', 'exact' (infinitely far)."""
    if v is None or (isinstance(v, float) and math.isinf(v) and v > 0):
        return "exact"
    if isinstance(v, float) and math.isinf(v):
        return "-inf"
    return f"{v:+.2g} dec" if unit == "decades" else f"{v:+.3g}"


def finding_lines(a: Analysis) -> list[str]:
    """One line per finding: kind, text and margin; then the closed-form reference."""
    out = []
    for f in a.findings:
        mg = "" if f.margin_unit == "none" else f"  [margin {fmt_margin(f.margin, f.margin_unit)}]"
        out.append(f"  {f.kind}: {f.text}{mg}")
    r = a.reference
    if r and (np.any(a.dead_mask) or (a.dead_output_mask is not None and np.any(a.dead_output_mask))):
        out.append(f"  reference {r['formula_short']} = {r['loss']:.10g}, measured {_fmt(r['loss_measured'], '.10g')} "
                   f"({r['loss_diff']:+.2g}); dead b - 1/n: "
                   + (", ".join(f"{k}: {v:+.2g}" for k, v in list(r["dead_bias_diff"].items())[:8]) or "none")
                   + ("" if r.get("applies") else " (does not apply: a live feature is not reconstructed)"))
    return out


def _sep_cell(sep, i) -> str:
    if sep is None or not sep.live[i] or (sep.computed is not None and not sep.computed[i]):
        return "-"
    if sep.is_undecided(i):
        return "?"
    return "yes" if sep.separable[i] else "no"


def _sep_margin_cell(sep, i) -> str:
    if _sep_cell(sep, i) == "-":
        return "-"
    return _fmt(float(sep.margin[i]), ".4g")


def _fire_cell(sens, i) -> str:
    """The fire threshold; '*' marks one of 1 or more: the output never fires on a valid input."""
    if sens is None:
        return "-"
    t = float(sens.fire_threshold[i])
    if math.isinf(t):
        return "never"
    return _fmt(t, ".4g") + ("*" if t >= 1 else "")


def _header_lines(a: Analysis) -> list[str]:
    """Step, loss, verdict, its margins and failure key, the findings."""
    data = "one-hot" if a.onehot else "sparse"
    lines = [f"step {a.step}   n = {a.n}   m = {a.m}   data: {data}" + ("   decoder: untied" if a.untied else "")]
    if a.onehot:
        lines.append(f"loss {_fmt(a.loss, '.10g')} (exact float64, one-hot)   "
                     f"recorded {_fmt(None if a.recorded_loss is None or math.isnan(a.recorded_loss) else a.recorded_loss, '.6g')}")
    else:
        lines.append(f"loss {_fmt(None if a.loss is None or math.isnan(a.loss) else a.loss, '.6g')} (recorded)")
    lines.append(f"verdict: {a.verdict.replace('_', ' ')} - {a.verdict_text}")
    if a.onehot and a.verdict != SPARSE_VERDICT:
        lines.append(f"failure modes: {a.failure_key}   parameters: {a.precision}"
                     + (f" (resolution {a.resolutions.get('relative', 0):.3g} relative)"
                        if a.resolutions.get("relative") else " (taken as exact)"))
    if a.verdict_margins:
        lines.append("verdict margins (distance from flipping): "
                     + ", ".join(f"{k} {fmt_margin(v, 'pre-activation' if k in PRE_ACTIVATION_MARGINS else 'decades')}"
                                 for k, v in a.verdict_margins.items()))
    if a.findings:
        lines.append("findings:")
        lines.extend(finding_lines(a))
    return lines


def format_analysis(a: Analysis, max_rows: int = 64) -> str:
    """A readable text report: header, findings, regularity and a per-feature table."""
    lines = _header_lines(a)
    lines.append(f"plane: {a.plane}")
    if a.untied and a.criteria_space:
        lines.append(f"criteria read: {a.criteria_space}")

    def members(g):
        txt = _ranges([i + 1 for i in g["members"]])
        return txt if len(txt) <= 60 else f"{len(g['members'])} features"
    rg = "; ".join(f"r ~ {g['radius']:.4g}: {members(g)}" for g in a.radius_groups[:8])
    if len(a.radius_groups) > 8:
        rg += f"; ... {len(a.radius_groups) - 8} more"
    gname = "gap ratio" if a.m <= 2 else "angle-profile ratio"
    lines.append(f"regularity (live features): radius cv {_fmt(a.radius_cv, '.4f')}, "
                 f"{gname} {_fmt(a.gap_ratio, '.4f')}, radius groups {len(a.radius_groups)}"
                 + (f" ({rg})" if rg else ""))
    if a.sparse:
        s = a.sparse
        lines.append(f"dimensionality: sum D_i {s['sum_dim']:.4g}, D_i > {DIM_HALF}: {s['features_dim_gt_half']}, "
                     f"represented (|W_i| > {s['represented_norm']}): {s['represented']}, "
                     f"dims per feature {_fmt(s['dims_per_feature'], '.4g')}")
    t = a.tolerances
    merged = ("inputs firing the same outputs" if a.onehot else f"< {t['merge_deg']:.3g} deg")
    lines.append(f"criteria: recon tol {t['recon_tol']:g}, own output within {t.get('own_tol', OWN_TOL):g} of 1, "
                 f"dead |W_i| < {t['dead_rel']:g} max or < {t['dead_abs']:g}, merged: {merged}, radius groups split at "
                 f"x{t['radius_group_ratio']:g}, regular: radius and {gname}s <= {t['regular_ratio']:g}")
    lines.append("")
    lines.extend(_table_lines(a, max_rows))
    return "\n".join(lines)


def _table_lines(a: Analysis, max_rows: int) -> list[str]:
    """The per-feature table ('?': undecided at the parameters' resolution; '*': never fires on a valid input)."""
    lines = [f"{'feature':>7} {'norm':>10} {'angle':>8} {'bias':>11} {'D_i':>6} {'p_i(W_i)':>10} "
             f"{'max p_j':>10}  recon  dead  {'sep':>3} {'sep margin':>10} {'fires x >':>9}  merged"]
    sep = a.function_separability if a.function_separability is not None else a.separability
    sens = a.sensitivity
    partner = {}
    for g in a.merged_groups:
        for i in g:
            partner[i] = ",".join(str(j + 1) for j in g if j != i)
    dout, rund = a.dead_output_mask, a.recon_undecided
    rows = range(a.n) if a.n <= max_rows else range(max_rows)
    never = False
    for i in rows:
        mo = a.max_other[i]
        dd = "yes" if a.dead_mask[i] else ("out" if dout is not None and dout[i] else ".")
        rc = "?" if rund is not None and rund[i] else ("yes" if a.reconstructed_mask[i] else "no")
        fc = _fire_cell(sens, i)
        never = never or fc.endswith("*")
        lines.append(
            f"{i + 1:>7} {a.norms[i]:>10.4g} {a.angles_deg[i]:>8.2f} {a.biases[i]:>11.4g} {a.dims[i]:>6.3f} "
            f"{a.self_activation[i]:>10.4g} {('-' if not math.isfinite(mo) else format(mo, '.4g')):>10}  "
            f"{rc:>5}  {dd:>4}  {_sep_cell(sep, i):>3} {_sep_margin_cell(sep, i):>10} {fc:>9}  "
            f"{partner.get(i, '')}")
    if a.n > max_rows:
        lines.append(f"... ({a.n - max_rows} more features)")
    if never:
        lines.append("* fire threshold of 1 or more: the output never fires on a valid input (inputs are in (0, 1])")
    if any(c == "?" for c in (_sep_cell(sep, i) for i in rows)) or (rund is not None and rund.any()):
        lines.append("? undecided: the margin is within the parameters' float32 resolution")
    return lines
