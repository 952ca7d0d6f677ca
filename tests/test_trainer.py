import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from gankit import api
from gankit.checkpoint import load_checkpoint
from gankit.errors import CheckpointError
from gankit.errors import ConfigError, TrainingDiverged
from gankit.methods.gan import GAN
from gankit.trainer import TrainingInterrupted


def final_weights(run_dir):
    return load_checkpoint(run_dir).weights


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for net in a:
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k} differs"


def test_run_directory_contents(tiny):
    run = api.train(tiny())
    names = {p.name for p in run.iterdir()}
    assert {"config.yaml", "metrics.jsonl", "samples", "plots", "checkpoints"} <= names
    records = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6, 8]
    assert {"loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"} <= set(records[0])
    assert (run / "plots" / "losses.png").stat().st_size > 1000
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-00000004.png", "step-00000008.png"]


@pytest.mark.parametrize("preset", ["digits-dcgan", "ring-gan"])
def test_resume_is_bit_exact(tiny, preset):
    full = api.train(tiny(preset, name="full"))
    half = api.train(tiny(preset, name="half", **{"train.steps": 4}))
    resumed = api.train(resume=half, overrides=["train.steps=8"])
    assert load_checkpoint(resumed).step == 8
    assert_same_weights(final_weights(full), final_weights(resumed))


def interrupt_at(monkeypatch, at_step):
    """Make GAN.train_step deliver a Ctrl-C (SIGINT) during step `at_step`; return the undo."""
    original = GAN.train_step

    def interrupting(self, batches, step):
        if step == at_step:
            os.kill(os.getpid(), signal.SIGINT)  # handled after this step completes
        return original(self, batches, step)

    monkeypatch.setattr(GAN, "train_step", interrupting)
    return lambda: monkeypatch.setattr(GAN, "train_step", original)


def test_resume_is_bit_exact_with_every_option(tiny, monkeypatch):
    keys = {"loss.name": "wasserstein", "loss.gp": 10.0, "gan.ema": 0.9, "gan.num_discriminators": 2,
            "gan.augment": "translation,cutout", "train.d_steps": 2, "model.conditional": True,
            "gan.instance_noise": 0.1, "optim.lr_decay": "cosine"}
    full = api.train(tiny(name="full", **keys))
    undo = interrupt_at(monkeypatch, 2)
    with pytest.raises(TrainingInterrupted):
        api.train(tiny(name="half", **keys))
    undo()
    resumed = api.train(resume=tiny(name="half").run.dir)
    assert_same_weights(final_weights(full), final_weights(resumed))
    assert "G_ema" in final_weights(full) and "D1" in final_weights(full)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny, monkeypatch):
    original = GAN.train_step

    def poisoned(self, batches, step):
        logs = original(self, batches, step)
        if step == 5:  # the 6th step
            logs["loss_d"] = torch.tensor(float("nan"))
        return logs

    monkeypatch.setattr(GAN, "train_step", poisoned)
    cfg = tiny()
    with pytest.raises(TrainingDiverged, match=r"step 6: loss_d = nan.*step-00000004"):
        api.train(cfg)
    assert load_checkpoint(cfg.run.dir).step == 4


def test_interrupt_writes_a_resumable_checkpoint(tiny, monkeypatch):
    undo = interrupt_at(monkeypatch, 2)
    cfg = tiny(name="half")
    with pytest.raises(TrainingInterrupted, match="--resume"):
        api.train(cfg)
    assert load_checkpoint(cfg.run.dir).step == 3
    undo()
    resumed = api.train(resume=cfg.run.dir)
    full = api.train(tiny(name="full"))
    assert_same_weights(final_weights(full), final_weights(resumed))


def test_existing_run_dir_is_not_overwritten(tiny):
    cfg = tiny()
    api.train(cfg)
    with pytest.raises(ConfigError, match="already holds a run"):
        api.train(tiny())


def test_epochs_budget_counts_batches(tiny):
    cfg = tiny("ring-gan", **{"train.steps": None, "train.epochs": 0.5, "train.batch_size": 64})
    run = api.train(cfg)
    assert load_checkpoint(run).step == 4  # 512 points / 64 = 8 batches per epoch


def test_sigkill_mid_training_resumes_from_last_checkpoint(tmp_path):
    run = tmp_path / "killed"
    args = [sys.executable, "-m", "gankit", "train", "--preset", "ring-gan", f"run.dir={run}",
            "train.steps=100000", "train.checkpoint_every=20", "train.progress=none", "train.tensorboard=false",
            "data.n=512", "model.g.hidden=[16]", "model.d.hidden=[16]"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not (run / "checkpoints" / "latest").exists():
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    step = load_checkpoint(run).step
    assert step >= 20 and step % 20 == 0
    resumed = api.train(resume=run, overrides=[f"train.steps={step + 20}", "train.progress=none"])
    assert load_checkpoint(resumed).step == step + 20


def test_time_budget_checkpoints_and_resumes(tiny):
    run = api.train(tiny(**{"train.max_minutes": 0.0, "train.steps": 8, "train.log_every": 2}))
    assert load_checkpoint(run).step == 2  # the first log point is past a zero budget
    resumed = api.train(resume=run, overrides=["train.max_minutes=null"])
    assert load_checkpoint(resumed).step == 8


def test_sampling_needs_only_weights_and_state_json(tiny):
    from gankit.generator import load_generator

    run = api.train(tiny("ring-gan", **{"train.steps": 2, "train.checkpoint_every": 2}))
    for leftover in (run / "checkpoints").glob("step-*/state.safetensors"):
        leftover.unlink()  # e.g. only model.safetensors + state.json were copied elsewhere
    assert load_generator(run).sample(5, seed=0).shape == (5, 2)
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(run)  # resuming still needs the trainer state, and says so
