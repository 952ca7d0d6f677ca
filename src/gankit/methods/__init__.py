"""Training methods: each owns its networks, optimizers and one training step."""
from __future__ import annotations

from .base import BatchSource, DataSpec, Method
from .gan import GAN

METHODS = {"gan": GAN}


def build_method(cfg, spec: DataSpec, device) -> Method:
    return METHODS[cfg.method](cfg, spec, device)


__all__ = ["METHODS", "BatchSource", "DataSpec", "Method", "build_method"]
