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
