"""--device: the batched torch path on a GPU gives the CPU paths' numbers within float32
round-off (run where torch sees a GPU; skipped, saying why, elsewhere), and a device that is
not here is one ConfigError naming --device and what is available."""
import numpy as np
import pytest

from model.config import ConfigError, TrainConfig
from model.training import paths
from model.training.engine import Trainer, check_device, cuda_available
from model.training.init import initial_parameters

NO_GPU = "no GPU here: torch sees no CUDA device (these tests run on a machine with one)"

CASES = {
    "one-hot": TrainConfig(n=7, steps=300, models=5, seed=3, lr=1e-2),
    "one-hot-untied-sgd": TrainConfig(n=12, steps=300, models=3, untied=True, optimizer="sgd", lr=0.05),
    "finite-sparse": TrainConfig(n=40, data="sparse", sparsity=0.9, examples=30, steps=300, models=3, seed=5),
    "minibatch": TrainConfig(n=40, data="sparse", sparsity=0.9, examples=30, batch=8, steps=300, models=3),
    "fresh": TrainConfig(n=40, m=5, data="sparse", sparsity=0.9, batch=48, steps=300, models=2, seed=1),
}


@pytest.mark.skipif(not cuda_available(), reason=NO_GPU)
@pytest.mark.parametrize("name", list(CASES))
def test_cuda_path_equals_the_cpu_path_within_float32_round_off(name):
    cfg = CASES[name].validate()
    W0, b0, M0 = initial_parameters(cfg)
    cpu = Trainer(cfg, initial=(W0, b0, M0))
    gpu = Trainer(cfg.replace(device="cuda"), initial=(W0, b0, M0))
    assert gpu.path.name == "torch" and gpu.impl.device.type == "cuda"
    cpu.run()
    gpu.run()
    assert np.abs(cpu.parameters()[0] - W0).max() > 5e-3  # it trained: the comparison can fail
    for a, b in zip(cpu.parameters(), gpu.parameters(), strict=True):
        if a is not None:
            np.testing.assert_allclose(b, a, atol=1e-4)  # as the CPU paths against autograd (test_sparse_kernel)
    np.testing.assert_allclose(gpu.history.losses()[1], cpu.history.losses()[1], rtol=1e-3, atol=1e-6)


@pytest.mark.slow
def test_the_torch_path_runs_on_a_named_device():
    """The GPU's code path, on the device every machine has: the torch path given
    device="cpu" explicitly is the torch path."""
    from model.training.torch_backend import TorchTrainer

    cfg = CASES["fresh"].validate()
    W0, b0, M0 = initial_parameters(cfg)
    ref = Trainer(cfg, initial=(W0, b0, M0), backend="torch")
    assert isinstance(ref.impl, TorchTrainer) and ref.impl.device.type == "cpu"
    ref.run()
    fused = Trainer(cfg, initial=(W0, b0, M0), backend="fused")
    fused.run()
    for a, b in zip(ref.parameters(), fused.parameters(), strict=True):
        if a is not None:
            np.testing.assert_allclose(a, b, atol=1e-4)


def test_cuda_runs_only_the_torch_path():
    cfg = TrainConfig(n=1000, device="cuda").validate()
    assert paths.applicable(cfg) == ("torch",)
    assert paths.choose(cfg).name == "torch"
    with pytest.raises(ValueError, match="cannot train"):
        paths.choose(cfg, "fused")


@pytest.mark.skipif(cuda_available(), reason="a GPU is here: the refusal is for machines without one")
@pytest.mark.slow
def test_cuda_without_a_gpu_is_one_line_naming_device_and_what_is_available(tmp_path):
    with pytest.raises(ConfigError) as e:
        check_device(TrainConfig(device="cuda"))
    assert e.value.field == "device" and "available: cpu" in e.value.message and "\n" not in str(e.value)
    with pytest.raises(ConfigError):
        Trainer(TrainConfig(device="cuda", steps=1))
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "r.h5"
    for cmd in (["train"], ["sweep", "--models", "2"], ["datasize", "--sizes", "3,5", "--n", "30", "--sparsity", "0.9"]):
        r = subprocess.run([sys.executable, "main.py", *cmd, "--device", "cuda", "--steps", "3", "--out", str(out)],
                           cwd=root, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (cmd, r.stderr)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and "--device: cuda needs a GPU" in lines[0] and "available: cpu" in lines[0], lines
        assert not out.exists()
