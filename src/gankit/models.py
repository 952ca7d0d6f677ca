"""`gankit.load(path)`: a trained run as a model with task verbs, rebuilt from its checkpoint alone.

A GAN run loads as a `LoadedGenerator` (`.sample(n, y)`); an image-to-image run (pix2pix, CycleGAN)
as a `Translator` (`.translate(images, direction)`); a super-resolution run as an `Upscaler`
(`.upscale(images)`); a video-prediction run as a `Predictor` (`.predict(frames, n)`); a text-to-image run as
a `TextToImage` (`.sample(n, text)`, `.interpolate(text_a, text_b)`). The networks are rebuilt from the class names
and constructor arguments stored in the checkpoint (`meta["networks"]`), not from the training config.
The CLI verbs (`sample`, `translate`) and the server call these, never method internals.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Union

import torch
from torch import nn

from .checkpoint import split_weights
from .errors import CheckpointError, ConfigError, DataError
from .generator import LoadedGenerator, load_generator, load_weights, read_checkpoint
from .nn.translation import build_from_spec
from .nn.word_attention import TextEmbedding, caption_batch
from .tiling import translate_any_size

Images = Union[torch.Tensor, Sequence[torch.Tensor]]
TILE, OVERLAP = 512, 64  # inference tiles (pixels): bounded memory for any image size
UPSCALE_TILE, UPSCALE_OVERLAP = 512, 160  # SR tiles in LR pixels: overlap >= 4x SRResNet-16's 39-px reach


class ImageModel(nn.Module):
    """What the image models share: their device, and (image-to-image) one image, a batch, or a list of images."""

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _each(self, images: Images, one, verb: str) -> Images:
        """`one((1, C, H, W))` for every image: a (C, H, W) image, an (N, C, H, W) batch or a list of them."""
        if isinstance(images, torch.Tensor) and images.ndim in (3, 4):
            batch = images if images.ndim == 4 else images.unsqueeze(0)
            out = [one(x.unsqueeze(0)) for x in batch]
            if images.ndim == 3:
                return out[0][0]
            return torch.cat(out)
        if isinstance(images, (list, tuple)):
            return [self._each(x, one, verb) for x in images]
        raise ConfigError(f"{verb} takes an image tensor (C, H, W), a batch (N, C, H, W) or a list of images; "
                          f"got {type(images).__name__} {tuple(getattr(images, 'shape', ()))}")


class Translator(ImageModel):
    """Image-to-image generators by direction; `.translate` takes images of any size in [-1, 1]."""

    def __init__(self, generators: Dict[str, nn.Module], method: str, step: int, default: str, spec):
        super().__init__()
        self.generators = nn.ModuleDict(generators)
        self.method, self.step, self.default, self.spec = method, step, default, spec
        self.eval()

    @property
    def directions(self) -> List[str]:
        return list(self.generators)

    def _net(self, direction: Optional[str]) -> nn.Module:
        direction = direction or self.default
        if direction not in self.generators:
            raise ConfigError(f"this {self.method} model translates {' and '.join(self.generators)}, not {direction}; "
                              f"use --direction {self.directions[0]}")
        return self.generators[direction]

    @torch.no_grad()
    def translate(self, images: Images, direction: Optional[str] = None, tile: int = TILE,
                  overlap: int = OVERLAP) -> Images:
        """Translate one (C, H, W) image, a batch (N, C, H, W) or a list of images of different sizes.

        Values in [-1, 1]; any H x W (reflect-padded to the network's multiple and cropped back; images
        larger than `tile` go through overlapping tiles with blended seams). The output keeps each input's
        channel count (gray in, gray out), converting to and from the network's channels where they differ."""
        net = self._net(direction)
        return self._each(images, lambda x: self._one(net, x, tile, overlap), "translate")

    def _one(self, net: nn.Module, x: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
        if x.shape[1] not in (1, 3) or min(x.shape[-2:]) < 1:
            raise ConfigError(f"an image to translate must have 1 or 3 channels and at least 1x1 pixels, got shape "
                              f"{tuple(x.shape[1:])}")
        wanted = net.config["in_channels"]
        inp = match_channels(x.float().to(self.device), wanted)
        h, w = inp.shape[-2:]
        inp = pad_at_least(inp, getattr(net, "min_size", 1))  # e.g. the ResNet's reflection pads need 8 px
        out = translate_any_size(lambda t: net(t).float(), inp, multiple=net.multiple, tile=tile, overlap=overlap)
        return match_channels(out[..., :h, :w].clamp(-1, 1), x.shape[1]).cpu()


class Upscaler(ImageModel):
    """A super-resolution generator; `.upscale` takes images of any size in [-1, 1]."""

    def __init__(self, net: nn.Module, method: str, step: int, spec):
        super().__init__()
        self.net, self.scale, self.method, self.step, self.spec = net, int(net.scale), method, step, spec
        self.eval()

    @torch.no_grad()
    def upscale(self, images: Images, scale: Optional[int] = None, tile: int = UPSCALE_TILE,
                overlap: int = UPSCALE_OVERLAP) -> Images:
        """Upscale one (C, H, W) image, a batch (N, C, H, W) or a list of images by the run's scale.

        Values in [-1, 1]; any H x W of at least 2 x 2 (images larger than `tile` LR pixels go through
        overlapping tiles with blended seams, so memory stays bounded). Gray stays gray, RGB stays RGB;
        an alpha channel (gray + alpha, RGBA) is upscaled bicubically (MATLAB-style, `gankit.data.resize`)."""
        self.check_scale(scale)
        return self._each(images, lambda x: self._one(x, tile, overlap), "upscale")

    def check_scale(self, scale: Optional[int]) -> None:
        """A one-line error for a factor other than the one the run was trained for (None: the run's)."""
        if scale is not None and scale != self.scale:
            raise ConfigError(f"this model upscales x{self.scale}, not x{scale}; pass --scale {self.scale} or train a "
                              f"run with data.scale={scale}")

    def _one(self, x: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
        from .data.resize import imresize

        if x.shape[1] not in (1, 2, 3, 4) or min(x.shape[-2:]) < 2:
            raise ConfigError(f"an image to upscale must have 1, 3 channels (or 2, 4 with alpha) and at least 2x2 "
                              f"pixels, got shape {tuple(x.shape[1:])}")
        x = x.float()
        colour, alpha = (x[:, :-1], x[:, -1:]) if x.shape[1] in (2, 4) else (x, None)
        inp = match_channels(colour.to(self.device), self.net.config["channels"])
        out = translate_any_size(lambda t: self.net(t).float(), inp, multiple=1, tile=tile, overlap=overlap,
                                 scale=self.scale)
        out = match_channels(out.clamp(-1, 1), colour.shape[1]).cpu()
        if alpha is not None:
            out = torch.cat([out, imresize(alpha.cpu(), scale=self.scale).clamp(-1, 1)], 1)
        return out


class Predictor(ImageModel):
    """A video predictor; `.predict(frames, n)` continues clips of the trained frame size in [-1, 1]."""

    def __init__(self, net: nn.Module, method: str, step: int, spec):
        super().__init__()
        self.net, self.method, self.step, self.spec = net, method, step, spec
        self.frames_in, self.frames_out, self.channels = net.frames_in, net.frames_out, net.channels
        self.size = tuple(int(s) for s in spec.shape[-2:])
        self.eval()

    @torch.no_grad()
    def predict(self, frames: torch.Tensor, n: Optional[int] = None, clip: bool = True) -> torch.Tensor:
        """The `n` frames (default: the trained horizon) after a clip (T, C, H, W) or a batch (N, T, C, H, W).

        The last `frames_in` frames are the context; beyond the trained horizon the predictions are fed
        back as context (autoregressive roll-out; fed back clipped). `clip=False` returns the raw outputs
        of the trained horizon (what OpenSTL's MSE / MAE score)."""
        if not isinstance(frames, torch.Tensor) or frames.ndim not in (4, 5):
            raise ConfigError(f"predict takes frames (T, C, H, W) or a batch (N, T, C, H, W); got "
                              f"{type(frames).__name__} {tuple(getattr(frames, 'shape', ()))}")
        x = (frames if frames.ndim == 5 else frames.unsqueeze(0)).float()
        t, c, h, w = x.shape[1:]
        if t < self.frames_in:
            raise ConfigError(f"the model needs at least {self.frames_in} context frames, got {t}: give a longer clip")
        if c != self.channels or (h, w) != self.size:
            raise ConfigError(f"the frames are {w}x{h} with {c} channel(s); this model was trained on "
                              f"{self.size[1]}x{self.size[0]} frames with {self.channels}: resize or convert the clip")
        steps = self.frames_out if n is None else n
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ConfigError(f"the number of frames to predict must be a positive integer, got {steps!r}")
        x = x[:, -self.frames_in:].to(self.device)
        out: List[torch.Tensor] = []
        if getattr(self.net, "rolls_out", False):  # ConvLSTM: its own frame-by-frame roll-out, any length
            out.append(self.net(x, steps).float())
        while sum(o.shape[1] for o in out) < steps:
            pred = self.net(x).float()
            out.append(pred)
            x = torch.cat([x, pred.clamp(-1, 1)], 1)[:, -self.frames_in:]
        pred = torch.cat(out, 1)[:, :steps].cpu()
        pred = pred.clamp(-1, 1) if clip else pred
        return pred if frames.ndim == 5 else pred[0]


class TextToImage(ImageModel):
    """A text-to-image generator (GAN-INT-CLS): the caption encoder, G (its EMA weights when the run kept them)
    and the vocabulary of the training captions. Prompts are checked strictly: an empty prompt or a word the
    model never saw is a one-line DataError naming the closest known words."""

    def __init__(self, encoder: nn.Module, generator: nn.Module, vocabulary, method: str, step: int, spec):
        super().__init__()
        self.encoder, self.generator, self.vocabulary = encoder, generator, vocabulary
        self.method, self.step, self.spec, self.z_dim = method, step, spec, int(generator.z_dim)
        self.eval()

    @torch.no_grad()
    def embed(self, prompts: Sequence[str], strict: bool = True) -> TextEmbedding:
        """E's view of the prompts (sentence vectors (P, text_dim), and the words where G attends to them);
        unknown words are an error, or <unk> without `strict`."""
        tokens, length = self.vocabulary.encode_batch(list(prompts), strict=strict)
        return caption_batch(self.encoder, tokens.to(self.device), length.clamp(min=1).to(self.device),
                             self.generator.reads_words)

    def noise(self, n: int, seed: Optional[int], z: Optional[torch.Tensor]) -> torch.Tensor:
        """`z` checked to be (n, z_dim), or n noise vectors drawn from `seed`."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"the number of samples must be a positive integer, got {n!r}")
        if z is None:
            gen = torch.Generator().manual_seed(seed) if seed is not None else None
            return torch.randn(n, self.z_dim, generator=gen)
        if not isinstance(z, torch.Tensor) or tuple(z.shape) != (n, self.z_dim):
            raise ConfigError(f"z must be a tensor of shape ({n}, {self.z_dim}), got "
                              f"{type(z).__name__} {tuple(getattr(z, 'shape', ()))}")
        return z.float()

    @torch.no_grad()
    def draw(self, z: torch.Tensor, e: TextEmbedding) -> torch.Tensor:
        """G's images (N, C, H, W) in [-1, 1] on the CPU for N noise vectors and N captions (`embed`)."""
        return self.generator(z.to(self.device), *e.to(self.device).inputs())[0].float().clamp(-1, 1).cpu()

    def sample(self, n: int, text: Union[str, Sequence[str]], seed: Optional[int] = 0,
               z: Optional[torch.Tensor] = None) -> torch.Tensor:
        """`n` images of a prompt (a str), or of each prompt of a list (stacked prompt by prompt: row i of a grid
        with n columns is prompt i). Every prompt gets the same n noise vectors: `z` (n, z_dim), else drawn from
        `seed` (None: the global RNG)."""
        prompts = [text] if isinstance(text, str) else list(text) if isinstance(text, (list, tuple)) else None
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise ConfigError(f"text must be a prompt (str) or a non-empty list of prompts, got {text!r}"[:200])
        z = self.noise(n, seed, z)
        e = self.embed(prompts)
        return self.draw(z.repeat(len(prompts), 1), e.repeat_interleave(n))

    def interpolate(self, text_a: str, text_b: str, steps: int = 8, seed: Optional[int] = 0) -> torch.Tensor:
        """`steps` images (steps, C, H, W) from one noise vector, the embedding moving linearly from `text_a`'s
        to `text_b`'s."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise ConfigError(f"interpolate needs steps >= 2 (an integer), got {steps!r}")
        e = self.embed([text_a, text_b])
        a, b = (e.take(slice(k, k + 1)).repeat_interleave(steps) for k in (0, 1))
        t = torch.linspace(0, 1, steps, device=e.sentence.device)[:, None]
        return self.draw(self.noise(1, seed, None).expand(steps, -1), TextEmbedding.lerp(a, b, t))


def pad_at_least(x: torch.Tensor, side: int) -> torch.Tensor:
    """Pad (bottom, right; replicate) so both sides are at least `side` pixels."""
    ph, pw = max(0, side - x.shape[-2]), max(0, side - x.shape[-1])
    return torch.nn.functional.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


def match_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(N, C, H, W) to 1 channel (BT.601 luma) or 3 (gray replicated)."""
    if x.shape[1] == channels:
        return x
    if channels == 3:
        return x.expand(-1, 3, -1, -1)
    weights = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def load(path, device: Union[str, torch.device] = "cpu") -> Union[LoadedGenerator, Translator, Upscaler, Predictor,
                                                                  TextToImage]:
    """The model of a run directory or checkpoint: a `LoadedGenerator`, `Translator`, `Upscaler`, `Predictor` or
    `TextToImage`."""
    ck, cfg, spec = read_checkpoint(path)
    tasks = ck.meta.get("tasks") or {}
    if "sample_text" in tasks:
        return _text_to_image(ck, cfg, spec, tasks["sample_text"]).to(device)
    if "predict" in tasks:
        net = _network(ck, next(iter(tasks["predict"].values())))
        return Predictor(net, cfg.method, ck.step, spec).to(device)
    if "upscale" in tasks:
        net = _network(ck, next(iter(tasks["upscale"].values())))
        return Upscaler(net, cfg.method, ck.step, spec).to(device)
    if "translate" not in tasks:
        return load_generator(path, device)
    generators = {direction: _network(ck, name) for direction, name in tasks["translate"].items()}
    return Translator(generators, cfg.method, ck.step, cfg.data.direction if cfg.data.direction in generators
                      else next(iter(generators)), spec).to(device)


def _text_to_image(ck, cfg, spec, task) -> TextToImage:
    from .data.tokenizer import Vocabulary

    if not isinstance(task, dict) or not {"encoder", "generator", "vocabulary"} <= set(task):
        raise CheckpointError(f"checkpoint '{ck.path}' describes its text-to-image task incompletely (needs encoder, "
                              "generator and vocabulary); use a checkpoint written by `gankit train`")
    try:
        vocabulary = Vocabulary.from_json(task["vocabulary"])
    except DataError as err:
        raise CheckpointError(f"checkpoint '{ck.path}': {err}") from None
    encoder, generator = _network(ck, task["encoder"]), _network(ck, task["generator"])
    if len(vocabulary) != encoder.vocab_size:
        raise CheckpointError(f"checkpoint '{ck.path}' has a vocabulary of {len(vocabulary)} words for an encoder of "
                              f"{encoder.vocab_size}; use a checkpoint written by `gankit train`")
    return TextToImage(encoder, generator, vocabulary, cfg.method, ck.step, spec)


def _network(ck, name: str) -> nn.Module:
    """Network `name` of a checkpoint, rebuilt from its stored description and weights."""
    specs = ck.meta.get("networks") or {}
    if name not in specs:
        raise CheckpointError(f"checkpoint '{ck.path}' does not describe network {name}; use a checkpoint "
                              "written by `gankit train`")
    net = build_from_spec(specs[name], f"checkpoint '{ck.path}'")
    load_weights(net, split_weights(ck.weights, name)[0], ck.path)
    return net


def load_translator(path, device: Union[str, torch.device] = "cpu") -> Translator:
    """`load(path)` for the `translate` verb: a one-line error for a run that does not translate."""
    return _expect(load(path, device), Translator, path, "translate needs a pix2pix or cyclegan run")


def load_upscaler(path, device: Union[str, torch.device] = "cpu") -> Upscaler:
    """`load(path)` for the `upscale` verb: a one-line error for a run that does not upscale."""
    return _expect(load(path, device), Upscaler, path, "upscale needs a super-resolution (method=sr) run")


def load_predictor(path, device: Union[str, torch.device] = "cpu") -> Predictor:
    """`load(path)` for the `predict` verb: a one-line error for a run that does not predict frames."""
    return _expect(load(path, device), Predictor, path, "predict needs a video-prediction (method=video) run")


def _expect(model, kind: type, path, need: str):
    if isinstance(model, kind):
        return model
    if isinstance(model, Translator):
        what = f"an image-to-image ({model.method}) run"
    elif isinstance(model, Upscaler):
        what = "a super-resolution run"
    elif isinstance(model, Predictor):
        what = "a video-prediction run"
    elif isinstance(model, TextToImage):
        what = "a text-to-image run"
    else:
        what = f"a {model.spec.name} GAN run (noise -> images)"
    verbs = {Translator: "`gankit translate`", Upscaler: "`gankit upscale`",
             Predictor: "`gankit predict`", TextToImage: "`gankit sample --text`"}.get(type(model), "`gankit sample`")
    raise ConfigError(f"'{path}' is {what}: {need}; use {verbs} for this one")
