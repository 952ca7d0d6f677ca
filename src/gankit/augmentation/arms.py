"""The classifier of the augmentation protocol and how each arm trains it.

Every arm trains the same network with the same budget (steps, batch, Adam with cosine decay) from the same
seed; arms differ only in their training set and in whether classic augmentation is on. 28x28 gray images
get gankit's digit classifier, others a small ResNet. Classic augmentation: small images (up to 32 px) get
random shifts (+-2 px) and rotations (+-10 degrees); larger ones a random crop (padding 1/8 of the side,
reflect) and a horizontal flip. A loss that turns non-finite is reported as a diverged arm, not an error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ARMS = ("real", "real+classic", "real+synth0.5x", "real+synth1x", "real+synth4x", "real+classic+synth1x",
        "synth-only")
RATIOS = {"real+synth0.5x": 0.5, "real+synth1x": 1.0, "real+synth4x": 4.0, "real+classic+synth1x": 1.0,
          "synth-only": 1.0}
MAX_RATIO = 4.0
BATCH = 64
LR = 1e-3


class ArmDiverged(Exception):
    """The loss of an arm's classifier became non-finite."""


class SmallResNet(nn.Module):
    """conv3x3(w) -> 3 stages of a residual block (w, 2w, 4w; stride 2 after the first) -> global average pool
    -> linear; BatchNorm and ReLU. For images other than 28x28 gray."""

    def __init__(self, channels: int, num_classes: int, width: int = 32):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True))
        self.stages = nn.Sequential(_Residual(width, width, 1), _Residual(width, 2 * width, 2),
                                    _Residual(2 * width, 4 * width, 2))
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.stages(self.stem(x)).mean((2, 3)))


class _Residual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                                  nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(cout))
        self.skip = (nn.Identity() if stride == 1 and cin == cout else
                     nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.body(x) + self.skip(x))


def make_classifier(shape: tuple, num_classes: int) -> nn.Module:
    """gankit's digit classifier for (1, 28, 28) images, else a SmallResNet."""
    from ..metrics.classifier import DigitClassifier

    if tuple(shape) == (1, 28, 28):
        return DigitClassifier(num_classes=num_classes)
    return SmallResNet(shape[0], num_classes)


def describe(shape: tuple) -> str:
    if tuple(shape) == (1, 28, 28):
        return "gankit's digit classifier (3 conv + 2 dense layers)"
    return "a small ResNet (3 residual stages, 32-64-128 channels)"


def classic_augment(x: Tensor, gen: torch.Generator) -> Tensor:
    """Random shifts and rotations (sides up to 32 px) or a random crop + horizontal flip (larger), per image."""
    n, _, h, w = x.shape
    if max(h, w) <= 32:
        angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(10)
        shift = (torch.randint(-2, 3, (n, 2), generator=gen).float() * 2 / torch.tensor([w, h]))
        cos, sin = angle.cos(), angle.sin()
        theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x + 1, grid.to(x.device), align_corners=False, padding_mode="zeros") - 1
    pad = max(1, h // 8)
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n), generator=gen).tolist()
    out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    flip = torch.rand(n, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None].to(x.device), out.flip(-1), out)


@dataclass
class ArmResult:
    """Test accuracy, per-class recall and the confusion matrix (rows: true class) of one trained arm."""

    accuracy: float
    recall: List[float]
    confusion: List[List[int]]

    def as_dict(self) -> Dict[str, object]:
        return {"accuracy": self.accuracy, "recall": self.recall, "confusion": self.confusion}


@torch.no_grad()
def score(model: nn.Module, x: Tensor, y: Tensor, num_classes: int, batch_size: int = 1000) -> ArmResult:
    """Accuracy, per-class recall and confusion matrix of `model` on (x, y)."""
    model.eval()
    device = next(model.parameters()).device
    pred = torch.cat([model(x[i:i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(x), batch_size)])
    confusion = torch.bincount(y * num_classes + pred, minlength=num_classes ** 2).view(num_classes, num_classes)
    recall = confusion.diag().double() / confusion.sum(1).clamp(min=1)
    return ArmResult(float((pred == y).double().mean()), recall.tolist(), confusion.tolist())


def train_classifier(x: Tensor, y: Tensor, num_classes: int, steps: int, seed: int, classic: bool = False,
                     device="cpu") -> nn.Module:
    """The protocol's classifier trained on (x, y) for `steps` batches of BATCH (Adam LR, cosine decay),
    everything drawn from `seed`; ArmDiverged when the loss turns non-finite."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # initialisation and dropout from the arm's seed, the caller's RNG intact
        torch.manual_seed(seed)
        model = make_classifier(tuple(x.shape[1:]), num_classes).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        model.train()
        for step in range(steps):
            idx = torch.randint(len(x), (min(BATCH, len(x)),), generator=gen)
            xb = classic_augment(x[idx], gen) if classic else x[idx]
            loss = F.cross_entropy(model(xb.to(device)), y[idx].to(device))
            if not torch.isfinite(loss):
                raise ArmDiverged(f"the classifier's loss became {float(loss.detach())} at step {step + 1} of "
                                  f"{steps}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model


def arm_data(arm: str, real_x: Tensor, real_y: Tensor, synth_x: Optional[Tensor],
             synth_y: Optional[Tensor]) -> tuple:
    """(images, labels, classic) an arm trains on: the real subset, a class-balanced share of the synthetic set of
    size ratio x the real one (or only that), classic augmentation on or off."""
    ratio = RATIOS.get(arm)
    if ratio is None:
        return real_x, real_y, arm == "real+classic"
    per_class = max(1, round(ratio * len(real_x) / len(torch.unique(real_y))))
    pick = torch.cat([(synth_y == c).nonzero()[:, 0][:per_class] for c in torch.unique(synth_y).tolist()])
    sx, sy = synth_x[pick], synth_y[pick]
    if arm == "synth-only":
        return sx, sy, False
    return torch.cat([real_x, sx]), torch.cat([real_y, sy]), "classic" in arm


def classifier_steps(n_real: int, floor: int = 500, ceiling: int = 4000) -> int:
    """The steps every arm of a subset gets: 30 epochs of the real subset at BATCH, within [floor, ceiling]."""
    return int(min(ceiling, max(floor, 30 * math.ceil(n_real / BATCH))))


__all__ = ["ARMS", "ArmDiverged", "ArmResult", "MAX_RATIO", "RATIOS", "SmallResNet", "arm_data", "classic_augment",
           "classifier_steps", "describe", "make_classifier", "score", "train_classifier"]
