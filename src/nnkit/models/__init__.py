"""Models: ``nn.Module`` subclasses only (no training, no I/O)."""

from .mlp import MLP
from .mnist import MnistCNN
from .notes import NotesNet

__all__ = ["MLP", "MnistCNN", "NotesNet"]
