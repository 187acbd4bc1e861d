"""Multiply-adds counted at the operator level, attributed to the module that ran each operator.

A :class:`~torch.utils._python_dispatch.TorchDispatchMode` sees every ATen operator after
autograd and the composite decompositions (``nn.Linear`` arrives as ``addmm``, ``einsum`` and
``@`` as ``mm``/``bmm``), so work inside a module's own ``forward`` is counted as surely as a
layer's. Forward pre- and post-hooks keep a stack of the modules running; each operator's count
goes to the innermost one.

The convention, the same for every operator: the number of scalar products of the operator's
mathematical definition (a product and the add that accumulates it are one multiply-add); bias
adds, norms, activations and softmax count nothing. Fused kernels that would hide their work
(oneDNN and cuDNN recurrent layers, the fast path of ``nn.MultiheadAttention`` and
``nn.TransformerEncoderLayer``) are switched off while counting, so those layers run as their
decomposed operators; attention kernels are counted by their formula.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["HIDDEN_WORK", "OpCounter", "unfused"]

aten = torch.ops.aten


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(t.shape)


def _mm(args: Sequence[Any], out: Any) -> int:  # (m, k) @ (k, n)
    m, k = _shape(args[0])
    return m * k * _shape(args[1])[1]


def _addmm(args: Sequence[Any], out: Any) -> int:  # bias + (m, k) @ (k, n)
    return _mm(args[1:], out)


def _bmm(args: Sequence[Any], out: Any) -> int:  # (b, m, k) @ (b, k, n)
    b, m, k = _shape(args[0])
    return b * m * k * _shape(args[1])[2]


def _baddbmm(args: Sequence[Any], out: Any) -> int:
    return _bmm(args[1:], out)


def _mv(args: Sequence[Any], out: Any) -> int:  # (m, n) @ (n,)
    return math.prod(_shape(args[0]))


def _addmv(args: Sequence[Any], out: Any) -> int:
    return _mv(args[1:], out)


def _dot(args: Sequence[Any], out: Any) -> int:
    return int(args[0].numel())


def _convolution(args: Sequence[Any], out: Any) -> int:
    """Direct: each output element sums ``C_in / groups * prod(kernel)`` products. Transposed:
    each input element is multiplied into ``C_out / groups * prod(kernel)`` outputs."""
    x, w = args[0], args[1]
    transposed = bool(args[6]) if len(args) > 6 else False
    kernel = math.prod(_shape(w)[2:])
    if transposed:  # weight (C_in, C_out / groups, *kernel)
        return int(x.numel()) * _shape(w)[1] * kernel
    return int(out.numel()) * _shape(w)[1] * kernel  # weight (C_out, C_in / groups, *kernel)


def _attention(args: Sequence[Any], out: Any) -> int:
    """``softmax(q k^T) v`` for q ``(..., L, E)``, k ``(..., S, E)``, v ``(..., S, Ev)``: the
    score product and the weighted sum, over the whole (L, S) grid even when masked."""
    q, k, v = args[0], args[1], args[2]
    *batch, length, e = _shape(q)
    source = _shape(k)[-2]
    return math.prod(batch) * length * source * (e + _shape(v)[-1])


def _attention_blhe(args: Sequence[Any], out: Any) -> int:
    """The same for the kernels that take ``(B, L, H, E)``."""
    q, k, v = args[0], args[1], args[2]
    b, length, heads, e = _shape(q)
    return b * heads * length * _shape(k)[1] * (e + _shape(v)[-1])


def _trilinear(args: Sequence[Any], out: Any) -> int:
    """``nn.Bilinear``'s kernel: one product per point of the broadcast index space."""
    space: list[int] = []
    for tensor, expand in zip(args[:3], args[3:6], strict=True):
        shape = list(_shape(tensor))
        for dim in sorted(expand):
            shape.insert(dim, 1)
        space = [max(a, b) for a, b in zip(space or [1] * len(shape), shape, strict=True)]
    return math.prod(space)


_FORMULAS: dict[Any, Callable[[Sequence[Any], Any], int]] = {
    aten.mm.default: _mm,
    aten.addmm.default: _addmm,
    aten.addmm_.default: _addmm,
    aten._addmm_activation.default: _addmm,
    aten.bmm.default: _bmm,
    aten.baddbmm.default: _baddbmm,
    aten.baddbmm_.default: _baddbmm,
    aten.mv.default: _mv,
    aten.addmv.default: _addmv,
    aten.addmv_.default: _addmv,
    aten.dot.default: _dot,
    aten.vdot.default: _dot,
    aten.convolution.default: _convolution,
    aten._convolution.default: _convolution,
    aten._trilinear.default: _trilinear,
    aten._scaled_dot_product_flash_attention_for_cpu.default: _attention,
    aten._scaled_dot_product_flash_attention.default: _attention,
    aten._scaled_dot_product_efficient_attention.default: _attention,
    aten._scaled_dot_product_cudnn_attention.default: _attention,
    aten._scaled_dot_product_attention_math.default: _attention,
    aten._flash_attention_forward.default: _attention_blhe,
    aten._efficient_attention_forward.default: _attention_blhe,
}

#: Fused operators whose matrix work this counter cannot see. They do not run while counting
#: (see :func:`unfused`); should one run anyway, the summary names it instead of counting zero.
HIDDEN_WORK = frozenset(
    {
        "aten.mkldnn_rnn_layer.default",
        "aten._cudnn_rnn.default",
        "aten.miopen_rnn.default",
        "aten._native_multi_head_attention.default",
        "aten._transformer_encoder_layer_fwd.default",
        "aten.mkldnn_linear.default",
        "aten.mkldnn_convolution.default",
    }
)


@contextmanager
def unfused() -> Iterator[None]:
    """Run recurrent layers and attention as their decomposed operators (restored after)."""
    backends = (torch.backends.mkldnn, torch.backends.cudnn)
    before = [bool(getattr(b, "enabled")) for b in backends]  # noqa: B009 (a typed ContextProp)
    fast_path = torch.backends.mha.get_fastpath_enabled()
    for backend in backends:
        setattr(backend, "enabled", False)  # noqa: B010
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        for backend, enabled in zip(backends, before, strict=True):
            setattr(backend, "enabled", enabled)  # noqa: B010
        torch.backends.mha.set_fastpath_enabled(fast_path)


class OpCounter(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """Counts multiply-adds per module name while active; hooks ``modules`` while entered.

    ``macs[name]`` sums the operators run directly by that module (its children count their
    own); ``outputs[name]`` is the module's last output; ``hidden`` lists ``(name, operator)``
    for fused operators whose work could not be counted. ``""`` is the model itself.
    """

    def __init__(self, modules: Sequence[tuple[str, nn.Module]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._modules = modules
        self._stack: list[str] = []
        self._handles: list[Any] = []
        self.macs: dict[str, int] = {}
        self.outputs: dict[str, Any] = {}
        self.hidden: list[tuple[str, str]] = []

    def __enter__(self) -> OpCounter:
        for name, module in self._modules:

            def enter(_mod: nn.Module, _inp: Any, name: str = name) -> None:
                self._stack.append(name)

            def leave(_mod: nn.Module, _inp: Any, out: Any, name: str = name) -> None:
                if self._stack and self._stack[-1] == name:
                    self._stack.pop()
                self.outputs[name] = out

            self._handles.append(module.register_forward_pre_hook(enter))
            self._handles.append(module.register_forward_hook(leave))
        super().__enter__()  # type: ignore[no-untyped-call]
        return self

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)  # type: ignore[no-untyped-call]
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        owner = self._stack[-1] if self._stack else ""
        formula = _FORMULAS.get(func)
        if formula is not None:
            self.macs[owner] = self.macs.get(owner, 0) + formula(args, out)
        elif str(func) in HIDDEN_WORK:
            self.hidden.append((owner, str(func)))
        return out
