"""Word-level attention for a text-conditioned generator (AttnGAN, Xu et al. 2018, in spirit): every place of a
feature map looks up the caption's words, so a caption that names two things at two places can bind each word
to its own region instead of modulating the whole map with one sentence vector.

`TextEmbedding` is a batch of captions as the generator reads it: the sentence vectors and, for attention, the
per-word features with an additive log-weight per word (0: a real word, -inf: padding). Blending two captions
(GAN-INT, prompt interpolation) lerps the sentences and attends over both captions' words, each set weighted by
its share (log-weights log(1 - t) and log(t)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import torch
from torch import nn

from ..errors import ConfigError
from .base import check_int


@dataclass(frozen=True)
class TextEmbedding:
    """sentence (N, text_dim); words (N, L, word_dim) and bias (N, L) float (0 real, -inf padding) or both None."""

    sentence: torch.Tensor
    words: Optional[torch.Tensor] = None
    bias: Optional[torch.Tensor] = None

    def __len__(self) -> int:
        return self.sentence.shape[0]

    def _map(self, fn) -> "TextEmbedding":
        return TextEmbedding(fn(self.sentence), *(None if t is None else fn(t) for t in (self.words, self.bias)))

    def take(self, index) -> "TextEmbedding":
        """The captions at `index` (an int tensor, a slice)."""
        return self._map(lambda t: t[index])

    def repeat_interleave(self, n: int) -> "TextEmbedding":
        return self._map(lambda t: t.repeat_interleave(n, 0))

    def to(self, device) -> "TextEmbedding":
        return self._map(lambda t: t.to(device))

    def detach(self) -> "TextEmbedding":
        return self._map(lambda t: t.detach())

    @staticmethod
    def cat(parts: Sequence["TextEmbedding"]) -> "TextEmbedding":
        """The batches one after another; word sets padded to the longest (padding weighs -inf)."""
        sentence = torch.cat([p.sentence for p in parts])
        if parts[0].words is None:
            return TextEmbedding(sentence)
        longest = max(p.words.shape[1] for p in parts)
        words = torch.cat([nn.functional.pad(p.words, (0, 0, 0, longest - p.words.shape[1])) for p in parts])
        bias = torch.cat([nn.functional.pad(p.bias, (0, longest - p.bias.shape[1]), value=-math.inf)
                          for p in parts])
        return TextEmbedding(sentence, words, bias)

    @staticmethod
    def lerp(a: "TextEmbedding", b: "TextEmbedding", t: Union[float, torch.Tensor]) -> "TextEmbedding":
        """(1 - t) a + t b: the sentences lerped, the words of both attended with log-weights log(1 - t), log(t);
        t a float or an (N, 1) tensor in [0, 1]."""
        sentence = torch.lerp(a.sentence, b.sentence, t)
        if a.words is None:
            return TextEmbedding(sentence)
        t = torch.as_tensor(t, dtype=a.bias.dtype, device=a.bias.device).reshape(-1, 1)
        words = torch.cat([a.words, b.words], 1)
        bias = torch.cat([a.bias + torch.log1p(-t), b.bias + torch.log(t)], 1)
        return TextEmbedding(sentence, words, bias)

    def inputs(self, generator: Optional[torch.Generator] = None) -> tuple:
        """The generator's arguments after z: (sentence, generator (of CA's noise), words, word_bias)."""
        return self.sentence, generator, self.words, self.bias


def caption_batch(encoder: nn.Module, tokens: torch.Tensor, length: torch.Tensor, words: bool) -> TextEmbedding:
    """A TextEncoder's view of captions as a generator reads them: the sentences, and the words where `words`."""
    return encoder(tokens, length, words=True) if words else TextEmbedding(encoder(tokens, length))


def padding_bias(length: torch.Tensor, width: int) -> torch.Tensor:
    """float (N, width): 0 at the first length[i] places of row i, -inf after them."""
    ar = torch.arange(width, device=length.device)
    return torch.zeros(len(length), width, device=length.device).masked_fill(ar >= length[:, None], -math.inf)


class WordAttention(nn.Module):
    """Each place of a map (N, channels, H, W) attends over the words (N, L, word_dim): query = 1x1 conv of the
    map, keys and values = Linear of the words (dim each), softmax over the words of q.k / sqrt(dim) + bias ->
    context (N, dim, H, W) -> zero-initialised 1x1 conv to (gamma, beta) -> h * (1 + gamma) + beta, so a
    generator starts as it would without attention. forward(h, words, bias) -> the modulated map."""

    def __init__(self, channels: int, word_dim: int, dim: int = 64):
        super().__init__()
        channels, word_dim = check_int("channels", channels, 1), check_int("word_dim", word_dim, 1)
        dim = check_int("dim", dim, 1)
        self.dim = dim
        self.query = nn.Conv2d(channels, dim, 1, bias=False)
        self.key = nn.Linear(word_dim, dim, bias=False)
        self.value = nn.Linear(word_dim, dim, bias=False)
        self.out = nn.Conv2d(dim, 2 * channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def weights(self, h: torch.Tensor, words: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """float (N, H * W, L): each place's attention over the words."""
        q = self.query(h).flatten(2).transpose(1, 2)  # (N, HW, dim)
        logits = (q @ self.key(words).transpose(1, 2)).float() / math.sqrt(self.dim)
        return torch.softmax(logits + bias[:, None, :].float(), -1)

    def forward(self, h: torch.Tensor, words: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        n, _, height, width = h.shape
        context = self.weights(h, words, bias).to(h.dtype) @ self.value(words).to(h.dtype)  # (N, HW, dim)
        gamma, beta = self.out(context.transpose(1, 2).reshape(n, self.dim, height, width)).chunk(2, 1)
        return h * (1 + gamma) + beta


def check_words(net: str, words: Optional[torch.Tensor], bias: Optional[torch.Tensor], n: int, word_dim: int) -> None:
    """A one-line ConfigError unless words is float (n, L, word_dim) and bias float (n, L)."""
    if words is None or bias is None:
        raise ConfigError(f"{net} has word attention and needs the caption's word features: pass words and "
                          f"word_bias (TextEncoder.encode gives both)")
    if words.dim() != 3 or tuple(words.shape[::2]) != (n, word_dim) or tuple(bias.shape) != tuple(words.shape[:2]):
        raise ConfigError(f"{net} words have shape {tuple(words.shape)} and word_bias {tuple(bias.shape)}; expected "
                          f"({n}, L, {word_dim}) and ({n}, L)")


__all__: List[str] = ["TextEmbedding", "WordAttention", "caption_batch", "check_words", "padding_bias"]
