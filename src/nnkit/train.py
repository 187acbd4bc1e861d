"""The training loop: :func:`fit` and :func:`evaluate`."""

from __future__ import annotations

import gc
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import torch
from torch import nn

from . import losses
from ._batches import make_source
from ._device import resolve_device
from ._loop import Evaluation, LoopSettings, evaluate_source, run_epoch
from ._resume import restore_training_state, save_training_state
from .callbacks import Callback, TrainState
from .distributed import DistContext
from .distributed import setup as setup_distributed
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

    The loss is the true mean over targets: each batch's mean is weighted by its size, so a
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
    return evaluate_source(model, source, losses.get(loss), dev, amp=amp, channels_last=False)


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
    distributed: bool | Literal["auto"] = "auto",
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
    distributed : bool or "auto"
        Data-parallel training under ``torchrun``. ``"auto"`` (default): when the process was
        started by torchrun with ``WORLD_SIZE`` > 1, join the process group (gloo on the CPU,
        NCCL on CUDA, one GPU per ``LOCAL_RANK``), wrap the model in
        ``DistributedDataParallel`` and give each rank a disjoint share of every global batch;
        ``batch_size`` is per rank, so the global batch is ``batch_size * WORLD_SIZE``. Metrics
        are reduced over the ranks and only rank 0 shows progress, prints and writes the
        checkpoint. ``False`` forces a single process; ``True`` outside torchrun is an error.

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
    dist = setup_distributed(distributed, device)
    dev = dist.device if dist is not None else resolve_device(device)
    main = dist is None or dist.is_main
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
    if dist is not None:
        _shard(dist, source, test_source)
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
    settings = LoopSettings(
        device=dev,
        loss_fn=losses.get(loss),
        grad_clip=grad_clip,
        amp=amp,
        channels_last=channels_last,
        progress=progress and main,
        log_every=log_every,
        sync_every=8 if dev.type == "cpu" else 32,
        closure_based=isinstance(opt, torch.optim.LBFGS),
        dist=dist,
    )
    history = History()
    start_epoch = 1
    if resume and checkpoint is not None and Path(checkpoint).exists():
        start_epoch = restore_training_state(checkpoint, model, opt, sched, source, history, dev)
        start_epoch += 1
    forward_model = _wrap(model, dist, compile)
    state = TrainState(
        model=model, optimizer=opt, history=history, epochs=epochs, is_main_process=main
    )
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
            train_loss, train_acc, seen = run_epoch(
                state, forward_model, source, settings, callbacks, batch_step
            )
            seconds = time.perf_counter() - started
            if sched is not None and interval == "epoch":
                sched.step()
            result = None
            if test_source is not None:
                result = evaluate_source(
                    forward_model,
                    test_source,
                    settings.loss_fn,
                    dev,
                    amp=amp,
                    channels_last=channels_last,
                    dist=dist,
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
            if checkpoint is not None and main:
                save_training_state(checkpoint, model, opt, sched, source, history, epoch, dev)
            if state.stop_training:
                history.stopped_early = epoch < epochs
                break
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        for cb in callbacks:
            cb.on_train_end(state)
        if dist is not None:  # free the DDP wrapper (and its hold on the process group) now
            del forward_model
            gc.collect()
    return history


def _shard(dist: DistContext, *sources: Any) -> None:
    """Give this rank its share of every source, with one shuffling seed for all ranks."""
    for source in sources:
        if source is None:
            continue
        source.shard(dist.rank, dist.world_size)
        seed = getattr(source.batches, "seed", None)
        if isinstance(seed, int):
            source.batches.seed = dist.broadcast_int(seed)


def _wrap(model: nn.Module, dist: DistContext | None, compile: bool) -> nn.Module:
    """The module the loop calls: DDP around the model when distributed, compiled on request."""
    forward: nn.Module = model
    if dist is not None:
        from torch.nn.parallel import DistributedDataParallel

        ids = [dist.device.index] if dist.device.type == "cuda" else None
        forward = DistributedDataParallel(model, device_ids=ids)
    if compile:
        forward = torch.compile(forward)  # type: ignore[assignment]
    return forward
