"""Data-parallel training under ``torchrun``: detection, the process group, reductions.

nnkit starts no processes of its own: PyTorch's launcher ``torchrun`` starts one process per
device and sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`setup` (called by
:func:`nnkit.train.fit`) sees them, joins the process group (gloo on the CPU, NCCL on CUDA, each
rank on its ``LOCAL_RANK`` GPU), and tears it down when the process exits.
"""

from __future__ import annotations

import atexit
import gc
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypeVar, cast

import torch
import torch.distributed as dist

from ._device import resolve_device
from .errors import DistributedTimeoutError, InvalidArgumentError

__all__ = [
    "DEFAULT_TIMEOUT",
    "DistContext",
    "is_main_process",
    "launched_by_torchrun",
    "setup",
    "teardown",
    "world_size",
]

DistributedArg = bool | Literal["auto"]
#: Seconds a rank waits for the others in one collective before the job fails. Ranks meet at
#: every training step and after every epoch, so the longest wait is a step, an evaluation or
#: rank 0 writing a checkpoint; five minutes leaves room for all of them on a slow disk.
DEFAULT_TIMEOUT = 300.0
T = TypeVar("T")
_TORCHRUN_HINT = (
    "torchrun --standalone --nproc_per_node=2 your_script.py "
    "(or: torchrun --standalone --nproc_per_node=2 -m nnkit mnist ...)"
)


def launched_by_torchrun() -> bool:
    """True in a process that ``torchrun`` started with ``WORLD_SIZE`` > 1.

    Examples
    --------
    >>> import os
    >>> launched_by_torchrun() == (int(os.environ.get("WORLD_SIZE", "1")) > 1)
    True
    """
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def world_size() -> int:
    """Number of processes in the run (1 when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        return int(dist.get_world_size())
    return int(os.environ.get("WORLD_SIZE", "1")) if launched_by_torchrun() else 1


def is_main_process() -> bool:
    """True on rank 0 and in a plain single-process run: the process that prints and writes.

    Examples
    --------
    >>> is_main_process()
    True
    """
    if dist.is_available() and dist.is_initialized():
        return int(dist.get_rank()) == 0
    return int(os.environ.get("RANK", "0")) == 0


@dataclass(frozen=True)
class DistContext:
    """This process's place in a data-parallel run."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    timeout: float = DEFAULT_TIMEOUT

    def missing_ranks(self, wait: float = 10.0) -> str:
        """Which ranks do not answer now, in words (called after a collective timed out).

        Every rank that is still running meets at a barrier of a separate gloo group (with
        ``wait`` seconds of patience); rank 0 learns which ranks did not come.
        """
        try:
            dist.monitored_barrier(
                group=_monitor_group(), timeout=timedelta(seconds=wait), wait_all_ranks=True
            )
        except RuntimeError as exc:
            found = re.search(r"Ranks? ([\d, ]+) failed to pass", str(exc))
            if found:
                ranks = found.group(1).strip()
                return f"rank {ranks} stopped answering"
            if "from rank 0" in str(exc):
                return "rank 0 names the rank that stopped answering in its own error"
            return f"the ranks could not be asked ({exc})"
        return "every rank answers again: one was slower than the timeout, not stopped"

    def timeout_error(self, exc: BaseException, where: str) -> DistributedTimeoutError:
        """A :class:`~nnkit.errors.DistributedTimeoutError` for a collective that timed out at
        ``where``."""
        missing = self.missing_ranks()
        return DistributedTimeoutError(
            f"rank {self.rank} waited more than {self.timeout:g} s for the other ranks ({where}): "
            f"{missing}. A rank that stalls ends the job after Runtime(dist_timeout=...) "
            "seconds; raise it if an evaluation or a checkpoint write takes longer",
            rank=self.rank,
            missing=missing,
        )

    @property
    def is_main_process(self) -> bool:
        """True on rank 0."""
        return self.rank == 0

    def all_reduce(
        self, tensor: torch.Tensor, op: Literal["sum", "min", "max"] = "sum"
    ) -> torch.Tensor:
        """Reduce ``tensor`` over all ranks, in place, and return it."""
        ops = {"sum": dist.ReduceOp.SUM, "min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX}
        dist.all_reduce(tensor, op=ops[op])
        return tensor

    def broadcast_object(self, value: T) -> T:
        """Rank 0's ``value`` (plain data and tensors), on every rank.

        Sent between the processes of one job (pickled by PyTorch); never read from a file.
        """
        box: list[Any] = [value]
        dist.broadcast_object_list(box, src=0, device=self.device)
        return cast(T, box[0])


_MONITOR: list[Any] = []


def _monitor_group() -> Any:
    """A gloo group beside the training group, for asking which ranks still answer."""
    if not _MONITOR:
        _MONITOR.append(dist.new_group(backend="gloo"))
    return _MONITOR[0]


def timed_out(exc: BaseException) -> bool:
    """True for the error a collective raises when a peer did not answer in time."""
    return isinstance(exc, RuntimeError) and "timed out" in str(exc).lower()


def distributed_error(exc: RuntimeError, dist: DistContext | None, where: str) -> RuntimeError:
    """The error to raise for ``exc``: one naming the rank that stopped answering when ``exc``
    is a collective's timeout in a distributed run, else ``exc`` itself."""
    if dist is not None and timed_out(exc):
        return dist.timeout_error(exc, where)
    return exc


def teardown(*, wait_for_peers: bool = False) -> None:
    """Leave the process group, if this process is in one.

    With ``wait_for_peers`` (for a run that ended normally on every rank), all ranks first meet
    at a barrier, so that no rank tears down the group while another is still using it. The exit
    handler that :func:`setup` registers leaves without waiting: after an error on one rank the
    others may never reach a barrier, and torchrun stops them instead.
    """
    if dist.is_available() and dist.is_initialized():
        if wait_for_peers:
            dist.barrier()
        # A DistributedDataParallel wrapper waiting in a reference cycle keeps the gloo group
        # (and its worker threads) alive past destroy_process_group; if it is only freed during
        # interpreter shutdown, the process aborts ("terminate called without an active
        # exception"). Collect it while the interpreter is still whole.
        gc.collect()
        _MONITOR.clear()
        dist.destroy_process_group()


def setup(
    distributed: DistributedArg,
    device: str | torch.device | None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> DistContext | None:
    """Join the torchrun process group when asked to (or, with ``"auto"``, when started so).

    Parameters
    ----------
    distributed : bool or "auto"
        ``"auto"``: distributed exactly when launched by torchrun with more than one process.
        ``False``: never. ``True``: always, and an error outside torchrun.
    device : str or torch.device, optional
        ``None`` or ``"cuda"`` mean this rank's ``cuda:LOCAL_RANK`` when CUDA is available.
    timeout : float
        Seconds a rank waits for the others in a collective
        (:data:`~nnkit.distributed.DEFAULT_TIMEOUT`) before
        the run fails; a rank that stalls then ends the job instead of hanging it.

    Returns
    -------
    DistContext or None
        None for a single-process run.

    Examples
    --------
    >>> setup(False, "cpu") is None
    True
    """
    if distributed not in (True, False, "auto"):
        raise InvalidArgumentError(
            f"distributed must be True, False or 'auto', got {distributed!r}",
            parameter="distributed",
        )
    if distributed is False:
        return None
    if not launched_by_torchrun():
        if distributed is True:
            raise InvalidArgumentError(
                "distributed=True needs a process launched by torchrun with WORLD_SIZE > 1; "
                f"start it as: {_TORCHRUN_HINT}"
            )
        return None
    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    wanted = resolve_device(device)
    if wanted.type == "cuda":
        dev = torch.device("cuda", local_rank if wanted.index is None else wanted.index)
        torch.cuda.set_device(dev)
    else:
        dev = wanted
    if not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(
            backend,
            timeout=timedelta(seconds=timeout),
            device_id=dev if dev.type == "cuda" else None,
        )
        atexit.register(teardown)
    _monitor_group()  # every rank creates it now, in the same order (once per process group)
    return DistContext(rank, size, local_rank, dev, timeout)
