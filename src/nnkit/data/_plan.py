"""Which samples each batch of an epoch holds: a function of (seed, epoch, rank) alone."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch

from .._validate import positive_int
from ..errors import InvalidArgumentError


def draw_seed() -> int:
    """A shuffling seed drawn from torch's global generator (reproducible under manual_seed)."""
    return int(torch.randint(0, 2**62, ()).item())


class EpochPlan:
    """The batches of every epoch of ``n`` samples, optionally shuffled and sharded.

    The order of epoch ``e`` is ``randperm(n)`` from a generator seeded with
    ``seed + 1_000_003 * e`` (or ``range(n)`` unshuffled), so it depends on nothing but the seed
    and the epoch: a resumed run replays it exactly. Sharded over ``world_size`` ranks, a global
    batch is ``batch_size * world_size`` consecutive samples of that order, split into
    ``world_size`` near-equal parts; rank ``rank`` takes its part. All ranks take the same number
    of steps, and together they visit every sample of an epoch exactly once.
    """

    def __init__(
        self, n: int, batch_size: int, *, shuffle: bool, drop_last: bool, seed: int
    ) -> None:
        self.n = n
        self.batch_size = positive_int(batch_size, "batch_size")
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = int(seed)
        self.rank, self.world_size = 0, 1

    def shard(self, rank: int, world_size: int) -> None:
        """Serve rank ``rank``'s share of every global batch."""
        positive_int(world_size, "world_size")
        if not 0 <= rank < world_size:
            raise InvalidArgumentError(
                f"rank must be in [0, {world_size}), got {rank}", parameter="rank"
            )
        self.rank, self.world_size = rank, world_size

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.world_size

    def __len__(self) -> int:
        step = self.global_batch
        return self.n // step if self.drop_last else -(-self.n // step)

    def order(self, epoch: int) -> torch.Tensor:
        """The sample order of epoch ``epoch``: a permutation of ``range(n)`` (on the CPU)."""
        if not self.shuffle:
            return torch.arange(self.n)
        generator = torch.Generator().manual_seed(self.seed + 1_000_003 * epoch)
        return torch.randperm(self.n, generator=generator)

    def global_count(self, index: int) -> int:
        """Number of samples (all ranks together) in global batch ``index`` of an epoch."""
        step = self.global_batch
        stop = len(self) * step if self.drop_last else self.n
        return max(0, min(step, stop - index * step))

    def batches(
        self, epoch: int, device: torch.device | None = None
    ) -> Iterator[slice | torch.Tensor]:
        """This rank's indices of every batch of epoch ``epoch``: a slice when the data is read
        in order by one rank (contiguous, no gather), else an index tensor on ``device``."""
        step = self.global_batch
        stop = len(self) * step if self.drop_last else self.n
        if not self.shuffle and self.world_size == 1:
            for start in range(0, stop, step):
                yield slice(start, min(start + step, stop))
            return
        order = self.order(epoch)
        if device is not None:
            order = order.to(device)
        for start in range(0, stop, step):
            idx = order[start : min(start + step, stop)]
            if self.world_size > 1:
                idx = torch.tensor_split(idx, self.world_size)[self.rank]
            yield idx


class PlannedSource:
    """The batch-source protocol for a source whose batches an :class:`EpochPlan` decides:
    the epoch to produce next, sharding, and the state (seed and epoch) a resume needs."""

    def __init__(self, plan: EpochPlan) -> None:
        self._plan = plan
        self.epoch = 0
        self.global_count = 0

    @property
    def num_samples(self) -> int:
        """Samples per epoch, all ranks together."""
        return self._plan.n

    @property
    def seed(self) -> int:
        """The shuffling seed."""
        return self._plan.seed

    def __len__(self) -> int:
        return len(self._plan)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration produce the order of epoch ``epoch`` (0-based)."""
        self.epoch = int(epoch)

    def shard(self, rank: int, world_size: int) -> None:
        """Serve only rank ``rank``'s share of every global batch (see :class:`EpochPlan`)."""
        self._plan.shard(rank, world_size)

    def state_dict(self) -> dict[str, Any]:
        """The shuffling seed and the next epoch: all a resumed run needs."""
        return {"seed": self._plan.seed, "epoch": self.epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue the sequence of orders that :meth:`state_dict` described."""
        self._plan.seed = int(state["seed"])
        self.epoch = int(state["epoch"])

    def _start_epoch(self) -> int:
        """The epoch this iteration produces; the next one follows unless set otherwise."""
        epoch = self.epoch
        self.epoch += 1
        return epoch
