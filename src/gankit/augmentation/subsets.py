"""Labelled data for the augmentation protocol: the train and test splits, stratified seeded subsets of the
train split, and image folders (one subfolder per class) written atomically for the GAN to train on."""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import torch

from ..errors import DataError

LABELLED = ("mnist", "fashion-mnist", "folder")
FOLDER_TEST_FRACTION = 0.2  # a folder without --test-dir: this stratified share is the test split
FOLDER_SPLIT_SEED = 20_181_006  # fixed, so every protocol seed shares one test split


@dataclass
class Labelled:
    """Train and test images (N, C, H, W) in [-1, 1] with int64 labels, the class names and where they came from."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: List[str]
    info: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple:
        return tuple(self.train_x.shape[1:])


def _folder_classes(ds, where: str) -> None:
    if ds.y is None or len(ds.class_names) < 2:
        raise DataError(f"'{where}' has no class subfolders (at least two, one per class, each holding its images): "
                        "arrange the images as DIR/<class>/*.png")


def load_labelled(data: str, data_dir: Optional[str], test_dir: Optional[str] = None,
                  size: Optional[int] = None) -> Labelled:
    """mnist / fashion-mnist (their train and test files, 28x28) or a folder of class subfolders (test: `test_dir`
    with the same classes, else a fixed stratified 20 % of the folder)."""
    from ..data import load_dataset

    if data not in LABELLED:
        raise DataError(f"--data must be one of {', '.join(LABELLED)}, got {data!r}")
    if data != "folder":
        kw = dict(dir=data_dir, size=size or 28, channels=1)
        train, test = load_dataset(data, split="train", **kw), load_dataset(data, split="test", **kw)
        return Labelled(train.x, train.y.long(), test.x, test.y.long(), list(train.class_names) or
                        [str(i) for i in range(10)], {"data": data, "dir": data_dir, "test": "the test files"})
    ds = load_dataset("folder", dir=data_dir, size=size)
    _folder_classes(ds, str(data_dir))
    if test_dir:
        test = load_dataset("folder", dir=test_dir, size=ds.shape[-1], channels=ds.shape[0])
        _folder_classes(test, test_dir)
        if list(test.class_names) != list(ds.class_names):
            raise DataError(f"--test-dir '{test_dir}' has the classes {test.class_names}, the training folder "
                            f"{ds.class_names}: give both the same class subfolders")
        return Labelled(ds.x, ds.y.long(), test.x, test.y.long(), list(ds.class_names),
                        {"data": "folder", "dir": data_dir, "test": f"--test-dir {test_dir}"})
    test_idx = stratified_fraction(ds.y.long(), FOLDER_TEST_FRACTION, FOLDER_SPLIT_SEED)
    keep = torch.ones(len(ds.y), dtype=torch.bool)
    keep[test_idx] = False
    return Labelled(ds.x[keep], ds.y[keep].long(), ds.x[test_idx], ds.y[test_idx].long(), list(ds.class_names),
                    {"data": "folder", "dir": data_dir,
                     "test": f"a fixed stratified {FOLDER_TEST_FRACTION:.0%} of the folder (seed {FOLDER_SPLIT_SEED})"})


def stratified_fraction(y: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Indices of a seeded `fraction` of every class (at least one image of each class with two or more)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for c in torch.unique(y).tolist():
        idx = (y == c).nonzero()[:, 0]
        take = min(len(idx) - 1, max(1, round(fraction * len(idx)))) if len(idx) > 1 else 0
        out.append(idx[torch.randperm(len(idx), generator=gen)[:take]])
    return torch.cat(out).sort().values


def stratified(y: torch.Tensor, per_class: int, seed: int, classes: List[str]) -> torch.Tensor:
    """Indices of `per_class` images of every class, drawn with `seed`; a one-line DataError when a class has
    fewer images than that."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for c, name in enumerate(classes):
        idx = (y == c).nonzero()[:, 0]
        if len(idx) < per_class:
            raise DataError(f"class '{name}' has {len(idx)} training images, fewer than the {per_class} labels per "
                            "class asked for: lower --labels-per-class or add images to that class")
        out.append(idx[torch.randperm(len(idx), generator=gen)[:per_class]])
    return torch.cat(out)


def write_class_folder(x: torch.Tensor, y: torch.Tensor, classes: List[str], out: Path) -> Path:
    """PNG images under out/<class>/ (every class, even one without images), written under `<out>.partial` and
    renamed when complete."""
    from ..monitor.images import save_folder
    from ..synth import class_folders

    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for c, name in enumerate(class_folders(classes, len(classes))):
        save_folder([x[y == c]], partial / name)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out


def read_class_folder(folder: Path, classes: List[str], size: int, channels: int) -> tuple:
    """(images, labels) of a folder that write_class_folder or `gankit synth` wrote, labels in `classes` order."""
    from ..data import load_dataset
    from ..synth import class_folders

    ds = load_dataset("folder", dir=str(folder), size=size, channels=channels)
    names = class_folders(classes, len(classes))
    if ds.y is None:  # a folder with a single class subfolder holding images
        only = next(p.name for p in Path(folder).iterdir() if p.is_dir() and any(p.iterdir()))
        return ds.x, torch.full((len(ds.x),), names.index(only), dtype=torch.long)
    remap = torch.tensor([names.index(n) for n in ds.class_names])
    return ds.x, remap[ds.y.long()]


__all__ = ["LABELLED", "Labelled", "load_labelled", "read_class_folder", "stratified", "stratified_fraction",
           "write_class_folder"]
