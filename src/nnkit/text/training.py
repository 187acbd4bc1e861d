"""Training, evaluating, saving and loading character models, on top of :func:`nnkit.train.fit`."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import torch
from torch import nn

from .._device import resolve_device
from ..callbacks import Callback, TrainState
from ..checkpoint import load_checkpoint, save_checkpoint
from ..errors import CheckpointError
from ..history import EpochRecord, History
from ..models.char_rnn import CharRNN, State
from ..train import evaluate, fit
from .dataset import split_text
from .vocab import Vocab

__all__ = ["StreamBatches", "bits_per_char", "load", "save", "train"]

_LN2 = math.log(2.0)
_VAL_STREAMS = 8


class StreamBatches:
    """Contiguous batches for truncated backpropagation through time.

    The text is cut into ``batch_size`` equal streams side by side; batch ``t`` holds the next
    ``seq_len`` characters of every stream, so row ``b`` of one batch continues row ``b`` of the
    previous one and a stateful model can carry its hidden state across batches. Each epoch
    starts at a random offset below ``seq_len`` (seeded), so the cut points move.

    Examples
    --------
    >>> batches = StreamBatches(torch.arange(20), batch_size=2, seq_len=4, shuffle=False)
    >>> [x.tolist() for x, _ in batches][:2]
    [[[0, 1, 2, 3], [10, 11, 12, 13]], [[4, 5, 6, 7], [14, 15, 16, 17]]]
    """

    def __init__(
        self,
        ids: torch.Tensor,
        *,
        batch_size: int,
        seq_len: int,
        shuffle: bool = True,
        seed: int = 0,
        device: torch.device | None = None,
    ) -> None:
        if batch_size < 1 or seq_len < 1:
            raise ValueError(
                f"batch_size and seq_len must be positive, got {batch_size}, {seq_len}"
            )
        self.ids = ids if device is None else ids.to(device)
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.streams = self._cut(0, 1)

    def _cut(self, rank: int, world_size: int) -> torch.Tensor:
        total = self.batch_size * world_size
        length = self.ids.numel() // total
        if length < 2:
            raise ValueError(
                f"{self.ids.numel()} characters are too few for {total} streams; "
                "use a smaller batch_size or more text"
            )
        streams = self.ids[: total * length].view(total, length)
        return streams[rank * self.batch_size : (rank + 1) * self.batch_size]

    def shard(self, rank: int, world_size: int) -> None:
        """Cut ``batch_size * world_size`` streams and keep rank ``rank``'s ``batch_size``."""
        self.streams = self._cut(rank, world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _offset(self) -> int:
        if not self.shuffle:
            return 0
        g = torch.Generator().manual_seed(self.seed + 7919 * self.epoch)
        limit = min(self.seq_len, self.streams.shape[1] - 1)
        return int(torch.randint(0, limit, (1,), generator=g))

    def __len__(self) -> int:
        return math.ceil((self.streams.shape[1] - 1 - self._offset()) / self.seq_len)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        offset, last = self._offset(), self.streams.shape[1] - 1
        for t in range(offset, last, self.seq_len):
            end = min(t + self.seq_len, last)
            yield self.streams[:, t:end], self.streams[:, t + 1 : end + 1]


def _detach(state: State) -> State:
    if isinstance(state, tuple):
        return (state[0].detach(), state[1].detach())
    return state.detach()


class _Stateful(nn.Module):
    """Carries the hidden state from one contiguous batch to the next (truncated BPTT)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.state: State | None = None

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        logits, state = self.net(ids, self.state)
        self.state = _detach(state)
        return logits  # type: ignore[no-any-return]

    def train(self, mode: bool = True) -> _Stateful:
        self.state = None  # a new pass over the streams starts from a zero state
        return super().train(mode)


class _Budget(Callback):
    """The step, epoch and time budgets, the learning-rate decay over them, and keep-best.

    The learning rate follows a cosine from its peak down to a tenth of it over whichever
    budget runs out first (steps, epochs or seconds), and is halved each time the validation
    loss has not reached a new best for ``patience`` epochs in a row (a budget longer than the
    corpus needs would otherwise spend its high-rate part overfitting); at ``min_scale`` of the
    schedule, training stops. After each epoch the weights are kept if the validation loss is
    the best so far, and put back at the end.
    """

    min_scale = 1 / 64

    def __init__(
        self,
        steps: int | None,
        epochs: int | None,
        seconds: float | None,
        steps_per_epoch: int,
        report: bool,
        keep_best: bool,
        patience: int | None = 2,
        *,
        peak: float,
    ) -> None:
        self.steps, self.epochs, self.seconds = steps, epochs, seconds
        self.peak = peak  # the learning rate at the top of the cosine
        self.patience = patience
        self.steps_per_epoch = max(steps_per_epoch, 1)
        self.report, self.keep_best = report, keep_best
        self.done = 0
        self.started = 0.0
        self.best = math.inf
        self.best_state: dict[str, torch.Tensor] | None = None
        self.scale = 1.0  # halved on every validation plateau
        self.stale = 0  # epochs since the last new best

    def progress(self) -> float:
        """How much of the budget is spent, 0 to 1."""
        spent = 0.0
        if self.steps is not None:
            spent = max(spent, self.done / self.steps)
        if self.epochs is not None:
            spent = max(spent, self.done / (self.epochs * self.steps_per_epoch))
        if self.seconds is not None:
            spent = max(spent, (time.perf_counter() - self.started) / self.seconds)
        return min(spent, 1.0)

    def on_train_begin(self, state: TrainState) -> None:
        # a resumed run continues the budget, the cosine and the plateau state of the epochs
        # in its checkpoint (kept best weights are not in it: keep-best restarts from here)
        earlier = state.history.records
        self.started = time.perf_counter() - sum(r.seconds for r in earlier)
        self.done = len(earlier) * self.steps_per_epoch
        for record in earlier:
            self._plateau(record.test_loss)

    def on_batch_begin(self, state: TrainState) -> None:
        factor = self.scale * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * self.progress())))
        for group in state.optimizer.param_groups:
            group["lr"] = self.peak * factor

    def on_batch_end(self, state: TrainState) -> None:
        self.done += 1
        if self.steps is not None and self.done >= self.steps:
            state.stop_training = True
        if self.seconds is not None and time.perf_counter() - self.started >= self.seconds:
            state.stop_training = True

    def on_train_end(self, state: TrainState) -> None:
        if self.keep_best and self.best_state is not None:
            state.model.load_state_dict(self.best_state)

    def _plateau(self, loss: float | None) -> bool:
        """Track the best validation loss and halve on plateaus; True at a new best."""
        if loss is None:
            return False
        if loss < self.best:
            self.best, self.stale = loss, 0
            return True
        if self.patience is not None:
            self.stale += 1
            if self.stale >= self.patience:
                self.scale, self.stale = self.scale / 2, 0
        return False

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if self._plateau(record.test_loss) and self.keep_best:
            self.best_state = {k: v.detach().clone() for k, v in state.model.state_dict().items()}
        if self.scale <= self.min_scale:
            state.stop_training = True  # converged: more epochs would change nothing
        if self.report and record.test_loss is not None and state.is_main_process:
            elapsed = time.perf_counter() - self.started
            print(
                f"epoch {record.epoch}  train {record.train_loss / _LN2:.3f} bits/char  "
                f"validation {record.test_loss / _LN2:.3f} bits/char  "
                f"{record.samples_per_second:,.0f} chars/s  {elapsed:.0f} s",
                flush=True,
            )


def train(
    model: CharRNN,
    text: str,
    *,
    vocab: Vocab,
    steps: int | None = None,
    epochs: int | None = None,
    max_seconds: float | None = None,
    seq_len: int = 64,
    batch_size: int = 32,
    lr: float = 1e-2,
    weight_decay: float = 0.5,
    grad_clip: float = 1.0,
    val_fraction: float = 0.1,
    split: Literal["interleaved", "tail"] = "interleaved",
    device: str | torch.device | None = None,
    seed: int | None = 0,
    progress: bool = True,
    report: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    keep_best: bool = True,
    patience: int | None = 2,
    amp: bool = False,
    callbacks: Sequence[Callback] = (),
) -> History:
    """Train a character model on a text with truncated BPTT, on top of :func:`~nnkit.train.fit`.

    The text is split into training and validation pieces (:func:`split_text`, interleaved
    blocks by default); the training text becomes ``batch_size`` contiguous streams
    (:class:`StreamBatches`) read ``seq_len`` characters at a time with the hidden state carried
    across batches. Defaults: 32 streams of 64 characters, AdamW at lr 0.01 with a strong
    weight decay of 0.5 (the regulariser that pays most on corpora of a few hundred thousand
    characters), gradient clipping at 1.0, and a cosine decay of the learning rate to a tenth
    of its peak over the budget, halved whenever the validation loss has not improved for
    ``patience`` epochs (training stops after six halvings). Training
    ends after ``steps`` steps, ``epochs`` passes or ``max_seconds`` seconds, whichever comes
    first (one epoch when none is given); with ``keep_best`` the model ends with the weights of
    its best validation epoch (small corpora overfit long before a time budget runs out).

    Parameters
    ----------
    model : CharRNN
        Trained in place.
    text : str
        The corpus.
    vocab : Vocab
        Its vocabulary (characters outside it become the unknown id).
    steps, epochs, max_seconds : optional
        Budgets.
    seq_len, batch_size : int
        Characters per stream per step, and number of streams. Small batches of short
        sequences make more optimiser steps per second, which is what a time budget rewards.
    lr, weight_decay, grad_clip : float
        Optimiser settings (AdamW's decoupled weight decay).
    val_fraction : float
        Share of the text held out for validation.
    split : {"interleaved", "tail"}
        How the validation text is chosen.
    device : str or torch.device, optional
        CUDA when available, else the CPU.
    seed : int, optional
        Seeds initialisation-independent randomness (dropout, epoch offsets).
    progress : bool
        tqdm bars per epoch.
    report : bool
        Print train and validation bits/char after every epoch.
    checkpoint, resume
        As in :func:`~nnkit.train.fit` (atomic, resumable). A resumed run continues where the
        checkpoint left off: the budgets count the epochs and training seconds before it, and
        the cosine position and the plateau halvings are replayed from its history. Only
        ``keep_best`` starts afresh (the checkpoint holds the last weights, not the best).
    keep_best : bool
        Put back the weights of the epoch with the lowest validation loss at the end.
    patience : int or None
        Halve the learning rate after this many epochs in a row without a new best validation
        loss, and stop after six halvings; None keeps the plain cosine schedule and runs the
        whole budget.
    amp : bool
        bfloat16 autocast (as in :func:`~nnkit.train.fit`). On a CPU with bfloat16 instructions
        it trained up to 1.6x as many characters per second in our measurements (the
        benchmarks page), at a small cost in precision.
    callbacks : sequence of Callback
        Extra callbacks.

    Returns
    -------
    History
        Per epoch: ``train_loss``/``test_loss`` in nats per character, per-character
        ``train_accuracy``/``test_accuracy``, ``samples_per_second`` in characters per second,
        and ``extra["train_bpc"]``, ``extra["val_bpc"]`` in bits per character.

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
    if not text:
        raise ValueError("cannot train on empty text")
    if model.vocab_size != len(vocab):
        raise ValueError(
            f"model has vocab_size {model.vocab_size} but the vocabulary has {len(vocab)} "
            "characters; build CharRNN(len(vocab), ...)"
        )
    for name, value in (("steps", steps), ("epochs", epochs), ("max_seconds", max_seconds)):
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    if patience is not None and (
        isinstance(patience, bool) or not isinstance(patience, int) or patience < 1
    ):
        raise ValueError(f"patience must be a positive integer or None, got {patience!r}")
    dev = resolve_device(device)
    train_pieces, val_pieces = split_text(text, val_fraction, mode=split)
    train_ids = vocab.encode("".join(train_pieces))
    val_ids = vocab.encode("".join(val_pieces))
    # few long validation streams (as in bits_per_char): each starts from a zero state
    val_batch = max(1, min(_VAL_STREAMS, val_ids.numel() // (seq_len + 1)))
    source = StreamBatches(
        train_ids, batch_size=batch_size, seq_len=seq_len, seed=seed or 0, device=dev
    )
    val_source = StreamBatches(
        val_ids, batch_size=val_batch, seq_len=seq_len, shuffle=False, device=dev
    )
    if epochs is None:
        if steps is not None:
            epochs = math.ceil(steps / max(len(source), 1))
        elif max_seconds is not None:
            epochs = 10**9
        else:
            epochs = 1
    budget = _Budget(
        steps,
        epochs if epochs < 10**9 else None,
        max_seconds,
        len(source),
        report,
        keep_best,
        patience,
        peak=lr,
    )
    history = fit(
        _Stateful(model),
        source,
        test=val_source,
        epochs=epochs,
        loss=_loss_name(model),
        optimizer="adamw",
        lr=lr,
        weight_decay=weight_decay,
        grad_clip=grad_clip,
        device=dev,
        seed=seed,
        progress=progress,
        callbacks=[budget, *callbacks],
        checkpoint=checkpoint,
        resume=resume,
        amp=amp,
    )
    _add_bits(history)
    return history


def _loss_name(model: CharRNN) -> Literal["nll", "cross_entropy"]:
    """The seed cell ends in a log-softmax (as the notes' does): its outputs need no second one."""
    return "nll" if model.cell == "seed" else "cross_entropy"


def _add_bits(history: History) -> None:
    for i, r in enumerate(history.records):
        extra = dict(r.extra)
        extra["train_bpc"] = r.train_loss / _LN2
        if r.test_loss is not None:
            extra["val_bpc"] = r.test_loss / _LN2
        history.records[i] = EpochRecord(**{**r.__dict__, "extra": extra})


def bits_per_char(
    model: CharRNN,
    vocab: Vocab,
    text: str,
    *,
    seq_len: int = 256,
    batch_size: int = _VAL_STREAMS,
    device: str | torch.device | None = None,
) -> float:
    """Mean bits per character of ``model`` predicting ``text`` (every character after the first
    of each stream). The text is read as ``batch_size`` long streams (8 by default, as the
    validation in :func:`train`); each starts from a zero state, so fewer streams score a
    little lower.

    Examples
    --------
    >>> vocab = Vocab.from_text("abcd")
    >>> untrained = CharRNN(len(vocab), hidden_size=8, num_layers=1)
    >>> 1.0 < bits_per_char(untrained, vocab, "abcd" * 50, device="cpu") < 4.0
    True
    """
    ids = vocab.encode(text)
    dev = resolve_device(device)
    batch = max(1, min(batch_size, ids.numel() // (seq_len + 1) or 1))
    streams = StreamBatches(ids, batch_size=batch, seq_len=seq_len, shuffle=False, device=dev)
    result = evaluate(_Stateful(model), streams, loss=_loss_name(model), device=dev)
    return result.loss / _LN2


def save(path: str | os.PathLike[str], model: CharRNN, vocab: Vocab) -> None:
    """Save model and vocabulary in one file, atomically."""
    save_checkpoint(
        path,
        {
            "kind": "char_rnn",
            "config": model.config(),
            "state_dict": model.state_dict(),
            "vocab": vocab.to_dict(),
        },
    )


def load(
    path: str | os.PathLike[str], *, device: str | torch.device | None = "cpu"
) -> tuple[CharRNN, Vocab]:
    """Load what :func:`save` wrote, safely (``torch.load(weights_only=True)``), in eval mode.

    Also accepts a :func:`train` checkpoint only if it was written by :func:`save`; training
    checkpoints (``checkpoint=``) hold optimizer state instead of the vocabulary.
    """
    dev = resolve_device(device) if device is not None else torch.device("cpu")
    state = load_checkpoint(path, map_location=dev)
    if state.get("kind") != "char_rnn":
        raise CheckpointError(f"{path} is not a character model saved by nnkit.text.save")
    config: dict[str, Any] = dict(state["config"])
    vocab = Vocab.from_dict(state["vocab"])
    model = CharRNN(config.pop("vocab_size"), **config)
    model.load_state_dict(state["state_dict"])
    return model.to(dev).eval(), vocab
