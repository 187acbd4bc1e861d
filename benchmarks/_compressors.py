"""Compressors as language-model baselines, scored on nnkit's split the way a model is.

A compressor that reads the training text and then the validation text spends
``|C(train + val)| - |C(train)|`` bytes on the validation text: what it learnt from the training
text, and what it adapts while reading, is all in that difference. In bits per validation
*character* (not byte: a Japanese character is three UTF-8 bytes):

    8 * (|C(train + val)| - |C(train)|) / len(val)

- **PPMd** (prediction by partial matching, Shkarin's variant H as 7-Zip uses it) through the
  ``pyppmd`` package, 256 MiB of model memory, at the order that scores best (searched over
  ``PPMD_ORDERS``, as the n-gram's order is searched);
- **zpaq** level 5 (libzpaq's strongest built-in context-mixing method, one block, as the
  ``zpaq -m5`` command line) through the ``zpaq`` package;
- **xz** ``-9e`` (LZMA), the everyday compressor, from Python's standard library.

``pyppmd`` and ``zpaq`` are not nnkit dependencies: ``pip install ".[bench]"``.
"""

from __future__ import annotations

import lzma
from collections.abc import Callable, Sequence

__all__ = ["PPMD_ORDERS", "compressor_scores", "lzma_bpc", "ppmd_bpc", "zpaq_bpc"]

PPMD_ORDERS = (4, 6, 8, 10, 12, 16)
_PPMD_MEMORY = 1 << 28


def _bpc(compress: Callable[[bytes], bytes], train: str, val: str) -> float:
    before = len(compress(train.encode("utf-8")))
    after = len(compress((train + val).encode("utf-8")))
    return 8 * (after - before) / len(val)


def ppmd_bpc(train: str, val: str, order: int) -> float:
    """PPMd variant H of ``order`` (``pyppmd.Ppmd7Encoder``)."""
    import pyppmd

    def compress(data: bytes) -> bytes:
        encoder = pyppmd.Ppmd7Encoder(order, _PPMD_MEMORY)
        return bytes(encoder.encode(data) + encoder.flush())

    return _bpc(compress, train, val)


def zpaq_bpc(train: str, val: str) -> float:
    """zpaq level 5 in one block (``threads=1``; more threads split the text into blocks)."""
    import zpaq

    return _bpc(lambda data: bytes(zpaq.compress(data, level=5, threads=1)), train, val)


def lzma_bpc(train: str, val: str) -> float:
    """xz ``-9e``."""
    return _bpc(lambda data: lzma.compress(data, preset=9 | lzma.PRESET_EXTREME), train, val)


def compressor_scores(
    train_pieces: Sequence[str], val_pieces: Sequence[str]
) -> dict[str, dict[str, float | int | None]]:
    """``{"ppmd": {"bpc", "order"}, "zpaq": {"bpc"}, "xz": {"bpc"}}``; a compressor whose
    package is missing has ``bpc`` None."""
    train, val = "".join(train_pieces), "".join(val_pieces)
    out: dict[str, dict[str, float | int | None]] = {}
    try:
        ppmd = {order: ppmd_bpc(train, val, order) for order in PPMD_ORDERS}
        best = min(ppmd, key=ppmd.__getitem__)
        out["ppmd"] = {"bpc": ppmd[best], "order": best}
    except ImportError:
        out["ppmd"] = {"bpc": None, "order": None}
    try:
        out["zpaq"] = {"bpc": zpaq_bpc(train, val)}
    except ImportError:
        out["zpaq"] = {"bpc": None}
    out["xz"] = {"bpc": lzma_bpc(train, val)}
    return out
