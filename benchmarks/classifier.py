#!/usr/bin/env python
"""Benchmark: test accuracy of gankit's digit classifier (the Stacked-MNIST protocol asks for > 99 % on MNIST).

    .venv/bin/python benchmarks/classifier.py [--data mnist] [--epochs 4] [--out PATH]

Trains with `gankit.metrics.classifier.train_classifier` (what `gankit classifier train` runs) on
the train split of /work/shared/data/mnist, scores the 10,000 test images and writes
benchmarks/results/classifier.md. The saved classifier is the one the Stacked-MNIST benchmark uses.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import MNIST_DIR, Timer, command, log, machine, today, write_result  # noqa: E402

from gankit.metrics.classifier import default_path, train_classifier  # noqa: E402
from gankit.metrics.inception import file_sha256  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="mnist", choices=["mnist", "fashion-mnist"])
    p.add_argument("--data-dir", default=str(MNIST_DIR))
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--out", help="classifier .safetensors (default: the gankit cache, where eval looks)")
    args = p.parse_args()
    out = Path(args.out) if args.out else default_path(args.data)
    lines = []
    timer = Timer()
    path, info = train_classifier(args.data, args.data_dir, epochs=args.epochs, out=out,
                                  log=lambda m: (log(m), lines.append(m)))
    acc = 100 * info["test_accuracy"]
    verdict = "meets" if acc >= 99.0 else "MISSES"
    text = f"""# Digit classifier ({args.data}): test accuracy

The classifier behind cFID, class accuracy and the Stacked-MNIST modes (`gankit classifier train`).

| | test accuracy | test images |
|---|---|---|
| anchor: VEEGAN / PacGAN Stacked-MNIST protocol (REFERENCES.md §2) | > 99 % (required) | 10,000 |
| **gankit DigitClassifier** (conv16-pool-conv32-pool-conv64-fc128, {info['epochs']} epochs) | **{acc:.2f} %** | {info['n_test']:,} |

Result: {verdict} the >= 99 % requirement.

- command: `{command()}`
- date: {today()}; wall time {timer} (training {info['train_seconds']} s)
- machine: {machine()}
- data: {args.data_dir}, train split ({info['n_train']:,} images) / test split ({info['n_test']:,}); seed {info['seed']}
- saved: `{path}` (sha256 `{file_sha256(path)}`) + JSON sidecar
- per epoch:
""" + "".join(f"  - {m}\n" for m in lines)
    write_result(f"classifier{'' if args.data == 'mnist' else '-' + args.data}.md", text)
    print(f"test accuracy {acc:.2f}% -> {path}")


if __name__ == "__main__":
    main()
