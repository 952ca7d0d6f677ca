"""pix2pix and CycleGAN through the real training path: exact resume, the losses each option switches,
the image pool, loading a run as a model, the networks' self-description and the in-training evaluation.
Tiny generated PNGs, CPU, a few steps each."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

import gankit
from gankit import api
from gankit.checkpoint import load_checkpoint
from gankit.cli import main
from gankit.config import load_config
from gankit.errors import ConfigError
from gankit.generator import LoadedGenerator
from gankit.methods import DataSpec, build_method
from gankit.methods.pool import ImagePool
from gankit.models import Translator
from gankit.nn.translation import build_from_spec

from translation_fixtures import (assert_tree_equal, mean_abs_difference, overrides, records, save_png, small_runs,
                                  train, train_records, write_pairs)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("pairs") / "data")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, pairs):
    """Small finished runs shared by the loading tests (2 steps each)."""
    return small_runs(tmp_path_factory.mktemp("runs"), pairs, btoa=True)


def image(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) * 2 - 1


def first_conv_in(weights: dict) -> int:
    """in_channels of a network's first conv in its saved weights."""
    convs = [v for k, v in weights.items() if k.endswith("weight") and v.ndim == 4]
    return convs[0].shape[1]


# ---------------------------------------------------------------- 1. exact resume

def assert_same_run(full, resumed, steps):
    a, b = load_checkpoint(full), load_checkpoint(resumed)
    assert a.step == b.step == steps
    assert_tree_equal(a.weights, b.weights, "weights")
    assert_tree_equal(a.state["optimizers"], b.state["optimizers"], "optimizers")
    assert_tree_equal(a.state["method"], b.state["method"], "method state")
    assert_tree_equal(a.state, b.state, "state")  # also RNG, data order and jitter, previews
    assert records(full) == records(resumed)
    assert [r["step"] for r in records(full)] == list(range(1, steps + 1))
    return a, b


def test_pix2pix_resume_is_bit_exact(tmp_path, pairs):
    full = train("pix2pix", pairs, tmp_path / "full", steps=4)
    half = train("pix2pix", pairs, tmp_path / "half", steps=2)
    resumed = api.train(resume=half, overrides=["train.steps=4"])
    ck, _ = assert_same_run(full, resumed, 4)
    assert set(ck.weights) == {"G", "D"} and set(ck.state["optimizers"]) == {"G", "D"}
    # the resumed half really was a 2-step run
    assert len(list((tmp_path / "half" / "configs").glob("step-*.yaml"))) == 2


def test_cyclegan_resume_is_bit_exact_with_a_full_pool(tmp_path, pairs):
    # pool of 3 and batch 1: full after 3 steps, so the resumed steps 4-6 draw random swaps
    base = overrides("cyclegan", pairs, tmp_path / "full")
    assert main(["train", *base, "train.steps=6"]) == 0
    half = tmp_path / "half"
    assert main(["train", *overrides("cyclegan", pairs, half), "train.steps=3"]) == 0
    assert load_checkpoint(half).step == 3
    assert len(load_checkpoint(half).state["method"]["pools"]["A"]["images"]) == 3  # full at the resume
    assert main(["train", "--resume", str(half), "train.steps=6"]) == 0
    ck, _ = assert_same_run(tmp_path / "full", half, 6)
    assert set(ck.weights) == {"G_AB", "G_BA", "D_A", "D_B"}
    pools = ck.state["method"]["pools"]
    assert set(pools) == {"A", "B"}
    for name, seed in (("A", 1), ("B", 2)):  # cfg.seed * 2 + 1, + 2
        assert tuple(pools[name]["images"].shape) == (3, 3, 32, 32)
        fresh = ImagePool(3, seed=seed).generator.get_state()
        assert not torch.equal(pools[name]["generator"], fresh), f"pool {name}'s RNG never drew"


# ---------------------------------------------------------------- 2. pix2pix losses and D

@pytest.mark.parametrize("l1", [100.0, 7.0])
def test_pix2pix_l1_only_trains_no_discriminator(tmp_path, pairs, l1):
    extra = ["pix2pix.lambda_gan=0"] + ([] if l1 == 100.0 else [f"pix2pix.l1={l1}"])
    run = train("pix2pix", pairs, tmp_path / "run", *extra, steps=2)
    ck = load_checkpoint(run)
    assert set(ck.weights) == {"G"}
    assert set(ck.state["optimizers"]) == {"G"}
    assert set(ck.meta["networks"]) == {"G"}
    recs = records(run)
    assert len(recs) == 2
    for r in recs:
        assert not {"loss_d", "d_real", "d_fake", "loss_g_gan", "grad_norm_d"} & set(r)
        assert r["l1"] > 0
        assert r["loss_g"] == pytest.approx(l1 * r["l1"], rel=1e-5)


def test_pix2pix_discriminator_judges_pairs(tmp_path):
    """Gray sources (A/), RGB targets (B/): G maps 1 -> 3 channels and D takes the 4-channel pair."""
    rng = np.random.default_rng(3)
    data = tmp_path / "data"
    for k in range(6):
        a = rng.integers(0, 256, (32, 32), dtype=np.uint8)
        save_png(data / "A" / f"{k}.png", a)
        save_png(data / "B" / f"{k}.png", np.stack([a, 255 - a, a // 2], axis=-1))
    run = train("pix2pix", data, tmp_path / "run", "pix2pix.l1=7", "pix2pix.lambda_gan=0.5", steps=2)
    ck = load_checkpoint(run)
    assert set(ck.weights) == {"G", "D"} and set(ck.state["optimizers"]) == {"G", "D"}
    g = ck.meta["networks"]["G"]["config"]
    assert (g["in_channels"], g["out_channels"]) == (1, 3)
    assert first_conv_in(ck.weights["D"]) == 1 + 3
    for r in records(run):
        assert {"loss_d", "d_real", "d_fake", "loss_g_gan"} <= set(r)
        assert r["loss_g"] == pytest.approx(7 * r["l1"] + 0.5 * r["loss_g_gan"], rel=1e-5)


def test_pix2pix_discriminator_of_rgb_pairs_takes_six_channels(runs):
    ck = load_checkpoint(runs["pix2pix"])
    assert first_conv_in(ck.weights["D"]) == 6
    assert first_conv_in(ck.weights["G"]) == 3


# ---------------------------------------------------------------- 3. CycleGAN losses, loss resolution

@pytest.mark.parametrize("method, name, resolved", [("cyclegan", "auto", "lsgan"), ("pix2pix", "auto", "ns"),
                                                    ("cyclegan", "hinge", "hinge"), ("pix2pix", "lsgan", "lsgan")])
def test_auto_loss_is_the_methods_own(tmp_path, pairs, method, name, resolved):
    cfg = load_config(overrides=overrides(method, pairs, tmp_path / "run", f"loss.name={name}"))
    spec = DataSpec.from_dataset(api.dataset_for(cfg))
    assert build_method(cfg, spec, torch.device("cpu")).loss_name == resolved


@pytest.mark.parametrize("identity", [0.0, 0.5])
def test_cyclegan_identity_loss(tmp_path, pairs, identity):
    run = train("cyclegan", pairs, tmp_path / "run", f"cycle.identity={identity}", steps=2)
    for r in records(run):
        assert {"loss_g_ab", "loss_g_ba", "cycle_a", "cycle_b", "loss_d_a", "loss_d_b"} <= set(r)
        expected = r["loss_g_ab"] + r["loss_g_ba"] + 10 * (r["cycle_a"] + r["cycle_b"])
        if identity:
            assert {"identity_a", "identity_b"} <= set(r)
            expected += identity * 10 * (r["identity_a"] + r["identity_b"])
        else:
            assert not {"identity_a", "identity_b"} & set(r)
        assert r["loss_g"] == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------- 3. the image pool

def const(*values):
    """One 1x2x2 image per value, filled with it: outputs identify which image they are."""
    return torch.stack([torch.full((1, 2, 2), float(v)) for v in values])


def ids(batch):
    return [float(x[0, 0, 0]) for x in batch]


def test_pool_fills_up_returning_its_inputs():
    pool = ImagePool(3, seed=0)
    assert len(pool) == 0
    first = const(0, 1)
    assert torch.equal(pool.query(first), first) and len(pool) == 2
    assert ids(pool.query(const(2))) == [2.0] and len(pool) == 3
    assert sorted(ids(pool.images)) == [0.0, 1.0, 2.0]


def test_full_pool_returns_a_mix_of_stored_and_new_images():
    pool = ImagePool(3, seed=0)
    pool.query(const(0, 1, 2))
    new_returned = old_returned = 0
    for v in range(10, 40):
        before = sorted(ids(pool.images))
        out = ids(pool.query(const(v)))
        after = sorted(ids(pool.images))
        assert len(out) == 1 and len(pool) == 3
        assert sorted(before + [v]) == sorted(after + out)  # nothing lost, nothing invented
        if out == [v]:
            new_returned += 1
            assert after == before
        else:
            old_returned += 1
            assert out[0] in before and v in after
    assert new_returned > 0 and old_returned > 0
    # a batch query past the fill: each item on its own
    out = ids(pool.query(const(100, 101, 102, 103)))
    assert len(out) == 4 and len(pool) == 3


def test_pool_of_size_zero_passes_fakes_through():
    pool = ImagePool(0, seed=0)
    fakes = const(1, 2, 3)
    for _ in range(3):
        assert torch.equal(pool.query(fakes), fakes)
    assert len(pool) == 0


def run_queries(pool, start, k):
    return [pool.query(const(start + i, start + i + 0.5)) for i in range(k)]


def test_pool_state_dict_continues_the_same_sequence():
    a = ImagePool(3, seed=5)
    run_queries(a, 0, 4)
    b = ImagePool(3, seed=77)  # another seed: everything must come from the state
    b.load_state_dict(copy.deepcopy(a.state_dict()), "cpu")
    outs_a, outs_b = run_queries(a, 50, 12), run_queries(b, 50, 12)
    for x, y in zip(outs_a, outs_b):
        assert torch.equal(x, y)
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.generator.get_state(), b.generator.get_state())


def test_pool_loaded_from_a_state_dict_does_not_share_its_images():
    """load_state_dict takes a copy, as torch's modules and optimizers do: the original pool going on
    must not change what the loaded one holds (it would replay a different sequence)."""
    a = ImagePool(3, seed=5)
    run_queries(a, 0, 4)
    b = ImagePool(3, seed=0)
    b.load_state_dict(a.state_dict(), "cpu")
    held = b.images.clone()
    outs_a = run_queries(a, 50, 12)
    assert torch.equal(b.images, held), "the loaded pool's images changed when the original pool was queried"
    outs_b = run_queries(b, 50, 12)
    for x, y in zip(outs_a, outs_b):
        assert torch.equal(x, y)


# ---------------------------------------------------------------- 4. loading and translating

def test_load_gives_the_model_of_each_kind(runs):
    for name in ("pix2pix", "cyclegan", "cyclegan_btoa"):
        model = gankit.load(runs[name])
        assert isinstance(model, Translator), name
        assert model.step == 2 and not model.training
    assert isinstance(gankit.load(runs["gan"]), LoadedGenerator)
    assert gankit.load(runs["gan"]).sample(3, seed=0).shape == (3, 1, 8, 8)


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan"])
def test_translate_keeps_sizes_and_channels(runs, name):
    model = gankit.load(runs[name])
    y = model.translate(image(3, 37, 53))
    assert y.shape == (3, 37, 53) and torch.isfinite(y).all() and y.abs().max() <= 1
    assert torch.equal(model.translate(image(3, 37, 53)), y)  # eval mode: deterministic (no dropout)
    gray = model.translate(image(1, 40, 40, seed=1))
    assert gray.shape == (1, 40, 40) and torch.isfinite(gray).all()
    batch = model.translate(image(2, 3, 20, 24))
    assert batch.shape == (2, 3, 20, 24)
    items = [image(3, 33, 17, seed=2), image(1, 64, 64, seed=3), image(3, 9, 40, seed=4)]
    outs = model.translate(items)
    assert isinstance(outs, list) and [tuple(o.shape) for o in outs] == [tuple(x.shape) for x in items]


@pytest.mark.parametrize("name, tile", [("cyclegan", 32), ("pix2pix", 64)])  # the U-Net's multiple is 32
def test_tiled_translation(runs, name, tile):
    model = gankit.load(runs[name])
    x = image(3, 100, 70, seed=5)
    whole = model.translate(x)
    tiled = model.translate(x, tile=tile, overlap=8)
    assert whole.shape == tiled.shape == (3, 100, 70)
    assert torch.isfinite(tiled).all() and tiled.abs().max() <= 1
    assert torch.equal(model.translate(x, tile=512, overlap=64), whole)


@pytest.mark.parametrize("shape", [(3, 3, 3), (3, 8, 2), (1, 1, 1)])
def test_cyclegan_translates_images_smaller_than_its_network_minimum(runs, shape):
    """Translator.translate takes any H x W >= 1x1; the ResNet needs >= 8 px after padding, which
    translate must provide (as it pads to the network's multiple)."""
    y = gankit.load(runs["cyclegan"]).translate(image(*shape))
    assert y.shape == shape and torch.isfinite(y).all()


def test_translate_in_a_direction_the_model_lacks(runs):
    model = gankit.load(runs["pix2pix"])
    assert model.directions == ["AtoB"] and model.default == "AtoB"
    with pytest.raises(ConfigError, match="AtoB"):
        model.translate(image(3, 16, 16), "BtoA")
    with pytest.raises(ConfigError):
        model.translate("not an image")


def test_cyclegan_directions_follow_data_direction(runs):
    for name, forward in (("cyclegan", "AtoB"), ("cyclegan_btoa", "BtoA")):
        model = gankit.load(runs[name])
        ck = load_checkpoint(runs[name])
        back = "BtoA" if forward == "AtoB" else "AtoB"
        assert sorted(model.directions) == ["AtoB", "BtoA"] and model.default == forward
        assert ck.meta["tasks"]["translate"] == {forward: "G_AB", back: "G_BA"}
        assert_tree_equal(dict(model.generators[forward].state_dict()), ck.weights["G_AB"], f"{forward} net")
        assert_tree_equal(dict(model.generators[back].state_dict()), ck.weights["G_BA"], f"{back} net")
        x = image(3, 24, 24)
        assert not torch.equal(model.translate(x, "AtoB"), model.translate(x, "BtoA"))
        assert torch.equal(model.translate(x), model.translate(x, forward))


# ---------------------------------------------------------------- 5. networks described in the checkpoint

@pytest.mark.parametrize("name, generators, cls", [("pix2pix", {"G"}, "UNetGenerator"),
                                                   ("cyclegan", {"G_AB", "G_BA"}, "ResNetGenerator")])
def test_checkpoint_describes_its_generators(runs, name, generators, cls):
    ck = load_checkpoint(runs[name])
    specs = ck.meta["networks"]
    assert set(specs) == generators
    for net_name, spec in specs.items():
        assert spec["class"] == cls and isinstance(spec["config"], dict)
        assert spec["config"]["width"] == 4 and spec["config"]["in_channels"] == 3
        net = build_from_spec(spec)
        rebuilt = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        saved = {k: tuple(v.shape) for k, v in ck.weights[net_name].items()}
        assert rebuilt == saved
        net.load_state_dict(ck.weights[net_name])  # strict


# ---------------------------------------------------------------- 9. in-training evaluation

@pytest.fixture(scope="module")
def split_pairs(tmp_path_factory):
    root = tmp_path_factory.mktemp("split") / "data"
    write_pairs(root / "train", n=8, seed=0)
    write_pairs(root / "test", n=4, seed=1)
    return root


def eval_records(run):
    return [r for r in records(run) if any(k.startswith("eval/") for k in r)]


def best_step(recs, key, lower):
    """The step checkpoints/best should hold: the first strictly best value of `key`."""
    best = None
    for r in recs:
        v = r[key]
        if best is None or (v < best[1] if lower else v > best[1]):
            best = (r["step"], v)
    return best[0]


def test_pix2pix_in_training_evaluation(tmp_path, split_pairs):
    run = train("pix2pix", split_pairs, tmp_path / "run", "monitor.eval_every=2", "monitor.eval_n=4", steps=4)
    evals = eval_records(run)
    assert [r["step"] for r in evals] == [2, 4]
    for r in evals:
        assert {"eval/l1", "eval/psnr", "eval/ssim"} <= set(r)
        assert all(math.isfinite(r[k]) for k in ("eval/l1", "eval/psnr", "eval/ssim"))
        assert 0 < r["eval/l1"] <= 2
    assert [r["step"] for r in train_records(run)] == [1, 2, 3, 4]
    best = load_checkpoint(run / "checkpoints" / "best")
    assert best.step == best_step(evals, "eval/l1", lower=True)


def test_pix2pix_in_training_evaluation_with_chosen_metrics(tmp_path, split_pairs):
    run = train("pix2pix", split_pairs, tmp_path / "run", "monitor.eval_every=1", "monitor.eval_n=4",
                "monitor.metrics=psnr,ssim", steps=3)
    evals = eval_records(run)
    assert [r["step"] for r in evals] == [1, 2, 3]
    assert all({"eval/psnr", "eval/ssim"} <= set(r) and "eval/l1" not in r for r in evals)
    assert load_checkpoint(run / "checkpoints" / "best").step == best_step(evals, "eval/psnr", lower=False)


def test_cyclegan_in_training_evaluation(tmp_path, split_pairs):
    run = train("cyclegan", split_pairs, tmp_path / "run", "monitor.eval_every=1", "monitor.eval_n=4", steps=4)
    evals = eval_records(run)
    assert [r["step"] for r in evals] == [1, 2, 3, 4]
    for r in evals:
        assert {"eval/cycle_psnr", "eval/cycle_psnr_AtoB", "eval/cycle_psnr_BtoA"} <= set(r)
        assert r["eval/cycle_psnr"] == pytest.approx((r["eval/cycle_psnr_AtoB"] + r["eval/cycle_psnr_BtoA"]) / 2)
        assert not {"eval/l1", "eval/psnr"} & set(r)
    assert len({r["eval/cycle_psnr"] for r in evals}) > 1
    # PSNR: higher is better
    assert load_checkpoint(run / "checkpoints" / "best").step == best_step(evals, "eval/cycle_psnr", lower=False)


def test_cyclegan_with_batches_of_one_trains_the_same_with_or_without_channels_last(tmp_path, pairs):
    """Channels-last weights break the CPU backward into InstanceNorm at batch size 1 (torch 2.14), so
    `place` keeps InstanceNorm networks contiguous: both memory formats must give the same weights."""
    def weights(name, *extra):
        return load_checkpoint(train("cyclegan", pairs, tmp_path / name, "cycle.pool=0", "train.batch_size=1",
                                     *extra, steps=3)).weights
    # Adam turns the round-off of a near-zero gradient (a bias before InstanceNorm) into +-lr, so compare the
    # mean difference: 1e-6 here, 3.5e-4 with channels-last weights
    assert mean_abs_difference(weights("cl"), weights("contiguous", "train.channels_last=false")) < 1e-5
