"""The hand-written recurrence of the notes' cell against a plain autograd loop (float64)."""

from __future__ import annotations

import torch

from nnkit.models import CharRNN, NotesRNN
from nnkit.models._recurrence import linear_recurrence

TOL = {"rtol": 0.0, "atol": 1e-12}


def test_linear_recurrence_passes_gradcheck() -> None:
    torch.manual_seed(0)
    u = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    w = (torch.randn(3, 3, dtype=torch.float64) * 0.5).requires_grad_()
    assert torch.autograd.gradcheck(linear_recurrence, (u, h0, w))


def test_linear_recurrence_equals_the_autograd_loop() -> None:
    torch.manual_seed(0)
    u = torch.randn(6, 3, 5, dtype=torch.float64)
    h0 = torch.randn(3, 5, dtype=torch.float64)
    w = torch.randn(5, 5, dtype=torch.float64) * 0.5
    weights = torch.randn(7, 3, 5, dtype=torch.float64)

    def run(custom: bool) -> tuple[torch.Tensor, ...]:
        ui, hi, wi = (t.clone().requires_grad_() for t in (u, h0, w))
        if custom:
            states = linear_recurrence(ui, hi, wi)
        else:
            h, seen = hi, [hi]
            for t in range(6):
                h = ui[t] + h @ wi.t()
                seen.append(h)
            states = torch.stack(seen)
        (states * weights).sum().backward()
        return states.detach(), ui.grad, hi.grad, wi.grad  # type: ignore[return-value]

    for mine, reference in zip(run(True), run(False), strict=True):
        torch.testing.assert_close(mine, reference, **TOL)


def test_seed_cell_gradients_equal_the_notes_cell() -> None:
    torch.manual_seed(0)
    model = CharRNN(11, cell="seed", hidden_size=6).double()
    notes = NotesRNN(11, 6, 11).double()
    notes.load_state_dict({k.removeprefix("seed_cell."): v for k, v in model.state_dict().items()})
    ids = torch.randint(0, 11, (2, 7))
    log_probs, hidden = model(ids)
    (log_probs.sum() + hidden.square().sum()).backward()
    h = torch.zeros(2, 6, dtype=torch.float64)
    total = torch.zeros((), dtype=torch.float64)
    for t in range(7):
        out, h = notes(torch.nn.functional.one_hot(ids[:, t], 11).double(), h)
        total = total + out.sum()
    (total + h.square().sum()).backward()
    for (name, mine), theirs in zip(model.named_parameters(), notes.parameters(), strict=True):
        torch.testing.assert_close(mine.grad, theirs.grad, **TOL, msg=name)
