"""Checkpoints: weights in safetensors, trainer state in safetensors + JSON, written atomically.

Layout of one checkpoint directory (`checkpoints/step-00001000/`):
  model.safetensors    network weights, keys "<net>.<param>" (G, D, G_ema, ...)
  state.safetensors    every tensor of the trainer state (optimizers, RNG states, data order)
  state.json           the rest of the trainer state, with references to those tensors; the config; data facts
`checkpoints/latest` names the newest complete checkpoint. Nothing here unpickles.
Written files and folders get the modes plain open()/mkdir() would give (0666/0777 less the umask).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import CheckpointError

LATEST = "latest"
MODEL_FILE, STATE_TENSORS, STATE_JSON = "model.safetensors", "state.safetensors", "state.json"


# --------------------------------------------------------------------------- nested state <-> (JSON, tensors)

def flatten_state(obj: Any, tensors: Dict[str, torch.Tensor], path: str = "s") -> Any:
    """Replace every tensor/ndarray in a nested structure by a reference; collect them in `tensors`."""
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": path}
    if isinstance(obj, np.ndarray):
        tensors[path] = torch.from_numpy(np.ascontiguousarray(obj).copy())
        return {"__ndarray__": path}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"__dict__": {k: flatten_state(v, tensors, f"{path}.{k}") for k, v in obj.items()}}
        return {"__items__": [[k, flatten_state(v, tensors, f"{path}.{i}")] for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, (list, tuple)):
        items = [flatten_state(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def unflatten_state(obj: Any, tensors: Dict[str, torch.Tensor]) -> Any:
    """Inverse of `flatten_state`."""
    if isinstance(obj, list):
        return [unflatten_state(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__ndarray__" in obj:
        return tensors[obj["__ndarray__"]].numpy()
    if "__tuple__" in obj:
        return tuple(unflatten_state(v, tensors) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {k: unflatten_state(v, tensors) for k, v in obj["__items__"]}
    return {k: unflatten_state(v, tensors) for k, v in obj["__dict__"].items()}


# --------------------------------------------------------------------------- atomic file helpers

def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def current_umask() -> int:
    """The process umask (briefly set to the strict 0o077 while it is read)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def apply_umask(path) -> None:
    """Give a file made by mkstemp (0600) or a folder made by mkdtemp (0700) the mode open()/mkdir() would."""
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~current_umask())


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        apply_umask(tmp)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


# --------------------------------------------------------------------------- save / load

def save_checkpoint(ckpt_root: Path, name: str, weights: Dict[str, Dict[str, torch.Tensor]],
                    state: dict, meta: dict, keep: Optional[int] = None, latest: bool = True) -> Path:
    """Write checkpoint `ckpt_root/name` atomically; with `latest`, point `latest` at it and prune to `keep` step dirs."""
    ckpt_root = Path(ckpt_root)
    ckpt_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=ckpt_root, prefix=f".tmp-{name}-"))
    try:
        apply_umask(tmp)
        flat = {f"{net}.{k}": v.detach().cpu().contiguous() for net, sd in weights.items() for k, v in sd.items()}
        save_file(flat, str(tmp / MODEL_FILE))
        tensors: Dict[str, torch.Tensor] = {}
        skeleton = flatten_state(state, tensors)
        save_file(tensors, str(tmp / STATE_TENSORS))
        (tmp / STATE_JSON).write_text(json.dumps({"meta": meta, "state": skeleton}))
        for f in tmp.iterdir():
            apply_umask(f)  # safetensors creates its files 0600
            _fsync_file(f)
        _fsync_dir(tmp)
        final = ckpt_root / name
        _swap_in(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not latest:
        return final
    atomic_write_text(ckpt_root / LATEST, name + "\n")
    if keep:
        _prune(ckpt_root, keep, protect=name)
    return final


def _aside(final: Path) -> Path:
    """Where `_swap_in` keeps the previous copy of `final` until the new one is in place."""
    return final.with_name(f".old-{final.name}")


def _swap_in(new: Path, final: Path) -> None:
    """Rename `new` to `final`; an existing `final` is renamed aside first and deleted only afterwards.

    A crash at any point leaves `final` or its aside copy complete (`resolve_checkpoint` reads either)."""
    aside = _aside(final)
    if final.exists():
        if aside.exists():  # left by a crash after the last swap; `final` is whole
            shutil.rmtree(aside)
        os.replace(final, aside)
    os.replace(new, final)
    _fsync_dir(final.parent)
    shutil.rmtree(aside, ignore_errors=True)


def _prune(ckpt_root: Path, keep: int, protect: str) -> None:
    steps = sorted(p for p in ckpt_root.glob("step-*") if p.is_dir())
    for old in steps[:-keep]:
        if old.name != protect:
            shutil.rmtree(old, ignore_errors=True)


@dataclass
class Checkpoint:
    path: Path
    weights: Dict[str, Dict[str, torch.Tensor]]
    state: dict
    meta: dict

    @property
    def step(self) -> int:
        return int(self.meta.get("step", 0))


def _complete(ckpt: Path) -> Optional[Path]:
    """`ckpt` if it holds a checkpoint, else the aside copy a crash during its replacement left, else None."""
    for candidate in (ckpt, _aside(ckpt)):
        if (candidate / STATE_JSON).is_file():
            return candidate
    return None


def _latest_target(root: Path) -> Optional[Path]:
    """The checkpoint `root/latest` names (None without a pointer); it must be a direct child of `root`."""
    pointer = root / LATEST
    if not pointer.is_file():
        return None
    name = pointer.read_text(errors="replace").strip()
    if not name or (root / name).resolve().parent != root.resolve():
        raise CheckpointError(f"'{pointer}' names {name!r}, which is not a checkpoint inside '{root}': "
                              "write the name of one of its step-* folders into it, or delete it")
    return root / name


def resolve_checkpoint(path) -> Path:
    """A run dir, its checkpoints dir or one checkpoint dir -> the checkpoint dir to load."""
    path = Path(path)
    if not path.exists():
        recovered = _complete(path)  # a checkpoint whose replacement was cut short: its aside copy
        if recovered is None:
            raise CheckpointError(f"'{path}' does not exist: pass a run directory or a checkpoint directory")
        return recovered
    if (path / STATE_JSON).is_file():
        return path
    for root in (path / "checkpoints", path):
        target = _latest_target(root)
        found = _complete(target) if target is not None else None
        if found is not None:
            return found
        steps = sorted(p for p in root.glob("step-*") if (p / STATE_JSON).is_file())
        if steps:
            return steps[-1]
    raise CheckpointError(f"no checkpoint found in '{path}': expected checkpoints/<step>/{STATE_JSON} inside a run directory")


def load_checkpoint(path, map_location: str = "cpu", trainer_state: bool = True) -> Checkpoint:
    """Load weights (onto `map_location`) and trainer state (on the CPU; safetensors + JSON only).

    With `trainer_state=False` the optimizer / RNG / data-order tensors are not read (their file may
    be absent: sampling needs only the weights and state.json); `.state` is then empty."""
    ckpt = resolve_checkpoint(path)
    try:
        doc = json.loads((ckpt / STATE_JSON).read_text())
        flat = load_file(str(ckpt / MODEL_FILE), device=map_location)
        # RNG states and arrays live on the host
        tensors = load_file(str(ckpt / STATE_TENSORS), device="cpu") if trainer_state else None
    except (OSError, ValueError, KeyError, SafetensorError) as err:
        raise CheckpointError(f"checkpoint '{ckpt}' is unreadable ({type(err).__name__}: {err}); use an earlier one") from None
    weights: Dict[str, Dict[str, torch.Tensor]] = {}
    for key, value in flat.items():
        net, param = key.split(".", 1)
        weights.setdefault(net, {})[param] = value
    state = unflatten_state(doc["state"], tensors) if trainer_state else {}
    return Checkpoint(ckpt, weights, state, doc["meta"])


def split_weights(weights: Dict[str, Dict[str, torch.Tensor]], name: str) -> Tuple[Dict[str, torch.Tensor], bool]:
    """Weights of network `name`, preferring its EMA copy (`name_ema`) when present."""
    if f"{name}_ema" in weights:
        return weights[f"{name}_ema"], True
    if name not in weights:
        raise CheckpointError(f"checkpoint holds no network '{name}' (has: {', '.join(sorted(weights))})")
    return weights[name], False
