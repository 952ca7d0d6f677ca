"""The speed options of `train`: compile (with an eager fallback), AMP, and the scaler state. No timings here."""
import json
import warnings

import pytest
import torch

from gankit import api
from gankit.checkpoint import load_checkpoint
from gankit.config import load_config
from gankit.data.sampler import BatchSampler
from gankit.errors import ConfigError
from gankit.methods import BatchSource, DataSpec, build_method
from gankit.methods.base import check_amp


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def assert_finite(run_dir):
    for record in records(run_dir):
        assert all(torch.isfinite(torch.tensor(v)) for v in record.values()), record


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for net in a:
        assert a[net].keys() == b[net].keys()
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k} differs"


def two_steps(tiny, name, **keys):
    return tiny(name=name, **{"train.steps": 2, "train.checkpoint_every": 2, "train.sample_every": 2, **keys})


def test_compile_unavailable_falls_back_to_eager_with_one_warning(tiny, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("torch.compile is not supported here")

    monkeypatch.setattr(torch, "compile", broken)
    with pytest.warns(RuntimeWarning, match="torch.compile failed") as caught:
        run = api.train(two_steps(tiny, "compiled", **{"train.compile": True}))
    assert len([w for w in caught if "torch.compile failed" in str(w.message)]) == 1
    eager = api.train(two_steps(tiny, "eager"))
    assert_same_weights(load_checkpoint(eager).weights, load_checkpoint(run).weights)


def test_compile_failing_at_first_call_falls_back_without_changing_results(tiny, monkeypatch):
    """A backend that fails when a network first runs: each network falls back; the run equals eager."""
    def compile_that_fails_later(fn, **kwargs):
        def call(*args, **kw):
            raise RuntimeError("backend compiler failed")
        return call

    monkeypatch.setattr(torch, "compile", compile_that_fails_later)
    with pytest.warns(RuntimeWarning, match="backend compiler failed") as caught:
        run = api.train(two_steps(tiny, "compiled", **{"train.compile": True, "gan.ema": 0.9}))
    assert len([w for w in caught if "torch.compile failed" in str(w.message)]) == 1
    eager = api.train(two_steps(tiny, "eager", **{"gan.ema": 0.9}))
    assert_same_weights(load_checkpoint(eager).weights, load_checkpoint(run).weights)


def test_genuine_errors_are_not_swallowed_by_the_compile_fallback(tiny, monkeypatch):
    cfg = two_steps(tiny, "run", **{"train.compile": True})
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)  # "compiles" to the eager call
    ds = api.dataset_for(cfg)
    method = build_method(cfg, DataSpec.from_dataset(ds), torch.device("cpu"))
    assert method.compiled == ["G", "D"]
    with pytest.raises(RuntimeError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        method.G(torch.randn(4, cfg.model.z_dim + 1))  # wrong z width: eager raises it too


def test_compiled_networks_keep_their_state_dict_keys(tiny, monkeypatch, recwarn):
    seen, real_compile = [], torch.compile

    def eager_backend(fn, **kwargs):  # the real torch.compile (dynamo), with the cheap "eager" backend
        seen.append(kwargs.get("mode"))
        return real_compile(fn, backend="eager")

    monkeypatch.setattr(torch, "compile", eager_backend)
    run = api.train(two_steps(tiny, "compiled", **{"train.compile": True}))
    eager = api.train(two_steps(tiny, "eager"))
    assert seen == ["default", "default"]
    assert not [w for w in recwarn if "torch.compile failed" in str(w.message)]
    a, b = load_checkpoint(eager).weights, load_checkpoint(run).weights
    assert {k: set(v) for k, v in a.items()} == {k: set(v) for k, v in b.items()}
    assert_finite(run)


def test_fp16_on_cpu_is_a_config_error(tiny):
    with pytest.raises(ConfigError, match="fp16 needs a CUDA GPU"):
        api.train(two_steps(tiny, "fp16", **{"train.amp": "fp16", "train.device": "cpu"}))


def test_amp_choices_are_checked():
    with pytest.raises(ConfigError, match="train.amp must be one of"):
        load_config(preset="digits-dcgan", overrides=["train.amp=fp8"])
    assert check_amp("off", torch.device("cpu")) is None


bf16_cpu = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


@pytest.mark.skipif(not bf16_cpu, reason="this CPU has no bfloat16 support")
@pytest.mark.parametrize("preset", ["digits-dcgan", "ring-gan"])
def test_bf16_on_cpu_trains_finitely(tiny, preset):
    run = api.train(tiny(preset, name="bf16", **{"train.amp": "bf16", "train.steps": 2, "train.log_every": 1,
                                                "train.sample_every": 2, "train.checkpoint_every": 2}))
    assert [r["step"] for r in records(run)] == [1, 2]
    assert_finite(run)
    weights = load_checkpoint(run).weights
    assert all(t.dtype == torch.float32 for t in weights["G"].values() if t.is_floating_point())


@pytest.mark.skipif(bf16_cpu, reason="this CPU supports bfloat16")
def test_bf16_on_a_cpu_without_it_is_a_config_error(tiny):
    with pytest.raises(ConfigError, match="bfloat16"):
        api.train(two_steps(tiny, "bf16", **{"train.amp": "bf16", "train.device": "cpu"}))


def test_gradient_scalers_step_and_round_trip_their_state(tiny):
    """The fp16 path (scale, unscale, skip on inf, update) run on the CPU with CPU scalers."""
    cfg = tiny(**{"train.batch_size": 8})
    ds = api.dataset_for(cfg)
    method = build_method(cfg, DataSpec.from_dataset(ds), torch.device("cpu"))
    assert method.extra_state() == {"scalers": {}}
    method.scalers = {g: torch.amp.GradScaler("cpu", init_scale=2.0 ** 16, growth_interval=1) for g in ("D", "G")}
    batches = BatchSource(ds.x, ds.y, BatchSampler(len(ds), 8, seed=0), channels_last=True)
    before = [p.detach().clone() for p in method.G.parameters()]
    for step in range(3):
        logs = method.train_step(batches, step)
        assert all(torch.isfinite(v) for v in logs.values()), logs
    assert any(not torch.equal(a, b) for a, b in zip(before, method.G.parameters()))
    state = method.extra_state()
    assert set(state["scalers"]) == {"D", "G"} and state["scalers"]["G"]["scale"] > 0

    other = build_method(cfg, DataSpec.from_dataset(ds), torch.device("cpu"))
    other.scalers = {g: torch.amp.GradScaler("cpu") for g in ("D", "G")}
    other.load_extra_state(state)
    assert other.extra_state() == state
    other.load_extra_state({})  # an older checkpoint without scaler state: defaults stay
    other.load_extra_state(None)


def test_preview_runs_under_inference_mode(tiny):
    cfg = tiny()
    ds = api.dataset_for(cfg)
    method = build_method(cfg, DataSpec.from_dataset(ds), torch.device("cpu"))
    out = method.preview(method.preview_inputs(4, seed=0))
    assert out.is_inference() and out.dtype == torch.float32 and method.G.training


def test_threads_option(tiny):
    with pytest.raises(ConfigError, match="train.threads must be >= 1"):
        load_config(preset="digits-dcgan", overrides=["train.threads=0"])
    before = torch.get_num_threads()
    try:
        cfg = tiny(**{"train.threads": 1})
        build_method(cfg, DataSpec.from_dataset(api.dataset_for(cfg)), torch.device("cpu"))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
