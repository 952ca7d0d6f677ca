#!/usr/bin/env python
"""Benchmark: MNIST FID / KID / precision-recall of a trained run, and the check against torch-fidelity's CLI.

    .venv/bin/python benchmarks/fid_mnist.py --run RUN_DIR [--n 10000] [--work DIR] [--trained "how"] [--no-cli]

Protocol (Lucic et al. 2018, REFERENCES.md §3): real images from the MNIST **test** split, n
generated images (seed 0), grayscale tiled to 3 channels, Inception 2015-12-05 pool3 features
through torch-fidelity (its TF1 bilinear resize to 299), weights from /work/shared/data/inception.
Steps: (1) the generated images written with `gankit sample RUN -n N --out DIR/` and the real
images written as PNG; (2) torch-fidelity's own `fidelity --fid --kid --prc` on those two folders,
in a subprocess, while (3) `gankit.metrics.evaluate` scores the run (what `gankit eval` prints);
(4) our numbers go into benchmarks/results/fid_mnist.md, and both sets with their relative
difference into benchmarks/results/fid_agreement.md. `--no-cli` skips (1)-(2) and the agreement file
(the CLI doubles the Inception work, which at 10k per side costs tens of minutes on 2 CPU cores).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import INCEPTION, MNIST_DIR, Timer, command, log, machine, today, write_result  # noqa: E402

from gankit.checkpoint import atomic_write_bytes  # noqa: E402
from gankit.cli import main as gankit_main  # noqa: E402
from gankit.metrics.evaluate import RunSource, evaluate, load_image_folder  # noqa: E402
from gankit.monitor.images import png_bytes  # noqa: E402

ANCHORS = [("NS GAN", "6.8", "V"), ("WGAN", "6.7", "R"), ("WGAN-GP", "20.3", "V"), ("BEGAN", "13.1", "V"),
           ("MM GAN", "9.8", "R"), ("LSGAN", "7.8", "R")]


def export(run: str, n: int, work: Path) -> tuple:
    """PNG folders of the generated (via `gankit sample`) and real images that evaluate used."""
    fake_dir, real_dir = work / "fake", work / "real"
    assert gankit_main(["sample", run, "-n", str(n), "--out", f"{fake_dir}/", "--seed", "0"]) == 0
    src = RunSource(run, data_dir=str(MNIST_DIR))
    fake, _ = src.fake(n, seed=0)
    if not (load_image_folder(fake_dir).expand(-1, fake.shape[1], -1, -1) == fake).all():
        raise SystemExit("gankit sample PNGs differ from the images evaluate scored")
    real_dir.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(src.real(n).images.permute(0, 2, 3, 1).numpy()):
        atomic_write_bytes(real_dir / f"{i:06d}.png", png_bytes(img))
    return fake_dir, real_dir


def live_bn_copy(run: str, work: Path) -> Path:
    """A copy of the run's latest checkpoint whose EMA generator carries the live G's BatchNorm statistics
    instead of its own standing statistics: what gankit sampled with before the EMA fix (issue 9)."""
    from safetensors.torch import load_file, save_file

    from gankit.checkpoint import MODEL_FILE, STATE_JSON, resolve_checkpoint

    src, out = resolve_checkpoint(run), work / "ema-with-live-bn"
    out.mkdir(parents=True, exist_ok=True)
    flat = load_file(str(src / MODEL_FILE))
    for key in [k for k in flat if k.startswith("G_ema.") and ("running_" in k or "num_batches" in k)]:
        flat[key] = flat["G." + key[len("G_ema."):]].clone()
    save_file(flat, str(out / MODEL_FILE))
    (out / STATE_JSON).write_text((src / STATE_JSON).read_text())
    return out


def start_fidelity(fake_dir: Path, real_dir: Path, n: int) -> tuple:
    """Launch torch-fidelity's CLI on the two folders (it runs while gankit evaluates)."""
    cmd = [str(Path(sys.executable).parent / "fidelity"), "--cpu", "--fid", "--kid", "--prc", "--json", "--no-cache",
           "--input1", str(fake_dir), "--input2", str(real_dir), "--kid-subset-size", str(min(1000, n)),
           "--feature-extractor", "inception-v3-compat",  # its PRC default is VGG16; use Inception for all
           "--feature-extractor-weights-path", str(INCEPTION)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, " ".join(cmd), Timer()


def finish_fidelity(proc) -> dict:
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"fidelity failed:\n{err[-3000:]}")
    return json.loads(out[out.index("{"):])


def relative(a: float, b: float) -> str:
    if b == 0:
        return "0 % (both 0)" if a == 0 else f"n/a (absolute {abs(a - b):.3g})"
    return f"{100 * abs(a - b) / abs(b):.2g} %"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--work", default="/tmp/gankit-fid-mnist", help="where the PNG folders go")
    p.add_argument("--label", default="mnist-dcgan", help="short name of the run for the table")
    p.add_argument("--trained", default="", help="how the run was trained (the command), for the results file")
    p.add_argument("--no-cli", action="store_true", help="skip the torch-fidelity CLI agreement check")
    p.add_argument("--live-bn", action="store_true",
                   help="also score the same EMA weights with the live G's BatchNorm statistics (the pre-fix behaviour)")
    args = p.parse_args()
    work = Path(args.work)
    total = Timer()

    proc = None
    if not args.no_cli:
        log("writing PNG folders")
        fake_dir, real_dir = export(args.run, args.n, work)
        log("torch-fidelity CLI started")
        proc, ref_cmd, t_ref = start_fidelity(fake_dir, real_dir, args.n)
    log(f"gankit evaluate: {args.run}, n={args.n}")
    t_eval = Timer()
    res = {r.name: r for r in evaluate(args.run, "fid,kid,pr", args.n, inception_weights=str(INCEPTION),
                                       data_dir=str(MNIST_DIR), cache=args.live_bn, log=log)}
    t_eval_s = str(t_eval)
    ours = {k: float(v) for k, v in {"FID": res["fid"].values["value"], "KID mean": res["kid"].values["mean"],
            "precision": res["pr"].values["precision"], "recall": res["pr"].values["recall"]}.items()}
    lines = "\n".join(r.line() for r in res.values())
    live = None
    if args.live_bn:
        log("the same EMA weights with the live G's BatchNorm statistics (real features cached)")
        t_live = Timer()
        live = {r.name: r for r in evaluate(str(live_bn_copy(args.run, work)), "fid,kid,pr", args.n,
                                            inception_weights=str(INCEPTION), data_dir=str(MNIST_DIR), log=log)}
        t_eval_s += f"; the live-BN comparison {t_live}"
        for r in live.values():
            print(r.line(), flush=True)
    for r in res.values():
        print(r.line(), flush=True)
    proto = res["fid"].protocol
    rate = 2 * args.n / t_eval.s  # real + generated images through Inception
    anchors = "".join(f"| {m} (Lucic et al. 2018, best, 10k vs 10k) [{tag}] | {v} | 10,000 | 10,000 | test |\n"
                      for m, v, tag in ANCHORS)
    live_row = "" if live is None else (
        f"| same checkpoint, EMA weights with the live G's BatchNorm statistics (before the issue-9 fix) | "
        f"{float(live['fid'].values['value']):.4g} | {proto['n_real']:,} | {proto['n_fake']:,} | {proto['split']} |\n")
    text = f"""# MNIST FID (Lucic et al. protocol)

| Model | FID | n_real | n_fake | split |
|---|---|---|---|---|
{anchors}| **gankit {args.label}** (command below) | **{ours['FID']:.4g}** | {proto['n_real']:,} | {proto['n_fake']:,} | {proto['split']} |
{live_row}
Ours: KID {ours['KID mean']:.4g}, precision {ours['precision']:.3f}, recall {ours['recall']:.3f} (same features).
Protocol of our row: real = MNIST test split ({proto['n_real']:,} images), generated = {proto['n_fake']:,} samples (seed
{proto['seed']}), input {proto['input']}, resize: {proto['resize']}, features: {proto['features']}, weights
`{proto['weights']}` sha256 `{proto['weights_sha256']}` (the converted offline copy, not the official download).
{'' if args.n >= 10_000 else f'''
**Not the full protocol:** n = {args.n:,} instead of 10,000 per side. FID is biased upwards at small n, so this
row is not directly comparable with the table (for scale: the real-vs-real FID of 2,000 MNIST train vs 2,000 test
digits with these weights is 9.54, shared/data/README.md).'''}
Lucic et al. trained 20 epochs with tuned hyperparameters; how ours was trained is below.
The agreement of these numbers with torch-fidelity's own CLI is in `fid_agreement.md`.

`gankit eval` output (the `evaluate` call of this benchmark):

```
{lines}
```

## Commands, machine, time

- benchmark: `{command()}`
- trained with: {args.trained or '(not given)'}
- date: {today()}
- machine: {machine()}
- wall time: gankit evaluate {t_eval_s} ({rate:.1f} images/s through Inception, real features not cached);
  whole benchmark {total}
"""
    write_result("fid_mnist.md", text)
    if proc is not None:
        write_agreement(args, proc, ref_cmd, t_ref, ours, t_eval_s, fake_dir, proto, total)


def write_agreement(args, proc, ref_cmd: str, t_ref, ours: dict, t_eval_s: str, fake_dir, proto, total) -> None:
    ref = finish_fidelity(proc)
    t_ref_s = str(t_ref)
    log(json.dumps(ref))
    theirs = {"FID": ref["frechet_inception_distance"], "KID mean": ref["kernel_inception_distance_mean"],
              "precision": ref["precision"], "recall": ref["recall"]}
    rows = "".join(f"| {k} | {ours[k]:.10g} | {theirs[k]:.10g} | {relative(ours[k], theirs[k])} |\n" for k in ours)
    fid_rel = abs(ours["FID"] - theirs["FID"]) / theirs["FID"]
    text = f"""# FID agreement with torch-fidelity's own `fidelity` command (same PNG folders)

Run: `{args.run}` ({args.label}), n = {args.n:,} per side, {proto['split']} split.

| metric | gankit | `fidelity` CLI | relative difference |
|---|---|---|---|
{rows}
FID agreement: {100 * fid_rel:.2g} % ({'within' if fid_rel <= 0.01 else 'OUTSIDE'} the 1 % requirement).
The fake folder was written by `gankit sample {args.run} -n {args.n} --out {fake_dir}/ --seed 0` and checked
pixel-identical to the images `evaluate` scored; the real folder holds the same {proto['n_real']:,} test images as PNG.
gankit runs the network in channels-last memory format (torch-fidelity: contiguous), which changes features by
float32 rounding only.

- benchmark: `{command()}`
- torch-fidelity reference: `{ref_cmd}`
- date: {today()}
- machine: {machine()}
- wall time (the two ran side by side): gankit evaluate {t_eval_s}; torch-fidelity CLI {t_ref_s}; whole benchmark {total}
"""
    write_result("fid_agreement.md", text)


if __name__ == "__main__":
    main()
