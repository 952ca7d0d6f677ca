"""Tests for gankit.metrics.paired (L1 / PSNR / SSIM for image-to-image translation and SR)."""

import math

import numpy as np
import pytest
import torch

from gankit.errors import ConfigError, GankitError
from gankit.metrics.paired import DIRECTION, PAIRED_METRICS, l1, paired_scores, psnr, ssim, to_luma
from gankit.monitor.images import to_uint8

# ---------------------------------------------------------------- independent numpy reference


def ref_levels(x: np.ndarray) -> np.ndarray:
    """[-1, 1] -> uint8 levels as float64, with the float32 arithmetic of saving a PNG."""
    x32 = np.clip(x.astype(np.float32), np.float32(-1), np.float32(1))
    return np.round((x32 + np.float32(1)) * np.float32(127.5)).astype(np.float64)


def ref_luma(img: np.ndarray) -> np.ndarray:
    """(3, H, W) levels -> (1, H, W) BT.601 Y (MATLAB rgb2ycbcr on [0, 1] input, times 255)."""
    r, g, b = img / 255.0
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b)[None]


def ref_window() -> np.ndarray:
    i = np.arange(11) - 5.0
    w = np.exp(-(i[:, None] ** 2 + i[None, :] ** 2) / (2 * 1.5**2))
    return w / w.sum()


def ref_filter_valid(img: np.ndarray, win: np.ndarray) -> np.ndarray:
    """Explicit 2-D correlation of (H, W) with an 11x11 window over the valid region."""
    kh, kw = win.shape
    out = np.empty((img.shape[0] - kh + 1, img.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(img[i : i + kh, j : j + kw] * win)
    return out


def ref_ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
    win = ref_window()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = ref_filter_valid(a, win), ref_filter_valid(b, win)
    s_aa = ref_filter_valid(a * a, win) - mu_a**2
    s_bb = ref_filter_valid(b * b, win) - mu_b**2
    s_ab = ref_filter_valid(a * b, win) - mu_a * mu_b
    m = ((2 * mu_a * mu_b + c1) * (2 * s_ab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (s_aa + s_bb + c2))
    return float(m.mean())


def ref_prepare(x: np.ndarray, y_channel: bool, border: int) -> np.ndarray:
    q = ref_levels(x)
    if y_channel and q.shape[0] == 3:
        q = ref_luma(q)
    h, w = q.shape[1:]
    return q[:, border : h - border, border : w - border]


def ref_psnr(p: np.ndarray, t: np.ndarray, y_channel=False, border=0) -> float:
    a, b = ref_prepare(p, y_channel, border), ref_prepare(t, y_channel, border)
    mse = np.mean((a - b) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ref_ssim(p: np.ndarray, t: np.ndarray, y_channel=False, border=0) -> float:
    a, b = ref_prepare(p, y_channel, border), ref_prepare(t, y_channel, border)
    return float(np.mean([ref_ssim_channel(ca, cb) for ca, cb in zip(a, b)]))


def random_pair(n=2, c=3, h=24, w=21, noise=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(n, c, h, w, generator=g) * 2 - 1
    pred = (target + noise * torch.randn(n, c, h, w, generator=g)).clamp(-1.2, 1.2)  # some outside [-1, 1]
    return pred, target


def from_levels(q: torch.Tensor) -> torch.Tensor:
    """uint8 levels -> data space, so that quantising gives q back."""
    return q.float() / 127.5 - 1


# ---------------------------------------------------------------- agreement with the reference


@pytest.mark.parametrize(
    "c,y_channel,border", [(3, False, 0), (3, True, 0), (3, False, 3), (3, True, 4), (1, False, 2)]
)
def test_matches_numpy_reference(c, y_channel, border):
    pred, target = random_pair(c=c, seed=c + border)
    p_np, t_np = pred.numpy(), target.numpy()
    got_psnr = psnr(pred, target, y_channel=y_channel, border=border)
    got_ssim = ssim(pred, target, y_channel=y_channel, border=border)
    for i in range(len(pred)):
        assert got_psnr[i].item() == pytest.approx(ref_psnr(p_np[i], t_np[i], y_channel, border), abs=1e-6)
        assert got_ssim[i].item() == pytest.approx(ref_ssim(p_np[i], t_np[i], y_channel, border), abs=1e-6)


def test_quantisation_matches_saved_pngs():
    pred, target = random_pair(n=3, seed=5)
    a = to_uint8(pred).astype(np.float64)
    b = to_uint8(target).astype(np.float64)
    mse = ((a - b) ** 2).reshape(3, -1).mean(axis=1)
    np.testing.assert_allclose(psnr(pred, target).numpy(), 10 * np.log10(255.0**2 / mse), rtol=0, atol=1e-9)


def test_returns_n_float64_values_per_image():
    pred, target = random_pair(n=4, h=16, w=16)
    for name, fn in PAIRED_METRICS.items():
        values = fn(pred, target)
        assert values.shape == (4,) and values.dtype == torch.float64, name
        for i in range(4):  # images are scored independently
            assert values[i].item() == pytest.approx(fn(pred[i : i + 1], target[i : i + 1]).item(), abs=1e-12)


# ---------------------------------------------------------------- known values


@pytest.mark.parametrize("k", [1, 5, 20])
def test_psnr_of_constant_level_offset(k):
    q = torch.randint(0, 256 - k, (2, 3, 17, 19), generator=torch.Generator().manual_seed(k))
    target, pred = from_levels(q), from_levels(q + k)
    expected = 20 * math.log10(255 / k)
    assert torch.allclose(psnr(pred, target), torch.full((2,), expected, dtype=torch.float64), atol=1e-9)
    # the luma of a uniform RGB offset of k levels moves by k * 219 / 255
    assert psnr(pred, target, y_channel=True)[0].item() == pytest.approx(20 * math.log10(255 / (k * 219 / 255)))


def test_psnr_identical_is_inf_and_gray_luma_is_gray():
    pred, target = random_pair(c=1)
    assert torch.isinf(psnr(target, target)).all()
    assert paired_scores(target, target, ["psnr"])["psnr"] == math.inf
    assert torch.equal(psnr(pred, target, y_channel=True), psnr(pred, target))
    assert torch.equal(ssim(pred, target, y_channel=True), ssim(pred, target))


def test_l1_in_unit_range():
    target = torch.rand(3, 3, 8, 9) * 1.6 - 0.8
    assert torch.allclose(l1(target + 0.2, target), torch.full((3,), 0.1, dtype=torch.float64), atol=1e-7)
    assert torch.equal(l1(target, target), torch.zeros(3, dtype=torch.float64))
    assert l1(torch.ones(1, 1, 4, 4), -torch.ones(1, 1, 4, 4)).item() == 1.0


def test_ssim_identity_and_monotone_in_noise():
    _, target = random_pair(n=2, h=32, w=32)
    assert torch.allclose(ssim(target, target), torch.ones(2, dtype=torch.float64), atol=1e-12, rtol=0)
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(target.shape, generator=g)
    scores = [ssim(target + s * noise, target) for s in (0.02, 0.1, 0.3, 1.0)]
    for a, b in zip(scores, scores[1:]):
        assert (a > b).all()
    assert (scores[0] < 1).all()
    assert DIRECTION["ssim"] is False and DIRECTION["l1"] is True


def test_luma_of_white_black_red():
    white, black = torch.full((3, 2, 2), 255.0), torch.zeros(3, 2, 2)
    red = torch.tensor([255.0, 0.0, 0.0]).view(3, 1, 1).expand(3, 2, 2)
    y = to_luma(torch.stack([white, black, red]))
    assert y.shape == (3, 1, 2, 2) and y.dtype == torch.float64
    for i, expected in enumerate([235.0, 16.0, 16 + 65.481]):
        assert torch.allclose(y[i], torch.full((1, 2, 2), expected, dtype=torch.float64), atol=1e-9, rtol=0)
    gray = torch.rand(2, 1, 3, 3) * 255
    assert to_luma(gray) is gray


# ---------------------------------------------------------------- border


def test_border_crops_only_the_frame():
    b = 3
    _, target = random_pair(n=2, h=30, w=28)
    pred = target.clone()
    pred[..., :b, :] = -target[..., :b, :]  # corrupt the frame only
    pred[..., :, -b:] = 1.0
    assert torch.isinf(psnr(pred, target, border=b)).all()
    assert torch.isfinite(psnr(pred, target, border=b - 1)).all()
    assert torch.allclose(ssim(pred, target, border=b), torch.ones(2, dtype=torch.float64), atol=1e-12)
    assert (ssim(pred, target) < 1).all()
    assert torch.equal(l1(pred, target, border=b), torch.zeros(2, dtype=torch.float64))
    pred[..., 15, 14] = 1.0 - target[..., 15, 14]  # an interior change still counts
    assert torch.isfinite(psnr(pred, target, border=b)).all()
    inner = (slice(None), slice(None), slice(b, -b), slice(b, -b))
    for y in (False, True):
        assert torch.equal(psnr(pred, target, y, border=b), psnr(pred[inner], target[inner], y))
        assert torch.allclose(ssim(pred, target, y, border=b), ssim(pred[inner], target[inner], y), atol=1e-15)


def test_paired_scores_means_and_names():
    pred, target = random_pair(n=3)
    names = list(PAIRED_METRICS)
    scores = paired_scores(pred, target, names, border=2)
    assert list(scores) == names and set(DIRECTION) == set(PAIRED_METRICS)
    for name in names:
        assert isinstance(scores[name], float)
        assert scores[name] == pytest.approx(float(PAIRED_METRICS[name](pred, target, border=2).mean()), abs=1e-12)
    assert scores["psnr_y"] == pytest.approx(float(psnr(pred, target, y_channel=True, border=2).mean()), abs=1e-12)
    assert paired_scores(pred, target, "l1") == {"l1": pytest.approx(float(l1(pred, target).mean()))}


# ---------------------------------------------------------------- bad input


def test_bad_input_raises_one_line_errors():
    pred, target = random_pair(h=16, w=16)
    cases = [
        lambda: psnr(pred, target[:, :, :15]),  # shape mismatch
        lambda: ssim(pred[:1], target),
        lambda: l1(pred[:, :2], target[:, :2]),  # 2 channels
        lambda: psnr(pred[0], target[0]),  # 3-D
        lambda: psnr(pred[:0], target[:0]),  # empty
        lambda: psnr(pred.numpy(), target),
        lambda: psnr((pred * 127).to(torch.uint8), target.to(torch.uint8)),
        lambda: psnr(pred, target, border=8),  # crops everything
        lambda: psnr(pred, target, border=-1),
        lambda: ssim(pred, target, border=3),  # 10x10 left < 11x11 window
        lambda: paired_scores(pred, target, ["psnr", "lpips"]),
        lambda: to_luma(torch.zeros(1, 2, 3, 3)),
    ]
    for case in cases:
        with pytest.raises(ConfigError) as info:
            case()
        assert "\n" not in str(info.value)
    bad = pred.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(GankitError):
        psnr(bad, target)
