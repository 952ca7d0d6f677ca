"""Shared base classes and option checks for the generator and discriminator architectures."""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

from ..errors import ConfigError
from .conditioning import (CondSequential, ConditionalBatchNorm1d, ConditionalBatchNorm2d, LabelConcat,
                           ProjectionHead, check_labels)
from .layers import MinibatchDiscrimination, MinibatchStdDev, pack_samples

G_NORMS = ("bn", "none")
D_NORMS = ("none", "bn", "layer")
G_CONDS = ("concat", "cbn")
D_CONDS = ("concat", "projection")
OUT_ACTIVATIONS = ("auto", "tanh", "none")
POOLS = ("none", "avg", "max")
HEADS = ("fc", "conv")
G_CHOICES = {"norm": G_NORMS, "cond": G_CONDS, "out_activation": OUT_ACTIVATIONS}
D_CHOICES = {"norm": D_NORMS, "cond": D_CONDS, "pool": POOLS, "head": HEADS}


def check_choice(option: str, value: object, choices: Sequence[str]) -> str:
    """Return `value` if it is one of `choices`, else raise a one-line ConfigError."""
    if value not in choices:
        raise ConfigError(f"{option}={value!r} is invalid; choose one of: {', '.join(map(repr, choices))}")
    return value  # type: ignore[return-value]


def _is_int(value: object, minimum: int) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum


def check_int(option: str, value: object, minimum: int) -> int:
    """Return `value` as an int if it is an integer >= `minimum`, else raise a one-line ConfigError."""
    if not _is_int(value, minimum):
        raise ConfigError(f"{option}={value!r} is invalid; use an integer >= {minimum}")
    return int(value)  # type: ignore[call-overload]


def check_shape(option: str, shape: Sequence[int]) -> tuple[int, ...]:
    """Return `shape` as a tuple of positive ints: (D,) for points or (C, H, W) for images."""
    shape = tuple(shape)
    if len(shape) not in (1, 3) or not all(_is_int(s, 1) for s in shape):
        raise ConfigError(f"{option}={shape!r} is invalid; use (D,) for points or (C, H, W) for images")
    return tuple(int(s) for s in shape)


def check_widths(option: str, widths: Sequence[int]) -> tuple[int, ...]:
    """Return a non-empty tuple of positive layer widths."""
    widths = tuple(widths)
    if not widths or not all(_is_int(w, 1) for w in widths):
        raise ConfigError(f"{option}={list(widths)!r} is invalid; use a non-empty list of positive integers")
    return tuple(int(w) for w in widths)


def make_norm(kind: str, num_features: int, *, dim: int, num_classes: int = 0) -> nn.Module:
    """A normalisation layer: "bn" (class-conditional when num_classes > 0), "layer" or "none"."""
    if kind == "none":
        return nn.Identity()
    if kind == "bn":
        if num_classes:
            cbn = ConditionalBatchNorm1d if dim == 1 else ConditionalBatchNorm2d
            return cbn(num_features, num_classes)
        return nn.BatchNorm1d(num_features) if dim == 1 else nn.BatchNorm2d(num_features)
    if kind == "layer":  # GroupNorm with one group = LayerNorm over (C, H, W) with per-channel affine
        return nn.LayerNorm(num_features) if dim == 1 else nn.GroupNorm(1, num_features)
    raise ConfigError(f"norm={kind!r} is invalid; choose one of: 'none', 'bn', 'layer'")


def d_activation(leaky_slope: float, dropout: float) -> list[nn.Module]:
    """LeakyReLU, plus Dropout when `dropout` > 0: the tail of every discriminator block."""
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout={dropout!r} is invalid; use a value in [0, 1)")
    act: list[nn.Module] = [nn.LeakyReLU(leaky_slope)]
    return act + [nn.Dropout(dropout)] if dropout > 0 else act


def categorical_latent(z: torch.Tensor, k: int) -> torch.Tensor:
    """z (N, D) -> (N, D - 1 + k): z's first coordinate, through the normal CDF, picks one of k equally likely
    categories, given as a one-hot after the other D - 1 coordinates. The latent of a generator with a
    discrete part (DeLiGAN / InfoGAN's categorical code, without InfoGAN's Q), so G can be discontinuous
    between categories while noise stays one Gaussian vector."""
    u = 0.5 * (1.0 + torch.erf(z[:, 0].float() / 2 ** 0.5))
    cat = (u * k).long().clamp_(0, k - 1)
    return torch.cat([z[:, 1:], nn.functional.one_hot(cat, k).to(z.dtype)], dim=1)


class Generator(nn.Module):
    """Base generator: label conditioning, output activation and reshape around `self.body`.

    Subclasses set `self.body` (a CondSequential mapping (N, in_dim) to (N, prod(out_shape)) or
    (N, *out_shape)). With cond="concat" the label embedding is appended to z (so the body sees
    `in_dim` = z_dim + embed_dim inputs); with cond="cbn" use `self.cbn_classes` in `make_norm`.
    Labels are ignored when num_classes == 0.
    """

    body: CondSequential

    def __init__(self, *, out_shape: Sequence[int], z_dim: int, num_classes: int, norm: str,
                 out_activation: str, cond: str, embed_dim: int, z_cat: int = 0):
        super().__init__()
        self.out_shape = check_shape("out_shape", out_shape)
        self.z_dim = check_int("z_dim", z_dim, 1)
        self.z_cat = check_int("z_cat", z_cat, 0)
        if self.z_cat and self.z_dim < 2:
            raise ConfigError(f"model.g.z_cat={z_cat} takes one of z's coordinates for the category; "
                              f"use model.z_dim >= 2 (got {z_dim})")
        self.num_classes = check_int("num_classes", num_classes, 0)
        check_choice("norm", norm, G_NORMS)
        check_choice("cond", cond, G_CONDS)
        check_int("embed_dim", embed_dim, 0)
        if check_choice("out_activation", out_activation, OUT_ACTIVATIONS) == "auto":
            out_activation = "tanh" if len(self.out_shape) == 3 else "none"
        self.out_activation = nn.Tanh() if out_activation == "tanh" else nn.Identity()
        conditional = self.num_classes > 0
        if conditional and cond == "cbn" and norm != "bn":
            raise ConfigError("cond='cbn' needs norm='bn' for the generator; use norm='bn' or cond='concat'")
        self.label_input = LabelConcat(num_classes, embed_dim) if conditional and cond == "concat" else None
        latent = self.z_dim - 1 + self.z_cat if self.z_cat else self.z_dim
        self.in_dim = latent + (self.label_input.dim if self.label_input is not None else 0)
        self.cbn_classes = self.num_classes if conditional and cond == "cbn" else 0

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Map noise (N, z_dim) and, if conditional, labels (N,) to samples (N, *out_shape)."""
        y = check_labels(y, self.num_classes, z.shape[0])
        if self.z_cat:
            z = categorical_latent(z, self.z_cat)
        if self.label_input is not None:
            z = self.label_input(z, y)
        out = self.out_activation(self.body(z, y))
        return out.reshape(z.shape[0], *self.out_shape)


class Discriminator(nn.Module):
    """Base discriminator: input packing/conditioning, stabilisers, head and projection.

    Subclasses set `self.trunk` (conditioned input -> penultimate map (N, C, s, s) or features
    (N, F)), call `_add_stabilisers` and set `self.head` (-> (N, 1)). `forward` returns raw
    logits (N,). With `pack` = m the input holds m samples per row (see `pack_input`); labels may
    be given per packed row (N,) or per original sample (N * m,), in which case the first
    sample's label of each pack is used.
    """

    trunk: nn.Module
    head: nn.Module
    flat_input = False  # MLPs flatten images before appending label features

    def __init__(self, *, in_shape: Sequence[int], num_classes: int, norm: str, cond: str,
                 embed_dim: int, pack: int):
        super().__init__()
        self.in_shape = check_shape("in_shape", in_shape)
        self.num_classes = check_int("num_classes", num_classes, 0)
        self.pack = check_int("pack", pack, 1)
        check_choice("norm", norm, D_NORMS)
        check_choice("cond", cond, D_CONDS)
        check_int("embed_dim", embed_dim, 0)
        conditional = self.num_classes > 0
        self.label_input = LabelConcat(num_classes, embed_dim) if conditional and cond == "concat" else None
        self.label_dim = self.label_input.dim if self.label_input is not None else 0
        self.packed_shape = (self.in_shape[0] * self.pack,) + self.in_shape[1:]
        self.use_projection = conditional and cond == "projection"
        self.stabilisers = nn.Sequential()
        self.projection: Optional[ProjectionHead] = None

    def _add_stabilisers(self, channels: int, area: int, *, mbstd: bool, minibatch_disc: int,
                         minibatch_disc_dim: int) -> int:
        """Set up mbstd / minibatch discrimination on (channels x area) features; return new channels."""
        check_int("minibatch_disc", minibatch_disc, 0)
        check_int("minibatch_disc_dim", minibatch_disc_dim, 1)
        if self.use_projection:
            self.projection = ProjectionHead(channels * area, self.num_classes)
        if mbstd:
            self.stabilisers.append(MinibatchStdDev())
            channels += 1
        if minibatch_disc:
            self.stabilisers.append(MinibatchDiscrimination(channels * area, minibatch_disc, minibatch_disc_dim))
            channels += minibatch_disc
        return channels

    def pack_input(self, x: torch.Tensor) -> torch.Tensor:
        """Reshape a batch (N, C, ...) to (N / pack, pack * C, ...) for this discriminator."""
        return pack_samples(x, self.pack)

    def _trunk(self, x: torch.Tensor, y: Optional[torch.Tensor]) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.packed_shape:
            raise ConfigError(f"discriminator input has shape {tuple(x.shape)}; expected (N, *{self.packed_shape}) "
                              f"(in_shape={self.in_shape}, pack={self.pack}: use pack_input)")
        if self.flat_input:
            x = x.flatten(1)
        if self.label_input is not None:
            x = self.label_input(x, y)
        return self.trunk(x)

    def features(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Penultimate features (N, F) before stabilisers and head."""
        y = check_labels(y, self.num_classes, x.shape[0], self.pack)
        return self._trunk(x, y).flatten(1)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Raw logits (N,) for (packed) inputs x and, if conditional, labels y."""
        y = check_labels(y, self.num_classes, x.shape[0], self.pack)
        h = self._trunk(x, y)
        logits = self.head(self.stabilisers(h)).flatten()
        if self.projection is not None:
            logits = logits + self.projection(h.flatten(1), y)
        return logits
