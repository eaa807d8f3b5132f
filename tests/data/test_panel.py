"""rnnlab.data.panel: building panels from every form, per-series validation naming the series, lazy windows."""

import numpy as np
import pandas as pd
import pytest

from rnnlab.data.panel import Panel, read_panel_csv
from rnnlab.data.synthetic import seasonal_panel


def _long(shuffle=True):
    a = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2000-01", periods=6, freq="MS"),
                      "y": np.arange(1.0, 7.0)})
    b = pd.DataFrame({"unique_id": "b", "ds": pd.date_range("2001-03", periods=4, freq="MS"),
                      "y": np.arange(10.0, 14.0)})
    frame = pd.concat([a, b], ignore_index=True)
    return frame.sample(frac=1, random_state=0) if shuffle else frame


def test_every_form_gives_the_same_panel():
    long = Panel.from_long(_long(), "unique_id", "ds", "y")
    assert long.ids == ["a", "b"] and long.lengths.tolist() == [6, 4] and long.freq == "MS"
    assert long.notices == ["rows sorted by series and date"]
    assert long.series("b").index[0] == pd.Timestamp("2001-03-01") and long.series("b").tolist() == [10, 11, 12, 13]
    as_dict = Panel.from_dict({"a": long.series("a"), "b": long.series("b")})
    wide = Panel.from_wide(pd.DataFrame({"t": pd.date_range("2000-01", periods=18, freq="MS"),
                                         "a": [*range(1, 7)] + [np.nan] * 12,
                                         "b": [np.nan] * 14 + [10, 11, 12, 13]}), time_column="t")
    for other in (as_dict, wide):
        assert other.ids == long.ids and np.array_equal(other.values, long.values)
        assert np.array_equal(other.offsets, long.offsets) and np.array_equal(other.starts, long.starts)
    listed = Panel.build([np.arange(1.0, 7.0), np.arange(10.0, 14.0)])
    assert listed.ids == ["0", "1"] and np.array_equal(listed.values, long.values) and listed.freq is None


def test_gather_is_index_arithmetic_with_left_padding():
    p = Panel.from_list([np.arange(1.0, 6.0), np.arange(10.0, 13.0)])
    np.testing.assert_array_equal(p.gather(np.array([0, 1, 1]), np.array([5, 3, 2]), 3),
                                  [[3, 4, 5], [10, 11, 12], [10, 10, 11]])


def test_split_and_tail_keep_dates():
    p = Panel.from_long(_long(), "unique_id", "ds", "y")
    history, test = p.split(2)
    assert history.lengths.tolist() == [4, 2] and test.lengths.tolist() == [2, 2]
    assert test.series("a").index[0] == pd.Timestamp("2000-05-01") and test.series("a").tolist() == [5, 6]
    assert p.tail(3).series("b").tolist() == [11, 12, 13]
    with pytest.raises(ValueError, match="series 'b' has 4 points: too short"):
        p.split(4)


@pytest.mark.parametrize("change, message", [
    (lambda f: f.assign(y=f["y"].astype(object).where(f.index != 3, "x")), "non-numeric values in 'a' at"),
    (lambda f: f.assign(y=f["y"].where(f.index != 8)), "missing value.s. in 'b'"),
    (lambda f: f.assign(y=f["y"].where(f.index != 2, 1e308)), "overflowing values in 'a'"),
    (lambda f: f.assign(y=f["y"].where(f.index != 2, np.inf)), "non-finite or overflowing values in 'a'"),
    (lambda f: f.assign(y=np.where(f["unique_id"] == "b", 5.0, f["y"])), "series 'b' is constant"),
    (lambda f: pd.concat([f, f.iloc[[7]]]), "duplicate dates in series 'b'"),
])
def test_bad_series_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        Panel.from_long(change(_long(shuffle=False)), "unique_id", "ds", "y")


def test_long_csv_names_lines_and_suggests_an_encoding(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,ds,y\na,2000-01-01,1\na,2000-02-01,2\na,2000-03-01,oops\nb,2000-01-01,3\n")
    with pytest.raises(ValueError, match="non-numeric values in 'a' at p.csv line 4"):
        read_panel_csv(path, "id", "ds", "y")
    latin = tmp_path / "l.csv"
    latin.write_bytes("id,y\nSão,1\nSão,2\nSão,3\n".encode("latin-1"))
    with pytest.raises(ValueError, match="`encoding='latin-1'`"):
        read_panel_csv(latin, "id")
    p = read_panel_csv(latin, "id", encoding="latin-1")
    assert p.ids == ["São"] and p.lengths.tolist() == [3]
    with pytest.raises(ValueError, match="is a directory"):
        read_panel_csv(tmp_path, "id")


def test_synthetic_panel_is_one_float32_array():
    p = seasonal_panel(50, 40, seed=1)
    assert p.values.dtype == np.float32 and p.values.shape == (2000,) and p.values.min() > 0
    assert p.lengths.tolist() == [40] * 50
