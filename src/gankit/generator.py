"""A trained generator rebuilt from a checkpoint alone (no dataset needed)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Optional, Union

import torch
from torch import nn

from .checkpoint import load_checkpoint, split_weights
from .config import config_from_dict
from .errors import ConfigError
from .methods.base import DataSpec
from .nn import build_generator


class LoadedGenerator(nn.Module):
    """`G(z, y)` plus `.sample(n)`; outputs are in data space ([-1, 1] images or raw 2-D points)."""

    def __init__(self, net: nn.Module, spec: DataSpec, z_dim: int, num_classes: int, ema: bool, step: int):
        super().__init__()
        self.net, self.spec, self.z_dim, self.num_classes = net, spec, z_dim, num_classes
        self.ema, self.step = ema, step
        self.eval()

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.net(z, y)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @torch.no_grad()
    def sample(self, n: int, y: Union[int, torch.Tensor, None] = None, seed: Optional[int] = None,
               batch_size: int = 1024) -> torch.Tensor:
        """`n` samples; `y` is a class index or a tensor of n labels (conditional models only)."""
        if n < 1:
            raise ConfigError(f"number of samples must be >= 1, got {n}")
        labels = self._labels(n, y)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        z = torch.randn(n, self.z_dim, generator=gen).to(self.device)
        chunks = [self.net(z[i:i + batch_size], None if labels is None else labels[i:i + batch_size])
                  for i in range(0, n, batch_size)]
        return torch.cat(chunks)

    def _labels(self, n: int, y) -> Optional[torch.Tensor]:
        if y is None:
            return torch.arange(n, device=self.device) % self.num_classes if self.num_classes else None
        if not self.num_classes:
            raise ConfigError("this generator is not conditional: drop the class")
        y = torch.as_tensor(y, dtype=torch.long)
        if y.ndim == 0:
            y = y.expand(n)
        if len(y) != n or int(y.min()) < 0 or int(y.max()) >= self.num_classes:
            raise ConfigError(f"class must be in 0..{self.num_classes - 1} (one per sample), got {y.tolist()[:8]}")
        return y.to(self.device)


def load_generator(path, device: Union[str, torch.device] = "cpu") -> LoadedGenerator:
    """Rebuild G (its EMA weights when the run kept them) from a run directory or checkpoint."""
    ck = load_checkpoint(path, map_location="cpu", trainer_state=False)
    cfg = config_from_dict(ck.meta["config"])
    spec = DataSpec.from_dict(ck.meta["data"])
    num_classes = spec.num_classes if cfg.model.conditional else 0
    net = build_generator(cfg.model.arch, out_shape=spec.shape, z_dim=cfg.model.z_dim,
                          num_classes=num_classes, **asdict(cfg.model.g))
    weights, ema = split_weights(ck.weights, "G")
    net.load_state_dict(weights)
    return LoadedGenerator(net, spec, cfg.model.z_dim, num_classes, ema, ck.step).to(device)
