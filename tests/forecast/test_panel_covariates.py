"""Covariates in the global model: the windows read them where they belong, a known-future driver is learned
(against the analytic best), calendar features by default on dated panels, and the CLI round trip."""

import json

import numpy as np
import pandas as pd
import pytest

from rnnlab.cli import main
from rnnlab.data.panel import Panel
from rnnlab.forecast import PanelForecaster
from rnnlab.forecast.windows import covariate_window

QUICK = ["--steps", "3", "--quiet", "--device", "cpu", "--hidden", "4", "--lookback", "12"]


def test_covariate_window_by_hand():
    values = np.arange(20, dtype=np.float32).reshape(10, 2)  # two series of 5 rows, columns (future, past)
    offsets, static = np.array([0, 5, 10]), np.array([[7.0], [8.0]], dtype=np.float32)
    inputs, ahead, z = covariate_window((values, offsets, static), np.array([1]), np.array([2]), 3, 4, 1)
    # series 1 rows 5..9; cut 2: inputs at positions -1, 0, 1 (the first is before the start: 0)
    assert np.array_equal(inputs[0], [[0, 0], [10, 11], [12, 13]])
    # ahead: positions 2, 3, 4, 5 -> the future column, past the block's end 0
    assert np.array_equal(ahead[0, :, 0], [14, 16, 18, 0]) and z[0, 0] == 8


def _driven(series=20, n=100, noise=0.02, seed=0):
    """y_t = level_s (1 + 0.2 x_t + noise e_t), x and e iid N(0, 1), x known ahead."""
    rng = np.random.default_rng(seed)
    values, frames, levels = {}, {}, []
    for s in range(series):
        level, x = 50 * (1 + s % 4), rng.standard_normal(n)
        values[f"s{s}"] = pd.Series(level * (1 + 0.2 * x + noise * rng.standard_normal(n)))
        frames[f"s{s}"] = pd.DataFrame({"x": x})
        levels.append(level)
    return Panel.from_dict(values), frames, np.array(levels, dtype=np.float64)


@pytest.mark.slow
def test_a_known_future_driver_is_learned_against_the_analytic_best():
    panel, frames, levels = _driven()
    history, test = panel.split(6)
    mse = {}
    for name, columns in (("without", None), ("with", "x")):
        f = PanelForecaster(horizon=6, season=1, lookback=12, steps=300, quiet=True, device="cpu",
                            future_columns=columns).fit(history, covariates=frames)
        frame = f.backtest(test)
        mse[name] = float(((frame["model"] - frame["actual"]) ** 2).mean())
    # analytic best: E[y | x] = level (1 + 0.2 x) leaves the noise, level^2 0.02^2; without x, level^2 (0.2^2 + 0.02^2)
    best_with = float(np.mean(levels ** 2) * 0.02 ** 2)
    best_without = float(np.mean(levels ** 2) * (0.2 ** 2 + 0.02 ** 2))
    assert mse["with"] <= mse["without"] / 2  # the target: >= 2x better
    assert mse["with"] <= 10 * best_with and mse["without"] >= 0.5 * best_without  # near the oracle, honestly


def test_calendar_by_default_on_dated_panels_only():
    rng = np.random.default_rng(0)
    dates = pd.date_range("2000-01-01", periods=48, freq="MS")
    dated = Panel.from_dict({f"s{i}": pd.Series(10 + rng.random(48), index=dates) for i in range(3)})
    f = PanelForecaster(horizon=6, lookback=12, steps=2, hidden_size=4, quiet=True, device="cpu").fit(dated)
    assert f.covariates_.calendar == ("month_sin", "month_cos")
    assert f.model_[0].net.rnn.input_size == (2 + 2) * 12  # values, mask bits, sin, cos of 12 months per step
    plain = PanelForecaster(horizon=6, lookback=12, steps=2, hidden_size=4, quiet=True, device="cpu",
                            calendar=False).fit(dated)
    assert plain.covariates_ is None and plain.model_[0].net.rnn.input_size == 2 * 12
    undated = Panel.from_list([10 + rng.random(48) for _ in range(3)])
    assert PanelForecaster(horizon=6, lookback=12, steps=2, quiet=True, device="cpu").fit(undated).covariates_ is None
    forecast = f.predict(8)  # the calendar of the forecast steps needs no file
    assert len(forecast) == 24 and forecast["forecast"].notna().all()


def _csv(path, series=3, n=48):
    rng = np.random.default_rng(1)
    rows = []
    for s in range(series):
        dates = pd.date_range("2000-01-01", periods=n, freq="MS")
        price = rng.integers(1, 4, n)
        y = 100 + 20 * price + 5 * np.sin(2 * np.pi * np.arange(n) / 12) + rng.standard_normal(n)
        rows += [(f"s{s}", d.strftime("%Y-%m-%d"), v, p, 10 * s, k) for d, v, p, k in
                 zip(dates, y, price, rng.random(n))]
    pd.DataFrame(rows, columns=["id", "date", "y", "price", "size", "kms"]).to_csv(path, index=False)
    return str(path)


@pytest.mark.slow
def test_cli_covariates_round_trip(tmp_path, capsys):
    data, out = _csv(tmp_path / "long.csv"), tmp_path / "run"
    assert main(["forecast", "--data", data, "--id-column", "id", "--time-column", "date", "--column", "y",
                 "--horizon", "6", "--future-columns", "price", "--past-columns", "kms", "--static-columns", "size",
                 "--out", str(out), *QUICK]) == 0
    state = json.loads((out / "config.json").read_text())["panel"]["covariates"]
    assert state["future"] == ["price", "month_sin", "month_cos"] and state["past"] == ["kms"]
    assert state["static"] == ["size"]
    future = tmp_path / "future.csv"
    # the saved run forecasts after the data's last month (2003-12): the future prices of 2004
    dates = pd.date_range("2004-01-01", periods=6, freq="MS").strftime("%Y-%m-%d")
    pd.DataFrame([(f"s{s}", d, 1) for s in range(3) for d in dates], columns=["id", "date", "price"]).to_csv(
        future, index=False)
    low = tmp_path / "low.csv"
    assert main(["predict", "--model", str(out), "--covariates", str(future), "--csv", str(low)]) == 0
    pd.read_csv(future).assign(price=3).to_csv(future, index=False)
    high = tmp_path / "high.csv"
    assert main(["predict", "--model", str(out), "--covariates", str(future), "--csv", str(high)]) == 0
    low, high = pd.read_csv(low), pd.read_csv(high)
    assert list(low["time"][:6]) == list(dates) and len(low) == 18
    assert not np.allclose(low["forecast"], high["forecast"])  # the model reads the future price
