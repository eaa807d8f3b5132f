"""rnnlab.data.covariates: checked columns with one clear message each, static values, scaling, windows."""

import numpy as np
import pandas as pd
import pytest

from rnnlab.data.covariates import CovariateScaler, check_columns, check_future, static_values


def test_check_columns_returns_the_values_and_names_bad_cells():
    frame = pd.DataFrame({"y": [1, 2, 3], "price": [1.5, 2.0, 2.5], "promo": ["0", "1", "yes"],
                          "temp": [20.0, None, 22.0]})
    np.testing.assert_array_equal(check_columns(frame, ["price"]), [[1.5], [2.0], [2.5]])
    with pytest.raises(ValueError, match="covariate column 'promo' is not numeric: 'yes' at sales.csv line 4$"):
        check_columns(frame, ["price", "promo"], where="sales.csv line", first_row=2)
    with pytest.raises(ValueError, match="column 'temp' has 1 missing value\\(s\\), the first at row 1;"):
        check_columns(frame, "temp")
    with pytest.raises(ValueError, match="unknown past covariate column 'kms'; columns are: y, price, promo, temp"):
        check_columns(frame, ["kms"], kind="past covariate")


def test_future_covariates_must_cover_the_forecast_period():
    index = pd.date_range("2000-01", periods=6, freq="MS")
    frame = pd.DataFrame({"price": np.arange(6.0), "law": [0, 0, 0, 1, 1, None]}, index=index)
    period = pd.date_range("2000-04", periods=2, freq="MS")
    np.testing.assert_array_equal(check_future(frame, ["price"], period), [[3.0], [4.0]])
    with pytest.raises(ValueError, match="future covariate 'kms' is missing from next.csv; .* forecast period "
                                         "2000-04-01 .. 2000-05-01$"):
        check_future(frame, ["price", "kms"], period, where="next.csv")
    later = pd.date_range("2000-05", periods=3, freq="MS")
    with pytest.raises(ValueError, match="no row for 2000-07-01 \\(1 of the 3 forecast points missing\\)"):
        check_future(frame, ["price"], later)
    with pytest.raises(ValueError, match="'law' has 1 missing value\\(s\\), the first at the data forecast point 2"):
        check_future(frame, ["law"], later[:2])


def test_static_values_one_per_series_and_constant_within_it():
    frame = pd.DataFrame({"id": ["a", "a", "b", "b"], "size": [3, 3, 5, 5], "region": [1, 1, 2, 7]})
    out = static_values(frame, "id", ["size"])
    assert out.to_dict() == {"size": {"a": 3.0, "b": 5.0}}
    with pytest.raises(ValueError, match="static covariate 'region' changes within series 'b' \\(to 7 at row 3\\)"):
        static_values(frame, "id", ["size", "region"])


def test_scaler_standardises_with_training_statistics_and_keeps_constant_columns():
    train = np.array([[1.0, 5.0], [3.0, 5.0]])
    s = CovariateScaler.fit(train)
    assert s.mean == (2.0, 5.0) and s.std == (1.0, 1.0)
    np.testing.assert_allclose(s.transform([[4.0, 6.0]]), [[2.0, 1.0]])
