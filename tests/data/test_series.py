"""rnnlab.data.series: loading, validation messages, frequency, windows, scaling, splitting."""

import numpy as np
import pandas as pd
import pytest

from rnnlab.data import series as sd


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ---- bundled and built-in series
@pytest.mark.parametrize("name, length, first, last, frequency, season", [
    ("airline", 144, 112.0, 432.0, "monthly", 12),  # Box & Jenkins Series G
    ("sunspots", 309, 5.0, 2.9, "yearly", 1),
    ("nile", 100, 1120.0, 740.0, "yearly", 1),
    ("co2", 526, 316.1, 371.02, "monthly", 12),
])
def test_bundled_series(name, length, first, last, frequency, season):
    s = sd.load(name)
    assert len(s) == length and s.iloc[0] == first and s.iloc[-1] == last
    info = sd.describe(s)
    assert info["frequency"] == frequency
    assert sd.season_length(info["freq"]) == season
    assert isinstance(s.index, pd.DatetimeIndex)


def test_airline_dates_and_description_line():
    s = sd.load("airline")
    assert s.index[0] == pd.Timestamp("1949-01-01") and s.index[-1] == pd.Timestamp("1960-12-01")
    line = sd.describe_line(sd.describe(s))
    assert line == "passengers: 144 points, monthly, 1949-01-01 .. 1960-12-01, range 104 .. 622"


def test_builtin_series_reject_other_columns():
    assert sd.load("airline", column="passengers", time_column="month").name == "passengers"
    with pytest.raises(ValueError, match="unknown column 'x' for the built-in 'airline'; "
                                         "columns are: month, passengers"):
        sd.load("airline", column="x")
    with pytest.raises(ValueError, match="unknown column 'v' for the built-in 'sine'"):
        sd.load("sine", column="v")


def test_sine_and_unknown_name():
    assert len(sd.load("sine", length=50)) == 50
    with pytest.raises(ValueError, match="unknown data 'nope'; use one of sine, airline"):
        sd.load("nope")


# ---- CSV files
def test_csv_with_dates_infers_daily_frequency(tmp_path):
    path = write(tmp_path, "day,v\n2024-01-01,1\n2024-01-02,2\n2024-01-03,4\n2024-01-04,3\n")
    s = sd.load(str(path), column="v", time_column="day")
    assert sd.describe(s)["frequency"] == "daily" and sd.season_length(sd.frequency(s)) == 7
    np.testing.assert_array_equal(s.to_numpy(), [1, 2, 4, 3])


def test_csv_picks_the_only_numeric_column(tmp_path):
    path = write(tmp_path, "name,v\na,1\nb,2\nc,3\n")
    assert sd.load(str(path)).name == "v"


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="series: file not found: .*missing.csv"):
        sd.load(str(tmp_path / "missing.csv"))


def test_unknown_column_lists_the_columns(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"unknown column 'x' \(`column`\) in data.csv; columns are: a, b"):
        sd.load(str(path), column="x")


def test_non_numeric_values_name_their_lines(tmp_path):
    path = write(tmp_path, "v\n1\n2\nabc\n4\n")
    with pytest.raises(ValueError, match=r"non-numeric values in 'v' at data.csv line 4 \(first: 'abc'\)"):
        sd.load(str(path), column="v")


def test_missing_values_name_their_lines_and_fill_interpolates(tmp_path):
    path = write(tmp_path, "v\n1\n\n3\n4\n\n8\n")
    with pytest.raises(ValueError, match=r"2 missing value\(s\) in 'v' at data.csv line 3, 6; use `fill='interp"):
        sd.load(str(path), column="v")
    s = sd.load(str(path), column="v", fill="interpolate")
    np.testing.assert_allclose(s.to_numpy(), np.interp(np.arange(6), [0, 2, 3, 5], [1, 3, 4, 8]))
    assert sd.describe(s)["filled"] == 2


def test_unparsable_dates(tmp_path):
    path = write(tmp_path, "t,v\n2024-01-01,1\nnot a date,2\n2024-01-03,3\n")
    with pytest.raises(ValueError, match="unparsable dates in 't' at data.csv line 3"):
        sd.load(str(path), column="v", time_column="t")


def test_integer_years_become_dates(tmp_path):
    path = write(tmp_path, "year,v\n1900,1\n1901,2\n1902,3\n")
    s = sd.load(str(path), column="v", time_column="year")
    assert s.index[0] == pd.Timestamp("1900-01-01") and sd.describe(s)["frequency"] == "yearly"


# ---- in-memory data
def test_array_series_and_dataframe_give_the_same_values():
    values = [1.0, 2.5, 3.0]
    a = sd.as_series(np.array(values))
    b = sd.as_series(pd.Series(values, name="y"))
    c = sd.as_series(pd.DataFrame({"y": values, "z": [0, 0, 0]}), target="y")
    for s in (a, b, c):
        np.testing.assert_array_equal(s.to_numpy(), values)
    assert b.name == "y" and c.name == "y"


def test_dataframe_needs_a_known_target():
    with pytest.raises(ValueError, match="unknown target 'q' for a DataFrame; columns are: y, z"):
        sd.as_series(pd.DataFrame({"y": [1], "z": [2]}), target="q")


def test_two_dimensional_array_and_wrong_type():
    with pytest.raises(ValueError, match=r"expected a 1-D array, got shape \(2, 2\)"):
        sd.as_series(np.ones((2, 2)))
    with pytest.raises(TypeError, match="got dict"):
        sd.as_series({"a": 1})


def test_constant_series_is_rejected():
    with pytest.raises(ValueError, match="'series' is constant .every value is 3.; there is nothing to forecast"):
        sd.check_not_constant(sd.as_series(np.full(10, 3.0)))


# ---- windows, split, scaler
def test_windows_match_a_plain_loop():
    values = np.arange(10.0)
    inputs, targets = sd.windows(values, lookback=3, horizon=2)
    expected = [(values[i:i + 3], values[i + 3:i + 5]) for i in range(10 - 5 + 1)]
    np.testing.assert_array_equal(inputs, [e[0] for e in expected])
    np.testing.assert_array_equal(targets, [e[1] for e in expected])


def test_windows_by_target_end_split_train_and_validation():
    values = np.arange(10.0)
    _, train_targets = sd.windows(values, 3, 2, end=7)
    _, val_targets = sd.windows(values, 3, 2, first_end=7)
    assert train_targets.max() == 6 and val_targets[:, -1].tolist() == [7, 8, 9]


def test_split_sizes_and_too_short():
    assert sd.split_sizes(100, 10, 5, test_size=20, val_size=8) == (72, 80)
    with pytest.raises(ValueError, match="30 points are too few for lookback 12 \\+ horizon 12 \\+ validation 3 "
                                         "\\+ test 12: need at least 39"):
        sd.split_sizes(30, 12, 12, 12, 3)


def test_scaler_log_for_positive_series_and_inverse():
    train = np.array([1.0, 2.0, 4.0, 8.0])
    scaler = sd.Scaler.fit(train)
    assert scaler.log and scaler.mean == pytest.approx(np.log(train).mean())
    assert scaler.std == pytest.approx(np.log(train).std())
    values = np.array([3.0, 100.0])
    np.testing.assert_allclose(scaler.inverse(scaler.transform(values)), values)
    assert not sd.Scaler.fit(np.array([-1.0, 1.0, 2.0])).log
    assert not sd.Scaler.fit(train, "none").log


def test_scaler_errors():
    with pytest.raises(ValueError, match="transform 'log' needs a positive series; its minimum is -1"):
        sd.Scaler.fit(np.array([-1.0, 1.0]), "log")
    with pytest.raises(ValueError, match="the training part is constant"):
        sd.Scaler.fit(np.array([2.0, 2.0, 2.0]))
