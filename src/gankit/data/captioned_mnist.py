"""Captioned MNIST: one or two MNIST digits on a 64 x 64 canvas with a caption (in the spirit of alignDRAW's).

Layout. A digit (28 x 28) has its top-left corner at one of 9 named positions, a 3 x 3 grid at offsets
{0, 18, 36} px (row, col), index 0..8 row-major: top left, top, top right, left, centre, right, bottom
left, bottom, bottom right; each corner moves by a seeded jitter of up to +-2 px (clamped to the canvas).
Two digits stand in a relation: 0 "left of" (one row, columns 0 and 2) or 1 "above" (one column, rows 0
and 2), so they never overlap; digit 0 is the left / upper one. Digits are composited by maximum.

Captions come from the templates and synonyms of the tables below (numeral or word, "top left" / "upper
left" / ..., "left of" or the mirrored "right of"), drawn per item, e.g. "a 3 in the top left corner",
"the digit three at the upper left", "a seven to the right of a two", "a 5 above a 1". The vocabulary is
built from these tables alone, so it is the same for every split and seed.

Held-out compositions (never drawn for training; see held_out()):
  * one digit: digit d at position d % 9 (0 top left, 1 top, ..., 8 bottom right, 9 top left): 10 of 90;
  * two digits: digits a (left / upper) and b with (a + b) % 5 == 0, in both relations and every row or
    column: 20 of the 100 ordered pairs (120 of 600 layouts).
split=train draws seen layouts on the fly from the MNIST train digits: half of the images have two digits
(data.digits=2) or none (data.digits=1); layouts uniform over the seen ones. split=test holds n items
(10,000 by default) drawn from all layouts, seen and held out, with the MNIST test digits; item i comes from
its own generator seeded derive_seed(TEST_SEED, i), and has two digits exactly when i is odd (data.digits=2),
so an item does not depend on n.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Iterator, List, NamedTuple, Optional

import torch

from gankit.data.base import resize_images
from gankit.data.frames import check_batch_size, generator_state, positive
from gankit.data.idx import MNIST, read_split
from gankit.data.sampler import BatchSampler
from gankit.data.tokenizer import Vocabulary, words
from gankit.data.translation_common import check_shard, derive_seed, few, to_float
from gankit.errors import DataError

# ---------------------------------------------------------------- the caption tables
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PLACES = (  # position index (row-major on the 3 x 3 grid): its phrases
    ("top left", "upper left", "top left corner", "upper left corner"),
    ("top", "top middle", "upper middle"),
    ("top right", "upper right", "top right corner", "upper right corner"),
    ("left", "middle left", "left side"),
    ("centre", "center", "middle"),
    ("right", "middle right", "right side"),
    ("bottom left", "lower left", "bottom left corner", "lower left corner"),
    ("bottom", "bottom middle", "lower middle"),
    ("bottom right", "lower right", "bottom right corner", "lower right corner"),
)
RELATIONS = (  # relation: (phrases with the left / upper digit named first, phrases with it named second)
    (("to the left of", "left of", "on the left of"), ("to the right of", "right of", "on the right of")),
    (("above", "over"), ("below", "under", "beneath")),
)
NOUNS = ("{a} {d}", "the digit {d}", "the number {d}")  # {a}: "a" or "an", {d}: "7" or "seven"
ONE = ("{x} at the {p}", "{x} in the {p}", "there is {x} at the {p}", "{x} in the {p} of the image")
TWO = ("{x} {r} {y}", "there is {x} {r} {y}", "{x} {r} {y} in the image")
CHOICES = 6  # random ints per caption: template, noun, form of digit 0, form of digit 1, phrase, order

# ---------------------------------------------------------------- the layout protocol
DIGIT = 28  # MNIST side in px
CANVAS = 64
STEP = 18  # grid offsets 0, 18, 36
JITTER = 2
TEST_SEED = 151002793  # alignDRAW's arXiv id (1511.02793): seeds the test set
DEFAULT_N = 10_000  # test items, and those of a nominal training epoch
RULE = {"one digit": "digit d never at position d % 9 (10 of 90)",
        "two digits": "digits a (left/upper) and b with (a + b) % 5 == 0, either relation (20 of 100 pairs)"}


def _table(two: bool) -> torch.Tensor:
    """Every layout as rows (digit 0, digit 1, position 0, position 1, relation); -1 where absent."""
    if not two:
        return torch.tensor([(d, -1, p, -1, -1) for d in range(10) for p in range(9)])
    lines = [(3 * k, 3 * k + 2, 0) for k in range(3)] + [(k, 6 + k, 1) for k in range(3)]
    return torch.tensor([(a, b, p, q, r) for a in range(10) for b in range(10) for p, q, r in lines])


def held_out(digits: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """bool (...): whether each layout (digits (..., 2), positions (..., 2); -1 absent) is held out of training."""
    a, b = digits[..., 0], digits[..., 1]
    return torch.where(b < 0, positions[..., 0] == a % 9, (a + b) % 5 == 0)


class Layout(NamedTuple):
    """Items' parameters: pool indices (B, 2), digits (B, 2), positions (B, 2), corners (B, 2, 2) as (row,
    col), relation (B,) and caption choices (B, CHOICES); -1 marks an absent second digit."""

    index: torch.Tensor
    digits: torch.Tensor
    positions: torch.Tensor
    corner: torch.Tensor
    relation: torch.Tensor
    choice: torch.Tensor

    def take(self, sel) -> "Layout":
        return Layout(*(t[sel] for t in self))

    @staticmethod
    def cat(parts: List["Layout"]) -> "Layout":
        return Layout(*(torch.cat(ts) for ts in zip(*parts)))


class Pool(NamedTuple):
    """MNIST digits uint8 (M, 28, 28) grouped by label: order (M,), start (10,), count (10,)."""

    images: torch.Tensor
    order: torch.Tensor
    start: torch.Tensor
    count: torch.Tensor


def placements(positions: torch.Tensor) -> torch.Tensor:
    """(..., 3, 2): every placement a caption allows for items at grid positions (..., 2) (-1 absent). A one-digit
    caption names its place (that placement, thrice); a two-digit caption names only the relation, so any row
    ("left of") or any column ("above") will do. Placement 0 is the canonical one (top row, left column)."""
    k = torch.arange(3)
    rows, cols = torch.stack((3 * k, 3 * k + 2), -1), torch.stack((k, k + 6), -1)  # (3, 2) each
    p, q = positions[..., :1, None], positions[..., 1:, None]  # (..., 1, 1)
    same = positions.unsqueeze(-2).expand(*positions.shape[:-1], 3, 2)
    return torch.where(q < 0, same, torch.where(q - p == 6, cols, rows))


def caption_key(digits: torch.Tensor, positions: torch.Tensor, relation: torch.Tensor) -> torch.Tensor:
    """(N, 5) rows that are equal exactly when two items' captions say the same thing: digits, relation and the
    canonical placement (a two-digit caption does not name the row or column)."""
    return torch.cat([digits, placements(positions)[:, 0], relation[:, None]], 1)


def grid_corners(positions: torch.Tensor) -> torch.Tensor:
    """(..., 2) top-left corners (row, col) in px, without jitter, of grid positions (...) 0..8 (-1 reads as 0)."""
    p = positions.clamp(min=0)
    return torch.stack((p // 3, p % 3), -1) * STEP


def draw(generator: torch.Generator, two: torch.Tensor, singles: torch.Tensor, pairs: torch.Tensor,
         pool: Pool) -> Layout:
    """Layouts for len(two) items: uniform over `pairs` where `two`, else over `singles`; MNIST images,
    jitter and caption choices, all from `generator` (a fixed number of draws per item)."""
    b = len(two)
    s = singles[torch.randint(len(singles), (b,), generator=generator)]
    t = pairs[torch.randint(len(pairs), (b,), generator=generator)]
    row = torch.where(two[:, None], t, s)
    u = torch.rand(b, 2, generator=generator, dtype=torch.float64)
    jitter = torch.randint(-JITTER, JITTER + 1, (b, 2, 2), generator=generator)
    choice = torch.randint(1 << 30, (b, CHOICES), generator=generator)
    digits, positions = row[:, :2], row[:, 2:4]
    present = digits >= 0
    d = digits.clamp(min=0)
    index = pool.order[pool.start[d] + (u * pool.count[d]).long()].where(present, -1)
    corner = (grid_corners(positions) + jitter).clamp(0, CANVAS - DIGIT) * present[..., None]
    return Layout(index, digits, positions, corner, row[:, 4], choice)


def fixed(seed: int, lo: int, hi: int, two_digits: bool, singles, pairs, pool: Pool) -> Layout:
    """Items lo..hi-1 of a fixed set: item i from derive_seed(seed, i), with two digits when i is odd."""
    return Layout.cat([draw(torch.Generator().manual_seed(derive_seed(seed, str(i))),
                            torch.tensor([two_digits and i % 2 == 1]), singles, pairs, pool) for i in range(lo, hi)])


def render(images: torch.Tensor, index: torch.Tensor, corner: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 1, 64, 64): images[index] pasted at `corner`, composited by maximum; index -1 pastes nothing."""
    b, d = index.shape
    src = images[index.clamp(min=0)] * (index >= 0)[..., None, None]
    ar = torch.arange(DIGIT)
    flat = (corner[..., 0, None, None] + ar[:, None]) * CANVAS + corner[..., 1, None, None] + ar
    canvas = torch.zeros(b, CANVAS * CANVAS, dtype=torch.uint8)
    canvas.scatter_reduce_(1, flat.reshape(b, -1), src.reshape(b, -1), "amax")
    return canvas.view(b, 1, CANVAS, CANVAS)


# ---------------------------------------------------------------- captions
def _noun(digit: int, form: int, noun: str) -> str:
    name = NUMBER_WORDS[digit] if form % 2 else str(digit)
    return noun.format(a="an" if name in ("8", "eight") else "a", d=name)


def caption(digits, positions, relation: int, choice) -> str:
    """The caption of one layout (digits, positions: 2 ints, -1 absent) with caption choices (CHOICES ints)."""
    tpl, noun, f0, f1, phrase, order = (int(c) for c in choice)
    noun = NOUNS[noun % len(NOUNS)]
    x = _noun(int(digits[0]), f0, noun)
    if relation < 0:
        place = PLACES[int(positions[0])]
        return ONE[tpl % len(ONE)].format(x=x, p=place[phrase % len(place)])
    y = _noun(int(digits[1]), f1, noun)
    phrases = RELATIONS[int(relation)][order % 2]
    x, y = (x, y) if order % 2 == 0 else (y, x)
    return TWO[tpl % len(TWO)].format(x=x, r=phrases[phrase % len(phrases)], y=y)


def captions(layout: Layout) -> List[str]:
    """The caption of each item of `layout`."""
    return [caption(*item) for item in zip(layout.digits.tolist(), layout.positions.tolist(),
                                           layout.relation.tolist(), layout.choice.tolist())]


def describe(digits, positions, relation) -> List[str]:
    """Plain captions (the first template and synonyms), e.g. for a grid of prompts: "a 7 at the top left"."""
    zero = torch.zeros(len(relation), CHOICES, dtype=torch.int64)
    return captions(Layout(zero, torch.as_tensor(digits), torch.as_tensor(positions), zero,
                           torch.as_tensor(relation), zero))


def _pick(allowed: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """The (k mod count)-th allowed column of each row of a bool (N, M) mask with at least one True per row."""
    k = k % allowed.sum(1)
    return ((allowed.cumsum(1) - 1 == k[:, None]) & allowed).int().argmax(1)


def contrast(layout: Layout) -> Layout:
    """A hard negative of each item, worded like its caption (NegCLIP's swaps, Yuksekgonul et al. 2023): two
    digits exchanged (or, when both are the same, the second replaced), a lone digit moved to another place.
    Chosen from the item's caption choices (no RNG) and always a seen layout, so no held-out composition is
    ever named in training."""
    d, pos, choice = layout.digits.clone(), layout.positions.clone(), layout.choice
    a, b = d[:, 0], d[:, 1]
    two, same = b >= 0, a == b
    d[two & ~same] = d[two & ~same].flip(-1)
    digit = torch.arange(10)
    other = (digit != b[:, None]) & ((a[:, None] + digit) % 5 != 0)  # seen pairs have (a + b) % 5 != 0
    d[:, 1] = torch.where(two & same, _pick(other, choice[:, 3]), d[:, 1])
    place = torch.arange(9)
    elsewhere = (place != pos[:, :1]) & (place != (a % 9)[:, None])  # digit a is never shown at a % 9
    pos[:, 0] = torch.where(two, pos[:, 0], _pick(elsewhere, choice[:, 4]))
    return layout._replace(digits=d, positions=pos)


def _skeletons() -> Iterator[str]:
    """Every template filled with every phrase (the digit always "8", as "an 8")."""
    for noun in NOUNS:
        x = noun.format(a="an", d="8")
        yield from (t.format(x=x, p=p) for t in ONE for ps in PLACES for p in ps)
        yield from (t.format(x=x, r=r, y=x) for t in TWO for rs in RELATIONS for side in rs for r in side)


VOCABULARY = Vocabulary.build([*_skeletons(), *NUMBER_WORDS, "0 1 2 3 4 5 6 7 8 9 a"])
MAX_WORDS = max(len(words(t)) for t in _skeletons())  # the longest caption: the width of "tokens"


# ---------------------------------------------------------------- data and batches
@dataclass
class CaptionedMNISTData:
    """Captioned MNIST: a pool of MNIST digits to draw layouts from (train) or a stored set of layouts (test)."""

    pool: Pool
    stored: Optional[Layout]  # the test set
    digits: int  # 1 or 2: the most digits per image
    size: int
    count: int  # stored items, or those of a nominal epoch and of items() for train
    items_seed: int
    info: dict = field(default_factory=dict)
    every_layout: bool = False  # train: draw held-out layouts too (for evaluation models, never for a generator)
    target: torch.device = torch.device("cpu")
    vocab = VOCABULARY  # fixed: the same for every split and seed
    max_words = MAX_WORDS
    kind = "text-image"
    name = "captioned-mnist"
    num_classes = 0
    class_names: tuple = ()

    def __len__(self) -> int:
        return self.count

    @property
    def shape(self) -> tuple:
        return (1, self.size, self.size)

    @property
    def device(self) -> torch.device:
        return self.target

    def to(self, device) -> "CaptionedMNISTData":
        """A copy whose batches land on `device` (they are rendered on the CPU)."""
        return replace(self, target=torch.device(device))

    def tables(self, train: bool):
        """(single-digit layouts, two-digit layouts) to draw from: the seen ones for training, else all."""
        singles, pairs = _table(False), _table(True)
        if train:
            singles = singles[~held_out(singles[:, :2], singles[:, 2:4])]
            pairs = pairs[~held_out(pairs[:, :2], pairs[:, 2:4])]
        return singles, pairs

    def layouts(self, lo: int, hi: int) -> Layout:
        """Items lo..hi-1 of the fixed set: the test items, or for train a set seeded by the data seed."""
        if self.stored is not None:
            return self.stored.take(slice(lo, hi))
        return fixed(self.items_seed, lo, hi, self.digits == 2, *self.tables(True), self.pool)

    def captions(self, lo: int, hi: int) -> List[str]:
        """The captions of items lo..hi-1 of the fixed set."""
        return captions(self.layouts(lo, hi))

    def batch(self, layout: Layout) -> Dict[str, torch.Tensor]:
        """The batch of `layout` on the data's device (see CaptionedMNISTBatches.next)."""
        x = to_float(render(self.pool.images, layout.index, layout.corner))
        x = x if self.size == CANVAS else resize_images(x, self.size)
        tokens, length = self.vocab.encode_batch(captions(layout), width=self.max_words)
        hard_tokens, hard_length = self.vocab.encode_batch(captions(contrast(layout)), width=self.max_words)
        out = {"image": x, "tokens": tokens, "length": length, "hard_tokens": hard_tokens, "hard_length": hard_length,
               "digits": layout.digits,
               "positions": layout.positions, "relation": layout.relation,
               "held_out": held_out(layout.digits, layout.positions)}
        return {k: v.to(self.target, non_blocking=True) for k, v in out.items()}

    def batches(self, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> "CaptionedMNISTBatches":
        """Random batches, this rank's share of `batch_size`: generated (train) or drawn from the test items."""
        return CaptionedMNISTBatches(self, batch_size, seed, rank, world)

    def items(self, batch_size: int = 64) -> Iterator[Dict[str, object]]:
        """The fixed set in order: the batch keys plus "text" (the captions, a list of str)."""
        check_batch_size(batch_size)
        for lo in range(0, self.count, batch_size):
            layout = self.layouts(lo, min(lo + batch_size, self.count))
            yield {**self.batch(layout), "text": captions(layout)}


class CaptionedMNISTBatches:
    """Batches from a private CPU generator (train) or a BatchSampler over the stored items (test); that is
    the whole resume state. Every rank draws the global batch's layouts and renders only its slice."""

    def __init__(self, data: CaptionedMNISTData, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        check_batch_size(batch_size)
        check_shard(batch_size, rank, world)
        self.data, self.batch_size, self.rank, self.world = data, batch_size, rank, world
        if data.stored is None:
            self.generator = torch.Generator().manual_seed(derive_seed(seed, "captioned-mnist"))
            self.singles, self.pairs = data.tables(train=not data.every_layout)
        else:
            self.sampler = BatchSampler(len(data), batch_size, seed=derive_seed(seed, "captioned-mnist"))

    @property
    def steps_per_epoch(self) -> int:
        """Batches in a nominal epoch of len(data) items (at least 1)."""
        return max(1, len(self.data) // self.batch_size)

    def next(self) -> Dict[str, torch.Tensor]:
        """{"image": float32 (B, 1, S, S) in [-1, 1], "tokens": int64 (B, MAX_WORDS) right-padded with 0,
        "length": int64 (B,), "hard_tokens", "hard_length": the same of each item's `contrast` caption,
        "digits", "positions": int64 (B, 2) (-1 absent), "relation": int64 (B,) (-1 one digit, 0 left of,
        1 above), "held_out": bool (B,)} with B = batch_size / world."""
        if self.data.stored is None:
            b = self.batch_size
            two = torch.rand(b, generator=self.generator) < (0.5 if self.data.digits == 2 else 0.0)
            layout = draw(self.generator, two, self.singles, self.pairs, self.data.pool)
        else:
            layout = self.data.stored.take(self.sampler.next())
        share = self.batch_size // self.world
        return self.data.batch(layout.take(slice(self.rank * share, (self.rank + 1) * share)))

    def state_dict(self) -> dict:
        """{"generator": uint8 tensor} (train) or {"sampler": BatchSampler state} (test): safetensors-ready."""
        if self.data.stored is None:
            return {"generator": self.generator.get_state()}
        return {"sampler": self.sampler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly from a state_dict() of a batch source with the same data and settings."""
        if self.data.stored is None:
            self.generator.set_state(generator_state(state, "generator", "captioned-MNIST"))
        elif not isinstance(state, dict) or not isinstance(state.get("sampler"), dict):
            raise DataError("captioned-MNIST batch state has no sampler: resume from an intact checkpoint or start "
                            "a new run")
        else:
            self.sampler.load_state_dict(state["sampler"])


# ---------------------------------------------------------------- loading
def mnist_pool(dir: Optional[str], split: str, download: bool) -> tuple:
    """(Pool of the MNIST `split` digits grouped by label, the files read)."""
    images, labels, files = read_split(MNIST, dir, split, download)
    if images.shape[1:] != (DIGIT, DIGIT):
        raise DataError(f"'{files[0]}' holds images of shape {images.shape}, expected (N, 28, 28) MNIST digits: "
                        "use the MNIST files")
    labels = torch.from_numpy(labels).long()
    count = torch.bincount(labels, minlength=10)
    if (count == 0).any():
        missing = [str(d) for d in range(10) if count[d] == 0]
        raise DataError(f"'{files[1]}' has no images of digit(s) {few(missing, 10)}: captioned-mnist needs every "
                        "digit; use the full MNIST files")
    start = torch.cumsum(count, 0) - count
    pool = Pool(torch.from_numpy(images), torch.argsort(labels, stable=True), start, count)
    return pool, [str(p) for p in files]


def captioned_mnist(*, dir: Optional[str] = None, split: str = "train", n: Optional[int] = None, seed: int = 0,
                    digits: int = 2, size: Optional[int] = None, download: bool = False,
                    every_layout: bool = False) -> CaptionedMNISTData:
    """Captioned MNIST from the MNIST IDX files in `dir`.

    `digits`: the most digits per image (1, or 2 for a half-and-half mix). `n`: test items kept (default
    10,000), or for train the items of a nominal epoch and of items(). `seed` picks the train split's fixed
    items() set; the training stream comes from the batch source's seed, the test set from TEST_SEED.
    `size`: the image side (default 64; other sides are resized, bilinear and antialiased). `every_layout`: the
    train split's batches draw the held-out layouts too (for models that score generators, never to train one)."""
    if digits not in (1, 2) or isinstance(digits, bool):
        raise DataError(f"data.digits must be 1 or 2 for captioned-mnist (the most digits per image), got "
                        f"{digits!r}: pass data.digits=1 or 2")
    positive("size", size, CANVAS)
    positive("n", n, DEFAULT_N)
    pool, files = mnist_pool(dir, split, download)
    info = {"split": split, "digits": digits, "size": size or CANVAS, "canvas": CANVAS, "digit_size": DIGIT,
            "positions": [p[0] for p in PLACES], "grid_offsets": [0, STEP, 2 * STEP], "jitter": JITTER,
            "relations": ["left of", "above"], "composite": "max", "held_out": RULE, "files": files,
            "pool": len(pool.images), "test_seed": TEST_SEED, "vocabulary": len(VOCABULARY),
            "max_words": MAX_WORDS, "two_digit_fraction": 0.5 if digits == 2 else 0.0,
            "protocol": "one or two MNIST digits on a 3x3 grid with a templated caption (alignDRAW-like); "
                        "training never draws a held-out layout, the test set draws from all"}
    data = CaptionedMNISTData(pool, None, digits, size or CANVAS, n or DEFAULT_N, derive_seed(seed, "items"), info,
                              every_layout=every_layout)
    if every_layout:
        info["protocol"] += " (this copy's training batches draw every layout, held-out ones included)"
    if split == "test":
        stored = fixed(TEST_SEED, 0, data.count, digits == 2, *data.tables(train=False), pool)
        data = replace(data, stored=stored)
        info["held_out_items"] = int(held_out(stored.digits, stored.positions).sum())
    return data
