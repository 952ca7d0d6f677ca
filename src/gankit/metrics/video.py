"""Video-prediction metrics with OpenSTL's definitions (Tan et al. 2023), per horizon and overall.

Sequences are (N, T, C, H, W) in the toolkit's [-1, 1], scored on [0, 1] = (x + 1) / 2 in float64:

- ``mse`` / ``mae``: per frame, the SUM over C x H x W of the squared / absolute error, then the mean over
  frames and sequences (OpenSTL's ``MSE``/``MAE``; unclipped predictions). On Moving MNIST all-black
  predictions score about 170 (the digits' energy).
- ``psnr``: per frame -10 log10(mean squared error) with peak 1, predictions clipped to [0, 1], mean over
  frames (an exact frame counts 100 dB, not +inf).
- ``ssim``: per frame, scikit-image's ``structural_similarity`` default (7x7 uniform window, sample
  covariance, K1 = 0.01, K2 = 0.03, valid region) with ``data_range=1`` explicit, clipped predictions.
- ``sharpness``: Mathieu et al. 2016's sharpness difference, 10 log10(1 / mean |(dx T + dy T) - (dx P + dy P)|)
  with dx, dy absolute neighbour differences (dB, higher = edges closer to the truth's).
- ``grad_ratio``: the predictions' gradient energy over the truth's, sum (dx^2 + dy^2) over all frames of a
  horizon (1 = as sharp as the truth; blurred predictions fall below 1).
"""
from __future__ import annotations

import sys
from typing import Callable, Dict, List, Optional

import torch
from torch import Tensor

from ..errors import ConfigError
from .evaluate import MetricResult
from .paired import ssim_valid
from .translation import flat, parse_family_names

VIDEO_METRICS = ("mse", "mae", "psnr", "ssim", "sharpness", "grad_ratio")
LOWER_IS_BETTER = {"mse": True, "mae": True, "psnr": False, "ssim": False, "sharpness": False, "grad_ratio": False}
SSIM_WINDOW = 7
PSNR_CAP_MSE = 1e-10  # 100 dB
PROTOCOL = {"mse/mae": "OpenSTL: per frame sum over pixels in [0, 1], mean over frames and sequences",
            "psnr": "per frame, clipped, peak 1",
            "ssim": "scikit-image default (7x7 uniform), data_range=1 (OpenSTL's call left it to skimage: 2 for floats)",
            "sharpness": "Mathieu 2016 sharpness difference (dB)", "grad_ratio": "gradient energy P / T"}


def _unit(x: Tensor) -> Tensor:
    return (x.detach().to(torch.float64) + 1) / 2


def _gradients(x: Tensor) -> tuple:
    """Absolute vertical and horizontal neighbour differences of (..., H, W), both cut to (H - 1, W - 1)."""
    return (x[..., 1:, 1:] - x[..., :-1, 1:]).abs(), (x[..., 1:, 1:] - x[..., 1:, :-1]).abs()


def frame_scores(pred: Tensor, true: Tensor) -> Dict[str, Tensor]:
    """Per-frame values (N, T) of mse, mae, psnr, ssim, sharpness and the two gradient energies."""
    if pred.shape != true.shape or pred.dim() != 5:
        raise ConfigError(f"predicted and true frames must both be (N, T, C, H, W) of one shape, got "
                          f"{tuple(pred.shape)} and {tuple(true.shape)}")
    if min(pred.shape[-2:]) < SSIM_WINDOW:
        raise ConfigError(f"frames of {pred.shape[-1]}x{pred.shape[-2]} are too small for SSIM's "
                          f"{SSIM_WINDOW}x{SSIM_WINDOW} window; use frames of at least {SSIM_WINDOW} px")
    p, t = _unit(pred), _unit(true.to(pred.device))
    n, steps = p.shape[:2]
    err = p - t
    out = {"mse": err.square().sum((2, 3, 4)), "mae": err.abs().sum((2, 3, 4))}
    pc = p.clamp(0, 1)
    out["psnr"] = -10 * torch.log10((pc - t).square().mean((2, 3, 4)).clamp_min(PSNR_CAP_MSE))
    window = torch.full((SSIM_WINDOW,), 1 / SSIM_WINDOW, dtype=torch.float64, device=p.device)
    out["ssim"] = ssim_valid(pc.flatten(0, 1), t.flatten(0, 1), window, 1.0, sample_covariance=True).view(n, steps)
    (py, px), (ty, tx) = _gradients(pc), _gradients(t)
    out["sharpness"] = 10 * torch.log10(1 / ((ty + tx) - (py + px)).abs().mean((2, 3, 4)).clamp_min(PSNR_CAP_MSE))
    out["energy_pred"] = (py.square() + px.square()).sum((2, 3, 4))
    out["energy_true"] = (ty.square() + tx.square()).sum((2, 3, 4))
    return out


class VideoScores:
    """Sums of the per-frame scores over the sequences seen, per horizon (frame 1..T of the prediction)."""

    def __init__(self) -> None:
        self.sums: Dict[str, Tensor] = {}
        self.n = 0

    def update(self, pred: Tensor, true: Tensor) -> None:
        for name, values in frame_scores(pred, true).items():
            total = values.sum(0).cpu()
            self.sums[name] = self.sums[name] + total if name in self.sums else total
        self.n += pred.shape[0]

    def curves(self) -> Dict[str, List[float]]:
        """Each metric per horizon: the mean over sequences (grad_ratio: the ratio of the energy sums)."""
        if not self.n:
            raise ConfigError("no sequences were scored: give at least one test sequence")
        out = {k: (self.sums[k] / self.n).tolist() for k in VIDEO_METRICS if k in self.sums}
        out["grad_ratio"] = (self.sums["energy_pred"] / self.sums["energy_true"].clamp_min(1e-12)).tolist()
        return out

    def result(self) -> Dict[str, float]:
        """Each metric over all frames (the mean over horizons; grad_ratio over all energies)."""
        out = {k: sum(v) / len(v) for k, v in self.curves().items()}
        out["grad_ratio"] = float(self.sums["energy_pred"].sum() / self.sums["energy_true"].sum().clamp_min(1e-12))
        return out


def parse_video_names(setting: Optional[str]) -> List[str]:
    """`monitor.metrics` / `--metrics` for a video run; auto: every video metric."""
    return parse_family_names(setting, VIDEO_METRICS, VIDEO_METRICS, "video-prediction runs")


def video_results(predict: Callable[[Tensor], Tensor], data, names: List[str], limit: Optional[int] = None,
                  batch_size: int = 50, protocol: Optional[dict] = None) -> tuple:
    """([MetricResult per metric], {metric: per-horizon curve}) of `predict` over `data.items()`
    (`limit` caps the sequences). `predict` maps (N, frames_in, C, H, W) context to the future frames."""
    scores = VideoScores()
    for batch in data.items(batch_size):
        frames = batch["frames"]
        if limit is not None:
            frames = frames[:max(0, limit - scores.n)]
            if not len(frames):
                break
        context, future = frames[:, :data.frames_in], frames[:, data.frames_in:]
        scores.update(predict(context).float().cpu(), future.float().cpu())
    result, curves = scores.result(), scores.curves()
    base = {**(protocol or {}), "n": scores.n, "frames": f"{data.frames_in}->{data.frames_out}"}
    results = [MetricResult(n, {"value": result[n]}, {**base, "definition": PROTOCOL.get(n, PROTOCOL["mse/mae"])})
               for n in names]
    return results, {n: curves[n] for n in names}


class InTrainingVideo:
    """The periodic evaluation of a video method on the test sequences (`monitor.eval_n` of them)."""

    def __init__(self, method, setting: str):
        from ..api import video_test_data

        self.method = method
        self.names = parse_video_names(setting)
        cfg = method.cfg
        held_out = cfg.data.name != "frames" or cfg.data.test_dir
        if not held_out:
            print("\ngankit: data.test_dir is not set: in-training evaluation uses the training clips", file=sys.stderr)
        self.data = video_test_data(cfg, method.spec, "test" if held_out else "train", cfg.monitor.eval_n)
        self.track = self.names[0]

    def __call__(self, step: int) -> Dict[str, float]:
        results, _ = video_results(self.method.predictor(), self.data, self.names, limit=self.method.cfg.monitor.eval_n)
        return flat(results)
