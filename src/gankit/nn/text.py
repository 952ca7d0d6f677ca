"""Text-to-image networks for GAN-INT-CLS (Reed et al. 2016, "Generative Adversarial Text to Image
Synthesis"): a bidirectional-GRU caption encoder, a small image encoder and their contrastive joint
embedding (CLIP-style InfoNCE, in the spirit of Reed et al.'s joint embedding), StackGAN's conditioning
augmentation (Zhang et al. 2017), the text-conditioned DCGAN-style generator and the matching-aware
discriminator. Captions are int64 token ids (N, L) right-padded with 0 (<pad>) plus their lengths (N,);
images are (N, C, size, size) in [-1, 1] with size a power of two >= 16.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..errors import ConfigError
from .base import D_NORMS, check_choice, check_int, make_norm
from .layers import append_features, apply_spectral_norm, init_dcgan_weights
from .srresnet import check_bool
from .word_attention import TextEmbedding, WordAttention, check_words, padding_bias

MAX_LOGIT_SCALE = math.log(100.0)  # CLIP's clamp on the learnable inverse temperature


def check_size(value: object) -> int:
    """Return the image side if it is a power of two >= 16, else raise a one-line ConfigError."""
    size = check_int("size", value, 16)
    if size & (size - 1):
        raise ConfigError(f"size={value!r} is invalid; use a power of two >= 16 (e.g. 32, 64, 128)")
    return size


def check_images(net: str, x: torch.Tensor, channels: int, size: int) -> None:
    """A one-line ConfigError unless x is (N, channels, size, size)."""
    if x.dim() != 4 or tuple(x.shape[1:]) != (channels, size, size):
        raise ConfigError(f"{net} images have shape {tuple(x.shape)}; expected (N, {channels}, {size}, {size}) "
                          f"(resize the images or rebuild the network with their channels and size)")


def check_vectors(net: str, what: str, v: torch.Tensor, dim: int, n: Optional[int] = None) -> None:
    """A one-line ConfigError unless v is a float (n, dim) batch of vectors (any n when n is None)."""
    if v.dim() != 2 or v.shape[1] != dim or (n is not None and v.shape[0] != n) or not v.is_floating_point():
        raise ConfigError(f"{net} {what} has shape {tuple(v.shape)} ({v.dtype}); expected float "
                          f"({'N' if n is None else n}, {dim})")


def _width(side: int, width: int) -> int:
    """Channels of a side x side map: 8 x width at 4x4, halving per doubling of the side, at least width."""
    return width * min(8, max(1, 32 // side))


def _down_stack(channels: int, size: int, width: int, norm: str) -> tuple[nn.Sequential, int]:
    """[Conv 4x4 stride 2, norm (not on the first), LeakyReLU 0.2] from size down to 4x4 (8 x width
    channels); returns the stack and its output channels."""
    layers: list[nn.Module] = []
    c, side = channels, size
    while side > 4:
        side = side // 2
        out, kind = _width(side, width), "none" if not layers else norm
        layers += [nn.Conv2d(c, out, 4, 2, 1, bias=kind == "none"), make_norm(kind, out, dim=2), nn.LeakyReLU(0.2)]
        c = out
    return nn.Sequential(*layers), c


class TextEncoder(nn.Module):
    """Word embeddings (padding_idx 0) -> `layers`-layer bidirectional GRU over the packed captions (the
    padding is never read, so a caption's embedding does not depend on the padded length) -> sentence
    vector = the top layer's last forward and last backward states, concatenated -> Linear to out_dim.
    forward(tokens (N, L) int64, length (N,) int64 in [1, L]) -> float (N, out_dim); with words=True (or
    encode()) a TextEmbedding that also holds the word features (N, L, 2 x hidden)."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden: int = 128, out_dim: int = 128, layers: int = 1):
        super().__init__()
        vocab_size, embed_dim = check_int("vocab_size", vocab_size, 2), check_int("embed_dim", embed_dim, 1)
        hidden, out_dim = check_int("hidden", hidden, 1), check_int("out_dim", out_dim, 1)
        layers = check_int("layers", layers, 1)
        self.config = dict(vocab_size=vocab_size, embed_dim=embed_dim, hidden=hidden, out_dim=out_dim, layers=layers)
        self.vocab_size, self.out_dim = vocab_size, out_dim
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.rnn = nn.GRU(embed_dim, hidden, num_layers=layers, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hidden, out_dim)

    def forward(self, tokens: torch.Tensor, length: torch.Tensor, words: bool = False):
        if tokens.dim() != 2 or 0 in tokens.shape or tokens.is_floating_point() or tokens.dtype == torch.bool:
            raise ConfigError(f"TextEncoder tokens have shape {tuple(tokens.shape)} ({tokens.dtype}); "
                              f"expected (N, L) int64 token ids, N and L >= 1")
        if tuple(length.shape) != tokens.shape[:1] or length.is_floating_point():
            raise ConfigError(f"TextEncoder length has shape {tuple(length.shape)} ({length.dtype}); expected "
                              f"({tokens.shape[0]},) int64: the number of real tokens of each caption")
        # One device-to-host copy for the lengths (packing wants them on the CPU) and the id range.
        stats = torch.cat([length.long(), tokens.min().long().view(1), tokens.max().long().view(1)]).cpu()
        lengths, (low, high) = stats[:-2], stats[-2:].tolist()
        shortest, longest = int(lengths.min()), int(lengths.max())
        if shortest < 1 or longest > tokens.shape[1]:
            raise ConfigError(f"TextEncoder caption lengths run from {shortest} to {longest}; each must "
                              f"be in [1, {tokens.shape[1]}] (the padded length)")
        if low < 0 or high >= self.vocab_size:
            raise ConfigError(f"TextEncoder token ids run from {low} to {high}; expected ids in "
                              f"[0, {self.vocab_size - 1}] (vocab_size={self.vocab_size}: use the tokenizer it "
                              f"was built with)")
        packed = pack_padded_sequence(self.embed(tokens), lengths, batch_first=True, enforce_sorted=False)
        out, h = self.rnn(packed)  # h: (layers * 2, N, hidden), back in the input order
        sentence = self.proj(torch.cat([h[-2], h[-1]], 1)).float()
        if not words:
            return sentence
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=tokens.shape[1])
        return TextEmbedding(sentence, out.float(), padding_bias(length.to(out.device), tokens.shape[1]))

    def encode(self, tokens: torch.Tensor, length: torch.Tensor) -> TextEmbedding:
        """The sentence vectors with the word features (the top layer's outputs, both directions: (N, L, 2 x
        hidden), zero at the padding) and their padding bias, for a generator with word attention."""
        return self.forward(tokens, length, words=True)


class ImageEncoder(nn.Module):
    """[Conv 4x4 stride 2, GroupNorm(1) (not on the first), LeakyReLU 0.2] from `size` down to 4x4 (width
    channels doubling to 8 x width) -> flatten -> Linear to out_dim. Per-sample normalisation, so no
    batch statistics leak between the pairs of a contrastive batch. forward(images (N, channels, size,
    size)) -> float (N, out_dim)."""

    def __init__(self, channels: int = 1, size: int = 64, width: int = 32, out_dim: int = 128):
        super().__init__()
        channels, size = check_int("channels", channels, 1), check_size(size)
        width, out_dim = check_int("width", width, 1), check_int("out_dim", out_dim, 1)
        self.config = dict(channels=channels, size=size, width=width, out_dim=out_dim)
        self.channels, self.size, self.out_dim = channels, size, out_dim
        trunk, c = _down_stack(channels, size, width, "layer")
        self.model = nn.Sequential(*trunk, nn.Flatten(), nn.Linear(16 * c, out_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images("ImageEncoder", images, self.channels, self.size)
        return self.model(images).float()


def similarity(text_emb: torch.Tensor, image_emb: torch.Tensor) -> torch.Tensor:
    """Cosine similarities (N_text, N_image) between every caption and every image embedding."""
    if text_emb.dim() != 2 or image_emb.dim() != 2 or text_emb.shape[1] != image_emb.shape[1]:
        raise ConfigError(f"embeddings have shapes {tuple(text_emb.shape)} and {tuple(image_emb.shape)}; "
                          f"expected (N, D) and (M, D) with the same D")
    return F.normalize(text_emb.float(), dim=1) @ F.normalize(image_emb.float(), dim=1).T


def contrastive_loss(text_emb: torch.Tensor, image_emb: torch.Tensor, temperature: Union[float, torch.Tensor],
                     hard_text: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP, Radford et al. 2021): with logits = cosine similarities / temperature
    between the N captions and the N images of a batch (pair i matches pair i), the mean of the
    caption->image and image->caption cross-entropies. A scalar. `hard_text` (N, D): one more wrong caption
    per image, added to that image's candidates (NegCLIP's hard negatives)."""
    if text_emb.shape != image_emb.shape:
        raise ConfigError(f"contrastive_loss needs paired embeddings of equal shape; got {tuple(text_emb.shape)} "
                          f"and {tuple(image_emb.shape)}")
    if not isinstance(temperature, torch.Tensor) and not temperature > 0:  # a tensor's check would sync
        raise ConfigError(f"temperature={float(temperature)!r} is invalid; use a value > 0")
    logits = similarity(text_emb, image_emb) / temperature
    target = torch.arange(logits.shape[0], device=logits.device)
    per_image = logits.T
    if hard_text is not None:
        hard = (F.normalize(hard_text.float(), dim=1) * F.normalize(image_emb.float(), dim=1)).sum(1) / temperature
        per_image = torch.cat([per_image, hard[:, None]], 1)
    return (F.cross_entropy(logits, target) + F.cross_entropy(per_image, target)) / 2


class JointEmbedding(nn.Module):
    """A TextEncoder and an ImageEncoder trained together with `contrastive_loss` at a learnable
    temperature: logit_scale = log(1 / temperature), initialised to log(1 / 0.07) and clamped to
    [0, log 100] as in CLIP. Used for pre-training the G/D text encoder and for the R-precision model.
    forward(images, tokens, length) -> the scalar loss of that batch of matching pairs."""

    def __init__(self, vocab_size: int, channels: int = 1, size: int = 64, embed_dim: int = 64, hidden: int = 128,
                 width: int = 32, out_dim: int = 128, layers: int = 1):
        super().__init__()
        self.text = TextEncoder(vocab_size, embed_dim, hidden, out_dim, layers)
        self.image = ImageEncoder(channels, size, width, out_dim)
        t, i = self.text.config, self.image.config
        self.config = dict(vocab_size=t["vocab_size"], channels=i["channels"], size=i["size"], embed_dim=t["embed_dim"],
                           hidden=t["hidden"], width=i["width"], out_dim=t["out_dim"], layers=t["layers"])
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    @property
    def temperature(self) -> torch.Tensor:
        return torch.exp(-self.logit_scale.clamp(0.0, MAX_LOGIT_SCALE))

    def forward(self, images: torch.Tensor, tokens: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
        return contrastive_loss(self.text(tokens, length), self.image(images), self.temperature)


class ConditioningAugmentation(nn.Module):
    """StackGAN's conditioning augmentation (Zhang et al. 2017): Linear(in_dim -> 2 x out_dim) gives
    (mu, logvar); in train mode c = mu + exp(logvar / 2) * eps, eps ~ N(0, I) from `generator` (or the
    global RNG); in eval mode c = mu. forward(e (N, in_dim), generator=None) -> (c (N, out_dim), kl), kl
    = KL(N(mu, diag sigma^2) || N(0, I)) summed over the dimensions and averaged over the batch."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        in_dim, out_dim = check_int("in_dim", in_dim, 1), check_int("out_dim", out_dim, 1)
        self.config = dict(in_dim=in_dim, out_dim=out_dim)
        self.fc = nn.Linear(in_dim, 2 * out_dim)

    def forward(self, e: torch.Tensor,
                generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.fc(e).float().chunk(2, dim=1)
        kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(1).mean()
        if not self.training:
            return mu, kl
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + (logvar / 2).exp() * eps, kl


class TextConditionedGenerator(nn.Module):
    """GAN-INT-CLS's generator: the text embedding -> conditioning augmentation to cond_dim (ca=True) or
    Linear to cond_dim + LeakyReLU 0.2 (Reed et al.) -> concatenated with z -> ConvTranspose 4x4 from 1x1
    to 4x4 x 8 x width + BN + ReLU -> [ConvTranspose 4x4 stride 2 + BN + ReLU] halving the channels (at
    least width) -> ConvTranspose 4x4 stride 2 to `channels` at `size` -> tanh. DCGAN init.
    forward(z (N, z_dim), text_emb (N, text_dim), generator=None) -> (images (N, channels, size, size)
    in [-1, 1], kl): kl is the conditioning augmentation's KL term (a scalar; 0 with ca=False), to be
    added to G's loss with a weight; `generator` feeds CA's noise. With `fusion` the condition also
    modulates every BatchNorm of G (DF-GAN's deep fusion in spirit): h * (1 + gamma(c)) + beta(c), the
    Linear layers giving gamma and beta initialised to zero, so G starts as the plain one. With `spatial` =
    S > 0 (needs fusion) the modulation of the maps up to S x S is position-specific: gamma and beta are
    (channels, side, side) maps given by the condition, so each place of the image can take its own part of
    a caption that names two things at two places (the same global modulation everywhere blends them). With
    `attention` = A > 0 the maps up to A x A are also modulated by word attention (`WordAttention`: each place
    looks up the caption's words, of size word_dim); forward then needs words and word_bias
    (TextEncoder.encode)."""

    def __init__(self, z_dim: int = 100, text_dim: int = 128, cond_dim: int = 128, channels: int = 1,
                 size: int = 64, width: int = 64, ca: bool = True, fusion: bool = False, spatial: int = 0,
                 attention: int = 0, word_dim: int = 256):
        super().__init__()
        z_dim, text_dim, cond_dim = (check_int(k, v, 1) for k, v in
                                     (("z_dim", z_dim), ("text_dim", text_dim), ("cond_dim", cond_dim)))
        channels, size, width = check_int("channels", channels, 1), check_size(size), check_int("width", width, 1)
        ca, fusion, spatial = check_bool("ca", ca), check_bool("fusion", fusion), check_int("spatial", spatial, 0)
        attention, word_dim = check_int("attention", attention, 0), check_int("word_dim", word_dim, 1)
        if spatial and not fusion:
            raise ConfigError(f"spatial={spatial} modulates G's BatchNorms by place and needs fusion=true")
        self.config = dict(z_dim=z_dim, text_dim=text_dim, cond_dim=cond_dim, channels=channels, size=size,
                           width=width, ca=ca, fusion=fusion, spatial=spatial, attention=attention, word_dim=word_dim)
        self.z_dim, self.text_dim, self.word_dim = z_dim, text_dim, word_dim
        self.condition = ConditioningAugmentation(text_dim, cond_dim) if ca else \
            nn.Sequential(nn.Linear(text_dim, cond_dim), nn.LeakyReLU(0.2))
        c, side = _width(4, width), 4
        layers: list[nn.Module] = [nn.Unflatten(1, (z_dim + cond_dim, 1, 1)),
                                   nn.ConvTranspose2d(z_dim + cond_dim, c, 4, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
        layers[1].reads_1x1 = True  # see nn.layers.to_channels_last
        sides = [4]  # of each BatchNorm's map
        while side < size // 2:
            side, out = 2 * side, _width(2 * side, width)
            layers += [nn.ConvTranspose2d(c, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
            c = out
            sides.append(side)
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_dcgan_weights(self)
        norms = [m for m in layers if isinstance(m, nn.BatchNorm2d)]
        self.places = [side if side <= spatial else 1 for side in sides]  # 1: the same modulation everywhere
        self.affines = nn.ModuleList(_zero_linear(cond_dim, 2 * m.num_features * p * p) for m, p in
                                     zip(norms, self.places)) if fusion else None
        self.attends = nn.ModuleList(WordAttention(m.num_features, word_dim, cond_dim) if side <= attention
                                     else nn.Identity() for m, side in zip(norms, sides)) if attention else None

    @property
    def reads_words(self) -> bool:
        """Whether forward needs the caption's word features (attention > 0)."""
        return self.attends is not None

    def forward(self, z: torch.Tensor, text_emb: torch.Tensor, generator: Optional[torch.Generator] = None,
                words: Optional[torch.Tensor] = None,
                word_bias: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
        check_vectors("TextConditionedGenerator", "z", z, self.z_dim)
        check_vectors("TextConditionedGenerator", "text embedding", text_emb, self.text_dim, z.shape[0])
        if self.attends is not None:
            check_words("TextConditionedGenerator", words, word_bias, z.shape[0], self.word_dim)
        if isinstance(self.condition, ConditioningAugmentation):
            c, kl = self.condition(text_emb, generator)
        else:
            c, kl = self.condition(text_emb), z.new_zeros((), dtype=torch.float32)
        h = torch.cat([z, c.to(z.dtype)], 1)
        if self.affines is None and self.attends is None:
            return self.model(h), kl
        k = 0  # BatchNorms passed
        for layer in self.model:
            h = layer(h)
            if isinstance(layer, nn.BatchNorm2d):
                if self.affines is not None:
                    p = self.places[k]
                    gamma, beta = self.affines[k](c.to(h.dtype)).view(h.shape[0], 2 * h.shape[1], p, p).chunk(2, 1)
                    h = h * (1 + gamma) + beta
                if self.attends is not None and isinstance(self.attends[k], WordAttention):
                    h = self.attends[k](h, words, word_bias)
                k += 1
        return h, kl


def _zero_linear(in_dim: int, out_dim: int) -> nn.Linear:
    layer = nn.Linear(in_dim, out_dim)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class MatchingAwareDiscriminator(nn.Module):
    """GAN-INT-CLS's discriminator: [Conv 4x4 stride 2, norm (not on the first), LeakyReLU 0.2] from
    `size` down to 4x4 x 8 x width; the text embedding -> Linear to proj_dim + LeakyReLU 0.2, replicated
    over the 4x4 map and concatenated -> Conv 1x1 to 8 x width + norm + LeakyReLU -> Conv 4x4 to one raw
    logit. norm="auto": "bn", or "none" with spectral_norm (then every conv/linear weight is spectrally
    normalised, Miyato et al. 2018). projection=True adds Miyato & Koyama's (2018) projection term
    <W text_emb, sum-pooled 4x4 features>. It only scores (image, text) pairs; the matching-aware
    scheme (real+match, real+mismatch, fake+match) is the method's. DCGAN init.
    forward(images (N, channels, size, size), text_emb (N, text_dim)) -> float logits (N, 1);
    forward(images, text_emb, *more) -> a tuple of logits, one per embedding, from one pass of the image trunk
    (the trunk does not read the text: the same images against several captions cost one trunk, not several)."""

    def __init__(self, channels: int = 1, size: int = 64, width: int = 64, text_dim: int = 128, proj_dim: int = 128,
                 spectral_norm: bool = False, norm: str = "auto", projection: bool = False):
        super().__init__()
        channels, size, width = check_int("channels", channels, 1), check_size(size), check_int("width", width, 1)
        text_dim, proj_dim = check_int("text_dim", text_dim, 1), check_int("proj_dim", proj_dim, 1)
        spectral_norm, projection = check_bool("spectral_norm", spectral_norm), check_bool("projection", projection)
        if check_choice("norm", norm, ("auto",) + D_NORMS) == "auto":
            norm = "none" if spectral_norm else "bn"
        self.config = dict(channels=channels, size=size, width=width, text_dim=text_dim, proj_dim=proj_dim,
                           spectral_norm=spectral_norm, norm=norm, projection=projection)
        self.channels, self.size, self.text_dim = channels, size, text_dim
        self.trunk, c = _down_stack(channels, size, width, norm)
        self.text = nn.Sequential(nn.Linear(text_dim, proj_dim), nn.LeakyReLU(0.2))
        self.head = nn.Sequential(nn.Conv2d(c + proj_dim, c, 1, bias=norm == "none"), make_norm(norm, c, dim=2),
                                  nn.LeakyReLU(0.2), nn.Conv2d(c, 1, 4))
        self.project = nn.Linear(text_dim, c, bias=False) if projection else None
        init_dcgan_weights(self)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, images: torch.Tensor, text_emb: torch.Tensor, *more: torch.Tensor):
        check_images("MatchingAwareDiscriminator", images, self.channels, self.size)
        for emb in (text_emb, *more):
            check_vectors("MatchingAwareDiscriminator", "text embedding", emb, self.text_dim, images.shape[0])
        h = self.trunk(images)
        logits = tuple(self._score(h, emb) for emb in (text_emb, *more))
        return logits if more else logits[0]

    def _score(self, h: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """The head's logits for trunk features h and one caption embedding per item."""
        logits = self.head(append_features(h, self.text(text_emb))).flatten(1).float()
        if self.project is not None:
            logits = logits + (self.project(text_emb).float() * h.float().sum((2, 3))).sum(1, keepdim=True)
        return logits


TEXT_NETS: dict[str, type] = {"TextEncoder": TextEncoder, "ImageEncoder": ImageEncoder,
                              "TextConditionedGenerator": TextConditionedGenerator,
                              "MatchingAwareDiscriminator": MatchingAwareDiscriminator,
                              "JointEmbedding": JointEmbedding}
