"""rnnlab.forecast.baselines.fit_linear: the panel's linear baseline against analytic answers, and bounded on
series of a few seasons (the plain least-squares AR it replaced reached 1e74 on a Tourism yearly series)."""

import numpy as np

from rnnlab.forecast.baselines import fit_linear
from rnnlab.metrics import seasonal_naive


def test_without_ridge_a_linear_trend_continues_exactly():
    t = np.arange(30.0)
    forecast = fit_linear(3.0 + 2.0 * t, lookback=4, horizon=3, season=1, ridge=0.0)
    np.testing.assert_allclose(forecast(3.0 + 2.0 * t), 3.0 + 2.0 * np.arange(30.0, 33.0), rtol=1e-9)


def test_one_lag_matches_the_scalar_ridge_formula():
    x = np.array([2.0, 5.0, 3.0, 6.0, 4.0, 8.0])
    z = (x - x.mean()) / x.std()  # the standardised values
    inputs, targets = z[:-1], z[1:]
    residual = targets - inputs  # the prior W0 = 1 (naive)
    xc, rc = inputs - inputs.mean(), residual - residual.mean()
    lam = 0.5
    d = (xc @ rc) / (xc @ xc + lam * len(xc))  # D = sum(xc rc) / (sum(xc^2) + lambda N)
    b = residual.mean() - inputs.mean() * d
    expected = ((1.0 + d) * z[-1] + b) * x.std() + x.mean()
    forecast = fit_linear(x, lookback=1, horizon=1, season=1, ridge=lam)
    np.testing.assert_allclose(forecast(x), [expected], rtol=1e-12)


def test_no_window_gives_the_seasonal_naive_forecast_and_a_large_ridge_adds_its_drift():
    x = np.array([10.0, 20.0, 30.0, 15.0, 12.0, 22.0])  # 6 points: no window of 4 lags + 4 outputs
    np.testing.assert_allclose(fit_linear(x, 8, 4, 4)(x), seasonal_naive(x, 4, 4), rtol=1e-12)
    rng = np.random.default_rng(0)
    y = 100 + 10 * np.sin(np.arange(80) * 2 * np.pi / 4) + rng.normal(0, 3, 80)
    far = fit_linear(y, 8, 4, 4, ridge=1e9)(y)  # D -> 0; the intercept (not penalised) stays: the mean drift
    drift = [np.mean([y[e] - y[e - 4] for e in range(4 + h, 80 - 3 + h)]) for h in range(4)]  # per output h
    np.testing.assert_allclose(far, seasonal_naive(y, 4, 4) + drift, rtol=1e-6)
    assert fit_linear(np.full(20, 5.0), 8, 4, 4)(np.full(20, 5.0)).tolist() == [5.0] * 4  # constant


def test_series_of_a_few_seasons_get_bounded_forecasts():
    rng = np.random.default_rng(1)
    cases = [np.array([10.0, 11.0, 30.0, 80.0, 12.0, 13.0, 95.0]),  # 7 points, yearly-like (h = 4)
             1.7 ** np.arange(12.0),  # 3 seasons of explosive growth
             np.abs(rng.standard_cauchy(12)) + 1.0]  # 3 seasons of heavy-tailed noise
    for x in cases:
        for season, horizon in ((1, 4), (4, 8)):
            out = fit_linear(x, 16, horizon, season)(x)
            spread = x.max() - x.min()
            assert np.all(np.isfinite(out)) and out.shape == (horizon,)
            assert x.min() - 2 * spread <= out.min() and out.max() <= x.max() + 2 * spread, (x, out)
