"""One-step cells: the recurrence for a single time step, drop-in for ``torch.nn.RNNCell``/``LSTMCell``/``GRUCell``.

The step equations themselves live in :mod:`rnnlab.engines.loop` (the reference engine runs the same
functions over a whole sequence); a cell owns the parameters, checks shapes and calls one step.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnlab.engines.loop import gru_step, lstm_step, project_input, rnn_step

_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


class RNNCellBase(nn.Module):
    """Parameters ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` registered and initialised as torch's cells."""

    def __init__(self, kind: str, input_size: int, hidden_size: int, bias: bool, device=None, dtype=None) -> None:
        super().__init__()
        name = type(self).__name__
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gate_size = _GATES[kind] * hidden_size
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(gate_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(gate_size, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gate_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(gate_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``, as torch does."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity='{self.nonlinearity}'"
        return s

    def _prepare(self, x: Tensor, states: tuple[Tensor | None, ...]) -> tuple[Tensor, list[Tensor], bool]:
        """Check ``x`` ``(N, H_in)`` or ``(H_in,)`` and each state ``(N, H)`` or ``(H,)``; batch them; zeros
        for None."""
        name = type(self).__name__
        if x.dim() not in (1, 2):
            raise ValueError(
                f"{name}: expected input to be 1-D (input_size,) or 2-D (batch, input_size), "
                f"got {x.dim()}-D with shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, got {x.shape[-1]}"
            )
        batched = x.dim() == 2
        if not batched:
            x = x.unsqueeze(0)
        expected = (x.shape[0], self.hidden_size)
        prepared = []
        for what, state in zip(("hx", "cx"), states):
            if state is None:
                state = x.new_zeros(expected)
            else:
                want = expected if batched else (self.hidden_size,)
                if tuple(state.shape) != want:
                    raise ValueError(
                        f"{name}: {what} has shape {tuple(state.shape)} but expected {want} "
                        f"(batch, hidden_size) to match the input of shape {tuple(x.shape if batched else x[0].shape)}"
                    )
                if not batched:
                    state = state.unsqueeze(0)
            prepared.append(state)
        return x, prepared, batched


class RNNCell(RNNCellBase):
    r"""An Elman RNN cell: one step, ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or ReLU).

    Args:
        input_size: features of ``x``. hidden_size: features of ``h``. bias: learn the biases. Default: True.
        nonlinearity: ``"tanh"`` or ``"relu"``. Default: ``"tanh"``.

    Shape:
        input ``(N, H_in)`` or ``(H_in,)``; hx ``(N, H)`` or ``(H,)``, zeros if omitted; output like hx.

    Example:
        >>> cell = RNNCell(10, 20)
        >>> tuple(cell(torch.randn(3, 10)).shape)
        (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("rnn", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), batched = self._prepare(input, (hx,))
        h_next = rnn_step(project_input(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh,
                          self.nonlinearity)
        return h_next if batched else h_next.squeeze(0)


class LSTMCell(RNNCellBase):
    r"""An LSTM cell: one step of the equations in :class:`rnnlab.nn.LSTM`, gates in the order i, f, g, o.

    Shape:
        input ``(N, H_in)`` or ``(H_in,)``; ``hx = (h, c)``, each ``(N, H)`` or ``(H,)``, zeros if omitted;
        returns ``(h', c')`` like ``hx``.

    Example:
        >>> h, c = LSTMCell(10, 20)(torch.randn(3, 10))
        >>> tuple(h.shape), tuple(c.shape)
        ((3, 20), (3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__("lstm", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        x, (h, c), batched = self._prepare(input, (None, None) if hx is None else hx)
        h_next, c_next = lstm_step(project_input(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh,
                                   self.bias_hh)
        return (h_next, c_next) if batched else (h_next.squeeze(0), c_next.squeeze(0))


class GRUCell(RNNCellBase):
    r"""A GRU cell: one step of the equations in :class:`rnnlab.nn.GRU`, gates in the order r, z, n.

    Shape:
        input ``(N, H_in)`` or ``(H_in,)``; hx ``(N, H)`` or ``(H,)``, zeros if omitted; output like hx.

    Example:
        >>> tuple(GRUCell(10, 20)(torch.randn(10)).shape)
        (20,)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__("gru", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), batched = self._prepare(input, (hx,))
        h_next = gru_step(project_input(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h_next if batched else h_next.squeeze(0)
