"""Latent-space tools of the page, for noise -> image generators (`LoadedGenerator`).

- `principal_directions`: GANSpace (Härkönen et al. 2020) for generators without a style space: PCA of the
  first z-dependent layer's activations over sampled latents, each component carried back to z by a linear
  regression of z on the component coordinates; a slider moves z along one unit direction (in sigmas of z).
- `interpolate`: linear or spherical paths between two latents, and between two classes (every label
  embedding of G blended, the noise fixed).
- `project`: iGAN-style projection of a sketch: from several random starts, Adam on z against the masked
  pixel and edge (Sobel) loss plus a Gaussian prior on z; the candidates sorted by loss.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .limits import RequestError

PROBE_MODULES = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


@dataclass
class Directions:
    vectors: torch.Tensor  # (k, z_dim), unit rows
    explained: List[float]  # share of the activation variance of each component

    def as_dict(self) -> dict:
        return {"k": len(self.explained), "explained": [round(v, 4) for v in self.explained]}


def first_z_layer(gen, y: Optional[torch.Tensor]) -> nn.Module:
    """The first Linear / Conv layer (in call order) whose output changes with z."""
    calls: List[tuple] = []
    hooks = [m.register_forward_hook(lambda mod, _i, out: calls.append((mod, out.detach().clone())))
             for m in gen.modules() if isinstance(m, PROBE_MODULES)]
    try:
        outs = []
        for seed in (1, 2):
            calls.clear()
            z = torch.randn(2, gen.z_dim, generator=torch.Generator().manual_seed(seed)).to(gen.device)
            with torch.no_grad():
                gen(z, y[:2] if y is not None else None)
            outs.append(list(calls))
    finally:
        for h in hooks:
            h.remove()
    for (mod, a), (_, b) in zip(*outs):
        if not torch.equal(a, b):
            return mod
    raise RequestError("this generator has no Linear or Conv layer that reads z: it has no principal directions")


@torch.no_grad()
def principal_directions(gen, k: int = 8, n: int = 2000, seed: int = 0) -> Directions:
    """GANSpace directions of a noise -> image generator (see the module docstring)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, gen.z_dim, generator=g)
    y = (torch.randint(gen.num_classes, (n,), generator=g).to(gen.device) if gen.num_classes else None)
    layer = first_z_layer(gen, y)
    feats: List[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda _m, _i, out: feats.append(out.detach().flatten(1).float().cpu()))
    try:
        for i in range(0, n, 500):
            gen(z[i:i + 500].to(gen.device), y[i:i + 500] if y is not None else None)
    finally:
        hook.remove()
    acts = torch.cat(feats)
    acts = acts - acts.mean(0)
    k = max(1, min(k, n - 1, gen.z_dim, acts.shape[1]))
    _, s, v = torch.linalg.svd(acts, full_matrices=False)
    coords = acts @ v[:k].T  # (n, k)
    b = torch.linalg.lstsq(coords, z).solution  # z ~ coords @ b: (k, z_dim)
    vectors = b / b.norm(dim=1, keepdim=True).clamp(min=1e-12)
    var = s ** 2
    return Directions(vectors, (var[:k] / var.sum()).tolist())


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of the rows of a and b (1, d) at the times t (T,): (T, d)."""
    na, nb = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((na * nb).sum(-1).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    t = t[:, None]
    if float(so) < 1e-6:
        return torch.lerp(a, b, t)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def latent_path(a: torch.Tensor, b: torch.Tensor, steps: int, mode: str) -> torch.Tensor:
    t = torch.linspace(0, 1, steps)
    if mode == "slerp":
        return slerp(a[None], b[None], t)
    if mode == "linear":
        return torch.lerp(a[None], b[None], t[:, None])
    raise RequestError(f"mode must be linear or slerp, got {mode!r}")


@contextlib.contextmanager
def blended_labels(gen, other: torch.Tensor, t: torch.Tensor):
    """While active, every label embedding of G returns lerp(embed(y), embed(other), t) per row."""
    embeddings = [m for m in gen.modules() if isinstance(m, nn.Embedding)]
    if not embeddings:
        raise RequestError("this generator has no label embedding to blend: interpolate between latents instead")

    def hook(mod, inputs, out):
        return torch.lerp(out, mod.weight[other], t.to(out.dtype).view(-1, *([1] * (out.ndim - 1))))
    hooks = [m.register_forward_hook(hook) for m in embeddings]
    try:
        yield
    finally:
        for h in hooks:
            h.remove()


@torch.no_grad()
def class_path(gen, z: torch.Tensor, a: int, b: int, steps: int) -> torch.Tensor:
    """Images from one noise z, the class moving from a to b (steps, C, H, W)."""
    t = torch.linspace(0, 1, steps, device=gen.device)
    ya = torch.full((steps,), a, dtype=torch.long, device=gen.device)
    yb = torch.full((steps,), b, dtype=torch.long, device=gen.device)
    with blended_labels(gen, yb, t):
        return gen(z.to(gen.device).expand(steps, -1), ya).float().cpu()


def _sobel(x: torch.Tensor) -> torch.Tensor:
    kx = torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]], device=x.device)
    k = torch.stack([kx, kx.T])[:, None].repeat(x.shape[1], 1, 1, 1)  # (2C, 1, 3, 3)
    return F.conv2d(x, k, padding=1, groups=x.shape[1])


def project(gen, target: torch.Tensor, mask: torch.Tensor, *, starts: int = 8, steps: int = 100, lr: float = 0.05,
            y: Optional[int] = None, seed: int = 0, prior: float = 1e-3, edge: float = 0.5) -> Dict[str, object]:
    """Latents whose images match a sketch where it was drawn: {"images" (starts, C, H, W) best first,
    "latents" (starts, z_dim), "losses" [starts], "classes" (conditional: class `y`, else spread over all)}."""
    dev = gen.device
    target, mask = target.to(dev)[None], mask.to(dev)[None]
    if tuple(target.shape[1:]) != tuple(gen.spec.shape):
        raise RequestError(f"the sketch must be {list(gen.spec.shape)} (C, H, W), got {list(target.shape[1:])}")
    z = torch.randn(starts, gen.z_dim, generator=torch.Generator().manual_seed(seed)).to(dev).requires_grad_(True)
    if y is not None:
        labels = torch.full((starts,), y, dtype=torch.long, device=dev)
    else:  # a conditional G without a class given: the starts spread over the classes
        labels = torch.arange(starts, device=dev) % gen.num_classes if gen.num_classes else None
    opt = torch.optim.Adam([z], lr=lr)
    t_edge, area = _sobel(target), mask.sum().clamp(min=1.0)
    for _ in range(steps):  # the served models' weights are frozen (Registry), so only z gets gradients
        losses = _sketch_loss(gen, z, labels, target, t_edge, mask, area, prior, edge)
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        opt.step()
    with torch.no_grad():
        losses = _sketch_loss(gen, z, labels, target, t_edge, mask, area, prior, edge)
        order = losses.argsort()
        labels = labels[order] if labels is not None else None
        images = gen(z[order], labels).float().cpu()
    return {"images": images, "latents": z.detach()[order].cpu(), "losses": losses[order].tolist(),
            "classes": labels.tolist() if labels is not None else None}


def _sketch_loss(gen, z, labels, target, t_edge, mask, area, prior, edge) -> torch.Tensor:
    x = gen(z, labels).float()
    pixel = ((x - target) ** 2 * mask).flatten(1).sum(1) / area
    edges = ((_sobel(x) - t_edge) ** 2 * mask).flatten(1).sum(1) / area
    return pixel + edge * edges + prior * (z ** 2).sum(1)


__all__ = ["Directions", "class_path", "first_z_layer", "latent_path", "principal_directions", "project", "slerp"]
