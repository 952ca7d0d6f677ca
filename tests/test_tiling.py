"""Tests for gankit.tiling (image-to-image inference on images of any size)."""

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError, GankitError
from gankit.tiling import crop, pad_to_multiple, translate_any_size


def image(h, w, c=3, n=1, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


class Recorder:
    """Wraps fn: checks every input is a multiple of `multiple` and records the input sizes."""

    def __init__(self, fn, multiple):
        self.fn, self.multiple, self.sizes = fn, multiple, []

    def __call__(self, t):
        assert t.ndim == 4 and t.shape[0] == 1
        assert t.shape[-2] % self.multiple == 0 and t.shape[-1] % self.multiple == 0, tuple(t.shape)
        self.sizes.append(tuple(t.shape[-2:]))
        return self.fn(t)


def conv_net(seed=0, c_in=3, c_out=3, width=8):
    """Three 3x3 convs (zero padding): receptive-field radius 3."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(c_in, width, 3, padding=1), nn.Tanh(),
        nn.Conv2d(width, width, 3, padding=1), nn.Tanh(),
        nn.Conv2d(width, c_out, 3, padding=1),
    ).eval()


class DownUpNet(nn.Module):
    """Pools twice (needs multiples of 4) and upsamples back; receptive-field radius about 14."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
        self.c, self.d = nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x):
        h = nn.functional.avg_pool2d(torch.tanh(self.a(x)), 2)
        h = nn.functional.avg_pool2d(torch.tanh(self.b(h)), 2)
        h = nn.functional.interpolate(torch.tanh(self.c(h)), scale_factor=4, mode="nearest")
        return self.d(h)


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (64, 64), (300, 700), (129, 1)])
def test_identity_is_exact(size):
    x = image(*size)
    rec = Recorder(lambda t: t, 8)
    out = translate_any_size(rec, x, 8, tile=128, overlap=32)
    assert out.shape == x.shape and out.dtype == torch.float32 and out.device == x.device
    assert torch.equal(out, x)
    assert max(max(s) for s in rec.sizes) <= 128
    if max(size) <= 128:
        assert len(rec.sizes) == 1


def test_identity_exact_odd_settings_and_single_run_copies():
    x = image(257, 301, c=2)
    assert torch.equal(translate_any_size(lambda t: t, x, 1, tile=100, overlap=30), x)
    assert torch.equal(translate_any_size(lambda t: t, x, 4, tile=50, overlap=0), x)  # butt-joined tiles
    small = image(8, 8)
    out = translate_any_size(lambda t: t, small, 8, tile=64, overlap=8)
    assert torch.equal(out, small) and out.data_ptr() != small.data_ptr()


def test_tiles_bounded_and_counted():
    x = image(300, 700)
    rec = Recorder(lambda t: t * 2, 8)
    out = translate_any_size(rec, x, 8, tile=128, overlap=32)
    # rows start at 0, 96, 172 (flush with 300 -> 304 padded); columns at 0, 96, ..., 480, 576 (704 padded)
    assert len(rec.sizes) == 3 * 7 and set(rec.sizes) == {(128, 128)}
    assert torch.allclose(out, 2 * x, atol=1e-6, rtol=0)
    rec = Recorder(lambda t: t, 8)
    translate_any_size(rec, image(20, 1000), 8, tile=128, overlap=32)  # only one row of tiles, 24 px high
    assert set(rec.sizes) == {(24, 128)}
    rec = Recorder(lambda t: t, 8)
    translate_any_size(rec, image(90, 100), 8, tile=100, overlap=20)  # tile 100 -> 96, overlap 20 -> 24
    assert len(rec.sizes) == 1 * 2 and set(rec.sizes) == {(96, 96)}


def test_conv_net_tiled_equals_untiled():
    net = conv_net()
    x = image(200, 333, seed=1)
    with torch.no_grad():
        padded, size = pad_to_multiple(x, 8)
        whole = crop(net(padded), size)
    rec = Recorder(net, 8)
    tiled = translate_any_size(rec, x, 8, tile=128, overlap=32)
    assert len(rec.sizes) > 4 and max(max(s) for s in rec.sizes) <= 128
    assert tiled.shape == whole.shape and not tiled.requires_grad
    assert (tiled - whole).abs().max().item() < 1e-4
    assert torch.equal(translate_any_size(net, x, 8, tile=512), whole)  # fits in one tile


def test_downsampling_net_tiles_line_up():
    net = DownUpNet()
    x = image(150, 230, seed=2)
    with torch.no_grad():
        padded, size = pad_to_multiple(x, 4)
        whole = crop(net(padded), size)
    tiled = translate_any_size(Recorder(net, 4), x, 4, tile=96, overlap=64)
    assert (tiled - whole).abs().max().item() < 1e-4


def test_blend_has_no_seams():
    # a fn that is inconsistent between tiles (a different constant per call) still gives a smooth result
    calls = []

    def fn(t):
        calls.append(len(calls))
        return torch.full_like(t, float(len(calls) % 5))

    out = translate_any_size(fn, image(256, 256, c=1), 1, tile=64, overlap=32)
    assert len(calls) > 1 and 0 <= out.min() and out.max() <= 4
    jumps = max((out[..., 1:, :] - out[..., :-1, :]).abs().max().item(),
                (out[..., :, 1:] - out[..., :, :-1]).abs().max().item())
    assert jumps <= 4 / 16 + 1e-5  # weights ramp over the middle 16 px of each 32 px overlap


def test_channel_change_and_batch():
    x = image(150, 260, c=1, n=3, seed=3)
    gains = torch.tensor([1.0, -2.0, 0.5]).view(1, 3, 1, 1)
    out = translate_any_size(lambda t: t.repeat(1, 3, 1, 1) * gains, x, 4, tile=64, overlap=16)
    assert out.shape == (3, 3, 150, 260) and out.dtype == torch.float32
    assert torch.equal(out, x.repeat(1, 3, 1, 1) * gains)
    net = conv_net(c_in=1, c_out=3)
    single = translate_any_size(net, x[1:2], 4, tile=64, overlap=16)
    assert torch.equal(translate_any_size(net, x, 4, tile=64, overlap=16)[1:2], single)


def test_float64_input_gives_float32():
    x = image(40, 50).double()
    out = translate_any_size(lambda t: t, x, 8, tile=32, overlap=8)
    assert out.dtype == torch.float32 and torch.equal(out, x.float())


def test_pad_to_multiple_and_crop():
    x = image(7, 13)
    padded, size = pad_to_multiple(x, 8)
    assert padded.shape[-2:] == (8, 16) and size == (7, 13)
    assert torch.equal(padded[..., :7, :13], x)
    assert torch.equal(padded[..., 7, :13], x[..., 5, :])  # reflect
    assert torch.equal(padded[..., :7, 13:], x[..., :, [11, 10, 9]])
    assert torch.equal(crop(padded, size), x)
    one, size = pad_to_multiple(image(1, 1), 4)  # too small to reflect: replicate
    assert one.shape[-2:] == (4, 4) and size == (1, 1) and bool((one == one[..., :1, :1]).all())
    same, _ = pad_to_multiple(x, 1)
    assert same is x


def test_bad_arguments():
    x = image(20, 20)
    ident = lambda t: t  # noqa: E731
    cases = [
        lambda: translate_any_size(ident, x[0], 8),  # 3-D
        lambda: translate_any_size(ident, x[:, :, :0], 8),  # empty
        lambda: translate_any_size(ident, (x * 100).long(), 8),
        lambda: translate_any_size(ident, x, 0),
        lambda: translate_any_size(ident, x, 8, tile=32, overlap=32),
        lambda: translate_any_size(ident, x, 8, tile=32, overlap=-1),
        lambda: translate_any_size(ident, x, 8, tile=4, overlap=0),  # tile < multiple
        lambda: translate_any_size(ident, x, 8, tile=36, overlap=30),  # rounds to 32 and 32
        lambda: translate_any_size(ident, x, 2.5),
        lambda: translate_any_size("net", x, 8),
        lambda: crop(x, (21, 5)),
    ]
    for case in cases:
        with pytest.raises(ConfigError) as info:
            case()
        assert "\n" not in str(info.value)
    with pytest.raises(GankitError):
        translate_any_size(lambda t: t[..., ::2, ::2], x, 8)  # not size-preserving
