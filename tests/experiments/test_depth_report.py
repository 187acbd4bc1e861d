from __future__ import annotations

import pytest
from matplotlib.collections import PolyCollection

from nnkit.errors import InvalidArgumentError
from nnkit.experiments import DepthStudy, depth_table, difference_lines, plot_depth_comparison
from nnkit.history import EpochRecord, History


def _run(*accuracies: float) -> History:
    return History(
        [EpochRecord(i + 1, 0.3, 0.9, 0.2, a, seconds=1.0) for i, a in enumerate(accuracies)]
    )


def _study() -> DepthStudy:
    runs = {
        1: [_run(0.95, 0.97), _run(0.94, 0.96)],
        2: [_run(0.96, 0.98), _run(0.96, 0.99)],
    }
    return DepthStudy(
        runs, [0, 1], 2, {1: (16,), 2: (16, 32)}, {1: 355_306, 2: 116_234}, {1: 10, 2: 20}
    )


def test_table_has_mean_std_range_and_sizes() -> None:
    rows = depth_table(_study()).splitlines()
    assert rows[0].split()[:4] == ["depth", "channels", "params", "MACs"]
    assert "96.50 ± 0.71" in rows[1] and "[96.00, 97.00]" in rows[1] and "355,306" in rows[1]
    assert "98.50 ± 0.71" in rows[2] and "[98.00, 99.00]" in rows[2] and "116,234" in rows[2]


def test_difference_sentences() -> None:
    (line,) = difference_lines(_study())
    # last epochs 97/98 and 96/99: differences -1 and -3 points, mean -2, sd 1.414,
    # t(1) = 12.706 -> half width 12.706 * 1.414 / sqrt(2) = 12.71
    assert line.startswith("depth 1 vs depth 2: -2.00 ± 12.71 points (95% interval, 2 paired")
    assert line.endswith("within the noise between seeds")


@pytest.mark.parametrize("band", ["minmax", "std"])
def test_figure_draws_means_with_bands_and_the_sizes(band: str) -> None:
    fig = plot_depth_comparison(_study(), band=band)  # type: ignore[arg-type]
    acc_ax, size_ax = fig.axes
    assert [line.get_label() for line in acc_ax.lines] == ["depth 1 (2 seeds)", "depth 2 (2 seeds)"]
    assert list(acc_ax.lines[1].get_ydata()) == pytest.approx([96.0, 98.5])
    bands = [c for c in acc_ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    top = bands[1].get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(99.0 if band == "minmax" else 98.5 + 100 * 0.00707, abs=1e-3)
    assert [round(p.get_height(), 3) for p in size_ax.patches] == [355.306, 116.234]
    with pytest.raises(InvalidArgumentError, match="band must be one of"):
        plot_depth_comparison(_study(), band="range")  # type: ignore[arg-type]
