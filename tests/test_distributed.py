from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nnkit.data import TensorLoader
from nnkit.distributed import is_main_process, launched_by_torchrun, setup
from nnkit.history import History
from nnkit.models import MnistCNN
from nnkit.runtime import Runtime
from nnkit.train import fit

from ._dist_worker import data

WORKER = Path(__file__).with_name("_dist_worker.py")
ROOT = Path(__file__).resolve().parents[1]


def torchrun(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "OMP_NUM_THREADS": "1",
    }
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        *args,
    ]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=False
    )


@pytest.mark.parametrize("n", [1, 7, 31, 32, 33, 100, 201])
@pytest.mark.parametrize("world", [2, 3])
def test_shards_cover_every_sample_exactly_once(n: int, world: int) -> None:
    loaders = []
    for rank in range(world):
        loader = TensorLoader((torch.zeros(n, 1), torch.arange(n)), 16, shuffle=True, seed=5)
        loader.shard(rank, world)
        loaders.append(loader)
    for epoch in range(3):
        per_rank = []
        for loader in loaders:
            loader.set_epoch(epoch)
            per_rank.append([int(v) for _, y in loader for v in y])
        assert len({len(loader) for loader in loaders}) == 1  # same number of steps
        assert sorted(v for ids in per_rank for v in ids) == list(range(n))
    single = TensorLoader((torch.zeros(n, 1), torch.arange(n)), 16 * world, shuffle=True, seed=5)
    for loader in loaders:
        loader.set_epoch(0)
    together = [torch.cat([b[1] for b in batches]) for batches in zip(*loaders, strict=True)]
    assert [t.tolist() for t in together] == [y.tolist() for _, y in single]


def test_distributed_true_outside_torchrun_says_how_to_launch() -> None:
    assert not launched_by_torchrun() and is_main_process()
    with pytest.raises(ValueError, match="torchrun --standalone --nproc_per_node=2"):
        fit(MnistCNN(1), data(8), runtime=Runtime(distributed=True), device="cpu", progress=False)
    with pytest.raises(ValueError, match="distributed must be"):
        setup("yes", "cpu")  # type: ignore[arg-type]
    assert setup("auto", "cpu") is None


@pytest.mark.slow
def test_two_ranks_agree_and_match_one_process_with_the_global_batch(tmp_path: Path) -> None:
    result = torchrun(str(WORKER), "train", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    torch.manual_seed(0)
    single = MnistCNN(depth=1)
    history = fit(
        single,
        data(201),
        epochs=2,
        batch_size=32,
        optimizer="sgd",
        lr=0.05,
        seed=3,
        device="cpu",
        progress=False,
        runtime=Runtime(distributed=False),
    )
    for key, value in single.state_dict().items():
        torch.testing.assert_close(rank0[key], value, rtol=1e-4, atol=1e-5)
    reduced = History.from_json(tmp_path / "history.json")
    assert reduced.records[-1].train_loss == pytest.approx(history.records[-1].train_loss, rel=1e-4)
    assert reduced.records[-1].train_accuracy == pytest.approx(history.records[-1].train_accuracy)


@pytest.mark.slow
def test_each_epoch_visits_every_sample_once_across_ranks(tmp_path: Path) -> None:
    result = torchrun(str(WORKER), "coverage", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    seen = [json.loads((tmp_path / f"seen{r}.json").read_text()) for r in (0, 1)]
    for epoch in range(2):
        ids = seen[0][epoch] + seen[1][epoch]
        assert sorted(ids) == list(range(201))
        assert not set(seen[0][epoch]) & set(seen[1][epoch])
    assert seen[0][0] != seen[0][1]  # reshuffled every epoch
    budget = [json.loads((tmp_path / f"budget{r}.json").read_text()) for r in (0, 1)]
    for rank in budget:
        assert rank["steps"] == [1, 2, 3] and rank["stop"] == "max_steps"
        assert len(rank["ids"]) == 3 * 16
    assert not set(budget[0]["ids"]) & set(budget[1]["ids"])  # a Dataset, split between ranks


@pytest.mark.slow
def test_a_failing_rank_ends_the_run_quickly(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = torchrun(str(WORKER), "fail", str(tmp_path), timeout=120)
    assert result.returncode != 0
    assert "rank 1 fails on purpose" in result.stderr + result.stdout
    assert time.perf_counter() - started < 60


@pytest.mark.slow
def test_a_stalled_rank_ends_the_job_after_the_timeout_and_is_named(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = torchrun(str(WORKER), "stall", str(tmp_path), timeout=400)
    elapsed = time.perf_counter() - started
    log = (result.stdout + result.stderr)[-4000:]
    assert result.returncode != 0, log
    # rank 1 sleeps 600 s; with dist_timeout=10 the job ends long before that (10 s of
    # timeout, 10 s asking which rank answers, the start of three interpreters)
    assert elapsed < 150, (elapsed, log)
    assert (tmp_path / "timeout0.txt").exists(), log  # rank 0's fit raised
    message = (tmp_path / "timeout0.txt").read_text()
    assert message.startswith("DistributedTimeoutError: "), (message, log)
    assert "rank 0 waited more than 10 s" in message and "rank 1 stopped answering" in message


@pytest.mark.slow
def test_cli_runs_unchanged_under_torchrun(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = torchrun(
        "-m",
        "nnkit",
        "mnist",
        "--depth",
        "1",
        "--epochs",
        "1",
        "--quiet",
        "--device",
        "cpu",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("depth  channels") == 1  # only rank 0 prints
    study = json.loads(out.read_text())
    record = study["depths"]["1"]["runs"][0]["history"]["records"][0]
    assert record["val_accuracy"] > 0.8
