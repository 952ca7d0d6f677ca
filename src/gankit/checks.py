"""Checks of the names in a config against the real registries, so a dry run fails where training would."""
from __future__ import annotations

import difflib
from typing import Optional

import torch

from .errors import ConfigError

DEVICE_TYPES = ("cpu", "cuda")


def parse_device(name: str, what: str = "train.device") -> Optional[torch.device]:
    """The device `name` names (None for `auto`), checked for form only: the GPU need not be present.

    `what` names the setting in the message (`train.device`, `--device`)."""
    if name == "auto":
        return None
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in DEVICE_TYPES:
        close = difflib.get_close_matches(str(name), ["auto", *DEVICE_TYPES], n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"{what}={name} is not a device: {hint}use auto, cpu, cuda or cuda:N")
    return device


def check_names(cfg) -> None:
    """Raise a one-line GankitError for a data source, augmentation, metric or device that does not exist."""
    from .augment import parse_policy
    from .data import _source
    from .metrics.evaluate import parse_metrics

    _source(cfg.data.name)
    parse_policy(cfg.gan.augment)
    if cfg.method == "text2image":
        parse_policy(cfg.text.diffaugment)
    if cfg.monitor.metrics != "auto":
        if cfg.method == "gan":
            parse_metrics(cfg.monitor.metrics)
        elif cfg.method == "sr":
            from .metrics.sr import parse_sr_names

            parse_sr_names(cfg.monitor.metrics)
        elif cfg.method == "text2image":
            from .metrics.text import parse_text_names

            parse_text_names(cfg.monitor.metrics, cfg.data.name)
        elif cfg.method == "video":
            from .metrics.video import parse_video_names

            parse_video_names(cfg.monitor.metrics)
        else:
            from .metrics.translation import parse_names

            parse_names(cfg.monitor.metrics, paired=cfg.data.name == "paired")
    if cfg.method == "sr" and cfg.sr.adversarial > 0 and cfg.data.crop % 16:
        raise ConfigError(f"data.crop={cfg.data.crop} must be a multiple of 16 with sr.adversarial > 0 (SRGAN's "
                          "discriminator halves it 4 times): use e.g. data.crop=96")
    parse_device(cfg.train.device)
