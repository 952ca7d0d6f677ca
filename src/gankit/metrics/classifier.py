"""A small CNN digit classifier trained by gankit, for domain metrics that need no ImageNet network.

It gives logits (class accuracy of conditional models, Stacked-MNIST modes) and its penultimate
features (classifier-feature FID, "cFID"). Saved as safetensors weights plus a JSON sidecar
(architecture, data, test accuracy); loading never unpickles.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import CheckpointError, ConfigError
from gankit.metrics.inception import as_rgb_uint8, file_sha256

DATASETS = ("mnist", "fashion-mnist", "digits")
INPUT_SIZE = 28
FORMAT = "gankit-classifier/1"


def cache_root() -> Path:
    """gankit's cache folder: $GANKIT_CACHE, else ~/.cache/gankit."""
    return Path(os.environ.get("GANKIT_CACHE") or Path.home() / ".cache" / "gankit").expanduser()


def default_path(data: str) -> Path:
    """Where `gankit classifier train --data DATA` saves by default (and eval looks)."""
    return cache_root() / "classifiers" / f"{data}.safetensors"


class DigitClassifier(nn.Module):
    """conv16-pool-conv32-pool-conv64-fc(feature_dim)-fc(classes) on (N, 1, 28, 28) inputs in [-1, 1]."""

    def __init__(self, num_classes: int = 10, width: int = 16, feature_dim: int = 128, dropout: float = 0.3):
        super().__init__()

        def block(cin: int, cout: int) -> list:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(*block(1, width), nn.MaxPool2d(2), *block(width, 2 * width), nn.MaxPool2d(2),
                                  *block(2 * width, 4 * width), nn.Flatten(),
                                  nn.Linear(4 * width * (INPUT_SIZE // 4) ** 2, feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))
        self.arch = {"num_classes": num_classes, "width": width, "feature_dim": feature_dim, "dropout": dropout}

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))

    def features_and_logits(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        f = self.body(x)
        return f, self.head(f)


def prepare(images: Tensor) -> Tensor:
    """uint8 (N, 1|3, H, W) -> float (N, 1, 28, 28) in [-1, 1]: channel mean, bilinear (antialiased) resize."""
    from gankit.data.base import resize_images

    x = as_rgb_uint8(images).float().mean(1, keepdim=True) / 127.5 - 1
    return resize_images(x, INPUT_SIZE) if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE) else x


# --------------------------------------------------------------------------- save / load

def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def save_with_sidecar(module: nn.Module, path, doc: dict) -> Path:
    """Write `module`'s weights (safetensors) and `<path>.json` (`doc`) atomically."""
    from safetensors.torch import save

    from gankit.checkpoint import atomic_write_bytes, atomic_write_text

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ConfigError(f"model path must end in .safetensors, got '{path}'")
    weights = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write_bytes(path, save(weights))
    atomic_write_text(_sidecar(path), json.dumps(doc, indent=2) + "\n")
    return path


def load_with_sidecar(path, fmt: str, build: Callable[[dict], nn.Module], what: str, retrain: str):
    """(module rebuilt by `build(sidecar)` with the saved weights, in eval mode; the sidecar) of a file that
    save_with_sidecar wrote; a one-line CheckpointError naming `what` and the `retrain` command otherwise."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file() or not _sidecar(path).is_file():
        raise CheckpointError(f"{what} '{path}' (with its .json) not found: {retrain}")
    try:
        info = json.loads(_sidecar(path).read_text())
        if info.get("format") != fmt:
            raise ValueError(f"format {info.get('format')!r}, expected {fmt!r}")
        model = build(info)
        model.load_state_dict(load_file(str(path)))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as err:
        msg = " ".join(str(err).split())[:160]
        raise CheckpointError(f"{what} '{path}' is unreadable ({type(err).__name__}: {msg}); {retrain}") from None
    return model.eval(), info


def save_classifier(model: DigitClassifier, path, info: dict) -> Path:
    """Write weights (safetensors) and `<path>.json` (format, arch, info) atomically."""
    return save_with_sidecar(model, path, {"format": FORMAT, "arch": model.arch, **info})


def load_classifier(path) -> Tuple[DigitClassifier, dict]:
    """Rebuild a saved classifier (eval mode) and its JSON info; CheckpointError if missing or unreadable."""
    return load_with_sidecar(path, FORMAT, lambda info: DigitClassifier(**info["arch"]), "classifier",
                             "train one with `gankit classifier train --data mnist --data-dir DIR` or pass "
                             "--classifier PATH")


class ClassifierFeatures:
    """A saved classifier as a feature network: penultimate features and logits of uint8 images."""

    def __init__(self, path=None, data: str = "mnist", device="cpu"):
        path = Path(path) if path is not None else default_path(data)
        model, self.info = load_classifier(path)
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.num_classes = model.arch["num_classes"]
        acc = self.info.get("test_accuracy")
        acc_text = f"test acc {100 * acc:.2f}%" if acc is not None else "test acc unknown"
        name = f"gankit {self.info.get('data', '?')} classifier ({acc_text})"
        self.protocol = {"features": f"{name} penultimate {model.arch['feature_dim']}-d",
                         "logits": f"{name} logits",
                         "resize": f"gray (channel mean), bilinear antialiased to {INPUT_SIZE}x{INPUT_SIZE} if needed",
                         "weights": str(path.absolute()), "weights_sha256": file_sha256(path)}

    @torch.no_grad()
    def extract(self, images: Tensor) -> Dict[str, Tensor]:
        """One batch of uint8 images -> {"features": (N, D), "logits": (N, classes)} on the CPU."""
        f, logits = self.model.features_and_logits(prepare(images).to(self.device))
        return {"features": f.float().cpu(), "logits": logits.float().cpu()}


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 1024) -> Tensor:
    """Class indices of (N, 1, 28, 28) inputs in [-1, 1]."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(x[i:i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(x), batch_size)])


# --------------------------------------------------------------------------- training

def _split_data(data: str, data_dir: Optional[str], seed: int):
    """(train x, train y, test x, test y) at 28x28, 1 channel, [-1, 1]; digits gets a seeded 20 % hold-out."""
    from gankit.data import load_dataset

    if data not in DATASETS:
        raise ConfigError(f"--data must be one of {', '.join(DATASETS)}, got {data!r}")
    kw = dict(dir=data_dir, size=INPUT_SIZE, channels=1, seed=seed)
    if data == "digits":
        ds = load_dataset(data, **{k: v for k, v in kw.items() if k != "dir"})
        perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))
        cut = len(ds) // 5
        return ds.x[perm[cut:]], ds.y[perm[cut:]], ds.x[perm[:cut]], ds.y[perm[:cut]]
    train, test = load_dataset(data, split="train", **kw), load_dataset(data, split="test", **kw)
    return train.x, train.y, test.x, test.y


def train_classifier(data: str = "mnist", data_dir: Optional[str] = None, epochs: int = 5, out=None,
                     batch_size: int = 128, lr: float = 2e-3, width: int = 16, seed: int = 0, device="cpu",
                     log: Callable[[str], None] = print) -> Tuple[Path, dict]:
    """Train on the train split (Adam, one-cycle LR), measure test accuracy, save; returns (path, info)."""
    if min(epochs, batch_size, width) < 1:
        raise ConfigError(f"--epochs, --batch-size and --width must be >= 1, got {epochs}, {batch_size}, {width}")
    out = Path(out) if out is not None else default_path(data)
    start = time.time()
    xtr, ytr, xte, yte = _split_data(data, data_dir, seed)
    torch.manual_seed(seed)
    device = torch.device(device)
    model = DigitClassifier(num_classes=10, width=width).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = math.ceil(len(xtr) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    g = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        order, total = torch.randperm(len(xtr), generator=g), 0.0
        for i in range(0, len(xtr), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(model(xtr[idx].to(device)), ytr[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        acc = float((predict(model, xte) == yte).double().mean())
        log(f"epoch {epoch + 1}/{epochs}: train loss {total / len(xtr):.4f}, test accuracy {100 * acc:.2f}%")
    info = {"data": data, "test_accuracy": acc, "n_train": len(xtr), "n_test": len(xte), "epochs": epochs,
            "seed": seed, "test_split": "held-out 20%" if data == "digits" else "test",
            "train_seconds": round(time.time() - start, 1)}
    return save_classifier(model.cpu(), out, info), info


__all__ = ["ClassifierFeatures", "DigitClassifier", "cache_root", "default_path", "load_classifier", "predict",
           "load_with_sidecar", "prepare", "save_classifier", "save_with_sidecar", "train_classifier"]
