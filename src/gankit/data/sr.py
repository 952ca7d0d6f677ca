"""Super-resolution data: folders of high-resolution (HR) images, low-resolution (LR) inputs made from them.

Every HR image is cropped to a multiple of `scale` (from the top left, as the SR evaluation code does)
and its LR version made once at load time with MATLAB's bicubic `imresize(hr, 1/scale)` (Keys cubic,
a = -0.5, antialiased, rounded to uint8: the field's convention, `gankit.data.resize`). Training
batches are random aligned crops of `crop` HR pixels (crop / scale LR pixels), each with one of the 8
flips / 90-degree rotations, the same for LR and HR; images are drawn epoch-wise in a random order.
Testing (`items`) gives whole images, one at a time. Images stay uint8 on the data's device.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import torch

from gankit.data.folder import EXTENSIONS
from gankit.data.resize import LR_KERNEL, bicubic_lr
from gankit.data.sampler import BatchSampler
from gankit.data.translation_common import (_read_or_skip, check_shard, convert_uint8, derive_seed, existing_dir,
                                            few, list_images, subset, to_float)
from gankit.errors import DataError

SCALES = (2, 3, 4)
DEFAULT_CROP = 96
_TODO = "pass data.dir=FOLDER[,FOLDER...] holding high-resolution images (png, jpg, bmp, ...)"
_TODO_TEST = ("pass data.test_dir=FOLDER[,FOLDER...] of high-resolution test images (e.g. Set5), or --data-dir "
              "to `gankit eval`")
SSIM_WINDOW = 11  # the test images must hold an SSIM window after the `scale`-pixel border is cropped


@dataclass
class SRData:
    """HR images and their bicubic LR versions as lists of uint8 (C, H, W) tensors (different sizes)."""

    hr: List[torch.Tensor]
    lr: List[torch.Tensor]
    names: List[str]
    scale: int
    crop: int
    info: dict = field(default_factory=dict)
    kind = name = "sr"
    num_classes = 0
    class_names: tuple = ()

    def __len__(self) -> int:
        return len(self.hr)

    @property
    def channels(self) -> int:
        return self.hr[0].shape[0]

    @property
    def shape(self) -> tuple:
        """(channels, crop, crop): one HR training crop."""
        return (self.channels, self.crop, self.crop)

    @property
    def device(self) -> torch.device:
        return self.hr[0].device

    def to(self, device) -> "SRData":
        return SRData([x.to(device) for x in self.hr], [x.to(device) for x in self.lr], self.names, self.scale,
                      self.crop, self.info)

    def batches(self, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> "SRBatches":
        """Random crops {"lr", "hr"} (float32 in [-1, 1]); this rank's share of `batch_size`."""
        return SRBatches(self, batch_size, seed, rank, world)

    def items(self, batch_size: int = 1) -> Iterator[Dict[str, object]]:
        """Every image once in file order: {"lr": (1, C, h, w), "hr": (1, C, h*s, w*s), "names": [name]}.

        Whole images of different sizes, so one per batch (`batch_size` is accepted for the interface)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"the batch size must be a positive integer, got {batch_size!r}: pass e.g. 1")
        for lr, hr, name in zip(self.lr, self.hr, self.names):
            yield {"lr": to_float(lr[None]), "hr": to_float(hr[None]), "names": [name]}


class SRBatches:
    """Aligned random LR/HR crops with random dihedral transforms; an exact state for resume.

    Image indices come from a BatchSampler (epoch-wise random order), crop offsets and transforms
    from a private CPU generator. The global batch is drawn on every rank, each keeps its slice.
    """

    def __init__(self, data: SRData, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        check_shard(batch_size, rank, world)
        self.data, self.batch_size, self.rank, self.world = data, batch_size, rank, world
        self.sampler = BatchSampler(len(data), 1, seed=derive_seed(seed, "images"))
        self.generator = torch.Generator().manual_seed(derive_seed(seed, "crops"))

    @property
    def steps_per_epoch(self) -> int:
        """Batches per pass over the images (at least 1)."""
        return max(1, len(self.data) // self.batch_size)

    def next(self) -> Dict[str, torch.Tensor]:
        """{"lr": (B, C, crop/s, crop/s), "hr": (B, C, crop, crop)} float32 in [-1, 1] on the data's device."""
        d, s = self.data, self.data.scale
        side = d.crop // s
        lrs, hrs = [], []
        for i in range(self.batch_size):
            k = int(self.sampler.next()[0])
            lr, hr = d.lr[k], d.hr[k]
            top = int(torch.randint(0, lr.shape[-2] - side + 1, (1,), generator=self.generator))
            left = int(torch.randint(0, lr.shape[-1] - side + 1, (1,), generator=self.generator))
            t = int(torch.randint(0, 8, (1,), generator=self.generator))
            if self.world == 1 or i // (self.batch_size // self.world) == self.rank:
                lrs.append(dihedral(lr[:, top:top + side, left:left + side], t))
                hrs.append(dihedral(hr[:, top * s:(top + side) * s, left * s:(left + side) * s], t))
        share = self.batch_size // self.world
        return {"lr": to_float(torch.stack(lrs[:share])), "hr": to_float(torch.stack(hrs[:share]))}

    def state_dict(self) -> dict:
        return {"sampler": self.sampler.state_dict(), "crops": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly from a state_dict() of a batch source over the same images and settings."""
        try:
            sampler, crops = state["sampler"], torch.as_tensor(state["crops"]).to("cpu", torch.uint8)
            torch.Generator().set_state(crops)  # check before changing anything
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise DataError(f"SR batch state is malformed ({type(e).__name__}: {e}): "
                            "resume from an intact checkpoint or start a new run") from e
        self.sampler.load_state_dict(sampler)
        self.generator.set_state(crops)


def dihedral(x: torch.Tensor, t: int) -> torch.Tensor:
    """One of the 8 flips/rotations of (C, H, W): bit 0 flips left-right, bit 1 up-down, bit 2 transposes."""
    if t & 1:
        x = x.flip(-1)
    if t & 2:
        x = x.flip(-2)
    if t & 4:
        x = x.transpose(-1, -2)
    return x


def check_scale(scale, crop) -> None:
    if scale not in SCALES or isinstance(scale, bool):
        raise DataError(f"data.scale must be 2, 3 or 4, got {scale!r}: pass data.scale=4 (the benchmark's)")
    if isinstance(crop, bool) or not isinstance(crop, int) or crop < scale or crop % scale:
        raise DataError(f"data.crop must be a positive multiple of data.scale={scale}, got {crop!r}: "
                        f"pass e.g. data.crop={DEFAULT_CROP}")


def folders(spec: Optional[str], key: str) -> List[Path]:
    """The folders of a comma-separated data.`key`, each checked to exist."""
    todo = _TODO_TEST if key == "test_dir" else _TODO
    if spec is None or not str(spec).strip():
        raise DataError(f"data.{key} is not set: {todo}")
    return [existing_dir(part.strip(), key, todo) for part in str(spec).split(",") if part.strip()]


def read_folders(roots: Sequence[Path], on_corrupt: str) -> tuple:
    """(images, names) of every image file directly in the folders, in folder then file-name order."""
    images, names, bad = [], [], []
    for root in roots:
        files = list_images(root)
        if not files:
            raise DataError(f"no images found in '{root}' (looked for {', '.join(EXTENSIONS)} files): {_TODO}")
        for path in files:
            image = _read_or_skip(path, on_corrupt)
            if image is None:
                bad.append(str(path))
                continue
            images.append(image)
            names.append(path.stem if len(roots) == 1 else f"{root.name}/{path.stem}")
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image(s) (data.on_corrupt=skip): {few(bad, 5)}", stacklevel=3)
    if not images:
        raise DataError(f"none of the image files under {', '.join(map(str, roots))} could be read: {_TODO}")
    return images, names


def sr(*, dir: Optional[str] = None, test_dir: Optional[str] = None, split: str = "train", scale: int = 4,
       crop: int = DEFAULT_CROP, channels: Optional[int] = None, n: Optional[int] = None, seed: int = 0,
       on_corrupt: str = "error") -> SRData:
    """Load HR images for SR: split=train from data.dir, split=test from data.test_dir (both comma-separated
    folder lists). Training images smaller than `crop` are skipped (a warning); `n` keeps a seeded subset.
    `channels` None: training images all get 3 channels if any is RGB; test images keep their own."""
    check_scale(scale, crop)
    key = "test_dir" if split == "test" else "dir"
    roots = folders(test_dir if split == "test" else dir, key)
    images, names = read_folders(roots, on_corrupt)
    c = channels or (3 if any(x.shape[0] == 3 for x in images) else 1)
    if split == "train":
        small = [nm for nm, x in zip(names, images) if min(x.shape[-2:]) < crop]
        if small:
            if len(small) == len(images):
                raise DataError(f"every image under {', '.join(map(str, roots))} is smaller than data.crop={crop} px "
                                f"(e.g. '{small[0]}'): lower data.crop or use larger images")
            warnings.warn(f"skipped {len(small)} of {len(images)} training images smaller than data.crop={crop} px: "
                          f"{few(small, 5)}", stacklevel=2)
            keep = [i for i, x in enumerate(images) if min(x.shape[-2:]) >= crop]
            images, names = [images[i] for i in keep], [names[i] for i in keep]
    else:
        least = 2 * scale + SSIM_WINDOW
        tiny = [nm for nm, x in zip(names, images) if min(x.shape[-2:]) < least]
        if tiny:
            raise DataError(f"test image '{tiny[0]}' is smaller than {least} px (an SSIM window inside the "
                            f"{scale}-pixel border at data.scale={scale}): remove it")
    order = subset(list(range(len(images))), n if split == "train" else None, seed)  # a test set stays whole
    hr, lr = [], []
    for i in order:
        keep_own = split == "test" and channels is None  # a gray test image is scored on its own channel
        h, lo = bicubic_lr(images[i] if keep_own else convert_uint8(images[i], c), scale)
        hr.append(h)
        lr.append(lo)
    names = [names[i] for i in order]
    info = {"dir": ",".join(map(str, roots)), "split": split, "scale": scale, "crop": crop, "images": len(hr),
            "in_channels": c, "out_channels": c, "lr_kernel": LR_KERNEL}
    return SRData(hr=hr, lr=lr, names=names, scale=scale, crop=crop, info=info)
