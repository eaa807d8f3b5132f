"""The reference engine: the recurrence written out, one time step at a time.

Readable rather than fast. The input projection ``W_ih x_t + b_ih`` of every step is one matrix product
up front; the loop then applies the step equation, exactly as written in the lesson. It can hand back
the very tensors ``h_t`` (and ``c_t``) that the graph is built from, so that ``retain_grad()`` on them
yields ``∂L/∂h_t`` — backpropagation through time made visible (``rnnlab explain gradients``).

Symbols: ``L`` length, ``N`` batch, ``H_in`` input features, ``H`` hidden units, ``G`` gate rows.
The step functions below are also what :mod:`rnnlab.nn.cells` computes.
"""

from __future__ import annotations

import torch
from torch import Tensor


def project_input(x: Tensor, w_ih: Tensor, b_ih: Tensor | None) -> Tensor:
    """``W_ih x_t + b_ih`` for every step at once: ``(..., H_in) -> (..., G)``."""
    x_proj = x @ w_ih.T
    return x_proj if b_ih is None else x_proj + b_ih


def rnn_step(x_proj: Tensor, h_prev: Tensor, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str) -> Tensor:
    """One Elman step. ``x_proj = W_ih x_t + b_ih`` ``(N, H)``; ``h_prev`` ``(N, H)`` -> ``h_t`` ``(N, H)``."""
    pre = x_proj + h_prev @ w_hh.T
    if b_hh is not None:
        pre = pre + b_hh
    # h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (or relu)
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_step(
    x_proj: Tensor, h_prev: Tensor, c_prev: Tensor, w_hh: Tensor, b_hh: Tensor | None
) -> tuple[Tensor, Tensor]:
    """One LSTM step; gates fused in the order i, f, g, o. ``x_proj`` ``(N, 4H)`` -> ``(h_t, c_t)``."""
    gates = x_proj + h_prev @ w_hh.T
    if b_hh is not None:
        gates = gates + b_hh
    i, f, g, o = gates.chunk(4, dim=1)
    # i_t = σ(·), f_t = σ(·), g_t = tanh(·), o_t = σ(·)
    i_t, f_t, g_t, o_t = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    # c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    c_t = f_t * c_prev + i_t * g_t
    # h_t = o_t ⊙ tanh(c_t)
    h_t = o_t * torch.tanh(c_t)
    return h_t, c_t


def gru_step(x_proj: Tensor, h_prev: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """One GRU step; gates fused in the order r, z, n. ``x_proj`` ``(N, 3H)`` -> ``h_t`` ``(N, H)``."""
    h_proj = h_prev @ w_hh.T
    if b_hh is not None:
        h_proj = h_proj + b_hh
    x_r, x_z, x_n = x_proj.chunk(3, dim=1)
    h_r, h_z, h_n = h_proj.chunk(3, dim=1)
    # r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr),  z_t likewise
    r_t = torch.sigmoid(x_r + h_r)
    z_t = torch.sigmoid(x_z + h_z)
    # n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
    n_t = torch.tanh(x_n + r_t * h_n)
    # h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
    return (1 - z_t) * n_t + z_t * h_prev


def step(mode: str, x_proj: Tensor, hx, w_hh: Tensor, b_hh: Tensor | None):
    """One step of ``mode``; ``hx`` and the result are ``h`` or, for ``"lstm"``, ``(h, c)``."""
    if mode == "lstm":
        return lstm_step(x_proj, hx[0], hx[1], w_hh, b_hh)
    if mode == "gru":
        return gru_step(x_proj, hx, w_hh, b_hh)
    return rnn_step(x_proj, hx, w_hh, b_hh, "relu" if mode == "rnn_relu" else "tanh")


class LoopEngine:
    """Python loop over time; every engine is checked against ``torch.nn``, and this one is the one to read."""

    name = "loop"

    def supports(self, mode: str, x: Tensor, lengths: Tensor | None) -> bool:
        return True

    def wins(self, mode: str, x: Tensor, hidden_size: int) -> bool:
        return False

    def run_stack(self, *args, **kwargs):
        """None: this engine runs layer by layer (see :mod:`rnnlab.engines`)."""
        return None

    def run(self, mode, x, hx, weights, lengths=None, trace: list | None = None):
        """See :mod:`rnnlab.engines`. ``trace``, when a list, receives each step's state tensor in order
        (``h_t``, or ``(h_t, c_t)`` for an LSTM) — the graph's own nodes, so their gradients can be kept.
        """
        w_ih, w_hh, b_ih, b_hh = weights
        seq_len = x.shape[0]
        x_proj = project_input(x, w_ih, b_ih)  # (L, N, H_in) -> (L, N, G)
        if lengths is not None:
            # alive[t, n] = t < lengths[n]                       -> (L, N, 1)
            steps = torch.arange(seq_len).unsqueeze(1)
            alive = (steps < lengths.unsqueeze(0)).unsqueeze(-1).to(x.device)
        outputs = []
        for t in range(seq_len):
            new = step(mode, x_proj[t], hx, w_hh, b_hh)
            if lengths is not None:
                keep = alive[t]
                if mode == "lstm":
                    new = (torch.where(keep, new[0], hx[0]), torch.where(keep, new[1], hx[1]))
                else:
                    new = torch.where(keep, new, hx)
            hx = new
            if trace is not None:
                trace.append(hx)
            h_t = hx[0] if mode == "lstm" else hx
            outputs.append(h_t if lengths is None else h_t * alive[t])
        if seq_len == 0:
            h = hx[0] if mode == "lstm" else hx
            return x_proj.new_zeros(0, *h.shape), hx
        return torch.stack(outputs), hx  # -> (L, N, H)
