"""Heads on top of a recurrent layer: the lesson's ``SimpleRNN`` generalised, and a character language model.

Modules only: no data, no training, no files. Symbols: ``N`` batch, ``L`` length, ``H_in`` input
features, ``H`` hidden units, ``D`` directions, ``O`` outputs, ``V`` vocabulary size, ``E`` embedding size.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from rnnlab import nn as rnn

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # weight blocks per layer: h; i, f, g, o; r, z, n
TRAINING_COPIES = 5  # float32 copies of every parameter while training: weights, gradients, two Adam moments, best


def layer_parameters(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                     bidirectional: bool = False) -> int:
    """Parameters of a recurrent layer, counted without building it (torch.nn's layout, with biases).

    Per layer-direction: ``G H (H_in + H) + 2 G H`` with ``G`` gate blocks (1 RNN, 4 LSTM, 3 GRU) and
    ``H_in`` the input size of that layer (``input_size``, then ``D H``).
    """
    gates, directions = GATES[cell], 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        layer_input = input_size if layer == 0 else directions * hidden_size
        total += directions * gates * hidden_size * (layer_input + hidden_size + 2)
    return total


def check_fits(cell: str, input_size: int, hidden_size: int, num_layers: int, outputs: int, batch: int,
               length: int, device: torch.device | str, extra: int = 0) -> None:
    """Refuse a model that cannot fit in memory, before anything is allocated.

    The estimate is a lower bound, in float32: every parameter ``TRAINING_COPIES`` times (weights, gradients,
    Adam's two moments, the best weights kept), plus what one batch keeps for backward — each layer's
    ``G + 1`` values per unit, step and sequence, and the head's outputs with their gradients:
    ``4 (5 P + N L (num_layers (G + 1) H + 2 O))`` bytes. It is compared with the memory available now
    (``MemAvailable`` + free swap on the CPU, the free memory of a CUDA device).

    Args:
        cell, input_size, hidden_size, num_layers: the recurrent layer.
        outputs: ``O``, the head's outputs per step (vocabulary size, or the horizon).
        batch, length: ``N`` sequences of ``L`` steps per training batch.
        device: where the model will train.
        extra: parameters outside the layer and the head's ``H O + O`` (an embedding, a linear skip).

    Raises:
        ValueError: the estimate exceeds the available memory; the message says both, and what to change.
    """
    params = layer_parameters(cell, input_size, hidden_size, num_layers) + hidden_size * outputs + outputs + extra
    activations = batch * length * (num_layers * (GATES[cell] + 1) * hidden_size + 2 * outputs)
    need = 4 * (TRAINING_COPIES * params + activations)
    device = torch.device(device)
    available = _available_memory(device)
    if available is not None and need > available:
        raise ValueError(
            f"model: {cell}, {num_layers} layer(s) of {hidden_size:,} units: {params:,} parameters; training needs at "
            f"least {_size(need)} of memory but the {device.type} has {_size(available)} available; use a smaller "
            f"`hidden_size`, `num_layers` or `batch_size`"
        )


def _available_memory(device: torch.device) -> int | None:
    """Bytes that can be allocated now on ``device`` (None if unknown)."""
    if device.type == "cuda":
        try:
            return torch.cuda.mem_get_info(device)[0]
        except (RuntimeError, AssertionError):
            return None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f if line.count(" ") >= 1}
        return info["MemAvailable"] + info.get("SwapFree", 0)
    except (OSError, KeyError, ValueError, IndexError):
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None


def _size(n: float) -> str:
    """``n`` bytes as ``1.2 GB`` (powers of 1000)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000


def make_layer(cell: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
               nonlinearity: str = "tanh", bidirectional: bool = False, engine: str = "auto") -> rnn.RNNBase:
    """A batch-first recurrent layer of kind ``cell`` (``"rnn"``, ``"lstm"`` or ``"gru"``)."""
    if cell not in CELLS:
        raise ValueError(f"model: unknown cell '{cell}'; choose one of {', '.join(CELLS)}")
    kwargs = dict(num_layers=num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0,
                  bidirectional=bidirectional, engine=engine)
    if cell == "rnn":
        return rnn.RNN(input_size, hidden_size, nonlinearity=nonlinearity, **kwargs)
    return (rnn.LSTM if cell == "lstm" else rnn.GRU)(input_size, hidden_size, **kwargs)


class SequenceRegressor(nn.Module):
    """A recurrent layer and a linear head: the lesson's ``SimpleRNN`` (``num_layers=2`` is its ``MultiLayerRNN``).

    ``y = fc(h_L)`` reads the last step (``read="last"``), or ``y_t = fc(h_t)`` every step (``read="all"``).
    Submodules are named ``rnn`` and ``fc`` as in the lesson, so its ``state_dict`` keys carry over.

    Args:
        input_size: features per time step. Default: 1.
        hidden_size: hidden units. Default: 20 (the lesson's).
        output_size: outputs per prediction (e.g. the forecast horizon). Default: 1.
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``. Default: ``"rnn"``.
        num_layers: stacked recurrent layers. Default: 1.
        dropout: between recurrent layers, in training (ignored for one layer). Default: 0.
        read: ``"last"`` or ``"all"``. Default: ``"last"``.
        nonlinearity: for ``cell="rnn"``, ``"tanh"`` or ``"relu"``. Default: ``"tanh"``.
        engine: see :mod:`rnnlab.engines`. Default: ``"auto"``.

    Shape:
        x ``(N, L, H_in)`` -> ``(N, O)`` for ``read="last"``, ``(N, L, O)`` for ``read="all"``.

    Example:
        >>> import torch
        >>> model = SequenceRegressor(input_size=1, hidden_size=20)
        >>> tuple(model(torch.randn(8, 5, 1)).shape)
        (8, 1)
    """

    def __init__(self, input_size: int = 1, hidden_size: int = 20, output_size: int = 1, cell: str = "rnn",
                 num_layers: int = 1, dropout: float = 0.0, read: str = "last", nonlinearity: str = "tanh",
                 engine: str = "auto") -> None:
        super().__init__()
        if read not in ("last", "all"):
            raise ValueError(f"SequenceRegressor: read must be 'last' or 'all', got {read!r}")
        self.read = read
        self.rnn = make_layer(cell, input_size, hidden_size, num_layers, dropout, nonlinearity, engine=engine)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor, h0=None) -> Tensor:
        out, _ = self.rnn(x, h0)  # (N, L, H_in) -> (N, L, H)
        if self.read == "last":
            out = out[:, -1]  # -> (N, H)
        return self.fc(out)  # -> (N, O) or (N, L, O)


class CharLM(nn.Module):
    """Character language model: embedding -> recurrent layer -> logits for the next character at every step.

    The state goes in and comes out, so text can be read in chunks (truncated backpropagation through
    time) and generated one character at a time without re-reading the prefix.

    Args:
        vocab_size: distinct characters ``V``.
        embedding_size: ``E``. Default: 64.
        hidden_size: ``H``. Default: 256.
        num_layers: Default: 2.
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``. Default: ``"rnn"`` (as :class:`rnnlab.text.TextConfig`).
        dropout: between recurrent layers and before the head, in training. Default: 0.
        engine: see :mod:`rnnlab.engines`. Default: ``"auto"``.

    Shape:
        idx ``(N, L)`` int64 -> logits ``(N, L, V)``; state ``(num_layers, N, H)`` (an ``(h, c)`` pair for LSTM),
        ``None`` for zeros.

    Example:
        >>> import torch
        >>> lm = CharLM(vocab_size=30, hidden_size=32, num_layers=1)
        >>> logits, state = lm(torch.randint(0, 30, (4, 10)))
        >>> tuple(logits.shape)
        (4, 10, 30)
    """

    def __init__(self, vocab_size: int, embedding_size: int = 64, hidden_size: int = 256, num_layers: int = 2,
                 cell: str = "rnn", dropout: float = 0.0, engine: str = "auto") -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn = make_layer(cell, embedding_size, hidden_size, num_layers, dropout, engine=engine)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def forward(self, idx: Tensor, state=None) -> tuple[Tensor, object]:
        emb = self.embedding(idx)  # (N, L) -> (N, L, E)
        out, state = self.rnn(emb, state)  # -> (N, L, H)
        return self.fc(self.drop(out)), state  # -> (N, L, V)
