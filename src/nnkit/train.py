"""The training loop: :func:`fit`, the one loop everything in nnkit trains through.

``fit`` reads top to bottom: check the arguments, place the model, turn the data into batch
sources, build the optimizer and the schedule, restore a checkpoint if asked, then for every
epoch train (until the epoch, a budget or a callback ends it), evaluate, record, let the
schedule and the callbacks see the record, and save a checkpoint.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import losses
from ._budget import Budget
from ._loop import Clock, EpochResult, LoopSettings, agree, run_epoch
from ._resume import ResumePoint, TrainingParts, restore_training_state, save_training_state
from ._scheduling import LRDriver
from ._validate import (
    boolean,
    fail,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from .callbacks import Callback, TrainState
from .data.sources import BatchSource, DataLike, make_source
from .distributed import timed_out
from .evaluation import Evaluation, evaluate, evaluate_source
from .history import EpochRecord, History, StopReason
from .metrics import MetricsArg, as_metrics
from .optimizers import OptimizerName, build_optimizer, optimizer_class
from .recipes import FAST_RECIPE, GPU_RECIPE, NOTES_RECIPE, Recipe
from .runtime import ActiveRuntime, DeviceArg, Runtime
from .schedules import SchedulerArg

__all__ = [
    "FAST_RECIPE",
    "GPU_RECIPE",
    "NOTES_RECIPE",
    "DataLike",
    "Evaluation",
    "Recipe",
    "evaluate",
    "fit",
]


def fit(
    model: nn.Module,
    train: DataLike,
    *,
    epochs: int | None = None,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    test: DataLike | None = None,
    loss: losses.LossArg | None = "cross_entropy",
    metrics: MetricsArg = (),
    optimizer: OptimizerName | torch.optim.Optimizer = "adam",
    lr: float | None = None,
    weight_decay: float = 0.0,
    optimizer_kwargs: Mapping[str, Any] | None = None,
    scheduler: SchedulerArg = None,
    scheduler_kwargs: Mapping[str, Any] | None = None,
    grad_clip: float | None = None,
    batch_size: int = 32,
    test_batch_size: int = 1000,
    shuffle: bool = True,
    device: DeviceArg = None,
    runtime: Runtime | None = None,
    seed: int | None = None,
    progress: bool = True,
    log_every: int | None = None,
    callbacks: Sequence[Callback] = (),
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
) -> History:
    """Train ``model`` on ``train`` and return the per-epoch history.

    The defaults are the notes' settings: cross entropy, Adam at PyTorch's default lr (0.001),
    batch size 32, shuffled, one epoch. The model is trained in place (and moved to the
    device).

    Parameters
    ----------
    model : torch.nn.Module
        The model; for classification it maps ``(N, ...)`` inputs to ``(N, C)`` logits (or
        ``(N, T, C)`` for sequences). With ``loss=None`` it computes its own loss (below).
    train : DataLike
        Training data. ``(inputs, targets)`` tensors, a ``TensorDataset`` or an MNIST dataset
        go through :class:`~nnkit.data.TensorLoader` (one gather per batch); another map-style
        Dataset through a :class:`~nnkit.data.DatasetSource`; a ``DataLoader``, any
        :class:`~nnkit.data.BatchSource` (:class:`nnkit.text.StreamBatches`...) or a
        re-iterable of ``(inputs, targets)`` batches is used as it is.
    epochs : int, optional
        At most this many epochs (counting those a resumed run restored). The three budgets
        (``epochs``, ``max_steps``, ``max_seconds``) end the run at whichever comes first; with
        none given, one epoch. ``history.stop_reason`` says which ended it.
    max_steps : int, optional
        At most this many optimizer steps, checked after every step; the epoch it ends is then
        evaluated and recorded as usual.
    max_seconds : float, optional
        At most this many seconds of wall time (training, evaluation and callbacks; a resumed
        run counts the seconds before it), checked after every step.
    test : DataLike, optional
        Evaluated after every epoch (``test_loss``/``test_accuracy`` and ``test_<metric>``).
    loss : str, callable or None
        A name from :data:`nnkit.losses.LOSS_NAMES`, a ``loss(outputs, targets)`` callable or
        loss module. None: the model computes its own loss (an adaptive softmax, a VAE): it is
        called as ``model(inputs, targets)`` and returns the mean loss over the targets as a
        one-element tensor, or an object with a ``.loss`` tensor and optionally ``.logits``
        (read by the accuracy and the metrics).
    metrics : list or mapping, optional
        More per-epoch metrics (:mod:`nnkit.metrics`): :class:`~nnkit.metrics.Metric` objects
        (``TopKAccuracy(5)``, ``BitsPerChar()``...) or functions ``fn(outputs, targets) ->
        batch mean``, computed on the training batches as they are trained and on the test data,
        stored as ``record.extra["train_<name>"]`` and ``["test_<name>"]``.
    optimizer : str or torch.optim.Optimizer
        A name from :data:`nnkit.optimizers.OPTIMIZER_NAMES` (``"lbfgs"`` is driven with a
        closure) or an optimizer built on ``model.parameters()``.
    lr : float, optional
        Learning rate of an optimizer given by name (PyTorch's default for it when None); the
        peak that a schedule scales.
    weight_decay : float
        Weight decay of an optimizer given by name (decoupled for AdamW).
    optimizer_kwargs : mapping, optional
        Further arguments of an optimizer given by name (``betas``, ``momentum``...).
    scheduler : str, Schedule or torch.optim.lr_scheduler.LRScheduler, optional
        The learning-rate schedule (:mod:`nnkit.schedules`): a
        :class:`~nnkit.schedules.Schedule` (:class:`~nnkit.schedules.Cosine`,
        :class:`~nnkit.schedules.ReduceOnPlateau`...) over the budget, set before every step;
        ``"cosine"`` (``Cosine()``), ``"onecycle"`` (PyTorch's OneCycleLR over the step
        budget) or ``"step"``; or a ``torch.optim.lr_scheduler`` object (OneCycleLR and CyclicLR
        step every batch, ReduceLROnPlateau every epoch with the test loss, or the training
        loss without test data, the others every epoch).
    scheduler_kwargs : mapping, optional
        Arguments of a scheduler given by name (``{"floor": 0.1}`` for ``"cosine"``).
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    batch_size : int
        Training batch size (per rank under torchrun).
    test_batch_size : int
        Evaluation batch size (per rank under torchrun); it changes speed, not the results.
    shuffle : bool
        Shuffle the training data every epoch.
    device : str or torch.device, optional
        CUDA when available, else the CPU (a shortcut for ``runtime=Runtime(device=...)``).
    runtime : Runtime, optional
        How the arithmetic runs: bf16 ``amp``, ``channels_last``, ``compile``,
        ``distributed`` (data-parallel under torchrun: each rank takes a disjoint share of every
        global batch of ``batch_size * WORLD_SIZE``, metrics are reduced over the ranks, and
        only rank 0 shows progress, prints and writes). See :class:`~nnkit.runtime.Runtime`.
    seed : int, optional
        Seeds torch's generator and the shuffling, for reproducible runs.
    progress : bool
        Show a tqdm bar per epoch with the live loss (it counts the step budget); False is
        silent.
    log_every : int, optional
        Every this many batches, print the notes' line
        ``Train Epoch: 1 [3200/60000 (5%)]\\tLoss: 0.123456``.
    callbacks : sequence of Callback
        See :mod:`nnkit.callbacks`.
    checkpoint : str or os.PathLike, optional
        After every epoch, save everything a resumed run needs here, atomically: model,
        optimizer, schedule, random generators, batch sources, callback states, budgets used
        and history.
    resume : bool
        Continue from ``checkpoint`` if it exists (it is not an error if it does not), at the
        epoch after the last one saved. Resuming is exact: on the CPU, a run killed at any
        point and resumed ends with the same weights, optimizer state and history (timings
        aside) as the uninterrupted run.

    Returns
    -------
    History
        One :class:`~nnkit.history.EpochRecord` per epoch (the last one may be partial when a
        budget or a callback ended it mid-epoch), and ``stop_reason``. If Ctrl-C is pressed,
        the epoch in progress is abandoned, ``history.stop_reason`` is ``"interrupted"`` and
        the history so far is returned; the last checkpoint (end of the previous epoch) is
        left intact.

    Raises
    ------
    nnkit.errors.InvalidArgumentError
        An argument is invalid (before anything is trained).
    nnkit.errors.TrainingDivergedError
        The loss became NaN or infinite (the error names the epoch and step).
    nnkit.errors.CheckpointError
        ``resume`` found a checkpoint that does not fit this model, optimizer or data.
    nnkit.errors.DistributedTimeoutError
        Under torchrun, another rank did not answer within ``Runtime(dist_timeout=...)``
        seconds (the error names it).

    Examples
    --------
    >>> from nnkit.data import load_mnist_sample
    >>> from nnkit.models import MnistCNN
    >>> history = fit(MnistCNN(depth=1), load_mnist_sample(train=False), epochs=1,
    ...               seed=0, device="cpu", progress=False)
    >>> len(history), 0.0 < history.last.train_accuracy <= 1.0, history.stop_reason
    (1, True, 'epochs')
    >>> history = fit(MnistCNN(depth=1), load_mnist_sample(train=False), max_steps=5,
    ...               scheduler="cosine", device="cpu", progress=False)
    >>> history.stop_reason
    'max_steps'
    """
    # -- check everything before anything is touched ------------------------------------------
    if grad_clip is not None:
        grad_clip = positive_float(grad_clip, "grad_clip")
    if log_every is not None:
        positive_int(log_every, "log_every")
    positive_int(batch_size, "batch_size")
    positive_int(test_batch_size, "test_batch_size")
    non_negative_float(weight_decay, "weight_decay")
    if lr is not None:
        positive_float(lr, "lr")
    if isinstance(optimizer, str):
        optimizer_class(optimizer)  # an unknown name fails here, before anything is touched
    for name, flag in (("shuffle", shuffle), ("progress", progress), ("resume", resume)):
        boolean(flag, name)
    if resume and checkpoint is None:
        raise fail("resume", "resume=True needs checkpoint=PATH to resume from")
    if seed is not None:
        non_negative_int(seed, "seed")
    if runtime is not None and not isinstance(runtime, Runtime):
        raise fail("runtime", f"runtime must be an nnkit.runtime.Runtime, got {runtime!r}")
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise fail("callbacks", f"callbacks must be nnkit Callback objects, got {cb!r}")
    loss_fn = None if loss is None else losses.get(loss)
    metric_list = as_metrics(metrics)
    budget = Budget.of(epochs, max_steps, max_seconds, steps_per_epoch=0)

    # -- set up: runtime, data, optimizer, schedule --------------------------------------------
    rt = (runtime or Runtime()).with_device(device).start(model=model)
    if seed is not None:
        torch.manual_seed(seed)
    rt.place(model)
    source = make_source(train, batch_size=batch_size, shuffle=shuffle, seed=seed, device=rt.device)
    sources: dict[str, BatchSource] = {"train": source}
    if test is not None:
        sources["test"] = make_source(
            test, batch_size=test_batch_size, shuffle=False, seed=0, device=rt.device
        )
    _shard(rt, sources)
    opt = build_optimizer(
        optimizer,
        model.parameters(),
        lr=lr,
        weight_decay=weight_decay,
        device=rt.device,
        **dict(optimizer_kwargs or {}),
    )
    budget = dataclasses.replace(budget, steps_per_epoch=len(source))
    driver = LRDriver(scheduler, opt, budget, scheduler_kwargs)
    settings = LoopSettings(
        rt=rt,
        loss_fn=loss_fn,
        metrics=metric_list,
        budget=budget,
        grad_clip=grad_clip,
        progress=progress and rt.is_main,
        log_every=log_every,
        closure_based=isinstance(opt, torch.optim.LBFGS),
    )
    history = History()
    state = TrainState(model, opt, history, budget.epochs, is_main_process=rt.is_main)
    parts = TrainingParts(model, opt, driver, sources, callbacks, history, rt.device)
    point = ResumePoint(epoch=0, global_step=0, elapsed=0.0)
    if resume and checkpoint is not None and Path(checkpoint).exists():
        point = restore_training_state(checkpoint, parts)
    state.global_step, state.elapsed = point.global_step, point.elapsed
    forward_model = rt.wrap(model)
    clock = Clock(point.elapsed)

    # -- the loop ------------------------------------------------------------------------------
    reason: StopReason | None = None
    for cb in callbacks:
        cb.on_train_begin(state)
    try:
        epoch = point.epoch + 1
        while True:
            reason = _before_epoch(epoch, budget, driver, state, clock, rt)
            if reason is not None:
                break
            state.epoch, state.step = epoch, 0
            source.set_epoch(epoch - 1)
            for cb in callbacks:
                cb.on_epoch_begin(state)
            started = time.perf_counter()
            result = run_epoch(state, forward_model, source, settings, callbacks, driver, clock)
            seconds = time.perf_counter() - started
            evaluation = None
            if "test" in sources:
                evaluation = evaluate_source(
                    forward_model, sources["test"], loss_fn, rt, metric_list
                )
            record = _record(epoch, result, evaluation, seconds)
            history.append(record)
            state.elapsed = clock()
            driver.end_epoch(record)
            for cb in callbacks:
                cb.on_epoch_end(state, record)
            state.elapsed = clock()
            if checkpoint is not None and rt.is_main:
                point = ResumePoint(epoch, state.global_step, state.elapsed)
                save_training_state(checkpoint, parts, point)
            reason = _after_epoch(epoch, result.stop, budget, driver, state, rt)
            if reason is not None:
                break
            epoch += 1
    except KeyboardInterrupt:
        reason = "interrupted"
    except RuntimeError as exc:
        if rt.dist is not None and timed_out(exc):
            where = f"epoch {state.epoch}, step {state.step}"
            raise rt.dist.timeout_error(exc, where) from exc
        raise
    finally:
        history.stop_reason = reason
        for cb in callbacks:
            cb.on_train_end(state)
        if rt.dist is not None:  # free the DDP wrapper (and its hold on the process group) now
            del forward_model
            gc.collect()
    return history


def _record(
    epoch: int, result: EpochResult, evaluation: Evaluation | None, seconds: float
) -> EpochRecord:
    """The history's record of one epoch: its training pass and its evaluation."""
    extra = {f"train_{name}": value for name, value in result.metrics.items()}
    if evaluation is not None:
        extra |= {f"test_{name}": value for name, value in evaluation.metrics.items()}
    return EpochRecord(
        epoch=epoch,
        train_loss=result.loss,
        train_accuracy=result.accuracy,
        test_loss=None if evaluation is None else evaluation.loss,
        test_accuracy=None if evaluation is None else evaluation.accuracy,
        lr=result.lr,
        seconds=seconds,
        samples_per_second=result.samples / seconds if seconds > 0 else math.inf,
        extra=extra,
    )


def _before_epoch(
    epoch: int,
    budget: Budget,
    driver: LRDriver,
    state: TrainState,
    clock: Clock,
    rt: ActiveRuntime,
) -> StopReason | None:
    """Why not to start epoch ``epoch`` (a resumed run may find its budget spent), or None."""
    if budget.epochs is not None and epoch > budget.epochs:
        return "epochs"
    if driver.finished:
        return "schedule"
    return agree(budget.exhausted(state.global_step, clock()), rt.dist)


def _after_epoch(
    epoch: int,
    stopped: StopReason | None,
    budget: Budget,
    driver: LRDriver,
    state: TrainState,
    rt: ActiveRuntime,
) -> StopReason | None:
    """Why the run ends after epoch ``epoch``, or None to go on."""
    if stopped in ("max_steps", "max_seconds"):
        return stopped
    if budget.epochs is not None and epoch >= budget.epochs:
        return "epochs"
    if agree("callback" if state.stop_training else None, rt.dist) is not None:
        return "callback"
    if driver.finished:
        return "schedule"
    return None


def _shard(rt: ActiveRuntime, sources: Mapping[str, BatchSource]) -> None:
    """Give this rank its share of every source, all ranks starting from rank 0's state."""
    if rt.dist is None:
        return
    for source in sources.values():
        source.shard(rt.dist.rank, rt.dist.world_size)
        source.load_state_dict(rt.dist.broadcast_object(source.state_dict()))
