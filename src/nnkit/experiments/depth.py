"""The notes' question, how MNIST accuracy changes with the depth of the CNN, answered with
several seeds per depth, the spread between them, and the parameter counts in view.

:func:`~nnkit.experiments.compare_depths` trains one :class:`~nnkit.models.MnistCNN` per depth and
seed; the
:class:`DepthStudy` it returns keeps every run's history and gives, per depth and epoch, the
mean, standard deviation, minimum and maximum over the seeds, and for each pair of depths the
paired difference of the last-epoch accuracies with a 95% interval
(:class:`PairedDifference`). ``nnkit.experiments.depth_report`` turns a study into a table,
sentences and a figure.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from tqdm.auto import tqdm

from .._budget import Budget
from .._progress import resolve_progress
from .._validate import at_most, boolean, fail, non_negative_int, positive_int
from ..data import DataLike, load_mnist_sample
from ..history import History
from ..models import MnistCNN
from ..models.mnist import DEFAULT_CHANNELS
from ..recipes import Recipe, RecipeName
from ..recipes import recipe as recipe_for
from ..runtime import Runtime
from ..seeding import seed_everything
from ..summary import summary
from ..train import ProgressArg, fit

__all__ = [
    "DepthStudy",
    "PairedDifference",
    "Spread",
    "compare_depths",
    "matched_channels",
    "t_quantile",
]

#: The most seeds one study trains per depth.
MAX_SEEDS = 1000

#: Two-sided 95% quantiles of Student's t for 1 to 30 degrees of freedom.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (a table to 30, then
    the Cornish-Fisher expansion, within 0.001 of the exact value).

    Examples
    --------
    >>> t_quantile(4), round(t_quantile(60), 3)
    (2.776, 2.0)
    """
    positive_int(df, "df")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation, minimum and maximum of ``n`` values.

    Examples
    --------
    >>> s = Spread.of([0.98, 0.99, 1.0])
    >>> round(s.mean, 4), round(s.std, 4), s.min, s.max, s.n
    (0.99, 0.01, 0.98, 1.0, 3)
    """

    mean: float
    std: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of ``values`` (std 0 for a single value)."""
        if not values:
            raise fail("values", "a spread needs at least one value")
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return cls(statistics.fmean(values), std, min(values), max(values), len(values))


@dataclass(frozen=True)
class PairedDifference:
    """The difference of two depths' last-epoch validation accuracy over the seeds they share.

    Both depths were trained with the same seeds (the same initialisation seed and batch
    order), so the differences are paired: ``mean`` is the mean over seeds of
    ``accuracy(first) - accuracy(second)`` in percentage points, and ``half_width`` the half
    width of its 95% t-interval, ``t(0.975, n - 1) * sd / sqrt(n)`` (None with one seed). An
    interval that excludes 0 says the gap is larger than the seed-to-seed noise of these
    settings; it says nothing about other settings or data.

    Examples
    --------
    >>> d = PairedDifference(2, 3, mean=0.27, half_width=0.12, n=5)
    >>> d.excludes_zero, d.sentence()
    (True, 'depth 2 vs depth 3: +0.27 ± 0.12 points (95% interval, 5 paired seeds): a real gap')
    """

    first: int
    second: int
    mean: float
    half_width: float | None
    n: int

    @property
    def excludes_zero(self) -> bool | None:
        """Whether the 95% interval excludes 0 (None with one seed, which has no interval)."""
        if self.half_width is None:
            return None
        return abs(self.mean) > self.half_width

    def sentence(self) -> str:
        """The difference as one plain sentence."""
        head = f"depth {self.first} vs depth {self.second}: {self.mean:+.2f}"
        if self.half_width is None:
            return f"{head} points (one seed: no interval; use more seeds to tell)"
        verdict = "a real gap" if self.excludes_zero else "within the noise between seeds"
        return (
            f"{head} ± {self.half_width:.2f} points (95% interval, {self.n} paired seeds): "
            f"{verdict}"
        )


@dataclass
class DepthStudy:
    """What :func:`~nnkit.experiments.compare_depths` found: every run, and statistics over the
    seeds.

    Attributes
    ----------
    runs : dict of int to list of History
        Per depth, one history per seed, in the order of ``seeds`` (shorter when interrupted).
    seeds : list of int
        The seeds every depth was trained with.
    epochs : int
        Epochs planned per run.
    channels : dict of int to tuple of int
        Convolution widths of each depth.
    params : dict of int to int
        Parameters of each depth.
    macs : dict of int to int
        Multiply-adds of one forward pass of one 28x28 image, per depth.
    settings : dict
        The training settings every run shared (recipe and overrides) as JSON values: numbers,
        booleans, None and names keep their types, other objects are their ``repr``.
    interrupted : bool
        Ctrl-C stopped the study; the runs that finished are kept.
    """

    runs: dict[int, list[History]]
    seeds: list[int]
    epochs: int
    channels: dict[int, tuple[int, ...]]
    params: dict[int, int]
    macs: dict[int, int]
    settings: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def depths(self) -> list[int]:
        return list(self.runs)

    def _final_by_seed(self, depth: int, metric: str) -> dict[int, float]:
        """``metric`` at the last epoch of every complete run of ``depth``, by seed."""
        out = {}
        for seed, history in zip(self.seeds, self.runs[depth], strict=False):
            finished = len(history) == self.epochs and not history.interrupted
            if finished and (value := history.records[-1].get(metric)) is not None:
                out[seed] = value
        return out

    def per_epoch(self, depth: int, metric: str = "val_accuracy") -> list[Spread]:
        """Per epoch, the spread over the seeds of ``metric`` (runs that reached the epoch)."""
        spreads = []
        for index in range(self.epochs):
            values = [
                v
                for h in self.runs[depth]
                if len(h) > index and (v := h.records[index].get(metric)) is not None
            ]
            if not values:
                break
            spreads.append(Spread.of(values))
        return spreads

    def final(self, depth: int, metric: str = "val_accuracy") -> Spread | None:
        """The spread of ``metric`` at the last epoch over the complete runs (None if none)."""
        values = list(self._final_by_seed(depth, metric).values())
        return Spread.of(values) if values else None

    def seconds_per_epoch(self, depth: int) -> float | None:
        """Mean training seconds per epoch over all runs of ``depth``."""
        seconds = [r.seconds for h in self.runs[depth] for r in h.records]
        return statistics.fmean(seconds) if seconds else None

    def differences(self, metric: str = "val_accuracy") -> list[PairedDifference]:
        """Paired differences (x100, points) of ``metric`` at the last epoch, per pair of
        depths, over the seeds both finished."""
        out = []
        for first, second in combinations(self.depths, 2):
            a = self._final_by_seed(first, metric)
            b = self._final_by_seed(second, metric)
            shared = [s for s in self.seeds if s in a and s in b]
            if not shared:
                continue
            diffs = [100 * (a[s] - b[s]) for s in shared]
            n = len(diffs)
            half = t_quantile(n - 1) * statistics.stdev(diffs) / math.sqrt(n) if n > 1 else None
            out.append(PairedDifference(first, second, statistics.fmean(diffs), half, n))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready: settings, sizes, every run's history, and the statistics."""
        return {
            "seeds": self.seeds,
            "epochs": self.epochs,
            "settings": self.settings,
            "interrupted": self.interrupted,
            "depths": {
                str(d): {
                    "channels": list(self.channels[d]),
                    "params": self.params[d],
                    "macs": self.macs[d],
                    "runs": [
                        {"seed": s, "history": h.to_dict()}
                        for s, h in zip(self.seeds, self.runs[d], strict=False)
                    ],
                    "final_val_accuracy": _spread_dict(self.final(d)),
                    "final_val_loss": _spread_dict(self.final(d, "val_loss")),
                    "seconds_per_epoch": self.seconds_per_epoch(d),
                }
                for d in self.depths
            },
            "differences": [vars(d) for d in self.differences()],
        }


def _spread_dict(spread: Spread | None) -> dict[str, float] | None:
    return None if spread is None else vars(spread)


def _size(depth: int, channels: Sequence[int]) -> tuple[int, int]:
    model = MnistCNN(depth, channels=channels)  # type: ignore[arg-type]
    info = summary(model, input_size=(1, 1, 28, 28))
    return info.total_params, info.total_macs


def matched_channels(depth: int, params: int | None = None) -> tuple[int, ...]:
    """Convolution widths for ``depth`` that give about ``params`` parameters.

    The widths keep the default doubling ``(c, 2c, 4c)``; ``c`` is chosen so that the count is
    closest to ``params`` (by default depth 2's with the notes' widths, 116,234). Depth 1 then
    gets narrower (its head sees a 13x13 map), depth 3 wider.

    Examples
    --------
    >>> matched_channels(2)
    (16, 32)
    >>> [matched_channels(d) for d in (1, 3)]
    [(5,), (32, 64, 128)]
    """
    MnistCNN(depth)  # type: ignore[arg-type]  # validates the depth
    target = _size(2, DEFAULT_CHANNELS[:2])[0] if params is None else positive_int(params, "params")
    best: tuple[int, tuple[int, ...]] | None = None
    for base in range(1, 257):
        widths = tuple(base * 2**i for i in range(depth))
        count = _size(depth, widths)[0]
        gap = abs(count - target)
        if best is None or gap < best[0]:
            best = (gap, widths)
        if count > target:
            break
    assert best is not None
    return best[1]


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        return list(range(at_most(positive_int(seeds, "seeds"), "seeds", MAX_SEEDS)))
    if not isinstance(seeds, Sequence) or not seeds:
        raise fail("seeds", f"seeds must be a positive count or a list of seeds, got {seeds!r}")
    chosen = [non_negative_int(s, "seeds") for s in seeds]
    if len(set(chosen)) != len(chosen):
        raise fail("seeds", f"seeds must be distinct, got {list(seeds)!r}")
    return chosen


def _describe(name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings as JSON values (numbers, booleans, None and names keep their types; other
    objects become their ``repr``); a runtime shows only what differs from the defaults."""
    described: dict[str, Any] = {"recipe": name}
    for key, value in settings.items():
        if isinstance(value, Runtime):
            default = Runtime()
            changed = {
                f.name: getattr(value, f.name)
                for f in dataclasses.fields(value)
                if f.name != "dist_timeout" and getattr(value, f.name) != getattr(default, f.name)
            }
            if not changed:
                continue
            value = "Runtime(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"
        plain = value is None or isinstance(value, str | bool | int | float)
        described[key] = value if plain else repr(value)
    return described


def compare_depths(
    depths: Sequence[int] = (1, 2, 3),
    *,
    epochs: int | None = None,
    seeds: int | Sequence[int] = 1,
    train: DataLike | None = None,
    val: DataLike | None = None,
    recipe: RecipeName | Recipe = "fast",
    match_params: bool = False,
    progress: ProgressArg = True,
    **fit_kwargs: Any,
) -> DepthStudy:
    """Train one :class:`~nnkit.models.MnistCNN` per depth and seed under identical settings.

    For each seed, every depth is initialised from that seed and sees the same batches in the
    same order, so within a seed the only difference between the runs is the depth, and the
    differences between depths can be paired over the seeds.

    Parameters
    ----------
    depths : sequence of int
        Depths to compare (each 1, 2 or 3).
    epochs : int, optional
        Epochs per run (the recipe's, else 3).
    seeds : int or sequence of int
        A count ``N`` (seeds 0 to N-1) or the seeds themselves.
    train : DataLike, optional
        Training data as for :func:`~nnkit.train.fit`; by default the embedded MNIST sample's
        10,000 training images.
    val : DataLike, optional
        Validation data, evaluated after every epoch; by default the sample's 2,000 test
        images. As in the notes, the MNIST test split serves as the validation data: the
        accuracies compared here are measured on it after every epoch.
    recipe : {"fast", "notes"} or Recipe
        The training settings (:mod:`nnkit.recipes`): ``"fast"`` is the fastest recipe for
        the device, ``"notes"`` the notes' settings. ``fit_kwargs`` override its fields.
    match_params : bool
        Give each depth the widths of :func:`matched_channels`, so all have about the same
        number of parameters as depth 2 (deeper apart from bigger); otherwise the default
        widths, with which depth 1 has 355,306 parameters, depth 2 116,234, depth 3 40,522.
    progress : bool or {"auto", "bar", "lines", "off"}
        Show which depth and seed is running and each run's progress, as
        :func:`~nnkit.train.fit` does: bars in a terminal, plain lines in a log.
    **fit_kwargs
        Passed to :func:`~nnkit.train.fit` (``batch_size``, ``lr``, ``optimizer``, ``device``,
        ``runtime``...).

    Returns
    -------
    DepthStudy
        Every run's history and the statistics over seeds. Ctrl-C stops the whole study: the
        runs that finished are kept, the one in progress with the epochs it finished, and
        ``interrupted`` is True.

    Examples
    --------
    >>> from nnkit.data import load_mnist_sample
    >>> small = load_mnist_sample(train=False)
    >>> study = compare_depths((1, 2), epochs=1, seeds=2, train=small, val=small,
    ...                        device="cpu", progress=False)
    >>> study.depths, [len(study.runs[d]) for d in study.depths], study.final(2).n
    ([1, 2], [2, 2], 2)
    >>> print(study.differences()[0].sentence())  # doctest: +ELLIPSIS
    depth 1 vs depth 2: ... points (95% interval, 2 paired seeds): ...
    """
    if not depths:
        raise fail("depths", "depths must name at least one depth, e.g. (1, 2, 3)")
    for depth in depths:
        MnistCNN(depth)  # type: ignore[arg-type]  # validated before any data is loaded
    if len(set(depths)) != len(depths):
        raise fail("depths", f"depths must be distinct, got {list(depths)!r}")
    seed_list = _seed_list(seeds)
    Budget.of(epochs, None, None)  # the budget's own check, before the first run says it starts
    boolean(match_params, "match_params")
    if "seed" in fit_kwargs:
        raise fail("seed", "compare_depths takes seeds=N or seeds=[...], not seed=")
    if isinstance(recipe, Recipe):
        chosen, name = recipe, "custom"
    else:
        device = fit_kwargs.get("device") or (fit_kwargs.get("runtime") or Runtime()).device
        chosen, name = recipe_for(recipe, device), recipe
    settings = {**chosen, **fit_kwargs}
    planned = settings.pop("epochs", None)
    epochs = positive_int(epochs if epochs is not None else planned or 3, "epochs")
    channels = {d: matched_channels(d) if match_params else DEFAULT_CHANNELS[:d] for d in depths}
    sizes = {d: _size(d, channels[d]) for d in depths}
    study = DepthStudy(
        runs={d: [] for d in depths},
        seeds=seed_list,
        epochs=epochs,
        channels=channels,
        params={d: sizes[d][0] for d in depths},
        macs={d: sizes[d][1] for d in depths},
        settings=_describe(name, {"epochs": epochs, **settings}),
    )
    train = load_mnist_sample(train=True) if train is None else train
    val = load_mnist_sample(train=False) if val is None else val
    plan = [(seed, depth) for seed in seed_list for depth in depths]
    mode = resolve_progress(progress)
    with tqdm(plan, disable=mode != "bar", desc="depth study", leave=True) as bar:
        try:
            for run, (seed, depth) in enumerate(bar, start=1):
                bar.set_description(f"depth {depth}, seed {seed}")
                if mode == "lines":
                    print(f"run {run}/{len(plan)}: depth {depth}, seed {seed}", file=sys.stderr,
                          flush=True)  # fmt: skip
                seed_everything(seed)
                model = MnistCNN(depth, channels=channels[depth])
                history = fit(model, train, val=val, epochs=epochs, seed=seed,
                              progress=mode, **settings)  # fmt: skip
                study.runs[depth].append(history)
                if history.interrupted:
                    study.interrupted = True  # one Ctrl-C stops the whole study
                    break
        except KeyboardInterrupt:  # pressed between two runs
            study.interrupted = True
    return study
