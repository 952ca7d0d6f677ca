"""MNIST and Fashion-MNIST read from MNIST-format IDX files, plain or gzipped.

Files are looked for in `dir` itself and in torchvision's layout `dir/<MNIST|FashionMNIST>/raw`.
With download=True, missing files are fetched with torchvision into `dir`
(default ~/.cache/gankit) and then read the same way.
"""

from __future__ import annotations

import gzip
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gankit.data.base import Dataset, image_dataset, subset_indices, to_unit_range
from gankit.errors import DataError

FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
EXPECTED = ", ".join(f"{stem}(.gz)" for pair in FILES.values() for stem in pair)
DEFAULT_ROOT = Path.home() / ".cache" / "gankit"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
_UBYTE = 0x08


@dataclass(frozen=True)
class IdxSource:
    """An MNIST-format data set: its source name, torchvision class and class names."""

    name: str
    torchvision_class: str
    class_names: tuple[str, ...]


MNIST = IdxSource("mnist", "MNIST", tuple(str(i) for i in range(10)))
FASHION_MNIST = IdxSource("fashion-mnist", "FashionMNIST", tuple(FASHION_CLASSES))


def _one_line(err: BaseException, limit: int = 200) -> str:
    text = " ".join(f"{type(err).__name__}: {err}".split())
    return text if len(text) <= limit else text[:limit] + "..."


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file of unsigned bytes into an array of its declared shape; DataError if corrupt."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"cannot read IDX file '{path}' ({_one_line(e)}): replace it with an intact copy") from e

    def corrupt(what: str) -> DataError:
        return DataError(f"IDX file '{path}' is corrupt ({what}): replace it with an intact copy "
                         "(data.download=true fetches MNIST-format files when online)")

    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise corrupt("bad magic number, not an IDX file")
    if raw[2] != _UBYTE:
        raise corrupt(f"data type code 0x{raw[2]:02X}, only 0x08 unsigned byte is supported")
    ndim, header = raw[3], 4 + 4 * raw[3]
    if ndim == 0 or len(raw) < header:
        raise corrupt("truncated header")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + math.prod(dims)
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "trailing bytes"
        raise corrupt(f"{state}: {len(raw)} bytes, expected {expected} for shape {dims}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims).copy()


def _find(folder: Path, stem: str) -> Path | None:
    """The file for `stem` in `folder`: plain or .gz, '-idx' or '.idx' spelling."""
    for base in (stem, stem.replace("-idx", ".idx")):
        for name in (base, base + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def locate(root: Path, source: IdxSource, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) files of `split` in `root` or `root/<TorchvisionClass>/raw`, else None."""
    for folder in (root, root / source.torchvision_class / "raw"):
        images, labels = (_find(folder, stem) for stem in FILES[split])
        if images and labels:
            return images, labels
    return None


def _download(root: Path, source: IdxSource) -> None:
    try:
        import torchvision.datasets as tvd

        getattr(tvd, source.torchvision_class)(str(root), train=True, download=True)
    except Exception as e:  # network, mirror or disk failure
        raise DataError(f"could not download {source.name} into '{root}' ({_one_line(e)}); offline? "
                        f"copy {EXPECTED} into a folder and pass data.dir=PATH") from e


def _missing(source: IdxSource, root: Path | None, split: str) -> DataError:
    todo = (f"pass data.dir=PATH to a folder holding {EXPECTED}, "
            "or set data.download=true to fetch them when online")
    if root is None:
        return DataError(f"no data.dir given for {source.name}: {todo}")
    if not root.exists():
        return DataError(f"data.dir '{root}' does not exist: {todo}")
    return DataError(f"{source.name} {split} files not found in '{root}' "
                     f"(nor in '{root / source.torchvision_class / 'raw'}'): {todo}")


def _read_pair(images_path: Path, labels_path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise DataError(f"'{images_path}' must hold (N, H, W) images and '{labels_path}' (N,) labels, "
                        f"got shapes {images.shape} and {labels.shape}: check the files are not swapped")
    if len(images) != len(labels):
        raise DataError(f"'{images_path}' has {len(images)} images but '{labels_path}' has {len(labels)} labels: "
                        "use matching files of the same split")
    if labels.size and labels.max() >= num_classes:
        raise DataError(f"'{labels_path}' has label {labels.max()}, expected 0..{num_classes - 1}: "
                        "use the label file of this data set")
    return images, labels


def read_split(source: IdxSource, dir: str | None, split: str, download: bool) -> tuple:
    """(uint8 images (N, H, W), labels, (images file, labels file)) of `split`, found in `dir` (or
    downloaded when `download`); a one-line DataError naming the files expected when they are missing."""
    root = Path(dir).expanduser() if dir is not None else None
    files = locate(root, source, split) if root is not None and root.is_dir() else None
    if files is None and download:
        root = root or DEFAULT_ROOT
        _download(root, source)
        files = locate(root, source, split)
    if files is None:
        raise _missing(source, root, split)
    return (*_read_pair(*files, num_classes=len(source.class_names)), files)


def load_idx(source: IdxSource, *, dir: str | None = None, split: str = "train", size: int | None = None,
             channels: int | None = None, n: int | None = None, seed: int = 0,
             download: bool = False) -> Dataset:
    """Load `split` of an MNIST-format source as (N, C, size, size) images in [-1, 1] with labels."""
    images, labels, files = read_split(source, dir, split, download)
    idx = subset_indices(len(labels), n, seed)
    if idx is not None:
        images, labels = images[idx.numpy()], labels[idx.numpy()]
    x = to_unit_range(torch.from_numpy(images), 255).unsqueeze(1)
    y = torch.from_numpy(labels).long()
    info = {"files": [str(p) for p in files], "split": split, "original_size": list(images.shape[1:])}
    return image_dataset(x, y, name=source.name, class_names=source.class_names,
                         size=size, channels=channels, info=info)


def mnist(*, dir: str | None = None, split: str = "train", size: int | None = None, channels: int | None = None,
          n: int | None = None, seed: int = 0, download: bool = False) -> Dataset:
    """MNIST handwritten digits (28x28, 1 channel, labels 0-9)."""
    return load_idx(MNIST, dir=dir, split=split, size=size, channels=channels, n=n, seed=seed, download=download)


def fashion_mnist(*, dir: str | None = None, split: str = "train", size: int | None = None,
                  channels: int | None = None, n: int | None = None, seed: int = 0,
                  download: bool = False) -> Dataset:
    """Fashion-MNIST clothing images (28x28, 1 channel, 10 classes)."""
    return load_idx(FASHION_MNIST, dir=dir, split=split, size=size, channels=channels, n=n, seed=seed,
                    download=download)
