"""A word-level vocabulary for captions: lowercase words (runs of letters or digits), <pad> = 0, <unk> = 1.

"A 7, top-left!" -> ["a", "7", "top", "left"]. Words are kept in sorted order after the two special
tokens, so building from the same texts always gives the same ids; to_json() / from_json() carry the
word list (plain JSON) with a checkpoint. encode(..., strict=True) is for prompts typed at inference:
an empty prompt or an unknown word is a one-line DataError naming the closest known words.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from typing import Iterable, List, Optional, Sequence, Tuple

import torch

from gankit.errors import DataError

PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"[^\W_]+")  # letters or digits (any script); "_" and punctuation split words
_SHOWN = 40  # known words listed in an unknown-word error


def words(text: str) -> List[str]:
    """The lowercase words of `text`: runs of letters or digits."""
    return _WORD.findall(str(text).lower())


class Vocabulary:
    """Word <-> id: 0 is <pad>, 1 is <unk>, then the words in the given order."""

    def __init__(self, known: Sequence[str]) -> None:
        known = list(known)
        bad = [w for w in known if words(w) != [w]]
        if bad or len(set(known)) != len(known) or not known:
            what = f"{bad[0]!r} is not one lowercase word" if bad else "it is empty" if not known else \
                "it repeats words"
            raise DataError(f"the vocabulary is malformed ({what}): rebuild it with Vocabulary.build, or resume "
                            "from an intact checkpoint")
        self.words = [PAD, UNK, *known]
        self.ids = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> "Vocabulary":
        """The words seen at least `min_count` times in `texts`, sorted."""
        counts = Counter(w for t in texts for w in words(t))
        kept = sorted(w for w, c in counts.items() if c >= min_count)
        if not kept:
            raise DataError(f"no word occurs {min_count} or more times in the captions: give captions with words "
                            "(letters or digits) or lower min_count")
        return cls(kept)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.ids and self.ids[word] > 1

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and self.words == other.words

    def encode(self, text: str, strict: bool = False) -> List[int]:
        """Word ids of `text`; unknown words are <unk>, or with `strict` a DataError (as is an empty text)."""
        ws = words(text)
        if strict:
            self._check(ws)
        return [self.ids.get(w, 1) for w in ws]

    def encode_batch(self, texts: Sequence[str], strict: bool = False,
                     width: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """(tokens int64 (B, L) right-padded with 0, length int64 (B,)); L is `width` (longer texts are cut
        to it) or the longest text (at least 1)."""
        ids = [self.encode(t, strict) for t in texts]
        width = width if width is not None else max([1, *map(len, ids)])
        tokens = torch.zeros(len(ids), width, dtype=torch.int64)
        length = torch.tensor([min(len(s), width) for s in ids], dtype=torch.int64)
        for row, s in enumerate(ids):
            tokens[row, :length[row]] = torch.tensor(s[:width], dtype=torch.int64)
        return tokens, length

    def decode(self, ids) -> str:
        """The words of `ids` (a list or 1-D tensor) joined by spaces; padding is dropped."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        return " ".join(self.words[i] if 0 <= i < len(self.words) else UNK for i in ids if i != 0)

    def to_json(self) -> dict:
        """{"words": [...]}: the known words in id order from 2 on (plain JSON)."""
        return {"words": self.words[2:]}

    @classmethod
    def from_json(cls, doc: dict) -> "Vocabulary":
        """The vocabulary that to_json() wrote."""
        known = doc.get("words") if isinstance(doc, dict) else None
        if not isinstance(known, list) or not all(isinstance(w, str) for w in known):
            raise DataError("the vocabulary is malformed (no list of words under 'words'): resume from an intact "
                            "checkpoint")
        return cls(known)

    def _check(self, ws: List[str]) -> None:
        if not ws:
            raise DataError("the prompt is empty: give a caption such as 'a 7 at the bottom right'")
        unknown = list(dict.fromkeys(w for w in ws if w not in self))
        if not unknown:
            return
        known = self.words[2:]

        def hint(w: str) -> str:
            close = difflib.get_close_matches(w, known, n=2)
            return f"closest: {', '.join(repr(c) for c in close)}" if close else "no close word"

        listed = ", ".join(known[:_SHOWN]) + (" ..." if len(known) > _SHOWN else "")
        raise DataError(f"unknown words in the prompt: {', '.join(f'{w!r} ({hint(w)})' for w in unknown)}; "
                        f"the model knows {len(known)} words: {listed}")
