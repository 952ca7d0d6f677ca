"""`gankit.load(path)`: a trained run as a model with task verbs, rebuilt from its checkpoint alone.

A GAN run loads as a `LoadedGenerator` (`.sample(n, y)`); an image-to-image run (pix2pix, CycleGAN)
as a `Translator` (`.translate(images, direction)`). The networks are rebuilt from the class names
and constructor arguments stored in the checkpoint (`meta["networks"]`), not from the training config.
The CLI verbs (`sample`, `translate`) and the server call these, never method internals.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Union

import torch
from torch import nn

from .checkpoint import split_weights
from .errors import CheckpointError, ConfigError
from .generator import LoadedGenerator, load_generator, load_weights, read_checkpoint
from .nn.translation import build_from_spec
from .tiling import translate_any_size

Images = Union[torch.Tensor, Sequence[torch.Tensor]]
TILE, OVERLAP = 512, 64  # inference tiles (pixels): bounded memory for any image size


class Translator(nn.Module):
    """Image-to-image generators by direction; `.translate` takes images of any size in [-1, 1]."""

    def __init__(self, generators: Dict[str, nn.Module], method: str, step: int, default: str, spec):
        super().__init__()
        self.generators = nn.ModuleDict(generators)
        self.method, self.step, self.default, self.spec = method, step, default, spec
        self.eval()

    @property
    def directions(self) -> List[str]:
        return list(self.generators)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _net(self, direction: Optional[str]) -> nn.Module:
        direction = direction or self.default
        if direction not in self.generators:
            raise ConfigError(f"this {self.method} model translates {' and '.join(self.generators)}, not {direction}; "
                              f"use --direction {self.directions[0]}")
        return self.generators[direction]

    @torch.no_grad()
    def translate(self, images: Images, direction: Optional[str] = None, tile: int = TILE,
                  overlap: int = OVERLAP) -> Images:
        """Translate one (C, H, W) image, a batch (N, C, H, W) or a list of images of different sizes.

        Values in [-1, 1]; any H x W (reflect-padded to the network's multiple and cropped back; images
        larger than `tile` go through overlapping tiles with blended seams). The output keeps each input's
        channel count (gray in, gray out), converting to and from the network's channels where they differ."""
        net = self._net(direction)
        if isinstance(images, torch.Tensor) and images.ndim in (3, 4):
            batch = images if images.ndim == 4 else images.unsqueeze(0)
            out = torch.cat([self._one(net, x.unsqueeze(0), tile, overlap) for x in batch])
            return out if images.ndim == 4 else out[0]
        if isinstance(images, (list, tuple)):
            return [self.translate(x, direction, tile, overlap) for x in images]
        raise ConfigError(f"translate takes an image tensor (C, H, W), a batch (N, C, H, W) or a list of images; "
                          f"got {type(images).__name__} {tuple(getattr(images, 'shape', ()))}")

    def _one(self, net: nn.Module, x: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
        if x.shape[1] not in (1, 3) or min(x.shape[-2:]) < 1:
            raise ConfigError(f"an image to translate must have 1 or 3 channels and at least 1x1 pixels, got shape "
                              f"{tuple(x.shape[1:])}")
        wanted = net.config["in_channels"]
        inp = match_channels(x.float().to(self.device), wanted)
        h, w = inp.shape[-2:]
        inp = pad_at_least(inp, getattr(net, "min_size", 1))  # e.g. the ResNet's reflection pads need 8 px
        out = translate_any_size(lambda t: net(t).float(), inp, multiple=net.multiple, tile=tile, overlap=overlap)
        return match_channels(out[..., :h, :w].clamp(-1, 1), x.shape[1]).cpu()


def pad_at_least(x: torch.Tensor, side: int) -> torch.Tensor:
    """Pad (bottom, right; replicate) so both sides are at least `side` pixels."""
    ph, pw = max(0, side - x.shape[-2]), max(0, side - x.shape[-1])
    return torch.nn.functional.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


def match_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(N, C, H, W) to 1 channel (BT.601 luma) or 3 (gray replicated)."""
    if x.shape[1] == channels:
        return x
    if channels == 3:
        return x.expand(-1, 3, -1, -1)
    weights = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def load(path, device: Union[str, torch.device] = "cpu") -> Union[LoadedGenerator, Translator]:
    """The model of a run directory or checkpoint: a `LoadedGenerator` or a `Translator`."""
    ck, cfg, spec = read_checkpoint(path)
    tasks = ck.meta.get("tasks") or {}
    if "translate" not in tasks:
        return load_generator(path, device)
    specs = ck.meta.get("networks") or {}
    generators = {}
    for direction, name in tasks["translate"].items():
        if name not in specs:
            raise CheckpointError(f"checkpoint '{ck.path}' does not describe network {name}; use a checkpoint "
                                  "written by `gankit train`")
        net = build_from_spec(specs[name], f"checkpoint '{ck.path}'")
        weights, _ = split_weights(ck.weights, name)
        load_weights(net, weights, ck.path)
        generators[direction] = net
    return Translator(generators, cfg.method, ck.step, cfg.data.direction if cfg.data.direction in generators
                      else next(iter(generators)), spec).to(device)


def load_translator(path, device: Union[str, torch.device] = "cpu") -> Translator:
    """`load(path)` for the `translate` verb: a one-line error for a run that does not translate."""
    model = load(path, device)
    if not isinstance(model, Translator):
        raise ConfigError(f"'{path}' is a {model.spec.name} GAN run (noise -> images), not an image-to-image model: "
                          "translate needs a pix2pix or cyclegan run; use `gankit sample` for this one")
    return model
