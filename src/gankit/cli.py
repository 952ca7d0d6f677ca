"""`gankit` command line: train | sample | presets | info."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

from .errors import ConfigError, GankitError


def _cmd_train(args) -> int:
    from .api import resume_config, train
    from .config import dump_yaml, load_config

    if args.resume and (args.preset or args.config):
        raise ConfigError("--resume continues a run with its own config; drop --preset/--config (key=value overrides are allowed)")
    if args.resume:
        cfg = resume_config(Path(args.resume), args.overrides)
    else:
        cfg = load_config(preset=args.preset, file=args.config, overrides=args.overrides)
    if args.dry_run:
        print(dump_yaml(cfg), end="")
        return 0
    run_dir = train(cfg, resume=args.resume)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks
        print(f"run finished: {run_dir}")
    return 0


def _cmd_sample(args) -> int:
    import numpy as np

    from .checkpoint import atomic_write_bytes
    from .generator import load_generator
    from .monitor.images import png_bytes, save_grid, save_scatter, to_uint8

    gen = load_generator(args.checkpoint, device=args.device)
    n, out = args.n, Path(args.out)
    y = None
    if args.klass is not None:
        y = args.klass
    elif args.class_grid:
        if not gen.num_classes:
            raise ConfigError("--class-grid needs a conditional model (model.conditional=true)")
        per_row = -(-n // gen.num_classes)
        import torch
        y = torch.arange(gen.num_classes).repeat_interleave(per_row)
        n = len(y)
    x = gen.sample(n, y=y, seed=args.seed).cpu()
    if gen.spec.kind == "points":
        if out.suffix == ".npy":
            buf = __import__("io").BytesIO()
            np.save(buf, x.numpy())
            atomic_write_bytes(out, buf.getvalue())
        elif out.suffix == ".csv":
            atomic_write_bytes(out, ("x,y\n" + "\n".join(f"{a:.6f},{b:.6f}" for a, b in x.tolist()) + "\n").encode())
        elif out.suffix == ".png":
            save_scatter(x, out, means=gen.spec.info.get("means"))
        else:
            raise ConfigError(f"--out for 2-D points must end in .npy, .csv or .png, got '{out}'")
    elif args.out.endswith(("/", "\\")) or out.is_dir():
        out.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(to_uint8(x)):
            atomic_write_bytes(out / f"{i:06d}.png", png_bytes(img))
    elif out.suffix.lower() == ".png":
        nrow = (-(-n // gen.num_classes)) if args.class_grid else None
        save_grid(x, out, nrow=nrow)
    else:
        raise ConfigError(f"--out must be a .png file (a grid) or a folder ending in / (one PNG per sample), got '{out}'")
    print(f"wrote {n} samples to {out}")
    return 0


def _cmd_presets(args) -> int:
    from .config import list_presets

    presets = list_presets()
    width = max(map(len, presets))
    for name, desc in presets.items():
        print(f"{name:<{width}}  {desc}")
    return 0


def _cmd_info(args) -> int:
    from .checkpoint import load_checkpoint
    from .monitor.plots import read_metrics

    run = Path(args.run_dir)
    ck = load_checkpoint(run, map_location="cpu")
    cfg = ck.meta["config"]
    print(f"run:        {run}")
    print(f"checkpoint: {ck.path} (step {ck.step} of {ck.meta.get('total_steps')})")
    print(f"preset:     {cfg.get('preset')}  method: {ck.meta.get('method')}  arch: {cfg['model']['arch']}  loss: {cfg['loss']['name']}")
    data = ck.meta["data"]
    print(f"data:       {data['name']} {data['kind']} shape {data['shape']} classes {data['num_classes']}")
    params = {k: sum(v.numel() for v in sd.values()) for k, sd in ck.weights.items()}
    print("parameters: " + ", ".join(f"{k} {v:,}" for k, v in params.items()))
    records = read_metrics(run / "metrics.jsonl") if run.is_dir() else []
    if records:
        print("last log:   " + json.dumps(records[-1]))
    samples = sorted((run / "samples").glob("*.png")) if run.is_dir() else []
    if samples:
        print(f"samples:    {len(samples)} grids, latest {samples[-1]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gankit", description="Train, sample and inspect GANs.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN (default preset: digits-dcgan)")
    t.add_argument("--preset", help="named recipe (see `gankit presets`)")
    t.add_argument("--config", help="YAML file of config keys")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its latest checkpoint")
    t.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    t.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.steps=500")
    t.set_defaults(func=_cmd_train)

    s = sub.add_parser("sample", help="generate samples from a run directory or checkpoint")
    s.add_argument("checkpoint", metavar="RUN_DIR|CHECKPOINT")
    s.add_argument("-n", type=int, default=64, help="number of samples")
    s.add_argument("--out", required=True, help="grid .png, a folder/ for one PNG each, or .npy/.csv for points")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--class", dest="klass", type=int, help="class to generate (conditional models)")
    s.add_argument("--class-grid", action="store_true", help="one row per class (conditional models)")
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=_cmd_sample)

    sub.add_parser("presets", help="list the named presets").set_defaults(func=_cmd_presets)

    i = sub.add_parser("info", help="summarise a run directory")
    i.add_argument("run_dir")
    i.set_defaults(func=_cmd_info)
    from .cli_eval import add_commands; add_commands(sub)  # noqa: E702
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GankitError as err:
        from .trainer import TrainingInterrupted

        print(f"gankit: {'' if isinstance(err, TrainingInterrupted) else 'error: '}{err}", file=sys.stderr)
        return 130 if isinstance(err, TrainingInterrupted) else 2
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
