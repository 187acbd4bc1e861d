"""The training loop: :func:`fit` and :func:`evaluate`."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from . import losses
from ._batches import BatchSource, make_source
from ._device import resolve_device
from .callbacks import Callback, TrainState
from .checkpoint import load_checkpoint, save_checkpoint
from .errors import CheckpointError, TrainingDivergedError
from .history import EpochRecord, History
from .optimizers import build_optimizer, build_scheduler

__all__ = ["FAST_RECIPE", "Evaluation", "evaluate", "fit"]

#: nnkit's recommended fast settings for MNIST CNNs on a CPU, as ``fit`` keyword arguments:
#: a larger batch, a 4x higher peak learning rate under OneCycle, and the channels-last memory
#: format (faster convolutions and pooling on CPUs). ``fit(model, data, **FAST_RECIPE)``.
#: See ``benchmarks/time_to_accuracy.py`` for what it buys.
FAST_RECIPE: Mapping[str, Any] = MappingProxyType(
    {
        "batch_size": 128,
        "optimizer": "adam",
        "lr": 4e-3,
        "scheduler": "onecycle",
        "channels_last": True,
    }
)

LossArg = str | losses.LossFn | nn.Module


@dataclass(frozen=True)
class Evaluation:
    """The result of :func:`evaluate`.

    Attributes
    ----------
    loss : float
        Mean loss per sample over the whole data set (not a mean of batch means).
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


@torch.no_grad()
def _evaluate(
    model: nn.Module,
    source: BatchSource,
    loss_fn: losses.LossFn,
    device: torch.device,
    *,
    amp: bool,
    channels_last: bool,
) -> Evaluation:
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    samples = predictions = 0
    classification = True
    try:
        for x, y in source:
            x, y = _prepare(x, device, channels_last), y.to(device, non_blocking=True)
            with _autocast(device, amp):
                out = model(x)
                batch_loss = loss_fn(out, y)
            loss_sum += batch_loss.double() * y.shape[0]
            samples += y.shape[0]
            hits = _correct(out, y)
            if hits is None:
                classification = False
            else:
                correct += hits
                predictions += y.numel()
    finally:
        model.train(was_training)
    if samples == 0:
        raise ValueError("cannot evaluate on empty data")
    n_correct = int(correct.item()) if classification else 0
    return Evaluation(
        loss=float(loss_sum.item()) / samples,
        accuracy=n_correct / predictions if classification and predictions else None,
        correct=n_correct,
        total=predictions if classification else samples,
    )


def evaluate(
    model: nn.Module,
    data: Any,
    *,
    loss: LossArg = "cross_entropy",
    batch_size: int = 1000,
    device: str | torch.device | None = None,
    amp: bool = False,
) -> Evaluation:
    """Loss and accuracy of ``model`` on ``data``, in eval mode, without gradients.

    The loss is the true mean over samples: each batch's mean is weighted by its size, so a
    smaller last batch counts for what it holds (the notes divided a sum of batch means by the
    number of samples, which understates the loss by the batch size).

    Parameters
    ----------
    model : torch.nn.Module
        Moved to ``device``.
    data : Dataset, tuple of torch.Tensor or iterable of batches
        As for :func:`fit`.
    loss : str or callable
        A name from :mod:`nnkit.losses` or a ``loss(outputs, targets)`` callable.
    batch_size : int
        Evaluation batch size.
    device : str or torch.device, optional
        CUDA when available, else the CPU.
    amp : bool
        Run under bf16 autocast.

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> model = torch.nn.Linear(2, 2)
    >>> x, y = torch.randn(10, 2), torch.randint(0, 2, (10,))
    >>> result = evaluate(model, (x, y), device="cpu")
    >>> result.total
    10
    """
    dev = resolve_device(device)
    model.to(dev)
    source = make_source(data, batch_size=batch_size, shuffle=False, seed=0, device=dev)
    return _evaluate(model, source, losses.get(loss), dev, amp=amp, channels_last=False)


@dataclass(frozen=True)
class _Settings:
    device: torch.device
    loss_fn: losses.LossFn
    grad_clip: float | None
    amp: bool
    channels_last: bool
    progress: bool
    log_every: int | None
    sync_every: int
    closure_based: bool


class _StepWindow:
    """Per-step losses kept on the device and checked for NaN/inf every ``sync_every`` steps."""

    def __init__(self, device: torch.device) -> None:
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.window: list[torch.Tensor] = []
        self.first_step = 1
        self.samples = 0
        self.predictions = 0
        self.classification = True

    def add(self, step: int, loss: torch.Tensor, n: int, hits: torch.Tensor | None, m: int) -> None:
        if not self.window:
            self.first_step = step
        self.window.append(loss)
        self.loss_sum += loss.double() * n
        self.samples += n
        if hits is None:
            self.classification = False
        else:
            self.correct += hits
            self.predictions += m

    def check(self, epoch: int) -> float | None:
        """Raise on a non-finite loss in the window; return the last loss (or None if empty)."""
        if not self.window:
            return None
        values = torch.stack(self.window).float().cpu()
        self.window.clear()
        bad = (~torch.isfinite(values)).nonzero()
        if len(bad):
            i = int(bad[0, 0])
            raise TrainingDivergedError(epoch, self.first_step + i, float(values[i]))
        return float(values[-1])


def _train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    s: _Settings,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step; returns the (detached) loss and the outputs of the first forward."""
    first: list[torch.Tensor] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        with _autocast(s.device, s.amp):
            out = model(x)
            loss = s.loss_fn(out, y)
        loss.backward()  # type: ignore[no-untyped-call]
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


def _progress(
    source: BatchSource, s: _Settings, epoch: int, epochs: int
) -> tuple[Iterator[tuple[torch.Tensor, torch.Tensor]], Any]:
    bar = tqdm(
        total=len(source) or None,
        desc=f"epoch {epoch}/{epochs}",
        disable=not s.progress,
        leave=False,
        dynamic_ncols=True,
    )
    return iter(source), bar


def _log_line(epoch: int, step: int, batch: int, source: BatchSource, loss: float) -> str:
    total = source.num_samples if source.num_samples is not None else 0
    n_batches = max(len(source), 1)
    percent = 100.0 * step / n_batches
    return f"Train Epoch: {epoch} [{step * batch}/{total} ({percent:.0f}%)]\tLoss: {loss:.6f}"


def _run_epoch(
    state: TrainState,
    forward_model: nn.Module,
    source: BatchSource,
    s: _Settings,
    callbacks: Sequence[Callback],
    scheduler_step: Callable[[], None] | None,
) -> tuple[float, float | None, int]:
    """Train one epoch; returns mean loss, accuracy (or None) and samples seen."""
    window = _StepWindow(s.device)
    batches, bar = _progress(source, s, state.epoch, state.epochs)
    forward_model.train()
    with bar:
        for index, (x_cpu, y_cpu) in enumerate(batches):
            state.step = index + 1
            for cb in callbacks:
                cb.on_batch_begin(state)
            x = _prepare(x_cpu, s.device, s.channels_last)
            y = y_cpu.to(s.device, non_blocking=True)
            loss, out = _train_step(forward_model, state.optimizer, x, y, s)
            if scheduler_step is not None:
                scheduler_step()
            window.add(state.step, loss, int(y.shape[0]), _correct(out, y), y.numel())
            state.batch_loss = loss
            logging = s.log_every is not None and index % s.log_every == 0
            if state.step % s.sync_every == 0 or logging:
                last = window.check(state.epoch)
                bar.set_postfix(loss=f"{last:.4f}", refresh=False)
                if logging and last is not None:
                    line = _log_line(state.epoch, index, int(y.shape[0]), source, last)
                    (tqdm.write if s.progress else print)(line)
            bar.update(1)
            for cb in callbacks:
                cb.on_batch_end(state)
        window.check(state.epoch)
    if window.samples == 0:
        raise ValueError(f"the training data yielded no batches in epoch {state.epoch}")
    accuracy = None
    if window.classification and window.predictions:
        accuracy = int(window.correct.item()) / window.predictions
    return float(window.loss_sum.item()) / window.samples, accuracy, window.samples


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def fit(
    model: nn.Module,
    train: Any,
    *,
    epochs: int = 1,
    test: Any = None,
    loss: LossArg = "cross_entropy",
    optimizer: str | torch.optim.Optimizer = "adam",
    lr: float | None = None,
    weight_decay: float = 0.0,
    optimizer_kwargs: dict[str, Any] | None = None,
    scheduler: str | torch.optim.lr_scheduler.LRScheduler | None = None,
    scheduler_kwargs: dict[str, Any] | None = None,
    grad_clip: float | None = None,
    batch_size: int = 32,
    test_batch_size: int = 1000,
    shuffle: bool = True,
    device: str | torch.device | None = None,
    seed: int | None = None,
    progress: bool = True,
    log_every: int | None = None,
    callbacks: Sequence[Callback] = (),
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    amp: bool = False,
    channels_last: bool = False,
    compile: bool = False,
) -> History:
    """Train ``model`` on ``train`` for ``epochs`` epochs and return the per-epoch history.

    The defaults are the notes' settings: cross entropy, Adam at PyTorch's default lr (0.001),
    batch size 32, shuffled. The model is trained in place (and moved to ``device``).

    Parameters
    ----------
    model : torch.nn.Module
        The model; for classification it maps ``(N, ...)`` inputs to ``(N, C)`` logits (or
        ``(N, T, C)`` for sequences).
    train : Dataset, tuple of torch.Tensor, DataLoader or iterable of batches
        Training data. ``(inputs, targets)`` tensors, a ``TensorDataset`` or an MNIST dataset go
        through :class:`~nnkit.data.TensorLoader` (one gather per batch); another Dataset
        through a ``DataLoader``; a re-iterable of ``(inputs, targets)`` batches is used as is.
    epochs : int
        Number of epochs (the total, counting epochs restored by ``resume``).
    test : same kinds as ``train``, optional
        Evaluated after every epoch (``test_loss``/``test_accuracy`` in the history).
    loss : str or callable
        A name from :mod:`nnkit.losses` (``"cross_entropy"``, ``"mse"``...) or a callable.
    optimizer : str or torch.optim.Optimizer
        A name from :data:`nnkit.optimizers.OPTIMIZER_NAMES` (``"lbfgs"`` is driven with a
        closure) or an optimizer built on ``model.parameters()``.
    lr, weight_decay, optimizer_kwargs
        Settings of an optimizer given by name.
    scheduler : {"onecycle", "cosine", "step"} or LRScheduler, optional
        Learning-rate schedule; OneCycle steps every batch, the others every epoch.
    scheduler_kwargs : dict, optional
        Extra arguments of a named scheduler.
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    batch_size, test_batch_size : int
        Batch sizes for training and evaluation.
    shuffle : bool
        Shuffle the training data every epoch.
    device : str or torch.device, optional
        CUDA when available, else the CPU.
    seed : int, optional
        Seeds torch's generator and the shuffling, for reproducible runs.
    progress : bool
        Show a tqdm bar per epoch with the live loss; False is silent.
    log_every : int, optional
        Every this many batches, print the notes' line
        ``Train Epoch: 1 [3200/60000 (5%)]\\tLoss: 0.123456``.
    callbacks : sequence of Callback
        See :mod:`nnkit.callbacks`.
    checkpoint : str or os.PathLike, optional
        After every epoch, save model, optimizer, scheduler, RNG states, epoch and history here,
        atomically.
    resume : bool
        Continue from ``checkpoint`` if it exists (it is not an error if it does not). Resuming
        is exact: 2 epochs straight and 1 + resume + 1 give identical weights on the CPU.
    amp : bool
        bf16 autocast (CPU and CUDA).
    channels_last : bool
        Use the channels-last memory format for the model and 4-d inputs.
    compile : bool
        Train through ``torch.compile(model)`` (the weights stay those of ``model``).

    Returns
    -------
    History
        One :class:`~nnkit.history.EpochRecord` per finished epoch. If Ctrl-C is pressed, the
        epoch in progress is abandoned, ``history.interrupted`` is True and the history so far is
        returned; the last checkpoint (end of the previous epoch) is left intact.

    Raises
    ------
    nnkit.errors.TrainingDivergedError
        The loss became NaN or infinite (the error names the epoch and step).
    nnkit.errors.CheckpointError
        ``resume`` found a checkpoint that does not fit this model or optimizer.

    Examples
    --------
    >>> from nnkit.data import load_mnist_sample
    >>> from nnkit.models import MnistCNN
    >>> history = fit(MnistCNN(depth=1), load_mnist_sample(train=False), epochs=1,
    ...               seed=0, device="cpu", progress=False)
    >>> len(history), 0.0 < history.last.train_accuracy <= 1.0
    (1, True)
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if grad_clip is not None and grad_clip <= 0:
        raise ValueError(f"grad_clip must be positive, got {grad_clip!r}")
    if log_every is not None and log_every < 1:
        raise ValueError(f"log_every must be a positive integer, got {log_every!r}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=PATH to resume from")
    dev = resolve_device(device)
    if seed is not None:
        torch.manual_seed(seed)
    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    source = make_source(train, batch_size=batch_size, shuffle=shuffle, seed=seed, device=dev)
    test_source = (
        None
        if test is None
        else make_source(test, batch_size=test_batch_size, shuffle=False, seed=0, device=dev)
    )
    opt = build_optimizer(
        optimizer,
        model.parameters(),
        lr=lr,
        weight_decay=weight_decay,
        device=dev,
        **(optimizer_kwargs or {}),
    )
    sched, interval = (None, "epoch")
    if scheduler is not None:
        sched, interval = build_scheduler(
            scheduler,
            opt,
            epochs=epochs,
            steps_per_epoch=max(len(source), 1),
            **(scheduler_kwargs or {}),
        )
    settings = _Settings(
        device=dev,
        loss_fn=losses.get(loss),
        grad_clip=grad_clip,
        amp=amp,
        channels_last=channels_last,
        progress=progress,
        log_every=log_every,
        sync_every=8 if dev.type == "cpu" else 32,
        closure_based=isinstance(opt, torch.optim.LBFGS),
    )
    history = History()
    start_epoch = 1
    if resume and checkpoint is not None and Path(checkpoint).exists():
        start_epoch = _restore(checkpoint, model, opt, sched, source, history, dev) + 1
    forward_model: nn.Module = torch.compile(model) if compile else model  # type: ignore[assignment]
    state = TrainState(model=model, optimizer=opt, history=history, epochs=epochs)
    batch_step = sched.step if sched is not None and interval == "batch" else None
    for cb in callbacks:
        cb.on_train_begin(state)
    try:
        for epoch in range(start_epoch, epochs + 1):
            state.epoch, state.step = epoch, 0
            source.set_epoch(epoch - 1)
            for cb in callbacks:
                cb.on_epoch_begin(state)
            lr_now = float(opt.param_groups[0]["lr"])
            started = time.perf_counter()
            train_loss, train_acc, seen = _run_epoch(
                state, forward_model, source, settings, callbacks, batch_step
            )
            seconds = time.perf_counter() - started
            if sched is not None and interval == "epoch":
                sched.step()
            result = None
            if test_source is not None:
                result = _evaluate(
                    forward_model,
                    test_source,
                    settings.loss_fn,
                    dev,
                    amp=amp,
                    channels_last=channels_last,
                )
            record = EpochRecord(
                epoch=epoch,
                train_loss=train_loss,
                train_accuracy=train_acc,
                test_loss=None if result is None else result.loss,
                test_accuracy=None if result is None else result.accuracy,
                lr=lr_now,
                seconds=seconds,
                samples_per_second=seen / seconds if seconds > 0 else math.inf,
            )
            history.append(record)
            for cb in callbacks:
                cb.on_epoch_end(state, record)
            if checkpoint is not None:
                _save(checkpoint, model, opt, sched, source, history, epoch, dev)
            if state.stop_training:
                history.stopped_early = epoch < epochs
                break
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        for cb in callbacks:
            cb.on_train_end(state)
    return history


def _loader_seed(source: BatchSource) -> int | None:
    seed = getattr(source.batches, "seed", None)
    return int(seed) if isinstance(seed, int) else None


def _save(
    path: str | os.PathLike[str],
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler | None,
    source: BatchSource,
    history: History,
    epoch: int,
    device: torch.device,
) -> None:
    seed = _loader_seed(source)
    save_checkpoint(
        path,
        {
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": None if sched is None else sched.state_dict(),
            "rng": _rng_state(device),
            "loader_seed": -1 if seed is None else seed,
            "history": history.to_dict(),
        },
    )


def _restore(
    path: str | os.PathLike[str],
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler | None,
    source: BatchSource,
    history: History,
    device: torch.device,
) -> int:
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
    restored = History.from_dict(state["history"])
    history.records.extend(restored.records)
    return int(state["epoch"])
