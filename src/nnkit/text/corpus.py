"""What a saved character model knows about the text it was trained on."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

from .._validate import in_interval, one_of
from ..errors import DataFormatError
from .dataset import split_text

__all__ = ["CorpusInfo"]

SplitMode = Literal["interleaved", "tail"]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CorpusInfo:
    """The training corpus of a model, by digest, and how it was split.

    Saved with the model (:func:`~nnkit.text.save`), so that scoring the same file again
    (``nnkit text eval``) can score the held-out validation split instead of text the model
    was trained on.

    Attributes
    ----------
    sha256 : str
        SHA-256 of the corpus as UTF-8.
    characters : int
        Its length in characters.
    val_fraction : float
        The validation share given to :func:`~nnkit.text.split_text`.
    split : {"interleaved", "tail"}
        The split mode.

    Examples
    --------
    >>> info = CorpusInfo.from_text("abcdefghij" * 10, val_fraction=0.1)
    >>> info.matches("abcdefghij" * 10), info.matches("something else")
    (True, False)
    >>> info.validation_text("abcdefghij" * 10)
    'jjjjjjjjjj'
    """

    sha256: str
    characters: int
    val_fraction: float = 0.1
    split: SplitMode = "interleaved"

    @classmethod
    def from_text(
        cls, text: str, *, val_fraction: float = 0.1, split: SplitMode = "interleaved"
    ) -> CorpusInfo:
        """The info of ``text`` split as :func:`~nnkit.text.train` splits it."""
        in_interval(val_fraction, "val_fraction", 0.0, 1.0, closed="()")
        one_of(split, "split", ("interleaved", "tail"))
        return cls(_digest(text), len(text), float(val_fraction), split)

    def matches(self, text: str) -> bool:
        """Whether ``text`` is this corpus."""
        return len(text) == self.characters and _digest(text) == self.sha256

    def validation_text(self, text: str) -> str:
        """The validation pieces of ``text``, joined (as training validated on them)."""
        return "".join(split_text(text, self.val_fraction, mode=self.split)[1])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CorpusInfo:
        try:
            info = cls(
                str(data["sha256"]),
                int(data["characters"]),
                float(data["val_fraction"]),
                cast(SplitMode, str(data["split"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(f"not a corpus description ({exc})") from None
        if info.split not in ("interleaved", "tail") or not 0.0 < info.val_fraction < 1.0:
            raise DataFormatError(f"not a corpus description: {data!r:.100}")
        return info
