"""Glue between the trainer and the alarms / in-training evaluation (keeps the loop generic)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch

from .alarms import Alarm, AlarmMonitor, pairwise_diversity

# metric name -> True when lower is better
DIRECTION = {"reverse_kl": True, "modes": False, "hq_fraction": False}


def mixture_evaluation(spec) -> Optional[Callable[[torch.Tensor], Dict[str, float]]]:
    """PacGAN mode metrics for the ring/grid sources; None for other data."""
    from ..data.toy import MIXTURES
    from ..metrics.modes import mixture_mode_report

    if spec.kind != "points" or spec.name not in MIXTURES:
        return None

    def run(points: torch.Tensor) -> Dict[str, float]:
        r = mixture_mode_report(points.cpu(), spec.name)
        return {"modes": float(r.modes), "hq_fraction": r.hq_fraction, "reverse_kl": r.reverse_kl,
                "num_modes": float(r.num_modes)}
    return run


class Diagnostics:
    """Runs the alarm rules on logs and previews, and the periodic evaluation with best tracking."""

    def __init__(self, cfg, spec, real: torch.Tensor, run_dir: Path, probabilities: bool):
        m = cfg.monitor
        self.cfg, self.run_dir, self.enabled = cfg, Path(run_dir), m.alarms
        self.monitor = AlarmMonitor(probabilities=probabilities, patience=m.patience, d_win=m.d_win,
                                    collapse_ratio=m.collapse_ratio, diverge=m.diverge)
        self.evaluator = mixture_evaluation(spec)
        self.track = ("reverse_kl" if self.evaluator else None) if m.track == "auto" else m.track
        gen = torch.Generator().manual_seed(0)
        idx = torch.randperm(len(real), generator=gen)[:64]
        self.real_diversity = pairwise_diversity(real[idx].cpu())
        self.best: Optional[float] = None

    def report(self, alarms: List[Alarm]) -> List[Alarm]:
        if not self.enabled:
            return []
        for alarm in alarms:
            print(f"\ngankit: {alarm.message()}", file=sys.stderr)
            with open(self.run_dir / "alarms.jsonl", "a") as fh:
                fh.write(json.dumps(alarm.as_dict()) + "\n")
        return alarms

    def on_record(self, record: dict) -> List[Alarm]:
        return self.report(self.monitor.check_record(record))

    def on_preview(self, step: int, samples: torch.Tensor) -> List[Alarm]:
        if self.evaluator is not None:
            return []  # mixtures: collapse is judged by mode coverage in `evaluate`
        return self.report(self.monitor.check_diversity(step, samples, self.real_diversity))

    def evaluate(self, step: int, samples: torch.Tensor) -> Tuple[Dict[str, float], List[Alarm], bool]:
        """Metrics on fresh samples; returns (metrics, alarms, improved-the-tracked-metric)."""
        if self.evaluator is None:
            return {}, [], False
        metrics = self.evaluator(samples)
        alarms = self.monitor.check_modes(step, int(metrics["modes"]), int(metrics["num_modes"]))
        improved = False
        if self.track in metrics:
            value, lower = metrics[self.track], DIRECTION.get(self.track, True)
            alarms += self.monitor.check_metric(step, self.track, value, lower)
            improved = self.best is None or (value < self.best if lower else value > self.best)
            if improved:
                self.best = value
        return metrics, self.report(alarms), improved
