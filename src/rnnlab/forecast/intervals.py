"""Prediction intervals: how to score them, and the baseline intervals a model's must beat.

Quantile forecasts ``p_q`` (levels ``q_1 < ... < q_Q``) of ``n`` test points ``y`` are scored by:

    coverage        = 100 * mean(l <= y <= u)                      percent of points inside [l, u]
    IS_alpha(l,u,y) = (u - l) + (2/alpha)(l - y) 1{y < l} + (2/alpha)(y - u) 1{y > u}
    MSIS            = mean(IS_alpha) / scale                       (Makridakis et al. 2020, the M4 competition)
    scaled pinball  = mean over points and levels of rho_q(y - p_q) / scale,   rho_q(e) = max(q e, (q - 1) e)
    scale           = mean(|x_t - x_{t-m}|, t = m+1 .. T)          the in-sample seasonal-naive error (MASE's)

The interval ``[l, u] = [p_a, p_{1-a}]`` is the widest symmetric pair of levels among the quantiles
(``(0.1, 0.5, 0.9)``: the 80% interval, ``alpha = 0.2``); :func:`interval_metrics` also scores every
other symmetric pair (``levels``). A lower MSIS or scaled pinball is better; coverage should be near the
nominal level.

Baseline intervals (:func:`seasonal_naive_quantiles`): the seasonal naive forecast plus the empirical
quantiles of its own in-sample errors at the same lead time. For step ``h`` the seasonal naive repeats the
value ``k m`` points back, ``k = ceil(h / m)``, so its in-sample errors at that lead are exactly
``x_t - x_{t-km}``; their quantiles (not centred: a trend's drift moves the median too) widen the interval
as the horizon grows past each season.

Symbols: ``n`` test points, ``Q`` levels, ``T`` training length, ``m`` season.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import pandas as pd

from rnnlab.forecast.quantiles import pinball_numpy, quantile_column
from rnnlab.metrics import seasonal_naive

INTERVAL_METRICS = ("coverage", "msis", "scaled_pinball")


def seasonal_scale(train: np.ndarray, season: int = 1) -> float:
    """``mean(|x_t - x_{t-m}|)`` over the training series (``m`` falls back to 1 when it is too short)."""
    x = np.asarray(train, dtype=np.float64)
    m = season if len(x) > season else 1
    return float(np.mean(np.abs(x[m:] - x[:-m]))) if len(x) > m else float("nan")


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Percent of ``actual`` values inside ``[lower, upper]`` (both ends included)."""
    y, lo, hi = (np.asarray(a, dtype=np.float64) for a in (actual, lower, upper))
    return float(100 * np.mean((lo <= y) & (y <= hi)))


def interval_score(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, alpha: float) -> np.ndarray:
    """The interval score of each point (Gneiting & Raftery 2007), see the module docstring.

    Args:
        actual, lower, upper: ``(n,)``.
        alpha: ``1 -`` the nominal level (0.2 for an 80% interval).

    Returns:
        ``(n,)`` scores, in the series' units.
    """
    y, lo, hi = (np.asarray(a, dtype=np.float64) for a in (actual, lower, upper))
    # IS = (u - l) + 2/alpha (l - y) 1{y < l} + 2/alpha (y - u) 1{y > u}
    return (hi - lo) + (2 / alpha) * np.maximum(lo - y, 0) + (2 / alpha) * np.maximum(y - hi, 0)


def msis(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, alpha: float, train: np.ndarray,
         season: int = 1) -> float:
    """The mean scaled interval score of M4: ``mean(IS_alpha) / scale`` (``nan`` when the scale is 0)."""
    scale = seasonal_scale(train, season)
    score = float(np.mean(interval_score(actual, lower, upper, alpha)))
    return score / scale if scale > 0 else float("nan")


def scaled_pinball(actual: np.ndarray, quantile_forecasts: np.ndarray, quantiles, train: np.ndarray,
                   season: int = 1) -> float:
    """``mean(rho_q(y - p_q)) / scale`` over points and levels; ``quantile_forecasts`` is ``(n, Q)``."""
    scale = seasonal_scale(train, season)
    loss = float(np.mean(pinball_numpy(actual, quantile_forecasts, quantiles)))
    return loss / scale if scale > 0 else float("nan")


def symmetric_pairs(quantiles) -> list[tuple[int, int, float]]:
    """The symmetric level pairs ``(i, j, level)`` with ``q_j = 1 - q_i``, widest first; level in percent."""
    q = list(quantiles)
    pairs = []
    for i, low in enumerate(q):
        for j, high in enumerate(q):
            if low < 0.5 and math.isclose(low + high, 1.0, abs_tol=1e-9):
                pairs.append((i, j, round(100 * (high - low), 6)))
    return sorted(pairs, key=lambda pair: -pair[2])


def interval_metrics(actual: np.ndarray, quantile_forecasts: np.ndarray, quantiles, train: np.ndarray,
                     season: int = 1) -> dict:
    """Coverage, MSIS (of the widest symmetric interval) and scaled pinball loss of quantile forecasts.

    Args:
        actual: ``(n,)`` test values.
        quantile_forecasts: ``(n, Q)`` forecasts of the levels ``quantiles`` (sorted).
        quantiles: the ``Q`` levels.
        train: the in-sample series that scales MSIS and the pinball loss.
        season: ``m`` of the seasonal-naive scale.

    Returns:
        ``{"coverage", "msis", "scaled_pinball", "level", "levels"}``: ``level`` is the nominal percent of the
        widest interval that ``coverage`` and ``msis`` score (``None`` without a symmetric pair: then those
        two are ``nan``), ``levels`` maps every symmetric level (``"80"``) to its ``coverage`` and ``msis``.

    Raises:
        ValueError: mismatched shapes.
    """
    y = np.asarray(actual, dtype=np.float64)
    p = np.asarray(quantile_forecasts, dtype=np.float64)
    if y.ndim != 1 or p.shape != (len(y), len(quantiles)) or len(y) == 0:
        raise ValueError(f"intervals: expected actual (n,) and quantile forecasts (n, {len(quantiles)}), "
                         f"got {y.shape} and {p.shape}")
    levels = {}
    for i, j, level in symmetric_pairs(quantiles):
        alpha = 1 - level / 100
        levels[f"{level:g}"] = {"coverage": coverage(y, p[:, i], p[:, j]),
                                "msis": msis(y, p[:, i], p[:, j], alpha, train, season)}
    widest = next(iter(levels), None)
    return {"coverage": levels[widest]["coverage"] if widest else float("nan"),
            "msis": levels[widest]["msis"] if widest else float("nan"),
            "scaled_pinball": scaled_pinball(y, p, quantiles, train, season),
            "level": float(widest) if widest else None, "levels": levels}


def lead_errors(history: np.ndarray, step: int, season: int) -> np.ndarray:
    """The seasonal naive's in-sample errors at lead ``step``: ``x_t - x_{t-km}``, ``k = ceil(step / m)``."""
    x = np.asarray(history, dtype=np.float64)
    lag = math.ceil(step / season) * season
    return x[lag:] - x[:-lag] if len(x) > lag else np.zeros(0)


def seasonal_naive_quantiles(history: np.ndarray, n: int, season: int, quantiles) -> np.ndarray:
    """Quantile forecasts of the seasonal naive: its point forecast plus its empirical lead-time errors.

    Args:
        history: ``(T,)`` the values before the forecast origin.
        n: steps to forecast.
        season: ``m`` (1 gives the naive forecast and its ``h``-step errors).
        quantiles: the levels.

    Returns:
        ``(n, Q)`` non-decreasing along the levels. A lead with fewer than 2 in-sample errors uses the
        errors of the longest lead that has them, so a short history still gets an interval.
    """
    levels = [float(q) for q in quantiles]
    m = min(max(int(season), 1), len(history))
    point = seasonal_naive(history, n, m)
    out = np.empty((n, len(levels)))
    errors = None
    for h in range(1, n + 1):
        at_lead = lead_errors(history, h, m)
        errors = at_lead if len(at_lead) >= 2 or errors is None else errors
        # p_q = seasonal naive + the q-quantile of its in-sample errors at this lead
        out[h - 1] = point[h - 1] + (np.quantile(errors, levels) if len(errors) else 0.0)
    return out


def panel_interval_scores(frame: pd.DataFrame, histories: dict, season: int, quantiles, horizon: int) -> pd.DataFrame:
    """Interval metrics of the model and of the seasonal naive's empirical intervals, one row per series.

    Args:
        frame: a long test frame: ``id``, ``actual`` and one column per level (``q0.1``, ...), each series'
            rows in time order, forecast from origins every ``horizon`` points from the end of its history.
        histories: ``{id: values before the test}`` (they scale MSIS and the pinball loss, and give the
            baseline's errors; the baseline's history grows by the actual values at each later origin).
        season: ``m``.
        quantiles: the levels.
        horizon: the distance between origins.

    Returns:
        Columns ``id`` and ``<method>_<metric>`` for ``model`` and ``seasonal_naive`` and every metric of
        :data:`INTERVAL_METRICS`, and ``<method>_coverage_<level>``, ``<method>_msis_<level>`` for every
        symmetric level (``model_coverage_80``).
    """
    columns = [quantile_column(q) for q in quantiles]
    rows = []
    for name, group in frame.groupby("id", sort=False):
        history, actual = np.asarray(histories[name], dtype=np.float64), group["actual"].to_numpy()
        base = np.concatenate([
            seasonal_naive_quantiles(np.concatenate([history, actual[:start]]), min(horizon, len(actual) - start),
                                     season, quantiles)
            for start in range(0, len(actual), horizon)])
        row = {"id": name}
        for method, p in (("model", group[columns].to_numpy()), ("seasonal_naive", base)):
            scores = interval_metrics(actual, p, quantiles, history, season)
            row.update({f"{method}_{k}": scores[k] for k in INTERVAL_METRICS})
            for level, values in scores["levels"].items():
                row.update({f"{method}_{k}_{level}": v for k, v in values.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def aggregate_intervals(scores: pd.DataFrame) -> dict:
    """Means over series of :func:`panel_interval_scores`'s rows (NaN-skipping).

    Returns:
        ``{method: {metric: mean}}`` for ``model`` and ``seasonal_naive``, and ``levels``:
        ``{level: {method: {"coverage", "msis"}}}`` for every symmetric level (``"80"``, ``"95"``).
    """
    methods = ("model", "seasonal_naive")
    levels = sorted({c.rsplit("_", 1)[1] for c in scores.columns if c.startswith("model_coverage_")}, key=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = {m: {k: float(np.nanmean(scores[f"{m}_{k}"])) for k in INTERVAL_METRICS} for m in methods}
        out["levels"] = {level: {m: {k: float(np.nanmean(scores[f"{m}_{k}_{level}"])) for k in ("coverage", "msis")}
                                 for m in methods} for level in levels}
    return out
