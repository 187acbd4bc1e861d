"""nnkit seen from a user's project: ``mypy --strict`` accepts correct calls and rejects wrong
option strings (``py.typed`` ships, and options are ``Literal`` types)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

GOOD = """
from dataclasses import replace

import torch
from torch import nn

from nnkit.callbacks import EarlyStopping, KeepBest, ModelCheckpoint
from nnkit.data import BatchSource, DataLike, TensorLoader
from nnkit.experiments import DepthStudy, compare_depths
from nnkit.history import EpochRecord, History
from nnkit.metrics import BitsPerChar, TopKAccuracy
from nnkit.models import MnistCNN
from nnkit.optim_viz import trace
from nnkit.recipes import recipe
from nnkit.runtime import Runtime
from nnkit.schedules import Cosine, ReduceOnPlateau
from nnkit.train import FAST_RECIPE, Evaluation, evaluate, fit


def top1(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (outputs.argmax(-1) == targets).float().mean()


def main() -> None:
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    data: DataLike = (x, y)
    loader: BatchSource = TensorLoader((x, y), 16, shuffle=True, seed=0)
    history: History = fit(
        MnistCNN(depth=2),
        loader,
        val=data,
        max_steps=10,
        max_seconds=60.0,
        loss="cross_entropy",
        optimizer="adamw",
        lr=1e-3,
        scheduler=ReduceOnPlateau(Cosine(floor=0.1), patience=2),
        metrics=[TopKAccuracy(5), BitsPerChar(), top1],
        runtime=Runtime(amp=False, channels_last=True),
        callbacks=[KeepBest(), EarlyStopping(patience=1), ModelCheckpoint("best.pt")],
    )
    fit(MnistCNN(depth=1), data, **replace(FAST_RECIPE, lr=1e-3, epochs=1))
    result: Evaluation = evaluate(MnistCNN(depth=2), data, device="cpu")
    reason: str | None = history.stop_reason
    print(result.accuracy, reason, nn.Linear(2, 2))
    last: EpochRecord = history.last  # not Optional: an empty history raises
    first: EpochRecord = history[0]
    losses: list[float] = [record.train_loss for record in history]
    tail: list[EpochRecord] = history[1:]
    print(last.train_loss, first.epoch, losses, tail, recipe("fast", "cpu").batch_size)
    study: DepthStudy = compare_depths((1, 2), seeds=2, recipe="notes", epochs=1)
    print(study.final(2), [d.sentence() for d in study.differences()])
    print(trace("adam", fn="rosenbrock").points.shape, MnistCNN(3, channels=(8, 16, 32)))
"""

BAD = """
import torch

from nnkit.experiments import compare_depths
from nnkit.models import MnistCNN
from nnkit.optim_viz import trace
from nnkit.recipes import recipe
from nnkit.runtime import Runtime
from nnkit.train import fit

x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
fit(MnistCNN(depth=2), (x, y), optimizer="adamm")
fit(MnistCNN(depth=2), (x, y), loss="hinj")
fit(MnistCNN(depth=2), (x, y), scheduler="cosin")
fit(MnistCNN(depth=2), (x, y), runtime=Runtime(distributed="always"))
fit(MnistCNN(depth=2), (x, y), amp=True)
trace("adamm")
trace("adam", fn="quadratik")
MnistCNN(depth=4)
recipe("fastest")
compare_depths((1, 2), recipe="quick")
"""


@pytest.mark.slow
def test_mypy_strict_accepts_correct_user_code_and_rejects_bad_option_strings(
    tmp_path: Path,
) -> None:
    (tmp_path / "good.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "bad.py").write_text(textwrap.dedent(BAD))
    cache = Path(__file__).resolve().parents[1] / ".mypy_cache"
    stdout, stderr, _ = mypy_api.run(
        [
            "--strict",
            "--cache-dir",
            str(cache),
            "--no-error-summary",
            "--hide-error-context",
            str(tmp_path / "good.py"),
            str(tmp_path / "bad.py"),
        ]
    )
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert not [e for e in errors if "good.py" in e], stdout + stderr
    bad_lines = sorted({int(m.group(1)) for e in errors if (m := re.search(r"bad\.py:(\d+):", e))})
    assert bad_lines == list(range(12, 22)), stdout
    for wrong in ("adamm", "hinj", "cosin", "always", "quadratik", "fastest", "quick"):
        assert f"Literal['{wrong}']" in stdout, stdout
    assert 'Unexpected keyword argument "amp"' in stdout
