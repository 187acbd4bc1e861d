"""Adaptation while reading, as compressors do: an n-gram that counts each character right
after scoring it, and an online mixer (PAQ-style) over the neural model and every order of the
n-gram whose weights learn from each character too.

PPMd, zpaq and their kind learn from the text they compress as they read it: a name that appeared a
page ago is cheap the second time. A static n-gram cannot do that, and neither can one fixed mixing
weight. :class:`~nnkit.text.CountingNgram` keeps a copy of a :class:`~nnkit.text.KneserNey`'s counts
and adds each character to it once it has been scored (exactly as a training character would have
been counted, continuation counts included); :class:`~nnkit.text.OnlineMixer` mixes the neural
model's probability with the probability at each of the n-gram's orders, with weights chosen by the
context (how deep the n-gram's context was seen, how sure the neural model is) and moved one
gradient step on the character's code length after each character.
:func:`~nnkit.text.adaptive_probs` runs both over a text that a neural model has scored
(:func:`~nnkit.text.char_scores`, with or without dynamic evaluation), in the order in which that
model read it, so every probability is a prediction made before its character was read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .._validate import fail, in_interval, positive_float
from ._scoring import CharScores
from .match import MatchModel
from .ngram import KneserNey, _continuations
from .vocab import Vocab

__all__ = ["ADAPT_LR", "CountingNgram", "OnlineMixer", "adaptive_probs"]

#: The online mixer's default learning rate, chosen on the validation splits of alice.txt and
#: neko.txt (docs/text.rst, where nnkit stands).
ADAPT_LR = 0.1
#: Bins of the neural model's entropy (bits) that select the mixer's weights.
_ENTROPY_EDGES = (0.5, 1.5, 3.0, 5.0)
#: The least weight an expert starts with.
_FLOOR = 0.01
#: Weight sets selected by the previous character (its code point, modulo this).
_PREVIOUS = 256
#: The final mixer's learning rate.
_FINAL_LR = 0.02


class CountingNgram(KneserNey):
    """A Kneser-Ney n-gram that keeps counting: :meth:`observe` adds one character, with its
    history, as the training text's characters were added. The :class:`~nnkit.text.KneserNey`
    it starts from is copied, never changed; :meth:`~nnkit.text.KneserNey.prob` and the other
    methods see the counts observed so far.

    Parameters
    ----------
    ngram : KneserNey
        The trained n-gram (its training pieces rebuild the continuation counts).
    order : int, optional
        Count at this order instead of ``ngram.n`` (the n-gram is rebuilt from its pieces).
    unseen_ids : int
        How many ids of the vocabulary the n-gram never saw in training: they share the
        n-gram's one slot for an unseen character (as in :class:`~nnkit.text.NgramMixture`).

    Examples
    --------
    >>> ngram = KneserNey(["abcab"], 2)
    >>> counting = CountingNgram(ngram, unseen_ids=1)
    >>> before = counting.probs("c", "b")[-1]
    >>> counting.observe("c", "b")
    >>> counting.probs("c", "b")[-1] > before, ngram.prob("c", "b") == before
    (True, True)
    """

    def __init__(self, ngram: KneserNey, *, order: int | None = None, unseen_ids: int = 1) -> None:
        # a copy of the trained tables, not a second training (KneserNey.__init__)
        if not isinstance(ngram, KneserNey):
            raise fail("ngram", f"ngram must be a KneserNey model, got {type(ngram).__name__}")
        if order is not None and order != ngram.n:
            ngram = KneserNey(ngram.pieces, order, discount=ngram.discount)
        if isinstance(unseen_ids, bool) or not isinstance(unseen_ids, int) or unseen_ids < 1:
            raise fail("unseen_ids", f"unseen_ids must be a positive integer, got {unseen_ids!r}")
        self.n = ngram.n
        self.discount = ngram.discount
        self.pieces = ngram.pieces
        self.chars = ngram.chars
        self.base = ngram.base
        self.unseen_ids = unseen_ids
        self.counts = [{h: dict(c) for h, c in level.items()} for level in ngram.counts]
        self.totals = [dict(level) for level in ngram.totals]
        self.types = [dict(level) for level in ngram.types]
        self._left = _continuations(ngram.pieces, self.n)

    def probs(self, char: str, history: str) -> list[float]:
        """The probability of ``char`` after ``history`` at each order 1..n (``[k - 1]`` uses
        ``k - 1`` characters of context), over the vocabulary's ids."""
        history = history[-(self.n - 1) :] if self.n > 1 else ""
        p = self.base if char in self.chars else self.base / self.unseen_ids
        out: list[float] = []
        self._interpolate(char, history, p, out)
        return out + [out[-1]] * (self.n - len(out))  # a short history: no higher context

    def depth(self, history: str) -> int:
        """The longest context (0..n-1 characters) of ``history`` that has been seen."""
        history = history[-(self.n - 1) :] if self.n > 1 else ""
        for k in range(len(history), 0, -1):
            if self.totals[k].get(history[len(history) - k :], 0):
                return k
        return 0

    def observe(self, char: str, history: str) -> None:
        """Count ``char`` read after ``history`` (the text before it, within one piece)."""
        n = self.n
        history = history[-(n - 1) :] if n > 1 else ""
        if len(history) >= n - 1:
            self._add(n - 1, history, char)
        gram = history + char
        for k in range(min(n - 1, len(history))):
            lefts = self._left[k][gram[len(gram) - k - 1 :]]
            if gram[-k - 2] not in lefts:  # a new left neighbour: one more continuation
                lefts.add(gram[-k - 2])
                self._add(k, gram[len(gram) - k - 1 : -1], char)

    def _add(self, k: int, context: str, char: str) -> None:
        level = self.counts[k].setdefault(context, {})
        old = level.get(char, 0)
        level[char] = old + 1
        self.totals[k][context] = self.totals[k].get(context, 0) + 1
        if old == 0:
            self.types[k][context] = self.types[k].get(context, 0) + 1


class OnlineMixer:
    r"""Mixes several models' probabilities of the next character with weights that learn
    online, as PAQ's mixer does:

    .. math::

        P(c) = \sum_i w_i\, p_i(c), \qquad w = \operatorname{softmax}(z_s)

    where :math:`s` is the selector (a small context that picks one weight vector) and, after
    the character is read, :math:`z_s` takes one gradient step of ``lr`` on the code length
    :math:`-\ln P(c)`: :math:`z_{s,i} \mathrel{+}= \text{lr}\,(w_i p_i / P - w_i)`. A sum of
    distributions with weights summing to one is a distribution, so only the probability
    each model gave the character read is needed.

    Examples
    --------
    >>> mixer = OnlineMixer(experts=2, selectors=1, lr=0.5)
    >>> first = mixer.mix(0, [0.9, 0.1])
    >>> for _ in range(20):
    ...     _ = mixer.mix(0, [0.9, 0.1])
    >>> round(first, 3), mixer.mix(0, [0.9, 0.1]) > 0.85   # it learns to trust the first
    (0.5, True)
    """

    def __init__(
        self,
        *,
        experts: int,
        selectors: int,
        lr: float = ADAPT_LR,
        prior: Sequence[float] | None = None,
    ) -> None:
        for name, value in (("experts", experts), ("selectors", selectors)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise fail(name, f"{name} must be a positive integer, got {value!r}")
        self.lr = positive_float(lr, "lr")
        self.experts = experts
        if prior is None:
            start = [0.0] * experts
        else:
            if len(prior) != experts or not all(w > 0.0 for w in prior):
                raise fail("prior", f"prior must hold {experts} positive weights, got {prior!r}")
            start = [math.log(w / sum(prior)) for w in prior]
        self.z = [list(start) for _ in range(selectors)]

    def weights(self, selector: int) -> list[float]:
        """The current weights of selector ``selector``."""
        z = self.z[selector]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        return [v / total for v in e]

    def mix(self, selector: int, probs: Sequence[float]) -> float:
        """The mixture's probability of the character read, then one learning step."""
        w = self.weights(selector)
        mixed = sum(wi * pi for wi, pi in zip(w, probs, strict=True))
        z = self.z[selector]
        for i in range(self.experts):
            z[i] += self.lr * (w[i] * probs[i] / mixed - w[i])
        return mixed


def adaptive_probs(
    text: str,
    neural: CharScores | Sequence[CharScores] | None,
    ngram: KneserNey,
    *,
    unseen_ids: int = 1,
    order: int | None = None,
    lr: float = ADAPT_LR,
    weight: float = 0.5,
    vocab: Vocab | None = None,
    match_len: int | None = None,
) -> torch.Tensor:
    """The adapting mixture's probability of each character of ``text`` that ``neural``
    scored: ``(P,)`` float64, in ``neural.positions`` order.

    The characters are read in the order the neural model read them (its streams side by
    side, one column at a time), and each is scored before the n-gram counts it and before the
    mixer learns from it. Each n-gram history stays within its stream. Without ``neural``
    (None), every character after the first is scored by the n-gram's orders alone.

    Parameters
    ----------
    text : str
        The text ``neural`` scored.
    neural : CharScores, sequence of CharScores, or None
        The neural model's scores (:func:`~nnkit.text.char_scores`); several models' scores
        of the same text, read the same way, make several experts of the mixer (the first
        one's entropy selects the weights).
    ngram : KneserNey
        The n-gram trained on the training text; it is not changed.
    unseen_ids : int
        Vocabulary ids the n-gram never saw (``len(mixture.unseen_ids)``).
    order : int, optional
        The adapting n-gram's order, ``ngram.n`` by default. (Two orders higher scored worse on
        both corpora measured: the extra orders start with little weight and rarely earn it.)
    lr : float
        The mixer's learning rate.
    weight : float
        The neural models' weight at the start, shared equally (the static mixture's); the
        n-gram's order ``ngram.n`` starts with the rest, every other expert with 1%.

    Examples
    --------
    >>> ngram = KneserNey(["the cat sat on the mat. "], 3)
    >>> text = "a zebra named Zed. " * 10       # new words, repeated: adaptation learns them
    >>> probs = adaptive_probs(text, None, ngram, unseen_ids=5)
    >>> static = [ngram.prob(c, text[max(0, i - 2):i]) for i, c in enumerate(text)][1:]
    >>> bool(probs[-19:].log().mean() > torch.tensor(static[-19:]).log().mean())
    True
    """
    if order is None:
        order = ngram.n
    weight = in_interval(weight, "weight", 0.0, 1.0, closed="[]", what="adaptive_probs")
    counting = CountingNgram(ngram, order=order, unseen_ids=unseen_ids)
    models = [] if neural is None else [neural] if isinstance(neural, CharScores) else list(neural)
    if not all(isinstance(m, CharScores) for m in models):
        raise fail("neural", "neural must be CharScores, a sequence of them, or None")
    if models:
        positions = models[0].positions.tolist()
        if any(not torch.equal(m.positions, models[0].positions) for m in models[1:]):
            raise fail("neural", "the neural scores must be of the same text, read the same way")
        probs_neural = [m.logp.exp().tolist() for m in models]
        entropy = (models[0].entropy / math.log(2.0)).tolist()
    else:
        positions = list(range(1, len(text)))
    present = set(positions)
    start = 0
    starts = []
    for p in positions:  # a stream starts where the position before is not scored
        if p - 1 not in present:
            start = p - 1
        starts.append(start)
    order_read = sorted(range(len(positions)), key=lambda j: (positions[j] - starts[j], starts[j]))
    bins = len(_ENTROPY_EDGES) + 1 if models else 1
    matcher = None
    if vocab is not None and match_len is not None:
        matcher = MatchModel(ngram.pieces, vocab, min_len=match_len)
    # start as the static mixture: the neural models' weight, the rest on the static order
    prior = [_FLOOR] * counting.n + [weight / max(len(models), 1)] * len(models)
    prior[min(ngram.n, counting.n) - 1] = 1.0 - weight if models else 1.0
    if matcher is not None:
        prior.append(_FLOOR)
    prior = [max(w, _FLOOR) for w in prior]
    # two layers, as PAQ: mixers whose weights are selected by different contexts (how deep
    # the n-gram's context was seen and how sure the neural model is; the previous character;
    # nothing), and a final mixer over their outputs
    selectors = (counting.n * bins * (3 if matcher else 1), _PREVIOUS, 1)
    mixers = [OnlineMixer(experts=len(prior), selectors=k, lr=lr, prior=prior) for k in selectors]
    final = OnlineMixer(experts=len(mixers), selectors=1, lr=_FINAL_LR)
    out = [0.0] * len(positions)
    for j in order_read:
        p = positions[j]
        history = text[max(starts[j], p - counting.n + 1) : p]
        char = text[p]
        probs = counting.probs(char, history)
        selector = counting.depth(history)
        if models:
            probs += [m[j] for m in probs_neural]
            selector = selector * bins + sum(entropy[j] > e for e in _ENTROPY_EDGES)
        if matcher is not None:
            predicted, length = matcher.predict(text, p, starts[j])
            probs.append(matcher.prob(char, predicted, length))
            selector = selector * 3 + (0 if not length else 1 if length < 16 else 2)
        previous = ord(history[-1]) % _PREVIOUS if history else 0
        layer = [m.mix(k, probs) for m, k in zip(mixers, (selector, previous, 0), strict=True)]
        out[j] = final.mix(0, layer)
        counting.observe(char, history)
        if matcher is not None:
            matcher.observe(text, p, starts[j], predicted, length)
    return torch.tensor(out, dtype=torch.float64)
