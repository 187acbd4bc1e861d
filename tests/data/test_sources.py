from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from nnkit.data import (
    BatchSource,
    DatasetSource,
    IterableSource,
    LoaderSource,
    TensorLoader,
    make_source,
)
from nnkit.errors import InvalidArgumentError
from nnkit.text import StreamBatches

CPU = torch.device("cpu")


class Ids(Dataset[tuple[torch.Tensor, int]]):
    """Sample i is (a feature vector, i): the targets say which samples a batch holds."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.full((2,), float(i)), i


def ids(source: BatchSource) -> list[int]:
    return [int(v) for _, y in source for v in y]


def test_every_source_is_a_batch_source() -> None:
    x, y = torch.zeros(10, 2), torch.arange(10)
    for source in (
        TensorLoader((x, y), 4),
        DatasetSource(Ids(10), batch_size=4, seed=0),
        LoaderSource(DataLoader(Ids(10), batch_size=4)),
        IterableSource([(x, y)]),
        StreamBatches(torch.arange(40), batch_size=2, seq_len=4),
    ):
        assert isinstance(source, BatchSource)
        assert isinstance(source.state_dict(), dict)


def test_make_source_picks_the_right_adapter() -> None:
    x, y = torch.zeros(10, 2), torch.arange(10)

    def kind(data: object) -> str:
        return type(make_source(data, batch_size=4, shuffle=True, seed=0, device=CPU)).__name__  # type: ignore[arg-type]

    assert kind((x, y)) == kind(TensorDataset(x, y)) == "TensorLoader"
    assert kind(Ids(10)) == "DatasetSource"
    assert kind(DataLoader(Ids(10), batch_size=4)) == "LoaderSource"
    assert kind([(x, y)]) == "IterableSource"
    stream = StreamBatches(torch.arange(40), batch_size=2, seq_len=4)
    assert make_source(stream, batch_size=4, shuffle=True, seed=0, device=CPU) is stream
    with pytest.raises(InvalidArgumentError, match="one-shot iterator"):
        make_source(iter([(x, y)]), batch_size=4, shuffle=True, seed=0, device=CPU)
    with pytest.raises(TypeError, match="data must be a Dataset"):
        make_source(42, batch_size=4, shuffle=True, seed=0, device=CPU)  # type: ignore[arg-type]


def test_dataset_source_orders_depend_on_seed_and_epoch_only() -> None:
    a = DatasetSource(Ids(50), batch_size=8, seed=3)
    b = DatasetSource(Ids(50), batch_size=8, seed=3)
    first, second = ids(a), ids(a)
    assert sorted(first) == sorted(second) == list(range(50)) and first != second
    b.set_epoch(1)
    assert ids(b) == second
    assert len(a) == 7 and a.num_samples == 50
    # state_dict/load_state_dict: a fresh source with a random seed replays the same epochs
    c = DatasetSource(Ids(50), batch_size=8)
    state = c.state_dict()
    expected = ids(c)
    d = DatasetSource(Ids(50), batch_size=8)
    d.load_state_dict(state)
    assert ids(d) == expected


def test_dataset_source_shards_every_global_batch() -> None:
    ranks = [DatasetSource(Ids(45), batch_size=8, seed=1) for _ in range(2)]
    for rank, source in enumerate(ranks):
        source.shard(rank, 2)
    per_rank = [[y.tolist() for _, y in source] for source in ranks]
    counts = [source.global_count for source in ranks]
    assert len(per_rank[0]) == len(per_rank[1]) == len(ranks[0]) == 3
    together = sorted(v for batches in per_rank for batch in batches for v in batch)
    assert together == list(range(45))
    assert counts == [45 - 32, 45 - 32]  # the last global batch holds 13 samples
    assert [len(b) for b in per_rank[0]] == [8, 8, 7] and [len(b) for b in per_rank[1]] == [8, 8, 6]


def test_loader_source_saves_and_restores_its_generator() -> None:
    def loader(seed: int) -> DataLoader[tuple[torch.Tensor, int]]:
        return DataLoader(
            Ids(30), batch_size=7, shuffle=True, generator=torch.Generator().manual_seed(seed)
        )

    a = LoaderSource(loader(1))
    ids(a)  # an epoch advances the generator
    state = a.state_dict()
    expected = ids(a)
    b = LoaderSource(loader(99))
    b.load_state_dict(state)
    assert ids(b) == expected
    with pytest.raises(InvalidArgumentError, match="holds 1"):
        LoaderSource(DataLoader(Ids(3))).load_state_dict(state)


def test_loader_source_shards_only_through_a_distributed_sampler() -> None:
    with pytest.raises(InvalidArgumentError, match="pass the Dataset itself"):
        LoaderSource(DataLoader(Ids(10), batch_size=2)).shard(0, 2)
    sampler = DistributedSampler(Ids(10), num_replicas=2, rank=1, shuffle=True, seed=0)
    source = LoaderSource(DataLoader(Ids(10), batch_size=2, sampler=sampler))
    source.shard(1, 2)
    source.set_epoch(3)
    assert sampler.epoch == 3
    with pytest.raises(InvalidArgumentError, match="for rank 1 of 2"):
        source.shard(0, 2)


def test_iterable_source_is_used_as_is_and_cannot_be_split() -> None:
    batches = [(torch.zeros(2, 1), torch.tensor([0, 1])), (torch.zeros(1, 1), torch.tensor([2]))]
    source = IterableSource(batches)
    assert ids(source) == [0, 1, 2] and len(source) == 2 and source.num_samples is None
    with pytest.raises(InvalidArgumentError, match="split between ranks"):
        source.shard(0, 2)
    with pytest.raises(InvalidArgumentError, match=r"\(inputs, targets\) pair of tensors"):
        list(IterableSource([(torch.zeros(1),)]))


def test_tensor_loader_state_round_trip() -> None:
    loader = TensorLoader((torch.zeros(20, 1), torch.arange(20)), 6, shuffle=True)
    ids(loader)
    state = loader.state_dict()
    expected = ids(loader)
    other = TensorLoader((torch.zeros(20, 1), torch.arange(20)), 6, shuffle=True)
    other.load_state_dict(state)
    assert ids(other) == expected
