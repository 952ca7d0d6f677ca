"""CycleGAN's ResNet generator (Johnson et al. 2016; Zhu et al. 2017) for image-to-image translation."""
from __future__ import annotations

import torch
from torch import nn

from .base import check_choice, check_int
from .norms import check_generator_args, check_image, init_normal_, norm_layer, uses_bias

PADDINGS = ("reflect", "replicate", "zero")
DOWNSAMPLINGS = 2


def _pad(padding: str, amount: int) -> list[nn.Module]:
    """Explicit padding layers for "reflect" / "replicate"; none for "zero" (done by the conv)."""
    if padding == "reflect":
        return [nn.ReflectionPad2d(amount)]
    if padding == "replicate":
        return [nn.ReplicationPad2d(amount)]
    return []


class ResidualBlock(nn.Module):
    """x + [pad, Conv 3x3, norm, ReLU, (Dropout), pad, Conv 3x3, norm](x); channels unchanged."""

    def __init__(self, channels: int, norm: str = "instance", dropout: float = 0.0, padding: str = "reflect"):
        super().__init__()
        bias, conv_pad = uses_bias(norm), 1 if padding == "zero" else 0
        layers = [*_pad(padding, 1), nn.Conv2d(channels, channels, 3, padding=conv_pad, bias=bias),
                  norm_layer(norm, channels), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [*_pad(padding, 1), nn.Conv2d(channels, channels, 3, padding=conv_pad, bias=bias),
                   norm_layer(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    """ReflectionPad(3) + Conv 7x7 (width) -> 2 x [Conv 3x3 stride 2, norm, ReLU] doubling channels
    -> `blocks` residual blocks at 4 * width -> 2 x [ConvTranspose 3x3 stride 2 (output_padding=1),
    norm, ReLU] -> ReflectionPad(3) + Conv 7x7 -> tanh. Every conv but the last is followed by
    `norm`. `padding` is the residual blocks' padding; `dropout` sits inside each block (CycleGAN
    uses none). Inputs need H and W multiples of `multiple` = 4 (and at least 8 with reflect padding).
    """

    multiple = 2 ** DOWNSAMPLINGS

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, blocks: int = 9,
                 norm: str = "instance", dropout: float = 0.0, padding: str = "reflect"):
        super().__init__()
        in_channels, out_channels, width, norm, dropout = check_generator_args(in_channels, out_channels, width,
                                                                               norm, dropout)
        blocks = check_int("blocks", blocks, 0)
        check_choice("padding", padding, PADDINGS)
        self.config = dict(in_channels=in_channels, out_channels=out_channels, width=width, blocks=blocks,
                           norm=norm, dropout=dropout, padding=padding)
        self.in_channels = in_channels
        # reflection needs a side > the padding: 3 px at the stem, 1 px in blocks at 1/4 resolution
        self.min_size = 2 * self.multiple if padding == "reflect" and blocks else self.multiple
        bias = uses_bias(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7, bias=bias),
                                   norm_layer(norm, width), nn.ReLU()]
        ch = width
        for _ in range(DOWNSAMPLINGS):
            layers += [nn.Conv2d(ch, 2 * ch, 3, 2, 1, bias=bias), norm_layer(norm, 2 * ch), nn.ReLU()]
            ch *= 2
        layers += [ResidualBlock(ch, norm, dropout, padding) for _ in range(blocks)]
        for _ in range(DOWNSAMPLINGS):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1, bias=bias),
                       norm_layer(norm, ch // 2), nn.ReLU()]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_normal_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate images (N, in_channels, H, W) to (N, out_channels, H, W) in [-1, 1]."""
        check_image("ResNetGenerator", x, self.in_channels, self.multiple, self.min_size)
        return self.model(x)
