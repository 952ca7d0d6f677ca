"""What pix2pix and CycleGAN share: their network options, building the networks, the adversarial
updates of fully convolutional (PatchGAN) discriminators, previews and the in-training evaluation."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional

import torch
from torch import nn

from .. import losses
from ..config import _opt
from ..errors import ConfigError
from ..nn.translation import build_translation_net, network_spec
from .base import DataSpec, Method
from .optim import grad_norm, make_optimizer, set_requires_grad

PREVIEW_ITEMS = 8  # images in a preview picture


@dataclass
class TranslationNetsConfig:
    """Network options of the image-to-image methods (each method's section sets its own defaults)."""
    generator: str = _opt("unet", choices=["unet", "resnet"], help="U-Net (pix2pix) or ResNet (CycleGAN) generator")
    blocks: int = _opt(9, min=1, help="residual blocks of the ResNet generator (6 or 9 in the paper)")
    depth: Optional[int] = _opt(None, min=1, help="U-Net downsamplings (default: log2 of the image size, at most 8)")
    g_width: int = _opt(64, min=1, help="generator base width (ngf)")
    d_width: int = _opt(64, min=1, help="discriminator base width (ndf)")
    d_layers: int = _opt(3, min=0, help="PatchGAN strided layers: 3 = 70x70 patches, 0 = the 1x1 PixelGAN")
    norm: str = _opt("batch", choices=["batch", "instance", "none"])
    dropout: float = _opt(0.5, min=0.0, max=0.95, help="generator dropout (U-Net: the noise source)")


def resolve_channels(spec: DataSpec) -> tuple:
    """(source channels, target channels) of a paired/unpaired data set."""
    info = spec.info
    return int(info.get("in_channels", spec.shape[0])), int(info.get("out_channels", spec.shape[0]))


class TranslationMethod(Method):
    """Base of the image-to-image methods: networks from a section of `TranslationNetsConfig` options."""

    section: str = ""
    data_kinds: tuple = ()
    data_names: tuple = ()  # the data sources named in the error for other data (default: data_kinds)

    def __init__(self, cfg, spec: DataSpec, device: torch.device):
        super().__init__(cfg, spec, device)
        if spec.kind not in self.data_kinds:
            raise ConfigError(f"method={cfg.method} needs data.name={' or '.join(self.data_names or self.data_kinds)} (got data.name="
                              f"{spec.name}, {spec.kind} data)")
        self.opts = getattr(cfg, self.section)  # the method's registered config section
        self.loss_name = self.adversarial_loss()
        self.size = int(spec.shape[-1])
        self.specs: Dict[str, dict] = {}

    # ------------------------------------------------------------------ networks

    def generator(self, name: str, in_channels: int, out_channels: int) -> nn.Module:
        o = self.opts
        if o.generator == "unet":
            args = dict(in_channels=in_channels, out_channels=out_channels, size=self.size, width=o.g_width,
                        norm=o.norm, dropout=o.dropout, depth=o.depth)
            cls = "UNetGenerator"
        else:
            args = dict(in_channels=in_channels, out_channels=out_channels, width=o.g_width, blocks=o.blocks,
                        norm=o.norm, dropout=o.dropout)
            cls = "ResNetGenerator"
        return self._add(name, cls, args)

    def discriminator(self, name: str, in_channels: int) -> nn.Module:
        o = self.opts
        return self._add(name, "PatchDiscriminator", dict(in_channels=in_channels, width=o.d_width,
                                                          n_layers=o.d_layers, norm=o.norm))

    def _add(self, name: str, cls: str, args: dict) -> nn.Module:
        net = self.place(build_translation_net(cls, args))
        self.networks[name] = net
        self.specs[name] = network_spec(net)
        return net

    def optimizer(self, name: str, nets: Iterable[nn.Module], lr: float, betas) -> None:
        params = [p for net in nets for p in net.parameters()]
        self.optimizers[name] = make_optimizer(params, self.cfg.optim.name, lr, betas, self.device)
        self.add_scaler(name)

    def network_specs(self) -> Dict[str, dict]:
        return {k: v for k, v in self.specs.items() if k.startswith("G")}

    def tasks(self) -> Dict[str, dict]:
        return {"translate": self.translators()}

    def translators(self) -> Dict[str, str]:
        """direction -> the generator that translates in it."""
        raise NotImplementedError

    # ------------------------------------------------------------------ losses and updates

    def d_loss(self, d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> tuple:
        """Half of D's loss on one real and one fake batch (the papers halve D's objective), and D's scores."""
        real_logits, fake_logits = d(real).float(), d(fake.detach()).float()
        loss = 0.5 * losses.d_loss(self.loss_name, real_logits, fake_logits, real_label=self.cfg.loss.real_label)
        return loss, self.score(real_logits), self.score(fake_logits)

    def g_adversarial(self, d: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        return losses.g_loss(self.loss_name, d(fake).float())

    def update(self, group: str, loss: torch.Tensor, nets: List[nn.Module]) -> torch.Tensor:
        """Backward and step the optimizer `group` (AMP-aware); returns the gradient norm of `nets`."""
        opt = self.optimizers[group]
        opt.zero_grad(set_to_none=True)
        self.backward(loss, group)
        self.unscale_(group, [opt])
        norm = self.finite_or_zero(grad_norm([p for n in nets for p in n.parameters()]), group)
        self.step(group, [opt])
        return norm

    def discriminators_trainable(self, names: Iterable[str], flag: bool) -> None:
        set_requires_grad([self.networks[n] for n in names], flag)

    # ------------------------------------------------------------------ previews and evaluation

    @torch.inference_mode()
    def run(self, name: str, x: torch.Tensor, amp: bool = True) -> torch.Tensor:
        """A generator's output in eval mode (BatchNorm's running statistics, no dropout); `amp=False` runs in
        fp32 whatever `train.amp` says (as a loaded model does)."""
        net = self.networks[name]
        was = net.training
        net.eval()
        with self.autocast() if amp else contextlib.nullcontext():
            out = net(x.to(self.device)).float()
        net.train(was)
        return out

    def directions(self, data, limit: Optional[int] = None):
        """The directions `gankit.metrics.translation` scores on `data` (a test split)."""
        from ..metrics.translation import test_directions

        fns = {d: self.translate_batches(g) for d, g in self.translators().items()}
        return test_directions(data, fns, self.cfg.data.direction, limit)

    def translate_batches(self, name: str, batch_size: int = 8):
        """A function mapping any batch through generator `name` in chunks of `batch_size` (eval mode)."""
        return lambda x: torch.cat([self.run(name, x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    def divergence_advice(self) -> str:
        return "try lower learning rates (optim.g_lr, optim.d_lr) or loss.name=lsgan"

    def diagnostics(self, run_dir, data):
        from ..monitor.diagnostics import Diagnostics
        from ..metrics.paired import DIRECTION

        m = self.cfg.monitor
        evaluator, names = None, []
        if m.eval_every:
            from ..metrics.translation import InTrainingEvaluation

            evaluation = InTrainingEvaluation(self, m.metrics)
            evaluator, names = evaluation, evaluation.names
        track = evaluation.track if names else None
        return Diagnostics(self.cfg, run_dir, self.probabilities, evaluator, track,
                           directions={**DIRECTION, "cycle_psnr": False})


def as_rgb(x: torch.Tensor) -> torch.Tensor:
    """Gray (N, 1, H, W) replicated to 3 channels, for pictures that mix gray and RGB images."""
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def interleave(*columns: torch.Tensor) -> torch.Tensor:
    """Rows of a picture grid: item i of every column side by side (a grid with nrow=len(columns))."""
    cols = [as_rgb(c.float().cpu()) for c in columns]
    return torch.stack(cols, dim=1).flatten(0, 1)

