"""Models: ``nn.Module`` subclasses only (no training, no I/O)."""

from .mnist import MnistCNN
from .notes import NotesNet

__all__ = ["MnistCNN", "NotesNet"]
