"""One epoch of MNIST batches: nnkit's TensorLoader against the notes' DataLoader, side by side.

Usage::

    python benchmarks/loader_throughput.py [--data DIR] [--repeats 3]
                                          [--json out.json]

Both produce shuffled batches of 32 float32 images (N, 1, 28, 28) in [0, 1] with int64 labels
over the 60,000 training images; only the iteration is timed (the data set is loaded before).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
import torchvision
from torchvision.transforms import ToTensor

from nnkit.data import TensorLoader, load_mnist

try:
    from ._paths import mnist_root
except ImportError:  # run as a script
    from _paths import mnist_root  # type: ignore[no-redef]

DEFAULT = mnist_root()


def epoch_seconds(loader: object) -> float:
    started = time.perf_counter()
    n = 0
    for x, _ in loader:  # type: ignore[attr-defined]
        n += x.shape[0]
    elapsed = time.perf_counter() - started
    assert n == 60_000
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT, help="full MNIST folder (default: $NNKIT_DATA)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repetitions (best of)")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    tv = torchvision.datasets.MNIST(str(args.data), train=True, transform=ToTensor())
    notes = torch.utils.data.DataLoader(tv, batch_size=32, shuffle=True)
    ours = TensorLoader(load_mnist(args.data), 32, shuffle=True, seed=0)
    results: dict[str, list[float]] = {
        "DataLoader(torchvision MNIST, ToTensor)": [],
        "nnkit TensorLoader": [],
    }
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        results["DataLoader(torchvision MNIST, ToTensor)"].append(epoch_seconds(notes))
        results["nnkit TensorLoader"].append(epoch_seconds(ours))
    best = {k: min(v) for k, v in results.items()}
    ratio = best["DataLoader(torchvision MNIST, ToTensor)"] / best["nnkit TensorLoader"]
    for name, seconds in best.items():
        print(f"{name:<42} {seconds:8.3f} s/epoch  {60_000 / seconds:12,.0f} images/s")
    print(f"ratio (DataLoader / TensorLoader): {ratio:.1f}x")
    if args.json:
        payload = {
            "seconds": results,
            "best": best,
            "ratio": ratio,
            "machine": platform.platform(),
            "threads": torch.get_num_threads(),
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
