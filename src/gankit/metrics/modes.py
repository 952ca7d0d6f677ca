"""Mode coverage on Gaussian mixtures (ring / grid), following the PacGAN protocol (Lin et al. 2018).

Protocol: draw ``PACGAN_NUM_SAMPLES`` (2,500) generated points; assign each to its nearest mean
(Euclidean). A point is *high quality* (HQ) when that distance is below ``HQ_STDS`` (3) standard
deviations (strict ``<``, as in the PacGAN code). A mode is *covered* when at least one HQ point is
assigned to it. The *reverse KL* is ``KL(p || uniform) = sum_i p_i log(K p_i)`` where ``p`` is the
histogram of HQ points over the K modes, normalised by the number of HQ points (``0 log 0 = 0``).
When no point is HQ the reverse KL is defined as ``log K``, the value of total collapse.
Non-finite points are never HQ.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Union

import numpy as np
import torch
from torch import Tensor

from gankit.checkpoint import atomic_write_bytes
from gankit.errors import ConfigError
from gankit.metrics import register
from gankit.metrics.frechet import as_matrix

ArrayLike = Union[Tensor, np.ndarray]

PACGAN_NUM_SAMPLES = 2500
HQ_STDS = 3.0


@dataclass
class ModeReport:
    """Result of :func:`mode_report`."""

    modes: int  # modes covered by at least one HQ point
    num_modes: int  # K, modes of the mixture
    hq_fraction: float  # HQ points / n
    reverse_kl: float  # KL(HQ mode histogram || uniform), nats
    n: int  # points evaluated

    def as_dict(self) -> Dict[str, Any]:
        """Plain dict of the fields (for logging / JSON)."""
        return asdict(self)


def _reverse_kl(counts: np.ndarray) -> float:
    """``KL(counts / counts.sum() || uniform)``; ``log K`` when all counts are zero."""
    total, k = counts.sum(), len(counts)
    if total == 0:
        return math.log(k)
    p = counts[counts > 0] / total
    return max(float(np.sum(p * np.log(p * k))), 0.0)


def mode_report(points: ArrayLike, means: ArrayLike, std: float) -> ModeReport:
    """Mode coverage, HQ fraction and reverse KL of ``points`` (N, D) for a mixture with ``means`` (K, D)."""
    mu = as_matrix(means, "means", dtype=torch.float64)
    x = as_matrix(points, "points", dtype=torch.float64, check_finite=False)
    if x.shape[1] != mu.shape[1]:
        raise ConfigError(
            f"points have {x.shape[1]} dims but means have {mu.shape[1]}; pass points of the mixture's space"
        )
    if not (math.isfinite(std) and std > 0):
        raise ConfigError(f"std must be a positive finite number, got {std}")
    dist = torch.cdist(x, mu.to(x.device), compute_mode="donot_use_mm_for_euclid_dist")
    nearest_dist, nearest = dist.min(dim=1)
    hq = nearest_dist < HQ_STDS * std  # NaN compares False
    counts = torch.bincount(nearest[hq], minlength=len(mu)).cpu().numpy()
    return ModeReport(
        modes=int((counts > 0).sum()),
        num_modes=len(mu),
        hq_fraction=float(hq.double().mean()),
        reverse_kl=_reverse_kl(counts),
        n=len(x),
    )


@register("modes")
def mixture_mode_report(points: ArrayLike, mixture: str) -> ModeReport:
    """:func:`mode_report` for a named toy mixture (``"ring"`` or ``"grid"``)."""
    from gankit.data.toy import mixture_means, mixture_std  # lazy: data module is optional here

    return mode_report(points, mixture_means(mixture), mixture_std(mixture))


def scatter_plot(points: ArrayLike, means: ArrayLike, path: Union[str, os.PathLike], *, title: str = "") -> None:
    """Write a PNG of 2-D samples (small dots) and true means (red crosses), atomically.

    The view is fixed around the means (padding ``max(1, span/4)``) so frames of a run are comparable.
    """
    x = as_matrix(points, "points", check_finite=False).cpu().numpy()
    mu = as_matrix(means, "means").cpu().numpy()
    if x.shape[1] != 2 or mu.shape[1] != 2:
        raise ConfigError(f"scatter_plot needs 2-D points and means, got {x.shape[1]}-D and {mu.shape[1]}-D")
    from matplotlib.figure import Figure  # lazy: no pyplot, no global backend state

    fig = Figure(figsize=(5, 5), dpi=100)
    ax = fig.add_subplot()
    ax.scatter(x[:, 0], x[:, 1], s=2, c="black", alpha=0.3, linewidths=0)
    ax.scatter(mu[:, 0], mu[:, 1], s=40, c="red", marker="x")
    lo, hi = mu.min(axis=0), mu.max(axis=0)
    pad = max(1.0, float((hi - lo).max()) / 4)
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    fig.tight_layout()

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(Path(path), buf.getvalue())


__all__ = ["HQ_STDS", "PACGAN_NUM_SAMPLES", "ModeReport", "mixture_mode_report", "mode_report", "scatter_plot"]
