"""Stacked MNIST (VEEGAN / PacGAN protocol): the 1000-mode metric; the data source is gankit.data.stacked.

It classifies each channel of generated images with a digit classifier (>99 % MNIST test accuracy
in the protocol), counts the distinct triples among 26,000 samples and reports KL(generated
triple histogram || uniform over 1000), in nats.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict

import numpy as np
import torch
from torch import Tensor

from gankit.data.stacked import NUM_MODES, PLACE
from gankit.errors import GankitError
from gankit.metrics import register
from gankit.metrics.modes import _reverse_kl

PROTOCOL_SAMPLES = 26_000


def channel_digits(images: Tensor, classify, batch_size: int = 1024) -> Tensor:
    """(N, 3) digits of the channels of uint8 images (N, 3, H, W); `classify` maps (M, 1, H, W) uint8 -> logits."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise GankitError(f"Stacked-MNIST needs uint8 (N, 3, H, W) images, got {images.dtype} {tuple(images.shape)}: "
                          "evaluate a model trained on data.name=stacked-mnist")
    flat = images.reshape(-1, 1, *images.shape[-2:])
    digits = torch.cat([classify(flat[i:i + batch_size]).argmax(1) for i in range(0, len(flat), batch_size)])
    return digits.view(-1, 3)


@dataclass
class StackedReport:
    """Modes covered (of 1000) and KL(triple histogram || uniform) of `n` samples."""

    modes: int
    kl: float
    n: int
    num_modes: int = NUM_MODES

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


@register("stacked_mnist")
def stacked_modes(digits) -> StackedReport:
    """Mode count and KL to uniform from per-channel digit predictions (N, 3) in 0..9."""
    d = torch.as_tensor(np.asarray(digits) if not isinstance(digits, Tensor) else digits).long().cpu()
    if d.ndim != 2 or d.shape[1] != 3 or len(d) == 0 or int(d.min()) < 0 or int(d.max()) > 9:
        raise GankitError(f"stacked_modes needs (N, 3) digits in 0..9, got shape {tuple(d.shape)}; "
                          "pass channel_digits(...) output")
    counts = torch.bincount((d * PLACE).sum(1), minlength=NUM_MODES).numpy()
    return StackedReport(modes=int((counts > 0).sum()), kl=_reverse_kl(counts), n=len(d))


__all__ = ["NUM_MODES", "PROTOCOL_SAMPLES", "StackedReport", "channel_digits", "stacked_modes"]
