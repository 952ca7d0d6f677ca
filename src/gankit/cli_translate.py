"""`gankit translate RUN_DIR INPUT... --out DIR`: every input image through a pix2pix / CycleGAN model.

Inputs are image files or folders (searched recursively); every image is translated (no cap), at its
own size, and written as DIR/<name>.png (a folder's images keep their relative paths). All inputs are
checked before anything is written; each output is written atomically.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Tuple

from .errors import ConfigError


def collect_inputs(inputs: List[str]) -> List[Tuple[Path, Path]]:
    """(input file, output name relative to --out) for every image named or under a named folder."""
    from .data.folder import EXTENSIONS

    found = []
    for text in inputs:
        path = Path(text).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not files:
                raise ConfigError(f"no images in folder '{path}' (looked for {', '.join(EXTENSIONS)}); "
                                  "pass image files or a folder that holds some")
            found += [(p, p.relative_to(path).with_suffix(".png")) for p in files]
        elif path.is_file():
            found.append((path, Path(path.stem + ".png")))
        else:
            raise ConfigError(f"input '{path}' does not exist; pass image files or folders")
    names = {}
    for src, name in found:
        if name in names:
            raise ConfigError(f"inputs '{names[name]}' and '{src}' would both be written as '{name}'; "
                              "translate them into different --out folders")
        names[name] = src
    return found


def check_image(path: Path) -> None:
    """A one-line error unless `path` is an image PIL can open with at least 1x1 pixels."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.verify()
            width, height = im.size
    except Exception as err:  # PIL raises many types for files that are not images
        raise ConfigError(f"cannot read image '{path}' ({type(err).__name__}: {' '.join(str(err).split())[:120]}); "
                          "pass image files (png, jpg, ...)") from None
    if width < 1 or height < 1:
        raise ConfigError(f"image '{path}' is {width}x{height} px; an image to translate needs at least 1x1")


def _cmd_translate(args) -> int:
    from .api import select_device
    from .cli import check_writable, writing
    from .data.translation_common import read_image
    from .monitor.images import png_bytes, replacing, to_uint8
    from .models import load_translator

    model = load_translator(args.run, device=select_device(args.device, "--device"))
    if args.direction is not None:
        model._net(args.direction)  # fail now on a direction the model does not have
    if args.tile <= args.overlap:
        raise ConfigError(f"--tile ({args.tile}) must be larger than --overlap ({args.overlap})")
    todo = collect_inputs(args.inputs)
    for src, _ in todo:
        check_image(src)
    out = Path(args.out)
    check_writable(out, folder=True)
    for i, (src, name) in enumerate(todo, 1):
        x = read_image(src).float().div(127.5).sub(1)
        y = model.translate(x, args.direction, tile=args.tile, overlap=args.overlap)
        target = out / name
        with writing(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            with replacing(target, sync=False) as fh:
                fh.write(png_bytes(to_uint8(y.unsqueeze(0))[0]))
        if not args.quiet:
            print(f"gankit translate: {i}/{len(todo)} {src} -> {target}", file=sys.stderr, flush=True)
    print(f"translated {len(todo)} image(s) into {out} ({args.direction or model.default})")
    return 0


def add_command(sub) -> None:
    t = sub.add_parser("translate", help="translate images with a pix2pix or CycleGAN run (any size)")
    t.add_argument("run", metavar="RUN_DIR|CHECKPOINT")
    t.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    t.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs (one PNG per input)")
    t.add_argument("--direction", choices=["AtoB", "BtoA"], help="CycleGAN: which generator (default: the "
                                                                  "run's data.direction)")
    t.add_argument("--tile", type=int, default=512, help="images larger than this go through overlapping tiles")
    t.add_argument("--overlap", type=int, default=64, help="overlap of neighbouring tiles (blended)")
    t.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=_cmd_translate)
