import json

import pytest
import torch

from gankit import api
from gankit.methods.gan import GAN
from gankit.monitor.alarms import AlarmMonitor, pairwise_diversity
from gankit.trainer import TrainingInterrupted


def records(**series):
    n = len(next(iter(series.values())))
    return [{"step": 10 * (i + 1), **{k: v[i] for k, v in series.items()}} for i in range(n)]


def fire(monitor, recs):
    return [a for r in recs for a in monitor.check_record(r)]


def test_d_wins_fires_after_patience_and_names_a_cure():
    m = AlarmMonitor(probabilities=True, patience=3)
    alarms = fire(m, records(d_real=[0.99] * 4, d_fake=[0.01] * 4, grad_norm_g=[1.0] * 4))
    assert [a.kind for a in alarms] == ["d_wins"] and alarms[0].step == 30
    assert "D(G(z)) = 0.01" in alarms[0].message() and "TTUR" in alarms[0].message()


def test_healthy_equilibrium_is_quiet():
    m = AlarmMonitor(probabilities=True, patience=3)
    assert fire(m, records(d_real=[0.6, 0.55, 0.5, 0.52], d_fake=[0.4, 0.45, 0.5, 0.48],
                           loss_d=[1.3] * 4, loss_g=[0.8] * 4, grad_norm_g=[0.5] * 4, grad_norm_d=[2.0] * 4)) == []


def test_interrupted_streak_does_not_fire():
    m = AlarmMonitor(probabilities=True, patience=3)
    assert fire(m, records(d_real=[0.99, 0.99, 0.6, 0.99, 0.99], d_fake=[0.01, 0.01, 0.4, 0.01, 0.01])) == []


def test_vanishing_gradient_and_divergence():
    m = AlarmMonitor(probabilities=False, patience=2)
    kinds = [a.kind for a in fire(m, records(grad_norm_g=[1e-6, 1e-6, 1.0], loss_d=[0.1, 0.2, 5e5]))]
    assert kinds == ["g_vanishing", "diverging"]


def test_collapse_by_diversity_and_by_modes():
    m = AlarmMonitor(probabilities=True, patience=1)
    real = torch.randn(64, 1, 8, 8)
    assert m.check_diversity(5, torch.randn(64, 1, 8, 8), pairwise_diversity(real)) == []
    collapsed = torch.zeros(64, 1, 8, 8) + 0.01 * torch.randn(64, 1, 8, 8)
    assert [a.kind for a in m.check_diversity(6, collapsed, pairwise_diversity(real))] == ["collapse"]
    m2 = AlarmMonitor(probabilities=True, patience=1)
    assert m2.check_modes(1, 25, 25) == [] and m2.check_modes(2, 3, 25)[0].kind == "collapse"


def test_metric_worse_k_times_in_a_row():
    m = AlarmMonitor(probabilities=True, patience=2)
    fired = [a for step, v in enumerate([1.0, 0.8, 0.9, 0.85, 0.7, 0.9, 1.2]) for a in
             m.check_metric(step, "reverse_kl", v, lower_is_better=True)]
    assert [a.step for a in fired] == [3, 6]


def test_collapsing_run_raises_alarm_and_stops(tiny, monkeypatch):
    monkeypatch.setattr(GAN, "preview", lambda self, inputs: torch.zeros(len(inputs["z"]), 1, 8, 8))
    cfg = tiny(**{"monitor.stop_on_alarm": True, "monitor.patience": 1})
    with pytest.raises(TrainingInterrupted, match=r"collapse"):
        api.train(cfg)
    alarms = [json.loads(l) for l in open(f"{cfg.run.dir}/alarms.jsonl")]
    assert alarms[0]["alarm"] == "collapse" and alarms[0]["step"] == 4


def test_mixture_evaluation_tracks_best_checkpoint(tiny):
    cfg = tiny("ring-gan", **{"monitor.eval_every": 4, "monitor.eval_n": 200})
    run = api.train(cfg)
    evals = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if "eval/modes" in l]
    assert [e["step"] for e in evals] == [4, 8]
    assert {"eval/modes", "eval/hq_fraction", "eval/reverse_kl"} <= set(evals[0])
    assert (run / "checkpoints" / "best" / "state.json").is_file()
    assert (run / "checkpoints" / "latest").read_text().strip() == "step-00000008"
