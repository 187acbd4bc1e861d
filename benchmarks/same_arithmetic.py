"""Does a change to ``fit`` leave the arithmetic alone? Histories of fixed-step runs, compared
bit for bit between two checkouts of nnkit on the same machine.

A figure in the docs is a time-budgeted or seeded run of a shipped benchmark; when only the
code around the arithmetic changed (the loop's structure, its checks, its output), the same
steps give the same numbers, and the figures can only move with the machine's speed. Timed
reruns cannot show that (their noise is larger than any rounding); this script can. It trains,
with fixed step budgets:

- ``MnistCNN(depth=2)`` with the fast recipe (OneCycle over two epochs, Adam, label smoothing),
  300 steps on the full MNIST, the test images as held-out data;
- the same network with the notes' settings (batch 32, Adam 0.001), 300 steps;
- the default ``CharRNN`` on ``alice.txt`` through ``nnkit.text.train``, 150 steps;

and writes every record (timings left out) as JSON. Usage::

    python benchmarks/same_arithmetic.py --out new.json
    PYTHONPATH=<other checkout>/src python benchmarks/same_arithmetic.py --out old.json
    python benchmarks/same_arithmetic.py --compare old.json new.json

It runs on the nnkit from before ``fit(val=)`` too (it passes ``test=`` there, and reads
``test_...`` values as ``val_...``).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import torch

import nnkit
from nnkit.data import load_mnist
from nnkit.models import CharRNN, MnistCNN
from nnkit.recipes import FAST_RECIPE, NOTES_RECIPE
from nnkit.text import Vocab, read_text
from nnkit.text import train as train_text
from nnkit.train import fit

try:
    from benchmarks._paths import mnist_root, text_root
except ImportError:  # run as a script from the checkout
    from _paths import mnist_root, text_root  # type: ignore[import-not-found,no-redef]

TIMING = {"seconds", "samples_per_second"}


def _records(history: Any) -> list[dict[str, Any]]:
    out = []
    for record in history.records:
        row = {k: v for k, v in dataclasses.asdict(record).items() if k not in TIMING}
        row = {("val_" + k[5:] if k.startswith("test_") else k): v for k, v in row.items()}
        row["extra"] = {("val_" + k[5:] if k.startswith("test_") else k): v
                        for k, v in row["extra"].items()}  # fmt: skip
        out.append(row)
    return out


def runs() -> dict[str, Any]:
    held_out = "val" if "val" in inspect.signature(fit).parameters else "test"
    root = mnist_root()
    train, test = load_mnist(root), load_mnist(root, train=False)
    results: dict[str, Any] = {}
    for name, recipe in (("fast recipe", FAST_RECIPE), ("notes' settings", NOTES_RECIPE)):
        torch.manual_seed(0)
        model = MnistCNN(depth=2)
        history = fit(model, train, max_steps=300, seed=0, device="cpu", progress=False,
                      **{held_out: test}, **recipe)  # fmt: skip
        results[name] = _records(history)
    text = read_text(text_root() / "alice.txt")
    vocab = Vocab.from_text(text)
    torch.manual_seed(0)
    history = train_text(CharRNN(len(vocab)), text, vocab=vocab, max_steps=150, device="cpu",
                         progress=False)  # fmt: skip
    results["CharRNN on alice"] = _records(history)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the histories here")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"))
    args = parser.parse_args()
    if args.compare:
        a, b = (json.loads(p.read_text())["runs"] for p in args.compare)
        same = True
        for name in a:
            equal = a[name] == b.get(name)
            same &= equal
            print(f"{name}: {'identical' if equal else 'DIFFERENT'} ({len(a[name])} epochs)")
        return 0 if same else 1
    if args.out is None:
        parser.error("give --out FILE or --compare A B")
    result = {"nnkit": str(Path(nnkit.__file__).parent), "runs": runs()}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, records in result["runs"].items():
        last = records[-1]
        print(f"{name}: {len(records)} epochs, last train_loss {last['train_loss']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
