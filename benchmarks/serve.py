#!/usr/bin/env python
"""`gankit serve` latency and memory on this CPU: p50 / p95 of generate, a slider update (explore) and a sketch
projection on a DCGAN-28 run, with 1 and with 8 concurrent clients over real HTTP (uvicorn on a local port),
and the server's resident memory with the given runs loaded. Screenshots of the page on the trained run go
to results/serve/ (Chromium through Playwright, network cut), when both are installed.

    .venv/bin/python benchmarks/serve.py --run runs/serve/mnist-dcgan --more runs/sr/srresnet runs/video/simvp \
        runs/text2image/gan-int-cls runs/video/simvp-gan
"""
from __future__ import annotations

import argparse
import io
import socket
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_common import RESULTS, Timer, command, log, machine, today, write_result  # noqa: E402

REQUESTS = {"generate": 40, "explore": 60, "project": 6}  # per client


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(app, port: int):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread


def sketch_png(side: int) -> bytes:
    import numpy as np
    from PIL import Image

    arr = np.zeros((side, side, 4), np.uint8)
    arr[side // 5:4 * side // 5, side // 2 - 2:side // 2 + 2] = 255  # a "1"
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def one_client(base: str, run: str, kind: str, count: int, seed: int) -> tuple:
    """(latencies in ms, HTTP statuses) of `count` requests of one kind, one after another."""
    import httpx

    times, statuses = [], []
    with httpx.Client(base_url=base, timeout=120) as http:
        latent = http.post(f"/api/runs/{run}/generate", json={"n": 1, "seed": seed}).json()["latents"][0]
        for i in range(count):
            t = time.perf_counter()
            if kind == "generate":
                r = http.post(f"/api/runs/{run}/generate", json={"n": 16, "seed": seed * 1000 + i})
            elif kind == "explore":  # a slider dragged: one direction moving by 0.1 sigma per update
                r = http.post(f"/api/runs/{run}/explore", json={"latent": latent, "offsets": [0.1 * (i % 30 - 15)]})
            else:
                r = http.post(f"/api/runs/{run}/project", files={"sketch": ("s.png", sketch_png(128), "image/png")},
                              data={"starts": 8, "steps": 100, "seed": i})
            times.append(1000 * (time.perf_counter() - t))
            statuses.append(r.status_code)
    return times, statuses


def measure(base: str, run: str, kind: str, clients: int) -> dict:
    with ThreadPoolExecutor(clients) as ex:
        parts = list(ex.map(lambda c: one_client(base, run, kind, REQUESTS[kind], c), range(clients)))
    times = sorted(t for p in parts for t, s in zip(*p) if s == 200)
    refused = sum(s == 503 for p in parts for s in p[1])
    other = sum(s not in (200, 503) for p in parts for s in p[1])
    q = statistics.quantiles(times, n=20) if len(times) >= 2 else [float("nan")] * 19
    return {"n": len(times), "p50": statistics.median(times) if times else float("nan"), "p95": q[18],
            "refused": refused, "errors": other}


def screenshots(base: str, run: str) -> list:
    """The page's Generate, Explore and Sketch views on the trained run (empty list without Playwright)."""
    import shutil

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return []
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return []
    out = RESULTS / "serve"
    out.mkdir(parents=True, exist_ok=True)
    names = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
        for view in ("generate", "explore", "sketch"):
            page.goto(f"{base}/#/{run}/{view}")
            page.wait_for_timeout(400)
            if view == "generate":
                page.get_by_role("button", name="Generate", exact=True).click()
                page.wait_for_timeout(1500)
                page.locator("img[alt='sample 4']:visible").first.click()  # pin a sample for Explore
            if view == "explore":
                page.wait_for_timeout(2500)
                slider = page.locator("input[type=range]:visible").first
                slider.fill("2")
                slider.dispatch_event("input")
                page.wait_for_timeout(1500)
            if view == "sketch":  # a "7": a bar and a slanted stroke, projected from 8 starts
                box = page.locator("canvas.sketch:visible").bounding_box()
                x, y, w = box["x"], box["y"], box["width"]
                for (x0, y0), (x1, y1) in (((0.3, 0.25), (0.7, 0.25)), ((0.7, 0.25), (0.45, 0.8))):
                    page.mouse.move(x + x0 * w, y + y0 * w)
                    page.mouse.down()
                    page.mouse.move(x + x1 * w, y + y1 * w, steps=12)
                    page.mouse.up()
                page.get_by_role("button", name="Project").click()
                page.locator(".candidate img:visible").first.wait_for(timeout=60_000)
                page.wait_for_timeout(500)
            page.screenshot(path=str(out / f"page-{view}.png"))
            names.append(f"serve/page-{view}.png")
        browser.close()
    return names


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="the DCGAN-28 run the latencies are measured on")
    p.add_argument("--more", nargs="*", default=[], help="further runs, loaded for the memory figure")
    p.add_argument("--out", default="serve.md")
    args = p.parse_args()
    import torch

    from gankit.serve.app import create_app
    from gankit.serve.limits import WorkerPool
    from gankit.serve.registry import Registry, find_runs

    timer = Timer()
    base_rss = rss_mib()
    registry = Registry(find_runs([args.run, *args.more]), cache_size=1 + len(args.more))
    run = next(iter(registry.runs))
    app = create_app(registry, pool=WorkerPool(workers=2, queue=8))
    port = free_port()
    server, thread = start_server(app, port)
    base = f"http://127.0.0.1:{port}"
    one_client(base, run, "explore", 2, 0)  # loads the model and computes its directions (not timed)
    rows = {}
    for kind in REQUESTS:
        for clients in (1, 8):
            rows[(kind, clients)] = measure(base, run, kind, clients)
            log(f"{kind} x {clients} client(s): {rows[(kind, clients)]}")
    for run_id in registry.runs:
        with registry.lock(run_id):
            registry.model(run_id)
    loaded_rss = rss_mib()
    shots = screenshots(base, run)
    server.should_exit = True
    thread.join(10)
    info = registry.info(run)
    write_result(args.out, report(rows, info, registry, base_rss, loaded_rss, shots, timer, torch))
    return 0


def rel(path) -> str:
    """`path` relative to the working directory where it lies under it."""
    p = Path(path).resolve()
    return str(p.relative_to(Path.cwd())) if p.is_relative_to(Path.cwd()) else str(p)


def report(rows, info, registry, base_rss, loaded_rss, shots, timer, torch) -> str:
    what = {"generate": "generate 16 images (JSON with PNG data URLs)", "explore": "slider update (explore: one "
            "image, PNG)", "project": "sketch projection (8 starts x 100 Adam steps)"}
    table = "".join(f"| {what[k]} | {c} | {r['n']} | {r['p50']:.0f} | {r['p95']:.0f} | {r['refused']} | "
                    f"{r['errors']} |\n" for (k, c), r in rows.items())
    pictures = "".join(f"![{s}]({s})\n\n" for s in shots) or "(no screenshots: Playwright or Chromium missing)\n"
    slider = rows[("explore", 1)]["p95"]
    return f"""# gankit serve: latency and memory on 2 CPU cores

Run: `{rel(info.path)}` ({info.family}, {info.data}, {'x'.join(map(str, info.shape))}, step {info.step}); the server
in-process (uvicorn on 127.0.0.1, 2 workers, queue 8), clients over HTTP (httpx), each client sending its
requests one after another; 8 clients at once share the 2 workers.

| request | clients | answered | p50 ms | p95 ms | refused (503) | errors |
|---|---|---|---|---|---|---|
{table}
- Goal: a slider update under 200 ms p95 with one client: **{'met' if slider < 200 else 'not met'}** ({slider:.0f} ms).
- With 8 clients the requests queue behind the 2 workers (requests on one model take turns: the latent tools
  hook the shared model), so p95 grows about with the number of clients; none is refused while the queue
  (8) holds them.
- Resident memory: {base_rss:.0f} MiB before the server, {loaded_rss:.0f} MiB with {len(registry.runs)} runs loaded
  ({', '.join(f'{r.id} ({r.family})' for r in registry.runs.values())}).

{pictures}
## Commands, machine, time

- benchmark: `{command()}`
- date: {today()}
- machine: {machine()}; torch threads {torch.get_num_threads()}
- wall time: {timer}
"""


if __name__ == "__main__":
    raise SystemExit(main())
