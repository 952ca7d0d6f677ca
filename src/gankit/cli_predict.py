"""`gankit predict RUN_DIR INPUT --out out.gif [--frames N]`: the frames that follow a clip.

INPUT is a clip: an `.npy` array, an animated GIF or a folder of numbered frames (`gankit.data.frames`).
Its first `--context` frames (default: all) are the context, of which the model reads the last it was
trained on; frames after the context, if any, are the truth shown in the strip. `--frames` may exceed
the trained horizon (the predictions are fed back). Writes out.gif (the predicted frames, at the clip's
size, so it can be fed back in) and out.png (rows: context | truth, if known | prediction), atomically.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .errors import ConfigError


def as_model_channels(clip: torch.Tensor, channels: int, path) -> torch.Tensor:
    """A uint8 (T, C, H, W) clip with the model's channels: RGB frames whose channels are equal count as gray."""
    c = clip.shape[1]
    if c == channels:
        return clip
    if channels == 1 and c == 3 and bool((clip[:, :1] == clip[:, 1:]).all()):
        return clip[:, :1]
    if channels == 3 and c == 1:
        return clip.expand(-1, 3, -1, -1)
    raise ConfigError(f"clip '{path}' has {c}-channel frames but the model predicts {channels}-channel ones: "
                      "convert the clip (gray or RGB) to match")


def _cmd_predict(args) -> int:
    from .api import select_device
    from .cli import check_writable, writing
    from .data.frames import read_clip
    from .data.translation_common import to_float
    from .methods.video import strip_rows
    from .models import load_predictor
    from .monitor.images import gif_bytes, grid_array, png_bytes, replacing

    model = load_predictor(args.run, device=select_device(args.device, "--device"))
    if args.frames is not None and args.frames < 1:
        raise ConfigError(f"--frames must be at least 1, got {args.frames}")
    if not args.fps > 0:
        raise ConfigError(f"--fps must be positive, got {args.fps}: pass e.g. --fps 5")
    out = Path(args.out)
    if out.suffix.lower() != ".gif":
        raise ConfigError(f"--out '{out}' must end in .gif (the strip is written beside it as .png)")
    clip = as_model_channels(read_clip(args.input), model.channels, args.input)
    context_n = len(clip) if args.context is None else args.context
    if not 1 <= context_n <= len(clip):
        raise ConfigError(f"--context {context_n} is invalid for a clip of {len(clip)} frames; use 1..{len(clip)}")
    frames = to_float(clip)
    context, truth = frames[:context_n], frames[context_n:]
    check_writable(out)
    pred = model.predict(context, args.frames)
    shown = context[-model.frames_in:]
    strip = strip_rows(shown[None], truth[None][:, :len(pred)] if len(truth) else None, pred[None])
    with writing(out):
        with replacing(out) as fh:
            fh.write(gif_bytes(pred, fps=args.fps))
        with replacing(out.with_suffix(".png")) as fh:
            fh.write(png_bytes(grid_array(strip, nrow=max(len(shown), len(pred))), scale=2))
    known = f", {min(len(truth), len(pred))} of them against the truth" if len(truth) else ""
    print(f"predicted {len(pred)} frames from {len(shown)} context frames{known}: {out} and "
          f"{out.with_suffix('.png')}")
    return 0


def add_command(sub) -> None:
    p = sub.add_parser("predict", help="predict the frames after a clip with a video-prediction run")
    p.add_argument("run", metavar="RUN_DIR|CHECKPOINT")
    p.add_argument("input", metavar="INPUT", help="a clip: .npy, animated .gif or a folder of numbered frames")
    p.add_argument("--out", required=True, metavar="OUT.gif", help="the predicted frames (and OUT.png, the strip)")
    p.add_argument("--frames", type=int, help="frames to predict (default: the trained horizon; more roll out)")
    p.add_argument("--context", type=int, help="the first K frames are the context, the rest the truth "
                                               "(default: all frames are context)")
    p.add_argument("--fps", type=float, default=5.0, help="frames per second of the GIF")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.set_defaults(func=_cmd_predict)
