from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnkit.text import Vocab

NEKO = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"


def test_built_from_the_corpus_most_frequent_first() -> None:
    v = Vocab.from_text("abracadabra")
    assert v.chars == ["\ufffd", "a", "b", "r", "c", "d"]
    assert len(v) == 6 and "a" in v and "z" not in v and v.unknown not in v
    assert Vocab.from_text("aab", min_count=2).chars == ["\ufffd", "a"]


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_round_trip_for_in_vocabulary_text(text: str) -> None:
    v = Vocab.from_text(text + "x")
    ids = v.encode(text)
    assert ids.dtype == torch.long and ids.shape == (len(text),)
    assert v.decode(ids) == text  # U+FFFD itself maps to id 0 and back


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(sorted(set(NEKO))), min_size=1, max_size=300))
def test_japanese_round_trip(text: str) -> None:
    v = Vocab.from_text(NEKO)
    assert v.decode(v.encode(text, errors="strict")) == text


def test_unknown_policy() -> None:
    v = Vocab.from_text(NEKO)
    assert v.encode("犬")[0].item() == 0 and v.decode(v.encode("犬は")) == "\ufffdは"
    with pytest.raises(ValueError, match="characters not in the vocabulary: '犬'"):
        v.encode("犬は", errors="strict")
    with pytest.raises(ValueError, match="errors must be"):
        v.encode("a", errors="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"ids must be integers in \[0, "):
        v.decode([10_000])


def test_json_save_load(tmp_path: Path) -> None:
    v = Vocab.from_text(NEKO, unknown="?")
    v.save(tmp_path / "vocab.json")
    back = Vocab.load(tmp_path / "vocab.json")
    assert back == v and back.unknown == "?"
    assert "吾" in (tmp_path / "vocab.json").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: Vocab.from_text(""), "empty text"),
        (lambda: Vocab.from_text("a", min_count=0), "min_count"),
        (lambda: Vocab(["ab"]), "single character"),
        (lambda: Vocab(["a", "a"]), "distinct"),
        (lambda: Vocab(["a"], unknown="??"), "unknown must be a single character"),
        (lambda: Vocab.from_dict({"chars": "abc"}), "not a Vocab dictionary"),
    ],
)
def test_bad_input(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]


def test_unknown_share_and_the_coverage_check() -> None:
    from nnkit.errors import InvalidArgumentError, VocabularyMismatchError
    from nnkit.models import CharRNN
    from nnkit.text import MAX_UNKNOWN, bits_per_char, check_coverage

    vocab = Vocab.from_text("abc")
    assert vocab.unknown_share("") == 0.0
    assert vocab.unknown_share("abcd") == 0.25
    assert vocab.unknown_share("ab\ufffd") == pytest.approx(1 / 3)  # the unknown char itself
    assert MAX_UNKNOWN == 0.05
    text = "abc" * 30 + "xyz" * 3  # 9 of 99 characters unknown: 9.1%
    with pytest.raises(VocabularyMismatchError, match=r"^9\.1% of the text's characters \(9 of 99"
                       r"\) are outside the model's vocabulary of 3 characters"):  # fmt: skip
        check_coverage(vocab, text)
    assert check_coverage(vocab, text, 0.1) == pytest.approx(9 / 99)
    with pytest.raises(InvalidArgumentError, match=r"max_unknown must be a share in \[0, 1\]"):
        check_coverage(vocab, text, 1.5)
    model = CharRNN(len(vocab), hidden_size=8, num_layers=1)
    with pytest.raises(VocabularyMismatchError, match=r"pass max_unknown=1\.0"):
        bits_per_char(model, vocab, text, device="cpu")
    assert bits_per_char(model, vocab, text, device="cpu", max_unknown=1.0) > 0
