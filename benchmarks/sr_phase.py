#!/usr/bin/env python
"""How much of a SR model's patch FID is a fixed sub-pixel pattern: the per-phase offset diagnosis.

For each BSD100 image, the residual of a model's output against a reference (SRResNet for SRGAN runs,
bicubic for the others) is averaged per position in the 4x4 sub-pixel lattice (the period of a x4
pixel-shuffle generator) and per channel: that mean pattern is what a fixed-phase loss leaves free. The
table gives its mean absolute size and the patch FID of the outputs before and after subtracting it
(the non-overlapping 96-px patches of benchmarks/sr.py's perceptual figure).

    .venv/bin/python benchmarks/sr_phase.py --runs runs/sr --data data/sr srgan-noroll srgan
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import INCEPTION, log, machine, write_result  # noqa: E402

import gankit  # noqa: E402
from gankit.data.sr import sr  # noqa: E402
from gankit.metrics.frechet import feature_stats, frechet_distance  # noqa: E402
from gankit.metrics.inception import InceptionFeatures  # noqa: E402
from gankit.metrics.sr import PATCH, _to_uint8, patches  # noqa: E402
from sr import bicubic  # noqa: E402

PERIOD = 4


def phase_pattern(x: torch.Tensor, ref: torch.Tensor, period: int = PERIOD) -> torch.Tensor:
    """The (C, period, period) mean of x - ref at each sub-pixel phase, tiled back to x's size."""
    r = x - ref
    h, w = (r.shape[-2] // period) * period, (r.shape[-1] // period) * period
    m = r[:, :h, :w].reshape(r.shape[0], h // period, period, w // period, period).mean((1, 3))
    reps = (1, -(-r.shape[1] // period), -(-r.shape[2] // period))
    return m.repeat(*reps)[:, :r.shape[1], :r.shape[2]]


@torch.no_grad()
def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs_named", nargs="+", metavar="RUN", help="run folders under --runs (SRGAN runs: reference SRResNet)")
    p.add_argument("--runs", default="runs/sr")
    p.add_argument("--data", default="data/sr")
    p.add_argument("--out", default="sr_phase.md")
    args = p.parse_args()
    data = list(sr(dir=None, test_dir=str(Path(args.data) / "BSD100"), split="test", scale=4).items())
    inception = InceptionFeatures(str(INCEPTION))

    def features(images):
        return torch.cat([inception.extract(_to_uint8(patches(x[None], PATCH)))["features"] for x in images
                          if min(x.shape[-2:]) >= PATCH])

    hr = [item["hr"][0] for item in data]
    real = feature_stats(features(hr))
    bic = [bicubic(item["lr"])[0] for item in data]
    srresnet = gankit.load(Path(args.runs) / "srresnet")
    reference = [srresnet.upscale(item["lr"]).float().clamp(-1, 1)[0] for item in data]
    rows = []
    for name in ["srresnet", *args.runs_named]:
        model = srresnet if name == "srresnet" else gankit.load(Path(args.runs) / name)
        outs = reference if name == "srresnet" else [model.upscale(i["lr"]).float().clamp(-1, 1)[0] for i in data]
        refs = bic if name == "srresnet" else reference
        patterns = [phase_pattern(o, r) for o, r in zip(outs, refs)]
        size = sum(pat[:, :PERIOD, :PERIOD].abs().mean().item() for pat in patterns) / len(patterns)
        fid = frechet_distance(*real, *feature_stats(features(outs)))
        fid_clean = frechet_distance(*real, *feature_stats(features([(o - pat).clamp(-1, 1)
                                                                     for o, pat in zip(outs, patterns)])))
        rows.append((name, "bicubic" if name == "srresnet" else "SRResNet", size, fid, fid_clean))
        log(f"{name}: phase offset {size:.5f}, FID {fid:.1f} -> {fid_clean:.1f}")
    table = "\n".join(f"| {n} | {r} | {s:.4f} | {f:.1f} | {c:.1f} |" for n, r, s, f, c in rows)
    write_result(args.out, f"""# Per-phase offset pattern of SR outputs (BSD100, x4)

| run | reference | mean abs per-phase offset ([-1, 1] units) | patch FID | patch FID, pattern removed |
|---|---|---|---|---|
{table}

- The per-phase offset: per image and channel, the mean of (output - reference) at each of the 4x4
  sub-pixel positions. FID: the {PATCH}-px non-overlapping BSD100 patches against HR (benchmarks/sr.py's figure).
- Command: `.venv/bin/python benchmarks/sr_phase.py --runs {args.runs} --data {args.data} {' '.join(args.runs_named)}`
- Machine: {machine()}; date {time.strftime("%Y-%m-%d")}
""")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
