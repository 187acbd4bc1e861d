"""Where and how the arithmetic runs: device, precision, memory layout, compilation, ranks.

These switches change how fast training runs, not what it computes (bf16 autocast aside, which
rounds); they travel together as one frozen :class:`Runtime`, apart from the training settings,
so the loop does not branch on them everywhere (the idea of Lightning Fabric).

Examples
--------
>>> rt = Runtime(device="cpu", channels_last=True)
>>> active = rt.start()
>>> active.device, active.inputs(torch.zeros(2, 1, 4, 4)).is_contiguous(
...     memory_format=torch.channels_last)
(device(type='cpu'), True)
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args

import torch
from torch import nn

from ._device import resolve_device
from ._validate import fail, one_of, positive_float
from .distributed import DEFAULT_TIMEOUT, DistContext
from .distributed import setup as setup_distributed

__all__ = ["ActiveRuntime", "AmpMode", "CompileMode", "DeviceArg", "Runtime"]

DeviceArg = str | torch.device | None
#: ``torch.compile`` modes: ``"reduce-overhead"`` replays CUDA graphs (for small models whose
#: steps are dominated by kernel launches), ``"max-autotune"`` also searches kernel settings.
CompileMode: TypeAlias = Literal["default", "reduce-overhead", "max-autotune"]
_COMPILE_SETTINGS: tuple[bool | str, ...] = (True, False, *get_args(CompileMode))
#: The mixed-precision modes. ``"bf16"`` autocasts to bfloat16 (float32's exponent range, no
#: loss scaling needed); ``"fp16"`` autocasts to float16 and scales the loss with
#: ``torch.amp.GradScaler`` so that small gradients do not underflow.
AmpMode: TypeAlias = Literal["bf16", "fp16"]
_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _channels_last(setting: bool | Literal["auto"], device: torch.device, model: object) -> bool:
    """Whether ``"auto"`` means channels-last: on a CPU, for models that declare it safe."""
    if setting != "auto":
        return setting
    return device.type == "cpu" and bool(getattr(model, "channels_last_safe", False))


@dataclass(frozen=True)
class Runtime:
    """The runtime switches of :func:`~nnkit.train.fit` and :func:`~nnkit.train.evaluate`.

    Parameters
    ----------
    device : str or torch.device, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``; None means CUDA when available, else the CPU.
        ``fit(device=...)`` is a shortcut for this field.
    amp : bool or AmpMode
        Mixed precision for the forward passes (CPU and CUDA); parameters stay float32.
        ``"bf16"`` (or True) autocasts to bfloat16; ``"fp16"`` autocasts to float16 and
        scales the loss with ``torch.amp.GradScaler`` (its scale is kept in ``fit``'s
        checkpoints); False is full precision.
    channels_last : bool or "auto"
        Use the channels-last memory format for the model and 4-d inputs (faster convolutions
        and pooling on CPUs, and on tensor cores). ``"auto"`` (the default) turns it on on a CPU
        for models whose class sets ``channels_last_safe = True``, as
        :class:`~nnkit.models.MnistCNN` does, and leaves other models as they are: a model that
        calls ``.view()`` on a 4-d activation, like the notes' ``Net``, fails in that layout.
        With the fused Adam step it makes a ``fit`` epoch with the notes' settings 1.48x faster
        on the 2-core development CPU (:doc:`/benchmarks`).
    compile : bool or CompileMode
        Train through ``torch.compile(model)`` (the weights stay those of ``model``); a
        :data:`CompileMode` name compiles in that mode (``"reduce-overhead"``: CUDA graphs).
    distributed : bool or "auto"
        Data-parallel training under ``torchrun``. ``"auto"``: when the process was started by
        torchrun with ``WORLD_SIZE`` > 1, join the process group (gloo on the CPU, NCCL on CUDA,
        one GPU per ``LOCAL_RANK``) and wrap the model in ``DistributedDataParallel``. ``False``
        forces a single process; ``True`` outside torchrun is an error.
    dist_timeout : float
        Under torchrun, seconds a rank waits for the others before the job fails with an error
        that names the rank that stopped answering (default
        :data:`nnkit.distributed.DEFAULT_TIMEOUT`, five minutes). Raise it when an evaluation or
        a checkpoint write on rank 0 can take longer.

    Examples
    --------
    >>> Runtime(amp=True).amp
    True
    >>> Runtime(compile="yes")
    Traceback (most recent call last):
    ...
    nnkit.errors.InvalidArgumentError: Runtime compile must be one of True, False, ..., got 'yes'
    """

    device: DeviceArg = None
    amp: bool | AmpMode = False
    channels_last: bool | Literal["auto"] = "auto"
    compile: bool | CompileMode = False
    distributed: bool | Literal["auto"] = "auto"
    dist_timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if not isinstance(self.amp, bool) and self.amp not in ("bf16", "fp16"):
            raise fail(
                "amp", f"Runtime amp must be True, False, 'bf16' or 'fp16', got {self.amp!r}"
            )
        one_of(self.channels_last, "channels_last", (True, False, "auto"), what="Runtime")
        one_of(self.compile, "compile", _COMPILE_SETTINGS, what="Runtime")
        one_of(self.distributed, "distributed", (True, False, "auto"), what="Runtime")
        positive_float(self.dist_timeout, "dist_timeout", what="Runtime")
        if self.device is not None and not isinstance(self.device, str | torch.device):
            raise fail(
                "device",
                f"device must be 'cpu', 'cuda', 'cuda:N' or a torch.device, got {self.device!r}",
            )

    def with_device(self, device: DeviceArg) -> Runtime:
        """This runtime with ``device`` filled in (an error if both name different devices)."""
        if device is None:
            return self
        if self.device is not None and resolve_device(self.device) != resolve_device(device):
            raise fail(
                "device",
                f"device={device!r} contradicts runtime=Runtime(device={self.device!r}); "
                "give the device in one place",
            )
        return dataclasses.replace(self, device=device)

    def start(self, *, join: bool = True, model: nn.Module | None = None) -> ActiveRuntime:
        """Resolve the device and, with ``join`` (``fit``), join the torchrun process group;
        ``model`` is what ``channels_last="auto"`` decides for."""
        dist = (
            setup_distributed(self.distributed, self.device, timeout=self.dist_timeout)
            if join
            else None
        )
        device = dist.device if dist is not None else resolve_device(self.device)
        channels_last = _channels_last(self.channels_last, device, model)
        amp: AmpMode | None = "bf16" if self.amp is True else (self.amp or None)
        if amp is not None and device.type not in ("cpu", "cuda"):
            raise fail(
                "amp", f"Runtime amp={self.amp!r} runs on 'cpu' and 'cuda', not on {device.type!r}"
            )
        return ActiveRuntime(device, amp, channels_last, self.compile, dist)


@dataclass(frozen=True)
class ActiveRuntime:
    """A :class:`Runtime` in effect: the resolved device and this process's rank, if any."""

    device: torch.device
    amp: AmpMode | None = None
    channels_last: bool = False
    compile: bool | CompileMode = False
    dist: DistContext | None = None

    @property
    def is_main_process(self) -> bool:
        """True on rank 0 and in a single-process run (the process that prints and writes)."""
        return self.dist is None or self.dist.is_main_process

    @property
    def world_size(self) -> int:
        return 1 if self.dist is None else self.dist.world_size

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Autocast to ``amp``'s dtype, or nothing without ``amp``."""
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=_AMP_DTYPES[self.amp])

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """The loss scaler of ``amp="fp16"`` (None otherwise)."""
        if self.amp != "fp16":
            return None
        return torch.amp.GradScaler(self.device.type)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """A batch's inputs on the device (channels-last for 4-d inputs when asked)."""
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        """A batch's targets on the device."""
        return y.to(self.device, non_blocking=True)

    def place(self, model: nn.Module) -> nn.Module:
        """Move ``model`` to the device (and memory format), in place; returns it."""
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module the loop calls: DDP around ``model`` when distributed, compiled on request.

        Its weights are ``model``'s: training through the wrapper trains ``model``.
        """
        forward: nn.Module = model
        if self.dist is not None:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
            forward = DistributedDataParallel(model, device_ids=ids)
        if self.compile:
            mode = None if self.compile is True else self.compile
            forward = torch.compile(forward, mode=mode)  # type: ignore[assignment]
        return forward
