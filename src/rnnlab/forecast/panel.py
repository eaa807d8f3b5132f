"""PanelForecaster: forecast many series, with one global network or one model per series.

``mode="global"``: one :class:`~rnnlab.forecast.estimator.ForecastNet` (the lesson's RNN reading the window,
plus a linear skip that starts at the least-squares fit of all series' windows) is trained on windows drawn
lazily from every series, each window scaled by its own level (:mod:`rnnlab.forecast.windows`), so series
of any level share weights. The last ``val_size`` points of every series (default: the horizon) validate
for early stopping; forecasts read each series' last ``L`` points, so they also forecast series the model
never saw.

``mode="local"``: the old path, one :class:`~rnnlab.forecast.estimator.Forecaster` per series; each series
then keeps whichever of its model, its linear AR and its seasonal naive forecast had the lowest error on
that series' validation points (``select="validation"``), so the per-series mode does not fall below the
seasonal naive forecast where its network overfits; :attr:`PanelForecaster.choices_` says what each series
kept. ``mode="auto"``: global for several series, local for one.

Symbols: ``S`` series, ``L`` lookback, ``H`` horizon.

Example:
    >>> from rnnlab.data.synthetic import seasonal_panel
    >>> panel = seasonal_panel(20, 60, seed=0)
    >>> f = PanelForecaster(horizon=6, lookback=12, epochs=2, batches_per_epoch=2, quiet=True, device="cpu").fit(panel)
    >>> f.predict().shape
    (120, 3)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rnnlab import distributed
from rnnlab.data import series as sd
from rnnlab.data.panel import Panel
from rnnlab.forecast import baselines
from rnnlab.forecast.estimator import ForecastConfig, Forecaster, ForecastNet, one_thread, train_config
from rnnlab.forecast.windows import LOSSES, SCALINGS, PanelWindows, as_tensor, forecast_windows
from rnnlab.metrics import LinearAR

MODES = ("auto", "global", "local")
SELECTS = ("validation", "model")


class PanelForecaster:
    """Fit one global network (or one model per series) to a panel; forecast, backtest, save.

    Settings are :class:`~rnnlab.forecast.estimator.ForecastConfig`'s fields (``mode``, ``scaling``, ``loss``,
    ``batches_per_epoch``, ``select`` matter here besides the model and training ones); ``__init__`` stores
    them and does nothing else. Learned state: ``panel_`` (the history forecasts continue from), ``mode_``,
    ``lookback_``, ``horizon_``, ``season_``, ``val_size_``, ``log_``; global: ``model_``, ``result_``;
    local: ``forecasters_`` (id -> Forecaster) and ``choices_`` (id -> "model", "linear" or "seasonal_naive").
    """

    def __init__(self, config: ForecastConfig | None = None, **settings) -> None:
        names = {f.name for f in dataclasses.fields(ForecastConfig)}
        unknown = sorted(set(settings) - names)
        if unknown:
            raise ValueError(f"forecast: unknown setting '{unknown[0]}'; settings are ForecastConfig's fields")
        self.config = dataclasses.replace(config or ForecastConfig(), **settings)

    def get_params(self) -> dict:
        return dataclasses.asdict(self.config)

    # ---------------------------------------------------------------- fitting
    def resolve(self, panel: Panel) -> dict:
        """The sizes ``fit`` uses for ``panel``: mode, season, horizon, lookback, val_size."""
        c = self.config
        for name, value, allowed in (("mode", c.mode, MODES), ("scaling", c.scaling, SCALINGS),
                                     ("loss", c.loss, LOSSES), ("select", c.select, SELECTS)):
            if value not in allowed:
                raise ValueError(f"forecast: {name} must be one of {', '.join(allowed)}, got {value!r}")
        season = c.season or sd.season_length(panel.freq)
        horizon = c.horizon or (season if season > 1 else 1)
        lookback = c.lookback or (season if season >= 12 else 20)
        mode = c.mode if c.mode != "auto" else ("global" if len(panel) > 1 else "local")
        val_size = c.val_size if c.val_size is not None else horizon
        for name, value in (("lookback", lookback), ("horizon", horizon), ("season", season),
                            ("batch_size", c.batch_size), ("batches_per_epoch", c.batches_per_epoch)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"forecast: {name} must be a positive integer, got {value!r}")
        return {"mode": mode, "season": int(season), "horizon": int(horizon), "lookback": int(lookback),
                "val_size": int(val_size)}

    def check_lengths(self, panel: Panel, sizes: dict, test_size: int = 0) -> None:
        """Every series needs its validation and test points, the horizon's targets and one input."""
        need = sizes["val_size"] + sizes["horizon"] + 1 + test_size
        if sizes["mode"] == "local":
            need = sizes["lookback"] + sizes["horizon"] + max(1, sizes["val_size"]) + test_size
        short = np.flatnonzero(panel.lengths < need)
        if len(short):
            i = int(short[0])
            more = f"; {len(short)} series are that short" if len(short) > 1 else ""
            raise ValueError(f"series: '{panel.ids[i]}' has {panel.lengths[i]} points: too short for horizon "
                             f"{sizes['horizon']} + validation {sizes['val_size']} + test {test_size} "
                             f"(+ inputs): need at least {need}{more}")

    def fit(self, data, run_dir: str | Path | None = None, resume: bool = False) -> "PanelForecaster":
        """Fit on ``data`` (a Panel or anything :meth:`Panel.build` takes); with ``run_dir``, checkpoint there."""
        panel = Panel.build(data, fill=self.config.fill)
        sizes = self.resolve(panel)
        self.check_lengths(panel, sizes)
        self.mode_, self.season_, self.horizon_ = sizes["mode"], sizes["season"], sizes["horizon"]
        self.lookback_, self.val_size_, self.panel_ = sizes["lookback"], sizes["val_size"], panel
        positive = bool(panel.values.min() > 0)
        if self.config.transform == "log" and not positive:
            raise ValueError(f"forecast: transform 'log' needs positive series; the minimum is "
                             f"{panel.values.min():.4g}")
        self.log_ = self.config.transform == "log" or (self.config.transform == "auto" and positive)
        if self.mode_ == "local":
            return self._fit_local(panel)
        return self._fit_global(panel, run_dir, resume)

    def _fit_global(self, panel: Panel, run_dir, resume: bool) -> "PanelForecaster":
        from rnnlab import train

        c = self.config
        task = PanelWindows(panel, self.lookback_, self.horizon_, self.val_size_, c.scaling, self.log_, c.loss,
                            c.batch_size, c.batches_per_epoch)
        torch.manual_seed(c.seed)
        self.model_ = ForecastNet(self.lookback_, self.horizon_, c.cell, c.hidden_size, c.num_layers, c.dropout,
                                  skip=c.skip == "linear", engine=c.engine)
        if self.model_.skip is not None:  # start at the least-squares fit of (a sample of) all windows
            linear = LinearAR().fit(*task.sample(20000, c.seed))
            with torch.no_grad():
                self.model_.skip.weight.copy_(as_tensor(linear.weight.T))
                self.model_.skip.bias.copy_(as_tensor(linear.bias))
        self.model_.to(distributed.resolve_device(c.device))
        with one_thread(self.model_):
            self.result_ = train.fit(self.model_, task, train_config(c), run_dir=run_dir, resume=resume)
        self.model_.eval()
        return self

    def _fit_local(self, panel: Panel) -> "PanelForecaster":
        self.forecasters_, self.choices_ = {}, {}
        local = dataclasses.replace(self.config, val_size=self.val_size_, quiet=True)
        params = {k: getattr(local, k) for k in Forecaster.PARAMS}
        params.update(horizon=self.horizon_, lookback=self.lookback_, season=self.season_)
        for i, name in enumerate(panel.ids):
            f = Forecaster(**params).fit(panel.series(i))
            self.forecasters_[name] = f
            self.choices_[name] = "model" if self.config.select == "model" else baselines.best_on_validation(f)
        self.result_ = None
        return self

    # ---------------------------------------------------------------- forecasting
    def _check_fitted(self) -> None:
        if not hasattr(self, "panel_"):
            raise ValueError("forecast: this PanelForecaster is not fitted yet; call fit(panel) first")

    def predict(self, n: int | None = None, panel=None) -> pd.DataFrame:
        """Forecast ``n`` steps (default: the horizon) after every series of the fitted panel, or of ``panel``.

        ``panel`` (a Panel or what :meth:`Panel.build` takes) may hold series the model never saw (global
        mode); the local mode forecasts only the series it fitted.

        Returns:
            A long frame ``id, time, forecast``: ``n`` rows per series, dated when the panel is.
        """
        self._check_fitted()
        n = self.horizon_ if n is None else n
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"forecast: n (the steps to forecast) must be a positive integer, got {n!r}")
        panel = self.panel_ if panel is None else Panel.build(panel, fill=self.config.fill)
        if self.mode_ == "global":
            rows = np.arange(len(panel))
            x = panel.gather(rows, panel.lengths, self.lookback_)
            values = forecast_windows(self.model_, x, n, self.horizon_, self.config.scaling, self.log_)
        else:
            values = np.stack([self._local_forecast(panel, i, n) for i in range(len(panel))])
        return _long(panel, values, panel.lengths, "forecast")

    def _local_forecast(self, panel: Panel, i: int, n: int) -> np.ndarray:
        name = panel.ids[i]
        if name not in self.forecasters_:
            raise ValueError(f"forecast: series '{name}' was not fitted; the per-series mode forecasts only "
                             f"the series it was trained on (the global mode forecasts any)")
        f, history = self.forecasters_[name], panel.series(i)
        return baselines.local_forecast(f, self.choices_[name], history, n)

    def backtest(self, test) -> pd.DataFrame:
        """Forecast each series' test points (which follow its fitted history) from rolling origins.

        Origins sit every ``horizon`` steps from the end of each history; each forecasts up to ``horizon``
        points from the actual values before it; the baselines forecast the same points from the same origins.

        Returns:
            A long frame ``id, time, actual, model, naive, seasonal_naive, linear``.
        """
        self._check_fitted()
        test = Panel.build(test, fill=self.config.fill)
        if test.ids != self.panel_.ids:
            raise ValueError("forecast: the test panel must hold the fitted series, in the same order")
        full = _join(self.panel_, test)
        starts = self.panel_.lengths
        origins = [np.arange(s, s + t, self.horizon_) for s, t in zip(starts, test.lengths)]
        model = self._origin_forecasts(full, origins)
        base = baselines.panel_baselines(full, origins, self.horizon_, self.season_, self.lookback_,
                                         self.config.transform)
        frame = _long(test, np.concatenate(_test_values(test)), None, "actual")
        frame["model"] = np.concatenate([_cut(model[i], test.lengths[i]) for i in range(len(test))])
        for name, forecasts in base.items():
            frame[name] = np.concatenate([_cut(forecasts[i], test.lengths[i]) for i in range(len(test))])
        return frame

    def _origin_forecasts(self, full: Panel, origins: list[np.ndarray]) -> list[np.ndarray]:
        """Per series: ``(origins, H)`` model forecasts from the actual values before each origin."""
        counts = [len(o) for o in origins]
        if self.mode_ == "global":
            rows = np.repeat(np.arange(len(full)), counts)
            x = full.gather(rows, np.concatenate(origins), self.lookback_)
            flat = forecast_windows(self.model_, x, self.horizon_, self.horizon_, self.config.scaling, self.log_)
            return np.split(flat, np.cumsum(counts)[:-1])
        out = []
        for i, name in enumerate(full.ids):
            f, s = self.forecasters_[name], full.series(i)
            out.append(np.stack([baselines.local_forecast(f, self.choices_[name], s.iloc[:o], self.horizon_)
                                 for o in origins[i]]))
        return out

    # ---------------------------------------------------------------- files
    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` (``{"task": "forecast", "panel": state}``), the weights and the history."""
        from rnnlab.forecast import panel_files

        self._check_fitted()
        return panel_files.save(self, Path(directory))

    @classmethod
    def load(cls, directory: str | Path) -> "PanelForecaster":
        """A fitted PanelForecaster from a directory written by :meth:`save` (or ``rnnlab forecast``)."""
        from rnnlab.forecast import panel_files

        return panel_files.load(cls, Path(directory))


def _test_values(test: Panel) -> list[np.ndarray]:
    """Each series' values as float64 arrays."""
    return [test.values[a:b].astype(np.float64) for a, b in zip(test.offsets[:-1], test.offsets[1:])]


def _cut(forecasts: np.ndarray, count: int) -> np.ndarray:
    """``(origins, H)`` forecasts read in time order, the first ``count`` of them."""
    return forecasts.reshape(-1)[:count]


def _join(history: Panel, test: Panel) -> Panel:
    """Each series' history followed by its test points."""
    lengths = history.lengths + test.lengths
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = np.empty(offsets[-1], dtype=np.float32)
    for i in range(len(history)):
        a, n = offsets[i], history.lengths[i]
        values[a:a + n] = history.values[history.offsets[i]:history.offsets[i + 1]]
        values[a + n:offsets[i + 1]] = test.values[test.offsets[i]:test.offsets[i + 1]]
    return Panel(list(history.ids), values, offsets, history.starts, history.freq, history.source)


def _long(panel: Panel, values: np.ndarray, first: np.ndarray | None, column: str) -> pd.DataFrame:
    """A long frame ``id, time, <column>``: row block ``i`` labels points ``first[i] ..`` of series ``i``."""
    values = np.asarray(values, dtype=np.float64)
    counts = [len(v) for v in values] if values.ndim == 2 else list(panel.lengths)
    times = [panel.labels(i, 0 if first is None else int(first[i]), int(c)) for i, c in enumerate(counts)]
    return pd.DataFrame({"id": np.repeat(panel.ids, counts), "time": np.concatenate([np.asarray(t) for t in times]),
                         column: values.reshape(-1)})
