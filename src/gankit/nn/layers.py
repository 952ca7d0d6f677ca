"""Stabilising layers and helpers: weight init, spectral norm, packing, minibatch statistics."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import ConfigError

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.Linear)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)


def init_dcgan_weights(module: nn.Module) -> nn.Module:
    """DCGAN init in place: conv/linear weights N(0, 0.02), norm gains N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, _WEIGHTED):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, _NORMS) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    return module


def channels_last_safe(net: nn.Module) -> bool:
    """False for networks with InstanceNorm: with channels-last float32 weights and a batch of one,
    the CPU backward of the layers feeding an InstanceNorm is wrong in torch 2.14 (weight gradients off
    by over 100% against float64; contiguous weights agree to 1e-6), so those networks stay contiguous."""
    return not any(isinstance(m, nn.modules.instancenorm._InstanceNorm) for m in net.modules())


def to_channels_last(net: nn.Module) -> nn.Module:
    """Channels-last for a network's 4-D weights, except in modules marked `reads_1x1 = True`.

    A 1x1 input (DCGAN G's first transposed convolution) is ambiguous between the two layouts, so
    cuDNN computes that layer's weight gradient contiguous; torch.compile expects the weight's own
    layout and fails in backward (seen with torch 2.11 on an H100). Those weights stay contiguous."""
    net = net.to(memory_format=torch.channels_last)
    for m in net.modules():
        if getattr(m, "reads_1x1", False):
            for p in m.parameters():
                p.data = p.data.contiguous()
    return net


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Wrap every Conv/Linear weight of `module` with spectral normalisation (in place).

    Call after weight init: the parametrization normalises whatever weight it finds.
    """
    for m in list(module.modules()):
        if isinstance(m, _WEIGHTED) and not parametrize.is_parametrized(m, "weight"):
            spectral_norm(m)
    return module


def pack_samples(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN packing: (N, C, ...) -> (N / m, m * C, ...); consecutive samples share a pack."""
    if x.shape[0] % m:
        raise ConfigError(f"pack={m} needs a batch size divisible by {m}; got a batch of {x.shape[0]}")
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


def append_features(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Append per-sample vectors v (N, K) to features (N, F) or as constant channels to maps (N, C, ...)."""
    if x.dim() > 2:
        v = v.view(*v.shape, *(1,) * (x.dim() - 2)).expand(-1, -1, *x.shape[2:])
    return torch.cat([x, v.to(x.dtype)], dim=1)


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016).

    M = h @ T reshaped to (N, B, C); o_b(x_i) = sum_{j != i} exp(-||M_i,b - M_j,b||_1).
    Output: concat(h, o) with in_features + num_kernels features (or B extra constant channels
    for maps). A batch of identical samples gives o = N - 1; a lone sample gives o = 0.
    """

    def __init__(self, in_features: int, num_kernels: int, kernel_dim: int = 16):
        super().__init__()
        self.in_features, self.num_kernels, self.kernel_dim = in_features, num_kernels, kernel_dim
        # Scaled so that initial L1 kernel distances are O(1) whatever in_features is.
        self.T = nn.Parameter(torch.randn(in_features, num_kernels, kernel_dim) * 0.1 / in_features ** 0.5)

    def statistics(self, h: torch.Tensor) -> torch.Tensor:
        """Closeness o (N, num_kernels) of each sample to the rest of the batch."""
        m = (h.flatten(1) @ self.T.flatten(1)).view(-1, self.num_kernels, self.kernel_dim)
        dist = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=-1)  # (N, N, B)
        return torch.exp(-dist).sum(dim=1) - 1.0

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return append_features(h, self.statistics(h))


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018): one extra feature / constant channel.

    Over groups of `group_size` consecutive samples (the largest divisor of N that is
    <= group_size), the std of each feature is averaged over features. The std uses
    sqrt(var + 1e-8), so identical samples give 1e-4, not exactly 0.
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        self.group_size, self.eps = group_size, eps

    def statistics(self, x: torch.Tensor) -> torch.Tensor:
        """Group std (N, 1), shared by the members of each group."""
        n = x.shape[0]
        g = max(d for d in range(1, min(self.group_size, n) + 1) if n % d == 0)
        grouped = x.reshape(n // g, g, -1)
        std = (grouped.var(dim=1, unbiased=False) + self.eps).sqrt().mean(dim=1, keepdim=True)
        return std.repeat_interleave(g, dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return append_features(x, self.statistics(x))
