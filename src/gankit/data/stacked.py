"""Stacked MNIST (VEEGAN / PacGAN protocol): each image stacks three independent random MNIST
digits as its R, G, B channels; its label is 100*d1 + 10*d2 + d3 (1000 modes)."""
from __future__ import annotations

from typing import Optional

import torch

from gankit.data.base import Dataset, image_dataset
from gankit.data.idx import MNIST, load_idx
from gankit.errors import DataError

NUM_MODES = 1000
DEFAULT_N = {"train": 128_000, "test": 10_000}
PLACE = torch.tensor([100, 10, 1])


def stacked_mnist(*, dir: Optional[str] = None, split: str = "train", size: Optional[int] = None,
                  channels: Optional[int] = None, n: Optional[int] = None, seed: int = 0,
                  download: bool = False) -> Dataset:
    """`n` (default 128,000 train / 10,000 test) 3-channel images of random digits from MNIST `split`."""
    if channels == 1:
        raise DataError("stacked-mnist images have 3 channels (one digit each): drop data.channels or set it to 3")
    n = n or DEFAULT_N[split]
    base = load_idx(MNIST, dir=dir, split=split, download=download)
    idx = torch.randint(len(base), (n, 3), generator=torch.Generator().manual_seed(seed))
    x = base.x[:, 0][idx]  # (n, 3, 28, 28)
    y = (base.y[idx] * PLACE).sum(1)
    info = {"split": split, "files": base.info["files"], "stacked_from": len(base)}
    return image_dataset(x, y, name="stacked-mnist", class_names=[f"{i:03d}" for i in range(NUM_MODES)],
                         size=size, info=info)
