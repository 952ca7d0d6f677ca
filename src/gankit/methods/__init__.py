"""Training methods: each owns its networks, optimizers, config section and one training step.

Adding a family = a module with a `Method` subclass and one entry in METHODS; its config section
registers itself with `gankit.config.register_section` in that module.
"""
from __future__ import annotations

from ..config import register_method
from ..data.batches import BatchSource
from .base import DataSpec, Method
from .cyclegan import CycleGAN
from .gan import GAN
from .pix2pix import Pix2Pix
from .sr import SR
from .text2image import GanIntCls
from .video import Video

METHODS = {"gan": GAN, "pix2pix": Pix2Pix, "cyclegan": CycleGAN, "sr": SR, "video": Video,
           "text2image": GanIntCls}
for _name in METHODS:
    register_method(_name)


def build_method(cfg, spec: DataSpec, device) -> Method:
    return METHODS[cfg.method](cfg, spec, device)


__all__ = ["METHODS", "BatchSource", "DataSpec", "Method", "build_method"]
