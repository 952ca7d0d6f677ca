"""Tests for gankit.metrics.stacked: the stacked-mnist source and the 1000-mode metric."""
import math
import struct

import pytest
import torch

from gankit.data import SOURCES, load_dataset
from gankit.errors import DataError, GankitError
from gankit.metrics import METRICS
from gankit.metrics import evaluate as ev
from gankit.data.stacked import stacked_mnist
from gankit.metrics.stacked import channel_digits, stacked_modes
from gankit.monitor.images import to_uint8


def write_idx(folder, split, labels):
    """Tiny MNIST-format files: the image of digit d is the constant gray 20*d + 10."""
    stem = {"train": "train", "test": "t10k"}[split]
    labels = torch.tensor(labels, dtype=torch.uint8)
    images = (labels * 20 + 10).view(-1, 1, 1).expand(-1, 28, 28).contiguous()
    (folder / f"{stem}-images-idx3-ubyte").write_bytes(struct.pack(">4B3I", 0, 0, 8, 3, len(labels), 28, 28)
                                                       + images.numpy().tobytes())
    (folder / f"{stem}-labels-idx1-ubyte").write_bytes(struct.pack(">4BI", 0, 0, 8, 1, len(labels))
                                                       + labels.numpy().tobytes())


def gray_digit_logits(x):
    """Stub classifier for write_idx images: logits peak at the digit whose gray level is nearest."""
    mean = x.float().mean((1, 2, 3))
    return -(mean[:, None] - (torch.arange(10) * 20 + 10)[None]).abs()


@pytest.fixture
def mnist_dir(tmp_path):
    write_idx(tmp_path, "train", [i % 10 for i in range(30)])
    write_idx(tmp_path, "test", [(3 * i) % 10 for i in range(20)])
    return tmp_path


def test_source_is_registered_and_labels_match_channels(mnist_dir):
    assert SOURCES["stacked-mnist"] is stacked_mnist
    ds = load_dataset("stacked-mnist", dir=str(mnist_dir), n=200, seed=3)
    assert ds.x.shape == (200, 3, 28, 28) and ds.num_classes == 1000 and ds.info["split"] == "train"
    assert float(ds.x.min()) >= -1 and float(ds.x.max()) <= 1
    digits = channel_digits(torch.from_numpy(to_uint8(ds.x)).permute(0, 3, 1, 2), gray_digit_logits)
    assert torch.equal(digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2], ds.y)
    again = load_dataset("stacked-mnist", dir=str(mnist_dir), n=200, seed=3)
    assert torch.equal(again.x, ds.x)
    assert not torch.equal(load_dataset("stacked-mnist", dir=str(mnist_dir), n=200, seed=4).y, ds.y)
    test = load_dataset("stacked-mnist", dir=str(mnist_dir), split="test", size=16, n=8)
    assert test.x.shape == (8, 3, 16, 16) and test.info["split"] == "test"
    assert len(load_dataset("stacked-mnist", dir=str(mnist_dir), split="test")) == 10_000


def test_source_rejects_one_channel(mnist_dir):
    with pytest.raises(DataError, match="3 channels"):
        load_dataset("stacked-mnist", dir=str(mnist_dir), channels=1, n=4)


def test_modes_and_kl():
    assert METRICS["stacked_mnist"] is stacked_modes
    every = torch.stack([torch.arange(1000) // 100, torch.arange(1000) // 10 % 10, torch.arange(1000) % 10], 1)
    full = stacked_modes(every.repeat(3, 1))
    assert full.modes == 1000 and full.kl == pytest.approx(0.0, abs=1e-12) and full.n == 3000
    one = stacked_modes(torch.tensor([[1, 2, 3]] * 50))
    assert one.modes == 1 and one.kl == pytest.approx(math.log(1000))
    half = stacked_modes(every[:500])
    assert half.modes == 500 and half.kl == pytest.approx(math.log(2))
    with pytest.raises(GankitError):
        stacked_modes(torch.tensor([[1, 2, 10]]))
    with pytest.raises(GankitError, match="uint8"):
        channel_digits(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), gray_digit_logits)


class DigitStub:
    protocol = {"features": "stub", "logits": "stub gray-level digits", "resize": "none", "weights": "stub",
                "weights_sha256": "0" * 64}

    def extract(self, x):
        return {"features": x.float().mean((2, 3)), "logits": gray_digit_logits(x)}


def test_evaluate_modes_on_a_stacked_run(mnist_dir, tmp_path):
    from test_eval import untrained_run

    run = untrained_run(tmp_path / "run", **{"data.name": "stacked-mnist", "data.dir": str(mnist_dir),
                                             "data.size": 28, "data.n": 64, "model.g.width": 4})
    (res,) = ev.evaluate(run, n=300, networks={"classifier": DigitStub()})
    assert res.name == "modes" and res.protocol["n_fake"] == 300
    assert 1 <= res.values["modes"] <= 1000 and 0 <= res.values["kl"] <= math.log(1000) + 1e-9
    assert "per-channel argmax of stub gray-level digits" in res.line()
