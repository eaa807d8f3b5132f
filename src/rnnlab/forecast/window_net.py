"""WindowNet: the forecasting network that reads a window of vectors and may forecast quantiles.

It generalises :class:`rnnlab.forecast.estimator.ForecastNet` (an RNN reading the window plus a linear skip)
in two ways, each optional:

- **covariates**: every input step is a vector ``x_t = [z_t, past_t, future_t]`` (``input_size = 1 + P + F``:
  the lesson's ``SimpleRNN`` with ``input_size`` meaning something), and the future covariates of the ``H``
  forecast steps, ``a = future_{t+1..t+H}``, reach the head beside the last hidden state and the skip;
- **quantiles**: ``Q`` non-crossing quantiles per step (:func:`rnnlab.forecast.quantiles.monotone`) around
  the skip's point forecast, trained with the pinball loss.

    h_L    = RNN(x_1 .. x_L)                             x (N, L, 1 + P + F)
    s      = W_skip [x_1 .. x_L, a] + b_skip             the linear skip: an AR model with exogenous inputs
    points:     y_hat = s + fc([h_L, a])                 (N, H)
    quantiles:  y_hat = s + monotone(fc([h_L, a]))       (N, H, Q)

With no covariates, no quantiles and the same weights it computes exactly what ``ForecastNet`` does
(``tests/forecast/test_window_net.py``). The head starts at zero (for quantiles: at a given spread, see
:meth:`WindowNet.init_spread`), so training starts at the skip.

Symbols: ``N`` windows, ``L`` lookback, ``H`` horizon, ``P`` past and ``F`` future covariates, ``Q`` quantiles.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.forecast.quantiles import check_quantiles, median_index, monotone, monotone_inverse, parse_quantiles  # noqa: F401
from rnnlab.models import make_layer


class WindowNet(nn.Module):
    """An RNN over a window of vectors, a linear skip and a point or quantile head (see the module docstring).

    Args:
        lookback: ``L``.
        horizon: ``H``.
        past_size: ``P`` past-only covariates per step. Default: 0.
        future_size: ``F`` future-known covariates per step. Default: 0.
        quantiles: levels to forecast, or ``None`` for points. Default: ``None``.
        cell, hidden_size, num_layers, dropout, engine: the recurrent layer (:func:`rnnlab.models.make_layer`).
        skip: add the linear skip. Default: ``True``.

    Shape:
        x ``(N, L, 1 + P + F)``, ahead ``(N, H, F)`` (``None`` when ``F = 0``) -> ``(N, H)`` or ``(N, H, Q)``.

    Example:
        >>> net = WindowNet(12, 6, future_size=2, quantiles=(0.1, 0.5, 0.9), hidden_size=8)
        >>> tuple(net(torch.randn(4, 12, 3), torch.randn(4, 6, 2)).shape)
        (4, 6, 3)
    """

    def __init__(self, lookback: int, horizon: int, past_size: int = 0, future_size: int = 0, quantiles=None,
                 cell: str = "rnn", hidden_size: int = 16, num_layers: int = 1, dropout: float = 0.0,
                 skip: bool = True, engine: str = "auto") -> None:
        super().__init__()
        self.lookback, self.horizon, self.past_size, self.future_size = lookback, horizon, past_size, future_size
        self.quantiles = None if quantiles is None else check_quantiles(quantiles)
        outputs = horizon * (1 if self.quantiles is None else len(self.quantiles))
        self.rnn = make_layer(cell, 1 + past_size + future_size, hidden_size, num_layers, dropout, engine=engine)
        self.fc = nn.Linear(hidden_size + horizon * future_size, outputs)
        self.skip = nn.Linear(lookback * self.input_size + horizon * future_size, horizon) if skip else None
        if skip:  # start at the skip alone: the RNN learns the residual
            nn.init.zeros_(self.fc.weight)
            nn.init.zeros_(self.fc.bias)

    @property
    def input_size(self) -> int:
        return 1 + self.past_size + self.future_size

    def forward(self, x: Tensor, ahead: Tensor | None = None) -> Tensor:
        if x.shape[-1] != self.input_size:
            raise ValueError(f"WindowNet: x has {x.shape[-1]} values per step, expected input_size="
                             f"{self.input_size} (1 target + {self.past_size} past + {self.future_size} future)")
        out, _ = self.rnn(x)  # (N, L, 1 + P + F) -> (N, L, H_hidden)
        h_last = out[:, -1]  # -> (N, H_hidden)
        lags = x.flatten(1)  # (N, L, 1 + P + F) -> (N, L (1 + P + F)), step by step
        features = h_last
        if self.future_size:
            a = ahead.flatten(1)  # (N, H, F) -> (N, H * F)
            features, lags = torch.cat([h_last, a], dim=1), torch.cat([lags, a], dim=1)
        head = self.fc(features)  # -> (N, H) or (N, H * Q)
        if self.quantiles is not None:
            head = monotone(head.unflatten(1, (self.horizon, len(self.quantiles))), median_index(self.quantiles))
        if self.skip is None:
            return head
        # s = W_skip [x_1 .. x_L, a] + b_skip
        s = self.skip(lags)  # -> (N, H)
        return head + (s if self.quantiles is None else s.unsqueeze(-1))

    @staticmethod
    def lags(x: np.ndarray, ahead: np.ndarray | None = None) -> np.ndarray:
        """What the skip reads, as numpy: ``[x_1 .. x_L, a]`` flattened, ``(N, L (1 + P + F) + H F)``."""
        parts = [np.asarray(x).reshape(len(x), -1)]
        if ahead is not None and np.asarray(ahead).size:
            parts.append(np.asarray(ahead).reshape(len(x), -1))
        return np.concatenate(parts, axis=1)

    def set_skip(self, weight: np.ndarray, bias: np.ndarray) -> None:
        """Start the skip at a least-squares fit of :meth:`lags`: ``weight (L (1 + P + F) + H F, H)``, ``bias (H,)``."""
        with torch.no_grad():
            self.skip.weight.copy_(torch.as_tensor(np.asarray(weight).T, dtype=self.skip.weight.dtype))
            self.skip.bias.copy_(torch.as_tensor(np.asarray(bias), dtype=self.skip.bias.dtype))

    def init_spread(self, residuals: np.ndarray) -> None:
        """Start the quantiles at those of the skip's residuals: the head's bias, with its weights at zero.

        Args:
            residuals: ``(N, H)`` training targets minus the skip's forecasts (in the network's space).
        """
        if self.quantiles is None:
            return
        # q-quantile per step, the median taken out (the skip already forecasts the centre)
        spread = np.quantile(np.asarray(residuals, dtype=np.float64), self.quantiles, axis=0).T  # -> (H, Q)
        spread = spread - spread[:, [median_index(self.quantiles)]]
        raw = monotone_inverse(spread, median_index(self.quantiles))
        with torch.no_grad():
            self.fc.weight.zero_()
            self.fc.bias.copy_(torch.as_tensor(raw.reshape(-1), dtype=self.fc.bias.dtype))
