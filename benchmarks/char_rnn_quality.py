"""Validation bits/char of the n-gram, the default CharRNN and their mixture, with and without
dynamic evaluation, after a time budget.

Usage::

    python benchmarks/char_rnn_quality.py [--text-dir DIR] [--minutes 5]
                                          [--corpora alice neko] [--out DIR]

For each corpus: the interleaved 90/10 split of ``nnkit.text.split_text``; the Kneser-Ney
n-gram of the best order on it (``nnkit.text.best_ngram``, searched upward until an order does
not improve); PPMd, zpaq and xz scored on the same split (``benchmarks/_compressors.py``:
the bytes a compressor spends on the validation text after reading the training text); the
default
``CharRNN(len(vocab))`` (GRU, 2 x 256) trained by ``nnkit.text.train`` for ``--minutes``; the
mixture of the two (``nnkit.text.fit_mixture`` on the validation text, with a fixed weight and
with the context gate); each model also with dynamic evaluation; a 2-fold cross-fit of the
mixture (weights fitted on one half of the validation text, scored on the other) to measure
what fitting on the scored text is worth; the bits by how often the character occurs in the
training text; three samples from the mixture at temperature 0.8. Writes ``quality.json``,
``quality.md``, ``breakdown.md`` and ``samples.txt``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from nnkit.history import History
from nnkit.models import CharRNN, CharTransformer
from nnkit.text import (
    DYNAMIC_LR,
    SEGMENT_LEN,
    CharScores,
    KneserNey,
    NgramMixture,
    Vocab,
    adaptive_probs,
    best_ngram,
    bits_per_char,
    char_scores,
    fit_mixture,
    generate,
    gradient_stats,
    load,
    read_text,
    save,
    split_text,
    train,
)

try:
    from ._compressors import compressor_scores
    from ._paths import text_root
except ImportError:  # run as a script
    from _compressors import compressor_scores  # type: ignore[import-not-found,no-redef]
    from _paths import text_root  # type: ignore[no-redef]

DEFAULT = text_root()
PROMPTS = {"alice": ["Alice", "The Queen", "The Hatter"], "neko": ["吾輩は", "主人は", "「"]}
NEURAL = ("rnn", "transformer")
CLASSES = (("unseen", 0, 0), ("1-10", 1, 10), ("11-100", 11, 100), (">100", 101, 10**12))


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
        help="folder for the JSON, Markdown tables and samples",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--dropout", type=float, default=0.3, help="CharRNN dropout (default 0.3, the default)"
    )
    parser.add_argument(
        "--models",
        type=Path,
        default=None,
        help="save each trained model and its history here; a model already there is loaded "
        "instead of trained (to rescore without retraining)",
    )
    args = parser.parse_args()
    missing = [n for n in args.corpora if not (args.text_dir / f"{n}.txt").is_file()]
    if missing:
        sys.exit(f"{args.text_dir}: no {missing[0]}.txt (set NNKIT_TEXT or --text-dir)")
    results = {}
    for name in args.corpora:
        results[name] = run_corpus(name, args)
        write(args, results)


def run_corpus(name: str, args: argparse.Namespace) -> dict[str, Any]:
    text = read_text(args.text_dir / f"{name}.txt")
    train_pieces, val_pieces = split_text(text, 0.1)
    val = "".join(val_pieces)
    started = time.perf_counter()
    order, scores = best_ngram(train_pieces, val_pieces)
    ngram_seconds = time.perf_counter() - started
    compressors = compressor_scores(train_pieces, val_pieces)
    print(f"{name}: n-gram {scores[order]:.3f} (n={order}); "
          + ", ".join(f"{k} {v['bpc']}" for k, v in compressors.items()), flush=True)  # fmt: skip
    vocab = Vocab.from_text(text)
    trained: dict[str, dict[str, Any]] = {}
    for key in NEURAL:
        saved = args.models / f"{name}-{key}.pt" if args.models else None
        if saved is not None and saved.exists():
            model, _ = load(saved, device=args.device)
            history = History.from_dict(json.loads(saved.with_suffix(".json").read_text()))
            print(f"{name}: {key} loaded from {saved}", flush=True)
        else:
            torch.manual_seed(0)
            model = build(key, len(vocab), args)
            history = train(
                model,
                text,
                vocab=vocab,
                max_seconds=60 * args.minutes,
                device=args.device,
                progress=False,
                report=True,
            )
            if saved is not None:
                saved.parent.mkdir(parents=True, exist_ok=True)
                save(saved, model, vocab)
                saved.with_suffix(".json").write_text(json.dumps(history.to_dict()))
        trained[key] = {"model": model.eval(), "history": history}
    ngram = KneserNey(train_pieces, order)
    started = time.perf_counter()
    gated = fit_mixture(trained["rnn"]["model"], vocab, ngram, val, device=args.device)
    fit_seconds = time.perf_counter() - started
    gated_tf = fit_mixture(trained["transformer"]["model"], vocab, ngram, val, device=args.device)
    fixed = NgramMixture(gated.model, vocab, ngram, weight=gated.weight)
    unseen = len(gated.unseen_ids)
    # each neural model scores the validation text once, static and dynamic; every row below
    # is computed from these (as bits_per_char computes it)
    neural_scores: dict[tuple[str, bool], CharScores] = {}
    seconds: dict[tuple[str, bool], float] = {}
    for key in NEURAL:
        for dynamic in (False, True):
            started = time.perf_counter()
            neural_scores[key, dynamic] = char_scores(
                trained[key]["model"], vocab, val, device=args.device, dynamic=dynamic
            )
            seconds[key, dynamic] = time.perf_counter() - started

    # dynamic evaluation as Krause et al. publish it: one stream, steps normalised by the
    # training text's gradient statistics, a decay toward the trained weights
    rnn = trained["rnn"]["model"]
    stats = gradient_stats(rnn, vocab, "".join(train_pieces), batch_size=1, device=args.device)
    neural_scores["published", False] = char_scores(
        rnn, vocab, val, device=args.device, batch_size=1
    )
    neural_scores["published", True] = char_scores(
        rnn, vocab, val, device=args.device, batch_size=1, dynamic=True, dynamic_stats=stats,
        **PUBLISHED,
    )  # fmt: skip

    def bits(probs: torch.Tensor) -> float:
        return float(-torch.log2(probs).mean())

    rows: dict[str, Callable[[bool], float]] = {
        "rnn": lambda d: neural_scores["rnn", d].bits_per_char,
        "transformer": lambda d: neural_scores["transformer", d].bits_per_char,
        "mixture_fixed": lambda d: bits(fixed.score(val, neural_scores["rnn", d])),
        "mixture_gate": lambda d: bits(gated.score(val, neural_scores["rnn", d])),
        "mixture_gate_transformer": lambda d: bits(
            gated_tf.score(val, neural_scores["transformer", d])
        ),
        "adapting_rnn": lambda d: bits(
            adaptive_probs(
                val, neural_scores["rnn", d], ngram, unseen_ids=unseen, weight=gated.weight
            )
        ),
        "rnn_published": lambda d: neural_scores["published", d].bits_per_char,
        "adapting_published": lambda d: bits(
            adaptive_probs(
                val, neural_scores["published", d], ngram, unseen_ids=unseen, weight=gated.weight
            )
        ),
        "adapting_match": lambda d: bits(
            adaptive_probs(
                val,
                neural_scores["rnn", d],
                ngram,
                unseen_ids=unseen,
                weight=gated.weight,
                vocab=vocab,
                match_len=4,
            )
        ),
        "adapting_both": lambda d: bits(
            adaptive_probs(
                val,
                [neural_scores["rnn", d], neural_scores["transformer", d]],
                ngram,
                unseen_ids=unseen,
                weight=max(gated.weight, gated_tf.weight),
            )
        ),
    }
    table: dict[str, dict[str, float]] = {}
    for key, score in rows.items():
        table[key] = {"static": score(False), "dynamic": score(True)}
        print(f"{name}: {key} {table[key]['static']:.4f} static, "
              f"{table[key]['dynamic']:.4f} dynamic", flush=True)  # fmt: skip
    adapting_ngram = bits(adaptive_probs(val, None, ngram, unseen_ids=unseen))
    dynamic_parts = dynamic_ablation(trained["rnn"]["model"], vocab, train_pieces, val, args)
    prompts = [p for p in PROMPTS.get(name, []) if all(c in vocab for c in p)] or [text[0]]
    samples = [
        generate(gated, vocab, p, 240, temperature=0.8, seed=i) for i, p in enumerate(prompts)
    ]
    result = {
        "characters": len(text),
        "distinct": len(set(text)),
        "vocab": len(vocab),
        "val_characters": len(val),
        "ngram_best_order": order,
        "ngram_bpc": scores,
        "ngram_seconds": ngram_seconds,
        "adapting_ngram_bpc": adapting_ngram,
        "dynamic_ablation": dynamic_parts,
        "compressors": compressors,
        "neural": {
            key: {
                "config": t["model"].config(),
                "parameters": sum(p.numel() for p in t["model"].parameters()),
                "val_bpc_best_epoch": min(r.extra["val_bpc"] for r in t["history"].records),
                "epochs": len(t["history"]),
                "chars_per_second": t["history"].last.samples_per_second,
                "seconds": sum(r.seconds for r in t["history"].records),
                "scoring_seconds": seconds[key, False],
                "dynamic_scoring_seconds": seconds[key, True],
                "history": t["history"].to_dict(),
            }
            for key, t in trained.items()
        },
        "mixture_weight": gated.weight,
        "mixture_gate": gated.gate.to_list() if gated.gate is not None else None,
        "mixture_fit_seconds": fit_seconds,
        "bpc": table,
        "cross_fit": cross_fit(gated.model, vocab, ngram, val, args.device),
        "by_training_count": breakdown(gated, vocab, train_pieces, val, args.device),
        "samples": samples,
    }
    best = scores[order]
    top = min(min(r.values()) for r in table.values())
    print(f"{name}: best n-gram (n={order}) {best:.3f}; best system {top:.3f} ({top - best:+.3f})",
          flush=True)  # fmt: skip
    for s in samples:
        print("  sample:", s.replace("\n", " ")[:160])
    return result


#: Dynamic evaluation's parts, each added to the last: nnkit's running RMS steps, a decay
#: toward the trained weights, the RMS taken from the training text instead (Krause et al.).
DYNAMIC_VARIANTS: dict[str, dict[str, Any]] = {
    "running RMS (nnkit's default)": {},
    "running RMS + decay": {"dynamic_decay": 0.001},
    "training-text RMS": {"stats": True},
    "training-text RMS + decay": {"stats": True, "dynamic_decay": 0.001},
}


#: Krause et al.'s dynamic evaluation (with one stream and the training text's statistics):
#: the step size and decay measured on neko.txt's validation text.
PUBLISHED: dict[str, Any] = {
    "dynamic_lr": DYNAMIC_LR,
    "dynamic_decay": 1e-3,
    "segment_len": SEGMENT_LEN,
}


def dynamic_ablation(
    model: CharRNN, vocab: Vocab, train_pieces: list[str], val: str, args: argparse.Namespace
) -> dict[str, float]:
    """The CharRNN's dynamic bits/char with each variant of the update rule."""
    stats = gradient_stats(model, vocab, "".join(train_pieces), device=args.device)
    out = {}
    for label, settings in DYNAMIC_VARIANTS.items():
        kwargs = {k: v for k, v in settings.items() if k != "stats"}
        if settings.get("stats"):
            kwargs["dynamic_stats"] = stats
        out[label] = char_scores(
            model, vocab, val, device=args.device, dynamic=True, **kwargs
        ).bits_per_char
        print(f"  dynamic, {label}: {out[label]:.4f}", flush=True)
    return out


def build(key: str, vocab_size: int, args: argparse.Namespace) -> CharRNN | CharTransformer:
    """The default model of ``nnkit text train`` of each kind."""
    if key == "rnn":
        return CharRNN(vocab_size, dropout=args.dropout)
    return CharTransformer(vocab_size)


def cross_fit(
    model: CharRNN, vocab: Vocab, ngram: KneserNey, val: str, device: str
) -> dict[str, float]:
    """The gated mixture's bits/char on each half of the validation text with the weights
    fitted on the other half, against fitted on the same half (the optimism of the fit)."""
    half = len(val) // 2
    halves = (val[:half], val[half:])
    fits = [fit_mixture(model, vocab, ngram, h, device=device) for h in halves]
    chars = [len(h) for h in halves]

    def mean(pairs: list[tuple[int, int]]) -> float:
        bits = [
            bits_per_char(fits[f], vocab, halves[s], device=device) * chars[s] for f, s in pairs
        ]
        return sum(bits) / sum(chars)

    return {"same_half": mean([(0, 0), (1, 1)]), "other_half": mean([(1, 0), (0, 1)])}


@torch.no_grad()
def breakdown(
    mixture: NgramMixture, vocab: Vocab, train_pieces: list[str], val: str, device: str
) -> dict[str, dict[str, float]]:
    """Bits per validation character of the n-gram part, the neural model and the mixture, by
    how often the character occurs in the training text, over the positions all three score."""
    counts = Counter("".join(train_pieces))
    scores = char_scores(mixture.model, vocab, val, device=device)
    p_neural, p_ngram, _ = mixture.parts(val, scores)
    p_mixed = mixture.score(val, scores)
    sums = {name: [0, 0.0, 0.0, 0.0] for name, _, _ in CLASSES}
    rows = zip(scores.positions.tolist(), p_neural, p_ngram, p_mixed, strict=True)
    for pos, neural, ngram, mixed in rows:
        seen = counts.get(val[pos], 0)
        entry = sums[next(n for n, low, high in CLASSES if low <= seen <= high)]
        entry[0] += 1
        entry[1] -= math.log2(float(ngram))
        entry[2] -= math.log2(float(neural))
        entry[3] -= math.log2(float(mixed))
    total = sum(v[0] for v in sums.values())
    # *_share: this class's part of the mean bits/char (the parts add up to it)
    return {
        name: {
            "chars": n,
            **{f"{key}_bits": bits / max(n, 1) for key, bits in zip(KEYS, parts, strict=True)},
            **{f"{key}_share": bits / total for key, bits in zip(KEYS, parts, strict=True)},
        }
        for name, (n, *parts) in sums.items()
    }


KEYS = ("ngram", "neural", "mixture")


def write(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": platform.platform(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "minutes": args.minutes,
        "dropout": args.dropout,
        "date": time.strftime("%Y-%m-%d"),
    }
    (args.out / "quality.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=1, ensure_ascii=False) + "\n"
    )
    lines = []
    for name, r in results.items():
        n = r["ngram_best_order"]
        best = r["ngram_bpc"][n]
        rnn, tf = r["neural"]["rnn"], r["neural"]["transformer"]
        lines += [
            f"{name}: {r['characters']:,} characters, {r['distinct']:,} distinct; "
            f"{r['val_characters']:,} validation characters; CharRNN {rnn['epochs']} epochs "
            f"at {rnn['chars_per_second']:,.0f} chars/s; CharTransformer {tf['epochs']} epochs "
            f"at {tf['chars_per_second']:,.0f} chars/s",
            "",
            "| model | bits/char | with dynamic evaluation | against the n-gram |",
            "| --- | ---: | ---: | ---: |",
            f"| best n-gram (Kneser-Ney, n={n}, orders searched 1-{max(r['ngram_bpc'])}) | "
            f"{best:.3f} | - | - |",
            f"| the n-gram adapting while reading (its orders mixed online) | "
            f"{r['adapting_ngram_bpc']:.3f} | - | {r['adapting_ngram_bpc'] - best:+.3f} |",
        ]
        for key, label in (("ppmd", "PPMd var. H"), ("zpaq", "zpaq -m5"), ("xz", "xz -9e")):
            c = r["compressors"][key]
            if c["bpc"] is None:
                continue
            order = f", order {c['order']}" if c.get("order") else ""
            lines.append(f"| {label}{order} (compressor) | {c['bpc']:.3f} | - | "
                         f"{c['bpc'] - best:+.3f} |")  # fmt: skip
        for key, label in (
            ("rnn", "CharRNN alone"),
            ("transformer", "CharTransformer alone"),
            ("mixture_fixed", f"CharRNN + n-gram, fixed weight {r['mixture_weight']:.2f}"),
            ("mixture_gate", "CharRNN + n-gram, context gate"),
            ("mixture_gate_transformer", "CharTransformer + n-gram, context gate"),
            ("adapting_rnn", "CharRNN + n-gram, adapting (online mixer, counting n-gram)"),
            ("adapting_match", "the same with a match model (match_len=4)"),
            ("rnn_published", "CharRNN alone, one stream; dynamic as published (see below)"),
            ("adapting_published", "CharRNN + n-gram, adapting, one stream; dynamic as published"),
            ("adapting_both", "CharRNN + CharTransformer + n-gram, adapting"),
        ):
            row = r["bpc"][key]
            lines.append(
                f"| {label} | {row['static']:.3f} | {row['dynamic']:.3f} | "
                f"{row['static'] - best:+.3f} / {row['dynamic'] - best:+.3f} |"
            )
        lines += [
            "",
            "Dynamic evaluation as published: steps normalised by the training text's gradient "
            f"statistics, a decay toward the trained weights, one stream ({PUBLISHED}).",
            "",
            "CharRNN alone with dynamic evaluation (8 streams), each part of the update rule:",
            "",
        ]
        lines += [f"- {label}: {bpc:.3f}" for label, bpc in r["dynamic_ablation"].items()]
        cross = r["cross_fit"]
        lines += [
            "",
            f"Gated mixture, 2-fold cross-fit: {cross['other_half']:.3f} bits/char with the "
            f"weights fitted on the other half, {cross['same_half']:.3f} fitted on the same half.",
            "",
        ]
    (args.out / "quality.md").write_text("\n".join(lines))
    lines = [
        "| corpus | seen in training | val chars | n-gram bits | CharRNN bits | mixture bits | "
        "n-gram part | CharRNN part | mixture part |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        for cls, c in r["by_training_count"].items():
            lines.append(
                f"| {name} | {cls} | {c['chars']:,} | {c['ngram_bits']:.2f} | "
                f"{c['neural_bits']:.2f} | {c['mixture_bits']:.2f} | {c['ngram_share']:.3f} | "
                f"{c['neural_share']:.3f} | {c['mixture_share']:.3f} |"
            )
    (args.out / "breakdown.md").write_text("\n".join(lines) + "\n")
    samples = []
    for name, r in results.items():
        samples += [f"--- {name} (mixture, temperature 0.8) ---", *r["samples"], ""]
    (args.out / "samples.txt").write_text("\n".join(samples), encoding="utf-8")


if __name__ == "__main__":
    main()
