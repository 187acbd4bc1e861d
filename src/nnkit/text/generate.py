"""Sampling text from a trained character model."""

from __future__ import annotations

import torch
from torch import nn

from .._device import resolve_device
from .._validate import non_negative_float, non_negative_int, positive_int, seed_value
from ..errors import InvalidArgumentError
from .mixture import NgramMixture
from .vocab import Vocab

__all__ = ["MAX_GENERATE_LENGTH", "generate"]

#: The most characters one call generates (one model step each: hours on a CPU).
MAX_GENERATE_LENGTH = 10_000_000


@torch.no_grad()
def generate(
    model: nn.Module | NgramMixture,
    vocab: Vocab,
    start: str = "A",
    length: int = 200,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    device: str | torch.device | None = None,
) -> str:
    """Continue ``start`` by ``length`` characters, one at a time.

    The prompt is fed through the model once; then each new character is sampled from the
    model's distribution and fed back with the carried state, so generation costs one
    single-character step per output character (the prompt is never re-run).

    Parameters
    ----------
    model : CharRNN, CharTransformer or NgramMixture
        A model mapping ``(ids (1, T), state)`` to ``(logits (1, T, V), state)``, or such a
        model mixed with the n-gram: each character is then drawn from the mixture's
        distribution (the n-gram reads the text so far).
    vocab : Vocab
        The vocabulary the model was trained with.
    start : str
        A character or a whole prompt; every character must be in the vocabulary.
    length : int
        Characters to generate after the prompt.
    temperature : float
        Divides the logits (the log-probabilities of a mixture): below 1 is more
        conservative, above 1 more adventurous; 0 is greedy (always the most likely
        character, deterministic).
    top_k : int, optional
        Sample only among the ``top_k`` most likely characters.
    seed : int, optional
        Seed of the sampling, for reproducible text.
    device : str or torch.device, optional
        Where to run; by default where the model's parameters are.

    Returns
    -------
    str
        ``start`` followed by the generated characters.

    Examples
    --------
    >>> from nnkit.models import CharRNN
    >>> vocab = Vocab.from_text("abc")
    >>> text = generate(CharRNN(len(vocab), hidden_size=8, num_layers=1), vocab, "ab", 5, seed=0)
    >>> len(text), text[:2]
    (7, 'ab')
    """
    if not start:
        raise InvalidArgumentError("start must hold at least one character", parameter="start")
    missing = [c for c in dict.fromkeys(start) if c not in vocab]
    if missing:
        raise InvalidArgumentError(
            f"start character {missing[0]!r} is not in the vocabulary "
            f"({len(vocab)} characters, e.g. {''.join(vocab.chars[1:11])!r})",
            parameter="start",
        )
    mixture: NgramMixture | None = None
    net: nn.Module
    if isinstance(model, NgramMixture):
        model.check_vocab(vocab)
        mixture, net = model, model.model
    else:
        net = model
    non_negative_int(length, "length")
    if length > MAX_GENERATE_LENGTH:
        raise InvalidArgumentError(
            f"length must be at most {MAX_GENERATE_LENGTH:,} characters, got {length:,}",
            parameter="length",
        )
    non_negative_float(temperature, "temperature")
    if top_k is not None:
        positive_int(top_k, "top_k")
    if seed is not None:
        seed_value(seed)
    dev = resolve_device(device) if device is not None else next(net.parameters()).device
    was_training = net.training
    net.eval()
    generator = torch.Generator(device=dev)
    if seed is not None:
        generator.manual_seed(seed)
    else:
        generator.seed()
    try:
        ids = vocab.encode(start).to(dev).unsqueeze(0)
        logits, state = net(ids)
        out: list[int] = []
        last = logits[0, -1]
        for _ in range(length):
            if mixture is not None:  # log-probabilities of the mixture, as scores
                history = start + vocab.decode(out[-mixture.ngram.n :])
                last = mixture.probs(last, history).log().to(dev)
            if last.isnan().any():
                raise InvalidArgumentError(
                    "the model's scores are NaN (its weights hold NaN or infinite values, "
                    "or its input does); it cannot generate text",
                    parameter="model",
                )
            if temperature == 0:
                choice = int(last.argmax())
            else:
                # shifted so the largest score is 0 and divided in float64: any temperature
                # > 0, down to the smallest float, then gives scores in [-inf, 0] with the
                # most likely character at 0 (-inf only for characters out of reach)
                scaled = (last.double() - last.double().max()) / temperature
                if top_k is not None and top_k < scaled.numel():
                    kth = torch.topk(scaled, top_k).values[-1]
                    scaled = scaled.masked_fill(scaled < kth, float("-inf"))
                probs = torch.softmax(scaled, dim=-1)
                choice = int(torch.multinomial(probs, 1, generator=generator))
            out.append(choice)
            step = torch.tensor([[choice]], device=dev)
            logits, state = net(step, state)
            last = logits[0, -1]
    finally:
        net.train(was_training)
    return start + vocab.decode(out)
