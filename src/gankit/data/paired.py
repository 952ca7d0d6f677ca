"""Paired image-to-image translation data (pix2pix): aligned A|B files, or folders A/ and B/.

The root is dir/split when that folder exists, else dir. It holds either image files each
with A on the left and B on the right (as CMP Facades), or folders A/ and B/ whose files
are paired by name (stem). Every image is resized to a square; with jitter each batch takes
the same random crop and flip of both images of a pair.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import torch

from gankit.data.folder import EXTENSIONS
from gankit.data.translation_common import (TranslationBatches, TranslationData, check_options, existing_dir, few,
                                            iterate, list_images, load_items, load_size, split_root, subset)
from gankit.errors import DataError

LAYOUT = ("a paired set is image files each holding A and B side by side (A left, B right), or folders A/ and B/ "
          "with files of matching names")
_TODO = f"pass data.dir=PATH to a paired set ({LAYOUT})"


@dataclass
class PairedData(TranslationData):
    """Pairs as uint8 (N, C, L, L) `source` and `target` (L = info["load_size"]); `names` are the file stems."""

    source: torch.Tensor
    target: torch.Tensor
    names: List[str]
    size: int
    jitter: bool
    info: dict = field(default_factory=dict)
    kind = name = "paired"
    tensors = ("source", "target")

    def __len__(self) -> int:
        return self.source.shape[0]

    def batches(self, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> TranslationBatches:
        """Random batches {"source", "target"} (float32 in [-1, 1]); this rank's share of `batch_size`."""
        return TranslationBatches({"pairs": {"source": self.source, "target": self.target}}, self.size,
                                  self.jitter, batch_size, seed, rank, world)

    def items(self, batch_size: int = 16) -> Iterator[Dict[str, object]]:
        """Every pair once in file order, no jitter: {"source", "target"} at size x size, and "names".

        With jitter the stored load_size images are resized back to size (bilinear, antialiased).
        """
        return iterate({"source": self.source, "target": self.target}, self.names, self.size, batch_size)


def _stems(folder: Path) -> Dict[str, Path]:
    files = list_images(folder)
    if not files:
        raise DataError(f"no images found in '{folder}' (looked for {', '.join(EXTENSIONS)} files): "
                        f"put the pairs' images there; {LAYOUT}")
    by_stem: Dict[str, Path] = {}
    for p in files:
        if p.stem in by_stem:
            raise DataError(f"'{by_stem[p.stem]}' and '{p}' have the same name '{p.stem}': "
                            "keep one file per name so each pair is unambiguous")
        by_stem[p.stem] = p
    return by_stem


def match_by_stem(a_dir: Path, b_dir: Path) -> List[Tuple[Path, Path]]:
    """(A file, B file) for every stem present in both folders, sorted by stem; warns about the rest."""
    a, b = _stems(a_dir), _stems(b_dir)
    common = sorted(a.keys() & b.keys())
    if not common:
        raise DataError(f"no file in '{a_dir}' has a partner of the same name in '{b_dir}' "
                        f"(A has {few(sorted(a))}; B has {few(sorted(b))}): name the two files of a pair alike, "
                        "e.g. A/1.jpg and B/1.png")
    lone = len(a) + len(b) - 2 * len(common)
    if lone:
        shown = sorted((a.keys() | b.keys()) - set(common))
        warnings.warn(f"{lone} of the {len(a) + len(b)} files in '{a_dir}' and '{b_dir}' have no partner of the "
                      f"same name and are ignored: {few(shown, 5)}", stacklevel=3)
    return [(a[s], b[s]) for s in common]


def pair_items(root: Path) -> Tuple[str, list]:
    """("folders", [(A file, B file), ...]) when root holds A/ and B/, else ("aligned", [(file,), ...])."""
    if (root / "A").is_dir() and (root / "B").is_dir():
        return "folders", match_by_stem(root / "A", root / "B")
    files = list_images(root)
    if not files:
        raise DataError(f"no images found in '{root}' (looked for {', '.join(EXTENSIONS)} files, not in "
                        f"subfolders): {LAYOUT}")
    return "aligned", [(p,) for p in files]


def paired(*, dir: Optional[str] = None, size: Optional[int] = None, channels: Optional[int] = None,
           split: str = "train", direction: str = "AtoB", jitter: bool = True, n: Optional[int] = None,
           seed: int = 0, on_corrupt: str = "error") -> PairedData:
    """Load the pairs under dir/split (or dir); AtoB makes A the source and B the target, BtoA swaps.

    size defaults to 256; with jitter the images are stored at round(size * 286 / 256).
    channels None keeps each side's own (1 if all its files are gray, else 3); 1 or 3 forces both.
    n keeps a seeded random subset of n pairs; on_corrupt='skip' drops pairs with unreadable files.
    """
    size, direction = check_options(size, channels, n, direction, jitter, on_corrupt)
    root = split_root(existing_dir(dir, "dir", _TODO), split)
    layout, items = pair_items(root)
    items = subset(items, n, seed)
    side = load_size(size, jitter)
    (a, b), names, skipped = load_items(items, side, channels, on_corrupt, root, aligned=layout == "aligned")
    source, target = (a, b) if direction == "AtoB" else (b, a)
    info = {"dir": str(root), "split": split, "layout": layout, "size": size, "load_size": side, "jitter": jitter,
            "direction": direction, "in_channels": source.shape[1], "out_channels": target.shape[1],
            "pairs": len(names), "files": len(names) * len(items[0]), "skipped": len(skipped),
            "skipped_files": [str(p) for p in skipped[:100]]}
    return PairedData(source=source, target=target, names=names, size=size, jitter=jitter, info=info)
