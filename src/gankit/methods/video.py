"""Next-frame video prediction with adversarial training (Mathieu et al. 2016 on a SimVP or ConvLSTM predictor).

G maps `frames_in` context frames to the `frames_out` that follow. Its loss is `video.recon` x the L1 or L2
reconstruction error + `video.gdl` x the gradient-difference loss (Mathieu et al.: the mean of
| |dY| - |dP| |^alpha over both image axes) + `video.adv` x the adversarial loss of a discriminator that
sees whole sequences (context + true future vs context + prediction). `video.adv=0` is the deterministic
baseline: the same network and budget, no D.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch

from ..config import _opt, register_section
from ..errors import ConfigError
from ..monitor.images import save_grid
from .conditional import PREVIEW_ITEMS, ConditionalMethod

PREVIEW_SEQUENCES = 4  # sequences in a preview strip (each: context, truth, prediction)


@dataclass
class VideoConfig:
    predictor: str = _opt("simvp", choices=["simvp", "convlstm"], help="SimVP/TAU (all frames at once) or ConvLSTM")
    hidden_s: int = _opt(32, min=2, help="SimVP: channels of the per-frame encoder and decoder")
    hidden_t: int = _opt(256, min=4, help="SimVP: channels of the temporal translator")
    spatial: int = _opt(4, min=1, help="SimVP: encoder (and decoder) layers; every second one halves the size")
    temporal: int = _opt(4, min=1, help="SimVP: translator blocks")
    project: bool = _opt(False, help="SimVP: every translator block at hidden_t between 1x1 projections (false: the "
                                     "last block runs at frames_out x hidden_s, as SimVP's; true is 1.35x faster)")
    lka: int = _opt(21, min=3, help="SimVP: the attention's large kernel K, as depthwise 5x5 + depthwise ceil(K/3) "
                                   "at dilation 3 (TAU: 21 = 5x5 + 7x7; 9 = 5x5 + 3x3, cheaper on CPUs)")
    hidden: int = _opt(64, min=1, help="ConvLSTM: channels of each cell")
    layers: int = _opt(3, min=1, help="ConvLSTM: stacked cells")
    kernel: int = _opt(5, min=1, help="ConvLSTM: gate convolution size (odd)")
    down: Optional[int] = _opt(None, min=0, help="SimVP: stride-2 encoder layers (None: every second layer)")
    patch: Optional[int] = _opt(None, min=1, help="frames folded into patch x patch patches (space-to-depth) "
                                                  "before the network (None: 4 for ConvLSTM, 1 for SimVP)")
    recon_loss: str = _opt("l2", choices=["l1", "l2"], help="reconstruction error (OpenSTL: l2)")
    recon: float = _opt(1.0, min=0.0, help="weight of the reconstruction loss")
    gdl: float = _opt(0.0, min=0.0, help="weight of the gradient-difference loss (Mathieu et al.: 1)")
    gdl_alpha: float = _opt(1.0, min=1.0, help="exponent of the gradient-difference loss")
    adv: float = _opt(0.0, min=0.0, help="weight of the adversarial loss (0: the deterministic baseline, no D)")
    d_width: int = _opt(64, min=1, help="sequence discriminator base width")
    d_depth: int = _opt(3, min=1, help="sequence discriminator stride-2 layers")


register_section("video", VideoConfig, methods=("video",))


def gradient_difference(pred: torch.Tensor, true: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Mathieu et al.'s gradient-difference loss of (..., H, W) frames, averaged over the pixels."""
    def grads(x):
        return (x[..., 1:, :] - x[..., :-1, :]).abs(), (x[..., :, 1:] - x[..., :, :-1]).abs()

    (py, px), (ty, tx) = grads(pred), grads(true)
    return (ty - py).abs().pow(alpha).mean() + (tx - px).abs().pow(alpha).mean()


class Video(ConditionalMethod):
    """G: context frames -> future frames (SimVP or ConvLSTM); D (when video.adv > 0): whole sequences."""

    section = "video"
    data_kinds = ("video",)
    data_names = ("moving-mnist", "frames")

    def __init__(self, cfg, spec, device):
        super().__init__(cfg, spec, device)
        info, o = spec.info, self.opts
        self.frames_in, self.frames_out = int(info["frames_in"]), int(info["frames_out"])
        c = self.channels = int(spec.shape[1])
        frames = dict(channels=c, frames_in=self.frames_in, frames_out=self.frames_out)
        if o.predictor == "simvp":
            self.G = self._add("G", "SimVP", dict(**frames, hidden_s=o.hidden_s, hidden_t=o.hidden_t,
                                                  spatial=o.spatial, temporal=o.temporal, patch=o.patch or 1,
                                                  down=o.down, kernel=o.lka, project=o.project))
        else:
            self.G = self._add("G", "ConvLSTM", dict(**frames, hidden=o.hidden, layers=o.layers, kernel=o.kernel,
                                                     patch=o.patch or 4))
        self.optimizer("G", [self.G], cfg.optim.g_lr, cfg.optim.g_betas)
        self.adversarial = o.adv > 0
        if self.adversarial:
            self.D = self._add("D", "SequenceDiscriminator", dict(channels=c, frames=self.frames_in + self.frames_out,
                                                                  width=o.d_width, depth=o.d_depth))
            self.optimizer("D", [self.D], cfg.optim.d_lr, cfg.optim.d_betas)
        if o.recon == 0 and o.gdl == 0:
            raise ConfigError("video.recon and video.gdl are both 0: G would learn only from D; set video.recon=1")
        self.compile_networks()

    @property
    def protocol(self) -> dict:
        o = self.opts
        return {"recon": o.recon_loss, "gdl": o.gdl, "adv": o.adv, "frames": f"{self.frames_in}->{self.frames_out}"}

    def split(self, frames: torch.Tensor) -> tuple:
        """(context, future) of a (N, T, C, H, W) batch of whole sequences."""
        return frames[:, :self.frames_in], frames[:, self.frames_in:self.frames_in + self.frames_out]

    def train_step(self, batches, step: int) -> Dict[str, torch.Tensor]:
        self.schedule_lr(step)
        context, future = self.split(batches.next()["frames"])
        o = self.opts
        with self.autocast():
            pred = self.trained("G")(context)
        logs = {}
        if self.adversarial:
            self.discriminators_trainable(["D"], True)
            with self.autocast():
                loss_d, d_real, d_fake = self.d_loss(self.trained("D"), torch.cat([context, future], 1),
                                                     torch.cat([context, pred], 1))
            logs.update(loss_d=loss_d.detach(), d_real=d_real, d_fake=d_fake,
                        grad_norm_d=self.update("D", loss_d, [self.D]))
            self.discriminators_trainable(["D"], False)
        with self.autocast():
            diff = pred.float() - future.float()
            mse = diff.square().mean()
            recon = mse if o.recon_loss == "l2" else diff.abs().mean()
            loss_g = o.recon * recon
            if o.gdl:
                gdl = gradient_difference(pred.float(), future.float(), o.gdl_alpha)
                loss_g = loss_g + o.gdl * gdl
                logs["gdl"] = gdl.detach()
            if self.adversarial:
                adv = self.g_adversarial(self.D, torch.cat([context, pred], 1))
                loss_g = loss_g + o.adv * adv
                logs["loss_g_gan"] = adv.detach()
        pixels = future[0, 0].numel()
        logs.update(loss_g=loss_g.detach(), recon=recon.detach(),
                    mse_frame=mse.detach() * pixels / 4,  # OpenSTL's per-frame MSE: sum over pixels in [0, 1]
                    grad_norm_g=self.update("G", loss_g, [self.G]))
        return logs

    # ------------------------------------------------------------------ previews, tasks, evaluation

    def preview_inputs(self, n: int, seed: int) -> Dict[str, torch.Tensor]:
        """The first sequences of the training data's fixed set (the same at every step, so previews compare)."""
        batch = next(iter(self.data.items(min(n, PREVIEW_SEQUENCES, PREVIEW_ITEMS))))
        context, future = self.split(batch["frames"])
        return {"context": context.cpu(), "future": future.cpu()}

    def preview(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.run("G", inputs["context"]).clamp(-1, 1)

    def visualize(self, inputs, path, step: int) -> Optional[torch.Tensor]:
        """Per sequence three rows: the context, the true future, the prediction (one frame per column).
        Returns the strip's frames as images (N, C, H, W), the form the trainer logs to TensorBoard."""
        strip = strip_rows(inputs["context"], inputs["future"], self.preview(inputs))
        save_grid(strip, path, nrow=max(self.frames_in, self.frames_out))
        return strip

    def tasks(self) -> Dict[str, dict]:
        return {"predict": {"next": "G"}}

    def predictor(self):
        """A function predicting a batch of context sequences in eval mode and fp32 (what `gankit eval` gives)."""
        return lambda context: self.run("G", context, amp=False)

    def divergence_advice(self) -> str:
        return ("try a lower optim.g_lr" + (", a lower video.adv or optim.d_lr, or loss.name=lsgan" if self.adversarial
                                           else ""))

    def diagnostics(self, run_dir, data):
        from ..metrics.video import LOWER_IS_BETTER, InTrainingVideo
        from ..monitor.diagnostics import Diagnostics

        evaluation = InTrainingVideo(self, self.cfg.monitor.metrics) if self.cfg.monitor.eval_every else None
        return Diagnostics(self.cfg, run_dir, self.probabilities, evaluation,
                           evaluation.track if evaluation else None, directions=LOWER_IS_BETTER)


def strip_rows(context: torch.Tensor, future: Optional[torch.Tensor], pred: torch.Tensor) -> torch.Tensor:
    """Frames for a grid of `max(T)` columns: per sequence the context row, the true future row (if known)
    and the predicted row, each padded with blank (-1) frames to the row length."""
    width = max(context.shape[1], pred.shape[1])

    def row(x):
        pad = x.new_full((width - x.shape[0], *x.shape[1:]), -1.0)
        return torch.cat([x.float().cpu(), pad.float().cpu()])

    rows = []
    for i in range(context.shape[0]):
        rows += [row(context[i])] + ([row(future[i])] if future is not None else []) + [row(pred[i])]
    return torch.cat(rows)
