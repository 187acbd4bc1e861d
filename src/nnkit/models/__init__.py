"""Models: ``nn.Module`` subclasses only (no training, no I/O)."""

from .char_rnn import CharRNN
from .char_transformer import CharTransformer
from .mlp import MLP
from .mnist import DEFAULT_CHANNELS, MnistCNN, MnistDepth
from .notes import NotesNet, NotesRNN

__all__ = [
    "DEFAULT_CHANNELS",
    "MLP",
    "CharRNN",
    "CharTransformer",
    "MnistCNN",
    "MnistDepth",
    "NotesNet",
    "NotesRNN",
]
