"""Batch sources: what the trainer draws from. Each yields dicts of named tensors and owns its sampling state.

`next()` returns e.g. {"image": x, "label": y} (labelled images), {"points": x} (2-D mixtures),
{"source": s, "target": t} (pairs) or {"a": a, "b": b} (two unpaired domains); `state_dict()` /
`load_state_dict()` carry everything needed to continue the exact sequence after a resume.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch

from gankit.data.sampler import BatchSampler, ShardedSampler


class BatchSource:
    """Batches of a device-resident tensor dataset in a sampler's order: {"image"|"points": x, "label": y}."""

    def __init__(self, x: torch.Tensor, y: Optional[torch.Tensor], sampler):
        self.x, self.y, self.sampler = x, y, sampler
        self.key = "image" if x.ndim == 4 else "points"

    def next(self) -> Dict[str, torch.Tensor]:
        idx = self.sampler.next().to(self.x.device, non_blocking=True)
        batch = {self.key: self.x[idx]}
        if self.y is not None:
            batch["label"] = self.y[idx]
        return batch

    def state_dict(self) -> dict:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state)


def tensor_batches(x: torch.Tensor, y: Optional[torch.Tensor], batch_size: int, seed: int, rank: int = 0,
                   world: int = 1) -> BatchSource:
    """Epoch-wise shuffled batches over (x, y); with world > 1, this rank's slice of each global batch."""
    sampler = BatchSampler(len(x), batch_size, seed=seed)
    return BatchSource(x, y, ShardedSampler(sampler, rank, world) if world > 1 else sampler)


class ChannelsLast:
    """Wraps a batch source: every 4-D tensor of a batch comes out in channels-last memory format."""

    def __init__(self, inner):
        self.inner = inner

    def next(self) -> Dict[str, torch.Tensor]:
        return {k: v.contiguous(memory_format=torch.channels_last) if v.ndim == 4 else v
                for k, v in self.inner.next().items()}

    def state_dict(self) -> dict:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.inner.load_state_dict(state)
