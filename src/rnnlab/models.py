"""Heads on top of a recurrent layer: the lesson's ``SimpleRNN`` generalised, and a character language model.

Modules only: no data, no training, no files. Symbols: ``N`` batch, ``L`` length, ``H_in`` input
features, ``H`` hidden units, ``D`` directions, ``O`` outputs, ``V`` vocabulary size, ``E`` embedding size.
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnlab import nn as rnn

CELLS = ("rnn", "lstm", "gru")


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
