"""pix2pix's U-Net generator (Isola et al. 2017) for image-to-image translation."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..errors import ConfigError
from .base import check_int
from .norms import check_generator_args, check_image, init_normal_, norm_layer, uses_bias

MAX_DEPTH = 8  # unet_256: a 256 px input reaches 1x1 at the bottleneck
DROPOUT_BLOCKS = 3  # decoder blocks right after the bottleneck that use dropout (pix2pix's noise)


def default_depth(size: int) -> int:
    """Number of downsamplings for images of side `size`: floor(log2(size)), at most 8."""
    return min(MAX_DEPTH, size.bit_length() - 1)


class UNetGenerator(nn.Module):
    """Encoder C64-C128-C256-C512-C512-... (Conv 4x4 stride 2, LeakyReLU 0.2; no norm on the
    first and innermost layers) and a mirrored decoder (ReLU, ConvTranspose 4x4 stride 2, norm)
    whose blocks take the decoder output concatenated with the mirrored encoder features.
    Widths are width * 2^i capped at 8 * width; the output layer ends in tanh.

    `depth` downsamplings (default from `size`: 8 for 256 px, 7 for 128 px). Dropout `dropout`
    (pix2pix's only noise source, active in train mode) follows the norm in the three decoder
    blocks after the bottleneck (fewer when depth < 5; at depth 8 exactly as in the official
    unet_256). Any input with H and W multiples of `multiple` = 2^depth is accepted.
    """

    def __init__(self, in_channels: int, out_channels: int, size: int = 256, width: int = 64,
                 norm: str = "batch", dropout: float = 0.5, depth: Optional[int] = None):
        super().__init__()
        in_channels, out_channels, width, norm, dropout = check_generator_args(in_channels, out_channels, width,
                                                                               norm, dropout)
        size = check_int("size", size, 2)
        if depth is None:
            depth = default_depth(size)
        depth = check_int("depth", depth, 1)
        if 2 ** depth > size:
            raise ConfigError(f"depth={depth} is too deep for size={size}; use depth <= "
                              f"{size.bit_length() - 1} or a larger size")
        self.config = dict(in_channels=in_channels, out_channels=out_channels, size=size, width=width,
                           norm=norm, dropout=dropout, depth=depth)
        self.in_channels, self.depth, self.multiple = in_channels, depth, 2 ** depth
        bias = uses_bias(norm)
        chans = [min(width * 2 ** i, 8 * width) for i in range(depth)]
        dropped = set(range(max(1, depth - 1 - DROPOUT_BLOCKS), depth - 1)) if dropout > 0 else set()
        self.down, self.up = nn.ModuleList(), nn.ModuleList()
        for i, ch in enumerate(chans):
            inner = i == depth - 1
            prev = in_channels if i == 0 else chans[i - 1]
            down: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            down.append(nn.Conv2d(prev, ch, 4, 2, 1, bias=bias))
            if 0 < i and not inner:
                down.append(norm_layer(norm, ch))
            self.down.append(nn.Sequential(*down))
            up_in = ch if inner else 2 * ch
            if i == 0:
                up = [nn.ReLU(), nn.ConvTranspose2d(up_in, out_channels, 4, 2, 1), nn.Tanh()]
            else:
                up = [nn.ReLU(), nn.ConvTranspose2d(up_in, prev, 4, 2, 1, bias=bias), norm_layer(norm, prev)]
                if i in dropped:
                    up.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*up))
        init_normal_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate images (N, in_channels, H, W) to (N, out_channels, H, W) in [-1, 1]."""
        check_image("UNetGenerator", x, self.in_channels, self.multiple)
        skips = []
        for down in self.down:
            x = down(x)
            skips.append(x)
        h = self.up[-1](skips.pop())
        for up, skip in zip(reversed(self.up[:-1]), reversed(skips)):
            h = up(torch.cat([skip, h], dim=1))
        return h
