from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nnkit.errors import DataFormatError, InvalidArgumentError
from nnkit.text import CharDataset, read_text, split_text


def test_targets_are_inputs_shifted_by_one() -> None:
    ids = torch.arange(100)
    for stride in (None, 1, 7):
        ds = CharDataset(ids, 10, stride=stride)
        for i in range(len(ds)):
            x, y = ds[i]
            assert x.shape == y.shape == (10,)
            assert torch.equal(y[:-1], x[1:]) and int(y[-1]) == int(x[-1]) + 1
    assert len(CharDataset(ids, 10)) == 9 and len(CharDataset(ids, 10, stride=1)) == 90


def test_windows_never_cross_pieces() -> None:
    ds = CharDataset([torch.arange(0, 12), torch.arange(100, 112)], 5, stride=1)
    for i in range(len(ds)):
        x, y = ds[i]
        window = torch.cat([x, y[-1:]])
        assert (window < 100).all() or (window >= 100).all()


@pytest.mark.parametrize("mode", ["interleaved", "tail"])
def test_split_is_disjoint_and_complete(mode: str) -> None:
    text = "".join(chr(0x4E00 + i) for i in range(1000))
    train, val = split_text(text, 0.2, mode=mode, blocks=5)  # type: ignore[arg-type]
    assert "".join(train + val).__len__() == 1000
    assert not set("".join(train)) & set("".join(val))
    assert abs(len("".join(val)) - 200) <= 5
    if mode == "interleaved":
        assert len(val) == 5 and text.index(val[0]) < text.index(val[-1])
    ds = CharDataset(torch.arange(1000), 8)
    tr, va = ds.split(0.2, mode=mode, blocks=5)  # type: ignore[arg-type]
    seen_train = {int(v) for i in range(len(tr)) for v in torch.cat(tr[i])}
    seen_val = {int(v) for i in range(len(va)) for v in torch.cat(va[i])}
    assert not seen_train & seen_val


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="non-empty text"):
        CharDataset(torch.zeros(0, dtype=torch.long), 4)
    with pytest.raises(ValueError, match=r"shorter than seq_len \+ 1 = 11"):
        CharDataset(torch.arange(10), 10)
    with pytest.raises(ValueError, match="seq_len must be a positive integer"):
        CharDataset(torch.arange(10), 0)
    with pytest.raises(ValueError, match="1-d int64"):
        CharDataset(torch.zeros(20), 4)
    with pytest.raises(ValueError, match="val_fraction"):
        split_text("abcdef", 1.5)
    (tmp_path / "sjis.txt").write_bytes("吾輩は猫".encode("shift_jis"))
    with pytest.raises(DataFormatError, match="is not UTF-8 text"):
        read_text(tmp_path / "sjis.txt")
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(DataFormatError, match="is empty"):
        read_text(tmp_path / "empty.txt")
    (tmp_path / "bom.txt").write_bytes("\ufeff吾輩".encode())
    assert read_text(tmp_path / "bom.txt") == "吾輩"


def test_a_text_too_short_to_split_says_how_long_it_must_be() -> None:
    with pytest.raises(InvalidArgumentError, match="at least 20 characters for an interleaved"):
        split_text("a")
    with pytest.raises(InvalidArgumentError, match="at least 2 characters for a tail split"):
        split_text("a", mode="tail")
