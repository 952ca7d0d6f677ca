#!/usr/bin/env python
"""Does GAN data help a classifier with few labels? `gankit augment` on MNIST at 10, 100 and 1000 labelled
images per class, 5 seeds, every arm, with the published anchors beside it.

The protocol (gankit.augmentation) runs into --out and resumes there: a stopped benchmark continues where it
stopped when re-run with the same arguments. This script adds what a results file needs on top of the
protocol's own report: the issue's goals checked against the intervals, the anchors (different data and
models, stated), the wall time summed over every piece (GANs, arms, GAN-test's classifier), the command, the
machine and the date. Pictures: the protocol's accuracy plot and confusion matrices, copied into results/.

    .venv/bin/python benchmarks/augment.py --data-dir data/mnist --out runs/augment/mnist
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import RESULTS, Timer, command, log, machine, today, write_result  # noqa: E402

from gankit.augmentation.protocol import Settings, parse_labels, run_protocol  # noqa: E402
from gankit.augmentation.report import BASELINE, SYNTHETIC, verdict  # noqa: E402

# Published results on other data and models: for scale and direction only.
ANCHORS = [
    ("DAGAN (Antoniou et al. 2017)", "Omniglot, 5 samples per class, a DenseNet classifier",
     "69 % -> 82 % top-1 with DAGAN samples added", "few-shot characters; the GAN is trained on many other "
     "classes (a data-augmentation GAN), not on the labelled subset alone as here"),
    ("CAS (Ravuri & Vinyals 2019)", "ImageNet 128x128, ResNet-50 trained on BigGAN-deep samples only",
     "top-1 27.9 points below training on real data", "1.28M real images, 1000 classes; CAS is our synth-only arm"),
    ("Frid-Adar et al. 2018", "liver lesions (CT, 182 real lesions, 3 classes), a CNN classifier",
     "sensitivity 78.6 -> 85.7 %, specificity 88.4 -> 92.4 % with DCGAN + classic augmentation",
     "medical images, a per-class DCGAN, and their baseline already used classic augmentation"),
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="data/mnist", help="the MNIST IDX files")
    p.add_argument("--out", default="runs/augment/mnist", help="the protocol folder (re-run to resume)")
    p.add_argument("--labels-per-class", default="10,100,1000")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--gan-steps", type=int, default=2000)
    p.add_argument("--gan-augment", default="translation,cutout", help="DiffAugment policy of the GAN's D")
    p.add_argument("--gan-set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--classifier-steps", type=int, help="per arm (default: the protocol's, 500..4000)")
    p.add_argument("--reference-steps", type=int, help="GAN-test's classifier (default: the protocol's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--result", default="augment.md", help="the results file under benchmarks/results/")
    args = p.parse_args()
    timer, out = Timer(), Path(args.out)
    settings = Settings(data="mnist", data_dir=args.data_dir, test_dir=None,
                        labels=parse_labels(args.labels_per_class), seeds=args.seeds, gan_steps=args.gan_steps,
                        gan_augment=args.gan_augment,
                        gan_overrides=list(args.gan_set), classifier_steps=args.classifier_steps,
                        reference_steps=args.reference_steps)
    report = run_protocol(out, settings, device=args.device, log=log)
    doc = json.loads((out / "report.json").read_text())
    stem = Path(args.result).stem
    for picture in ("accuracy", "confusion"):
        if (out / f"{picture}.png").is_file():
            shutil.copyfile(out / f"{picture}.png", RESULTS / f"{stem}_{picture}.png")
    body = report.read_text().split("\n", 1)[1]  # the protocol's report, under our own title
    body = body.replace("(accuracy.png)", f"({stem}_accuracy.png)").replace("(confusion.png)",
                                                                           f"({stem}_confusion.png)")
    write_result(args.result, results_file(doc, body, wall_seconds(out), timer))
    return 0


def wall_seconds(out: Path) -> dict:
    """Seconds spent, summed over the pieces' own records (a resumed benchmark's earlier sessions included)."""
    arms = sum(json.loads(f.read_text()).get("seconds", 0) for f in (out / "results").glob("*/*.json"))
    gans = 0.0
    for done in (out / "gans").glob("*/done"):
        text = done.read_text().strip()
        gans += json.loads(text).get("seconds", 0) if text else 0
    reference = out / "reference.json"
    arms += json.loads(reference.read_text()).get("seconds", 0) if reference.is_file() else 0
    return {"gans": gans, "arms": arms}


def _points(iv: dict) -> str:
    return f"{100 * iv['mean']:+.2f}" + ("" if iv["low"] is None else f" [{100 * iv['low']:+.2f}, {100 * iv['high']:+.2f}]")


def overlap(a: dict, b: dict) -> bool:
    return a["low"] is None or b["low"] is None or not (a["low"] > b["high"] or b["low"] > a["high"])


def goals(levels: dict) -> str:
    """The issue's goals, each checked against the intervals: real + synthetic above real only at 10 and 100
    labels per class (intervals apart; the real+synthNx arms, whose only difference from real only is the
    synthetic images), CAS (synth-only) within 3 points of real only at 1000."""
    lines = []
    for labels in ("10", "100"):
        arms = levels.get(labels)
        if not arms:
            lines.append(f"- {labels} per class: not run")
            continue
        plain = {k: v for k, v in arms.items() if BASELINE.get(k) == "real"}
        best = max(plain, key=lambda k: plain[k]["accuracy"]["mean"])
        real, mine = arms["real"]["accuracy"], arms[best]["accuracy"]
        apart = mine["mean"] > real["mean"] and not overlap(real, mine)
        lines.append(f"- {labels} per class: best real + synthetic arm **{best}** {100 * mine['mean']:.2f} % against "
                     f"real only {100 * real['mean']:.2f} %: " + ("**met** (the 95 % intervals do not overlap)" if apart
                                                                  else "**not met** (" + (
                                                                      "the intervals overlap)" if mine["mean"] >
                                                                      real["mean"] else "no gain)")))
        classic = arms.get("real+classic+synth1x", {}).get("synth_gain")
        if classic and classic["mean"] is not None:
            lines.append(f"  - on top of classic augmentation, synthetic images add {_points(classic)} points "
                         f"(real+classic+synth1x vs real+classic, paired): {verdict(classic)}")
    arms = levels.get("1000")
    if arms and "synth-only" in arms:
        gap = 100 * (arms["real"]["accuracy"]["mean"] - arms["synth-only"]["accuracy"]["mean"])
        lines.append(f"- 1000 per class: CAS (synth-only) is {gap:.2f} points below real only: "
                     + ("**met** (within 3)" if gap <= 3 else "**not met** (more than 3)"))
    else:
        lines.append("- 1000 per class: not run")
    return "\n".join(lines)


def steps_flags(s: dict) -> str:
    return "".join(f" --{k.replace('_', '-')} {s[k]}" for k in ("classifier_steps", "reference_steps") if s.get(k))


def results_file(doc: dict, body: str, seconds: dict, timer) -> str:
    levels, s = doc["levels"], doc["settings"]
    anchors = "".join(f"| {name} | {data} | {figure} | {diff} |\n" for name, data, figure, diff in ANCHORS)
    total = seconds["gans"] + seconds["arms"]
    return f"""# Data augmentation with GAN samples: MNIST at {', '.join(map(str, s['labels']))} labels per class

## The goals

{goals(levels)}

Synthetic arms compared: {', '.join(SYNTHETIC)}.

## The protocol's report
{body}
## Published anchors (other data, other models: for direction, not for comparison)

| work | data and classifier | published | how it differs from this table |
|---|---|---|---|
{anchors}
## Commands, machine, time

- benchmark: `{command()}` (re-running it resumes; the same as `gankit augment --data mnist --data-dir
  {s['data_dir']} --labels-per-class {','.join(map(str, s['labels']))} --seeds {s['seeds']} --gan-steps
  {s['gan_steps']}{''.join(' --gan-set ' + o for o in s['gan_overrides'])}{steps_flags(s)} --out OUT` plus this file)
- date: {today()}
- machine: {machine()}
- wall time of the pieces: {total / 60:.1f} min ({seconds['gans'] / 60:.1f} min training {s['seeds'] *
len(s['labels'])} GANs, {seconds['arms'] / 60:.1f} min training and scoring the arms and GAN-test's classifier); this call: {timer}
"""


if __name__ == "__main__":
    raise SystemExit(main())
