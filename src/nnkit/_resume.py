"""Saving and restoring the complete training state for exact resumption."""

from __future__ import annotations

import os

import torch
from torch import nn

from ._batches import BatchSource
from .checkpoint import load_checkpoint, save_checkpoint
from .errors import CheckpointError
from .history import History

Scheduler = torch.optim.lr_scheduler.LRScheduler


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def save_training_state(
    path: str | os.PathLike[str],
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: Scheduler | None,
    source: BatchSource,
    history: History,
    epoch: int,
    device: torch.device,
) -> None:
    """Model, optimizer, scheduler, RNG states, loader seed, epoch and history, atomically."""
    seed = getattr(source.batches, "seed", None)
    save_checkpoint(
        path,
        {
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": None if sched is None else sched.state_dict(),
            "rng": _rng_state(device),
            "loader_seed": seed if isinstance(seed, int) else -1,
            "history": history.to_dict(),
        },
    )


def restore_training_state(
    path: str | os.PathLike[str],
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: Scheduler | None,
    source: BatchSource,
    history: History,
    device: torch.device,
) -> int:
    """Load what :func:`save_training_state` wrote; returns the last finished epoch."""
    state = load_checkpoint(path, map_location=device)
    try:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if sched is not None and state.get("scheduler") is not None:
            sched.load_state_dict(state["scheduler"])
        _set_rng_state({k: v.cpu() for k, v in state["rng"].items()}, device)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint {path} does not match this model/optimizer: {exc}"
        ) from exc
    if state.get("loader_seed", -1) >= 0 and hasattr(source.batches, "seed"):
        source.batches.seed = int(state["loader_seed"])
    history.records.extend(History.from_dict(state["history"]).records)
    return int(state["epoch"])
