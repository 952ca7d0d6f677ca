"""Video metrics against independent implementations: scikit-image's SSIM (data_range=1), numpy versions of
OpenSTL's MSE / MAE / PSNR and of Mathieu et al.'s sharpness difference, on real photographs cut into frames."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gankit.errors import ConfigError
from gankit.metrics.video import VideoScores, frame_scores

skimage_metrics = pytest.importorskip("skimage.metrics")
skimage_data = pytest.importorskip("skimage.data")


def sequences(n=2, t=3, side=32):
    """(n, t, 1, side, side) in [-1, 1]: windows sliding over scikit-image's camera photograph."""
    cam = torch.from_numpy(skimage_data.camera()).double() / 127.5 - 1
    frames = [[cam[200 + 40 * i + 5 * k:200 + 40 * i + 5 * k + side, 180 + 7 * k:180 + 7 * k + side] for k in range(t)] for i in range(n)]
    return torch.stack([torch.stack(f) for f in frames]).unsqueeze(2).float()


def blur(x):
    return F.avg_pool2d(x.flatten(0, 1), 3, 1, 1, count_include_pad=False).view_as(x)


def predictions(true):
    """Blurred, shifted and out-of-range versions of the truth (so clipping matters)."""
    return (blur(true) * 1.3 + 0.05).roll(1, dims=-1)


def test_scores_match_openstl_definitions_and_scikit_image():
    true = sequences()
    pred = predictions(true)
    got = frame_scores(pred, true)
    p, t = ((pred.double().numpy() + 1) / 2), ((true.double().numpy() + 1) / 2)
    np.testing.assert_allclose(got["mse"].numpy(), ((p - t) ** 2).sum(axis=(2, 3, 4)), rtol=1e-9)
    np.testing.assert_allclose(got["mae"].numpy(), np.abs(p - t).sum(axis=(2, 3, 4)), rtol=1e-9)
    pc = np.clip(p, 0, 1)
    assert (p > 1).any() or (p < 0).any()  # the clipping is exercised
    for i in range(p.shape[0]):
        for k in range(p.shape[1]):
            psnr = 20 * np.log10(1 / np.sqrt(np.mean((pc[i, k] - t[i, k]) ** 2)))
            ssim = skimage_metrics.structural_similarity(pc[i, k, 0], t[i, k, 0], data_range=1.0)
            assert got["psnr"][i, k].item() == pytest.approx(psnr, abs=1e-9)
            assert got["ssim"][i, k].item() == pytest.approx(ssim, abs=1e-9)
            assert got["sharpness"][i, k].item() == pytest.approx(sharpness_difference(pc[i, k, 0], t[i, k, 0]), abs=1e-9)


def sharpness_difference(pred, true):
    """Mathieu et al. 2016, written out with loops over pixels."""
    h, w = true.shape
    total = 0.0
    for i in range(1, h):
        for j in range(1, w):
            gt = abs(true[i, j] - true[i - 1, j]) + abs(true[i, j] - true[i, j - 1])
            gp = abs(pred[i, j] - pred[i - 1, j]) + abs(pred[i, j] - pred[i, j - 1])
            total += abs(gt - gp)
    return 10 * np.log10(1 / (total / ((h - 1) * (w - 1))))


def test_rgb_ssim_averages_the_channels_like_scikit_image():
    true = sequences(n=1, t=2).expand(-1, -1, 3, -1, -1).clone()
    true[:, :, 1] = true[:, :, 1].flip(-1)
    pred = predictions(true)
    got = frame_scores(pred, true)["ssim"]
    p, t = np.clip((pred.double().numpy() + 1) / 2, 0, 1), (true.double().numpy() + 1) / 2
    want = skimage_metrics.structural_similarity(p[0, 1], t[0, 1], data_range=1.0, channel_axis=0)
    assert got[0, 1].item() == pytest.approx(want, abs=1e-9)


def test_curves_sharpness_ratio_and_black_frames():
    true = sequences(n=3, t=4)
    scores = VideoScores()
    for i in range(3):  # batches of one give the same result as one batch
        scores.update(predictions(true[i:i + 1]), true[i:i + 1])
    whole = VideoScores()
    whole.update(predictions(true), true)
    assert scores.n == 3 and all(len(v) == 4 for v in scores.curves().values())
    assert scores.result() == pytest.approx(whole.result(), rel=1e-12)
    blurred = VideoScores()
    blurred.update(blur(true), true)
    assert 0 < blurred.result()["grad_ratio"] < 0.7  # a blurred prediction has less gradient energy
    assert blurred.result()["sharpness"] < exact_sharpness(true)

    r = exact_scores(true)
    assert r["mse"] == 0 and r["psnr"] == pytest.approx(100) and r["ssim"] == pytest.approx(1) and r["grad_ratio"] == 1
    black = VideoScores()
    black.update(-torch.ones_like(true), true)
    energy = ((true.double() + 1) / 2).square().sum((2, 3, 4)).mean().item()
    assert black.result()["mse"] == pytest.approx(energy)


def exact_scores(true):
    exact = VideoScores()
    exact.update(true, true)
    return exact.result()


def exact_sharpness(true):
    return exact_scores(true)["sharpness"]


def test_bad_shapes_are_config_errors():
    with pytest.raises(ConfigError, match="one shape"):
        frame_scores(torch.zeros(1, 2, 1, 16, 16), torch.zeros(1, 3, 1, 16, 16))
    with pytest.raises(ConfigError, match="too small"):
        frame_scores(torch.zeros(1, 2, 1, 6, 6), torch.zeros(1, 2, 1, 6, 6))
    with pytest.raises(ConfigError, match="no sequences"):
        VideoScores().result()
