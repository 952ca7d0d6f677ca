"""Captioned MNIST: layouts on the 3x3 grid, captions that say what is drawn, held-out compositions, exact resume."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from gankit.api import dataset_for
from gankit.checkpoint import flatten_state, unflatten_state
from gankit.config import load_config
from gankit.data import load_dataset
from gankit.data.captioned_mnist import (MAX_WORDS, VOCABULARY, Layout, caption, caption_key, captioned_mnist, captions,
                                         contrast, describe, held_out, placements, render)
from gankit.data.tokenizer import words
from gankit.errors import DataError

from video_fixtures import write_idx

NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
NUMBERS.update({str(i): i for i in range(10)})
BASE = {"train": 5, "test": 128}  # every pixel of a fake digit d is BASE[split] + 10 d: a pixel tells digit and split


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def write_digits(root, labels_train=range(30), labels_test=range(20)):
    for stem, split, labels in (("train", "train", labels_train), ("t10k", "test", labels_test)):
        labels = np.array([k % 10 for k in labels], np.uint8)
        images = np.broadcast_to((BASE[split] + 10 * labels)[:, None, None], (len(labels), 28, 28))
        write_idx(root / f"{stem}-images-idx3-ubyte", np.ascontiguousarray(images, np.uint8))
        write_idx(root / f"{stem}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    """Fake MNIST: 30 train and 20 test digits, every label present, each digit a uniform 28 x 28 square."""
    return write_digits(tmp_path_factory.mktemp("mnist"))


def as_uint8(x: torch.Tensor) -> torch.Tensor:
    y = (x + 1) * 127.5
    assert torch.allclose(y, y.round(), atol=1e-4)
    return y.round().to(torch.uint8)


def rule(digits, positions) -> bool:
    """The held-out rule, written out: d at position d % 9; a pair (a, b) with (a + b) % 5 == 0."""
    (a, b), (p, _) = digits, positions
    return p == a % 9 if b < 0 else (a + b) % 5 == 0


def parse(text: str):
    """(digits, positions, relation) read back from a caption's words (positions None for two digits)."""
    ws = words(text)
    found = [NUMBERS[w] for w in ws if w in NUMBERS]
    if len(found) == 1:
        row = 0 if {"top", "upper"} & set(ws) else 2 if {"bottom", "lower"} & set(ws) else 1
        col = 0 if "left" in ws else 2 if "right" in ws else 1
        return [found[0], -1], [3 * row + col, -1], -1
    assert len(found) == 2, text
    if {"left", "above", "over"} & set(ws):
        return found, None, 0 if "left" in ws else 1
    assert {"right", "below", "under", "beneath"} & set(ws), text
    return found[::-1], None, 0 if "right" in ws else 1


def check_items(batch: dict, texts, split: str) -> list:
    """Assert each image shows its digits in their named cells, unoverlapped, and the caption names them;
    returns the corner offsets from the grid (the jitter)."""
    img = as_uint8(batch["image"])[:, 0]
    jitter = []
    for k in range(len(img)):
        digits, positions = batch["digits"][k].tolist(), batch["positions"][k].tolist()
        relation = int(batch["relation"][k])
        present = [d >= 0 for d in digits]
        assert present[0] and (present[1] == (relation >= 0))
        assert int((img[k] > 0).sum()) == 784 * sum(present)  # whole squares that never overlap
        for d, p in zip(digits, positions):
            if d < 0:
                assert p == -1
                continue
            r, c = divmod(p, 3)
            top, left = max(18 * r - 2, 0), max(18 * c - 2, 0)
            cell = img[k, top:18 * r + 30, left:18 * c + 30] == BASE[split] + 10 * d
            assert int(cell.sum()) == 784, (k, d, p)  # the digit lies in its cell (grid corner +-2 px)
            rows, cols = cell.any(1).nonzero(), cell.any(0).nonzero()
            jitter += [int(rows.min()) + top - 18 * r, int(cols.min()) + left - 18 * c]
        if relation == 0:
            assert positions[0] % 3 == 0 and positions[1] == positions[0] + 2  # one row, columns 0 and 2
        elif relation == 1:
            assert positions[0] < 3 and positions[1] == positions[0] + 6  # one column, rows 0 and 2
        got_digits, got_positions, got_relation = parse(texts[k])
        assert (got_digits, got_relation) == (digits, relation), texts[k]
        assert got_positions is None or got_positions == positions, texts[k]
        assert bool(batch["held_out"][k]) == rule(digits, positions)
    return jitter


def check_tokens(batch: dict, texts) -> None:
    assert batch["tokens"].shape == (len(texts), MAX_WORDS) and batch["tokens"].dtype == torch.int64
    for k, text in enumerate(texts):
        assert VOCABULARY.encode(text, strict=True)  # no word outside the fixed vocabulary
        n = int(batch["length"][k])
        assert n == len(words(text)) and (batch["tokens"][k, n:] == 0).all() and (batch["tokens"][k, :n] > 1).all()
        assert VOCABULARY.decode(batch["tokens"][k]) == " ".join(words(text))


# ---------------------------------------------------------------- the protocol
def test_held_out_rule_counts():
    singles = torch.tensor([[[d, -1], [p, -1]] for d in range(10) for p in range(9)])
    assert int(held_out(singles[:, 0], singles[:, 1]).sum()) == 10
    assert held_out(torch.tensor([[7, -1], [9, -1]]), torch.tensor([[7, -1], [0, -1]])).all()
    assert not held_out(torch.tensor([[7, -1]]), torch.tensor([[8, -1]])).any()
    for p, q in ((0, 2), (3, 5), (6, 8), (0, 6), (1, 7), (2, 8)):  # every row (left of) and column (above)
        pairs = torch.tensor([[a, b] for a in range(10) for b in range(10)])
        mask = held_out(pairs, torch.tensor([[p, q]]).expand(100, 2))
        assert int(mask.sum()) == 20
        assert mask.tolist() == [(a + b) % 5 == 0 for a, b in pairs.tolist()]


def test_a_two_digit_caption_allows_any_row_or_column_and_says_the_same_there():
    positions = torch.tensor([[4, -1], [3, 5], [1, 7]])
    assert placements(positions).tolist() == [[[4, -1]] * 3, [[0, 2], [3, 5], [6, 8]], [[0, 6], [1, 7], [2, 8]]]
    choice = [0, 0, 0, 0, 0, 0]
    assert caption([2, 7], [3, 5], 0, choice) == caption([2, 7], [6, 8], 0, choice)  # the row is not named
    keys = caption_key(torch.tensor([[2, 7], [2, 7], [2, 7], [2, -1], [2, -1]]),
                       torch.tensor([[3, 5], [6, 8], [0, 6], [3, -1], [4, -1]]), torch.tensor([0, 0, 1, -1, -1]))
    assert torch.equal(keys[0], keys[1])  # same digits and relation, another row: the same caption
    assert len({tuple(k) for k in keys[1:].tolist()}) == 4  # another relation or a named place: different


def test_contrast_captions_swap_the_digits_or_move_a_lone_one_and_stay_seen():
    digits = torch.tensor([[7, 4], [6, 6], [3, -1], [0, -1]])
    positions = torch.tensor([[0, 2], [1, 7], [4, -1], [8, -1]])
    choice = torch.tensor([[0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 2, 0], [0, 0, 0, 0, 0, 0]])
    layout = Layout(torch.zeros(4, 2, dtype=torch.long), digits, positions, torch.zeros(4, 2, 2, dtype=torch.long),
                    torch.tensor([0, 1, -1, -1]), choice)
    hard = contrast(layout)
    assert captions(layout)[0] == "a seven to the left of a 4" and captions(hard)[0] == "a four to the left of a 7"
    assert hard.digits[1, 0] == 6 and hard.digits[1, 1] not in (6, 4, 9)  # 6 + 4, 6 + 9: held-out pairs
    assert hard.positions[2, 0] not in (4, 3) and hard.positions[3, 0] not in (8, 0)  # moved, never to d % 9
    assert torch.equal(hard.positions[:2], positions[:2]) and torch.equal(hard.digits[2:], digits[2:])
    every = torch.tensor([[a, b] for a in range(10) for b in range(10) if (a + b) % 5] + [[d, -1] for d in range(10)])
    n = len(every)
    rows = Layout(torch.zeros(n, 2, dtype=torch.long), every, torch.tensor([[0, 2]] * (n - 10) + [[5, -1]] * 10),
                  torch.zeros(n, 2, 2, dtype=torch.long), torch.tensor([0] * (n - 10) + [-1] * 10),
                  torch.randint(1 << 30, (n, 6), generator=torch.Generator().manual_seed(0)))
    moved = contrast(rows)
    assert not held_out(moved.digits, moved.positions).any()
    assert all(a != b for a, b in zip(captions(rows), captions(moved)))


def test_render_pastes_at_the_corners_by_maximum():
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8))
    out = render(images, torch.tensor([[0, 2], [1, -1]]), torch.tensor([[[3, 5], [10, 20]], [[36, 0], [0, 0]]]))
    want = torch.zeros(2, 64, 64, dtype=torch.uint8)
    want[0, 3:31, 5:33] = images[0]
    want[0, 10:38, 20:48] = torch.maximum(want[0, 10:38, 20:48], images[2])  # overlapping: the maximum
    want[1, 36:, :28] = images[1]  # index -1: nothing pasted
    assert out.shape == (2, 1, 64, 64) and torch.equal(out[:, 0], want)


def test_captions_templates_and_the_fixed_vocabulary():
    assert caption([3, -1], [0, -1], -1, [1, 0, 0, 0, 2, 0]) == "a 3 in the top left corner"
    assert caption([3, -1], [0, -1], -1, [0, 1, 1, 0, 1, 0]) == "the digit three at the upper left"
    assert caption([2, 7], [3, 5], 0, [0, 0, 1, 1, 0, 1]) == "a seven to the right of a two"
    assert caption([5, 1], [1, 7], 1, [0, 0, 0, 0, 0, 0]) == "a 5 above a 1"
    assert describe([[7, -1], [8, -1], [3, 5]], [[8, -1], [4, -1], [0, 2]], [-1, -1, 0]) == \
        ["a 7 at the bottom right", "an 8 at the centre", "a 3 to the left of a 5"]
    assert len(VOCABULARY) < 64 and {"7", "seven", "upper", "center", "middle", "beneath"} <= set(VOCABULARY.words)
    assert max(len(words(caption([8, 8], [0, 2], 0, [t, 2, 1, 1, 2, 1]))) for t in range(3)) <= MAX_WORDS


def test_batches_contract(mnist_dir):
    data = captioned_mnist(dir=str(mnist_dir))
    assert (data.kind, data.name, data.shape, len(data)) == ("text-image", "captioned-mnist", (1, 64, 64), 10_000)
    assert data.vocab is VOCABULARY and data.max_words == MAX_WORDS
    json.dumps(data.info)
    assert data.info["held_out"] and data.info["files"][0].endswith("train-images-idx3-ubyte")
    b = data.to("cpu").batches(16, seed=0).next()
    want = {"image": ((16, 1, 64, 64), torch.float32), "tokens": ((16, MAX_WORDS), torch.int64),
            "length": ((16,), torch.int64), "hard_tokens": ((16, MAX_WORDS), torch.int64),
            "hard_length": ((16,), torch.int64), "digits": ((16, 2), torch.int64), "positions": ((16, 2), torch.int64),
            "relation": ((16,), torch.int64), "held_out": ((16,), torch.bool)}
    assert {k: (tuple(v.shape), v.dtype) for k, v in b.items()} == want
    assert b["image"].min() == -1 and b["image"].max() <= 1
    small = captioned_mnist(dir=str(mnist_dir), size=32)
    assert small.shape == (1, 32, 32) and small.batches(4, seed=0).next()["image"].shape == (4, 1, 32, 32)


def test_training_layouts_and_captions_match_the_image(mnist_dir):
    data = captioned_mnist(dir=str(mnist_dir), n=64)
    src, jitter = data.batches(64, seed=1), []
    for _ in range(3):
        batch = src.next()
        jitter += check_items(batch, [VOCABULARY.decode(t) for t in batch["tokens"]], "train")
    assert set(jitter) == {-2, -1, 0, 1, 2}
    items = next(data.items(64))
    check_items(items, items["text"], "train")
    check_tokens(items, items["text"])
    skeletons = {" ".join("D" if w in NUMBERS else w for w in words(t)) for t in items["text"]}
    forms = {w for t in items["text"] for w in words(t) if w in NUMBERS}
    assert len(skeletons) > 20 and forms & set("0123456789") and forms & {"zero", "one", "two", "three"}


def test_training_never_draws_a_held_out_layout(mnist_dir):
    data = captioned_mnist(dir=str(mnist_dir))
    src = data.batches(250, seed=3)
    batches = [src.next() for _ in range(16)]  # 4,000 images
    digits = torch.cat([b["digits"] for b in batches])
    positions = torch.cat([b["positions"] for b in batches])
    relation = torch.cat([b["relation"] for b in batches])
    assert not any(rule(d, p) for d, p in zip(digits.tolist(), positions.tolist()))
    assert not torch.cat([b["held_out"] for b in batches]).any()
    two = relation >= 0
    assert abs(two.float().mean() - 0.5) < 0.05
    singles = {(d[0], p[0]) for d, p in zip(digits[~two].tolist(), positions[~two].tolist())}
    pairs = {(*d, r) for d, r in zip(digits[two].tolist(), relation[two].tolist())}
    assert len(singles) == 80 and len(pairs) == 160  # every seen composition does occur
    one = captioned_mnist(dir=str(mnist_dir), digits=1).batches(200, seed=3).next()
    assert (one["relation"] == -1).all() and (one["digits"][:, 1] == -1).all() and not one["held_out"].any()
    fixed = torch.cat([b["held_out"] for b in data.items(500)])  # the train split's items(): seen layouts too
    assert len(fixed) == 10_000 and not fixed.any()


def test_test_set_holds_seen_and_held_out_layouts_and_does_not_depend_on_n_or_seed(mnist_dir):
    data = captioned_mnist(dir=str(mnist_dir), split="test", n=400)
    items = list(data.items(128))
    assert [len(i["text"]) for i in items] == [128, 128, 128, 16]
    batch = {k: torch.cat([i[k] for i in items]) for k in items[0] if k != "text"}
    texts = [t for i in items for t in i["text"]]
    check_items(batch, texts, "test")
    check_tokens(batch, texts)
    assert texts == data.captions(0, 400)
    two = batch["relation"] >= 0
    assert two.tolist() == [i % 2 == 1 for i in range(400)]  # a fixed half: the odd items
    held = batch["held_out"]
    assert 0 < int(held[~two].sum()) < 200 and 0 < int(held[two].sum()) < 200
    assert data.info["held_out_items"] == int(held.sum())
    short = captioned_mnist(dir=str(mnist_dir), split="test", n=30, seed=5)
    first = next(short.items(30))
    for key, value in first.items():
        want = texts[:30] if key == "text" else batch[key][:30]
        assert value == want if key == "text" else torch.equal(value, want), key
    assert len(captioned_mnist(dir=str(mnist_dir), split="test")) == 10_000
    ones = next(captioned_mnist(dir=str(mnist_dir), split="test", n=50, digits=1).items(50))
    assert (ones["relation"] == -1).all() and ones["held_out"].any()


def test_same_seed_same_batches_and_resume_is_bit_exact(mnist_dir, tmp_path):
    for split in ("train", "test"):
        data = captioned_mnist(dir=str(mnist_dir), split=split, n=40)
        a, b, c = (data.batches(8, seed=s) for s in (4, 4, 5))
        xa, xb, xc = a.next(), b.next(), c.next()
        assert all(torch.equal(xa[k], xb[k]) for k in xa) and not torch.equal(xa["image"], xc["image"])
        a.next()
        tensors = {}
        doc = json.dumps(flatten_state(a.state_dict(), tensors))
        save_file(tensors, str(tmp_path / f"{split}.safetensors"))
        want = [a.next() for _ in range(3)]
        fresh = captioned_mnist(dir=str(mnist_dir), split=split, n=40).batches(8, seed=0)
        fresh.load_state_dict(unflatten_state(json.loads(doc), load_file(str(tmp_path / f"{split}.safetensors"))))
        for w in want:
            got = fresh.next()
            assert all(torch.equal(got[k], w[k]) for k in w), split
    with pytest.raises(DataError) as err:
        captioned_mnist(dir=str(mnist_dir)).batches(4, seed=0).load_state_dict({"generator": torch.zeros(3)})
    assert "malformed" in one_line(err)
    with pytest.raises(DataError) as err:
        data.batches(4, seed=0).load_state_dict({"generator": torch.zeros(3)})
    assert "no sampler" in one_line(err)


def test_ranks_slices_make_the_global_batch(mnist_dir):
    for split in ("train", "test"):
        data = captioned_mnist(dir=str(mnist_dir), split=split, n=16)
        whole = data.batches(8, seed=2).next()
        for world in (2, 4):
            parts = [data.batches(8, seed=2, rank=r, world=world).next() for r in range(world)]
            for key in whole:
                assert torch.equal(torch.cat([p[key] for p in parts]), whole[key]), (split, world, key)
    with pytest.raises(DataError) as err:
        data.batches(2, seed=0, rank=0, world=4)
    assert "smaller than the 4 processes" in one_line(err)


def test_registry_and_config(mnist_dir):
    data = load_dataset("captioned-mnist", dir=str(mnist_dir), split="test", n=6, digits=1)
    assert data.name == "captioned-mnist" and len(data) == 6 and data.digits == 1
    cfg = load_config(overrides=["data.name=captioned-mnist", f"data.dir={mnist_dir}", "data.n=5", "data.digits=1"])
    assert len(dataset_for(cfg, split="test")) == 5


@pytest.mark.parametrize("kwargs, match", [
    ({"digits": 3}, "data.digits must be 1 or 2 for captioned-mnist"),
    ({"digits": 0}, "data.digits must be 1 or 2"),
    ({"size": 0}, "data.size must be a positive integer"),
])
def test_bad_options(mnist_dir, kwargs, match):
    with pytest.raises(DataError) as err:
        captioned_mnist(dir=str(mnist_dir), **kwargs)
    assert match in one_line(err)


def test_missing_or_incomplete_mnist_files(tmp_path):
    with pytest.raises(DataError) as err:
        captioned_mnist(dir=str(tmp_path))
    assert "mnist train files not found" in one_line(err) and "data.dir" in one_line(err)
    write_digits(tmp_path, labels_train=range(6))  # digits 6..9 absent
    with pytest.raises(DataError) as err:
        captioned_mnist(dir=str(tmp_path))
    assert "has no images of digit(s) '6', '7', '8', '9'" in one_line(err)
