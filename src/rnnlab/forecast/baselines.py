"""The baselines of every series of a panel, and the per-series mode's choice among model, linear and
seasonal naive.

Per series and origin ``o`` (forecasting ``H`` points from the actual values before ``o``):
    naive           the last value repeated;
    seasonal naive  the last season repeated (:func:`rnnlab.metrics.seasonal_naive`);
    linear          a linear AR of ``p = min(L, max(m, 4))`` lags with ``H`` direct outputs (no recursion),
                    fitted on the series' own windows before its first origin by ridge regression **toward
                    the seasonal naive forecast** (:func:`fit_linear`), in its standardised values.

The per-series mode (:func:`validation_errors`, :func:`choose`) forecasts each series' validation points
(the last ``val_size`` of its fitted part) with its network, and the validation points plus the two
horizons before them with its linear baseline (refitted before each origin), and the same points with the
seasonal naive forecast; errors are scaled by the series' in-sample seasonal-naive error (MASE's scale) and
averaged over the series. The whole panel keeps the seasonal naive forecast unless a candidate's error is
at least ``MARGIN`` (10%) below the seasonal naive's on the same points; then every series keeps that
candidate. Why one choice for the panel, not one per series: on seeded samples of 40 Tourism series,
picking each series' best on its one validation window lost to the seasonal naive in aggregate (monthly
1.420 vs 1.396, quarterly 1.712 vs 1.602: the picks fit the window's noise, and a network validated there
also early-stopped there). Why several origins for the linear baseline: on one window it looked 12%
better than the seasonal naive on a sample of 60 quarterly series and was 3% worse on their test points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data import series as sd
from rnnlab.data.panel import Panel
from rnnlab.metrics import RCOND, naive, seasonal_naive

CHOICES = ("model", "linear", "seasonal_naive")
ORIGINS = 3  # windows of H points on which the linear baseline is checked (the last: validation)
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


def validation_errors(forecaster) -> dict[str, tuple[float, float]]:
    """A fitted :class:`~rnnlab.forecast.estimator.Forecaster`'s validation error of each candidate and the
    seasonal naive's on the same points: ``{"model": (e, e_sn), "linear": (e, e_sn)}``, each a mean absolute
    error divided by the in-sample seasonal-naive MAE of the points before the validation (MASE's scale).

    The network is checked on the validation points only (it trained on the points before them); the
    linear baseline, refitted before each origin, also on ``ORIGINS - 1`` earlier windows of ``H`` points.
    """
    values = forecaster.history_.to_numpy()
    start, m, h = len(values) - forecaster.val_size_, forecaster.season_, forecaster.horizon_
    scale = float(np.mean(np.abs(values[m:start] - values[:start - m]))) if start > m else 0.0

    def error(name: str, origins: list[int]) -> float:
        forecasts = [_choice_forecast(forecaster, name, values[:o], min(h, len(values) - o)) for o in origins]
        actual = np.concatenate([values[o:o + h] for o in origins])
        return float(np.mean(np.abs(np.concatenate(forecasts) - actual))) / (scale or 1.0)

    validation = list(range(start, len(values), h))
    rolling = [o for o in (start - h * j for j in range(ORIGINS - 1, 0, -1)) if o > m] + validation
    return {"model": (error("model", validation), error("seasonal_naive", validation)),
            "linear": (error("linear", rolling), error("seasonal_naive", rolling))}


def choose(errors: list[dict[str, tuple[float, float]]], margin: float = MARGIN) -> tuple[str, dict[str, float]]:
    """The panel's choice from every series' :func:`validation_errors`: each candidate's mean error over the
    series divided by the seasonal naive's on the same points; the candidate with the lowest ratio if it is
    below ``1 - margin``, else ``"seasonal_naive"``; and the ratios (empty when no series validated)."""
    if not errors:
        return "seasonal_naive", {}
    ratios = {name: float(np.mean([e[name][0] for e in errors]) / max(np.mean([e[name][1] for e in errors]), 1e-12))
              for name in ("model", "linear")}
    best = min(ratios, key=lambda name: ratios[name])
    return (best if ratios[best] < 1.0 - margin else "seasonal_naive"), ratios


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
