from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from nnkit.checkpoint import load_checkpoint, save_checkpoint
from nnkit.errors import CheckpointError
from nnkit.models import CharRNN
from nnkit.text import (
    ContextGate,
    CorpusInfo,
    KneserNey,
    NgramMixture,
    Vocab,
    bits_per_char,
    char_scores,
    fit_mixture,
    generate,
    load,
    load_file,
    mix_ngram,
    save,
    split_text,
    train,
)

# fmt: off
WORDS = ("the", "cat", "dog", "sat", "ran", "on", "under", "a", "mat", "log", "big", "small",
         "red", "and", "then")
# fmt: on


def toy_corpus(chars: int = 6000, seed: int = 0) -> str:
    """Random sentences over a small vocabulary: structure for both models to find."""
    rng = random.Random(seed)
    out: list[str] = []
    while sum(map(len, out)) < chars:
        out.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) + ". ")
    return "".join(out)


@pytest.fixture(scope="module")
def toy() -> tuple[CharRNN, Vocab, KneserNey, str]:
    """A small GRU and a 3-gram, both trained on the training split of the toy corpus (they
    score about the same on it), and the validation text (the X gives the vocabulary a
    character the n-gram never saw)."""
    text = toy_corpus() + "X"
    vocab = Vocab.from_text(text)
    train_pieces, val_pieces = split_text(text, 0.1, mode="tail")
    torch.manual_seed(0)
    model = CharRNN(len(vocab), hidden_size=32, num_layers=1, embedding_dim=8, dropout=0.0)
    train(model, text, vocab=vocab, epochs=10, seq_len=32, batch_size=8, split="tail",
          device="cpu", progress=False, seed=0)  # fmt: skip
    return model, vocab, KneserNey(train_pieces, 3), "".join(val_pieces)


def test_ngram_distribution_sums_to_one_and_matches_its_probabilities(
    toy: tuple[CharRNN, Vocab, KneserNey, str],
) -> None:
    model, vocab, ngram, _ = toy
    assert "X" in vocab and "X" not in ngram.chars
    mixture = NgramMixture(model, vocab, ngram, weight=0.3)
    assert mixture.unseen_ids.tolist() == [0, vocab.stoi["X"]]
    for history in ("", "t", "the c", "qqq", "X", "on a "):
        probs = mixture.ngram_probs(history)
        assert probs.shape == (len(vocab),)
        assert float(probs.sum()) == pytest.approx(1.0, abs=1e-12)
        by_char = [mixture.ngram_prob(c, history) for c in vocab.chars]
        torch.testing.assert_close(probs, torch.tensor(by_char, dtype=torch.float64))
    # the unseen ids share the n-gram's one slot for unseen characters
    assert mixture.ngram_prob("X", "the") == pytest.approx(ngram.prob("X", "the") / 2)
    logits = torch.randn(len(vocab))
    mixed = mixture.probs(logits, "the c")
    assert float(mixed.sum()) == pytest.approx(1.0, abs=1e-12)
    expected = 0.3 * torch.softmax(logits.double(), -1) + 0.7 * mixture.ngram_probs("the c")
    torch.testing.assert_close(mixed, expected)


def test_a_fitted_mixture_is_never_worse_than_either_part(
    toy: tuple[CharRNN, Vocab, KneserNey, str],
) -> None:
    model, vocab, ngram, val = toy
    gated = fit_mixture(model, vocab, ngram, val, device="cpu")
    fixed = fit_mixture(model, vocab, ngram, val, gate=False, device="cpu")
    assert fixed.gate is None and 0.0 < fixed.weight < 1.0 and fixed.weight == gated.weight
    scores = char_scores(model, vocab, val, device="cpu")
    p_neural, p_ngram, _ = fixed.parts(val, scores)
    neural = float(-torch.log2(p_neural).mean())
    ngram_part = float(-torch.log2(p_ngram).mean())
    mixed_fixed = bits_per_char(fixed, vocab, val, device="cpu")
    mixed_gated = bits_per_char(gated, vocab, val, device="cpu")
    assert neural == pytest.approx(bits_per_char(model, vocab, val, device="cpu"), abs=1e-5)
    assert mixed_fixed < min(neural, ngram_part) - 0.005  # different errors: a real gain
    assert mixed_gated <= mixed_fixed + 1e-9
    # EM found the maximum of the likelihood: no weight on a fine grid does better
    grid = torch.linspace(0, 1, 1001, dtype=torch.float64).unsqueeze(1)
    best = float((-torch.log2(grid * p_neural + (1 - grid) * p_ngram).mean(1)).min())
    assert mixed_fixed == pytest.approx(best, abs=1e-6)


def test_the_end_weights_are_the_parts(toy: tuple[CharRNN, Vocab, KneserNey, str]) -> None:
    model, vocab, ngram, val = toy
    scores = char_scores(model, vocab, val, device="cpu")
    only_ngram = NgramMixture(model, vocab, ngram, weight=0.0)
    _, p_ngram, _ = only_ngram.parts(val, scores)
    assert bits_per_char(only_ngram, vocab, val, device="cpu") == pytest.approx(
        float(-torch.log2(p_ngram).mean()), abs=1e-12
    )
    only_neural = NgramMixture(model, vocab, ngram, weight=1.0)
    assert bits_per_char(only_neural, vocab, val, device="cpu") == pytest.approx(
        scores.bits_per_char, abs=1e-9
    )


def test_the_context_gate_is_the_logistic_formula() -> None:
    gate = ContextGate(bias=-1.0, context=0.25, entropy=-0.5)
    counts, entropy = torch.tensor([0.0, 3.0, 1023.0]), torch.tensor([1.0, 2.0, 0.5])
    expected = [1 / (1 + torch.e ** -(-1.0 + 0.25 * c.log2() - 0.5 * h)) for c, h in zip(
        counts + 1, entropy, strict=True)]  # fmt: skip
    torch.testing.assert_close(gate.weight(counts, entropy), torch.stack(expected))
    assert str(gate) == "context gate (bias -1.000, context 0.250, entropy -0.500)"


def test_bad_arguments(toy: tuple[CharRNN, Vocab, KneserNey, str]) -> None:
    model, vocab, ngram, val = toy
    for weight in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"mixture weight must be in \[0, 1\], got"):
            NgramMixture(model, vocab, ngram, weight=weight)
    with pytest.raises(ValueError, match="mixture weight must be a number, got nan"):
        NgramMixture(model, vocab, ngram, weight=float("nan"))
    with pytest.raises(ValueError, match="the vocabulary lacks"):
        NgramMixture(model, vocab, KneserNey(["the cat sat ZQ"], 2))
    small = Vocab.from_text("the cat")
    with pytest.raises(ValueError, match=f"predicts {len(vocab)} characters but the vocabulary"):
        NgramMixture(model, small, ngram)
    with pytest.raises(TypeError, match="ngram must be a KneserNey"):
        NgramMixture(model, vocab, "3-gram")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="gate must be a ContextGate"):
        NgramMixture(model, vocab, ngram, gate=(0.0, 1.0, 0.0))  # type: ignore[arg-type]
    mixture = NgramMixture(model, vocab, ngram)
    other = Vocab(list(reversed(vocab.chars[1:])))
    with pytest.raises(ValueError, match="not the mixture's"):
        bits_per_char(mixture, other, val)
    with pytest.raises(ValueError, match="not the mixture's"):
        generate(mixture, other, "t")
    with pytest.raises(ValueError, match="1 characters are too few"):
        fit_mixture(model, vocab, ngram, "t")
    with pytest.raises(ValueError, match="dynamic_lr must be positive"):
        bits_per_char(model, vocab, val, dynamic=True, dynamic_lr=0.0)
    with pytest.raises(ValueError, match="segment_len must be a positive integer"):
        bits_per_char(model, vocab, val, dynamic=True, segment_len=0)


def test_generation_samples_from_the_mixture(toy: tuple[CharRNN, Vocab, KneserNey, str]) -> None:
    model, vocab, ngram, _ = toy
    mixture = NgramMixture(model, vocab, ngram, weight=0.5)
    a = generate(mixture, vocab, "the ", 60, seed=1)
    assert a == generate(mixture, vocab, "the ", 60, seed=1) and a.startswith("the ")
    assert len(a) == 64 and set(a) <= set(vocab.chars)
    # with all the weight on the n-gram, greedy generation follows the n-gram's argmax
    only_ngram = NgramMixture(model, vocab, ngram, weight=0.0)
    text = generate(only_ngram, vocab, "the ", 5, temperature=0)
    for i in range(4, 9):
        probs = only_ngram.ngram_probs(text[:i])
        assert vocab.chars[int(probs.argmax())] == text[i]


def test_dynamic_evaluation_learns_and_leaves_the_model_unchanged(
    toy: tuple[CharRNN, Vocab, KneserNey, str],
) -> None:
    model, vocab, _, _ = toy
    text = "the cat sat on the mat. " * 30  # one sentence again and again: learnt while read
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    static = bits_per_char(model, vocab, text, device="cpu")
    dynamic = bits_per_char(model, vocab, text, device="cpu", dynamic=True, dynamic_lr=3e-3)
    assert dynamic < static - 0.03
    assert model.training  # mode restored
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    # the first segment of every stream is scored before any update
    seg = char_scores(model, vocab, text, device="cpu", dynamic=True, segment_len=16)
    plain = char_scores(model, vocab, text, device="cpu", seq_len=16)
    length = len(text) // 8
    first = (seg.positions % length) <= 16
    torch.testing.assert_close(seg.logp[first], plain.logp[first])
    assert not torch.allclose(seg.logp[~first], plain.logp[~first])


def test_save_and_load_a_mixture(
    toy: tuple[CharRNN, Vocab, KneserNey, str], tmp_path: Path
) -> None:
    model, vocab, ngram, val = toy
    mixture = fit_mixture(model, vocab, ngram, val, device="cpu")
    assert mixture.gate is not None
    corpus = CorpusInfo.from_text("whatever was trained on", split="tail")
    save(tmp_path / "m.pt", mixture, vocab, corpus=corpus)
    saved = load_file(tmp_path / "m.pt")
    assert saved.mixture is not None and saved.corpus == corpus
    assert saved.mixture.gate == mixture.gate and saved.mixture.weight == mixture.weight
    assert saved.mixture.ngram.n == 3 and saved.mixture.ngram.counts == ngram.counts
    assert bits_per_char(saved.mixture, vocab, val) == bits_per_char(mixture, vocab, val)
    plain, back_vocab = load(tmp_path / "m.pt")  # the neural part alone
    assert isinstance(plain, CharRNN) and back_vocab == vocab
    assert load_file(tmp_path / "m.pt", mixture=False).mixture is None
    with pytest.raises(ValueError, match="not the mixture's"):
        save(tmp_path / "n.pt", mixture, Vocab.from_text("abc"))


def test_a_damaged_mixture_is_refused(
    toy: tuple[CharRNN, Vocab, KneserNey, str], tmp_path: Path
) -> None:
    model, vocab, ngram, _ = toy
    save(tmp_path / "m.pt", NgramMixture(model, vocab, ngram, weight=0.4), vocab)
    state = load_checkpoint(tmp_path / "m.pt")
    damage = (
        ("weight", 2.0),
        ("pieces", [1, 2]),
        ("n", 0),
        ("gate", [1.0]),
        ("gate", [1.0, float("inf"), 0.0]),
    )
    for key, value in damage:
        broken = {**state, "mixture": {**state["mixture"], key: value}}
        save_checkpoint(tmp_path / "bad.pt", broken)
        with pytest.raises(CheckpointError, match=r"bad\.pt: its mixture or corpus is damaged"):
            load_file(tmp_path / "bad.pt")


def test_mix_ngram_splits_as_train_did() -> None:
    text = toy_corpus(3000, seed=1)
    vocab = Vocab.from_text(text)
    model = CharRNN(len(vocab), hidden_size=8, num_layers=1)
    mixture = mix_ngram(model, vocab, text, orders=[1, 2, 3], device="cpu")
    train_pieces, _ = split_text(text, 0.1)
    assert mixture.ngram.pieces == train_pieces and mixture.ngram.n in (1, 2, 3)
    assert mixture.weight < 0.2  # the untrained model earns little weight
    with pytest.raises(ValueError, match="split must be one of"):
        mix_ngram(model, vocab, text, split="random")  # type: ignore[arg-type]


def test_corpus_info() -> None:
    text = toy_corpus(2000)
    info = CorpusInfo.from_text(text)
    assert info.matches(text) and not info.matches(text + " ")
    assert info.validation_text(text) == "".join(split_text(text, 0.1)[1])
    assert CorpusInfo.from_dict(info.to_dict()) == info
    with pytest.raises(ValueError, match="not a corpus description"):
        CorpusInfo.from_dict({"sha256": "x"})
    with pytest.raises(ValueError, match=r"val_fraction must be in \(0, 1\)"):
        CorpusInfo.from_text(text, val_fraction=1.0)


def test_context_count() -> None:
    ngram = KneserNey(["abcabd"], 3)
    assert ngram.context_count("xab") == 2 and ngram.context_count("zz") == 0
    assert ngram.context_count("b") == 2  # a history shorter than n - 1: "bc" and "bd", once each
