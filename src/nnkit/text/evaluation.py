"""Scoring a character model: bits per character on a text."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal, TypeAlias

import torch
from torch import nn

from .. import losses
from .._device import resolve_device
from .._validate import boolean, in_interval, positive_float, positive_int
from ..errors import InvalidArgumentError, VocabularyMismatchError
from ..evaluation import evaluate
from ..models.char_rnn import CharRNN
from ._scoring import CharScores, score_chars
from .adaptive import ADAPT_LR, adaptive_probs
from .dynamic import DYNAMIC_LR, SEGMENT_LEN
from .mixture import NgramMixture
from .streams import VAL_STREAMS, CarryState, StreamBatches
from .vocab import Vocab

#: The default largest share of a text's characters that :func:`bits_per_char` scores as the
#: unknown character: beyond it the text is not of the model's kind.
MAX_UNKNOWN = 0.05

__all__ = [
    "MAX_UNKNOWN",
    "VAL_STREAMS",
    "CharScores",
    "TextLoss",
    "bits_per_char",
    "char_scores",
    "check_coverage",
    "loss_for",
]

_LN2 = math.log(2.0)
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


def _stream_count(characters: int, batch_size: int, seq_len: int) -> int:
    """How many streams :func:`bits_per_char` reads a text of ``characters`` as: ``batch_size``,
    or fewer when the text is too short for each to hold ``seq_len + 1`` characters."""
    return max(1, min(batch_size, characters // (seq_len + 1) or 1))


def bits_per_char(
    model: nn.Module | NgramMixture,
    vocab: Vocab,
    text: str,
    *,
    seq_len: int = 256,
    batch_size: int = VAL_STREAMS,
    loss: TextLoss = "auto",
    device: str | torch.device | None = None,
    dynamic: bool = False,
    dynamic_lr: float = DYNAMIC_LR,
    segment_len: int = SEGMENT_LEN,
    dynamic_decay: float = 0.0,
    dynamic_stats: Mapping[str, torch.Tensor] | None = None,
    max_unknown: float = MAX_UNKNOWN,
    adapt: bool = False,
    adapt_lr: float = ADAPT_LR,
) -> float:
    """Mean bits per character of ``model`` predicting ``text`` (every character after the first
    of each stream). The text is read as ``batch_size`` long streams (8 by default, as the
    validation in :func:`~nnkit.text.train`); each starts from a zero state, so fewer streams
    score a little lower.

    Parameters
    ----------
    model : CharRNN, CharTransformer, torch.nn.Module or NgramMixture
        A character model, or a model mixed with the n-gram (:func:`~nnkit.text.mix_ngram`).
    vocab : Vocab
        The model's vocabulary.
    text : str
        The text to score; characters outside the vocabulary count as the unknown id.
    seq_len : int
        Characters per step of each stream (without ``dynamic``).
    batch_size : int
        Number of streams.
    loss : "auto", str, callable or None
        How a plain model is scored (:func:`loss_for`).
    device : str or torch.device, optional
        CUDA when available, else the CPU.
    dynamic : bool
        Dynamic evaluation (Krause et al., 2018): after scoring each segment of
        ``segment_len`` characters, a copy of the model takes one RMS-normalised gradient
        step (Adam without momentum) of ``dynamic_lr`` on it, so names and phrases of the text
        are learnt as they appear. Every character is scored before the model learns from it,
        so the score stays an honest prediction; the model passed in is left unchanged. Works
        with a mixture too (its neural part adapts).
    dynamic_lr : float
        The step size of dynamic evaluation.
    segment_len : int
        Characters per stream between two dynamic updates.
    dynamic_decay : float
        Pull the adapting weights back toward the trained ones by this share per step, scaled
        per weight by its training-gradient RMS when ``dynamic_stats`` is given (Krause et
        al.'s decay; :class:`~nnkit.text.dynamic.DynamicStep`). 0 (the default): no pull.
    dynamic_stats : dict of str to torch.Tensor, optional
        The mean squared gradients of the model on its training text
        (:func:`~nnkit.text.gradient_stats`): the steps are normalised by them, fixed, instead
        of by a running mean over the segments read.
    max_unknown : float
        The largest share of ``text``'s characters that may lie outside the vocabulary
        (:meth:`Vocab.unknown_share`; :data:`MAX_UNKNOWN`, 5%, by default). Every such
        character is scored as the unknown one, so an English model on a Japanese text would
        report a plausible number that measures nothing; ``1.0`` scores any text.

    adapt : bool
        With a mixture: adapt while reading, as compressors do. The n-gram counts each
        character right after scoring it, and an online mixer over the neural model and every
        order of the n-gram replaces the fixed weight or gate, its weights learning from each
        character (:func:`~nnkit.text.adaptive_probs`). The mixture passed in is not changed.
        Combines with ``dynamic``.
    adapt_lr : float
        The online mixer's learning rate.

    Raises
    ------
    nnkit.errors.VocabularyMismatchError
        More than ``max_unknown`` of the text is outside the vocabulary.

    Examples
    --------
    >>> vocab = Vocab.from_text("abcd")
    >>> _ = torch.manual_seed(0)  # one initialisation in 40 learns too little in 800 characters
    >>> untrained = CharRNN(len(vocab), hidden_size=8, num_layers=1)
    >>> 1.0 < bits_per_char(untrained, vocab, "abcd" * 50, device="cpu") < 4.0
    True
    >>> static = bits_per_char(untrained, vocab, "abcd" * 200, device="cpu")
    >>> bits_per_char(untrained, vocab, "abcd" * 200, device="cpu", dynamic=True) < static
    True
    """
    if isinstance(model, NgramMixture):
        model.check_vocab(vocab)
    if boolean(adapt, "adapt") and not isinstance(model, NgramMixture):
        raise InvalidArgumentError(
            f"adapt needs a mixture with the n-gram (what adapts is the n-gram and the mixer), "
            f"got {type(model).__name__}; mix it first with mix_ngram",
            parameter="adapt",
        )
    if adapt:
        positive_float(adapt_lr, "adapt_lr")
    check_coverage(vocab, text, max_unknown)
    if not dynamic and not isinstance(model, NgramMixture):
        ids = vocab.encode(text)
        dev = resolve_device(device)
        batch = _stream_count(ids.numel(), batch_size, seq_len)
        streams = StreamBatches(ids, batch_size=batch, seq_len=seq_len, shuffle=False, device=dev)
        result = evaluate(CarryState(model), streams, loss=loss_for(model, loss), device=dev)
        return result.loss / _LN2
    neural = model.model if isinstance(model, NgramMixture) else model
    scores = char_scores(
        neural,
        vocab,
        text,
        seq_len=seq_len,
        batch_size=batch_size,
        device=device,
        dynamic=dynamic,
        dynamic_lr=dynamic_lr,
        segment_len=segment_len,
        dynamic_decay=dynamic_decay,
        dynamic_stats=dynamic_stats,
    )
    if isinstance(model, NgramMixture) and adapt:
        probs = adaptive_probs(
            text,
            scores,
            model.ngram,
            unseen_ids=len(model.unseen_ids),
            lr=adapt_lr,
            weight=model.weight,
        )
        return float(-torch.log2(probs).mean())
    if isinstance(model, NgramMixture):
        return float(-torch.log2(model.score(text, scores)).mean())
    return scores.bits_per_char


def check_coverage(vocab: Vocab, text: str, max_unknown: float = MAX_UNKNOWN) -> float:
    """The share of ``text`` outside ``vocab``; refused above ``max_unknown``.

    Examples
    --------
    >>> check_coverage(Vocab.from_text("abc"), "abca")
    0.0
    >>> check_coverage(Vocab.from_text("abc"), "吾輩は猫である")
    Traceback (most recent call last):
    ...
    nnkit.errors.VocabularyMismatchError: 100.0% of the text's characters (7 of 7) are ...
    """
    if (
        isinstance(max_unknown, bool)
        or not isinstance(max_unknown, int | float)
        or not (0.0 <= max_unknown <= 1.0)
    ):
        raise InvalidArgumentError(
            f"max_unknown must be a share in [0, 1], got {max_unknown!r}", parameter="max_unknown"
        )
    share = vocab.unknown_share(text)
    if share > max_unknown:
        outside = round(share * len(text))
        raise VocabularyMismatchError(
            f"{share:.1%} of the text's characters ({outside:,} of {len(text):,}) are outside "
            f"the model's vocabulary of {len(vocab) - 1:,} characters and would all be scored "
            f"as the unknown one, so the score would measure little (at most {max_unknown:.0%} "
            "is scored); score text of the model's own language, or pass max_unknown=1.0"
        )
    return share


def char_scores(
    model: nn.Module,
    vocab: Vocab,
    text: str,
    *,
    seq_len: int = 256,
    batch_size: int = VAL_STREAMS,
    device: str | torch.device | None = None,
    dynamic: bool = False,
    dynamic_lr: float = DYNAMIC_LR,
    segment_len: int = SEGMENT_LEN,
    dynamic_decay: float = 0.0,
    dynamic_stats: Mapping[str, torch.Tensor] | None = None,
) -> CharScores:
    """What ``model`` predicted for each character of ``text`` it scores, read exactly as
    :func:`bits_per_char` reads it (same arguments): for a closer look than one mean, such as
    which characters cost the most, or for mixing with another model
    (:meth:`NgramMixture.score`).

    Examples
    --------
    >>> vocab = Vocab.from_text("abcd")
    >>> scores = char_scores(CharRNN(len(vocab), hidden_size=8, num_layers=1), vocab,
    ...                      "abcd" * 50, device="cpu")
    >>> scores.logp.shape, scores.positions[:3].tolist()
    (torch.Size([199]), [1, 2, 3])
    """
    boolean(dynamic, "dynamic")
    if dynamic:
        dynamic_lr = positive_float(dynamic_lr, "dynamic_lr")
        seq_len = positive_int(segment_len, "segment_len")
        in_interval(dynamic_decay, "dynamic_decay", 0.0, 1.0, closed="[]", what="dynamic")
        if dynamic_stats is not None and not isinstance(dynamic_stats, Mapping):
            raise InvalidArgumentError(
                f"dynamic_stats must be a dict from gradient_stats, got "
                f"{type(dynamic_stats).__name__}",
                parameter="dynamic_stats",
            )
    ids = vocab.encode(text)
    return score_chars(
        model,
        ids,
        batch_size=_stream_count(ids.numel(), batch_size, seq_len),
        seq_len=seq_len,
        device=resolve_device(device),
        dynamic_lr=dynamic_lr if dynamic else None,
        dynamic_decay=dynamic_decay,
        dynamic_stats=dynamic_stats,
    )
