"""The Dataset container and the image helpers shared by the sources."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import torch
import torch.nn.functional as F

_GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, as PIL's "L" conversion


@dataclass
class Dataset:
    """An in-memory data set: images (N, C, H, W) in [-1, 1] or 2-D points (N, 2)."""

    x: torch.Tensor
    y: torch.Tensor | None
    kind: str
    name: str
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        """Per-sample shape, x.shape[1:]."""
        return tuple(self.x.shape[1:])

    def batches(self, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        """A resumable source of shuffled batches {"image"|"points": x, "label": y} (see gankit.data.batches)."""
        from gankit.data.batches import tensor_batches

        return tensor_batches(self.x, self.y, batch_size, seed, rank, world)

    def to(self, device: torch.device | str) -> Dataset:
        """A copy with x (and y) on `device`."""
        y = None if self.y is None else self.y.to(device)
        return replace(self, x=self.x.to(device), y=y)


def to_unit_range(x: torch.Tensor, max_value: float) -> torch.Tensor:
    """Map pixel values in [0, max_value] linearly to float32 in [-1, 1] (both ends exact)."""
    return x.to(torch.float32) / (max_value / 2) - 1


def resize_images(x: torch.Tensor, size: int, chunk: int = 2048) -> torch.Tensor:
    """Scale (N, C, H, W) in [-1, 1] so the shorter side is `size` (bilinear, antialiased), centre-crop to size x size."""
    h, w = x.shape[-2:]
    if (h, w) == (size, size):
        return x
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    top, left = (nh - size) // 2, (nw - size) // 2
    out = torch.empty(x.shape[0], x.shape[1], size, size, dtype=torch.float32)
    for i in range(0, x.shape[0], chunk):
        part = F.interpolate(x[i:i + chunk].float(), size=(nh, nw), mode="bilinear",
                             antialias=True, align_corners=False)
        out[i:i + chunk] = part[..., top:top + size, left:left + size]
    return out.clamp_(-1, 1)


def convert_channels(x: torch.Tensor, channels: int | None) -> torch.Tensor:
    """Force 1 (luma of RGB) or 3 (replicated gray) channels on (N, C, H, W); None keeps x."""
    if channels is None or x.shape[1] == channels:
        return x
    if channels == 3:
        return x.expand(-1, 3, -1, -1).contiguous()
    weights = torch.tensor(_GRAY_WEIGHTS, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def subset_indices(total: int, n: int | None, seed: int) -> torch.Tensor | None:
    """Sorted indices of a seeded random subset of `n` out of `total` items; None when all are kept."""
    if n is None or n >= total:
        return None
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=g)[:n].sort().values


def image_dataset(x: torch.Tensor, y: torch.Tensor | None, *, name: str, class_names: Sequence[str] = (),
                  size: int | None = None, channels: int | None = None, info: dict | None = None) -> Dataset:
    """Resize/convert images already in [-1, 1] and wrap them in an image Dataset."""
    if size is not None:
        x = resize_images(x, size)
    x = convert_channels(x, channels).contiguous()
    names = list(class_names) if y is not None else []
    info = {**(info or {}), "size": list(x.shape[-2:]), "channels": x.shape[1]}
    return Dataset(x=x, y=y, kind="image", name=name, num_classes=len(names), class_names=names, info=info)
