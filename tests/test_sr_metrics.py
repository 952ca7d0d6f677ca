"""gankit.metrics.paired (PSNR, SSIM, their Y-channel versions, to_luma, border) against scikit-image on the
photographs bundled in its wheel (no download), degraded by bicubic x4 down/up and by seeded noise.

How skimage's SSIM treats the borders: with ``gaussian_weights=True, sigma=1.5`` it filters with
``scipy.ndimage.gaussian_filter(truncate=3.5, mode="reflect")`` (radius int(3.5 * 1.5 + 0.5) = 5, i.e. the
11-tap window of Wang et al.) over the whole image, then averages the SSIM map after cropping
``(11 - 1) // 2 = 5`` pixels on each edge. The pixels left are exactly those whose 11 x 11 window lies
inside the image, so the reflected padding never enters the mean: the same as our valid-region SSIM.
"""

import numpy as np
import pytest
import torch

from gankit.data.resize import imresize
from gankit.metrics.paired import psnr, psnr_y, ssim, ssim_y, to_luma

skimage = pytest.importorskip("skimage")
from skimage import data as skdata  # noqa: E402
from skimage.color import rgb2ycbcr  # noqa: E402
from skimage.metrics import peak_signal_noise_ratio, structural_similarity  # noqa: E402

WANG = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
BORDER = 4


def _photo(name):
    img = getattr(skdata, name)()  # bundled files: astronaut 512x512x3, coffee 400x600x3, camera 512x512
    return img[..., None] if img.ndim == 2 else img


def _bicubic_x4(img):
    t = torch.from_numpy(img).permute(2, 0, 1)
    return imresize(imresize(t, scale=0.25), scale=4).permute(1, 2, 0).numpy()


def _noisy(img, seed=0):
    noise = np.random.default_rng(seed).normal(0, 12, img.shape)
    return np.clip(np.rint(img + noise), 0, 255).astype(np.uint8)


def _tensor(img):
    """uint8 (H, W, C) -> (1, C, H, W) in [-1, 1], as the metrics take it."""
    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1


def _crop(a, b=BORDER):
    return a[b:-b, b:-b]


@pytest.fixture(scope="module", params=["astronaut", "coffee", "camera"])
def pair(request):
    hr = _photo(request.param)
    hr = hr[: hr.shape[0] // 4 * 4, : hr.shape[1] // 4 * 4]
    return request.param, hr, _bicubic_x4(hr), _noisy(hr)


def test_photos_are_bundled_and_degradations_differ(pair):
    name, hr, sr, noisy = pair
    assert hr.dtype == np.uint8 and sr.shape == hr.shape == noisy.shape
    assert not np.array_equal(sr, hr) and not np.array_equal(noisy, hr)


@pytest.mark.parametrize("which", ["bicubic", "noise"])
def test_psnr_matches_skimage(pair, which):
    name, hr, sr, noisy = pair
    deg = sr if which == "bicubic" else noisy
    ours = psnr(_tensor(deg), _tensor(hr)).item()
    assert ours == pytest.approx(peak_signal_noise_ratio(hr, deg, data_range=255), abs=1e-9)
    ours_b = psnr(_tensor(deg), _tensor(hr), border=BORDER).item()
    assert ours_b == pytest.approx(peak_signal_noise_ratio(_crop(hr), _crop(deg), data_range=255), abs=1e-9)


def _sk_luma(img):
    """skimage's BT.601 Y (16..235, as MATLAB's rgb2ycbcr) on the 0..255 scale; gray stays gray."""
    return img[..., 0].astype(np.float64) if img.shape[-1] == 1 else rgb2ycbcr(img)[..., 0]


def test_luma_matches_skimage_rgb2ycbcr(pair):
    name, hr, _, _ = pair
    ours = to_luma(torch.from_numpy(hr).permute(2, 0, 1)[None].double())[0, 0].numpy()
    np.testing.assert_allclose(ours, _sk_luma(hr), rtol=0, atol=1e-10)


@pytest.mark.parametrize("which", ["bicubic", "noise"])
def test_psnr_y_matches_skimage(pair, which):
    name, hr, sr, noisy = pair
    deg = sr if which == "bicubic" else noisy
    ours = psnr_y(_tensor(deg), _tensor(hr), border=BORDER).item()
    ref = peak_signal_noise_ratio(_crop(_sk_luma(hr)), _crop(_sk_luma(deg)), data_range=255)
    assert ours == pytest.approx(ref, abs=1e-9)


@pytest.mark.parametrize("which", ["bicubic", "noise"])
def test_ssim_matches_skimage_wang_settings(pair, which):
    name, hr, sr, noisy = pair
    deg = sr if which == "bicubic" else noisy
    if hr.shape[-1] == 1:  # gray
        ref = structural_similarity(hr[..., 0], deg[..., 0], **WANG)
    else:
        ref = structural_similarity(hr, deg, channel_axis=-1, **WANG)
    assert ssim(_tensor(deg), _tensor(hr)).item() == pytest.approx(ref, abs=1e-9)
    ref_b = structural_similarity(_crop(_sk_luma(hr)), _crop(_sk_luma(deg)), **WANG)
    assert ssim_y(_tensor(deg), _tensor(hr), border=BORDER).item() == pytest.approx(ref_b, abs=1e-9)


def test_ssim_differs_from_padded_full_image_mean(pair):
    # sanity: the crop matters; averaging skimage's full SSIM map (reflect-padded borders) gives another value
    name, hr, _, noisy = pair
    a, b = hr[..., 0].astype(np.float64), noisy[..., 0].astype(np.float64)
    _, full = structural_similarity(a, b, full=True, **WANG)
    ours = ssim(_tensor(noisy[..., :1]), _tensor(hr[..., :1])).item()
    assert ours == pytest.approx(full[5:-5, 5:-5].mean(), abs=1e-9)
    assert abs(full.mean() - ours) > 1e-5
