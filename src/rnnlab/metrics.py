"""Forecast accuracy metrics and the baselines a forecaster must beat.

Metrics compare actual values ``y`` with forecasts ``p`` over the same ``n`` test points:

    MSE   = mean((y - p)^2)                 RMSE  = sqrt(MSE)
    MAE   = mean(|y - p|)
    MAPE  = 100 * mean(|y - p| / |y|)       over the points where y != 0 (percent)
    sMAPE = 100 * mean(2 |y - p| / (|y| + |p|))   (a 0/0 term counts as 0; percent)
    MASE  = MAE / mean(|x_t - x_{t-m}|)     the in-sample seasonal-naive error on the training series x,
                                            season m (m = 1: the naive error)

Baselines, each forecasting ``n`` steps from a history ``x_1 .. x_T``:
    naive           p_{T+h} = x_T
    seasonal naive  p_{T+h} = x_{T - m + ((h - 1) mod m) + 1}   (the last season, repeated)
    linear          a least-squares linear autoregression on the last ``L`` values (:class:`LinearAR`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

METRICS = ("mse", "rmse", "mae", "mape", "smape", "mase")


def forecast_metrics(actual: np.ndarray, predicted: np.ndarray, train: np.ndarray, season: int = 1) -> dict:
    """MSE, RMSE, MAE, MAPE, sMAPE and MASE of ``predicted`` against ``actual`` (see the module docstring).

    Args:
        actual: ``(n,)`` test values.
        predicted: ``(n,)`` forecasts of the same points.
        train: the in-sample series that scales MASE.
        season: ``m`` for MASE's seasonal-naive scale; falls back to 1 when the series is too short.

    Returns:
        ``{"mse", "rmse", "mae", "mape", "smape", "mase"}`` as floats (``nan`` where undefined).
    """
    y = np.asarray(actual, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError(f"metrics: actual and predicted must be equal-length 1-D arrays, got {y.shape} and {p.shape}")
    error = y - p
    mse = float(np.mean(error**2))
    mae = float(np.mean(np.abs(error)))
    nonzero = y != 0
    mape = float(100 * np.mean(np.abs(error[nonzero]) / np.abs(y[nonzero]))) if nonzero.any() else float("nan")
    denominator = np.abs(y) + np.abs(p)
    safe = np.where(denominator > 0, denominator, 1.0)
    smape = float(100 * np.mean(np.where(denominator > 0, 2 * np.abs(error) / safe, 0.0)))
    x = np.asarray(train, dtype=np.float64)
    m = season if len(x) > season else 1
    # scale = mean(|x_t - x_{t-m}|)
    scale = float(np.mean(np.abs(x[m:] - x[:-m]))) if len(x) > m else float("nan")
    mase = mae / scale if scale > 0 else float("nan")
    return {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": mae, "mape": mape, "smape": smape, "mase": mase}


def naive(history: np.ndarray, n: int) -> np.ndarray:
    """``p_{T+h} = x_T`` for ``h = 1..n``."""
    return np.full(n, float(history[-1]))


def seasonal_naive(history: np.ndarray, n: int, season: int) -> np.ndarray:
    """The last full season repeated: ``p_{T+h} = x_{T - m + ((h-1) mod m) + 1}``; ``m = 1`` is :func:`naive`."""
    m = min(max(int(season), 1), len(history))
    last = np.asarray(history[-m:], dtype=np.float64)
    return last[np.arange(n) % m]


RCOND = 1e-6  # relative singular-value cutoff of the least-squares fit


class LinearAR:
    """Linear autoregression fitted by least squares: ``y = [x, 1] W`` for every output at once.

    Args (of :meth:`fit`):
        inputs: ``(N, L)`` windows; targets: ``(N, O)`` the values that follow (``O = 1`` recursive,
        ``O = H`` direct).

    Attributes:
        weight: ``(L, O)``; bias: ``(O,)``.

    Example:
        >>> x = np.sin(np.arange(50) * 0.3)
        >>> ar = LinearAR().fit(np.stack([x[i:i+3] for i in range(46)]), x[3:49, None])
        >>> bool(abs(ar(x[None, 46:49])[0, 0] - x[49]) < 1e-8)
        True
    """

    def fit(self, inputs: np.ndarray, targets: np.ndarray) -> "LinearAR":
        design = np.concatenate([inputs, np.ones((len(inputs), 1))], axis=1)  # -> (N, L + 1)
        # W = argmin ||[X, 1] W - Y||^2, minimum norm. Lagged values of a smooth series are nearly collinear
        # (a sine's lags span 2 dimensions); keeping singular values below 1e-6 of the largest gives weights
        # of 1e7 that cancel in float64 and fall apart in the float32 skip layer that starts from them.
        solution, *_ = np.linalg.lstsq(design, targets, rcond=RCOND)  # -> (L + 1, O)
        self.weight, self.bias = solution[:-1], solution[-1]
        return self

    def fit_normal(self, gram: np.ndarray, cross: np.ndarray) -> "LinearAR":
        """The same fit from the normal equations: ``gram = [X, 1]^T [X, 1]`` ``(L + 1, L + 1)`` and
        ``cross = [X, 1]^T Y`` ``(L + 1, O)`` (for windows too many to build, see
        :func:`rnnlab.forecast.series_windows.fit_linear`).

        With ``gram = V diag(s^2) V^T`` (``s`` the design's singular values), the minimum-norm solution
        keeping ``s > RCOND max(s)``, as :meth:`fit` does: ``W = V_k diag(1 / s_k^2) V_k^T cross``.
        """
        eigenvalues, vectors = np.linalg.eigh(gram)
        singular = np.sqrt(np.maximum(eigenvalues, 0.0))
        keep = singular > RCOND * singular.max()
        v = vectors[:, keep]
        # W = V_k diag(1 / s_k^2) V_k^T C
        solution = v @ ((v.T @ cross) / eigenvalues[keep][:, None])  # -> (L + 1, O)
        self.weight, self.bias = solution[:-1], solution[-1]
        return self

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        return inputs @ self.weight + self.bias  # (N, L) -> (N, O)


def panel_scores(frame: pd.DataFrame, histories: dict[str, np.ndarray], season: int,
                 methods: tuple[str, ...] = ("model", "naive", "seasonal_naive", "linear")) -> pd.DataFrame:
    """Metrics of every method on every series of a long backtest frame: one row per series.

    Args:
        frame: columns ``id``, ``actual`` and one per method (e.g. ``Forecaster``/``PanelForecaster.backtest``).
        histories: ``{id: training values}``, which scale each series' MASE.
        season: the seasonal-naive period of MASE's scale.
        methods: the forecast columns.

    Returns:
        Columns ``id``, ``points`` and ``<method>_<metric>`` for every method and metric of :data:`METRICS`.
    """
    rows = []
    for name, group in frame.groupby("id", sort=False):
        row = {"id": name, "points": len(group)}
        for method in methods:
            scores = forecast_metrics(group["actual"].to_numpy(), group[method].to_numpy(), histories[name], season)
            row.update({f"{method}_{k}": v for k, v in scores.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def aggregate(series: pd.DataFrame, methods: tuple[str, ...] = ("model", "naive", "seasonal_naive", "linear"),
              reference: str = "model") -> dict:
    """Means over series of every metric of every method (NaN-skipping), and on how many series
    ``reference``'s MASE is below each other method's (``beats``), out of ``series`` compared.

    Returns:
        ``{method: {metric: mean}, "beats": {method: count}, "series": S}``.
    """
    out = {m: {k: float(np.nanmean(series[f"{m}_{k}"])) if series[f"{m}_{k}"].notna().any() else float("nan")
               for k in METRICS} for m in methods}
    out["beats"] = {m: int((series[f"{reference}_mase"] < series[f"{m}_mase"]).sum()) for m in methods
                    if m != reference}
    out["series"] = int(len(series))
    return out
