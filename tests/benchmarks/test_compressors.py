"""``benchmarks/_compressors.py``: compressors scored as language models on a split."""

from __future__ import annotations

import random

import pytest
from benchmarks._compressors import compressor_scores, lzma_bpc, ppmd_bpc, zpaq_bpc


def _text(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("abcdefghijklmnop") for _ in range(n))  # 4 bits a character


def test_a_validation_text_seen_in_training_costs_almost_nothing() -> None:
    pytest.importorskip("pyppmd")
    pytest.importorskip("zpaq")
    train = _text(6000)
    repeated, fresh = train[:2000], _text(2000, seed=1)
    for score in (lambda t, v: ppmd_bpc(t, v, 8), zpaq_bpc, lzma_bpc):
        # a copy of training text is nearly free; new random text costs its 4 bits or more
        assert 0 <= score(train, repeated) < 0.5 and 3.9 < score(train, fresh) < 5.5
    # per character, not per byte: a Japanese character is three UTF-8 bytes
    japanese = "吾輩は猫である。名前はまだ無い。" * 50
    assert ppmd_bpc("", japanese, 4) < 1.0


def test_compressor_scores_reports_the_best_ppmd_order() -> None:
    pytest.importorskip("pyppmd")
    pytest.importorskip("zpaq")
    scores = compressor_scores([_text(2000)], [_text(400, seed=2)])
    assert set(scores) == {"ppmd", "zpaq", "xz"}
    assert scores["ppmd"]["order"] in (4, 6, 8, 10, 12, 16)
    values = [s["bpc"] for s in scores.values()]
    assert all(isinstance(v, float) and 0 < v < 24 for v in values)
