"""explain lookback: every lookback judged on the same points; the claim checked at the default budget."""

import pytest
import torch

from rnnlab.explain.lookback import LookbackConfig, lookback_effect
from rnnlab.explain.tasks import lesson_sine


def test_rows_and_predictions_are_consistent():
    result = lookback_effect(LookbackConfig(lookbacks=(1, 3), epochs=3, device="cpu", quiet=True))
    assert [r["lookback"] for r in result.rows] == [1, 3]
    assert result.targets == list(range(3, 100)) and result.test_start == 80
    _, x = lesson_sine()
    for row in result.rows:
        predicted = torch.tensor(result.predictions[row["lookback"]])
        # the test MSE is the squared error of the stored predictions on the last 20 points
        assert row["test_mse"] == pytest.approx(((predicted[-20:] - x[80:]) ** 2).mean().item(), rel=1e-5)
        assert row["train_mse"] == pytest.approx(((predicted[:-20] - x[3:80]) ** 2).mean().item(), rel=1e-5)
    assert result.improvement(1) == pytest.approx(1.0)
    assert result.improvement(3) == pytest.approx(result.rows[0]["test_mse"] / result.rows[1]["test_mse"])


@pytest.mark.parametrize("lookbacks", [(0, 2), (1, 61), ()])
def test_bad_lookbacks_are_explained(lookbacks):
    with pytest.raises(ValueError, match="explain lookback: lookbacks must be integers in 1..60"):
        lookback_effect(LookbackConfig(lookbacks=lookbacks))


@pytest.mark.slow
def test_a_window_of_ten_cuts_the_sine_error_tenfold():
    """The issue's claim at the default budget (300 epochs), lookbacks 1 and 10 only."""
    result = lookback_effect(LookbackConfig(lookbacks=(1, 10), device="cpu", quiet=True))
    assert result.improvement(10) >= 10
