"""Scores of a super-resolution model on a test set of whole HR images (the field's protocol).

PSNR and SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5) on the BT.601 luma Y (MATLAB's
`rgb2ycbcr`) and on RGB, each with `scale` pixels cropped from every border, per image and averaged;
gray test images are scored on their own channel. The LR inputs are MATLAB-style bicubic downscales
of the HR images cropped to a multiple of the scale (`gankit.data.sr`). The perceptual figure: FID and
KID between non-overlapping `patch` x `patch` crops of the HR images and the same crops of the outputs
(offline Inception features), the number of patches stated.

`sr_results` is shared by `gankit eval`, the in-training evaluation (checkpoints/best) and
benchmarks/sr.py.
"""
from __future__ import annotations

import sys
from typing import Callable, Dict, List, Optional

import torch
from torch import Tensor

from ..errors import ConfigError
from .evaluate import MetricResult, _to_uint8
from .frechet import feature_stats, frechet_distance, kid
from .paired import PAIRED_METRICS
from .translation import KID_SUBSET, flat, parse_family_names

GROUND_TRUTH = ("psnr_y", "ssim_y", "psnr", "ssim")
INCEPTION = ("fid", "kid")
SR_METRICS = (*GROUND_TRUTH, *INCEPTION)
SR_DIRECTION = {"psnr_y": False, "ssim_y": False, "psnr": False, "ssim": False, "fid": True, "kid_mean": True}
PATCH = 96  # HR pixels per side of the FID/KID patches
PROTOCOL = {"y": "BT.601 (MATLAB rgb2ycbcr)", "ssim": "Wang 2004 (11x11 Gaussian, sigma 1.5)"}


def parse_sr_names(setting: Optional[str]) -> List[str]:
    """`monitor.metrics` / `--metrics` for an SR run; auto: psnr_y, ssim_y, psnr, ssim."""
    return parse_family_names(setting, SR_METRICS, GROUND_TRUTH, "super-resolution runs")


def patches(x: Tensor, size: int) -> Tensor:
    """Non-overlapping size x size crops of (1, C, H, W), row by row from the top left: (k, C, size, size)."""
    c, h, w = x.shape[1:]
    rows, cols = h // size, w // size
    x = x[0, :, :rows * size, :cols * size].reshape(c, rows, size, cols, size)
    return x.permute(1, 3, 0, 2, 4).reshape(rows * cols, c, size, size)


def sr_results(upscale: Callable[[Tensor], Tensor], data, names: List[str], inception=None, patch: int = PATCH,
               limit: Optional[int] = None, protocol: Optional[dict] = None) -> List[MetricResult]:
    """One MetricResult per metric over `data.items()` (whole images; `limit` caps their number)."""
    if any(n in INCEPTION for n in names) and inception is None:
        raise ConfigError("fid/kid need the Inception network: pass inception= (gankit.metrics.inception)")
    s = data.scale
    acc: Dict[str, list] = {n: [] for n in names if n in GROUND_TRUTH}
    real, fake, images = [], [], 0
    for item in data.items():
        if limit is not None and images >= limit:
            break
        hr = item["hr"].float().cpu()
        out = upscale(item["lr"]).float().cpu().clamp(-1, 1)
        if out.shape != hr.shape:
            raise ConfigError(f"the model turned a {tuple(item['lr'].shape[-2:])} LR image into "
                              f"{tuple(out.shape[-2:])}, not {tuple(hr.shape[-2:])}: it was not trained for "
                              f"data.scale={s}")
        images += 1
        for n in acc:
            acc[n].append(PAIRED_METRICS[n](out, hr, border=s))
        if inception is not None and min(hr.shape[-2:]) >= patch:
            real.append(inception.extract(_to_uint8(patches(hr, patch)))["features"])
            fake.append(inception.extract(_to_uint8(patches(out, patch)))["features"])
    base = {**(protocol or {}), "scale": s, "border": s, "n": images,
            "lr": data.info.get("lr_kernel", "bicubic")}
    results = [MetricResult(n, {"value": float(torch.cat(acc[n]).double().clamp(max=100).mean())},
                            {**base, **({"y": PROTOCOL["y"]} if n.endswith("_y") else {}),
                             **({"ssim": PROTOCOL["ssim"]} if n.startswith("ssim") else {})})
               for n in names if n in GROUND_TRUTH]
    for n in names:
        if n not in INCEPTION:
            continue
        proto = {**base, "patch": patch, "n_patches": sum(len(t) for t in real),
                 **{k: v for k, v in inception.protocol.items() if k != "weights"}}
        if len(real) == 0 or sum(len(t) for t in real) < 2:
            results.append(MetricResult(n, {}, proto, unavailable=f"fewer than 2 patches of {patch} px in the "
                                                                  "test images; pass larger images or a smaller patch"))
            continue
        r, f = torch.cat(real), torch.cat(fake)
        if n == "fid":
            results.append(MetricResult(n, {"value": frechet_distance(*feature_stats(r), *feature_stats(f))}, proto))
        else:
            mean, std = kid(r, f, subset_size=min(KID_SUBSET, len(r)))
            results.append(MetricResult(n, {"mean": mean, "std": std}, proto))
    order = {n: i for i, n in enumerate(names)}
    return sorted(results, key=lambda r: order[r.name])


class InTrainingSR:
    """The periodic evaluation of an SR method on `data.test_dir` (whole images)."""

    def __init__(self, method, setting: str):
        from ..api import dataset_for

        self.method = method
        cfg = method.cfg
        self.names = parse_sr_names(setting)
        if not cfg.data.test_dir:
            print("\ngankit: data.test_dir is not set: in-training evaluation uses the training images",
                  file=sys.stderr)
        self.data = dataset_for(cfg, split="test" if cfg.data.test_dir else "train", channels=None)
        self.inception = None
        if any(n in INCEPTION for n in self.names):
            from .inception import InceptionFeatures

            self.inception = InceptionFeatures(cfg.monitor.inception_weights, device=method.device)
        self.track = "kid_mean" if self.names[0] == "kid" else self.names[0]

    def __call__(self, step: int) -> Dict[str, float]:
        return flat(sr_results(self.method.upscaler(), self.data, self.names, self.inception,
                               limit=self.method.cfg.monitor.eval_n))
