"""`gankit` command line: train | sample | translate | upscale | predict | eval | presets | info."""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

from .errors import ConfigError, GankitError


def _cmd_train(args) -> int:
    from .api import resume_config, train
    from .checks import check_names
    from .config import dump_yaml, load_config

    if args.resume and (args.preset or args.config):
        raise ConfigError("--resume continues a run with its own config; drop --preset/--config (key=value overrides are allowed)")
    if args.resume:
        cfg = resume_config(Path(args.resume), args.overrides)
    else:
        cfg = load_config(preset=args.preset, file=args.config, overrides=args.overrides)
    if args.dry_run:
        check_names(cfg)
        print(dump_yaml(cfg), end="")
        return 0
    run_dir = train(cfg, resume=args.resume)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks
        print(f"run finished: {run_dir}")
    return 0


GRID_MAX = 4096  # images in one grid PNG
SCATTER_MAX = 1_000_000  # points in one scatter plot
LIMITS = {"grid": (GRID_MAX, "one PNG per sample into a folder: --out DIR/"),
          "scatter": (SCATTER_MAX, "the points to a file: --out FILE.npy or FILE.csv")}


@contextmanager
def writing(path, flag: str = "--out"):
    """Turn an OSError while writing `path` (permission, not a folder, disk full) into a one-line ConfigError."""
    try:
        yield
    except OSError as err:
        raise ConfigError(f"cannot write {flag} '{path}': {err.strerror or err}; choose a writable place") from None


def check_writable(path: Path, folder: bool = False, flag: str = "--out") -> None:
    """Fail before any work when the file (or `folder`) `path` cannot be written."""
    parent = path if folder else path.parent
    blocker = next((p for p in (parent, *parent.parents) if p.exists()), parent)
    if not blocker.is_dir():
        raise ConfigError(f"cannot write {flag} '{path}': '{blocker}' is a file, not a folder; choose another place")
    with writing(path, flag):
        parent.mkdir(parents=True, exist_ok=True)
        if not folder and path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        tempfile.TemporaryFile(dir=parent).close()


def _sample_target(out: str, kind: str) -> str:
    """What `--out` asks for: 'folder', 'grid', 'scatter', 'npy' or 'csv'."""
    if kind == "points":
        target = {".npy": "npy", ".csv": "csv", ".png": "scatter"}.get(Path(out).suffix)
        if target is None:
            raise ConfigError(f"--out for 2-D points must end in .npy, .csv or .png, got '{out}'")
        return target
    if out.endswith(("/", "\\")) or Path(out).is_dir():
        return "folder"
    if Path(out).suffix.lower() == ".png":
        return "grid"
    raise ConfigError(f"--out must be a .png file (a grid) or a folder ending in / (one PNG per sample), got '{out}'")


def _check_count(target: str, n: int) -> None:
    limit, instead = LIMITS.get(target, (None, ""))
    if limit is not None and n > limit:
        raise ConfigError(f"-n {n} is too many samples for one {target} PNG (at most {limit:,}); write {instead}")


def _cmd_sample(args) -> int:
    import torch

    from .api import select_device
    from .models import Predictor, TextToImage, Translator, Upscaler, load

    gen = load(args.checkpoint, device=select_device(args.device, "--device"))
    if isinstance(gen, TextToImage):
        return _sample_text(gen, args)
    if args.text is not None or args.text_file is not None or args.interpolate is not None:
        raise ConfigError(f"'{args.checkpoint}' is not a text-to-image run: --text, --text-file and --interpolate need "
                          "a method=text2image run")
    if isinstance(gen, Predictor):
        raise ConfigError(f"'{args.checkpoint}' is a video-prediction run: it continues clips rather than sampling "
                          "noise; use `gankit predict RUN INPUT --out out.gif`")
    if isinstance(gen, (Translator, Upscaler)):
        verb = "translate" if isinstance(gen, Translator) else "upscale"
        raise ConfigError(f"'{args.checkpoint}' is a {gen.method} run (image-to-image): it {verb}s images rather "
                          f"than sampling noise; use `gankit {verb} RUN INPUT... --out DIR`")
    target, n, per_row = _sample_target(args.out, gen.spec.kind), 64 if args.n is None else args.n, None
    if args.class_grid:
        if not gen.num_classes:
            raise ConfigError("--class-grid needs a conditional model (model.conditional=true)")
        per_row = -(-n // gen.num_classes)
        n = per_row * gen.num_classes
    _check_count(target, n)
    y = args.klass if per_row is None else torch.arange(gen.num_classes).repeat_interleave(per_row)
    out = Path(args.out)
    check_writable(out, folder=target == "folder")
    with writing(out):
        _write_samples(target, gen.batches(n, y=y, seed=args.seed), out, n, per_row, gen.spec)
    print(f"wrote {n} samples to {out}")
    return 0


TEXT_N = 8  # text-to-image samples per prompt (or interpolation steps) without -n


def _sample_text(model, args) -> int:
    """`gankit sample` of a text-to-image run: --text (n images), --text-file (a grid row of n per prompt) or
    --interpolate A B (one row of n steps)."""
    if args.klass is not None or args.class_grid:
        raise ConfigError("--class and --class-grid are for class-conditional GANs; a text-to-image run takes --text")
    n = TEXT_N if args.n is None else args.n
    if n < 1 or (args.interpolate is not None and n < 2):
        raise ConfigError(f"-n must be at least {2 if args.interpolate is not None else 1}, got {n}")
    if args.interpolate is not None:
        prompts, rows = list(args.interpolate), 1
    elif args.text_file is not None:
        prompts = _read_prompts(Path(args.text_file))
        rows = len(prompts)
    elif args.text is not None:
        prompts, rows = [args.text], 1
    else:
        raise ConfigError(f"'{args.checkpoint}' is a text-to-image run: say what to draw with --text \"a 7 at the "
                          "bottom right\", --text-file FILE (one prompt per line) or --interpolate \"PROMPT A\" "
                          "\"PROMPT B\"")
    target = _sample_target(args.out, model.spec.kind)
    _check_count(target, n * rows)
    model.embed(prompts)  # unknown words fail before anything is written
    out = Path(args.out)
    check_writable(out, folder=target == "folder")
    if args.interpolate is not None:
        images = model.interpolate(*prompts, steps=n, seed=args.seed)
    else:
        images = model.sample(n, prompts, seed=args.seed)
    with writing(out):
        _write_samples(target, [images], out, len(images), None if args.text is not None else n, model.spec)
    what = f"{n} steps from {prompts[0]!r} to {prompts[1]!r}" if args.interpolate is not None else \
        f"{n} samples of {rows} prompt(s)" if rows > 1 else f"{n} samples of {prompts[0]!r}"
    print(f"wrote {what} to {out}")
    return 0


def _read_prompts(path: Path) -> List[str]:
    """The non-blank lines of a prompts file."""
    if not path.is_file():
        raise ConfigError(f"--text-file '{path}' {'is a folder' if path.is_dir() else 'does not exist'}: give a text "
                          "file with one prompt per line")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read --text-file '{path}' ({type(err).__name__}): save it as UTF-8 text") from None
    prompts = [line.strip() for line in lines if line.strip()]
    if not prompts:
        raise ConfigError(f"--text-file '{path}' holds no prompts: write one prompt per line")
    return prompts


def _write_samples(target: str, batches, out: Path, n: int, nrow: Optional[int], spec) -> None:
    import torch

    from .monitor.images import save_folder, save_grid, save_points, save_scatter

    if target == "folder":
        save_folder(batches, out)
    elif target == "grid":
        save_grid(torch.cat(list(batches)), out, nrow=nrow)
    elif target == "scatter":
        save_scatter(torch.cat(list(batches)), out, means=spec.info.get("means"))
    else:
        save_points(batches, out, n)


def _cmd_presets(args) -> int:
    from .config import list_presets

    presets = list_presets()
    width = max(map(len, presets))
    for name, desc in presets.items():
        print(f"{name:<{width}}  {desc}")
    return 0


def _cmd_info(args) -> int:
    from .generator import read_checkpoint
    from .monitor.plots import read_metrics

    run = Path(args.run_dir)
    ck, cfg, data = read_checkpoint(run)
    print(f"run:        {run}")
    print(f"checkpoint: {ck.path} (step {ck.step} of {ck.meta.get('total_steps')})")
    nets = ck.meta.get("networks") or {}
    arch = ", ".join(f"{k} {v.get('class')}" for k, v in nets.items()) if nets else cfg.model.arch
    print(f"preset:     {cfg.preset}  method: {ck.meta.get('method')}  arch: {arch}  loss: {cfg.loss.name}")
    print(f"data:       {data.name} {data.kind} shape {list(data.shape)} classes {data.num_classes}")
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
    s.add_argument("-n", type=int, help="number of samples (default 64; text-to-image: per prompt, or the "
                                        f"interpolation steps, default {TEXT_N})")
    s.add_argument("--out", required=True, help="grid .png, a folder/ for one PNG each, or .npy/.csv for points")
    s.add_argument("--seed", type=int, default=0)
    classes = s.add_mutually_exclusive_group()
    classes.add_argument("--class", dest="klass", type=int, help="class to generate (conditional models)")
    classes.add_argument("--class-grid", action="store_true", help="one row per class (conditional models)")
    text = s.add_mutually_exclusive_group()
    text.add_argument("--text", metavar="PROMPT", help="text-to-image: draw -n images of this prompt")
    text.add_argument("--text-file", metavar="FILE", help="text-to-image: one prompt per line, a grid row of -n "
                                                          "images each")
    text.add_argument("--interpolate", nargs=2, metavar=("PROMPT_A", "PROMPT_B"),
                      help="text-to-image: one row of -n images from one noise, the caption moving from A to B")
    s.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    s.set_defaults(func=_cmd_sample)

    sub.add_parser("presets", help="list the named presets").set_defaults(func=_cmd_presets)

    i = sub.add_parser("info", help="summarise a run directory")
    i.add_argument("run_dir")
    i.set_defaults(func=_cmd_info)
    from .cli_eval import add_commands; add_commands(sub)  # noqa: E702
    from .cli_translate import add_command; add_command(sub)  # noqa: E702
    from .cli_upscale import add_command as add_upscale; add_upscale(sub)  # noqa: E702
    from .cli_predict import add_command as add_predict; add_predict(sub)  # noqa: E702
    from .synth import add_command as add_synth; add_synth(sub)  # noqa: E702
    from .cli_augment import add_command as add_augment; add_augment(sub)  # noqa: E702
    from .cli_serve import add_command as add_serve; add_serve(sub)  # noqa: E702
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GankitError as err:
        from .trainer import TrainingInterrupted

        print(f"gankit: {'' if isinstance(err, TrainingInterrupted) else 'error: '}{err}", file=sys.stderr)
        return 130 if isinstance(err, TrainingInterrupted) else 2
    except OSError as err:  # a file gankit reads or writes (permission, not a folder, disk full)
        where = f": '{err.filename}'" if err.filename else ""
        print(f"gankit: error: {err.strerror or err}{where}; check the path, its permissions and the free space",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
