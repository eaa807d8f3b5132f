"""The settings of ``rnnlab forecast``, declared once, and what their ``None`` defaults resolve to.

:class:`ForecastConfig` is the one declaration: :class:`~rnnlab.forecast.estimator.Forecaster`'s parameters
are its model and training fields (:data:`MODEL_FIELDS`), the command's flags set its fields, and the
training loop's :class:`~rnnlab.train.TrainConfig` takes the fields the two share (:func:`train_config`);
``tests/test_config.py`` checks all three. Sizes left ``None`` come from the data (:func:`resolve_sizes`) and
are stored, resolved, in the run's ``config.json`` beside the settings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from rnnlab.data import series as sd

STRATEGIES = ("direct", "recursive")
SKIPS = ("linear", "none")


@dataclass(frozen=True)
class ForecastConfig:
    """Everything ``rnnlab forecast`` needs; ``None`` sizes are chosen from the data (see :meth:`Forecaster.fit`)."""

    # data
    data: str = "sine"  # "sine", a bundled series (airline, sunspots, co2, nile) or a CSV path
    column: str | None = None  # CSV: the value column (default: the only numeric one)
    time_column: str | None = None  # CSV: dates (or years); the frequency is inferred from them
    id_column: str | None = None  # CSV: series ids of a long panel (one row per series and time)
    columns: str | None = None  # CSV: the series of a wide panel, comma-separated (default: every numeric column)
    encoding: str | None = None  # CSV text encoding; None: UTF-8 (byte-order marks recognised)
    fill: str | None = None  # "interpolate" to fill missing values; None rejects them
    length: int = 400  # sine: points
    noise: float = 0.0  # sine: standard deviation of the added noise
    test_size: int | None = None  # last points held out for the test; None: max(horizon, 20% of the series)
    # model
    cell: str = "rnn"  # "rnn", "lstm" or "gru"
    hidden_size: int | None = None  # hidden units per layer; None: 16 for one series, 64 for a global model
    num_layers: int = 1  # stacked recurrent layers
    dropout: float = 0.0  # between recurrent layers
    lookback: int | None = None  # inputs per window; None: the season if >= 12, else 20
    horizon: int | None = None  # steps forecast per origin; None: the season (12 monthly), 1 if none
    strategy: str = "direct"  # "direct" (H outputs) or "recursive" (1 output, fed back)
    skip: str = "linear"  # "linear": residual RNN on a least-squares AR skip; "none": the plain RNN
    transform: str = "auto"  # "auto" (log if positive), "log" or "none"; then standardised on training data
    season: int | None = None  # seasonal-naive period and MASE scale; None: from the frequency
    val_size: int | None = None  # points before the test for early stopping; None: 10% (panel: the horizon)
    # panels (rnnlab.forecast.panel)
    mode: str = "auto"  # "global" (one network), "local" (one model per series), "auto" (global if >1 series)
    batches_per_epoch: int = 50  # global: batches between evaluations (windows are sampled, never all built)
    select: str = "validation"  # local: "validation" (seasonal naive unless model/linear win 10% on it), "model"
    # intervals, backtests and covariates (rnnlab.forecast.quantiles, .backtest, rnnlab.data.covariates)
    quantiles: str | None = None  # global model: quantile levels to forecast, e.g. "0.1 0.5 0.9" (pinball loss)
    backtest: int | None = None  # rolling-origin backtest from this many origins a horizon apart (None: one split)
    refit: bool = False  # backtest: fit again at every origin (default: once, before the first)
    future_columns: str | None = None  # global model: CSV columns known ahead for the forecast period, "a,b"
    past_columns: str | None = None  # global model: CSV columns known only up to the forecast origin, "a,b"
    static_columns: str | None = None  # global model: CSV columns holding one value per series, "a,b"
    calendar: bool | None = None  # global model: calendar features of the dates (None: where the frequency is known)
    # training
    epochs: int = 300  # passes over the training windows (a global model: of batches_per_epoch); an upper bound
    steps: int | None = None  # optimizer updates budget (None: no limit; a global model: 2000, cosine to 0)
    # (a global model trains min(steps, epochs x batches_per_epoch) steps: 2000 by default; early stopping too)
    minutes: float | None = None  # wall-clock budget (None: no limit)
    batch_size: int | None = None  # windows per step; None: 32 for one series, 256 for a global model
    lr: float = 3e-3  # Adam learning rate
    schedule: str | None = None  # "constant" or "cosine"; None: constant (one series), cosine (a global model)
    min_lr_ratio: float | None = None  # cosine floor, a fraction of lr; None: 0.1 (one series), 0 (a global model)
    warmup_steps: int = 0  # steps of linear learning-rate warm-up
    weight_decay: float = 0.0  # AdamW weight decay (0: Adam)
    clip: float | None = 1.0  # max gradient norm (None: no clipping)
    eval_every: int | None = None  # optimizer steps between evaluations; None: after every epoch
    patience: int | None = 20  # evaluations without validation improvement before stopping
    seed: int = 0  # weights, batch order
    device: str = "auto"  # "auto", "cpu" or "cuda"
    engine: str = "auto"  # recurrent engine: "auto", "torch", "fused", "loop" (see rnnlab.engines)
    quiet: bool = False  # no progress bar


# the fields that say which data to read, and those only a panel uses: not a Forecaster's parameters
DATA_FIELDS = ("data", "column", "time_column", "id_column", "columns", "encoding", "fill", "length", "noise",
               "test_size")
PANEL_FIELDS = ("mode", "batches_per_epoch", "select", "quantiles", "backtest", "refit", "future_columns",
                "past_columns", "static_columns", "calendar")
SERIES_HIDDEN, SERIES_BATCH = 16, 32  # one series' defaults of hidden_size and batch_size (None)
MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ForecastConfig)
                     if f.name not in DATA_FIELDS + PANEL_FIELDS)


# (schedule, min_lr_ratio) that None resolves to: one series (each of a local panel too) trains at a constant
# rate; a global model follows a cosine to 0 over its step budget (measured on Tourism, see the README)
SCHEDULES = {False: ("constant", 0.1), True: ("cosine", 0.0)}


def resolve_schedule(settings, global_model: bool = False) -> dict:
    """``{"schedule", "min_lr_ratio"}`` of forecast ``settings``, ``None`` taking the model's default."""
    schedule, floor = SCHEDULES[global_model]
    return {"schedule": settings.schedule or schedule,
            "min_lr_ratio": floor if settings.min_lr_ratio is None else settings.min_lr_ratio}


def train_config(settings, global_model: bool = False):
    """The :class:`rnnlab.train.TrainConfig` of forecast ``settings``: every field the two share, by name,
    the schedule resolved (:func:`resolve_schedule`)."""
    from rnnlab import train

    shared = {f.name: getattr(settings, f.name) for f in dataclasses.fields(train.TrainConfig)
              if hasattr(settings, f.name)}
    return train.TrainConfig(**(shared | resolve_schedule(settings, global_model)))


def resolve_sizes(settings, series: pd.Series) -> dict:
    """Season, horizon, lookback and val_size of ``settings`` (a Forecaster or a ForecastConfig) for ``series``.

    ``None`` sizes come from the data: the season from the frequency (1 if none), the horizon the season
    (1 if none), the lookback the season if >= 12 else 20, ``val_size`` 10% of the series; and the schedule
    (:func:`resolve_schedule`), so that ``config.json``'s sizes say what trained.
    """
    _check_settings(settings)
    freq = sd.frequency(series)
    season = settings.season or sd.season_length(freq)
    horizon = settings.horizon or (season if season > 1 else 1)
    lookback = settings.lookback or (season if season >= 12 else 20)
    val_size = settings.val_size if settings.val_size is not None else max(1, round(0.1 * len(series)))
    return {"season": int(season), "horizon": int(horizon), "lookback": int(lookback),
            "val_size": int(val_size), "freq": freq, **resolve_schedule(settings)}


def _check_settings(settings) -> None:
    if settings.strategy not in STRATEGIES:
        raise ValueError(f"forecast: strategy must be one of {', '.join(STRATEGIES)}, got {settings.strategy!r}")
    if settings.skip not in SKIPS:
        raise ValueError(f"forecast: skip must be one of {', '.join(SKIPS)}, got {settings.skip!r}")
    for name in ("hidden_size", "num_layers", "batch_size", "lookback", "horizon", "season"):
        value = getattr(settings, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"forecast: {name} must be a positive integer, got {value!r}")
