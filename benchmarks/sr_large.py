#!/usr/bin/env python
"""A 4000x3000 photograph mosaic through `gankit upscale` (x4 -> 16000x12000): wall time, peak memory, seams.

The input is a mosaic of the Set14 and BSD100 HR photographs (real texture across every tile seam). The
command runs as a child process, its peak resident memory read from getrusage. Seams: a 400x400 LR
window around the first crossing of tile seams is upscaled untiled, and its interior compared with the
same pixels of the tiled output (uint8 levels; 0 = identical). The picture: the tiled output around the
crossing | the untiled output | |difference| x 20.

    .venv/bin/python benchmarks/sr_large.py --run runs/sr/srresnet --data data/sr
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import RESULTS, Timer, command, log, machine, today, write_result  # noqa: E402

import gankit  # noqa: E402
from gankit.models import UPSCALE_OVERLAP, UPSCALE_TILE  # noqa: E402

W, H = 4000, 3000
WINDOW, MARGIN = 400, 100  # the untiled LR window around the seam crossing, and its border left out
VIEW = 384  # HR pixels shown around the crossing

Image.MAX_IMAGE_PIXELS = None  # the 16000x12000 output is ours


def mosaic(data: Path, path: Path) -> np.ndarray:
    """Fill H x W with the RGB photographs of Set14 and BSD100, row by row, and save it as a PNG."""
    canvas = np.zeros((H, W, 3), np.uint8)
    files = sorted(p for s in ("Set14", "BSD100") for p in (data / s).iterdir() if p.suffix.lower() == ".png")
    photos = [a for a in (np.asarray(Image.open(p)) for p in files) if a.ndim == 3 and a.shape[2] == 3]
    y = x = row_h = k = 0
    while y < H:
        a = photos[k % len(photos)]
        k += 1
        h, w = min(a.shape[0], H - y), min(a.shape[1], W - x)
        canvas[y:y + h, x:x + w] = a[:h, :w]
        row_h, x = max(row_h, h), x + w
        if x >= W:
            y, x, row_h = y + row_h, 0, 0
    Image.fromarray(canvas).save(path)
    return canvas


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--run", default="runs/sr/srresnet")
    p.add_argument("--data", default="data/sr", help="folder holding Set14/ and BSD100/")
    p.add_argument("--out", default="sr_large.md")
    p.add_argument("--work", help="folder for the 4000x3000 input and its output (default: a temporary one)")
    args = p.parse_args()
    timer = Timer()
    work = Path(args.work or tempfile.mkdtemp(prefix="sr_large_"))
    (work / "out").mkdir(parents=True, exist_ok=True)
    lr = mosaic(Path(args.data), work / "mosaic.png")
    cmd = [sys.executable, "-m", "gankit", "upscale", args.run, str(work / "mosaic.png"), "--out", str(work / "out")]
    log(" ".join(cmd))
    t = Timer()
    subprocess.run(cmd, check=True)
    wall = t.s
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # kB on Linux
    out = np.asarray(Image.open(work / "out" / "mosaic.png"))
    scale = out.shape[0] // H
    log(f"upscaled {W}x{H} -> {out.shape[1]}x{out.shape[0]} in {wall:.0f} s, peak RSS {peak_gb:.2f} GB")

    # the first crossing of seams: tiles start every tile - overlap, so the blend band is [stride, tile)
    stride = UPSCALE_TILE - UPSCALE_OVERLAP
    centre = (stride + UPSCALE_TILE) // 2
    y0 = x0 = centre - WINDOW // 2
    window = torch.from_numpy(lr[y0:y0 + WINDOW, x0:x0 + WINDOW].copy()).permute(2, 0, 1).float() / 127.5 - 1
    model = gankit.load(args.run)
    untiled = model.upscale(window, tile=WINDOW)  # one tile: no seams
    untiled = ((untiled.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    inner = slice(MARGIN * scale, (WINDOW - MARGIN) * scale)
    tiled = out[y0 * scale:(y0 + WINDOW) * scale, x0 * scale:(x0 + WINDOW) * scale]
    diff = np.abs(tiled[inner, inner].astype(int) - untiled[inner, inner].astype(int))
    mse = float(np.mean(diff.astype(float) ** 2))
    psnr = float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)
    log(f"tiled vs untiled around the seam crossing: max |diff| {diff.max()} levels, mean {diff.mean():.4f}, "
        f"PSNR {psnr:.1f} dB")

    c = (centre - y0) * scale - VIEW // 2
    view = slice(c, c + VIEW)
    strip = np.concatenate([tiled[view, view], untiled[view, view],
                            np.clip(np.abs(tiled[view, view].astype(int) - untiled[view, view]) * 20, 0, 255)
                            .astype(np.uint8)], axis=1)
    Image.fromarray(strip).save(RESULTS / "sr_large_seam.png")
    write_result(args.out, f"""# A {W}x{H} image through `gankit upscale` (x{scale})

| input | output | wall | peak memory (RSS) | tiles (LR px) | tiled vs untiled at a seam crossing |
|---|---|---|---|---|---|
| {W}x{H} mosaic of Set14 + BSD100 photographs | {out.shape[1]}x{out.shape[0]} PNG | {wall / 60:.1f} min | {peak_gb:.2f} GB | {UPSCALE_TILE}, overlap {UPSCALE_OVERLAP} | max {diff.max()} / mean {diff.mean():.4f} uint8 levels (PSNR {psnr:.1f} dB) |

- Model: `{args.run}` ({model.net.config}, step {model.step}); fp32 on the CPU.
- Seams: the {WINDOW}x{WINDOW} LR window centred on the first crossing of the blend bands (LR {centre}, {centre})
  upscaled in one piece, against the tiled output; the {MARGIN}-px LR border of the window is left out (there
  the untiled run sees zero padding instead of the neighbouring pixels).
- Wall time and memory are the whole `gankit upscale` command's (reading, tiling, writing the PNG).

![tiled | untiled | |difference| x 20](sr_large_seam.png)

*{VIEW}x{VIEW} HR pixels centred on the seam crossing: tiled output | untiled output | |difference| x 20.*

## Commands, machine, time

- benchmark: `{command()}`
- date: {today()}
- machine: {machine()}
- wall time: {timer}
""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
