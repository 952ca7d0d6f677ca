"""Exponential moving average of a generator's weights."""

from __future__ import annotations

import copy
from typing import Mapping

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError


class EMA:
    """Exponential moving average of a module's parameters and buffers (used for sampling/evaluation).

    Parameters are averaged; buffers (e.g. BatchNorm running stats) are copied.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, start_step: int = 0) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ConfigError(f"ema_decay: must be in [0, 1], got {decay!r}")
        if start_step < 0:
            raise ConfigError(f"ema_start: must be >= 0, got {start_step!r}")
        self.decay = decay
        self.start_step = start_step
        self.shadow: nn.Module = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Before ``start_step`` copy ``model``; afterwards shadow = decay*shadow + (1-decay)*model."""
        src = list(model.parameters())
        dst = list(self.shadow.parameters())
        if len(src) != len(dst):
            raise ConfigError(f"ema: model has {len(src)} parameters but the shadow has {len(dst)}")
        if step < self.start_step:
            torch._foreach_copy_(dst, src)
        else:
            torch._foreach_lerp_(dst, src, 1.0 - self.decay)
        for b_dst, b_src in zip(self.shadow.buffers(), model.buffers()):
            b_dst.copy_(b_src)

    def state_dict(self) -> dict[str, Tensor]:
        """The shadow module's state_dict."""
        return self.shadow.state_dict()

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        """Load a state_dict produced by :meth:`state_dict`."""
        self.shadow.load_state_dict(state)
