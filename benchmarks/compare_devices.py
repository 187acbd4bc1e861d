"""Training throughput (samples/s) of MnistCNN(depth=2) on every device available.

Usage::

    python benchmarks/compare_devices.py [--data ../shared/data/mnist] [--out DIR]

For each device (the CPU, and CUDA when present) it trains one epoch of the full MNIST training
set (the embedded sample without --data files) with the notes' settings (batch 32, Adam) and
with ``FAST_RECIPE``, and writes ``devices.json``, ``devices.md`` (a Markdown table) and
``devices.png`` (a bar chart) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from nnkit.data import load_mnist, load_mnist_sample
from nnkit.models import MnistCNN
from nnkit.runtime import Runtime
from nnkit.train import FAST_RECIPE, fit

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
SETTINGS: dict[str, dict[str, Any]] = {
    "notes settings (batch 32, Adam)": {},
    "FAST_RECIPE (batch 128, OneCycle, channels-last)": dict(FAST_RECIPE),
    "FAST_RECIPE + bf16 autocast": {
        **FAST_RECIPE,
        "runtime": Runtime(amp=True, channels_last=True),
    },
}


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    train = load_mnist(args.data) if (args.data / "MNIST").exists() else load_mnist_sample()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        for label, settings in SETTINGS.items():
            torch.manual_seed(0)
            history = fit(
                MnistCNN(depth=2),
                train,
                epochs=args.epochs + 1,
                seed=0,
                device=device,
                progress=False,
                **settings,
            )
            best = max(r.samples_per_second for r in history.records[1:])  # epoch 1 warms up
            rows.append(
                {
                    "device": device,
                    "name": device_name(device),
                    "settings": label,
                    "samples_per_second": best,
                    "train_size": len(train),
                }
            )
            print(f"{device:<5} {label:<50} {best:>12,.0f} samples/s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "devices.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["| device | settings | samples/s |", "| --- | --- | ---: |"]
    lines += [f"| {r['name']} | {r['settings']} | {r['samples_per_second']:,.0f} |" for r in rows]
    (args.out / "devices.md").write_text("\n".join(lines) + "\n")
    fig = Figure(figsize=(9, 0.6 * len(rows) + 1.5), layout="constrained")
    ax = fig.subplots()
    labels = [f"{r['device']}: {r['settings']}" for r in rows]
    ax.barh(labels[::-1], [r["samples_per_second"] for r in rows][::-1], color="tab:blue")
    ax.set(
        xlabel="training samples per second (MnistCNN depth 2)", title="nnkit training throughput"
    )
    ax.grid(axis="x", alpha=0.3)
    fig.savefig(args.out / "devices.png", dpi=110)


if __name__ == "__main__":
    main()
