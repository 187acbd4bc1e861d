from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnkit.data import load_mnist_sample
from nnkit.errors import InvalidArgumentError
from nnkit.models import MnistCNN
from nnkit.train import predict


def test_predict_equals_calling_the_model_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 3))
    model.train()
    x = torch.randn(37, 4)
    out = predict(model, x, batch_size=8, device="cpu")
    assert model.training  # put back as it was
    model.eval()
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
    assert not out.requires_grad and out.device.type == "cpu"
    # any DataLike: the targets are ignored; NumPy arrays too
    y = torch.zeros(37, dtype=torch.long)
    for data in ((x, y), TensorDataset(x, y), DataLoader(TensorDataset(x, y), batch_size=5),
                 x.numpy()):  # fmt: skip
        torch.testing.assert_close(predict(model, data, device="cpu"), expected)


def test_predict_scales_mnist_images_as_fit_does() -> None:
    sample = load_mnist_sample(train=False)
    model = MnistCNN(depth=1).eval()
    with torch.no_grad():
        expected = model(sample.images[:50].unsqueeze(1).float() / 255)
    out = predict(model, sample, device="cpu")
    assert out.shape == (len(sample), 10)
    torch.testing.assert_close(out[:50], expected)


def test_predict_refuses_what_it_cannot_do() -> None:
    with pytest.raises(InvalidArgumentError, match="predict needs a model that returns a tensor"):
        predict(nn.LSTM(2, 3), torch.randn(4, 5, 2), device="cpu")
    with pytest.raises(InvalidArgumentError, match="batch_size must be a positive integer"):
        predict(nn.Linear(2, 2), torch.randn(4, 2), batch_size=0)
    with pytest.raises(InvalidArgumentError, match="cannot predict on empty data"):
        predict(nn.Linear(2, 2), np.zeros((0, 2), dtype=np.float32), device="cpu")
