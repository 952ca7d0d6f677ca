"""RNG capture/restore in one process (the gathered multi-rank path: test_distributed.py)."""
import random

import numpy as np
import pytest
import torch

from gankit.checkpoint import load_checkpoint, save_checkpoint
from gankit.distributed import DistInfo
from gankit.rng import _to_tensors, capture_rng, restore_rng, seed_everything


def draws() -> list:
    return [random.random(), random.gauss(0, 1), float(np.random.randn()), torch.rand(3).tolist()]


def state_after(seed: int):
    """The RNG state after seeding and one round of draws (python's and numpy's Gaussian caches set)."""
    seed_everything(seed)
    draws()
    return capture_rng(), draws()


@pytest.fixture(autouse=True)
def keep_global_rng():
    saved = capture_rng()
    yield
    restore_rng(saved)


def test_one_process_round_trip_through_a_checkpoint_is_exact(tmp_path):
    state, expected = state_after(3)
    save_checkpoint(tmp_path, "step-1", {}, {"rng": state}, {"step": 1})
    seed_everything(4)
    restore_rng(load_checkpoint(tmp_path).state["rng"])
    assert draws() == expected


def test_gathered_states_give_each_rank_its_row_and_other_world_sizes_rank_0s():
    rows = [state_after(seed) for seed in (10, 11)]
    ranks = {k: torch.stack([_to_tensors(s)[k] for s, _ in rows]) for k in _to_tensors(rows[0][0])}
    for info, row in [(DistInfo(1, 2), 1), (DistInfo(0, 2), 0), (DistInfo(), 0), (DistInfo(2, 3), 0)]:
        seed_everything(0)
        restore_rng({"ranks": ranks}, info)
        assert draws() == rows[row][1], info


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_state_is_the_training_device_s():
    device = torch.device("cuda", torch.cuda.device_count() - 1)
    torch.rand(1, device=device)
    state = capture_rng(device=device)
    assert torch.equal(state["cuda"], torch.cuda.get_rng_state(device))
    expected = torch.rand(4, device=device)
    torch.cuda.manual_seed_all(0)
    restore_rng(state, device=device)
    assert torch.equal(torch.rand(4, device=device), expected)
