"""Evaluation metrics, looked up by name in :data:`METRICS`."""

from __future__ import annotations

from typing import Any, Callable, Dict, TypeVar

from gankit.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])

METRICS: Dict[str, Callable[..., Any]] = {}


def register(name: str) -> Callable[[F], F]:
    """Decorator that adds a metric function to :data:`METRICS` under ``name``."""

    def decorator(fn: F) -> F:
        if METRICS.get(name, fn) is not fn:
            raise ConfigError(f"metric {name!r} is already registered; pick another name")
        METRICS[name] = fn
        return fn

    return decorator


# registers the built-in metrics
from gankit.metrics import classifier, frechet, inception, modes, stacked  # noqa: E402,F401
