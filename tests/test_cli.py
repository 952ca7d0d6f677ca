import numpy as np
import pytest
from PIL import Image

from gankit import api
from gankit.cli import main
from gankit.generator import load_generator


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    from conftest import tiny_config
    return api.train(tiny_config(tmp_path_factory.mktemp("d") / "run", **{"model.conditional": True}))


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    from conftest import tiny_config
    return api.train(tiny_config(tmp_path_factory.mktemp("r") / "run", "ring-gan"))


def test_presets_lists_one_line_each(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(l.startswith("digits-dcgan ") for l in lines) and len(lines) >= 5


def test_dry_run_prints_resolved_config(capsys):
    assert main(["train", "--dry-run", "--preset", "ring-gan", "train.steps=7"]) == 0
    out = capsys.readouterr().out
    assert "name: ring" in out and "steps: 7" in out


def test_bad_key_is_one_line_and_exit_2(capsys):
    assert main(["train", "--dry-run", "train.stepz=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "gankit: error: unknown config key 'train.stepz'; did you mean 'train.steps'?"


def test_missing_data_dir_is_a_clear_error(capsys, tmp_path):
    code = main(["train", "--preset", "mnist-mlp", f"data.dir={tmp_path / 'nowhere'}", f"run.dir={tmp_path / 'r'}"])
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "train-images-idx3-ubyte" in err


def test_sample_grid_and_folder(digits_run, tmp_path, capsys):
    grid = tmp_path / "grid.png"
    assert main(["sample", str(digits_run), "-n", "16", "--out", str(grid), "--seed", "1"]) == 0
    assert Image.open(grid).size[0] >= 64
    folder = tmp_path / "each"
    assert main(["sample", str(digits_run), "-n", "5", "--out", f"{folder}/"]) == 0
    files = sorted(folder.iterdir())
    assert len(files) == 5 and Image.open(files[0]).size == (8, 8)


def test_sample_class_and_class_grid(digits_run, tmp_path):
    assert main(["sample", str(digits_run), "-n", "20", "--class-grid", "--out", str(tmp_path / "g.png")]) == 0
    assert main(["sample", str(digits_run), "-n", "4", "--class", "3", "--out", str(tmp_path / "c.png")]) == 0
    assert main(["sample", str(digits_run), "-n", "4", "--class", "12", "--out", str(tmp_path / "x.png")]) == 2


def test_sample_is_seeded_and_works_from_checkpoint_alone(digits_run, tmp_path):
    ckpt = sorted((digits_run / "checkpoints").glob("step-*"))[-1]
    copy = tmp_path / "ckpt"
    import shutil
    shutil.copytree(ckpt, copy)  # no run dir, no dataset: the checkpoint alone
    g = load_generator(copy)
    a, b = g.sample(6, seed=3), g.sample(6, seed=3)
    assert torch_equal(a, b) and a.shape == (6, 1, 8, 8) and a.abs().max() <= 1


def torch_equal(a, b):
    import torch
    return torch.equal(a, b)


def test_sample_points_npy_and_csv(ring_run, tmp_path):
    assert main(["sample", str(ring_run), "-n", "10", "--out", str(tmp_path / "p.npy")]) == 0
    assert np.load(tmp_path / "p.npy").shape == (10, 2)
    assert main(["sample", str(ring_run), "-n", "3", "--out", str(tmp_path / "p.csv")]) == 0
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "x,y"
    assert main(["sample", str(ring_run), "-n", "3", "--out", str(tmp_path / "p.txt")]) == 2


def test_info_summarises_run(digits_run, capsys):
    assert main(["info", str(digits_run)]) == 0
    out = capsys.readouterr().out
    assert "step 8 of 8" in out and "digits" in out and "parameters:" in out


def test_info_on_a_non_run_is_a_clear_error(tmp_path, capsys):
    assert main(["info", str(tmp_path)]) == 2
    assert "no checkpoint found" in capsys.readouterr().err


def test_python_api_trains_from_a_dict_and_samples(tmp_path):
    import gankit
    run = gankit.train({"preset": "ring-gan", "run": {"dir": str(tmp_path / "api")},
                        "data": {"n": 256}, "model": {"g": {"hidden": [16]}, "d": {"hidden": [16]}},
                        "train": {"steps": 3, "progress": "none", "tensorboard": False}})
    g = gankit.load_generator(run)
    assert g.sample(5).shape == (5, 2) and g.step == 3


def test_cli_resume_applies_overrides(tmp_path):
    from conftest import tiny_config
    from gankit.checkpoint import load_checkpoint
    run = api.train(tiny_config(tmp_path / "r", "ring-gan", **{"train.steps": 4}))
    assert main(["train", "--resume", str(run), "train.steps=6"]) == 0
    assert load_checkpoint(run).step == 6


def test_sample_batches_draw_the_same_z_whatever_the_batch_size(digits_run):
    import torch
    g = load_generator(digits_run)
    z = torch.randn(75, g.z_dim, generator=torch.Generator().manual_seed(2))  # one draw, as before streaming
    expected = g(z, torch.arange(75) % g.num_classes)
    for batch_size in (1, 16, 20, 64, 1024):
        assert torch.allclose(g.sample(75, seed=2, batch_size=batch_size), expected, atol=1e-6)
    assert [len(b) for b in g.batches(75, seed=2, batch_size=32)] == [32, 43]


def test_sample_folder_equals_the_api_samples(digits_run, tmp_path):
    from gankit.monitor.images import to_uint8
    assert main(["sample", str(digits_run), "-n", "37", "--seed", "5", "--out", f"{tmp_path / 'f'}/"]) == 0
    files = sorted((tmp_path / "f").glob("*.png"))
    assert [f.name for f in files] == [f"{i:06d}.png" for i in range(37)]
    written = np.stack([np.array(Image.open(f)) for f in files])
    expected = to_uint8(load_generator(digits_run).sample(37, seed=5))[..., 0]
    assert np.array_equal(written, expected)
    assert not [p for p in (tmp_path / "f").iterdir() if p.name.startswith(".")]  # no temp files left


def test_huge_grid_fails_at_once_with_a_hint(digits_run, tmp_path, capsys):
    import time
    start = time.perf_counter()
    assert main(["sample", str(digits_run), "-n", "100000000", "--out", str(tmp_path / "x.png")]) == 2
    assert time.perf_counter() - start < 5
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error: -n 100000000 is too many") and "--out DIR/" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "x.png").exists()


def test_sample_points_stream_to_the_api_values(ring_run, tmp_path):
    assert main(["sample", str(ring_run), "-n", "50", "--seed", "4", "--out", str(tmp_path / "p.npy")]) == 0
    expected = load_generator(ring_run).sample(50, seed=4).numpy()
    assert np.array_equal(np.load(tmp_path / "p.npy"), expected)
    assert main(["sample", str(ring_run), "-n", "50", "--seed", "4", "--out", str(tmp_path / "p.csv")]) == 0
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert len(rows) == 51 and rows[1] == f"{expected[0, 0]:.6f},{expected[0, 1]:.6f}"
