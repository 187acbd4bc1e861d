"""What is in ``model.parameters()``, layer by layer: parameter tables and model summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

from ._device import resolve_device
from ._memory import check_fits
from ._op_count import OpCounter, unfused
from ._validate import is_int
from .errors import InvalidArgumentError

__all__ = [
    "LayerRow",
    "ModelSummary",
    "ParameterRow",
    "ParameterTable",
    "collapse_linear",
    "parameter_table",
    "summary",
]


def _render(headers: Sequence[str], rows: Sequence[Sequence[str]], footer: Sequence[str]) -> str:
    """A plain-text table with right-aligned numbers."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:  # the first column names a row, even "0"
        return "  ".join(
            c.rjust(w) if i and c.replace(",", "").replace(".", "").isdigit() else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "-" * len(line(["-" * w for w in widths]))
    return "\n".join([line(headers), rule, *(line(r) for r in rows), rule, *footer])


@dataclass(frozen=True)
class ParameterRow:
    """One tensor of ``model.parameters()``."""

    index: int
    name: str
    layer: str
    layer_type: str
    shape: tuple[int, ...]
    numel: int
    trainable: bool


@dataclass(frozen=True)
class ParameterTable:
    """The rows of :func:`parameter_table`; ``str(table)`` renders it as text."""

    rows: tuple[ParameterRow, ...]

    @property
    def total(self) -> int:
        """All parameters, shared ones counted once."""
        return sum(r.numel for r in self.rows)

    @property
    def trainable(self) -> int:
        """Parameters with ``requires_grad``."""
        return sum(r.numel for r in self.rows if r.trainable)

    def to_dict(self) -> list[dict[str, Any]]:
        """The rows as plain dictionaries (shape as a list)."""
        return [{**asdict(r), "shape": list(r.shape)} for r in self.rows]

    def __str__(self) -> str:
        rows = [
            [
                str(r.index),
                r.name,
                r.layer,
                r.layer_type,
                str(list(r.shape)),
                f"{r.numel:,}",
                "yes" if r.trainable else "no",
            ]
            for r in self.rows
        ]
        footer = [f"total: {self.total:,} parameters ({self.trainable:,} trainable)"]
        headers = ["#", "name", "layer", "type", "shape", "elements", "trainable"]
        return _render(headers, rows, footer)


def parameter_table(model: nn.Module) -> ParameterTable:
    """List ``model.parameters()`` in order, saying which layer owns each tensor.

    Parameters
    ----------
    model : torch.nn.Module
        Any module. A parameter shared by several layers appears once (as in
        ``model.parameters()``), under the first name it was registered with.

    Returns
    -------
    ParameterTable
        Index, name (``conv1.weight``), owning layer and its type, shape, element count and
        whether it is trainable.

    Examples
    --------
    >>> from nnkit.models import MnistCNN
    >>> table = parameter_table(MnistCNN(depth=2))
    >>> [(r.name, r.layer_type, r.shape) for r in table.rows][:2]
    [('conv1.weight', 'Conv2d', (16, 1, 3, 3)), ('conv1.bias', 'Conv2d', (16,))]
    >>> table.total
    116234
    """
    _refuse_lazy(model, "call the model once (or summary with an input_size) first")
    rows = []
    for index, (name, param) in enumerate(model.named_parameters()):
        layer = name.rpartition(".")[0]
        owner = model.get_submodule(layer) if layer else model
        rows.append(
            ParameterRow(
                index=index,
                name=name,
                layer=layer or "(model)",
                layer_type=type(owner).__name__,
                shape=tuple(param.shape),
                numel=param.numel(),
                trainable=param.requires_grad,
            )
        )
    return ParameterTable(tuple(rows))


@dataclass(frozen=True)
class LayerRow:
    """One row of a :class:`ModelSummary`: a leaf layer, or a container with its own work.

    ``macs`` are the multiply-adds of the operators this module ran itself (its children have
    rows of their own); ``output_shapes`` are the shapes of every tensor of its output, in order
    (``(out, (h, c))`` of an LSTM gives three), and ``output_shape`` the first of them.
    """

    name: str
    layer_type: str
    output_shapes: tuple[tuple[int, ...], ...] | None
    params: int
    macs: int

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        """The shape of the first output tensor (``None`` when the layer did not run)."""
        return self.output_shapes[0] if self.output_shapes else None


@dataclass(frozen=True)
class ModelSummary:
    """The result of :func:`summary`; ``str(s)`` renders a torchinfo-like table."""

    layers: tuple[LayerRow, ...]
    total_params: int
    trainable_params: int
    input_shapes: tuple[tuple[int, ...], ...] | None
    uncounted: tuple[str, ...] = ()

    @property
    def input_size(self) -> tuple[int, ...] | None:
        """The first input's shape (``None`` without a probe)."""
        return self.input_shapes[0] if self.input_shapes else None

    @property
    def total_macs(self) -> int:
        """Multiply-adds of one forward pass of the probe (0 without one)."""
        return sum(r.macs for r in self.layers)

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        shapes = self.input_shapes
        return {
            "layers": [
                {
                    "name": r.name,
                    "layer_type": r.layer_type,
                    "output_shapes": None
                    if r.output_shapes is None
                    else [list(s) for s in r.output_shapes],
                    "params": r.params,
                    "macs": r.macs,
                }
                for r in self.layers
            ],
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "total_macs": self.total_macs,
            "input_shapes": None if shapes is None else [list(s) for s in shapes],
            "uncounted": list(self.uncounted),
        }

    def __str__(self) -> str:
        shaped = self.input_shapes is not None
        headers = [
            "layer",
            "type",
            *(["output shape"] if shaped else []),
            "params",
            *(["mult-adds"] if shaped else []),
        ]
        rows = []
        for r in self.layers:
            shape = ", ".join(str(list(s)) for s in r.output_shapes or ()) or "-"
            rows.append(
                [
                    r.name,
                    r.layer_type,
                    *([shape] if shaped else []),
                    f"{r.params:,}",
                    *([f"{r.macs:,}"] if shaped else []),
                ]
            )
        footer = [
            f"total params: {self.total_params:,}",
            f"trainable params: {self.trainable_params:,}",
            f"non-trainable params: {self.total_params - self.trainable_params:,}",
        ]
        if self.input_shapes is not None:
            inputs = " and ".join(str(list(s)) for s in self.input_shapes)
            footer.append(f"mult-adds for input {inputs}: {self.total_macs:,}")
        if self.uncounted:
            footer.append(f"not counted (fused kernels): {', '.join(self.uncounted)}")
        return _render(headers, rows, footer)


def _lazy_layers(model: nn.Module) -> list[str]:
    return [
        f"{name or '(model)'} ({type(m).__name__})"
        for name, m in model.named_modules()
        if isinstance(m, LazyModuleMixin) and m.has_uninitialized_params()  # type: ignore[misc]
    ]


def _refuse_lazy(model: nn.Module, fix: str) -> None:
    lazy = _lazy_layers(model)
    if lazy:
        raise InvalidArgumentError(
            f"the model has lazy layers whose parameters do not exist yet: {', '.join(lazy)}; "
            f"{fix}",
            parameter="model",
        )


def _tensor_shapes(out: Any) -> tuple[tuple[int, ...], ...]:
    """Shapes of every tensor in a (nested) output, in order."""
    if isinstance(out, torch.Tensor):
        return (tuple(out.shape),)
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, list | tuple):
        return tuple(s for item in out for s in _tensor_shapes(item))
    return ()


def _probe_dtype(model: nn.Module) -> torch.dtype:
    """int64 ids for a model whose first layer is an embedding, float32 otherwise."""
    for _, module in model.named_modules():
        if not list(module.children()):
            return (
                torch.long if isinstance(module, nn.Embedding | nn.EmbeddingBag) else torch.float32
            )
    return torch.float32


def _shapes(input_size: Sequence[int] | Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
    """One shape or several, each of positive integers."""
    items: list[object] = list(input_size)
    several = bool(items) and all(isinstance(i, Sequence) and not isinstance(i, str) for i in items)
    shapes = []
    for shape in items if several else [items]:
        dims = tuple(cast(Sequence[object], shape))
        if not dims or not all(is_int(d) and d > 0 for d in dims):
            raise InvalidArgumentError(
                "input_size must be positive integers such as (1, 1, 28, 28), or one such shape "
                f"per input, got {tuple(input_size)!r}",
                parameter="input_size",
            )
        shapes.append(cast(tuple[int, ...], dims))
    return shapes


def _probe(
    model: nn.Module,
    input_size: Sequence[int] | Sequence[Sequence[int]] | None,
    input_data: torch.Tensor | Sequence[torch.Tensor] | None,
    dtype: torch.dtype | None,
    dev: torch.device,
) -> list[torch.Tensor]:
    """The inputs of the probe pass, on ``dev``."""
    if input_data is not None:
        if input_size is not None:
            raise InvalidArgumentError(
                "give input_size or input_data, not both", parameter="input_data"
            )
        tensors = [input_data] if isinstance(input_data, torch.Tensor) else list(input_data)
        if not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
            got = type(input_data).__name__
            raise InvalidArgumentError(
                f"input_data must be a tensor or a sequence of tensors, got {got}",
                parameter="input_data",
            )
        return [t.to(dev) for t in tensors]
    shapes = _shapes(input_size or ())
    kind = _probe_dtype(model) if dtype is None else dtype
    size = torch.empty((), dtype=kind).element_size() * sum(math.prod(s) for s in shapes)
    described = " and ".join(str(s) for s in shapes)
    check_fits(size, f"the probe input of shape {described}", "input_size",
               "use a smaller batch or input size", device=dev)  # fmt: skip
    return [torch.zeros(s, dtype=kind, device=dev) for s in shapes]


def summary(
    model: nn.Module,
    input_size: Sequence[int] | Sequence[Sequence[int]] | None = None,
    *,
    input_data: torch.Tensor | Sequence[torch.Tensor] | None = None,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = "cpu",
) -> ModelSummary:
    """Layer-by-layer parameters, and with a probe input, output shapes and multiply-adds.

    Multiply-adds are counted at the operator level, so every product is counted wherever it
    runs: convolutions (grouped, dilated, transposed), linear and bilinear layers, recurrent
    layers and cells of every kind, attention (the projections and both matrix products, fused
    kernels included), and a module's own ``matmul``, ``@``, ``einsum`` or ``bmm``. The
    convention is one for all: the scalar products of the operator's mathematical definition;
    bias adds, norms, activations and softmax count nothing. Each operator is attributed to the
    innermost module running it, so a container with work of its own (``nn.MultiheadAttention``
    calls its projections functionally) has a row, and the rows sum to the total. While
    counting, the fused oneDNN/cuDNN recurrent kernels and the fast path of
    ``nn.MultiheadAttention`` are switched off, as they would hide their work.

    Parameters
    ----------
    model : torch.nn.Module
        The model; with a probe it is run once (in eval mode, without gradients) and left in
        the mode it was in. Lazy layers (``nn.LazyLinear``) are materialised by that run, as
        the model's first call would; without a probe they are refused.
    input_size : tuple of int or list of tuple of int, optional
        Full input shape including the batch, e.g. ``(1, 1, 28, 28)``, or one shape per input
        of a model that takes several (``[(1, 3), (1, 5)]``). The probe is zeros.
    input_data : torch.Tensor or sequence of torch.Tensor, optional
        Example inputs instead of sizes (one tensor, or one per input).
    dtype : torch.dtype, optional
        Dtype of the probe made from ``input_size``. By default int64 when the model's first
        layer is an ``nn.Embedding`` (zeros are valid ids), float32 otherwise.
    device : str or torch.device, optional
        Where to run the probe (the model is moved there).

    Returns
    -------
    ModelSummary
        Rows in ``named_modules`` order: every leaf layer, and every container that owns
        parameters or ran operators itself. Each parameter is counted once, by the first layer
        that owns it, so the totals equal ``sum(p.numel() for p in model.parameters())`` even
        when layers share weights.

    Examples
    --------
    >>> from nnkit.models import CharRNN, MnistCNN
    >>> s = summary(MnistCNN(depth=2), (1, 1, 28, 28))
    >>> s.total_params == sum(p.numel() for p in MnistCNN(depth=2).parameters())
    True
    >>> s.layers[0].output_shape
    (1, 16, 26, 26)

    A GRU over 100 characters: per step 3 gates of ``hidden x (input + hidden)`` products.

    >>> rows = {r.name: r for r in summary(CharRNN(84), (1, 100)).layers}
    >>> rows["layers.0"].macs == 100 * 3 * 256 * (64 + 256)
    True
    >>> rows["layers.0"].output_shapes
    ((1, 100, 256), (1, 1, 256))
    """
    probing = input_size is not None or input_data is not None
    if not probing:
        _refuse_lazy(model, "give input_size or input_data, and summary runs the model once")
    counter: OpCounter | None = None
    uncounted: tuple[str, ...] = ()
    if probing:
        dev = resolve_device(device)
        inputs = _probe(model, input_size, input_data, dtype, dev)
        was_training = model.training
        try:
            model.to(dev).eval()
            with torch.no_grad(), unfused():
                if _lazy_layers(model):
                    model(*inputs)  # materialise, then count a pass of the final model
                    model.to(dev)
                counter = OpCounter(list(model.named_modules()))
                with counter:
                    model(*inputs)
        finally:
            model.train(was_training)
        uncounted = tuple(sorted({f"{op} in {name or '(model)'}" for name, op in counter.hidden}))
    seen: set[int] = set()
    own: dict[str, int] = {}
    modules = list(model.named_modules())
    leaves = [(n, m) for n, m in modules if n and not list(m.children())]
    for name, module in [("", model), *leaves, *modules]:
        count = 0
        for p in module.parameters(recurse=False):
            if id(p) not in seen:
                seen.add(id(p))
                count += p.numel()
        if count:
            own[name] = own.get(name, 0) + count
    rows = []
    for name, module in modules:
        macs = counter.macs.get(name, 0) if counter else 0
        is_leaf = bool(name) and not list(module.children())
        if not (is_leaf or own.get(name) or macs):
            continue
        shapes = None
        if counter is not None and name in counter.outputs:
            shapes = _tensor_shapes(counter.outputs[name])
        rows.append(LayerRow(name or "(model)", type(module).__name__, shapes, own.get(name, 0),
                             macs))  # fmt: skip
    params = list(model.parameters())
    return ModelSummary(
        layers=tuple(rows),
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        input_shapes=None if counter is None else tuple(tuple(t.shape) for t in inputs),
        uncounted=uncounted,
    )


def _leaves(module: nn.Module) -> list[tuple[str, nn.Module]]:
    if isinstance(module, nn.Sequential):
        out = []
        for name, child in module.named_children():
            out += [(f"{name}.{n}" if n else name, m) for n, m in _leaves(child)]
        return out
    return [("", module)]


def collapse_linear(model: nn.Module) -> nn.Linear:
    r"""The single ``nn.Linear`` that computes what a stack of linear layers computes.

    Two affine layers compose into one:
    :math:`W_2 (W_1 x + b_1) + b_2 = (W_2 W_1) x + (W_2 b_1 + b_2)`; by induction, any depth
    does. This is why a network needs a non-linear activation: without one, depth adds nothing
    a single layer could not do.

    Parameters
    ----------
    model : torch.nn.Module
        An ``nn.Linear``, or an ``nn.Sequential`` (such as :class:`~nnkit.models.MLP` with
        ``activation=None``) of ``nn.Linear``, ``nn.Identity`` and ``nn.Flatten`` layers, possibly
        nested.

    Returns
    -------
    torch.nn.Linear
        A new layer (float64 arithmetic, then the model's dtype) with
        ``collapsed(x) == model(x)`` up to rounding.

    Raises
    ------
    ValueError
        If a layer is not linear; the message names it (``layer 1 (ReLU) makes the model
        non-linear``).

    Examples
    --------
    >>> from nnkit.models import MLP
    >>> model = MLP([3, 16, 16, 2], activation=None)
    >>> single = collapse_linear(model)
    >>> x = torch.randn(5, 3)
    >>> torch.allclose(single(x), model(x), atol=1e-5)
    True
    >>> collapse_linear(MLP([3, 4, 2], activation="tanh"))
    Traceback (most recent call last):
    ...
    nnkit.errors.InvalidArgumentError: layer 1 (Tanh) makes the model non-linear: ...
    """
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None
    dtype = torch.float32
    for name, layer in _leaves(model):
        if isinstance(layer, nn.Identity | nn.Flatten):
            continue
        if not isinstance(layer, nn.Linear):
            raise InvalidArgumentError(
                f"layer {name or '(model)'} ({type(layer).__name__}) makes the model non-linear: "
                "only Linear, Identity and Flatten layers collapse into one"
            )
        w = layer.weight.detach().double()
        b = None if layer.bias is None else layer.bias.detach().double()
        dtype = layer.weight.dtype
        if weight is None:
            weight, bias = w, b
            continue
        new_bias = None if bias is None else w @ bias
        if b is not None:
            new_bias = b if new_bias is None else new_bias + b
        weight, bias = w @ weight, new_bias
    if weight is None:
        raise InvalidArgumentError("the model has no Linear layer to collapse")
    out = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None, dtype=torch.float64)
    with torch.no_grad():
        out.weight.copy_(weight)
        if bias is not None:
            out.bias.copy_(bias)
    return out.to(dtype)
