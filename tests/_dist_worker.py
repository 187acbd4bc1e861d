"""Scenarios run under ``torchrun --nproc_per_node=2`` by ``tests/test_distributed.py``.

Usage: ``torchrun --standalone --nproc_per_node=2 tests/_dist_worker.py SCENARIO OUTDIR``.
Each rank writes what it saw into OUTDIR; the test reads it back.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from nnkit.callbacks import Callback, TrainState
from nnkit.data import load_mnist_sample
from nnkit.distributed import teardown
from nnkit.models import MnistCNN
from nnkit.runtime import Runtime
from nnkit.train import fit
from tests._data import PairDataset


def data(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_mnist_sample(train=False)
    return ds.images[:n].unsqueeze(1).float() / 255, ds.labels[:n]


class StallAt(Callback):
    """Rank 1 stops answering (a pause of ten minutes, not a crash) at step 3."""

    def on_batch_end(self, state: TrainState) -> None:
        if state.step == 3 and int(os.environ["RANK"]) == 1:
            time.sleep(600)


class FailAt(Callback):
    def on_batch_end(self, state: TrainState) -> None:
        if state.step == 3 and int(os.environ["RANK"]) == 1:
            raise RuntimeError("rank 1 fails on purpose")


def main() -> None:
    scenario, out = sys.argv[1], Path(sys.argv[2])
    rank = int(os.environ["RANK"])
    seen: list[list[int]] = []

    def recording_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        seen[-1].extend(targets.tolist())  # the targets are sample ids; the class is id % 10
        return torch.nn.functional.cross_entropy(outputs, targets % 10)

    class NewEpoch(Callback):
        def on_epoch_begin(self, state: TrainState) -> None:
            seen.append([])

    x, y = data(201)
    ids = torch.arange(201)
    torch.manual_seed(0)
    model = MnistCNN(depth=1)
    if scenario == "train":
        history = fit(
            model,
            (x, y),
            epochs=2,
            batch_size=16,
            optimizer="sgd",
            lr=0.05,
            seed=3,
            device="cpu",
            progress=False,
            runtime=Runtime(distributed=True),
        )
        torch.save(model.state_dict(), out / f"rank{rank}.pt")
        if rank == 0:
            (out / "history.json").write_text(history.to_json())
    elif scenario == "coverage":
        recording: dict[str, Any] = {  # ids as labels; the loss records which ids each rank saw
            "batch_size": 16,
            "optimizer": "sgd",
            "lr": 1e-9,
            "device": "cpu",
            "progress": False,
            "runtime": Runtime(distributed=True),
            "loss": recording_loss,
        }
        fit(model, (x, ids), epochs=2, seed=3, callbacks=[NewEpoch()], **recording)
        (out / f"seen{rank}.json").write_text(json.dumps(seen))
        # a map-style Dataset is split between the ranks too, and a step budget that ends
        # between two synchronisations stops every rank at the same step
        seen.clear()
        steps: list[int] = []

        class Steps(Callback):
            def on_batch_end(self, state: TrainState) -> None:
                steps.append(state.global_step)

        history = fit(model, PairDataset(x, ids), max_steps=3, seed=4,
                      callbacks=[NewEpoch(), Steps()], **recording)  # fmt: skip
        result = {"steps": steps, "ids": seen[0], "stop": history.stop_reason}
        (out / f"budget{rank}.json").write_text(json.dumps(result))
    elif scenario == "stall":
        try:
            fit(
                model,
                (x, y),
                epochs=5,
                batch_size=4,
                device="cpu",
                progress=False,
                runtime=Runtime(distributed=True, dist_timeout=10),  # a busy machine lags far less
                callbacks=[StallAt()],
            )
        except Exception as exc:  # whatever it is, the test shows it
            (out / f"timeout{rank}.txt").write_text(f"{type(exc).__name__}: {exc}")
            raise
    elif scenario == "fail":
        fit(
            model,
            (x, y),
            epochs=50,
            batch_size=4,
            device="cpu",
            progress=False,
            runtime=Runtime(distributed=True),
            callbacks=[FailAt()],
        )
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    teardown(wait_for_peers=True)


if __name__ == "__main__":
    main()
