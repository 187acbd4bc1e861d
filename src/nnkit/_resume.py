"""What a training checkpoint holds, and what a resume may change.

One atomic checkpoint holds everything that decides what a run does next (the model, the
optimizer, the learning-rate scheduler, the loss scaler, torch's random generators, every
batch source, every callback that keeps state, the history, where the budgets stand) and the
settings that shaped the run (:func:`settings_differences` compares them with a resumed
call's). A run killed at any moment and resumed from it ends as the uninterrupted run does.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import torch

from .checkpoint import load_checkpoint, save_checkpoint
from .errors import CheckpointError

#: Bumped whenever what a training checkpoint holds changes (3: the run's settings).
TRAINING_STATE_VERSION = 3
#: Versions this nnkit resumes (2 lacks the settings, which are then not compared).
READABLE_VERSIONS = (2, 3)
#: Settings that a resumed run may change: applied, and said in one line.
ADJUSTABLE = frozenset({"epochs", "max_steps", "max_seconds", "callbacks"})


def plain(value: Any) -> Any:
    """``value`` as plain data that survives a ``weights_only`` round trip unchanged (tuples
    become lists, tensors and numbers floats or ints), for comparing settings."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return plain(value.tolist())
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return repr(value)


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[" + ", ".join(value) + "]"
    return str(value)


def settings_differences(
    saved: Mapping[str, Any], now: Mapping[str, Any]
) -> tuple[list[str], list[str]]:
    """``(refused, applied)``: each setting that differs, as ``"name saved -> now"``; those a
    resume may change (:data:`ADJUSTABLE`) are applied, any other refuses the resume."""
    refused: list[str] = []
    applied: list[str] = []
    for key in dict.fromkeys([*saved, *now]):
        before, after = saved.get(key), now.get(key)
        if before != after:
            line = f"{key} {_show(before)} -> {_show(after)}"
            (applied if key in ADJUSTABLE else refused).append(line)
    return refused, applied


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: Mapping[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def save_training_state(path: str | os.PathLike[str], state: Mapping[str, Any]) -> None:
    """Write a run's whole state to ``path``, atomically."""
    save_checkpoint(path, {"training_state": TRAINING_STATE_VERSION, **state})


def load_training_state(path: str | os.PathLike[str], device: torch.device) -> dict[str, Any]:
    """Read what :func:`save_training_state` wrote (a :class:`CheckpointError` for a file
    that another version of ``fit``, or something else, wrote)."""
    state = load_checkpoint(path, map_location=device)
    if state.get("training_state") not in READABLE_VERSIONS:
        raise CheckpointError(
            f"checkpoint {path} was not written by this version of nnkit's fit (it lacks the "
            "state of the data, the schedule and the callbacks), so it cannot be resumed "
            "exactly; train without resume=True, or delete the file"
        )
    _check_counters(path, state)
    return state


def _check_counters(path: str | os.PathLike[str], state: Mapping[str, Any]) -> None:
    """Where the budgets stand must be numbers a run can have reached."""

    def whole(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    def seconds(v: object) -> bool:
        number = isinstance(v, int | float) and not isinstance(v, bool)
        return number and math.isfinite(v) and v >= 0  # type: ignore[arg-type,operator]

    checks = {"epoch": whole, "global_step": whole, "elapsed": seconds}
    for key, valid in checks.items():
        if key not in state:
            raise CheckpointError(f"checkpoint {path} is damaged: it lacks {key!r}")
        if not valid(state[key]):
            kind = "seconds >= 0" if key == "elapsed" else "a whole number >= 0"
            raise CheckpointError(
                f"checkpoint {path} is damaged: {key} must be {kind}, got {state[key]!r}"
            )
    if state["global_step"] < state["epoch"]:
        raise CheckpointError(
            f"checkpoint {path} is damaged: {state['epoch']} epochs cannot have taken "
            f"{state['global_step']} steps"
        )
