"""fit's own overhead: the seconds of a ``fit`` call outside its epochs.

One epoch of full MNIST at the notes' settings (``MnistCNN(depth=2)``, batch 32, Adam at
0.001) with the 10,000 test images as validation data, timed from the call to its return:

- ``train``: the epoch's training pass (``record.seconds``);
- ``validation``: one evaluation of the validation data, timed alone after the run with
  :func:`nnkit.train.evaluate` (the same work ``fit`` does after the epoch);
- ``outside``: the rest (checks, building the sources, optimizer and schedule, the callbacks,
  the record, the progress line): ``total - train - validation``.

Beside them, the notes' own loop for one epoch, for the machine's speed. The script also runs
on the nnkit before ``fit(val=)`` (it passes ``test=`` there), so two checkouts can be
compared side by side: ``PYTHONPATH=<other checkout>/src python benchmarks/fit_overhead.py``.

Usage: ``python benchmarks/fit_overhead.py [--rounds 3] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

import nnkit
from nnkit.data import load_mnist
from nnkit.models import MnistCNN
from nnkit.train import evaluate, fit

try:
    from benchmarks import notes_loop
    from benchmarks._paths import mnist_root
except ImportError:  # run as a script from the checkout
    import notes_loop  # type: ignore[import-not-found,no-redef]
    from _paths import mnist_root  # type: ignore[import-not-found,no-redef]


def one_round(train: Any, val: Any) -> dict[str, float]:
    held_out = "val" if "val" in inspect.signature(fit).parameters else "test"
    torch.manual_seed(0)
    model = MnistCNN(depth=2)
    started = time.perf_counter()
    history = fit(model, train, epochs=1, batch_size=32, seed=0, device="cpu", progress=False,
                  **{held_out: val})  # fmt: skip
    total = time.perf_counter() - started
    started = time.perf_counter()
    evaluate(model, val, device="cpu")
    validation = time.perf_counter() - started
    train_seconds = history.records[0].seconds
    return {
        "total": total,
        "train": train_seconds,
        "validation": validation,
        "outside": total - train_seconds - validation,
    }


def notes_epoch(root: Path) -> float:
    torch.manual_seed(0)
    train_loader, _ = notes_loop.loaders(str(root))
    model, criterion, optimizer = notes_loop.make()
    started = time.perf_counter()
    notes_loop.train(1, model, criterion, optimizer, train_loader)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    root = mnist_root()
    train, val = load_mnist(root), load_mnist(root, train=False)
    rounds = [one_round(train, val) for _ in range(args.rounds)]
    notes = notes_epoch(root)
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    result = {"nnkit": str(Path(nnkit.__file__).parent), "rounds": rounds, "median": median,
              "notes_seconds_per_epoch": notes}  # fmt: skip
    print(f"nnkit from {result['nnkit']}; the notes' loop: {notes:.1f} s/epoch")
    for key in ("total", "train", "validation", "outside"):
        values = ", ".join(f"{r[key]:.2f}" for r in rounds)
        print(f"{key:>10}: median {median[key]:.2f} s  ({values})")
    print(f"outside the epoch: {median['outside'] / notes:.3f}x the notes' epoch")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
