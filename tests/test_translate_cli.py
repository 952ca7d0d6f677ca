"""`gankit translate`, bad image-to-image data through `gankit train`, and the config of the new methods:
every failure is one line on stderr, exit code 2, no traceback and nothing written."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from gankit.cli import main
from gankit.config import list_presets, load_config

from translation_fixtures import QUIET, save_png, small_runs, write_images, write_pairs

torch.set_num_threads(1)

FACADES = ["facades-pix2pix", "facades-cyclegan", "facades-pix2pix-256", "facades-cyclegan-256"]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("pairs") / "data", n=6)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, pairs):
    return small_runs(tmp_path_factory.mktemp("runs"), pairs)


def one_error_line(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error: "), err
    return lines[0]


def nothing_written(out) -> bool:
    return not out.exists() or not any(p.is_file() for p in out.rglob("*"))


def png_size(path):
    with Image.open(path) as im:
        return im.format, im.mode, im.size


# ---------------------------------------------------------------- gankit translate

def test_translate_a_folder(runs, tmp_path, capsys):
    src = tmp_path / "in"
    rng = np.random.default_rng(0)
    inputs = {
        "a.png": rng.integers(0, 256, (37, 53, 3), dtype=np.uint8),
        "b.jpg": rng.integers(0, 256, (40, 30, 3), dtype=np.uint8),
        "sub/c.png": rng.integers(0, 256, (21, 64), dtype=np.uint8),  # gray stays gray
        "sub/deep/d.bmp": rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
        "e.png": rng.integers(0, 256, (100, 70, 3), dtype=np.uint8),
    }
    for name, arr in inputs.items():
        save_png(src / name, arr)
    (src / "notes.txt").write_text("not an image, not an image name")
    save_png(src / ".hidden" / "h.png", inputs["a.png"])
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["translate", str(runs["pix2pix"]), str(src), "--out", str(out), "--quiet"]) == 0
    assert "translated 5 image(s)" in capsys.readouterr().out
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["a.png", "b.png", "e.png", "sub/c.png", "sub/deep/d.png"]
    for name, arr in inputs.items():
        fmt, mode, size = png_size(out / (name.rsplit(".", 1)[0] + ".png"))
        assert fmt == "PNG" and size == (arr.shape[1], arr.shape[0]), name
        assert mode == ("L" if arr.ndim == 2 else "RGB"), name


def test_translate_files_and_both_cyclegan_directions(runs, tmp_path, capsys):
    files = write_images(tmp_path / "in", [(24, 24), (33, 20)])
    outs = {}
    for direction in ("AtoB", "BtoA"):
        out = tmp_path / direction
        code = main(["translate", str(runs["cyclegan"]), *map(str, files), "--out", str(out),
                     "--direction", direction, "--quiet"])
        assert code == 0, capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == ["img0.png", "img1.png"]
        assert png_size(out / "img1.png")[2] == (20, 33)
        outs[direction] = np.asarray(Image.open(out / "img0.png"))
    assert not np.array_equal(outs["AtoB"], outs["BtoA"])


def text_as_png(tmp_path):
    path = tmp_path / "x.png"
    path.write_text("this is text, not a PNG")
    return [str(path)]


def good_then_bad(tmp_path):
    good = write_images(tmp_path / "good", [(16, 16), (20, 12)])
    return [*map(str, good), *text_as_png(tmp_path)]


def two_with_one_name(tmp_path):
    return [str(p) for d in ("a", "b") for p in write_images(tmp_path / d, [(16, 16)])]


@pytest.mark.parametrize("make_inputs, run, extra, expect", [
    (text_as_png, "pix2pix", [], "cannot read image"),
    (lambda t: [str(t / "missing.png")], "pix2pix", [], "does not exist"),
    (lambda t: list(map(str, write_images(t / "in", [(16, 16)]))), "gan", [], "gankit sample"),
    (good_then_bad, "pix2pix", [], "x.png"),
    (lambda t: [str((t / "empty").mkdir() or t / "empty")], "pix2pix", [], "no images in folder"),
    (two_with_one_name, "cyclegan", [], "would both be written"),
    (lambda t: list(map(str, write_images(t / "in", [(16, 16)]))), "pix2pix", ["--direction", "BtoA"], "AtoB"),
    (lambda t: list(map(str, write_images(t / "in", [(16, 16)]))), "cyclegan", ["--tile", "8", "--overlap", "8"],
     "--tile"),
], ids=["text-named-png", "missing", "gan-run", "bad-after-good", "empty-folder", "same-output-name",
        "missing-direction", "tile-not-above-overlap"])
def test_translate_errors_write_nothing(runs, tmp_path, capsys, make_inputs, run, extra, expect):
    inputs = make_inputs(tmp_path)
    out = tmp_path / "out"
    capsys.readouterr()
    line = one_error_line(capsys, main(["translate", str(runs[run]), *inputs, "--out", str(out), *extra]))
    assert expect in line
    assert nothing_written(out)


# ---------------------------------------------------------------- bad data through gankit train

def wide_file(tmp_path):
    data = write_pairs(tmp_path / "data", n=3)
    save_png(data / "99.png", np.zeros((32, 50, 3), np.uint8))
    return ["method=pix2pix", "data.name=paired", f"data.dir={data}"], ["99.png", "twice as wide"]


def unmatched_folders(tmp_path):
    write_images(tmp_path / "data" / "A", [(16, 16)] * 2)
    for k in range(2):
        save_png(tmp_path / "data" / "B" / f"other{k}.png", np.zeros((16, 16, 3), np.uint8))
    return ["method=pix2pix", "data.name=paired", f"data.dir={tmp_path / 'data'}"], ["partner", "img0", "other0"]


def empty_domain(tmp_path):
    (tmp_path / "empty").mkdir()
    full = tmp_path / "full"
    write_images(full, [(16, 16)] * 2)
    return (["method=cyclegan", "data.name=unpaired", f"data.dir_a={tmp_path / 'empty'}", f"data.dir_b={full}"],
            ["domain A", "no images"])


def cyclegan_on_pairs(tmp_path):
    data = write_pairs(tmp_path / "data", n=2)
    return ["method=cyclegan", "data.name=paired", f"data.dir={data}"], ["method=cyclegan", "data.name=unpaired"]


def pix2pix_on_digits(tmp_path):
    return ["method=pix2pix", "data.name=digits"], ["method=pix2pix", "data.name=paired"]


@pytest.mark.parametrize("setup", [wide_file, unmatched_folders, empty_domain, cyclegan_on_pairs,
                                   pix2pix_on_digits])
def test_bad_translation_data(tmp_path, capsys, setup):
    keys, expect = setup(tmp_path)
    run = tmp_path / "run"
    capsys.readouterr()
    code = main(["train", *keys, "data.size=32", *QUIET, "train.steps=1", f"run.dir={run}"])
    line = one_error_line(capsys, code)
    for text in expect:
        assert text in line
    assert not (run / "checkpoints").exists()


# ---------------------------------------------------------------- config

def dry_run(capsys, *args):
    capsys.readouterr()
    assert main(["train", "--dry-run", *args]) == 0
    return yaml.safe_load(capsys.readouterr().out)


def test_dry_run_shows_only_the_methods_sections(capsys):
    doc = dry_run(capsys, "method=pix2pix", "data.name=paired")
    assert doc["method"] == "pix2pix" and doc["preset"] is None
    assert "pix2pix" in doc and "model" not in doc and "gan" not in doc and "cycle" not in doc
    assert doc["pix2pix"]["l1"] == 100.0 and doc["data"]["name"] == "paired"
    doc = dry_run(capsys, "method=cyclegan", "data.name=unpaired")
    assert "cycle" in doc and not {"model", "gan", "pix2pix"} & set(doc)
    assert doc["cycle"]["pool"] == 50 and doc["loss"]["name"] == "auto"
    doc = dry_run(capsys)  # the default GAN preset: its own sections only
    assert {"model", "gan"} <= set(doc) and not {"pix2pix", "cycle"} & set(doc)


def test_dry_run_of_a_facades_preset(capsys):
    doc = dry_run(capsys, "--preset", "facades-cyclegan")
    assert doc["method"] == "cyclegan" and "cycle" in doc and "model" not in doc and "gan" not in doc


@pytest.mark.parametrize("args, names", [
    (["pix2pix.l1=5"], ["pix2pix.l1", "method"]),
    (["method=pix2pix", "data.name=paired", "cycle.pool=5"], ["cycle.pool", "method=pix2pix"]),
    (["method=cyclegan", "data.name=unpaired", "model.z_dim=4"], ["model.z_dim", "method=cyclegan"]),
])
def test_a_key_of_another_method_is_an_error(capsys, args, names):
    capsys.readouterr()
    line = one_error_line(capsys, main(["train", "--dry-run", *args]))
    for name in names:
        assert name in line


def test_unknown_method(capsys):
    capsys.readouterr()
    line = one_error_line(capsys, main(["train", "--dry-run", "method=nosuch"]))
    assert "nosuch" in line
    for name in ("gan", "pix2pix", "cyclegan"):
        assert name in line


def test_facades_presets_are_listed_and_resolve(capsys):
    capsys.readouterr()
    assert main(["presets"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert set(FACADES) <= listed and set(FACADES) <= set(list_presets())
    for name in FACADES:
        cfg = load_config(preset=name)
        method = "pix2pix" if "pix2pix" in name else "cyclegan"
        assert cfg.method == method and cfg.preset == name
        assert cfg.data.name == ("paired" if method == "pix2pix" else "unpaired")
        assert cfg.data.size == (256 if name.endswith("-256") else 128)
        assert "model" not in cfg.to_dict() and ("pix2pix" if method == "pix2pix" else "cycle") in cfg.to_dict()


def test_sample_refuses_a_translation_run(runs, tmp_path, capsys):
    out = tmp_path / "grid.png"
    line = one_error_line(capsys, main(["sample", str(runs["pix2pix"]), "--out", str(out)]))
    assert "pix2pix" in line and "gankit translate" in line and not out.exists()
