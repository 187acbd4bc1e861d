"""One optimizer's path on one surface, and its JSON round trip."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._atomic import atomic_write_text
from ..errors import DataFormatError

__all__ = ["Trajectory", "load_trajectories", "save_trajectories"]


@dataclass
class Trajectory:
    """The path of one optimizer on one surface.

    Attributes
    ----------
    optimizer : str
        Its name (``"adam"``, or the class name for a class).
    fn : str
        The surface's name.
    lr : float
        The learning rate used.
    points : numpy.ndarray
        ``(k + 1, 2)``: the start, then (x, y) after each of the ``k`` steps taken
        (``k == steps`` unless the run diverged).
    values : numpy.ndarray
        ``(k + 1,)``: f at each point.
    steps : int
        Steps asked for.
    settings : dict
        The optimizer's other keyword arguments.
    dtype : str
        ``"float32"`` or ``"float64"``.
    diverged : bool
        True when a coordinate or f became NaN or infinite; ``points`` ends at the last finite
        point.
    evaluations : int
        Number of times f was evaluated (LBFGS evaluates several times per step).
    tuned : bool
        True when ``lr`` was picked by :func:`tune_lr`.
    """

    optimizer: str
    fn: str
    lr: float
    points: np.ndarray
    values: np.ndarray
    steps: int
    settings: dict[str, Any] = field(default_factory=dict)
    dtype: str = "float32"
    diverged: bool = False
    evaluations: int = 0
    tuned: bool = False

    @property
    def start(self) -> tuple[float, float]:
        """The start point."""
        return float(self.points[0, 0]), float(self.points[0, 1])

    @property
    def end(self) -> tuple[float, float]:
        """The last (finite) point."""
        return float(self.points[-1, 0]), float(self.points[-1, 1])

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists of floats); :meth:`from_dict` reverses it exactly."""
        return {
            "optimizer": self.optimizer,
            "fn": self.fn,
            "lr": self.lr,
            "steps": self.steps,
            "settings": self.settings,
            "dtype": self.dtype,
            "diverged": self.diverged,
            "evaluations": self.evaluations,
            "tuned": self.tuned,
            "points": self.points.tolist(),
            "values": self.values.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trajectory:
        """Rebuild from :meth:`to_dict`'s output."""
        dtype = np.float64 if data.get("dtype") == "float64" else np.float32
        try:
            return cls(
                optimizer=str(data["optimizer"]),
                fn=str(data["fn"]),
                lr=float(data["lr"]),
                points=np.asarray(data["points"], dtype=dtype).reshape(-1, 2),
                values=np.asarray(data["values"], dtype=dtype),
                steps=int(data["steps"]),
                settings=dict(data.get("settings", {})),
                dtype=str(data.get("dtype", "float32")),
                diverged=bool(data.get("diverged", False)),
                evaluations=int(data.get("evaluations", 0)),
                tuned=bool(data.get("tuned", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(f"not a Trajectory dictionary: {exc}") from exc


def save_trajectories(
    trajectories: Mapping[str, Trajectory], path: str | os.PathLike[str] | None = None
) -> str:
    """Trajectories as JSON text, also written atomically to ``path`` when given."""
    text = json.dumps({k: t.to_dict() for k, t in trajectories.items()}, indent=1)
    if path is not None:
        atomic_write_text(path, text + "\n")
    return text


def load_trajectories(source: str | os.PathLike[str]) -> dict[str, Trajectory]:
    """Read what :func:`save_trajectories` wrote (JSON text or a path).

    Examples
    --------
    >>> from nnkit.optim_viz import compare
    >>> paths = compare(("sgd", "adam"), steps=5)
    >>> back = load_trajectories(save_trajectories(paths))
    >>> bool((back["adam"].points == paths["adam"].points).all())
    True
    """
    text = str(source)
    if not text.lstrip().startswith("{"):
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    data = json.loads(text)
    if not isinstance(data, dict):
        raise DataFormatError("trajectory JSON must be an object of name -> trajectory")
    return {k: Trajectory.from_dict(v) for k, v in data.items()}
