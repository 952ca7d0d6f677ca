"""`gankit upscale RUN_DIR INPUT... --out DIR`: every input image through a super-resolution model.

Any size (overlapping tiles with blended seams keep memory bounded), gray stays gray, RGBA keeps its
alpha (upscaled bicubically). All inputs are checked before anything is written; each output is written
atomically as DIR/<name>.png.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .cli_images import add_image_arguments, check_tiles, collect_inputs, process

_ALPHA_MODES = {"RGBA", "LA", "PA", "La", "RGBa"}


def read_keeping_alpha(path: Path) -> torch.Tensor:
    """uint8 (C, H, W): C = 2 (gray + alpha) or 4 (RGBA) for images with transparency, else as `read_image`."""
    from PIL import Image, ImageOps

    from .data.translation_common import read_image

    with Image.open(path) as im:
        transparent = im.mode in _ALPHA_MODES or (im.mode == "P" and "transparency" in im.info)
        if not transparent:
            return read_image(path)
        gray = im.mode in ("LA", "La")
        im = ImageOps.exif_transpose(im).convert("LA" if gray else "RGBA")
        return torch.from_numpy(np.array(im, dtype=np.uint8)).permute(2, 0, 1).contiguous()


def _cmd_upscale(args) -> int:
    from .api import select_device
    from .models import load_upscaler

    model = load_upscaler(args.run, device=select_device(args.device, "--device"))
    model.check_scale(args.scale)  # fail now on a scale the model lacks
    check_tiles(args)
    todo = collect_inputs(args.inputs)
    process(todo, Path(args.out), lambda x: model.upscale(x, tile=args.tile, overlap=args.overlap),
            read_keeping_alpha, "upscale", args.quiet, least=2)
    print(f"upscaled {len(todo)} image(s) x{model.scale} into {args.out}")
    return 0


def add_command(sub) -> None:
    from .models import UPSCALE_OVERLAP, UPSCALE_TILE

    u = sub.add_parser("upscale", help="upscale images with a super-resolution run (any size)")
    add_image_arguments(u, UPSCALE_TILE, UPSCALE_OVERLAP)
    u.add_argument("--scale", type=int, help="the factor expected (an error if the run was trained for another)")
    u.set_defaults(func=_cmd_upscale)
