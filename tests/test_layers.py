"""Tests for gankit.nn.layers and gankit.nn.conditioning."""
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gankit.errors import ConfigError
from gankit.nn import build_discriminator
from gankit.nn.conditioning import CondSequential, ConditionalBatchNorm1d, ConditionalBatchNorm2d, ProjectionHead
from gankit.nn.layers import (MinibatchDiscrimination, MinibatchStdDev, append_features, apply_spectral_norm,
                              init_dcgan_weights, pack_samples)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_minibatch_discrimination_depends_on_batch_but_keeps_h():
    md = MinibatchDiscrimination(10, num_kernels=5, kernel_dim=3)
    h = torch.randn(6, 10)
    out = md(h)
    assert out.shape == (6, 15)
    torch.testing.assert_close(out[:, :10], h)
    h2 = h.clone()
    h2[1:] = torch.randn(5, 10)
    out2 = md(h2)
    torch.testing.assert_close(out2[0, :10], h[0])
    assert not torch.allclose(out2[0, 10:], out[0, 10:])


def test_minibatch_discrimination_identical_and_lone_samples():
    md = MinibatchDiscrimination(8, num_kernels=4, kernel_dim=2)
    same = torch.randn(1, 8).expand(5, 8)
    # Each sample is at distance 0 from the 4 others: o = sum_{j != i} exp(0) = N - 1.
    torch.testing.assert_close(md.statistics(same), torch.full((5, 4), 4.0))
    torch.testing.assert_close(md.statistics(torch.randn(1, 8)), torch.zeros(1, 4))


def test_minibatch_discrimination_on_maps_adds_constant_channels():
    md = MinibatchDiscrimination(3 * 4 * 4, num_kernels=2, kernel_dim=2)
    x = torch.randn(4, 3, 4, 4)
    out = md(x)
    assert out.shape == (4, 5, 4, 4)
    assert torch.all(out[:, 3:] == out[:, 3:, :1, :1])


@pytest.mark.parametrize("shape", [(8, 5), (8, 3, 4, 4)])
def test_minibatch_stddev_adds_one_channel(shape):
    layer = MinibatchStdDev(group_size=4)
    x = torch.randn(*shape)
    out = layer(x)
    assert out.shape == (shape[0], shape[1] + 1, *shape[2:])
    torch.testing.assert_close(out[:, : shape[1]], x)
    assert out[:, shape[1]].min() > 0.1
    same = layer(torch.randn(1, *shape[1:]).expand(*shape))
    assert same[:, shape[1]].abs().max() < 1e-3  # sqrt(0 + eps)


def test_minibatch_stddev_groups():
    x = torch.randn(6, 4)
    x[3:] = x[3]  # second group of 3 (largest divisor of 6 <= 4) is identical
    stat = MinibatchStdDev(group_size=4).statistics(x)
    assert stat.shape == (6, 1)
    assert torch.all(stat[:3] > 0.1) and torch.all(stat[3:] < 1e-3)
    assert torch.all(stat[:3] == stat[0])


def _power_iterate(model: nn.Module, x: torch.Tensor, steps: int = 20) -> None:
    model.train()
    with torch.no_grad():
        for _ in range(steps):
            model(x)


@pytest.mark.parametrize("arch,shape", [("dcgan", (3, 16, 16)), ("mlp", (2,))])
def test_spectral_norm_unit_singular_value(arch, shape):
    d = build_discriminator(arch, in_shape=shape, width=8, hidden=[32, 16], spectral_norm=True)
    wrapped = [m for m in d.modules() if parametrize.is_parametrized(m, "weight")]
    assert len(wrapped) == sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in d.modules()) > 0
    _power_iterate(d, torch.randn(8, *shape))
    d.eval()
    for m in wrapped:
        w = m.weight.detach()
        sigma = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), 2)
        assert abs(sigma.item() - 1.0) < 0.05


def test_apply_spectral_norm_is_idempotent():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
    apply_spectral_norm(apply_spectral_norm(model))
    assert len(model[0].parametrizations.weight) == 1


def test_init_dcgan_weights():
    model = init_dcgan_weights(nn.Sequential(nn.Conv2d(64, 64, 3), nn.BatchNorm2d(64), nn.Linear(500, 400)))
    assert abs(model[0].weight.std().item() - 0.02) < 0.002
    assert abs(model[1].weight.mean().item() - 1.0) < 0.01 and model[1].bias.abs().max() == 0
    assert model[2].bias.abs().max() == 0


def test_pack_samples():
    x = torch.arange(4 * 2 * 3 * 3, dtype=torch.float32).view(4, 2, 3, 3)
    packed = pack_samples(x, 2)
    assert packed.shape == (2, 4, 3, 3)
    torch.testing.assert_close(packed[1, 2:], x[3])
    assert pack_samples(torch.randn(6, 5), 3).shape == (2, 15)
    with pytest.raises(ConfigError, match="pack=2"):
        pack_samples(torch.randn(5, 5), 2)


def test_append_features():
    assert append_features(torch.zeros(2, 3), torch.ones(2, 4)).shape == (2, 7)
    out = append_features(torch.zeros(2, 3, 5, 5), torch.arange(4.0).expand(2, 4))
    assert out.shape == (2, 7, 5, 5)
    assert torch.all(out[:, 5] == 2.0)


@pytest.mark.parametrize("cls,shape", [(ConditionalBatchNorm1d, (6, 4)), (ConditionalBatchNorm2d, (6, 4, 3, 3))])
def test_conditional_batch_norm(cls, shape):
    cbn = cls(4, num_classes=3)
    x, y = torch.randn(*shape), torch.tensor([0, 1, 2, 0, 1, 2])
    plain = nn.BatchNorm1d(4) if len(shape) == 2 else nn.BatchNorm2d(4)
    torch.testing.assert_close(cbn(x, y), plain(x))  # gain 1, bias 0 at init
    with torch.no_grad():
        cbn.bias.weight[1] += 1.0
    delta = cbn(x, y) - plain(x)
    assert torch.allclose(delta[y == 1], torch.ones(())) and torch.allclose(delta[y != 1], torch.zeros(()))


def test_cond_sequential_routes_labels():
    seq = CondSequential(nn.Linear(3, 4), ConditionalBatchNorm1d(4, num_classes=2), nn.ReLU())
    assert seq(torch.randn(5, 3), torch.zeros(5, dtype=torch.long)).shape == (5, 4)


def test_projection_head():
    head = ProjectionHead(6, num_classes=3)
    h = torch.randn(4, 6)
    y = torch.tensor([0, 1, 2, 1])
    torch.testing.assert_close(head(h, y), (head.embed.weight[y] * h).sum(1))
