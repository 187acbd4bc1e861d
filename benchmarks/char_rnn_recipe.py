"""One training recipe for the default CharRNN, scored by validation bits/char after a budget.

Usage::

    python benchmarks/char_rnn_recipe.py neko [--seconds 150] [--batch-size 32] [--seq-len 64]
        [--lr 0.01] [--weight-decay 0.5] [--dropout 0.3] [--amp] [--unigram-bias] [--no-plateau]
        [--text-dir DIR]

Trains ``CharRNN(len(vocab), dropout=...)`` with ``nnkit.text.train`` on the CPU and prints the
best epoch's validation bits/char, the throughput and the curve (seconds: train/validation
bits/char per epoch). This is how the defaults of ``nnkit.text.train`` were chosen (see the
text tutorial). ``--unigram-bias`` starts the read-out bias at the log unigram frequencies of
the training text (a faster start, no better end in our runs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from nnkit.models import CharRNN
from nnkit.runtime import Runtime
from nnkit.text import Vocab, read_text, split_text, train

try:
    from ._paths import text_root
except ImportError:  # run as a script
    from _paths import text_root  # type: ignore[no-redef]

DEFAULT = text_root()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", help="alice or neko (a .txt file in --text-dir)")
    parser.add_argument(
        "--text-dir", type=Path, default=DEFAULT, help="corpus folder (default: $NNKIT_TEXT)"
    )
    parser.add_argument("--seconds", type=float, default=150.0, help="training budget (seconds)")
    parser.add_argument("--batch-size", type=int, default=32, help="parallel streams")
    parser.add_argument("--seq-len", type=int, default=64, help="characters per stream per step")
    parser.add_argument("--lr", type=float, default=1e-2, help="peak AdamW learning rate")
    parser.add_argument(
        "--weight-decay", type=float, default=0.5, help="AdamW decoupled weight decay"
    )
    parser.add_argument(
        "--dropout",
        type=float,
        default=0.3,
        help="locked dropout between layers and before the read-out",
    )
    parser.add_argument("--amp", action="store_true", help="bf16 autocast")
    parser.add_argument(
        "--unigram-bias",
        action="store_true",
        help="start the read-out bias at the log unigram frequencies",
    )
    parser.add_argument(
        "--no-plateau", action="store_true", help="patience=None: the cosine schedule alone"
    )
    args = parser.parse_args()
    text = read_text(args.text_dir / f"{args.corpus}.txt")
    vocab = Vocab.from_text(text)
    torch.manual_seed(0)
    model = CharRNN(len(vocab), dropout=args.dropout)
    if args.unigram_bias:
        train_pieces, _ = split_text(text, 0.1)
        counts = torch.bincount(vocab.encode("".join(train_pieces)), minlength=len(vocab))
        frequencies = (counts.double() + 0.5) / (counts.sum() + 0.5 * len(vocab))
        with torch.no_grad():
            model.head.bias.copy_(frequencies.log())
    history = train(
        model,
        text,
        vocab=vocab,
        max_seconds=args.seconds,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        lr=args.lr,
        weight_decay=args.weight_decay,
        runtime=Runtime(amp=args.amp),
        patience=None if args.no_plateau else 2,
        device="cpu",
        progress=False,
    )
    elapsed, curve = 0.0, []
    for r in history.records:
        elapsed += r.seconds
        curve.append(f"{elapsed:.0f}s:{r.extra['train_bpc']:.2f}/{r.extra['val_bpc']:.3f}")
    best = min(r.extra["val_bpc"] for r in history.records)
    settings = " ".join(f"{k}={v}" for k, v in vars(args).items() if k != "text_dir")
    print(f"{settings}\nbest validation {best:.3f} bits/char, ", end="")
    print(f"{history.last.samples_per_second:,.0f} chars/s\n  {' '.join(curve)}")


if __name__ == "__main__":
    main()
