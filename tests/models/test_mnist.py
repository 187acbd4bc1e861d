from __future__ import annotations

import pytest
import torch

from nnkit.errors import InvalidArgumentError
from nnkit.models import MnistCNN, NotesNet

NOTES_SHAPES = [
    (16, 1, 3, 3),
    (16,),
    (32, 16, 3, 3),
    (32,),
    (128, 800),
    (128,),
    (64, 128),
    (64,),
    (10, 64),
    (10,),
]


def test_depth_two_has_exactly_the_notes_parameters() -> None:
    assert [tuple(p.shape) for p in MnistCNN(depth=2).parameters()] == NOTES_SHAPES
    assert list(MnistCNN(depth=2).state_dict()) == list(NotesNet().state_dict())


@pytest.mark.parametrize(("depth", "flat"), [(1, 16 * 13 * 13), (2, 32 * 5 * 5), (3, 64 * 1 * 1)])
def test_depths_follow_the_pattern(depth: int, flat: int) -> None:
    model = MnistCNN(depth)
    assert model.flat_features == flat
    convs = [n for n, _ in model.named_children() if n.startswith("conv")]
    assert convs == [f"conv{i + 1}" for i in range(depth)]
    assert model.fc1.in_features == flat
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_notes_state_dict_loads_and_gives_identical_outputs_and_gradients() -> None:
    torch.manual_seed(0)
    notes = NotesNet().double()
    ours = MnistCNN(depth=2).double()
    ours.load_state_dict(notes.state_dict())
    x = torch.randn(16, 1, 28, 28, dtype=torch.float64)
    y = torch.randint(0, 10, (16,))
    out_notes, out_ours = notes(x), ours(x)
    torch.testing.assert_close(out_ours, out_notes, rtol=0, atol=1e-12)
    torch.nn.functional.cross_entropy(out_notes, y).backward()
    torch.nn.functional.cross_entropy(out_ours, y).backward()
    for p_notes, p_ours in zip(notes.parameters(), ours.parameters(), strict=True):
        assert p_notes.grad is not None and p_ours.grad is not None
        torch.testing.assert_close(p_ours.grad, p_notes.grad, rtol=0, atol=1e-12)


def test_num_classes_and_dropout() -> None:
    model = MnistCNN(1, num_classes=3, dropout=0.5)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 3)
    model.eval()
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("depth", [0, 4, -1, 2.5, True, "2"])
def test_bad_depth(depth: object) -> None:
    with pytest.raises(ValueError, match=r"depth must be one of \(1, 2, 3\), got"):
        MnistCNN(depth)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"num_classes": 0}, "num_classes"), ({"dropout": 1.0}, "dropout")]
)
def test_bad_options(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MnistCNN(2, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [(8, 3, 32, 32), (1, 28, 28), (4, 1, 28, 27)])
def test_bad_input_shape(shape: tuple[int, ...]) -> None:
    expected = str(shape).replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(
        ValueError, match=rf"expects input of shape \(N, 1, 28, 28\), got {expected}"
    ):
        MnistCNN(2)(torch.zeros(shape))


def test_messages_name_what_was_expected() -> None:
    with pytest.raises(InvalidArgumentError, match=r"depth must be one of \(1, 2, 3\), got 2.0"):
        MnistCNN(2.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"floating-point images, got torch.uint8"):
        MnistCNN(1)(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
