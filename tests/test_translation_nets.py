"""Tests for the image-to-image networks: U-Net / ResNet generators and the PatchGAN discriminator."""
import json

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.nn.norms import NORMS, init_normal_, norm_layer, uses_bias
from gankit.nn.patchgan import PatchDiscriminator
from gankit.nn.resnet import ResidualBlock, ResNetGenerator
from gankit.nn.unet import UNetGenerator


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def unet(**kw):
    return UNetGenerator(**{"in_channels": 3, "out_channels": 3, "size": 32, "width": 8, **kw})


def resnet(**kw):
    return ResNetGenerator(**{"in_channels": 3, "out_channels": 3, "width": 8, "blocks": 2, **kw})


def count(net: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in net.modules())


def one_line_error(match: str, fn, *args, **kw) -> str:
    with pytest.raises(ConfigError, match=match) as info:
        fn(*args, **kw)
    assert "\n" not in str(info.value)
    return str(info.value)


# --- norms and init -----------------------------------------------------------------------------

def test_norm_layers_and_bias():
    assert NORMS == ("batch", "instance", "none")
    inst = norm_layer("instance", 4)
    assert isinstance(inst, nn.InstanceNorm2d) and not inst.affine and not inst.track_running_stats
    assert isinstance(norm_layer("batch", 4), nn.BatchNorm2d)
    assert isinstance(norm_layer("none", 4), nn.Identity)
    assert [uses_bias(k) for k in NORMS] == [False, True, True]
    msg = one_line_error("norm='layer'", norm_layer, "layer", 4)
    assert all(repr(k) in msg for k in NORMS)


def test_init_normal():
    net = nn.Sequential(nn.Conv2d(64, 64, 3), nn.BatchNorm2d(512), nn.ConvTranspose2d(64, 32, 4), nn.Linear(256, 64))
    init_normal_(net)
    for m in (net[0], net[2], net[3]):
        assert abs(m.weight.std().item() - 0.02) < 0.002 and abs(m.weight.mean().item()) < 0.002
        assert torch.all(m.bias == 0)
    assert abs(net[1].weight.mean().item() - 1) < 0.005 and abs(net[1].weight.std().item() - 0.02) < 0.005
    assert torch.all(net[1].bias == 0)


# --- U-Net ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [(1, 3), (3, 1), (3, 3)])
@pytest.mark.parametrize("hw", [(32, 32), (64, 96), (96, 32)])
def test_unet_shapes(channels, hw):
    net = unet(in_channels=channels[0], out_channels=channels[1])
    assert net.depth == 5 and net.multiple == 32  # size 32 -> 5 downsamplings; larger inputs are fine
    out = net(torch.randn(2, channels[0], *hw))
    assert out.shape == (2, channels[1], *hw)
    assert out.abs().max() <= 1  # tanh


@pytest.mark.parametrize("size,depth", [(256, 8), (128, 7), (64, 6), (32, 5), (48, 5), (2, 1), (1024, 8)])
def test_unet_depth(size, depth):
    net = UNetGenerator(1, 1, size=size, width=1, dropout=0.0)
    assert net.depth == depth == net.config["depth"] and net.multiple == 2 ** depth
    convs = [m for m in net.modules() if type(m) is nn.Conv2d]
    ups = [m for m in net.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(convs) == len(ups) == depth and all(c.stride == (2, 2) and c.kernel_size == (4, 4) for c in convs)
    assert max(c.out_channels for c in convs) == min(2 ** (depth - 1), 8)  # widths cap at 8 * width


def test_unet_256_architecture():
    net = UNetGenerator(3, 3, size=256, width=4)
    widths = [m.out_channels for m in net.modules() if type(m) is nn.Conv2d]
    assert widths == [4, 8, 16, 32, 32, 32, 32, 32]  # C64-C128-C256-C512-C512-C512-C512-C512 at width 64
    norms = [count(block, nn.BatchNorm2d) for block in net.down]
    assert norms == [0, 1, 1, 1, 1, 1, 1, 0]  # none on the first and the innermost layer
    dropout = [count(block, nn.Dropout) for block in net.up]
    assert dropout == [0, 0, 0, 0, 1, 1, 1, 0]  # the three decoder blocks after the bottleneck
    assert count(net, nn.Tanh) == 1 and count(net, nn.LeakyReLU) == 7
    assert net(torch.randn(1, 3, 256, 256)).shape == (1, 3, 256, 256)


def test_unet_rejects_bad_sizes():
    net = unet()
    msg = one_line_error("multiples of 32", net, torch.randn(1, 3, 32, 48))
    assert "(1, 3, 32, 48)" in msg
    one_line_error(r"expected \(N, 3, H, W\)", net, torch.randn(1, 1, 32, 32))


def test_unet_skip_connections():
    """With the bottleneck cut (innermost conv zeroed) the output still depends on the input."""
    net = unet(dropout=0.0).eval()
    with torch.no_grad():
        for p in net.down[-1].parameters():
            p.zero_()
        bottleneck = []
        net.down[-1].register_forward_hook(lambda m, i, o: bottleneck.append(o))
        a, b = net(torch.randn(1, 3, 32, 32)), net(torch.randn(1, 3, 32, 32))
    assert torch.equal(bottleneck[0], bottleneck[1])
    assert (a - b).abs().max() > 1e-3


def test_unet_gradients_are_local_through_outer_skip():
    """The outermost skip links each output pixel to its input neighbourhood strongly."""
    net = unet(dropout=0.0).eval()
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    net(x)[0, :, 16, 16].sum().backward()
    g = x.grad.abs().sum(dim=(0, 1))
    assert g[14:18, 14:18].sum() > g.sum() * 0.25  # a few pixels out of 1024 hold a big share


def test_unet_dropout_train_vs_eval():
    net, x = unet(), torch.randn(2, 3, 32, 32)
    assert count(net, nn.Dropout) == 3
    net.train()
    with torch.no_grad():
        assert not torch.allclose(net(x), net(x))
        net.eval()
        assert torch.equal(net(x), net(x))
    quiet = unet(dropout=0.0).train()
    with torch.no_grad():
        assert count(quiet, nn.Dropout) == 0 and torch.equal(quiet(x), quiet(x))


def test_unet_norms_and_bias():
    batch, inst = unet(), unet(norm="instance")
    assert count(batch, nn.BatchNorm2d) == 7 and count(batch, nn.InstanceNorm2d) == 0
    assert count(inst, nn.InstanceNorm2d) == 7 and count(inst, nn.BatchNorm2d) == 0
    out_layer = batch.up[0][1]
    convs = [m for m in batch.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m is not out_layer]
    assert all(c.bias is None for c in convs) and out_layer.bias is not None
    assert all(c.bias is not None for c in inst.modules() if isinstance(c, (nn.Conv2d, nn.ConvTranspose2d)))
    assert inst(torch.randn(1, 3, 32, 64)).shape == (1, 3, 32, 64)


def test_unet_depth_option():
    net = unet(size=64, depth=3)
    assert net.multiple == 8 and net(torch.randn(1, 3, 24, 40)).shape == (1, 3, 24, 40)
    one_line_error("depth=6 is too deep for size=32", unet, depth=6)


# --- ResNet ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [(1, 3), (3, 1)])
@pytest.mark.parametrize("hw", [(32, 32), (32, 48), (8, 12)])
def test_resnet_shapes(channels, hw):
    net = resnet(in_channels=channels[0], out_channels=channels[1])
    assert net.multiple == 4
    out = net(torch.randn(2, channels[0], *hw))
    assert out.shape == (2, channels[1], *hw) and out.abs().max() <= 1


def test_resnet_architecture():
    net = ResNetGenerator(3, 3, width=8)  # CycleGAN's default: 9 blocks, instance norm, reflect padding
    assert count(net, ResidualBlock) == 9 and count(resnet(blocks=6), ResidualBlock) == 6
    assert count(net, nn.InstanceNorm2d) == 3 + 2 * 9 + 2 and count(net, nn.BatchNorm2d) == 0
    assert count(net, nn.ReflectionPad2d) == 2 + 2 * 9
    strided = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    ups = [m for m in net.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in strided] == [16, 32] and [u.out_channels for u in ups] == [16, 8]
    assert all(u.output_padding == (1, 1) for u in ups)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert convs[0].kernel_size == convs[-1].kernel_size == (7, 7) and convs[-1].out_channels == 3
    assert count(resnet(blocks=0), ResidualBlock) == 0


def test_resnet_residual_block_is_identity_plus_body():
    block = ResidualBlock(8, "instance", 0.0, "reflect")
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        assert torch.allclose(block(x), x + block.body(x))
        block.body[-2].weight.zero_()
        block.body[-2].bias.zero_()
        assert torch.allclose(block(x), x)  # a zero residual branch passes the input through


def test_resnet_batch_norm_bias_and_padding():
    net = resnet(norm="batch", padding="zero")
    assert count(net, nn.BatchNorm2d) == 3 + 2 * 2 + 2 and count(net, nn.ReflectionPad2d) == 2
    final = net.model[-2]
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m is not final]
    assert all(m.bias is None for m in convs)
    assert final.bias is not None
    assert count(resnet(padding="replicate"), nn.ReplicationPad2d) == 2 * 2
    assert net(torch.randn(2, 3, 4, 8)).shape == (2, 3, 4, 8)  # zero padding works down to 4 px


def test_resnet_dropout_train_vs_eval():
    net, x = resnet(dropout=0.5), torch.randn(1, 3, 16, 16)
    assert count(net, nn.Dropout) == 2
    with torch.no_grad():
        assert not torch.allclose(net.train()(x), net(x))
        assert torch.equal(net.eval()(x), net(x))


def test_resnet_rejects_bad_sizes():
    net = resnet()
    msg = one_line_error("multiples of 4", net, torch.randn(1, 3, 30, 32))
    assert "(1, 3, 30, 32)" in msg
    one_line_error("at least 8", net, torch.randn(1, 3, 4, 8))


# --- PatchGAN -------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_layers,field", [(0, 1), (1, 16), (2, 34), (3, 70)])
def test_patchgan_receptive_field(n_layers, field):
    """The computed field equals the span of input pixels one interior logit depends on."""
    net = PatchDiscriminator(3, width=8, n_layers=n_layers).eval()  # eval: BN statistics couple no pixels
    assert net.receptive_field == field
    x = torch.randn(1, 3, 128, 128, requires_grad=True)
    out = net(x)
    i, j = out.shape[2] // 2, out.shape[3] // 2
    out[0, 0, i, j].backward()
    rows = x.grad.abs().sum(dim=(0, 1, 3)).nonzero().flatten()
    cols = x.grad.abs().sum(dim=(0, 1, 2)).nonzero().flatten()
    assert rows.max() - rows.min() + 1 == field and cols.max() - cols.min() + 1 == field


def test_patchgan_perturbation_is_local():
    net = PatchDiscriminator(1, width=8, n_layers=1).eval()
    x = torch.randn(1, 1, 64, 64)
    y = x.clone()
    y[0, 0, 31, 31] += 1.0
    with torch.no_grad():
        changed = (net(x) - net(y)).abs()[0, 0] > 0
    rows, cols = changed.any(dim=1).nonzero().flatten(), changed.any(dim=0).nonzero().flatten()
    # output stride 2: a field of 16 px overlaps a pixel from 16 / 2 = 8 output positions per axis
    assert len(rows) == len(cols) == 8 and changed.sum() == 64
    assert (rows.max() - rows.min() + 1) * 2 <= net.receptive_field


@pytest.mark.parametrize("channels", [1, 3, 6])
def test_patchgan_shapes(channels):
    net = PatchDiscriminator(channels, width=8)
    out = net(torch.randn(2, channels, 64, 96))
    assert out.shape == (2, 1, 6, 10) and out.dtype == torch.float32
    assert net(torch.randn(2, channels, 24, 24)).shape == (2, 1, 1, 1)  # the smallest input
    one_line_error("at least 24", net, torch.randn(2, channels, 23, 24))


def test_patchgan_logits_are_float_under_autocast():
    net = PatchDiscriminator(3, width=8, n_layers=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert net(torch.randn(2, 3, 32, 32)).dtype == torch.float32


def test_pixelgan():
    net = PatchDiscriminator(3, width=8, n_layers=0)
    assert all(m.kernel_size == (1, 1) for m in net.modules() if isinstance(m, nn.Conv2d))
    assert [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)] == [8, 16, 1]
    assert count(net, nn.BatchNorm2d) == 1
    assert net(torch.randn(2, 3, 17, 23)).shape == (2, 1, 17, 23)


def test_patchgan_norms_and_bias():
    batch, inst = PatchDiscriminator(3, width=8), PatchDiscriminator(3, width=8, norm="instance")
    convs = [m for m in batch.modules() if isinstance(m, nn.Conv2d)]
    assert [c.stride for c in convs] == [(2, 2)] * 3 + [(1, 1)] * 2
    assert [c.out_channels for c in convs] == [8, 16, 32, 64, 1]
    assert [c.bias is not None for c in convs] == [True, False, False, False, True]
    assert count(batch, nn.BatchNorm2d) == 3 and count(inst, nn.InstanceNorm2d) == 3
    assert all(c.bias is not None for c in inst.modules() if isinstance(c, nn.Conv2d))
    assert count(batch, nn.LeakyReLU) == 4
    wide = PatchDiscriminator(3, width=2, n_layers=5)
    assert max(m.out_channels for m in wide.modules() if isinstance(m, nn.Conv2d)) == 16  # cap 8 * width


# --- shared: config round trip and option checks --------------------------------------------------

NETS = [
    lambda: unet(in_channels=1, norm="instance", dropout=0.25),
    lambda: unet(size=64, depth=4),
    lambda: resnet(out_channels=1, norm="batch", dropout=0.5, padding="replicate"),
    lambda: PatchDiscriminator(6, width=8, n_layers=2, norm="none"),
    lambda: PatchDiscriminator(3, width=8, n_layers=0),
]


@pytest.mark.parametrize("make", NETS)
def test_config_rebuilds_the_network(make):
    net = make()
    config = json.loads(json.dumps(net.config))
    assert config == net.config
    twin = type(net)(**config)
    twin.load_state_dict(net.state_dict())  # strict: same parameters and buffers, same shapes
    assert str(twin) == str(net)
    x = torch.randn(1, net.config["in_channels"], 32, 32)
    with torch.no_grad():
        assert torch.equal(twin.eval()(x), net.eval()(x))


def test_config_holds_every_constructor_argument():
    import inspect
    for net in (unet(), resnet(), PatchDiscriminator(3)):
        assert set(net.config) == set(inspect.signature(type(net)).parameters)


@pytest.mark.parametrize("build,match", [
    (lambda: unet(norm="layer"), "norm='layer' is invalid; choose one of: 'batch', 'instance', 'none'"),
    (lambda: resnet(norm="bn"), "norm='bn' is invalid"),
    (lambda: PatchDiscriminator(3, norm="spectral"), "norm='spectral' is invalid"),
    (lambda: unet(in_channels=0), "in_channels=0 is invalid; use an integer >= 1"),
    (lambda: resnet(out_channels=2.5), "out_channels=2.5 is invalid"),
    (lambda: unet(width=0), "width=0 is invalid"),
    (lambda: unet(size=1), "size=1 is invalid; use an integer >= 2"),
    (lambda: unet(depth=0), "depth=0 is invalid"),
    (lambda: unet(dropout=1.0), r"dropout=1.0 is invalid; use a value in \[0, 1\)"),
    (lambda: resnet(blocks=-1), "blocks=-1 is invalid; use an integer >= 0"),
    (lambda: resnet(width=True), "width=True is invalid"),
    (lambda: resnet(padding="circular"), "padding='circular' is invalid; choose one of"),
    (lambda: PatchDiscriminator(3, n_layers=-1), "n_layers=-1 is invalid; use an integer >= 0"),
    (lambda: PatchDiscriminator(3, width=0), "width=0 is invalid"),
])
def test_bad_options(build, match):
    one_line_error(match, build)
