"""What every training method provides to the generic trainer."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from ..config import Config


@dataclass
class DataSpec:
    """JSON-able facts about the training data that a checkpoint needs to rebuild the networks."""
    kind: str
    shape: Tuple[int, ...]
    num_classes: int = 0
    class_names: List[str] = field(default_factory=list)
    name: str = ""
    info: dict = field(default_factory=dict)

    @classmethod
    def from_dataset(cls, ds) -> "DataSpec":
        return cls(ds.kind, tuple(ds.shape), ds.num_classes, list(ds.class_names), ds.name, dict(ds.info))

    @classmethod
    def from_dict(cls, doc: dict) -> "DataSpec":
        doc = dict(doc)
        doc["shape"] = tuple(doc["shape"])
        return cls(**doc)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["shape"] = list(self.shape)
        return out


class BatchSource:
    """Batches of a device-resident dataset in the sampler's order."""

    def __init__(self, x: torch.Tensor, y: Optional[torch.Tensor], sampler, channels_last: bool = False):
        self.x, self.y, self.sampler = x, y, sampler
        self.channels_last = channels_last and x.ndim == 4

    def next(self) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        idx = self.sampler.next().to(self.x.device, non_blocking=True)
        x = self.x[idx]
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, (self.y[idx] if self.y is not None else None)


class Method:
    """A GAN family: declares networks and optimizers, and owns one training step.

    `train_step` returns a dict of 0-d tensors (no host sync); the trainer gathers them.
    `networks` and `optimizers` are saved and restored by the trainer; `extra_state`
    carries anything else (e.g. EMA weights).
    """

    batches_per_step: int = 1

    def __init__(self, cfg: Config, spec: DataSpec, device: torch.device):
        self.cfg, self.spec, self.device = cfg, spec, device
        self.networks: Dict[str, nn.Module] = {}
        self.optimizers: Dict[str, torch.optim.Optimizer] = {}
        self.total_steps = 1

    def place(self, net: nn.Module) -> nn.Module:
        """Move a network to the device, channels-last for image data when `train.channels_last`."""
        net = net.to(self.device)
        if self.cfg.train.channels_last and self.spec.kind == "image":
            net = net.to(memory_format=torch.channels_last)
        return net

    def setup(self, total_steps: int) -> None:
        self.total_steps = max(1, total_steps)

    def train_step(self, batches: BatchSource, step: int) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def preview_inputs(self, n: int, seed: int) -> Dict[str, torch.Tensor]:
        """Fixed inputs for the periodic sample grids."""
        raise NotImplementedError

    def preview(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Outputs in data space for `preview_inputs` (in eval mode, no grad)."""
        raise NotImplementedError

    def extra_weights(self) -> Dict[str, Dict[str, torch.Tensor]]:
        return {}

    def load_extra_weights(self, weights: Dict[str, Dict[str, torch.Tensor]]) -> None:
        pass

    def train(self, mode: bool = True) -> None:
        for net in self.networks.values():
            net.train(mode)
