"""Multi-process training with torchrun: process-group set-up and the little collective helpers.

`torchrun --nproc-per-node N -m gankit train ...` sets WORLD_SIZE / RANK / LOCAL_RANK; gankit then
initialises the process group (NCCL on GPUs, gloo on the CPU), wraps the networks in
DistributedDataParallel and gives each rank its slice of every global batch. Every rank draws the
same noise for the global batch and keeps its slice, so an N-process run follows the 1-process run
with the same `train.batch_size` (exactly up to float reduction order when BN is synchronised:
`train.sync_bn=true`). Only rank 0 writes logs, previews and checkpoints.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def setup(device: torch.device, batch_size: int) -> DistInfo:
    """Join the torchrun process group (if launched by torchrun with more than one process)."""
    world = env_world()
    if world <= 1:
        return DistInfo()
    if batch_size % world:
        raise ConfigError(f"train.batch_size ({batch_size}) is the global batch and must be divisible by the "
                          f"number of processes ({world})")
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend)
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def teardown(success: bool = True) -> None:
    """Leave the process group; after a normal finish all ranks leave together (a rank that leaves
    early can abort gloo in its peers). After an error there is no barrier: the peers may be stuck
    in a collective, and torchrun stops them when this rank exits."""
    if dist.is_available() and dist.is_initialized():
        if success:
            dist.barrier()
        dist.destroy_process_group()


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True when `flag` is set on any rank (one small all-reduce)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def local_slice(n_global: int, info: DistInfo) -> slice:
    """This rank's part of a global batch of `n_global` items."""
    n = n_global // info.world
    return slice(info.rank * n, (info.rank + 1) * n)
