"""The page of `gankit serve` in a real browser: Playwright driving Debian's Chromium against the app on a
local port, with every request that is not to 127.0.0.1 refused (and none expected). Tiny runs (a conditional
digits GAN, an SRResNet, a pix2pix) are trained first; the whole module takes well under a minute on 2 cores.

Screenshots go to benchmarks/results/serve/. Skipped when Playwright, Chromium or the serve extra is missing.
"""
from __future__ import annotations

import base64
import io
import json
import shutil
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs Playwright: "
                                                             "pip install playwright")
pytest.importorskip("fastapi", reason="the browser test needs the serve extra (FastAPI)")
uvicorn = pytest.importorskip("uvicorn", reason="the browser test needs the serve extra (uvicorn)")

from gankit import api  # noqa: E402
from gankit.config import load_config  # noqa: E402
from gankit.serve.app import create_app  # noqa: E402
from gankit.serve.limits import Limits, WorkerPool  # noqa: E402
from gankit.serve.registry import Registry, find_runs  # noqa: E402
from sr_fixtures import train_sr, write_hr  # noqa: E402
from translation_fixtures import train as train_translation, write_pairs  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or \
    ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
if CHROMIUM is None:
    pytest.skip("the browser test needs Chromium (apt-get install chromium)", allow_module_level=True)

SHOTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "serve"
expect = sync_api.expect


# ---------------------------------------------------------------- runs, server, browser

@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-runs")
    cfg = load_config(preset="digits-dcgan", overrides=[
        f"run.dir={root / 'digits'}", "model.conditional=true", "train.steps=20", "train.progress=none",
        "train.tensorboard=false", "train.threads=1", "train.log_every=5", "train.sample_every=10",
        "train.checkpoint_every=20"])
    digits = api.train(cfg)
    write_hr(root / "hr")
    sr = train_sr(root / "hr", root / "sr", steps=2)
    write_pairs(root / "pairs", n=4)
    pix2pix = train_translation("pix2pix", root / "pairs", root / "pix2pix", steps=2)
    return [digits, sr, pix2pix]


@pytest.fixture(scope="module")
def base_url(run_dirs):
    app = create_app(Registry(find_runs([str(p) for p in run_dirs])), Limits(), WorkerPool(2, 8))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Exception as err:  # e.g. a Chromium this Playwright cannot drive
            pytest.skip(f"Chromium at {CHROMIUM} did not start under Playwright: {str(err).splitlines()[0]}")
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, base_url):
    """A fresh page on the app; the network beyond 127.0.0.1 is cut, and a test fails if the page tried it or
    threw an uncaught error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside, errors = [], []

    def gate(route):
        url = urlparse(route.request.url)
        if url.scheme in ("data", "blob") or url.hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", gate)
    page = context.new_page()
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.base = base_url
    yield page
    context.close()
    assert not outside, f"the page reached beyond 127.0.0.1: {outside}"
    assert not errors, f"uncaught errors in the page: {errors}"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(150)  # let the last image paint
    page.screenshot(path=str(SHOTS / name), full_page=True)


def open_view(page, run: str, view: str):
    page.goto(f"{page.base}#/{run}/{view}")
    pane = page.locator(f'section.view[data-run="{run}"][data-view="{view}"]')
    expect(pane).to_be_visible()
    return pane


def idle(page) -> None:
    """Wait until no API request of the page is in flight."""
    expect(page.locator("#busy")).to_be_hidden(timeout=20_000)


def image_bytes(page, img) -> str:
    """The bytes behind an <img> (a blob: or data: URL) as base64."""
    return page.evaluate("""async (img) => {
        const data = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
        let s = ""; for (const b of data) s += String.fromCharCode(b); return btoa(s); }""", img.element_handle())


def png(side: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(coarse).resize((side, side), Image.BILINEAR).save(buf, format="PNG")
    return {"name": f"input{side}.png", "mimeType": "image/png", "buffer": buf.getvalue()}


def digits_pane(page, view: str):
    return page.locator(f'section.view[data-run="digits"][data-view="{view}"]')


# ---------------------------------------------------------------- the flows

def test_the_page_lists_the_runs_with_their_views(page):
    page.goto(page.base)
    runs = page.locator("#runs a.run")
    expect(runs).to_have_count(3)
    expect(page.locator("#tabs a.tab")).to_have_text(["Generate", "Explore", "Interpolate", "Sketch", "Training"])
    page.locator('#runs a[data-run="sr"]').click()
    expect(page.locator("#tabs a.tab")).to_have_text(["Upscale", "Training"])
    expect(page.locator("#pins")).to_be_hidden()


def test_generate_pin_then_explore_moves_the_image(page):
    pane = open_view(page, "digits", "generate")
    tiles = pane.locator(".grid .tile")
    expect(tiles).to_have_count(16)
    expect(tiles.nth(3).locator(".caption")).to_have_text("3")
    tiles.nth(3).click()
    expect(tiles.nth(3)).to_have_class("tile pinned")
    expect(page.locator("#pin-list .pin")).to_have_count(1)
    idle(page)
    shot(page, "generate.png")

    page.locator('#tabs a[data-view="explore"]').click()
    pane = digits_pane(page, "explore")
    sliders = pane.locator(".sliders input[type=range]")
    expect(sliders).to_have_count(8)
    big = pane.locator("img.big")
    expect(big).to_have_js_property("complete", True)
    idle(page)
    before_src, before = big.get_attribute("src"), image_bytes(page, big)
    assert before_src.startswith("blob:")
    assert pane.locator("select").input_value() == "3", "the pinned sample's class is Explore's class"

    sent, live, peak = [], [0], [0]  # the explore requests' bodies; how many were in flight (now, at most)

    def started(request):
        if request.url.endswith("/explore"):
            sent.append(request.post_data_json)
            live[0] += 1
            peak[0] = max(peak[0], live[0])

    def ended(request):
        if request.url.endswith("/explore"):
            live[0] -= 1

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    box = sliders.first.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)  # the thumb, at 0
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.95, y, steps=15)
    page.mouse.up()
    expect(pane.locator(".slider output").first).not_to_have_text("0.0σ")
    expect(big).not_to_have_attribute("src", before_src)
    idle(page)
    assert image_bytes(page, big) != before, "moving a slider did not change the image"
    assert peak[0] == 1, "Explore had more than one request in flight"
    assert sent[-1]["offsets"][0] == float(sliders.first.input_value()), "the last request is not the last state"
    assert sent[-1]["latent"] == sent[0]["latent"] and sent[-1]["class"] == 3
    shot(page, "explore.png")


def test_interpolate_between_two_pins(page):
    pane = open_view(page, "digits", "interpolate")
    pane.get_by_role("button", name="Pin two random samples").click()
    expect(page.locator("#pin-list .pin")).to_have_count(2)
    pane.get_by_label("frames", exact=True).fill("6")
    pane.get_by_role("button", name="Interpolate").click()
    expect(pane.locator(".strip img")).to_have_count(6)
    gif = pane.locator("img.gif")
    expect(gif).to_be_visible()
    assert pane.get_by_role("link", name="Download GIF").get_attribute("href").startswith("blob:")
    idle(page)
    assert base64.b64decode(image_bytes(page, gif))[:6] == b"GIF89a"
    shot(page, "interpolate.png")

    pane.get_by_label("between two classes").check()
    pane.get_by_label("class A").select_option("2")
    pane.get_by_label("class B").select_option("7")
    first = pane.locator(".strip img").first.get_attribute("src")
    pane.get_by_role("button", name="Interpolate").click()
    expect(pane.locator(".strip img").first).not_to_have_attribute("src", first)
    expect(pane.locator(".strip img")).to_have_count(6)
    idle(page)


def test_sketch_a_stroke_and_project(page):
    pane = open_view(page, "digits", "sketch")
    canvas = pane.locator("canvas.sketch")
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 13):
        page.mouse.move(x + 6 * np.sin(i / 4), y + i * 14)
    page.mouse.up()
    drawn = page.evaluate("(c) => c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
                          ".filter((v, i) => i % 4 === 3 && v > 0).length", canvas.element_handle())
    assert drawn > 500, "the stroke did not reach the canvas"

    pane.get_by_label("starts", exact=True).fill("4")
    pane.get_by_label("steps", exact=True).fill("25")
    pane.get_by_role("button", name="Project").click()
    candidates = pane.locator(".candidate img")
    expect(candidates).to_have_count(4, timeout=30_000)
    expect(pane.locator(".candidate .caption").first).to_contain_text("best")
    expect(pane.locator(".candidate .caption").first).to_contain_text("loss")
    idle(page)
    shot(page, "sketch.png")

    pane.locator(".candidate").first.get_by_role("button", name="explore →").click()
    expect(page.locator('#tabs a[data-view="explore"]')).to_have_class("tab current")
    expect(page.locator("#pin-list .pin.chosen")).to_have_count(1)
    expect(digits_pane(page, "explore").locator("img.thumb")).to_have_attribute(
        "src", pane.locator(".candidate img").first.get_attribute("src"))


def test_upscale_shows_the_comparison(page):
    pane = open_view(page, "sr", "upscale")
    pane.locator("input[type=file]").set_input_files(png(24))
    after = pane.locator("img.after")
    expect(pane.locator(".compare")).to_be_visible()
    assert after.evaluate("(img) => [img.naturalWidth, img.naturalHeight]") == [96, 96]
    compare = pane.locator(".compare").bounding_box()
    page.mouse.click(compare["x"] + compare["width"] * 0.3, compare["y"] + compare["height"] / 2)
    assert float(pane.locator("input.wide").input_value()) == pytest.approx(30, abs=2)
    idle(page)
    shot(page, "upscale.png")


def test_translate_shows_input_and_output(page):
    pane = open_view(page, "pix2pix", "translate")
    pane.locator("input[type=file]").set_input_files(png(32, seed=3))
    output = pane.locator('img[alt="output"]')
    expect(output).to_be_visible()
    expect(output).to_have_js_property("complete", True)
    assert output.evaluate("(img) => img.naturalWidth") == 32
    idle(page)
    shot(page, "translate.png")


def test_training_draws_the_curves_and_polls_for_more(page, run_dirs):
    metrics = run_dirs[0] / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    pane = open_view(page, "digits", "training")
    status = pane.locator(".status")
    expect(status).to_contain_text(f"{len(lines)} records")
    expect(pane.locator('canvas.chart[data-key="loss_d"]')).to_be_visible()
    expect(pane.locator('canvas.chart[data-key="loss_g"]')).to_be_visible()
    expect(pane.locator("img.sample-grid")).to_be_visible()
    expect(pane.locator(".alarms")).to_contain_text("no alarms")
    pane.locator(".chip", has_text="d_real").click()
    expect(pane.locator('canvas.chart[data-key="d_real"]')).to_be_visible()

    last = json.loads(lines[-1])["step"]
    with open(metrics, "a") as fh:  # an eval record at the last step, then a later training record
        fh.write(json.dumps({"step": last, "eval/fid": 3.5}) + "\n")
        fh.write(json.dumps({"step": last + 5, "loss_d": 0.5, "loss_g": 1.5}) + "\n")
    expect(status).to_contain_text(f"{len(lines) + 2} records", timeout=12_000)  # polled every 5 s
    expect(pane.locator('canvas.chart[data-key="eval/fid"]')).to_be_visible()
    idle(page)
    shot(page, "training.png")


def test_api_errors_show_in_the_error_bar(page):
    pane = open_view(page, "digits", "sketch")
    pane.get_by_role("button", name="Project").click()
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error-text")).to_have_text("the sketch is empty: draw a few strokes first")
    page.locator("#error-close").click()
    expect(page.locator("#error")).to_be_hidden()

    pane = open_view(page, "sr", "upscale")
    pane.locator("input[type=file]").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"})
    expect(page.locator("#error-text")).to_have_text("the upload is not an image (PNG, JPEG, GIF, WEBP, BMP)")
    expect(pane.locator(".compare")).to_be_hidden()
    idle(page)
    shot(page, "error.png")
