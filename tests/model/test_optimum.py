"""local_optimum: every verdict checked against parameters built by hand and curvatures worked out on paper."""
import json
import math

import numpy as np
import pytest

from model.analysis import geometry as geo
from model.analysis import probe as pr
from model.analysis.optimum import coupled_l2, local_optimum
from model.snapshot import Snapshot
from model.training.init import henighan, xavier


def hexagon_failure(r2=3.0):
    """Features 1..6 a regular hexagon of radius^2 r2 with b = 1 - r2 (each reconstructs itself exactly and,
    for r2 > 2, its neighbours' pre-activations r2/2 + 1 - r2 are strictly negative: -0.5 at r2 = 3);
    feature 7 dead, W_7 = 0 and b_7 = 1/7. Loss 6/49."""
    ang = np.arange(6) * 2 * np.pi / 6
    W = np.zeros((2, 7))
    W[0, :6] = math.sqrt(r2) * np.cos(ang)
    W[1, :6] = math.sqrt(r2) * np.sin(ang)
    b = np.full(7, 1.0 - r2)
    b[6] = 1.0 / 7.0
    return Snapshot(0, W, b)


def hexagon_lowest_curvature(r2=3.0):
    """The lowest curvature of hexagon_failure(r2) with the rotation set aside, by hand (written out for
    r2 = 3; in general 102/7 is 6 r2 - 24/7, 13 is 4 r2 + 1 and 72 is 8 * 3 r2, with neighbours' pre-activations
    off, i.e. strictly negative for r2 > 2 and at 0 with ReLU'(0) = 0 for r2 = 2).

    Unnormalised loss (7x the mean). Only these second derivatives survive (every other
    pre-activation is strictly off or constant):
      W_7 block: 2 sum_j W_j W_j^T + 4 (|W_7|^2 + b_7 - 1) I = (6 r^2 - 24/7) I = (102/7) I;
      W_7 - W_j coupling (output 7 for input j, (W_7.W_j + b_7)^2): 2 b_7 I = (2/7) I on W_j (not b_j);
      (W_j, b_j) block: 2 g g^T with g = (2 W_j, 1), |g|^2 = 4 r^2 + 1 = 13; b_7 decouples (sum_j W_j = 0).
    An eigenvector (x on W_7, y_j on (W_j, b_j)) with eigenvalue mu then has
    y_j = (mu - 2 g g^T)^-1 (2/7) [x; 0], and sum_j W-part of y_j
    = (2/7)(1/mu)(6 x + 8 (sum_j W_j W_j^T) x / (mu - 26)) = (2/7)(1/mu)(6 + 72/(mu - 26)) x, so
    mu - 102/7 = (4/49)(1/mu)(6 + 72/(mu - 26)), i.e.
    mu (mu - 102/7)(mu - 26) - (24/49) mu + 336/49 = 0, twice (x in R^2). Normalised: / 7.
    """
    a = 6 * r2 - 24 / 7
    g2 = 2 * (4 * r2 + 1)
    # mu (mu - a)(mu - g2) = (4/49)(6 (mu - g2) + 8 * 3 r2)
    coeffs = np.polymul(np.polymul([1, 0], [1, -a]), [1, -g2])
    coeffs = np.polyadd(coeffs, [-24 / 49, (4 / 49) * (6 * g2 - 24 * r2)])
    roots = np.roots(coeffs)
    assert np.all(np.abs(roots.imag) < 1e-12)
    return float(np.min(roots.real)) / 7


@pytest.mark.slow
def test_seed_hexagon_failure_is_a_saddle_whose_escape_turns_the_live_features():
    snap = hexagon_failure()
    assert geo.onehot_loss(snap.W, snap.b) == pytest.approx(6 / 49, rel=1e-14)
    # the curvature along W_7 = u alone is positive: (6 r^2 - 24/7) / 7 = 102/49 for every unit u
    for deg in (0.0, 17.0, 90.0):
        u = np.array([math.cos(math.radians(deg)), math.sin(math.radians(deg))])
        _, slope, curv = pr.autograd_derivatives(snap, pr.feature_path(snap, 6, u), pr.Objective())
        assert abs(slope) < 1e-14 and curv == pytest.approx(102 / 49, rel=1e-13)
    # ... but W_7 couples to the live features' free turns: the point is a saddle
    res = local_optimum(snap)
    assert res.kind == "saddle" and res.method == "exact" and res.n_symmetries == 1
    assert res.grad_norm < 1e-13
    mu = hexagon_lowest_curvature()
    assert mu < 0
    assert res.lowest_curvatures[0] == pytest.approx(mu, rel=1e-10)
    assert res.lowest_curvatures[1] == pytest.approx(mu, rel=1e-10)  # twice: W_7 moves in a plane
    assert res.n_negative == 2 and res.lowest_curvatures[2] > -1e-12
    assert res.negative_margin < -1e6  # far beyond the rounding tolerance
    # the escape lowers the loss, as the quadratic model says, in both directions
    v = np.concatenate([res.direction_W.ravel(), res.direction_b])
    assert np.linalg.norm(v) == pytest.approx(1.0, rel=1e-12)
    for t in (1e-3, -1e-3):
        W = snap.W + t * res.direction_W
        b = snap.b + t * res.direction_b
        drop = geo.onehot_loss(W, b) - 6 / 49
        assert drop < 0 and drop == pytest.approx(0.5 * mu * t * t, rel=1e-2)
    # its W_7 share, by hand: with x the W_7 part (|x| = 1 before normalising) and mu_u = 7 mu,
    # y_j = c (e + 2 g (g.e) / (mu_u - 26)), c = (2/7) / mu_u, e = (x, 0), g.e = 2 W_j.x, sum_j (g.e)^2 = 36:
    # sum_j |y_j|^2 = c^2 (6 + 36 (4 / (mu_u - 26) + 52 / (mu_u - 26)^2))
    mu_u = 7 * mu
    c = (2 / 7) / mu_u
    rest = c * c * (6 + 36 * (4 / (mu_u - 26) + 52 / (mu_u - 26) ** 2))
    assert float(np.sum(res.direction_W[:, 6] ** 2)) == pytest.approx(1 / (1 + rest), rel=1e-8)
    assert abs(res.direction_b[6]) < 1e-12  # b_7 takes no part
    # mostly the live features turning (tangentially), with a little of W_7
    assert "turning" in res.escape and res.escape_parts[0]["feature"] in range(1, 7)
    assert "saddle" in res.describe() and "escape:" in res.describe()


@pytest.mark.slow
def test_hexagon_failure_with_neighbours_at_zero_is_on_kinks():
    """r^2 = 2, b = -1 (Henighan's hexagon) plus the dead feature: each live feature's two neighbours sit
    exactly at 0, twelve kinks; with them off, the Hessian's lowest curvature is the cubic's root at r2 = 2."""
    snap = hexagon_failure(2.0)
    assert geo.onehot_loss(snap.W, snap.b) == pytest.approx(6 / 49, rel=1e-13)
    res = local_optimum(snap)
    assert res.kind == "kink" and res.kink_count == 12
    assert res.lowest_curvatures[0] == pytest.approx(hexagon_lowest_curvature(2.0), rel=1e-9)
    assert "with them off the lowest curvature is" in res.describe()


def test_the_rotation_mode_is_exactly_flat_and_set_aside():
    snap = hexagon_failure()
    for t in (0.3, 1.0, 2.5):  # W -> R W leaves the loss unchanged
        R = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
        assert geo.onehot_loss(R @ snap.W, snap.b) == pytest.approx(6 / 49, rel=1e-13)
    kept = local_optimum(snap, symmetries=False)
    removed = local_optimum(snap)
    assert kept.n_symmetries == 0 and removed.n_symmetries == 1
    # six live features with 2 free directions each (turn; grow with b compensating), two of them
    # coupled to W_7 into the escape (above): 10 zero modes, one of them the rotation
    assert kept.n_flat == 10 and removed.n_flat == 9
    assert kept.lowest_curvatures[:2] == pytest.approx(removed.lowest_curvatures[:2], rel=1e-10)


@pytest.mark.parametrize("n, m", [(7, 2), (5, 3)])
def test_zero_W_with_bias_one_over_n_is_a_saddle_with_the_closed_form_curvature(n, m):
    """W = 0, b = 1/n: dL/db_i = (2/n)(n b_i - 1) = 0 and dL/dW = 0. Second order in W:
    (2/n) sum_ij (1/n - delta_ij) W_i.W_j, a Hessian (4/n)(11^T/n - I) (x) I_m: -4/n on sum_i a_i = 0
    ((n - 1) m directions), 0 on W_i = v for all i (m), and 2 on b. No rotation to remove (A W = 0)."""
    snap = Snapshot(0, np.zeros((m, n)), np.full(n, 1.0 / n))
    assert geo.onehot_loss(snap.W, snap.b) == pytest.approx((n - 1) / n, rel=1e-14)
    res = local_optimum(snap, k=6)
    assert res.kind == "saddle" and res.n_symmetries == 0 and res.grad_norm < 1e-14
    assert res.lowest_curvatures == pytest.approx([-4 / n] * 6, rel=1e-12)
    assert res.n_negative == (n - 1) * m and res.n_flat == m
    dW, db = res.direction_W, res.direction_b
    assert np.linalg.norm(dW) == pytest.approx(1.0, rel=1e-12)
    assert np.abs(db).max() < 1e-12 and np.abs(dW.sum(axis=1)).max() < 1e-12  # W_i = a_i v, sum a_i = 0
    assert res.escape


def test_henighan_exact_solution_sits_on_kinks():
    """ReLU(W^T W + b) = I with every neighbour's pre-activation exactly 0: 2n kinks, loss 0."""
    n = 7
    snap = Snapshot(0, *henighan(n))
    res = local_optimum(snap)
    assert res.kind == "kink" and res.kink_count == 2 * n and res.loss < 1e-28
    expected = {(i % n + 1, (i + d) % n + 1) for i in range(n) for d in (1, -1)}  # (output, input), 1-based
    assert set(map(tuple, res.kink_entries)) == expected
    o = res.one_sided
    # loss >= 0 everywhere and = 0 here: it cannot fall on either side
    assert o["curvature_plus"] >= -o["curvature_err"] and o["curvature_minus"] >= -o["curvature_err"]
    assert abs(o["slope_plus"]) <= 10 * o["slope_err"] + 1e-12 and abs(o["slope_minus"]) <= 10 * o["slope_err"] + 1e-12
    assert res.escape == "" and "kink" in res.describe()


def test_a_kink_where_the_loss_falls_on_one_side_names_the_escape():
    """n = 1, m = 1: L(w, b) = (ReLU(w^2 + b) - 1)^2 at w = 1, b = -1: the pre-activation is 0 and the
    output misses its target 1: along +b the loss falls with slope -2 (ReLU on), along -b it stays 1."""
    snap = Snapshot(0, np.array([[1.0]]), np.array([-1.0]))
    res = local_optimum(snap, symmetries=True)
    assert res.kind == "kink" and res.kink_count == 1 and res.loss == pytest.approx(1.0)
    assert res.escape  # the side where the loss falls is named: there P = 2 w + b grows
    dw, db = float(res.direction_W[0, 0]), float(res.direction_b[0])
    rate = 2 * dw + db
    assert rate > 1e-6
    t = 1e-4
    assert geo.onehot_loss(np.array([[1 + t * dw]]), np.array([-1 + t * db])) == pytest.approx(
        (t * rate + t * t * dw * dw - 1) ** 2, rel=1e-12)  # < 1: falls with slope -2 rate
    assert geo.onehot_loss(np.array([[1 - t * dw]]), np.array([-1 - t * db])) == 1.0  # the other side: off
    o = res.one_sided
    assert min(o["slope_plus"], -o["slope_minus"]) == pytest.approx(-2 * rate, rel=1e-6)


def test_a_model_far_from_stationary_is_moving_and_its_gradient_is_the_closed_form():
    W, _ = xavier(3, 2, 7, False)
    W = W.astype(np.float64)
    b = np.zeros(7)
    snap = Snapshot(0, W, b)
    res = local_optimum(snap)
    assert res.kind == "moving" and res.moving_ratio > 10 and res.param_precision == "float32"
    # the gradient by hand: G_ij = (2/n) E_ij [P_ij > 0], dL/db = G 1, dL/dW = W (G + G^T)
    P = W.T @ W + b[:, None]
    G = (2 / 7) * (np.maximum(P, 0) - np.eye(7)) * (P > 0)
    g = np.concatenate([(W @ (G + G.T)).ravel(), G.sum(axis=1)])
    assert res.grad_norm == pytest.approx(float(np.linalg.norm(g)), rel=1e-12)
    # the named downhill direction is -g
    d = np.concatenate([res.direction_W.ravel(), res.direction_b])
    assert d @ (-g / np.linalg.norm(g)) == pytest.approx(1.0, rel=1e-12)
    assert res.escape and "moving" in res.describe()


def test_strict_square_is_a_degenerate_minimum_with_the_closed_form_curvature():
    """n = 4 on the axes, |W|^2 = 1.1, b = -0.1: diagonal 1, neighbours -0.1, opposite -1.2: loss 0, no kink.
    Hessian (2/n) sum_i g_i g_i^T with g_i = grad of |W_i|^2 + b_i = (2 W_i, 1): 2.7 once per feature, and
    2 free directions per feature: 8 flat, 7 once the rotation is set aside."""
    r = math.sqrt(1.1)
    W = r * np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]])
    b = np.full(4, -0.1)
    snap = Snapshot(0, W, b)
    assert geo.onehot_loss(W, b) < 1e-30
    res = local_optimum(snap, k=11)
    assert res.kind == "minimum" and res.escape == "" and res.n_symmetries == 1 and res.kink_count == 0
    assert res.n_flat == 7 and res.n_negative == 0
    assert np.abs(res.lowest_curvatures[:7]).max() < 1e-13
    assert res.lowest_curvatures[7:] == pytest.approx([2.7] * 4, rel=1e-12)
    assert "degenerate, 7 flat directions" in res.describe()
    # coupled L2 (SGD/Adam weight decay) adds l2 to every curvature
    res2 = local_optimum(snap, k=11, l2=0.01)
    assert res2.lowest_curvatures == pytest.approx([c + 0.01 for c in res.lowest_curvatures], abs=1e-12)


def test_untied_models_set_aside_all_m_squared_latent_symmetries():
    """x' = ReLU(M W x + b) depends on M W only: W -> G W, M -> M G^-1 for any invertible G (m^2 generators).
    Square of above with M = W^T: each diagonal P_ii = M_i.W_i + b_i has gradient (M_i, W_i, 1), |.|^2 = 3.2,
    so 4 curvatures (2/4) 3.2 = 1.6; 20 parameters - 4 symmetries - 4 = 12 flat."""
    r = math.sqrt(1.1)
    W = r * np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]])
    b = np.full(4, -0.1)
    snap = Snapshot(0, W, b, M=W.T.copy())
    G = np.array([[1.3, 0.4], [-0.2, 0.9]])
    assert geo.onehot_loss(G @ W, b, M=W.T @ np.linalg.inv(G)) < 1e-28
    res = local_optimum(snap, k=16)
    assert res.n_params == 20 and res.n_symmetries == 4 and res.kind == "minimum"
    assert res.n_flat == 12
    assert res.lowest_curvatures[12:] == pytest.approx([1.6] * 4, rel=1e-12)


def test_no_bias_runs_leave_b_out_of_the_parameters():
    """Triangle of unit vectors, b = 0: neighbours at cos 120 = -0.5, loss 0. Parameters W only (6): the
    curvature of (|W_i|^2 - 1)^2 / 3 is (2/3) |2 W_i|^2 = 8/3 per feature, 6 - 1 - 3 = 2 flat."""
    ang = np.arange(3) * 2 * np.pi / 3
    snap = Snapshot(0, np.stack([np.cos(ang), np.sin(ang)]), np.zeros(3))
    res = local_optimum(snap, bias=False, k=5)
    assert res.n_params == 6 and res.kind == "minimum" and res.n_flat == 2
    assert res.lowest_curvatures[2:] == pytest.approx([8 / 3] * 3, rel=1e-12)


def test_lanczos_finds_the_exact_hessians_lowest_curvatures():
    snap = hexagon_failure()
    exact = local_optimum(snap, k=4)
    lanc = local_optimum(snap, k=4, exact_max_params=0)
    assert exact.method == "exact" and lanc.method == "lanczos" and lanc.n_flat_lower_bound
    assert lanc.kind == exact.kind == "saddle"
    assert lanc.lowest_curvatures == pytest.approx(exact.lowest_curvatures, abs=1e-10)
    rng = np.random.default_rng(5)
    W = rng.normal(size=(2, 12)).astype(np.float32).astype(np.float64) * 0.6
    b = rng.normal(size=12).astype(np.float32).astype(np.float64) * 0.2
    s2 = Snapshot(0, W, b)
    e2 = local_optimum(s2, k=5)
    l2 = local_optimum(s2, k=5, exact_max_params=0)
    assert l2.lowest_curvatures == pytest.approx(e2.lowest_curvatures, abs=1e-9)
    assert l2.kind == e2.kind


def test_sparse_data_objective_uses_the_examples():
    rng = np.random.default_rng(2)
    X = rng.uniform(size=(64, 5)) * (rng.uniform(size=(64, 5)) > 0.6)
    W = rng.normal(size=(2, 5)) * 0.5
    b = np.full(5, -0.05)
    snap = Snapshot(0, W, b)
    obj = pr.Objective(X)
    res = local_optimum(snap, obj)
    assert res.loss == pytest.approx(obj(W, b), rel=1e-14)
    # the gradient by hand: dL/dP = (2/T) E [P > 0], P = X W^T W + b
    H = X @ W.T
    P = H @ W + b
    Gp = (2 / 64) * (np.maximum(P, 0) - X) * (P > 0)
    gW = H.T @ Gp + W @ Gp.T @ X  # decoder part (through W^T) and encoder part (through h = W x)
    g = np.concatenate([gW.ravel(), Gp.sum(axis=0)])
    assert res.grad_norm == pytest.approx(float(np.linalg.norm(g)), rel=1e-12)


def test_result_is_json_safe_and_bad_tolerances_are_refused():
    res = local_optimum(Snapshot(0, *henighan(5)))
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    for key in ("grad_norm", "lowest_curvatures", "kind", "escape", "n_flat", "method", "n_symmetries",
                "kink_count", "curvature_tols", "moving_ratio"):
        assert key in d
    assert d["kind"] == "kink" and len(res.describe().splitlines()) <= 3
    with pytest.raises(ValueError, match="unknown tolerance 'bogus'"):
        local_optimum(Snapshot(0, *henighan(5)), bogus=1.0)
    with pytest.raises(ValueError, match="curvature_tol"):
        local_optimum(Snapshot(0, *henighan(5)), curvature_tol=-1.0)


def test_coupled_l2_is_the_weight_decay_of_sgd_and_adam_only():
    from model.config import TrainConfig

    assert coupled_l2(TrainConfig(optimizer="sgd", weight_decay=0.02)) == 0.02
    assert coupled_l2(TrainConfig(optimizer="adam", weight_decay=0.03)) == 0.03
    assert coupled_l2(TrainConfig(optimizer="adamw", weight_decay=0.01)) == 0.0


# ----------------------------------------------------------------------------
# non-smooth critical points: the seed's limit point and Henighan's solution

def seed_limit_point(r2=2.0):
    """The limit point of the seed's failure (n = 7, feature 1 dead): features 2..7 an exact regular hexagon of
    radius^2 r2 with b = 1 - r2 (own output exactly 1), W_1 = 0, b_1 = 1/7. At r2 = 2 (Henighan's n = 6:
    r^2 = 1 / (1 - cos 60°) = 2, b = -r^2 cos 60° = -1) every neighbour's pre-activation r2/2 + 1 - r2 is
    exactly 0: twelve kinks. Loss 6/49 (output 1 fires 1/7 everywhere)."""
    ang = np.arange(6) * 2 * np.pi / 6
    W = np.zeros((2, 7))
    W[0, 1:] = math.sqrt(r2) * np.cos(ang)
    W[1, 1:] = math.sqrt(r2) * np.sin(ang)
    b = np.full(7, 1.0 - r2)
    b[0] = 1.0 / 7.0
    return Snapshot(0, W, b)


@pytest.mark.slow
def test_the_seeds_limit_point_is_a_non_smooth_saddle_that_gradient_descent_does_not_follow():
    snap = seed_limit_point()
    assert geo.onehot_loss(snap.W, snap.b) == pytest.approx(6 / 49, rel=1e-14)
    P = snap.W.T @ snap.W + snap.b
    assert np.sum(np.abs(P) < 1e-12) == 12  # each hexagon feature's two neighbours, exactly at the kink
    res = local_optimum(snap)
    assert res.kind == "kink" and res.kink_count == 12 and res.kink_kind == "nonsmooth_saddle"
    assert res.grad_norm < 1e-12 and res.first_order_slope > -1e-12  # stationary across every kink
    q = res.descent_curvature
    assert q < -1e3 * res.curvature_tol_q  # decades beyond the tolerance
    # the descent is real: the true loss along it falls below 6/49 as (q / 2) t^2
    d = (res.direction_W, res.direction_b)
    assert np.linalg.norm(np.concatenate([d[0].ravel(), d[1]])) == pytest.approx(1.0, rel=1e-9)
    for t in (3e-3, 1e-3, 3e-4):
        drop = geo.onehot_loss(snap.W + t * d[0], snap.b + t * d[1]) - 6 / 49
        assert drop < 0 and drop / t ** 2 == pytest.approx(q / 2, rel=0.02)
    assert res.direction_W[:, 0].any()  # it tilts W_1 ...
    # ... but needs the flat directions (no gradient, no curvature): without them the loss rises across the kinks
    assert res.gd_follows is False and 0.2 < res.flat_share < 0.95
    assert res.driven_curvature > 1e3 * res.curvature_tol_q
    # the smooth piece alone (every kink off) would call it a smooth saddle: the closed-form cubic's root
    assert hexagon_lowest_curvature(2.0) < 0
    assert res.lowest_curvatures[0] == pytest.approx(hexagon_lowest_curvature(2.0), rel=1e-9)
    text = res.describe()
    assert "non-smooth saddle: descent along" in text and "gradient descent does not follow it because" in text


def test_grown_hexagon_is_a_smooth_saddle_with_room_to_turn():
    """r^2 = 2.2: the neighbours sit at 1 - r^2/2 = -0.1, off their kinks: the turns are free and the point is an
    ordinary saddle with the closed-form curvature."""
    snap = seed_limit_point(2.2)
    res = local_optimum(snap)
    assert res.kind == "saddle" and res.kink_count == 0
    assert res.lowest_curvatures[0] == pytest.approx(hexagon_lowest_curvature(2.2), rel=1e-9)


def _sgd_from(snap, steps, noise, seed=0):
    from model.config import TrainConfig
    from model.training.engine import Trainer

    rng = np.random.default_rng(seed)
    W = (snap.W + noise * rng.standard_normal(snap.W.shape)).astype(np.float32)[None]
    b = (snap.b + noise * rng.standard_normal(snap.b.shape)).astype(np.float32)[None]
    cfg = TrainConfig(n=7, m=2, optimizer="sgd", momentum=0.9, weight_decay=0.0, lr=1e-3, steps=steps,
                      history_budget_mb=4)
    tr = Trainer(cfg, initial=(W, b, None), threads=1)
    tr.run()
    return tr.history


@pytest.mark.slow
def test_sgd_stays_at_the_limit_point_and_escapes_from_the_grown_hexagon():
    """What the one-sided model says, checked against training itself (the seed's SGD, momentum 0.9, lr 1e-3):
    from the limit point plus noise the loss returns to 6/49 and W_1 stays at the noise level; from r^2 = 2.2
    plus the same noise W_1 grows and the loss leaves 6/49."""
    stay = _sgd_from(seed_limit_point(2.0), 300_000, 1e-3)
    grow = _sgd_from(seed_limit_point(2.2), 300_000, 1e-3)
    s_stay, s_grow = stay.snapshot(), grow.snapshot()
    assert s_stay.loss == pytest.approx(6 / 49, abs=1e-7) and np.linalg.norm(s_stay.W[:, 0]) < 1e-3
    assert s_grow.loss < 6 / 49 - 1e-4 and np.linalg.norm(s_grow.W[:, 0]) > 1e-2


def test_henighans_solution_is_a_minimum_up_to_its_symmetries_on_its_kinks():
    snap = Snapshot(0, *henighan(7))
    res = local_optimum(snap)
    assert res.kind == "kink" and res.kink_count == 14 and res.kink_kind == "minimum"
    assert res.descent_curvature >= -res.curvature_tol_q and res.n_flat > 0 and res.escape == ""
    assert "a minimum up to its symmetries" in res.describe()
