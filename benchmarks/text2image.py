#!/usr/bin/env python
"""Text-to-image on captioned MNIST: the ceiling, chance, a label-only oracle and GAN-INT-CLS in one table.

GAN-INT-CLS is trained from its preset (captioned-mnist-gan-int-cls) by benchmarks/text2image_train.sh into
runs/text2image/, and scored here with `gankit.metrics.text` (the code behind `gankit eval` and the in-training
evaluation) on the test captions (MNIST test digits, every layout; seen and held-out compositions apart). Rows
of the same run:

- real images, true captions: each metric's ceiling (the classifier's and the text model's own errors);
- real images, shuffled captions: chance (each image scored against another item's caption);
- label-only oracle: the caption's digits (real MNIST test digits) at a random layout: what any generator
  that reads the digits but ignores the position words would at best reach (an upper bound of a
  label-conditioned GAN, with no GAN errors);
- GAN-INT-CLS as the preset has it (G with word attention, `text.g_attention`), the same generator given
  shuffled captions (its images do follow the text), and GAN-INT-CLS with the sentence vector alone (the
  preset with text.g_attention=0: what the attention adds).

Picture: a grid of prompts (rows; seen and held-out) x 8 noise vectors (columns).

    .venv/bin/python benchmarks/text2image.py --runs runs/text2image --data data/mnist
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import (INCEPTION, RESULTS, Timer, log, read_times, today, training_facts,  # noqa: E402
                         training_footer, write_result)

import gankit  # noqa: E402
from gankit.data.captioned_mnist import captioned_mnist, draw, held_out  # noqa: E402
from gankit.metrics.text import MIN_INK, MIN_INSIDE, TextNets, text_results  # noqa: E402
from gankit.monitor.images import save_grid  # noqa: E402

PRESET = "captioned-mnist-gan-int-cls"
# row -> (run folder under --runs, overrides of the preset): the first is the preset (its shuffled row and the grid)
GANS = {"GAN-INT-CLS + word attention (the preset)": ("gan-int-cls", []),
        "GAN-INT-CLS, sentence vector only (text.g_attention=0)": ("gan-int-cls-sentence", ["text.g_attention=0"])}
# CUB-200 birds (different data: 64x64 to 256x256 photos, free-form captions): for scale only
PUBLISHED = {"AttnGAN (Xu et al. 2018), CUB": ("R-precision 67.82 %", "FID 23.98 (DF-GAN's table)"),
             "DF-GAN (Tao et al. 2022), CUB": ("—", "FID 12.10 (some report 14.81)")}
PROMPTS = ["a 7 at the top left", "a 7 at the bottom right", "the digit three in the centre",
           "a two to the left of a five", "a 5 to the left of a 2", "a 1 above a 6",
           "a 0 at the top left", "a 4 in the centre", "a 2 above an 8"]  # the last three are held out


def shuffled(batch: dict) -> dict:
    """The batch moved by one item (image and caption together): generating from it and scoring against the
    original captions pairs each caption with another item's image (consecutive test items differ in kind)."""
    return {**batch, "text": batch["text"][1:] + batch["text"][:1],
            **{k: v.roll(-1, 0) for k, v in batch.items() if isinstance(v, torch.Tensor)}}


def random_layouts(data, generator: torch.Generator):
    """generate(batch, z): the caption's digits (random MNIST test images of them) at a random layout of the same
    kind (one digit or two)."""
    singles, pairs = data.tables(train=False)
    pool = data.pool

    def generate(batch: dict, z: torch.Tensor) -> torch.Tensor:
        digits = batch["digits"].cpu()
        layout = draw(generator, digits[:, 1] >= 0, singles, pairs, pool)
        d = digits.clamp(min=0)
        pick = pool.start[d] + (torch.rand(d.shape, generator=generator) * pool.count[d]).long()
        return data.batch(layout._replace(digits=digits, index=pool.order[pick].where(digits >= 0, -1)))["image"]
    return generate


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--runs", default="runs/text2image")
    p.add_argument("--data", default="data/mnist", help="folder holding the MNIST IDX files")
    p.add_argument("--n", type=int, default=10_000, help="test captions (default all 10,000)")
    p.add_argument("--inception-weights", default=str(INCEPTION) if INCEPTION.is_file() else None)
    p.add_argument("--no-fid", action="store_true")
    p.add_argument("--fid-n", type=int, default=2_000,
                   help="captions (the first ones of the test set) for FID: Inception runs at about 5 images/s on "
                        "2 CPU cores, so FID on all 10,000 would take about 30 minutes per row")
    p.add_argument("--out", default="text2image.md")
    args = p.parse_args()
    timer, runs = Timer(), Path(args.runs)
    data = captioned_mnist(dir=args.data, split="test", n=args.n)
    names = ["caption_acc", "r_precision"] + ([] if args.no_fid else ["fid"])
    nets = TextNets(names, inception_weights=args.inception_weights)
    models = {name: gankit.load(runs / run) for name, (run, _) in GANS.items() if (runs / run / "checkpoints").is_dir()}
    real = lambda b, z: b["image"]  # noqa: E731
    oracle = random_layouts(data, torch.Generator().manual_seed(0))
    # (generate, shuffled captions, FID): FID only where the images are not the reference images themselves
    # or a re-pairing of them (the ceiling and chance rows; the shuffled GAN row has the GAN row's images)
    rows = {"real images, true captions (ceiling)": (real, False, False),
            "real images, shuffled captions (chance)": (real, True, False),
            "label-only oracle (right digits, random layout)": (oracle, False, True)}
    for name, model in models.items():
        gen = (lambda m: lambda b, z: m.draw(z, m.embed(b["text"], strict=False)))(model)
        rows[name] = (gen, False, True)
        if name == next(iter(GANS)):
            rows["the preset, shuffled captions"] = (gen, True, False)
    z_dim = next(iter(models.values())).z_dim if models else 1
    table, lines = {}, []
    for name, (fn, shuffle, fid) in rows.items():
        t = Timer()
        generate = (lambda f: lambda b, z: f(shuffled(b), z))(fn) if shuffle else fn
        protocol = {"row": name}
        results = text_results(generate, data, [m for m in names if m != "fid"], nets, z_dim=z_dim, protocol=protocol)
        if fid and "fid" in names:
            results += text_results(generate, data, ["fid"], nets, z_dim=z_dim, protocol=protocol, limit=args.fid_n)
        table[name] = {r.name: r.values for r in results}
        lines += [f"{name}: {r.line()}" for r in results]
        log(f"{name}: {json.dumps(table[name])} ({t})")
    if models:
        grid(next(iter(models.values())))
    times = read_times(runs / "times.txt")
    facts = {name: training_facts(runs / GANS[name][0], PRESET, GANS[name][1], times) for name in models}
    earlier = carried(RESULTS / "text2image.json", table)
    write_result(args.out, report(table, facts, lines, data, timer, nets, min(args.fid_n, len(data)), earlier))
    (RESULTS / "text2image.json").write_text(json.dumps({"date": today(), "rows": table, "training": facts,
                                                         "earlier": earlier}, indent=1, default=str))
    return 0


def carried(path: Path, table: dict) -> dict:
    """The GAN rows of the previous results file that this run did not score (their run folders are not on this
    machine), each with the date it was scored and its training facts, so the table's comparisons outlive them."""
    if not path.is_file():
        return {}
    old = json.loads(path.read_text())
    kept = {name: row for name, row in old.get("earlier", {}).items() if name not in table}
    kept.update({name: {"date": old.get("date", "earlier"), "values": old["rows"][name], "training": facts}
                 for name, facts in old.get("training", {}).items() if name not in table and name in old["rows"]})
    return kept


def grid(model) -> None:
    images = model.sample(8, PROMPTS, seed=0)
    save_grid(images, RESULTS / "text2image.png", nrow=8)
    log(f"wrote text2image.png ({len(PROMPTS)} prompts x 8)")


def _pct(values: dict, key: str) -> str:
    v = values.get(key)
    return "—" if v is None else f"{100 * v:.1f} %"


def _row(name: str, r: dict) -> str:
    """One table row of a scored generator."""
    fid = r.get("fid", {})
    cell = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
    return (f"| {name} | {_pct(r['caption_acc'], 'seen')} | {_pct(r['caption_acc'], 'held_out')} | "
            f"{_pct(r['caption_acc'], 'one_digit')} | {_pct(r['caption_acc'], 'two_digits')} | "
            f"{_pct(r['r_precision'], 'seen')} | {_pct(r['r_precision'], 'held_out')} | "
            f"{cell(fid.get('value'))} | {cell(fid.get('held_out'))} |\n")


def _earlier(earlier: dict) -> str:
    """The carried rows (`carried`) as a table of their own, or nothing."""
    if not earlier:
        return ""
    rows = "".join(_row(f"{name} (scored {row['date']}; {row['training'].get('steps')} steps)", row["values"])
                   for name, row in earlier.items())
    return f"""
Earlier runs of this benchmark whose run folders are not on this machine, as they were scored then (the same
test captions and protocol, with that day's digit classifier and text model):

{HEAD}{rows}"""


HEAD = ("| row | caption acc. seen | caption acc. held-out | one digit | two digits | R-precision seen | "
        "R-precision held-out | FID (all) | FID held-out |\n|---|---|---|---|---|---|---|---|---|\n")


def report(table: dict, facts: dict, lines: list, data, timer, nets, fid_n: int, earlier: dict) -> str:
    body = "".join(_row(name, r) for name, r in table.items())
    pub = "".join(f"| {m} | {a} | {b} |\n" for m, (a, b) in PUBLISHED.items())
    held = int(held_out(data.stored.digits, data.stored.positions).sum())
    return f"""# Text-to-image on captioned MNIST (64x64, one or two digits, {len(data)} test captions)

{HEAD}{body}{_earlier(earlier)}
Published figures for scale (CUB-200 birds: other data, other captions, GPU training):

| published | R-precision | FID |
|---|---|---|
{pub}
- Test set: {len(data)} captions of MNIST test digits, {len(data) - held} of seen layouts and {held} of
  held-out ones ({'; '.join(f'{k}: {v}' for k, v in data.info['held_out'].items())}). One generated image per
  caption, noise from seed 0.
- Caption accuracy: the digit classifier (`gankit classifier train`) reads each digit of the caption in the
  28x28 cell of its position, the cell holds >= {MIN_INK:g} of ink, and >= {MIN_INSIDE:.0%} of the image's ink lies
  in the caption's cells (+-2 px). A two-digit caption names only the relation ("a 3 to the left of a 5"), so
  its digits may stand in any row (left of) or column (above). One / two digits: the captions of each kind
  (seen and held-out together).
- R-precision: the caption among 99 mismatched captions that say something else, by
  {nets.matcher.protocol['model']}.
- FID: Inception 2015-12-05 features of the generated images against the real images of the same captions,
  on the first {fid_n} test captions (`--fid-n`; Inception on this CPU runs at about 5 images/s).

![prompts x samples](text2image.png)

*Rows: {'; '.join(PROMPTS)} (the last three are held-out compositions).*

{training_footer(facts, lines, 'bash benchmarks/text2image_train.sh', timer)}"""


if __name__ == "__main__":
    sys.exit(main())
