"""CycleGAN (Zhu et al. 2017): unpaired translation between domains A and B with cycle consistency.

G_AB: A -> B and G_BA: B -> A, judged by D_B (real b vs G_AB(a)) and D_A (real a vs G_BA(b)); the
cycle losses ask G_BA(G_AB(a)) = a and G_AB(G_BA(b)) = b (weights `cycle.a`, `cycle.b`), the
identity loss G_AB(b) = b, G_BA(a) = a (`cycle.identity` x the cycle weight). Each D learns from an
image pool of `cycle.pool` earlier fakes (checkpointed, so resume is bit-exact). The paper's LSGAN
loss is `loss.name=auto`; its schedule (constant, then linear decay to 0) is optim.lr_decay=linear
with optim.decay_start=0.5.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch

from ..config import _opt, register_section
from ..monitor.images import save_grid
from ..metrics.translation import OTHER_DIRECTION
from .pool import ImagePool
from .conditional import PREVIEW_ITEMS, interleave
from .translation import TranslationMethod, TranslationNetsConfig, resolve_channels


@dataclass
class CycleConfig(TranslationNetsConfig):
    generator: str = _opt("resnet", choices=["unet", "resnet"], help="ResNet (the paper) or U-Net generator")
    norm: str = _opt("instance", choices=["batch", "instance", "none"])
    dropout: float = _opt(0.0, min=0.0, max=0.95, help="dropout in the residual blocks (0 in the paper)")
    a: float = _opt(10.0, min=0.0, help="weight of the cycle loss A -> B -> A (lambda_A)")
    b: float = _opt(10.0, min=0.0, help="weight of the cycle loss B -> A -> B (lambda_B)")
    identity: float = _opt(0.5, min=0.0, help="identity loss weight, a fraction of the cycle weights (0: off)")
    pool: int = _opt(50, min=0, help="earlier fakes kept per discriminator (0: no pool)")


register_section("cycle", CycleConfig, methods=("cyclegan",))


class CycleGAN(TranslationMethod):
    """Two generators and two PatchGAN discriminators; one optimizer for the Gs, one for the Ds."""

    section = "cycle"
    data_kinds = ("unpaired",)
    default_loss = "lsgan"

    def __init__(self, cfg, spec, device):
        super().__init__(cfg, spec, device)
        ca, cb = resolve_channels(spec)
        self.G_AB = self.generator("G_AB", ca, cb)
        self.G_BA = self.generator("G_BA", cb, ca)
        self.D_A = self.discriminator("D_A", ca)
        self.D_B = self.discriminator("D_B", cb)
        o = cfg.optim
        self.optimizer("G", [self.G_AB, self.G_BA], o.g_lr, o.g_betas)
        self.optimizer("D", [self.D_A, self.D_B], o.d_lr, o.d_betas)
        self.pools = {"A": ImagePool(self.opts.pool, seed=cfg.seed * 2 + 1),
                      "B": ImagePool(self.opts.pool, seed=cfg.seed * 2 + 2)}
        self.compile_networks()

    def train_step(self, batches, step: int) -> Dict[str, torch.Tensor]:
        self.schedule_lr(step)
        batch = batches.next()
        a, b = batch["a"], batch["b"]
        c = self.opts
        G_AB, G_BA = self.trained("G_AB"), self.trained("G_BA")
        self.discriminators_trainable(["D_A", "D_B"], False)
        with self.autocast():
            fake_b, fake_a = G_AB(a), G_BA(b)
            cycle_a = (G_BA(fake_b).float() - a).abs().mean()
            cycle_b = (G_AB(fake_a).float() - b).abs().mean()
            adv_ab, adv_ba = self.g_adversarial(self.D_B, fake_b), self.g_adversarial(self.D_A, fake_a)
            loss_g = adv_ab + adv_ba + c.a * cycle_a + c.b * cycle_b
            logs = {}
            if c.identity > 0:
                idt_b = (G_AB(b).float() - b).abs().mean()
                idt_a = (G_BA(a).float() - a).abs().mean()
                loss_g = loss_g + c.identity * (c.b * idt_b + c.a * idt_a)
                logs.update(identity_a=idt_a.detach(), identity_b=idt_b.detach())
        logs.update(loss_g=loss_g.detach(), loss_g_ab=adv_ab.detach(), loss_g_ba=adv_ba.detach(),
                    cycle_a=cycle_a.detach(), cycle_b=cycle_b.detach(),
                    grad_norm_g=self.update("G", loss_g, [self.G_AB, self.G_BA]))
        self.discriminators_trainable(["D_A", "D_B"], True)
        with self.autocast():
            loss_da, real_a, pooled_a = self.d_loss(self.trained("D_A"), a, self.pools["A"].query(fake_a))
            loss_db, real_b, pooled_b = self.d_loss(self.trained("D_B"), b, self.pools["B"].query(fake_b))
            loss_d = loss_da + loss_db
        logs.update(loss_d=loss_d.detach(), loss_d_a=loss_da.detach(), loss_d_b=loss_db.detach(),
                    d_real=(real_a + real_b) / 2, d_fake=(pooled_a + pooled_b) / 2,
                    grad_norm_d=self.update("D", loss_d, [self.D_A, self.D_B]))
        return logs

    # ------------------------------------------------------------------ previews, state

    def preview_inputs(self, n: int, seed: int) -> Dict[str, torch.Tensor]:
        """The first training images of each domain, un-jittered."""
        k = max(1, min(n, PREVIEW_ITEMS) // 2)
        return {"a": next(iter(self.data.items_a(batch_size=k)))["a"].cpu(),
                "b": next(iter(self.data.items_b(batch_size=k)))["b"].cpu()}

    def preview(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.run("G_AB", inputs["a"])

    def visualize(self, inputs, path, step: int) -> Optional[torch.Tensor]:
        """Rows of a | G_AB(a) | G_BA(G_AB(a)), then b | G_BA(b) | G_AB(G_BA(b))."""
        fake_b, fake_a = self.run("G_AB", inputs["a"]), self.run("G_BA", inputs["b"])
        rows_a = interleave(inputs["a"], fake_b, self.run("G_BA", fake_b))
        rows_b = interleave(inputs["b"], fake_a, self.run("G_AB", fake_a))
        save_grid(torch.cat([rows_a, rows_b]), path, nrow=3)
        return fake_b

    def translators(self) -> Dict[str, str]:
        """G_AB maps the data's `a` domain (A for data.direction=AtoB, B for BtoA) to `b`."""
        forward = self.cfg.data.direction
        return {forward: "G_AB", OTHER_DIRECTION[forward]: "G_BA"}

    def extra_state(self) -> dict:
        return {**super().extra_state(), "pools": {k: p.state_dict() for k, p in self.pools.items()}}

    def load_extra_state(self, state: Optional[dict]) -> None:
        super().load_extra_state(state)
        for name, sd in ((state or {}).get("pools") or {}).items():
            self.pools[name].load_state_dict(sd, self.device)
