"""A small causal transformer over characters, beside :class:`~nnkit.models.CharRNN`.

Pre-norm blocks (GPT-2's order: ``x + attn(ln(x))``, ``x + mlp(ln(x))``), rotary positions
(RoFormer), attention through :func:`torch.nn.functional.scaled_dot_product_attention`, and the
output layer tied to the embedding. Each position attends to the ``context`` positions up to and
including itself (a sliding window; through ``L`` layers a position sees ``L * (context - 1)``
characters back, as in Longformer or Mistral), and the keys and values of the last ``context - 1``
positions are the model's *state*: a call returns them and the next call continues from them, as a
recurrent model continues from its hidden state. Rotary positions make that exact, since they encode
only the distance between two positions: a key cached at position 1,000 means the same to a query 10
positions later as one cached at position 10. So the same model trains on consecutive batches of a
text (:class:`~nnkit.text.CarryState`, the cache detached like a truncated recurrence, as in
Transformer-XL) and generates one character at a time from its key/value cache.
"""

from __future__ import annotations

import math
from typing import Any, TypeAlias

import torch
import torch.nn.functional as F
from torch import nn

from .._memory import FLOAT_BYTES, check_fits
from ..errors import InvalidArgumentError

__all__ = ["SIZE_LIMITS", "CharTransformer", "TransformerState", "parameter_count"]

#: ``(position, ((k, v) per layer))``: how many positions came before, and the keys and values
#: ``(B, heads, M, head_dim)`` of the last ``M <= context - 1`` of them.
TransformerState: TypeAlias = tuple[int, tuple[tuple[torch.Tensor, torch.Tensor], ...]]

#: The largest value each size of a :class:`CharTransformer` may take.
SIZE_LIMITS = {
    "vocab_size": 0x110001,
    "d_model": 16384,
    "num_layers": 128,
    "num_heads": 256,
    "context": 1 << 20,
}


def parameter_count(
    vocab_size: int, *, d_model: int = 192, num_layers: int = 3, tie_weights: bool = True
) -> int:
    """The number of parameters of ``CharTransformer(vocab_size, ...)``, without building it
    (the MLP is 4 ``d_model`` wide).

    Examples
    --------
    >>> model = CharTransformer(80, d_model=32, num_layers=2, num_heads=2)
    >>> parameter_count(80, d_model=32, num_layers=2) == sum(p.numel() for p in model.parameters())
    True
    """
    d = d_model
    block = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
    head = vocab_size + (0 if tie_weights else vocab_size * d)
    return vocab_size * d + num_layers * block + 2 * d + head


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding of ``x (B, H, T, E)``: each pair of channels turned by its angle."""
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)


class _Block(nn.Module):
    def __init__(self, d_model: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )
        self.dropout = dropout

    def forward(
        self,
        x: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor],
        cache: tuple[torch.Tensor, torch.Tensor] | None,
        mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.num_heads, d // self.num_heads).unbind(2)
        cos, sin = rotary
        q = _rotate(q.transpose(1, 2), cos, sin)  # (B, H, T, E)
        k = _rotate(k.transpose(1, 2), cos, sin)
        v = v.transpose(1, 2)
        if cache is not None:
            k, v = torch.cat((cache[0], k), dim=2), torch.cat((cache[1], v), dim=2)
        p = self.dropout if self.training else 0.0
        # no dropout on the attention weights: it would force the unfused kernel on a CPU
        if mask is None:  # no cache and a window as long as the input: plain causal attention
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).reshape(b, t, d)
        x = x + F.dropout(self.proj(y), p, self.training)
        x = x + F.dropout(self.mlp(self.ln2(x)), p, self.training)
        return x, (k, v)


class CharTransformer(nn.Module):
    """Predict the next character from the previous ``context`` ones with a causal transformer.

    The defaults (192 wide, 3 layers of 3 heads, a context of 128) are the model that
    ``nnkit text train --model transformer`` trains and that docs/text.rst and the benchmarks
    measure.

    Parameters
    ----------
    vocab_size : int
        Number of distinct characters V (``len(vocab)``).
    d_model : int
        Width of the residual stream (and of the embedding).
    num_layers : int
        Transformer blocks.
    num_heads : int, optional
        Attention heads; ``d_model / num_heads`` must be even (rotary positions turn pairs).
        By default ``d_model / 64`` (heads of 64 channels, as GPT-2's).
    context : int
        Positions each one attends to, itself included.
    dropout : float
        On the embedding and on each block's two residual branches (not on the attention
        weights: that would force the unfused attention kernel on a CPU).
    tie_weights : bool
        The output layer uses the embedding matrix (Press and Wolf, 2017): fewer parameters,
        which on a corpus of a few hundred thousand characters is what generalises.

    Shape
    -----
    - ``ids``: ``(B, T)`` int64 character ids, any ``T``.
    - ``state``: None (the start of a text), or what the previous call returned
      (:data:`~nnkit.models.char_transformer.TransformerState`).
    - Output: ``(logits (B, T, V), state)``.

    Examples
    --------
    >>> model = CharTransformer(80, d_model=32, num_layers=2, num_heads=2, context=16).eval()
    >>> ids = torch.randint(0, 80, (3, 20))
    >>> logits, state = model(ids)
    >>> logits.shape, state[0], state[1][0][0].shape   # 15 = context - 1 cached positions
    (torch.Size([3, 20, 80]), 20, torch.Size([3, 2, 15, 16]))
    >>> first, state = model(ids[:, :12])              # the same text in two calls
    >>> rest, _ = model(ids[:, 12:], state)
    >>> torch.allclose(torch.cat((first, rest), dim=1), logits, atol=1e-5)
    True
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        d_model: int = 192,
        num_layers: int = 3,
        num_heads: int | None = None,
        context: int = 128,
        dropout: float = 0.1,
        tie_weights: bool = True,
    ) -> None:
        super().__init__()
        sizes = {
            "vocab_size": vocab_size,
            "d_model": d_model,
            "num_layers": num_layers,
            "num_heads": num_heads,
            "context": context,
        }
        for name, value in sizes.items():
            high = SIZE_LIMITS[name]
            if value is None:  # num_heads: from d_model, below
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise InvalidArgumentError(
                    f"CharTransformer {name} must be an integer in [1, {high}], got {value!r}",
                    parameter=name,
                )
        if num_heads is None:
            if d_model % 64:
                raise InvalidArgumentError(
                    f"CharTransformer num_heads defaults to d_model / 64, which is not a whole "
                    f"number for d_model={d_model}; give num_heads",
                    parameter="num_heads",
                )
            num_heads = d_model // 64
        if d_model % num_heads or (d_model // num_heads) % 2:
            raise InvalidArgumentError(
                f"CharTransformer d_model must be num_heads times an even head size, got "
                f"d_model={d_model} with num_heads={num_heads}",
                parameter="d_model",
            )
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, int | float)
            or not (0.0 <= dropout < 1.0)
        ):
            raise InvalidArgumentError(
                f"dropout must be in [0, 1), got {dropout!r}", parameter="dropout"
            )
        if not isinstance(tie_weights, bool):
            raise InvalidArgumentError(
                f"tie_weights must be True or False, got {tie_weights!r}", parameter="tie_weights"
            )
        if torch.empty(0).device.type != "meta":
            count = parameter_count(
                vocab_size, d_model=d_model, num_layers=num_layers, tie_weights=tie_weights
            )
            check_fits(
                count * FLOAT_BYTES,
                f"a CharTransformer of {count:,} parameters (d_model {d_model}, "
                f"num_layers {num_layers})",
                "d_model",
                "use a smaller d_model or num_layers",
            )
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.context = context
        self.dropout = float(dropout)
        self.tie_weights = tie_weights
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.blocks = nn.ModuleList(
            _Block(d_model, num_heads, self.dropout) for _ in range(num_layers)
        )
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        if tie_weights:
            self.head.weight = self.embedding.weight
        half = d_model // num_heads // 2
        inv_freq = 1.0 / (10000.0 ** (torch.arange(half, dtype=torch.float64) / half))
        self.register_buffer("inv_freq", inv_freq.float(), persistent=False)
        self._init_weights()

    def _init_weights(self) -> None:
        """GPT-2's: normal(0, 0.02), the residual projections scaled by 1/sqrt(2 * layers)."""
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for name, param in self.named_parameters():
            if name.endswith(("proj.weight", "mlp.2.weight")):  # the two residual projections
                nn.init.normal_(param, std=0.02 / math.sqrt(2 * self.num_layers))

    def config(self) -> dict[str, int | float | str | bool]:
        """The constructor's arguments, to rebuild the same model."""
        return {
            "vocab_size": self.vocab_size,
            "d_model": self.d_model,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "context": self.context,
            "dropout": self.dropout,
            "tie_weights": self.tie_weights,
        }

    def forward(
        self, ids: torch.Tensor, state: TransformerState | None = None
    ) -> tuple[torch.Tensor, TransformerState]:
        """Logits ``(B, T, V)`` for ids ``(B, T)``, and the state to continue from."""
        start, caches = self._check_inputs(ids, state)
        t = ids.shape[1]
        cached = caches[0][0].shape[2] if caches else 0
        # angles in float64: a float32 product loses the angle's fraction past ~10^4 positions
        positions = torch.arange(start, start + t, device=ids.device, dtype=torch.float64)
        inv_freq: torch.Tensor = self.inv_freq  # type: ignore[assignment]
        angles = positions[:, None] * inv_freq.double()[None, :]  # (T, E/2)
        dtype = self.embedding.weight.dtype
        rotary = (angles.cos().to(dtype), angles.sin().to(dtype))
        mask = None
        if cached or t > self.context:  # each query sees its last `context` positions only
            query = torch.arange(cached, cached + t, device=ids.device)[:, None]
            key = torch.arange(cached + t, device=ids.device)[None, :]
            mask = (key <= query) & (key > query - self.context)
        x = F.dropout(self.embedding(ids), self.dropout, self.training)
        keep = self.context - 1
        new_caches = []
        for i, block in enumerate(self.blocks):
            x, (k, v) = block(x, rotary, caches[i] if caches else None, mask)
            new_caches.append(
                (k[:, :, -keep:], v[:, :, -keep:]) if keep else (k[:, :, :0], v[:, :, :0])
            )
        return self.head(self.ln_f(x)), (start + t, tuple(new_caches))

    def _check_inputs(
        self, ids: torch.Tensor, state: TransformerState | None
    ) -> tuple[int, tuple[tuple[torch.Tensor, torch.Tensor], ...]]:
        """Shapes and types only (no look at the values, so no device synchronisation)."""
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
            got = f"{ids.dtype} {tuple(ids.shape)}" if isinstance(ids, torch.Tensor) else type(ids)
            raise InvalidArgumentError(
                f"CharTransformer expects int64 ids of shape (B, T), got {got}", parameter="ids"
            )
        if state is None:
            return 0, ()
        batch, heads, head = ids.shape[0], self.num_heads, self.d_model // self.num_heads
        ok = (
            isinstance(state, tuple)
            and len(state) == 2
            and isinstance(state[0], int)
            and isinstance(state[1], tuple)
            and len(state[1]) == self.num_layers
        )
        if ok:
            for pair in state[1]:
                ok = (
                    ok
                    and isinstance(pair, tuple)
                    and len(pair) == 2
                    and all(
                        isinstance(t, torch.Tensor)
                        and t.dim() == 4
                        and (t.shape[0], t.shape[1], t.shape[3]) == (batch, heads, head)
                        and t.shape[2] < self.context
                        for t in pair
                    )
                )
        if not ok:
            raise InvalidArgumentError(
                f"CharTransformer state must be what the previous call returned for a batch of "
                f"{batch}: (position, one (keys, values) pair per layer of shape ({batch}, "
                f"{heads}, M < {self.context}, {head})), got {_describe(state)}",
                parameter="state",
            )
        return state[0], state[1]

    def extra_repr(self) -> str:
        return f"context={self.context}, tie_weights={self.tie_weights}"


def _describe(state: Any) -> str:
    if isinstance(state, tuple):
        return "tuple of " + ", ".join(type(s).__name__ for s in state)
    return type(state).__name__
