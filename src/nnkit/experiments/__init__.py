"""Studies built from nnkit's parts: accuracy against depth (several seeds, parameters in view),
and why activations matter (XOR)."""

from __future__ import annotations

from .depth import (
    DepthStudy,
    PairedDifference,
    Spread,
    compare_depths,
    matched_channels,
    t_quantile,
)
from .depth_report import depth_table, difference_lines, plot_depth_comparison
from .xor import XOR_X, XOR_Y, XorResult, xor_demo

__all__ = [
    "XOR_X",
    "XOR_Y",
    "DepthStudy",
    "PairedDifference",
    "Spread",
    "XorResult",
    "compare_depths",
    "depth_table",
    "difference_lines",
    "matched_channels",
    "plot_depth_comparison",
    "t_quantile",
    "xor_demo",
]
