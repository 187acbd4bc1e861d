"""One optimizer step of :func:`~nnkit.train.fit`, over one batch or, with ``accumulate=N``,
over N batches whose gradients add up to the gradient of their union.

Every function here works the same in a single process and on each rank of a torchrun run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from . import losses
from ._forward import forward_loss
from .data.sources import BatchSource
from .distributed import DistContext
from .errors import TrainingDivergedError
from .runtime import ActiveRuntime


@dataclass(frozen=True)
class Micro:
    """One batch of a step: its inputs and targets on the device, and the share of the step's
    samples it holds over all ranks (``weight``: the factor of its mean loss in the step's)."""

    x: torch.Tensor
    y: torch.Tensor
    weight: float


def groups(source: BatchSource, accumulate: int, rt: ActiveRuntime) -> Iterator[list[Micro]]:
    """The epoch's batches of ``source``, ``accumulate`` at a time (the last group may be
    shorter), each weighted by its share of its group's samples over all ranks.

    The weights make the step's gradient the gradient of the mean loss over every sample of
    the group on every rank: a rank's smaller share of a global batch, and a smaller last
    batch, count for what they hold. With one batch per step in one process the weight is 1.
    """
    pending: list[tuple[torch.Tensor, torch.Tensor, int, int]] = []
    world = rt.world_size
    for x_in, y_in in source:
        local = int(y_in.shape[0])
        pending.append((x_in, y_in, local * world, source.global_count or local * world))
        if len(pending) == accumulate:
            yield _weighted(pending, rt)
            pending = []
    if pending:
        yield _weighted(pending, rt)


def _weighted(
    pending: list[tuple[torch.Tensor, torch.Tensor, int, int]], rt: ActiveRuntime
) -> list[Micro]:
    total = sum(count for *_, count in pending)
    return [
        Micro(rt.inputs(x), rt.targets(y), scaled / total if total else 0.0)
        for x, y, scaled, _ in pending
    ]


@dataclass(frozen=True)
class StepResult:
    """What one step measured: every batch's detached loss and outputs (for the totals and
    the metrics), and the step's loss (the weighted mean over its batches)."""

    batches: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]]
    loss: torch.Tensor


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    micro: list[Micro],
    *,
    loss_fn: losses.LossFn | None,
    rt: ActiveRuntime,
    scaler: torch.amp.GradScaler | None,
    grad_clip: float | None,
    closure_based: bool,
) -> StepResult:
    """One optimisation step over the batches ``micro``."""
    seen: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]] = []
    last = len(micro) - 1

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        for i, m in enumerate(micro):
            # under DDP only the last batch of a step reduces the gradients over the ranks
            sync = rt.dist is None or i == last
            with contextlib.nullcontext() if sync else model.no_sync():  # type: ignore[operator]
                with rt.autocast():
                    loss, out = forward_loss(model, m.x, m.y, loss_fn)
                weighted = loss * m.weight if m.weight != 1.0 else loss
                (weighted if scaler is None else scaler.scale(weighted)).backward()  # type: ignore[no-untyped-call]
            if len(seen) < len(micro):
                seen.append((loss.detach(), None if out is None else out.detach(), m.y))
        if grad_clip is not None:
            if scaler is not None:
                scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        return loss  # the last batch's (LBFGS reads it; it takes one batch per step)

    if closure_based:
        optimizer.step(closure)  # type: ignore[arg-type]  # LBFGS takes a tensor-returning closure
    else:
        closure()
        if scaler is None:
            optimizer.step()
        else:
            scaler.step(optimizer)
            scaler.update()
    if len(seen) == 1:
        return StepResult(seen, seen[0][0])
    weighted = [loss.float() * m.weight for (loss, _, _), m in zip(seen, micro, strict=True)]
    return StepResult(seen, torch.stack(weighted).sum())


class StepWindow:
    """Per-step losses kept on the device and checked for NaN/inf every few steps."""

    def __init__(self, dist: DistContext | None) -> None:
        self.window: list[torch.Tensor] = []
        self.first_step = 1
        self.dist = dist

    def add(self, step: int, loss: torch.Tensor) -> None:
        if not self.window:
            self.first_step = step
        self.window.append(loss.detach())

    def check(self, epoch: int) -> float | None:
        """Raise on a non-finite loss (on any rank); return the last loss (None if empty)."""
        if not self.window:
            return None
        values = torch.stack(self.window).float()
        self.window.clear()
        bad = (~torch.isfinite(values)).nonzero()
        first_bad = int(bad[0, 0]) if len(bad) else len(values)
        if self.dist is not None:  # every rank learns the earliest bad step of any rank
            flag = torch.tensor([first_bad], device=values.device)
            first_bad = int(self.dist.all_reduce(flag, "min").item())
        cpu = values.cpu()
        if first_bad < len(cpu):
            raise TrainingDivergedError(epoch, self.first_step + first_bad, float(cpu[first_bad]))
        return float(cpu[-1])


def log_line(epoch: int, step: int, batch: int, source: BatchSource, loss: float) -> str:
    """The notes' progress line, ``Train Epoch: 1 [3200/60000 (5%)]\tLoss: 0.123456``."""
    total = source.num_samples or 0
    n_batches = max(len(source), 1)
    percent = 100.0 * step / n_batches
    return f"Train Epoch: {epoch} [{step * batch}/{total} ({percent:.0f}%)]\tLoss: {loss:.6f}"


def steps_per_epoch(source: BatchSource, accumulate: int) -> int:
    """Optimizer steps an epoch of ``source`` takes (0 when its length is unknown)."""
    return -(-len(source) // accumulate)
