"""A character model mixed with the n-gram baseline: one distribution from two models."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .._validate import fail, in_interval
from ._scoring import CharScores
from .ngram import KneserNey
from .vocab import Vocab

__all__ = ["ContextGate", "NgramMixture"]

_LN2 = math.log(2.0)


@dataclass(frozen=True)
class ContextGate:
    r"""The neural model's weight :math:`\lambda` set by the context, a logistic function of
    two things both models know before the next character:

    .. math::

        \lambda = \sigma\big(b + a \log_2(1 + c(h)) + e\, H\big)

    where :math:`c(h)` is how often the n-gram's context was seen in training (a rare context
    means the n-gram is guessing) and :math:`H` the entropy in bits of the neural model's
    prediction (a model that hesitates deserves less weight).
    :func:`~nnkit.text.fit_mixture` fits :math:`(b, a, e)` by maximum likelihood.

    Examples
    --------
    >>> gate = ContextGate(bias=0.0, context=0.5, entropy=-0.5)
    >>> weights = gate.weight(torch.tensor([0.0, 1023.0]), torch.tensor([2.0, 2.0]))
    >>> [round(w, 4) for w in weights.tolist()]  # a rare context, then a frequent one
    [0.2689, 0.982]
    """

    bias: float
    context: float = 0.0
    entropy: float = 0.0

    def weight(self, context_count: torch.Tensor, entropy_bits: torch.Tensor) -> torch.Tensor:
        """:math:`\\lambda` for each position: shapes ``(P,)`` in, ``(P,)`` out."""
        z = self.bias + self.context * torch.log2(1 + context_count) + self.entropy * entropy_bits
        return torch.sigmoid(z)

    def to_list(self) -> list[float]:
        return [self.bias, self.context, self.entropy]

    def __str__(self) -> str:
        return (
            f"context gate (bias {self.bias:.3f}, context {self.context:.3f}, "
            f"entropy {self.entropy:.3f})"
        )


class NgramMixture:
    r"""A character model and a Kneser-Ney n-gram, mixed:

    .. math::

        P(c \mid h) = \lambda\, P_\text{model}(c \mid h) + (1 - \lambda)\, P_\text{n-gram}(c \mid h)

    with one fixed ``weight`` :math:`\lambda`, or a :class:`ContextGate` that sets it per
    position. A mixture of two distributions is a distribution, and with the weight fitted by
    maximum likelihood it scores at least as well as the better of the two on the text it was
    fitted on (the two models make different errors, so usually clearly better).
    :func:`~nnkit.text.bits_per_char`, :func:`~nnkit.text.generate` and
    :func:`~nnkit.text.save` take a mixture wherever they take a model.

    The n-gram knows only the characters of its training text; its probability for every
    other character (one slot in :class:`KneserNey`) is shared equally among the vocabulary's
    ids it never saw (the unknown id among them), so the mixture sums to one over the
    vocabulary.

    Parameters
    ----------
    model : CharRNN, CharTransformer or torch.nn.Module
        Called as ``model(ids (B, T), state=...)``, returning ``(scores (B, T, V), state)``.
    vocab : Vocab
        The model's vocabulary; it must hold every character the n-gram was trained on.
    ngram : KneserNey
        The n-gram, trained on the model's training text.
    weight : float
        The neural model's weight :math:`\lambda` in [0, 1] where there is no ``gate``.
    gate : ContextGate, optional
        Sets the weight per position instead.

    Examples
    --------
    >>> vocab = Vocab.from_text("abcab")
    >>> from nnkit.models import CharRNN
    >>> mixture = NgramMixture(CharRNN(len(vocab), hidden_size=4, num_layers=1), vocab,
    ...                        KneserNey(["abcab"], 2), weight=0.5)
    >>> probs = mixture.ngram_probs("a")
    >>> probs.shape, round(float(probs.sum()), 6)
    (torch.Size([4]), 1.0)
    """

    def __init__(
        self,
        model: nn.Module,
        vocab: Vocab,
        ngram: KneserNey,
        *,
        weight: float = 0.5,
        gate: ContextGate | None = None,
    ) -> None:
        self.weight = in_interval(weight, "weight", 0.0, 1.0, closed="[]", what="mixture")
        if not isinstance(ngram, KneserNey):
            raise fail("ngram", f"ngram must be a KneserNey model, got {type(ngram).__name__}")
        size = getattr(model, "vocab_size", None)  # CharRNN and CharTransformer say it
        if isinstance(size, int) and size != len(vocab):
            raise fail(
                "vocab",
                f"the model predicts {size} characters but the vocabulary has {len(vocab)}",
            )
        foreign = sorted(c for c in ngram.chars if c not in vocab and c != vocab.unknown)
        if foreign:
            raise fail(
                "vocab",
                f"the n-gram was trained on {len(foreign)} characters the vocabulary lacks "
                f"(e.g. {''.join(foreign[:10])!r}); train both on the same text",
            )
        if gate is not None and not isinstance(gate, ContextGate):
            raise fail("gate", f"gate must be a ContextGate or None, got {type(gate).__name__}")
        self.model = model
        self.vocab = vocab
        self.ngram = ngram
        self.gate = gate
        known = {vocab.stoi.get(c, 0) for c in ngram.chars}
        #: The ids the n-gram never saw, which share its probability for an unseen character.
        self.unseen_ids = torch.tensor([i for i in range(len(vocab)) if i not in known])
        self._order = [(c, vocab.stoi.get(c, 0)) for c in sorted(ngram.chars)]
        self._empty = self._unigram()  # the unigram level, the start of every other

    def check_vocab(self, vocab: Vocab) -> None:
        """Raise unless ``vocab`` is the mixture's own (what every caller passing both needs)."""
        if vocab != self.vocab:
            raise fail("vocab", "the vocabulary is not the mixture's (mixture.vocab)")

    def __repr__(self) -> str:
        mix = f"gate={self.gate}" if self.gate is not None else f"weight={self.weight:.3f}"
        return f"NgramMixture({type(self.model).__name__}, n={self.ngram.n}, {mix})"

    def ngram_prob(self, char: str, history: str) -> float:
        """The n-gram part's probability of ``char`` after ``history`` over the vocabulary's ids
        (a character it never saw gets its share of the unseen slot)."""
        p = self.ngram.prob(char, history)
        return p if char in self.ngram.chars else p / len(self.unseen_ids)

    def ngram_probs(self, history: str) -> torch.Tensor:
        """The n-gram part's distribution over the vocabulary after ``history``: ``(V,)``,
        float64, summing to one."""
        history = history[-(self.ngram.n - 1) :] if self.ngram.n > 1 else ""
        vec, unseen = self._empty
        vec = vec.clone()
        for k in range(1, len(history) + 1):
            unseen = self._level(vec, unseen, k, history[len(history) - k :])
        vec[self.unseen_ids] += unseen / len(self.unseen_ids)
        return vec

    def _unigram(self) -> tuple[torch.Tensor, float]:
        """The base and unigram levels as a dense vector over the known ids, and the unseen
        slot's probability."""
        vec = torch.zeros(len(self.vocab), dtype=torch.float64)
        vec[[i for _, i in self._order]] = self.ngram.base
        return vec, self._level(vec, self.ngram.base, 0, "")

    def _level(self, vec: torch.Tensor, unseen: float, k: int, context: str) -> float:
        """Apply one Kneser-Ney level (context of length ``k``) to ``vec`` in place, as
        :meth:`KneserNey.prob` does for one character; returns the unseen slot's new value."""
        ng = self.ngram
        total = ng.totals[k].get(context, 0)
        if total == 0:  # a context never seen: this level passes the lower one through
            return unseen
        scale = ng.discount * ng.types[k][context] / total
        vec.mul_(scale)
        for char, count in ng.counts[k][context].items():
            vec[self.vocab.stoi.get(char, 0)] += (count - ng.discount) / total
        return unseen * scale

    def neural_weights(self, histories: Sequence[str], entropy_bits: torch.Tensor) -> torch.Tensor:
        """:math:`\\lambda` at each position: ``(P,)`` float64, from the histories (for the
        n-gram's context counts) and the neural model's entropies in bits ``(P,)``."""
        if self.gate is None:
            return torch.full((len(histories),), self.weight, dtype=torch.float64)
        counts = torch.tensor(
            [float(self.ngram.context_count(h)) for h in histories], dtype=torch.float64
        )
        return self.gate.weight(counts, entropy_bits.double())

    def probs(self, logits: torch.Tensor, history: str) -> torch.Tensor:
        """The mixture's next-character distribution ``(V,)`` (float64) from the neural
        model's scores ``(V,)`` for the next character and the text so far."""
        neural = torch.softmax(logits.double().cpu(), dim=-1)
        entropy = -(neural * torch.log2(neural.clamp_min(1e-300))).sum()
        weight = self.neural_weights([history], entropy.reshape(1))[0]
        return weight * neural + (1 - weight) * self.ngram_probs(history)

    def score(self, text: str, neural: CharScores) -> torch.Tensor:
        """The mixture's probability of each character of ``text`` that ``neural`` scored:
        ``(P,)`` float64."""
        p_neural, p_ngram, histories = self.parts(text, neural)
        weight = self.neural_weights(histories, neural.entropy / _LN2)
        return weight * p_neural + (1 - weight) * p_ngram

    def parts(self, text: str, neural: CharScores) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """Both models' probabilities of each scored character, and its history."""
        n = self.ngram.n
        histories = [text[max(0, i - n + 1) : i] for i in neural.positions.tolist()]
        p_ngram = torch.tensor(
            [
                self.ngram_prob(text[i], h)
                for i, h in zip(neural.positions.tolist(), histories, strict=True)
            ],
            dtype=torch.float64,
        )
        return neural.logp.exp(), p_ngram, histories
