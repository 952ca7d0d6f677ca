"""SRGAN's content loss network: frozen features of a pretrained classifier, read from a local file.

`vgg54`: VGG19's conv5_4 after its ReLU (the paper's phi_5,4), from a torchvision VGG19 weights file
(`vgg19-dcbb9e9d.pth`, read with `torch.load(weights_only=True)`, or a .safetensors file) given by
path. `inception`: the offline Inception-v3 (the FID weights) up to Conv2d_4a_3x3 (192 channels at
about 1/4 of the input's side: 96 px -> 20 x 20) run on the crops at their own size. Nothing is ever
downloaded; the file's sha256 is part of `protocol`. `stride` is the features' step in input pixels, the
period of the pattern a content loss at a fixed offset can leave on G's output (`shifted_crops`);
`rolled_together` does the same for SRGAN's discriminator.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from ..errors import ConfigError, GankitError

VGG54_LAYERS = 36  # torchvision vgg19.features[:36] ends with the ReLU after conv5_4
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
INCEPTION_STEM = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1", "Conv2d_3b_1x1",
                  "Conv2d_4a_3x3")


class ContentNetwork(nn.Module):
    """Frozen feature extractor: forward((N, C, H, W) in [-1, 1]) -> features; `protocol` says which."""

    def __init__(self, body: nn.Module, mean, std, protocol: dict, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.body = body.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self.protocol = protocol

    def train(self, mode: bool = True):  # always in eval mode (frozen BatchNorm statistics)
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return self.body(((x + 1) / 2 - self.mean) / self.std)


def _state_dict(path: Path) -> dict:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # many types for a file that is not a weights file
        raise GankitError(f"cannot read weights '{path}' ({type(err).__name__}: {' '.join(str(err).split())[:120]}); "
                          "pass a torchvision VGG19 weights file (vgg19-dcbb9e9d.pth) or .safetensors") from None
    if not isinstance(state, dict):
        raise GankitError(f"'{path}' is not a state dict: pass a torchvision VGG19 weights file")
    return state


def vgg54(path: str) -> ContentNetwork:
    """VGG19 up to conv5_4 + ReLU with the weights of a local torchvision file."""
    from torchvision.models import vgg19

    from ..metrics.inception import file_sha256

    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"sr.vgg_weights '{p}' not found (gankit never downloads): pass the path of torchvision's "
                          "vgg19-dcbb9e9d.pth, or leave sr.vgg_weights unset for the Inception features")
    body = vgg19(weights=None).features[:VGG54_LAYERS]
    state = {k[len("features."):]: v for k, v in _state_dict(p).items() if k.startswith("features.")}
    try:
        body.load_state_dict({k: v for k, v in state.items() if int(k.split(".")[0]) < VGG54_LAYERS})
    except (RuntimeError, ValueError) as err:
        raise GankitError(f"'{p}' does not hold VGG19 weights ({' '.join(str(err).split())[:120]}); "
                          "pass torchvision's vgg19-dcbb9e9d.pth") from None
    return ContentNetwork(body, IMAGENET_MEAN, IMAGENET_STD,
                          {"content": "VGG19 conv5_4 (VGG54)", "content_sha256": file_sha256(p)}, stride=16)


def inception_stem(path: Optional[str] = None) -> ContentNetwork:
    """Inception-v3 (the FID weights) up to Conv2d_4a_3x3, with torch-fidelity's input scaling."""
    from ..metrics.inception import InceptionFeatures

    inception = InceptionFeatures(path)
    net = inception.net.cpu().to(memory_format=torch.contiguous_format)
    body = nn.Sequential(*[getattr(net, name) for name in INCEPTION_STEM])
    # torch-fidelity maps uint8 v to (v - 128) / 128; from [0, 1]: mean 128/255, std 128/255
    return ContentNetwork(body, (128 / 255,) * 3, (128 / 255,) * 3,
                          {"content": "Inception-v3 2015-12-05 Conv2d_4a_3x3 (FID weights)",
                           "content_sha256": inception.sha256}, stride=4)


def content_network(vgg_weights: Optional[str], inception_weights: Optional[str]) -> ContentNetwork:
    """VGG54 from `vgg_weights`; without one, the Inception stem (with a one-line notice)."""
    if vgg_weights:
        return vgg54(vgg_weights)
    print("gankit: sr.vgg_weights is not set: the content loss uses the offline Inception-v3 (FID) features "
          "instead of VGG54", file=sys.stderr)
    return inception_stem(inception_weights)


def shifted_crops(a: torch.Tensor, b: torch.Tensor, stride: int):
    """The same random crop of `a` and `b`, offset by 0..stride-1 px on each axis (global torch RNG).

    A strided feature network sees the image on a fixed grid; a content loss taken always at offset 0
    leaves whatever that grid cannot see free, and G fills it with a period-`stride` checkerboard.
    Drawing the offset each step puts every phase under the loss.
    """
    if stride <= 1:
        return a, b
    dy, dx = torch.randint(0, stride, (2,)).tolist()
    h, w = a.shape[-2] - stride + 1, a.shape[-1] - stride + 1
    return a[..., dy:dy + h, dx:dx + w], b[..., dy:dy + h, dx:dx + w]


def rolled_together(a: torch.Tensor, b: torch.Tensor, period: int):
    """`a` and `b` rolled (circularly) by the same random 0..period-1 px on each axis (global torch RNG).

    G's pixel-shuffle output has a `period`-px sub-pixel lattice at a fixed place in every crop, always
    aligned with a strided discriminator's grid; rolling D's inputs each step moves the grids apart at random
    (the wrap-around seam is in real and fake alike). In sr-srgan it takes the BSD100 patch FID from 108.0 to
    83.1 (benchmarks/results/sr_phase.md).
    """
    if period <= 1:
        return a, b
    shift = tuple(torch.randint(0, period, (2,)).tolist())
    return a.roll(shift, (-2, -1)), b.roll(shift, (-2, -1))
