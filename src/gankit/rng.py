"""Seeding and exact capture/restore of the python, numpy and torch RNG states.

One process's state is {"python", "numpy", "torch", "cuda"}: "cuda" is the generator of the training
device only (checkpoints before per-rank states stored every device's, and still load). Under torchrun
every rank's own state is gathered to rank 0 with tensor all-gathers (no pickle) and stored as
{"ranks": {field: tensor with one row per rank}}; on resume each rank restores its own row. A state
from another world size (or from a single process) gives every rank rank 0's state: the global noise
(`Method.global_randn`) needs the same stream on every rank, and rank 0's is the one it followed.
"""
from __future__ import annotations

import random
from typing import Dict, Optional

import numpy as np
import torch
import torch.distributed as dist

from .distributed import DistInfo


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng(info: DistInfo = DistInfo(), device: Optional[torch.device] = None) -> dict:
    """The RNG states to checkpoint: this process's, or with `info.world > 1` every rank's.

    With several ranks this is a collective: every rank must call it at the same point.
    """
    own = _own_state(device)
    if not info.enabled:
        return own
    comm = torch.device(device) if dist.get_backend() == "nccl" else torch.device("cpu")
    return {"ranks": {k: _all_gather(t, info.world, comm) for k, t in _to_tensors(own).items()}}


def restore_rng(state: dict, info: DistInfo = DistInfo(), device: Optional[torch.device] = None) -> None:
    """Restore `capture_rng`'s states: each rank its own (rank 0's where the world size differs)."""
    ranks = state.get("ranks")
    if ranks is not None:
        row = info.rank if len(ranks["torch"]) == info.world else 0
        state = _from_tensors({k: t[row].clone() for k, t in ranks.items()})  # set_rng_state misreads views
    _restore_own(state, device)


# --------------------------------------------------------------------------- one process

def _is_cuda(device: Optional[torch.device]) -> bool:
    return device is not None and torch.device(device).type == "cuda"


def _own_state(device: Optional[torch.device]) -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": keys.astype(np.int64), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if _is_cuda(device):
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _restore_own(state: dict, device: Optional[torch.device]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["kind"], np.asarray(n["keys"], dtype=np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda is None or not torch.cuda.is_available():
        return
    if isinstance(cuda, (list, tuple)):  # an older checkpoint: every device's state
        torch.cuda.set_rng_state_all(list(cuda))
    elif _is_cuda(device):
        torch.cuda.set_rng_state(cuda, device)


# --------------------------------------------------------------------------- as tensors, for the all-gather

def _to_tensors(state: dict) -> Dict[str, torch.Tensor]:
    """One process's state as fixed-shape tensors (the same shapes on every rank)."""
    version, internal, gauss = state["python"]
    n = state["numpy"]
    out = {
        "python": torch.tensor([version, *internal], dtype=torch.int64),
        "python_gauss": torch.tensor([gauss is not None, gauss or 0.0], dtype=torch.float64),
        "numpy_keys": torch.as_tensor(n["keys"], dtype=torch.int64),
        "numpy_ints": torch.tensor([n["pos"], n["has_gauss"]], dtype=torch.int64),
        "numpy_cached": torch.tensor([n["cached"]], dtype=torch.float64),
        "torch": state["torch"],
    }
    if "cuda" in state:
        out["cuda"] = state["cuda"]
    return out


def _from_tensors(t: Dict[str, torch.Tensor]) -> dict:
    """Inverse of `_to_tensors`."""
    version, *internal = t["python"].tolist()
    has_gauss, gauss = t["python_gauss"].tolist()
    pos, np_has_gauss = t["numpy_ints"].tolist()
    state = {
        "python": (version, tuple(internal), gauss if has_gauss else None),
        "numpy": {"kind": "MT19937", "keys": t["numpy_keys"].numpy(), "pos": pos, "has_gauss": np_has_gauss,
                  "cached": float(t["numpy_cached"][0])},
        "torch": t["torch"].to(torch.uint8),
    }
    if "cuda" in t:
        state["cuda"] = t["cuda"].to(torch.uint8)
    return state


def _all_gather(t: torch.Tensor, world: int, comm: torch.device) -> torch.Tensor:
    """Every rank's `t`, stacked in rank order (on the CPU)."""
    t = t.to(comm)
    rows = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(rows, t)
    return torch.stack(rows).cpu()
