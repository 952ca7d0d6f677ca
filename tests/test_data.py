"""Data sources: tiny generated files only, CPU, deterministic."""

from __future__ import annotations

import gzip
import math
import struct
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import MIXTURES, SOURCES, Dataset, load_dataset, mixture_means, mixture_std
from gankit.data.idx import FILES, read_idx
from gankit.errors import DataError


# ---------------------------------------------------------------- helpers
def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> Path:
    data = idx_bytes(arr)
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def write_mnist(folder: Path, n_train: int = 12, n_test: int = 5, gz: bool = False) -> dict:
    """Tiny MNIST-format files; image k is filled with value k*10, label k % 10."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = np.stack([np.full((28, 28), 10 * k, np.uint8) for k in range(n)])
        images[:, 0, 0] = 255
        labels = np.arange(n, dtype=np.uint8) % 10
        img_name, lbl_name = FILES[split]
        write_idx(folder / img_name, images, gz)
        write_idx(folder / lbl_name, labels, gz)
        arrays[split] = (images, labels)
    return arrays


def save_png(path: Path, color, size=(10, 6), mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


# ---------------------------------------------------------------- registry
def test_registry_and_unknown_name_suggests_closest():
    assert {"digits", "mnist", "fashion-mnist", "folder", "ring", "grid", "fake"} <= set(SOURCES)
    with pytest.raises(DataError, match=r"did you mean 'mnist'\?.*fashion-mnist.*ring"):
        load_dataset("mnsit")
    with pytest.raises(DataError, match="did you mean 'grid'"):
        load_dataset("gird")


@pytest.mark.parametrize("kwargs, key", [({"size": 0}, "size"), ({"channels": 2}, "channels"),
                                         ({"split": "val"}, "split"), ({"on_corrupt": "ignore"}, "on_corrupt"),
                                         ({"n": -1}, "n")])
def test_bad_arguments_are_data_errors(kwargs, key):
    with pytest.raises(DataError, match=f"data.{key}"):
        load_dataset("fake", **kwargs)


# ---------------------------------------------------------------- digits
def test_digits_natural():
    ds = load_dataset("digits")
    assert isinstance(ds, Dataset) and ds.kind == "image" and ds.name == "digits"
    assert ds.x.shape == (1797, 1, 8, 8) and ds.shape == (1, 8, 8) and len(ds) == 1797
    assert ds.x.dtype == torch.float32 and ds.y.dtype == torch.int64
    assert ds.x.min() == -1 and ds.x.max() == 1
    assert ds.y.unique().tolist() == list(range(10))
    assert ds.num_classes == 10 and ds.class_names == [str(i) for i in range(10)]


def test_digits_resize_channels_and_cap():
    ds = load_dataset("digits", size=16, channels=3, n=100, seed=1)
    assert ds.x.shape == (100, 3, 16, 16)
    assert ds.x.min() >= -1 and ds.x.max() <= 1
    assert torch.equal(ds.x[:, 0], ds.x[:, 2])
    again = load_dataset("digits", size=16, channels=3, n=100, seed=1)
    assert torch.equal(ds.x, again.x) and torch.equal(ds.y, again.y)


# ---------------------------------------------------------------- IDX / MNIST
def test_read_idx_round_trip_plain_and_gz(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for gz in (False, True):
        path = write_idx(tmp_path / f"a{int(gz)}", arr, gz)
        out = read_idx(path)
        assert out.dtype == np.uint8 and np.array_equal(out, arr)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_round_trip(tmp_path, gz):
    arrays = write_mnist(tmp_path, gz=gz)
    for split in ("train", "test"):
        images, labels = arrays[split]
        ds = load_dataset("mnist", dir=str(tmp_path), split=split)
        assert ds.x.shape == (len(labels), 1, 28, 28) and ds.num_classes == 10
        assert torch.equal(ds.y, torch.from_numpy(labels).long())
        expected = torch.from_numpy(images).float().unsqueeze(1) / 127.5 - 1
        assert torch.allclose(ds.x, expected)
        assert ds.x.max() == 1 and ds.x.min() == -1


def test_fashion_mnist_torchvision_layout_resize_and_classes(tmp_path):
    write_mnist(tmp_path / "FashionMNIST" / "raw")
    ds = load_dataset("fashion-mnist", dir=str(tmp_path), size=14, channels=3)
    assert ds.x.shape == (12, 3, 14, 14)
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    assert ds.name == "fashion-mnist"


def test_idx_truncated_and_corrupt_files_name_the_file(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / FILES["train"][0]
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.*truncated"):
        load_dataset("mnist", dir=str(tmp_path))
    path.write_bytes(b"\x12\x34garbage")
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.*magic"):
        load_dataset("mnist", dir=str(tmp_path))
    gz = tmp_path / "x.gz"
    gz.write_bytes(gzip.compress(idx_bytes(np.zeros(50, np.uint8)))[:-20])
    with pytest.raises(DataError, match=r"x\.gz"):
        read_idx(gz)


def test_idx_label_count_mismatch(tmp_path):
    write_mnist(tmp_path)
    write_idx(tmp_path / FILES["train"][1], np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="12 images.*3 labels"):
        load_dataset("mnist", dir=str(tmp_path))


def test_mnist_missing_files_message(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset("mnist", dir=str(tmp_path))
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path) in msg and "data.download=true" in msg
    for stems in FILES.values():
        for stem in stems:
            assert stem in msg
    with pytest.raises(DataError, match="does not exist.*t10k-labels-idx1-ubyte"):
        load_dataset("mnist", dir=str(tmp_path / "nope"))


def _fake_torchvision(monkeypatch, init) -> None:
    import torchvision

    module = types.ModuleType("torchvision.datasets")
    module.MNIST = type("MNIST", (), {"__init__": init})
    monkeypatch.setitem(sys.modules, "torchvision.datasets", module)
    monkeypatch.setattr(torchvision, "datasets", module)


def test_mnist_download_offline_is_data_error(tmp_path, monkeypatch):
    def offline(self, root, train=True, download=False):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nURLError: no network")

    _fake_torchvision(monkeypatch, offline)
    with pytest.raises(DataError, match=r"could not download mnist.*offline.*train-images-idx3-ubyte") as err:
        load_dataset("mnist", dir=str(tmp_path), download=True)
    assert "\n" not in str(err.value)


def test_mnist_download_reads_torchvision_raw_files(tmp_path, monkeypatch):
    def online(self, root, train=True, download=False):
        write_mnist(Path(root) / "MNIST" / "raw", gz=True)

    _fake_torchvision(monkeypatch, online)
    ds = load_dataset("mnist", dir=str(tmp_path), split="test", download=True)
    assert ds.x.shape == (5, 1, 28, 28)


# ---------------------------------------------------------------- folder
def test_folder_nested_classes(tmp_path):
    save_png(tmp_path / "dog" / "a.png", (255, 0, 0))
    save_png(tmp_path / "dog" / "deeper" / "b.PNG", (0, 255, 0))
    save_png(tmp_path / "cat" / "c.jpg", (0, 0, 255))
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    ds = load_dataset("folder", dir=str(tmp_path), size=8)
    assert ds.class_names == ["cat", "dog"] and ds.num_classes == 2
    assert ds.x.shape == (3, 3, 8, 8) and ds.y.tolist() == [0, 1, 1]
    assert ds.info["files"] == 3 and ds.info["skipped"] == 0
    assert torch.allclose(ds.x[1, :, 4, 4], torch.tensor([1.0, -1.0, -1.0]))


def test_folder_flat_is_unlabelled_gray_natural_and_rgb_to_gray(tmp_path):
    save_png(tmp_path / "a.png", 0, mode="L")
    save_png(tmp_path / "b.png", 255, mode="L")
    gray = load_dataset("folder", dir=str(tmp_path), size=4)
    assert gray.y is None and gray.num_classes == 0 and gray.x.shape == (2, 1, 4, 4)
    assert torch.allclose(gray.x[0], torch.tensor(-1.0)) and torch.allclose(gray.x[1], torch.tensor(1.0))
    save_png(tmp_path / "c.png", (255, 0, 0))
    assert load_dataset("folder", dir=str(tmp_path), size=4).x.shape == (3, 3, 4, 4)
    ds = load_dataset("folder", dir=str(tmp_path), size=4, channels=1)
    assert ds.x.shape == (3, 1, 4, 4)
    assert torch.allclose(ds.x[2], torch.full((1, 4, 4), 0.299 * 2 - 1), atol=1e-2)


def test_folder_centre_crop_non_square(tmp_path):
    im = Image.new("L", (12, 4), 0)
    im.paste(255, (4, 0, 8, 4))
    im.save(tmp_path / "wide.png")
    ds = load_dataset("folder", dir=str(tmp_path), size=4)
    assert ds.x.shape == (1, 1, 4, 4) and torch.allclose(ds.x, torch.tensor(1.0))


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match=r"no images found.*\.png.*\.webp"):
        load_dataset("folder", dir=str(tmp_path))
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("folder", dir=str(tmp_path / "missing"))
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        load_dataset("folder", dir=str(tmp_path / "file.txt"))
    with pytest.raises(DataError, match="data.dir"):
        load_dataset("folder")


def test_folder_corrupt_image_error_and_skip(tmp_path):
    save_png(tmp_path / "good.png", (10, 20, 30))
    (tmp_path / "bad.png").write_bytes(b"definitely not a png")
    with pytest.raises(DataError, match=r"bad\.png.*data.on_corrupt=skip") as err:
        load_dataset("folder", dir=str(tmp_path), size=4)
    assert "\n" not in str(err.value)
    with pytest.warns(UserWarning, match=r"skipped 1 .*bad\.png"):
        ds = load_dataset("folder", dir=str(tmp_path), size=4, on_corrupt="skip")
    assert len(ds) == 1 and ds.info["skipped"] == 1


# ---------------------------------------------------------------- toy mixtures
def test_ring_means_exact_and_distinct():
    means = mixture_means("ring")
    assert means.shape == (8, 2)
    for i in range(8):
        angle = 2 * math.pi * i / 8
        assert means[i].tolist() == pytest.approx([math.cos(angle), math.sin(angle)], abs=1e-7)
    assert torch.cdist(means, means).add(torch.eye(8)).min() > 0.7
    assert means.norm(dim=1).sub(1).abs().max() < 1e-6
    assert mixture_std("ring") == 0.01


def test_grid_means_exact():
    means = mixture_means("grid")
    assert means.shape == (25, 2)
    assert {tuple(m) for m in means.tolist()} == {(i, j) for i in range(-4, 5, 2) for j in range(-4, 5, 2)}
    assert mixture_std("grid") == 0.05


@pytest.mark.parametrize("name", MIXTURES)
def test_mixture_samples(name):
    ds = load_dataset(name, n=20_000, seed=3)
    means, std = mixture_means(name), mixture_std(name)
    assert ds.kind == "points" and ds.x.shape == (20_000, 2) and ds.num_classes == len(means)
    offsets = ds.x - means[ds.y]
    assert offsets.std().item() == pytest.approx(std, rel=0.05)
    assert offsets.mean(0).abs().max() < std / 10
    counts = torch.bincount(ds.y, minlength=len(means)).float()
    assert counts.min() > 0.8 * counts.mean()
    assert ds.info["std"] == std and ds.info["means"] == means.tolist()


def test_mixture_determinism_and_default_n():
    a, b, c = load_dataset("ring", seed=5), load_dataset("ring", seed=5), load_dataset("ring", seed=6)
    assert len(a) == 100_000
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and not torch.equal(a.x, c.x)


# ---------------------------------------------------------------- fake
def test_fake():
    ds = load_dataset("fake", n=10, seed=1)
    assert ds.x.shape == (10, 3, 64, 64) and ds.num_classes == 10
    assert ds.x.min() >= -1 and ds.x.max() <= 1 and ds.y.max() < 10
    assert torch.equal(ds.x, load_dataset("fake", n=10, seed=1).x)
    assert load_dataset("fake", n=2, size=8, channels=1).shape == (1, 8, 8)


def test_dataset_to_keeps_fields():
    ds = load_dataset("fake", n=4, size=4).to("cpu")
    assert ds.name == "fake" and ds.y is not None and ds.x.device.type == "cpu"
