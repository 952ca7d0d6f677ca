"""Next-frame video prediction networks: a SimVP/TAU-style predictor (Gao et al. 2022; Tan et al. 2023),
a ConvLSTM (Shi et al. 2015) and a discriminator over whole sequences. Frames are (N, T, C, H, W) in
[-1, 1]; predictors map `frames_in` context frames to `frames_out` future frames.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .base import check_int
from .layers import apply_spectral_norm


def check_frames(net: str, x: torch.Tensor, frames: int, channels: int, multiple: int) -> None:
    """A one-line ConfigError unless x is (N, frames, channels, H, W) with H, W multiples of `multiple`."""
    if x.dim() != 5 or x.shape[1] != frames or x.shape[2] != channels:
        raise ConfigError(f"{net} input has shape {tuple(x.shape)}; expected (N, {frames}, {channels}, H, W): "
                          f"{frames} frames of {channels} channel(s)")
    if x.shape[3] % multiple or x.shape[4] % multiple:
        raise ConfigError(f"{net} input frames are {x.shape[4]}x{x.shape[3]}; H and W must be multiples of "
                          f"{multiple} (resize or crop the frames)")


def _conv_gn(c_in: int, c_out: int, stride: int = 1, transpose: bool = False) -> nn.Sequential:
    """Conv 3x3 (stride 2 halves the size; `transpose` doubles it by pixel shuffle), GroupNorm(2), SiLU."""
    if transpose:
        conv = nn.Sequential(nn.Conv2d(c_in, 4 * c_out, 3, padding=1), nn.PixelShuffle(2))
    else:
        conv = nn.Conv2d(c_in, c_out, 3, stride, 1)
    return nn.Sequential(conv, nn.GroupNorm(2, c_out), nn.SiLU())


def large_kernel(channels: int, kernel: int, dilation: int = 3) -> nn.Sequential:
    """TAU's decomposition of a depthwise `kernel` x `kernel` convolution: depthwise (2d - 1)^2, depthwise
    ceil(K / d)^2 at dilation d, then 1x1 (K = 21: 5x5 + 7x7 at dilation 3, receptive field 23)."""
    local, far = 2 * dilation - 1, -(-kernel // dilation) | 1  # the dilated kernel rounded up to odd
    return nn.Sequential(nn.Conv2d(channels, channels, local, padding=local // 2, groups=channels),
                         nn.Conv2d(channels, channels, far, padding=far // 2 * dilation, dilation=dilation,
                                   groups=channels),
                         nn.Conv2d(channels, channels, 1))


class TemporalAttention(nn.Module):
    """TAU's attention on stacked frames: 1x1 -> GELU -> large-kernel attention (`large_kernel`), gated by a
    squeeze-excitation over channels (the "dynamical" part) -> 1x1."""

    def __init__(self, channels: int, reduction: int = 16, kernel: int = 21):
        super().__init__()
        self.proj_in = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.GELU())
        self.lka = large_kernel(channels, kernel)
        hidden = max(channels // reduction, 4)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1), nn.ReLU(),
                                nn.Conv2d(hidden, channels, 1), nn.Sigmoid())
        for m in self.se:
            m.reads_1x1 = True  # 1x1 inputs: see nn.layers.to_channels_last
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.proj_in(x)
        return self.proj_out(u * self.lka(u) * self.se(u))


class TemporalBlock(nn.Module):
    """x + attention(BN(x)), then + MLP(BN(x)) (1x1 to `ratio` x, depthwise 3x3, GELU, 1x1); 1x1 in/out
    projections when the widths differ."""

    def __init__(self, c_in: int, c_out: int, ratio: int = 4, kernel: int = 21):
        super().__init__()
        self.reduce = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.norm1, self.attn = nn.BatchNorm2d(c_out), TemporalAttention(c_out, kernel=kernel)
        self.norm2 = nn.BatchNorm2d(c_out)
        self.mlp = nn.Sequential(nn.Conv2d(c_out, ratio * c_out, 1),
                                 nn.Conv2d(ratio * c_out, ratio * c_out, 3, padding=1, groups=ratio * c_out),
                                 nn.GELU(), nn.Conv2d(ratio * c_out, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduce(x)
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SimVP(nn.Module):
    """Optional space-to-depth (`patch` x `patch` patches, as OpenSTL's ConvLSTM) -> encoder (per frame:
    `spatial` Conv-GN-SiLU layers of `hidden_s` channels; `down` of them, every second one, stride 2;
    default: all of those) -> translator on the frames stacked as channels (`temporal` TAU blocks of
    `hidden_t` channels with attention kernel `kernel`, mapping frames_in x hidden_s to frames_out x hidden_s:
    in the first and last blocks as SimVP does, or with `project` by 1x1 convolutions around blocks that all
    run at hidden_t, which is cheaper) -> decoder (per frame,
    mirrored, pixel-shuffle upsampling, the first encoder layer's features added before the last layer)
    -> 1x1 readout (to the patches, unfolded). All future frames at once; (N, frames_in, C, H, W) ->
    (N, frames_out, C, H, W), linear output. The translator works on an H / (patch x 2^down) grid."""

    def __init__(self, channels: int = 1, frames_in: int = 10, frames_out: int = 10, hidden_s: int = 32,
                 hidden_t: int = 256, spatial: int = 4, temporal: int = 4, patch: int = 1, down: int | None = None,
                 kernel: int = 21, project: bool = False):
        super().__init__()
        channels, frames_in, frames_out = (check_int(k, v, 1) for k, v in
                                           (("channels", channels), ("frames_in", frames_in), ("frames_out", frames_out)))
        hidden_s, hidden_t = check_int("hidden_s", hidden_s, 2), check_int("hidden_t", hidden_t, 4)
        spatial, temporal = check_int("spatial", spatial, 1), check_int("temporal", temporal, 1)
        patch, kernel = check_int("patch", patch, 1), check_int("kernel", kernel, 3)
        down = spatial // 2 if down is None else check_int("down", down, 0)
        if hidden_s % 2:
            raise ConfigError(f"hidden_s={hidden_s} is invalid; use an even number (GroupNorm with 2 groups)")
        if down > spatial // 2:
            raise ConfigError(f"down={down} is invalid with spatial={spatial}: every second encoder layer may "
                              f"halve the size, so at most {spatial // 2}; raise spatial or lower down")
        self.config = dict(channels=channels, frames_in=frames_in, frames_out=frames_out, hidden_s=hidden_s,
                           hidden_t=hidden_t, spatial=spatial, temporal=temporal, patch=patch, down=down,
                           kernel=kernel, project=bool(project))
        self.channels, self.frames_in, self.frames_out = channels, frames_in, frames_out
        strides = [2 if i % 2 and i // 2 < down else 1 for i in range(spatial)]  # 1, 2, 1, 2, ..., then 1s
        self.multiple = patch * 2 ** down
        self.fold, self.unfold = nn.PixelUnshuffle(patch), nn.PixelShuffle(patch)
        c = channels * patch * patch
        self.encoder = nn.ModuleList(_conv_gn(c if i == 0 else hidden_s, hidden_s, s)
                                     for i, s in enumerate(strides))
        c_in, c_out = frames_in * hidden_s, frames_out * hidden_s
        if project:  # every block at hidden_t, between 1x1 projections
            self.translator = nn.Sequential(nn.Conv2d(c_in, hidden_t, 1),
                                            *(TemporalBlock(hidden_t, hidden_t, kernel=kernel) for _ in range(temporal)),
                                            nn.Conv2d(hidden_t, c_out, 1))
        else:  # SimVP's: the first block maps c_in to hidden_t, the last hidden_t to c_out
            widths = [c_in] + [hidden_t] * (temporal - 1) + [c_out]
            self.translator = nn.Sequential(*(TemporalBlock(a, b, kernel=kernel) for a, b in zip(widths, widths[1:]))) \
                if temporal > 1 else TemporalBlock(c_in, c_out, kernel=kernel)
        self.decoder = nn.ModuleList(_conv_gn(hidden_s, hidden_s, transpose=s == 2) for s in reversed(strides))
        self.readout = nn.Conv2d(hidden_s, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_frames("SimVP", x, self.frames_in, self.channels, self.multiple)
        n, t, c, h, w = x.shape
        z = self.fold(x.reshape(n * t, c, h, w))
        skip = None
        for i, layer in enumerate(self.encoder):
            z = layer(z)
            skip = z if i == 0 else skip
        _, cs, hs, ws = z.shape
        z = self.translator(z.reshape(n, t * cs, hs, ws)).reshape(n * self.frames_out, cs, hs, ws)
        if self.frames_out != t:  # the skip is per frame: repeat the last context frame's for every output
            skip = skip.reshape(n, t, *skip.shape[1:])[:, -1:].expand(-1, self.frames_out, -1, -1, -1)
            skip = skip.reshape(n * self.frames_out, *skip.shape[2:])
        for i, layer in enumerate(self.decoder):
            z = layer(z + skip if i == len(self.decoder) - 1 else z)
        return self.unfold(self.readout(z)).reshape(n, self.frames_out, c, h, w)


class ConvLSTMCell(nn.Module):
    """One ConvLSTM layer: the four gates from one conv over [input, hidden] (Shi et al. 2015, no peepholes)."""

    def __init__(self, c_in: int, hidden: int, kernel: int):
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(c_in + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, state: tuple) -> tuple:
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], 1)).float().chunk(4, 1)  # the state in fp32 under autocast
        c = torch.sigmoid(f) * c.float() + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class ConvLSTM(nn.Module):
    """Frames folded into `patch` x `patch` patches (space-to-depth, as OpenSTL does) -> `layers` stacked
    ConvLSTM cells of `hidden` channels -> 1x1 conv to a frame's patches. Rolls out frame by frame: the
    context frames go in, then each prediction is fed back (no teacher forcing), so any number of frames
    can be predicted. (N, frames_in, C, H, W) -> (N, frames_out, C, H, W), linear output."""

    rolls_out = True  # forward(x, frames_out) predicts any number of frames

    def __init__(self, channels: int = 1, frames_in: int = 10, frames_out: int = 10, hidden: int = 64,
                 layers: int = 3, kernel: int = 5, patch: int = 4):
        super().__init__()
        channels, frames_in, frames_out = (check_int(k, v, 1) for k, v in
                                           (("channels", channels), ("frames_in", frames_in), ("frames_out", frames_out)))
        hidden, layers, patch = check_int("hidden", hidden, 1), check_int("layers", layers, 1), check_int("patch", patch, 1)
        kernel = check_int("kernel", kernel, 1)
        if kernel % 2 == 0:
            raise ConfigError(f"kernel={kernel} is invalid; use an odd size (same padding)")
        self.config = dict(channels=channels, frames_in=frames_in, frames_out=frames_out, hidden=hidden,
                           layers=layers, kernel=kernel, patch=patch)
        self.channels, self.frames_in, self.frames_out, self.multiple = channels, frames_in, frames_out, patch
        c = channels * patch * patch
        self.fold, self.unfold = nn.PixelUnshuffle(patch), nn.PixelShuffle(patch)
        self.cells = nn.ModuleList(ConvLSTMCell(c if i == 0 else hidden, hidden, kernel) for i in range(layers))
        self.readout = nn.Conv2d(hidden, c, 1)

    def forward(self, x: torch.Tensor, frames_out: int | None = None) -> torch.Tensor:
        """Predict `frames_out` (default: the trained number) frames after the context x."""
        check_frames("ConvLSTM", x, self.frames_in, self.channels, self.multiple)
        steps = self.frames_out if frames_out is None else check_int("frames_out", frames_out, 1)
        z = self.fold(x.flatten(0, 1)).unflatten(0, x.shape[:2])
        zeros = z.new_zeros(z.shape[0], self.cells[0].hidden, *z.shape[-2:])
        states = [(zeros, zeros) for _ in self.cells]
        outputs, inp = [], None
        for t in range(self.frames_in + steps - 1):
            inp = z[:, t] if t < self.frames_in else inp
            for k, cell in enumerate(self.cells):
                states[k] = cell(inp if k == 0 else states[k - 1][0], states[k])
            if t >= self.frames_in - 1:
                inp = self.readout(states[-1][0])
                outputs.append(inp)
        return self.unfold(torch.stack(outputs, 1).flatten(0, 1)).unflatten(0, (x.shape[0], steps))


class SequenceDiscriminator(nn.Module):
    """A discriminator over whole sequences (context + future, `frames` frames stacked as channels):
    `depth` [Conv 4x4 stride 2, LeakyReLU 0.2] from `width` channels, doubling up to 8 x width, then a 3x3
    conv to one logit per patch, averaged; spectral norm on every conv (Miyato et al. 2018).
    forward(x: (N, frames, C, H, W)) -> raw float logits (N, 1)."""

    def __init__(self, channels: int = 1, frames: int = 20, width: int = 64, depth: int = 3):
        super().__init__()
        channels, frames = check_int("channels", channels, 1), check_int("frames", frames, 2)
        width, depth = check_int("width", width, 1), check_int("depth", depth, 1)
        self.config = dict(channels=channels, frames=frames, width=width, depth=depth)
        self.channels, self.frames, self.multiple = channels, frames, 2 ** depth
        layers: list[nn.Module] = []
        c = channels * frames
        for i in range(depth):
            out = width * min(2 ** i, 8)
            layers += [nn.Conv2d(c, out, 4, 2, 1), nn.LeakyReLU(0.2)]
            c = out
        layers.append(nn.Conv2d(c, 1, 3, 1, 1))
        self.model = apply_spectral_norm(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_frames("SequenceDiscriminator", x, self.frames, self.channels, self.multiple)
        return self.model(x.flatten(1, 2)).float().mean((1, 2, 3)).unsqueeze(1)


VIDEO_NETS: dict[str, type] = {"SimVP": SimVP, "ConvLSTM": ConvLSTM, "SequenceDiscriminator": SequenceDiscriminator}
