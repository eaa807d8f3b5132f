"""rnnlab.data.calendar: sin/cos features of the position in each cycle, per frequency."""

import numpy as np
import pandas as pd
import pytest

from rnnlab.data.calendar import calendar_features, cycles


@pytest.mark.parametrize("freq, expected", [
    ("MS", ("month",)), ("ME", ("month",)), ("QS-OCT", ("quarter",)), ("W-SUN", ("week",)),
    ("D", ("weekday", "yearday")), ("B", ("workday",)), ("h", ("hour", "weekday")),
    ("30min", ("minute", "hour")), ("YS", ()), (None, ()),
])
def test_cycles_per_frequency(freq, expected):
    assert cycles(freq) == expected


def test_monthly_features_are_the_month_on_the_unit_circle():
    index = pd.date_range("1999-11", periods=14, freq="MS")
    f = calendar_features(index)
    assert list(f.columns) == ["month_sin", "month_cos"] and f.index.equals(index)
    # March: p = 2, angle = 2 pi 2 / 12 = pi / 3
    march = f.loc["2000-03-01"]
    assert march["month_sin"] == pytest.approx(np.sin(np.pi / 3)) and march["month_cos"] == pytest.approx(0.5)
    # the same month a year apart has the same features; sin^2 + cos^2 = 1
    np.testing.assert_allclose(f.iloc[0], f.iloc[12])
    np.testing.assert_allclose(f["month_sin"] ** 2 + f["month_cos"] ** 2, 1.0)


def test_daily_and_hourly_features():
    days = calendar_features(pd.date_range("2024-01-01", periods=8, freq="D"))  # a Monday
    assert list(days.columns) == ["weekday_sin", "weekday_cos", "yearday_sin", "yearday_cos"]
    assert days["weekday_cos"].iloc[0] == pytest.approx(1.0)  # Monday: p = 0
    np.testing.assert_allclose(days["weekday_sin"].iloc[0], days["weekday_sin"].iloc[7], atol=1e-12)
    hours = calendar_features(pd.date_range("2024-01-01", periods=30, freq="h"))
    assert hours["hour_sin"].iloc[6] == pytest.approx(1.0)  # 06:00: a quarter of the day


def test_no_features_without_dates_or_for_yearly_data():
    assert calendar_features(pd.RangeIndex(10)).shape == (10, 0)
    assert calendar_features(pd.date_range("2000", periods=5, freq="YS")).shape == (5, 0)
