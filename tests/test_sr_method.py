"""SRResNet / SRGAN training, exact resume, init_from, `gankit.load(run).upscale`, `gankit upscale` and eval."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit import api
from gankit.cli import main
from gankit.errors import ConfigError
from gankit.generator import read_checkpoint
from gankit.models import Upscaler

from sr_fixtures import SRGAN, sr_overrides, train_sr, write_hr
from translation_fixtures import assert_tree_equal, train_records


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("srdata")
    write_hr(root / "train", sizes=[(40, 36), (37, 50), (44, 44), (33, 41), (48, 30), (36, 36)])
    write_hr(root / "test", sizes=[(28, 32), (24, 20)], seed=5, gray=[1], prefix="t")
    return root / "train", root / "test"


@pytest.fixture(scope="module")
def srresnet_run(data_dirs, tmp_path_factory):
    train, test = data_dirs
    run = tmp_path_factory.mktemp("runs") / "srresnet"
    return train_sr(train, run, "monitor.eval_every=2", steps=4, test_dir=test)


def weights(run):
    ck, _, _ = read_checkpoint(run)
    return ck.weights


def test_training_logs_eval_and_describes_the_upscaler(srresnet_run):
    recs = train_records(srresnet_run)
    assert recs[-1]["step"] == 4 and {"loss_g", "pixel", "psnr_batch", "grad_norm_g"} <= set(recs[-1])
    evals = [json.loads(line) for line in (srresnet_run / "metrics.jsonl").read_text().splitlines() if "eval/" in line]
    assert [e["step"] for e in evals] == [2, 4] and {"eval/psnr_y", "eval/ssim_y", "eval/psnr"} <= set(evals[0])
    assert (srresnet_run / "checkpoints" / "best").exists()
    ck, cfg, spec = read_checkpoint(srresnet_run)
    assert ck.meta["tasks"] == {"upscale": {"x4": "G"}} and ck.meta["networks"]["G"]["class"] == "SRResNet"
    assert "D" not in ck.weights and spec.info["scale"] == 4
    assert sorted(p.name for p in (srresnet_run / "samples").iterdir())[-1] == "step-00000004.png"


def test_loaded_upscaler_any_size_gray_and_alpha(srresnet_run):
    model = gankit.load(srresnet_run)
    assert isinstance(model, Upscaler) and model.scale == 4
    rgb = torch.rand(3, 7, 5) * 2 - 1
    out = model.upscale(rgb)
    assert tuple(out.shape) == (3, 28, 20) and out.min() >= -1 and out.max() <= 1
    assert tuple(model.upscale(torch.rand(1, 6, 9) * 2 - 1).shape) == (1, 24, 36)
    rgba = torch.cat([rgb, torch.linspace(-1, 1, 5).expand(1, 7, 5)])
    up = model.upscale(rgba)
    assert tuple(up.shape) == (4, 28, 20) and torch.allclose(up[:3], out, atol=1e-6)
    assert (up[3, :, 1:] >= up[3, :, :-1] - 1e-3).all()  # the alpha ramp stays a ramp
    batch = model.upscale(torch.stack([rgb, -rgb]))
    assert tuple(batch.shape) == (2, 3, 28, 20) and torch.allclose(batch[0], out, atol=1e-6)
    for bad in (torch.zeros(3, 1, 5), torch.zeros(3, 0, 4), torch.zeros(5, 5, 5)):
        with pytest.raises(ConfigError) as err:
            model.upscale(bad)
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="upscales x4, not x2"):
        model.upscale(rgb, scale=2)


def test_tiled_upscale_matches_the_whole_image(data_dirs, tmp_path):
    train, _ = data_dirs
    run = train_sr(train, tmp_path / "espcn", "sr.generator=espcn", "sr.width=8", steps=2)
    model = gankit.load(run)
    x = torch.rand(3, 50, 70) * 2 - 1
    whole = model.upscale(x, tile=512, overlap=16)
    tiled = model.upscale(x, tile=24, overlap=16)
    assert tuple(tiled.shape) == (3, 200, 280)
    assert (whole - tiled).abs().max() < 1e-5


def test_resume_is_bit_exact_with_the_discriminator(data_dirs, tmp_path):
    train, test = data_dirs
    straight = api.train(None, overrides=sr_overrides(train, tmp_path / "a", "train.steps=4", base=SRGAN))
    api.train(None, overrides=sr_overrides(train, tmp_path / "b", "train.steps=2", base=SRGAN))
    resumed = api.train(None, resume=tmp_path / "b", overrides=["train.steps=4"])
    assert_tree_equal(weights(straight), weights(resumed), "weights")
    ck = read_checkpoint(straight)[0]
    assert {"G", "D"} <= set(ck.weights) and ck.meta["networks"]["G"]["class"] == "SRResNet"
    assert "loss_d" in train_records(straight)[-1] and "loss_g_gan" in train_records(straight)[-1]


def test_init_from_starts_g_from_another_run(srresnet_run, data_dirs, tmp_path, capsys):
    train, _ = data_dirs
    run = api.train(None, overrides=sr_overrides(train, tmp_path / "gan", "train.steps=1", "sr.adversarial=0.001",
                                                 "optim.g_lr=0", f"sr.init_from={srresnet_run}", "sr.d_width=4"))
    assert "G initialised from" in capsys.readouterr().err
    assert_tree_equal({k: v for k, v in weights(run)["G"].items() if "running" not in k and "tracked" not in k},
                      {k: v for k, v in weights(srresnet_run)["G"].items() if "running" not in k and "tracked" not in k})
    with pytest.raises(ConfigError) as err:
        api.train(None, overrides=sr_overrides(train, tmp_path / "bad", "train.steps=1", "sr.width=4",
                                               f"sr.init_from={srresnet_run}"))
    assert "use the same sr.generator" in str(err.value) and "\n" not in str(err.value)


def test_content_loss_needs_a_local_file(data_dirs, tmp_path):
    train, _ = data_dirs
    with pytest.raises(ConfigError) as err:
        api.train(None, overrides=sr_overrides(train, tmp_path / "c", "train.steps=1", "sr.content=0.006",
                                               f"sr.vgg_weights={tmp_path / 'missing.pth'}"))
    assert "never downloads" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="sr.pixel and sr.content are both 0"):
        api.train(None, overrides=sr_overrides(train, tmp_path / "d", "train.steps=1", "sr.pixel=0"))


def _tiny_content(monkeypatch, seen=None):
    """Replace the content network by a stride-2 conv that records its inputs in `seen`."""
    from gankit.methods import content

    class Recording(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, stride=2)

        def forward(self, x):
            if seen is not None:
                seen.append(x.detach().clone())
            return torch.relu(self.conv(x))

    def tiny(vgg, inception):
        torch.manual_seed(3)
        return content.ContentNetwork(Recording(), (0.5,) * 3, (0.5,) * 3, {"content": "tiny"}, stride=2)

    monkeypatch.setattr(content, "content_network", tiny)


@pytest.mark.parametrize("shift", [True, False])
def test_content_loss_trains_through_a_feature_network(data_dirs, tmp_path, monkeypatch, shift):
    seen = []
    _tiny_content(monkeypatch, seen)
    train, _ = data_dirs
    run = api.train(None, overrides=sr_overrides(train, tmp_path / "c", "train.steps=2", "sr.content=1",
                                                 "sr.pixel=0", f"sr.content_shift={str(shift).lower()}"))
    last = train_records(run)[-1]
    assert last["loss_content"] > 0 and abs(last["loss_g"] - last["loss_content"]) < 1e-5
    ck = read_checkpoint(run)[0]
    side = int(ck.meta["config"]["data"]["crop"]) - (1 if shift else 0)  # shifted: cropped by stride - 1 = 1 px
    # each step: HR then SR
    assert len(seen) == 4 and {tuple(x.shape[-2:]) for x in seen} == {(side, side)}
    assert ck.meta["protocol"]["content_shift"] == (2 if shift else 0)


@pytest.mark.parametrize("helper", ["shifted_crops", "rolled_together"])
def test_shift_helpers_move_both_images_by_one_offset_covering_every_phase(helper):
    from gankit.methods import content

    move = getattr(content, helper)
    a = torch.arange(2 * 3 * 12 * 10, dtype=torch.float32).view(2, 3, 12, 10)
    expected = {"shifted_crops": lambda dy, dx: a[..., dy:dy + 9, dx:dx + 7],
                "rolled_together": lambda dy, dx: a.roll((dy, dx), (-2, -1))}[helper]
    phases = [(dy, dx) for dy in range(4) for dx in range(4)]
    torch.manual_seed(0)
    offsets = set()
    for _ in range(200):
        ma, mb = move(a, a + 1, 4)
        assert torch.equal(mb, ma + 1)
        offsets.add(next(p for p in phases if expected(*p).shape == ma.shape and torch.equal(ma, expected(*p))))
    assert offsets == set(phases)
    same = move(a, a, 1)
    assert same[0] is a and same[1] is a


@pytest.mark.parametrize("shift", [True, False])
def test_discriminator_sees_rolled_crops_and_the_protocol_says_so(data_dirs, tmp_path, monkeypatch, shift):
    from gankit.methods import content, sr as sr_method

    periods = []

    def recording(a, b, period):
        periods.append(period)
        return content.rolled_together(a, b, period)

    monkeypatch.setattr(sr_method, "rolled_together", recording)
    train, _ = data_dirs
    run = api.train(None, overrides=sr_overrides(train, tmp_path / "d", "train.steps=2",
                                                 f"sr.d_shift={str(shift).lower()}", base=SRGAN))
    ck = read_checkpoint(run)[0]
    scale = int(ck.meta["config"]["data"]["scale"])
    assert periods == [scale if shift else 1] * 2  # once per step, for D's step and G's adversarial term
    assert ck.meta["protocol"]["d_shift"] == (scale if shift else 0)


def test_resume_is_bit_exact_with_the_shifted_content_loss(data_dirs, tmp_path, monkeypatch):
    _tiny_content(monkeypatch)
    train, _ = data_dirs
    extra = ["sr.content=1", "sr.pixel=0.01"]
    straight = api.train(None, overrides=sr_overrides(train, tmp_path / "a", "train.steps=4", *extra, base=SRGAN))
    api.train(None, overrides=sr_overrides(train, tmp_path / "b", "train.steps=2", *extra, base=SRGAN))
    resumed = api.train(None, resume=tmp_path / "b", overrides=["train.steps=4"])
    assert_tree_equal(weights(straight), weights(resumed), "weights")


def _png(path, arr):
    Image.fromarray(arr).save(path)
    return path


def test_upscale_cli_folders_gray_alpha_and_bad_input(srresnet_run, tmp_path, capsys):
    rng = np.random.default_rng(0)
    inp = tmp_path / "in"
    (inp / "sub").mkdir(parents=True)
    _png(inp / "rgb.png", rng.integers(0, 256, (9, 11, 3), dtype=np.uint8))
    _png(inp / "sub" / "gray.png", rng.integers(0, 256, (6, 5), dtype=np.uint8))
    _png(inp / "alpha.png", rng.integers(0, 256, (5, 8, 4), dtype=np.uint8))
    out = tmp_path / "out"
    assert main(["upscale", str(srresnet_run), str(inp), "--out", str(out), "--quiet"]) == 0
    assert "upscaled 3 image(s) x4" in capsys.readouterr().out
    with Image.open(out / "rgb.png") as im:
        assert im.size == (44, 36) and im.mode == "RGB"
    with Image.open(out / "sub" / "gray.png") as im:
        assert im.size == (20, 24) and im.mode == "L"
    with Image.open(out / "alpha.png") as im:
        assert im.size == (32, 20) and im.mode == "RGBA"
    (tmp_path / "note.png").write_text("not an image")
    _png(tmp_path / "one.png", np.zeros((1, 7, 3), dtype=np.uint8))
    for args, words in ((["note.png"], "cannot read image"), (["one.png"], "at least 2x2"),
                        (["rgb2.png", "--scale", "2"], "upscales x4, not x2")):
        fresh = tmp_path / f"out-{words[:5]}"
        if args[0] == "rgb2.png":
            args[0] = str(inp / "rgb.png")
        else:
            args[0] = str(tmp_path / args[0])
        assert main(["upscale", str(srresnet_run), *args, "--out", str(fresh), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert not fresh.exists() or not any(fresh.rglob("*.png"))


def test_other_families_are_refused_by_the_verbs(srresnet_run, tmp_path, capsys):
    assert main(["sample", str(srresnet_run), "--out", str(tmp_path / "s.png")]) == 2
    assert "gankit upscale" in capsys.readouterr().err
    assert main(["translate", str(srresnet_run), str(tmp_path), "--out", str(tmp_path / "t")]) == 2
    assert "use `gankit upscale`" in capsys.readouterr().err


def test_eval_cli_scores_the_test_images(srresnet_run, capsys):
    assert main(["eval", str(srresnet_run), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["metric"] for r in rows] == ["psnr_y", "ssim_y", "psnr", "ssim"]
    assert all(r["n"] == 2 and r["border"] == 4 and r["scale"] == 4 for r in rows)
    assert rows[0]["pixel_loss"] == "mse" and rows[0]["content"] == "none"  # the run's loss protocol
    assert 5 < rows[0]["values"]["value"] < 60


def test_config_mistakes_fail_before_loading(data_dirs, tmp_path):
    train, _ = data_dirs
    with pytest.raises(ConfigError) as err:
        api.train(None, overrides=sr_overrides(train, tmp_path / "x", "train.steps=1", "data.crop=20", base=SRGAN))
    assert "data.crop=20 must be a multiple of 16" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError) as err:
        api.train(None, overrides=[f"data.dir={train}", "data.name=sr", "data.crop=16", f"run.dir={tmp_path / 'g'}",
                                   "train.steps=1", "train.progress=none"])
    assert "method=gan needs images or points, not sr data" in str(err.value) and "use method=sr" in str(err.value)


def test_gray_alpha_stays_gray(srresnet_run):
    model = gankit.load(srresnet_run)
    la = torch.stack([torch.rand(6, 7) * 2 - 1, torch.ones(6, 7)])
    up = model.upscale(la)
    assert tuple(up.shape) == (2, 24, 28) and torch.allclose(up[1], torch.ones(24, 28), atol=1e-6)
    assert torch.allclose(up[:1], model.upscale(la[:1]), atol=1e-6)
