"""Tests for gankit.metrics.modes (PacGAN mode-coverage protocol)."""

import math
import os

import numpy as np
import pytest
import torch

from gankit.errors import ConfigError
from gankit.metrics import METRICS, register
from gankit.metrics.modes import ModeReport, mixture_mode_report, mode_report, scatter_plot

RING_STD, GRID_STD = 0.01, 0.05


def ring_means() -> np.ndarray:
    angles = 2 * np.pi * np.arange(8) / 8
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_means() -> np.ndarray:
    vals = [-4.0, -2.0, 0.0, 2.0, 4.0]
    return np.array([(i, j) for i in vals for j in vals])


def test_points_on_means_uniform_grid():
    means = grid_means()
    points = np.repeat(means, 100, axis=0)  # 2,500 points, 100 per mode
    rep = mode_report(points, means, GRID_STD)
    assert rep == ModeReport(modes=25, num_modes=25, hq_fraction=1.0, reverse_kl=0.0, n=2500)


def test_points_on_means_uniform_ring_torch_input():
    means = ring_means()
    points = torch.tensor(np.repeat(means, 300, axis=0), dtype=torch.float32)
    rep = mode_report(points, torch.tensor(means), RING_STD)
    assert (rep.modes, rep.num_modes, rep.hq_fraction, rep.n) == (8, 8, 1.0, 2400)
    assert rep.reverse_kl == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("means, std", [(ring_means(), RING_STD), (grid_means(), GRID_STD)])
def test_all_points_at_one_mode(means, std):
    points = np.tile(means[3], (2500, 1))
    rep = mode_report(points, means, std)
    assert rep.modes == 1
    assert rep.hq_fraction == 1.0
    assert rep.reverse_kl == pytest.approx(math.log(len(means)))


@pytest.mark.parametrize("means, std", [(ring_means(), RING_STD), (grid_means(), GRID_STD)])
def test_points_beyond_three_std_are_not_hq(means, std):
    angles = np.linspace(0, 2 * np.pi, 100, endpoint=False)
    offsets = 3.1 * std * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    points = (means[:, None, :] + offsets[None]).reshape(-1, 2)
    rep = mode_report(points, means, std)
    assert (rep.modes, rep.hq_fraction) == (0, 0.0)
    assert rep.reverse_kl == pytest.approx(math.log(len(means)))  # documented convention


def test_known_counts_reverse_kl():
    means = grid_means()
    rng = np.random.default_rng(0)
    dirs = rng.normal(size=(100, 2))
    jitter = 2.9 * GRID_STD * dirs / np.linalg.norm(dirs, axis=1, keepdims=True)  # inside 3 std
    counts = {0: 50, 7: 30, 24: 20}
    hq = np.concatenate([np.tile(means[i], (c, 1)) for i, c in counts.items()]) + jitter
    far = np.full((10, 2), 10.0)  # nearest mean (4, 4) is ~8.5 away: not HQ
    rep = mode_report(np.concatenate([hq, far]), means, GRID_STD)
    expected = 0.5 * math.log(0.5 * 25) + 0.3 * math.log(0.3 * 25) + 0.2 * math.log(0.2 * 25)
    assert rep.modes == 3
    assert rep.hq_fraction == pytest.approx(100 / 110)
    assert rep.reverse_kl == pytest.approx(expected, rel=1e-12)
    assert rep.n == 110


def test_sampled_ring_covers_its_8_distinct_modes():
    means = ring_means()
    dists = np.linalg.norm(means[:, None] - means[None], axis=-1) + np.eye(8) * 1e9
    assert dists.min() > 6 * RING_STD  # modes are distinct and their 3-std balls disjoint
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 8, (2500,), generator=gen)
    points = torch.tensor(means)[idx] + RING_STD * torch.randn(2500, 2, generator=gen, dtype=torch.float64)
    rep = mode_report(points, means, RING_STD)
    assert (rep.modes, rep.num_modes) == (8, 8)
    assert 0.97 < rep.hq_fraction < 1.0  # P(|N(0, I_2)| < 3) = 1 - exp(-4.5) ~ 0.989
    assert 0.0 < rep.reverse_kl < 0.01


def test_non_finite_points_are_not_hq():
    means = ring_means()
    points = np.concatenate([means, [[np.nan, 0.0], [np.inf, np.inf]]])
    rep = mode_report(points, means, RING_STD)
    assert rep.modes == 8
    assert rep.hq_fraction == pytest.approx(8 / 10)


def test_as_dict():
    rep = mode_report(ring_means(), ring_means(), RING_STD)
    assert rep.as_dict() == {"modes": 8, "num_modes": 8, "hq_fraction": 1.0, "reverse_kl": 0.0, "n": 8}


@pytest.mark.parametrize(
    "points, std",
    [(np.zeros((5, 3)), RING_STD), (np.zeros(5), RING_STD), (np.zeros((5, 2)), 0.0), (np.zeros((5, 2)), float("nan"))],
)
def test_bad_input_raises_config_error(points, std):
    with pytest.raises(ConfigError):
        mode_report(points, ring_means(), std)


def test_mixture_mode_report_uses_toy_definitions():
    toy = pytest.importorskip("gankit.data.toy")
    for name, means, std in [("ring", ring_means(), RING_STD), ("grid", grid_means(), GRID_STD)]:
        got = np.asarray(toy.mixture_means(name), dtype=np.float64)
        assert sorted(map(tuple, got.round(6))) == sorted(map(tuple, means.round(6)))
        assert toy.mixture_std(name) == pytest.approx(std)
        rep = mixture_mode_report(np.repeat(means, 2, axis=0), name)
        assert (rep.modes, rep.hq_fraction) == (len(means), 1.0)


def test_scatter_plot_writes_png_atomically(tmp_path):
    path = tmp_path / "sub" / "ring.png"
    points = np.random.default_rng(0).normal(size=(500, 2))
    scatter_plot(points, ring_means(), path, title="step 0")
    scatter_plot(torch.tensor(points), ring_means(), str(path))  # overwrite, str path, tensor input
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(path.parent) == ["ring.png"]  # no temp file left behind


def test_scatter_plot_rejects_non_2d(tmp_path):
    with pytest.raises(ConfigError):
        scatter_plot(np.zeros((4, 3)), np.zeros((2, 3)), tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


def test_registry():
    assert METRICS["modes"] is mixture_mode_report
    with pytest.raises(ConfigError):
        register("modes")(lambda: None)
