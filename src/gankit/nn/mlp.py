"""Fully connected GAN networks for flat data: 2-D points or flattened images (e.g. MNIST 784-D)."""
from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from .base import Discriminator, Generator, check_widths, d_activation, make_norm
from .conditioning import CondSequential
from .layers import apply_spectral_norm


class MLPGenerator(Generator):
    """z -> [Linear (+ BatchNorm1d / conditional BN) + ReLU] per hidden width -> Linear -> out_shape."""

    def __init__(self, *, out_shape: Sequence[int], z_dim: int, num_classes: int = 0,
                 hidden: Sequence[int] = (256, 512, 1024), norm: str = "bn",
                 out_activation: str = "auto", cond: str = "concat", embed_dim: int = 0,
                 z_cat: int = 0):
        super().__init__(out_shape=out_shape, z_dim=z_dim, num_classes=num_classes, norm=norm,
                         out_activation=out_activation, cond=cond, embed_dim=embed_dim, z_cat=z_cat)
        layers: list[nn.Module] = []
        width = self.in_dim
        for h in check_widths("hidden", hidden):
            layers += [nn.Linear(width, h), make_norm(norm, h, dim=1, num_classes=self.cbn_classes), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, math.prod(self.out_shape)))
        self.body = CondSequential(*layers)


class MLPDiscriminator(Discriminator):
    """flatten -> [Linear (+ norm) + LeakyReLU (+ dropout)] per hidden width -> Linear to 1 logit.

    norm ("bn" or "layer") applies to every hidden layer. mbstd and minibatch discrimination act
    on the penultimate features.
    """

    flat_input = True

    def __init__(self, *, in_shape: Sequence[int], num_classes: int = 0,
                 hidden: Sequence[int] = (1024, 512, 256), norm: str = "none",
                 spectral_norm: bool = False, leaky_slope: float = 0.2, dropout: float = 0.0,
                 minibatch_disc: int = 0, minibatch_disc_dim: int = 16, mbstd: bool = False,
                 cond: str = "concat", embed_dim: int = 0, pack: int = 1):
        super().__init__(in_shape=in_shape, num_classes=num_classes, norm=norm, cond=cond,
                         embed_dim=embed_dim, pack=pack)
        layers: list[nn.Module] = []
        width = math.prod(self.packed_shape) + self.label_dim
        for h in check_widths("hidden", hidden):
            layers += [nn.Linear(width, h), make_norm(norm, h, dim=1), *d_activation(leaky_slope, dropout)]
            width = h
        self.trunk = nn.Sequential(*layers)
        width = self._add_stabilisers(width, 1, mbstd=mbstd, minibatch_disc=minibatch_disc,
                                      minibatch_disc_dim=minibatch_disc_dim)
        self.head = nn.Linear(width, 1)
        if spectral_norm:
            apply_spectral_norm(self)
