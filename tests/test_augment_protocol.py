"""`gankit augment` (gankit.augmentation): subsets, arms, the resumable protocol, its report and its bad inputs,
on a tiny class folder made from the embedded 8x8 digits."""
import json

import pytest
import yaml
import torch

from gankit.augmentation.arms import ARMS, ArmDiverged, arm_data, classic_augment, train_classifier
from gankit.augmentation.protocol import Protocol, Settings, parse_labels, run_protocol
from gankit.augmentation.report import best_synthetic, interval, summarise, verdict
from gankit.augmentation.subsets import load_labelled, stratified, write_class_folder
from gankit.cli import main
from gankit.data import load_dataset
from gankit.errors import ConfigError, DataError

TINY_GAN = ["model.z_dim=4", "model.g.width=4", "model.d.width=4", "train.log_every=1", "train.sample_every=100",
            "train.checkpoint_every=100"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """3 classes of the embedded digits (0, 1, 2), 12 images each, as DIR/<class>/*.png."""
    ds = load_dataset("digits", size=8, channels=1)
    keep = torch.cat([(ds.y == c).nonzero()[:12, 0] for c in range(3)])
    root = tmp_path_factory.mktemp("digits") / "data"
    return write_class_folder(ds.x[keep], ds.y[keep], ["zero", "one", "two"], root)


def settings(folder, **kw):
    base = dict(data="folder", data_dir=str(folder), test_dir=None, labels=[2], seeds=2, gan_preset="digits-dcgan",
                gan_steps=2, gan_overrides=TINY_GAN, classifier_steps=3, reference_steps=3)
    return Settings(**{**base, **kw})


@pytest.fixture(scope="module")
def finished(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("proto") / "augment"
    report = run_protocol(out, settings(folder))
    return out, report


def test_subsets_are_stratified_seeded_and_checked(folder):
    data = load_labelled("folder", str(folder))
    assert data.classes == ["one", "two", "zero"] and len(data.test_x) == 6 and len(data.train_x) == 30
    idx = stratified(data.train_y, 4, 0, data.classes)
    assert torch.bincount(data.train_y[idx]).tolist() == [4, 4, 4]
    assert torch.equal(idx, stratified(data.train_y, 4, 0, data.classes))
    assert not torch.equal(idx, stratified(data.train_y, 4, 1, data.classes))
    with pytest.raises(DataError, match="class 'one' has 10 training images, fewer than the 11 labels per class"):
        stratified(data.train_y, 11, 0, data.classes)


def test_arms_data_and_classic_augmentation():
    rx, ry = torch.zeros(6, 1, 8, 8), torch.tensor([0, 0, 1, 1, 2, 2])
    sx, sy = torch.ones(24, 1, 8, 8), torch.arange(24) % 3
    x, y, classic = arm_data("real+synth4x", rx, ry, sx, sy)
    assert len(x) == 30 and torch.bincount(y).tolist() == [10, 10, 10] and not classic
    x, y, classic = arm_data("synth-only", rx, ry, sx, sy)
    assert len(x) == 6 and (x == 1).all() and torch.bincount(y).tolist() == [2, 2, 2]
    assert arm_data("real+classic+synth1x", rx, ry, sx, sy)[2] and arm_data("real+classic", rx, ry, sx, sy)[2]
    img = -torch.ones(4, 1, 28, 28)
    img[:, :, 10:18, 12:16] = 1
    out = classic_augment(img, torch.Generator().manual_seed(0))
    assert out.shape == img.shape and out.min() >= -1 and out.max() <= 1 and not torch.equal(out, img)
    big = torch.rand(3, 3, 40, 40) * 2 - 1
    assert classic_augment(big, torch.Generator().manual_seed(0)).shape == big.shape
    with pytest.raises(ArmDiverged, match="became nan"):
        train_classifier(torch.full((8, 1, 8, 8), float("nan")), torch.zeros(8, dtype=torch.long), 2, 2, seed=0)


def test_intervals_and_verdicts():
    iv = interval([1.0, 2.0, 3.0])
    assert iv["mean"] == 2.0 and abs(iv["high"] - 2.0 - 4.303 / 3 ** 0.5) < 1e-9
    assert interval([0.5])["low"] is None and interval([])["mean"] is None
    assert verdict(interval([0.02, 0.021, 0.022])) == "gain" and verdict(interval([-0.01, 0.01])) == \
        "no clear difference" and verdict(interval([-0.02, -0.03, -0.025])) == "loss"
    assert parse_labels("100, 10,10") == [10, 100]
    with pytest.raises(ConfigError, match="positive integers"):
        parse_labels("ten")


def test_the_protocol_runs_every_arm_and_writes_a_report(finished, folder):
    out, report = finished
    text = report.read_text()
    for arm in (*ARMS, "gan-test"):
        assert f"| {arm} |" in text, arm
        for seed in (0, 1):
            doc = json.loads((out / "results" / f"l2-s{seed}" / f"{arm}.json").read_text())
            assert 0 <= doc["accuracy"] <= 1 and len(doc["confusion"]) == 3
    assert (out / "accuracy.png").stat().st_size > 0 and (out / "confusion.png").stat().st_size > 0
    levels = json.loads((out / "report.json").read_text())["levels"]
    reference = json.loads((out / "reference.json").read_text())
    assert reference["steps"] == 3 and reference["seconds"] >= 0
    assert levels["2"]["real"]["accuracy"]["n"] == 2
    # no leak: each GAN trained on its subset folder, which holds 2 images per class and nothing else
    for seed in (0, 1):
        subset = out / "subsets" / f"l2-s{seed}"
        assert sorted(len(list(d.glob("*.png"))) for d in subset.iterdir()) == [2, 2, 2]
        gan_config = yaml.safe_load((out / "gans" / f"l2-s{seed}" / "config.yaml").read_text())
        assert gan_config["data"]["dir"] == str(subset)
        assert gan_config["gan"]["augment"] == "translation,cutout"  # the subset is small: DiffAugment by default
        assert json.loads((out / "gans" / f"l2-s{seed}" / "done").read_text())["seconds"] > 0
        synth = out / "synth" / f"l2-s{seed}"
        assert sorted(len(list(d.glob("*.png"))) for d in synth.iterdir() if d.is_dir()) == [8, 8, 8]


def test_a_resumed_protocol_redoes_only_what_is_missing(finished, folder):
    out, _ = finished
    gone = out / "results" / "l2-s1" / "real+synth1x.json"
    before = json.loads(gone.read_text())
    kept = out / "results" / "l2-s0" / "real.json"
    stamp = kept.stat().st_mtime_ns
    gone.unlink()
    run_protocol(out, settings(folder))
    again = json.loads(gone.read_text())
    assert {k: v for k, v in again.items() if k != "seconds"} == {k: v for k, v in before.items() if k != "seconds"}
    assert kept.stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="started with other settings \\(seeds: 2\\)"):
        Protocol(out, settings(folder, seeds=3))


def test_a_diverged_arm_is_reported_and_skipped(folder, tmp_path, monkeypatch):
    import gankit.augmentation.protocol as proto

    real_train = proto.train_classifier

    def flaky(x, y, num_classes, steps, seed, classic=False, device="cpu"):
        if classic:
            raise ArmDiverged("the classifier's loss became nan at step 1 of 3")
        return real_train(x, y, num_classes, steps, seed, classic, device)
    monkeypatch.setattr(proto, "train_classifier", flaky)
    report = run_protocol(tmp_path / "p", settings(folder, seeds=1, arms=["real", "real+classic"]))
    assert "| real+classic | 6 | — | — | — | — | — | 0 (1 skipped) |" in report.read_text()
    assert "skipped" in json.loads((tmp_path / "p" / "results" / "l2-s0" / "real+classic.json").read_text())


def test_cli_bad_inputs_are_one_line(folder, tmp_path, capsys):
    one = tmp_path / "one"
    ds = load_dataset("digits", size=8, channels=1)
    write_class_folder(ds.x[:5], torch.zeros(5, dtype=torch.long), ["only"], one)
    cases = [(["--data", "folder", "--data-dir", str(one)], "has no class subfolders"),
             (["--data", "folder", "--data-dir", str(folder), "--labels-per-class", "50"], "fewer than the 50 labels"),
             (["--data", "folder", "--data-dir", str(folder), "--labels-per-class", "0"], "positive integers"),
             (["--data", "mnist", "--data-dir", str(tmp_path / "none")], "does not exist"),
             (["--data", "folder", "--data-dir", str(folder), "--reference-steps", "0"], "--reference-steps 0: must")]
    for i, (args, words) in enumerate(cases):
        assert main(["augment", *args, "--out", str(tmp_path / f"o{i}"), "--quiet"]) == 2, args
        err = capsys.readouterr().err.strip()
        assert words in err and "\n" not in err and "Traceback" not in err, (args, err)


def test_synthetic_arms_are_credited_only_with_what_their_synthetic_images_add():
    acc = {"real": (0.80, 0.82), "real+classic": (0.90, 0.92), "real+synth1x": (0.81, 0.84),
           "real+classic+synth1x": (0.89, 0.91)}
    rows = [{"labels": 10, "seed": s, "arm": arm, "accuracy": a[s]} for arm, a in acc.items() for s in (0, 1)]
    arms = summarise(rows)[10]
    assert arms["real+classic+synth1x"]["gain"]["mean"] == pytest.approx(0.09)  # over real only: classic's doing
    assert arms["real+classic+synth1x"]["synth_gain"]["mean"] == pytest.approx(-0.01)  # over real+classic
    assert arms["real+synth1x"]["synth_gain"]["mean"] == pytest.approx(0.015)
    assert arms["real+classic"]["synth_gain"] is None
    assert best_synthetic(arms) == "real+synth1x"  # not the most accurate arm, the one synthetic data helps most
