from __future__ import annotations

import copy

import pytest
import torch

from nnkit.models import CharRNN
from nnkit.text import Vocab, bits_per_char, char_scores, dynamic, gradient_stats
from nnkit.text.dynamic import DynamicStep

TEXT = "the cat sat on the mat. the dog sat on the log. " * 8


def _model(vocab: Vocab) -> CharRNN:
    torch.manual_seed(0)
    return CharRNN(len(vocab), hidden_size=16, num_layers=1, embedding_dim=8)


def test_gradient_stats_are_the_mean_squared_segment_gradients() -> None:
    vocab = Vocab.from_text(TEXT)
    model = _model(vocab)
    before = copy.deepcopy(model.state_dict())
    stats = gradient_stats(model, vocab, TEXT, segment_len=16, batch_size=2, device="cpu")
    assert set(stats) == {n for n, _ in model.named_parameters()}
    # by hand: the same streams, one backward per segment, squares averaged
    ids = vocab.encode(TEXT)
    length = ids.numel() // 2
    streams = ids[: 2 * length].view(2, length)
    total = torch.zeros_like(model.head.weight)
    count, state = 0, None
    model.eval()
    for t in range(0, length - 1, 16):
        end = min(t + 16, length - 1)
        model.zero_grad()
        out, state = model(streams[:, t:end], state=state)
        loss = torch.nn.functional.cross_entropy(
            out.flatten(0, 1), streams[:, t + 1 : end + 1].flatten()
        )
        loss.backward()  # type: ignore[no-untyped-call]
        state = state.detach()
        total += model.head.weight.grad**2  # type: ignore[operator]
        count += 1
    torch.testing.assert_close(stats["head.weight"], total / count)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_the_step_is_the_published_rule_in_float64() -> None:
    net = torch.nn.Linear(3, 2).double()
    start = copy.deepcopy(net.state_dict())
    stats = {"weight": torch.rand(2, 3, dtype=torch.float64) + 0.1,
             "bias": torch.rand(2, dtype=torch.float64) + 0.1}  # fmt: skip
    step = DynamicStep(net, lr=0.01, decay=0.2, stats=stats)
    net(torch.randn(4, 3, dtype=torch.float64)).square().sum().backward()  # type: ignore[no-untyped-call]
    grads = {n: p.grad.clone() for n, p in net.named_parameters()}  # type: ignore[union-attr]
    with torch.no_grad():  # move the weights away from the start, so the decay shows
        for p in net.parameters():
            p.add_(0.5)
    moved = {n: p.detach().clone() for n, p in net.named_parameters()}
    step.step()
    mean_rms = torch.cat([s.sqrt().flatten() for s in stats.values()]).mean()
    for name, p in net.named_parameters():
        rms = stats[name].sqrt()
        after_step = moved[name] - 0.01 * grads[name] / (rms + dynamic._EPS)
        rate = (0.2 * rms / mean_rms).clamp(max=1.0)
        expected = after_step + rate * (start[name] - after_step)
        torch.testing.assert_close(p.detach(), expected, atol=1e-12, rtol=1e-12)


def test_a_full_decay_undoes_every_step() -> None:
    """With decay 1 (and no statistics, so the same rate for every weight) the weights return
    to the trained ones after each step: the scores are the static scores of the same
    reading."""
    vocab = Vocab.from_text(TEXT)
    model = _model(vocab)
    reset = char_scores(
        model, vocab, TEXT, dynamic=True, dynamic_decay=1.0, segment_len=16, device="cpu"
    )
    static = char_scores(model, vocab, TEXT, seq_len=16, device="cpu")
    torch.testing.assert_close(reset.logp, static.logp, atol=1e-5, rtol=1e-5)


def test_each_part_learns_and_the_model_is_unchanged() -> None:
    vocab = Vocab.from_text(TEXT)
    model = _model(vocab)
    before = copy.deepcopy(model.state_dict())
    stats = gradient_stats(model, vocab, TEXT, device="cpu")
    static = bits_per_char(model, vocab, TEXT, device="cpu")
    for kwargs in (
        {},
        {"dynamic_decay": 0.01},
        {"dynamic_stats": stats, "dynamic_lr": 1e-3},
        {"dynamic_stats": stats, "dynamic_lr": 1e-3, "dynamic_decay": 0.01},
    ):
        assert bits_per_char(model, vocab, TEXT, device="cpu", dynamic=True, **kwargs) < static
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_bad_arguments() -> None:
    vocab = Vocab.from_text(TEXT)
    model = _model(vocab)
    with pytest.raises(ValueError, match=r"dynamic_decay must be in \[0, 1\]"):
        bits_per_char(model, vocab, TEXT, dynamic=True, dynamic_decay=-0.1, device="cpu")
    with pytest.raises(ValueError, match="dynamic_stats must be a dict from gradient_stats"):
        bits_per_char(model, vocab, TEXT, dynamic=True, dynamic_stats=[1], device="cpu")  # type: ignore[arg-type]
    stats = gradient_stats(model, vocab, TEXT, device="cpu")
    del stats["head.bias"]
    with pytest.raises(ValueError, match=r"dynamic_stats must hold .* lacks head\.bias"):
        bits_per_char(model, vocab, TEXT, dynamic=True, dynamic_stats=stats, device="cpu")
    with pytest.raises(ValueError, match="max_chars must be a positive integer"):
        gradient_stats(model, vocab, TEXT, max_chars=0, device="cpu")
