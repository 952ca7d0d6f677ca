"""The PatchGAN / PixelGAN discriminator of pix2pix and CycleGAN (Isola et al. 2017)."""
from __future__ import annotations

import torch
from torch import nn

from .base import check_choice, check_int
from .norms import NORMS, check_channels, check_image, init_normal_, norm_layer, uses_bias


class PatchDiscriminator(nn.Module):
    """Conv 4x4 stride 2 (width, no norm) -> n_layers - 1 x [Conv 4x4 stride 2, norm] doubling
    channels (at most 8 * width) -> Conv 4x4 stride 1 + norm -> Conv 4x4 stride 1 to 1 channel,
    LeakyReLU 0.2 after every conv but the last. Each output logit sees a `receptive_field`
    square patch: 70 px for n_layers=3 (pix2pix's default), 16 for 1, 34 for 2.

    n_layers=0 is the PixelGAN: 1x1 convs (width, 2 * width + norm, 1), one logit per pixel.
    forward(x) -> raw float logits (N, 1, h, w); inputs must be at least `min_size` px.
    """

    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        in_channels = check_channels("in_channels", in_channels)
        width = check_int("width", width, 1)
        n_layers = check_int("n_layers", n_layers, 0)
        check_choice("norm", norm, NORMS)
        self.config = dict(in_channels=in_channels, width=width, n_layers=n_layers, norm=norm)
        self.in_channels = in_channels
        bias = uses_bias(norm)
        if n_layers == 0:
            layers: list[nn.Module] = [
                nn.Conv2d(in_channels, width, 1), nn.LeakyReLU(0.2),
                nn.Conv2d(width, 2 * width, 1, bias=bias), norm_layer(norm, 2 * width), nn.LeakyReLU(0.2),
                nn.Conv2d(2 * width, 1, 1, bias=bias)]
        else:
            layers = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
            ch = width
            for n in range(1, n_layers + 1):
                out = min(width * 2 ** n, 8 * width)
                stride = 2 if n < n_layers else 1
                layers += [nn.Conv2d(ch, out, 4, stride, 1, bias=bias), norm_layer(norm, out), nn.LeakyReLU(0.2)]
                ch = out
            layers.append(nn.Conv2d(ch, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        init_normal_(self)

    def _geometry(self) -> tuple[int, int]:
        """(receptive field, smallest input side giving a 1x1 output) from the conv layers."""
        field, jump, size = 1, 1, 1
        convs = [m for m in self.model if isinstance(m, nn.Conv2d)]
        for conv in convs:
            field += (conv.kernel_size[0] - 1) * conv.dilation[0] * jump
            jump *= conv.stride[0]
        for conv in reversed(convs):  # invert out = (in + 2p - k) // s + 1 for out = size
            size = (size - 1) * conv.stride[0] + conv.kernel_size[0] - 2 * conv.padding[0]
        return field, max(size, 1)

    @property
    def receptive_field(self) -> int:
        """Side in input pixels of the patch that one output logit depends on."""
        return self._geometry()[0]

    @property
    def min_size(self) -> int:
        """Smallest input height / width accepted (one output logit)."""
        return self._geometry()[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw logits (N, 1, h, w) in float32, one per receptive-field patch of x (N, C, H, W)."""
        check_image("PatchDiscriminator", x, self.in_channels, 1, self.min_size)
        return self.model(x).float()
