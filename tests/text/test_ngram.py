from __future__ import annotations

import math

import pytest

from nnkit.text import KneserNey, best_ngram, ngram_bits_per_char

TEXT = "the quick brown fox jumps over the lazy dog. " * 10


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_distribution_sums_to_one_with_the_unknown_slot(n: int) -> None:
    model = KneserNey([TEXT], n)
    chars = set(TEXT)
    for history in ("", "th", "the qu", "zzz"):
        # the known characters plus the one slot that stands for every unseen character
        total = sum(model.prob(c, history) for c in chars) + model.prob("\u2603", history)
        assert math.isclose(total, 1.0, rel_tol=1e-9)


def test_unigram_is_close_to_frequencies_and_higher_orders_help() -> None:
    assert ngram_bits_per_char(TEXT, TEXT[:45], 1) > ngram_bits_per_char(TEXT, TEXT[:45], 4)
    order, scores = best_ngram([TEXT], [TEXT[:90]], orders=(1, 2, 3))
    assert order == 3 and scores[3] < scores[2] < scores[1]


def test_unseen_characters_get_probability() -> None:
    model = KneserNey(["aaaa"], 2)
    assert 0 < model.prob("b", "a") < 0.5
    assert math.isfinite(model.bits_per_char("ab"))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="n must be an integer between 1 and 12, got 0"):
        KneserNey(["abc"], 0)
    with pytest.raises(ValueError, match="n must be an integer between 1 and 12, got 13"):
        KneserNey(["abc"], 13)
    with pytest.raises(ValueError, match="max_order must be at most 12, got 20"):
        best_ngram("abc", "abc", max_order=20)
    with pytest.raises(ValueError, match="orders must name at least one order"):
        best_ngram("abc", "abc", orders=())
    with pytest.raises(ValueError, match="discount"):
        KneserNey(["abc"], 2, discount=1.0)
    with pytest.raises(ValueError, match="non-empty"):
        KneserNey([""], 2)
    with pytest.raises(ValueError, match="empty text"):
        KneserNey(["abc"], 2).bits_per_char("")


def test_the_order_search_goes_up_until_an_order_does_not_improve() -> None:
    import random

    rng = random.Random(0)
    # a long random phrase repeated: each added character of context helps until the context
    # identifies the position, so the best order is high, well past the old 1..5
    phrase = "".join(rng.choice("abcdefgh ") for _ in range(400))
    train, val = [phrase * 6], [phrase[:300]]
    order, scores = best_ngram(train, val)
    assert list(scores) == list(range(1, len(scores) + 1))  # tried in order, none skipped
    assert scores[order] == min(scores.values()) and order > 5
    last = max(scores)
    assert last == 12 or scores[last] >= scores[order]  # it stopped: no better, or the cap
    capped, few = best_ngram(train, val, max_order=3)
    assert list(few) == [1, 2, 3] and capped == 3
    # new sentences from the same words: past some order the context only splits the counts,
    # and the search stops at the first order that does not improve
    order, scores = best_ngram([TEXT], ["the lazy fox jumps over the quick brown dog. "])
    assert 2 < order < 12 and max(scores) == order + 1 and scores[order + 1] >= scores[order]
