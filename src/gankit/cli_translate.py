"""`gankit translate RUN_DIR INPUT... --out DIR`: every input image through a pix2pix / CycleGAN model.

Inputs are image files or folders (searched recursively); every image is translated (no cap), at its
own size, and written as DIR/<name>.png (a folder's images keep their relative paths). All inputs are
checked before anything is written; each output is written atomically.
"""
from __future__ import annotations

from pathlib import Path

from .cli_images import add_image_arguments, check_tiles, collect_inputs, process


def _cmd_translate(args) -> int:
    from .api import select_device
    from .data.translation_common import read_image
    from .models import load_translator

    model = load_translator(args.run, device=select_device(args.device, "--device"))
    if args.direction is not None:
        model._net(args.direction)  # fail now on a direction the model does not have
    check_tiles(args)
    todo = collect_inputs(args.inputs)
    process(todo, Path(args.out), lambda x: model.translate(x, args.direction, tile=args.tile, overlap=args.overlap),
            read_image, "translate", args.quiet)
    print(f"translated {len(todo)} image(s) into {args.out} ({args.direction or model.default})")
    return 0


def add_command(sub) -> None:
    from .models import OVERLAP, TILE

    t = sub.add_parser("translate", help="translate images with a pix2pix or CycleGAN run (any size)")
    add_image_arguments(t, TILE, OVERLAP)
    t.add_argument("--direction", choices=["AtoB", "BtoA"], help="CycleGAN: which generator (default: the "
                                                                  "run's data.direction)")
    t.set_defaults(func=_cmd_translate)
