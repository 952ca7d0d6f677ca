"""`gankit synth`: a labelled image folder from a class-conditional run, its manifest, and its bad inputs."""
import json

import numpy as np
import pytest
from PIL import Image

from gankit import api
from gankit.cli import main
from gankit.generator import load_generator
from gankit.synth import class_folders, read_manifest, synthesize

from conftest import tiny_config


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    return api.train(tiny_config(tmp_path_factory.mktemp("c") / "run", **{"model.conditional": True}))


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    return api.train(tiny_config(tmp_path_factory.mktemp("p") / "run"))


def test_a_folder_per_class_with_the_generators_images(cond_run, tmp_path):
    out = tmp_path / "synth"
    m = synthesize(cond_run, 5, out, seed=3)
    assert sorted(p.name for p in out.iterdir()) == sorted([*m["classes"], "manifest.json"])
    assert len(m["classes"]) == 10 and m["per_class"] == 5 and m["truncation"] is None
    assert len(m["checkpoint_sha256"]) == 64 and m["shape"] == [1, 8, 8]
    gen = load_generator(cond_run)
    for c, name in enumerate(m["classes"]):
        files = sorted((out / name).glob("*.png"))
        assert len(files) == 5
        img = np.asarray(Image.open(files[0]))
        assert img.shape == (8, 8) and img.dtype == np.uint8  # the data's one channel and size
        want = gen.sample(5, y=c, seed=m["class_seeds"][name])[0, 0]
        assert np.abs(img.astype(float) - ((want.clamp(-1, 1) + 1) * 127.5).numpy()).max() <= 1
    assert read_manifest(out) == m
    again = tmp_path / "again"
    synthesize(cond_run, 5, again, seed=3)
    assert (again / m["classes"][4] / "000002.png").read_bytes() == (out / m["classes"][4] / "000002.png").read_bytes()
    assert not (tmp_path / "synth.partial").exists()


def test_class_folder_names_are_safe_and_distinct():
    assert class_folders(["T-shirt/top", "Trouser", "", "a b", "a:b"], 6) == ["T-shirt_top", "Trouser", "2", "a_b",
                                                                               "a_b_4", "5"]
    assert class_folders([], 3) == ["0", "1", "2"]
    assert class_folders(["..", "../x"], 2) == ["0", "x"]


def test_cli_and_its_errors(cond_run, plain_run, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["synth", str(cond_run), "--per-class", "2", "--out", str(out)]) == 0
    assert "wrote 20 images of 10 classes" in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text())["per_class"] == 2
    cases = [([str(plain_run), "--per-class", "2", "--out", str(tmp_path / "u")], "is not conditional"),
             ([str(cond_run), "--per-class", "2", "--out", str(out)], "exists and is not an empty folder"),
             ([str(cond_run), "--per-class", "0", "--out", str(tmp_path / "z")], "--per-class must be a positive"),
             ([str(tmp_path / "nothing"), "--per-class", "2", "--out", str(tmp_path / "n")], "nothing")]
    for args, words in cases:
        assert main(["synth", *args]) == 2, args
        err = capsys.readouterr().err.strip()
        assert words in err and "\n" not in err and "Traceback" not in err, (args, err)
    assert not (tmp_path / "u").exists() or not any((tmp_path / "u").iterdir())
    with pytest.raises(Exception, match="not a complete synth folder"):
        read_manifest(tmp_path)
