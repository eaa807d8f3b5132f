"""The ``torch`` engine: PyTorch's own fused recurrent kernels (cuDNN on GPU, oneDNN or native on CPU).

Per layer-direction it calls the same ``torch._VF`` operator ``torch.nn.RNN`` calls, with one layer and
one direction. When every layer of a stack runs on this engine, :meth:`TorchEngine.run_stack` hands the
whole stack (layers, directions, inter-layer dropout) to one operator call, exactly as ``torch.nn``
does — the fastest path, and the one cuDNN is built for.
"""

from __future__ import annotations

import torch
from torch import Tensor, _VF

_OPS = {"rnn_tanh": _VF.rnn_tanh, "rnn_relu": _VF.rnn_relu, "lstm": _VF.lstm, "gru": _VF.gru}


class TorchEngine:
    """Delegates to ``torch._VF`` (the operators behind ``torch.nn.RNN``, ``LSTM`` and ``GRU``)."""

    name = "torch"

    def supports(self, mode: str, x: Tensor, lengths: Tensor | None) -> bool:
        return True

    def wins(self, mode: str, x: Tensor, hidden_size: int) -> bool:
        return True

    def run(self, mode, x, hx, weights, lengths=None):
        """One layer-direction; see :mod:`rnnlab.engines`."""
        flat = [w for w in weights if w is not None]
        has_biases = weights[2] is not None
        seq_len = x.shape[0]
        hx_stack = tuple(s.unsqueeze(0) for s in hx) if mode == "lstm" else hx.unsqueeze(0)
        if lengths is None:
            batch_sizes = None
        else:
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
            x, batch_sizes = packed.data, packed.batch_sizes
            hx_stack = _permute(hx_stack, packed.sorted_indices)
        out, hx_n = _call(mode, x, hx_stack, flat, has_biases, 1, 0.0, False, False, batch_sizes)
        if lengths is not None:
            out = torch.nn.utils.rnn.PackedSequence(out, batch_sizes, packed.sorted_indices, packed.unsorted_indices)
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=seq_len)
            hx_n = _permute(hx_n, packed.unsorted_indices)
        if mode == "lstm":
            return out, (hx_n[0][0], hx_n[1][0])
        return out, hx_n[0]

    def run_stack(self, mode, x, hx, flat_weights, has_biases, num_layers, dropout, training, bidirectional,
                  lengths=None):
        """A whole stack in one call (see :mod:`rnnlab.engines`); variable lengths go in packed, as torch.nn's do."""
        if lengths is None:
            return _call(mode, x, hx, flat_weights, has_biases, num_layers, dropout, training, bidirectional)
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        hx = _permute(hx, packed.sorted_indices)
        data, hx_n = _call(mode, packed.data, hx, flat_weights, has_biases, num_layers, dropout, training,
                           bidirectional, packed.batch_sizes)
        output, _ = torch.nn.utils.rnn.pad_packed_sequence(
            torch.nn.utils.rnn.PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                                              packed.unsorted_indices),
            total_length=x.shape[0],
        )
        return output, _permute(hx_n, packed.unsorted_indices)


def _call(mode, x, hx, flat_weights, has_biases, num_layers, dropout, training, bidirectional, batch_sizes=None):
    """The ``torch._VF`` operator of ``mode`` on a stack. ``x`` ``(L, N, H_in)`` or packed data with
    ``batch_sizes``; ``hx`` ``(num_layers * D, N, H)`` (a pair for LSTM). Returns ``output`` and ``hx_n``
    like ``hx``."""
    op = _OPS[mode]
    if batch_sizes is None:
        result = op(x, hx, flat_weights, has_biases, num_layers, dropout, training, bidirectional, False)
    else:
        result = op(x, batch_sizes, hx, flat_weights, has_biases, num_layers, dropout, training, bidirectional)
    if mode == "lstm":
        return result[0], (result[1], result[2])
    return result[0], result[1]


def _permute(hx, index: Tensor):
    """Reorder the batch dimension (dim 1) of a stacked state, or of each tensor of an LSTM pair."""
    if isinstance(hx, tuple):
        return tuple(s.index_select(1, index.to(s.device)) for s in hx)
    return hx.index_select(1, index.to(hx.device))
