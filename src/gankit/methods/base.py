"""What every training method provides to the generic trainer."""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

import torch
from torch import nn

from ..config import Config
from ..data.batches import BatchSource
from ..distributed import DistInfo, ddp_wrap
from ..nn.sync_bn import convert_sync_batchnorm
from ..nn.layers import channels_last_safe, to_channels_last
from .optim import lr_factor, scale_lr
from ..errors import ConfigError

AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}
BCE_LOSSES = ("minimax", "ns")  # D's output is a logit: logged D(x) is a probability


@dataclass
class DataSpec:
    """JSON-able facts about the training data that a checkpoint needs to rebuild the networks."""
    kind: str
    shape: Tuple[int, ...]
    num_classes: int = 0
    class_names: List[str] = field(default_factory=list)
    name: str = ""
    info: dict = field(default_factory=dict)

    @classmethod
    def from_dataset(cls, ds) -> "DataSpec":
        return cls(ds.kind, tuple(ds.shape), ds.num_classes, list(ds.class_names), ds.name, dict(ds.info))

    @classmethod
    def from_dict(cls, doc: dict) -> "DataSpec":
        doc = dict(doc)
        doc["shape"] = tuple(doc["shape"])
        return cls(**doc)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["shape"] = list(self.shape)
        return out


class Method:
    """A GAN family: declares networks and optimizers, and owns one training step.

    `train_step` returns a dict of 0-d tensors (no host sync); the trainer gathers them.
    `networks` and `optimizers` are saved and restored by the trainer; `extra_weights` carries
    extra tensors such as EMA weights, `extra_state` anything else (the AMP gradient scalers).

    Speed options shared by every method (all from `cfg.train`):
    `channels_last` (`place`), `compile` (`compile_networks`, with an eager fallback),
    `amp` (`autocast` around forward passes; for fp16 `backward`/`step` use one gradient scaler
    per optimizer group) and `cudnn_benchmark`.
    """

    batches_per_step: int = 1
    default_loss: str = "ns"  # what loss.name=auto means for this method

    def __init__(self, cfg: Config, spec: DataSpec, device: torch.device):
        self.cfg, self.spec, self.device = cfg, spec, torch.device(device)
        self.networks: Dict[str, nn.Module] = {}
        self.optimizers: Dict[str, torch.optim.Optimizer] = {}
        self.total_steps = 1
        self.dist = DistInfo()
        self.ddp: Dict[str, nn.Module] = {}
        self.amp_dtype = check_amp(cfg.train.amp, self.device)
        self.scalers: Dict[str, torch.amp.GradScaler] = {}
        self.compiled: List[str] = []
        self._compile_warned = False
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = cfg.train.cudnn_benchmark
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)

    # ------------------------------------------------------------------ placement and compilation

    def place(self, net: nn.Module) -> nn.Module:
        """Move a network to the device, channels-last for image-shaped data (every kind but points)
        when `train.channels_last` and the network allows it (`channels_last_safe`)."""
        net = net.to(self.device)
        if self.cfg.train.channels_last and self.spec.kind != "points" and channels_last_safe(net):
            net = to_channels_last(net)
        return net

    def compile_networks(self, names: Optional[Iterable[str]] = None) -> None:
        """`torch.compile` the named networks (default: all) in place when `train.compile` is on.

        Compiling in place keeps state_dict keys unchanged (checkpoints are the same with or
        without compile). Where compile is unavailable or fails to compile (when called, or when a
        network is run), a warning is given once and the network runs eagerly; errors raised while
        compiled code runs (out of memory, ...) are not caught (`compile_module`).
        """
        if not self.cfg.train.compile:
            return
        for name in names if names is not None else list(self.networks):
            if compile_module(self.networks[name], self._compile_failed, mode=self.cfg.train.compile_mode):
                self.compiled.append(name)

    def _compile_failed(self, net: nn.Module, err: BaseException) -> None:
        net._compiled_call_impl = None
        self.compiled = [k for k in self.compiled if self.networks.get(k) is not net]
        if not self._compile_warned:
            self._compile_warned = True
            cause = getattr(err, "inner_exception", None) or err  # what a backend raised, not dynamo's wrapper
            text = str(cause).strip()
            msg = text.splitlines()[0] if text else ""
            warnings.warn(f"train.compile=true but torch.compile failed ({type(cause).__name__}: {msg[:200]}); "
                          "running eagerly", RuntimeWarning, stacklevel=3)

    # ------------------------------------------------------------------ mixed precision

    def autocast(self):
        """Autocast context for forward passes and losses (a no-op when `train.amp=off`)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def add_scaler(self, group: str) -> None:
        """A gradient scaler for an optimizer group (only with `train.amp=fp16`)."""
        if self.amp_dtype == torch.float16:
            self.scalers[group] = torch.amp.GradScaler(self.device.type)

    def backward(self, loss: torch.Tensor, group: str) -> None:
        """`loss.backward()`, through the group's gradient scaler when there is one."""
        scaler = self.scalers.get(group)
        (scaler.scale(loss) if scaler is not None else loss).backward()

    def loss_scale(self, group: str) -> Optional[torch.Tensor]:
        """The group's current fp16 loss scale as a device tensor (no host sync), or None without one.

        Gradient penalties multiply by it before `autograd.grad` and divide after (PyTorch's AMP recipe)."""
        scaler = self.scalers.get(group)
        if scaler is None or not scaler.is_enabled():
            return None
        if scaler._get_scale_async() is None:  # created lazily by the first scale(): do it now
            scaler._lazy_init_scale_growth_tracker(self.device)
        return scaler._get_scale_async()

    def unscale_(self, group: str, optimizers: Iterable[torch.optim.Optimizer]) -> None:
        """Divide the group's gradients by the loss scale (before reading or clipping them)."""
        scaler = self.scalers.get(group)
        if scaler is not None:
            for opt in optimizers:
                scaler.unscale_(opt)

    def step(self, group: str, optimizers: Iterable[torch.optim.Optimizer]) -> None:
        """Step the group's optimizers (skipping steps with inf/NaN gradients under fp16) and update its scale."""
        scaler = self.scalers.get(group)
        for opt in optimizers:
            if scaler is not None:
                scaler.step(opt)
            else:
                opt.step()
        if scaler is not None:
            scaler.update()

    def finite_or_zero(self, value: torch.Tensor, group: str) -> torch.Tensor:
        """Under fp16 an overflowing step is expected (the scaler skips it): log 0, not inf."""
        if group in self.scalers:
            return torch.where(torch.isfinite(value), value, torch.zeros_like(value))
        return value

    # ------------------------------------------------------------------ the step

    # ------------------------------------------------------------------ distributed (torchrun)

    def distribute(self, info) -> None:
        """Wrap every network in DistributedDataParallel (optionally with synchronised BatchNorm).

        `self.networks` keep the plain modules (checkpoints and sampling use them); `self.ddp` holds
        the wrappers for the forward passes whose gradients must be averaged across ranks. Buffers
        are not broadcast in forward; `gankit.distributed` gives the BatchNorm policy.
        """
        self.dist = info
        for name, net in self.networks.items():
            if self.cfg.train.sync_bn:  # in place: the optimizers' Parameters stay the same objects
                convert_sync_batchnorm(net)
            self.ddp[name] = ddp_wrap(net, self.device)

    def trained(self, name: str) -> nn.Module:
        """The module to call in a training forward pass: its DDP wrapper when distributed."""
        return self.ddp.get(name, self.networks[name])

    def global_randn(self, n: int, *shape: int) -> torch.Tensor:
        """Normal noise for this rank's n items, drawn for the whole global batch and sliced, so every
        world size draws the same numbers (the same RNG state on each rank)."""
        world = self.dist.world
        z = torch.randn(n * world, *shape, device=self.device)
        return z[self.dist.rank * n:(self.dist.rank + 1) * n] if world > 1 else z

    def global_randint(self, high: int, n: int) -> torch.Tensor:
        world = self.dist.world
        y = torch.randint(high, (n * world,), device=self.device)
        return y[self.dist.rank * n:(self.dist.rank + 1) * n] if world > 1 else y

    def adversarial_loss(self) -> str:
        """`loss.name`, with `auto` resolved to this method's default."""
        from ..losses import check_loss

        name = self.cfg.loss.name
        return check_loss(self.default_loss if name == "auto" else name)

    @property
    def probabilities(self) -> bool:
        """Whether D's outputs are logits of probabilities (the BCE losses), for logs and alarms."""
        return self.loss_name in BCE_LOSSES

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        """D's mean verdict as logged: a probability for the BCE losses, the raw critic value otherwise."""
        logits = logits.detach()
        return torch.sigmoid(logits).mean() if self.probabilities else logits.mean()

    def setup(self, total_steps: int) -> None:
        self.total_steps = max(1, total_steps)

    def initialize(self) -> None:
        """Called once before the first step of a new run (not on resume), e.g. to load another run's weights."""

    def schedule_lr(self, step: int) -> None:
        """Apply `optim.lr_decay` to every optimizer (stateless in the step, so resume is exact)."""
        o = self.cfg.optim
        if o.lr_decay != "none":
            factor = lr_factor(step, self.total_steps, o.lr_decay, o.decay_start)
            for opt in self.optimizers.values():
                scale_lr(opt, factor)

    def train_step(self, batches: BatchSource, step: int) -> Dict[str, torch.Tensor]:
        """One update from `batches.next()` (a dict of named tensors); returns 0-d tensors to log."""
        raise NotImplementedError

    def attach(self, data) -> None:
        """The training data, for methods whose previews or evaluation show real items (called once)."""
        self.data = data

    def preview_inputs(self, n: int, seed: int) -> Dict[str, torch.Tensor]:
        """Fixed inputs for the periodic preview pictures (saved in checkpoints)."""
        raise NotImplementedError

    def preview(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Outputs in data space for `preview_inputs` (in eval mode, under inference mode)."""
        raise NotImplementedError

    def visualize(self, inputs: Dict[str, torch.Tensor], path, step: int) -> Optional[torch.Tensor]:
        """Write the preview picture for `inputs` to `path`; return the images shown (for TensorBoard and
        the collapse alarm) or None."""
        raise NotImplementedError

    def diagnostics(self, run_dir, data):
        """The alarms and in-training evaluation that make sense for this method (`monitor.Diagnostics`)."""
        from ..monitor.diagnostics import Diagnostics

        return Diagnostics(self.cfg, run_dir, probabilities=False)

    def divergence_advice(self) -> str:
        """What to try when a loss becomes NaN/inf (the end of the trainer's message)."""
        return "try lower learning rates (optim.g_lr, optim.d_lr)"

    def tasks(self) -> Dict[str, dict]:
        """What a loaded model of this method can do, e.g. {"translate": {"AtoB": "G_AB", "BtoA": "G_BA"}}."""
        return {}

    @property
    def protocol(self) -> dict:
        """Facts about how the losses were computed (e.g. which feature network), for checkpoints and results."""
        return {}

    def network_specs(self) -> Dict[str, dict]:
        """name -> {"class": registered architecture, "config": constructor arguments} for the networks a
        loaded model needs (stored in the checkpoint, so loading rebuilds them without the config)."""
        return {}

    # ------------------------------------------------------------------ state

    def extra_weights(self) -> Dict[str, Dict[str, torch.Tensor]]:
        return {}

    def load_extra_weights(self, weights: Dict[str, Dict[str, torch.Tensor]]) -> None:
        pass

    def extra_state(self) -> dict:
        """Trainer state beyond the optimizers (JSON-able or tensors): the gradient scalers."""
        return {"scalers": {k: s.state_dict() for k, s in self.scalers.items()}}

    def load_extra_state(self, state: Optional[dict]) -> None:
        """Restore `extra_state()`; missing entries (an older checkpoint, or amp changed) keep their defaults."""
        for name, sd in ((state or {}).get("scalers") or {}).items():
            if name in self.scalers and sd:
                self.scalers[name].load_state_dict(sd)

    def train(self, mode: bool = True) -> None:
        for net in self.networks.values():
            net.train(mode)


def amp_name(dtype: Optional[torch.dtype]) -> str:
    """What autocast ran as: off, bf16 or fp16 (`train.amp=auto` resolved)."""
    return next(k for k, v in AMP_DTYPES.items() if v == dtype)


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast is fast on `device`: a CUDA GPU with bfloat16, or a CPU with AVX512-BF16 or AMX
    (on other CPUs oneDNN emulates bfloat16, about 3x slower than fp32 for gankit's CPU presets)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return device.type == "cpu" and any(getattr(torch.cpu, p, lambda: False)() for p in probes)


def check_amp(amp: str, device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype for `train.amp` on `device` (auto: bf16 where `native_bf16`, else none), or a
    ConfigError where it cannot work."""
    if amp not in AMP_DTYPES and amp != "auto":
        raise ConfigError(f"train.amp must be one of {['auto', *AMP_DTYPES]}, got {amp!r}")
    if amp == "auto":
        return torch.bfloat16 if native_bf16(device) else None
    dtype = AMP_DTYPES[amp]
    if dtype is None:
        return None
    if device.type == "cuda":
        if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
            raise ConfigError("train.amp=bf16 but this GPU has no bfloat16 support; use train.amp=fp16")
        return dtype
    if device.type == "cpu" and dtype == torch.bfloat16:
        if not torch.backends.mkldnn.is_available() or not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            raise ConfigError("train.amp=bf16 on the CPU needs a CPU with bfloat16 support (AVX512-BF16/AMX); "
                              "use train.amp=off")
        if not native_bf16(device):
            warnings.warn("train.amp=bf16: this CPU has no native bfloat16 (AVX512-BF16/AMX), so it is emulated "
                          "and slower than fp32; train.amp=auto picks bf16 only where it is native")
        return dtype
    if dtype == torch.float16:
        raise ConfigError(f"train.amp=fp16 needs a CUDA GPU (device is {device.type}); "
                          "use train.amp=off" + (" or bf16" if device.type == "cpu" else ""))
    raise ConfigError(f"train.amp={amp} is not supported on device {device.type}; use train.amp=off")


def compile_module(net: nn.Module, on_failure, **options) -> bool:
    """Compile `net` in place (its `__call__`; parameters and state_dict are untouched).

    Returns False (after `on_failure(net, err)`) where `torch.compile` raises at once. Otherwise a
    call that fails to compile calls `on_failure` and is re-run eagerly. Compile errors are dynamo's
    (`TorchDynamoException`: BackendCompilerFailed with inductor's InductorError, Unsupported,
    InternalTorchDynamoError, TorchRuntimeError from tracing on fake tensors). With `fullgraph=True`
    a call is one graph, compiled before any of it runs, so no state (BatchNorm statistics,
    spectral-norm vectors, RNG) has changed when it fails, and an error of the network's own is
    raised again by the eager call. Errors raised while the compiled code runs (out of memory, a
    kernel failing) propagate as they are: re-running would apply the step's side effects twice.
    """
    try:
        compiled = torch.compile(net._call_impl, fullgraph=True, **options)
    except Exception as err:  # torch.compile unavailable here (platform, Python version, ...)
        on_failure(net, err)
        return False
    from torch._dynamo.exc import TorchDynamoException

    def call(*args, **kwargs):
        try:
            return compiled(*args, **kwargs)
        except TorchDynamoException as err:
            on_failure(net, err)
            return net._call_impl(*args, **kwargs)

    net._compiled_call_impl = call
    return True
