"""The image-text model behind R-precision: a JointEmbedding (BiGRU caption encoder + conv image encoder,
contrastive, `gankit.nn.text`) trained by gankit on a data set's training captions, separately from any
generator's encoder, and saved as safetensors + a JSON sidecar (architecture, vocabulary, what it was trained
on, its R-precision on real test images: the ceiling a generator is compared with). Loading never unpickles.

On captioned-mnist it trains on every layout (held-out ones too, MNIST train digits) so that it can judge a
generator on the compositions the generator never saw, as Inception knows every ImageNet class.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.metrics.classifier import cache_root, load_with_sidecar, save_with_sidecar
from gankit.metrics.inception import file_sha256

FORMAT = "gankit-text-model/1"
TEXT_DATA = ("captioned-mnist", "captions")


def default_path(data: str, captions: Optional[str] = None, data_dir: Optional[str] = None) -> Path:
    """Where `gankit classifier text` saves by default and text runs' evaluation looks: per data set, and for a
    user's captions per captions file (its absolute path)."""
    if data == "captioned-mnist":
        return cache_root() / "text_models" / "captioned-mnist.safetensors"
    source = str(Path(captions or Path(data_dir or ".") / "captions").expanduser().absolute())
    return cache_root() / "text_models" / f"captions-{hashlib.sha256(source.encode()).hexdigest()[:12]}.safetensors"


class TextMatcher:
    """A saved JointEmbedding with its vocabulary: cosine similarities of captions (str) and images."""

    def __init__(self, path, device="cpu"):
        from gankit.data.tokenizer import Vocabulary
        from gankit.nn.text import JointEmbedding

        path = Path(path)
        model, self.info = load_with_sidecar(path, FORMAT, lambda info: JointEmbedding(**info["arch"]),
                                             "text model", "train one with `gankit classifier text --data "
                                             "captioned-mnist --data-dir DIR` or pass --text-model PATH")
        self.vocab = Vocabulary.from_json(self.info["vocabulary"])
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.size = int(model.config["size"])
        ceiling = self.info.get("r_precision_real")
        self.protocol = {"model": f"gankit text model: BiGRU + conv image encoder, contrastive, trained on "
                                  f"{self.info.get('trained_on', '?')} ({self.info.get('steps', '?')} steps; "
                                  f"R-precision of real test images "
                                  f"{'?' if ceiling is None else f'{100 * ceiling:.1f}%'})",
                         "weights": str(path.absolute()), "weights_sha256": file_sha256(path)}

    @torch.no_grad()
    def embed_text(self, texts: Sequence[str], batch_size: int = 512) -> Tensor:
        """(N, D) float embeddings of captions (unknown words read as <unk>)."""
        out = []
        for i in range(0, len(texts), batch_size):
            tokens, length = self.vocab.encode_batch(list(texts[i:i + batch_size]))
            out.append(self.model.text(tokens.to(self.device), length.clamp(min=1).to(self.device)).cpu())
        return torch.cat(out)

    @torch.no_grad()
    def embed_images(self, images: Tensor, batch_size: int = 256) -> Tensor:
        """(N, D) float embeddings of (N, C, H, W) images in [-1, 1] (resized to the model's side if needed)."""
        from gankit.data.base import resize_images

        out = []
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size].float()
            x = x if x.shape[-1] == self.size else resize_images(x, self.size)
            out.append(self.model.image(x.to(self.device)).cpu())
        return torch.cat(out)


def _data(data: str, data_dir: Optional[str], captions: Optional[str], size: Optional[int], split: str,
          n: Optional[int], seed: int):
    from gankit.data import load_dataset
    from gankit.data.captioned_mnist import captioned_mnist

    if data not in TEXT_DATA:
        raise ConfigError(f"--data must be one of {', '.join(TEXT_DATA)}, got {data!r}")
    if data == "captioned-mnist":
        return captioned_mnist(dir=data_dir, split=split, n=n, seed=seed, size=size, every_layout=True)
    return load_dataset("captions", dir=data_dir, captions=captions, size=size, seed=seed)


def train_text_model(data: str = "captioned-mnist", data_dir: Optional[str] = None, captions: Optional[str] = None,
                     steps: int = 3000, batch_size: int = 128, lr: float = 1e-3, size: Optional[int] = None,
                     width: int = 32, out=None, seed: int = 0, device="cpu", eval_n: int = 1000,
                     log: Callable[[str], None] = print) -> Tuple[Path, dict]:
    """Train the R-precision model (Adam, cosine decay) on the training captions, measure the R-precision of
    real test images (the ceiling), save; returns (path, info)."""
    from gankit.nn.text import JointEmbedding

    if min(steps, width, eval_n) < 1 or batch_size < 2:
        raise ConfigError(f"--steps, --width and --eval-n must be >= 1 and --batch-size >= 2, got {steps}, {width}, "
                          f"{eval_n}, {batch_size}")
    start = time.time()
    out = Path(out) if out is not None else default_path(data, captions, data_dir)
    train = _data(data, data_dir, captions, size, "train", None, seed)
    torch.manual_seed(seed)
    device = torch.device(device)
    model = JointEmbedding(len(train.vocab), channels=train.shape[0], size=train.shape[-1], width=width).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    batches = train.batches(batch_size, seed)
    for step in range(1, steps + 1):
        b = batches.next()
        loss = model(b["image"].to(device), b["tokens"].to(device), b["length"].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % max(1, steps // 10) == 0 or step == steps:
            log(f"step {step}/{steps}: contrastive loss {loss.item():.4f}")
    test = _data(data, data_dir, captions, size, "test", eval_n, seed) if data == "captioned-mnist" else train
    trained_on = ("captioned-mnist train digits, every layout" if data == "captioned-mnist"
                  else f"captions of {train.info['dir']}")
    info = {"format": FORMAT, "arch": model.config, "vocabulary": train.vocab.to_json(), "data": data,
            "trained_on": trained_on, "steps": steps, "batch_size": batch_size, "seed": seed,
            "train_seconds": round(time.time() - start, 1)}
    path = save_with_sidecar(model.cpu(), out, info)
    matcher = TextMatcher(path)
    items = list(test.items(256))
    texts = [t for b in items for t in b["text"]]
    ranks = r_precision_hits(matcher.embed_images(torch.cat([b["image"] for b in items])), matcher.embed_text(texts),
                             layout_keys(items, texts), seed=seed)
    info.update(r_precision_real=float(ranks.float().mean()), r_precision_n=len(texts),
                r_precision_split="test" if test is not train else "train (the captions source has no test split)")
    return save_with_sidecar(model, out, info), info


# --------------------------------------------------------------------------- R-precision

R_CANDIDATES = 100  # the true caption and 99 mismatched ones (Xu et al. 2018, AttnGAN)


def layout_keys(batches: List[Dict[str, object]], texts: List[str]) -> Tensor:
    """An int id per item: items with the same id say the same thing (captioned-mnist: the same digits, relation
    and placement as far as the caption names it; else the same caption text), so neither is the other's
    mismatched caption."""
    from ..data.captioned_mnist import caption_key

    if batches and all(k in batches[0] for k in ("digits", "positions", "relation")):
        rows = torch.cat([caption_key(b["digits"], b["positions"], b["relation"]).cpu() for b in batches])
        return torch.unique(rows, dim=0, return_inverse=True)[1]
    ids: Dict[str, int] = {}
    return torch.tensor([ids.setdefault(t, len(ids)) for t in texts])


def mismatched_candidates(keys: Tensor, k: int, seed: int) -> Tensor:
    """(N, k) indices of other items whose key differs from each item's, drawn uniformly with replacement
    (seeded); k is cut to what the items allow: a ConfigError when no item has one."""
    n = len(keys)
    gen = torch.Generator().manual_seed(seed)
    out = torch.empty(n, k, dtype=torch.long)
    for i in range(n):
        others = (keys != keys[i]).nonzero()[:, 0]
        if not len(others):
            raise ConfigError("R-precision needs captions that differ: every evaluated caption says the same thing; "
                              "evaluate on more items (--n)")
        out[i] = others[torch.randint(len(others), (k,), generator=gen)]
    return out


def r_precision_hits(image_emb: Tensor, text_emb: Tensor, keys: Tensor, seed: int = 0,
                     candidates: int = R_CANDIDATES) -> Tensor:
    """bool (N,): whether image i is closer (cosine) to its own caption i than to each of `candidates` - 1
    mismatched captions of the same evaluation set (R-precision with R = 1; Xu et al. 2018)."""
    wrong = mismatched_candidates(keys, candidates - 1, seed)
    img = torch.nn.functional.normalize(image_emb.float(), dim=1)
    txt = torch.nn.functional.normalize(text_emb.float(), dim=1)
    true = (img * txt).sum(1)
    others = torch.einsum("nd,nkd->nk", img, txt[wrong])
    return true > others.max(1).values


__all__ = ["FORMAT", "R_CANDIDATES", "TextMatcher", "default_path", "layout_keys", "mismatched_candidates",
           "r_precision_hits", "train_text_model"]
