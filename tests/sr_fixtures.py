"""Tiny generated super-resolution data and configs for the SR tests (CPU, seconds)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

import numpy as np
from PIL import Image

from gankit import api

QUIET = ["train.progress=none", "train.tensorboard=false", "train.threads=1", "train.log_every=1",
         "train.sample_every=2", "train.checkpoint_every=2"]
SRRESNET = ["method=sr", "data.name=sr", "data.scale=4", "data.crop=16", "sr.blocks=1", "sr.width=8",
            "train.batch_size=4"]
SRGAN = [*SRRESNET, "sr.adversarial=0.001", "sr.d_width=4"]


def smooth_image(rng, h: int, w: int, channels: int = 3) -> np.ndarray:
    """A smooth random uint8 image (bilinear upscale of 5x5 noise), (h, w) or (h, w, 3)."""
    coarse = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BILINEAR))
    return img[..., 0].copy() if channels == 1 else img


def write_hr(folder: Path, sizes: Sequence[tuple] = ((40, 36),) * 6, seed: int = 0, gray: Sequence[int] = (),
             prefix: str = "hr") -> List[Path]:
    """One smooth PNG per (h, w) in `sizes` as folder/{prefix}{k}.png; indices in `gray` are grayscale."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k, (h, w) in enumerate(sizes):
        path = folder / f"{prefix}{k}.png"
        Image.fromarray(smooth_image(rng, h, w, 1 if k in gray else 3)).save(path)
        out.append(path)
    return out


def sr_overrides(train_dir, run_dir, *extra: str, test_dir=None, base=SRRESNET) -> List[str]:
    test = [f"data.test_dir={test_dir}"] if test_dir else []
    return [*base, *QUIET, f"data.dir={train_dir}", f"run.dir={run_dir}", *test, *extra]


def train_sr(train_dir, run_dir, *extra: str, steps: int = 4, **kw) -> Path:
    return api.train(None, overrides=sr_overrides(train_dir, run_dir, f"train.steps={steps}", *extra, **kw))
