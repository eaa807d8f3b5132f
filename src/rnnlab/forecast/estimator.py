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
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from rnnlab.data import series as sd
from rnnlab.forecast.series_windows import EVAL_CHUNK, SeriesWindows, WindowTask, fit_linear
from rnnlab.forecast.settings import (MODEL_FIELDS, SERIES_BATCH, SERIES_HIDDEN, ForecastConfig, resolve_sizes,
                                      train_config)
from rnnlab.metrics import LinearAR, forecast_metrics, naive, seasonal_naive
from rnnlab.models import SequenceRegressor, check_fits

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
                 schedule: str | None = None, min_lr_ratio: float | None = None, warmup_steps: int = 0,
                 weight_decay: float = 0.0, clip: float | None = 1.0, eval_every: int | None = None,
                 patience: int | None = 20, seed: int = 0, device: str = "auto", engine: str = "auto",
                 quiet: bool = False) -> None:
        self.cell, self.hidden_size, self.num_layers, self.dropout = cell, hidden_size, num_layers, dropout
        self.lookback, self.horizon, self.strategy, self.skip = lookback, horizon, strategy, skip
        self.transform, self.season, self.val_size = transform, season, val_size
        self.epochs, self.steps, self.minutes, self.batch_size = epochs, steps, minutes, batch_size
        self.lr, self.schedule, self.min_lr_ratio, self.warmup_steps = lr, schedule, min_lr_ratio, warmup_steps
        self.weight_decay, self.clip, self.eval_every = weight_decay, clip, eval_every
        self.patience, self.seed, self.device = patience, seed, device
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
        train_windows = SeriesWindows(z, self.lookback_, outputs, end=train_end)  # index arithmetic, not copies
        val_windows = SeriesWindows(z, self.lookback_, outputs, first_end=train_end)
        self.linear_ = fit_linear(train_windows)
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
        task = WindowTask(train_windows, val_windows, batch_size)
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
        """The network on scaled windows, :data:`EVAL_CHUNK` at a time: ``(B, L)`` -> ``(B, O)``."""
        device = next(self.model_.parameters()).device
        with torch.no_grad():
            return np.concatenate([self.model_(_tensor(windows[i:i + EVAL_CHUNK])[..., None].to(device))
                                   .double().cpu().numpy() for i in range(0, len(windows), EVAL_CHUNK)])

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
        windows = z[origins[:, None] - self.lookback_ + np.arange(self.lookback_)[None, :]]  # -> (B, L)
        model = self.scaler_.inverse(self._roll(self._network, windows, self.horizon_))
        linear = self.scaler_.inverse(self._roll(self.linear_, windows, self.horizon_))
        n = len(test)  # origins every H: the forecasts, row after row, are the test points in order
        frame = {"actual": test.to_numpy(), "model": model.ravel()[:n], "naive": np.empty(n),
                 "seasonal_naive": np.empty(n), "linear": linear.ravel()[:n]}
        for origin in origins:
            steps = min(self.horizon_, len(full) - origin)
            at = slice(origin - start, origin - start + steps)
            frame["naive"][at] = naive(full[:origin], steps)
            frame["seasonal_naive"][at] = seasonal_naive(full[:origin], steps, self.season_)
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
