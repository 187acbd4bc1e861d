"""What is in ``model.parameters()``, layer by layer: parameter tables and model summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ._device import resolve_device
from ._memory import check_fits
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

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if c.replace(",", "").replace(".", "").isdigit() else c.ljust(w)
            for c, w in zip(cells, widths, strict=True)
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
    """One leaf layer of a :class:`ModelSummary`."""

    name: str
    layer_type: str
    output_shape: tuple[int, ...] | None
    params: int
    macs: int


@dataclass(frozen=True)
class ModelSummary:
    """The result of :func:`summary`; ``str(s)`` renders a torchinfo-like table."""

    layers: tuple[LayerRow, ...]
    total_params: int
    trainable_params: int
    input_size: tuple[int, ...] | None

    @property
    def total_macs(self) -> int:
        """Multiply-adds of one forward pass at ``input_size`` (0 without an input size)."""
        return sum(r.macs for r in self.layers)

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "layers": [
                {
                    **asdict(r),
                    "output_shape": None if r.output_shape is None else list(r.output_shape),
                }
                for r in self.layers
            ],
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "total_macs": self.total_macs,
            "input_size": None if self.input_size is None else list(self.input_size),
        }

    def __str__(self) -> str:
        shaped = self.input_size is not None
        headers = [
            "layer",
            "type",
            *(["output shape"] if shaped else []),
            "params",
            *(["mult-adds"] if shaped else []),
        ]
        rows = []
        for r in self.layers:
            shape = [str(list(r.output_shape)) if r.output_shape is not None else "-"]
            rows.append(
                [
                    r.name,
                    r.layer_type,
                    *(shape if shaped else []),
                    f"{r.params:,}",
                    *([f"{r.macs:,}"] if shaped else []),
                ]
            )
        footer = [
            f"total params: {self.total_params:,}",
            f"trainable params: {self.trainable_params:,}",
            f"non-trainable params: {self.total_params - self.trainable_params:,}",
        ]
        if shaped:
            footer.append(f"mult-adds for input {list(self.input_size or ())}: {self.total_macs:,}")
        return _render(headers, rows, footer)


def _macs(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d):
        kernel = math.prod(module.kernel_size)
        return output.numel() * (module.in_channels // module.groups) * kernel
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, nn.Bilinear):
        return output.numel() * module.in1_features * module.in2_features
    return 0


def summary(
    model: nn.Module,
    input_size: Sequence[int] | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = "cpu",
) -> ModelSummary:
    """Layer-by-layer parameters, and with ``input_size`` output shapes and multiply-adds.

    Parameters
    ----------
    model : torch.nn.Module
        The model; it is run once on zeros of ``input_size`` (in eval mode, without gradients)
        when an input size is given, and left in the mode it was in.
    input_size : sequence of int, optional
        Full input shape including the batch, e.g. ``(1, 1, 28, 28)``.
    dtype : torch.dtype
        Dtype of the probe input.
    device : str or torch.device, optional
        Where to run the probe (the model is moved there).

    Returns
    -------
    ModelSummary
        Leaf layers in registration order. Each parameter is counted once, by the first layer
        that owns it, so the totals equal ``sum(p.numel() for p in model.parameters())`` even
        when layers share weights.

    Examples
    --------
    >>> from nnkit.models import MnistCNN
    >>> s = summary(MnistCNN(depth=2), (1, 1, 28, 28))
    >>> s.total_params == sum(p.numel() for p in MnistCNN(depth=2).parameters())
    True
    >>> s.layers[0].output_shape
    (1, 16, 26, 26)
    """
    seen: set[int] = set()
    own: dict[str, int] = {}
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    for name, module in [("", model), *leaves, *model.named_modules()]:
        count = 0
        for p in module.parameters(recurse=False):
            if id(p) not in seen:
                seen.add(id(p))
                count += p.numel()
        if count:
            own[name or "(model)"] = own.get(name or "(model)", 0) + count
    outputs: dict[str, tuple[tuple[int, ...], int]] = {}
    if input_size is not None:
        if not all(is_int(d) and d > 0 for d in input_size):
            raise InvalidArgumentError(
                f"input_size must be positive integers such as (1, 1, 28, 28), got "
                f"{tuple(input_size)!r}",
                parameter="input_size",
            )
        dev = resolve_device(device)
        probe = math.prod(input_size) * torch.empty((), dtype=dtype).element_size()
        check_fits(probe, f"the probe input of shape {tuple(input_size)}", "input_size",
                   "use a smaller batch or input size", device=dev)  # fmt: skip
        handles = []
        for name, module in leaves:

            def hook(mod: nn.Module, _inp: Any, out: Any, name: str = name) -> None:
                if isinstance(out, torch.Tensor):  # a layer called twice counts its work twice
                    previous = outputs.get(name, ((), 0))[1]
                    outputs[name] = (tuple(out.shape), previous + _macs(mod, out))

            handles.append(module.register_forward_hook(hook))
        was_training = model.training
        try:
            model.to(dev).eval()
            with torch.no_grad():
                model(torch.zeros(tuple(input_size), dtype=dtype, device=dev))
        finally:
            for h in handles:
                h.remove()
            model.train(was_training)
    names = [n for n, _ in leaves]
    names += [n for n in own if n not in names]
    modules = dict(model.named_modules())
    rows = []
    for name in names:
        module = modules.get(name, model)
        shape, macs = outputs.get(name, (None, 0))
        rows.append(LayerRow(name, type(module).__name__, shape, own.get(name, 0), macs))
    params = list(model.parameters())
    return ModelSummary(
        layers=tuple(rows),
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        input_size=None if input_size is None else tuple(input_size),
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
