"""`evaluate`: the one entry point that scores a run, a checkpoint or two image folders.

Every result carries its protocol (n_real, n_fake, split, resize, feature network, weights
sha256, samples seed) and prints it on its `line()`. Real-image features are cached under
`$GANKIT_CACHE/stats/`, keyed on everything that changes them: data set, data dir, split, image shape,
count, subset seed, the files read (names and contents), `PREPROCESS_VERSION`, and the network
(features, resize, weights sha256).
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from gankit.errors import ConfigError, DataError
from gankit.metrics.classifier import ClassifierFeatures, cache_root
from gankit.metrics.frechet import density_coverage, feature_stats, frechet_distance, kid, precision_recall
from gankit.metrics.inception import (TORCH_FIDELITY_SEED, InceptionFeatures, MetricUnavailable, content_sha256,
                                      inception_score)
from gankit.metrics.modes import PACGAN_NUM_SAMPLES, mixture_mode_report
from gankit.metrics.stacked import PROTOCOL_SAMPLES, channel_digits, stacked_modes

IMAGE_N = 10_000  # Lucic et al.: 10k real (test split) vs 10k generated
KID_SUBSET = 1000
NA = "n/a"
PREPROCESS_VERSION = 1  # bump when the reading, resizing or uint8 conversion of real images changes


@dataclass
class MetricResult:
    """One metric's values (empty when unavailable, with the reason) and the protocol that produced them."""

    name: str
    values: Dict[str, Optional[float]]  # None: not defined for this protocol (shown as n/a)
    protocol: Dict[str, Any]
    unavailable: Optional[str] = None

    def line(self) -> str:
        """`name value(s)  [protocol]` on one line."""
        shown = {k: v for k, v in self.protocol.items() if k != "weights"}
        proto = ", ".join(f"{k}={v}" for k, v in shown.items())
        if self.unavailable:
            return f"{self.name} unavailable: {self.unavailable}  [{proto}]"
        return f"{self.name} {_format_values(self.values)}  [{proto}]"

    def as_dict(self) -> Dict[str, Any]:
        return {"metric": self.name, "values": self.values, "unavailable": self.unavailable, **self.protocol}


def _format_values(values: Dict[str, Optional[float]]) -> str:
    if set(values) == {"mean", "std"}:
        std = NA if values["std"] is None else f"{values['std']:.3g}"
        return f"{values['mean']:.6g} ± {std}"
    if len(values) == 1:
        return f"{next(iter(values.values())):.6g}"
    return " ".join(f"{k} {v:.6g}" for k, v in values.items())


# --------------------------------------------------------------------------- inputs

def _to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] (N, C, H, W) -> uint8 (N, C, H, W), exactly as gankit.monitor.images.to_uint8."""
    from gankit.monitor.images import to_uint8

    return torch.from_numpy(to_uint8(images)).permute(0, 3, 1, 2).contiguous()


@dataclass
class _Real:
    """Real uint8 images and what identifies them (for the protocol and the cache key)."""

    images: Tensor
    split: str
    key: Optional[Dict[str, Any]]  # data set, folder, split, shape, count, subset seed; None: not cached


def load_image_folder(folder, n: Optional[int] = None) -> Tensor:
    """The images under `folder` (sorted; the first `n`) as uint8 (N, 1|3, H, W) at their own size.

    Gray images stay 1-channel unless the folder also holds colour ones; everything else is read as
    RGB, as torch-fidelity reads image folders.
    """
    import numpy as np

    from gankit.data.folder import scan

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder '{root}' does not exist: pass a folder of PNG/JPEG images")
    arrays = [_read_image(path) for path in scan(root)[0][:n]]
    shapes = sorted({a.shape[:2] for a in arrays})
    if len(shapes) > 1:
        raise DataError(f"images under '{root}' have different sizes {shapes[:3]}: resize them to one size first")
    rgb = any(a.ndim == 3 for a in arrays)
    arrays = [np.repeat(a[..., None], 3 if rgb else 1, -1) if a.ndim == 2 else a for a in arrays]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def _read_image(path: Path):
    """One image file as a uint8 array, (H, W) for gray ('L', '1') else (H, W, 3); one-line DataError if unreadable."""
    import numpy as np
    from PIL import Image

    from gankit.data.folder import unreadable_image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L" if im.mode in ("L", "1") else "RGB"))
    except Exception as err:  # PIL raises many types for bad files
        raise unreadable_image(path, err, "remove or replace it, or pass folders of intact images") from err


def _source_files(ds) -> List[Path]:
    """The files a data set was read from: the IDX files it names, or every image of a folder source."""
    from gankit.data.folder import scan

    if isinstance(ds.info.get("files"), list):
        return [Path(f) for f in ds.info["files"]]
    if ds.info.get("dir"):
        return scan(Path(ds.info["dir"]))[0]
    return []


def _files_digest(files: Sequence[Path], base: Optional[Path]) -> Optional[str]:
    """sha256 of each file's name (relative to `base`) and data (a .gz file's decompressed bytes); None for no
    files. Data, not mtimes or compressed bytes: the same data copied, re-mounted or compressed again keeps its
    cached features (each file is hashed once a process)."""
    if not files:
        return None
    rows = []
    for f in files:
        name = os.path.relpath(f.absolute(), base.absolute()) if base else str(f.absolute())
        rows.append([name, content_sha256(f)])
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


class _ConfigSource:
    """Generated samples of a model trained on the data set its config names (`self.cfg`)."""

    cfg: Any
    kind: str
    data_name: str

    def real(self, n: int) -> _Real:
        from gankit.api import dataset_for

        cfg = copy.deepcopy(self.cfg)
        cfg.data.n = n
        try:
            ds = dataset_for(cfg)
        except DataError as err:
            raise DataError(f"{err} (gankit eval: pass --data-dir DIR)") from None
        split = ds.info.get("split", "all (no test split)")
        base = Path(cfg.data.dir).expanduser() if cfg.data.dir else None
        key = {"dataset": ds.name, "dir": str(base.resolve()) if base else None, "split": split,
               "shape": list(ds.shape), "n": len(ds), "seed": cfg.seed, "preprocess": PREPROCESS_VERSION,
               "files": _files_digest(_source_files(ds), base)}
        return _Real(_to_uint8(ds.x), split, key)

    def _as_output(self, x: Tensor) -> Tensor:
        return x if self.kind == "points" else _to_uint8(x)


class RunSource(_ConfigSource):
    """A trained generator (run directory or checkpoint) and its run's data config."""

    def __init__(self, path, *, data_dir: Optional[str] = None, split: str = "test", device="cpu"):
        from gankit.checkpoint import STATE_JSON, resolve_checkpoint
        from gankit.config import config_from_dict
        from gankit.generator import load_generator

        ckpt = resolve_checkpoint(path)
        self.gen = load_generator(ckpt, device=device)  # validates the checkpoint
        self.cfg = config_from_dict(json.loads((ckpt / STATE_JSON).read_text())["meta"]["config"])
        self.cfg.data.split = split
        if data_dir is not None:
            self.cfg.data.dir = data_dir
        self.kind, self.data_name = self.gen.spec.kind, self.gen.spec.name
        self.description = f"{path} (step {self.gen.step})"

    def fake(self, n: int, seed: int) -> Tuple[Tensor, Optional[Tensor]]:
        """n samples (uint8 images or float points) and their class labels (conditional models)."""
        labels = torch.arange(n) % self.gen.num_classes if self.gen.num_classes else None
        return self._as_output(self.gen.sample(n, y=labels, seed=seed).cpu()), labels


class SampleSource(_ConfigSource):
    """Samples already drawn (in-training evaluation): data space [-1, 1] images or points, labels."""

    def __init__(self, samples: Tensor, labels: Optional[Tensor], cfg, kind: str, data_name: str, what: str):
        self.samples, self.labels, self.cfg = samples.cpu(), labels, cfg
        self.kind, self.data_name, self.description = kind, data_name, what

    def fake(self, n: Optional[int], seed: int) -> Tuple[Tensor, Optional[Tensor]]:
        labels = None if self.labels is None else self.labels[:n].cpu()
        return self._as_output(self.samples[:n]), labels


class FolderSource:
    """Two folders of images: real and generated."""

    kind, data_name = "image", "folder"

    def __init__(self, real_dir, fake_dir):
        for flag, folder in (("--real", real_dir), ("--fake", fake_dir)):
            if not Path(folder).expanduser().is_dir():
                raise DataError(f"{flag} folder '{folder}' does not exist: pass a folder of PNG/JPEG images")
        self.real_dir, self.fake_dir = real_dir, fake_dir
        self.description = f"real {real_dir} vs fake {fake_dir}"

    def fake(self, n: Optional[int], seed: int) -> Tuple[Tensor, None]:
        return load_image_folder(self.fake_dir, n), None

    def real(self, n: Optional[int]) -> _Real:
        return _Real(load_image_folder(self.real_dir, n), "folder", None)


# --------------------------------------------------------------------------- metric table

@dataclass(frozen=True)
class Spec:
    """How to compute one named metric: which network, whether it needs real data, and the math."""

    net: Optional[str]  # "inception", "classifier" or None
    real: bool  # needs features of real images
    uses: str  # network output it reads: "features" or "logits"
    compute: Callable[["_Context", int], Dict[str, float]]  # (context, n_fake) -> values
    help: str
    n: Optional[int] = IMAGE_N  # default sample count (None: set by the data)


@dataclass
class _Context:
    """What the metric functions read: per-network outputs on generated and real images."""

    nets: Dict[str, Any] = field(default_factory=dict)  # network name -> feature network
    fake_out: Dict[str, Dict[str, Tensor]] = field(default_factory=dict)  # network -> {"features", "logits", ...}
    real_out: Dict[str, Tensor] = field(default_factory=dict)  # network -> real features
    labels: Optional[Tensor] = None  # classes the generated samples were conditioned on
    points: Optional[Tensor] = None  # generated 2-D points
    data_name: str = ""
    net: str = ""  # network of the metric being computed


def _pair(ctx: _Context, n: int) -> Tuple[Tensor, Tensor]:
    return ctx.real_out[ctx.net], ctx.fake_out[ctx.net]["features"][:n]


def _fid(ctx: _Context, n: int) -> Dict[str, float]:
    real, fake = _pair(ctx, n)
    return {"value": frechet_distance(*feature_stats(real), *feature_stats(fake))}


def _kid(ctx: _Context, n: int) -> Dict[str, Optional[float]]:
    real, fake = _pair(ctx, n)  # generated first, as torch-fidelity's input1: the same subsets
    mean, std = kid(fake, real, subset_size=min(KID_SUBSET, len(real), len(fake)), seed=TORCH_FIDELITY_SEED)
    return {"mean": mean, "std": std}


def _pr(ctx: _Context, n: int) -> Dict[str, float]:
    p, r = precision_recall(*_pair(ctx, n), k=3)
    return {"precision": p, "recall": r}


def _dc(ctx: _Context, n: int) -> Dict[str, float]:
    d, c = density_coverage(*_pair(ctx, n), k=5)
    return {"density": d, "coverage": c}


def _is(ctx: _Context, n: int) -> Dict[str, float]:
    problem = getattr(ctx.nets[ctx.net], "logits_problem", None)
    if problem:
        raise MetricUnavailable(problem)
    mean, std = inception_score(ctx.fake_out[ctx.net]["logits"][:n])
    return {"mean": mean, "std": std}


def _class_acc(ctx: _Context, n: int) -> Dict[str, float]:
    logits = ctx.fake_out[ctx.net]["logits"][:n]
    if ctx.labels is None:
        raise MetricUnavailable("class_acc needs a conditional model (model.conditional=true)")
    if int(ctx.labels.max()) >= logits.shape[1]:
        raise MetricUnavailable(f"class_acc needs a {logits.shape[1]}-class data set like the classifier's, "
                                f"this model has {int(ctx.labels.max()) + 1}+ classes")
    return {"accuracy": float((logits.argmax(1) == ctx.labels[:n]).double().mean())}


def _modes(ctx: _Context, n: int) -> Dict[str, float]:
    if ctx.points is not None:
        rep = mixture_mode_report(ctx.points[:n], ctx.data_name)
        return {"modes": rep.modes, "hq_fraction": rep.hq_fraction, "reverse_kl": rep.reverse_kl}
    rep = stacked_modes(ctx.fake_out[ctx.net]["digits"][:n])
    return {"modes": rep.modes, "kl": rep.kl}


SPECS: Dict[str, Spec] = {
    "fid": Spec("inception", True, "features", _fid, "Fréchet Inception Distance"),
    "kid": Spec("inception", True, "features", _kid, "Kernel Inception Distance, mean ± std over 100 subsets"),
    "pr": Spec("inception", True, "features", _pr, "precision/recall, Kynkäänniemi et al. 2019 (k=3)"),
    "dc": Spec("inception", True, "features", _dc, "density/coverage, Naeem et al. 2020 (k=5)"),
    "is": Spec("inception", False, "logits", _is, "Inception Score (needs weights with ImageNet logits)"),
    "cfid": Spec("classifier", True, "features", _fid, "FID on the gankit digit classifier's penultimate features"),
    "class_acc": Spec("classifier", False, "logits", _class_acc, "classifier accuracy on the conditioned class"),
    "modes": Spec(None, False, "logits", _modes,
                  "modes and KL: PacGAN 2-D mixtures (2,500 samples) or Stacked MNIST (26,000)", None),
}
ALIASES = {"prdc": ["pr", "dc"], "precision_recall": ["pr"], "density_coverage": ["dc"], "isc": ["is"]}


def parse_metrics(names: Union[str, Sequence[str]]) -> List[str]:
    """`"fid,kid,prdc"` or a list -> metric names with aliases expanded, duplicates dropped."""
    items = names.split(",") if isinstance(names, str) else list(names)
    out: List[str] = []
    for raw in items:
        name = raw.strip().lower()
        if not name:
            continue
        if name not in SPECS and name not in ALIASES:
            close = difflib.get_close_matches(name, [*SPECS, *ALIASES], n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"unknown metric '{raw}': {hint}choose from {', '.join([*SPECS, 'prdc'])}")
        out += [m for m in ALIASES.get(name, [name]) if m not in out]
    if not out:
        raise ConfigError("no metrics given: pass e.g. --metrics fid,kid,prdc")
    return out


def default_metrics(kind: str, data_name: str) -> List[str]:
    if kind == "points" or data_name == "stacked-mnist":
        return ["modes"]
    return ["fid", "kid", "pr", "dc"]


# --------------------------------------------------------------------------- real-feature cache

def _cache_file(key: Dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    shape = "x".join(map(str, key["shape"]))
    stem = re.sub(r"[^A-Za-z0-9.-]+", "_", f"{key['dataset']}-{key['split']}-{shape}-n{key['n']}")
    return cache_root() / "stats" / f"{stem}-{digest}.safetensors"


def _cache_load(key: Dict[str, Any]) -> Optional[Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = _cache_file(key)
    try:
        if json.loads(path.with_suffix(".json").read_text()).get("key") == key:
            return load_file(str(path))["features"]
    except (OSError, ValueError, KeyError, SafetensorError):
        pass
    return None


def _cache_save(key: Dict[str, Any], features: Tensor) -> None:
    from safetensors.torch import save

    from gankit.checkpoint import atomic_write_bytes, atomic_write_text

    path = _cache_file(key)
    atomic_write_bytes(path, save({"features": features.contiguous()}))
    atomic_write_text(path.with_suffix(".json"), json.dumps({"key": key}, indent=1) + "\n")


# --------------------------------------------------------------------------- evaluate

def _extract(net, images: Tensor, batch_size: int, log: Optional[Callable[[str], None]],
             what: str) -> Dict[str, Tensor]:
    """Run `net.extract` over `images` in batches; every output concatenated."""
    outs: Dict[str, List[Tensor]] = {}
    step = max(1, len(images) // 10 // batch_size) * batch_size
    for i in range(0, len(images), batch_size):
        for k, v in net.extract(images[i:i + batch_size]).items():
            outs.setdefault(k, []).append(v)
        if log and (i + batch_size) % step == 0 and i + batch_size < len(images):
            log(f"{what}: {i + batch_size}/{len(images)} images")
    return {k: torch.cat(v) for k, v in outs.items()}


def _source(source, data_dir, split, device):
    if isinstance(source, _ConfigSource):
        return source
    if isinstance(source, (tuple, list)):
        if len(source) != 2:
            raise ConfigError("pass a run directory/checkpoint, or a (real_dir, fake_dir) pair of image folders")
        return FolderSource(*source)
    return RunSource(source, data_dir=data_dir, split=split, device=device)


def _net_of(name: str, src) -> Optional[str]:
    if name == "modes":
        return None if src.kind == "points" else "classifier"
    return SPECS[name].net


def _metric_n(name: str, n: Optional[int], src) -> Optional[int]:
    """Samples for `name`: `n`, else the protocol default; None = every image of a folder."""
    if n is not None:
        return n
    if isinstance(src, FolderSource):
        return None
    if name == "modes":
        return PACGAN_NUM_SAMPLES if src.kind == "points" else PROTOCOL_SAMPLES
    return SPECS[name].n


def _check_applicable(name: str, src) -> None:
    if src.kind == "points" and name != "modes":
        raise ConfigError(f"metric '{name}' needs images but this run's data is 2-D points: use --metrics modes")
    if name in ("class_acc", "modes") and isinstance(src, FolderSource):
        raise ConfigError(f"metric '{name}' needs a run directory or checkpoint, not image folders")
    if name == "modes" and src.kind != "points" and src.data_name != "stacked-mnist":
        raise ConfigError(f"metric 'modes' needs a ring, grid or stacked-mnist run, not '{src.data_name}': "
                          "use fid,kid,prdc")


def _classifier_data(data_name: str) -> str:
    return {"fashion-mnist": "fashion-mnist", "digits": "digits"}.get(data_name, "mnist")


def _most(sizes: List[Optional[int]]) -> Optional[int]:
    return None if None in sizes else max(sizes)


def evaluate(source, metrics: Union[str, Sequence[str], None] = None, n: Optional[int] = None, *,
             inception_weights: Optional[str] = None, classifier: Optional[str] = None,
             data_dir: Optional[str] = None, split: str = "test", seed: int = 0, device="cpu",
             batch_size: int = 64, cache: bool = True, networks: Optional[Dict[str, Any]] = None,
             log: Optional[Callable[[str], None]] = None) -> List[MetricResult]:
    """Score `source` (run dir / checkpoint, or a `(real_dir, fake_dir)` pair of folders) on `metrics`.

    `n` samples per metric (default: 10,000 for image metrics, 2,500 / 26,000 for modes, every
    image for folders); real images come from the run's data config with `split`. `networks` may
    supply ready feature networks (`{"inception": ..., "classifier": ...}`: `.extract`, `.protocol`).
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 2):
        raise ConfigError(f"--n must be an integer >= 2, got {n!r}")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
    src = _source(source, data_dir, split, device)
    names = parse_metrics(metrics) if metrics else default_metrics(src.kind, src.data_name)
    check_metrics(names, src)
    sizes = {name: _metric_n(name, n, src) for name in names}
    nets = {kind: (networks or {}).get(kind) or _build_net(kind, inception_weights, classifier, src.data_name, device)
            for kind in needed_networks(names, src)}
    no_is = bool(getattr(nets.get("inception"), "logits_problem", None))  # known before any image is scored
    needs: Dict[str, Optional[int]] = {}  # network -> generated samples it must see
    for name in names:
        kind = _net_of(name, src)
        if kind and not (name == "is" and no_is):
            needs[kind] = _most([needs.get(kind, 0), sizes[name]])

    fake, labels = src.fake(_most(list(sizes.values())), seed)
    ctx = _Context(nets=nets, labels=labels, data_name=src.data_name, points=fake if src.kind == "points" else None)
    for kind, count in needs.items():
        ctx.fake_out[kind] = _fake_outputs(nets[kind], kind, fake[:count], names, src, batch_size, log)

    reals: Dict[Optional[int], _Real] = {}
    real_feats: Dict[Tuple[str, Optional[int]], Tensor] = {}
    results = []
    for name in names:
        spec = SPECS[name]
        ctx.net = _net_of(name, src) or ""
        proto = _protocol(src, nets.get(ctx.net), name, seed, tuple(fake.shape[1:]))
        proto["n_fake"] = len(fake[:sizes[name]])
        if spec.real:  # real images and their features, once per (count) and (network, count)
            if sizes[name] not in reals:
                reals[sizes[name]] = src.real(sizes[name])
            real, fkey = reals[sizes[name]], (ctx.net, sizes[name])
            if fkey not in real_feats:
                real_feats[fkey] = _real_features(nets[ctx.net], real, batch_size, cache, log, ctx.net)
            ctx.real_out[ctx.net] = real_feats[fkey]
            proto.update(n_real=len(real.images), split=real.split)
        try:
            results.append(MetricResult(name, spec.compute(ctx, proto["n_fake"]), proto))
        except MetricUnavailable as err:
            results.append(MetricResult(name, {}, proto, unavailable=str(err)))
    return results


def _fake_outputs(net, kind: str, images: Tensor, names: List[str], src, batch_size: int, log) -> Dict[str, Tensor]:
    """Network outputs on generated images: per-channel digits for Stacked-MNIST modes, else features + logits."""
    out: Dict[str, Tensor] = {}
    if kind == "classifier" and "modes" in names:
        out["digits"] = channel_digits(images, lambda x: net.extract(x)["logits"])
    if any(_net_of(m, src) == kind and m != "modes" for m in names):
        out.update(_extract(net, images, batch_size, log, f"{kind}, generated"))
    return out


def needed_networks(names: Sequence[str], src) -> List[str]:
    """Feature networks ('inception', 'classifier') that the metrics `names` read for this source."""
    return sorted({_net_of(name, src) for name in names} - {None})


def _build_net(kind: str, inception_weights, classifier, data_name: str, device):
    """A feature network, built without touching the global RNG (in-training evaluation must not change training:
    the modules' random initialisation, overwritten by the loaded weights, would shift the training's stream)."""
    with torch.random.fork_rng(devices=[]):
        if kind == "inception":
            return InceptionFeatures(inception_weights, device)
        return ClassifierFeatures(classifier, _classifier_data(data_name), device)


def build_networks(names: Sequence[str], src, *, inception_weights=None, classifier=None, device="cpu"):
    """The feature networks of `names`, built once (in-training evaluation reuses them)."""
    return {kind: _build_net(kind, inception_weights, classifier, src.data_name, device)
            for kind in needed_networks(names, src)}


def check_metrics(names: Sequence[str], src) -> None:
    """Raise ConfigError where a metric does not apply to this source."""
    for name in names:
        _check_applicable(name, src)


def flat_values(result: MetricResult) -> Dict[str, float]:
    """One result as flat scalars: `fid`, `class_acc`, `kid_mean`/`kid_std`, `precision`/`recall`, `modes`...

    Undefined values (None, e.g. KID's std when every subset is the whole sample) are left out."""
    v = {k: x for k, x in result.values.items() if x is not None}
    if len(result.values) == 1:
        return {result.name: float(x) for x in v.values()}
    if set(result.values) == {"mean", "std"}:
        return {f"{result.name}_{k}": float(x) for k, x in v.items()}
    return {k: float(x) for k, x in v.items()}


def _real_features(net, real: _Real, batch_size: int, cache: bool, log, kind: str) -> Tensor:
    """Features of the real images, read from / written to the cache when the source is a data set."""
    key = None
    if cache and real.key is not None:
        key = {**real.key, **{k: net.protocol[k] for k in ("features", "resize", "weights_sha256")}}
        hit = _cache_load(key)
        if hit is not None:
            return hit
    feats = _extract(net, real.images, batch_size, log, f"{kind}, real")["features"]
    if key is not None:
        _cache_save(key, feats)
    return feats


def _protocol(src, net, name: str, seed: int, shape) -> Dict[str, Any]:
    proto: Dict[str, Any] = {"n_real": NA, "n_fake": 0, "split": NA}
    if net is None:
        proto.update(resize="none", features="nearest mixture mean (PacGAN: HQ within 3 std)")
    else:
        used = net.protocol[SPECS[name].uses]
        gray = " gray tiled to 3" if shape[0] == 1 and getattr(net, "tiles_gray", False) else ""
        proto.update(input="x".join(map(str, shape)) + gray, resize=net.protocol["resize"],
                     features=f"per-channel argmax of {used}" if name == "modes" else used,
                     weights_sha256=net.protocol["weights_sha256"], weights=net.protocol["weights"])
    proto["seed"] = seed if isinstance(src, RunSource) else NA
    proto["source"] = src.description
    return proto


__all__ = ["ALIASES", "FolderSource", "MetricResult", "RunSource", "SPECS", "SampleSource", "build_networks",
           "check_metrics", "default_metrics", "evaluate", "flat_values", "load_image_folder", "parse_metrics"]
