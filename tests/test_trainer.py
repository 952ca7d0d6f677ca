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


def steps_logged(run, name="metrics.jsonl"):
    return [json.loads(line)["step"] for line in (run / name).read_text().splitlines()]


def test_sigkill_mid_training_resumes_bit_exactly_with_continuous_logs(tmp_path):
    run = tmp_path / "killed"
    keys = ["--preset", "ring-gan", "train.checkpoint_every=20", "train.log_every=5", "train.progress=none",
            "train.tensorboard=false", "train.threads=1", "data.n=512", "model.g.hidden=[16]", "model.d.hidden=[16]"]
    args = [sys.executable, "-m", "gankit", "train", *keys, f"run.dir={run}", "train.steps=100000"]
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
    resumed = api.train(resume=run, overrides=[f"train.steps={step + 20}"])
    assert load_checkpoint(resumed).step == step + 20
    assert steps_logged(run) == list(range(5, step + 21, 5))  # no records of the killed steps twice
    whole = tmp_path / "whole"
    assert subprocess.run([sys.executable, "-m", "gankit", "train", *keys, f"run.dir={whole}",
                           f"train.steps={step + 20}"], capture_output=True).returncode == 0
    assert_same_weights(final_weights(whole), final_weights(resumed))


def test_resume_rolls_logs_back_to_the_checkpoint(tiny):
    cfg = tiny(**{"train.steps": 8})
    run = api.train(cfg)
    with open(run / "alarms.jsonl", "a") as fh:  # alarms raised after the step-4 checkpoint
        fh.write('{"alarm": "d_wins", "step": 4}\n{"alarm": "d_wins", "step": 6}\n')
    # a crash after step 8's logs but before its checkpoint: latest is still step 4
    (run / "checkpoints" / "latest").write_text("step-00000004\n")
    for later in (run / "checkpoints").glob("step-00000008"):
        __import__("shutil").rmtree(later)
    api.train(resume=run)
    assert steps_logged(run) == [2, 4, 6, 8]
    assert steps_logged(run, "alarms.jsonl") == [4]


def test_resume_with_overrides_trains_with_the_new_values_and_keeps_the_config_history(tiny):
    half = api.train(tiny(**{"train.steps": 4, "optim.d_lr": 2e-4}))
    resumed = api.train(resume=half, overrides=["train.steps=8", "optim.g_lr=0.123", "optim.d_betas=[0.0, 0.9]"])
    ck = load_checkpoint(resumed)
    groups = {name: ck.state["optimizers"][name]["param_groups"][0] for name in ("G", "D")}
    assert groups["G"]["lr"] == 0.123 and groups["D"]["betas"] == (0.0, 0.9)
    assert ck.meta["config"]["optim"]["g_lr"] == 0.123
    history = sorted(p.name for p in (resumed / "configs").iterdir())
    assert history == ["step-00000000.yaml", "step-00000004.yaml"]
    first_line = (resumed / "configs" / "step-00000004.yaml").read_text().splitlines()[0]
    assert "optim.g_lr: 0.0002 -> 0.123" in first_line and "train.steps: 4 -> 8" in first_line
    assert "g_lr: 0.0002" in (resumed / "configs" / "step-00000000.yaml").read_text()


def test_resume_override_changes_the_trajectory_like_a_fresh_optimizer_setting(tiny):
    """Training on at a new lr gives what the new lr gives, not what the old one would."""
    half = api.train(tiny(name="half", **{"train.steps": 4}))
    same = api.train(tiny(name="same", **{"train.steps": 4}))
    a = final_weights(api.train(resume=half, overrides=["train.steps=6", "optim.g_lr=0.0"]))
    b = final_weights(same)
    params = lambda w: {"G": {k: v for k, v in w["G"].items() if "running" not in k and "batches" not in k}}  # noqa: E731
    assert_same_weights(params(a), params(b))  # lr 0 from step 4: G's weights stay as they were at step 4


def test_resume_of_a_finished_run_is_refused_and_leaves_its_config(tiny):
    run = api.train(tiny())
    before = (run / "config.yaml").read_text()
    with pytest.raises(ConfigError, match=r"already finished \(8 of 8 steps\).*train.steps=16"):
        api.train(resume=run, overrides=["optim.g_lr=0.5"])
    assert (run / "config.yaml").read_text() == before


def test_unfitting_optimizer_state_is_one_clear_error(tiny, monkeypatch):
    run = api.train(tiny(**{"train.steps": 4}))
    with pytest.raises(CheckpointError, match="optimizer G was saved as Adam.*optim.name=rmsprop"):
        api.train(resume=run, overrides=["train.steps=8", "optim.name=rmsprop"])

    def broken(self, state):
        raise ValueError("loaded state dict contains a parameter group that doesn't match the size of optimizer's group")

    monkeypatch.setattr(torch.optim.Optimizer, "load_state_dict", broken)
    with pytest.raises(CheckpointError, match="does not fit this config .ValueError: loaded state dict"):
        api.train(resume=run, overrides=["train.steps=8"])


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


def test_snapshot_minutes_keep_checkpoints_at_training_time_marks_across_a_resume(tiny, monkeypatch):
    """With a clock that advances 20 s per step (log points every 2 steps), train.snapshot_minutes saves
    checkpoints/minute-M at the first log point past each mark; a resumed run goes on from the recorded time."""
    import types

    from gankit import trainer as trainer_module

    clock = [1000.0]
    monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(monotonic=lambda: clock[0],
                                                                      strftime=time.strftime))
    original = GAN.train_step

    def slow_step(self, batches, step):
        clock[0] += 20.0
        return original(self, batches, step)
    monkeypatch.setattr(GAN, "train_step", slow_step)
    run = api.train(tiny(**{"train.steps": 4, "train.snapshot_minutes": [0.5, 1, 5]}))
    ck = run / "checkpoints"
    assert load_checkpoint(ck / "minute-0.5").step == 2 and load_checkpoint(ck / "minute-1").step == 4
    assert load_checkpoint(ck / "minute-1").meta["train_seconds"] == pytest.approx(80.0)
    assert not (ck / "minute-5").exists()
    clock[0] += 3600  # time between the two parts does not count
    api.train(resume=run, overrides=["train.steps=8", "train.snapshot_minutes=[1, 2, 2.5]"])
    assert load_checkpoint(ck / "minute-2").step == 6 and load_checkpoint(ck / "minute-2.5").step == 8
    assert load_checkpoint(ck / "minute-1").step == 4  # an earlier mark is not written again
    assert load_checkpoint(run).meta["train_seconds"] == pytest.approx(160.0)
