"""Video clips of the user's own: a folder of clips, random windows of consecutive frames for training.

A clip is one of: a .npy array ((T, H, W), (T, H, W, C) or (T, C, H, W); uint8, integers in 0..255 or
floats in [0, 1]), a folder of numbered frames (png, jpg, ...; in natural order of their names, so
frame2 comes before frame10) or an animated GIF (every frame). Clips are stored as uint8 (T, C, H, W)
on the data's device. Training windows: each clip once per epoch in a random order, each at a random
start; testing (`items`) gives the non-overlapping windows of every clip in order.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch

from gankit.data.folder import EXTENSIONS, unreadable_image
from gankit.data.sampler import BatchSampler
from gankit.data.translation_common import (check_shard, convert_uint8, derive_seed, existing_dir, few, read_image,
                                            resize_square, subset, to_float)
from gankit.errors import DataError

CLIP_FILES = (".npy", ".gif")
SPLITS = ("train", "test")
_CHANNELS = (1, 3, 4)  # gray, RGB, RGBA (alpha dropped)
_TODO = ("pass data.dir=FOLDER holding one clip per entry: a .npy array, an animated .gif, "
         "or a subfolder of numbered frames")
_TODO_TEST = _TODO.replace("data.dir", "data.test_dir")


# ---------------------------------------------------------------- checks shared with moving_mnist
def positive(key: str, value, example: int, required: bool = False) -> None:
    """A one-line DataError unless `value` is a positive integer (or None, when not `required`)."""
    if (required or value is not None) and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise DataError(f"data.{key} must be a positive integer, got {value!r}: pass e.g. data.{key}={example}")


def check_window(frames_in, frames_out, split: str) -> int:
    """Validate the context / future lengths and the split; returns the window frames_in + frames_out."""
    positive("frames_in", frames_in, 10, required=True)
    positive("frames_out", frames_out, 10, required=True)
    if split not in SPLITS:
        raise DataError(f"data.split must be 'train' or 'test', got {split!r}: pass data.split=train or test")
    return frames_in + frames_out


def check_batch_size(batch_size) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise DataError(f"the batch size must be a positive integer, got {batch_size!r}: pass e.g. 16")


def generator_state(state, key: str, what: str) -> torch.Tensor:
    """state[key] as a valid CPU torch.Generator state (uint8); a one-line DataError otherwise."""
    try:
        value = torch.as_tensor(state[key]).to("cpu", torch.uint8)
        torch.Generator().set_state(value)
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as e:
        raise DataError(f"{what} batch state is malformed ({type(e).__name__}: {' '.join(str(e).split())}): "
                        "resume from an intact checkpoint or start a new run") from e
    return value


# ---------------------------------------------------------------- reading one clip
def natural_key(name: str) -> list:
    """Sort key comparing digit runs as numbers: 'frame2' < 'frame10'."""
    parts = re.split(r"(\d+)", name.lower())
    return [int(p) if i % 2 else p for i, p in enumerate(parts)] + [name]


def read_clip(path) -> torch.Tensor:
    """A clip (.npy, animated .gif or a folder of numbered frames) as uint8 (T, C, H, W), C = 1 or 3."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"clip '{path}' does not exist: pass a .npy file, a .gif or a folder of numbered frames")
    if path.is_dir():
        return _read_folder(path)
    suffix = path.suffix.lower()
    if suffix not in CLIP_FILES:
        raise DataError(f"'{path}' is not a clip (a {suffix or 'suffix-less'} file): pass a .npy array, an "
                        "animated .gif or a folder of numbered frames")
    return _read_npy(path) if suffix == ".npy" else _read_gif(path)


def _read_folder(folder: Path) -> torch.Tensor:
    files = sorted((p for p in folder.iterdir()
                    if p.suffix.lower() in EXTENSIONS and p.is_file() and not p.name.startswith(".")),
                   key=lambda p: natural_key(p.name))
    if not files:
        raise DataError(f"clip folder '{folder}' holds no frames (looked for {', '.join(EXTENSIONS)} files): "
                        "put the numbered frames of one clip in it, or remove it")
    images = []
    for p in files:
        try:
            images.append(read_image(p))
        except Exception as e:  # PIL raises many types for bad files
            raise unreadable_image(p, e, "replace or remove this frame") from e
        if images[-1].shape[-2:] != images[0].shape[-2:]:
            h, w = images[-1].shape[-2:]
            raise DataError(f"frame '{p}' is {w}x{h} but '{files[0].name}' is {images[0].shape[-1]}x"
                            f"{images[0].shape[-2]}: every frame of a clip must have the same size")
    c = 3 if any(f.shape[0] == 3 for f in images) else 1
    return torch.stack([convert_uint8(f, c) for f in images])


def _read_gif(path: Path) -> torch.Tensor:
    from PIL import Image, ImageSequence

    try:
        with Image.open(path) as im:
            frames = [(np.asarray(f.convert("RGB"), dtype=np.uint8), f.info.get("duration") or 0)
                      for f in ImageSequence.Iterator(im)]
    except Exception as e:  # PIL raises many types for bad files
        raise unreadable_image(path, e, "replace it with an intact animated GIF") from e
    # GIF writers (PIL among them) merge identical consecutive frames into one shown longer: a frame shown
    # k x the shortest duration counts k times (a GIF whose every frame was merged cannot be told apart)
    base = min((d for _, d in frames if d > 0), default=0)
    repeats = [d // base if base and d % base == 0 else 1 for _, d in frames]
    if any(r > 1 for r in repeats):
        warnings.warn(f"'{path}' shows some frames {max(repeats)}x longer than others: each counts as that many "
                      "frames (GIF writers merge identical consecutive frames)", stacklevel=3)
    arr = np.stack([a for (a, _), r in zip(frames, repeats) for _ in range(r)])
    gray = (arr[..., :1] == arr).all()  # palette images: gray when every colour is
    return torch.from_numpy(np.ascontiguousarray(arr[..., :1] if gray else arr)).permute(0, 3, 1, 2).contiguous()


def _read_npy(path: Path) -> torch.Tensor:
    arr = load_npy(path, "save the clip as a uint8 or float array with numpy.save")
    if arr.dtype.kind not in "uif":
        raise DataError(f"'{path}' holds {arr.dtype} values, not numbers: save the frames as uint8 (0..255) "
                        "or float (0..1)")
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[-1] in _CHANNELS:
        arr = arr.transpose(0, 3, 1, 2)
    elif arr.ndim != 4 or arr.shape[1] not in _CHANNELS:
        raise DataError(f"'{path}' has shape {arr.shape}: a clip must be (T, H, W), (T, H, W, C) or (T, C, H, W) "
                        "with C = 1, 3 or 4")
    if arr.shape[0] == 0:
        raise DataError(f"'{path}' has no frames (shape {arr.shape}): save a clip of at least one frame")
    arr = arr[:, :3] if arr.shape[1] == 4 else arr  # RGBA: the alpha channel is dropped
    return torch.from_numpy(np.ascontiguousarray(_to_uint8(arr, path)))


def load_npy(path: Path, todo: str) -> np.ndarray:
    """np.load without pickle; one-line DataErrors for an unreadable or non-.npy file, an archive, Python objects."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic == b"\x93NUMPY":
            return np.load(path, allow_pickle=False)
    except ValueError as e:  # an object array, or a corrupt header
        what = "holds Python objects, not numbers" if "allow_pickle" in str(e) else \
            f"cannot be read as a .npy array ({' '.join(str(e).split())})"
        raise DataError(f"'{path}' {what}: {todo}") from e
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read '{path}' ({type(e).__name__}: {' '.join(str(e).split())}): {todo}") from e
    what = "an .npz archive, not one array" if magic[:2] == b"PK" else "not a NumPy .npy file (no .npy header)"
    raise DataError(f"'{path}' is {what}: {todo}")


def _to_uint8(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f":
        if not (np.isfinite(arr).all() and arr.min() >= 0 and arr.max() <= 1):
            raise DataError(f"'{path}' holds floats outside [0, 1] (or NaN): scale the frames to [0, 1] "
                            "or save them as uint8")
        return np.round(arr * 255).astype(np.uint8)
    if arr.min() < 0 or arr.max() > 255:
        raise DataError(f"'{path}' holds integers outside 0..255: scale the frames to 0..255 (uint8)")
    return arr.astype(np.uint8)


# ---------------------------------------------------------------- clips of one size
def convert_clip(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (T, C, H, W) with `channels` channels (gray replicated, or RGB to luma), frame by frame."""
    return x if x.shape[1] == channels else torch.stack([convert_uint8(f, channels) for f in x])


def resize_clip(x: torch.Tensor, side: int) -> torch.Tensor:
    """uint8 (T, C, H, W) resized to (T, C, side, side) frame by frame (bicubic, antialiased: resize_square)."""
    return torch.stack([resize_square(f, side) for f in x])


def list_clips(root: Path, todo: str = _TODO) -> List[Path]:
    """The clips directly in `root` (files .npy / .gif and subfolders), natural order; other files warned of."""
    entries = sorted((p for p in root.iterdir() if not p.name.startswith(".")), key=lambda p: natural_key(p.name))
    clips, other = [], []
    for p in entries:
        (clips if p.is_dir() or p.suffix.lower() in CLIP_FILES else other).append(p)
    if other and clips:
        warnings.warn(f"ignored {len(other)} file(s) in '{root}' that are not clips (.npy, .gif or a folder of "
                      f"frames): {few([p.name for p in other], 5)}", stacklevel=3)
    if not clips:
        hint = " (it holds image files: point at the folder above it, one subfolder per clip)" if any(
            p.suffix.lower() in EXTENSIONS for p in other) else ""
        raise DataError(f"no clips found in '{root}'{hint}: {todo}")
    return clips


def _same_size(clips: Sequence[torch.Tensor], names: Sequence[str]) -> None:
    first = tuple(clips[0].shape[-2:])
    for x, name in zip(clips, names):
        if tuple(x.shape[-2:]) != first:
            raise DataError(f"clip '{name}' is {x.shape[-1]}x{x.shape[-2]} but '{names[0]}' is {first[1]}x{first[0]}: "
                            f"pass data.size=N to resize every clip to N x N, or make them the same size")


# ---------------------------------------------------------------- data and batches
@dataclass
class FramesData:
    """Clips as a list of uint8 (T_i, C, H, W) tensors (different lengths T_i, one C, H, W)."""

    clips: List[torch.Tensor]
    names: List[str]
    frames_in: int
    frames_out: int
    info: dict = field(default_factory=dict)
    kind = "video"
    name = "frames"
    num_classes = 0
    class_names: tuple = ()

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def window(self) -> int:
        return self.frames_in + self.frames_out

    @property
    def shape(self) -> tuple:
        """(frames_in + frames_out, C, H, W): one training window."""
        return (self.window, *self.clips[0].shape[1:])

    @property
    def device(self) -> torch.device:
        return self.clips[0].device

    def to(self, device) -> "FramesData":
        return FramesData([x.to(device) for x in self.clips], self.names, self.frames_in, self.frames_out, self.info)

    def batches(self, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> "WindowBatches":
        """Random windows {"frames": float32 (B, T, C, H, W) in [-1, 1]}; this rank's share of `batch_size`."""
        return WindowBatches(self.clips, self.window, batch_size, seed, rank, world)

    def items(self, batch_size: int = 1) -> Iterator[Dict[str, object]]:
        """Every clip's non-overlapping windows in order: {"frames": (B, T, C, H, W), "names": ["clip:start"]}."""
        check_batch_size(batch_size)
        t = self.window
        spots = [(k, s) for k, x in enumerate(self.clips) for s in range(0, len(x) - t + 1, t)]
        for i in range(0, len(spots), batch_size):
            part = spots[i:i + batch_size]
            yield {"frames": to_float(torch.stack([self.clips[k][s:s + t] for k, s in part])),
                   "names": [f"{self.names[k]}:{s}" for k, s in part]}


class WindowBatches:
    """Random windows of consecutive frames; an exact state for resume.

    Clip indices come from a BatchSampler (each clip once per epoch, in a random order), window
    starts from a private CPU generator. The global batch is drawn on every rank, each keeps its slice.
    """

    def __init__(self, clips: Sequence[torch.Tensor], window: int, batch_size: int, seed: int, rank: int = 0,
                 world: int = 1) -> None:
        check_batch_size(batch_size)
        check_shard(batch_size, rank, world)
        self.clips, self.window, self.batch_size, self.rank, self.world = clips, window, batch_size, rank, world
        self.sampler = BatchSampler(len(clips), 1, seed=derive_seed(seed, "clips"))
        self.generator = torch.Generator().manual_seed(derive_seed(seed, "windows"))

    @property
    def steps_per_epoch(self) -> int:
        """Batches per pass over the clips (at least 1)."""
        return max(1, len(self.clips) // self.batch_size)

    def next(self) -> Dict[str, torch.Tensor]:
        """{"frames": float32 (B / world, T, C, H, W) in [-1, 1]} on the clips' device."""
        share, out = self.batch_size // self.world, []
        for i in range(self.batch_size):  # every rank draws all; a remainder past world * share is kept by none
            x = self.clips[int(self.sampler.next()[0])]
            start = int(torch.randint(0, len(x) - self.window + 1, (1,), generator=self.generator))
            if i // share == self.rank:
                out.append(x[start:start + self.window])
        return {"frames": to_float(torch.stack(out))}

    def state_dict(self) -> dict:
        return {"sampler": self.sampler.state_dict(), "windows": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly from a state_dict() of a batch source over the same clips and settings."""
        windows = generator_state(state, "windows", "window")
        if not isinstance(state.get("sampler"), dict):
            raise DataError("window batch state has no sampler: resume from an intact checkpoint or start a new run")
        self.sampler.load_state_dict(state["sampler"])
        self.generator.set_state(windows)


def frames(*, dir: Optional[str] = None, test_dir: Optional[str] = None, split: str = "train", frames_in: int = 10,
           frames_out: int = 10, size: Optional[int] = None, channels: Optional[int] = None, n: Optional[int] = None,
           seed: int = 0) -> FramesData:
    """Load the clips of data.dir (split=train) or data.test_dir (split=test); `n` keeps a seeded subset of clips.

    Channels: `channels`, else 3 if any clip is RGB, else 1. With `size` every clip is resized to
    size x size, else all must share one H x W. Clips shorter than frames_in + frames_out are skipped."""
    window = check_window(frames_in, frames_out, split)
    positive("size", size, 64)
    positive("n", n, 100)
    if channels not in (None, 1, 3):
        raise DataError(f"data.channels must be 1 (grayscale) or 3 (RGB), got {channels!r}: pass data.channels=1 or 3")
    key, todo = ("test_dir", _TODO_TEST) if split == "test" else ("dir", _TODO)
    root = existing_dir(test_dir if split == "test" else dir, key, todo)
    paths = subset(list_clips(root, todo), n, seed)
    names = [p.name if p.is_dir() else p.stem for p in paths]
    clips = [read_clip(p) for p in paths]
    short = [nm for nm, x in zip(names, clips) if len(x) < window]
    if len(short) == len(clips):
        raise DataError(f"every clip in '{root}' is shorter than data.frames_in + data.frames_out = {window} frames "
                        f"(e.g. '{names[0]}', {len(clips[0])} frames): use longer clips or lower frames_in/frames_out")
    if short:
        warnings.warn(f"skipped {len(short)} of {len(clips)} clips shorter than {window} frames: {few(short, 5)}",
                      stacklevel=2)
        names, clips = map(list, zip(*[(nm, x) for nm, x in zip(names, clips) if len(x) >= window]))
    c = channels or (3 if any(x.shape[1] == 3 for x in clips) else 1)
    clips = [convert_clip(x, c) for x in clips]
    if size:
        clips = [resize_clip(x, size) for x in clips]
    else:
        _same_size(clips, names)
    info = {"dir": str(root), "split": split, "clips": len(clips), "frames": sum(len(x) for x in clips),
            "frames_in": frames_in, "frames_out": frames_out, "channels": c, "height": clips[0].shape[-2],
            "width": clips[0].shape[-1]}
    return FramesData(clips=clips, names=names, frames_in=frames_in, frames_out=frames_out, info=info)
