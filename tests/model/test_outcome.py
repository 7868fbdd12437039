"""Outcomes (model/analysis/outcome.py): settled, stuck or moving, from hand-built histories with known slopes, the
seed's SGD failure trained from its constructed limit point, and Henighan's exact solution."""
import json
import math

import numpy as np
import pytest

from model.analysis.outcome import (
    HORIZON_DOUBLINGS,
    OUTCOMES,
    escape_doublings,
    extrapolate,
    history_outcomes,
    level_quantum,
    outcome_words,
)
from model.config import TrainConfig
from model.history import History
from model.training.engine import Trainer
from model.training.init import henighan

SGD = dict(optimizer="sgd", momentum=0.9, weight_decay=0.0, lr=1e-3)


def seed_limit_point(r2=2.0):
    """n = 7, feature 1 dead (W_1 = 0, b_1 = 1/7), features 2..7 an exact regular hexagon of radius^2 r2 with
    b = 1 - r2 (own output 1; at r2 = 2 every neighbour's pre-activation r2/2 + 1 - r2 is exactly 0)."""
    ang = np.arange(6) * 2 * np.pi / 6
    W = np.zeros((2, 7))
    W[0, 1:] = math.sqrt(r2) * np.cos(ang)
    W[1, 1:] = math.sqrt(r2) * np.sin(ang)
    b = np.full(7, 1.0 - r2)
    b[0] = 1.0 / 7.0
    return W, b


def hand_history(steps, W, b, losses):
    """A one-model History holding the same parameters (or one set per step) with the given losses."""
    h = History(1, W.shape[-2], W.shape[-1], budget_bytes=2**22)
    for i, s in enumerate(steps):
        Wi = W[i] if W.ndim == 3 else W
        bi = b[i] if b.ndim == 2 else b
        h.append(int(s), Wi[None].astype(np.float32), bi[None].astype(np.float32), np.array([losses[i]], np.float32))
    return h


def geometric_steps(last, per_doubling=16, first=100):
    """Steps evenly spaced in log-time up to ``last`` (a recorded history's grid)."""
    k = int(math.ceil(per_doubling * math.log2(last / first)))
    s = np.unique(np.round(last * 2.0 ** (-np.arange(k + 1) / per_doubling)).astype(np.int64))
    return s[s >= first]


# ---------------------------------------------------------------- the extrapolation

def test_extrapolate_linear_in_log_time_reaches_its_target_when_the_line_does():
    u = (10.0, 10.5, 11.0)
    x = np.array([1.0, 0.9, 0.8])  # -0.2 per doubling, steady
    assert extrapolate(u, *x[:, None], np.array([0.3]))[0] == pytest.approx(2.5, rel=1e-12)
    assert extrapolate(u, *x[:, None], np.array([0.9]))[0] == math.inf  # behind it: never


def test_extrapolate_decelerating_motion_stops_at_its_geometric_limit():
    """Rates halving every half doubling: v(u) = v2 g^(u - m2), g = 1/4 per doubling; from x3 the rest of the fall
    is v_now / ln(1/g) with v_now = v2 g^(1/4): targets beyond the limit are never reached."""
    u = (10.0, 10.5, 11.0)
    x1, x2, x3 = 1.0, 0.6, 0.4  # falls of 0.4 then 0.2
    v2, g = -0.4, 0.25
    v_now = v2 * g ** 0.25
    limit = x3 + v_now / math.log(1 / g)
    assert extrapolate(u, np.array([x1]), np.array([x2]), np.array([x3]), np.array([limit - 1e-3]))[0] == math.inf
    target = 0.5 * (x3 + limit)
    t = extrapolate(u, np.array([x1]), np.array([x2]), np.array([x3]), np.array([target]))[0]
    # x(t) = x3 + v_now (g^t - 1) / ln g
    assert x3 + v_now * (g ** t - 1) / math.log(g) == pytest.approx(target, rel=1e-12)


# ---------------------------------------------------------------- hand-built histories

def test_a_loss_still_falling_at_a_known_slope_is_moving_and_the_pace_is_the_slope():
    """The seed's clean failure (a hexagon at r^2 = 3, feature 1 dead) whose recorded loss falls 0.05 per doubling
    (steady in log-time): one level, q = 6/49, is q / 0.05 doublings away, inside the horizon."""
    W, b = seed_limit_point(3.0)
    steps = geometric_steps(20_000)
    losses = 6 / 49 + 0.05 * (math.log2(20_000) - np.log2(steps))
    h = hand_history(steps, W, b, losses)
    cfg = TrainConfig(n=7, steps=20_000, **SGD)
    out = history_outcomes(h, cfg)
    assert out.kinds()[0] == "moving" and out.reasons()[0] == "pace"
    ev = out.evidence(0)
    q = level_quantum(cfg)
    assert q == pytest.approx(6 / 49)
    assert ev["pace"]["doublings_to_next_level"] == pytest.approx(q / 0.05, rel=1e-3)
    assert ev["pace"]["margin"] == pytest.approx(math.log10(q / 0.05 / HORIZON_DOUBLINGS), abs=1e-3)
    assert ev["pace"]["change_per_doubling"] == pytest.approx(-0.05, rel=1e-3)
    assert "falls one level" in out.text(0)


def test_a_flat_loss_at_a_smooth_saddle_is_moving_by_its_escape():
    """Same point, flat loss: the pace says nothing, but r^2 = 3 is a saddle (closed-form curvature, tested in
    test_optimum) whose escape SGD takes: lr |lambda| / (1 - momentum) a step, within the horizon at s = 20,000."""
    W, b = seed_limit_point(3.0)
    steps = geometric_steps(20_000)
    h = hand_history(steps, W, b, np.full(len(steps), 6 / 49))
    cfg = TrainConfig(n=7, steps=20_000, **SGD)
    out = history_outcomes(h, cfg)
    assert out.kinds()[0] == "moving" and out.reasons()[0] == "escape"
    loc = out.evidence(0)["local"]
    assert loc["kind"] == "saddle" and loc["lowest_curvature"] < -1e-3
    rate, t = escape_doublings(cfg, out.step, np.array([loc["lowest_curvature"]]), np.array([0.0]),
                               np.array([1.0]), np.array([1e-15]))
    assert rate[0] == pytest.approx(1e-3 * abs(loc["lowest_curvature"]) / 0.1, rel=1e-12)
    assert t[0] < HORIZON_DOUBLINGS


def test_a_dead_feature_whose_norm_grows_is_predicted_to_come_alive():
    """Feature 1's norm relative to the largest grows linearly in log-time (0.02 per eighth of a doubling) from
    0.04: it reaches the dead threshold 0.1 in (0.1 - 0.06) / 0.16 doublings after s."""
    W0, b = seed_limit_point(3.0)
    steps = geometric_steps(20_000)
    u = np.log2(steps) - math.log2(20_000)  # <= 0
    r = math.sqrt(3.0)
    Ws = np.repeat(W0[None], len(steps), axis=0)
    Ws[:, 0, 0] = np.clip(0.06 + 0.16 * u, 0.0, None) * r  # W_1 along x, ratio 0.06 at s
    h = hand_history(steps, Ws, b, np.full(len(steps), 6 / 49))
    out = history_outcomes(h, TrainConfig(n=7, steps=20_000, **SGD), local=False)
    ev = out.evidence(0)
    assert out.verdicts[0] != "perfect" and out.reasons()[0] == "crossing"
    assert ev["crossing"]["feature"] == 1 and ev["crossing"]["kind"] == "revive"
    assert ev["crossing"]["doublings"] == pytest.approx((0.1 - 0.06) / 0.16, rel=2e-3)


# ---------------------------------------------------------------- trained models

def _train(cfg, W, b):
    tr = Trainer(cfg, initial=(W.astype(np.float32)[None], b.astype(np.float32)[None], None), threads=1)
    tr.run()
    return tr.history


@pytest.mark.slow
def test_the_seeds_sgd_failure_trained_from_its_limit_point_is_stuck():
    """SGD (momentum 0.9, lr 1e-3) from the constructed limit point plus noise returns to 6/49: every check says
    it stays, each with room to spare."""
    W, b = seed_limit_point(2.0)
    rng = np.random.default_rng(3)
    cfg = TrainConfig(n=7, steps=40_000, history_budget_mb=4, **SGD)
    h = _train(cfg, W + 1e-3 * rng.standard_normal(W.shape), b + 1e-3 * rng.standard_normal(b.shape))
    out = history_outcomes(h, cfg, full=True)
    assert out.verdicts[0] == "symmetric_failure" and out.kinds()[0] == "stuck", out.text(0)
    ev = out.evidence(0)
    def far(m, by):
        return (m is None or m > by)  # None: infinitely far (never at the present pace)
    assert ev["clean"] and far(ev["pace"]["margin"], 1) and far(ev["crossing"]["margin"], 0)
    assert ev["local"]["kind"] in ("minimum", "flat_saddle", "kink_minimum", "nonsmooth_saddle")
    assert "optimum" in ev["local"]
    assert outcome_words(out.verdicts[0], "stuck") == "symmetric failure, stuck"


@pytest.mark.slow
def test_the_grown_hexagon_is_moving_long_before_its_loss_moves():
    """From r^2 = 2.2 plus the same noise SGD escapes (test_optimum checks it leaves 6/49 by step 300,000); at
    step 60,000 the loss has not moved yet, and the local model already says moving."""
    W, b = seed_limit_point(2.2)
    rng = np.random.default_rng(3)
    cfg = TrainConfig(n=7, steps=60_000, history_budget_mb=4, **SGD)
    h = _train(cfg, W + 1e-3 * rng.standard_normal(W.shape), b + 1e-3 * rng.standard_normal(b.shape))
    assert h.snapshot().loss == pytest.approx(6 / 49, abs=1e-6)
    out = history_outcomes(h, cfg)
    assert out.kinds()[0] == "moving" and out.reasons()[0] == "escape", out.text(0)


def test_henighans_solution_is_settled():
    cfg = TrainConfig(n=7, init="analytic", steps=4_000, history_budget_mb=4)
    W, b = henighan(7)
    h = _train(cfg, W, b)
    out = history_outcomes(h, cfg)
    assert out.verdicts[0] == "perfect" and out.kinds()[0] == "settled"
    assert out.decided().all()
    d = out.to_dict(0)
    json.dumps(d, allow_nan=False)
    assert d["kind"] == "settled" and d["evidence"]["window_recorded"]


def test_too_early_to_tell_is_moving_and_sparse_plateaus_are_settled():
    W, b = seed_limit_point(3.0)
    h = hand_history([0, 1, 2], W, b, [0.5, 0.4, 0.3])
    out = history_outcomes(h, TrainConfig(n=7, **SGD))
    assert out.kinds()[0] == "moving" and out.reasons()[0] == "window"
    steps = geometric_steps(8_000)
    cfg = TrainConfig(n=7, data="sparse", sparsity=0.9, examples=50, steps=8_000)
    flat = hand_history(steps, W, b, np.full(len(steps), 0.02))
    falling = hand_history(steps, W, b, 0.02 * (1 + 0.01 * (math.log2(8_000) - np.log2(steps))))
    assert history_outcomes(flat, cfg).kinds()[0] == "settled"
    assert history_outcomes(falling, cfg).kinds()[0] == "moving"
    assert set(OUTCOMES) == {"settled", "stuck", "moving"}


def test_until_decided_stops_once_every_model_is_settled_or_stuck_and_the_cap_holds_otherwise():
    from model.training.engine import decide_grid

    assert decide_grid(5000) == [1024, 1448, 2048, 2896, 4096, 5000]
    from model.analysis.outcome import decide_hook

    cfg = TrainConfig(n=7, init="analytic", models=2, steps=50_000, until_decided=True, history_budget_mb=4)
    tr = Trainer(cfg, threads=1)
    assert decide_hook(cfg.replace(until_decided=False)) == (None, None)
    at_steps, on_step = decide_hook(cfg)
    assert at_steps == decide_grid(50_000)
    tr.run(at_steps=at_steps, on_step=on_step)
    # Henighan's n-gon is perfect from step 0: settled at the first check that has its window recorded
    assert tr.decided_at == 1024 and tr.step == 1024
    assert history_outcomes(tr.history, cfg).decided().all()
    # an AdamW model early in training: it stops at the first check where its outcome is decided, else at the cap
    cfg2 = TrainConfig(n=7, seed=1, steps=1500, until_decided=True, history_budget_mb=4)
    tr2 = Trainer(cfg2, threads=1)
    tr2.run(*(), **dict(zip(("at_steps", "on_step"), decide_hook(cfg2), strict=True)))
    early = history_outcomes(tr2.history, cfg2, step=1024).decided().all()
    assert (tr2.decided_at, tr2.step) == ((1024, 1024) if early else (None, 1500))
    assert not early  # at step 1,024 its loss is still falling
