import math

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.losses import (
    LOSSES,
    check_loss,
    clip_weights_,
    d_loss,
    g_loss,
    gradient_penalty,
    instance_noise_std,
    r1_penalty,
)

LN2 = math.log(2.0)


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def close(a: torch.Tensor, b: float) -> None:
    torch.testing.assert_close(a, torch.tensor(b, dtype=a.dtype), rtol=1e-9, atol=1e-12)


def test_check_loss_accepts_and_suggests() -> None:
    for name in LOSSES:
        assert check_loss(name) == name
    with pytest.raises(ConfigError, match=r"'hinge'.*minimax, ns, wasserstein, hinge, lsgan") as e:
        check_loss("hinj")
    assert "\n" not in str(e.value) and "loss" in str(e.value)
    with pytest.raises(ConfigError):
        d_loss("wgan-gp", t(0.0), t(0.0))
    with pytest.raises(ConfigError):
        g_loss("nope", t(0.0))


@pytest.mark.parametrize("name", ["minimax", "ns"])
def test_bce_d_loss_at_zero_logits_is_2ln2(name: str) -> None:
    z = torch.zeros(4, 1, dtype=torch.float64)
    close(d_loss(name, z, z), 2 * LN2)


@pytest.mark.parametrize("name", ["minimax", "ns"])
def test_bce_d_loss_known_values(name: str) -> None:
    real, fake = t(2.0, -1.0), t(0.5, -3.0)
    sig = torch.sigmoid
    expected = -(sig(real).log().mean() + (1 - sig(fake)).log().mean())
    close(d_loss(name, real, fake), expected.item())


def test_g_losses_known_values() -> None:
    fake = t(1.0, -2.0)
    sig = torch.sigmoid(fake)
    close(g_loss("minimax", fake), (1 - sig).log().mean().item())
    close(g_loss("ns", fake), -sig.log().mean().item())
    close(g_loss("wasserstein", fake), 0.5)
    close(g_loss("hinge", fake), 0.5)
    close(g_loss("lsgan", fake), 0.5 * (0.0 + 9.0) / 2)


def test_bce_losses_stable_for_extreme_logits() -> None:
    big = t(1e4, -1e4)
    for name in ("minimax", "ns"):
        assert torch.isfinite(d_loss(name, big, big))
        assert torch.isfinite(g_loss(name, big))


def test_wasserstein_hinge_lsgan_d_loss() -> None:
    real, fake = t(2.0, 0.5), t(-0.5, 0.25)
    close(d_loss("wasserstein", real, fake), (-0.25 / 2) - 1.25)
    # relu(1-r) = [0, .5] -> .25 ; relu(1+f) = [.5, 1.25] -> .875
    close(d_loss("hinge", real, fake), 0.25 + 0.875)
    # 0.5*mean([1, .25]) + 0.5*mean([.25, .0625])
    close(d_loss("lsgan", real, fake), 0.5 * 0.625 + 0.5 * 0.15625)


def test_label_smoothing_changes_only_real_term() -> None:
    real, fake = t(1.5, -0.5), t(0.3, -2.0)
    for name in ("minimax", "ns", "lsgan"):
        diff = d_loss(name, real, fake, real_label=0.9) - d_loss(name, real, fake)
        # the fake term is identical, so the difference comes from the real term alone
        diff_other_fake = d_loss(name, real, fake * 3, real_label=0.9) - d_loss(name, real, fake * 3)
        close(diff, diff_other_fake.item())
        assert diff.abs() > 1e-6
    # BCE real term with target 0.9: 0.9*softplus(-l) + 0.1*softplus(l)
    z = torch.zeros(3, dtype=torch.float64)
    close(d_loss("ns", z, z, real_label=0.9), 2 * LN2)  # at l=0 both terms are ln2
    r = t(2.0)
    expected = 0.9 * torch.nn.functional.softplus(-r) + 0.1 * torch.nn.functional.softplus(r)
    close(d_loss("ns", r, t(-1e4), real_label=0.9), expected.item())
    # lsgan: 0.5*(2-0.9)^2
    close(d_loss("lsgan", r, t(0.0), real_label=0.9), 0.5 * 1.1**2)
    # ignored by critic losses
    for name in ("wasserstein", "hinge"):
        close(d_loss(name, r, t(0.0), real_label=0.9), d_loss(name, r, t(0.0)).item())
    with pytest.raises(ConfigError, match="real_label"):
        d_loss("ns", r, r, real_label=1.5)


def test_ns_gradient_does_not_vanish_where_minimax_does() -> None:
    grads = {}
    for name in ("minimax", "ns"):
        logit = torch.tensor([-10.0], dtype=torch.float64, requires_grad=True)
        g_loss(name, logit).backward()
        grads[name] = logit.grad.abs().item()
    assert grads["ns"] == pytest.approx(1.0, abs=1e-4)
    assert grads["minimax"] == pytest.approx(4.54e-5, rel=1e-2)


class Linear(nn.Module):
    """f(x) = w . flatten(x) (+ optional label-dependent bias)."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = x.flatten(1) @ self.w
        return out if y is None else out + y.to(out.dtype)


def _w_with_norm(shape: tuple[int, ...], norm: float) -> torch.Tensor:
    w = torch.randn(math.prod(shape), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return w / w.norm() * norm


def test_gradient_penalty_linear_critic_is_per_sample() -> None:
    torch.manual_seed(0)
    shape = (2, 3, 3)
    critic = Linear(_w_with_norm(shape, 3.0))
    real = torch.randn(4, *shape, dtype=torch.float64)
    fake = torch.randn(4, *shape, dtype=torch.float64, requires_grad=True)
    gp = gradient_penalty(critic, real, fake)
    close(gp, 4.0)  # (||w|| - 1)^2; a batch-level norm would give (sqrt(4)*3 - 1)^2 = 25
    gp_t = gradient_penalty(critic, real, fake, target=2.0)
    close(gp_t, 1.0)
    gp.backward()  # create_graph: the penalty trains the critic
    assert critic.w.grad is not None and critic.w.grad.abs().sum() > 0
    assert fake.grad is None  # fake is detached inside


def test_gradient_penalty_passes_labels_and_zero_gradient_is_finite() -> None:
    critic = Linear(_w_with_norm((4,), 3.0))
    x = torch.randn(3, 4, dtype=torch.float64)
    close(gradient_penalty(critic, x, x, y=torch.tensor([0, 1, 2])), 4.0)
    zero = Linear(torch.zeros(4, dtype=torch.float64))
    gp = gradient_penalty(zero, x, x)
    assert gp.item() == pytest.approx(1.0, abs=1e-5)  # only the tiny eps inside the sqrt differs
    gp.backward()
    assert torch.isfinite(zero.w.grad).all()


def test_r1_penalty_linear_critic() -> None:
    critic = Linear(_w_with_norm((2, 4, 4), 3.0))
    real = torch.randn(5, 2, 4, 4, dtype=torch.float64).requires_grad_(True)
    r1 = r1_penalty(critic(real), real)
    close(r1, 9.0)
    r1.backward()
    assert critic.w.grad is not None and critic.w.grad.abs().sum() > 0


def test_clip_weights_bounds_all_params() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(10)
    clip_weights_(net, 0.01)
    for p in net.parameters():
        assert p.abs().max() <= 0.01
        assert p.detach().abs().max().item() == pytest.approx(0.01)
    with pytest.raises(ConfigError, match="clip"):
        clip_weights_(net, 0.0)


def test_instance_noise_std_linear_anneal() -> None:
    assert instance_noise_std(0, 100, 0.2) == pytest.approx(0.2)
    assert instance_noise_std(50, 100, 0.2) == pytest.approx(0.1)
    assert instance_noise_std(100, 100, 0.2) == pytest.approx(0.0)
    assert instance_noise_std(500, 100, 0.2) == pytest.approx(0.0)
    assert instance_noise_std(25, 100, 0.5, 0.1) == pytest.approx(0.4)
    with pytest.raises(ConfigError, match="total_steps"):
        instance_noise_std(0, 0, 0.1)


def test_packed_penalties_constrain_the_whole_pack() -> None:
    """With packing, D's input is a pack: GP keeps the pack's gradient norm at 1 and R1 is the pack's squared norm."""
    shape = (2, 3)
    w = _w_with_norm((2 * shape[0], shape[1]), 3.0)  # a linear critic of packs of 2
    critic = lambda x: (x.reshape(x.shape[0] // 2, -1) * w.reshape(1, -1)).sum(1)  # noqa: E731
    real = torch.randn(4, *shape, dtype=torch.float64, requires_grad=True)
    fake = torch.randn(4, *shape, dtype=torch.float64)
    close(gradient_penalty(critic, real, fake, pack=2), 4.0)  # (||w|| - 1)^2 over the pack; per sample it differs
    assert abs(gradient_penalty(critic, real, fake).item() - 4.0) > 0.1
    close(r1_penalty(critic(real), real, pack=2), 9.0)  # ||w||^2 of the pack; per sample it would be 9 / 2
    close(r1_penalty(critic(real), real), 4.5)


def test_packed_gradient_penalty_interpolates_each_pack_with_one_alpha() -> None:
    seen = {}
    real, fake = torch.ones(4, 3, dtype=torch.float64), torch.zeros(4, 3, dtype=torch.float64)

    def critic(x):
        seen["x"] = x.detach().clone()
        return x.reshape(2, -1).sum(1)

    torch.manual_seed(0)
    gradient_penalty(critic, real, fake, pack=2)
    alphas = seen["x"][:, 0]
    assert alphas[0] == alphas[1] and alphas[2] == alphas[3] and alphas[0] != alphas[2]


def test_loss_scale_keeps_small_fp16_input_gradients_from_underflowing() -> None:
    """The AMP recipe for penalties: scale before autograd.grad, divide after (here on the CPU in half precision)."""
    def critic(x):  # the critic computes in half precision, as under fp16 autocast
        return ((x.half() * 1e-4).sum(1) * 1e-4).float()

    torch.manual_seed(0)
    real = torch.randn(4, 8, requires_grad=True)
    exact = 8 * 1e-16  # each input gradient is 1e-8: below fp16's smallest number (6e-8) in the backward
    assert r1_penalty(critic(real), real).item() == 0.0  # underflows without a scale
    scaled = r1_penalty(critic(real), real, scale=torch.tensor(4096.0))
    assert scaled.item() == pytest.approx(exact, rel=0.05)
    fake = torch.zeros(4, 8)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(1.0, abs=1e-4)  # ||0 - 1||^2
    # fp32: the scale changes nothing beyond rounding
    lin = Linear(_w_with_norm((8,), 3.0).float())
    torch.manual_seed(1)
    a = gradient_penalty(lin, real.detach(), fake)
    torch.manual_seed(1)
    b = gradient_penalty(lin, real.detach(), fake, scale=1024.0)
    close(a, b.item())
