"""A character model and its vocabulary in one safely loaded file."""

from __future__ import annotations

import os
from typing import Any

import torch

from .._device import resolve_device
from ..checkpoint import load_checkpoint, save_checkpoint
from ..errors import CheckpointError
from ..models.char_rnn import CharRNN
from .vocab import Vocab

__all__ = ["load", "save"]


def save(path: str | os.PathLike[str], model: CharRNN, vocab: Vocab) -> None:
    """Save model and vocabulary in one file, atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> vocab = Vocab.from_text("abc")
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.pt"
    >>> save(p, CharRNN(len(vocab), hidden_size=4, num_layers=1), vocab)
    >>> model, back = load(p)
    >>> model.hidden_size, back == vocab
    (4, True)
    """
    save_checkpoint(
        path,
        {
            "kind": "char_rnn",
            "config": model.config(),
            "state_dict": model.state_dict(),
            "vocab": vocab.to_dict(),
        },
    )


def load(
    path: str | os.PathLike[str], *, device: str | torch.device | None = "cpu"
) -> tuple[CharRNN, Vocab]:
    """Load what :func:`save` wrote, safely (``torch.load(weights_only=True)``), in eval mode.

    Training checkpoints (``train(checkpoint=...)``) hold optimizer state instead of the
    vocabulary; they are refused here.
    """
    dev = resolve_device(device) if device is not None else torch.device("cpu")
    state = load_checkpoint(path, map_location=dev)
    if state.get("kind") != "char_rnn":
        raise CheckpointError(f"{path} is not a character model saved by nnkit.text.save")
    config: dict[str, Any] = dict(state["config"])
    vocab = Vocab.from_dict(state["vocab"])
    model = CharRNN(config.pop("vocab_size"), **config)
    model.load_state_dict(state["state_dict"])
    return model.to(dev).eval(), vocab
