"""Registry of the image-to-image and super-resolution networks, and their self-description in checkpoints.

A checkpoint stores, beside each network's weights, `{"class": name, "config": constructor arguments}`
(`network_spec`); `build_from_spec` rebuilds exactly that network without the training config.
"""
from __future__ import annotations

import difflib

from torch import nn

from ..errors import CheckpointError, ConfigError
from .patchgan import PatchDiscriminator
from .resnet import ResNetGenerator
from .srresnet import SR_NETS
from .text import TEXT_NETS
from .unet import UNetGenerator
from .video import VIDEO_NETS

TRANSLATION_NETS: dict[str, type] = {"UNetGenerator": UNetGenerator, "ResNetGenerator": ResNetGenerator,
                                     "PatchDiscriminator": PatchDiscriminator, **SR_NETS, **VIDEO_NETS,
                                     **TEXT_NETS}


def build_translation_net(name: str, args: dict) -> nn.Module:
    """Instantiate a registered network; an argument it does not take is an error (never dropped)."""
    if name not in TRANSLATION_NETS:
        close = difflib.get_close_matches(str(name), TRANSLATION_NETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"network {name!r} is unknown{hint}; choose one of: {', '.join(TRANSLATION_NETS)}")
    return TRANSLATION_NETS[name](**args)


def network_spec(net: nn.Module) -> dict:
    return {"class": type(net).__name__, "config": dict(net.config)}


def build_from_spec(spec: dict, where: str = "checkpoint") -> nn.Module:
    """The network a checkpoint describes; CheckpointError when the description is unusable."""
    try:
        return build_translation_net(spec["class"], dict(spec["config"]))
    except (KeyError, TypeError, ConfigError) as err:
        raise CheckpointError(f"{where}: cannot rebuild network {spec.get('class') if isinstance(spec, dict) else spec!r} "
                              f"({type(err).__name__}: {err}); use a checkpoint written by `gankit train`") from None
