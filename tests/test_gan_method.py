import pytest
import torch

from gankit import api
from gankit.data.toy import mixture_means
from gankit.errors import ConfigError
from gankit.generator import load_generator
from gankit.methods.gan import combine_losses


def test_gman_combinations():
    per_d = torch.tensor([1.0, 2.0, 4.0])
    assert combine_losses(per_d, "mean") == pytest.approx(7 / 3)
    assert combine_losses(per_d, "max") == 4.0
    assert combine_losses(per_d, "softmax", temperature=0.0) == pytest.approx(7 / 3)  # T=0: the mean
    w = torch.softmax(torch.tensor([1.0, 2.0, 4.0]), 0)
    assert combine_losses(per_d, "softmax", temperature=1.0) == pytest.approx(float((w * per_d).sum()))
    assert combine_losses(per_d, "softmax", temperature=50.0) == pytest.approx(4.0, abs=1e-3)  # -> max
    with pytest.raises(ConfigError):
        combine_losses(per_d, "median")


def test_softmax_weights_carry_no_gradient():
    per_d = torch.tensor([1.0, 3.0], requires_grad=True)
    combine_losses(per_d, "softmax", temperature=1.0).backward()
    assert torch.allclose(per_d.grad, torch.softmax(torch.tensor([1.0, 3.0]), 0))


def test_each_discriminator_has_its_own_optimizer_and_width(tiny):
    from gankit.methods import build_method
    from gankit.methods.base import DataSpec
    cfg = tiny("ring-gan", **{"gan.num_discriminators": 3, "gan.d_width_factors": [1.0, 0.5, 2.0],
                              "gan.d_dropouts": [0.0, 0.1, 0.2]})
    spec = DataSpec("points", (2,), 8, [], "ring", {})
    method = build_method(cfg, spec, torch.device("cpu"))
    assert set(method.optimizers) == {"G", "D0", "D1", "D2"}
    widths = [sum(p.numel() for p in d.parameters()) for d in method.Ds]
    assert widths[1] < widths[0] < widths[2]


def test_conditional_gan_generates_the_requested_class(tiny):
    """A conditional MLP GAN on the ring, labels = mode index: G(z, k) must land on mode k."""
    cfg = tiny("ring-gan", **{"model.conditional": True, "train.steps": 600, "train.batch_size": 64,
                              "data.n": 4096, "model.g.hidden": [64, 64], "model.d.hidden": [64, 64],
                              "optim.g_lr": 1e-3, "optim.d_lr": 1e-3, "train.checkpoint_every": 600,
                              "train.sample_every": 600, "train.log_every": 100, "model.d.cond": "projection"})
    g = load_generator(api.train(cfg))
    means = mixture_means("ring")
    hits = 0
    for k in range(8):
        pts = g.sample(50, y=k, seed=k)
        nearest = torch.cdist(pts, means).argmin(1)
        hits += int((nearest == k).sum())
    assert hits / 400 >= 0.9


@pytest.mark.parametrize("d_steps", [1, 2])
def test_lazy_r1_runs_every_n_d_updates_with_n_times_the_weight(tiny, d_steps):
    from gankit.data.sampler import BatchSampler
    from gankit.methods import BatchSource, build_method
    from gankit.methods.base import DataSpec

    cfg = tiny("ring-gan", **{"loss.r1": 0.5, "loss.r1_every": 3, "train.d_steps": d_steps})
    method = build_method(cfg, DataSpec("points", (2,), 0, [], "ring", {}), torch.device("cpu"))
    method.setup(6)
    batches = BatchSource(torch.randn(64, 2), None, BatchSampler(64, 16, seed=0))
    with_r1 = [s for s in range(6) if "r1" in method.train_step(batches, s)]
    # logs hold the last D update of each step: updates step * d_steps + d_steps - 1
    assert with_r1 == [s for s in range(6) if (s * d_steps + d_steps - 1) % 3 == 0]
    assert [method._r1_weight(u) for u in range(4)] == [1.5, 0.0, 0.0, 1.5]


# ---------------------------------------------------------------- gradient routing of the GAN step

def ring_method(tiny, **keys):
    """A tiny ring-gan method (MLP G with BatchNorm, MLP D) and a source of real batches, seeded."""
    from gankit.data.sampler import BatchSampler
    from gankit.methods import BatchSource, build_method
    from gankit.methods.base import DataSpec

    torch.manual_seed(0)
    method = build_method(tiny("ring-gan", **keys), DataSpec("points", (2,), 0, [], "ring", {}), torch.device("cpu"))
    method.setup(4)
    method.train(True)
    batches = BatchSource(torch.randn(64, 2, generator=torch.Generator().manual_seed(1)), None,
                          BatchSampler(64, 16, seed=0))
    return method, batches


def snapshot(nets):
    return [p.detach().clone() for net in nets for p in net.parameters()]


def same(params, nets):
    return all(torch.equal(a, b) for a, b in zip(params, (p for net in nets for p in net.parameters())))


ROUTING_CASES = {  # the D phase's paths: G(z) reused for G's step or drawn again, penalties, clipping, GMAN
    "k1": {}, "k2": {"train.d_steps": 2},
    "gp": {"loss.name": "wasserstein", "loss.gp": 10.0, "train.d_steps": 2},
    "r1": {"loss.r1": 1.0}, "clip": {"loss.name": "wasserstein", "loss.clip": 0.01},
    "gman": {"gan.num_discriminators": 2},
}


def grads_of(nets):
    return [None if p.grad is None else p.grad.clone() for net in nets for p in net.parameters()]


def same_grads(a, b):
    return len(a) == len(b) and all(x is None and y is None or x is not None and y is not None and torch.equal(x, y)
                                    for x, y in zip(a, b))


@pytest.mark.parametrize("case", ROUTING_CASES)
def test_d_updates_leave_g_unchanged(tiny, monkeypatch, case):
    """Everything train_step does before G's own update (the D steps) leaves G's parameters bitwise
    unchanged and adds nothing to G's gradients (None at the first step; the second step's stale ones
    untouched, so an optimizer step of G there would move G), while every D does change."""
    method, batches = ring_method(tiny, **ROUTING_CASES[case])
    entry = {}
    original = method._g_update

    def g_update(fake, y_fake, *rest):
        entry["g"], entry["g_grads"] = snapshot([method.G]), grads_of([method.G])
        entry["d_moved"] = [not same(before, [d]) for before, d in zip(entry["d_before"], method.Ds)]
        return original(fake, y_fake, *rest)
    monkeypatch.setattr(method, "_g_update", g_update)
    for step in range(2):
        g_before, g_grads = snapshot([method.G]), grads_of([method.G])
        entry["d_before"] = [snapshot([d]) for d in method.Ds]
        assert (step == 0) == all(g is None for g in g_grads)
        method.train_step(batches, step)
        assert not same(entry["g"], [method.G])  # sanity: G's own step then moved G ...
        assert all(torch.equal(a, b) for a, b in zip(g_before, entry["g"]))  # ... but the D steps had not
        assert same_grads(g_grads, entry["g_grads"])
        assert all(entry["d_moved"])  # sanity: every D did take its steps


@pytest.mark.parametrize("d_grads", ["cleared", "kept"])
@pytest.mark.parametrize("case", ["k1", "k2", "gman"])
def test_g_update_leaves_d_unchanged_and_without_gradients(tiny, monkeypatch, case, d_grads):
    """G's update (train_step from _g_update on) changes no D parameter and writes no D gradient.

    "cleared": D's gradients (already consumed by D's step) are set to None when G's update begins and
    must still be None after it. "kept": they stay as D's step left them and must be unchanged after it,
    so an optimizer step of D inside G's update would move D."""
    method, batches = ring_method(tiny, **ROUTING_CASES[case])
    entry = {}
    original = method._g_update

    def g_update(fake, y_fake, *rest):
        for p in (p for d in method.Ds for p in d.parameters()):
            if d_grads == "cleared":
                p.grad = None
            assert p.grad is None or d_grads == "kept"
        entry["d"], entry["g"] = snapshot(method.Ds), snapshot([method.G])
        entry["grads"] = [None if p.grad is None else p.grad.clone() for d in method.Ds for p in d.parameters()]
        return original(fake, y_fake, *rest)
    monkeypatch.setattr(method, "_g_update", g_update)
    for step in range(2):  # the second step starts from the first one's frozen D
        method.train_step(batches, step)
        assert same(entry["d"], method.Ds)
        grads = [p.grad for d in method.Ds for p in d.parameters()]
        if d_grads == "cleared":
            assert all(g is None for g in grads)
        else:
            assert all(a is not None and torch.equal(a, b) for a, b in zip(entry["grads"], grads))
        assert not same(entry["g"], [method.G])  # sanity: G did take a step


@pytest.mark.parametrize("loss", ["ns", "minimax", "wasserstein", "hinge", "lsgan"])
def test_one_g_step_raises_d_of_g_z(tiny, loss):
    """With D fixed, one small G step (the real _g_update, Adam lr 1e-5) raises D's mean score of G(z) for
    the same z, and lowers G's loss: G descends its loss, towards what D calls real (LSGAN: towards 1,
    from scores near 0.5, so a target of 0 would lower them)."""
    from gankit import losses
    from gankit.methods.optim import set_requires_grad

    method, _ = ring_method(tiny, **{"loss.name": loss, "optim.g_lr": 1e-5})
    z = torch.randn(64, method.z_dim, generator=torch.Generator().manual_seed(2))
    set_requires_grad(method.Ds, False)  # as train_step does for G's update
    d = method.Ds[0]

    def scored():
        with torch.no_grad():
            logits = method.judge(d, method.G(z))
        return float(logits.mean()), float(losses.g_loss(loss, logits))

    with torch.no_grad():  # start D's scores of G(z) around 0.5, between the LSGAN targets 0 (fake) and 1 (real)
        d.head.bias += 0.5 - scored()[0]
    d_before, d_params = scored(), snapshot([d])
    assert 0.3 < d_before[0] < 0.7
    method._g_update(method.G(z), None)
    d_after = scored()
    assert d_after[0] > d_before[0], (loss, d_before, d_after)
    assert d_after[1] < d_before[1], (loss, d_before, d_after)
    assert same(d_params, [d])


# ---------------------------------------------------------------- top-k G updates (Sinha et al. 2020)

def test_topk_schedule_and_selection():
    from gankit import losses
    assert [losses.topk_fraction(e, 0.5, 0.5) for e in (0, 0.99, 1, 2.5, 9)] == [1.0, 1.0, 0.5, 0.5, 0.5]
    assert losses.topk_fraction(3, 0.1, 0.9) == pytest.approx(0.9 ** 3)
    assert losses.topk_fraction(50, 1.0, 0.5) == 1.0  # off
    logits = torch.tensor([[0.5], [-2.0], [5.0], [1.0], [0.0]])
    assert sorted(losses.top_k(logits, 0.4).tolist()) == [1.0, 5.0]
    assert sorted(losses.top_k(logits, 0.5).tolist()) == [0.5, 1.0, 5.0]  # ceil(2.5)
    assert losses.top_k(logits, 1.0) is logits


def test_topk_g_update_learns_only_from_the_samples_d_scores_most_real(tiny):
    """With gan.topk=0.25 after the first epoch, G's gradient is that of the NS loss of the 4 (of 16) fakes
    D scores highest, and not the whole batch's."""
    from gankit import losses
    from gankit.methods.optim import set_requires_grad

    method, _ = ring_method(tiny, **{"gan.topk": 0.25, "gan.topk_decay": 0.5, "data.n": 64})
    method.attach(torch.zeros(64, 2))
    assert method._topk_fraction(0) == 1.0 and method._topk_fraction(4) == 0.5  # epoch 1: 4 steps of 16
    assert method._topk_fraction(8) == 0.25 and method._topk_fraction(40) == 0.25
    set_requires_grad(method.Ds, False)
    z = torch.randn(16, method.z_dim, generator=torch.Generator().manual_seed(3))

    def g_grads(selected):
        method.G.zero_grad(set_to_none=True)
        fake = method.G(z)
        logits = method.judge(method.Ds[0], fake).flatten()
        losses.g_loss("ns", logits[selected]).backward()
        return [p.grad.clone() for p in method.G.parameters()]

    with torch.no_grad():
        best = method.judge(method.Ds[0], method.G(z)).flatten().topk(4).indices
    expected, whole = g_grads(best), g_grads(torch.arange(16))
    opt = method.optimizers["G"]
    opt.step = lambda *a, **k: None  # keep G where it is, to read the gradient _g_update leaves
    method._g_update(method.G(z), None, 0.25)
    got = [p.grad for p in method.G.parameters()]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got, expected))
    assert not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got, whole))


def test_topk_resume_is_bit_exact(tiny):
    from gankit.checkpoint import load_checkpoint
    keys = {"gan.topk": 0.5, "gan.topk_decay": 0.7, "data.n": 64, "gan.pack": 2}
    full = api.train(tiny("ring-gan", name="full", **keys))
    api.train(tiny("ring-gan", name="half", **keys, **{"train.steps": 4}))
    resumed = api.train(resume=full.parent / "half", overrides=["train.steps=8"])
    a, b = load_checkpoint(full).weights, load_checkpoint(resumed).weights
    assert all(torch.equal(a[k][n], b[k][n]) for k in a for n in a[k])
