"""rnnlab.metrics: metrics against hand-computed values, baselines, least-squares AR."""

import math

import numpy as np
import pytest

from rnnlab.metrics import LinearAR, forecast_metrics, naive, seasonal_naive


def test_metrics_by_hand():
    actual, predicted = np.array([2.0, 4.0, 5.0]), np.array([1.0, 4.0, 7.0])
    train = np.array([1.0, 3.0, 2.0, 6.0])  # |diffs| = 2, 1, 4 -> mean 7/3
    m = forecast_metrics(actual, predicted, train, season=1)
    assert m["mse"] == pytest.approx((1 + 0 + 4) / 3)
    assert m["rmse"] == pytest.approx(math.sqrt(5 / 3))
    assert m["mae"] == pytest.approx(1.0)
    assert m["mape"] == pytest.approx(100 * (1 / 2 + 0 + 2 / 5) / 3)
    assert m["smape"] == pytest.approx(100 * (2 * 1 / 3 + 0 + 2 * 2 / 12) / 3)
    assert m["mase"] == pytest.approx(1.0 / (7 / 3))


def test_mase_uses_the_seasonal_difference():
    train = np.array([1.0, 5.0, 2.0, 7.0, 4.0])  # season 2: |2-1|, |7-5|, |4-2| -> mean 5/3
    m = forecast_metrics(np.array([1.0]), np.array([2.0]), train, season=2)
    assert m["mase"] == pytest.approx(1.0 / (5 / 3))


def test_mape_skips_zero_actuals_and_smape_counts_zero_over_zero_as_zero():
    m = forecast_metrics(np.array([0.0, 2.0]), np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    assert m["mape"] == pytest.approx(50.0)
    assert m["smape"] == pytest.approx(100 * (0 + 2 * 1 / 3) / 2)


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="equal-length 1-D"):
        forecast_metrics(np.ones(3), np.ones(2), np.ones(5))


def test_naive_and_seasonal_naive():
    history = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(naive(history, 3), [5, 5, 5])
    np.testing.assert_array_equal(seasonal_naive(history, 5, season=2), [4, 5, 4, 5, 4])
    np.testing.assert_array_equal(seasonal_naive(history, 2, season=1), [5, 5])


def test_linear_ar_recovers_an_exact_ar2_process():
    # x_t = 1.5 x_{t-1} - 0.7 x_{t-2} + 0.3: least squares on exact data recovers the coefficients
    x = [1.0, 0.5]
    for _ in range(60):
        x.append(1.5 * x[-1] - 0.7 * x[-2] + 0.3)
    x = np.array(x)
    inputs = np.stack([x[i:i + 2] for i in range(len(x) - 2)])
    ar = LinearAR().fit(inputs, x[2:, None])
    np.testing.assert_allclose(ar.weight[:, 0], [-0.7, 1.5], atol=1e-8)
    np.testing.assert_allclose(ar.bias, [0.3], atol=1e-8)


def test_linear_ar_matches_numpy_lstsq_for_several_outputs():
    rng = np.random.default_rng(0)
    inputs, targets = rng.normal(size=(40, 5)), rng.normal(size=(40, 3))
    ar = LinearAR().fit(inputs, targets)
    design = np.c_[inputs, np.ones(40)]
    expected = design @ np.linalg.pinv(design) @ targets
    np.testing.assert_allclose(ar(inputs), expected, atol=1e-10)
