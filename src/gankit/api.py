"""The Python API: `train`, `load_generator`, and the pieces the CLI shares."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import List, Optional, Union

import torch

from . import distributed
from .checks import check_names, parse_device
from .config import Config, apply_mapping, config_from_dict, load_config, load_yaml, validate
from .data import load_dataset
from .errors import CheckpointError, ConfigError, DataError
from .generator import LoadedGenerator, load_generator
from .methods import DataSpec, build_method
from .rng import seed_everything
from .trainer import Trainer


def select_device(name: str, what: str = "train.device") -> torch.device:
    """`auto` picks CUDA when present, else the CPU; `what` names the setting in messages (or `--device`)."""
    device = parse_device(name, what)
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{what}={name} but no CUDA GPU is visible; use {what}=auto or cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"{what}={name} but only {torch.cuda.device_count()} CUDA GPU(s) are visible; "
                          f"use {what}=cuda:0 or auto")
    return device


def dataset_for(cfg: Config, **changes):
    """The data set `cfg.data` describes; `changes` replace some of its keys (e.g. split="test", jitter=False)."""
    d = {**dataclasses.asdict(cfg.data), **changes}
    return load_dataset(d["name"], dir=d["dir"], size=d["size"], channels=d["channels"], split=d["split"],
                        n=d["n"], seed=cfg.seed, on_corrupt=d["on_corrupt"], download=d["download"],
                        direction=d["direction"], dir_a=d["dir_a"], dir_b=d["dir_b"], jitter=d["jitter"],
                        scale=d["scale"], crop=d["crop"], test_dir=d["test_dir"], frames_in=d["frames_in"],
                        frames_out=d["frames_out"], digits=d["digits"], test_file=d["test_file"],
                        captions=d["captions"])


def default_run_dir(cfg: Config) -> Path:
    base = Path("runs") / f"{cfg.preset or 'custom'}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 1
    while path.exists():
        path, i = Path(f"{base}-{i}"), i + 1
    return path


def resume_config(run_dir: Path, overrides: Optional[List[str]] = None) -> Config:
    """The run's own config.yaml, with optional overrides (e.g. a larger train.steps)."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise CheckpointError(f"'{run_dir}' is not a run directory (no config.yaml); pass the folder `gankit train` created")
    cfg = config_from_dict(load_yaml(path.read_text()))
    if overrides:
        cfg = load_config(mapping=cfg.to_dict(), overrides=overrides)
    cfg.run.dir = str(run_dir)
    return cfg


def train(config: Union[Config, dict, None] = None, *, resume: Union[str, Path, None] = None,
          overrides: Optional[List[str]] = None) -> Path:
    """Train and return the run directory.

    `config` is a `Config`, a nested dict of keys (over the defaults of its `preset`), or None for the
    default preset; `resume` continues the run in that directory from its latest checkpoint (with the
    run's own config.yaml and `overrides`, or with `config` when that is a resolved `Config`).
    """
    if resume is not None and not isinstance(config, Config):
        cfg = resume_config(Path(resume), overrides)
    elif isinstance(config, Config):
        cfg = config
        if overrides:
            cfg = load_config(mapping=cfg.to_dict(), overrides=overrides)
        validate(cfg)
    else:
        cfg = load_config(mapping=config, overrides=overrides)
    check_names(cfg)
    run_dir = Path(cfg.run.dir) if cfg.run.dir else default_run_dir(cfg)
    if resume is None and (run_dir / "checkpoints" / "latest").exists():
        raise ConfigError(f"run.dir '{run_dir}' already holds a run; continue it with --resume {run_dir} or choose another run.dir")
    cfg.run.dir = str(run_dir)
    device = select_device(cfg.train.device)
    info = distributed.setup(device, cfg.train.batch_size)
    try:
        result = _fit(cfg, device, info, run_dir, resume is not None)
    except BaseException:
        distributed.teardown(success=False)
        raise
    distributed.teardown()
    return result


def _fit(cfg: Config, device: torch.device, info: distributed.DistInfo, run_dir: Path, resume: bool) -> Path:
    """Build and train on this rank. The networks (and their DDP reducers, which hold the process group)
    are freed on return, so `distributed.teardown` destroys the group while Python is alive."""
    if info.enabled and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    seed_everything(cfg.seed)  # the same on every rank: same init, same global noise
    dataset = dataset_for(cfg).to(device)
    method = build_method(cfg, DataSpec.from_dataset(dataset), device)
    if info.enabled:
        method.distribute(info)
    return Trainer(cfg, method, dataset, run_dir, info).fit(resume_from=run_dir if resume else None)


def evaluate_translation(run, metrics: Optional[str] = None, n: Optional[int] = None, *,
                         data_dir: Optional[str] = None, split: str = "test", inception_weights: Optional[str] = None,
                         device: Union[str, torch.device] = "cpu", log=None):
    """Score an image-to-image run on its data's `split` (the metrics of `gankit.metrics.translation`)."""
    from .metrics.translation import parse_names, test_directions, translation_results
    from .models import load_translator

    from .generator import read_checkpoint

    model = load_translator(run, device)
    cfg = read_checkpoint(run)[1]  # the config the loaded checkpoint was trained with
    data = dataset_for(cfg, split=split, jitter=False, **({"dir": data_dir} if data_dir else {}))
    names = parse_names(metrics or "auto", data.kind == "paired")
    inception = None
    if any(name in ("fid", "kid") for name in names):
        from .metrics.inception import InceptionFeatures

        inception = InceptionFeatures(inception_weights, device=device)
    if log:
        log(f"{len(data)} {split} items of '{data.info.get('dir')}', metrics {', '.join(names)}")
    fns = {d: (lambda d: lambda x: model.translate(x, d))(d) for d in model.directions}
    directions = test_directions(data, fns, model.default, n)
    return translation_results(directions, names, inception,
                               {"split": data.info.get("split", split), "size": data.shape[-1], "step": model.step})


def evaluate_sr(run, metrics: Optional[str] = None, n: Optional[int] = None, *, data_dir: Optional[str] = None,
                split: str = "test", inception_weights: Optional[str] = None, device: Union[str, torch.device] = "cpu",
                log=None):
    """Score a super-resolution run on whole HR images: its data.test_dir (split=test; `data_dir` replaces it:
    comma-separated folders) or its training folders (split=train), with `gankit.metrics.sr`."""
    from .generator import read_checkpoint
    from .metrics.sr import INCEPTION, parse_sr_names, sr_results
    from .models import load_upscaler

    model = load_upscaler(run, device)
    ck, cfg, _ = read_checkpoint(run)
    key = "test_dir" if split == "test" else "dir"
    if split == "test" and not (data_dir or cfg.data.test_dir):
        raise ConfigError("this SR run has no data.test_dir: pass --data-dir FOLDER of HR test images (e.g. Set5)")
    data = dataset_for(cfg, split=split, channels=None, **({key: data_dir} if data_dir else {}))
    names = parse_sr_names(metrics)
    inception = None
    if any(name in INCEPTION for name in names):
        from .metrics.inception import InceptionFeatures

        inception = InceptionFeatures(inception_weights, device=device)
    if log:
        log(f"{len(data)} {split} images of '{data.info.get('dir')}', x{data.scale}, metrics {', '.join(names)}")
    return sr_results(model.upscale, data, names, inception, limit=n,
                      protocol={"split": split, "set": data.info.get("dir"), "step": model.step,
                                **(ck.meta.get("protocol") or {})})


def video_test_data(cfg: Config, spec, split: str, n: Optional[int], **changes):
    """The sequences a video run is scored on: moving-mnist's first `n` test sequences (each is seeded on its
    own, so they are those of the whole set), or the clips of `frames` (all of them; `data.n` caps training
    only), checked to have the frames the model was trained on."""
    n = n if cfg.data.name == "moving-mnist" and split == "test" else (None if split == "test" else cfg.data.n)
    channels = int(spec.shape[1]) if cfg.data.name == "frames" else None
    data = dataset_for(cfg, split=split, n=n, channels=channels, **changes)
    if tuple(data.shape[1:]) != tuple(spec.shape[1:]):
        c, h, w = data.shape[1:]
        raise DataError(f"the {split} clips are {w}x{h} with {c} channel(s) but the model was trained on "
                        f"{spec.shape[3]}x{spec.shape[2]} with {spec.shape[1]}: pass data.size or clips of that size")
    return data


def evaluate_video(run, metrics: Optional[str] = None, n: Optional[int] = None, *, data_dir: Optional[str] = None,
                   split: str = "test", inception_weights: Optional[str] = None,
                   device: Union[str, torch.device] = "cpu", log=None):
    """Score a video-prediction run on its data's test sequences (split=test; `data_dir` replaces the MNIST
    folder of moving-mnist, the test clips of frames) with `gankit.metrics.video`; `n` caps the sequences. Returns MetricResults,
    each with its per-horizon curve in the protocol (`horizon`)."""
    from .generator import read_checkpoint
    from .metrics.video import parse_video_names, video_results
    from .models import load_predictor

    model = load_predictor(run, device)
    ck, cfg, _ = read_checkpoint(run)
    key = "test_dir" if cfg.data.name == "frames" and split == "test" else "dir"  # moving-mnist: the MNIST folder
    data = video_test_data(cfg, model.spec, split, n, **({key: data_dir} if data_dir else {}))
    names = parse_video_names(metrics)
    if log:
        log(f"{min(len(data), n or len(data))} {split} sequences of {cfg.data.name}, metrics {', '.join(names)}")
    results, curves = video_results(lambda c: model.predict(c, clip=False), data, names, limit=n,
                                    protocol={"split": split, "step": model.step, **(ck.meta.get("protocol") or {})})
    for r in results:
        r.protocol["horizon"] = [round(v, 4) for v in curves[r.name]]
    return results


def evaluate_text(run, metrics: Optional[str] = None, n: Optional[int] = None, *, data_dir: Optional[str] = None,
                  split: str = "test", inception_weights: Optional[str] = None, classifier: Optional[str] = None,
                  text_model: Optional[str] = None, seed: int = 0, device: Union[str, torch.device] = "cpu", log=None):
    """Score a text-to-image run on its data's test captions (captioned-mnist: 10,000, seen and held-out layouts;
    `n` caps them; `data_dir` replaces the data folder) with `gankit.metrics.text`: one image per caption."""
    from .generator import read_checkpoint
    from .metrics.text import TextNets, parse_text_names, text_results
    from .models import load

    model = load(run, device)
    ck, cfg, _ = read_checkpoint(run)
    names = parse_text_names(metrics, cfg.data.name, default_fid=True)
    try:
        data = dataset_for(cfg, split=split, n=n, **({"dir": data_dir} if data_dir else {}))
    except DataError as err:
        raise DataError(f"{err} (gankit eval: pass --data-dir DIR)") from None
    nets = TextNets(names, classifier=classifier, text_model=text_model, inception_weights=inception_weights,
                    data_name=cfg.data.name, captions=cfg.data.captions, data_dir=data_dir or cfg.data.dir,
                    device=device)
    if log:
        log(f"{min(len(data), n or len(data))} {data.info.get('split', 'train')} captions of {cfg.data.name}, "
            f"metrics {', '.join(names)}")
    return text_results(lambda batch, z: model.draw(z, model.embed(batch["text"], strict=False)), data, names, nets,
                        z_dim=model.z_dim, limit=n, seed=seed, log=log,
                        protocol={"split": data.info.get("split", "train (no test split)"), "step": model.step,
                                  **(ck.meta.get("protocol") or {})})


__all__ = ["train", "evaluate_translation", "evaluate_sr", "evaluate_video", "evaluate_text", "load_generator", "LoadedGenerator", "select_device", "Config", "load_config", "apply_mapping"]
