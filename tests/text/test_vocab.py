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
