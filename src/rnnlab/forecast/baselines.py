"""The baselines of every series of a panel, and the per-series mode's choice among model, linear and
seasonal naive.

Per series and origin ``o`` (forecasting ``H`` points from the actual values before ``o``):
    naive           the last value repeated;
    seasonal naive  the last season repeated (:func:`rnnlab.metrics.seasonal_naive`);
    linear          a least-squares linear AR fitted on the series' own windows before its first origin, in
                    its own scaled space (:class:`rnnlab.data.series.Scaler`, :class:`rnnlab.metrics.LinearAR`),
                    with lookback ``min(L, (T - H - 1) // 3)``, so that it has at least twice as many windows
                    as weights; a series too short for one lag, or constant, falls back to naive, and so does
                    a forecast beyond 10 times the history's largest magnitude (a short series' AR can explode:
                    on Tourism yearly one reached 1e74 and made the mean meaningless).

The per-series mode (:func:`best_on_validation`) forecasts each series' validation points (the last
``val_size`` of its fitted part) from origins every ``H`` steps with its network, its linear AR and the
seasonal naive forecast, and keeps the one with the lowest mean absolute error there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data import series as sd
from rnnlab.data.panel import Panel
from rnnlab.metrics import LinearAR, naive, seasonal_naive

CHOICES = ("model", "linear", "seasonal_naive")


def panel_baselines(full: Panel, origins: list[np.ndarray], horizon: int, season: int, lookback: int,
                    transform: str) -> dict[str, list[np.ndarray]]:
    """``{name: [per series (origins, H) forecasts]}`` for naive, seasonal naive and linear."""
    out = {"naive": [], "seasonal_naive": [], "linear": []}
    for i in range(len(full)):
        values = full.values[full.offsets[i]:full.offsets[i + 1]].astype(np.float64)
        linear = _fit_linear(values[:origins[i][0]], lookback, horizon, transform)
        out["naive"].append(np.stack([naive(values[:o], horizon) for o in origins[i]]))
        out["seasonal_naive"].append(np.stack([seasonal_naive(values[:o], horizon, season) for o in origins[i]]))
        out["linear"].append(np.stack([linear(values[:o]) for o in origins[i]]))
    return out


def _fit_linear(history: np.ndarray, lookback: int, horizon: int, transform: str):
    """A function ``history -> (H,)`` forecasts: the series' own linear AR, or naive when it cannot fit one."""
    lags = min(lookback, (len(history) - horizon - 1) // 3)
    try:
        scaler = sd.Scaler.fit(history, transform if transform != "log" or history.min() > 0 else "none")
    except ValueError:  # a constant history
        scaler = None
    if scaler is None or lags < 1:
        return lambda values: naive(values, horizon)
    ar = LinearAR().fit(*sd.windows(scaler.transform(history), lags, horizon))
    bound = 10 * np.abs(history).max()

    def forecast(values: np.ndarray) -> np.ndarray:
        out = scaler.inverse(ar(scaler.transform(values[-lags:])[None])[0])
        return out if np.all(np.isfinite(out)) and np.abs(out).max() <= bound else naive(values, horizon)

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
