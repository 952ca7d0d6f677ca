"""Pure GAN losses and regularisers.

Every function returns tensors and never synchronises with the host (no ``.item()``),
so it can run inside the training hot loop. Logits are raw discriminator outputs.
"""

from __future__ import annotations

import difflib
import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError

LOSSES = ("minimax", "ns", "wasserstein", "hinge", "lsgan")

_EPS = 1e-12  # inside sqrt: keeps the norm's gradient finite at zero


def check_choice(option: str, value: str, valid: Sequence[str]) -> str:
    """Return ``value`` if it is in ``valid``, else raise a one-line ConfigError with the closest match."""
    if value in valid:
        return value
    close = difflib.get_close_matches(str(value), list(valid), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"{option}: unknown value {value!r}{hint}; valid values: {', '.join(valid)}")


def check_loss(name: str) -> str:
    """Validate a loss name; raise ConfigError naming the closest valid one."""
    return check_choice("loss", name, LOSSES)


def _bce_real(logits: Tensor, target: float) -> Tensor:
    """mean BCE(sigmoid(logits), target), stably: softplus(l) - target * l."""
    return (F.softplus(logits) - target * logits).mean()


def _bce_fake(logits: Tensor) -> Tensor:
    """mean BCE(sigmoid(logits), 0) = mean softplus(l)."""
    return F.softplus(logits).mean()


def _d_bce(real: Tensor, fake: Tensor, real_label: float) -> Tensor:
    return _bce_real(real, real_label) + _bce_fake(fake)


def _d_wasserstein(real: Tensor, fake: Tensor, real_label: float) -> Tensor:
    return fake.mean() - real.mean()


def _d_hinge(real: Tensor, fake: Tensor, real_label: float) -> Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def _d_lsgan(real: Tensor, fake: Tensor, real_label: float) -> Tensor:
    return 0.5 * (real - real_label).square().mean() + 0.5 * fake.square().mean()


def _g_minimax(fake: Tensor) -> Tensor:
    # mean log(1 - sigmoid(l)) = -mean softplus(l); saturates when D rejects fakes.
    return -F.softplus(fake).mean()


def _g_ns(fake: Tensor) -> Tensor:
    # -mean log sigmoid(l) = mean softplus(-l)
    return F.softplus(-fake).mean()


def _g_critic(fake: Tensor) -> Tensor:
    return -fake.mean()


def _g_lsgan(fake: Tensor) -> Tensor:
    return 0.5 * (fake - 1.0).square().mean()


_D: dict[str, Callable[[Tensor, Tensor, float], Tensor]] = {
    "minimax": _d_bce,
    "ns": _d_bce,
    "wasserstein": _d_wasserstein,
    "hinge": _d_hinge,
    "lsgan": _d_lsgan,
}
_G: dict[str, Callable[[Tensor], Tensor]] = {
    "minimax": _g_minimax,
    "ns": _g_ns,
    "wasserstein": _g_critic,
    "hinge": _g_critic,
    "lsgan": _g_lsgan,
}


def d_loss(name: str, real_logits: Tensor, fake_logits: Tensor, *, real_label: float = 1.0) -> Tensor:
    """Scalar loss the discriminator/critic minimises.

    ``real_label < 1`` is one-sided label smoothing (minimax, ns, lsgan); ignored by
    wasserstein and hinge.
    """
    if not 0.0 < real_label <= 1.0:
        raise ConfigError(f"real_label: must be in (0, 1], got {real_label!r}")
    return _D[check_loss(name)](real_logits, fake_logits, real_label)


def g_loss(name: str, fake_logits: Tensor) -> Tensor:
    """Scalar loss the generator minimises (minimax is the saturating log(1 - D(G(z))))."""
    return _G[check_loss(name)](fake_logits)


def top_k(logits: Tensor, fraction: float) -> Tensor:
    """The ceil(fraction * n) highest of a batch's logits (one per sample or pack), for top-k G updates."""
    k = max(1, math.ceil(fraction * logits.numel()))
    return logits if k >= logits.numel() else logits.flatten().topk(k).values


def topk_fraction(epoch: float, floor: float, decay: float) -> float:
    """Sinha et al.'s schedule: the whole batch at first, x `decay` per epoch, never below `floor`."""
    return 1.0 if floor >= 1.0 else max(floor, decay ** math.floor(epoch))


def _sq_norm(grad: Tensor, pack: int = 1) -> Tensor:
    """Squared L2 norm of each D input: one sample, or a pack of `pack` consecutive samples."""
    return grad.flatten(1).square().sum(dim=1).view(-1, pack).sum(dim=1)


def _input_grad(out: Tensor, x: Tensor, scale: Tensor | float | None) -> Tensor:
    """d(sum out)/dx with the graph kept; under fp16 the sum is multiplied by the loss `scale` first
    (so small gradients do not underflow in half precision) and the gradient divided by it after."""
    if scale is None:
        return torch.autograd.grad(out.sum(), x, create_graph=True)[0]
    (grad,) = torch.autograd.grad(out.sum() * scale, x, create_graph=True)
    return grad / scale


def gradient_penalty(
    critic: Callable[..., Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    y: Tensor | None = None,
    target: float = 1.0,
    pack: int = 1,
    scale: Tensor | float | None = None,
) -> Tensor:
    """WGAN-GP penalty ``mean((||grad_x critic(x_hat)|| - target)^2)`` on random interpolates.

    One alpha ~ U[0, 1] per critic input; the norm is per critic input over all its values. With
    PacGAN packing (`pack` = m > 1) a critic input is a pack of m consecutive samples: the pack is
    interpolated with one alpha and the norm is taken over the whole pack (the packed critic is what
    is kept 1-Lipschitz). `scale` is the fp16 loss scale (see `_input_grad`).
    Returned without the lambda weight (the caller multiplies).
    """
    n = real.shape[0]
    alpha = torch.rand((n // pack,) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    if pack > 1:
        alpha = alpha.repeat_interleave(pack, dim=0)
    x_hat = torch.lerp(fake.detach(), real.detach(), alpha).requires_grad_(True)
    out = critic(x_hat) if y is None else critic(x_hat, y)
    norm = (_sq_norm(_input_grad(out, x_hat, scale), pack) + _EPS).sqrt()
    return (norm - target).square().mean()


def r1_penalty(real_logits: Tensor, real: Tensor, *, pack: int = 1, scale: Tensor | float | None = None) -> Tensor:
    """R1 penalty ``mean ||grad_x D(x)||^2`` over D's inputs on real data (a sample, or with
    packing a pack of `pack` samples: the squared norm of the pack's gradient).

    ``real`` must have ``requires_grad`` set before ``real_logits`` was computed.
    Returned WITHOUT the gamma/2 factor: the caller multiplies by ``gamma / 2``.
    """
    return _sq_norm(_input_grad(real_logits, real, scale), pack).mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, clip: float) -> None:
    """WGAN weight clipping: clamp every parameter of ``module`` into [-clip, clip] in place."""
    if not clip > 0:
        raise ConfigError(f"clip: must be a positive number, got {clip!r}")
    params = [p for p in module.parameters() if p.is_floating_point()]
    if params:
        torch._foreach_clamp_min_(params, -clip)
        torch._foreach_clamp_max_(params, clip)


def instance_noise_std(step: int, total_steps: int, start: float, end: float = 0.0) -> float:
    """Instance-noise std annealed linearly from ``start`` (step 0) to ``end`` (step >= total_steps)."""
    if total_steps <= 0:
        raise ConfigError(f"total_steps: must be a positive integer, got {total_steps!r}")
    if start < 0 or end < 0:
        raise ConfigError(f"instance_noise: start and end must be >= 0, got start={start!r}, end={end!r}")
    frac = min(max(step / total_steps, 0.0), 1.0)
    return start + (end - start) * frac
