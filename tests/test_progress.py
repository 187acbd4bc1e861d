"""What fit shows (``nnkit._progress``): a bar in a terminal, plain lines in a log."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from nnkit._progress import resolve_progress
from nnkit.errors import InvalidArgumentError
from nnkit.train import fit


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_is_a_bar_in_a_terminal_and_lines_elsewhere() -> None:
    assert resolve_progress(True, _Terminal()) == "bar"
    assert resolve_progress("auto", io.StringIO()) == "lines"
    assert resolve_progress(False) == "off" and resolve_progress("lines", _Terminal()) == "lines"
    with pytest.raises(InvalidArgumentError, match="progress must be True, False or one of"):
        resolve_progress(2)


def _fit(progress: object) -> None:
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    fit(nn.Linear(2, 2), (x, (x[:, 0] > 0).long()), val=(x, (x[:, 0] > 0).long()), epochs=3,
        batch_size=4, device="cpu", progress=progress)  # type: ignore[arg-type]  # fmt: skip


def test_a_log_gets_one_plain_line_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    _fit(True)  # pytest's captured stderr is not a terminal
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "\r" not in captured.err and "\x1b" not in captured.err
    lines = captured.err.splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all(" s - train_loss " in line and " - val_accuracy " in line for line in lines)


def test_a_terminal_bar_leaves_one_summary_line_per_epoch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _fit("bar")
    err = capsys.readouterr().err
    assert "| 0/16 [" in err  # the bars ran (and were cleared: leave=False)
    summaries = [part for part in err.replace("\r", "\n").splitlines() if part.startswith("epoch ")
                 and " - train_loss " in part]  # fmt: skip
    assert [s.split(" - ")[0] for s in summaries] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    _fit("off")
    assert capsys.readouterr().err == ""
