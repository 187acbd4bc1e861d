from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from nnkit.errors import InvalidArgumentError
from nnkit.models import CharTransformer
from nnkit.models.char_transformer import parameter_count


def _small(**kwargs: object) -> CharTransformer:
    torch.manual_seed(0)
    settings: dict[str, object] = {"d_model": 32, "num_layers": 2, "num_heads": 2, "context": 8}
    settings.update(kwargs)
    return CharTransformer(20, **settings).eval()  # type: ignore[arg-type]


def test_a_text_read_in_pieces_scores_as_read_at_once() -> None:
    model = _small(context=64)
    ids = torch.randint(0, 20, (3, 30))
    whole, state = model(ids)
    assert whole.shape == (3, 30, 20) and state[0] == 30
    for cut in ((1, 29), (7, 8, 15), (29, 1)):
        parts, carried = [], None
        for piece in torch.split(ids, list(cut), dim=1):
            out, carried = model(piece, carried)
            parts.append(out)
        torch.testing.assert_close(torch.cat(parts, dim=1), whole, atol=1e-5, rtol=1e-5)


def test_each_position_sees_exactly_its_last_context_positions() -> None:
    model = _small(context=4, num_layers=1)
    ids = torch.randint(0, 20, (1, 12))
    logits, _ = model(ids)
    for t in range(12):
        # the same position predicted from only its window, as a fresh text, with the rotary
        # positions shifted: relative positions are all that matter
        window = ids[:, max(0, t - 3) : t + 1]
        alone, _ = model(window)
        torch.testing.assert_close(alone[:, -1], logits[:, t], atol=1e-5, rtol=1e-5)
    # with L layers a position sees L * (context - 1) positions back: a change at position 2
    # reaches positions 2..8 of a 2-layer model and nothing after
    model = _small(context=4, num_layers=2)
    logits, _ = model(ids)
    changed = ids.clone()
    changed[0, 2] = (changed[0, 2] + 1) % 20
    after, _ = model(changed)
    torch.testing.assert_close(after[:, 9:], logits[:, 9:])
    torch.testing.assert_close(after[:, :2], logits[:, :2])
    assert not torch.isclose(after[0, 8], logits[0, 8]).all()


def test_matches_attention_written_out_in_float64() -> None:
    """One block by hand: layer norm, rotary q and k, causal softmax(q k^T / sqrt(E)) v."""
    model = _small(num_layers=1, context=16).double()
    ids = torch.randint(0, 20, (2, 6))
    block = model.blocks[0]
    x = model.embedding(ids)
    b, t, d = x.shape
    h, e = 2, d // 2
    q, k, v = block.qkv(block.ln1(x)).view(b, t, 3, h, e).unbind(2)
    angles = torch.arange(t, dtype=torch.float64)[:, None] * model.inv_freq.double()[None, :]

    def rotate(z: torch.Tensor) -> torch.Tensor:
        z = z.transpose(1, 2)
        a, c = z[..., : e // 2], z[..., e // 2 :]
        cos, sin = angles.cos(), angles.sin()
        return torch.cat((a * cos - c * sin, a * sin + c * cos), -1)

    q, k, v = rotate(q), rotate(k), v.transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(e)
    scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
    y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
    x = x + block.proj(y)
    x = x + block.mlp(block.ln2(x))
    expected = F.linear(model.ln_f(x), model.embedding.weight, model.head.bias)
    logits, _ = model(ids)
    torch.testing.assert_close(logits, expected, atol=1e-10, rtol=1e-10)


def test_the_output_layer_is_tied_to_the_embedding() -> None:
    tied, untied = _small(), _small(tie_weights=False)
    assert tied.head.weight is tied.embedding.weight
    assert untied.head.weight is not untied.embedding.weight
    for model, tie in ((tied, True), (untied, False)):
        count = parameter_count(20, d_model=32, num_layers=2, tie_weights=tie)
        assert count == sum(p.numel() for p in model.parameters())
    assert (
        sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in tied.parameters())
        == 20 * 32
    )


def test_config_rebuilds_the_same_model() -> None:
    model = _small(dropout=0.2)
    again = CharTransformer(**model.config())  # type: ignore[arg-type]
    assert again.config() == model.config()
    again.load_state_dict(model.state_dict())
    ids = torch.randint(0, 20, (2, 5))
    torch.testing.assert_close(again.eval()(ids)[0], model(ids)[0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"d_model": 0}, r"CharTransformer d_model must be an integer in \[1, 16384\], got 0"),
        ({"num_layers": 2.0}, r"num_layers must be an integer .* got 2.0"),
        ({"context": True}, r"context must be an integer .* got True"),
        ({"d_model": 30, "num_heads": 4}, "d_model must be num_heads times an even head size"),
        ({"d_model": 24, "num_heads": 8}, "num_heads times an even head size, got d_model=24"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"tie_weights": 1}, "tie_weights must be True or False, got 1"),
        ({"d_model": 96, "num_heads": None}, "num_heads defaults to d_model / 64, .* d_model=96"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    settings: dict[str, object] = {"d_model": 32, "num_heads": 2}
    settings.update(kwargs)
    with pytest.raises(InvalidArgumentError, match=match):
        CharTransformer(20, **settings)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="vocab_size must be an integer"):
        CharTransformer(0)


def test_the_defaults_are_the_measured_model_with_heads_of_64_channels() -> None:
    model = CharTransformer(50)
    assert {k: model.config()[k] for k in ("d_model", "num_layers", "num_heads", "context")} == {
        "d_model": 192,
        "num_layers": 3,
        "num_heads": 3,
        "context": 128,
    }
    assert sum(p.numel() for p in model.parameters()) == parameter_count(50)
    assert CharTransformer(50, d_model=128).num_heads == 2


def test_bad_input_and_state_are_named() -> None:
    model = _small()
    with pytest.raises(InvalidArgumentError, match=r"expects int64 ids of shape \(B, T\), got "):
        model(torch.zeros(2, 3))
    with pytest.raises(InvalidArgumentError, match="expects int64 ids"):
        model(torch.zeros(3, dtype=torch.long))
    _, state = model(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(InvalidArgumentError, match="state must be what the previous call returned"):
        model(torch.zeros(3, 2, dtype=torch.long), state)  # another batch size
    with pytest.raises(InvalidArgumentError, match="got tuple of int, str"):
        model(torch.zeros(2, 2, dtype=torch.long), (1, "x"))


def test_a_model_that_does_not_fit_in_memory_is_refused_before_allocating() -> None:
    with pytest.raises(ValueError, match="use a smaller d_model or num_layers"):
        CharTransformer(0x110000, d_model=16384, num_layers=128, num_heads=256)


def test_far_into_a_text_the_model_predicts_as_at_its_start() -> None:
    """Rotary positions encode distances only, computed in float64: position 10^7 is as exact
    as position 0."""
    model = _small()
    ids = torch.randint(0, 20, (2, 6))
    start, _ = model(ids)
    empty = tuple((torch.zeros(2, 2, 0, 16), torch.zeros(2, 2, 0, 16)) for _ in range(2))
    far, state = model(ids, (10**7, empty))
    torch.testing.assert_close(far, start, atol=1e-5, rtol=1e-5)
    assert state[0] == 10**7 + 6
