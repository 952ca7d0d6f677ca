"""Single-image super-resolution: SRResNet (pixel loss) and SRGAN (Ledig et al. 2017).

G maps an LR crop to `scale` times its side. Its loss is `sr.pixel` x MSE (or L1) to the HR crop +
`sr.content` x MSE of frozen classifier features (VGG54, or the offline Inception stem without VGG
weights: `methods.content`) + `sr.adversarial` x the adversarial loss of SRGAN's discriminator on HR
crops. SRResNet is the pixel loss alone; SRGAN is content 0.006 (the paper's VGG loss rescaled by
1/12.75) + adversarial 1e-3, initialised from an SRResNet run (`sr.init_from=RUN_DIR`).
"""
from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from typing import Dict, Optional

import torch
import torch.nn.functional as F

from ..config import _opt, register_section
from ..errors import ConfigError
from ..monitor.images import save_grid
from .content import rolled_together, shifted_crops
from .conditional import PREVIEW_ITEMS, ConditionalMethod, interleave


@dataclass
class SRConfig:
    generator: str = _opt("srresnet", choices=["srresnet", "espcn"], help="SRResNet, or the light ESPCN")
    blocks: int = _opt(16, min=1, help="SRResNet residual blocks (16 in the paper)")
    width: int = _opt(64, min=1, help="generator channels (64 in the paper)")
    bn: bool = _opt(True, help="BatchNorm in SRResNet's blocks")
    pixel_loss: str = _opt("mse", choices=["mse", "l1"])
    pixel: float = _opt(1.0, min=0.0, help="weight of the pixel loss (SRGAN with VGG54: 0)")
    content: float = _opt(0.0, min=0.0, help="weight of the content (feature MSE) loss; SRGAN: 0.006")
    vgg_weights: Optional[str] = _opt(None, help="local torchvision VGG19 weights (vgg19-dcbb9e9d.pth) for the "
                                                 "VGG54 content loss; unset: the offline Inception-v3 features")
    content_shift: bool = _opt(True, help="content loss on a crop at a random offset below the feature network's "
                                          "stride each step (no stride-period checkerboard on the output)")
    adversarial: float = _opt(0.0, min=0.0, help="weight of the adversarial loss (SRGAN: 1e-3; 0: no D)")
    d_shift: bool = _opt(True, help="D sees real and fake crops rolled by one random 0..scale-1 px offset each "
                                    "step (never G's pixel-shuffle lattice at a fixed phase; sr-srgan's BSD100 "
                                    "patch FID 108.0 -> 83.1)")
    d_width: int = _opt(64, min=1, help="SRGAN discriminator base width")
    init_from: Optional[str] = _opt(None, help="start G from this run's weights (SRGAN from an SRResNet run)")


register_section("sr", SRConfig, methods=("sr",))


class SR(ConditionalMethod):
    """G: LR -> HR (SRResNet or ESPCN); D (SRGAN): HR crops vs G's outputs."""

    section = "sr"
    data_kinds = ("sr",)

    def __init__(self, cfg, spec, device):
        super().__init__(cfg, spec, device)
        self.scale, c, o = int(spec.info["scale"]), int(spec.info["in_channels"]), self.opts
        if o.generator == "srresnet":
            self.G = self._add("G", "SRResNet", dict(channels=c, scale=self.scale, blocks=o.blocks, width=o.width,
                                                     bn=o.bn))
        else:
            self.G = self._add("G", "ESPCN", dict(channels=c, scale=self.scale, width=o.width))
        self.optimizer("G", [self.G], cfg.optim.g_lr, cfg.optim.g_betas)
        self.adversarial = o.adversarial > 0
        if self.adversarial:
            self.D = self._add("D", "SRDiscriminator", dict(channels=c, size=self.size, width=o.d_width))
            self.optimizer("D", [self.D], cfg.optim.d_lr, cfg.optim.d_betas)
        self.content = None
        if o.content > 0:
            from .content import content_network

            self.content = content_network(o.vgg_weights, cfg.monitor.inception_weights).to(self.device)
        if o.pixel == 0 and o.content == 0:
            raise ConfigError("sr.pixel and sr.content are both 0: G would learn only from D; set sr.pixel=1 "
                              "(SRResNet) or sr.content=0.006 (SRGAN)")
        self.compile_networks()

    @property
    def protocol(self) -> dict:
        """What the losses use, stored in checkpoints and shown in `gankit eval` lines."""
        out = {"pixel_loss": self.opts.pixel_loss if self.opts.pixel else "none"}
        if self.content is not None:
            out.update(self.content.protocol, content_shift=self.content.stride if self.opts.content_shift else 0)
        else:
            out["content"] = "none"
        if self.adversarial:
            out["d_shift"] = self.scale if self.opts.d_shift else 0
        return out

    def initialize(self) -> None:
        """A new run with `sr.init_from`: G starts from that run's G (same class and arguments)."""
        if not self.opts.init_from:
            if self.adversarial:
                print("gankit: sr.init_from is not set: SRGAN trains G from scratch (the paper starts from an "
                      "SRResNet run: sr.init_from=RUN_DIR)", file=sys.stderr)
            return
        from ..checkpoint import split_weights
        from ..generator import load_weights, read_checkpoint

        ck, _, _ = read_checkpoint(self.opts.init_from)
        theirs = (ck.meta.get("networks") or {}).get("G")
        if theirs != self.specs["G"]:
            raise ConfigError(f"sr.init_from '{self.opts.init_from}' has G {theirs} but this run builds "
                              f"{self.specs['G']}: use the same sr.generator, blocks, width, bn and data.scale")
        load_weights(self.G, split_weights(ck.weights, "G")[0], ck.path)
        print(f"gankit: G initialised from {ck.path} (step {ck.step})", file=sys.stderr)

    def train_step(self, batches, step: int) -> Dict[str, torch.Tensor]:
        self.schedule_lr(step)
        batch = batches.next()
        lr, hr = batch["lr"], batch["hr"]
        o = self.opts
        with self.autocast():
            sr = self.trained("G")(lr)
        logs = {}
        if self.adversarial:
            d_real_in, d_fake_in = rolled_together(hr, sr, self.scale if o.d_shift else 1)
            self.discriminators_trainable(["D"], True)
            with self.autocast():
                loss_d, d_real, d_fake = self.d_loss(self.trained("D"), d_real_in, d_fake_in)
            logs.update(loss_d=loss_d.detach(), d_real=d_real, d_fake=d_fake,
                        grad_norm_d=self.update("D", loss_d, [self.D]))
            self.discriminators_trainable(["D"], False)
        with self.autocast():
            diff = sr.float() - hr.float()
            mse = diff.square().mean()
            pixel = mse if o.pixel_loss == "mse" else diff.abs().mean()
            loss_g = o.pixel * pixel
            if self.content is not None:
                sr_c, hr_c = shifted_crops(sr, hr, self.content.stride if o.content_shift else 1)
                with torch.no_grad():
                    target = self.content(hr_c).float()
                loss_c = F.mse_loss(self.content(sr_c).float(), target)
                loss_g = loss_g + o.content * loss_c
                logs["loss_content"] = loss_c.detach()
            if self.adversarial:
                adv = self.g_adversarial(self.D, d_fake_in)
                loss_g = loss_g + o.adversarial * adv
                logs["loss_g_gan"] = adv.detach()
        logs.update(loss_g=loss_g.detach(), pixel=pixel.detach(),
                    psnr_batch=10 * torch.log10(4 / mse.detach().clamp_min(1e-10)),
                    grad_norm_g=self.update("G", loss_g, [self.G]))
        return logs

    # ------------------------------------------------------------------ previews, tasks, evaluation

    def preview_inputs(self, n: int, seed: int) -> Dict[str, torch.Tensor]:
        """Centre crops (one training crop's size) of the first `PREVIEW_ITEMS` training images."""
        side, s = self.size // self.scale, self.scale
        lrs, hrs = [], []
        for item in itertools.islice(self.data.items(), min(n, PREVIEW_ITEMS)):
            lr, hr = item["lr"][0], item["hr"][0]
            top, left = (lr.shape[-2] - side) // 2, (lr.shape[-1] - side) // 2
            lrs.append(lr[:, top:top + side, left:left + side])
            hrs.append(hr[:, top * s:(top + side) * s, left * s:(left + side) * s])
        return {"lr": torch.stack(lrs).cpu(), "hr": torch.stack(hrs).cpu()}

    def preview(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.run("G", inputs["lr"]).clamp(-1, 1)

    def visualize(self, inputs, path, step: int) -> Optional[torch.Tensor]:
        """Rows of bicubic | G's output | HR."""
        from ..data.resize import imresize

        out = self.preview(inputs)
        bicubic = imresize(inputs["lr"], scale=self.scale).clamp(-1, 1)
        save_grid(interleave(bicubic, out, inputs["hr"]), path, nrow=3)
        return out

    def tasks(self) -> Dict[str, dict]:
        return {"upscale": {f"x{self.scale}": "G"}}

    def upscaler(self):
        """A function upscaling one (1, C, h, w) image in eval mode and fp32 (the numbers `gankit eval` gives),
        gray or RGB whatever G was trained on."""
        from ..models import match_channels

        c = int(self.spec.info["in_channels"])
        return lambda x: match_channels(self.run("G", match_channels(x.to(self.device), c), amp=False), x.shape[1])

    def diagnostics(self, run_dir, data):
        from ..metrics.sr import SR_DIRECTION, InTrainingSR
        from ..monitor.diagnostics import Diagnostics

        evaluation = InTrainingSR(self, self.cfg.monitor.metrics) if self.cfg.monitor.eval_every else None
        return Diagnostics(self.cfg, run_dir, self.probabilities, evaluation,
                           evaluation.track if evaluation else None, directions=SR_DIRECTION)
