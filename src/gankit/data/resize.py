"""Bicubic resizing by MATLAB's ``imresize`` convention: the LR images of the super-resolution literature.

``imresize(hr, scale=1/s)`` reproduces MATLAB's ``imresize(hr, 1/s, 'bicubic')``: Keys' cubic kernel
(a = -0.5); when downscaling it is stretched by 1/scale (antialiasing, 4/scale taps); output pixel i
(1-based) samples input coordinate ``u = i/scale + 0.5 (1 - 1/scale)`` (pixel centres aligned, as
``align_corners=False``); weights are normalised to sum 1 per output pixel; indices past an edge are
mirrored (``x[-k] = x[k-1]``, MATLAB's symmetric padding); each dimension is resized separately, the one
with the smaller scale first (rows first on a tie); float64 throughout, uint8 rounded (half away from
zero) and clamped only at the end. Output size is ``ceil(scale * input size)``.

Versus ``torch.nn.functional.interpolate(mode="bicubic", antialias=True, align_corners=False)`` (and
PIL's ``BICUBIC``): the interior is the same kernel and coordinate mapping, but at the borders those
truncate the kernel to the image and renormalise it, where MATLAB mirrors the image; so the first and last
few pixels (the kernel's reach) differ. (Without ``antialias`` torch's bicubic uses a = -0.75.)
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Optional, Tuple

import torch
from torch import Tensor

from gankit.errors import DataError

LR_KERNEL = "matlab-bicubic"  # how bicubic_lr makes LR images, as recorded in data info
_CUBIC_SUPPORT = 4.0  # kernel width in (input) pixels before stretching


def _cubic(x: Tensor) -> Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (support [-2, 2])."""
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    near = 1.5 * ax3 - 2.5 * ax2 + 1.0
    far = -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    return torch.where(ax <= 1, near, torch.where(ax <= 2, far, torch.zeros_like(ax)))


def _contributions(in_len: int, out_len: int, scale: float) -> Tuple[Tensor, Tensor]:
    """``(index, weight)`` of shape (out_len, taps): 0-based mirrored input indices and float64 weights."""
    width = _CUBIC_SUPPORT / scale if scale < 1 else _CUBIC_SUPPORT
    pos = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = pos / scale + 0.5 * (1 - 1 / scale)  # 1-based input coordinate of each output pixel
    left = torch.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)  # 1-based, may fall outside 1..in_len
    dist = u[:, None] - idx
    w = scale * _cubic(scale * dist) if scale < 1 else _cubic(dist)
    w = w / w.sum(dim=1, keepdim=True)
    j = (idx.long() - 1).remainder(2 * in_len)  # symmetric mirror: period 2n, second half reversed
    j = torch.where(j >= in_len, 2 * in_len - 1 - j, j)
    keep = (w != 0).any(dim=0)  # drop all-zero columns (MATLAB does too; the result is the same)
    return j[:, keep], w[:, keep]


def _resize_dim(x: Tensor, dim: int, out_len: int, scale: float) -> Tensor:
    """Resize float64 ``x`` along ``dim`` by a gathered weighted sum (memory O(out * taps * rest))."""
    idx, w = _contributions(x.shape[dim], out_len, scale)
    xt = x.movedim(dim, -1)
    y = (xt[..., idx.to(x.device)] * w.to(x.device)).sum(dim=-1)  # (..., out_len, taps) -> (..., out_len)
    return y.movedim(-1, dim)


def _check_image(x: object, what: str) -> None:
    """One-line DataError unless ``x`` is a non-empty uint8 or float (C, H, W) / (N, C, H, W) tensor."""
    if not isinstance(x, Tensor):
        raise DataError(f"{what} needs a torch tensor, got {type(x).__name__}; pass a (C, H, W) or (N, C, H, W) tensor")
    if x.ndim not in (3, 4):
        raise DataError(f"{what} needs a (C, H, W) or (N, C, H, W) tensor, got shape {tuple(x.shape)}; reshape it")
    if not (x.dtype == torch.uint8 or x.is_floating_point()):
        raise DataError(f"{what} needs a uint8 or floating tensor, got {x.dtype}; convert it first")
    if x.numel() == 0:
        raise DataError(f"{what} got an empty image of shape {tuple(x.shape)}; pass at least one 1x1 pixel")


def _is_number(v: object) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def imresize(x: Tensor, scale: Optional[float] = None, size: Optional[Tuple[int, int]] = None) -> Tensor:
    """MATLAB's ``imresize(x, scale, 'bicubic')`` (or ``imresize(x, [h w], ...)``) on the last two dims.

    ``x``: (C, H, W) or (N, C, H, W), uint8 (result uint8, rounded half away from zero and clamped to
    0..255) or floating (result in the same dtype, unclamped). Pass exactly one of ``scale`` (> 0, both
    dims; output ``ceil(scale * H) x ceil(scale * W)``) or ``size`` = (height, width), whose per-dim scales
    are out / in.
    """
    _check_image(x, "imresize")
    h, w = x.shape[-2:]
    if (scale is None) == (size is None):
        raise DataError("imresize needs exactly one of scale= (a factor, e.g. 0.25) or size= (height, width)")
    if scale is not None:
        if not _is_number(scale) or not math.isfinite(scale) or scale <= 0:
            raise DataError(f"imresize scale must be a finite number > 0, got {scale!r}; pass e.g. scale=0.25")
        scale = float(scale)
        # ceil, tolerating float noise such as 3 * (1 / 3) slightly above an integer
        out_h, out_w = (int(math.ceil(n * scale - 1e-9 * max(1.0, n * scale))) for n in (h, w))
        scales = (scale, scale)
    else:
        ok = isinstance(size, (tuple, list)) and len(size) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
        if not ok:
            raise DataError(f"imresize size must be (height, width), two ints > 0, got {size!r}; "
                            "pass e.g. size=(64, 64)")
        out_h, out_w = int(size[0]), int(size[1])
        scales = (out_h / h, out_w / w)
    device = torch.device("cpu") if x.device.type == "mps" else x.device  # no float64 on MPS
    y = x.to(device=device, dtype=torch.float64)
    passes = [(-2, out_h, scales[0]), (-1, out_w, scales[1])]
    if scales[1] < scales[0]:
        passes.reverse()  # MATLAB: the dimension with the smaller scale first
    for dim, out_len, s in passes:
        y = _resize_dim(y, dim, out_len, s)
    if x.dtype == torch.uint8:
        return torch.floor(y.clamp(0, 255) + 0.5).to(device=x.device, dtype=torch.uint8)
    return y.to(device=x.device, dtype=x.dtype)


def modcrop(x: Tensor, scale: int) -> Tensor:
    """``x`` (..., H, W) cropped from the top-left to H and W multiples of ``scale`` (SR evaluation's modcrop)."""
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise DataError(f"modcrop scale must be an int >= 1, got {scale!r}; pass the SR factor, e.g. 4")
    if not isinstance(x, Tensor) or x.ndim < 2:
        raise DataError(f"modcrop needs a (..., H, W) tensor, got {getattr(x, 'shape', type(x).__name__)}; reshape it")
    h, w = x.shape[-2:]
    return x[..., : h - h % scale, : w - w % scale]


def bicubic_lr(hr_uint8: Tensor, scale: int) -> Tuple[Tensor, Tensor]:
    """``(hr, lr)``: the (C, H, W) uint8 HR image modcropped to ``scale`` and its uint8 ``imresize(hr, 1/scale)``."""
    if not isinstance(hr_uint8, Tensor) or hr_uint8.dtype != torch.uint8 or hr_uint8.ndim != 3:
        got = f"{hr_uint8.dtype} {tuple(hr_uint8.shape)}" if isinstance(hr_uint8, Tensor) else type(hr_uint8).__name__
        raise DataError(f"bicubic_lr needs a uint8 (C, H, W) HR image, got {got}; convert it first")
    hr = modcrop(hr_uint8, scale)
    if hr.numel() == 0:
        raise DataError(f"HR image of shape {tuple(hr_uint8.shape)} is smaller than scale={scale} px; "
                        "use a larger image")
    return hr, imresize(hr, scale=1 / scale)


__all__ = ["LR_KERNEL", "bicubic_lr", "imresize", "modcrop"]
