import json

import numpy as np
import pytest
import torch

from gankit.checkpoint import (LATEST, STATE_JSON, atomic_write_text, flatten_state, load_checkpoint,
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


def test_checkpoint_files_hold_no_pickle(tmp_path):
    path = save_checkpoint(tmp_path, "step-00000001", {"G": {"w": torch.ones(2)}},
                           {"rng": torch.get_rng_state()}, {"step": 1})
    json.loads((path / STATE_JSON).read_text())
    for f in path.glob("*.safetensors"):
        assert b"\x80\x04" not in f.read_bytes()[:64]  # no pickle protocol header
