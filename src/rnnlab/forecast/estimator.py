"""Forecaster: a recurrent network that reads the last ``L`` values of a series and forecasts the next ``H``.

The network (:class:`ForecastNet`) is the lesson's ``SimpleRNN`` (:class:`rnnlab.models.SequenceRegressor`)
plus, by default, a linear skip from the lookback window straight to the outputs:

    z_hat = W_skip x + b_skip + fc(h_L)          x = the last L scaled values, h_L the RNN's last state

The skip starts as the least-squares linear autoregression fitted on the training windows (the ``linear``
baseline) and the RNN head starts at zero, so training begins at the linear baseline and the recurrent part
learns the residual (the idea of LSTNet's "highway" and of N-BEATS-style residual forecasting). Early
stopping on the validation windows keeps the best weights. ``skip="none"`` gives the plain RNN.

Values are scaled before they reach the network (:class:`rnnlab.data.series.Scaler`): log for a positive
series (``transform="auto"``), then standardised with the training part's mean and deviation.

Strategies: ``direct`` predicts all ``H`` steps at once (one output per step); ``recursive`` predicts one
step and feeds it back. Forecasts longer than the network's output are rolled: the forecast block is
appended to the inputs and the network runs again.

Symbols: ``N`` windows, ``L`` lookback, ``H`` horizon, ``O`` outputs per call (``H`` direct, 1 recursive).

Example:
    >>> from rnnlab.data import load
    >>> f = Forecaster(epochs=5, quiet=True).fit(load("sine", length=200)[:160])
    >>> len(f.predict(10))
    10
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from rnnlab.data import series as sd
from rnnlab.metrics import LinearAR, forecast_metrics, naive, seasonal_naive
from rnnlab.models import SequenceRegressor, check_fits

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
    select: str = "validation"  # local: each series keeps its best of model/linear/seasonal naive on validation
    # intervals, backtests and covariates (rnnlab.forecast.quantiles, .backtest, rnnlab.data.covariates)
    quantiles: str | None = None  # global model: quantile levels to forecast, e.g. "0.1 0.5 0.9" (pinball loss)
    backtest: int | None = None  # rolling-origin backtest from this many origins a horizon apart (None: one split)
    refit: bool = False  # backtest: fit again at every origin (default: once, before the first)
    future_columns: str | None = None  # global model: CSV columns known ahead for the forecast period, "a,b"
    past_columns: str | None = None  # global model: CSV columns known only up to the forecast origin, "a,b"
    static_columns: str | None = None  # global model: CSV columns holding one value per series, "a,b"
    calendar: bool | None = None  # global model: calendar features of the dates (None: where the frequency is known)
    # training
    epochs: int = 300  # one series: passes over the training windows (an upper bound: early stopping)
    steps: int | None = None  # optimizer updates budget (None: no limit; a global model: 2000, cosine to 0)
    minutes: float | None = None  # wall-clock budget (None: no limit)
    batch_size: int | None = None  # windows per step; None: 32 for one series, 256 for a global model
    lr: float = 3e-3  # Adam learning rate
    clip: float | None = 1.0  # max gradient norm (None: no clipping)
    patience: int | None = 20  # epochs without validation improvement before stopping
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


def train_config(settings):
    """The :class:`rnnlab.train.TrainConfig` of forecast ``settings``: every field the two share, by name."""
    from rnnlab import train

    return train.TrainConfig(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(train.TrainConfig)
                                if hasattr(settings, f.name)})


class ForecastNet(nn.Module):
    """``SequenceRegressor`` on the scaled window plus an optional linear skip (see the module docstring).

    Shape:
        x ``(N, L, 1)`` -> ``(N, O)``.
    """

    def __init__(self, lookback: int, outputs: int, cell: str = "rnn", hidden_size: int = 16,
                 num_layers: int = 1, dropout: float = 0.0, skip: bool = True, engine: str = "auto") -> None:
        super().__init__()
        self.net = SequenceRegressor(1, hidden_size, outputs, cell=cell, num_layers=num_layers, dropout=dropout,
                                     engine=engine)
        self.skip = nn.Linear(lookback, outputs) if skip else None
        if skip:  # start at the skip alone: the RNN learns the residual
            nn.init.zeros_(self.net.fc.weight)
            nn.init.zeros_(self.net.fc.bias)

    def forward(self, x: Tensor) -> Tensor:
        y = self.net(x)  # (N, L, 1) -> (N, O)
        if self.skip is not None:
            # z_hat = W_skip x + b_skip + fc(h_L)
            y = y + self.skip(x[..., 0])
        return y


class WindowTask:
    """The training task for :func:`rnnlab.train.fit`: MSE on shuffled windows, validation MSE.

    Batches are ``(x (B, L, 1), y (B, O))`` CPU tensors; each rank takes every ``world_size``-th window of
    the epoch's permutation.
    """

    def __init__(self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                 batch_size: int) -> None:
        self.x, self.y = _tensor(x_train)[..., None], _tensor(y_train)  # -> (N, L, 1), (N, O)
        self.x_val, self.y_val = _tensor(x_val)[..., None], _tensor(y_val)
        self.batch_size = batch_size

    def batches(self, epoch: int, generator: torch.Generator, rank: int = 0, world_size: int = 1):
        order = torch.randperm(len(self.x), generator=generator)[rank::world_size]
        for i in range(0, len(order), self.batch_size):
            index = order[i:i + self.batch_size]
            yield self.x[index], self.y[index]

    def loss(self, model: nn.Module, batch, state):
        x, y = batch
        device = next(model.parameters()).device
        return nn.functional.mse_loss(model(x.to(device)), y.to(device)), None

    def evaluate(self, model: nn.Module) -> float:
        x, y = (self.x_val, self.y_val) if len(self.x_val) else (self.x, self.y)
        device = next(model.parameters()).device
        return float(nn.functional.mse_loss(model(x.to(device)), y.to(device)))


class Forecaster:
    """Fit a recurrent forecaster to one series; forecast, backtest, save. Arguments: see :class:`ForecastConfig`.

    ``__init__`` only stores the settings. :meth:`fit` resolves the sizes from the data and sets the learned
    state: ``model_``, ``scaler_``, ``linear_`` (the least-squares baseline), ``lookback_``, ``horizon_``,
    ``season_``, ``freq_``, ``history_`` (the raw series forecasts continue from), ``result_``.
    """

    def __init__(self, cell: str = "rnn", hidden_size: int | None = None, num_layers: int = 1, dropout: float = 0.0,
                 lookback: int | None = None, horizon: int | None = None, strategy: str = "direct",
                 skip: str = "linear", transform: str = "auto", season: int | None = None,
                 val_size: int | None = None, epochs: int = 300, steps: int | None = None,
                 minutes: float | None = None, batch_size: int | None = None, lr: float = 3e-3,
                 clip: float | None = 1.0,
                 patience: int | None = 20, seed: int = 0, device: str = "auto", engine: str = "auto",
                 quiet: bool = False) -> None:
        self.cell, self.hidden_size, self.num_layers, self.dropout = cell, hidden_size, num_layers, dropout
        self.lookback, self.horizon, self.strategy, self.skip = lookback, horizon, strategy, skip
        self.transform, self.season, self.val_size = transform, season, val_size
        self.epochs, self.steps, self.minutes, self.batch_size = epochs, steps, minutes, batch_size
        self.lr, self.clip, self.patience, self.seed, self.device = lr, clip, patience, seed, device
        self.engine, self.quiet = engine, quiet

    PARAMS = MODEL_FIELDS  # the settings above: ForecastConfig's model and training fields (checked by a test)

    @classmethod
    def from_config(cls, config: ForecastConfig) -> "Forecaster":
        return cls(**{name: getattr(config, name) for name in MODEL_FIELDS})

    def get_params(self) -> dict:
        return {name: getattr(self, name) for name in MODEL_FIELDS}

    # ---------------------------------------------------------------- fitting
    def resolve_sizes(self, series: pd.Series) -> dict:
        """The sizes ``fit`` will use for ``series``: season, horizon, lookback, val_size (``None`` -> from data)."""
        return resolve_sizes(self, series)

    def fit(self, series, target: str | None = None, fill: str | None = None, run_dir: str | Path | None = None,
            resume: bool = False) -> "Forecaster":
        """Fit on ``series`` (a 1-D array, a pandas Series, or a DataFrame and its ``target`` column).

        The last ``val_size`` points validate (early stopping); the scaler and the linear skip are fitted
        on the part before them. With ``run_dir``, training checkpoints there (``resume`` continues it).

        Raises:
            ValueError: bad settings, or a series too short, constant, non-numeric or with gaps.
        """
        from rnnlab import distributed, train

        series = sd.as_series(series, target=target, fill=fill)
        sizes = resolve_sizes(self, series)
        sd.split_sizes(len(series), sizes["lookback"], sizes["horizon"], 0, sizes["val_size"])
        sd.check_not_constant(series)
        self.season_, self.horizon_, self.lookback_ = sizes["season"], sizes["horizon"], sizes["lookback"]
        self.val_size_, self.freq_ = sizes["val_size"], sizes["freq"]
        train_end, _ = sd.split_sizes(len(series), self.lookback_, self.horizon_, 0, self.val_size_)
        values = series.to_numpy()
        self.scaler_ = sd.Scaler.fit(values[:train_end], self.transform)
        z = self.scaler_.transform(values)
        outputs = self.outputs_
        x_train, y_train = sd.windows(z, self.lookback_, outputs, end=train_end)
        x_val, y_val = sd.windows(z, self.lookback_, outputs, first_end=train_end)
        self.linear_ = LinearAR().fit(x_train, y_train)
        hidden, batch_size = self.hidden_size or SERIES_HIDDEN, self.batch_size or SERIES_BATCH
        check_fits(self.cell, 1, hidden, self.num_layers, outputs, batch_size, self.lookback_,
                   distributed.resolve_device(self.device), extra=(self.lookback_ + 1) * outputs)
        torch.manual_seed(self.seed)
        self.model_ = ForecastNet(self.lookback_, outputs, self.cell, hidden, self.num_layers,
                                  self.dropout, skip=self.skip == "linear", engine=self.engine)
        if self.model_.skip is not None:
            with torch.no_grad():
                self.model_.skip.weight.copy_(_tensor(self.linear_.weight.T))
                self.model_.skip.bias.copy_(_tensor(self.linear_.bias))
        self.model_.to(distributed.resolve_device(self.device))
        task = WindowTask(x_train, y_train, x_val, y_val, batch_size)
        with one_thread(self.model_):
            self.result_ = train.fit(self.model_, task, train_config(self), run_dir=run_dir, resume=resume)
        self.model_.eval()
        self.history_ = series
        return self

    @property
    def outputs_(self) -> int:
        return self.horizon_ if self.strategy == "direct" else 1


    # ---------------------------------------------------------------- forecasting
    def _roll(self, step, windows: np.ndarray, steps: int) -> np.ndarray:
        """Run ``step`` ((B, L) -> (B, O)) and feed its outputs back until ``steps`` values per row exist.

        Shape:
            windows ``(B, L)`` scaled -> ``(B, steps)`` scaled.
        """
        buffer, out = windows, []
        while sum(block.shape[1] for block in out) < steps:
            block = step(buffer[:, -self.lookback_:])  # -> (B, O)
            out.append(block)
            buffer = np.concatenate([buffer, block], axis=1)
        return np.concatenate(out, axis=1)[:, :steps]

    def _network(self, windows: np.ndarray) -> np.ndarray:
        device = next(self.model_.parameters()).device
        with torch.no_grad():
            return self.model_(_tensor(windows)[..., None].to(device)).double().cpu().numpy()

    def predict(self, n: int | None = None, series=None) -> pd.Series:
        """Forecast ``n`` steps (default: the horizon) beyond the fitted series, or beyond ``series``.

        ``series`` (same forms as :meth:`fit`) continues or replaces the history; it needs at least
        ``lookback`` points. The result is indexed by the future dates when the series has a frequency.
        """
        self._check_fitted()
        n = self.horizon_ if n is None else n
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"forecast: n (the steps to forecast) must be a positive integer, got {n!r}")
        history = self.history_ if series is None else sd.as_series(series, name=str(self.history_.name))
        if len(history) < self.lookback_:
            raise ValueError(f"forecast: predict needs at least lookback={self.lookback_} points, got {len(history)}")
        z = self.scaler_.transform(history.to_numpy()[-self.lookback_:])
        values = self.scaler_.inverse(self._roll(self._network, z[None], n)[0])
        return pd.Series(values, index=_future_index(history, n), name=history.name)

    def backtest(self, test, k: int | None = None, refit: bool = False):
        """Forecast the points of ``test`` (which follows the fitted series) from rolling origins.

        Origins sit every ``horizon`` steps from the end of the fitted series; each forecasts up to
        ``horizon`` points from the actual values before it. The baselines forecast the same points from the
        same origins.

        With ``k``, a rolling-origin backtest of these settings instead (no fit needed first): ``test`` is the
        whole series, a copy is fitted on it up to the first of ``k`` origins a horizon apart at its end
        (again at every origin with ``refit``), and the result is a
        :class:`~rnnlab.forecast.backtest.Backtest` (metrics per origin, ``summary()`` mean ± sd).

        Returns:
            A frame indexed like ``test`` with columns ``actual``, ``model``, ``naive``, ``seasonal_naive``,
            ``linear``; with ``k``, a ``Backtest``.
        """
        if k is not None:
            from rnnlab.forecast.backtest import series_backtest

            return series_backtest(self, test, k, refit)
        self._check_fitted()
        test = sd.as_series(test, name=str(self.history_.name))
        start = len(self.history_)
        full = np.concatenate([self.history_.to_numpy(), test.to_numpy()])
        z = self.scaler_.transform(full)
        origins = np.arange(start, len(full), self.horizon_)
        windows = np.stack([z[o - self.lookback_:o] for o in origins])  # -> (B, L)
        model = self.scaler_.inverse(self._roll(self._network, windows, self.horizon_))
        linear = self.scaler_.inverse(self._roll(self.linear_, windows, self.horizon_))
        frame = {"actual": test.to_numpy(), "model": [], "naive": [], "seasonal_naive": [], "linear": []}
        for b, origin in enumerate(origins):
            steps = min(self.horizon_, len(full) - origin)
            frame["model"].extend(model[b, :steps])
            frame["linear"].extend(linear[b, :steps])
            frame["naive"].extend(naive(full[:origin], steps))
            frame["seasonal_naive"].extend(seasonal_naive(full[:origin], steps, self.season_))
        return pd.DataFrame(frame, index=test.index)

    def evaluate(self, test) -> dict:
        """The model's test metrics on ``test`` (see :meth:`backtest` and :mod:`rnnlab.metrics`)."""
        frame = self.backtest(test)
        return forecast_metrics(frame["actual"], frame["model"], self.history_.to_numpy(), self.season_)

    def append(self, values) -> "Forecaster":
        """Record observations that follow the fitted series (e.g. the test part), so forecasts continue after them."""
        self._check_fitted()
        new = sd.as_series(values, name=str(self.history_.name))
        index = self.history_.index.append(_future_index(self.history_, len(new)))
        if isinstance(index, pd.DatetimeIndex):
            index = pd.DatetimeIndex(index, freq=self.freq_)
        values = np.concatenate([self.history_.to_numpy(), new.to_numpy()])
        self.history_ = pd.Series(values, index=index, name=self.history_.name)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ValueError("forecast: this Forecaster is not fitted yet; call fit(series) first")

    # ---------------------------------------------------------------- files
    def state_dict(self) -> dict:
        """Preprocessing state and sizes as JSON (what ``config.json`` stores besides the settings)."""
        tail = self.history_.iloc[-self.lookback_:]
        return {
            "params": self.get_params(), "lookback": self.lookback_, "horizon": self.horizon_,
            "season": self.season_, "freq": self.freq_, "val_size": self.val_size_,
            "scaler": dataclasses.asdict(self.scaler_),
            "linear": {"weight": self.linear_.weight.tolist(), "bias": self.linear_.bias.tolist()},
            "history": {"name": str(tail.name), "values": tail.to_numpy().tolist(),
                        "index": [str(i) for i in tail.index], "length": int(len(self.history_))},
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` (``{"task": "forecast", "forecaster": state}``) and ``model.safetensors``."""
        from rnnlab import checkpoint, rundir

        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "config.json"
        config = rundir.read_run_config(directory) if path.is_file() else {}
        config.update({"task": "forecast", "forecaster": self.state_dict()})
        checkpoint.save_weights(directory / "model.safetensors", self.model_.state_dict())
        rundir.atomic_write_json(path, config)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "Forecaster":
        """A fitted Forecaster from a directory written by :meth:`save` (or ``rnnlab forecast``)."""
        from rnnlab import checkpoint, rundir

        config = rundir.read_run_config(directory)
        state = config.get("forecaster")
        if config.get("task") != "forecast" or state is None:
            raise ValueError(f"forecast: {directory} holds no saved forecaster (task {config.get('task')!r})")
        f = cls(**state["params"])
        f.lookback_, f.horizon_, f.season_ = state["lookback"], state["horizon"], state["season"]
        f.freq_, f.val_size_ = state["freq"], state["val_size"]
        try:
            f.scaler_ = sd.Scaler(**state["scaler"])
        except (TypeError, ValueError) as e:
            raise ValueError(f"forecast: {Path(directory) / 'config.json'} holds a bad scaler: {e}") from None
        f.linear_ = LinearAR()
        f.linear_.weight, f.linear_.bias = np.array(state["linear"]["weight"]), np.array(state["linear"]["bias"])
        f.model_ = ForecastNet(f.lookback_, f.outputs_, f.cell, f.hidden_size or SERIES_HIDDEN, f.num_layers,
                               f.dropout,
                               skip=f.skip == "linear", engine=f.engine)
        checkpoint.load_state_into(f.model_, checkpoint.load_weights(Path(directory) / "model.safetensors"),
                                   directory)
        f.model_.eval()
        h = state["history"]
        index = pd.DatetimeIndex(pd.to_datetime(h["index"]), freq=f.freq_) if f.freq_ else \
            pd.RangeIndex(h["length"] - len(h["values"]), h["length"])
        f.history_ = pd.Series(np.array(h["values"], dtype=np.float64), index=index, name=h["name"])
        return f


def resolve_sizes(settings, series: pd.Series) -> dict:
    """Season, horizon, lookback and val_size of ``settings`` (a Forecaster or a ForecastConfig) for ``series``.

    ``None`` sizes come from the data: the season from the frequency (1 if none), the horizon the season
    (1 if none), the lookback the season if >= 12 else 20, ``val_size`` 10% of the series.
    """
    _check_settings(settings)
    freq = sd.frequency(series)
    season = settings.season or sd.season_length(freq)
    horizon = settings.horizon or (season if season > 1 else 1)
    lookback = settings.lookback or (season if season >= 12 else 20)
    val_size = settings.val_size if settings.val_size is not None else max(1, round(0.1 * len(series)))
    return {"season": int(season), "horizon": int(horizon), "lookback": int(lookback),
            "val_size": int(val_size), "freq": freq}


def _check_settings(settings) -> None:
    if settings.strategy not in STRATEGIES:
        raise ValueError(f"forecast: strategy must be one of {', '.join(STRATEGIES)}, got {settings.strategy!r}")
    if settings.skip not in SKIPS:
        raise ValueError(f"forecast: skip must be one of {', '.join(SKIPS)}, got {settings.skip!r}")
    for name in ("hidden_size", "num_layers", "batch_size", "lookback", "horizon", "season"):
        value = getattr(settings, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"forecast: {name} must be a positive integer, got {value!r}")


@contextlib.contextmanager
def one_thread(model: nn.Module):
    """Train a CPU model on one thread: forecasting networks are so small that splitting each operation
    across threads costs more than it saves (4-6x slower with two threads on a loaded 2-core machine)."""
    threads = torch.get_num_threads()
    cpu = next(model.parameters()).device.type == "cpu"
    if cpu:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if cpu:
            torch.set_num_threads(threads)


def _tensor(array) -> Tensor:
    return torch.as_tensor(np.asarray(array, dtype=np.float32))


def _future_index(history: pd.Series, n: int) -> pd.Index:
    """The ``n`` index labels after ``history``'s: dates when it has a frequency, else positions."""
    index = history.index
    freq = index.freq if isinstance(index, pd.DatetimeIndex) else None
    if freq is not None:
        return pd.date_range(index[-1], periods=n + 1, freq=freq)[1:]
    return _append_index(index, n)


def _append_index(index: pd.Index, n: int) -> pd.Index:
    start = int(index[-1]) + 1 if isinstance(index, pd.RangeIndex) and len(index) else len(index)
    return pd.RangeIndex(start, start + n)
