"""The baselines of every series of a panel, and the per-series mode's choice among model, linear and
seasonal naive.

Per series and origin ``o`` (forecasting ``H`` points from the actual values before ``o``):
    naive           the last value repeated;
    seasonal naive  the last season repeated (:func:`rnnlab.metrics.seasonal_naive`);
    linear          a linear AR of ``p = min(L, max(m, 4))`` lags with ``H`` direct outputs (no recursion),
                    fitted on the series' own windows before its first origin by ridge regression **toward
                    the seasonal naive forecast** (:func:`fit_linear`), in its standardised values.

The per-series mode (:func:`validation_errors`, :func:`choose`) forecasts each series' validation points
(the last ``val_size`` of its fitted part) from origins every ``H`` steps with its network, its linear
baseline (fitted on the points before each origin) and the seasonal naive forecast, scales each error by
the series' in-sample seasonal-naive error (MASE's scale), and averages over series. The whole panel then
keeps the seasonal naive forecast unless a candidate's mean is at least ``MARGIN`` (10%) lower; then every
series keeps that candidate. Why one choice for the panel, not one per series: on seeded samples of 40
Tourism series, picking each series' best on its one validation window lost to the seasonal naive in
aggregate (monthly 1.420 vs 1.396, quarterly 1.712 vs 1.602: the picks fit the window's noise, and a
network validated there also early-stopped there), while the panel-wide choice kept the seasonal naive,
which the networks (validation MASE 2.39 vs 2.05 monthly, 4.47 vs 1.90 quarterly) did not beat.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data import series as sd
from rnnlab.data.panel import Panel
from rnnlab.metrics import RCOND, naive, seasonal_naive

CHOICES = ("model", "linear", "seasonal_naive")
MARGIN = 0.1  # the per-series mode leaves the seasonal naive only for a candidate this much better
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


def validation_errors(forecaster) -> dict[str, float]:
    """A fitted :class:`~rnnlab.forecast.estimator.Forecaster`'s validation MAE per candidate (``CHOICES``),
    divided by the in-sample seasonal-naive MAE of the points before the validation (MASE's scale)."""
    values = forecaster.history_.to_numpy()
    start, m, h = len(values) - forecaster.val_size_, forecaster.season_, forecaster.horizon_
    scale = float(np.mean(np.abs(values[m:start] - values[:start - m]))) if start > m else 0.0
    errors = {}
    for name in CHOICES:
        forecasts = [_choice_forecast(forecaster, name, values[:o], min(h, len(values) - o))
                     for o in range(start, len(values), h)]
        errors[name] = float(np.mean(np.abs(np.concatenate(forecasts) - values[start:]))) / (scale or 1.0)
    return errors


def choose(errors: list[dict[str, float]], margin: float = MARGIN) -> tuple[str, dict[str, float]]:
    """The panel's choice from every series' :func:`validation_errors`: the candidate with the lowest mean
    scaled error if it is below ``(1 - margin)`` times the seasonal naive's, else ``"seasonal_naive"``; and
    the means (``{candidate: mean}``; empty when no series validated)."""
    if not errors:
        return "seasonal_naive", {}
    means = {name: float(np.mean([e[name] for e in errors])) for name in CHOICES}
    best = min(("model", "linear"), key=lambda name: means[name])
    return (best if means[best] < (1.0 - margin) * means["seasonal_naive"] else "seasonal_naive"), means


def local_forecast(forecaster, choice: str, history: pd.Series, n: int, season: int) -> np.ndarray:
    """``n`` forecasts after ``history`` by what the per-series mode chose for this series (``forecaster``
    None: a series too short for a network, which keeps the seasonal naive forecast)."""
    if forecaster is None or choice == "seasonal_naive":
        return seasonal_naive(history.to_numpy(), n, season)
    return _choice_forecast(forecaster, choice, history.to_numpy(), n)


def _choice_forecast(forecaster, choice: str, values: np.ndarray, n: int) -> np.ndarray:
    if choice == "seasonal_naive":
        return seasonal_naive(values, n, forecaster.season_)
    if choice == "linear":  # the panel's linear baseline, fitted on these values, n direct outputs
        return fit_linear(values, forecaster.lookback_, n, forecaster.season_)(values)
    z = forecaster.scaler_.transform(values[-forecaster.lookback_:])[None]  # -> (1, L)
    return forecaster.scaler_.inverse(forecaster._roll(forecaster._network, z, n)[0])
