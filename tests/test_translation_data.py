"""Image-to-image translation sources (paired, unpaired): tiny generated PNGs only, CPU, deterministic."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data.paired import PairedData, paired
from gankit.data.translation_common import load_size
from gankit.data.unpaired import UnpairedData, unpaired
from gankit.errors import DataError

H = 9  # aligned files H x 2H; with size=8 the jitter load size is round(8 * 286 / 256) = 9: stored unresized


# ---------------------------------------------------------------- helpers
def save(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def noise(rng: np.random.Generator, h: int, w: int, gray: bool = False) -> np.ndarray:
    return rng.integers(0, 256, (h, w) if gray else (h, w, 3), dtype=np.uint8)


def write_aligned(folder: Path, n: int = 4, h: int = H, seed: int = 0, gray: bool = False) -> list:
    """n aligned files 'k.png' (h x 2h): A is noise, B = 255 - A; returns the A arrays."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        a = noise(rng, h, h, gray)
        save(folder / f"{k}.png", np.concatenate([a, 255 - a], axis=1))
        out.append(a)
    return out


def write_domain(folder: Path, values, h: int = H, gray: bool = False, prefix: str = "") -> None:
    """One constant image per value, named prefix + index; the value identifies the image."""
    for k, v in enumerate(values):
        save(folder / f"{prefix}{k}.png", np.full((h, h) if gray else (h, h, 3), v, np.uint8))


def chw(arr: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(arr)
    return t[None] if t.ndim == 2 else t.permute(2, 0, 1)


def as_uint8(x: torch.Tensor) -> torch.Tensor:
    return ((x + 1) * 127.5).round().to(torch.uint8)


def draw(source, k: int) -> list:
    return [source.next() for _ in range(k)]


def same(xs: list, ys: list) -> bool:
    return all(x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x) for x, y in zip(xs, ys))


# ---------------------------------------------------------------- layouts, shapes, channels
def test_aligned_layout_shapes_info_and_batches(tmp_path):
    arrays = write_aligned(tmp_path / "train", n=5)
    d = paired(dir=str(tmp_path), size=8)
    assert isinstance(d, PairedData) and (d.kind, d.name, d.num_classes, list(d.class_names)) == ("paired", "paired", 0, [])
    assert d.source.dtype == torch.uint8 and d.source.shape == (5, 3, H, H) == d.target.shape
    assert len(d) == 5 and d.shape == (3, 8, 8) and d.names == ["0", "1", "2", "3", "4"]
    assert torch.equal(d.source[2], chw(arrays[2])) and torch.equal(d.target[2], 255 - chw(arrays[2]))
    info = d.info
    assert (info["layout"], info["size"], info["load_size"], info["jitter"], info["direction"]) == \
        ("aligned", 8, 9, True, "AtoB")
    assert (info["in_channels"], info["out_channels"], info["pairs"], info["files"]) == (3, 3, 5, 5)
    assert info["dir"] == str(tmp_path / "train")
    batch = d.batches(2, seed=0).next()
    assert set(batch) == {"source", "target"}
    for x in batch.values():
        assert x.shape == (2, 3, 8, 8) and x.dtype == torch.float32 and -1 <= x.min() and x.max() <= 1
    plain = paired(dir=str(tmp_path), size=4, jitter=False)
    assert plain.source.shape == (5, 3, 4, 4) and plain.info["load_size"] == 4
    assert plain.batches(5, seed=0).next()["target"].shape == (5, 3, 4, 4)
    assert load_size(256, True) == 286 and load_size(256, False) == 256
    assert paired(dir=str(tmp_path), n=3).source.shape == (3, 3, 286, 286)  # default size 256, n caps
    moved = d.to("cpu")
    assert moved is not d and torch.equal(moved.source, d.source) and moved.names == d.names


def test_folders_layout_matches_by_name_and_direction_swaps(tmp_path):
    rng = np.random.default_rng(1)
    a = {name: noise(rng, 6, 6) for name in ("x", "y", "z")}
    b = {name: noise(rng, 5, 7) for name in ("x", "y", "z")}  # non-square: resized to square
    for name in a:
        save(tmp_path / "A" / f"{name}.png", a[name])
        save(tmp_path / "B" / f"{name}.jpg", b[name])
    d = paired(dir=str(tmp_path), size=6, jitter=False)
    assert d.info["layout"] == "folders" and d.names == ["x", "y", "z"] and d.info["files"] == 6
    assert d.source.shape == (3, 3, 6, 6) == d.target.shape
    assert torch.equal(d.source[1], chw(a["y"]))
    swapped = paired(dir=str(tmp_path), size=6, jitter=False, direction="BtoA")
    assert torch.equal(swapped.source, d.target) and torch.equal(swapped.target, d.source)
    assert swapped.info["direction"] == "BtoA"


def test_unmatched_names_warn_with_count(tmp_path):
    write_domain(tmp_path / "A", [10, 20, 30], prefix="p")
    write_domain(tmp_path / "B", [40, 50], prefix="p")
    save(tmp_path / "B" / "lonely.png", np.zeros((H, H, 3), np.uint8))
    with pytest.warns(UserWarning, match=r"2 of the 6 files .*no partner.*'lonely'.*'p2'"):
        d = paired(dir=str(tmp_path), size=8, jitter=False)
    assert d.names == ["p0", "p1"]


def test_gray_and_rgb_domains(tmp_path):
    write_domain(tmp_path / "A", [10, 20, 30], gray=True)
    write_domain(tmp_path / "B", [40, 50, 60])
    d = paired(dir=str(tmp_path), size=8)
    assert (d.source.shape[1], d.target.shape[1], d.info["in_channels"], d.info["out_channels"]) == (1, 3, 1, 3)
    assert d.shape == (3, 8, 8) and d.batches(2, seed=0).next()["source"].shape == (2, 1, 8, 8)
    assert paired(dir=str(tmp_path), size=8, direction="BtoA").shape == (1, 8, 8)
    forced = paired(dir=str(tmp_path), size=8, channels=1)
    assert forced.source.shape[1] == forced.target.shape[1] == 1
    assert int(forced.target[0].float().mean()) == 40  # luma of a gray-valued RGB image keeps its value
    forced = paired(dir=str(tmp_path), size=8, channels=3)
    assert forced.source.shape[1] == forced.target.shape[1] == 3
    save(tmp_path / "A" / "1.png", np.full((H, H, 3), 20, np.uint8))  # domain A now mixes gray and RGB
    assert paired(dir=str(tmp_path), size=8).source.shape[1] == 3
    u = unpaired(dir_a=str(tmp_path / "B"), dir_b=str(tmp_path / "B"), size=8, channels=1)
    assert u.a.shape[1] == u.b.shape[1] == 1


def test_aligned_gray_files_stay_gray(tmp_path):
    write_aligned(tmp_path, n=2, gray=True)
    d = paired(dir=str(tmp_path), size=8)
    assert d.source.shape == (2, 1, H, H) and d.target.shape == (2, 1, H, H)


# ---------------------------------------------------------------- jitter
def _identify(stored: torch.Tensor, crop: torch.Tensor, size: int) -> tuple:
    """(index, top, left, flipped) of the stored image region that `crop` (uint8 C x size x size) is."""
    side = stored.shape[-1]
    offsets = range(side - size + 1)
    found = [(i, t, l, f) for i in range(len(stored)) for t in offsets for l in offsets for f in (False, True)
             if torch.equal(crop.flip(-1) if f else crop, stored[i, :, t:t + size, l:l + size])]
    assert len(found) == 1, found
    return found[0]


def test_jitter_same_crop_and_flip_for_both_images_of_a_pair(tmp_path):
    write_aligned(tmp_path, n=4)
    d = paired(dir=str(tmp_path), size=8)
    source = d.batches(2, seed=3)
    seen, flips, total = set(), 0, 0
    for _ in range(100):
        batch = source.next()
        s, t = batch["source"], batch["target"]
        assert (s + t).abs().max() < 1e-5  # target = 255 - source survives crop and flip: the same for both
        for crop in as_uint8(s):
            _, top, left, flipped = _identify(d.source, crop, 8)
            seen.add((top, left))
            flips += flipped
            total += 1
    assert 0.38 < flips / total < 0.62
    assert seen == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_no_jitter_batches_are_the_stored_images(tmp_path):
    write_aligned(tmp_path, n=4, h=8)
    d = paired(dir=str(tmp_path), size=8, jitter=False)
    batch = d.batches(4, seed=0).next()
    stored = {tuple(x.flatten().tolist()) for x in d.source}
    assert {tuple(x.flatten().tolist()) for x in as_uint8(batch["source"])} == stored


def test_global_rng_untouched(tmp_path):
    write_aligned(tmp_path / "pairs", n=4)
    write_domain(tmp_path / "u" / "trainA", [1, 2, 3])
    write_domain(tmp_path / "u" / "trainB", [4, 5])
    torch.manual_seed(123)
    before = torch.get_rng_state()
    d = paired(dir=str(tmp_path / "pairs"), size=8, n=3)
    draw(d.batches(2, seed=1), 5)
    list(d.items(2))
    u = unpaired(dir=str(tmp_path / "u"), size=8, n=2)
    draw(u.batches(2, seed=1), 5)
    assert torch.equal(torch.get_rng_state(), before)


# ---------------------------------------------------------------- resume and sharding
@pytest.mark.parametrize("kind", ["paired", "unpaired"])
def test_state_dict_continues_bit_exactly(tmp_path, kind):
    write_aligned(tmp_path / "pairs", n=5)
    write_domain(tmp_path / "u" / "trainA", [10, 20, 30, 40, 50])
    write_domain(tmp_path / "u" / "trainB", [60, 70, 80])
    d = paired(dir=str(tmp_path / "pairs"), size=8) if kind == "paired" else unpaired(dir=str(tmp_path / "u"), size=8)
    first = d.batches(2, seed=7)
    draw(first, 3)  # past an epoch boundary of the smaller domain
    state = copy.deepcopy(first.state_dict())
    expected = draw(first, 6)
    again = d.batches(2, seed=7)
    again.load_state_dict(state)
    assert same(draw(again, 6), expected)
    first.load_state_dict(state)  # rewinding the same source works too
    assert same(draw(first, 6), expected)
    other = d.batches(2, seed=8)
    assert not same(draw(other, 6), expected)
    with pytest.raises(DataError, match="malformed"):
        again.load_state_dict({"jitter": state["jitter"]})


@pytest.mark.parametrize("kind", ["paired", "unpaired"])
def test_rank_slices_are_disjoint_halves_of_the_global_batch(tmp_path, kind):
    write_aligned(tmp_path, n=6)
    d = paired(dir=str(tmp_path), size=8) if kind == "paired" else unpaired(dir=str(tmp_path), size=8)
    whole = draw(d.batches(4, seed=2), 4)
    halves = [draw(d.batches(4, seed=2, rank=r, world=2), 4) for r in (0, 1)]
    for step, batch in enumerate(whole):
        for key, x in batch.items():
            lo, hi = halves[0][step][key], halves[1][step][key]
            assert lo.shape[0] == hi.shape[0] == 2
            assert torch.equal(torch.cat([lo, hi]), x)
    with pytest.raises(DataError, match="smaller than the 8 processes"):
        d.batches(4, seed=2, rank=0, world=8)


# ---------------------------------------------------------------- unpaired
def test_unpaired_domains_are_sampled_independently_and_len_is_max(tmp_path):
    write_domain(tmp_path / "trainA", [10 * k for k in range(6)])
    write_domain(tmp_path / "trainB", [100 + 10 * k for k in range(4)])
    write_domain(tmp_path / "testA", [1, 2])
    write_domain(tmp_path / "testB", [3, 4])
    u = unpaired(dir=str(tmp_path), size=8, jitter=False)
    assert isinstance(u, UnpairedData) and (u.kind, u.name) == ("unpaired", "unpaired")
    assert len(u) == 6 and u.a.shape == (6, 3, 8, 8) and u.b.shape == (4, 3, 8, 8)
    assert (u.info["count_a"], u.info["count_b"], u.info["channels_a"], u.info["channels_b"]) == (6, 4, 3, 3)
    assert u.info["dir_a"] == str(tmp_path / "trainA") and u.names_b == ["0", "1", "2", "3"]
    source = u.batches(2, seed=0)
    orders_a, orders_b = [], []
    for _ in range(6):
        batch = source.next()
        assert set(batch) == {"a", "b"}
        orders_a += [int(v) // 10 for v in as_uint8(batch["a"])[:, 0, 0, 0]]
        orders_b += [(int(v) - 100) // 10 for v in as_uint8(batch["b"])[:, 0, 0, 0]]
    assert sorted(orders_a[:6]) == list(range(6)) and sorted(orders_b[:4]) == list(range(4))
    assert orders_a[:4] != orders_b[:4]
    test = unpaired(dir=str(tmp_path), size=8, split="test")
    assert test.info["dir_a"] == str(tmp_path / "testA") and len(test) == 2
    swapped = unpaired(dir=str(tmp_path), size=8, jitter=False, direction="BtoA")
    assert torch.equal(swapped.a, u.b) and torch.equal(swapped.b, u.a) and swapped.names_a == u.names_b
    explicit = unpaired(dir_a=str(tmp_path / "testA"), dir_b=str(tmp_path / "trainB"), size=8)
    assert (len(explicit.a), len(explicit.b)) == (2, 4)


def test_aligned_files_as_unpaired_source_give_a_and_b_halves(tmp_path):
    arrays = write_aligned(tmp_path / "train", n=3)
    u = unpaired(dir=str(tmp_path), size=8)
    assert u.info["layout"] == "aligned" and u.names_a == u.names_b == ["0", "1", "2"]
    assert torch.equal(u.a, torch.stack([chw(a) for a in arrays]))
    assert torch.equal(u.b, 255 - u.a)
    swapped = unpaired(dir=str(tmp_path), size=8, direction="BtoA")
    assert torch.equal(swapped.a, u.b)
    batch = u.batches(3, seed=0).next()
    assert batch["a"].shape == batch["b"].shape == (3, 3, 8, 8)


def test_unpaired_items_cover_each_domain_in_order(tmp_path):
    write_domain(tmp_path / "trainA", [10, 20, 30, 40, 50])
    write_domain(tmp_path / "trainB", [60, 70])
    u = unpaired(dir=str(tmp_path), size=8)
    chunks = list(u.items_a(batch_size=2))
    assert [c["names"] for c in chunks] == [["0", "1"], ["2", "3"], ["4"]]
    values = torch.cat([as_uint8(c["a"]) for c in chunks])
    assert values.shape == (5, 3, 8, 8) and values[:, 0, 4, 4].tolist() == [10, 20, 30, 40, 50]
    assert [c["names"] for c in u.items_b()] == [["0", "1"]]


# ---------------------------------------------------------------- evaluation order
def test_items_cover_every_file_once_in_order(tmp_path):
    arrays = write_aligned(tmp_path, n=5, h=16)
    d = paired(dir=str(tmp_path), size=16)  # stored at 18, resized back to 16
    assert d.source.shape[-1] == 18
    chunks = list(d.items(batch_size=2))
    assert [c["names"] for c in chunks] == [["0", "1"], ["2", "3"], ["4"]]
    src = torch.cat([c["source"] for c in chunks])
    tgt = torch.cat([c["target"] for c in chunks])
    assert src.shape == tgt.shape == (5, 3, 16, 16) and src.dtype == torch.float32
    exact = paired(dir=str(tmp_path), size=16, jitter=False)
    assert torch.equal(torch.cat([c["source"] for c in exact.items()]),
                       torch.stack([chw(a) for a in arrays]).float() / 127.5 - 1)
    full = torch.cat([c["source"] for c in exact.items()])
    nearest = torch.cdist(src.flatten(1), full.flatten(1)).argmin(1)
    assert nearest.tolist() == list(range(5))  # the same images, resampled, in file order


# ---------------------------------------------------------------- errors
def test_aligned_file_of_wrong_width_names_the_file_and_size(tmp_path):
    save(tmp_path / "x.png", np.zeros((200, 300, 3), np.uint8))
    with pytest.raises(DataError, match=r"'.*x\.png' is 300x200: an aligned pair must be twice as wide as high"):
        paired(dir=str(tmp_path), size=8)
    with pytest.raises(DataError, match=r"x\.png' is 300x200"):
        unpaired(dir=str(tmp_path), size=8)


def test_folders_without_matching_names_name_both_folders(tmp_path):
    write_domain(tmp_path / "A", [1, 2], prefix="a")
    write_domain(tmp_path / "B", [3, 4], prefix="b")
    with pytest.raises(DataError, match=r"no file in '.*A' has a partner .* in '.*B' .*'a0'.*'b0'") as e:
        paired(dir=str(tmp_path), size=8)
    assert "\n" not in str(e.value)


def test_empty_or_missing_folders(tmp_path):
    write_domain(tmp_path / "trainA", [1, 2])
    (tmp_path / "trainB").mkdir()
    with pytest.raises(DataError, match=r"domain B folder '.*trainB' holds no images"):
        unpaired(dir=str(tmp_path), size=8)
    write_domain(tmp_path / "testA", [1])
    with pytest.raises(DataError, match=r"'.*testB' is missing"):
        unpaired(dir=str(tmp_path), size=8, split="test")
    with pytest.raises(DataError, match=r"data.dir '.*nowhere' does not exist"):
        paired(dir=str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"data.dir_a '.*nowhere' does not exist"):
        unpaired(dir_a=str(tmp_path / "nowhere"), dir_b=str(tmp_path / "trainA"))
    with pytest.raises(DataError, match="go together"):
        unpaired(dir_a=str(tmp_path / "trainA"))
    with pytest.raises(DataError, match="data.dir is not set"):
        paired()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no images found in '.*empty'.*side by side.*A/ and B/"):
        paired(dir=str(tmp_path / "empty"))
    with pytest.raises(DataError, match=r"no images found in '.*empty'"):
        unpaired(dir=str(tmp_path / "empty"))


def test_corrupt_files_raise_or_are_skipped(tmp_path):
    write_aligned(tmp_path, n=3)
    (tmp_path / "1.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"cannot read image '.*1\.png'.*on_corrupt=skip"):
        paired(dir=str(tmp_path), size=8)
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable"):
        d = paired(dir=str(tmp_path), size=8, on_corrupt="skip")
    assert d.names == ["0", "2"] and d.info["skipped"] == 1


def test_bad_options(tmp_path):
    write_aligned(tmp_path, n=2)
    for kwargs, match in (({"direction": "sideways"}, "data.direction"), ({"channels": 2}, "data.channels"),
                          ({"size": 0}, "data.size"), ({"jitter": "yes"}, "data.jitter"),
                          ({"on_corrupt": "ignore"}, "data.on_corrupt")):
        with pytest.raises(DataError, match=match):
            paired(dir=str(tmp_path), **kwargs)
    assert paired(dir=str(tmp_path), size=8, direction="btoa").info["direction"] == "BtoA"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = paired(dir=str(tmp_path), size=8)
    with pytest.raises(DataError, match="larger than the dataset"):
        d.batches(3, seed=0)
