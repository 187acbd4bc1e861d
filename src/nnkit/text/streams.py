"""Text as contiguous streams for truncated backpropagation through time.

:class:`StreamBatches` cuts the encoded text into parallel streams and serves them
``seq_len`` characters at a time (a :class:`~nnkit.data.BatchSource`, so
:func:`~nnkit.train.fit` trains on it, shards it under torchrun and resumes it exactly);
:class:`CarryState` carries a recurrent model's hidden state from one batch to the next.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

from .._validate import fail, positive_int

__all__ = ["VAL_STREAMS", "CarryState", "StreamBatches"]

#: Validation and evaluation read the text as this many long streams (each starts from a zero
#: state, so fewer streams score a little lower).
VAL_STREAMS = 8


class StreamBatches:
    """Contiguous batches for truncated backpropagation through time.

    The text is cut into ``batch_size`` equal streams side by side; batch ``t`` holds the next
    ``seq_len`` characters of every stream, so row ``b`` of one batch continues row ``b`` of the
    previous one and a stateful model can carry its hidden state across batches. Each epoch
    starts at a random offset below ``seq_len`` (a function of the seed and the epoch), so the
    cut points move.

    Examples
    --------
    >>> batches = StreamBatches(torch.arange(20), batch_size=2, seq_len=4, shuffle=False)
    >>> [x.tolist() for x, _ in batches][:2]
    [[[0, 1, 2, 3], [10, 11, 12, 13]], [[4, 5, 6, 7], [14, 15, 16, 17]]]
    """

    def __init__(
        self,
        ids: torch.Tensor,
        *,
        batch_size: int,
        seq_len: int,
        shuffle: bool = True,
        seed: int = 0,
        device: torch.device | None = None,
    ) -> None:
        self.batch_size = positive_int(batch_size, "batch_size")
        self.seq_len = positive_int(seq_len, "seq_len")
        if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.dtype != torch.long:
            raise fail("ids", f"ids must be a 1-d int64 tensor, got {ids!r:.60}")
        self.ids = ids if device is None else ids.to(device)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0
        self.global_count = 0  # every rank's share is the same size
        self.streams = self._cut(0, 1)

    def _cut(self, rank: int, world_size: int) -> torch.Tensor:
        total = self.batch_size * world_size
        length = self.ids.numel() // total
        if length < 2:
            raise fail(
                "batch_size",
                f"{self.ids.numel()} characters are too few for {total} streams; "
                "use a smaller batch_size or more text",
            )
        streams = self.ids[: total * length].view(total, length)
        return streams[rank * self.batch_size : (rank + 1) * self.batch_size]

    @property
    def num_samples(self) -> int | None:
        """None, since a stream is not a sample."""
        return None

    def shard(self, rank: int, world_size: int) -> None:
        """Cut ``batch_size * world_size`` streams and keep rank ``rank``'s ``batch_size``."""
        self.streams = self._cut(rank, world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def state_dict(self) -> dict[str, Any]:
        """The seed and the epoch: all that decides the next batches."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])

    def _offset(self) -> int:
        if not self.shuffle:
            return 0
        g = torch.Generator().manual_seed(self.seed + 7919 * self.epoch)
        limit = min(self.seq_len, self.streams.shape[1] - 1)
        return int(torch.randint(0, limit, (1,), generator=g))

    def __len__(self) -> int:
        return math.ceil((self.streams.shape[1] - 1 - self._offset()) / self.seq_len)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        offset, last = self._offset(), self.streams.shape[1] - 1
        for t in range(offset, last, self.seq_len):
            end = min(t + self.seq_len, last)
            yield self.streams[:, t:end], self.streams[:, t + 1 : end + 1]


def _detach(state: Any) -> Any:
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple | list):
        return type(state)(_detach(s) for s in state)
    return state


class CarryState(nn.Module):
    """Carries a recurrent model's hidden state from one batch to the next (truncated BPTT).

    Wraps a model called as ``net(*inputs, state=state)`` that returns ``(outputs, state)``,
    such as :class:`~nnkit.models.CharRNN`. The wrapper returns only the outputs and keeps the
    state, detached (gradients flow through one batch's ``seq_len`` steps), for the next call.
    The state starts from None (zeros) whenever the mode changes: at the start of every
    training epoch and of every evaluation pass, which is what :func:`~nnkit.train.fit` does
    with :class:`StreamBatches`. Its ``state_dict`` is the wrapped model's, under ``net.``.

    Examples
    --------
    >>> from nnkit.models import CharRNN
    >>> lm = CarryState(CharRNN(10, hidden_size=8, num_layers=1))
    >>> lm(torch.zeros(2, 5, dtype=torch.long)).shape, lm.state.shape
    (torch.Size([2, 5, 10]), torch.Size([1, 2, 8]))
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.state: Any = None

    def forward(self, *inputs: torch.Tensor) -> Any:
        outputs, state = self.net(*inputs, state=self.state)
        self.state = _detach(state)
        return outputs

    def train(self, mode: bool = True) -> CarryState:
        self.state = None  # a new pass over the streams starts from a zero state
        return super().train(mode)
