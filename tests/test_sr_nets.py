"""Tests for the super-resolution networks: SRResNet, ESPCN and the SRGAN discriminator."""
import inspect
import json

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.nn.srresnet import ESPCN, SR_NETS, SRDiscriminator, SRResidualBlock, SRResNet

GENERATORS = (SRResNet, ESPCN)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def srresnet(**kw):
    return SRResNet(**{"width": 8, "blocks": 2, **kw})


def espcn(**kw):
    return ESPCN(**{"width": 8, **kw})


def disc(**kw):
    return SRDiscriminator(**{"size": 16, "width": 4, **kw})


SMALL = {SRResNet: srresnet, ESPCN: espcn, SRDiscriminator: disc}


def count(net: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in net.modules())


def convs(net: nn.Module) -> list[nn.Conv2d]:
    return [m for m in net.modules() if isinstance(m, nn.Conv2d)]


def one_line_error(match: str, fn, *args, **kw) -> str:
    with pytest.raises(ConfigError, match=match) as info:
        fn(*args, **kw)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_registry():
    assert SR_NETS == {"SRResNet": SRResNet, "ESPCN": ESPCN, "SRDiscriminator": SRDiscriminator}


# --- generators: shapes and structure -----------------------------------------------------------

@pytest.mark.parametrize("cls", GENERATORS)
@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_output_shape_odd_sizes(cls, scale, channels):
    net = SMALL[cls](channels=channels, scale=scale)
    assert net.scale == scale and net.multiple == 1 and net.min_size == 1
    out = net(torch.randn(2, channels, 7, 5))
    assert out.shape == (2, channels, 7 * scale, 5 * scale)
    net.eval()  # (BatchNorm in train mode needs more than one value per channel)
    assert net(torch.randn(1, channels, 1, 1)).shape == (1, channels, scale, scale)


@pytest.mark.parametrize("scale, factors", [(2, [2]), (3, [3]), (4, [2, 2])])
def test_srresnet_upsampling_stages(scale, factors):
    net = srresnet(scale=scale)
    assert [m.upscale_factor for m in net.modules() if isinstance(m, nn.PixelShuffle)] == factors
    ups = [c for c in convs(net.tail)][:-1]
    assert [c.out_channels for c in ups] == [f * f * 8 for f in factors]
    assert all(c.kernel_size == (3, 3) for c in ups)


@pytest.mark.parametrize("blocks", [0, 1, 3])
def test_srresnet_block_count(blocks):
    net = srresnet(blocks=blocks)
    assert count(net, SRResidualBlock) == blocks
    assert count(net, nn.BatchNorm2d) == 2 * blocks + 1  # two per block plus the post-residual BN
    assert len(convs(net)) == 1 + 2 * blocks + 1 + 2 + 1  # head, blocks, post-residual, 2 up, last


def test_srresnet_layers():
    net = srresnet(channels=1)
    first, last = convs(net)[0], convs(net)[-1]
    assert (first.in_channels, first.out_channels, first.kernel_size) == (1, 8, (9, 9))
    assert (last.in_channels, last.out_channels, last.kernel_size) == (8, 1, (9, 9))
    assert list(net.tail)[-1] is last  # linear output: nothing after the final conv
    assert count(net, nn.Tanh) == 0 and count(net, nn.PReLU) == 1 + 2 + 2
    with torch.no_grad():
        last.weight.mul_(100.0)
    assert net(torch.randn(1, 1, 4, 4)).abs().max() > 1.0  # unbounded, not squashed to [-1, 1]


@pytest.mark.parametrize("bn", [True, False])
def test_srresnet_bn_option(bn):
    net = srresnet(bn=bn)
    assert count(net, nn.BatchNorm2d) == (5 if bn else 0)
    body_convs = convs(net.body)
    assert len(body_convs) == 5 and all((c.bias is None) == bn for c in body_convs)
    assert all(c.bias is not None for c in convs(net.head) + convs(net.tail))


def test_residual_skips():
    torch.manual_seed(1)
    block = SRResidualBlock(4, bn=True).eval()
    x = torch.randn(2, 4, 5, 5)
    assert not torch.allclose(block(x), x)
    with torch.no_grad():  # zero the branch's last BN: the block must become the identity
        block.body[-1].weight.zero_()
        block.body[-1].bias.zero_()
    assert torch.equal(block(x), x)
    net = srresnet(blocks=2).eval()
    x = torch.randn(1, 3, 6, 6)
    with torch.no_grad():  # zero the post-residual BN: output = tail(head(x)) only via the global skip
        net.body[-1].weight.zero_()
        net.body[-1].bias.zero_()
        expected = net.tail(net.head(x))
    assert torch.allclose(net(x), expected)


def test_espcn_layers():
    net = ESPCN(channels=3, scale=3, width=64)
    c = convs(net)
    assert [m.kernel_size for m in c] == [(5, 5), (3, 3), (3, 3)]
    assert [m.out_channels for m in c] == [64, 32, 27]
    assert count(net, nn.Tanh) == 2 and count(net, nn.BatchNorm2d) == 0
    assert [m.upscale_factor for m in net.modules() if isinstance(m, nn.PixelShuffle)] == [3]
    assert isinstance(list(net.model)[-1], nn.PixelShuffle)


@pytest.mark.parametrize("channels, scale, width", [(3, 4, 64), (1, 3, 64), (3, 2, 9), (1, 4, 2)])
def test_espcn_parameter_count(channels, scale, width):
    half, out = width // 2, channels * scale ** 2
    expected = (channels * width * 25 + width) + (width * half * 9 + half) + (half * out * 9 + out)
    net = ESPCN(channels=channels, scale=scale, width=width)
    assert sum(p.numel() for p in net.parameters()) == expected


# --- discriminator ------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [1, 3])
def test_discriminator_output(channels):
    net = disc(channels=channels)
    assert net.min_size == 16
    out = net(torch.randn(3, channels, 16, 16))
    assert out.shape == (3, 1) and out.dtype == torch.float32


def test_discriminator_layers():
    net = SRDiscriminator(size=32, width=4)
    c = convs(net)
    assert [m.out_channels for m in c] == [4, 4, 8, 8, 16, 16, 32, 32]
    assert [m.stride[0] for m in c] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert all(m.kernel_size == (3, 3) for m in c)
    assert count(net, nn.BatchNorm2d) == 7 and all(m.bias is None for m in c[1:]) and c[0].bias is not None
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(32 * 2 * 2, 1024), (1024, 1)]
    assert [m.negative_slope for m in net.modules() if isinstance(m, nn.LeakyReLU)] == [0.2] * 9
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 1)


def test_discriminator_no_bn():
    net = disc(bn=False)
    assert count(net, nn.BatchNorm2d) == 0 and all(m.bias is not None for m in convs(net))
    assert net(torch.randn(1, 3, 16, 16)).shape == (1, 1)  # works on one sample without BN


@pytest.mark.parametrize("shape", [(2, 3, 32, 32), (2, 3, 16, 15), (2, 3, 8, 8)])
def test_discriminator_wrong_size(shape):
    msg = one_line_error("expected", disc(), torch.randn(*shape))
    assert "16, 16" in msg and "size=16" in msg


@pytest.mark.parametrize("cls", [SRResNet, ESPCN, SRDiscriminator])
def test_wrong_channels(cls):
    net = SMALL[cls]()
    one_line_error(r"expected \(N, 3", net, torch.randn(2, 1, 16, 16))
    one_line_error("expected", net, torch.randn(3, 16, 16))


# --- argument checks and config -----------------------------------------------------------------

@pytest.mark.parametrize("cls, kw, match", [
    (SRResNet, {"scale": 8}, "scale=8 is invalid; use one of: 2, 3, 4"),
    (SRResNet, {"scale": 1}, "scale=1"),
    (SRResNet, {"scale": 2.0}, "scale=2.0"),
    (SRResNet, {"scale": True}, "scale=True"),
    (SRResNet, {"blocks": -1}, "blocks=-1"),
    (SRResNet, {"blocks": 1.5}, "blocks=1.5"),
    (SRResNet, {"width": 0}, "width=0"),
    (SRResNet, {"channels": 0}, "channels=0"),
    (SRResNet, {"bn": "yes"}, "bn='yes'"),
    (ESPCN, {"scale": 5}, "scale=5 is invalid; use one of: 2, 3, 4"),
    (ESPCN, {"width": 1}, r"width=1 is invalid; use an integer >= 2"),
    (ESPCN, {"channels": "3"}, "channels='3'"),
    (SRDiscriminator, {"size": 20}, "size=20 is invalid; use a multiple of 16"),
    (SRDiscriminator, {"size": 0}, "size=0 is invalid; use a multiple of 16"),
    (SRDiscriminator, {"size": 8}, "size=8"),
    (SRDiscriminator, {"size": 32.0}, "size=32.0"),
    (SRDiscriminator, {"width": 0}, "width=0"),
    (SRDiscriminator, {"bn": 1}, "bn=1"),
])
def test_invalid_arguments(cls, kw, match):
    one_line_error(match, SMALL[cls], **kw)


@pytest.mark.parametrize("cls, kw", [(SRResNet, {"scale": 3, "bn": False, "channels": 1}), (ESPCN, {"scale": 2}),
                                     (SRDiscriminator, {"bn": False})])
def test_config_rebuild(cls, kw):
    net = SMALL[cls](**kw).eval()
    assert set(net.config) == set(inspect.signature(cls).parameters)
    config = json.loads(json.dumps(net.config))
    assert config == net.config
    clone = SR_NETS[cls.__name__](**config).eval()
    assert not all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), clone.state_dict().values()))
    clone.load_state_dict(net.state_dict())
    size = 16 if cls is SRDiscriminator else 5
    x = torch.randn(2, net.config["channels"], size, size)
    with torch.no_grad():
        assert torch.equal(net(x), clone(x))


def test_config_defaults():
    assert SRResNet().config == dict(channels=3, scale=4, blocks=16, width=64, bn=True)
    assert ESPCN().config == dict(channels=3, scale=4, width=64)
    assert SRDiscriminator().config == dict(channels=3, size=96, width=64, bn=True)
    assert count(SRResNet(), SRResidualBlock) == 16


# --- gradients ----------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, kw", [(SRResNet, {}), (SRResNet, {"bn": False, "scale": 3}), (ESPCN, {}),
                                     (SRDiscriminator, {}), (SRDiscriminator, {"bn": False})])
def test_gradients_reach_every_parameter(cls, kw):
    net = SMALL[cls](**kw).train()
    if cls is SRDiscriminator:
        loss = nn.functional.binary_cross_entropy_with_logits(net(torch.randn(4, 3, 16, 16)), torch.ones(4, 1))
    else:
        out = net(torch.randn(2, 3, 6, 5))
        loss = (out - torch.randn_like(out)).pow(2).mean()
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
