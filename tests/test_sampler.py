"""BatchSampler: epoch coverage and exact resume."""

from __future__ import annotations

import pytest
import torch

from gankit.data import BatchSampler
from gankit.errors import DataError


def test_each_epoch_visits_every_index_once():
    s = BatchSampler(20, 5, seed=0)
    assert s.steps_per_epoch == 4
    epochs = [torch.cat([s.next() for _ in range(4)]) for _ in range(3)]
    for e in epochs:
        assert e.dtype == torch.int64 and sorted(e.tolist()) == list(range(20))
    assert not torch.equal(epochs[0], epochs[1]) and s.epoch == 3


def test_drop_last():
    s = BatchSampler(10, 3, seed=1)
    assert s.steps_per_epoch == 3
    seen = torch.cat([s.next() for _ in range(3)])
    assert len(seen.unique()) == 9 and s.epoch == 1
    t = BatchSampler(10, 3, seed=1, drop_last=False)
    sizes = [len(t.next()) for _ in range(t.steps_per_epoch)]
    assert sizes == [3, 3, 3, 1] and t.epoch == 1


@pytest.mark.parametrize("k", [0, 3, 7, 8])
def test_resume_is_exact(k):
    ref = BatchSampler(30, 4, seed=7)
    for _ in range(k):
        ref.next()
    fresh = BatchSampler(30, 4, seed=123)
    fresh.load_state_dict(ref.state_dict())
    assert fresh.epoch == ref.epoch
    for _ in range(50):
        assert torch.equal(fresh.next(), ref.next())


def test_state_dict_contents():
    state = BatchSampler(6, 2, seed=0).state_dict()
    assert set(state) == {"epoch", "pos", "perm", "generator"}
    assert state["perm"].dtype == torch.int64 and state["generator"].dtype == torch.uint8


def test_errors():
    with pytest.raises(DataError, match="only 5 items.*train.batch_size"):
        BatchSampler(5, 8, seed=0)
    s = BatchSampler(10, 2, seed=0)
    with pytest.raises(DataError, match="10 items"):
        s.load_state_dict(BatchSampler(12, 2, seed=0).state_dict())
    with pytest.raises(DataError, match="malformed"):
        s.load_state_dict({"epoch": 0})
