"""Video prediction through the real training path: exact resume (the sequence generator included), the losses
each option switches, in-training evaluation, `gankit.load(run).predict`, `gankit predict` and `gankit eval`."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit import api
from gankit.cli import main
from gankit.data.moving_mnist import moving_mnist
from gankit.errors import ConfigError
from gankit.generator import read_checkpoint
from gankit.methods.video import gradient_difference
from gankit.models import Predictor
from gankit.monitor.images import gif_bytes

from translation_fixtures import assert_tree_equal, train_records
from video_fixtures import CONVLSTM, GAN, train_video, video_overrides, write_mnist

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("mnist"))


@pytest.fixture(scope="module")
def simvp_run(mnist_dir, tmp_path_factory):
    return train_video(mnist_dir, tmp_path_factory.mktemp("runs") / "simvp", "monitor.eval_every=2",
                       "monitor.eval_n=8", steps=4)


def weights(run):
    return read_checkpoint(run)[0].weights


def test_training_logs_eval_and_describes_the_predictor(simvp_run):
    last = train_records(simvp_run)[-1]
    assert last["step"] == 4 and {"loss_g", "recon", "mse_frame", "grad_norm_g"} <= set(last)
    assert "loss_d" not in last and "gdl" not in last  # video.adv=0, video.gdl=0: no D, no GDL
    evals = [json.loads(line) for line in (simvp_run / "metrics.jsonl").read_text().splitlines() if "eval/" in line]
    assert [e["step"] for e in evals] == [2, 4] and {"eval/mse", "eval/ssim", "eval/sharpness"} <= set(evals[0])
    assert (simvp_run / "checkpoints" / "best").exists()
    ck, _, spec = read_checkpoint(simvp_run)
    assert ck.meta["tasks"] == {"predict": {"next": "G"}} and ck.meta["networks"]["G"]["class"] == "SimVP"
    assert "D" not in ck.weights and spec.info["frames_in"] == 3 and spec.info["frames_out"] == 2
    with Image.open(sorted((simvp_run / "samples").iterdir())[-1]) as im:  # 4 sequences x 3 rows, 3 columns
        assert im.height / im.width == pytest.approx(4, rel=0.05)


@pytest.mark.parametrize("base", [GAN, CONVLSTM], ids=["simvp-gan", "convlstm"])
def test_resume_is_bit_exact(mnist_dir, tmp_path, base):
    straight = train_video(mnist_dir, tmp_path / "a", steps=4, base=base)
    train_video(mnist_dir, tmp_path / "b", steps=2, base=base)
    resumed = api.train(None, resume=tmp_path / "b", overrides=["train.steps=4"])
    assert_tree_equal(weights(straight), weights(resumed), "weights")
    other = train_video(mnist_dir, tmp_path / "c", "seed=1", steps=4, base=base)
    assert not torch.equal(weights(other)["G"]["readout.weight"], weights(straight)["G"]["readout.weight"])


def test_the_adversarial_run_trains_d_and_the_gradient_difference_loss(mnist_dir, tmp_path):
    run = train_video(mnist_dir, tmp_path / "gan", "train.tensorboard=true", steps=2, base=GAN)
    assert any((run / "tensorboard").iterdir())  # the preview strip is logged as images
    last = train_records(run)[-1]
    assert {"loss_d", "d_real", "d_fake", "loss_g_gan", "gdl"} <= set(last)
    ck = read_checkpoint(run)[0]
    assert "D" in ck.weights and ck.meta["protocol"]["adv"] == 0.01


def test_gradient_difference_loss():
    x = torch.rand(2, 3, 1, 8, 8)
    assert gradient_difference(x, x).item() == 0
    assert gradient_difference(x + 0.5, x).item() == pytest.approx(0, abs=1e-6)  # a shift has the same edges
    flat = x.mean((-1, -2), keepdim=True).expand_as(x)
    assert gradient_difference(flat, x).item() > 0.1  # a blur loses them


def test_loaded_predictor_rolls_out_and_checks_its_input(simvp_run):
    model = gankit.load(simvp_run)
    assert isinstance(model, Predictor) and (model.frames_in, model.frames_out, model.size) == (3, 2, (32, 32))
    clip = torch.rand(5, 1, 32, 32) * 2 - 1
    two = model.predict(clip)
    assert two.shape == (2, 1, 32, 32) and two.min() >= -1 and two.max() <= 1
    seven = model.predict(clip, 7)
    assert seven.shape == (7, 1, 32, 32) and torch.allclose(seven[:2], two)
    assert torch.allclose(model.predict(clip[2:]), two)  # the last 3 frames are the context
    assert model.predict(torch.stack([clip, -clip]), 3).shape == (2, 3, 1, 32, 32)
    for bad, words in ((clip[:2], "at least 3 context frames"), (torch.zeros(4, 1, 28, 28), "trained on 32x32"),
                       (torch.zeros(4, 3, 32, 32), "with 3 channel"), (torch.zeros(32, 32), "predict takes")):
        with pytest.raises(ConfigError, match=words) as err:
            model.predict(bad)
        assert "\n" not in str(err.value)


def write_gif(path, frames):
    path.write_bytes(gif_bytes(frames))
    return path


def test_gifs_keep_identical_frames(tmp_path):
    """GIF writers merge identical consecutive frames (shown longer); reading counts them again."""
    from gankit.data.frames import read_clip

    frames = -torch.ones(6, 1, 8, 8)
    frames[1:, :, 2, 2] = 1  # frame 0, then frames 1-4 still, then frame 5
    frames[5, :, 3, 3] = 1
    with pytest.warns(UserWarning, match="4x longer than others"):
        clip = read_clip(write_gif(tmp_path / "still.gif", frames))
    assert clip.shape == (6, 1, 8, 8)
    assert torch.equal(clip, ((frames + 1) * 127.5).round().to(torch.uint8))


def test_predict_cli_turns_a_gif_of_10_frames_into_the_next_20(simvp_run, mnist_dir, tmp_path, capsys):
    sequence = next(iter(moving_mnist(dir=str(mnist_dir), split="test", size=32, n=1).items(1)))["frames"][0]
    gif = write_gif(tmp_path / "clip.gif", sequence[:10])
    out = tmp_path / "out" / "next.gif"
    assert main(["predict", str(simvp_run), str(gif), "--out", str(out), "--frames", "20"]) == 0
    assert "predicted 20 frames from 3 context frames" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.n_frames == 20 and im.size == (32, 32)
    with Image.open(out.with_suffix(".png")) as strip:
        assert strip.width > strip.height
    # with --context the rest of the clip is the truth, shown in the strip (3 rows instead of 2)
    assert main(["predict", str(simvp_run), str(gif), "--out", str(tmp_path / "t.gif"), "--context", "6"]) == 0
    assert "2 of them against the truth" in capsys.readouterr().out
    with Image.open(tmp_path / "t.png") as three, Image.open(out.with_suffix(".png")) as two:
        assert three.height > two.height


def test_predict_cli_bad_input_is_one_line(simvp_run, tmp_path, capsys):
    assert main(["predict", str(simvp_run), str(tmp_path), "--out", str(tmp_path / "f.gif"), "--fps", "0"]) == 2
    assert "--fps must be positive" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    np.save(tmp_path / "words.npy", np.array(["a", "b", "c"]))
    write_gif(tmp_path / "short.gif", torch.zeros(2, 1, 32, 32))
    write_gif(tmp_path / "big.gif", torch.linspace(-1, 1, 4).view(4, 1, 1, 1).expand(4, 1, 40, 40))
    colour = torch.zeros(4, 3, 32, 32)
    colour[:, 0] = 1
    write_gif(tmp_path / "colour.gif", colour)
    cases = {"empty": "holds no frames", "words.npy": "not numbers", "short.gif": "at least 3 context frames",
             "big.gif": "trained on 32x32", "colour.gif": "3-channel frames", "missing.gif": "does not exist"}
    for name, words in cases.items():
        out = tmp_path / f"out-{name}.gif"
        assert main(["predict", str(simvp_run), str(tmp_path / name), "--out", str(out)]) == 2, name
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, (name, err)
        assert not out.exists()
    assert main(["predict", str(simvp_run), str(tmp_path / "short.gif"), "--out", str(tmp_path / "x.png")]) == 2
    assert "must end in .gif" in capsys.readouterr().err


def test_other_verbs_refuse_a_video_run(simvp_run, tmp_path, capsys):
    assert main(["sample", str(simvp_run), "--out", str(tmp_path / "s.png")]) == 2
    assert "gankit predict" in capsys.readouterr().err
    assert main(["upscale", str(simvp_run), str(tmp_path), "--out", str(tmp_path / "u")]) == 2
    assert "use `gankit predict`" in capsys.readouterr().err


def test_eval_cli_scores_unclipped_like_the_in_training_evaluation(simvp_run, capsys):
    """`gankit eval` on the best checkpoint gives the in-training eval/mse of that step (both unclipped)."""
    best = simvp_run / "checkpoints" / "best"
    step = read_checkpoint(best)[0].step
    logged = [json.loads(line) for line in (simvp_run / "metrics.jsonl").read_text().splitlines() if "eval/" in line]
    want = next(e["eval/mse"] for e in logged if e["step"] == step)
    assert main(["eval", str(best), "--json", "--n", "8", "--metrics", "mse"]) == 0
    got = json.loads(capsys.readouterr().out.splitlines()[0])["values"]["value"]
    assert got == pytest.approx(want, rel=1e-4)


def test_eval_cli_scores_the_test_sequences(simvp_run, capsys):
    assert main(["eval", str(simvp_run), "--json", "--n", "6"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["metric"] for r in rows] == ["mse", "mae", "psnr", "ssim", "sharpness", "grad_ratio"]
    assert all(r["n"] == 6 and r["frames"] == "3->2" and len(r["horizon"]) == 2 for r in rows)
    assert rows[0]["recon"] == "l2" and 0 < rows[0]["values"]["value"] < 32 * 32


def test_config_errors_are_one_line(mnist_dir, tmp_path):
    for extra, words in ((["video.recon=0"], "video.recon and video.gdl are both 0"),
                         (["data.name=digits"], "method=video needs data.name=moving-mnist or frames"),
                         (["monitor.metrics=fid"], "does not apply to video-prediction runs")):
        with pytest.raises(Exception) as err:
            api.train(None, overrides=video_overrides(mnist_dir, tmp_path / "bad", "train.steps=1", *extra))
        assert words in str(err.value) and "\n" not in str(err.value)


def test_a_convlstm_run_predicts_past_its_horizon_with_its_own_roll_out(mnist_dir, tmp_path):
    model = gankit.load(train_video(mnist_dir, tmp_path / "lstm", steps=1, base=CONVLSTM))
    clip = torch.rand(4, 1, 32, 32) * 2 - 1
    five = model.predict(clip, 5)
    assert five.shape == (5, 1, 32, 32) and torch.allclose(five[:2], model.predict(clip), atol=1e-6)
    with torch.no_grad():  # one roll-out of 5 frames, not 3 restarts of the cells
        assert torch.allclose(five, model.net(clip[None, -3:], 5)[0].clamp(-1, 1), atol=1e-6)
