"""CycleGAN's image pool: D sees a mix of the newest fakes and up to `size` earlier ones (Shrivastava et al.)."""
from __future__ import annotations

from typing import Optional

import torch


class ImagePool:
    """A buffer of earlier generated images with its own RNG; its whole state is checkpointed.

    `query(fakes)`: while the pool is not full each fake is stored and returned; afterwards each fake is,
    with probability 1/2, swapped for a random stored image (which is returned, the new one stored), or
    returned as it is. `size=0` returns the fakes unchanged."""

    def __init__(self, size: int = 50, seed: int = 0):
        self.size = size
        self.images: Optional[torch.Tensor] = None  # (k, C, H, W), k <= size
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return 0 if self.images is None else len(self.images)

    @torch.no_grad()
    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return fakes
        fakes = fakes.detach()
        out = []
        for img in fakes:
            img = img.unsqueeze(0)
            if len(self) < self.size:
                self.images = img.clone() if self.images is None else torch.cat([self.images, img])
                out.append(img)
            elif torch.rand((), generator=self.generator) < 0.5:
                i = int(torch.randint(self.size, (), generator=self.generator))
                out.append(self.images[i:i + 1].clone())
                self.images[i] = img[0]
            else:
                out.append(img)
        return torch.cat(out)

    def state_dict(self) -> dict:
        return {"images": self.images, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict, device) -> None:
        images = state.get("images")
        self.images = None if images is None else images.to(device).clone()
        self.generator.set_state(state["generator"].to("cpu", torch.uint8))
