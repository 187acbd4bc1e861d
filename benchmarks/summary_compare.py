"""Multiply-adds and parameter counts of ``nnkit.summary`` beside torchinfo, fvcore and PyTorch.

For each model of a fixed table, one forward pass at batch 1 is counted by:

- ``nnkit``: :func:`nnkit.summary.summary` (operator level, fused kernels switched off);
- ``torchinfo``: ``torchinfo.summary(...).total_mult_adds`` (module hooks);
- ``fvcore``: ``FlopCountAnalysis(...).total()`` (a JIT trace; fvcore counts one multiply-add
  as one "flop");
- ``pytorch``: ``torch.utils.flop_counter.FlopCounterMode`` halved (it counts two flops per
  multiply-add), as a user runs it, oneDNN left on;
- ``hand``: the count derived from the layer definitions, where the tests derive it.

Parameters: nnkit's total (``sum(p.numel() for p in model.parameters())``, tied weights once)
beside torchinfo's. torchinfo and fvcore are not nnkit dependencies:
``pip install torchinfo fvcore``; a missing one leaves its column empty.

Usage: ``python benchmarks/summary_compare.py [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import warnings
from collections.abc import Callable
from datetime import date
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision import models as tv

from nnkit.models import CharRNN, MnistCNN
from nnkit.summary import summary


class TiedLM(nn.Module):
    """An embedding and an output layer sharing one 1000 x 128 matrix (128,000 elements)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(1000, 128)
        self.gru = nn.GRU(128, 128, batch_first=True)
        self.out = nn.Linear(128, 1000, bias=False)
        self.out.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.gru(self.embed(ids))[0])


class OwnMatmul(nn.Module):
    """A custom layer: its weight used through ``torch.matmul`` in its own forward."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(256, 256))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.w)


class LSTMOnly(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(64, 128, num_layers=2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(128, 8, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mha(x, x, x)[0]


def _hand() -> dict[str, int]:
    """The counts the tests derive by hand (tests/test_summary.py), for the same sizes."""
    gru = 100 * 3 * 256 * (64 + 256) + 100 * 3 * 256 * 512 + 100 * 256 * 84
    tied = 50 * 3 * 128 * 256 + 50 * 128 * 1000
    lstm = 50 * 4 * 128 * (64 + 128) + 50 * 4 * 128 * 256
    attention = 50 * 128 * 3 * 128 + 2 * 50 * 50 * 128 + 50 * 128 * 128
    return {
        "CharRNN(84) GRU": gru,
        "TiedLM (tied 1000x128)": tied,
        "LSTM 2x128": lstm,
        "ConvTranspose2d(16, 8, 4, s=2)": 16 * 32 * 32 * 8 * 4 * 4,
        "MultiheadAttention(128, 8)": attention,
        "own matmul 256x256": 64 * 256 * 256,
        "resnet18": 1_814_073_344,
        "vit_b_16": 17_563_828_224,
    }


def _table() -> list[tuple[str, Callable[[], nn.Module], tuple[int, ...], torch.dtype]]:
    image = (1, 3, 224, 224)
    return [
        ("MnistCNN(depth=1)", lambda: MnistCNN(depth=1), (1, 1, 28, 28), torch.float32),
        ("MnistCNN(depth=2)", lambda: MnistCNN(depth=2), (1, 1, 28, 28), torch.float32),
        ("MnistCNN(depth=3)", lambda: MnistCNN(depth=3), (1, 1, 28, 28), torch.float32),
        ("CharRNN(84) GRU", lambda: CharRNN(84), (1, 100), torch.long),
        ("TiedLM (tied 1000x128)", TiedLM, (1, 50), torch.long),
        ("LSTM 2x128", LSTMOnly, (1, 50, 64), torch.float32),
        (
            "ConvTranspose2d(16, 8, 4, s=2)",
            lambda: nn.ConvTranspose2d(16, 8, 4, stride=2),
            (1, 16, 32, 32),
            torch.float32,
        ),
        ("MultiheadAttention(128, 8)", Attention, (1, 50, 128), torch.float32),
        ("own matmul 256x256", OwnMatmul, (1, 64, 256), torch.float32),
        ("resnet18", lambda: tv.resnet18(), image, torch.float32),
        ("vgg11", lambda: tv.vgg11(), image, torch.float32),
        ("mobilenet_v3_small", lambda: tv.mobilenet_v3_small(), image, torch.float32),
        ("vit_b_16", lambda: tv.vit_b_16(), image, torch.float32),
    ]


def _torchinfo(model: nn.Module, x: torch.Tensor) -> tuple[int, int] | None:
    try:
        import torchinfo
    except ImportError:
        return None
    stats = torchinfo.summary(model, input_data=[x], verbose=0, device="cpu")
    return int(stats.total_mult_adds), int(stats.total_params)


def _fvcore(model: nn.Module, x: torch.Tensor) -> int | None:
    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError:
        return None
    analysis = FlopCountAnalysis(model, (x,))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return int(analysis.total())


def _pytorch(model: nn.Module, x: torch.Tensor) -> int:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    return counter.get_total_flops() // 2


def measure() -> list[dict[str, Any]]:
    hand = _hand()
    rows = []
    for name, make, shape, dtype in _table():
        torch.manual_seed(0)
        model = make().eval()
        x = torch.zeros(shape, dtype=dtype)
        ours = summary(model, input_data=x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = _torchinfo(model, x)
            fv = _fvcore(model, x)
        rows.append(
            {
                "model": name,
                "input": list(shape),
                "hand": hand.get(name),
                "nnkit": ours.total_macs,
                "torchinfo": None if info is None else info[0],
                "fvcore": fv,
                "pytorch": _pytorch(model, x),
                "params_nnkit": ours.total_params,
                "params_torchinfo": None if info is None else info[1],
            }
        )
        print(_line(rows[-1]), flush=True)
    return rows


def _cell(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1e9:.3f}G" if value >= 1e8 else f"{value:,}"


def _line(row: dict[str, Any]) -> str:
    cells = [_cell(row[k]) for k in ("hand", "nnkit", "torchinfo", "fvcore", "pytorch")]
    params = f"{row['params_nnkit']:,} / {_cell(row['params_torchinfo'])}"
    return f"{row['model']:<31}" + "".join(f"{c:>15}" for c in cells) + f"   {params}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    header = ["hand", "nnkit", "torchinfo", "fvcore", "pytorch"]
    print(f"{'model':<31}" + "".join(f"{h:>15}" for h in header) + "   params nnkit / torchinfo")
    rows = measure()
    if args.json:
        meta = {"date": date.today().isoformat(), "machine": platform.processor() or "cpu",
                "torch": torch.__version__}  # fmt: skip
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
