from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nnkit import losses
from nnkit.errors import InvalidArgumentError


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


def test_binary_cross_entropy_matches_torch_and_is_stable() -> None:
    logits = torch.tensor([-200.0, -1.0, 0.0, 3.0, 200.0], dtype=torch.float64)
    targets = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    got = losses.binary_cross_entropy(logits, targets)
    torch.testing.assert_close(
        got, F.binary_cross_entropy_with_logits(logits, targets), rtol=0, atol=1e-12
    )
    assert torch.isfinite(got)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        losses.binary_cross_entropy(torch.zeros(2), torch.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match="scores' shape"):
        losses.binary_cross_entropy(torch.zeros(2, 1), torch.zeros(2))


def test_binary_hinge_family_by_hand() -> None:
    s = torch.tensor([2.0, 0.5, -1.0, -4.0], dtype=torch.float64)
    y = torch.tensor([1, -1, 1, 1])
    m = y * s  # 2, -0.5, -1, -4
    assert losses.margins(s, y).tolist() == m.tolist()
    assert losses.hinge(s, y).item() == pytest.approx((0 + 1.5 + 2 + 5) / 4)
    assert losses.squared_hinge(s, y).item() == pytest.approx((0 + 2.25 + 4 + 25) / 4)
    assert losses.robust_hinge(s, y).item() == pytest.approx((0 + 1.5 + 2 + 2) / 4)
    assert losses.robust_hinge(s, y, s=0.0).item() == pytest.approx((0 + 1 + 1 + 1) / 4)


def test_multiclass_hinge_matches_multi_margin_loss() -> None:
    torch.manual_seed(0)
    scores, y = torch.randn(6, 4, dtype=torch.float64), torch.randint(0, 4, (6,))
    torch.testing.assert_close(
        losses.hinge(scores, y), F.multi_margin_loss(scores, y), rtol=0, atol=1e-12
    )
    torch.testing.assert_close(
        losses.squared_hinge(scores, y), F.multi_margin_loss(scores, y, p=2), rtol=0, atol=1e-12
    )
    margin = losses.margins(scores, y)
    others = scores.clone()
    others[torch.arange(6), y] = -torch.inf
    torch.testing.assert_close(margin, scores[torch.arange(6), y] - others.max(1).values)


def test_robust_hinge_is_bounded_and_flat_far_away() -> None:
    s = torch.linspace(-100, 100, 2001, dtype=torch.float64, requires_grad=True)
    y = torch.ones(2001, dtype=torch.long)
    per_sample = torch.clamp(1 - losses.margins(s, y), min=0, max=2)
    assert float(per_sample.detach().max()) == 2.0
    losses.robust_hinge(s, y).backward()
    assert s.grad is not None and float(s.grad[s.detach() < -1.01].abs().max()) == 0.0
    with pytest.raises(ValueError, match="s < 1"):
        losses.robust_hinge(s, y, s=1.0)


def _fit_1d(loss: losses.LossFn, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=0.05)
    for _ in range(3000):
        opt.zero_grad()
        (loss(x * w + b, y) + 0.01 * (w**2).sum()).backward()
        opt.step()
    return float(w.detach()), float(b.detach())


def test_robust_hinge_ignores_a_flipped_label_that_moves_the_hinge() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.cat(
        [
            torch.randn(20, generator=g, dtype=torch.float64) * 0.5 - 2,
            torch.randn(20, generator=g, dtype=torch.float64) * 0.5 + 2,
        ]
    )
    y = torch.cat([-torch.ones(20, dtype=torch.long), torch.ones(20, dtype=torch.long)])
    x_bad = torch.cat([x, torch.tensor([12.0, 13.0, 14.0], dtype=torch.float64)])
    y_bad = torch.cat([y, -torch.ones(3, dtype=torch.long)])  # far away, wrong label
    clean = _fit_1d(losses.hinge, x, y)
    hinge = _fit_1d(losses.hinge, x_bad, y_bad)
    ramp = _fit_1d(losses.robust_hinge, x_bad, y_bad)

    def boundary(wb: tuple[float, float]) -> float:
        return -wb[1] / wb[0]

    assert abs(boundary(ramp) - boundary(clean)) < 0.1
    assert abs(boundary(hinge) - boundary(clean)) > 5 * abs(boundary(ramp) - boundary(clean))
    assert hinge[0] < 0.5 * clean[0]  # the outliers flatten the hinge's slope


@pytest.mark.parametrize(
    ("fn", "scores", "targets", "match"),
    [
        (
            losses.hinge,
            torch.zeros(3),
            torch.tensor([0, 1, 1]),
            r"-1 or \+1, got values \[0, 1\]; for 0/1 labels use 2 \* y - 1",
        ),
        (losses.hinge, torch.zeros(3, 2), torch.zeros(3), "integer classes of shape"),
        (losses.hinge, torch.zeros(3, 2), torch.tensor([0, 1, 2]), r"lie in \[0, 2\)"),
        (losses.hinge, torch.zeros(3), torch.ones(4), "scores' shape"),
        (
            losses.hinge,
            torch.zeros(2, 3, 4),
            torch.zeros(2, dtype=torch.long),
            r"\(N,\), \(N, 1\) or \(N, C\)",
        ),
    ],
)
def test_hinge_bad_targets(
    fn: losses.LossFn, scores: torch.Tensor, targets: torch.Tensor, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        fn(scores, targets)


def test_modules_and_registry_agree_with_the_functions() -> None:
    s, y = torch.tensor([0.3, -2.0]), torch.tensor([1, -1])
    assert losses.Hinge()(s, y) == losses.hinge(s, y)
    assert losses.SquaredHinge()(s, y) == losses.squared_hinge(s, y)
    assert losses.RobustHinge(s=-2.0)(s, y) == losses.robust_hinge(s, y, s=-2.0)
    x, t = torch.randn(3, 4), torch.tensor([0, 3, 1])
    assert losses.CrossEntropy()(x, t) == losses.cross_entropy(x, t)
    assert losses.MeanSquaredError()(x, x * 2) == losses.mse(x, x * 2)
    assert losses.BinaryCrossEntropy()(x, (x > 0).float()) == losses.binary_cross_entropy(
        x, (x > 0).float()
    )
    assert set(losses.LOSS_NAMES) == set(losses._REGISTRY)  # the Literal and the registry agree
    assert all(callable(losses.get(name)) for name in losses.LOSS_NAMES)


def test_fit_accepts_every_classification_loss_by_name() -> None:
    from nnkit.train import fit

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=g)
    y = (x[:, 0] > 0).long()
    for name in ("cross_entropy", "hinge", "squared_hinge", "robust_hinge"):
        torch.manual_seed(0)
        history = fit(
            torch.nn.Linear(2, 2),
            (x, y),
            loss=name,
            lr=0.05,
            epochs=20,
            device="cpu",
            progress=False,
        )
        assert history.last.train_accuracy is not None
        assert history.last.train_accuracy > 0.9, name


def test_a_class_target_outside_the_scores_is_named() -> None:
    for loss in (losses.cross_entropy, losses.nll):
        with pytest.raises(InvalidArgumentError, match=r"must lie in \[0, 10\).*got 12"):
            loss(torch.zeros(3, 10), torch.tensor([1, 12, 3]))


def test_label_smoothing_is_cross_entropy_against_the_mixed_target() -> None:
    torch.manual_seed(0)
    logits, eps = torch.randn(6, 4, dtype=torch.float64), 0.1
    targets = torch.tensor([0, 1, 2, 3, 0, 1])
    mixed = (1 - eps) * F.one_hot(targets, 4).double() + eps / 4
    by_hand = -(mixed * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    for value in (
        losses.cross_entropy(logits, targets, label_smoothing=eps),
        losses.CrossEntropy(label_smoothing=eps)(logits, targets),
    ):
        torch.testing.assert_close(value, by_hand, rtol=1e-12, atol=1e-12)
    plain = losses.cross_entropy(logits, targets)
    assert losses.cross_entropy(logits, targets, label_smoothing=0.0) == plain
    sequences = logits.reshape(2, 3, 4)
    torch.testing.assert_close(
        losses.cross_entropy(sequences, targets.reshape(2, 3), label_smoothing=eps), by_hand
    )
    for bad in (-0.1, 1.0):
        with pytest.raises(InvalidArgumentError, match=r"label_smoothing must be in \[0, 1\)"):
            losses.CrossEntropy(label_smoothing=bad)
    with pytest.raises(InvalidArgumentError, match=r"label_smoothing must be a number, got '0\.1'"):
        losses.CrossEntropy(label_smoothing="0.1")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"label_smoothing must be in \[0, 1\)"):
        losses.cross_entropy(logits, targets, label_smoothing=1.5)
