"""Validation bits/char of the default CharRNN after a time budget, against the best n-gram.

Usage::

    python benchmarks/char_rnn_quality.py [--text-dir DIR] [--minutes 5]
                                          [--corpora alice neko] [--out DIR]

For each corpus: the interleaved 90/10 split of ``nnkit.text.split_text``; the Kneser-Ney
n-gram of every order 1..5 on it (``nnkit.text.best_ngram``); the default
``CharRNN(len(vocab))`` (GRU, 2 x 256) trained by ``nnkit.text.train`` for ``--minutes`` on
the CPU; then three samples at temperature 0.8, and both models' bits per validation character
split by how often the character occurs in the training text. Writes ``quality.json``,
``quality.md``, ``breakdown.md`` and ``samples.txt``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from nnkit.models import CharRNN
from nnkit.text import KneserNey, Vocab, best_ngram, generate, read_text, split_text, train

try:
    from ._paths import text_root
except ImportError:  # run as a script
    from _paths import text_root  # type: ignore[no-redef]

DEFAULT = text_root()
PROMPTS = {"alice": ["Alice", "The Queen", "The Hatter"], "neko": ["吾輩は", "主人は", "「"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--text-dir", type=Path, default=DEFAULT, help="corpus folder (default: $NNKIT_TEXT)"
    )
    parser.add_argument(
        "--minutes", type=float, default=5.0, help="training budget per corpus (minutes)"
    )
    parser.add_argument(
        "--corpora",
        nargs="+",
        default=["alice", "neko"],
        help="corpora to run (names of .txt files in --text-dir)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        help="folder for the JSON, Markdown table and samples",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--dropout", type=float, default=0.3, help="CharRNN dropout (default 0.3, the default)"
    )
    args = parser.parse_args()
    results = {}
    for name in args.corpora:
        text = read_text(args.text_dir / f"{name}.txt")
        train_pieces, val_pieces = split_text(text, 0.1)
        started = time.perf_counter()
        order, scores = best_ngram(train_pieces, val_pieces)
        ngram_seconds = time.perf_counter() - started
        vocab = Vocab.from_text(text)
        torch.manual_seed(0)
        model = CharRNN(len(vocab), dropout=args.dropout)
        history = train(
            model,
            text,
            vocab=vocab,
            max_seconds=60 * args.minutes,
            device=args.device,
            progress=False,
            report=True,
        )
        best = min(r.extra["test_bpc"] for r in history.records)
        last = history.records[-1]
        prompts = [p for p in PROMPTS.get(name, []) if all(c in vocab for c in p)] or [text[0]]
        samples = [
            generate(model, vocab, p, 240, temperature=0.8, seed=i) for i, p in enumerate(prompts)
        ]
        by_count = breakdown(
            model, vocab, KneserNey(train_pieces, order), train_pieces, list(val_pieces)
        )
        results[name] = {
            "characters": len(text),
            "distinct": len(set(text)),
            "vocab": len(vocab),
            "ngram_best_order": order,
            "ngram_bpc": scores,
            "ngram_seconds": ngram_seconds,
            "rnn_val_bpc_last": last.extra["test_bpc"],
            "rnn_val_bpc_best": best,
            "rnn_epochs": len(history),
            "rnn_chars_per_second": last.samples_per_second,
            "rnn_seconds": sum(r.seconds for r in history.records),
            "samples": samples,
            "by_training_count": by_count,
            "history": history.to_dict(),
        }
        print(
            f"{name}: best n-gram (n={order}) {scores[order]:.3f} bits/char; CharRNN after "
            f"{args.minutes:g} min {last.extra['test_bpc']:.3f} (best epoch {best:.3f})",
            flush=True,
        )
        for s in samples:
            print("  sample:", s.replace("\n", " ")[:160])
        write(args, results)


CLASSES = (("unseen", 0, 0), ("1-10", 1, 10), ("11-100", 11, 100), (">100", 101, 10**12))


@torch.no_grad()
def breakdown(
    model: CharRNN, vocab: Vocab, ngram: KneserNey, train_pieces: list[str], val_pieces: list[str]
) -> dict[str, dict[str, float]]:
    """Bits per validation character of both models, by how often the character occurs in the
    training text. Every piece is read from a zero state; its first character is left out."""
    counts = Counter("".join(train_pieces))
    sums = {name: [0, 0.0, 0.0] for name, _, _ in CLASSES}
    model.eval()
    for piece in val_pieces:
        ids = vocab.encode(piece)
        logits, _ = model(ids[:-1].unsqueeze(0))
        rnn_bits = torch.nn.functional.cross_entropy(logits[0].float(), ids[1:], reduction="none")
        for i, bits in enumerate((rnn_bits / math.log(2)).tolist(), start=1):
            seen = counts.get(piece[i], 0)
            name = next(n for n, low, high in CLASSES if low <= seen <= high)
            history = piece[max(0, i - ngram.n + 1) : i]
            sums[name][0] += 1
            sums[name][1] += bits
            sums[name][2] -= math.log2(ngram.prob(piece[i], history))
    total = sum(v[0] for v in sums.values())
    # *_share: this class's part of the mean bits/char (the parts add up to it)
    return {
        name: {
            "chars": n,
            "rnn_bits": rnn / max(n, 1),
            "ngram_bits": ng / max(n, 1),
            "rnn_share": rnn / total,
            "ngram_share": ng / total,
        }
        for name, (n, rnn, ng) in sums.items()
    }


def write(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": platform.platform(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "minutes": args.minutes,
        "dropout": args.dropout,
    }
    (args.out / "quality.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=1, ensure_ascii=False) + "\n"
    )
    lines = [
        "| corpus | chars | distinct | best n-gram (n) | CharRNN val bits/char | chars/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        n = r["ngram_best_order"]
        lines.append(
            f"| {name} | {r['characters']:,} | {r['distinct']:,} | "
            f"{r['ngram_bpc'][n]:.3f} ({n}) | {r['rnn_val_bpc_best']:.3f} | "
            f"{r['rnn_chars_per_second']:,.0f} |"
        )
    (args.out / "quality.md").write_text("\n".join(lines) + "\n")
    lines = [
        "| corpus | seen in training | val chars | CharRNN bits | n-gram bits | "
        "CharRNN part | n-gram part |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        for cls, c in r["by_training_count"].items():
            lines.append(
                f"| {name} | {cls} | {c['chars']:,} | {c['rnn_bits']:.2f} | "
                f"{c['ngram_bits']:.2f} | {c['rnn_share']:.3f} | {c['ngram_share']:.3f} |"
            )
    (args.out / "breakdown.md").write_text("\n".join(lines) + "\n")
    samples = []
    for name, r in results.items():
        samples += [f"--- {name} ---", *r["samples"], ""]
    (args.out / "samples.txt").write_text("\n".join(samples), encoding="utf-8")


if __name__ == "__main__":
    main()
