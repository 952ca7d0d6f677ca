"""The frames source: clips as .npy, numbered-frame folders or GIFs; seeded resumable windows; one-line errors."""
import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from gankit.checkpoint import flatten_state, unflatten_state
from gankit.data.frames import frames, natural_key, read_clip
from gankit.errors import DataError


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def counting_clip(length: int, base: int, side: int = 6) -> np.ndarray:
    """uint8 (length, side, side): frame t is the constant base + t, so a window tells where it came from."""
    return (base + np.arange(length, dtype=np.uint8))[:, None, None].repeat(side, 1).repeat(side, 2)


def write_frames(folder, values, names, mode="L"):
    folder.mkdir(parents=True, exist_ok=True)
    for v, name in zip(values, names):
        Image.new(mode, (5, 4), v if mode == "L" else (v, 0, 255 - v)).save(folder / name)


def write_gif(path, values, mode="L"):
    ims = [Image.new(mode, (6, 5), v if mode == "L" else (v, 255 - v, 0)) for v in values]
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=50, loop=0)


@pytest.fixture()
def clip_dir(tmp_path):
    """Four counting clips of 8, 12, 9 and 10 frames: clip k counts from 40 * k."""
    root = tmp_path / "clips"
    root.mkdir()
    for k, length in enumerate((8, 12, 9, 10)):
        np.save(root / f"clip{k}.npy", counting_clip(length, 40 * k))
    return root


def test_npy_layouts_and_dtypes(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)  # (T, H, W, C)
    cases = {
        "thw": (rgb[..., 0], rgb[..., :1].transpose(0, 3, 1, 2)),
        "thwc": (rgb, rgb.transpose(0, 3, 1, 2)),
        "tchw": (rgb.transpose(0, 3, 1, 2), rgb.transpose(0, 3, 1, 2)),
        "thw1": (rgb[..., :1], rgb[..., :1].transpose(0, 3, 1, 2)),
        "rgba": (np.concatenate([rgb, rgb[..., :1]], -1), rgb.transpose(0, 3, 1, 2)),
        "float": (rgb / 255.0, rgb.transpose(0, 3, 1, 2)),
        "int64": (rgb.astype(np.int64), rgb.transpose(0, 3, 1, 2)),
    }
    for name, (arr, want) in cases.items():
        np.save(tmp_path / f"{name}.npy", arr)
        got = read_clip(tmp_path / f"{name}.npy")
        assert got.dtype == torch.uint8 and torch.equal(got, torch.from_numpy(np.ascontiguousarray(want))), name


def test_numbered_frames_are_read_in_numeric_order(tmp_path):
    assert sorted(["frame10", "frame2", "frame1"], key=natural_key) == ["frame1", "frame2", "frame10"]
    names = ["frame10.png", "frame2.png", "frame1.png", "frame3.jpg"]
    write_frames(tmp_path / "clip", [100, 20, 10, 30], names)
    (tmp_path / "clip" / "notes.txt").write_text("not a frame")
    (tmp_path / "clip" / ".hidden.png").write_bytes(b"x")
    clip = read_clip(tmp_path / "clip")
    assert tuple(clip.shape) == (4, 1, 4, 5)
    assert clip[:, 0, 0, 0].tolist()[:2] + clip[:, 0, 0, 0].tolist()[3:] == [10, 20, 100]
    assert abs(int(clip[2, 0, 0, 0]) - 30) <= 2  # frame3.jpg (lossy) between frame2 and frame10
    write_frames(tmp_path / "mixed", [50, 60], ["f1.png", "f2.png"])
    write_frames(tmp_path / "mixed", [70], ["f3.png"], mode="RGB")
    assert read_clip(tmp_path / "mixed").shape[1] == 3


def test_gif_frames(tmp_path):
    write_gif(tmp_path / "gray.gif", [0, 80, 160, 240])
    clip = read_clip(tmp_path / "gray.gif")
    assert tuple(clip.shape) == (4, 1, 5, 6) and clip[:, 0, 2, 3].tolist() == [0, 80, 160, 240]
    write_gif(tmp_path / "rgb.gif", [0, 200, 100], mode="RGB")
    clip = read_clip(tmp_path / "rgb.gif")
    assert tuple(clip.shape) == (3, 3, 5, 6) and clip[:, :, 0, 0].tolist() == [[0, 255, 0], [200, 55, 0], [100, 155, 0]]


@pytest.mark.parametrize("make, match", [
    (lambda p: (p / "empty").mkdir() or p / "empty", "holds no frames"),
    (lambda p: np.save(p / "s.npy", np.array([["a", "b"]] * 3)) or p / "s.npy", "<U1 values, not numbers"),
    (lambda p: np.save(p / "o.npy", np.array([{}, 1], dtype=object), allow_pickle=True) or p / "o.npy",
     "holds Python objects"),
    (lambda p: (p / "bad.npy").write_bytes(b"\x00garbage") and p / "bad.npy", "not a NumPy .npy file"),
    (lambda p: (p / "bad.gif").write_bytes(b"GIF89a broken") and p / "bad.gif", "cannot read image"),
    (lambda p: np.save(p / "d2.npy", np.zeros((4, 4), np.uint8)) or p / "d2.npy", r"has shape \(4, 4\)"),
    (lambda p: np.save(p / "d5.npy", np.zeros((2, 2, 3, 4, 4), np.uint8)) or p / "d5.npy", "a clip must be"),
    (lambda p: np.save(p / "c2.npy", np.zeros((2, 5, 5, 2), np.uint8)) or p / "c2.npy", "C = 1, 3 or 4"),
    (lambda p: np.save(p / "f.npy", np.full((2, 4, 4), 2.0)) or p / "f.npy", "outside"),
    (lambda p: np.save(p / "t0.npy", np.zeros((0, 4, 4), np.uint8)) or p / "t0.npy", "no frames"),
    (lambda p: p / "missing.npy", "does not exist"),
    (lambda p: (p / "clip.mp4").write_bytes(b"x") and p / "clip.mp4", "is not a clip"),
    (lambda p: write_frames(p / "sizes", [1, 2], ["a1.png", "a2.png"]) or
     Image.new("L", (7, 7)).save(p / "sizes" / "a3.png") or p / "sizes", "must have the same size"),
])
def test_read_clip_bad_inputs_are_one_line_errors(tmp_path, make, match):
    with pytest.raises(DataError, match=match) as err:
        read_clip(make(tmp_path))
    one_line(err)


def test_windows_are_consecutive_frames_of_one_clip(clip_dir):
    data = frames(dir=str(clip_dir), frames_in=3, frames_out=2)
    assert (data.kind, data.name, data.shape, len(data)) == ("video", "frames", (5, 1, 6, 6), 4)
    assert data.names == ["clip0", "clip1", "clip2", "clip3"] and data.frames_in == 3
    json.dumps(data.info)
    source = data.batches(4, seed=0)
    starts = set()
    for _ in range(6):
        x = source.next()["frames"]
        assert tuple(x.shape) == (4, 5, 1, 6, 6) and x.dtype == torch.float32
        v = ((x[:, :, 0, 0, 0] + 1) * 127.5).round().long()  # (B, T)
        assert (v.diff(dim=1) == 1).all() and ((x == x[..., :1, :1]).all())
        clip, start = v[:, 0] // 40, v[:, 0] % 40
        assert ((start + 5) <= torch.tensor([8, 12, 9, 10])[clip]).all()
        starts |= set(zip(clip.tolist(), start.tolist()))
    assert len(starts) > 8  # the windows start at random places
    assert source.steps_per_epoch == 1


def test_same_seed_resume_and_ranks(clip_dir, tmp_path):
    data = frames(dir=str(clip_dir), frames_in=2, frames_out=2)
    a = data.batches(3, seed=4)
    a.next()
    tensors = {}
    doc = json.dumps(flatten_state(a.state_dict(), tensors))
    save_file(tensors, str(tmp_path / "s.safetensors"))
    want = [a.next()["frames"] for _ in range(5)]
    b = data.batches(3, seed=0)
    b.load_state_dict(unflatten_state(json.loads(doc), load_file(str(tmp_path / "s.safetensors"))))
    assert all(torch.equal(b.next()["frames"], w) for w in want)
    x = [data.batches(3, seed=s).next()["frames"] for s in (4, 4, 5)]
    assert torch.equal(x[0], x[1]) and not torch.equal(x[0], x[2])
    whole = data.batches(4, seed=1).next()["frames"]
    parts = [data.batches(4, seed=1, rank=r, world=2).next()["frames"] for r in range(2)]
    assert torch.equal(torch.cat(parts), whole)
    with pytest.raises(DataError) as err:
        b.load_state_dict({"windows": torch.zeros(2, dtype=torch.uint8), "sampler": {}})
    assert "malformed" in one_line(err)


def test_items_are_the_non_overlapping_windows_in_order(clip_dir):
    data = frames(dir=str(clip_dir), frames_in=2, frames_out=2, n=2, seed=0)
    items = list(data.items(batch_size=3))
    names = [n for i in items for n in i["names"]]
    per_clip = {"clip0": 2, "clip1": 3, "clip2": 2, "clip3": 2}
    assert names == [f"{c}:{s}" for c in data.names for s in range(0, 4 * per_clip[c], 4)]
    first = ((items[0]["frames"][0, :, 0, 0, 0] + 1) * 127.5).round().tolist()
    base = 40 * int(data.names[0][-1])
    assert first == [base, base + 1, base + 2, base + 3]


def test_short_clips_are_skipped_or_an_error(clip_dir):
    with pytest.warns(UserWarning, match=r"skipped 2 of 4 clips shorter than 10 frames: 'clip0', 'clip2'"):
        data = frames(dir=str(clip_dir), frames_in=5, frames_out=5)
    assert data.names == ["clip1", "clip3"]
    with pytest.raises(DataError) as err:
        frames(dir=str(clip_dir), frames_in=10, frames_out=10)
    assert "every clip" in one_line(err) and "shorter than" in str(err.value)


def test_sizes_and_channels(clip_dir, tmp_path):
    np.save(clip_dir / "big.npy", np.zeros((10, 8, 8, 3), np.uint8))
    with pytest.raises(DataError) as err:
        frames(dir=str(clip_dir), frames_in=2, frames_out=2)
    assert "clip 'clip0' is 6x6 but 'big' is 8x8" in one_line(err) and "data.size" in str(err.value)
    data = frames(dir=str(clip_dir), frames_in=2, frames_out=2, size=4)
    assert data.shape == (4, 3, 4, 4) and all(tuple(c.shape[1:]) == (3, 4, 4) for c in data.clips)
    gray = frames(dir=str(clip_dir), frames_in=2, frames_out=2, size=4, channels=1)
    assert gray.shape == (4, 1, 4, 4)
    write_frames(clip_dir / "folder_clip", list(range(0, 60, 10)), [f"f{i}.png" for i in range(6)])
    write_gif(clip_dir / "anim.gif", list(range(0, 60, 10)))
    (clip_dir / "readme.txt").write_text("x")
    with pytest.warns(UserWarning, match="ignored 1 file"):
        mixed = frames(dir=str(clip_dir), frames_in=2, frames_out=2, size=6)
    assert {"folder_clip", "anim"} <= set(mixed.names)


@pytest.mark.parametrize("kwargs, match", [
    (dict(frames_in=0), "data.frames_in must be a positive integer"),
    (dict(frames_out=None), "data.frames_out must be a positive integer"),
    (dict(size=0), "data.size must be a positive integer"),
    (dict(channels=2), "data.channels must be 1"),
    (dict(split="val"), "data.split must be"),
    (dict(dir=None), "data.dir is not set"),
    (dict(split="test"), "data.test_dir is not set"),
    (dict(dir="/no/such/place"), "does not exist"),
])
def test_bad_settings_are_one_line_errors(clip_dir, kwargs, match):
    with pytest.raises(DataError) as err:
        frames(**{"dir": str(clip_dir), **kwargs})
    assert match in one_line(err)


def test_a_folder_of_plain_images_is_not_a_clip_folder(tmp_path):
    write_frames(tmp_path / "one", [1, 2, 3], ["a1.png", "a2.png", "a3.png"])
    with pytest.raises(DataError) as err:
        frames(dir=str(tmp_path / "one"))
    assert "no clips found" in one_line(err) and "folder above it" in str(err.value)
