"""Every preset resolves; every stabiliser preset trains a few steps and samples through the CLI."""
import numpy as np
import pytest
import torch

from gankit import cli
from gankit.config import list_presets, load_config
from gankit.generator import load_generator

NEW_PRESETS = ["mnist-wgan", "mnist-wgan-gp", "mnist-hinge-sn", "mnist-cgan",
               "grid-wgan-gp", "grid-minibatch", "grid-gman", "grid-pacgan", "ring-pacgan"]

QUIET = ["train.progress=none", "train.tensorboard=false", "train.steps=2", "train.log_every=1",
         "train.sample_every=2", "train.checkpoint_every=2"]
TINY_IMAGES = ["data.name=digits", "data.size=8", "model.z_dim=8", "model.g.width=8", "model.d.width=8",
               "train.batch_size=16"]
TINY_POINTS = ["data.n=256", "model.g.hidden=[16,16]", "model.d.hidden=[16,16]"]


def tiny_overrides(preset, run_dir):
    cfg = load_config(preset=preset)
    small = TINY_IMAGES if cfg.model.arch == "dcgan" else TINY_POINTS
    if cfg.model.arch == "mlp":  # keep the preset's batch unless it exceeds the tiny dataset
        small = small + [f"train.batch_size={min(cfg.train.batch_size, 64 - 64 % cfg.gan.pack)}"]
    return [f"run.dir={run_dir}", *QUIET, *small]


def test_every_preset_resolves_and_has_a_description():
    presets = list_presets()
    assert set(NEW_PRESETS) <= set(presets)
    for name, description in presets.items():
        cfg = load_config(preset=name)
        assert cfg.preset == name
        assert description and "\n" not in description, f"{name} needs a one-line description"


def test_presets_follow_their_papers():
    wgan = load_config(preset="mnist-wgan")
    assert (wgan.loss.name, wgan.loss.clip, wgan.optim.name, wgan.optim.d_lr, wgan.train.d_steps) == \
        ("wasserstein", 0.01, "rmsprop", 5e-5, 5)
    gp = load_config(preset="mnist-wgan-gp")
    assert (gp.loss.name, gp.loss.gp, gp.optim.d_lr, gp.optim.d_betas[1], gp.train.d_steps) == \
        ("wasserstein", 10.0, 1e-4, 0.9, 5)
    assert gp.model.d.norm in ("none", "layer")
    sn = load_config(preset="mnist-hinge-sn")
    assert (sn.loss.name, sn.model.d.spectral_norm, sn.optim.d_lr, sn.optim.g_lr) == ("hinge", True, 4e-4, 1e-4)
    assert load_config(preset="mnist-cgan").model.conditional
    assert load_config(preset="grid-minibatch").model.d.minibatch_disc > 0
    gman = load_config(preset="grid-gman")
    assert gman.gan.num_discriminators >= 2 and gman.gan.d_width_factors and gman.gan.d_dropouts
    assert 2 <= load_config(preset="grid-pacgan").gan.pack <= 4
    assert load_config(preset="grid-wgan-gp").loss.gp > 0
    for baseline in ("grid-gan", "ring-gan"):  # the vanilla baselines stay unstabilised
        cfg = load_config(preset=baseline)
        assert cfg.loss.name == "ns" and cfg.gan.pack == 1 and cfg.gan.num_discriminators == 1
        assert cfg.loss.gp == cfg.loss.r1 == 0 and not cfg.model.d.spectral_norm and cfg.model.d.minibatch_disc == 0


@pytest.mark.parametrize("preset", NEW_PRESETS)
def test_preset_trains_and_samples(tmp_path, preset, capsys):
    torch.manual_seed(0)
    run = tmp_path / "run"
    assert cli.main(["train", "--preset", preset, *tiny_overrides(preset, run)]) == 0
    gen = load_generator(run)
    assert gen.step == 2
    if gen.spec.kind == "points":
        out = tmp_path / "points.npy"
        assert cli.main(["sample", str(run), "-n", "10", "--out", str(out)]) == 0
        x = np.load(out)
        assert x.shape == (10, 2) and np.isfinite(x).all()
    else:
        out = tmp_path / "grid.png"
        args = ["--class-grid"] if gen.num_classes else []
        assert cli.main(["sample", str(run), "-n", "10", "--out", str(out), *args]) == 0
        assert out.stat().st_size > 100


def test_composed_options_train_and_sample_a_class(tmp_path):
    """WGAN-GP + spectral norm + EMA + conditional (projection D, CBN G) in one run."""
    torch.manual_seed(0)
    run = tmp_path / "run"
    composed = ["loss.name=wasserstein", "loss.gp=10", "model.d.spectral_norm=true", "model.d.norm=none",
                "gan.ema=0.9", "model.conditional=true", "model.d.cond=projection", "model.g.cond=cbn",
                "train.d_steps=2"]
    argv = ["train", "--preset", "mnist-wgan-gp", *tiny_overrides("mnist-wgan-gp", run), *composed]
    assert cli.main(argv) == 0
    gen = load_generator(run)
    assert gen.ema and gen.num_classes == 10
    out = tmp_path / "sevens.png"
    assert cli.main(["sample", str(run), "-n", "4", "--class", "7", "--out", str(out)]) == 0
    assert out.stat().st_size > 100
    a, b = gen.sample(4, y=7, seed=0), gen.sample(4, y=2, seed=0)
    assert a.shape == (4, 1, 8, 8) and not torch.equal(a, b)  # same z, another class: another image
