"""model.analysis against hand-built models whose facts are known by construction."""
import json
import math

import numpy as np
import pytest

from model.analysis import (DEAD_REL, RECON_TOL, REPRESENTED_NORM, analyze, format_analysis)
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


def test_merged_needs_the_same_direction_not_just_close():
    W = polar([0, 3, 120, 240], [1, 1, 1, 1])  # 3 degrees apart: not merged at n = 4
    a = analyze(snap(W, np.zeros(4)))
    assert a.merged_groups == []
    W = polar([0, 0.5, 120, 240], [1, 1, 1, 1])  # 0.5 degrees: merged
    assert analyze(snap(W, np.zeros(4))).merged_groups == [[0, 1]]
    W = polar([179.8, -179.9, 60, -60], [1, 1, 1, 1])  # across the +-180 seam
    assert analyze(snap(W, np.zeros(4))).merged_groups == [[0, 1]]


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
    a = analyze(snap(np.zeros((2, 3)), np.full(3, 1 / 3)))
    assert a.dead == [0, 1, 2] and a.verdict == "imperfect"
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
    assert rows and rows[0].split()[-2:] == ["no", "yes"]  # not reconstructed, dead
    big = format_analysis(analyze(snap(*henighan(100))), max_rows=10)
    assert "90 more features" in big
