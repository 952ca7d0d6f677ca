"""Text-to-image metrics (gankit.metrics.text, gankit.metrics.text_model): caption accuracy's rule on real and
altered captioned-MNIST images, R-precision's candidates and ranking, the separately trained text model, the
in-training evaluation of method=text2image (checkpoints/best, no effect on training) and `gankit eval`."""
import json

import pytest
import torch

from gankit.checkpoint import load_checkpoint
from gankit.cli import main
from gankit.data.captioned_mnist import captioned_mnist
from gankit.errors import CheckpointError, ConfigError
from gankit.metrics.classifier import DigitClassifier, save_classifier
from gankit.metrics.text import caption_checks, parse_text_names
from gankit.metrics.text_model import (TextMatcher, default_path, mismatched_candidates, r_precision_hits,
                                       train_text_model)

from test_text2image_method import one_line, train, write_squares

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    return write_squares(tmp_path_factory.mktemp("mnist"))


@pytest.fixture(scope="module")
def test_items(mnist_dir):
    data = captioned_mnist(dir=str(mnist_dir), split="test", n=60)
    return next(iter(data.items(60)))


def read_square(u8: torch.Tensor) -> torch.Tensor:
    """The squares' 'classifier': digit d has brightness 60 + 20 d; one-hot logits from each crop's maximum."""
    d = ((u8.flatten(1).max(1).values.float() - 60) / 20).round().clamp(0, 9).long()
    return torch.nn.functional.one_hot(d, 10).float()


def checks(images, batch):
    return caption_checks(images, batch["digits"], batch["positions"], read_square)


# ------------------------------------------------------------------ caption accuracy


def test_real_images_pass_and_altered_ones_fail(test_items):
    real = test_items["image"]
    assert checks(real, test_items).all()
    assert not checks(torch.full_like(real, -1), test_items).any()  # nothing drawn
    wrong_digit = test_items["digits"].clone()
    wrong_digit[:, 0] = (wrong_digit[:, 0] + 1) % 10
    assert not caption_checks(real, wrong_digit, test_items["positions"], read_square).any()
    corner = test_items["positions"][:, 0] == 8
    assert corner.any()
    speck, stray = real.clone(), real.clone()
    speck[:, :, 0:2, 0:2] = -0.6  # 4 px of faint ink in the top left corner: tolerated
    stray[:, :, 0:12, 0:12] = 1.0  # a bright 12 x 12 blob there: a stray mark
    assert checks(speck, test_items)[corner].all()
    assert not checks(stray, test_items)[corner].any()


def test_a_digit_in_another_cell_fails(test_items):
    one = test_items["digits"][:, 1] < 0
    flipped = test_items["image"].flip(-1)  # left <-> right: only the middle column keeps its place
    ok = checks(flipped, test_items)
    middle = test_items["positions"][:, 0] % 3 == 1
    assert ok[one & ~middle].sum() == 0 and ok[one & middle].all()


def test_two_digits_may_stand_in_any_row_or_column_but_in_the_captioned_order(test_items):
    two = test_items["digits"][:, 1] >= 0
    assert two.any()
    real, other = test_items["image"], test_items["image"].clone()
    first = test_items["positions"][:, 0]
    for i in two.nonzero()[:, 0].tolist():  # move the pair to the next row (left of) or column (above)
        left_of = int(test_items["positions"][i, 1] - first[i]) == 2
        line = int(first[i]) // 3 if left_of else int(first[i]) % 3
        other[i] = real[i].roll(18 if line < 2 else -36, dims=-2 if left_of else -1)  # cells 18 px apart
    assert checks(other, test_items)[two].all()  # the caption does not name the row or column
    swapped = test_items["digits"][two].flip(-1)
    keep = swapped[:, 0] != swapped[:, 1]
    assert not caption_checks(real[two], swapped, test_items["positions"][two], read_square)[keep].any()


def test_other_sizes_are_scored_at_64(mnist_dir):
    data = captioned_mnist(dir=str(mnist_dir), split="test", n=20, size=32)
    batch = next(iter(data.items(20)))
    assert batch["image"].shape[-1] == 32
    assert checks(torch.full_like(batch["image"], -1), batch).sum() == 0


def test_metric_names():
    assert parse_text_names("auto", "captioned-mnist") == ["caption_acc", "r_precision"]
    assert parse_text_names(None, "captions", default_fid=True) == ["r_precision", "fid"]
    with pytest.raises(ConfigError, match="caption_acc reads"):
        parse_text_names("caption_acc", "captions")
    with pytest.raises(ConfigError, match="does not apply to text-to-image runs"):
        parse_text_names("psnr", "captioned-mnist")


# ------------------------------------------------------------------ R-precision


def test_candidates_never_share_the_layout():
    keys = torch.tensor([0, 0, 1, 2, 2, 3])
    wrong = mismatched_candidates(keys, 99, seed=0)
    assert wrong.shape == (6, 99) and (keys[wrong] != keys[:, None]).all()
    assert torch.equal(wrong, mismatched_candidates(keys, 99, seed=0))
    with pytest.raises(ConfigError, match="captions that differ"):
        mismatched_candidates(torch.zeros(3, dtype=torch.long), 5, seed=0)


def test_r_precision_of_perfect_and_random_embeddings():
    g = torch.Generator().manual_seed(0)
    text = torch.randn(400, 16, generator=g)
    keys = torch.arange(400)
    assert r_precision_hits(text + 0.01 * torch.randn(400, 16, generator=g), text, keys).all()
    chance = r_precision_hits(torch.randn(400, 16, generator=g), text, keys).float().mean()
    assert chance < 0.05  # 1 in 100 expected


def test_text_model_trains_saves_and_loads(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    path, info = train_text_model("captioned-mnist", str(mnist_dir), steps=3, batch_size=8, size=16, width=4,
                                  eval_n=40, log=lambda m: None)
    assert path == default_path("captioned-mnist") and path.is_file()
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["vocabulary"]["words"] and 0 <= side["r_precision_real"] <= 1 and side["r_precision_n"] == 40
    m = TextMatcher(path)
    e = m.embed_text(["a 7 at the top left", "an 8 in the centre", "a zebra"])  # unknown words read as <unk>
    assert e.shape == (3, 128)
    assert m.embed_images(torch.zeros(2, 1, 64, 64)).shape[0] == 2  # resized to the model's 16 px
    path.write_bytes(b"broken")
    with pytest.raises(CheckpointError, match="unreadable.*gankit classifier text") as err:
        TextMatcher(path)
    one_line(str(err.value))
    with pytest.raises(CheckpointError, match="not found"):
        TextMatcher(tmp_path / "none.safetensors")


# ------------------------------------------------------------------ in training and gankit eval


@pytest.fixture(scope="module")
def nets(mnist_dir, tmp_path_factory):
    """A classifier (untrained: its verdicts are arbitrary but fixed) and a text model in a private cache."""
    cache = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("GANKIT_CACHE", str(cache))
    torch.manual_seed(0)
    save_classifier(DigitClassifier(width=4, feature_dim=8), cache / "classifiers" / "mnist.safetensors",
                    {"data": "mnist", "test_accuracy": 0.1})
    train_text_model("captioned-mnist", str(mnist_dir), steps=2, batch_size=8, size=16, width=4, eval_n=20,
                     log=lambda m: None)
    yield cache
    mp.undo()


EVAL = ["monitor.eval_every=2", "monitor.eval_n=30"]


def test_in_training_evaluation_tracks_best_and_leaves_training_alone(mnist_dir, nets, tmp_path):
    plain = train(mnist_dir, tmp_path / "plain", steps=4)
    evaluated = train(mnist_dir, tmp_path / "eval", *EVAL, steps=4)
    a = load_checkpoint(plain, trainer_state=False).weights
    b = load_checkpoint(evaluated, trainer_state=False).weights
    assert a.keys() == b.keys() and all(torch.equal(a[k][p], b[k][p]) for k in a for p in a[k])
    rows = [json.loads(line) for line in (evaluated / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/caption_acc" in r]
    assert [r["step"] for r in evals] == [2, 4]
    for key in ("caption_acc", "caption_acc_seen", "caption_acc_held_out", "r_precision", "r_precision_held_out"):
        assert 0 <= evals[-1][f"eval/{key}"] <= 1, key
    assert (evaluated / "checkpoints" / "best").exists()


def test_gankit_eval_scores_a_text_run(mnist_dir, nets, tmp_path, capsys):
    run = train(mnist_dir, tmp_path / "t2i", steps=4)
    out = tmp_path / "scores.jsonl"
    assert main(["eval", str(run), "--metrics", "caption_acc,r_precision", "--n", "30", "--quiet",
                 "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("caption_acc value") and "held_out" in lines[0]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[1]["metric"] == "r_precision" and rows[1]["n"] == 30
    assert rows[0]["n_seen"] + rows[0]["n_held_out"] == 30
    again = tmp_path / "again.jsonl"
    assert main(["eval", str(run), "--metrics", "caption_acc,r_precision", "--n", "30", "--quiet",
                 "--out", str(again)]) == 0
    assert [r["values"] for r in rows] == [json.loads(x)["values"] for x in again.read_text().splitlines()]
    capsys.readouterr()
    assert main(["eval", str(run), "--metrics", "r_precision", "--text-model", str(tmp_path / "no.safetensors"),
                 "--n", "30", "--quiet"]) != 0
    assert "gankit classifier text" in one_line(capsys.readouterr().err)
