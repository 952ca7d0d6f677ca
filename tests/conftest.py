"""Shared fixtures: tiny, fast configs that exercise the real training path on CPU."""
import pytest
import torch

from gankit.config import load_config

torch.set_num_threads(1)


def tiny_config(run_dir, preset="digits-dcgan", **keys):
    """A few-second config: small nets, few steps, everything written into run_dir."""
    base = {
        "run.dir": str(run_dir), "train.progress": "none", "train.tensorboard": False,
        "train.log_every": 2, "train.sample_every": 4, "train.checkpoint_every": 4, "train.steps": 8,
        "train.batch_size": 16,
    }
    if preset == "digits-dcgan":
        base.update({"data.size": 8, "model.z_dim": 8, "model.g.width": 8, "model.d.width": 8})
    else:
        base.update({"data.n": 512, "model.g.hidden": [32, 32], "model.d.hidden": [32, 32]})
    base.update(keys)
    return load_config(preset=preset, overrides=[f"{k}={v}" for k, v in base.items()])


@pytest.fixture
def tiny(tmp_path):
    return lambda preset="digits-dcgan", name="run", **keys: tiny_config(tmp_path / name, preset, **keys)
