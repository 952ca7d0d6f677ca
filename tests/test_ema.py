import pytest
import torch
from torch import nn

from gankit.ema import EMA
from gankit.errors import ConfigError


def make_model() -> nn.Module:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    fill(model, 1.0)
    return model


def fill(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)


def test_shadow_is_frozen_eval_copy() -> None:
    model = make_model()
    ema = EMA(model)
    assert ema.shadow is not model
    assert not ema.shadow.training
    assert all(not p.requires_grad for p in ema.shadow.parameters())
    assert all(p.requires_grad for p in model.parameters())
    for p, q in zip(ema.shadow.parameters(), model.parameters()):
        assert p.data_ptr() != q.data_ptr()
        assert torch.equal(p, q)


def test_update_is_exact_moving_average_and_copies_buffers() -> None:
    model = make_model()
    ema = EMA(model, decay=0.75)  # powers of two: the average is exact in float
    fill(model, 5.0)
    model.train()(torch.randn(8, 3))  # changes BatchNorm running stats
    ema.update(model, step=0)
    for p in ema.shadow.parameters():
        assert torch.equal(p, torch.full_like(p, 0.75 * 1.0 + 0.25 * 5.0))
    for b, src in zip(ema.shadow.buffers(), model.buffers()):
        assert torch.equal(b, src)
    assert ema.shadow[1].num_batches_tracked.item() == 1
    fill(model, 2.0)
    ema.update(model, step=1)
    for p in ema.shadow.parameters():
        assert torch.equal(p, torch.full_like(p, 0.75 * 2.0 + 0.25 * 2.0))
    assert all(not p.requires_grad for p in ema.shadow.parameters())


def test_before_start_step_is_a_copy() -> None:
    model = make_model()
    ema = EMA(model, decay=0.5, start_step=10)
    fill(model, 7.0)
    ema.update(model, step=9)
    for p in ema.shadow.parameters():
        assert torch.equal(p, torch.full_like(p, 7.0))
    fill(model, 3.0)
    ema.update(model, step=10)
    for p in ema.shadow.parameters():
        assert torch.equal(p, torch.full_like(p, 5.0))


def test_state_dict_roundtrip() -> None:
    model = make_model()
    ema = EMA(model, decay=0.5)
    fill(model, 3.0)
    ema.update(model, step=0)
    other = EMA(make_model(), decay=0.5)
    other.load_state_dict(ema.state_dict())
    for key, value in ema.state_dict().items():
        assert torch.equal(other.state_dict()[key], value)
    assert set(ema.state_dict()) == set(model.state_dict())


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="ema_decay"):
        EMA(make_model(), decay=1.5)
    with pytest.raises(ConfigError, match="ema_start"):
        EMA(make_model(), start_step=-1)
