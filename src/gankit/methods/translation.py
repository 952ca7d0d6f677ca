"""What pix2pix and CycleGAN share beyond `ConditionalMethod`: their network options (U-Net or ResNet G,
PatchGAN D), the translation task and its in-training evaluation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch
from torch import nn

from ..config import _opt
from .base import DataSpec
from .conditional import ConditionalMethod


@dataclass
class TranslationNetsConfig:
    """Network options of the image-to-image methods (each method's section sets its own defaults)."""
    generator: str = _opt("unet", choices=["unet", "resnet"], help="U-Net (pix2pix) or ResNet (CycleGAN) generator")
    blocks: int = _opt(9, min=1, help="residual blocks of the ResNet generator (6 or 9 in the paper)")
    depth: Optional[int] = _opt(None, min=1, help="U-Net downsamplings (default: log2 of the image size, at most 8)")
    g_width: int = _opt(64, min=1, help="generator base width (ngf)")
    d_width: int = _opt(64, min=1, help="discriminator base width (ndf)")
    d_layers: int = _opt(3, min=0, help="PatchGAN strided layers: 3 = 70x70 patches, 0 = the 1x1 PixelGAN")
    norm: str = _opt("batch", choices=["batch", "instance", "none"])
    dropout: float = _opt(0.5, min=0.0, max=0.95, help="generator dropout (U-Net: the noise source)")


def resolve_channels(spec: DataSpec) -> tuple:
    """(source channels, target channels) of a paired/unpaired data set."""
    info = spec.info
    return int(info.get("in_channels", spec.shape[0])), int(info.get("out_channels", spec.shape[0]))


class TranslationMethod(ConditionalMethod):
    """Base of the image-to-image methods: networks from a section of `TranslationNetsConfig` options."""

    def generator(self, name: str, in_channels: int, out_channels: int) -> nn.Module:
        o = self.opts
        if o.generator == "unet":
            args = dict(in_channels=in_channels, out_channels=out_channels, size=self.size, width=o.g_width,
                        norm=o.norm, dropout=o.dropout, depth=o.depth)
            cls = "UNetGenerator"
        else:
            args = dict(in_channels=in_channels, out_channels=out_channels, width=o.g_width, blocks=o.blocks,
                        norm=o.norm, dropout=o.dropout)
            cls = "ResNetGenerator"
        return self._add(name, cls, args)

    def discriminator(self, name: str, in_channels: int) -> nn.Module:
        o = self.opts
        return self._add(name, "PatchDiscriminator", dict(in_channels=in_channels, width=o.d_width,
                                                          n_layers=o.d_layers, norm=o.norm))

    def tasks(self) -> Dict[str, dict]:
        return {"translate": self.translators()}

    def translators(self) -> Dict[str, str]:
        """direction -> the generator that translates in it."""
        raise NotImplementedError

    def directions(self, data, limit: Optional[int] = None):
        """The directions `gankit.metrics.translation` scores on `data` (a test split)."""
        from ..metrics.translation import test_directions

        fns = {d: self.translate_batches(g) for d, g in self.translators().items()}
        return test_directions(data, fns, self.cfg.data.direction, limit)

    def translate_batches(self, name: str, batch_size: int = 8):
        """A function mapping any batch through generator `name` in chunks of `batch_size` (eval mode)."""
        return lambda x: torch.cat([self.run(name, x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    def diagnostics(self, run_dir, data):
        from ..monitor.diagnostics import Diagnostics
        from ..metrics.paired import DIRECTION

        m = self.cfg.monitor
        evaluator, names = None, []
        if m.eval_every:
            from ..metrics.translation import InTrainingEvaluation

            evaluation = InTrainingEvaluation(self, m.metrics)
            evaluator, names = evaluation, evaluation.names
        track = evaluation.track if names else None
        return Diagnostics(self.cfg, run_dir, self.probabilities, evaluator, track,
                           directions={**DIRECTION, "cycle_psnr": False})
