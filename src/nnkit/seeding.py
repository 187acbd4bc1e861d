"""Seeding every random generator a training run draws from: :func:`nnkit.seed_everything`.

``fit(seed=...)`` seeds the generators when ``fit`` starts, which is after the model was built:
the initial weights of a model made before ``fit`` come from whatever state torch's generator
was in then. For runs that repeat bit for bit, seed before building the model:

>>> import torch
>>> def run():
...     seed_everything(0)
...     return torch.nn.Linear(3, 2).weight
>>> torch.equal(run(), run())
True
"""

from __future__ import annotations

import random

import numpy as np
import torch

from ._validate import seed_value

__all__ = ["seed_everything"]


def seed_everything(seed: int) -> int:
    """Seed Python's ``random``, NumPy's global generator and torch's generators (the CPU's
    and every CUDA device's), as Lightning's function of the same name does.

    Parameters
    ----------
    seed : int
        A seed in ``[0, 2**32)``.

    Returns
    -------
    int
        The seed.

    Notes
    -----
    What stays random after it: CUDA kernels that are not deterministic (some backward passes
    of convolutions and scatters; ``torch.use_deterministic_algorithms(True)`` forbids them),
    ``DataLoader`` workers that seed their own generators without a ``worker_init_fn``, and
    anything that draws from a generator of its own.

    Examples
    --------
    >>> seed_everything(3)
    3
    >>> a = (random.random(), float(np.random.rand()), float(torch.rand(())))
    >>> _ = seed_everything(3)
    >>> a == (random.random(), float(np.random.rand()), float(torch.rand(())))
    True
    """
    seed = seed_value(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (the legacy global generator is what code draws from)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed
