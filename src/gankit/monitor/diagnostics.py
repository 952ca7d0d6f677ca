"""Glue between the trainer and the alarms / in-training evaluation (keeps the loop generic)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch

from .alarms import Alarm, AlarmMonitor, pairwise_diversity

# metric name -> True when lower is better
DIRECTION = {"reverse_kl": True, "kl": True, "modes": False, "hq_fraction": False, "fid": True, "cfid": True,
             "kid_mean": True, "precision": False, "recall": False, "density": False, "coverage": False,
             "class_acc": False, "is_mean": False}


def in_training_metrics(setting: str, spec) -> List[str]:
    """Metric names for `monitor.metrics`; 'auto': modes for ring/grid/stacked-mnist, fid for other images."""
    from ..data.toy import MIXTURES
    from ..metrics.evaluate import parse_metrics

    if setting != "auto":
        return parse_metrics(setting)
    if spec.kind == "points":
        return ["modes"] if spec.name in MIXTURES else []
    return ["modes"] if spec.name == "stacked-mnist" else ["fid"]


def default_track(names: List[str], is_mixture: bool) -> Optional[str]:
    """The headline value of the first metric: reverse_kl (mixtures), kl (Stacked MNIST), fid, ..."""
    if not names:
        return None
    modes = "reverse_kl" if is_mixture else "kl"
    return {"modes": modes, "kid": "kid_mean", "pr": "recall", "dc": "coverage", "is": "is_mean"}.get(names[0],
                                                                                                      names[0])


class RegistryEvaluation:
    """In-training evaluation through `gankit.metrics.evaluate`, the registry `gankit eval` uses.

    Feature networks are built once, at the start (a missing weights file fails the run before
    step 1); real features are cached on disk by data set, split, size and network."""

    def __init__(self, cfg, spec, names: List[str], device):
        from ..data.toy import MIXTURES, mixture_means
        from ..metrics.evaluate import SampleSource, build_networks, check_metrics

        self.cfg, self.spec, self.names, self.device = cfg, spec, names, device
        probe = SampleSource(torch.zeros(1), None, cfg, spec.kind, spec.name, "probe")
        check_metrics(names, probe)
        m = cfg.monitor
        self.nets = build_networks(names, probe, inception_weights=m.inception_weights, classifier=m.classifier,
                                   device=device)
        self.num_modes = len(mixture_means(spec.name)) if spec.name in MIXTURES else 1000
        self.warned: set = set()

    def __call__(self, samples: torch.Tensor, labels: Optional[torch.Tensor], step: int) -> Dict[str, float]:
        from ..metrics.evaluate import SampleSource, evaluate, flat_values

        src = SampleSource(samples, labels, self.cfg, self.spec.kind, self.spec.name, f"training step {step}")
        values: Dict[str, float] = {}
        for result in evaluate(src, self.names, n=len(samples), networks=self.nets, device=self.device):
            if result.unavailable:
                if result.name not in self.warned:
                    self.warned.add(result.name)
                    print(f"\ngankit: in-training {result.name} unavailable: {result.unavailable}", file=sys.stderr)
                continue
            values.update(flat_values(result))
        if "modes" in values:
            values["num_modes"] = float(self.num_modes)
        return values


class Diagnostics:
    """Runs the alarm rules on logs and previews, and the periodic evaluation with best tracking.

    What to evaluate is the method's: `evaluator(step) -> {metric: value}` (None: no evaluation);
    `track` names the value kept best in checkpoints/best (`directions` says which way is better);
    `real_diversity` (None: no collapse check) is compared with the previews' diversity."""

    def __init__(self, cfg, run_dir: Path, probabilities: bool, evaluator: Optional[Callable] = None,
                 track: Optional[str] = None, real_diversity: Optional[float] = None,
                 directions: Optional[Dict[str, bool]] = None):
        m = cfg.monitor
        self.cfg, self.run_dir, self.enabled = cfg, Path(run_dir), m.alarms
        self.monitor = AlarmMonitor(probabilities=probabilities, patience=m.patience, d_win=m.d_win,
                                    collapse_ratio=m.collapse_ratio, diverge=m.diverge)
        self.evaluator, self.real_diversity = evaluator, real_diversity
        self.track = track if m.track == "auto" else m.track
        self.directions = {**DIRECTION, **(directions or {})}
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
        if self.real_diversity is None:
            return []
        return self.report(self.monitor.check_diversity(step, samples, self.real_diversity))

    def evaluate(self, step: int) -> Tuple[Dict[str, float], List[Alarm], bool]:
        """The method's metrics now; returns (metrics, alarms, improved-the-tracked-metric)."""
        if self.evaluator is None:
            return {}, [], False
        metrics = self.evaluator(step)
        alarms = []
        if "modes" in metrics:
            alarms += self.monitor.check_modes(step, int(metrics["modes"]), int(metrics["num_modes"]))
        improved = False
        if self.track in metrics:
            value, lower = metrics[self.track], self.directions.get(self.track, True)
            alarms += self.monitor.check_metric(step, self.track, value, lower)
            improved = self.best is None or (value < self.best if lower else value > self.best)
            if improved:
                self.best = value
        return metrics, self.report(alarms), improved


def gan_diagnostics(cfg, spec, real: torch.Tensor, run_dir: Path, probabilities: bool, sample: Callable,
                    device="cpu") -> Diagnostics:
    """Diagnostics of a noise-to-data GAN: registry metrics on `sample()` -> (samples, labels), collapse
    judged against the diversity of real data (for mixtures, by mode coverage instead)."""
    from ..data.toy import MIXTURES

    m = cfg.monitor
    is_mixture = spec.kind == "points" and spec.name in MIXTURES
    names = in_training_metrics(m.metrics, spec) if m.eval_every else []
    evaluator = None
    if names:
        registry = RegistryEvaluation(cfg, spec, names, device)
        evaluator = lambda step: registry(*sample(), step)  # noqa: E731
    diversity = None
    if not is_mixture:
        idx = torch.randperm(len(real), generator=torch.Generator().manual_seed(0))[:64]
        diversity = pairwise_diversity(real[idx].cpu())
    return Diagnostics(cfg, run_dir, probabilities, evaluator, default_track(names, is_mixture), diversity)
