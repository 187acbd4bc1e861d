"""The exceptions nnkit raises.

Every nnkit error derives from :class:`NnkitError`, so ``except nnkit.errors.NnkitError`` catches
all of them. Where an error is also a classic Python error (a bad file is a ``ValueError``, a
missing file a ``FileNotFoundError``), it derives from that too, so existing handlers keep working.
A bad argument raises :class:`InvalidArgumentError`, which is both a ``ValueError`` and a
``TypeError`` (as scikit-learn's ``InvalidParameterError``), and names the parameter.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ChecksumError",
    "DataFormatError",
    "DataNotFoundError",
    "DistributedTimeoutError",
    "DownloadError",
    "EmptyHistoryError",
    "InvalidArgumentError",
    "MissingDependencyError",
    "NnkitError",
    "TrainingDivergedError",
    "VocabularyMismatchError",
]


class NnkitError(Exception):
    """Base class of every exception raised by nnkit."""


class InvalidArgumentError(NnkitError, ValueError, TypeError):
    """An argument has the wrong type or value.

    Both a ``ValueError`` and a ``TypeError``, so handlers written for either catch it. The
    message says what was expected and what was given.

    Attributes
    ----------
    parameter : str or None
        The name of the offending parameter (``"lr"``, ``"batch_size"``...), when there is one;
        the command line uses it to name the flag.

    Examples
    --------
    >>> err = InvalidArgumentError("lr must be positive, got -1", parameter="lr")
    >>> isinstance(err, ValueError) and isinstance(err, TypeError), err.parameter
    (True, 'lr')
    """

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_argument_error, (str(self), self.parameter))


def _rebuild_argument_error(message: str, parameter: str | None) -> InvalidArgumentError:
    return InvalidArgumentError(message, parameter=parameter)


class DataFormatError(NnkitError, ValueError):
    """A data file is not what its format promises (bad magic, truncated, inconsistent sizes)."""


class ChecksumError(DataFormatError):
    """A file's SHA-256 digest differs from the published one."""


class VocabularyMismatchError(NnkitError, ValueError):
    """A text lies largely outside a model's vocabulary, so its score would say little."""


class DataNotFoundError(NnkitError, FileNotFoundError):
    """Data files were looked for and not found.

    ``missing`` names the first file not found and ``looked`` the paths tried for it, so that a
    front end (the CLI) can word its own advice.
    """

    def __init__(self, message: str, *, missing: str = "", looked: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing
        self.looked = looked


class DownloadError(NnkitError, OSError):
    """Downloading data failed (no network, every mirror refused, or a bad digest)."""


class CheckpointError(NnkitError, ValueError):
    """A checkpoint file is missing, unreadable or does not match the model being trained."""


class DistributedTimeoutError(NnkitError, RuntimeError):
    """A rank of a torchrun job waited longer than ``Runtime(dist_timeout=...)`` for the others.

    Attributes
    ----------
    rank : int
        The rank that raised it (it was waiting).
    missing : str
        Which rank stopped answering, in words, as the ranks found out after the timeout.
    """

    def __init__(self, message: str, *, rank: int, missing: str) -> None:
        super().__init__(message)
        self.rank = rank
        self.missing = missing

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_timeout_error, (str(self), self.rank, self.missing))


def _rebuild_timeout_error(message: str, rank: int, missing: str) -> DistributedTimeoutError:
    return DistributedTimeoutError(message, rank=rank, missing=missing)


class MissingDependencyError(NnkitError, ImportError):
    """An optional package that a feature needs is not installed (the message says how to
    install it)."""


class EmptyHistoryError(NnkitError, IndexError):
    """A :class:`~nnkit.history.History` has no epoch to give (``history.last`` before the
    first epoch ended, for instance after a Ctrl-C during it)."""


class TrainingDivergedError(NnkitError, FloatingPointError):
    """The training loss became NaN or infinite.

    Attributes
    ----------
    epoch : int
        The epoch (1-based) in which the loss stopped being finite.
    step : int
        The batch index (1-based, within that epoch) of the first non-finite loss.
    loss : float
        The offending loss value.
    """

    def __init__(self, epoch: int, step: int, loss: float) -> None:
        self.epoch = epoch
        self.step = step
        self.loss = loss
        super().__init__(
            f"training diverged: loss is {loss} at epoch {epoch}, step {step}; "
            "try a smaller learning rate or gradient clipping (grad_clip=1.0)"
        )
