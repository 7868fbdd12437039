"""Time left of long commands, on fake clocks (no timings): the dataset-size sweep's
TimeLeft (each size costed by the cost model, rescaled by what is timed) and the sweep's
WorkLeft. The criterion is the issue's: within 20% of the true time left once 5% of the
work is done."""
import math

import numpy as np
import pytest

from model.datasize import TimeLeft
from model.paths import WorkLeft

SIZES = [3, 5, 8, 10, 15, 30, 50, 100, 200, 500, 1000]
STEPS = 2000


def _true_step(T):
    """What a step 'really' costs on the fake machine: 0.3 ms plus 6 us an example."""
    return 3e-4 + 6e-6 * T


def _model_step(T):
    """The cost model's prediction: the right shape, wrong by a factor 3 at T = 1 falling to 2
    at T = 1,000 (linear in log T), as a model calibrated on another machine would be."""
    return _true_step(T) / (3.0 - math.log10(T) / 3.0)


def _simulate(clock, measure=lambda T: 0.0, report=0.1, calibrate=True):
    """Run the sweep on a fake clock: progress every `report` s of training; returns
    [(elapsed, estimated seconds left, true seconds left)] at every report."""
    total = sum(STEPS * _true_step(T) + measure(T) for T in SIZES)
    if calibrate:
        clock.calibrate(SIZES[-1], _true_step(SIZES[-1]) * 1.03)  # a few steps, timed 3% slow
    out, elapsed = [], 0.0
    for i, T in enumerate(SIZES):
        per = _true_step(T)
        chunk = max(1, int(report / per))
        done, t = 0, 0.0
        while done < STEPS:
            done = min(STEPS, done + chunk)
            t = done * per
            clock.update(i, done, t)
            now = elapsed + t
            out.append((now, clock.seconds_left(i, done), total - now - measure(T) * 0))
        clock.update(i, STEPS, t, finished=True)
        elapsed += t + measure(T)
        clock.measured(i, measure(T))
    return total, out


@pytest.mark.parametrize("measure", [lambda T: 0.0, lambda T: 2e-3 * (T + 2000)], ids=["train", "train+measure"])
def test_datasize_time_left_is_within_20_percent_after_5_percent_of_the_work(measure):
    clock = TimeLeft(SIZES, STEPS, predict=_model_step, test_examples=2000)
    total, reports = _simulate(clock, measure)
    # the true time left at a report made during size i's training includes size i's measuring
    worst = 0.0
    for now, est, true_left in reports:
        if now < 0.05 * total or true_left < 1.0:
            continue
        assert est is not None
        worst = max(worst, abs(est - true_left) / true_left)
    assert worst <= 0.2, worst
    # the largest size is the bulk of the training: what the sweep got wrong (33 s said, minutes left)
    assert STEPS * _true_step(1000) > 0.4 * sum(STEPS * _true_step(T) for T in SIZES)


def test_without_the_cost_models_shape_the_small_sizes_mislead():
    """The old estimate's failure, for contrast: a prior that a step costs T + 8 examples' worth
    and no look at the largest size says far too little early on (the same fake machine)."""
    clock = TimeLeft(SIZES, STEPS)  # no predict, no calibrate
    total, reports = _simulate(clock, calibrate=False)
    early = [(est, true) for now, est, true in reports if 0.05 * total <= now <= 0.2 * total and est is not None]
    assert early and max(abs(e - t) / t for e, t in early) > 0.2


def test_time_left_is_unknown_until_something_is_timed_and_the_bar_never_moves_back():
    clock = TimeLeft([10, 100], steps=100, predict=_model_step)
    assert clock.seconds_left(0, 0) is None
    clock.update(0, 100, 100 * _true_step(10), finished=True)
    before = clock.fraction(1, 60)
    clock.update(1, 60, 60 * _true_step(100) * 40)  # T = 100 turns out 40x slower than thought
    assert clock.fraction(1, 60) == before  # a refit would lower it: the bar keeps what it said
    fresh = TimeLeft([10, 100], steps=100, predict=_model_step)
    fresh.update(0, 100, 100 * _true_step(10), finished=True)
    fresh.update(1, 60, 60 * _true_step(100) * 40)
    assert fresh.fraction(1, 60) < before - 0.01


def test_work_left_scales_the_predicted_parts_by_what_was_measured():
    """A sweep's configurations of different costs (steps x the cost model's step): the
    estimate is right once part of the work is timed, even when every prediction is 2.5x
    off (one factor for the machine)."""
    predicted = [1.0, 1.0, 4.0, 0.5, 10.0, 2.0]  # seconds of each part by the cost model
    true = [2.5 * p for p in predicted]
    clock = WorkLeft(predicted)
    assert clock.seconds_left(0, 0.0, 0.0) is None
    total = sum(true)
    elapsed = 0.0
    for i, t in enumerate(true):
        for f in np.linspace(0.1, 1.0, 10):
            now = elapsed + f * t
            est = clock.seconds_left(i, f, now)
            if now >= 0.05 * total and total - now > 1e-9:
                assert est == pytest.approx(total - now, rel=1e-9)
        elapsed += t
    assert clock.fraction(len(true), 0.0) == pytest.approx(1.0)


def test_the_size_in_progress_is_costed_by_its_recent_steps_not_its_calibration():
    """A step costs more than its calibration said (the machine got busier): the largest size,
    calibrated at 0.5 ms a step, really runs 0.5 ms for its first 200 steps and 2 ms after.
    Once it has run a second, the time left follows its recent steps (within 20%), where the
    calibration alone would say a quarter of the truth."""
    clock = TimeLeft([1000], 3000, predict=lambda T: 1e-3)
    clock.calibrate(1000, 5e-4)
    fresh = clock.seconds_left(0, 0)
    assert fresh == pytest.approx(3000 * 5e-4)  # all the clock knows before the size runs
    t, done = 0.0, 0
    checked = 0
    while done < 3000:
        step = 5e-4 if done < 200 else 2e-3
        done += 50
        t += 50 * step
        clock.update(0, done, t)
        truth = sum(5e-4 if s < 200 else 2e-3 for s in range(done, 3000))
        if t >= 2 * TimeLeft.MIN_SECONDS and truth > 0:
            assert abs(clock.seconds_left(0, done) - truth) <= 0.2 * truth, (done, clock.seconds_left(0, done), truth)
            checked += 1
    assert checked > 10


def test_the_calibration_divides_by_the_steps_taken_not_the_steps_asked(monkeypatch):
    """The calibration trains a throw-away model of the largest size for about a second. At
    n = 10,000 its first chunks take fewer steps than asked (the history records every early
    step and caps a chunk's rows), so dividing by the steps asked said 0.3 ms where a step
    took 2 ms. On a fake clock where a step costs 1 ms and a chunk 0.2 ms more, the
    calibration must say at least 1 ms (the per-step cost alone) and at most 1.2 ms (one
    chunk of one step per step, the worst the chunk overhead can add)."""
    import time

    from model.config import smdd_config
    from model.datasize import DataSizeRunner
    from model.engine import Trainer

    now = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: now[0])
    real = Trainer.train_chunk
    taken = []

    def charged(self, nsteps):
        before = self.step
        out = real(self, nsteps)
        taken.append((nsteps, self.step - before))
        now[0] += 1e-3 * (self.step - before) + 2e-4
        return out

    monkeypatch.setattr(Trainer, "train_chunk", charged)
    runner = DataSizeRunner(smdd_config(steps=1000, warmup=100), [5, 8], test_examples=10)
    per_step = runner.time_a_step(runner.configs[-1], budget=0.5)
    assert any(got < asked for asked, got in taken), "no chunk was cut short: the case this guards is gone"
    assert 1e-3 <= per_step <= 1.2e-3, (per_step, taken[:12])
