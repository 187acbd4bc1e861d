"""Models: ``nn.Module`` subclasses only (no training, no I/O)."""

from .char_rnn import CharRNN
from .mlp import MLP
from .mnist import MnistCNN
from .notes import NotesNet, NotesRNN

__all__ = ["MLP", "CharRNN", "MnistCNN", "NotesNet", "NotesRNN"]
