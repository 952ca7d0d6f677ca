"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to real and fake before D.

Each transform draws its randomness per sample and is differentiable w.r.t. the images,
so generator gradients flow through it. Nothing here synchronises with the host.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import ConfigError
from gankit.losses import check_choice

AUGMENTS = ("color", "translation", "cutout")

TRANSLATION_RATIO = 0.125  # max shift per axis, as a fraction of the image size
CUTOUT_RATIO = 0.5  # side of the cut square, as a fraction of the image size


def parse_policy(policy: str) -> tuple[str, ...]:
    """Parse ``"color,translation,cutout"`` into a tuple of names; ``""`` gives ``()``."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    for name in names:
        check_choice("augment", name, AUGMENTS)
    return names


def _uniform(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """One U[0, 1) draw per sample, shaped (N, 1, 1, 1) to broadcast over an image batch."""
    device = generator.device if generator is not None else x.device
    r = torch.rand((x.shape[0], 1, 1, 1), generator=generator, device=device, dtype=x.dtype)
    return r.to(x.device)


def _randint(low: int, high: int, n: int, x: Tensor, generator: torch.Generator | None) -> Tensor:
    """``n`` integers in [low, high) on ``x``'s device."""
    device = generator.device if generator is not None else x.device
    return torch.randint(low, high, (n,), generator=generator, device=device).to(x.device)


def _scale(size: int, ratio: float) -> int:
    return int(size * ratio + 0.5)


def color(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Random brightness (+U(-0.5, 0.5)), saturation (x U(0, 2)) and contrast (x U(0.5, 1.5))."""
    x = x + (_uniform(x, generator) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(x, generator) * 2.0) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, generator) + 0.5) + mean


def translation(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Shift each image by up to 1/8 of its size per axis (integer pixels), filling with zeros."""
    n, c, h, w = x.shape
    sh, sw = _scale(h, TRANSLATION_RATIO), _scale(w, TRANSLATION_RATIO)
    dy = _randint(-sh, sh + 1, n, x, generator)
    dx = _randint(-sw, sw + 1, n, x, generator)
    padded = F.pad(x, (sw, sw, sh, sh))
    # out[i, j] = x[i - dy, j - dx], read from the padded image (offset by the pad width).
    rows = torch.arange(h, device=x.device) - dy[:, None] + sh  # (N, H)
    cols = torch.arange(w, device=x.device) - dx[:, None] + sw  # (N, W)
    padded = padded.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * sw))
    return padded.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def cutout(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Zero a square of half the image size per sample, centred uniformly (clipped at borders)."""
    n, _, h, w = x.shape
    ch, cw = _scale(h, CUTOUT_RATIO), _scale(w, CUTOUT_RATIO)
    top = _randint(0, h, n, x, generator) - ch // 2
    left = _randint(0, w, n, x, generator) - cw // 2
    rows = torch.arange(h, device=x.device) - top[:, None]  # (N, H): row offset into the square
    cols = torch.arange(w, device=x.device) - left[:, None]
    in_rows = (rows >= 0) & (rows < ch)
    in_cols = (cols >= 0) & (cols < cw)
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])  # (N, H, W)
    return x * keep[:, None].to(x.dtype)


_AUGMENTS: dict[str, Callable[[Tensor, torch.Generator | None], Tensor]] = {
    "color": color,
    "translation": translation,
    "cutout": cutout,
}


def diff_augment(
    x: Tensor, policy: Sequence[str] | str, generator: torch.Generator | None = None
) -> Tensor:
    """Apply the transforms named in ``policy`` in order; an empty policy returns ``x`` itself.

    ``policy`` is a tuple from :func:`parse_policy` (a comma-separated string is also accepted).
    Images only (N, C, H, W).
    """
    if isinstance(policy, str):
        policy = parse_policy(policy)
    if not policy:
        return x
    if x.dim() != 4:
        raise ConfigError(
            f"augment: DiffAugment needs images (N, C, H, W), got shape {tuple(x.shape)}; "
            "set augment to '' for non-image data"
        )
    for name in policy:
        x = _AUGMENTS[check_choice("augment", name, AUGMENTS)](x, generator)
    return x
