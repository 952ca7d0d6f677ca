import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.checkpoint import (LATEST, atomic_write_text, flatten_state, load_checkpoint,
                               resolve_checkpoint, save_checkpoint, unflatten_state)
from gankit.errors import CheckpointError


def test_flatten_round_trip_keeps_types():
    state = {"step": 3, "t": torch.arange(4), "tup": (1, 2.5, None), "arr": np.arange(3, dtype=np.int64),
             "int_keys": {0: {"exp_avg": torch.ones(2)}, 1: {"step": torch.tensor(7.0)}}, "s": "x"}
    tensors = {}
    skeleton = flatten_state(state, tensors)
    json.dumps(skeleton)  # JSON-able
    back = unflatten_state(json.loads(json.dumps(skeleton)), tensors)
    assert back["tup"] == (1, 2.5, None) and back["s"] == "x" and back["step"] == 3
    assert torch.equal(back["t"], state["t"]) and np.array_equal(back["arr"], state["arr"])
    assert set(back["int_keys"]) == {0, 1} and torch.equal(back["int_keys"][0]["exp_avg"], torch.ones(2))


def test_save_load_latest_and_prune(tmp_path):
    root = tmp_path / "checkpoints"
    for step in (1, 2, 3):
        save_checkpoint(root, f"step-{step:08d}", {"G": {"w": torch.full((2,), float(step))}},
                        {"opt": {"lr": 0.1}}, {"step": step}, keep=2)
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["step-00000002", "step-00000003"]
    assert (root / LATEST).read_text().strip() == "step-00000003"
    assert not list(root.glob(".tmp-*"))
    ck = load_checkpoint(tmp_path)  # the run dir resolves to the latest
    assert ck.step == 3 and torch.equal(ck.weights["G"]["w"], torch.full((2,), 3.0))
    assert ck.state == {"opt": {"lr": 0.1}}
    files = sorted(p.name for p in (root / "step-00000003").iterdir())
    assert files == ["model.safetensors", "state.json", "state.safetensors"]


def test_missing_or_empty_paths_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve_checkpoint(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        resolve_checkpoint(tmp_path)


def test_corrupt_checkpoint_is_reported(tmp_path):
    path = save_checkpoint(tmp_path, "step-00000001", {"G": {"w": torch.ones(2)}}, {}, {"step": 1})
    (path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(path)


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two" and len(list(tmp_path.iterdir())) == 1


def _save(root, name, step):
    return save_checkpoint(root, name, {"G": {"w": torch.full((2,), float(step))}}, {}, {"step": step}, latest=False)


class Crash(BaseException):
    """Stands for the process dying at that point."""


def test_crash_while_replacing_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    root = tmp_path / "checkpoints"
    _save(root, "best", 1)
    real_replace = os.replace

    def crash_before_new_is_in_place(src, dst):
        if Path(src).name.startswith(".tmp-best"):
            raise Crash()
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_before_new_is_in_place)
    with pytest.raises(Crash):
        _save(root, "best", 2)
    monkeypatch.undo()
    assert not (root / "best").exists()  # only the copy renamed aside is left
    assert load_checkpoint(root / "best").step == 1
    _save(root, "best", 3)  # the next save replaces it and clears the aside copy
    assert load_checkpoint(root / "best").step == 3 and sorted(p.name for p in root.iterdir()) == ["best"]


def test_crash_before_the_old_copy_is_deleted_keeps_the_new_one(tmp_path, monkeypatch):
    root = tmp_path / "checkpoints"
    _save(root, "best", 1)
    real_rmtree = shutil.rmtree

    def crash_on_old_copy(path, *args, **kwargs):
        if Path(path).name in ("best", ".old-best"):
            raise Crash()
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", crash_on_old_copy)
    with pytest.raises(Crash):
        _save(root, "best", 2)
    monkeypatch.undo()
    assert load_checkpoint(root / "best").step == 2
    _save(root, "best", 3)
    assert sorted(p.name for p in root.iterdir()) == ["best"]


@pytest.mark.parametrize("pointer", ["../../other/checkpoints/step-00000001", "..", ".", "OTHER"])
def test_latest_pointing_outside_the_checkpoints_is_refused(tmp_path, pointer):
    other = save_checkpoint(tmp_path / "other" / "checkpoints", "step-00000001", {"G": {"w": torch.ones(2)}},
                            {}, {"step": 1})
    run = tmp_path / "runs" / "run"
    save_checkpoint(run / "checkpoints", "step-00000002", {"G": {"w": torch.ones(2)}}, {}, {"step": 2})
    (run / "checkpoints" / LATEST).write_text(str(other) if pointer == "OTHER" else pointer + "\n")
    with pytest.raises(CheckpointError, match="not a checkpoint inside") as err:
        resolve_checkpoint(run)
    assert "\n" not in str(err.value)


def test_latest_may_name_its_checkpoint_by_path(tmp_path):
    root = tmp_path / "checkpoints"
    for step in (1, 2):
        save_checkpoint(root, f"step-{step:08d}", {"G": {"w": torch.ones(2)}}, {}, {"step": step})
    (root / LATEST).write_text("step-00000002/../step-00000001\n")  # resolves to a direct child
    assert resolve_checkpoint(tmp_path).name == "step-00000001"


def test_loading_never_unpickles(tiny, monkeypatch):
    import pickle

    from gankit import api, load_generator

    run = api.train(tiny(**{"train.steps": 2, "train.checkpoint_every": 2}))

    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint load unpickled")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    ck = load_checkpoint(run)
    assert ck.step == 2 and "G" in ck.weights and ck.state
    g = load_generator(run)
    assert g.step == 2 and torch.isfinite(g.sample(4, seed=0)).all()
