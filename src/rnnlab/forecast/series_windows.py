"""One series' windows, never all built: the training task and the linear autoregression drawn from them.

A window of the scaled series ``z`` is ``L`` inputs and the ``O`` values that follow. The ``n``-th window of
a :class:`SeriesWindows` reads ``z[a + n : a + n + L + O]``, so a window is an index, and only the batch in
hand is ever gathered (the panels' windows work the same way, :mod:`rnnlab.forecast.windows`). A
5-million-point minute series has 5 million windows of 120 values: 4.8 GB as float64, which is why.

**Linear autoregression** (the ``linear`` baseline, and the skip the network starts from). Least squares
needs only the normal equations ``G = D^T D`` and ``C = D^T Y`` of the design ``D = [X, 1]``, and because
consecutive windows overlap, every entry of the Gram matrix of the blocks ``B = [X, Y]`` is a sum of lagged
products of ``z``, one dot product per lag (:meth:`SeriesWindows.gram`): exact, ``O(W T)`` for ``W = L + O``
lags instead of ``O(W^2 N)``, with no window built. Small problems keep the SVD least squares of the built
windows (:meth:`rnnlab.metrics.LinearAR.fit`), which the normal equations reproduce (tested).

Symbols: ``T`` series length, ``N`` windows, ``L`` lookback, ``O`` outputs per window, ``W = L + O``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.metrics import LinearAR

EVAL_CHUNK = 8192  # windows per forward pass when evaluating or forecasting many (bounds the activations)
DIRECT_LIMIT = 1 << 22  # window values (N W) up to which the linear AR is fitted on the built windows


class SeriesWindows:
    """The windows of ``values`` whose last target ends at index ``e``, ``first_end <= e < end``.

    The same windows, in the same order, as :func:`rnnlab.data.series.windows` (``values[e-O-L+1 : e-O+1]``
    inputs and ``values[e-O+1 : e+1]`` targets), but held as index arithmetic: :meth:`take` gathers rows.

    Args:
        values: ``(T,)`` the scaled series.
        lookback, outputs: ``L`` and ``O``.
        first_end, end: the range of the windows' last target (``end`` default ``T``).
    """

    def __init__(self, values: np.ndarray, lookback: int, outputs: int, first_end: int = 0,
                 end: int | None = None) -> None:
        end = len(values) if end is None else end
        first = max(first_end, lookback + outputs - 1)  # the first window's last target
        self.values, self.lookback, self.outputs = values, lookback, outputs
        self.width = lookback + outputs  # W
        self.start = first - self.width + 1  # a: the first window's first input
        self.count = max(0, end - first)  # N

    def __len__(self) -> int:
        return self.count

    def take(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and targets of windows ``rows``.

        Shape:
            rows ``(B,)`` -> inputs ``(B, L)``, targets ``(B, O)``.
        """
        block = self.values[self.start + np.asarray(rows)[:, None] + np.arange(self.width)[None, :]]  # -> (B, W)
        return block[:, :self.lookback], block[:, self.lookback:]

    def chunks(self, size: int):
        """The window numbers ``0 .. N-1`` in consecutive pieces of at most ``size``."""
        for i in range(0, self.count, size):
            yield np.arange(i, min(i + size, self.count))

    def gram(self) -> tuple[np.ndarray, np.ndarray]:
        """``(B^T B, B^T 1)`` of the blocks ``B = [X, Y]`` (``(N, W)``), from lagged dot products of ``z``.

        With ``a`` the first window's start, ``(B^T B)_{i,i+d} = sum_n z_{a+n+i} z_{a+n+i+d}``: for ``i = 0``
        one dot product per lag ``d``; each next ``i`` drops the first product and adds one past the end.
        Column sums ``(B^T 1)_i`` likewise.

        Shape:
            -> ``(W, W)``, ``(W,)``.
        """
        z, a, n, w = self.values, self.start, self.count, self.width
        gram = np.zeros((w, w))
        for d in range(w):
            diagonal = np.empty(w - d)
            diagonal[0] = np.dot(z[a:a + n], z[a + d:a + d + n])
            head = z[a:a + w - d - 1] * z[a + d:a + w - 1]  # the products each next i drops
            tail = z[a + n:a + n + w - d - 1] * z[a + n + d:a + n + w - 1]  # and adds
            diagonal[1:] = diagonal[0] + np.cumsum(tail - head)
            gram[np.arange(w - d), np.arange(d, w)] = diagonal
        gram = np.triu(gram) + np.triu(gram, 1).T
        sums = np.empty(w)
        sums[0] = np.sum(z[a:a + n])
        sums[1:] = sums[0] + np.cumsum(z[a + n:a + n + w - 1] - z[a:a + w - 1])
        return gram, sums


def fit_linear(windows: SeriesWindows, direct_limit: int = DIRECT_LIMIT) -> LinearAR:
    """The least-squares :class:`~rnnlab.metrics.LinearAR` of ``windows``' targets on their inputs.

    Up to ``direct_limit`` window values, on the built windows; beyond, from the normal equations of
    :meth:`SeriesWindows.gram` (the same solution, see the module docstring).
    """
    if len(windows) * windows.width <= direct_limit:
        return LinearAR().fit(*windows.take(np.arange(len(windows))))
    lookback = windows.lookback
    blocks, sums = windows.gram()
    # G = [X, 1]^T [X, 1]  (L + 1, L + 1);  C = [X, 1]^T Y  (L + 1, O)
    gram = np.zeros((lookback + 1, lookback + 1))
    gram[:lookback, :lookback] = blocks[:lookback, :lookback]
    gram[:lookback, lookback] = gram[lookback, :lookback] = sums[:lookback]
    gram[lookback, lookback] = len(windows)
    cross = np.concatenate([blocks[:lookback, lookback:], sums[None, lookback:]])
    return LinearAR().fit_normal(gram, cross)


class WindowTask:
    """The training task for :func:`rnnlab.train.fit`: MSE on shuffled windows, validation MSE.

    Batches are ``(x (B, L, 1), y (B, O))`` float32 CPU tensors, gathered when reached; each rank takes
    every ``world_size``-th window of the epoch's permutation. The validation windows (the training ones
    when there are none) are evaluated :data:`EVAL_CHUNK` at a time.
    """

    def __init__(self, train: SeriesWindows, val: SeriesWindows, batch_size: int) -> None:
        self.train, self.val, self.batch_size = train, val, batch_size

    def batches(self, epoch: int, generator: torch.Generator, rank: int = 0, world_size: int = 1):
        order = torch.randperm(len(self.train), generator=generator)[rank::world_size]
        for i in range(0, len(order), self.batch_size):
            yield tensors(*self.train.take(order[i:i + self.batch_size].numpy()))

    def loss(self, model: nn.Module, batch, state):
        x, y = batch
        device = next(model.parameters()).device
        return nn.functional.mse_loss(model(x.to(device)), y.to(device)), None

    def evaluate(self, model: nn.Module) -> float:
        windows = self.val if len(self.val) else self.train
        device = next(model.parameters()).device
        total = 0.0  # the mean of the chunk means, each weighted by its windows (one chunk: its mean exactly)
        for rows in windows.chunks(EVAL_CHUNK):
            x, y = tensors(*windows.take(rows))
            total += float(nn.functional.mse_loss(model(x.to(device)), y.to(device))) * len(rows)
        return total / len(windows)


def tensors(x: np.ndarray, y: np.ndarray) -> tuple[Tensor, Tensor]:
    """Windows as the network's float32 tensors: inputs ``(B, L)`` -> ``(B, L, 1)``, targets ``(B, O)``."""
    return torch.as_tensor(np.asarray(x, dtype=np.float32))[..., None], torch.as_tensor(np.asarray(y, dtype=np.float32))
