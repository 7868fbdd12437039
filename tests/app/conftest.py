"""Fixtures shared by the tests of app/: a fresh session, a short recorded run opened in one,
and an engine that fails on a chosen chunk."""
import pytest


@pytest.fixture
def session(qtbot):
    """A fresh Session (nothing open), shut down cleanly afterwards."""
    from app.gui.session import Session

    s = Session()
    yield s
    assert s.shutdown(timeout=3.0)


@pytest.fixture(scope="session")
def run7(tmp_path_factory):
    """A short n = 7 run (1,500 steps, lr 1e-2, seed 0) saved to a file, once for the whole test session:
    features moving all along; arrows, zones, a loss curve, a WᵀW with contrast to draw."""
    from model.config import TrainConfig
    from model.storage.runfile import save_run
    from model.training.engine import train

    cfg = TrainConfig(n=7, m=2, steps=1500, lr=1e-2, seed=0)
    tr = train(cfg, threads=1)
    path = tmp_path_factory.mktemp("run7") / "n7.h5"
    save_run(path, cfg, tr.history)
    return path


@pytest.fixture
def session7(session, run7):
    """The session with run7 opened."""
    assert session.open(run7)
    return session


@pytest.fixture
def engine_fails_on(monkeypatch):
    """engine_fails_on(k, message): Trainer.train_chunk raises RuntimeError(message) on its k-th call
    (counted from now) and trains as usual on every other."""
    from model.training.engine import Trainer

    def arm(k: int, message: str) -> None:
        orig = Trainer.train_chunk
        calls = {"n": 0}

        def flaky(self, nsteps):
            calls["n"] += 1
            if calls["n"] == k:
                raise RuntimeError(message)
            return orig(self, nsteps)

        monkeypatch.setattr(Trainer, "train_chunk", flaky)

    return arm
