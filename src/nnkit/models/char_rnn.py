"""A character-level language model: embedding, recurrent cell, linear read-out."""

from __future__ import annotations

from typing import Literal, TypeAlias, cast, get_args

import torch
import torch.nn.functional as F
from torch import nn

from .._memory import FLOAT_BYTES, check_fits
from ..errors import InvalidArgumentError
from ._recurrence import linear_recurrence

__all__ = ["CELLS", "SIZE_LIMITS", "CellName", "CharRNN", "SeedCell", "State", "parameter_count"]

CellName: TypeAlias = Literal["gru", "lstm", "rnn", "seed"]
CELLS: tuple[str, ...] = get_args(CellName)
State: TypeAlias = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class SeedCell(nn.Module):
    """The notes' RNN cell over whole sequences, with the notes' layers and arithmetic.

    The notes step one character at a time: ``combined = cat(one_hot(x_t), h)``,
    ``h <- i2h(combined)``, ``out_t = log_softmax(i2o(combined))``. Because the input is one-hot,
    ``i2h(combined) = W_x[:, x_t] + W_h h + b``: this module looks the input columns up for all
    time steps at once, runs only the (linear) recurrence ``h_t = W_x[:, x_t] + W_h h_{t-1} + b``
    step by step, and computes every output from the hidden state *before* its step (as the
    notes' ``combined`` does) in one batched product. Same parameters (``i2h``, ``i2o``, same
    shapes), same function; the tests check it against :class:`~nnkit.models.NotesRNN`.
    """

    def __init__(self, vocab_size: int, hidden_size: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(vocab_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(vocab_size + hidden_size, vocab_size)
        self.softmax = nn.LogSoftmax(dim=-1)

    def forward(
        self, ids: torch.Tensor, hidden: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch = ids.shape[0]
        V = self.vocab_size
        if hidden is None:
            hidden = ids.new_zeros((batch, self.hidden_size), dtype=self.i2h.weight.dtype)
        # (T, B, H), time-major so that each step reads one contiguous block
        x_to_h = F.embedding(ids.t(), self.i2h.weight[:, :V].t().contiguous()) + self.i2h.bias
        # h_t = W_x[:, x_t] + b + W_h h_{t-1}: one matrix product per step, gradients batched
        states = linear_recurrence(x_to_h, hidden, self.i2h.weight[:, V:])
        previous = states[:-1].transpose(0, 1)  # (B, T, H): the hidden state each output sees
        h = states[-1]
        x_to_o = F.embedding(ids, self.i2o.weight[:, :V].t().contiguous())
        out = x_to_o + previous @ self.i2o.weight[:, V:].t() + self.i2o.bias
        return self.softmax(out), h


#: The largest value each size of a :class:`CharRNN` may take (the vocabulary: every Unicode
#: code point and the unknown character).
SIZE_LIMITS = {
    "vocab_size": 0x110001,
    "hidden_size": 65536,
    "num_layers": 128,
    "embedding_dim": 65536,
}


def parameter_count(
    vocab_size: int,
    *,
    cell: CellName = "gru",
    hidden_size: int = 256,
    num_layers: int = 2,
    embedding_dim: int = 64,
) -> int:
    """The number of parameters of ``CharRNN(vocab_size, ...)``, computed without building it.

    Examples
    --------
    >>> parameter_count(80, hidden_size=32, num_layers=1) == sum(
    ...     p.numel() for p in CharRNN(80, hidden_size=32, num_layers=1).parameters())
    True
    """
    v, h = vocab_size, hidden_size
    if cell == "seed":
        return (v + h) * h + h + (v + h) * v + v
    gates = {"gru": 3, "lstm": 4, "rnn": 1}[cell]
    layers = sum(
        gates * h * ((embedding_dim if i == 0 else h) + h) + 2 * gates * h
        for i in range(num_layers)
    )
    return v * embedding_dim + layers + h * v + v


class CharRNN(nn.Module):
    """Predict the next character from the previous ones.

    Parameters
    ----------
    vocab_size : int
        Number of distinct characters V (``len(vocab)``).
    cell : {"gru", "lstm", "rnn", "seed"}
        ``"gru"``, ``"lstm"`` and ``"rnn"`` (tanh) are PyTorch's multi-layer cells over a
        learned embedding. ``"seed"`` is the notes' own cell
        (:class:`~nnkit.models.char_rnn.SeedCell`: one-hot input,
        linear ``i2h`` and ``i2o`` layers, log-softmax output), kept so that the notes' design can
        be trained and compared honestly; ``num_layers``, ``embedding_dim`` and ``dropout`` do
        not apply to it.
    hidden_size : int
        Hidden units per layer.
    num_layers : int
        Stacked recurrent layers.
    embedding_dim : int
        Size of the character embedding.
    dropout : float
        Dropout between recurrent layers and before the read-out, *locked* over time
        (variational dropout, as in AWD-LSTM): each sequence of a batch draws one mask per unit
        and keeps it for all its time steps. The default 0.3 is what a corpus of a few hundred
        thousand characters needs: without it the model memorises the training text within
        minutes (measured in the text tutorial); use 0 for large corpora. The recurrent layers
        are one PyTorch module each (``layers[i]``) so that the mask can sit between them;
        together they compute what PyTorch's multi-layer module computes (tested).

    Shape
    -----
    - ``ids``: ``(B, T)`` int64 character ids.
    - ``state``: None (zeros), or what the previous call returned.
    - Output: ``(logits (B, T, V), state)``. For ``"seed"`` the logits are log-probabilities
      (the notes' log-softmax), which cross entropy treats the same way.

    Examples
    --------
    >>> model = CharRNN(80, hidden_size=32, num_layers=1)
    >>> logits, state = model(torch.zeros(4, 10, dtype=torch.long))
    >>> logits.shape, state.shape
    (torch.Size([4, 10, 80]), torch.Size([1, 4, 32]))
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        cell: CellName = "gru",
        hidden_size: int = 256,
        num_layers: int = 2,
        embedding_dim: int = 64,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
            ("embedding_dim", embedding_dim),
        ):
            high = SIZE_LIMITS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise InvalidArgumentError(
                    f"CharRNN {name} must be an integer in [1, {high}], got {value!r}",
                    parameter=name,
                )
        if cell not in CELLS:
            raise InvalidArgumentError(
                f"CharRNN cell must be one of {', '.join(CELLS)}, got {cell!r}", parameter="cell"
            )
        if not 0.0 <= dropout < 1.0:
            raise InvalidArgumentError(
                f"dropout must be in [0, 1), got {dropout!r}", parameter="dropout"
            )
        if torch.empty(0).device.type != "meta":  # a skeleton of shapes allocates nothing
            count = parameter_count(
                vocab_size,
                cell=cell,
                hidden_size=hidden_size,
                num_layers=num_layers,
                embedding_dim=embedding_dim,
            )
            check_fits(
                count * FLOAT_BYTES,
                f"a CharRNN of {count:,} parameters (hidden_size {hidden_size}, "
                f"num_layers {num_layers})",
                "hidden_size",
                "use a smaller hidden_size or num_layers",
            )
        self.vocab_size = vocab_size
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers if cell != "seed" else 1
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.seed_cell: SeedCell | None = None
        if cell == "seed":
            self.seed_cell = SeedCell(vocab_size, hidden_size)
            return
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        rnn_class = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}[cell]
        # one module per layer, so that the dropout between layers can be locked over time
        self.layers = nn.ModuleList(
            rnn_class(embedding_dim if i == 0 else hidden_size, hidden_size, batch_first=True)
            for i in range(num_layers)
        )
        self.head = nn.Linear(hidden_size, vocab_size)

    def config(self) -> dict[str, int | float | str]:
        """The constructor's arguments, to rebuild the same model."""
        return {
            "vocab_size": self.vocab_size,
            "cell": self.cell,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "embedding_dim": self.embedding_dim,
            "dropout": self.dropout,
        }

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits ``(B, T, V)`` for ids ``(B, T)``, and the state to continue from."""
        self._check_inputs(ids, state)
        if self.seed_cell is not None:
            try:
                log_probs, hidden = self.seed_cell(ids, state)
            except IndexError:
                raise self._ids_out_of_range(ids) from None
            return log_probs, hidden
        features, new_state = self.features(ids, state)
        return self.head(features), new_state

    def _check_inputs(self, ids: torch.Tensor, state: State | None) -> None:
        """Shapes and types only (no look at the values, so no device synchronisation)."""
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise InvalidArgumentError(
                f"CharRNN expects int64 ids of shape (B, T), got {ids.dtype} {tuple(ids.shape)}",
                parameter="ids",
            )
        if state is None:
            return
        batch = ids.shape[0]
        shape: tuple[int, ...] = (self.num_layers, batch, self.hidden_size)
        kind = "a pair of tensors (h, c)" if self.cell == "lstm" else "one tensor"
        if self.cell == "seed":
            shape = (batch, self.hidden_size)
        parts = state if isinstance(state, tuple) else (state,)
        if (
            len(parts) != (2 if self.cell == "lstm" else 1)
            or isinstance(state, tuple) != (self.cell == "lstm")
            or any(not isinstance(t, torch.Tensor) or tuple(t.shape) != shape for t in parts)
        ):
            got = ", ".join(str(tuple(getattr(t, "shape", ()))) for t in parts)
            raise InvalidArgumentError(
                f"CharRNN(cell={self.cell!r}) state must be {kind} of shape {shape} for a batch "
                f"of {batch}, as the previous call returned; got {type(state).__name__} {got}",
                parameter="state",
            )

    def _ids_out_of_range(self, ids: torch.Tensor) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"CharRNN ids must lie in [0, {self.vocab_size}) (vocab_size), got values from "
            f"{int(ids.min())} to {int(ids.max())}; encode text with the model's own Vocab",
            parameter="ids",
        )

    def features(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """What the read-out sees: the last layer's outputs after dropout, and the new state.

        For trying another read-out on the same embedding and recurrent layers (the
        adaptive-softmax benchmark does). Not for the ``"seed"`` cell, whose output layer
        reads the one-hot input too.

        Parameters
        ----------
        ids : torch.Tensor
            ``(B, T)`` int64 character ids.
        state : optional
            None (zeros), or what the previous call returned.

        Returns
        -------
        tuple
            ``(features (B, T, H), state)``.

        Examples
        --------
        >>> model = CharRNN(80, hidden_size=32)
        >>> features, state = model.features(torch.zeros(4, 10, dtype=torch.long))
        >>> features.shape, state.shape
        (torch.Size([4, 10, 32]), torch.Size([2, 4, 32]))
        """
        if self.seed_cell is not None:
            raise InvalidArgumentError(
                "the seed cell has no separate read-out: call the model instead"
            )
        try:
            out = self.embedding(ids)
        except IndexError:  # the CPU reports it; CUDA asserts on the device
            raise self._ids_out_of_range(ids) from None
        states: list[State] = []
        for i, layer in enumerate(self.layers):
            if i > 0:
                out = self._locked_dropout(out)
            out, layer_state = layer(out, None if state is None else _layer_state(state, i))
            states.append(layer_state)
        return self._locked_dropout(out), _stack_states(states)

    def _locked_dropout(self, x: torch.Tensor) -> torch.Tensor:
        """Variational dropout: one mask per sequence, the same at every time step."""
        if not self.training or self.dropout == 0.0:
            return x
        keep = 1.0 - self.dropout
        mask = x.new_empty((x.shape[0], 1, x.shape[2])).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}, vocab_size={self.vocab_size}"


def _layer_state(state: State, i: int) -> State:
    if isinstance(state, tuple):
        return (state[0][i : i + 1], state[1][i : i + 1])
    return state[i : i + 1]


def _stack_states(states: list[State]) -> State:
    """Per-layer states ``(1, B, H)`` (or LSTM pairs) -> ``(L, B, H)`` as ``nn.GRU`` returns."""
    if isinstance(states[0], tuple):
        pairs = cast(list[tuple[torch.Tensor, torch.Tensor]], states)
        return (torch.cat([h for h, _ in pairs]), torch.cat([c for _, c in pairs]))
    return torch.cat(cast(list[torch.Tensor], states))
