"""Time to 99% MNIST test accuracy: the notes' loop against nnkit's recipes, in one run.

Usage::

    python benchmarks/time_to_accuracy.py [--seeds 5] [--device cpu|cuda] [--data DIR]
                                          [--target 0.99] [--notes-epochs 2] [--no-notes]
                                          [--json out.json] [--markdown out.md]

The runs (every speed figure is a ratio to (a), measured in the same run, because this kind of
machine drifts by up to 30% between days; absolute times are quoted only for GPUs):

(a) the notes' loop as written (torchvision MNIST, ToTensor, DataLoader batch 32 shuffled, Adam,
    the notes' Net, seed 0, on the CPU), see ``benchmarks/notes_loop.py``, checked on the 10,000
    test images after every epoch until the target is first reached; its time includes those
    evaluations, as the notes' loop needs them to know when it got there.
(b) ``fit`` with :data:`nnkit.recipes.NOTES_RECIPE` (the notes' settings: MnistCNN(depth=2),
    batch 32, Adam 1e-3) for ``--notes-epochs`` epochs: seconds per training epoch, against (a)'s;
    (b') the same with the memory layout and the optimizer step the notes use (contiguous
    NCHW, Adam's per-tensor loop), to show what nnkit's defaults buy with the arithmetic
    unchanged.
(c) the fast recipe for the device (:func:`nnkit.recipes.recipe`), one run per seed (which
    fixes the initialisation and the batch order): ``fit``
    on the 60,000 training images with the recipe's fixed epoch budget, then one evaluation on
    the test images; the time is both, from data already in memory. Mean, min and max over the
    seeds of time and accuracy (not the best seed).

With ``--device cuda`` (c) runs on the GPU with ``--seeds`` (default 20) seeds, after one
warm-up run that is reported apart (it pays for ``torch.compile``), both as the recipe is and
without compilation (c'), so one run on a GPU says which is faster; times are measured with the
device synchronised. ``--no-notes`` skips (a) and (b), for instance on a GPU machine whose CPU
time is not the question.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from nnkit.data import MnistDataset, load_mnist
from nnkit.models import MnistCNN
from nnkit.recipes import NOTES_RECIPE, Recipe, recipe
from nnkit.runtime import Runtime
from nnkit.train import evaluate, fit

try:
    from . import notes_loop
    from ._paths import mnist_root
    from ._step import sync
except ImportError:  # run as a script
    import notes_loop  # type: ignore[no-redef]
    from _paths import mnist_root  # type: ignore[no-redef]
    from _step import sync  # type: ignore[no-redef]


def run_notes(root: Path, target: float, max_epochs: int) -> dict[str, Any]:
    """(a): the notes' loop until ``target`` test accuracy (or ``max_epochs``)."""
    torch.manual_seed(0)
    train_loader, test_loader = notes_loop.loaders(str(root))
    model, criterion, optimizer = notes_loop.make()
    started = time.perf_counter()
    train_seconds, accuracies = [], []
    for epoch in range(1, max_epochs + 1):
        t = time.perf_counter()
        notes_loop.train(epoch, model, criterion, optimizer, train_loader)
        train_seconds.append(time.perf_counter() - t)
        _, accuracy = notes_loop.test(model, criterion, test_loader)
        accuracies.append(accuracy / 100)
        if accuracy / 100 >= target:
            break
    return {
        "seconds": time.perf_counter() - started,
        "epochs": len(accuracies),
        "train_seconds_per_epoch": train_seconds,
        "test_accuracy": accuracies,
        "reached": accuracies[-1] >= target,
    }


def run_per_epoch(train: MnistDataset, epochs: int, **settings: Any) -> dict[str, Any]:
    """(b): seconds per training epoch of ``fit`` with the notes' settings."""
    history = fit(
        MnistCNN(depth=2), train, epochs=epochs, seed=0, device="cpu", progress=False, **settings
    )
    return {
        "train_seconds_per_epoch": [r.seconds for r in history.records],
        "train_accuracy": [r.train_accuracy for r in history.records],
    }


def run_recipe(
    train: MnistDataset, test: MnistDataset, chosen: Recipe, seeds: list[int], device: str
) -> dict[str, Any]:
    """(c): one fixed-budget run per seed, timed from data in memory to the test accuracy."""
    dev = torch.device(device)
    runs = []
    for seed in seeds:
        sync(dev)
        started = time.perf_counter()
        torch.manual_seed(seed)  # the seed fixes the initialisation as well as the order
        model = MnistCNN(depth=2)
        history = fit(model, train, seed=seed, device=device, progress=False, **chosen)
        result = evaluate(model, test, device=device, runtime=chosen.runtime)
        sync(dev)
        runs.append(
            {
                "seed": seed,
                "seconds": time.perf_counter() - started,
                "test_accuracy": result.accuracy,
                "train_seconds_per_epoch": [r.seconds for r in history.records],
            }
        )
    seconds = [r["seconds"] for r in runs]
    accuracy = [r["test_accuracy"] for r in runs]
    return {
        "runs": runs,
        "epochs": chosen.epochs,
        "train_seconds_per_epoch": [s for r in runs for s in r["train_seconds_per_epoch"]],
        "seconds": statistics.fmean(seconds),
        "seconds_min": min(seconds),
        "seconds_max": max(seconds),
        "test_accuracy": statistics.fmean(accuracy),
        "test_accuracy_min": min(accuracy),
        "test_accuracy_max": max(accuracy),
    }


def _settings(chosen: Recipe) -> dict[str, Any]:
    return {k: (v if isinstance(v, int | float | str) else repr(v)) for k, v in chosen.items()}


def table(results: dict[str, Any], target: float) -> str:
    """The Markdown table of one run of this script."""
    notes = results["runs"].get("notes")
    notes_epoch = min(notes["train_seconds_per_epoch"]) if notes else None
    lines = [
        "| run | seeds | test accuracy, mean [min, max] | seconds, mean [min, max] "
        "| s/epoch | time vs notes | epoch vs notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results["runs"].items():
        epoch_s = min(r["train_seconds_per_epoch"])
        seeds = len(r["runs"]) if "runs" in r else 1
        if "test_accuracy_min" in r:
            acc = (
                f"{100 * r['test_accuracy']:.2f}% [{100 * r['test_accuracy_min']:.2f}, "
                f"{100 * r['test_accuracy_max']:.2f}]"
            )
            secs = f"{r['seconds']:.2f} [{r['seconds_min']:.2f}, {r['seconds_max']:.2f}]"
        elif "test_accuracy" in r:
            acc = f"{100 * r['test_accuracy'][-1]:.2f}% at epoch {r['epochs']}"
            secs = f"{r['seconds']:.1f}"
        else:
            acc, secs = "(speed only)", "-"
        time_ratio = f"{notes['seconds'] / r['seconds']:.2f}x" if notes and "seconds" in r else "-"
        epoch_ratio = f"{notes_epoch / epoch_s:.2f}x" if notes_epoch and epoch_s else "-"
        epoch_text = f"{epoch_s:.2f}" if epoch_s else "-"
        lines.append(
            f"| {name} | {seeds} | {acc} | {secs} | {epoch_text} | {time_ratio} | {epoch_ratio} |"
        )
    lines.append("")
    lines.append(
        f"Target {100 * target:.1f}%. {results['machine']}, {results['threads']} threads, "
        f"torch {results['torch']}, {results['date']}."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="MNIST folder ($NNKIT_DATA)")
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="cpu (default), or cuda for the GPU recipe",
    )
    parser.add_argument("--seeds", type=int, default=None, help="default 5 (CPU), 20 (CUDA)")
    parser.add_argument(
        "--target", type=float, default=0.99, help="test accuracy to reach (default 0.99)"
    )
    parser.add_argument("--max-epochs", type=int, default=15, help="for the notes' loop")
    parser.add_argument("--notes-epochs", type=int, default=2, help="for (b)")
    parser.add_argument("--no-notes", action="store_true", help="skip (a) and (b)")
    parser.add_argument("--json", type=Path, default=None, help="write every run as JSON")
    parser.add_argument("--markdown", type=Path, default=None, help="write the table as Markdown")
    args = parser.parse_args()
    root = args.data if args.data is not None else mnist_root()
    default_seeds = 20 if args.device == "cuda" else 5
    seeds = list(range(args.seeds if args.seeds is not None else default_seeds))
    train, test = load_mnist(root), load_mnist(root, train=False)
    runs: dict[str, Any] = {}
    if not args.no_notes:
        print("(a) the notes' loop...", flush=True)
        runs["notes"] = run_notes(root, args.target, args.max_epochs)
        print("(b) fit with the notes' settings...", flush=True)
        runs["fit, notes' settings"] = run_per_epoch(train, args.notes_epochs, **NOTES_RECIPE)
        runs["fit, notes' settings, NCHW + per-tensor Adam"] = run_per_epoch(
            train,
            args.notes_epochs,
            **NOTES_RECIPE,
            runtime=Runtime(channels_last=False),
            optimizer_kwargs={"fused": False, "foreach": False},
        )
    fast = recipe("fast", args.device)
    if args.device == "cuda":
        name = torch.cuda.get_device_name()
        plain = dataclasses.replace(fast, runtime=None)
        for label, chosen in ((f"fast recipe on {name}", fast), ("... without compile", plain)):
            print(f"(c) {label}: warm-up...", flush=True)
            warm = run_recipe(train, test, chosen, [0], args.device)
            runs[label] = run_recipe(train, test, chosen, seeds, args.device)
            runs[label]["warm_up_seconds"] = warm["seconds"]
            runs[label]["settings"] = _settings(chosen)
    else:
        print(f"(c) the fast recipe, {len(seeds)} seeds...", flush=True)
        runs["fit, fast recipe"] = run_recipe(train, test, fast, seeds, args.device)
        runs["fit, fast recipe"]["settings"] = _settings(fast)
    results = {
        "target": args.target,
        "runs": runs,
        "machine": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }
    text = table(results, args.target)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
