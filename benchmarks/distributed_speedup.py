"""Training throughput of one process against several under torchrun, side by side.

Usage::

    python benchmarks/distributed_speedup.py [--procs 1 2] [--epochs 2] [--batch-size 64]
                                             [--data DIR] [--device cpu]

Launches ``torchrun --standalone --nproc_per_node=P`` for each P, each rank with
``OMP_NUM_THREADS = cores // P`` (so the runs share the same cores), trains
``MnistCNN(depth=2)`` with the global batch ``batch_size`` (``batch_size / P`` per rank) and
reports the best epoch's samples per second (the first epoch is a warm-up) and the speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    from ._paths import mnist_root
except ImportError:  # run as a script (and as torchrun's worker)
    from _paths import mnist_root  # type: ignore[no-redef]

DEFAULT = mnist_root()


def worker(out: Path, data: Path, epochs: int, global_batch: int, device: str) -> None:
    import torch

    from nnkit.data import load_mnist, load_mnist_sample
    from nnkit.distributed import teardown, world_size
    from nnkit.models import MnistCNN
    from nnkit.train import fit

    train = load_mnist_sample() if str(data) == "sample" else load_mnist(data)
    torch.manual_seed(0)
    history = fit(
        MnistCNN(depth=2),
        train,
        epochs=epochs,
        batch_size=global_batch // world_size(),
        seed=0,
        device=device,
        progress=False,
    )
    if int(os.environ.get("RANK", "0")) == 0:
        out.write_text(history.to_json())
    teardown(wait_for_peers=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--procs", type=int, nargs="+", default=[1, 2], help="process counts to compare"
    )
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (first: warm-up)")
    parser.add_argument("--batch-size", type=int, default=64, help="global batch size")
    parser.add_argument(
        "--data", type=Path, default=DEFAULT, help="full MNIST folder (default: $NNKIT_DATA)"
    )
    parser.add_argument(
        "--sample", action="store_true", help="use the embedded 10,000-image sample instead"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (one GPU per rank)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows as JSON")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is None and not args.sample and not (args.data / "MNIST").exists():
        parser.error(f"--data: no MNIST files in {args.data}; pass --data DIR or --sample")
    if args.sample:
        args.data = Path("sample")
    if args.worker is not None:
        worker(args.worker, args.data, args.epochs, args.batch_size, args.device)
        return
    cores = os.cpu_count() or 1
    rows = []
    for procs in args.procs:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "history.json"
            env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // procs))}
            cmd = [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                f"--nproc_per_node={procs}",
                __file__,
                "--worker",
                str(out),
                "--epochs",
                str(args.epochs),
                "--batch-size",
                str(args.batch_size),
                "--data",
                str(args.data),
                "--device",
                args.device,
            ]
            subprocess.run(cmd, check=True, env=env)
            records = json.loads(out.read_text())["records"]
        rate = max(r["samples_per_second"] for r in records[1:] or records)
        rows.append(
            {
                "processes": procs,
                "threads_per_process": max(1, cores // procs),
                "samples_per_second": rate,
                "final_train_loss": records[-1]["train_loss"],
            }
        )
    base = rows[0]["samples_per_second"]
    print(f"{'processes':>9} {'threads':>7} {'samples/s':>10} {'speed-up':>8}")
    for r in rows:
        r["speedup"] = r["samples_per_second"] / base
        print(
            f"{r['processes']:>9} {r['threads_per_process']:>7} {r['samples_per_second']:>10,.0f}"
            f" {r['speedup']:>7.2f}x"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
