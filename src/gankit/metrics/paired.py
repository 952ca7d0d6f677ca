"""Full-reference (paired) image metrics for image-to-image translation and super-resolution.

Inputs are ``(N, C, H, W)`` float tensors in the toolkit's data space [-1, 1], C = 1 or 3,
prediction and target of the same shape. Every metric returns a float64 tensor of N per-image
values (on the CPU); callers average. PSNR and SSIM are computed on images quantised to uint8
levels first, exactly as :func:`gankit.monitor.images.to_uint8` does before saving PNGs, so a
score matches the one computed from the saved files. ``border`` crops that many pixels from each
edge before scoring (the SR convention: crop ``scale`` pixels).
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import ConfigError, GankitError

DATA_RANGE = 255.0  # PSNR / SSIM peak value, on uint8 levels
SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03
_LUMA = (65.481, 128.553, 24.966)  # ITU-R BT.601 Y weights for R, G, B in [0, 1], as MATLAB's rgb2ycbcr


def _check_pair(pred: Tensor, target: Tensor) -> Tuple[Tensor, Tensor]:
    """Validated ``(pred, target)``, target moved to pred's device."""
    for name, t in (("pred", pred), ("target", target)):
        if not isinstance(t, Tensor) or not t.is_floating_point():
            got = t.dtype if isinstance(t, Tensor) else type(t).__name__
            raise ConfigError(f"{name} must be a float tensor in [-1, 1], got {got}; convert it first")
        if t.ndim != 4 or t.shape[0] == 0 or t.shape[1] not in (1, 3) or min(t.shape[2:]) == 0:
            raise ConfigError(
                f"{name} must be non-empty (N, 1 or 3, H, W) images, got shape {tuple(t.shape)}; reshape it"
            )
    if pred.shape != target.shape:
        raise ConfigError(
            f"pred and target shapes differ ({tuple(pred.shape)} vs {tuple(target.shape)}); "
            "resize the prediction to the target's size"
        )
    for name, t in (("pred", pred), ("target", target)):
        if not bool(torch.isfinite(t).all()):
            raise GankitError(f"{name} contains NaN or inf values; check the model output")
    return pred.detach(), target.detach().to(pred.device)


def _device64(device: torch.device) -> torch.device:
    """``device``, or the CPU where float64 is unsupported (MPS)."""
    return torch.device("cpu") if device.type == "mps" else device


def _levels(x: Tensor) -> Tensor:
    """[-1, 1] -> uint8 levels 0..255 as float64, rounded exactly like ``monitor.images.to_uint8``."""
    q = ((x.float().clamp(-1, 1) + 1) * 127.5).round()
    return q.to(device=_device64(x.device), dtype=torch.float64)


def _crop_border(x: Tensor, border: int) -> Tensor:
    """``x`` without ``border`` pixels on each edge (validated to leave at least 1 x 1)."""
    if isinstance(border, bool) or not isinstance(border, int) or border < 0:
        raise ConfigError(f"border must be an int >= 0, got {border!r}; pass the SR scale or 0")
    h, w = x.shape[-2:]
    if 2 * border >= min(h, w):
        raise ConfigError(f"border={border} crops away the whole {h}x{w} image; lower border")
    return x[..., border : h - border, border : w - border] if border else x


def to_luma(x: Tensor) -> Tensor:
    """Luma Y of ITU-R BT.601 as MATLAB's ``rgb2ycbcr``: ``(N, 3|1, H, W)`` levels 0..255 -> ``(N, 1, H, W)``.

    ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` for R, G, B on the 0..255 scale (white 235,
    black 16), not rounded. One-channel input is returned as is (already gray levels).
    """
    if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ConfigError(f"to_luma needs (N, 1 or 3, H, W) images, got {getattr(x, 'shape', type(x))}; reshape it")
    if x.shape[1] == 1:
        return x
    x = x.to(device=_device64(x.device), dtype=torch.float64)
    r, g, b = x.unbind(dim=1)
    return (16.0 + (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b) / 255.0).unsqueeze(1)


def _prepared(pred: Tensor, target: Tensor, y_channel: bool, border: int) -> Tuple[Tensor, Tensor]:
    """Both images as float64 uint8 levels, optionally as luma, border cropped."""
    p, t = _check_pair(pred, target)
    p, t = _levels(p), _levels(t)
    if y_channel:
        p, t = to_luma(p), to_luma(t)
    return _crop_border(p, border), _crop_border(t, border)


def l1(pred: Tensor, target: Tensor, border: int = 0) -> Tensor:
    """Per-image mean absolute error in [0, 1] units (on ``(x + 1) / 2``), unquantised, float64."""
    p, t = _check_pair(pred, target)
    dev = _device64(p.device)
    p, t = p.to(dev, torch.float64), t.to(dev, torch.float64)
    diff = _crop_border((p - t).abs() / 2, border)
    return diff.flatten(1).mean(dim=1).cpu()


def psnr(pred: Tensor, target: Tensor, y_channel: bool = False, border: int = 0) -> Tensor:
    """Per-image PSNR in dB on uint8 levels (data range 255), over all channels or luma Y; +inf when equal."""
    p, t = _prepared(pred, target, y_channel, border)
    mse = (p - t).square().flatten(1).mean(dim=1)
    return (10.0 * torch.log10(DATA_RANGE**2 / mse)).cpu()


def _gaussian_window(device: torch.device) -> Tensor:
    """Normalised 1-D Gaussian (11 taps, sigma 1.5) in float64; the 2-D window is its outer product."""
    k = torch.arange(SSIM_WINDOW, dtype=torch.float64, device=device) - (SSIM_WINDOW - 1) / 2
    g = torch.exp(-(k**2) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def ssim_valid(a: Tensor, b: Tensor, g: Tensor, data_range: float, sample_covariance: bool = False) -> Tensor:
    """Mean SSIM over the valid region and the channels of each ``(N, C, H, W)`` float64 image pair.

    ``g`` is the 1-D window (the 2-D one is its outer product); ``sample_covariance`` scales the
    (co)variances by k / (k - 1) for a window of k pixels, as scikit-image does by default."""
    n, c = a.shape[:2]
    stack = torch.stack([a, b, a * a, b * b, a * b]).flatten(0, 2).unsqueeze(1)  # (5NC, 1, H, W)
    filt = F.conv2d(F.conv2d(stack, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1))  # separable, no padding
    mu_a, mu_b, e_aa, e_bb, e_ab = filt.view(5, n, c, *filt.shape[-2:])
    k = g.numel() ** 2
    norm = k / (k - 1) if sample_covariance else 1.0
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    var_a, var_b, cov = norm * (e_aa - mu_a**2), norm * (e_bb - mu_b**2), norm * (e_ab - mu_a * mu_b)
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return (num / den).flatten(1).mean(1)


def ssim(pred: Tensor, target: Tensor, y_channel: bool = False, border: int = 0) -> Tensor:
    """Per-image SSIM (Wang et al. 2004) on uint8 levels, float64.

    11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, L = 255, on the valid region only (no
    padding, as MATLAB's ``ssim_index`` and the common SR evaluation code); RGB is averaged over
    channels unless ``y_channel``. Images one at a time, so memory is a few copies of one image.
    """
    p, t = _prepared(pred, target, y_channel, border)
    h, w = p.shape[-2:]
    if min(h, w) < SSIM_WINDOW:
        raise ConfigError(
            f"ssim needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} after cropping the border, got {h}x{w}; "
            "lower border or use psnr"
        )
    g = _gaussian_window(p.device)
    return torch.cat([ssim_valid(a[None], b[None], g, DATA_RANGE) for a, b in zip(p, t)]).cpu()


def psnr_y(pred: Tensor, target: Tensor, border: int = 0) -> Tensor:
    """:func:`psnr` on the BT.601 luma Y (the SR convention)."""
    return psnr(pred, target, y_channel=True, border=border)


def ssim_y(pred: Tensor, target: Tensor, border: int = 0) -> Tensor:
    """:func:`ssim` on the BT.601 luma Y (the SR convention)."""
    return ssim(pred, target, y_channel=True, border=border)


PAIRED_METRICS: Dict[str, Callable[..., Tensor]] = {
    "l1": l1,
    "psnr": psnr,
    "ssim": ssim,
    "psnr_y": psnr_y,
    "ssim_y": ssim_y,
}

# True when lower is better
DIRECTION: Dict[str, bool] = {"l1": True, "psnr": False, "ssim": False, "psnr_y": False, "ssim_y": False}


def paired_scores(pred: Tensor, target: Tensor, names: Union[str, Iterable[str]], border: int = 0) -> Dict[str, float]:
    """Mean of each named metric of :data:`PAIRED_METRICS` over the images, as ``{name: float}``."""
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in PAIRED_METRICS]
    if unknown:
        raise ConfigError(f"unknown paired metric(s) {unknown}; choose from {sorted(PAIRED_METRICS)}")
    scores = {}
    for name in names:
        scores[name] = float(PAIRED_METRICS[name](pred, target, border=border).mean())  # psnr: inf if a pair is equal
    return scores


__all__ = [
    "DIRECTION",
    "PAIRED_METRICS",
    "l1",
    "paired_scores",
    "psnr",
    "psnr_y",
    "ssim",
    "ssim_y",
    "to_luma",
]
