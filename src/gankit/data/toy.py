"""2-D Gaussian mixtures of the PacGAN protocol (Lin et al., 2018).

ring: 8 modes at (cos 2*pi*i/8, sin 2*pi*i/8), i = 0..7, std 0.01.
grid: 25 modes at (i, j) for i, j in {-4, -2, 0, 2, 4}, std 0.05.
Modes are chosen uniformly; y is the mode index.
"""

from __future__ import annotations

import math

import torch

from gankit.data.base import Dataset
from gankit.errors import DataError

MIXTURES = ("ring", "grid")
_STD = {"ring": 0.01, "grid": 0.05}
DEFAULT_N = 100_000


def _check(name: str) -> None:
    if name not in MIXTURES:
        raise DataError(f"unknown mixture '{name}': use one of {', '.join(MIXTURES)}")


def mixture_means(name: str) -> torch.Tensor:
    """The (K, 2) float32 mode centres of mixture `name`."""
    _check(name)
    if name == "ring":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        means = torch.stack([angles.cos(), angles.sin()], dim=1)
    else:
        axis = torch.arange(-4, 5, 2, dtype=torch.float64)
        means = torch.cartesian_prod(axis, axis)
    return means.float()


def mixture_std(name: str) -> float:
    """The per-coordinate standard deviation of every mode of mixture `name`."""
    _check(name)
    return _STD[name]


def mixture(name: str, *, n: int | None = None, seed: int = 0) -> Dataset:
    """Sample `n` points (default 100,000) of mixture `name` with a generator seeded by `seed`."""
    means, std = mixture_means(name), mixture_std(name)
    n = n or DEFAULT_N
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(len(means), (n,), generator=g)
    x = means[y] + std * torch.randn(n, 2, generator=g)
    info = {"means": means.tolist(), "std": std, "modes": len(means), "protocol": "PacGAN"}
    return Dataset(x=x, y=y, kind="points", name=name, num_classes=len(means),
                   class_names=[str(i) for i in range(len(means))], info=info)


def ring(*, n: int | None = None, seed: int = 0) -> Dataset:
    """8 Gaussians on the unit circle, std 0.01."""
    return mixture("ring", n=n, seed=seed)


def grid(*, n: int | None = None, seed: int = 0) -> Dataset:
    """5 x 5 grid of Gaussians at even coordinates -4..4, std 0.05."""
    return mixture("grid", n=n, seed=seed)
