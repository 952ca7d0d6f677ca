"""A real non-finite loss (not a poisoned log dict) stops training with TrainingDiverged naming the first
bad step and value, and keeps the last good checkpoint, which loads, samples and resumes."""
import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from gankit import api
from gankit.checkpoint import load_checkpoint
from gankit.errors import TrainingDiverged
from gankit.generator import load_generator
from gankit.methods import BatchSource
from gankit.methods.gan import GAN


def read_records(run):
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]


def poison_data(monkeypatch, at_step, value):
    """The real batch of the 0-based step `at_step` holds one non-finite pixel (digits-dcgan: d_steps=1,
    so the k-th batch drawn is step k's)."""
    original, calls = BatchSource.next, []

    def next_batch(self):
        batch = original(self)
        calls.append(None)
        if len(calls) == at_step + 1:
            batch["image"] = batch["image"].clone()
            batch["image"][0, 0, 0, 0] = value
        return batch
    monkeypatch.setattr(BatchSource, "next", next_batch)


def poison_weight(monkeypatch, at_step, value):
    """Before the 0-based step `at_step`, one weight of D's first layer becomes non-finite (an overflow)."""
    original = GAN.train_step

    def train_step(self, batches, step):
        if step == at_step:
            with torch.no_grad():
                next(self.Ds[0].parameters()).view(-1)[0] = value
        return original(self, batches, step)
    monkeypatch.setattr(GAN, "train_step", train_step)


def spy_losses(monkeypatch):
    """Record the losses each step really computed (the logs are left as they are)."""
    original, seen = GAN.train_step, {}

    def train_step(self, batches, step):
        logs = original(self, batches, step)
        seen[step] = {k: float(v) for k, v in logs.items()}
        return logs
    monkeypatch.setattr(GAN, "train_step", train_step)
    return seen


def diverge(tiny, monkeypatch, poison, at_step, value):
    """Train digits-dcgan (8 steps, log every 2, checkpoint every 4) poisoned at `at_step`; return the
    config, the losses each step computed and the TrainingDiverged message."""
    cfg = tiny()
    seen = spy_losses(monkeypatch)
    poison(monkeypatch, at_step, value)  # applied inside the spy: the spy sees what training computed
    with pytest.raises(TrainingDiverged) as info:
        api.train(cfg)
    return cfg, seen, str(info.value)


@pytest.mark.parametrize("poison, at_step, value", [
    (poison_data, 5, float("nan")),   # the 6th step, a log step (log_every=2)
    (poison_data, 4, float("inf")),  # the 5th, between log steps: some scores are still finite there
    (poison_weight, 7, float("inf")),  # the 8th and last step, a checkpoint step: no step-8 checkpoint
])
def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tiny, monkeypatch, poison, at_step, value):
    cfg, seen, message = diverge(tiny, monkeypatch, poison, at_step, value)
    run = cfg.run.dir

    # the loss itself was non-finite at the poisoned step, and every step before it was finite
    assert not math.isfinite(seen[at_step]["loss_d"])
    assert all(math.isfinite(v) for s in range(at_step) for v in seen[s].values())
    # the message names the first bad step (1-based), a logged quantity that was non-finite there, and the kept checkpoint
    found = re.search(r"diverged at step (\d+): (\w+) = (\S+?);", message)
    assert found, message
    step, key, shown = int(found[1]), found[2], float(found[3])
    assert step == at_step + 1
    assert key in seen[at_step] and not math.isfinite(seen[at_step][key]) and not math.isfinite(shown)
    assert "step-00000004" in message

    # nothing after the last good step was logged or saved; the step-4 checkpoint is intact and loads
    assert [r["step"] for r in read_records(run)] == [s for s in (2, 4, 6) if s <= at_step]
    assert sorted(p.name for p in (Path(run) / "checkpoints").glob("step-*")) == ["step-00000004"]
    ck = load_checkpoint(run)
    assert ck.step == 4
    assert all(torch.isfinite(t).all() for sd in ck.weights.values() for t in sd.values() if t.is_floating_point())
    gen = load_generator(run)
    assert gen.step == 4 and torch.isfinite(gen.sample(4, seed=0)).all()

    # without the poison the run resumes from step 4 and finishes with finite losses
    monkeypatch.undo()
    api.train(resume=run)
    assert load_checkpoint(run).step == 8
    records = read_records(run)
    assert [r["step"] for r in records] == [2, 4, 6, 8]
    assert all(math.isfinite(v) for r in records for v in r.values())


def test_the_message_names_the_non_finite_loss(tiny, monkeypatch):
    _, seen, message = diverge(tiny, monkeypatch, poison_data, 5, float("nan"))
    assert not math.isfinite(seen[5]["loss_d"])
    assert re.search(r"diverged at step 6: loss_[dg] = nan", message), message


def test_a_key_logged_on_some_steps_is_reported_at_its_own_step():
    from gankit.trainer import Trainer
    trainer = Trainer.__new__(Trainer)  # only what _flush reads before it raises
    one, nan = torch.tensor(1.0), torch.tensor(float("nan"))
    trainer.pending = [{"loss_d": one, "r1": one}, {"loss_d": one}, {"loss_d": one}, {"loss_d": one, "r1": nan}]
    trainer.step, trainer.last_good = 4, None  # the pending steps are 1..4; r1 is nan at step 4
    trainer.method = SimpleNamespace(divergence_advice=lambda: "try a lower learning rate")
    with pytest.raises(TrainingDiverged, match=r"step 4: r1 = nan"):
        trainer._flush()
