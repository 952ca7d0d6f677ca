"""In-training evaluation through the metrics registry, and the learning-rate schedule."""
import json

import pytest
import torch

from gankit import api
from gankit.errors import GankitError
from gankit.methods.optim import lr_factor
from gankit.metrics import evaluate as ev

from test_eval import StubNet


@pytest.fixture(autouse=True)
def gankit_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


@pytest.fixture
def stub_networks(monkeypatch):
    built = []

    def build(kind, *args):
        built.append(kind)
        return StubNet()
    monkeypatch.setattr(ev, "_build_net", build)
    return built


def evals(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"eval/' in line]


def test_image_metrics_run_during_training_and_keep_the_best(tiny, stub_networks):
    cfg = tiny(**{"model.conditional": True, "monitor.eval_every": 4, "monitor.eval_n": 40,
                  "monitor.metrics": "cfid,class_acc"})
    run = api.train(cfg)
    rows = evals(run)
    assert [r["step"] for r in rows] == [4, 8]
    assert {"eval/cfid", "eval/class_acc"} <= set(rows[0])
    assert all(r["eval/cfid"] >= 0 and 0 <= r["eval/class_acc"] <= 1 for r in rows)
    assert rows[0]["eval/cfid"] != rows[1]["eval/cfid"]  # fresh samples of a changed G
    assert stub_networks == ["classifier"]  # built once for the whole run
    best = json.loads((run / "checkpoints" / "best" / "state.json").read_text())["meta"]["step"]
    assert best == min(rows, key=lambda r: r["eval/cfid"])["step"]  # tracked: cfid (auto), lower is better


def test_auto_metric_for_images_is_fid(tiny, stub_networks):
    run = api.train(tiny(**{"monitor.eval_every": 8, "monitor.eval_n": 20}))
    assert "eval/fid" in evals(run)[0] and stub_networks == ["inception"]


def test_bad_in_training_metric_fails_before_training(tiny):
    with pytest.raises(GankitError, match="class_acc needs|metric 'modes'"):
        api.train(tiny(**{"monitor.eval_every": 4, "monitor.metrics": "modes"}))
    with pytest.raises(GankitError, match="unknown metric 'fdi'"):
        api.train(tiny(**{"monitor.eval_every": 4, "monitor.metrics": "fdi"}))


def test_missing_classifier_fails_before_step_one(tiny, tmp_path):
    cfg = tiny(**{"monitor.eval_every": 4, "monitor.metrics": "cfid", "monitor.classifier": str(tmp_path / "no.st")})
    with pytest.raises(GankitError):
        api.train(cfg)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_lr_factor_schedules():
    assert [lr_factor(s, 10, "none", 0.5) for s in (0, 9)] == [1.0, 1.0]
    assert [round(lr_factor(s, 10, "linear", 0.5), 6) for s in range(4, 10)] == [1.0, 1.0, 0.8, 0.6, 0.4, 0.2]
    assert lr_factor(0, 10, "cosine", 0.0) == 1.0 and lr_factor(5, 10, "cosine", 0.0) == pytest.approx(0.5)


def test_onecycle_follows_torchs_one_cycle_lr():
    total, pct = 100, 0.3
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=total, pct_start=pct,
                                                anneal_strategy="cos", cycle_momentum=False)
    theirs = []
    for _ in range(total):
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    ours = [lr_factor(s, total, "onecycle", pct) for s in range(total)]
    assert ours[0] == pytest.approx(1 / 25) and ours[30] == 1.0 and ours[-1] < 1e-3
    assert all(a < b for a, b in zip(ours[:30], ours[1:31])) and all(a > b for a, b in zip(ours[30:], ours[31:]))
    assert max(abs(a - b) for a, b in zip(ours, theirs)) < 0.06  # torch peaks one step earlier, ends at 1/25e4
    assert lr_factor(0, total, "onecycle", 0.0) == 1.0  # no warm-up: a cosine decay


def test_linear_decay_reaches_the_optimizers(tiny):
    """(Interrupt + resume under a schedule: test_trainer's every-option test.)"""
    from gankit.checkpoint import load_checkpoint

    keys = {"optim.lr_decay": "linear", "optim.decay_start": 0.5, "optim.g_lr": 1e-3, "optim.d_lr": 4e-3}
    full = api.train(tiny(name="full", **keys))
    groups = {k: v["param_groups"][0] for k, v in load_checkpoint(full).state["optimizers"].items()}
    assert groups["G"]["initial_lr"] == pytest.approx(1e-3) and groups["D"]["initial_lr"] == pytest.approx(4e-3)
    assert groups["G"]["lr"] == pytest.approx(1e-3 * lr_factor(7, 8, "linear", 0.5))  # the last step's lr
    assert groups["D"]["lr"] == pytest.approx(4e-3 * lr_factor(7, 8, "linear", 0.5))


def test_evaluate_is_part_of_the_package_api():
    import gankit

    assert gankit.evaluate is ev.evaluate and "evaluate" in gankit.__all__


def test_building_feature_networks_leaves_the_global_rng_alone(tmp_path, monkeypatch):
    """The networks' random initialisation (overwritten by the loaded weights) must not shift training's stream."""
    from gankit.metrics.classifier import DigitClassifier, save_classifier
    from gankit.metrics.evaluate import _build_net

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    save_classifier(DigitClassifier(width=4, feature_dim=8), tmp_path / "classifiers" / "mnist.safetensors", {})
    state = torch.get_rng_state()
    _build_net("classifier", None, None, "mnist", "cpu")
    assert torch.equal(state, torch.get_rng_state())
