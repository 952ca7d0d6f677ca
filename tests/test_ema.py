import pytest
import torch
from torch import nn

from gankit.ema import EMA
from gankit.errors import ConfigError


def make_model() -> nn.Module:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    fill(model, 1.0)
    return model


def fill(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)


def test_shadow_is_frozen_eval_copy() -> None:
    model = make_model()
    ema = EMA(model)
    assert ema.shadow is not model
    assert not ema.shadow.training
    assert all(not p.requires_grad for p in ema.shadow.parameters())
    assert all(p.requires_grad for p in model.parameters())
    for p, q in zip(ema.shadow.parameters(), model.parameters()):
        assert p.data_ptr() != q.data_ptr()
        assert torch.equal(p, q)


def test_update_is_exact_moving_average_and_keeps_its_own_buffers() -> None:
    model = make_model()
    ema = EMA(model, decay=0.75, warmup=False)  # powers of two: the average is exact in float
    fill(model, 5.0)
    model.train()(torch.randn(8, 3))  # changes the live BatchNorm running stats
    ema.update(model, step=0)
    for p in ema.shadow.parameters():
        assert torch.equal(p, torch.full_like(p, 0.75 * 1.0 + 0.25 * 5.0))
    bn = ema.shadow[1]
    assert torch.equal(bn.running_mean, torch.zeros(4)) and int(bn.num_batches_tracked) == 0  # not the live stats
    fill(model, 2.0)
    ema.update(model, step=1)
    for p in ema.shadow.parameters():
        assert torch.equal(p, torch.full_like(p, 0.75 * 2.0 + 0.25 * 2.0))
    assert all(not p.requires_grad for p in ema.shadow.parameters())


def test_warmup_ramps_the_decay_up() -> None:
    ema = EMA(make_model(), decay=0.999, start_step=5)
    assert ema.decay_at(4) == 0.0  # before start: a copy
    assert ema.decay_at(5) == pytest.approx(1 / 10) and ema.decay_at(95) == pytest.approx(91 / 100)
    assert ema.decay_at(10 ** 6) == 0.999
    assert EMA(make_model(), decay=0.999, warmup=False).decay_at(0) == 0.999
    # after 20 updates from a random start, warm-up keeps far less of the initial weights than a fixed decay
    kept = {w: torch.tensor(1.0) for w in (True, False)}
    for warm in kept:
        e = EMA(make_model(), decay=0.99, warmup=warm)
        kept[warm] = torch.tensor([e.decay_at(t) for t in range(20)]).prod()
    assert kept[True] < 1e-3 < 0.5 < kept[False]


def shadow_activation_stats(ema: EMA, inputs, k: int):
    """Mean and variance of the shadow's pre-BN activations over k batches (an independent computation)."""
    gen = torch.Generator().manual_seed(ema.seed)
    acts = torch.cat([ema.shadow[0](inputs(gen)[0]) for _ in range(k)])
    return acts.mean(0), acts.var(0)


def test_shadow_gets_standing_batchnorm_statistics_of_its_own_weights() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    inputs = lambda gen: (torch.randn(32, 3, generator=gen) * 2 + 1,)  # noqa: E731
    ema = EMA(model, decay=0.5, warmup=False, inputs=inputs, bn_batches=4, seed=7)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0).add_(1.0)
    for _ in range(20):  # the live model trains: its running stats follow its own weights
        model.train()(torch.randn(32, 3))
    ema.update(model, step=0)
    sd = ema.state_dict()  # saving recomputes the stale statistics
    mean, var = shadow_activation_stats(ema, inputs, 4)
    # per-batch unbiased variances averaged (as BatchNorm with momentum None does) vs the pooled variance
    assert torch.allclose(sd["1.running_mean"], mean, atol=1e-5)
    assert torch.allclose(sd["1.running_var"], var, rtol=0.05)
    assert not torch.allclose(sd["1.running_mean"], model[1].running_mean, atol=1e-2)
    assert not ema.shadow.training and not ema.stale
    before = torch.get_rng_state()
    ema.update(model, step=1)
    ema.ready()
    assert torch.equal(torch.get_rng_state(), before)  # the global RNG is untouched (exact resume)
    assert ema.shadow[1].momentum == 0.1  # restored after the cumulative average


def test_before_start_step_is_a_copy() -> None:
    model = make_model()
    ema = EMA(model, decay=0.5, start_step=10, warmup=False)
    fill(model, 7.0)
    ema.update(model, step=9)
    for p in ema.shadow.parameters():
        assert torch.equal(p, torch.full_like(p, 7.0))
    fill(model, 3.0)
    ema.update(model, step=10)
    for p in ema.shadow.parameters():
        assert torch.equal(p, torch.full_like(p, 5.0))


def test_state_dict_roundtrip() -> None:
    model = make_model()
    ema = EMA(model, decay=0.5, warmup=False)
    fill(model, 3.0)
    ema.update(model, step=0)
    other = EMA(make_model(), decay=0.5)
    other.load_state_dict(ema.state_dict())
    for key, value in ema.state_dict().items():
        assert torch.equal(other.state_dict()[key], value)
    assert set(ema.state_dict()) == set(model.state_dict())


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="ema_decay"):
        EMA(make_model(), decay=1.5)
    with pytest.raises(ConfigError, match="ema_start"):
        EMA(make_model(), start_step=-1)


def test_trained_ema_generator_is_saved_with_its_own_statistics(tiny) -> None:
    from gankit import api
    from gankit.checkpoint import load_checkpoint
    from gankit.methods import DataSpec, build_method

    cfg = tiny(**{"gan.ema": 0.9, "gan.ema_bn_batches": 2})
    w = load_checkpoint(api.train(cfg)).weights
    bn_keys = [k for k in w["G"] if k.endswith("running_var")]
    assert bn_keys and all(not torch.equal(w["G_ema"][k], w["G"][k]) for k in bn_keys)
    # the saved statistics are those that recomputing them from the saved EMA weights gives
    method = build_method(cfg, DataSpec.from_dataset(api.dataset_for(cfg)), torch.device("cpu"))
    method.ema.load_state_dict(w["G_ema"])
    method.ema.stale = True
    recomputed = method.ema.state_dict()
    for k in bn_keys:
        assert torch.allclose(recomputed[k], w["G_ema"][k])
