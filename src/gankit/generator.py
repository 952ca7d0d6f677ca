"""A trained generator rebuilt from a checkpoint alone (no dataset needed)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Dict, Iterator, Optional, Tuple, Union

import torch
from torch import nn

from .checkpoint import MODEL_FILE, STATE_JSON, Checkpoint, load_checkpoint, resolve_checkpoint, split_weights
from .config import Config, config_from_dict
from .errors import CheckpointError, ConfigError, GankitError
from .methods.base import DataSpec
from .nn import build_generator


class LoadedGenerator(nn.Module):
    """`G(z, y)` plus `.sample(n)`; outputs are in data space ([-1, 1] images or raw 2-D points)."""

    def __init__(self, net: nn.Module, spec: DataSpec, z_dim: int, num_classes: int, ema: bool, step: int):
        super().__init__()
        self.net, self.spec, self.z_dim, self.num_classes = net, spec, z_dim, num_classes
        self.ema, self.step = ema, step
        self.eval()

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.net(z, y)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @torch.no_grad()
    def sample(self, n: int, y: Union[int, torch.Tensor, None] = None, seed: Optional[int] = None,
               batch_size: int = 1024) -> torch.Tensor:
        """`n` samples; `y` is a class index or a tensor of n labels (conditional models only)."""
        return torch.cat(list(self.batches(n, y, seed, batch_size)))

    def batches(self, n: int, y: Union[int, torch.Tensor, None] = None, seed: Optional[int] = None,
                batch_size: int = 1024) -> Iterator[torch.Tensor]:
        """The samples of `sample(n, y, seed)` in consecutive batches, without holding all n latents.

        z is drawn chunk by chunk from one generator; chunks of a multiple of 16 samples (and a last
        chunk that takes the remainder) give the same numbers as one `randn(n, z_dim)`, so sample i
        does not depend on `batch_size`."""
        if n < 1:
            raise ConfigError(f"number of samples must be >= 1, got {n}")
        y = self._check_labels(n, y)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        return self._batches(n, y, gen, max(16, batch_size // 16 * 16))

    @torch.no_grad()
    def _batches(self, n: int, y: Optional[torch.Tensor], gen: Optional[torch.Generator],
                 step: int) -> Iterator[torch.Tensor]:
        start = 0
        while start < n:
            stop = n if n - start < 2 * step else start + step
            z = torch.randn(stop - start, self.z_dim, generator=gen).to(self.device)
            yield self.net(z, self._label_chunk(y, start, stop))
            start = stop

    def _check_labels(self, n: int, y) -> Optional[torch.Tensor]:
        """`y` as a tensor (a scalar for one class, or n labels), checked; None for default labels."""
        if y is None:
            return None
        if not self.num_classes:
            raise ConfigError("this generator is not conditional: drop the class")
        y = torch.as_tensor(y, dtype=torch.long)
        if (y.ndim == 1 and len(y) != n) or y.ndim > 1 or int(y.min()) < 0 or int(y.max()) >= self.num_classes:
            got = y.flatten()[:8].tolist()
            raise ConfigError(f"class must be in 0..{self.num_classes - 1} (one per sample), got {got}")
        return y.to(self.device)

    def _label_chunk(self, y: Optional[torch.Tensor], start: int, stop: int) -> Optional[torch.Tensor]:
        """Labels of samples start..stop-1: the given ones, or cycling through the classes."""
        if not self.num_classes:
            return None
        if y is None:
            return torch.arange(start, stop, device=self.device) % self.num_classes
        return y.expand(stop - start) if y.ndim == 0 else y[start:stop]


def read_checkpoint(path) -> Tuple[Checkpoint, Config, DataSpec]:
    """A checkpoint's weights (no trainer state), config and data facts; CheckpointError when incomplete."""
    where = resolve_checkpoint(path)
    try:
        ck = load_checkpoint(where, map_location="cpu", trainer_state=False)
        return ck, config_from_dict(ck.meta["config"]), DataSpec.from_dict(ck.meta["data"])
    except GankitError:
        raise
    except (KeyError, TypeError, ValueError) as err:
        detail = f"no {err}" if isinstance(err, KeyError) else str(err)
        raise CheckpointError(f"checkpoint '{where}' has an incomplete {STATE_JSON} ({detail}); "
                              "use a checkpoint written by `gankit train`") from None


def load_weights(net: nn.Module, weights: Dict[str, torch.Tensor], where) -> None:
    """`net.load_state_dict(weights)`, with a one-line CheckpointError naming the first mismatch."""
    expected = net.state_dict()
    problems = [f"{k} is missing" for k in expected if k not in weights]
    problems += [f"{k} is unexpected" for k in weights if k not in expected]
    problems += [f"{k} is {list(w.shape)} in the weights but {list(expected[k].shape)} for the config"
                 for k, w in weights.items() if k in expected and w.shape != expected[k].shape]
    if problems:
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        raise CheckpointError(f"checkpoint '{where}': the weights do not fit the model in its {STATE_JSON} "
                              f"({problems[0]}{more}); use {MODEL_FILE} and {STATE_JSON} of one checkpoint")
    net.load_state_dict(weights)


def load_generator(path, device: Union[str, torch.device] = "cpu") -> LoadedGenerator:
    """Rebuild G (its EMA weights when the run kept them) from a run directory or checkpoint."""
    ck, cfg, spec = read_checkpoint(path)
    num_classes = spec.num_classes if cfg.model.conditional else 0
    net = build_generator(cfg.model.arch, out_shape=spec.shape, z_dim=cfg.model.z_dim,
                          num_classes=num_classes, **asdict(cfg.model.g))
    weights, ema = split_weights(ck.weights, "G")
    load_weights(net, weights, ck.path)
    return LoadedGenerator(net, spec, cfg.model.z_dim, num_classes, ema, ck.step).to(device)
