from __future__ import annotations

import pytest
import torch

from nnkit.errors import InvalidArgumentError
from nnkit.models import CharRNN, NotesRNN
from nnkit.models.char_rnn import parameter_count


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn", "seed"])
def test_shapes_and_state_carry(cell: str) -> None:
    torch.manual_seed(0)
    model = CharRNN(30, cell=cell, hidden_size=16, num_layers=2, embedding_dim=8).eval()  # type: ignore[arg-type]
    ids = torch.randint(0, 30, (3, 12))
    logits, _ = model(ids)
    assert logits.shape == (3, 12, 30)
    # running in two halves with the carried state gives the same logits as one pass
    first, mid = model(ids[:, :5])
    second, _ = model(ids[:, 5:], mid)
    torch.testing.assert_close(torch.cat([first, second], 1), logits, rtol=1e-5, atol=1e-6)


def test_seed_cell_has_the_notes_parameters_and_function() -> None:
    model = CharRNN(58, cell="seed", hidden_size=128).double()
    shapes = [(n, tuple(p.shape)) for n, p in model.named_parameters()]
    assert shapes == [
        ("seed_cell.i2h.weight", (128, 186)),
        ("seed_cell.i2h.bias", (128,)),
        ("seed_cell.i2o.weight", (58, 186)),
        ("seed_cell.i2o.bias", (58,)),
    ]
    notes = NotesRNN(58, 128, 58).double()
    notes.load_state_dict({k.removeprefix("seed_cell."): v for k, v in model.state_dict().items()})
    assert [tuple(p.shape) for p in notes.parameters()] == [s for _, s in shapes]
    ids = torch.randint(0, 58, (2, 9))
    log_probs, hidden = model(ids)
    h = torch.zeros(2, 128, dtype=torch.float64)
    outs = []
    for t in range(9):
        out, h = notes(torch.nn.functional.one_hot(ids[:, t], 58).double(), h)
        outs.append(out)
    torch.testing.assert_close(log_probs, torch.stack(outs, 1), rtol=0, atol=1e-12)
    torch.testing.assert_close(hidden, h, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell": "transformer"}, "cell must be one of gru, lstm, rnn, seed"),
        ({"hidden_size": 0}, r"hidden_size must be an integer in \[1, 65536\], got 0"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CharRNN(10, **kwargs)  # type: ignore[arg-type]


def test_bad_input() -> None:
    with pytest.raises(
        ValueError, match=r"int64 ids of shape \(B, T\), got torch.float32 \(2, 3\)"
    ):
        CharRNN(10, hidden_size=4)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"state must be one tensor of shape \(1, 4\).*got tuple"):
        CharRNN(10, cell="seed", hidden_size=4)(
            torch.zeros(1, 2, dtype=torch.long), (torch.zeros(1), torch.zeros(1))
        )


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_layer_stack_is_pytorchs_multilayer_cell(cell: str) -> None:
    # one module per layer (for locked dropout) computes what one multi-layer module does
    torch.manual_seed(0)
    model = CharRNN(20, cell=cell, hidden_size=12, num_layers=3, embedding_dim=6).double().eval()  # type: ignore[arg-type]
    stacked = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM, "rnn": torch.nn.RNN}[cell](
        6, 12, 3, batch_first=True
    ).double()
    stacked.load_state_dict(
        {
            f"{name[:-1]}{i}": value
            for i, layer in enumerate(model.layers)
            for name, value in layer.state_dict().items()
        }
    )
    ids = torch.randint(0, 20, (4, 7))
    state = torch.randn(3, 4, 12, dtype=torch.float64)
    start = (state, torch.randn_like(state)) if cell == "lstm" else state
    logits, new_state = model(ids, start)
    out, expected_state = stacked(model.embedding(ids), start)
    torch.testing.assert_close(logits, model.head(out), rtol=0, atol=1e-12)
    flat = new_state if isinstance(new_state, tuple) else (new_state,)
    expected = expected_state if isinstance(expected_state, tuple) else (expected_state,)
    for got, want in zip(flat, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_dropout_is_locked_over_time() -> None:
    torch.manual_seed(0)
    model = CharRNN(10, hidden_size=256, dropout=0.3).train()
    dropped = model._locked_dropout(torch.ones(64, 50, 256))
    # one mask per sequence and unit, the same at all 50 time steps
    torch.testing.assert_close(dropped, dropped[:, :1].expand_as(dropped), rtol=0, atol=0)
    kept = dropped[:, 0] != 0
    assert dropped.unique().tolist() == pytest.approx([0.0, 1 / 0.7])
    assert abs(kept.double().mean().item() - 0.7) < 0.02  # 16,384 draws: sd 0.0036
    assert torch.equal(model.eval()._locked_dropout(torch.ones(2, 3, 4)), torch.ones(2, 3, 4))


def test_features_are_what_the_read_out_sees() -> None:
    torch.manual_seed(0)
    model = CharRNN(15, hidden_size=8, embedding_dim=4).eval()
    ids = torch.randint(0, 15, (2, 5))
    features, state = model.features(ids)
    logits, expected_state = model(ids)
    torch.testing.assert_close(model.head(features), logits, rtol=0, atol=0)
    assert isinstance(state, torch.Tensor) and torch.equal(state, expected_state)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed cell has no separate read-out"):
        CharRNN(15, cell="seed", hidden_size=8).features(ids)


def test_ids_and_states_that_do_not_fit_are_named() -> None:
    model = CharRNN(5, hidden_size=4, num_layers=1)
    with pytest.raises(
        InvalidArgumentError, match=r"ids must lie in \[0, 5\).*got values from 1 to 7"
    ):
        model(torch.tensor([[1, 7]]))
    with pytest.raises(
        InvalidArgumentError, match=r"state must be one tensor of shape \(1, 1, 4\)"
    ):
        model(torch.tensor([[1, 2]]), torch.zeros(2, 1, 4))
    lstm = CharRNN(5, cell="lstm", hidden_size=4, num_layers=2)
    _, state = lstm(torch.tensor([[1, 2]]))
    with pytest.raises(InvalidArgumentError, match=r"a pair of tensors \(h, c\) of shape"):
        lstm(torch.tensor([[1]]), state[0])
    seed = CharRNN(5, cell="seed", hidden_size=4)
    with pytest.raises(InvalidArgumentError, match=r"ids must lie in \[0, 5\)"):
        seed(torch.tensor([[1, 9]]))


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn", "seed"])
@pytest.mark.parametrize(("hidden", "layers"), [(8, 1), (16, 3)])
def test_parameter_count_is_computed_without_building(cell: str, hidden: int, layers: int) -> None:
    config = {"cell": cell, "hidden_size": hidden, "num_layers": layers, "embedding_dim": 5}
    built = CharRNN(11, **config)  # type: ignore[arg-type]
    assert parameter_count(11, **config) == sum(p.numel() for p in built.parameters())  # type: ignore[arg-type]


def test_a_model_that_does_not_fit_in_memory_is_refused_before_allocating() -> None:
    with pytest.raises(InvalidArgumentError, match=r"needs 12 TiB but this machine has"):
        CharRNN(80, hidden_size=65536, num_layers=128)
    with torch.device("meta"):  # a skeleton of shapes allocates nothing: allowed
        assert CharRNN(80, hidden_size=65536, num_layers=2).hidden_size == 65536
