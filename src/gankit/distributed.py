"""Multi-process training with torchrun: process-group set-up and the little collective helpers.

`torchrun --nproc-per-node N -m gankit train ...` sets WORLD_SIZE / RANK / LOCAL_RANK; gankit then
initialises the process group (NCCL on GPUs, gloo on the CPU), wraps the networks in
DistributedDataParallel and gives each rank its slice of every global batch. Every rank draws the
same noise for the global batch and keeps its slice, so an N-process run follows the 1-process run
with the same `train.batch_size`: up to float reduction order when BatchNorm is synchronised
(`train.sync_bn=true`) or absent, and without per-sample draws inside D's input pipeline (DiffAugment,
instance noise, the gradient-penalty interpolation), which each rank makes for its slice. Only rank 0
writes logs, previews and checkpoints; it stores every rank's RNG state (`gankit.rng`).

Buffers (BatchNorm statistics, spectral-norm vectors) are not broadcast in forward (`ddp_wrap`).
DDP's default broadcast overwrites them in place before every forward, and D runs on the real, the
fake (and the gradient-penalty) batch before one backward; cuDNN's BatchNorm saves the running
statistics for that backward, so on CUDA it fails with "modified by an inplace operation"
(pytorch/pytorch#22095, #110363; the CPU kernels do not show it, so the gloo tests cannot). The policy instead: rank 0 was the broadcast's source,
so its buffers evolve exactly as with the broadcast, and they are the model's: checkpoints,
previews, evaluation and the EMA use rank 0's alone. Without `train.sync_bn`, the other ranks'
running statistics follow their own slices; nothing reads them (BatchNorm in training mode
normalises with the batch statistics) and on resume every rank starts again from rank 0's.
Spectral-norm vectors stay identical by construction: the same power iteration on the same weights.
With `train.sync_bn=true` every rank's statistics are those of the global batch.
"""
from __future__ import annotations

import gc
import inspect
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

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


def ddp_wrap(net: nn.Module, device: torch.device) -> nn.Module:
    """`net` in DistributedDataParallel, without buffer broadcasts in forward (see the module docstring)."""
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(net, device_ids=ids, **_no_forward_buffer_sync(DistributedDataParallel))


def _no_forward_buffer_sync(ddp_cls) -> dict:
    """`forward_sync_buffers=False` (torch >= 2.13); before, `broadcast_buffers=False`, which also skips
    the buffers' sync at start-up (they are equal anyway: every rank seeds alike or loads one checkpoint)."""
    if "forward_sync_buffers" in inspect.signature(ddp_cls.__init__).parameters:
        return {"forward_sync_buffers": False}
    return {"broadcast_buffers": False}


def teardown(success: bool = True) -> None:
    """Leave the process group; after a normal finish all ranks leave together (a rank that leaves
    early can abort gloo in its peers). After an error there is no barrier: the peers may be stuck
    in a collective, and torchrun stops them when this rank exits."""
    if dist.is_available() and dist.is_initialized():
        gc.collect()  # DDP reducers still alive would release the group only at interpreter exit,
        # where gloo's threads can abort the process ("terminate called without an active exception")
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
