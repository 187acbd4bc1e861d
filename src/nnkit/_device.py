"""Device resolution shared by every module that takes ``device=``."""

from __future__ import annotations

import torch

from .errors import InvalidArgumentError

#: Accelerators a device string may name, each usable when its backend says it is available.
_ACCELERATORS = ("cuda", "mps", "xpu")


def _available(kind: str) -> bool:
    backend = getattr(torch, kind, None) if kind != "mps" else torch.backends.mps
    return bool(backend is not None and backend.is_available())


def _count(kind: str) -> int:
    backend = getattr(torch, kind, None)
    counter = getattr(backend, "device_count", None)
    return int(counter()) if counter is not None else 1


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` means CUDA when available, else the CPU; a string or device is checked
    against what this machine has: ``'cpu'``, or an accelerator (``'cuda'``, ``'cuda:N'``,
    ``'mps'``, ``'xpu'``) that is available, with an index it has. The ``meta`` device and
    unknown names are refused (:class:`~nnkit.errors.InvalidArgumentError` naming ``device``).

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("meta")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nnkit.errors.InvalidArgumentError: device 'meta' holds shapes but no data, ...
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InvalidArgumentError(
            f"device must be 'cpu', 'cuda', 'cuda:N' or a torch.device, got {device!r}",
            parameter="device",
        ) from exc
    fallback = "use 'cpu'" + (", or 'cuda'" if torch.cuda.is_available() else "")
    if resolved.type == "cpu":
        return resolved
    if resolved.type == "meta":
        raise InvalidArgumentError(
            f"device {device!r} holds shapes but no data, so nothing can be computed on it; "
            f"{fallback}",
            parameter="device",
        )
    if resolved.type not in _ACCELERATORS:
        raise InvalidArgumentError(
            f"device must be 'cpu', 'cuda', 'cuda:N', 'mps' or 'xpu', got {device!r}",
            parameter="device",
        )
    if not _available(resolved.type):
        raise InvalidArgumentError(
            f"device {device!r} was asked for but {resolved.type.upper()} is not available "
            f"here; {fallback}",
            parameter="device",
        )
    if resolved.index is not None and resolved.index >= _count(resolved.type):
        raise InvalidArgumentError(
            f"device {device!r} was asked for but this machine has {_count(resolved.type)} "
            f"{resolved.type} device(s), numbered from 0",
            parameter="device",
        )
    return resolved
