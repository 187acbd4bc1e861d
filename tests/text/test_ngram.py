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
    with pytest.raises(ValueError, match="n must be between 1 and 8"):
        KneserNey(["abc"], 0)
    with pytest.raises(ValueError, match="discount"):
        KneserNey(["abc"], 2, discount=1.0)
    with pytest.raises(ValueError, match="non-empty"):
        KneserNey([""], 2)
    with pytest.raises(ValueError, match="empty text"):
        KneserNey(["abc"], 2).bits_per_char("")
