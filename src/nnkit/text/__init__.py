"""Character-level language modelling: vocabulary, data, training, generation, n-gram baseline."""

from .dataset import CharDataset, read_text, split_text
from .evaluation import VAL_STREAMS, TextLoss, bits_per_char, loss_for
from .generate import generate
from .ngram import KneserNey, best_ngram, ngram_bits_per_char
from .saving import load, save
from .streams import CarryState, StreamBatches
from .training import text_schedule, train
from .vocab import Vocab

__all__ = [
    "VAL_STREAMS",
    "CarryState",
    "CharDataset",
    "KneserNey",
    "StreamBatches",
    "TextLoss",
    "Vocab",
    "best_ngram",
    "bits_per_char",
    "generate",
    "load",
    "loss_for",
    "ngram_bits_per_char",
    "read_text",
    "save",
    "split_text",
    "text_schedule",
    "train",
]
