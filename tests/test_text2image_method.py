"""GAN-INT-CLS (method=text2image) through the real training path: contrastive pre-training, the matching-aware D,
exact resume across the phase boundary, `gankit.load(run).sample(n, text)` without the data, `gankit sample --text`."""
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import gankit
from gankit import api
from gankit.checkpoint import load_checkpoint
from gankit.cli import main
from gankit.config import load_config
from gankit.data.captioned_mnist import VOCABULARY, captioned_mnist
from gankit.errors import ConfigError, DataError
from gankit.methods import DataSpec, build_method
from gankit.methods.text2image import mismatched
from gankit.models import TextToImage

from translation_fixtures import assert_tree_equal, train_records
from video_fixtures import QUIET, write_idx, write_mnist

torch.set_num_threads(1)

SIZE = 16
TINY = ["method=text2image", "data.name=captioned-mnist", f"data.size={SIZE}", "train.batch_size=8",
        "text.embed_dim=8", "text.hidden=8", "text.text_dim=8", "text.image_width=4", "text.z_dim=4",
        "text.cond_dim=4", "text.g_width=4", "text.d_width=4", "text.proj_dim=4", "text.ema_bn_batches=2",
        "text.pretrain_steps=2"]
PROMPTS = ["a 7 at the top left", "the digit three in the centre", "a 1 above a 2"]


def train(mnist_dir, run_dir, *extra: str, steps: int = 4, resume=False):
    if resume:
        return api.train(None, resume=run_dir, overrides=[f"train.steps={steps}", *extra])
    return api.train(None, overrides=[*TINY, *QUIET, f"data.dir={mnist_dir}", f"run.dir={run_dir}",
                                      f"train.steps={steps}", *extra])


def one_line(text: str) -> str:
    assert text.strip() and "\n" not in text.strip() and "Traceback" not in text, text
    return text


def write_squares(root):
    """MNIST-format files whose digit d is a 20 x 16 square of brightness 60 + 20 d: digit and place are easy to see."""
    root.mkdir(parents=True, exist_ok=True)
    labels = np.arange(30, dtype=np.uint8) % 10
    images = np.zeros((30, 28, 28), np.uint8)
    images[:, 4:24, 6:22] = (60 + 20 * labels)[:, None, None]
    for stem in ("train", "t10k"):
        write_idx(root / f"{stem}-images-idx3-ubyte", images)
        write_idx(root / f"{stem}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    return write_squares(tmp_path_factory.mktemp("mnist"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """2 pre-training + 2 GAN steps on data that is deleted afterwards (loading needs the checkpoint alone)."""
    data = write_mnist(tmp_path_factory.mktemp("gone"), train=20, test=10)
    out = train(data, tmp_path_factory.mktemp("runs") / "t2i")
    shutil.rmtree(data)
    return out


def weights(run_dir, step=None):
    path = run_dir / "checkpoints" / f"step-{step:08d}" if step else run_dir
    return load_checkpoint(path, trainer_state=False).weights


# ------------------------------------------------------------------ training


def test_pretraining_learns_the_joint_embedding_and_trains_nothing_else(mnist_dir, tmp_path):
    run_dir = train(mnist_dir, tmp_path / "pre", "text.pretrain_steps=1000", "data.digits=1", "text.lr=0.003",
                    "train.log_every=10", "train.checkpoint_every=80", steps=160)
    logs = train_records(run_dir)
    assert len(logs) == 16 and all({"loss_contrastive", "retrieval", "temperature"} <= set(r) and "loss_d" not in r
                                    for r in logs)
    chance = np.log(8)  # InfoNCE of a batch of 8 that tells nothing apart
    assert logs[0]["loss_contrastive"] > chance and np.mean([r["loss_contrastive"] for r in logs[-3:]]) < 0.7 * chance
    assert np.mean([r["retrieval"] for r in logs[-3:]]) > 2 / 8  # in-batch caption -> image top-1 (chance 1/8)
    early, late = weights(run_dir, 80), weights(run_dir)
    for name in ("G", "D", "G_ema"):  # phase 1 leaves the GAN alone
        assert_tree_equal(early[name], late[name], name)
    assert not torch.equal(early["E"]["proj.weight"], late["E"]["proj.weight"])
    assert not torch.equal(early["I"]["model.7.weight"], late["I"]["model.7.weight"])
    assert not torch.equal(early["joint"]["logit_scale"], late["joint"]["logit_scale"])  # the temperature learns


def test_the_gan_phase_logs_the_matching_aware_values_and_keeps_e_frozen(run, tmp_path):
    logs = train_records(run)
    assert [r["step"] for r in logs] == [1, 2, 3, 4]
    assert all("loss_contrastive" in r and "loss_d" not in r for r in logs[:2])
    gan = {"loss_d", "loss_g", "d_real", "d_wrong", "d_fake", "kl", "grad_norm_d", "grad_norm_g"}
    assert all(gan <= set(r) and "loss_contrastive" not in r for r in logs[2:])
    assert all(0 < r[k] < 1 for r in logs[2:] for k in ("d_real", "d_wrong", "d_fake"))  # ns: probabilities
    at_2, at_4 = weights(run, 2), weights(run)
    assert_tree_equal(at_2["E"], at_4["E"], "E")  # text.finetune=false: D's loss leaves E alone
    assert not torch.equal(at_2["G"]["model.1.weight"], at_4["G"]["model.1.weight"])
    assert not torch.equal(at_4["G"]["model.1.weight"], at_4["G_ema"]["model.1.weight"])  # the EMA lags
    ck = load_checkpoint(run, trainer_state=False)
    assert set(ck.meta["networks"]) == {"E", "G"}
    assert ck.meta["networks"]["G"]["class"] == "TextConditionedGenerator"
    assert ck.meta["tasks"]["sample_text"] == {"encoder": "E", "generator": "G", "vocabulary": VOCABULARY.to_json()}
    shown = png(run / "samples" / "step-00000004.png")  # 8 captions x 8 noises
    assert shown.shape == expected_png(torch.zeros(64, 1, SIZE, SIZE), 8, tmp_path).shape


@pytest.mark.parametrize("extra", [(), ("loss.name=hinge", "text.spectral_norm=true", "text.finetune=true",
                                        "text.diffaugment=translation,cutout", "text.ca=false",
                                        "text.match_weight=0.5", "text.hard_negatives=true",
                                        "text.g_fusion=true", "text.g_spatial=8", "text.g_attention=8")],
                         ids=["default", "hinge-sn-finetune-diffaugment-match"])
def test_resume_is_bit_exact_across_the_phase_boundary(mnist_dir, tmp_path, extra):
    """1 step, resumed to 3 (over the boundary at 2), resumed to 5 == 5 straight: weights, EMA, temperature,
    optimizers, data stream, RNG."""
    straight = train(mnist_dir, tmp_path / "a", *extra, steps=5)
    train(mnist_dir, tmp_path / "b", *extra, steps=1)
    train(mnist_dir, tmp_path / "b", steps=3, resume=True)
    resumed = train(mnist_dir, tmp_path / "b", steps=5, resume=True)
    a, b = load_checkpoint(straight), load_checkpoint(resumed)
    assert_tree_equal(a.weights, b.weights, "weights")
    assert_tree_equal(a.state, b.state, "state")
    assert {"G_ema", "joint", "E", "I", "G", "D"} <= set(a.weights)
    assert train_records(straight)[-1] == train_records(resumed)[-1]


def test_the_match_loss_trains_g_through_the_frozen_image_encoder(mnist_dir, tmp_path):
    plain, matched = (train(mnist_dir, tmp_path / name, *extra) for name, extra in
                      (("plain", ()), ("match", ("text.match_weight=1.0",))))
    logs = train_records(matched)
    assert "loss_match" not in logs[1] and all(r["loss_match"] > 0 for r in logs[2:])
    assert not any("loss_match" in r for r in train_records(plain))
    at_2, at_4 = weights(matched, 2), weights(matched)
    assert_tree_equal(at_2["I"], at_4["I"], "I")  # a fixed judge in phase 2
    assert torch.equal(weights(plain, 2)["G"]["model.1.weight"], at_2["G"]["model.1.weight"])  # pre-training alike
    assert not torch.equal(weights(plain)["G"]["model.1.weight"], at_4["G"]["model.1.weight"])  # G learns from it
    assert load_checkpoint(matched, trainer_state=False).meta["protocol"]["match_weight"] == 1.0


def test_hinge_spectral_norm_and_finetuning_compose(mnist_dir, tmp_path):
    run_dir = train(mnist_dir, tmp_path / "sn", "loss.name=hinge", "text.spectral_norm=true", "text.finetune=true",
                    "text.diffaugment=color,translation")
    logs = train_records(run_dir)[2:]
    assert all(np.isfinite(list(r.values())).all() for r in logs)
    assert any(r["d_real"] < 0 or r["d_real"] > 1 for r in logs)  # hinge: raw critic values, not probabilities
    at_2, at_4 = weights(run_dir, 2), weights(run_dir)
    assert any("parametrizations.weight.original" in k for k in at_4["D"])
    assert not any(k.endswith("running_mean") for k in at_4["D"])  # spectral norm instead of BatchNorm
    assert not torch.equal(at_2["E"]["proj.weight"], at_4["E"]["proj.weight"])  # E learns through D's loss
    assert load_checkpoint(run_dir, trainer_state=False).meta["protocol"]["loss"] == "hinge"


# ------------------------------------------------------------------ the matching-aware discriminator


def test_mismatched_captions_come_from_items_of_another_layout():
    tokens = torch.ones(4, 3, dtype=torch.long)
    assert mismatched({"tokens": tokens}).tolist() == [1, 2, 3, 0]  # other data: a roll by one
    layout = {"tokens": tokens, "digits": torch.tensor([[7, -1], [7, -1], [3, -1], [1, 2]]),
              "positions": torch.tensor([[0, -1], [0, -1], [0, -1], [0, 6]]), "relation": torch.tensor([-1, -1, -1, 1])}
    assert mismatched(layout).tolist() == [2, 2, 3, 0]  # items 0 and 1 show the same: 0 is paired with 2
    same = {**layout, "digits": torch.tensor([[7, -1]] * 4), "positions": torch.tensor([[0, -1]] * 4),
            "relation": torch.tensor([-1] * 4)}
    assert mismatched(same).tolist() == [1, 2, 3, 0]  # nothing else to take


class Recorder(nn.Module):
    """A D scoring mean(image) x sum(text), recording what it is shown."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))
        self.calls = []

    def forward(self, images, e, *more):
        scores = []
        for text in (e, *more):
            self.calls.append((images.detach().clone(), text.detach().clone()))
            scores.append(self.w * images.float().mean((1, 2, 3))[:, None] * text.sum(1, keepdim=True))
        return tuple(scores) if more else scores[0]


def tiny_method(*extra: str):
    cfg = load_config(overrides=[*TINY, *QUIET, *extra])
    spec = DataSpec("text-image", (1, SIZE, SIZE), name="captioned-mnist", info={"vocabulary": len(VOCABULARY)})
    return build_method(cfg, spec, "cpu")


def test_d_loss_is_real_plus_half_mismatched_plus_half_fake():
    torch.manual_seed(0)
    method, d = tiny_method(), Recorder()
    real, fake = torch.rand(6, 1, SIZE, SIZE) * 2 - 1, torch.rand(6, 1, SIZE, SIZE) * 2 - 1
    e = torch.randn(6, 8)
    wrong = torch.roll(e, -1, 0)
    loss, d_real, d_wrong, d_fake = method.matching_d_loss(d, real, fake, e, wrong)
    s_r, s_w, s_f = d(real, e), d(real, wrong), d(fake, e)
    sp = nn.functional.softplus
    expected = sp(-s_r).mean() + 0.5 * sp(s_w).mean() + 0.5 * sp(s_f).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss.item() != pytest.approx((sp(-s_r).mean() + sp(s_f).mean()).item(), rel=1e-3)  # not without it
    assert (d_real.item(), d_wrong.item(), d_fake.item()) == pytest.approx(
        (torch.sigmoid(s_r).mean().item(), torch.sigmoid(s_w).mean().item(), torch.sigmoid(s_f).mean().item()))


def test_the_train_step_shows_d_real_images_with_other_items_captions(mnist_dir):
    torch.manual_seed(0)
    method, d = tiny_method(), Recorder()
    method.networks["D"] = method.D = d
    batch = captioned_mnist(dir=str(mnist_dir), size=SIZE).batches(8, seed=0).next()
    batch["digits"][1], batch["positions"][1], batch["relation"][1] = (batch["digits"][0], batch["positions"][0],
                                                                       batch["relation"][0])
    logs = method.train_step(_Once(batch), step=2)  # the first GAN step
    assert {"d_real", "d_wrong", "d_fake"} <= set(logs)
    (x_r, e_r), (x_w, e_w), (x_f, e_f), (x_g, e_g), (x_i, e_int) = d.calls  # D: real, mismatched, fake; G: fake, INT
    wrong = mismatched(batch)
    assert wrong[0] != 1 and (wrong != torch.arange(8)).all()
    assert torch.equal(x_w, x_r) and torch.equal(x_r, batch["image"]) and torch.equal(e_w, e_r[wrong])
    assert torch.equal(e_f, e_r) and torch.equal(x_g, x_f) and torch.equal(e_g, e_r)
    assert x_i.shape == x_g.shape and not torch.equal(x_i, x_g)
    assert torch.allclose(e_int, 0.5 * (e_r + e_r[wrong]))  # GAN-INT: halfway to another caption


def test_hard_negatives_reach_d_on_every_other_item_and_the_match_loss(mnist_dir):
    torch.manual_seed(0)
    method, d = tiny_method("text.hard_negatives=true", "text.match_weight=1.0"), Recorder()
    method.networks["D"] = method.D = d
    batch = captioned_mnist(dir=str(mnist_dir), size=SIZE).batches(8, seed=0).next()
    seen = []
    method.match_loss = lambda fake, e, e_hard: seen.append(e_hard) or fake.sum() * 0
    logs = method.train_step(_Once(batch), step=2)
    (_, e_r), (_, e_w) = d.calls[:2]
    with torch.no_grad():
        e_hard = method.E(batch["hard_tokens"], batch["hard_length"])
    wrong = mismatched(batch)
    assert torch.equal(e_w[0::2], e_hard[0::2]) and torch.equal(e_w[1::2], e_r[wrong][1::2])
    assert torch.equal(seen[0], e_hard) and "loss_match" in logs
    assert method.protocol["hard_negatives"] is True
    plain = captioned_mnist(dir=str(mnist_dir), size=SIZE)  # data without contrast captions
    plain.items = lambda n: iter([{"tokens": batch["tokens"], "length": batch["length"]}])
    with pytest.raises(ConfigError, match="text.hard_negatives needs contrast captions"):
        method.attach(plain)


class _Once:
    def __init__(self, batch):
        self.batch = batch

    def next(self):
        return self.batch


# ------------------------------------------------------------------ the loaded model


def test_loaded_model_samples_prompts_without_the_data(run):
    model = gankit.load(run)
    assert isinstance(model, TextToImage) and model.vocabulary == VOCABULARY and model.step == 4
    assert_tree_equal(model.generator.state_dict(), weights(run)["G_ema"], "G")  # the EMA generator
    one = model.sample(3, PROMPTS[0], seed=1)
    assert one.shape == (3, 1, SIZE, SIZE) and one.min() >= -1 and one.max() <= 1
    assert torch.equal(one, model.sample(3, PROMPTS[0], seed=1))
    assert not torch.equal(one, model.sample(3, PROMPTS[0], seed=2))
    many = model.sample(3, PROMPTS, seed=1)  # prompt by prompt, the same noise for each
    assert many.shape == (9, 1, SIZE, SIZE) and torch.allclose(many[:3], one, atol=1e-6)
    assert not torch.allclose(many[3:6], one)  # the caption changes the image
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(model.sample(3, PROMPTS[0], z=z), one, atol=1e-6)
    path = model.interpolate(PROMPTS[0], PROMPTS[1], steps=5, seed=1)
    assert path.shape == (5, 1, SIZE, SIZE)
    assert torch.allclose(path[0], model.sample(1, PROMPTS[0], seed=1)[0], atol=1e-5)
    assert torch.allclose(path[-1], model.sample(1, PROMPTS[1], seed=1)[0], atol=1e-5)


def test_word_attention_trains_and_the_loaded_model_samples_and_interpolates_with_it(mnist_dir, tmp_path):
    run_dir = train(mnist_dir, tmp_path / "attn", "text.g_attention=8", "text.g_fusion=true")
    at_2, at_4 = weights(run_dir, 2), weights(run_dir)
    attn = [k for k in at_4["G"] if k.startswith("attends.") and k.endswith("out.weight")]
    assert len(attn) == 2 and all(not torch.equal(at_2["G"][k], at_4["G"][k]) for k in attn)  # G learns to attend
    model = gankit.load(run_dir)
    assert model.generator.config["attention"] == 8 and model.generator.config["word_dim"] == 16
    text = model.embed(PROMPTS)
    assert text.words.shape[:2] == text.bias.shape == (3, 6)  # the longest prompt, 6 words
    many = model.sample(2, PROMPTS, seed=1)
    assert torch.allclose(many[:2], model.sample(2, PROMPTS[0], seed=1), atol=1e-6)  # padding changes nothing
    path = model.interpolate(PROMPTS[0], PROMPTS[2], steps=4, seed=1)
    assert torch.allclose(path[0], many[0], atol=1e-5) and torch.allclose(path[-1], many[4], atol=1e-5)
    assert not torch.allclose(path[1], path[0]) and not torch.allclose(path[1], path[-1])


def test_loaded_model_refuses_bad_prompts_in_one_line(run):
    model = gankit.load(run)
    for text, error, words in (("a zebra at the top", DataError, "'zebra' (closest: 'zero')"),
                               ("  ,. ", DataError, "the prompt is empty"), ([], ConfigError, "non-empty list"),
                               (7, ConfigError, "a prompt (str)")):
        with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")) as err:
            model.sample(2, text)
        one_line(str(err.value))
    for bad in ({"z": torch.zeros(3, 4)}, {"z": torch.zeros(2, 5)}):
        with pytest.raises(ConfigError, match="z must be a tensor of shape"):
            model.sample(2, PROMPTS[0], **bad)
    with pytest.raises(ConfigError, match="steps >= 2"):
        model.interpolate(PROMPTS[0], PROMPTS[1], steps=1)


# ------------------------------------------------------------------ the CLI


def png(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def expected_png(images, nrow, tmp_path) -> np.ndarray:
    from gankit.monitor.images import save_grid

    return png(save_grid(images, tmp_path / "expected.png", nrow=nrow))


def test_sample_cli_draws_prompts_rows_and_interpolations(run, tmp_path, capsys):
    model = gankit.load(run)
    out = tmp_path / "one.png"
    assert main(["sample", str(run), "--text", PROMPTS[0], "-n", "4", "--seed", "3", "--out", str(out)]) == 0
    assert "wrote 4 samples of 'a 7 at the top left'" in capsys.readouterr().out
    assert np.array_equal(png(out), expected_png(model.sample(4, PROMPTS[0], seed=3), None, tmp_path))
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(f"{PROMPTS[0]}\n\n  {PROMPTS[1]}  \n{PROMPTS[2]}\n")
    out = tmp_path / "rows.png"
    assert main(["sample", str(run), "--text-file", str(prompts), "-n", "2", "--out", str(out)]) == 0
    grid = png(out)
    assert np.array_equal(grid, expected_png(model.sample(2, PROMPTS, seed=0), 2, tmp_path))
    assert grid.shape[0] / grid.shape[1] == pytest.approx(3 / 2, rel=0.05)  # 3 prompts x 2 samples
    out = tmp_path / "path.png"
    assert main(["sample", str(run), "--interpolate", PROMPTS[0], PROMPTS[2], "-n", "5", "--out", str(out)]) == 0
    assert np.array_equal(png(out), expected_png(model.interpolate(PROMPTS[0], PROMPTS[2], 5, seed=0), 5, tmp_path))
    assert main(["sample", str(run), "--text", PROMPTS[1], "-n", "3", "--out", f"{tmp_path / 'each'}/"]) == 0
    assert len(list((tmp_path / "each").glob("*.png"))) == 3


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    from conftest import tiny_config

    return api.train(tiny_config(tmp_path_factory.mktemp("gan") / "run", **{"train.steps": 1}))


def test_sample_cli_errors_are_one_line(run, gan_run, mnist_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "empty-cache"))
    out = tmp_path / "x.png"
    cases = [([str(gan_run), "--text", PROMPTS[0]], "not a text-to-image run"),
             ([str(run), "--text", ""], "the prompt is empty"),
             ([str(run), "--text", "zebra giraffe"], "unknown words in the prompt: 'zebra'"),
             ([str(run), "--text-file", str(tmp_path / "missing.txt")], "missing.txt' does not exist"),
             ([str(run)], "is a text-to-image run: say what to draw with --text"),
             ([str(run), "--text", PROMPTS[0], "--class", "3"], "--class and --class-grid are for"),
             ([str(run), "--interpolate", PROMPTS[0], "a 7 by the sea"], "'by' (")]
    (tmp_path / "blank.txt").write_text("\n  \n")
    cases.append(([str(run), "--text-file", str(tmp_path / "blank.txt")], "holds no prompts"))
    for args, words in cases:
        assert main(["sample", *args, "--out", str(out)]) == 2, args
        err = one_line(capsys.readouterr().err)
        assert words in err, (args, err)
        assert not out.exists()
    assert main(["eval", str(run), "--n", "4"]) == 2  # the run's data is gone
    assert "(gankit eval: pass --data-dir DIR)" in one_line(capsys.readouterr().err)
    assert main(["eval", str(run), "--n", "4", "--data-dir", str(mnist_dir)]) == 2  # no digit classifier cached
    assert "gankit classifier train" in one_line(capsys.readouterr().err)
    assert main(["translate", str(run), str(tmp_path), "--out", str(tmp_path / "t")]) == 2
    assert "use `gankit sample --text`" in one_line(capsys.readouterr().err)
    assert main(["sample", str(gan_run), "-n", "4", "--out", str(out)]) == 0  # a GAN run still samples as before


# ------------------------------------------------------------------ other data and bad configs


def test_captions_data_trains_and_samples_with_its_own_vocabulary(tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i, colour in enumerate(["red", "blue", "green", "red", "blue", "green"]):
        arr = np.zeros((SIZE, SIZE, 3), np.uint8)
        arr[..., ["red", "green", "blue"].index(colour)] = rng.integers(128, 256)
        Image.fromarray(arr).save(folder / f"{i}.png")
        lines.append(json.dumps({"file": f"{i}.png", "text": f"a {colour} square"}))
    (folder / "captions.jsonl").write_text("\n".join(lines))
    run_dir = api.train(None, overrides=[*TINY, *QUIET, "data.name=captions", f"data.dir={folder}",
                                         f"run.dir={tmp_path / 'run'}", "train.steps=3", "train.batch_size=4"])
    model = gankit.load(run_dir)
    assert model.vocabulary.words[2:] == ["a", "blue", "green", "red", "square"]
    assert model.sample(2, ["a red square", "a blue square"]).shape == (4, 3, SIZE, SIZE)
    with pytest.raises(DataError, match="'circle'"):
        model.sample(1, "a red circle")


@pytest.mark.parametrize("extra, words", [
    (["data.name=digits"], "method=text2image needs data.name=captioned-mnist or captions"),
    (["monitor.metrics=kid"], "metric 'kid' does not apply to text-to-image runs; choose from"),
    (["text.diffaugment=colour"], "did you mean 'color'"),
    (["train.batch_size=1"], "train.batch_size >= 2"),
    (["text.int_beta=1.5"], "text.int_beta"),
    (["loss.gp=10", "train.d_steps=5"], "does not support loss.gp, train.d_steps"),
])
def test_config_errors_are_one_line(mnist_dir, tmp_path, extra, words):
    with pytest.raises(Exception) as err:
        train(mnist_dir, tmp_path / "bad", *extra, steps=1)
    assert words in str(err.value) and "\n" not in str(err.value)
