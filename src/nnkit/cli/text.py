"""``nnkit text``: train a character model on any UTF-8 text, generate from it, evaluate it."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..distributed import DEFAULT_TIMEOUT, is_main_process
from ..models import CharRNN
from ..models.char_rnn import CELLS
from ..runtime import Runtime
from ..text import Vocab, bits_per_char, generate, load, read_text, save, train
from ._common import UsageError, check_output, say, write_outputs


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "text",
        help="character-level language model: train, generate, eval",
        description="Train a character model on any UTF-8 text, generate from it, evaluate it.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    tr = actions.add_parser(
        "train",
        help="train a CharRNN on a UTF-8 text file",
        description="Train a CharRNN on a UTF-8 text file (90/10 interleaved "
        "split) and save model and vocabulary in one file.",
    )
    tr.add_argument("corpus", type=Path, help="UTF-8 text file")
    tr.add_argument("--out", type=Path, required=True, help="where to save the model (.pt)")
    tr.add_argument("--cell", choices=CELLS, default="gru", help="recurrent cell (default gru)")
    tr.add_argument("--hidden", type=int, default=256, help="hidden units (default 256)")
    tr.add_argument("--layers", type=int, default=2, help="recurrent layers (default 2)")
    tr.add_argument(
        "--dropout",
        type=float,
        default=0.3,
        help="dropout between layers and before the read-out (default 0.3; 0 for large corpora)",
    )
    tr.add_argument("--minutes", type=float, default=3.0, help="time budget (default 3)")
    tr.add_argument("--epochs", type=int, default=None, help="stop after this many passes")
    tr.add_argument("--seq-len", type=int, default=64, help="BPTT length (default 64)")
    tr.add_argument("--batch-size", type=int, default=32, help="parallel streams (default 32)")
    tr.add_argument(
        "--lr", type=float, default=1e-2, help="peak AdamW learning rate (default 0.01)"
    )
    tr.add_argument(
        "--weight-decay", type=float, default=0.5, help="AdamW weight decay (default 0.5)"
    )
    tr.add_argument(
        "--amp", action="store_true", help="bfloat16 autocast (faster on CPUs with bf16)"
    )
    tr.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    tr.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    tr.add_argument(
        "--dist-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"under torchrun: seconds to wait for a rank that stopped answering before the job "
        f"fails (default {DEFAULT_TIMEOUT:g})",
    )
    tr.add_argument("--quiet", action="store_true", help="no progress bars")
    tr.set_defaults(
        func=run_train,
        flags={"hidden_size": "--hidden", "num_layers": "--layers", "max_seconds": "--minutes"},
    )

    gen = actions.add_parser(
        "generate",
        help="generate text from a saved model",
        description="Continue a prompt with a saved model.",
    )
    gen.add_argument("model", type=Path, help="a model saved by 'nnkit text train'")
    gen.add_argument("--start", default=None, help="prompt (default: the most common character)")
    gen.add_argument("--length", type=int, default=300, help="characters to add (default 300)")
    gen.add_argument("--temperature", type=float, default=0.8, help="0 is greedy (default 0.8)")
    gen.add_argument("--top-k", type=int, default=None, help="sample among the k most likely")
    gen.add_argument("--seed", type=int, default=None, help="seed for reproducible samples")
    gen.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    gen.set_defaults(func=run_generate)

    ev = actions.add_parser(
        "eval",
        help="bits per character of a saved model on a text",
        description="Bits per character of a saved model on a UTF-8 text.",
    )
    ev.add_argument("model", type=Path, help="a model saved by 'nnkit text train'")
    ev.add_argument("corpus", type=Path, help="UTF-8 text file")
    ev.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    ev.set_defaults(func=run_eval)


def run_train(args: argparse.Namespace) -> int:
    # the library checks every other argument; minutes are the command line's own unit
    if not args.minutes > 0:
        raise UsageError(f"argument --minutes: must be positive, got {args.minutes}")
    check_output(args.out, "--out")
    text = read_text(args.corpus)
    vocab = Vocab.from_text(text)
    say(f"corpus: {args.corpus} ({len(text):,} characters, {len(vocab) - 1:,} distinct)")
    model = CharRNN(
        len(vocab),
        cell=args.cell,
        hidden_size=args.hidden,
        num_layers=args.layers,
        dropout=args.dropout,
    )
    history = train(
        model,
        text,
        vocab=vocab,
        epochs=args.epochs,
        max_seconds=60 * args.minutes,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        runtime=Runtime(amp=args.amp, dist_timeout=args.dist_timeout),
        device=args.device,
        seed=args.seed,
        progress=not args.quiet,
        report=True,
    )
    if len(history):
        bpc = history.last.extra["test_bpc"]
        say(f"validation: {bpc:.3f} bits/char after {len(history)} epochs")
    failed = 0
    if is_main_process():
        model.cpu()
        failed = write_outputs([("model", args.out, lambda: save(args.out, model, vocab))])
        if failed:
            _rescue(args.out, model, vocab)
    if history.interrupted:
        say("interrupted: the model holds the epochs that finished")
        return 130
    return 1 if failed else 0


def _rescue(out: Path, model: CharRNN, vocab: Vocab) -> None:
    """Minutes of training are not lost to a full disk or a folder that went away."""
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        target = folder / f"nnkit-rescued-{out.name}"
        try:
            save(target, model, vocab)
        except OSError:
            continue
        print(f"nnkit: the model was written to {target} instead", file=sys.stderr)
        return


def run_generate(args: argparse.Namespace) -> int:
    model, vocab = load(args.model, device=args.device)
    start = args.start if args.start is not None else vocab.chars[1]
    say(
        generate(
            model,
            vocab,
            start,
            args.length,
            temperature=args.temperature,
            top_k=args.top_k,
            seed=args.seed,
        )
    )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    model, vocab = load(args.model, device=args.device)
    bpc = bits_per_char(model, vocab, read_text(args.corpus), device=args.device)
    say(f"{bpc:.4f} bits/char on {args.corpus}")
    return 0
