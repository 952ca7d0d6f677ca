"""The speed options of `train`: compile (with an eager fallback), AMP, and the scaler state. No timings here."""
import json
import warnings

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from gankit import api
from gankit.checkpoint import load_checkpoint
from gankit.config import load_config
from gankit.data.batches import ChannelsLast
from gankit.data.sampler import BatchSampler
from gankit.errors import ConfigError
from gankit.methods import BatchSource, DataSpec, build_method
from gankit.methods import base
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


def dynamo_with(monkeypatch, backend, seen=None):
    """Make `torch.compile` the real dynamo with `backend`, keeping the options gankit passes but the mode."""
    real_compile = torch.compile

    def compile_with_backend(fn, mode=None, **options):
        if seen is not None:
            seen.append((mode, options))
        return real_compile(fn, backend=backend, **options)

    monkeypatch.setattr(torch, "compile", compile_with_backend)


def test_compile_failing_at_first_call_falls_back_without_changing_results(tiny, monkeypatch):
    """A backend that fails when a network first runs (dynamo raises BackendCompilerFailed): each network
    falls back; the run equals eager."""
    def failing_backend(gm, example_inputs):
        raise RuntimeError("backend compiler failed")

    dynamo_with(monkeypatch, failing_backend)
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
        warnings.simplefilter("error")  # not a compile error: no fallback warning
        method.G(torch.randn(4, cfg.model.z_dim + 1))  # wrong z width: eager raises it too
    assert method.compiled == ["G", "D"]


def test_runtime_errors_in_compiled_code_surface_and_are_not_rerun_eagerly(tiny, monkeypatch, recwarn):
    """Out of memory while the compiled graph runs, after it moved the BatchNorm statistics: the error
    is raised as it is; an eager re-run would move them a second time and hide the error."""
    def oom_backend(gm, example_inputs):
        def run(*args):
            gm(*args)
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return run

    dynamo_with(monkeypatch, oom_backend)
    cfg = tiny(**{"train.compile": True})
    method = build_method(cfg, DataSpec.from_dataset(api.dataset_for(cfg)), torch.device("cpu"))
    bn = next(m for m in method.G.modules() if isinstance(m, _BatchNorm))
    with pytest.raises(torch.OutOfMemoryError):
        method.G(method.noise(4))
    assert int(bn.num_batches_tracked) == 1  # the compiled graph ran once, nothing ran it again
    assert method.compiled == ["G", "D"]
    assert not [w for w in recwarn if "torch.compile failed" in str(w.message)]


def test_compiled_networks_keep_their_state_dict_keys(tiny, monkeypatch, recwarn):
    """The real dynamo (with the cheap "eager" backend): every network compiles as one graph
    (`fullgraph=True`: a graph break would fall back with a warning)."""
    seen = []
    dynamo_with(monkeypatch, "eager", seen)
    run = api.train(two_steps(tiny, "compiled", **{"train.compile": True}))
    eager = api.train(two_steps(tiny, "eager"))
    assert seen == [("default", {"fullgraph": True})] * 2
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


@pytest.mark.parametrize("native", [True, False])
def test_amp_auto_is_bf16_only_where_it_is_native(tiny, monkeypatch, native):
    monkeypatch.setattr(base, "native_bf16", lambda device: native)
    assert check_amp("auto", torch.device("cpu")) == (torch.bfloat16 if native else None)
    run = api.train(two_steps(tiny, "auto", **{"train.amp": "auto", "train.device": "cpu"}))
    assert load_checkpoint(run, trainer_state=False).meta["amp"] == ("bf16" if native else "off")
    assert_finite(run)


@pytest.mark.skipif(not bf16_cpu, reason="this CPU has no bfloat16 support")
def test_bf16_where_it_is_emulated_warns(monkeypatch):
    monkeypatch.setattr(base, "native_bf16", lambda device: False)
    with pytest.warns(UserWarning, match="no native bfloat16.*train.amp=auto"):
        assert check_amp("bf16", torch.device("cpu")) == torch.bfloat16
    monkeypatch.setattr(base, "native_bf16", lambda device: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_amp("bf16", torch.device("cpu")) == torch.bfloat16


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
    batches = ChannelsLast(BatchSource(ds.x, ds.y, BatchSampler(len(ds), 8, seed=0)))
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
