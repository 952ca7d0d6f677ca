"""Tests for gankit.metrics.frechet (FID / KID / precision-recall / density-coverage math)."""

import numpy as np
import pytest
import torch

from gankit.errors import ConfigError, GankitError
from gankit.metrics import METRICS, frechet
from gankit.metrics.frechet import density_coverage, feature_stats, frechet_distance, kid, precision_recall


def gaussian(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) + shift


def random_spd(d: int, seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


# ---------------------------------------------------------------- feature_stats / FID


def test_feature_stats_matches_numpy():
    x = gaussian(50, 4, 0).astype(np.float32).astype(np.float64)
    mu, sigma = feature_stats(torch.tensor(x, dtype=torch.float32))
    assert mu.dtype == sigma.dtype == np.float64
    assert mu.shape == (4,) and sigma.shape == (4, 4)
    np.testing.assert_allclose(mu, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False, ddof=1), rtol=1e-12)
    assert feature_stats(x[:, :1])[1].shape == (1, 1)


def test_feature_stats_bad_input():
    with pytest.raises(ConfigError):
        feature_stats(np.zeros((1, 3)))
    with pytest.raises(ConfigError):
        feature_stats(np.zeros(3))
    with pytest.raises(GankitError):
        feature_stats(np.array([[0.0, np.nan], [1.0, 2.0]]))


def test_fid_of_set_with_itself_is_zero():
    mu, sigma = feature_stats(gaussian(500, 16, 1))
    assert frechet_distance(mu, sigma, mu, sigma) < 1e-6 * np.trace(sigma)


def test_fid_singular_covariance_is_finite():
    mu, sigma = feature_stats(gaussian(10, 32, 2))  # rank 9 < 32
    mu2, sigma2 = feature_stats(gaussian(10, 32, 3))
    assert frechet_distance(mu, sigma, mu, sigma) < 1e-6 * np.trace(sigma)
    assert np.isfinite(frechet_distance(mu, sigma, mu2, sigma2)) and frechet_distance(mu, sigma, mu2, sigma2) > 0


def test_fid_diagonal_closed_form():
    rng = np.random.default_rng(4)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    s1, s2 = rng.uniform(0.1, 3, size=8), rng.uniform(0.1, 3, size=8)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-10)


def test_fid_full_covariances_match_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg")
    s1, s2 = random_spd(6, 5), random_spd(6, 6)
    assert not np.allclose(s1 @ s2, s2 @ s1)  # non-commuting
    mu1, mu2 = np.arange(6.0), np.ones(6)
    covmean = linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
    got = frechet_distance(torch.tensor(mu1), torch.tensor(s1), mu2, s2)
    assert got == pytest.approx(expected, rel=1e-9)


def test_fid_bad_input():
    mu, sigma = np.zeros(3), np.eye(3)
    with pytest.raises(ConfigError):
        frechet_distance(mu, sigma, np.zeros(4), np.eye(4))
    with pytest.raises(ConfigError):
        frechet_distance(mu, sigma, mu, np.eye(2))
    with pytest.raises(ConfigError):
        frechet_distance(mu, sigma, mu, -np.eye(3))  # not PSD
    with pytest.raises(GankitError):
        frechet_distance(mu, sigma, mu, np.full((3, 3), np.inf))


# ---------------------------------------------------------------- KID


def poly_mmd2_by_hand(x: np.ndarray, y: np.ndarray) -> float:
    m, d = len(x), x.shape[1]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_full_subset_matches_hand_computed_mmd():
    x, y = gaussian(12, 3, 7), gaussian(12, 3, 8, shift=0.5)
    mean, std = kid(x, y, subsets=3, subset_size=12)  # every subset is the whole set
    assert mean == pytest.approx(poly_mmd2_by_hand(x, y), rel=1e-10)
    assert std is None  # not a round-off "2e-16": undefined when no subset differs


def test_kid_std_is_defined_when_one_set_is_subsampled():
    x, y = gaussian(12, 3, 7), gaussian(30, 3, 8, shift=0.5)
    _, std = kid(x, y, subsets=5, subset_size=12)  # x whole every time, y drawn
    assert std is not None and std > 1e-6


def test_kid_self_is_near_zero_and_shift_is_larger():
    x = gaussian(600, 8, 9)
    self_mean, _ = kid(x, x, subsets=20, subset_size=200)
    shifted_mean, shifted_std = kid(x, gaussian(600, 8, 10, shift=1.0), subsets=20, subset_size=200)
    assert shifted_mean > 0.5 and shifted_std > 0
    assert abs(self_mean) < 0.02 * shifted_mean


def test_kid_matches_torch_fidelity():
    tf_kid = pytest.importorskip("torch_fidelity.metric_kid")
    x, y = torch.tensor(gaussian(300, 5, 11)), torch.tensor(gaussian(250, 5, 12, shift=0.3))
    ref = tf_kid.kid_features_to_metric(
        x, y, kid_subsets=10, kid_subset_size=100, rng_seed=3, verbose=False, kid_kernel="poly",
        kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1,
    )
    mean, std = kid(x, y, subsets=10, subset_size=100, seed=3)
    assert mean == pytest.approx(ref[tf_kid.KEY_METRIC_KID_MEAN], rel=1e-9)
    assert std == pytest.approx(ref[tf_kid.KEY_METRIC_KID_STD], rel=1e-9)


def test_kid_bad_input():
    x = gaussian(50, 4, 0)
    with pytest.raises(ConfigError):
        kid(x, x, subset_size=100)
    with pytest.raises(ConfigError):
        kid(x, gaussian(50, 5, 1), subset_size=10)
    with pytest.raises(ConfigError):
        kid(x, x, subsets=0, subset_size=10)


# ---------------------------------------------------------------- k-NN manifold metrics

REAL_1D = np.array([[0.0], [1.0], [2.0], [3.0]])
FAKE_1D = np.array([[0.5], [3.9], [10.0]])


def test_precision_recall_hand_example():
    # k=1 real radii all 1: 0.5 and 3.9 inside, 10 outside. Fake radii 3.4, 3.4, 6.1 cover all real.
    assert precision_recall(REAL_1D, FAKE_1D, k=1) == pytest.approx((2 / 3, 1.0))


def test_density_coverage_hand_example():
    # Open real balls of radius 1: 0.5 lies in 2 of them, 3.9 in 1, 10 in none; real 2.0 has no fake within 1.
    assert density_coverage(REAL_1D, FAKE_1D, k=1) == pytest.approx((1.0, 0.75))


def test_identical_sets_and_far_shift():
    real = gaussian(400, 8, 13)
    assert precision_recall(real, real) == (1.0, 1.0)
    density, coverage = density_coverage(torch.tensor(real, dtype=torch.float32), real)
    assert coverage == 1.0 and 0.8 < density < 1.2
    far = real + 100.0
    assert precision_recall(real, far) == (0.0, 0.0)
    assert density_coverage(real, far) == (0.0, 0.0)


def test_half_shifted_fake_has_half_precision():
    real = gaussian(400, 8, 14)
    fake = np.concatenate([real[:200], real[200:] + 100.0])
    precision, recall = precision_recall(real, fake)
    assert precision == 0.5 and recall >= 0.5
    density, coverage = density_coverage(real, fake)
    assert density < 0.7 and 0.5 <= coverage < 1.0


def test_chunking_does_not_change_results(monkeypatch):
    real, fake = gaussian(300, 4, 15), gaussian(250, 4, 16, shift=0.3)
    expected = precision_recall(real, fake), density_coverage(real, fake)
    monkeypatch.setattr(frechet, "_CHUNK", 7)
    assert (precision_recall(real, fake), density_coverage(real, fake)) == expected


def test_knn_bad_input():
    with pytest.raises(ConfigError):
        precision_recall(REAL_1D, FAKE_1D, k=3)  # fake has only 3 samples
    with pytest.raises(ConfigError):
        density_coverage(REAL_1D, FAKE_1D, k=0)
    with pytest.raises(ConfigError):
        precision_recall(REAL_1D, np.zeros((5, 2)))


def test_registry_names():
    assert METRICS["fid"] is frechet_distance
    assert METRICS["kid"] is kid
    assert METRICS["precision_recall"] is precision_recall
    assert METRICS["density_coverage"] is density_coverage
