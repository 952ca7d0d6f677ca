"""pix2pix (Isola et al. 2017): paired image-to-image translation with a conditional PatchGAN.

D judges (input, output) pairs, concatenated along channels; G minimises the adversarial loss plus
`pix2pix.l1` x L1 to the target. `pix2pix.lambda_gan=0` is the L1-only regression baseline (the
same network and budget, no discriminator is trained).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch

from ..config import _opt, register_section
from ..monitor.images import save_grid
from .conditional import PREVIEW_ITEMS, interleave
from .translation import TranslationMethod, TranslationNetsConfig, resolve_channels


@dataclass
class Pix2PixConfig(TranslationNetsConfig):
    l1: float = _opt(100.0, min=0.0, help="weight of the L1 loss to the target (lambda_L1, 100 in the paper)")
    lambda_gan: float = _opt(1.0, min=0.0, help="weight of the adversarial loss (0: the L1-only baseline)")


register_section("pix2pix", Pix2PixConfig, methods=("pix2pix",))


class Pix2Pix(TranslationMethod):
    """G: source -> target (U-Net by default); D: PatchGAN on cat(source, image)."""

    section = "pix2pix"
    data_kinds = ("paired",)

    def __init__(self, cfg, spec, device):
        super().__init__(cfg, spec, device)
        c_in, c_out = resolve_channels(spec)
        self.G = self.generator("G", c_in, c_out)
        o = cfg.optim
        self.optimizer("G", [self.G], o.g_lr, o.g_betas)
        self.adversarial = self.opts.lambda_gan > 0
        if self.adversarial:
            self.D = self.discriminator("D", c_in + c_out)
            self.optimizer("D", [self.D], o.d_lr, o.d_betas)
        self.compile_networks()

    def train_step(self, batches, step: int) -> Dict[str, torch.Tensor]:
        self.schedule_lr(step)
        batch = batches.next()
        source, target = batch["source"], batch["target"]
        with self.autocast():
            fake = self.trained("G")(source)
        logs = {}
        if self.adversarial:
            self.discriminators_trainable(["D"], True)
            with self.autocast():
                loss_d, d_real, d_fake = self.d_loss(self.trained("D"), torch.cat([source, target], 1),
                                                     torch.cat([source, fake], 1))
            logs.update(loss_d=loss_d.detach(), d_real=d_real, d_fake=d_fake,
                        grad_norm_d=self.update("D", loss_d, [self.D]))
            self.discriminators_trainable(["D"], False)
        with self.autocast():
            l1 = (fake.float() - target.float()).abs().mean()
            loss_g = self.opts.l1 * l1
            if self.adversarial:
                adv = self.g_adversarial(self.D, torch.cat([source, fake], 1))
                loss_g = loss_g + self.opts.lambda_gan * adv
                logs["loss_g_gan"] = adv.detach()
        logs.update(loss_g=loss_g.detach(), l1=l1.detach(), grad_norm_g=self.update("G", loss_g, [self.G]))
        return logs

    # ------------------------------------------------------------------ previews

    def preview_inputs(self, n: int, seed: int) -> Dict[str, torch.Tensor]:
        """The first `PREVIEW_ITEMS` training pairs, un-jittered."""
        first = next(iter(self.data.items(batch_size=min(n, PREVIEW_ITEMS, len(self.data)))))
        return {"source": first["source"].cpu(), "target": first["target"].cpu()}

    def preview(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.run("G", inputs["source"])

    def visualize(self, inputs, path, step: int) -> Optional[torch.Tensor]:
        """Rows of input | output | target."""
        out = self.preview(inputs)
        save_grid(interleave(inputs["source"], out, inputs["target"]), path, nrow=3)
        return out

    def translators(self) -> Dict[str, str]:
        """direction -> generator: what `gankit.load(run).translate` offers."""
        return {self.cfg.data.direction: "G"}
