"""Would a cheaper read-out let the default CharRNN beat the n-gram on neko.txt? (It does not.)

Usage::

    python benchmarks/char_rnn_adaptive.py [--seconds 300] [--cutoffs 500 1500] [--div 4]
                                           [--text-dir DIR]

The default ``CharRNN``'s embedding and GRU layers, with PyTorch's adaptive softmax
(``nn.AdaptiveLogSoftmaxWithLoss``, Grave et al. 2017) in place of the 3,060-way linear
read-out: the characters, sorted by training frequency, are split at ``--cutoffs``; the head
scores the frequent ones and one entry per rarer cluster, whose own smaller products (dimension
divided by ``--div``) run only for the targets in them. The model computes its own loss, so it
trains through :func:`nnkit.text.train` with ``loss=None`` and every setting of that recipe
(32 streams x 64 characters, AdamW lr 0.01, weight decay 0.5, clipping 1.0, the cosine to a tenth
over the budget halved after two epochs without a new best, the best epoch's weights kept),
validated on 8 streams after every epoch; prints each epoch's validation bits/char and speed.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnkit.models import CharRNN
from nnkit.text import Vocab, read_text, split_text, train

try:
    from ._paths import text_root
except ImportError:  # run as a script
    from _paths import text_root  # type: ignore[no-redef]

DEFAULT = text_root()


class AdaptiveCharRNN(nn.Module):
    """``CharRNN(vocab_size)``'s embedding and recurrent layers, adaptive-softmax read-out.

    A model that computes its own loss: ``forward(ids, targets, state)`` returns
    ``(output with .loss, state)``, the contract of ``fit(loss=None)``.
    """

    def __init__(self, vocab_size: int, cutoffs: list[int], div: float) -> None:
        super().__init__()
        self.body = CharRNN(vocab_size)
        del self.body.head  # replaced by:
        self.head = nn.AdaptiveLogSoftmaxWithLoss(self.body.hidden_size, vocab_size, cutoffs, div)

    def forward(
        self, ids: torch.Tensor, targets: torch.Tensor, state: Any = None
    ) -> tuple[Any, Any]:
        features, new_state = self.body.features(ids, state)  # (B, T, H)
        return self.head(features.flatten(0, 1), targets.reshape(-1)), new_state


def frequency_vocab(text: str) -> Vocab:
    """Every character of ``text``, most frequent in its training split first."""
    train_pieces, _ = split_text(text, 0.1)
    counts = Counter("".join(train_pieces))
    chars = sorted(set(text) - {"\ufffd"}, key=lambda c: (-counts[c], c))
    return Vocab(chars)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--text-dir", type=Path, default=DEFAULT, help="corpus folder (default: $NNKIT_TEXT)"
    )
    parser.add_argument(
        "--seconds", type=float, default=300.0, help="training budget per run (seconds)"
    )
    parser.add_argument(
        "--cutoffs",
        type=int,
        nargs="+",
        default=[500, 1500],
        help="adaptive softmax cluster boundaries (character ranks)",
    )
    parser.add_argument(
        "--div",
        type=float,
        default=4.0,
        help="adaptive softmax div_value (tail cluster width factor)",
    )
    args = parser.parse_args()
    text = read_text(args.text_dir / "neko.txt")
    vocab = frequency_vocab(text)
    torch.manual_seed(0)
    model = AdaptiveCharRNN(len(vocab), args.cutoffs, args.div)
    history = train(
        model,
        text,
        vocab=vocab,
        loss=None,
        max_seconds=args.seconds,
        device="cpu",
        progress=False,
        report=True,
    )
    best = min(r.extra["val_bpc"] for r in history.records)
    print(
        f"best validation {best:.3f} bits/char (cutoffs {args.cutoffs}, div {args.div}); "
        f"{len(history)} epochs, stopped by {history.stop_reason}"
    )


if __name__ == "__main__":
    main()
