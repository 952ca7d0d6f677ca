"""`gankit synth`: a labelled image folder drawn from a class-conditional run, for data augmentation.

The folder has one subfolder per class (named after the data set's classes, else 0, 1, ...), N PNGs in each
at the data set's channel count and size, and `manifest.json` (run, checkpoint and its sha256, step, EMA or
not, seed and each class's noise seed, N, truncation). It is written under `<out>.partial` and renamed when
complete, so an interrupted synth never leaves a folder that looks finished.
"""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

from .errors import ConfigError

FORMAT = "gankit-synth/1"
MANIFEST = "manifest.json"


def class_folders(names: List[str], num_classes: int) -> List[str]:
    """A safe, distinct folder name per class: the class name (characters other than letters, digits, '.', '-'
    and '_' become '_'), or its index when the data set names none."""
    out: List[str] = []
    for i in range(num_classes):
        raw = names[i] if i < len(names) and str(names[i]).strip() else str(i)
        name = re.sub(r"[^\w.-]+", "_", str(raw)).strip("._") or str(i)
        out.append(name if name not in out else f"{name}_{i}")
    return out


def _check_run(run) -> None:
    """A one-line ConfigError unless `run` holds a class-conditional generator."""
    from .generator import read_checkpoint

    ck, cfg, spec = read_checkpoint(run)
    tasks = ck.meta.get("tasks") or {}
    if "sample_text" in tasks:
        raise ConfigError(f"'{run}' is a text-to-image run: synth takes class-conditional runs for now; write a "
                          "folder per prompt with `gankit sample RUN --text PROMPT -n N --out DIR/`")
    if tasks:
        raise ConfigError(f"'{run}' is a {cfg.method} run ({', '.join(tasks)}), not a generator of labelled "
                          "images: synth needs a class-conditional GAN run (e.g. --preset mnist-cgan)")
    if not cfg.model.conditional or not spec.num_classes:
        raise ConfigError(f"'{run}' is not conditional: synth needs a class-conditional run (model.conditional=true, "
                          "e.g. --preset mnist-cgan) to know which class each image shows")
    if spec.kind != "image":
        raise ConfigError(f"'{run}' generates {spec.kind}, not images: synth writes image folders")


def synthesize(run, per_class: int, out, *, seed: int = 0, batch_size: int = 256, device="cpu",
               log: Optional[Callable[[str], None]] = None) -> Dict[str, object]:
    """Write `per_class` samples of every class of a conditional run to `out` (see the module docstring);
    returns the manifest."""
    from .checkpoint import MODEL_FILE, atomic_write_text, resolve_checkpoint
    from .data.translation_common import derive_seed
    from .generator import load_generator
    from .metrics.inception import file_sha256
    from .monitor.images import save_folder

    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ConfigError(f"--per-class must be a positive integer, got {per_class!r}")
    _check_run(run)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out '{out}' exists and is not an empty folder: choose a new folder (synth never mixes "
                          "its images with other files)")
    ckpt = resolve_checkpoint(run)
    gen = load_generator(ckpt, device)
    folders = class_folders(list(gen.spec.class_names), gen.num_classes)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    seeds = {}
    for c, name in enumerate(folders):
        seeds[name] = derive_seed(seed, f"class-{c}")
        save_folder(gen.batches(per_class, y=c, seed=seeds[name], batch_size=batch_size), partial / name)
        if log:
            log(f"class {name}: {per_class} images")
    manifest = {"format": FORMAT, "run": str(Path(run).absolute()), "checkpoint": str(ckpt.absolute()),
                "checkpoint_sha256": file_sha256(ckpt / MODEL_FILE), "step": gen.step, "ema": gen.ema,
                "data": gen.spec.name, "shape": list(gen.spec.shape), "classes": folders, "per_class": per_class,
                "seed": seed, "class_seeds": seeds, "truncation": None,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    atomic_write_text(partial / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    if out.exists():
        out.rmdir()
    partial.rename(out)
    return manifest


def read_manifest(folder) -> Dict[str, object]:
    """The manifest of a synth folder; a one-line ConfigError when it has none."""
    path = Path(folder) / MANIFEST
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}")
        return doc
    except (OSError, ValueError) as err:
        raise ConfigError(f"'{folder}' is not a complete synth folder ({path.name}: {err}); rerun `gankit synth`") \
            from None


def add_command(sub) -> None:
    """`gankit synth RUN --per-class N --out DIR`."""
    s = sub.add_parser("synth", help="write a labelled image folder (a subfolder per class) from a conditional run",
                       description="Draw N images of every class from a class-conditional run into DIR/<class>/ "
                                   "(PNG, the data's channels and size) with DIR/manifest.json (run, checkpoint "
                                   "sha256, seeds): synthetic training data for `gankit augment` or any classifier.")
    s.add_argument("run", metavar="RUN_DIR|CHECKPOINT")
    s.add_argument("--per-class", type=int, required=True, metavar="N", help="images per class")
    s.add_argument("--out", required=True, metavar="DIR", help="a new (or empty) folder")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--batch-size", type=int, default=256)
    s.add_argument("--device", default="auto")
    s.set_defaults(func=_cmd_synth)


def _cmd_synth(args) -> int:
    import sys

    from .api import select_device
    from .cli import check_writable

    check_writable(Path(args.out), folder=True)
    m = synthesize(args.run, args.per_class, args.out, seed=args.seed, batch_size=args.batch_size,
                   device=select_device(args.device, "--device"),
                   log=lambda msg: print(f"gankit synth: {msg}", file=sys.stderr, flush=True))
    print(f"wrote {m['per_class'] * len(m['classes'])} images of {len(m['classes'])} classes to {args.out} "
          f"(manifest {Path(args.out) / MANIFEST})")
    return 0


__all__ = ["FORMAT", "MANIFEST", "add_command", "class_folders", "read_manifest", "synthesize"]
