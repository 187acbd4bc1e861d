"""Character-level language modelling: vocabulary, data, training, generation, n-gram baseline."""

from .dataset import CharDataset, read_text, split_text
from .generate import generate
from .ngram import KneserNey, best_ngram, ngram_bits_per_char
from .training import StreamBatches, bits_per_char, load, save, train
from .vocab import Vocab

__all__ = [
    "CharDataset",
    "KneserNey",
    "StreamBatches",
    "Vocab",
    "best_ngram",
    "bits_per_char",
    "generate",
    "load",
    "ngram_bits_per_char",
    "read_text",
    "save",
    "split_text",
    "train",
]
