"""The character vocabulary, built from the corpus itself."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import torch

from .._atomic import atomic_write_text
from ..errors import DataFormatError, InvalidArgumentError

__all__ = ["Vocab"]


class Vocab:
    """Characters <-> ids, built from the text it will encode.

    Unlike the notes' ``string.ascii_letters + " .,;'-"``, the vocabulary is whatever the corpus
    contains, so Japanese with thousands of distinct characters works like English.

    Policy for characters not in the vocabulary: the ``unknown`` character (U+FFFD, the
    replacement character, by default) always has id 0, and :meth:`encode` maps every unknown
    character to it (``errors="replace"``), or raises a ``ValueError`` naming the character
    (``errors="strict"``). :meth:`decode` turns id 0 back into ``unknown``.

    Parameters
    ----------
    chars : sequence of str
        The known characters, each once, without ``unknown``; ids are 1, 2, ... in this order.
    unknown : str
        One character standing for everything else.

    Examples
    --------
    >>> v = Vocab.from_text("今日は晴れです。")
    >>> len(v), v.decode(v.encode("晴れ")), v.decode(v.encode("雨"))
    (9, '晴れ', '\ufffd')
    """

    def __init__(self, chars: Sequence[str], *, unknown: str = "\ufffd") -> None:
        if len(unknown) != 1:
            raise InvalidArgumentError(
                f"unknown must be a single character, got {unknown!r}", parameter="unknown"
            )
        chars = list(chars)
        if any(len(c) != 1 for c in chars):
            raise InvalidArgumentError("every vocabulary entry must be a single character")
        if len(set(chars)) != len(chars) or unknown in chars:
            raise InvalidArgumentError(
                "vocabulary characters must be distinct and must not include unknown"
            )
        self.unknown = unknown
        self.chars: list[str] = [unknown, *chars]
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(
        cls, text: str | Iterable[str], *, min_count: int = 1, unknown: str = "\ufffd"
    ) -> Vocab:
        """Every character that occurs at least ``min_count`` times, most frequent first.

        Ties are broken by code point, so the same text always gives the same ids.
        """
        if min_count < 1:
            raise InvalidArgumentError(
                f"min_count must be at least 1, got {min_count}", parameter="min_count"
            )
        counts = Counter(text) if isinstance(text, str) else Counter(c for t in text for c in t)
        counts.pop(unknown, None)
        if not counts:
            raise InvalidArgumentError("cannot build a vocabulary from empty text")
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return cls([c for c, n in ranked if n >= min_count], unknown=unknown)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return isinstance(char, str) and char in self.stoi and char != self.unknown

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.chars == other.chars

    def __hash__(self) -> int:
        return hash(tuple(self.chars))

    def __repr__(self) -> str:
        preview = "".join(self.chars[1:21])
        return f"Vocab(size={len(self)}, chars={preview!r}{'...' if len(self) > 21 else ''})"

    def encode(
        self, text: str, *, errors: Literal["replace", "strict"] = "replace"
    ) -> torch.Tensor:
        """The ids of ``text`` as an int64 tensor of shape ``(len(text),)``."""
        if errors == "strict":
            missing = sorted({c for c in text if c not in self.stoi})
            if missing:
                raise InvalidArgumentError(
                    f"characters not in the vocabulary: {''.join(missing)!r} "
                    f"(the vocabulary has {len(self)} characters)"
                )
        elif errors != "replace":
            raise InvalidArgumentError(
                f"errors must be 'replace' or 'strict', got {errors!r}", parameter="errors"
            )
        get = self.stoi.get
        return torch.tensor([get(c, 0) for c in text], dtype=torch.long)

    def unknown_share(self, text: str) -> float:
        """The share of ``text``'s characters outside the vocabulary, which :meth:`encode`
        maps to the unknown id (0.0 for an empty text).

        Examples
        --------
        >>> Vocab.from_text("abc").unknown_share("abxy")
        0.5
        """
        if not text:
            return 0.0
        known = self.stoi
        outside = sum(1 for c in text if c not in known or c == self.unknown)
        return outside / len(text)

    def decode(self, ids: torch.Tensor | Iterable[int]) -> str:
        """The text of ``ids`` (a 1-d tensor or any iterable of ints)."""
        values = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        try:
            return "".join(self.chars[i] for i in values)
        except (IndexError, TypeError):
            raise InvalidArgumentError(
                f"ids must be integers in [0, {len(self)})", parameter="ids"
            ) from None

    def to_dict(self) -> dict[str, object]:
        """Plain data: ``{"chars": [...], "unknown": ...}`` (without the unknown entry)."""
        return {"chars": self.chars[1:], "unknown": self.unknown}

    @classmethod
    def from_dict(cls, data: object) -> Vocab:
        if not isinstance(data, dict):
            raise DataFormatError(f"not a Vocab dictionary: got a {type(data).__name__}")
        chars, unknown = data.get("chars"), data.get("unknown", "\ufffd")
        if not isinstance(chars, list) or not isinstance(unknown, str):
            raise DataFormatError("not a Vocab dictionary: needs 'chars' (a list) and 'unknown'")
        if not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise DataFormatError("not a Vocab dictionary: 'chars' must be single characters")
        return cls(chars, unknown=unknown)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary as UTF-8 JSON, atomically."""
        atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocab:
        """Read a vocabulary written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
