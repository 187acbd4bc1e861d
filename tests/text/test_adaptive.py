from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch

from nnkit.errors import InvalidArgumentError
from nnkit.models import CharRNN
from nnkit.text import (
    CountingNgram,
    KneserNey,
    MatchModel,
    NgramMixture,
    OnlineMixer,
    Vocab,
    adaptive_probs,
    bits_per_char,
    char_scores,
    load_file,
    save,
)

TRAIN = "the cat sat on the mat. the dog sat on the log. "
NEW = "a zebra named Zed zigzags; Zed zooms. "


def _distribution(counting: CountingNgram, vocab: Vocab, history: str) -> list[float]:
    return [counting.probs(c, history)[-1] for c in vocab.chars]


def test_before_reading_it_is_the_trained_n_gram_at_every_order() -> None:
    vocab = Vocab.from_text(TRAIN + NEW)
    for n in (1, 2, 4):
        ngram = KneserNey([TRAIN], n)
        mixture = NgramMixture(CharRNN(len(vocab), hidden_size=4), vocab, ngram)
        counting = CountingNgram(ngram, unseen_ids=len(mixture.unseen_ids))
        for i in range(len(NEW)):
            history = NEW[max(0, i - n + 1) : i]
            assert counting.probs(NEW[i], history)[-1] == pytest.approx(
                mixture.ngram_prob(NEW[i], history), rel=1e-12
            )


def test_the_adapting_n_gram_sums_to_one_at_every_step() -> None:
    vocab = Vocab.from_text(TRAIN + NEW)
    ngram = KneserNey([TRAIN], 3)
    unseen = len(NgramMixture(CharRNN(len(vocab), hidden_size=4), vocab, ngram).unseen_ids)
    counting = CountingNgram(ngram, unseen_ids=unseen)
    for i, char in enumerate(NEW * 2):  # characters never seen in training are counted too
        history = (NEW * 2)[max(0, i - 2) : i]
        for k in range(3):
            total = math.fsum(counting.probs(c, history)[k] for c in vocab.chars)
            assert total == pytest.approx(1.0, abs=1e-12), (i, k)
        counting.observe(char, history)


def test_observing_counts_as_training_on_the_text_would() -> None:
    """Reading a piece after the training text gives the counts of training on both."""
    counting = CountingNgram(KneserNey([TRAIN], 3))
    for i, char in enumerate(NEW):
        counting.observe(char, NEW[max(0, i - 2) : i])
    both = KneserNey([TRAIN, NEW], 3)  # two pieces: no n-gram spans TRAIN's end and NEW
    for mine, theirs in (
        (counting.counts, both.counts),
        (counting.totals, both.totals),
        (counting.types, both.types),
    ):
        for a, b in zip(mine, theirs, strict=True):  # contexts with nothing counted aside
            assert {h: v for h, v in a.items() if v} == {h: v for h, v in b.items() if v}
    assert counting.probs("Z", "d ") != CountingNgram(KneserNey([TRAIN], 3)).probs("Z", "d ")


def test_the_mixer_step_is_the_gradient_of_the_code_length() -> None:
    probs = [0.3, 0.05, 0.6]
    mixer = OnlineMixer(experts=3, selectors=2, lr=0.25, prior=[0.2, 0.3, 0.5])
    z = torch.tensor(mixer.z[1], dtype=torch.float64, requires_grad=True)
    loss = -torch.log((torch.softmax(z, 0) * torch.tensor(probs, dtype=torch.float64)).sum())
    loss.backward()  # type: ignore[no-untyped-call]
    loss = loss.detach()
    mixed = mixer.mix(1, probs)
    assert mixed == pytest.approx(math.exp(-loss.item()), rel=1e-12)
    expected = (z - 0.25 * z.grad).tolist()  # type: ignore[operator]
    assert mixer.z[1] == pytest.approx(expected, rel=1e-12)
    assert mixer.z[0] == pytest.approx([math.log(w) for w in (0.2, 0.3, 0.5)])  # untouched


def test_each_probability_is_a_prediction_made_before_its_character() -> None:
    vocab = Vocab.from_text(TRAIN + NEW)
    torch.manual_seed(0)
    model = CharRNN(len(vocab), hidden_size=8, num_layers=1)
    text = NEW * 4
    ngram = KneserNey([TRAIN], 3)
    scores = char_scores(model, vocab, text, batch_size=2, seq_len=16, device="cpu")
    probs = adaptive_probs(text, scores, ngram, unseen_ids=5)
    # the streams are read side by side, one column at a time: change column 5 of the second
    # stream, and nothing read before it changes (earlier columns, and column 5 of the first
    # stream); the changed character's own probability and some read after it do change
    length = len(text) // 2
    where = length + 5
    changed_text = text[:where] + "Q" + text[where + 1 :]
    changed = adaptive_probs(changed_text, scores, ngram, unseen_ids=5)
    before = [(p % length, p // length) < (5, 1) for p in scores.positions.tolist()]
    after = [(p % length, p // length) > (5, 1) for p in scores.positions.tolist()]
    j = scores.positions.tolist().index(where)
    assert sum(before) > 5 and torch.equal(changed[before], probs[before])
    assert changed[j] != probs[j] and not torch.equal(changed[after], probs[after])


def test_adapting_learns_a_text_s_new_words_and_changes_nothing(tmp_path: Path) -> None:
    vocab = Vocab.from_text(TRAIN + NEW)
    torch.manual_seed(0)
    model = CharRNN(len(vocab), hidden_size=8, num_layers=1)
    mixture = NgramMixture(model, vocab, KneserNey([TRAIN], 3), weight=0.3)
    path = tmp_path / "mixed.pt"
    save(path, mixture, vocab)
    saved = path.read_bytes()
    weights = copy.deepcopy(model.state_dict())
    counts = copy.deepcopy(mixture.ngram.counts)
    text = NEW * 6
    static = bits_per_char(mixture, vocab, text, device="cpu", batch_size=2)
    adapted = bits_per_char(mixture, vocab, text, device="cpu", batch_size=2, adapt=True)
    both = bits_per_char(mixture, vocab, text, device="cpu", batch_size=2, adapt=True, dynamic=True)
    assert adapted < static - 1.0 and both < static - 1.0  # the zebra's words are learnt
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    assert mixture.ngram.counts == counts and mixture.weight == 0.3
    assert path.read_bytes() == saved
    again = load_file(path).mixture
    assert again is not None
    assert bits_per_char(again, vocab, text, device="cpu", batch_size=2, adapt=True) == adapted


def test_bad_arguments() -> None:
    vocab = Vocab.from_text(TRAIN)
    model = CharRNN(len(vocab), hidden_size=4)
    mixture = NgramMixture(model, vocab, KneserNey([TRAIN], 2))
    with pytest.raises(InvalidArgumentError, match="adapt needs a mixture with the n-gram"):
        bits_per_char(model, vocab, TRAIN, adapt=True, device="cpu")
    with pytest.raises(ValueError, match="adapt_lr"):
        bits_per_char(mixture, vocab, TRAIN, adapt=True, adapt_lr=0.0, device="cpu")
    with pytest.raises(TypeError, match="adapt must be"):
        bits_per_char(mixture, vocab, TRAIN, adapt="yes", device="cpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prior must hold 2 positive weights, got"):
        OnlineMixer(experts=2, selectors=1, prior=[1.0, 0.0])
    with pytest.raises(ValueError, match="selectors must be a positive integer, got 0"):
        OnlineMixer(experts=2, selectors=0)
    with pytest.raises(ValueError, match="ngram must be a KneserNey model, got str"):
        CountingNgram("abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unseen_ids must be a positive integer, got 0"):
        CountingNgram(KneserNey([TRAIN], 2), unseen_ids=0)


def test_the_match_model_predicts_what_followed_and_learns_its_hit_rate() -> None:
    vocab = Vocab.from_text(TRAIN + NEW)
    match = MatchModel([TRAIN], vocab, min_len=4)
    text = "so the dog sat"
    # " the dog " was followed by "s" in training (and preceded by "." there, "o" here)
    assert match.predict(text, 11, 0) == ("s", 9)
    assert match.predict(text, 3, 0) == (None, 0)  # fewer than min_len characters read
    assert match.predict("zzzzzz", 5, 0) == (None, 0)  # a context never seen
    for char in ("s", "x"):  # a distribution over the vocabulary's ids either way
        total = math.fsum(match.prob(c, char, 6) for c in vocab.chars)
        assert total == pytest.approx(1.0, abs=1e-12)
    before = match.prob("s", "s", 9)
    for _ in range(20):
        match.observe(text, 11, 0, "s", 9)  # right every time: trusted more
    assert match.prob("s", "s", 9) > before
    # what was read becomes a source: after reading "qrst uvw" once, "qrst" predicts " "
    read = "qrst uvw qrst"
    for p in range(len(read)):
        found = match.predict(read, p, 0)
        match.observe(read, p, 0, *found)
    assert match.predict(read + " ", 13, 0) == (" ", 4)


def test_with_a_match_model_each_probability_still_comes_before_its_character() -> None:
    vocab = Vocab.from_text(TRAIN + NEW + "Q")
    torch.manual_seed(0)
    model = CharRNN(len(vocab), hidden_size=8, num_layers=1)
    text = NEW * 4
    ngram = KneserNey([TRAIN], 3)
    scores = char_scores(model, vocab, text, batch_size=2, seq_len=16, device="cpu")
    kwargs = {"unseen_ids": 5, "vocab": vocab, "match_len": 3}
    probs = adaptive_probs(text, scores, ngram, **kwargs)  # type: ignore[arg-type]
    static = adaptive_probs(text, scores, ngram, unseen_ids=5)
    assert not torch.equal(probs, static)  # the match model takes part
    length = len(text) // 2
    where = length + 5
    changed = adaptive_probs(text[:where] + "Q" + text[where + 1 :], scores, ngram, **kwargs)  # type: ignore[arg-type]
    before = [(p % length, p // length) < (5, 1) for p in scores.positions.tolist()]
    assert torch.equal(changed[before], probs[before])
