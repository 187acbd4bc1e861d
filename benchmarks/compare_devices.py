"""Training speed of MnistCNN on every device present, side by side, with ratios to the CPU.

Usage::

    python benchmarks/compare_devices.py [--data DIR | --sample] [--out DIR]
    python benchmarks/compare_devices.py --merge laptop/devices.json server/devices.json --out all/

Two benchmarks per device (the CPU, and CUDA when present), the same code on each:

- **step**: one training step of ``MnistCNN(depth=2)`` (forward, cross entropy, backward, the
  fused Adam step, channels-last on the CPU as ``fit`` does), median of ``--rounds`` timings of
  ``--steps`` steps each, at every ``--batches`` size, on random images already on the device;
- **epoch**: one epoch of :func:`nnkit.train.fit` over the full MNIST training set with the
  notes' settings (batch 32) and with the fast recipe's batch and schedule (batch 128), after a
  short warm-up, data loading and the loop's bookkeeping included.

Writes ``devices.json`` (every row, the machine, the data), ``devices.md`` (a Markdown table:
samples per second and the ratio to the same machine's CPU) and ``devices.png``. ``--merge``
joins the JSON of several runs (say a laptop and a GPU server) into one table and chart, each
device's ratio still taken against its own machine's CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from nnkit.data import load_mnist, load_mnist_sample
from nnkit.models import MnistCNN
from nnkit.recipes import FAST_RECIPE, NOTES_RECIPE
from nnkit.train import fit

try:
    from ._paths import mnist_root
    from ._step import sync, train_step
except ImportError:  # run as a script
    from _paths import mnist_root  # type: ignore[no-redef]
    from _step import sync, train_step  # type: ignore[no-redef]

EPOCH_SETTINGS = {
    "notes' settings (batch 32)": dict(NOTES_RECIPE),
    "fast recipe (batch 128)": dict(dataclasses.replace(FAST_RECIPE, epochs=None)),
}


def device_name(device: str) -> str:
    """A readable name: the GPU's, or the CPU's with its thread count."""
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    cpu = platform.processor() or platform.machine()
    return f"{cpu} CPU, {torch.get_num_threads()} threads"


def step_rate(device: str, batch: int, steps: int, rounds: int) -> float:
    """Samples per second of one training step at ``batch`` (median over ``rounds``)."""
    step = train_step(2, batch, device)
    timings = []
    for _ in range(rounds):  # each step waits for the device (see train_step)
        started = time.perf_counter()
        for _ in range(steps):
            step()
        timings.append(time.perf_counter() - started)
    return batch * steps / statistics.median(timings)


def epoch_rate(device: str, train: Any, settings: dict[str, Any]) -> float:
    """Samples per second of one ``fit`` epoch with ``settings`` (after a 20-step warm-up)."""
    fit(MnistCNN(depth=2), train, max_steps=20, device=device, progress=False, **settings)
    sync(device)
    history = fit(MnistCNN(depth=2), train, epochs=1, seed=0, device=device, progress=False,
                  **settings)  # fmt: skip
    return history.last.samples_per_second


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every benchmark on every device present: the rows and the machine they ran on."""
    if args.sample:
        train, data = load_mnist_sample(), "embedded sample (10,000 images)"
    else:
        train, data = load_mnist(args.data), f"full MNIST ({args.data})"
    machine = args.machine or platform.node() or "this machine"
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        name = device_name(device)
        for batch in args.batches:
            rate = step_rate(device, batch, args.steps, args.rounds)
            rows.append({"machine": machine, "device": device, "name": name,
                         "benchmark": "step", "setting": f"batch {batch}",
                         "samples_per_second": rate})  # fmt: skip
            print(f"{name:<40} step  batch {batch:<4} {rate:>12,.0f} samples/s", flush=True)
        if args.no_epoch:
            continue
        for label, settings in EPOCH_SETTINGS.items():
            rate = epoch_rate(device, train, settings)
            rows.append({"machine": machine, "device": device, "name": name,
                         "benchmark": "epoch", "setting": label,
                         "samples_per_second": rate})  # fmt: skip
            print(f"{name:<40} epoch {label:<26} {rate:>12,.0f} samples/s", flush=True)
    return {
        "runs": [
            {
                "machine": machine,
                "platform": platform.platform(),
                "torch": torch.__version__,
                "data": data,
                "date": time.strftime("%Y-%m-%d"),
            }
        ],
        "rows": rows,
    }


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with ``vs_cpu``: its rate over the same machine's CPU rate in the same setting."""
    cpu = {
        (r["machine"], r["benchmark"], r["setting"]): r["samples_per_second"]
        for r in rows
        if r["device"] == "cpu"
    }
    out = []
    for r in rows:
        base = cpu.get((r["machine"], r["benchmark"], r["setting"]))
        out.append({**r, "vs_cpu": r["samples_per_second"] / base if base else None})
    return out


def markdown(result: dict[str, Any]) -> str:
    """The table: one row per machine, device, benchmark and setting."""
    lines = [
        "| machine | device | benchmark | setting | samples/s | vs CPU |",
        "| --- | --- | --- | --- | ---: | ---: |",
    ]
    for r in result["rows"]:  # with their ratios (with_ratios)
        ratio = "-" if r["vs_cpu"] is None else f"{r['vs_cpu']:.2f}x"
        lines.append(
            f"| {r['machine']} | {r['name']} | {r['benchmark']} | {r['setting']} | "
            f"{r['samples_per_second']:,.0f} | {ratio} |"
        )
    lines.append("")
    for run in result["runs"]:
        lines.append(
            f"{run['machine']}: {run['platform']}, torch {run['torch']}, {run['data']}, "
            f"{run['date']}."
        )
    return "\n".join(lines)


def chart(result: dict[str, Any]) -> Figure:
    """Grouped bars: one group per benchmark setting, one bar per device (a log scale when the
    rates span more than a factor of 20, as a CPU and a GPU do)."""
    rows = result["rows"]
    settings = list(dict.fromkeys(f"{r['benchmark']}: {r['setting']}" for r in rows))
    devices = list(dict.fromkeys(f"{r['name']} ({r['machine']})" for r in rows))
    fig = Figure(figsize=(max(7.0, 1.3 * len(settings) * max(1, len(devices)) / 2 + 3), 4.8),
                 layout="constrained")  # fmt: skip
    ax = fig.subplots()
    width = 0.8 / max(1, len(devices))
    for i, device in enumerate(devices):
        xs, ys = [], []
        for j, setting in enumerate(settings):
            for r in rows:
                if f"{r['name']} ({r['machine']})" == device and (
                    f"{r['benchmark']}: {r['setting']}" == setting
                ):
                    xs.append(j + (i - (len(devices) - 1) / 2) * width)
                    ys.append(r["samples_per_second"])
        ax.bar(xs, ys, width=width, label=device)
    ax.set_xticks(range(len(settings)), settings, rotation=20, ha="right")
    rates = [r["samples_per_second"] for r in rows]
    wide = max(rates) > 20 * min(rates)
    ax.set(yscale="log" if wide else "linear",
           ylabel="training samples per second" + (" (log scale)" if wide else ""),
           title="MnistCNN(depth=2) training speed per device")  # fmt: skip
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def merge(paths: list[Path]) -> dict[str, Any]:
    """Several ``devices.json`` files as one result."""
    result: dict[str, Any] = {"runs": [], "rows": []}
    for path in paths:
        part = json.loads(path.read_text())
        result["runs"] += part["runs"]
        result["rows"] += part["rows"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=mnist_root(), help="full MNIST folder (default: $NNKIT_DATA)"
    )
    parser.add_argument(
        "--sample", action="store_true", help="use the embedded 10,000-image sample instead"
    )
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the outputs")
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128, 512],
                        help="batch sizes of the step benchmark")  # fmt: skip
    parser.add_argument("--steps", type=int, default=50, help="steps per timing round")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds (median)")
    parser.add_argument("--no-epoch", action="store_true", help="skip the epoch benchmark")
    parser.add_argument(
        "--machine", default=None, help="name of this machine in the table (default: hostname)"
    )
    parser.add_argument("--merge", type=Path, nargs="+", default=None, metavar="JSON",
                        help="join these devices.json files instead of measuring")  # fmt: skip
    args = parser.parse_args()
    if args.steps < 1 or args.rounds < 1 or min(args.batches) < 1:
        parser.error("--steps, --rounds and --batches must be positive")
    if args.merge:
        missing = [str(p) for p in args.merge if not p.is_file()]
        if missing:
            parser.error(f"--merge: no such file: {', '.join(missing)}")
        result = merge(args.merge)
    else:
        if (
            not args.sample
            and not (args.data / "MNIST").exists()
            and not any(args.data.glob("train-images*"))
        ):
            parser.error(f"--data: no MNIST files in {args.data}; pass --data DIR or --sample")
        result = measure(args)
    args.out.mkdir(parents=True, exist_ok=True)
    result["rows"] = with_ratios(result["rows"])
    (args.out / "devices.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (args.out / "devices.md").write_text(table + "\n")
    chart(result).savefig(args.out / "devices.png", dpi=110)
    print(table)
    print(f"wrote devices.json, devices.md and devices.png to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
