"""Generator / discriminator networks and their registry. Adding an arch = one dict entry."""
from __future__ import annotations

import difflib
import inspect
from collections.abc import Sequence

from torch import nn

from ..errors import ConfigError
from .base import D_CHOICES, G_CHOICES, Discriminator, Generator, check_choice
from .conditioning import ConditionalBatchNorm1d, ConditionalBatchNorm2d, ProjectionHead
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .layers import (MinibatchDiscrimination, MinibatchStdDev, apply_spectral_norm, init_dcgan_weights,
                     pack_samples)
from .mlp import MLPDiscriminator, MLPGenerator

GENERATORS: dict[str, type] = {"mlp": MLPGenerator, "dcgan": DCGANGenerator}
DISCRIMINATORS: dict[str, type] = {"mlp": MLPDiscriminator, "dcgan": DCGANDiscriminator}

__all__ = [
    "GENERATORS", "DISCRIMINATORS", "build_generator", "build_discriminator", "Generator", "Discriminator",
    "MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator", "MinibatchDiscrimination",
    "MinibatchStdDev", "ConditionalBatchNorm1d", "ConditionalBatchNorm2d", "ProjectionHead",
    "apply_spectral_norm", "init_dcgan_weights", "pack_samples",
]


def _build(registry: dict[str, type], arch: str, options: dict, choices: dict[str, Sequence[str]]) -> nn.Module:
    """Validate the choice options, then instantiate `registry[arch]` with the options its
    constructor accepts (the others are ignored)."""
    if arch not in registry:
        close = difflib.get_close_matches(str(arch), registry, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"arch={arch!r} is unknown{hint}; choose one of: {', '.join(map(repr, registry))}")
    for option, allowed in choices.items():
        check_choice(option, options[option], allowed)
    cls = registry[arch]
    accepted = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in options.items() if k in accepted})


def build_generator(arch: str, *, out_shape: tuple[int, ...], z_dim: int, num_classes: int = 0,
                    hidden: Sequence[int] = (256, 512, 1024), width: int = 64, norm: str = "bn",
                    out_activation: str = "auto", cond: str = "concat", embed_dim: int = 0,
                    z_cat: int = 0) -> nn.Module:
    """Generator `arch` ("mlp" or "dcgan"): forward(z, y=None) -> (N, *out_shape)."""
    options = dict(locals())
    del options["arch"]
    return _build(GENERATORS, arch, options, G_CHOICES)


def build_discriminator(arch: str, *, in_shape: tuple[int, ...], num_classes: int = 0,
                        hidden: Sequence[int] = (1024, 512, 256), width: int = 64, norm: str = "none",
                        spectral_norm: bool = False, pool: str = "none", head: str = "fc",
                        leaky_slope: float = 0.2, dropout: float = 0.0, minibatch_disc: int = 0,
                        minibatch_disc_dim: int = 16, mbstd: bool = False, cond: str = "concat",
                        embed_dim: int = 0, pack: int = 1) -> nn.Module:
    """Discriminator `arch` ("mlp" or "dcgan"): forward(x, y=None) -> raw logits (N,)."""
    options = dict(locals())
    del options["arch"]
    return _build(DISCRIMINATORS, arch, options, D_CHOICES)
