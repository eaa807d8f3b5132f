"""rnnlab.forecast.intervals: coverage, the M4 MSIS and the scaled pinball loss by hand; baseline intervals."""

import numpy as np
import pandas as pd
import pytest

from rnnlab.forecast.intervals import (
    coverage,
    interval_metrics,
    interval_score,
    lead_errors,
    msis,
    scaled_pinball,
    seasonal_naive_quantiles,
    symmetric_pairs,
)
from rnnlab.forecast.quantiles import normal_quantiles

# in-sample x with season 2: |2-1|, |6-3|, |4-2|, |5-6| = 1, 3, 2, 1 -> scale 7/4
TRAIN = np.array([1.0, 3.0, 2.0, 6.0, 4.0, 5.0])
ACTUAL = np.array([5.0, 7.0, 3.0])
LOWER, UPPER = np.full(3, 4.0), np.full(3, 6.0)


def test_interval_score_and_msis_by_hand():
    # alpha = 0.2 (80%): inside -> width 2; 1 above -> 2 + 10 * 1; 1 below -> 2 + 10 * 1
    np.testing.assert_allclose(interval_score(ACTUAL, LOWER, UPPER, 0.2), [2.0, 12.0, 12.0])
    # M4: MSIS = mean(IS) / mean(|x_t - x_{t-m}|) = (26 / 3) / (7 / 4)
    assert msis(ACTUAL, LOWER, UPPER, 0.2, TRAIN, season=2) == pytest.approx(26 / 3 / 1.75)
    assert coverage(ACTUAL, LOWER, UPPER) == pytest.approx(100 / 3)
    assert coverage([4.0, 6.0], [4.0, 4.0], [6.0, 6.0]) == 100.0  # the ends are inside


def test_scaled_pinball_by_hand():
    # forecasts 4, 5, 6 at q = 0.1, 0.5, 0.9 for every point:
    # y=5: e = 1, 0, -1 -> 0.1, 0, 0.1;  y=7: e = 3, 2, 1 -> 0.3, 1.0, 0.9;  y=3: e = -1, -2, -3 -> 0.9, 1.0, 0.3
    p = np.tile([4.0, 5.0, 6.0], (3, 1))
    assert scaled_pinball(ACTUAL, p, (0.1, 0.5, 0.9), TRAIN, 2) == pytest.approx(4.6 / 9 / 1.75)


def test_interval_metrics_scores_the_widest_pair_and_every_level():
    p = np.array([[3.0, 4.0, 5.0, 6.0, 7.0]] * 3)
    quantiles = (0.025, 0.1, 0.5, 0.9, 0.975)
    assert [pair[2] for pair in symmetric_pairs(quantiles)] == [95.0, 80.0]
    m = interval_metrics(ACTUAL, p, quantiles, TRAIN, 2)
    assert m["level"] == 95.0 and set(m["levels"]) == {"95", "80"}
    assert m["coverage"] == pytest.approx(100.0) and m["levels"]["80"]["coverage"] == pytest.approx(100 / 3)
    assert m["msis"] == pytest.approx(msis(ACTUAL, p[:, 0], p[:, 4], 0.05, TRAIN, 2))
    assert m["levels"]["80"]["msis"] == pytest.approx(26 / 3 / 1.75)
    with pytest.raises(ValueError, match=r"quantile forecasts \(n, 5\), got \(3,\) and \(3, 4\)"):
        interval_metrics(ACTUAL, p[:, :4], quantiles, TRAIN, 2)


def test_coverage_of_gaussian_quantiles_is_the_nominal_level():
    y = np.random.default_rng(0).normal(size=200_000)
    low, high = normal_quantiles((0.1, 0.9))
    assert coverage(y, np.full_like(y, low), np.full_like(y, high)) == pytest.approx(80.0, abs=0.5)


def test_seasonal_naive_quantiles_by_hand():
    history = np.array([10.0, 20.0, 13.0, 21.0, 14.0, 25.0])
    # leads 1-2: errors x_t - x_{t-2} = 3, 1, 1, 4 (sorted 1, 1, 3, 4): q0.1 = 1, q0.5 = 2, q0.9 = 3.7
    # lead 3: x_t - x_{t-4} = 4, 5: q0.1 = 4.1, q0.5 = 4.5, q0.9 = 4.9; point forecasts 14, 25, 14
    np.testing.assert_allclose(lead_errors(history, 3, 2), [4.0, 5.0])
    out = seasonal_naive_quantiles(history, 3, 2, (0.1, 0.5, 0.9))
    np.testing.assert_allclose(out, [[15.0, 16.0, 17.7], [26.0, 27.0, 28.7], [18.1, 18.5, 18.9]])


def test_seasonal_naive_intervals_cover_a_seasonal_noise_process():
    # x_t = s_{t mod 4} + eps_t: the seasonal naive error x_t - x_{t-4} ~ N(0, 2), at every lead <= 4
    rng = np.random.default_rng(1)
    season = rng.normal(size=4) * 5
    x = season[np.arange(4000) % 4] + rng.normal(size=4000)
    inside, total = 0, 0
    for origin in range(400, 4000, 4):
        p = seasonal_naive_quantiles(x[origin - 400:origin], 4, 4, (0.1, 0.5, 0.9))
        inside += np.sum((p[:, 0] <= x[origin:origin + 4]) & (x[origin:origin + 4] <= p[:, 2]))
        total += 4
    assert 100 * inside / total == pytest.approx(80.0, abs=2.5)


def test_panel_interval_scores_per_series_with_the_baseline_history_growing_by_origin():
    from rnnlab.forecast.intervals import aggregate_intervals, panel_interval_scores

    quantiles = (0.1, 0.5, 0.9)
    history = np.array([10.0, 20.0, 13.0, 21.0, 14.0, 25.0])
    actual = np.array([16.0, 24.0, 15.0, 27.0])
    model = np.stack([actual - 1, actual, actual + 1], axis=1)
    frame = pd.DataFrame({"id": "a", "actual": actual, "q0.1": model[:, 0], "q0.5": model[:, 1],
                          "q0.9": model[:, 2]})
    scores = panel_interval_scores(frame, {"a": history}, 2, quantiles, horizon=2)
    assert scores.loc[0, "model_coverage"] == 100.0
    # origin 2 of the baseline reads the history and the first two actual values
    base = np.concatenate([seasonal_naive_quantiles(history, 2, 2, quantiles),
                           seasonal_naive_quantiles(np.r_[history, actual[:2]], 2, 2, quantiles)])
    expected = interval_metrics(actual, base, quantiles, history, 2)
    assert scores.loc[0, "seasonal_naive_msis"] == pytest.approx(expected["msis"])
    means = aggregate_intervals(scores)
    assert means["seasonal_naive"]["coverage"] == pytest.approx(expected["coverage"])
    assert means["levels"]["80"]["seasonal_naive"]["msis"] == pytest.approx(expected["levels"]["80"]["msis"])
    assert scores.loc[0, "model_coverage_80"] == 100.0
