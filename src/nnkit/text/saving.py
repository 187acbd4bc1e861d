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
    vocabulary; they are refused here. The file's model configuration is checked against its
    weights before any memory is allocated for the model, so a damaged or hostile file (a
    config that asks for a model of terabytes, weights of other shapes) is refused with a
    :class:`~nnkit.errors.CheckpointError` naming the file.
    """
    dev = resolve_device(device) if device is not None else torch.device("cpu")
    state = load_checkpoint(path, map_location=dev)
    if state.get("kind") != "char_rnn":
        raise CheckpointError(f"{path} is not a character model saved by nnkit.text.save")
    try:
        config: dict[str, Any] = dict(state["config"])
        weights = dict(state["state_dict"])
        vocab = Vocab.from_dict(state["vocab"])
        vocab_size = config.pop("vocab_size")
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a complete character model file ({exc})") from None
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated
            skeleton = CharRNN(vocab_size, **config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: its model config is not a CharRNN's ({exc})") from None
    if vocab_size != len(vocab):
        raise CheckpointError(
            f"{path}: its model predicts {vocab_size} characters but its vocabulary has "
            f"{len(vocab)}"
        )
    _check_shapes(path, skeleton, weights)
    model = CharRNN(vocab_size, **config)
    model.load_state_dict(weights)
    return model.to(dev).eval(), vocab


def _check_shapes(path: str | os.PathLike[str], skeleton: CharRNN, weights: dict[str, Any]) -> None:
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in weights.items() if isinstance(v, torch.Tensor)}
    for key in sorted(set(expected) | set(weights)):
        if key not in found:
            raise CheckpointError(f"{path}: weights lack {key} (expected {expected[key]})")
        if key not in expected:
            raise CheckpointError(f"{path}: weights hold {key}, which its CharRNN does not have")
        if found[key] != expected[key]:
            raise CheckpointError(
                f"{path}: weights {key} have shape {found[key]}, its config needs {expected[key]}"
            )
