"""Rolling-origin backtests from the API (Forecaster.backtest / PanelForecaster.backtest with k) and the CLI
(--backtest K [--refit]): origins where they belong, mean ± sd that is the mean of the origins, the files."""

import json

import numpy as np
import pandas as pd
import pytest

from rnnlab.cli import main
from rnnlab.data import load
from rnnlab.data.synthetic import seasonal_panel
from rnnlab.forecast import PanelForecaster
from rnnlab.forecast.estimator import Forecaster
from rnnlab.metrics import forecast_metrics

TINY = dict(hidden_size=4, epochs=2, quiet=True, device="cpu")


def test_series_backtest_origins_and_summary():
    series = load("airline")
    result = Forecaster(horizon=12, **TINY).backtest(series, k=3)
    assert result.origins == 3 and not result.refit
    first = result.forecasts[result.forecasts["origin"] == 0]
    assert first["time"].iloc[0] == series.index[144 - 36] and len(result.forecasts) == 36
    # origin 1's seasonal naive and its MASE, by hand: the values before the origin
    rows = result.forecasts[result.forecasts["origin"] == 1]
    history = series.to_numpy()[:144 - 24]
    assert np.allclose(rows["seasonal_naive"], history[-12:])
    mase = forecast_metrics(rows["actual"].to_numpy(), rows["model"].to_numpy(), history, 12)["mase"]
    per = result.per_origin
    assert per[(per.origin == 1) & (per.method == "model")]["mase"].iloc[0] == pytest.approx(mase)
    summary = result.summary()
    model = per[per.method == "model"]["mase"]
    assert summary["mase"]["mean"] == pytest.approx(model.mean())
    assert summary["mase"]["sd"] == pytest.approx(model.std())


def test_refit_fits_again_after_the_first_origin():
    series = load("airline")
    once = Forecaster(horizon=12, **TINY).backtest(series, k=2)
    again = Forecaster(horizon=12, **TINY).backtest(series, k=2, refit=True)
    first = lambda b, o: b.forecasts[b.forecasts.origin == o]["model"].to_numpy()  # noqa: E731
    assert np.allclose(first(once, 0), first(again, 0))  # the same first fit, the same seed
    assert not np.allclose(first(once, 1), first(again, 1))


def test_panel_backtest_with_quantiles_scores_intervals():
    panel = seasonal_panel(6, 60, seed=0)
    f = PanelForecaster(horizon=6, lookback=12, steps=3, hidden_size=4, quantiles="0.1 0.9", quiet=True, device="cpu")
    result = f.backtest(panel, k=2)
    assert set(result.forecasts["id"]) == set(panel.ids) and result.origins == 2
    assert {"q0.1", "q0.5", "q0.9"} <= set(result.forecasts.columns)
    per = result.per_origin.set_index(["origin", "method"])
    assert 0 <= per.loc[(0, "model"), "coverage"] <= 100 and per.loc[(0, "seasonal_naive"), "msis"] > 0
    assert np.isnan(per.loc[(0, "naive"), "coverage"])


@pytest.mark.slow
def test_cli_backtest_writes_origins_and_mean_sd(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["forecast", "--data", "airline", "--horizon", "12", "--backtest", "3", "--hidden", "4",
                 "--epochs", "2", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "backtest: 3 origins, horizon 12, fitted once" in text and "mase" in text and " ± " in text
    metrics = json.loads((out / "metrics.json").read_text())
    b = metrics["backtest"]
    assert b["origins"] == 3 and len(b["per_origin"]) == 9 and b["refit"] is False
    per = pd.read_csv(out / "backtest_origins.csv")
    assert b["mean"]["model"]["mase"] == pytest.approx(per[per.method == "model"]["mase"].mean())
    assert metrics["test"]["mase"] == b["mean"]["model"]["mase"]
    assert len(pd.read_csv(out / "backtest_forecasts.csv")) == 36
    assert "backtest.png" in (out / "report.html").read_text()
    assert main(["predict", "--model", str(out)]) == 0  # the last fit is saved


@pytest.mark.slow
def test_cli_panel_backtest_refit(tmp_path, capsys):
    panel = seasonal_panel(4, 50, seed=1)
    dates = lambda n: pd.date_range("2000-01-01", periods=n, freq="MS").strftime("%Y-%m-%d")  # noqa: E731
    frame = pd.concat([pd.DataFrame({"id": name, "t": dates(n), "y": panel.series(i).to_numpy()})
                       for i, (name, n) in enumerate(zip(panel.ids, panel.lengths))])
    data = tmp_path / "p.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "run"
    assert main(["forecast", "--data", str(data), "--id-column", "id", "--time-column", "t", "--column", "y",
                 "--horizon", "6", "--season", "12", "--backtest", "2", "--refit", "--steps", "3", "--hidden", "4",
                 "--quiet", "--out", str(out)]) == 0
    b = json.loads((out / "metrics.json").read_text())["backtest"]
    assert b["refit"] is True and b["origins"] == 2
    assert "refit at every origin" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--backtest", "0"], "backtest must be a positive number of origins"),
    (["--backtest", "20"], "too few for a backtest of 20 origins"),
])
def test_cli_bad_backtest_is_one_line(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    assert main(["forecast", "--data", "airline", "--horizon", "12", "--quiet", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and not out.exists()
