from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nnkit.errors import InvalidArgumentError
from nnkit.metrics import BatchMean, BitsPerChar, Perplexity, TopKAccuracy, as_metrics
from nnkit.train import evaluate, fit


def data(n: int = 90, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 5, (n,), generator=g)
    return torch.randn(n, 4, generator=g) + nn.functional.one_hot(y, 5)[:, :4].float(), y


def test_metrics_are_exact_means_over_the_data_not_means_of_batch_means() -> None:
    torch.manual_seed(0)
    model = nn.Linear(4, 5).double()
    x, y = data()
    x = x.double()

    def hits_of_class_0(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return ((outputs.argmax(-1) == 0) & (targets == 0)).double().mean()

    result = evaluate(
        model,
        (x, y),
        batch_size=16,  # 90 = 5 x 16 + 10: a smaller last batch
        metrics=[TopKAccuracy(2), BitsPerChar(), Perplexity(), hits_of_class_0],
        device="cpu",
    )
    with torch.no_grad():
        out = model(x)
        losses = nn.functional.cross_entropy(out, y, reduction="none")
    top2 = (out.topk(2, -1).indices == y[:, None]).any(-1).double().mean()
    assert result.metrics["top2_accuracy"] == pytest.approx(float(top2), rel=1e-12)
    assert result.metrics["bpc"] == pytest.approx(float(losses.mean()) / math.log(2), rel=1e-12)
    assert result.metrics["perplexity"] == pytest.approx(math.exp(float(losses.mean())), rel=1e-12)
    expected = float(((out.argmax(-1) == 0) & (y == 0)).double().mean())
    assert result.metrics["hits_of_class_0"] == pytest.approx(expected, rel=1e-12)


def test_fit_records_train_and_val_metrics_every_epoch() -> None:
    torch.manual_seed(0)
    model = nn.Linear(4, 5)
    test = data(40, 1)
    history = fit(
        model,
        data(),
        val=test,
        epochs=3,
        metrics={"top3": lambda o, t: (o.topk(3, -1).indices == t[:, None]).any(-1).float().mean()},
        device="cpu",
        progress=False,
    )
    for record in history.records:
        assert set(record.extra) == {"train_top3", "val_top3"}
        assert 0.0 <= record.extra["train_top3"] <= 1.0
    # the last epoch's test value is what evaluating the final model gives
    final = evaluate(model, test, metrics=[TopKAccuracy(3)], device="cpu")
    assert history.records[-1].extra["val_top3"] == pytest.approx(
        final.metrics["top3_accuracy"], rel=1e-6
    )


def test_metric_names_are_checked() -> None:
    with pytest.raises(InvalidArgumentError, match="'accuracy' is taken"):
        as_metrics({"accuracy": lambda o, t: o.sum()})
    with pytest.raises(InvalidArgumentError, match="two metrics are named 'bpc'"):
        as_metrics([BitsPerChar(), BitsPerChar()])
    with pytest.raises(InvalidArgumentError, match="must be an identifier"):
        as_metrics({"top 3": lambda o, t: o.sum()})
    with pytest.raises(InvalidArgumentError, match="list of Metric objects"):
        as_metrics("bpc")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="must be callable"):
        BatchMean(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="TopKAccuracy k must be a positive integer"):
        TopKAccuracy(0)


def test_a_metric_must_return_a_batch_mean() -> None:
    with pytest.raises(InvalidArgumentError, match="must return a one-element tensor"):
        evaluate(nn.Linear(4, 5), data(), metrics={"raw": lambda o, t: o}, device="cpu")
    with pytest.raises(InvalidArgumentError, match=r"pass metrics=\{'name': fn\}"):
        evaluate(nn.Linear(4, 5), data(), metrics=[lambda o, t: o.mean()], device="cpu")
