"""What one request may ask: caps on counts, steps and sizes; uploads decoded safely; a bounded worker pool.

An upload is refused before decoding when it is too many bytes, not a PNG / JPEG / GIF / WebP / BMP, or
declares more pixels than `max_pixels` (a decompression bomb is caught from its header). The pool runs at most
`workers` requests at once and holds at most `queue` more; beyond that a request is refused at once (HTTP 503)
instead of waiting without end.
"""
from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import List

import numpy as np
import torch

FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")


class RequestError(Exception):
    """A bad request: its message is one line for the user (HTTP 400, or `status`)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class Busy(Exception):
    """The worker pool and its queue are full (HTTP 503)."""


@dataclass
class Limits:
    max_n: int = 64  # images per generate / text request
    max_steps: int = 32  # interpolation frames
    max_project_steps: int = 300  # optimisation steps of a sketch projection
    max_starts: int = 16  # random starts of a projection
    max_upload_bytes: int = 8 << 20
    max_pixels: int = 4096 * 4096  # decoded pixels of one upload (all frames of a GIF together)
    max_upscale_pixels: int = 1024 * 1024  # input pixels of an upscale request
    max_frames: int = 64  # frames of an uploaded clip or a prediction
    max_test_index: int = 99  # a video run's test sequences the page may ask for


def check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(f"{name} must be an integer in {low}..{high}, got {value!r}"[:200])
    return value


def open_upload(data: bytes, limits: Limits):
    """The PIL image of an upload, checked (size in bytes, format, declared pixels) before its pixels decode."""
    from PIL import Image

    if not data:
        raise RequestError("the upload is empty: send an image file")
    if len(data) > limits.max_upload_bytes:
        raise RequestError(f"the upload has {len(data)} bytes, more than the limit of {limits.max_upload_bytes}: "
                           "send a smaller image", status=413)
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:  # PIL's own guard (more than 2 x its MAX_IMAGE_PIXELS)
        raise RequestError(f"the upload declares far more pixels than the limit of {limits.max_pixels}: send a "
                           "smaller image", status=413) from None
    except Exception:  # PIL raises several types for non-images
        raise RequestError(f"the upload is not an image ({', '.join(FORMATS)})") from None
    if img.format not in FORMATS:
        raise RequestError(f"the upload is a {img.format} image; send one of {', '.join(FORMATS)}")
    frames = getattr(img, "n_frames", 1)
    pixels = img.width * img.height * frames
    if pixels > limits.max_pixels:
        raise RequestError(f"the upload declares {img.width}x{img.height} pixels x {frames} frame(s), more than the "
                           f"limit of {limits.max_pixels} pixels: send a smaller image", status=413)
    return img


def _to_tensor(img, channels: int) -> torch.Tensor:
    """A PIL image as (C, H, W) in [-1, 1] with 1 (luma) or 3 channels (alpha dropped)."""
    mode = "L" if channels == 1 else "RGB"
    arr = np.asarray(img.convert(mode), dtype=np.float32)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(arr.copy()) / 127.5 - 1


def decode_image(data: bytes, channels: int, limits: Limits) -> torch.Tensor:
    """An uploaded still image as (C, H, W) in [-1, 1]; RequestError for anything else."""
    img = open_upload(data, limits)
    try:
        img.seek(0)
        return _to_tensor(img, channels)
    except Exception:  # truncated or corrupt data
        raise RequestError("the upload could not be decoded (truncated or corrupt image)") from None


def decode_clip(data: bytes, channels: int, limits: Limits) -> torch.Tensor:
    """An uploaded GIF (or a still image) as frames (T, C, H, W) in [-1, 1]."""
    img = open_upload(data, limits)
    frames: List[torch.Tensor] = []
    try:
        for i in range(min(getattr(img, "n_frames", 1), limits.max_frames)):
            img.seek(i)
            frames.append(_to_tensor(img, channels))
    except Exception:
        raise RequestError("the upload could not be decoded (truncated or corrupt image)") from None
    return torch.stack(frames)


def sketch_layers(data: bytes, channels: int, side: int, limits: Limits) -> tuple:
    """A sketch (an RGBA PNG: strokes on transparency) at the generator's side: (target (C, S, S) in [-1, 1],
    mask (1, S, S) in [0, 1], where the user drew)."""
    from PIL import Image

    img = open_upload(data, limits)
    try:
        rgba = img.convert("RGBA").resize((side, side), Image.BILINEAR)
    except Exception:
        raise RequestError("the sketch could not be decoded (truncated or corrupt image)") from None
    arr = np.asarray(rgba, dtype=np.float32) / 255.0
    mask = torch.from_numpy(arr[..., 3].copy())[None]
    if float(mask.sum()) < 1e-3:
        raise RequestError("the sketch is empty: draw a few strokes first")
    color = torch.from_numpy(arr[..., :3].transpose(2, 0, 1).copy()) * 2 - 1
    if channels == 1:
        color = (color * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True)
    return color, mask


class WorkerPool:
    """At most `workers` requests compute at once and at most `queue` wait; more raise Busy at once."""

    def __init__(self, workers: int = 2, queue: int = 8):
        self.workers = threading.Semaphore(max(1, workers))
        self.admitted = threading.Semaphore(max(1, workers) + max(0, queue))

    def run(self, fn, *args):
        if not self.admitted.acquire(blocking=False):
            raise Busy("the server is busy: try again in a moment")
        try:
            with self.workers:
                return fn(*args)
        finally:
            self.admitted.release()


__all__ = ["Busy", "Limits", "RequestError", "WorkerPool", "check_int", "decode_clip", "decode_image",
           "open_upload", "sketch_layers"]
