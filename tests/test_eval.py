"""Tests for gankit.metrics.inception / evaluate and `gankit eval` (stub networks, no shared data)."""
import hashlib
import json
import math
import os

import pytest
import torch

from gankit.checkpoint import atomic_write_bytes, save_checkpoint
from gankit.cli import main
from gankit.errors import ConfigError, GankitError
from gankit.metrics import METRICS
from gankit.metrics import evaluate as ev
from gankit.metrics import inception
from gankit.metrics.frechet import feature_stats, frechet_distance
from gankit.monitor.images import png_bytes, to_uint8


class StubNet:
    """A deterministic feature network: 4x4 average pooling of the gray image (values in 0..1)."""

    def __init__(self, nan_logits=False, sha="0" * 64):
        self.protocol = {"features": "stub pool4", "logits": "stub logits", "resize": "none", "weights": "stub",
                         "weights_sha256": sha}
        self.nan_logits, self.seen = nan_logits, 0

    def extract(self, x):
        self.seen += len(x)
        f = torch.nn.functional.adaptive_avg_pool2d(x.float().mean(1, keepdim=True) / 255, 4).flatten(1)
        logits = f[:, :10] * 10
        return {"features": f, "logits": logits * float("nan") if self.nan_logits else logits}


def untrained_run(root, preset="digits-dcgan", **keys):
    """A run directory holding one checkpoint of an untrained (seeded) generator: fast, no training."""
    from dataclasses import asdict

    from conftest import tiny_config

    from gankit.api import dataset_for
    from gankit.methods import DataSpec
    from gankit.nn import build_generator

    cfg = tiny_config(root, preset, **keys)
    spec = DataSpec.from_dataset(dataset_for(cfg))
    torch.manual_seed(0)
    g = build_generator(cfg.model.arch, out_shape=spec.shape, z_dim=cfg.model.z_dim,
                        num_classes=spec.num_classes if cfg.model.conditional else 0, **asdict(cfg.model.g))
    meta = {"step": 0, "config": cfg.to_dict(), "data": spec.to_dict()}
    save_checkpoint(root / "checkpoints", "step-00000000", {"G": g.state_dict()}, {}, meta)
    return root


@pytest.fixture(autouse=True)
def gankit_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return untrained_run(tmp_path_factory.mktemp("ev") / "run", **{"model.conditional": True})


# ---------------------------------------------------------------- inception weights


def test_missing_weights_names_both_places():
    with pytest.raises(inception.WeightsNotFound) as err:
        inception.resolve_weights(None)
    msg = str(err.value)
    assert "\n" not in msg and "--inception-weights" in msg and str(inception.hub_weights_path()) in msg
    with pytest.raises(GankitError, match="not found.*--inception-weights") as err2:
        inception.resolve_weights("/nowhere/w.pth")
    for text in (msg, str(err2.value)):  # no path of the machine gankit was developed on
        assert "$TORCH_HOME/hub/checkpoints/" in text and "shared" not in text


def test_hub_cache_and_text_symlink_are_found(tmp_path):
    hub = inception.hub_weights_path()
    hub.parent.mkdir(parents=True)
    (hub.parent / "real.pth").write_bytes(b"x" * 2000)
    hub.write_text("real.pth\n")  # a symlink checked out as text
    assert inception.resolve_weights(None) == hub.parent / "real.pth"


def test_sha256_is_cached_by_mtime_and_size(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    assert inception.file_sha256(f) == hashlib.sha256(b"abc").hexdigest()
    f.write_bytes(b"abcd")
    assert inception.file_sha256(f) == hashlib.sha256(b"abcd").hexdigest()


def test_content_sha256_reads_through_gzip(tmp_path):
    import gzip

    a, b, plain = tmp_path / "a.gz", tmp_path / "b.gz", tmp_path / "c.bin"
    a.write_bytes(gzip.compress(b"digits" * 100, mtime=1))  # the same data compressed twice: other bytes
    b.write_bytes(gzip.compress(b"digits" * 100, compresslevel=1, mtime=2))
    plain.write_bytes(b"digits" * 100)
    assert inception.file_sha256(a) != inception.file_sha256(b)
    assert inception.content_sha256(a) == inception.content_sha256(b) == inception.file_sha256(plain)
    other = tmp_path / "d.gz"
    other.write_bytes(gzip.compress(b"other" * 100, mtime=1))
    assert inception.content_sha256(other) != inception.content_sha256(a)


class _Evil:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_weights_are_never_unpickled(tmp_path, capsys):
    bad = tmp_path / "evil.pth"
    torch.save({"x": _Evil()}, bad)
    with pytest.raises(GankitError, match="could not be loaded"):
        inception.InceptionFeatures(str(bad))
    assert "unpickled!" not in capsys.readouterr().out


@pytest.fixture(scope="module")
def random_inception(tmp_path_factory):
    """torch-fidelity's InceptionV3 with random weights and a NaN fc layer, saved as a state dict."""
    tfi = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    mp = pytest.MonkeyPatch()
    mp.setattr(tfi, "load_state_dict_from_url", lambda *a, **k: {})
    mp.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
    torch.manual_seed(0)
    net = tfi.FeatureExtractorInceptionV3("x", ["2048"])
    mp.undo()
    sd = net.state_dict()
    sd["fc.weight"].fill_(float("nan"))
    path = tmp_path_factory.mktemp("inc") / inception.WEIGHTS_NAME
    torch.save(sd, path)
    return path


def test_inception_features_with_random_weights(random_inception):
    net = inception.InceptionFeatures(str(random_inception))
    assert net.sha256 == hashlib.sha256(random_inception.read_bytes()).hexdigest()
    assert net.protocol["resize"] == "torch-fidelity TF1 bilinear to 299"
    assert "IS is unavailable" in net.logits_problem
    gray = torch.randint(0, 256, (2, 1, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    out = net.extract(gray)
    assert out["features"].shape == (2, 2048) and torch.isfinite(out["features"]).all()
    assert out["logits"].shape == (2, 1008) and not torch.isfinite(out["logits"]).any()
    tiled = net.extract(gray.expand(-1, 3, -1, -1).contiguous())["features"]
    assert torch.equal(out["features"], tiled)


def test_missing_or_nan_logits_are_detected(tmp_path):
    f = tmp_path / "w.pth"
    torch.save({"conv.weight": torch.ones(2)}, f)
    state, problem = inception._load_weights(f, "ab" * 32)
    assert "fc layer missing" in problem and "abababab" in problem and state["fc.weight"].shape == (1008, 2048)
    torch.save({"fc.weight": torch.ones(1008, 2048), "fc.bias": torch.full((1008,), float("inf"))}, f)
    assert "not finite" in inception._load_weights(f, "0" * 64)[1]
    torch.save({"fc.weight": torch.ones(1008, 2048), "fc.bias": torch.zeros(1008)}, f)
    assert inception._load_weights(f, "0" * 64)[1] is None
    f.write_bytes(b"garbage")
    with pytest.raises(GankitError, match="could not be loaded"):
        inception._load_weights(f, "0" * 64)


# ---------------------------------------------------------------- inception score


def test_inception_score_is_registered_and_refuses_nan():
    assert METRICS["is"] is inception.inception_score
    logits = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    mean, std = inception.inception_score(logits, splits=5)
    assert 1.0 < mean < 8.0 and std >= 0
    uniform, _ = inception.inception_score(torch.zeros(50, 8), splits=5)
    assert uniform == pytest.approx(1.0)
    with pytest.raises(inception.MetricUnavailable, match="not finite"):
        inception.inception_score(logits * float("nan"))


# ---------------------------------------------------------------- evaluate on a run


def _fake_and_real(run, n):
    from gankit.api import dataset_for

    src = ev.RunSource(run)
    fake, _ = src.fake(n, seed=0)
    src.cfg.data.n = n
    real = torch.from_numpy(to_uint8(dataset_for(src.cfg).x)).permute(0, 3, 1, 2)
    return fake, real


def test_evaluate_run_protocol_values_and_cache(digits_run, tmp_path):
    net = StubNet()
    results = ev.evaluate(digits_run, "fid,kid,prdc", n=64, networks={"inception": net})
    assert [r.name for r in results] == ["fid", "kid", "pr", "dc"]
    assert net.seen == 64 + 64  # generated once, real once for all four metrics
    fake, real = _fake_and_real(digits_run, 64)
    f_real, f_fake = net.extract(real)["features"], net.extract(fake)["features"]
    expected = frechet_distance(*feature_stats(f_real), *feature_stats(f_fake))
    assert results[0].values["value"] == pytest.approx(expected, rel=1e-12)
    p = results[0].protocol
    assert p["n_real"] == 64 and p["n_fake"] == 64 and p["seed"] == 0 and p["weights_sha256"] == "0" * 64
    assert p["split"] == "all (no test split)" and p["input"] == "1x8x8"
    line = results[0].line()
    for part in ("n_real=64", "n_fake=64", "split=", "resize=none", "features=stub pool4", "weights_sha256=", "seed=0"):
        assert part in line
    assert set(results[2].values) == {"precision", "recall"} and set(results[3].values) == {"density", "coverage"}
    files = sorted((tmp_path / "cache" / "stats").iterdir())
    assert [f.suffix for f in files] == [".json", ".safetensors"]
    net2 = StubNet()
    again = ev.evaluate(digits_run, "fid", n=64, networks={"inception": net2})
    assert net2.seen == 64 and again[0].values == results[0].values  # real features came from the cache
    other = StubNet(sha="1" * 64)
    ev.evaluate(digits_run, "fid", n=64, networks={"inception": other})
    assert other.seen == 128  # another weights file is another cache entry


def test_is_unavailable_is_said_not_nan(digits_run):
    (res,) = ev.evaluate(digits_run, "is", n=20, networks={"inception": StubNet(nan_logits=True)})
    assert res.unavailable and res.values == {}
    line = res.line()
    assert line.startswith("is unavailable:") and "nan" not in line.lower() and "n_fake=20" in line
    (ok,) = ev.evaluate(digits_run, "is", n=20, networks={"inception": StubNet()})
    assert math.isfinite(ok.values["mean"]) and ok.protocol["n_real"] == "n/a"
    known = StubNet()
    known.logits_problem = "these weights carry no ImageNet logits"
    (res,) = ev.evaluate(digits_run, "is", n=20, networks={"inception": known})
    assert res.unavailable == known.logits_problem and known.seen == 0  # no image scored in vain


def test_class_accuracy_and_cfid(digits_run):
    res = ev.evaluate(digits_run, "class_acc,cfid", n=30, networks={"classifier": StubNet()})
    acc = res[0].values["accuracy"]
    fake, _ = ev.RunSource(digits_run).fake(30, seed=0)
    pred = StubNet().extract(fake)["logits"].argmax(1)
    assert acc == pytest.approx(float((pred == torch.arange(30) % 10).double().mean()))
    assert res[1].name == "cfid" and res[1].values["value"] >= 0


def test_bad_metric_requests(digits_run, tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'fid'"):
        ev.evaluate(digits_run, "fdi", networks={"inception": StubNet()})
    with pytest.raises(ConfigError, match="modes"):
        ev.evaluate(digits_run, "modes")
    with pytest.raises(ConfigError, match="--n"):
        ev.evaluate(digits_run, "fid", n=1)
    assert ev.parse_metrics("fid, prdc,fid,isc") == ["fid", "pr", "dc", "is"]


def test_modes_on_a_ring_run(tmp_path):
    run = untrained_run(tmp_path / "ring", "ring-gan")
    (res,) = ev.evaluate(run)
    assert res.name == "modes" and res.protocol["n_fake"] == 2500
    assert 0 <= res.values["modes"] <= 8 and res.values["reverse_kl"] >= 0
    with pytest.raises(ConfigError, match="2-D points"):
        ev.evaluate(run, "fid")


# ---------------------------------------------------------------- folders and the CLI


def _write_pngs(folder, images):
    for i, img in enumerate(to_uint8(images)):
        atomic_write_bytes(folder / f"{i:04d}.png", png_bytes(img))


def test_folders_give_the_same_fid_as_the_run(digits_run, tmp_path, capsys):
    fake_dir, real_dir = tmp_path / "fake", tmp_path / "real"
    assert main(["sample", str(digits_run), "-n", "40", "--out", f"{fake_dir}/"]) == 0
    fake, real = _fake_and_real(digits_run, 40)
    _write_pngs(real_dir, real.float() / 127.5 - 1)
    from_run = ev.evaluate(digits_run, "fid,kid", n=40, networks={"inception": StubNet()})
    from_dirs = ev.evaluate((real_dir, fake_dir), "fid,kid", networks={"inception": StubNet()})
    assert from_dirs[0].values == pytest.approx(from_run[0].values, rel=1e-9)
    assert from_dirs[0].protocol["split"] == "folder" and from_dirs[0].protocol["n_real"] == 40
    assert ev.load_image_folder(fake_dir).shape == (40, 1, 8, 8)


def test_cli_eval_prints_lines_and_json(digits_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ev, "InceptionFeatures", lambda weights, device: StubNet())
    out = tmp_path / "eval.jsonl"
    assert main(["eval", str(digits_run), "--metrics", "fid,pr", "--n", "32", "--quiet", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("fid ") and "n_real=32" in lines[0] and lines[1].startswith("pr precision ")
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert records[0]["metric"] == "fid" and records[0]["n_fake"] == 32
    assert main(["eval", str(digits_run), "--metrics", "fid", "--n", "32", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["values"]["value"] == records[0]["values"]["value"]


def test_cli_eval_errors_are_one_line(digits_run, tmp_path, capsys):
    assert main(["eval", "--real", str(tmp_path)]) == 2
    assert main(["eval", str(digits_run), "--metrics", "fid", "--n", "8", "--quiet"]) == 2  # no weights anywhere
    assert main(["eval", "--real", str(tmp_path / "no"), "--fake", str(tmp_path)]) == 2
    errs = capsys.readouterr().err.strip().splitlines()
    assert len(errs) == 3 and "--fake" in errs[0] and "--inception-weights" in errs[1] and "does not exist" in errs[2]
    assert main(["eval", "--list"]) == 0
    assert "prdc       = pr + dc" in capsys.readouterr().out


def _write_noise_pngs(folder, n, seed, smooth=False):
    """n 8x8 gray PNGs: random noise, or (smooth) flat images that compress to other file sizes."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 8, 8, generator=g) * 2 - 1
    _write_pngs(folder, images.mean((2, 3), keepdim=True).expand(-1, -1, 8, 8) if smooth else images)


def test_real_feature_cache_key_follows_the_files_and_the_preprocessing(tmp_path, monkeypatch):
    import shutil

    data = tmp_path / "data"
    _write_noise_pngs(data, 20, seed=1)
    run = untrained_run(tmp_path / "run", **{"data.name": "folder", "data.dir": str(data)})

    def fid(**net_kwargs):
        net = StubNet()
        net.protocol.update(net_kwargs)
        (res,) = ev.evaluate(run, "fid", n=20, networks={"inception": net})
        return res.values["value"], net.seen

    first, seen = fid()
    assert seen == 40 and fid() == (first, 20)  # the second time, real features come from the cache
    for f in data.iterdir():  # the same files with new times (a copy, a re-mount): still the cache
        os.utime(f, ns=(1, 1))
    assert fid() == (first, 20)
    shutil.rmtree(data)  # another folder in its place: same names, same count
    _write_noise_pngs(data, 20, seed=2, smooth=True)
    replaced, seen = fid()
    assert seen == 40 and replaced != first
    (fresh,) = ev.evaluate(run, "fid", n=20, networks={"inception": StubNet()}, cache=False)
    assert replaced == fresh.values["value"]
    assert fid(resize="another resize")[1] == 40  # another preprocessing of the network: another entry
    monkeypatch.setattr(ev, "PREPROCESS_VERSION", ev.PREPROCESS_VERSION + 1)
    assert fid()[1] == 40


def test_kid_std_is_na_when_every_subset_is_the_whole_sample(digits_run, capsys, monkeypatch):
    (res,) = ev.evaluate(digits_run, "kid", n=32, networks={"inception": StubNet()})  # n <= 1000
    assert res.values["std"] is None and res.values["mean"] == res.values["mean"]
    assert "± n/a" in res.line() and json.loads(json.dumps(res.as_dict()))["values"]["std"] is None
    assert ev.flat_values(res) == {"kid_mean": res.values["mean"]}
    monkeypatch.setattr(ev, "InceptionFeatures", lambda weights, device: StubNet())
    assert main(["eval", str(digits_run), "--metrics", "kid", "--n", "32", "--quiet"]) == 0
    assert "± n/a" in capsys.readouterr().out
    monkeypatch.setattr(ev, "KID_SUBSET", 16)  # subsets smaller than the sample: a real spread
    (res,) = ev.evaluate(digits_run, "kid", n=32, networks={"inception": StubNet()})
    assert res.values["std"] > 0 and "n/a" not in res.line().split("[")[0]


@pytest.mark.parametrize("damage", ["truncated", "not an image"])
def test_cli_eval_names_a_corrupt_image(digits_run, tmp_path, capsys, monkeypatch, damage):
    monkeypatch.setattr(ev, "InceptionFeatures", lambda weights, device: StubNet())
    real, fake = tmp_path / "real", tmp_path / "fake"
    _write_noise_pngs(real, 6, seed=1)
    _write_noise_pngs(fake, 6, seed=2)
    bad = fake / "0003.png"
    whole = bad.read_bytes()
    bad.write_bytes(whole[:len(whole) // 2] if damage == "truncated" else b"not an image")
    assert main(["eval", "--real", str(real), "--fake", str(fake), "--metrics", "fid", "--quiet"]) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert f"cannot read image '{bad}'" in err and "remove or replace it" in err
