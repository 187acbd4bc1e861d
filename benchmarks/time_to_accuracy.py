"""Time to 99.0% MNIST test accuracy: the notes' loop against nnkit, side by side in one run.

Usage::

    python benchmarks/time_to_accuracy.py [--data ../shared/data/mnist] [--target 0.99]
                                          [--max-epochs 15] [--json out.json]

Four runs, each checked on the 10,000 test images after every epoch until the target is first
reached (wall time includes those evaluations):

(a) the notes' loop as written (torchvision MNIST, ToTensor, DataLoader batch 32 shuffled, Adam,
    the notes' Net), see ``benchmarks/notes_loop.py``;
(b) ``nnkit.train.fit`` with the notes' own settings (MnistCNN(depth=2), batch 32, Adam 1e-3);
(b') the same with ``Runtime(channels_last=True)`` (a memory layout, not a hyperparameter: the
     maths and the notes' settings are unchanged);
(c) ``fit`` with ``nnkit.train.FAST_RECIPE`` (batch 128, OneCycle to 4e-3, channels-last), whose
    schedule is planned for 3 epochs (4, then 5, if 3 do not reach the target; all time counts).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from nnkit.callbacks import Callback, TrainState
from nnkit.data import load_mnist
from nnkit.history import EpochRecord
from nnkit.models import MnistCNN
from nnkit.runtime import Runtime
from nnkit.train import FAST_RECIPE, fit

try:
    from . import notes_loop
except ImportError:  # run as a script
    import notes_loop  # type: ignore[no-redef]

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


class StopAt(Callback):
    """Stop once test accuracy reaches the target."""

    def __init__(self, target: float) -> None:
        self.target = target

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if record.test_accuracy is not None and record.test_accuracy >= self.target:
            state.stop_training = True


def run_notes(root: Path, target: float, max_epochs: int) -> dict[str, Any]:
    torch.manual_seed(0)
    train_loader, test_loader = notes_loop.loaders(str(root))
    model, criterion, optimizer = notes_loop.make()
    started = time.perf_counter()
    epochs, train_seconds, accuracies = 0, [], []
    for epoch in range(1, max_epochs + 1):
        t = time.perf_counter()
        notes_loop.train(epoch, model, criterion, optimizer, train_loader)
        train_seconds.append(time.perf_counter() - t)
        _, accuracy = notes_loop.test(model, criterion, test_loader)
        accuracies.append(accuracy / 100)
        epochs = epoch
        if accuracy / 100 >= target:
            break
    return {
        "seconds": time.perf_counter() - started,
        "epochs": epochs,
        "train_seconds_per_epoch": train_seconds,
        "test_accuracy": accuracies,
        "reached": accuracies[-1] >= target,
    }


def run_nnkit(root: Path, target: float, plans: list[int], **settings: Any) -> dict[str, Any]:
    train, test = load_mnist(root), load_mnist(root, train=False)
    started = time.perf_counter()
    attempts = []
    for planned in plans:
        torch.manual_seed(0)
        history = fit(
            MnistCNN(depth=2),
            train,
            test=test,
            epochs=planned,
            seed=0,
            device="cpu",
            progress=False,
            callbacks=[StopAt(target)],
            **settings,
        )
        accuracies = [r.test_accuracy or 0.0 for r in history.records]
        attempts.append(
            {
                "planned_epochs": planned,
                "test_accuracy": accuracies,
                "train_seconds_per_epoch": [r.seconds for r in history.records],
            }
        )
        if accuracies[-1] >= target:
            break
    last = attempts[-1]
    return {
        "seconds": time.perf_counter() - started,
        "epochs": len(last["test_accuracy"]),
        "attempts": attempts,
        "train_seconds_per_epoch": last["train_seconds_per_epoch"],
        "test_accuracy": last["test_accuracy"],
        "reached": last["test_accuracy"][-1] >= target,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    runs = {
        "notes": run_notes(args.data, args.target, args.max_epochs),
        "nnkit_notes_settings": run_nnkit(args.data, args.target, [args.max_epochs]),
        "nnkit_notes_settings_channels_last": run_nnkit(
            args.data, args.target, [args.max_epochs], runtime=Runtime(channels_last=True)
        ),
        "nnkit_fast_recipe": run_nnkit(args.data, args.target, [3, 4, 5], **FAST_RECIPE),
    }
    base = runs["notes"]
    base_epoch = min(base["train_seconds_per_epoch"])
    print(
        f"{'run':<36} {'reached':>7} {'epochs':>6} {'seconds':>8} {'s/epoch':>8} "
        f"{'time ratio':>10} {'epoch ratio':>11}"
    )
    for name, r in runs.items():
        epoch_s = min(r["train_seconds_per_epoch"])
        r["time_speedup_vs_notes"] = base["seconds"] / r["seconds"]
        r["epoch_speedup_vs_notes"] = base_epoch / epoch_s
        print(
            f"{name:<36} {r['reached']!s:>7} {r['epochs']:>6} {r['seconds']:>8.1f} "
            f"{epoch_s:>8.2f} {r['time_speedup_vs_notes']:>9.2f}x "
            f"{r['epoch_speedup_vs_notes']:>10.2f}x"
        )
    if args.json:
        payload = {
            "target": args.target,
            "runs": runs,
            "machine": platform.platform(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
