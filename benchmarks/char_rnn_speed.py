"""Character-model training and generation speed, side by side in one run.

Usage::

    python benchmarks/char_rnn_speed.py [--text-dir ../shared/data/text] [--seconds 20]
                                        [--json out.json]

(a) the notes' approach: ``NotesRNN`` (hidden 128) stepped one character at a time in a Python
    loop, batch 1, one-hot inputs, NLL summed over a 128-character chunk, Adam;
(b) the same ``"seed"`` cell trained by ``nnkit.text.train`` on batched sequences;
(c) the default ``CharRNN`` (GRU 2 x 256, embedding 64), with its arithmetic rate (counted
    multiply-adds x 2 x 3 for forward and backward) as a fraction of this machine's fp32
    2048 x 2048 matrix-multiply rate measured in the same run, and again under bfloat16 autocast;
and the generation speed of (c). CUDA rows are added when a GPU is present. Corpus: alice.txt.
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

from nnkit.models import CharRNN, NotesRNN
from nnkit.text import Vocab, generate, read_text, train

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "text"


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


def nnkit_rate(
    model: CharRNN, text: str, vocab: Vocab, device: str, seconds: float, amp: bool = False
) -> float:
    # the notes' linear recurrence blows up at the default lr 0.01: time it at a stable 0.001
    history = train(
        model,
        text,
        vocab=vocab,
        max_seconds=seconds,
        device=device,
        progress=False,
        val_fraction=0.05,
        batch_size=64,
        seq_len=128,
        lr=1e-3 if model.cell == "seed" else 1e-2,
        amp=amp,
    )
    rates = [r.samples_per_second for r in history.records]
    return statistics.median(rates[1:] or rates)  # the first epoch includes warm-up


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text-dir", type=Path, default=DEFAULT)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    text = read_text(args.text_dir / "alice.txt")
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows: list[dict[str, Any]] = []
    notes = notes_chars_per_second(ids, len(vocab), args.seconds)
    rows.append(
        {
            "run": "(a) notes: seed cell, Python loop, batch 1",
            "device": "cpu",
            "chars_per_second": notes,
        }
    )
    for device in devices:
        torch.manual_seed(0)
        seed_rate = nnkit_rate(
            CharRNN(len(vocab), cell="seed", hidden_size=128), text, vocab, device, args.seconds
        )
        rows.append(
            {
                "run": "(b) nnkit: seed cell, batch 64 x 128",
                "device": device,
                "chars_per_second": seed_rate,
                "speedup_vs_notes": seed_rate / notes,
            }
        )
        torch.manual_seed(0)
        model = CharRNN(len(vocab))
        rate = nnkit_rate(model, text, vocab, device, args.seconds)
        peak = matmul_gflops(device)
        achieved = gru_flops_per_char(model) * rate / 1e9
        rows.append(
            {
                "run": "(c) nnkit: default CharRNN (GRU 2x256)",
                "device": device,
                "chars_per_second": rate,
                "gflops": achieved,
                "matmul_gflops": peak,
                "fraction_of_matmul": achieved / peak,
            }
        )
        torch.manual_seed(0)
        low = nnkit_rate(CharRNN(len(vocab)), text, vocab, device, args.seconds, amp=True)
        rows.append(
            {
                "run": "(c) the same, bfloat16 autocast (amp=True)",
                "device": device,
                "chars_per_second": low,
                "vs_float32": low / rate,
            }
        )
        model.to(device)
        started = time.perf_counter()
        generate(model, vocab, "Alice", 500, seed=0)
        rows.append(
            {
                "run": "generation, default CharRNN",
                "device": device,
                "chars_per_second": 500 / (time.perf_counter() - started),
            }
        )
    for r in rows:
        extra = f"  {note(r)}" if note(r) else ""
        print(f"{r['device']:<5} {r['run']:<44} {r['chars_per_second']:>11,.0f} chars/s{extra}")
    if args.markdown:
        lines = ["| device | run | chars/s | notes |", "| --- | --- | ---: | --- |"]
        lines += [
            f"| {r['device']} | {r['run']} | {r['chars_per_second']:,.0f} | {note(r)} |"
            for r in rows
        ]
        args.markdown.write_text("\n".join(lines) + "\n")
    if args.json:
        meta = {
            "machine": platform.platform(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
        }
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
