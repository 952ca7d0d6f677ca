#!/usr/bin/env python
"""Training speed of gankit's GAN step, with model FLOPs, MFU and the pytorch/examples DCGAN anchor.

    python benchmarks/speed.py --anchor PATH/TO/pytorch-examples/dcgan/main.py

For each workload (DCGAN 64x64 like pytorch/examples, DCGAN 28x28, the 784-D MLP GAN, the 2-D
MLP GAN) and variant (NCHW eager, channels-last, torch.compile, bf16 autocast), it builds the real
method from a preset (`load_config` -> `dataset_for` -> `build_method`), runs `method.train_step`
on the data set's batch source as the trainer does (scalars gathered once per window), and
reports the median images/s over several timed windows after a warm-up. One step is one D update
and one G update on one batch, so images/s = batch size x steps/s.

Model FLOPs per step are counted with torch.utils.flop_counter.FlopCounterMode over one full
eager step (convolutions and matmuls, forward and backward); achieved GFLOP/s = FLOPs/step x
steps/s, and MFU = achieved / the measured peak of a large square matmul loop on this machine.

The anchor is the official `dcgan/main.py --dataset fake` (64x64, ngf = ndf = 64, batch 64, CPU),
run unmodified as a subprocess in the same benchmark run; its per-iteration log lines are
timestamped as they arrive, and windows of full-batch iterations inside an epoch are timed (the
first iteration of each epoch, which saves an image grid, and the short last batch are left out).
Its code is never copied into this repository: pass the path of a local checkout with --anchor.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import cpu_name, loadavg  # noqa: E402

from gankit.api import dataset_for, select_device  # noqa: E402
from gankit.config import load_config  # noqa: E402
from gankit.data.batches import ChannelsLast  # noqa: E402
from gankit.methods import DataSpec, build_method  # noqa: E402

FAKE_28 = ["data.name=fake", "data.dir=null", "data.size=28", "data.channels=1"]
WORKLOADS = {
    "dcgan64": ("DCGAN 64x64x3 (pytorch/examples config)", "dcgan64", []),
    "dcgan28": ("DCGAN 28x28x1 (mnist-dcgan on fake data)", "mnist-dcgan", FAKE_28 + ["train.batch_size=128"]),
    "mlp784": ("784-D MLP GAN (mnist-mlp on fake data)", "mnist-mlp", FAKE_28 + ["train.batch_size=64"]),
    "mlp2d": ("2-D MLP GAN (ring-gan)", "ring-gan", ["train.batch_size=100"]),
}
IMAGE_VARIANTS = {
    "eager NCHW": ["train.channels_last=false"],
    "channels-last": [],
    "channels-last + compile": ["train.compile=true"],
    "channels-last + bf16": ["train.amp=bf16"],
    "channels-last + bf16 + compile": ["train.amp=bf16", "train.compile=true"],
    "channels-last, 1 thread": ["train.threads=1"],
    "channels-last + bf16, 1 thread": ["train.amp=bf16", "train.threads=1"],
}
MLP_VARIANTS = {"eager": [], "eager, 1 thread": ["train.threads=1"], "compile": ["train.compile=true"],
                "bf16": ["train.amp=bf16"]}
ANCHOR_LINE = re.compile(r"^\[(\d+)/(\d+)\]\[(\d+)/(\d+)\] Loss_D")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bf16_ok(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


# --------------------------------------------------------------------------- matmul peak

def _rate(fn, flops: float, device: torch.device, windows: int, seconds: float) -> list[float]:
    for _ in range(2):
        fn()
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    reps = max(1, int(seconds / max(time.perf_counter() - t, 1e-6)))
    rates = []
    for _ in range(windows):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        sync(device)
        rates.append(flops * reps / (time.perf_counter() - t) / 1e9)
    return rates


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, windows: int, seconds: float) -> dict:
    """The machine's practical dense peak in GFLOP/s: the faster (by median) of two n x n x n GEMM loops,
    `torch.mm` (the BLAS, MKL on x86 CPUs) and, on the CPU, the same GEMM as a channels-last 1x1
    convolution (oneDNN, the library that runs the convolutions; MKL may not take its fastest path
    on every x86 vendor's CPU)."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    c = torch.empty(n, n, device=device, dtype=dtype)
    kernels = {"torch.mm": _rate(lambda: torch.mm(a, b, out=c), 2 * n ** 3, device, windows, seconds)}
    if device.type == "cpu":
        side = 64
        x = torch.randn(1, n, side, n // side, dtype=dtype).contiguous(memory_format=torch.channels_last)
        w = torch.randn(n, n, 1, 1, dtype=dtype).contiguous(memory_format=torch.channels_last)
        conv = lambda: torch.nn.functional.conv2d(x, w)  # noqa: E731
        kernels["1x1 conv (oneDNN)"] = _rate(conv, 2 * n ** 3, device, windows, seconds)
        threads = torch.get_num_threads()
        if threads > 1:  # on a shared machine one thread may outrun several (no waiting for a busy core)
            torch.set_num_threads(1)
            try:
                kernels["torch.mm, 1 thread"] = _rate(lambda: torch.mm(a, b, out=c), 2 * n ** 3, device, windows,
                                                      seconds)
                kernels["1x1 conv (oneDNN), 1 thread"] = _rate(conv, 2 * n ** 3, device, windows, seconds)
            finally:
                torch.set_num_threads(threads)
    out = {k: {"median": statistics.median(r), "min": min(r), "max": max(r)} for k, r in kernels.items()}
    best = max(out, key=lambda k: out[k]["median"])
    return {"median": out[best]["median"], "kernel": best, "n": n, "kernels": out}


# --------------------------------------------------------------------------- gankit workloads

def build(preset: str, overrides: list[str], device: torch.device):
    """The real method, data and batch source of a preset (`train.threads` may change torch's threads)."""
    cfg = load_config(preset=preset, overrides=overrides + [f"train.device={device}"])
    torch.manual_seed(cfg.seed)
    ds = dataset_for(cfg).to(device)
    method = build_method(cfg, DataSpec.from_dataset(ds), device)
    batches = ds.batches(cfg.train.batch_size, cfg.seed)
    if cfg.train.channels_last:
        batches = ChannelsLast(batches)
    method.setup(10 ** 6)
    method.train(True)
    return cfg, method, batches


def conv_backward_flops(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
                        _output_padding, _groups, output_mask, out_shape=None) -> int:
    """A convolution's backward: the forward's FLOPs once for the input's gradient and once for the weight's.
    torch's own formula (2.x) ignores `groups`, so it counts a depthwise convolution's backward as a dense one's
    (64x too much for 64 channels); the forward formula reads the grouped weight shape and is right."""
    return conv_flop_count(x_shape, w_shape, grad_out_shape, transposed) * (int(output_mask[0]) + int(output_mask[1]))


def count_flops(preset: str, overrides: list[str], device: torch.device) -> int:
    """Model FLOPs of one full step (one D and one G update), counted on an eager fp32 step of the GAN phase
    (after a text2image run's contrastive pre-training steps)."""
    threads = torch.get_num_threads()
    try:
        _, method, batches = build(preset, overrides, device)
        start = int(getattr(getattr(method, "opts", None), "pretrain_steps", 0) or 0)
        method.train_step(batches, start)
        with FlopCounterMode(display=False,
                             custom_mapping={torch.ops.aten.convolution_backward: conv_backward_flops}) as counter:
            method.train_step(batches, start + 1)
        return counter.get_total_flops()
    finally:
        torch.set_num_threads(threads)


def time_steps(preset: str, overrides: list[str], device: torch.device, windows: int, seconds: float,
               warmup: int) -> dict:
    """Median images/s over `windows` timed windows of whole steps, after `warmup` steps."""
    threads = torch.get_num_threads()
    try:
        return _time_steps(preset, overrides, device, windows, seconds, warmup)
    finally:
        torch.set_num_threads(threads)


def _time_steps(preset, overrides, device, windows, seconds, warmup) -> dict:
    cfg, method, batches = build(preset, overrides, device)
    batch = cfg.train.batch_size
    step = 0
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(warmup):  # includes compilation for the compile variants
            method.train_step(batches, step)
            step += 1
        sync(device)
        warm_s = time.perf_counter() - t0
        t = time.perf_counter()
        method.train_step(batches, step)
        step += 1
        sync(device)
        per_step = time.perf_counter() - t
        k = max(1, int(round(seconds / max(per_step, 1e-6))))
        rates = []
        for _ in range(windows):
            t = time.perf_counter()
            pending = []
            for _ in range(k):
                pending.append(method.train_step(batches, step))
                step += 1
            torch.stack([p["loss_g"].float() for p in pending]).cpu()  # the trainer's one sync per log window
            sync(device)
            rates.append(batch * k / (time.perf_counter() - t))
    notes = sorted({str(w.message).splitlines()[0][:120] for w in caught if "compile" in str(w.message)})
    if cfg.train.compile and not method.compiled:
        notes.append("compile fell back to eager")
    return {"batch": batch, "median": statistics.median(rates), "min": min(rates), "max": max(rates),
            "steps_per_window": k, "warmup_s": warm_s, "notes": notes, "threads": torch.get_num_threads()}


# --------------------------------------------------------------------------- the anchor

ANCHOR_RUNNER = r"""
import runpy, sys
path = sys.argv[1]
sys.argv = [path] + sys.argv[2:]
g = runpy.run_path(path, run_name="__main__")
count = lambda net: sum(p.numel() for p in net.parameters())
print("ANCHOR_PARAMS G %d D %d" % (count(g["netG"]), count(g["netD"])), flush=True)
"""


def run_anchor(path: str, epochs: int, workers: int, window: int, log, threads: int | None = None,
               accel: bool = False) -> dict:
    """Run pytorch/examples dcgan/main.py --dataset fake; time windows of full-batch iterations.

    `threads` sets OMP_NUM_THREADS for it (None: torch's default, as for a plain run); `accel` passes
    its `--accel` flag (the GPU)."""
    with tempfile.TemporaryDirectory(prefix="dcgan-anchor-") as out:
        args = ["--dataset", "fake", "--niter", str(epochs), "--workers", str(workers), "--batchSize", "64",
                "--imageSize", "64", "--nz", "100", "--ngf", "64", "--ndf", "64", "--lr", "0.0002",
                "--beta1", "0.5"] + (["--accel"] if accel else []) + ["--outf", out, "--manualSeed", "1"]
        cmd = [sys.executable, "-u", "-c", ANCHOR_RUNNER, str(Path(path).resolve())] + args
        env = dict(os.environ)
        if threads:
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
        proc = subprocess.Popen(cmd, cwd=out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                env=env)
        stamps, params, tail = {}, None, []
        for line in proc.stdout:
            now = time.perf_counter()
            tail = (tail + [line.rstrip()])[-20:]
            m = ANCHOR_LINE.match(line)
            if m:
                epoch, _, i, n_iter = map(int, m.groups())
                stamps[(epoch, i)] = now
            elif line.startswith("ANCHOR_PARAMS"):
                parts = line.split()
                params = (int(parts[2]), int(parts[4]))
        if proc.wait() != 0:
            raise RuntimeError("the anchor failed:\n" + "\n".join(tail))
    # iterations 1..n_iter-2 hold full batches (the last one is short); line i is printed after iteration i
    rates = []
    for epoch in range(epochs):
        start = 1
        while start + window <= n_iter - 2:
            a, b = stamps.get((epoch, start)), stamps.get((epoch, start + window))
            if a is not None and b is not None:
                rates.append(64 * window / (b - a))
            start += window
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "windows": len(rates),
            "iters_per_window": window, "params": params, "workers": workers, "epochs": epochs,
            "args": " ".join(args[:-4])}


# --------------------------------------------------------------------------- report

def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--anchor", help="path of pytorch/examples dcgan/main.py (omit to skip the anchor)")
    ap.add_argument("--anchor-ref", default="", help="where the anchor came from, for the report "
                    "(e.g. pytorch/examples@77f55b9 dcgan/main.py)")
    ap.add_argument("--anchor-epochs", type=int, default=2, help="epochs of its 1,000 fake images per round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of ours-then-theirs for the ratio")
    ap.add_argument("--anchor-threads", type=int, nargs="+", default=[0],
                    help="thread counts for the side-by-side rounds (0: torch's default)")
    ap.add_argument("--anchor-workers", type=int, nargs="+", default=[2, 0],
                    help="DataLoader workers to run it with (its default is 2)")
    ap.add_argument("--anchor-window", type=int, default=6, help="iterations per timed anchor window")
    ap.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    ap.add_argument("--variants", nargs="+", default=None,
                    help="variant names to run (default: all that apply on this device)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    ap.add_argument("--windows", type=int, default=5, help="timed windows per measurement (the median is reported)")
    ap.add_argument("--seconds", type=float, default=3.0, help="target length of one timed window")
    ap.add_argument("--warmup", type=int, default=3, help="warm-up steps (compile variants: at least 4)")
    ap.add_argument("--peak-n", type=int, default=4096, help="side of the square matmul for the peak")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "speed.md"))
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    started = datetime.datetime.now()
    lines_out: list[str] = []

    def log(msg: str) -> None:
        print(msg, flush=True)

    log(f"gankit speed benchmark on {device}; torch {torch.__version__}, {torch.get_num_threads()} threads, load {loadavg(2)}")
    use_bf16 = bf16_ok(device)
    peak_runs: list[dict] = []

    def measure_peaks(when: str) -> dict:
        run = {"when": when, "load": loadavg(2)}
        for name, dtype in [("fp32", torch.float32)] + ([("bf16", torch.bfloat16)] if use_bf16 else []):
            run[name] = matmul_peak(device, dtype, args.peak_n, args.windows, args.seconds)
            log(f"  matmul peak {name} ({when}): {fmt(run[name]['median'])} GFLOP/s ({run[name]['kernel']})")
        peak_runs.append(run)
        # the peak is the best of the runs so far (load on a shared machine only lowers it)
        return {k: max(r[k]["median"] for r in peak_runs) for k in ("fp32", "bf16") if k in run}

    peaks = measure_peaks("start")

    rows, flops_of = [], {}

    def measure(key: str, name: str, when: str = "") -> dict:
        title, preset, base = WORKLOADS[key]
        variants = IMAGE_VARIANTS if key.startswith("dcgan") else MLP_VARIANTS
        if key not in flops_of:
            flops_of[key] = count_flops(preset, base, device)
        flops = flops_of[key]
        load_before = loadavg(2)
        warmup = max(args.warmup, 4) if "compile" in name else args.warmup
        r = time_steps(preset, base + variants[name], device, args.windows, args.seconds, warmup)
        achieved = flops * r["median"] / r["batch"] / 1e9
        peak = peaks["bf16" if "bf16" in name else "fp32"]
        row = {"key": key, "title": title, "variant": name + when, "base_variant": name, "flops": flops,
               "achieved": achieved, "mfu": achieved / peak, "load": f"{load_before}/{loadavg(2)}", **r}
        rows.append(row)
        log(f"  {key:8s} {name + when:34s} {fmt(r['median']):>10s} img/s  (min {fmt(r['min'])}, max {fmt(r['max'])}; "
            f"{fmt(flops / 1e9, 2)} GFLOP/step, {fmt(achieved)} GFLOP/s, MFU {100 * achieved / peak:.0f} %)"
            + (f"  [{'; '.join(r['notes'])}]" if r["notes"] else ""))
        return row

    for key in args.workloads:
        for name in (IMAGE_VARIANTS if key.startswith("dcgan") else MLP_VARIANTS):
            if args.variants and name not in args.variants:
                continue
            if "bf16" in name and not use_bf16:
                continue
            measure(key, name)

    # ------------------------------------------------------------------ the anchor, interleaved with ours
    # The machine may be shared: each round times ours and theirs back to back, so both see the same load,
    # and the ratio is taken per round (then the median over rounds).
    rounds = []
    if args.anchor:
        ours_variants = ["channels-last"] + (["channels-last + bf16"] if use_bf16 else [])
        if device.type == "cuda" and use_bf16:
            ours_variants.append("channels-last + bf16 + compile")
        _, preset, base = WORKLOADS["dcgan64"]
        for threads in args.anchor_threads:
            for i in range(args.rounds):
                rnd = {"threads": threads or torch.get_num_threads(), "round": i + 1, "ours": {}, "theirs": {},
                       "load": [loadavg(2)]}
                default_threads = torch.get_num_threads()
                for name in ours_variants:
                    if threads:
                        torch.set_num_threads(threads)
                    try:
                        r = time_steps(preset, base + IMAGE_VARIANTS[name], device, args.windows, args.seconds,
                                       args.warmup)
                    finally:
                        torch.set_num_threads(default_threads)
                    rnd["ours"][name] = r["median"]
                    log(f"  round {i + 1} ({rnd['threads']} threads) ours {name}: {fmt(r['median'])} img/s")
                for workers in args.anchor_workers:
                    a = run_anchor(args.anchor, args.anchor_epochs, workers, args.anchor_window, log, threads,
                                   accel=device.type == "cuda")
                    rnd["theirs"][workers] = a
                    log(f"  round {i + 1} ({rnd['threads']} threads) anchor workers={workers}: {fmt(a['median'])} "
                        f"img/s (min {fmt(a['min'])}, max {fmt(a['max'])}; {a['windows']} windows; "
                        f"params G {a['params'][0]:,} D {a['params'][1]:,})")
                rnd["load"].append(loadavg(2))
                rounds.append(rnd)

    peaks = measure_peaks("end")
    for r in rows:  # MFU against the final peak
        r["mfu"] = r["achieved"] / peaks["bf16" if "bf16" in r["base_variant"] else "fp32"]

    # ------------------------------------------------------------------ markdown
    cpu = cpu_name()
    if device.type == "cuda":
        cpu = f"{torch.cuda.get_device_name(device)} (host CPU: {cpu})"
    cmd = "python benchmarks/speed.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    w = lines_out.append
    w("# Training speed\n")
    w(f"Command: `{cmd}`  ")
    w(f"Date: {started:%Y-%m-%d %H:%M} (took {(datetime.datetime.now() - started).total_seconds() / 60:.0f} min)  ")
    w(f"Machine: {cpu}, {os.cpu_count()} logical cores, device `{device}`  ")
    w(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads; Python {platform.python_version()}  ")
    env = ", ".join(f"{k}={os.environ[k] if os.environ.get(k) else 'unset'}"
                    for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))
    w(f"Environment (inherited by the anchor): {env}  ")
    w("Load average (1 min): see each row (before/after). Above the core count, other jobs shared the machine and "
      "the row is slower than the machine can do.\n")
    w("Images/s are the median of %d timed windows of about %.0f s each after a warm-up; one step is one D "
      "update and one G update on one batch. FLOPs are model FLOPs (convolutions and matmuls, forward and "
      "backward) of one full step, counted by `torch.utils.flop_counter.FlopCounterMode`; MFU = achieved "
      "GFLOP/s / the measured matmul peak of the same dtype.\n" % (args.windows, args.seconds))
    w("## Matmul peak\n")
    w("Measured at the start and at the end of the run; the peak used for MFU is the best median of a "
      "dtype (%s).\n" % ", ".join(f"{k} {fmt(v)} GFLOP/s" for k, v in peaks.items()))
    w("| when | dtype | kernel (n x n x n GEMM) | n | GFLOP/s (median) | min–max | load |")
    w("|---|---|---|---|---|---|---|")
    for run in peak_runs:
        for k in peaks:
            p = run[k]
            for kernel, r in p["kernels"].items():
                w(f"| {run['when']} | {k} | {kernel} | {p['n']} | {fmt(r['median'])} | "
                  f"{fmt(r['min'])}–{fmt(r['max'])} | {run['load']} |")
    w("\n## gankit\n")
    w("| workload | variant | batch | threads | images/s (median) | min–max | GFLOP/step | GFLOP/s | MFU | load before/after |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        note = f" ({'; '.join(r['notes'])})" if r["notes"] else ""
        w(f"| {r['title']} | {r['variant']}{note} | {r['batch']} | {r['threads']} | **{fmt(r['median'])}** | {fmt(r['min'])}–{fmt(r['max'])} "
          f"| {fmt(r['flops'] / 1e9, 2)} | {fmt(r['achieved'])} | {100 * r['mfu']:.0f} % | {r['load']} |")
    if rounds:
        a0 = next(iter(rounds[0]["theirs"].values()))
        pg, pd = a0["params"] or (0, 0)
        w("\n## Anchor: pytorch/examples `dcgan/main.py --dataset fake`, side by side\n")
        ref = f" ({args.anchor_ref})" if args.anchor_ref else ""
        w(f"Theirs: `python main.py {a0['args']}` ({'GPU' if device.type == 'cuda' else 'CPU'}; their default DataLoader workers are 2), unmodified, "
          f"from a local checkout{ref}; parameters counted in that run: G {pg:,}, D {pd:,} (ours: the `dcgan64` "
          f"preset, the same counts). Each of their figures is the median of {a0['windows']} windows of "
          f"{a0['iters_per_window']} full-batch iterations over {a0['epochs']} epoch(s) of FakeData's 1,000 "
          "images. Each round times ours, then theirs, back to back; a round's ratio is ours / their faster "
          "setting.\n")
        names = list(rounds[0]["ours"])
        workers = list(rounds[0]["theirs"])
        w("| threads | round | " + " | ".join(f"ours {n}" for n in names) + " | "
          + " | ".join(f"theirs, workers={k}" for k in workers) + " | "
          + " | ".join(f"ratio {n}" for n in names) + " | load before/after |")
        w("|---" * (3 + len(names) * 2 + len(workers)) + "|")
        for rnd in rounds:
            best = max(a["median"] for a in rnd["theirs"].values())
            rnd["ratio"] = {n: rnd["ours"][n] / best for n in names}
            w(f"| {rnd['threads']} | {rnd['round']} | " + " | ".join(fmt(rnd["ours"][n]) for n in names) + " | "
              + " | ".join(fmt(rnd["theirs"][k]["median"]) for k in workers) + " | "
              + " | ".join(f"{rnd['ratio'][n]:.2f}x" for n in names) + f" | {'/'.join(rnd['load'])} |")
        w("\nThe two loops do the same math: the same networks, BCE on D(x) and D(G(z)) with separate "
          "BatchNorm batches for real and fake, Adam(2e-4, betas 0.5/0.999), batch 64, G(z) reused for the G "
          "update. Theirs also draws every batch from torchvision's FakeData through a DataLoader (random PIL "
          "images and ToTensor), computes D's weight gradients in the G update (thrown away by the next "
          "zero_grad), reads five scalars with .item() per iteration and writes an image grid every 100 "
          "iterations (outside the timed windows). Ours keeps the data as one tensor, freezes D during the G "
          "update, runs channels-last with fused Adam, and gathers its scalars once per window.\n")
        w("\n**Ratio ours / theirs** (median over rounds):\n")
        for threads in dict.fromkeys(r["threads"] for r in rounds):
            sel = [r for r in rounds if r["threads"] == threads]
            parts = [f"{n}: **{statistics.median(r['ratio'][n] for r in sel):.2f}x**" for n in names]
            w(f"- {threads} thread(s), {len(sel)} round(s): " + "; ".join(parts))
    text = "\n".join(lines_out) + "\n"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
