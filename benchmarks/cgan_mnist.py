#!/usr/bin/env python
"""Benchmark: does a conditional MNIST GAN draw the digit it is asked for? (issue 3 gate: >= 95 %)

    .venv/bin/python benchmarks/cgan_mnist.py --run NAME=RUN_DIR [--trained NAME=COMMAND] [--n 10000]

Each run is scored with `gankit.metrics.evaluate(run, ["class_acc", "cfid"])`, exactly what
`gankit eval RUN --metrics class_acc,cfid` prints: n samples with labels cycling through 0-9, each
classified by the separately trained gankit MNIST classifier (benchmarks/results/classifier.md);
class_acc = fraction classified as the requested digit. cfid is the Frechet distance on that
classifier's features against n real MNIST test images (quality and diversity beside accuracy).
Writes benchmarks/results/cgan_mnist.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import MNIST_DIR, Timer, eval_footer, log, write_result  # noqa: E402

from gankit.metrics.evaluate import evaluate  # noqa: E402

GATE = 0.95


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", action="append", required=True, metavar="NAME=RUN_DIR")
    p.add_argument("--trained", action="append", default=[], metavar="NAME=HOW",
                   help="how each run was trained (command, machine, wall time), for the results file")
    p.add_argument("--classifier", help="MNIST classifier .safetensors (default: the gankit cache)")
    p.add_argument("--n", type=int, default=10_000)
    args = p.parse_args()
    runs = dict(item.split("=", 1) for item in args.run)
    trained = dict(item.split("=", 1) for item in args.trained)
    total = Timer()
    rows, lines, times = [], [], []
    for name, run in runs.items():
        log(f"evaluate {name}: {run}")
        t = Timer()
        results = evaluate(run, ["class_acc", "cfid"], args.n, classifier=args.classifier, data_dir=str(MNIST_DIR))
        by_name = {r.name: r for r in results}
        acc, cfid = by_name["class_acc"].values["accuracy"], by_name["cfid"].values["value"]
        lines += [r.line() for r in results]
        times.append(f"{name} {t}")
        verdict = "pass" if acc >= GATE else "FAIL"
        rows.append(f"| {name} | **{100 * acc:.2f} %** | {cfid:.2f} | {args.n:,} | {verdict} |\n")
    text = f"""# Conditional MNIST: class accuracy of generated digits

Gate (issue 3): samples classified as the requested digit >= {100 * GATE:.0f} % of the time by a separately
trained classifier. Labels cycle through 0-9; the classifier is gankit's MNIST CNN (99.38 % test accuracy,
benchmarks/results/classifier.md). cfid: Frechet distance on that classifier's features, generated vs real
MNIST test images (lower is better; not comparable to Inception FID).

| Run | class accuracy | cfid | samples | gate |
|---|---|---|---|---|
{''.join(rows)}
""" + eval_footer(lines, trained, f"{'; '.join(times)}; whole benchmark {total}")
    write_result("cgan_mnist.md", text)


if __name__ == "__main__":
    main()
