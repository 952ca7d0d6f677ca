"""Tiny generated image-to-image data sets and configs for the pix2pix / CycleGAN tests (CPU, seconds)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Sequence

import numpy as np
import torch
from PIL import Image

from gankit import api

H = 32  # aligned files are H x 2H: A left, B right

QUIET = ["train.progress=none", "train.tensorboard=false", "train.threads=1", "train.log_every=1",
         "train.sample_every=2", "train.checkpoint_every=2"]
PIX2PIX = ["method=pix2pix", "data.name=paired", f"data.size={H}", "pix2pix.g_width=4", "pix2pix.d_width=4",
           "pix2pix.d_layers=1", "train.batch_size=2"]
CYCLEGAN = ["method=cyclegan", "data.name=unpaired", f"data.size={H}", "cycle.g_width=4", "cycle.d_width=4",
            "cycle.blocks=1", "cycle.d_layers=1", "cycle.pool=3", "train.batch_size=1"]
GAN_TINY = ["data.size=8", "model.z_dim=8", "model.g.width=8", "model.d.width=8", "train.batch_size=16"]


def save_png(path: Path, arr: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def partner(a: np.ndarray) -> np.ndarray:
    """B as a deterministic function of A (colour inverted and mirrored): a learnable mapping."""
    return (255 - a)[:, ::-1].copy()


def write_pairs(folder: Path, n: int = 12, h: int = H, seed: int = 0) -> Path:
    """n aligned pair files folder/k.png, each h x 2h RGB: a smooth random A left, partner(A) right."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    for k in range(n):
        coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        a = np.asarray(Image.fromarray(coarse).resize((h, h), Image.BILINEAR))
        save_png(folder / f"{k:02d}.png", np.concatenate([a, partner(a)], axis=1))
    return folder


def write_images(folder: Path, sizes: Sequence[tuple], seed: int = 1, gray: bool = False) -> List[Path]:
    """One noise PNG per (h, w) in `sizes`, named img{k}.png."""
    rng = np.random.default_rng(seed)
    out = []
    for k, (h, w) in enumerate(sizes):
        shape = (h, w) if gray else (h, w, 3)
        out.append(save_png(Path(folder) / f"img{k}.png", rng.integers(0, 256, shape, dtype=np.uint8)))
    return out


def overrides(method: str, data_dir, run_dir, *extra: str) -> List[str]:
    base = PIX2PIX if method == "pix2pix" else CYCLEGAN
    return [*base, *QUIET, f"data.dir={data_dir}", f"run.dir={run_dir}", *extra]


def train(method: str, data_dir, run_dir, *extra: str, steps: int = 4) -> Path:
    return api.train(None, overrides=overrides(method, data_dir, run_dir, f"train.steps={steps}", *extra))


def mean_abs_difference(a: dict, b: dict) -> float:
    """Mean |a - b| over every weight of two checkpoints' weight trees."""
    total = sum(float((a[n][k].float() - b[n][k].float()).abs().sum()) for n in a for k in a[n])
    return total / sum(a[n][k].numel() for n in a for k in a[n])


def records(run_dir) -> List[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def train_records(run_dir) -> List[dict]:
    """metrics.jsonl without the eval records."""
    return [r for r in records(run_dir) if not any(k.startswith("eval/") for k in r)]


def assert_tree_equal(a, b, where: str = "state") -> None:
    """Two nested structures (dicts, lists, tensors, numbers) are bit-identical."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), f"{where}: tensor vs {type(b).__name__}"
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{tuple(a.shape)} vs " \
                                                          f"{b.dtype}{tuple(b.shape)}"
        assert torch.equal(a, b), f"{where} differs"
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{where}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            assert_tree_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_tree_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def small_runs(root, pairs, btoa: bool = False) -> dict:
    """Finished 2-step pix2pix, CycleGAN (and a data.direction=BtoA CycleGAN) and digits-dcgan runs."""
    from gankit import api
    from gankit.config import load_config

    gan_cfg = load_config(preset="digits-dcgan", overrides=[*GAN_TINY, *QUIET, "train.steps=2",
                                                           f"run.dir={root / 'gan'}"])
    runs = {"pix2pix": train("pix2pix", pairs, root / "pix2pix", steps=2),
            "cyclegan": train("cyclegan", pairs, root / "cyclegan", steps=2)}
    if btoa:
        runs["cyclegan_btoa"] = train("cyclegan", pairs, root / "btoa", "data.direction=BtoA", steps=2)
    runs["gan"] = api.train(gan_cfg)
    return runs
