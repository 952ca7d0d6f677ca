#!/usr/bin/env python
"""Super-resolution x4 on Set5, Set14 and BSD100: bicubic, ESPCN, SRResNet, SRGAN in one table.

The models are trained from their presets (sr-espcn, sr-srresnet, sr-srgan from the SRResNet run) by
benchmarks/sr_train.sh into runs/sr/, one after the other on this machine, and scored here with
`gankit.metrics.sr` (the code behind `gankit eval` and the in-training evaluation): HR cropped to a
multiple of 4, LR by MATLAB-style bicubic imresize, PSNR/SSIM on the BT.601 Y channel and on RGB with a
4-pixel border. The perceptual figure is FID/KID between the non-overlapping 96-px patches of the BSD100
HR images and the same patches of each model's outputs (offline Inception features). Training speed:
steps x batch / wall seconds of the whole `gankit train` command, model FLOPs per step counted with
FlopCounterMode, MFU against the measured matmul peak. The picture: crops of bicubic | SRResNet | SRGAN | HR.

    .venv/bin/python benchmarks/sr.py --runs runs/sr --data data/sr --peak-gflops 197.9 --peak-bf16-gflops 404.2
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import (INCEPTION, RESULTS, Timer, add_mfu, log, machine, peaks, read_times,  # noqa: E402
                         speed_cells, training_facts, training_footer, write_result)

import gankit  # noqa: E402
from gankit.data.resize import imresize  # noqa: E402
from gankit.data.sr import sr  # noqa: E402
from gankit.metrics.inception import InceptionFeatures  # noqa: E402
from gankit.metrics.sr import sr_results  # noqa: E402
from gankit.monitor.images import save_grid  # noqa: E402

RUNS = {"ESPCN": ("espcn", "sr-espcn", []), "SRResNet": ("srresnet", "sr-srresnet", []),
        "SRGAN": ("srgan", "sr-srgan", ["sr.init_from=runs/sr/srresnet"])}
SETS = ("Set5", "Set14", "BSD100")
PERCEPTUAL_SET = "BSD100"
# Y-PSNR / Y-SSIM, 4-px border (Ledig et al. 2017, Table 2; ESPCN: Shi et al. 2016; the paper's SSIM is daala's)
PUBLISHED = {"bicubic": {"Set5": (28.43, 0.8211), "Set14": (25.99, 0.7486), "BSD100": (25.94, 0.6935)},
             "SRResNet": {"Set5": (32.05, 0.9019), "Set14": (28.49, 0.8184), "BSD100": (27.58, 0.7620)},
             "SRGAN": {"Set5": (29.40, 0.8472), "Set14": (26.02, 0.7397), "BSD100": (25.16, 0.6688)},
             "ESPCN": {"Set5": (30.90, None), "Set14": (27.73, None), "BSD100": (None, None)}}
BASICSR_MSRRESNET_SET5_RGB = 30.25
METRICS = ["psnr_y", "ssim_y", "psnr", "ssim"]
CROPS = (("Set14", "baboon", 120, 140), ("Set14", "comic", 60, 40), ("Set5", "butterfly", 100, 100),
         ("Set5", "bird", 60, 80))  # (set, image, top, left) of 128-px HR crops for the picture
CROP = 128


def bicubic(lr: torch.Tensor) -> torch.Tensor:
    return imresize(lr.double(), scale=4).float().clamp(-1, 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--runs", default="runs/sr")
    p.add_argument("--data", default="data/sr", help="folder holding Set5/, Set14/, BSD100/")
    p.add_argument("--out", default="sr.md")
    p.add_argument("--no-flops", action="store_true")
    p.add_argument("--peak-gflops", type=float, help="the idle fp32 matmul peak for MFU (benchmarks/results/speed.md)")
    p.add_argument("--peak-bf16-gflops", type=float, help="the idle bf16 matmul peak, for the bf16 runs' MFU")
    p.add_argument("--from-json", action="store_true", help="rebuild sr.md from results/sr.json without scoring again")
    args = p.parse_args()
    if args.from_json:
        saved = json.loads((RESULTS / "sr.json").read_text())
        facts = saved["training"]
        add_mfu(facts, peaks(args))
        write_result(args.out, report(saved["rows"], facts, saved["lines"], saved["n"], saved["wall"],
                                      saved["protocols"], saved["machine"]))
        (RESULTS / "sr.json").write_text(json.dumps({**saved, "training": facts}, indent=1, default=str))
        return 0
    timer, runs = Timer(), Path(args.runs)
    models = {name: gankit.load(runs / sub) for name, (sub, _, _) in RUNS.items() if (runs / sub / "checkpoints").is_dir()}
    upscale = {"bicubic": bicubic, **{name: m.upscale for name, m in models.items()}}
    sets = {name: sr(dir=None, test_dir=str(Path(args.data) / name), split="test", scale=4) for name in SETS}
    inception = InceptionFeatures(str(INCEPTION))
    rows, lines = {}, []
    for model, fn in upscale.items():
        rows[model] = {}
        for set_name, data in sets.items():
            t = Timer()
            names = METRICS + (["fid", "kid"] if set_name == PERCEPTUAL_SET else [])
            results = sr_results(fn, data, names, inception if set_name == PERCEPTUAL_SET else None,
                                 protocol={"set": set_name})
            rows[model][set_name] = {r.name: (r.values.get("value") if "value" in r.values else r.values.get("mean"))
                                     for r in results}
            lines += [f"{model} {set_name}: {r.line()}" for r in results]
            log(f"{model} {set_name}: {json.dumps(rows[model][set_name])} ({t})")
    picture(upscale, sets, RESULTS / "sr.png")
    facts = {}
    if not args.no_flops:
        from speed import matmul_peak

        times = read_times(runs / "times.txt")
        for name, (sub, preset, overrides) in RUNS.items():
            if name in models:
                facts[name] = training_facts(runs / sub, preset, overrides, times)
        add_mfu(facts, peaks(args, matmul_peak))
    protocols = {name: m.spec.info.get("lr_kernel") for name, m in models.items()}
    n = {s: len(d) for s, d in sets.items()}
    write_result(args.out, report(rows, facts, lines, n, str(timer), protocols))
    (RESULTS / "sr.json").write_text(json.dumps({"rows": rows, "training": facts, "lines": lines, "n": n,
                                                 "protocols": protocols, "wall": str(timer), "machine": machine()},
                                                indent=1, default=str))
    return 0


@torch.no_grad()
def picture(upscale: dict, sets: dict, path: Path) -> None:
    """Rows: one 128-px HR crop each; columns: bicubic | SRResNet | SRGAN | HR (the models present)."""
    cols = [m for m in ("bicubic", "SRResNet", "SRGAN") if m in upscale]
    cells = []
    for set_name, image, top, left in CROPS:
        data = sets[set_name]
        item = next(i for i in data.items() if i["names"] == [image])
        hr = item["hr"]
        for m in cols:
            out = upscale[m](item["lr"]).float().cpu().clamp(-1, 1)
            cells.append(_rgb(out[0, :, top:top + CROP, left:left + CROP]))
        cells.append(_rgb(hr[0, :, top:top + CROP, left:left + CROP]))
    save_grid(torch.stack(cells), path, nrow=len(cols) + 1)
    log(f"wrote {path} (columns: {' | '.join(cols)} | HR)")


def _rgb(x: torch.Tensor) -> torch.Tensor:
    return x.expand(3, -1, -1) if x.shape[0] == 1 else x


def _cell(v, digits: int) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def reading(rows: dict) -> str:
    """The comparisons the issue asks about, computed from the table."""
    def y(model, s="Set5"):
        return rows.get(model, {}).get(s, {}).get("psnr_y")

    def fid(model):
        return rows.get(model, {}).get(PERCEPTUAL_SET, {}).get("fid")

    out = []
    if y("bicubic") is not None:
        out.append(f"- Bicubic on Set5: {y('bicubic'):.3f} dB against the field's 28.42-28.43 "
                   f"({y('bicubic') - PUBLISHED['bicubic']['Set5'][0]:+.3f} dB): our LR images and metric match "
                   "the literature's.")
    if y("SRResNet") is not None:
        out.append(f"- SRResNet on Set5: {y('SRResNet'):.2f} dB, {y('SRResNet') - y('bicubic'):+.2f} dB over bicubic; "
                   f"the paper's {PUBLISHED['SRResNet']['Set5'][0]} dB took 10^6 updates on a GPU, ESPCN's "
                   f"{PUBLISHED['ESPCN']['Set5'][0]} dB is the stretch goal for an hour on 2 CPU cores.")
    if y("SRGAN") is not None and y("SRResNet") is not None and fid("SRGAN") is not None:
        better = fid("SRGAN") < fid("SRResNet")
        out.append(f"- SRGAN against SRResNet: Set5 PSNR {y('SRGAN') - y('SRResNet'):+.2f} dB (the paper: "
                   f"{PUBLISHED['SRGAN']['Set5'][0] - PUBLISHED['SRResNet']['Set5'][0]:+.2f} dB), patch FID "
                   f"{fid('SRResNet'):.1f} -> {fid('SRGAN'):.1f}: "
                   + ("the adversarial loss trades PSNR for a better perceptual score, as in the paper." if better else
                      "lower PSNR but NOT a better perceptual score here, unlike the paper (see the picture)."))
    return "\n".join(out)


def report(rows: dict, facts: dict, lines: list, n: dict, wall: str, protocols: dict, machine_text: str = "") -> str:
    head = ("| model | " + " | ".join(f"{s} Y-PSNR / SSIM" for s in SETS) + " | Set5 RGB PSNR / SSIM | "
            f"FID / KID ({PERCEPTUAL_SET} 96-px patches) | training wall | images/s | MFU |\n"
            "|---|" + "---|" * (len(SETS) + 5) + "\n")
    body = ""
    for model, per_set in rows.items():
        f = facts.get(model, {})
        ys = " | ".join(f"{_cell(per_set[s]['psnr_y'], 2)} / {_cell(per_set[s]['ssim_y'], 4)}" for s in SETS)
        rgb = f"{_cell(per_set['Set5']['psnr'], 2)} / {_cell(per_set['Set5']['ssim'], 4)}"
        perc = per_set[PERCEPTUAL_SET]
        fid = f"{_cell(perc.get('fid'), 1)} / {_cell(perc.get('kid'), 3)}"
        body += f"| {model} | {ys} | {rgb} | {fid} | {speed_cells(f)} |\n"
    pub_head = ("| published (Y, 4-px border) | " + " | ".join(SETS) + " |\n|---|" + "---|" * len(SETS) + "\n")
    pub = "".join(f"| {m} | " + " | ".join(f"{_cell(v[s][0], 2)} / {_cell(v[s][1], 4)}" for s in SETS) + " |\n"
                  for m, v in PUBLISHED.items())
    return f"""# Super-resolution x4 on Set5, Set14 and BSD100

{head}{body}
Reading the table:

{reading(rows)}

Published figures beside them (SRGAN paper, Ledig et al. 2017, Table 2, SSIM there is daala's; ESPCN: Shi et
al. 2016; BasicSR's MSRResNet: {BASICSR_MSRRESNET_SET5_RGB} dB RGB PSNR on Set5):

{pub_head}{pub}
- Test sets: Set5 ({n['Set5']}), Set14 ({n['Set14']}), BSD100 ({n['BSD100']}) whole images; HR cropped to a multiple
  of 4, LR = {protocols.get('SRResNet') or 'matlab-bicubic'} imresize x1/4 (MATLAB's bicubic: Keys a = -0.5,
  antialiased, symmetric borders, rounded to uint8). Y = BT.601 luma as MATLAB's rgb2ycbcr (unrounded); gray
  images are scored on their own channel; SSIM = Wang et al. 2004 (11x11 Gaussian, sigma 1.5), valid region.
- FID/KID: the non-overlapping 96x96 patches of the {PERCEPTUAL_SET} HR images against the same patches of the
  outputs (torch-fidelity's Inception, resized to 299); n patches in the metric lines.
- Wall time is the whole `gankit train` command's; MFU = model FLOPs per step (FlopCounterMode, forward and
  backward) x steps / wall seconds / the matmul peak of the dtype the run trained in (bf16 runs: the bf16
  peak; {', '.join(f"{k}: {f.get('amp')} at {f.get('peak')} GFLOP/s" for k, f in facts.items() if f.get('peak'))};
  the peaks are the command line's, measured idle on the training machine with benchmarks/speed.py's
  matmul_peak: the faster of torch.mm and a oneDNN 1x1 convolution).

![bicubic | SRResNet | SRGAN | HR](sr.png)

*Rows: 128-px HR crops of Set14 baboon, comic, Set5 butterfly, bird; columns: bicubic | SRResNet | SRGAN | HR.*

{training_footer(facts, lines, 'bash benchmarks/sr_train.sh', wall, machine_text)}"""


if __name__ == "__main__":
    sys.exit(main())
