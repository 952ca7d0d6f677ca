"""MATLAB-style bicubic imresize: sizes, constants, PIL / torch agreement in the interior, mirrored borders,
uint8 rounding, batches and bad input."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.data.resize import bicubic_lr, imresize, modcrop
from gankit.errors import DataError


def _random(h, w, seed=0):
    return torch.rand(1, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _smooth(h, w):
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    return (0.5 + 0.3 * torch.sin(xx / 7.0) * torch.cos(yy / 5.0) + 0.2 * torch.sin((xx + yy) / 11.0))[None]


def _pil_bicubic(x, out_hw):
    """PIL's BICUBIC (a = -0.5, support stretched when downscaling) on a float32 mode "F" image."""
    img = Image.fromarray(x[0].numpy().astype(np.float32), mode="F")
    return torch.from_numpy(np.asarray(img.resize((out_hw[1], out_hw[0]), Image.BICUBIC), dtype=np.float64))


def _interior(scale):
    """Output pixels to skip at each edge so that no tap reaches past the input's border."""
    reach_in = 2 * max(1.0, 1 / scale)  # kernel half-width in input pixels
    return math.ceil(reach_in * scale) + 2


@pytest.mark.parametrize("shape,scale,expected", [
    ((3, 96, 120), 0.25, (24, 30)),
    ((3, 97, 121), 0.25, (25, 31)),  # ceil
    ((1, 300, 301), 1 / 3, (100, 101)),  # 300 * (1/3) must not become 101
    ((2, 10, 7), 0.3, (3, 3)),
    ((1, 5, 6), 4, (20, 24)),
    ((1, 5, 6), 1.5, (8, 9)),
])
def test_output_size_is_ceil_of_scale_times_size(shape, scale, expected):
    assert imresize(torch.zeros(shape), scale=scale).shape[-2:] == expected


def test_size_argument_sets_each_dimension():
    assert imresize(torch.zeros(2, 3, 17, 23), size=(7, 40)).shape == (2, 3, 7, 40)


@pytest.mark.parametrize("kw", [{"scale": 0.25}, {"scale": 1 / 3}, {"scale": 4}, {"size": (9, 31)}])
def test_constant_images_stay_constant(kw):
    x = torch.full((3, 37, 41), 0.3712, dtype=torch.float64)
    assert torch.allclose(imresize(x, **kw), x[:, :1, :1], atol=1e-12, rtol=0)
    u = torch.full((1, 2, 37, 41), 201, dtype=torch.uint8)
    assert (imresize(u, **kw) == 201).all()


@pytest.mark.parametrize("image", ["random", "smooth"])
@pytest.mark.parametrize("in_hw,scale", [((96, 120), 0.25), ((96, 120), 1 / 3), ((24, 30), 4.0)])
def test_interior_matches_pil_and_torch_antialiased_bicubic(image, in_hw, scale):
    x = _random(*in_hw) if image == "random" else _smooth(*in_hw)
    ours = imresize(x, scale=scale)[0]
    m = _interior(scale)
    inner = (slice(m, -m), slice(m, -m))
    pil = _pil_bicubic(x, ours.shape)
    assert torch.allclose(ours[inner], pil[inner], atol=1e-5, rtol=0)  # PIL works in float32
    tch = F.interpolate(x[None], size=ours.shape, mode="bicubic", antialias=True, align_corners=False)[0, 0]
    assert torch.allclose(ours[inner], tch[inner], atol=1e-10, rtol=0)
    if image == "random":  # the borders do differ: mirroring (MATLAB) vs truncating the kernel (PIL, torch)
        assert (ours - tch).abs().max() > 1e-3


def test_size_argument_uses_out_over_in_scales_like_pil():
    # 97 -> 25 rows: scale 25/97 (not 0.25) per dimension, as PIL and torch compute it
    x = _random(97, 121, seed=3)
    ours = imresize(x, size=(25, 31))[0]
    m = _interior(0.25)
    inner = (slice(m, -m), slice(m, -m))
    assert torch.allclose(ours[inner], _pil_bicubic(x, (25, 31))[inner], atol=1e-5, rtol=0)


def _keys(t):
    """Keys' cubic kernel, a = -0.5, written out independently."""
    t = abs(t)
    if t <= 1:
        return 1.5 * t**3 - 2.5 * t**2 + 1
    if t <= 2:
        return -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return 0.0


def test_borders_are_mirrored_symmetrically():
    # 1 x 10 row, downscaled by 2: output pixel 1 sits at input coordinate u = 1/0.5 + 0.5 (1 - 2) = 1.5
    # (1-based); the kernel is stretched by 2 (h(d) = cubic(d / 2) / 2, reach 4), so it covers input
    # pixels -2..5 (1-based) at distances 3.5, 2.5, ..., -3.5. Pixels -2, -1, 0 are mirrored to 3, 2, 1.
    x = torch.tensor([[[3.0, -1.0, 7.0, 2.0, 5.0, 11.0, 0.0, 4.0, 9.0, 6.0]]], dtype=torch.float64)
    v = x[0, 0].tolist()
    dists = [3.5, 2.5, 1.5, 0.5, -0.5, -1.5, -2.5, -3.5]
    w = [_keys(d / 2) for d in dists]
    assert w == pytest.approx([-0.0234375, -0.0703125, 0.2265625, 0.8671875,
                              0.8671875, 0.2265625, -0.0703125, -0.0234375])
    first = sum(wi * v[i] for wi, i in zip(w, [2, 1, 0, 0, 1, 2, 3, 4])) / sum(w)  # 0-based, mirrored
    # last output pixel (5): u = 9.5, pixels 6..13, of which 11, 12, 13 mirror to 10, 9, 8 (1-based)
    last = sum(wi * v[i] for wi, i in zip(w, [5, 6, 7, 8, 9, 9, 8, 7])) / sum(w)
    y = imresize(x, scale=0.5)
    assert y.shape == (1, 1, 5)
    assert y[0, 0, 0].item() == pytest.approx(first, abs=1e-12)
    assert y[0, 0, -1].item() == pytest.approx(last, abs=1e-12)
    # truncation with renormalisation (torch, PIL) gives a different first pixel
    trunc = sum(wi * v[i] for wi, i in zip(w[3:], [0, 1, 2, 3, 4])) / sum(w[3:])
    assert abs(trunc - first) > 0.1
    tch = F.interpolate(x[None], size=(1, 5), mode="bicubic", antialias=True, align_corners=False)
    assert tch[0, 0, 0, 0].item() == pytest.approx(trunc, abs=1e-9)


def test_uint8_rounds_half_away_from_zero_and_clamps():
    # x2 upscaling of a row: the weights are multiples of 1/128, so the float64 results are exact and
    # many end in .5 exactly; MATLAB rounds those up (numpy / torch round half to even)
    row = torch.randint(0, 256, (1, 1, 400), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    exact = imresize(row.double(), scale=2)
    got = imresize(row, scale=2)
    assert got.dtype == torch.uint8
    half = (exact - exact.floor()) == 0.5
    inside = (exact > 0) & (exact < 255)
    assert (half & inside & (exact.floor() % 2 == 0)).any()  # cases where half-to-even would round down
    assert torch.equal(got[inside], (exact[inside] + 0.5).floor().to(torch.uint8))
    assert (got[exact < 0] == 0).all() and (got[exact > 255] == 255).all()
    assert (exact < 0).any() and (exact > 255).any()  # the cubic overshoots at edges: clamping is exercised


def test_uint8_is_the_rounded_float_result_in_2d():
    u = torch.randint(0, 256, (3, 40, 52), generator=torch.Generator().manual_seed(2), dtype=torch.uint8)
    for scale in (0.25, 4):
        exact = imresize(u.double(), scale=scale)
        assert torch.equal(imresize(u, scale=scale), (exact.clamp(0, 255) + 0.5).floor().to(torch.uint8))


def test_float_dtype_kept_and_unclamped():
    x = _random(16, 16) * 2 - 1
    y = imresize(x.float(), scale=2)
    assert y.dtype == torch.float32
    assert torch.allclose(y.double(), imresize(x, scale=2), atol=1e-6, rtol=0)
    step = torch.zeros(1, 1, 8)
    step[..., 4:] = 1.0
    assert imresize(step, scale=4).max() > 1.0  # overshoot is kept for floats


def test_batch_equals_per_image():
    xb = torch.rand(3, 2, 21, 26, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    for kw in ({"scale": 1 / 3}, {"size": (40, 13)}):
        yb = imresize(xb, **kw)
        assert torch.allclose(yb, torch.stack([imresize(x, **kw) for x in xb]), atol=1e-13, rtol=0)


def test_modcrop_and_bicubic_lr():
    hr = torch.randint(0, 256, (3, 50, 39), generator=torch.Generator().manual_seed(5), dtype=torch.uint8)
    assert torch.equal(modcrop(hr, 4), hr[:, :48, :36])
    assert modcrop(hr[None], 3).shape == (1, 3, 48, 39)
    crop, lr = bicubic_lr(hr, 4)
    assert torch.equal(crop, hr[:, :48, :36])
    assert lr.dtype == torch.uint8 and lr.shape == (3, 12, 9)
    assert torch.equal(lr, imresize(crop, scale=0.25))


@pytest.mark.parametrize("call", [
    lambda: imresize(torch.zeros(3, 8, 8), scale=0),
    lambda: imresize(torch.zeros(3, 8, 8), scale=-0.5),
    lambda: imresize(torch.zeros(3, 8, 8), scale=float("nan")),
    lambda: imresize(torch.zeros(3, 8, 8), size=(0, 4)),
    lambda: imresize(torch.zeros(3, 8, 8), size=(4,)),
    lambda: imresize(torch.zeros(3, 8, 8)),
    lambda: imresize(torch.zeros(3, 8, 8), scale=0.5, size=(4, 4)),
    lambda: imresize(torch.zeros(3, 0, 8), scale=0.5),
    lambda: imresize(torch.zeros(8, 8), scale=0.5),
    lambda: imresize(torch.zeros(1, 1, 3, 8, 8), scale=0.5),
    lambda: imresize(torch.zeros(3, 8, 8, dtype=torch.int32), scale=0.5),
    lambda: imresize(np.zeros((3, 8, 8)), scale=0.5),
    lambda: bicubic_lr(torch.zeros(3, 8, 8), 2),
    lambda: bicubic_lr(torch.zeros(3, 3, 8, dtype=torch.uint8), 4),
    lambda: modcrop(torch.zeros(3, 8, 8), 0),
])
def test_bad_input_is_one_line_data_error(call):
    with pytest.raises(DataError) as err:
        call()
    assert "\n" not in str(err.value) and len(str(err.value)) > 20
