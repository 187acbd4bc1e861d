"""``nnkit text``: train a character model on any UTF-8 text, generate from it, evaluate it."""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..distributed import DEFAULT_TIMEOUT, is_main_process
from ..errors import CheckpointError, VocabularyMismatchError
from ..history import History
from ..models import CharRNN, CharTransformer
from ..models.char_rnn import CELLS
from ..runtime import Runtime
from ..text import (
    DYNAMIC_LR,
    MAX_ORDER,
    MAX_UNKNOWN,
    SEGMENT_LEN,
    CorpusInfo,
    NgramMixture,
    Vocab,
    bits_per_char,
    generate,
    load_file,
    mix_ngram,
    read_text,
    save,
    split_text,
    train,
)
from ..text.saving import CharModel
from ._common import (
    UsageError,
    check_output,
    say,
    time_report,
    write_outputs,
)

#: The kinds of model ``text train --model`` builds.
MODELS = ("rnn", "transformer")


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
        help="train a CharRNN or a CharTransformer on a UTF-8 text file",
        description="Train a CharRNN (or, with --model transformer, a CharTransformer) on a "
        "UTF-8 text file (90/10 interleaved split) and save model and vocabulary in one file.",
    )
    tr.add_argument("corpus", type=Path, help="UTF-8 text file")
    tr.add_argument("--out", type=Path, required=True, help="where to save the model (.pt)")
    tr.add_argument(
        "--model",
        choices=MODELS,
        default="rnn",
        help="rnn: CharRNN (default); transformer: CharTransformer, a small causal transformer",
    )
    tr.add_argument("--cell", choices=CELLS, default="gru", help="recurrent cell (default gru)")
    tr.add_argument(
        "--hidden",
        type=int,
        default=None,
        help="width: hidden units of the rnn (default 256), d_model of the transformer "
        "(default 192)",
    )
    tr.add_argument(
        "--layers", type=int, default=None, help="layers (default 2 for rnn, 3 for transformer)"
    )
    tr.add_argument(
        "--heads", type=int, default=None, help="transformer: attention heads (default width / 64)"
    )
    tr.add_argument(
        "--context",
        type=int,
        default=None,
        help="transformer: positions each one attends to (default 128)",
    )
    tr.add_argument(
        "--dropout",
        type=float,
        default=None,
        help="dropout (default 0.3 for rnn, 0.1 for transformer; 0 for large corpora)",
    )
    tr.add_argument("--minutes", type=float, default=3.0, help="time budget (default 3)")
    tr.add_argument("--epochs", type=int, default=None, help="stop after this many passes")
    tr.add_argument("--seq-len", type=int, default=64, help="BPTT length (default 64)")
    tr.add_argument("--batch-size", type=int, default=32, help="parallel streams (default 32)")
    tr.add_argument(
        "--lr",
        type=float,
        default=None,
        help="peak AdamW learning rate (default 0.01 for rnn, 0.003 for transformer)",
    )
    tr.add_argument(
        "--weight-decay",
        type=float,
        default=None,
        help="AdamW weight decay (default 0.5 for rnn, 0.1 for transformer)",
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
    tr.add_argument(
        "--mix-ngram",
        action="store_true",
        help="after training, mix the model with a Kneser-Ney n-gram of the training split "
        "(weights fitted on the validation split) and save the mixture in the same file",
    )
    tr.add_argument(
        "--ngram-order",
        type=int,
        default=None,
        help="with --mix-ngram: the n-gram's order (default: the best on validation, searched "
        f"upward from 1 until an order does not improve, at most {MAX_ORDER})",
    )
    tr.add_argument(
        "--quiet",
        action="store_true",
        help="no progress output (a bar per epoch in a terminal, one line per epoch in a log)",
    )
    tr.set_defaults(
        func=run_train,
        flags={
            "hidden_size": "--hidden",
            "d_model": "--hidden",
            "model": "--hidden",  # a model too big to train here
            "num_layers": "--layers",
            "num_heads": "--heads",
            "context": "--context",
            "max_seconds": "--minutes",
            "order": "--ngram-order",
        },
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
    gen.add_argument(
        "--neural-only",
        action="store_true",
        help="sample from the neural model alone, even if the file holds its n-gram mixture",
    )
    gen.set_defaults(func=run_generate)

    ev = actions.add_parser(
        "eval",
        help="bits per character of a saved model on a text",
        description="Bits per character of a saved model (and of its n-gram mixture, when "
        "the file holds one) on a UTF-8 text. When the text is the model's training corpus, "
        "only its validation split is scored, unless --whole is given; the output says which "
        "text was scored.",
    )
    ev.add_argument("model", type=Path, help="a model saved by 'nnkit text train'")
    ev.add_argument("corpus", type=Path, help="UTF-8 text file")
    ev.add_argument(
        "--whole",
        action="store_true",
        help="score the whole file even when it is the training corpus (training text included)",
    )
    ev.add_argument(
        "--dynamic",
        action="store_true",
        help="also score with dynamic evaluation (the model keeps learning from the text it "
        "has scored; the saved file is not changed)",
    )
    ev.add_argument(
        "--dynamic-lr",
        type=float,
        default=DYNAMIC_LR,
        help=f"size of dynamic evaluation's RMS-normalised steps (default {DYNAMIC_LR:g})",
    )
    ev.add_argument(
        "--segment-len",
        type=int,
        default=SEGMENT_LEN,
        help=f"characters per stream between dynamic updates (default {SEGMENT_LEN})",
    )
    ev.add_argument(
        "--adapt",
        action="store_true",
        help="also score the mixture adapting while reading, as compressors do: the n-gram "
        "counts each character after scoring it and an online mixer learns the weights "
        "(with --dynamic, together with dynamic evaluation); needs a file with a mixture",
    )
    ev.add_argument(
        "--force",
        action="store_true",
        help=f"score the text even when more than {100 * MAX_UNKNOWN:.0f}%% of its characters are "
        "outside the model's vocabulary (they all score as the unknown character)",
    )
    ev.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    ev.set_defaults(func=run_eval)


def run_train(args: argparse.Namespace) -> int:
    launched, began = args.command_started, time.perf_counter()
    # the library checks every other argument; minutes are the command line's own unit
    if not args.minutes > 0:
        raise UsageError(f"argument --minutes: must be positive, got {args.minutes}")
    if args.ngram_order is not None and not args.mix_ngram:
        raise UsageError("argument --ngram-order: only applies with --mix-ngram")
    if args.ngram_order is not None and not 1 <= args.ngram_order <= MAX_ORDER:
        raise UsageError(
            f"argument --ngram-order: must be between 1 and {MAX_ORDER}, got {args.ngram_order}"
        )
    check_output(args.out, "--out", inputs=[("the corpus", args.corpus)])
    text = read_text(args.corpus)
    vocab = Vocab.from_text(text)
    say(f"corpus: {args.corpus} ({len(text):,} characters, {len(vocab) - 1:,} distinct)")
    model = _build(args, len(vocab))
    prepared = time.perf_counter()
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
    trained = time.perf_counter()
    if len(history):
        bpc = history.last.extra["val_bpc"]
        say(f"validation: {bpc:.3f} bits/char after {_how_far(history)}")
    failed = 0
    if is_main_process():
        failed = _save_trained(args, model, vocab, text, interrupted=history.interrupted)
        training = sum(r.seconds for r in history)
        validation = sum(r.val_seconds for r in history)
        written = "writing the model" + (" and fitting the n-gram mixture" if args.mix_ngram
                                         else "")  # fmt: skip
        phases = [
            ("starting Python, PyTorch and nnkit", began - launched if launched else 0.0),
            ("reading the corpus and building the model", prepared - began),
            ("training", training),
            ("validation", validation),
            ("setting up the run (checks, batch streams, the device)",
             trained - prepared - training - validation),
            (written, time.perf_counter() - trained),
        ]  # fmt: skip
        say(time_report(phases, launched if launched is not None else began))
    if history.interrupted:
        skipped = " (no n-gram mixture was fitted)" if args.mix_ngram else ""
        say(f"interrupted: the model holds the epochs that finished{skipped}")
        return 130
    return failed


def _build(args: argparse.Namespace, vocab_size: int) -> CharModel:
    """The model the flags describe; a flag not given keeps the model's own default (the
    library checks every size)."""
    if args.model == "transformer":
        if args.cell != "gru":
            raise UsageError("argument --cell: only applies with --model rnn")
        given = {"d_model": args.hidden, "num_layers": args.layers, "num_heads": args.heads,
                 "context": args.context, "dropout": args.dropout}  # fmt: skip
        return CharTransformer(vocab_size, **{k: v for k, v in given.items() if v is not None})
    for flag, value in (("--heads", args.heads), ("--context", args.context)):
        if value is not None:
            raise UsageError(f"argument {flag}: only applies with --model transformer")
    given = {"hidden_size": args.hidden, "num_layers": args.layers, "dropout": args.dropout}
    return CharRNN(vocab_size, cell=args.cell, **{k: v for k, v in given.items() if v is not None})


_ENDED_BY = {
    "max_seconds": "the --minutes budget ran out",
    "max_steps": "the step budget ran out",
    "schedule": "the validation loss stopped improving",
    "early_stopping": "the validation loss stopped improving",
    "interrupted": "interrupted",
}


def _how_far(history: History) -> str:
    """``3 epochs``, ``1 epoch``, or ``20 of 72 steps of epoch 1 (the --minutes budget ran
    out)``: how much training the figure is after, and what ended it early."""
    last, done = history.last, len(history)
    if last.planned_steps and last.steps < last.planned_steps:
        full = f"{done - 1} epoch{'s' if done != 2 else ''} and " if done > 1 else ""
        how = f"{full}{last.steps:,} of {last.planned_steps:,} steps of epoch {last.epoch}"
    else:
        how = f"{done} epoch{'s' if done != 1 else ''}"
    reason = _ENDED_BY.get(history.stop_reason or "")
    return f"{how} ({reason})" if reason else how


def _save_trained(
    args: argparse.Namespace, model: CharModel, vocab: Vocab, text: str, *, interrupted: bool
) -> int:
    """Write the trained model at once, then (with ``--mix-ngram``) fit its n-gram mixture and
    write the file again: a Ctrl-C or a failure while mixing keeps the trained model. Returns
    the exit status (0, 1 when a write failed, 130 when the mixing was interrupted)."""
    model.cpu()
    corpus = CorpusInfo.from_text(text)
    if write_outputs([("model", args.out, lambda: save(args.out, model, vocab, corpus=corpus))]):
        _rescue(args.out, model, vocab, corpus)
        return 1
    if not args.mix_ngram or interrupted:
        return 0
    try:
        mixture = _mix(model, vocab, text, args.ngram_order)
    except KeyboardInterrupt:
        print(
            f"nnkit: interrupted while fitting the n-gram mixture; {args.out} holds the "
            "trained model without it",
            file=sys.stderr,
        )
        return 130
    written = ("model with its n-gram mixture", args.out)
    if write_outputs([(*written, lambda: save(args.out, mixture, vocab, corpus=corpus))]):
        _rescue(args.out, mixture, vocab, corpus)
        return 1
    return 0


def _mix(model: CharModel, vocab: Vocab, text: str, order: int | None) -> NgramMixture:
    say("fitting the n-gram mixture on the validation split ...")
    mixture = mix_ngram(model, vocab, text, order=order, device="cpu")
    val = split_text(text)[1]
    ngram_bpc = mixture.ngram.bits_per_char(val)
    mixed_bpc = bits_per_char(mixture, vocab, "".join(val), device="cpu")
    weights = str(mixture.gate) if mixture.gate is not None else f"weight {mixture.weight:.3f}"
    say(
        f"mixture with the {mixture.ngram.n}-gram ({ngram_bpc:.3f} bits/char alone): "
        f"{mixed_bpc:.3f} bits/char on validation ({weights})"
    )
    return mixture


def _rescue(out: Path, model: CharModel | NgramMixture, vocab: Vocab, corpus: CorpusInfo) -> None:
    """Minutes of training are not lost to a full disk or a folder that went away."""
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        target = folder / f"nnkit-rescued-{out.name}"
        try:
            save(target, model, vocab, corpus=corpus)
        except OSError:
            continue
        print(f"nnkit: the model was written to {target} instead", file=sys.stderr)
        return


def run_generate(args: argparse.Namespace) -> int:
    saved = load_file(args.model, device=args.device, mixture=not args.neural_only)
    vocab = saved.vocab
    start = args.start if args.start is not None else vocab.chars[1]
    say(
        generate(
            saved.mixture or saved.model,
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
    saved = load_file(args.model, device=args.device)
    if args.adapt and saved.mixture is None:
        raise UsageError(
            f"argument --adapt: {args.model} holds no n-gram mixture (train with --mix-ngram)"
        )
    corpus = read_text(args.corpus)
    text, what = _text_to_score(saved.corpus, corpus, args)
    say(f"scoring {what}")
    share = saved.vocab.unknown_share(text)
    outside = f"{share:.1%} of its characters ({round(share * len(text)):,}) are outside the " \
              f"model's vocabulary of {len(saved.vocab) - 1:,}"  # fmt: skip
    if share > MAX_UNKNOWN and not args.force:
        raise VocabularyMismatchError(
            f"{args.corpus}: {outside} and would all score as the unknown character, so the "
            f"score would measure little (at most {MAX_UNKNOWN:.0%}); score text of the "
            "model's own language, or pass --force to score it anyway"
        )
    if share > MAX_UNKNOWN:
        print(f"nnkit: warning: {args.corpus}: {outside}; scored anyway (--force), each as the "
              "unknown character", file=sys.stderr)  # fmt: skip
    elif share > 0:
        say(f"vocabulary: {outside}; they score as the unknown character")
    else:
        say(f"vocabulary: every character is in the model's vocabulary of {len(saved.vocab) - 1:,}")
    models: list[tuple[str, CharModel | NgramMixture]] = [("neural model", saved.model)]
    if saved.mixture is not None:
        models.append((f"mixture with the {saved.mixture.ngram.n}-gram", saved.mixture))

    def score(
        model: CharModel | NgramMixture, *, dynamic: bool = False, adapt: bool = False
    ) -> float:
        return bits_per_char(
            model,
            saved.vocab,
            text,
            device=args.device,
            dynamic=dynamic,
            dynamic_lr=args.dynamic_lr,
            segment_len=args.segment_len,
            max_unknown=1.0,
            adapt=adapt,
        )

    for name, model in models:
        static = score(model)
        if not math.isfinite(static):
            raise CheckpointError(
                f"{args.model}: its {name} scores {static} bits/char on this text; the model "
                "is damaged or diverged"
            )
        line = f"{name}: {static:.4f} bits/char"
        if args.dynamic:
            line += f", {score(model, dynamic=True):.4f} with dynamic evaluation"
        if args.adapt and isinstance(model, NgramMixture):
            adapted = score(model, adapt=True, dynamic=args.dynamic)
            both = " and dynamic evaluation" if args.dynamic else ""
            line += f", {adapted:.4f} adapting while reading{both}"
        say(line)
    return 0


def _text_to_score(
    info: CorpusInfo | None, corpus: str, args: argparse.Namespace
) -> tuple[str, str]:
    """The text to score and the words that say which text it is."""
    size = f"{len(corpus):,} characters"
    if info is None:
        return (
            corpus,
            f"all of {args.corpus} ({size}; the model file does not record its "
            "training corpus, so this may include training text)",
        )
    if not info.matches(corpus):
        return corpus, f"all of {args.corpus} ({size}; not the model's training corpus)"
    if args.whole:
        return corpus, (
            f"all of {args.corpus} ({size}), the model's training corpus: training text "
            "included, so this flatters the model"
        )
    val = info.validation_text(corpus)
    return val, (
        f"the validation split of {args.corpus}, the model's training corpus "
        f"({len(val):,} of {size}, held out from training; --whole scores all)"
    )
