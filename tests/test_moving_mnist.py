"""Moving MNIST: the OpenSTL protocol (steps, bounces, max compositing), seeded exact batches, the test set."""
import json
import math
import re

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from gankit.checkpoint import flatten_state, unflatten_state
from gankit.data.moving_mnist import DIGIT, STEP, TEST_SEED, moving_mnist, render, trajectory
from gankit.data.translation_common import to_float
from gankit.errors import DataError

from video_fixtures import write_idx

TRAIN_MAX = 127  # fake train digits hold 1..127, test digits 128..255: a pixel tells its split


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    """Tiny MNIST-format files: 12 train digits of values 1..127, 6 test digits of 128..255 (every pixel > 0)."""
    root = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    for stem, n, lo, hi in (("train", 12, 1, TRAIN_MAX + 1), ("t10k", 6, TRAIN_MAX + 1, 256)):
        write_idx(root / f"{stem}-images-idx3-ubyte", rng.integers(lo, hi, (n, DIGIT, DIGIT), dtype=np.uint8))
        write_idx(root / f"{stem}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    return root


def as_uint8(x: torch.Tensor) -> torch.Tensor:
    y = (x + 1) * 127.5
    assert torch.allclose(y, y.round(), atol=1e-4)
    return y.round().to(torch.uint8)


def reference_path(y: float, x: float, theta: float, frames: int) -> list:
    """OpenSTL's get_random_trajectory for one digit, written out scalar by scalar."""
    vy, vx, out = math.sin(theta), math.cos(theta), []
    for _ in range(frames):
        y, x = y + vy * STEP, x + vx * STEP
        if y <= 0 or y >= 1:
            y, vy = min(max(y, 0.0), 1.0), -vy
        if x <= 0 or x >= 1:
            x, vx = min(max(x, 0.0), 1.0), -vx
        out.append((y, x))
    return out


def test_batches_shape_dtype_range_and_attributes(mnist_dir):
    data = moving_mnist(dir=str(mnist_dir), frames_in=3, frames_out=2)
    assert (data.kind, data.name, data.shape, data.num_classes) == ("video", "moving-mnist", (5, 1, 64, 64), 0)
    assert (data.frames_in, data.frames_out, len(data)) == (3, 2, 10_000)
    assert moving_mnist(dir=str(mnist_dir), size=None).shape == (20, 1, 64, 64)  # the config's "source default"
    assert data.info["composite"] == "max" and data.info["step"] == 0.1 and data.info["test_seed"] == TEST_SEED
    json.dumps(data.info)
    x = data.batches(4, seed=0).next()["frames"]
    assert tuple(x.shape) == (4, 5, 1, 64, 64) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert as_uint8(x).max() <= TRAIN_MAX and as_uint8(x).max() > 0  # drawn from the train digits only


def test_trajectory_is_the_reference_rule():
    gen = torch.Generator().manual_seed(3)
    start = torch.rand(6, 2, 2, generator=gen, dtype=torch.float64)
    theta = torch.rand(6, 2, generator=gen, dtype=torch.float64) * 2 * math.pi
    got = trajectory(start, theta, 30)  # (B, T, D, 2)
    for b in range(6):
        for d in range(2):
            want = reference_path(float(start[b, d, 0]), float(start[b, d, 1]), float(theta[b, d]), 30)
            assert got[b, :, d].tolist() == [list(p) for p in want]
    assert got.min() == 0 and got.max() == 1  # walls are reached in 30 frames (3 ranges of travel)


def test_a_single_digit_moves_3_6_px_a_frame_and_bounces_inside(mnist_dir):
    data = moving_mnist(dir=str(mnist_dir), digits=1)
    x = as_uint8(data.batches(32, seed=1).next()["frames"])[:, :, 0] > 0  # (B, T, 64, 64): the digit's square
    assert (x.sum((-1, -2)) == DIGIT * DIGIT).all()  # never cut by the border
    ar = torch.arange(64.0)
    corner = torch.stack(((x.sum(-1) * ar).sum(-1), (x.sum(-2) * ar).sum(-1)), -1) / (DIGIT * DIGIT) - 13.5
    assert torch.equal(corner, corner.round()) and corner.min() >= 0 and corner.max() <= 64 - DIGIT
    step = corner.diff(dim=1)  # (B, T-1, 2)
    assert step.abs().max() <= 4  # 3.6 px, floored positions
    free = ((corner > 0) & (corner < 36)).all(-1)
    inner = free[:, 1:] & free[:, :-1]
    assert abs(step.norm(dim=-1)[inner].mean() - 3.6) < 0.15
    wall = (corner[:, 1:-1] == 0) | (corner[:, 1:-1] == 36)  # touching at a middle frame
    before, after = step[:, :-1][wall], step[:, 1:][wall]
    moving = before != 0
    assert moving.sum() >= 10 and (before * after)[moving].max() <= 0  # it never goes on through a wall
    assert ((before * after)[moving] < 0).float().mean() > 0.5  # ... it comes back


def test_digits_are_composited_by_maximum():
    pool = torch.from_numpy(np.random.default_rng(1).integers(1, 256, (2, DIGIT, DIGIT), dtype=np.uint8))
    idx = torch.tensor([[0, 1]])
    start = torch.tensor([[[0.3, 0.3], [0.5, 0.4]]], dtype=torch.float64)
    theta = torch.tensor([[0.7, 2.0]], dtype=torch.float64)
    out = render(pool, (idx, start, theta), 6, 64)[0, :, 0]
    corner = (trajectory(start, theta, 6) * 36).floor().long()[0]
    for t in range(6):
        want = torch.zeros(64, 64, dtype=torch.uint8)
        for d in range(2):
            r, c = corner[t, d].tolist()
            want[r:r + DIGIT, c:c + DIGIT] = torch.maximum(want[r:r + DIGIT, c:c + DIGIT], pool[d])
        assert torch.equal(out[t], want)
    (r0, c0), (r1, c1) = corner[0].tolist()
    overlap = out[0, max(r0, r1):min(r0, r1) + DIGIT, max(c0, c1):min(c0, c1) + DIGIT]
    assert overlap.numel() > 100  # they do overlap, and both digits show through there
    a = pool[0][max(r0, r1) - r0:, max(c0, c1) - c0:][:overlap.shape[0], :overlap.shape[1]]
    b = pool[1][max(r0, r1) - r1:, max(c0, c1) - c1:][:overlap.shape[0], :overlap.shape[1]]
    assert torch.equal(overlap, torch.maximum(a, b)) and (overlap != a).any() and (overlap != b).any()


def test_same_seed_same_batches(mnist_dir):
    data = moving_mnist(dir=str(mnist_dir), frames_in=2, frames_out=2)
    a, b, c = (data.batches(3, seed=s) for s in (5, 5, 6))
    for _ in range(2):
        xa, xb, xc = a.next()["frames"], b.next()["frames"], c.next()["frames"]
        assert torch.equal(xa, xb) and not torch.equal(xa, xc)


def test_state_round_trip_through_a_checkpoint_is_bit_exact(mnist_dir, tmp_path):
    data = moving_mnist(dir=str(mnist_dir), frames_in=2, frames_out=3)
    a = data.batches(4, seed=7)
    for _ in range(2):
        a.next()
    tensors = {}
    doc = json.dumps(flatten_state(a.state_dict(), tensors))
    save_file(tensors, str(tmp_path / "state.safetensors"))
    want = [a.next()["frames"] for _ in range(3)]
    b = moving_mnist(dir=str(mnist_dir), frames_in=2, frames_out=3).batches(4, seed=0)
    b.load_state_dict(unflatten_state(json.loads(doc), load_file(str(tmp_path / "state.safetensors"))))
    for w in want:
        assert torch.equal(b.next()["frames"], w)
    with pytest.raises(DataError) as err:
        b.load_state_dict({"generator": torch.zeros(3, dtype=torch.uint8)})
    assert "malformed" in one_line(err)


def test_ranks_slices_make_the_global_batch(mnist_dir):
    for split in ("train", "test"):
        data = moving_mnist(dir=str(mnist_dir), split=split, n=8, frames_in=2, frames_out=2)
        whole = data.batches(4, seed=2).next()["frames"]
        for world in (2, 4):
            parts = [data.batches(4, seed=2, rank=r, world=world).next()["frames"] for r in range(world)]
            assert torch.equal(torch.cat(parts), whole)
    with pytest.raises(DataError) as err:
        data.batches(2, seed=0, rank=0, world=4)
    assert "smaller than the 4 processes" in one_line(err)


def test_test_set_is_fixed_from_the_test_digits(mnist_dir):
    kw = dict(dir=str(mnist_dir), split="test", frames_in=3, frames_out=3)
    t1, t2, short = moving_mnist(n=6, seed=0, **kw), moving_mnist(n=6, seed=9, **kw), moving_mnist(n=4, **kw)
    seq = t1.sequences
    assert tuple(seq.shape) == (6, 6, 1, 64, 64) and seq.dtype == torch.uint8 and len(t1) == 6
    assert torch.equal(seq, t2.sequences) and torch.equal(seq[:4], short.sequences)  # seed- and n-independent
    assert seq.min() == 0 and seq[seq > 0].min() > TRAIN_MAX  # test digits only
    assert t1.info["digit_split"] == "test" and t1.info["source"] == "generated"
    items = list(t1.items(batch_size=4))
    assert [len(i["frames"]) for i in items] == [4, 2]
    assert torch.equal(torch.cat([i["frames"] for i in items]), to_float(seq))
    stored = as_uint8(t1.batches(3, seed=0).next()["frames"])
    assert all(any(torch.equal(s, q) for q in seq) for s in stored)  # batches of the test split: stored sequences


def test_train_items_are_a_fixed_set_from_the_train_digits(mnist_dir):
    data = moving_mnist(dir=str(mnist_dir), n=5, frames_in=2, frames_out=2)
    one = torch.cat([i["frames"] for i in data.items(batch_size=2)])
    again = torch.cat([i["frames"] for i in data.items(batch_size=5)])
    other = torch.cat([i["frames"] for i in moving_mnist(dir=str(mnist_dir), n=5, seed=1, frames_in=2,
                                                          frames_out=2).items(5)])
    assert tuple(one.shape) == (5, 4, 1, 64, 64) and torch.equal(one, again) and not torch.equal(one, other)
    assert as_uint8(one).max() <= TRAIN_MAX


def test_the_standard_test_file(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (20, 3, 64, 64), dtype=np.uint8)
    np.save(tmp_path / "mnist_test_seq.npy", arr)
    data = moving_mnist(split="test", test_file=str(tmp_path / "mnist_test_seq.npy"))
    assert tuple(data.sequences.shape) == (3, 20, 1, 64, 64) and data.info["source"] == "file"
    assert torch.equal(data.sequences[:, :, 0], torch.from_numpy(arr.transpose(1, 0, 2, 3)))
    assert len(moving_mnist(split="test", test_file=str(tmp_path / "mnist_test_seq.npy"), n=2)) == 2
    frames = next(moving_mnist(split="test", test_file=str(tmp_path / "mnist_test_seq.npy")).items(8))["frames"]
    assert torch.equal(frames, to_float(data.sequences))


@pytest.mark.parametrize("make, match", [
    (lambda p: p / "none.npy", "does not exist"),
    (lambda p: p, "is a folder"),
    (lambda p: (p / "seq.txt").write_text("x") and p / "seq.txt", "is not a .npy file"),
    (lambda p: (p / "bad.npy").write_bytes(b"garbage") and p / "bad.npy", "not a NumPy .npy file"),
    (lambda p: np.save(p / "a.npy", np.zeros((19, 2, 64, 64), np.uint8)) or p / "a.npy", r"shape \(19, 2, 64, 64\)"),
    (lambda p: np.save(p / "a.npy", np.zeros((20, 64, 64), np.uint8)) or p / "a.npy", r"expected \(20, N, 64, 64\)"),
    (lambda p: np.save(p / "a.npy", np.zeros((20, 2, 64, 64), np.float32)) or p / "a.npy", "float32 values, not uint8"),
    (lambda p: np.save(p / "a.npy", np.array([None]), allow_pickle=True) or p / "a.npy", "Python objects"),
])
def test_bad_test_files_are_one_line_errors(tmp_path, make, match):
    with pytest.raises(DataError) as err:
        moving_mnist(split="test", test_file=str(make(tmp_path)))
    assert re.search(match, one_line(err)) and "mnist_test_seq.npy" in str(err.value)


@pytest.mark.parametrize("kwargs, match", [
    (dict(frames_in=0), "data.frames_in must be a positive integer"),
    (dict(frames_out=0), "data.frames_out must be a positive integer"),
    (dict(frames_in=True), "data.frames_in must be a positive integer"),
    (dict(digits=0), "data.digits must be a positive integer"),
    (dict(size=27), "data.size must be at least 28"),
    (dict(n=0), "data.n must be a positive integer"),
    (dict(split="val"), "data.split must be 'train' or 'test'"),
    (dict(dir=None), "no data.dir given for mnist"),
    (dict(dir="/no/such/folder"), "does not exist"),
])
def test_bad_settings_are_one_line_errors(mnist_dir, kwargs, match):
    with pytest.raises(DataError) as err:
        moving_mnist(**{"dir": str(mnist_dir), **kwargs})
    assert match in one_line(err)
