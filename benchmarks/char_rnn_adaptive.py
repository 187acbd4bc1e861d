"""Would a cheaper read-out let the default CharRNN beat the n-gram on neko.txt? (It does not.)

Usage::

    python benchmarks/char_rnn_adaptive.py [--seconds 300] [--cutoffs 500 1500] [--div 4]
                                           [--text-dir ../shared/data/text]

The default ``CharRNN``'s embedding and GRU layers, with PyTorch's adaptive softmax
(``nn.AdaptiveLogSoftmaxWithLoss``, Grave et al. 2017) in place of the 3,060-way linear
read-out: the characters, sorted by training frequency, are split at ``--cutoffs``; the head
scores the frequent ones and one entry per rarer cluster, whose own smaller products (dimension
divided by ``--div``) run only for the targets in them. Trained on the CPU with the settings of
:func:`nnkit.text.train` (32 streams x 64 characters, AdamW lr 0.01, weight decay 0.5, clipping
1.0, cosine to a tenth over the budget, halved after two epochs without a new best), validated on
8 streams after every epoch; prints each epoch's validation bits/char and the speed.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from torch import nn

from nnkit.models import CharRNN
from nnkit.text import StreamBatches, Vocab, read_text, split_text

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "text"


class AdaptiveCharRNN(nn.Module):
    """``CharRNN(vocab_size)``'s embedding and recurrent layers, adaptive-softmax read-out."""

    def __init__(self, vocab_size: int, cutoffs: list[int], div: float) -> None:
        super().__init__()
        self.body = CharRNN(vocab_size)
        del self.body.head  # replaced by:
        self.head = nn.AdaptiveLogSoftmaxWithLoss(self.body.hidden_size, vocab_size, cutoffs, div)

    def hidden(self, ids: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        """Features ``(B * T, H)`` and the detached state to carry to the next batch."""
        features, new_state = self.body.features(ids, state)
        assert isinstance(new_state, torch.Tensor)  # a GRU's state
        return features.flatten(0, 1), new_state.detach()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text-dir", type=Path, default=DEFAULT)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--cutoffs", type=int, nargs="+", default=[500, 1500])
    parser.add_argument("--div", type=float, default=4.0)
    args = parser.parse_args()
    text = read_text(args.text_dir / "neko.txt")
    vocab = Vocab.from_text(text)
    train_pieces, val_pieces = split_text(text, 0.1)
    train_ids = vocab.encode("".join(train_pieces))
    counts = torch.bincount(train_ids, minlength=len(vocab))
    rank = torch.empty(len(vocab), dtype=torch.long)
    rank[torch.argsort(counts, descending=True)] = torch.arange(len(vocab))
    source = StreamBatches(rank[train_ids], batch_size=32, seq_len=64, seed=0)
    val_ids = rank[vocab.encode("".join(val_pieces))]
    val = StreamBatches(val_ids, batch_size=8, seq_len=64, shuffle=False)
    torch.manual_seed(0)
    model = AdaptiveCharRNN(len(vocab), args.cutoffs, args.div)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.5)

    def validate() -> float:
        model.eval()
        total, count, state = 0.0, 0, None
        with torch.no_grad():
            for x, y in val:
                h, state = model.hidden(x, state)
                total -= model.head.log_prob(h).gather(1, y.reshape(-1, 1)).sum().item()
                count += y.numel()
        model.train()
        return total / count / math.log(2)

    started, best, scale, stale, epoch, chars = time.perf_counter(), math.inf, 1.0, 0, 0, 0
    while time.perf_counter() - started < args.seconds:
        epoch += 1
        source.set_epoch(epoch - 1)
        state = None
        for x, y in source:
            spent = min((time.perf_counter() - started) / args.seconds, 1.0)
            factor = scale * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * spent)))
            for group in optimizer.param_groups:
                group["lr"] = 0.01 * factor
            h, state = model.hidden(x, state)
            loss = model.head(h, y.reshape(-1)).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            chars += y.numel()
            if time.perf_counter() - started >= args.seconds:
                break
        bits = validate()
        if bits < best:
            best, stale = bits, 0
        else:
            stale += 1
            if stale >= 2:
                scale, stale = scale / 2, 0
        elapsed = time.perf_counter() - started
        print(
            f"{elapsed:.0f} s  epoch {epoch}  validation {bits:.3f} bits/char  "
            f"{chars / elapsed:,.0f} chars/s",
            flush=True,
        )
    print(f"best validation {best:.3f} bits/char (cutoffs {args.cutoffs}, div {args.div})")


if __name__ == "__main__":
    main()
