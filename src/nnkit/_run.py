"""One training run of :func:`~nnkit.train.fit`: everything it holds, and the loop's verbs.

:class:`Run` is built once the arguments have been checked (:mod:`nnkit._fit_config`). It
holds the model and its wrapped form, the optimizer, the learning-rate driver and the loss
scaler, the batch sources, the callbacks, the clock and the history; its methods are what
``fit``'s loop does: :meth:`Run.train_epoch`, :meth:`Run.evaluate`, :meth:`Run.end_epoch`,
:meth:`Run.save`, :meth:`Run.stop_reason` and :meth:`Run.finish`. Under torchrun, decisions
that change control flow (a divergence, a callback or a budget ending training) are agreed on
by all ranks at the same step, so no rank is ever left waiting in a collective.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

from ._fit_config import FitConfig
from ._forward import Totals
from ._memory import check_fits, size_words
from ._mismatch import check_model_tensors, first_batch_error
from ._progress import Display
from ._resume import (
    load_training_state,
    plain,
    rng_state,
    save_training_state,
    set_rng_state,
    settings_differences,
)
from ._scheduling import LRDriver
from ._step import Micro, StepResult, StepWindow, groups, log_line, steps_per_epoch, train_step
from ._stop import PRECEDENCE, stop_reason
from ._validate import fail, one_line
from .callbacks.base import Counters, TrainState
from .data.sources import BatchSource, DataLike, make_source
from .data.split import split_validation
from .distributed import DistContext, distributed_error, timed_out
from .errors import CheckpointError, NnkitError
from .evaluation import Evaluation, evaluate_source
from .history import EpochRecord, History, StopReason
from .metrics import MetricTotals
from .optimizers import OptimizerSpec
from .seeding import seed_everything

#: Optimizer settings that change how an update is computed, not what it is.
_IMPLEMENTATION = frozenset({"foreach", "fused", "capturable", "differentiable"})


class Clock:
    """Seconds since the run began, counting those of the run a checkpoint continues."""

    def __init__(self, offset: float = 0.0) -> None:
        self.started = time.perf_counter() - offset

    def __call__(self) -> float:
        return time.perf_counter() - self.started


@dataclasses.dataclass(frozen=True)
class EpochResult:
    """What one epoch of training measured (reduced over the ranks)."""

    loss: float
    accuracy: float | None
    samples: int
    lr: float
    seconds: float
    metrics: dict[str, float]
    steps: int
    planned_steps: int | None


def agree(reason: StopReason | None, dist: DistContext | None) -> StopReason | None:
    """The reason every rank takes: the first, in :data:`~nnkit._stop.PRECEDENCE`, of the
    ranks' own, so that all of them leave the loop at the same step."""
    if dist is None:
        return reason
    order = (*PRECEDENCE, None)
    code = torch.tensor([order.index(reason)], device=dist.device)
    return order[int(dist.all_reduce(code, "min").item())]


def _check_training_memory(
    model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device
) -> None:
    """The gradients and the optimizer's state (at most two values per weight, as Adam's
    moments) must fit beside the weights, or training is refused before it starts."""
    weights = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    slots = 1 + (2 if "betas" in optimizer.defaults else 1)
    check_fits(
        weights * slots,
        f"training a model of {size_words(weights)} of weights with {type(optimizer).__name__} "
        "(gradients and optimizer state)",
        "model",
        "use a smaller model",
        device=device,
    )


class Run:
    """The state of one ``fit`` call and the verbs of its loop (see the module)."""

    def __init__(self, model: nn.Module, train: DataLike, val: DataLike | None, cfg: FitConfig):
        self.cfg = cfg
        if cfg.validation_split is not None:  # checked here, before anything is touched
            split_seed = 0 if cfg.seed is None else cfg.seed
            train, val = split_validation(train, cfg.validation_split, seed=split_seed)
        self.rt = cfg.runtime.start(model=model)
        if cfg.seed is not None:
            seed_everything(cfg.seed)
        check_model_tensors(model)
        self.model = self.rt.place(model)
        self.built_source = not isinstance(train, BatchSource | torch.utils.data.DataLoader)
        device = self.rt.device
        self.source = make_source(
            train, batch_size=cfg.batch_size, shuffle=cfg.shuffle, seed=cfg.seed, device=device
        )
        self.sources: dict[str, BatchSource] = {"train": self.source}
        if val is not None:
            self.sources["val"] = make_source(
                val, batch_size=cfg.val_batch_size, shuffle=False, seed=0, device=device
            )
        self.counters = Counters()
        with self.naming_timeouts():
            self._shard()
        if isinstance(cfg.optimizer, OptimizerSpec):
            self.optimizer = cfg.optimizer.build(model.parameters(), device)
        else:
            self.optimizer = cfg.optimizer
        self.closure_based = isinstance(self.optimizer, torch.optim.LBFGS)
        _check_training_memory(self.model, self.optimizer, device)
        self.budget = dataclasses.replace(
            cfg.budget, steps_per_epoch=steps_per_epoch(self.source, cfg.accumulate)
        )
        self.driver = LRDriver(cfg.schedule, self.optimizer, self.budget)
        self.scaler = self.rt.grad_scaler()
        self.callbacks = cfg.callbacks
        self.history = History()
        self.state = TrainState(
            model,
            self.optimizer,
            self.history,
            self.budget.epochs,
            is_main_process=self.rt.is_main_process,
            counters=self.counters,
        )
        self.display = Display(
            cfg.progress if self.rt.is_main_process else "off", cfg.budget.epochs
        )
        self.epochs_done = 0
        self.val_seconds = 0.0  # the last validation pass
        self.first_step = 0  # the global step this call starts at (a resumed run's is later)
        self.clock = Clock()
        self.forward_model: nn.Module = model
        self.recorded = self._settings()  # before any epoch: some sources' length varies

    # -- building -----------------------------------------------------------------------------

    def _shard(self) -> None:
        """Give this rank its share of every source, all ranks starting from rank 0's state."""
        dist = self.rt.dist
        if dist is None:
            return
        for source in self.sources.values():
            source.shard(dist.rank, dist.world_size)
            source.load_state_dict(dist.broadcast_object(source.state_dict()))

    def _settings(self) -> dict[str, Any]:
        """The settings that shaped this run, as plain data (kept in its checkpoints)."""
        opt = self.optimizer
        defaults = {k: v for k, v in opt.defaults.items() if k not in _IMPLEMENTATION}
        described: dict[str, Any] = {
            "optimizer": type(opt).__name__,
            "optimizer settings": defaults,
            "schedule": self.cfg.schedule.describe(),
            "loss": self.cfg.loss_name,
            "metrics": [m.name for m in self.cfg.metrics],
            "accumulate": self.cfg.accumulate,
            "grad_clip": self.cfg.grad_clip,
            "amp": self.rt.amp,
            "validation_split": self.cfg.validation_split,
        }
        if self.built_source:
            described["batch_size"] = self.cfg.batch_size
            described["shuffle"] = self.cfg.shuffle
        for name, source in self.sources.items():
            kind, n = type(source).__name__, source.num_samples
            size = "" if n is None else f" of {n} samples"
            described[f"{name} data"] = f"{kind}{size} in {len(source)} batches"
        described |= {
            "epochs": self.cfg.budget.epochs,
            "max_steps": self.cfg.budget.max_steps,
            "max_seconds": self.cfg.budget.max_seconds,
            "callbacks": list(self.callbacks.keys),
        }
        return plain(described)  # type: ignore[no-any-return]

    def restore(self) -> None:
        """Continue from the checkpoint, if ``resume`` and it exists: refuse (before anything
        is loaded) when a setting that shaped the run differs, and say the ones that may."""
        path = self.cfg.checkpoint
        if not self.cfg.resume or path is None or not path.exists():
            return
        state = load_training_state(path, self.rt.device)
        if "settings" in state:
            refused, applied = settings_differences(state["settings"], self.recorded)
            if refused:
                raise CheckpointError(
                    f"cannot resume from {path}: it was written by a run with other settings "
                    f"({'; '.join(refused)}); resume with the checkpoint's settings, or start "
                    "a new run (resume=False, or another checkpoint path)"
                )
            if applied:
                self.display.say(f"resuming {path}: {'; '.join(applied)}")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.driver.load_state_dict(state["scheduler"])
            if self.scaler is not None and state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
            saved = dict(state["sources"])
            if "test" in saved and "val" not in saved:  # written before fit(val=) (version 2)
                saved["val"] = saved.pop("test")
            for name, source in self.sources.items():
                source.load_state_dict(saved[name])
            self.callbacks.load_state_dict(state["callbacks"])
            set_rng_state(state["rng"], self.rt.device)
            records = History.from_dict(state["history"]).records
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise CheckpointError(
                f"checkpoint {path} does not match this model/optimizer/data: {one_line(exc, 300)}"
            ) from exc
        self.history.records.extend(records)
        self.epochs_done = int(state["epoch"])
        self.counters.global_step = int(state["global_step"])
        self.first_step = self.counters.global_step
        self.counters.elapsed = float(state["elapsed"])
        self.counters.weights_epoch = self.epochs_done or None
        self.clock = Clock(self.counters.elapsed)

    def begin(self) -> None:
        """Wrap the model (DDP, compile) and tell the callbacks that training begins."""
        self.forward_model = self.rt.wrap(self.model)
        self.callbacks.call("on_train_begin", self.state)

    # -- the loop's verbs ---------------------------------------------------------------------

    def _own_stop_reason(self) -> StopReason | None:
        """Why this process would stop now (mid-epoch, ``epochs_done`` is the epoch before)."""
        return stop_reason(
            self.budget,
            epochs_done=self.epochs_done,
            steps=self.counters.global_step,
            seconds=self.clock(),
            request=self.counters.stop_request,
            schedule_finished=self.driver.finished,
        )

    def stop_reason(self) -> StopReason | None:
        """Why the run stops now (on every rank alike), or None to go on."""
        return agree(self._own_stop_reason(), self.rt.dist)

    def _sync_every(self) -> int:
        """Steps between host synchronisations (NaN checks, progress, rank agreement)."""
        return 8 if self.rt.device.type == "cpu" else 32

    def train_epoch(self) -> EpochResult:
        """Train one epoch, or until a budget or a callback ends it (on every rank alike)."""
        c, rt, cfg = self.counters, self.rt, self.cfg
        epoch = self.epochs_done + 1
        c.epoch, c.step = epoch, 0
        self.source.set_epoch(epoch - 1)
        self.callbacks.call("on_epoch_begin", self.state)
        started = time.perf_counter()
        window = StepWindow(rt.dist)
        totals = Totals(rt.device)
        extra = MetricTotals(cfg.metrics, rt.device)
        lr = float(self.optimizer.param_groups[0]["lr"])
        sync_every = self._sync_every()
        total = self.budget.steps_per_epoch or None
        if self.budget.total_steps is not None:
            steps_left = self.budget.total_steps - c.global_step
            total = steps_left if total is None else min(total, steps_left)
        self.display.start_epoch(epoch, total)
        self.forward_model.train()
        try:
            for index, micro in enumerate(groups(self.source, cfg.accumulate, rt)):
                c.step = index + 1
                self.callbacks.call("on_batch_begin", self.state)
                self.driver.before_step(self.budget.spent(c.global_step, self.clock(), epoch - 1))
                if index == 0:
                    lr = float(self.optimizer.param_groups[0]["lr"])
                result = self._step(micro)
                self.driver.after_step()
                c.global_step += 1
                for loss, out, y in result.batches:
                    if y.numel():
                        totals.add(loss, out, y)
                        extra.add(out, y, loss)
                if any(y.numel() for _, _, y in result.batches):
                    window.add(c.step, result.loss)
                c.batch_loss = result.loss
                c.elapsed = self.clock()
                c.budget_spent = self.budget.spent(c.global_step, c.elapsed, epoch - 1)
                logging = cfg.log_every is not None and index % cfg.log_every == 0
                synced = c.step % sync_every == 0
                shown = None
                if synced or logging:
                    last = window.check(epoch)
                    if last is not None:
                        left = self.budget.seconds_left(c.elapsed)
                        shown = {"loss": f"{last:.4f}"}
                        if left is not None:
                            shown["left"] = f"{left:.0f}s"
                        if logging and rt.is_main_process:
                            batch = int(micro[0].y.shape[0])
                            self.display.log(log_line(epoch, index, batch, self.source, last))
                self.display.step(shown)
                self.callbacks.call("on_batch_end", self.state)
                reason = self._own_stop_reason()
                # the step budget ends every rank at the same step; on time and callbacks the
                # ranks agree every sync_every steps; a single process stops at once
                if reason == "max_steps":
                    break
                if (rt.dist is None or synced) and agree(reason, rt.dist) is not None:
                    break
            window.check(epoch)
        finally:
            self.display.close_epoch()
        seconds = time.perf_counter() - started
        mean, accuracy, _, samples = totals.summary(rt.dist)
        if samples == 0:
            raise fail("data", f"the training data yielded no batches in epoch {epoch}")
        planned = self.budget.steps_per_epoch or None
        return EpochResult(mean, accuracy, samples, lr, seconds, extra.reduce(rt.dist), c.step,
                           planned)  # fmt: skip

    def _step(self, micro: list[Micro]) -> StepResult:
        """One optimizer step; the first step's error, when the data does not fit the model,
        in nnkit's words (:func:`~nnkit._mismatch.first_batch_error`)."""
        try:
            return train_step(
                self.forward_model,
                self.optimizer,
                micro,
                loss_fn=self.cfg.loss_fn,
                rt=self.rt,
                scaler=self.scaler,
                grad_clip=self.cfg.grad_clip,
                closure_based=self.closure_based,
            )
        except NnkitError:
            raise
        except (RuntimeError, TypeError, ValueError) as exc:
            first = self.counters.global_step == self.first_step and not timed_out(exc)
            named = first_batch_error(exc, self.model, micro[0].x, micro[0].y) if first else None
            if named is None:
                raise
            raise named from exc

    def evaluate(self) -> Evaluation | None:
        """The validation data's loss, accuracy and metrics (None without validation data)."""
        if "val" not in self.sources:
            self.val_seconds = 0.0
            return None
        started = time.perf_counter()
        evaluation = evaluate_source(
            self.forward_model, self.sources["val"], self.cfg.loss_fn, self.rt, self.cfg.metrics
        )
        self.val_seconds = time.perf_counter() - started
        return evaluation

    def end_epoch(self, result: EpochResult, evaluation: Evaluation | None) -> EpochRecord:
        """Record the epoch; let the schedule, the callbacks and the display see it."""
        extra = {f"train_{name}": value for name, value in result.metrics.items()}
        if evaluation is not None:
            extra |= {f"val_{name}": value for name, value in evaluation.metrics.items()}
        record = EpochRecord(
            epoch=self.counters.epoch,
            train_loss=result.loss,
            train_accuracy=result.accuracy,
            val_loss=None if evaluation is None else evaluation.loss,
            val_accuracy=None if evaluation is None else evaluation.accuracy,
            lr=result.lr,
            seconds=result.seconds,
            samples_per_second=(
                result.samples / result.seconds if result.seconds > 0 else math.inf
            ),
            extra=extra,
            steps=result.steps,
            planned_steps=result.planned_steps,
            val_seconds=self.val_seconds if evaluation is not None else 0.0,
        )
        self.history.append(record)
        self.epochs_done = record.epoch
        self.counters.weights_epoch = record.epoch
        self.counters.elapsed = self.clock()
        self.driver.end_epoch(record)
        self.display.end_epoch(record)
        self.callbacks.call("on_epoch_end", self.state, record)
        self.counters.elapsed = self.clock()
        return record

    def save(self) -> None:
        """Write the checkpoint (rank 0), if the run has one."""
        path = self.cfg.checkpoint
        if path is None or not self.rt.is_main_process:
            return
        save_training_state(path, self._state())

    def _state(self) -> Mapping[str, Any]:
        c = self.counters
        return {
            "epoch": self.epochs_done,
            "global_step": c.global_step,
            "elapsed": c.elapsed,
            "settings": self.recorded,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.driver.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "rng": rng_state(self.rt.device),
            "sources": {name: source.state_dict() for name, source in self.sources.items()},
            "callbacks": self.callbacks.state_dict(),
            "history": self.history.to_dict(),
        }

    def finish(self, reason: StopReason | None) -> History:
        """End the run: the stop reason, the callbacks' last word, the weights' epoch."""
        self.history.stop_reason = reason
        if self.counters.epoch > self.epochs_done:  # Ctrl-C abandoned an epoch part-trained
            self.counters.weights_epoch = None
        try:
            self.callbacks.call("on_train_end", self.state)
        finally:
            self.history.weights_epoch = self.counters.weights_epoch
            if self.rt.dist is not None:  # free the DDP wrapper (and its hold on the group) now
                self.forward_model = self.model
                gc.collect()
        return self.history

    @contextlib.contextmanager
    def naming_timeouts(self) -> Iterator[None]:
        """Under torchrun, turn a collective's timeout into the error that names the rank
        that stopped answering and where the run stood."""
        try:
            yield
        except RuntimeError as exc:
            c = self.counters
            where = f"epoch {c.epoch}, step {c.step}" if c.epoch else "before the first epoch"
            named = distributed_error(exc, self.rt.dist, where)
            if named is exc:
                raise
            raise named from exc
