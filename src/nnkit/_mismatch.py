"""Data that does not fit the model, said in nnkit's words.

``fit`` checks the model before it places it (:func:`check_model_tensors`: no parameter on the
``meta`` device) and translates the error of its first step (:func:`first_batch_error`): a
dtype, a feature count or a channel count that the model's first layer does not take is an
:class:`~nnkit.errors.InvalidArgumentError` with both sides (the batch's shapes and dtypes, the
model's) and the fix. Nothing is checked per step: the first step is where such a mismatch
shows.
"""

from __future__ import annotations

import torch
from torch import nn

from ._validate import fail, one_line
from .errors import InvalidArgumentError

#: Words of PyTorch's messages for data of the wrong dtype or shape (any other error of the
#: first step is not blamed on the data, and passes unchanged).
_DTYPE_WORDS = ("dtype", "scalar type", "should be the same", "not implemented for")
_SHAPE_WORDS = (
    "shapes cannot be multiplied",
    "expected input",
    "channels",
    "size mismatch",
    "must match the size",
    "to match target batch_size",
    "target tensor expected",
    "Given groups",
)


def check_model_tensors(model: nn.Module) -> None:
    """A model whose parameters or buffers are on the ``meta`` device (shapes without data)
    cannot be trained: an :class:`~nnkit.errors.InvalidArgumentError` naming ``model``."""
    meta = next(
        (n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta), None
    )
    if meta is not None:
        raise fail(
            "model",
            f"the model's {meta} is on the meta device (shapes without data), so it cannot be "
            "trained; build the model on a real device, or give it storage with "
            "model.to_empty(device='cpu') and initialise its weights",
        )


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _describe(tensor: object) -> str:
    if isinstance(tensor, torch.Tensor):
        return f"{tuple(tensor.shape)} {_name(tensor.dtype)}"
    return type(tensor).__name__


def _weights(model: nn.Module) -> torch.Tensor | None:
    return next((p for p in model.parameters() if p.is_floating_point()), None)


def first_batch_error(
    exc: BaseException, model: nn.Module, x: object, y: object
) -> InvalidArgumentError | None:
    """The error to raise for ``exc``, raised by the first training step on inputs ``x`` and
    targets ``y``, when it is a dtype or shape mismatch: what both sides are, what PyTorch
    said (one line) and the fix. None for any other error (raise ``exc`` itself)."""
    said = one_line(exc)
    dtype_words = any(w in said for w in _DTYPE_WORDS)
    shape_words = any(w in said for w in _SHAPE_WORDS)
    if not (dtype_words or shape_words):
        return None
    weights = _weights(model)
    sides = f"inputs {_describe(x)}, targets {_describe(y)}"
    if weights is not None:
        sides += f"; the model's weights are {_name(weights.dtype)} on {weights.device}"
    fix = "check that the data is the one this model was built for"
    if "target" in said:
        fix = (
            "the targets do not fit the loss: class ids are int64 of shape (N,) (y.long()); "
            "regression targets have the outputs' shape and dtype"
        )
    elif isinstance(x, torch.Tensor) and weights is not None:
        embeds = any(isinstance(m, nn.Embedding) for m in model.modules())
        if x.is_floating_point() and x.dtype != weights.dtype:
            fix = (
                f"convert the inputs with x.to(torch.{_name(weights.dtype)}) (or the model "
                f"with model.to(torch.{_name(x.dtype)}))"
            )
        elif not x.is_floating_point() and not embeds and dtype_words:
            fix = (
                f"the inputs are {_name(x.dtype)} but the model computes in floating point: "
                "convert them with x.float() (images of 0-255 with x.float() / 255)"
            )
        elif shape_words:
            fix = (
                "the inputs' shape does not fit the model's first layer: check the number of "
                "features (the last dimension) or of channels (dimension 1)"
            )
    return fail(
        "data",
        f"the model cannot take the first training batch ({sides}); PyTorch said: {said}. "
        f"Fix: {fix}",
    )
