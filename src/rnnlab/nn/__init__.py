"""Recurrent layers and cells with ``torch.nn``'s signature, parameter names, shapes and initialisation.

``rnnlab.nn.RNN(...).state_dict()`` loads into ``torch.nn.RNN(...)`` unchanged and back; the difference
is the ``engine`` argument (:mod:`rnnlab.engines`), the teaching shape errors, and :meth:`RNNBase.trace`,
which hands back every layer's ``h_t``.
"""

from rnnlab.nn.cells import GRUCell, LSTMCell, RNNCell
from rnnlab.nn.layers import GRU, LSTM, RNN, RNNBase

__all__ = ["RNN", "LSTM", "GRU", "RNNBase", "RNNCell", "LSTMCell", "GRUCell"]
