"""Typed config: dataclass defaults, overlaid by a YAML preset, a YAML file and `key=value` overrides.

Every field may carry `metadata` with `choices`, `min` or `max`; `validate` checks them all.
Unknown keys are errors that name the closest valid key.

This module is the mechanism, not the list of every family's keys: a method registers its own
section (`register_section("pix2pix", Pix2PixConfig, methods=("pix2pix",))`) and its name
(`register_method`). A section belongs to the methods it names; a config written for one method
leaves the others' sections out, and setting a key of a section the method does not use is an error.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, List, Optional

import yaml

from .errors import ConfigError


class _Loader(yaml.SafeLoader):
    """YAML with the 1.2 booleans: only true/false are booleans, so `train.amp=off` stays the word "off"
    (YAML 1.1, PyYAML's default, reads on/off/yes/no as booleans)."""


_Loader.yaml_implicit_resolvers = {k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
                                   for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
YAML11_BOOLS = {"yes": True, "on": True, "no": False, "off": False}  # still accepted for a boolean key


def load_yaml(text: str) -> Any:
    """Parse config YAML (a file or an override's value) with `_Loader`."""
    return yaml.load(text, Loader=_Loader)


PRESET_DIR = Path(__file__).parent / "presets"


SECTIONS: dict = {}  # name -> (dataclass, methods that use it): sections registered by the methods
METHOD_NAMES: List[str] = []  # registered training methods (gankit.methods registers them)


def register_section(name: str, cls, methods: tuple) -> None:
    """Add the top-level config section `name` (a dataclass of `_opt` fields) used by `methods`."""
    if not is_dataclass(cls):
        raise TypeError(f"config section {name} must be a dataclass")
    SECTIONS[name] = (cls, tuple(methods))


def register_method(name: str) -> None:
    if name not in METHOD_NAMES:
        METHOD_NAMES.append(name)


def _opt(default, *, choices=None, min=None, max=None, help=""):
    meta = {"choices": choices, "min": min, "max": max, "help": help}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class DataConfig:
    name: str = _opt("digits", help="data source: digits, mnist, fashion-mnist, stacked-mnist, folder, ring, grid, "
                                       "fake, paired, unpaired, sr, moving-mnist, frames, captioned-mnist, "
                                       "captions")
    dir: Optional[str] = _opt(None, help="folder holding the data files (mnist, fashion-mnist, captioned-mnist, "
                                         "folder, captions)")
    size: Optional[int] = _opt(None, min=2, help="image side in pixels (None: the source's own)")
    channels: Optional[int] = _opt(None, choices=[1, 3, None])
    split: str = _opt("train", choices=["train", "test"])
    n: Optional[int] = _opt(None, min=1, help="points/images for synthetic sources, a cap for real ones")
    on_corrupt: str = _opt("error", choices=["error", "skip"])
    download: bool = _opt(False, help="download MNIST-format files through torchvision when online")
    direction: str = _opt("AtoB", choices=["AtoB", "BtoA"], help="paired/unpaired: which domain is the input")
    dir_a: Optional[str] = _opt(None, help="unpaired: folder of domain A images (default data.dir/trainA)")
    dir_b: Optional[str] = _opt(None, help="unpaired: folder of domain B images (default data.dir/trainB)")
    jitter: bool = _opt(True, help="paired/unpaired: random jitter (resize to 1.12x, random crop, flip)")
    scale: int = _opt(4, choices=[2, 3, 4], help="sr: the upscaling factor (LR = bicubic downscale of HR)")
    crop: int = _opt(96, min=2, help="sr: HR training crop side in pixels (a multiple of data.scale)")
    test_dir: Optional[str] = _opt(None, help="sr: HR test images (folders, comma-separated) for evaluation; "
                                              "frames: the test clips")
    frames_in: int = _opt(10, min=1, help="moving-mnist, frames: context frames given to the predictor")
    frames_out: int = _opt(10, min=1, help="moving-mnist, frames: future frames it predicts")
    digits: int = _opt(2, min=1, help="moving-mnist: digits per sequence; captioned-mnist: the most digits per "
                                      "image (1, or 2: half the images have two)")
    test_file: Optional[str] = _opt(None, help="moving-mnist: the standard mnist_test_seq.npy (default: 10,000 "
                                               "test sequences made from the MNIST test digits)")
    captions: Optional[str] = _opt(None, help="captions: the captions file, CSV with a header file,text or JSONL "
                                              "{\"file\": ..., \"text\": ...} per line, files relative to data.dir "
                                              "(default: data.dir/captions.jsonl, else data.dir/captions.csv)")


@dataclass
class GeneratorConfig:
    hidden: List[int] = _opt([256, 512, 1024], min=1, help="MLP hidden widths")
    width: int = _opt(64, min=1, help="DCGAN base width (ngf)")
    norm: str = _opt("bn", choices=["bn", "none"])
    out_activation: str = _opt("auto", choices=["auto", "tanh", "none"])
    cond: str = _opt("concat", choices=["concat", "cbn"])
    embed_dim: int = _opt(0, min=0)
    z_cat: int = _opt(0, min=0, help="a categorical latent of this many equally likely values, drawn from z's "
                                     "first coordinate (lets G be discontinuous between them; 0: off)")


@dataclass
class DiscriminatorConfig:
    hidden: List[int] = _opt([1024, 512, 256], min=1, help="MLP hidden widths")
    width: int = _opt(64, min=1, help="DCGAN base width (ndf)")
    norm: str = _opt("none", choices=["none", "bn", "layer"])
    spectral_norm: bool = _opt(False)
    pool: str = _opt("none", choices=["none", "avg", "max"])
    head: str = _opt("fc", choices=["fc", "conv"])
    leaky_slope: float = _opt(0.2, min=0.0, max=1.0)
    dropout: float = _opt(0.0, min=0.0, max=0.95)
    minibatch_disc: int = _opt(0, min=0, help="minibatch-discrimination kernels (0: off)")
    minibatch_disc_dim: int = _opt(16, min=1)
    mbstd: bool = _opt(False, help="minibatch standard-deviation feature")
    cond: str = _opt("concat", choices=["concat", "projection"])
    embed_dim: int = _opt(0, min=0)


@dataclass
class ModelConfig:
    arch: str = _opt("dcgan", choices=["dcgan", "mlp"])
    z_dim: int = _opt(100, min=1)
    conditional: bool = _opt(False, help="condition G and D on the class labels")
    g: GeneratorConfig = field(default_factory=GeneratorConfig)
    d: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)


@dataclass
class LossConfig:
    name: str = _opt("auto", choices=["auto", "minimax", "ns", "wasserstein", "hinge", "lsgan"],
                     help="adversarial loss; auto: the method's own (ns for gan and pix2pix, lsgan for cyclegan)")
    real_label: float = _opt(1.0, min=0.5, max=1.0, help="one-sided label smoothing (< 1)")
    gp: float = _opt(0.0, min=0.0, help="WGAN-GP gradient-penalty weight (10 in the paper)")
    r1: float = _opt(0.0, min=0.0, help="R1 penalty weight gamma")
    r1_every: int = _opt(1, min=1, help="lazy R1 (StyleGAN2): apply it every N D updates, weighted x N")
    clip: float = _opt(0.0, min=0.0, help="WGAN weight clipping bound (0: off)")


@dataclass
class OptimConfig:
    name: str = _opt("adam", choices=["adam", "rmsprop"])
    g_lr: float = _opt(2e-4, min=0.0)
    d_lr: float = _opt(2e-4, min=0.0)
    g_betas: List[float] = _opt([0.5, 0.999])
    d_betas: List[float] = _opt([0.5, 0.999])
    lr_decay: str = _opt("none", choices=["none", "linear", "cosine", "onecycle"],
                         help="decay both learning rates to 0 by the last step, starting at optim.decay_start "
                              "(onecycle: a cosine warm-up from lr/25 until then)")
    decay_start: float = _opt(0.0, min=0.0, max=1.0, help="fraction of training before the lr decay begins "
                                                          "(onecycle: the warm-up, torch's pct_start, e.g. 0.3)")


@dataclass
class GanConfig:
    num_discriminators: int = _opt(1, min=1, help="GMAN: number of discriminators")
    combine: str = _opt("mean", choices=["mean", "max", "softmax"])
    temperature: float = _opt(1.0, min=0.0, help="softmax combine: weight sharpness")
    d_width_factors: List[float] = _opt([], help="per-discriminator width multipliers")
    d_dropouts: List[float] = _opt([], help="per-discriminator dropout")
    pack: int = _opt(1, min=1, help="PacGAN: samples judged together by D")
    ema: float = _opt(0.0, min=0.0, max=1.0, help="EMA decay of G weights (0: off)")
    ema_start: int = _opt(0, min=0, help="G steps before the EMA starts averaging (a copy until then)")
    ema_warmup: bool = _opt(True, help="EMA decay ramps up as min(gan.ema, (1 + t) / (10 + t))")
    ema_bn_batches: int = _opt(16, min=1, help="batches of noise that give the EMA generator its own BatchNorm "
                                               "statistics before it samples or is saved (standing statistics)")
    augment: str = _opt("", help="DiffAugment policy, e.g. color,translation,cutout")
    instance_noise: float = _opt(0.0, min=0.0, help="instance-noise std, annealed to 0")
    topk: float = _opt(1.0, min=0.0, max=1.0, help="top-k (Sinha et al. 2020): G learns only from the fraction of "
                                                   "its samples (packs) that D scores most real; 1: all of them")
    topk_decay: float = _opt(0.99, min=0.0, max=1.0, help="with gan.topk < 1: that fraction starts at 1 and is "
                                                          "multiplied by this once per epoch, down to gan.topk")


@dataclass
class TrainConfig:
    steps: Optional[int] = _opt(None, min=1, help="G updates (overrides epochs)")
    epochs: Optional[float] = _opt(None, min=0.0, help="passes over the data")
    batch_size: int = _opt(64, min=1)
    d_steps: int = _opt(1, min=1, help="D updates per G update (n_critic)")
    max_minutes: Optional[float] = _opt(None, min=0.0, help="wall-clock budget: at the first log point past it, "
                                                            "checkpoint and end (resumable)")
    snapshot_minutes: List[float] = _opt([], help="keep checkpoints/minute-M when the run's training time passes "
                                                   "each of these minutes (time-to-quality curves; the time spent "
                                                   "writing them is not counted)")
    log_every: int = _opt(50, min=1)
    sample_every: int = _opt(500, min=1)
    checkpoint_every: int = _opt(1000, min=1)
    keep_checkpoints: int = _opt(3, min=1)
    device: str = _opt("auto", help="auto, cpu, cuda, cuda:N")
    channels_last: bool = _opt(True, help="channels-last memory format for image models (much faster on CPU)")
    compile: bool = _opt(False, help="torch.compile the networks; where compiling fails, warn once and run eagerly")
    compile_mode: str = _opt("default", choices=["default", "max-autotune-no-cudagraphs"],
                             help="torch.compile mode (with train.compile=true); the CUDA-graph modes are not "
                                  "offered: a GAN step calls D several times, and CUDA graphs overwrite earlier "
                                  "outputs")
    amp: str = _opt("off", choices=["off", "auto", "bf16", "fp16"],
                    help="autocast mixed precision: bf16 (GPU, or a CPU with bf16 support), fp16 (GPU only, "
                         "with a gradient scaler per optimizer group) or auto (bf16 where it is native: a GPU "
                         "with bf16, a CPU with AVX512-BF16 or AMX; else off)")
    cudnn_benchmark: bool = _opt(True, help="let cuDNN time and pick the fastest convolution algorithms (GPU only)")
    threads: Optional[int] = _opt(None, min=1, help="CPU intra-op threads (None: torch's default, one per core); "
                                                    "1 is often faster for small models or on a busy machine")
    sync_bn: bool = _opt(False, help="synchronise BatchNorm statistics across torchrun processes")
    progress: str = _opt("auto", choices=["auto", "bar", "lines", "none"])
    tensorboard: bool = _opt(True)


@dataclass
class MonitorConfig:
    alarms: bool = _opt(True, help="print and log training alarms (D wins, collapse, divergence, metric worsening)")
    stop_on_alarm: bool = _opt(False, help="checkpoint and stop at the first alarm")
    patience: int = _opt(3, min=1, help="consecutive logs/evaluations before an alarm fires")
    d_win: float = _opt(0.05, min=0.0, max=0.5, help="D wins when D(G(z)) < this and D(x) > 1 - this")
    collapse_ratio: float = _opt(0.2, min=0.0, max=1.0, help="collapse when sample diversity < this x real diversity")
    diverge: float = _opt(1e4, min=0.0, help="divergence when a loss or gradient norm exceeds this")
    eval_every: int = _opt(0, min=0, help="steps between in-training evaluations (0: off)")
    eval_n: int = _opt(2500, min=2, help="samples per in-training evaluation")
    metrics: str = _opt("auto", help="in-training metrics, as `gankit eval --metrics` (auto: modes for ring, grid "
                                     "and stacked-mnist, fid for other images)")
    track: str = _opt("auto", help="value kept best in checkpoints/best (auto: the first metric's: reverse_kl for "
                                   "2-D mixtures, kl for stacked-mnist, fid, cfid, class_acc, kid_mean, ...)")
    inception_weights: Optional[str] = _opt(None, help="Inception weights for in-training fid/kid/pr/dc "
                                                       "(default: the torch hub cache)")
    classifier: Optional[str] = _opt(None, help="digit classifier for in-training cfid/class_acc/stacked modes "
                                                "(default: the gankit cache)")


@dataclass
class RunConfig:
    dir: Optional[str] = _opt(None, help="run directory (default runs/<preset>-<time>)")


@dataclass
class Config:
    preset: Optional[str] = _opt(None)
    seed: int = _opt(0, min=0)
    method: str = _opt("gan", help="training method: gan, pix2pix, cyclegan, sr, video, text2image (the registered methods)")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig, metadata={"methods": ("gan",)})
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    gan: GanConfig = field(default_factory=GanConfig, metadata={"methods": ("gan",)})
    train: TrainConfig = field(default_factory=TrainConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self):
        for name, (cls, _) in SECTIONS.items():
            if not hasattr(self, name):
                setattr(self, name, cls())

    def to_dict(self) -> dict:
        """The resolved config: the core keys and the sections this config's method uses."""
        out = {}
        for name, _, methods in _children(self):
            if methods is None or self.method in methods:
                value = getattr(self, name)
                out[name] = dataclasses.asdict(value) if is_dataclass(value) else value
        return out


# --------------------------------------------------------------------------- keys and types

def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _children(obj_or_cls) -> list:
    """(name, type, methods) of a config node's fields; the root also lists the registered sections.
    `methods` is None for keys every method uses."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    hints = _hints(cls)
    out = [(f.name, hints[f.name], f.metadata.get("methods")) for f in fields(cls)]
    if cls is Config:
        out += [(name, sec, methods) for name, (sec, methods) in SECTIONS.items()]
    return out


def all_keys(cls=None, prefix: str = "") -> List[str]:
    """Every dotted key of the config tree (leaves only)."""
    keys = []
    for name, t, _ in _children(cls or Config):
        if is_dataclass(t):
            keys += all_keys(t, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def _unknown(key: str) -> ConfigError:
    close = difflib.get_close_matches(key, all_keys(), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else "; see `gankit train --dry-run` for all keys"
    return ConfigError(f"unknown config key '{key}'{hint}")


def _type_name(t) -> str:
    return getattr(t, "__name__", None) or str(t).replace("typing.", "")


def _coerce(key: str, value: Any, t) -> Any:
    """Check `value` against the annotation `t`, converting int->float and tuple->list."""
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin is typing.Union:  # Optional[X]; `none` typed on the command line means None too
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        inner = [a for a in args if a is not type(None)][0]
        return _coerce(key, value, inner)
    if origin in (list, List):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list like [1, 2], got {value!r}")
        return [_coerce(f"{key}[{i}]", v, args[0]) for i, v in enumerate(value)]
    if t is bool and isinstance(value, str) and value.lower() in YAML11_BOOLS:  # `_Loader` keeps them words
        value = YAML11_BOOLS[value.lower()]
    if t is float and isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    ok = (
        (t is bool and isinstance(value, bool))
        or (t is int and isinstance(value, int) and not isinstance(value, bool))
        or (t is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (t is str and isinstance(value, str))
    )
    if not ok:
        raise ConfigError(f"{key} must be {_type_name(t)}, got {value!r} ({type(value).__name__})")
    return float(value) if t is float else value


def _set(cfg, dotted: str, value: Any) -> None:
    obj, parts = cfg, dotted.split(".")
    for i, part in enumerate(parts):
        types = {name: t for name, t, _ in _children(obj)}
        if part not in types:
            raise _unknown(dotted)
        t = types[part]
        if i == len(parts) - 1:
            if is_dataclass(t):
                if not isinstance(value, dict):
                    raise ConfigError(f"{dotted} is a section; set its keys, e.g. {dotted}.{fields(t)[0].name}=...")
                for k, v in value.items():
                    _set(cfg, f"{dotted}.{k}", v)
            else:
                setattr(obj, part, _coerce(dotted, value, t))
        else:
            if not is_dataclass(t):
                raise _unknown(dotted)
            obj = getattr(obj, part)


def apply_mapping(cfg: Config, mapping: dict, prefix: str = "") -> None:
    """Overlay a nested dict (from YAML) onto `cfg`."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"a config file must hold a mapping of keys, got {type(mapping).__name__}")
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            _set(cfg, dotted, {})  # checks that the section exists
            apply_mapping(cfg, value, dotted + ".")
        else:
            _set(cfg, dotted, value)


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` with the value read as YAML (so 1e-4, true, [1, 2] and null work)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' is not key=value (e.g. train.steps=500)")
    key, raw = text.split("=", 1)
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


# --------------------------------------------------------------------------- validation

def validate(cfg, prefix: str = "") -> None:
    """Check choices and ranges of every field, and the cross-field rules."""
    metadata = {f.name: f.metadata for f in fields(cfg)}
    for name, _, _ in _children(cfg):
        value, key = getattr(cfg, name), prefix + name
        if is_dataclass(value):
            validate(value, key + ".")
            continue
        meta = metadata[name]
        if value is None:
            continue
        if meta.get("choices") is not None and value not in meta["choices"]:
            raise ConfigError(f"{key} must be one of {meta['choices']}, got {value!r}")
        for item in value if isinstance(value, list) else [value]:
            if meta.get("min") is not None and item < meta["min"]:
                raise ConfigError(f"{key} must be >= {meta['min']}, got {item!r}")
            if meta.get("max") is not None and item > meta["max"]:
                raise ConfigError(f"{key} must be <= {meta['max']}, got {item!r}")
    if prefix == "" and isinstance(cfg, Config):
        _validate_rules(cfg)


def _validate_sections(cfg: Config) -> None:
    """The method is registered, and no section of another method was changed from its defaults."""
    if METHOD_NAMES and cfg.method not in METHOD_NAMES:
        close = difflib.get_close_matches(str(cfg.method), METHOD_NAMES, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"method={cfg.method!r} is unknown: {hint}choose one of {', '.join(METHOD_NAMES)}")
    for name, t, methods in _children(cfg):
        if methods is None or cfg.method in methods or not is_dataclass(t):
            continue
        changed = config_changes(dataclasses.asdict(t()), dataclasses.asdict(getattr(cfg, name)))
        if changed:
            key = changed[0].split(":")[0]
            raise ConfigError(f"{name}.{key} is a setting of method {' / '.join(methods)}, but this config trains "
                              f"method={cfg.method}; drop it or set method={methods[0]}")


def _validate_rules(cfg: Config) -> None:
    _validate_sections(cfg)
    for key in ("g_betas", "d_betas"):
        betas = getattr(cfg.optim, key)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ConfigError(f"optim.{key} must be two numbers in [0, 1), got {betas}")
    if cfg.train.batch_size % cfg.gan.pack:
        raise ConfigError(f"train.batch_size ({cfg.train.batch_size}) must be a multiple of gan.pack ({cfg.gan.pack})")
    if cfg.model.conditional and cfg.gan.pack > 1:
        raise ConfigError(f"model.conditional=true with gan.pack={cfg.gan.pack}: D would judge a pack whose members "
                          "have different classes by one label; use gan.pack=1 for conditional models")
    for key in ("d_width_factors", "d_dropouts"):
        values = getattr(cfg.gan, key)
        if values and len(values) != cfg.gan.num_discriminators:
            raise ConfigError(f"gan.{key} needs one value per discriminator ({cfg.gan.num_discriminators}), got {values}")


# --------------------------------------------------------------------------- presets and loading

def list_presets() -> dict[str, str]:
    """Preset name -> one-line description."""
    out = {}
    for path in sorted(PRESET_DIR.glob("*.yaml")):
        doc = load_yaml(path.read_text()) or {}
        out[path.stem] = str(doc.get("description", "")).strip()
    return out


def _read_yaml(path: Path, what: str) -> dict:
    if not path.is_file():
        raise ConfigError(f"{what} '{path}' not found")
    try:
        doc = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{what} '{path}' is not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{what} '{path}' must hold a mapping of config keys")
    doc.pop("description", None)
    return doc


def preset_mapping(name: str) -> dict:
    presets = list_presets()
    if name not in presets:
        close = difflib.get_close_matches(name, list(presets), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"unknown preset '{name}'; {hint}run `gankit presets` to list them")
    return _read_yaml(PRESET_DIR / f"{name}.yaml", "preset")


DEFAULT_PRESET = "digits-dcgan"


def load_config(preset: Optional[str] = None, file: Optional[str] = None,
                overrides: Optional[List[str]] = None, mapping: Optional[dict] = None) -> Config:
    """Defaults <- preset <- YAML file <- mapping <- `key=value` overrides, then validated."""
    cfg = Config()
    file_doc = _read_yaml(Path(file), "config file") if file else {}
    name = preset or (mapping or {}).get("preset") or file_doc.get("preset")
    parsed = [parse_override(text) for text in overrides or []]
    other_method = any(key == "method" and value != "gan" for key, value in parsed)
    if name is None and not file_doc and not mapping and not other_method:
        name = DEFAULT_PRESET  # (a GAN preset: not for `method=pix2pix ...` without a preset)
    if name:
        apply_mapping(cfg, preset_mapping(name))
        cfg.preset = name
    apply_mapping(cfg, file_doc)
    apply_mapping(cfg, mapping or {})
    for key, value in parsed:
        _set(cfg, key, value)
    validate(cfg)
    return cfg


def config_from_dict(doc: dict) -> Config:
    """Rebuild a resolved config (as written into a run directory or checkpoint)."""
    cfg = Config()
    apply_mapping(cfg, doc)
    validate(cfg)
    return cfg


def _flat(doc: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def config_changes(old: dict, new: dict) -> List[str]:
    """`key: old -> new` for every leaf that differs between two config dicts."""
    a, b = _flat(old), _flat(new)
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def dump_yaml(cfg: Config) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
