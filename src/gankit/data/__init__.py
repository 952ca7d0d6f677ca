"""Data sources: each returns an in-memory data set with `batches(...)`; load_dataset picks one by name."""

from __future__ import annotations

import difflib
import inspect
from typing import Callable

from gankit.data.base import Dataset
from gankit.data.captioned_mnist import captioned_mnist
from gankit.data.captions import captions_source
from gankit.data.digits import digits
from gankit.data.fake import fake
from gankit.data.folder import folder
from gankit.data.frames import frames
from gankit.data.idx import fashion_mnist, mnist
from gankit.data.moving_mnist import moving_mnist
from gankit.data.sampler import BatchSampler
from gankit.data.paired import paired
from gankit.data.toy import MIXTURES, grid, mixture_means, mixture_std, ring
from gankit.data.unpaired import unpaired
from gankit.data.sr import sr
from gankit.data.stacked import stacked_mnist
from gankit.errors import DataError

__all__ = ["Dataset", "SOURCES", "load_dataset", "BatchSampler", "MIXTURES", "mixture_means", "mixture_std"]

SOURCES: dict[str, Callable[..., Dataset]] = {
    "digits": digits, "mnist": mnist, "fashion-mnist": fashion_mnist, "folder": folder,
    "ring": ring, "grid": grid, "fake": fake,
    "stacked-mnist": stacked_mnist, "paired": paired, "unpaired": unpaired, "sr": sr,
    "moving-mnist": moving_mnist, "frames": frames, "captioned-mnist": captioned_mnist, "captions": captions_source,
}
SPLITS = ("train", "test")
ON_CORRUPT = ("error", "skip")


def _positive(key: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise DataError(f"data.{key} must be a positive integer, got {value!r}: pass e.g. data.{key}=64")


def _check_args(size: int | None, channels: int | None, n: int | None, split: str, on_corrupt: str) -> None:
    _positive("size", size)
    _positive("n", n)
    if channels not in (None, 1, 3):
        raise DataError(f"data.channels must be 1 (grayscale) or 3 (RGB), got {channels!r}: pass data.channels=1 or 3")
    if split not in SPLITS:
        raise DataError(f"data.split must be 'train' or 'test', got {split!r}: pass data.split=train or test")
    if on_corrupt not in ON_CORRUPT:
        raise DataError(f"data.on_corrupt must be 'error' or 'skip', got {on_corrupt!r}: "
                        "pass data.on_corrupt=error or skip")


def _source(name: str) -> Callable[..., Dataset]:
    key = name.strip().lower().replace("_", "-") if isinstance(name, str) else name
    if key in SOURCES:
        return SOURCES[key]
    close = difflib.get_close_matches(str(key), SOURCES, n=1, cutoff=0.0)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise DataError(f"unknown data source {name!r}: {hint}valid sources are {', '.join(SOURCES)}")


def load_dataset(name: str, *, dir: str | None = None, size: int | None = None, channels: int | None = None,
                 split: str = "train", n: int | None = None, seed: int = 0, on_corrupt: str = "error",
                 download: bool = False, **extra) -> Dataset:
    """Validate the arguments and load source `name`, passing it only the arguments it uses
    (`extra`: source-specific ones such as direction, dir_a, dir_b, jitter)."""
    source = _source(name)
    _check_args(size, channels, n, split, on_corrupt)
    given = {"dir": dir, "size": size, "channels": channels, "split": split, "n": n, "seed": seed,
             "on_corrupt": on_corrupt, "download": download, **extra}
    params = inspect.signature(source).parameters
    return source(**{k: v for k, v in given.items() if k in params})
