"""A sweep's file is saved as it goes without the cost growing as N² (issue 21, item 13), and a
grid too large to run is refused before anything is built.

Each save rewrites the whole file, so saving after each of N quick configurations costs O(N²);
the runner saves again only once SAVE_TIME_FACTOR times the last save's time has passed. The
rule is checked with a clock of its own (each save takes a time that grows with the file, each
configuration a fixed time), so no test depends on this machine's speed; real runs check that
every configuration ends in the file, also when the run stops on an error."""
from __future__ import annotations

import pytest

import model.experiments.sweep as sw
from model.config import ConfigError, TrainConfig
from model.experiments.sweep import MAX_GRID_CONFIGS, SAVE_TIME_FACTOR, SweepRunner, expand_grid, open_sweep


class Clock:
    def __init__(self):
        self.t = 0.0

    def monotonic(self):
        return self.t


def test_saving_takes_at_most_its_share_of_a_sweep_however_many_configurations(tmp_path, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(sw.time, "monotonic", clock.monotonic)
    saves = []

    def slow_save(path, sweep, replace=False):  # a save takes 5 ms per configuration in the file
        clock.t += 0.005 * len(sweep.entries)
        saves.append(len(sweep.entries))
        sweep.path = path

    monkeypatch.setattr(sw, "save_sweep", slow_save)
    r = SweepRunner(TrainConfig(n=3, steps=1), {"lr": [1e-3, 2e-3]}, 2, out=tmp_path / "s.h5")
    N, config_time = 2000, 0.02  # quick configurations: 20 ms each
    for i in range(N):
        clock.t += config_time
        r.sweep.entries.append(i)
        r.save_progress()
    r.save_unsaved()
    save_time = sum(0.005 * k for k in saves)
    assert saves[0] == 1 and saves[-1] == N  # the first at once, the last holds every configuration
    # every save but the last two was followed by SAVE_TIME_FACTOR times its time of training: saving
    # costs at most the training time / factor plus two saves of the whole file (linear in N), where
    # saving after each configuration cost sum(0.005 k) = 10,000 s here, against 40 s of training
    assert save_time <= N * config_time / SAVE_TIME_FACTOR + 2 * 0.005 * N
    assert len(saves) < 20
    # a sweep whose configurations take longer than its saves saves after every one
    saves.clear()
    r2 = SweepRunner(TrainConfig(n=3, steps=1), None, 2, out=tmp_path / "t.h5")
    for i in range(50):
        clock.t += 10.0
        r2.sweep.entries.append(i)
        r2.save_progress()
    assert saves == list(range(1, 51))


@pytest.mark.slow
def test_every_finished_configuration_is_in_the_file_also_when_the_run_fails(tmp_path, monkeypatch):
    grid = {"lr": [1e-3 * (1 + i / 100) for i in range(12)]}
    out = tmp_path / "s.h5"
    r = SweepRunner(TrainConfig(n=3, steps=3), grid, 2, out=out, threads=1)
    r.run()
    assert [e.grid["lr"] for e in open_sweep(out).entries] == grid["lr"]
    # a training that fails at the 7th configuration: the six before are saved, the error is raised
    calls = []
    real = SweepRunner._train

    def failing(self, cfg, *args, **kwargs):
        calls.append(cfg.lr)
        if len(calls) == 7:
            raise RuntimeError("the machine failed")
        return real(self, cfg, *args, **kwargs)

    monkeypatch.setattr(SweepRunner, "_train", failing)
    out2 = tmp_path / "s2.h5"
    with pytest.raises(RuntimeError):
        SweepRunner(TrainConfig(n=3, steps=3), grid, 2, out=out2, threads=1).run()
    assert [e.grid["lr"] for e in open_sweep(out2).entries] == grid["lr"][:6]


def test_a_grid_too_large_is_refused_before_any_configuration_is_built(monkeypatch):
    built = []
    monkeypatch.setattr(TrainConfig, "validate", lambda self: built.append(1) or self)
    big = {"lr": [1e-3 * (1 + i / 10**6) for i in range(1000)], "n": list(range(2, 13))}
    with pytest.raises(ConfigError) as e:
        expand_grid(TrainConfig(), big)
    assert e.value.field == "grid" and "11,000 configurations (1000 lr x 11 n)" in e.value.message
    assert f"at most {MAX_GRID_CONFIGS:,}" in e.value.message and built == []
    assert len(expand_grid(TrainConfig(), {"lr": big["lr"][:100], "n": list(range(2, 102))})) == MAX_GRID_CONFIGS
