"""Character-model training and generation speed, side by side in one run.

Usage::

    python benchmarks/char_rnn_speed.py [--text-dir DIR] [--seconds 8]
                                        [--rounds 3] [--json out.json] [--markdown out.md]

(a) the notes' approach: ``NotesRNN`` (hidden 128) stepped one character at a time in a Python
    loop, batch 1, one-hot inputs, NLL summed over a 128-character chunk, Adam;
(b) the same ``"seed"`` cell trained by ``nnkit.text.train`` on batched sequences (64 streams
    x 128 characters);
(c) the default ``CharRNN`` (GRU 2 x 256, embedding 64) on 64 x 128, with its arithmetic rate
    (counted multiply-adds x 2 x 3 for forward and backward) as a fraction of this machine's
    fp32 2048 x 2048 matrix-multiply rate measured next to it; the same on ``train``'s default
    32 x 64 and on 256 x 64 (a batch for throughput); 64 x 128 under bfloat16 autocast;
(d) ``nnkit text train --model transformer``'s ``CharTransformer`` (d_model 192, 3 layers, 3
    heads, context 128) on ``train``'s default 32 x 64, with its share of the matmul rate
    (the multiply-adds it executes: the projections, both attention products over the cached
    and new keys, and the read-out);
and the generation speed of (c) and (d). CUDA rows are added when a GPU is present. Corpus:
alice.txt.

The runs are interleaved: each of ``--rounds`` rounds times every row for ``--seconds``, the
matrix-multiply rate next to (c), so that a machine whose speed drifts (this VM's does, by up to
30% within a minute) moves both sides of a comparison alike. Each row reports its median over
the rounds, and each ratio the median of the per-round ratios. An nnkit rate is characters per
second of training steps (forward, backward, optimiser; the validation passes left out) after
the first three steps of each run (warm-up).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from nnkit.callbacks import Callback, TrainState
from nnkit.models import CharRNN, CharTransformer, NotesRNN
from nnkit.runtime import Runtime
from nnkit.text import Vocab, generate, read_text, train

try:
    from ._paths import text_root
except ImportError:  # run as a script
    from _paths import text_root  # type: ignore[no-redef]

DEFAULT = text_root()


def matmul_gflops(device: str, size: int = 2048, repeats: int = 20) -> float:
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    for _ in range(3):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def notes_chars_per_second(ids: torch.Tensor, vocab_size: int, seconds: float) -> float:
    torch.manual_seed(0)
    rnn = NotesRNN(vocab_size, 128, vocab_size)
    optimizer = torch.optim.Adam(rnn.parameters())
    criterion = torch.nn.NLLLoss()
    eye = torch.eye(vocab_size)
    done, started, position = 0, time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        chunk = ids[position : position + 129]
        position = (position + 128) % (len(ids) - 130)
        hidden = rnn.init_hidden()
        optimizer.zero_grad()
        loss = torch.zeros(())
        for t in range(128):
            output, hidden = rnn(eye[chunk[t]].unsqueeze(0), hidden)
            loss = loss + criterion(output, chunk[t + 1].unsqueeze(0))
        loss.backward()
        optimizer.step()
        done += 128
    return done / (time.perf_counter() - started)


def gru_flops_per_char(model: CharRNN) -> float:
    """Forward multiply-adds x 2 (flops) x 3 (forward + backward), per character."""
    h, e, v = model.hidden_size, model.embedding_dim, model.vocab_size
    macs = 3 * h * (e + h) + (model.num_layers - 1) * 3 * h * (h + h) + h * v
    return 2.0 * macs * 3


def transformer_flops_per_char(model: CharTransformer, seq_len: int) -> float:
    """Forward multiply-adds x 2 x 3 per character of a training step of ``seq_len`` characters
    with a full cache: per layer the q/k/v, output and MLP projections (12 d^2) and the two
    attention products over the ``context - 1`` cached and ``seq_len`` new keys that the
    masked kernel computes; the tied read-out (d V)."""
    d, keys = model.d_model, model.context - 1 + seq_len
    macs = model.num_layers * (12 * d * d + 2 * keys * d) + d * model.vocab_size
    return 2.0 * macs * 3


class StepTimer(Callback):
    """Time of the training steps and characters they read, after ``warmup`` steps."""

    def __init__(self, model: torch.nn.Module, warmup: int = 3) -> None:
        self.warmup, self.steps, self.seconds, self.chars = warmup, 0, 0.0, 0
        self.started = 0.0
        self.batch_chars = 0
        model.register_forward_pre_hook(self._count)

    def _count(self, module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        if module.training:
            self.batch_chars = int(args[0].numel())

    def on_batch_begin(self, state: TrainState) -> None:
        self.started = time.perf_counter()

    def on_batch_end(self, state: TrainState) -> None:
        if state.batch_loss is not None:
            state.batch_loss.item()  # a CUDA step is done only when its loss is
        self.steps += 1
        if self.steps > self.warmup:
            self.seconds += time.perf_counter() - self.started
            self.chars += self.batch_chars

    @property
    def rate(self) -> float:
        if not self.chars or not self.seconds:
            raise TooShortError(
                f"no training step was timed after the {self.warmup} warm-up steps; raise --seconds"
            )
        return self.chars / self.seconds


class TooShortError(Exception):
    """A row's budget ended before any timed step: there is no rate to report."""


def nnkit_rate(
    model: CharRNN | CharTransformer,
    text: str,
    vocab: Vocab,
    device: str,
    seconds: float,
    *,
    amp: bool = False,
    batch: tuple[int, int] = (64, 128),
) -> float:
    """Training characters per second, ``batch`` = (streams, characters per step)."""
    timer = StepTimer(model)
    # the notes' linear recurrence blows up at the default lr 0.01: time it at a stable 0.001
    train(
        model,
        text,
        vocab=vocab,
        max_seconds=seconds,
        device=device,
        progress=False,
        val_fraction=0.05,
        batch_size=batch[0],
        seq_len=batch[1],
        lr=1e-3 if getattr(model, "cell", None) == "seed" else None,
        runtime=Runtime(amp=amp),
        callbacks=[timer],
    )
    return timer.rate


def note(row: dict[str, Any]) -> str:
    """The comparison a row is about: speed-up over (a), or share of the matmul rate."""
    if "speedup_vs_notes" in row:
        return f"{row['speedup_vs_notes']:.1f}x (a)"
    if "vs_float32" in row:
        return f"{row['vs_float32']:.2f}x the float32 row"
    if "fraction_of_matmul" in row:
        return (
            f"{row['gflops']:.1f} GFLOP/s, {100 * row['fraction_of_matmul']:.0f}% of fp32 "
            f"matmul ({row['matmul_gflops']:.0f} GFLOP/s)"
        )
    return ""


def one_round(
    text: str, vocab: Vocab, devices: list[str], seconds: float
) -> dict[tuple[str, str], dict[str, float]]:
    """Every row once: (device, row) -> its figures."""
    ids = vocab.encode(text)
    out: dict[tuple[str, str], dict[str, float]] = {}
    notes = notes_chars_per_second(ids, len(vocab), seconds)
    out["cpu", NOTES] = {"chars_per_second": notes}
    for device in devices:
        torch.manual_seed(0)
        seed = CharRNN(len(vocab), cell="seed", hidden_size=128)
        rate = nnkit_rate(seed, text, vocab, device, seconds)
        out[device, SEED] = {"chars_per_second": rate, "speedup_vs_notes": rate / notes}
        for run, batch in GRU_BATCHES:
            torch.manual_seed(0)
            model = CharRNN(len(vocab))
            rate = nnkit_rate(model, text, vocab, device, seconds, batch=batch)
            peak = matmul_gflops(device)
            achieved = gru_flops_per_char(model) * rate / 1e9
            out[device, run] = {
                "chars_per_second": rate,
                "gflops": achieved,
                "matmul_gflops": peak,
                "fraction_of_matmul": achieved / peak,
            }
        torch.manual_seed(0)
        float32 = out[device, GRU]["chars_per_second"]
        low = nnkit_rate(CharRNN(len(vocab)), text, vocab, device, seconds, amp=True)
        out[device, AMP] = {"chars_per_second": low, "vs_float32": low / float32}
        torch.manual_seed(0)
        transformer = CharTransformer(len(vocab))
        rate = nnkit_rate(transformer, text, vocab, device, seconds, batch=(32, 64))
        peak = matmul_gflops(device)
        achieved = transformer_flops_per_char(transformer, 64) * rate / 1e9
        out[device, TRANSFORMER_ROW] = {
            "chars_per_second": rate,
            "gflops": achieved,
            "matmul_gflops": peak,
            "fraction_of_matmul": achieved / peak,
        }
        for row, model in (
            (GENERATION, CharRNN(len(vocab))),
            (GENERATION_TRANSFORMER, CharTransformer(len(vocab))),
        ):
            model = model.to(device)
            started = time.perf_counter()
            generate(model, vocab, "Alice", 500, seed=0)
            out[device, row] = {"chars_per_second": 500 / (time.perf_counter() - started)}
    return out


NOTES = "(a) notes: seed cell, Python loop, batch 1"
SEED = "(b) nnkit: seed cell, batch 64 x 128"
GRU = "(c) nnkit: default CharRNN (GRU 2x256), batch 64 x 128"
GRU_BATCHES = (
    (GRU, (64, 128)),
    ("(c) the same, train's default batch 32 x 64", (32, 64)),
    ("(c) the same, batch 256 x 64", (256, 64)),
)
AMP = "(c) the same, 64 x 128, bfloat16 autocast (amp=True)"
TRANSFORMER_ROW = "(d) nnkit: CharTransformer (192 x 3, context 128), batch 32 x 64"
GENERATION = "generation, default CharRNN"
GENERATION_TRANSFORMER = "generation, CharTransformer (key/value cache)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--text-dir", type=Path, default=DEFAULT, help="corpus folder (default: $NNKIT_TEXT)"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="per row and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--json", type=Path, default=None, help="write every round as JSON")
    parser.add_argument("--markdown", type=Path, default=None, help="write the table")
    args = parser.parse_args()
    if args.seconds < 1 or args.rounds < 1:
        parser.error(f"--seconds must be >= 1 and --rounds >= 1, got {args.seconds}, {args.rounds}")
    text = read_text(args.text_dir / "alice.txt")
    vocab = Vocab.from_text(text)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    try:
        rounds = [one_round(text, vocab, devices, args.seconds) for _ in range(args.rounds)]
    except TooShortError as exc:
        parser.error(f"--seconds {args.seconds:g} is too short: {exc}")
    rows: list[dict[str, Any]] = []
    for device, run in rounds[0]:
        figures = [r[device, run] for r in rounds]
        row: dict[str, Any] = {"run": run, "device": device}
        for key in figures[0]:
            row[key] = statistics.median(f[key] for f in figures)
        row["per_round"] = figures
        rows.append(row)
    for r in rows:
        extra = f"  {note(r)}" if note(r) else ""
        print(f"{r['device']:<5} {r['run']:<56} {r['chars_per_second']:>11,.0f} chars/s{extra}")
    if args.markdown:
        lines = ["| device | run | chars/s | notes |", "| --- | --- | ---: | --- |"]
        lines += [
            f"| {r['device']} | {r['run']} | {r['chars_per_second']:,.0f} | {note(r)} |"
            for r in rows
        ]
        args.markdown.write_text("\n".join(lines) + "\n")
    if args.json:
        meta = {
            "rounds": args.rounds,
            "seconds_per_row_and_round": args.seconds,
            "machine": platform.platform(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
        }
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
