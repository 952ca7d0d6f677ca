"""Every preset resolves; every stabiliser preset trains a few steps with its stabilisers really active
(seen in the logs, the live networks and optimizers, and the checkpoint) and samples through the CLI."""
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

import gankit.api
from gankit import cli
from gankit.checkpoint import load_checkpoint
from gankit.checks import check_names
from gankit.config import list_presets, load_config
from gankit.generator import load_generator
from gankit.nn.layers import MinibatchDiscrimination

NEW_PRESETS = ["mnist-wgan", "mnist-wgan-gp", "mnist-hinge-sn", "mnist-cgan",
               "grid-wgan-gp", "grid-minibatch", "grid-gman", "grid-pacgan", "grid-best", "ring-pacgan", "mnist-best"]

# What each preset must switch on; every stabiliser not listed must be off (checked too).
STABILISERS = {
    "mnist-wgan": {"clip", "d_steps"},
    "mnist-wgan-gp": {"gp", "d_steps"},
    "mnist-hinge-sn": {"sn"},
    "mnist-cgan": {"cond"},
    "grid-wgan-gp": {"gp", "d_steps", "ema"},
    "grid-minibatch": {"mbd", "ema"},
    "grid-gman": {"gman", "ema"},
    "grid-pacgan": {"pack", "r1", "ema"},
    "grid-best": {"pack", "r1", "ema"},
    "ring-pacgan": {"pack", "r1", "ema"},
    "mnist-best": {"r1", "ema"},
}
STEPS = 2

QUIET = ["train.progress=none", "train.tensorboard=false", f"train.steps={STEPS}", "train.log_every=1",
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


def train_tiny(preset, run, extra=()):
    """Train `preset` tiny through the CLI; return the live method (captured from api.build_method),
    G's initial weights, the input shapes each D was called with, the metrics records and the checkpoint."""
    seen = {}
    build = gankit.api.build_method

    def capture(cfg, spec, device):
        method = build(cfg, spec, device)
        seen["method"] = method
        seen["g_init"] = {k: v.detach().clone() for k, v in method.G.state_dict().items()}
        seen["d_inputs"] = {name: [] for name in method.d_names}
        for name, d in zip(method.d_names, method.Ds):
            d.register_forward_pre_hook(lambda mod, args, name=name: seen["d_inputs"][name].append(tuple(args[0].shape)))
        return method

    torch.manual_seed(0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gankit.api, "build_method", capture)
        assert cli.main(["train", "--preset", preset, *tiny_overrides(preset, run), *extra]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return SimpleNamespace(run=run, records=records, ck=load_checkpoint(run), cfg=seen["method"].cfg, **seen)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each preset is trained once for all the tests of this module."""
    cache = {}

    def get(preset):
        if preset not in cache:
            cache[preset] = train_tiny(preset, tmp_path_factory.mktemp(preset) / "run")
        return cache[preset]
    return get


def test_every_preset_resolves_and_has_a_description():
    presets = list_presets()
    assert set(NEW_PRESETS) <= set(presets)
    for name, description in presets.items():
        cfg = load_config(preset=name)
        assert cfg.preset == name
        check_names(cfg)  # its data source, metrics, augmentations and device exist
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
def test_preset_trains_and_samples(trained, tmp_path, preset):
    run = trained(preset).run
    gen = load_generator(run)
    assert gen.step == STEPS
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


# ---------------------------------------------------------------- is each stabiliser really active?

def d_parameters(t, name):
    """{key: tensor} of the trained D `name`'s parameters (not its buffers), from the checkpoint."""
    d = t.method.networks[name]
    keys = [k for k, _ in d.named_parameters()]
    assert keys and set(keys) <= set(t.ck.weights[name])
    return {k: t.ck.weights[name][k] for k in keys}


def first_layer(d):
    return next(m for m in d.trunk.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))


def check_penalties(t, on):
    """gp is logged at every step with loss.gp; lazy R1 exactly at the steps whose last D update has it."""
    for r in t.records:
        assert ("gp" in r) == ("gp" in on), r
        if "gp" in r:
            assert math.isfinite(r["gp"]) and r["gp"] > 0
    if t.cfg.loss.name == "wasserstein":  # the logged loss is the critic loss plus the weighted penalty
        for r in t.records:
            assert r["loss_d"] == pytest.approx(r["d_fake"] - r["d_real"] + t.cfg.loss.gp * r.get("gp", 0.0),
                                                rel=1e-4, abs=1e-5)
    k, every = t.cfg.train.d_steps, t.cfg.loss.r1_every
    with_r1 = [r["step"] for r in t.records if "r1" in r]
    if "r1" in on:
        expected = [s + 1 for s in range(STEPS) if (s * k + k - 1) % every == 0]
        assert expected and with_r1 == expected
        assert all(math.isfinite(r["r1"]) and r["r1"] > 0 for r in t.records if "r1" in r)
    else:
        assert t.cfg.loss.r1 == 0 and with_r1 == []


def check_optimizers(t, on):
    """One optimizer per network, each holding exactly its network's parameters, stepped once per update:
    G once per step, each D d_steps times per step (5 for the WGANs); all saved in the checkpoint."""
    method, n_d = t.method, t.cfg.gan.num_discriminators
    assert n_d == (3 if "gman" in on else 1) and len(method.Ds) == n_d
    assert t.cfg.train.d_steps == (5 if "d_steps" in on else 1)
    assert set(method.optimizers) == set(t.ck.state["optimizers"]) == {"G", *method.d_names}
    kind = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}[t.cfg.optim.name]
    owned = set()
    for name, opt in method.optimizers.items():
        params = [p for g in opt.param_groups for p in g["params"]]
        assert type(opt) is kind
        assert {id(p) for p in params} == {id(p) for p in method.networks[name].parameters()}
        owned |= {id(p) for p in params}
        updates = STEPS if name == "G" else STEPS * t.cfg.train.d_steps
        assert len(opt.state) == len(params), f"{name}: some parameters were never stepped"
        assert {int(s["step"]) for s in opt.state.values()} == {updates}, name
    assert len(owned) == sum(len(list(n.parameters())) for n in method.networks.values())  # no sharing


def check_gman(t, on):
    if "gman" not in on:
        return
    g = t.cfg.gan
    hidden = t.cfg.model.d.hidden
    for name, d, factor, p in zip(t.method.d_names, t.method.Ds, g.d_width_factors, g.d_dropouts):
        assert first_layer(d).out_features == max(1, round(hidden[0] * factor))
        assert [m.p for m in d.modules() if isinstance(m, nn.Dropout)] == ([p] * len(hidden) if p > 0 else [])
        assert t.d_inputs[name], f"{name} never judged a batch"
    widths = [first_layer(d).out_features for d in t.method.Ds]
    assert len(set(widths)) == len(widths)


def check_packing(t, on):
    """D is built for packs and really called on packed batches: (B / m, m * C, ...)."""
    m = t.cfg.gan.pack
    assert m == (2 if "pack" in on else 1)
    shape, batch = tuple(t.method.spec.shape), t.cfg.train.batch_size
    row = (m * shape[0], *shape[1:])
    for name, d in zip(t.method.d_names, t.method.Ds):
        layer = first_layer(d)
        fan_in = layer.in_features if isinstance(layer, nn.Linear) else layer.in_channels
        assert fan_in == (m * math.prod(shape) if len(shape) == 1 else m * shape[0]) + d.label_dim
        calls = t.d_inputs[name]
        assert calls
        for s in calls:  # (a forward of real and fake concatenated would be 2B / m rows)
            assert s[1:] == row and s[0] in (batch // m, 2 * batch // m), (name, s)


def check_clipping(t, on):
    """WGAN: after training every D parameter lies in [-clip, clip], and both bounds are reached (it clips)."""
    clip = t.cfg.loss.clip
    if "clip" not in on:
        assert clip == 0
        return
    assert clip == 0.01
    for name, d in zip(t.method.d_names, t.method.Ds):
        for source in ([p.detach() for p in d.parameters()], list(d_parameters(t, name).values())):
            top, bottom = max(float(p.max()) for p in source), min(float(p.min()) for p in source)
            # both bounds are reached: initial weights ~N(0, 0.02) and BN gains ~1 were clipped
            assert top == pytest.approx(clip, rel=1e-6) and bottom == pytest.approx(-clip, rel=1e-6)


def check_spectral_norm(t, on):
    """SN-GAN: every Conv/Linear weight of D is spectrally normalised (largest singular value 1)."""
    for name, d in zip(t.method.d_names, t.method.Ds):
        layers = [m for m in d.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        assert layers
        normed = [parametrize.is_parametrized(m, "weight") for m in layers]
        if "sn" not in on:
            assert not any(normed) and not any("parametrizations" in k for k in t.ck.weights[name])
            continue
        assert all(normed)
        assert all(type(m.parametrizations.weight[0]).__name__ == "_SpectralNorm" for m in layers)
        assert sum(k.endswith("parametrizations.weight.original") for k in t.ck.weights[name]) == len(layers)
        was = d.training
        d.eval()  # eval: the normalised weight without another power iteration
        with torch.no_grad():
            sigmas = [float(torch.linalg.matrix_norm(m.weight.flatten(1), ord=2)) for m in layers]
        d.train(was)
        assert sigmas == pytest.approx([1.0] * len(layers), abs=1e-2)


def check_minibatch_discrimination(t, on):
    """Minibatch discrimination: its layer sits before D's head, and D's score of one sample depends on
    the rest of the batch."""
    for d in t.method.Ds:
        layers = [m for m in d.modules() if isinstance(m, MinibatchDiscrimination)]
        if "mbd" not in on:
            assert not layers and t.cfg.model.d.minibatch_disc == 0
            continue
        kernels = t.cfg.model.d.minibatch_disc
        assert len(layers) == 1 and layers[0].num_kernels == kernels == 8
        assert d.head.in_features == t.cfg.model.d.hidden[-1] + kernels
        assert any(k.startswith("stabilisers.") for k in t.ck.weights["D"])
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(8, 2, generator=gen)
        others = x.clone()
        others[1:] = torch.randn(7, 2, generator=gen)
        was = d.training
        d.eval()
        with torch.no_grad():
            a, b = d(x)[0], d(others)[0]  # same first sample, other batch mates
        d.train(was)
        assert not torch.equal(a, b)


def check_ema(t, on):
    """gan.ema > 0: G_ema is saved, is neither G nor G's initial weights, and is what sampling loads."""
    gen = load_generator(t.run)
    weights = t.ck.weights
    if "ema" not in on:
        assert t.cfg.gan.ema == 0 and "G_ema" not in weights and not gen.ema
        return
    assert t.cfg.gan.ema > 0 and gen.ema and set(weights["G_ema"]) == set(weights["G"])
    params = [k for k, _ in t.method.G.named_parameters()]
    assert any(not torch.equal(weights["G_ema"][k], weights["G"][k]) for k in params)
    assert any(not torch.equal(weights["G_ema"][k], t.g_init[k]) for k in params)
    assert all(torch.equal(v, weights["G_ema"][k]) for k, v in gen.net.state_dict().items())


def check_conditioning(t, on):
    """The conditional preset: G and the projection D both use the label."""
    method = t.method
    if "cond" not in on:
        assert method.num_classes == 0
        return
    assert method.num_classes == 10 and method.Ds[0].projection is not None
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(4, method.z_dim, generator=gen)
    x = torch.rand(4, *method.spec.shape, generator=gen) * 2 - 1
    g, d = method.G, method.Ds[0]
    g.eval(), d.eval()
    with torch.no_grad():
        assert not torch.equal(g(z, torch.full((4,), 1)), g(z, torch.full((4,), 7)))
        assert not torch.equal(d(x, torch.full((4,), 1)), d(x, torch.full((4,), 7)))
    g.train(), d.train()


CHECKS = [check_penalties, check_optimizers, check_gman, check_packing, check_clipping, check_spectral_norm,
          check_minibatch_discrimination, check_ema, check_conditioning]


@pytest.mark.parametrize("preset", NEW_PRESETS)
def test_preset_stabilisers_are_active(trained, preset):
    t = trained(preset)
    assert [r["step"] for r in t.records] == list(range(1, STEPS + 1))
    for check in CHECKS:
        check(t, STABILISERS[preset])


def test_composed_options_train_and_sample_a_class(tmp_path):
    """WGAN-GP + spectral norm + EMA + conditional (projection D, CBN G) in one run."""
    run = tmp_path / "run"
    composed = ["loss.name=wasserstein", "loss.gp=10", "model.d.spectral_norm=true", "model.d.norm=none",
                "gan.ema=0.9", "model.conditional=true", "model.d.cond=projection", "model.g.cond=cbn",
                "train.d_steps=2"]
    t = train_tiny("mnist-wgan-gp", run, composed)
    on = {"gp", "sn", "ema", "cond"}
    check_penalties(t, on)
    check_spectral_norm(t, on)
    check_ema(t, on)
    check_conditioning(t, on)
    assert {int(s["step"]) for s in t.method.optimizers["D"].state.values()} == {2 * STEPS}
    gen = load_generator(run)
    assert gen.ema and gen.num_classes == 10
    out = tmp_path / "sevens.png"
    assert cli.main(["sample", str(run), "-n", "4", "--class", "7", "--out", str(out)]) == 0
    assert out.stat().st_size > 100
    a, b = gen.sample(4, y=7, seed=0), gen.sample(4, y=2, seed=0)
    assert a.shape == (4, 1, 8, 8) and not torch.equal(a, b)  # same z, another class: another image
