"""The baselines of every series of a panel, and the per-series mode's choice among model, linear and
seasonal naive.

Per series and origin ``o`` (forecasting ``H`` points from the actual values before ``o``):
    naive           the last value repeated;
    seasonal naive  the last season repeated (:func:`rnnlab.metrics.seasonal_naive`);
    linear          a linear AR of ``p = min(L, max(m, 4))`` lags with ``H`` direct outputs (no recursion),
                    fitted on the series' own windows before its first origin by ridge regression **toward
                    the seasonal naive forecast** (:func:`fit_linear`), in its standardised values.

The per-series mode (:func:`best_on_validation`) forecasts each series' validation points (the last
``val_size`` of its fitted part) from origins every ``H`` steps with its network, its linear AR and the
seasonal naive forecast, and keeps the one with the lowest mean absolute error there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data import series as sd
from rnnlab.data.panel import Panel
from rnnlab.metrics import RCOND, naive, seasonal_naive

CHOICES = ("model", "linear", "seasonal_naive")
RIDGE = 1.0  # the linear baseline's pull toward the seasonal naive, per window (measured on Tourism)


def panel_baselines(full: Panel, origins: list[np.ndarray], horizon: int, season: int, lookback: int,
                    transform: str) -> dict[str, list[np.ndarray]]:
    """``{name: [per series (origins, H) forecasts]}`` for naive, seasonal naive and linear (:func:`fit_linear`
    with ``transform``)."""
    out = {"naive": [], "seasonal_naive": [], "linear": []}
    for i in range(len(full)):
        values = full.values[full.offsets[i]:full.offsets[i + 1]].astype(np.float64)
        linear = fit_linear(values[:origins[i][0]], lookback, horizon, season, transform=transform)
        out["naive"].append(np.stack([naive(values[:o], horizon) for o in origins[i]]))
        out["seasonal_naive"].append(np.stack([seasonal_naive(values[:o], horizon, season) for o in origins[i]]))
        out["linear"].append(np.stack([linear(values[:o]) for o in origins[i]]))
    return out


def fit_linear(history: np.ndarray, lookback: int, horizon: int, season: int, ridge: float = RIDGE,
               transform: str = "none"):
    """The linear baseline of one series: a function ``values (>= 1 points) -> (H,)`` forecasts.

    In the history's standardised values ``z`` (``transform="log"``: of its log, when positive; anything
    else: the values themselves), windows of ``p = min(L, max(m, 4))`` lags ``X (N, p)`` and their next ``H``
    values ``Y (N, H)`` give

        W = W0 + D,   D = argmin ||X_c D - R_c||^2 + ridge * N * ||D||^2 = (X_c^T X_c + ridge N I)^-1 X_c^T R_c,
        b = mean(R) - mean(X) D,   R = Y - X W0,

    where ``W0 (p, H)`` copies the window's last season (the last value when ``p < m``): the seasonal naive
    forecast, exactly, and ``_c`` means centred over windows. Why: on a short series the plain least-squares
    AR is under-determined (Tourism yearly: 7 to 43 points, 16 lags) and extrapolates wildly — one forecast
    reached 1e74, and its log-space exponential made it worse. Here a series with no window (``N = 0``)
    gets the seasonal naive forecast exactly, one with few windows little more than it (plus the mean
    seasonal change of its windows: the intercept is not penalised), and the fit moves
    away from it only as far as its windows support (``||D|| <= ||X_c|| ||R_c|| / (ridge N)``); the ``H``
    outputs are direct, so nothing is fed back. Measured on Tourism (mean MASE, all series, ridge 1):
    monthly 1.638, quarterly 1.653, yearly 2.678 (seasonal naive 1.631 / 1.699 / 3.007; the least-squares
    AR of 16-48 lags in log space: 2.25 / 2.23 / 5.38). A constant history gets the seasonal naive forecast.
    """
    lags = min(int(lookback), max(int(season), 4))
    fallback = lambda values: seasonal_naive(values, horizon, season)  # noqa: E731
    try:
        log = transform == "log" and history.min() > 0
        scaler = sd.Scaler.fit(history, "log" if log else "none")
    except ValueError:  # a constant history
        return fallback
    copy = season if lags >= season else 1  # W0: output h copies lag p - copy + (h mod copy)
    w0 = np.zeros((lags, horizon))
    w0[lags - copy + np.arange(horizon) % copy, np.arange(horizon)] = 1.0
    inputs, targets = sd.windows(scaler.transform(history), lags, horizon)  # -> (N, p), (N, H)
    weight, bias = w0, np.zeros(horizon)
    if len(inputs):
        residual = targets - inputs @ w0
        x_mean, r_mean = inputs.mean(0), residual.mean(0)
        xc = inputs - x_mean
        gram = xc.T @ xc + ridge * len(inputs) * np.eye(lags)
        delta = np.linalg.solve(gram, xc.T @ (residual - r_mean)) if ridge > 0 else \
            np.linalg.lstsq(xc, residual - r_mean, rcond=RCOND)[0]
        weight, bias = w0 + delta, r_mean - x_mean @ delta

    def forecast(values: np.ndarray) -> np.ndarray:
        if len(values) < lags:
            return fallback(values)
        out = scaler.inverse(scaler.transform(values[-lags:]) @ weight + bias)
        return out if np.all(np.isfinite(out)) else fallback(values)

    return forecast


def best_on_validation(forecaster) -> str:
    """The choice of a fitted :class:`~rnnlab.forecast.estimator.Forecaster`: ``"model"``, ``"linear"`` or
    ``"seasonal_naive"``, whichever has the lowest MAE on its validation points (ties keep the model)."""
    values = forecaster.history_.to_numpy()
    start = len(values) - forecaster.val_size_
    errors = {}
    for name in CHOICES:
        forecasts = [_choice_forecast(forecaster, name, values[:o], min(forecaster.horizon_, len(values) - o))
                     for o in range(start, len(values), forecaster.horizon_)]
        errors[name] = float(np.mean(np.abs(np.concatenate(forecasts) - values[start:])))
    return min(CHOICES, key=lambda name: (errors[name], CHOICES.index(name)))


def local_forecast(forecaster, choice: str, history: pd.Series, n: int) -> np.ndarray:
    """``n`` forecasts after ``history`` by what the per-series mode chose for this series."""
    return _choice_forecast(forecaster, choice, history.to_numpy(), n)


def _choice_forecast(forecaster, choice: str, values: np.ndarray, n: int) -> np.ndarray:
    if choice == "seasonal_naive":
        return seasonal_naive(values, n, forecaster.season_)
    z = forecaster.scaler_.transform(values[-forecaster.lookback_:])[None]  # -> (1, L)
    step = forecaster._network if choice == "model" else forecaster.linear_
    return forecaster.scaler_.inverse(forecaster._roll(step, z, n)[0])
