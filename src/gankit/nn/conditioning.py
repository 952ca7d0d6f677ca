"""Class-label conditioning layers: label concat, conditional batch norm, projection head."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..errors import ConfigError
from .layers import append_features


def check_labels(y: Optional[torch.Tensor], num_classes: int, n: int, pack: int = 1) -> Optional[torch.Tensor]:
    """Validate labels for a batch of `n` rows; None when unconditional (labels are then ignored).

    With `pack` > 1, labels given per original sample (n * pack,) are reduced to the first
    sample's label of each pack.
    """
    if num_classes == 0:
        return None
    if y is None:
        raise ConfigError(f"labels y are required: the network was built with num_classes={num_classes}")
    if pack > 1 and y.shape[0] == n * pack:
        y = y[::pack]
    if tuple(y.shape) != (n,):
        raise ConfigError(f"labels y have shape {tuple(y.shape)}; expected ({n},) int64 class ids")
    return y


class LabelConditioned(nn.Module):
    """Marker base: modules whose forward is `forward(x, y)`."""


class CondSequential(nn.Sequential):
    """Sequential that passes labels `y` to its LabelConditioned members."""

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:  # type: ignore[override]
        for module in self:
            x = module(x, y) if isinstance(module, LabelConditioned) else module(x)
        return x


class LabelConcat(LabelConditioned):
    """Append a learned label embedding (`embed_dim`, default num_classes) as features or constant channels."""

    def __init__(self, num_classes: int, embed_dim: int = 0):
        super().__init__()
        self.dim = embed_dim or num_classes
        self.embed = nn.Embedding(num_classes, self.dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return append_features(x, self.embed(y))


class _ConditionalBatchNorm(LabelConditioned):
    """Batch norm without affine, then per-class gain (init 1) and bias (init 0)."""

    norm_cls: type[nn.Module]

    def __init__(self, num_features: int, num_classes: int, *, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.bn = self.norm_cls(num_features, eps=eps, momentum=momentum, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[0], -1) + (1,) * (x.dim() - 2)
        return self.bn(x) * self.gain(y).view(shape) + self.bias(y).view(shape)


class ConditionalBatchNorm1d(_ConditionalBatchNorm):
    """Conditional batch norm for (N, C) features."""

    norm_cls = nn.BatchNorm1d


class ConditionalBatchNorm2d(_ConditionalBatchNorm):
    """Conditional batch norm for (N, C, H, W) maps."""

    norm_cls = nn.BatchNorm2d


class ProjectionHead(nn.Module):
    """Projection discriminator term (Miyato & Koyama 2018): sum(embed(y) * h) per sample."""

    def __init__(self, num_features: int, num_classes: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, num_features)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self.embed(y) * h).sum(dim=1)
