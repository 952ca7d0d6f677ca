"""Normalisation, weight init and option/input checks shared by the image-to-image networks
(U-Net and ResNet generators, PatchGAN discriminator) of pix2pix and CycleGAN."""
from __future__ import annotations

import numbers

import torch
from torch import nn

from ..errors import ConfigError
from .base import check_choice, check_int

NORMS = ("batch", "instance", "none")

_WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
_AFFINE_NORMS = (nn.BatchNorm2d, nn.InstanceNorm2d)


def norm_layer(kind: str, channels: int) -> nn.Module:
    """BatchNorm2d ("batch"), InstanceNorm2d without affine or running stats ("instance", as in
    pix2pix/CycleGAN) or Identity ("none") for `channels` feature maps."""
    check_choice("norm", kind, NORMS)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


def uses_bias(kind: str) -> bool:
    """Whether a conv followed by norm `kind` has a bias: not before BatchNorm (which has its own)."""
    return check_choice("norm", kind, NORMS) != "batch"


def init_normal_(net: nn.Module, std: float = 0.02) -> nn.Module:
    """pix2pix/CycleGAN init in place: conv/linear weights N(0, std), norm gains N(1, std), biases 0."""
    for m in net.modules():
        if isinstance(m, _WEIGHTED):
            nn.init.normal_(m.weight, 0.0, std)
        elif isinstance(m, _AFFINE_NORMS) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    return net


def check_channels(option: str, value: object) -> int:
    """Return a positive channel count (1 for grey, 3 for RGB, any other for e.g. label maps)."""
    return check_int(option, value, 1)


def check_dropout(value: object) -> float:
    """Return `value` as a float dropout probability in [0, 1)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0.0 <= value < 1.0:
        raise ConfigError(f"dropout={value!r} is invalid; use a value in [0, 1)")
    return float(value)


def check_generator_args(in_channels, out_channels, width, norm, dropout) -> tuple:
    """The checked arguments every image-to-image generator takes."""
    from .base import check_choice, check_int

    return (check_channels("in_channels", in_channels), check_channels("out_channels", out_channels),
            check_int("width", width, 1), check_choice("norm", norm, NORMS), check_dropout(dropout))


def check_image(net: str, x: torch.Tensor, channels: int, multiple: int = 1, minimum: int = 1) -> None:
    """Raise a one-line ConfigError unless x is (N, channels, H, W) with H, W multiples of
    `multiple` and at least `minimum`."""
    if x.dim() != 4 or x.shape[1] != channels:
        raise ConfigError(f"{net} input has shape {tuple(x.shape)}; expected (N, {channels}, H, W)")
    h, w = x.shape[2:]
    if h % multiple or w % multiple or h < minimum or w < minimum:
        need = f"multiples of {multiple}" + (f" and at least {minimum}" if minimum > multiple else "")
        raise ConfigError(f"{net} input has shape {tuple(x.shape)}; H and W must be {need} "
                          f"(resize or crop the images)")
