#!/usr/bin/env python
"""Next-frame prediction on Moving MNIST (10 -> 10 frames): baselines, SimVP, SimVP + GAN, ConvLSTM in one table.

The models are trained from their presets (mmnist-simvp, mmnist-simvp-gan, mmnist-convlstm) by
benchmarks/video_train.sh into runs/video/, one after the other on this machine, and scored here with
`gankit.metrics.video` (the code behind `gankit eval` and the in-training evaluation) on the 10,000 test
sequences generated from the MNIST test digits (or the standard mnist_test_seq.npy with --test-file).
Baselines in the same run: all-black frames and the last context frame copied. Training speed: steps x
batch / wall seconds of the whole `gankit train` command, FLOPs per step counted with FlopCounterMode.
Pictures: a strip (context | truth | each model) and an animated GIF for 4 test sequences, and the MSE per
horizon.

    .venv/bin/python benchmarks/video.py --runs runs/video --data data/mnist --peak-gflops 197.9 --peak-bf16-gflops 404.2
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import (RESULTS, Timer, add_mfu, log, peaks, read_times, speed_cells, training_facts,  # noqa: E402
                         training_footer, write_result)

import gankit  # noqa: E402
from gankit.data.moving_mnist import moving_mnist  # noqa: E402
from gankit.metrics.video import VIDEO_METRICS, video_results  # noqa: E402
from gankit.monitor.images import gif_bytes, save_grid  # noqa: E402

RUNS = {"SimVP (deterministic)": ("simvp", "mmnist-simvp"), "SimVP + GAN": ("simvp-gan", "mmnist-simvp-gan"),
        "ConvLSTM": ("convlstm", "mmnist-convlstm")}
# OpenSTL (Tan et al. 2023) Moving MNIST, 200 epochs on a GPU: MSE / MAE / SSIM; and the original papers' MSE
PUBLISHED = {"ConvLSTM (OpenSTL, 200 ep)": (29.80, None, None), "SimVP (OpenSTL, 200 ep)": (32.15, 89.05, 0.9268),
             "TAU (OpenSTL, 200 ep)": (24.60, None, None), "ConvLSTM (Shi et al. 2015)": (103.3, None, None),
             "PredRNN (Wang et al. 2017)": (56.8, None, None)}
SHOWN = 4  # test sequences in the strip and the GIF


def copy_last(context: torch.Tensor, frames: int) -> torch.Tensor:
    return context[:, -1:].expand(-1, frames, -1, -1, -1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--runs", default="runs/video")
    p.add_argument("--data", default="data/mnist", help="folder holding the MNIST IDX files")
    p.add_argument("--test-file", help="the standard mnist_test_seq.npy instead of the generated test set")
    p.add_argument("--n", type=int, help="test sequences (default all 10,000)")
    p.add_argument("--out", default="video.md")
    p.add_argument("--no-flops", action="store_true")
    p.add_argument("--peak-gflops", type=float, help="the idle fp32 matmul peak for MFU (benchmarks/results/speed.md)")
    p.add_argument("--peak-bf16-gflops", type=float, help="the idle bf16 matmul peak, for the bf16 runs' MFU")
    args = p.parse_args()
    timer, runs = Timer(), Path(args.runs)
    data = moving_mnist(dir=args.data, split="test", test_file=args.test_file, n=args.n)
    models = {name: gankit.load(runs / sub) for name, (sub, _) in RUNS.items() if (runs / sub / "checkpoints").is_dir()}
    out = data.frames_out
    predict = {"all black": lambda c: torch.full((c.shape[0], out, *c.shape[2:]), -1.0),
               "copy last frame": lambda c: copy_last(c, out),
               **{n: (lambda m: lambda c: m.predict(c, clip=False))(m) for n, m in models.items()}}
    rows, curves, lines = {}, {}, []
    for name, fn in predict.items():
        t = Timer()
        results, curve = video_results(fn, data, list(VIDEO_METRICS), protocol={"model": name})  # unclipped MSE
        rows[name] = {r.name: r.values["value"] for r in results}
        curves[name] = curve["mse"]
        lines += [f"{name}: {r.line()}" for r in results]
        log(f"{name}: {json.dumps(rows[name])} ({t})")
    pictures(predict, data)
    horizon_plot(curves, RESULTS / "video_horizon.png")
    facts = {}
    if not args.no_flops:
        from speed import matmul_peak

        times = read_times(runs / "times.txt")
        for name, (sub, preset) in RUNS.items():
            if name in models:
                facts[name] = training_facts(runs / sub, preset, [], times)
        add_mfu(facts, peaks(args, matmul_peak))
    write_result(args.out, report(rows, curves, facts, lines, data, timer))
    (RESULTS / "video.json").write_text(json.dumps({"rows": rows, "mse_per_horizon": curves, "training": facts},
                                                   indent=1, default=str))
    return 0


@torch.no_grad()
def pictures(predict: dict, data) -> None:
    """video.png: per test sequence the context, the truth and each model's prediction as rows;
    video.gif: the same sequences side by side (truth, then each model), the context then the future."""
    frames = next(iter(data.items(SHOWN)))["frames"]
    context, truth = frames[:, :data.frames_in], frames[:, data.frames_in:]
    outs = {name: fn(context).float().clamp(-1, 1) for name, fn in predict.items() if name != "all black"}
    rows = []
    for i in range(SHOWN):
        rows += [context[i], truth[i], *(o[i] for o in outs.values())]
    save_grid(torch.cat(rows), RESULTS / "video.png", nrow=max(data.frames_in, data.frames_out))
    columns = [torch.cat([context, truth], 1)] + [torch.cat([context, o], 1) for o in outs.values()]
    movie = torch.cat([torch.cat(list(c), -1) for c in columns], -2)  # (T, 1, SHOWN x H ... )
    (RESULTS / "video.gif").write_bytes(gif_bytes(movie, fps=4, scale=2))
    log(f"wrote video.png and video.gif (rows / columns: truth, {', '.join(outs)})")


def horizon_plot(curves: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=name)
    ax.set_xlabel("predicted frame"), ax.set_ylabel("MSE per frame"), ax.legend(fontsize=7), ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _cell(v, digits: int) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def report(rows: dict, curves: dict, facts: dict, lines: list, data, timer) -> str:
    head = ("| model | MSE | MAE | PSNR | SSIM | sharpness (dB) | gradient ratio | training wall | sequences/s | MFU |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    body = ""
    for name, r in rows.items():
        f = facts.get(name, {})
        body += (f"| {name} | {r['mse']:.2f} | {r['mae']:.2f} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
                 f"{r['sharpness']:.2f} | {r['grad_ratio']:.3f} | {speed_cells(f)} |\n")
    pub = "".join(f"| {m} | {_cell(v[0], 2)} | {_cell(v[1], 2)} | {_cell(v[2], 4)} |\n" for m, v in PUBLISHED.items())
    horizon = "".join(f"| {name} | " + " | ".join(f"{v:.1f}" for v in c) + " |\n" for name, c in curves.items())
    return f"""# Next-frame prediction on Moving MNIST ({data.frames_in} -> {data.frames_out} frames)

{head}{body}
Published figures beside them (GPU, much longer training):

| published | MSE | MAE | SSIM |
|---|---|---|---|
{pub}
MSE per predicted frame:

| model | {' | '.join(str(i + 1) for i in range(data.frames_out))} |
|---|{'---|' * data.frames_out}
{horizon}
- Test set: {len(data)} sequences, {data.info.get('source')} ({data.info.get('protocol')}); the definitions
  are OpenSTL's: MSE and MAE per frame summed over the 64x64 pixels in [0, 1], averaged over frames and
  sequences; PSNR per frame (peak 1); SSIM as scikit-image's default with data_range=1; sharpness =
  Mathieu et al.'s sharpness difference; gradient ratio = the predictions' gradient energy over the truth's.
- Wall time is the whole `gankit train` command's; sequences/s = steps x batch / wall seconds.

![context | truth | models](video.png)

*Per test sequence: context, truth, then each model's prediction ({', '.join(n for n in rows if n != 'all black')}).*
Animated: [video.gif](video.gif). MSE per horizon: ![MSE per horizon](video_horizon.png)

{training_footer(facts, lines, 'bash benchmarks/video_train.sh', timer)}"""


if __name__ == "__main__":
    sys.exit(main())
