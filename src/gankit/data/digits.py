"""The 1,797 8x8 handwritten digits bundled with scikit-learn (available offline).

Pixels 0..16 map linearly to [-1, 1]; labels are 0-9. There is no test split: `split`
is not used and all images are returned. A `size` other than 8 resizes bilinearly
(antialiased, align_corners=False): upsampling gives smooth rather than blocky strokes,
which suits conv nets built for 16x16 or 32x32 input, and keeps values in [-1, 1].
"""

from __future__ import annotations

import torch

from gankit.data.base import Dataset, image_dataset, subset_indices, to_unit_range
from gankit.errors import DataError

CLASS_NAMES = [str(i) for i in range(10)]


def digits(*, size: int | None = None, channels: int | None = None, n: int | None = None,
           seed: int = 0) -> Dataset:
    """Load sklearn's digits as (N, C, size, size) images in [-1, 1]; `n` caps to a seeded random subset."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise DataError("the digits source needs scikit-learn: pip install scikit-learn") from e
    bunch = load_digits()
    x = to_unit_range(torch.from_numpy(bunch.images), 16).unsqueeze(1)
    y = torch.from_numpy(bunch.target).long()
    idx = subset_indices(len(y), n, seed)
    if idx is not None:
        x, y = x[idx], y[idx]
    info = {"source": "sklearn.datasets.load_digits", "original_size": [8, 8]}
    return image_dataset(x, y, name="digits", class_names=CLASS_NAMES, size=size, channels=channels, info=info)
