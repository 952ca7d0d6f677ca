import pytest
import torch

from gankit.augment import AUGMENTS, cutout, diff_augment, parse_policy, translation
from gankit.errors import ConfigError


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def shifted(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Reference: out[i, j] = x[i - dy, j - dx], zero outside."""
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def test_parse_policy() -> None:
    assert parse_policy("") == ()
    assert parse_policy("color,translation,cutout") == AUGMENTS
    assert parse_policy(" translation , color ") == ("translation", "color")
    with pytest.raises(ConfigError, match=r"augment.*'cutout'") as e:
        parse_policy("color,cutuot")
    assert "\n" not in str(e.value)


def test_empty_policy_is_identity_for_any_shape() -> None:
    x = torch.randn(4, 2)
    assert diff_augment(x, ()) is x
    img = torch.randn(2, 3, 8, 8)
    assert diff_augment(img, parse_policy("")) is img


def test_points_with_policy_rejected() -> None:
    with pytest.raises(ConfigError, match="needs images"):
        diff_augment(torch.randn(4, 2), ("color",))


def test_shapes_kept_and_gradient_flows() -> None:
    x = torch.randn(6, 3, 16, 12, requires_grad=True)
    out = diff_augment(x, AUGMENTS, gen())
    assert out.shape == x.shape
    (out * torch.randn(out.shape, generator=gen(1))).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_seeded_generator_is_deterministic() -> None:
    x = torch.randn(8, 3, 16, 16)
    a = diff_augment(x, AUGMENTS, gen(3))
    b = diff_augment(x, AUGMENTS, gen(3))
    c = diff_augment(x, AUGMENTS, gen(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_string_policy_accepted() -> None:
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(diff_augment(x, "color,cutout", gen()), diff_augment(x, ("color", "cutout"), gen()))


def test_color_is_per_sample_affine_and_differs_between_samples() -> None:
    x = torch.rand(4, 3, 8, 8, dtype=torch.float64)
    out = diff_augment(x, ("color",), gen())
    assert out.shape == x.shape
    # each sample differs from its input, and samples get different parameters
    shifts = (out - x).flatten(1).mean(1)
    assert len(set(shifts.round(decimals=6).tolist())) == 4


def test_translation_is_a_bounded_zero_padded_shift() -> None:
    n, h, w = 64, 16, 24
    x = torch.rand(n, 2, h, w)
    out = translation(x, gen())
    max_dy, max_dx = h // 8, w // 8
    seen = set()
    for i in range(n):
        matches = [
            (dy, dx)
            for dy in range(-max_dy, max_dy + 1)
            for dx in range(-max_dx, max_dx + 1)
            if torch.equal(out[i], shifted(x[i], dy, dx))
        ]
        assert len(matches) == 1, f"sample {i} is not a shift within range"
        seen.add(matches[0])
    assert len(seen) > 5  # random per sample


def test_translation_moves_one_hot_pixel() -> None:
    x = torch.zeros(32, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    out = translation(x, gen(5))
    for img in out[:, 0]:
        hot = img.nonzero()
        assert len(hot) == 1 and img.sum() == 1.0  # never lost: shift is at most 2 < 8
        dy, dx = (hot[0] - 8).tolist()
        assert abs(dy) <= 2 and abs(dx) <= 2


def test_cutout_zeroes_half_size_square() -> None:
    n, h, w = 64, 8, 12
    out = cutout(torch.ones(n, 3, h, w), gen())
    inside = 0
    for img in out:
        assert torch.equal(img[0], img[1]) and torch.equal(img[0], img[2])  # same square on all channels
        zeros = (img[0] == 0).nonzero()
        assert len(zeros) > 0
        (r0, c0), (r1, c1) = zeros.min(0).values.tolist(), zeros.max(0).values.tolist()
        rows, cols = r1 - r0 + 1, c1 - c0 + 1
        assert len(zeros) == rows * cols  # a filled rectangle
        assert rows <= h // 2 and cols <= w // 2
        if 0 < r0 and r1 < h - 1 and 0 < c0 and c1 < w - 1:
            assert (rows, cols) == (h // 2, w // 2)
            inside += 1
    assert inside > 0


def test_cutout_keeps_values_outside_square() -> None:
    x = torch.rand(4, 3, 8, 8) + 1.0
    out = cutout(x, gen())
    kept = out != 0
    assert torch.equal(out[kept], x[kept])
