"""One training run for ``tests/test_resume.py``, in its own process.

Usage: ``python tests/_resume_worker.py KIND OUTDIR MODE`` with MODE one of

- ``straight``: train without interruption; write the final state to ``OUTDIR/straight.pt``;
- ``killed``: train with a checkpoint and SIGKILL this very process in the middle of epoch
  :data:`KILL_EPOCH` (nothing is cleaned up, nothing is flushed);
- ``resume``: train again with ``resume=True`` from that checkpoint; write ``OUTDIR/resumed.pt``.

Every KIND trains a model with dropout (so the random generators matter) with
``ModelCheckpoint(save_best_only=True)`` and ``EarlyStopping(restore_best=True)``. The test
labels are the training rule shifted by one class, so the better the model learns, the higher
its test loss: the best epoch (the first) comes before the kill, the early stop after it.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnkit.callbacks import Callback, EarlyStopping, ModelCheckpoint, TrainState
from nnkit.history import History
from nnkit.models import CharRNN
from nnkit.schedules import Cosine, ReduceOnPlateau
from nnkit.text import Vocab
from nnkit.text import train as train_text
from nnkit.train import fit
from tests._data import PairDataset

KINDS = (
    "tensors",
    "tensordataset",
    "dataset",
    "dataloader",
    "text",
    "accumulate",
    "validation_split",
)
KILL_EPOCH, KILL_STEP = 3, 3


class KeepOptimizerState(Callback):
    """The optimizer's final state, whoever built the optimizer (``text.train`` does)."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    def on_train_end(self, state: TrainState) -> None:
        self.state = state.optimizer.state_dict()


class KillAt(Callback):
    """SIGKILL the process after step ``KILL_STEP`` of epoch ``KILL_EPOCH``: a hard crash."""

    def on_batch_end(self, state: TrainState) -> None:
        if (state.epoch, state.step) == (KILL_EPOCH, KILL_STEP):
            os.kill(os.getpid(), signal.SIGKILL)


def points(n: int, seed: int, shift: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Class = argmax of the first three features (+ ``shift``, mod 3)."""
    x = torch.randn(n, 8, generator=torch.Generator().manual_seed(seed))
    return x, (x[:, :3].argmax(1) + shift) % 3


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 3))


def data(kind: str) -> Any:
    x, y = points(160, 1)
    if kind in ("tensors", "accumulate", "validation_split"):
        return x, y
    if kind == "tensordataset":
        return TensorDataset(x, y)
    if kind == "dataset":
        return PairDataset(x, y)
    generator = torch.Generator().manual_seed(5)  # the DataLoader's own shuffling generator
    return DataLoader(PairDataset(x, y), batch_size=32, shuffle=True, generator=generator)


def run(kind: str, out: Path, mode: str) -> None:
    ck = out / "ck.pt" if mode != "straight" else None
    best = out / ("straight-best.pt" if mode == "straight" else "resumed-best.pt")
    optimizer = KeepOptimizerState()
    callbacks: list[Callback] = [
        ModelCheckpoint(best, save_best_only=True),
        EarlyStopping("val_loss", patience=3, restore_best=True),
        optimizer,
    ]
    if mode == "killed":
        callbacks.append(KillAt())
    common: dict[str, Any] = {
        "device": "cpu",
        "progress": False,
        "checkpoint": ck,
        "resume": mode == "resume",
        "callbacks": callbacks,
    }
    if kind == "text":
        g = torch.Generator().manual_seed(3)
        text = "".join(chr(97 + int(i)) for i in torch.randint(0, 12, (4000,), generator=g))
        vocab = Vocab.from_text(text)
        torch.manual_seed(0)
        net = CharRNN(len(vocab), hidden_size=32, num_layers=2, embedding_dim=8, dropout=0.2)
        history = train_text(
            net, text, vocab=vocab, epochs=8, seq_len=16, batch_size=8, lr=0.02, seed=4, **common
        )
        trained: nn.Module = net
    else:
        trained = model()
        history = _fit(trained, kind, common)
    if mode != "killed":
        torch.save(
            {
                "model": trained.state_dict(),
                "optimizer": optimizer.state,
                "history": history.to_dict(),
            },
            out / f"{mode if mode == 'straight' else 'resumed'}.pt",
        )


def _fit(net: nn.Module, kind: str, common: dict[str, Any]) -> History:
    opt = torch.optim.AdamW(net.parameters(), lr=0.02)
    if kind == "tensordataset":  # a PyTorch scheduler stepped every batch
        scheduler: Any = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.02, total_steps=40)
    else:  # an nnkit schedule with plateau state
        scheduler = ReduceOnPlateau(Cosine(floor=0.1), patience=1, min_scale=None)
    held_out: dict[str, Any] = (
        {"validation_split": 0.25}
        if kind == "validation_split"
        else {"val": points(64, 2, shift=1)}
    )
    return fit(
        net,
        data(kind),
        **held_out,
        epochs=8,
        batch_size=16 if kind == "accumulate" else 32,
        accumulate=2 if kind == "accumulate" else 1,
        seed=None if kind == "dataloader" else 7,
        optimizer=opt,
        scheduler=scheduler,
        **common,
    )


if __name__ == "__main__":
    torch.set_num_threads(1)
    run(sys.argv[1], Path(sys.argv[2]), sys.argv[3])
