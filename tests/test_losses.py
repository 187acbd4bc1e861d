from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nnkit import losses


def test_cross_entropy_matches_torch_for_classes_and_sequences() -> None:
    torch.manual_seed(0)
    logits, y = torch.randn(5, 4, dtype=torch.float64), torch.randint(0, 4, (5,))
    torch.testing.assert_close(
        losses.cross_entropy(logits, y), F.cross_entropy(logits, y), rtol=0, atol=1e-12
    )
    seq, ys = torch.randn(2, 3, 4, dtype=torch.float64), torch.randint(0, 4, (2, 3))
    expected = F.cross_entropy(seq.permute(0, 2, 1), ys)
    torch.testing.assert_close(losses.cross_entropy(seq, ys), expected, rtol=0, atol=1e-12)


def test_nll_and_mse_match_torch() -> None:
    lp = torch.log_softmax(torch.randn(6, 3, dtype=torch.float64), 1)
    y = torch.randint(0, 3, (6,))
    torch.testing.assert_close(losses.nll(lp, y), F.nll_loss(lp, y), rtol=0, atol=1e-12)
    a, b = torch.randn(4, 2), torch.randn(4, 2)
    torch.testing.assert_close(losses.mse(a, b), F.mse_loss(a, b))


@pytest.mark.parametrize(
    ("fn", "outputs", "targets", "match"),
    [
        (losses.cross_entropy, torch.zeros(4), torch.zeros(4, dtype=torch.long), r"\(N, C\)"),
        (losses.cross_entropy, torch.zeros(4, 3), torch.zeros(4), "integer class indices"),
        (
            losses.cross_entropy,
            torch.zeros(4, 3),
            torch.zeros(5, dtype=torch.long),
            r"of shape \(4,\)",
        ),
        (losses.mse, torch.zeros(4, 1), torch.zeros(4), "same shape"),
    ],
)
def test_bad_targets(
    fn: losses.LossFn, outputs: torch.Tensor, targets: torch.Tensor, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        fn(outputs, targets)


def test_get() -> None:
    assert losses.get("cross_entropy") is losses.cross_entropy
    module = torch.nn.L1Loss()
    assert losses.get(module) is module
    with pytest.raises(ValueError, match="unknown loss 'x'; expected one of"):
        losses.get("x")
    with pytest.raises(TypeError, match="name or a callable"):
        losses.get(3)  # type: ignore[arg-type]
