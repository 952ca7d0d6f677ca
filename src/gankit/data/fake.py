"""Random images like torchvision's FakeData, for speed measurements without a data set."""

from __future__ import annotations

import torch

from gankit.data.base import Dataset, image_dataset

NUM_CLASSES = 10


def fake(*, size: int | None = None, channels: int | None = None, n: int | None = None,
         seed: int = 0) -> Dataset:
    """`n` (default 1,000) uniform [-1, 1] images of `channels` x `size` x `size` (default 3 x 64 x 64), labels 0-9."""
    size, channels, n = size or 64, channels or 3, n or 1_000
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, channels, size, size, generator=g) * 2 - 1
    y = torch.randint(NUM_CLASSES, (n,), generator=g)
    names = [str(i) for i in range(NUM_CLASSES)]
    return image_dataset(x, y, name="fake", class_names=names, info={"seed": seed})
