"""What the image verbs (`gankit translate`, `gankit upscale`) share: finding every input image, checking
all of them before anything is written, and writing each output atomically.

Inputs are image files or folders (searched recursively); every image is processed (no cap) and written
as DIR/<name>.png (a folder's images keep their relative paths).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, List, Tuple

import torch

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
                              "write them into different --out folders")
        names[name] = src
    return found


def check_image(path: Path, least: int = 1) -> None:
    """A one-line error unless `path` is an image PIL can open with at least `least` x `least` pixels."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.verify()
            width, height = im.size
    except Exception as err:  # PIL raises many types for files that are not images
        raise ConfigError(f"cannot read image '{path}' ({type(err).__name__}: {' '.join(str(err).split())[:120]}); "
                          "pass image files (png, jpg, ...)") from None
    if width < least or height < least:
        raise ConfigError(f"image '{path}' is {width}x{height} px; an image needs at least {least}x{least} pixels")


def process(todo: List[Tuple[Path, Path]], out: Path, fn: Callable[[torch.Tensor], torch.Tensor], read, verb: str,
            quiet: bool, least: int = 1) -> None:
    """`fn(read(file))` for every (file, name) of `todo`, written atomically as out/name (PNG); every input is
    checked to be an image of at least `least` x `least` pixels first."""
    from .cli import check_writable, writing
    from .monitor.images import png_bytes, replacing, to_uint8

    for src, _ in todo:
        check_image(src, least)
    check_writable(out, folder=True)
    for i, (src, name) in enumerate(todo, 1):
        y = fn(read(src).float().div(127.5).sub(1))
        target = out / name
        with writing(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            with replacing(target, sync=False) as fh:
                fh.write(png_bytes(to_uint8(y.unsqueeze(0))[0]))
        if not quiet:
            print(f"gankit {verb}: {i}/{len(todo)} {src} -> {target}", file=sys.stderr, flush=True)


def add_image_arguments(parser, tile: int, overlap: int) -> None:
    """The arguments every image verb takes: RUN, INPUT..., --out, --tile, --overlap, --device, --quiet."""
    parser.add_argument("run", metavar="RUN_DIR|CHECKPOINT")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs (one PNG per input)")
    parser.add_argument("--tile", type=int, default=tile, help="images larger than this go through overlapping tiles")
    parser.add_argument("--overlap", type=int, default=overlap, help="overlap of neighbouring tiles (blended)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--quiet", action="store_true")


def check_tiles(args) -> None:
    if args.tile <= args.overlap:
        raise ConfigError(f"--tile ({args.tile}) must be larger than --overlap ({args.overlap})")
