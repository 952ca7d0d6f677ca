"""The word tokenizer and the captions source (the user's images with a CSV / JSONL captions file)."""
import json

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from gankit.api import dataset_for
from gankit.checkpoint import flatten_state, unflatten_state
from gankit.config import load_config
from gankit.data import load_dataset
from gankit.data.captions import captions_source
from gankit.data.tokenizer import Vocabulary, words
from gankit.errors import DataError

CAPTIONS = {"a.png": ["A red square.", "a crimson block"], "b.png": ["a blue square"],
            "c.png": ["the green one, small"], "sub/d.png": ["a yellow thing"]}
GRAY = {"a.png": 10, "b.png": 60, "c.png": 110, "sub/d.png": 160}  # a pixel tells the image


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def make_folder(root, jsonl=True, csv=False):
    for name, value in GRAY.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (16, 12), value).save(root / name)
    rows = [(name, text) for name, texts in CAPTIONS.items() for text in texts]
    if jsonl:
        (root / "captions.jsonl").write_text("".join(json.dumps({"file": f, "text": t}) + "\n" for f, t in rows))
    if csv:
        (root / "captions.csv").write_text("file,text\n" + "".join(f'{f},"{t}"\n' for f, t in rows))
    return root


@pytest.fixture
def folder(tmp_path):
    return make_folder(tmp_path)


def image_of(x: torch.Tensor) -> str:
    value = round(float((x.flatten()[0] + 1) * 127.5))
    return next(name for name, v in GRAY.items() if v == value)


# ---------------------------------------------------------------- the tokenizer
def test_words_build_encode_decode():
    assert words("A 7, top-left!") == ["a", "7", "top", "left"] and words("  ;; ") == []
    vocab = Vocabulary.build(["the cat", "The dog", "a cat"], min_count=1)
    assert vocab.words == ["<pad>", "<unk>", "a", "cat", "dog", "the"] and len(vocab) == 6
    assert Vocabulary.build(["the dog", "the cat", "a cat"]) == vocab  # order-free: sorted
    assert Vocabulary.build(["the cat", "The dog", "a cat"], min_count=2).words == ["<pad>", "<unk>", "cat", "the"]
    assert vocab.encode("The cat, a DOG") == [5, 3, 2, 4] and vocab.encode("the emu") == [5, 1]
    assert vocab.decode(vocab.encode("The cat, a DOG")) == "the cat a dog"
    assert vocab.decode(torch.tensor([5, 1, 0, 0])) == "the <unk>"
    tokens, length = vocab.encode_batch(["a cat", "the dog a cat", ""])
    assert tokens.dtype == length.dtype == torch.int64
    assert tokens.tolist() == [[2, 3, 0, 0], [5, 4, 2, 3], [0, 0, 0, 0]] and length.tolist() == [2, 4, 0]
    tokens, length = vocab.encode_batch(["a cat", "the dog a cat"], width=3)
    assert tokens.tolist() == [[2, 3, 0], [5, 4, 2]] and length.tolist() == [2, 3]
    assert vocab.encode_batch([])[0].shape == (0, 1)


def test_strict_prompts_name_the_unknown_words_and_their_closest():
    vocab = Vocabulary.build(["a seven at the left", "a two above a one"])
    assert vocab.encode("a seven at the left", strict=True) == vocab.encode("a seven at the left")
    for prompt in ("", "   ", "?!,"):
        with pytest.raises(DataError) as err:
            vocab.encode(prompt, strict=True)
        assert one_line(err) == "the prompt is empty: give a caption such as 'a 7 at the bottom right'"
    with pytest.raises(DataError) as err:
        vocab.encode_batch(["a seven", "a sevn at the lft, sevn"], strict=True)
    msg = one_line(err)
    assert msg.startswith("unknown words in the prompt: 'sevn' (closest: 'seven'), 'lft' (closest: 'left"), msg
    assert "the model knows 8 words: a, above, at, left, one, seven, the, two" in msg
    with pytest.raises(DataError) as err:
        vocab.encode("xyzzy", strict=True)
    assert one_line(err).startswith("unknown words in the prompt: 'xyzzy' (no close word); the model knows 8 words")


def test_json_round_trip_and_malformed_vocabularies():
    vocab = Vocabulary.build(["zebra crossing", "a 7 at the top"])
    doc = json.loads(json.dumps(vocab.to_json()))
    assert doc == {"words": ["7", "a", "at", "crossing", "the", "top", "zebra"]}
    again = Vocabulary.from_json(doc)
    assert again == vocab and again.encode("a zebra at 7") == vocab.encode("a zebra at 7")
    for bad in ({}, {"words": "a b"}, {"words": ["a", "a"]}, {"words": ["Two words"]}, {"words": []}, [1]):
        with pytest.raises(DataError) as err:
            Vocabulary.from_json(bad)
        assert "vocabulary is malformed" in one_line(err)


# ---------------------------------------------------------------- the captions source
def test_jsonl_folder_vocabulary_and_items(folder):
    data = captions_source(dir=str(folder), size=8)
    assert (data.kind, data.name, data.shape, len(data)) == ("text-image", "captions", (1, 8, 8), 4)
    assert data.names == ["a.png", "b.png", "c.png", "sub/d.png"]
    assert data.vocab == Vocabulary.build(t for ts in CAPTIONS.values() for t in ts)
    assert data.max_words == 4 and data.info["captions"] == 5 and data.info["captions_file"].endswith(".jsonl")
    json.dumps(data.info)
    items = list(data.items(3))
    assert [i["names"] for i in items] == [["a.png", "b.png", "c.png"], ["sub/d.png"]]
    assert [image_of(x) for i in items for x in i["image"]] == list(GRAY)
    assert [t for i in items for t in i["text"]] == [ts[0] for ts in CAPTIONS.values()]
    assert data.vocab.decode(items[0]["tokens"][2]) == "the green one small"
    assert items[0]["length"].tolist() == [3, 3, 4]


def test_batches_pick_one_of_each_images_captions(folder):
    data = captions_source(dir=str(folder), size=8)
    src, seen = data.batches(4, seed=0), set()
    assert src.steps_per_epoch == 1
    for _ in range(12):
        b = src.next()
        assert b["image"].shape == (4, 1, 8, 8) and b["tokens"].shape == (4, 4) and b["length"].shape == (4,)
        names = [image_of(x) for x in b["image"]]
        assert sorted(names) == sorted(GRAY)  # each image once per epoch
        for name, tokens in zip(names, b["tokens"]):
            text = data.vocab.decode(tokens)
            assert text in [" ".join(words(t)) for t in CAPTIONS[name]]
            seen.add(text)
    assert {"a red square", "a crimson block"} <= seen  # a random caption each time


def test_resume_is_bit_exact_and_ranks_slice_the_global_batch(folder, tmp_path):
    data = captions_source(dir=str(folder), size=8)
    a = data.batches(2, seed=3)
    for _ in range(3):
        a.next()
    tensors = {}
    doc = json.dumps(flatten_state(a.state_dict(), tensors))
    save_file(tensors, str(tmp_path / "state.safetensors"))
    want = [a.next() for _ in range(5)]
    b = captions_source(dir=str(folder), size=8).batches(2, seed=0)
    b.load_state_dict(unflatten_state(json.loads(doc), load_file(str(tmp_path / "state.safetensors"))))
    for w in want:
        got = b.next()
        assert all(torch.equal(got[k], w[k]) for k in w)
    whole = [data.batches(4, seed=1).next() for _ in range(1)][0]
    parts = [data.batches(4, seed=1, rank=r, world=2).next() for r in range(2)]
    for key in whole:
        assert torch.equal(torch.cat([p[key] for p in parts]), whole[key])
    with pytest.raises(DataError) as err:
        b.load_state_dict({"captions": torch.zeros(3)})
    assert "malformed" in one_line(err)


def test_csv_and_where_the_captions_file_is(tmp_path):
    both = make_folder(tmp_path / "both", jsonl=True, csv=True)
    assert captions_source(dir=str(both), size=8).info["captions_file"].endswith("captions.jsonl")
    csv_only = make_folder(tmp_path / "csv", jsonl=False, csv=True)
    data = captions_source(dir=str(csv_only), size=8)
    assert data.texts == [t for ts in CAPTIONS.values() for t in ts]  # "the green one, small": a quoted comma
    (tmp_path / "elsewhere.csv").write_text("text,file\na cat,b.png\n")
    with pytest.warns(UserWarning, match=r"skipped 3 image\(s\)"):
        other = load_dataset("captions", dir=str(csv_only), captions=str(tmp_path / "elsewhere.csv"), size=8)
    assert other.names == ["b.png"] and other.texts == ["a cat"]
    cfg = load_config(overrides=["data.name=captions", f"data.dir={csv_only}", "data.size=8", "data.n=2"])
    assert len(dataset_for(cfg)) == 2


def write(folder, name: str, text: str):
    (folder / "captions.jsonl").unlink()
    (folder / name).write_text(text)


@pytest.mark.parametrize("name, text, match", [
    ("captions.csv", "", "is empty: write a CSV file with the header file,text"),
    ("captions.csv", "file,text\n\n", "holds no captions"),
    ("captions.csv", "a.png,a cat\n", "has no header line naming the columns file and text (its first line is "
                                      "'a.png,a cat'): add the line file,text at the top"),
    ("captions.csv", "file,text\na.png,a cat\nb.png,a dog,big\n", "line 3: 3 fields, the header has 2"),
    ("captions.csv", "file,text\na.png,...\n", "line 2: the caption '...' has no words"),
    ("captions.jsonl", '{"file": "a.png", "text": "a cat"}\n{"file": "b.png", text}\n', "line 2: not JSON"),
    ("captions.jsonl", '\n["a.png", "a cat"]\n', "line 2: not an object with the keys \"file\" and \"text\""),
    ("captions.jsonl", '{"file": "", "text": "a cat"}\n', "line 1: no image file named"),
    ("captions.jsonl", '{"file": "a.png", "text": "x"}\n{"file": "nope.png", "text": "y"}\n'
                       '{"file": "gone.png", "text": "z"}\n{"file": "nope.png", "text": "w"}\n',
     "names 2 image(s) missing from"),
])
def test_bad_captions_files(folder, name, text, match):
    write(folder, name, text)
    with pytest.raises(DataError) as err:
        captions_source(dir=str(folder), size=8)
    assert match in one_line(err) and "captions" in one_line(err)
    if "missing" in match:
        assert "'nope.png', 'gone.png': fix the names (paths relative to data.dir)" in one_line(err)


def test_missing_folder_file_or_suffix(tmp_path, folder):
    with pytest.raises(DataError) as err:
        captions_source(dir=str(tmp_path / "none"))
    assert "data.dir" in one_line(err) and "does not exist" in one_line(err)
    (folder / "captions.jsonl").unlink()
    with pytest.raises(DataError) as err:
        captions_source(dir=str(folder))
    assert "no captions file in" in one_line(err) and "captions.jsonl, captions.csv" in one_line(err)
    (folder / "caps.txt").write_text("a.png,a cat\n")
    with pytest.raises(DataError) as err:
        captions_source(dir=str(folder), captions=str(folder / "caps.txt"))
    assert "neither .csv nor .jsonl" in one_line(err)
    with pytest.raises(DataError) as err:
        captions_source(dir=str(folder), captions=str(folder / "nothing.csv"))
    assert "data.captions" in one_line(err) and "does not exist" in one_line(err)


def test_uncaptioned_images_are_skipped_with_a_warning_and_unreadable_ones_follow_on_corrupt(folder):
    Image.new("L", (16, 12), 200).save(folder / "e.png")
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\) .* without a caption \(first: 'e.png'\)"):
        data = captions_source(dir=str(folder), size=8)
    assert len(data) == 4 and "e.png" not in data.names
    (folder / "b.png").write_bytes(b"not a png")
    (folder / "e.png").unlink()
    with pytest.raises(DataError) as err:
        captions_source(dir=str(folder), size=8)
    assert "cannot read image" in one_line(err) and "data.on_corrupt=skip" in one_line(err)
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image"):
        data = captions_source(dir=str(folder), size=8, on_corrupt="skip")
    assert data.names == ["a.png", "c.png", "sub/d.png"] and data.texts[-1] == "a yellow thing"
    assert data.vocab.encode("blue") == [1]  # b.png's caption is gone with it
    (folder / "captions.jsonl").write_text('{"file": "b.png", "text": "a blue square"}\n')
    with pytest.raises(DataError) as err, pytest.warns(UserWarning):
        captions_source(dir=str(folder), size=8, on_corrupt="skip")
    assert "none of the 1 captioned images" in one_line(err)
