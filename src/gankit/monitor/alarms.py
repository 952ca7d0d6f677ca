"""Training diagnostics: alarms that say what is going wrong while it happens, and the usual cure.

Each rule reads what the trainer already has — the logged window means (`metrics.jsonl` records),
the fixed-noise preview batch, and periodic evaluation results — so it costs no extra host sync.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional

import torch

CURES = {
    "d_wins": "lower optim.d_lr or raise optim.g_lr (TTUR), loss.real_label=0.9, gan.instance_noise=0.1, "
              "model.d.spectral_norm=true, or loss.name=ns if the minimax loss is used",
    "g_vanishing": "use the non-saturating loss (loss.name=ns) or a Wasserstein loss with loss.gp=10, and lower optim.d_lr",
    "collapse": "model.d.minibatch_disc=8, gan.pack=2, gan.num_discriminators=2, or a gradient penalty (loss.gp=10)",
    "diverging": "lower both learning rates, add loss.gp=10 or model.d.spectral_norm=true",
    "metric_worse": "the best checkpoint is kept in checkpoints/best; consider stopping, or lower the learning rates",
}


@dataclass
class Alarm:
    kind: str
    step: int
    measured: str

    @property
    def cure(self) -> str:
        return CURES[self.kind]

    def message(self) -> str:
        return f"alarm [{self.kind}] at step {self.step}: {self.measured}; usual cure: {self.cure}"

    def as_dict(self) -> dict:
        return {"alarm": self.kind, "step": self.step, "measured": self.measured, "cure": self.cure}


def pairwise_diversity(x: torch.Tensor) -> float:
    """Mean pairwise L2 distance between the samples of a batch (flattened)."""
    flat = x.detach().float().reshape(len(x), -1)
    if len(flat) < 2:
        return 0.0
    d = torch.cdist(flat, flat)
    n = len(flat)
    return float(d.sum() / (n * (n - 1)))


class AlarmMonitor:
    """Stateful rules over successive log records, preview batches and evaluation values."""

    def __init__(self, *, probabilities: bool, patience: int = 3, d_win: float = 0.05,
                 g_vanish: float = 1e-4, collapse_ratio: float = 0.2, diverge: float = 1e4):
        self.probabilities, self.patience = probabilities, patience
        self.d_win, self.g_vanish, self.collapse_ratio, self.diverge = d_win, g_vanish, collapse_ratio, diverge
        self.streaks: Dict[str, int] = {}
        self.fired: Dict[str, bool] = {}
        self.best: Optional[float] = None

    def _streak(self, kind: str, condition: bool, patience: Optional[int] = None) -> bool:
        """True once `condition` held for `patience` consecutive checks (fires once per episode)."""
        self.streaks[kind] = self.streaks.get(kind, 0) + 1 if condition else 0
        if not condition:
            self.fired[kind] = False
            return False
        if self.streaks[kind] >= (patience or self.patience) and not self.fired.get(kind):
            self.fired[kind] = True
            return True
        return False

    def check_record(self, record: dict) -> List[Alarm]:
        """Rules on one logged window: D winning outright, G's gradients vanishing, divergence."""
        step, alarms = record["step"], []
        if self.probabilities and "d_fake" in record:
            wins = record["d_fake"] < self.d_win and record.get("d_real", 1.0) > 1 - self.d_win
            if self._streak("d_wins", wins):
                alarms.append(Alarm("d_wins", step, f"D(G(z)) = {record['d_fake']:.3g} and D(x) = "
                                    f"{record.get('d_real', float('nan')):.3g} for {self.patience} logs in a row"))
        if "grad_norm_g" in record and self._streak("g_vanishing", record["grad_norm_g"] < self.g_vanish):
            alarms.append(Alarm("g_vanishing", step, f"G's gradient norm {record['grad_norm_g']:.2g} < "
                                f"{self.g_vanish:g} for {self.patience} logs in a row"))
        big = {k: v for k, v in record.items() if k != "step" and (k.startswith(("loss", "grad_norm")))
               and (abs(v) > self.diverge or not math.isfinite(v))}
        if self._streak("diverging", bool(big), patience=1):
            shown = ", ".join(f"{k} = {v:.3g}" for k, v in big.items())
            alarms.append(Alarm("diverging", step, f"{shown} above {self.diverge:g}"))
        return alarms

    def check_diversity(self, step: int, fake: torch.Tensor, real_diversity: float) -> List[Alarm]:
        """G collapse: the fixed-noise batch's spread falls far below the real data's."""
        div = pairwise_diversity(fake)
        ratio = div / real_diversity if real_diversity > 0 else float("inf")
        if self._streak("collapse", ratio < self.collapse_ratio):
            return [Alarm("collapse", step, f"sample diversity {div:.3g} is {ratio:.2f}x the real data's "
                          f"{real_diversity:.3g} (mean pairwise distance of the fixed-noise batch)")]
        return []

    def check_modes(self, step: int, modes: int, num_modes: int) -> List[Alarm]:
        """G collapse on a mixture: covered modes fall to under half."""
        if self._streak("collapse", modes < num_modes / 2):
            return [Alarm("collapse", step, f"only {modes} of {num_modes} modes covered")]
        return []

    def check_metric(self, step: int, name: str, value: float, lower_is_better: bool) -> List[Alarm]:
        """The tracked metric worsened `patience` evaluations in a row."""
        best = self.best
        worse = best is not None and ((value > best) if lower_is_better else (value < best))
        if not worse:
            self.best = value
        if self._streak("metric_worse", worse):
            return [Alarm("metric_worse", step, f"{name} = {value:.4g} worse than the best {self.best:.4g} "
                          f"for {self.patience} evaluations in a row")]
        return []
