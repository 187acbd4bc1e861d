"""A hand-written recurrence for the notes' cell: ``h_t = u_t + h_{t-1} W^T``.

Autograd would record every time step's product and, in the backward pass, accumulate the
gradient of ``W`` from ``T`` small matrix products. The :class:`torch.autograd.Function` here
keeps only what is inherently sequential inside the time loop (one matrix product per step, in
forward and backward) and forms the weight gradient after the loop as one large matrix product.
It computes the same function as stepping :class:`~nnkit.models.NotesRNN` (the tests compare
values and gradients in float64).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

__all__ = ["linear_recurrence"]


class _LinearRecurrence(torch.autograd.Function):
    """The notes' recurrence ``h_t = u_t + h_{t-1} W^T``; returns ``h_0 .. h_T`` (T+1 states).

    Inputs: ``u (T, B, H)`` (input columns plus bias, per step), ``h0 (B, H)``, ``w (H, H)``.
    """

    @staticmethod
    def forward(ctx: Any, u: torch.Tensor, h0: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        steps = u.shape[0]
        states = u.new_empty((steps + 1, *h0.shape))
        states[0] = h0
        states[1:] = u  # one bulk copy; each step then adds its product in place
        w_t = w.t()
        for t in range(steps):
            states[t + 1].addmm_(states[t], w_t)
        ctx.save_for_backward(w, states)
        return states

    @staticmethod
    @once_differentiable
    def backward(
        ctx: Any, grad_states: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        w, states = ctx.saved_tensors
        steps = states.shape[0] - 1
        grad_states = grad_states.contiguous()
        grad_u = torch.empty_like(states[1:])  # grad_u[t - 1] = dL/dh_t (total) = dL/du_t
        grad_u.copy_(grad_states[1:])  # the direct parts, in one copy
        for t in range(steps - 1, 0, -1):  # dL/dh_t = dL/dh_t (direct) + dL/dh_{t+1} W
            grad_u[t - 1].addmm_(grad_u[t], w)
        dh = torch.addmm(grad_states[0], grad_u[0], w)  # dL/dh_0
        flat_grad = grad_u.view(-1, grad_u.shape[-1])
        grad_w = flat_grad.t() @ states[:-1].reshape(-1, states.shape[-1])
        return grad_u, dh, grad_w


def linear_recurrence(u: torch.Tensor, h0: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """States ``h_0 .. h_T`` (``(T + 1, B, H)``) of ``h_t = u_t + h_{t-1} W^T``."""
    result: torch.Tensor = _LinearRecurrence.apply(u, h0, w)
    return result
