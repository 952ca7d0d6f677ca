"""Unpaired image-to-image translation data (CycleGAN): two domains sampled independently.

The domain folders are data.dir_a and data.dir_b when given; else dir/trainA and dir/trainB
(testA/testB for split=test); else folders A/ and B/ under dir/split (or dir); else the aligned
A|B files there, whose A halves form domain A and B halves domain B (as the CycleGAN paper
used facades). With jitter each domain takes its own random crops and flips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import torch

from gankit.data.folder import EXTENSIONS
from gankit.data.translation_common import (TranslationBatches, TranslationData, check_options, existing_dir,
                                            iterate, list_images, load_items, load_size, split_root, subset)
from gankit.errors import DataError

LAYOUT = ("an unpaired set is domain folders trainA/ and trainB/ (testA/, testB/) under data.dir, data.dir_a and "
          "data.dir_b, folders A/ and B/, or image files each holding A and B side by side (A left, B right)")
_TODO = f"pass data.dir=PATH ({LAYOUT})"


@dataclass
class UnpairedData(TranslationData):
    """Domains as uint8 (N, C, L, L) `a` (the source: A for AtoB, B for BtoA) and `b`, with their file stems."""

    a: torch.Tensor
    b: torch.Tensor
    names_a: List[str]
    names_b: List[str]
    size: int
    jitter: bool
    info: dict = field(default_factory=dict)
    kind = name = "unpaired"
    tensors = ("a", "b")

    def __len__(self) -> int:
        """max(len a, len b): CycleGAN's epoch."""
        return max(self.a.shape[0], self.b.shape[0])

    def batches(self, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> TranslationBatches:
        """Random batches {"a", "b"} (float32 in [-1, 1]), each domain in its own order; this rank's share."""
        return TranslationBatches({"a": {"a": self.a}, "b": {"b": self.b}}, self.size, self.jitter, batch_size,
                                  seed, rank, world)

    def items_a(self, batch_size: int = 16) -> Iterator[Dict[str, object]]:
        """Every image of domain a once in file order, no jitter: {"a"} at size x size, and "names"."""
        return iterate({"a": self.a}, self.names_a, self.size, batch_size)

    def items_b(self, batch_size: int = 16) -> Iterator[Dict[str, object]]:
        """Every image of domain b once in file order, no jitter: {"b"} at size x size, and "names"."""
        return iterate({"b": self.b}, self.names_b, self.size, batch_size)


def _domain_files(folder: Path, domain: str) -> List[Tuple[Path]]:
    files = list_images(folder)
    if not files:
        raise DataError(f"domain {domain} folder '{folder}' holds no images (looked for {', '.join(EXTENSIONS)} "
                        f"files, not in subfolders): put domain {domain}'s images there")
    return [(p,) for p in files]


def domain_folders(dir, dir_a, dir_b, split: str) -> Tuple[str, Path, Optional[Path], Optional[Path]]:
    """(layout, root, A folder, B folder): layout 'folders' (two domain folders) or 'aligned' (root's files)."""
    if dir_a is not None or dir_b is not None:
        if dir_a is None or dir_b is None:
            raise DataError("data.dir_a and data.dir_b go together: pass both, or data.dir alone")
        a = existing_dir(dir_a, "dir_a", "pass data.dir_a=PATH to a folder of domain A images")
        b = existing_dir(dir_b, "dir_b", "pass data.dir_b=PATH to a folder of domain B images")
        return "folders", a.parent, a, b
    top = existing_dir(dir, "dir", _TODO)
    a, b = top / f"{split}A", top / f"{split}B"
    if a.is_dir() or b.is_dir():
        missing = b if a.is_dir() else a
        if not missing.is_dir():
            raise DataError(f"'{missing}' is missing: the domain folders come in pairs, "
                            f"{split}A/ and {split}B/")
        return "folders", top, a, b
    root = split_root(top, split)
    if (root / "A").is_dir() and (root / "B").is_dir():
        return "folders", root, root / "A", root / "B"
    if not list_images(root):
        raise DataError(f"no images found in '{root}' (looked for {', '.join(EXTENSIONS)} files): {LAYOUT}")
    return "aligned", root, None, None


def unpaired(*, dir: Optional[str] = None, dir_a: Optional[str] = None, dir_b: Optional[str] = None,
             size: Optional[int] = None, channels: Optional[int] = None, split: str = "train",
             direction: str = "AtoB", jitter: bool = True, n: Optional[int] = None, seed: int = 0,
             on_corrupt: str = "error") -> UnpairedData:
    """Load two domains; AtoB makes A the source domain `a`, BtoA swaps.

    size defaults to 256; with jitter the images are stored at round(size * 286 / 256).
    channels None keeps each domain's own (1 if all its files are gray, else 3); 1 or 3 forces both.
    n keeps a seeded random subset of n images per domain; on_corrupt='skip' skips unreadable files.
    """
    size, direction = check_options(size, channels, n, direction, jitter, on_corrupt)
    layout, root, dir_a, dir_b = domain_folders(dir, dir_a, dir_b, split)
    side = load_size(size, jitter)
    if layout == "aligned":
        items = subset([(p,) for p in list_images(root)], n, seed)
        (a, b), names_a, skipped = load_items(items, side, channels, on_corrupt, root, aligned=True)
        names_b, files = names_a, len(names_a)
    else:
        (a,), names_a, skipped_a = load_items(subset(_domain_files(dir_a, "A"), n, seed), side, channels,
                                              on_corrupt, dir_a, aligned=False)
        (b,), names_b, skipped_b = load_items(subset(_domain_files(dir_b, "B"), n, seed), side, channels,
                                              on_corrupt, dir_b, aligned=False)
        skipped, files = skipped_a + skipped_b, len(names_a) + len(names_b)
    folder_a, folder_b = (str(d) if d is not None else str(root) for d in (dir_a, dir_b))
    if direction == "BtoA":
        a, b, names_a, names_b, folder_a, folder_b = b, a, names_b, names_a, folder_b, folder_a
    info = {"dir": str(root), "dir_a": folder_a, "dir_b": folder_b, "split": split, "layout": layout,
            "size": size, "load_size": side, "jitter": jitter, "direction": direction,
            "in_channels": a.shape[1], "out_channels": b.shape[1], "channels_a": a.shape[1],
            "channels_b": b.shape[1], "count_a": a.shape[0], "count_b": b.shape[0], "files": files,
            "skipped": len(skipped), "skipped_files": [str(p) for p in skipped[:100]]}
    return UnpairedData(a=a, b=b, names_a=names_a, names_b=names_b, size=size, jitter=jitter, info=info)
