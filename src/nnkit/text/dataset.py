"""Next-character prediction data: windows over the corpus, and leak-free splits."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import Dataset

from .._validate import positive_int
from ..errors import DataFormatError, InvalidArgumentError

__all__ = ["CharDataset", "read_text", "split_text"]


def read_text(path: str | os.PathLike[str]) -> str:
    """Read a UTF-8 text file; a file that is not UTF-8 or is empty raises a clear error.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
    >>> _ = p.write_bytes(b"\\xff\\xfe")
    >>> read_text(p)
    Traceback (most recent call last):
    ...
    nnkit.errors.DataFormatError: ... is not UTF-8 text (invalid byte at offset 0); ...
    """
    p = Path(path)
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFormatError(
            f"{p} is not UTF-8 text (invalid byte at offset {exc.start}); convert it first, "
            f"e.g. iconv -f SHIFT_JIS -t UTF-8"
        ) from None
    if not text:
        raise DataFormatError(f"{p} is empty; a corpus needs at least one character")
    return text


def split_text(
    text: str,
    val_fraction: float = 0.1,
    *,
    mode: Literal["interleaved", "tail"] = "interleaved",
    blocks: int = 10,
) -> tuple[list[str], list[str]]:
    """Cut a text into training and validation pieces that never share a character.

    ``"tail"`` keeps the last ``val_fraction`` for validation. ``"interleaved"`` cuts the text
    into ``blocks`` equal blocks and keeps the last ``val_fraction`` of each, so validation
    samples the whole corpus (a book's licence text at the end, or a change of style in its
    second half, does not end up all on one side).

    Returns
    -------
    tuple of list of str
        ``(training pieces, validation pieces)``: training pieces and validation pieces, in text
        order. A model never sees a window that
        crosses from one piece into another, so nothing leaks across the boundary.

    Examples
    --------
    >>> split_text("abcdefghij" * 2, 0.2, blocks=2)
    (['abcdefgh', 'abcdefgh'], ['ij', 'ij'])
    """
    cuts = _cuts(len(text), val_fraction, mode, blocks)
    return [text[a:b] for a, b, _ in cuts], [text[b:c] for _, b, c in cuts]


def _cuts(length: int, val_fraction: float, mode: str, blocks: int) -> list[tuple[int, int, int]]:
    """(start, first validation position, end) of each block."""
    if not 0.0 < val_fraction < 1.0:
        raise InvalidArgumentError(
            f"val_fraction must be between 0 and 1, got {val_fraction}", parameter="val_fraction"
        )
    if mode not in ("interleaved", "tail"):
        raise InvalidArgumentError(
            f"mode must be 'interleaved' or 'tail', got {mode!r}", parameter="mode"
        )
    n_blocks = 1 if mode == "tail" else positive_int(blocks, "blocks")
    if length < 2 * n_blocks:
        split = "a tail split" if mode == "tail" else f"an interleaved split into {n_blocks} blocks"
        raise InvalidArgumentError(
            f"text must hold at least {2 * n_blocks} characters for {split} (each block keeps "
            f"at least one for training and one for validation), got {length}",
            parameter="text",
        )
    edges = [round(i * length / n_blocks) for i in range(n_blocks + 1)]
    return [
        (start, end - max(1, round((end - start) * val_fraction)), end)
        for start, end in itertools.pairwise(edges)
    ]


class CharDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Windows for next-character prediction: input ``ids[i:i+T]``, target ``ids[i+1:i+T+1]``.

    Parameters
    ----------
    ids : torch.Tensor or sequence of torch.Tensor
        Encoded text (1-d int64), or several pieces; a window never crosses from one piece into
        the next.
    seq_len : int
        Window length T.
    stride : int, optional
        Distance between window starts; ``seq_len`` (non-overlapping) by default, 1 for every
        position.

    Examples
    --------
    >>> ds = CharDataset(torch.arange(10), 4)
    >>> len(ds), ds[0]
    (2, (tensor([0, 1, 2, 3]), tensor([1, 2, 3, 4])))
    """

    def __init__(
        self, ids: torch.Tensor | Sequence[torch.Tensor], seq_len: int, *, stride: int | None = None
    ) -> None:
        pieces = [ids] if isinstance(ids, torch.Tensor) else list(ids)
        if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1:
            raise InvalidArgumentError(
                f"seq_len must be a positive integer, got {seq_len!r}", parameter="seq_len"
            )
        stride = seq_len if stride is None else stride
        if stride < 1:
            raise InvalidArgumentError(
                f"stride must be a positive integer, got {stride}", parameter="stride"
            )
        if not pieces or sum(p.numel() for p in pieces) == 0:
            raise InvalidArgumentError("CharDataset needs non-empty text")
        for p in pieces:
            if p.dim() != 1 or p.dtype != torch.long:
                raise InvalidArgumentError(
                    f"ids must be 1-d int64 tensors, got {p.dtype} {tuple(p.shape)}",
                    parameter="ids",
                )
        longest = max(p.numel() for p in pieces)
        if longest < seq_len + 1:
            raise InvalidArgumentError(
                f"text of {longest} characters is shorter than seq_len + 1 = {seq_len + 1}; "
                "use a shorter seq_len or more text"
            )
        self.pieces = pieces
        self.seq_len = seq_len
        self.stride = stride
        self.index: list[tuple[int, int]] = [
            (k, start)
            for k, p in enumerate(pieces)
            for start in range(0, p.numel() - seq_len, stride)
        ]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        k, start = self.index[i]
        window = self.pieces[k][start : start + self.seq_len + 1]
        return window[:-1], window[1:]

    def split(
        self,
        val_fraction: float = 0.1,
        *,
        mode: Literal["interleaved", "tail"] = "interleaved",
        blocks: int = 10,
    ) -> tuple[CharDataset, CharDataset]:
        """Training and validation datasets from disjoint pieces (see :func:`split_text`)."""
        flat = torch.cat(self.pieces)
        cuts = _cuts(flat.numel(), val_fraction, mode, blocks)
        train = [flat[a:b] for a, b, _ in cuts]
        val = [flat[b:c] for _, b, c in cuts]
        return (
            CharDataset(train, self.seq_len, stride=self.stride),
            CharDataset(val, self.seq_len, stride=self.stride),
        )
