from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from nnkit.optim_viz import (
    NOTES_OPTIMIZERS,
    Trajectory,
    animate,
    compare,
    load_trajectories,
    plot,
    plot_values,
    save_trajectories,
    trace,
    tune_lr,
)

REPLAYS: dict[str, tuple[type[torch.optim.Optimizer], dict[str, Any]]] = {
    "sgd": (torch.optim.SGD, {}),
    "momentum": (torch.optim.SGD, {"momentum": 0.9}),
    "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (torch.optim.Adagrad, {}),
    "rmsprop": (torch.optim.RMSprop, {}),
    "adadelta": (torch.optim.Adadelta, {}),
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
    "lbfgs": (torch.optim.LBFGS, {}),
}


def replay(
    cls: type[torch.optim.Optimizer], kwargs: dict[str, Any], steps: int = 100
) -> np.ndarray:
    """The notes' loop, written out by hand, keeping the start point."""
    x = torch.tensor([1.0], requires_grad=True)
    y = torch.tensor([1.5], requires_grad=True)
    optimizer = cls([x, y], lr=0.1, **kwargs)
    points = [(x.item(), y.item())]
    for _ in range(steps):
        if isinstance(optimizer, torch.optim.LBFGS):

            def closure() -> torch.Tensor:
                optimizer.zero_grad()
                loss = (x * x + y * y).sum()
                loss.backward()
                return loss

            optimizer.step(closure)  # type: ignore[arg-type]
        else:
            loss = x * x + y * y
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        points.append((x.item(), y.item()))
    return np.asarray(points, dtype=np.float32)


@pytest.mark.parametrize("name", list(REPLAYS))
def test_trace_matches_torch_optim_to_the_last_bit(name: str) -> None:
    cls, kwargs = REPLAYS[name]
    t = trace(name)
    assert t.points.shape == (101, 2) and t.values.shape == (101,)
    assert t.start == (1.0, 1.5) and t.points.dtype == np.float32
    expected = replay(cls, kwargs)
    assert np.array_equal(t.points, expected)
    torch_values = (torch.from_numpy(expected) ** 2).sum(1).numpy()
    assert np.array_equal(t.values, torch_values)


def test_optimizer_classes_and_closure_based_ones() -> None:
    t = trace(torch.optim.Adamax, steps=20)
    assert t.optimizer == "Adamax" and t.points.shape == (21, 2)
    lbfgs = trace(torch.optim.LBFGS, steps=3, lr=1.0)
    assert lbfgs.values[-1] < 1e-10 and lbfgs.evaluations > 4


def test_float64_changes_the_arithmetic() -> None:
    t64 = trace("adam", dtype=torch.float64)
    t32 = trace("adam")
    assert t64.points.dtype == np.float64 and t64.dtype == "float64"
    assert not np.array_equal(t64.points.astype(np.float32), t32.points)
    np.testing.assert_allclose(t64.points, t32.points, atol=1e-5)


def test_custom_callable_surface() -> None:
    t = trace("sgd", fn=lambda x, y: (x - 1) ** 2 + (y + 2) ** 2, start=(0.0, 0.0), steps=60)
    assert t.fn == "<lambda>"
    np.testing.assert_allclose(t.end, (1.0, -2.0), atol=1e-4)


def test_named_surfaces_have_their_minima_at_zero() -> None:
    from nnkit.surfaces import SURFACES

    for surface in SURFACES.values():
        for mx, my in surface.minima:
            value = surface(
                torch.tensor(mx, dtype=torch.float64), torch.tensor(my, dtype=torch.float64)
            )
            assert abs(float(value) - (surface.minimum_value or 0.0)) < 1e-9, surface.name
        x0, x1, y0, y1 = surface.window
        assert x0 <= surface.start[0] <= x1 and y0 <= surface.start[1] <= y1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"optimizer": "adamax"}, ValueError, "unknown optimizer 'adamax'; expected one of sgd"),
        ({"optimizer": 3}, TypeError, "torch.optim.Optimizer subclass"),
        ({"fn": "banana"}, ValueError, "unknown surface 'banana'; expected one of quadratic"),
        ({"steps": 0}, ValueError, r"steps must be an integer in \[1, 1,000,000\], got 0"),
        ({"steps": 10**7}, ValueError, r"steps must be an integer in \[1, 1,000,000\]"),
        ({"steps": 2.5}, ValueError, "steps must be an integer in"),
        ({"start": (math.nan, 0.0)}, ValueError, "start must be finite"),
        ({"start": (1.0,)}, ValueError, r"start must be two numbers \(x, y\)"),
        ({"lr": -0.1}, ValueError, "lr must be a positive number"),
        ({"dtype": torch.float16}, ValueError, "dtype must be torch.float32 or torch.float64"),
        ({"fn": lambda x, y: torch.stack([x, y])}, ValueError, "must return a one-element tensor"),
    ],
)
def test_bad_input(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    optimizer = kwargs.pop("optimizer", "sgd")
    with pytest.raises(error, match=match):
        trace(optimizer, **kwargs)


def test_divergence_stops_and_is_marked() -> None:
    t = trace("sgd", lr=1.5, steps=300)  # x <- -2x: x^2 overflows float32 after 64 steps
    assert t.diverged and len(t.points) == 64
    assert np.isfinite(t.points).all() and np.isfinite(t.values).all()
    fig = plot(t)
    assert "diverged" in [text.get_text() for text in fig.axes[0].get_legend().get_texts()][-1]


def test_notes_observations_hold() -> None:
    paths = compare()
    moved = np.linalg.norm(paths["adadelta"].points[-1] - paths["adadelta"].points[0])
    assert moved < 0.1  # Adadelta barely moves at lr 0.1: its first steps are ~sqrt(eps)
    steps = np.linalg.norm(np.diff(paths["adagrad"].points, axis=0), axis=1)
    assert steps[-1] < steps[0] / 10  # Adagrad's accumulated squares shrink its steps
    assert paths["sgd"].values[-1] < 1e-15  # x <- 0.8 x: geometric convergence


def test_compare_lr_forms() -> None:
    paths = compare(("sgd", "adam"), lr={"adam": 0.05}, steps=5)
    assert (paths["sgd"].lr, paths["adam"].lr) == (0.1, 0.05)
    with pytest.raises(ValueError, match="'tuned'"):
        compare(lr="auto")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one optimizer"):
        compare(())


def test_tuned_lr_picks_from_the_grid_and_never_a_diverging_one() -> None:
    grid = (1e-3, 1e-2, 0.1, 0.5, 1.2)
    paths = compare(("sgd", "adam"), lr="tuned", steps=30, grid=grid)
    assert all(t.tuned and t.lr in grid for t in paths.values())
    assert paths["sgd"].lr == 0.5  # exact minimiser of x^2 + y^2 in one step
    t = tune_lr("sgd", fn="rosenbrock", steps=50, grid=(1e-4, 1e-3, 0.1))
    assert not t.diverged and t.lr in (1e-4, 1e-3)
    with pytest.raises(ValueError, match="at least one learning rate"):
        tune_lr("sgd", grid=())


def test_json_round_trip(tmp_path: Path) -> None:
    paths = compare(steps=7)
    save_trajectories(paths, tmp_path / "p.json")
    back = load_trajectories(tmp_path / "p.json")
    assert list(back) == list(paths)
    for name in paths:
        assert np.array_equal(back[name].points, paths[name].points)
        assert np.array_equal(back[name].values, paths[name].values)
        assert back[name].points.dtype == paths[name].points.dtype
    with pytest.raises(ValueError, match="not a Trajectory"):
        Trajectory.from_dict({"optimizer": "sgd"})


def test_plot_is_the_notes_scatter_done_right() -> None:
    import matplotlib.pyplot as plt

    fig = plot(compare())
    assert isinstance(fig, Figure) and plt.get_fignums() == []  # never shown, never registered
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y") and ax.get_aspect() == 1.0
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["start", "minimum"]
    assert [label.split()[0] for label in labels[2:]] == list(NOTES_OPTIMIZERS)
    assert "quadratic" in ax.get_title() and "lr 0.1, 100 steps" in ax.get_title()
    no_contours = plot(compare(), contours=False).axes[0]
    assert len(ax.collections) > len(no_contours.collections)


def test_plot_options_and_given_axes() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    assert plot(trace("adam", fn="rosenbrock", steps=20), kind="line", ax=ax) is fig
    assert len(ax.lines) == 1
    with pytest.raises(ValueError, match="kind must be 'scatter' or 'line'"):
        plot(trace("adam", steps=2), kind="bar")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one Trajectory"):
        plot({})


def test_plot_values_is_a_log_scale_per_optimizer() -> None:
    fig = plot_values(compare(("sgd", "adam"), steps=30))
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.lines) == 2
    assert ax.get_xlabel() == "step"


def test_animate_writes_a_readable_gif(tmp_path: Path) -> None:
    out = animate(compare(("sgd", "adam"), steps=12), tmp_path / "sub" / "paths.gif", fps=5)
    assert out.read_bytes()[:6] == b"GIF89a"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask  # not a temp file's 0600
    assert [p.name for p in out.parent.iterdir()] == ["paths.gif"]
