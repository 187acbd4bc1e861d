"""A character n-gram baseline: interpolated Kneser-Ney, written out."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from .._validate import at_most, positive_int
from ..errors import InvalidArgumentError

__all__ = ["MAX_ORDER", "KneserNey", "best_ngram", "ngram_bits_per_char"]

#: The highest n-gram order: the cap of :func:`best_ngram`'s search. No corpus measured so far
#: wanted more than 7 (``alice.txt``); each order adds a table as large as the text.
MAX_ORDER = 12


class KneserNey:
    r"""An interpolated Kneser-Ney character model of order ``n``.

    The highest order uses raw counts, every lower order the *continuation* counts
    :math:`N_{1+}(\bullet\, h w)` (in how many different contexts a string was seen), each with
    absolute discounting :math:`D`:

    .. math::

        P(w \mid h) = \frac{\max(c(h w) - D, 0)}{c(h)}
            + \frac{D\, N_{1+}(h \bullet)}{c(h)}\, P(w \mid h')

    where :math:`h'` drops the oldest character of :math:`h`; a context never seen falls back to
    :math:`h'` entirely; below the unigram is the uniform distribution over the training
    characters plus one slot for characters never seen in training.

    Parameters
    ----------
    pieces : iterable of str
        Training text (several pieces: no n-gram spans two).
    n : int
        Order, 1 to :data:`MAX_ORDER` (12).
    discount : float
        :math:`D` in (0, 1).

    Examples
    --------
    >>> model = KneserNey(["abababab"], 2)
    >>> round(model.prob("b", "a"), 3) > 0.8
    True
    """

    def __init__(self, pieces: Iterable[str], n: int, *, discount: float = 0.75) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_ORDER:
            raise InvalidArgumentError(
                f"n must be an integer between 1 and {MAX_ORDER}, got {n!r}", parameter="n"
            )
        if not 0.0 < discount < 1.0:
            raise InvalidArgumentError(
                f"discount must be in (0, 1), got {discount}", parameter="discount"
            )
        pieces = [p for p in pieces if p]
        if not pieces:
            raise InvalidArgumentError("KneserNey needs non-empty training text")
        self.n = n
        self.discount = discount
        #: The training pieces (what :func:`~nnkit.text.save` stores to rebuild the model).
        self.pieces: list[str] = pieces
        # counts[k][context][char]: k = len(context); raw for k == n - 1, continuation below
        self.counts: list[dict[str, dict[str, int]]] = [defaultdict(dict) for _ in range(n)]
        chars: set[str] = set()
        for text in pieces:
            chars.update(text)
            for i, char in enumerate(text):
                top = self.counts[n - 1].setdefault(text[max(0, i - n + 1) : i], {})
                if i >= n - 1:
                    top[char] = top.get(char, 0) + 1
        for k, level in enumerate(_continuations(pieces, n)):
            for gram, lefts in level.items():
                self.counts[k].setdefault(gram[:-1], {})[gram[-1]] = len(lefts)
        self.totals = [{h: sum(c.values()) for h, c in level.items()} for level in self.counts]
        self.types = [{h: len(c) for h, c in level.items()} for level in self.counts]
        #: The characters seen in training; all others share one slot of probability.
        self.chars: frozenset[str] = frozenset(chars)
        self.base = 1.0 / (len(chars) + 1)

    def prob(self, char: str, history: str) -> float:
        """:math:`P(\\text{char} \\mid \\text{history})`; uses the last ``n - 1`` characters."""
        history = history[-(self.n - 1) :] if self.n > 1 else ""
        return self._interpolate(char, history, self.base)

    def _interpolate(
        self, char: str, history: str, p: float, orders: list[float] | None = None
    ) -> float:
        """The interpolation of the class docstring from ``p`` (below the unigram) up through
        every context of ``history`` (already cut to ``n - 1`` characters); ``orders`` collects
        the value after each order ``0..len(history)``."""
        for k in range(len(history) + 1):
            context = history[len(history) - k :] if k else ""
            total = self.totals[k].get(context, 0)
            if total:
                count = self.counts[k][context].get(char, 0)
                p = (
                    max(count - self.discount, 0.0) / total
                    + (self.discount * self.types[k][context] / total) * p
                )
            if orders is not None:
                orders.append(p)
        return p

    def context_count(self, history: str) -> int:
        """How often the context the model conditions on (the last ``n - 1`` characters of
        ``history``) was seen in training: 0 for a context never seen."""
        context = history[-(self.n - 1) :] if self.n > 1 else ""
        return self.totals[len(context)].get(context, 0)

    def bits_per_char(self, text: str | Sequence[str]) -> float:
        """Mean :math:`-\\log_2 P` over every character of ``text`` (or of several pieces)."""
        pieces = [text] if isinstance(text, str) else list(text)
        total, count = 0.0, 0
        for piece in pieces:
            for i, char in enumerate(piece):
                total -= math.log2(self.prob(char, piece[max(0, i - self.n + 1) : i]))
                count += 1
        if count == 0:
            raise InvalidArgumentError("cannot score empty text")
        return total / count


def _continuations(pieces: Sequence[str], n: int) -> list[defaultdict[str, set[str]]]:
    """For each ``k < n - 1``, every ``(k + 1)``-character string of the pieces with the
    characters seen just before it: what the continuation counts of level ``k`` count."""
    left: list[defaultdict[str, set[str]]] = [defaultdict(set) for _ in range(n - 1)]
    for text in pieces:
        for i in range(len(text)):
            for k in range(min(n - 1, i)):  # k + 1 characters with one before them
                left[k][text[i - k : i + 1]].add(text[i - k - 1])
    return left


def ngram_bits_per_char(
    train_text: str | Sequence[str],
    val_text: str | Sequence[str],
    n: int,
    *,
    discount: float = 0.75,
) -> float:
    """Validation bits per character of a Kneser-Ney n-gram trained on ``train_text``.

    Examples
    --------
    >>> text = "the cat sat on the mat. " * 20
    >>> ngram_bits_per_char(text, "the cat sat on the mat. ", 4) < 0.5
    True
    """
    train = [train_text] if isinstance(train_text, str) else list(train_text)
    return KneserNey(train, n, discount=discount).bits_per_char(val_text)


def best_ngram(
    train_text: str | Sequence[str],
    val_text: str | Sequence[str],
    orders: Iterable[int] | None = None,
    *,
    max_order: int = MAX_ORDER,
) -> tuple[int, dict[int, float]]:
    """The order with the lowest validation bits/char, and the bits/char of every order tried.

    Without ``orders`` the search goes up from order 1 until an order scores no better than
    the best so far (a larger context then only splits the counts further), at most to
    ``max_order``; with ``orders`` it scores exactly those.

    Examples
    --------
    >>> text = "the cat sat on the mat. " * 20
    >>> order, scores = best_ngram(text, "the cat sat on the mat. ")
    >>> scores[order] == min(scores.values()) and list(scores) == list(range(1, len(scores) + 1))
    True
    """
    at_most(positive_int(max_order, "max_order"), "max_order", MAX_ORDER)
    train = [train_text] if isinstance(train_text, str) else list(train_text)
    if orders is not None:
        scores = {n: ngram_bits_per_char(train, val_text, n) for n in orders}
        if not scores:
            raise InvalidArgumentError("orders must name at least one order", parameter="orders")
        return min(scores, key=scores.__getitem__), scores
    scores = {}
    best = 1
    for n in range(1, max_order + 1):
        scores[n] = ngram_bits_per_char(train, val_text, n)
        if scores[n] < scores[best]:
            best = n
        elif n > best:  # this order did not improve on the best: larger ones split further
            break
    return best, scores
