"""Feature-space sample-quality metrics: FID, KID, precision/recall, density/coverage.

All functions take ``(N, D)`` feature matrices (torch tensors or numpy arrays) and are
agnostic of the network that produced the features.
"""

from __future__ import annotations

from typing import Iterator, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from gankit.errors import ConfigError, GankitError
from gankit.metrics import register

ArrayLike = Union[Tensor, np.ndarray]

_CHUNK = 1024  # rows per torch.cdist block: keeps 10k x 10k k-NN searches at ~40 MB per block


def as_matrix(
    x: ArrayLike, name: str, *, dtype: Optional[torch.dtype] = None, check_finite: bool = True
) -> Tensor:
    """Return ``x`` as a floating ``(N, D)`` tensor (on its own device), validating shape and values."""
    t = x.detach() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise ConfigError(f"{name} must be a non-empty (N, D) matrix, got shape {tuple(t.shape)}; reshape it to 2-D")
    if dtype is None:
        dtype = t.dtype if t.dtype in (torch.float32, torch.float64) else torch.float32
    t = t.to(dtype)
    if check_finite and not bool(torch.isfinite(t).all()):
        raise GankitError(f"{name} contains NaN or inf values; check the model or feature extractor output")
    return t


def _np64(x: ArrayLike, name: str) -> np.ndarray:
    """Any tensor/array as a finite float64 numpy array."""
    a = x.detach().cpu().double().numpy() if isinstance(x, Tensor) else np.asarray(x, dtype=np.float64)
    if not np.isfinite(a).all():
        raise GankitError(f"{name} contains NaN or inf values; recompute the feature statistics")
    return a


def _pair(real: ArrayLike, fake: ArrayLike, names: Tuple[str, str]) -> Tuple[Tensor, Tensor]:
    """Two feature matrices with matching width, common dtype and device."""
    a, b = as_matrix(real, names[0]), as_matrix(fake, names[1])
    if a.shape[1] != b.shape[1]:
        raise ConfigError(
            f"{names[0]} and {names[1]} have different feature sizes ({a.shape[1]} vs {b.shape[1]}); "
            "extract both with the same network"
        )
    dtype = torch.promote_types(a.dtype, b.dtype)
    return a.to(dtype), b.to(device=a.device, dtype=dtype)


def feature_stats(features: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and unbiased (N-1) covariance ``(D, D)`` of a feature matrix, in float64."""
    x = as_matrix(features, "features", dtype=torch.float64).cpu().numpy()
    if x.shape[0] < 2:
        raise ConfigError(f"feature_stats needs at least 2 samples, got {x.shape[0]}; pass more samples")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def _psd_sqrt(s: np.ndarray, name: str) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix (tiny negative eigenvalues clipped)."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    if w[0] < -1e-6 * max(abs(w[-1]), 1e-30):
        raise ConfigError(f"{name} is not positive semi-definite (eigenvalue {w[0]:.3g}); pass a covariance matrix")
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """``Tr sqrt(S1 S2)`` as the sum of sqrt-eigenvalues of the symmetric PSD ``sqrt(S1) S2 sqrt(S1)``."""
    r1 = _psd_sqrt(s1, "sigma1")
    _psd_sqrt(s2, "sigma2")  # validates sigma2 only
    m = r1 @ s2 @ r1
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(ev, 0.0, None)).sum())


@register("fid")
def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Fréchet distance ``||mu1-mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2))`` between two Gaussians, in float64.

    ``S1 S2`` is similar to the symmetric PSD matrix ``sqrt(S1) S2 sqrt(S1)``, so ``Tr sqrt(S1 S2)`` is
    computed from the eigenvalues of the latter (``eigh``). Unlike ``scipy.linalg.sqrtm`` of the
    non-symmetric product, this never yields complex parts or fails on singular covariances
    (e.g. fewer samples than feature dimensions). Round-off negatives are clipped to 0.
    """
    m1, m2 = _np64(mu1, "mu1"), _np64(mu2, "mu2")
    s1, s2 = _np64(sigma1, "sigma1"), _np64(sigma2, "sigma2")
    d = m1.shape[0] if m1.ndim == 1 else -1
    if d < 1 or m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ConfigError(
            f"frechet_distance needs mu (D,) and sigma (D, D) of equal D, got {m1.shape}, {s1.shape}, "
            f"{m2.shape}, {s2.shape}; compute both with feature_stats"
        )
    diff = m1 - m2
    fd = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * _trace_sqrt_product(s1, s2)
    return max(float(fd), 0.0)


def _unbiased_mmd2(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    """Unbiased MMD^2 estimate from square kernel matrices (diagonals of Kxx, Kyy dropped)."""
    m = kxx.shape[0]
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2.0 * kxy.sum() / (m * m))


@register("kid")
def kid(
    features1: ArrayLike,
    features2: ArrayLike,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: Optional[float] = None,
    coef0: float = 1,
    seed: int = 0,
) -> Tuple[float, Optional[float]]:
    """Kernel Inception Distance (Binkowski et al. 2018): mean and std of the unbiased MMD^2.

    Kernel ``k(x, y) = (gamma x.y + coef0)^degree`` with ``gamma = 1/D`` by default. Each of
    ``subsets`` rounds draws ``subset_size`` rows from each set without replacement
    (``np.random.RandomState(seed)``, same draw order as torch-fidelity). Std is the population
    std (ddof=0), as in torch-fidelity; it is None when ``subset_size`` equals both sample counts
    (every subset is then the whole of both sets, so the rounds differ by round-off only, e.g. 2e-16).
    Computed in float64.
    """
    a, b = _pair(features1, features2, ("features1", "features2"))
    x, y = a.double().cpu().numpy(), b.double().cpu().numpy()
    if subsets < 1 or subset_size < 2:
        raise ConfigError(f"kid needs subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    if subset_size > min(len(x), len(y)):
        raise ConfigError(
            f"kid subset_size={subset_size} exceeds the sample count ({len(x)}, {len(y)}); "
            "lower subset_size or pass more samples"
        )
    g = 1.0 / x.shape[1] if gamma is None else float(gamma)

    def kernel(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return (g * (p @ q.T) + coef0) ** degree

    rng = np.random.RandomState(seed)
    mmds = np.empty(subsets)
    for i in range(subsets):
        xs = x[rng.choice(len(x), subset_size, replace=False)]
        ys = y[rng.choice(len(y), subset_size, replace=False)]
        mmds[i] = _unbiased_mmd2(kernel(xs, xs), kernel(ys, ys), kernel(xs, ys))
    whole = subset_size == len(x) == len(y)
    return float(mmds.mean()), None if whole else float(mmds.std())


def _kth_nn_radii(x: Tensor, k: int, name: str) -> Tensor:
    """Distance from each row of ``x`` to its k-th nearest *other* row."""
    if not 1 <= k < len(x):
        raise ConfigError(f"k={k} needs 1 <= k < number of {name} samples ({len(x)}); lower k or pass more samples")
    return torch.cat([torch.cdist(c, x).topk(k + 1, dim=1, largest=False).values[:, k] for c in x.split(_CHUNK)])


def _distance_blocks(real: Tensor, fake: Tensor) -> Iterator[Tuple[slice, Tensor]]:
    """Yield ``(rows, cdist(real[rows], fake))`` for consecutive blocks of real rows."""
    for start in range(0, len(real), _CHUNK):
        rows = slice(start, start + _CHUNK)
        yield rows, torch.cdist(real[rows], fake)


@register("precision_recall")
def precision_recall(real_features: ArrayLike, fake_features: ArrayLike, *, k: int = 3) -> Tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of closed balls around its samples with radius the distance
    to the sample's k-th nearest neighbour. Precision: fraction of fake samples inside the real
    manifold; recall: fraction of real samples inside the fake manifold.
    """
    real, fake = _pair(real_features, fake_features, ("real_features", "fake_features"))
    r_real, r_fake = _kth_nn_radii(real, k, "real"), _kth_nn_radii(fake, k, "fake")
    fake_inside = torch.zeros(len(fake), dtype=torch.bool, device=fake.device)
    real_inside = []
    for rows, d in _distance_blocks(real, fake):
        fake_inside |= (d <= r_real[rows, None]).any(dim=0)
        real_inside.append((d <= r_fake).any(dim=1))
    return float(fake_inside.double().mean()), float(torch.cat(real_inside).double().mean())


@register("density_coverage")
def density_coverage(real_features: ArrayLike, fake_features: ArrayLike, *, k: int = 5) -> Tuple[float, float]:
    """Density and coverage (Naeem et al. 2020), with open k-NN balls around the real samples only.

    Density: number of (fake, real-ball) containments divided by ``k * n_fake`` (about 1 when the
    sets match, can exceed 1). Coverage: fraction of real balls that contain at least one fake sample.
    """
    real, fake = _pair(real_features, fake_features, ("real_features", "fake_features"))
    radii = _kth_nn_radii(real, k, "real")
    contained, covered = 0, 0
    for rows, d in _distance_blocks(real, fake):
        inside = d < radii[rows, None]
        contained += int(inside.sum())
        covered += int(inside.any(dim=1).sum())
    return contained / (k * len(fake)), covered / len(real)


__all__ = [
    "as_matrix",
    "density_coverage",
    "feature_stats",
    "frechet_distance",
    "kid",
    "precision_recall",
]
