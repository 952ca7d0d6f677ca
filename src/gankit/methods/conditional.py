"""What the conditional families share (pix2pix, CycleGAN, super-resolution, video prediction, text-to-image):
named networks rebuilt from their self-description, their optimizers, the adversarial updates of a generator
judged by a discriminator, and running a network in eval mode for previews and evaluation."""
from __future__ import annotations

import contextlib
from typing import Dict, Iterable, List

import torch
from torch import nn

from .. import losses
from ..errors import ConfigError
from ..nn.translation import build_translation_net, network_spec
from .base import DataSpec, Method
from .optim import grad_norm, make_optimizer, set_requires_grad

PREVIEW_ITEMS = 8  # images in a preview picture


class ConditionalMethod(Method):
    """Base of the methods whose G maps an input (image, low-resolution image, context frames) to an output;
    the method's options are its registered config section (`opts`)."""

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

    # ------------------------------------------------------------------ losses and updates

    def d_loss(self, d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> tuple:
        """Half of D's loss on one real and one fake batch (the papers halve D's objective), and D's scores."""
        real_logits, fake_logits = d(real).float(), d(fake.detach()).float()
        loss = 0.5 * losses.d_loss(self.loss_name, real_logits, fake_logits, real_label=self.cfg.loss.real_label)
        return loss, self.score(real_logits), self.score(fake_logits)

    def g_adversarial(self, d: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        return losses.g_loss(self.loss_name, d(fake).float())

    def update(self, group: str, loss: torch.Tensor, nets: List[nn.Module], also: Iterable[str] = ()) -> torch.Tensor:
        """Backward and step the optimizer `group` (AMP-aware); returns the gradient norm of `nets`. The
        optimizers named in `also` (e.g. a text encoder trained through D's loss) step with it, through the
        group's gradient scaler."""
        opts = [self.optimizers[group], *(self.optimizers[k] for k in also)]
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        self.backward(loss, group)
        self.unscale_(group, opts)
        norm = self.finite_or_zero(grad_norm([p for n in nets for p in n.parameters()]), group)
        self.step(group, opts)
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

    def divergence_advice(self) -> str:
        return "try lower learning rates (optim.g_lr, optim.d_lr) or loss.name=lsgan"



def as_rgb(x: torch.Tensor) -> torch.Tensor:
    """Gray (N, 1, H, W) replicated to 3 channels, for pictures that mix gray and RGB images."""
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def interleave(*columns: torch.Tensor) -> torch.Tensor:
    """Rows of a picture grid: item i of every column side by side (a grid with nrow=len(columns))."""
    cols = [as_rgb(c.float().cpu()) for c in columns]
    return torch.stack(cols, dim=1).flatten(0, 1)

