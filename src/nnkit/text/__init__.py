"""Character-level language modelling: vocabulary, data, training, generation, n-gram baseline,
mixtures of the two."""

from .adaptive import ADAPT_LR, CountingNgram, OnlineMixer, adaptive_probs
from .corpus import CorpusInfo
from .dataset import CharDataset, read_text, split_text
from .dynamic import DYNAMIC_LR, SEGMENT_LEN, gradient_stats
from .evaluation import (
    MAX_UNKNOWN,
    VAL_STREAMS,
    CharScores,
    TextLoss,
    bits_per_char,
    char_scores,
    check_coverage,
    loss_for,
)
from .generate import MAX_GENERATE_LENGTH, generate
from .match import MATCH_LEN, MatchModel
from .mixture import ContextGate, NgramMixture
from .mixture_fit import fit_mixture, mix_ngram
from .ngram import MAX_ORDER, KneserNey, best_ngram, ngram_bits_per_char
from .saving import SavedModel, load, load_file, save
from .streams import CarryState, StreamBatches
from .training import recipe_for, text_schedule, train
from .vocab import Vocab

__all__ = [
    "ADAPT_LR",
    "DYNAMIC_LR",
    "MATCH_LEN",
    "MAX_GENERATE_LENGTH",
    "MAX_ORDER",
    "MAX_UNKNOWN",
    "SEGMENT_LEN",
    "VAL_STREAMS",
    "CarryState",
    "CharDataset",
    "CharScores",
    "ContextGate",
    "CorpusInfo",
    "CountingNgram",
    "KneserNey",
    "MatchModel",
    "NgramMixture",
    "OnlineMixer",
    "SavedModel",
    "StreamBatches",
    "TextLoss",
    "Vocab",
    "adaptive_probs",
    "best_ngram",
    "bits_per_char",
    "char_scores",
    "check_coverage",
    "fit_mixture",
    "generate",
    "gradient_stats",
    "load",
    "load_file",
    "loss_for",
    "mix_ngram",
    "ngram_bits_per_char",
    "read_text",
    "recipe_for",
    "save",
    "split_text",
    "text_schedule",
    "train",
]
