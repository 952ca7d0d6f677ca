"""DCGAN generator and discriminator (Radford et al. 2016) for square images of side 8-64."""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..errors import ConfigError
from .base import HEADS, POOLS, Discriminator, Generator, check_choice, check_int, d_activation, make_norm
from .conditioning import CondSequential
from .layers import apply_spectral_norm, init_dcgan_weights

SIZES = (8, 16, 28, 32, 64)


def geometry(option: str, shape: tuple[int, ...]) -> tuple[int, int]:
    """(start side, number of x2 resamplings) for an image shape: 7 -> 14 -> 28, 4 -> ... -> 64."""
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in SIZES:
        raise ConfigError(f"{option}={shape!r} is not supported by arch 'dcgan'; "
                          f"use (C, S, S) with S in {', '.join(map(str, SIZES))}")
    start = 7 if shape[1] == 28 else 4
    return start, (shape[1] // start).bit_length() - 1


class DCGANGenerator(Generator):
    """z (1x1) -> ConvTranspose to width*2^(k-1) x start^2 -> [ConvT(4, 2, 1) + BN + ReLU] halving
    channels -> ConvT(4, 2, 1) to image channels -> tanh. Matches pytorch/examples' DCGAN at 64 px."""

    def __init__(self, *, out_shape: Sequence[int], z_dim: int, num_classes: int = 0, width: int = 64,
                 norm: str = "bn", out_activation: str = "auto", cond: str = "concat", embed_dim: int = 0,
                 z_cat: int = 0):
        super().__init__(out_shape=out_shape, z_dim=z_dim, num_classes=num_classes, norm=norm,
                         out_activation=out_activation, cond=cond, embed_dim=embed_dim, z_cat=z_cat)
        start, steps = geometry("out_shape", self.out_shape)
        ch = check_int("width", width, 1) * 2 ** (steps - 1)
        layers: list[nn.Module] = [nn.Unflatten(1, (self.in_dim, 1, 1))]
        in_ch, kernel, stride, pad = self.in_dim, start, 1, 0
        for _ in range(steps):
            layers += [nn.ConvTranspose2d(in_ch, ch, kernel, stride, pad, bias=False),
                       make_norm(norm, ch, dim=2, num_classes=self.cbn_classes), nn.ReLU()]
            in_ch, ch, kernel, stride, pad = ch, ch // 2, 4, 2, 1
        layers.append(nn.ConvTranspose2d(in_ch, self.out_shape[0], 4, 2, 1, bias=False))
        layers[1].reads_1x1 = True  # see nn.layers.to_channels_last
        self.body = CondSequential(*layers)
        init_dcgan_weights(self)


class DCGANDiscriminator(Discriminator):
    """[Conv(4, 2, 1) (+ norm, not on the first block) + LeakyReLU] doubling channels down to
    4x4 (7x7 at 28 px) -> head: "fc" (flatten + Linear) or "conv" (Conv2d over the whole map).

    pool="avg"/"max" downsamples with Conv(3, 1, 1) + 2x2 pooling instead of strided convs.
    mbstd and minibatch discrimination act on the final map (as extra constant channels).
    Spectral norm may be combined with norm="bn" (allowed, though SN usually replaces BN).
    """

    def __init__(self, *, in_shape: Sequence[int], num_classes: int = 0, width: int = 64,
                 norm: str = "none", spectral_norm: bool = False, pool: str = "none", head: str = "fc",
                 leaky_slope: float = 0.2, dropout: float = 0.0, minibatch_disc: int = 0,
                 minibatch_disc_dim: int = 16, mbstd: bool = False, cond: str = "concat",
                 embed_dim: int = 0, pack: int = 1):
        super().__init__(in_shape=in_shape, num_classes=num_classes, norm=norm, cond=cond,
                         embed_dim=embed_dim, pack=pack)
        end, steps = geometry("in_shape", self.in_shape)
        check_choice("pool", pool, POOLS)
        check_choice("head", head, HEADS)
        layers: list[nn.Module] = []
        in_ch, ch = self.packed_shape[0] + self.label_dim, check_int("width", width, 1)
        for i in range(steps):
            layers += [*_downsample(in_ch, ch, pool), make_norm("none" if i == 0 else norm, ch, dim=2),
                       *d_activation(leaky_slope, dropout)]
            in_ch, ch = ch, ch * 2
        self.trunk = nn.Sequential(*layers)
        in_ch = self._add_stabilisers(in_ch, end * end, mbstd=mbstd, minibatch_disc=minibatch_disc,
                                      minibatch_disc_dim=minibatch_disc_dim)
        if head == "conv":
            self.head = nn.Conv2d(in_ch, 1, end, bias=False)
        else:
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(in_ch * end * end, 1))
        init_dcgan_weights(self)
        if spectral_norm:
            apply_spectral_norm(self)


def _downsample(in_ch: int, out_ch: int, pool: str) -> list[nn.Module]:
    """Halve the side: a strided Conv(4, 2, 1), or Conv(3, 1, 1) + 2x2 avg/max pooling."""
    if pool == "none":
        return [nn.Conv2d(in_ch, out_ch, 4, 2, 1, bias=False)]
    pooling = nn.AvgPool2d(2) if pool == "avg" else nn.MaxPool2d(2)
    return [nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False), pooling]
