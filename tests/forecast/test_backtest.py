"""rnnlab.forecast.backtest: rolling origins with deterministic forecasters, against hand-computed metrics."""

import numpy as np
import pandas as pd
import pytest

from rnnlab.forecast.backtest import origin_positions, rolling_origin
from rnnlab.forecast.intervals import interval_metrics, seasonal_naive_quantiles


def naive_fit(histories):
    """A forecaster with nothing to learn: the last value, repeated."""
    return lambda hist, n: {name: np.full(n, s.iloc[-1]) for name, s in hist.items()}


def mean_fit(calls):
    """A forecaster whose state is learned: the mean of the values it was fitted on."""
    def fit(histories):
        calls.append({name: len(s) for name, s in histories.items()})
        means = {name: float(s.mean()) for name, s in histories.items()}
        return lambda hist, n: {name: np.full(n, means[name]) for name in hist}
    return fit


SQUARES = {"sq": pd.Series(np.arange(30.0) ** 2, index=pd.date_range("2000-01", periods=30, freq="MS"))}


def test_origins_step_back_from_the_end_by_the_horizon():
    np.testing.assert_array_equal(origin_positions(30, 4, 3), [18, 22, 26])


def test_naive_backtest_by_hand():
    # x_t = t^2, K = 3, H = 4: origins 18, 22, 26; the naive forecast is x_{o-1} = (o-1)^2
    # o=18: errors 35, 72, 111, 152 -> MAE 92.5, scale mean|x_t - x_{t-1}| over t<18 = 17 -> MASE 92.5/17
    # o=22: 43, 88, 135, 184 -> 112.5, scale 21;  o=26: 51, 104, 159, 216 -> 132.5, scale 25
    b = rolling_origin(SQUARES, naive_fit, k=3, horizon=4)
    model = b.per_origin[b.per_origin["method"] == "model"]
    np.testing.assert_allclose(model["mae"], [92.5, 112.5, 132.5])
    np.testing.assert_allclose(model["mase"], [92.5 / 17, 112.5 / 21, 132.5 / 25])
    summary = b.summary()
    assert summary["mae"] == {"mean": pytest.approx(112.5), "sd": pytest.approx(20.0)}
    # the naive baseline is the same forecast from the same origins
    np.testing.assert_allclose(b.forecasts["naive"], b.forecasts["model"])
    assert list(b.forecasts["time"][:2]) == list(pd.to_datetime(["2001-07-01", "2001-08-01"]))
    assert list(b.per_origin["cutoff"][::3]) == ["2001-06-01 00:00:00", "2001-10-01 00:00:00", "2002-02-01 00:00:00"]
    assert "mae 112.5 ± 20" in b.format()


def test_fitted_once_by_default_and_at_every_origin_with_refit():
    calls = []
    b = rolling_origin(SQUARES, mean_fit(calls), k=3, horizon=4)
    assert calls == [{"sq": 18}]
    # mean of t^2 for t < 18 = 17 * 35 / 6, forecast from every origin
    np.testing.assert_allclose(b.forecasts["model"], 17 * 35 / 6)
    calls.clear()
    b = rolling_origin(SQUARES, mean_fit(calls), k=3, horizon=4, refit=True)
    assert calls == [{"sq": 18}, {"sq": 22}, {"sq": 26}]
    np.testing.assert_allclose(b.forecasts["model"][4:8], 21 * 43 / 6)  # mean of t^2, t < 22


def test_a_panel_averages_series_cut_at_their_own_ends():
    panel = {"a": pd.Series(np.arange(30.0) ** 2), "b": pd.Series(np.arange(12.0) * 3)}
    b = rolling_origin(panel, naive_fit, k=2, horizon=4)
    # b: origins 4 and 8; the naive errors of a line of slope 3 are 3, 6, 9, 12 -> MAE 7.5, MASE 2.5
    # a: origins 22 and 26 -> MAE 112.5 and 132.5 (see above)
    model = b.per_origin[b.per_origin["method"] == "model"]
    np.testing.assert_allclose(model["mae"], [(112.5 + 7.5) / 2, (132.5 + 7.5) / 2])
    np.testing.assert_allclose(model["mase"], [(112.5 / 21 + 2.5) / 2, (132.5 / 25 + 2.5) / 2])
    assert len(b.forecasts) == 2 * 2 * 4


def test_quantile_forecasts_add_interval_metrics_for_the_model_and_the_baseline():
    quantiles = (0.1, 0.5, 0.9)

    def fit(histories):
        return lambda hist, n: {k: s.iloc[-1] + np.array([[-50.0, 0.0, 50.0]] * n) for k, s in hist.items()}

    b = rolling_origin(SQUARES, fit, k=3, horizon=4, season=1, quantiles=quantiles)
    assert list(b.forecasts.columns[-5:]) == ["q0.1", "q0.5", "q0.9", "naive", "seasonal_naive"]
    rows = b.per_origin.set_index(["origin", "method"])
    # o=18: errors 35, 72, 111, 152: one of four inside [-50, 50] around the naive
    assert rows.loc[(0, "model"), "coverage"] == pytest.approx(25.0)
    history = SQUARES["sq"].iloc[:18].to_numpy()
    baseline = seasonal_naive_quantiles(history, 4, 1, quantiles)
    expected = interval_metrics(SQUARES["sq"].iloc[18:22].to_numpy(), baseline, quantiles, history, 1)
    assert rows.loc[(0, "seasonal_naive"), "msis"] == pytest.approx(expected["msis"])
    assert np.isnan(rows.loc[(0, "naive"), "coverage"])
    assert "coverage" in b.summary() and "coverage" not in b.summary("naive")


def test_bad_backtests_are_value_errors_naming_the_series():
    with pytest.raises(ValueError, match="series 'sq' has 30 points, too few for 8 origins of horizon 4"):
        rolling_origin(SQUARES, naive_fit, k=8, horizon=4)
    with pytest.raises(ValueError, match="k \\(the backtest origins\\) must be a positive integer, got 0"):
        rolling_origin(SQUARES, naive_fit, k=0, horizon=4)
    with pytest.raises(ValueError, match="returned shape \\(3,\\) for series 'sq', expected \\(4,\\)"):
        rolling_origin(SQUARES, lambda h: (lambda hist, n: {"sq": np.zeros(3)}), k=1, horizon=4)
