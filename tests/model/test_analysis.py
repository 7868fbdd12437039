"""model.analysis.analysis against hand-built models whose facts are known by construction."""
import json
import math

import numpy as np
import pytest

from model.analysis.analysis import DEAD_REL, RECON_TOL, REPRESENTED_NORM, analyze, format_analysis
from model.snapshot import Snapshot


def henighan(n):
    phi = 2 * np.pi / n
    th = phi * np.arange(1, n + 1)
    r2 = 1.0 / (1.0 - np.cos(phi))
    return np.sqrt(r2) * np.vstack([np.cos(th), np.sin(th)]), np.full(n, -r2 * np.cos(phi))


def polar(deg, r):
    t = np.radians(np.asarray(deg, float))
    return np.asarray(r, float) * np.vstack([np.cos(t), np.sin(t)])


def snap(W, b, **kw):
    return Snapshot(step=kw.pop("step", 100), W=W, b=b, **kw)


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7, 8, 12, 16, 32, 64])
def test_henighan_is_perfect_and_regular(n):
    W, b = henighan(n)
    a = analyze(snap(W, b))
    assert a.verdict == "perfect"
    assert a.loss < 1e-12
    assert a.reconstructed == list(range(n)) and a.dead == []
    assert a.radius_cv < 1e-12
    assert a.gap_ratio == pytest.approx(1.0, abs=1e-9)
    assert len(a.radius_groups) == 1
    assert a.merged_groups == []


def test_symmetric_failure_hexagon_plus_dead_seventh():
    W6, b6 = henighan(6)
    W = np.hstack([W6, np.zeros((2, 1))])
    b = np.append(b6, 1 / 7)
    a = analyze(snap(W, b, loss=0.1224))
    assert a.verdict == "symmetric_failure"
    assert abs(a.loss - 6 / 49) < 1e-12
    assert a.recorded_loss == 0.1224
    d = a.to_dict()
    assert d["dead"] == [7]
    assert d["reconstructed"] == [1, 2, 3, 4, 5, 6]
    assert d["verdict"] == "symmetric_failure"
    # the regularity of the six live features is the regular hexagon's
    assert d["regularity"]["radius_cv"] == pytest.approx(0.0, abs=1e-12)
    assert d["regularity"]["gap_ratio"] == pytest.approx(1.0)


def test_pm_pairs_without_bias_are_perfect():
    W = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    a = analyze(snap(W, np.zeros(4)))
    assert a.loss == 0.0
    assert a.verdict == "perfect"
    assert a.gap_ratio == pytest.approx(1.0)


def test_wiggle_room_irregular_but_perfect():
    # angles 0, 70, 140, 215, 290 (gaps 70, 70, 75, 75, 70); radii 2 or 3; b_i = 1 - r_i^2.
    # p_i(W_i) = 1 and p_j(W_i) = r_i r_j cos(theta) + 1 - r_j^2 <= 6 cos 70 + 1 - 4 < 0.
    deg = [0, 70, 140, 215, 290]
    r = np.array([2.0, 3.0, 2.0, 3.0, 3.0])
    W = polar(deg, r)
    b = 1 - r**2
    a = analyze(snap(W, b))
    assert a.loss < 1e-24
    assert a.verdict == "perfect"  # perfection does not demand regularity
    assert a.radius_cv == pytest.approx(np.std(r) / np.mean(r))
    assert a.gap_ratio == pytest.approx(75 / 70)
    # two radius groups (3/2 > 1.3), yet perfect takes precedence over two circles
    groups = a.to_dict()["regularity"]["radius_groups"]
    assert [g["members"] for g in groups] == [[1, 3], [2, 4, 5]]
    assert [g["radius"] for g in groups] == pytest.approx([2.0, 3.0])


def test_merged_failure():
    # features 1 and 2 share the direction 0 deg (norms 1 and 1.5): one always fires on the other
    W = np.array([[1.0, 1.5, -1.2, 0.0], [0.0, 0.0, 0.0, 1.0]])
    a = analyze(snap(W, np.zeros(4)))
    assert a.verdict == "merged_failure"
    d = a.to_dict()
    assert d["merged"] == [[1, 2]]
    assert d["features"][0]["merged_with"] == [2] and d["features"][1]["merged_with"] == [1]
    assert d["features"][2]["merged_with"] == []
    assert 1 not in d["reconstructed"] and 2 not in d["reconstructed"]


def test_merged_is_decided_by_the_outputs_not_the_angle():
    # issue 19: merged means the outputs cannot tell two inputs apart (they fire the same outputs),
    # whatever the angle. 3 degrees apart with b = 0: input 1 fires outputs 1 and 2 (cos 3 > 0.01),
    # and so does input 2: merged (the old rule, an angle under 1 degree, said not merged).
    W = polar([0, 3, 120, 240], [1, 1, 1, 1])
    a = analyze(snap(W, np.zeros(4)))
    assert a.merged_groups == [[0, 1]]
    g = a.finding("merged").evidence["groups"][0]
    assert g["fires"] == [1, 2] and g["max_angle_deg"] == pytest.approx(3.0)
    # the same two directions with biases that split their zones are not merged: b_2 puts output 2
    # at 1 - 0.9895 = 0.0105 > 0.01 on input 2 and at cos 3 - 0.9895 = 0.0091 <= 0.01 on input 1;
    # b_1 = -0.9895 likewise keeps output 1 off input 2 (cos 3 - 0.9895 = 0.0091).
    b = np.array([-0.9895, -0.9895, 0.0, 0.0])
    a = analyze(snap(W, b))
    assert a.merged_groups == []
    assert a.reconstructed == [0, 1, 2, 3]  # each input fires only its own output
    # ... by the sign test; inputs 1 and 2 give their own output only 0.0105: not within 0.1 of 1
    assert a.verdict == "imperfect" and a.failure_key == "inexact"
    assert a.finding("inexact").features == [0, 1]
    # 0.5 degrees apart, and across the +-180 seam: merged
    W = polar([0, 0.5, 120, 240], [1, 1, 1, 1])
    assert analyze(snap(W, np.zeros(4))).merged_groups == [[0, 1]]
    W = polar([179.8, -179.9, 60, -60], [1, 1, 1, 1])
    assert analyze(snap(W, np.zeros(4))).merged_groups == [[0, 1]]
    # a pair 20 degrees apart sharing one slot of a hexagon (the n = 8 AdamW pairs, 1.5-23 degrees):
    # with every b = -r^2 cos 50 and r^2 (1 - cos 50) = 1, each pair input fires both pair outputs
    # (cos 20 > cos 50) and nothing else (its nearest other feature is 50 degrees away): merged
    r2 = 1 / (1 - math.cos(math.radians(50)))
    W = polar([-10, 10, 60, 120, 180, 240, 300], [math.sqrt(r2)] * 7)
    a = analyze(snap(W, np.full(7, -r2 * math.cos(math.radians(50)))))
    assert a.merged_groups == [[0, 1]] and a.verdict == "merged_failure" and a.failure_key == "merged"
    g = a.finding("merged").evidence["groups"][0]
    assert g["fires"] == [1, 2] and g["max_angle_deg"] == pytest.approx(20.0)
    # the other output of the pair: r^2 (cos 20 - cos 50) on each pair input
    wrong = r2 * (math.cos(math.radians(20)) - math.cos(math.radians(50)))
    assert a.loss == pytest.approx(2 * wrong ** 2 / 7, rel=1e-12)
    # the margin: the pre-activation nearest to changing a fire set, the 50-degree neighbours' outputs,
    # at exactly 0 (Henighan's construction for the 50-degree spacing): RECON_TOL away
    assert g["margin"] == pytest.approx(RECON_TOL, rel=1e-9)


def test_two_circle_failure():
    # the Henighan pentagon plus a sixth feature at half the radius in the 0-72 gap, b_6 = 0.
    # p_1(W_6) = 0.5 r^2 cos 36 - r^2 cos 72 = r^2 (0.4045 - 0.3090) > 0: feature 6 not reconstructed.
    W5, b5 = henighan(5)
    r = np.linalg.norm(W5[:, 0])
    W = np.hstack([W5, polar([36.0], [0.5 * r])])
    b = np.append(b5, 0.0)
    a = analyze(snap(W, b))
    assert a.dead == []  # 0.5 > DEAD_REL
    assert a.verdict == "two_circle_failure"
    d = a.to_dict()
    assert 6 not in d["reconstructed"]
    assert [g["members"] for g in d["regularity"]["radius_groups"]] == [[6], [1, 2, 3, 4, 5]]


def test_regular_without_bias_is_imperfect():
    W = polar([0, 72, 144, 216, 288], [1] * 5)
    a = analyze(snap(W, np.zeros(5)))
    assert a.verdict == "imperfect"
    assert a.reconstructed == []
    # output i for e_j is ReLU(cos(72 |i-j|)): two wrong outputs of cos 72 per example
    assert a.loss == pytest.approx(2 * np.cos(np.radians(72)) ** 2)


def test_dead_threshold_and_all_dead():
    W = polar([0, 90, 180, 270], [1, 1, 1, 0.5 * DEAD_REL])
    a = analyze(snap(W, np.zeros(4)))
    assert a.dead == [3]
    # every feature dead: collapsed (issue 19; it was "imperfect"), loss (n-1)/n at b = 1/n
    a = analyze(snap(np.zeros((2, 3)), np.full(3, 1 / 3)))
    assert a.dead == [0, 1, 2] and a.verdict == "collapsed"
    assert a.loss == pytest.approx(2 / 3)  # per example: (2/3)^2 + 2 (1/3)^2
    json.dumps(a.to_dict(), allow_nan=False)


def test_recon_tolerance_boundary():
    # +-pairs with a wrong output raised just below / above the tolerance
    W = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    # feature 3 fires at b_3 on e_1 and e_2 (W_3 . W_1 = W_3 . W_2 = 0), not on e_4 (-1 + b_3)
    b = np.array([0.0, 0.0, 0.5 * RECON_TOL, 0.0])
    assert analyze(snap(W, b)).verdict == "perfect"
    b = np.array([0.0, 0.0, 2 * RECON_TOL, 0.0])
    a = analyze(snap(W, b))
    assert a.reconstructed == [2, 3] and a.verdict == "imperfect"


def test_m5_plane_and_untied():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(5, 2)))
    W2, b = henighan(7)
    W = Q @ W2
    a = analyze(snap(W, b))
    assert a.verdict == "perfect" and a.m == 5
    assert "principal" in a.plane and "m = 5" in a.plane
    assert a.gap_ratio == pytest.approx(1.0, abs=1e-9)
    # an untied decoder equal to W^T gives the same facts; a zero decoder row kills feature 1's output
    assert analyze(snap(W, b, M=W.T.copy())).verdict == "perfect"
    M = W.T.copy()
    M[0] = 0.0
    a = analyze(snap(W, b, M=M))
    assert 0 not in a.reconstructed


def test_sparse_summary():
    # norms 1, 1, 0.3, 0 ; (1,0), (0,1), 0.3 (1,0), 0
    W = np.array([[1.0, 0.0, 0.3, 0.0], [0.0, 1.0, 0.0, 0.0]])
    a = analyze(snap(W, np.zeros(4), loss=0.25), onehot=False)
    d = a.to_dict()
    assert d["verdict"].startswith("n/a")
    assert d["loss"] == 0.25
    s = d["sparse"]
    assert s["represented"] == 2 and s["represented_norm"] == REPRESENTED_NORM
    # D_i = |W_i|^2 / sum_j (W^_i . W_j)^2: features 1 and 3 share the x axis
    D1 = 1 / (1 + 0.09)
    D3 = 0.09 / (1 + 0.09)
    assert [f["dim"] for f in d["features"]] == pytest.approx([D1, 1.0, D3, 0.0])
    assert s["sum_dim"] == pytest.approx(D1 + 1 + D3)
    assert s["features_dim_gt_half"] == 2
    assert s["dims_per_feature"] == pytest.approx(2 / 2.09)


def test_to_dict_is_json_safe_and_complete():
    W = polar([0, 0, 120, 240], [1, 1, 1, 1])  # a zero angular gap: gap ratio inf
    a = analyze(snap(W, np.zeros(4)))  # recorded loss nan
    assert math.isinf(a.gap_ratio)
    d = a.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    for key in ("step", "loss", "n", "m", "verdict", "reconstructed", "dead", "features", "regularity"):
        assert key in back
    assert back["regularity"]["gap_ratio"] is None and back["regularity"]["gap_ratio_infinite"]
    assert back["recorded_loss"] is None
    f = back["features"][0]
    for key in ("feature", "norm", "angle_deg", "bias", "dim", "reconstructed", "dead", "merged_with"):
        assert key in f
    assert [f["feature"] for f in back["features"]] == [1, 2, 3, 4]
    assert set(back["regularity"]) >= {"radius_cv", "gap_ratio", "radius_groups"}


def test_format_analysis_table():
    W6, b6 = henighan(6)
    W = np.hstack([W6, np.zeros((2, 1))])
    b = np.append(b6, 1 / 7)
    text = format_analysis(analyze(snap(W, b, step=25000)))
    assert "symmetric failure" in text and "step 25000" in text
    assert "0.1224489796" in text  # 6/49
    rows = [ln for ln in text.splitlines() if ln.strip().startswith("7 ")]
    # not reconstructed, dead, not tested for separability (dead), fires on any input (b_7 > 0)
    assert rows and rows[0].split()[-5:] == ["no", "yes", "-", "-", "0"]
    big = format_analysis(analyze(snap(*henighan(100))), max_rows=10)
    assert "90 more features" in big


# ----------------------------------------------------------------------------
# findings, margins and the verdict derived from them (hand-built models)

def _perfect_two_radii(deg, r):
    """Live features at angles deg and radii r with b_i = 1 - r_i^2: p_i(W_i) = 1 exactly."""
    W = polar(deg, r)
    return W, 1 - np.asarray(r, float) ** 2


def _with_dead(W, b, n_dead=1, w=0.0, bias=None):
    n = W.shape[1] + n_dead
    Wd = np.zeros((2, n_dead))
    Wd[0, :] = w
    return np.hstack([W, Wd]), np.append(b, np.full(n_dead, 1.0 / n if bias is None else bias))


def test_clean_symmetric_failure_findings_reference_and_margins():
    W6, b6 = henighan(6)
    W, b = _with_dead(W6, b6)
    a = analyze(snap(W, b))
    assert a.verdict == "symmetric_failure"
    assert a.finding_kinds[:1] == ["dead"] and "regular" in a.finding_kinds
    dead = a.finding("dead")
    ev = dead.evidence["features"][0]
    assert ev["feature"] == 7 and ev["clean"] and ev["bias_diff"] == pytest.approx(0, abs=1e-15)
    assert ev["output_spread"] == 0.0
    assert math.isinf(dead.margin)  # W_7 exactly 0: infinitely far from the threshold
    r = a.reference
    assert r["applies"] and r["dead_bias"] == pytest.approx(1 / 7)
    assert r["loss"] == pytest.approx(6 / 49, abs=1e-15)  # d (n-1)/n^2
    assert abs(r["loss_diff"]) < 1e-12
    # a regular hexagon up to float rounding (ratios 1 + ~1e-16): > 10 decades to spare
    assert a.verdict_margins["regular"] > 10 and math.isinf(a.verdict_margins["dead"])
    d = a.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["findings"][0]["kind"] == "dead" and d["findings"][0]["features"] == [7]
    assert d["findings"][0]["margin"] is None  # infinite -> null
    assert d["reference"]["loss"] == pytest.approx(6 / 49)


@pytest.mark.parametrize("n, d", [(7, 2), (9, 3), (12, 1)])
def test_reference_loss_d_dead_features_closed_form(n, d):
    Wl, bl = henighan(n - d)
    W, b = _with_dead(Wl, bl, n_dead=d, bias=1.0 / n)
    a = analyze(snap(W, b))
    assert a.verdict == "symmetric_failure"
    assert a.loss == pytest.approx(d * (n - 1) / n ** 2, abs=1e-12)
    assert a.reference["loss"] == pytest.approx(d * (n - 1) / n ** 2, abs=1e-15)
    assert abs(a.reference["loss_diff"]) < 1e-12
    assert len(a.finding("dead").features) == d and a.finding("dead").evidence["clean"] == d


def test_dead_bias_off_the_optimum_shows_in_the_reference():
    W6, b6 = henighan(6)
    W, b = _with_dead(W6, b6, bias=0.25)
    a = analyze(snap(W, b))
    # the dead output is 0.25 on every input: (1 - 0.25)^2 + 6 * 0.25^2 per 7 inputs
    assert a.loss == pytest.approx((0.75 ** 2 + 6 * 0.0625) / 7, abs=1e-12)
    assert a.reference["loss_diff"] == pytest.approx((0.75 ** 2 + 6 * 0.0625) / 7 - 6 / 49, abs=1e-12)
    assert a.reference["dead_bias_diff"]["7"] == pytest.approx(0.25 - 1 / 7)
    assert not a.finding("dead").evidence["features"][0]["clean"]


def test_dead_feature_with_two_radius_live_features_is_asymmetric():
    # six live features 60 deg apart, radii 2.2 and 3.3 alternating, b_i = 1 - r_i^2 so p_i(W_i) = 1;
    # a neighbour's p_j(W_i) = 2.2 * 3.3 * cos 60 + 1 - r_j^2 <= 3.63 - 3.84 < 0: all six
    # reconstructed; feature 7 dead at b = 1/7.
    deg = [0, 60, 120, 180, 240, 300]
    r = [2.2, 3.3, 2.2, 3.3, 2.2, 3.3]
    Wl, bl = _perfect_two_radii(deg, r)
    W, b = _with_dead(Wl, bl)
    a = analyze(snap(W, b))
    assert a.reconstructed == list(range(6))
    assert a.verdict == "asymmetric_failure"
    assert {"dead", "radius_groups", "irregular"} <= set(a.finding_kinds)
    irr = a.finding("irregular")
    assert irr.evidence["radius_ratio"] == pytest.approx(1.5)
    # margin in decades of the log-excess: log10(ln 1.5 / ln 1.1) > 0 for "irregular"
    assert irr.margin == pytest.approx(math.log10(math.log(1.5) / math.log(1.1)))
    assert a.verdict_margins["regular"] == pytest.approx(irr.margin)
    # the clean reference still applies (the others reconstruct exactly): loss 6/49
    assert a.reference["applies"] and a.loss == pytest.approx(6 / 49, abs=1e-12)


def test_weak_feature_is_dead_but_not_clean():
    # the AdamW shape: a weak feature, |W_7| ~ 0.08 of radius 3.5, b_7 ~ 0.28 (not 1/7)
    W6, b6 = henighan(6)
    W6 = W6 * 1.0
    W, b = _with_dead(W6, b6, w=0.08, bias=0.28)
    a = analyze(snap(W, b))
    f = a.finding("dead")
    ev = f.evidence["features"][0]
    assert ev["feature"] == 7 and not ev["clean"]
    assert ev["norm"] == pytest.approx(0.08)
    rho = 0.08 / np.sqrt(2.0)  # the hexagon's radius is sqrt(2)
    assert ev["norm_ratio"] == pytest.approx(rho)
    assert f.margin == pytest.approx(math.log10(DEAD_REL / rho))
    assert "weak" in f.text
    assert ev["output_spread"] > 0.1  # its output varies with the input: not constant


def test_regularity_threshold_flips_exactly_at_the_ratio_and_margin_changes_sign():
    from model.analysis.analysis import REGULAR_RATIO
    W6, b6 = henighan(6)
    for f, want, sign in ((0.999, "symmetric_failure", 1), (1.001, "asymmetric_failure", -1)):
        scale = np.ones(6)
        scale[0] = REGULAR_RATIO * f  # one radius stretched: radius ratio REGULAR_RATIO * f
        Wl = W6 * scale
        W, b = _with_dead(Wl, b6)
        a = analyze(snap(W, b))
        assert a.verdict == want
        kind = "regular" if sign > 0 else "irregular"
        fnd = a.finding(kind)
        assert fnd is not None and fnd.evidence["radius_ratio"] == pytest.approx(REGULAR_RATIO * f)
        expect = math.log10(math.log(REGULAR_RATIO) / math.log(REGULAR_RATIO * f))
        assert fnd.evidence["radius_margin"] == pytest.approx(expect)
        assert np.sign(fnd.evidence["radius_margin"]) == sign
        assert abs(a.verdict_margins["regular"]) == pytest.approx(abs(expect))  # small: near the threshold


def test_untied_outputs_that_never_fire_are_dead_outputs():
    # Henighan n = 7 encoder; decoder rows 2..7 zero and b_j = -0.5 there: outputs 2..7 never fire.
    W, b = henighan(7)
    M = W.T.copy()
    M[1:] = 0.0
    b = b.copy()
    b[1:] = -0.5
    a = analyze(snap(W, b, M=M))
    assert a.dead_outputs == [1, 2, 3, 4, 5, 6]
    assert a.dead == []  # every W column is healthy: dead means outputs here
    assert a.loss == pytest.approx(6 / 7, abs=1e-12)  # each never-firing output costs 1/n
    assert a.reference["loss"] == pytest.approx(6 / 7)
    assert a.reference["applies"] and abs(a.reference["loss_diff"]) < 1e-12
    f = a.finding("dead_output")
    assert f.features == [1, 2, 3, 4, 5, 6] and f.margin == pytest.approx(RECON_TOL + 0.5)
    assert a.verdict == "asymmetric_failure"  # one live output left: no polygon
    assert "never fire" in a.verdict_text
    d = a.to_dict()
    assert d["dead_outputs"] == [2, 3, 4, 5, 6, 7] and d["decoder"] == "untied"


def test_not_reconstructed_lists_the_misfiring_outputs():
    # +-pairs; b_3 = 0.3 makes output 3 fire on inputs 1 and 2 (W_3 . W_1 = W_3 . W_2 = 0)
    W = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    b = np.array([0.0, 0.0, 0.3, 0.0])
    a = analyze(snap(W, b))
    f = a.finding("not_reconstructed")
    assert f.features == [0, 1]
    per = {e["feature"]: e for e in f.evidence["features"]}
    assert per[1]["misfires"] == [{"output": 3, "pre_activation": pytest.approx(0.3)}]
    assert per[2]["misfires"] == [{"output": 3, "pre_activation": pytest.approx(0.3)}]
    assert f.margin == pytest.approx(RECON_TOL - 0.3)  # negative: how far from reconstructed
    assert "input 1: fires 3 (0.3)" in f.text
    assert a.verdict == "imperfect"


def test_two_circle_failure_without_dead_features_and_its_margins():
    # six on a big circle (r = 3) and two small ones (r = 1) inside their neighbours' chords
    # (1 < 3 cos 45deg): no dead feature (1/3 > DEAD_REL), two radii. Row-wise (the seed's
    # criterion), a small feature's own input is fine, but its big neighbours' inputs fire the
    # small feature's output: p_7(W_3) = 3 * 1 * cos 45deg + 0 = 2.12.
    deg = [0, 45, 90, 180, 225, 270, 135, 315]
    r = [3, 3, 3, 3, 3, 3, 1, 1]
    W = polar(deg, r)
    b = 1 - np.asarray(r, float) ** 2
    a = analyze(snap(W, b))
    assert a.dead == []
    assert a.verdict == "two_circle_failure"
    f = a.finding("not_reconstructed")
    assert f.features == [0, 2, 3, 5]
    per = {e["feature"]: e for e in f.evidence["features"]}
    assert per[3]["misfires"] == [{"output": 7, "pre_activation": pytest.approx(3 * math.cos(math.pi / 4))}]
    assert a.finding("radius_groups").evidence["largest_step"] == pytest.approx(3.0)
    vm = a.verdict_margins
    assert vm["radius_groups"] == pytest.approx(math.log10(math.log(3.0) / math.log(1.3)))
    assert vm["no_dead"] == pytest.approx(math.log10((1 / 3) / DEAD_REL))


def test_separable_but_not_separated_and_inside_the_hull_question_1():
    """The seed's Question 1 on hand-built points: six on a big circle (R = 3, 60 deg apart)
    and two small features between neighbours (half-gap 30 deg): one at r = R cos 30 + 0.05
    (just outside the chord: separable), one at r = R cos 30 - 0.05 (inside: not separable).
    Neither is reconstructed with b = 1 - r^2."""
    R, a = 3.0, math.radians(30)
    r_out, r_in = R * math.cos(a) + 0.05, R * math.cos(a) - 0.05
    deg = [0, 60, 120, 180, 240, 300, 30, 210]
    r = [R] * 6 + [r_out, r_in]
    W = polar(deg, r)
    b = 1 - np.asarray(r) ** 2
    a_ = analyze(snap(W, b))
    sep = a_.separability
    assert sep.separable[6] and not sep.separable[7]
    # margin of the outside point: its distance to the chord through its neighbours = r - R cos 30
    assert sep.margin[6] == pytest.approx(0.05, rel=1e-9)
    assert a_.finding("not_separable").features == [7]
    assert a_.finding("not_separable").evidence["features"][0]["blockers"][:2] == [4, 5] or \
        set(a_.finding("not_separable").evidence["features"][0]["blockers"]) >= {4, 5}
    # the small feature outside its chord is reconstructed: its own input fires only output 7
    # (3 r cos 30 + 1 - 9 < 0). Its big neighbours are vertices of the hull (separable) but not
    # reconstructed: their inputs fire output 7, p_7(W_1) = 3 r cos 30 + 1 - r^2 > 0 (about 0.87)
    assert 6 in a_.reconstructed
    assert 3 * r_out * math.cos(a) + 1 - r_out ** 2 > 0
    f = a_.finding("separable_not_separated")
    assert f is not None and f.features == [0, 1, 3, 4]
    # the gap evidence of the small separable feature: half-gap 30 deg against arccos(r / R)
    g = a_.separability.gap_dict(6)
    assert g["half_gap_deg"] == pytest.approx(30.0)
    assert g["needed_half_gap_deg"] == pytest.approx(math.degrees(math.acos(r_out / R)))
    d = a_.to_dict()
    json.dumps(d, allow_nan=False)
    f7 = d["features"][6]
    assert f7["separable"] is True and f7["separation_margin"] == pytest.approx(0.05, rel=1e-9)
    assert d["features"][7]["separable"] is False
    # sensitivity: the smallest input that fires output i is -b_i / |W_i|^2 when b_i < 0
    assert f7["fire_threshold"] == pytest.approx(-(1 - r_out ** 2) / r_out ** 2)
    assert 0 < f7["sliver_share"] < 1


def test_henighan_every_feature_separable_and_fires_at_cos_phi():
    for n in (5, 7, 12):
        W, b = henighan(n)
        a = analyze(snap(W, b))
        assert a.separability.separable.all() and a.finding("not_separable") is None
        assert a.finding("separable_not_separated") is None  # all reconstructed
        d = a.to_dict()
        for f in d["features"]:
            assert f["fire_threshold"] == pytest.approx(math.cos(2 * math.pi / n))
            # each margin is the distance from a vertex to its neighbours' chord: r (1 - cos 2pi/n)
            r = math.sqrt(1 / (1 - math.cos(2 * math.pi / n)))
            assert f["separation_margin"] == pytest.approx(r * (1 - math.cos(2 * math.pi / n)), rel=1e-9)
