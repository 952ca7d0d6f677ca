"""Super-resolution networks: SRResNet (the SRGAN generator, Ledig et al. 2017), ESPCN (Shi et al.
2016) and the SRGAN discriminator. Generators map LR images in [-1, 1] to HR images `scale` times larger."""
from __future__ import annotations

import numbers

import torch
from torch import nn

from ..errors import ConfigError
from .base import check_int
from .norms import check_channels, check_image

SCALES = (2, 3, 4)
D_BLOCKS = ((1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2))  # (width multiplier, stride)
D_HIDDEN = 1024


def check_scale(value: object) -> int:
    """Return the upscaling factor if it is 2, 3 or 4, else raise a one-line ConfigError."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value not in SCALES:
        raise ConfigError(f"scale={value!r} is invalid; use one of: {', '.join(map(str, SCALES))}")
    return int(value)  # type: ignore[call-overload]


def check_bool(option: str, value: object) -> bool:
    """Return `value` if it is True or False, else raise a one-line ConfigError."""
    if not isinstance(value, bool):
        raise ConfigError(f"{option}={value!r} is invalid; use true or false")
    return value


def _conv_bn(c_in: int, c_out: int, bn: bool, stride: int = 1) -> list[nn.Module]:
    """Conv 3x3 ("same" zero padding) followed by BatchNorm when `bn` (then the conv has no bias)."""
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=not bn)] + ([nn.BatchNorm2d(c_out)] if bn else [])


class SRResidualBlock(nn.Module):
    """x + [Conv 3x3, BN, PReLU, Conv 3x3, BN](x); channels unchanged (no BN when bn=False)."""

    def __init__(self, channels: int, bn: bool = True):
        super().__init__()
        self.body = nn.Sequential(*_conv_bn(channels, channels, bn), nn.PReLU(channels),
                                  *_conv_bn(channels, channels, bn))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """Conv 9x9 (width) + PReLU -> `blocks` residual blocks -> Conv 3x3 + BN, plus a skip from after
    the first conv -> upsampling: log2(scale) x [Conv 3x3 to 4 * width, PixelShuffle(2), PReLU] for
    scale 2 / 4, one [Conv 3x3 to 9 * width, PixelShuffle(3), PReLU] for 3 -> Conv 9x9 to `channels`,
    linear output. PReLUs have one slope per channel; bn=False drops every BN (convs get biases).
    PyTorch's default init. Any LR size works: (N, channels, h, w) -> (N, channels, h*scale, w*scale).
    """

    multiple = 1
    min_size = 1

    def __init__(self, channels: int = 3, scale: int = 4, blocks: int = 16, width: int = 64, bn: bool = True):
        super().__init__()
        channels = check_channels("channels", channels)
        scale = check_scale(scale)
        blocks = check_int("blocks", blocks, 0)
        width = check_int("width", width, 1)
        bn = check_bool("bn", bn)
        self.config = dict(channels=channels, scale=scale, blocks=blocks, width=width, bn=bn)
        self.channels, self.scale = channels, scale
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU(width))
        self.body = nn.Sequential(*[SRResidualBlock(width, bn) for _ in range(blocks)], *_conv_bn(width, width, bn))
        factors = [3] if scale == 3 else [2] * (scale // 2)
        up: list[nn.Module] = []
        for f in factors:
            up += [nn.Conv2d(width, f * f * width, 3, padding=1), nn.PixelShuffle(f), nn.PReLU(width)]
        self.tail = nn.Sequential(*up, nn.Conv2d(width, channels, 9, padding=4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upscale LR images (N, channels, h, w) to (N, channels, h * scale, w * scale)."""
        check_image("SRResNet", x, self.channels, self.multiple, self.min_size)
        h = self.head(x)
        return self.tail(h + self.body(h))


class ESPCN(nn.Module):
    """The efficient sub-pixel CNN, exactly as in the paper: Conv 5x5 (width) + tanh -> Conv 3x3
    (width // 2) + tanh -> Conv 3x3 to channels * scale^2 -> PixelShuffle(scale); linear output,
    PyTorch's default init. Any LR size works: (N, channels, h, w) -> (N, channels, h*scale, w*scale).
    """

    multiple = 1
    min_size = 1

    def __init__(self, channels: int = 3, scale: int = 4, width: int = 64):
        super().__init__()
        channels = check_channels("channels", channels)
        scale = check_scale(scale)
        width = check_int("width", width, 2)
        self.config = dict(channels=channels, scale=scale, width=width)
        self.channels, self.scale = channels, scale
        half = width // 2
        self.model = nn.Sequential(
            nn.Conv2d(channels, width, 5, padding=2), nn.Tanh(),
            nn.Conv2d(width, half, 3, padding=1), nn.Tanh(),
            nn.Conv2d(half, channels * scale * scale, 3, padding=1), nn.PixelShuffle(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upscale LR images (N, channels, h, w) to (N, channels, h * scale, w * scale)."""
        check_image("ESPCN", x, self.channels, self.multiple, self.min_size)
        return self.model(x)


class SRDiscriminator(nn.Module):
    """SRGAN's discriminator for size x size HR crops: Conv 3x3 (width) + LeakyReLU 0.2 -> 7 x
    [Conv 3x3, BN, LeakyReLU 0.2] with (channels, stride) (w, 2), (2w, 1), (2w, 2), (4w, 1), (4w, 2),
    (8w, 1), (8w, 2) -> flatten -> Linear(8w * (size / 16)^2, 1024) -> LeakyReLU 0.2 -> Linear(1024, 1).
    bn=False drops the BNs (convs get biases). PyTorch's default init.
    forward(x) -> raw float logits (N, 1); x must be exactly (N, channels, size, size).
    """

    def __init__(self, channels: int = 3, size: int = 96, width: int = 64, bn: bool = True):
        super().__init__()
        channels = check_channels("channels", channels)
        if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 16 or size % 16:
            raise ConfigError(f"size={size!r} is invalid; use a multiple of 16 that is >= 16 (SRGAN uses 96)")
        size = int(size)
        width = check_int("width", width, 1)
        bn = check_bool("bn", bn)
        self.config = dict(channels=channels, size=size, width=width, bn=bn)
        self.channels, self.size, self.min_size = channels, size, size
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(0.2)]
        ch = width
        for mult, stride in D_BLOCKS:
            layers += [*_conv_bn(ch, mult * width, bn, stride), nn.LeakyReLU(0.2)]
            ch = mult * width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(ch * (size // 16) ** 2, D_HIDDEN), nn.LeakyReLU(0.2),
                                  nn.Linear(D_HIDDEN, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw logits (N, 1) in float32 for HR images x (N, channels, size, size)."""
        check_image("SRDiscriminator", x, self.channels)
        if tuple(x.shape[2:]) != (self.size, self.size):
            raise ConfigError(f"SRDiscriminator input has shape {tuple(x.shape)}; expected "
                              f"(N, {self.channels}, {self.size}, {self.size}) (crop to size={self.size})")
        return self.head(self.features(x)).float()


SR_NETS: dict[str, type] = {"SRResNet": SRResNet, "ESPCN": ESPCN, "SRDiscriminator": SRDiscriminator}
