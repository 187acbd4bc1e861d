"""The inside of the training loop (used by :func:`nnkit.train.fit`): one step, one epoch.

Every function here works the same in a single process and on each rank of a torchrun run;
with a :class:`~nnkit.distributed.DistContext` the sums are reduced over the ranks, and
decisions that change control flow (a divergence, a callback or a budget ending training) are
agreed on by all ranks at the same step, so no rank is ever left waiting in a collective.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from tqdm.auto import tqdm

from . import losses
from ._budget import Budget
from ._forward import Totals, forward_loss
from ._scheduling import LRDriver
from ._validate import fail
from .callbacks import Callback, TrainState
from .data.sources import BatchSource
from .distributed import DistContext
from .errors import TrainingDivergedError
from .metrics import Metric, MetricTotals
from .runtime import ActiveRuntime

#: Why an epoch ended before its data did.
EpochStop = Literal["max_steps", "max_seconds", "callback"]
_STOP_CODES: tuple[EpochStop | None, ...] = (None, "callback", "max_seconds", "max_steps")


class Clock:
    """Seconds since the run began, counting those of the run a checkpoint continues."""

    def __init__(self, offset: float = 0.0) -> None:
        self.started = time.perf_counter() - offset

    def __call__(self) -> float:
        return time.perf_counter() - self.started


@dataclass(frozen=True)
class LoopSettings:
    """What the epoch loop needs to know, fixed for a whole :func:`~nnkit.train.fit` call."""

    rt: ActiveRuntime
    loss_fn: losses.LossFn | None
    metrics: Sequence[Metric]
    budget: Budget
    grad_clip: float | None
    progress: bool
    log_every: int | None
    closure_based: bool

    @property
    def sync_every(self) -> int:
        """Steps between host synchronisations (NaN checks, progress, rank agreement)."""
        return 8 if self.rt.device.type == "cpu" else 32


@dataclass
class EpochResult:
    """What one epoch of training measured (reduced over the ranks)."""

    loss: float
    accuracy: float | None
    samples: int
    lr: float
    metrics: dict[str, float] = field(default_factory=dict)
    stop: EpochStop | None = None


class _StepWindow:
    """Per-step losses kept on the device and checked for NaN/inf every ``sync_every`` steps."""

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


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    s: LoopSettings,
    weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One optimisation step; returns the (detached) loss and outputs of the first forward.

    ``weight`` scales the loss that is differentiated (not the one returned): on a rank whose
    share of a global batch is smaller than the others', it makes the ranks' averaged
    gradients equal the gradient of the whole global batch.
    """
    first: list[tuple[torch.Tensor, torch.Tensor | None]] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        with s.rt.autocast():
            loss, out = forward_loss(model, x, y, s.loss_fn)
        (loss * weight if weight != 1.0 else loss).backward()  # type: ignore[no-untyped-call]
        if s.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        if not first:
            first.append((loss.detach(), None if out is None else out.detach()))
        return loss

    if s.closure_based:
        optimizer.step(closure)  # type: ignore[arg-type]  # LBFGS takes a tensor-returning closure
    else:
        closure()
        optimizer.step()
    return first[0]


def log_line(epoch: int, step: int, batch: int, source: BatchSource, loss: float) -> str:
    """The notes' progress line, ``Train Epoch: 1 [3200/60000 (5%)]\tLoss: 0.123456``."""
    total = source.num_samples or 0
    n_batches = max(len(source), 1)
    percent = 100.0 * step / n_batches
    return f"Train Epoch: {epoch} [{step * batch}/{total} ({percent:.0f}%)]\tLoss: {loss:.6f}"


def agree(stop: EpochStop | None, dist: DistContext | None) -> EpochStop | None:
    """The stop that every rank takes: the most binding of the ranks' own (steps > time >
    callback), so that all of them leave the loop at the same step."""
    if dist is None:
        return stop
    code = torch.tensor([_STOP_CODES.index(stop)], device=dist.device)
    return _STOP_CODES[int(dist.all_reduce(code, "max").item())]


def _rank_weight(source: BatchSource, n_local: int, world_size: int) -> float:
    """Loss weight of this rank's part of the current global batch (1 when all are equal)."""
    n_global = source.global_count
    if world_size == 1 or not n_global:
        return 1.0
    return n_local * world_size / n_global


def _bar(state: TrainState, source: BatchSource, s: LoopSettings) -> tqdm:
    total = len(source) or None
    steps_left = s.budget.total_steps
    if steps_left is not None:
        remaining = steps_left - state.global_step
        total = remaining if total is None else min(total, remaining)
    desc = f"epoch {state.epoch}" + (f"/{state.epochs}" if state.epochs is not None else "")
    return tqdm(
        total=total,
        desc=desc,
        disable=not s.progress,
        leave=False,
        dynamic_ncols=True,
    )


def run_epoch(
    state: TrainState,
    forward_model: nn.Module,
    source: BatchSource,
    s: LoopSettings,
    callbacks: Sequence[Callback],
    driver: LRDriver,
    clock: Clock,
) -> EpochResult:
    """Train one epoch, or until a budget or a callback ends it (on every rank alike)."""
    rt = s.rt
    window = _StepWindow(rt.dist)
    totals = Totals(rt.device)
    extra = MetricTotals(s.metrics, rt.device)
    epochs_done = state.epoch - 1
    lr = float(state.optimizer.param_groups[0]["lr"])
    stop: EpochStop | None = None
    forward_model.train()
    with _bar(state, source, s) as bar:
        for index, (x_in, y_in) in enumerate(source):
            state.step = index + 1
            for cb in callbacks:
                cb.on_batch_begin(state)
            driver.before_step(s.budget.progress(state.global_step, clock(), epochs_done))
            if index == 0:
                lr = float(state.optimizer.param_groups[0]["lr"])
            x, y = rt.inputs(x_in), rt.targets(y_in)
            weight = _rank_weight(source, int(y.shape[0]), rt.world_size)
            loss, out = train_step(forward_model, state.optimizer, x, y, s, weight)
            driver.after_step()
            state.global_step += 1
            if y.numel():
                window.add(state.step, loss)
                totals.add(loss, out, y)
                extra.add(out, y, loss)
            state.batch_loss = loss
            state.elapsed = clock()
            state.progress = s.budget.progress(state.global_step, state.elapsed, epochs_done)
            logging = s.log_every is not None and index % s.log_every == 0
            synced = state.step % s.sync_every == 0
            if synced or logging:
                last = window.check(state.epoch)
                if last is not None:
                    left = s.budget.seconds_left(state.elapsed)
                    shown = {"loss": f"{last:.4f}"} | (
                        {} if left is None else {"left": f"{left:.0f}s"}
                    )
                    bar.set_postfix(shown, refresh=False)
                if logging and last is not None and state.is_main_process:
                    line = log_line(state.epoch, index, int(y.shape[0]), source, last)
                    (tqdm.write if s.progress else print)(line)
            bar.update(1)
            for cb in callbacks:
                cb.on_batch_end(state)
            stop = s.budget.exhausted(state.global_step, state.elapsed) or (
                "callback" if state.stop_training else None
            )
            # the step budget ends every rank at the same step; on time and callbacks the ranks
            # agree every sync_every steps; a single process stops at once
            if stop == "max_steps":
                break
            if rt.dist is None or synced:
                stop = agree(stop, rt.dist)
                if stop is not None:
                    break
        window.check(state.epoch)
        if rt.dist is not None:
            stop = agree(stop, rt.dist)  # so that every rank leaves the epoch alike
    mean, accuracy, _, samples = totals.summary(rt.dist)
    if samples == 0:
        raise fail("data", f"the training data yielded no batches in epoch {state.epoch}")
    if stop == "callback":
        state.stop_training = True
    return EpochResult(mean, accuracy, samples, lr, extra.reduce(rt.dist), stop)
