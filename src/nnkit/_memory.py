"""How much memory this machine has free, and a check that a planned allocation fits in it.

Used before building anything large (a model from a config, a batch), so that a size that
cannot be allocated is refused in one line instead of failing inside the allocator, or
swapping the machine to a halt.
"""

from __future__ import annotations

import os

import torch

from ._validate import fail

#: Bytes per float32 value.
FLOAT_BYTES = 4


def available_bytes(device: torch.device | None = None) -> int | None:
    """Memory available to a new allocation on ``device`` (the free memory of a CUDA device;
    for the CPU Linux's ``MemAvailable``, else physical memory), or None when it is not
    known."""
    if device is not None and device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device is not None and device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def size_words(nbytes: float) -> str:
    """``nbytes`` in words: ``'1.5 GiB'``."""
    if nbytes < 1024:
        return f"{nbytes:.0f} bytes"
    value, units = nbytes / 1024, ["KiB", "MiB", "GiB", "TiB", "PiB"]
    while value >= 1024 and units[1:]:
        value, units = value / 1024, units[1:]
    return f"{value:.3g} {units[0]}"


def check_fits(
    nbytes: int, what: str, parameter: str, fix: str, *, device: torch.device | None = None
) -> None:
    """An :class:`~nnkit.errors.InvalidArgumentError` naming ``parameter`` when ``nbytes``
    exceed the memory available now on ``device`` (the CPU by default; nothing is checked
    where the machine does not say)."""
    free = available_bytes(device)
    if free is not None and nbytes > free:
        raise fail(
            parameter,
            f"{what} needs {size_words(nbytes)} but this machine has {size_words(free)} "
            f"available; {fix}",
        )
