"""Tests for gankit.metrics.classifier and `gankit classifier train` (on the embedded 8x8 digits)."""
import hashlib
import json

import pytest
import torch

from gankit.cli import main
from gankit.errors import CheckpointError, ConfigError
from gankit.metrics.classifier import (ClassifierFeatures, DigitClassifier, default_path, load_classifier, prepare,
                                       save_classifier, train_classifier)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One epoch on the embedded digits through the CLI (the only training in this file)."""
    out = tmp_path_factory.mktemp("cls") / "digits.safetensors"
    assert main(["classifier", "train", "--data", "digits", "--epochs", "2", "--width", "4", "--out", str(out),
                 "--device", "cpu"]) == 0
    return out, load_classifier(out)[1]


def test_shapes():
    model = DigitClassifier().eval()
    f, logits = model.features_and_logits(torch.zeros(3, 1, 28, 28))
    assert f.shape == (3, 128) and logits.shape == (3, 10)


def test_prepare_gray_rgb_and_resize():
    x = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(prepare(x), x.float() / 127.5 - 1)
    assert torch.equal(prepare(x.expand(-1, 3, -1, -1)), prepare(x))
    small = prepare(torch.full((2, 1, 8, 8), 255, dtype=torch.uint8))
    assert small.shape == (2, 1, 28, 28) and torch.allclose(small, torch.ones_like(small))


def test_training_learns_digits_and_round_trips(trained):
    path, info = trained
    assert info["data"] == "digits" and info["test_accuracy"] > 0.7 and info["test_split"] == "held-out 20%"
    doc = json.loads(path.with_suffix(".json").read_text())
    assert doc["format"] == "gankit-classifier/1" and doc["arch"]["num_classes"] == 10
    model, loaded_info = load_classifier(path)
    assert loaded_info["test_accuracy"] == info["test_accuracy"]
    net = ClassifierFeatures(path)
    assert net.protocol["weights_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "digits classifier (test acc" in net.protocol["features"]
    x = torch.randint(0, 256, (4, 1, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = net.extract(x)
    assert out["features"].shape == (4, 128) and torch.equal(out["logits"], model(prepare(x)))


def test_load_errors(tmp_path, trained, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    with pytest.raises(CheckpointError, match="gankit classifier train"):
        ClassifierFeatures(None, "mnist")
    assert default_path("mnist") == tmp_path / "classifiers" / "mnist.safetensors"
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors")
    bad.with_suffix(".json").write_text(trained[0].with_suffix(".json").read_text())
    with pytest.raises(CheckpointError, match="unreadable"):
        load_classifier(bad)
    with pytest.raises(ConfigError, match=".safetensors"):
        save_classifier(DigitClassifier(), tmp_path / "x.pt", {})
    with pytest.raises(ConfigError):
        train_classifier("cifar", out=tmp_path / "c.safetensors")


def test_cli_classifier_train_errors(tmp_path, capsys):
    out = tmp_path / "c.safetensors"
    assert main(["classifier", "train", "--data", "mnist", "--data-dir", str(tmp_path / "none"),
                 "--out", str(out)]) == 2
    assert "data.dir" in capsys.readouterr().err
