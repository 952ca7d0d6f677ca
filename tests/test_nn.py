"""Tests for the gankit.nn builders, registry and architectures."""
import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.nn import DISCRIMINATORS, GENERATORS, build_discriminator, build_generator

SIZES = (8, 16, 28, 32, 64)
SMALL = dict(hidden=[32, 16], width=8)  # fast networks; each arch ignores the option it has no use for


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def labels(n: int, num_classes: int) -> torch.Tensor:
    return torch.arange(n) % num_classes


def assert_all_grads(model: nn.Module, loss: torch.Tensor) -> None:
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"


def test_registry_keys():
    assert set(GENERATORS) == set(DISCRIMINATORS) == {"mlp", "dcgan"}


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [1, 3])
def test_image_shapes_and_range(arch, size, channels):
    shape = (channels, size, size)
    g = build_generator(arch, out_shape=shape, z_dim=16, **SMALL)
    d = build_discriminator(arch, in_shape=shape, **SMALL)
    assert (g.z_dim, g.out_shape, g.num_classes) == (16, shape, 0)
    x = g(torch.randn(4, 16) * 10)
    assert x.shape == (4, *shape)
    assert x.abs().max() <= 1.0
    assert d(x).shape == (4,)
    assert d.features(x).dim() == 2


def test_points_mlp():
    g = build_generator("mlp", out_shape=(2,), z_dim=8, **SMALL)
    d = build_discriminator("mlp", in_shape=(2,), **SMALL)
    x = g(torch.randn(64, 8) * 10)
    assert x.shape == (64, 2) and x.abs().max() > 1.0  # identity output for points
    assert d(x).shape == (64,)
    assert d.features(x).shape == (64, 16)


def test_out_activation_override():
    g = build_generator("mlp", out_shape=(2,), z_dim=8, out_activation="tanh", **SMALL)
    assert g(torch.randn(16, 8) * 10).abs().max() <= 1.0
    g = build_generator("mlp", out_shape=(1, 8, 8), z_dim=8, out_activation="none", **SMALL)
    assert g(torch.randn(16, 8) * 10).abs().max() > 1.0


def test_dcgan64_matches_canonical_parameter_counts():
    # pytorch/examples DCGAN, nz=100, ngf=ndf=64, nc=3; all convs bias-free, BN has gamma + beta.
    nz, ngf, ndf, nc = 100, 64, 64, 3
    g_convs = [(nz, 8 * ngf), (8 * ngf, 4 * ngf), (4 * ngf, 2 * ngf), (2 * ngf, ngf), (ngf, nc)]
    g_bns = [8 * ngf, 4 * ngf, 2 * ngf, ngf]
    expected_g = sum(i * o * 16 for i, o in g_convs) + sum(2 * c for c in g_bns)
    d_convs = [(nc, ndf), (ndf, 2 * ndf), (2 * ndf, 4 * ndf), (4 * ndf, 8 * ndf), (8 * ndf, 1)]
    d_bns = [2 * ndf, 4 * ndf, 8 * ndf]
    expected_d = sum(i * o * 16 for i, o in d_convs) + sum(2 * c for c in d_bns)
    assert (expected_g, expected_d) == (3576704, 2765568)
    g = build_generator("dcgan", out_shape=(3, 64, 64), z_dim=100, width=64, norm="bn")
    d = build_discriminator("dcgan", in_shape=(3, 64, 64), width=64, norm="bn", head="conv")
    assert n_params(g) == expected_g
    assert n_params(d) == expected_d


def test_dcgan_init():
    g = build_generator("dcgan", out_shape=(3, 32, 32), z_dim=100, width=64)
    conv = g.body[1]
    assert isinstance(conv, nn.ConvTranspose2d) and abs(conv.weight.std().item() - 0.02) < 0.002
    bn = g.body[2]
    assert abs(bn.weight.mean().item() - 1.0) < 0.01 and bn.bias.abs().max() == 0


@pytest.mark.parametrize("pool", ["avg", "max"])
@pytest.mark.parametrize("head", ["fc", "conv"])
def test_dcgan_pool_and_head(pool, head):
    d = build_discriminator("dcgan", in_shape=(1, 28, 28), width=8, pool=pool, head=head, norm="bn")
    assert not any(isinstance(m, nn.Conv2d) and m.stride == (2, 2) for m in d.trunk.modules())
    assert d(torch.randn(4, 1, 28, 28)).shape == (4,)
    assert d.features(torch.randn(4, 1, 28, 28)).shape == (4, 16 * 7 * 7)


# Every stabiliser / conditioning option, for the gradient-flow test.
D_VARIANTS = [
    dict(),
    dict(norm="bn", dropout=0.3),
    dict(norm="layer", spectral_norm=True),
    dict(minibatch_disc=5, minibatch_disc_dim=4, mbstd=True),
    dict(minibatch_disc=5, head="conv", pool="avg"),
    dict(num_classes=3, cond="concat", embed_dim=2),
    dict(num_classes=3, cond="projection", mbstd=True),
    dict(pack=2, num_classes=3),
]


@pytest.mark.parametrize("arch,shape", [("mlp", (2,)), ("mlp", (1, 8, 8)), ("dcgan", (3, 16, 16))])
@pytest.mark.parametrize("opts", D_VARIANTS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_discriminator_gradients_reach_all_parameters(arch, shape, opts):
    d = build_discriminator(arch, in_shape=shape, **SMALL, **opts)
    x = d.pack_input(torch.randn(8, *shape))
    y = labels(8, opts["num_classes"]) if "num_classes" in opts else None
    out = d(x, y)
    assert out.shape == (8 // d.pack,)
    assert_all_grads(d, out.sum())


@pytest.mark.parametrize("arch,shape", [("mlp", (2,)), ("dcgan", (1, 28, 28))])
@pytest.mark.parametrize("opts", [dict(), dict(norm="none"), dict(num_classes=3, cond="concat"),
                                  dict(num_classes=3, cond="cbn")], ids=str)
def test_generator_gradients_reach_all_parameters(arch, shape, opts):
    g = build_generator(arch, out_shape=shape, z_dim=8, **SMALL, **opts)
    y = labels(6, 3) if "num_classes" in opts else None
    assert_all_grads(g, g(torch.randn(6, 8), y).square().sum())


@pytest.mark.parametrize("arch,shape", [("mlp", (2,)), ("dcgan", (3, 8, 8))])
@pytest.mark.parametrize("cond", ["concat", "cbn"])
def test_conditional_generator_output_depends_on_label(arch, shape, cond):
    g = build_generator(arch, out_shape=shape, z_dim=8, num_classes=4, cond=cond, **SMALL)
    if cond == "cbn":  # per-class gains start equal; make them differ
        for m in g.modules():
            if hasattr(m, "gain"):
                nn.init.normal_(m.gain.weight, 1.0, 0.5)
    g.eval()
    z = torch.randn(4, 8)
    a, b = g(z, torch.zeros(4, dtype=torch.long)), g(z, torch.full((4,), 2))
    assert a.shape == (4, *shape)
    assert not torch.allclose(a, b)
    with pytest.raises(ConfigError, match="num_classes=4"):
        g(z)


@pytest.mark.parametrize("arch,shape", [("mlp", (2,)), ("dcgan", (3, 8, 8))])
@pytest.mark.parametrize("cond", ["concat", "projection"])
def test_conditional_discriminator_logit_differs_per_class(arch, shape, cond):
    d = build_discriminator(arch, in_shape=shape, num_classes=5, cond=cond, **SMALL).eval()
    x = torch.randn(1, *shape).expand(5, *shape)
    logits = d(x, torch.arange(5))
    assert logits.shape == (5,)
    assert len(set(logits.tolist())) == 5


def test_unconditional_networks_ignore_labels():
    g = build_generator("mlp", out_shape=(2,), z_dim=4, **SMALL).eval()
    z = torch.randn(3, 4)
    torch.testing.assert_close(g(z), g(z, torch.zeros(3, dtype=torch.long)))


@pytest.mark.parametrize("arch,shape,packed", [("dcgan", (3, 16, 16), (6, 16, 16)), ("mlp", (2,), (4,))])
def test_pack(arch, shape, packed):
    d = build_discriminator(arch, in_shape=shape, pack=2, num_classes=3, **SMALL).eval()
    x = d.pack_input(torch.randn(8, *shape))
    assert x.shape == (4, *packed)
    y = torch.tensor([0, 1, 1, 2, 2, 0, 0, 0])
    # labels per original sample: the first of each pack is used
    torch.testing.assert_close(d(x, y), d(x, y[::2]))
    with pytest.raises(ConfigError, match="pack=2"):
        d.pack_input(torch.randn(7, *shape))
    with pytest.raises(ConfigError, match="pack=2"):
        d(torch.randn(4, *shape), y[::2])  # unpacked input


@pytest.mark.parametrize("builder,kwargs,option", [
    (build_generator, dict(out_shape=(2,), z_dim=4, norm="layer"), "norm="),
    (build_generator, dict(out_shape=(2,), z_dim=4, cond="projection"), "cond="),
    (build_generator, dict(out_shape=(2,), z_dim=4, out_activation="sigmoid"), "out_activation="),
    (build_generator, dict(out_shape=(2,), z_dim=4, num_classes=3, cond="cbn", norm="none"), "cond='cbn'"),
    (build_generator, dict(out_shape=(2,), z_dim=0), "z_dim="),
    (build_generator, dict(out_shape=(2,), z_dim=4, hidden=[]), "hidden="),
    (build_discriminator, dict(in_shape=(2,), norm="group"), "norm="),
    (build_discriminator, dict(in_shape=(2,), pool="sum"), "pool="),
    (build_discriminator, dict(in_shape=(2,), head="linear"), "head="),
    (build_discriminator, dict(in_shape=(2,), cond="cbn"), "cond="),
    (build_discriminator, dict(in_shape=(2,), pack=0), "pack="),
    (build_discriminator, dict(in_shape=(2,), dropout=1.0), "dropout="),
])
def test_invalid_options_name_the_option(builder, kwargs, option):
    with pytest.raises(ConfigError, match=option) as err:
        builder("mlp", **kwargs)
    assert "\n" not in str(err.value)


def test_unknown_arch_suggests_closest():
    with pytest.raises(ConfigError, match=r"arch='dcgn'.*did you mean 'dcgan'.*'mlp'"):
        build_generator("dcgn", out_shape=(2,), z_dim=4)
    with pytest.raises(ConfigError, match=r"arch='resnet'.*choose one of"):
        build_discriminator("resnet", in_shape=(2,))


@pytest.mark.parametrize("shape", [(3, 30, 30), (3, 32, 16), (2,)])
def test_dcgan_unsupported_size(shape):
    with pytest.raises(ConfigError, match="8, 16, 28, 32, 64"):
        build_generator("dcgan", out_shape=shape, z_dim=4)
    with pytest.raises(ConfigError, match="in_shape="):
        build_discriminator("dcgan", in_shape=shape)


def test_categorical_latent_is_uniform_one_hot_and_keeps_the_rest_of_z():
    from gankit.nn.base import categorical_latent
    z = torch.randn(40000, 5, generator=torch.Generator().manual_seed(0))
    out = categorical_latent(z, 4)
    assert out.shape == (40000, 8) and torch.equal(out[:, :4], z[:, 1:])
    onehot = out[:, 4:]
    assert torch.equal(onehot.sum(1), torch.ones(40000))
    freq = onehot.mean(0)
    assert torch.allclose(freq, torch.full((4,), 0.25), atol=0.01)
    quartiles = torch.tensor([-0.6745, 0.0, 0.6745])  # of N(0, 1)
    clear = (z[:, :1] - quartiles).abs().min(1).values > 1e-3
    assert torch.equal(onehot.argmax(1)[clear], torch.bucketize(z[clear, 0], quartiles))


@pytest.mark.parametrize("arch, shape", [("mlp", (2,)), ("dcgan", (1, 16, 16))])
def test_generator_with_a_categorical_latent_jumps_between_categories(arch, shape):
    """z_cat: samples that differ only in z's first coordinate within one category are identical; across
    categories they differ. Zero z_dim left over is refused."""
    torch.manual_seed(0)
    g = build_generator(arch, out_shape=shape, z_dim=6, z_cat=3, hidden=[16], width=8).eval()
    z = torch.randn(1, 6).repeat(3, 1)
    z[:, 0] = torch.tensor([-2.0, -1.0, 2.0])  # categories 0, 0, 2
    with torch.no_grad():
        out = g(z)
    assert torch.equal(out[0], out[1]) and not torch.allclose(out[0], out[2])
    with pytest.raises(ConfigError, match="z_dim >= 2"):
        build_generator(arch, out_shape=shape, z_dim=1, z_cat=3, hidden=[16], width=8)
