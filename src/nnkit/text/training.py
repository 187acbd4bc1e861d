"""Training a character model: a recipe over :func:`nnkit.train.fit`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from .._validate import fail, is_int, positive_int
from ..callbacks import Callback, KeepBest, TrainState
from ..history import EpochRecord, History
from ..metrics import BitsPerChar
from ..models.char_rnn import CharRNN
from ..models.char_transformer import CharTransformer
from ..runtime import Runtime
from ..schedules import Cosine, ReduceOnPlateau, Schedule
from ..train import ProgressArg, fit
from .dataset import split_text
from .evaluation import VAL_STREAMS, TextLoss, loss_for
from .streams import CarryState, StreamBatches
from .vocab import Vocab

__all__ = ["recipe_for", "text_schedule", "train"]

#: The cosine ends at a tenth of the peak; six halvings on plateaus end training.
_FLOOR, _MIN_SCALE = 0.1, 1 / 64


def text_schedule(patience: int | None = 2) -> Schedule:
    """:func:`train`'s learning-rate schedule: a cosine to a tenth of the peak over the budget,
    halved whenever the validation loss has not reached a new best for ``patience`` epochs
    (training stops after six halvings); the plain cosine when ``patience`` is None.

    Examples
    --------
    >>> text_schedule(None)
    Cosine(floor=0.1, warmup=0.0)
    """
    if patience is None:
        return Cosine(floor=_FLOOR)
    return ReduceOnPlateau(Cosine(floor=_FLOOR), patience=patience, min_scale=_MIN_SCALE)


def recipe_for(model: nn.Module) -> tuple[float, float]:
    """:func:`train`'s default ``(lr, weight_decay)`` for ``model``: ``(0.01, 0.5)`` for a
    recurrent model, ``(0.003, 0.1)`` for a :class:`~nnkit.models.CharTransformer`.

    Examples
    --------
    >>> recipe_for(CharRNN(10, hidden_size=4))
    (0.01, 0.5)
    """
    if isinstance(model, CharTransformer):
        return 3e-3, 0.1
    return 1e-2, 0.5


class _Report(Callback):
    """One line per epoch: bits per character and speed (rank 0 only)."""

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if not state.is_main_process or "val_bpc" not in record.extra:
            return
        print(
            f"epoch {record.epoch}  train {record.extra['train_bpc']:.3f} bits/char  "
            f"validation {record.extra['val_bpc']:.3f} bits/char  "
            f"{record.samples_per_second:,.0f} chars/s  {state.elapsed:.0f} s",
            flush=True,
        )


def train(
    model: nn.Module,
    text: str,
    *,
    vocab: Vocab,
    epochs: int | None = None,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    seq_len: int = 64,
    batch_size: int = 32,
    lr: float | None = None,
    weight_decay: float | None = None,
    grad_clip: float = 1.0,
    val_fraction: float = 0.1,
    split: Literal["interleaved", "tail"] = "interleaved",
    loss: TextLoss = "auto",
    patience: int | None = 2,
    keep_best: bool = True,
    device: str | torch.device | None = None,
    runtime: Runtime | None = None,
    seed: int | None = 0,
    progress: ProgressArg = True,
    report: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
) -> History:
    """Train a character model on a text with truncated BPTT: a recipe over
    :func:`~nnkit.train.fit`.

    The text is split into training and validation pieces (:func:`split_text`, interleaved
    blocks by default); the training text becomes ``batch_size`` contiguous streams
    (:class:`StreamBatches`) read ``seq_len`` characters at a time, with the hidden state
    carried across batches (:class:`CarryState`). The recipe: 32 streams of 64 characters, AdamW
    at lr 0.01 with a strong weight decay of 0.5 for a recurrent model (the regulariser that
    pays most on corpora of a few hundred thousand characters; :func:`recipe_for`), gradient
    clipping at 1.0, the schedule of :func:`text_schedule`, bits per character as a metric
    (:class:`~nnkit.metrics.BitsPerChar`), and :class:`~nnkit.callbacks.KeepBest` on the
    validation loss (small corpora overfit long before a time budget runs out). Training ends
    after ``epochs``, ``max_steps`` or ``max_seconds``, whichever comes first (one epoch when
    none is given).

    Parameters
    ----------
    model : CharRNN, CharTransformer or torch.nn.Module
        Trained in place. A :class:`~nnkit.models.CharTransformer` carries its key/value cache
        across batches as a recurrent model carries its hidden state. Any module called as
        ``model(ids, state=...)`` that returns ``(scores (B, T, V), state)``; with ``loss=None``,
        one called as ``model(ids, targets, state=...)`` that returns ``(loss or object with .loss,
        state)`` (an adaptive-softmax read-out, for instance).
    text : str
        The corpus.
    vocab : Vocab
        Its vocabulary (characters outside it become the unknown id).
    epochs : int, optional
        At most this many epochs (as in :func:`~nnkit.train.fit`: the first budget to run out
        ends training).
    max_steps : int, optional
        At most this many optimizer steps.
    max_seconds : float, optional
        At most this many seconds of wall time.
    seq_len : int
        Characters per stream per step. Short sequences make more optimiser steps per second,
        which is what a time budget rewards.
    batch_size : int
        Number of parallel streams.
    lr : float, optional
        Peak AdamW learning rate: by default 0.01 for a recurrent model, 0.003 for a
        :class:`~nnkit.models.CharTransformer` (0.01 learnt more slowly per epoch on neko.txt;
        docs/text.rst).
    weight_decay : float, optional
        AdamW's decoupled weight decay: by default 0.5 for a recurrent model, 0.1 for a
        :class:`~nnkit.models.CharTransformer`.
    grad_clip : float
        Clip the global gradient norm to this value.
    val_fraction : float
        Share of the text held out for validation.
    split : {"interleaved", "tail"}
        How the validation text is chosen.
    loss : "auto", str, callable or None
        ``"auto"``: NLL for the seed cell, cross entropy otherwise (:func:`loss_for`); None
        for a model that computes its own loss.
    patience : int or None
        Halve the learning rate after this many epochs in a row without a new best validation
        loss, and stop after six halvings; None keeps the plain cosine and runs the whole
        budget.
    keep_best : bool
        End with the weights of the epoch with the lowest validation loss (kept in the
        checkpoint too, so a resumed run still knows them).
    device : str or torch.device, optional
        CUDA when available, else the CPU.
    runtime : Runtime, optional
        bf16 ``amp`` and the other runtime switches of :func:`~nnkit.train.fit`. bf16 autocast
        on a CPU with bfloat16 instructions trained up to 1.6x as many characters per second in
        our measurements (the benchmarks page), at a small cost in precision.
    seed : int, optional
        Seeds dropout, initialisation-independent randomness and the epoch offsets.
    progress : bool or {"auto", "bar", "lines", "off"}
        As in :func:`~nnkit.train.fit`: a bar per epoch in a terminal, one line per epoch in
        a log.
    report : bool
        Print train and validation bits/char after every epoch.
    checkpoint, resume
        As in :func:`~nnkit.train.fit`: everything (schedule position, plateau state, kept best
        weights, budgets spent) is saved, and a resumed run continues exactly.
    callbacks : sequence of Callback
        Extra callbacks.

    Returns
    -------
    History
        Per epoch: ``train_loss``/``val_loss`` in nats per character, per-character
        ``train_accuracy``/``val_accuracy``, ``samples_per_second`` in characters per second,
        and ``extra["train_bpc"]``, ``extra["val_bpc"]`` in bits per (validation) character.

    Examples
    --------
    >>> text = "今日は晴れです。明日も晴れです。" * 30
    >>> vocab = Vocab.from_text(text)
    >>> model = CharRNN(len(vocab), hidden_size=32, num_layers=1)
    >>> history = train(model, text, vocab=vocab, epochs=2, seq_len=16, batch_size=4,
    ...                 device="cpu", progress=False)
    >>> len(history), history.last.extra["val_bpc"] < 4.0
    (2, True)
    """
    if not isinstance(text, str) or not text:
        raise fail("text", "cannot train on empty text")
    if isinstance(model, CharRNN | CharTransformer) and model.vocab_size != len(vocab):
        raise fail(
            "vocab",
            f"model has vocab_size {model.vocab_size} but the vocabulary has {len(vocab)} "
            f"characters; build {type(model).__name__}(len(vocab), ...)",
        )
    default_lr, default_decay = recipe_for(model)
    if patience is not None and (not is_int(patience) or patience < 1):
        raise fail("patience", f"patience must be a positive integer or None, got {patience!r}")
    positive_int(seq_len, "seq_len")
    dev = (runtime or Runtime()).with_device(device).start(join=False).device  # for the streams
    train_pieces, val_pieces = split_text(text, val_fraction, mode=split)
    train_ids = vocab.encode("".join(train_pieces))
    val_ids = vocab.encode("".join(val_pieces))
    # few long validation streams (as in bits_per_char): each starts from a zero state
    val_batch = max(1, min(VAL_STREAMS, val_ids.numel() // (seq_len + 1)))
    source = StreamBatches(
        train_ids, batch_size=batch_size, seq_len=seq_len, seed=seed or 0, device=dev
    )
    val_source = StreamBatches(
        val_ids, batch_size=val_batch, seq_len=seq_len, shuffle=False, device=dev
    )
    recipe_callbacks: list[Callback] = [KeepBest("val_loss")] if keep_best else []
    if report:
        recipe_callbacks.append(_Report())
    return fit(
        CarryState(model),
        source,
        val=val_source,
        epochs=epochs,
        max_steps=max_steps,
        max_seconds=max_seconds,
        loss=loss_for(model, loss),
        metrics=[BitsPerChar()],
        optimizer="adamw",
        lr=default_lr if lr is None else lr,
        weight_decay=default_decay if weight_decay is None else weight_decay,
        grad_clip=grad_clip,
        scheduler=text_schedule(patience),
        device=dev,
        runtime=runtime,
        seed=seed,
        progress=progress,
        callbacks=[*recipe_callbacks, *callbacks],
        checkpoint=checkpoint,
        resume=resume,
    )
