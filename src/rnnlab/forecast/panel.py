"""PanelForecaster: forecast many series, with one global network or one model per series.

``mode="global"``: one :class:`~rnnlab.forecast.windows.GlobalNet` per ensemble member (the lesson's RNN
reading the window one season per step, a linear head and a linear skip), trained on windows drawn lazily
from every series, each scaled by its own level, with a MASE-scaled absolute loss
(:mod:`rnnlab.forecast.windows`), so series of any level share weights. The members differ in lookback (2, 3
and 4 seasons by default) and the forecast is their median. Forecasts read each series' last values, so they
also forecast series the model never saw. These defaults were chosen by measurement on the Tourism
competition (README: Many series).

``mode="local"``: the old path, one :class:`~rnnlab.forecast.estimator.Forecaster` per series. With
``select="validation"`` the panel then keeps, for every series, whichever of the networks, the linear
baseline and the seasonal naive forecast scored best on the validation points in aggregate — the seasonal
naive unless another is 10% better (:func:`rnnlab.forecast.baselines.choose`, which says why) — so the
per-series mode does not fall below the seasonal naive forecast where its networks overfit;
:attr:`PanelForecaster.choices_` says what each series kept and ``validation_`` the scores behind it. A
series too short for a network (lookback + horizon + validation points) keeps the seasonal naive forecast.
``mode="auto"``: global for several series, local for one.

Symbols: ``S`` series, ``L`` lookback, ``H`` horizon, ``m`` season.

Example:
    >>> from rnnlab.data.synthetic import seasonal_panel
    >>> panel = seasonal_panel(20, 60, seed=0)
    >>> f = PanelForecaster(horizon=6, lookback=12, steps=4, quiet=True, device="cpu").fit(panel)
    >>> f.predict().shape
    (120, 3)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from rnnlab import distributed
from rnnlab.data import series as sd
from rnnlab.data.panel import Panel
from rnnlab.forecast import baselines
from rnnlab.forecast import panel_covariates
from rnnlab.forecast.estimator import Forecaster, one_thread
from rnnlab.forecast.quantiles import median_index, parse_quantiles, quantile_column
from rnnlab.forecast.settings import SERIES_BATCH, SERIES_HIDDEN, ForecastConfig, resolve_schedule, train_config
from rnnlab.forecast.windows import GlobalNet, PanelWindows, forecast_windows, window

MODES = ("auto", "global", "local")
GLOBAL_HIDDEN, GLOBAL_BATCH, GLOBAL_STEPS = 64, 256, 2000  # the global defaults (see resolve)
SELECTS = ("validation", "model")


class PanelForecaster:
    """Fit one global network (or one model per series) to a panel; forecast, backtest, save.

    Settings are :class:`~rnnlab.forecast.estimator.ForecastConfig`'s fields (``mode``, ``batches_per_epoch``
    and ``select`` matter here besides the model and training ones); ``__init__`` stores them and does nothing
    else. Learned state: ``panel_`` (the history forecasts continue from), ``mode_``, ``sizes_``,
    ``lookbacks_``, ``horizon_``, ``season_``, ``val_size_``; global: ``model_`` (one network per lookback),
    ``result_``;
    local: ``forecasters_`` (id -> Forecaster, None for a series too short for one), ``choices_`` (id ->
    "model", "linear" or "seasonal_naive") and ``validation_`` (candidate -> its validation error / the
    seasonal naive's).
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
        """The sizes ``fit`` uses for ``panel``: mode, season, horizon, lookbacks, val_size, hidden, batch, steps.

        Global defaults (measured on the Tourism competition, see the README): lookbacks 2, 3 and 4 seasons
        (``max(m, 4)`` values a season; one ensemble member each, forecasts their median), no validation
        (``val_size`` 0: a fixed number of steps, 2000, the learning rate on a cosine to 0), hidden 64, batches
        of 256. Local defaults: the single-series ones, validation = the horizon (each series' choice is made
        there).
        """
        c = self.config
        for name, value, allowed in (("mode", c.mode, MODES), ("select", c.select, SELECTS)):
            if value not in allowed:
                raise ValueError(f"forecast: {name} must be one of {', '.join(allowed)}, got {value!r}")
        season = c.season or sd.season_length(panel.freq)
        horizon = c.horizon or (season if season > 1 else 1)
        quantiles = parse_quantiles(c.quantiles)
        columns = any(panel_covariates.names(v) for v in (c.future_columns, c.past_columns, c.static_columns))
        wants = quantiles or columns or c.calendar
        mode = c.mode if c.mode != "auto" else ("global" if len(panel) > 1 or wants else "local")
        if wants and mode == "local":
            what = "quantiles are forecast" if quantiles else "covariates are read"
            raise ValueError(f"forecast: {what} by the global network; use mode 'global' or 'auto'")
        if mode == "global":
            lookbacks = [c.lookback] if c.lookback else [k * max(season, 4) for k in (2, 3, 4)]
            val_size = c.val_size if c.val_size is not None else 0
        else:
            lookbacks = [c.lookback or (season if season >= 12 else 20)]
            val_size = c.val_size if c.val_size is not None else horizon
        hidden = c.hidden_size or (GLOBAL_HIDDEN if mode == "global" else SERIES_HIDDEN)
        batch = c.batch_size or (GLOBAL_BATCH if mode == "global" else SERIES_BATCH)
        for name, value in (("lookback", lookbacks[0]), ("horizon", horizon), ("season", season),
                            ("hidden_size", hidden), ("batch_size", batch), ("batches_per_epoch", c.batches_per_epoch)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"forecast: {name} must be a positive integer, got {value!r}")
        steps = c.steps
        if mode == "global":  # its epoch is batches_per_epoch batches: the budget is whichever ends first
            steps = steps or GLOBAL_STEPS
            if c.epochs:
                steps = min(steps, c.epochs * c.batches_per_epoch)
        return {"mode": mode, "season": int(season), "horizon": int(horizon), "lookbacks": lookbacks,
                "lookback": int(max(lookbacks)), "val_size": int(val_size), "hidden_size": int(hidden),
                "batch_size": int(batch), "steps": steps,
                "quantiles": list(quantiles) if quantiles else None, "covariates": None,
                **resolve_schedule(c, global_model=mode == "global")}

    def check_lengths(self, panel: Panel, sizes: dict, test_size: int = 0) -> None:
        """Every series needs its validation and test points and two points to train on (in the local mode,
        a shorter series than a network needs keeps the seasonal naive forecast)."""
        need = sizes["val_size"] + 2 + test_size
        short = np.flatnonzero(panel.lengths < need)
        if len(short):
            i = int(short[0])
            more = f"; {len(short)} series are that short" if len(short) > 1 else ""
            raise ValueError(f"series: '{panel.ids[i]}' has {panel.lengths[i]} points: too short for "
                             f"validation {sizes['val_size']} + test {test_size} + the points to train on: "
                             f"need at least {need}{more}")

    def fit(self, data, run_dir: str | Path | None = None, resume: bool = False,
            covariates: dict | None = None) -> "PanelForecaster":
        """Fit on ``data`` (a Panel or anything :meth:`Panel.build` takes); with ``run_dir``, checkpoint there
        (global mode; several members: each in ``run_dir/member-K/``, and ``resume`` continues the one that
        was interrupted, reloads those before it and trains those after it).

        ``covariates``: ``{id: DataFrame}`` indexed by each series' time labels, holding the columns the
        settings name (``future_columns``, ``past_columns``, ``static_columns``); rows may run past the
        series' end (the future columns of later points: the backtest and test periods read them).
        """
        panel = Panel.build(data, fill=self.config.fill)
        sizes = self.resolve(panel)
        self.check_lengths(panel, sizes)
        c = self.config
        calendar = c.calendar if c.calendar is not None else panel.dated  # default: where there are dates
        self.covariates_ = None if sizes["mode"] != "global" else panel_covariates.build(
            panel, covariates or {}, c.future_columns, c.past_columns, c.static_columns, bool(calendar))
        sizes["covariates"] = None if self.covariates_ is None else self.covariates_.state()
        self.mode_, self.season_, self.horizon_ = sizes["mode"], sizes["season"], sizes["horizon"]
        self.lookback_, self.lookbacks_, self.val_size_ = sizes["lookback"], sizes["lookbacks"], sizes["val_size"]
        self.sizes_, self.panel_ = sizes, panel
        if self.mode_ == "local":
            return self._fit_local(panel)
        return self._fit_global(panel, run_dir, resume)

    def _network(self, lookback: int) -> GlobalNet:
        c = self.config
        names = self.sizes_.get("covariates") or {}
        sizes = tuple(len(names.get(k, ())) for k in ("future", "past", "static"))
        regressors = len([n for n in names.get("future", ()) if n not in names.get("calendar", ())])
        return GlobalNet(lookback, self.horizon_, max(self.season_, 1), c.cell, self.sizes_["hidden_size"],
                         c.num_layers, c.dropout, engine=c.engine, quantiles=self.quantiles_, covariates=sizes,
                         regressors=regressors)

    @property
    def quantiles_(self) -> tuple[float, ...] | None:
        """The quantile levels the global model forecasts (sorted, the median among them), or ``None``."""
        levels = getattr(self, "sizes_", {}).get("quantiles")
        return tuple(levels) if levels else None

    def _fit_global(self, panel: Panel, run_dir, resume: bool) -> "PanelForecaster":
        from rnnlab import train

        c = self.config
        settings = dataclasses.replace(train_config(c, global_model=True), epochs=None, steps=self.sizes_["steps"],
                                       patience=c.patience if self.val_size_ else None)
        self.model_, results = nn.ModuleList(), []
        table = self.covariates_
        arrays = None if table is None else table.arrays(panel, self.horizon_)  # targets' future covariates too
        for k, lookback in enumerate(self.lookbacks_):  # one ensemble member per lookback
            task = PanelWindows(panel, lookback, self.horizon_, self.season_, self.val_size_,
                                self.sizes_["batch_size"], c.batches_per_epoch, seed=c.seed, covariates=arrays,
                                future_size=0 if table is None else len(table.future))
            torch.manual_seed(c.seed)
            member = self._network(lookback).to(distributed.resolve_device(c.device))
            with one_thread(member):
                results.append(train.fit(member, task, settings, *self._member_checkpoint(run_dir, k, resume)))
            self.model_.append(member.eval())
        self.result_ = train.TrainResult(
            history=[{"member": k, **row} for k, r in enumerate(results) for row in r.history],
            best_val=float(np.mean([r.best_val for r in results])), steps=sum(r.steps for r in results),
            epochs=sum(r.epochs for r in results), seconds=sum(r.seconds for r in results),
            stopped=results[-1].stopped)
        return self

    def _fit_local(self, panel: Panel) -> "PanelForecaster":
        self.forecasters_, errors = {}, []
        local = dataclasses.replace(self.config, val_size=self.val_size_, quiet=True)
        params = {k: getattr(local, k) for k in Forecaster.PARAMS}
        params.update(horizon=self.horizon_, lookback=self.lookback_, season=self.season_,
                      hidden_size=self.sizes_["hidden_size"], batch_size=self.sizes_["batch_size"])
        need = self.lookback_ + self.horizon_ + max(1, self.val_size_)  # a network's windows and validation
        for i, name in enumerate(panel.ids):
            f = Forecaster(**params).fit(panel.series(i)) if panel.lengths[i] >= need else None
            self.forecasters_[name] = f
            if f is not None and self.config.select == "validation":
                errors.append(baselines.validation_errors(f))
        choice, self.validation_ = ("model", {}) if self.config.select == "model" else baselines.choose(errors)
        self.choices_ = {name: choice if f is not None else "seasonal_naive" for name, f in self.forecasters_.items()}
        self.result_ = None
        return self

    def _member_checkpoint(self, run_dir, k: int, resume: bool) -> tuple[Path | None, bool]:
        """Where member ``k`` checkpoints (``run_dir`` itself for one member, else ``run_dir/member-K``) and
        whether it resumes: the first always (it must have a checkpoint), a later one where it has one."""
        if run_dir is None or len(self.lookbacks_) == 1:
            return run_dir, resume
        directory = Path(run_dir) / f"member-{k}"
        return directory, resume and (k == 0 or (directory / "checkpoint").is_dir())

    def append(self, data) -> "PanelForecaster":
        """Extend every fitted series by the points of ``data`` (the same series, in the same order, e.g. the
        test points after a backtest), so that :meth:`predict` forecasts after them; the weights stay."""
        self._check_fitted()
        more = Panel.build(data, fill=self.config.fill)
        if more.ids != self.panel_.ids:
            raise ValueError("forecast: append takes the fitted series, in the same order")
        self.panel_ = _join(self.panel_, more)
        return self

    # ---------------------------------------------------------------- forecasting
    def _check_fitted(self) -> None:
        if not hasattr(self, "panel_"):
            raise ValueError("forecast: this PanelForecaster is not fitted yet; call fit(panel) first")

    def predict(self, n: int | None = None, panel=None, covariates: dict | None = None) -> pd.DataFrame:
        """Forecast ``n`` steps (default: the horizon) after every series of the fitted panel, or of ``panel``.

        ``panel`` (a Panel or what :meth:`Panel.build` takes) may hold series the model never saw (global
        mode); the local mode forecasts only the series it fitted. A model that reads future covariates
        needs them for the ``n`` forecast points: ``covariates`` ``{id: DataFrame}`` indexed by time (a
        ``ValueError`` names the first series and time without them).

        Returns:
            A long frame ``id, time, forecast``: ``n`` rows per series, dated when the panel is; with quantiles
            also one column per level (``q0.1``, ``q0.5``, ``q0.9``; ``forecast`` is the median).
        """
        self._check_fitted()
        n = self.horizon_ if n is None else n
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"forecast: n (the steps to forecast) must be a positive integer, got {n!r}")
        panel = self.panel_ if panel is None else Panel.build(panel, fill=self.config.fill)
        if self.mode_ == "global":
            table = self.covariates_ if covariates is None or self.covariates_ is None else \
                self.covariates_.extend(covariates)
            arrays = None if table is None else table.arrays(panel, n, require_future=True)
            values = self._ensemble(panel, np.arange(len(panel)), panel.lengths, n, arrays)
        else:
            values = np.stack([self._local_forecast(panel, i, n) for i in range(len(panel))])
        if values.ndim == 2:
            return _long(panel, values, panel.lengths, "forecast")
        frame = _long(panel, values[..., median_index(self.quantiles_)], panel.lengths, "forecast")
        for j, q in enumerate(self.quantiles_):
            frame[quantile_column(q)] = values[..., j].reshape(-1)
        return frame

    def _local_forecast(self, panel: Panel, i: int, n: int) -> np.ndarray:
        name = panel.ids[i]
        if name not in self.forecasters_:
            raise ValueError(f"forecast: series '{name}' was not fitted; the per-series mode forecasts only "
                             f"the series it was trained on (the global mode forecasts any)")
        return baselines.local_forecast(self.forecasters_[name], self.choices_[name], panel.series(i), n,
                                        self.season_)

    def backtest(self, test, k: int | None = None, refit: bool = False, covariates: dict | None = None):
        """Forecast each series' test points (which follow its fitted history) from rolling origins.

        Origins sit every ``horizon`` steps from the end of each history; each forecasts up to ``horizon``
        points from the actual values before it; the baselines forecast the same points from the same origins.

        With ``k``, a rolling-origin backtest of these settings instead (no fit needed first): ``test`` is the
        whole panel, a copy is fitted on every series up to the first of ``k`` origins a horizon apart at
        its end (again at every origin with ``refit``); the result is a
        :class:`~rnnlab.forecast.backtest.Backtest` (metrics per origin, ``summary()`` mean ± sd);
        ``covariates`` as in :meth:`fit`.

        Returns:
            A long frame ``id, time, actual, model, naive, seasonal_naive, linear``; with quantiles also one
            column per level (``q0.1``, ...; ``model`` is the median). With ``k``, a ``Backtest``.
        """
        if k is not None:
            from rnnlab.forecast.backtest import panel_backtest

            return panel_backtest(self, test, k, refit, covariates)
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
        levels = model[0].shape[2] if model[0].ndim == 3 else 0
        point = [m[..., median_index(self.quantiles_)] if levels else m for m in model]
        frame["model"] = np.concatenate([_cut(point[i], test.lengths[i]) for i in range(len(test))])
        for j in range(levels):
            frame[quantile_column(self.quantiles_[j])] = np.concatenate(
                [_cut(model[i][..., j], test.lengths[i]) for i in range(len(test))])
        for name, forecasts in base.items():
            frame[name] = np.concatenate([_cut(forecasts[i], test.lengths[i]) for i in range(len(test))])
        return frame

    def _origin_forecasts(self, full: Panel, origins: list[np.ndarray]) -> list[np.ndarray]:
        """Per series: ``(origins, H)`` model forecasts (``(origins, H, Q)`` quantiles) from the actual values
        before each origin."""
        counts = [len(o) for o in origins]
        if self.mode_ == "global":
            rows = np.repeat(np.arange(len(full)), counts)
            arrays = None if self.covariates_ is None else self.covariates_.arrays(full, self.horizon_)
            flat = self._ensemble(full, rows, np.concatenate(origins), self.horizon_, arrays)
            return np.split(flat, np.cumsum(counts)[:-1])
        out = []
        for i, name in enumerate(full.ids):
            f, s = self.forecasters_[name], full.series(i)
            out.append(np.stack([baselines.local_forecast(f, self.choices_[name], s.iloc[:o], self.horizon_,
                                                          self.season_) for o in origins[i]]))
        return out

    def _ensemble(self, panel: Panel, series: np.ndarray, cuts: np.ndarray, steps: int,
                  arrays: tuple | None = None) -> np.ndarray:
        """The median over members of ``steps`` forecasts from each cut point: ``(B, steps)``, or per level
        ``(B, steps, Q)`` (a median per level keeps the levels' order)."""
        forecasts = []
        for lookback, member in zip(self.lookbacks_, self.model_):
            x, x_mask, _, _ = window(panel, series, cuts, lookback, 1, panel.lengths)
            covariates = None if arrays is None else (arrays, series, cuts)
            forecasts.append(forecast_windows(member, x, x_mask, steps, self.season_, covariates))
        return np.median(np.stack(forecasts), axis=0)

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
