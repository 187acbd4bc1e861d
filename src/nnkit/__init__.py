"""nnkit: the classic first steps of deep learning as typed, tested PyTorch library calls.

Importing the package itself is light (PyTorch loads with the first module that needs it), so
that the ``nnkit`` command answers Ctrl-C from its first moment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .seeding import seed_everything

__version__ = "0.1.0"

__all__ = ["__version__", "seed_everything"]


def __getattr__(name: str) -> Any:
    if name == "seed_everything":
        from .seeding import seed_everything

        return seed_everything
    raise AttributeError(f"module 'nnkit' has no attribute {name!r}")
