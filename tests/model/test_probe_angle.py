"""The loss-over-angle probe path against the closed form of a model of two features."""
import math

import numpy as np
import pytest

from model.analysis import geometry as geo
from model.analysis import probe as pr
from model.config import ConfigError
from model.snapshot import Snapshot
from model.training.init import henighan

THETAS = np.linspace(-math.pi, math.pi, 721)


def two_unit_vectors(phi0):
    return Snapshot(0, np.array([[1.0, math.cos(phi0)], [0.0, math.sin(phi0)]]), np.zeros(2))


@pytest.mark.parametrize("phi0", [0.0, 0.5, 2.0, -2.8])
def test_two_unit_vectors_follow_max0_cos_squared_to_1e12(phi0):
    """Inputs e_1, e_2; W_1 turned by theta from (1, 0): the angle to W_2 is theta - phi0, each input's
    other output is ReLU(cos(theta - phi0)) and its own is exactly 1, so the mean loss is
    (max(0, cos(theta - phi0)))^2, which is (cos 2(theta - phi0) + 1) / 2 where the cosine is >= 0."""
    snap = two_unit_vectors(phi0)
    path = pr.angle_path(snap, 0)
    res = pr.probe(snap, path, pr.Objective(), (-math.pi, math.pi), 721)
    phi = res.ts - phi0
    expected = np.maximum(0.0, np.cos(phi)) ** 2
    assert np.max(np.abs(res.losses - expected)) < 1e-12
    on = np.cos(phi) >= 0
    assert np.max(np.abs(res.losses[on] - 0.5 * (np.cos(2 * phi[on]) + 1))) < 1e-12
    assert res.reference is not None and np.max(np.abs(res.reference - expected)) < 1e-12
    assert "(max(0, cos φ))²" in res.reference_text


def test_turning_keeps_the_norm_and_goes_toward_the_chosen_feature():
    snap = Snapshot(0, np.array([[1.3, 0.2], [0.4, -0.7]]), np.array([0.1, -0.2]))
    r = float(np.linalg.norm(snap.W[:, 0]))
    path = pr.angle_path(snap, 0, ("feature", 1))
    a0 = math.acos(snap.W[:, 0] @ snap.W[:, 1] / (r * np.linalg.norm(snap.W[:, 1])))
    for t in (-1.0, 0.1, 0.5):
        W, b = path.at(snap, t)
        assert np.linalg.norm(W[:, 0]) == pytest.approx(r, rel=1e-14)
        assert np.array_equal(W[:, 1], snap.W[:, 1]) and np.array_equal(b, snap.b)
        ang = math.acos(np.clip(W[:, 0] @ W[:, 1] / (r * np.linalg.norm(W[:, 1])), -1, 1))
        assert ang == pytest.approx(abs(a0 - t), abs=1e-12)  # toward W_2: the angle shrinks by t
    assert pytest.approx(path.at(snap, 0.5)[0], abs=0) == pr.perturbed(snap, path, 0.5).W


def test_general_two_vector_closed_form_with_norms_biases_and_importance():
    """(I_k (ReLU(r_k^2 + b_k) - 1)^2 + I_j (ReLU(r_j^2 + b_j) - 1)^2
        + I_k ReLU(r_k r_j cos phi + b_k)^2 + I_j ReLU(r_k r_j cos phi + b_j)^2) / 2, written out here."""
    rk, rj, a1, a2 = 1.2, 0.8, 0.3, 1.9
    W = np.array([[rk * math.cos(a1), rj * math.cos(a2)], [rk * math.sin(a1), rj * math.sin(a2)]])
    b = np.array([-0.15, 0.05])
    imp = np.array([1.0, 0.6])
    snap = Snapshot(0, W, b)
    obj = pr.Objective(None, imp)
    res = pr.probe(snap, pr.angle_path(snap, 1), obj, (-math.pi, math.pi), 361)  # turn W_2
    phi = (a2 + res.ts) - a1
    cross = rk * rj * np.cos(phi)
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    hand = 0.5 * (imp[0] * (relu(rk ** 2 + b[0]) - 1) ** 2 + imp[1] * (relu(rj ** 2 + b[1]) - 1) ** 2
                  + imp[0] * relu(cross + b[0]) ** 2 + imp[1] * relu(cross + b[1]) ** 2)
    assert np.max(np.abs(res.losses - hand)) < 1e-12
    assert np.max(np.abs(res.reference - hand)) < 1e-12
    assert "closed form" in res.reference_text and "|W_2| = 0.8" in res.reference_text


def test_slope_curvature_and_kink_distance_at_theta_zero():
    """L = cos^2(theta - phi0) near 0 (phi0 = 0.5): slope sin(2 phi0), curvature -2 cos(2 phi0); the
    pre-activation cos(theta - phi0) first reaches 0 at theta = phi0 - pi/2."""
    phi0 = 0.5
    snap = two_unit_vectors(phi0)
    res = pr.probe(snap, pr.angle_path(snap, 0), pr.Objective(), (-1, 1), 11)
    assert res.slope_autograd == pytest.approx(math.sin(2 * phi0), rel=1e-12)
    assert res.curvature_autograd == pytest.approx(-2 * math.cos(2 * phi0), rel=1e-12)
    assert res.slope_fd == pytest.approx(math.sin(2 * phi0), rel=1e-7)
    assert res.curvature_fd == pytest.approx(-2 * math.cos(2 * phi0), rel=1e-5)
    assert res.kink_distance == pytest.approx(math.pi / 2 - phi0, rel=1e-12)
    assert res.smooth_at_zero


def test_henighan_neighbours_put_theta_zero_on_a_kink():
    snap = Snapshot(0, *henighan(7))
    res = pr.probe(snap, pr.angle_path(snap, 6, ("feature", 5)), pr.Objective(), (-0.5, 0.5), 11)
    assert res.kink_distance == 0.0 and not res.smooth_at_zero
    assert res.slope_left < 0 < res.slope_right  # the loss is 0 at theta = 0 and rises both ways
    assert res.reference is None and "n = 7" in res.reference_text


def test_the_closed_form_is_withheld_where_it_does_not_apply():
    snap = two_unit_vectors(1.0)
    untied = Snapshot(0, snap.W, snap.b, M=snap.W.T.copy())
    res = pr.probe(untied, pr.angle_path(untied, 0), pr.Objective(), (-1, 1), 5)
    assert res.reference is None and "untied" in res.reference_text
    X = np.array([[1.0, 0.0], [0.3, 0.7]])
    res = pr.probe(snap, pr.angle_path(snap, 0), pr.Objective(X), (-1, 1), 5)
    assert res.reference is None and "sparse" in res.reference_text
    # m = 3 with W_2 outside the plane W_1 turns in
    W3 = np.array([[1.0, 0.0], [0.0, 0.6], [0.0, 0.8]])
    s3 = Snapshot(0, W3, np.zeros(2))
    res = pr.probe(s3, pr.angle_path(s3, 0, ("angle", 90.0)), pr.Objective(), (-1, 1), 5)
    # plane_basis of this W is spanned by W_1 and W_2, so angle:90 lies in their plane: it applies
    assert res.reference is not None and np.max(np.abs(res.losses - res.reference)) < 1e-12
    u = np.array([0.0, 1.0, 0.0])
    res = pr.probe(s3, pr.angle_path(s3, 0, u), pr.Objective(), (-1, 1), 5)
    assert res.reference is None and "not in the plane" in res.reference_text


def test_m3_turns_in_the_plane_of_w_and_the_direction_and_refuses_without_one():
    W = np.array([[1.0, 0.2, -0.5], [0.5, 1.0, 0.1], [0.2, -0.3, 0.9]])
    snap = Snapshot(0, W, np.zeros(3))
    with pytest.raises(ConfigError) as e:
        pr.make_path(snap, "angle", 0)
    assert e.value.field == "direction" and "m = 3" in str(e.value)
    path = pr.make_path(snap, "angle", 0, ("feature", 2))
    w, u = W[:, 0], W[:, 2]
    gap = math.acos(w @ u / (np.linalg.norm(w) * np.linalg.norm(u)))
    W_at, _ = path.at(snap, gap)  # turned by the angle between them: now along W_3
    assert W_at[:, 0] == pytest.approx(np.linalg.norm(w) * u / np.linalg.norm(u), abs=1e-12)
    for t in (0.3, -2.0):  # stays in span(W_1, W_3)
        wt = path.at(snap, t)[0][:, 0]
        normal = np.cross(w, u)
        assert abs(wt @ normal) < 1e-12 and np.linalg.norm(wt) == pytest.approx(np.linalg.norm(w), rel=1e-14)


def test_refusals_name_the_field():
    snap = Snapshot(0, np.array([[0.0, 1.0], [0.0, 0.0]]), np.zeros(2))
    with pytest.raises(ConfigError) as e:
        pr.make_path(snap, "angle", 0)
    assert e.value.field == "feature" and "W_1 is 0" in str(e.value)
    one = Snapshot(0, np.array([[1.0, 2.0]]), np.zeros(2))
    with pytest.raises(ConfigError) as e:
        pr.make_path(one, "angle", 0)
    assert e.value.field == "path" and "m >= 2" in str(e.value)
    s = two_unit_vectors(1.0)
    with pytest.raises(ConfigError) as e:
        pr.make_path(s, "angle", 0, ("feature", 0))
    assert e.value.field == "direction"
    par = Snapshot(0, np.array([[1.0, 2.0], [0.0, 0.0]]), np.zeros(2))
    with pytest.raises(ConfigError) as e:
        pr.make_path(par, "angle", 0, ("feature", 1))
    assert e.value.field == "direction" and "parallel" in str(e.value)


def test_loss_along_the_path_is_the_objective_of_the_turned_model():
    """The path's loss is the training loss of the model with W_k replaced by the turned vector."""
    snap = Snapshot(0, *henighan(6))
    path = pr.angle_path(snap, 2)
    for t in (0.2, -0.7):
        c, s_ = math.cos(t), math.sin(t)
        W = snap.W.copy()
        W[:, 2] = np.array([[c, -s_], [s_, c]]) @ snap.W[:, 2]
        assert pr.loss_curve(snap, path, [t], pr.Objective())[0] == pytest.approx(geo.onehot_loss(W, snap.b),
                                                                                  rel=1e-13, abs=1e-16)
