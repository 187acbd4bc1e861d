from __future__ import annotations

import pytest
import torch

from nnkit.backprop import check_grads, forward, manual_grads, train_manual
from nnkit.data import load_mnist_sample

F64 = torch.float64
COMBOS = [
    (activation, output, loss)
    for activation in ("sigmoid", "tanh", "relu", "identity")
    for output, loss in (
        ("identity", "mse"),
        ("sigmoid", "mse"),
        ("softmax", "mse"),
        ("softmax", "cross_entropy"),
    )
]


def problem(
    seed: int, *, loss: str, n: int = 7, d: int = 4, h: int = 5, k: int = 3
) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=F64)
    if loss == "cross_entropy":
        Y = torch.nn.functional.one_hot(torch.randint(0, k, (n,), generator=g), k).to(F64)
    else:
        Y = torch.randn(n, k, generator=g, dtype=F64)
    return {
        "X": X,
        "Y": Y,
        "W1": torch.randn(d, h, generator=g, dtype=F64),
        "W2": torch.randn(h, k, generator=g, dtype=F64),
        "b1": torch.randn(h, generator=g, dtype=F64),
        "b2": torch.randn(k, generator=g, dtype=F64),
    }


@pytest.mark.parametrize(("activation", "output", "loss"), COMBOS)
@pytest.mark.parametrize("bias", [True, False])
def test_every_combination_agrees_with_autograd(
    activation: str, output: str, loss: str, bias: bool
) -> None:
    p = problem(hash((activation, output, loss)) % 1000, loss=loss)
    if not bias:
        p.pop("b1"), p.pop("b2")
    errors = check_grads(**p, activation=activation, output=output, loss=loss)  # type: ignore[arg-type]
    assert set(errors) == ({"dW1", "dW2", "db1", "db2"} if bias else {"dW1", "dW2"})
    for name, err in errors.items():
        assert err.autograd < 1e-10, (name, err)
        assert err.finite_difference < 1e-6, (name, err)


def test_deltas_and_forward_values_match_autograd() -> None:
    p = problem(3, loss="cross_entropy")
    g = manual_grads(**p, activation="tanh", output="softmax", loss="cross_entropy")  # type: ignore[arg-type]
    U1 = (p["X"] @ p["W1"] + p["b1"]).requires_grad_(True)
    U2 = torch.tanh(U1) @ p["W2"] + p["b2"]
    U2.retain_grad()
    L = -(p["Y"] * torch.log_softmax(U2, 1)).sum() / len(p["X"])
    L.backward()
    torch.testing.assert_close(g.loss, L.detach(), rtol=0, atol=1e-14)
    torch.testing.assert_close(g.delta2, U2.grad, rtol=0, atol=1e-14)
    torch.testing.assert_close(g.delta1, U1.grad, rtol=0, atol=1e-14)
    torch.testing.assert_close(g.Z2, torch.softmax(U2.detach(), 1), rtol=0, atol=1e-14)
    assert g.Z1.shape == (7, 5) and g.delta1.shape == (7, 5) and g.dW1.shape == (4, 5)


def test_mse_is_half_the_mean_squared_error_per_sample() -> None:
    p = problem(0, loss="mse")
    g = manual_grads(p["X"], p["Y"], p["W1"], p["W2"], activation="identity")
    expected = 0.5 * ((g.Z2 - p["Y"]) ** 2).sum(1).mean()
    torch.testing.assert_close(g.loss, expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            {"W1": torch.zeros(5, 5, dtype=F64)},
            r"X has 4 columns but W1 has 5 rows.*X \(7, 4\), W1 \(5, 5\)",
        ),
        ({"W2": torch.zeros(4, 3, dtype=F64)}, r"W1 has 5 columns but W2 has 4 rows"),
        ({"Y": torch.zeros(7, 2, dtype=F64)}, r"Y must be \(N, K\) = \(7, 3\)"),
        ({"b1": torch.zeros(4, dtype=F64)}, r"b1 must have shape \(5,\), got \(4,\)"),
        ({"X": torch.zeros(7, dtype=F64)}, "X must be a matrix"),
        ({"activation": "gelu"}, "activation must be one of sigmoid, tanh, relu, identity"),
        ({"output": "tanh"}, "output must be one of"),
        ({"loss": "hinge"}, "loss must be one of mse, cross_entropy"),
        ({"loss": "cross_entropy"}, "needs output='softmax'"),
    ],
)
def test_bad_input(change: dict[str, object], match: str) -> None:
    p: dict[str, object] = {**problem(0, loss="mse"), **change}
    with pytest.raises(ValueError, match=match):
        manual_grads(**p)  # type: ignore[arg-type]


def test_train_manual_tracks_an_autograd_twin_step_for_step() -> None:
    p = problem(5, loss="cross_entropy", n=20)
    X, Y = p["X"], p["Y"]
    run = train_manual(
        X, Y, 6, steps=40, lr=0.3, activation="tanh", output="softmax", loss="cross_entropy", seed=9
    )
    # the twin: train_manual's initial weights (steps=0), updated with autograd's gradients
    start = train_manual(
        X, Y, 6, steps=0, lr=0.3, activation="tanh", output="softmax", loss="cross_entropy", seed=9
    )
    params = [t.clone().requires_grad_(True) for t in (start.W1, start.W2, start.b1, start.b2)]
    losses = []
    for _ in range(40):
        Z2 = forward(
            X, params[0], params[1], b1=params[2], b2=params[3], activation="tanh", output="softmax"
        )
        L = -(Y * torch.log(Z2)).sum() / len(X)
        losses.append(float(L.detach()))
        grads = torch.autograd.grad(L, params)
        with torch.no_grad():
            params = [
                (p_ - 0.3 * g_).requires_grad_(True) for p_, g_ in zip(params, grads, strict=True)
            ]
    assert run.losses[:40] == pytest.approx(losses, rel=1e-12)
    for mine, theirs in zip((run.W1, run.W2, run.b1, run.b2), params, strict=True):
        torch.testing.assert_close(mine, theirs.detach(), rtol=0, atol=1e-12)
    assert run.losses[-1] < run.losses[0]


def test_on_step_sees_every_gradient() -> None:
    p = problem(1, loss="mse")
    seen: list[int] = []
    train_manual(p["X"], p["Y"], 3, steps=5, lr=0.1, on_step=lambda i, g: seen.append(i))
    assert seen == [0, 1, 2, 3, 4]


def test_learns_xor() -> None:
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=F64)
    Y = torch.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=F64)
    solved = 0
    for seed in range(3):
        run = train_manual(X, Y, 4, steps=4000, lr=2.0, output="sigmoid", seed=seed)
        solved += (run.predict(X) > 0.5).to(F64).eq(Y).all().item()
        assert run.losses[-1] < run.losses[0]
    assert solved >= 2


def test_learns_the_mnist_sample_with_a_softmax_output() -> None:
    train, test = load_mnist_sample(train=True), load_mnist_sample(train=False)
    X = train.images[:3000].reshape(-1, 784).to(F64) / 255
    Y = torch.nn.functional.one_hot(train.labels[:3000], 10).to(F64)
    run = train_manual(
        X,
        Y,
        64,
        steps=150,
        lr=0.5,
        activation="relu",
        output="softmax",
        loss="cross_entropy",
        seed=0,
    )
    Xt = test.images.reshape(-1, 784).to(F64) / 255
    accuracy = float((run.predict(Xt).argmax(1) == test.labels).to(F64).mean())
    assert accuracy > 0.85
    assert run.losses[-1] < 0.5 * run.losses[0]


def test_bad_training_arguments() -> None:
    p = problem(0, loss="mse")
    for kwargs, match in (({"hidden": 0}, "hidden"), ({"steps": -1}, "steps"), ({"lr": 0.0}, "lr")):
        args = {"hidden": 3, "steps": 1, "lr": 0.1, **kwargs}
        with pytest.raises(ValueError, match=match):
            train_manual(p["X"], p["Y"], **args)  # type: ignore[arg-type]
