"""A character model, its vocabulary, its n-gram mixture and its corpus in one safe file."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import torch

from .._device import resolve_device
from .._validate import fail
from ..checkpoint import load_checkpoint, save_checkpoint
from ..errors import CheckpointError, DataFormatError
from ..models.char_rnn import CharRNN
from ..models.char_transformer import CharTransformer
from .corpus import CorpusInfo
from .mixture import ContextGate, NgramMixture
from .ngram import KneserNey
from .vocab import Vocab

__all__ = ["CharModel", "SavedModel", "load", "load_file", "save"]

#: The neural character models a file can hold.
CharModel = CharRNN | CharTransformer
_KINDS: dict[str, type[CharRNN] | type[CharTransformer]] = {
    "char_rnn": CharRNN,
    "char_transformer": CharTransformer,
}


@dataclass(frozen=True)
class SavedModel:
    """Everything a file written by :func:`save` holds (what :func:`load_file` returns).

    Attributes
    ----------
    model : CharRNN or CharTransformer
        The neural model, in eval mode.
    vocab : Vocab
        Its vocabulary.
    mixture : NgramMixture or None
        The model mixed with its n-gram, when one was saved (its ``model`` is ``model``).
    corpus : CorpusInfo or None
        The training corpus's digest and split, when it was saved.
    """

    model: CharModel
    vocab: Vocab
    mixture: NgramMixture | None
    corpus: CorpusInfo | None


def save(
    path: str | os.PathLike[str],
    model: CharModel | NgramMixture,
    vocab: Vocab,
    *,
    corpus: CorpusInfo | None = None,
) -> None:
    """Save model and vocabulary in one file, atomically.

    A :class:`NgramMixture` is saved with its n-gram (as the n-gram's training text, from
    which loading rebuilds it: that is all its counts amount to) and its weights; ``corpus``
    records the training text's digest and split, so that ``nnkit text eval`` knows held-out
    text from training text.

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
    mixture = model if isinstance(model, NgramMixture) else None
    neural = mixture.model if mixture is not None else model
    kind = next((k for k, cls in _KINDS.items() if type(neural) is cls), None)
    if kind is None or not isinstance(neural, CharRNN | CharTransformer):
        raise fail(
            "model",
            f"save takes a CharRNN or a CharTransformer or its mixture, got "
            f"{type(neural).__name__}",
        )
    if mixture is not None:
        mixture.check_vocab(vocab)
    if corpus is not None and not isinstance(corpus, CorpusInfo):
        raise fail("corpus", f"corpus must be a CorpusInfo or None, got {corpus!r:.60}")
    state: dict[str, Any] = {
        "kind": kind,
        "config": neural.config(),
        "state_dict": neural.state_dict(),
        "vocab": vocab.to_dict(),
    }
    if mixture is not None:
        state["mixture"] = {
            "n": mixture.ngram.n,
            "discount": mixture.ngram.discount,
            "pieces": list(mixture.ngram.pieces),
            "weight": mixture.weight,
            "gate": mixture.gate.to_list() if mixture.gate is not None else None,
        }
    if corpus is not None:
        state["corpus"] = corpus.to_dict()
    save_checkpoint(path, state)


def load(
    path: str | os.PathLike[str], *, device: str | torch.device | None = "cpu"
) -> tuple[CharModel, Vocab]:
    """Load the neural model and vocabulary :func:`save` wrote, safely
    (``torch.load(weights_only=True)``), in eval mode; :func:`load_file` also gives the
    mixture and the corpus.

    Training checkpoints (``train(checkpoint=...)``) hold optimizer state instead of the
    vocabulary; they are refused here. The file's model configuration is checked against its
    weights before any memory is allocated for the model, so a damaged or hostile file (a
    config that asks for a model of terabytes, weights of other shapes) is refused with a
    :class:`~nnkit.errors.CheckpointError` naming the file.
    """
    saved = load_file(path, device=device, mixture=False)
    return saved.model, saved.vocab


def load_file(
    path: str | os.PathLike[str],
    *,
    device: str | torch.device | None = "cpu",
    mixture: bool = True,
) -> SavedModel:
    """Load everything :func:`save` wrote, checked as in :func:`load`; with ``mixture=False``
    the n-gram is not rebuilt (a few seconds on a book).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from nnkit.text import mix_ngram
    >>> text = "the cat sat on the mat. " * 20
    >>> vocab = Vocab.from_text(text)
    >>> model = CharRNN(len(vocab), hidden_size=8, num_layers=1)
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.pt"
    >>> save(p, mix_ngram(model, vocab, text, order=3, device="cpu"), vocab,
    ...      corpus=CorpusInfo.from_text(text))
    >>> saved = load_file(p)
    >>> saved.mixture.ngram.n, saved.corpus.matches(text)
    (3, True)
    """
    dev = resolve_device(device) if device is not None else torch.device("cpu")
    state = load_checkpoint(path, map_location=dev)
    model_class = _KINDS.get(str(state.get("kind")))
    if model_class is None:
        raise CheckpointError(f"{path} is not a character model saved by nnkit.text.save")
    name = model_class.__name__
    try:
        config: dict[str, Any] = dict(state["config"])
        weights = dict(state["state_dict"])
        vocab = Vocab.from_dict(state["vocab"])
        vocab_size = config.pop("vocab_size")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: not a complete character model file ({exc})") from None
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated
            skeleton = model_class(vocab_size, **config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: its model config is not a {name}'s ({exc})") from None
    if vocab_size != len(vocab):
        raise CheckpointError(
            f"{path}: its model predicts {vocab_size} characters but its vocabulary has "
            f"{len(vocab)}"
        )
    _check_shapes(path, skeleton, weights, name)
    broken = [k for k, v in weights.items() if v.is_floating_point() and not v.isfinite().all()]
    if broken:
        raise CheckpointError(
            f"{path}: weights {broken[0]} hold NaN or infinite values (a training run that "
            "diverged, or a damaged file); this model cannot score or generate text"
        )
    try:
        model = model_class(vocab_size, **config)  # refused when it does not fit in memory
    except ValueError as exc:
        raise CheckpointError(f"{path}: cannot load its model: {exc}") from None
    model.load_state_dict(weights)
    model = model.to(dev).eval()
    corpus = None
    try:
        if state.get("corpus") is not None:
            corpus = CorpusInfo.from_dict(state["corpus"])
        mixed = (
            _mixture(model, vocab, state["mixture"])
            if mixture and state.get("mixture") is not None
            else None
        )
    except (KeyError, TypeError, ValueError) as exc:  # DataFormatError, InvalidArgumentError
        raise CheckpointError(f"{path}: its mixture or corpus is damaged ({exc})") from None
    return SavedModel(model, vocab, mixed, corpus)


def _mixture(model: CharModel, vocab: Vocab, data: dict[str, Any]) -> NgramMixture:
    pieces = data["pieces"]
    if not isinstance(pieces, list) or not all(isinstance(p, str) for p in pieces):
        raise DataFormatError("the n-gram's pieces are not a list of strings")
    ngram = KneserNey(pieces, int(data["n"]), discount=float(data["discount"]))
    gate = None
    if data["gate"] is not None:
        bias, context, entropy = (float(v) for v in data["gate"])
        if not all(map(math.isfinite, (bias, context, entropy))):
            raise DataFormatError(f"the gate's coefficients are not finite: {data['gate']}")
        gate = ContextGate(bias, context, entropy)
    return NgramMixture(model, vocab, ngram, weight=float(data["weight"]), gate=gate)


def _check_shapes(
    path: str | os.PathLike[str], skeleton: CharModel, weights: dict[str, Any], name: str
) -> None:
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in weights.items() if isinstance(v, torch.Tensor)}
    for key in sorted(set(expected) | set(weights)):
        if key not in found:
            raise CheckpointError(f"{path}: weights lack {key} (expected {expected[key]})")
        if key not in expected:
            raise CheckpointError(f"{path}: weights hold {key}, which its {name} does not have")
        if found[key] != expected[key]:
            raise CheckpointError(
                f"{path}: weights {key} have shape {found[key]}, its config needs {expected[key]}"
            )
