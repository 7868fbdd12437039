"""model.analysis.separability against hand-computed cases, closed forms and independent oracles
(scipy's LP for hull membership, all-pairs segment distances for the margin), never
against its own earlier output."""
import json
import math

import numpy as np
import pytest
from scipy.optimize import linprog

from model.analysis import geometry as geo
from model.analysis import separability as sep_module
from model.analysis.separability import MARGIN_REL, min_norm_point, sensitivity, separability


def henighan(n):
    """W_i = r(cos 2 pi i/n, sin 2 pi i/n), r^2 = 1/(1 - cos 2 pi/n), b_i = -r^2 cos 2 pi/n."""
    phi = 2 * np.pi / n
    th = phi * np.arange(n)
    r2 = 1.0 / (1.0 - np.cos(phi))
    return np.sqrt(r2) * np.vstack([np.cos(th), np.sin(th)]), np.full(n, -r2 * np.cos(phi)), math.sqrt(r2)


def in_hull_lp(P, x):
    """Oracle: is x in conv(rows of P)? (scipy HiGHS feasibility LP)"""
    k = P.shape[0]
    A = np.vstack([P.T, np.ones((1, k))])
    res = linprog(np.zeros(k), A_eq=A, b_eq=np.r_[x, 1.0], bounds=[(0, None)] * k, method="highs")
    return res.status == 0


def dist_to_hull_2d(P, x):
    """Oracle (m = 2): distance from x outside conv(P) = min over all pairs of point-segment distances."""
    best = np.min(np.linalg.norm(P - x, axis=1))
    for j in range(len(P)):
        for k in range(j + 1, len(P)):
            a, b = P[j], P[k]
            d = b - a
            t = np.clip((x - a) @ d / (d @ d), 0, 1)
            best = min(best, np.linalg.norm(x - (a + t * d)))
    return best


def chord_crossing(u, v, w):
    """Where the chord u-v crosses the ray 0 -> w: distance from the origin (2x2 linear solve)."""
    wh = w / np.linalg.norm(w)
    # s wh = u + t (v - u)
    s, t = np.linalg.solve(np.column_stack([wh, u - v]), u)
    return s


def two_radius(r, R=1.0, alpha_deg=30.0):
    """A small-circle point at angle 0, radius r, among six on a circle of radius R at
    +-alpha, 90, 150, 210, 270 degrees (its neighbours at -alpha and +alpha)."""
    a = alpha_deg
    ang = np.radians([-a, a, 90, 150, 210, 270])
    big = R * np.vstack([np.cos(ang), np.sin(ang)])
    return np.hstack([np.array([[r], [0.0]]), big])


# ----------------------------------------------------------------------------
# regular polygons

@pytest.mark.parametrize("n", [3, 4, 5, 7, 8, 12, 50])
def test_regular_polygon_every_vertex_separable_by_the_chord_distance(n):
    W, _, r = henighan(n)
    s = separability(W)
    assert s.separable.all()
    # the others' hull near W_i is the chord of W_{i-1}, W_{i+1}, at r cos(2 pi/n) from the origin
    np.testing.assert_allclose(s.margin, r * (1 - math.cos(2 * math.pi / n)), rtol=1e-12)
    assert all(bl == [] for bl in s.blockers)
    if n >= 5:  # the others' hull holds the origin strictly (n = 4: it lies on the chord)
        nb = s.neighbours
        assert nb[:, 0].tolist() == [(i - 1) % n for i in range(n)]
        assert nb[:, 1].tolist() == [(i + 1) % n for i in range(n)]
        np.testing.assert_allclose(s.half_gap, 2 * math.pi / n, rtol=1e-12)
        # arccos(r/R) with r = R: 0, up to arccos' conditioning at 1 (an error d in r/R gives sqrt(2 d))
        assert np.all(s.needed_half_gap < 1e-6)
        np.testing.assert_allclose(s.chord_distance, r * math.cos(2 * math.pi / n), rtol=1e-12)
        assert s.outside_chord.all()
        np.testing.assert_allclose(s.chord_margin, s.margin, rtol=1e-10)
    # the max-margin line is the perpendicular bisector of W_i and the chord midpoint
    a, c = s.separating_line(0)
    np.testing.assert_allclose(a, [1.0, 0.0], atol=1e-12)
    assert c == pytest.approx(0.5 * r * (1 + math.cos(2 * math.pi / n)), rel=1e-12)


# ----------------------------------------------------------------------------
# the small circle: just inside / just outside its neighbours' chord

@pytest.mark.parametrize("eps", [1e-6, 1e-3, 0.05])
@pytest.mark.parametrize("alpha", [30.0, 20.0])
def test_small_circle_point_flips_exactly_at_its_neighbours_chord(eps, alpha):
    R = 1.3
    a = math.radians(alpha)
    on = R * math.cos(a)  # r = R cos(alpha): on the chord
    for sign in (+1, -1):
        r = on + sign * eps
        s = separability(two_radius(r, R, alpha))
        assert s.neighbours[0].tolist() == [1, 2]
        assert s.half_gap[0] == pytest.approx(a, abs=1e-14)
        assert s.needed_half_gap[0] == pytest.approx(math.acos(r / R), abs=1e-12)
        assert s.chord_distance[0] == pytest.approx(on, rel=1e-13)
        assert s.chord_margin[0] == pytest.approx(sign * eps, rel=1e-6)
        if sign > 0:
            assert s.separable[0] and s.outside_chord[0] and s.half_gap[0] > s.needed_half_gap[0]
            # distance to the chord (its foot, (R cos a, 0), lies on the segment)
            assert s.margin[0] == pytest.approx(eps, rel=1e-6)
            np.testing.assert_allclose(s.nearest[0], [on, 0.0], atol=1e-12)
            assert s.blockers[0] == []
        else:
            assert not s.separable[0] and not s.outside_chord[0] and s.half_gap[0] < s.needed_half_gap[0]
            assert s.margin[0] == 0.0
            bl = s.blockers[0]
            assert {1, 2} <= set(bl) and len(bl) == 3  # both neighbours, and one point across
            P = two_radius(r, R, alpha).T
            assert in_hull_lp(P[bl], P[0])
            assert not in_hull_lp(P[[1, 2]], P[0])  # minimal: no smaller subset of them holds it


def test_unequal_neighbour_radii_use_the_side_of_the_chord():
    # neighbours at radii 1.0 (angle -25 deg) and 1.6 (angle +40 deg); the chord crosses the
    # ray at d (a 2x2 solve); W_i at d (1 +- 1e-7) flips, and the needed half-gap puts the
    # chord through W_i when both neighbours move apart in the ratio 25 : 40
    a1, a2 = math.radians(25), math.radians(40)
    u = 1.0 * np.array([math.cos(-a1), math.sin(-a1)])
    v = 1.6 * np.array([math.cos(a2), math.sin(a2)])
    far = 1.8 * np.array([[math.cos(t), math.sin(t)] for t in np.radians([120, 200, 280])])
    d = chord_crossing(u, v, np.array([1.0, 0.0]))
    for f, want in ((1 + 1e-7, True), (1 - 1e-7, False)):
        W = np.vstack([[d * f, 0.0], u, v, far]).T
        s = separability(W)
        assert s.neighbours[0].tolist() == [1, 2]
        assert s.separable[0] == want == s.outside_chord[0]
        assert s.chord_distance[0] == pytest.approx(d, rel=1e-12)
        assert s.half_gap[0] == pytest.approx((a1 + a2) / 2, abs=1e-13)
        x = s.needed_half_gap[0]
        assert (s.half_gap[0] > x) == want
        # at the needed gap the chord passes through W_i (independent 2x2 solve)
        k = 2 * x / (a1 + a2)
        u2 = 1.0 * np.array([math.cos(-k * a1), math.sin(-k * a1)])
        v2 = 1.6 * np.array([math.cos(k * a2), math.sin(k * a2)])
        assert chord_crossing(u2, v2, np.array([1.0, 0.0])) == pytest.approx(d * f, rel=1e-10)


# ----------------------------------------------------------------------------
# inside a hull, collinear points, duplicates, dead features

def test_point_inside_three_others_is_blocked_by_exactly_those_three():
    # the triangle (0,0), (4,0), (0,4) and (1,1), all shifted by (1, 2) (a feature at the origin would be dead)
    W = np.array([[0.0, 4.0, 0.0, 1.0], [0.0, 0.0, 4.0, 1.0]]) + np.array([[1.0], [2.0]])
    s = separability(W)
    assert s.separable.tolist() == [True, True, True, False]
    assert s.blockers[3] == [0, 1, 2]
    assert s.margin[3] == 0.0 and np.isnan(s.nearest[3]).all()
    # (0,0) to the hull of (4,0), (0,4), (1,1): nearest is (1,1), sqrt 2; (4,0): nearest (1,1), sqrt 10
    assert s.margin[0] == pytest.approx(math.sqrt(2), rel=1e-14)
    assert s.margin[1] == pytest.approx(math.sqrt(10), rel=1e-14)
    assert s.margin[2] == pytest.approx(math.sqrt(10), rel=1e-14)
    assert s.feature_dict(3)["blockers"] == [1, 2, 3]  # 1-based for people


def test_collinear_points():
    # all on a line: the two ends are separable, by the distance to the next point
    W = np.array([[0.0, 3.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0]]) + np.array([[0.5], [2.0]])
    s = separability(W)
    assert s.separable.tolist() == [True, True, False, False]
    np.testing.assert_allclose(s.margin, [1.0, 1.0, 0.0, 0.0])
    assert s.blockers[2] == [0, 3] and s.blockers[3] == [1, 2]
    # a point on the edge of a square is blocked by that edge's two ends
    sq = np.array([[1.0, -1.0, -1.0, 1.0, 1.0], [1.0, 1.0, -1.0, -1.0, 0.0]])
    s = separability(sq)
    assert s.separable.tolist() == [True, True, True, True, False]
    assert s.blockers[4] == [0, 3]
    # (1, 1) against the hull of (1, 0), (-1, 1), (-1, -1), (1, -1): the line x + 2y = 1, at 2/sqrt 5
    assert s.margin[0] == pytest.approx(2 / math.sqrt(5), rel=1e-14)
    # (-1, 1) against the diagonal from (1, 1) to (-1, -1): sqrt 2
    assert s.margin[1] == pytest.approx(math.sqrt(2), rel=1e-14)


def test_duplicates_block_each_other_and_change_nothing_else():
    W, _, r = henighan(6)
    Wd = np.hstack([W, W[:, [2]]])  # feature 7 sits on feature 3
    s = separability(Wd)
    assert not s.separable[2] and not s.separable[6]
    assert s.blockers[2] == [6] and s.blockers[6] == [2]
    assert s.margin[2] == s.margin[6] == 0.0
    others = [0, 1, 3, 4, 5]
    assert s.separable[others].all()
    np.testing.assert_allclose(s.margin[others], r * (1 - math.cos(math.pi / 3)), rtol=1e-12)


def test_dead_features_are_neither_tested_nor_blocking():
    # the symmetric failure: a regular hexagon and a dead feature at the origin
    W6, _, r = henighan(6)
    W = np.hstack([W6, np.zeros((2, 1))])
    live = np.r_[np.ones(6, bool), False]
    s = separability(W, live)
    assert s.separable.tolist() == [True] * 6 + [False]
    np.testing.assert_allclose(s.margin[:6], r / 2, rtol=1e-12)  # r (1 - cos 60 deg)
    assert math.isnan(s.margin[6]) and s.blockers[6] == [] and s.neighbours[6].tolist() == [-1, -1]
    d = s.feature_dict(6)
    assert d["separable"] is False and d["separation_margin"] is None and d["gap"] is None
    # a dead feature placed inside the hull would block nothing: the margins stay
    W2 = np.hstack([W6, 0.9 * W6[:, [0]]])
    s2 = separability(W2, live)
    np.testing.assert_allclose(s2.margin[:6], r / 2, rtol=1e-12)
    # ... whereas counted as live it blocks feature 1 (it sits 0.1 r inside W_1 beyond the chord)
    s3 = separability(W2)
    assert s3.margin[0] == pytest.approx(0.1 * r, rel=1e-12)


def test_one_and_two_live_features():
    s = separability(np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([True, False]))
    assert s.separable.tolist() == [True, False] and math.isinf(s.margin[0])
    assert s.feature_dict(0)["separation_margin"] is None  # JSON-safe
    s = separability(np.array([[1.0, -2.0], [0.0, 0.0]]))
    assert s.separable.all()
    np.testing.assert_allclose(s.margin, [3.0, 3.0])


# ----------------------------------------------------------------------------
# against independent oracles on random point sets

@pytest.mark.parametrize("hull", ["monotone chain", "qhull"])
@pytest.mark.parametrize("seed", range(12))
@pytest.mark.slow
def test_random_planar_sets_agree_with_lp_and_all_pairs_distance(seed, hull, monkeypatch):
    if hull == "qhull":  # the path above PY_HULL_MAX points, forced at small n
        monkeypatch.setattr(sep_module, "PY_HULL_MAX", 0)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 45))
    kind = seed % 3
    if kind == 0:  # a blob
        W = rng.normal(size=(2, n))
    elif kind == 1:  # two circles, the seed's failure shape
        th = rng.uniform(0, 2 * np.pi, n)
        W = np.where(rng.random(n) < 0.3, 0.6, 1.4) * np.vstack([np.cos(th), np.sin(th)])
    else:  # a noisy circle
        th = rng.uniform(0, 2 * np.pi, n)
        W = (1 + 0.05 * rng.normal(size=n)) * np.vstack([np.cos(th), np.sin(th)])
    s = separability(W)
    P = W.T
    for i in range(n):
        others = np.delete(np.arange(n), i)
        inside = in_hull_lp(P[others], P[i])
        assert s.separable[i] == (not inside), i
        if s.separable[i]:
            assert s.margin[i] == pytest.approx(dist_to_hull_2d(P[others], P[i]), rel=1e-9, abs=1e-12)
            assert s.blockers[i] == []
            # the max-margin line separates W_i from every other W_j by margin / 2
            a, c = s.separating_line(i)
            assert a @ P[i] - c == pytest.approx(s.margin[i] / 2, rel=1e-9)
            assert np.all(P[others] @ a - c <= -s.margin[i] / 2 * (1 - 1e-9))
        else:
            bl = s.blockers[i]
            assert 1 <= len(bl) <= 3 and i not in bl
            assert in_hull_lp(P[bl], P[i])
            for drop in range(len(bl)):  # inclusion-minimal
                sub = [j for t, j in enumerate(bl) if t != drop]
                assert not sub or not in_hull_lp(P[sub], P[i])
        if s.neighbours[i, 0] >= 0:  # gap evidence decides exactly as the hull does
            assert s.outside_chord[i] == s.separable[i]
            assert (s.half_gap[i] > s.needed_half_gap[i]) == s.separable[i]


def test_min_norm_point_hand_cases():
    # a segment from (1, -1) to (1, 2): nearest (1, 0); a triangle around the origin: 0
    x, S, lam = min_norm_point(np.array([[1.0, -1.0], [1.0, 2.0]]))
    np.testing.assert_allclose(x, [1.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(lam @ np.array([[1.0, -1.0], [1.0, 2.0]])[S], x)
    x, S, lam = min_norm_point(np.array([[1.0, 0.0], [-1.0, 1.0], [-1.0, -1.0], [5.0, 5.0]]))
    assert np.linalg.norm(x) < 1e-15 and sorted(S) == [0, 1, 2]


def test_m3_cube_and_octahedron_by_hand():
    cube = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float).T
    s = separability(cube)
    assert s.separable.all()
    # (1,1,1) against the plane x + y + z = 1 of its three neighbours: 2 / sqrt 3
    np.testing.assert_allclose(s.margin, 2 / math.sqrt(3), rtol=1e-10)
    oct_ = np.hstack([np.eye(3), -np.eye(3)])
    s = separability(oct_)
    assert s.separable.all()
    np.testing.assert_allclose(s.margin, 1.0, rtol=1e-10)  # the others have x <= 0, and 0 is in their hull
    oct_ = np.hstack([oct_, [[0.1], [0.1], [0.1]]])
    s = separability(oct_)
    assert s.separable[:6].all() and not s.separable[6]
    bl = s.blockers[6]
    assert len(bl) <= 4 and in_hull_lp(oct_.T[bl], oct_.T[6])
    assert s.plane.startswith("plane of the top two")


def test_reconstruction_implies_separability():
    # every feature a model reconstructs (p_i(W_i) > 0 >= p_i(W_j) for the other live j) is separable
    rng = np.random.default_rng(3)
    W0, b0, _ = henighan(9)
    for _ in range(20):
        W = W0 + 0.15 * rng.normal(size=W0.shape)
        b = b0 + 0.15 * rng.normal(size=9)
        P = W.T @ W + b[None, :]  # P[j, i] = p_i(W_j)
        s = separability(W)
        for i in range(9):
            recon = P[i, i] > 0 and np.all(np.delete(P[:, i], i) <= 0)
            if recon:
                assert s.separable[i]


# ----------------------------------------------------------------------------
# sensitivity

@pytest.mark.parametrize("n", [5, 7, 16])
def test_fire_threshold_of_henighan_is_cos_two_pi_over_n(n):
    W, b, r = henighan(n)
    sens = sensitivity(W, b)
    np.testing.assert_allclose(sens.gain, r * r, rtol=1e-12)
    np.testing.assert_allclose(sens.fire_threshold, math.cos(2 * math.pi / n), rtol=1e-12)
    # x e_i just above the threshold fires output i, just below it does not
    for x, fires in ((1 + 1e-9, True), (1 - 1e-9, False)):
        h = W[:, 0] * x * math.cos(2 * math.pi / n)
        assert (W[:, 0] @ h + b[0] > 0) == fires


def test_fire_threshold_edge_cases_and_untied_gain():
    # dead feature with b = 1/n: fires at any x > 0; W_i = 0 with b = 0: never; b = 0 < gain: 0
    W = np.array([[0.0, 0.0, 1.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    b = np.array([1 / 7, 0.0, 0.0, -0.25, -0.5])
    sens = sensitivity(W, b)
    assert sens.fire_threshold[0] == 0.0 and math.isinf(sens.fire_threshold[1])
    assert sens.fire_threshold[2] == 0.0
    assert sens.fire_threshold[3] == pytest.approx(0.25) and sens.fire_threshold[4] == pytest.approx(0.125)
    assert sens.feature_dict(1)["fire_threshold"] is None
    # untied: gain D_i . W_i, e.g. W_1 = (2, 0), D_1 = (0.5, 1): gain 1, threshold -b
    W = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.5]])
    M = np.array([[0.5, 1.0], [1.0, -2.0], [0.0, 0.0]])
    sens = sensitivity(W, np.array([-0.3, -0.1, -0.2]), M=M)
    np.testing.assert_allclose(sens.gain, [1.0, -2.0, 0.0])
    assert sens.fire_threshold[0] == pytest.approx(0.3)
    assert math.isinf(sens.fire_threshold[1]) and math.isinf(sens.fire_threshold[2])  # negative / zero gain


@pytest.mark.parametrize("n", [5, 7, 12])
def test_sliver_share_of_henighan_is_the_vertex_triangle(n):
    # the zone boundary W_i.h = r^2 cos phi runs through W_{i-1} and W_{i+1}: the sliver is the
    # triangle (W_{i-1}, W_i, W_{i+1}), area r^2 sin phi (1 - cos phi) = sin phi, over the
    # n-gon's (n/2) r^2 sin phi: share 2 (1 - cos phi) / n
    W, b, _ = henighan(n)
    sens = sensitivity(W, b)
    np.testing.assert_allclose(sens.sliver_share, 2 * (1 - math.cos(2 * math.pi / n)) / n, rtol=1e-12)


def test_sliver_share_by_hand_on_a_diamond_and_the_dead_feature():
    # the diamond |x| + |y| <= 1 (area 2); feature 1 along (1, 0) with b = -0.5: the triangle
    # x > 0.5, apex (1, 0), base from (0.5, -0.5) to (0.5, 0.5): area 1/4, share 1/8
    W = np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]])
    b = np.array([-0.5, -1.0, 0.2, -2.0])
    sens = sensitivity(W, b)
    assert sens.shape_area == pytest.approx(2.0)
    assert sens.sliver_share[0] == pytest.approx(1 / 8, rel=1e-14)
    assert sens.sliver_share[1] == pytest.approx(0.0, abs=1e-15)  # y > 1: only the vertex itself
    # feature 3: -x + 0.2 > 0, i.e. x < 0.2: the diamond minus the triangle x >= 0.2 (area 0.64)
    assert sens.sliver_share[2] == pytest.approx((2 - 0.64) / 2, rel=1e-14)
    assert sens.sliver_share[3] == 0.0
    # the symmetric failure: the dead feature (b = 1/7) fires on the whole pac-man shape
    W6, b6, _ = henighan(6)
    sens = sensitivity(np.hstack([W6, np.zeros((2, 1))]), np.r_[b6, 1 / 7])
    assert sens.sliver_share[6] == pytest.approx(1.0, rel=1e-14)


@pytest.mark.parametrize("kernel", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_zone_areas_equal_the_areas_of_the_clipped_polygons(seed, kernel, monkeypatch):
    if kernel:  # numba's kernel (above NUMPY_MAX_N), forced at small n
        monkeypatch.setattr(geo, "NUMPY_MAX_N", 0)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 60))
    th = rng.uniform(0, 2 * np.pi, n)
    W = rng.uniform(0.05, 1.5, n) * np.vstack([np.cos(th), np.sin(th)])
    b = rng.normal(-0.3, 0.5, n)
    W[:, 0] = 0.0  # a pac-man mouth
    D = rng.normal(size=(n, 2)) if seed % 2 else None
    areas, shape_area = geo.zone_areas(W, b, decoder=D)
    want = [geo.polygon_area(p) for p in geo.zone_polygons(W, b, decoder=D)]
    np.testing.assert_allclose(areas, want, rtol=1e-10, atol=1e-13)
    assert shape_area == pytest.approx(geo.polygon_area(geo.latent_shape(W)))


def test_m3_sliver_share_is_on_the_principal_plane_and_json_is_safe():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 9))
    sens = sensitivity(W, np.full(9, -0.3))
    assert sens.plane.startswith("plane of the top two")
    W2 = geo.project(W)
    areas, A = geo.zone_areas(W2, np.full(9, -0.3))
    np.testing.assert_allclose(sens.sliver_share, areas / A, rtol=1e-12)
    s = separability(W)
    json.dumps(s.to_dict(), allow_nan=False)
    json.dumps(sens.to_dict(), allow_nan=False)
    W7, b7, _ = henighan(7)
    d = separability(W7).to_dict()
    assert d["separable"] == list(range(1, 8))
    assert d["features"][0]["gap"]["neighbours"] == [7, 2]
    assert d["features"][0]["separation_margin"] > MARGIN_REL


@pytest.mark.parametrize("seed", range(4))
def test_random_m3_sets_agree_with_the_lp(seed):
    rng = np.random.default_rng(10 + seed)
    n = 25
    W = rng.normal(size=(3, n)) * np.where(rng.random(n) < 0.4, 0.4, 1.0)
    s = separability(W)
    P = W.T
    for i in range(n):
        others = np.delete(np.arange(n), i)
        assert s.separable[i] == (not in_hull_lp(P[others], P[i])), i
        if s.separable[i]:
            a, c = s.separating_line(i)
            assert a @ P[i] - c == pytest.approx(s.margin[i] / 2, rel=1e-8)
            assert np.all(P[others] @ a - c <= -s.margin[i] / 2 * (1 - 1e-8))
        else:
            bl = s.blockers[i]
            assert 1 <= len(bl) <= 4 and in_hull_lp(P[bl], P[i])


def test_features_subset_gives_the_same_answers_for_those_features():
    rng = np.random.default_rng(5)
    for m in (2, 3):
        n = 60
        th = rng.uniform(0, 2 * np.pi, n)
        W = np.where(rng.random(n) < 0.3, 0.6, 1.4) * np.vstack([np.cos(th), np.sin(th)])
        if m == 3:
            W = np.vstack([W, 0.2 * rng.normal(size=n)])
        full = separability(W)
        pick = [0, 7, 33, 59]
        part = separability(W, features=pick)
        assert part.computed.tolist() == [i in pick for i in range(n)]
        for i in range(n):
            if i in pick:
                assert part.separable[i] == full.separable[i]
                assert part.margin[i] == full.margin[i] and part.blockers[i] == full.blockers[i]
                assert part.neighbours[i].tolist() == full.neighbours[i].tolist()
                assert part.feature_dict(i) == full.feature_dict(i)
            else:
                assert not part.separable[i] and math.isnan(part.margin[i])
                assert part.feature_dict(i)["separable"] is None and part.neighbours[i, 0] == -1
    with pytest.raises(ValueError, match="features"):
        separability(W, features=[n])


# ----------------------------------------------------------------------------
# resolution: margins within the parameters' float32 resolution are undecided (issue 19)

def test_inside_depth_closed_forms_in_1d_2d_and_3d():
    from model.analysis.separability import FLOAT32_RES
    # 2D: (1, 1) inside the triangle (0,0), (4,0), (0,4) (shifted by (1, 2)): nearest edges x = 0, y = 0 at 1
    W = np.array([[0.0, 4.0, 0.0, 1.0], [0.0, 0.0, 4.0, 1.0]]) + np.array([[1.0], [2.0]])
    s = separability(W)
    assert s.depth[3] == pytest.approx(1.0, rel=1e-12) and s.decision(3) == "no"
    assert s.signed_margin(3) == pytest.approx(-1.0)
    # a point on an edge of a square (depth 0): undecided at float32, a decided no for exact parameters
    sq = np.array([[1.0, -1.0, -1.0, 1.0, 1.0], [1.0, 1.0, -1.0, -1.0, 0.0]])
    assert separability(sq).decision(4) == "undecided"
    assert separability(sq, resolution_rel=0.0).decision(4) == "no"
    # collinear points in the plane: the middle ones have no depth (a perturbation off the line frees them)
    col = np.array([[0.0, 3.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0]]) + np.array([[0.5], [2.0]])
    assert [separability(col).decision(i) for i in range(4)] == ["yes", "yes", "undecided", "undecided"]
    # m = 1: the line is the whole space; the middle point at 1 of [0, 3] (others 2 and 3 beside) is 1 deep
    s1 = separability(np.array([[0.0, 3.0, 1.0, 2.0]]) + 0.5)
    assert s1.depth[2] == pytest.approx(1.0) and s1.decision(2) == "no"
    # m = 3: the centre of a cube (shifted off the origin) is 1 from each face
    cube = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float).T
    P = np.hstack([cube, np.zeros((3, 1))]) + np.array([[3.0], [0.0], [0.0]])
    s3 = separability(P)
    assert s3.depth[8] == pytest.approx(1.0, rel=1e-9) and s3.decision(8) == "no"
    assert s3.resolution == pytest.approx(FLOAT32_RES * np.linalg.norm(P, axis=0).max())


def test_duplicates_on_the_hull_are_undecided_inside_it_are_not():
    W, _, r = henighan(6)
    s = separability(np.hstack([W, W[:, [2]]]))  # feature 7 on feature 3, a hull vertex
    assert s.decision(2) == s.decision(6) == "undecided"
    assert s.feature_dict(6)["separable"] is None and s.feature_dict(6)["separation_decision"] == "undecided"
    assert s.to_dict()["undecided"] == [3, 7]
    inner = 0.5 * W[:, [0]]  # two features at half the radius: deep inside (r/2 from W_1's... edges)
    s2 = separability(np.hstack([W, inner, inner]))
    assert s2.decision(6) == s2.decision(7) == "no"
    # depth: the hexagon's apothem r cos 30 less the point's distance along W_1 towards that edge pair
    assert s2.depth[6] == pytest.approx(r * math.cos(math.pi / 6) - 0.5 * r * math.cos(math.pi / 6), rel=1e-9)
