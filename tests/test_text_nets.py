"""The text-to-image networks (GAN-INT-CLS): caption encoder, image encoder and their contrastive joint
embedding, conditioning augmentation, the text-conditioned generator and the matching-aware discriminator."""
import inspect
import json
import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gankit.errors import CheckpointError, ConfigError
from gankit.nn.text import (TEXT_NETS, ConditioningAugmentation, ImageEncoder, JointEmbedding,
                            MatchingAwareDiscriminator, TextConditionedGenerator, TextEncoder, contrastive_loss,
                            similarity)
from gankit.nn.translation import TRANSLATION_NETS, build_from_spec, network_spec

torch.set_num_threads(1)
SMALL_G = dict(z_dim=8, text_dim=6, cond_dim=5, width=4)
SMALL_D = dict(width=4, text_dim=6, proj_dim=5)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def captions(*rows, pad=0):
    """Token ids (N, max length + pad), right-padded with 0, and the lengths (N,)."""
    width = max(map(len, rows)) + pad
    tokens = torch.tensor([list(r) + [0] * (width - len(r)) for r in rows])
    return tokens, torch.tensor([len(r) for r in rows])


def one_line_error(match, fn, *args, **kw):
    with pytest.raises(ConfigError, match=match) as info:
        fn(*args, **kw)
    assert "\n" not in str(info.value)


# --- caption and image encoders -----------------------------------------------------------------------

def test_text_encoder_ignores_the_padding_but_not_the_words():
    enc = TextEncoder(20, embed_dim=8, hidden=8, out_dim=6, layers=2).eval()
    with torch.no_grad():
        short = enc(*captions([5, 3, 7], [4, 9]))
        padded = enc(*captions([5, 3, 7], [4, 9], pad=5))
        assert short.shape == (2, 6) and short.dtype == torch.float32
        assert torch.allclose(short, padded, atol=1e-6)
        tokens, length = captions([5, 3, 7], [4, 9], pad=3)
        tokens[1, 2:] = 11  # garbage after the end is never read: the GRU runs on the packed captions
        assert torch.allclose(enc(tokens, length), short, atol=1e-6)
        alone = enc(*captions([4, 9]))  # each caption on its own
        assert torch.allclose(alone, short[1:], atol=1e-6)
        other = enc(*captions([7, 3, 5], [4, 8]))  # word order (bidirectional) and content matter
        assert (other - short).abs().amax(1).min() > 1e-3


@pytest.mark.parametrize("tokens, length, match", [
    (torch.tensor([[1, 2, 0]]), torch.tensor([0]), r"lengths run from 0 to 0; each must be in \[1, 3\]"),
    (torch.tensor([[1, 2, 0]]), torch.tensor([4]), r"lengths run from 4 to 4; each must be in \[1, 3\]"),
    (torch.tensor([[1, 20, 0]]), torch.tensor([2]), r"token ids run from 0 to 20; expected ids in \[0, 19\]"),
    (torch.tensor([[1, -1, 0]]), torch.tensor([2]), r"token ids run from -1 to 1"),
    (torch.tensor([[1.0, 2.0]]), torch.tensor([2]), r"tokens have shape \(1, 2\) \(torch.float32\); expected \(N, L\)"),
    (torch.tensor([1, 2]), torch.tensor([2]), r"tokens have shape \(2,\)"),
    (torch.tensor([[1, 2]]), torch.tensor([2, 1]), r"length has shape \(2,\) \(torch.int64\); expected \(1,\)"),
])
def test_text_encoder_bad_input(tokens, length, match):
    one_line_error(match, TextEncoder(20, 4, 4, 4), tokens, length)


@pytest.mark.parametrize("channels, size", [(1, 16), (3, 32), (1, 64)])
def test_image_encoder_shapes(channels, size):
    enc = ImageEncoder(channels, size, width=4, out_dim=7)
    out = enc(torch.rand(3, channels, size, size) * 2 - 1)
    assert out.shape == (3, 7) and out.dtype == torch.float32
    convs = [m for m in enc.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == int(math.log2(size // 4)) and convs[-1].out_channels == 32  # down to 4x4 x 8 x width
    with torch.no_grad():  # per-sample normalisation: no batch statistics
        ones = torch.ones(2, channels, size, size)
        assert torch.allclose(enc(ones)[0], enc(ones[:1])[0])
    one_line_error(rf"ImageEncoder images have shape \(3, {channels}, 8, 8\); "
                   rf"expected \(N, {channels}, {size}, {size}\)", enc, torch.zeros(3, channels, 8, 8))


# --- contrastive loss and joint embedding -----------------------------------------------------------

def test_similarity_is_the_cosine_matrix():
    t, i = torch.randn(3, 5), torch.randn(4, 5)
    expected = torch.nn.functional.cosine_similarity(t[:, None], i[None], dim=2)
    assert torch.allclose(similarity(t, i), expected, atol=1e-6)
    one_line_error("embeddings have shapes", similarity, t, torch.randn(4, 6))


def test_contrastive_loss_by_hand():
    t, i = torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    s = 1 / math.sqrt(2) / 0.5  # cosine of caption 1 with both images, over the temperature
    text_to_image = (math.log(1 + math.exp(-2)) + math.log(2)) / 2  # logits rows (2, 0), (s, s)
    image_to_text = (math.log(1 + math.exp(s - 2)) + math.log(1 + math.exp(-s))) / 2  # columns (2, s), (0, s)
    expected = (text_to_image + image_to_text) / 2
    assert contrastive_loss(t, i, 0.5).item() == pytest.approx(expected, abs=1e-6)
    assert contrastive_loss(3 * t, 0.1 * i, torch.tensor(0.5)).item() == pytest.approx(expected, abs=1e-6)
    one_line_error("temperature=0.0 is invalid", contrastive_loss, t, i, 0.0)
    one_line_error("paired embeddings of equal shape", contrastive_loss, t, i[:1], 0.1)
    hard = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # image 0's extra wrong caption: cosine 0; image 1's: 0
    with_hard = (math.log(1 + math.exp(s - 2) + math.exp(-2)) + math.log(1 + math.exp(-s) + math.exp(-s))) / 2
    assert contrastive_loss(t, i, 0.5, hard).item() == pytest.approx((text_to_image + with_hard) / 2, abs=1e-6)


def test_contrastive_loss_prefers_matched_pairs():
    t = torch.randn(8, 16)
    i = t + 0.3 * torch.randn(8, 16)
    matched = contrastive_loss(t, i, 0.1)
    shuffled = contrastive_loss(t, i[torch.roll(torch.arange(8), 1)], 0.1)
    assert matched < 0.1 < math.log(8) < shuffled


def retrieval_accuracy(model, images, tokens, length):
    with torch.no_grad():
        sim = similarity(model.text(tokens, length), model.image(images))
    target = torch.arange(len(sim))
    return min((sim.argmax(1) == target).float().mean().item(), (sim.argmax(0) == target).float().mean().item())


def test_joint_embedding_learns_to_retrieve():
    """4 captions over 2 attributes ("red/blue square/circle") -> 4 image patterns (quadrants); noisy
    images and varying padding. A few Adam steps give 100 % retrieval in both directions."""
    model = JointEmbedding(vocab_size=8, channels=1, size=16, embed_dim=8, hidden=16, width=4, out_dim=16)
    assert model.temperature.item() == pytest.approx(0.07)
    rows = [[2, 4], [3, 4], [2, 5], [3, 5]]  # (red|blue) (square|circle), also in the reverse order below
    patterns = torch.full((4, 1, 16, 16), -1.0)
    for k, (y, x) in enumerate([(0, 0), (0, 8), (8, 0), (8, 8)]):
        patterns[k, :, y:y + 8, x:x + 8] = 1.0
    tokens, length = captions(*rows, pad=2)
    model.eval()
    assert retrieval_accuracy(model, patterns, tokens, length) < 1
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(1)
    for step in range(60):
        images = patterns + 0.3 * torch.randn(patterns.shape, generator=gen)
        loss = model(images, *captions(*rows, pad=step % 3))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert retrieval_accuracy(model, patterns, tokens, length) == 1.0
    assert model(patterns, tokens, length).item() < 0.1
    assert model.logit_scale.grad is not None


# --- conditioning augmentation --------------------------------------------------------------------

def test_conditioning_augmentation_kl_and_noise():
    ca = ConditioningAugmentation(3, 4)
    nn.init.zeros_(ca.fc.weight)
    nn.init.zeros_(ca.fc.bias)  # mu = 0, logvar = 0: the prior itself
    e = torch.randn(5, 3)
    c, kl = ca(e, torch.Generator().manual_seed(7))
    assert kl.item() == 0 and c.shape == (5, 4)
    assert torch.equal(c, torch.randn(5, 4, generator=torch.Generator().manual_seed(7)))  # c = eps
    with torch.no_grad():
        ca.fc.bias[:4] = 1.0  # mu = 1, logvar = 0: KL = 1/2 per dimension
        ca.fc.bias[4:] = math.log(4.0)  # sigma = 2: KL = (1 + 4 - 1 - log 4) / 2 per dimension
    c, kl = ca(e, torch.Generator().manual_seed(7))
    assert kl.item() == pytest.approx(4 * (4 - math.log(4)) / 2)
    assert torch.allclose(c, 1 + 2 * torch.randn(5, 4, generator=torch.Generator().manual_seed(7)))
    assert not torch.equal(ca(e)[0], ca(e)[0])  # the global RNG, fresh noise each call
    ca.eval()
    (c1, kl1), (c2, _) = ca(e), ca(e)
    assert torch.equal(c1, c2) and torch.equal(c1, torch.ones(5, 4)) and kl1.item() == kl.item()  # eval: c = mu


# --- generator and discriminator -----------------------------------------------------------------

def all_get_gradients(net):
    return all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
               for p in net.parameters())


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("ca", [True, False])
def test_generator_shapes_gradients_and_kl(size, channels, ca):
    g = TextConditionedGenerator(**SMALL_G, channels=channels, size=size, ca=ca)
    z, e = torch.randn(3, 8), torch.randn(3, 6)
    images, kl = g(z, e)
    assert images.shape == (3, channels, size, size) and images.dtype == torch.float32
    assert images.abs().max() <= 1  # tanh
    assert kl.shape == () and (kl.item() > 0 if ca else kl.item() == 0)
    (images.square().mean() + kl).backward()
    assert all_get_gradients(g)
    with torch.no_grad():
        same = g(z, e, torch.Generator().manual_seed(1))[0], g(z, e, torch.Generator().manual_seed(1))[0]
        other = g(z, 2 * e, torch.Generator().manual_seed(1))[0]
        assert torch.equal(*same) and (same[0] - other).abs().max() > 1e-4  # the text matters (float noise: 1e-7)
        g.eval()
        assert torch.equal(g(z, e)[0], g(z, e)[0])  # eval: CA gives mu, BN its running statistics


def test_generator_geometry_and_ca_noise():
    for size, ups in [(16, 3), (32, 4), (64, 5), (128, 6)]:
        g = TextConditionedGenerator(**SMALL_G, size=size)
        convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
        assert len(convs) == ups and convs[0].out_channels == 32  # 4x4 x 8 x width, then up to `size`
        assert [c.out_channels for c in convs[1:-1]] == [max(32 >> k, 4) for k in range(1, ups - 1)]
    g = TextConditionedGenerator(**SMALL_G, size=16)
    z, e = torch.randn(2, 8), torch.randn(2, 6)
    a, b = g(z, e, torch.Generator().manual_seed(3))[0], g(z, e, torch.Generator().manual_seed(3))[0]
    assert torch.equal(a, b) and not torch.equal(a, g(z, e, torch.Generator().manual_seed(4))[0])


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("projection", [False, True])
def test_discriminator_shapes_and_gradients(size, channels, projection):
    d = MatchingAwareDiscriminator(channels=channels, size=size, **SMALL_D, projection=projection)
    assert d.config["norm"] == "bn"
    x, e = torch.rand(4, channels, size, size) * 2 - 1, torch.randn(4, 6)
    logits = d(x, e)
    assert logits.shape == (4, 1) and logits.dtype == torch.float32
    logits.sum().backward()
    assert all_get_gradients(d)
    d.eval()
    with torch.no_grad():  # it scores the pair: the same image with another caption scores differently
        assert (d(x, e) - d(x, e.flip(0))).abs().min() > 1e-6


@pytest.mark.parametrize("projection", [False, True])
def test_discriminator_scores_several_captions_from_one_trunk_pass(projection):
    """D(x, e1, e2) gives what D(x, e1) and D(x, e2) give (train-mode BatchNorm included), with one trunk pass."""
    torch.manual_seed(0)
    d = MatchingAwareDiscriminator(size=16, **SMALL_D, projection=projection)
    x, e1, e2 = torch.rand(4, 1, 16, 16) * 2 - 1, torch.randn(4, 6), torch.randn(4, 6)
    passes = []
    d.trunk.register_forward_hook(lambda *_: passes.append(1))
    both = d(x, e1, e2)
    assert isinstance(both, tuple) and len(both) == 2 and len(passes) == 1
    torch.testing.assert_close(both, (d(x, e1), d(x, e2)))
    assert not torch.allclose(both[0], both[1])
    one_line_error(r"MatchingAwareDiscriminator text embedding has shape \(4, 5\)", d, x, e1, torch.randn(4, 5))


def test_discriminator_with_spectral_norm():
    d = MatchingAwareDiscriminator(channels=3, size=32, **SMALL_D, spectral_norm=True, projection=True)
    assert d.config["norm"] == "none" and not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    weighted = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weighted) == 7 and all(parametrize.is_parametrized(m, "weight") for m in weighted)
    x, e = torch.randn(2, 3, 32, 32), torch.randn(2, 6)
    for _ in range(10):  # power iterations
        d(x, e)
    for m in weighted:
        assert torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2).item() == pytest.approx(1, abs=0.05)
    unnormalised = MatchingAwareDiscriminator(channels=3, size=32, **SMALL_D, norm="layer")
    assert not any(parametrize.is_parametrized(m) for m in unnormalised.modules())
    assert sum(isinstance(m, nn.GroupNorm) for m in unnormalised.modules()) == 3  # not on the first conv


@pytest.mark.parametrize("build, match", [
    (lambda: TextConditionedGenerator(size=48), r"size=48 is invalid; use a power of two >= 16"),
    (lambda: MatchingAwareDiscriminator(size=8), r"size=8 is invalid; use an integer >= 16"),
    (lambda: ImageEncoder(size=100), r"size=100 is invalid; use a power of two"),
    (lambda: TextConditionedGenerator(ca="yes"), r"ca='yes' is invalid; use true or false"),
    (lambda: MatchingAwareDiscriminator(norm="batch"), r"norm='batch' is invalid; choose one of: 'auto', 'none'"),
    (lambda: MatchingAwareDiscriminator(spectral_norm=1), r"spectral_norm=1 is invalid"),
    (lambda: TextEncoder(1), r"vocab_size=1 is invalid; use an integer >= 2"),
    (lambda: ConditioningAugmentation(4, 0), r"out_dim=0 is invalid"),
    (lambda: JointEmbedding(10, width=0), r"width=0 is invalid"),
])
def test_bad_options(build, match):
    one_line_error(match, build)


def test_bad_inputs():
    g = TextConditionedGenerator(**SMALL_G, size=16)
    d = MatchingAwareDiscriminator(size=16, **SMALL_D)
    z, e, x = torch.randn(2, 8), torch.randn(2, 6), torch.randn(2, 1, 16, 16)
    one_line_error(r"TextConditionedGenerator text embedding has shape \(2, 7\) \(torch.float32\); "
                   r"expected float \(2, 6\)", g, z, torch.randn(2, 7))
    one_line_error(r"text embedding has shape \(3, 6\)", g, z, torch.randn(3, 6))
    one_line_error(r"TextConditionedGenerator z has shape \(2, 8, 1, 1\)", g, z[..., None, None], e)
    one_line_error(r"MatchingAwareDiscriminator text embedding has shape \(2, 5\)", d, x, torch.randn(2, 5))
    one_line_error(r"text embedding has shape \(2, 6\) \(torch.int64\)", d, x, e.long())
    one_line_error(r"MatchingAwareDiscriminator images have shape \(2, 3, 16, 16\); expected \(N, 1, 16, 16\)",
                   d, torch.randn(2, 3, 16, 16), e)
    one_line_error(r"expected \(N, 1, 16, 16\)", d, torch.randn(2, 1, 32, 32), e)


# --- self-description ---------------------------------------------------------------------------------

def inputs(net):
    """Example inputs for each registered network."""
    tokens, length = captions([3, 4, 5], [6, 2], pad=1)
    images = torch.rand(2, net.config.get("channels", 1), net.config.get("size", 16), net.config.get("size", 16))
    return {"TextEncoder": (tokens, length), "ImageEncoder": (images,), "JointEmbedding": (images, tokens, length),
            "TextConditionedGenerator": (torch.randn(2, 8), torch.randn(2, 6)),
            "MatchingAwareDiscriminator": (images, torch.randn(2, 6))}[type(net).__name__]


NETS = [lambda: TextEncoder(10, 4, 6, 5, layers=2), lambda: ImageEncoder(3, 32, 4, 5),
        lambda: JointEmbedding(10, channels=3, size=16, embed_dim=4, hidden=4, width=2, out_dim=5),
        lambda: TextConditionedGenerator(**SMALL_G, channels=3, size=32, ca=True),
        lambda: TextConditionedGenerator(**SMALL_G, size=16, ca=False),
        lambda: MatchingAwareDiscriminator(channels=3, size=32, **SMALL_D, spectral_norm=True, projection=True),
        lambda: MatchingAwareDiscriminator(size=16, **SMALL_D)]


@pytest.mark.parametrize("make", NETS)
def test_the_self_description_rebuilds_the_network(make):
    net = make()
    assert set(net.config) == set(inspect.signature(type(net)).parameters)
    spec = json.loads(json.dumps(network_spec(net)))
    twin = build_from_spec(spec)
    assert type(twin) is type(net) and twin.config == net.config
    twin.load_state_dict(net.state_dict())  # strict: same parameters and buffers
    args = inputs(net)
    with torch.no_grad():
        a, b = net.eval()(*args), twin.eval()(*args)
    for u, v in zip(*((a, b) if isinstance(a, tuple) else ((a,), (b,)))):
        assert torch.equal(u, v)


def test_registry():
    assert set(TEXT_NETS) == {"TextEncoder", "ImageEncoder", "TextConditionedGenerator",
                              "MatchingAwareDiscriminator", "JointEmbedding"}
    assert all(TRANSLATION_NETS[k] is v for k, v in TEXT_NETS.items())
    with pytest.raises(CheckpointError, match="cannot rebuild network 'TextEncoder'.*vocab_size=0 is invalid"):
        build_from_spec({"class": "TextEncoder", "config": {"vocab_size": 0}})


def test_fusion_starts_as_the_plain_generator_and_learns_per_block_modulation():
    torch.manual_seed(0)
    g = TextConditionedGenerator(**SMALL_G, size=16, ca=False, fusion=True).eval()
    bns = [m for m in g.model if isinstance(m, nn.BatchNorm2d)]
    assert len(g.affines) == len(bns) and [a.out_features for a in g.affines] == [2 * b.num_features for b in bns]
    z, e = torch.randn(3, 8), torch.randn(3, 6)
    images, _ = g(z, e)
    plain = g.model(torch.cat([z, g.condition(e)], 1))  # zero-initialised affines: the plain path exactly
    assert torch.equal(images, plain)
    images.square().mean().backward()
    assert all(a.weight.grad.abs().sum() > 0 for a in g.affines)
    rebuilt = build_from_spec(network_spec(g), "test")
    rebuilt.load_state_dict(g.state_dict())
    assert rebuilt.config["fusion"] is True and torch.equal(rebuilt.eval()(z, e)[0], images)
    old = network_spec(TextConditionedGenerator(**SMALL_G, size=16))
    del old["config"]["fusion"]  # a checkpoint written before the option: rebuilds as the plain G
    assert build_from_spec(old, "test").affines is None
    with pytest.raises(ConfigError, match="fusion='on' is invalid"):
        TextConditionedGenerator(fusion="on")


def test_spatial_fusion_modulates_each_place_of_the_small_maps_with_its_own_gamma_and_beta():
    """spatial=8 at 32 px: the 4x4 and 8x8 maps get (C, side, side) modulation, the 16x16 one a per-channel one;
    zero-initialised, G starts as the plain one; a modulation that silences one place of the 4x4 map changes
    only the output pixels that place reaches (ConvT receptive field), not the far corner."""
    torch.manual_seed(0)
    g = TextConditionedGenerator(**SMALL_G, size=32, ca=False, fusion=True, spatial=8).eval()
    bns = [m for m in g.model if isinstance(m, nn.BatchNorm2d)]
    assert g.places == [4, 8, 1]
    assert [a.out_features for a in g.affines] == [2 * b.num_features * p * p for b, p in zip(bns, g.places)]
    z, e = torch.randn(2, 8), torch.randn(2, 6)
    before, _ = g(z, e)
    assert torch.equal(before, g.model(torch.cat([z, g.condition(e)], 1)))
    c = bns[0].num_features
    with torch.no_grad():  # gamma = -1 (the map times 0) at place (0, 0) of the 4x4 map, for any caption
        g.affines[0].bias.view(2, c, 4, 4)[0, :, 0, 0] = -1.0
        after, _ = g(z, e)
    changed = (after - before).abs().amax((0, 1)) > 0
    assert changed[:4, :4].all() and not changed[20:, 20:].any()
    rebuilt = build_from_spec(network_spec(g), "test")
    rebuilt.load_state_dict(g.state_dict())
    assert rebuilt.config["spatial"] == 8 and torch.equal(rebuilt.eval()(z, e)[0], after)
    old = network_spec(TextConditionedGenerator(**SMALL_G, size=16, fusion=True))
    del old["config"]["spatial"]  # a checkpoint written before the option
    assert build_from_spec(old, "test").places == [1, 1]  # the same modulation everywhere
    with pytest.raises(ConfigError, match="needs fusion=true"):
        TextConditionedGenerator(**SMALL_G, size=16, spatial=4)


def test_word_attention_starts_as_the_plain_generator_and_binds_places_to_words():
    """attention=8 at 32 px: WordAttention on the 4x4 and 8x8 maps, none on 16x16; zero-initialised, G starts as
    without it; it needs the words; padding never matters; a place reads the words, so changing one word's
    features changes the image; the spec round trip and an older spec (no attention)."""
    torch.manual_seed(0)
    enc = TextEncoder(12, embed_dim=4, hidden=3, out_dim=6).eval()
    g = TextConditionedGenerator(**SMALL_G, size=32, ca=False, fusion=True, attention=8, word_dim=6).eval()
    assert [type(a).__name__ for a in g.attends] == ["WordAttention", "WordAttention", "Identity"]
    tokens, length = captions([5, 3, 7], [4, 9])
    text = enc.encode(tokens, length)
    assert text.words.shape == (2, 3, 6) and torch.equal(text.sentence, enc(tokens, length))
    assert torch.equal(text.bias, torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, -math.inf]]))
    assert torch.equal(text.words[1, 2], torch.zeros(6))
    z = torch.randn(2, 8)
    before, _ = g(z, *text.inputs())
    plain = TextConditionedGenerator(**SMALL_G, size=32, ca=False, fusion=True).eval()
    plain.load_state_dict(g.state_dict(), strict=False)
    assert torch.equal(before, plain(z, text.sentence)[0])
    one_line_error("needs the caption's word features", g, z, text.sentence)
    one_line_error(r"words have shape \(2, 3, 5\)", g, z, text.sentence, None, text.words[..., :5], text.bias)
    with torch.no_grad():
        for a in g.attends[:2]:
            nn.init.normal_(a.out.weight)
        after, _ = g(z, *text.inputs())
        padded = enc.encode(*captions([5, 3, 7], [4, 9], pad=4))
        assert torch.allclose(g(z, *padded.inputs())[0], after, atol=1e-5)  # padding weighs nothing
        words = text.words.clone()
        words[0, 1] += 1.0
        moved, _ = g(z, text.sentence, None, words, text.bias)
    assert not torch.allclose(after, before) and not torch.allclose(moved[0], after[0])
    assert torch.equal(moved[1], after[1])
    rebuilt = build_from_spec(network_spec(g), "test")
    rebuilt.load_state_dict(g.state_dict())
    assert rebuilt.config["attention"] == 8 and torch.equal(rebuilt.eval()(z, *text.inputs())[0], after)
    old = network_spec(TextConditionedGenerator(**SMALL_G, size=16))
    del old["config"]["attention"], old["config"]["word_dim"]  # a checkpoint written before the option
    assert build_from_spec(old, "test").attends is None


def test_text_embeddings_blend_sentences_and_weigh_each_captions_words():
    from gankit.nn.word_attention import TextEmbedding, WordAttention

    enc = TextEncoder(12, embed_dim=4, hidden=3, out_dim=6).eval()
    with torch.no_grad():
        a, b = enc.encode(*captions([5, 3, 7])), enc.encode(*captions([4, 9]))
    mixed = TextEmbedding.lerp(a, b, torch.tensor([[0.0], [0.25], [1.0]]).expand(3, 1)[:1])
    assert mixed.words.shape == (1, 5, 6) and torch.equal(mixed.bias[0, 3:], torch.full((2,), -math.inf))
    half = TextEmbedding.lerp(a, b, 0.5)
    assert torch.allclose(half.sentence, (a.sentence + b.sentence) / 2)
    assert torch.allclose(half.bias, torch.full((1, 5), math.log(0.5)))
    joined = TextEmbedding.cat([a, b])  # b padded to a's 3 words
    assert joined.words.shape == (2, 3, 6) and joined.bias[1, 2] == -math.inf and len(joined) == 2
    attend = WordAttention(channels=3, word_dim=6, dim=4)
    h = torch.randn(1, 3, 2, 2)
    w = attend.weights(h, half.words, half.bias)
    assert torch.allclose(w.sum(-1), torch.ones(1, 4))
    w_a = attend.weights(h, a.words, a.bias)  # with t = 0, b's words weigh nothing
    assert torch.allclose(attend.weights(h, mixed.words, mixed.bias)[..., :3], w_a, atol=1e-6)
    assert torch.equal(TextEmbedding.cat([TextEmbedding(a.sentence)] * 2).sentence, a.sentence.repeat(2, 1))
