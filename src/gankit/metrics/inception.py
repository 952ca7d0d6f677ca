"""Inception-v3 (TF 2015-12-05) features through torch-fidelity, offline, with the weights file's sha256.

The weights come from an explicit path or the torch hub cache
(`$TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth`); nothing is ever
downloaded. torch-fidelity resizes every image itself (TF1-style bilinear, to 299x299).
The weights are read with `torch.load(weights_only=True)` (no unpickling).
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import pickle
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from gankit.errors import GankitError
from gankit.metrics import register

WEIGHTS_NAME = "weights-inception-2015-12-05-6726825d.pth"
FEATURES = "inception-v3-2015-12-05 pool3 2048-d (torch-fidelity)"
LOGITS = "inception-v3-2015-12-05 logits_unbiased 1008-d (torch-fidelity)"
RESIZE = "torch-fidelity TF1 bilinear to 299"
IS_SPLITS = 10
TORCH_FIDELITY_SEED = 2020  # torch-fidelity's default rng_seed (KID subsets, IS shuffle)


class WeightsNotFound(GankitError, FileNotFoundError):
    """A network's weights file is missing."""


class MetricUnavailable(GankitError):
    """A metric cannot be computed with the given network or model (the message says why)."""


def hub_weights_path() -> Path:
    """Where torch-fidelity keeps the weights in the torch hub cache (honours $TORCH_HOME)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME


def resolve_weights(path: Optional[str] = None) -> Path:
    """The weights file to use: `path` when given, else the hub cache copy; one-line error if absent."""
    hub = hub_weights_path()
    todo = f"pass --inception-weights PATH or put the file in $TORCH_HOME/hub/checkpoints/ as {WEIGHTS_NAME}"
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsNotFound(f"Inception weights file '{p}' not found: {todo} (here: '{hub}')")
        return follow_text_link(p)
    if not hub.is_file():
        raise WeightsNotFound(f"Inception weights not found in the torch hub cache '{hub}' (gankit never downloads): "
                              f"{todo}")
    return follow_text_link(hub)


def follow_text_link(path: Path) -> Path:
    """A symlink checked out as a tiny text file naming its target (git without symlinks) -> the target."""
    if path.stat().st_size > 1024:
        return path
    name = path.read_bytes().strip().decode("utf-8", "replace")
    target = path.parent / name
    if name and "\n" not in name and target.is_file() and target.resolve() != path.resolve():
        return target
    return path


_HASHES: Dict[Tuple[str, int, int, bool], str] = {}


def file_sha256(path) -> str:
    """sha256 of a file's bytes, remembered per (real path, mtime, size) so each file is hashed once."""
    return _sha256(path, decompress=False)


def content_sha256(path) -> str:
    """sha256 of a file's data: the decompressed bytes of a .gz file (the same data compressed again, as a
    re-mount or a re-download may do, has another header time and other bytes), else the file's bytes."""
    return _sha256(path, decompress=str(path).endswith(".gz"))


def _sha256(path, decompress: bool) -> str:
    real = os.path.realpath(path)
    st = os.stat(real)
    key = (real, st.st_mtime_ns, st.st_size, decompress)
    if key not in _HASHES:
        h = hashlib.sha256()
        with (gzip.open if decompress else open)(real, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


@contextlib.contextmanager
def _weights_only_loads():
    """Make every `torch.load` inside (torch-fidelity's too) use weights_only=True."""
    key, old = "TORCH_FORCE_WEIGHTS_ONLY_LOAD", os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
    os.environ[key] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def _load_weights(path: Path, sha256: str) -> Tuple[dict, Optional[str]]:
    """The state dict (weights_only) and why IS is unavailable (None if the fc logits are usable).

    Missing fc weights are filled with NaN so torch-fidelity's strict load accepts the file.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, ValueError, EOFError, pickle.UnpicklingError) as err:
        raise GankitError(f"Inception weights '{path}' could not be loaded ({type(err).__name__}: "
                          f"{' '.join(str(err).split())[:120]}); use an intact {WEIGHTS_NAME}") from None
    if not isinstance(state, dict):
        raise GankitError(f"Inception weights '{path}' are not a state dict: use {WEIGHTS_NAME}")
    why = "no ImageNet logits (fc layer missing)" if "fc.weight" not in state else None
    state.setdefault("fc.weight", torch.full((1008, 2048), float("nan")))
    state.setdefault("fc.bias", torch.full((1008,), float("nan")))
    if why is None and not (torch.isfinite(state["fc.weight"]).all() and torch.isfinite(state["fc.bias"]).all()):
        why = "no ImageNet logits (fc layer not finite)"
    problem = None if why is None else (
        f"the Inception weights (sha256 {sha256[:8]}) carry {why}, so IS is unavailable with them; "
        "FID, KID and precision/recall are unaffected")
    return state, problem


def as_rgb_uint8(images: Tensor) -> Tensor:
    """(N, 1|3, H, W) uint8 -> (N, 3, H, W) uint8, grayscale tiled to 3 channels."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise GankitError(f"expected uint8 images (N, 1 or 3, H, W), got {images.dtype} {tuple(images.shape)}; "
                          "convert with gankit.monitor.images.to_uint8")
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


class InceptionFeatures:
    """torch-fidelity's `FeatureExtractorInceptionV3`: pool3 features (2048) and logits_unbiased (1008).

    `protocol` describes the network for result lines; `logits_problem` is None when IS can be
    computed, else the reason it cannot.
    """

    tiles_gray = True  # 1-channel inputs are tiled to RGB

    def __init__(self, weights: Optional[str] = None, device="cpu"):
        path = resolve_weights(weights)
        self.sha256 = file_sha256(path)
        state, self.logits_problem = _load_weights(path, self.sha256)
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except ImportError:
            raise GankitError("Inception metrics need torch-fidelity: pip install 'gankit[eval]'") from None
        buf = io.BytesIO()
        torch.save(state, buf)
        buf.seek(0)
        try:  # torch-fidelity reads the (already checked) state dict from memory, weights_only enforced
            with _weights_only_loads():
                net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                                  feature_extractor_weights_path=buf)
        except RuntimeError as err:
            raise GankitError(f"Inception weights '{path}' do not fit torch-fidelity's InceptionV3 "
                              f"({' '.join(str(err).split())[:120]}); use {WEIGHTS_NAME}") from None
        self.device = torch.device(device)
        self.net = net.to(self.device, memory_format=torch.channels_last)  # ~1.4x faster on CPU, same features
        self.protocol = {"features": FEATURES, "logits": LOGITS, "resize": RESIZE, "weights": str(path.absolute()),
                         "weights_sha256": self.sha256}

    @torch.no_grad()
    def extract(self, images: Tensor) -> Dict[str, Tensor]:
        """One batch of uint8 images -> {"features": (N, 2048), "logits": (N, 1008)} float32 on the CPU."""
        x = as_rgb_uint8(images).to(self.device)
        feats, logits = self.net(x)
        return {"features": feats.float().cpu(), "logits": logits.float().cpu()}


@register("is")
def inception_score(logits, splits: int = IS_SPLITS, seed: int = TORCH_FIDELITY_SEED) -> Tuple[float, float]:
    """Inception Score mean and std over `splits` (torch-fidelity's computation); needs finite logits."""
    from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric

    t = torch.as_tensor(np.asarray(logits)) if not isinstance(logits, Tensor) else logits
    if t.ndim != 2 or len(t) < splits:
        raise GankitError(f"IS needs (N, classes) logits with N >= splits={splits}, got {tuple(t.shape)}; "
                          "pass more samples")
    if not bool(torch.isfinite(t).all()):
        raise MetricUnavailable("IS is unavailable: the logits are not finite (the Inception weights carry no "
                                "ImageNet classifier); use the official torch-fidelity weights for IS")
    out = isc_features_to_metric(t.cpu(), splits=splits, shuffle=True, rng_seed=seed)
    return out[KEY_METRIC_ISC_MEAN], out[KEY_METRIC_ISC_STD]


__all__ = ["InceptionFeatures", "MetricUnavailable", "WeightsNotFound", "as_rgb_uint8", "content_sha256",
           "file_sha256", "hub_weights_path", "inception_score", "resolve_weights"]
