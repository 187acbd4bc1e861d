"""The inside of the training loop (used by :mod:`nnkit.train`): steps, epochs, evaluation.

Every function here works the same in a single process and on each rank of a torchrun run;
with a :class:`~nnkit.distributed.DistContext` the sums are reduced over the ranks, and
decisions that change control flow (a divergence, a callback stopping training) are agreed on
by all ranks at the same step, so no rank is ever left waiting in a collective.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from . import losses
from ._batches import BatchSource
from .callbacks import Callback, TrainState
from .distributed import DistContext
from .errors import TrainingDivergedError


@dataclass(frozen=True)
class Evaluation:
    """The result of :func:`evaluate`.

    Attributes
    ----------
    loss : float
        Mean loss per target over the whole data set (per sample for classification, per
        character for sequences), not a mean of batch means.
    accuracy : float or None
        ``correct / total`` in ``[0, 1]``; None when outputs are not class scores.
    correct : int
        Number of correct predictions.
    total : int
        Number of predictions (samples; time steps count separately for sequences).
    """

    loss: float
    accuracy: float | None
    correct: int
    total: int


def _correct(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
    """Number of argmax hits, or None when this is not classification."""
    if targets.is_floating_point() or outputs.dim() < 2 or outputs.shape[:-1] != targets.shape:
        return None
    return (outputs.argmax(-1) == targets).sum()


def _autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager[Any]:
    if not amp:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def _prepare(x: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


class _Totals:
    """Loss sum, hits and counts of a pass, reducible over ranks."""

    def __init__(self, device: torch.device) -> None:
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.float64, device=device)
        self.samples = 0
        self.predictions = 0
        self.classification = True

    def add(self, loss: torch.Tensor, out: torch.Tensor, y: torch.Tensor) -> None:
        self.loss_sum += loss.detach().double() * y.numel()  # mean-reduced: weight by elements
        self.samples += y.numel()
        hits = _correct(out, y)
        if hits is None:
            self.classification = False
        else:
            self.correct += hits
            self.predictions += y.numel()

    def reduce(self, dist: DistContext | None) -> tuple[float, float, int, int, bool]:
        """(loss sum, correct, samples, predictions, classification) over all ranks."""
        values = torch.stack(
            [
                self.loss_sum,
                self.correct,
                torch.tensor(float(self.samples), dtype=torch.float64, device=self.loss_sum.device),
                torch.tensor(
                    float(self.predictions), dtype=torch.float64, device=self.loss_sum.device
                ),
                torch.tensor(
                    0.0 if self.classification else 1.0,
                    dtype=torch.float64,
                    device=self.loss_sum.device,
                ),
            ]
        )
        if dist is not None:
            dist.all_reduce(values)
        loss_sum, correct, samples, predictions, regressions = values.tolist()
        return loss_sum, correct, int(samples), int(predictions), regressions == 0


@torch.no_grad()
def evaluate_source(
    model: nn.Module,
    source: BatchSource,
    loss_fn: losses.LossFn,
    device: torch.device,
    *,
    amp: bool,
    channels_last: bool,
    dist: DistContext | None = None,
) -> Evaluation:
    """Evaluate on every batch of ``source`` (this rank's shard, reduced over ranks)."""
    was_training = model.training
    model.eval()
    totals = _Totals(device)
    try:
        for x, y in source:
            x, y = _prepare(x, device, channels_last), y.to(device, non_blocking=True)
            with _autocast(device, amp):
                out = model(x)  # every rank runs every batch, even an empty share of one
                if y.numel():
                    totals.add(loss_fn(out, y), out, y)
    finally:
        model.train(was_training)
    loss_sum, correct, samples, predictions, classification = totals.reduce(dist)
    if samples == 0:
        raise ValueError("cannot evaluate on empty data")
    n_correct = round(correct) if classification else 0
    return Evaluation(
        loss=loss_sum / samples,
        accuracy=n_correct / predictions if classification and predictions else None,
        correct=n_correct,
        total=predictions if classification else samples,
    )


@dataclass(frozen=True)
class LoopSettings:
    """What the epoch loop needs to know, fixed for a whole :func:`~nnkit.train.fit` call."""

    device: torch.device
    loss_fn: losses.LossFn
    grad_clip: float | None
    amp: bool
    channels_last: bool
    progress: bool
    log_every: int | None
    sync_every: int
    closure_based: bool
    dist: DistContext | None = None


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
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step; returns the (detached) loss and the outputs of the first forward.

    ``weight`` scales the loss that is differentiated (not the one returned): on a rank whose
    share of a global batch is smaller than the others', it makes the ranks' averaged
    gradients equal the gradient of the whole global batch.
    """
    first: list[torch.Tensor] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        with _autocast(s.device, s.amp):
            out = model(x)
            loss = s.loss_fn(out, y) if y.numel() else out.sum() * 0.0
        (loss * weight if weight != 1.0 else loss).backward()
        if s.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        if not first:
            first.extend((loss.detach(), out.detach()))
        return loss

    if s.closure_based:
        optimizer.step(closure)  # type: ignore[arg-type]  # LBFGS takes a tensor-returning closure
    else:
        closure()
        optimizer.step()
    return first[0], first[1]


def log_line(epoch: int, step: int, batch: int, source: BatchSource, loss: float) -> str:
    """The notes' progress line, ``Train Epoch: 1 [3200/60000 (5%)]\tLoss: 0.123456``."""
    total = source.num_samples if source.num_samples is not None else 0
    n_batches = max(len(source), 1)
    percent = 100.0 * step / n_batches
    return f"Train Epoch: {epoch} [{step * batch}/{total} ({percent:.0f}%)]\tLoss: {loss:.6f}"


def _agree_to_stop(state: TrainState, dist: DistContext | None) -> bool:
    if dist is None:
        return state.stop_training
    flag = torch.tensor([1 if state.stop_training else 0], device=dist.device)
    state.stop_training = bool(dist.all_reduce(flag, "max").item())
    return state.stop_training


def run_epoch(
    state: TrainState,
    forward_model: nn.Module,
    source: BatchSource,
    s: LoopSettings,
    callbacks: Sequence[Callback],
    scheduler_step: Callable[[], None] | None,
) -> tuple[float, float | None, int]:
    """Train one epoch; returns mean loss, accuracy (or None) and targets seen (all ranks)."""
    window = _StepWindow(s.dist)
    totals = _Totals(s.device)
    world = 1 if s.dist is None else s.dist.world_size
    forward_model.train()
    bar = tqdm(
        total=len(source) or None,
        desc=f"epoch {state.epoch}/{state.epochs}",
        disable=not s.progress,
        leave=False,
        dynamic_ncols=True,
    )
    with bar:
        for index, (x_cpu, y_cpu) in enumerate(source):
            state.step = index + 1
            for cb in callbacks:
                cb.on_batch_begin(state)
            x = _prepare(x_cpu, s.device, s.channels_last)
            y = y_cpu.to(s.device, non_blocking=True)
            weight = source.rank_weight(int(y.shape[0]), world)
            loss, out = train_step(forward_model, state.optimizer, x, y, s, weight)
            if scheduler_step is not None:
                scheduler_step()
            if y.numel():
                window.add(state.step, loss)
                totals.add(loss, out, y)
            state.batch_loss = loss
            logging = s.log_every is not None and index % s.log_every == 0
            if state.step % s.sync_every == 0 or logging:
                last = window.check(state.epoch)
                if last is not None:
                    bar.set_postfix(loss=f"{last:.4f}", refresh=False)
                if logging and last is not None and state.is_main_process:
                    line = log_line(state.epoch, index, int(y.shape[0]), source, last)
                    (tqdm.write if s.progress else print)(line)
            bar.update(1)
            for cb in callbacks:
                cb.on_batch_end(state)
            # a callback may end training mid-epoch; ranks agree on it every sync_every steps
            synced = s.dist is None or state.step % s.sync_every == 0
            if synced and _agree_to_stop(state, s.dist):
                break
        window.check(state.epoch)
        _agree_to_stop(state, s.dist)  # so that every rank leaves the epoch loop alike
    loss_sum, correct, samples, predictions, classification = totals.reduce(s.dist)
    if samples == 0:
        raise ValueError(f"the training data yielded no batches in epoch {state.epoch}")
    accuracy = correct / predictions if classification and predictions else None
    return loss_sum / samples, accuracy, samples
