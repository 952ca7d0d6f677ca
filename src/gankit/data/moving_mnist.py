"""Moving MNIST (Srivastava et al. 2015, arXiv:1502.04681) generated as OpenSTL's MovingMNIST does.

A sequence shows `digits` random MNIST digits (28 x 28) on a size x size canvas (64) for
frames_in + frames_out frames (10 + 10). A digit's position p = (row, col) lies in [0, 1]^2 over the
free range size - 28 px: it starts uniform in [0, 1)^2 and moves 0.1 * (sin theta, cos theta) per frame,
theta uniform in [0, 2 pi). Every frame first takes one step (frame 0 is one step from the start); a
coordinate reaching <= 0 or >= 1 is clamped to 0 or 1 and its velocity component flips (the overshoot is
dropped, not mirrored). The digit's top-left pixel is floor(p * (size - 28)) (OpenSTL's astype(int32));
digits are composited by pixel-wise maximum; frames are uint8.

split=train draws sequences on the fly from the MNIST train digits (a private CPU torch.Generator per
batch source, exact state for resume; rendered on the CPU, moved as uint8). split=test holds 10,000
sequences (`n` caps them) rendered from the MNIST test digits, sequence i from its own generator seeded
with derive_seed(TEST_SEED, i) (so independent of `seed` and of `n`), or the standard mnist_test_seq.npy
given as `test_file`. Batches and items are {"frames": float32 (B, T, 1, size, size) in [-1, 1]}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import numpy as np
import torch

from gankit.data.frames import WindowBatches, check_batch_size, check_window, generator_state, load_npy, positive
from gankit.data.idx import MNIST, read_split
from gankit.data.translation_common import check_shard, derive_seed, to_float
from gankit.errors import DataError

DIGIT = 28  # MNIST side in px
STEP = 0.1  # step length per frame, a fraction of the free range
TEST_SEED = 150204681  # the paper's arXiv id: seeds the generated test set
DEFAULT_SIZE = 64  # canvas side
DEFAULT_N = 10_000  # sequences of the test set, and of a nominal training epoch (OpenSTL's length)
_CHUNK = 64  # test sequences rendered at once (larger chunks are slower: index memory)
_TODO_FILE = ("pass data.test_file=PATH to the standard mnist_test_seq.npy ((20, 10000, 64, 64) uint8, frames "
              "first), or drop data.test_file to generate the test set from the MNIST test digits")

Params = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # digit indices (B, D), starts (B, D, 2), angles (B, D)


# ---------------------------------------------------------------- the protocol
def draw(generator: torch.Generator, count: int, digits: int, pool: int) -> Params:
    """Random digit indices into a pool of `pool` digits, start positions and directions for `count` sequences."""
    idx = torch.randint(pool, (count, digits), generator=generator)
    start = torch.rand(count, digits, 2, generator=generator, dtype=torch.float64)
    theta = torch.rand(count, digits, generator=generator, dtype=torch.float64) * (2 * math.pi)
    return idx, start, theta


def fixed_params(seed: int, lo: int, hi: int, digits: int, pool: int) -> Params:
    """The parameters of sequences lo..hi-1 of a fixed set, sequence i drawn from derive_seed(seed, i)."""
    parts = [draw(torch.Generator().manual_seed(derive_seed(seed, str(i))), 1, digits, pool) for i in range(lo, hi)]
    return tuple(torch.cat(p) for p in zip(*parts))


def trajectory(start: torch.Tensor, theta: torch.Tensor, frames: int) -> torch.Tensor:
    """Positions in [0, 1], (B, T, D, 2) as (row, col): constant steps, clamped and flipped at the walls."""
    pos, vel = start, torch.stack((theta.sin(), theta.cos()), -1) * STEP
    out = torch.empty(start.shape[0], frames, *start.shape[1:], dtype=torch.float64)
    for t in range(frames):
        pos = pos + vel
        vel = torch.where((pos <= 0) | (pos >= 1), -vel, vel)
        pos = pos.clamp(0, 1)
        out[:, t] = pos
    return out


def render(pool: torch.Tensor, params: Params, frames: int, size: int) -> torch.Tensor:
    """uint8 (B, T, 1, size, size): each digit pasted at floor(p * (size - 28)), composited by maximum."""
    idx, start, theta = params
    b, d = idx.shape
    corner = (trajectory(start, theta, frames) * (size - DIGIT)).floor_().long()  # (B, T, D, 2)
    ar = torch.arange(DIGIT)
    flat = (corner[..., 0, None, None] + ar[:, None]) * size + corner[..., 1, None, None] + ar  # (B, T, D, 28, 28)
    src = pool[idx][:, None].expand(b, frames, d, DIGIT, DIGIT)
    canvas = torch.zeros(b * frames, size * size, dtype=torch.uint8)
    canvas.scatter_reduce_(1, flat.reshape(b * frames, -1), src.reshape(b * frames, -1), "amax")
    return canvas.view(b, frames, 1, size, size)


# ---------------------------------------------------------------- data and batches
@dataclass
class MovingMNISTData:
    """Moving MNIST: a pool of uint8 (M, 28, 28) digits to draw from (train) or stored uint8 sequences (test)."""

    pool: Optional[torch.Tensor]
    sequences: Optional[torch.Tensor]  # (N, T, 1, size, size)
    frames_in: int
    frames_out: int
    digits: int
    size: int
    count: int  # stored sequences, or those of a nominal epoch and of items() for train
    items_seed: int
    info: dict = field(default_factory=dict)
    target: torch.device = torch.device("cpu")
    kind = "video"
    name = "moving-mnist"
    num_classes = 0
    class_names: tuple = ()

    def __len__(self) -> int:
        return self.count

    @property
    def window(self) -> int:
        return self.frames_in + self.frames_out

    @property
    def shape(self) -> tuple:
        """(frames_in + frames_out, 1, size, size): one sequence."""
        return (self.window, 1, self.size, self.size)

    @property
    def device(self) -> torch.device:
        return self.target

    def to(self, device) -> "MovingMNISTData":
        """A copy on `device`: stored sequences move there; generated ones are rendered on the CPU, then moved."""
        seq = None if self.sequences is None else self.sequences.to(device)
        return replace(self, sequences=seq, target=torch.device(device))

    def batches(self, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        """{"frames": float32 (B, T, 1, size, size)}, this rank's share: generated (train) or stored sequences drawn
        epoch-wise (test)."""
        if self.sequences is None:
            return MovingMNISTBatches(self, batch_size, seed, rank, world)
        return WindowBatches(list(self.sequences), self.window, batch_size, seed, rank, world)

    def items(self, batch_size: int = 16) -> Iterator[Dict[str, torch.Tensor]]:
        """The fixed set in order: the test sequences, or for train `count` sequences seeded by the data seed."""
        check_batch_size(batch_size)
        for lo in range(0, self.count, batch_size):
            hi = min(lo + batch_size, self.count)
            x = self.sequences[lo:hi] if self.sequences is not None else self.fixed(self.items_seed, lo, hi)
            yield {"frames": to_float(x.to(self.target))}

    def fixed(self, seed: int, lo: int, hi: int) -> torch.Tensor:
        """Sequences lo..hi-1 of the fixed set `seed` rendered from the pool, uint8 (hi - lo, T, 1, size, size)."""
        return render(self.pool, fixed_params(seed, lo, hi, self.digits, len(self.pool)), self.window, self.size)


class MovingMNISTBatches:
    """Sequences generated on the fly from a private CPU generator; its state is the whole resume state.

    Every rank draws the parameters of the global batch and renders only its slice."""

    def __init__(self, data: MovingMNISTData, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        check_batch_size(batch_size)
        check_shard(batch_size, rank, world)
        self.data, self.batch_size, self.rank, self.world = data, batch_size, rank, world
        self.generator = torch.Generator().manual_seed(derive_seed(seed, "moving-mnist"))

    @property
    def steps_per_epoch(self) -> int:
        """Batches in a nominal epoch of len(data) sequences (at least 1)."""
        return max(1, len(self.data) // self.batch_size)

    def next(self) -> Dict[str, torch.Tensor]:
        """{"frames": float32 (B / world, T, 1, size, size) in [-1, 1]} on the data's device."""
        d = self.data
        params = draw(self.generator, self.batch_size, d.digits, len(d.pool))
        share = self.batch_size // self.world
        mine = tuple(p[self.rank * share:(self.rank + 1) * share] for p in params)
        return {"frames": to_float(render(d.pool, mine, d.window, d.size).to(d.device, non_blocking=True))}

    def state_dict(self) -> dict:
        """{"generator": uint8 tensor}: safetensors-ready."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly from a state_dict() of a batch source with the same settings."""
        self.generator.set_state(generator_state(state, "generator", "moving-MNIST"))


# ---------------------------------------------------------------- loading
def mnist_digits(dir: Optional[str], split: str, download: bool) -> Tuple[torch.Tensor, list]:
    """The uint8 (M, 28, 28) MNIST images of `split` and their files (found as gankit.data.idx finds them)."""
    images, _, files = read_split(MNIST, dir, split, download)
    if images.shape[1:] != (DIGIT, DIGIT) or not len(images):
        raise DataError(f"'{files[0]}' holds images of shape {images.shape}, expected (N, 28, 28) MNIST digits: "
                        "use the MNIST files")
    return torch.from_numpy(images), [str(p) for p in files]


def read_test_file(path, window: int, size: int, n: Optional[int]) -> torch.Tensor:
    """mnist_test_seq.npy-style (T, N, size, size) uint8 as (min(N, n), T, 1, size, size); one-line errors."""
    path = Path(path).expanduser()
    if not path.is_file():
        state = "is a folder" if path.is_dir() else "does not exist"
        raise DataError(f"data.test_file '{path}' {state}: {_TODO_FILE}")
    if path.suffix.lower() != ".npy":
        raise DataError(f"data.test_file '{path}' is not a .npy file: {_TODO_FILE}")
    arr = load_npy(path, _TODO_FILE)
    if arr.dtype != np.uint8:
        raise DataError(f"data.test_file '{path}' holds {arr.dtype} values, not uint8: {_TODO_FILE}")
    if arr.ndim != 4 or arr.shape[0] != window or arr.shape[2:] != (size, size) or not arr.shape[1]:
        raise DataError(f"data.test_file '{path}' has shape {arr.shape}, expected ({window}, N, {size}, {size}) "
                        f"(data.frames_in + data.frames_out = {window}, data.size = {size}): {_TODO_FILE}")
    return torch.from_numpy(np.ascontiguousarray(arr[:, :n].transpose(1, 0, 2, 3)))[:, :, None]


def moving_mnist(*, dir: Optional[str] = None, split: str = "train", test_file: Optional[str] = None,
                 n: Optional[int] = None, seed: int = 0, frames_in: int = 10, frames_out: int = 10, digits: int = 2,
                 size: Optional[int] = DEFAULT_SIZE, download: bool = False) -> MovingMNISTData:
    """Moving MNIST from the MNIST IDX files in `dir` (or `test_file` for split=test).

    `n`: test sequences kept (default all 10,000), or for train the sequences of a nominal epoch and of
    items() (default 10,000). `seed` picks the train split's fixed items() set; the training stream
    comes from the batch source's seed and the test set from TEST_SEED. `size` None means 64."""
    window = check_window(frames_in, frames_out, split)
    positive("digits", digits, 2, required=True)
    size = DEFAULT_SIZE if size is None else size
    positive("size", size, DEFAULT_SIZE, required=True)
    positive("n", n, DEFAULT_N)
    if size < DIGIT:
        raise DataError(f"data.size must be at least {DIGIT} (the MNIST digit side), got {size}: pass data.size=64")
    info = {"split": split, "frames_in": frames_in, "frames_out": frames_out, "digits": digits, "size": size,
            "digit_size": DIGIT, "step": STEP, "start": "uniform [0, 1)^2 of the free range",
            "direction": "uniform [0, 2pi)", "bounce": "clamp to [0, 1], flip that velocity component",
            "position": f"floor(p * {size - DIGIT})", "composite": "max", "test_seed": TEST_SEED,
            "protocol": "Srivastava et al. 2015, as OpenSTL generates it"}
    if split == "test" and test_file is not None:
        seq = read_test_file(test_file, window, size, n)
        info.update(source="file", files=[str(Path(test_file).expanduser())], sequences=len(seq))
        return MovingMNISTData(None, seq, frames_in, frames_out, digits, size, len(seq), TEST_SEED, info)
    pool, files = mnist_digits(dir, split, download)
    info.update(source="generated", files=files, digit_split=split, pool=len(pool))
    data = MovingMNISTData(pool, None, frames_in, frames_out, digits, size, n or DEFAULT_N,
                           derive_seed(seed, "items"), info)
    if split == "test":
        seq = torch.empty((data.count, *data.shape), dtype=torch.uint8)
        for lo in range(0, data.count, _CHUNK):
            seq[lo:lo + _CHUNK] = data.fixed(TEST_SEED, lo, min(lo + _CHUNK, data.count))
        data = replace(data, pool=None, sequences=seq)
        info["sequences"] = data.count
    return data
