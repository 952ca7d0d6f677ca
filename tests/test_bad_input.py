"""Bad input ends in one line `gankit: error: ...`, a non-zero exit and no traceback."""
import json
import shutil

import pytest
import torch

from gankit import api
from gankit.cli import main
from gankit.errors import CheckpointError, GankitError
from gankit.generator import load_generator


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    from conftest import tiny_config
    return api.train(tiny_config(tmp_path_factory.mktemp("r") / "run", "ring-gan",
                                 **{"train.steps": 2, "train.checkpoint_every": 2}))


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path


def one_error_line(capsys, code: int) -> str:
    """The single stderr line of a failed command."""
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error: "), err
    return lines[0]


def test_sample_on_an_unknown_device(ring_run, tmp_path, capsys):
    line = one_error_line(capsys, main(["sample", str(ring_run), "--device", "foo", "--out", str(tmp_path / "p.npy")]))
    assert "--device=foo is not a device" in line and "cuda:N" in line


def test_sample_on_cuda_without_a_gpu(ring_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    line = one_error_line(capsys, main(["sample", str(ring_run), "--device", "cuda", "--out", str(tmp_path / "p.npy")]))
    assert "no CUDA GPU is visible" in line and "--device=auto or cpu" in line


@pytest.mark.parametrize("out", ["p.csv", "sub/p.npy", "sub/scatter.png"])
def test_sample_out_under_a_regular_file(ring_run, a_file, capsys, out):
    line = one_error_line(capsys, main(["sample", str(ring_run), "-n", "4", "--out", str(a_file / out)]))
    assert f"'{a_file}' is a file, not a folder" in line


def test_sample_folder_under_a_regular_file(a_file, capsys, tmp_path):
    from conftest import tiny_config
    run = api.train(tiny_config(tmp_path / "d", **{"train.steps": 1, "train.checkpoint_every": 1}))
    line = one_error_line(capsys, main(["sample", str(run), "-n", "4", "--out", f"{a_file}/samples/"]))
    assert "is a file, not a folder" in line


def test_eval_out_under_a_regular_file_fails_before_evaluating(a_file, tmp_path, capsys):
    code = main(["eval", "--real", str(tmp_path), "--fake", str(tmp_path), "--device", "cpu",
                 "--out", str(a_file / "results.jsonl")])
    assert "is a file, not a folder" in one_error_line(capsys, code)


def test_eval_on_an_unknown_device(tmp_path, capsys):
    code = main(["eval", "--real", str(tmp_path), "--fake", str(tmp_path), "--device", "cdua"])
    assert "did you mean 'cuda'?" in one_error_line(capsys, code)


def test_os_errors_of_other_writes_are_one_line(a_file, capsys):
    code = main(["train", "--preset", "ring-gan", f"run.dir={a_file / 'run'}", "train.steps=1", "data.n=64",
                 "train.batch_size=16", "train.progress=none", "train.tensorboard=false"])
    assert "a-file" in one_error_line(capsys, code)


def broken_copy(run, tmp_path, edit):
    """A copy of the run's latest checkpoint whose state.json document went through `edit`."""
    src = sorted((run / "checkpoints").glob("step-*"))[-1]
    dst = tmp_path / "ckpt"
    shutil.copytree(src, dst)
    doc = json.loads((dst / "state.json").read_text())
    edit(doc)
    (dst / "state.json").write_text(json.dumps(doc))
    return dst


@pytest.mark.parametrize("edit, missing", [
    (lambda doc: doc.pop("meta"), "'meta'"),
    (lambda doc: doc["meta"].pop("config"), "'config'"),
    (lambda doc: doc["meta"].pop("data"), "'data'"),
    (lambda doc: doc["meta"]["data"].pop("kind"), "kind"),
])
def test_state_json_missing_keys(ring_run, tmp_path, capsys, edit, missing):
    ckpt = broken_copy(ring_run, tmp_path, edit)
    with pytest.raises(CheckpointError, match=f"incomplete state.json .*{missing}"):
        load_generator(ckpt)
    for command in (["sample", str(ckpt), "--out", str(tmp_path / "p.npy")], ["info", str(ckpt)]):
        assert "incomplete state.json" in one_error_line(capsys, main(command))


@pytest.mark.parametrize("hidden, problem", [([16, 16], "in the weights but"), ([32], "is unexpected")])
def test_state_json_that_does_not_fit_the_weights(ring_run, tmp_path, capsys, hidden, problem):
    ckpt = broken_copy(ring_run, tmp_path, lambda doc: doc["meta"]["config"]["model"]["g"].update(hidden=hidden))
    line = one_error_line(capsys, main(["sample", str(ckpt), "--out", str(tmp_path / "p.npy")]))
    assert "the weights do not fit the model" in line and problem in line


@pytest.mark.parametrize("override, message", [
    ("gan.augment=colr", "did you mean 'color'?"),
    ("model.g.hidden=[0]", "model.g.hidden must be >= 1, got 0"),
    ("model.d.hidden=[8,0]", "model.d.hidden must be >= 1, got 0"),
    ("monitor.metrics=fdi", "did you mean 'fid'?"),
    ("train.device=foo", "train.device=foo is not a device"),
    ("data.name=mnst", "did you mean 'mnist'?"),
])
def test_dry_run_rejects_names_that_would_fail_later(capsys, override, message):
    line = one_error_line(capsys, main(["train", "--dry-run", "--preset", "ring-gan", override]))
    assert message in line


def test_api_train_checks_the_names_before_writing(tmp_path):
    with pytest.raises(GankitError, match="did you mean 'color'"):
        api.train({"preset": "ring-gan", "run": {"dir": str(tmp_path / "run")}, "gan": {"augment": "colr"}})
    assert not (tmp_path / "run").exists()


def test_dry_run_accepts_a_gpu_device_without_a_gpu(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["train", "--dry-run", "--preset", "ring-gan", "train.device=cuda:1"]) == 0
    assert "device: cuda:1" in capsys.readouterr().out
