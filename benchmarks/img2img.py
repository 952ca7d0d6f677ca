#!/usr/bin/env python
"""Image-to-image translation on CMP Facades (label map -> photo): identity, L1-only, pix2pix, CycleGAN.

One table: the models are trained from their presets (facades-pix2pix, the same with
pix2pix.lambda_gan=0 for the L1-only baseline, facades-cyclegan) by
benchmarks/img2img_train.sh into runs/bench/, one after the other on this machine, and scored here on
the 106 test pairs with `gankit.metrics.translation` (the code behind `gankit eval` and the
in-training evaluation): FID and KID of the outputs against the real test photos (torch-fidelity's
Inception, its resize to 299), L1, PSNR and SSIM against the ground truth. Training speed: steps x
batch / wall seconds of the whole `gankit train` command (data loading, previews and checkpoints
included), model FLOPs per step counted with FlopCounterMode, MFU against the measured matmul peak
(benchmarks/speed.py). The picture shows 8 test images: input | L1-only | pix2pix | CycleGAN | truth.

    .venv/bin/python benchmarks/img2img.py --runs runs/bench --data data/facades
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import (INCEPTION, Timer, log, read_times, speed_cells,  # noqa: E402
                         training_facts, training_footer, write_result)

import gankit  # noqa: E402
from gankit.data.paired import paired  # noqa: E402
from gankit.metrics.inception import InceptionFeatures  # noqa: E402
from gankit.metrics.translation import Direction, flat, translation_results  # noqa: E402
from gankit.monitor.images import save_grid  # noqa: E402

RUNS = {"L1-only": ("l1", "facades-pix2pix", ["pix2pix.lambda_gan=0"]),
        "pix2pix": ("pix2pix_d2", "facades-pix2pix", []),
        "CycleGAN": ("cyclegan", "facades-cyclegan", [])}
ANCHORS = {"pix2pix": 119.1, "CycleGAN": 123.6}  # mmagic's FID of the official models, 256 px, 106 images
METRICS = ["fid", "kid", "l1", "psnr", "ssim"]
PICTURE_ITEMS = 8
PICTURE_MODELS = ("L1-only", "pix2pix", "CycleGAN")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--runs", default="runs/bench", help="folder holding the l1, pix2pix and cyclegan runs")
    p.add_argument("--data", default="data/facades", help="CMP Facades (train/ and test/ of aligned pairs)")
    p.add_argument("--out", default="img2img.md")
    p.add_argument("--no-flops", action="store_true", help="skip FLOP counting and the matmul peak")
    p.add_argument("--peak-gflops", type=float, help="the fp32 matmul peak for MFU, measured on an idle machine "
                                                     "(benchmarks/results/speed.md); default: measure it now")
    args = p.parse_args()
    timer, runs = Timer(), Path(args.runs)
    models = {name: gankit.load(runs / sub) for name, (sub, _, _) in RUNS.items()}
    size = models["pix2pix"].spec.shape[-1]
    test = paired(dir=args.data, size=size, split="test", direction="BtoA", jitter=False)
    log(f"{len(test)} test pairs at {size} px")
    inception = InceptionFeatures(str(INCEPTION))
    translate = {"identity": lambda x: x}
    translate.update({name: (lambda m: lambda x: m.translate(x, "BtoA"))(m) for name, m in models.items()})
    rows, lines = {}, []
    for name, fn in translate.items():
        t = Timer()
        direction = Direction("BtoA", fn, lambda: ((b["source"], b["target"]) for b in test.items(batch_size=16)),
                              paired=True)
        results = translation_results([direction], METRICS, inception, {"split": "test", "size": size})
        rows[name] = flat(results)
        lines += [f"{name}: {r.line()}" for r in results]
        log(f"{name}: {json.dumps(rows[name])} ({t})")
    picture(models, test, RESULTS_DIR() / "img2img.png")
    times = read_times(runs / "times.txt")
    facts = {}
    if not args.no_flops:
        from speed import matmul_peak

        peak = ({"median": args.peak_gflops, "kernel": "given (--peak-gflops)"} if args.peak_gflops else
                matmul_peak(torch.device("cpu"), torch.float32, 2048, 3, 1.0))
        for name, (sub, preset, overrides) in RUNS.items():
            facts[name] = training_facts(runs / sub, preset, overrides, times)
            if "gflops" in facts[name]:
                facts[name]["mfu"] = facts[name]["gflops"] / peak["median"]
        facts["peak"] = peak
    facts["curves"] = {name: eval_curve(runs / sub) for name, (sub, _, _) in RUNS.items()}
    write_result(args.out, report(rows, facts, lines, size, len(test), timer))
    (RESULTS_DIR() / "img2img.json").write_text(json.dumps({"rows": rows, "training": facts}, indent=1, default=str))
    return 0


def RESULTS_DIR() -> Path:  # noqa: N802
    from eval_common import RESULTS

    return RESULTS


@torch.no_grad()
def picture(models: dict, test, path: Path) -> None:
    batch = next(iter(test.items(batch_size=PICTURE_ITEMS)))
    src, tgt = batch["source"], batch["target"]
    columns = [src] + [models[n].translate(src, "BtoA") for n in PICTURE_MODELS] + [tgt]
    save_grid(torch.stack(columns, 1).flatten(0, 1), path, nrow=len(columns))
    log(f"wrote {path}")


def eval_curve(run: Path) -> dict:
    """step -> (fid, kid) of a run's in-training evaluation records (metrics.jsonl)."""
    out = {}
    path = run / "metrics.jsonl"
    for line in path.read_text().splitlines() if path.is_file() else []:
        rec = json.loads(line)
        if "eval/fid" in rec:
            out[rec["step"]] = (rec["eval/fid"], rec.get("eval/kid_mean"))
    return out


def curve_table(curves: dict) -> str:
    """Markdown: one row per evaluated step, FID (KID) of each model that has an in-training curve."""
    curves = {k: v for k, v in curves.items() if v}
    if not curves:
        return "(no in-training evaluation records)\n"
    steps = sorted(set().union(*curves.values()))
    head = "| step | " + " | ".join(curves) + " |\n|---|" + "---|" * len(curves) + "\n"
    rows = "".join(f"| {s:,} | " + " | ".join(f"{c[s][0]:.1f} ({c[s][1]:.3f})" if s in c else "—"
                                              for c in curves.values()) + " |\n" for s in steps)
    return head + rows


def _fmt(v, digits=3):
    return "n/a" if v is None else (f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}")


def report(rows: dict, facts: dict, lines: list, size: int, n: int, timer) -> str:
    head = ("| model | FID ↓ | KID ↓ | L1 ↓ | PSNR (dB) ↑ | SSIM ↑ | training wall | images/s | MFU | "
            "published FID (256 px) |\n|---|---|---|---|---|---|---|---|---|---|\n")
    body = ""
    for name, r in rows.items():
        f = facts.get(name, {})
        anchor = f"{ANCHORS[name]} (official model)" if name in ANCHORS else "—"
        body += (f"| {name} | {r['fid']:.1f} | {r['kid_mean']:.3f} | {r['l1']:.3f} | {r['psnr']:.2f} | "
                 f"{r['ssim']:.3f} | {speed_cells(f)} | {anchor} |\n")
    peak = facts.get("peak", {})
    curves = curve_table(facts.get("curves", {}))
    return f"""# Image-to-image translation on CMP Facades (label map -> photo)

{head}{body}
- Test set: the {n} facades test pairs, label map (right half, B) -> photo (left half, A), at {size} px
  (resized from 256 with bicubic antialiasing); FID/KID against the {n} real test photos at the same size.
  **FID on 106 images is strongly biased upwards and noisy** (the covariance of 2048 features from 106
  samples); compare rows of this table with each other, and with the published numbers only loosely: those
  are mmagic's measurements of the official models at 256 px, on the same 106 images.
- identity = the input label map copied (what FID gives when nothing is learned); L1-only = the pix2pix preset
  with `pix2pix.lambda_gan=0` (same U-Net, same budget, no discriminator).
- Trained with the presets as shipped, one after another on this machine by `benchmarks/img2img_train.sh`:
  `gankit train --preset facades-pix2pix` and the same with `pix2pix.lambda_gan=0` (both scoring the test set
  every 2,000 steps), `gankit train --preset facades-cyclegan`. Wall time is the whole command's. MFU = model FLOPs per step (FlopCounterMode, forward
  and backward) x steps / wall seconds / the measured fp32 matmul peak ({_fmt(peak.get('median'))} GFLOP/s,
  {peak.get('kernel', 'n/a')}).

FID / KID on the test set during training (the in-training evaluation, `monitor.eval_every=2000`):

{curves}
![input | L1-only | pix2pix | CycleGAN | truth](img2img.png)

*Rows: 8 test images; columns: input label map | L1-only | pix2pix | CycleGAN | real photo.*

{training_footer(facts, lines, 'bash benchmarks/img2img_train.sh', timer)}"""


if __name__ == "__main__":
    sys.exit(main())
