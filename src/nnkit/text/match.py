"""A match model (as in PAQ and zpaq): the character that followed the last time the text read
so far ended as it ends now.

An n-gram forgets everything beyond its ``n - 1`` characters of context; a book repeats whole
phrases (a name with its title, a refrain, a licence). :class:`~nnkit.text.MatchModel` finds the
most recent earlier place, in the training text or in the text read so far, whose ``min_len``
characters equal the last ``min_len`` read, measures how far back the agreement goes, and predicts
the character that came next there. How much to trust it is learnt while reading: the share of its
predictions that came true, per length of the match.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._validate import fail, positive_int
from .vocab import Vocab

__all__ = ["MATCH_LEN", "MatchModel"]

#: The default shortest match: 6 characters of context longer than most n-gram orders use.
MATCH_LEN = 6
#: Where the match-length classes whose hit rates are learnt separately begin (after the
#: class of the shortest matches).
_LENGTHS = (8, 12, 16, 24)
_LONGEST = 64


class MatchModel:
    """Predicts the character that followed the most recent earlier occurrence of the current
    context.

    Parameters
    ----------
    pieces : sequence of str
        The training text (matches never span two pieces).
    vocab : Vocab
        The vocabulary its distribution is over.
    min_len : int
        Characters of context that must agree for a match.

    Examples
    --------
    >>> vocab = Vocab.from_text("abcdefgh ")
    >>> match = MatchModel(["abcdefgh"], vocab, min_len=3)
    >>> text = "xx cdef"
    >>> match.predict(text, 6, 0)            # "cde" was followed by "f" in training
    ('f', 3)
    >>> round(sum(match.prob(c, "f", 3) for c in vocab.chars), 12)
    1.0
    """

    def __init__(self, pieces: Sequence[str], vocab: Vocab, *, min_len: int = MATCH_LEN) -> None:
        self.min_len = positive_int(min_len, "min_len")
        if not isinstance(vocab, Vocab):
            raise fail("vocab", f"vocab must be a Vocab, got {type(vocab).__name__}")
        self.vocab = vocab
        self.sources = [p for p in pieces if isinstance(p, str)]
        #: context of ``min_len`` characters -> (source, position of the character after it);
        #: source -1 is the text being read
        self.index: dict[str, tuple[int, int]] = {}
        for s, piece in enumerate(self.sources):
            for p in range(self.min_len, len(piece)):
                self.index[piece[p - self.min_len : p]] = (s, p)
        classes = len(_LENGTHS) + 2  # no match, shorter than the first edge, one per edge
        self.hits = [1.0] * classes  # a prior of one hit in two tries per class
        self.tries = [2.0] * classes

    def predict(self, text: str, position: int, start: int) -> tuple[str | None, int]:
        """The predicted character for ``text[position]`` (None without a match) and the
        match's length, reading ``text`` from ``start`` (a stream's first character)."""
        n = self.min_len
        if position - start < n:
            return None, 0
        found = self.index.get(text[position - n : position])
        if found is None:
            return None, 0
        source, at = found
        src = text if source < 0 else self.sources[source]
        low = start if source < 0 else 0
        while (
            n < _LONGEST
            and position - n - 1 >= start
            and at - n - 1 >= low
            and src[at - n - 1] == text[position - n - 1]
        ):
            n += 1
        return src[at], n

    @staticmethod
    def length_class(length: int) -> int:
        """0 for no match, then one class per range of lengths (6-7, 8-11, 12-15, 16-23, 24 and
        more with the default ``min_len``)."""
        if length == 0:
            return 0
        return 1 + sum(length >= edge for edge in _LENGTHS)

    def prob(self, char: str, predicted: str | None, length: int) -> float:
        """The match model's probability of ``char``: the learnt hit rate of matches this long
        on the predicted character, the rest shared by the other ids (uniform without a
        match)."""
        size = len(self.vocab)
        if predicted is None:
            return 1.0 / size
        c = self.length_class(length)
        hit = min(max(self.hits[c] / self.tries[c], 1.0 / size), 1.0 - 1e-6)
        same = self.vocab.stoi.get(char, 0) == self.vocab.stoi.get(predicted, 0)
        return hit if same else (1.0 - hit) / (size - 1)

    def observe(
        self, text: str, position: int, start: int, predicted: str | None, length: int
    ) -> None:
        """Learn from ``text[position]``, now read: the hit rate, and the context that ends
        just before it."""
        if predicted is not None:
            c = self.length_class(length)
            self.tries[c] += 1
            self.hits[c] += text[position] == predicted
        if position - start >= self.min_len:
            self.index[text[position - self.min_len : position]] = (-1, position)
