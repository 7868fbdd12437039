"""model.analysis.geometry against facts computed by hand (never against its own output)."""
import math
import subprocess
import sys

import numpy as np
import pytest

from model.analysis import geometry as g


def henighan(n):
    """W_i = r(cos 2 pi i/n, sin 2 pi i/n), r^2 = 1/(1 - cos 2 pi/n), b_i = -r^2 cos 2 pi/n."""
    phi = 2 * np.pi / n
    th = phi * np.arange(1, n + 1)
    r2 = 1.0 / (1.0 - np.cos(phi))
    W = np.sqrt(r2) * np.vstack([np.cos(th), np.sin(th)])
    b = np.full(n, -r2 * np.cos(phi))
    return W, b


def pixel_grid(box, res):
    x0, x1, y0, y1 = box
    xs = x0 + (np.arange(res) + 0.5) * (x1 - x0) / res
    ys = y0 + (np.arange(res) + 0.5) * (y1 - y0) / res
    X, Y = np.meshgrid(xs, ys)
    return X, Y, (x1 - x0) * (y1 - y0) / res**2


def in_polygon(poly, X, Y):
    """Even-odd rule, vectorised over pixels (independent of the code under test)."""
    inside = np.zeros(X.shape, dtype=bool)
    P = np.asarray(poly)
    for (ax, ay), (bx, by) in zip(P, np.roll(P, -1, axis=0), strict=True):
        crosses = (ay > Y) != (by > Y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = ax + (Y - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (xint > X)
    return inside


def in_convex(poly, X, Y, slack=0.0):
    P = np.asarray(poly)
    ok = np.ones(X.shape, dtype=bool)
    for (ax, ay), (bx, by) in zip(P, np.roll(P, -1, axis=0), strict=True):
        ok &= (bx - ax) * (Y - ay) - (by - ay) * (X - ax) >= -slack
    return ok


# ---------------------------------------------------------------- the model maps

@pytest.mark.parametrize("n", list(range(3, 65)))
def test_henighan_exact_solution_reconstructs_identity(n):
    W, b = henighan(n)
    assert g.onehot_loss(W, b) < 1e-12
    np.testing.assert_allclose(g.relu_wtw_plus_b(W, b), np.eye(n), atol=1e-9)


def test_pm_pairs_without_bias_reconstruct_n_eq_2m():
    W = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    b = np.zeros(4)
    assert g.onehot_loss(W, b) == 0.0
    assert np.array_equal(g.relu_wtw_plus_b(W, b), np.eye(4))


def test_symmetric_failure_loss_is_6_over_49():
    W6, b6 = henighan(6)
    W = np.hstack([W6, np.zeros((2, 1))])
    b = np.append(b6, 1 / 7)
    assert abs(g.onehot_loss(W, b) - 6 / 49) < 1e-12


def test_output_orientation_untied_and_importance():
    # W (m=1, n=2) = [1, 2]; M = [[3], [-1]]: (M W)_ij = M_i W_j
    W = np.array([[1.0, 2.0]])
    M = np.array([[3.0], [-1.0]])
    b = np.array([-1.0, 0.5])
    # output i for input e_j = ReLU(M_i W_j + b_i)
    expected_P = np.array([[3 * 1 - 1, 3 * 2 - 1], [-1 * 1 + 0.5, -1 * 2 + 0.5]])
    np.testing.assert_allclose(g.wtw_plus_b(W, b, M=M), expected_P)
    np.testing.assert_allclose(g.relu_wtw_plus_b(W, b, M=M), [[2, 5], [0, 0]])
    # errors: e_1 -> (2, 0) vs (1, 0); e_2 -> (5, 0) vs (0, 1)
    # importance (1, 3): [(1)^2 + 3*0] + [25 + 3*1] = 29, mean over 2 examples
    assert g.onehot_loss(W, b, importance=[1.0, 3.0], M=M) == pytest.approx(29 / 2, abs=1e-12)
    # tied: W^T W = [[1, 2], [2, 4]]
    np.testing.assert_allclose(g.wtw(W), [[1, 2], [2, 4]])


def test_feature_dimensionality_hand_cases():
    assert np.allclose(g.feature_dimensionality(np.eye(3)), 1.0)
    # two equal features in one direction: |W|^2 / (2 |W|^2) = 1/2
    assert np.allclose(g.feature_dimensionality(np.array([[2.0, 2.0], [0.0, 0.0]])), 0.5)
    # (1,0), (1,0), (0,1) and a zero column
    W = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    np.testing.assert_allclose(g.feature_dimensionality(W), [0.5, 0.5, 1.0, 0.0])
    # (1,0) and (1,1): D_1 = 1 / (1 + 1) ; D_2 = 2 / (1/2 + 4/2) = 0.8
    np.testing.assert_allclose(g.feature_dimensionality(np.array([[1.0, 1.0], [0.0, 1.0]])), [0.5, 0.8])
    np.testing.assert_allclose(g.data_dimensionality(np.eye(2)), [1.0, 1.0])


# ---------------------------------------------------------------- the plane

def test_plane_basis_m2_m1():
    W = np.random.default_rng(0).normal(size=(2, 5))
    U, desc = g.plane_basis(W)
    assert np.array_equal(U, np.eye(2)) and "m = 2" in desc
    W1 = np.array([[1.0, -2.0, 0.5]])
    np.testing.assert_allclose(g.project(W1), [[1, -2, 0.5], [0, 0, 0]])


def test_plane_basis_finds_the_2d_subspace_of_r5():
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.normal(size=(5, 2)))
    C = rng.normal(size=(2, 9))
    W = Q @ C
    U, desc = g.plane_basis(W)
    np.testing.assert_allclose(U.T @ U, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(U @ U.T, Q @ Q.T, atol=1e-12)
    assert "principal" in desc and "m = 5" in desc
    # the projection keeps every norm (W lies in the plane)
    np.testing.assert_allclose(np.linalg.norm(g.project(W), axis=0), np.linalg.norm(W, axis=0))


def test_angles_order_and_latent_shape():
    W2 = np.array([[0.0, 2.0, -1.0, 0.0], [1.0, 0.0, 0.0, -3.0]])  # 90, 0, 180, -90 deg
    np.testing.assert_allclose(np.degrees(g.angles(W2)), [90, 0, 180, -90])
    np.testing.assert_allclose(g.norms(W2), [1, 2, 1, 3])
    assert g.angular_order(W2).tolist() == [3, 1, 0, 2]
    np.testing.assert_allclose(g.latent_shape(W2), [[0, -3], [2, 0], [0, 1], [-1, 0]])


def test_shape_output_vertices_are_columns_of_wtw_plus_b():
    W = np.array([[0.0, 1.0], [1.0, 0.0]])  # W_1 at 90 deg, W_2 at 0 deg
    b = np.array([0.5, -0.5])
    V, order = g.shape_output_vertices(W, b)
    assert order.tolist() == [1, 0]
    # p(W_2) = (W_1.W_2 + b_1, W_2.W_2 + b_2) = (0.5, 0.5); p(W_1) = (1.5, -0.5)
    np.testing.assert_allclose(V, [[0.5, 0.5], [1.5, -0.5]])
    Vb, _ = g.shape_output_vertices(W, b, rows=slice(1, 2))
    np.testing.assert_allclose(Vb, [[1.5, -0.5]])


def test_plane_in_triple_tilt_and_bias_offset():
    W = np.array([[1.0, 0.0, 0.0, 2.0], [0.0, 1.0, 0.0, 1.0]])  # W_3 = 0: no tilt on axis 3
    b = np.array([0.1, 0.2, 0.3, 0.4])
    H = np.array([[0.0, 0.0], [1.0, 2.0]])
    P = g.plane_in_triple(W, b, (0, 2, 3), H)
    np.testing.assert_allclose(P, [[0.1, 0.3, 0.4], [1.1, 0.3, 2 + 2 + 0.4]])
    np.testing.assert_allclose(g.bias_offset(b, (0, 2, 3)), [0.1, 0.3, 0.4])
    np.testing.assert_allclose(g.tilt(W, (0, 2, 3)), [[1, 0], [0, 0], [2, 1]])
    M = np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0], [0.0, -1.0]])
    np.testing.assert_allclose(g.tilt(W, (0, 1, 3), M=M), [[1, 1], [0, 0], [0, -1]])
    with pytest.raises(ValueError, match="triple"):
        g.plane_in_triple(W, b, (0, 1, 4), H)


def test_plane_in_triple_m3_lifts_plane_points():
    W = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])  # lives in z = 0
    b = np.zeros(3)
    h3 = np.array([[2.0, 3.0, 0.0]])
    U, _ = g.plane_basis(W)
    h2 = h3 @ U  # plane coordinates of the same point
    np.testing.assert_allclose(g.plane_in_triple(W, b, (0, 1, 2), h2), [[2, 3, 5]], atol=1e-12)


# ---------------------------------------------------------------- polygons

def test_clip_and_area_by_hand():
    sq = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    assert g.polygon_area(sq) == 1.0
    assert g.polygon_area(g.clip_polygon_halfplane(sq, (1.0, 0.0), -0.5)) == pytest.approx(0.5)
    assert g.polygon_area(g.clip_polygon_halfplane(sq, (1.0, 1.0), -1.0)) == pytest.approx(0.5)
    assert g.polygon_area(g.clip_polygon_halfplane(sq, (1.0, 1.0), -1.5)) == pytest.approx(0.125)
    assert g.clip_polygon_halfplane(sq, (1.0, 0.0), -2.0).shape == (0, 2)
    assert g.polygon_area(g.clip_polygon_halfplane(sq, (0.0, 0.0), 1.0)) == 1.0
    # non-convex "U": [0,3]x[0,3] minus [1,2]x[1,3] (9 - 2 = 7); keep y > 2: two 1x1 prongs
    U = np.array([[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3]], float)
    assert g.polygon_area(U) == pytest.approx(7.0)
    assert g.polygon_area(g.clip_polygon_halfplane(U, (0.0, 1.0), -2.0)) == pytest.approx(2.0)


def test_zone_polygons_square_shape_by_hand():
    # features at the corners (1,1), (-1,1), (-1,-1), (1,-1): the latent shape is the square [-1,1]^2
    W2 = np.array([[1.0, -1.0, -1.0, 1.0], [1.0, 1.0, -1.0, -1.0]])
    b = np.array([-1.0, -1.0, 0.0, -3.0])
    zones = g.zone_polygons(W2, b)
    # x + y > 1 in the square: triangle (1,0), (1,1), (0,1): 1/2
    assert g.polygon_area(zones[0]) == pytest.approx(0.5)
    assert g.polygon_area(zones[1]) == pytest.approx(0.5)
    # -x - y > 0: half the square
    assert g.polygon_area(zones[2]) == pytest.approx(2.0)
    # x - y > 3: empty
    assert zones[3].shape == (0, 2)
    # clipped to a box instead: x + y > 1 in [-2,2]^2 -> integral over x in [-1, 2] of (1 + x) = 4.5
    zb = g.zone_polygons(W2, b, clip="box", box=(-2, 2, -2, 2))
    assert g.polygon_area(zb[0]) == pytest.approx(4.5)
    # untied: the zone normal comes from the decoder rows
    dec = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    zd = g.zone_polygons(W2, np.array([0.0, 0.5, 1.0, -1.0]), decoder=dec)
    assert g.polygon_area(zd[0]) == pytest.approx(2.0)  # x > 0
    assert g.polygon_area(zd[1]) == pytest.approx(3.0)  # y > -0.5
    assert g.polygon_area(zd[2]) == pytest.approx(4.0)  # no tilt, b > 0: whole shape
    assert zd[3].shape == (0, 2)  # no tilt, b < 0: nowhere


def test_henighan_zone_is_the_triangle_of_the_neighbours():
    n = 7
    W, b = henighan(n)
    zones = g.zone_polygons(W, b)
    # p_k = 0 exactly at W_{k-1} and W_{k+1}: the zone is triangle (W_{k-1}, W_k, W_{k+1})
    phi = 2 * np.pi / n
    r2 = 1 / (1 - np.cos(phi))
    tri = 0.5 * r2 * (2 * np.sin(phi) - np.sin(2 * phi))
    for z in zones:
        assert g.polygon_area(z) == pytest.approx(tri, rel=1e-9)


def _random_star(rng, n):
    while True:
        W2 = rng.normal(size=(2, n)) * rng.uniform(0.2, 1.5, size=n)
        th = np.sort(g.angles(W2))
        if np.max(np.diff(np.append(th, th[0] + 2 * np.pi))) < 0.9 * np.pi:
            return W2  # star-shaped about the origin: a simple polygon


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_zone_polygons_match_a_fine_raster(seed):
    rng = np.random.default_rng(seed)
    n = 12
    W2 = _random_star(rng, n)
    W2[:, 0] *= 0.02  # a pac-man mouth
    b = rng.normal(scale=0.5, size=n)
    zones = g.zone_polygons(W2, b)
    shape = g.latent_shape(W2)
    box = g.default_box(W2)
    X, Y, px = pixel_grid(box, 500)
    in_shape = in_polygon(shape, X, Y)
    perim = np.sum(np.linalg.norm(shape - np.roll(shape, 1, axis=0), axis=1))
    err = 3 * (perim + math.hypot(box[1] - box[0], box[3] - box[2])) * math.sqrt(px)
    for k in range(n):
        raster = np.count_nonzero(in_shape & (W2[0, k] * X + W2[1, k] * Y + b[k] > 0)) * px
        assert abs(g.polygon_area(zones[k]) - raster) <= err, k
        # and the same area as clipping the whole shape (the window shortcut is exact)
        full = g.clip_polygon_halfplane(shape, W2[:, k], b[k])
        assert g.polygon_area(zones[k]) == pytest.approx(g.polygon_area(full), rel=1e-9, abs=1e-12)


def test_zone_polygons_window_shortcut_large_n():
    rng = np.random.default_rng(5)
    n = 400
    W, b = henighan(n)
    W = W * (1 + 1e-3 * rng.normal(size=n))
    b = b + 1e-2 * rng.normal(size=n)
    zones = g.zone_polygons(W, b)
    shape = g.latent_shape(W)
    for k in range(0, n, 7):
        full = g.clip_polygon_halfplane(shape, W[:, k], b[k])
        assert g.polygon_area(zones[k]) == pytest.approx(g.polygon_area(full), rel=1e-7, abs=1e-9)


# ---------------------------------------------------------------- strongest partition

def check_partition(W2, b, box, res=160, min_agree=0.99):
    part = g.strongest_partition(W2, b, box)
    x0, x1, y0, y1 = box
    area = (x1 - x0) * (y1 - y0)
    # cells cover the box
    assert sum(g.polygon_area(p) for p in part.values()) == pytest.approx(area, rel=1e-9)
    X, Y, _ = pixel_grid(box, res)
    naive = g.naive_argmax_raster(W2, b, box, res)
    def P(L):
        return W2[0, L] * X + W2[1, L] * Y + b[L]
    label = np.full(X.shape, -1)
    cover = np.zeros(X.shape, dtype=int)
    lo = np.full(X.shape, np.inf)
    hi = np.full(X.shape, -np.inf)
    for f, poly in part.items():
        inside = in_convex(poly, X, Y, slack=1e-9 * area)
        label[inside] = f
        cover += inside
        lo[inside] = np.minimum(lo[inside], P(f)[inside])
        hi[inside] = np.maximum(hi[inside], P(f)[inside])
    tol = 1e-9 * (1 + np.abs(b).max() + np.abs(W2).max() * max(map(abs, box)))
    # covering, and disjoint: a pixel centre in two cells lies on their shared edge (a tie)
    assert np.mean(cover == 0) == 0.0
    assert np.all(hi[cover > 1] - lo[cover > 1] <= tol)
    assert np.mean(cover > 1) < 0.03
    assert np.mean(label == naive) >= min_agree
    # every pixel's cell really holds the maximum (ties on edges included)
    assert np.allclose(P(label), P(naive), rtol=1e-9, atol=tol)
    return part


@pytest.mark.parametrize("seed", [0, 1])
def test_strongest_partition_random_n50(seed):
    rng = np.random.default_rng(seed)
    W2 = rng.normal(size=(2, 50))
    b = rng.normal(size=50)
    check_partition(W2, b, (-3, 3, -3, 3))


def test_strongest_partition_equal_biases_square_sectors():
    # features (1,0), (0,1), (-1,0), (0,-1), all b equal: quarter sectors split on the diagonals
    W2 = np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]])
    # both diagonals run through pixel centres (2/160 of them exact ties, broken
    # differently by argmax), hence 0.98; the value check covers the ties
    part = check_partition(W2, np.full(4, 0.3), (-2, 2, -2, 2), min_agree=0.98)
    assert sorted(part) == [0, 1, 2, 3]
    for f in range(4):
        assert g.polygon_area(part[f]) == pytest.approx(4.0)
    # the Henighan 7-gon: equal biases too
    W, b = henighan(7)
    check_partition(W, b, g.default_box(W))


@pytest.mark.parametrize("case", ["n1", "n2", "collinear", "duplicates", "zero", "coplanar"])
def test_strongest_partition_degenerate(case):
    rng = np.random.default_rng(7)
    box = (-3, 3, -3, 3)
    if case == "n1":
        part = check_partition(np.array([[0.3], [0.1]]), np.array([0.2]), box)
        assert list(part) == [0]
    elif case == "n2":
        # p_1 = x, p_2 = -x + 1: the border is x = 1/2 -> areas 6 * 2.5 and 6 * 3.5
        part = check_partition(np.array([[1.0, -1.0], [0.0, 0.0]]), np.array([0.0, 1.0]), box)
        assert g.polygon_area(part[0]) == pytest.approx(15.0)
        assert g.polygon_area(part[1]) == pytest.approx(21.0)
    elif case == "collinear":
        d = np.array([[0.6], [0.8]])
        check_partition(d * rng.normal(size=20), rng.normal(size=20), box)
        check_partition(d * rng.normal(size=20), np.zeros(20), box)
    elif case == "duplicates":
        W2 = rng.normal(size=(2, 8))
        part = check_partition(np.hstack([W2, W2]), np.zeros(16), box)
        assert all(f < 8 for f in part)  # ties go to the smallest index, as argmax
        b = rng.normal(size=8)
        part = check_partition(np.hstack([W2, W2]), np.concatenate([b, b + 1.0]), box)
        assert all(f >= 8 for f in part)  # same direction, larger bias wins
    elif case == "zero":
        part = check_partition(np.zeros((2, 3)), np.array([0.0, 1.0, 0.5]), box)
        assert list(part) == [1] and g.polygon_area(part[1]) == pytest.approx(36.0)
    elif case == "coplanar":
        A = rng.normal(size=(2, 9))
        check_partition(A, np.array([0.4, -0.7]) @ A + 0.2, box)


def test_strongest_partition_untied_decoder():
    rng = np.random.default_rng(3)
    W2 = rng.normal(size=(2, 30))
    dec = rng.normal(size=(30, 2))
    b = rng.normal(size=30)
    part = g.strongest_partition(W2, b, (-2, 2, -2, 2), decoder=dec)
    naive = g.naive_argmax_raster(W2, b, (-2, 2, -2, 2), 100, decoder=dec)
    X, Y, _ = pixel_grid((-2, 2, -2, 2), 100)
    label = np.full(X.shape, -1)
    for f, poly in part.items():
        label[in_convex(poly, X, Y)] = f
    assert np.mean(label == naive) > 0.99


# ---------------------------------------------------------------- rasters

def test_rasters_by_hand():
    # p_1 = x, p_2 = -x, p_3 = y - 10 (never positive in the extent)
    W2 = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    b = np.array([0.0, 0.0, -10.0])
    ext = (-1, 1, -1, 1)
    idx, val = g.zone_raster(W2, b, ext, 4)
    assert idx.tolist() == [[1, 1, 0, 0]] * 4
    np.testing.assert_allclose(val[0], [0.75, 0.25, 0.25, 0.75])
    idx, _ = g.zone_raster(W2, b - 0.5, ext, 4, positive_only=True)
    assert idx.tolist() == [[1, -1, -1, 0]] * 4
    assert g.active_count_raster(W2, b + 0.5, ext, 4).tolist() == [[1, 2, 2, 1]] * 4
    assert np.array_equal(g.naive_argmax_raster(W2, b, ext, 4, chunk=1), g.zone_raster(W2, b, ext, 4)[0])


@pytest.mark.slow
def test_model_does_not_import_qt():
    code = ("import sys, model.analysis.geometry, model.analysis.analysis; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PyQt6', 'PyQt5', 'PySide6', 'pyqtgraph', 'superqt')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))


@pytest.fixture(params=["numpy", "numba"])
def small_n_path(request, monkeypatch):
    """Both ways onehot_probe and zone_areas sum: numpy (n <= NUMPY_MAX_N) and the numba
    kernels (forced here at small n by lowering the limit)."""
    if request.param == "numba":
        monkeypatch.setattr(g, "NUMPY_MAX_N", 0)
    return request.param


@pytest.mark.parametrize("m", [1, 2, 3])
def test_onehot_probe_matches_the_dense_matrix(m, small_n_path):
    # two independent paths: the fused probe (numpy or numba) and the dense P = D W + b
    rng = np.random.default_rng(m)
    n = 9
    W = rng.normal(size=(m, n))
    b = rng.normal(scale=0.3, size=n)
    M = rng.normal(size=(n, m))
    imp = rng.uniform(0.5, 2.0, size=n)
    live = rng.random(n) > 0.3
    for dec in (None, M):
        P = g.wtw_plus_b(W, b, M=dec)  # P[j, i] = p_j(W_i)
        selfa, other, loss = g.onehot_probe(W, b, importance=imp, M=dec, live=live)
        np.testing.assert_allclose(selfa, np.diag(P), atol=1e-12)
        Q = np.where(live[:, None], P, -np.inf)
        np.fill_diagonal(Q, -np.inf)
        np.testing.assert_allclose(other, Q.max(axis=0), atol=1e-12)
        E = np.maximum(P, 0) - np.eye(n)
        assert loss == pytest.approx(float(np.sum(imp[:, None] * E**2)) / n, rel=1e-12)
        assert loss == pytest.approx(g.onehot_loss(W, b, importance=imp, M=dec), rel=1e-12)


def test_onehot_probe_above_the_numpy_limit_matches_the_dense_matrix():
    # the path the command line takes for n > NUMPY_MAX_N (numba), against the dense matrix
    rng = np.random.default_rng(5)
    n = g.NUMPY_MAX_N + 3
    W = rng.normal(size=(2, n))
    b = rng.normal(scale=0.3, size=n)
    live = rng.random(n) > 0.2
    P = g.wtw_plus_b(W, b)
    selfa, other, loss = g.onehot_probe(W, b, live=live)
    np.testing.assert_allclose(selfa, np.diag(P), atol=1e-12)
    Q = np.where(live[:, None], P, -np.inf)
    np.fill_diagonal(Q, -np.inf)
    np.testing.assert_allclose(other, Q.max(axis=0), atol=1e-12)
    assert loss == pytest.approx(g.onehot_loss(W, b), rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_zone_areas_numpy_and_numba_give_the_same_bits(seed, monkeypatch):
    # the kernel and its numpy twin add the same terms in the same order
    rng = np.random.default_rng(seed)
    n = 40
    th = rng.uniform(0, 2 * np.pi, n)
    W = rng.uniform(0.05, 1.5, n) * np.vstack([np.cos(th), np.sin(th)])
    b = rng.normal(-0.3, 0.5, n)
    D = rng.normal(size=(n, 2)) if seed % 2 else None
    a_np, s_np = g.zone_areas(W, b, decoder=D)
    monkeypatch.setattr(g, "NUMPY_MAX_N", 0)
    a_nb, s_nb = g.zone_areas(W, b, decoder=D)
    assert np.array_equal(a_np, a_nb) and s_np == s_nb
    assert (a_np > 0).any() and (a_np == 0).any()  # zones that cut the shape and zones outside it
