"""Fitting the mixture of a character model and the n-gram on held-out text."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import torch
from torch import nn

from .._validate import boolean, one_of
from .dataset import split_text
from .evaluation import VAL_STREAMS, char_scores
from .mixture import ContextGate, NgramMixture
from .ngram import KneserNey, best_ngram
from .vocab import Vocab

__all__ = ["fit_mixture", "mix_ngram"]


def fit_mixture(
    model: nn.Module,
    vocab: Vocab,
    ngram: KneserNey,
    text: str,
    *,
    gate: bool = True,
    seq_len: int = 256,
    batch_size: int = VAL_STREAMS,
    device: str | torch.device | None = None,
) -> NgramMixture:
    """Mix ``model`` with ``ngram``, with the weights that make ``text`` most likely.

    ``text`` should be held out from both models' training (the validation split): on their
    training text both are overconfident. The fixed weight is fitted by expectation
    maximisation (the log-likelihood is concave in it, so this is its maximum on [0, 1]); the
    :class:`ContextGate` by L-BFGS from there, and kept only if it scores better. The text is
    read as in :func:`~nnkit.text.bits_per_char`, so its score of the result on ``text`` is
    the fitted optimum. One number (three with the gate) is fitted on the whole text, which
    costs a negligible optimism on tens of thousands of characters.

    Parameters
    ----------
    model : CharRNN, CharTransformer or torch.nn.Module
        The trained character model.
    vocab : Vocab
        Its vocabulary.
    ngram : KneserNey
        An n-gram trained on the model's training text.
    text : str
        Held-out text to fit the weights on.
    gate : bool
        Fit a :class:`ContextGate` as well as the fixed weight.
    seq_len, batch_size
        How the text is read (as in :func:`~nnkit.text.bits_per_char`).
    device : str or torch.device, optional
        Where the model runs.

    Returns
    -------
    NgramMixture
        With ``weight`` fitted, and ``gate`` too when it helps.

    Examples
    --------
    >>> from nnkit.models import CharRNN
    >>> text = "the cat sat on the mat. " * 20
    >>> vocab = Vocab.from_text(text)
    >>> model = CharRNN(len(vocab), hidden_size=8, num_layers=1)
    >>> mixture = fit_mixture(model, vocab, KneserNey([text], 3), text, device="cpu")
    >>> 0.0 <= mixture.weight < 0.5  # the untrained model earns little weight
    True
    """
    boolean(gate, "gate")
    probe = NgramMixture(model, vocab, ngram, weight=0.5)  # checks model, vocab and n-gram
    scores = char_scores(model, vocab, text, seq_len=seq_len, batch_size=batch_size, device=device)
    p_neural, p_ngram, histories = probe.parts(text, scores)
    weight = _fit_weight(p_neural, p_ngram)
    fitted = None
    if gate:
        counts = torch.tensor(
            [float(ngram.context_count(h)) for h in histories], dtype=torch.float64
        )
        fitted = _fit_gate(p_neural, p_ngram, counts, scores.entropy / math.log(2.0), weight)
    return NgramMixture(model, vocab, ngram, weight=weight, gate=fitted)


def mix_ngram(
    model: nn.Module,
    vocab: Vocab,
    corpus: str,
    *,
    order: int | None = None,
    orders: Iterable[int] | None = None,
    val_fraction: float = 0.1,
    split: Literal["interleaved", "tail"] = "interleaved",
    gate: bool = True,
    device: str | torch.device | None = None,
) -> NgramMixture:
    """Mix a model trained by :func:`~nnkit.text.train` on ``corpus`` with the n-gram, in one
    call: the corpus is split exactly as ``train`` split it (same ``val_fraction`` and
    ``split``), the n-gram is trained on the training pieces (of ``order``, or of the best order
    on the validation pieces: of ``orders``, or found by :func:`best_ngram`'s search) and the
    weights are fitted on the validation text (:func:`fit_mixture`).

    Examples
    --------
    >>> from nnkit.models import CharRNN
    >>> text = "今日は晴れです。明日も晴れです。" * 30
    >>> vocab = Vocab.from_text(text)
    >>> mixture = mix_ngram(CharRNN(len(vocab), hidden_size=8, num_layers=1), vocab, text,
    ...                     order=3, device="cpu")
    >>> mixture.ngram.n
    3
    """
    one_of(split, "split", ("interleaved", "tail"))
    train_pieces, val_pieces = split_text(corpus, val_fraction, mode=split)
    if order is None:
        order, _ = best_ngram(train_pieces, val_pieces, orders)
    ngram = KneserNey(train_pieces, order)
    return fit_mixture(model, vocab, ngram, "".join(val_pieces), gate=gate, device=device)


_RIDGE = 1e-4


def _nll(
    weight: float | torch.Tensor, p_neural: torch.Tensor, p_ngram: torch.Tensor
) -> torch.Tensor:
    """Mean negative log-likelihood (nats) of the mixture with the neural weight(s) ``weight``."""
    return -torch.log(weight * p_neural + (1 - weight) * p_ngram).mean()


def _fit_weight(p_neural: torch.Tensor, p_ngram: torch.Tensor) -> float:
    """The maximum-likelihood fixed weight, by expectation maximisation."""
    weight = 0.5
    for _ in range(500):
        updated = float((weight * p_neural / (weight * p_neural + (1 - weight) * p_ngram)).mean())
        converged = abs(updated - weight) < 1e-9
        weight = updated
        if converged:
            break
    # near an end EM creeps; the ends themselves are candidates (never worse than either part)
    return min((weight, 0.0, 1.0), key=lambda w: float(_nll(w, p_neural, p_ngram)))


def _fit_gate(
    p_neural: torch.Tensor,
    p_ngram: torch.Tensor,
    counts: torch.Tensor,
    entropy_bits: torch.Tensor,
    weight: float,
) -> ContextGate | None:
    """The :class:`ContextGate` of highest likelihood, or None if it does not beat ``weight``."""
    # the features of ContextGate.weight: lambda = sigmoid(features @ (bias, context, entropy))
    features = torch.stack([torch.ones_like(counts), torch.log2(1 + counts), entropy_bits], 1)
    clipped = min(max(weight, 1e-4), 1 - 1e-4)
    theta = torch.tensor(
        [math.log(clipped / (1 - clipped)), 0.0, 0.0], dtype=torch.float64, requires_grad=True
    )
    optimizer = torch.optim.LBFGS([theta], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        # a light ridge on the slopes: on a short text the likelihood alone would make the
        # gate a hard switch with slopes in the thousands
        loss = _nll(torch.sigmoid(features @ theta), p_neural, p_ngram)
        loss = loss + _RIDGE * (theta[1:] ** 2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    optimizer.step(closure)  # type: ignore[no-untyped-call]
    with torch.no_grad():
        fitted = _nll(torch.sigmoid(features @ theta), p_neural, p_ngram)
        if not torch.isfinite(theta).all() or fitted >= _nll(weight, p_neural, p_ngram):
            return None
    return ContextGate(*(float(v) for v in theta.detach()))
