"""The GAN method: one generator against one or more discriminators, conditional or not, any loss.

Every stabiliser is an option of this one step: the loss (minimax, non-saturating, Wasserstein,
hinge, least squares), gradient penalty, R1, weight clipping, k D-steps per G-step, one-sided label
smoothing, instance noise, DiffAugment, packing (PacGAN), several discriminators (GMAN) and an EMA of G.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict
from typing import Dict, List, Optional

import torch
from torch import nn

from .. import losses
from ..augment import diff_augment, parse_policy
from ..ema import EMA
from ..errors import ConfigError
from ..nn import build_discriminator, build_generator
from ..nn.layers import pack_samples
from .base import BatchSource, DataSpec, Method
from .optim import grad_norm, make_optimizer, set_requires_grad

PREVIEW_SEED = 1234  # the scatter plots of 2-D runs
EVAL_SEED = 4321  # the in-training evaluation samples


class GAN(Method):
    """Alternating D and G updates of the adversarial game."""

    def __init__(self, cfg, spec: DataSpec, device: torch.device):
        super().__init__(cfg, spec, device)
        m, g = cfg.model, cfg.gan
        self.loss_name = self.adversarial_loss()
        if spec.kind not in ("image", "points"):
            other = {"paired": "pix2pix", "unpaired": "cyclegan"}.get(spec.kind, spec.kind)
            raise ConfigError(f"method=gan needs images or points, not {spec.kind} data (data.name={spec.name}): "
                              f"use method={other} for it")
        if m.conditional and spec.num_classes == 0:
            raise ConfigError(f"model.conditional=true needs labelled data, and data.name={spec.name} has no labels")
        self.num_classes = spec.num_classes if m.conditional else 0
        self.z_dim = m.z_dim
        self.G = build_generator(m.arch, out_shape=spec.shape, z_dim=m.z_dim,
                                 num_classes=self.num_classes, **asdict(m.g))
        self.G = self.place(self.G)
        self.Ds: List[nn.Module] = [self.place(self._build_discriminator(i)) for i in range(g.num_discriminators)]
        self.d_names = ["D"] if len(self.Ds) == 1 else [f"D{i}" for i in range(len(self.Ds))]
        self.networks = {"G": self.G, **dict(zip(self.d_names, self.Ds))}
        o = cfg.optim
        self.optimizers = {"G": make_optimizer(self.G.parameters(), o.name, o.g_lr, o.g_betas, device)}
        for name, d in zip(self.d_names, self.Ds):
            self.optimizers[name] = make_optimizer(d.parameters(), o.name, o.d_lr, o.d_betas, device)
        self.ema = EMA(self.G, decay=g.ema, start_step=g.ema_start, warmup=g.ema_warmup, inputs=self._ema_inputs,
                       bn_batches=g.ema_bn_batches, seed=cfg.seed) if g.ema > 0 else None
        self.add_scaler("D")
        self.add_scaler("G")
        self.policy = parse_policy(g.augment)
        if self.policy and spec.kind != "image":
            raise ConfigError("gan.augment (DiffAugment) needs image data; clear it for 2-D points")
        warn_batch_coupled_gp(cfg)
        self.d_steps = cfg.train.d_steps
        self.batches_per_step = self.d_steps
        self.noise_std = 0.0
        self.data_key = "image" if spec.kind == "image" else "points"
        self.compile_networks()  # after the EMA copy: the shadow stays an eager module

    def _build_discriminator(self, index: int) -> nn.Module:
        g, d = self.cfg.gan, dict(asdict(self.cfg.model.d))
        if g.d_width_factors:
            f = g.d_width_factors[index]
            d["width"] = max(1, round(d["width"] * f))
            d["hidden"] = [max(1, round(h * f)) for h in d["hidden"]]
        if g.d_dropouts:
            d["dropout"] = g.d_dropouts[index]
        return build_discriminator(self.cfg.model.arch, in_shape=self.spec.shape,
                                   num_classes=self.num_classes, pack=g.pack, **d)

    # ------------------------------------------------------------------ helpers

    def noise(self, n: int) -> torch.Tensor:
        return self.global_randn(n, self.z_dim)

    def _ema_inputs(self, gen: torch.Generator) -> tuple:
        """One training-sized batch of G's inputs drawn from `gen` (for the EMA's BatchNorm statistics)."""
        n = self.cfg.train.batch_size
        z = torch.randn(n, self.z_dim, generator=gen).to(self.device)
        y = torch.randint(self.num_classes, (n,), generator=gen).to(self.device) if self.num_classes else None
        return z, y

    def fake_labels(self, n: int) -> Optional[torch.Tensor]:
        return self.global_randint(self.num_classes, n) if self.num_classes else None

    def judge(self, d: nn.Module, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        """D's logits (float32, also under autocast) for a batch, after DiffAugment, instance noise and packing."""
        if self.policy:
            x = diff_augment(x, self.policy)
        if self.noise_std > 0:
            x = x + self.noise_std * torch.randn_like(x)
        m = self.cfg.gan.pack
        if m > 1:  # unconditional only (config refuses packs with labels)
            x = pack_samples(x, m)
        return d(x, y).float()

    # ------------------------------------------------------------------ the step

    def train_step(self, batches: BatchSource, step: int) -> Dict[str, torch.Tensor]:
        self.schedule_lr(step)
        if self.cfg.gan.instance_noise > 0:
            self.noise_std = losses.instance_noise_std(step, self.total_steps, self.cfg.gan.instance_noise)
        set_requires_grad(self.Ds, True)
        for i in range(self.d_steps):
            batch = batches.next()
            real, y_real = batch[self.data_key], batch.get("label")
            n = real.shape[0]
            z, y_fake = self.noise(n), self.fake_labels(n)
            if self.d_steps == 1:  # reuse G(z) for the G update
                with self.autocast():
                    fake = self.trained("G")(z, y_fake)
            else:
                with torch.no_grad(), self.autocast():
                    fake = self.trained("G")(z, y_fake)
            logs = self._d_update(real, y_real, fake.detach(), y_fake, self._r1_weight(step * self.d_steps + i))
        set_requires_grad(self.Ds, False)
        if self.d_steps != 1:
            z, y_fake = self.noise(n), self.fake_labels(n)
            with self.autocast():
                fake = self.trained("G")(z, y_fake)
        logs.update(self._g_update(fake, y_fake, self._topk_fraction(step)))
        if self.ema is not None:
            self.ema.update(self.G, step)
        return logs

    def _r1_weight(self, d_update: int) -> float:
        """gamma of R1 for this D update: lazily (StyleGAN2), every `loss.r1_every` updates, x r1_every."""
        c = self.cfg.loss
        return c.r1 * c.r1_every if c.r1 > 0 and d_update % c.r1_every == 0 else 0.0

    def _d_update(self, real, y_real, fake, y_fake, r1_weight: float) -> Dict[str, torch.Tensor]:
        c = self.cfg.loss
        if r1_weight > 0:
            real = real.detach().requires_grad_(True)
        with self.autocast():
            total, scores_real, scores_fake, extras = self._d_losses(real, y_real, fake, y_fake, r1_weight)
        opts = [self.optimizers[name] for name in self.d_names]
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        self.backward(total, "D")
        self.unscale_("D", opts)
        params = [p for d in self.Ds for p in d.parameters()]
        extras["grad_norm_d"] = self.finite_or_zero(grad_norm(params), "D")
        self.step("D", opts)
        if c.clip > 0:
            for d in self.Ds:
                losses.clip_weights_(d, c.clip)
        k = len(self.Ds)
        return {"loss_d": total.detach() / k, "d_real": sum(scores_real) / k,
                "d_fake": sum(scores_fake) / k, **extras}

    def _d_losses(self, real, y_real, fake, y_fake, r1_weight: float):
        c = self.cfg.loss
        total, scores_real, scores_fake, extras = 0.0, [], [], {}
        for d in (self.trained(name) for name in self.d_names):
            real_logits = self.judge(d, real, y_real)
            fake_logits = self.judge(d, fake, y_fake)
            loss = losses.d_loss(self.loss_name, real_logits, fake_logits, real_label=c.real_label)
            if c.gp > 0:
                gp = losses.gradient_penalty(lambda x, y=None, d=d: self.judge(d, x, y), real, fake, y=y_real,
                                             pack=self.cfg.gan.pack, scale=self.loss_scale("D"))
                loss = loss + c.gp * gp
                extras["gp"] = gp.detach()
            if r1_weight > 0:
                r1 = losses.r1_penalty(real_logits, real, pack=self.cfg.gan.pack, scale=self.loss_scale("D"))
                loss = loss + 0.5 * r1_weight * r1
                extras["r1"] = r1.detach()
            total = total + loss
            scores_real.append(self.score(real_logits))
            scores_fake.append(self.score(fake_logits))
        return total, scores_real, scores_fake, extras

    def _topk_fraction(self, step: int) -> float:
        """The fraction of G's samples (packs) its update learns from at this step (gan.topk)."""
        g = self.cfg.gan
        if g.topk >= 1.0:
            return 1.0
        epoch = step * self.d_steps * self.cfg.train.batch_size / max(1, len(self.data))
        return losses.topk_fraction(epoch, g.topk, g.topk_decay)

    def _g_update(self, fake, y_fake, fraction: float = 1.0) -> Dict[str, torch.Tensor]:
        with self.autocast():
            per_d = torch.stack([losses.g_loss(self.loss_name, losses.top_k(self.judge(d, fake, y_fake), fraction))
                                 for d in self.Ds])
            loss = combine_losses(per_d, self.cfg.gan.combine, self.cfg.gan.temperature)
        opt = self.optimizers["G"]
        opt.zero_grad(set_to_none=True)
        self.backward(loss, "G")
        self.unscale_("G", [opt])
        norm = self.finite_or_zero(grad_norm(list(self.G.parameters())), "G")
        self.step("G", [opt])
        return {"loss_g": loss.detach(), "grad_norm_g": norm}

    # ------------------------------------------------------------------ sampling, state

    def sampling_generator(self) -> nn.Module:
        return self.ema.ready() if self.ema is not None else self.G

    def preview_inputs(self, n: int, seed: int) -> Dict[str, torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        inputs = {"z": torch.randn(n, self.z_dim, generator=gen)}
        if self.num_classes:
            inputs["y"] = torch.arange(n) % self.num_classes
        return inputs

    @torch.inference_mode()
    def preview(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        g = self.sampling_generator()
        was_training = g.training
        g.eval()
        y = inputs.get("y")
        with self.autocast():
            out = g(inputs["z"].to(self.device), y.to(self.device) if y is not None else None)
        g.train(was_training)
        return out.float()

    def visualize(self, inputs: Dict[str, torch.Tensor], path, step: int) -> Optional[torch.Tensor]:
        """A grid of the fixed-noise samples (one column per class when conditional); for 2-D points a
        scatter plot of 2,500 samples over the mixture's means."""
        from ..monitor.images import save_grid, save_scatter

        if self.spec.kind == "image":
            out = self.preview(inputs)
            save_grid(out, path, nrow=self.num_classes or 8)
            return out
        big = self.preview(self.preview_inputs(2500, PREVIEW_SEED))
        save_scatter(big, path, means=self.spec.info.get("means"), title=f"step {step}")
        return None

    def diagnostics(self, run_dir, data):
        from ..monitor.diagnostics import gan_diagnostics

        def sample():
            inputs = self.preview_inputs(self.cfg.monitor.eval_n, EVAL_SEED)
            return self.preview(inputs), inputs.get("y")
        return gan_diagnostics(self.cfg, self.spec, data.x, run_dir, self.probabilities, sample,
                               self.device)

    def divergence_advice(self) -> str:
        return "try a lower learning rate, loss.gp=10 or model.d.spectral_norm=true"

    def extra_weights(self) -> Dict[str, Dict[str, torch.Tensor]]:
        return {"G_ema": self.ema.state_dict()} if self.ema is not None else {}

    def load_extra_weights(self, weights) -> None:
        if self.ema is not None and "G_ema" in weights:
            self.ema.load_state_dict(weights["G_ema"])


def warn_batch_coupled_gp(cfg) -> None:
    """WGAN-GP penalises each input's own gradient; a D whose output for one input depends on the rest of
    the batch (BatchNorm, minibatch discrimination, minibatch stddev) makes that penalty ill-defined."""
    d = cfg.model.d
    coupled = [name for name, on in (("model.d.norm=bn", d.norm == "bn"), ("model.d.minibatch_disc", d.minibatch_disc > 0),
                                     ("model.d.mbstd", d.mbstd)) if on]
    if cfg.loss.gp > 0 and coupled:
        warnings.warn(f"loss.gp with {' and '.join(coupled)}: D's output for one sample depends on the others in its "
                      "batch, so the per-sample gradient penalty does not constrain D as WGAN-GP intends; the paper "
                      "uses model.d.norm=layer (or none) in the critic", RuntimeWarning, stacklevel=2)


def combine_losses(per_d: torch.Tensor, how: str, temperature: float = 1.0) -> torch.Tensor:
    """GMAN: G's loss against several discriminators — their mean, max, or softmax-weighted mean.

    The softmax weights softmax(temperature * loss_i) are treated as constants (no gradient through
    them); temperature 0 gives the mean and a large temperature approaches the max.
    """
    if how == "mean" or per_d.numel() == 1:
        return per_d.mean()
    if how == "max":
        return per_d.max()
    if how == "softmax":
        weights = torch.softmax(temperature * per_d.detach(), dim=0)
        return (weights * per_d).sum()
    raise ConfigError(f"gan.combine must be mean, max or softmax, got {how!r}")
