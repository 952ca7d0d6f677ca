"""Files and folders gankit writes get 0666/0777 less the umask, as open()/mkdir() would give them."""
import os
import stat

import numpy as np
import pytest
import torch

from gankit.checkpoint import LATEST, atomic_write_text, save_checkpoint
from gankit.metrics import evaluate as ev
from gankit.metrics.modes import scatter_plot
from gankit.monitor.images import save_grid


@pytest.fixture(params=[0o022, 0o077, 0o002], ids=["022", "077", "002"])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_and_folders_respect_the_umask(tmp_path, monkeypatch, umask):
    file_mode, dir_mode = 0o666 & ~umask, 0o777 & ~umask
    root = tmp_path / "run" / "checkpoints"
    ckpt = save_checkpoint(root, "step-00000001", {"G": {"w": torch.ones(2)}}, {"t": torch.zeros(1)}, {"step": 1})
    assert mode(ckpt) == dir_mode
    assert sorted(mode(f) for f in [*ckpt.iterdir(), root / LATEST]) == [file_mode] * 4

    config = tmp_path / "run" / "config.yaml"
    atomic_write_text(config, "seed: 0\n")
    atomic_write_text(config, "seed: 1\n")  # a replacement too
    assert mode(config) == file_mode

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    key = {"dataset": "digits", "split": "all", "shape": [1, 8, 8], "n": 2}
    ev._cache_save(key, torch.zeros(2, 4))
    cached = ev._cache_file(key)
    assert mode(cached) == mode(cached.with_suffix(".json")) == file_mode

    save_grid(torch.zeros(4, 1, 8, 8), tmp_path / "samples" / "step-1.png")
    scatter_plot(np.zeros((4, 2)), np.ones((2, 2)), tmp_path / "samples" / "scatter.png")
    assert mode(tmp_path / "samples" / "step-1.png") == mode(tmp_path / "samples" / "scatter.png") == file_mode
