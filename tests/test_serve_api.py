"""`gankit serve`'s API (FastAPI TestClient) over tiny runs of every family, and its refusals of bad requests."""
import base64
import io
import struct
import threading
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from gankit import api  # noqa: E402
from gankit.cli import main  # noqa: E402
from gankit.cli_serve import is_loopback  # noqa: E402
from gankit.config import load_config  # noqa: E402
from gankit.serve.app import create_app, truncated_noise  # noqa: E402
from gankit.serve.limits import Limits, WorkerPool  # noqa: E402
from gankit.serve.registry import Registry, find_runs  # noqa: E402

from sr_fixtures import train_sr, write_hr  # noqa: E402
from test_text2image_method import train as train_text  # noqa: E402
from test_text2image_method import write_squares  # noqa: E402
from translation_fixtures import GAN_TINY, QUIET, train, write_pairs  # noqa: E402
from video_fixtures import train_video, write_mnist  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny run of each family: conditional and unconditional GANs, 2-D points, pix2pix, SRResNet, SimVP,
    GAN-INT-CLS."""
    root = tmp_path_factory.mktemp("served")
    gan = lambda name, preset, *extra: api.train(load_config(preset=preset, overrides=[  # noqa: E731
        *QUIET, "train.steps=4", f"run.dir={root / name}", *extra]))
    gan("cgan", "digits-dcgan", *GAN_TINY, "model.conditional=true")
    gan("gan", "digits-dcgan", *GAN_TINY)
    gan("points", "grid-gan", "data.n=256", "model.g.hidden=[16,16]", "model.d.hidden=[16,16]")
    train("pix2pix", write_pairs(root / "pairs"), root / "pix2pix", steps=2)
    write_hr(root / "hr")
    train_sr(root / "hr", root / "srresnet", steps=2)
    train_video(write_mnist(root / "mnist"), root / "simvp", steps=2)
    train_text(write_squares(root / "squares"), root / "t2i", steps=4)
    return root


@pytest.fixture(scope="module")
def client(runs):
    return TestClient(create_app(Registry(find_runs(runs_dir=str(runs)), cache_size=2)))


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def decode(url_or_bytes) -> np.ndarray:
    data = base64.b64decode(url_or_bytes.split(",", 1)[1]) if isinstance(url_or_bytes, str) else url_or_bytes
    return np.asarray(Image.open(io.BytesIO(data)))


def one_line(response, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and all(w in detail for w in words), detail
    return detail


def test_every_family_is_listed_with_its_views(client):
    runs = {r["id"]: r for r in client.get("/api/runs").json()["runs"]}
    assert {k: r["family"] for k, r in runs.items()} == {
        "cgan": "conditional", "gan": "gan", "points": "points", "pix2pix": "translation", "srresnet": "sr",
        "simvp": "video", "t2i": "text"}
    assert runs["cgan"]["views"] == ["generate", "explore", "interpolate", "sketch", "training"]
    assert runs["cgan"]["classes"] == [str(i) for i in range(10)] and runs["gan"]["classes"] == []
    assert runs["t2i"]["views"] == ["text", "interpolate", "training"] and runs["srresnet"]["views"][0] == "upscale"
    assert runs["simvp"]["frames_in"] == 3 and runs["pix2pix"]["directions"]
    assert client.get("/api/runs/gan").json()["z_dim"] == 8
    assert len(runs["points"]["modes"]) == 25 and "modes" not in runs["gan"]  # grid-gan: the 5 x 5 means


def test_generate_is_seeded_conditional_and_truncated(client):
    a = client.post("/api/runs/cgan/generate", json={"n": 4, "seed": 3, "class": 7}).json()
    b = client.post("/api/runs/cgan/generate", json={"n": 4, "seed": 3, "class": 7}).json()
    c = client.post("/api/runs/cgan/generate", json={"n": 4, "seed": 4, "class": 7}).json()
    assert a == b and a["images"] != c["images"] and a["classes"] == [7] * 4
    assert decode(a["images"][0]).shape == (8, 8)
    cycle = client.post("/api/runs/cgan/generate", json={"n": 12, "seed": 3}).json()
    assert cycle["classes"] == [i % 10 for i in range(12)]
    z = torch.tensor(client.post("/api/runs/gan/generate", json={"n": 8, "psi": 0.5}).json()["latents"])
    assert z.abs().max() <= 0.5 and z.shape == (8, 8)
    assert truncated_noise(3, 4, 0, None).equal(torch.randn(3, 4, generator=torch.Generator().manual_seed(0)))
    grid = client.post("/api/runs/gan/generate?format=png", json={"n": 4})
    assert grid.headers["content-type"] == "image/png" and decode(grid.content).ndim >= 2
    points = client.post("/api/runs/points/generate", json={"n": 100}).json()["points"]
    assert np.array(points).shape == (100, 2)


def test_explore_moves_a_sample_along_principal_directions(client):
    sample = client.post("/api/runs/gan/generate", json={"n": 1, "seed": 5}).json()
    d = client.get("/api/runs/gan/directions").json()
    assert d["k"] == len(d["explained"]) >= 2 and d["explained"] == sorted(d["explained"], reverse=True)
    assert 0 < sum(d["explained"]) <= 1 + 1e-6
    still = client.post("/api/runs/gan/explore", json={"latent": sample["latents"][0], "offsets": [0, 0]})
    moved = client.post("/api/runs/gan/explore", json={"latent": sample["latents"][0], "offsets": [3, 0]})
    assert np.array_equal(decode(still.content), decode(sample["images"][0]))
    assert not np.array_equal(decode(moved.content), decode(still.content))
    one_line(client.post("/api/runs/gan/explore", json={"latent": [0.0] * 3}), 400, "8 numbers")
    one_line(client.post("/api/runs/gan/explore", json={"latent": sample["latents"][0], "offsets": [99]}), 400,
             "-10..10")


def test_interpolation_paths_start_and_end_at_their_ends(client):
    s = client.post("/api/runs/gan/generate", json={"n": 2, "seed": 1}).json()
    body = {"a": s["latents"][0], "b": s["latents"][1], "steps": 5, "format": "json"}
    lin = client.post("/api/runs/gan/interpolate", json=body).json()["frames"]
    sph = client.post("/api/runs/gan/interpolate", json={**body, "mode": "slerp"}).json()["frames"]
    assert len(lin) == 5 and lin[0] == s["images"][0] and lin[-1] == s["images"][1] and lin[2] != sph[2]
    gif = client.post("/api/runs/gan/interpolate", json={**body, "format": "gif"})
    assert gif.headers["content-type"] == "image/gif" and Image.open(io.BytesIO(gif.content)).n_frames == 5
    classes = client.post("/api/runs/cgan/interpolate", json={"class_a": 1, "class_b": 7, "steps": 3, "seed": 2,
                                                               "format": "json"}).json()["frames"]
    ends = client.post("/api/runs/cgan/generate", json={"n": 1, "seed": 2, "class": 1}).json()["images"]
    assert classes[0] == ends[0] and classes[-1] == client.post(
        "/api/runs/cgan/generate", json={"n": 1, "seed": 2, "class": 7}).json()["images"][0]
    text = client.post("/api/runs/t2i/interpolate", json={"prompt_a": "a 1 at the top", "prompt_b": "a 1 at the "
                                                          "bottom", "steps": 4, "format": "json"}).json()["frames"]
    assert len(text) == 4
    one_line(client.post("/api/runs/gan/interpolate", json={**body, "steps": 1000}), 400, "steps", "2..32")
    one_line(client.post("/api/runs/gan/interpolate", json={"class_a": 1, "class_b": 2}), 400, "not class-cond")
    assert client.post("/api/runs/gan/interpolate", json={**body, "mode": "cubic"}).status_code == 422


def sketch(side: int = 32, empty: bool = False) -> bytes:
    arr = np.zeros((side, side, 4), np.uint8)
    if not empty:
        arr[4:28, 14:18] = 255  # a white vertical bar, opaque; the rest transparent
    return png(arr)


def test_projection_fits_the_sketch_better_than_the_random_starts(client):
    def losses(steps):
        r = client.post("/api/runs/cgan/project", files={"sketch": ("s.png", sketch(), "image/png")},
                        data={"starts": 4, "steps": steps, "seed": 0})
        assert r.status_code == 200, r.text
        return r.json()
    once, fitted = losses(1), losses(40)
    assert fitted["losses"] == sorted(fitted["losses"]) and len(fitted["images"]) == 4
    assert fitted["losses"][0] < once["losses"][0] and sorted(fitted["classes"]) == [0, 1, 2, 3]
    one_line(client.post("/api/runs/cgan/project", files={"sketch": ("s.png", sketch(empty=True), "image/png")}),
             400, "sketch is empty")
    one_line(client.post("/api/runs/cgan/project", files={"sketch": ("s.png", sketch(), "image/png")},
                         data={"steps": 10 ** 6}), 400, "steps")


def test_text_translate_upscale_and_predict(client):
    images = client.post("/api/runs/t2i/text", json={"prompt": "a 7 at the top left", "n": 3}).json()["images"]
    assert len(images) == 3 and decode(images[0]).shape == (16, 16)
    one_line(client.post("/api/runs/t2i/text", json={"prompt": "a purple zebra"}), 400, "purple", "zebra")
    one_line(client.post("/api/runs/t2i/text", json={"prompt": "  "}), 400, "empty")
    rgb = (np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)
    out = client.post("/api/runs/pix2pix/translate", files={"image": ("a.png", png(rgb), "image/png")})
    assert out.status_code == 200 and decode(out.content).shape == (20, 24, 3)
    one_line(client.post("/api/runs/pix2pix/translate", files={"image": ("a.png", png(rgb), "image/png")},
                         data={"direction": "sideways"}), 400, "direction must be one of")
    up = client.post("/api/runs/srresnet/upscale", files={"image": ("a.png", png(rgb), "image/png")})
    assert up.status_code == 200 and decode(up.content).shape == (80, 96, 3)
    frames = [Image.fromarray((np.random.default_rng(i).random((32, 32)) * 255).astype(np.uint8)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    gif = client.post("/api/runs/simvp/predict", files={"clip": ("c.gif", buf.getvalue(), "image/gif")},
                      data={"frames": 4})
    assert gif.status_code == 200 and Image.open(io.BytesIO(gif.content)).n_frames == 3 + 4
    one_line(client.post("/api/runs/simvp/predict", files={"clip": ("c.png", png(rgb), "image/png")}), 400,
             "at least 3")
    test = client.post("/api/runs/simvp/predict", data={"test_index": 1, "frames": 2})  # truth | prediction
    movie = Image.open(io.BytesIO(test.content))
    # (identical consecutive frames, e.g. two blank context frames, are merged by the GIF encoder)
    assert test.status_code == 200 and 2 <= movie.n_frames <= 3 + 2 and movie.size[0] == 2 * movie.size[1]
    one_line(client.post("/api/runs/simvp/predict", data={"frames": 2}), 400, "clip", "test_index")
    one_line(client.post("/api/runs/gan/upscale", files={"image": ("a.png", png(rgb), "image/png")}), 400,
             "no upscale view")


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header declaring width x height gray pixels, with one tiny IDAT: what a decompression bomb
    looks like before it is decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


def test_bad_requests_are_refused_in_one_line(runs, client):
    small = TestClient(create_app(Registry(find_runs([str(runs / "pix2pix")])), Limits(max_upload_bytes=2000)))
    noise = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    one_line(small.post("/api/runs/pix2pix/translate", files={"image": ("a.png", png(noise), "image/png")}), 413,
             "bytes")
    one_line(client.post("/api/runs/pix2pix/translate", files={"image": ("a.txt", b"hello", "text/plain")}), 400,
             "not an image")
    one_line(client.post("/api/runs/pix2pix/translate", files={"image": ("a.png", b"", "image/png")}), 400, "empty")
    for side, words in ((5000, "5000x5000 pixels"), (60000, "far more pixels")):  # ours, PIL's own guard
        one_line(client.post("/api/runs/pix2pix/translate",
                             files={"image": ("bomb.png", bomb_png(side, side), "image/png")}), 413, words)
    one_line(client.post("/api/runs/cgan/generate", json={"n": 10 ** 6}), 400, "n must be", "1..64")
    one_line(client.post("/api/runs/cgan/generate", json={"class": 10}), 400, "0..9")
    one_line(client.post("/api/runs/gan/generate", json={"class": 1}), 400, "not class-conditional")
    one_line(client.post("/api/runs/gan/generate", json={"psi": 0.0}), 400, "psi")
    one_line(client.post("/api/runs/gan/generate", json={"n": 2.5}), 422, "n:")
    for path in ("/api/runs/nope/metrics", "/api/runs/..%2F..%2Fetc/metrics", "/api/runs/../../etc/passwd"):
        assert client.get(path).status_code == 404, path
    one_line(client.post("/api/runs/nope/generate", json={}), 404, "no run 'nope'")


def test_requests_beyond_the_pool_get_503_at_once(runs):
    pool = WorkerPool(workers=1, queue=0)
    client = TestClient(create_app(Registry(find_runs([str(runs / "gan")])), pool=pool))
    started, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=pool.run, args=(lambda: (started.set(), release.wait(10)),))
    holder.start()
    try:
        assert started.wait(10)
        busy = client.post("/api/runs/gan/generate", json={"n": 1})
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1" and "busy" in busy.json()["detail"]
    finally:
        release.set()
        holder.join()
    assert client.post("/api/runs/gan/generate", json={"n": 1}).status_code == 200


def test_the_model_cache_is_bounded(runs):
    registry = Registry(find_runs(runs_dir=str(runs)), cache_size=2)
    for run_id in ("gan", "cgan", "srresnet"):
        registry.model(run_id)
    assert registry.loaded() == ["cgan", "srresnet"]
    assert registry.model("cgan") is registry.model("cgan") and registry.loaded() == ["srresnet", "cgan"]
    assert not any(p.requires_grad for p in registry.model("gan").parameters())


def test_training_view_reads_new_records_by_offset_and_survives_nan(runs, client):
    first = client.get("/api/runs/gan/metrics").json()
    assert first["records"] and first["next"] == len(first["records"]) and all("step" in r for r in first["records"])
    with open(runs / "gan" / "metrics.jsonl", "a") as fh:  # what a diverged run's evaluation logs
        fh.write('{"step": 4, "eval/fid": NaN}\n')
    later = client.get(f"/api/runs/gan/metrics?offset={first['next']}").json()
    assert later["records"] == [{"step": 4, "eval/fid": None}] and later["next"] == first["next"] + 1
    grid = client.get("/api/runs/gan/sample.png")
    assert grid.status_code == 200 and grid.headers["content-type"] == "image/png"


def test_requests_on_one_model_take_turns(runs):
    """The latent tools put hooks on the shared model: a request waits for the run's lock, other runs do not."""
    registry = Registry(find_runs([str(runs / "gan"), str(runs / "cgan")]))
    client = TestClient(create_app(registry, pool=WorkerPool(workers=2, queue=4)))
    done = threading.Event()
    waiting = threading.Thread(target=lambda: (client.post("/api/runs/cgan/generate", json={"n": 1}), done.set()))
    with registry.lock("cgan"):
        waiting.start()
        assert client.post("/api/runs/gan/generate", json={"n": 1}).status_code == 200  # another run: not held up
        assert not done.wait(0.5)
    waiting.join(10)
    assert done.is_set()


def test_cli_refuses_bad_setups_in_one_line(tmp_path, capsys):
    for args, words in ((["serve"], "no runs to serve"), (["serve", str(tmp_path / "none")], "is not a directory"),
                        (["serve", str(tmp_path)], "nothing to serve: no checkpoint found"), (["serve", "--runs", str(tmp_path)],
                                                                      "no runs to serve")):
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert words in err and "\n" not in err and "Traceback" not in err, (args, err)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
