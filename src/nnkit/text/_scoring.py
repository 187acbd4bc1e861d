"""Per-character scores of a character model on a text, optionally with dynamic evaluation."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import fail
from .dynamic import DynamicStep
from .streams import StreamBatches, _detach


@dataclass(frozen=True)
class CharScores:
    """What a character model said about each character of a text it scored
    (:func:`~nnkit.text.char_scores`).

    Attributes
    ----------
    positions : torch.Tensor
        ``(P,)`` int64: where each scored character is in the text (the first character of
        each stream has no prediction and is not scored).
    logp : torch.Tensor
        ``(P,)`` float64: the natural log-probability the model gave that character.
    entropy : torch.Tensor
        ``(P,)`` float64: the entropy, in nats, of the model's whole prediction there.
    """

    positions: torch.Tensor
    logp: torch.Tensor
    entropy: torch.Tensor

    @property
    def bits_per_char(self) -> float:
        """The mean of :math:`-\\log_2 P` over the scored characters."""
        return float(-self.logp.mean()) / math.log(2.0)


def score_chars(
    model: nn.Module,
    ids: torch.Tensor,
    *,
    batch_size: int,
    seq_len: int,
    device: torch.device,
    dynamic_lr: float | None = None,
    dynamic_decay: float = 0.0,
    dynamic_stats: Mapping[str, torch.Tensor] | None = None,
) -> CharScores:
    """Score ``ids`` (1-d) read as ``batch_size`` streams of ``seq_len``-long chunks, exactly
    as :func:`~nnkit.text.bits_per_char` reads them.

    With ``dynamic_lr``, a copy of the model takes one step on each chunk right after
    scoring it (Krause et al., 2018), so later chunks are predicted by weights that have read
    every earlier one; the model passed in is not changed. The step is RMS-normalised (Adam
    without momentum): plain SGD needed a learning rate several times smaller on alice.txt
    than on neko.txt, this one suits both with one value. ``dynamic_decay`` and
    ``dynamic_stats`` are :class:`~nnkit.text.dynamic.DynamicStep`'s.
    """
    streams = StreamBatches(ids, batch_size=batch_size, seq_len=seq_len, shuffle=False)
    rows, length = streams.streams.shape
    net = (copy.deepcopy(model) if dynamic_lr is not None else model).to(device)
    was_training = net.training
    net.eval()  # no dropout: scoring, and adapting, use the whole model
    step = (
        DynamicStep(net, lr=dynamic_lr, decay=dynamic_decay, stats=dynamic_stats)
        if dynamic_lr is not None
        else None
    )
    logps: list[torch.Tensor] = []
    entropies: list[torch.Tensor] = []
    state = None
    try:
        # cuDNN has no backward pass for recurrent layers in eval mode: adapting goes without
        with torch.backends.cudnn.flags(enabled=step is None):
            for x, y in streams:
                x, y = x.to(device), y.to(device)
                with torch.set_grad_enabled(step is not None):
                    outputs, state = net(x, state=state)
                    logp_all = _log_probs(outputs)
                    logp = logp_all.gather(-1, y.unsqueeze(-1)).squeeze(-1)
                if step is not None:
                    step.zero_grad()
                    (-logp.mean()).backward()  # type: ignore[no-untyped-call]
                    step.step()
                    state = _detach(state)
                logp_all = logp_all.detach()
                logps.append(logp.detach().double().cpu())
                entropies.append(-(logp_all.exp() * logp_all).sum(-1).double().cpu())
    finally:
        net.train(was_training)
    columns = torch.arange(1, length)
    positions = torch.arange(rows).unsqueeze(1) * length + columns
    return CharScores(
        positions=positions.reshape(-1),
        logp=torch.cat(logps, dim=1).reshape(-1),
        entropy=torch.cat(entropies, dim=1).reshape(-1),
    )


def _log_probs(outputs: object) -> torch.Tensor:
    if not isinstance(outputs, torch.Tensor) or outputs.dim() != 3:
        raise fail(
            "model",
            "scoring needs a model that returns (scores (B, T, V), state), got "
            f"{type(outputs).__name__}",
        )
    return F.log_softmax(outputs.float(), dim=-1)
