from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import TensorDataset

from nnkit.data import TensorLoader, load_mnist_sample


def _epoch_ids(loader: TensorLoader) -> list[int]:
    return [int(v) for _, y in loader for v in y]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200), st.integers(1, 64), st.booleans(), st.integers(0, 2**31))
def test_every_epoch_visits_every_sample_once(n: int, batch: int, shuffle: bool, seed: int) -> None:
    loader = TensorLoader((torch.zeros(n, 1), torch.arange(n)), batch, shuffle=shuffle, seed=seed)
    for _ in range(2):
        ids = _epoch_ids(loader)
        assert sorted(ids) == list(range(n))
    assert len(loader) == -(-n // batch)


def test_drop_last() -> None:
    loader = TensorLoader(
        (torch.zeros(10, 1), torch.arange(10)), 4, drop_last=True, shuffle=True, seed=1
    )
    sizes = [len(y) for _, y in loader]
    assert sizes == [4, 4] and len(loader) == 2


def test_same_seed_same_orders_and_epochs_differ() -> None:
    data = (torch.zeros(100, 1), torch.arange(100))
    a = TensorLoader(data, 10, shuffle=True, seed=7)
    b = TensorLoader(data, 10, shuffle=True, seed=7)
    first_a, second_a = _epoch_ids(a), _epoch_ids(a)
    assert first_a == _epoch_ids(b) and second_a == _epoch_ids(b)
    assert first_a != second_a
    assert first_a != _epoch_ids(TensorLoader(data, 10, shuffle=True, seed=8))


def test_set_epoch_replays_an_epoch() -> None:
    loader = TensorLoader((torch.zeros(50, 1), torch.arange(50)), 8, shuffle=True, seed=3)
    _epoch_ids(loader)
    second = _epoch_ids(loader)
    loader.set_epoch(1)
    assert _epoch_ids(loader) == second


def test_no_shuffle_keeps_order() -> None:
    loader = TensorLoader((torch.zeros(7, 1), torch.arange(7)), 3)
    assert _epoch_ids(loader) == list(range(7))


def test_uint8_images_become_totensor_floats_and_normalise() -> None:
    ds = load_mnist_sample(train=False)
    x, y = next(iter(TensorLoader(ds, 5)))
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(x[2], ds[2][0]) and int(y[2]) == ds[2][1]
    xn, _ = next(iter(TensorLoader(ds, 5, normalize=(0.1307, 0.3081))))
    torch.testing.assert_close(xn, (x - 0.1307) / 0.3081)


def test_tensor_dataset_and_device() -> None:
    ds = TensorDataset(torch.randn(6, 3), torch.arange(6))
    loader = TensorLoader(ds, 4, device="cpu")
    assert loader.dataset_size == 6 and loader.inputs.device.type == "cpu"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"data": "text", "batch_size": 2},
            TypeError,
            "expects an \\(inputs, targets\\) tensor pair",
        ),
        (
            {"data": (torch.zeros(3), torch.zeros(4)), "batch_size": 2},
            ValueError,
            "same length, got 3 and 4",
        ),
        (
            {"data": (torch.zeros(3), torch.zeros(3)), "batch_size": 0},
            ValueError,
            "positive integer, got 0",
        ),
        (
            {"data": (torch.zeros(3), torch.zeros(3)), "batch_size": 2, "normalize": (1.0,)},
            ValueError,
            "normalize must be",
        ),
        (
            {"data": (torch.zeros(3), torch.zeros(3)), "batch_size": 2, "device": "tpu"},
            ValueError,
            "device must be",
        ),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    data = kwargs.pop("data")
    batch_size = kwargs.pop("batch_size")
    with pytest.raises(error, match=match):
        TensorLoader(data, batch_size, **kwargs)  # type: ignore[arg-type]
