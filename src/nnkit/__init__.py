"""nnkit: the classic first steps of deep learning as typed, tested PyTorch library calls."""

from .seeding import seed_everything

__version__ = "0.1.0"

__all__ = ["__version__", "seed_everything"]
