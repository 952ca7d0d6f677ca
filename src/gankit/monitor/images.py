"""Sample grids (images) and scatter plots (2-D points) written atomically as PNG; folders and point files."""
from __future__ import annotations

import io
import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Optional

import numpy as np
import torch
from PIL import Image

from ..checkpoint import _fsync_dir, atomic_write_bytes


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def grid_array(images: torch.Tensor, nrow: Optional[int] = None, pad: int = 2) -> np.ndarray:
    """Tile images in [-1, 1] into one uint8 array (H, W, C) with `nrow` images per row."""
    arr = to_uint8(images)
    n, h, w, c = arr.shape
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / nrow))
    out = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y0, x0 = pad + r * (h + pad), pad + col * (w + pad)
        out[y0:y0 + h, x0:x0 + w] = arr[i]
    return out


def png_bytes(array: np.ndarray, scale: int = 1) -> bytes:
    img = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def save_grid(images: torch.Tensor, path, nrow: Optional[int] = None) -> Path:
    """Write a PNG grid; small images are enlarged (nearest) so a 64-image grid is at least ~256 px."""
    arr = grid_array(images, nrow)
    scale = max(1, 256 // max(arr.shape[0], arr.shape[1]) + (1 if max(arr.shape[:2]) < 256 else 0))
    atomic_write_bytes(Path(path), png_bytes(arr, min(scale, 8)))
    return Path(path)


def save_scatter(points: torch.Tensor, path, means: Optional[torch.Tensor] = None, title: str = "") -> Path:
    """Scatter plot of 2-D samples, with the true mixture means as red crosses when given."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = points.detach().float().cpu().numpy()
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5)
    if means is not None:
        m = torch.as_tensor(means).cpu().numpy()
        ax.scatter(m[:, 0], m[:, 1], c="red", marker="x", s=30)
    ax.set_aspect("equal")
    ax.set_title(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


@contextmanager
def replacing(path, sync: bool = True) -> Iterator[BinaryIO]:
    """A file open on a temporary sibling of `path`, renamed over `path` when the block succeeds.

    With `sync` the file and its folder are fsynced; without (for the many files of a sample folder), a
    killed process still leaves the old file or none under `path`'s name, never a partial one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            yield fh
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync:
        _fsync_dir(path.parent)


def save_folder(batches: Iterable[torch.Tensor], folder) -> int:
    """One PNG per image (000000.png, 000001.png, ...), batch by batch; the folder is fsynced once at the end."""
    folder, i = Path(folder), 0
    folder.mkdir(parents=True, exist_ok=True)
    for batch in batches:
        for img in to_uint8(batch):
            with replacing(folder / f"{i:06d}.png", sync=False) as fh:
                fh.write(png_bytes(img))
            i += 1
    _fsync_dir(folder)
    return i


def save_points(batches: Iterable[torch.Tensor], path, n: int) -> Path:
    """Stream `n` 2-D points to a .npy (float32, shape (n, 2)) or .csv (`x,y` header) file, batch by batch."""
    path, npy = Path(path), Path(path).suffix == ".npy"
    with replacing(path) as fh:
        fh.write(_npy_header((n, 2)) if npy else b"x,y\n")
        for batch in batches:
            pts = batch.detach().float().cpu()
            fh.write(pts.numpy().astype("<f4").tobytes() if npy else _csv_rows(pts))
    return path


def _npy_header(shape) -> bytes:
    """The header `np.save` writes for a float32 array of `shape`."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def _csv_rows(points: torch.Tensor) -> bytes:
    return "".join(f"{a:.6f},{b:.6f}\n" for a, b in points.tolist()).encode()


def gif_bytes(frames: torch.Tensor, fps: float = 5.0, scale: int = 1) -> bytes:
    """An animated GIF (looping) of frames (T, C, H, W) in [-1, 1], gray or RGB, `scale` x enlarged (nearest)."""
    images = []
    for arr in to_uint8(frames):
        img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
        images.append(img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img)
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return buf.getvalue()
