"""Text-to-image synthesis: GAN-INT-CLS (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis").

Phase 1, steps [0, text.pretrain_steps): the caption encoder E and an image encoder I learn a joint embedding
with the symmetric InfoNCE loss (`nn.text.contrastive_loss`, learnable temperature); nothing else trains.
Phase 2: G(z, E(caption)) against the matching-aware D, E frozen (or, with text.finetune, trained through D's
loss). The phase is a function of the step alone, so a resume is exact on either side of the boundary.

D's loss (Reed et al., Alg. 1) with s_r = D(x, e), s_w = D(x, e_w), s_f = D(G(z, e), e), e_w another item's
caption: d_loss(s_r, [s_w, s_f]), i.e. the real term + 1/2 x the fake term of s_w + 1/2 x that of s_f, for
every `loss.name`. G's loss: g_loss(D(G(z, e), e)) + g_loss(D(G(z', e_i), e_i)) with e_i = beta e + (1 - beta)
e_w (GAN-INT; text.int_beta = beta, 0: off) + text.ca_kl x the conditioning augmentation's KL. e_w comes from
`mismatched`; text.diffaugment augments every image D sees. With text.g_attention G also reads E's word
features (`nn.word_attention`); GAN-INT then attends over both captions' words, each weighted by its share.
Previews and loaded models use the EMA of G (text.ema); checkpoints carry the vocabulary in
meta["tasks"]["sample_text"], so sampling needs no data.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Dict, Optional

import torch
from torch import nn

from .. import losses
from ..augment import diff_augment, parse_policy
from ..config import _opt, register_section
from ..data.captioned_mnist import caption_key
from ..ema import EMA
from ..errors import ConfigError, DataError
from ..monitor.images import save_grid
from ..nn.text import JointEmbedding, contrastive_loss, similarity
from ..nn.translation import network_spec
from ..nn.word_attention import TextEmbedding, caption_batch
from .conditional import PREVIEW_ITEMS, ConditionalMethod

PRETRAIN_BETAS = (0.9, 0.999)  # Adam's own: the contrastive phase is not a GAN
STAT_CAPTIONS = 64  # fixed training captions that give the EMA generator its BatchNorm statistics
LAYOUT_KEYS = ("digits", "positions", "relation")  # captioned-mnist: what a caption says about its image


@dataclass
class TextConfig:
    embed_dim: int = _opt(64, min=1, help="E: word-embedding size")
    hidden: int = _opt(128, min=1, help="E: GRU hidden size (each direction)")
    layers: int = _opt(1, min=1, help="E: GRU layers")
    text_dim: int = _opt(128, min=1, help="sentence-embedding size (E's output, the joint embedding)")
    image_width: int = _opt(32, min=1, help="I (the image encoder of the pre-training): base width")
    pretrain_steps: int = _opt(1000, min=0, help="phase 1: contrastive pre-training of E + I for this many steps")
    lr: float = _opt(1e-3, min=0.0, help="learning rate of E + I (and of E fine-tuned through D's loss)")
    finetune: bool = _opt(False, help="phase 2 trains E through D's loss (false: E is frozen)")
    z_dim: int = _opt(100, min=1, help="G: noise size")
    cond_dim: int = _opt(128, min=1, help="G: size of the text condition concatenated to z")
    g_width: int = _opt(64, min=1, help="G: base width")
    ca: bool = _opt(True, help="G: StackGAN's conditioning augmentation (else Linear + LeakyReLU, as Reed et al.)")
    g_fusion: bool = _opt(False, help="G: the condition also modulates every BatchNorm of G (DF-GAN-style affine, "
                                      "zero-initialised), not only the 1x1 input")
    g_attention: int = _opt(0, min=0, help="G: word-level attention (AttnGAN in spirit) modulates G's maps up to "
                                             "this side (e.g. 16): each place looks up the caption's words (0: off)")
    g_spatial: int = _opt(0, min=0, help="G (with g_fusion): the modulation of G's maps up to this side (e.g. 8) is "
                                         "position-specific, so a caption naming two digits at two places can "
                                         "modulate each place with its own digit (0: the same everywhere; on "
                                         "captioned-mnist 8 helped two-digit captions and hurt held-out ones)")
    ca_kl: float = _opt(1.0, min=0.0, help="weight of the conditioning augmentation's KL term in G's loss")
    int_beta: float = _opt(0.5, min=0.0, max=1.0, help="GAN-INT: G is also judged on beta e1 + (1 - beta) e2 "
                                                        "(Reed et al.: 0.5; 0: off)")
    d_width: int = _opt(64, min=1, help="D: base width")
    proj_dim: int = _opt(128, min=1, help="D: size of the text projection replicated over the 4x4 map")
    spectral_norm: bool = _opt(False, help="D: spectral normalisation (then no BatchNorm)")
    projection: bool = _opt(False, help="D: add the projection term <W e, pooled features> (Miyato & Koyama)")
    diffaugment: str = _opt("", help="DiffAugment policy for D's images, real and fake (e.g. translation,cutout)")
    hard_negatives: bool = _opt(False, help="the data's contrast captions (captioned-mnist: the two digits "
                                            "swapped, a lone digit moved) as extra wrong captions: in pre-training, "
                                            "for half of D's mismatched pairs and in the match loss (NegCLIP's hard "
                                            "negatives, Yuksekgonul et al. 2023)")
    match_weight: float = _opt(0.0, min=0.0, help="G: weight of a caption-image InfoNCE loss on G's images through "
                                                  "the pre-trained image encoder I, frozen after phase 1 (AttnGAN's "
                                                  "DAMSM, XMC-GAN in spirit; 0: off)")
    ema: float = _opt(0.999, min=0.0, max=1.0, help="EMA decay of G's weights (0: off); samples use the EMA")
    ema_bn_batches: int = _opt(8, min=1, help="batches that give the EMA generator its own BatchNorm statistics")


register_section("text", TextConfig, methods=("text2image",))


def mismatched(batch: Dict[str, torch.Tensor]) -> torch.Tensor:
    """For each item the index of another item whose caption does not describe it: the next item (a roll by
    one), or where the batch says what its captions describe (captioned-mnist's `caption_key`) the first
    following item whose caption says something else (the next one when every caption says the same)."""
    n = batch["tokens"].shape[0]
    ar = torch.arange(n, device=batch["tokens"].device)
    idx = (ar[:, None] + ar[1:]) % n  # (n, n - 1): the other items in roll order
    if not all(k in batch for k in LAYOUT_KEYS):
        return idx[:, 0]
    key = caption_key(batch["digits"], batch["positions"], batch["relation"])
    differs = (key[idx] != key[:, None]).any(-1)
    return idx.gather(1, differs.int().argmax(1, keepdim=True))[:, 0]  # argmax: the first True (else 0)


class GanIntCls(ConditionalMethod):
    """E: caption -> embedding; I: image -> embedding (pre-training only); G: (z, embedding) -> image;
    D: (image, embedding) -> logit."""

    section = "text"
    data_kinds = ("text-image",)
    data_names = ("captioned-mnist", "captions")

    def __init__(self, cfg, spec, device):
        super().__init__(cfg, spec, device)
        o, c = self.opts, int(spec.shape[0])
        self.policy = parse_policy(o.diffaugment)
        if cfg.train.batch_size < 2:
            raise ConfigError("method=text2image needs train.batch_size >= 2: mismatched captions come from the batch")
        unsupported = [k for k, on in (("loss.gp", cfg.loss.gp > 0), ("loss.r1", cfg.loss.r1 > 0),
                                       ("loss.clip", cfg.loss.clip > 0), ("train.d_steps", cfg.train.d_steps != 1))
                       if on]
        if unsupported:
            raise ConfigError(f"method=text2image does not support {', '.join(unsupported)}: regularise D with "
                              "text.spectral_norm=true (e.g. with loss.name=hinge) or text.diffaugment instead")
        self.joint = self.place(JointEmbedding(int(spec.info["vocabulary"]), channels=c, size=self.size,
                                               embed_dim=o.embed_dim, hidden=o.hidden, width=o.image_width,
                                               out_dim=o.text_dim, layers=o.layers))
        self.E, self.I = self.joint.text, self.joint.image
        for name, net in (("E", self.E), ("I", self.I)):
            self.networks[name], self.specs[name] = net, network_spec(net)
        self.G = self._add("G", "TextConditionedGenerator", dict(z_dim=o.z_dim, text_dim=o.text_dim,
                                                                  cond_dim=o.cond_dim, channels=c, size=self.size,
                                                                  width=o.g_width, ca=o.ca, fusion=o.g_fusion,
                                                                  spatial=o.g_spatial, attention=o.g_attention,
                                                                  word_dim=2 * o.hidden))
        self.D = self._add("D", "MatchingAwareDiscriminator", dict(channels=c, size=self.size, width=o.d_width,
                                                                    text_dim=o.text_dim, proj_dim=o.proj_dim,
                                                                    spectral_norm=o.spectral_norm,
                                                                    projection=o.projection))
        self.optimizer("E", [self.joint], o.lr, PRETRAIN_BETAS)  # E, I and the temperature
        self.optimizer("G", [self.G], cfg.optim.g_lr, cfg.optim.g_betas)
        self.optimizer("D", [self.D], cfg.optim.d_lr, cfg.optim.d_betas)
        self.ema = EMA(self.G, decay=o.ema, start_step=o.pretrain_steps, inputs=self._ema_inputs,
                       bn_batches=o.ema_bn_batches, seed=cfg.seed) if o.ema > 0 else None
        self.compile_networks(["G", "D"])  # E packs variable-length captions (a host sync): eager

    @property
    def protocol(self) -> dict:
        o = self.opts
        return {"loss": self.loss_name, "pretrain_steps": o.pretrain_steps, "finetune": o.finetune,
                "int_beta": o.int_beta, "ca_kl": o.ca_kl if o.ca else 0.0, "diffaugment": ",".join(self.policy),
                "match_weight": o.match_weight, "hard_negatives": o.hard_negatives,
                "mismatch": "roll by one, skipping items whose caption says the same where the data says it"}

    def attach(self, data) -> None:
        """The training data: its vocabulary (saved with the checkpoints) and fixed captions for the EMA."""
        super().attach(data)
        vocab = getattr(data, "vocab", None)
        if vocab is None or len(vocab) != self.E.vocab_size:
            raise DataError(f"data.name={self.spec.name} has no vocabulary of {self.E.vocab_size} words: "
                            "method=text2image needs captioned data (captioned-mnist or captions)")
        self.vocab = vocab
        first = next(iter(data.items(min(len(data), STAT_CAPTIONS))))
        self.stat_text = first["tokens"].cpu(), first["length"].cpu()
        if self.opts.hard_negatives and "hard_tokens" not in first:
            raise ConfigError(f"text.hard_negatives needs contrast captions, which data.name={self.spec.name} does "
                              "not make: set text.hard_negatives=false")

    # ------------------------------------------------------------------ the step

    def train_step(self, batches, step: int) -> Dict[str, torch.Tensor]:
        self.schedule_lr(step)
        batch = batches.next()
        if step < self.opts.pretrain_steps:
            return self.pretrain_step(batch)
        return self.gan_step(batch, step)

    def pretrain_step(self, batch) -> Dict[str, torch.Tensor]:
        """One InfoNCE update of E + I on the batch's matching (image, caption) pairs."""
        with self.autocast():
            text = self.trained("E")(batch["tokens"], batch["length"])
            hard = self.hard_text(self.trained("E"), batch)
            image = self.trained("I")(batch["image"])
            loss = contrastive_loss(text, image, self.joint.temperature, hard)
        hits = similarity(text.detach(), image.detach()).argmax(1) == torch.arange(len(text), device=text.device)
        return {"loss_contrastive": loss.detach(), "retrieval": hits.float().mean(),
                "temperature": self.joint.temperature.detach(),
                "grad_norm_e": self.update("E", loss, [self.E, self.I])}

    def encode_text(self, encoder: nn.Module, tokens: torch.Tensor, length: torch.Tensor) -> TextEmbedding:
        """E's view of captions as G reads them: the sentences, and the words where G attends to them."""
        return caption_batch(encoder, tokens, length, self.G.reads_words)

    def hard_text(self, encoder: nn.Module, batch) -> Optional[torch.Tensor]:
        """E's embedding of the batch's contrast captions (with text.hard_negatives), else None."""
        return encoder(batch["hard_tokens"], batch["hard_length"]) if self.opts.hard_negatives else None

    def judge(self, d: nn.Module, images: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """D's float logits for (image, embedding) pairs, after DiffAugment."""
        return d(diff_augment(images, self.policy) if self.policy else images, e).float()

    def matching_d_loss(self, d: nn.Module, real, fake, e, e_wrong) -> tuple:
        """D's matching-aware loss and its mean verdicts (real, real + mismatched caption, fake)."""
        real = diff_augment(real, self.policy) if self.policy else real  # the same real images for both texts
        s_r, s_w = (s.float() for s in d(real, e, e_wrong))  # one trunk pass for the real images
        s_f = self.judge(d, fake, e)
        loss = losses.d_loss(self.loss_name, s_r, torch.cat([s_w, s_f]), real_label=self.cfg.loss.real_label)
        return loss, self.score(s_r), self.score(s_w), self.score(s_f)

    def gan_step(self, batch, step: int) -> Dict[str, torch.Tensor]:
        o = self.opts
        wrong = mismatched(batch)
        with torch.no_grad() if not o.finetune else contextlib.nullcontext(), self.autocast():
            text = self.encode_text(self.trained("E"), batch["tokens"], batch["length"])
            e_hard = self.hard_text(self.trained("E"), batch)
        e, t_g = text.sentence, text.detach()
        n, e_g = len(e), t_g.sentence
        e_wrong = e[wrong]
        if e_hard is not None:  # every other item: its contrast caption instead of another item's
            e_wrong = torch.where((torch.arange(n, device=e.device) % 2 == 0)[:, None], e_hard, e_wrong)
        z, t_in = self.global_randn(n, o.z_dim), t_g
        if o.int_beta > 0:  # GAN-INT: a second batch on interpolated captions, judged by D for G's loss only
            z = torch.cat([z, self.global_randn(n, o.z_dim)])
            t_in = TextEmbedding.cat([t_g, TextEmbedding.lerp(t_g.take(wrong), t_g, o.int_beta)])
        e_in = t_in.sentence
        with self.autocast():
            images, kl = self.trained("G")(z, *t_in.inputs())
        fake = images[:n]
        self.discriminators_trainable(["D"], True)
        with self.autocast():
            loss_d, d_real, d_wrong, d_fake = self.matching_d_loss(self.trained("D"), batch["image"], fake.detach(),
                                                                   e, e_wrong)
        logs = {"loss_d": loss_d.detach(), "d_real": d_real, "d_wrong": d_wrong, "d_fake": d_fake,
                "grad_norm_d": self.update("D", loss_d, [self.D], also=("E",) if o.finetune else ())}
        self.discriminators_trainable(["D"], False)
        with self.autocast():
            adv = losses.g_loss(self.loss_name, self.judge(self.trained("D"), fake, e_g))
            if o.int_beta > 0:
                adv = adv + losses.g_loss(self.loss_name, self.judge(self.trained("D"), images[n:], e_in[n:]))
            loss_g = adv + o.ca_kl * kl  # kl is 0 without CA
            if o.match_weight > 0:
                match = self.match_loss(fake, e_g, None if e_hard is None else e_hard.detach())
                loss_g = loss_g + o.match_weight * match
                logs["loss_match"] = match.detach()
        logs.update(loss_g=loss_g.detach(), loss_g_gan=adv.detach(), kl=kl.detach(),
                    grad_norm_g=self.update("G", loss_g, [self.G]))
        if self.ema is not None:
            self.ema.update(self.G, step)
        return logs

    def match_loss(self, fake: torch.Tensor, e: torch.Tensor, e_hard: Optional[torch.Tensor]) -> torch.Tensor:
        """InfoNCE between the captions' embeddings and the frozen image encoder's view of G's images."""
        if next(self.I.parameters()).requires_grad:
            self.I.requires_grad_(False)  # phase 2: I is a fixed judge of caption-image agreement
        return contrastive_loss(e, self.I(fake), self.joint.temperature.detach(), e_hard)

    # ------------------------------------------------------------------ sampling, previews, state

    def sampling_generator(self) -> nn.Module:
        return self.ema.ready() if self.ema is not None else self.G

    def _ema_inputs(self, gen: torch.Generator) -> tuple:
        """One training-sized batch of G's inputs from `gen`: noise, fixed training captions and CA's noise."""
        n = self.cfg.train.batch_size
        z = torch.randn(n, self.opts.z_dim, generator=gen).to(self.device)
        tokens, length = self.stat_text
        pick = torch.randint(len(length), (n,), generator=gen)
        text = self.encode_text(self.E, tokens[pick].to(self.device), length[pick].to(self.device))
        ca = torch.Generator(self.device).manual_seed(int(torch.randint(1 << 62, (1,), generator=gen)))
        return (z, *text.inputs(ca))

    def preview_inputs(self, n: int, seed: int) -> Dict[str, torch.Tensor]:
        """The first `PREVIEW_ITEMS` captions of the training data's fixed items and one noise per column."""
        first = next(iter(self.data.items(min(len(self.data), PREVIEW_ITEMS))))
        z = torch.randn(PREVIEW_ITEMS, self.opts.z_dim, generator=torch.Generator().manual_seed(seed))
        return {"tokens": first["tokens"].cpu(), "length": first["length"].cpu(), "z": z}

    @torch.inference_mode()
    def draw(self, tokens: torch.Tensor, length: torch.Tensor, z: torch.Tensor, amp: bool = True) -> torch.Tensor:
        """Float images of G (its EMA when there is one) in eval mode for captions (tokens, length) and noise z,
        one image per row; `amp`: under the run's autocast (previews) or in fp32 (evaluation)."""
        g = self.sampling_generator()
        was = g.training
        g.eval()
        with self.autocast() if amp else contextlib.nullcontext():
            text = self.encode_text(self.E, tokens.to(self.device), length.to(self.device))
            out, _ = g(z.to(self.device), *text.inputs())
        g.train(was)
        return out.float()

    def preview(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        """One row per caption, one column per noise."""
        rows, cols = len(inputs["length"]), len(inputs["z"])
        return self.draw(inputs["tokens"].repeat_interleave(cols, 0), inputs["length"].repeat_interleave(cols, 0),
                         inputs["z"].repeat(rows, 1))

    def generate_for(self, batch: Dict[str, object], z: torch.Tensor) -> torch.Tensor:
        """One image per item of an evaluation batch (its caption's tokens) and row of z, in fp32."""
        return self.draw(batch["tokens"], batch["length"], z, amp=False)

    def visualize(self, inputs, path, step: int) -> Optional[torch.Tensor]:
        out = self.preview(inputs)
        save_grid(out, path, nrow=len(inputs["z"]))
        return out

    def network_specs(self) -> Dict[str, dict]:
        return {k: self.specs[k] for k in ("E", "G")}

    def tasks(self) -> Dict[str, dict]:
        """`sample_text`: G draws images for E's embedding of a prompt; the vocabulary maps prompts to E's ids."""
        return {"sample_text": {"encoder": "E", "generator": "G", "vocabulary": self.vocab.to_json()}}

    def diagnostics(self, run_dir, data):
        from ..metrics.text import LOWER_IS_BETTER, InTrainingText
        from ..monitor.diagnostics import Diagnostics

        evaluation = InTrainingText(self, self.cfg.monitor.metrics) if self.cfg.monitor.eval_every else None
        return Diagnostics(self.cfg, run_dir, self.probabilities, evaluation,
                           evaluation.track if evaluation else None, directions=LOWER_IS_BETTER)

    def divergence_advice(self) -> str:
        return ("try lower learning rates (optim.g_lr, optim.d_lr, text.lr), text.spectral_norm=true or "
                "loss.name=hinge")

    def extra_weights(self) -> Dict[str, Dict[str, torch.Tensor]]:
        out = {"joint": {"logit_scale": self.joint.logit_scale.detach()}}
        if self.ema is not None:
            out["G_ema"] = self.ema.state_dict()
        return out

    def load_extra_weights(self, weights) -> None:
        with torch.no_grad():
            self.joint.logit_scale.copy_(weights["joint"]["logit_scale"])
        if self.ema is not None and "G_ema" in weights:
            self.ema.load_state_dict(weights["G_ema"])
