"""Rolling-origin backtests: score a forecaster from ``K`` origins instead of one split.

Every series of length ``T`` is cut at ``K`` origins stepping by the horizon and ending at the series' end,

    o_k = T - (K - k) H        k = 0 .. K-1

and from each origin the forecaster forecasts the ``H`` points that follow, reading only the actual
values before it. By default the forecaster is fitted once, on the values before the first origin
(``o_0``), and then only forecasts; ``refit=True`` fits it again at every origin on everything before
it (the cost grows ``K``-fold). Metrics are computed per origin (the mean over series of each series'
metrics, MASE scaled by the series' values before that origin) and summarised as mean ± sample standard
deviation over the ``K`` origins. The naive and seasonal naive forecasts are scored from the same origins.

The forecaster is given as two callables, so one series, a panel, a network or a baseline all fit:

    fit(histories: dict[id, pd.Series]) -> predict
    predict(histories: dict[id, pd.Series], n: int) -> dict[id, array (n,) or (n, Q)]

``(n, Q)`` forecasts are quantiles (levels ``quantiles``); their median is the point forecast and the
interval metrics of :mod:`rnnlab.forecast.intervals` are added.

Symbols: ``K`` origins, ``H`` horizon, ``S`` series, ``Q`` quantile levels.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from rnnlab.forecast.intervals import INTERVAL_METRICS, interval_metrics, seasonal_naive_quantiles
from rnnlab.forecast.quantiles import quantile_column
from rnnlab.metrics import forecast_metrics, naive, seasonal_naive

Predict = Callable[[dict, int], dict]
Fit = Callable[[dict], Predict]


@dataclass
class Backtest:
    """What a backtest produced.

    Attributes:
        forecasts: long, one row per series, origin and step: ``origin`` (0..K-1), ``id``, ``time``, ``step``
            (1..H), ``actual``, ``model``, ``naive``, ``seasonal_naive``, and with quantiles one column per
            level (``q0.1``, ...).
        per_origin: one row per origin and method (``model``, ``naive``, ``seasonal_naive``): ``origin``,
            ``method``, ``cutoff`` (the last time before the first series' origin), and the metrics
            (:data:`rnnlab.metrics.METRICS`, and with quantiles ``coverage``, ``msis``, ``scaled_pinball`` for
            the model and for the seasonal naive's empirical intervals; ``nan`` where they do not apply).
        horizon, season, refit, quantiles: the settings.
        fitted: the last fitted forecaster (by :func:`series_backtest` and :func:`panel_backtest`).
    """

    forecasts: pd.DataFrame
    per_origin: pd.DataFrame
    horizon: int
    season: int
    refit: bool
    quantiles: tuple | None = None
    fitted: object | None = None

    @property
    def origins(self) -> int:
        return int(self.per_origin["origin"].nunique())

    def summary(self, method: str = "model") -> dict:
        """``{metric: {"mean", "sd"}}`` over the origins (sample sd, ``ddof=1``; 0 for one origin)."""
        rows = self.per_origin[self.per_origin["method"] == method]
        names = [c for c in rows.columns if c not in ("origin", "method", "cutoff") and rows[c].notna().any()]
        ddof = 1 if len(rows) > 1 else 0
        return {name: {"mean": float(rows[name].mean()), "sd": float(rows[name].std(ddof=ddof))}
                for name in names}

    def format(self) -> str:
        """Mean ± sd of every method, one line each, e.g. ``model  mase 0.812 ± 0.104  smape% ...``."""
        fitted = "refit at every origin" if self.refit else "fitted once"
        lines = [f"backtest: {self.origins} origins, horizon {self.horizon}, {fitted}"]
        for method in self.per_origin["method"].unique():
            parts = [f"{name}{'%' if name in ('mape', 'smape', 'coverage') else ''} "
                     f"{v['mean']:.4g} ± {v['sd']:.2g}" for name, v in self.summary(method).items()]
            lines.append(f"{method:<15}" + "  ".join(parts))
        return "\n".join(lines)


def origin_positions(length: int, horizon: int, k: int) -> np.ndarray:
    """``o_k = T - (K - k) H`` for ``k = 0..K-1``: where each origin cuts a series of ``T`` points."""
    return length - (k - np.arange(k)) * horizon


def rolling_origin(series: Mapping[str, pd.Series], fit: Fit, k: int, horizon: int, season: int = 1,
                   refit: bool = False, quantiles=None, min_train: int = 1) -> Backtest:
    """Backtest ``fit``'s forecaster from ``k`` origins per series (see the module docstring).

    Args:
        series: id -> the whole series (the last ``k * horizon`` points are forecast).
        fit: the fitting callable; returns a predict callable.
        k: origins ``K`` (>= 1).
        horizon: ``H``: points forecast from each origin, and the step between origins.
        season: ``m`` of the seasonal naive forecast and of MASE's scale.
        refit: fit again at every origin (default: once, before the first).
        quantiles: the levels when ``predict`` returns ``(n, Q)`` quantile forecasts.
        min_train: points every series needs before its first origin.

    Raises:
        ValueError: bad ``k`` or ``horizon``, or a series too short for them (named).
    """
    for name, value in (("k (the backtest origins)", k), ("horizon", horizon)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"backtest: {name} must be a positive integer, got {value!r}")
    for name, s in series.items():
        need = k * horizon + min_train
        if len(s) < need:
            raise ValueError(f"backtest: series '{name}' has {len(s)} points, too few for {k} origins of "
                             f"horizon {horizon} after {min_train} training points: need at least {need}")
    positions = {name: origin_positions(len(s), horizon, k) for name, s in series.items()}
    predict = None
    frames, rows = [], []
    for origin in range(k):
        histories = {name: s.iloc[:positions[name][origin]] for name, s in series.items()}
        if predict is None or refit:
            predict = fit(histories)
        forecasts = predict(histories, horizon)
        frame = _origin_frame(series, histories, forecasts, origin, horizon, season, quantiles)
        frames.append(frame)
        rows.extend(_origin_scores(frame, histories, origin, season, quantiles))
    return Backtest(pd.concat(frames, ignore_index=True), pd.DataFrame(rows), horizon, season, refit,
                    tuple(quantiles) if quantiles is not None else None)


def _origin_frame(series, histories, forecasts, origin, horizon, season, quantiles) -> pd.DataFrame:
    parts = []
    for name, s in series.items():
        history = histories[name]
        start = len(history)
        actual = s.iloc[start:start + horizon]
        p = np.asarray(forecasts[name], dtype=np.float64)
        expected = (horizon,) if quantiles is None else (horizon, len(quantiles))
        if p.shape != expected:
            raise ValueError(f"backtest: the forecaster returned shape {p.shape} for series '{name}', "
                             f"expected {expected}")
        values = history.to_numpy()
        part = {"origin": origin, "id": name, "time": actual.index, "step": np.arange(1, horizon + 1),
                "actual": actual.to_numpy()}
        if quantiles is None:
            part["model"] = p
        else:
            part["model"] = p[:, list(quantiles).index(0.5)]
            part.update({quantile_column(q): p[:, j] for j, q in enumerate(quantiles)})
        part["naive"] = naive(values, horizon)
        part["seasonal_naive"] = seasonal_naive(values, horizon, season)
        parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True)


def _origin_scores(frame, histories, origin, season, quantiles) -> list[dict]:
    """One row per method: the mean over series of each series' metrics at this origin.

    With quantiles, the model's intervals and the seasonal naive's empirical ones
    (:func:`~rnnlab.forecast.intervals.seasonal_naive_quantiles`) are scored too.
    """
    first = next(iter(histories.values()))
    cutoff = str(first.index[-1]) if len(first) else ""
    rows = []
    for method in ("model", "naive", "seasonal_naive"):
        per_series = []
        for name, part in frame.groupby("id", sort=False):
            train, actual = histories[name].to_numpy(), part["actual"].to_numpy()
            scores = forecast_metrics(actual, part[method].to_numpy(), train, season)
            if quantiles is not None and method != "naive":
                p = (part[[quantile_column(q) for q in quantiles]].to_numpy() if method == "model" else
                     seasonal_naive_quantiles(train, len(part), season, quantiles))
                intervals = interval_metrics(actual, p, quantiles, train, season)
                scores.update({key: intervals[key] for key in INTERVAL_METRICS})
            per_series.append(scores)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a metric undefined for every series: nan
            means = {key: float(np.nanmean([s[key] for s in per_series])) for key in per_series[0]}
        rows.append({"origin": origin, "method": method, "cutoff": cutoff, **means})
    return rows


def series_backtest(forecaster, series, k: int, refit: bool = False) -> Backtest:
    """:func:`rolling_origin` of a single-series :class:`~rnnlab.forecast.estimator.Forecaster`'s settings.

    A copy with the same settings is fitted on ``series`` up to the first origin (and again at every
    origin with ``refit``); ``forecaster`` itself is left as it is. Horizon and season are the forecaster's
    (resolved from ``series`` where they are ``None``).
    """
    from rnnlab.data import series as sd
    from rnnlab.forecast.estimator import resolve_sizes

    series = sd.as_series(series)
    sizes = resolve_sizes(forecaster, series)
    params = forecaster.get_params()

    fits = []

    def fit(histories: dict) -> Predict:
        fits.append({name: type(forecaster)(**params).fit(history) for name, history in histories.items()})
        fitted = fits[-1]
        return lambda hist, n: {name: fitted[name].predict(n, h).to_numpy() for name, h in hist.items()}

    min_train = sizes["lookback"] + sizes["horizon"] + sizes["val_size"] + 1
    result = rolling_origin({str(series.name): series}, fit, k, sizes["horizon"], sizes["season"], refit,
                            min_train=min_train)
    result.fitted = next(iter(fits[-1].values()))
    return result


def panel_backtest(forecaster, data, k: int, refit: bool = False, covariates: dict | None = None) -> Backtest:
    """:func:`rolling_origin` of a :class:`~rnnlab.forecast.panel.PanelForecaster`'s settings on a panel.

    One copy is fitted on every series up to its first origin (again at every origin with ``refit``) and
    forecasts all series from each origin (with quantiles: one column per level, interval metrics added).
    ``covariates`` (``{id: frame by time}``, covering every origin's forecast points) as in
    :meth:`~rnnlab.forecast.panel.PanelForecaster.fit`.
    """
    from rnnlab.data.panel import Panel

    panel = Panel.build(data, fill=forecaster.config.fill)
    sizes = forecaster.resolve(panel)
    forecaster.check_lengths(panel, sizes, k * sizes["horizon"])
    quantiles = tuple(sizes["quantiles"]) if sizes["quantiles"] else None
    series = {name: panel.series(i) for i, name in enumerate(panel.ids)}

    fits = []

    def fit(histories: dict) -> Predict:
        fits.append(type(forecaster)(forecaster.config).fit(Panel.from_dict(histories, fill=forecaster.config.fill),
                                                            covariates=covariates))
        fitted = fits[-1]
        return lambda hist, n: panel_forecasts(fitted, hist, n)

    result = rolling_origin(series, fit, k, sizes["horizon"], sizes["season"], refit, quantiles)
    result.fitted = fits[-1]
    return result


def panel_forecasts(forecaster, histories: dict, n: int) -> dict:
    """``{id: (n,) or (n, Q)}``: a fitted PanelForecaster's forecasts after each history."""
    from rnnlab.data.panel import Panel

    frame = forecaster.predict(n, Panel.from_dict(histories))
    quantiles = forecaster.quantiles_
    columns = [quantile_column(q) for q in quantiles] if quantiles else ["forecast"]
    out = {}
    for name, rows in frame.groupby("id", sort=False):
        values = rows[columns].to_numpy(np.float64)
        out[name] = values if quantiles else values[:, 0]
    return out
