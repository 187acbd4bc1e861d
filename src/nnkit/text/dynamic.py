"""Dynamic evaluation's update rule (Krause et al., 2018): RMS-normalised steps, optionally
with the gradient statistics taken from the training text and a decay toward the trained
weights.

After scoring each segment, the adapting copy of the model takes one step

.. math::

    \\theta \\leftarrow \\theta - \\eta\\, \\frac{g}{\\sqrt{\\mathrm{MS}} + \\epsilon}
    + \\lambda_i\\, (\\theta_0 - \\theta)

where :math:`g` is the segment's gradient and :math:`\\mathrm{MS}` its mean square: a running mean
over the segments read so far (Adam without momentum: nnkit's default), or fixed, measured on the
*training* text (:func:`~nnkit.text.gradient_stats`, the published recipe), so the first steps are
as well scaled as the last. :math:`\\lambda_i = \\min(1, \\lambda \\cdot \\mathrm{RMS}_i /
\\overline{\\mathrm{RMS}})` pulls each weight back toward its trained value :math:`\\theta_0`, more
strongly where the training gradients were large: what was learnt from the text read so far fades
unless the text keeps confirming it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from .._device import resolve_device
from .._validate import fail, positive_int
from .streams import VAL_STREAMS, StreamBatches, _detach
from .vocab import Vocab

__all__ = ["DYNAMIC_LR", "SEGMENT_LEN", "DynamicStep", "gradient_stats"]

#: Dynamic evaluation's default step size (RMS-normalised), chosen on the validation splits of
#: alice.txt and neko.txt (docs/text.rst).
DYNAMIC_LR = 3e-4
#: Dynamic evaluation's default segment: characters per stream between two updates.
SEGMENT_LEN = 32

#: Added to the RMS before dividing: 1e-8 (Adam's) let weights that the training text hardly
#: moves (a rare character's embedding) take steps 10^4 times too large on neko.txt.
_EPS = 1e-4


def gradient_stats(
    model: nn.Module,
    vocab: Vocab,
    text: str,
    *,
    segment_len: int = SEGMENT_LEN,
    batch_size: int = VAL_STREAMS,
    max_chars: int = 400_000,
    device: str | torch.device | None = None,
) -> dict[str, torch.Tensor]:
    """The mean square of ``model``'s gradient per weight, over segments of ``text`` (the
    training text) read as dynamic evaluation reads a text: ``batch_size`` streams,
    ``segment_len`` characters per step, the loss the mean cross entropy of a segment. For
    :func:`~nnkit.text.bits_per_char`'s ``dynamic_stats``. The model is not changed.

    Parameters
    ----------
    model : CharRNN, CharTransformer or torch.nn.Module
        The trained model, called as ``model(ids, state=...)``.
    vocab : Vocab
        Its vocabulary.
    text : str
        The training text (its first ``max_chars`` characters are read).
    segment_len, batch_size
        As dynamic evaluation will read the scored text.
    max_chars : int
        At most this many characters are read.
    device : str or torch.device, optional
        CUDA when available, else the CPU.

    Returns
    -------
    dict of str to torch.Tensor
        The mean squared gradient of each trainable parameter, by name.

    Examples
    --------
    >>> from nnkit.models import CharRNN
    >>> vocab = Vocab.from_text("abcd")
    >>> model = CharRNN(len(vocab), hidden_size=8, num_layers=1)
    >>> stats = gradient_stats(model, vocab, "abcd" * 100, device="cpu")
    >>> stats["head.weight"].shape == model.head.weight.shape
    True
    """
    positive_int(max_chars, "max_chars")
    dev = resolve_device(device)
    ids = vocab.encode(text[:max_chars])
    streams = StreamBatches(ids, batch_size=batch_size, seq_len=segment_len, shuffle=False)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    sums = {n: torch.zeros_like(p) for n, p in named}
    was_training = model.training
    model.eval()
    count, state = 0, None
    try:
        with torch.backends.cudnn.flags(enabled=False):  # no eval-mode RNN backward in cuDNN
            for x, y in streams:
                x, y = x.to(dev), y.to(dev)
                model.zero_grad(set_to_none=True)
                outputs, state = model(x, state=state)
                loss = nn.functional.cross_entropy(outputs.flatten(0, 1).float(), y.flatten())
                loss.backward()  # type: ignore[no-untyped-call]
                state = _detach(state)
                for n, p in named:
                    if p.grad is not None:
                        sums[n] += p.grad.detach() ** 2
                count += 1
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return {n: s / count for n, s in sums.items()}


class DynamicStep:
    """One dynamic-evaluation step on ``net``'s parameters after ``backward()``: the rule of
    the module docstring.

    Parameters
    ----------
    net : torch.nn.Module
        The adapting copy.
    lr : float
        :math:`\\eta`.
    decay : float
        :math:`\\lambda` (0: no pull toward the trained weights).
    stats : mapping of str to torch.Tensor, optional
        Mean squared gradients from :func:`~nnkit.text.gradient_stats`; None keeps a running mean
        over the segments read (Adam with ``betas=(0, 0.999)``).
    """

    def __init__(
        self,
        net: nn.Module,
        *,
        lr: float,
        decay: float = 0.0,
        stats: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        named = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
        self.params = [p for _, p in named]
        self.lr = lr
        self.start = [p.detach().clone() for p in self.params] if decay else []
        self.adam = (
            torch.optim.Adam(self.params, lr=lr, betas=(0.0, 0.999)) if stats is None else None
        )
        self.scale: list[torch.Tensor] = []
        # the decay's share per weight: scaled by the training RMS, or one number for all
        self.rates: list[torch.Tensor | float] = []
        if stats is not None:
            missing = [n for n, _ in named if n not in stats]
            wrong = [n for n, p in named if n in stats and stats[n].shape != p.shape]
            if missing or wrong:
                raise fail(
                    "dynamic_stats",
                    "dynamic_stats must hold the mean squared gradient of every parameter "
                    f"(gradient_stats of this model); {'lacks' if missing else 'misshapes'} "
                    f"{(missing or wrong)[0]}",
                )
            rms = [stats[n].to(p.device, p.dtype).sqrt() for n, p in named]
            self.scale = [1.0 / (r + _EPS) for r in rms]
            mean = torch.cat([r.flatten() for r in rms]).mean()
            self.rates = [(decay * r / mean).clamp(max=1.0) for r in rms] if decay else []
        elif decay:
            self.rates = [decay] * len(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        if self.adam is not None:
            self.adam.step()
        else:
            for p, scale in zip(self.params, self.scale, strict=True):
                if p.grad is not None:
                    p.sub_(self.lr * p.grad * scale)
        if self.rates:
            for p, start, rate in zip(self.params, self.start, self.rates, strict=True):
                p.add_(rate * (start - p))
