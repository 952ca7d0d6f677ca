"""Tiny MNIST-format files and video configs for the video-prediction tests (CPU, seconds)."""
from __future__ import annotations

import struct
from pathlib import Path
from typing import List

import numpy as np

from gankit import api

DIGIT = 28
QUIET = ["train.progress=none", "train.tensorboard=false", "train.threads=1", "train.log_every=1",
         "train.sample_every=2", "train.checkpoint_every=2"]
# 32 x 32 canvas, 3 context frames -> 2 future frames, a SimVP of a few hundred weights
SIMVP = ["method=video", "data.name=moving-mnist", "data.size=32", "data.frames_in=3", "data.frames_out=2",
         "data.n=64", "video.hidden_s=4", "video.hidden_t=8", "video.spatial=2", "video.temporal=2",
         "train.batch_size=4"]
GAN = [*SIMVP, "video.adv=0.01", "video.gdl=1", "video.d_width=4", "video.d_depth=2"]
CONVLSTM = [*SIMVP, "video.predictor=convlstm", "video.hidden=4", "video.layers=2", "video.kernel=3"]


def write_idx(path: Path, arr: np.ndarray) -> None:
    path.write_bytes(bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes())


def write_mnist(root: Path, train: int = 12, test: int = 6, seed: int = 0) -> Path:
    """MNIST-format files of random blob 'digits' (a bright square on black) under `root`."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for stem, n in (("train", train), ("t10k", test)):
        digits = np.zeros((n, DIGIT, DIGIT), np.uint8)
        for k in range(n):
            y, x = rng.integers(4, 14, 2)
            digits[k, y:y + 10, x:x + 8] = rng.integers(128, 256)
        write_idx(root / f"{stem}-images-idx3-ubyte", digits)
        write_idx(root / f"{stem}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    return root


def video_overrides(mnist_dir, run_dir, *extra: str, base=SIMVP) -> List[str]:
    return [*base, *QUIET, f"data.dir={mnist_dir}", f"run.dir={run_dir}", *extra]


def train_video(mnist_dir, run_dir, *extra: str, steps: int = 4, base=SIMVP) -> Path:
    return api.train(None, overrides=video_overrides(mnist_dir, run_dir, f"train.steps={steps}", *extra, base=base))
