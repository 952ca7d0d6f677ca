"""Epoch-wise shuffled batch indices with an exactly resumable state."""

from __future__ import annotations

import torch

from gankit.errors import DataError


class BatchSampler:
    """Epoch-wise random order over N items with its own torch.Generator; exact state for resume.

    Each epoch draws torch.randperm(n) from the private generator and yields it in batches of
    `batch_size`; with drop_last the n % batch_size leftover indices are skipped, otherwise the
    last batch of an epoch is shorter. `epoch` counts completed epochs.
    """

    def __init__(self, n: int, batch_size: int, seed: int, drop_last: bool = True) -> None:
        if n < 1:
            raise DataError("cannot draw batches from an empty dataset: check the data settings")
        if batch_size < 1:
            raise DataError(f"train.batch_size must be at least 1, got {batch_size}")
        if batch_size > n:
            raise DataError(f"train.batch_size={batch_size} is larger than the dataset, which has only {n} items: "
                            f"lower train.batch_size to at most {n}")
        self.n, self.batch_size, self.drop_last = n, batch_size, drop_last
        self.steps_per_epoch = n // batch_size if drop_last else -(-n // batch_size)
        self._end = self.steps_per_epoch * batch_size if drop_last else n
        self._generator = torch.Generator().manual_seed(seed)
        self.epoch, self._pos = 0, 0
        self._perm = self._shuffle()

    def _shuffle(self) -> torch.Tensor:
        return torch.randperm(self.n, generator=self._generator)

    def next(self) -> torch.Tensor:
        """The next int64 index batch; a new permutation is drawn when an epoch ends."""
        batch = self._perm[self._pos:self._pos + self.batch_size].clone()
        self._pos += len(batch)
        if self._pos >= self._end:
            self.epoch, self._pos, self._perm = self.epoch + 1, 0, self._shuffle()
        return batch

    def state_dict(self) -> dict:
        """{"epoch", "pos", "perm", "generator"}: everything needed to continue the exact sequence."""
        return {"epoch": self.epoch, "pos": self._pos, "perm": self._perm.clone(),
                "generator": self._generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a state_dict() of a sampler over the same n and batch_size."""
        try:
            epoch, pos = int(state["epoch"]), int(state["pos"])
            perm = torch.as_tensor(state["perm"]).to("cpu", torch.int64)
            generator = torch.as_tensor(state["generator"]).to("cpu", torch.uint8)
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"sampler state is malformed ({type(e).__name__}: {e}): "
                            "resume from an intact checkpoint or start a new run") from e
        if perm.shape != (self.n,) or not 0 <= pos < self._end:
            raise DataError(f"sampler state is for {perm.numel()} items at position {pos} but the dataset has "
                            f"{self.n} items: resume with the same data and batch settings or start a new run")
        try:
            self._generator.set_state(generator)
        except RuntimeError as e:
            raise DataError("sampler state has an invalid generator state: "
                            "resume from an intact checkpoint or start a new run") from e
        self.epoch, self._pos, self._perm = epoch, pos, perm


class ShardedSampler:
    """One rank's share of each global batch: every rank draws the same global order and keeps its slice."""

    def __init__(self, sampler: BatchSampler, rank: int, world: int) -> None:
        self.sampler, self.rank, self.world = sampler, rank, world

    @property
    def steps_per_epoch(self) -> int:
        return self.sampler.steps_per_epoch

    def next(self) -> torch.Tensor:
        idx = self.sampler.next()
        n = len(idx) // self.world
        return idx[self.rank * n:(self.rank + 1) * n]

    def state_dict(self) -> dict:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state)
