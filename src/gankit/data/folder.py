"""Any folder of images, searched recursively and loaded into one tensor with PIL.

Each image is resized so its shorter side is `size` (bilinear, antialiased) and
centre-cropped to size x size. When the top folder holds no images itself and two or
more subfolders hold images, the subfolder names (sorted) are the classes.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from gankit.data.base import Dataset, convert_channels, image_dataset, resize_images, subset_indices, to_unit_range
from gankit.errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
DEFAULT_SIZE = 64
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}


def _root(dir: str | None) -> Path:
    todo = "pass data.dir=PATH to a folder of images"
    if dir is None:
        raise DataError(f"the folder source needs a data.dir: {todo}")
    root = Path(dir).expanduser()
    if not root.exists():
        raise DataError(f"data.dir '{root}' does not exist: {todo}")
    if not root.is_dir():
        raise DataError(f"data.dir '{root}' is a file, not a folder: {todo}")
    return root


def scan(root: Path) -> tuple[list[Path], list[str]]:
    """Image files under `root` (sorted, hidden ones skipped) and the class names ([] if unlabelled)."""
    rel = sorted(p.relative_to(root).parts for p in root.rglob("*")
                 if p.suffix.lower() in EXTENSIONS and p.is_file())
    rel = [parts for parts in rel if not any(part.startswith(".") for part in parts)]
    if not rel:
        raise DataError(f"no images found in '{root}' (looked recursively for {', '.join(EXTENSIONS)} files, "
                        "any case): point data.dir at a folder that holds images")
    groups = sorted({parts[0] for parts in rel if len(parts) > 1})
    labelled = all(len(parts) > 1 for parts in rel) and len(groups) >= 2
    return [root.joinpath(*parts) for parts in rel], groups if labelled else []


def unreadable_image(path: Path, err: BaseException, todo: str) -> DataError:
    """The one-line error for an image file PIL cannot read: the file, PIL's reason, what to do."""
    return DataError(f"cannot read image '{path}' ({type(err).__name__}: {' '.join(str(err).split())}): {todo}")


def load_image(path: Path, size: int) -> torch.Tensor:
    """One image as a (1, C, size, size) tensor in [-1, 1], C = 1 for gray modes else 3."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im.convert("RGBA") if im.mode == "P" else im)
        im = im.convert("L" if im.mode in _GRAY_MODES else "RGB")
    arr = torch.from_numpy(np.array(im, dtype=np.uint8))
    x = arr.unsqueeze(0) if arr.ndim == 2 else arr.permute(2, 0, 1)
    return resize_images(to_unit_range(x, 255).unsqueeze(0), size)


def folder(*, dir: str | None = None, size: int | None = None, channels: int | None = None,
           n: int | None = None, seed: int = 0, on_corrupt: str = "error") -> Dataset:
    """Load every image under `dir`; unreadable files raise, or are skipped when on_corrupt='skip'."""
    root = _root(dir)
    size = size or DEFAULT_SIZE
    files, classes = scan(root)
    idx = subset_indices(len(files), n, seed)
    if idx is not None:
        files = [files[i] for i in idx.tolist()]
    images, kept, skipped = [], [], []
    for path in files:
        try:
            images.append(load_image(path, size))
        except Exception as e:  # PIL raises many types for bad files
            if on_corrupt != "skip":
                raise unreadable_image(path, e, "remove or replace it, or pass data.on_corrupt=skip to skip such "
                                       "files") from e
            skipped.append(path)
        else:
            kept.append(path)
    if skipped:
        shown = ", ".join(str(p) for p in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        warnings.warn(f"skipped {len(skipped)} unreadable image(s) under '{root}' (data.on_corrupt=skip): {shown}",
                      stacklevel=2)
    if not images:
        raise DataError(f"none of the {len(files)} image files under '{root}' could be read: "
                        "replace them or point data.dir at another folder")
    natural = 3 if any(im.shape[1] == 3 for im in images) else 1
    x = torch.cat([convert_channels(im, channels or natural) for im in images])
    class_of = {name: i for i, name in enumerate(classes)}
    y = torch.tensor([class_of[p.relative_to(root).parts[0]] for p in kept]) if classes else None
    info = {"dir": str(root), "files": len(kept), "skipped": len(skipped),
            "skipped_files": [str(p) for p in skipped[:100]]}
    return image_dataset(x, y, name="folder", class_names=classes, info=info)
