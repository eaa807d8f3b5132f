"""Recurrent layers — time × layers × directions — with torch.nn's signature, parameters and initialisation.

A layer owns the parameters and the bookkeeping (shapes, batch_first, unbatched input, packed sequences,
directions, dropout between layers); an engine (:mod:`rnnlab.engines`) runs each layer-direction over
the sequence. Parameters are registered exactly as ``torch.nn.RNN``/``LSTM``/``GRU`` register them
(``weight_ih_l{k}[_reverse]``, ``weight_hh_l…``, ``bias_ih_l…``, ``bias_hh_l…``, in that order) and drawn
from the same ``U(-1/sqrt(H), 1/sqrt(H))``, so a ``state_dict`` moves between the two unchanged and the
same seed gives the same weights.
"""

from __future__ import annotations

import math
import numbers
import warnings

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab import engines
from rnnlab.nn.shapes import check_dtype, check_input, check_state

_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


class RNNBase(nn.Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU`; see those for the equations."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        engine: str = "auto",
    ) -> None:
        super().__init__()
        name = type(self).__name__
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(
                f"{name}: dropout should be a number in range [0, 1] representing the probability of an "
                f"element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}"
            )
        if engine not in engines.names():
            engines.get(engine)  # raises, listing the valid names
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.engine = engine
        num_directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        factory = {"device": device, "dtype": dtype}
        self._flat_weights_names: list[str] = []
        # (weight_ih, weight_hh, bias_ih, bias_hh) names of each layer-direction, in order (None: no bias)
        self._weight_names: list[tuple] = []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size * num_directions
            for direction in range(num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {"weight_ih": (gate_size, layer_input_size), "weight_hh": (gate_size, hidden_size)}
                if bias:
                    shapes.update({"bias_ih": (gate_size,), "bias_hh": (gate_size,)})
                for kind, shape in shapes.items():
                    self.register_parameter(kind + suffix, nn.Parameter(torch.empty(shape, **factory)))
                    self._flat_weights_names.append(kind + suffix)
                names = [kind + suffix for kind in shapes]
                self._weight_names.append(tuple(names) if bias else (*names, None, None))
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def reset_parameters(self) -> None:
        """Every weight and bias from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``, as torch.nn does."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            nn.init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "rnn_relu":
            s += ", nonlinearity='relu'"
        for attr, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, attr) != default:
                s += f", {attr}={getattr(self, attr)}"
        if self.engine != "auto":
            s += f", engine='{self.engine}'"
        return s

    def layer_weights(self, layer: int, direction: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """``(w_ih, w_hh, b_ih, b_hh)`` of one layer-direction (biases ``None`` without ``bias``)."""
        names = self._weight_names[layer * self.num_directions + direction]
        return tuple(None if name is None else getattr(self, name) for name in names)

    # -- forward ---------------------------------------------------------------------------------------

    def forward(self, input, hx=None):
        """Run the stack. See the subclass docstring for shapes; returns ``(output, h_n)`` (LSTM: ``(h_n, c_n)``)."""
        output, hx_n, _ = self._run(input, hx, trace=None)
        return output, hx_n

    def trace(self, input, hx=None):
        """Like :meth:`forward` on the ``loop`` engine, also returning every layer's states step by step.

        Returns:
            ``(output, h_n, states)`` where ``states[layer][direction]`` is the list of the graph's own
            ``h_t`` tensors (``(h_t, c_t)`` pairs for an LSTM) in time order, each ``(N, H)`` (``(H,)`` rows
            of an unbatched input are kept as ``(1, H)``). Call ``retain_grad()`` on them to read
            ``∂L/∂h_t`` after ``backward()``. Not for packed sequences.
        """
        states: list[list[list]] = [[[] for _ in range(self.num_directions)] for _ in range(self.num_layers)]
        output, hx_n, _ = self._run(input, hx, trace=states)
        return output, hx_n, states

    def _run(self, input, hx, trace):
        name = type(self).__name__
        is_lstm = self.mode == "lstm"
        packed = isinstance(input, PackedSequence)
        if packed:
            if trace is not None:
                raise ValueError(f"{name}: trace() does not take a PackedSequence; pass a padded tensor")
            sorted_indices, unsorted_indices = input.sorted_indices, input.unsorted_indices
            x, lengths = pad_packed_sequence(input)  # -> (L, N, H_in) in the caller's batch order
            batched, batch_first = True, False
        else:
            x, lengths = input, None
            batched, batch_first = input.dim() == 3, self.batch_first
        check_input(name, x, self.input_size, batch_first)
        check_dtype(name, "input", x, self.weight_ih_l0.dtype)
        if not batched:
            x = x.unsqueeze(1)  # (L, H_in) -> (L, 1, H_in)
        elif batch_first:
            x = x.transpose(0, 1)  # (N, L, H_in) -> (L, N, H_in)
        batch = x.shape[1]
        expected = (self.num_layers * self.num_directions, batch, self.hidden_size)
        hx = self._initial_state(hx, x, input if not packed else x, expected, batched, batch_first, name)

        stack_engine = None
        if trace is None and self.engine in ("auto", "torch"):
            chosen = [engines.select(self.engine, self.mode, x, self.hidden_size, lengths)]
            if chosen[0].name == "torch":
                stack_engine = chosen[0]
        if stack_engine is not None:
            output, hx_n = self._run_stack(stack_engine, x, hx, lengths)
        else:
            output, hx_n = self._run_layers(x, hx, lengths, trace)

        if packed:
            output = pack_padded_sequence(output.index_select(1, sorted_indices), lengths[sorted_indices.cpu()])
            output = PackedSequence(output.data, output.batch_sizes, sorted_indices, unsorted_indices)
        elif not batched:
            output = output.squeeze(1)
            hx_n = tuple(s.squeeze(1) for s in hx_n) if is_lstm else hx_n.squeeze(1)
        elif batch_first:
            output = output.transpose(0, 1)
        return output, hx_n, trace

    def _initial_state(self, hx, x, raw_input, expected, batched, batch_first, name):
        """Zeros when ``hx`` is None; else check the shape(s) and bring them to ``(num_layers * D, N, H)``."""
        zeros = lambda: x.new_zeros(expected)  # noqa: E731
        if hx is None:
            return (zeros(), zeros()) if self.mode == "lstm" else zeros()
        wanted = expected if batched else (expected[0], expected[2])
        parts = hx if self.mode == "lstm" else (hx,)
        if self.mode == "lstm" and not (isinstance(hx, tuple) and len(hx) == 2):
            raise ValueError(f"{name}: the state must be a tuple (h0, c0) of tensors, got {type(hx).__name__}")
        if self.mode != "lstm" and not isinstance(hx, Tensor):
            raise ValueError(f"{name}: the state h0 must be a tensor, got {type(hx).__name__}")
        for what, state in zip(("h0", "c0"), parts):
            check_state(name, what, state, wanted, raw_input, batch_first)
            check_dtype(name, what, state, self.weight_ih_l0.dtype)
        if not batched:
            parts = tuple(s.unsqueeze(1) for s in parts)
        return tuple(parts) if self.mode == "lstm" else parts[0]

    def _run_stack(self, engine, x, hx, lengths):
        """All layers and directions in one call of the ``torch`` engine (cuDNN on GPU)."""
        flat = [getattr(self, n) for n in self._flat_weights_names]
        if lengths is None:
            return engine.run_stack(self.mode, x, hx, flat, self.bias, self.num_layers, self.dropout,
                                    self.training, self.bidirectional)
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        order = packed.sorted_indices.to(x.device)
        hx = tuple(s.index_select(1, order) for s in hx) if self.mode == "lstm" else hx.index_select(1, order)
        data, hx_n = engine.run_stack(self.mode, packed.data, hx, flat, self.bias, self.num_layers, self.dropout,
                                      self.training, self.bidirectional, packed.batch_sizes)
        output, _ = pad_packed_sequence(
            PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices),
            total_length=x.shape[0],
        )
        back = packed.unsorted_indices.to(x.device)
        hx_n = tuple(s.index_select(1, back) for s in hx_n) if self.mode == "lstm" else hx_n.index_select(1, back)
        return output, hx_n

    def _run_layers(self, x, hx, lengths, trace):
        """Layer by layer, direction by direction, each through the selected engine."""
        is_lstm = self.mode == "lstm"
        finals_h, finals_c = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                state = (hx[0][k], hx[1][k]) if is_lstm else hx[k]
                seq = layer_input if direction == 0 else _reverse(layer_input, lengths)
                engine = engines.select(self.engine if trace is None else "loop", self.mode, seq,
                                        self.hidden_size, lengths)
                kwargs = {} if trace is None else {"trace": trace[layer][direction]}
                out, state = engine.run(self.mode, seq, state, self.layer_weights(layer, direction), lengths,
                                        **kwargs)
                outputs.append(out if direction == 0 else _reverse(out, lengths))
                finals_h.append(state[0] if is_lstm else state)
                if is_lstm:
                    finals_c.append(state[1])
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = nn.functional.dropout(layer_input, self.dropout, training=True)
        stack = (lambda states: states[0].unsqueeze(0)) if len(finals_h) == 1 else torch.stack  # one: no copy
        h_n = stack(finals_h)
        return layer_input, ((h_n, stack(finals_c)) if is_lstm else h_n)


def _reverse(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse time, each sequence within its own length; padding stays where it is. ``(L, N, F)``."""
    if lengths is None:
        return x.flip(0)
    seq_len = x.shape[0]
    t = torch.arange(seq_len).unsqueeze(1)  # (L, 1)
    ends = lengths.unsqueeze(0)  # (1, N)
    index = torch.where(t < ends, ends - 1 - t, t).to(x.device)  # (L, N)
    return x.gather(0, index.unsqueeze(-1).expand_as(x))


class RNN(RNNBase):
    r"""A multi-layer Elman RNN, drop-in for ``torch.nn.RNN``.

    For each element of the input sequence each layer computes

    .. math:: h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})

    where ``h_t`` is the hidden state at time ``t``, ``x_t`` the input at time ``t`` (for layers after
    the first, the previous layer's ``h_t``, with dropout in training) and ``h_{t-1}`` the state at
    ``t-1`` (``h0`` at ``t=0``). ``nonlinearity="relu"`` uses ReLU instead of tanh.

    Args:
        input_size: features in the input ``x``.
        hidden_size: features in the hidden state ``h``.
        num_layers: stacked recurrent layers. Default: 1.
        nonlinearity: ``"tanh"`` or ``"relu"``. Default: ``"tanh"``.
        bias: learn ``b_ih`` and ``b_hh``. Default: True.
        batch_first: input and output are ``(N, L, H)`` instead of ``(L, N, H)`` (the state is not). Default: False.
        dropout: dropout probability on the outputs of each layer except the last, in training. Default: 0.
        bidirectional: also run each layer backwards in time and concatenate. Default: False.
        engine: ``"auto"``, ``"loop"``, ``"torch"`` or another registered engine (:mod:`rnnlab.engines`).

    Inputs: ``input, h_0``
        * input: ``(L, H_in)`` unbatched, ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``, or a
          ``PackedSequence`` for sequences of different lengths (as ``torch.nn.RNN``).
        * h_0: ``(D * num_layers, H_out)`` or ``(D * num_layers, N, H_out)``; zeros if omitted.

    Outputs: ``output, h_n``
        * output: ``(L, D * H_out)``, ``(L, N, D * H_out)`` or ``(N, L, D * H_out)``: the last layer's ``h_t``
          for every ``t`` (a ``PackedSequence`` for packed input).
        * h_n: like ``h_0``: every layer's final state (at each sequence's own last step).

    Shape:
        ``N`` batch, ``L`` sequence length, ``D`` 2 if bidirectional else 1, ``H_in`` input_size,
        ``H_out`` hidden_size.

    Example:
        >>> rnn = RNN(10, 20, 2)
        >>> output, h_n = rnn(torch.randn(5, 3, 10), torch.zeros(2, 3, 20))
        >>> tuple(output.shape), tuple(h_n.shape)
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, engine: str = "auto") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(f"rnn_{nonlinearity}", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, engine)


class LSTM(RNNBase):
    r"""A multi-layer long short-term memory RNN, drop-in for ``torch.nn.LSTM`` (without ``proj_size``).

    Each layer computes, for every ``t``, with the gates fused in the order i, f, g, o:

    .. math::
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \quad
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})

        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \quad
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})

        c_t = f_t \odot c_{t-1} + i_t \odot g_t \qquad h_t = o_t \odot \tanh(c_t)

    The cell state ``c_t`` is carried by addition, which is why gradients survive long distances.
    Arguments, inputs and outputs are those of :class:`RNN`, with the state a pair ``(h_0, c_0)`` and the
    final state ``(h_n, c_n)``.

    Example:
        >>> lstm = LSTM(10, 20, 2, batch_first=True)
        >>> output, (h_n, c_n) = lstm(torch.randn(3, 5, 10))
        >>> tuple(output.shape), tuple(c_n.shape)
        ((3, 5, 20), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None, engine: str = "auto") -> None:
        if proj_size != 0:
            raise ValueError(f"LSTM: proj_size is not supported by rnnlab; expected 0, got {proj_size}")
        self.proj_size = 0
        super().__init__("lstm", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype, engine)


class GRU(RNNBase):
    r"""A multi-layer gated recurrent unit RNN, drop-in for ``torch.nn.GRU``.

    Each layer computes, for every ``t``, with the gates fused in the order r, z, n:

    .. math::
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \quad
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})

        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \qquad
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    Arguments, inputs and outputs are those of :class:`RNN`.

    Example:
        >>> gru = GRU(10, 20)
        >>> output, h_n = gru(torch.randn(5, 10))
        >>> tuple(output.shape), tuple(h_n.shape)
        ((5, 20), (1, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, engine: str = "auto") -> None:
        super().__init__("gru", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype, engine)
