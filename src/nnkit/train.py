"""The training loop: :func:`fit`, the one loop everything in nnkit trains through, and
:func:`evaluate` and :func:`predict` for a trained model.

``fit`` reads top to bottom: check every argument (``nnkit._fit_config``), build the run
(``nnkit._run.Run``: model, optimizer, schedule, sources, callbacks, clock, history),
restore a checkpoint if asked, then train an epoch, evaluate it, record it, save a checkpoint
and ask whether to stop, until the answer is a reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from . import losses
from ._fit_config import check_fit
from ._progress import ProgressArg
from ._run import Run
from .callbacks import Callback
from .data.sources import DataLike
from .evaluation import Evaluation, evaluate, predict
from .history import History, StopReason
from .metrics import MetricsArg
from .optimizers import OptimizerName
from .recipes import FAST_RECIPE, GPU_RECIPE, NOTES_RECIPE, Recipe
from .runtime import DeviceArg, Runtime
from .schedules import SchedulerArg

__all__ = [
    "FAST_RECIPE",
    "GPU_RECIPE",
    "NOTES_RECIPE",
    "DataLike",
    "Evaluation",
    "ProgressArg",
    "Recipe",
    "evaluate",
    "fit",
    "predict",
]


def fit(
    model: nn.Module,
    train: DataLike,
    *,
    epochs: int | None = None,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    val: DataLike | None = None,
    validation_split: float | None = None,
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
    val_batch_size: int = 1000,
    accumulate: int = 1,
    shuffle: bool = True,
    device: DeviceArg = None,
    runtime: Runtime | None = None,
    seed: int | None = None,
    progress: ProgressArg = True,
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
        Training data. ``(inputs, targets)`` tensors or NumPy arrays, a ``TensorDataset`` or an
        MNIST dataset go through :class:`~nnkit.data.TensorLoader` (one gather per batch); another
        map-style Dataset through a :class:`~nnkit.data.DatasetSource`; a ``DataLoader``, any
        :class:`~nnkit.data.BatchSource` (:class:`nnkit.text.StreamBatches`...) or a re-iterable of
        ``(inputs, targets)`` batches is used as it is. Inputs and targets reach the model with
        their dtype and values unchanged (``uint8`` token ids stay ids), except the ``uint8`` images
        of an MNIST dataset, which are scaled to ``[0, 1]`` per batch.
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
    val : DataLike, optional
        Validation data, evaluated after every epoch (``val_loss``, ``val_accuracy`` and
        ``val_<metric>``, as Keras and Lightning name them).
    validation_split : float, optional
        Hold out this share of ``train`` as validation data instead (``round(share * N)``
        samples drawn by a generator seeded with ``seed``, 0 when ``seed`` is None, so a
        resumed run holds out the same ones; :func:`nnkit.data.split_validation`). Needs data
        that nnkit can index: tensors, arrays, a ``TensorDataset`` or a map-style ``Dataset``.
    loss : str, callable or None
        A name from :data:`nnkit.losses.LOSS_NAMES`, a ``loss(outputs, targets)`` callable or
        loss module. None: the model computes its own loss (an adaptive softmax, a VAE): it is
        called as ``model(inputs, targets)`` and returns the mean loss over the targets as a
        one-element tensor, or an object with a ``.loss`` tensor and optionally ``.logits``
        (read by the accuracy and the metrics).
    metrics : list or mapping, optional
        More per-epoch metrics (:mod:`nnkit.metrics`): :class:`~nnkit.metrics.Metric` objects
        (``TopKAccuracy(5)``, ``BitsPerChar()``...) or functions ``fn(outputs, targets) ->
        batch mean``, computed on the training batches as they are trained and on the validation
        data, stored as ``record.extra["train_<name>"]`` and ``["val_<name>"]``.
    optimizer : str or torch.optim.Optimizer
        A name from :data:`nnkit.optimizers.OPTIMIZER_NAMES` (``"lbfgs"`` is driven with a
        closure) or an optimizer built on ``model.parameters()``. Its settings (and
        ``optimizer_kwargs``) are checked against the optimizer before anything is built.
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
        step every batch, ReduceLROnPlateau every epoch with the validation loss, or the
        training loss without validation data, the others every epoch). OneCycle cycles the
        momentum of optimizers that have one; for those that have none (Adagrad, Adadelta,
        LBFGS, SGD without momentum) it cycles the learning rate alone.
    scheduler_kwargs : mapping, optional
        Arguments of a scheduler given by name (``{"floor": 0.1}`` for ``"cosine"``).
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    batch_size : int
        Training batch size (per rank under torchrun).
    val_batch_size : int
        Evaluation batch size (per rank under torchrun); it changes speed, not the results.
    accumulate : int
        Batches per optimizer step (Lightning's ``accumulate_grad_batches``): their gradients
        add up, each batch weighted by its share of the step's samples, so that without
        batch-dependent layers (batch norm) a step is that of one batch ``accumulate`` times as
        large. Budgets, schedules and callbacks count optimizer steps.
    shuffle : bool
        Shuffle the training data every epoch.
    device : str or torch.device, optional
        CUDA when available, else the CPU (a shortcut for ``runtime=Runtime(device=...)``).
    runtime : Runtime, optional
        How the arithmetic runs: ``amp`` (bf16, or fp16 with loss scaling), ``channels_last``,
        ``compile``,
        ``distributed`` (data-parallel under torchrun: each rank takes a disjoint share of every
        global batch of ``batch_size * WORLD_SIZE``, metrics are reduced over the ranks, and
        only rank 0 shows progress, prints and writes). See :class:`~nnkit.runtime.Runtime`.
    seed : int, optional
        Seeds Python's, NumPy's and torch's generators when ``fit`` starts
        (:func:`nnkit.seed_everything`), and so dropout, the shuffling and the validation
        split. It cannot reach a model built before ``fit``: its initial weights came from the
        generators' state then. For runs that repeat bit for bit, call
        ``nnkit.seed_everything(seed)`` before building the model.
    progress : bool or {"auto", "bar", "lines", "off"}
        ``"auto"`` (or True): in a terminal, a tqdm bar per epoch with the live loss (it counts
        the step budget) that leaves one summary line when the epoch ends, as Keras does;
        when stderr is not a terminal (a log file), only that line, one per epoch, with no
        carriage returns or cursor codes. ``"bar"`` and ``"lines"`` force one of the two;
        ``"off"`` (or False) is silent. Everything goes to stderr.
    log_every : int, optional
        Every this many steps, print the notes' line
        ``Train Epoch: 1 [3200/60000 (5%)]\\tLoss: 0.123456`` on stdout.
    callbacks : sequence of Callback
        See :mod:`nnkit.callbacks`.
    checkpoint : str or os.PathLike, optional
        After every epoch, save everything a resumed run needs here, atomically: model,
        optimizer, schedule, loss scaler, random generators, batch sources, callback states,
        budgets used, history, and the settings that shaped the run. Checked before anything
        trains: a folder, or a place that cannot be written, is refused.
    resume : bool
        Continue from ``checkpoint`` if it exists (it is not an error if it does not), at the
        epoch after the last one saved. Resuming is exact: on the CPU, a run killed at any
        point and resumed ends with the same weights, optimizer state and history (timings
        aside) as the uninterrupted run. A resume whose settings differ from the checkpoint's
        (optimizer and its settings, schedule, loss, metrics, batch size, data kind and size,
        ``accumulate``, ``validation_split``...) is refused with a
        :class:`~nnkit.errors.CheckpointError` naming each difference, before anything is
        loaded; the budgets and the callbacks may change, and the change is said in one line.

    Returns
    -------
    History
        One :class:`~nnkit.history.EpochRecord` per epoch (the last one may be partial when a
        budget or a callback ended it mid-epoch), ``stop_reason`` and ``weights_epoch`` (the
        epoch whose weights the model holds: the best one after a keep-best restore). If
        Ctrl-C is pressed,
        the epoch in progress is abandoned, ``history.stop_reason`` is ``"interrupted"`` and
        the history so far is returned; the last checkpoint (end of the previous epoch) is
        left intact.

    Raises
    ------
    nnkit.errors.InvalidArgumentError
        An argument is invalid, or a callback or schedule monitors a value that no epoch will
        record (the message lists the valid names): raised before anything is touched.
    nnkit.errors.TrainingDivergedError
        The loss became NaN or infinite (the error names the epoch and step).
    nnkit.errors.CheckpointError
        ``resume`` found a checkpoint of another run: other settings, model or data.
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
    cfg = check_fit(
        val_given=val is not None,
        loss=loss,
        metrics=metrics,
        optimizer=optimizer,
        optimizer_kwargs=optimizer_kwargs,
        scheduler=scheduler,
        scheduler_kwargs=scheduler_kwargs,
        runtime=runtime,
        device=device,
        progress=progress,
        callbacks=callbacks,
        checkpoint=checkpoint,
        epochs=epochs,
        max_steps=max_steps,
        max_seconds=max_seconds,
        lr=lr,
        weight_decay=weight_decay,
        validation_split=validation_split,
        grad_clip=grad_clip,
        batch_size=batch_size,
        val_batch_size=val_batch_size,
        accumulate=accumulate,
        shuffle=shuffle,
        seed=seed,
        log_every=log_every,
        resume=resume,
    )
    run = Run(model, train, val, cfg)
    with run.naming_timeouts():  # a torchrun collective that times out names the silent rank
        run.restore()
        reason: StopReason | None = None
        try:
            run.begin()
            reason = run.stop_reason()  # a resumed run may find its budget spent
            while reason is None:
                result = run.train_epoch()
                evaluation = run.evaluate()
                run.end_epoch(result, evaluation)
                run.save()
                reason = run.stop_reason()
        except KeyboardInterrupt:
            reason = "interrupted"
        finally:
            run.finish(reason)
    return run.history
