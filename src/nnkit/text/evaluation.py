"""Scoring a character model: bits per character on a text."""

from __future__ import annotations

import math
from typing import Literal, TypeAlias

import torch
from torch import nn

from .. import losses
from .._device import resolve_device
from ..evaluation import evaluate
from ..models.char_rnn import CharRNN
from .streams import CarryState, StreamBatches
from .vocab import Vocab

__all__ = ["VAL_STREAMS", "TextLoss", "bits_per_char", "loss_for"]

_LN2 = math.log(2.0)
#: Validation and evaluation read the text as this many long streams (each starts from a zero
#: state, so fewer streams score a little lower).
VAL_STREAMS = 8
#: A character model's loss: ``"auto"`` (what :func:`loss_for` picks), a loss, or None for a
#: model that computes its own (``forward(ids, targets, state=...)``).
TextLoss: TypeAlias = Literal["auto"] | losses.LossArg | None


def loss_for(model: nn.Module, loss: TextLoss = "auto") -> losses.LossArg | None:
    """The loss that scores ``model``: with ``"auto"``, NLL for the notes' seed cell (whose
    outputs are already log-probabilities, as the notes' are), cross entropy otherwise.

    Examples
    --------
    >>> loss_for(CharRNN(5, cell="seed", hidden_size=4)), loss_for(CharRNN(5, hidden_size=4))
    ('nll', 'cross_entropy')
    """
    if loss != "auto":
        return loss
    return "nll" if isinstance(model, CharRNN) and model.cell == "seed" else "cross_entropy"


def bits_per_char(
    model: nn.Module,
    vocab: Vocab,
    text: str,
    *,
    seq_len: int = 256,
    batch_size: int = VAL_STREAMS,
    loss: TextLoss = "auto",
    device: str | torch.device | None = None,
) -> float:
    """Mean bits per character of ``model`` predicting ``text`` (every character after the first
    of each stream). The text is read as ``batch_size`` long streams (8 by default, as the
    validation in :func:`~nnkit.text.train`); each starts from a zero state, so fewer streams
    score a little lower.

    Examples
    --------
    >>> vocab = Vocab.from_text("abcd")
    >>> untrained = CharRNN(len(vocab), hidden_size=8, num_layers=1)
    >>> 1.0 < bits_per_char(untrained, vocab, "abcd" * 50, device="cpu") < 4.0
    True
    """
    ids = vocab.encode(text)
    dev = resolve_device(device)
    batch = max(1, min(batch_size, ids.numel() // (seq_len + 1) or 1))
    streams = StreamBatches(ids, batch_size=batch, seq_len=seq_len, shuffle=False, device=dev)
    result = evaluate(CarryState(model), streams, loss=loss_for(model, loss), device=dev)
    return result.loss / _LN2
