"""Exponential moving average of a generator's weights, with its own BatchNorm statistics.

Only parameters are averaged. The live generator's BatchNorm running statistics belong to the live
weights, not to the average, so the shadow never copies them: before the shadow is sampled,
evaluated or saved, `standing_stats` recomputes them from the shadow's own activations over a few
batches in train mode (BigGAN's "standing statistics"), from a fixed seed that leaves the global
RNG untouched (resume stays bit-exact).
"""

from __future__ import annotations

import copy
from typing import Callable, Iterable, Mapping

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from gankit.errors import ConfigError

WARMUP_OFFSET = 10  # the warm-up decay (1 + t) / (10 + t), as TensorFlow's num_updates


def batch_norms(model: nn.Module) -> list:
    """The BatchNorm layers of `model` that keep running statistics."""
    return [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


@torch.no_grad()
def standing_stats(model: nn.Module, batches: Iterable[tuple]) -> None:
    """Replace every BatchNorm's running statistics by their plain average over `batches` of inputs.

    Each batch is passed as `model(*batch)` in train mode (momentum None: a cumulative average); the
    model is left in eval mode. A model without BatchNorm is left as it is."""
    norms = batch_norms(model)
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    try:
        for batch in batches:
            model(*batch)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.eval()


class EMA:
    """Exponential moving average of a module's parameters (used for sampling and evaluation).

    `decay` is the target; with `warmup` the decay of update t (counted from `start_step`) is
    min(decay, (1 + t) / (10 + t)), so a short run does not keep a share of the random initial
    weights. Before `start_step` the shadow is a copy. `inputs(generator)` draws one batch of the
    module's inputs from a `torch.Generator`; `bn_batches` of them give the shadow's BatchNorm
    statistics whenever its weights changed since they were last computed (`ready`).
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, start_step: int = 0, warmup: bool = True,
                 inputs: Callable[[torch.Generator], tuple] = None, bn_batches: int = 16, seed: int = 0) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ConfigError(f"ema_decay: must be in [0, 1], got {decay!r}")
        if start_step < 0:
            raise ConfigError(f"ema_start: must be >= 0, got {start_step!r}")
        self.decay, self.start_step, self.warmup = decay, start_step, warmup
        self.inputs, self.bn_batches, self.seed = inputs, bn_batches, seed
        self.shadow: nn.Module = copy.deepcopy(model).eval().requires_grad_(False)
        self.stale = bool(batch_norms(self.shadow)) and inputs is not None

    def decay_at(self, step: int) -> float:
        """The decay used by the update at `step` (0 before `start_step`: a copy)."""
        t = step - self.start_step
        if t < 0:
            return 0.0
        return min(self.decay, (1 + t) / (WARMUP_OFFSET + t)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """shadow = d * shadow + (1 - d) * model for the parameters, d = `decay_at(step)`."""
        src = list(model.parameters())
        dst = list(self.shadow.parameters())
        if len(src) != len(dst):
            raise ConfigError(f"ema: model has {len(src)} parameters but the shadow has {len(dst)}")
        torch._foreach_lerp_(dst, src, 1.0 - self.decay_at(step))
        self.stale = self.inputs is not None and bool(batch_norms(self.shadow))

    def ready(self) -> nn.Module:
        """The shadow, its BatchNorm statistics recomputed if its weights changed since the last time."""
        if self.stale:
            gen = torch.Generator().manual_seed(self.seed)
            standing_stats(self.shadow, (self.inputs(gen) for _ in range(self.bn_batches)))
            self.stale = False
        return self.shadow

    def state_dict(self) -> dict[str, Tensor]:
        """The shadow's state_dict, with its own BatchNorm statistics."""
        return self.ready().state_dict()

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        """Load a state_dict produced by :meth:`state_dict` (its statistics are current)."""
        self.shadow.load_state_dict(state)
        self.stale = False
