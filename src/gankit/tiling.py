"""Run a fully convolutional image-to-image (or, with `scale`, super-resolution) network on images of any size.

The image is (conceptually) padded at the bottom and right to a multiple of the network's
``multiple`` (reflect padding; replicate where the image is too small to reflect). Small images go
through the network once. Larger ones go through in overlapping ``tile`` x ``tile`` windows whose
starts are multiples of ``multiple`` (so down-sampling grids line up with the untiled run); the
windows' outputs are blended with weights that are 0 on the outer quarter of each overlap (where a
window's own zero padding is felt) and ramp linearly across the middle half, so there are no seams
and, when the network's receptive-field radius is at most ``overlap // 4``, the result equals the
untiled run up to float round-off. Only the output, a weight map and one window are held at a time.
"""

from __future__ import annotations

from typing import Callable, List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import ConfigError, GankitError

ImageFn = Callable[[Tensor], Tensor]


def _int_arg(value, name: str, low: int) -> int:
    """``value`` as an int >= ``low`` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def _check_image(x: Tensor) -> None:
    if not isinstance(x, Tensor) or x.ndim != 4 or not x.is_floating_point():
        raise ConfigError(
            f"x must be a float (N, C, H, W) tensor, got {getattr(x, 'dtype', type(x).__name__)} "
            f"{tuple(getattr(x, 'shape', ()))}; add a batch dimension with x[None]"
        )
    if min(x.shape) == 0:
        raise ConfigError(f"x must have N, C, H, W >= 1, got shape {tuple(x.shape)}; pass a non-empty image")


def _pad_axis(x: Tensor, dim: int, amount: int) -> Tensor:
    """``x`` padded by ``amount`` at the end of ``dim`` (-1 or -2): reflect, or replicate when too small."""
    if amount == 0:
        return x
    mode = "reflect" if amount < x.shape[dim] else "replicate"
    return F.pad(x, (0, amount, 0, 0) if dim == -1 else (0, 0, 0, amount), mode=mode)


def _window_index(start: int, size: int, length: int, padded: int) -> List[int]:
    """Source rows (or columns) of ``[start, start + size)`` of the image padded from ``length`` to ``padded``.

    Same rule as :func:`_pad_axis` on the whole image, so an edge tile sees the untiled run's padding.
    """
    reflect = padded - length < length
    return [i if i < length else (2 * (length - 1) - i if reflect else length - 1) for i in range(start, start + size)]


def _window(x: Tensor, y0: int, x0: int, th: int, tw: int, padded: Tuple[int, int]) -> Tensor:
    """The ``th x tw`` window at ``(y0, x0)`` of ``x`` padded to ``padded``, copying no more than the window."""
    h, w = x.shape[-2:]
    if y0 + th <= h and x0 + tw <= w:
        return x[..., y0 : y0 + th, x0 : x0 + tw]
    rows, cols = _window_index(y0, th, h, padded[0]), _window_index(x0, tw, w, padded[1])
    r0, c0 = min(rows), min(cols)
    part = x[..., r0 : max(rows) + 1, c0 : max(cols) + 1]  # a view
    rows_t = torch.tensor([i - r0 for i in rows], device=x.device)
    cols_t = torch.tensor([i - c0 for i in cols], device=x.device)
    return part.index_select(-2, rows_t).index_select(-1, cols_t)


def pad_to_multiple(x: Tensor, multiple: int) -> Tuple[Tensor, Tuple[int, int]]:
    """``x`` padded at the bottom and right so H and W are multiples of ``multiple``, and the original (H, W)."""
    _check_image(x)
    m = _int_arg(multiple, "multiple", 1)
    h, w = x.shape[-2:]
    return _pad_axis(_pad_axis(x, -2, -h % m), -1, -w % m), (h, w)


def crop(x: Tensor, size: Tuple[int, int]) -> Tensor:
    """The top-left ``size = (H, W)`` of ``x`` (undoes :func:`pad_to_multiple`)."""
    h, w = size
    if not (1 <= h <= x.shape[-2] and 1 <= w <= x.shape[-1]):
        raise ConfigError(f"cannot crop {tuple(x.shape[-2:])} to {(h, w)}; pass a size within the image")
    return x[..., :h, :w]


def _starts(length: int, tile: int, stride: int) -> List[int]:
    """Window starts covering ``[0, length)``: every ``stride``, the last flush with the end."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def _ramp(size: int, before: int, after: int, device: torch.device) -> Tensor:
    """1-D window weights: 1 inside, 0 then linear over an overlap of ``before`` / ``after`` pixels at each end.

    For an overlap ``o`` the first ``o // 4`` pixels get 0 and the next ``o - 2 * (o // 4)`` ramp up, so
    two windows overlapping by ``o`` have weights summing to 1 across the overlap.
    """
    d = torch.arange(size, dtype=torch.float32, device=device)
    w = torch.ones(size, dtype=torch.float32, device=device)
    for o, dist in ((before, d), (after, size - 1 - d)):
        if o > 0:
            m = o // 4
            w = w * ((dist + 0.5 - m) / (o - 2 * m)).clamp(0, 1)
    return w


def _ramps(starts: List[int], size: int, device: torch.device) -> List[Tensor]:
    """:func:`_ramp` for each window along one axis, from its overlaps with the previous and next window."""
    last = len(starts) - 1
    return [
        _ramp(size, starts[k - 1] + size - s if k else 0, s + size - starts[k + 1] if k < last else 0, device)
        for k, s in enumerate(starts)
    ]


def _run(fn: ImageFn, inp: Tensor, multiple: int, scale: int) -> Tensor:
    """``fn(inp)`` validated to keep the batch and give ``scale`` times the spatial size."""
    out = fn(inp)
    want = (inp.shape[-2] * scale, inp.shape[-1] * scale)
    if not isinstance(out, Tensor) or out.ndim != 4 or out.shape[0] != 1 or tuple(out.shape[-2:]) != want:
        raise GankitError(
            f"fn turned a {tuple(inp.shape)} input into {tuple(getattr(out, 'shape', ()))}; translate_any_size "
            f"needs a fully convolutional net that maps h x w (multiples of {multiple}) to {scale}h x {scale}w"
        )
    return out


def _translate_one(fn: ImageFn, x: Tensor, multiple: int, tile: int, overlap: int, s: int = 1) -> Tensor:
    """One ``(1, C, H, W)`` image -> ``(1, C', s H, s W)`` float32."""
    h, w = x.shape[-2:]
    hp, wp = h + (-h % multiple), w + (-w % multiple)
    if hp <= tile and wp <= tile:
        padded, _ = pad_to_multiple(x, multiple)
        out = crop(_run(fn, padded, multiple, s), (s * h, s * w)).to(device=x.device, dtype=torch.float32)
        return out.clone() if out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr() else out

    stride = tile - overlap
    rows, cols = _starts(hp, tile, stride), _starts(wp, tile, stride)
    th, tw = min(tile, hp), min(tile, wp)
    out = weight = None
    for y0, wy in zip(rows, _ramps([s * r for r in rows], s * th, x.device)):
        for x0, wx in zip(cols, _ramps([s * c for c in cols], s * tw, x.device)):
            window = _window(x, y0, x0, th, tw, (hp, wp))
            o0, p0, o1, p1 = s * y0, s * x0, s * min(y0 + th, h), s * min(x0 + tw, w)  # inside the image, output px
            y = _run(fn, window, multiple, s)[..., : o1 - o0, : p1 - p0].to(device=x.device, dtype=torch.float32)
            if out is None:
                out = torch.zeros((1, y.shape[1], s * h, s * w), dtype=torch.float32, device=x.device)
                weight = torch.zeros((1, 1, s * h, s * w), dtype=torch.float32, device=x.device)
            elif y.shape[1] != out.shape[1]:
                raise GankitError(f"fn returned {y.shape[1]} channels for one tile and {out.shape[1]} for another; "
                                  "fn must be deterministic in its output channels")
            wt = (wy[: o1 - o0, None] * wx[None, : p1 - p0])[None, None]
            acc, total = out[..., o0:o1, p0:p1], weight[..., o0:o1, p0:p1]
            total += wt
            # running weighted mean: equals sum(w * y) / sum(w), and is exact where the tiles agree
            share = torch.where(total > 0, wt / total.clamp_min(torch.finfo(torch.float32).tiny), 0.0)
            acc += share * (y - acc)
            del window, y, wt, share
    return out


def translate_any_size(fn: ImageFn, x: Tensor, multiple: int, tile: int = 512, overlap: int = 64,
                       scale: int = 1) -> Tensor:
    """Apply ``fn`` (``(1, C, h, w) -> (1, C', scale h, scale w)`` for h, w multiples of ``multiple``: an
    image-to-image network, or a super-resolution one with ``scale`` > 1) to ``x`` of any size.

    ``x`` is ``(1, C, H, W)`` (N > 1 is looped over), H, W >= 1. ``tile`` is rounded down and
    ``overlap`` up to multiples of ``multiple``; images that fit in one tile after padding run once,
    others in overlapping tiles blended without seams (see the module docstring). ``fn`` never sees
    an input larger than ``tile`` x ``tile`` (input pixels) and runs under ``torch.no_grad()``; the blend
    ramps are laid out in output pixels. Returns float32 ``(N, C', scale H, scale W)`` on ``x``'s device.
    """
    if not callable(fn):
        raise ConfigError(f"fn must be callable (an image-to-image network), got {type(fn).__name__}")
    _check_image(x)
    multiple, scale = _int_arg(multiple, "multiple", 1), _int_arg(scale, "scale", 1)
    tile, overlap = _int_arg(tile, "tile", 1), _int_arg(overlap, "overlap", 0)
    if overlap >= tile:
        raise ConfigError(f"overlap ({overlap}) must be smaller than tile ({tile}); lower overlap or raise tile")
    if tile < multiple:
        raise ConfigError(f"tile ({tile}) must be at least multiple ({multiple}); raise tile")
    tile_m = tile // multiple * multiple
    overlap_m = -(-overlap // multiple) * multiple
    if overlap_m >= tile_m:
        raise ConfigError(
            f"tile {tile} and overlap {overlap} round to {tile_m} and {overlap_m} (multiples of {multiple}), "
            "leaving no stride; raise tile or lower overlap"
        )
    with torch.no_grad():
        first = _translate_one(fn, x[:1], multiple, tile_m, overlap_m, scale)
        if x.shape[0] == 1:
            return first
        out = torch.empty((x.shape[0],) + first.shape[1:], dtype=torch.float32, device=x.device)
        out[0] = first[0]
        del first
        for n in range(1, x.shape[0]):
            out[n] = _translate_one(fn, x[n : n + 1], multiple, tile_m, overlap_m, scale)[0]
    return out


__all__ = ["crop", "pad_to_multiple", "translate_any_size"]
