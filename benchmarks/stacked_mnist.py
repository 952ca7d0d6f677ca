#!/usr/bin/env python
"""Benchmark: Stacked-MNIST modes and KL (VEEGAN / PacGAN protocol) of trained runs, beside the published table.

    .venv/bin/python benchmarks/stacked_mnist.py --run NAME=RUN_DIR [--run NAME=RUN_DIR ...]
        [--classifier PATH] [--n 26000] [--trained "how"]

Each run is scored with `gankit.metrics.evaluate(run, "modes")` (what `gankit eval RUN --metrics modes`
prints): 26,000 samples, each channel classified by the gankit MNIST classifier, modes = distinct
digit triples, KL(triple histogram || uniform over 1000). A calibration row scores 26,000 *real*
Stacked-MNIST test images the same way (ideal: 1000 modes, KL ~ (K-1)/2N = 0.019 from sampling
alone). Writes benchmarks/results/stacked_mnist.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import MNIST_DIR, Timer, eval_footer, log, write_result  # noqa: E402

import torch  # noqa: E402

from gankit.data import load_dataset  # noqa: E402
from gankit.metrics.classifier import ClassifierFeatures  # noqa: E402
from gankit.metrics.evaluate import evaluate  # noqa: E402
from gankit.metrics.stacked import PROTOCOL_SAMPLES, channel_digits, stacked_modes  # noqa: E402
from gankit.monitor.images import to_uint8  # noqa: E402

ANCHORS = [("DCGAN (VEEGAN's)", "99", "3.40"), ("Unrolled GAN", "48.7", "4.32"), ("VEEGAN", "150", "2.95"),
           ("DCGAN (PacGAN's)", "78.9", "4.50"), ("PacDCGAN2", "1000", "0.06"), ("PacDCGAN4", "1000", "0.07")]


def real_calibration(net: ClassifierFeatures, n: int) -> tuple:
    """Modes/KL of n real stacked test images, and the classifier's all-three-digits accuracy on them."""
    ds = load_dataset("stacked-mnist", dir=str(MNIST_DIR), split="test", n=n, seed=0)
    images = torch.from_numpy(to_uint8(ds.x)).permute(0, 3, 1, 2).contiguous()
    digits = channel_digits(images, lambda x: net.extract(x)["logits"])
    triple = (digits * torch.tensor([100, 10, 1])).sum(1)
    return stacked_modes(digits), float((triple == ds.y).double().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", action="append", required=True, metavar="NAME=RUN_DIR")
    p.add_argument("--classifier", help="MNIST classifier .safetensors (default: the gankit cache)")
    p.add_argument("--n", type=int, default=PROTOCOL_SAMPLES)
    p.add_argument("--trained", action="append", default=[], metavar="NAME=COMMAND",
                   help="how each run was trained, for the results file")
    args = p.parse_args()
    runs = dict(item.split("=", 1) for item in args.run)
    trained = dict(item.split("=", 1) for item in args.trained)
    total = Timer()
    net = ClassifierFeatures(args.classifier, "mnist")
    log("real-data calibration")
    t_real = Timer()
    real, triple_acc = real_calibration(net, args.n)
    t_real_s = str(t_real)
    rows, lines, times = [], [], []
    for name, run in runs.items():
        log(f"evaluate {name}: {run}")
        t = Timer()
        (res,) = evaluate(run, "modes", args.n, classifier=args.classifier, data_dir=str(MNIST_DIR))
        print(res.line(), flush=True)
        lines.append(res.line())
        times.append(f"{name} {t}")
        rows.append(f"| **gankit {name}** (command below) | **{res.values['modes']}** | "
                    f"**{res.values['kl']:.2f}** | {res.protocol['n_fake']:,} |\n")
    proto = res.protocol
    anchors = "".join(f"| {m} [V] | {modes} | {kl} | 26,000 |\n" for m, modes, kl in ANCHORS)
    text = f"""# Stacked MNIST: modes (of 1000) and KL to uniform

Protocol (VEEGAN / PacGAN, REFERENCES.md §2): 3 channels, each an independent random MNIST digit (28x28x3);
{args.n:,} generated samples; each channel classified by a pretrained MNIST classifier; modes = distinct digit
triples; KL(generated triple histogram || uniform over 1000), in nats.

| Model | modes /1000 | KL | samples |
|---|---|---|---|
{anchors}{''.join(rows)}| real Stacked-MNIST test images (calibration) | {real.modes} | {real.kl:.3f} | {real.n:,} |

Classifier: {proto['features']}; weights `{proto['weights']}` sha256 `{proto['weights_sha256']}`;
it reads all three digits of a real test image correctly {100 * triple_acc:.2f} % of the time. Generated samples
seed {proto['seed']}, no resize ({proto['input']}). The calibration row is the metric's ceiling at this sample
count: a perfect generator still shows KL ~ {(1000 - 1) / (2 * args.n):.3f} from sampling noise.

How our runs were trained (machine, epochs) is listed below; they use gankit's presets, not tuned reproductions
of the table's models.

""" + eval_footer(lines, trained, f"calibration {t_real_s}; {'; '.join(times)}; whole benchmark {total}")
    write_result("stacked_mnist.md", text)


if __name__ == "__main__":
    main()
