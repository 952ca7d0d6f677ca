"""Pieces shared by the image-to-image translation sources (paired.py, unpaired.py).

Images are stored as uint8 (N, C, L, L). L is `size`, or with jitter pix2pix's load size
round(size * 286 / 256): each batch then takes a random size x size crop and a random
horizontal flip. Batches are float32 in [-1, 1] on the data's device.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from gankit.data.base import subset_indices
from gankit.data.folder import _GRAY_MODES, EXTENSIONS, unreadable_image
from gankit.data.sampler import BatchSampler
from gankit.errors import DataError

DEFAULT_SIZE = 256
DIRECTIONS = ("AtoB", "BtoA")
ON_CORRUPT = ("error", "skip")
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as PIL's "L" conversion


# ---------------------------------------------------------------- options and folders
def load_size(size: int, jitter: bool) -> int:
    """The stored side: pix2pix's round(size * 286 / 256) with jitter, else `size`."""
    return round(size * 286 / 256) if jitter else size


def check_options(size: Optional[int], channels: Optional[int], n: Optional[int], direction: str,
                  jitter: bool, on_corrupt: str) -> Tuple[int, str]:
    """Validate the shared arguments; returns (size, direction) with the defaults filled in."""
    for key, value in (("size", size), ("n", n)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise DataError(f"data.{key} must be a positive integer, got {value!r}: pass e.g. data.{key}=256")
    if channels not in (None, 1, 3):
        raise DataError(f"data.channels must be 1 (grayscale) or 3 (RGB), got {channels!r}: pass data.channels=1 or 3")
    names = {d.lower(): d for d in DIRECTIONS}
    if not isinstance(direction, str) or direction.lower() not in names:
        raise DataError(f"data.direction must be 'AtoB' or 'BtoA', got {direction!r}: "
                        "pass data.direction=AtoB or BtoA")
    if not isinstance(jitter, bool):
        raise DataError(f"data.jitter must be true or false, got {jitter!r}: pass data.jitter=true or false")
    if on_corrupt not in ON_CORRUPT:
        raise DataError(f"data.on_corrupt must be 'error' or 'skip', got {on_corrupt!r}: "
                        "pass data.on_corrupt=error or skip")
    return size or DEFAULT_SIZE, names[direction.lower()]


def existing_dir(path, key: str, todo: str) -> Path:
    """`path` as an existing folder; a one-line DataError naming data.`key` otherwise."""
    if path is None:
        raise DataError(f"data.{key} is not set: {todo}")
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"data.{key} '{root}' does not exist: {todo}")
    if not root.is_dir():
        raise DataError(f"data.{key} '{root}' is a file, not a folder: {todo}")
    return root


def split_root(root: Path, split: str) -> Path:
    """root/split when that folder exists, else root."""
    sub = root / split
    return sub if sub.is_dir() else root


def list_images(folder: Path) -> List[Path]:
    """The image files directly in `folder` (not its subfolders), sorted by name, hidden ones skipped."""
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in EXTENSIONS and not p.name.startswith(".") and p.is_file())


def few(names: Sequence[str], k: int = 3) -> str:
    """The first `k` names, quoted, with ' ...' when there are more."""
    return ", ".join(f"'{s}'" for s in names[:k]) + (" ..." if len(names) > k else "")


def report_unreadable(skipped: Sequence, none_left: bool, total: int, where, what: str = "image files",
                      stacklevel: int = 3) -> None:
    """Warn about the unreadable files skipped under data.on_corrupt=skip; a DataError when none is left."""
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image(s) under '{where}' (data.on_corrupt=skip): "
                      f"{few([str(p) for p in skipped], 5)}", stacklevel=stacklevel)
    if none_left:
        raise DataError(f"none of the {total} {what} under '{where}' could be read: "
                        "replace them or point data.dir at another folder")


def subset(items: list, n: Optional[int], seed: int) -> list:
    """A seeded random subset of `n` items (in their order); all of them when n is None or large."""
    idx = subset_indices(len(items), n, seed)
    return items if idx is None else [items[i] for i in idx.tolist()]


# ---------------------------------------------------------------- images
def read_image(path: Path) -> torch.Tensor:
    """One file as uint8 (C, H, W), EXIF orientation applied; C = 1 for gray modes, else 3."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im.convert("RGBA") if im.mode == "P" else im)
        im = im.convert("L" if im.mode in _GRAY_MODES else "RGB")
    arr = torch.from_numpy(np.array(im, dtype=np.uint8))
    return arr.unsqueeze(0) if arr.ndim == 2 else arr.permute(2, 0, 1).contiguous()


def resize_square(x: torch.Tensor, side: int) -> torch.Tensor:
    """uint8 (C, H, W) resized to (C, side, side): bicubic, antialiased, rounded and clamped."""
    if tuple(x.shape[-2:]) == (side, side):
        return x
    y = F.interpolate(x[None].float(), size=(side, side), mode="bicubic", antialias=True, align_corners=False)
    return y[0].round_().clamp_(0, 255).to(torch.uint8)


def split_aligned(x: torch.Tensor, path: Path) -> Tuple[torch.Tensor, torch.Tensor]:
    """The A (left) and B (right) halves of an aligned pair image (C, H, 2H)."""
    h, w = x.shape[-2:]
    if w != 2 * h:
        raise DataError(f"'{path}' is {w}x{h}: an aligned pair must be twice as wide as high (A left, B right); "
                        "fix or remove it, or put A and B in separate folders A/ and B/ with matching names")
    return x[..., :h], x[..., h:]


def convert_uint8(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (C, H, W) with `channels` channels: gray replicated to RGB, or RGB to its luma."""
    if x.shape[0] == channels:
        return x
    if channels == 3:
        return x.expand(3, -1, -1)
    luma = (x.float() * torch.tensor(_LUMA).view(3, 1, 1)).sum(0, keepdim=True)
    return luma.round_().clamp_(0, 255).to(torch.uint8)


def stack_uint8(images: Sequence[torch.Tensor], channels: Optional[int]) -> torch.Tensor:
    """(N, C, L, L) uint8; C = `channels`, or 3 when any image is RGB, else 1."""
    c = channels or (3 if any(x.shape[0] == 3 for x in images) else 1)
    return torch.stack([convert_uint8(x, c) for x in images])


def load_items(items: Sequence[Tuple[Path, ...]], side: int, channels: Optional[int], on_corrupt: str,
               where: Path, aligned: bool) -> Tuple[List[torch.Tensor], List[str], List[Path]]:
    """Read each item's files, resize every image to side x side and stack them.

    An item is one aligned file (giving its A and B halves), or one file per column. Returns
    the uint8 columns, the names (stem of each item's first file) and the skipped files; an
    item with an unreadable file raises, or is dropped whole when on_corrupt='skip'.
    """
    columns: List[List[torch.Tensor]] = []
    names: List[str] = []
    skipped: List[Path] = []
    for paths in items:
        images = [_read_or_skip(p, on_corrupt) for p in paths]
        if any(x is None for x in images):
            skipped += [p for p, x in zip(paths, images) if x is None]
            continue
        if aligned:
            images = list(split_aligned(images[0], paths[0]))
        columns.append([resize_square(x, side) for x in images])
        names.append(paths[0].stem)
    report_unreadable(skipped, not columns, len(items), where, stacklevel=4)
    return [stack_uint8(col, channels) for col in zip(*columns)], names, skipped


def _read_or_skip(path: Path, on_corrupt: str) -> Optional[torch.Tensor]:
    try:
        return read_image(path)
    except Exception as e:  # PIL raises many types for bad files
        if on_corrupt != "skip":
            raise unreadable_image(path, e, "remove or replace it, or pass data.on_corrupt=skip to skip such "
                                   "files") from e
        return None


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images to float32 in [-1, 1] (0 -> -1, 255 -> 1)."""
    return x.float() / 127.5 - 1


# ---------------------------------------------------------------- data and batches
class TranslationData:
    """Methods shared by PairedData and UnpairedData; `tensors` names their uint8 image fields."""

    tensors: Tuple[str, ...] = ()
    size: int
    jitter: bool
    num_classes = 0  # no labels (the Dataset interface)
    class_names: Tuple[str, ...] = ()

    @property
    def device(self) -> torch.device:
        return getattr(self, self.tensors[0]).device

    @property
    def in_channels(self) -> int:
        return getattr(self, self.tensors[0]).shape[1]

    @property
    def out_channels(self) -> int:
        return getattr(self, self.tensors[-1]).shape[1]

    @property
    def shape(self) -> Tuple[int, int, int]:
        """(out_channels, size, size): one output image."""
        return (self.out_channels, self.size, self.size)

    def to(self, device):
        """A copy with the uint8 image tensors on `device`."""
        return replace(self, **{k: getattr(self, k).to(device) for k in self.tensors})


def derive_seed(seed: int, tag: str) -> int:
    """A 63-bit seed for one named stream, different for each tag."""
    digest = hashlib.sha256(f"{int(seed)}/{tag}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class TranslationBatches:
    """Random batches from groups of stored images, with pix2pix's jitter and an exact state.

    Each group (e.g. source and target of the pairs, or one domain) has its own BatchSampler
    over its items; images in one group share indices, crops and flips. The batch size is the
    global one: every rank draws the same indices and jitter and keeps its slice, as
    ShardedSampler does. Jitter numbers come from a private CPU generator.
    """

    def __init__(self, groups: Dict[str, Dict[str, torch.Tensor]], size: int, jitter: bool, batch_size: int,
                 seed: int, rank: int = 0, world: int = 1) -> None:
        check_shard(batch_size, rank, world)
        self.groups = groups
        self.size, self.jitter, self.rank, self.world = size, jitter, rank, world
        self.samplers = {name: BatchSampler(len(next(iter(t.values()))), batch_size, seed=derive_seed(seed, name))
                         for name, t in groups.items()}
        self.generator = torch.Generator().manual_seed(derive_seed(seed, "jitter"))

    @property
    def steps_per_epoch(self) -> int:
        """Batches in an epoch of the largest group."""
        return max(s.steps_per_epoch for s in self.samplers.values())

    def next(self) -> Dict[str, torch.Tensor]:
        """The next batch: {name: float32 (B, C, size, size) in [-1, 1]} on the data's device."""
        out = {}
        for group, tensors in self.groups.items():
            first = next(iter(tensors.values()))
            idx = self.samplers[group].next()
            share = len(idx) // self.world
            keep = slice(self.rank * share, (self.rank + 1) * share)
            if self.jitter:
                offsets = torch.randint(0, first.shape[-1] - self.size + 1, (2, len(idx)), generator=self.generator)
                flips = torch.randint(0, 2, (len(idx),), generator=self.generator).bool()
                tops, lefts, flips = (t[keep].to(first.device) for t in (offsets[0], offsets[1], flips))
            idx = idx[keep].to(first.device)
            for key, x in tensors.items():
                x = crop_flip(x, idx, tops, lefts, flips, self.size) if self.jitter else x[idx]
                out[key] = to_float(x)
        return out

    def state_dict(self) -> dict:
        """{"samplers": {group: BatchSampler state}, "jitter": generator state}."""
        return {"samplers": {k: s.state_dict() for k, s in self.samplers.items()},
                "jitter": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly from a state_dict() of a batch source over the same data and settings."""
        try:
            samplers, jitter = state["samplers"], torch.as_tensor(state["jitter"]).to("cpu", torch.uint8)
            missing = sorted(set(self.samplers) - set(samplers))
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"batch state is malformed ({type(e).__name__}: {e}): "
                            "resume from an intact checkpoint or start a new run") from e
        if missing:
            raise DataError(f"batch state has no sampler for {', '.join(missing)}: "
                            "resume with the same data source or start a new run")
        try:
            torch.Generator().set_state(jitter)  # check before changing anything
        except RuntimeError as e:
            raise DataError("batch state has an invalid jitter generator state: "
                            "resume from an intact checkpoint or start a new run") from e
        for name, sampler in self.samplers.items():
            sampler.load_state_dict(samplers[name])
        self.generator.set_state(jitter)


def check_shard(batch_size, rank, world) -> None:
    """One-line errors for a rank outside the world, or a global batch smaller than the world."""
    if isinstance(world, bool) or not isinstance(world, int) or world < 1 or not 0 <= rank < world:
        raise DataError(f"rank {rank!r} of world {world!r} is invalid: the world size must be at least 1 "
                        "and 0 <= rank < world")
    if isinstance(batch_size, int) and 1 <= batch_size < world:
        raise DataError(f"train.batch_size={batch_size} is smaller than the {world} processes: "
                        f"raise train.batch_size to at least {world}")


def crop_flip(x: torch.Tensor, idx: torch.Tensor, tops: torch.Tensor, lefts: torch.Tensor, flips: torch.Tensor,
              size: int) -> torch.Tensor:
    """x[idx] cropped to size x size at (tops, lefts), mirrored where `flips`: one gather, (B, C, size, size)."""
    ar = torch.arange(size, device=x.device)
    rows = tops[:, None] + ar
    cols = lefts[:, None] + torch.where(flips[:, None], size - 1 - ar, ar)
    out = x[idx[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # (B, size, size, C)
    return out.permute(0, 3, 1, 2).contiguous()


def iterate(tensors: Dict[str, torch.Tensor], names: List[str], size: int,
            batch_size: int) -> Iterator[Dict[str, object]]:
    """Batches in stored order, float32 in [-1, 1] resized (bilinear, antialiased) to size, plus "names"."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise DataError(f"the batch size must be a positive integer, got {batch_size!r}: pass e.g. 16")
    total = len(names)
    for i in range(0, total, batch_size):
        out: Dict[str, object] = {k: _resize_float(to_float(x[i:i + batch_size]), size) for k, x in tensors.items()}
        out["names"] = names[i:i + batch_size]
        yield out


def _resize_float(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size:
        return x
    y = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return y.clamp_(-1, 1)

