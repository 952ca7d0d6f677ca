"""The FastAPI application of `gankit serve`: the page (static files inside the package) and the API under /api.

Every route that computes runs in the bounded worker pool (503 when it is full) and answers a bad request
with HTTP 4xx and {"detail": one line}. Images travel as PNG (data URLs inside JSON where the page needs
several), animations as GIF. The OpenAPI page is /docs.
"""
from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Dict, List, Literal, Optional

import torch
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..checkpoint import STATE_JSON, resolve_checkpoint
from ..errors import GankitError
from ..monitor.images import gif_bytes, grid_array, png_bytes, to_uint8
from . import latent
from .limits import Busy, Limits, RequestError, WorkerPool, check_int, decode_clip, decode_image, sketch_layers
from .registry import Registry

STATIC = Path(__file__).resolve().parent / "static"


# ---------------------------------------------------------------- request bodies

class GenerateRequest(BaseModel):
    n: int = Field(16, description="number of samples")
    seed: int = Field(0, description="noise seed: the same seed gives the same samples")
    psi: Optional[float] = Field(None, description="truncation: noise values beyond +-psi are redrawn (None: off)")
    class_index: Optional[int] = Field(None, alias="class", description="class of a conditional run (None: cycle)")


class ExploreRequest(BaseModel):
    latent: List[float] = Field(..., description="z of the sample to move")
    offsets: List[float] = Field(default_factory=list, description="sigmas along each principal direction")
    class_index: Optional[int] = Field(None, alias="class")


class InterpolateRequest(BaseModel):
    a: Optional[List[float]] = Field(None, description="start latent (noise runs)")
    b: Optional[List[float]] = Field(None, description="end latent (noise runs)")
    class_a: Optional[int] = Field(None, description="start class (conditional runs; with seed's noise)")
    class_b: Optional[int] = Field(None, description="end class")
    class_index: Optional[int] = Field(None, alias="class", description="class for a latent path (conditional)")
    prompt_a: Optional[str] = Field(None, description="start prompt (text runs)")
    prompt_b: Optional[str] = Field(None, description="end prompt (text runs)")
    steps: int = Field(8, description="frames of the path")
    mode: Literal["linear", "slerp"] = "linear"
    seed: int = 0
    format: Literal["gif", "png", "json"] = Field("gif", description="an animated GIF, a PNG strip or JSON frames")


class TextRequest(BaseModel):
    prompt: str
    n: int = 8
    seed: int = 0


# ---------------------------------------------------------------- helpers

def data_url(image: torch.Tensor, scale: int = 1) -> str:
    """(C, H, W) in [-1, 1] -> a PNG data URL."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(to_uint8(image[None])[0], scale)).decode()


def png_response(images: torch.Tensor, nrow: Optional[int] = None) -> Response:
    """One image (C, H, W) or a grid of (N, C, H, W) as a PNG response."""
    arr = to_uint8(images[None])[0] if images.ndim == 3 else grid_array(images, nrow)
    return Response(png_bytes(arr), media_type="image/png")


def truncated_noise(n: int, z_dim: int, seed: int, psi: Optional[float]) -> torch.Tensor:
    """n x z_dim standard normal noise; with psi, values beyond +-psi redrawn until none is (BigGAN's trick)."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, z_dim, generator=gen)
    if psi is None:
        return z
    if not 0.05 <= psi <= 4:
        raise RequestError(f"psi must be in 0.05..4 (or left out), got {psi}")
    bad = z.abs() > psi
    while bad.any():
        z[bad] = torch.randn(int(bad.sum()), generator=gen)
        bad = z.abs() > psi
    return z


def finite(value):
    """JSON-safe: NaN and infinities (a diverged run logs them) become None, inside lists and dicts too."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def test_sequence(info, index: int, frames_in: int) -> tuple:
    """(context, truth) of test sequence `index` of a video run's own data (moving-mnist needs its MNIST files
    where the run's config says, e.g. data/mnist)."""
    from ..api import video_test_data
    from ..config import config_from_dict
    from ..methods.base import DataSpec

    meta = json.loads((resolve_checkpoint(info.path) / STATE_JSON).read_text())["meta"]
    cfg, spec = config_from_dict(meta["config"]), DataSpec.from_dict(meta["data"])
    try:
        data = video_test_data(cfg, spec, "test", index + 1)
    except GankitError as err:
        raise RequestError(f"the run's test data is not available here ({err}): upload a GIF instead") from None
    seen = 0
    for batch in data.items(16):
        if index < seen + len(batch["frames"]):
            seq = batch["frames"][index - seen].float().cpu()
            return seq[:frames_in], seq[frames_in:]
        seen += len(batch["frames"])
    raise RequestError(f"test_index {index} is beyond the run's {seen} test sequences")


def _latent(values: Optional[List[float]], z_dim: int, name: str) -> torch.Tensor:
    if values is None or len(values) != z_dim:
        raise RequestError(f"{name} must be a list of {z_dim} numbers (a sample's latent), got "
                           f"{'nothing' if values is None else len(values)}")
    z = torch.tensor(values, dtype=torch.float32)
    if not torch.isfinite(z).all():
        raise RequestError(f"{name} holds a value that is not finite")
    return z


def _class(info, index: Optional[int], name: str = "class") -> Optional[int]:
    if index is None:
        return None
    if not info.classes:
        raise RequestError(f"this run is not class-conditional: drop '{name}'")
    return check_int(name, index, 0, len(info.classes) - 1)


def create_app(registry: Registry, limits: Optional[Limits] = None, pool: Optional[WorkerPool] = None) -> FastAPI:
    """The application over `registry`'s runs."""
    limits, pool = limits or Limits(), pool or WorkerPool()
    app = FastAPI(title="gankit serve", description="The page and API over your trained gankit runs.",
                  version="1")
    app.state.registry, app.state.limits, app.state.pool = registry, limits, pool
    directions: Dict[str, tuple] = {}  # run id -> (the model they were computed for, Directions)

    @app.exception_handler(RequestError)
    async def _bad(_request: Request, err: RequestError):
        return JSONResponse({"detail": str(err)}, status_code=err.status)

    @app.exception_handler(GankitError)
    async def _gankit(_request: Request, err: GankitError):
        return JSONResponse({"detail": str(err)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, err: RequestValidationError):
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}" if where else
                             str(first.get("msg", "invalid request"))}, status_code=422)

    @app.exception_handler(Busy)
    async def _busy(_request: Request, err: Busy):
        return JSONResponse({"detail": str(err)}, status_code=503, headers={"Retry-After": "1"})

    def info_of(run_id: str):
        try:
            return registry.info(run_id)
        except KeyError:
            raise HTTPException(404, f"no run '{run_id}' is served here; GET /api/runs lists them") from None

    def model_of(run_id: str, view: str):
        info = info_of(run_id)
        if view not in info.views:
            raise RequestError(f"run '{run_id}' ({info.family}) has no {view} view; it has: {', '.join(info.views)}")
        return info, registry.model(run_id)

    async def compute(run_id: str, fn):
        """fn() in the worker pool, holding the run's lock: requests on one model take turns (the latent tools
        put forward hooks on the shared model), requests on different runs run side by side."""
        run_lock = registry.lock(info_of(run_id).id)  # an unknown run: 404 before the pool

        def locked():
            with run_lock:
                return fn()
        return await run_in_threadpool(pool.run, locked)

    def directions_of(run_id: str, gen) -> latent.Directions:
        """The run's directions, computed once per loaded model (a newer checkpoint gets its own); called under the
        run's lock (compute), so no other lock is needed."""
        if run_id not in directions or directions[run_id][0] is not gen:
            directions[run_id] = (gen, latent.principal_directions(gen))
        return directions[run_id][1]

    # ------------------------------------------------------------ runs

    @app.get("/api/runs", summary="the served runs (their newest checkpoints), families and views")
    def runs():
        return {"runs": [registry.refresh(r).as_dict() for r in list(registry.runs)], "limits": vars(limits)}

    @app.get("/api/runs/{run_id}", summary="one run")
    def run(run_id: str):
        info_of(run_id)
        return registry.refresh(run_id).as_dict()

    # ------------------------------------------------------------ noise -> image (and points)

    @app.post("/api/runs/{run_id}/generate", summary="samples with their latents (JSON; ?format=png: a grid)")
    async def generate(run_id: str, body: GenerateRequest, format: Literal["json", "png"] = "json"):
        def work():
            info, gen = model_of(run_id, "generate")
            n = check_int("n", body.n, 1, limits.max_n if info.family != "points" else 100 * limits.max_n)
            y = _class(info, body.class_index)
            z = truncated_noise(n, gen.z_dim, body.seed, body.psi)
            labels = (torch.full((n,), y, dtype=torch.long) if y is not None else
                      torch.arange(n) % len(info.classes) if info.classes else None)
            with torch.no_grad():
                out = gen(z.to(gen.device), labels.to(gen.device) if labels is not None else None).float().cpu()
            if info.family == "points":
                return {"points": out.tolist(), "latents": z.tolist()}
            if format == "png":
                return png_response(out.clamp(-1, 1))
            return {"images": [data_url(x.clamp(-1, 1)) for x in out], "latents": z.tolist(),
                    "classes": labels.tolist() if labels is not None else None}
        return await compute(run_id, work)

    @app.get("/api/runs/{run_id}/directions", summary="the run's principal latent directions (GANSpace)")
    async def get_directions(run_id: str):
        def work():
            _, gen = model_of(run_id, "explore")
            return directions_of(run_id, gen).as_dict()
        return await compute(run_id, work)

    @app.post("/api/runs/{run_id}/explore", summary="a latent moved along principal directions, as PNG")
    async def explore(run_id: str, body: ExploreRequest):
        def work():
            info, gen = model_of(run_id, "explore")
            z = _latent(body.latent, gen.z_dim, "latent")
            d = directions_of(run_id, gen)
            if len(body.offsets) > len(d.explained):
                raise RequestError(f"offsets has {len(body.offsets)} values; this run has {len(d.explained)} "
                                   "directions")
            if any(not -10 <= o <= 10 for o in body.offsets):
                raise RequestError("offsets must lie in -10..10 sigmas")
            if body.offsets:
                z = z + torch.tensor(body.offsets, dtype=torch.float32) @ d.vectors[:len(body.offsets)]
            y = _class(info, body.class_index)
            with torch.no_grad():
                out = gen(z[None].to(gen.device),
                          torch.tensor([y], device=gen.device) if y is not None else None).float().cpu()
            return png_response(out[0].clamp(-1, 1))
        return await compute(run_id, work)

    @app.post("/api/runs/{run_id}/interpolate", summary="a path between latents, classes or prompts")
    async def interpolate(run_id: str, body: InterpolateRequest):
        def work():
            info, model = model_of(run_id, "interpolate")
            steps = check_int("steps", body.steps, 2, limits.max_steps)
            if info.family == "text":
                if not body.prompt_a or not body.prompt_b:
                    raise RequestError("a text run interpolates between two prompts: give prompt_a and prompt_b")
                frames = model.interpolate(body.prompt_a, body.prompt_b, steps=steps, seed=body.seed)
            elif body.class_a is not None or body.class_b is not None:
                a, b = _class(info, body.class_a, "class_a"), _class(info, body.class_b, "class_b")
                if a is None or b is None:
                    raise RequestError("give both class_a and class_b")
                z = _latent(body.a, model.z_dim, "a") if body.a is not None else \
                    truncated_noise(1, model.z_dim, body.seed, None)[0]
                frames = latent.class_path(model, z[None], a, b, steps)
            else:
                path = latent.latent_path(_latent(body.a, model.z_dim, "a"), _latent(body.b, model.z_dim, "b"),
                                          steps, body.mode)
                y = _class(info, body.class_index)
                y = 0 if y is None and info.classes else y  # a conditional run needs a class: the first
                with torch.no_grad():
                    frames = model(path.to(model.device), torch.full((steps,), y, device=model.device)
                                   if y is not None else None).float().cpu()
            frames = frames.clamp(-1, 1)
            if body.format == "gif":
                return Response(gif_bytes(frames, fps=8, scale=max(1, 128 // frames.shape[-1])),
                                media_type="image/gif")
            if body.format == "png":
                return png_response(frames, nrow=steps)
            return {"frames": [data_url(f) for f in frames]}
        return await compute(run_id, work)

    @app.post("/api/runs/{run_id}/project", summary="latents whose images match a sketch (iGAN)")
    async def project(run_id: str, sketch: UploadFile = File(..., description="RGBA PNG: strokes on transparency"),
                      starts: int = Form(8), steps: int = Form(100), seed: int = Form(0),
                      class_index: Optional[int] = Form(None, alias="class")):
        data = await sketch.read(limits.max_upload_bytes + 1)

        def work():
            info, gen = model_of(run_id, "sketch")
            check_int("starts", starts, 1, limits.max_starts)
            check_int("steps", steps, 1, limits.max_project_steps)
            c, h, w = gen.spec.shape
            if h != w:
                raise RequestError("sketching needs square images")
            target, mask = sketch_layers(data, c, h, limits)
            out = latent.project(gen, target, mask, starts=starts, steps=steps, seed=seed,
                                 y=_class(info, class_index))
            return {"images": [data_url(x.clamp(-1, 1)) for x in out["images"]], "latents": out["latents"].tolist(),
                    "losses": out["losses"], "classes": out["classes"]}
        return await compute(run_id, work)

    # ------------------------------------------------------------ the other families

    @app.post("/api/runs/{run_id}/text", summary="images of a prompt (text-to-image runs)")
    async def text(run_id: str, body: TextRequest):
        def work():
            _, model = model_of(run_id, "text")
            n = check_int("n", body.n, 1, limits.max_n)
            if not body.prompt.strip():
                raise RequestError("the prompt is empty: type what to draw")
            images = model.sample(n, text=body.prompt, seed=body.seed)
            return {"images": [data_url(x) for x in images]}
        return await compute(run_id, work)

    @app.post("/api/runs/{run_id}/translate", summary="an uploaded image translated (PNG)")
    async def translate(run_id: str, image: UploadFile = File(...), direction: Optional[str] = Form(None)):
        data = await image.read(limits.max_upload_bytes + 1)

        def work():
            info, model = model_of(run_id, "translate")
            if direction is not None and direction not in model.directions:
                raise RequestError(f"direction must be one of {', '.join(model.directions)}, got {direction!r}")
            x = decode_image(data, int(info.shape[0]), limits)
            return png_response(model.translate(x, direction).clamp(-1, 1))
        return await compute(run_id, work)

    @app.post("/api/runs/{run_id}/upscale", summary="an uploaded image upscaled (PNG)")
    async def upscale(run_id: str, image: UploadFile = File(...)):
        data = await image.read(limits.max_upload_bytes + 1)

        def work():
            info, model = model_of(run_id, "upscale")
            x = decode_image(data, int(info.shape[0]), limits)
            if x.shape[-1] * x.shape[-2] > limits.max_upscale_pixels:
                raise RequestError(f"the image has {x.shape[-1]}x{x.shape[-2]} pixels, more than the "
                                   f"{limits.max_upscale_pixels} this server upscales per request: use "
                                   "`gankit upscale` for large images", status=413)
            return png_response(model.upscale(x).clamp(-1, 1))
        return await compute(run_id, work)

    @app.post("/api/runs/{run_id}/predict", summary="the frames after a clip (animated GIF): an uploaded GIF, or "
                                                    "test sequence `test_index` of the run's own data (truth | prediction)")
    async def predict(run_id: str, clip: Optional[UploadFile] = File(None, description="GIF of >= frames_in frames"),
                      test_index: Optional[int] = Form(None), frames: int = Form(10)):
        data = await clip.read(limits.max_upload_bytes + 1) if clip is not None else None

        def work():
            from ..data.frames import resize_clip

            info, model = model_of(run_id, "predict")
            n = check_int("frames", frames, 1, limits.max_frames)
            if data is None:
                if test_index is None:
                    raise RequestError("send a clip (a GIF) or a test_index")
                context, truth = test_sequence(info, check_int("test_index", test_index, 0, limits.max_test_index),
                                               model.frames_in)
                out = model.predict(context, n)
                shown = truth[:n] if len(truth) >= n else torch.cat([truth, out[len(truth):]])
                movie = torch.cat([torch.cat([context, shown]), torch.cat([context, out])], -1)  # truth | prediction
                return Response(gif_bytes(movie, fps=4, scale=max(1, 128 // model.size[0])), media_type="image/gif")
            x = decode_clip(data, model.channels, limits)
            if len(x) < model.frames_in:
                raise RequestError(f"the clip has {len(x)} frame(s); this model needs at least {model.frames_in}")
            if tuple(x.shape[-2:]) != model.size:
                x = resize_clip(x, model.size[0])
            out = model.predict(x, n)
            return Response(gif_bytes(torch.cat([x[-model.frames_in:], out]), fps=4,
                                      scale=max(1, 128 // model.size[0])), media_type="image/gif")
        return await compute(run_id, work)

    # ------------------------------------------------------------ training

    @app.get("/api/runs/{run_id}/metrics", summary="the run's logged records after the first `offset`, and alarms")
    def metrics(run_id: str, offset: int = 0):
        from ..monitor.plots import read_metrics

        info = info_of(run_id)
        path = info.path / "metrics.jsonl"
        records = read_metrics(path) if path.is_file() else []
        alarms = []
        if (info.path / "alarms.jsonl").is_file():
            for line in (info.path / "alarms.jsonl").read_text().splitlines()[-50:]:
                try:
                    alarms.append(json.loads(line))
                except ValueError:
                    continue
        fresh = records[max(0, offset):][-5000:]
        return {"records": finite(fresh), "next": len(records), "alarms": finite(alarms)}

    @app.get("/api/runs/{run_id}/sample.png", summary="the run's latest sample grid")
    def latest_sample(run_id: str):
        info = info_of(run_id)
        grids = sorted((info.path / "samples").glob("step-*.png")) if (info.path / "samples").is_dir() else []
        if not grids:
            raise HTTPException(404, f"run '{run_id}' has no sample grid yet")
        return FileResponse(grids[-1], media_type="image/png", headers={"Cache-Control": "no-store"})

    # ------------------------------------------------------------ the page

    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index():
        page = STATIC / "index.html"
        if not page.is_file():
            raise HTTPException(404, "the page is not installed (gankit/serve/static/index.html is missing)")
        return FileResponse(page, media_type="text/html")

    return app


__all__ = ["create_app", "truncated_noise"]
