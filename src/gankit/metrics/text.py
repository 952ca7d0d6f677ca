"""Text-to-image metrics, each on the seen and the held-out compositions of captioned-mnist (and overall):

- ``caption_acc`` (captioned-mnist): the fraction of generated images that show what their caption asks for.
  An image passes when, at some placement the caption allows (a one-digit caption names the place; a
  two-digit one only the relation, so any row for "left of" and any column for "above"), for every digit of
  the caption the classifier (`gankit classifier train`) reads that digit in its 28 x 28 cell (the grid corner
  without jitter), the cell holds at least `MIN_INK` of ink, and the caption's cells (each widened by the data's
  2-px jitter) hold at least `MIN_INSIDE` of all the ink in the image (no stray digit elsewhere). Real test
  images pass at the classifier's accuracy.
- ``r_precision``: whether the image is closer to its caption than to 99 random mismatched captions of the
  evaluation set (captions that say something else; AttnGAN's protocol, R = 1), in the embedding of a text model trained
  separately from the generator (`gankit classifier text`, `gankit.metrics.text_model`).
- ``fid``: Inception FID of the generated images against the real images of the same captions.

`text_results` scores any `generate(batch, z) -> images`; gankit eval, in-training evaluation (checkpoints/best)
and benchmarks/text2image.py share it. Generated item i uses noise row i of one seeded (N, z_dim) draw.
"""
from __future__ import annotations

import sys
from typing import Callable, Dict, List, Optional

import torch
from torch import Tensor

from ..errors import ConfigError
from .evaluate import MetricResult, _to_uint8
from .translation import flat, parse_family_names

TEXT_METRICS = ("caption_acc", "r_precision", "fid")
LOWER_IS_BETTER = {"caption_acc": False, "r_precision": False, "fid": True}
MIN_INK = 20.0  # ink (sum of pixels in [0, 1]) a requested cell must hold; an MNIST digit has about 100
MIN_INSIDE = 0.8  # share of the image's ink that must lie in the caption's cells
SUBSETS = ("seen", "held_out")


def parse_text_names(setting: Optional[str], data_name: str, default_fid: bool = False) -> List[str]:
    """`monitor.metrics` / `--metrics` for a text-to-image run; auto: caption_acc (captioned-mnist) and
    r_precision (+ fid with `default_fid`)."""
    auto = (["caption_acc"] if data_name == "captioned-mnist" else []) + ["r_precision"] + (["fid"] if default_fid
                                                                                              else [])
    names = parse_family_names(setting, TEXT_METRICS, auto, "text-to-image runs")
    if "caption_acc" in names and data_name != "captioned-mnist":
        raise ConfigError(f"caption_acc reads the digits and positions of captioned-mnist captions; data.name="
                          f"{data_name} has none: use r_precision or fid")
    return names


# --------------------------------------------------------------------------- caption accuracy

def caption_checks(images: Tensor, digits: Tensor, positions: Tensor, classify: Callable[[Tensor], Tensor]) -> Tensor:
    """bool (N,): whether each image (N, 1, S, S) in [-1, 1] shows its caption's digits (N, 2) (-1 absent) at a
    placement the caption allows (`placements` of the layout's positions (N, 2)), by the rule of the module
    docstring; `classify` maps uint8 (M, 1, 28, 28) to logits."""
    from ..data.base import resize_images
    from ..data.captioned_mnist import CANVAS, placements

    x = images.float().cpu()
    x = x if x.shape[-1] == CANVAS else resize_images(x, CANVAS)
    allowed = placements(positions)
    ok = torch.zeros(len(x), dtype=torch.bool)
    for j in range(allowed.shape[1]):
        todo = ~ok & ((j == 0) | (allowed[:, j] != allowed[:, 0]).any(1))  # each distinct placement once
        if todo.any():
            ok[todo] = _shows(x[todo], digits[todo], allowed[todo, j], classify)
    return ok


def _shows(x: Tensor, digits: Tensor, positions: Tensor, classify: Callable[[Tensor], Tensor]) -> Tensor:
    """bool (N,): whether each image (N, 1, 64, 64) shows `digits` (N, 2) at exactly `positions` (N, 2)."""
    from ..data.captioned_mnist import CANVAS, DIGIT, JITTER, grid_corners

    ink = ((x[:, 0] + 1) / 2).clamp(0, 1)  # (N, 64, 64)
    n = len(ink)
    corners = grid_corners(positions)  # (N, 2, 2)
    present = digits >= 0
    ok = torch.ones(n, dtype=torch.bool)
    inside = torch.zeros_like(ink, dtype=torch.bool)
    ar = torch.arange(CANVAS)
    for k in range(digits.shape[1]):
        r, c = corners[:, k, 0], corners[:, k, 1]
        rows = (ar >= r[:, None] - JITTER) & (ar < r[:, None] + DIGIT + JITTER)
        cols = (ar >= c[:, None] - JITTER) & (ar < c[:, None] + DIGIT + JITTER)
        inside |= (rows[:, :, None] & cols[:, None, :]) & present[:, k, None, None]
        idx = (r[:, None, None] + torch.arange(DIGIT)[:, None]) * CANVAS + c[:, None, None] + torch.arange(DIGIT)
        cell = x[:, 0].flatten(1).gather(1, idx.flatten(1)).view(n, 1, DIGIT, DIGIT)
        read = classify(_to_uint8(cell)).argmax(1)
        has_ink = ((cell + 1) / 2).clamp(0, 1).sum((1, 2, 3)) >= MIN_INK
        ok &= ~present[:, k] | ((read == digits[:, k]) & has_ink)
    total = ink.sum((1, 2))
    ok &= (ink * inside).sum((1, 2)) >= MIN_INSIDE * total
    return ok


# --------------------------------------------------------------------------- all metrics

class TextNets:
    """The networks the metrics read: classifier (caption_acc), matcher (r_precision), inception (fid), built
    without touching the global RNG."""

    def __init__(self, names: List[str], *, classifier=None, text_model=None, inception_weights=None,
                 data_name: str = "captioned-mnist", captions=None, data_dir=None, device="cpu"):
        from .evaluate import _build_net
        from .text_model import TextMatcher, default_path

        self.classifier = _build_net("classifier", None, classifier, "mnist", device) if "caption_acc" in names \
            else None
        with torch.random.fork_rng(devices=[]):  # as _build_net: the global RNG is the training's
            self.matcher = (TextMatcher(text_model or default_path(data_name, captions, data_dir), device)
                            if "r_precision" in names else None)
        self.inception = _build_net("inception", inception_weights, None, "", device) if "fid" in names else None
        self.real_fid: Optional[Tensor] = None  # Inception features of the real images, kept between evaluations


def _subsets(held: Optional[Tensor], two: Optional[Tensor]) -> Dict[str, Optional[Tensor]]:
    """{"value": None (every item), "seen": mask, "held_out": mask, "one_digit": mask, "two_digits": mask}, the
    masks only where the data flags held-out compositions / says how many digits each item has."""
    out: Dict[str, Optional[Tensor]] = {"value": None}
    if held is not None:
        out.update(seen=~held, held_out=held)
    if two is not None:
        out.update(one_digit=~two, two_digits=two)
    return out


def _mean(hits: Tensor, mask: Optional[Tensor]) -> Optional[float]:
    sel = hits if mask is None else hits[mask]
    return float(sel.double().mean()) if len(sel) else None


def text_results(generate: Callable[[Dict[str, object], Tensor], Tensor], data, names: List[str], nets: TextNets,
                 *, z_dim: int, limit: Optional[int] = None, seed: int = 0, batch_size: int = 100,
                 protocol: Optional[dict] = None, log: Optional[Callable[[str], None]] = None) -> List[MetricResult]:
    """Score `generate` on `data.items()` (the first `limit` items): one MetricResult per metric, with values for
    every item ("value") and, where the data says so, "seen" and "held_out" compositions and "one_digit" and
    "two_digits" captions."""
    from .frechet import feature_stats, frechet_distance
    from .text_model import layout_keys, r_precision_hits

    total = len(data) if limit is None else min(limit, len(data))
    if total < 2:
        raise ConfigError(f"text metrics need at least 2 items, got {total}: raise --n / monitor.eval_n")
    z_all = torch.randn(total, z_dim, generator=torch.Generator().manual_seed(seed))
    batches, acc = [], {"ok": [], "fake_emb": [], "fake_fid": [], "real_fid": [], "held": [], "two": []}
    seen = 0
    for batch in data.items(batch_size):
        take = min(len(batch["text"]), total - seen)
        if take <= 0:
            break
        batch = {k: v[:take] for k, v in batch.items()}
        fake = generate(batch, z_all[seen:seen + take]).float().cpu().clamp(-1, 1)
        seen += take
        batches.append(batch)
        if "held_out" in batch:
            acc["held"].append(batch["held_out"].cpu())
        if "digits" in batch:
            acc["two"].append(batch["digits"][:, 1].cpu() >= 0)
        if nets.classifier is not None and "caption_acc" in names:
            acc["ok"].append(caption_checks(fake, batch["digits"].cpu(), batch["positions"].cpu(),
                                            lambda u: nets.classifier.extract(u)["logits"]))
        if nets.matcher is not None and "r_precision" in names:
            acc["fake_emb"].append(nets.matcher.embed_images(fake))
        if nets.inception is not None and "fid" in names:
            acc["fake_fid"].append(nets.inception.extract(_to_uint8(fake))["features"])
            if nets.real_fid is None:
                acc["real_fid"].append(nets.inception.extract(_to_uint8(batch["image"].float().cpu()))["features"])
        if log and seen % max(batch_size, total // 5 // batch_size * batch_size) == 0 and seen < total:
            log(f"{seen}/{total} captions")
    texts = [t for b in batches for t in b["text"]]
    held = torch.cat(acc["held"]) if acc["held"] else None
    two = torch.cat(acc["two"]) if acc["two"] else None
    if nets.inception is not None and "fid" in names and nets.real_fid is None:
        nets.real_fid = torch.cat(acc["real_fid"])
    base = {**(protocol or {}), "n": seen, "seed": seed}
    if held is not None:
        base.update(n_seen=int((~held).sum()), n_held_out=int(held.sum()))
    results = []
    for name in names:
        values: Dict[str, Optional[float]] = {}
        if name == "caption_acc":
            hits = torch.cat(acc["ok"])
            proto = {"definition": f"classifier reads each digit in its 28x28 cell, cell ink >= {MIN_INK:g}, "
                                   f">= {MIN_INSIDE:.0%} of the ink in the caption's cells (+-2 px), at any placement the "
                                   "caption allows (two digits: any row or column)",
                     "classifier": nets.classifier.protocol["logits"],
                     "weights_sha256": nets.classifier.protocol["weights_sha256"]}
        elif name == "r_precision":
            hits = r_precision_hits(torch.cat(acc["fake_emb"]), nets.matcher.embed_text(texts),
                                    layout_keys(batches, texts), seed=seed)
            proto = {"definition": "true caption ranked first among it + 99 mismatched captions (saying something else), "
                                   "cosine", **{k: v for k, v in nets.matcher.protocol.items() if k != "weights"}}
        else:
            hits = None
            fake, real = torch.cat(acc["fake_fid"]), nets.real_fid[:seen]
            proto = {k: v for k, v in nets.inception.protocol.items() if k != "weights"}
        for key, mask in _subsets(held, two).items():
            if hits is not None:
                values[key] = _mean(hits, mask)
            else:
                sel = slice(None) if mask is None else mask
                values[key] = (frechet_distance(*feature_stats(real[sel]), *feature_stats(fake[sel]))
                               if int(fake[sel].shape[0]) >= 2 else None)
        results.append(MetricResult(name, values, {**base, **proto}))
    return results


class InTrainingText:
    """The periodic evaluation of a text-to-image method on the test captions (`monitor.eval_n` of them)."""

    def __init__(self, method, setting: str):
        from ..api import dataset_for

        self.method = method
        cfg = method.cfg
        self.names = parse_text_names(setting, cfg.data.name)
        self.data = dataset_for(cfg, split="test", n=cfg.monitor.eval_n)
        if self.data.info.get("split") != "test":
            print("\ngankit: the captions source has no test split: in-training evaluation uses the training images",
                  file=sys.stderr)
        self.nets = TextNets(self.names, inception_weights=cfg.monitor.inception_weights, data_name=cfg.data.name,
                             captions=cfg.data.captions, data_dir=cfg.data.dir, device=method.device)
        self.track = self.names[0]

    def __call__(self, step: int) -> Dict[str, float]:
        m = self.method
        results = text_results(m.generate_for, self.data, self.names, self.nets, z_dim=m.opts.z_dim,
                               limit=m.cfg.monitor.eval_n, seed=m.cfg.seed)
        return flat(results)


__all__ = ["InTrainingText", "LOWER_IS_BETTER", "TEXT_METRICS", "TextNets", "caption_checks",
           "parse_text_names", "text_results"]
