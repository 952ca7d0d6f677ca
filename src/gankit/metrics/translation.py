"""Scores of an image-to-image model on a test set: the paired metrics against the ground truth
(L1, PSNR, SSIM), FID/KID of the outputs against the real targets, and CycleGAN's cycle-reconstruction
PSNR. One pass over the data; Inception features are extracted batch by batch (bounded memory).

`translation_results(directions, names, ...)` is shared by `gankit eval`, the in-training evaluation
(checkpoints/best) and benchmarks/img2img.py. FID on a small test set (facades: 106 images) is biased
upwards and has a large variance; the result lines state n.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import torch
from torch import Tensor

from ..errors import ConfigError
from .evaluate import MetricResult, _to_uint8
from .frechet import feature_stats, frechet_distance, kid
from .paired import PAIRED_METRICS

GROUND_TRUTH = tuple(PAIRED_METRICS)  # l1, psnr, ssim, psnr_y, ssim_y
INCEPTION = ("fid", "kid")
TRANSLATION_METRICS = (*GROUND_TRUTH, *INCEPTION, "cycle_psnr")
KID_SUBSET = 1000


@dataclass
class Direction:
    """One direction to score: `translate` maps source batches to outputs; `pairs` yields
    (source, target) batches; `paired` says whether target is the ground truth of source (else only
    a sample of the target domain); `back` (CycleGAN) maps outputs back to the source domain."""
    name: str
    translate: Callable[[Tensor], Tensor]
    pairs: Callable[[], Iterable]
    paired: bool
    back: Optional[Callable[[Tensor], Tensor]] = None


OTHER_DIRECTION = {"AtoB": "BtoA", "BtoA": "AtoB"}


def test_directions(data, fns: Dict[str, Callable[[Tensor], Tensor]], forward: str,
                    limit: Optional[int] = None, batch_size: int = 8) -> List[Direction]:
    """What to score on a test set: paired data, `fns[forward]` against the ground truth; unpaired data, both
    directions (each against the other domain's real images, and back through the other generator)."""
    if data.kind == "paired":
        return [Direction(forward, fns[forward], lambda: limited(
            ((b["source"], b["target"]) for b in data.items(batch_size=batch_size)), limit), paired=True)]

    def pairs(first, second):
        return lambda: limited(((x[first], y[second]) for x, y in zip(getattr(data, f"items_{first}")(batch_size),
                                                                      getattr(data, f"items_{second}")(batch_size))),
                               limit)
    back = OTHER_DIRECTION[forward]
    return [Direction(forward, fns[forward], pairs("a", "b"), paired=False, back=fns[back]),
            Direction(back, fns[back], pairs("b", "a"), paired=False, back=fns[forward])]


def limited(batches, limit: Optional[int]):
    """Batches (tuples of tensors) up to `limit` items in all (None: every batch)."""
    seen = 0
    for batch in batches:
        if limit is not None and seen >= limit:
            return
        take = len(batch[0]) if limit is None else min(len(batch[0]), limit - seen)
        seen += take
        yield tuple(t[:take] for t in batch)


def parse_names(setting: str, paired: bool) -> List[str]:
    """`monitor.metrics` / `--metrics` for a translation run; auto: l1,psnr,ssim (paired), cycle_psnr (unpaired)."""
    names = parse_family_names(setting, TRANSLATION_METRICS, ["l1", "psnr", "ssim"] if paired else ["cycle_psnr"],
                               "image-to-image runs")
    for n in names:
        if n in GROUND_TRUTH and not paired:
            raise ConfigError(f"metric {n} needs ground-truth pairs; an unpaired (CycleGAN) data set has none: use "
                              "fid, kid or cycle_psnr")
        if n == "cycle_psnr" and paired:
            raise ConfigError("cycle_psnr needs a CycleGAN run (two generators)")
    return names


def _scores(directions: List[Direction], names: List[str], inception) -> Dict[str, Dict[str, list]]:
    """Per direction: per-image values of the ground-truth metrics, Inception features, cycle PSNRs."""
    from .paired import psnr

    out = {}
    for d in directions:
        acc = {n: [] for n in names if n in GROUND_TRUTH}
        acc.update(real=[], fake=[], cycle=[])
        for source, target in d.pairs():
            fake = d.translate(source).float().cpu().clamp(-1, 1)
            target = target.float().cpu()
            if d.paired:
                for n in acc.keys() & set(GROUND_TRUTH):
                    acc[n].append(PAIRED_METRICS[n](fake, target))
            if inception is not None:
                acc["fake"].append(inception.extract(_to_uint8(fake))["features"])
                acc["real"].append(inception.extract(_to_uint8(target))["features"])
            if d.back is not None and "cycle_psnr" in names:
                acc["cycle"].append(psnr(d.back(fake).float().cpu().clamp(-1, 1), source.float().cpu()))
        out[d.name] = acc
    return out


def translation_results(directions: List[Direction], names: List[str], inception=None,
                        protocol: Optional[dict] = None) -> List[MetricResult]:
    """One MetricResult per metric; values per direction (`AtoB` ...) where there are several."""
    needs_inception = any(n in INCEPTION for n in names)
    if needs_inception and inception is None:
        raise ConfigError("fid/kid need the Inception network: pass inception= (gankit.metrics.inception)")
    per = _scores(directions, names, inception if needs_inception else None)
    several = len(directions) > 1
    results = []
    for n in names:
        values = {}
        for d in directions:
            acc, key = per[d.name], (d.name if several else "value")
            if n in GROUND_TRUTH:
                vals = torch.cat(acc[n]).double()
                values[key] = float(vals[torch.isfinite(vals)].mean()) if torch.isfinite(vals).any() else float("inf")
            elif n == "cycle_psnr":
                values[key] = float(torch.cat(acc["cycle"]).double().clamp(max=100).mean())
            else:
                real, fake = torch.cat(acc["real"]), torch.cat(acc["fake"])
                if n == "fid":
                    values[key] = frechet_distance(*feature_stats(real), *feature_stats(fake))
                else:
                    mean, std = kid(real, fake, subset_size=min(KID_SUBSET, len(real), len(fake)))
                    values[f"{key}_mean" if several else "mean"] = mean
                    values[f"{key}_std" if several else "std"] = std
        n_items = sum(len(t) for t in per[directions[0].name].get(n, [])) if n in GROUND_TRUTH else None
        proto = {**(protocol or {}), "n": n_items or _count(per[directions[0].name])}
        if n in INCEPTION and inception is not None:
            proto.update({k: v for k, v in inception.protocol.items() if k != "weights"})
        results.append(MetricResult(n, values, proto))
    return results


def _count(acc: dict) -> int:
    for key in ("real", "cycle"):
        if acc.get(key):
            return sum(len(t) for t in acc[key])
    return 0


def parse_family_names(setting: Optional[str], allowed: Sequence[str], default: Sequence[str], runs: str) -> List[str]:
    """`monitor.metrics` / `--metrics` for a family's runs: "auto" (or empty) gives `default`; every name must be
    one of `allowed`, else a one-line ConfigError naming `runs` (e.g. "super-resolution runs")."""
    if setting in ("auto", "", None):
        return list(default)
    names = [n.strip().lower() for n in setting.split(",") if n.strip()]
    for n in names:
        if n not in allowed:
            raise ConfigError(f"metric {n!r} does not apply to {runs}; choose from {', '.join(allowed)}")
    return names


def flat(results: List[MetricResult]) -> Dict[str, float]:
    """{"psnr": v, "fid_AtoB": v, "kid_mean": v, ...} for logs and best tracking."""
    out = {}
    for r in results:
        for k, v in r.values.items():
            if v is not None:
                out[r.name if k == "value" else f"{r.name}_{k}"] = v
    return out


class InTrainingEvaluation:
    """The periodic evaluation of a translation method on the test split (`data.split=test`)."""

    def __init__(self, method, setting: str):
        from ..api import dataset_for  # the data set is loaded as training loads it

        self.method = method
        paired = method.spec.kind == "paired"
        self.names = parse_names(setting, paired)
        cfg = method.cfg
        self.data = dataset_for(cfg, split="test", jitter=False)
        if self.data.info.get("split") != "test":
            print(f"\ngankit: no test split under data.dir '{cfg.data.dir}': in-training evaluation uses the "
                  "training images", file=sys.stderr)
        self.inception = None
        if any(n in INCEPTION for n in self.names):
            from .inception import InceptionFeatures

            self.inception = InceptionFeatures(cfg.monitor.inception_weights, device=method.device)
        self.track = "kid_mean" if self.names[0] == "kid" else self.names[0]

    def __call__(self, step: int) -> Dict[str, float]:
        directions = self.method.directions(self.data, limit=self.method.cfg.monitor.eval_n)
        values = flat(translation_results(directions, self.names, self.inception))
        if self.track not in values:  # several directions: track their mean
            parts = [v for k, v in values.items() if k.startswith(f"{self.track}_")]
            if parts:
                values[self.track] = sum(parts) / len(parts)
        return values
