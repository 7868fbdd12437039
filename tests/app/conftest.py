"""Fixtures shared by the app tests."""
import pytest


@pytest.fixture(scope="module")
def run7(tmp_path_factory):
    """A short n = 7 run (two-circle failure at the end, features moving all along)."""
    from model.config import TrainConfig
    from model.engine import train
    from model.runfile import save_run

    cfg = TrainConfig(n=7, m=2, steps=1500, lr=1e-2, seed=0)
    tr = train(cfg, threads=1)
    path = tmp_path_factory.mktemp("export") / "n7.h5"
    save_run(path, cfg, tr.history)
    return path
