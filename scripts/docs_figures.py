"""Regenerate the figures of the losses and activations pages.

Usage::

    python scripts/docs_figures.py

Writes ``docs/_static/losses/margins.png`` (each binary loss against the margin, computed with
``nnkit.losses``) and ``docs/_static/activations/xor.png`` (``nnkit.experiments.xor_demo()``
with its defaults), and prints the XOR accuracies.
"""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure

from nnkit import losses
from nnkit.experiments import xor_demo

DOCS = Path(__file__).resolve().parents[1] / "docs" / "_static"


def margins_figure() -> Figure:
    m = torch.linspace(-3, 3, 601, dtype=torch.float64)
    ones = torch.ones_like(m, dtype=torch.long)

    def per_sample(fn: losses.LossFn) -> list[float]:
        return [float(fn(m[i : i + 1], ones[i : i + 1])) for i in range(len(m))]

    curves = {
        "0-1 loss (what accuracy counts)": (m <= 0).double().tolist(),
        "hinge  max(0, 1 - m)": per_sample(losses.hinge),
        "squared hinge  max(0, 1 - m)^2": per_sample(losses.squared_hinge),
        "robust hinge  min(max(0, 1 - m), 2)": per_sample(losses.robust_hinge),
        "binary cross entropy  log(1 + e^-m)": [
            float(losses.binary_cross_entropy(m[i : i + 1], torch.ones(1, dtype=torch.float64)))
            for i in range(len(m))
        ],
        "squared error on ±1 targets  (1 - m)^2": ((1 - m) ** 2).tolist(),
    }
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    for label, values in curves.items():
        style = "--" if label.startswith("squared error") else "-"  # equals squared hinge for m < 1
        ax.plot(m.numpy(), values, style, label=label, lw=2 if "robust" in label else 1.5)
    ax.set(
        xlabel="margin m = y·s (positive: correct side)",
        ylabel="loss of one sample",
        ylim=(-0.1, 4.5),
        title="Binary classification losses against the margin",
    )
    ax.axvline(0, color="0.5", lw=0.8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def main() -> None:
    (DOCS / "losses").mkdir(parents=True, exist_ok=True)
    (DOCS / "activations").mkdir(parents=True, exist_ok=True)
    margins_figure().savefig(DOCS / "losses" / "margins.png", dpi=110)
    result = xor_demo()
    result.figure.savefig(DOCS / "activations" / "xor.png", dpi=110)
    print(
        f"XOR, 3 layers of 16: linear {result.linear_accuracy:.0%}, ReLU {result.relu_accuracy:.0%}"
    )


if __name__ == "__main__":
    main()
