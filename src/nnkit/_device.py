"""Device resolution shared by every module that takes ``device=``."""

from __future__ import annotations

import torch

from .errors import InvalidArgumentError


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` means CUDA when available, else the CPU; strings are validated.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
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
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgumentError(
            f"device {device!r} was asked for but CUDA is not available here; use 'cpu'"
        )
    return resolved
