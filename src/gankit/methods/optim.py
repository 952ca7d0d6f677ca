"""Optimizer construction and small gradient utilities shared by methods."""
from __future__ import annotations

import math
from typing import Iterable, List

import torch
from torch import nn


def make_optimizer(params: Iterable[nn.Parameter], name: str, lr: float, betas, device: torch.device):
    """Adam (fused kernels where the device supports them) or RMSprop (as WGAN trains its critic)."""
    params = list(params)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    try:
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), fused=True)
    except (RuntimeError, ValueError, TypeError):  # fused Adam unsupported for this device or torch
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), foreach=True)


ONECYCLE_FLOOR = 1 / 25  # OneCycleLR's div_factor: the warm-up starts at max_lr / 25


def lr_factor(step: int, total: int, schedule: str, start: float) -> float:
    """Multiplier of the base learning rate at 0-based `step` of `total`.

    'none' keeps 1. 'linear' and 'cosine' hold 1 until `start` x total steps, then fall to 0 at the
    end (the pix2pix / CycleGAN schedule is 'linear' with start 0.5). 'onecycle' (Smith & Topin 2019; OpenSTL's
    default) is torch's OneCycleLR with cosine annealing ending at 0: from 1/25 up to 1 over the first
    `start` x total steps (its pct_start; 0 starts at 1), then down to 0 along a cosine."""
    begin = int(start * total)
    if schedule == "onecycle" and step < begin:
        return ONECYCLE_FLOOR + (1.0 - ONECYCLE_FLOOR) * 0.5 * (1.0 - math.cos(math.pi * step / begin))
    if schedule == "none" or step < begin:
        return 1.0
    t = (step - begin) / max(1, total - begin)
    return 1.0 - t if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * t))


def scale_lr(opt: torch.optim.Optimizer, factor: float) -> None:
    """Set every group's lr to its base lr (kept as `initial_lr`, saved with the state) x factor."""
    for group in opt.param_groups:
        group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor


def load_keeping_hyperparameters(opt: torch.optim.Optimizer, state: dict) -> None:
    """Load an optimizer's saved state (moments, step counts) but keep the hyperparameters it was built
    with from the current config (lr, betas, ...): a resume with `optim.g_lr=...` trains at that lr."""
    built = [{k: v for k, v in g.items() if k not in ("params", "initial_lr")} for g in opt.param_groups]
    opt.load_state_dict(state)
    for group, hyper in zip(opt.param_groups, built):
        group.update(hyper)
        group.pop("initial_lr", None)  # the schedule's base lr is the config's again (see scale_lr)


def grad_norm(params: List[nn.Parameter]) -> torch.Tensor:
    """Total L2 norm of the gradients, as a device tensor (no host sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros((), device=params[0].device if params else None)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def set_requires_grad(nets: Iterable[nn.Module], flag: bool) -> None:
    """Freeze or unfreeze networks (D is frozen during G's update so its weight grads are skipped)."""
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def match_state_layout(opt: torch.optim.Optimizer) -> None:
    """Give loaded optimizer state the memory layout of its parameter (e.g. channels-last).

    Checkpoints store contiguous tensors; fused kernels need state strides equal to the param's.
    """
    for group in opt.param_groups:
        for p in group["params"]:
            for key, value in opt.state.get(p, {}).items():
                if torch.is_tensor(value) and value.shape == p.shape and value.stride() != p.stride():
                    opt.state[p][key] = torch.empty_like(p, dtype=value.dtype).copy_(value)
