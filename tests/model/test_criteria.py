"""Issue 19's diagnosis criteria on hand-built models with closed forms: findings that combine,
criteria invariant under rotations (tied) and gauges (untied), resolution-aware decisions,
"perfect" meaning reconstructed, and collapse. Never against the code's earlier output."""
import json
import math

import numpy as np
import pytest
from scipy.linalg import sqrtm
from scipy.stats import ortho_group

from model.analysis import criteria as crit
from model.analysis.analysis import OWN_TOL, RECON_TOL, analyze, format_analysis
from model.analysis.separability import FLOAT32_RES, fire_label, separability
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


def signature(a):
    """What must not change under a symmetry: verdict, failure key, and each finding's kind and features
    (the evidence's numbers may move at rounding level)."""
    return (a.verdict, a.failure_key, [(f.kind, list(f.features)) for f in a.findings],
            a.dead, a.dead_outputs, a.reconstructed, a.merged_groups)


def octahedron_plus_dead(r2=1.0):
    """n = 7, m = 3: features 1-6 at +-r e_k, feature 7 dead (W_7 = 0, b_7 = 1/7).
    Live outputs: own r^2 + b = 1; the four neighbours at 90 degrees give b <= 0 and the antipode
    -r^2 + b < 0, so b = 1 - r^2 with r^2 >= 1 reconstructs exactly (r^2 = 1, b = 0 is Henighan's
    choice: the nearest neighbours exactly at 0). Loss: input 7 gives output 7 = 1/7 (error 6/7),
    inputs 1-6 give output 7 = 1/7 (error 1/7 each): (36/49 + 6/49) / 7 = 6/49."""
    r = math.sqrt(r2)
    W = np.hstack([r * np.eye(3), -r * np.eye(3), np.zeros((3, 1))])
    b = np.append(np.full(6, 1.0 - r2), 1.0 / 7)
    return W, b


# ----------------------------------------------------------------------------
# invariant criteria: m > 2 in the full latent space, rotations

@pytest.mark.parametrize("r2", [1.0, 1.5, 3.0])
def test_octahedron_plus_dead_feature_is_the_3d_symmetric_failure(r2):
    W, b = octahedron_plus_dead(r2)
    a = analyze(snap(W, b))
    assert a.loss == pytest.approx(6 / 49, abs=1e-15)
    assert a.verdict == "symmetric_failure" and a.failure_key == "dead"
    assert a.dead == [6] and a.reconstructed == list(range(6))
    assert a.radius_ratio == pytest.approx(1.0) and a.gap_ratio == pytest.approx(1.0)
    assert "angle profiles in R^3" in a.to_dict()["regularity"]["angle_measure"]
    reg = a.finding("regular")
    assert reg.evidence["profile_rank"] >= 1 and reg.margin > 6
    assert a.reference["applies"] and abs(a.reference["loss_diff"]) < 1e-15
    # the dead output fires 1/7 on every live input: those inputs are reconstructed, yet not exact
    assert a.finding("inexact").features == list(range(6))
    assert a.finding("inexact").evidence["features"][0]["worst_output"] == 7


@pytest.mark.parametrize("seed", range(6))
def test_octahedron_findings_are_the_same_under_random_rotations(seed):
    W, b = octahedron_plus_dead()
    base = analyze(snap(W, b))
    Q = ortho_group.rvs(3, random_state=seed)
    a = analyze(snap(Q @ W, b))
    assert signature(a) == signature(base)
    assert a.gap_ratio == pytest.approx(1.0, abs=1e-9)  # on a projection plane it ranged 1.86-11.9
    assert a.loss == pytest.approx(6 / 49, abs=1e-13)


@pytest.mark.parametrize("seed", range(4))
def test_irregular_m3_failure_keeps_its_findings_under_rotations(seed):
    # five features on an irregular set in R^3, one of them weak: asymmetric, whatever the rotation
    rng = np.random.default_rng(100 + seed)
    W = rng.normal(size=(3, 6))
    W[:, 5] *= 0.05
    b = rng.normal(scale=0.3, size=6)
    base = analyze(snap(W, b))
    for k in range(3):
        Q = ortho_group.rvs(3, random_state=10 * seed + k)
        assert signature(analyze(snap(Q @ W, b))) == signature(base)


def test_angle_profiles_closed_forms():
    # regular hexagon in a plane of R^3: every feature sees 60, 60, 120, 120, 180 degrees
    W6, _ = henighan(6)
    V = np.vstack([W6, np.zeros((1, 6))])
    prof = crit.angle_profiles(V)
    assert prof.shape == (6, 5)
    np.testing.assert_allclose(np.degrees(prof), np.tile([60, 60, 120, 120, 180], (6, 1)), atol=1e-6)
    assert crit.profile_ratio(prof)[0] == pytest.approx(1.0)
    # gaps 60, 60, 90, 90, 60: the second-nearest angles are 60 for one point and 90 for two others
    Wg = polar([0, 60, 120, 210, 300], [1] * 5)
    ratio, rank = crit.profile_ratio(crit.angle_profiles(np.vstack([Wg, np.zeros((1, 5))])))
    assert ratio == pytest.approx(1.5) and rank == 2


# ----------------------------------------------------------------------------
# untied models: the function, not |W_i|

def random_gauge(rng, m):
    """An invertible m x m matrix with singular values between 0.2 and 5."""
    U = ortho_group.rvs(m, random_state=rng)
    V = ortho_group.rvs(m, random_state=rng)
    return U @ np.diag(np.exp(rng.uniform(np.log(0.2), np.log(5.0), m))) @ V


def test_function_vectors_are_the_balanced_factor():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 8))
    M = rng.normal(size=(8, 3))
    Phi, _ = crit.function_vectors(W, M)
    A = M @ W
    np.testing.assert_allclose(Phi.T @ Phi, np.real(sqrtm(A.T @ A)), atol=1e-9)
    # tied: W itself; an untied model whose decoder is W^T: Phi^T Phi = W^T W
    assert crit.function_vectors(W)[0] is W or np.array_equal(crit.function_vectors(W)[0], W)
    Phi_t, _ = crit.function_vectors(W, W.T.copy())
    np.testing.assert_allclose(Phi_t.T @ Phi_t, W.T @ W, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_perfect_untied_model_stays_perfect_under_random_gauges(seed):
    W, b = henighan(7)
    base = analyze(snap(W, b, M=W.T.copy()))
    assert base.verdict == "perfect" and base.loss < 1e-24
    rng = np.random.default_rng(seed)
    R = random_gauge(rng, 2)
    a = analyze(snap(R @ W, b, M=W.T @ np.linalg.inv(R)))
    assert signature(a) == signature(base)
    assert a.loss < 1e-20


def test_a_gauge_that_shrinks_a_feature_below_the_dead_threshold_is_harmless():
    # issue 19: a gauge turned a perfect untied model into "asymmetric failure, features 1 and 7
    # dead". Here R squeezes W_1's direction 20x: |W_1| falls to 0.05 of the largest (the old rule
    # read |W_i| and called it dead), the function M W is unchanged, and so is every finding
    W, b = henighan(7)
    u = W[:, 0] / np.linalg.norm(W[:, 0])
    R = np.eye(2) - (1 - 0.05) * np.outer(u, u)
    We, M = R @ W, W.T @ np.linalg.inv(R)
    n_w = np.linalg.norm(We, axis=0)
    assert n_w[0] < 0.1 * n_w.max()
    base = analyze(snap(W, b, M=W.T.copy()))
    a = analyze(snap(We, b, M=M))
    assert a.verdict == "perfect" and a.dead == [] and a.loss < 1e-20
    assert signature(a) == signature(base)


@pytest.mark.parametrize("seed", range(4))
def test_untied_failures_keep_their_findings_under_random_gauges(seed):
    # the hexagon with a dead seventh feature, and the 20-degree merged pair with a dead eighth
    rng = np.random.default_rng(50 + seed)
    for W, b in (octahedron_plus_dead_2d(), merged_pair_and_dead()):
        base = analyze(snap(W, b, M=W.T.copy()))
        R = random_gauge(rng, 2)
        a = analyze(snap(R @ W, b, M=W.T @ np.linalg.inv(R)))
        assert signature(a) == signature(base)
        assert a.loss == pytest.approx(base.loss, abs=1e-12)


def octahedron_plus_dead_2d():
    W6, b6 = henighan(6)
    return np.hstack([W6, np.zeros((2, 1))]), np.append(b6, 1 / 7)


# ----------------------------------------------------------------------------
# findings that combine

def merged_pair_and_dead():
    """n = 8: a pair 20 degrees apart in one slot of a hexagon (each pair input fires both pair
    outputs, nothing else: every b = -r^2 cos 50, r^2 (1 - cos 50) = 1), the other five slots
    reconstructed exactly, and feature 8 dead at b = 1/8."""
    r2 = 1 / (1 - math.cos(math.radians(50)))
    W = np.hstack([polar([-10, 10, 60, 120, 180, 240, 300], [math.sqrt(r2)] * 7), np.zeros((2, 1))])
    b = np.append(np.full(7, -r2 * math.cos(math.radians(50))), 1 / 8)
    return W, b


def test_a_dead_feature_and_a_merged_pair_are_both_named():
    W, b = merged_pair_and_dead()
    a = analyze(snap(W, b))
    assert a.dead == [7] and a.merged_groups == [[0, 1]]
    assert a.failure_modes == ["dead", "merged"] and a.failure_key == "dead+merged"
    assert a.verdict == "asymmetric_failure"  # the live features are not regular (a 20-degree gap)
    assert "dead" in a.verdict_text and "merged {1, 2}" in a.verdict_text
    # closed-form loss: the dead feature (n-1)/n^2, and the pair's wrong outputs r^2 (cos 20 - cos 50)
    r2 = 1 / (1 - math.cos(math.radians(50)))
    wrong = r2 * (math.cos(math.radians(20)) - math.cos(math.radians(50)))
    assert a.loss == pytest.approx(7 / 64 + 2 * wrong ** 2 / 8, rel=1e-12)
    d = a.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["failure_key"] == "dead+merged" and d["failure_modes"] == ["dead", "merged"]


# ----------------------------------------------------------------------------
# perfect means reconstructed; collapse

def test_scaled_henighan_hexagon_is_not_perfect():
    # W and b scaled by 1/2 and 1/4: every pre-activation x 1/4, own outputs 0.25, wrong ones still <= 0.
    # Loss: 6 inputs x (0.75)^2 / 6 = 0.5625.
    W6, b6 = henighan(6)
    a = analyze(snap(0.5 * W6, 0.25 * b6))
    assert a.loss == pytest.approx(0.5625, abs=1e-12)
    assert a.reconstructed == list(range(6))  # by the sign test
    assert a.verdict == "imperfect" and a.failure_key == "inexact"
    f = a.finding("inexact")
    assert f.features == list(range(6))
    assert f.evidence["features"][0]["own_output"] == pytest.approx(0.25)
    assert f.margin == pytest.approx(OWN_TOL - 0.75)
    assert a.verdict_margins["exact"] == pytest.approx(0.75 - OWN_TOL)
    assert "own output 0.25" in a.verdict_text
    # the exact hexagon is perfect, with its exactness margin: own error 0 vs OWN_TOL, others 0 vs RECON_TOL
    p = analyze(snap(W6, b6))
    assert p.verdict == "perfect" and p.verdict_margins["exact"] == pytest.approx(RECON_TOL, abs=1e-12)


def test_weak_outputs_firing_on_reconstructed_inputs_are_caught():
    # the AdamW shape: a weak seventh feature (|W_7| = 0.08 along W_1) with b_7 = 0.28; its output on
    # input j is 0.08 W_1.W_j / |W_1| + 0.28: 0.08 sqrt 2 + 0.28 = 0.393 on input 1
    W6, b6 = henighan(6)
    u = W6[:, 0] / np.linalg.norm(W6[:, 0])
    W = np.hstack([W6, 0.08 * u[:, None]])
    b = np.append(b6, 0.28)
    a = analyze(snap(W, b))
    assert a.dead == [6]
    ex = a.finding("inexact")
    per = {e["feature"]: e for e in ex.evidence["features"]}
    assert per[1]["worst_output"] == 7 and per[1]["worst_value"] == pytest.approx(0.08 * math.sqrt(2) + 0.28)
    assert per[1]["worst_is"] == "a dead feature's output"
    assert 0 in a.reconstructed  # the sign test among the live outputs passes input 1


@pytest.mark.parametrize("n", [3, 7, 12])
def test_collapse_all_weights_zero(n):
    a = analyze(snap(np.zeros((2, n)), np.full(n, 1.0 / n)))
    assert a.verdict == "collapsed" and a.failure_key == "collapsed"
    assert a.loss == pytest.approx((n - 1) / n)
    c = a.finding("collapsed")
    assert c.evidence["all_dead"] and c.evidence["reference_loss"] == pytest.approx((n - 1) / n)
    a0 = analyze(snap(np.zeros((2, n)), np.zeros(n)))
    assert a0.verdict == "collapsed" and a0.loss == pytest.approx(1.0)
    assert a0.finding("collapsed").evidence["reference_loss"] == pytest.approx(1.0)
    # the dead-feature reference covers it: n dead features at b = 1/n cost n (n-1)/n^2 = (n-1)/n
    assert a.reference["applies"] and a.reference["loss"] == pytest.approx((n - 1) / n)
    assert a.verdict_text.startswith("every feature dead")


def test_collapse_when_no_output_fires():
    # healthy encoder, biases so negative that no output ever fires: every output 0, loss 1
    W, _ = henighan(5)
    a = analyze(snap(W, np.full(5, -100.0)))
    assert a.dead == [] and a.dead_outputs == [0, 1, 2, 3, 4]
    assert a.verdict == "collapsed" and a.loss == pytest.approx(1.0)
    assert a.finding("collapsed").evidence["reference_loss"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------
# resolution-aware decisions

def near_duplicate_hexagon(ulps=1):
    """A hexagon in float32 and a seventh feature ulps float32 spacings from W_1 along x."""
    W6, b6 = henighan(6)
    W = np.hstack([W6, W6[:, [0]]]).astype(np.float32)
    W[0, 6] = np.nextafter(W[0, 6], np.float32(10), dtype=np.float32)
    for _ in range(ulps - 1):
        W[0, 6] = np.nextafter(W[0, 6], np.float32(10), dtype=np.float32)
    b = np.append(b6, b6[0]).astype(np.float32)
    return W.astype(np.float64), b.astype(np.float64)


def test_near_duplicate_features_are_undecided_not_separable_not_separated():
    W, b = near_duplicate_hexagon()
    a = analyze(snap(W, b))
    assert a.precision == "float32"
    sep = a.function_separability
    gap = abs(W[0, 6] - W[0, 0])
    assert 0 < gap < FLOAT32_RES * sep.scale  # one float32 spacing: below the resolution
    assert sep.separable[6] and 0 < sep.margin[6] <= gap  # the float64 geometry says yes
    assert sep.undecided[6] and sep.decision(6) == "undecided"
    # the pair fires the same outputs (merged, neither reconstructed); its separability decides nothing
    assert a.merged_groups == [[0, 6]] and 6 not in a.reconstructed
    assert a.finding("separable_not_separated") is None or 6 not in a.finding("separable_not_separated").features
    und = a.finding("undecided")
    assert any(it["criterion"] == "separable" and 7 in it["features"] for it in und.evidence["items"])
    d = a.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["features"][6]["separable"] is None and d["features"][6]["separation"]["decision"] == "undecided"
    assert "?" in format_analysis(a)
    # the same numbers taken as exact float64 parameters: decided (separable by one spacing)
    a64 = analyze(snap(W, b), precision="float64")
    assert a64.function_separability.decision(6) == "yes" and not a64.undecided
    assert 6 in a64.finding("separable_not_separated").features  # what the old rule counted


def test_separability_resolution_band_is_on_both_sides_of_the_hull():
    # a point 1e-8 outside / inside the chord of two others (R = 1): both undecided at float32,
    # a point 1e-3 outside decided
    for off, want in ((1e-8, "undecided"), (-1e-8, "undecided"), (1e-3, "yes"), (-1e-3, "no")):
        W = np.array([[1.0, -1.0, 0.0, 0.0], [1.0, 1.0, 1.0 + off, -1.0]]) * 0.5
        s = separability(W, resolution_rel=FLOAT32_RES)
        assert s.decision(2) == want, off
        s0 = separability(W, resolution_rel=0.0)
        assert s0.decision(2) == ("yes" if off > 0 else "no")
    with pytest.raises(ValueError, match="resolution_rel"):
        separability(W, resolution_rel=-1.0)


def test_a_verdict_resting_on_a_margin_below_resolution_is_undecided():
    # +-pairs; output 3's bias is float32(0.01) = 0.0099999998, which fires on inputs 1 and 2 at
    # 2.2e-10 below RECON_TOL: far below the float32 resolution of the pre-activations
    W = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    b = np.array([0.0, 0.0, float(np.float32(0.01)), 0.0])
    a = analyze(snap(W, b))
    assert a.precision == "float32"
    assert a.verdict == "undecided" and "undecided" in a.failure_modes
    assert "reconstructed" in a.verdict_text and "otherwise: perfect" in a.verdict_text
    assert any(it["criterion"] == "reconstructed" for it in a.finding("undecided").evidence["items"])
    assert a.to_dict()["features"][0]["reconstructed"] is None
    assert analyze(snap(W, b), precision="float64").verdict == "perfect"  # taken as exact: decided


def test_precision_of():
    assert crit.precision_of(np.ones((2, 3)), np.zeros(3)) == "float32"
    assert crit.precision_of(np.full((2, 3), 0.1), np.zeros(3)) == "float64"
    assert crit.precision_of(np.ones((2, 3)), np.zeros(3), np.full((3, 2), 0.1)) == "float64"
    with pytest.raises(ValueError, match="precision"):
        analyze(snap(np.ones((2, 3)), np.zeros(3)), precision="float16")


# ----------------------------------------------------------------------------
# fire thresholds above 1

def test_fire_threshold_above_one_never_fires_on_valid_inputs():
    # +-pairs with b_1 = -2: output 1 needs x > 2 (|W_1|^2 = 1), never on inputs in (0, 1]
    W = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    b = np.array([-2.0, 0.0, 0.0, 0.0])
    a = analyze(snap(W, b))
    f1 = a.to_dict()["features"][0]
    assert f1["fire_threshold"] == pytest.approx(2.0)
    assert f1["fires_on_valid_inputs"] is False and "never fires on valid inputs" in f1["fire_label"]
    assert a.to_dict()["features"][1]["fires_on_valid_inputs"] is True
    assert "never fires on a valid input" in format_analysis(a)
    assert fire_label(0.0) == "fires at any input x > 0" and fire_label(math.inf) == "never fires"
    assert fire_label(0.5) == "fires for x > 0.5" and "never fires on valid inputs" in fire_label(1.0)


@pytest.mark.parametrize("seed", range(3))
def test_angle_profiles_against_all_pairs(seed):
    # oracle: every pairwise angle by arccos, sorted per row (accurate to ~1e-8 away from 0 and pi)
    rng = np.random.default_rng(seed)
    V = rng.normal(size=(4, 40)) * rng.uniform(0.5, 2.0, size=40)
    U = V / np.linalg.norm(V, axis=0)
    A = np.arccos(np.clip(U.T @ U, -1, 1))
    np.fill_diagonal(A, np.inf)
    want = np.sort(A, axis=1)[:, :8]
    np.testing.assert_allclose(crit.angle_profiles(V), want, atol=1e-7)
    # rotation-invariant
    Q = ortho_group.rvs(4, random_state=seed)
    np.testing.assert_allclose(crit.angle_profiles(Q @ V), crit.angle_profiles(V), atol=1e-12)
