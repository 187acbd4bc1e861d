"""Saving and restoring the complete training state, for exact resumption.

One atomic checkpoint holds everything that decides what a run does next: the model, the
optimizer, the learning-rate scheduler, torch's random generators, every batch source, every
callback that keeps state, the history, and where the budgets stand (epoch, optimizer steps,
seconds). A run killed at any moment and resumed from it ends as the uninterrupted run does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ._scheduling import LRDriver
from .callbacks import Callback
from .checkpoint import load_checkpoint, save_checkpoint
from .data.sources import BatchSource
from .errors import CheckpointError
from .history import History

#: Bumped whenever what a training checkpoint holds changes.
TRAINING_STATE_VERSION = 2


@dataclass(frozen=True)
class TrainingParts:
    """The live objects of a run whose state a checkpoint holds."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    driver: LRDriver
    sources: Mapping[str, BatchSource]
    callbacks: Sequence[Callback]
    history: History
    device: torch.device


@dataclass(frozen=True)
class ResumePoint:
    """Where a checkpointed run stood: its last finished epoch and its budgets' use."""

    epoch: int
    global_step: int
    elapsed: float


def callback_keys(callbacks: Sequence[Callback]) -> list[str]:
    """A stable key per callback: its class name, numbered when a class appears twice."""
    seen: dict[str, int] = {}
    keys = []
    for cb in callbacks:
        name = type(cb).__qualname__
        seen[name] = seen.get(name, 0) + 1
        keys.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return keys


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: Mapping[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def save_training_state(
    path: str | os.PathLike[str], parts: TrainingParts, point: ResumePoint
) -> None:
    """Write the whole training state to ``path``, atomically."""
    save_checkpoint(
        path,
        {
            "training_state": TRAINING_STATE_VERSION,
            "epoch": point.epoch,
            "global_step": point.global_step,
            "elapsed": point.elapsed,
            "model": parts.model.state_dict(),
            "optimizer": parts.optimizer.state_dict(),
            "scheduler": parts.driver.state_dict(),
            "rng": _rng_state(parts.device),
            "sources": {name: source.state_dict() for name, source in parts.sources.items()},
            "callbacks": {
                key: cb.state_dict()
                for key, cb in zip(callback_keys(parts.callbacks), parts.callbacks, strict=True)
            },
            "history": parts.history.to_dict(),
        },
    )


def restore_training_state(path: str | os.PathLike[str], parts: TrainingParts) -> ResumePoint:
    """Load what :func:`save_training_state` wrote into the live objects of a new run.

    A callback that the checkpoint does not know (added for the resumed run) starts afresh.
    """
    state = load_checkpoint(path, map_location=parts.device)
    if state.get("training_state") != TRAINING_STATE_VERSION:
        raise CheckpointError(
            f"checkpoint {path} was not written by this version of nnkit's fit (it lacks the "
            "state of the data, the schedule and the callbacks), so it cannot be resumed "
            "exactly; train without resume=True, or delete the file"
        )
    try:
        parts.model.load_state_dict(state["model"])
        parts.optimizer.load_state_dict(state["optimizer"])
        parts.driver.load_state_dict(state["scheduler"])
        for name, source in parts.sources.items():
            source.load_state_dict(state["sources"][name])
        saved = state["callbacks"]
        for key, cb in zip(callback_keys(parts.callbacks), parts.callbacks, strict=True):
            if key in saved:
                cb.load_state_dict(saved[key])
        _set_rng_state(state["rng"], parts.device)
        records = History.from_dict(state["history"]).records
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(
            f"checkpoint {path} does not match this model/optimizer/data: {exc}"
        ) from exc
    parts.history.records.extend(records)
    return ResumePoint(int(state["epoch"]), int(state["global_step"]), float(state["elapsed"]))
