"""Captioned images of the user's own: a folder of images (data.dir) and a captions file.

The captions file (data.captions; default data.dir/captions.jsonl, else data.dir/captions.csv) is CSV
with a header line naming the columns file and text, or JSONL with one {"file": ..., "text": ...} object
per line; files are relative to data.dir and an image may have several captions. Images are read as the
folder source reads them (shorter side to data.size, default 64, centre crop). The vocabulary is built
from the captions; each batch takes one of an image's captions at random. There is one set of images for
every data.split (items() gives each image with its first caption, for evaluation).
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import torch

from gankit.data.base import convert_channels, subset_indices
from gankit.data.folder import DEFAULT_SIZE, load_image, scan, unreadable_image
from gankit.data.frames import check_batch_size, generator_state
from gankit.data.sampler import BatchSampler
from gankit.data.tokenizer import Vocabulary, words
from gankit.data.translation_common import check_shard, derive_seed, existing_dir, few, report_unreadable
from gankit.errors import DataError

DEFAULT_FILES = ("captions.jsonl", "captions.csv")
_TODO = ('write a CSV file with the header file,text or a JSONL file of {"file": ..., "text": ...} lines '
         "(files relative to data.dir), and pass data.captions=PATH")


# ---------------------------------------------------------------- the captions file
def captions_file(root: Path, path: Optional[str]) -> Path:
    """data.captions, else root/captions.jsonl, else root/captions.csv; one-line errors."""
    if path is None:
        found = [root / name for name in DEFAULT_FILES if (root / name).is_file()]
        if not found:
            raise DataError(f"no captions file in '{root}' (looked for {', '.join(DEFAULT_FILES)}): {_TODO}")
        return found[0]
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"data.captions '{file}' {'is a folder' if file.is_dir() else 'does not exist'}: {_TODO}")
    if file.suffix.lower() not in (".csv", ".jsonl"):
        raise DataError(f"data.captions '{file}' is neither .csv nor .jsonl: {_TODO}")
    return file


def read_captions(file: Path) -> List[Tuple[str, str]]:
    """The (file, text) pairs of a CSV or JSONL captions file; a one-line error naming a bad line."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read captions file '{file}' ({type(e).__name__}: {' '.join(str(e).split())}): "
                        "save it as UTF-8 text") from e
    if not text.strip():
        raise DataError(f"captions file '{file}' is empty: {_TODO}")
    rows = _read_csv(file, text) if file.suffix.lower() == ".csv" else _read_jsonl(file, text)
    if not rows:
        raise DataError(f"captions file '{file}' holds no captions: {_TODO}")
    return rows


def _bad(file: Path, line: int, what: str) -> DataError:
    return DataError(f"captions file '{file}' line {line}: {what}: fix or remove that line")


def _checked(file: Path, line: int, name, text) -> Tuple[str, str]:
    if not isinstance(name, str) or not name.strip():
        raise _bad(file, line, "no image file named")
    if not isinstance(text, str) or not words(text):
        raise _bad(file, line, f"the caption {text!r} has no words")
    return name.strip(), text


def _read_csv(file: Path, text: str) -> List[Tuple[str, str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    if "file" not in header or "text" not in header:
        raise DataError(f"captions file '{file}' has no header line naming the columns file and text (its first "
                        f"line is {','.join(header)[:80]!r}): add the line file,text at the top")
    f, t, rows = header.index("file"), header.index("text"), []
    for row in reader:
        if not row:
            continue  # a blank line
        if len(row) != len(header):
            raise _bad(file, reader.line_num, f"{len(row)} fields, the header has {len(header)} (quote a caption "
                       'holding commas: "a cat, sleeping")')
        rows.append(_checked(file, reader.line_num, row[f], row[t]))
    return rows


def _read_jsonl(file: Path, text: str) -> List[Tuple[str, str]]:
    rows = []
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as e:
            raise _bad(file, line, f"not JSON ({e.msg})") from e
        if not isinstance(doc, dict) or "file" not in doc or "text" not in doc:
            raise _bad(file, line, 'not an object with the keys "file" and "text"')
        rows.append(_checked(file, line, doc["file"], doc["text"]))
    return rows


# ---------------------------------------------------------------- data and batches
@dataclass
class CaptionsData:
    """Images float32 (N, C, S, S) in [-1, 1]; every caption encoded, tokens (T, L) and length (T,), with
    image i's captions at first[i] .. first[i] + count[i] - 1."""

    x: torch.Tensor
    names: List[str]
    texts: List[str]
    tokens: torch.Tensor
    length: torch.Tensor
    first: torch.Tensor
    count: torch.Tensor
    vocab: Vocabulary
    info: dict = field(default_factory=dict)
    kind = "text-image"
    name = "captions"
    num_classes = 0
    class_names: tuple = ()

    def __len__(self) -> int:
        return len(self.x)

    @property
    def shape(self) -> tuple:
        return tuple(self.x.shape[1:])

    @property
    def max_words(self) -> int:
        """The width of "tokens": the longest caption in words."""
        return self.tokens.shape[1]

    @property
    def device(self) -> torch.device:
        return self.x.device

    def to(self, device) -> "CaptionsData":
        return replace(self, **{k: getattr(self, k).to(device) for k in ("x", "tokens", "length", "first", "count")})

    def batches(self, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> "CaptionsBatches":
        """Random batches {"image", "tokens", "length"}, this rank's share of `batch_size`."""
        return CaptionsBatches(self, batch_size, seed, rank, world)

    def items(self, batch_size: int = 64) -> Iterator[Dict[str, object]]:
        """Every image in order with its first caption: {"image", "tokens", "length", "text", "names"}."""
        check_batch_size(batch_size)
        for lo in range(0, len(self), batch_size):
            k = self.first[lo:lo + batch_size]
            yield {"image": self.x[lo:lo + batch_size], "tokens": self.tokens[k], "length": self.length[k],
                   "text": [self.texts[i] for i in k.tolist()], "names": self.names[lo:lo + batch_size]}


class CaptionsBatches:
    """Images from a BatchSampler (each once per epoch), one of each image's captions from a private CPU
    generator: exact state for resume. Every rank draws the global batch and keeps its slice."""

    def __init__(self, data: CaptionsData, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        check_batch_size(batch_size)
        check_shard(batch_size, rank, world)
        self.data, self.rank, self.world = data, rank, world
        self.sampler = BatchSampler(len(data), batch_size, seed=derive_seed(seed, "images"))
        self.generator = torch.Generator().manual_seed(derive_seed(seed, "captions"))

    @property
    def steps_per_epoch(self) -> int:
        return self.sampler.steps_per_epoch

    def next(self) -> Dict[str, torch.Tensor]:
        """{"image": float32 (B, C, S, S) in [-1, 1], "tokens": int64 (B, L) right-padded with 0, "length":
        int64 (B,)} on the data's device, B = batch_size / world."""
        d = self.data
        idx = self.sampler.next()
        u = torch.rand(len(idx), generator=self.generator, dtype=torch.float64)
        share = len(idx) // self.world
        keep = slice(self.rank * share, (self.rank + 1) * share)
        idx, u = idx[keep], u[keep]
        idx = idx.to(d.device)
        k = d.first[idx] + (u.to(d.device) * d.count[idx]).long()
        return {"image": d.x[idx], "tokens": d.tokens[k], "length": d.length[k]}

    def state_dict(self) -> dict:
        """{"sampler": BatchSampler state, "captions": uint8 generator state}: safetensors-ready."""
        return {"sampler": self.sampler.state_dict(), "captions": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly from a state_dict() of a batch source over the same data and settings."""
        chosen = generator_state(state, "captions", "captions")
        if not isinstance(state.get("sampler"), dict):
            raise DataError("captions batch state has no sampler: resume from an intact checkpoint or start a new run")
        self.sampler.load_state_dict(state["sampler"])
        self.generator.set_state(chosen)


# ---------------------------------------------------------------- loading
def _match(root: Path, rows: List[Tuple[str, str]], file: Path) -> List[Tuple[Path, str, List[str]]]:
    """(image path, name, its captions) in the folder's order; images the file names must exist, images it
    does not name are skipped with a warning."""
    missing = list(dict.fromkeys(name for name, _ in rows if not (root / name).is_file()))
    if missing:
        raise DataError(f"captions file '{file}' names {len(missing)} image(s) missing from '{root}': "
                        f"{few(missing, 5)}: fix the names (paths relative to data.dir) or remove those lines")
    texts: Dict[Path, List[str]] = {}
    named: Dict[Path, str] = {}
    for name, text in rows:
        key = (root / name).resolve()
        texts.setdefault(key, []).append(text)
        named.setdefault(key, name)
    try:
        images, _ = scan(root)
    except DataError:  # the named files have other extensions
        images = []
    bare = [p for p in images if p.resolve() not in texts]
    if bare:
        warnings.warn(f"skipped {len(bare)} image(s) under '{root}' without a caption (first: "
                      f"'{bare[0].relative_to(root)}'): add lines for them to '{file}'", stacklevel=3)
    listed = {p.resolve(): p.relative_to(root).as_posix() for p in images if p.resolve() in texts}
    listed.update({k: named[k] for k in texts if k not in listed})  # e.g. hidden files, named explicitly
    return [(k, name, texts[k]) for k, name in listed.items()]


def captions_source(*, dir: Optional[str] = None, captions: Optional[str] = None, size: Optional[int] = None,
                    channels: Optional[int] = None, n: Optional[int] = None, seed: int = 0,
                    on_corrupt: str = "error") -> CaptionsData:
    """The captioned images of `dir`; `n` keeps a seeded subset of images; unreadable images raise, or are
    skipped with on_corrupt='skip'."""
    root = existing_dir(dir, "dir", "pass data.dir=PATH to the folder of captioned images")
    file = captions_file(root, captions)
    entries = _match(root, read_captions(file), file)
    idx = subset_indices(len(entries), n, seed)
    entries = entries if idx is None else [entries[i] for i in idx.tolist()]
    size = size or DEFAULT_SIZE
    images, kept, skipped = [], [], []
    for path, name, texts in entries:
        try:
            images.append(load_image(path, size))
            kept.append((name, texts))
        except Exception as e:  # PIL raises many types for bad files
            if on_corrupt != "skip":
                raise unreadable_image(path, e, "remove or replace it, or pass data.on_corrupt=skip to skip such "
                                       "files") from e
            skipped.append(str(path))
    report_unreadable(skipped, not images, len(entries), root, "captioned images")
    c = channels or (3 if any(x.shape[1] == 3 for x in images) else 1)
    x = torch.cat([convert_channels(im, c) for im in images])
    texts = [t for _, ts in kept for t in ts]
    count = torch.tensor([len(ts) for _, ts in kept])
    vocab = Vocabulary.build(texts)
    tokens, length = vocab.encode_batch(texts)
    info = {"dir": str(root), "captions_file": str(file), "images": len(kept), "captions": len(texts),
            "skipped": len(skipped), "vocabulary": len(vocab), "max_words": tokens.shape[1]}
    first = torch.cumsum(count, 0) - count
    return CaptionsData(x, [name for name, _ in kept], texts, tokens, length, first, count, vocab, info)
